//! The std-shaped layer: `OpenOptions`, `File` (Read/Write/Seek, positional
//! I/O, close on drop), `Metadata`, `ReadDir` and the path conveniences.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;

use ermfs::{FileType, Fs, OpenOptions};

use super::common::{each_fs, errno};

#[test]
fn read_write_seek_round_trip() {
    each_fs(|fs| {
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(fs, "/a")
            .unwrap();
        f.write_all(b"hello, world").unwrap();
        assert_eq!(f.stream_position().unwrap(), 12);
        assert_eq!(f.seek(SeekFrom::Start(7)).unwrap(), 7);
        let mut buf = [0u8; 5];
        f.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"world");
        assert_eq!(f.seek(SeekFrom::End(-12)).unwrap(), 0);
        f.write_all(b"HELLO").unwrap();
        assert_eq!(f.seek(SeekFrom::Current(-5)).unwrap(), 0);
        let mut all = String::new();
        f.read_to_string(&mut all).unwrap();
        assert_eq!(all, "HELLO, world");
        // Seeking before the start is EINVAL, as lseek.
        assert_eq!(errno(f.seek(SeekFrom::Current(-100))), libc::EINVAL);
        assert_eq!(errno(f.seek(SeekFrom::Start(u64::MAX))), libc::EINVAL);
        f.close().unwrap();
        assert_eq!(fs.read_file("/a").unwrap(), b"HELLO, world");
    });
}

#[test]
fn read_to_end_of_large_file() {
    each_fs(|fs| {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        fs.write_file("/big", &data).unwrap();
        let mut f = fs.open_file("/big").unwrap();
        let mut head = [0u8; 1000];
        f.read_exact(&mut head).unwrap();
        let mut rest = b"prefix".to_vec();
        assert_eq!(f.read_to_end(&mut rest).unwrap(), data.len() - 1000);
        assert_eq!(&rest[..6], b"prefix");
        assert_eq!(&rest[6..], &data[1000..]);
        assert_eq!(fs.read_file("/big").unwrap(), data);
    });
}

#[test]
fn positional_io_leaves_offset() {
    each_fs(|fs| {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(fs, "/p")
            .unwrap();
        assert_eq!(f.write_at(b"abc", 10).unwrap(), 3);
        let mut buf = [9u8; 13];
        assert_eq!(f.read_at(&mut buf, 0).unwrap(), 13);
        assert_eq!(&buf[..10], &[0u8; 10]);
        assert_eq!(&buf[10..], b"abc");
        assert_eq!(f.read_at(&mut buf, 13).unwrap(), 0);
        assert_eq!((&f).stream_position().unwrap(), 0);
        f.set_len(4).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 4);
        f.set_len(8).unwrap();
        assert_eq!(f.read_at(&mut buf, 0).unwrap(), 8);
        assert_eq!(&buf[..8], &[0u8; 8]);
        assert_eq!(errno(f.read_at(&mut buf, u64::MAX)), libc::EINVAL);
        f.sync_all().unwrap();
        f.sync_data().unwrap();
        // A dup shares the offset.
        let mut g = f.try_clone().unwrap();
        (&f).seek(SeekFrom::Start(3)).unwrap();
        assert_eq!(g.stream_position().unwrap(), 3);
    });
}

#[test]
fn drop_closes_and_compresses() {
    each_fs(|fs| {
        {
            let mut f = fs.create_file("/d").unwrap();
            f.write_all(&b"compress me ".repeat(10_000)).unwrap();
            assert_eq!(fs.stats().open_fds, 1);
            assert_eq!(fs.stats().compressions, 0);
        }
        let s = fs.stats();
        assert_eq!(s.open_fds, 0);
        assert_eq!(s.compressions, 1);
        assert_eq!(s.raw_bytes, 0);
        let f = fs.open_file("/d").unwrap();
        let fd = f.fd();
        f.close().unwrap();
        assert_eq!(fs.stats().open_fds, 0);
        assert_eq!(errno(fs.close(fd)), libc::EBADF);
        // A File keeps its Fs alive after the caller's handle is gone.
        let own = fs.clone();
        let mut f = own.open_file("/d").unwrap();
        drop(own);
        let mut buf = [0u8; 12];
        f.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"compress me ");
    });
}

