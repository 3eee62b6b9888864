//! Fuzz target `gzip_decoder`: arbitrary bytes fed to erm-compress's import,
//! to index rebuilding and block inflate, and (wrapped in a valid member
//! header so the inflaters see them) as a member body. Must never panic.
#![no_main]

use erm_compress::{Backend, Decompressor, Index, Options, SUBFIELD_ID, import};
use libfuzzer_sys::fuzz_target;

const BS: usize = 4096;

/// Inflates every block of a stream whose index rebuilt, on every backend.
fn inflate_all(stream: &[u8], index: &Index) {
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
    }
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
    }
});
