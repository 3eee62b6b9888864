//! Ownership and permissions: `chmod`, `chown` (and their descriptor
//! forms), and the checks a front end makes for a caller: [`Fs::access`]
//! and [`Fs::may_delete`] against an [`Identity`].
//!
//! The store's own calls never check permissions: one process owns it. A
//! front end serving other users (the FUSE mount) asks these functions
//! first, with the caller's identity. They follow Linux's
//! `generic_permission`: the owner class, else the group class (the
//! primary or a supplementary group), else others, with no fall-through;
//! uid 0 stands for a process with `CAP_DAC_OVERRIDE`, `CAP_FOWNER`:
//! it may read and write anything, search any directory, and execute a
//! file with at least one execute bit. A POSIX access ACL is consulted
//! for callers other than the owner, as Linux's `posix_acl_permission`
//! (`acl.rs`); `chmod` keeps it in step with the mode.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::errno::{err, fail};
use crate::fs::{Follow, Fs, Inner};
use crate::inode::{Inode, State};
use crate::path::{Comp, parse};
use crate::sync::{Ordering, write};

/// Who is asking: user, primary group, supplementary groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// User ID (0 is root, which bypasses most checks).
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Supplementary group IDs.
    pub groups: Vec<u32>,
}

impl Identity {
    /// User `uid` in group `gid`, no supplementary groups.
    pub fn new(uid: u32, gid: u32) -> Identity {
        Identity {
            uid,
            gid,
            groups: Vec::new(),
        }
    }

    /// Root (uid 0, gid 0).
    pub fn root() -> Identity {
        Identity::new(0, 0)
    }

    /// The same identity with `groups` as its supplementary groups.
    pub fn with_groups(mut self, groups: impl Into<Vec<u32>>) -> Identity {
        self.groups = groups.into();
        self
    }

    /// Whether `gid` is the primary group or a supplementary one.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// Whether this is root (uid 0), which ERMFS takes to hold every
    /// capability (`CAP_FSETID`, `CAP_MKNOD`, `CAP_DAC_OVERRIDE`...).
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }
}

/// Linux's `acl_permission_check`: the owner class; else the access ACL
/// if there is one and the mode has group bits; else the group class, else
/// others, with no fall-through.
fn mode_permits(inode: &Inode, mask: u32, who: &Identity) -> bool {
    let perm = inode.perm();
    let (uid, gid) = inode.owner();
    if who.uid != uid {
        if let Some(granted) = crate::acl::permission(inode, mask, who) {
            return granted;
        }
    }
    let class = if who.uid == uid {
        perm >> 6
    } else if who.in_group(gid) {
        perm >> 3
    } else {
        perm
    } & 7;
    mask & !class == 0
}

/// Linux's `generic_permission`: whether `who` may do `mask` (bits of
/// `R_OK`, `W_OK`, `X_OK`) to `inode`.
fn permitted(inode: &Inode, mask: u32, who: &Identity) -> bool {
    if mode_permits(inode, mask, who) {
        return true;
    }
    let perm = inode.perm();
    if !who.is_root() {
        return false;
    }
    // Root: everything on a directory; on a file, execute needs one x bit.
    inode.is_dir() || mask & 1 == 0 || perm & 0o111 != 0
}

/// `EACCES` unless `who` may do `mask` to `inode`.
fn check(inode: &Inode, mask: u32, who: &Identity) -> io::Result<()> {
    if permitted(inode, mask, who) {
        Ok(())
    } else {
        fail(libc::EACCES)
    }
}

/// Search (execute) permission.
const MAY_EXEC: u32 = 1;
/// Write permission.
const MAY_WRITE: u32 = 2;

