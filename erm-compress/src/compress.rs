//! Compression: one member per block, deflated straight into the caller's `Vec`.

use std::io;
use std::ops::Range;

use crate::backend::{Backend, Codec, DEFAULT_LEVEL};
use crate::error::invalid;
use crate::format::{self, HEADER_LEN, OVERHEAD, TRAILER_LEN};
use crate::index::{BlockInfo, DEFAULT_BLOCK_SIZE, Index, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE};
use crate::{copies, parallel, sparse};

/// How to compress: block size, level, backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    block_size: usize,
    level: u32,
    backend: Backend,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            block_size: DEFAULT_BLOCK_SIZE,
            level: DEFAULT_LEVEL,
            backend: Backend::default(),
        }
    }
}

impl Options {
    /// Defaults: 256 KiB blocks, [`DEFAULT_LEVEL`], [`Backend::default`].
    pub fn new() -> Options {
        Options::default()
    }

    /// Uncompressed bytes per block, [`MIN_BLOCK_SIZE`]..=[`MAX_BLOCK_SIZE`]
    /// (checked by [`Compressor::new`]).
    pub fn block_size(mut self, block_size: usize) -> Options {
        self.block_size = block_size;
        self
    }

    /// Compression level, 0..=[`Backend::max_level`].
    pub fn level(mut self, level: u32) -> Options {
        self.level = level;
        self
    }

    /// Which deflate library to use.
    pub fn backend(mut self, backend: Backend) -> Options {
        self.backend = backend;
        self
    }

    /// The block size set.
    pub fn get_block_size(&self) -> usize {
        self.block_size
    }

    /// The level set.
    pub fn get_level(&self) -> u32 {
        self.level
    }

    /// The backend set.
    pub fn get_backend(&self) -> Backend {
        self.backend
    }
}

/// One piece of a stream compressed on several threads: its bytes (whole
/// gzip members) and their index ([`Compressor::compress_parallel_parts`]).
pub type Part = (Vec<u8>, Index);

/// Compresses byte ranges into blocked gzip, reusing one codec.
pub struct Compressor {
    opts: Options,
    codec: Box<dyn Codec>,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("opts", &self.opts)
            .finish()
    }
}

