//! [`ErmFuse`]: the `fuser::Filesystem` that answers FUSE requests from an
//! [`ermfs::Fs`], each with exactly one reply.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use ermfs::{DirEntry, Fs, Identity, Stat, TimeSpec};
use fuser::{
    AccessFlags, CopyFileRangeFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyLseek,
    ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use crate::nodes::Nodes;

/// Directory handles carry this bit so they never look like ERMFS
/// descriptors (which are small non-negative `i32`s).
const DIR_HANDLE: u64 = 1 << 40;

/// Largest write the kernel may send in one request.
const MAX_WRITE: u32 = 1 << 20;

/// Most entries one `readdirplus` answer looks at (a page of the kernel's
/// buffer holds about 25; it asks again for the rest).
const PLUS_BATCH: usize = 128;

/// Flags of every file open: no FLUSH on close(2) (writes are in ERMFS when
/// they are answered, POSIX locks are the kernel's), one round trip less per
/// close.
const FILE_OPEN: FopenFlags = FopenFlags::FOPEN_NOFLUSH;

/// The attribute a write, truncate or chown drops (file capabilities).
const CAPABILITY: &[u8] = b"security.capability";

/// How long the kernel may cache attributes and names by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(1);

/// One open directory: a snapshot of its entries, so offsets stay stable
/// whatever changes meanwhile.
#[derive(Debug)]
struct DirHandle {
    entries: Vec<DirEntry>,
    /// A `readdir` at offset 0 after this is a `rewinddir`: snapshot again.
    served: bool,
}

/// A FUSE file system serving one [`Fs`].
///
/// Inode numbers are ERMFS's own (see the crate docs for the table that
/// maps them back to paths); file handles are ERMFS descriptors.
#[derive(Debug)]
pub struct ErmFuse {
    fs: Fs,
    nodes: Mutex<Nodes>,
    /// Shared by every request, exclusive for `rename`: a rename changes the
    /// paths of a whole subtree, so no request may turn an inode into a
    /// path while it runs.
    ns: RwLock<()>,
    dirs: Mutex<std::collections::HashMap<u64, DirHandle>>,
    next_dir: AtomicU64,
    ttl: Duration,
    /// Asked for, and granted by the kernel at `init`: FUSE_WRITEBACK_CACHE.
    writeback: bool,
}

fn errno(e: &io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Replies to a request that returns nothing: done, or the error's errno.
fn answer(reply: ReplyEmpty, result: io::Result<()>) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}

fn fail(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn os(path: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(path))
}

fn kind(k: ermfs::FileType) -> FileType {
    match k {
        ermfs::FileType::File => FileType::RegularFile,
        ermfs::FileType::Dir => FileType::Directory,
        ermfs::FileType::Symlink => FileType::Symlink,
        ermfs::FileType::Fifo => FileType::NamedPipe,
        ermfs::FileType::CharDevice => FileType::CharDevice,
        ermfs::FileType::BlockDevice => FileType::BlockDevice,
        ermfs::FileType::Socket => FileType::Socket,
    }
}

fn attr(st: &Stat) -> FileAttr {
    FileAttr {
        ino: INodeNo(st.ino),
        size: st.size,
        blocks: st.blocks,
        atime: st.atime,
        mtime: st.mtime,
        ctime: st.ctime,
        crtime: st.btime,
        kind: kind(st.kind),
        perm: (st.mode & 0o7777) as u16,
        nlink: st.nlink,
        uid: st.uid,
        gid: st.gid,
        rdev: 0,
        blksize: st.blksize,
        flags: 0,
    }
}

/// The attributes of a negative entry (inode 0: "no such name").
fn negative() -> FileAttr {
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: SystemTime::UNIX_EPOCH,
        mtime: SystemTime::UNIX_EPOCH,
        ctime: SystemTime::UNIX_EPOCH,
        crtime: SystemTime::UNIX_EPOCH,
        kind: FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 0,
        flags: 0,
    }
}

fn spec(t: Option<TimeOrNow>) -> TimeSpec {
    match t {
        None => TimeSpec::Omit,
        Some(TimeOrNow::Now) => TimeSpec::Now,
        Some(TimeOrNow::SpecificTime(t)) => TimeSpec::Set(t),
    }
}

