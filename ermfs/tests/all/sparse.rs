//! Sparse files: holes cost nothing open or closed, `st_blocks` of an open
//! file counts its data pages, `SEEK_DATA`/`SEEK_HOLE` see the holes, and a
//! closed file's holes stay free (one hole member each) and read as zeros.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::all::common::{each_fs, each_with};
use ermfs::{CompressionPolicy, Fs};

const TIB: i64 = 1 << 40;
const PAGE: i64 = 4096;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed | 1)
        .collect()
}

/// A 1 TiB file with 4 KiB of data at 0 and 4 KiB at 512 GiB: each step
/// checks contents, `st_blocks` and what the store is charged.
#[test]
fn a_terabyte_file_with_a_few_pages_costs_a_few_pages() {
    each_fs(|fs| {
        let (a, b) = (data(4096, 1), data(4096, 2));
        let fd = fs
            .open("/big", libc::O_CREAT | libc::O_RDWR, 0o644)
            .unwrap();
        fs.ftruncate(fd, TIB).unwrap();
        assert_eq!(
            fs.fstat(fd).unwrap().blocks,
            0,
            "a truncated-up file holds nothing"
        );
        assert!(fs.memory_used() < 64 << 10, "charged {}", fs.memory_used());
        fs.pwrite(fd, &a, 0).unwrap();
        fs.pwrite(fd, &b, TIB / 2).unwrap();
        let st = fs.fstat(fd).unwrap();
        assert_eq!((st.size, st.blocks), (TIB as u64, 16), "two data pages");
        assert!(fs.memory_used() < 64 << 10, "charged {}", fs.memory_used());
        // The holes, page-granular, as tmpfs.
        assert_eq!(fs.lseek(fd, 0, libc::SEEK_HOLE).unwrap(), PAGE);
        assert_eq!(fs.lseek(fd, PAGE, libc::SEEK_DATA).unwrap(), TIB / 2);
        assert_eq!(
            fs.lseek(fd, TIB / 2, libc::SEEK_HOLE).unwrap(),
            TIB / 2 + PAGE
        );
        assert_eq!(
            crate::all::common::errno(fs.lseek(fd, TIB / 2 + PAGE, libc::SEEK_DATA)),
            libc::ENXIO
        );
        fs.close(fd).unwrap();
        // Closed: compressed, holes free at rest.
        let closed = fs.memory_used();
        assert!(
            closed < 16 << 10,
            "a closed sparse file holds {closed} bytes"
        );
        // Reopened read-only: the data reads back, the holes read zeros
        // (far past what any mapping covers too).
        let fd = fs.open("/big", libc::O_RDONLY, 0).unwrap();
        let mut buf = vec![0xffu8; 8192];
        assert_eq!(fs.pread(fd, &mut buf, 0).unwrap(), 8192);
        assert_eq!(
            (&buf[..4096], buf[4096..].iter().all(|&x| x == 0)),
            (&a[..], true)
        );
        assert_eq!(fs.pread(fd, &mut buf, TIB / 2 - 4096).unwrap(), 8192);
        assert!(buf[..4096].iter().all(|&x| x == 0));
        assert_eq!(&buf[4096..], &b[..]);
        buf.fill(0xff);
        assert_eq!(fs.pread(fd, &mut buf, TIB - 100).unwrap(), 100);
        assert!(buf[..100].iter().all(|&x| x == 0));
        assert!(
            fs.memory_used() < 2 << 20,
            "a lazy open charged {}",
            fs.memory_used()
        );
        fs.close(fd).unwrap();
        // Reopened writable: inflated without touching the holes.
        let fd = fs.open("/big", libc::O_RDWR, 0).unwrap();
        assert!(
            fs.memory_used() < 2 << 20,
            "a writable reopen charged {}",
            fs.memory_used()
        );
        let mut one = [0u8; 4096];
        fs.pread(fd, &mut one, TIB / 2).unwrap();
        assert_eq!(&one[..], &b[..]);
        fs.close(fd).unwrap();
        fs.unlink("/big").unwrap();
        assert_eq!(fs.memory_used(), 0);
    });
}

/// A punched hole gives its pages back and reads as zeros; the edges of a
/// range that are not whole pages are zeroed, the rest of the file kept.
#[test]
fn punching_a_hole_frees_its_pages() {
    each_fs(|fs| {
        let bytes = data(64 << 10, 3);
        let fd = fs.open("/p", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        fs.pwrite(fd, &bytes, 0).unwrap();
        let before = fs.fstat(fd).unwrap().blocks;
        let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        fs.fallocate(fd, mode, 100, 3 * PAGE).unwrap();
        // Pages 1 and 2 are whole inside the range: gone.
        assert_eq!(fs.fstat(fd).unwrap().blocks, before - 16);
        let mut got = vec![0u8; bytes.len()];
        fs.pread(fd, &mut got, 0).unwrap();
        let mut want = bytes.clone();
        want[100..100 + 3 * PAGE as usize].fill(0);
        assert_eq!(got, want);
        assert_eq!(fs.lseek(fd, 0, libc::SEEK_HOLE).unwrap(), PAGE);
        assert_eq!(fs.lseek(fd, PAGE, libc::SEEK_DATA).unwrap(), 3 * PAGE);
        fs.close(fd).unwrap();
    });
}

/// `export_gzip` of a file with holes is a standard stream: `gzip -d`
/// expands it to the exact bytes, zeros included, whether the file is open
/// (compressed for the occasion) or closed (its stream holds hole members).
#[test]
fn export_gzip_expands_holes_for_gunzip() {
    if Command::new("gzip").arg("--version").output().is_err() {
        eprintln!("skipped: no gzip on this machine");
        return;
    }
    let policies = [CompressionPolicy::Immediate, CompressionPolicy::Never];
    for policy in policies {
        each_with(
            || Fs::builder().compression(policy),
            |fs| {
                let len = 3 << 20;
                let fd = fs.open("/g", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
                fs.ftruncate(fd, len).unwrap();
                fs.pwrite(fd, b"middle", 1 << 20).unwrap();
                fs.pwrite(fd, b"end", len - 3).unwrap();
                let mut want = vec![0u8; len as usize];
                want[1 << 20..(1 << 20) + 6].copy_from_slice(b"middle");
                want[len as usize - 3..].copy_from_slice(b"end");
                let check = |what: &str| {
                    let mut gz = Vec::new();
                    fs.export_gzip("/g", &mut gz).unwrap();
                    let mut child = Command::new("gzip")
                        .arg("-dc")
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .spawn()
                        .unwrap();
                    let mut stdin = child.stdin.take().unwrap();
                    let feeder = std::thread::spawn(move || stdin.write_all(&gz));
                    let out = child.wait_with_output().unwrap();
                    feeder.join().unwrap().unwrap();
                    assert!(out.status.success(), "{what}");
                    assert!(out.stdout == want, "{what}: gunzip gave other bytes");
                };
                check("open");
                fs.close(fd).unwrap();
                check("closed");
                fs.unlink("/g").unwrap();
            },
        );
    }
}
