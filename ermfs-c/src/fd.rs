//! Descriptor calls: open, read, write, pread, pwrite, lseek, ftruncate,
//! fstat, close, dup, dup2, fsync, each as `ermfs_X` (default instance) and
//! `ermfs_fs_X` (explicit instance) over one private body.

use std::ffi::{c_char, c_int, c_void};
use std::io;

use ermfs_core::Fs;
use libc::{mode_t, off_t, ssize_t};

use crate::boundary::{bytes, bytes_mut, path};
use crate::instance::{ermfs_t, on, on_default};
use crate::stat::fill;

fn open(fs: &Fs, p: *const c_char, flags: c_int, mode: mode_t) -> io::Result<c_int> {
    // SAFETY: `p` is NULL or a C string, by the exported function's contract.
    fs.open(unsafe { path(p) }?, flags, mode)
}

/// Runs `op` on the caller's buffer `buf` (from [`bytes`] or [`bytes_mut`]
/// on a pointer that `null` says is NULL). A bad buffer is reported where
/// Linux reports it, found by running `op` on an empty buffer first: a
/// range past the user address space (`access_ok`) right after the
/// descriptor checks (`EBADF`, and the `EINVAL` of a negative `pread` or
/// `pwrite` offset, checked before those), a NULL buffer only after every
/// other check (`EISDIR`, an offset past the limit), where the kernel would
/// meet it copying. (The kernel copies nothing at the end of a file, so
/// its `read` of a NULL buffer there returns 0; ERMFS says `EFAULT`, see
/// SEMANTICS.md.)
fn with_buf<B: Default, T>(
    buf: io::Result<B>,
    null: bool,
    op: impl Fn(B) -> io::Result<T>,
) -> io::Result<T> {
    match buf {
        Ok(buf) => op(buf),
        Err(fault) => match op(B::default()) {
            Err(e) if null => Err(e),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBADF | libc::EINVAL)) => Err(e),
            _ => Err(fault),
        },
    }
}

// The byte counts below are at most the buffer's length, which `bytes` and
// `bytes_mut` bound by `isize::MAX`, so they fit `ssize_t`.

fn read(fs: &Fs, fd: c_int, buf: *mut c_void, count: usize) -> io::Result<ssize_t> {
    // SAFETY: `buf` holds `count` writable bytes unless NULL, by the contract.
    let b = unsafe { bytes_mut(buf, count) };
    with_buf(b, buf.is_null(), |b| fs.read(fd, b)).map(|n| n as ssize_t)
}

fn write(fs: &Fs, fd: c_int, buf: *const c_void, count: usize) -> io::Result<ssize_t> {
    // SAFETY: `buf` holds `count` readable bytes unless NULL, by the contract.
    let b = unsafe { bytes(buf, count) };
    with_buf(b, buf.is_null(), |b| fs.write(fd, b)).map(|n| n as ssize_t)
}

fn pread(fs: &Fs, fd: c_int, buf: *mut c_void, count: usize, off: off_t) -> io::Result<ssize_t> {
    // SAFETY: as in `read`.
    let b = unsafe { bytes_mut(buf, count) };
    with_buf(b, buf.is_null(), |b| fs.pread(fd, b, off)).map(|n| n as ssize_t)
}

fn pwrite(fs: &Fs, fd: c_int, buf: *const c_void, count: usize, off: off_t) -> io::Result<ssize_t> {
    // SAFETY: as in `write`.
    let b = unsafe { bytes(buf, count) };
    with_buf(b, buf.is_null(), |b| fs.pwrite(fd, b, off)).map(|n| n as ssize_t)
}

fn fstat(fs: &Fs, fd: c_int, out: *mut libc::stat) -> io::Result<c_int> {
    let st = fs.fstat(fd)?;
    // SAFETY: `out` is NULL or a writable `struct stat`, by the contract.
    unsafe { fill(&st, out) }.map(|()| 0)
}

