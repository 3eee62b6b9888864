//! Descriptor table for ERMFS: small integers (`i32` fds) mapped to `Arc<V>`,
//! handed out lowest-free first as POSIX requires.
//!
//! The table is generic over the value and knows nothing about files. It has
//! a fixed capacity (default [`DEFAULT_CAPACITY`]); [`FdTable::insert`] takes
//! the lowest free descriptor or fails with `EMFILE`, [`FdTable::get`] clones
//! the `Arc` stored at a descriptor, [`FdTable::remove`] takes it out (the
//! descriptor is free again when `remove` returns), and [`FdTable::insert_at`]
//! is `dup2`: it atomically replaces whatever the descriptor held. Every
//! occupancy of a descriptor carries a *generation*, so a caller holding an
//! old `(fd, generation)` pair can never reach the file that reopened the
//! same number ([`FdTable::get_if_generation`]).
//!
//! Two backends implement the one trait, both always compiled:
//!
//! - [`LockedFdTable`]: one mutex around a slot vector and a two-level free
//!   bitmap, so "lowest free" is a few word scans;
//! - [`LocklessFdTable`]: a pre-allocated slot array; each slot is one atomic
//!   word (state, reader count, generation) beside the value cell; slots are
//!   claimed by CAS, a "lowest free" hint is kept with atomics, and a reader
//!   count packed into the word keeps `get` from ever touching a value that
//!   `remove` is taking away. The slot state machine and every memory
//!   ordering are explained in the
//!   [`LocklessFdTable`] docs;
//! - [`AnyFdTable`] and [`Backend`]: pick the backend at run time;
//!   [`DefaultFdTable`] is the one chosen by the `lockless` cargo feature.
//!
//! Errors are `std::io::Error` with the Linux errno: `EMFILE` when the table
//! is full, `EBADF` for `insert_at` on a negative or out-of-capacity number.
//!
//! # Limitations
//! - Capacity is fixed at construction (at most [`MAX_CAPACITY`]); the
//!   lockless backend allocates all its slots up front (16 bytes each).
//! - Under concurrency "lowest free" is exact only against operations that
//!   happened before: an `insert` racing a `remove` of a lower fd may return a
//!   higher one, and may report `EMFILE` while a concurrent `remove` frees a
//!   slot, exactly as if the `remove` came later.
//! - In the lockless backend `get`, `get_if_generation` and `insert` never
//!   wait for other threads, except that a `get` on a descriptor in the middle
//!   of an `insert_at` replacement waits for it; `remove` and `insert_at` wait
//!   for readers that are cloning the old `Arc` (a few instructions each) to
//!   leave. A reader preempted inside that window delays them.
//! - Generations are 32-bit and wrap: a stale `(fd, generation)` pair held
//!   across 2^32 reopenings of the same fd could match again.

mod locked;
mod lockless;
mod sync;

use std::io;
use std::sync::Arc;

pub use locked::LockedFdTable;
pub use lockless::LocklessFdTable;

/// Descriptors a table holds unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// Largest capacity a table accepts (Linux's default `fs.nr_open`); larger
/// requests are clamped to it.
pub const MAX_CAPACITY: usize = 1 << 20;

/// A table of descriptors `fd -> Arc<V>` (see the crate docs).
pub trait FdTable<V> {
    /// Stores `value` at the lowest free descriptor and returns it, or fails
    /// with `EMFILE` when every descriptor below the capacity is taken.
    fn insert(&self, value: Arc<V>) -> io::Result<i32>;

    /// The value at `fd`, or `None` if `fd` is closed, was never opened, or is
    /// negative or beyond the capacity.
    fn get(&self, fd: i32) -> Option<Arc<V>>;

    /// Takes the value out of `fd`, which is free again when this returns;
    /// `None` if `fd` held nothing. Of two racing removes exactly one wins.
    fn remove(&self, fd: i32) -> Option<Arc<V>>;

    /// `dup2`: stores `value` at `fd`, atomically replacing and returning the
    /// old value if there was one (readers see the old or the new value, never
    /// nothing). Fails with `EBADF` if `fd` is negative or not below the
    /// capacity, and then drops nothing but the `value` given.
    fn insert_at(&self, fd: i32, value: Arc<V>) -> io::Result<Option<Arc<V>>>;

