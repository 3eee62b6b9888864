//! The path calls on links: `symlink`, `readlink`, `link`, and the
//! `l`-forms that act on a symlink itself.

use crate::api::fs::Fs;
use crate::content::stamps::set_times;
use crate::namespace::node::{Node, check_target};
use crate::namespace::path::parse;
use crate::namespace::walk::Follow;
use crate::sync::lock;
use crate::types::inode::Inode;
use crate::types::perm::set_owner;
use crate::types::stat::{Stat, stat_of};
use crate::types::times::TimeSpec;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

impl Fs {
    /// Makes `new` one more name of the file (or symlink) `old`, as
    /// `link(2)` (`linkat` without `AT_SYMLINK_FOLLOW`: a symlink `old`
    /// is linked itself, not followed). Both names then show the same
    /// inode, whose `nlink` counts them; the content lives until the last
    /// name and the last descriptor are gone. Sets the file's `ctime` and
    /// the directory's `mtime` and `ctime`.
    ///
    /// ```
    /// let fs = ermfs::Fs::new();
    /// fs.write_file("/a", b"data")?;
    /// fs.link("/a", "/b")?;
    /// fs.unlink("/a")?;
    /// assert_eq!(fs.read_file("/b")?, b"data");
    /// assert_eq!(fs.stat("/b")?.nlink, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// In Linux's order: the path errors of `old` (`ENOENT`, `ENOTDIR`,
    /// `ELOOP`, `ENAMETOOLONG`, `EINVAL`), then of `new`'s parent;
    /// `EEXIST` if `new` exists (`/`, `.` and `..` included); `ENOENT` if
    /// `new` ends in `/` or its directory was removed; `EPERM` if `old` is
    /// a directory; `EMLINK` at `u32::MAX` names; `ENOSPC` if the registry
    /// is full.
    pub fn link(&self, old: impl AsRef<Path>, new: impl AsRef<Path>) -> io::Result<()> {
        let (po, pn) = (parse(old.as_ref())?, parse(new.as_ref())?);
        let inner = &self.inner;
        let _ns = lock(&inner.ns);
        let src = inner.resolve_parsed(&po, Follow::No, &|_: &Inode| Ok(()))?;
        let p = inner.resolve_parent(&pn)?;
        let name = inner.new_entry(&p)?;
        inner.link_in(&src, p.dir(), name)
    }

    /// Creates the symlink `path` pointing to `target`, as `symlink(2)`:
    /// any bytes (the target need not exist; a relative one is resolved
    /// against the link's directory when followed). Its mode is `0o777`,
    /// its size the target's length, charged to the memory limit.
    ///
    /// ```
    /// let fs = ermfs::Fs::new();
    /// fs.mkdir("/d", 0o755)?;
    /// fs.write_file("/d/f", b"hi")?;
    /// fs.symlink("f", "/d/l")?;
    /// assert_eq!(fs.read_file("/d/l")?, b"hi");
    /// assert_eq!(fs.readlink("/d/l")?, b"f");
    /// assert!(fs.lstat("/d/l")?.kind == ermfs::FileType::Symlink);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `ENOENT` for an empty `target` (checked first, as Linux), `EINVAL`
    /// for a NUL in it, `ENAMETOOLONG` past [`PATH_MAX`](crate::PATH_MAX) bytes; then the
    /// path errors of `path`'s parent; `EEXIST` if `path` exists (a
    /// dangling symlink too); `ENOENT` if `path` ends in `/` or its
    /// directory was removed; `ENOSPC` over the memory limit or with the
    /// registry full.
    pub fn symlink(&self, target: impl AsRef<Path>, path: impl AsRef<Path>) -> io::Result<()> {
        let target = target.as_ref().as_os_str().as_bytes();
        check_target(target)?;
        let parsed = parse(path.as_ref())?;
        let inner = &self.inner;
        let _ns = lock(&inner.ns);
        let p = inner.resolve_parent(&parsed)?;
        let name = inner.new_entry(&p)?;
        inner
            .symlink_in(p.dir(), name, target, inner.owner_identity())
            .map(drop)
    }

    /// The target of the symlink `path` (the link itself, not followed).
    ///
    /// # Errors
    /// `EINVAL` if `path` is not a symlink (a path ending in `/` follows
    /// it, so that too); the path errors of [`stat`](Fs::stat).
    pub fn readlink(&self, path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        let link = self.inner.resolve_as(path.as_ref(), Follow::No)?;
        Ok(self.inner.target(&link)?.to_vec())
    }

    /// The target of the symlink `node` (its `atime` moved by the store's
    /// policy, as [`readlink`](Fs::readlink)).
    ///
    /// # Errors
    /// `EINVAL` if `node` is not a symlink.
    pub fn readlink_node(&self, node: &Node) -> io::Result<Vec<u8>> {
        Ok(self.inner.target(&node.inode)?.to_vec())
    }

    /// Metadata of `path` itself: as [`stat`](Fs::stat), but a symlink as
    /// the last component is reported, not followed (unless the path ends
    /// in `/`, as on Linux).
    ///
    /// # Errors
    /// As [`stat`](Fs::stat).
    pub fn lstat(&self, path: impl AsRef<Path>) -> io::Result<Stat> {
        let inode = self.inner.resolve_as(path.as_ref(), Follow::No)?;
        Ok(stat_of(&inode, self.inner.shared.atime_policy()))
    }

    /// [`chown`](Fs::chown) of `path` itself: a symlink as the last
    /// component is changed, not followed (`lchown(2)`).
    ///
    /// # Errors
    /// As [`lstat`](Fs::lstat).
    pub fn lchown(&self, path: impl AsRef<Path>, uid: u32, gid: u32) -> io::Result<()> {
        let inode = self.inner.resolve_as(path.as_ref(), Follow::No)?;
        set_owner(
            &self.inner.shared.clock,
            self.inner.owner_identity(),
            &inode,
            uid,
            gid,
        );
        Ok(())
    }

    /// [`utimens`](Fs::utimens) of `path` itself: a symlink as the last
    /// component is changed, not followed (`utimensat` with
    /// `AT_SYMLINK_NOFOLLOW`).
    ///
    /// # Errors
    /// As [`lstat`](Fs::lstat) (none with both times [`TimeSpec::Omit`]).
    pub fn lutimens(
        &self,
        path: impl AsRef<Path>,
        atime: TimeSpec,
        mtime: TimeSpec,
    ) -> io::Result<()> {
        if atime == TimeSpec::Omit && mtime == TimeSpec::Omit {
            return Ok(());
        }
        let inode = self.inner.resolve_as(path.as_ref(), Follow::No)?;
        set_times(&self.inner.shared, &inode, atime, mtime);
        Ok(())
    }
}