impl Compressor {
    /// A compressor for `opts`.
    ///
    /// # Errors
    /// `EINVAL` for a block size or level out of range, `EPROTONOSUPPORT`
    /// for a backend not built.
    pub fn new(opts: Options) -> io::Result<Compressor> {
        if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&opts.block_size) {
            return Err(invalid());
        }
        let codec = opts.backend.codec(opts.level)?;
        Ok(Compressor { opts, codec })
    }

    /// The options this compressor was made with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Compresses `src` block by block, appending the members to `out`, and
    /// calls `on_block(range)` after each block with the range of `src` it
    /// came from: that range is never read again, so the caller may release
    /// its pages at once. Each member is deflated directly into `out`'s
    /// spare room (no copy); extra memory is `out`'s growth only.
    ///
    /// Returns the index; its offsets count from where `out` ended before
    /// the call. An empty `src` gives one empty member (a valid gzip stream).
    ///
    /// # Errors
    /// The backend's errors, or `on_block`'s; `out` is then restored to its
    /// length before the call.
    pub fn compress(
        &mut self,
        src: &[u8],
        out: &mut Vec<u8>,
        mut on_block: impl FnMut(Range<usize>) -> io::Result<()>,
    ) -> io::Result<Index> {
        let base = out.len();
        let result = compress_with(&mut *self.codec, &self.opts, src, 0, out, &mut on_block);
        if result.is_err() {
            out.truncate(base);
        }
        result
    }

    /// Like [`Compressor::compress`], on `threads` threads (std scoped
    /// threads, each with its own codec). The input is cut into one run of
    /// whole blocks per thread; the output is byte-for-byte what
    /// [`Compressor::compress`] writes. `on_block` is called from the worker
    /// threads, in order within each run.
    ///
    /// The first run deflates straight into `out`; each other run's members
    /// are appended after it, which is counted in [`copied_bytes`] (about
    /// `(threads-1)/threads` of the compressed size).
    ///
    /// # Errors
    /// As [`Compressor::compress`]; the first error in stream order wins.
    ///
    /// [`copied_bytes`]: crate::copied_bytes
    pub fn compress_parallel(
        &mut self,
        src: &[u8],
        out: &mut Vec<u8>,
        threads: usize,
        on_block: impl Fn(Range<usize>) -> io::Result<()> + Sync,
    ) -> io::Result<Index> {
        let base = out.len();
        let result = self.compress_parallel_inner(src, out, threads, &on_block);
        if result.is_err() {
            out.truncate(base);
        }
        result
    }

    fn compress_parallel_inner(
        &mut self,
        src: &[u8],
        out: &mut Vec<u8>,
        threads: usize,
        on_block: &(dyn Fn(Range<usize>) -> io::Result<()> + Sync),
    ) -> io::Result<Index> {
        let base = out.len();
        // The first run is deflated straight into the caller's buffer.
        let (mut index, rest) = self.parts_inner(src, threads, on_block, out)?;
        for (bytes, part_index) in rest {
            index.append_shifted(part_index, (out.len() - base) as u64);
            out.extend_from_slice(&bytes);
            copies::count(bytes.len());
        }
        Ok(index)
    }

    /// The copy-free multicore form: compresses `src` on `threads` threads
    /// and returns one `(stream, index)` part per thread, in order, without
    /// joining them. Each part is a valid gzip stream of its own (whole
    /// members); the parts concatenated are byte-for-byte what
    /// [`Compressor::compress`] writes. Each part's index describes that part
    /// alone, as if it were a whole stream: every part but the last holds a
    /// whole number of blocks, and part `i` starts in `src` at the sum of the
    /// earlier parts' [`Index::raw_len`]. A caller that can keep a stream in pieces (a file store) pays
    /// no copy at all, where [`Compressor::compress_parallel`] copies every
    /// part but the first to make one buffer.
    ///
    /// # Errors
    /// As [`Compressor::compress`]; the first error in stream order wins.
    pub fn compress_parallel_parts(
        &mut self,
        src: &[u8],
        threads: usize,
        on_block: impl Fn(Range<usize>) -> io::Result<()> + Sync,
    ) -> io::Result<Vec<Part>> {
        let mut first = Vec::new();
        let (index, rest) = self.parts_inner(src, threads, &on_block, &mut first)?;
        let mut parts = Vec::with_capacity(1 + rest.len());
        parts.push((first, index));
        parts.extend(rest);
        Ok(parts)
    }

    /// Compresses one run of whole blocks per thread; the first run is
    /// appended to `first` (its index is returned), the others go into
    /// buffers of their own. On error `first` may hold a partial run.
    fn parts_inner(
        &mut self,
        src: &[u8],
        threads: usize,
        on_block: &(dyn Fn(Range<usize>) -> io::Result<()> + Sync),
        first: &mut Vec<u8>,
    ) -> io::Result<(Index, Vec<Part>)> {
        let opts = self.opts;
        let bs = opts.block_size;
        let runs = parallel::runs(src.len().div_ceil(bs), threads);
        if runs.len() <= 1 {
            let mut f = |r| on_block(r);
            let index = compress_with(&mut *self.codec, &opts, src, 0, first, &mut f)?;
            return Ok((index, Vec::new()));
        }
        // One codec per extra thread, made here so an error surfaces before any work.
        let mut codecs = (1..runs.len())
            .map(|_| opts.backend.codec(opts.level))
            .collect::<io::Result<Vec<_>>>()?;
        let byte_range = |r: &Range<usize>| r.start * bs..(r.end * bs).min(src.len());
        let first_raw = byte_range(&runs[0]);
        let codec0 = &mut *self.codec;
        let (head, rest) = std::thread::scope(|s| {
            let handles: Vec<_> = runs[1..]
                .iter()
                .zip(codecs.iter_mut())
                .map(|(run, codec)| {
                    let raw = byte_range(run);
                    s.spawn(move || {
                        let mut part = Vec::with_capacity(raw.len() / 2);
                        let mut f = |r| on_block(r);
                        let src = &src[raw.clone()];
                        compress_with(&mut **codec, &opts, src, raw.start, &mut part, &mut f)
                            .map(|index| (part, index))
                    })
                })
                .collect();
            let mut f = |r| on_block(r);
            let head = compress_with(codec0, &opts, &src[first_raw], 0, first, &mut f);
            let rest: Vec<_> = handles.into_iter().map(parallel::join).collect();
            (head, rest)
        });
        let index = head?;
        let rest = rest.into_iter().collect::<io::Result<Vec<_>>>()?;
        Ok((index, rest))
    }

    /// The codec, for the sparse writer (import).
    #[cfg(any(feature = "zlib", feature = "zlib-ng"))]
    pub(crate) fn codec(&mut self) -> &mut dyn Codec {
        &mut *self.codec
    }

    /// Compresses a sparse file: `total` bytes long, of which `src` is the
    /// mapped prefix (the bytes past it are zeros), and of which only the
    /// `extents` (byte ranges sorted by start; they may overlap or touch)
    /// may hold data: everything else is known to be zero and is never read.
    ///
    /// Each block (of the block size, the last one shorter) that meets an
    /// extent within `src` is read: if it is all zeros (a cheap check before
    /// deflating) it becomes part of a hole, otherwise it is deflated as a
    /// data member; a block straddling the end of `src` is deflated with its
    /// zero tail (through one block of scratch, counted in
    /// [`copied_bytes`](crate::copied_bytes)). Every other block is a hole.
    /// Consecutive hole blocks become ONE hole member (51 bytes, however
    /// long the run: see [`SUBFIELD_ID`](crate::SUBFIELD_ID)), so the work
    /// and the output grow with the data, not with `total`.
    ///
    /// `on_block(range)` is called after each block that was read (deflated
    /// or found zero), with its range in `src`: the caller may release those
    /// pages at once.
    ///
    /// For a dense file (`total == src.len()`, one extent covering it, no
    /// all-zero block) the output is byte-for-byte [`Compressor::compress`]'s.
    /// Returns the index; its stream offsets count from where `out` ended.
    ///
    /// # Errors
    /// `EINVAL` if `src` is longer than `total` or the extents are not
    /// sorted by start; `EFBIG` if `total` exceeds
    /// [`MAX_RAW_LEN`](crate::MAX_RAW_LEN); the backend's errors, or
    /// `on_block`'s. `out` is then restored to its length before the call.
    pub fn compress_sparse(
        &mut self,
        total: u64,
        src: &[u8],
        extents: &[Range<u64>],
        out: &mut Vec<u8>,
        mut on_block: impl FnMut(Range<usize>) -> io::Result<()>,
    ) -> io::Result<Index> {
        let base = out.len();
        let result = sparse::compress(
            &mut *self.codec,
            &self.opts,
            sparse::Input {
                total,
                src,
                extents,
            },
            out,
            &mut on_block,
        );
        if result.is_err() {
            out.truncate(base);
        }
        result
    }

    /// Like [`Compressor::compress_sparse`], deflating the data blocks on
    /// `threads` threads (each with its own codec; the blocks to read are
    /// shared out evenly, holes cost no thread). The output is byte-for-byte
    /// what [`Compressor::compress_sparse`] writes. The first thread deflates
    /// straight into `out`; the other threads' members are appended after
    /// it (counted in [`copied_bytes`](crate::copied_bytes)), with the hole
    /// members between them written as they are joined. `on_block` is called
    /// from the worker threads, in order within each thread's share.
    ///
    /// # Errors
    /// As [`Compressor::compress_sparse`]; the first error in stream order wins.
    pub fn compress_sparse_parallel(
        &mut self,
        total: u64,
        src: &[u8],
        extents: &[Range<u64>],
        out: &mut Vec<u8>,
        threads: usize,
        on_block: impl Fn(Range<usize>) -> io::Result<()> + Sync,
    ) -> io::Result<Index> {
        let base = out.len();
        let result = sparse::compress_parallel(
            &mut *self.codec,
            &self.opts,
            sparse::Input {
                total,
                src,
                extents,
            },
            out,
            threads,
            &on_block,
        );
        if result.is_err() {
            out.truncate(base);
        }
        result
    }
}

