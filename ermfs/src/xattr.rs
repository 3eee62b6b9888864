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
use std::path::Path;
use std::sync::Arc;

use erm_alloc::MemoryBudget;

use crate::acl::{self, Kind};
use crate::errno::{err, fail};
use crate::fs::Fs;
use crate::inode::{Inode, State};
use crate::sync::{read, write};

/// Longest attribute name, in bytes (Linux `XATTR_NAME_MAX`).
pub const XATTR_NAME_MAX: usize = 255;
/// Largest attribute value, in bytes (Linux `XATTR_SIZE_MAX`, 64 KiB).
pub const XATTR_SIZE_MAX: usize = 65_536;
/// Largest `listxattr` answer Linux hands out (`XATTR_LIST_MAX`).
const XATTR_LIST_MAX: usize = 65_536;

/// Name prefixes accepted (tmpfs's handlers).
const PREFIXES: [&[u8]; 3] = [b"user.", b"trusted.", b"security."];

/// One attribute: name and value.
type Entry = (Box<[u8]>, Box<[u8]>);

/// The extended attributes of one inode, charged to the budget.
pub(crate) struct Xattrs {
    /// Sorted by name.
    entries: Vec<Entry>,
    /// Bytes charged: the sum of the names' and values' lengths.
    charged: usize,
    budget: Arc<MemoryBudget>,
}

impl std::fmt::Debug for Xattrs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Xattrs")
            .field("count", &self.entries.len())
            .field("charged", &self.charged)
            .finish_non_exhaustive()
    }
}

impl Drop for Xattrs {
    fn drop(&mut self) {
        self.budget.credit(self.charged);
    }
}

impl Xattrs {
    fn find(&self, name: &[u8]) -> Result<usize, usize> {
        self.entries.binary_search_by(|(n, _)| (**n).cmp(name))
    }

    /// The value of `name`, if set.
    pub(crate) fn value(&self, name: &[u8]) -> Option<&[u8]> {
        self.find(name).ok().map(|i| &*self.entries[i].1)
    }

    /// The value of `name`, if set, to change in place (its length, and
    /// so the charge, stays).
    pub(crate) fn value_mut(&mut self, name: &[u8]) -> Option<&mut [u8]> {
        let i = self.find(name).ok()?;
        Some(&mut self.entries[i].1)
    }
}

/// Sets `name` to `value` in `slot` (boxing an empty store first), the
/// difference charged to `budget` before anything changes.
///
/// # Errors
/// `ENOSPC` over the memory limit (nothing changes).
pub(crate) fn put(
    slot: &mut Option<Box<Xattrs>>,
    budget: &Arc<MemoryBudget>,
    name: &[u8],
    value: &[u8],
) -> io::Result<()> {
    let old = slot
        .as_ref()
        .and_then(|x| x.find(name).ok().map(|i| x.entries[i].1.len()));
    // Charged before anything changes, so a refusal leaves all as it was.
    let cost = match old {
        Some(old) => value.len().saturating_sub(old),
        None => name.len() + value.len(),
    };
    budget.try_charge(cost)?;
    let xattrs = slot.get_or_insert_with(|| {
        Box::new(Xattrs {
            entries: Vec::new(),
            charged: 0,
            budget: Arc::clone(budget),
        })
    });
    match xattrs.find(name) {
        Ok(i) => {
            let old = xattrs.entries[i].1.len();
            budget.credit(old.saturating_sub(value.len()));
            xattrs.charged = xattrs.charged - old + value.len();
            xattrs.entries[i].1 = value.into();
        }
        Err(i) => {
            xattrs.charged += cost;
            xattrs.entries.insert(i, (name.into(), value.into()));
        }
    }
    Ok(())
}

/// Removes `name` from `slot` (crediting its bytes; an emptied store is
/// dropped); whether it was there.
pub(crate) fn take(slot: &mut Option<Box<Xattrs>>, name: &[u8]) -> bool {
    let Some(x) = slot.as_mut() else {
        return false;
    };
    let Ok(i) = x.find(name) else {
        return false;
    };
    let (n, v) = x.entries.remove(i);
    let freed = n.len() + v.len();
    x.charged -= freed;
    x.budget.credit(freed);
    if x.entries.is_empty() {
        *slot = None;
    }
    true
}

