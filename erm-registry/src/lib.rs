//! A concurrent map `K -> Arc<V>` with a locked and a lockless backend.
//!
//! Generic over any key `K: Hash + Eq` and any value `V` (shared as
//! `Arc<V>`); the crate gives no meaning to either. (ermfs, for example,
//! keys its namespace by a `(parent inode, name)` key of its own, like the
//! kernel's dentry cache; the rules for such a key live with its owner.)
//! Every backend implements [`Registry`]: lookups return a clone of the stored `Arc`,
//! inserts never overwrite, [`Registry::replace`] swaps a present key's value
//! atomically (a reader sees the old or the new value, never nothing), and
//! [`Registry::remove_if`] removes only if the key still maps to that very
//! value. Both backends are always compiled; the `lockless` cargo feature
//! picks the default ([`DefaultRegistry`], [`Backend::default`]) and
//! [`AnyRegistry`] switches at run time.
//!
//! Provided:
//! - [`Registry`]: the trait (object safe), with [`InsertError`];
//! - [`LockedRegistry`]: 32 shards of `RwLock<HashTable>` (hashbrown), one
//!   hash per operation;
//! - [`LocklessRegistry`]: open addressing, CAS inserts, tombstones, growth,
//!   epoch reclamation; readers never block;
//! - [`AnyRegistry`], [`Backend`], [`DefaultRegistry`], [`Config`].
//!
//! # Keys
//! Both backends need only `K: Hash + Eq` (and `Clone` to
//! [`migrate`](AnyRegistry::migrate)). The lockless backend stores each key
//! *inline* in its slot and moves it bitwise when it resizes, which every
//! Rust value allows, so it asks for no further bound; a slot costs
//! [`LocklessRegistry::SLOT_BYTES`] (`size_of::<K>() + 8`, no padding
//! beyond the key's alignment). The cost of a key's `Hash` and `Eq` is what
//! a lookup pays: a key with a fixed-size inline part (an id, a length, a
//! short byte array) that `eq` compares first keeps a probe on the slot's
//! own cache line.
//!
//! # The lockless algorithm
//! A table is a power-of-two array of slots `(value: AtomicPtr<V>, key: K)`
//! with the key stored inline (a slot with a 32-byte key is 40 bytes,
//! packed: padding it to a 64-byte line would cost more memory per entry at
//! rest than the occasional slot straddling two lines costs time), probed
//! linearly from the key's hash. A hit therefore reads one slot and then,
//! in parallel, the key's own heap bytes (for the compare, only for a key
//! that has any) and the value (prefetched as soon as its
//! pointer is seen, before the compare). A retired table starts its grace
//! period at once (`retire_now`), so a map that only grows does not keep
//! its old tables.
//!
//! The value word encodes the slot's state: null (empty), *busy* (claimed,
//! key being written), a tombstone (key present, no value) or an
//! `Arc::into_raw` pointer (key present, live). An inserter claims an empty
//! slot by one CAS null -> busy, writes the key, then publishes key and
//! value together with one Release store busy -> value. Only the claimer
//! changes a busy word, and it runs no user code between claim and publish.
//! A slot never goes back to empty while its table is current and its key
//! never changes, so a probe stops at the first empty slot. After that the
//! value goes live -> live' by CAS (replace), live -> tombstone by CAS
//! (remove) and tombstone -> live by CAS (the same key inserted again
//! reuses its slot). A reader clones a value by incrementing its strong
//! count.
//!
//! Readers and the finders of replace/remove pass over busy slots: a busy
//! key's insert has not taken effect (it does at the publish), so the key
//! is not in the map yet and "absent" is a valid answer. Only an inserter
//! waits on a busy slot (spinning, then yielding, through the `sync` shim)
//! to compare its key once published, since the busy key may be its own:
//! that is how a key never lands in two slots. Inserters claim the first
//! empty slot of their probe, and slots before it stay non-empty, so two
//! inserters of one key meet at the same slot.
//! New keys first reserve one of the table's `3/4 * capacity` key slots;
//! when none is left, the inserter resizes. Tables of 4 MiB and more ask
//! for transparent huge pages (`madvise`), since every probe lands on a
//! random slot.
//!
//! **Resize.** Writers (insert, replace, remove) hold a `RwLock<()>` gate
//! *shared* for one operation; a resize takes it *alone*, so while it copies
//! no writer is inside the old table, no slot is busy (a claim is published
//! before its writer leaves the gate) and the old table is frozen. It
//! rehashes each live key and moves it *bitwise*, with its value pointer,
//! into a table of `2 * live` slots (rounded up to a power of two, so
//! tombstones are dropped and the table may also shrink), publishes it with
//! one Release store, releases the gate and retires the old table with the
//! indices of its dead keys: only those are dropped with it; the moved
//! copies in the old table are read by late readers and never dropped. No
//! entry is lost or duplicated because no writer runs during the copy.
//! Readers never touch the gate: one that still reads the old table sees
//! the state at the freeze, which is a valid linearization (it overlapped
//! the publish). A moved key's heap data is freed only when a later table
//! holding it dead is retired, after a grace period that starts after every
//! reader of the older table pinned.
//!
//! # Reclamation
//! A hand-written epoch scheme (the private `epoch` module), chosen because it
//! is small enough to run fully under loom through the `sync` shim (neither
//! crossbeam-epoch nor seize model-checks under a plain `--cfg loom`), and
//! because a reader pays a fixed cost independent of how many pointers it
//! touches (a hazard-pointer scheme would publish and re-validate the
//! table and each value pointer). A reader *pins* by incrementing one of two
//! counters (chosen by the epoch's parity) in a per-thread shard, padded to
//! its own cache line. Removed values (the registry's strong count), replaced
//! values and old tables with their dead keys are *retired* into a bag; the
//! collector, under a mutex that only writers take, bumps the epoch and frees
//! the previous bag once every counter of the old parity reads zero. Memory
//! is therefore freed only after every reader that might hold a pointer to
//! it has unpinned; a stalled reader delays freeing, never correctness.
//!
//! # Memory ordering
//! - `slot.value` claim (CAS null -> busy) is Acquire on both outcomes (it
//!   publishes nothing; the key is written after it); the publish (store
//!   busy -> value) is Release, so a reader or inserter that Acquire-loads
//!   a non-busy word sees the inline key *and* the value's contents. Writes
//!   of the key go through the `sync` cell, so loom checks them against
//!   every read.
//! - `slot.value` CASes on a published slot are AcqRel, loads Acquire: the
//!   `Arc`'s contents are published with the pointer; a remover's clone
//!   reads a complete value. A reader loads the value word once, before
//!   comparing the key: the key of a non-empty, non-busy slot never changes
//!   while its table is reachable, so that load is the read's
//!   linearization point.
//! - table pointer: Release store after the copy, Acquire loads.
//! - epoch and reader counters: a reader increments (Relaxed), issues a
//!   `SeqCst` fence, then re-reads the epoch (Acquire) and retries if it
//!   moved; the collector stores the new epoch (Release), issues a `SeqCst`
//!   fence, then loads the counters (Acquire). This store-buffering pair
//!   means either the collector sees the reader's increment (and frees
//!   nothing) or the reader sees the new epoch, and through the Release
//!   store every unlink made before it, so it cannot reach retired memory.
//!   The reader's Release decrement pairs with the collector's Acquire load,
//!   so the reader's accesses happen before the free.
//! - `len` and the slot budget `used` are Relaxed counters: they order
//!   nothing; at rest they are exact.
//! - the writers' gate and the collector's bag mutex are locks (their own
//!   Acquire/Release); readers take neither.
//!
//! # Hashing
//! Both backends hash with [foldhash](https://docs.rs/foldhash) (its
//! quality variant, the hash hashbrown uses by default), seeded at random
//! per process and per instance ([`HashBuilder`]). Collisions depend on the
//! secret seed, so a crafted flood of colliding keys (which would turn
//! linear probing quadratic) cannot be prepared offline; foldhash does not
//! claim to resist an attacker who recovers the seed by timing a long-running
//! process, which SipHash would (std's `RandomState`). We take that trade on
//! purpose: with SipHash, hashing the key was about 250 of the ~400
//! instructions of a lookup (callgrind), and a flood can at worst slow the
//! map down, never break it. A key is hashed once per operation (and once
//! more when a resize moves it). Under `cfg(loom)` the key is fixed, since
//! loom needs every execution to probe alike.
//!
//! # Limitations
//! - Lockless writers pause while a resize copies the table (readers do
//!   not); a table never shrinks except when a full table is resized.
//! - Lockless slots are claimed per key: churn through many distinct keys
//!   fills the table with dead keys until the next resize rehashes it.
//! - Lockless slots hold the key inline and no hash tag: a probe compares
//!   each foreign key it passes with `K::eq`, cheap when `eq` rejects on
//!   inline fields (an id, a length) but a heap read per foreign slot for
//!   keys that are all heap (`String`). A resize rehashes
//!   every live key, and empty slots cost `size_of::<K>() + 8` bytes
//!   rounded up to 32.
//! - An inserter may spin (then yield) while another inserter publishes a
//!   key it has just claimed in the same probe run; readers never wait.
//! - Removed and replaced values are released after a grace period, on a
//!   later write or when the registry drops, so `Arc::strong_count` of a
//!   removed value may stay one higher for a while.
//! - [`Registry::for_each`] is weakly consistent; on the locked backend the
//!   callback runs under a shard's read lock and must not call the registry.
//! - `len` is exact only when no operation is in flight.
//! - [`Registry::insert_if_absent`] returns [`InsertError`] rather than the
//!   bare present value, so that a full registry is an `ENOSPC` error
//!   instead of a panic.

