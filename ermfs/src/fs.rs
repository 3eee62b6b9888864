//! [`Fs`]: the instance, its tables, path resolution and the mode switch.

use std::io;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use erm_alloc::MemoryBudget;
use erm_fdtable::{AnyFdTable, FdTable};
use erm_registry::{AnyRegistry, Config, Registry};

use crate::builder::FsBuilder;
use crate::content::Shared;
use crate::errno::{err, fail};
use crate::fd::OpenFile;
use crate::gate::Gate;
use crate::inode::{Body, FileType, Inode};
use crate::links::hop;
use crate::name::Name;
use crate::node::InoIndex;
use crate::path::{Comp, Parsed, parse, parse_bytes};
use crate::stats::{Stats, add, get};
use crate::sync::{AtomicU64, Mutex, Ordering, lock};

/// Inode number of `/`.
pub const ROOT_INO: u64 = 1;

/// Symbolic links one path resolution follows at most; the next one is
/// `ELOOP` (Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINKS: u32 = 40;

/// Whether a symlink as the last component of a path is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// To what it points (`stat`, `open`, `chmod`...).
    Yes,
    /// Not: the link itself (`lstat`, `readlink`, `link`'s source). A
    /// trailing `/` follows it anyway, as on Linux.
    No,
}

/// An in-memory file system. Cheap to clone (one `Arc`); clones share
/// everything; `Send + Sync`, so any number of threads may call it.
#[derive(Clone, Debug)]
pub struct Fs {
    pub(crate) inner: Arc<Inner>,
}

/// The registry type: `(parent ino, name) -> inode`.
pub(crate) type Names = AnyRegistry<Name, Inode>;
/// The descriptor table type.
pub(crate) type Fds = AnyFdTable<OpenFile>;

pub(crate) struct Inner {
    pub shared: Arc<Shared>,
    pub names: ArcSwap<Names>,
    pub fds: ArcSwap<Fds>,
    pub root: Arc<Inode>,
    next_ino: AtomicU64,
    fd_capacity: usize,
    /// Owner (uid, gid) of whatever is created.
    pub owner: (u32, u32),
    /// Bits cleared from created modes.
    pub umask: u32,
    /// Serializes namespace changes (create, mkdir, rmdir, unlink, rename,
    /// mode switch). Lookups and the data path never take it.
    pub ns: Mutex<()>,
    /// Passed by every call that adds a descriptor, closed by the mode
    /// switch, so no descriptor appears while the tables are swapped.
    pub gate: Gate,
    /// Inode number -> inode, when [`FsBuilder::inode_index`] asked for it.
    pub inos: Option<InoIndex>,
    /// What file handles pair with inode numbers ([`Fs::generation`]).
    pub generation: u32,
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

/// Where the last component of a path points, for calls that create or remove it.
pub(crate) enum Last<'a> {
    /// The path names `/` itself.
    Root,
    /// The path ends in `.`.
    Dot,
    /// The path ends in `..`.
    DotDot,
    /// An ordinary name in the parent directory.
    Name(&'a [u8]),
}

/// A resolved parent directory and the path's last component.
pub(crate) struct ParentOf<'a> {
    /// The parent directory, and the chain of directories from `/` to it.
    pub chain: Vec<Arc<Inode>>,
    pub last: Last<'a>,
    pub trailing_slash: bool,
}

