//! loom models of the inode lifecycle, run through the public API so the
//! real code is checked: the last close racing an open (compression must
//! not eat a file being reopened), unlink racing the last close (the file is
//! freed exactly once, after both), an open racing unlink plus close (it
//! gets the file or `ENOENT`, never a freed inode), unlink of one hard
//! link racing the last close while another name remains (the file is
//! kept, then freed once with its last name), and two `O_APPEND` writers
//! (neither write is lost or overlaps), and a writer at the memory limit
//! racing a read-only open that fills its cache (the read is exact, the
//! writer gets the cache's room or `ENOSPC` only while the reader holds its
//! file, and nothing passes the limit). Each model runs on the locked and
//! the lockless backends. (The descriptor gate that keeps opens out of a
//! backend switch has its own model in `src/gate.rs`: through the public
//! API the switch also frees the old name map behind `arc_swap`, whose
//! synchronisation loom cannot see.)
//!
//! Run by `cargo xtask ci` with `RUSTFLAGS="--cfg loom"` and
//! `LOOM_MAX_PREEMPTIONS=2`.
#![cfg(loom)]
#![allow(clippy::unwrap_used)]

use loom::sync::Arc;
use loom::thread;

use ermfs::Fs;

/// Bytes that compress, so a close really packs the file.
const DATA: &[u8] = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A small file system: few descriptors, so the fd table stays small.
fn small_fs(lockless: bool) -> Fs {
    Fs::builder()
        .lockless(lockless)
        .fd_capacity(4)
        .threads(1)
        .build()
        .unwrap()
}

/// Every byte of `path`, through a read-only open.
fn content(fs: &Fs, path: &str) -> Vec<u8> {
    let fd = fs.open(path, libc::O_RDONLY, 0).unwrap();
    let mut buf = vec![0u8; 256];
    let n = fs.pread(fd, &mut buf, 0).unwrap();
    fs.close(fd).unwrap();
    buf.truncate(n);
    buf
}

fn each_mode(model: fn(bool)) {
    for lockless in [false, true] {
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&runs);
        // The setup and checks inside each run (writes, reads, stats) pass
        // loom's default 1,000 branches per execution: raised, the
        // preemption bound (LOOM_MAX_PREEMPTIONS) is what keeps runs few.
        let mut builder = loom::model::Builder::new();
        builder.max_branches = 20_000;
        builder.check(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            model(lockless)
        });
        // A model that explores one interleaving checks nothing.
        let runs = runs.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!("lockless={lockless}: {runs} interleavings");
        assert!(runs > 1, "loom explored a single interleaving");
    }
}

