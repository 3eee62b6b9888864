//! [`ErmFuse`]: the `fuser::Filesystem` that answers FUSE requests from an
//! [`ermfs::Fs`] through its node API, each with exactly one reply.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use ermfs::{AtimePolicy, DirStream, Fs, Identity, Node, SetAttr, Stat};
use fuser::{
    AccessFlags, BackingId, CopyFileRangeFlags, Errno, FileAttr, FileHandle, Filesystem,
    FopenFlags, Generation, INodeNo, InitFlags, IoctlFlags, KernelConfig, LockOwner, Notifier,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus,
    ReplyEmpty, ReplyEntry, ReplyIoctl, ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr,
    Request, TimeOrNow, WriteFlags,
};

use crate::attr::{attr, bare, decode_dev, errno, fail, kind, spec};
use crate::nodes::Nodes;
use crate::passthrough::{Opened, Opens};
use crate::requests::{Op, Requests};

/// Directory handles carry this bit so they never look like ERMFS
/// descriptors (which are small non-negative `i32`s).
const DIR_HANDLE: u64 = 1 << 40;

/// Largest write the kernel may send in one request.
const MAX_WRITE: u32 = 1 << 20;

/// Flags of every file open: no FLUSH on close(2) (writes are in ERMFS when
/// they are answered, POSIX locks are the kernel's), one round trip less per
/// close.
const FILE_OPEN: FopenFlags = FopenFlags::FOPEN_NOFLUSH;

/// New opens go through passthrough only while at least 1/this of the
/// memory limit is free: the kernel's writes to a memfd meet no limit (the
/// store charges them when it next looks), so the last stretch before the
/// limit is served by the store, whose writes stop at it with `ENOSPC`.
/// What files open through passthrough write while open can still pass the
/// limit (SEMANTICS.md).
const PASSTHROUGH_ROOM: usize = 8;

/// How long the kernel may cache attributes and names by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(1);

/// Where [`ErmFuse`] sends the kernel its cache invalidations: filled in
/// once the session exists (see [`ErmFuse::notifier_slot`]). Until then,
/// and for a server run without one, nothing is sent and the kernel's
/// caches expire by their time-outs alone.
pub type NotifierSlot = Arc<OnceLock<Notifier>>;

/// A FUSE file system serving one [`Fs`].
///
/// FUSE node ids are ERMFS inode numbers, each mapped to the
/// [`Node`] handle the kernel holds; generations are the store's
/// ([`Fs::generation`]), so file handles (`open_by_handle_at`, NFS) from
/// another store are stale. File handles are ERMFS descriptors.
#[derive(Debug)]
pub struct ErmFuse {
    fs: Fs,
    generation: Generation,
    nodes: Nodes,
    dirs: Mutex<HashMap<u64, Arc<Mutex<DirStream>>>>,
    next_dir: AtomicU64,
    ttl: Duration,
    /// Asked for, and granted by the kernel at `init`: FUSE_WRITEBACK_CACHE.
    writeback: bool,
    notifier: NotifierSlot,
    /// Requests served, per operation (read through `control::requests`).
    requests: Requests,
    /// The files the kernel has open, per inode, and their backing files
    /// under FUSE passthrough.
    opens: Opens,
}

/// A reply to a request that opens a file (OPEN, CREATE): plain, or
/// through passthrough with a backing file registered on the reply's
/// channel.
trait OpenReply {
    /// Registers `memfd` as a backing file with the kernel.
    fn register(&self, memfd: BorrowedFd<'_>) -> io::Result<BackingId>;
    /// Replies with an open file the kernel reads and writes through us.
    fn plain(self, fh: FileHandle, flags: FopenFlags);
    /// Replies with an open file the kernel reads and writes on `backing`.
    fn passthrough(self, fh: FileHandle, backing: &BackingId);
    /// Replies with an error.
    fn error(self, e: Errno);
}

impl OpenReply for ReplyOpen {
    fn register(&self, memfd: BorrowedFd<'_>) -> io::Result<BackingId> {
        self.open_backing(memfd)
    }

    fn plain(self, fh: FileHandle, flags: FopenFlags) {
        self.opened(fh, flags);
    }

    fn passthrough(self, fh: FileHandle, backing: &BackingId) {
        // No KEEP_CACHE: the kernel refuses it beside passthrough.
        self.opened_passthrough(fh, FILE_OPEN, backing);
    }

