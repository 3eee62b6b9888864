//! Names: `mkdir`, `rmdir`, `unlink`, `rename`, `stat`, `readdir`, `exists`
//! (hard and symbolic links: `links.rs`).
//!
//! Every change runs under the namespace lock (`Inner::ns`), touching the
//! registry and the directories' child lists together; lookups take no
//! namespace lock.

use std::io;
use std::path::Path;
use std::time::SystemTime;

use crate::child::ChildName;
use crate::errno::fail;
use crate::fs::{Fs, Inner, Last};
use crate::inode::{Body, FileType, Inode};
use crate::node::{Make, RenameFlags};
use crate::path::parse;
use crate::sync::{Ordering, lock, read, write};

/// What `stat`/`fstat` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Inode number (unique within one [`Fs`], never reused).
    pub ino: u64,
    /// File type.
    pub kind: FileType,
    /// `st_mode`: the type bits (`S_IFREG`, `S_IFDIR`, `S_IFLNK`,
    /// `S_IFIFO`, `S_IFCHR`, `S_IFBLK`, `S_IFSOCK`) with the permission
    /// bits (`0o777` for a symlink).
    pub mode: u32,
    /// Owner user ID.
    pub uid: u32,
    /// Owner group ID.
    pub gid: u32,
    /// Link count: a file's or symlink's names (0 once all are unlinked), 2
    /// plus subdirectories for a directory.
    pub nlink: u32,
    /// Size in bytes (directories: 0; symlinks: the target's length).
    pub size: u64,
    /// Memory held, in 512-byte units (raw capacity, or the compressed stream
    /// once the file is closed; this is where ERMFS differs from tmpfs).
    pub blocks: u64,
    /// Preferred I/O size.
    pub blksize: u32,
    /// The device a character or block device node stands for (0 for
    /// anything else), as `libc::makedev` encodes it.
    pub rdev: u64,
    /// Last access: reads update it `relatime`-style (see [`Fs::utimens`]).
    pub atime: SystemTime,
    /// Last content change.
    pub mtime: SystemTime,
    /// Last content or metadata change.
    pub ctime: SystemTime,
    /// Creation (birth) time.
    pub btime: SystemTime,
}

/// One `readdir` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name bytes (`.` and `..` included).
    pub name: Vec<u8>,
    /// Inode number.
    pub ino: u64,
    /// File type.
    pub kind: FileType,
}

pub(crate) fn stat_of(inode: &Inode) -> Stat {
    let st = read(&inode.state);
    let (size, resident) = match &st.body {
        Body::File(c) => (c.len(), c.resident()),
        Body::Dir(_) => (0, 0),
        Body::Symlink(target) => (target.len() as u64, target.len() as u64),
        Body::Special(_) => (0, 0),
    };
    let rdev = match st.body {
        Body::Special(rdev) => rdev,
        _ => 0,
    };
    let (uid, gid) = inode.owner();
    Stat {
        ino: inode.ino,
        kind: inode.kind(),
        mode: inode.mode(),
        uid,
        gid,
        nlink: inode.nlink(),
        size,
        blocks: resident.div_ceil(512),
        blksize: 4096,
        rdev,
        atime: st.atime.into(),
        mtime: st.mtime.into(),
        ctime: st.ctime.into(),
        btime: inode.btime.into(),
    }
}

/// Adds or removes `name` in directory `dir`'s child list and touches its
/// times (set to `now`).
pub(crate) fn set_child(dir: &Inode, name: &[u8], present: bool, now: SystemTime) {
    let mut st = write(&dir.state);
    if let Body::Dir(d) = &mut st.body {
        if present {
            d.children.insert(ChildName::new(name));
        } else {
            d.children.remove(name);
        }
    }
    st.mtime = now.into();
    st.ctime = st.mtime;
}

/// Sets directory `dir`'s `mtime` and `ctime` to `now` (an entry in it
/// changed without a name coming or going: an exchange, a whiteout).
pub(crate) fn touch_dir(dir: &Inode, now: SystemTime) {
    let mut st = write(&dir.state);
    st.mtime = now.into();
    st.ctime = st.mtime;
}