#[test]
fn errors_match_fd_calls() {
    each_fs(|fs| {
        fs.mkdir("/dir", 0o755).unwrap();
        fs.write_file("/f", b"x").unwrap();
        let cases: [(&str, OpenOptions, i32); 8] = [
            (
                "/missing",
                OpenOptions::new().read(true).clone(),
                libc::ENOENT,
            ),
            ("/f", OpenOptions::new(), libc::EINVAL),
            (
                "/f",
                OpenOptions::new().read(true).create(true).clone(),
                libc::EINVAL,
            ),
            (
                "/f",
                OpenOptions::new().append(true).truncate(true).clone(),
                libc::EINVAL,
            ),
            (
                "/f",
                OpenOptions::new().write(true).create_new(true).clone(),
                libc::EEXIST,
            ),
            ("/dir", OpenOptions::new().write(true).clone(), libc::EISDIR),
            ("/f/x", OpenOptions::new().read(true).clone(), libc::ENOTDIR),
            ("/a\0b", OpenOptions::new().read(true).clone(), libc::EINVAL),
        ];
        for (path, opts, want) in cases {
            assert_eq!(errno(opts.open(fs, path)), want, "{path} {opts:?}");
        }
        let flags = [
            (OpenOptions::new().read(true).clone(), libc::O_RDONLY),
            (OpenOptions::new().write(true).clone(), libc::O_WRONLY),
        ];
        for (opts, flag) in flags {
            assert_eq!(
                errno(opts.open(fs, "/nope")),
                errno(fs.open("/nope", flag, 0))
            );
        }
        // Reading a write-only file, writing a read-only one: EBADF.
        let mut w = OpenOptions::new().write(true).open(fs, "/f").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(errno(w.read(&mut buf)), libc::EBADF);
        assert_eq!(errno(w.read_at(&mut buf, 0)), libc::EBADF);
        let mut r = fs.open_file("/f").unwrap();
        assert_eq!(errno(r.write(b"y")), libc::EBADF);
        assert_eq!(errno(r.write_at(b"y", 0)), libc::EBADF);
        assert_eq!(errno(r.set_len(0)), libc::EINVAL);
        let d = fs.open_file("/dir").unwrap();
        assert_eq!(errno((&d).read(&mut buf)), libc::EISDIR);
        assert_eq!(errno(fs.read_file("/dir")), libc::EISDIR);
        assert_eq!(errno(fs.read_file("/missing")), libc::ENOENT);
        assert_eq!(errno(fs.write_file("/dir", b"z")), libc::EISDIR);
        assert_eq!(errno(fs.read_dir("/f")), libc::ENOTDIR);
        // An explicit close reports EBADF if the fd was closed behind it.
        fs.close(r.fd()).unwrap();
        assert_eq!(errno(r.close()), libc::EBADF);
        w.flush().unwrap();
    });
}

#[test]
fn append_mode_writes_at_end() {
    each_fs(|fs| {
        fs.write_file("/log", b"one\n").unwrap();
        let mut f = OpenOptions::new().append(true).open(fs, "/log").unwrap();
        f.write_all(b"two\n").unwrap();
        f.write_at(b"three\n", 0).unwrap();
        drop(f);
        assert_eq!(fs.read_file("/log").unwrap(), b"one\ntwo\nthree\n");
        // Overwriting with write_file truncates.
        fs.write_file("/log", b"x").unwrap();
        assert_eq!(fs.read_file("/log").unwrap(), b"x");
    });
}