fn fd_of(fh: FileHandle) -> io::Result<i32> {
    i32::try_from(fh.0).map_err(|_| fail(libc::EBADF))
}

/// Where a metadata call goes: the path of a live name, or a descriptor.
enum Target {
    Path(Vec<u8>),
    Fd(i32),
}

impl ErmFuse {
    /// Serves `fs`, with `ttl` as the kernel's attribute and entry cache time.
    pub fn new(fs: Fs, ttl: Duration) -> ErmFuse {
        ErmFuse {
            fs,
            nodes: Mutex::new(Nodes::new()),
            ns: RwLock::new(()),
            dirs: Mutex::new(std::collections::HashMap::new()),
            next_dir: AtomicU64::new(0),
            ttl,
            writeback: false,
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

    /// The ERMFS access mode for a kernel open: write-only becomes
    /// read-write under the writeback cache, whose partial-page writes read
    /// the rest of the page first.
    fn access_mode(&self, flags: i32) -> i32 {
        match flags & libc::O_ACCMODE {
            libc::O_WRONLY if self.writeback => libc::O_RDWR,
            acc => acc,
        }
    }

    /// The served file system (a clone shares it).
    pub fn fs(&self) -> &Fs {
        &self.fs
    }

    fn nodes(&self) -> MutexGuard<'_, Nodes> {
        // A panic while holding the table leaves it consistent (each method
        // is one map update), so a poisoned lock is still usable.
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.ns.read().unwrap_or_else(|p| p.into_inner())
    }

    fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.ns.write().unwrap_or_else(|p| p.into_inner())
    }