impl ParentOf<'_> {
    /// The parent directory.
    pub fn dir(&self) -> &Arc<Inode> {
        self.chain
            .last()
            .expect("a chain always starts at the root")
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

    pub fn alloc_ino(&self) -> u64 {
        self.next_ino.fetch_add(1, Ordering::Relaxed)
    }

    /// The child `name` of directory `dir`.
    pub fn child(&self, dir: &Inode, name: &[u8]) -> io::Result<Option<Arc<Inode>>> {
        Ok(self.names.load().get(&Name::new(dir.ino, name)?))
    }

    /// Walks `comps` on from `chain` (`..` pops it, never past `/`),
    /// following every symlink met before the last component, and one met
    /// as the last when `follow` says so. `hops` counts the links followed
    /// in this resolution (`ELOOP` past [`MAX_SYMLINKS`]); `search` is asked
    /// about each directory before a name is looked up in it (the
    /// permission checks of [`Fs::access`]; a no-op elsewhere). A walk that
    /// meets no symlink costs one type test per component more than a
    /// plain walk.
    pub(crate) fn walk_on<S>(
        &self,
        chain: &mut Vec<Arc<Inode>>,
        comps: &[Comp<'_>],
        follow: Follow,
        hops: &mut u32,
        search: &S,
    ) -> io::Result<()>
    where
        S: Fn(&Inode) -> io::Result<()>,
    {
        for (i, comp) in comps.iter().enumerate() {
            let cur = chain.last().expect("the chain never loses the root");
            if !cur.is_dir() {
                return fail(libc::ENOTDIR);
            }
            search(cur)?;
            match comp {
                Comp::Dot => {}
                Comp::DotDot => {
                    if chain.len() > 1 {
                        chain.pop();
                    }
                }
                Comp::Name(name) => {
                    let next = self.child(cur, name)?.ok_or_else(|| err(libc::ENOENT))?;
                    if next.is_symlink() && (follow == Follow::Yes || i + 1 < comps.len()) {
                        self.follow(chain, &next, hops, search)?;
                    } else {
                        chain.push(next);
                    }
                }
            }
        }
        Ok(())
    }

    /// Walks on from `chain` (the link's directory) along the target of
    /// symlink `link`: from `/` if it is absolute. Its last component is
    /// followed too, and a target ending in `/` must name a directory.
    #[cold]
    fn follow<S>(
        &self,
        chain: &mut Vec<Arc<Inode>>,
        link: &Inode,
        hops: &mut u32,
        search: &S,
    ) -> io::Result<()>
    where
        S: Fn(&Inode) -> io::Result<()>,
    {
        hop(hops)?;
        let target = self.target(link)?;
        // An empty target is `ENOENT` here, as on Linux.
        let parsed = parse_bytes(&target)?;
        if parsed.absolute {
            chain.truncate(1);
        }
        self.walk_on(chain, &parsed.comps, Follow::Yes, hops, search)?;
        let last = chain.last().expect("the chain never loses the root");
        if parsed.trailing_slash && !last.is_dir() {
            return fail(libc::ENOTDIR);
        }
        Ok(())
    }

    /// The inode `path` names, its last component followed if a symlink.
    pub fn resolve(&self, path: &Path) -> io::Result<Arc<Inode>> {
        self.resolve_as(path, Follow::Yes)
    }

    /// The inode `path` names; a symlink as the last component is followed
    /// or not as `follow` says (always with a trailing `/`, as on Linux).
    pub fn resolve_as(&self, path: &Path, follow: Follow) -> io::Result<Arc<Inode>> {
        self.resolve_parsed(&parse(path)?, follow, &|_: &Inode| Ok(()))
    }

    /// [`resolve_as`](Inner::resolve_as) on a parsed path, with a `search`
    /// check as [`walk_on`](Inner::walk_on).
    pub(crate) fn resolve_parsed<S>(
        &self,
        parsed: &Parsed<'_>,
        follow: Follow,
        search: &S,
    ) -> io::Result<Arc<Inode>>
    where
        S: Fn(&Inode) -> io::Result<()>,
    {
        let follow = if parsed.trailing_slash {
            Follow::Yes
        } else {
            follow
        };
        let inode = match self.walk_names(&parsed.comps, follow, search) {
            Some(walked) => walked?,
            None => {
                let mut chain = vec![Arc::clone(&self.root)];
                self.walk_on(&mut chain, &parsed.comps, follow, &mut 0, search)?;
                chain.pop().expect("the chain never loses the root")
            }
        };
        if parsed.trailing_slash && !inode.is_dir() {
            return fail(libc::ENOTDIR);
        }
        Ok(inode)
    }

    /// The common walk, without reference counts: `comps` are all names and
    /// each one before the last is a directory. Those directories are only
    /// looked at ([`Registry::inspect`]), so threads walking the same
    /// directories write nothing shared (a chain of `Arc`s would write the
    /// root's and each directory's reference count on every walk); only the
    /// last inode is taken. Gives the same result and errno as
    /// [`walk_on`](Inner::walk_on) from the root, or `None` where that walk
    /// is needed: no components, `.`/`..`, or a symlink met (before the last
    /// component, or as the last when `follow` says so).
    fn walk_names<S>(
        &self,
        comps: &[Comp<'_>],
        follow: Follow,
        search: &S,
    ) -> Option<io::Result<Arc<Inode>>>
    where
        S: Fn(&Inode) -> io::Result<()>,
    {
        let (Comp::Name(last), init) = comps.split_last()? else {
            return None;
        };
        let names = self.names.load();
        // `walk_on` checks each directory just before looking a name up in
        // it: the root here, every other one as soon as it is found (a name
        // follows it, so the full walk would check it next).
        if let Err(e) = search(&self.root) {
            return Some(Err(e));
        }
        let mut dir = self.root.ino;
        for comp in init {
            let Comp::Name(name) = comp else {
                return None;
            };
            let key = match Name::new(dir, name) {
                Ok(key) => key,
                Err(e) => return Some(Err(e)),
            };
            // None: a symlink, left to the full walk.
            let mut step: Option<io::Result<u64>> = Some(Err(err(libc::ENOENT)));
            names.inspect(&key, &mut |inode| {
                step = if inode.is_symlink() {
                    None
                } else if !inode.is_dir() {
                    Some(Err(err(libc::ENOTDIR)))
                } else {
                    Some(search(inode).map(|()| inode.ino))
                };
            });
            dir = match step? {
                Ok(ino) => ino,
                Err(e) => return Some(Err(e)),
            };
        }
        let key = match Name::new(dir, last) {
            Ok(key) => key,
            Err(e) => return Some(Err(e)),
        };
        match names.get(&key) {
            None => Some(fail(libc::ENOENT)),
            Some(inode) if inode.is_symlink() && follow == Follow::Yes => None,
            Some(inode) => Some(Ok(inode)),
        }
    }

    /// The directory holding the last component of `parsed` (symlinks on
    /// the way followed, the last component not looked up).
    pub fn resolve_parent<'a>(&self, parsed: &Parsed<'a>) -> io::Result<ParentOf<'a>> {
        self.parent_from(vec![Arc::clone(&self.root)], parsed, &mut 0)
    }

    /// [`resolve_parent`](Inner::resolve_parent) for a path met in a
    /// resolution already under way: a relative `parsed` starts from
    /// `chain` (a symlink's directory), and `hops` goes on counting.
    pub(crate) fn parent_from<'a>(
        &self,
        mut chain: Vec<Arc<Inode>>,
        parsed: &Parsed<'a>,
        hops: &mut u32,
    ) -> io::Result<ParentOf<'a>> {
        let (last, init) = match parsed.comps.split_last() {
            None => (Last::Root, &[][..]),
            Some((Comp::Dot, init)) => (Last::Dot, init),
            Some((Comp::DotDot, init)) => (Last::DotDot, init),
            Some((Comp::Name(n), init)) => (Last::Name(n), init),
        };
        if parsed.absolute {
            chain.truncate(1);
        }
        self.walk_on(&mut chain, init, Follow::Yes, hops, &|_: &Inode| Ok(()))?;
        if !chain
            .last()
            .expect("the chain never loses the root")
            .is_dir()
        {
            return fail(libc::ENOTDIR);
        }
        Ok(ParentOf {
            chain,
            last,
            trailing_slash: parsed.trailing_slash,
        })
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
        let shared = Shared::new(budget, b.options(), b.policy, b.threads, b.clock, b.atime);
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
                shared,
                names: ArcSwap::from_pointee(AnyRegistry::new(
                    backend_registry(b.lockless),
                    Config::default(),
                )),
                fds: ArcSwap::from_pointee(AnyFdTable::new(backend_fds(b.lockless), b.fd_capacity)),
                root,
                next_ino: AtomicU64::new(ROOT_INO + 1),
                fd_capacity: b.fd_capacity,
                owner: (b.uid, b.gid),
                umask: b.umask,
                ns: Mutex::new(()),
                gate: Gate::new(),
                inos,
                generation: random_generation(),
            }),
        }
    }

    /// Whether the lockless backends are in use.
    pub fn is_lockless(&self) -> bool {
        self.inner.lockless()
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
            compress_nanos: get(&c.compress_nanos),
            bytes_exported: get(&c.bytes_exported),
            bytes_imported: get(&c.bytes_imported),
        }
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
pub(crate) fn gate(inner: &Inner) -> crate::gate::Pass<'_> {
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