#[test]
fn last_close_racing_open_keeps_the_data() {
    each_mode(|lockless| {
        let fs = Arc::new(small_fs(lockless));
        let fd = fs.open("/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        fs.write(fd, DATA).unwrap();
        let closer = {
            let fs = Arc::clone(&fs);
            thread::spawn(move || fs.close(fd).unwrap())
        };
        // Opened for writing: it needs the whole file raw, whether the close
        // packed it first or not.
        let w = fs.open("/f", libc::O_RDWR, 0).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(fs.pread(w, &mut buf, 0).unwrap(), DATA.len());
        assert_eq!(&buf[..], DATA);
        closer.join().unwrap();
        fs.close(w).unwrap();
        assert_eq!(content(&fs, "/f"), DATA);
        let s = fs.stats();
        assert_eq!(
            (s.open_fds, s.raw_bytes),
            (0, 0),
            "packed at the very last close"
        );
        assert!(s.compressions >= 1);
    });
}

#[test]
fn unlink_racing_last_close_frees_once() {
    each_mode(|lockless| {
        let fs = Arc::new(small_fs(lockless));
        let fd = fs.open("/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        fs.write(fd, DATA).unwrap();
        let unlinker = {
            let fs = Arc::clone(&fs);
            thread::spawn(move || fs.unlink("/f").unwrap())
        };
        fs.close(fd).unwrap();
        unlinker.join().unwrap();
        assert!(!fs.exists("/f"));
        let s = fs.stats();
        assert_eq!((s.files, s.open_fds), (0, 0));
        assert_eq!(fs.memory_used(), 0, "freed, and exactly once");
    });
}

#[test]
fn unlink_of_one_name_racing_the_last_close_keeps_the_other() {
    each_mode(|lockless| {
        let fs = Arc::new(small_fs(lockless));
        let fd = fs.open("/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        fs.write(fd, DATA).unwrap();
        fs.link("/f", "/g").unwrap();
        let unlinker = {
            let fs = Arc::clone(&fs);
            thread::spawn(move || fs.unlink("/f").unwrap())
        };
        fs.close(fd).unwrap();
        unlinker.join().unwrap();
        assert_eq!(fs.stats().files, 1);
        assert_eq!(content(&fs, "/g"), DATA, "one name left: kept");
        fs.unlink("/g").unwrap();
        assert_eq!(fs.memory_used(), 0, "freed with the last name");
    });
}

#[test]
fn open_racing_unlink_and_close_sees_the_file_or_enoent() {
    each_mode(|lockless| {
        let fs = Arc::new(small_fs(lockless));
        let fd = fs.open("/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        fs.write(fd, DATA).unwrap();
        let remover = {
            let fs = Arc::clone(&fs);
            thread::spawn(move || {
                fs.unlink("/f").unwrap();
                fs.close(fd).unwrap();
            })
        };
        match fs.open("/f", libc::O_RDONLY, 0) {
            Ok(r) => {
                let mut buf = [0u8; 64];
                assert_eq!(fs.pread(r, &mut buf, 0).unwrap(), DATA.len());
                fs.close(r).unwrap();
            }
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT)),
        }
        remover.join().unwrap();
        assert_eq!(fs.memory_used(), 0);
        assert_eq!(fs.stats().open_fds, 0);
    });
}

#[test]
fn two_appenders_lose_nothing() {
    each_mode(|lockless| {
        let fs = Arc::new(small_fs(lockless));
        let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_APPEND;
        let a = fs.open("/log", flags, 0o644).unwrap();
        let b = fs.open("/log", flags, 0o644).unwrap();
        let other = {
            let fs = Arc::clone(&fs);
            thread::spawn(move || assert_eq!(fs.write(b, b"BBBB").unwrap(), 4))
        };
        assert_eq!(fs.write(a, b"AAAA").unwrap(), 4);
        other.join().unwrap();
        fs.close(a).unwrap();
        fs.close(b).unwrap();
        let log = content(&fs, "/log");
        assert!(log == b"AAAABBBB" || log == b"BBBBAAAA", "{log:?}");
    });
}

#[test]
fn a_writer_at_the_limit_racing_a_cache_fill() {
    const BLOCK: usize = 4096;
    each_mode(|lockless| {
        let data: Vec<u8> = (0..2 * BLOCK).map(|i| b"ab"[i / BLOCK]).collect();
        let probe = Fs::builder().block_size(BLOCK).threads(1).build().unwrap();
        let fd = probe
            .open("/f", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        probe.write(fd, &data).unwrap();
        probe.close(fd).unwrap();
        // Room for exactly the two blocks a reader caches.
        let limit = probe.memory_used() + 2 * BLOCK;
        let fs = Fs::builder()
            .lockless(lockless)
            .fd_capacity(4)
            .threads(1)
            .block_size(BLOCK)
            .memory_limit(Some(limit))
            .build()
            .unwrap();
        let fd = fs
            .open("/f", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        fs.write(fd, &data).unwrap();
        fs.close(fd).unwrap();
        assert_eq!(fs.memory_used(), limit - 2 * BLOCK);
        let fs = Arc::new(fs);
        let r = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        let w = fs
            .open("/g", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        let writer = {
            let fs = Arc::clone(&fs);
            thread::spawn(move || fs.pwrite(w, &[7u8; BLOCK], 0).map(|_| ()))
        };
        let mut buf = vec![0u8; 2 * BLOCK];
        assert_eq!(fs.pread(r, &mut buf, 0).unwrap(), 2 * BLOCK);
        assert!(buf == data);
        let wrote = writer.join().unwrap();
        if let Err(e) = wrote {
            // Only while the reader held its file: with it released, the
            // cache gives way.
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
            fs.pwrite(w, &[7u8; BLOCK], 0).unwrap();
        }
        assert!(fs.memory_used() <= limit);
        assert_eq!(fs.pread(r, &mut buf, 0).unwrap(), 2 * BLOCK);
        assert!(buf == data);
        fs.close(r).unwrap();
        fs.close(w).unwrap();
        let g = fs.open("/g", libc::O_RDONLY, 0).unwrap();
        assert_eq!(fs.pread(g, &mut buf, 0).unwrap(), BLOCK);
        assert!(buf[..BLOCK].iter().all(|&b| b == 7), "the write went in");
        fs.close(g).unwrap();
    });
}
