//! Sparse files: hole members, against a model `Vec<u8>` for small totals
//! and with explicit huge totals (1 TiB, i64::MAX); every decoder, export
//! through real `gzip -dc`, import, and damaged hole members.

// One extent is a one-element slice of ranges, which is what is meant.
#![allow(clippy::single_range_in_vec_init)]

use std::io::{ErrorKind, Read};
use std::ops::Range;

use erm_compress::{
    Backend, Compressor, DEFAULT_BLOCK_SIZE, Decompressor, Index, MAX_RAW_LEN, MIN_BLOCK_SIZE,
    Options, Segment, copied_bytes, export, import, import_sparse,
};
use proptest::prelude::*;

use crate::common::{Kind, Rng, backends, can_import, compress, data, pipe};

const BS: usize = MIN_BLOCK_SIZE;
const TIB: u64 = 1 << 40;

/// Data written over zeros: (offset, length, kind).
type Patch = (usize, usize, Kind);

/// A sparse file: its model bytes, its mapped prefix length and its extents.
struct Sparse {
    model: Vec<u8>,
    mapped: usize,
    extents: Vec<Range<u64>>,
}

/// `total` zero bytes with `patches` (offset, len, kind) of data written
/// over them; the mapped prefix ends `slack` bytes after the last data
/// (clamped); every patch is an extent, plus `zero_extent` (a range of
/// zeros that must still come out as a hole).
fn sparse(total: usize, patches: &[Patch], slack: usize, seed: u64) -> Sparse {
    let mut model = vec![0u8; total];
    let mut extents = Vec::new();
    let mut data_end = 0;
    for (i, &(at, len, kind)) in patches.iter().enumerate() {
        let at = at.min(total);
        let len = len.min(total - at);
        model[at..at + len].copy_from_slice(&data(kind, len, seed + i as u64));
        extents.push(at as u64..(at + len) as u64);
        data_end = data_end.max(at + len);
    }
    extents.sort_by_key(|r| r.start);
    Sparse {
        model,
        mapped: (data_end + slack).min(total),
        extents,
    }
}

fn compress_sparse(opts: Options, s: &Sparse) -> (Vec<u8>, Index) {
    let mut comp = Compressor::new(opts).unwrap();
    let mut out = Vec::new();
    let total = s.model.len() as u64;
    let index = comp
        .compress_sparse(
            total,
            &s.model[..s.mapped],
            &s.extents,
            &mut out,
            |_| Ok(()),
        )
        .unwrap();
    (out, index)
}

/// The segments tile `0..raw_len` in order; holes are merged, whole
/// blocks (but the last) and read as zeros in the model; data blocks are
/// not all zero (the compressor made them holes) unless `dense_ok`.
fn check_segments(index: &Index, model: &[u8], dense_ok: bool) {
    let bs = index.block_size() as u64;
    let mut at = 0;
    let mut last_hole = false;
    for seg in index.segments() {
        let raw = seg.raw();
        assert_eq!(raw.start, at);
        assert_eq!(raw.start % bs, 0);
        let bytes = &model[raw.start as usize..raw.end as usize];
        match seg {
            Segment::Hole { .. } => {
                assert!(!last_hole, "consecutive hole members");
                assert!(bytes.iter().all(|&b| b == 0));
                assert!(raw.end - raw.start > 0);
            }
            Segment::Block { index: i, .. } => {
                assert_eq!(index.blocks()[i].raw_range(), raw);
                assert!(dense_ok || bytes.iter().any(|&b| b != 0) || model.is_empty());
            }
        }
        last_hole = seg.is_hole();
        at = raw.end;
    }
    assert_eq!(at, model.len() as u64);
    assert_eq!(index.raw_len(), model.len() as u64);
}

