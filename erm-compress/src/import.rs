//! Import: any standard gzip stream (one member or many, from gzip, pigz,
//! bgzip or this crate) re-cut into this crate's blocked form.

use std::io;

use crate::compress::Options;
use crate::index::Index;

// zlib-ng inflates about 2.5x faster than zlib (BENCHMARKS.md): it reads when built.
#[cfg(feature = "zlib-ng")]
use crate::backend::zlib::ng::GzReader;
#[cfg(all(feature = "zlib", not(feature = "zlib-ng")))]
use crate::backend::zlib::stock::GzReader;

/// Reads the gzip stream `src` and appends its data to `out` in blocked form
/// with `opts`; returns the index (offsets from where `out` ended before).
///
/// Members are inflated by zlib-ng (or zlib) in gzip mode (it checks every member's
/// header, CRC-32 and ISIZE) into one block-sized buffer; each full block is
/// deflated as a member. So memory beyond `out` is one block, and bytes go
/// through the inflate and deflate passes only.
///
/// Hole members of this crate's own format (see
/// [`SUBFIELD_ID`](crate::SUBFIELD_ID)) are read as the zeros they stand
/// for, not as the empty members a plain gzip reader sees: the whole blocks
/// they cover stay hole runs (no deflate work, whatever their length), the
/// zeros that share a block with data are deflated with it. Data that
/// happens to be zero is deflated as is; [`import_sparse`] makes it holes.
///
/// Needs the `zlib` or `zlib-ng` feature (a streaming inflater: members of
/// foreign streams have no known length); without both it fails with
/// `EPROTONOSUPPORT`.
///
/// # Errors
/// `InvalidData` for an empty, corrupt or truncated stream, one followed
/// by anything that is not another gzip member (trailing garbage, even
/// zeros), or one longer than [`MAX_RAW_LEN`](crate::MAX_RAW_LEN) bytes;
/// `out` is then restored. Option errors as [`Compressor::new`](crate::Compressor::new).
pub fn import(src: &[u8], opts: Options, out: &mut Vec<u8>) -> io::Result<Index> {
    import_with(src, opts, out, false)
}

/// Like [`import`], but every whole block that inflates to zeros (and a
/// last partial block of zeros) becomes part of a hole run instead of a
/// deflated member. The check is one OR pass over each block before it
/// would be deflated, cheap beside the inflate and deflate passes. The
/// result may hold hole runs even when `src` has no hole member, so its
/// reader must handle them ([`Index::has_holes`]).
///
/// # Errors
/// As [`import`].
pub fn import_sparse(src: &[u8], opts: Options, out: &mut Vec<u8>) -> io::Result<Index> {
    import_with(src, opts, out, true)
}

fn import_with(src: &[u8], opts: Options, out: &mut Vec<u8>, sparse: bool) -> io::Result<Index> {
    let base = out.len();
    let result = import_inner(src, opts, out, sparse);
    if result.is_err() {
        out.truncate(base);
    }
    result
}

#[cfg(any(feature = "zlib", feature = "zlib-ng"))]
fn import_inner(src: &[u8], opts: Options, out: &mut Vec<u8>, sparse: bool) -> io::Result<Index> {
    use crate::compress::Compressor;
    use crate::error::corrupt;
    use crate::format::{self, HOLE_MEMBER_LEN};
    use crate::index::MAX_RAW_LEN;
    use crate::sparse::{SparseOut, is_zero};

    let mut comp = Compressor::new(opts)?;
    let bs = opts.get_block_size();
    let mut w = SparseOut::new(out, bs);
    let mut reader = GzReader::new()?;
    let mut block = vec![0u8; bs];
    let mut fill = 0;
    // How much of block[..fill], from its start, came from hole members.
    let mut known_zero = 0;
    let mut pos = 0;
    if src.is_empty() {
        return Err(corrupt("empty gzip stream"));
    }
    let too_long = || corrupt("gzip stream longer than i64::MAX bytes");
    // Writes `block` (a whole block, or the last one): a hole if it all came
    // from hole members, or if sparse and zero.
    let put = |w: &mut SparseOut<'_>, comp: &mut Compressor, block: &[u8], known_zero: usize| {
        let end = w
            .cursor()
            .checked_add(block.len() as u64)
            .filter(|&e| e <= MAX_RAW_LEN);
        let end = end.ok_or_else(too_long)?;
        if known_zero == block.len() || (sparse && is_zero(block)) {
            w.hole_to(end);
            Ok(())
        } else {
            w.deflate(comp.codec(), block)
        }
    };
    let mut at_member_start = true;
    loop {
        if at_member_start {
            if format::is_hole_start(&src[pos..]) {
                let member = src
                    .get(pos..pos + HOLE_MEMBER_LEN)
                    .ok_or_else(|| corrupt("truncated gzip hole member"))?;
                let mut zeros = format::check_hole(member)?.hole.unwrap_or(0);
                pos += HOLE_MEMBER_LEN;
                let end = (w.cursor() + fill as u64).checked_add(zeros);
                if end.is_none_or(|e| e > MAX_RAW_LEN) {
                    return Err(too_long());
                }
                if fill > 0 {
                    // Complete the block in progress.
                    let k = (bs - fill).min(usize::try_from(zeros).unwrap_or(usize::MAX));
                    block[fill..fill + k].fill(0);
                    if known_zero == fill {
                        known_zero += k;
                    }
                    fill += k;
                    zeros -= k as u64;
                    if fill == bs {
                        put(&mut w, &mut comp, &block, known_zero)?;
                        (fill, known_zero) = (0, 0);
                    }
                }
                if zeros > 0 {
                    // Whole blocks stay a hole; the rest starts the next block.
                    let rem = (zeros % bs as u64) as usize;
                    w.hole_to(w.cursor() + (zeros - rem as u64));
                    block[..rem].fill(0);
                    (fill, known_zero) = (rem, rem);
                }
                if pos == src.len() {
                    break;
                }
                continue;
            }
            at_member_start = false;
        }
        let (used, made, ended) = reader.step(&src[pos..], &mut block[fill..])?;
        pos += used;
        fill += made;
        if fill == bs {
            put(&mut w, &mut comp, &block, known_zero)?;
            (fill, known_zero) = (0, 0);
        }
        if ended {
            if pos == src.len() {
                break;
            }
            // Anything after a member must be another member; zlib rejects
            // a bad header, and runs out of input on a short one.
            reader.reset();
            at_member_start = true;
        } else if used == 0 && made == 0 {
            // No progress with room to write: the input ran out mid-member.
            return Err(corrupt("truncated gzip stream"));
        }
    }
    if fill > 0 {
        put(&mut w, &mut comp, &block[..fill], known_zero)?;
    }
    let end = w.cursor();
    w.finish(comp.codec(), end)
}

#[cfg(not(any(feature = "zlib", feature = "zlib-ng")))]
fn import_inner(_: &[u8], _: Options, _: &mut Vec<u8>, _: bool) -> io::Result<Index> {
    Err(io::Error::from_raw_os_error(libc::EPROTONOSUPPORT))
}
