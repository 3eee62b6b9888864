//! Space: statfs (a `struct statvfs`) and fallocate, each as `ermfs_X`
//! (default instance) and `ermfs_fs_X` (explicit instance).

use std::ffi::c_int;
use std::io;

use ermfs_core::Fs;
use libc::off_t;

use crate::boundary::put;
use crate::instance::{ermfs_t, on, on_default};

fn statfs(fs: &Fs, out: *mut libc::statvfs) -> io::Result<c_int> {
    let s = fs.statfs();
    // SAFETY: `libc::statvfs` is plain integers (and private spare fields),
    // for which all zeros is a valid value.
    let mut v: libc::statvfs = unsafe { std::mem::zeroed() };
    v.f_bsize = s.block_size as _;
    v.f_frsize = s.block_size as _;
    v.f_blocks = s.blocks as _;
    v.f_bfree = s.blocks_free as _;
    v.f_bavail = s.blocks_available as _;
    v.f_files = s.files as _;
    v.f_ffree = s.files_free as _;
    v.f_favail = s.files_free as _;
    v.f_fsid = 0;
    v.f_flag = libc::ST_RELATIME;
    v.f_namemax = s.name_max as _;
    // SAFETY: `out` is NULL or a writable `struct statvfs`, by the contract.
    unsafe { put(out, v) }.map(|()| 0)
}

/// Fills `*buf` with the capacity and use of the default instance, as
/// statvfs(3) for a file system whose disk is the memory limit:
/// `f_bsize` = `f_frsize` = 4096; `f_blocks` = the memory limit (without
/// one: the machine's RAM, `MemTotal`) in those blocks; `f_bfree` =
/// `f_bavail` = that less every byte charged (raw content, compressed
/// streams, extended attributes), rounded up to blocks, 0 at least;
/// `f_files` = the most files the instance can hold (2^32 - 1), `f_ffree` =
/// `f_favail` = that less the files and directories; `f_namemax` = 255;
/// `f_flag` = `ST_RELATIME` (reads move atime relatime-style); `f_fsid` = 0.
/// Returns 0, or -1 with `errno` `EFAULT` for NULL.
///
/// # Safety
/// `buf` is NULL or a writable `struct statvfs`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_statfs(buf: *mut libc::statvfs) -> c_int {
    on_default(|fs| statfs(fs, buf))
}

/// `ermfs_statfs` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `buf` is NULL or a writable `struct statvfs`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_statfs(fs: *const ermfs_t, buf: *mut libc::statvfs) -> c_int {
    on(fs, |fs| statfs(fs, buf))
}

/// Manipulates the space of the file open at `fd`, as fallocate(2) on
/// tmpfs (`FALLOC_FL_*` from `<fcntl.h>` with `_GNU_SOURCE`, or
/// `<linux/falloc.h>`): `mode` 0 extends the file with zeros to `offset +
/// len` if shorter; `FALLOC_FL_KEEP_SIZE` reserves memory up to there
/// without changing the size (charged to the memory limit, trimmed when the
/// file is compressed at its last close); `FALLOC_FL_PUNCH_HOLE |
/// FALLOC_FL_KEEP_SIZE` zeroes the range (clamped to the size), giving
/// every whole page in it back to the OS. Extending and punching set mtime
/// and ctime. Returns 0, or -1 with `errno`, in Linux's order: `EBADF`;
/// `EINVAL` for `offset` < 0 or `len` <= 0; `EOPNOTSUPP` for an unknown mode
/// or `PUNCH_HOLE` without `KEEP_SIZE`; `EBADF` if not open for writing
/// (directories too); `EFBIG` if `offset + len` overflows; `EOPNOTSUPP` for
/// `ZERO_RANGE`, `COLLAPSE_RANGE`, `INSERT_RANGE`, `UNSHARE_RANGE`; `EFBIG`
/// past the largest file; `ENOSPC` over the memory limit (file unchanged).
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_fallocate(fd: c_int, mode: c_int, offset: off_t, len: off_t) -> c_int {
    on_default(|fs| fs.fallocate(fd, mode, offset, len).map(|()| 0))
}

/// `ermfs_fallocate` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_fallocate(
    fs: *const ermfs_t,
    fd: c_int,
    mode: c_int,
    offset: off_t,
    len: off_t,
) -> c_int {
    on(fs, |fs| fs.fallocate(fd, mode, offset, len).map(|()| 0))
}