/// Every decoder reads `stream` back as `model`.
fn check_decoders(b: Backend, stream: &[u8], index: &Index, model: &[u8], seed: u64) {
    let mut dec = Decompressor::new(b).unwrap();
    for threads in [1, 3] {
        let mut dst = vec![0xAAu8; model.len()];
        dec.decompress_parallel(stream, index, &mut dst, threads)
            .unwrap();
        assert!(dst == model, "decompress_parallel {threads}");
        // Skipping holes: hole bytes keep what was there, data is right.
        let mut dst = vec![0xAAu8; model.len()];
        dec.decompress_parallel_skip_holes(stream, index, &mut dst, threads)
            .unwrap();
        for seg in index.segments() {
            let r = seg.raw();
            let (got, want) = (
                &dst[r.start as usize..r.end as usize],
                &model[r.start as usize..r.end as usize],
            );
            if seg.is_hole() {
                assert!(got.iter().all(|&x| x == 0xAA), "hole touched");
            } else {
                assert!(got == want);
            }
        }
    }
    let mut dst = vec![0x55u8; model.len()];
    dec.decompress_into(stream, index, &mut dst).unwrap();
    assert!(dst == model);
    let mut dst = vec![0u8; model.len()];
    dec.decompress_skip_holes(stream, index, &mut dst).unwrap();
    assert!(dst == model);
    // for_each_segment rebuilds the model; holes come as None.
    let mut back = vec![0u8; model.len()];
    let mut holes = 0;
    dec.for_each_segment(stream, index, |raw, bytes| {
        match bytes {
            Some(bytes) => back[raw.start as usize..raw.end as usize].copy_from_slice(bytes),
            None => holes += 1,
        }
        Ok(())
    })
    .unwrap();
    assert!(back == model);
    assert_eq!(holes, index.holes().len());
    for (i, blk) in index.blocks().iter().enumerate() {
        let mut d = vec![0u8; blk.raw_len as usize];
        dec.inflate_block(stream, index, i, &mut d).unwrap();
        let r = blk.raw_range();
        assert!(d == model[r.start as usize..r.end as usize]);
    }
    let mut rng = Rng(seed);
    for _ in 0..20 {
        let at = rng.next() % (model.len() as u64 + 10);
        let len = (rng.next() % (3 * BS as u64)) as usize;
        let mut buf = vec![0x77u8; len];
        let got = dec.read_at(stream, index, at, &mut buf).unwrap();
        let want = model
            .get(at as usize..)
            .map_or(&[][..], |s| &s[..s.len().min(len)]);
        assert!(buf[..got] == *want, "read_at {at} {len}");
    }
}

/// Decodes a standard gzip stream with flate2.
fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut back = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut back)
        .unwrap();
    back
}

/// All the properties of one sparse file, on backend `b`.
fn check_all(b: Backend, s: &Sparse, seed: u64, tools: bool) {
    let opts = Options::new().backend(b).block_size(BS);
    let (stream, index) = compress_sparse(opts, s);
    assert_eq!(Index::rebuild(&stream).unwrap(), index);
    assert_eq!(index.stream_len(), stream.len() as u64);
    check_segments(&index, &s.model, false);
    // The parallel form writes the same bytes.
    for threads in [2, 3, 5] {
        let mut comp = Compressor::new(opts).unwrap();
        let mut out = Vec::new();
        let total = s.model.len() as u64;
        let pindex = comp
            .compress_sparse_parallel(
                total,
                &s.model[..s.mapped],
                &s.extents,
                &mut out,
                threads,
                |_| Ok(()),
            )
            .unwrap();
        assert!(out == stream, "parallel {threads}");
        assert_eq!(pindex, index);
    }
    check_decoders(b, &stream, &index, &s.model, seed);
    // Export: the dense bytes' own stream, which any gzip reader expands.
    let mut gz = Vec::new();
    let n = export(&stream, &index, opts, &mut gz).unwrap();
    assert_eq!(n, gz.len() as u64);
    let (dense, dense_index) = compress(opts, &s.model);
    assert!(gz == dense, "export is the dense stream");
    assert!(!Index::rebuild(&gz).unwrap().has_holes());
    assert_eq!(Index::rebuild(&gz).unwrap(), dense_index);
    assert!(gunzip(&gz) == s.model);
    if tools {
        assert!(pipe("gzip", &["-dc"], &gz) == s.model, "gzip -dc");
    }
    if can_import() {
        // Import keeps hole members as holes: a canonical stream comes back as is.
        let mut again = Vec::new();
        let i2 = import(&stream, opts, &mut again).unwrap();
        assert!(again == stream, "import of a stream with holes");
        assert_eq!(i2, index);
        // import_sparse of the exported (dense) form finds the holes again.
        let mut again = Vec::new();
        let i3 = import_sparse(&gz, opts, &mut again).unwrap();
        assert!(again == stream, "import_sparse of the export");
        assert_eq!(i3, index);
        // Plain import of the dense form stays dense.
        let mut again = Vec::new();
        let i4 = import(&gz, opts, &mut again).unwrap();
        assert!(again == gz && !i4.has_holes());
    }
}

