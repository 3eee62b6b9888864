//! The index: where each member lives and which uncompressed bytes it holds.

use std::io;
use std::ops::Range;

use crate::error::corrupt;
use crate::format::{self, HOLE_MEMBER_LEN, OVERHEAD, TRAILER_LEN};

/// Smallest block size: 4 KiB.
pub const MIN_BLOCK_SIZE: usize = 4 << 10;
/// Largest block size: 16 MiB.
pub const MAX_BLOCK_SIZE: usize = 16 << 20;
/// Default block size: 256 KiB.
pub const DEFAULT_BLOCK_SIZE: usize = 256 << 10;
/// Longest uncompressed length of a stream: `i64::MAX` bytes (the largest
/// file size Linux has).
pub const MAX_RAW_LEN: u64 = i64::MAX as u64;

/// One data member of a blocked stream: one block of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// Offset of the member's first byte in the blocked stream.
    pub offset: u64,
    /// Length of the whole member (header, body, trailer) in bytes.
    pub len: u32,
    /// Uncompressed bytes in the block: the block size, less in the last block.
    pub raw_len: u32,
    /// The body is stored deflate (the block did not shrink).
    pub stored: bool,
    /// Offset of the block's first byte in the uncompressed data: a multiple
    /// of the block size. Without holes, block `i` starts at `i *
    /// block_size`; with holes, use this.
    pub raw_offset: u64,
}

impl BlockInfo {
    /// Byte range of the member in the stream.
    pub fn range(&self) -> Range<usize> {
        let start = self.offset as usize;
        start..start + self.len as usize
    }

    /// Uncompressed byte range of the block.
    pub fn raw_range(&self) -> Range<u64> {
        self.raw_offset..self.raw_offset + u64::from(self.raw_len)
    }
}

/// One hole member of a blocked stream: a run of zero bytes with no payload
/// (whole blocks, or the stream's tail), stored in a fixed 51-byte member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoleRun {
    /// Offset of the member's first byte in the blocked stream.
    pub offset: u64,
    /// Offset of the run's first byte in the uncompressed data (a multiple
    /// of the block size).
    pub raw_offset: u64,
    /// Zero bytes in the run (not 0; a multiple of the block size unless the
    /// run ends the stream).
    pub raw_len: u64,
}

impl HoleRun {
    /// Byte range of the member in the stream.
    pub fn range(&self) -> Range<usize> {
        let start = self.offset as usize;
        start..start + HOLE_MEMBER_LEN
    }

    /// Uncompressed byte range of the run.
    pub fn raw_range(&self) -> Range<u64> {
        self.raw_offset..self.raw_offset + self.raw_len
    }
}

/// One piece of the uncompressed data, in order: a data block to inflate or
/// a hole run to skip (or fill with zeros). See [`Index::segments`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Data block `index` of [`Index::blocks`], covering `raw`.
    Block {
        /// Position in [`Index::blocks`].
        index: usize,
        /// Its uncompressed byte range.
        raw: Range<u64>,
    },
    /// Hole run `index` of [`Index::holes`]: `raw` reads as zeros.
    Hole {
        /// Position in [`Index::holes`].
        index: usize,
        /// Its uncompressed byte range.
        raw: Range<u64>,
    },
}

impl Segment {
    /// The uncompressed byte range of the segment.
    pub fn raw(&self) -> Range<u64> {
        match self {
            Segment::Block { raw, .. } | Segment::Hole { raw, .. } => raw.clone(),
        }
    }

    /// Whether it is a hole run.
    pub fn is_hole(&self) -> bool {
        matches!(self, Segment::Hole { .. })
    }
}

/// The index of a blocked stream: block size, one [`BlockInfo`] per data
/// member and one [`HoleRun`] per hole member, each list in stream order.
///
/// Its size grows with the data members and hole runs, not with the
/// uncompressed length: a 1 TiB file with one data block has two entries.
/// [`Index::segments_in`] finds the members covering a byte range by
/// binary search on the uncompressed offsets.
///
/// Built while compressing or importing, or rebuilt from the bytes alone with
/// [`Index::rebuild`] (walking the headers' length fields, no inflating).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    block_size: usize,
    blocks: Vec<BlockInfo>,
    holes: Vec<HoleRun>,
    raw_len: u64,
    stream_len: u64,
}

impl Index {
    /// An empty index for `block_size` (already validated).
    pub(crate) fn new(block_size: usize) -> Index {
        Index {
            block_size,
            blocks: Vec::new(),
            holes: Vec::new(),
            raw_len: 0,
            stream_len: 0,
        }
    }

    /// Appends a data block; its offsets are the caller's.
    pub(crate) fn push(&mut self, b: BlockInfo) {
        self.raw_len += u64::from(b.raw_len);
        self.stream_len += u64::from(b.len);
        self.blocks.push(b);
    }

    /// Appends a hole run; its offsets are the caller's.
    pub(crate) fn push_hole(&mut self, h: HoleRun) {
        self.raw_len += h.raw_len;
        self.stream_len += HOLE_MEMBER_LEN as u64;
        self.holes.push(h);
    }

    /// Appends `other`, whose stream offsets start at `by` in this stream
    /// and whose uncompressed offsets start at this index's end.
    pub(crate) fn append_shifted(&mut self, other: Index, by: u64) {
        let raw = self.raw_len;
        for mut b in other.blocks {
            b.offset += by;
            b.raw_offset += raw;
            self.push(b);
        }
        for mut h in other.holes {
            h.offset += by;
            h.raw_offset += raw;
            self.push_hole(h);
        }
    }

