//! Memory mappings of a file: [`MapMut`] (shared, writable) and [`Map`] (private, read-only).

use crate::sys::{self, Access, Mapping};
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::fd::BorrowedFd;

/// A shared writable mapping of `[0, len)` of a file: stores go straight to the file's pages
/// (for a memfd, into the memfd itself, with no copy). Derefs to `[u8]`; unmapped on drop.
///
/// While it lives, [`seal`](crate::seal) of the same file fails with `EBUSY`.
pub struct MapMut {
    inner: Option<Mapping>,
}

/// A private read-only mapping of `[0, len)` of a file. Derefs to `[u8]`; unmapped on drop.
///
/// Private means this process never writes through it; it still shows later writes to the file
/// by others until a page is touched (see the crate's `# Limitations`).
pub struct Map {
    inner: Option<Mapping>,
}

/// Checks `fd` can back `len` bytes and returns the length `munmap` needs.
///
/// A regular file shorter than `len` is refused with `EINVAL`: touching a mapped page past the end
/// of a file raises `SIGBUS`, which a safe slice must never do. On hugetlbfs the unmap length is
/// rounded up to the huge page size, as `munmap` there wants.
fn check(fd: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    let st = sys::fstat(fd)?;
    if st.is_regular() && st.size < len as u64 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    if st.blksize > sys::page_size() && sys::is_hugetlbfs(fd)? {
        let huge = usize::try_from(st.blksize).unwrap_or(usize::MAX);
        return len
            .div_ceil(huge)
            .checked_mul(huge)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM));
    }
    Ok(len)
}

/// Maps `[0, len)` of `fd` shared and writable (`mmap(2)` with `PROT_READ | PROT_WRITE`,
/// `MAP_SHARED`). `len == 0` gives an empty map without calling `mmap`.
///
/// # Errors
///
/// `EINVAL` if `fd` is a regular file shorter than `len`; the kernel's errno otherwise: `EACCES`
/// if the fd is not open read-write, `EPERM` if the memfd is sealed with `F_SEAL_WRITE` (or
/// `F_SEAL_FUTURE_WRITE`), `ENODEV` if the file cannot be mapped, `ENOMEM`, `EBADF`.
pub fn map_mut(fd: BorrowedFd<'_>, len: usize) -> io::Result<MapMut> {
    if len == 0 {
        return Ok(MapMut { inner: None });
    }
    let map_len = check(fd, len)?;
    let inner = Mapping::new(fd, len, map_len, Access::SharedWrite)?;
    Ok(MapMut { inner: Some(inner) })
}

/// Maps `[0, len)` of `fd` private and read-only (`mmap(2)` with `PROT_READ`, `MAP_PRIVATE`).
/// `len == 0` gives an empty map without calling `mmap`.
///
/// # Errors
///
/// `EINVAL` if `fd` is a regular file shorter than `len`; the kernel's errno otherwise: `EACCES`
/// if the fd is not open for reading, `ENODEV` if the file cannot be mapped (pipes, sockets,
/// many `/proc` and `/sys` files), `ENOMEM`, `EBADF`.
pub fn map(fd: BorrowedFd<'_>, len: usize) -> io::Result<Map> {
    if len == 0 {
        return Ok(Map { inner: None });
    }
    let map_len = check(fd, len)?;
    let inner = Mapping::new(fd, len, map_len, Access::PrivateRead)?;
    Ok(Map { inner: Some(inner) })
}

impl Deref for MapMut {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self.inner.as_ref() {
            Some(m) => m.as_slice(),
            None => &[],
        }
    }
}

impl DerefMut for MapMut {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self.inner.as_mut() {
            Some(m) => m.as_mut_slice(),
            None => &mut [],
        }
    }
}

impl Deref for Map {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self.inner.as_ref() {
            Some(m) => m.as_slice(),
            None => &[],
        }
    }
}

impl fmt::Debug for MapMut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapMut").field("len", &self.len()).finish()
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map").field("len", &self.len()).finish()
    }
}