/// Opens `path` with the platform's `O_*` flags (`O_RDONLY`, `O_WRONLY`,
/// `O_RDWR`, `O_CREAT`, `O_EXCL`, `O_TRUNC`, `O_APPEND`, `O_DIRECTORY`,
/// `O_NOFOLLOW`; others are ignored; symlinks are followed, at most 40); `mode` gives a created file's permission bits.
/// Returns a descriptor of the default instance, or -1 with `errno` (`ENOENT`,
/// `EEXIST`, `EISDIR`, `ENOTDIR`, `ELOOP`, `ENAMETOOLONG`, `EMFILE`, `ENOSPC`,
/// `EINVAL`, `EFAULT` for NULL).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    on_default(|fs| open(fs, path, flags, mode))
}

/// `ermfs_open` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_open(
    fs: *const ermfs_t,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    on(fs, |fs| open(fs, path, flags, mode))
}

/// Reads up to `count` bytes at the descriptor's offset and advances it.
/// Returns the bytes read (0 at end of file), or -1 with `errno` (`EBADF`,
/// `EISDIR`, `EINVAL`, `EFAULT` for a NULL `buf`, also at the end of the
/// file, or a range past the user address space, such as `count` =
/// `SSIZE_MAX`).
///
/// # Safety
/// `buf` is NULL or has `count` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_read(fd: c_int, buf: *mut c_void, count: usize) -> ssize_t {
    on_default(|fs| read(fs, fd, buf, count))
}

/// `ermfs_read` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `buf` is NULL or has `count` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_read(
    fs: *const ermfs_t,
    fd: c_int,
    buf: *mut c_void,
    count: usize,
) -> ssize_t {
    on(fs, |fs| read(fs, fd, buf, count))
}

/// Writes `count` bytes at the descriptor's offset (at the end with
/// `O_APPEND`) and advances it. Returns `count`, or -1 with `errno` (`EBADF`,
/// `EINVAL`, `EFBIG`, `ENOSPC` past the memory limit with the file
/// unchanged, `EFAULT` for a NULL `buf` or a range past the user address
/// space, such as `count` = `SSIZE_MAX`).
///
/// # Safety
/// `buf` is NULL or has `count` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_write(fd: c_int, buf: *const c_void, count: usize) -> ssize_t {
    on_default(|fs| write(fs, fd, buf, count))
}

/// `ermfs_write` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `buf` is NULL or has `count` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_write(
    fs: *const ermfs_t,
    fd: c_int,
    buf: *const c_void,
    count: usize,
) -> ssize_t {
    on(fs, |fs| write(fs, fd, buf, count))
}

/// Reads up to `count` bytes at `offset`, leaving the descriptor's offset
/// alone. Errors as `ermfs_read`, plus `EINVAL` for a negative offset.
///
/// # Safety
/// `buf` is NULL or has `count` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_pread(
    fd: c_int,
    buf: *mut c_void,
    count: usize,
    offset: off_t,
) -> ssize_t {
    on_default(|fs| pread(fs, fd, buf, count, offset))
}

/// `ermfs_pread` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `buf` is NULL or has `count` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_pread(
    fs: *const ermfs_t,
    fd: c_int,
    buf: *mut c_void,
    count: usize,
    offset: off_t,
) -> ssize_t {
    on(fs, |fs| pread(fs, fd, buf, count, offset))
}

/// Writes `count` bytes at `offset`, leaving the descriptor's offset alone
/// (an `O_APPEND` descriptor appends, as on Linux). Errors as `ermfs_write`,
/// plus `EINVAL` for a negative offset.
///
/// # Safety
/// `buf` is NULL or has `count` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_pwrite(
    fd: c_int,
    buf: *const c_void,
    count: usize,
    offset: off_t,
) -> ssize_t {
    on_default(|fs| pwrite(fs, fd, buf, count, offset))
}

/// `ermfs_pwrite` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `buf` is NULL or has `count` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_pwrite(
    fs: *const ermfs_t,
    fd: c_int,
    buf: *const c_void,
    count: usize,
    offset: off_t,
) -> ssize_t {
    on(fs, |fs| pwrite(fs, fd, buf, count, offset))
}

