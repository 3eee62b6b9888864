//! Making memfds and plain I/O on them: create/write/read, mappings, lseek, fstat, names, flags,
//! and bad input (closed fds, sizes and offsets past `i64::MAX`).

use super::common::{bytes, closed_fd, contents, errno, memfd_with};
use ermfd::{ExportFlags, Whence};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;

#[test]
fn create_write_read_back() {
    for (i, n) in [0usize, 1, 4095, 4096, 4097, 300_000]
        .into_iter()
        .enumerate()
    {
        let data = bytes(n, i as u64);
        let fd = ermfd::create(b"rw", 0, ExportFlags::empty()).unwrap();
        ermfd::write_all_at(fd.as_fd(), &data, 0).unwrap();
        let meta = File::from(fd.try_clone().unwrap()).metadata().unwrap();
        assert_eq!(meta.len(), n as u64);
        // read(2) from offset 0, in odd-sized pieces.
        let mut got = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            let k = ermfd::read(fd.as_fd(), &mut buf).unwrap();
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
        }
        assert_eq!(got, data);
        assert_eq!(contents(fd.as_fd()), data);
    }
}

#[test]
fn create_sizes_the_file_with_zeros() {
    let fd = ermfd::create(b"zeros", 10_000, ExportFlags::empty()).unwrap();
    assert_eq!(contents(fd.as_fd()), vec![0u8; 10_000]);
    assert_eq!(ermfd::lseek(fd.as_fd(), 0, Whence::Cur).unwrap(), 0);
}

#[test]
fn map_mut_writes_show_through_pread() {
    let data = bytes(100_000, 7);
    let fd = ermfd::create(b"mapped", data.len() as u64, ExportFlags::empty()).unwrap();
    let mut map = ermfd::map_mut(fd.as_fd(), data.len()).unwrap();
    assert_eq!(map.len(), data.len());
    map.copy_from_slice(&data);
    // Shared mapping: the file sees the bytes while the map is still alive.
    assert_eq!(contents(fd.as_fd()), data);
    drop(map);
    assert_eq!(contents(fd.as_fd()), data);
    // And a read-only map sees them too.
    assert_eq!(&ermfd::map(fd.as_fd(), data.len()).unwrap()[..], &data[..]);
}

#[test]
fn maps_longer_than_the_file_are_refused_and_empty_maps_are_free() {
    let fd = memfd_with("short", b"abc", ExportFlags::empty());
    errno(ermfd::map(fd.as_fd(), 4), libc::EINVAL);
    errno(ermfd::map_mut(fd.as_fd(), 4096), libc::EINVAL);
    assert_eq!(ermfd::map(fd.as_fd(), 3).unwrap().len(), 3);
    // Length 0 makes no mmap call at all, so even a closed fd gives an empty map.
    assert!(ermfd::map(closed_fd(), 0).unwrap().is_empty());
    assert!(ermfd::map_mut(closed_fd(), 0).unwrap().is_empty());
    assert_eq!(
        format!("{:?}", ermfd::map(fd.as_fd(), 2).unwrap()),
        "Map { len: 2 }"
    );
}

#[test]
fn lseek_all_whences() {
    const PAGE: i64 = 4096;
    let fd = ermfd::create(b"holes", 64 * PAGE as u64, ExportFlags::empty()).unwrap();
    // Data in page 0 and pages 32..34; holes elsewhere.
    ermfd::write_all_at(fd.as_fd(), &[1u8; PAGE as usize], 0).unwrap();
    ermfd::write_all_at(fd.as_fd(), &[2u8; 2 * PAGE as usize], 32 * PAGE as u64).unwrap();
    let seek = |off: i64, whence| ermfd::lseek(fd.as_fd(), off, whence).map(|o| o as i64);
    assert_eq!(seek(100, Whence::Set).unwrap(), 100);
    assert_eq!(seek(50, Whence::Cur).unwrap(), 150);
    assert_eq!(seek(-10, Whence::Cur).unwrap(), 140);
    assert_eq!(seek(0, Whence::End).unwrap(), 64 * PAGE);
    assert_eq!(seek(-1, Whence::End).unwrap(), 64 * PAGE - 1);
    assert_eq!(seek(0, Whence::Data).unwrap(), 0);
    assert_eq!(seek(0, Whence::Hole).unwrap(), PAGE);
    assert_eq!(seek(PAGE, Whence::Data).unwrap(), 32 * PAGE);
    assert_eq!(seek(32 * PAGE, Whence::Hole).unwrap(), 34 * PAGE);
    assert_eq!(seek(40 * PAGE, Whence::Hole).unwrap(), 40 * PAGE);
    errno(seek(35 * PAGE, Whence::Data), libc::ENXIO);
    errno(seek(64 * PAGE, Whence::Hole), libc::ENXIO);
    errno(seek(-1, Whence::Set), libc::EINVAL);
    // The offset moved by the last successful seek reads from there.
    seek(32 * PAGE, Whence::Set).unwrap();
    let mut b = [0u8; 3];
    assert_eq!(ermfd::read(fd.as_fd(), &mut b).unwrap(), 3);
    assert_eq!(b, [2, 2, 2]);
}

