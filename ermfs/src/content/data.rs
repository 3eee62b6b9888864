//! The data path of an open file: reads through a borrowed view, writes,
//! truncates, each under the file's own lock, with the privilege drop and
//! the times in the same locked step.

use std::io;

use crate::content::shared::Shared;
use crate::content::stamps::{atime_due, set_atime};
use crate::sync::{read, write};
use crate::types::errno::{err, fail};
use crate::types::identity::Writer;
use crate::types::inode::{Body, Content, Inode, Lazy};
use crate::types::perm::kill_privs;
use crate::types::times::Time;

/// Largest file size and offset (Linux `MAX_LFS_FILESIZE`).
pub(crate) const MAX_OFFSET: u64 = i64::MAX as u64;

/// Checks a caller's offset (`EINVAL` if negative).
pub(crate) fn offset_of(offset: i64) -> io::Result<u64> {
    u64::try_from(offset).map_err(|_| err(libc::EINVAL))
}

/// Linux's `rw_verify_area`: a transfer whose end would pass `i64::MAX` is `EINVAL`.
pub(crate) fn verify_area(offset: u64, len: usize) -> io::Result<()> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= MAX_OFFSET => Ok(()),
        _ => fail(libc::EINVAL),
    }
}

/// What a read does with the bytes it finds: [`Sink::bytes`] gets the
/// mapped bytes (borrowed, under the file's lock); [`Sink::uncached`] runs
/// instead when a read-only open of a compressed file has no room to cache
/// the blocks, and reads them past the cache (by default into a buffer of
/// its own, then `bytes`).
pub(crate) trait Sink: Sized {
    /// The read's result.
    type Out;

    /// The file's bytes in the range, as the mapped bytes and the number of
    /// zero bytes after them (see [`view`]).
    fn bytes(self, mapped: &[u8], zeros: usize) -> Self::Out;

    /// The range of `lazy` from `offset`, `len` bytes clamped to the file,
    /// read without caching.
    ///
    /// # Errors
    /// `EIO` for a corrupt block.
    fn uncached(
        self,
        shared: &Shared,
        lazy: &Lazy,
        offset: u64,
        len: usize,
    ) -> io::Result<Self::Out> {
        let end = offset.saturating_add(len as u64).min(lazy.packed.raw_len);
        let mut buf = vec![0; end.saturating_sub(offset) as usize];
        let n = shared.read_uncached(lazy, offset, &mut buf)?;
        Ok(self.bytes(&buf[..n], 0))
    }
}

/// A closure as a [`Sink`] (an uncached read goes through a buffer).
pub(crate) struct Bytes<F>(pub F);

impl<T, F: FnOnce(&[u8], usize) -> T> Sink for Bytes<F> {
    type Out = T;

    fn bytes(self, mapped: &[u8], zeros: usize) -> T {
        (self.0)(mapped, zeros)
    }
}

/// Runs `f` on the file's bytes in `offset..offset + len`, clamped to its
/// end (empty at or past it), under the file's shared lock, as the mapped
/// bytes and the number of zero bytes after them up to the clamped end (a
/// hole past what the region maps: only files longer than
/// `erm_alloc::MAP_AHEAD_MAX` have one). A read-only open
/// of a compressed file first inflates the blocks the range touches (under
/// the exclusive lock, once per block); when even dropping clean cached
/// blocks leaves no room for them, [`Sink::uncached`] reads them instead.
pub(crate) fn view<S: Sink>(
    shared: &Shared,
    inode: &Inode,
    offset: u64,
    len: usize,
    sink: S,
) -> io::Result<S::Out> {
    fn clamp(region: &erm_alloc::Region, offset: u64, len: usize) -> (&[u8], usize) {
        let bytes = region.as_slice();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(len).min(region.len());
        let mapped = &bytes[start.min(bytes.len())..end.min(bytes.len())];
        let zeros = end.saturating_sub(start.max(bytes.len()));
        (mapped, if start < end { zeros } else { 0 })
    }
    let f = |sink: S, (bytes, zeros): (&[u8], usize)| sink.bytes(bytes, zeros);
    inode.sync_shared(shared.atime_policy());
    {
        let st = read(&inode.state);
        // relatime: the clock is read under the shared lock, the exclusive
        // one is taken only when the access time must move.
        let due = atime_due(&st, shared);
        match &st.body {
            Body::Dir(_) => return fail(libc::EISDIR),
            // Never opened: `open` stops at a link with `ELOOP`, at a
            // special node with `ENXIO`.
            Body::Symlink(_) | Body::Special(_) => return fail(libc::EINVAL),
            Body::File(Content::Raw(r)) => {
                let out = f(sink, clamp(r, offset, len));
                drop(st);
                return Ok(touched(inode, due, out));
            }
            Body::File(Content::Lazy(l)) if l.is_filled(l.blocks(offset, len)) => {
                let out = f(sink, clamp(&l.region, offset, len));
                drop(st);
                return Ok(touched(inode, due, out));
            }
            Body::File(Content::Lazy(_)) => {} // blocks to inflate first
            // An open file is raw or lazy; anything else is a bug, reported as EIO.
            Body::File(_) => return fail(libc::EIO),
        }
    }
    let mut st = write(&inode.state);
    let out = match &mut st.body {
        Body::File(Content::Lazy(l)) => match shared.fill(l, l.blocks(offset, len)) {
            Ok(()) => f(sink, clamp(&l.region, offset, len)),
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                sink.uncached(shared, l, offset, len)?
            }
            Err(e) => return Err(e),
        },
        // A writable open may have inflated it in full meanwhile.
        Body::File(Content::Raw(r)) => f(sink, clamp(r, offset, len)),
        Body::Dir(_) => return fail(libc::EISDIR),
        Body::File(_) => return fail(libc::EIO),
        Body::Symlink(_) | Body::Special(_) => return fail(libc::EINVAL),
    };
    if let Some(now) = atime_due(&st, shared) {
        st.atime = now;
    }
    Ok(out)
}

