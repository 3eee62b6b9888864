//! Descriptor calls: bad input, access modes, offsets, dup, truncation.

use ermfs::Fs;

use super::common::{each_fs, each_with, errno, get, put};

const RW: i32 = libc::O_RDWR | libc::O_CREAT;

#[test]
fn bad_descriptors() {
    each_fs(|fs| {
        let mut buf = [0u8; 4];
        for fd in [-1, 0, 7, i32::MAX, i32::MIN] {
            assert_eq!(errno(fs.read(fd, &mut buf)), libc::EBADF, "fd {fd}");
            assert_eq!(errno(fs.write(fd, b"x")), libc::EBADF);
            assert_eq!(errno(fs.pread(fd, &mut buf, 0)), libc::EBADF);
            assert_eq!(errno(fs.pwrite(fd, b"x", 0)), libc::EBADF);
            assert_eq!(errno(fs.lseek(fd, 0, libc::SEEK_SET)), libc::EBADF);
            assert_eq!(errno(fs.ftruncate(fd, 0)), libc::EBADF);
            assert_eq!(errno(fs.fstat(fd)), libc::EBADF);
            assert_eq!(errno(fs.close(fd)), libc::EBADF);
            assert_eq!(errno(fs.dup(fd)), libc::EBADF);
            assert_eq!(errno(fs.fsync(fd)), libc::EBADF);
        }
        let fd = fs.open("/a", RW, 0o600).unwrap();
        fs.close(fd).unwrap();
        assert_eq!(errno(fs.close(fd)), libc::EBADF);
        assert_eq!(errno(fs.read(fd, &mut buf)), libc::EBADF);
    });
}