    fn error(self, e: Errno) {
        ReplyOpen::error(self, e);
    }
}

/// A CREATE's reply with the new entry: its attributes are taken (and the
/// node handed to the kernel) only once the open has succeeded.
struct Created<'a> {
    reply: ReplyCreate,
    fuse: &'a ErmFuse,
    node: &'a Node,
}

impl OpenReply for Created<'_> {
    fn register(&self, memfd: BorrowedFd<'_>) -> io::Result<BackingId> {
        self.reply.open_backing(memfd)
    }

    fn plain(self, fh: FileHandle, flags: FopenFlags) {
        let f = self.fuse;
        let attr = f.hand_out(self.node);
        self.reply.created(&f.ttl, &attr, f.generation, fh, flags);
    }

    fn passthrough(self, fh: FileHandle, backing: &BackingId) {
        let f = self.fuse;
        let attr = f.hand_out(self.node);
        self.reply
            .created_passthrough(&f.ttl, &attr, f.generation, fh, FILE_OPEN, backing);
    }

    fn error(self, e: Errno) {
        self.reply.error(e);
    }
}

/// What an open gives back: the ERMFS descriptor, the open flags of a
/// plain reply, and with passthrough asked the memfd holding the content.
type Opening = (i32, FopenFlags, Option<OwnedFd>);

/// Replies to a request that returns nothing: done, or the error's errno.
fn answer(op: Op, reply: ReplyEmpty, result: io::Result<()>) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(refused(op, &e)),
    }
}

/// The errno of a refused request, logged at debug with its operation.
fn refused(op: Op, e: &io::Error) -> Errno {
    tracing::debug!(op = op.name().to_ascii_lowercase().as_str(), "refused: {e}");
    errno(e)
}

fn fd_of(fh: FileHandle) -> io::Result<i32> {
    i32::try_from(fh.0).map_err(|_| fail(libc::EBADF))
}

/// The caller of `req`. FUSE passes no supplementary groups: where group
/// membership decides (the set-group-ID bit on chmod), the kernel has
/// already decided with the caller's full credentials under
/// `default_permissions`.
fn who(req: &Request) -> Identity {
    Identity::new(req.uid(), req.gid())
}

fn offset(off: u64, too_big: i32) -> io::Result<i64> {
    i64::try_from(off).map_err(|_| fail(too_big))
}

impl ErmFuse {
    /// Serves `fs`, with `ttl` as the kernel's attribute and entry cache time.
    pub fn new(fs: Fs, ttl: Duration) -> ErmFuse {
        let nodes = Nodes::new(fs.root());
        ErmFuse {
            generation: Generation(u64::from(fs.generation())),
            fs,
            nodes,
            dirs: Mutex::new(HashMap::new()),
            next_dir: AtomicU64::new(0),
            ttl,
            writeback: false,
            notifier: Arc::new(OnceLock::new()),
            requests: Requests::default(),
            opens: Opens::new(false),
        }
    }

    /// Asks the kernel for FUSE passthrough (Linux 6.9+): while a file is
    /// open its content is a memfd ([`Fs::open_node_memfd`]) that the
    /// kernel reads, writes, splices and maps itself, so that I/O on open
    /// files makes no round trip to this server. Taken at `init` only if
    /// the kernel offers it, this process has `CAP_SYS_ADMIN` (which the
    /// kernel requires to register a backing file) and the writeback cache
    /// is not asked for (the kernel allows one or the other); one log line
    /// says which. Files with set-user-ID or set-group-ID bits or a
    /// `security.capability` are opened without it (a write must clear
    /// those, and the kernel's writes to the memfd would not), and so is a
    /// closed file that does not fit in memory whole (read blocks on demand
    /// instead); every open of an inode uses the mode its first open took,
    /// as the kernel requires, until its last release.
    pub fn with_passthrough(self, on: bool) -> ErmFuse {
        ErmFuse {
            opens: Opens::new(on),
            ..self
        }
    }

    /// Inodes the kernel has open through passthrough now.
    pub fn passthrough_inodes(&self) -> usize {
        self.opens.passthrough_inodes()
    }