#[test]
fn holes_at_start_middle_end_partial_last_block() {
    let k = Kind::Mixed;
    let cases: Vec<(usize, Vec<Patch>, usize)> = vec![
        // Hole, data, hole, data, hole with a partial last block.
        (
            20 * BS + 100,
            vec![(3 * BS, 10, k), (9 * BS + 7, 2 * BS, k)],
            5,
        ),
        // Data at the start, the tail past the mapped prefix a hole.
        (50 * BS + 1, vec![(0, 4096, Kind::Compressible)], 0),
        // A block straddling the mapped prefix's end (deflated with zeros).
        (10 * BS, vec![(BS + 10, 100, k)], 0),
        // Data in the partial last block only.
        (6 * BS + 33, vec![(6 * BS + 1, 20, k)], 0),
        // All hole, no mapped byte; all hole, mapped zeros; empty.
        (7 * BS + 5, vec![], 0),
        (7 * BS + 5, vec![], 7 * BS + 5),
        (0, vec![], 0),
        // Dense: no hole at all.
        (5 * BS + 3, vec![(0, 5 * BS + 3, Kind::Incompressible)], 0),
    ];
    for b in backends() {
        for (n, (total, patches, slack)) in cases.iter().enumerate() {
            let mut s = sparse(*total, patches, *slack, n as u64);
            if *slack > 0 {
                // One extent of known-zero bytes: still a hole.
                s.extents.push(s.mapped as u64 - 1..s.mapped as u64);
            }
            check_all(b, &s, n as u64, true);
        }
    }
}

#[test]
fn dense_input_gives_the_dense_stream() {
    let src = data(Kind::Mixed, 9 * BS + 77, 4);
    for b in backends() {
        let opts = Options::new().backend(b).block_size(BS);
        let (dense, index) = compress(opts, &src);
        let mut comp = Compressor::new(opts).unwrap();
        let mut out = Vec::new();
        let total = src.len() as u64;
        let sparse = comp
            .compress_sparse(total, &src, &[0..total], &mut out, |_| Ok(()))
            .unwrap();
        assert!(out == dense);
        assert_eq!(sparse, index);
        // Export of a stream without holes is the stream.
        let mut gz = Vec::new();
        export(&dense, &index, opts, &mut gz).unwrap();
        assert!(gz == dense);
    }
}

