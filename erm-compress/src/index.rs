//! The block index: where each member lives and what it holds.

use std::io;

use crate::error::corrupt;
use crate::format::{self, OVERHEAD, TRAILER_LEN};

/// Smallest block size: 4 KiB.
pub const MIN_BLOCK_SIZE: usize = 4 << 10;
/// Largest block size: 16 MiB.
pub const MAX_BLOCK_SIZE: usize = 16 << 20;
/// Default block size: 256 KiB.
pub const DEFAULT_BLOCK_SIZE: usize = 256 << 10;

/// One member of a blocked stream.
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
}

impl BlockInfo {
    /// Byte range of the member in the stream.
    pub fn range(&self) -> std::ops::Range<usize> {
        let start = self.offset as usize;
        start..start + self.len as usize
    }
}

/// The index of a blocked stream: block size and one [`BlockInfo`] per block.
///
/// Built while compressing or importing, or rebuilt from the bytes alone with
/// [`Index::rebuild`] (walking the headers' length fields, no inflating).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    block_size: usize,
    blocks: Vec<BlockInfo>,
}

impl Index {
    /// An empty index for `block_size` (already validated).
    pub(crate) fn new(block_size: usize) -> Index {
        Index {
            block_size,
            blocks: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, b: BlockInfo) {
        self.blocks.push(b);
    }

    pub(crate) fn append_shifted(&mut self, other: Index, by: u64) {
        self.blocks.extend(other.blocks.into_iter().map(|mut b| {
            b.offset += by;
            b
        }));
    }

    /// Uncompressed bytes per block (all blocks but the last are full).
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// The blocks, in stream order.
    pub fn blocks(&self) -> &[BlockInfo] {
        &self.blocks
    }

    /// Total uncompressed length.
    pub fn raw_len(&self) -> u64 {
        self.blocks.iter().map(|b| u64::from(b.raw_len)).sum()
    }

    /// Total length of the blocked stream.
    pub fn stream_len(&self) -> u64 {
        self.blocks.iter().map(|b| u64::from(b.len)).sum()
    }

    /// Rebuilds the index of a blocked stream from its bytes: reads each
    /// member's header for its length, jumps to its trailer for ISIZE, and
    /// moves on. Nothing is inflated.
    ///
    /// # Errors
    /// `InvalidData` if a header is not ours, lengths disagree, blocks are not
    /// full before the last, or the stream is truncated or has trailing bytes.
    pub fn rebuild(stream: &[u8]) -> io::Result<Index> {
        let mut at = 0usize;
        let mut index: Option<Index> = None;
        while at < stream.len() {
            let h = format::parse_header(&stream[at..])?;
            let len = h.member_len as usize;
            let block_size = h.block_size as usize;
            if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size) {
                return Err(corrupt("block size out of range"));
            }
            let member = stream
                .get(at..at + len)
                .ok_or_else(|| corrupt("truncated gzip member"))?;
            let trailer = member
                .last_chunk::<TRAILER_LEN>()
                .ok_or_else(|| corrupt("truncated gzip member"))?;
            let (_, isize) = format::read_trailer(trailer);
            if isize as usize > block_size || len > format::stored_body_len(block_size) + OVERHEAD {
                return Err(corrupt("gzip member larger than its block"));
            }
            let index = index.get_or_insert_with(|| Index::new(block_size));
            if index.block_size != block_size {
                return Err(corrupt("block size changes within the stream"));
            }
            if index
                .blocks
                .last()
                .is_some_and(|b| b.raw_len as usize != block_size)
            {
                return Err(corrupt("short block before the last"));
            }
            index.blocks.push(BlockInfo {
                offset: at as u64,
                len: h.member_len,
                raw_len: isize,
                stored: h.stored,
            });
            at += len;
        }
        index.ok_or_else(|| corrupt("empty stream"))
    }
}
