//! [`Fs`]: the instance, its tables and the mode switch.

use std::io;
use std::sync::Arc;

use arc_swap::ArcSwap;
use erm_alloc::MemoryBudget;
use erm_fdtable::{AnyFdTable, FdTable};
use erm_registry::{AnyRegistry, Config};

use crate::api::builder::FsBuilder;
use crate::api::gate::Gate;
use crate::api::open_file::OpenFile;
use crate::content::shared::Shared;
use crate::namespace::ino_index::InoIndex;
use crate::namespace::names::{Namespace, ROOT_INO};
use crate::sync::{AtomicU64, Mutex, lock};
use crate::types::config::AtimePolicy;
use crate::types::errno::fail;
use crate::types::identity::Identity;
use crate::types::inode::{Body, FileType, Inode};
use crate::types::stats::{Stats, add, get};

/// An in-memory file system. Cheap to clone (one `Arc`); clones share
/// everything; `Send + Sync`, so any number of threads may call it.
#[derive(Clone, Debug)]
pub struct Fs {
    pub(crate) inner: Arc<Inner>,
}

/// The descriptor table type.
pub(crate) type Fds = AnyFdTable<OpenFile>;

/// What an [`Fs`] shares between its clones: the namespace (and through
/// it the content lifecycle) and the descriptors.
pub(crate) struct Inner {
    /// Names, inodes and the content below them.
    pub namespace: Namespace,
    pub fds: ArcSwap<Fds>,
    fd_capacity: usize,
    /// Passed by every call that adds a descriptor, closed by the mode
    /// switch, so no descriptor appears while the tables are swapped.
    pub gate: Gate,
}

/// The API is the namespace plus descriptors: its calls reach the
/// namespace's fields and walks through `inner` directly.
impl std::ops::Deref for Inner {
    type Target = Namespace;

    fn deref(&self) -> &Namespace {
        &self.namespace
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Before the tables drop: the worker must not outlive the last `Fs`.
        self.shared.bg.stop();
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fs")
            .field("lockless", &self.lockless())
            .finish_non_exhaustive()
    }
}

fn backend_registry(lockless: bool) -> erm_registry::Backend {
    if lockless {
        erm_registry::Backend::Lockless
    } else {
        erm_registry::Backend::Locked
    }
}

fn backend_fds(lockless: bool) -> erm_fdtable::Backend {
    if lockless {
        erm_fdtable::Backend::Lockless
    } else {
        erm_fdtable::Backend::Locked
    }
}

impl Inner {
    fn lockless(&self) -> bool {
        self.fds.load().backend() == erm_fdtable::Backend::Lockless
    }
}

impl Fs {
    /// A builder with the defaults (see [`FsBuilder::new`]).
    pub fn builder() -> FsBuilder {
        FsBuilder::new()
    }

    /// A file system with the default settings.
    pub fn new() -> Fs {
        Fs::from_builder(FsBuilder::new())
    }

    pub(crate) fn from_builder(b: FsBuilder) -> Fs {
        let budget = Arc::new(match b.memory_limit {
            Some(limit) => MemoryBudget::with_limit(limit),
            None => MemoryBudget::unlimited(),
        });
        let shared = Shared::new(
            budget,
            b.options(),
            b.policy,
            b.threads,
            b.clock,
            b.atime,
            b.inode_limit,
        );
        // The root is its own parent.
        let root = Arc::new_cyclic(|me| {
            Inode::new(
                ROOT_INO,
                FileType::Dir,
                0o755,
                me.clone(),
                Body::Dir(Default::default()),
                (b.uid, b.gid),
                shared.clock.now(),
            )
        });
        let inos = b.inode_index.then(|| {
            let index = InoIndex::new();
            index.insert(&root);
            index
        });
        add(&shared.counters.dirs, 1);
        Fs {
            inner: Arc::new(Inner {
                namespace: Namespace {
                    shared,
                    names: ArcSwap::from_pointee(AnyRegistry::new(
                        backend_registry(b.lockless),
                        Config::default(),
                    )),
                    root,
                    next_ino: AtomicU64::new(ROOT_INO + 1),
                    owner_id: Identity::new(b.uid, b.gid),
                    umask: b.umask,
                    ns: Mutex::new(()),
                    inos,
                    generation: random_generation(),
                },
                fds: ArcSwap::from_pointee(AnyFdTable::new(backend_fds(b.lockless), b.fd_capacity)),
                fd_capacity: b.fd_capacity,
                gate: Gate::new(),
            }),
        }
    }

    /// Whether the lockless backends are in use.
    pub fn is_lockless(&self) -> bool {
        self.inner.lockless()
    }

    /// When reads move a file's access time, as set by
    /// [`FsBuilder::atime`] or
    /// [`Fs::set_atime_policy`].
    pub fn atime_policy(&self) -> AtimePolicy {
        self.inner.shared.atime_policy()
    }

    /// The memory limit in bytes, or `None` when unlimited.
    pub fn memory_limit(&self) -> Option<usize> {
        self.inner.shared.budget.limit()
    }

