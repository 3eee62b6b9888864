//! Names: `mkdir`, `rmdir`, `unlink`, `rename`, `stat`, `readdir`, `exists`
//! (hard and symbolic links: `links.rs`).
//!
//! Every change runs under the namespace lock (`Inner::ns`), touching the
//! registry and the directories' child lists together; lookups take no
//! namespace lock.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use erm_registry::Registry;

use crate::child::ChildName;
use crate::errno::{err, fail};
use crate::fs::{Fs, Inner, Last};
use crate::inode::{Body, Content, FileType, Inode};
use crate::name::Name;
use crate::path::parse;
use crate::stats::{add, sub};
use crate::sync::{Ordering, lock, read, write};
use crate::times::{atime_due, set_atime};

/// What `stat`/`fstat` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Inode number (unique within one [`Fs`], never reused).
    pub ino: u64,
    /// File type.
    pub kind: FileType,
    /// `st_mode`: `S_IFREG`, `S_IFDIR` or `S_IFLNK` with the permission
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

fn is_empty_dir(dir: &Inode) -> bool {
    matches!(&read(&dir.state).body, Body::Dir(d) if d.children.is_empty())
}

impl Inner {
    /// Creates `name` in `dir` under the namespace lock (held by the caller).
    pub(crate) fn create(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        kind: FileType,
        perm: u32,
    ) -> io::Result<Arc<Inode>> {
        let body = match kind {
            FileType::File => Body::File(Content::Raw(erm_alloc::Region::new(&self.shared.budget))),
            FileType::Dir => Body::Dir(Default::default()),
            FileType::Symlink => return fail(libc::EINVAL), // made by `add`
        };
        self.add(dir, name, kind, perm, body)
    }

    /// Creates `name` in `dir` holding `body` of type `kind` (a symlink's
    /// mode is `0o777`, whatever `perm` and the umask say).
    pub(crate) fn add(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        kind: FileType,
        perm: u32,
        body: Body,
    ) -> io::Result<Arc<Inode>> {
        if dir.nlink() == 0 {
            return fail(libc::ENOENT); // the directory was removed
        }
        // Linux's `inode_init_owner`: a set-group-ID directory passes its
        // group on, and its set-group-ID bit to subdirectories.
        let (uid, mut gid) = self.owner;
        let mut perm = match kind {
            FileType::Symlink => 0o777,
            _ => perm & !self.umask & 0o7777,
        };
        if dir.perm() & libc::S_ISGID != 0 {
            gid = dir.owner().1;
            if kind == FileType::Dir {
                perm |= libc::S_ISGID;
            }
        }
        let now = self.shared.clock.now();
        let inode = Arc::new(Inode::new(
            self.alloc_ino(),
            kind,
            perm,
            dir.ino,
            body,
            (uid, gid),
            now,
        ));
        // EEXIST if the name is taken, ENOSPC if the registry is full.
        self.names
            .load()
            .insert_if_absent(Name::new(dir.ino, name)?, Arc::clone(&inode))
            .map_err(io::Error::from)?;
        set_child(dir, name, true, now);
        match kind {
            FileType::File => add(&self.shared.counters.files, 1),
            FileType::Dir => {
                dir.nlink.fetch_add(1, Ordering::AcqRel);
                add(&self.shared.counters.dirs, 1);
            }
            FileType::Symlink => add(&self.shared.counters.symlinks, 1),
        }
        Ok(inode)
    }

    /// Counts one name of `inode` gone (the name is already out of the
    /// registry); at a file's last name, frees what nobody holds open.
    fn drop_link(&self, parent: &Inode, inode: &Inode) {
        let last = match inode.kind() {
            FileType::Dir => {
                inode.nlink.store(0, Ordering::Release);
                parent.nlink.fetch_sub(1, Ordering::AcqRel);
                sub(&self.shared.counters.dirs, 1);
                true
            }
            // Other hard links may remain: only the last name frees. Every
            // change of `nlink` runs under the namespace lock, so it never
            // goes below 0; `release` reads it under the inode's lock.
            _ if inode.nlink.fetch_sub(1, Ordering::AcqRel) > 1 => false,
            FileType::File => {
                sub(&self.shared.counters.files, 1);
                self.shared.free_if_unused(inode);
                true
            }
            FileType::Symlink => {
                sub(&self.shared.counters.symlinks, 1);
                self.drop_target(inode);
                true
            }
        };
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
        let _ns = lock(&inner.ns);
        let p = inner.resolve_parent(&parsed)?;
        let Last::Name(name) = p.last else {
            return fail(libc::EEXIST);
        };
        // As Linux's `vfs_mkdir`: no set-user-ID or set-group-ID bit from
        // `mode` (a set-group-ID parent passes its own on).
        inner
            .create(p.dir(), name, FileType::Dir, mode & 0o1777)
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
        let _ns = lock(&inner.ns);
        let p = inner.resolve_parent(&parsed)?;
        let name = match p.last {
            Last::Root => return fail(libc::EBUSY),
            Last::Dot => return fail(libc::EINVAL),
            Last::DotDot => return fail(libc::ENOTEMPTY),
            Last::Name(name) => name,
        };
        let dir = p.dir();
        let victim = inner.child(dir, name)?.ok_or_else(|| err(libc::ENOENT))?;
        if !victim.is_dir() {
            return fail(libc::ENOTDIR);
        }
        if !is_empty_dir(&victim) {
            return fail(libc::ENOTEMPTY);
        }
        inner.names.load().remove(&Name::new(dir.ino, name)?);
        set_child(dir, name, false, inner.shared.clock.now());
        inner.drop_link(dir, &victim);
        Ok(())
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
        let _ns = lock(&inner.ns);
        let p = inner.resolve_parent(&parsed)?;
        let Last::Name(name) = p.last else {
            return fail(libc::EISDIR);
        };
        let dir = p.dir();
        let victim = inner.child(dir, name)?.ok_or_else(|| err(libc::ENOENT))?;
        if victim.is_dir() {
            return fail(libc::EISDIR);
        }
        if p.trailing_slash {
            return fail(libc::ENOTDIR);
        }
        inner.names.load().remove(&Name::new(dir.ino, name)?);
        set_child(dir, name, false, inner.shared.clock.now());
        inner.drop_link(dir, &victim);
        Ok(())
    }