#[test]
fn fstat_size_type_and_mode() {
    for flags in [
        ExportFlags::empty(),
        ExportFlags::EXECUTABLE,
        ExportFlags::SEALED,
    ] {
        let fd = ermfd::create(b"stat", 12_345, flags).unwrap();
        let meta = File::from(fd.try_clone().unwrap()).metadata().unwrap();
        assert_eq!(meta.len(), 12_345);
        assert!(meta.file_type().is_file(), "memfds are S_IFREG");
        let mode = meta.permissions().mode();
        assert_eq!(mode & libc::S_IFMT, libc::S_IFREG);
        let want = if flags.contains(ExportFlags::EXECUTABLE) {
            0o755
        } else {
            0o666
        };
        assert_eq!(mode & 0o7777, want, "{flags:?}");
    }
}

#[test]
fn names_with_nul_or_too_long_are_cut_never_refused() {
    let link = |fd: &std::os::fd::OwnedFd| {
        std::fs::read_link(ermfd::proc_path(fd.as_fd()))
            .unwrap()
            .into_os_string()
            .into_string()
            .unwrap()
    };
    let fd = ermfd::create(b"plain/name", 1, ExportFlags::empty()).unwrap();
    assert_eq!(link(&fd), "/memfd:plain/name (deleted)");
    let fd = ermfd::create(b"cut\0here", 1, ExportFlags::empty()).unwrap();
    assert_eq!(link(&fd), "/memfd:cut (deleted)");
    let fd = ermfd::create(&[b'x'; 4000], 1, ExportFlags::empty()).unwrap();
    let x = "x".repeat(ermfd::NAME_MAX);
    assert_eq!(link(&fd), format!("/memfd:{x} (deleted)"));
    ermfd::create(b"", 1, ExportFlags::empty()).unwrap();
}

#[test]
fn flag_bits_follow_the_c_abi() {
    assert_eq!(ExportFlags::SEALED.bits(), 1);
    assert_eq!(ExportFlags::EXECUTABLE.bits(), 2);
    assert_eq!(ExportFlags::HUGETLB.bits(), 4);
    assert_eq!(ExportFlags::from_bits(7).unwrap().bits(), 7);
    errno(ExportFlags::from_bits(8), libc::EINVAL);
    errno(ExportFlags::from_bits(0x8000_0000), libc::EINVAL);
}

#[test]
fn sizes_and_offsets_past_i64_max() {
    errno(
        ermfd::create(b"huge", i64::MAX as u64 + 1, ExportFlags::empty()),
        libc::EINVAL,
    );
    errno(
        ermfd::create(b"huge", u64::MAX, ExportFlags::empty()),
        libc::EINVAL,
    );
    // The largest size is fine: memfds are sparse.
    let fd = ermfd::create(b"max", i64::MAX as u64, ExportFlags::empty()).unwrap();
    errno(
        ermfd::write_all_at(fd.as_fd(), b"x", u64::MAX),
        libc::EINVAL,
    );
    errno(
        ermfd::read_at(fd.as_fd(), &mut [0u8; 1], u64::MAX),
        libc::EINVAL,
    );
    // A write whose end would overflow a file offset: the kernel says EINVAL (memfds take any
    // size up to i64::MAX, so EFBIG never arises on them).
    errno(
        ermfd::write_all_at(fd.as_fd(), b"0123456789", i64::MAX as u64 - 5),
        libc::EINVAL,
    );
}

#[test]
fn closed_fds_give_ebadf() {
    let bad = closed_fd();
    errno(ermfd::map(bad, 1), libc::EBADF);
    errno(ermfd::map_mut(bad, 1), libc::EBADF);
    errno(ermfd::seal(bad), libc::EBADF);
    errno(ermfd::seals(bad), libc::EBADF);
    errno(ermfd::write_all_at(bad, b"x", 0), libc::EBADF);
    errno(ermfd::read(bad, &mut [0u8; 1]), libc::EBADF);
    errno(ermfd::read_at(bad, &mut [0u8; 1], 0), libc::EBADF);
    errno(ermfd::lseek(bad, 0, Whence::Set), libc::EBADF);
    errno(ermfd::source(bad).map(|_| ()), libc::EBADF);
    errno(ermfd::inheritable(bad), libc::EBADF);
    errno(ermfd::command(bad).map(|_| ()), libc::EBADF);
    let err = ermfd::fexecve(bad, &[c"x"], &[]);
    assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    errno(ermfd::send_fd(&a, bad), libc::EBADF);
}

#[test]
fn hugetlb_works_or_fails_with_the_kernels_errno() {
    match ermfd::create(b"huge-pages", 5000, ExportFlags::HUGETLB) {
        Ok(fd) => {
            // Sized in whole huge pages; fill through a mapping (hugetlbfs has no write(2)).
            let meta = File::from(fd.try_clone().unwrap()).metadata().unwrap();
            let huge = std::os::unix::fs::MetadataExt::blksize(&meta);
            assert!(
                meta.len() >= 5000 && meta.len() % huge == 0,
                "{}",
                meta.len()
            );
            let mut map = ermfd::map_mut(fd.as_fd(), 5000).unwrap();
            map.copy_from_slice(&bytes(5000, 1));
            drop(map);
            assert_eq!(
                &ermfd::map(fd.as_fd(), 5000).unwrap()[..],
                &bytes(5000, 1)[..]
            );
            ermfd::seal(fd.as_fd()).unwrap();
        }
        Err(e) => {
            println!("HUGETLB refused here: {e}");
            let code = e.raw_os_error().expect("a kernel errno");
            assert!(
                [libc::ENOMEM, libc::EINVAL, libc::ENOENT, libc::ENOSPC].contains(&code),
                "{e}"
            );
        }
    }
}