#[test]
fn callback_sees_every_block_read_and_errors_restore_out() {
    let s = sparse(
        40 * BS,
        &[(BS, 10, Kind::Mixed), (20 * BS, 3 * BS, Kind::Mixed)],
        2 * BS,
        9,
    );
    let mut comp = Compressor::new(Options::new().block_size(BS)).unwrap();
    let mut out = vec![1, 2, 3];
    let mut seen = Vec::new();
    let total = s.model.len() as u64;
    let src = &s.model[..s.mapped];
    comp.compress_sparse(total, src, &s.extents, &mut out, |r| {
        seen.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        seen,
        vec![
            BS..2 * BS,
            20 * BS..21 * BS,
            21 * BS..22 * BS,
            22 * BS..23 * BS
        ]
    );
    let mut out = vec![1, 2, 3];
    let e = comp
        .compress_sparse(total, src, &s.extents, &mut out, |r| {
            if r.start >= 20 * BS {
                Err(std::io::Error::from_raw_os_error(libc::EIO))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EIO));
    assert_eq!(out, [1, 2, 3]);
    let e = comp
        .compress_sparse_parallel(total, src, &s.extents, &mut out, 3, |r| {
            if r.start >= 21 * BS {
                Err(std::io::Error::from_raw_os_error(libc::EIO))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EIO));
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn bad_arguments_are_einval_or_efbig() {
    let mut comp = Compressor::new(Options::new().block_size(BS)).unwrap();
    let mut out = Vec::new();
    let src = [1u8; 100];
    let e = comp
        .compress_sparse(50, &src, &[0..50], &mut out, |_| Ok(()))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    let e = comp
        .compress_sparse(1000, &src, &[50..60, 0..10], &mut out, |_| Ok(()))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    let e = comp
        .compress_sparse(MAX_RAW_LEN + 1, &src, &[], &mut out, |_| Ok(()))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EFBIG));
    assert!(out.is_empty());
    // Extents past the mapped prefix or the end are clamped; reversed ones ignored.
    #[allow(clippy::reversed_empty_ranges)]
    let extents = [0..10, 5..3, 90..u64::MAX];
    let index = comp
        .compress_sparse(1 << 20, &src, &extents, &mut out, |_| Ok(()))
        .unwrap();
    assert_eq!(index.blocks().len(), 1);
    assert_eq!(index.holes().len(), 1);
}

/// A file of `total` bytes with 4 KiB of data at offset 0.
fn huge(opts: Options, total: u64) -> (Vec<u8>, Index, Vec<u8>) {
    let head = data(Kind::Compressible, 4096, 1);
    let mut comp = Compressor::new(opts).unwrap();
    let mut out = Vec::new();
    let index = comp
        .compress_sparse(total, &head, &[0..4096], &mut out, |_| Ok(()))
        .unwrap();
    (out, index, head)
}

#[test]
fn one_tib_and_i64_max_cost_a_few_hundred_bytes() {
    for b in backends() {
        for total in [TIB, TIB + 12_345, MAX_RAW_LEN] {
            let opts = Options::new().backend(b);
            let t = std::time::Instant::now();
            let (stream, index, head) = huge(opts, total);
            let took = t.elapsed();
            eprintln!(
                "{b:?}: {total} bytes sparse with 4 KiB data: {took:?}, {} B",
                stream.len()
            );
            assert!(stream.len() < 4096, "{}", stream.len());
            assert_eq!(index.blocks().len(), 1);
            assert_eq!(index.holes().len(), 1);
            assert_eq!(index.raw_len(), total);
            assert_eq!(Index::rebuild(&stream).unwrap(), index);
            let mut dec = Decompressor::new(b).unwrap();
            // Reads anywhere: data, zeros after it in its block, the hole, the end.
            let mut page = vec![0xEEu8; 8192];
            assert_eq!(dec.read_at(&stream, &index, 0, &mut page).unwrap(), 8192);
            assert!(page[..4096] == head[..] && page[4096..].iter().all(|&x| x == 0));
            for at in [DEFAULT_BLOCK_SIZE as u64 - 10, total / 2, total - 8192] {
                page.fill(0xEE);
                assert_eq!(dec.read_at(&stream, &index, at, &mut page).unwrap(), 8192);
                assert!(page.iter().all(|&x| x == 0), "{at}");
            }
            page.fill(0xEE);
            assert_eq!(
                dec.read_at(&stream, &index, total - 5, &mut page).unwrap(),
                5
            );
            assert_eq!(dec.read_at(&stream, &index, total, &mut page).unwrap(), 0);
            assert!(matches!(
                index.segment_at(total - 1),
                Some(Segment::Hole { .. })
            ));
            assert!(index.segment_at(total).is_none());
            // The walk without a destination of the file's size.
            let mut seen = Vec::new();
            dec.for_each_segment(&stream, &index, |raw, bytes| {
                seen.push((raw, bytes.map(<[u8]>::to_vec)));
                Ok(())
            })
            .unwrap();
            assert_eq!(seen.len(), 2);
            assert_eq!(seen[0].0, 0..DEFAULT_BLOCK_SIZE as u64);
            assert!(seen[0].1.as_ref().unwrap()[..4096] == head[..]);
            assert_eq!(seen[1], (DEFAULT_BLOCK_SIZE as u64..total, None));
            // A destination of the wrong size is refused before anything.
            let e = dec.decompress_into(&stream, &index, &mut page).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
            if can_import() {
                // Import of the stream does no work per hole block.
                let mut again = Vec::new();
                assert_eq!(import(&stream, opts, &mut again).unwrap(), index);
                assert!(again == stream);
            }
        }
    }
}

#[test]
fn holes_in_the_middle_of_huge_streams() {
    // Two sparse streams back to back: data, a hole to 2^62, data, a hole to i64::MAX.
    let opts = Options::new();
    let (mut a, _, head) = huge(opts, 1 << 62);
    let (b, _, _) = huge(opts, MAX_RAW_LEN - (1 << 62));
    a.extend_from_slice(&b);
    let index = Index::rebuild(&a).unwrap();
    assert_eq!(index.raw_len(), MAX_RAW_LEN);
    assert_eq!(index.blocks().len(), 2);
    assert_eq!(index.blocks()[1].raw_offset, 1 << 62);
    let mut dec = Decompressor::new(opts.get_backend()).unwrap();
    let mut page = vec![0xEEu8; 4096 + 100];
    let n = dec.read_at(&a, &index, (1 << 62) - 100, &mut page).unwrap();
    assert_eq!(n, page.len());
    assert!(page[..100].iter().all(|&x| x == 0) && page[100..] == head[..]);
    // Once more would pass i64::MAX: rejected, not wrapped.
    let mut c = a.clone();
    c.extend_from_slice(&b);
    assert_eq!(
        Index::rebuild(&c).unwrap_err().kind(),
        ErrorKind::InvalidData
    );
    if can_import() {
        let e = import(&c, opts, &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
    }
}

#[test]
fn export_of_a_large_hole_through_gzip() {
    // 64 MiB of hole between data: 256 zero members written from one deflate.
    let total = (64 << 20) + 3 * DEFAULT_BLOCK_SIZE + 1000;
    let mut model = vec![0u8; total];
    let tail = data(Kind::Mixed, 500, 3);
    model[..100].copy_from_slice(&data(Kind::Mixed, 100, 2));
    model[total - 500..].copy_from_slice(&tail);
    let extents = [0..100, (total - 500) as u64..total as u64];
    for b in backends() {
        let opts = Options::new().backend(b);
        let mut comp = Compressor::new(opts).unwrap();
        let mut stream = Vec::new();
        let index = comp
            .compress_sparse(total as u64, &model, &extents, &mut stream, |_| Ok(()))
            .unwrap();
        assert_eq!(index.holes().len(), 1);
        let mut gz = Vec::new();
        export(&stream, &index, opts, &mut gz).unwrap();
        assert!(pipe("gzip", &["-dc"], &gz) == model);
        assert!(gz == compress(opts, &model).0);
    }
}

/// A stream with holes at start, middle and end, and a partial last block.
fn holey() -> Sparse {
    sparse(
        30 * BS + 10,
        &[
            (5 * BS, 2 * BS, Kind::Compressible),
            (12 * BS, BS, Kind::Incompressible),
            (20 * BS, 50, Kind::Mixed),
        ],
        0,
        5,
    )
}

#[test]
fn every_bit_flip_in_a_hole_member_is_caught() {
    let s = holey();
    for b in backends() {
        let (stream, index) = compress_sparse(Options::new().backend(b).block_size(BS), &s);
        assert_eq!(index.holes().len(), 4);
        let mut dec = Decompressor::new(b).unwrap();
        for h in index.holes() {
            for at in h.range() {
                for bit in 0..8 {
                    let mut bad = stream.clone();
                    bad[at] ^= 1 << bit;
                    assert_eq!(
                        Index::rebuild(&bad).unwrap_err().kind(),
                        ErrorKind::InvalidData,
                        "byte {} bit {bit}",
                        at - h.range().start
                    );
                    // With the index built before the damage, reading the hole fails ...
                    let mut page = [0u8; 10];
                    let e = dec
                        .read_at(&bad, &index, h.raw_offset + 1, &mut page)
                        .unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::InvalidData);
                    let mut all = vec![0u8; s.model.len()];
                    let e = dec
                        .decompress_skip_holes(&bad, &index, &mut all)
                        .unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::InvalidData);
                    let e = dec
                        .for_each_segment(&bad, &index, |_, _| Ok(()))
                        .unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::InvalidData);
                    let e = export(&bad, &index, Options::new(), std::io::sink()).unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::InvalidData);
                    // ... and every data block still reads.
                    for (i, blk) in index.blocks().iter().enumerate() {
                        let mut d = vec![0u8; blk.raw_len as usize];
                        dec.inflate_block(&bad, &index, i, &mut d).unwrap();
                    }
                }
            }
        }
    }
}