impl Inner {
    /// Counts one name of `inode` gone (the name is already out of the
    /// registry); at a file's last name, frees what nobody holds open.
    pub(crate) fn drop_link(&self, parent: &Inode, inode: &Inode) {
        let last = match inode.kind() {
            FileType::Dir => {
                inode.nlink.store(0, Ordering::Release);
                parent.nlink.fetch_sub(1, Ordering::AcqRel);
                true
            }
            // Other hard links may remain: only the last name frees. Every
            // change of `nlink` runs under the namespace lock, so it never
            // goes below 0; `release` reads it under the inode's lock.
            _ => inode.nlink.fetch_sub(1, Ordering::AcqRel) == 1,
        };
        if last {
            self.count(inode, -1);
            if let Some(index) = &self.inos {
                index.remove(inode.ino);
            }
            match inode.kind() {
                FileType::File => self.shared.free_if_unused(inode),
                FileType::Symlink => self.drop_target(inode),
                _ => {}
            }
        }
        let mut st = write(&inode.state);
        st.ctime = self.shared.clock.now().into();
        if last && inode.kind() != FileType::File {
            // A removed directory's attributes are credited now (an open
            // descriptor of it then sees none), not when a lockless table
            // reclaims the inode.
            st.xattrs = None;
        }
    }
}

impl Fs {
    /// Creates directory `path` with permission bits `mode & 0o1777`, less
    /// the umask ([`FsBuilder::umask`](crate::FsBuilder::umask)).
    ///
    /// # Errors
    /// `EEXIST` if the name exists (`/`, `.` and `..` included), `ENOENT` for
    /// a missing parent, `ENOTDIR` where a component is a file, plus the path
    /// errors of [`open`](Fs::open).
    pub fn mkdir(&self, path: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let parsed = parse(path.as_ref())?;
        let inner = &self.inner;
        let p = inner.resolve_parent(&parsed)?;
        let Last::Name(name) = p.last else {
            return fail(libc::EEXIST);
        };
        // As Linux's `vfs_mkdir`: no set-user-ID or set-group-ID bit from
        // `mode` (a set-group-ID parent passes its own on).
        let make = Make {
            kind: FileType::Dir,
            perm: mode & 0o1777,
            umask: inner.umask,
            rdev: 0,
        };
        inner
            .mknod_in(p.dir(), name, make, &inner.owner_identity())
            .map(drop)
    }

    /// Removes the empty directory `path`.
    ///
    /// # Errors
    /// `ENOTEMPTY` if it has entries (or the path ends in `..`), `ENOTDIR` if
    /// it is a file, `ENOENT` if missing, `EBUSY` for `/`, `EINVAL` for a
    /// path ending in `.`.
    pub fn rmdir(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let parsed = parse(path.as_ref())?;
        let inner = &self.inner;
        let p = inner.resolve_parent(&parsed)?;
        let name = match p.last {
            Last::Root => return fail(libc::EBUSY),
            Last::Dot => return fail(libc::EINVAL),
            Last::DotDot => return fail(libc::ENOTEMPTY),
            Last::Name(name) => name,
        };
        let _ns = lock(&inner.ns);
        inner.remove_in(p.dir(), name, true, false)
    }

    /// Removes the file name `path`. An open file keeps its content until its
    /// last descriptor closes; then it is freed.
    ///
    /// # Errors
    /// `EISDIR` for a directory, `ENOENT` if missing, `ENOTDIR` where a
    /// component is a file or the path ends in `/`.
    pub fn unlink(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let parsed = parse(path.as_ref())?;
        let inner = &self.inner;
        let p = inner.resolve_parent(&parsed)?;
        let Last::Name(name) = p.last else {
            return fail(libc::EISDIR);
        };
        let _ns = lock(&inner.ns);
        inner.remove_in(p.dir(), name, false, p.trailing_slash)
    }

