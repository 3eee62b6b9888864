//! Interop both ways with the real gzip, pigz and bgzip (piped, no files),
//! and flate2's MultiGzDecoder as an independent reader; import rules.

use std::io::{ErrorKind, Read};

use erm_compress::{Decompressor, Index, MIN_BLOCK_SIZE, Options, copied_bytes, import};

use crate::common::{Kind, backends, can_import, compress, data, pipe};

fn sample() -> Vec<u8> {
    let mut v = data(Kind::Mixed, 300_000, 11);
    v.extend(data(Kind::Compressible, 200_000, 12));
    v
}

#[test]
fn real_tools_and_flate2_read_our_stream() {
    let src = sample();
    for b in backends() {
        for bs in [MIN_BLOCK_SIZE, 64 << 10] {
            let (stream, _) = compress(Options::new().backend(b).block_size(bs), &src);
            assert!(pipe("gzip", &["-dc"], &stream) == src, "gzip -d, {b:?}");
            assert!(pipe("pigz", &["-dc"], &stream) == src, "pigz -d, {b:?}");
            assert!(pipe("bgzip", &["-dc"], &stream) == src, "bgzip -d, {b:?}");
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&stream[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == src, "flate2, {b:?}");
        }
        // The empty input is one empty member: still a valid gzip stream.
        let (empty, _) = compress(Options::new().backend(b), &[]);
        assert!(pipe("gzip", &["-dc"], &empty).is_empty());
    }
}

/// Imports `gz`, checks the data and index, and that nothing was copied.
fn import_check(gz: &[u8], want: &[u8], opts: Options) {
    let before = copied_bytes();
    let mut out = Vec::new();
    let index = import(gz, opts, &mut out).unwrap();
    assert_eq!(copied_bytes(), before);
    assert_eq!(Index::rebuild(&out).unwrap(), index);
    assert_eq!(index.raw_len(), want.len() as u64);
    let mut back = vec![0; want.len()];
    Decompressor::new(opts.get_backend())
        .unwrap()
        .decompress_into(&out, &index, &mut back)
        .unwrap();
    assert!(back == want);
}

#[test]
fn import_reads_every_writer() {
    if !can_import() {
        return;
    }
    let src = sample();
    let gz = pipe("gzip", &["-c", "-6"], &src);
    let pigz = pipe("pigz", &["-c", "-b", "32"], &src);
    let bgzf = pipe("bgzip", &["-c"], &src);
    // Several members, from two writers.
    let mut multi = gz.clone();
    multi.extend_from_slice(&pigz);
    let mut twice = src.clone();
    twice.extend_from_slice(&src);
    for b in backends() {
        let opts = Options::new().backend(b).block_size(MIN_BLOCK_SIZE * 8);
        import_check(&gz, &src, opts);
        import_check(&pigz, &src, opts);
        import_check(&bgzf, &src, opts);
        import_check(&multi, &twice, opts);
        // Our own stream, re-cut to another block size.
        let (ours, _) = compress(Options::new().backend(b).block_size(MIN_BLOCK_SIZE), &src);
        import_check(&ours, &src, opts);
        // Empty data, as gzip writes it.
        import_check(&pipe("gzip", &["-c"], &[]), &[], opts);
    }
}

#[test]
fn import_rejects_garbage_and_truncation() {
    if !can_import() {
        return;
    }
    let src = data(Kind::Mixed, 50_000, 2);
    let gz = pipe("gzip", &["-c"], &src);
    let invalid = |bytes: &[u8]| {
        let mut out = vec![1, 2, 3];
        let e = import(bytes, Options::new(), &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
        assert_eq!(out, [1, 2, 3], "out restored");
    };
    invalid(&[]);
    for tail in [
        &b"x"[..],
        &[0],
        &[0; 8],
        &[0x1f],
        &[0x1f, 0x8b],
        b"garbage after the stream",
    ] {
        let mut bad = gz.clone();
        bad.extend_from_slice(tail);
        invalid(&bad);
    }
    for cut in (0..gz.len()).step_by(997).chain(gz.len() - 10..gz.len()) {
        invalid(&gz[..cut]);
    }
    let mut flipped = gz.clone();
    let at = gz.len() / 2;
    flipped[at] ^= 0x10;
    invalid(&flipped);
    let crc_at = gz.len() - 8;
    let mut bad_crc = gz.clone();
    bad_crc[crc_at] ^= 1;
    invalid(&bad_crc);
    let mut bad_isize = gz.clone();
    bad_isize[gz.len() - 1] ^= 1;
    invalid(&bad_isize);
}
