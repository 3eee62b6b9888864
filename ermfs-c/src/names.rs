//! Path calls: stat, truncate, unlink, rename, mkdir, rmdir, each as
//! `ermfs_X` (default instance) and `ermfs_fs_X` (explicit instance).

use std::ffi::{c_char, c_int};
use std::io;

use ermfs_core::Fs;
use libc::{mode_t, off_t};

use crate::boundary::path;
use crate::instance::{ermfs_t, on, on_default};
use crate::stat::fill;

fn stat(fs: &Fs, p: *const c_char, out: *mut libc::stat) -> io::Result<c_int> {
    // SAFETY: `p` is NULL or a C string, by the exported function's contract.
    let st = fs.stat(unsafe { path(p) }?)?;
    // SAFETY: `out` is NULL or a writable `struct stat`, by the contract.
    unsafe { fill(&st, out) }.map(|()| 0)
}

fn truncate(fs: &Fs, p: *const c_char, length: off_t) -> io::Result<c_int> {
    // SAFETY: as in `stat`.
    fs.truncate(unsafe { path(p) }?, length).map(|()| 0)
}

fn unlink(fs: &Fs, p: *const c_char) -> io::Result<c_int> {
    // SAFETY: as in `stat`.
    fs.unlink(unsafe { path(p) }?).map(|()| 0)
}

fn rename(fs: &Fs, from: *const c_char, to: *const c_char) -> io::Result<c_int> {
    // SAFETY: both NULL or C strings, by the contract.
    let (from, to) = unsafe { (path(from)?, path(to)?) };
    fs.rename(from, to).map(|()| 0)
}

fn mkdir(fs: &Fs, p: *const c_char, mode: mode_t) -> io::Result<c_int> {
    // SAFETY: as in `stat`.
    fs.mkdir(unsafe { path(p) }?, mode).map(|()| 0)
}

fn rmdir(fs: &Fs, p: *const c_char) -> io::Result<c_int> {
    // SAFETY: as in `stat`.
    fs.rmdir(unsafe { path(p) }?).map(|()| 0)
}

/// Fills `*buf` with the metadata of `path` (fields as `ermfs_fstat`).
/// Returns 0, or -1 with `errno` (`ENOENT`, `ENOTDIR`, `ENAMETOOLONG`, `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `buf` is NULL or a writable `struct stat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_stat(path: *const c_char, buf: *mut libc::stat) -> c_int {
    on_default(|fs| stat(fs, path, buf))
}

/// `ermfs_stat` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_stat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_stat(
    fs: *const ermfs_t,
    path: *const c_char,
    buf: *mut libc::stat,
) -> c_int {
    on(fs, |fs| stat(fs, path, buf))
}

/// Sets the length of file `path`. Returns 0, or -1 with `errno` (`EISDIR`,
/// `EINVAL` for a negative length, `ENOENT`, `ENOSPC`, `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_truncate(path: *const c_char, length: off_t) -> c_int {
    on_default(|fs| truncate(fs, path, length))
}

/// `ermfs_truncate` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_truncate(
    fs: *const ermfs_t,
    path: *const c_char,
    length: off_t,
) -> c_int {
    on(fs, |fs| truncate(fs, path, length))
}

/// Removes the name `path` of a file; open descriptors keep the file until
/// they close. Returns 0, or -1 with `errno` (`ENOENT`, `EISDIR`, `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_unlink(path: *const c_char) -> c_int {
    on_default(|fs| unlink(fs, path))
}

/// `ermfs_unlink` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_unlink(fs: *const ermfs_t, path: *const c_char) -> c_int {
    on(fs, |fs| unlink(fs, path))
}

/// Renames `oldpath` to `newpath`, replacing a file or an empty directory
/// there as `rename(2)` does. Returns 0, or -1 with `errno` (`ENOENT`,
/// `EISDIR`, `ENOTDIR`, `ENOTEMPTY`, `EINVAL` for a directory into itself, `EFAULT`).
///
/// # Safety
/// Both paths are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_rename(oldpath: *const c_char, newpath: *const c_char) -> c_int {
    on_default(|fs| rename(fs, oldpath, newpath))
}

/// `ermfs_rename` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; both paths are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_rename(
    fs: *const ermfs_t,
    oldpath: *const c_char,
    newpath: *const c_char,
) -> c_int {
    on(fs, |fs| rename(fs, oldpath, newpath))
}

/// Creates directory `path` with permission bits `mode`. Returns 0, or -1
/// with `errno` (`EEXIST`, `ENOENT`, `ENOTDIR`, `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_mkdir(path: *const c_char, mode: mode_t) -> c_int {
    on_default(|fs| mkdir(fs, path, mode))
}

/// `ermfs_mkdir` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_mkdir(
    fs: *const ermfs_t,
    path: *const c_char,
    mode: mode_t,
) -> c_int {
    on(fs, |fs| mkdir(fs, path, mode))
}

/// Removes the empty directory `path`. Returns 0, or -1 with `errno`
/// (`ENOTEMPTY`, `ENOENT`, `ENOTDIR`, `EBUSY` for `/`, `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_rmdir(path: *const c_char) -> c_int {
    on_default(|fs| rmdir(fs, path))
}

/// `ermfs_rmdir` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_rmdir(fs: *const ermfs_t, path: *const c_char) -> c_int {
    on(fs, |fs| rmdir(fs, path))
}
