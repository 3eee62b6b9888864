//! Seals are respected: a sealed memfd refuses writes, growth, shrinking and writable shared
//! mappings, still reads and maps read-only, and cannot be sealed while a `MapMut` lives.

use super::common::{bytes, contents, errno, memfd_with};
use ermfd::{ExportFlags, Seals};
use std::fs::File;
use std::os::fd::AsFd;

#[test]
fn sealed_memfd_refuses_every_change() {
    let data = bytes(10_000, 3);
    let fd = memfd_with("sealed", &data, ExportFlags::SEALED);
    assert!(!ermfd::seals(fd.as_fd()).unwrap().contains(Seals::WRITE));
    ermfd::seal(fd.as_fd()).unwrap();
    let seals = ermfd::seals(fd.as_fd()).unwrap();
    assert!(seals.contains(Seals::IMMUTABLE), "{seals:?}");

    errno(ermfd::write_all_at(fd.as_fd(), b"x", 0), libc::EPERM);
    errno(ermfd::write_all_at(fd.as_fd(), b"x", 10_000), libc::EPERM);
    let file = File::from(fd.try_clone().unwrap());
    errno(file.set_len(20_000), libc::EPERM);
    errno(file.set_len(5_000), libc::EPERM);
    errno(ermfd::map_mut(fd.as_fd(), 10_000), libc::EPERM);
    // Sealing twice fails: F_SEAL_SEAL forbids adding seals.
    errno(ermfd::seal(fd.as_fd()), libc::EPERM);

    // Reading still works, and the bytes are unchanged.
    assert_eq!(contents(fd.as_fd()), data);
    assert_eq!(&ermfd::map(fd.as_fd(), data.len()).unwrap()[..], &data[..]);
    assert_eq!(file.metadata().unwrap().len(), 10_000);
}

#[test]
fn sealing_waits_for_writable_mappings_to_go() {
    let fd = ermfd::create(b"busy", 4096, ExportFlags::empty()).unwrap();
    let mut map = ermfd::map_mut(fd.as_fd(), 4096).unwrap();
    map[0] = 42;
    errno(ermfd::seal(fd.as_fd()), libc::EBUSY);
    // A failed seal adds nothing.
    assert!(!ermfd::seals(fd.as_fd()).unwrap().contains(Seals::WRITE));
    drop(map);
    ermfd::seal(fd.as_fd()).unwrap();
    assert_eq!(contents(fd.as_fd())[0], 42);
}

#[test]
fn only_sealable_files_take_seals() {
    let (r, w) = std::io::pipe().unwrap();
    errno(ermfd::seal(w.as_fd()), libc::EINVAL);
    errno(ermfd::seals(w.as_fd()), libc::EINVAL);
    // Sealing needs a writable fd: the kernel checks that first.
    errno(ermfd::seal(r.as_fd()), libc::EPERM);
}
