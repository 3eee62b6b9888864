//! Hard and symbolic links: `link`, `symlink`, `readlink`, `lstat`, and
//! the calls that change a symlink itself, `lchown` and `lutimens`.
//!
//! A hard link is one more registry entry for the same inode: `nlink`
//! counts the names of a file or symlink, and a file's content is freed
//! when the last name and the last open description are both gone (the
//! name side in `Inner::drop_link`, the descriptor side in
//! `Shared::release`). A symlink is an inode holding its target's bytes;
//! the path walk (`Inner::walk_on`) follows it.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use erm_registry::Registry;

use crate::errno::fail;
use crate::fs::{Follow, Fs, Inner, Last, MAX_SYMLINKS, ParentOf};
use crate::inode::{Body, FileType, Inode};
use crate::name::Name;
use crate::namespace::{Stat, set_child, stat_of};
use crate::path::{PATH_MAX, parse};
use crate::perm::set_owner;
use crate::sync::{Ordering, lock, read, write};
use crate::times::{TimeSpec, set_times};
use crate::times::{atime_due, set_atime};

/// Counts one more symlink followed in a resolution: `ELOOP` past
/// [`MAX_SYMLINKS`].
pub(crate) fn hop(hops: &mut u32) -> io::Result<()> {
    *hops += 1;
    if *hops > MAX_SYMLINKS {
        return fail(libc::ELOOP);
    }
    Ok(())
}

impl Inner {
    /// The target of symlink `link` (`EINVAL` for anything else). Reading
    /// it moves its access time `relatime`-style, as following or reading
    /// a link does on Linux.
    pub(crate) fn target(&self, link: &Inode) -> io::Result<Arc<[u8]>> {
        let (target, due) = {
            let st = read(&link.state);
            let Body::Symlink(target) = &st.body else {
                return fail(libc::EINVAL);
            };
            (Arc::clone(target), atime_due(&st, &self.shared))
        };
        if let Some(now) = due {
            set_atime(link, now);
        }
        Ok(target)
    }

    /// Credits the target of symlink `link`, whose last name is gone (the
    /// bytes stay until the inode drops, so a walk still holding the
    /// inode reads them).
    pub(crate) fn drop_target(&self, link: &Inode) {
        if let Body::Symlink(target) = &read(&link.state).body {
            self.shared.budget.credit(target.len());
        }
    }

    /// Checks that a new entry may be made at `p` (the namespace lock
    /// held), in Linux's order (`filename_create`, `may_create`), and
    /// returns its name.
    fn new_entry<'a>(&self, p: &ParentOf<'a>) -> io::Result<&'a [u8]> {
        let Last::Name(name) = p.last else {
            return fail(libc::EEXIST); // `/`, `.`, `..`
        };
        if self.child(p.dir(), name)?.is_some() {
            return fail(libc::EEXIST);
        }
        // A missing name with a trailing `/` asked for a directory.
        if p.trailing_slash || p.dir().nlink() == 0 {
            return fail(libc::ENOENT);
        }
        Ok(name)
    }
}

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
        if src.is_dir() {
            return fail(libc::EPERM);
        }
        if src.nlink() == u32::MAX {
            return fail(libc::EMLINK);
        }
        let dir = p.dir();
        inner
            .names
            .load()
            .insert_if_absent(Name::new(dir.ino, name)?, Arc::clone(&src))
            .map_err(io::Error::from)?;
        src.nlink.fetch_add(1, Ordering::AcqRel);
        let now = inner.shared.clock.now();
        set_child(dir, name, true, now);
        write(&src.state).ctime = now.into();
        Ok(())
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
    /// for a NUL in it, `ENAMETOOLONG` past [`PATH_MAX`] bytes; then the
    /// path errors of `path`'s parent; `EEXIST` if `path` exists (a
    /// dangling symlink too); `ENOENT` if `path` ends in `/` or its
    /// directory was removed; `ENOSPC` over the memory limit or with the
    /// registry full.
    pub fn symlink(&self, target: impl AsRef<Path>, path: impl AsRef<Path>) -> io::Result<()> {
        let target = target.as_ref().as_os_str().as_bytes();
        if target.is_empty() {
            return fail(libc::ENOENT);
        }
        if target.contains(&0) {
            return fail(libc::EINVAL);
        }
        if target.len() > PATH_MAX {
            return fail(libc::ENAMETOOLONG);
        }
        let parsed = parse(path.as_ref())?;
        let inner = &self.inner;
        let _ns = lock(&inner.ns);
        let p = inner.resolve_parent(&parsed)?;
        let name = inner.new_entry(&p)?;
        let budget = &inner.shared.budget;
        budget.try_charge(target.len())?;
        let body = Body::Symlink(Arc::from(target));
        match inner.add(p.dir(), name, FileType::Symlink, 0o777, body) {
            Ok(_) => Ok(()),
            Err(e) => {
                budget.credit(target.len());
                Err(e)
            }
        }
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

    /// Metadata of `path` itself: as [`stat`](Fs::stat), but a symlink as
    /// the last component is reported, not followed (unless the path ends
    /// in `/`, as on Linux).
    ///
    /// # Errors
    /// As [`stat`](Fs::stat).
    pub fn lstat(&self, path: impl AsRef<Path>) -> io::Result<Stat> {
        Ok(stat_of(&*self.inner.resolve_as(path.as_ref(), Follow::No)?))
    }

    /// [`chown`](Fs::chown) of `path` itself: a symlink as the last
    /// component is changed, not followed (`lchown(2)`).
    ///
    /// # Errors
    /// As [`lstat`](Fs::lstat).
    pub fn lchown(&self, path: impl AsRef<Path>, uid: u32, gid: u32) -> io::Result<()> {
        let inode = self.inner.resolve_as(path.as_ref(), Follow::No)?;
        set_owner(self, &inode, uid, gid);
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
        set_times(self, &inode, atime, mtime);
        Ok(())
    }
}