/// Compresses `src` (which starts at `raw_base` of the caller's input) into
/// members appended to `out`.
fn compress_with(
    codec: &mut dyn Codec,
    opts: &Options,
    src: &[u8],
    raw_base: usize,
    out: &mut Vec<u8>,
    on_block: &mut dyn FnMut(Range<usize>) -> io::Result<()>,
) -> io::Result<Index> {
    let base = out.len();
    let bs = opts.block_size;
    let mut index = Index::new(bs);
    if src.is_empty() {
        index.push(push_block(codec, bs, &[], out, base, 0)?);
        return Ok(index);
    }
    for (i, chunk) in src.chunks(bs).enumerate() {
        index.push(push_block(codec, bs, chunk, out, base, (i * bs) as u64)?);
        let start = raw_base + i * bs;
        on_block(start..start + chunk.len())?;
    }
    Ok(index)
}

/// Deflates `raw` into a member at the end of `out`, stored if it does not
/// shrink; the member's offset counts from `base`, its data starts at
/// `raw_offset` of the uncompressed bytes.
pub(crate) fn push_block(
    codec: &mut dyn Codec,
    block_size: usize,
    raw: &[u8],
    out: &mut Vec<u8>,
    base: usize,
    raw_offset: u64,
) -> io::Result<BlockInfo> {
    debug_assert!(raw.len() <= block_size);
    let start = out.len();
    let stored_len = format::stored_body_len(raw.len());
    // Room for the worst case (stored); the tail is cut back below. Zeroing it
    // is a memset, not a copy of data.
    out.resize(start + OVERHEAD + stored_len, 0);
    // CRC first: it pulls the block into cache for the deflate pass.
    let crc = codec.crc32(raw);
    let member = &mut out[start..];
    let (head, rest) = member.split_at_mut(HEADER_LEN);
    // A deflated body must beat the stored one, or the block is stored.
    let (body_len, stored) = match codec.deflate(raw, &mut rest[..stored_len - 1]) {
        Ok(Some(n)) => (n, false),
        Ok(None) => {
            format::write_stored(raw, &mut rest[..stored_len]);
            (stored_len, true)
        }
        Err(e) => {
            out.truncate(start);
            return Err(e);
        }
    };
    let member_len = OVERHEAD + body_len;
    let trailer: &mut [u8; TRAILER_LEN] = (&mut rest[body_len..body_len + TRAILER_LEN])
        .try_into()
        .expect("slice is TRAILER_LEN long");
    format::write_trailer(trailer, crc, raw.len() as u32);
    let head: &mut [u8; HEADER_LEN] = head.try_into().expect("split at HEADER_LEN");
    format::write_header(
        head,
        format::Header {
            member_len: member_len as u32,
            block_size: block_size as u32,
            stored,
            hole: None,
        },
    );
    out.truncate(start + member_len);
    Ok(BlockInfo {
        offset: (start - base) as u64,
        len: member_len as u32,
        raw_len: raw.len() as u32,
        stored,
        raw_offset,
    })
}
