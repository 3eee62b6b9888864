//! Handing fds to another process over a UNIX socket (`SCM_RIGHTS`): [`send_fd`], [`recv_fd`].

use crate::sys;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Sends `fd` over `sock` as `SCM_RIGHTS`, with one data byte (a stream socket cannot carry
/// control data alone). The receiver gets its own descriptor of the same open file (same offset,
/// same seals); `fd` stays open here. Uses `MSG_NOSIGNAL`: a closed peer gives `EPIPE`, not
/// `SIGPIPE`.
///
/// # Errors
///
/// The kernel's errno: `EPIPE` if the peer is gone, `EAGAIN` on a full non-blocking socket,
/// `ETOOMANYREFS`, `EBADF`...
pub fn send_fd(sock: &UnixStream, fd: BorrowedFd<'_>) -> io::Result<()> {
    match sys::send_fd(sock.as_fd(), fd)? {
        0 => Err(io::Error::from_raw_os_error(libc::EIO)),
        _ => Ok(()),
    }
}

/// Receives one fd sent by [`send_fd`] (one data byte carrying `SCM_RIGHTS`). The new fd has
/// `FD_CLOEXEC` (`MSG_CMSG_CLOEXEC`). If the message carried several fds, the first is returned
/// and the others are closed.
///
/// # Errors
///
/// - `ENOMSG` if a data byte arrived without an fd (the peer wrote plain data);
/// - `ECONNRESET` if the peer closed the connection before sending anything;
/// - the kernel's errno otherwise (`EAGAIN` on a non-blocking socket, `EMFILE`...).
pub fn recv_fd(sock: &UnixStream) -> io::Result<OwnedFd> {
    let got = sys::recv_fd(sock.as_fd())?;
    match (got.fd, got.bytes) {
        (Some(fd), _) => Ok(fd),
        (None, 0) => Err(io::Error::from_raw_os_error(libc::ECONNRESET)),
        (None, _) => Err(io::Error::from_raw_os_error(libc::ENOMSG)),
    }
}
