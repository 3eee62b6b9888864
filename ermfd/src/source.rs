//! What an import reads from: a mapping of a regular file, or a stream ([`Source`]).

use crate::map::{Map, map};
use crate::sys;
use std::io;
use std::os::fd::BorrowedFd;

/// Where the bytes of an import come from, as [`source`] decides.
#[derive(Debug)]
pub enum Source<'fd> {
    /// A regular file (a memfd, a file on disk or tmpfs) with bytes after its current offset:
    /// the whole file is mapped and `map[start..]` are the bytes to import — no `read` copy.
    Mapped {
        /// A private read-only mapping of `[0, size)` as `fstat` gave it.
        map: Map,
        /// The fd's offset when [`source`] looked: the import starts there.
        start: usize,
    },
    /// Anything else (pipe, socket, character device, an empty or fully read file, a file that
    /// refused `mmap`): read it with [`read`](crate::read) until it returns 0.
    Stream(BorrowedFd<'fd>),
}

impl Source<'_> {
    /// The bytes to import if they are mapped (`None` for a stream).
    pub fn mapped_bytes(&self) -> Option<&[u8]> {
        match self {
            Source::Mapped { map, start } => map.get(*start..),
            Source::Stream(_) => None,
        }
    }
}

/// Chooses how to read `fd` from its current offset to its end.
///
/// A regular file (`fstat` says `S_ISREG`) whose size is past its offset is mapped
/// ([`Source::Mapped`]); everything else, including a mapping the kernel refuses, is a
/// [`Source::Stream`]. The fd's offset is not moved: a caller that consumed a mapped source and
/// wants the fd to look read can `lseek` it to the end.
///
/// # Errors
///
/// Only `fstat`'s: `EBADF` if `fd` is not open.
pub fn source(fd: BorrowedFd<'_>) -> io::Result<Source<'_>> {
    let st = sys::fstat(fd)?;
    if !st.is_regular() {
        return Ok(Source::Stream(fd));
    }
    let Ok(pos) = sys::lseek(fd, 0, libc::SEEK_CUR) else {
        return Ok(Source::Stream(fd));
    };
    if pos >= st.size {
        return Ok(Source::Stream(fd));
    }
    let (Ok(len), Ok(start)) = (usize::try_from(st.size), usize::try_from(pos)) else {
        return Ok(Source::Stream(fd));
    };
    Ok(match map(fd, len) {
        Ok(map) => Source::Mapped { map, start },
        Err(_) => Source::Stream(fd),
    })
}
