//! zlib and zlib-ng backends: `deflateInit2`/`inflateInit2` called directly.
//!
//! Both libraries share one C API (zlib-ng's native one has `zng_`-prefixed
//! symbols, which is why it links beside stock zlib), so one macro writes both
//! modules from the same text; only the `-sys` crate differs.
//!
//! # Safety
//! The `z_stream` lives in a `Box` that never moves after `*Init2` (zlib keeps
//! a pointer back to it and checks it); `next_in`/`next_out` always point into
//! slices that outlive the call they are passed to, with `avail_*` no larger
//! than those slices; every initialised stream is ended exactly once in `Drop`.

use std::ffi::{c_int, c_uint, c_void};
use std::io;

/// zlib's allocator hook: plain `malloc`, refusing sizes that overflow.
///
/// # Safety
/// Called by zlib only, with its own opaque pointer (unused).
unsafe extern "C" fn zalloc(_opaque: *mut c_void, items: c_uint, size: c_uint) -> *mut c_void {
    match (items as usize).checked_mul(size as usize) {
        // SAFETY: malloc with a non-overflowing size; null on failure is what zlib expects.
        Some(n) => unsafe { libc::malloc(n) },
        None => std::ptr::null_mut(),
    }
}

/// zlib's free hook, paired with [`zalloc`].
///
/// # Safety
/// `ptr` came from [`zalloc`] (or is null).
unsafe extern "C" fn zfree(_opaque: *mut c_void, ptr: *mut c_void) {
    // SAFETY: ptr came from malloc in zalloc, freed once by zlib.
    unsafe { libc::free(ptr) }
}

/// Maps a zlib init/return code that is not success to an `io::Error`.
fn init_error(code: c_int) -> io::Error {
    match code {
        // Z_MEM_ERROR
        -4 => io::Error::from_raw_os_error(libc::ENOMEM),
        _ => io::Error::from_raw_os_error(libc::EINVAL),
    }
}

/// zlib's counters are 32-bit: larger buffers are refused, not truncated.
fn len32(n: usize) -> io::Result<c_uint> {
    c_uint::try_from(n).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))
}