/// A hole member for `len` bytes at block size `bs`, with `payload` bytes
/// inserted before its trailer and the member length set to match.
fn hole_member(bs: u32, len: u64, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![
        0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255, 29, 0, b'E', b'R', 25, 0,
    ];
    m.extend_from_slice(&(51 + payload.len() as u32).to_le_bytes());
    m.extend_from_slice(&bs.to_le_bytes());
    m.push(2);
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(&(!len).to_le_bytes());
    m.extend_from_slice(&[3, 0]);
    m.extend_from_slice(payload);
    m.extend_from_slice(&[0; 8]);
    m
}

#[test]
fn malformed_hole_members_are_rejected() {
    let bs = BS as u32;
    // The member as written is accepted; a stream of one hole is valid.
    let good = hole_member(bs, 10 * BS as u64, &[]);
    let index = Index::rebuild(&good).unwrap();
    assert_eq!(index.raw_len(), 10 * BS as u64);
    assert!(
        pipe("gzip", &["-dc"], &good).is_empty(),
        "a valid (empty) gzip member"
    );
    // Damage within a member: every reader rejects it.
    let corrupt = |stream: &[u8], what: &str| {
        let e = Index::rebuild(stream).expect_err(what);
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{what}");
        if can_import() {
            let e = import(stream, Options::new().block_size(BS), &mut Vec::new()).expect_err(what);
            assert_eq!(e.kind(), ErrorKind::InvalidData, "{what}");
        }
    };
    corrupt(&hole_member(bs, 100, b"payload"), "payload");
    corrupt(&hole_member(bs, 0, &[]), "zero length");
    corrupt(&hole_member(bs, u64::MAX, &[]), "longer than i64::MAX");
    corrupt(
        &hole_member(bs, MAX_RAW_LEN + 1, &[]),
        "just longer than i64::MAX",
    );
    corrupt(&hole_member(bs, 10 * BS as u64, &[])[..50], "truncated");
    // Members that are each fine but do not make one blocked stream: not
    // an index, but import re-cuts them (zeros where the holes are).
    let not_blocked = |stream: &[u8], want: &[u8], what: &str| {
        let e = Index::rebuild(stream).expect_err(what);
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{what}");
        if can_import() {
            let mut out = Vec::new();
            let index = import(stream, Options::new().block_size(BS), &mut out).unwrap();
            let mut back = vec![1u8; want.len()];
            let mut dec = Decompressor::new(Backend::default()).unwrap();
            dec.decompress_into(&out, &index, &mut back).unwrap();
            assert!(back == want, "{what}");
        }
    };
    let mut two = hole_member(bs, 100, &[]);
    two.extend_from_slice(&good);
    not_blocked(&two, &vec![0; 100 + 10 * BS], "short run before the last");
    let first = data(Kind::Mixed, BS, 1);
    let (mut s, _) = compress(Options::new().block_size(BS), &first);
    s.extend_from_slice(&hole_member(2 * bs, 10, &[]));
    let mut want = first.clone();
    want.extend_from_slice(&[0; 10]);
    not_blocked(&s, &want, "block size changes");
    // The length and its inverted copy disagree.
    let mut m = good.clone();
    m[30] ^= 0x10;
    m[38] ^= 0x01;
    corrupt(&m, "length copies disagree");
    // A non-empty body or trailer.
    let mut m = good.clone();
    m[41] = 0x01;
    corrupt(&m, "body");
    let mut m = good;
    m[50] = 1;
    corrupt(&m, "ISIZE");
}

