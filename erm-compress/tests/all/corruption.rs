//! Corruption: a flipped bit in any part of a chosen member, or a stream cut
//! at any boundary, gives InvalidData for that block and leaves the others
//! readable. Never a panic.

use std::io::ErrorKind;

use erm_compress::{Decompressor, Index, MIN_BLOCK_SIZE, Options, import};

use crate::common::{Kind, Rng, backends, can_import, compress, data};

const BS: usize = MIN_BLOCK_SIZE;

/// Six blocks: compressible, then a stored (random) block at index 3.
fn sample() -> Vec<u8> {
    let mut v = data(Kind::Compressible, 3 * BS, 1);
    v.extend(data(Kind::Incompressible, BS, 2));
    v.extend(data(Kind::Compressible, 2 * BS - 100, 3));
    v
}

/// Block `bad` (and only it, among blocks below `first_unreadable`) fails
/// with InvalidData; every other block reads back right.
fn expect_only(stream: &[u8], index: &Index, src: &[u8], bad: &[usize], dec: &mut Decompressor) {
    for (i, b) in index.blocks().iter().enumerate() {
        let mut dst = vec![0; b.raw_len as usize];
        let r = dec.inflate_block(stream, index, i, &mut dst);
        let want = &src[i * BS..i * BS + b.raw_len as usize];
        if bad.contains(&i) {
            let e = r.expect_err(&format!("block {i} of {bad:?} must fail"));
            assert_eq!(e.kind(), ErrorKind::InvalidData, "block {i}");
            let mut page = [0u8; 100];
            let e = dec
                .read_at(stream, index, (i * BS + 7) as u64, &mut page)
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidData);
        } else {
            r.unwrap();
            assert!(dst == want, "block {i} still reads");
        }
    }
    let mut all = vec![0; src.len()];
    let e = dec.decompress_into(stream, index, &mut all).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    let e = dec
        .decompress_parallel(stream, index, &mut all, 2)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
}

#[test]
fn bit_flips_in_header_body_crc_isize() {
    let src = sample();
    for b in backends() {
        let (stream, index) = compress(Options::new().backend(b).block_size(BS), &src);
        let mut dec = Decompressor::new(b).unwrap();
        for k in [0, 3, 5] {
            let m = index.blocks()[k].range();
            let mut spots: Vec<usize> = (0..25).map(|i| m.start + i).collect();
            // Body (not a stored block's or the final byte's padding bits), CRC, ISIZE.
            spots.extend([
                m.start + 26,
                m.start + 25 + (m.len() - 33) / 2,
                m.end - 8,
                m.end - 6,
                m.end - 4,
                m.end - 1,
            ]);
            for at in spots {
                for bit in [0, 3, 7] {
                    let mut bad = stream.clone();
                    bad[at] ^= 1 << bit;
                    eprintln!("{b:?} block {k} byte {} bit {bit}", at - m.start);
                    expect_only(&bad, &index, &src, &[k], &mut dec);
                }
            }
        }
    }
}

/// Bytes between the end of a member's deflate stream and its trailer (the
/// header's length grown to match, CRC and ISIZE still right) are corruption
/// on every backend, so no decoder reads a member another rejects.
#[test]
fn bytes_after_the_deflate_stream() {
    let src = sample();
    for b in backends() {
        let (stream, index) = compress(Options::new().backend(b).block_size(BS), &src);
        let m = index.blocks()[0].range();
        assert!(!index.blocks()[0].stored, "block 0 is deflated");
        let mut member = stream[m.clone()].to_vec();
        let at = member.len() - 8;
        member.splice(at..at, [0u8, 0]);
        // The member length sits after the 16 fixed and subfield-head bytes.
        let len = u32::try_from(member.len()).unwrap();
        member[16..20].copy_from_slice(&len.to_le_bytes());
        let bad = [&member[..], &stream[m.end..]].concat();
        let bad_index = Index::rebuild(&bad).unwrap();
        for d in backends() {
            let mut dec = Decompressor::new(d).unwrap();
            expect_only(&bad, &bad_index, &src, &[0], &mut dec);
            let walk = dec.for_each_segment(&bad, &bad_index, |_, _| Ok(()));
            assert_eq!(walk.unwrap_err().kind(), ErrorKind::InvalidData, "{d:?}");
        }
    }
}

#[test]
fn truncation_at_every_boundary_kind() {
    let src = sample();
    for b in backends() {
        let (stream, index) = compress(Options::new().backend(b).block_size(BS), &src);
        let mut dec = Decompressor::new(b).unwrap();
        for k in [0, 3, 5] {
            let m = index.blocks()[k].range();
            // Mid-header, end of header, mid-body, before trailer, mid-trailer, member end.
            for cut in [
                m.start + 5,
                m.start + 26,
                m.start + 40,
                m.end - 8,
                m.end - 3,
                m.end,
            ] {
                let short = &stream[..cut];
                let lost: Vec<usize> = (0..index.blocks().len())
                    .filter(|&i| index.blocks()[i].range().end > cut)
                    .collect();
                if lost.is_empty() {
                    continue;
                }
                expect_only(short, &index, &src, &lost, &mut dec);
                // Rebuilding from a cut inside a member fails; at a member end it
                // gives the blocks that are there.
                match Index::rebuild(short) {
                    Ok(i) => assert!(cut == m.end && i.blocks() == &index.blocks()[..=k]),
                    Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidData),
                }
                // Import takes a cut at a member end as a shorter valid stream.
                let mut out = Vec::new();
                let imported = import(short, Options::new(), &mut out).map(|_| ());
                if cut != m.end && can_import() {
                    assert_eq!(imported.unwrap_err().kind(), ErrorKind::InvalidData);
                }
            }
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let src = sample();
    let (stream, _) = compress(Options::new().block_size(BS), &src);
    let mut rng = Rng(77);
    for round in 0..300 {
        let mut bad = stream.clone();
        for _ in 0..1 + round % 8 {
            let at = (rng.next() as usize) % bad.len();
            bad[at] = rng.next() as u8;
        }
        let cut = if round % 3 == 0 {
            (rng.next() as usize) % bad.len()
        } else {
            bad.len()
        };
        let bad = &bad[..cut];
        let mut out = Vec::new();
        let _ = import(bad, Options::new().block_size(BS), &mut out);
        if let Ok(index) = Index::rebuild(bad) {
            if index.raw_len() <= 1 << 20 {
                let mut dst = vec![0; index.raw_len() as usize];
                for b in backends() {
                    let _ = Decompressor::new(b)
                        .unwrap()
                        .decompress_into(bad, &index, &mut dst);
                }
            }
        }
    }
}