#![deny(unsafe_code)]

mod epoch;
mod locked;
mod lockless;
mod sync;

#[cfg(all(test, not(loom)))]
mod unit_tests;

pub use locked::LockedRegistry;
pub use lockless::LocklessRegistry;
pub use sync::HashBuilder;

use std::fmt;
use std::hash::Hash;
use std::io;
use std::sync::Arc;

/// A concurrent map from keys to shared values. Object safe, so ermfs may
/// hold a `Box<dyn Registry<K, V>>` as well as an [`AnyRegistry`].
pub trait Registry<K, V> {
    /// The value stored under `key`, if any.
    fn get(&self, key: &K) -> Option<Arc<V>>;

    /// Calls `f` on the value stored under `key` without taking a reference
    /// count on it, and says whether there was one. Cheaper than
    /// [`get`](Registry::get) when the caller only needs to look: several
    /// threads looking at one value write nothing shared (a `get` writes the
    /// value's reference count). The value stays alive while `f` runs (under
    /// the shard's read lock, or the lockless backend's epoch pin); `f` must
    /// not call into the same registry.
    fn inspect(&self, key: &K, f: &mut dyn FnMut(&V)) -> bool;

    /// Stores `value` under `key` unless the key is present.
    ///
    /// # Errors
    /// [`InsertError::Occupied`] with the present value, or
    /// [`InsertError::Full`] (giving `value` back) when the registry holds
    /// [`Config::max_len`] entries or memory for a larger table is short.
    fn insert_if_absent(&self, key: K, value: Arc<V>) -> Result<(), InsertError<V>>;

