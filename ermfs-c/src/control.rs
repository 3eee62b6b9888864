//! Instance-wide calls: lockless mode, settle, stats.

#![allow(non_camel_case_types)]

use std::ffi::c_int;
use std::io;

use ermfs_core::Fs;

use crate::boundary::put;
use crate::instance::{ermfs_t, on, on_default};

/// A snapshot of an instance's counters (exact at rest, approximate while
/// calls are in flight).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ermfs_stats_t {
    /// Regular files reachable by a name.
    pub files: u64,
    /// Directories, `/` included.
    pub dirs: u64,
    /// Open descriptors.
    pub open_fds: u64,
    /// Bytes held for uncompressed content.
    pub raw_bytes: u64,
    /// Bytes held for compressed streams.
    pub compressed_bytes: u64,
    /// Bytes copied in by writes.
    pub bytes_written: u64,
    /// Bytes copied out by reads.
    pub bytes_read: u64,
    /// Uncompressed bytes fed to deflate at last closes.
    pub bytes_deflated: u64,
    /// Uncompressed bytes produced by inflate at reopens.
    pub bytes_inflated: u64,
    /// Bytes copied inside the store beyond the above.
    pub internal_copies: u64,
    /// Files compressed so far.
    pub compressions: u64,
    /// Closed files waiting for background compression.
    pub pending_compressions: u64,
    /// Files inflated on reopen so far.
    pub inflations: u64,
}

fn lockless_mode(fs: &Fs, on: bool) -> io::Result<c_int> {
    fs.set_lockless_mode(on).map(|()| 0)
}

fn stats(fs: &Fs, out: *mut ermfs_stats_t) -> io::Result<c_int> {
    let s = fs.stats();
    let c = ermfs_stats_t {
        files: s.files,
        dirs: s.dirs,
        open_fds: s.open_fds,
        raw_bytes: s.raw_bytes,
        compressed_bytes: s.compressed_bytes,
        bytes_written: s.bytes_written,
        bytes_read: s.bytes_read,
        bytes_deflated: s.bytes_deflated,
        bytes_inflated: s.bytes_inflated,
        internal_copies: s.internal_copies,
        compressions: s.compressions,
        pending_compressions: s.pending_compressions,
        inflations: s.inflations,
    };
    // SAFETY: `out` is NULL or writable, by the exported function's contract.
    unsafe { put(out, c) }.map(|()| 0)
}

/// Switches the default instance to the lockless (`true`) or locked
/// (`false`) registry and descriptor table, keeping every file; a no-op if
/// already there. Returns 0, or -1 with `errno` `EBUSY` while any descriptor
/// is open (nothing changes then).
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_set_lockless_mode(lockless: bool) -> c_int {
    on_default(|fs| lockless_mode(fs, lockless))
}

/// `ermfs_set_lockless_mode` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_set_lockless_mode(fs: *const ermfs_t, lockless: bool) -> c_int {
    on(fs, |fs| lockless_mode(fs, lockless))
}

/// 1 if the default instance uses the lockless backends, 0 if the locked
/// ones, -1 with `errno` if it cannot be created.
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_is_lockless() -> c_int {
    on_default(|fs| Ok(c_int::from(fs.is_lockless())))
}

/// `ermfs_is_lockless` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_is_lockless(fs: *const ermfs_t) -> c_int {
    on(fs, |fs| Ok(c_int::from(fs.is_lockless())))
}

/// Waits until every closed file queued for background compression is
/// compressed (returns at once with other policies). Returns 0, or -1 with
/// `errno`.
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_settle() -> c_int {
    on_default(|fs| {
        fs.settle();
        Ok(0)
    })
}

/// `ermfs_settle` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_settle(fs: *const ermfs_t) -> c_int {
    on(fs, |fs| {
        fs.settle();
        Ok(0)
    })
}

/// Fills `*out` with the default instance's counters. Returns 0, or -1 with
/// `errno` `EFAULT` for NULL.
///
/// # Safety
/// `out` is NULL or a writable `ermfs_stats_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_stats(out: *mut ermfs_stats_t) -> c_int {
    on_default(|fs| stats(fs, out))
}

/// `ermfs_stats` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `out` is NULL or a writable `ermfs_stats_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_stats(fs: *const ermfs_t, out: *mut ermfs_stats_t) -> c_int {
    on(fs, |fs| stats(fs, out))
}
