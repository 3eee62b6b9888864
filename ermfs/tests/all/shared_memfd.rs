//! `open_node_memfd`: a file's content held in a memfd that another writer
//! (here: this test, through the memfd) reads and writes directly, as the
//! kernel does through FUSE passthrough. The store sees that writer's
//! changes, shares one memfd among the opens, compresses from it at the
//! last close, and keeps in-process access coherent. Both backends, and
//! the compression policies where the last close matters.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use ermfs::{CompressionPolicy, Fs, Identity};

use super::common::{each_fs, each_with, errno, get, put};

fn root() -> Identity {
    Identity::root()
}

fn open_shared(fs: &Fs, path: &str, flags: i32) -> (i32, File) {
    let node = fs.node(path).unwrap();
    let (fd, memfd) = fs.open_node_memfd(&node, flags, &root()).unwrap();
    (fd, File::from(memfd))
}

#[test]
fn the_memfd_is_the_file_and_the_store_sees_its_writes() {
    each_fs(|fs| {
        put(fs, "/f", b"hello");
        let before = fs.stat("/f").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let (fd, memfd) = open_shared(fs, "/f", libc::O_RDWR);
        assert_eq!(memfd.metadata().unwrap().len(), 5, "inflated into it");
        let mut buf = [0u8; 16];
        let n = memfd.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf[..n], b"hello");
        // The other writer extends the file.
        memfd.write_all_at(b" world, at 1 MiB", 1 << 20).unwrap();
        let st = fs.getattr(&fs.node("/f").unwrap());
        assert_eq!(st.size, (1 << 20) + 16);
        assert!(st.mtime > before.mtime, "its write moved the mtime");
        assert_eq!(st.ctime, st.mtime);
        assert_eq!(st.blocks, 2 * 8, "two data pages");
        assert_eq!(fs.fstat(fd).unwrap().size, st.size);
        // In-process reads and writes see and change the same bytes.
        let n = fs.pread(fd, &mut buf, 1 << 20).unwrap();
        assert_eq!(&buf[..n], b" world, at 1 MiB");
        fs.pwrite(fd, b"J", 0).unwrap();
        memfd.read_exact_at(&mut buf[..1], 0).unwrap();
        assert_eq!(buf[0], b'J');
        assert_eq!(fs.lseek(fd, 4096, libc::SEEK_DATA).unwrap(), 1 << 20);
        assert_eq!(fs.lseek(fd, 0, libc::SEEK_END).unwrap(), (1 << 20) + 16);
        // A truncate through the store truncates the memfd.
        fs.ftruncate(fd, 3).unwrap();
        assert_eq!(memfd.metadata().unwrap().len(), 3);
        memfd.write_all_at(b"lo", 3).unwrap();
        fs.close(fd).unwrap();
        assert_eq!(get(fs, "/f"), b"Jello");
    });
}

#[test]
fn sharing_the_content_changes_no_time() {
    each_fs(|fs| {
        put(fs, "/f", &[3u8; 100_000]);
        let before = fs.stat("/f").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let (fd, memfd) = open_shared(fs, "/f", libc::O_RDONLY);
        let mut buf = vec![0u8; 100_000];
        memfd.read_exact_at(&mut buf, 0).unwrap();
        let during = fs.fstat(fd).unwrap();
        fs.close(fd).unwrap();
        let after = fs.stat("/f").unwrap();
        for st in [during, after] {
            assert_eq!((st.mtime, st.ctime), (before.mtime, before.ctime));
            assert_eq!(st.size, before.size);
        }
    });
}