    /// At `init`: takes FUSE passthrough if asked for and possible (see
    /// [`with_passthrough`](Self::with_passthrough)), logging one line
    /// either way.
    fn negotiate_passthrough(&self, config: &mut KernelConfig) {
        if !self.opens.on() {
            tracing::info!("FUSE passthrough off: not asked for (--no-passthrough)");
            return;
        }
        let refused = if self.writeback {
            Some("the writeback cache is on (the kernel allows one or the other)")
        } else if !crate::passthrough::may_register_backing() {
            Some(
                "no CAP_SYS_ADMIN in the initial user namespace, which the kernel \
                 requires to register a backing file",
            )
        } else if config
            .add_capabilities(InitFlags::FUSE_PASSTHROUGH)
            .is_err()
        {
            Some("the kernel does not offer it (Linux 6.9+ with CONFIG_FUSE_PASSTHROUGH)")
        } else {
            // The backing files are memfds (depth 0): one level of stacking.
            let _ = config.set_max_stack_depth(1);
            None
        };
        match refused {
            Some(why) => self.opens.turn_off(why),
            None => {
                tracing::info!("FUSE passthrough on: the kernel reads and writes open files itself")
            }
        }
    }

    /// Asks the kernel for its writeback cache (`FUSE_WRITEBACK_CACHE`):
    /// writes land in the page cache and reach the store in batches, at
    /// the latest on `close(2)`/`fsync(2)`; the kernel then owns every
    /// cached file's size and mtime. Right only when nothing changes the
    /// store except through this mount (as in `ermfs-mount`): a change made
    /// in process to a file the kernel has cached is never seen.
    pub fn with_writeback_cache(mut self, on: bool) -> ErmFuse {
        self.writeback = on;
        self
    }

    /// The slot to put the session's [`Notifier`] in once it is mounted
    /// ([`crate::spawn`] does), so that changes the kernel did not make
    /// itself (a privilege drop on write, a compression changing
    /// `st_blocks`) invalidate its cached attributes at once.
    pub fn notifier_slot(&self) -> NotifierSlot {
        Arc::clone(&self.notifier)
    }

    /// The served file system (a clone shares it).
    pub fn fs(&self) -> &Fs {
        &self.fs
    }

    /// Nodes the kernel holds now (the root included).
    pub fn nodes_held(&self) -> usize {
        self.nodes.len()
    }

    /// The ERMFS access mode for a kernel open: write-only becomes
    /// read-write under the writeback cache, whose partial-page writes read
    /// the rest of the page first.
    fn access_mode(&self, flags: i32) -> i32 {
        match flags & libc::O_ACCMODE {
            libc::O_WRONLY if self.writeback => libc::O_RDWR,
            acc => acc,
        }
    }

    fn dirs(&self) -> MutexGuard<'_, HashMap<u64, Arc<Mutex<DirStream>>>> {
        self.dirs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The node `ino` names: one the kernel holds, else (a file handle
    /// the kernel decoded after dropping its caches) any live inode of
    /// that number in this store.
    fn node(&self, ino: INodeNo) -> io::Result<Node> {
        match self.nodes.get(ino.0) {
            Some(node) => Ok(node),
            None => self
                .fs
                .node_by_ino(ino.0, self.fs.generation())
                .map_err(|_| fail(libc::ESTALE)),
        }
    }

    /// Hands `node` to the kernel (one lookup) and returns its attributes.
    fn hand_out(&self, node: &Node) -> FileAttr {
        self.nodes.remember(node);
        attr(&self.fs.getattr(node))
    }

    /// Replies with the entry a creation made.
    fn reply_entry(&self, op: Op, reply: ReplyEntry, made: io::Result<Node>) {
        match made {
            Ok(node) => reply.entry(&self.ttl, &self.hand_out(&node), self.generation),
            Err(e) => reply.error(refused(op, &e)),
        }
    }

    /// Tells the kernel that `ino`'s attributes changed behind its back
    /// (attributes only: its cached pages stay).
    fn invalidate_attrs(&self, ino: u64) {
        if let Some(notifier) = self.notifier.get() {
            // ENOENT when the kernel no longer caches the inode: nothing
            // to invalidate then.
            let _ = notifier.inval_inode(INodeNo(ino), -1, 0);
        }
    }

    fn do_setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        change: SetAttr,
        times: (Option<TimeOrNow>, Option<TimeOrNow>),
    ) -> io::Result<Stat> {
        let node = self.node(ino)?;
        let mut caller = who(req);
        if change.mode.is_some() && change.size.is_none() {
            // The kernel cleared S_ISGID from the mode already if the
            // caller, judged with its supplementary groups (which FUSE
            // does not pass), is outside the group: the store must not
            // judge again with the primary group alone.
            let gid = change.gid.unwrap_or(self.fs.getattr(&node).gid);
            caller.groups.push(gid);
        }
        let change = SetAttr {
            atime: spec(times.0),
            mtime: spec(times.1),
            ..change
        };
        self.fs.setattr(&node, &change, &caller)
    }

