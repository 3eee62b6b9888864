//! Directory streams: `ermfs_opendir`, `ermfs_readdir`, `ermfs_closedir`.
//!
//! `opendir` takes a snapshot of the directory (`.` and `..` first, then the
//! names in byte order); `readdir` hands out one entry at a time from a
//! buffer inside the stream, valid until the next call on the same stream.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int};
use std::io;

use ermfs_core::{DirStream, FileType, Fs};

use crate::boundary::{call, get_mut, path};
use crate::instance::{ermfs_t, on, on_default};

/// `ermfs_dirent_t.d_type` of a directory (the value of `DT_DIR`).
pub const ERMFS_DT_DIR: u8 = 4;
/// `ermfs_dirent_t.d_type` of a regular file (the value of `DT_REG`).
pub const ERMFS_DT_REG: u8 = 8;
/// `ermfs_dirent_t.d_type` of a symbolic link (the value of `DT_LNK`).
pub const ERMFS_DT_LNK: u8 = 10;
/// `ermfs_dirent_t.d_type` of a FIFO (the value of `DT_FIFO`).
pub const ERMFS_DT_FIFO: u8 = 1;
/// `ermfs_dirent_t.d_type` of a character device (the value of `DT_CHR`).
pub const ERMFS_DT_CHR: u8 = 2;
/// `ermfs_dirent_t.d_type` of a block device (the value of `DT_BLK`).
pub const ERMFS_DT_BLK: u8 = 6;
/// `ermfs_dirent_t.d_type` of a socket (the value of `DT_SOCK`).
pub const ERMFS_DT_SOCK: u8 = 12;
// Literals so cbindgen can write them into ermfs.h; checked against libc here.
const _: () = assert!(
    ERMFS_DT_DIR == libc::DT_DIR
        && ERMFS_DT_REG == libc::DT_REG
        && ERMFS_DT_LNK == libc::DT_LNK
        && ERMFS_DT_FIFO == libc::DT_FIFO
        && ERMFS_DT_CHR == libc::DT_CHR
        && ERMFS_DT_BLK == libc::DT_BLK
        && ERMFS_DT_SOCK == libc::DT_SOCK
);

/// One directory entry, as `struct dirent` has it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ermfs_dirent_t {
    /// Inode number.
    pub d_ino: u64,
    /// `ERMFS_DT_REG`, `ERMFS_DT_DIR`, `ERMFS_DT_LNK`, `ERMFS_DT_FIFO`,
    /// `ERMFS_DT_CHR`, `ERMFS_DT_BLK` or `ERMFS_DT_SOCK` (equal to libc's
    /// `DT_*`).
    pub d_type: u8,
    /// The name, NUL-terminated (at most 255 bytes before the NUL).
    pub d_name: [c_char; 256],
}

/// An open directory stream (opaque), from `ermfs_opendir`.
pub struct ermfs_dir_t {
    /// Reads the live directory: opening copies nothing.
    entries: DirStream,
    current: ermfs_dirent_t,
}

fn opendir(fs: &Fs, p: *const c_char) -> io::Result<*mut ermfs_dir_t> {
    // SAFETY: `p` is NULL or a C string, by the exported function's contract.
    let entries = fs.opendir(unsafe { path(p) }?)?;
    let current = ermfs_dirent_t {
        d_ino: 0,
        d_type: 0,
        d_name: [0; 256],
    };
    Ok(Box::into_raw(Box::new(ermfs_dir_t { entries, current })))
}

/// Opens a stream over the entries of directory `path`. Returns it, or NULL
/// with `errno` (`ENOENT`, `ENOTDIR`, `EFAULT`). Close it with `ermfs_closedir`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_opendir(path: *const c_char) -> *mut ermfs_dir_t {
    on_default(|fs| opendir(fs, path))
}

/// `ermfs_opendir` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_opendir(
    fs: *const ermfs_t,
    path: *const c_char,
) -> *mut ermfs_dir_t {
    on(fs, |fs| opendir(fs, path))
}

/// The next entry of `dir`, valid until the next `ermfs_readdir` or
/// `ermfs_closedir` on it. At the end: NULL with `errno` unchanged; NULL
/// with `errno` `EFAULT` for a NULL `dir`.
///
/// # Safety
/// `dir` is NULL or an open stream that no other thread uses meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_readdir(dir: *mut ermfs_dir_t) -> *mut ermfs_dirent_t {
    call(|| {
        // SAFETY: NULL or a live stream used by this thread only, by the contract.
        let dir = unsafe { get_mut(dir) }?;
        let Some(entry) = dir.entries.next_entry()? else {
            return Ok(std::ptr::null_mut());
        };
        let cur = &mut dir.current;
        cur.d_ino = entry.ino;
        cur.d_type = match entry.kind {
            FileType::File => ERMFS_DT_REG,
            FileType::Dir => ERMFS_DT_DIR,
            FileType::Symlink => ERMFS_DT_LNK,
            FileType::Fifo => ERMFS_DT_FIFO,
            FileType::CharDevice => ERMFS_DT_CHR,
            FileType::BlockDevice => ERMFS_DT_BLK,
            FileType::Socket => ERMFS_DT_SOCK,
        };
        // Names are at most NAME_MAX (255) bytes, so the NUL always fits.
        let n = entry.name.len().min(cur.d_name.len() - 1);
        for (dst, &src) in cur.d_name.iter_mut().zip(&entry.name[..n]) {
            *dst = src as c_char;
        }
        cur.d_name[n] = 0;
        Ok(std::ptr::from_mut(cur))
    })
}

/// Closes `dir`. Returns 0, or -1 with `errno` `EFAULT` for NULL.
///
/// # Safety
/// `dir` is NULL or an open stream, not used again after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_closedir(dir: *mut ermfs_dir_t) -> c_int {
    call(|| {
        if dir.is_null() {
            return Err(crate::boundary::err(libc::EFAULT));
        }
        // SAFETY: from Box::into_raw in opendir and not closed yet, by the contract.
        drop(unsafe { Box::from_raw(dir) });
        Ok(0)
    })
}