    /// Atomically swaps the value of a present key and returns the old one;
    /// `None` (and `value` dropped) if the key is absent. Readers see the
    /// old or the new value, never nothing.
    fn replace(&self, key: &K, value: Arc<V>) -> Option<Arc<V>>;

    /// Removes `key`, returning its value.
    fn remove(&self, key: &K) -> Option<Arc<V>>;

    /// Removes `key` only if it still maps to `expected` (pointer equality).
    fn remove_if(&self, key: &K, expected: &Arc<V>) -> bool;

    /// Number of entries (exact when no operation is in flight).
    fn len(&self) -> usize;

    /// Whether [`len`](Registry::len) is zero.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` on entries, weakly consistent: every entry present for the
    /// whole call is visited once; entries inserted or removed meanwhile may
    /// or may not be. `f` must not call into the same registry.
    fn for_each(&self, f: &mut dyn FnMut(&K, &Arc<V>));
}

/// Why [`Registry::insert_if_absent`] stored nothing.
pub enum InsertError<V> {
    /// The key is present; here is its value.
    Occupied(Arc<V>),
    /// No room: [`Config::max_len`] reached or no memory for a larger
    /// table. The rejected value is given back.
    Full(Arc<V>),
}

impl<V> InsertError<V> {
    /// The Linux errno for this error: `EEXIST` or `ENOSPC`.
    pub fn errno(&self) -> i32 {
        match self {
            InsertError::Occupied(_) => libc::EEXIST,
            InsertError::Full(_) => libc::ENOSPC,
        }
    }
}

impl<V> fmt::Debug for InsertError<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InsertError::Occupied(_) => "Occupied",
            InsertError::Full(_) => "Full",
        })
    }
}

impl<V> From<InsertError<V>> for io::Error {
    fn from(error: InsertError<V>) -> io::Error {
        io::Error::from_raw_os_error(error.errno())
    }
}

