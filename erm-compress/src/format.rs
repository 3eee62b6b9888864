//! The member format: a standard gzip header with our FEXTRA subfield, a raw
//! deflate body, the standard CRC-32/ISIZE trailer.
//!
//! The layout is documented on [`SUBFIELD_ID`].

use std::io;

use crate::error::corrupt;

/// The two-letter FEXTRA subfield id of this format (`'E' 'R'`, for ERMFS).
///
/// A stream holds two kinds of member. A **data member** (one block of
/// bytes) has a 25-byte header, all little-endian:
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
/// and the standard trailer (CRC-32, ISIZE) follow.
///
/// A **hole member** stands for a run of zero bytes (whole blocks, or the
/// stream's tail) and has no payload. It is always 51 bytes:
///
/// | bytes | value |
/// | --- | --- |
/// | 0-9 | as a data member |
/// | 10-11 | XLEN = 29 |
/// | 12-13 | subfield id `"ER"` |
/// | 14-15 | subfield LEN = 25 |
/// | 16-19 | member length = 51 |
/// | 20-23 | block size of the stream |
/// | 24 | flags = `02` (bit 1 = hole; no other bit) |
/// | 25-32 | length of the run in uncompressed bytes (u64, not 0) |
/// | 33-40 | the same length, bitwise inverted |
/// | 41-42 | `03 00`: one empty final fixed-Huffman deflate block |
/// | 43-50 | CRC-32 = 0, ISIZE = 0 (those of an empty member) |
///
/// So a stream with holes is still a valid multi-member gzip file, but a
/// plain `gunzip` reads each hole as nothing: [`export`](crate::export)
/// writes the standard form with the zeros in. Every header byte of both
/// kinds is fixed or checked (the run length against its inverted copy), so
/// any bit flip in a header is caught before inflating; a hole member's
/// body and trailer are fixed too.
pub const SUBFIELD_ID: [u8; 2] = *b"ER";
/// Length of our member header.
pub(crate) const HEADER_LEN: usize = 25;
/// Length of the gzip trailer (CRC-32, ISIZE).
pub(crate) const TRAILER_LEN: usize = 8;
/// Header + trailer.
pub(crate) const OVERHEAD: usize = HEADER_LEN + TRAILER_LEN;
/// Flag bit: the body is stored deflate.
const FLAG_STORED: u8 = 1;
/// Flag bit: a hole member.
const FLAG_HOLE: u8 = 2;
/// Length of a hole member's header.
const HOLE_HEADER_LEN: usize = 41;
/// Length of a whole hole member.
pub(crate) const HOLE_MEMBER_LEN: usize = HOLE_HEADER_LEN + EMPTY_BODY.len() + TRAILER_LEN;
/// An empty final deflate block (fixed Huffman, end-of-block only), as gzip writes for no data.
const EMPTY_BODY: [u8; 2] = [3, 0];
/// The fixed first 16 bytes of a hole member's header.
const FIXED_HOLE: [u8; 16] = [
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
    29,
    0,
    SUBFIELD_ID[0],
    SUBFIELD_ID[1],
    25,
    0,
];
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
    /// `Some(run length)` for a hole member (then `stored` is false).
    pub(crate) hole: Option<u64>,
}

/// Writes `h` into the first [`HEADER_LEN`] bytes of `dst`.
pub(crate) fn write_header(dst: &mut [u8; HEADER_LEN], h: Header) {
    dst[..16].copy_from_slice(&FIXED);
    dst[16..20].copy_from_slice(&h.member_len.to_le_bytes());
    dst[20..24].copy_from_slice(&h.block_size.to_le_bytes());
    dst[24] = if h.stored { FLAG_STORED } else { 0 };
}

/// Parses the member header at the start of `src` (either kind; a hole
/// member's body and trailer are checked by [`check_hole`]).
pub(crate) fn parse_header(src: &[u8]) -> io::Result<Header> {
    let Some(head) = src.first_chunk::<HEADER_LEN>() else {
        return Err(corrupt("truncated gzip member header"));
    };
    if head[..16] == FIXED_HOLE {
        return parse_hole_header(src);
    }
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
        hole: None,
    };
    if (h.member_len as usize) < OVERHEAD + 2 {
        return Err(corrupt("gzip member length too small"));
    }
    Ok(h)
}