impl Inner {
    /// Walks `comps` from `/` as `who`, checking search permission on each
    /// directory before looking a component up in it (`EACCES`), as Linux's
    /// `link_path_walk`, and following symlinks (the last one too);
    /// returns the chain of inodes visited.
    fn walk_as(&self, comps: &[Comp<'_>], who: &Identity) -> io::Result<Vec<Arc<Inode>>> {
        let mut chain = vec![Arc::clone(&self.root)];
        let search = |dir: &Inode| check(dir, MAY_EXEC, who);
        self.walk_on(&mut chain, comps, Follow::Yes, &mut 0, &search)?;
        Ok(chain)
    }
}

/// Sets `inode`'s permission bits (and its access ACL's, as Linux's
/// `posix_acl_chmod`) and its `ctime`.
fn set_mode(fs: &Fs, inode: &Inode, mode: u32) {
    let mut st = write(&inode.state);
    inode.set_perm(mode);
    crate::acl::chmod(&mut st, mode);
    st.ctime = fs.inner.shared.clock.now().into();
}

/// What a chown of a non-directory does beside the owner, as Linux's
/// `chown_common`: the set-user-ID bit goes (for root too), the
/// set-group-ID bit when group-executable or when `who` is neither root
/// nor in the file's group, and `security.capability`. The caller holds
/// the inode's lock (`st`) and stores the new owner after this.
pub(crate) fn drop_privs_on_chown(inode: &Inode, st: &mut State, who: &Identity) {
    if inode.is_dir() {
        return;
    }
    let mut perm = inode.perm() & !libc::S_ISUID;
    if perm & libc::S_IXGRP != 0 || (!who.is_root() && !who.in_group(inode.owner().1)) {
        perm &= !libc::S_ISGID;
    }
    inode.set_perm(perm);
    crate::xattr::drop_capability(st);
}

/// Sets `inode`'s owner (`u32::MAX` keeps a field) as the store's owner
/// would, with [`drop_privs_on_chown`], and sets `ctime`.
pub(crate) fn set_owner(fs: &Fs, inode: &Inode, uid: u32, gid: u32) {
    let mut st = write(&inode.state);
    // Judged by the group the file had (Linux's `chown_common`).
    drop_privs_on_chown(inode, &mut st, &fs.inner.owner_identity());
    if uid != u32::MAX {
        inode.uid.store(uid, Ordering::Release);
    }
    if gid != u32::MAX {
        inode.gid.store(gid, Ordering::Release);
    }
    st.ctime = fs.inner.shared.clock.now().into();
}

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
        set_mode(self, &inode, mode);
        Ok(())
    }

    /// [`chmod`](Fs::chmod) on the file or directory open at `fd` (any
    /// access mode).
    ///
    /// # Errors
    /// `EBADF`.
    pub fn fchmod(&self, fd: i32, mode: u32) -> io::Result<()> {
        let of = self.inner.file(fd)?;
        set_mode(self, of.inode(), mode);
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
        set_owner(self, &inode, uid, gid);
        Ok(())
    }

    /// [`chown`](Fs::chown) on the file or directory open at `fd`.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn fchown(&self, fd: i32, uid: u32, gid: u32) -> io::Result<()> {
        let of = self.inner.file(fd)?;
        set_owner(self, of.inode(), uid, gid);
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

// Inodes hold loom atomics under loom, usable only inside a model.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::inode::{Body, FileType};
    use std::time::SystemTime;

    fn inode(kind: FileType, perm: u32, owner: (u32, u32)) -> Inode {
        let body = match kind {
            FileType::Dir => Body::Dir(Default::default()),
            FileType::File => Body::File(crate::inode::Content::Freed),
            FileType::Symlink => Body::Symlink(std::sync::Arc::from(&b"t"[..])),
            _ => Body::Special(0),
        };
        let parent = std::sync::Weak::new();
        Inode::new(2, kind, perm, parent, body, owner, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn generic_permission_classes_do_not_fall_through() {
        let f = inode(FileType::File, 0o047, (10, 20));
        let owner = Identity::new(10, 99);
        let member = Identity::new(11, 5).with_groups([20]);
        let other = Identity::new(12, 5);
        // The owner gets the owner bits only, though others have more.
        assert!(!permitted(&f, 4, &owner));
        assert!(permitted(&f, 4, &member) && !permitted(&f, 2, &member));
        assert!(permitted(&f, 7, &other));
        // Root: read and write always; execute needs an x bit on a file.
        let root = Identity::root();
        assert!(permitted(&inode(FileType::File, 0, (1, 1)), 6, &root));
        assert!(!permitted(&inode(FileType::File, 0o644, (1, 1)), 1, &root));
        assert!(permitted(&inode(FileType::File, 0o010, (1, 1)), 1, &root));
        assert!(permitted(&inode(FileType::Dir, 0, (1, 1)), 7, &root));
    }
}
