//! fd passing over a socketpair: to a child process that checks what it got, within this
//! process, and `recv_fd` on a socket that carried no fd.

use super::common::{bytes, child, contents, errno, fnv, memfd_with};
use ermfd::{ExportFlags, Seals};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::Stdio;

#[test]
fn child_receives_a_sealed_memfd_and_verifies_its_checksum() {
    let data = bytes(3 << 20, 42);
    let fd = memfd_with("to-child", &data, ExportFlags::SEALED);
    ermfd::seal(fd.as_fd()).unwrap();
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    // The child's stdin is its end of the socketpair.
    let mut proc = child("receiver")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    ermfd::send_fd(&ours, fd.as_fd()).unwrap();
    drop(fd);
    // The child answers with the size and checksum it computed, then "sealed" or "open".
    let mut answer = [0u8; 17];
    ours.read_exact(&mut answer).unwrap();
    assert!(proc.wait().unwrap().success());
    let size = u64::from_le_bytes(answer[..8].try_into().unwrap());
    let sum = u64::from_le_bytes(answer[8..16].try_into().unwrap());
    assert_eq!((size, sum, answer[16]), (data.len() as u64, fnv(&data), 1));
}

/// The child role: receive an fd on stdin (a socket), check it and answer size, checksum and
/// whether it is sealed.
pub fn receiver() {
    let sock = UnixStream::from(std::io::stdin().as_fd().try_clone_to_owned().unwrap());
    let fd = ermfd::recv_fd(&sock).unwrap();
    let sealed = ermfd::seals(fd.as_fd()).unwrap().contains(Seals::IMMUTABLE);
    let len = std::fs::File::from(fd.try_clone().unwrap())
        .metadata()
        .unwrap()
        .len();
    let map = ermfd::map(fd.as_fd(), len as usize).unwrap();
    let mut answer = Vec::new();
    answer.extend_from_slice(&len.to_le_bytes());
    answer.extend_from_slice(&fnv(&map).to_le_bytes());
    answer.push(u8::from(sealed));
    (&sock).write_all(&answer).unwrap();
}

#[test]
fn passed_fd_shares_the_file_and_is_close_on_exec() {
    let (a, b) = UnixStream::pair().unwrap();
    let fd = memfd_with("shared", b"one", ExportFlags::empty());
    ermfd::send_fd(&a, fd.as_fd()).unwrap();
    let got = ermfd::recv_fd(&b).unwrap();
    ermfd::write_all_at(got.as_fd(), b"two", 0).unwrap();
    assert_eq!(contents(fd.as_fd()), b"two");
    // SAFETY: F_GETFD on an open fd reads its flags; no memory is involved.
    let flags = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&got), libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
}

#[test]
fn recv_fd_without_an_fd_fails_clearly() {
    let (mut a, b) = UnixStream::pair().unwrap();
    a.write_all(b"x").unwrap();
    errno(ermfd::recv_fd(&b), libc::ENOMSG);
    drop(a);
    errno(ermfd::recv_fd(&b), libc::ECONNRESET);
    // Sending to a closed peer is EPIPE, not SIGPIPE.
    let fd = memfd_with("orphan", b"x", ExportFlags::empty());
    let (a, b) = UnixStream::pair().unwrap();
    drop(b);
    errno(ermfd::send_fd(&a, fd.as_fd()), libc::EPIPE);
}