    /// Changes the memory limit of a live store (as `mount -o
    /// remount,size=` does for tmpfs); `None` lifts it.
    ///
    /// # Errors
    /// `EINVAL`, changing nothing, if `limit` is below the bytes charged
    /// now (tmpfs refuses such a remount the same way).
    ///
    /// ```
    /// let fs = ermfs::Fs::builder().memory_limit(Some(1 << 20)).build()?;
    /// fs.set_memory_limit(Some(2 << 20))?;
    /// assert_eq!(fs.memory_limit(), Some(2 << 20));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_memory_limit(&self, limit: Option<usize>) -> io::Result<()> {
        let budget = &self.inner.shared.budget;
        if limit.is_some_and(|l| l < budget.used()) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        budget.set_limit(limit);
        Ok(())
    }

    /// The most inodes the store may hold, or `None` when unlimited.
    pub fn inode_limit(&self) -> Option<u64> {
        self.inner.shared.inode_limit()
    }

    /// Changes the inode limit of a live store (tmpfs's `nr_inodes`);
    /// `None` lifts it. Inodes are counted while reachable by a name
    /// (files with several links once, the root directory included).
    ///
    /// # Errors
    /// `EINVAL`, changing nothing, if `limit` is below the inodes in use.
    pub fn set_inode_limit(&self, limit: Option<u64>) -> io::Result<()> {
        self.inner.shared.set_inode_limit(limit)
    }

    /// Changes when reads move a file's access time (as remounting with
    /// `noatime`, `relatime` or `strictatime` does), for every read from
    /// now on; stored times stay as they are.
    pub fn set_atime_policy(&self, policy: AtimePolicy) {
        self.inner.shared.set_atime_policy(policy);
    }

    /// Switches the registry and the descriptor table to the lockless (`true`)
    /// or locked backends, migrating every name; a no-op if already there.
    ///
    /// # Errors
    /// `EBUSY` while any descriptor is open; `ENOSPC` if the new registry
    /// cannot take every entry. Nothing changes on error.
    pub fn set_lockless_mode(&self, lockless: bool) -> io::Result<()> {
        let _ns = lock(&self.inner.ns);
        let _gate = self.inner.gate.close();
        if !self.inner.fds.load().is_empty() {
            return fail(libc::EBUSY);
        }
        if self.inner.lockless() == lockless {
            return Ok(());
        }
        let names = self
            .inner
            .names
            .load()
            .migrate(backend_registry(lockless), Config::default())?;
        self.inner.names.store(Arc::new(names));
        self.inner.fds.store(Arc::new(AnyFdTable::new(
            backend_fds(lockless),
            self.inner.fd_capacity,
        )));
        Ok(())
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.shared.counters;
        let compressed = get(&c.compressed_bytes);
        let used = self.inner.shared.budget.used() as u64;
        Stats {
            files: get(&c.files),
            dirs: get(&c.dirs),
            symlinks: get(&c.symlinks),
            specials: get(&c.specials),
            open_fds: self.inner.fds.load().len() as u64,
            raw_bytes: used.saturating_sub(compressed),
            compressed_bytes: compressed,
            packed_raw_bytes: get(&c.packed_raw_bytes),
            bytes_written: get(&c.bytes_written),
            bytes_read: get(&c.bytes_read),
            bytes_deflated: get(&c.bytes_deflated),
            bytes_inflated: get(&c.bytes_inflated),
            internal_copies: self.inner.shared.budget.copied_bytes(),
            compressions: get(&c.compressions),
            compressions_cancelled: get(&c.compressions_cancelled),
            pending_compressions: self.inner.shared.bg.pending() as u64,
            inflations: get(&c.inflations),
            lazy_opens: get(&c.lazy_opens),
            blocks_inflated: get(&c.blocks_inflated),
            cache_evictions: get(&c.cache_evictions),
            uncached_reads: get(&c.uncached_reads),
            compress_nanos: get(&c.compress_nanos),
            bytes_exported: get(&c.bytes_exported),
            bytes_imported: get(&c.bytes_imported),
        }
    }

    /// Waits until every pending compression is done: files waiting for the
    /// [`Background`](crate::CompressionPolicy::Background) delay are
    /// compressed now, without waiting for it, and this returns when the
    /// queue is empty. Files closed by other threads meanwhile are waited
    /// for too (so it returns once they stop closing files). Returns at once
    /// under the other policies. Stale jobs (files reopened since their
    /// close) are dropped, not compressed.
    pub fn settle(&self) {
        self.inner.shared.bg.settle();
    }

    /// Bytes of memory charged to this file system (raw plus compressed).
    pub fn memory_used(&self) -> usize {
        self.inner.shared.budget.used()
    }
}

impl Default for Fs {
    fn default() -> Self {
        Fs::new()
    }
}

/// Passes the descriptor gate, to add a descriptor.
pub(crate) fn gate(inner: &Inner) -> crate::api::gate::Pass<'_> {
    inner.gate.pass()
}

/// A generation for a new store: random (std's per-process random hash
/// keys, mixed with the time), never 0.
fn random_generation() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() as u32).max(1)
}
