//! Extended attributes: setxattr, getxattr, listxattr, removexattr and
//! their descriptor forms (fsetxattr, ...), each as `ermfs_X` (default
//! instance) and `ermfs_fs_X` (explicit instance) over one private body.
//!
//! The C layer checks the caller's arguments in Linux's order (6.18: flags,
//! name, value size, the value's memory, and only then the path or the
//! descriptor), so a NULL pointer is `EFAULT` only where Linux would fault
//! (checked against a memfd); buffer sizes past 64 KiB are clamped for
//! `getxattr` and `listxattr` as Linux does.

use std::ffi::{c_char, c_int, c_void};
use std::io;

use ermfs_core::{Fs, XATTR_NAME_MAX, XATTR_SIZE_MAX};
use libc::ssize_t;

use crate::boundary::{bytes, bytes_mut, c_bytes, err, path};
use crate::instance::{ermfs_t, on, on_default};

/// Linux's cap on a `getxattr`/`listxattr` buffer (`XATTR_SIZE_MAX` and
/// `XATTR_LIST_MAX` are both 64 KiB): larger sizes are clamped to it.
const BUF_CAP: usize = XATTR_SIZE_MAX;

/// An attribute name from C: `EFAULT` for NULL, `ERANGE` for an empty name
/// or one past `XATTR_NAME_MAX` bytes.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
unsafe fn name<'a>(name: *const c_char) -> io::Result<&'a [u8]> {
    // SAFETY: NULL or a C string, by the caller's contract.
    let name = unsafe { c_bytes(name) }?;
    if name.is_empty() || name.len() > XATTR_NAME_MAX {
        return Err(err(libc::ERANGE));
    }
    Ok(name)
}

/// `setxattr`'s arguments checked in Linux's order (`setxattr_copy`):
/// flags (`EINVAL`), name, value size (`E2BIG`), value memory (`EFAULT`).
///
/// # Safety
/// `n` as [`name`]; `value` is NULL or has `size` readable bytes.
unsafe fn set_args<'a>(
    n: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> io::Result<(&'a [u8], &'a [u8])> {
    if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
        return Err(err(libc::EINVAL));
    }
    // SAFETY: as this function's contract.
    let n = unsafe { name(n) }?;
    if size > XATTR_SIZE_MAX {
        return Err(err(libc::E2BIG));
    }
    // SAFETY: as this function's contract.
    Ok((n, unsafe { bytes(value, size) }?))
}

/// The caller's buffer of `size` bytes, clamped as Linux clamps it.
///
/// # Safety
/// `buf` is NULL or has `size` writable bytes.
unsafe fn out_buf<'a>(buf: *mut c_void, size: usize) -> io::Result<&'a mut [u8]> {
    // SAFETY: fewer bytes than the caller promised.
    unsafe { bytes_mut(buf, size.min(BUF_CAP)) }
}

/// Runs `op` on the caller's buffer of `size` bytes; if the buffer is bad,
/// runs it as a size query first, so the file's errors and a too small
/// `size` (`ERANGE`, `E2BIG` at the cap) come before `EFAULT`, as Linux
/// fills its own buffer before copying out.
fn answer(
    buf: io::Result<&mut [u8]>,
    size: usize,
    op: impl Fn(&mut [u8]) -> io::Result<usize>,
) -> io::Result<ssize_t> {
    // At most BUF_CAP bytes, so the count fits ssize_t.
    match buf {
        Ok(buf) => op(buf).map(|n| n as ssize_t),
        Err(e) => {
            let size = size.min(BUF_CAP);
            if op(&mut [])? > size {
                return Err(err(if size >= BUF_CAP {
                    libc::E2BIG
                } else {
                    libc::ERANGE
                }));
            }
            Err(e)
        }
    }
}

