//! Kernel descriptors: `ermfs_export_memfd` (a file as a memfd) and
//! `ermfs_import_fd` (a kernel fd's bytes as a file).

use std::ffi::{c_char, c_int};
use std::io;
use std::os::fd::{BorrowedFd, IntoRawFd};

use ermfs_core::{ExportFlags, Fs};

use crate::boundary::{err, path};
use crate::instance::{ermfs_t, on, on_default};

/// `ermfs_export_memfd` flag: seal the memfd (`F_SEAL_WRITE`, `F_SEAL_GROW`,
/// `F_SEAL_SHRINK`, `F_SEAL_SEAL`): a read-only snapshot safe to hand out.
pub const ERMFS_EXPORT_SEALED: c_int = 1;
/// `ermfs_export_memfd` flag: make the memfd executable (for `fexecve`).
pub const ERMFS_EXPORT_EXECUTABLE: c_int = 2;
/// `ermfs_export_memfd` flag: back the memfd with huge pages (`MFD_HUGETLB`).
pub const ERMFS_EXPORT_HUGETLB: c_int = 4;
// Literals so cbindgen can write them into ermfs.h; checked against ermfd here.
const _: () = assert!(
    ERMFS_EXPORT_SEALED as u32 == ExportFlags::SEALED.bits()
        && ERMFS_EXPORT_EXECUTABLE as u32 == ExportFlags::EXECUTABLE.bits()
        && ERMFS_EXPORT_HUGETLB as u32 == ExportFlags::HUGETLB.bits()
);

fn export(fs: &Fs, p: *const c_char, flags: c_int) -> io::Result<c_int> {
    // A negative int has high bits set, which from_bits rejects with EINVAL.
    let flags = ExportFlags::from_bits(flags as u32)?;
    // SAFETY: `p` is NULL or a C string, by the exported function's contract.
    let fd = fs.export_memfd(unsafe { path(p) }?, flags)?;
    Ok(fd.into_raw_fd())
}

fn import(fs: &Fs, p: *const c_char, fd: c_int, flags: c_int) -> io::Result<i64> {
    if fd < 0 {
        return Err(err(libc::EBADF));
    }
    // SAFETY: `p` is NULL or a C string, by the contract.
    let p = unsafe { path(p) }?;
    // SAFETY: non-negative, and the caller keeps it open for this call (a
    // descriptor that is not open makes the kernel answer EBADF).
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let n = fs.import_fd(p, fd, flags)?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A new kernel memfd holding a snapshot of file `path` (later writes on
/// either side do not show on the other), offset 0, close-on-exec, ready for
/// `read`, `mmap`, `fstat`, `lseek`, `fexecve` or passing to another process.
/// `flags`: 0 or an OR of `ERMFS_EXPORT_SEALED` (sealed against writes,
/// growth and shrinking), `ERMFS_EXPORT_EXECUTABLE` (mode 0755, for
/// `fexecve`) and `ERMFS_EXPORT_HUGETLB` (huge pages where the kernel allows).
/// Returns the fd (close it with `close(2)`), or -1 with `errno` (`ENOENT`,
/// `EISDIR`, `ENOTDIR`, `EINVAL` for unknown flags, `EIO` for a corrupt
/// block, `EFAULT`, or the kernel's `memfd_create` errors such as `EMFILE`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_export_memfd(path: *const c_char, flags: c_int) -> c_int {
    on_default(|fs| export(fs, path, flags))
}

/// `ermfs_export_memfd` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_export_memfd(
    fs: *const ermfs_t,
    path: *const c_char,
    flags: c_int,
) -> c_int {
    on(fs, |fs| export(fs, path, flags))
}

/// Creates or replaces file `path` (mode 0644 when new) with the bytes of
/// kernel fd `fd` from its current offset to its end (a memfd, a regular
/// file, a pipe, a socket); `flags` 0, or `O_EXCL` to fail with `EEXIST` if
/// `path` exists. The fd's offset is left alone for a regular file or memfd
/// and at the end for a stream. Returns the bytes imported, or -1 with
/// `errno` (`EBADF`, `EEXIST`, `EISDIR`, `ENOENT` for a missing parent,
/// `ENOSPC`, `EINVAL` for other flags, `EFAULT`); the file is unchanged on error.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `fd` stays open during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_import_fd(path: *const c_char, fd: c_int, flags: c_int) -> i64 {
    on_default(|fs| import(fs, path, fd, flags))
}

/// `ermfs_import_fd` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated
/// string; `fd` stays open during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_import_fd(
    fs: *const ermfs_t,
    path: *const c_char,
    fd: c_int,
    flags: c_int,
) -> i64 {
    on(fs, |fs| import(fs, path, fd, flags))
}