    /// Uncompressed bytes per block (all data blocks but the last are full).
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// The data blocks, in stream order. Without holes
    /// ([`Index::has_holes`] false), block `i` starts at `i *
    /// block_size`; with holes, at its [`BlockInfo::raw_offset`].
    pub fn blocks(&self) -> &[BlockInfo] {
        &self.blocks
    }

    /// The hole runs, in stream order.
    pub fn holes(&self) -> &[HoleRun] {
        &self.holes
    }

    /// Whether the stream has any hole member.
    pub fn has_holes(&self) -> bool {
        !self.holes.is_empty()
    }

    /// Total uncompressed length (up to [`MAX_RAW_LEN`]), holes included.
    pub fn raw_len(&self) -> u64 {
        self.raw_len
    }

    /// Total length of the blocked stream.
    pub fn stream_len(&self) -> u64 {
        self.stream_len
    }

    /// Every data block and hole run, in order of their uncompressed bytes
    /// (which is also stream order).
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        Segments {
            index: self,
            block: 0,
            hole: 0,
            end: u64::MAX,
        }
    }

    /// The data blocks and hole runs that overlap `raw` (uncompressed
    /// offsets), in order; found by binary search, O(log n) to the first.
    pub fn segments_in(&self, raw: Range<u64>) -> impl Iterator<Item = Segment> + '_ {
        let start = raw.start;
        let block = self.blocks.partition_point(|b| b.raw_range().end <= start);
        let hole = self.holes.partition_point(|h| h.raw_range().end <= start);
        Segments {
            index: self,
            block,
            hole,
            end: if raw.is_empty() { 0 } else { raw.end },
        }
    }

    /// The data block or hole run holding uncompressed byte `offset`, if
    /// it is below [`Index::raw_len`].
    pub fn segment_at(&self, offset: u64) -> Option<Segment> {
        self.segments_in(offset..offset.saturating_add(1)).next()
    }

    /// Rebuilds the index of a blocked stream from its bytes: reads each
    /// member's header for its length, jumps to its trailer for ISIZE, and
    /// moves on. Nothing is inflated; hole members are checked whole (they
    /// are 51 bytes).
    ///
    /// # Errors
    /// `InvalidData` if a header is not ours, lengths disagree, blocks are not
    /// full before the last (data blocks and hole runs alike), a hole member
    /// has a payload, the total passes [`MAX_RAW_LEN`], or the stream is
    /// truncated or has trailing bytes.
    pub fn rebuild(stream: &[u8]) -> io::Result<Index> {
        let mut at = 0usize;
        let mut index: Option<Index> = None;
        // Whether the last member ended on a block boundary.
        let mut whole = true;
        while at < stream.len() {
            let h = format::parse_header(&stream[at..])?;
            let len = h.member_len as usize;
            let block_size = h.block_size as usize;
            if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size) {
                return Err(corrupt("block size out of range"));
            }
            let member = stream
                .get(at..at.saturating_add(len))
                .ok_or_else(|| corrupt("truncated gzip member"))?;
            let index = index.get_or_insert_with(|| Index::new(block_size));
            if index.block_size != block_size {
                return Err(corrupt("block size changes within the stream"));
            }
            if !whole {
                return Err(corrupt("short block before the last"));
            }
            let raw_offset = index.raw_len;
            if let Some(raw_len) = h.hole {
                format::check_hole(member)?;
                if raw_len > MAX_RAW_LEN - raw_offset {
                    return Err(corrupt("stream longer than i64::MAX bytes"));
                }
                whole = raw_len % block_size as u64 == 0;
                index.push_hole(HoleRun {
                    offset: at as u64,
                    raw_offset,
                    raw_len,
                });
            } else {
                let trailer = member
                    .last_chunk::<TRAILER_LEN>()
                    .ok_or_else(|| corrupt("truncated gzip member"))?;
                let (_, isize) = format::read_trailer(trailer);
                if isize as usize > block_size
                    || len > format::stored_body_len(block_size) + OVERHEAD
                {
                    return Err(corrupt("gzip member larger than its block"));
                }
                if u64::from(isize) > MAX_RAW_LEN - raw_offset {
                    return Err(corrupt("stream longer than i64::MAX bytes"));
                }
                whole = isize as usize == block_size;
                index.push(BlockInfo {
                    offset: at as u64,
                    len: h.member_len,
                    raw_len: isize,
                    stored: h.stored,
                    raw_offset,
                });
            }
            at += len;
        }
        index.ok_or_else(|| corrupt("empty stream"))
    }
}

/// The iterator of [`Index::segments`]: merges blocks and holes by offset.
struct Segments<'a> {
    index: &'a Index,
    block: usize,
    hole: usize,
    /// Stop at the first segment starting at or after this.
    end: u64,
}

impl Iterator for Segments<'_> {
    type Item = Segment;

    fn next(&mut self) -> Option<Segment> {
        let b = self.index.blocks.get(self.block);
        let h = self.index.holes.get(self.hole);
        let seg = match (b, h) {
            (Some(b), Some(h)) if h.raw_offset < b.raw_offset => self.take_hole(h),
            (Some(b), _) => {
                self.block += 1;
                Segment::Block {
                    index: self.block - 1,
                    raw: b.raw_range(),
                }
            }
            (None, Some(h)) => self.take_hole(h),
            (None, None) => return None,
        };
        (seg.raw().start < self.end).then_some(seg)
    }
}

impl Segments<'_> {
    fn take_hole(&mut self, h: &HoleRun) -> Segment {
        self.hole += 1;
        Segment::Hole {
            index: self.hole - 1,
            raw: h.raw_range(),
        }
    }
}
