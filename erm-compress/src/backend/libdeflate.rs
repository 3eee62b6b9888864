//! libdeflate backend (`libdeflater`): whole-buffer calls fit fixed blocks exactly.

use std::io;

use libdeflater::{CompressionLvl, Compressor, DecompressionError, Decompressor};

use crate::backend::{Backend, Codec};

/// The libdeflate [`Codec`]: compressor and decompressor made on first use.
pub(crate) struct LdCodec {
    level: u32,
    comp: Option<Compressor>,
    decomp: Option<Decompressor>,
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
        let d = self.decomp.get_or_insert_with(Decompressor::new);
        match d.deflate_decompress(src, dst) {
            Ok(n) => Ok(n),
            Err(DecompressionError::BadData) => {
                Err(crate::error::corrupt("deflate stream is corrupt"))
            }
            Err(DecompressionError::InsufficientSpace) => Err(crate::error::corrupt(
                "deflate stream is longer than its block",
            )),
        }
    }

    fn crc32(&self, data: &[u8]) -> u32 {
        libdeflater::crc32(data)
    }
}