#[test]
fn metadata_and_read_dir() {
    each_fs(|fs| {
        fs.mkdir("/d", 0o750).unwrap();
        fs.mkdir("/d/sub", 0o700).unwrap();
        OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .open(fs, "/d/b")
            .unwrap()
            .write_all(b"12345")
            .unwrap();
        fs.write_file("/d/a", b"").unwrap();
        let m = fs.metadata("/d/b").unwrap();
        assert!(m.is_file() && !m.is_dir());
        assert_eq!(m.len(), 5);
        assert!(!m.is_empty());
        assert_eq!(m.file_type(), FileType::File);
        assert_eq!(m.permissions().mode() & 0o7777, 0o600);
        assert_eq!(m.mode(), libc::S_IFREG | 0o600);
        assert_eq!(m.nlink(), 1);
        assert_eq!(m.ino(), fs.stat("/d/b").unwrap().ino);
        assert!(m.modified().unwrap() >= m.created().unwrap());
        assert!(m.accessed().is_ok());
        let d = fs.metadata("/d").unwrap();
        assert!(d.is_dir());
        assert_eq!(d.nlink(), 3);
        assert_eq!(d.permissions().mode() & 0o777, 0o750);
        let entries: Vec<_> = fs.read_dir("/d").unwrap().map(|e| e.unwrap()).collect();
        let names: Vec<_> = entries.iter().map(|e| e.file_name()).collect();
        assert_eq!(names, ["a", "b", "sub"]);
        assert_eq!(entries[2].file_type().unwrap(), FileType::Dir);
        assert_eq!(entries[1].path(), std::path::Path::new("/d/b"));
        assert_eq!(entries[1].metadata().unwrap().len(), 5);
        assert_eq!(entries[1].ino(), m.ino());
        assert_eq!(fs.read_dir("/").unwrap().count(), 1);
        assert_eq!(fs.read_dir("/d/sub").unwrap().count(), 0);
        assert_eq!(errno(fs.read_dir("/none")), libc::ENOENT);
        // The mode switch sees Files as open descriptors.
        let f = fs.open_file("/d/b").unwrap();
        assert_eq!(errno(fs.set_lockless_mode(!fs.is_lockless())), libc::EBUSY);
        drop(f);
        let lockless = fs.is_lockless();
        fs.set_lockless_mode(!lockless).unwrap();
        assert_eq!(fs.read_file("/d/b").unwrap(), b"12345");
        fs.set_lockless_mode(lockless).unwrap();
    });
}

#[test]
fn files_from_many_threads() {
    each_fs(|fs| {
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let fs: Fs = fs.clone();
                s.spawn(move || {
                    for i in 0..50u32 {
                        let path = format!("/t{t}-{i}");
                        let body = vec![t; (i as usize) * 37];
                        fs.write_file(&path, &body).unwrap();
                        assert_eq!(fs.read_file(&path).unwrap(), body);
                    }
                });
            }
        });
        assert_eq!(fs.stats().open_fds, 0);
        assert_eq!(fs.read_dir("/").unwrap().count(), 200);
    });
}

#[test]
fn memory_limit_gives_enospc() {
    super::common::each_with(
        || Fs::builder().memory_limit(Some(256 << 10)),
        |fs| {
            let big = vec![7u8; 1 << 20];
            assert_eq!(errno(fs.write_file("/big", &big)), libc::ENOSPC);
            let fd = fs
                .open("/big2", libc::O_CREAT | libc::O_WRONLY, 0o644)
                .unwrap();
            assert_eq!(errno(fs.write(fd, &big)), libc::ENOSPC);
            fs.close(fd).unwrap();
            let f = fs.create_file("/c").unwrap();
            // Truncating up charges nothing (a hole), so it fits.
            let used = fs.memory_used();
            f.set_len(1 << 30).unwrap();
            assert_eq!(fs.memory_used(), used);
            f.set_len(0).unwrap();
            assert_eq!(f.metadata().unwrap().len(), 0);
            drop(f);
            assert_eq!(fs.stats().open_fds, 0);
        },
    );
}