/// Stores `due` as the access time, if a read found it due; returns `out`.
pub(crate) fn touched<T>(inode: &Inode, due: Option<Time>, out: T) -> T {
    if let Some(now) = due {
        set_atime(inode, now);
    }
    out
}

/// Copies from the file at `offset` into `buf`.
pub(crate) fn read_at(
    shared: &Shared,
    inode: &Inode,
    buf: &mut [u8],
    offset: u64,
) -> io::Result<usize> {
    let len = buf.len();
    view(shared, inode, offset, len, CopyTo(buf))
}

/// A read into the caller's buffer: an uncached read inflates straight
/// into it, with no buffer between.
struct CopyTo<'a>(&'a mut [u8]);

impl Sink for CopyTo<'_> {
    type Out = usize;

    fn bytes(self, mapped: &[u8], zeros: usize) -> usize {
        self.0[..mapped.len()].copy_from_slice(mapped);
        self.0[mapped.len()..mapped.len() + zeros].fill(0);
        mapped.len() + zeros
    }

    fn uncached(self, shared: &Shared, lazy: &Lazy, offset: u64, _: usize) -> io::Result<usize> {
        shared.read_uncached(lazy, offset, self.0)
    }
}

/// Copies `buf` into the file at `offset` (or at its end when `append`);
/// returns the end offset of the write.
pub(crate) fn write_at(
    shared: &Shared,
    inode: &Inode,
    buf: &[u8],
    offset: u64,
    append: bool,
    writer: Option<&Writer>,
) -> io::Result<u64> {
    inode.sync_shared(shared.atime_policy());
    let mut st = write(&inode.state);
    kill_privs(inode, &mut st, writer);
    let Body::File(Content::Raw(region)) = &mut st.body else {
        return fail(libc::EIO);
    };
    let start = if append { region.len() as u64 } else { offset };
    let end = start
        .checked_add(buf.len() as u64)
        .filter(|&e| e <= MAX_OFFSET)
        .ok_or_else(|| err(libc::EFBIG))?;
    let start = usize::try_from(start).map_err(|_| err(libc::EFBIG))?;
    region.write_at(start, buf)?;
    let now = Time::now(&shared.clock);
    st.mtime = now;
    st.ctime = now;
    Ok(end)
}

/// Sets an open file's length, as `writer`.
pub(crate) fn truncate_open(
    shared: &Shared,
    inode: &Inode,
    len: i64,
    writer: Option<&Writer>,
) -> io::Result<()> {
    let len = usize::try_from(offset_of(len)?).map_err(|_| err(libc::EFBIG))?;
    inode.sync_shared(shared.atime_policy());
    let mut st = write(&inode.state);
    let Body::File(Content::Raw(region)) = &mut st.body else {
        return fail(libc::EISDIR);
    };
    region.resize(len)?;
    kill_privs(inode, &mut st, writer);
    let now = Time::now(&shared.clock);
    st.mtime = now;
    st.ctime = now;
    Ok(())
}
