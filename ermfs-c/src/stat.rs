//! `struct stat` from an [`ermfs_core::Stat`].

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use ermfs_core::Stat;

use crate::boundary::put;

/// Seconds and nanoseconds since the epoch (negative before it).
fn timespec(t: SystemTime) -> (i64, i64) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, i64::from(d.subsec_nanos())),
        Err(before) => {
            let d = before.duration();
            // Saturating: 2^63 seconds before the epoch is i64::MIN itself,
            // whose negation as a positive i64 would overflow.
            let (s, n) = (
                0i64.saturating_sub_unsigned(d.as_secs()),
                i64::from(d.subsec_nanos()),
            );
            if n == 0 {
                (s, 0)
            } else {
                (s - 1, 1_000_000_000 - n)
            }
        }
    }
}

/// Fills the caller's `struct stat` from `st`.
///
/// # Errors
/// `EFAULT` for `NULL`.
///
/// # Safety
/// `out` is `NULL` or a writable `struct stat`.
pub(crate) unsafe fn fill(st: &Stat, out: *mut libc::stat) -> io::Result<()> {
    // SAFETY: `libc::stat` is plain integers (and private padding), for
    // which all zeros is a valid value.
    let mut s: libc::stat = unsafe { std::mem::zeroed() };
    s.st_ino = st.ino as _;
    s.st_mode = st.mode as _;
    s.st_nlink = st.nlink as _;
    (s.st_uid, s.st_gid) = (st.uid, st.gid);
    s.st_rdev = st.rdev as _;
    s.st_size = st.size.min(i64::MAX as u64) as _;
    s.st_blksize = st.blksize as _;
    s.st_blocks = st.blocks.min(i64::MAX as u64) as _;
    (s.st_atime, s.st_atime_nsec) = timespec(st.atime);
    (s.st_mtime, s.st_mtime_nsec) = timespec(st.mtime);
    (s.st_ctime, s.st_ctime_nsec) = timespec(st.ctime);
    // SAFETY: `out` is NULL or writable, by this function's contract.
    unsafe { put(out, s) }
}