fn setxattr(
    fs: &Fs,
    p: *const c_char,
    n: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> io::Result<c_int> {
    // SAFETY: every pointer is NULL or as the exported function's contract says.
    let ((n, value), p) = unsafe { (set_args(n, value, size, flags)?, path(p)?) };
    fs.setxattr(p, n, value, flags).map(|()| 0)
}

fn fsetxattr(
    fs: &Fs,
    fd: c_int,
    n: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> io::Result<c_int> {
    // SAFETY: as in `setxattr`.
    let (n, value) = unsafe { set_args(n, value, size, flags) }?;
    fs.fsetxattr(fd, n, value, flags).map(|()| 0)
}

fn getxattr(
    fs: &Fs,
    p: *const c_char,
    n: *const c_char,
    value: *mut c_void,
    size: usize,
) -> io::Result<ssize_t> {
    // SAFETY: as in `setxattr`.
    let (n, p, buf) = unsafe { (name(n)?, path(p)?, out_buf(value, size)) };
    answer(buf, size, |b| fs.getxattr(p, n, b))
}

fn fgetxattr(
    fs: &Fs,
    fd: c_int,
    n: *const c_char,
    value: *mut c_void,
    size: usize,
) -> io::Result<ssize_t> {
    // SAFETY: as in `setxattr`.
    let (n, buf) = unsafe { (name(n)?, out_buf(value, size)) };
    answer(buf, size, |b| fs.fgetxattr(fd, n, b))
}

fn listxattr(fs: &Fs, p: *const c_char, list: *mut c_char, size: usize) -> io::Result<ssize_t> {
    // SAFETY: as in `setxattr`.
    let (p, buf) = unsafe { (path(p)?, out_buf(list.cast(), size)) };
    answer(buf, size, |b| fs.listxattr(p, b))
}

fn flistxattr(fs: &Fs, fd: c_int, list: *mut c_char, size: usize) -> io::Result<ssize_t> {
    // SAFETY: as in `setxattr`.
    let buf = unsafe { out_buf(list.cast(), size) };
    answer(buf, size, |b| fs.flistxattr(fd, b))
}

fn removexattr(fs: &Fs, p: *const c_char, n: *const c_char) -> io::Result<c_int> {
    // SAFETY: as in `setxattr`.
    let (n, p) = unsafe { (name(n)?, path(p)?) };
    fs.removexattr(p, n).map(|()| 0)
}

fn fremovexattr(fs: &Fs, fd: c_int, n: *const c_char) -> io::Result<c_int> {
    // SAFETY: as in `setxattr`.
    let n = unsafe { name(n) }?;
    fs.fremovexattr(fd, n).map(|()| 0)
}

/// Sets the extended attribute `name` of `path` to the `size` bytes at
/// `value` (empty allowed), as setxattr(2) on tmpfs. `flags`: 0,
/// `XATTR_CREATE` (fail if it exists) or `XATTR_REPLACE` (fail if it does
/// not), from `<sys/xattr.h>`. Names take the `user.`, `trusted.` or
/// `security.` prefix; values up to 64 KiB count against the memory limit.
/// Sets ctime. Returns 0, or -1 with `errno`, in Linux's order: `EINVAL`
/// for other flag bits; `ERANGE` for an empty name or one past 255 bytes;
/// `E2BIG` for `size` > 65536; `EFAULT` for a NULL `name`, a NULL `value`
/// with `size` > 0, or a NULL `path`; `ENOENT`, `ENOTDIR`, `ENAMETOOLONG`;
/// `EOPNOTSUPP` for another prefix, `EINVAL` for a bare prefix; `EEXIST`
/// (`XATTR_CREATE`), `ENODATA` (`XATTR_REPLACE`); `ENOSPC`.
///
/// # Safety
/// `path` and `name` are NULL or NUL-terminated strings; `value` is NULL or
/// has `size` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_setxattr(
    path: *const c_char,
    name: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    on_default(|fs| setxattr(fs, path, name, value, size, flags))
}

/// `ermfs_setxattr` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_setxattr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_setxattr(
    fs: *const ermfs_t,
    path: *const c_char,
    name: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    on(fs, |fs| setxattr(fs, path, name, value, size, flags))
}

/// `ermfs_setxattr` on the file or directory open at `fd` (any access
/// mode). Returns 0, or -1 with `errno` as `ermfs_setxattr`, with `EBADF`
/// in place of the path errors (after the argument checks, as Linux).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `value` is NULL or has `size`
/// readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fsetxattr(
    fd: c_int,
    name: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    on_default(|fs| fsetxattr(fs, fd, name, value, size, flags))
}

/// `ermfs_fsetxattr` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_fsetxattr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_fsetxattr(
    fs: *const ermfs_t,
    fd: c_int,
    name: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    on(fs, |fs| fsetxattr(fs, fd, name, value, size, flags))
}

/// Copies the value of attribute `name` of `path` into `value` (up to
/// `size` bytes; sizes past 65536 count as 65536, as Linux) and returns its
/// length; with `size` 0, only returns the length (`value` may be NULL).
/// Returns -1 with `errno`: `EFAULT` for a NULL `name` or `path`; `ERANGE`
/// for an empty name or one past 255 bytes; `ENOENT`, `ENOTDIR`,
/// `ENAMETOOLONG`; `EOPNOTSUPP`/`EINVAL` for the prefix; `ENODATA` if there
/// is no such attribute; `ERANGE` if `size` is not 0 and too small (even
/// with a NULL `value`); then `EFAULT` for a NULL `value` with `size` > 0.
///
/// # Safety
/// `path` and `name` are NULL or NUL-terminated strings; `value` is NULL or
/// has `size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_getxattr(
    path: *const c_char,
    name: *const c_char,
    value: *mut c_void,
    size: usize,
) -> ssize_t {
    on_default(|fs| getxattr(fs, path, name, value, size))
}