    /// The file a CREATE names: made now, or (made by someone else since
    /// the kernel's lookup, and no `O_EXCL`) the one there.
    fn create_node(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        (mode, umask, flags): (u32, u32, i32),
    ) -> io::Result<Node> {
        let dir = self.node(parent)?;
        let perm = (mode & 0o7777) | libc::S_IFREG;
        match self
            .fs
            .mknodat(&dir, name.as_bytes(), perm, 0, umask, &who(req))
        {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && flags & libc::O_EXCL == 0 => {
                self.fs.lookup(&dir, name.as_bytes())
            }
            made => made,
        }
    }

    /// Opens `node` in the store for the kernel: with `memfd`, its content
    /// in a memfd (for passthrough).
    fn open_in_store(
        &self,
        req: &Request,
        node: &Node,
        flags: i32,
        memfd: bool,
    ) -> io::Result<(i32, Option<OwnedFd>)> {
        // The kernel resolved the name and checked permissions; O_APPEND
        // is its job (it sends the end-of-file offset). O_TRUNC comes here
        // (ATOMIC_O_TRUNC): the store drops a closed file's blocks without
        // inflating them first, as a separate truncate would.
        let open = self.access_mode(flags) | (flags & libc::O_TRUNC);
        if memfd {
            let (fd, memfd) = self.fs.open_node_memfd(node, open, &who(req))?;
            return Ok((fd, Some(memfd)));
        }
        Ok((self.fs.open_node(node, open, &who(req))?, None))
    }

    /// An OPEN in the store, with the open flags of a plain reply: the
    /// kernel's cached pages kept when the file is as it last had it.
    fn do_open(&self, req: &Request, node: &Node, flags: i32, memfd: bool) -> io::Result<Opening> {
        let ino = node.ino();
        let (fd, memfd) = self.open_in_store(req, node, flags, memfd)?;
        let st = self.fs.getattr(node);
        let keep = flags & libc::O_TRUNC == 0 && self.nodes.keep_cache(ino, (st.mtime, st.size))
            // strictatime: reads served from kept pages would never reach
            // the store to move atime.
            && self.fs.atime_policy() != AtimePolicy::Strict;
        if flags & libc::O_TRUNC != 0 {
            self.nodes.stamp(ino, (st.mtime, st.size));
            // A truncate by a caller without CAP_FSETID may have dropped
            // set-ID bits.
            self.invalidate_attrs(ino);
        }
        let flags = match keep {
            true => FopenFlags::FOPEN_KEEP_CACHE | FILE_OPEN,
            false => FILE_OPEN,
        };
        Ok((fd, flags, memfd))
    }

    /// Whether `node` may be opened through passthrough: the kernel's
    /// writes to the memfd would not clear set-ID bits or a file
    /// capability, which a write by a caller without `CAP_FSETID` must;
    /// and they would not meet the memory limit, so a store with less than
    /// [`PASSTHROUGH_ROOM`] of its limit free serves new opens itself
    /// (their growth then gets `ENOSPC` where the limit is). A read-only
    /// open of a compressed file is served by the store too: passthrough
    /// would inflate all of it first, where the store reads the blocks a
    /// reader touches and the kernel keeps them in its page cache across
    /// opens (`FOPEN_KEEP_CACHE`).
    fn may_pass_through(&self, node: &Node, flags: i32) -> bool {
        if flags & libc::O_ACCMODE == libc::O_RDONLY && !self.fs.content_is_raw(node) {
            return false;
        }
        let full = self.fs.memory_limit().is_some_and(|limit| {
            self.fs
                .memory_used()
                .saturating_add(limit / PASSTHROUGH_ROOM)
                > limit
        });
        let mode = self.fs.getattr(node).mode;
        !full
            && mode & (libc::S_ISUID | libc::S_ISGID) == 0
            && self
                .fs
                .getxattr_node(node, "security.capability", &mut [])
                .is_err()
    }

