//! Decompression: members inflated straight into the caller's buffer.

use std::io;

use crate::backend::{Backend, Codec};
use crate::error::{corrupt, invalid};
use crate::format::{self, HEADER_LEN, TRAILER_LEN};
use crate::index::{BlockInfo, Index};
use crate::{copies, parallel};

/// Inflates blocked streams, reusing one codec (and one block of scratch,
/// only for partial-block reads).
pub struct Decompressor {
    codec: Box<dyn Codec>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor")
            .field("backend", &self.codec.backend())
            .finish()
    }
}

impl Decompressor {
    /// A decompressor over `backend` (any backend reads any member).
    ///
    /// # Errors
    /// `EPROTONOSUPPORT` if the backend was not built.
    pub fn new(backend: Backend) -> io::Result<Decompressor> {
        Ok(Decompressor {
            codec: backend.codec(0)?,
            scratch: Vec::new(),
        })
    }

    /// Inflates block `i` into `dst`, which must be exactly its `raw_len`
    /// long. The header is re-read and checked against the index, then the
    /// CRC-32 and ISIZE against the inflated bytes.
    ///
    /// # Errors
    /// `EINVAL` if `i` is out of range or `dst` has the wrong length;
    /// `InvalidData` if the member is corrupt or `stream` is too short.
    pub fn inflate_block(
        &mut self,
        stream: &[u8],
        index: &Index,
        i: usize,
        dst: &mut [u8],
    ) -> io::Result<()> {
        let b = index.blocks().get(i).ok_or_else(invalid)?;
        if dst.len() != b.raw_len as usize {
            return Err(invalid());
        }
        inflate_member(&mut *self.codec, stream, b, index.block_size(), dst)
    }

    /// Inflates the whole stream into `dst`, which must be exactly
    /// [`Index::raw_len`] long: each block straight into its place, no
    /// intermediate buffer.
    ///
    /// # Errors
    /// `EINVAL` if `dst` has the wrong length; `InvalidData` at the first
    /// corrupt block (earlier blocks are then already in `dst`).
    pub fn decompress_into(
        &mut self,
        stream: &[u8],
        index: &Index,
        dst: &mut [u8],
    ) -> io::Result<()> {
        if dst.len() as u64 != index.raw_len() {
            return Err(invalid());
        }
        inflate_run(&mut *self.codec, stream, index, index.blocks(), dst)
    }

    /// Like [`Decompressor::decompress_into`], on `threads` threads, each
    /// inflating a run of whole blocks into its own part of `dst`. Nothing is
    /// copied; the result is identical.
    ///
    /// # Errors
    /// As [`Decompressor::decompress_into`]; the first error in stream
    /// order wins.
    pub fn decompress_parallel(
        &mut self,
        stream: &[u8],
        index: &Index,
        dst: &mut [u8],
        threads: usize,
    ) -> io::Result<()> {
        if dst.len() as u64 != index.raw_len() {
            return Err(invalid());
        }
        let runs = parallel::runs(index.blocks().len(), threads);
        if runs.len() <= 1 {
            return self.decompress_into(stream, index, dst);
        }
        let backend = self.codec.backend();
        let mut codecs = (1..runs.len())
            .map(|_| backend.codec(0))
            .collect::<io::Result<Vec<_>>>()?;
        // Cut dst at run boundaries: every run but the last is whole blocks.
        let bs = index.block_size();
        let mut parts = Vec::with_capacity(runs.len());
        let mut rest = dst;
        for r in &runs[..runs.len() - 1] {
            let (part, tail) = rest.split_at_mut(r.len() * bs);
            parts.push(part);
            rest = tail;
        }
        parts.push(rest);
        let mut parts = parts.into_iter();
        let first = parts.next().expect("runs is not empty");
        let codec0 = &mut *self.codec;
        std::thread::scope(|s| {
            let handles: Vec<_> = runs[1..]
                .iter()
                .zip(parts)
                .zip(codecs.iter_mut())
                .map(|((run, part), codec)| {
                    let blocks = &index.blocks()[run.clone()];
                    s.spawn(move || inflate_run(&mut **codec, stream, index, blocks, part))
                })
                .collect();
            let head = inflate_run(
                codec0,
                stream,
                index,
                &index.blocks()[runs[0].clone()],
                first,
            );
            let rest: Vec<_> = handles.into_iter().map(parallel::join).collect();
            rest.into_iter().fold(head, |acc, r| acc.and(r))
        })
    }

