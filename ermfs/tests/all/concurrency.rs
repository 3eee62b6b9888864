//! Threads on one `Fs`: an `O_APPEND` storm, bounded by time and iterations.

use std::time::{Duration, Instant};

use super::common::each_fs;

const THREADS: usize = 4;
const RECORDS: usize = 300;
const RECORD: usize = 32;

/// A record naming its thread and sequence number, padded to [`RECORD`] bytes.
fn record(thread: usize, seq: usize) -> [u8; RECORD] {
    let mut r = [b'.'; RECORD];
    let text = format!("<{thread}:{seq}>");
    r[..text.len()].copy_from_slice(text.as_bytes());
    r[RECORD - 1] = b'\n';
    r
}

#[test]
fn append_storm_loses_and_overlaps_nothing() {
    each_fs(|fs| {
        let deadline = Instant::now() + Duration::from_secs(10);
        let shared = fs
            .open(
                "/log",
                libc::O_CREAT | libc::O_WRONLY | libc::O_APPEND,
                0o644,
            )
            .unwrap();
        let written: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let fs = fs.clone();
                    s.spawn(move || {
                        // Odd threads use their own description, even ones the shared one.
                        let fd = if t % 2 == 1 {
                            fs.open("/log", libc::O_WRONLY | libc::O_APPEND, 0).unwrap()
                        } else {
                            shared
                        };
                        let mut n = 0;
                        while n < RECORDS && Instant::now() < deadline {
                            assert_eq!(fs.write(fd, &record(t, n)).unwrap(), RECORD);
                            n += 1;
                        }
                        if fd != shared {
                            fs.close(fd).unwrap();
                        }
                        n
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        fs.close(shared).unwrap();
        let data = super::common::get(fs, "/log");
        assert_eq!(data.len(), written * RECORD);
        let mut next = [0usize; THREADS];
        for chunk in data.chunks(RECORD) {
            let (t, seq) = (0..THREADS)
                .find_map(|t| (chunk == record(t, next[t])).then_some((t, next[t])))
                .expect("every chunk is the next whole record of one thread");
            next[t] = seq + 1;
        }
        assert_eq!(next.iter().sum::<usize>(), written);
    });
}

/// A small xorshift generator: the storm must be reproducible per thread.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn lifecycle_storm_keeps_chunks_whole_and_leaks_nothing() {
    const CHUNK: usize = 4096;
    const NAMES: [&str; 3] = ["/s0", "/s1", "/s2"];
    let ok_or_enoent = |r: std::io::Result<()>| match r {
        Ok(()) => {}
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}"),
    };
    super::common::each_with(
        || ermfs::Fs::builder().block_size(CHUNK),
        |fs| {
            let deadline = Instant::now() + Duration::from_secs(5);
            std::thread::scope(|s| {
                for t in 0..THREADS as u64 {
                    let fs = fs.clone();
                    s.spawn(move || {
                        let mut x = 0x2545_f491_4f6c_dd1d ^ (t + 1);
                        for _ in 0..400 {
                            if Instant::now() >= deadline {
                                break;
                            }
                            let r = next(&mut x);
                            let name = NAMES[(r % 3) as usize];
                            let at = (CHUNK * ((r >> 8) % 8) as usize) as i64;
                            match (r >> 16) % 5 {
                                0 => {
                                    let fd = fs.open(name, libc::O_CREAT | libc::O_RDWR, 0o644);
                                    let fd = fd.unwrap();
                                    let v = (r >> 24) as u8;
                                    fs.pwrite(fd, &[v; CHUNK], at).unwrap();
                                    fs.close(fd).unwrap();
                                }
                                1 => {
                                    let Ok(fd) = fs.open(name, libc::O_RDONLY, 0) else {
                                        continue;
                                    };
                                    let mut buf = [0u8; CHUNK];
                                    let n = fs.pread(fd, &mut buf, at).unwrap();
                                    assert!(buf[..n].iter().all(|&b| b == buf[0]), "torn chunk");
                                    fs.close(fd).unwrap();
                                }
                                2 => ok_or_enoent(fs.unlink(name)),
                                3 => ok_or_enoent(fs.rename(name, NAMES[((r >> 32) % 3) as usize])),
                                _ => ok_or_enoent(fs.truncate(name, at)),
                            }
                        }
                    });
                }
            });
            for name in NAMES {
                ok_or_enoent(fs.unlink(name));
            }
            let s = fs.stats();
            assert_eq!((s.files, s.open_fds, s.compressed_bytes), (0, 0, 0));
            assert_eq!(fs.memory_used(), 0);
        },
    );
}

/// Exports taken while another thread appends records are snapshots: each
/// is a prefix of the final file, cut between two whole records.
#[test]
fn export_while_written_is_a_whole_record_prefix() {
    use std::os::fd::AsFd;
    each_fs(|fs| {
        let fd = fs
            .open(
                "/log",
                libc::O_CREAT | libc::O_WRONLY | libc::O_APPEND,
                0o644,
            )
            .unwrap();
        let started = Instant::now();
        let snapshots = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                for seq in 0..RECORDS * 4 {
                    fs.write(fd, &record(0, seq)).unwrap();
                    if started.elapsed() > Duration::from_secs(5) {
                        break;
                    }
                }
            });
            let mut snapshots = Vec::new();
            while !writer.is_finished() && snapshots.len() < 200 {
                let memfd = fs.export_memfd("/log", ermfs::ExportFlags::SEALED).unwrap();
                let len = std::fs::File::from(memfd.try_clone().unwrap())
                    .metadata()
                    .unwrap()
                    .len() as usize;
                let map = ermfd::map(memfd.as_fd(), len).unwrap();
                snapshots.push(map.to_vec());
            }
            writer.join().unwrap();
            snapshots
        });
        fs.close(fd).unwrap();
        let full = super::common::get(fs, "/log");
        assert_eq!(full.len() % RECORD, 0);
        for snap in &snapshots {
            assert_eq!(snap.len() % RECORD, 0, "cut inside a record");
            assert!(full.starts_with(snap), "not a prefix");
        }
    });
}
