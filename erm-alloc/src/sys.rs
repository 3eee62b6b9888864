//! The crate's only syscall module: anonymous and memfd-backed mappings behind a safe API.
//!
//! # Safety
//! [`Mapping`] owns a live `mmap` range for its whole life: the pointer and
//! length it holds always describe pages mapped read-write by this process and
//! by nobody else in the address space (the kernel never hands out overlapping
//! ranges). Every method keeps that true: `mremap` either moves the whole range
//! or fails and leaves it as it was, and `Drop` unmaps it exactly once.
//! A shared mapping of a memfd that another holder writes too (a process or
//! the kernel's FUSE passthrough the file was handed to) may see its bytes
//! change under a `&[u8]`, as any `MAP_SHARED` file mapping may: such bytes
//! are only ever copied out (never used to decide memory layout), so a
//! torn read is at worst stale data, as a concurrent read(2) would see.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

/// What backs a mapping's pages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backing<'fd> {
    /// Private anonymous memory.
    Anonymous,
    /// A shared mapping of a memfd. The mapping may reach past the end of
    /// the file; only its pages inside the file may be touched (the others
    /// fault with `SIGBUS`).
    Shared(BorrowedFd<'fd>),
}

/// A page-aligned, read-write mapping of `len > 0` bytes, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a Mapping exclusively owns its pages (no other handle to them exists
// in this process except through `&Mapping`/`&mut Mapping`), so moving it to
// another thread or sharing `&Mapping` (read-only slices) is sound.
unsafe impl Send for Mapping {}
// SAFETY: see `Send`: `&Mapping` only gives out shared, read-only views.
unsafe impl Sync for Mapping {}

