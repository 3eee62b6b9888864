//! The path calls on names: `mkdir`, `rmdir`, `unlink`, `rename`,
//! `mknod`, `mkfifo`, `stat`, `readdir`, `exists` (hard and symbolic
//! links: `links.rs`). Each is a walk plus one namespace call.
//!
//! Every change runs under the namespace lock (`Namespace::ns`), touching
//! the registry and the directories' child lists together; lookups take no
//! namespace lock.

use crate::api::fs::Fs;
use crate::namespace::node::{Make, RenameFlags};
use crate::namespace::path::parse;
use crate::namespace::walk::Last;
use crate::sync::lock;
use crate::types::errno::fail;
use crate::types::inode::FileType;
use crate::types::stat::{DirEntry, Stat, stat_of};
use std::io;
use std::path::Path;

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
            .mknod_in(p.dir(), name, make, inner.owner_identity())
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
        crate::namespace::node::check_rename_flags(flags)?;
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
            inner.owner_identity(),
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
        let kind = crate::namespace::node::mknod_kind(mode)?;
        let parsed = parse(path.as_ref())?;
        let inner = &self.inner;
        let who = inner.owner_identity();
        let _ns = lock(&inner.ns);
        let p = inner.resolve_parent(&parsed)?;
        let name = inner.new_entry(&p)?;
        if crate::namespace::node::needs_mknod_cap(kind, rdev) && !who.is_root() {
            return fail(libc::EPERM);
        }
        let make = Make {
            kind,
            perm: mode & 0o7777,
            umask: inner.umask,
            rdev,
        };
        inner.make_in(p.dir(), name, make, who).map(drop)
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
        let inode = self.inner.resolve(path.as_ref())?;
        Ok(stat_of(&inode, self.inner.shared.atime_policy()))
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
