//! Decompression: members inflated straight into the caller's buffer.

use std::io;
use std::ops::Range;

use crate::backend::{Backend, Codec};
use crate::error::{corrupt, invalid};
use crate::format::{self, HEADER_LEN, TRAILER_LEN};
use crate::index::{BlockInfo, HoleRun, Index, Segment};
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

    /// Inflates data block `i` (of [`Index::blocks`]: its bytes start at
    /// its [`raw_offset`](crate::BlockInfo::raw_offset)) into `dst`, which
    /// must be exactly its `raw_len` long. The header is re-read and checked against the index, then the
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
    /// intermediate buffer; hole runs are filled with zeros (use
    /// [`Decompressor::decompress_skip_holes`] to leave them untouched).
    ///
    /// # Errors
    /// `EINVAL` if `dst` has the wrong length; `InvalidData` if a hole
    /// member is damaged (nothing is written then) or at the first corrupt
    /// block (earlier blocks are then already in `dst`).
    pub fn decompress_into(
        &mut self,
        stream: &[u8],
        index: &Index,
        dst: &mut [u8],
    ) -> io::Result<()> {
        self.decompress(stream, index, dst, 1, true)
    }

    /// Like [`Decompressor::decompress_into`], but the bytes of `dst` under
    /// hole runs are never touched: for a destination that already reads
    /// as zeros (a fresh anonymous mapping, whose untouched pages cost no
    /// memory), so inflating a sparse file commits memory for its data
    /// blocks only. Hole members are still checked.
    ///
    /// # Errors
    /// As [`Decompressor::decompress_into`].
    pub fn decompress_skip_holes(
        &mut self,
        stream: &[u8],
        index: &Index,
        dst: &mut [u8],
    ) -> io::Result<()> {
        self.decompress(stream, index, dst, 1, false)
    }

    /// Like [`Decompressor::decompress_into`], on `threads` threads, each
    /// inflating a run of data blocks (and zeroing the holes between them)
    /// into its own part of `dst`. Nothing is copied; the result is identical.
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
        self.decompress(stream, index, dst, threads, true)
    }

    /// [`Decompressor::decompress_skip_holes`] on `threads` threads, as
    /// [`Decompressor::decompress_parallel`].
    ///
    /// # Errors
    /// As [`Decompressor::decompress_into`]; the first error in stream
    /// order wins.
    pub fn decompress_parallel_skip_holes(
        &mut self,
        stream: &[u8],
        index: &Index,
        dst: &mut [u8],
        threads: usize,
    ) -> io::Result<()> {
        self.decompress(stream, index, dst, threads, false)
    }

    /// Visits the whole stream in order without a destination of its size
    /// (any length, up to [`MAX_RAW_LEN`](crate::MAX_RAW_LEN)): each data
    /// block is inflated into one block of scratch and passed as
    /// `f(raw_range, Some(bytes))`; each hole run, after its member is
    /// checked, as `f(raw_range, None)`, for the caller to skip. For
    /// writing a sparse file into a memfd at its offsets (holes skipped),
    /// or any other sink. Nothing is copied.
    ///
    /// # Errors
    /// `InvalidData` at the first damaged member (the ones before it were
    /// visited); `f`'s first error stops the walk and is returned.
    pub fn for_each_segment(
        &mut self,
        stream: &[u8],
        index: &Index,
        mut f: impl FnMut(Range<u64>, Option<&[u8]>) -> io::Result<()>,
    ) -> io::Result<()> {
        let bs = index.block_size();
        for seg in index.segments() {
            match seg {
                Segment::Block { index: i, raw } => {
                    let b = &index.blocks()[i];
                    self.scratch.resize(b.raw_len as usize, 0);
                    inflate_member(&mut *self.codec, stream, b, bs, &mut self.scratch)?;
                    f(raw, Some(&self.scratch))?;
                }
                Segment::Hole { index: i, raw } => {
                    check_hole(stream, index, &index.holes()[i])?;
                    f(raw, None)?;
                }
            }
        }
        Ok(())
    }

    /// The whole-stream inflate, on up to `threads` threads.
    fn decompress(
        &mut self,
        stream: &[u8],
        index: &Index,
        dst: &mut [u8],
        threads: usize,
        zero_holes: bool,
    ) -> io::Result<()> {
        if dst.len() as u64 != index.raw_len() {
            return Err(invalid());
        }
        for h in index.holes() {
            check_hole(stream, index, h)?;
        }
        let blocks = index.blocks();
        let runs = parallel::runs(blocks.len(), threads);
        if runs.len() <= 1 {
            return inflate_run(&mut *self.codec, stream, index, blocks, dst, 0, zero_holes);
        }
        let backend = self.codec.backend();
        let mut codecs = (1..runs.len())
            .map(|_| backend.codec(0))
            .collect::<io::Result<Vec<_>>>()?;
        // Cut dst where each run's first block starts (the first part also
        // takes any leading hole, each part the holes after its blocks).
        let mut parts = Vec::with_capacity(runs.len());
        let mut rest = dst;
        let mut at = 0u64;
        for r in &runs[1..] {
            let cut = blocks[r.start].raw_offset;
            let len = cut.checked_sub(at).ok_or_else(invalid)?;
            let len = usize::try_from(len).map_err(|_| invalid())?;
            let (part, tail) = rest.split_at_mut_checked(len).ok_or_else(invalid)?;
            parts.push((part, at));
            rest = tail;
            at = cut;
        }
        parts.push((rest, at));
        let mut parts = parts.into_iter();
        let (first, _) = parts.next().ok_or_else(invalid)?;
        let codec0 = &mut *self.codec;
        std::thread::scope(|s| {
            let handles: Vec<_> = runs[1..]
                .iter()
                .zip(parts)
                .zip(codecs.iter_mut())
                .map(|((run, (part, at)), codec)| {
                    let blocks = &blocks[run.clone()];
                    s.spawn(move || {
                        inflate_run(&mut **codec, stream, index, blocks, part, at, zero_holes)
                    })
                })
                .collect();
            let head = inflate_run(
                codec0,
                stream,
                index,
                &blocks[runs[0].clone()],
                first,
                0,
                zero_holes,
            );
            let rest: Vec<_> = handles.into_iter().map(parallel::join).collect();
            rest.into_iter().fold(head, |acc, r| acc.and(r))
        })
    }

    /// Random access: reads up to `dst.len()` uncompressed bytes from
    /// `offset`, inflating only the blocks that cover them; returns the
    /// number read (0 at or past the end). Bytes in hole runs read as zeros
    /// (after their member is checked); blocks are found by binary search.
    ///
    /// Blocks wholly inside the range are inflated straight into `dst`. A
    /// block the range only partly covers is inflated whole into a scratch
    /// block (its CRC covers all of it) and the wanted part copied out;
    /// those bytes are counted in [`copied_bytes`](crate::copied_bytes).
    ///
    /// # Errors
    /// `InvalidData` if a member in the range is corrupt.
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
        let end = offset + n as u64;
        let bs = index.block_size();
        for seg in index.segments_in(offset..end) {
            let raw = seg.raw();
            let (lo, hi) = (offset.max(raw.start), end.min(raw.end));
            // Both lie within offset..offset + n, and n fits a usize.
            let d = &mut dst[(lo - offset) as usize..(hi - offset) as usize];
            match seg {
                Segment::Hole { index: i, .. } => {
                    check_hole(stream, index, &index.holes()[i])?;
                    d.fill(0);
                }
                Segment::Block { index: i, .. } => {
                    let b = &index.blocks()[i];
                    if lo == raw.start && hi == raw.end {
                        inflate_member(&mut *self.codec, stream, b, bs, d)?;
                    } else {
                        self.scratch.resize(b.raw_len as usize, 0);
                        inflate_member(&mut *self.codec, stream, b, bs, &mut self.scratch)?;
                        let from = (lo - raw.start) as usize;
                        d.copy_from_slice(&self.scratch[from..from + d.len()]);
                        copies::count(d.len());
                    }
                }
            }
        }
        Ok(n)
    }
}

