//! `source()`: regular files with bytes left are mapped from their offset; pipes and used-up
//! files are streams.

use super::common::{bytes, memfd_with};
use ermfd::{ExportFlags, Source, Whence};
use std::io::Write;
use std::os::fd::AsFd;

/// Everything a stream source gives, with `read` until 0.
fn drain(src: &Source<'_>) -> Vec<u8> {
    let Source::Stream(fd) = src else {
        panic!("not a stream: {src:?}")
    };
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = ermfd::read(*fd, &mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn pipe_is_a_stream() {
    let (r, mut w) = std::io::pipe().unwrap();
    let data = bytes(10_000, 9);
    w.write_all(&data).unwrap();
    drop(w);
    let src = ermfd::source(r.as_fd()).unwrap();
    assert!(src.mapped_bytes().is_none());
    assert_eq!(drain(&src), data);
}

#[test]
fn memfd_is_mapped_from_its_offset() {
    let data = bytes(50_000, 10);
    let fd = memfd_with("src", &data, ExportFlags::empty());
    for offset in [0usize, 1, 1234, 4096, 49_999] {
        ermfd::lseek(fd.as_fd(), offset as i64, Whence::Set).unwrap();
        let src = ermfd::source(fd.as_fd()).unwrap();
        let Source::Mapped { ref map, start } = src else {
            panic!("not mapped at {offset}: {src:?}")
        };
        assert_eq!((map.len(), start), (data.len(), offset));
        assert_eq!(src.mapped_bytes().unwrap(), &data[offset..]);
        // The offset is left where it was.
        assert_eq!(
            ermfd::lseek(fd.as_fd(), 0, Whence::Cur).unwrap(),
            offset as u64
        );
    }
}

#[test]
fn used_up_or_empty_files_are_streams_that_end_at_once() {
    let fd = memfd_with("used", b"abc", ExportFlags::empty());
    ermfd::lseek(fd.as_fd(), 3, Whence::Set).unwrap();
    assert_eq!(drain(&ermfd::source(fd.as_fd()).unwrap()), b"");
    ermfd::lseek(fd.as_fd(), 100, Whence::Set).unwrap();
    assert_eq!(drain(&ermfd::source(fd.as_fd()).unwrap()), b"");
    let empty = ermfd::create(b"empty", 0, ExportFlags::empty()).unwrap();
    assert_eq!(drain(&ermfd::source(empty.as_fd()).unwrap()), b"");
}

#[test]
fn sealed_memfd_is_mapped() {
    let fd = memfd_with("sealed-src", b"sealed bytes", ExportFlags::SEALED);
    ermfd::seal(fd.as_fd()).unwrap();
    let src = ermfd::source(fd.as_fd()).unwrap();
    assert_eq!(src.mapped_bytes().unwrap(), b"sealed bytes");
}
