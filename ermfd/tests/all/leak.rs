//! 1,000 create/map/seal/close cycles (plus fd passing, exec guards and failed `fexecve`s) leave no fd and no
//! mapping behind. Counted in a child process of its own, so parallel tests cannot disturb it.

use super::common::{bytes, child, memfd_with};
use ermfd::ExportFlags;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

#[test]
fn cycles_leak_no_fd_and_no_mapping() {
    let out = child("leak").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("leak check: 1000 cycles"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn memfd_mappings() -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines().filter(|l| l.contains("/memfd:")).count()
}

/// The child role: the cycles and the counts.
pub fn cycles() {
    let data = bytes(64 * 1024, 5);
    let (a, b) = UnixStream::pair().unwrap();
    let script = memfd_with("not-exe", b"#!/bin/sh\n", ExportFlags::empty());
    let (fds, maps) = (open_fds(), memfd_mappings());
    let start = Instant::now();
    let mut done = 0;
    while done < 1000 && start.elapsed() < Duration::from_secs(30) {
        let fd = memfd_with("cycle", &data, ExportFlags::SEALED);
        ermfd::seal(fd.as_fd()).unwrap();
        let map = ermfd::map(fd.as_fd(), data.len()).unwrap();
        assert_eq!(map[done % data.len()], data[done % data.len()]);
        if done == 0 {
            // The counters see what they count.
            assert_eq!((open_fds(), memfd_mappings()), (fds + 1, maps + 1));
        }
        drop(map);
        if done % 10 == 0 {
            ermfd::send_fd(&a, fd.as_fd()).unwrap();
            drop(ermfd::recv_fd(&b).unwrap());
            drop(ermfd::command(fd.as_fd()).unwrap());
            // A failed fexecve of a script closes the duplicate it made.
            let err = ermfd::fexecve(script.as_fd(), &[c"x"], &[]);
            assert_eq!(err.raw_os_error(), Some(libc::EACCES));
            assert!(ermfd::source(fd.as_fd()).unwrap().mapped_bytes().is_some());
        }
        done += 1;
    }
    assert_eq!(done, 1000, "only {done} cycles in 30 s");
    assert_eq!(open_fds(), fds, "fds leaked");
    assert_eq!(memfd_mappings(), maps, "mappings leaked");
    println!("leak check: {done} cycles, {fds} fds and {maps} memfd mappings before and after");
}