#[test]
fn access_modes_and_directories() {
    each_fs(|fs| {
        put(fs, "/a", b"abc");
        let mut buf = [0u8; 8];
        let ro = fs.open("/a", libc::O_RDONLY, 0).unwrap();
        assert_eq!(errno(fs.write(ro, b"x")), libc::EBADF);
        assert_eq!(errno(fs.pwrite(ro, b"x", 0)), libc::EBADF);
        assert_eq!(errno(fs.ftruncate(ro, 0)), libc::EINVAL);
        let wo = fs.open("/a", libc::O_WRONLY, 0).unwrap();
        assert_eq!(errno(fs.read(wo, &mut buf)), libc::EBADF);
        assert_eq!(errno(fs.pread(wo, &mut buf, 0)), libc::EBADF);
        assert_eq!(fs.write(wo, b"X").unwrap(), 1);
        assert_eq!(fs.read(ro, &mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"Xbc");
        fs.mkdir("/d", 0o755).unwrap();
        let d = fs
            .open("/d", libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .unwrap();
        assert_eq!(errno(fs.read(d, &mut buf)), libc::EISDIR);
        assert_eq!(errno(fs.pread(d, &mut buf, 0)), libc::EISDIR);
        assert_eq!(errno(fs.write(d, b"x")), libc::EBADF);
        assert_eq!(errno(fs.ftruncate(d, 0)), libc::EINVAL);
        assert_eq!(fs.fstat(d).unwrap().kind, ermfs::FileType::Dir);
        assert_eq!(errno(fs.lseek(d, 0, libc::SEEK_END)), libc::EINVAL);
        fs.fsync(wo).unwrap();
        for fd in [ro, wo, d] {
            fs.close(fd).unwrap();
        }
        assert_eq!(fs.stats().open_fds, 0);
    });
}

#[test]
fn offsets_and_seeks() {
    each_fs(|fs| {
        let fd = fs.open("/a", RW, 0o644).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(errno(fs.pread(fd, &mut buf, -1)), libc::EINVAL);
        assert_eq!(errno(fs.pwrite(fd, b"x", -1)), libc::EINVAL);
        assert_eq!(errno(fs.pwrite(fd, b"x", i64::MAX)), libc::EINVAL);
        assert_eq!(errno(fs.pwrite(fd, b"x", i64::MAX - 1)), libc::EFBIG); // tmpfs: ok
        assert_eq!(errno(fs.pread(fd, &mut buf, i64::MAX)), libc::EINVAL);
        assert_eq!(fs.pread(fd, &mut buf, i64::MAX - 16).unwrap(), 0);
        assert_eq!(fs.write(fd, b"").unwrap(), 0);
        assert_eq!(fs.pwrite(fd, b"hello", 10).unwrap(), 5);
        assert_eq!(fs.pread(fd, &mut buf, 0).unwrap(), 15);
        assert_eq!(&buf[..15], b"\0\0\0\0\0\0\0\0\0\0hello");
        assert_eq!(fs.lseek(fd, 0, libc::SEEK_CUR).unwrap(), 0);
        assert_eq!(fs.lseek(fd, -5, libc::SEEK_END).unwrap(), 10);
        assert_eq!(fs.read(fd, &mut buf).unwrap(), 5);
        assert_eq!(errno(fs.lseek(fd, -16, libc::SEEK_CUR)), libc::EINVAL);
        assert_eq!(errno(fs.lseek(fd, -1, libc::SEEK_SET)), libc::EINVAL);
        assert_eq!(errno(fs.lseek(fd, i64::MAX, libc::SEEK_END)), libc::EINVAL);
        assert_eq!(errno(fs.lseek(fd, 0, 99)), libc::EINVAL);
        assert_eq!(fs.lseek(fd, 3, libc::SEEK_DATA).unwrap(), 3);
        assert_eq!(fs.lseek(fd, 3, libc::SEEK_HOLE).unwrap(), 15);
        assert_eq!(errno(fs.lseek(fd, 15, libc::SEEK_DATA)), libc::ENXIO);
        assert_eq!(errno(fs.lseek(fd, 15, libc::SEEK_HOLE)), libc::ENXIO);
        assert_eq!(errno(fs.lseek(fd, -1, libc::SEEK_DATA)), libc::ENXIO);
        // The offset is where SEEK_HOLE put it; seeking past the end is fine.
        assert_eq!(fs.lseek(fd, 100, libc::SEEK_SET).unwrap(), 100);
        assert_eq!(fs.read(fd, &mut buf).unwrap(), 0);
        fs.close(fd).unwrap();
    });
}

#[test]
fn append_truncate_and_dup() {
    each_fs(|fs| {
        put(fs, "/a", b"0123456789");
        let fd = fs.open("/a", libc::O_WRONLY | libc::O_APPEND, 0).unwrap();
        assert_eq!(fs.pwrite(fd, b"AB", 0).unwrap(), 2); // Linux: appends anyway
        assert_eq!(fs.write(fd, b"CD").unwrap(), 2);
        assert_eq!(fs.lseek(fd, 0, libc::SEEK_CUR).unwrap(), 14);
        let dup = fs.dup(fd).unwrap();
        assert_ne!(dup, fd);
        fs.lseek(dup, 2, libc::SEEK_SET).unwrap();
        assert_eq!(fs.lseek(fd, 0, libc::SEEK_CUR).unwrap(), 2); // shared offset
        assert_eq!(fs.dup2(fd, 40).unwrap(), 40);
        assert_eq!(fs.dup2(fd, fd).unwrap(), fd);
        assert_eq!(errno(fs.dup2(fd, -1)), libc::EBADF);
        assert_eq!(errno(fs.dup2(99, 41)), libc::EBADF);
        fs.ftruncate(40, 4).unwrap();
        assert_eq!(errno(fs.ftruncate(40, -1)), libc::EINVAL);
        fs.ftruncate(40, 8).unwrap();
        for fd in [fd, dup, 40] {
            fs.close(fd).unwrap();
        }
        assert_eq!(get(fs, "/a"), b"0123\0\0\0\0");
        fs.truncate("/a", 2).unwrap();
        assert_eq!(get(fs, "/a"), b"01");
        fs.truncate("/a", 0).unwrap();
        assert_eq!(fs.stat("/a").unwrap().size, 0);
        let t = fs.open("/a", libc::O_RDWR | libc::O_TRUNC, 0).unwrap();
        fs.write(t, b"new").unwrap();
        fs.close(t).unwrap();
        let t = fs.open("/a", libc::O_RDWR | libc::O_TRUNC, 0).unwrap();
        assert_eq!(fs.fstat(t).unwrap().size, 0);
        fs.close(t).unwrap();
    });
}

#[test]
fn descriptor_limit() {
    each_with(
        || Fs::builder().fd_capacity(3),
        |fs| {
            let fds: Vec<i32> = (0..3).map(|_| fs.open("/a", RW, 0o644).unwrap()).collect();
            assert_eq!(fds, vec![0, 1, 2]);
            assert_eq!(errno(fs.open("/a", RW, 0o644)), libc::EMFILE);
            assert_eq!(errno(fs.dup(0)), libc::EMFILE);
            assert_eq!(errno(fs.dup2(0, 3)), libc::EBADF);
            fs.close(1).unwrap();
            assert_eq!(fs.dup(0).unwrap(), 1);
            for fd in fds {
                fs.close(fd).unwrap();
            }
        },
    );
    assert_eq!(errno(Fs::builder().fd_capacity(0).build()), libc::EINVAL);
    assert_eq!(errno(Fs::builder().block_size(100).build()), libc::EINVAL);
    assert_eq!(
        errno(Fs::builder().compression_level(99).build()),
        libc::EINVAL
    );
}

#[test]
fn fs_is_send_sync_and_cheap() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Fs>();
    assert!(std::mem::size_of::<Fs>() <= std::mem::size_of::<usize>());
}