#[test]
fn damaged_and_cut_holey_streams_never_panic() {
    let s = holey();
    let (stream, _) = compress_sparse(Options::new().block_size(BS), &s);
    let mut rng = Rng(99);
    for round in 0..400 {
        let mut bad = stream.clone();
        for _ in 0..1 + round % 4 {
            let at = (rng.next() as usize) % bad.len();
            bad[at] = rng.next() as u8;
        }
        let cut = if round % 3 == 0 {
            (rng.next() as usize) % bad.len()
        } else {
            bad.len()
        };
        let bad = &bad[..cut];
        let _ = import(bad, Options::new().block_size(BS), &mut Vec::new());
        let _ = import_sparse(bad, Options::new().block_size(BS), &mut Vec::new());
        if let Ok(index) = Index::rebuild(bad) {
            let mut dec = Decompressor::new(Backend::default()).unwrap();
            let _ = dec.for_each_segment(bad, &index, |_, _| Ok(()));
            let _ = dec.read_at(
                bad,
                &index,
                rng.next() % (index.raw_len() + 1),
                &mut [0; 9000],
            );
            let _ = export(bad, &index, Options::new(), std::io::sink());
            if index.raw_len() <= 1 << 20 {
                let mut dst = vec![0; index.raw_len() as usize];
                let _ = dec.decompress_parallel(bad, &index, &mut dst, 2);
            }
        }
    }
}