    fn dirs(&self) -> MutexGuard<'_, std::collections::HashMap<u64, DirHandle>> {
        self.dirs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, ino: INodeNo) -> io::Result<Vec<u8>> {
        self.nodes().path(ino.0)
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> io::Result<Vec<u8>> {
        self.nodes().child_path(parent.0, name.as_bytes())
    }

    /// The file handle if it is a descriptor, else the path, else any
    /// descriptor still open on an unlinked inode.
    fn target(&self, ino: INodeNo, fh: Option<FileHandle>) -> io::Result<Target> {
        if let Some(fh) = fh
            && fh.0 < DIR_HANDLE
        {
            return Ok(Target::Fd(fd_of(fh)?));
        }
        let nodes = self.nodes();
        match nodes.path(ino.0) {
            Ok(p) => Ok(Target::Path(p)),
            Err(e) => nodes.any_fd(ino.0).map(Target::Fd).ok_or(e),
        }
    }

    fn stat_target(&self, t: &Target) -> io::Result<Stat> {
        match t {
            Target::Path(p) => self.fs.lstat(os(p)),
            Target::Fd(fd) => self.fs.fstat(*fd),
        }
    }

    /// What the kernel leaves to the file system under KILLPRIV_V2 (as
    /// Linux's `file_remove_privs` does on a local disk): a write, truncate
    /// or chown drops the file's `security.capability`, and with
    /// `suidgid` (the writer lacks `CAP_FSETID`) its set-user-ID bit and,
    /// when group-executable, its set-group-ID bit.
    fn kill_priv(&self, t: &Target, suidgid: bool) -> io::Result<()> {
        let removed = match t {
            Target::Path(p) => self.fs.removexattr(os(p), CAPABILITY),
            Target::Fd(fd) => self.fs.fremovexattr(*fd, CAPABILITY),
        };
        match removed {
            Err(e) if e.raw_os_error() != Some(libc::ENODATA) => return Err(e),
            _ => {}
        }
        if !suidgid {
            return Ok(());
        }
        let st = self.stat_target(t)?;
        if st.kind != ermfs::FileType::File {
            return Ok(());
        }
        let mut perm = st.mode & 0o7777 & !libc::S_ISUID;
        if perm & libc::S_IXGRP != 0 {
            perm &= !libc::S_ISGID;
        }
        if perm == st.mode & 0o7777 {
            return Ok(());
        }
        match t {
            Target::Path(p) => self.fs.chmod(os(p), perm),
            Target::Fd(fd) => self.fs.fchmod(*fd, perm),
        }
    }

    /// A name was created by `req`: give it to the caller (the store's
    /// default owner is the mounting user, who need not be the caller).
    fn own(&self, path: &[u8], req: &Request) -> io::Result<()> {
        self.fs.lchown(os(path), req.uid(), req.gid())
    }

    /// Makes the new name `parent/name` with `make` (given its path), gives it
    /// to the caller and replies with its entry: mknod, mkdir and symlink.
    fn new_entry(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        reply: ReplyEntry,
        make: impl FnOnce(&[u8]) -> io::Result<()>,
    ) {
        let _ns = self.shared();
        let run = || -> io::Result<FileAttr> {
            let path = self.child(parent, name)?;
            make(&path)?;
            self.own(&path, req)?;
            self.entry(parent, name, &path)
        };
        match run() {
            Ok(a) => reply.entry(&self.ttl, &a, Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    /// Stats `path` and hands its inode to the kernel (one lookup).
    fn entry(&self, parent: INodeNo, name: &OsStr, path: &[u8]) -> io::Result<FileAttr> {
        let st = self.fs.lstat(os(path))?;
        self.nodes().remember(st.ino, parent.0, name.as_bytes());
        Ok(attr(&st))
    }

    fn do_setattr(
        &self,
        req: &Request,
        (ino, fh): (INodeNo, Option<FileHandle>),
        mode: Option<u32>,
        owner: (Option<u32>, Option<u32>),
        size: Option<u64>,
        times: (Option<TimeOrNow>, Option<TimeOrNow>),
    ) -> io::Result<FileAttr> {
        let _ns = self.shared();
        let t = self.target(ino, fh)?;
        let fs = &self.fs;
        if let Some(mode) = mode {
            match &t {
                Target::Path(p) => fs.chmod(os(p), mode & 0o7777)?,
                Target::Fd(fd) => fs.fchmod(*fd, mode & 0o7777)?,
            }
        }
        if owner.0.is_some() || owner.1.is_some() {
            let (uid, gid) = (owner.0.unwrap_or(u32::MAX), owner.1.unwrap_or(u32::MAX));
            match &t {
                Target::Path(p) => fs.lchown(os(p), uid, gid)?,
                Target::Fd(fd) => fs.fchown(*fd, uid, gid)?,
            }
            // ERMFS's chown clears the mode bits itself.
            self.kill_priv(&t, false)?;
        }
        if let Some(size) = size {
            let len = i64::try_from(size).map_err(|_| fail(libc::EFBIG))?;
            match &t {
                Target::Path(p) => fs.truncate(os(p), len)?,
                Target::Fd(fd) => fs.ftruncate(*fd, len)?,
            }
            // FATTR_KILL_SUIDGID is not passed on by fuser 0.18: a caller
            // other than root is taken to lack CAP_FSETID, as the kernel
            // would judge it.
            self.kill_priv(&t, req.uid() != 0)?;
        }
        let (a, m) = (spec(times.0), spec(times.1));
        match &t {
            Target::Path(p) => fs.lutimens(os(p), a, m)?,
            Target::Fd(fd) => fs.futimens(*fd, a, m)?,
        }
        Ok(attr(&self.stat_target(&t)?))
    }

    fn do_rename(
        &self,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> io::Result<()> {
        let _ns = self.exclusive();
        let from = self.child(parent, name)?;
        let to = self.child(newparent, newname)?;
        let src = self.fs.lstat(os(&from))?;
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            if flags != RenameFlags::RENAME_EXCHANGE {
                return Err(fail(libc::EINVAL));
            }
            let dst = self.fs.lstat(os(&to))?;
            // ERMFS has no atomic exchange: three renames through a hidden
            // name, atomic for every FUSE request (they wait on `ns`).
            let hidden = self.nodes().child_path(
                newparent.0,
                format!(".ermfs-exchange.{}", dst.ino).as_bytes(),
            )?;
            self.fs.rename(os(&to), os(&hidden))?;
            if let Err(e) = self.fs.rename(os(&from), os(&to)) {
                let _ = self.fs.rename(os(&hidden), os(&to));
                return Err(e);
            }
            if let Err(e) = self.fs.rename(os(&hidden), os(&from)) {
                let _ = self.fs.rename(os(&to), os(&from));
                let _ = self.fs.rename(os(&hidden), os(&to));
                return Err(e);
            }
            let (a, b) = (
                (parent.0, name.as_bytes()),
                (newparent.0, newname.as_bytes()),
            );
            let mut nodes = self.nodes();
            nodes.moved(src.ino, a, b);
            nodes.moved(dst.ino, b, a);
            return Ok(());
        }
        if !(flags - RenameFlags::RENAME_NOREPLACE).is_empty() {
            return Err(fail(libc::EINVAL));
        }
        let dst = self.fs.lstat(os(&to)).ok();
        if dst.is_some() && flags.contains(RenameFlags::RENAME_NOREPLACE) {
            return Err(fail(libc::EEXIST));
        }
        self.fs.rename(os(&from), os(&to))?;
        let mut nodes = self.nodes();
        if let Some(d) = dst
            && d.ino != src.ino
        {
            nodes.detach(d.ino, newparent.0, newname.as_bytes());
        }
        nodes.moved(
            src.ino,
            (parent.0, name.as_bytes()),
            (newparent.0, newname.as_bytes()),
        );
        Ok(())
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
            let off = i64::try_from(src).map_err(|_| fail(libc::EINVAL))?;
            let n = self.fs.pread(fd_in, &mut buf[..want], off)?;
            if n == 0 {
                break;
            }
            let at = i64::try_from(dst).map_err(|_| fail(libc::EFBIG))?;
            let w = self.fs.pwrite(fd_out, &buf[..n], at)?;
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

    /// A read at offset 0 of a directory handle already read from is a
    /// `rewinddir`: snapshot the directory again.
    fn rewind(&self, ino: INodeNo, fh: FileHandle, offset: u64) -> io::Result<()> {
        let rewind = offset == 0 && self.dirs().get(&fh.0).is_some_and(|h| h.served);
        if rewind {
            let _ns = self.shared();
            let entries = self.fs.readdir(os(&self.path(ino)?))?;
            if let Some(h) = self.dirs().get_mut(&fh.0) {
                h.entries = entries;
            }
        }
        Ok(())
    }

    /// Up to [`PLUS_BATCH`] snapshot entries of handle `fh` from `offset`,
    /// each with its offset, for one `readdirplus` answer.
    fn batch(&self, fh: FileHandle, offset: u64) -> io::Result<Vec<(u64, DirEntry)>> {
        let mut dirs = self.dirs();
        let handle = dirs.get_mut(&fh.0).ok_or_else(|| fail(libc::EBADF))?;
        handle.served = true;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let batch = handle.entries.iter().enumerate().skip(start);
        Ok(batch
            .take(PLUS_BATCH)
            .map(|(i, e)| ((i + 1) as u64, e.clone()))
            .collect())
    }

    fn remove(&self, parent: INodeNo, name: &OsStr, dir: bool) -> io::Result<()> {
        let _ns = self.shared();
        let path = self.child(parent, name)?;
        let st = self.fs.lstat(os(&path))?;
        if dir {
            self.fs.rmdir(os(&path))?;
        } else {
            self.fs.unlink(os(&path))?;
        }
        self.nodes().detach(st.ino, parent.0, name.as_bytes());
        Ok(())
    }
}

impl Filesystem for ErmFuse {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        if let Err(nearest) = config.set_max_write(MAX_WRITE) {
            let _ = config.set_max_write(nearest);
        }
        if let Err(nearest) = config.set_max_readahead(MAX_WRITE) {
            let _ = config.set_max_readahead(nearest);
        }
        // KILLPRIV_V2: this file system clears set-user-ID/set-group-ID and
        // `security.capability` on write, truncate and chown (see
        // `kill_priv`), so the kernel marks the super block `SB_NOSEC` and
        // stops asking GETXATTR("security.capability") before every
        // write(2): one round trip less per write. ATOMIC_O_TRUNC: see
        // `open`. READDIRPLUS (adaptive): a listing hands out each entry's
        // attributes, so `ls -l` or `find` need no LOOKUP per name.
        // PARALLEL_DIROPS: lookups and readdirs of one directory may run at
        // once (requests share `ns`). Each is taken only if the kernel
        // offers it; the writeback cache only if asked for.
        if self.writeback {
            self.writeback = config
                .add_capabilities(InitFlags::FUSE_WRITEBACK_CACHE)
                .is_ok();
        }
        for flag in [
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_READDIRPLUS_AUTO,
            InitFlags::FUSE_ATOMIC_O_TRUNC,
            InitFlags::FUSE_HANDLE_KILLPRIV_V2,
            InitFlags::FUSE_PARALLEL_DIROPS,
        ] {
            let _ = config.add_capabilities(flag);
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let _ns = self.shared();
        match self
            .child(parent, name)
            .and_then(|p| self.entry(parent, name, &p))
        {
            Ok(a) => reply.entry(&self.ttl, &a, Generation(0)),
            // A negative entry (node 0): the kernel caches the absence for
            // the entry TTL, so the next open(O_CREAT) or stat of a missing
            // name needs no LOOKUP; creations through the mount replace it.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                reply.entry(&self.ttl, &negative(), Generation(0))
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.nodes().forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let _ns = self.shared();
        match self.target(ino, fh).and_then(|t| self.stat_target(&t)) {
            Ok(st) => reply.attr(&self.ttl, &attr(&st)),
            Err(e) => reply.error(errno(&e)),
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
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self.do_setattr(req, (ino, fh), mode, (uid, gid), size, (atime, mtime)) {
            Ok(a) => reply.attr(&self.ttl, &a),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let _ns = self.shared();
        match self.path(ino).and_then(|p| self.fs.readlink(os(&p))) {
            Ok(target) => reply.data(&target),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        // Regular files only: ERMFS stores no devices, FIFOs or sockets.
        if mode & libc::S_IFMT != libc::S_IFREG {
            return reply.error(Errno::EPERM);
        }
        self.new_entry(req, parent, name, reply, |path| {
            let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY;
            let fd = self.fs.open(os(path), flags, mode & !umask & 0o7777)?;
            self.fs.close(fd)
        });
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
        self.new_entry(req, parent, name, reply, |path| {
            self.fs.mkdir(os(path), mode & !umask & 0o7777)
        });
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        answer(reply, self.remove(parent, name, false))
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        answer(reply, self.remove(parent, name, true))
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        self.new_entry(req, parent, link_name, reply, |path| {
            self.fs.symlink(target, os(path))
        });
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        answer(
            reply,
            self.do_rename(parent, name, newparent, newname, flags),
        )
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let _ns = self.shared();
        let run = || -> io::Result<FileAttr> {
            let old = self.path(ino)?;
            let new = self.child(newparent, newname)?;
            self.fs.link(os(&old), os(&new))?;
            // The entry now resolves by the new name (the kernel counts one
            // more lookup on the inode).
            self.entry(newparent, newname, &new)
        };
        match run() {
            Ok(a) => reply.entry(&self.ttl, &a, Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let _ns = self.shared();
        let run = || -> io::Result<(i32, bool)> {
            let path = self.path(ino)?;
            // The kernel resolved the name and checked permissions; O_APPEND
            // is its job (it sends the end-of-file offset). O_TRUNC comes
            // here (ATOMIC_O_TRUNC): the store drops a closed file's blocks
            // without inflating them first, as a separate truncate would.
            let trunc = flags.0 & libc::O_TRUNC;
            let fd = self
                .fs
                .open(os(&path), self.access_mode(flags.0) | trunc, 0)?;
            if trunc != 0
                && let Err(e) = self.kill_priv(&Target::Fd(fd), req.uid() != 0)
            {
                let _ = self.fs.close(fd);
                return Err(e);
            }
            let keep = match self.fs.fstat(fd) {
                Ok(st) => self.nodes().keep_cache(ino.0, (st.mtime, st.size)),
                Err(_) => false,
            };
            self.nodes().opened(ino.0, fd);
            Ok((fd, keep))
        };
        match run() {
            Ok((fd, keep)) => {
                let flags = if keep {
                    FopenFlags::FOPEN_KEEP_CACHE | FILE_OPEN
                } else {
                    FILE_OPEN
                };
                reply.opened(FileHandle(fd as u64), flags)
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let run = || -> io::Result<Vec<u8>> {
            let fd = fd_of(fh)?;
            let mut buf = vec![0; size as usize];
            let off = i64::try_from(offset).map_err(|_| fail(libc::EINVAL))?;
            let n = self.fs.pread(fd, &mut buf, off)?;
            buf.truncate(n);
            Ok(buf)
        };
        match run() {
            Ok(buf) => reply.data(&buf),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let run = || -> io::Result<usize> {
            let off = i64::try_from(offset).map_err(|_| fail(libc::EFBIG))?;
            let fd = fd_of(fh)?;
            let n = self.fs.pwrite(fd, data, off)?;
            let suidgid = write_flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID);
            self.kill_priv(&Target::Fd(fd), suidgid)?;
            Ok(n)
        };
        match run() {
            Ok(n) => reply.written(u32::try_from(n).unwrap_or(u32::MAX)),
            Err(e) => reply.error(errno(&e)),
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
        // Writes land in ERMFS when they arrive: nothing is buffered here.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let run = || -> io::Result<()> {
            let fd = fd_of(fh)?;
            let st = self.fs.fstat(fd);
            let mut nodes = self.nodes();
            if let Ok(st) = st {
                nodes.stamp(ino.0, (st.mtime, st.size));
            }
            nodes.closed(ino.0, fd);
            drop(nodes);
            // The last close of the inode compresses it, by the policy.
            self.fs.close(fd)
        };
        answer(reply, run())
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        answer(reply, fd_of(fh).and_then(|fd| self.fs.fsync(fd)))
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let _ns = self.shared();
        let run = || -> io::Result<u64> {
            let entries = self.fs.readdir(os(&self.path(ino)?))?;
            let fh = DIR_HANDLE | self.next_dir.fetch_add(1, Ordering::Relaxed);
            let handle = DirHandle {
                entries,
                served: false,
            };
            self.dirs().insert(fh, handle);
            Ok(fh)
        };
        match run() {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if let Err(e) = self.rewind(ino, fh, offset) {
            return reply.error(errno(&e));
        }
        let mut dirs = self.dirs();
        let Some(handle) = dirs.get_mut(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        handle.served = true;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, e) in handle.entries.iter().enumerate().skip(start) {
            let name = OsStr::from_bytes(&e.name);
            if reply.add(INodeNo(e.ino), (i + 1) as u64, kind(e.kind), name) {
                break;
            }
        }
        drop(dirs);
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
        if let Err(e) = self.rewind(ino, fh, offset) {
            return reply.error(errno(&e));
        }
        let batch = match self.batch(fh, offset) {
            Ok(b) => b,
            Err(e) => return reply.error(errno(&e)),
        };
        let _ns = self.shared();
        for (off, e) in batch {
            let name = OsStr::from_bytes(&e.name);
            if e.name == b"." || e.name == b".." {
                // The kernel takes no lookup and no attributes from these.
                let mut a = negative();
                (a.ino, a.kind) = (INodeNo(e.ino), kind(e.kind));
                if reply.add(a.ino, off, name, &Duration::ZERO, &a, Generation(0)) {
                    break;
                }
                continue;
            }
            // Each child handed out with attributes counts one lookup; one
            // gone since the snapshot is left out (its offset stays used).
            let path = self.nodes().child_path(ino.0, &e.name);
            let st = path
                .and_then(|p| self.fs.lstat(os(&p)))
                .ok()
                .filter(|st| st.ino == e.ino);
            let Some(st) = st else {
                continue;
            };
            let a = attr(&st);
            if reply.add(a.ino, off, name, &self.ttl, &a, Generation(0)) {
                break;
            }
            self.nodes().remember(st.ino, ino.0, &e.name);
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
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
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
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
        if position != 0 {
            return reply.error(Errno::EINVAL);
        }
        let _ns = self.shared();
        let name = name.as_bytes();
        let run = || match self.target(ino, None)? {
            Target::Path(p) => self.fs.setxattr(os(&p), name, value, flags),
            Target::Fd(fd) => self.fs.fsetxattr(fd, name, value, flags),
        };
        answer(reply, run())
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let _ns = self.shared();
        let name = name.as_bytes();
        let mut buf = vec![0; size as usize];
        let run = |buf: &mut [u8]| match self.target(ino, None)? {
            Target::Path(p) => self.fs.getxattr(os(&p), name, buf),
            Target::Fd(fd) => self.fs.fgetxattr(fd, name, buf),
        };
        xattr_reply(run(&mut buf), size, &buf, reply);
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let _ns = self.shared();
        let mut buf = vec![0; size as usize];
        let run = |buf: &mut [u8]| match self.target(ino, None)? {
            Target::Path(p) => self.fs.listxattr(os(&p), buf),
            Target::Fd(fd) => self.fs.flistxattr(fd, buf),
        };
        xattr_reply(run(&mut buf), size, &buf, reply);
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _ns = self.shared();
        let name = name.as_bytes();
        let run = || match self.target(ino, None)? {
            Target::Path(p) => self.fs.removexattr(os(&p), name),
            Target::Fd(fd) => self.fs.fremovexattr(fd, name),
        };
        answer(reply, run())
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        let _ns = self.shared();
        let who = Identity::new(req.uid(), req.gid());
        let result = self
            .path(ino)
            .and_then(|p| self.fs.access(os(&p), mask.bits(), &who));
        answer(reply, result);
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
        let _ns = self.shared();
        let run = || -> io::Result<(FileAttr, i32)> {
            let path = self.child(parent, name)?;
            let open =
                self.access_mode(flags) | (flags & (libc::O_EXCL | libc::O_TRUNC)) | libc::O_CREAT;
            let fd = self.fs.open(os(&path), open, mode & !umask & 0o7777)?;
            let st = match self.own(&path, req).and_then(|()| self.fs.fstat(fd)) {
                Ok(st) => st,
                Err(e) => {
                    let _ = self.fs.close(fd);
                    return Err(e);
                }
            };
            let mut nodes = self.nodes();
            nodes.remember(st.ino, parent.0, name.as_bytes());
            nodes.opened(st.ino, fd);
            Ok((attr(&st), fd))
        };
        match run() {
            Ok((a, fd)) => reply.created(
                &self.ttl,
                &a,
                Generation(0),
                FileHandle(fd as u64),
                FILE_OPEN,
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let run = || -> io::Result<()> {
            let off = i64::try_from(offset).map_err(|_| fail(libc::EFBIG))?;
            let len = i64::try_from(length).map_err(|_| fail(libc::EFBIG))?;
            self.fs.fallocate(fd_of(fh)?, mode, off, len)
        };
        answer(reply, run())
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
        if !flags.is_empty() {
            return reply.error(Errno::EINVAL);
        }
        match self.copy_range(fh_in, offset_in, fh_out, offset_out, len) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(errno(&e)),
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
        // Only SEEK_DATA/SEEK_HOLE reach here (the kernel does the rest);
        // the ERMFS descriptor's own offset is unused (reads are positioned).
        match fd_of(fh).and_then(|fd| self.fs.lseek(fd, offset, whence)) {
            Ok(off) => reply.offset(off),
            Err(e) => reply.error(errno(&e)),
        }
    }
}

/// Answers a getxattr/listxattr: the size for a size query, else the bytes.
fn xattr_reply(result: io::Result<usize>, size: u32, buf: &[u8], reply: ReplyXattr) {
    match result {
        Ok(n) if size == 0 => reply.size(u32::try_from(n).unwrap_or(u32::MAX)),
        Ok(n) => reply.data(&buf[..n.min(buf.len())]),
        Err(e) => reply.error(errno(&e)),
    }
}
