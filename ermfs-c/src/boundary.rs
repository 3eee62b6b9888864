//! The edge between C and Rust: one call wrapper and the pointer helpers.
//!
//! Every exported function runs its body through [`call`], which catches a
//! panic (it must not unwind into C), turns an `io::Error` into `-1`/`NULL`
//! plus `errno`, and leaves `errno` alone on success. The only code here that
//! reads C memory is in the small `unsafe fn`s below, each stating what the
//! caller of the exported function promised.

use std::ffi::{CStr, OsStr, c_char, c_int, c_void};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// A C return type and the value it takes on failure.
pub(crate) trait Failure {
    /// The failure value (`-1` or `NULL`).
    const FAILED: Self;
}

impl Failure for c_int {
    const FAILED: Self = -1;
}

impl Failure for isize {
    const FAILED: Self = -1;
}

impl Failure for i64 {
    const FAILED: Self = -1;
}

impl<T> Failure for *mut T {
    const FAILED: Self = std::ptr::null_mut();
}

/// Whether a panic has been reported on stderr already.
static PANIC_LOGGED: AtomicBool = AtomicBool::new(false);

/// Runs `body`, turning an error into `R::FAILED` with `errno` set (`EIO`
/// when the error has no errno) and a panic into `R::FAILED` with `EIO`,
/// logged once per process.
pub(crate) fn call<R: Failure>(body: impl FnOnce() -> io::Result<R>) -> R {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => {
            set_errno(e.raw_os_error().unwrap_or(libc::EIO));
            R::FAILED
        }
        Err(_payload) => {
            if !PANIC_LOGGED.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "ermfs: internal panic caught at the C boundary; the call failed with EIO \
                     (later panics are not logged)"
                );
            }
            set_errno(libc::EIO);
            R::FAILED
        }
    }
}

/// Sets the calling thread's `errno` (libc's, so C sees it).
pub(crate) fn set_errno(code: c_int) {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = code };
}

/// `EFAULT`/`EINVAL`/... as an `io::Error`.
pub(crate) fn err(code: c_int) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// A C path: its bytes up to the NUL, any encoding.
///
/// # Errors
/// `EFAULT` for `NULL`.
///
/// # Safety
/// `path` is `NULL` or points to a NUL-terminated string that stays valid and
/// unchanged for `'a`.
pub(crate) unsafe fn path<'a>(path: *const c_char) -> io::Result<&'a Path> {
    if path.is_null() {
        return Err(err(libc::EFAULT));
    }
    // SAFETY: not NULL, and NUL-terminated and live for 'a by the contract.
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    Ok(Path::new(OsStr::from_bytes(bytes)))
}

/// The bytes of a C string up to its NUL (an xattr name, ...).
///
/// # Errors
/// `EFAULT` for `NULL`.
///
/// # Safety
/// As [`path`].
pub(crate) unsafe fn c_bytes<'a>(s: *const c_char) -> io::Result<&'a [u8]> {
    if s.is_null() {
        return Err(err(libc::EFAULT));
    }
    // SAFETY: not NULL, and NUL-terminated and live for 'a by the contract.
    Ok(unsafe { CStr::from_ptr(s) }.to_bytes())
}

/// `len` values of `T` at `ptr` (a C array), to read from.
///
/// # Errors
/// `EFAULT` for `NULL` (with `len > 0`), more than `isize::MAX` bytes or a
/// range past the user address space.
///
/// # Safety
/// Unless `len` is 0, `ptr` is `NULL` or points to `len` initialised,
/// aligned `T`s that nothing writes for `'a`.
pub(crate) unsafe fn array<'a, T>(ptr: *const T, len: usize) -> io::Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    let size = len.saturating_mul(size_of::<T>());
    check_buf(ptr.cast(), size)?;
    // SAFETY: non-NULL, at most isize::MAX bytes, initialised, aligned and
    // unaliased by the contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// One past the highest address a buffer in user space can reach: the
