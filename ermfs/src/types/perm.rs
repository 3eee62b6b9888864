//! What Linux lets an identity do to an inode: the permission checks a
//! front end makes for a caller ([`Fs::access`](crate::Fs::access) and
//! [`Fs::may_delete`](crate::Fs::may_delete) use them), the mode and owner
//! changes, and the privileges a write or a chown drops.
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

use crate::sync::{Ordering, write};
use crate::types::config::Clock;
use crate::types::errno::fail;
use crate::types::identity::{Identity, Writer, privs_to_drop};
use crate::types::inode::{Inode, State};
use crate::types::xattr_store::take;

/// Linux's `acl_permission_check`: the owner class; else the access ACL
/// if there is one and the mode has group bits; else the group class, else
/// others, with no fall-through.
pub(crate) fn mode_permits(inode: &Inode, mask: u32, who: &Identity) -> bool {
    let perm = inode.perm();
    let (uid, gid) = inode.owner();
    if who.uid != uid {
        if let Some(granted) = crate::types::acl::permission(inode, mask, who) {
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
pub(crate) fn permitted(inode: &Inode, mask: u32, who: &Identity) -> bool {
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
pub(crate) fn check(inode: &Inode, mask: u32, who: &Identity) -> io::Result<()> {
    if permitted(inode, mask, who) {
        Ok(())
    } else {
        fail(libc::EACCES)
    }
}

/// Search (execute) permission.
pub(crate) const MAY_EXEC: u32 = 1;
/// Write permission.
pub(crate) const MAY_WRITE: u32 = 2;

/// Sets `inode`'s permission bits (and its access ACL's, as Linux's
/// `posix_acl_chmod`) and its `ctime`.
pub(crate) fn set_mode(clock: &Clock, inode: &Inode, mode: u32) {
    let mut st = write(&inode.state);
    inode.set_perm(mode);
    crate::types::acl::chmod(&mut st, mode);
    st.ctime = clock.now().into();
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
    drop_capability(st);
}

/// Sets `inode`'s owner (`u32::MAX` keeps a field) as `who` would, with
/// [`drop_privs_on_chown`], and sets `ctime`.
pub(crate) fn set_owner(clock: &Clock, who: &Identity, inode: &Inode, uid: u32, gid: u32) {
    let mut st = write(&inode.state);
    // Judged by the group the file had (Linux's `chown_common`).
    drop_privs_on_chown(inode, &mut st, who);
    if uid != u32::MAX {
        inode.uid.store(uid, Ordering::Release);
    }
    if gid != u32::MAX {
        inode.gid.store(gid, Ordering::Release);
    }
    st.ctime = clock.now().into();
}

/// What a data change does to the file's privileges, under its lock and in
/// the same step (Linux's `file_remove_privs`): set-ID bits go unless the
/// writer has `CAP_FSETID` ([`privs_to_drop`]), `security.capability`
/// goes whoever writes. Two loads for a file that has neither.
pub(crate) fn kill_privs(inode: &Inode, st: &mut State, writer: Option<&Writer>) {
    let kill = privs_to_drop(inode.mode(), inode.owner().1, writer);
    if kill != 0 {
        inode.set_perm(inode.perm() & !kill);
    }
    drop_capability(st);
}

/// Removes `security.capability` from an inode whose lock the caller holds
/// (Linux's `ATTR_KILL_PRIV`: a write, truncate or chown drops file
/// capabilities). Costs one pointer test for an inode without attributes.
pub(crate) fn drop_capability(st: &mut State) {
    take(&mut st.xattrs, b"security.capability");
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::types::inode::{Body, FileType};
    use std::time::SystemTime;

    fn inode(kind: FileType, perm: u32, owner: (u32, u32)) -> Inode {
        let body = match kind {
            FileType::Dir => Body::Dir(Default::default()),
            FileType::File => Body::File(crate::types::inode::Content::Freed),
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