    /// Renames `from` to `to` with POSIX semantics: an existing target is
    /// replaced atomically (the name `to` never vanishes), a directory moves
    /// with its whole subtree (one registry entry changes).
    ///
    /// # Errors
    /// `ENOENT` if `from` is missing; `EISDIR` for a file over a directory;
    /// `ENOTDIR` for a directory over a file (or a file path ending in `/`);
    /// `ENOTEMPTY` over a non-empty directory or over an ancestor of `from`
    /// (a file too, as Linux); `EINVAL` when moving a directory into its own
    /// subtree; `EBUSY` for `/`, `.` or `..`.
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        let (pf, pt) = (parse(from.as_ref())?, parse(to.as_ref())?);
        let inner = &self.inner;
        let _ns = lock(&inner.ns);
        let src_p = inner.resolve_parent(&pf)?;
        let dst_p = inner.resolve_parent(&pt)?;
        let (Last::Name(src_name), Last::Name(dst_name)) = (&src_p.last, &dst_p.last) else {
            return fail(libc::EBUSY);
        };
        let (src_dir, dst_dir) = (src_p.dir(), dst_p.dir());
        let src = inner
            .child(src_dir, src_name)?
            .ok_or_else(|| err(libc::ENOENT))?;
        if !src.is_dir() && (src_p.trailing_slash || dst_p.trailing_slash) {
            return fail(libc::ENOTDIR);
        }
        // Linux's order (`do_renameat2`): the source must not be an ancestor
        // of the target (EINVAL), then the target must not be an ancestor of
        // the source (ENOTEMPTY, whatever the source's type), then the types.
        if dst_p.chain.iter().any(|a| Arc::ptr_eq(a, &src)) {
            return fail(libc::EINVAL);
        }
        let dst = inner.child(dst_dir, dst_name)?;
        if let Some(dst) = &dst {
            if src_p.chain.iter().any(|a| Arc::ptr_eq(a, dst)) {
                return fail(libc::ENOTEMPTY);
            }
            if Arc::ptr_eq(dst, &src) {
                return Ok(());
            }
            match (src.is_dir(), dst.is_dir()) {
                (false, true) => return fail(libc::EISDIR),
                (true, false) => return fail(libc::ENOTDIR),
                (true, true) if !is_empty_dir(dst) => return fail(libc::ENOTEMPTY),
                _ => {}
            }
        }
        let names = inner.names.load();
        let (src_key, dst_key) = (
            Name::new(src_dir.ino, src_name)?,
            Name::new(dst_dir.ino, dst_name)?,
        );
        match &dst {
            // The target name switches from the old inode to the new one in
            // one step: a lookup sees one or the other, never nothing.
            Some(_) => {
                names.replace(&dst_key, Arc::clone(&src));
            }
            None => names
                .insert_if_absent(dst_key, Arc::clone(&src))
                .map_err(io::Error::from)?,
        }
        names.remove_if(&src_key, &src);
        let now = inner.shared.clock.now();
        set_child(src_dir, src_name, false, now);
        set_child(dst_dir, dst_name, true, now);
        if src.is_dir() && !Arc::ptr_eq(src_dir, dst_dir) {
            src_dir.nlink.fetch_sub(1, Ordering::AcqRel);
            dst_dir.nlink.fetch_add(1, Ordering::AcqRel);
        }
        let mut st = write(&src.state);
        st.ctime = now.into();
        if let Body::Dir(moved) = &mut st.body {
            moved.parent = dst_dir.ino;
        }
        drop(st);
        if let Some(dst) = dst {
            inner.drop_link(dst_dir, &dst);
        }
        Ok(())
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
        let inner = &self.inner;
        let dir = inner.resolve(path.as_ref())?;
        let (names, parent, due): (Vec<ChildName>, _, _) = {
            let st = read(&dir.state);
            match &st.body {
                Body::Dir(d) => (
                    d.children.iter().cloned().collect(),
                    d.parent,
                    atime_due(&st, &inner.shared),
                ),
                Body::File(_) | Body::Symlink(_) => return fail(libc::ENOTDIR),
            }
        };
        if let Some(now) = due {
            set_atime(&dir, now);
        }
        let mut out = vec![
            DirEntry {
                name: b".".to_vec(),
                ino: dir.ino,
                kind: FileType::Dir,
            },
            DirEntry {
                name: b"..".to_vec(),
                ino: parent,
                kind: FileType::Dir,
            },
        ];
        for name in names {
            // A name removed since the snapshot is skipped.
            if let Some(child) = inner.child(&dir, name.as_bytes())? {
                out.push(DirEntry {
                    name: name.as_bytes().to_vec(),
                    ino: child.ino,
                    kind: child.kind(),
                });
            }
        }
        Ok(out)
    }
}
