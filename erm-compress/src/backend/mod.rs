//! Deflate backends behind one small trait, [`Codec`], each a cargo feature.
//!
//! Every backend speaks *raw* deflate (RFC 1951): the gzip header and trailer
//! are written and checked by [`crate::format`], so the FEXTRA subfield is
//! ours whatever library does the deflate pass. The variants of [`Backend`]
//! exist whatever features are on, so code naming one always compiles; asking
//! for one that was not built gives `EPROTONOSUPPORT`.

use std::io;

#[cfg(feature = "libdeflate")]
mod libdeflate;
#[cfg(any(feature = "zlib", feature = "zlib-ng"))]
pub(crate) mod zlib;

/// One deflate library, as a value (see [`Codec`] for what it must do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// zlib through `libz-sys` (feature `zlib`): levels 0-9.
    Zlib,
    /// zlib-ng's native API through `libz-ng-sys` (feature `zlib-ng`): levels 0-9.
    ZlibNg,
    /// libdeflate through `libdeflater` (feature `libdeflate`): levels 0-12.
    Libdeflate,
}

/// Level used when none is given, chosen with the default backend by
/// `erm-bench`'s `compress` group on the corpus: libdeflate at level 6
/// deflates at 85 MiB/s (zlib-ng 63, zlib 26) to 33.98% of the input
/// (zlib-ng 34.32%, zlib 34.34%: smaller than zlib at level 9) and inflates
/// at 900 MiB/s (749, 338). Its level 1 is 2.4x faster but 7.6% larger;
/// level 9 is 2.8x slower for 1.2% smaller.
pub const DEFAULT_LEVEL: u32 = 6;

impl Backend {
    /// All backends, built or not, in order of preference for the default.
    pub const ALL: [Backend; 3] = [Backend::Libdeflate, Backend::ZlibNg, Backend::Zlib];

    /// Whether this backend's cargo feature was enabled in this build.
    pub const fn is_available(self) -> bool {
        match self {
            Backend::Zlib => cfg!(feature = "zlib"),
            Backend::ZlibNg => cfg!(feature = "zlib-ng"),
            Backend::Libdeflate => cfg!(feature = "libdeflate"),
        }
    }

    /// Short name for tables and messages (`"zlib"`, `"zlib-ng"`, `"libdeflate"`).
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Zlib => "zlib",
            Backend::ZlibNg => "zlib-ng",
            Backend::Libdeflate => "libdeflate",
        }
    }

    /// Highest compression level this backend accepts.
    pub const fn max_level(self) -> u32 {
        match self {
            Backend::Libdeflate => 12,
            Backend::Zlib | Backend::ZlibNg => 9,
        }
    }

    /// The backends compiled into this build, in order of preference.
    pub fn available() -> impl Iterator<Item = Backend> {
        Backend::ALL.into_iter().filter(|b| b.is_available())
    }

    /// A fresh codec deflating at `level` (inflate needs no level).
    ///
    /// # Errors
    /// `EPROTONOSUPPORT` if the backend was not built, `EINVAL` if `level`
    /// is above [`Backend::max_level`].
    pub fn codec(self, level: u32) -> io::Result<Box<dyn Codec>> {
        if !self.is_available() {
            return Err(io::Error::from_raw_os_error(libc::EPROTONOSUPPORT));
        }
        if level > self.max_level() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        #[allow(unreachable_code)]
        match self {
            #[cfg(feature = "zlib")]
            Backend::Zlib => Ok(Box::new(zlib::stock::ZCodec::new(level))),
            #[cfg(feature = "zlib-ng")]
            Backend::ZlibNg => Ok(Box::new(zlib::ng::ZCodec::new(level))),
            #[cfg(feature = "libdeflate")]
            Backend::Libdeflate => Ok(Box::new(libdeflate::LdCodec::new(level))),
            #[allow(unreachable_patterns)]
            _ => Err(io::Error::from_raw_os_error(libc::EPROTONOSUPPORT)),
        }
    }
}

impl Default for Backend {
    /// libdeflate when built, else zlib-ng, else zlib (the order of
    /// [`Backend::ALL`]); libdeflate if none is built (any call then fails
    /// with `EPROTONOSUPPORT`).
    fn default() -> Self {
        Backend::available().next().unwrap_or(Backend::Libdeflate)
    }
}

/// What a backend must do: one whole raw deflate stream each way, plus CRC-32.
///
/// A codec keeps its library state between calls (allocated on first use), so
/// one per thread, reused for every block, costs one allocation in all.
pub trait Codec: Send {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Deflates all of `src` as one final raw deflate stream into `dst`.
    /// `Ok(None)` when the result does not fit in `dst` (the caller then
    /// stores the data raw); `dst`'s contents are then unspecified.
    ///
    /// # Errors
    /// `ENOMEM` if the library cannot allocate, `EFBIG` if `src` or `dst`
    /// exceed 4 GiB (zlib's counters are 32-bit).
    fn deflate(&mut self, src: &[u8], dst: &mut [u8]) -> io::Result<Option<usize>>;

    /// Inflates one complete raw deflate stream from `src` into the front of
    /// `dst`; returns the number of bytes written.
    ///
    /// # Errors
    /// `InvalidData` if the stream is malformed, does not end within `src`,
    /// or would write past `dst`; `ENOMEM` as for [`Codec::deflate`].
    fn inflate(&mut self, src: &[u8], dst: &mut [u8]) -> io::Result<usize>;

    /// CRC-32 (the gzip polynomial) of `data`.
    fn crc32(&self, data: &[u8]) -> u32;
}