    /// The generation of the value at `fd`, or `None` if `fd` holds nothing.
    /// Each insert or replacement at a descriptor gives it a new generation.
    fn generation(&self, fd: i32) -> Option<u32>;

    /// The value at `fd` if it still is the occupancy `generation` (as read by
    /// [`FdTable::generation`]); `None` once `fd` was closed or reopened since.
    fn get_if_generation(&self, fd: i32, generation: u32) -> Option<Arc<V>>;

    /// How many descriptors are open (a snapshot under concurrency).
    fn len(&self) -> usize;

    /// Whether no descriptor is open.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many descriptors the table can hold: fds are `0..capacity`.
    fn capacity(&self) -> usize;
}

/// Which backend a table uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// [`LockedFdTable`]: one mutex.
    Locked,
    /// [`LocklessFdTable`]: CAS slots with generation tags.
    Lockless,
}

impl Default for Backend {
    /// [`Backend::Lockless`] with the `lockless` cargo feature, else [`Backend::Locked`].
    fn default() -> Self {
        if cfg!(feature = "lockless") {
            Backend::Lockless
        } else {
            Backend::Locked
        }
    }
}

/// The backend chosen at compile time by the `lockless` cargo feature.
#[cfg(feature = "lockless")]
pub type DefaultFdTable<V> = LocklessFdTable<V>;

/// The backend chosen at compile time by the `lockless` cargo feature.
#[cfg(not(feature = "lockless"))]
pub type DefaultFdTable<V> = LockedFdTable<V>;

/// A table whose backend is chosen at run time.
// The lockless variant is big because its hot counters are cache-padded; a
// table lives once per file system, so boxing would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum AnyFdTable<V> {
    /// Backed by [`LockedFdTable`].
    Locked(LockedFdTable<V>),
    /// Backed by [`LocklessFdTable`].
    Lockless(LocklessFdTable<V>),
}

impl<V> AnyFdTable<V> {
    /// An empty table of `backend` holding up to `capacity` descriptors
    /// (clamped to [`MAX_CAPACITY`]).
    pub fn new(backend: Backend, capacity: usize) -> Self {
        match backend {
            Backend::Locked => AnyFdTable::Locked(LockedFdTable::with_capacity(capacity)),
            Backend::Lockless => AnyFdTable::Lockless(LocklessFdTable::with_capacity(capacity)),
        }
    }

    /// Which backend this table uses.
    pub fn backend(&self) -> Backend {
        match self {
            AnyFdTable::Locked(_) => Backend::Locked,
            AnyFdTable::Lockless(_) => Backend::Lockless,
        }
    }

    fn inner(&self) -> &dyn FdTable<V> {
        match self {
            AnyFdTable::Locked(t) => t,
            AnyFdTable::Lockless(t) => t,
        }
    }
}

impl<V> Default for AnyFdTable<V> {
    /// The default backend with [`DEFAULT_CAPACITY`].
    fn default() -> Self {
        AnyFdTable::new(Backend::default(), DEFAULT_CAPACITY)
    }
}

impl<V> FdTable<V> for AnyFdTable<V> {
    fn insert(&self, value: Arc<V>) -> io::Result<i32> {
        self.inner().insert(value)
    }
    fn get(&self, fd: i32) -> Option<Arc<V>> {
        self.inner().get(fd)
    }
    fn remove(&self, fd: i32) -> Option<Arc<V>> {
        self.inner().remove(fd)
    }
    fn insert_at(&self, fd: i32, value: Arc<V>) -> io::Result<Option<Arc<V>>> {
        self.inner().insert_at(fd, value)
    }
    fn generation(&self, fd: i32) -> Option<u32> {
        self.inner().generation(fd)
    }
    fn get_if_generation(&self, fd: i32, generation: u32) -> Option<Arc<V>> {
        self.inner().get_if_generation(fd, generation)
    }
    fn len(&self) -> usize {
        self.inner().len()
    }
    fn capacity(&self) -> usize {
        self.inner().capacity()
    }
}

/// An `io::Error` carrying the Linux errno `code`.
fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// The slot index of `fd` if it lies in `0..capacity`.
fn index(fd: i32, capacity: usize) -> Option<usize> {
    usize::try_from(fd).ok().filter(|&i| i < capacity)
}