/// `ENOMEM` for a length no slice may have (`isize::MAX` is the limit).
fn check_slice_len(len: usize) -> io::Result<()> {
    if isize::try_from(len).is_err() {
        return Err(io::Error::from_raw_os_error(libc::ENOMEM));
    }
    Ok(())
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Mapping {
    /// Maps `len` bytes (a non-zero multiple of the page size) of address
    /// space with `MAP_NORESERVE`: no memory is committed until a page is
    /// touched. Fails with `ENOMEM` past `isize::MAX` bytes (no slice could
    /// describe it) or when the kernel has no room for it.
    pub(crate) fn new(len: usize, backing: Backing<'_>) -> io::Result<Mapping> {
        debug_assert!(len > 0 && len % crate::page_size() == 0);
        check_slice_len(len)?;
        let (flags, fd) = match backing {
            Backing::Anonymous => (
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
            ),
            Backing::Shared(fd) => (libc::MAP_SHARED | libc::MAP_NORESERVE, fd.as_raw_fd()),
        };
        // SAFETY: a fresh mapping at an address the kernel chooses cannot alias
        // any existing Rust object; the arguments are plain values.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Mapping { ptr, len })
    }

    /// Start of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the range is mapped readable for `len` bytes for as long as
        // `self` lives (module invariant), and `&self` forbids mutation through us.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, mutable.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only view.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Grows or shrinks to `new_len` (non-zero, page multiple) with `mremap`,
    /// moving the pages if needed but never copying them. On error the mapping
    /// is unchanged.
    pub(crate) fn remap(&mut self, new_len: usize) -> io::Result<()> {
        debug_assert!(new_len > 0 && new_len % crate::page_size() == 0);
        check_slice_len(new_len)?;
        // SAFETY: we own [ptr, ptr+len); mremap either moves/resizes it as a whole
        // or fails leaving it intact. `&mut self` guarantees no slice into it is live.
        let new = unsafe {
            libc::mremap(
                self.ptr.as_ptr().cast(),
                self.len,
                new_len,
                libc::MREMAP_MAYMOVE,
            )
        };
        if new == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        self.ptr = NonNull::new(new.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        self.len = new_len;
        Ok(())
    }

    /// Faults in the pages of `offset..offset + len` (page-aligned, inside
    /// the mapping) for writing in one call (`MADV_POPULATE_WRITE`, Linux
    /// 5.14+), so a copy into fresh pages takes no page fault per page. Only
    /// a hint: a kernel without it, or short of memory, leaves the pages to
    /// be faulted in by the copy as before.
    pub(crate) fn populate_write(&self, offset: usize, len: usize) {
        /// Not in the `libc` crate yet; the value is the kernel's ABI.
        const MADV_POPULATE_WRITE: libc::c_int = 23;
        debug_assert!(offset + len <= self.len);
        if len == 0 {
            return;
        }
        // SAFETY: the range lies inside our own mapping; populating only
        // allocates (zeroed) pages behind it and changes no byte.
        let _ = unsafe {
            libc::madvise(
                self.ptr.as_ptr().add(offset).cast(),
                len,
                MADV_POPULATE_WRITE,
            )
        };
    }

    /// Gives the pages of `offset..offset + len` (page-aligned, inside the
    /// mapping) back to the OS; they read as zeros afterwards. For a shared
    /// memfd mapping the caller punches the hole in the file instead.
    pub(crate) fn discard_anonymous(&mut self, offset: usize, len: usize) -> io::Result<()> {
        debug_assert!(offset + len <= self.len);
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside our own private anonymous mapping;
        // MADV_DONTNEED only replaces its pages with zero pages.
        check(unsafe {
            libc::madvise(
                self.ptr.as_ptr().add(offset).cast(),
                len,
                libc::MADV_DONTNEED,
            )
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we own the range and nothing borrows it any more (we are being dropped).
        let ret = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        debug_assert_eq!(ret, 0, "munmap of an owned mapping cannot fail");
    }
}

/// `memfd_create(name, MFD_CLOEXEC)`: see memfd_create(2).
pub(crate) fn memfd_create(name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid NUL-terminated string; the call has no other preconditions.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `ftruncate(fd, len)`: see ftruncate(2).
pub(crate) fn ftruncate(fd: BorrowedFd<'_>, len: usize) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: plain syscall on a borrowed, open descriptor.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len) })
}

/// Punches a hole of `len` bytes at `offset` in a memfd, freeing its pages
/// while keeping the size: see fallocate(2), `FALLOC_FL_PUNCH_HOLE`.
pub(crate) fn punch_hole(fd: BorrowedFd<'_>, offset: usize, len: usize) -> io::Result<()> {
    let too_big = |_| io::Error::from_raw_os_error(libc::EFBIG);
    let (offset, len) = (
        libc::off_t::try_from(offset).map_err(too_big)?,
        libc::off_t::try_from(len).map_err(too_big)?,
    );
    // SAFETY: plain syscall on a borrowed, open descriptor.
    check(unsafe {
        libc::fallocate(
            fd.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            offset,
            len,
        )
    })
}

/// What [`fstat`] reports of a memfd: enough to tell whether another
/// writer changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileState {
    /// `st_size`.
    pub size: u64,
    /// `st_blocks` (512-byte units).
    pub blocks: u64,
    /// `st_mtime`, as the kernel keeps it.
    pub mtime: std::time::SystemTime,
    /// `st_atime`, as the kernel keeps it.
    pub atime: std::time::SystemTime,
}

/// `fstat(fd)`: the size, blocks and modification time.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<FileState> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is writable memory of the right size for the kernel to fill.
    check(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so it filled the whole struct.
    let st = unsafe { st.assume_init() };
    let time = |secs: i64, nanos: i64| {
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0))
            + std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    };
    Ok(FileState {
        size: u64::try_from(st.st_size).unwrap_or(0),
        blocks: u64::try_from(st.st_blocks).unwrap_or(0),
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        atime: time(st.st_atime, st.st_atime_nsec),
    })
}

/// `lseek(fd, offset, whence)`, for `SEEK_DATA`/`SEEK_HOLE` (the
/// descriptor's own offset is never used for I/O here).
pub(crate) fn lseek(fd: BorrowedFd<'_>, offset: usize, whence: libc::c_int) -> io::Result<usize> {
    let off =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: plain syscall on a borrowed, open descriptor.
    let ret = unsafe { libc::lseek(fd.as_raw_fd(), off, whence) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as usize)
}

/// The page size, from sysconf(3).
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// Gives the C heap's free pages back to the OS (glibc `malloc_trim(0)`:
/// the free top of every arena and whole free pages inside them); `true`
/// if any went. A no-op elsewhere (other C libraries, miri).
pub(crate) fn trim_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    {
        // SAFETY: malloc_trim takes no pointers and only walks the
        // allocator's own free lists under its own locks.
        unsafe { libc::malloc_trim(0) != 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", not(miri))))]
    {
        false
    }
}

/// Test-only calls: the kernel's own tmpfs (a memfd) as the oracle that the
/// model tests compare a region's holes against.
#[cfg(test)]
pub(crate) mod oracle {
    use super::check;
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd};

    /// `pwrite` of all of `buf` at `offset`.
    pub(crate) fn pwrite_all(
        fd: BorrowedFd<'_>,
        mut buf: &[u8],
        mut offset: usize,
    ) -> io::Result<()> {
        while !buf.is_empty() {
            let off = libc::off_t::try_from(offset)
                .map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
            // SAFETY: `buf` is a live slice of `buf.len()` readable bytes; the
            // descriptor is borrowed and open.
            let n = unsafe { libc::pwrite(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), off) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            buf = &buf[n..];
            offset += n;
        }
        Ok(())
    }

    pub(crate) use super::lseek;

    /// `fallocate(fd, mode, offset, len)`.
    pub(crate) fn fallocate(
        fd: BorrowedFd<'_>,
        mode: libc::c_int,
        offset: usize,
        len: usize,
    ) -> io::Result<()> {
        let big = |_| io::Error::from_raw_os_error(libc::EFBIG);
        let (off, len) = (
            libc::off_t::try_from(offset).map_err(big)?,
            libc::off_t::try_from(len).map_err(big)?,
        );
        // SAFETY: plain syscall on a borrowed, open descriptor.
        check(unsafe { libc::fallocate(fd.as_raw_fd(), mode, off, len) })
    }

    /// `st_blocks` (512-byte units) from `fstat`.
    pub(crate) fn blocks(fd: BorrowedFd<'_>) -> io::Result<u64> {
        Ok(super::fstat(fd)?.blocks)
    }

    /// `st_size` from `fstat`.
    pub(crate) fn size(fd: BorrowedFd<'_>) -> io::Result<u64> {
        Ok(super::fstat(fd)?.size)
    }
}
