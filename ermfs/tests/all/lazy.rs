//! Read-only opens of compressed files inflate only the blocks their reads
//! touch; a corrupt block fails only the reads that touch it.

use ermfs::Fs;

use super::common::{each_with, errno, fill_to_the_page, put};

const BLOCK: usize = 4096;

/// Eight blocks of distinct, compressible bytes.
fn data() -> Vec<u8> {
    (0..8 * BLOCK)
        .map(|i| b"abcdefgh"[i / BLOCK] ^ (i % 7) as u8)
        .collect()
}

fn small_blocks() -> ermfs::FsBuilder {
    Fs::builder().block_size(BLOCK)
}

#[test]
fn read_only_open_inflates_only_the_blocks_read() {
    let data = data();
    each_with(small_blocks, |fs| {
        put(fs, "/f", &data);
        let packed = fs.stats().compressed_bytes;
        let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        assert_eq!(fs.stats().blocks_inflated, 0);
        // A read straddling blocks 2 and 3 inflates both, once.
        let mut buf = vec![0u8; 100];
        let at = 3 * BLOCK - 50;
        for _ in 0..3 {
            assert_eq!(fs.pread(fd, &mut buf, at as i64).unwrap(), 100);
            assert_eq!(buf, data[at..at + 100]);
        }
        assert_eq!(fs.stats().blocks_inflated, 2);
        // read() through the offset, and the end of file.
        fs.lseek(fd, (7 * BLOCK) as i64, libc::SEEK_SET).unwrap();
        let mut tail = vec![0u8; 2 * BLOCK];
        assert_eq!(fs.read(fd, &mut tail).unwrap(), BLOCK);
        assert_eq!(tail[..BLOCK], data[7 * BLOCK..]);
        assert_eq!(fs.read(fd, &mut tail).unwrap(), 0);
        assert_eq!(fs.stats().blocks_inflated, 3);
        assert_eq!(fs.fstat(fd).unwrap().size, data.len() as u64);
        fs.close(fd).unwrap();
        let s = fs.stats();
        assert_eq!(
            (s.compressions, s.raw_bytes),
            (1, 0),
            "closing drops the region only"
        );
        assert_eq!(s.compressed_bytes, packed);
    });
}

#[test]
fn writable_open_beside_a_lazy_one_inflates_the_rest() {
    let data = data();
    each_with(small_blocks, |fs| {
        put(fs, "/f", &data);
        let r = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        let mut buf = vec![0u8; 10];
        fs.pread(r, &mut buf, 0).unwrap();
        let w = fs.open("/f", libc::O_RDWR, 0).unwrap();
        assert_eq!(fs.stats().blocks_inflated, 8, "the other seven came in");
        fs.pwrite(w, b"XYZ", (5 * BLOCK) as i64).unwrap();
        let mut all = vec![0u8; data.len()];
        assert_eq!(fs.pread(r, &mut all, 0).unwrap(), data.len());
        let mut want = data.clone();
        want[5 * BLOCK..5 * BLOCK + 3].copy_from_slice(b"XYZ");
        assert!(all == want, "the reader sees the writer's bytes");
        fs.close(w).unwrap();
        fs.close(r).unwrap();
        assert_eq!(fs.stats().compressions, 2, "written: compressed again");
        assert!(super::common::get(fs, "/f") == want);
    });
}

#[test]
fn corrupt_block_gives_eio_only_where_read() {
    let data = data();
    each_with(small_blocks, |fs| {
        put(fs, "/f", &data);
        put(fs, "/other", b"still fine");
        fs.corrupt_block("/f", 3).unwrap();
        let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        let mut buf = vec![0u8; BLOCK];
        for (block, want) in [(2, 0), (3, libc::EIO), (4, 0), (3, libc::EIO)] {
            let got = fs.pread(fd, &mut buf, (block * BLOCK) as i64);
            assert_eq!(errno(got), want, "block {block}");
            if want == 0 {
                assert_eq!(buf, data[block * BLOCK..(block + 1) * BLOCK]);
            }
        }
        // A read spanning a good and the bad block fails as a whole.
        assert_eq!(
            errno(fs.pread(fd, &mut buf, (3 * BLOCK - 10) as i64)),
            libc::EIO
        );
        assert_eq!(
            errno(fs.with_bytes(fd, (3 * BLOCK) as i64, 1, |_| ())),
            libc::EIO
        );
        // A writable open needs every block: EIO, and the file is unchanged.
        assert_eq!(errno(fs.open("/f", libc::O_RDWR, 0)), libc::EIO);
        assert_eq!(fs.pread(fd, &mut buf, 0).unwrap(), BLOCK);
        fs.close(fd).unwrap();
        // The rest of the store is untouched; the damaged file can go.
        assert_eq!(super::common::get(fs, "/other"), b"still fine");
        assert_eq!(fs.stat("/f").unwrap().size, data.len() as u64);
        fs.unlink("/f").unwrap();
        assert_eq!(fs.stats().files, 1);
        // Truncating to zero needs no block: it works on a damaged file too.
        put(fs, "/g", &data);
        fs.corrupt_block("/g", 0).unwrap();
        fs.truncate("/g", 0).unwrap();
        assert_eq!(fs.stat("/g").unwrap().size, 0);
    });
}