/// Parses a hole member's header (its first 16 bytes are [`FIXED_HOLE`]).
fn parse_hole_header(src: &[u8]) -> io::Result<Header> {
    let Some(head) = src.first_chunk::<HOLE_HEADER_LEN>() else {
        return Err(corrupt("truncated gzip hole member header"));
    };
    if u32_at(head, 16) as usize != HOLE_MEMBER_LEN {
        return Err(corrupt("gzip hole member has a payload"));
    }
    if head[24] != FLAG_HOLE {
        return Err(corrupt("unknown flags in gzip hole member header"));
    }
    let (len, inverted) = (u64_at(head, 25), u64_at(head, 33));
    if len != !inverted {
        return Err(corrupt("gzip hole member length is damaged"));
    }
    if len == 0 {
        return Err(corrupt("empty gzip hole member"));
    }
    Ok(Header {
        member_len: HOLE_MEMBER_LEN as u32,
        block_size: u32_at(head, 20),
        stored: false,
        hole: Some(len),
    })
}

/// Whether `src` starts like a hole member (its first 16 bytes).
#[cfg(any(feature = "zlib", feature = "zlib-ng"))]
pub(crate) fn is_hole_start(src: &[u8]) -> bool {
    src.starts_with(&FIXED_HOLE)
}

/// Checks a whole hole member (`member` exactly its bytes): its header, its
/// empty body and its empty member's trailer. Returns the header.
pub(crate) fn check_hole(member: &[u8]) -> io::Result<Header> {
    let h = parse_header(member)?;
    if h.hole.is_none() || member.len() != HOLE_MEMBER_LEN {
        return Err(corrupt("not a gzip hole member"));
    }
    if member[HOLE_HEADER_LEN..HOLE_HEADER_LEN + 2] != EMPTY_BODY
        || member[HOLE_HEADER_LEN + 2..] != [0; TRAILER_LEN]
    {
        return Err(corrupt("gzip hole member has a payload"));
    }
    Ok(h)
}

/// Appends a hole member for `len` (> 0) zero bytes to `out`.
pub(crate) fn write_hole(out: &mut Vec<u8>, block_size: u32, len: u64) {
    debug_assert!(len > 0);
    out.extend_from_slice(&FIXED_HOLE);
    out.extend_from_slice(&(HOLE_MEMBER_LEN as u32).to_le_bytes());
    out.extend_from_slice(&block_size.to_le_bytes());
    out.push(FLAG_HOLE);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(&EMPTY_BODY);
    out.extend_from_slice(&[0; TRAILER_LEN]);
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

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
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
            hole: None,
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
    fn hole_member_round_trips_and_every_bit_flip_is_caught() {
        let mut m = Vec::new();
        write_hole(&mut m, 4096, 1 << 40);
        assert_eq!(m.len(), HOLE_MEMBER_LEN);
        let h = check_hole(&m).unwrap();
        assert_eq!(h.hole, Some(1 << 40));
        assert_eq!(h.block_size, 4096);
        for byte in (0..HOLE_MEMBER_LEN).filter(|b| !(20..24).contains(b)) {
            for bit in 0..8 {
                let mut b = m.clone();
                b[byte] ^= 1 << bit;
                assert!(check_hole(&b).is_err(), "byte {byte} bit {bit}");
            }
        }
        // A data header with the hole flag set is rejected.
        let mut d = [0u8; HEADER_LEN];
        write_header(
            &mut d,
            Header {
                member_len: 100,
                block_size: 4096,
                stored: false,
                hole: None,
            },
        );
        d[24] |= FLAG_HOLE;
        assert!(parse_header(&d).is_err());
        assert!(parse_header(&m[..30]).is_err());
    }

    #[test]
    fn stored_len_counts_block_headers() {
        assert_eq!(stored_body_len(0), 5);
        assert_eq!(stored_body_len(65_535), 65_540);
        assert_eq!(stored_body_len(65_536), 65_546);
    }
}
