//! Extended attributes: `setxattr`, `getxattr`, `listxattr`, `removexattr`
//! and their descriptor forms, with Linux's limits and errnos.
//!
//! An inode without attributes pays one null pointer; the first attribute
//! boxes an `Xattrs`: a vector of `(name, value)` pairs sorted by name
//! (`listxattr` lists them in descending byte order, as tmpfs's red-black
//! tree does on Linux 6.x),
//! its bytes charged to the memory budget and credited back when the inode
//! goes. Names need the `user.`, `trusted.` or `security.` prefix, as on
//! tmpfs, or be one of the two POSIX ACL names, `system.posix_acl_access`
//! and `system.posix_acl_default` (kept in the same store, listed first as
//! tmpfs lists them; their semantics are `acl.rs`'s). Other `system.`
//! names are `EOPNOTSUPP`, as on tmpfs.

use std::io;
use std::sync::Arc;

use erm_alloc::MemoryBudget;

use crate::sync::{read, write};
use crate::types::acl::{self, Kind};
use crate::types::config::Clock;
use crate::types::errno::{err, fail};
use crate::types::inode::Inode;
use crate::types::xattr_store::{put, take};

/// Longest attribute name, in bytes (Linux `XATTR_NAME_MAX`).
pub const XATTR_NAME_MAX: usize = 255;
/// Largest attribute value, in bytes (Linux `XATTR_SIZE_MAX`, 64 KiB).
pub const XATTR_SIZE_MAX: usize = 65_536;
/// Largest `listxattr` answer Linux hands out (`XATTR_LIST_MAX`).
const XATTR_LIST_MAX: usize = 65_536;

/// Name prefixes accepted (tmpfs's handlers).
const PREFIXES: [&[u8]; 3] = [b"user.", b"trusted.", b"security."];

/// Linux's `import_xattr_name`: `ERANGE` for an empty name or one past
/// [`XATTR_NAME_MAX`] bytes (a NUL cannot be part of a name: `EINVAL`).
pub(crate) fn check_name(name: &[u8]) -> io::Result<()> {
    if name.is_empty() || name.len() > XATTR_NAME_MAX {
        return fail(libc::ERANGE);
    }
    if name.contains(&0) {
        return fail(libc::EINVAL);
    }
    Ok(())
}

/// Linux's `xattr_resolve_name` on tmpfs: `EOPNOTSUPP` for an unknown
/// namespace, `EINVAL` for a bare prefix.
fn check_namespace(name: &[u8]) -> io::Result<()> {
    match PREFIXES.iter().find(|p| name.starts_with(p)) {
        Some(p) if name.len() == p.len() => fail(libc::EINVAL),
        Some(_) => Ok(()),
        None => fail(libc::EOPNOTSUPP),
    }
}

/// The flags `setxattr` takes.
const SET_FLAGS: i32 = libc::XATTR_CREATE | libc::XATTR_REPLACE;

/// Copies `data` into `buf` with the size-query rule: an empty `buf` asks
/// for the size; a too small one is `ERANGE` (`E2BIG` once `buf` is at
/// the kernel's cap, as Linux).
fn answer(
    data_len: usize,
    buf: &mut [u8],
    cap: usize,
    fill: impl FnOnce(&mut [u8]),
) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(data_len);
    }
    if data_len > buf.len() {
        return fail(if buf.len() >= cap {
            libc::E2BIG
        } else {
            libc::ERANGE
        });
    }
    fill(&mut buf[..data_len]);
    Ok(data_len)
}

/// `setxattr` of `name` on `inode` (flags already checked by
/// [`check_set`]); an ACL name goes to [`acl::set`]. The bytes are charged
/// to `budget`; `ctime` comes from `clock`.
pub(crate) fn set(
    budget: &Arc<MemoryBudget>,
    clock: &Clock,
    inode: &Inode,
    name: &[u8],
    value: &[u8],
    flags: i32,
) -> io::Result<()> {
    if let Some(kind) = Kind::of(name) {
        // Flags do not apply to ACLs (Linux's `do_set_acl`).
        return acl::set(budget, clock, inode, kind, value);
    }
    check_namespace(name)?;
    let mut st = write(&inode.state);
    let present = st.xattrs.as_ref().is_some_and(|x| x.value(name).is_some());
    match present {
        true if flags & libc::XATTR_CREATE != 0 => return fail(libc::EEXIST),
        false if flags & libc::XATTR_REPLACE != 0 => return fail(libc::ENODATA),
        _ => {}
    }
    put(&mut st.xattrs, budget, name, value)?;
    st.ctime = clock.now().into();
    Ok(())
}

/// `getxattr` of `name` on `inode` into `buf` (empty: the size).
pub(crate) fn get(inode: &Inode, name: &[u8], buf: &mut [u8]) -> io::Result<usize> {
    match Kind::of(name) {
        // A symlink has no ACLs (tmpfs: `EOPNOTSUPP`).
        Some(_) if inode.is_symlink() => return fail(libc::EOPNOTSUPP),
        Some(_) => {}
        None => check_namespace(name)?,
    }
    let st = read(&inode.state);
    let x = st.xattrs.as_ref().ok_or_else(|| err(libc::ENODATA))?;
    let value = x.value(name).ok_or_else(|| err(libc::ENODATA))?;
    answer(value.len(), buf, XATTR_SIZE_MAX, |dst| {
        dst.copy_from_slice(value)
    })
}

/// `listxattr` of `inode` into `buf` (empty: the size).
pub(crate) fn list(inode: &Inode, buf: &mut [u8]) -> io::Result<usize> {
    let st = read(&inode.state);
    let Some(x) = st.xattrs.as_ref() else {
        return Ok(0);
    };
    // As tmpfs: the access ACL, the default ACL, then the rest in
    // descending order (no other `system.` name is ever stored).
    let acls = [acl::ACCESS, acl::DEFAULT]
        .into_iter()
        .filter(|n| x.value(n).is_some());
    let rest = x.names().rev().filter(|n| Kind::of(n).is_none());
    let names = || acls.clone().chain(rest.clone());
    let len = names().map(|n| n.len() + 1).sum();
    answer(len, buf, XATTR_LIST_MAX, |mut dst| {
        for name in names() {
            let (head, rest) = dst.split_at_mut(name.len() + 1);
            head[..name.len()].copy_from_slice(name);
            head[name.len()] = 0;
            dst = rest;
        }
    })
}

/// `removexattr` of `name` on `inode`; `ctime` comes from `clock`.
pub(crate) fn remove(
    budget: &Arc<MemoryBudget>,
    clock: &Clock,
    inode: &Inode,
    name: &[u8],
) -> io::Result<()> {
    if let Some(kind) = Kind::of(name) {
        // Linux's `vfs_remove_acl`: no ACL to remove is no error.
        return acl::set(budget, clock, inode, kind, &[]);
    }
    check_namespace(name)?;
    let mut st = write(&inode.state);
    if !take(&mut st.xattrs, name) {
        return fail(libc::ENODATA);
    }
    st.ctime = clock.now().into();
    Ok(())
}

/// Checks `setxattr`'s arguments in Linux's order (`setxattr_copy`):
/// flags, name, value size.
pub(crate) fn check_set(name: &[u8], value: &[u8], flags: i32) -> io::Result<()> {
    if flags & !SET_FLAGS != 0 {
        return fail(libc::EINVAL);
    }
    check_name(name)?;
    if value.len() > XATTR_SIZE_MAX {
        return fail(libc::E2BIG);
    }
    Ok(())
}
