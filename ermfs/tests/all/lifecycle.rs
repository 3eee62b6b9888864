//! The content lifecycle: compress on last close, reopen, unlink while open,
//! memory limit, backend switch.

use ermfs::{CompressionPolicy, Fs};

use super::common::{each_fs, each_with, errno, get, put};

/// About 1 MiB of the shared corpus (text and binary files, concatenated).
fn corpus() -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let mut data = Vec::new();
    for name in names {
        data.extend(std::fs::read(name).unwrap());
        if data.len() >= 1 << 20 {
            break;
        }
    }
    data.truncate(1 << 20);
    assert!(data.len() > 100_000, "corpus missing");
    data
}

#[test]
fn close_compresses_and_reopen_restores() {
    let data = corpus();
    each_with(
        || Fs::builder().block_size(64 << 10),
        |fs| {
            let fd = fs.open("/c", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
            fs.write(fd, &data).unwrap();
            let open = fs.stats();
            assert_eq!(open.bytes_written, data.len() as u64);
            assert!(open.raw_bytes >= data.len() as u64);
            fs.close(fd).unwrap();
            let closed = fs.stats();
            assert_eq!(closed.compressions, 1);
            assert_eq!(closed.bytes_deflated, data.len() as u64);
            assert!(closed.compressed_bytes > 0);
            assert!(closed.compressed_bytes < data.len() as u64 / 2);
            assert_eq!(closed.raw_bytes, 0);
            assert_eq!(fs.memory_used() as u64, closed.compressed_bytes);
            let st = fs.stat("/c").unwrap();
            assert_eq!(st.size, data.len() as u64);
            assert_eq!(st.blocks, closed.compressed_bytes.div_ceil(512));
            // Read-only reopen: blocks inflated as read, bytes identical, and
            // the last close keeps the stream (nothing to compress again).
            assert_eq!(get(fs, "/c"), data);
            let again = fs.stats();
            assert_eq!((again.inflations, again.lazy_opens), (0, 1));
            assert_eq!(again.bytes_inflated, data.len() as u64);
            assert_eq!(again.compressions, 1);
            assert_eq!(again.raw_bytes, 0);
            assert_eq!(again.compressed_bytes, closed.compressed_bytes);
            // Writable reopen: inflated in full; two descriptors: only the
            // last close compresses.
            let a = fs.open("/c", libc::O_RDWR, 0).unwrap();
            assert_eq!(fs.stats().inflations, 1);
            let b = fs.open("/c", libc::O_RDONLY, 0).unwrap();
            fs.close(a).unwrap();
            assert_eq!(fs.stats().compressions, 1);
            fs.close(b).unwrap();
            assert_eq!(fs.stats().compressions, 2);
            assert_eq!(get(fs, "/c"), data);
        },
    );
}

#[test]
fn files_that_do_not_shrink_stay_raw() {
    each_fs(|fs| {
        put(fs, "/small", b"tiny");
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        put(fs, "/noise", &noise);
        let s = fs.stats();
        assert_eq!((s.compressions, s.compressed_bytes), (0, 0));
        assert_eq!(get(fs, "/small"), b"tiny");
        assert_eq!(get(fs, "/noise"), noise);
    });
}

#[test]
fn never_policy_keeps_files_raw() {
    each_with(
        || Fs::builder().compression(CompressionPolicy::Never),
        |fs| {
            put(fs, "/a", &[b'a'; 100_000]);
            let s = fs.stats();
            assert_eq!((s.compressions, s.compressed_bytes), (0, 0));
            assert!(s.raw_bytes >= 100_000);
            assert_eq!(get(fs, "/a"), vec![b'a'; 100_000]);
        },
    );
}

#[test]
fn unlink_while_open_frees_at_last_close() {
    each_fs(|fs| {
        let fd = fs.open("/a", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        let dup = fs.dup(fd).unwrap();
        fs.write(fd, &[5u8; 200_000]).unwrap();
        fs.unlink("/a").unwrap();
        assert!(!fs.exists("/a"));
        assert_eq!(fs.stats().files, 0);
        assert_eq!(fs.fstat(fd).unwrap().nlink, 0);
        let mut buf = [0u8; 10];
        assert_eq!(fs.pread(dup, &mut buf, 199_995).unwrap(), 5);
        // A new file under the same name is a different inode.
        put(fs, "/a", b"new");
        fs.close(fd).unwrap();
        assert!(fs.memory_used() >= 200_000);
        let before = fs.stats().compressions;
        fs.close(dup).unwrap();
        assert_eq!(fs.stats().compressions, before); // freed, not compressed
        assert_eq!(get(fs, "/a"), b"new");
        fs.unlink("/a").unwrap();
        assert_eq!(fs.memory_used(), 0);
        // Unlinking a closed (compressed) file frees its stream.
        put(fs, "/b", &[1u8; 50_000]);
        assert!(fs.stats().compressed_bytes > 0);
        fs.unlink("/b").unwrap();
        assert_eq!((fs.memory_used(), fs.stats().compressed_bytes), (0, 0));
        // Renaming over an open file: it lives on until closed.
        put(fs, "/c", b"source");
        let victim = fs.open("/v", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        fs.write(victim, b"victim").unwrap();
        fs.rename("/c", "/v").unwrap();
        assert_eq!(fs.pread(victim, &mut buf, 0).unwrap(), 6);
        assert_eq!(&buf[..6], b"victim");
        fs.close(victim).unwrap();
        assert_eq!(get(fs, "/v"), b"source");
    });
}

#[test]
fn memory_limit_gives_enospc_and_leaves_file_unchanged() {
    each_with(
        || Fs::builder().memory_limit(Some(1 << 20)),
        |fs| {
            let fd = fs.open("/a", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
            let first: Vec<u8> = (0..512 << 10).map(|i| (i % 251) as u8).collect();
            fs.write(fd, &first).unwrap();
            assert_eq!(errno(fs.write(fd, &vec![9u8; 1 << 20])), libc::ENOSPC);
            // Data pages are charged, holes are not: a far write of a page
            // costs a page, so only one of more data than fits is refused.
            assert_eq!(
                errno(fs.pwrite(fd, &vec![9u8; 1 << 20], 4 << 20)),
                libc::ENOSPC
            );
            assert_eq!(fs.fstat(fd).unwrap().size, first.len() as u64);
            assert_eq!(fs.lseek(fd, 0, libc::SEEK_CUR).unwrap(), first.len() as i64);
            let mut back = vec![0u8; first.len() + 1];
            assert_eq!(fs.pread(fd, &mut back, 0).unwrap(), first.len());
            assert_eq!(&back[..first.len()], &first[..]);
            assert!(fs.memory_used() <= 1 << 20);
            fs.close(fd).unwrap();
            // Compressed bytes count too, and the content survives.
            assert!(fs.stats().compressed_bytes > 0);
            assert_eq!(get(fs, "/a"), first);
            assert!(fs.memory_used() <= 1 << 20);
        },
    );
}

#[test]
fn writable_reopen_over_the_limit_fails_and_keeps_the_file() {
    each_with(
        || Fs::builder().memory_limit(Some(1 << 20)),
        |fs| {
            let a: Vec<u8> = (0..600_000u32).map(|i| (i % 97) as u8).collect();
            put(fs, "/a", &a);
            let packed = fs.stats().compressed_bytes;
            assert!(packed > 0 && packed < 100_000);
            let b = fs.open("/b", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
            fs.write(b, &vec![1u8; 600_000]).unwrap();
            assert_eq!(errno(fs.open("/a", libc::O_RDWR, 0)), libc::ENOSPC);
            assert_eq!(errno(fs.truncate("/a", 10)), libc::ENOSPC);
            // Reading needs no room: it is served past the cache.
            assert_eq!(get(fs, "/a"), a);
            assert_eq!(fs.stats().compressed_bytes, packed);
            assert_eq!(fs.stat("/a").unwrap().size, a.len() as u64);
            fs.close(b).unwrap();
            assert_eq!(get(fs, "/a"), a);
        },
    );
}

#[test]
fn lockless_switch_is_busy_with_open_fds_and_keeps_everything() {
    each_fs(|fs| {
        let start = fs.is_lockless();
        fs.mkdir("/d", 0o755).unwrap();
        for i in 0..50 {
            put(fs, &format!("/d/f{i}"), format!("content {i}").as_bytes());
        }
        let fd = fs.open("/d/f1", libc::O_RDONLY, 0).unwrap();
        assert_eq!(errno(fs.set_lockless_mode(!start)), libc::EBUSY);
        assert_eq!(fs.is_lockless(), start);
        fs.close(fd).unwrap();
        fs.set_lockless_mode(!start).unwrap();
        assert_eq!(fs.is_lockless(), !start);
        fs.set_lockless_mode(!start).unwrap(); // already there: no-op
        for i in 0..50 {
            assert_eq!(
                get(fs, &format!("/d/f{i}")),
                format!("content {i}").as_bytes()
            );
        }
        assert_eq!(fs.readdir("/d").unwrap().len(), 52);
        assert_eq!(fs.stats().files, 50);
        let fd = fs
            .open("/d/new", libc::O_CREAT | libc::O_RDWR, 0o644)
            .unwrap();
        assert_eq!(fd, 0);
        fs.close(fd).unwrap();
        fs.set_lockless_mode(start).unwrap();
        assert_eq!(fs.is_lockless(), start);
        assert!(fs.exists("/d/new"));
        assert_eq!(get(fs, "/d/f49"), b"content 49");
    });
}

#[test]
fn multicore_close_and_reopen_give_the_single_core_stream() {
    let data = corpus(); // 1 MiB: 64 blocks of 16 KiB, enough for 4 threads
    let streams = std::sync::Mutex::new(Vec::new());
    for threads in [1, 2, 4] {
        each_with(
            || Fs::builder().block_size(16 << 10).threads(threads),
            |fs| {
                put(fs, "/big", &data);
                let s = fs.stats();
                assert_eq!((s.compressions, s.bytes_deflated), (1, data.len() as u64));
                assert_eq!(s.raw_bytes, 0);
                // Only the join of the runs after the first copies (compressed) bytes.
                assert_eq!(s.internal_copies > 0, threads > 1, "threads {threads}");
                assert!(s.internal_copies < s.compressed_bytes);
                streams.lock().unwrap().push(s.compressed_bytes);
                // A writable reopen inflates in full, on `threads` threads.
                let fd = fs.open("/big", libc::O_RDWR, 0).unwrap();
                assert_eq!(fs.stats().inflations, 1);
                let mut back = vec![0u8; data.len()];
                assert_eq!(fs.pread(fd, &mut back, 0).unwrap(), data.len());
                assert!(back == data, "threads {threads}");
                fs.close(fd).unwrap();
                assert_eq!(fs.stats().compressed_bytes, s.compressed_bytes);
            },
        );
    }
    let streams = streams.into_inner().unwrap();
    assert!(streams.windows(2).all(|w| w[0] == w[1]), "{streams:?}");
}

#[test]
fn an_open_stops_a_running_compression_and_gets_every_byte() {
    // A compressible file of many chunks, so its deflate takes a while.
    let data: Vec<u8> = corpus().into_iter().cycle().take(24 << 20).collect();
    let hour = std::time::Duration::from_secs(3600);
    each_with(
        || {
            Fs::builder()
                .compression(CompressionPolicy::Background { delay: hour })
                .threads(1)
                .block_size(64 << 10)
        },
        |fs| {
            // Whether the open lands before, during or after the deflate is
            // up to the scheduler: try with growing head starts until one
            // lands during it. Every attempt must keep every byte.
            let mut cancelled = false;
            for attempt in 1..=10u64 {
                put(fs, "/f", &data);
                let before = fs.stats();
                std::thread::scope(|s| {
                    let settle = s.spawn(|| fs.settle());
                    std::thread::sleep(std::time::Duration::from_millis(5 * attempt));
                    let fd = fs.open("/f", libc::O_RDWR, 0).unwrap();
                    let mut back = vec![0u8; data.len()];
                    assert_eq!(fs.pread(fd, &mut back, 0).unwrap(), data.len());
                    assert!(back == data, "bytes changed by a stopped compression");
                    fs.close(fd).unwrap();
                    settle.join().unwrap();
                });
                fs.settle(); // the close above queued the file again
                let after = fs.stats();
                assert!(get(fs, "/f") == data);
                assert_eq!(after.pending_compressions, 0);
                if after.compressions_cancelled > before.compressions_cancelled {
                    cancelled = true;
                    break;
                }
            }
            assert!(cancelled, "no open landed during a compression in 10 tries");
            assert_eq!(fs.stats().raw_bytes, 0, "the last close compressed again");
        },
    );
}
