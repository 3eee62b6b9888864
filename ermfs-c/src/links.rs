//! Hard and symbolic links: link, symlink, readlink, lstat, and lchown,
//! lutimens (on a symlink itself), each as `ermfs_X` (default instance) and
//! `ermfs_fs_X` (explicit instance) over one private body.

use std::ffi::{c_char, c_int};
use std::io;

use ermfs_core::Fs;
use libc::ssize_t;

use crate::boundary::{bytes_mut, err, path};
use crate::instance::{ermfs_t, on, on_default};
use crate::meta::read_times;
use crate::stat::fill;

fn link(fs: &Fs, old: *const c_char, new: *const c_char) -> io::Result<c_int> {
    // SAFETY: both NULL or C strings, by the exported function's contract.
    let (old, new) = unsafe { (path(old)?, path(new)?) };
    fs.link(old, new).map(|()| 0)
}

fn symlink(fs: &Fs, target: *const c_char, p: *const c_char) -> io::Result<c_int> {
    // SAFETY: as in `link`.
    let (target, p) = unsafe { (path(target)?, path(p)?) };
    fs.symlink(target, p).map(|()| 0)
}

fn readlink(fs: &Fs, p: *const c_char, buf: *mut c_char, size: usize) -> io::Result<ssize_t> {
    // Linux checks the size first (its `bufsiz` is a positive int).
    if size == 0 || size > c_int::MAX as usize {
        return Err(err(libc::EINVAL));
    }
    // SAFETY: `p` as in `link`.
    let target = fs.readlink(unsafe { path(p) }?)?;
    let n = target.len().min(size);
    // SAFETY: `buf` is NULL or has `size` >= `n` writable bytes, by the contract.
    unsafe { bytes_mut(buf.cast(), n) }?.copy_from_slice(&target[..n]);
    // n <= size <= INT_MAX: it fits ssize_t.
    Ok(n as ssize_t)
}

fn lchown(fs: &Fs, p: *const c_char, uid: libc::uid_t, gid: libc::gid_t) -> io::Result<c_int> {
    // SAFETY: `p` as in `link`.
    fs.lchown(unsafe { path(p) }?, uid, gid).map(|()| 0)
}

fn lutimens(fs: &Fs, p: *const c_char, times: *const libc::timespec) -> io::Result<c_int> {
    // SAFETY: `times` is NULL or two timespecs, `p` as in `link`, by the contract.
    let (times, p) = unsafe { (read_times(times)?, path(p)?) };
    match times {
        Ok([atime, mtime]) => fs.lutimens(p, atime, mtime).map(|()| 0),
        Err(invalid) => {
            fs.lstat(p)?;
            Err(invalid)
        }
    }
}

fn lstat(fs: &Fs, p: *const c_char, out: *mut libc::stat) -> io::Result<c_int> {
    // SAFETY: `p` as in `link`.
    let st = fs.lstat(unsafe { path(p) }?)?;
    // SAFETY: `out` is NULL or a writable `struct stat`, by the contract.
    unsafe { fill(&st, out) }.map(|()| 0)
}

/// Makes `newpath` one more name of the file or symlink `oldpath`, as
/// link(2) (a symlink is linked itself, not followed): both names show the
/// same inode, `st_nlink` counts them, and the content lives until the last
/// name and the last descriptor are gone. Returns 0, or -1 with `errno`
/// (`ENOENT`, `ENOTDIR`, `ELOOP`, `ENAMETOOLONG`, `EEXIST`, `EPERM` for a
/// directory, `EMLINK`, `ENOSPC`, `EFAULT`).
///
/// # Safety
/// Both paths are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_link(oldpath: *const c_char, newpath: *const c_char) -> c_int {
    on_default(|fs| link(fs, oldpath, newpath))
}

/// `ermfs_link` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; both paths are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_link(
    fs: *const ermfs_t,
    oldpath: *const c_char,
    newpath: *const c_char,
) -> c_int {
    on(fs, |fs| link(fs, oldpath, newpath))
}