/// `ermfs_getxattr` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_getxattr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_getxattr(
    fs: *const ermfs_t,
    path: *const c_char,
    name: *const c_char,
    value: *mut c_void,
    size: usize,
) -> ssize_t {
    on(fs, |fs| getxattr(fs, path, name, value, size))
}

/// `ermfs_getxattr` on the file or directory open at `fd`. Returns the
/// length, or -1 with `errno` as `ermfs_getxattr`, with `EBADF` in place of
/// the path errors.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `value` is NULL or has `size`
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fgetxattr(
    fd: c_int,
    name: *const c_char,
    value: *mut c_void,
    size: usize,
) -> ssize_t {
    on_default(|fs| fgetxattr(fs, fd, name, value, size))
}

/// `ermfs_fgetxattr` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_fgetxattr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_fgetxattr(
    fs: *const ermfs_t,
    fd: c_int,
    name: *const c_char,
    value: *mut c_void,
    size: usize,
) -> ssize_t {
    on(fs, |fs| fgetxattr(fs, fd, name, value, size))
}

/// Copies the names of `path`'s attributes into `list`, each followed by a
/// NUL, in descending byte order (as tmpfs), and returns the total length;
/// with `size` 0, only returns the length (`list` may be NULL). Sizes past
/// 65536 count as 65536. Returns -1 with `errno`: `EFAULT` for a NULL
/// `path`; `ENOENT`, `ENOTDIR`, `ENAMETOOLONG`; `ERANGE` if `size` is not 0
/// and too small (`E2BIG` if the list passes 64 KiB; even with a NULL
/// `list`); then `EFAULT` for a NULL `list` with `size` > 0.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `list` is NULL or has `size`
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_listxattr(
    path: *const c_char,
    list: *mut c_char,
    size: usize,
) -> ssize_t {
    on_default(|fs| listxattr(fs, path, list, size))
}

/// `ermfs_listxattr` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_listxattr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_listxattr(
    fs: *const ermfs_t,
    path: *const c_char,
    list: *mut c_char,
    size: usize,
) -> ssize_t {
    on(fs, |fs| listxattr(fs, path, list, size))
}

/// `ermfs_listxattr` on the file or directory open at `fd`. Returns the
/// length, or -1 with `errno` as `ermfs_listxattr` (`EBADF` for the path
/// errors).
///
/// # Safety
/// `list` is NULL or has `size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_flistxattr(fd: c_int, list: *mut c_char, size: usize) -> ssize_t {
    on_default(|fs| flistxattr(fs, fd, list, size))
}

/// `ermfs_flistxattr` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `list` as `ermfs_flistxattr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_flistxattr(
    fs: *const ermfs_t,
    fd: c_int,
    list: *mut c_char,
    size: usize,
) -> ssize_t {
    on(fs, |fs| flistxattr(fs, fd, list, size))
}

/// Removes attribute `name` of `path` and sets ctime. Returns 0, or -1 with
/// `errno` as `ermfs_getxattr` (`ENODATA` if there is no such attribute).
///
/// # Safety
/// `path` and `name` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_removexattr(path: *const c_char, name: *const c_char) -> c_int {
    on_default(|fs| removexattr(fs, path, name))
}

/// `ermfs_removexattr` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_removexattr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_removexattr(
    fs: *const ermfs_t,
    path: *const c_char,
    name: *const c_char,
) -> c_int {
    on(fs, |fs| removexattr(fs, path, name))
}

/// `ermfs_removexattr` on the file or directory open at `fd`. Returns 0,
/// or -1 with `errno` as `ermfs_removexattr`, with `EBADF` in place of the
/// path errors.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fremovexattr(fd: c_int, name: *const c_char) -> c_int {
    on_default(|fs| fremovexattr(fs, fd, name))
}

/// `ermfs_fremovexattr` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `name` as `ermfs_fremovexattr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_fremovexattr(
    fs: *const ermfs_t,
    fd: c_int,
    name: *const c_char,
) -> c_int {
    on(fs, |fs| fremovexattr(fs, fd, name))
}
