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
/// Needs the `zlib` or `zlib-ng` feature (a streaming inflater: members of
/// foreign streams have no known length); without both it fails with
/// `EPROTONOSUPPORT`.
///
/// # Errors
/// `InvalidData` for an empty, corrupt or truncated stream, or one followed
/// by anything that is not another gzip member (trailing garbage, even
/// zeros); `out` is then restored. Option errors as [`Compressor::new`](crate::Compressor::new).
pub fn import(src: &[u8], opts: Options, out: &mut Vec<u8>) -> io::Result<Index> {
    let base = out.len();
    let result = import_inner(src, opts, out, base);
    if result.is_err() {
        out.truncate(base);
    }
    result
}

#[cfg(any(feature = "zlib", feature = "zlib-ng"))]
fn import_inner(src: &[u8], opts: Options, out: &mut Vec<u8>, base: usize) -> io::Result<Index> {
    use crate::compress::Compressor;
    use crate::error::corrupt;

    let mut comp = Compressor::new(opts)?;
    let bs = opts.get_block_size();
    let mut index = Index::new(bs);
    let mut reader = GzReader::new()?;
    let mut block = vec![0u8; bs];
    let mut fill = 0;
    let mut pos = 0;
    if src.is_empty() {
        return Err(corrupt("empty gzip stream"));
    }
    loop {
        let (used, made, ended) = reader.step(&src[pos..], &mut block[fill..])?;
        pos += used;
        fill += made;
        if fill == bs {
            index.push(comp.push_block(&block, out, base)?);
            fill = 0;
        }
        if ended {
            if pos == src.len() {
                break;
            }
            // Anything after a member must be another member; zlib rejects
            // a bad header, and runs out of input on a short one.
            reader.reset();
        } else if used == 0 && made == 0 {
            // No progress with room to write: the input ran out mid-member.
            return Err(corrupt("truncated gzip stream"));
        }
    }
    if fill > 0 || index.blocks().is_empty() {
        index.push(comp.push_block(&block[..fill], out, base)?);
    }
    Ok(index)
}

#[cfg(not(any(feature = "zlib", feature = "zlib-ng")))]
fn import_inner(_: &[u8], _: Options, _: &mut Vec<u8>, _: usize) -> io::Result<Index> {
    Err(io::Error::from_raw_os_error(libc::EPROTONOSUPPORT))
}
