//! Fuzz target `gzip_decoder`: arbitrary bytes fed to erm-compress's import,
//! to index rebuilding and block inflate, and (wrapped in a valid member
//! header so the inflaters see them) as a member body, also after a hole
//! member whose length comes from the input (a sparse stream, read by every
//! decoder and exported). Must never panic.
#![no_main]

use erm_compress::{
    Backend, Decompressor, Index, Options, SUBFIELD_ID, export, import, import_sparse,
};
use libfuzzer_sys::fuzz_target;

const BS: usize = 4096;

/// Inflates every block of a stream whose index rebuilt, on every backend.
fn inflate_all(stream: &[u8], index: &Index) {
    let mut dec = Decompressor::new(Backend::default()).expect("backend is built");
    // Any length: the walk, reads at the ends, and the export (small holes only).
    let walk = dec.for_each_segment(stream, index, |_, _| Ok(()));
    let mut page = [0u8; 5000];
    let _ = dec.read_at(stream, index, 0, &mut page);
    let _ = dec.read_at(
        stream,
        index,
        index.raw_len().saturating_sub(3000),
        &mut page,
    );
    if index.holes().iter().map(|h| h.raw_len).sum::<u64>() <= 64 << 20 {
        // Export copies data members unread: it fails only where the walk does.
        let exported = export(stream, index, Options::new(), std::io::sink());
        assert!(exported.is_ok() || walk.is_err());
    }
    if index.raw_len() > 16 << 20 {
        return;
    }
    let mut dst = vec![0u8; index.raw_len() as usize];
    for b in Backend::available() {
        let mut dec = Decompressor::new(b).expect("backend is built");
        let whole = dec.decompress_into(stream, index, &mut dst);
        let mut ok = 0;
        for (i, blk) in index.blocks().iter().enumerate() {
            let mut d = vec![0u8; blk.raw_len as usize];
            ok += usize::from(dec.inflate_block(stream, index, i, &mut d).is_ok());
        }
        // The whole stream reads exactly when every block does.
        assert_eq!(whole.is_ok(), ok == index.blocks().len());
        assert_eq!(whole.is_ok(), walk.is_ok());
        let skip = dec.decompress_parallel_skip_holes(stream, index, &mut dst, 2);
        assert_eq!(whole.is_ok(), skip.is_ok());
    }
}

/// A hole member of `len` bytes (the layout documented on `SUBFIELD_ID`).
fn hole(len: u64) -> Vec<u8> {
    let mut m = vec![0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255, 29, 0];
    m.extend_from_slice(&SUBFIELD_ID);
    m.extend_from_slice(&[25, 0]);
    m.extend_from_slice(&51u32.to_le_bytes());
    m.extend_from_slice(&(BS as u32).to_le_bytes());
    m.push(2);
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(&(!len).to_le_bytes());
    m.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    m
}

/// A member of ours around an arbitrary body, with CRC/ISIZE from `tail`.
fn wrap(body: &[u8], tail: [u8; 9]) -> Vec<u8> {
    let len = (25 + body.len() + 8) as u32;
    let mut m = vec![0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255, 13, 0];
    m.extend_from_slice(&SUBFIELD_ID);
    m.extend_from_slice(&[9, 0]);
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(&(BS as u32).to_le_bytes());
    m.push(tail[0] & 1);
    m.extend_from_slice(body);
    m.extend_from_slice(&tail[1..5]);
    // ISIZE within the block size, so the index is accepted.
    let isize = u32::from_le_bytes([tail[5], tail[6], 0, 0]) % (BS as u32 + 1);
    m.extend_from_slice(&isize.to_le_bytes());
    m
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if let Ok(index) = import(data, Options::new().block_size(BS), &mut out) {
        assert_eq!(Index::rebuild(&out).ok().as_ref(), Some(&index));
        inflate_all(&out, &index);
    }
    if let Ok(index) = Index::rebuild(data) {
        inflate_all(data, &index);
    }
    if data.len() >= 9 {
        let (tail, body) = data.split_at(9);
        let member = wrap(body, tail.try_into().expect("split at 9"));
        if let Ok(index) = Index::rebuild(&member) {
            inflate_all(&member, &index);
        }
        // The same member after a hole: whole blocks, or (odd tail) rejected.
        let blocks = u64::from_le_bytes([tail[1], tail[2], tail[3], tail[4], tail[5], 0, 0, 0]);
        let mut sparse = hole(blocks.max(1) * BS as u64 + u64::from(tail[0] >> 7));
        sparse.extend_from_slice(&member);
        if let Ok(index) = Index::rebuild(&sparse) {
            inflate_all(&sparse, &index);
        }
        let mut out = Vec::new();
        if let Ok(index) = import_sparse(&sparse, Options::new().block_size(BS), &mut out) {
            assert_eq!(Index::rebuild(&out).ok().as_ref(), Some(&index));
        }
    }
});
