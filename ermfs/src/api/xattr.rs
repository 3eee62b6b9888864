//! The extended-attribute calls of [`Fs`]: by path (following symlinks or
//! not), by descriptor, and on a [`Node`](crate::Node) (never following).
//! What an attribute is and how it is stored is `types/xattr.rs`'s.

use std::io;
use std::path::Path;

use crate::api::fs::Fs;
use crate::namespace::node::Node;
use crate::types::xattr::{check_name, check_set, get, list, remove, set};

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
    /// empty name or one past [`XATTR_NAME_MAX`](crate::XATTR_NAME_MAX) bytes (`EINVAL` for a NUL
    /// in it); `E2BIG` for a value past [`XATTR_SIZE_MAX`](crate::XATTR_SIZE_MAX); the path errors
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
        set(
            &self.inner.shared.budget,
            &self.inner.shared.clock,
            &inode,
            name,
            value,
            flags,
        )
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
        set(
            &self.inner.shared.budget,
            &self.inner.shared.clock,
            of.inode(),
            name,
            value,
            flags,
        )
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
        remove(
            &self.inner.shared.budget,
            &self.inner.shared.clock,
            &inode,
            name,
        )
    }

    /// [`removexattr`](Fs::removexattr) on the file or directory open at `fd`.
    ///
    /// # Errors
    /// As `removexattr`, with `EBADF` for the path errors.
    pub fn fremovexattr(&self, fd: i32, name: impl AsRef<[u8]>) -> io::Result<()> {
        let name = name.as_ref();
        let of = self.inner.file(fd)?;
        check_name(name)?;
        remove(
            &self.inner.shared.budget,
            &self.inner.shared.clock,
            of.inode(),
            name,
        )
    }

    /// [`setxattr`](Fs::setxattr) on `node` itself (a symlink's own
    /// attributes: the kernel refuses `user.` ones on it before asking).
    ///
    /// # Errors
    /// As `setxattr`, without the path errors.
    pub fn setxattr_node(
        &self,
        node: &Node,
        name: impl AsRef<[u8]>,
        value: &[u8],
        flags: i32,
    ) -> io::Result<()> {
        let name = name.as_ref();
        check_set(name, value, flags)?;
        set(
            &self.inner.shared.budget,
            &self.inner.shared.clock,
            &node.inode,
            name,
            value,
            flags,
        )
    }

    /// [`getxattr`](Fs::getxattr) on `node` itself.
    ///
    /// # Errors
    /// As `getxattr`, without the path errors.
    pub fn getxattr_node(
        &self,
        node: &Node,
        name: impl AsRef<[u8]>,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        let name = name.as_ref();
        check_name(name)?;
        get(&node.inode, name, buf)
    }

    /// [`listxattr`](Fs::listxattr) on `node` itself.
    ///
    /// # Errors
    /// As `listxattr`, without the path errors.
    pub fn listxattr_node(&self, node: &Node, buf: &mut [u8]) -> io::Result<usize> {
        list(&node.inode, buf)
    }

    /// [`removexattr`](Fs::removexattr) on `node` itself.
    ///
    /// # Errors
    /// As `removexattr`, without the path errors.
    pub fn removexattr_node(&self, node: &Node, name: impl AsRef<[u8]>) -> io::Result<()> {
        let name = name.as_ref();
        check_name(name)?;
        remove(
            &self.inner.shared.budget,
            &self.inner.shared.clock,
            &node.inode,
            name,
        )
    }
}
