//! Sparse compression: hole runs for blocks known or found to be zero,
//! deflated members for the rest, on one thread or several.

use std::io;
use std::ops::Range;

use crate::backend::Codec;
use crate::compress::{Options, push_block};
use crate::error::invalid;
use crate::format;
use crate::index::{BlockInfo, HoleRun, Index, MAX_RAW_LEN};
use crate::{copies, parallel};

/// A sparse file to compress (see [`crate::Compressor::compress_sparse`]).
#[derive(Clone, Copy)]
pub(crate) struct Input<'a> {
    pub(crate) total: u64,
    pub(crate) src: &'a [u8],
    pub(crate) extents: &'a [Range<u64>],
}

/// Writes members in uncompressed order, keeping the zeros seen last as a
/// pending hole so that consecutive hole blocks become one hole member.
pub(crate) struct SparseOut<'a> {
    out: &'a mut Vec<u8>,
    base: usize,
    index: Index,
    /// Uncompressed bytes described so far, the pending hole included.
    cursor: u64,
    /// Zero bytes at the end of `cursor` not yet written as a hole member.
    pending: u64,
}

impl<'a> SparseOut<'a> {
    /// A writer appending to `out` (offsets count from its current end).
    pub(crate) fn new(out: &'a mut Vec<u8>, block_size: usize) -> SparseOut<'a> {
        SparseOut {
            base: out.len(),
            out,
            index: Index::new(block_size),
            cursor: 0,
            pending: 0,
        }
    }

    /// Uncompressed bytes described so far.
    pub(crate) fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Zeros from the cursor up to `end` (not below the cursor).
    pub(crate) fn hole_to(&mut self, end: u64) {
        debug_assert!(end >= self.cursor);
        self.pending += end.saturating_sub(self.cursor);
        self.cursor = self.cursor.max(end);
    }

    /// Writes the pending hole, if any, as one hole member.
    fn flush(&mut self) {
        if self.pending == 0 {
            return;
        }
        let offset = (self.out.len() - self.base) as u64;
        let bs = self.index.block_size() as u32;
        format::write_hole(self.out, bs, self.pending);
        self.index.push_hole(HoleRun {
            offset,
            raw_offset: self.cursor - self.pending,
            raw_len: self.pending,
        });
        self.pending = 0;
    }

    /// Deflates `raw` (one block, starting at the cursor, which is on a
    /// block boundary) as a data member.
    pub(crate) fn deflate(&mut self, codec: &mut dyn Codec, raw: &[u8]) -> io::Result<()> {
        self.flush();
        let bs = self.index.block_size();
        let b = push_block(codec, bs, raw, self.out, self.base, self.cursor)?;
        self.index.push(b);
        self.cursor += raw.len() as u64;
        Ok(())
    }

    /// Appends a data member deflated elsewhere (`b.raw_offset` is the cursor).
    fn copy_member(&mut self, member: &[u8], mut b: BlockInfo) {
        self.flush();
        debug_assert_eq!(b.raw_offset, self.cursor);
        b.offset = (self.out.len() - self.base) as u64;
        self.out.extend_from_slice(member);
        copies::count(member.len());
        self.cursor += u64::from(b.raw_len);
        self.index.push(b);
    }

    /// Zeros up to `total`, then the index. A stream of nothing gets one
    /// empty data member (a valid gzip stream).
    pub(crate) fn finish(mut self, codec: &mut dyn Codec, total: u64) -> io::Result<Index> {
        self.hole_to(total);
        self.flush();
        if self.index.blocks().is_empty() && !self.index.has_holes() {
            self.deflate(codec, &[])?;
        }
        Ok(self.index)
    }
}

/// Whether `b` is all zero bytes (vectorised: OR-folds 256-byte chunks).
pub(crate) fn is_zero(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(256);
    chunks.all(|c| c.iter().fold(0u8, |a, &x| a | x) == 0)
        && chunks.remainder().iter().all(|&x| x == 0)
}

/// Checks `input` and returns the blocks to read: merged runs of block
/// indices meeting an extent within the mapped prefix.
fn plan(input: Input<'_>, bs: u64) -> io::Result<Vec<Range<u64>>> {
    if input.total > MAX_RAW_LEN {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    }
    let mapped = input.src.len() as u64;
    if mapped > input.total {
        return Err(invalid());
    }
    let mut runs: Vec<Range<u64>> = Vec::new();
    let mut last_start = 0;
    for e in input.extents {
        if e.start < last_start {
            return Err(invalid());
        }
        last_start = e.start;
        let (s, t) = (e.start.min(mapped), e.end.min(mapped));
        if s >= t {
            continue;
        }
        let r = s / bs..t.div_ceil(bs);
        match runs.last_mut() {
            Some(l) if r.start <= l.end => l.end = l.end.max(r.end),
            _ => runs.push(r),
        }
    }
    Ok(runs)
}

/// Where a block to deflate goes: `(codec, raw_offset, bytes)`.
type Sink<'a> = dyn FnMut(&mut dyn Codec, u64, &[u8]) -> io::Result<()> + 'a;

/// Reads the blocks of `share` in order: a zero block is skipped, any other
/// goes to `sink(codec, raw_offset, bytes)`; `on_block` follows each.
fn each_block(
    codec: &mut dyn Codec,
    bs: u64,
    input: Input<'_>,
    share: &[Range<u64>],
    on_block: &mut dyn FnMut(Range<usize>) -> io::Result<()>,
    sink: &mut Sink<'_>,
) -> io::Result<()> {
    let mapped = input.src.len() as u64;
    let mut scratch = Vec::new();
    for i in share.iter().flat_map(Clone::clone) {
        let start = i * bs;
        let end = (start + bs).min(input.total);
        // Planned blocks start inside `src`, which fits in memory.
        let in_src = start as usize..end.min(mapped) as usize;
        let bytes = &input.src[in_src.clone()];
        if !is_zero(bytes) {
            if in_src.len() as u64 == end - start {
                sink(codec, start, bytes)?;
            } else {
                // The block straddles the end of `src`: its tail is zeros.
                scratch.clear();
                scratch.extend_from_slice(bytes);
                scratch.resize((end - start) as usize, 0);
                copies::count(bytes.len());
                sink(codec, start, &scratch)?;
            }
        }
        on_block(in_src)?;
    }
    Ok(())
}

/// One thread's sparse compression into `out`.
pub(crate) fn compress(
    codec: &mut dyn Codec,
    opts: &Options,
    input: Input<'_>,
    out: &mut Vec<u8>,
    on_block: &mut dyn FnMut(Range<usize>) -> io::Result<()>,
) -> io::Result<Index> {
    let bs = opts.get_block_size();
    let runs = plan(input, bs as u64)?;
    let mut w = SparseOut::new(out, bs);
    each_block(
        codec,
        bs as u64,
        input,
        &runs,
        on_block,
        &mut |codec, start, raw| {
            w.hole_to(start);
            w.deflate(codec, raw)
        },
    )?;
    w.finish(codec, input.total)
}

/// The blocks at flattened positions `flat` of `runs`, as runs.
fn cut(runs: &[Range<u64>], flat: &Range<usize>) -> Vec<Range<u64>> {
    let (fs, fe) = (flat.start as u64, flat.end as u64);
    let mut out = Vec::new();
    let mut pos = 0u64;
    for r in runs {
        let (lo, hi) = (pos, pos + (r.end - r.start));
        let (s, e) = (lo.max(fs), hi.min(fe));
        if s < e {
            out.push(r.start + (s - lo)..r.start + (e - lo));
        }
        pos = hi;
    }
    out
}

/// Sparse compression with the blocks to read shared out over `threads`.
pub(crate) fn compress_parallel(
    codec0: &mut dyn Codec,
    opts: &Options,
    input: Input<'_>,
    out: &mut Vec<u8>,
    threads: usize,
    on_block: &(dyn Fn(Range<usize>) -> io::Result<()> + Sync),
) -> io::Result<Index> {
    let bs = opts.get_block_size();
    let runs = plan(input, bs as u64)?;
    let count: u64 = runs.iter().map(|r| r.end - r.start).sum();
    // The planned blocks lie in `src`, so their count fits a usize.
    let shares = parallel::runs(count as usize, threads);
    if shares.len() <= 1 {
        let mut f = |r| on_block(r);
        return compress(codec0, opts, input, out, &mut f);
    }
    let mut codecs = (1..shares.len())
        .map(|_| opts.get_backend().codec(opts.get_level()))
        .collect::<io::Result<Vec<_>>>()?;
    let shares: Vec<_> = shares.iter().map(|f| cut(&runs, f)).collect();
    let bs64 = bs as u64;
    let mut w = SparseOut::new(out, bs);
    let (head, rest) = std::thread::scope(|s| {
        let handles: Vec<_> = shares[1..]
            .iter()
            .zip(codecs.iter_mut())
            .map(|(share, codec)| {
                s.spawn(move || {
                    let mut part = Vec::new();
                    let mut blocks = Vec::new();
                    let mut f = |r| on_block(r);
                    each_block(
                        &mut **codec,
                        bs64,
                        input,
                        share,
                        &mut f,
                        &mut |codec, start, raw| {
                            blocks.push(push_block(codec, bs, raw, &mut part, 0, start)?);
                            Ok(())
                        },
                    )
                    .map(|()| (part, blocks))
                })
            })
            .collect();
        let mut f = |r| on_block(r);
        let head = each_block(
            &mut *codec0,
            bs64,
            input,
            &shares[0],
            &mut f,
            &mut |codec, start, raw| {
                w.hole_to(start);
                w.deflate(codec, raw)
            },
        );
        let rest: Vec<_> = handles.into_iter().map(parallel::join).collect();
        (head, rest)
    });
    head?;
    for part in rest {
        let (bytes, blocks) = part?;
        for b in blocks {
            let member = bytes.get(b.range()).ok_or_else(invalid)?;
            w.hole_to(b.raw_offset);
            w.copy_member(member, b);
        }
    }
    w.finish(codec0, input.total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_check() {
        assert!(is_zero(&[]));
        assert!(is_zero(&[0; 1000]));
        for at in [0, 255, 256, 999] {
            let mut v = vec![0u8; 1000];
            v[at] = 1;
            assert!(!is_zero(&v), "{at}");
        }
    }

    #[test]
    fn cut_shares_flattened_blocks() {
        let runs = [2..5, 10..12, 20..21];
        assert_eq!(cut(&runs, &(0..6)), vec![2..5, 10..12, 20..21]);
        assert_eq!(cut(&runs, &(1..4)), vec![3..5, 10..11]);
        assert_eq!(cut(&runs, &(4..6)), vec![11..12, 20..21]);
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn plan_merges_and_clamps() {
        let src = [1u8; 10_000];
        let input = |e: &'static [Range<u64>]| Input {
            total: 1 << 40,
            src: &src,
            extents: e,
        };
        assert_eq!(plan(input(&[0..1, 100..5000]), 4096).unwrap(), vec![0..2]);
        assert_eq!(plan(input(&[9000..1 << 30]), 4096).unwrap(), vec![2..3]);
        assert_eq!(plan(input(&[20_000..30_000]), 4096).unwrap(), vec![]);
        assert!(plan(input(&[5..6, 0..1]), 4096).is_err());
    }
}