/// Linux's `import_xattr_name`: `ERANGE` for an empty name or one past
/// [`XATTR_NAME_MAX`] bytes (a NUL cannot be part of a name: `EINVAL`).
fn check_name(name: &[u8]) -> io::Result<()> {
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

fn set(fs: &Fs, inode: &Inode, name: &[u8], value: &[u8], flags: i32) -> io::Result<()> {
    if let Some(kind) = Kind::of(name) {
        // Flags do not apply to ACLs (Linux's `do_set_acl`).
        return acl::set(fs, inode, kind, value);
    }
    check_namespace(name)?;
    let mut st = write(&inode.state);
    let present = st.xattrs.as_ref().is_some_and(|x| x.find(name).is_ok());
    match present {
        true if flags & libc::XATTR_CREATE != 0 => return fail(libc::EEXIST),
        false if flags & libc::XATTR_REPLACE != 0 => return fail(libc::ENODATA),
        _ => {}
    }
    put(&mut st.xattrs, &fs.inner.shared.budget, name, value)?;
    st.ctime = fs.inner.shared.clock.now().into();
    Ok(())
}

fn get(inode: &Inode, name: &[u8], buf: &mut [u8]) -> io::Result<usize> {
    match Kind::of(name) {
        // A symlink has no ACLs (tmpfs: `EOPNOTSUPP`).
        Some(_) if inode.is_symlink() => return fail(libc::EOPNOTSUPP),
        Some(_) => {}
        None => check_namespace(name)?,
    }
    let st = read(&inode.state);
    let x = st.xattrs.as_ref().ok_or_else(|| err(libc::ENODATA))?;
    let i = x.find(name).map_err(|_| err(libc::ENODATA))?;
    let value = &x.entries[i].1;
    answer(value.len(), buf, XATTR_SIZE_MAX, |dst| {
        dst.copy_from_slice(value)
    })
}

fn list(inode: &Inode, buf: &mut [u8]) -> io::Result<usize> {
    let st = read(&inode.state);
    let Some(x) = st.xattrs.as_ref() else {
        return Ok(0);
    };
    // As tmpfs: the access ACL, the default ACL, then the rest in
    // descending order (no other `system.` name is ever stored).
    let acls = [acl::ACCESS, acl::DEFAULT]
        .into_iter()
        .filter(|n| x.find(n).is_ok());
    let rest = x
        .entries
        .iter()
        .rev()
        .map(|(n, _)| &**n)
        .filter(|n| Kind::of(n).is_none());
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

fn remove(fs: &Fs, inode: &Inode, name: &[u8]) -> io::Result<()> {
    if let Some(kind) = Kind::of(name) {
        // Linux's `vfs_remove_acl`: no ACL to remove is no error.
        return acl::set(fs, inode, kind, &[]);
    }
    check_namespace(name)?;
    let mut st = write(&inode.state);
    if !take(&mut st.xattrs, name) {
        return fail(libc::ENODATA);
    }
    st.ctime = fs.inner.shared.clock.now().into();
    Ok(())
}

/// Removes `security.capability` from an inode whose lock the caller holds
/// (Linux's `ATTR_KILL_PRIV`: a write, truncate or chown drops file
/// capabilities). Costs one pointer test for an inode without attributes.
pub(crate) fn drop_capability(st: &mut State) {
    let Some(x) = st.xattrs.as_mut() else {
        return;
    };
    if let Ok(i) = x.find(b"security.capability") {
        let (n, v) = x.entries.remove(i);
        let freed = n.len() + v.len();
        x.charged -= freed;
        x.budget.credit(freed);
        if x.entries.is_empty() {
            st.xattrs = None;
        }
    }
}

/// Checks `setxattr`'s arguments in Linux's order (`setxattr_copy`):
/// flags, name, value size.
fn check_set(name: &[u8], value: &[u8], flags: i32) -> io::Result<()> {
    if flags & !SET_FLAGS != 0 {
        return fail(libc::EINVAL);
    }
    check_name(name)?;
    if value.len() > XATTR_SIZE_MAX {
        return fail(libc::E2BIG);
    }
    Ok(())
}

impl Fs {
    /// Sets the extended attribute `name` of `path` to `value` (empty
    /// allowed). `flags`: 0, `XATTR_CREATE` (fail with `EEXIST` if it
    /// exists) or `XATTR_REPLACE` (fail with `ENODATA` if it does not).
    /// Sets `ctime`. The bytes count against the memory limit.
    ///
    /// The POSIX ACL names follow Linux (tmpfs): `system.posix_acl_access`
    /// takes an ACL in the kernel's xattr format (flags ignored; an empty
    /// value or a bare header removes it) and sets the permission bits
    /// from it (owner from `USER_OBJ`, group from `MASK` or else
    /// `GROUP_OBJ`, other from `OTHER`); an ACL that says no more than
    /// those bits is not stored. `system.posix_acl_default` (directories
    /// only) is what new entries inherit. No caller identity is involved,
    /// as for every ERMFS call.
    ///
    /// ```
    /// let fs = ermfs::Fs::new();
    /// fs.mkdir("/d", 0o755)?;
    /// fs.setxattr("/d", "user.color", b"blue", 0)?;
    /// let mut buf = [0u8; 16];
    /// let n = fs.getxattr("/d", "user.color", &mut buf)?;
    /// assert_eq!(&buf[..n], b"blue");
    /// assert_eq!(fs.getxattr("/d", "user.color", &mut [])?, 4); // size query
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// In Linux's order: `EINVAL` for other flag bits; `ERANGE` for an
    /// empty name or one past [`XATTR_NAME_MAX`] bytes (`EINVAL` for a NUL
    /// in it); `E2BIG` for a value past [`XATTR_SIZE_MAX`]; the path errors
    /// of [`stat`](Fs::stat); `EOPNOTSUPP` for a name outside `user.`,
    /// `trusted.`, `security.` and the two ACL names; `EINVAL` for a bare
    /// prefix; `EEXIST`, `ENODATA` as above; `ENOSPC` over the memory
    /// limit. For an ACL: `EOPNOTSUPP` for a version other than 2 (or a
    /// symlink); `EINVAL` for a malformed or invalid ACL (Linux's
    /// `posix_acl_valid`); `EACCES` for a default ACL on a non-directory.
    pub fn setxattr(
        &self,
        path: impl AsRef<Path>,
        name: impl AsRef<[u8]>,
        value: &[u8],
        flags: i32,
    ) -> io::Result<()> {
        let name = name.as_ref();
        check_set(name, value, flags)?;
        let inode = self.inner.resolve(path.as_ref())?;
        set(self, &inode, name, value, flags)
    }

    /// [`setxattr`](Fs::setxattr) on the file or directory open at `fd`
    /// (any access mode, as Linux).
    ///
    /// # Errors
    /// As `setxattr`, with `EBADF` for the path errors.
    pub fn fsetxattr(
        &self,
        fd: i32,
        name: impl AsRef<[u8]>,
        value: &[u8],
        flags: i32,
    ) -> io::Result<()> {
        let name = name.as_ref();
        let of = self.inner.file(fd)?;
        check_set(name, value, flags)?;
        set(self, of.inode(), name, value, flags)
    }

    /// Copies the value of attribute `name` of `path` into `buf` and
    /// returns its length; with an empty `buf`, only returns the length.
    ///
    /// # Errors
    /// `ERANGE` for a bad name length (as `setxattr`); the path errors of
    /// [`stat`](Fs::stat); `EOPNOTSUPP`/`EINVAL` for the namespace (as
    /// `setxattr`); `ENODATA` if there is no such attribute (or ACL);
    /// `ERANGE` if `buf` is not empty and too small.
    pub fn getxattr(
        &self,
        path: impl AsRef<Path>,
        name: impl AsRef<[u8]>,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        let name = name.as_ref();
        check_name(name)?;
        let inode = self.inner.resolve(path.as_ref())?;
        get(&inode, name, buf)
    }

    /// [`getxattr`](Fs::getxattr) on the file or directory open at `fd`.
    ///
    /// # Errors
    /// As `getxattr`, with `EBADF` for the path errors.
    pub fn fgetxattr(&self, fd: i32, name: impl AsRef<[u8]>, buf: &mut [u8]) -> io::Result<usize> {
        let name = name.as_ref();
        let of = self.inner.file(fd)?;
        check_name(name)?;
        get(of.inode(), name, buf)
    }

    /// Copies the names of `path`'s attributes into `buf`, each followed by
    /// a NUL, and returns the length; with an empty `buf`, only returns
    /// the length. As tmpfs: the access ACL, the default ACL, then the
    /// others in descending byte order.
    ///
    /// # Errors
    /// The path errors of [`stat`](Fs::stat); `ERANGE` if `buf` is not
    /// empty and too small (`E2BIG` if it holds 64 KiB or more, as Linux).
    pub fn listxattr(&self, path: impl AsRef<Path>, buf: &mut [u8]) -> io::Result<usize> {
        let inode = self.inner.resolve(path.as_ref())?;
        list(&inode, buf)
    }

    /// [`listxattr`](Fs::listxattr) on the file or directory open at `fd`.
    ///
    /// # Errors
    /// As `listxattr`, with `EBADF` for the path errors.
    pub fn flistxattr(&self, fd: i32, buf: &mut [u8]) -> io::Result<usize> {
        let of = self.inner.file(fd)?;
        list(of.inode(), buf)
    }

    /// Removes attribute `name` of `path` and sets `ctime`. Removing the
    /// access ACL keeps the permission bits; removing an ACL that is not
    /// there succeeds (as Linux).
    ///
    /// # Errors
    /// As [`getxattr`](Fs::getxattr), `ENODATA` if there is no such
    /// attribute (not for the ACL names).
    pub fn removexattr(&self, path: impl AsRef<Path>, name: impl AsRef<[u8]>) -> io::Result<()> {
        let name = name.as_ref();
        check_name(name)?;
        let inode = self.inner.resolve(path.as_ref())?;
        remove(self, &inode, name)
    }

    /// [`removexattr`](Fs::removexattr) on the file or directory open at `fd`.
    ///
    /// # Errors
    /// As `removexattr`, with `EBADF` for the path errors.
    pub fn fremovexattr(&self, fd: i32, name: impl AsRef<[u8]>) -> io::Result<()> {
        let name = name.as_ref();
        let of = self.inner.file(fd)?;
        check_name(name)?;
        remove(self, of.inode(), name)
    }
}