#[test]
fn corrupt_block_hook_rejects_what_it_cannot_damage() {
    each_with(small_blocks, |fs| {
        fs.mkdir("/d", 0o755).unwrap();
        assert_eq!(errno(fs.corrupt_block("/d", 0)), libc::EISDIR);
        assert_eq!(errno(fs.corrupt_block("/missing", 0)), libc::ENOENT);
        put(fs, "/f", &data());
        assert_eq!(errno(fs.corrupt_block("/f", 8)), libc::EINVAL);
        let fd = fs.open("/f", libc::O_RDWR, 0).unwrap();
        assert_eq!(errno(fs.corrupt_block("/f", 0)), libc::EINVAL, "open: raw");
        fs.close(fd).unwrap();
    });
}

#[test]
fn with_bytes_borrows_without_copying() {
    let data = data();
    each_with(small_blocks, |fs| {
        put(fs, "/f", &data);
        let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        let before = fs.stats().bytes_read;
        let same = fs
            .with_bytes(fd, 100, 2 * BLOCK, |b| b == &data[100..100 + 2 * BLOCK])
            .unwrap();
        assert!(same);
        let len = fs
            .with_bytes(fd, (8 * BLOCK - 5) as i64, 100, <[u8]>::len)
            .unwrap();
        assert_eq!(len, 5, "clamped at the end of file");
        assert_eq!(fs.with_bytes(fd, i64::MAX - 1, 0, <[u8]>::len).unwrap(), 0);
        assert_eq!(fs.stats().bytes_read, before, "nothing copied");
        assert_eq!(errno(fs.with_bytes(fd, -1, 1, |_| ())), libc::EINVAL);
        assert_eq!(errno(fs.with_bytes(fd, i64::MAX, 2, |_| ())), libc::EINVAL);
        assert_eq!(errno(fs.with_bytes(999, 0, 1, |_| ())), libc::EBADF);
        fs.close(fd).unwrap();
        let w = fs.open("/f", libc::O_WRONLY, 0).unwrap();
        assert_eq!(errno(fs.with_bytes(w, 0, 1, |_| ())), libc::EBADF);
        fs.close(w).unwrap();
    });
}

#[test]
fn a_full_store_reads_its_closed_files_and_its_cache_gives_way() {
    let data = data(); // 32 KiB, compresses well
    each_with(
        || small_blocks().memory_limit(Some(40 << 10)),
        |fs| {
            put(fs, "/f", &data);
            let hog = fs
                .open("/hog", libc::O_CREAT | libc::O_RDWR, 0o644)
                .unwrap();
            let at = fill_to_the_page(fs, hog);
            let used = fs.memory_used();
            // The open charges nothing; reads with no room go past the cache.
            let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
            assert_eq!(fs.memory_used(), used);
            let mut buf = vec![0u8; data.len()];
            assert_eq!(fs.pread(fd, &mut buf, 0).unwrap(), data.len());
            assert!(buf == data);
            let seen = fs.with_bytes(fd, 5000, 3000, <[u8]>::to_vec).unwrap();
            assert!(seen == data[5000..8000]);
            assert_eq!(fs.memory_used(), used, "nothing cached, nothing charged");
            assert!(fs.stats().uncached_reads >= 2);
            // Room again: reads cache their blocks, and a writer that needs
            // the room takes it back from the cache.
            fs.ftruncate(hog, 0).unwrap();
            assert_eq!(fs.pread(fd, &mut buf, 0).unwrap(), data.len());
            assert!(buf == data);
            let cached = fs.memory_used() - (used - (at as usize));
            assert!(cached >= data.len(), "{cached} bytes cached");
            let evictions = fs.stats().cache_evictions;
            let at = fill_to_the_page(fs, hog);
            assert!(fs.stats().cache_evictions > evictions, "the cache gave way");
            assert!(at as usize >= (40 << 10) - fs.stats().compressed_bytes as usize - 8192);
            // Still readable, byte-exact.
            assert_eq!(fs.pread(fd, &mut buf, 0).unwrap(), data.len());
            assert!(buf == data);
            fs.close(fd).unwrap();
            fs.close(hog).unwrap();
        },
    );
}

#[test]
fn a_cache_with_room_for_a_few_blocks_drops_its_oldest() {
    let data = data();
    each_with(
        || small_blocks().memory_limit(Some(40 << 10)),
        |fs| {
            put(fs, "/f", &data);
            let hog = fs
                .open("/hog", libc::O_CREAT | libc::O_RDWR, 0o644)
                .unwrap();
            // Leave room for three blocks of the eight.
            let room = 3 * BLOCK;
            let hog_len = (40 << 10) - fs.memory_used() - room;
            fs.write(hog, &vec![7u8; hog_len / BLOCK * BLOCK]).unwrap();
            let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
            let mut block = vec![0u8; BLOCK];
            for round in 0..2 {
                for b in 0..8 {
                    let n = fs.pread(fd, &mut block, (b * BLOCK) as i64).unwrap();
                    assert_eq!(n, BLOCK);
                    assert!(
                        block == data[b * BLOCK..(b + 1) * BLOCK],
                        "round {round} block {b}"
                    );
                    assert!(fs.memory_used() <= 40 << 10);
                }
            }
            let s = fs.stats();
            assert_eq!(s.uncached_reads, 0, "each block found room");
            assert_eq!(
                s.blocks_inflated, 16,
                "three-block cache, eight-block cycle"
            );
            assert_eq!(s.cache_evictions, 13);
            fs.close(fd).unwrap();
            fs.close(hog).unwrap();
        },
    );
}
