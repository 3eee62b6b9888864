//! The `Background` compression policy and `settle()`.

use std::time::{Duration, Instant};

use ermfs::{CompressionPolicy, Fs, FsBuilder};

use super::common::{each_with, get, put};

fn background(delay: Duration) -> impl Fn() -> FsBuilder {
    move || Fs::builder().compression(CompressionPolicy::Background { delay })
}

/// Compressible bytes, several blocks long.
fn text() -> Vec<u8> {
    (0..20_000u32)
        .flat_map(|i| format!("line {i} of the background test\n").into_bytes())
        .collect()
}

/// Polls `f` until it holds, for at most 10 s.
fn eventually(f: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn compresses_after_the_delay() {
    let data = text();
    each_with(background(Duration::from_millis(20)), |fs| {
        put(fs, "/f", &data);
        assert!(eventually(|| fs.stats().compressions == 1));
        fs.settle();
        let s = fs.stats();
        assert_eq!(s.pending_compressions, 0);
        assert_eq!(s.raw_bytes, 0);
        assert!(s.compressed_bytes > 0 && s.compressed_bytes < data.len() as u64 / 2);
        assert_eq!(get(fs, "/f"), data);
        assert_eq!(
            fs.stats().lazy_opens,
            1,
            "a read-only reopen inflates lazily"
        );
    });
}

#[test]
fn settle_compresses_pending_files_now() {
    let data = text();
    each_with(background(Duration::from_secs(3600)), |fs| {
        for i in 0..5 {
            put(fs, &format!("/f{i}"), &data);
        }
        // An empty file is not queued: nothing to gain.
        put(fs, "/empty", b"");
        let s = fs.stats();
        assert_eq!(s.compressions, 0);
        assert_eq!(s.pending_compressions, 5);
        assert!(s.raw_bytes >= 5 * data.len() as u64);
        let start = Instant::now();
        fs.settle();
        assert!(start.elapsed() < Duration::from_secs(60));
        let s = fs.stats();
        assert_eq!(s.compressions, 5);
        assert_eq!(s.pending_compressions, 0);
        assert_eq!(s.raw_bytes, 0);
        fs.settle(); // nothing pending: returns at once
        for i in 0..5 {
            assert_eq!(get(fs, &format!("/f{i}")), data);
        }
    });
}

#[test]
fn reopen_before_the_delay_costs_nothing() {
    let data = text();
    each_with(background(Duration::from_secs(3600)), |fs| {
        put(fs, "/f", &data);
        assert_eq!(get(fs, "/f"), data);
        let s = fs.stats();
        assert_eq!(s.compressions, 0);
        assert_eq!(s.inflations, 0);
        assert_eq!(s.bytes_inflated, 0);
        // Open across settle: the stale jobs are dropped, the open file stays raw.
        let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        fs.settle();
        assert_eq!(fs.stats().compressions, 0);
        assert_eq!(fs.stats().pending_compressions, 0);
        fs.close(fd).unwrap();
        assert_eq!(fs.stats().pending_compressions, 1);
        fs.settle();
        assert_eq!(fs.stats().compressions, 1);
        assert_eq!(get(fs, "/f"), data);
    });
}

#[test]
fn unlink_of_a_pending_file_frees_it() {
    let data = text();
    each_with(background(Duration::from_secs(3600)), |fs| {
        put(fs, "/f", &data);
        assert!(fs.memory_used() >= data.len());
        fs.unlink("/f").unwrap();
        assert_eq!(fs.memory_used(), 0);
        fs.settle();
        let s = fs.stats();
        assert_eq!(s.compressions, 0);
        assert_eq!(s.files, 0);
        assert_eq!(fs.memory_used(), 0);
        // Renamed over while pending: the replaced file is freed too.
        put(fs, "/a", &data);
        put(fs, "/b", b"small");
        fs.rename("/b", "/a").unwrap();
        fs.settle();
        assert_eq!(get(fs, "/a"), b"small");
        assert_eq!(fs.stats().compressions, 0);
    });
}

#[test]
fn drop_with_pending_work_stops_cleanly() {
    let data = text();
    each_with(background(Duration::from_secs(3600)), |fs| {
        let fs = fs.clone();
        put(&fs, "/f", &data);
        let other = fs.clone();
        drop(fs);
        // A clone keeps the worker; dropping the last one joins it at once.
        assert_eq!(other.stats().pending_compressions, 1);
        let start = Instant::now();
        drop(other);
        assert!(start.elapsed() < Duration::from_secs(10));
    });
    // Dropped while the worker is busy compressing.
    let fs = background(Duration::ZERO)().build().unwrap();
    for i in 0..20 {
        put(&fs, &format!("/g{i}"), &data);
    }
    drop(fs);
}

#[test]
fn concurrent_closes_and_reopens() {
    let data = text();
    each_with(background(Duration::from_millis(1)), |fs| {
        let deadline = Instant::now() + Duration::from_secs(5);
        std::thread::scope(|s| {
            for t in 0..4 {
                let fs = fs.clone();
                let data = &data;
                s.spawn(move || {
                    let path = format!("/t{}", t % 2);
                    for i in 0..100 {
                        if Instant::now() > deadline {
                            break;
                        }
                        if i % 2 == 0 {
                            let fd = fs
                                .open(&path, libc::O_CREAT | libc::O_WRONLY, 0o644)
                                .unwrap();
                            fs.pwrite(fd, data, 0).unwrap();
                            fs.close(fd).unwrap();
                        } else {
                            let got = get(&fs, &path);
                            assert!(got.is_empty() || got == *data);
                        }
                        if i % 10 == 0 {
                            fs.settle();
                        }
                    }
                });
            }
        });
        fs.settle();
        let s = fs.stats();
        assert_eq!(s.pending_compressions, 0);
        assert_eq!(s.raw_bytes, 0);
        assert_eq!(s.open_fds, 0);
        assert_eq!(get(fs, "/t0"), data);
        assert_eq!(get(fs, "/t1"), data);
    });
}

#[test]
fn other_policies_settle_at_once() {
    for policy in [CompressionPolicy::Immediate, CompressionPolicy::Never] {
        each_with(
            || Fs::builder().compression(policy),
            |fs| {
                put(fs, "/f", &text());
                fs.settle();
                assert_eq!(fs.stats().pending_compressions, 0);
            },
        );
    }
}