/// Moves the descriptor's offset (`SEEK_SET`, `SEEK_CUR`, `SEEK_END`,
/// `SEEK_DATA`, `SEEK_HOLE`). Returns the new offset, or -1 with `errno`
/// (`EBADF`, `EINVAL`, `ENXIO`).
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_lseek(fd: c_int, offset: off_t, whence: c_int) -> off_t {
    on_default(|fs| fs.lseek(fd, offset, whence))
}

/// `ermfs_lseek` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_lseek(
    fs: *const ermfs_t,
    fd: c_int,
    offset: off_t,
    whence: c_int,
) -> off_t {
    on(fs, |fs| fs.lseek(fd, offset, whence))
}

/// Sets the length of an open file. Returns 0, or -1 with `errno` (`EBADF`,
/// `EINVAL` for a negative length or a descriptor not open for writing,
/// `ENOSPC`).
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_ftruncate(fd: c_int, length: off_t) -> c_int {
    on_default(|fs| fs.ftruncate(fd, length).map(|()| 0))
}

/// `ermfs_ftruncate` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_ftruncate(fs: *const ermfs_t, fd: c_int, length: off_t) -> c_int {
    on(fs, |fs| fs.ftruncate(fd, length).map(|()| 0))
}

/// Fills `*buf` with the metadata of the file open at `fd` (`st_ino`,
/// `st_mode`, `st_nlink`, `st_uid`/`st_gid` = the owner (the process's
/// real IDs unless `ermfs_chown` changed them), `st_size`, `st_blocks` =
/// memory held in 512-byte units, `st_blksize`, `st_atim`/`st_mtim`/`st_ctim`
/// to the nanosecond; `st_rdev` = a device node's number from `ermfs_mknod`,
/// else 0; `st_dev` is 0). Returns 0, or -1 with `errno` (`EBADF`, `EFAULT`).
///
/// # Safety
/// `buf` is NULL or a writable `struct stat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fstat(fd: c_int, buf: *mut libc::stat) -> c_int {
    on_default(|fs| fstat(fs, fd, buf))
}

/// `ermfs_fstat` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `buf` is NULL or a writable `struct stat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_fstat(
    fs: *const ermfs_t,
    fd: c_int,
    buf: *mut libc::stat,
) -> c_int {
    on(fs, |fs| fstat(fs, fd, buf))
}

/// Closes `fd`; the file's last close compresses it (per the instance's
/// policy) or frees it if unlinked. Returns 0, or -1 with `errno` `EBADF`.
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_close(fd: c_int) -> c_int {
    on_default(|fs| fs.close(fd).map(|()| 0))
}

/// `ermfs_close` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_close(fs: *const ermfs_t, fd: c_int) -> c_int {
    on(fs, |fs| fs.close(fd).map(|()| 0))
}

/// A new descriptor (the lowest free) sharing `fd`'s open file description
/// (offset, flags). Returns it, or -1 with `errno` (`EBADF`, `EMFILE`).
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_dup(fd: c_int) -> c_int {
    on_default(|fs| fs.dup(fd))
}

/// `ermfs_dup` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_dup(fs: *const ermfs_t, fd: c_int) -> c_int {
    on(fs, |fs| fs.dup(fd))
}

/// Makes `newfd` share `oldfd`'s open file description, closing what `newfd`
/// held. Returns `newfd`, or -1 with `errno` `EBADF`.
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_dup2(oldfd: c_int, newfd: c_int) -> c_int {
    on_default(|fs| fs.dup2(oldfd, newfd))
}

/// `ermfs_dup2` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_dup2(fs: *const ermfs_t, oldfd: c_int, newfd: c_int) -> c_int {
    on(fs, |fs| fs.dup2(oldfd, newfd))
}

/// Checks `fd` (the data is in memory: nothing to flush). Returns 0, or -1
/// with `errno` `EBADF`.
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_fsync(fd: c_int) -> c_int {
    on_default(|fs| fs.fsync(fd).map(|()| 0))
}

/// `ermfs_fsync` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_fsync(fs: *const ermfs_t, fd: c_int) -> c_int {
    on(fs, |fs| fs.fsync(fd).map(|()| 0))
}
