//! `MFD_NOEXEC_SEAL`: on Linux 6.3 and later a memfd made without `EXECUTABLE` carries
//! `F_SEAL_EXEC` and can never become executable; on older kernels it is only `chmod 0o666`.
//! The test reads the kernel version and checks the matching behaviour.

use super::common::errno;
use ermfd::{ExportFlags, Seals};
use std::fs::{File, Permissions};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;

/// `(major, minor)` of the running kernel, from `/proc/sys/kernel/osrelease` (`uname -r`).
fn kernel() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.trim().split(['.', '-']);
    let mut num = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (num(), num())
}

#[test]
fn detection_matches_the_kernel_version() {
    let supported = ermfd::noexec_seal_supported().unwrap();
    assert_eq!(supported, kernel() >= (6, 3), "kernel {:?}", kernel());
    // Asking again gives the remembered answer.
    assert_eq!(ermfd::noexec_seal_supported().unwrap(), supported);
}

#[test]
fn non_executable_memfds_stay_non_executable() {
    let fd = ermfd::create(b"plain", 1, ExportFlags::empty()).unwrap();
    let file = File::from(fd.try_clone().unwrap());
    assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o666);
    let seals = ermfd::seals(fd.as_fd()).unwrap();
    let chmod = file.set_permissions(Permissions::from_mode(0o755));
    if kernel() >= (6, 3) {
        // MFD_NOEXEC_SEAL: the exec bits are sealed off for good.
        assert!(seals.contains(Seals::EXEC), "{seals:?}");
        errno(chmod, libc::EPERM);
    } else {
        // Older kernels: only the mode says so, and the holder may change it.
        assert!(!seals.contains(Seals::EXEC));
        chmod.unwrap();
    }
}

#[test]
fn executable_memfds_are_not_exec_sealed() {
    let fd = ermfd::create(b"exe", 1, ExportFlags::EXECUTABLE).unwrap();
    assert!(!ermfd::seals(fd.as_fd()).unwrap().contains(Seals::EXEC));
    let file = File::from(fd.try_clone().unwrap());
    assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o755);
}
