//! Errors at the edge: every failure is an `io::Error` with a Linux errno.

use std::io;

/// An `io::Error` carrying the Linux errno `code`.
pub(crate) fn err(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// `Err` with the Linux errno `code`.
pub(crate) fn fail<T>(code: i32) -> io::Result<T> {
    Err(err(code))
}