macro_rules! zlib_module {
    ($module:ident, $sys:ident, $backend:expr) => {
        /// Codec and gzip stream reader over one zlib flavour.
        pub(crate) mod $module {
            use super::{init_error, len32, zalloc, zfree};
            use crate::backend::{Backend, Codec};
            use std::ffi::c_int;
            use std::io;
            use $sys as z;

            /// A `z_stream` initialised for deflate or inflate, ended on drop.
            struct Stream {
                strm: Box<z::z_stream>,
                deflate: bool,
            }

            // SAFETY: the stream is only ever used through `&mut`, by one thread at a time;
            // zlib's state has no thread affinity.
            unsafe impl Send for Stream {}

            impl Stream {
                fn blank() -> Box<z::z_stream> {
                    Box::new(z::z_stream {
                        next_in: std::ptr::null_mut(),
                        avail_in: 0,
                        total_in: 0,
                        next_out: std::ptr::null_mut(),
                        avail_out: 0,
                        total_out: 0,
                        msg: std::ptr::null_mut(),
                        state: std::ptr::null_mut(),
                        zalloc,
                        zfree,
                        opaque: std::ptr::null_mut(),
                        data_type: 0,
                        adler: 0,
                        reserved: 0,
                    })
                }

                /// Raw deflate (windowBits -15) at `level`, memLevel 8 as gzip uses.
                fn deflater(level: u32) -> io::Result<Stream> {
                    let mut strm = Self::blank();
                    // SAFETY: strm is a valid, boxed (never moving) z_stream; the version
                    // string and size are the library's own, as deflateInit2 requires.
                    let rc = unsafe {
                        z::deflateInit2_(
                            &mut *strm,
                            level as c_int,
                            z::Z_DEFLATED,
                            -15,
                            8,
                            z::Z_DEFAULT_STRATEGY,
                            z::zlibVersion(),
                            std::mem::size_of::<z::z_stream>() as c_int,
                        )
                    };
                    if rc != z::Z_OK {
                        return Err(init_error(rc));
                    }
                    Ok(Stream {
                        strm,
                        deflate: true,
                    })
                }

                /// Inflate with `window_bits` (-15: raw deflate; 31: gzip members).
                fn inflater(window_bits: c_int) -> io::Result<Stream> {
                    let mut strm = Self::blank();
                    // SAFETY: as in `deflater`.
                    let rc = unsafe {
                        z::inflateInit2_(
                            &mut *strm,
                            window_bits,
                            z::zlibVersion(),
                            std::mem::size_of::<z::z_stream>() as c_int,
                        )
                    };
                    if rc != z::Z_OK {
                        return Err(init_error(rc));
                    }
                    Ok(Stream {
                        strm,
                        deflate: false,
                    })
                }

                /// Points the stream at `src` and `dst` (both outlive the next call).
                fn set(&mut self, src: &[u8], dst: &mut [u8]) -> io::Result<()> {
                    self.strm.avail_in = len32(src.len())?;
                    self.strm.avail_out = len32(dst.len())?;
                    // zlib never writes through next_in; the cast is its API's.
                    self.strm.next_in = src.as_ptr().cast_mut();
                    self.strm.next_out = dst.as_mut_ptr();
                    Ok(())
                }
            }

            impl Drop for Stream {
                fn drop(&mut self) {
                    // SAFETY: the stream was initialised by the matching *Init2 and is
                    // ended exactly once, here.
                    unsafe {
                        if self.deflate {
                            z::deflateEnd(&mut *self.strm);
                        } else {
                            z::inflateEnd(&mut *self.strm);
                        }
                    }
                }
            }

            /// The [`Codec`] of this flavour: streams made on first use, reset per call.
            pub(crate) struct ZCodec {
                level: u32,
                def: Option<Stream>,
                inf: Option<Stream>,
            }

            impl ZCodec {
                pub(crate) fn new(level: u32) -> ZCodec {
                    ZCodec {
                        level,
                        def: None,
                        inf: None,
                    }
                }
            }

            impl Codec for ZCodec {
                fn backend(&self) -> Backend {
                    $backend
                }

                fn deflate(&mut self, src: &[u8], dst: &mut [u8]) -> io::Result<Option<usize>> {
                    let s = match &mut self.def {
                        Some(s) => {
                            // SAFETY: s.strm is an initialised deflate stream.
                            unsafe { z::deflateReset(&mut *s.strm) };
                            s
                        }
                        None => self.def.insert(Stream::deflater(self.level)?),
                    };
                    s.set(src, dst)?;
                    // SAFETY: next_in/next_out point into src/dst, which outlive this call,
                    // with avail_* equal to their lengths.
                    let rc = unsafe { z::deflate(&mut *s.strm, z::Z_FINISH) };
                    match rc {
                        z::Z_STREAM_END => Ok(Some(s.strm.total_out as usize)),
                        // Out of room before the end: the caller stores the block raw.
                        z::Z_OK | z::Z_BUF_ERROR => Ok(None),
                        rc => Err(init_error(rc)),
                    }
                }

                fn inflate(&mut self, src: &[u8], dst: &mut [u8]) -> io::Result<usize> {
                    let s = match &mut self.inf {
                        Some(s) => {
                            // SAFETY: s.strm is an initialised inflate stream.
                            unsafe { z::inflateReset(&mut *s.strm) };
                            s
                        }
                        None => self.inf.insert(Stream::inflater(-15)?),
                    };
                    s.set(src, dst)?;
                    // SAFETY: as in `deflate`.
                    let rc = unsafe { z::inflate(&mut *s.strm, z::Z_FINISH) };
                    match rc {
                        // Bytes after the end of the deflate stream are corruption too.
                        z::Z_STREAM_END if s.strm.avail_in == 0 => Ok(s.strm.total_out as usize),
                        z::Z_STREAM_END => {
                            Err(crate::error::corrupt("bytes after the deflate stream"))
                        }
                        z::Z_MEM_ERROR => Err(init_error(rc)),
                        // Data error, or input/output ran out before the end.
                        _ => Err(crate::error::corrupt(
                            "deflate stream is corrupt or truncated",
                        )),
                    }
                }

                fn crc32(&self, data: &[u8]) -> u32 {
                    let mut crc = 0;
                    for chunk in data.chunks(1 << 30) {
                        // SAFETY: chunk is a valid slice of len < 2^32.
                        crc = unsafe { z::crc32(crc, chunk.as_ptr(), chunk.len() as _) };
                    }
                    crc as u32
                }
            }

            /// A gzip-mode (windowBits 31) inflater: parses each member's header
            /// and checks its CRC-32 and ISIZE itself. Used by import.
            pub(crate) struct GzReader {
                s: Stream,
            }

            #[allow(dead_code)]
            impl GzReader {
                pub(crate) fn new() -> io::Result<GzReader> {
                    Ok(GzReader {
                        s: Stream::inflater(31)?,
                    })
                }

                /// Starts the next member.
                pub(crate) fn reset(&mut self) {
                    // SAFETY: an initialised inflate stream.
                    unsafe { z::inflateReset(&mut *self.s.strm) };
                }

                /// Inflates from `src` into `dst`; returns (consumed, produced,
                /// member ended).
                pub(crate) fn step(
                    &mut self,
                    src: &[u8],
                    dst: &mut [u8],
                ) -> io::Result<(usize, usize, bool)> {
                    let src = &src[..src.len().min(1 << 30)];
                    self.s.set(src, dst)?;
                    // SAFETY: next_in/next_out point into src/dst, which outlive this call.
                    let rc = unsafe { z::inflate(&mut *self.s.strm, z::Z_NO_FLUSH) };
                    let consumed = src.len() - self.s.strm.avail_in as usize;
                    let produced = dst.len() - self.s.strm.avail_out as usize;
                    match rc {
                        z::Z_STREAM_END => Ok((consumed, produced, true)),
                        z::Z_OK | z::Z_BUF_ERROR => Ok((consumed, produced, false)),
                        z::Z_MEM_ERROR => Err(init_error(rc)),
                        _ => Err(crate::error::corrupt("gzip member is corrupt")),
                    }
                }
            }
        }
    };
}

#[cfg(feature = "zlib")]
zlib_module!(stock, libz_sys, Backend::Zlib);
#[cfg(feature = "zlib-ng")]
zlib_module!(ng, libz_ng_sys, Backend::ZlibNg);