#[test]
fn sparse_paths_copy_only_the_straddling_block() {
    let s = holey();
    let before = copied_bytes();
    let (stream, index) = compress_sparse(Options::new().block_size(BS), &s);
    // Only the block straddling the end of the mapped prefix is copied (its 50 bytes).
    assert_eq!(copied_bytes() - before, 50);
    let mut dec = Decompressor::new(Backend::default()).unwrap();
    let before = copied_bytes();
    let mut dst = vec![0u8; s.model.len()];
    dec.decompress_skip_holes(&stream, &index, &mut dst)
        .unwrap();
    dec.decompress_into(&stream, &index, &mut dst).unwrap();
    dec.for_each_segment(&stream, &index, |_, _| Ok(()))
        .unwrap();
    let mut page = vec![0u8; 2 * BS];
    dec.read_at(&stream, &index, 0, &mut page).unwrap();
    assert_eq!(copied_bytes() - before, 0);
}

fn patch_strategy() -> impl Strategy<Value = Vec<(usize, usize, u8)>> {
    prop::collection::vec((0usize..120_000, 0usize..20_000, 0u8..3), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn prop_sparse_round_trip(
        total in 0usize..130_000,
        patches in patch_strategy(),
        slack in 0usize..20_000,
        seed in any::<u64>(),
        backend in 0usize..3,
    ) {
        let kinds = [Kind::Compressible, Kind::Incompressible, Kind::Mixed];
        let patches: Vec<_> = patches.iter().map(|&(a, l, k)| (a, l, kinds[k as usize])).collect();
        let s = sparse(total, &patches, slack, seed);
        let all = backends();
        check_all(all[backend % all.len()], &s, seed, false);
    }
}
