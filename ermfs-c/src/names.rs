//! Path calls: stat, truncate, unlink, rename, rename2 (with `RENAME_*`
//! flags), mkdir, rmdir, mknod, mkfifo, each as `ermfs_X` (default
//! instance) and `ermfs_fs_X` (explicit instance).

use std::ffi::{c_char, c_int, c_uint};
use std::io;

use ermfs_core::{Fs, RenameFlags};
use libc::{dev_t, mode_t, off_t};

use crate::boundary::{err, path};
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

/// `ermfs_rename2` `flags`: fail with `EEXIST` if the target exists (the
/// value of `RENAME_NOREPLACE`).
pub const ERMFS_RENAME_NOREPLACE: c_uint = 1;
/// `ermfs_rename2` `flags`: swap the two names, which must both exist (the
/// value of `RENAME_EXCHANGE`).
pub const ERMFS_RENAME_EXCHANGE: c_uint = 2;
/// `ermfs_rename2` `flags`: leave a whiteout (a character device 0:0) at the
/// old name (the value of `RENAME_WHITEOUT`).
pub const ERMFS_RENAME_WHITEOUT: c_uint = 4;
// Literals so cbindgen can write them into ermfs.h; checked against libc here.
const _: () = assert!(
    ERMFS_RENAME_NOREPLACE == libc::RENAME_NOREPLACE
        && ERMFS_RENAME_EXCHANGE == libc::RENAME_EXCHANGE
        && ERMFS_RENAME_WHITEOUT == libc::RENAME_WHITEOUT
);

fn rename2(fs: &Fs, from: *const c_char, to: *const c_char, flags: c_uint) -> io::Result<c_int> {
    // Linux checks the flags before it reads either path (`do_renameat2`):
    // unknown bits, then EXCHANGE with another flag.
    let flags = RenameFlags::from_bits(flags)?;
    if flags.contains(RenameFlags::EXCHANGE) && flags != RenameFlags::EXCHANGE {
        return Err(err(libc::EINVAL));
    }
    // SAFETY: both NULL or C strings, by the contract.
    let (from, to) = unsafe { (path(from)?, path(to)?) };
    fs.rename_with_flags(from, to, flags).map(|()| 0)
}

fn mknod(fs: &Fs, p: *const c_char, mode: mode_t, dev: dev_t) -> io::Result<c_int> {
    // Linux checks the type before it reads the path (`may_mknod` comes
    // before the lookup that meets a bad pointer); `Fs::mknod` does the
    // same for the paths it is given.
    if p.is_null() {
        return Err(err(match mode & libc::S_IFMT {
            libc::S_IFDIR => libc::EPERM,
            0 | libc::S_IFREG | libc::S_IFIFO | libc::S_IFSOCK | libc::S_IFCHR | libc::S_IFBLK => {
                libc::EFAULT
            }
            _ => libc::EINVAL,
        }));
    }
    // SAFETY: as in `stat`.
    fs.mknod(unsafe { path(p) }?, mode, dev).map(|()| 0)
}

fn mkfifo(fs: &Fs, p: *const c_char, mode: mode_t) -> io::Result<c_int> {
    // SAFETY: as in `stat`.
    fs.mkfifo(unsafe { path(p) }?, mode).map(|()| 0)
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

/// Renames `oldpath` to `newpath` as `renameat2(2)` with `flags`: 0 (as
/// `ermfs_rename`) or `ERMFS_RENAME_NOREPLACE` (fail if `newpath` exists,
/// checked and done in one step), `ERMFS_RENAME_EXCHANGE` (swap two existing
/// names atomically, directories and files alike), `ERMFS_RENAME_WHITEOUT`
/// (leave a character device 0:0 at `oldpath`; any instance may), or `NOREPLACE | WHITEOUT`; the platform's `RENAME_*` are the
/// same values. Returns 0, or -1 with `errno` (`EINVAL` for an unknown flag
/// bit or `EXCHANGE` with another flag, checked first, and as
/// `ermfs_rename`; `EEXIST` with `NOREPLACE`; `ENOENT` for a missing name,
/// with `EXCHANGE` either; `EFAULT`).
///
/// # Safety
/// Both paths are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_rename2(
    oldpath: *const c_char,
    newpath: *const c_char,
    flags: c_uint,
) -> c_int {
    on_default(|fs| rename2(fs, oldpath, newpath, flags))
}

/// `ermfs_rename2` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; both paths are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_rename2(
    fs: *const ermfs_t,
    oldpath: *const c_char,
    newpath: *const c_char,
    flags: c_uint,
) -> c_int {
    on(fs, |fs| rename2(fs, oldpath, newpath, flags))
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

/// Makes the node `path` as `mknod(2)`: the type from `mode & S_IFMT`
/// (`S_IFIFO`, `S_IFSOCK`, `S_IFREG` or 0 for a regular file, and for an
/// instance owned by root `S_IFCHR` and `S_IFBLK`, device number `dev` as
/// `makedev` makes it), permission bits `mode & 07777` less the umask.
/// `ermfs_stat` reports `dev` as `st_rdev`. Opening a FIFO, device or
/// socket gives `ENXIO`: nothing serves them in the process. Returns 0, or
/// -1 with `errno` (`EPERM` for `S_IFDIR` or a device other than the
/// whiteout 0:0 made by an instance not owned by root, `EINVAL` for any other type, both before the path is
/// looked at; `EEXIST`, `ENOENT`, `ENOTDIR`, `ENAMETOOLONG`, `ENOSPC`,
/// `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_mknod(path: *const c_char, mode: mode_t, dev: dev_t) -> c_int {
    on_default(|fs| mknod(fs, path, mode, dev))
}

/// `ermfs_mknod` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_mknod(
    fs: *const ermfs_t,
    path: *const c_char,
    mode: mode_t,
    dev: dev_t,
) -> c_int {
    on(fs, |fs| mknod(fs, path, mode, dev))
}

/// Makes the FIFO `path` with permission bits `mode & 07777` less the umask
/// (`ermfs_mknod` with `S_IFIFO`). Returns 0, or -1 with `errno` as
/// `ermfs_mknod`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_mkfifo(path: *const c_char, mode: mode_t) -> c_int {
    on_default(|fs| mkfifo(fs, path, mode))
}

/// `ermfs_mkfifo` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_mkfifo(
    fs: *const ermfs_t,
    path: *const c_char,
    mode: mode_t,
) -> c_int {
    on(fs, |fs| mkfifo(fs, path, mode))
}