#[test]
fn opens_share_one_memfd_and_the_last_close_compresses_from_it() {
    for policy in [
        CompressionPolicy::Immediate,
        CompressionPolicy::Background {
            delay: Duration::ZERO,
        },
        CompressionPolicy::Never,
    ] {
        each_with(
            || Fs::builder().compression(policy),
            |fs| {
                let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
                put(fs, "/f", b"");
                let (a, memfd_a) = open_shared(fs, "/f", libc::O_WRONLY);
                let (b, memfd_b) = open_shared(fs, "/f", libc::O_RDONLY);
                // An in-process open between them shares the content too.
                let c = fs.open("/f", libc::O_RDONLY, 0).unwrap();
                memfd_a.write_all_at(&data, 0).unwrap();
                let mut back = vec![0u8; data.len()];
                memfd_b.read_exact_at(&mut back, 0).unwrap();
                assert_eq!(back, data, "one memfd behind both opens");
                assert_eq!(fs.pread(c, &mut back, 0).unwrap(), data.len());
                assert_eq!(back, data);
                for fd in [a, b, c] {
                    fs.close(fd).unwrap();
                }
                drop((memfd_a, memfd_b));
                fs.settle();
                assert_eq!(get(fs, "/f"), data, "{policy:?}");
                let st = fs.stat("/f").unwrap();
                assert_eq!(st.size, data.len() as u64);
                if policy != CompressionPolicy::Never {
                    assert!(
                        fs.stats().compressed_bytes > 0,
                        "compressed at the last close"
                    );
                    assert!(st.blocks * 512 < data.len() as u64);
                }
            },
        );
    }
}

#[test]
fn a_file_open_in_process_is_copied_into_the_memfd_once() {
    each_fs(|fs| {
        let fd = fs.open("/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        fs.pwrite(fd, &[5u8; 10_000], 0).unwrap();
        let copies = fs.stats().internal_copies;
        let (shared, memfd) = open_shared(fs, "/f", libc::O_RDONLY);
        let mut buf = vec![0u8; 10_000];
        memfd.read_exact_at(&mut buf, 0).unwrap();
        assert!(buf.iter().all(|&b| b == 5));
        let copied = fs.stats().internal_copies - copies;
        assert!((10_000..=12_288).contains(&copied), "copied {copied}");
        // The earlier descriptor writes into the memfd now.
        fs.pwrite(fd, b"x", 0).unwrap();
        memfd.read_exact_at(&mut buf[..1], 0).unwrap();
        assert_eq!(buf[0], b'x');
        fs.close(fd).unwrap();
        fs.close(shared).unwrap();
    });
}

#[test]
fn the_other_writers_pages_are_charged_and_the_store_refuses_its_own_growth() {
    each_with(
        || Fs::builder().memory_limit(Some(1 << 20)),
        |fs| {
            put(fs, "/f", b"");
            let (fd, memfd) = open_shared(fs, "/f", libc::O_RDWR);
            memfd.write_all_at(&vec![1u8; 2 << 20], 0).unwrap();
            assert_eq!(fs.fstat(fd).unwrap().size, 2 << 20);
            assert!(fs.memory_used() >= 2 << 20, "charged past the limit");
            assert_eq!(errno(fs.pwrite(fd, b"x", 3 << 20)), libc::ENOSPC);
            fs.ftruncate(fd, 0).unwrap();
            assert!(fs.memory_used() < 1 << 20, "credited");
            fs.close(fd).unwrap();
        },
    );
}

#[test]
fn bad_input_is_refused() {
    each_fs(|fs| {
        let r = fs.root();
        let d = fs.mkdirat(&r, "d", 0o755, 0, &root()).unwrap();
        assert_eq!(
            errno(fs.open_node_memfd(&d, libc::O_RDONLY, &root())),
            libc::EINVAL
        );
        let l = fs.symlinkat("d", &r, "l", &root()).unwrap();
        assert_eq!(
            errno(fs.open_node_memfd(&l, libc::O_RDONLY, &root())),
            libc::EINVAL
        );
        put(fs, "/f", b"x");
        let f = fs.node("/f").unwrap();
        assert_eq!(
            errno(fs.open_node_memfd(&f, libc::O_ACCMODE, &root())),
            libc::EINVAL
        );
        assert_eq!(fs.stats().open_fds, 0, "nothing left open");
    });
}