    /// Renames `from` to `to` with POSIX semantics: an existing target is
    /// replaced atomically (the name `to` never vanishes), a directory moves
    /// with its whole subtree (one registry entry changes). The node form,
    /// with Linux's `RENAME_*` flags, is [`renameat2`](Fs::renameat2).
    ///
    /// # Errors
    /// `ENOENT` if `from` is missing; `EISDIR` for a file over a directory;
    /// `ENOTDIR` for a directory over a file (or a file path ending in `/`);
    /// `ENOTEMPTY` over a non-empty directory or over an ancestor of `from`
    /// (a file too, as Linux); `EINVAL` when moving a directory into its own
    /// subtree; `EBUSY` for `/`, `.` or `..`.
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        self.rename_with_flags(from, to, RenameFlags::NONE)
    }

    /// [`rename`](Fs::rename) with Linux's `RENAME_*` flags, as
    /// `renameat2(2)` on paths (see [`renameat2`](Fs::renameat2), its node
    /// form, for what each flag does); the store's owner is the caller.
    ///
    /// # Errors
    /// As [`rename`](Fs::rename) and [`renameat2`](Fs::renameat2).
    pub fn rename_with_flags(
        &self,
        from: impl AsRef<Path>,
        to: impl AsRef<Path>,
        flags: RenameFlags,
    ) -> io::Result<()> {
        let inner = &self.inner;
        crate::node::check_rename_flags(flags)?;
        let (pf, pt) = (parse(from.as_ref())?, parse(to.as_ref())?);
        let src_p = inner.resolve_parent(&pf)?;
        let dst_p = inner.resolve_parent(&pt)?;
        // `/`, `.` or `..` on either side: the node call answers for the
        // dots (EBUSY, or EEXIST for a target with NOREPLACE).
        fn name_of<'a>(last: &Last<'a>) -> &'a [u8] {
            match last {
                Last::Name(name) => name,
                Last::Dot | Last::Root => b".",
                Last::DotDot => b"..",
            }
        }
        let (src_name, dst_name) = (name_of(&src_p.last), name_of(&dst_p.last));
        inner.rename_in(
            src_p.dir(),
            src_name,
            dst_p.dir(),
            dst_name,
            flags,
            &inner.owner_identity(),
            (src_p.trailing_slash, dst_p.trailing_slash),
        )
    }

    /// Makes the node `path` as `mknod(2)`: a FIFO (`S_IFIFO`), socket
    /// (`S_IFSOCK`), regular file (`S_IFREG` or 0), or, when the store's
    /// owner is root, a character or block device `rdev` (`S_IFCHR`,
    /// `S_IFBLK`); permission bits `mode & 0o7777` less the umask. Opening
    /// a FIFO, device or socket in-process gives `ENXIO` (nothing serves
    /// it here; a FUSE mount hands them to the kernel).
    ///
    /// # Errors
    /// As [`mknodat`](Fs::mknodat), plus the path errors of
    /// [`mkdir`](Fs::mkdir).
    pub fn mknod(&self, path: impl AsRef<Path>, mode: u32, rdev: u64) -> io::Result<()> {
        let kind = crate::node::mknod_kind(mode)?;
        let parsed = parse(path.as_ref())?;
        let inner = &self.inner;
        let who = inner.owner_identity();
        let _ns = lock(&inner.ns);
        let p = inner.resolve_parent(&parsed)?;
        let name = inner.new_entry(&p)?;
        if crate::node::needs_mknod_cap(kind, rdev) && !who.is_root() {
            return fail(libc::EPERM);
        }
        let make = Make {
            kind,
            perm: mode & 0o7777,
            umask: inner.umask,
            rdev,
        };
        inner.make_in(p.dir(), name, make, &who).map(drop)
    }

    /// Makes the FIFO `path`: [`mknod`](Fs::mknod) with `S_IFIFO`.
    ///
    /// # Errors
    /// As [`mknod`](Fs::mknod).
    pub fn mkfifo(&self, path: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        self.mknod(path, libc::S_IFIFO | (mode & 0o7777), 0)
    }

    /// Metadata of `path`.
    ///
    /// # Errors
    /// `ENOENT`, `ENOTDIR` and the path errors of [`open`](Fs::open).
    pub fn stat(&self, path: impl AsRef<Path>) -> io::Result<Stat> {
        Ok(stat_of(&*self.inner.resolve(path.as_ref())?))
    }

    /// Whether `path` names something.
    pub fn exists(&self, path: impl AsRef<Path>) -> bool {
        self.inner.resolve(path.as_ref()).is_ok()
    }

    /// The entries of directory `path`: `.` and `..` first, then the
    /// children in byte order of their names (a snapshot).
    ///
    /// # Errors
    /// `ENOTDIR` for a file, `ENOENT`, and the path errors of [`open`](Fs::open).
    pub fn readdir(&self, path: impl AsRef<Path>) -> io::Result<Vec<DirEntry>> {
        self.opendir(path)?.collect()
    }
}