/// Inflates consecutive data `blocks` of `index` into `dst`, which holds the
/// uncompressed bytes from `dst_start` on and ends where the next block
/// (or the stream) starts; the gaps are holes, zeroed if `zero_holes`.
fn inflate_run(
    codec: &mut dyn Codec,
    stream: &[u8],
    index: &Index,
    blocks: &[BlockInfo],
    dst: &mut [u8],
    dst_start: u64,
    zero_holes: bool,
) -> io::Result<()> {
    let mut rest = dst;
    let mut at = dst_start;
    for b in blocks {
        let gap = b.raw_offset.checked_sub(at).ok_or_else(invalid)?;
        let gap = usize::try_from(gap).map_err(|_| invalid())?;
        let (hole, tail) = rest.split_at_mut_checked(gap).ok_or_else(invalid)?;
        if zero_holes {
            hole.fill(0);
        }
        let (d, tail) = tail
            .split_at_mut_checked(b.raw_len as usize)
            .ok_or_else(invalid)?;
        inflate_member(codec, stream, b, index.block_size(), d)?;
        rest = tail;
        at = b.raw_offset + u64::from(b.raw_len);
    }
    if zero_holes {
        rest.fill(0);
    }
    Ok(())
}

/// Checks the hole member `h` of `stream` against the index.
pub(crate) fn check_hole(stream: &[u8], index: &Index, h: &HoleRun) -> io::Result<()> {
    let member = stream
        .get(h.range())
        .ok_or_else(|| corrupt("blocked stream is truncated"))?;
    let head = format::check_hole(member)?;
    if head.hole != Some(h.raw_len) || head.block_size as usize != index.block_size() {
        return Err(corrupt("gzip hole member disagrees with the index"));
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
    if h.member_len != b.len
        || h.block_size as usize != block_size
        || h.stored != b.stored
        || h.hole.is_some()
    {
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