/// Creates the symlink `linkpath` holding `target` (any bytes; it need not
/// exist; a relative target is resolved against the link's directory when
/// followed), as symlink(2). Path calls follow symlinks (at most 40, then
/// `ELOOP`), except `ermfs_lstat`, `ermfs_readlink` and `O_NOFOLLOW` on the
/// last component. Returns 0, or -1 with `errno` (`ENOENT` for an empty
/// target, `ENAMETOOLONG` past 4096 bytes, `EEXIST`, `ENOENT`, `ENOTDIR`,
/// `ENOSPC` over the memory limit, `EFAULT`).
///
/// # Safety
/// Both strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_symlink(target: *const c_char, linkpath: *const c_char) -> c_int {
    on_default(|fs| symlink(fs, target, linkpath))
}

/// `ermfs_symlink` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; both strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_symlink(
    fs: *const ermfs_t,
    target: *const c_char,
    linkpath: *const c_char,
) -> c_int {
    on(fs, |fs| symlink(fs, target, linkpath))
}

/// Copies the target of the symlink `path` into `buf`, truncated to
/// `bufsiz` bytes and NOT NUL-terminated, as readlink(2); returns the bytes
/// copied. Returns -1 with `errno`: `EINVAL` for `bufsiz` 0 or past
/// `INT_MAX` (checked first), `ENOENT`, `ENOTDIR`, `ELOOP`,
/// `ENAMETOOLONG`, `EINVAL` if `path` is not a symlink, `EFAULT` for a NULL
/// `path` or `buf`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `buf` is NULL or has `bufsiz`
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_readlink(
    path: *const c_char,
    buf: *mut c_char,
    bufsiz: usize,
) -> ssize_t {
    on_default(|fs| readlink(fs, path, buf, bufsiz))
}

/// `ermfs_readlink` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_readlink`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_readlink(
    fs: *const ermfs_t,
    path: *const c_char,
    buf: *mut c_char,
    bufsiz: usize,
) -> ssize_t {
    on(fs, |fs| readlink(fs, path, buf, bufsiz))
}

/// Fills `*buf` with the metadata of `path` itself, as lstat(2): like
/// `ermfs_stat`, but a symlink as the last component is reported
/// (`S_IFLNK`, mode 0777, size = the target's length), not followed, unless
/// the path ends in `/`. Returns 0, or -1 with `errno` (`ENOENT`, `ENOTDIR`,
/// `ELOOP`, `ENAMETOOLONG`, `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `buf` is NULL or a writable `struct stat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_lstat(path: *const c_char, buf: *mut libc::stat) -> c_int {
    on_default(|fs| lstat(fs, path, buf))
}

/// `ermfs_lstat` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_lstat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_lstat(
    fs: *const ermfs_t,
    path: *const c_char,
    buf: *mut libc::stat,
) -> c_int {
    on(fs, |fs| lstat(fs, path, buf))
}

/// `ermfs_chown` of `path` itself, as lchown(2): a symlink as the last
/// component gets the new owner, not its target. Returns 0, or -1 with
/// `errno` as `ermfs_lstat`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_lchown(
    path: *const c_char,
    owner: libc::uid_t,
    group: libc::gid_t,
) -> c_int {
    on_default(|fs| lchown(fs, path, owner, group))
}

/// `ermfs_lchown` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_lchown(
    fs: *const ermfs_t,
    path: *const c_char,
    owner: libc::uid_t,
    group: libc::gid_t,
) -> c_int {
    on(fs, |fs| lchown(fs, path, owner, group))
}

/// `ermfs_utimens` of `path` itself, as utimensat(2) with
/// `AT_SYMLINK_NOFOLLOW`: a symlink as the last component gets the times,
/// not its target. Returns 0, or -1 with `errno` as `ermfs_utimens`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `times` is NULL or points to
/// two `struct timespec`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_lutimens(
    path: *const c_char,
    times: *const libc::timespec,
) -> c_int {
    on_default(|fs| lutimens(fs, path, times))
}

/// `ermfs_lutimens` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_lutimens`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_lutimens(
    fs: *const ermfs_t,
    path: *const c_char,
    times: *const libc::timespec,
) -> c_int {
    on(fs, |fs| lutimens(fs, path, times))
}
