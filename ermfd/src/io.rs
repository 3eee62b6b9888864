//! Plain fd I/O with `EINTR` retried: [`write_all_at`], [`read`], [`read_at`], [`lseek`].

use crate::sys;
use std::io;
use std::os::fd::BorrowedFd;

/// Where [`lseek`] counts from: the five whences Linux gives a memfd.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Whence {
    /// `SEEK_SET`: from the start of the file.
    Set,
    /// `SEEK_CUR`: from the current offset.
    Cur,
    /// `SEEK_END`: from the end of the file.
    End,
    /// `SEEK_DATA`: the next offset at or after `offset` that holds data (`ENXIO` past the last).
    Data,
    /// `SEEK_HOLE`: the next offset at or after `offset` in a hole (the end counts as one).
    Hole,
}

impl Whence {
    fn raw(self) -> libc::c_int {
        match self {
            Whence::Set => libc::SEEK_SET,
            Whence::Cur => libc::SEEK_CUR,
            Whence::End => libc::SEEK_END,
            Whence::Data => libc::SEEK_DATA,
            Whence::Hole => libc::SEEK_HOLE,
        }
    }
}

/// Whether to retry a syscall.
fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

/// A `u64` file offset as the kernel's signed one; `EINVAL` past `i64::MAX`, as the kernel says
/// for a negative offset.
fn offset(off: u64) -> io::Result<i64> {
    i64::try_from(off).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Writes all of `buf` at `offset` with `pwrite(2)`, looping over short writes and retrying
/// `EINTR`. Does not move the fd's offset.
///
/// # Errors
///
/// `EINVAL` if `offset > i64::MAX`; the kernel's errno otherwise: `EFBIG` past the largest file
/// size, `EPERM` on a memfd sealed against writing or growing, `EBADF`, `ENOSPC`... `EIO` if the
/// kernel accepts no byte of a non-empty write. After an error some prefix may be written.
pub fn write_all_at(fd: BorrowedFd<'_>, buf: &[u8], offset: u64) -> io::Result<()> {
    let mut buf = buf;
    let mut pos = self::offset(offset)?;
    while !buf.is_empty() {
        match sys::pwrite(fd, buf, pos) {
            Ok(0) => return Err(io::Error::from_raw_os_error(libc::EIO)),
            Ok(n) => {
                buf = buf.get(n..).unwrap_or_default();
                // n <= isize::MAX, and the kernel wrote it below its maximum file size.
                pos = pos.saturating_add(n as i64);
            }
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One `read(2)` at the fd's offset, `EINTR` retried. Returns 0 at end of file.
///
/// # Errors
///
/// The kernel's errno: `EBADF`, `EISDIR`, `EAGAIN` on a non-blocking fd with nothing to read...
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match sys::read(fd, buf) {
            Err(e) if interrupted(&e) => {}
            other => return other,
        }
    }
}

/// One `pread(2)` at `offset`, `EINTR` retried; does not move the fd's offset. Returns 0 at end
/// of file.
///
/// # Errors
///
/// `EINVAL` if `offset > i64::MAX`; the kernel's errno otherwise (`ESPIPE` on a pipe, `EBADF`...).
pub fn read_at(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let pos = self::offset(offset)?;
    loop {
        match sys::pread(fd, buf, pos) {
            Err(e) if interrupted(&e) => {}
            other => return other,
        }
    }
}

/// `lseek(2)`: moves the fd's offset and returns the new one.
///
/// # Errors
///
/// The kernel's errno: `EINVAL` for a negative result, `ENXIO` for `Data`/`Hole` at or past the
/// end (or no data after `offset`), `ESPIPE` on a pipe or socket, `EBADF`.
pub fn lseek(fd: BorrowedFd<'_>, offset: i64, whence: Whence) -> io::Result<u64> {
    sys::lseek(fd, offset, whence.raw())
}
