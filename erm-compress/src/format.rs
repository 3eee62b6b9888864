//! The member format: a standard gzip header with our FEXTRA subfield, a raw
//! deflate body, the standard CRC-32/ISIZE trailer.
//!
//! The layout is documented on [`SUBFIELD_ID`].

use std::io;

use crate::error::corrupt;

/// The two-letter FEXTRA subfield id of this format (`'E' 'R'`, for ERMFS).
///
/// Member header layout (25 bytes, all little-endian):
///
/// | bytes | value |
/// | --- | --- |
/// | 0-3 | `1f 8b 08 04`: magic, CM = deflate, FLG = FEXTRA only |
/// | 4-7 | MTIME = 0 |
/// | 8-9 | XFL = 0, OS = 255 (unknown) |
/// | 10-11 | XLEN = 13 |
/// | 12-13 | subfield id `"ER"` |
/// | 14-15 | subfield LEN = 9 |
/// | 16-19 | member length: header + body + trailer, in bytes |
/// | 20-23 | block size of the stream |
/// | 24 | flags: bit 0 = body is stored (raw) deflate; other bits 0 |
///
/// The raw deflate body (stored-deflate blocks when flag bit 0 is set)
/// and the standard trailer (CRC-32, ISIZE) follow. Every header byte is
/// fixed or checked, so any bit flip in a header is caught before inflating.
pub const SUBFIELD_ID: [u8; 2] = *b"ER";
/// Length of our member header.
pub(crate) const HEADER_LEN: usize = 25;
/// Length of the gzip trailer (CRC-32, ISIZE).
pub(crate) const TRAILER_LEN: usize = 8;
/// Header + trailer.
pub(crate) const OVERHEAD: usize = HEADER_LEN + TRAILER_LEN;
/// Flag bit: the body is stored deflate.
const FLAG_STORED: u8 = 1;
/// The fixed first 16 bytes of every header.
const FIXED: [u8; 16] = [
    0x1f,
    0x8b,
    8,
    4,
    0,
    0,
    0,
    0,
    0,
    255,
    13,
    0,
    SUBFIELD_ID[0],
    SUBFIELD_ID[1],
    9,
    0,
];
/// Largest stored deflate block.
const STORED_MAX: usize = 65_535;

/// What a member header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) member_len: u32,
    pub(crate) block_size: u32,
    pub(crate) stored: bool,
}

/// Writes `h` into the first [`HEADER_LEN`] bytes of `dst`.
pub(crate) fn write_header(dst: &mut [u8; HEADER_LEN], h: Header) {
    dst[..16].copy_from_slice(&FIXED);
    dst[16..20].copy_from_slice(&h.member_len.to_le_bytes());
    dst[20..24].copy_from_slice(&h.block_size.to_le_bytes());
    dst[24] = if h.stored { FLAG_STORED } else { 0 };
}

/// Parses the member header at the start of `src`.
pub(crate) fn parse_header(src: &[u8]) -> io::Result<Header> {
    let Some(head) = src.first_chunk::<HEADER_LEN>() else {
        return Err(corrupt("truncated gzip member header"));
    };
    if head[..16] != FIXED {
        return Err(corrupt("not an erm-compress gzip member header"));
    }
    if head[24] & !FLAG_STORED != 0 {
        return Err(corrupt("unknown flags in gzip member header"));
    }
    let h = Header {
        member_len: u32_at(head, 16),
        block_size: u32_at(head, 20),
        stored: head[24] & FLAG_STORED != 0,
    };
    if (h.member_len as usize) < OVERHEAD + 2 {
        return Err(corrupt("gzip member length too small"));
    }
    Ok(h)
}

/// Writes the trailer: CRC-32 then ISIZE.
pub(crate) fn write_trailer(dst: &mut [u8; TRAILER_LEN], crc: u32, isize: u32) {
    dst[..4].copy_from_slice(&crc.to_le_bytes());
    dst[4..].copy_from_slice(&isize.to_le_bytes());
}

/// Reads (CRC-32, ISIZE) from a trailer.
pub(crate) fn read_trailer(src: &[u8; TRAILER_LEN]) -> (u32, u32) {
    (u32_at(src, 0), u32_at(src, 4))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Size of `n` bytes as stored deflate blocks (at least one, even if empty).
pub(crate) fn stored_body_len(n: usize) -> usize {
    n + 5 * n.div_ceil(STORED_MAX).max(1)
}

/// Writes `src` as stored deflate blocks into `dst` (exactly
/// [`stored_body_len`] bytes long). This *is* the deflate pass of a stored
/// block, not an extra copy.
pub(crate) fn write_stored(src: &[u8], dst: &mut [u8]) {
    debug_assert_eq!(dst.len(), stored_body_len(src.len()));
    let mut chunks = src.chunks(STORED_MAX).peekable();
    let mut at = 0;
    if chunks.peek().is_none() {
        // One empty final block: BFINAL=1, BTYPE=00, LEN=0, NLEN=0xffff.
        dst[..5].copy_from_slice(&[1, 0, 0, 0xff, 0xff]);
        return;
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let len = chunk.len() as u16;
        dst[at] = u8::from(last);
        dst[at + 1..at + 3].copy_from_slice(&len.to_le_bytes());
        dst[at + 3..at + 5].copy_from_slice(&(!len).to_le_bytes());
        dst[at + 5..at + 5 + chunk.len()].copy_from_slice(chunk);
        at += 5 + chunk.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_every_bit_flip_is_caught() {
        let h = Header {
            member_len: 1234,
            block_size: 262_144,
            stored: true,
        };
        let mut buf = [0u8; HEADER_LEN];
        write_header(&mut buf, h);
        assert_eq!(parse_header(&buf).ok(), Some(h));
        for byte in 0..16 {
            for bit in 0..8 {
                let mut b = buf;
                b[byte] ^= 1 << bit;
                assert!(parse_header(&b).is_err(), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn stored_len_counts_block_headers() {
        assert_eq!(stored_body_len(0), 5);
        assert_eq!(stored_body_len(65_535), 65_540);
        assert_eq!(stored_body_len(65_536), 65_546);
    }
}
