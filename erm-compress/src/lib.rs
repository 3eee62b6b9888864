//! Blocked multi-member gzip: one standard gzip member per fixed-size block.
//!
//! A byte range is cut into blocks of a fixed uncompressed size (256 KiB by
//! default, 4 KiB to 16 MiB) and each block becomes one independent gzip
//! member. Concatenated, the members are one valid gzip stream that `gunzip`,
//! `zcat`, `pigz -d` and `bgzip -d` read. Each member's header carries its own
//! length in an FEXTRA subfield with id `"ER"` ([`SUBFIELD_ID`] documents
//! the header byte by byte), so the [`Index`] can be rebuilt from the
//! bytes by walking headers without inflating. A block that does not shrink
//! is stored as a stored-deflate member and flagged, so a stream is never
//! larger than its data plus about 50 bytes per block. Because blocks are
//! independent, they can be inflated one at a time (random access) or on
//! several threads.
//!
//! **Sparse data.** A run of whole blocks of zeros (a hole) is ONE member
//! with no payload, whatever its length (up to [`MAX_RAW_LEN`], i64::MAX):
//! a valid, empty gzip member whose subfield flags a hole and carries the
//! run's length. The [`Index`] holds data blocks and hole runs, not one entry
//! per block, so a 1 TiB file with 4 KiB of data is two members (its data
//! block deflated plus 51 bytes) and compresses in under a millisecond
//! ([`Compressor::compress_sparse`]). A plain `gunzip` reads a hole member
//! as nothing: [`export`] writes the standard form with the zeros deflated.
//!
//! ```
//! use erm_compress::{Compressor, Decompressor, Options, Segment};
//!
//! let head = b"a 1 TiB file, with data only here".repeat(100);
//! let total = 1u64 << 40;
//! let mut comp = Compressor::new(Options::new())?;
//! let mut stream = Vec::new();
//! let extents = [0..head.len() as u64];
//! let index = comp.compress_sparse(total, &head, &extents, &mut stream, |_| Ok(()))?;
//! assert_eq!((index.blocks().len(), index.holes().len()), (1, 1));
//! assert!(stream.len() < 500); // the data block deflated, then a 51-byte hole
//! assert!(matches!(index.segment_at(total / 2), Some(Segment::Hole { .. })));
//!
//! let mut dec = Decompressor::new(comp.options().get_backend())?;
//! let mut page = [1u8; 4096];
//! dec.read_at(&stream, &index, total - 4096, &mut page)?;
//! assert!(page.iter().all(|&b| b == 0));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Provided:
//! - [`Compressor`] with [`Options`]: streaming block-by-block compression
//!   from a `&[u8]` straight into the caller's `Vec`, a callback after each
//!   block so its source pages can be released at once
//!   ([`Compressor::compress`]), and the multicore forms
//!   ([`Compressor::compress_parallel`], identical bytes in one buffer;
//!   [`Compressor::compress_parallel_parts`], the same bytes left in one
//!   [`Part`] per thread, with no copy at all);
//! - sparse compression: [`Compressor::compress_sparse`] and
//!   [`Compressor::compress_sparse_parallel`] take the total length, the
//!   mapped prefix and the extents that may hold data; holes cost nothing;
//! - [`Decompressor`]: inflate into a caller `&mut [u8]` with no intermediate
//!   buffer ([`Decompressor::decompress_into`], multicore
//!   [`Decompressor::decompress_parallel`]), one block
//!   ([`Decompressor::inflate_block`]) or any byte range
//!   ([`Decompressor::read_at`]); holes read as zeros, or are left untouched
//!   in the destination ([`Decompressor::decompress_skip_holes`],
//!   [`Decompressor::decompress_parallel_skip_holes`]), or are reported
//!   for the caller to skip ([`Decompressor::for_each_segment`]);
//! - [`import`]: any standard gzip stream (gzip, pigz, bgzip, one member or
//!   many) re-cut into the blocked form, hole members kept as holes;
//!   [`import_sparse`] also turns all-zero blocks into holes;
//! - [`export`]: a blocked stream with holes as a standard gzip stream;
//! - [`Index`] and [`Index::rebuild`]; [`BlockInfo`] per data member,
//!   [`HoleRun`] per hole member, [`Segment`]s in order
//!   ([`Index::segments`], [`Index::segments_in`] by binary search);
//! - [`Backend`] and the [`Codec`] trait: zlib (`zlib` feature, libz-sys),
//!   zlib-ng (`zlib-ng` feature, libz-ng-sys: its `zng_` API links beside
//!   zlib, so all features combine) and libdeflate (`libdeflate` feature);
//! - [`copied_bytes`]: the per-thread count of bytes copied besides the
//!   deflate/inflate passes (0 on compress, decompress and whole-block reads).
//!
//! Every inflate checks the member header against the index, then CRC-32
//! and ISIZE. Corrupt or truncated input gives an `io::Error` of kind
//! `InvalidData`, never a panic; the stream bytes are never written.
//!
//! ```
//! use erm_compress::{Compressor, Decompressor, Index, Options};
//!
//! let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
//! let mut comp = Compressor::new(Options::new().block_size(64 << 10))?;
//! let mut stream = Vec::new();
//! let mut released = 0;
//! let index = comp.compress(&data, &mut stream, |range| {
//!     released += range.len(); // e.g. madvise(MADV_DONTNEED) this range
//!     Ok(())
//! })?;
//! assert_eq!(released, data.len());
//! assert!(stream.len() < data.len() / 10);
//! assert_eq!(Index::rebuild(&stream)?, index);
//!
//! let mut dec = Decompressor::new(comp.options().get_backend())?;
//! let mut back = vec![0u8; data.len()];
//! dec.decompress_into(&stream, &index, &mut back)?;
//! assert_eq!(back, data);
//!
//! let mut page = [0u8; 4096];
//! dec.read_at(&stream, &index, 500_000, &mut page)?;
//! assert_eq!(page[..], data[500_000..504_096]);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Limitations
//! - Block payloads are at most 16 MiB, so ISIZE is exact; members of a
//!   foreign stream may be any size, import re-cuts them.
//! - [`import`] needs a streaming inflater (`zlib` or `zlib-ng` feature).
//! - [`Compressor::compress_parallel`] appends the members of every thread
//!   but the first after it: one copy of that part of the compressed output
//!   (counted). [`Compressor::compress_parallel_parts`] avoids it by leaving
//!   the stream in parts. Decompression is copy-free on every thread.
//! - Like any gzip reader, the padding bits after a member's last deflate
//!   block are not covered by the CRC; with libdeflate, bytes after the end
//!   of a member's deflate stream are not detected either (zlib rejects them).
//! - No dictionary sharing between blocks: at 256 KiB blocks the output is
//!   about 1% larger than one deflate stream (see BENCHMARKS.md).

mod backend;
mod compress;
mod copies;
mod decompress;
mod error;
mod export;
mod format;
mod import;
mod index;
mod parallel;
mod sparse;

pub use backend::{Backend, Codec, DEFAULT_LEVEL};
pub use compress::{Compressor, Options, Part};
pub use copies::copied_bytes;
pub use decompress::Decompressor;
pub use export::export;
pub use format::SUBFIELD_ID;
pub use import::{import, import_sparse};
pub use index::{
    BlockInfo, DEFAULT_BLOCK_SIZE, HoleRun, Index, MAX_BLOCK_SIZE, MAX_RAW_LEN, MIN_BLOCK_SIZE,
    Segment,
};
