//! Ownership and permissions: `chmod`, `chown` (and their descriptor
//! forms), and the checks a front end makes for a caller: [`Fs::access`]
//! and [`Fs::may_delete`] against an [`Identity`].
//!
//! The store's own calls never check permissions: one process owns it. A
//! front end serving other users (the FUSE mount) asks these functions
//! first, with the caller's identity. They follow Linux's
//! `generic_permission` (`types/identity.rs`).

use std::io;
use std::path::Path;

use crate::api::fs::Fs;
use crate::namespace::node::Node;
use crate::namespace::path::{Comp, parse};
use crate::types::errno::{err, fail};
use crate::types::identity::Identity;
use crate::types::perm::{MAY_EXEC, MAY_WRITE, check, set_mode, set_owner};

impl Fs {
    /// Sets the permission bits of `path` to `mode & 0o7777` (set-user-ID,
    /// set-group-ID and sticky bits included) and its `ctime`; an access
    /// ACL follows (its `USER_OBJ`, `MASK` or else `GROUP_OBJ`, and `OTHER`
    /// entries take the new bits, as Linux's `posix_acl_chmod`). No
    /// permission check (see [`access`](Fs::access)).
    ///
    /// # Errors
    /// The path errors of [`stat`](Fs::stat).
    pub fn chmod(&self, path: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let inode = self.inner.resolve(path.as_ref())?;
        set_mode(&self.inner.shared.clock, &inode, mode);
        Ok(())
    }

    /// [`chmod`](Fs::chmod) on the file or directory open at `fd` (any
    /// access mode).
    ///
    /// # Errors
    /// `EBADF`.
    pub fn fchmod(&self, fd: i32, mode: u32) -> io::Result<()> {
        let of = self.inner.file(fd)?;
        set_mode(&self.inner.shared.clock, of.inode(), mode);
        Ok(())
    }

    /// Sets the owner of `path`: `uid` and `gid`, where `u32::MAX` (C's
    /// `-1`) leaves that one unchanged. As on Linux, a regular file loses
    /// its set-user-ID bit, and its set-group-ID bit if group-executable,
    /// and `ctime` is set even when nothing else changes. No permission
    /// check.
    ///
    /// # Errors
    /// The path errors of [`stat`](Fs::stat).
    pub fn chown(&self, path: impl AsRef<Path>, uid: u32, gid: u32) -> io::Result<()> {
        let inode = self.inner.resolve(path.as_ref())?;
        set_owner(
            &self.inner.shared.clock,
            self.inner.owner_identity(),
            &inode,
            uid,
            gid,
        );
        Ok(())
    }

    /// [`chown`](Fs::chown) on the file or directory open at `fd`.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn fchown(&self, fd: i32, uid: u32, gid: u32) -> io::Result<()> {
        let of = self.inner.file(fd)?;
        set_owner(
            &self.inner.shared.clock,
            self.inner.owner_identity(),
            of.inode(),
            uid,
            gid,
        );
        Ok(())
    }

    /// Whether `who` may access `path` as access(2) (faccessat with
    /// `AT_EACCESS`) checks it: `mode` is `F_OK` (0, existence) or any of
    /// `R_OK`, `W_OK`, `X_OK` (libc's). A caller other than the owner is
    /// checked against the access ACL when there is one (and the mode has
    /// group bits, as Linux), as `posix_acl_permission` does. Search permission is checked on
    /// every directory the walk enters, before looking a name up in it, so
    /// a path below an unsearchable directory is `EACCES` even if missing.
    ///
    /// ```
    /// use ermfs::{Fs, Identity};
    ///
    /// let fs = Fs::new();
    /// fs.mkdir("/private", 0o700)?;
    /// let alice = Identity::new(1000, 1000);
    /// assert_eq!(fs.access("/private", libc::R_OK, &alice).unwrap_err().raw_os_error(), Some(libc::EACCES));
    /// assert!(fs.access("/private", libc::R_OK | libc::W_OK | libc::X_OK, &Identity::root()).is_ok());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `EINVAL` for other bits in `mode` (checked first); `EACCES`; the
    /// path errors of [`stat`](Fs::stat).
    pub fn access(&self, path: impl AsRef<Path>, mode: i32, who: &Identity) -> io::Result<()> {
        if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
            return fail(libc::EINVAL);
        }
        let parsed = parse(path.as_ref())?;
        let mut chain = self.inner.walk_as(&parsed.comps, who)?;
        let inode = chain.pop().expect("the chain never loses the root");
        if parsed.trailing_slash && !inode.is_dir() {
            return fail(libc::ENOTDIR);
        }
        // R_OK, W_OK and X_OK are 4, 2 and 1, as the permission bits.
        check(&inode, mode as u32, who)
    }

    /// Whether `who` may access `node` itself as `mode` asks, checked as
    /// [`access`](Fs::access) checks the last component (no search
    /// permission on a way there: a node has none).
    ///
    /// # Errors
    /// `EINVAL` for other bits in `mode`; `EACCES`.
    pub fn access_node(&self, node: &Node, mode: i32, who: &Identity) -> io::Result<()> {
        if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
            return fail(libc::EINVAL);
        }
        check(&node.inode, mode as u32, who)
    }

    /// Whether `who` may remove the entry `path` (by `unlink`, `rmdir`, or
    /// as the source or an existing target of `rename`), as Linux's
    /// `may_delete`: search permission on the way, write and search
    /// permission on the parent directory (`EACCES`), and in a sticky
    /// directory (mode `0o1000`, as `/tmp`) only the entry's owner, the
    /// directory's owner or root (`EPERM` otherwise). Call it before the
    /// removal; the removal itself checks nothing.
    ///
    /// # Errors
    /// `EACCES`, `EPERM`, `EBUSY` for `/`, `ENOENT` if the entry is
    /// missing, the path errors of [`stat`](Fs::stat).
    pub fn may_delete(&self, path: impl AsRef<Path>, who: &Identity) -> io::Result<()> {
        let parsed = parse(path.as_ref())?;
        let Some((Comp::Name(name), init)) = parsed.comps.split_last() else {
            return fail(if parsed.comps.is_empty() {
                libc::EBUSY
            } else {
                libc::EINVAL
            });
        };
        let mut chain = self.inner.walk_as(init, who)?;
        let dir = chain.pop().expect("the chain never loses the root");
        if !dir.is_dir() {
            return fail(libc::ENOTDIR);
        }
        check(&dir, MAY_EXEC, who)?;
        let victim = self
            .inner
            .child(&dir, name)?
            .ok_or_else(|| err(libc::ENOENT))?;
        check(&dir, MAY_WRITE | MAY_EXEC, who)?;
        let sticky = dir.perm() & libc::S_ISVTX != 0;
        if sticky && !who.is_root() && who.uid != victim.owner().0 && who.uid != dir.owner().0 {
            return fail(libc::EPERM);
        }
        Ok(())
    }
}