    /// Random access: reads up to `dst.len()` uncompressed bytes from
    /// `offset`, inflating only the blocks that cover them; returns the
    /// number read (0 at or past the end).
    ///
    /// Blocks wholly inside the range are inflated straight into `dst`. A
    /// block the range only partly covers is inflated whole into a scratch
    /// block (its CRC covers all of it) and the wanted part copied out;
    /// those bytes are counted in [`copied_bytes`](crate::copied_bytes).
    ///
    /// # Errors
    /// `InvalidData` if a block in the range is corrupt.
    pub fn read_at(
        &mut self,
        stream: &[u8],
        index: &Index,
        offset: u64,
        dst: &mut [u8],
    ) -> io::Result<usize> {
        let total = index.raw_len();
        if offset >= total || dst.is_empty() {
            return Ok(0);
        }
        let n = (total - offset).min(dst.len() as u64) as usize;
        let offset = offset as usize;
        let bs = index.block_size();
        let (first, last) = (offset / bs, (offset + n - 1) / bs);
        for (i, b) in index.blocks()[first..=last].iter().enumerate() {
            let start = (first + i) * bs;
            let end = start + b.raw_len as usize;
            let (lo, hi) = (offset.max(start), (offset + n).min(end));
            let d = &mut dst[lo - offset..hi - offset];
            if lo == start && hi == end {
                inflate_member(&mut *self.codec, stream, b, bs, d)?;
            } else {
                self.scratch.resize(b.raw_len as usize, 0);
                inflate_member(&mut *self.codec, stream, b, bs, &mut self.scratch)?;
                d.copy_from_slice(&self.scratch[lo - start..hi - start]);
                copies::count(d.len());
            }
        }
        Ok(n)
    }
}

/// Inflates consecutive `blocks` of `index` into `dst` (exactly their total length).
fn inflate_run(
    codec: &mut dyn Codec,
    stream: &[u8],
    index: &Index,
    blocks: &[BlockInfo],
    dst: &mut [u8],
) -> io::Result<()> {
    let mut rest = dst;
    for b in blocks {
        let (d, tail) = rest
            .split_at_mut_checked(b.raw_len as usize)
            .ok_or_else(invalid)?;
        inflate_member(codec, stream, b, index.block_size(), d)?;
        rest = tail;
    }
    Ok(())
}

/// Inflates the member `b` of `stream` into `dst` (exactly `b.raw_len`
/// long), checking its header against the index and its CRC-32 and ISIZE.
pub(crate) fn inflate_member(
    codec: &mut dyn Codec,
    stream: &[u8],
    b: &BlockInfo,
    block_size: usize,
    dst: &mut [u8],
) -> io::Result<()> {
    let member = stream
        .get(b.range())
        .ok_or_else(|| corrupt("blocked stream is truncated"))?;
    let h = format::parse_header(member)?;
    if h.member_len != b.len || h.block_size as usize != block_size || h.stored != b.stored {
        return Err(corrupt("gzip member header disagrees with the index"));
    }
    let body_end = member
        .len()
        .checked_sub(TRAILER_LEN)
        .filter(|&e| e >= HEADER_LEN)
        .ok_or_else(|| corrupt("gzip member too short"))?;
    let trailer: &[u8; TRAILER_LEN] = member[body_end..]
        .try_into()
        .expect("slice is TRAILER_LEN long");
    let (crc, isize) = format::read_trailer(trailer);
    if isize != b.raw_len {
        return Err(corrupt("gzip member ISIZE disagrees with the index"));
    }
    let n = codec.inflate(&member[HEADER_LEN..body_end], dst)?;
    if n != dst.len() {
        return Err(corrupt("gzip member inflates to fewer bytes than ISIZE"));
    }
    if codec.crc32(dst) != crc {
        return Err(corrupt("gzip member CRC-32 mismatch"));
    }
    Ok(())
}
