//! Export: a blocked stream with hole members written as a standard gzip
//! stream, every hole spelt out as deflated zeros.

use std::io::{self, Write};

use crate::compress::{Options, push_block};
use crate::decompress::check_hole;
use crate::error::corrupt;
use crate::format;
use crate::index::{Index, Segment};

/// Zero members are written in batches of about this many bytes.
const BATCH: usize = 64 << 10;

/// Writes `stream` (indexed by `index`) to `out` as a gzip stream that any
/// gzip reader expands to the exact uncompressed bytes, zeros included;
/// returns the number of bytes written.
///
/// Data members are copied as they are (their header is checked against
/// the index; nothing is inflated). Each hole run becomes data members of
/// zeros: one block of zeros is deflated once per call, with `opts`'s
/// backend and level, and that member repeated for every whole block of
/// the run (plus one shorter member, deflated once, for a remainder), so a
/// long hole costs writes, not deflate work. `opts`'s block size is not
/// used: members keep the stream's block size.
///
/// The output is itself a blocked stream without holes ([`Index::rebuild`]
/// reads it); with the backend and level the data was compressed with, it
/// is byte-for-byte what [`Compressor::compress`](crate::Compressor::compress)
/// makes of the dense bytes. A stream without holes is written unchanged.
/// Its length grows with the holes: about 0.1% of a hole's length at the
/// default block size (deflate's ratio limit is about 1:1000).
///
/// `out` may be anything that takes bytes (a memfd as a `File`, a pipe, a
/// `Vec`); writes are one member or a batch of up to 64 KiB of zero members.
///
/// # Errors
/// `InvalidData` if a member disagrees with the index or the stream is
/// truncated; option errors as [`Compressor::new`](crate::Compressor::new);
/// `out`'s errors. What was written before an error stays written.
pub fn export<W: Write>(
    stream: &[u8],
    index: &Index,
    opts: Options,
    mut out: W,
) -> io::Result<u64> {
    let bs = index.block_size();
    let mut codec = None;
    // The zero members: (one whole block, repeated to a batch), and the remainder.
    let mut batch: Vec<u8> = Vec::new();
    let mut whole_len = 0;
    let mut written = 0u64;
    for seg in index.segments() {
        match seg {
            Segment::Block { index: i, .. } => {
                let b = &index.blocks()[i];
                let member = stream
                    .get(b.range())
                    .ok_or_else(|| corrupt("blocked stream is truncated"))?;
                let h = format::parse_header(member)?;
                if h.member_len != b.len || h.block_size as usize != bs || h.hole.is_some() {
                    return Err(corrupt("gzip member header disagrees with the index"));
                }
                out.write_all(member)?;
                written += member.len() as u64;
            }
            Segment::Hole { index: i, raw } => {
                check_hole(stream, index, &index.holes()[i])?;
                let codec = match &mut codec {
                    Some(c) => c,
                    None => codec.insert(opts.get_backend().codec(opts.get_level())?),
                };
                if batch.is_empty() {
                    let zeros = vec![0u8; bs];
                    push_block(&mut **codec, bs, &zeros, &mut batch, 0, 0)?;
                    whole_len = batch.len();
                    let copies = (BATCH / whole_len).max(1);
                    for _ in 1..copies {
                        batch.extend_from_within(..whole_len);
                    }
                }
                let len = raw.end - raw.start;
                let mut blocks = len / bs as u64;
                let per_batch = (batch.len() / whole_len) as u64;
                while blocks > 0 {
                    let n = blocks.min(per_batch);
                    // n <= per_batch, so the slice is within the batch.
                    let bytes = &batch[..n as usize * whole_len];
                    out.write_all(bytes)?;
                    written += bytes.len() as u64;
                    blocks -= n;
                }
                let rem = (len % bs as u64) as usize;
                if rem > 0 {
                    // Only the last run of a stream can end off a block boundary.
                    let mut member = Vec::new();
                    let zeros = vec![0u8; rem];
                    push_block(&mut **codec, bs, &zeros, &mut member, 0, 0)?;
                    out.write_all(&member)?;
                    written += member.len() as u64;
                }
            }
        }
    }
    Ok(written)
}
