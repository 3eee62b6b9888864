//! `fallocate`: preallocation, size extension and hole punching on an open file.

use std::io;

use crate::api::fs::Fs;
use crate::content::data::MAX_OFFSET;
use crate::sync::write;
use crate::types::errno::fail;
use crate::types::inode::{Body, Content};

/// `FALLOC_FL_KEEP_SIZE`.
const KEEP_SIZE: i32 = libc::FALLOC_FL_KEEP_SIZE;
/// `FALLOC_FL_PUNCH_HOLE`.
const PUNCH_HOLE: i32 = libc::FALLOC_FL_PUNCH_HOLE;
/// Linux's `FALLOC_FL_WRITE_ZEROES` (6.17), not in every libc yet.
const WRITE_ZEROES: i32 = 0x80;
/// Linux's `FALLOC_FL_MODE_MASK`: the operation bits, one at most.
const MODE_MASK: i32 = PUNCH_HOLE
    | libc::FALLOC_FL_COLLAPSE_RANGE
    | libc::FALLOC_FL_ZERO_RANGE
    | libc::FALLOC_FL_INSERT_RANGE
    | libc::FALLOC_FL_UNSHARE_RANGE
    | WRITE_ZEROES;

/// The checks of Linux's `vfs_fallocate` that come before the descriptor's
/// access mode: `EINVAL` for the range, `EOPNOTSUPP` for a mode no file
/// system takes.
fn check_mode(mode: i32, offset: i64, len: i64) -> io::Result<()> {
    if offset < 0 || len <= 0 {
        return fail(libc::EINVAL);
    }
    if mode & !(MODE_MASK | KEEP_SIZE) != 0 {
        return fail(libc::EOPNOTSUPP);
    }
    let keep = mode & KEEP_SIZE != 0;
    match mode & MODE_MASK {
        0 | libc::FALLOC_FL_UNSHARE_RANGE | libc::FALLOC_FL_ZERO_RANGE => Ok(()),
        PUNCH_HOLE if keep => Ok(()),
        libc::FALLOC_FL_COLLAPSE_RANGE | libc::FALLOC_FL_INSERT_RANGE | WRITE_ZEROES if !keep => {
            Ok(())
        }
        _ => fail(libc::EOPNOTSUPP),
    }
}

impl Fs {
    /// Manipulates the space of the file open at `fd`, as fallocate(2) on
    /// tmpfs: `mode` 0 extends the file with zeros to `offset + len` if it
    /// is shorter (and does nothing otherwise); `FALLOC_FL_KEEP_SIZE`
    /// reserves memory up to `offset + len` without changing the size
    /// (charged to the memory limit; the reserve is trimmed when the file
    /// is compressed at its last close); `FALLOC_FL_PUNCH_HOLE |
    /// FALLOC_FL_KEEP_SIZE` zeroes `offset..offset + len` (clamped to the
    /// size), giving every whole page in it back to the OS. Extending and
    /// punching set `mtime` and `ctime`.
    ///
    /// ```
    /// let fs = ermfs::Fs::new();
    /// let fd = fs.open("/f", libc::O_CREAT | libc::O_RDWR, 0o644)?;
    /// fs.fallocate(fd, 0, 0, 8192)?;
    /// assert_eq!(fs.fstat(fd)?.size, 8192);
    /// fs.fallocate(fd, libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE, 0, 4096)?;
    /// assert_eq!(fs.fstat(fd)?.size, 8192);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// In Linux's order: `EBADF` for a bad descriptor; `EINVAL` for
    /// `offset < 0` or `len <= 0`; `EOPNOTSUPP` for an unknown mode or
    /// `FALLOC_FL_PUNCH_HOLE` without `FALLOC_FL_KEEP_SIZE`; `EBADF` for a
    /// descriptor not open for writing (directories included); `EFBIG` if
    /// `offset + len` passes `i64::MAX`; `EOPNOTSUPP` for the modes tmpfs
    /// does not take (`ZERO_RANGE`, `COLLAPSE_RANGE`, `INSERT_RANGE`,
    /// `UNSHARE_RANGE`, `WRITE_ZEROES`); `EFBIG` past
    /// [`erm_alloc::MAX_LEN`] (for a size change or a reservation);
    /// `ENOSPC` over the memory limit (the file is then unchanged).
    pub fn fallocate(&self, fd: i32, mode: i32, offset: i64, len: i64) -> io::Result<()> {
        let of = self.inner.file(fd)?;
        check_mode(mode, offset, len)?;
        if !of.writable() {
            return fail(libc::EBADF);
        }
        // Both are non-negative here.
        let end = (offset as u64)
            .checked_add(len as u64)
            .filter(|&e| e <= MAX_OFFSET);
        let Some(end) = end else {
            return fail(libc::EFBIG);
        };
        if mode & !(KEEP_SIZE | PUNCH_HOLE) != 0 {
            return fail(libc::EOPNOTSUPP);
        }
        let end = usize::try_from(end).map_err(|_| crate::types::errno::err(libc::EFBIG))?;
        let offset = offset as usize; // below `end`
        let inode = of.inode();
        inode.sync_shared(self.inner.shared.atime_policy());
        let mut st = write(&inode.state);
        if !matches!(st.body, Body::File(Content::Raw(_))) {
            return fail(libc::EBADF);
        }
        // As a write: set-ID bits and `security.capability` go first.
        crate::types::perm::kill_privs(inode, &mut st, of.writer.as_ref());
        let Body::File(Content::Raw(region)) = &mut st.body else {
            return fail(libc::EBADF);
        };
        let size = region.len();
        let changed = if mode & PUNCH_HOLE != 0 {
            let (start, stop) = (offset.min(size), end.min(size));
            // Whole pages go back to the OS (and read as zeros); only the
            // partial pages at the edges are written.
            // The page holding the end of the file goes too when the range
            // covers all of it (tmpfs punches pages, not bytes).
            let page_end = size.next_multiple_of(erm_alloc::page_size());
            region.release(start..end.min(page_end))?;
            // What is left of the range (the partial pages at the edges)
            // is zeroed where it holds data; holes read as zeros already.
            let data: Vec<_> = region
                .data_extents()
                .map(|e| e.start.max(start)..e.end.min(stop))
                .filter(|e| !e.is_empty())
                .collect();
            for part in data {
                region.as_mut_range(part)?.fill(0);
            }
            true
        } else {
            // The range's pages become data (charged), as tmpfs allocates
            // them, whether or not the size moves.
            region.commit(offset..end)?;
            if end <= size || mode & KEEP_SIZE != 0 {
                false
            } else {
                region.resize(end)?;
                true
            }
        };
        if changed {
            let now = self.inner.shared.clock.now();
            st.mtime = now.into();
            st.ctime = st.mtime;
        }
        Ok(())
    }
}
