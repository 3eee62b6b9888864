//! Error values: everything is an `io::Error`, corrupt input is `InvalidData`.

use std::io;

/// A corrupt or truncated stream: `InvalidData` (ERMFS maps it to `EIO`).
pub(crate) fn corrupt(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// A bad argument from the caller: `EINVAL`.
pub(crate) fn invalid() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}