    /// Opens `node` for the kernel in the mode its open files use (its
    /// first open decides: passthrough when it is on and the file may use
    /// it) and replies. `open(memfd)` opens it in the store with `flags`.
    fn open_for_kernel(
        &self,
        (op, flags): (Op, i32),
        node: &Node,
        open: impl Fn(bool) -> io::Result<Opening>,
        reply: impl OpenReply,
    ) {
        let ino = node.ino();
        let could = self.opens.on() && self.may_pass_through(node, flags);
        let mut opens = self.opens.shard(ino);
        if could && opens.get(&ino).is_some_and(|o| o.backing.is_none()) {
            drop(opens);
            opens = self.opens.wait_for_release(ino);
        }
        let memfd = could && !opens.contains_key(&ino);
        let opened = match open(memfd) {
            // The whole file does not fit: a plain open reads its blocks
            // on demand.
            Err(e) if memfd && e.raw_os_error() == Some(libc::ENOSPC) => open(false),
            other => other,
        };
        let (fd, flags, memfd) = match opened {
            Ok(opened) => opened,
            Err(e) => return reply.error(refused(op, &e)),
        };
        let fh = FileHandle(fd as u64);
        let entry = opens.entry(ino).or_insert_with(|| Opened {
            opens: 0,
            backing: memfd.and_then(|memfd| match reply.register(memfd.as_fd()) {
                Ok(backing) => Some(backing),
                Err(e) => {
                    self.opens
                        .turn_off(&format!("the kernel refused a backing file ({e})"));
                    None
                }
            }),
        });
        entry.opens += 1;
        match &entry.backing {
            Some(backing) => reply.passthrough(fh, backing),
            None => reply.plain(fh, flags),
        }
    }

    /// `copy_file_range` inside the store: chunks through one bounded
    /// buffer (source and destination may be the same file, so no borrowed
    /// view of one is held while writing the other).
    fn copy_range(
        &self,
        fh_in: FileHandle,
        offset_in: u64,
        fh_out: FileHandle,
        offset_out: u64,
        len: u64,
    ) -> io::Result<u32> {
        let (fd_in, fd_out) = (fd_of(fh_in)?, fd_of(fh_out)?);
        let mut left = len.min(u64::from(u32::MAX));
        let (mut src, mut dst) = (offset_in, offset_out);
        let mut buf = vec![0; left.min(u64::from(MAX_WRITE)) as usize];
        let mut done = 0u64;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = self
                .fs
                .pread(fd_in, &mut buf[..want], offset(src, libc::EINVAL)?)?;
            if n == 0 {
                break;
            }
            let w = self
                .fs
                .pwrite(fd_out, &buf[..n], offset(dst, libc::EFBIG)?)?;
            done += w as u64;
            left -= w as u64;
            src += w as u64;
            dst += w as u64;
            if w < n {
                break;
            }
        }
        Ok(u32::try_from(done).unwrap_or(u32::MAX))
    }

    /// The stream of directory handle `fh`, positioned at `offset` (0 is a
    /// `rewinddir`: the listing shows the directory as it is now).
    fn stream(&self, fh: FileHandle, offset: u64) -> io::Result<Arc<Mutex<DirStream>>> {
        let stream = self
            .dirs()
            .get(&fh.0)
            .cloned()
            .ok_or_else(|| fail(libc::EBADF))?;
        stream
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .seek(offset);
        Ok(stream)
    }
}

