//! libdeflate backend: whole-buffer calls fit fixed blocks exactly.
//! Compression goes through `libdeflater`; inflation calls
//! `libdeflate_deflate_decompress_ex` through `libdeflate-sys`, because only
//! the `_ex` form reports how much input the deflate stream used, and bytes
//! after its end are corruption (as the zlib backend says too).

use std::io;
use std::ptr::NonNull;

use libdeflate_sys as ld;
use libdeflater::{CompressionLvl, Compressor};

use crate::backend::{Backend, Codec};

/// The libdeflate [`Codec`]: compressor and decompressor made on first use.
pub(crate) struct LdCodec {
    level: u32,
    comp: Option<Compressor>,
    decomp: Option<Inflater>,
}

impl LdCodec {
    pub(crate) fn new(level: u32) -> LdCodec {
        LdCodec {
            level,
            comp: None,
            decomp: None,
        }
    }
}

impl Codec for LdCodec {
    fn backend(&self) -> Backend {
        Backend::Libdeflate
    }

    fn deflate(&mut self, src: &[u8], dst: &mut [u8]) -> io::Result<Option<usize>> {
        let comp = match &mut self.comp {
            Some(c) => c,
            None => {
                let lvl = CompressionLvl::new(self.level as i32)
                    .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
                self.comp.insert(Compressor::new(lvl))
            }
        };
        // libdeflate reports "does not fit" as its only failure.
        Ok(comp.deflate_compress(src, dst).ok())
    }

    fn inflate(&mut self, src: &[u8], dst: &mut [u8]) -> io::Result<usize> {
        let d = match &mut self.decomp {
            Some(d) => d,
            None => self.decomp.insert(Inflater::new()?),
        };
        d.inflate(src, dst)
    }

    fn crc32(&self, data: &[u8]) -> u32 {
        libdeflater::crc32(data)
    }
}

/// An owned `libdeflate_decompressor`.
struct Inflater(NonNull<ld::libdeflate_decompressor>);

// SAFETY: a libdeflate decompressor is plain heap state with no thread
// affinity; `&mut self` on every use keeps it to one thread at a time.
unsafe impl Send for Inflater {}

impl Inflater {
    /// # Errors
    /// `ENOMEM` if libdeflate cannot allocate its state.
    fn new() -> io::Result<Inflater> {
        // SAFETY: no arguments; a null return is handled.
        let p = unsafe { ld::libdeflate_alloc_decompressor() };
        NonNull::new(p)
            .map(Inflater)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))
    }

    /// Inflates the raw deflate stream `src`, which must end exactly at its
    /// last byte, into `dst`; returns the bytes written.
    fn inflate(&mut self, src: &[u8], dst: &mut [u8]) -> io::Result<usize> {
        let (mut used, mut written) = (0usize, 0usize);
        // SAFETY: self.0 is a live decompressor used by this thread alone;
        // src and dst are valid for their lengths for the whole call, and
        // the two out-pointers are live locals.
        let rc = unsafe {
            ld::libdeflate_deflate_decompress_ex(
                self.0.as_ptr(),
                src.as_ptr().cast(),
                src.len(),
                dst.as_mut_ptr().cast(),
                dst.len(),
                &mut used,
                &mut written,
            )
        };
        match rc {
            ld::libdeflate_result_LIBDEFLATE_SUCCESS if used == src.len() => Ok(written),
            ld::libdeflate_result_LIBDEFLATE_SUCCESS => {
                Err(crate::error::corrupt("bytes after the deflate stream"))
            }
            ld::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Err(crate::error::corrupt(
                "deflate stream is longer than its block",
            )),
            _ => Err(crate::error::corrupt("deflate stream is corrupt")),
        }
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: self.0 came from libdeflate_alloc_decompressor and is
        // freed exactly once, here.
        unsafe { ld::libdeflate_free_decompressor(self.0.as_ptr()) };
    }
}