/// largest `TASK_SIZE` Linux has on this architecture (x86-64 with 5-level
/// paging: 56 bits less a page; arm64 with 52-bit addresses). A machine with
/// a smaller address space ends lower, but a buffer running past its end
/// cannot be told from any other buffer shorter than its length: only a
/// range that no machine could map is refused. Elsewhere only a length past
/// `isize::MAX` (which no Rust slice may have) is.
#[cfg(target_arch = "x86_64")]
const USER_END: usize = (1 << 56) - 4096;
/// See the x86-64 value.
#[cfg(target_arch = "aarch64")]
const USER_END: usize = 1 << 52;
/// See the x86-64 value.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const USER_END: usize = usize::MAX;

/// Checks a C buffer: empty is fine even at `NULL`, otherwise `NULL`, a
/// length past `isize::MAX` or a range reaching past [`USER_END`] is
/// `EFAULT`, as the kernel's `access_ok` says (so `SSIZE_MAX` bytes are
/// `EFAULT` whatever the buffer, as `read(2)` and `write(2)` say).
fn check_buf(ptr: *const c_void, len: usize) -> io::Result<()> {
    let end = (ptr as usize).checked_add(len);
    if ptr.is_null() || len > isize::MAX as usize || end.is_none_or(|end| end > USER_END) {
        return Err(err(libc::EFAULT));
    }
    Ok(())
}

/// `len` bytes at `ptr`, to read from.
///
/// # Errors
/// `EFAULT` for `NULL` (with `len > 0`), `len > isize::MAX` or a range past
/// the user address space.
///
/// # Safety
/// Unless `len` is 0, `ptr` is `NULL` or points to `len` readable bytes that
/// nothing writes for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const c_void, len: usize) -> io::Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    check_buf(ptr, len)?;
    // SAFETY: non-NULL, len <= isize::MAX, and readable and unaliased by the contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// `len` bytes at `ptr`, to write into.
///
/// # Errors
/// As [`bytes`].
///
/// # Safety
/// Unless `len` is 0, `ptr` is `NULL` or points to `len` writable bytes that
/// nothing else touches for `'a`.
pub(crate) unsafe fn bytes_mut<'a>(ptr: *mut c_void, len: usize) -> io::Result<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    check_buf(ptr, len)?;
    // SAFETY: non-NULL, len <= isize::MAX, and writable and unaliased by the contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) })
}

/// Writes `value` to the caller's `out`.
///
/// # Errors
/// `EFAULT` for `NULL`.
///
/// # Safety
/// `out` is `NULL` or valid for writing one `T` (suitably aligned).
pub(crate) unsafe fn put<T>(out: *mut T, value: T) -> io::Result<()> {
    if out.is_null() {
        return Err(err(libc::EFAULT));
    }
    // SAFETY: non-NULL and writable by the contract; `T` is plain data here
    // (C structs), so not dropping the old value loses nothing.
    unsafe { out.write(value) };
    Ok(())
}

/// The value behind a C `const T *`.
///
/// # Errors
/// `EFAULT` for `NULL`.
///
/// # Safety
/// `ptr` is `NULL` or points to a live `T` for `'a` that nothing mutates then.
pub(crate) unsafe fn get<'a, T>(ptr: *const T) -> io::Result<&'a T> {
    // SAFETY: a valid shared reference when non-NULL, by the contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| err(libc::EFAULT))
}

/// The value behind a C `T *` handle, to change.
///
/// # Errors
/// `EFAULT` for `NULL`.
///
/// # Safety
/// `ptr` is `NULL` or points to a live `T` for `'a` that nothing else uses then.
pub(crate) unsafe fn get_mut<'a, T>(ptr: *mut T) -> io::Result<&'a mut T> {
    // SAFETY: a valid unique reference when non-NULL, by the contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| err(libc::EFAULT))
}
