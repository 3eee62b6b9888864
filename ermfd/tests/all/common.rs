//! Shared test helpers: memfds holding given bytes, checksums, seeded data, errno checks, and
//! re-running this test binary as a child process in a chosen role.

use ermfd::ExportFlags;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::Command;

/// The env var that tells a re-run test binary which child role [`child_entry`] plays.
pub const ROLE: &str = "ERMFD_TEST_CHILD";

/// A memfd named `name` holding `bytes`, filled through a shared mapping.
pub fn memfd_with(name: &str, bytes: &[u8], flags: ExportFlags) -> OwnedFd {
    let fd = ermfd::create(name.as_bytes(), bytes.len() as u64, flags).unwrap();
    ermfd::map_mut(fd.as_fd(), bytes.len())
        .unwrap()
        .copy_from_slice(bytes);
    fd
}

/// `n` seeded pseudo-random bytes (SplitMix64).
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// FNV-1a, 64 bit: the checksum a child computes over what it received.
pub fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Asserts `result` failed with `errno`.
#[track_caller]
pub fn errno<T: std::fmt::Debug>(result: io::Result<T>, errno: i32) {
    match result {
        Ok(v) => panic!("expected errno {errno}, got Ok({v:?})"),
        Err(e) => assert_eq!(e.raw_os_error(), Some(errno), "{e}"),
    }
}

/// Everything `fd` holds from offset 0, read with `pread`.
pub fn contents(fd: BorrowedFd<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = ermfd::read_at(fd, &mut buf, out.len() as u64).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// A fd number no file can be open at: above the largest `fs.nr_open` Linux allows.
pub fn closed_fd() -> BorrowedFd<'static> {
    // SAFETY: nothing is open at this number (it exceeds the kernel's maximum fd count), so no
    // owner is violated; every call on it fails with EBADF, which is what the tests check.
    unsafe { BorrowedFd::borrow_raw(i32::MAX - 1) }
}

/// The bytes of the program at `path` (e.g. `/bin/true`).
pub fn program(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// This test binary, set to run only [`child_entry`] in `role`.
pub fn child(role: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "all::common::child_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(ROLE, role);
    cmd
}

/// The entry point of child roles: a no-op in a normal test run; with [`ROLE`] set it runs that
/// role's body (which panics, failing the child's exit status, if anything is wrong).
#[test]
fn child_entry() {
    match std::env::var(ROLE).as_deref() {
        Err(_) => {}
        Ok("receiver") => super::pass::receiver(),
        Ok("leak") => super::leak::cycles(),
        Ok(other) => panic!("unknown child role {other}"),
    }
}