impl Filesystem for ErmFuse {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        self.requests.count(Op::Init);
        if let Err(nearest) = config.set_max_write(MAX_WRITE) {
            let _ = config.set_max_write(nearest);
        }
        if let Err(nearest) = config.set_max_readahead(MAX_WRITE) {
            let _ = config.set_max_readahead(nearest);
        }
        // KILLPRIV_V2: the store clears set-user-ID/set-group-ID and
        // `security.capability` on write, truncate and chown itself (the
        // node API's identity rules), so the kernel marks the super block
        // `SB_NOSEC` and stops asking GETXATTR("security.capability")
        // before every write(2). ATOMIC_O_TRUNC: see `open`. READDIRPLUS
        // (adaptive): a listing hands out each entry's attributes, so
        // `ls -l` or `find` need no LOOKUP per name. PARALLEL_DIROPS:
        // lookups and readdirs of one directory may run at once.
        // POSIX_ACL: the kernel enforces the ACLs the store keeps in
        // `system.posix_acl_*` and, with DONT_MASK, leaves the umask to
        // the store (which ignores it under a default ACL, as
        // `posix_acl_create`). EXPORT_SUPPORT: file handles outlive the
        // kernel's caches (`node` finds any live inode by number). Each is
        // taken only if the kernel offers it; the writeback cache only if
        // asked for.
        if self.writeback {
            self.writeback = config
                .add_capabilities(InitFlags::FUSE_WRITEBACK_CACHE)
                .is_ok();
        }
        self.negotiate_passthrough(config);
        for flag in [
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_READDIRPLUS_AUTO,
            InitFlags::FUSE_ATOMIC_O_TRUNC,
            InitFlags::FUSE_HANDLE_KILLPRIV_V2,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_POSIX_ACL,
            InitFlags::FUSE_DONT_MASK,
            InitFlags::FUSE_EXPORT_SUPPORT,
        ] {
            let _ = config.add_capabilities(flag);
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.requests.count(Op::Lookup);
        let found = self.node(parent).and_then(|dir| match name.as_bytes() {
            // A file handle's inode the kernel no longer caches: it looks
            // up "." in the node itself, of any type (export support).
            b"." => Ok(dir),
            name => self.fs.lookup(&dir, name),
        });
        match found {
            Ok(node) => reply.entry(&self.ttl, &self.hand_out(&node), self.generation),
            // A negative entry (node 0): the kernel caches the absence for
            // the entry TTL, so the next open(O_CREAT) or stat of a missing
            // name needs no LOOKUP; creations through the mount replace it.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => reply.entry(
                &self.ttl,
                &bare(0, fuser::FileType::RegularFile),
                Generation(0),
            ),
            Err(e) => reply.error(refused(Op::Lookup, &e)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.requests.count(Op::Forget);
        self.nodes.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.requests.count(Op::Getattr);
        match self.node(ino) {
            Ok(node) => reply.attr(&self.ttl, &attr(&self.fs.getattr(&node))),
            Err(e) => reply.error(refused(Op::Getattr, &e)),
        }
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        self.requests.count(Op::Setattr);
        let change = SetAttr {
            mode: mode.map(|m| m & 0o7777),
            uid,
            gid,
            size,
            ctime,
            ..SetAttr::default()
        };
        match self.do_setattr(req, ino, change, (atime, mtime)) {
            Ok(st) => reply.attr(&self.ttl, &attr(&st)),
            Err(e) => reply.error(refused(Op::Setattr, &e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.requests.count(Op::Readlink);
        match self.node(ino).and_then(|n| self.fs.readlink_node(&n)) {
            Ok(target) => reply.data(&target),
            Err(e) => reply.error(refused(Op::Readlink, &e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        self.requests.count(Op::Mknod);
        let made = self.node(parent).and_then(|dir| {
            let rdev = decode_dev(rdev);
            self.fs
                .mknodat(&dir, name.as_bytes(), mode, rdev, umask, &who(req))
        });
        self.reply_entry(Op::Mknod, reply, made);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        self.requests.count(Op::Mkdir);
        let made = self.node(parent).and_then(|dir| {
            self.fs
                .mkdirat(&dir, name.as_bytes(), mode, umask, &who(req))
        });
        self.reply_entry(Op::Mkdir, reply, made);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.requests.count(Op::Unlink);
        let result = self
            .node(parent)
            .and_then(|dir| self.fs.unlinkat(&dir, name.as_bytes()));
        answer(Op::Unlink, reply, result);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.requests.count(Op::Rmdir);
        let result = self
            .node(parent)
            .and_then(|dir| self.fs.rmdirat(&dir, name.as_bytes()));
        answer(Op::Rmdir, reply, result);
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        self.requests.count(Op::Symlink);
        let made = self.node(parent).and_then(|dir| {
            let target = target.as_os_str().as_bytes();
            self.fs
                .symlinkat(target, &dir, link_name.as_bytes(), &who(req))
        });
        self.reply_entry(Op::Symlink, reply, made);
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        self.requests.count(Op::Rename);
        let run = || -> io::Result<()> {
            let flags = ermfs::RenameFlags::from_bits(flags.bits())?;
            let (from, to) = (self.node(parent)?, self.node(newparent)?);
            self.fs.renameat2(
                &from,
                name.as_bytes(),
                &to,
                newname.as_bytes(),
                flags,
                &who(req),
            )
        };
        answer(Op::Rename, reply, run());
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        self.requests.count(Op::Link);
        let made = (|| {
            let (node, dir) = (self.node(ino)?, self.node(newparent)?);
            self.fs.linkat(&node, &dir, newname.as_bytes())?;
            Ok(node)
        })();
        self.reply_entry(Op::Link, reply, made);
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.requests.count(Op::Open);
        match self.node(ino) {
            Ok(node) => self.open_for_kernel(
                (Op::Open, flags.0),
                &node,
                |memfd| self.do_open(req, &node, flags.0, memfd),
                reply,
            ),
            Err(e) => reply.error(refused(Op::Open, &e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset_: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.requests.count(Op::Read);
        let run = || -> io::Result<Vec<u8>> {
            let fd = fd_of(fh)?;
            let mut buf = vec![0; size as usize];
            let n = self
                .fs
                .pread(fd, &mut buf, offset(offset_, libc::EINVAL)?)?;
            buf.truncate(n);
            Ok(buf)
        };
        match run() {
            Ok(buf) => reply.data(&buf),
            Err(e) => reply.error(refused(Op::Read, &e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset_: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        self.requests.count(Op::Write);
        // One store call: the descriptor drops set-ID bits and file
        // capabilities in the same step as the data change, by the
        // identity that opened it.
        let result =
            fd_of(fh).and_then(|fd| self.fs.pwrite(fd, data, offset(offset_, libc::EFBIG)?));
        match result {
            Ok(n) => {
                // The kernel saw set-ID bits to drop: its cached mode is
                // stale now.
                if write_flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID) {
                    self.invalidate_attrs(ino.0);
                }
                reply.written(u32::try_from(n).unwrap_or(u32::MAX))
            }
            Err(e) => reply.error(refused(Op::Write, &e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.requests.count(Op::Flush);
        // Writes land in ERMFS when they arrive: nothing is buffered here.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.requests.count(Op::Release);
        let run = || -> io::Result<()> {
            let fd = fd_of(fh)?;
            if let Ok(st) = self.fs.fstat(fd) {
                self.nodes.stamp(ino.0, (st.mtime, st.size));
            }
            // The last release closes the backing id, if any; the last
            // close of the inode compresses it, by the policy.
            self.opens.release(ino.0);
            self.fs.close(fd)
        };
        let result = run();
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            // A compression at the last close changes `st_blocks`.
            self.invalidate_attrs(ino.0);
        }
        answer(Op::Release, reply, result)
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.requests.count(Op::Fsync);
        answer(Op::Fsync, reply, fd_of(fh).and_then(|fd| self.fs.fsync(fd)))
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.requests.count(Op::Opendir);
        let run = || -> io::Result<u64> {
            // O(1): the stream reads the live directory as it goes.
            let stream = self.fs.opendir_node(&self.node(ino)?)?;
            let fh = DIR_HANDLE | self.next_dir.fetch_add(1, Ordering::Relaxed);
            self.dirs().insert(fh, Arc::new(Mutex::new(stream)));
            Ok(fh)
        };
        match run() {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(refused(Op::Opendir, &e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        self.requests.count(Op::Readdir);
        let stream = match self.stream(fh, offset) {
            Ok(s) => s,
            Err(e) => return reply.error(refused(Op::Readdir, &e)),
        };
        let mut stream = stream.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match stream.next_entry() {
                Ok(Some(e)) => {
                    let name = OsStr::from_bytes(&e.name);
                    if reply.add(INodeNo(e.ino), stream.tell(), kind(e.kind), name) {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return reply.error(refused(Op::Readdir, &e)),
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        self.requests.count(Op::Readdirplus);
        let (stream, dir) = match self
            .stream(fh, offset)
            .and_then(|s| Ok((s, self.node(ino)?)))
        {
            Ok(s) => s,
            Err(e) => return reply.error(refused(Op::Readdirplus, &e)),
        };
        let mut stream = stream.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let e = match stream.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => return reply.error(refused(Op::Readdirplus, &e)),
            };
            let (name, off) = (OsStr::from_bytes(&e.name), stream.tell());
            if e.name == b"." || e.name == b".." {
                // The kernel takes no lookup and no attributes from these.
                let a = bare(e.ino, kind(e.kind));
                if reply.add(a.ino, off, name, &Duration::ZERO, &a, Generation(0)) {
                    break;
                }
                continue;
            }
            // Each child handed out with attributes counts one lookup; one
            // gone since the stream read it is left out.
            let Some(node) = self
                .fs
                .lookup(&dir, &e.name)
                .ok()
                .filter(|n| n.ino() == e.ino)
            else {
                continue;
            };
            let a = attr(&self.fs.getattr(&node));
            if reply.add(a.ino, off, name, &self.ttl, &a, self.generation) {
                break;
            }
            self.nodes.remember(&node);
        }
        reply.ok();
    }

    /// Control requests on the root ([`crate::control`]); `ENOTTY`
    /// elsewhere and for any other command.
    fn ioctl(
        &self,
        req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: IoctlFlags,
        cmd: u32,
        in_data: &[u8],
        _out_size: u32,
        reply: ReplyIoctl,
    ) {
        self.requests.count(Op::Ioctl);
        if ino != INodeNo::ROOT {
            return reply.error(Errno::ENOTTY);
        }
        match crate::control::serve(
            &self.fs,
            &self.requests,
            cmd,
            in_data,
            req.uid(),
            crate::sys::euid(),
        ) {
            Ok(out) => reply.ioctl(0, &out),
            Err(e) => reply.error(Errno::from_i32(e)),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.requests.count(Op::Releasedir);
        self.dirs().remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.requests.count(Op::Fsyncdir);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        self.requests.count(Op::Statfs);
        let s = self.fs.statfs();
        let bsize = u32::try_from(s.block_size).unwrap_or(4096);
        let namelen = u32::try_from(s.name_max).unwrap_or(255);
        reply.statfs(
            s.blocks,
            s.blocks_free,
            s.blocks_available,
            s.files,
            s.files_free,
            bsize,
            namelen,
            bsize,
        );
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        position: u32,
        reply: ReplyEmpty,
    ) {
        self.requests.count(Op::Setxattr);
        if position != 0 {
            return reply.error(Errno::EINVAL);
        }
        let result = self
            .node(ino)
            .and_then(|n| self.fs.setxattr_node(&n, name.as_bytes(), value, flags));
        // Setting the access ACL changes the mode.
        if result.is_ok() && name.as_bytes() == b"system.posix_acl_access" {
            self.invalidate_attrs(ino.0);
        }
        answer(Op::Setxattr, reply, result);
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        self.requests.count(Op::Getxattr);
        let mut buf = vec![0; size as usize];
        let result = self
            .node(ino)
            .and_then(|n| self.fs.getxattr_node(&n, name.as_bytes(), &mut buf));
        xattr_reply(Op::Getxattr, result, size, &buf, reply);
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        self.requests.count(Op::Listxattr);
        let mut buf = vec![0; size as usize];
        let result = self
            .node(ino)
            .and_then(|n| self.fs.listxattr_node(&n, &mut buf));
        xattr_reply(Op::Listxattr, result, size, &buf, reply);
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.requests.count(Op::Removexattr);
        let result = self
            .node(ino)
            .and_then(|n| self.fs.removexattr_node(&n, name.as_bytes()));
        answer(Op::Removexattr, reply, result);
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        self.requests.count(Op::Access);
        let result = self
            .node(ino)
            .and_then(|n| self.fs.access_node(&n, mask.bits(), &who(req)));
        answer(Op::Access, reply, result);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        self.requests.count(Op::Create);
        match self.create_node(req, parent, name, (mode, umask, flags)) {
            Ok(node) => {
                let open = |memfd| {
                    let (fd, memfd) = self.open_in_store(req, &node, flags, memfd)?;
                    Ok((fd, FILE_OPEN, memfd))
                };
                let reply = Created {
                    reply,
                    fuse: self,
                    node: &node,
                };
                self.open_for_kernel((Op::Create, flags), &node, open, reply);
            }
            Err(e) => reply.error(refused(Op::Create, &e)),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset_: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        self.requests.count(Op::Fallocate);
        let run = || -> io::Result<()> {
            let off = offset(offset_, libc::EFBIG)?;
            let len = offset(length, libc::EFBIG)?;
            self.fs.fallocate(fd_of(fh)?, mode, off, len)
        };
        let result = run();
        // The descriptor's identity may have dropped set-ID bits, and
        // `st_blocks` moved.
        self.invalidate_attrs(ino.0);
        answer(Op::Fallocate, reply, result);
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        fh_in: FileHandle,
        offset_in: u64,
        _ino_out: INodeNo,
        fh_out: FileHandle,
        offset_out: u64,
        len: u64,
        flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        self.requests.count(Op::CopyFileRange);
        if !flags.is_empty() {
            return reply.error(Errno::EINVAL);
        }
        match self.copy_range(fh_in, offset_in, fh_out, offset_out, len) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(refused(Op::CopyFileRange, &e)),
        }
    }

    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        self.requests.count(Op::Lseek);
        // Only SEEK_DATA/SEEK_HOLE reach here (the kernel does the rest);
        // the ERMFS descriptor's own offset is unused (reads are positioned).
        match fd_of(fh).and_then(|fd| self.fs.lseek(fd, offset, whence)) {
            Ok(off) => reply.offset(off),
            Err(e) => reply.error(refused(Op::Lseek, &e)),
        }
    }
}

/// Answers a getxattr/listxattr: the size for a size query, else the bytes.
fn xattr_reply(op: Op, result: io::Result<usize>, size: u32, buf: &[u8], reply: ReplyXattr) {
    match result {
        Ok(n) if size == 0 => reply.size(u32::try_from(n).unwrap_or(u32::MAX)),
        Ok(n) => reply.data(&buf[..n.min(buf.len())]),
        Err(e) => reply.error(refused(op, &e)),
    }
}