/// Sizing and bounds shared by both backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Entries to make room for up front.
    pub initial_capacity: usize,
    /// Most entries ever held; inserts past it fail with `ENOSPC`.
    pub max_len: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            initial_capacity: 64,
            max_len: u32::MAX as usize,
        }
    }
}

/// Which backend an [`AnyRegistry`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// [`LockedRegistry`].
    Locked,
    /// [`LocklessRegistry`].
    Lockless,
}

impl Default for Backend {
    /// [`Backend::Lockless`] with the `lockless` feature, else [`Backend::Locked`].
    fn default() -> Self {
        if cfg!(feature = "lockless") {
            Backend::Lockless
        } else {
            Backend::Locked
        }
    }
}

/// The backend chosen at compile time by the `lockless` feature.
#[cfg(feature = "lockless")]
pub type DefaultRegistry<K, V> = LocklessRegistry<K, V>;
/// The backend chosen at compile time by the `lockless` feature.
#[cfg(not(feature = "lockless"))]
pub type DefaultRegistry<K, V> = LockedRegistry<K, V>;

/// A registry whose backend is picked at run time.
// Few per program (ermfs: one per file system) and padded on purpose
// (cache lines): size is no issue.
#[allow(clippy::large_enum_variant)]
pub enum AnyRegistry<K, V> {
    /// Backed by [`LockedRegistry`].
    Locked(LockedRegistry<K, V>),
    /// Backed by [`LocklessRegistry`].
    Lockless(LocklessRegistry<K, V>),
}

impl<K: Hash + Eq, V> AnyRegistry<K, V> {
    /// An empty registry of the given backend.
    pub fn new(backend: Backend, config: Config) -> Self {
        match backend {
            Backend::Locked => AnyRegistry::Locked(LockedRegistry::with_config(config)),
            Backend::Lockless => AnyRegistry::Lockless(LocklessRegistry::with_config(config)),
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        match self {
            AnyRegistry::Locked(_) => Backend::Locked,
            AnyRegistry::Lockless(_) => Backend::Lockless,
        }
    }

    /// A copy of this registry on `backend` with the same entries (the
    /// values are shared), for ermfs's `set_lockless_mode`. Run it while no
    /// writer is active, or writes made meanwhile may be missed.
    ///
    /// # Errors
    /// `ENOSPC` if the new registry cannot take every entry (memory
    /// short); `self` is untouched either way.
    pub fn migrate(&self, backend: Backend, config: Config) -> io::Result<AnyRegistry<K, V>>
    where
        K: Clone,
    {
        let mut entries = Vec::with_capacity(self.len());
        self.for_each(&mut |k, v| entries.push((k.clone(), Arc::clone(v))));
        let target = AnyRegistry::new(
            backend,
            Config {
                initial_capacity: entries.len(),
                max_len: config.max_len.max(entries.len()),
            },
        );
        for (key, value) in entries {
            match target.insert_if_absent(key, value) {
                // Keys of a map are unique, so "exists" cannot happen.
                Ok(()) | Err(InsertError::Occupied(_)) => {}
                Err(full) => return Err(full.into()),
            }
        }
        Ok(target)
    }

    fn inner(&self) -> &dyn Registry<K, V> {
        match self {
            AnyRegistry::Locked(r) => r,
            AnyRegistry::Lockless(r) => r,
        }
    }
}

impl<K: Hash + Eq, V> Registry<K, V> for AnyRegistry<K, V> {
    fn get(&self, key: &K) -> Option<Arc<V>> {
        self.inner().get(key)
    }
    fn inspect(&self, key: &K, f: &mut dyn FnMut(&V)) -> bool {
        self.inner().inspect(key, f)
    }
    fn insert_if_absent(&self, key: K, value: Arc<V>) -> Result<(), InsertError<V>> {
        self.inner().insert_if_absent(key, value)
    }
    fn replace(&self, key: &K, value: Arc<V>) -> Option<Arc<V>> {
        self.inner().replace(key, value)
    }
    fn remove(&self, key: &K) -> Option<Arc<V>> {
        self.inner().remove(key)
    }
    fn remove_if(&self, key: &K, expected: &Arc<V>) -> bool {
        self.inner().remove_if(key, expected)
    }
    fn len(&self) -> usize {
        self.inner().len()
    }
    fn for_each(&self, f: &mut dyn FnMut(&K, &Arc<V>)) {
        self.inner().for_each(f)
    }
}
