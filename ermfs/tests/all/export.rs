//! Export to memfds and import from fds, the calls of SEMANTICS.md's export
//! and import table, at the file-system level (the memfd mechanics
//! themselves are tested in ermfd).

use std::fs::File;
use std::hash::{DefaultHasher, Hasher};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use ermfs::{ExportFlags, Fs};

use super::common::{each_fs, each_with, errno, fill_to_the_page, get, put};

fn checksum(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

/// `len` bytes that compress (text-like) but are not uniform.
fn sample(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"the quick brown fox jumps over the lazy dog\n"[i % 44] ^ ((i / 4096) as u8 & 3))
        .collect()
}

fn all_of(fd: OwnedFd) -> Vec<u8> {
    let mut file = File::from(fd);
    file.seek(SeekFrom::Start(0)).unwrap();
    let mut out = Vec::new();
    file.read_to_end(&mut out).unwrap();
    out
}

fn memfd_with(bytes: &[u8]) -> OwnedFd {
    let fd = ermfd::create(b"src", 0, ExportFlags::empty()).unwrap();
    ermfd::write_all_at(fd.as_fd(), bytes, 0).unwrap();
    fd
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Whether the process's descriptors come back to at most `baseline`
/// within 5 s: other tests of this binary open and close kernel fds (their
/// own exports, memfds) at the same time, so one count can catch theirs;
/// a leak of ours never goes away.
fn fds_back_to(baseline: usize) -> bool {
    for _ in 0..500 {
        if open_fds() <= baseline {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

#[test]
fn export_and_read_matches_the_checksum() {
    let data = sample(3 << 20);
    each_fs(|fs| {
        put(fs, "/f", &data);
        let fd = fs.export_memfd("/f", ExportFlags::empty()).unwrap();
        assert_eq!(checksum(&all_of(fd)), checksum(&data));
        assert_eq!(fs.stats().bytes_exported, data.len() as u64);
    });
}

#[test]
fn export_and_mmap_seek_fstat() {
    let data = sample(100_000);
    each_fs(|fs| {
        put(fs, "/f.bin", &data);
        let fd = fs.export_memfd("/f.bin", ExportFlags::empty()).unwrap();
        let map = ermfd::map(fd.as_fd(), data.len()).unwrap();
        assert!(map[..] == data[..], "mapping");
        drop(map);
        let st = File::from(fd.try_clone().unwrap()).metadata().unwrap();
        assert!(st.is_file());
        assert_eq!(st.len(), data.len() as u64);
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert!(link.to_string_lossy().contains("memfd:f.bin"), "{link:?}");
        let mut file = File::from(fd);
        assert_eq!(file.stream_position().unwrap(), 0, "offset 0");
        assert_eq!(
            file.seek(SeekFrom::End(-10)).unwrap(),
            data.len() as u64 - 10
        );
        assert_eq!(
            file.seek(SeekFrom::Current(-90)).unwrap(),
            data.len() as u64 - 100
        );
        assert_eq!(file.seek(SeekFrom::Start(5)).unwrap(), 5);
        let mut five = [0u8; 5];
        file.read_exact(&mut five).unwrap();
        assert_eq!(five, data[5..10]);
    });
}

#[test]
fn export_errors_leave_everything_as_it_was() {
    each_fs(|fs| {
        fs.mkdir("/d", 0o755).unwrap();
        put(fs, "/f", b"x");
        let before = open_fds();
        let none = ExportFlags::empty();
        assert_eq!(errno(fs.export_memfd("/missing", none)), libc::ENOENT);
        assert_eq!(errno(fs.export_memfd("/d", none)), libc::EISDIR);
        assert_eq!(errno(fs.export_memfd("/f/x", none)), libc::ENOTDIR);
        assert_eq!(errno(fs.export_memfd("/a\0b", none)), libc::EINVAL);
        assert_eq!(errno(ExportFlags::from_bits(8)), libc::EINVAL);
        assert_eq!(errno(ExportFlags::from_bits(u32::MAX)), libc::EINVAL);
        assert!(fds_back_to(before), "no fd left behind");
        assert_eq!(get(fs, "/f"), b"x");
    });
}

#[test]
fn compressed_open_and_lazy_files_export_the_same_bytes() {
    let data = sample(1 << 20);
    each_with(
        || Fs::builder().block_size(16 << 10),
        |fs| {
            put(fs, "/f", &data);
            assert_eq!(fs.stats().compressions, 1);
            let closed = all_of(fs.export_memfd("/f", ExportFlags::empty()).unwrap());
            let r = fs.open("/f", libc::O_RDONLY, 0).unwrap();
            let mut some = [0u8; 10];
            fs.pread(r, &mut some, 40_000).unwrap();
            let lazy = all_of(fs.export_memfd("/f", ExportFlags::empty()).unwrap());
            let w = fs.open("/f", libc::O_RDWR, 0).unwrap();
            let open = all_of(fs.export_memfd("/f", ExportFlags::empty()).unwrap());
            fs.close(w).unwrap();
            fs.close(r).unwrap();
            assert!(closed == data && lazy == data && open == data);
            // Exports change nothing; the writable open's last close compresses again.
            assert_eq!(fs.stats().compressions, 2);
        },
    );
}

#[test]
fn multicore_exports_give_the_same_bytes_and_eio_for_a_corrupt_block() {
    // Many small blocks and a short last one, cut into runs per thread.
    let data = sample((300 << 10) + 123);
    for threads in [2, 3, 5] {
        each_with(
            || Fs::builder().block_size(4 << 10).threads(threads),
            |fs| {
                put(fs, "/f", &data);
                let back = all_of(fs.export_memfd("/f", ExportFlags::empty()).unwrap());
                assert!(back == data, "{threads} threads");
                fs.corrupt_block("/f", 70).unwrap();
                assert_eq!(
                    errno(fs.export_memfd("/f", ExportFlags::empty())),
                    libc::EIO
                );
            },
        );
    }
}

#[test]
fn export_of_an_open_file_is_a_snapshot_both_ways() {
    each_fs(|fs| {
        let fd = fs.open("/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        fs.write(fd, b"first part").unwrap();
        let snap = fs.export_memfd("/f", ExportFlags::empty()).unwrap();
        fs.write(fd, b", second part").unwrap();
        let mut memfd = File::from(snap);
        memfd.write_all_at(b"FIRST", 0).unwrap();
        let mut seen = String::new();
        memfd.seek(SeekFrom::Start(0)).unwrap();
        memfd.read_to_string(&mut seen).unwrap();
        assert_eq!(seen, "FIRST part", "later writes do not show in the fd");
        fs.close(fd).unwrap();
        assert_eq!(
            get(fs, "/f"),
            b"first part, second part",
            "nor the fd's in the file"
        );
    });
}

use std::os::unix::fs::FileExt;

#[test]
fn sealed_exports_refuse_writes_growth_shrinking_and_shared_maps() {
    each_fs(|fs| {
        put(fs, "/f", &sample(10_000));
        let fd = fs.export_memfd("/f", ExportFlags::SEALED).unwrap();
        let file = File::from(fd.try_clone().unwrap());
        assert_eq!(errno(file.write_at(b"x", 0)), libc::EPERM);
        assert_eq!(errno(file.set_len(20_000)), libc::EPERM);
        assert_eq!(errno(file.set_len(10)), libc::EPERM);
        assert_eq!(errno(ermfd::map_mut(fd.as_fd(), 10_000)), libc::EPERM);
        assert_eq!(all_of(fd), sample(10_000), "still readable");
    });
}

#[test]
fn whole_corpus_round_trips_through_memfds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus missing");
    each_fs(|fs| {
        for (i, path) in files.iter().enumerate() {
            let data = std::fs::read(path).unwrap();
            put(fs, &format!("/c{i}"), &data);
            let back = all_of(
                fs.export_memfd(format!("/c{i}"), ExportFlags::empty())
                    .unwrap(),
            );
            assert!(back == data, "{path:?}");
        }
    });
}

#[test]
fn a_thousand_exports_leak_no_fd_and_no_memory() {
    each_fs(|fs| {
        put(fs, "/f", &sample(8192));
        let fds = open_fds();
        let used = fs.memory_used();
        for _ in 0..1000 {
            let fd = fs.export_memfd("/f", ExportFlags::SEALED).unwrap();
            drop(fd);
        }
        assert!(fds_back_to(fds), "a descriptor leaked");
        assert_eq!(fs.memory_used(), used);
    });
}

#[test]
fn export_is_not_charged_so_a_full_store_exports() {
    each_with(
        || Fs::builder().memory_limit(Some(1 << 20)),
        |fs| {
            put(fs, "/f", &sample(600 << 10));
            let fd = fs.open("/f", libc::O_RDWR, 0).unwrap(); // 600 KiB raw now
            let used = fs.memory_used();
            let exported = fs.export_memfd("/f", ExportFlags::empty()).unwrap();
            assert_eq!(fs.memory_used(), used, "the memfd is the caller's");
            assert_eq!(all_of(exported), sample(600 << 10));
            fs.close(fd).unwrap();
            // Closed, on a store filled to the page by another open file.
            let hog = fs
                .open("/hog", libc::O_CREAT | libc::O_RDWR, 0o644)
                .unwrap();
            fill_to_the_page(fs, hog);
            assert_eq!(
                all_of(fs.export_memfd("/f", ExportFlags::empty()).unwrap()),
                sample(600 << 10)
            );
            fs.close(hog).unwrap();
        },
    );
}

#[test]
fn corrupt_block_export_is_eio_and_leaks_nothing() {
    each_with(
        || Fs::builder().block_size(4096),
        |fs| {
            put(fs, "/f", &sample(40_000));
            fs.corrupt_block("/f", 2).unwrap();
            let fds = open_fds();
            assert_eq!(
                errno(fs.export_memfd("/f", ExportFlags::empty())),
                libc::EIO
            );
            assert!(fds_back_to(fds), "a descriptor leaked");
        },
    );
}

#[test]
fn executables_stored_in_ermfs_run_through_fexecve() {
    each_fs(|fs| {
        let bin = File::open("/bin/true").unwrap();
        let n = fs.import_fd("/true", bin.as_fd(), 0).unwrap();
        assert_eq!(n, bin.metadata().unwrap().len());
        let exe = fs.export_memfd("/true", ExportFlags::EXECUTABLE).unwrap();
        let (mut cmd, _keep) = ermfd::command(exe.as_fd()).unwrap();
        assert_eq!(cmd.status().unwrap().code(), Some(0));
        fs.write_file("/script.sh", b"#!/bin/sh\nexit 7\n").unwrap();
        let script = fs
            .export_memfd("/script.sh", ExportFlags::EXECUTABLE)
            .unwrap();
        let (mut cmd, _keep) = ermfd::command(script.as_fd()).unwrap();
        assert_eq!(cmd.status().unwrap().code(), Some(7));
    });
}

#[test]
fn import_from_a_pipe_a_memfd_and_a_file() {
    let data = sample(300_000);
    each_fs(|fs| {
        // A memfd read from its current offset: mapped, one copy.
        let memfd = memfd_with(&data);
        ermfd::lseek(memfd.as_fd(), 1000, ermfd::Whence::Set).unwrap();
        assert_eq!(
            fs.import_fd("/m", memfd.as_fd(), 0).unwrap(),
            data.len() as u64 - 1000
        );
        assert!(get(fs, "/m") == data[1000..]);
        // A pipe: read straight into the region.
        let (r, w) = std::io::pipe().unwrap();
        let writer = std::thread::spawn({
            let data = data.clone();
            move || {
                let mut w = w;
                w.write_all(&data).unwrap();
            }
        });
        assert_eq!(fs.import_fd("/p", r.as_fd(), 0).unwrap(), data.len() as u64);
        writer.join().unwrap();
        assert!(get(fs, "/p") == data);
        assert_eq!(fs.stats().compressions, 2, "imports go through the policy");
        assert_eq!(fs.stats().bytes_imported, 2 * data.len() as u64 - 1000);
        // Replace, and O_EXCL.
        let small = memfd_with(b"replaced");
        fs.import_fd("/p", small.as_fd(), 0).unwrap();
        assert_eq!(get(fs, "/p"), b"replaced");
        assert_eq!(
            errno(fs.import_fd("/p", small.as_fd(), libc::O_EXCL)),
            libc::EEXIST
        );
    });
}

#[test]
fn import_errors_leave_the_file_as_it_was() {
    each_with(
        || Fs::builder().memory_limit(Some(256 << 10)),
        |fs| {
            put(fs, "/f", b"old bytes");
            fs.mkdir("/d", 0o755).unwrap();
            let big = memfd_with(&vec![1u8; 512 << 10]);
            let used = fs.memory_used();
            assert_eq!(errno(fs.import_fd("/f", big.as_fd(), 0)), libc::ENOSPC);
            assert_eq!(fs.memory_used(), used);
            assert_eq!(get(fs, "/f"), b"old bytes");
            let small = memfd_with(b"new");
            assert_eq!(errno(fs.import_fd("/d", small.as_fd(), 0)), libc::EISDIR);
            assert_eq!(
                errno(fs.import_fd("/none/f", small.as_fd(), 0)),
                libc::ENOENT
            );
            assert_eq!(errno(fs.import_fd("/f/g", small.as_fd(), 0)), libc::ENOTDIR);
            assert_eq!(
                errno(fs.import_fd("/f", small.as_fd(), libc::O_APPEND)),
                libc::EINVAL
            );
            let (r, w) = std::io::pipe().unwrap();
            drop(r);
            assert_eq!(
                errno(fs.import_fd("/f", w.as_fd(), 0)),
                libc::EBADF,
                "write end"
            );
            assert_eq!(get(fs, "/f"), b"old bytes");
        },
    );
}

#[test]
fn import_into_an_open_file_shows_in_its_descriptors() {
    each_fs(|fs| {
        put(fs, "/f", b"before");
        let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        fs.import_fd("/f", memfd_with(b"after!").as_fd(), 0)
            .unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(fs.pread(fd, &mut buf, 0).unwrap(), 6);
        assert_eq!(&buf[..6], b"after!");
        fs.close(fd).unwrap();
        // A gzip import into an open file too (inflated for it).
        let mut gz = Vec::new();
        fs.export_gzip("/f", &mut gz).unwrap();
        let fd = fs.open("/f", libc::O_RDWR, 0).unwrap();
        fs.write(fd, b"AFTER!").unwrap();
        fs.import_gzip("/f", memfd_with(&gz).as_fd(), 0).unwrap();
        assert_eq!(fs.pread(fd, &mut buf, 0).unwrap(), 6);
        assert_eq!(&buf[..6], b"after!");
        fs.close(fd).unwrap();
        assert_eq!(get(fs, "/f"), b"after!");
    });
}

#[test]
fn import_gzip_stores_blocked_streams_without_a_codec_pass() {
    let data = sample(700_000);
    each_fs(|fs| {
        put(fs, "/f", &data);
        let mut gz = Vec::new();
        let n = fs.export_gzip("/f", &mut gz).unwrap();
        assert_eq!(n, gz.len() as u64);
        assert_eq!(n, fs.stats().compressed_bytes, "the stream as stored");
        let before = fs.stats();
        assert_eq!(
            fs.import_gzip("/g", memfd_with(&gz).as_fd(), 0).unwrap(),
            data.len() as u64
        );
        let after = fs.stats();
        assert_eq!(after.bytes_deflated, before.bytes_deflated, "no deflate");
        assert_eq!(after.bytes_inflated, before.bytes_inflated, "no inflate");
        assert_eq!(after.compressed_bytes, 2 * before.compressed_bytes);
        assert_eq!(after.raw_bytes, 0);
        assert!(get(fs, "/g") == data);
        // gunzip reads it.
        let out = gunzip(&gz);
        assert!(out == data);
    });
}

/// Runs a system tool with `input` on stdin, returns its stdout.
fn filter(tool: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} is needed (cargo xtask ci installs it): {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    filter("gzip", &["-dc"], gz)
}

#[test]
fn import_gzip_recuts_foreign_gzip_and_rejects_garbage() {
    let data = sample(500_000);
    let foreign = filter("gzip", &["-c", "-6"], &data);
    each_fs(|fs| {
        assert_eq!(
            fs.import_gzip("/g", memfd_with(&foreign).as_fd(), 0)
                .unwrap(),
            data.len() as u64
        );
        assert!(get(fs, "/g") == data);
        // Read from a pipe too.
        let (r, w) = std::io::pipe().unwrap();
        let feeder = std::thread::spawn({
            let foreign = foreign.clone();
            move || {
                let mut w = w;
                w.write_all(&foreign).unwrap();
            }
        });
        fs.import_gzip("/h", r.as_fd(), 0).unwrap();
        feeder.join().unwrap();
        assert!(get(fs, "/h") == data);
        let used = fs.memory_used();
        let mut truncated = foreign.clone();
        truncated.truncate(foreign.len() / 2);
        assert_eq!(
            errno(fs.import_gzip("/g", memfd_with(&truncated).as_fd(), 0)),
            libc::EIO
        );
        assert_eq!(
            errno(fs.import_gzip("/g", memfd_with(b"not gzip").as_fd(), 0)),
            libc::EIO
        );
        assert_eq!(fs.memory_used(), used, "nothing left charged");
        assert!(get(fs, "/g") == data, "unchanged");
    });
}
