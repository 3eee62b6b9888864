//! The copy budget (ARCHITECTURE.md), read from the stats counters: a
//! write copies each byte once into the region, a read once out of it, the
//! last close runs only the deflate pass (a small file's stream is then
//! copied once to its exact length) and a reopen only the inflate pass;
//! nothing else is copied inside erm-alloc or erm-compress on the way.

use crate::all::common::each_with;
use ermfs::{CompressionPolicy, Fs};

/// A megabyte of text-like, compressible bytes.
fn text() -> Vec<u8> {
    let words: [&[u8]; 6] = [
        b"region ", b"block ", b"member ", b"inode ", b"page ", b"close\n",
    ];
    let mut out = Vec::with_capacity(1 << 20);
    let mut i = 0usize;
    while out.len() < 1 << 20 {
        out.extend_from_slice(words[(i * 7 + i / 5) % words.len()]);
        i += 1;
    }
    out.truncate(1 << 20);
    out
}

#[test]
fn write_read_close_reopen_copy_what_the_budget_allows() {
    let data = text();
    let n = data.len() as u64;
    each_with(
        || Fs::builder().compression(CompressionPolicy::Immediate),
        |fs| {
            let compress_copies = erm_compress::copied_bytes();
            let fd = fs
                .open("/budget", libc::O_CREAT | libc::O_RDWR, 0o644)
                .unwrap();
            for chunk in data.chunks(64 << 10) {
                assert_eq!(fs.write(fd, chunk).unwrap(), chunk.len());
            }
            let s = fs.stats();
            assert_eq!(s.bytes_written, n, "a write copies each byte once");
            assert_eq!(s.internal_copies, 0, "growing the region copies nothing");

            let mut back = vec![0u8; data.len()];
            assert_eq!(fs.pread(fd, &mut back, 0).unwrap(), data.len());
            assert!(back == data);
            assert_eq!(fs.stats().bytes_read, n, "a read copies each byte once");

            fs.close(fd).unwrap();
            let s = fs.stats();
            assert_eq!(
                (s.compressions, s.bytes_deflated),
                (1, n),
                "close: one deflate pass"
            );
            assert_eq!(s.raw_bytes, 0, "the region's pages are gone");
            assert_eq!(s.internal_copies, 0);

            // A read-only reopen inflates lazily: nothing until read, then
            // each block once, straight into the region.
            let fd = fs.open("/budget", libc::O_RDONLY, 0).unwrap();
            assert_eq!(
                fs.stats().bytes_inflated,
                0,
                "read-only reopen: nothing yet"
            );
            back.fill(0);
            assert_eq!(fs.pread(fd, &mut back, 0).unwrap(), data.len());
            assert!(back == data);
            assert_eq!(fs.pread(fd, &mut back, 0).unwrap(), data.len());
            let s = fs.stats();
            assert_eq!(s.bytes_inflated, n, "lazy reads: one inflate pass");
            assert_eq!(s.internal_copies, 0);
            fs.close(fd).unwrap();
            assert_eq!(
                fs.stats().compressions,
                1,
                "only read: not compressed again"
            );

            let fd = fs.open("/budget", libc::O_RDWR, 0).unwrap();
            let s = fs.stats();
            assert_eq!(
                (s.inflations, s.bytes_inflated),
                (1, 2 * n),
                "writable reopen: one inflate pass"
            );
            assert_eq!(s.internal_copies, 0);
            back.fill(0);
            assert_eq!(fs.pread(fd, &mut back, 0).unwrap(), data.len());
            assert!(back == data);
            fs.close(fd).unwrap();

            assert_eq!(
                erm_compress::copied_bytes(),
                compress_copies,
                "erm-compress copied nothing besides the deflate and inflate passes"
            );
        },
    );
}

#[test]
fn small_files_copy_only_their_size_class_moves() {
    each_with(
        || Fs::builder().compression(CompressionPolicy::Never),
        |fs| {
            let fd = fs
                .open("/small", libc::O_CREAT | libc::O_RDWR, 0o644)
                .unwrap();
            fs.write(fd, &[1; 100]).unwrap(); // a 128-byte slot
            fs.write(fd, &[2; 4000]).unwrap(); // moves the 100 bytes into pages
            fs.close(fd).unwrap();
            assert_eq!(
                fs.stats().internal_copies,
                100,
                "only the slot-to-pages move copies"
            );
        },
    );
}

#[test]
fn a_small_files_stream_is_copied_once_to_its_exact_length() {
    each_with(
        || Fs::builder().compression(CompressionPolicy::Immediate),
        |fs| {
            // 3 KB of text: its worst-case stream fits the scratch buffer, so
            // the stream is deflated there and copied out at its length.
            let data = &text()[..3000];
            fs.write_file("/small", data).unwrap();
            let s = fs.stats();
            assert_eq!(s.compressions, 1);
            assert!(s.compressed_bytes > 0 && s.compressed_bytes < 3000);
            assert_eq!(
                s.internal_copies, s.compressed_bytes,
                "one copy of the compressed bytes, nothing else"
            );
            assert_eq!(fs.read_file("/small").unwrap(), data);
        },
    );
}
