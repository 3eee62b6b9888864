//! The crate's one door to the kernel: every `libc` call of `ermfd`, each behind a safe function.
//!
//! # Safety
//!
//! Every function here takes [`BorrowedFd`] (so the fd stays open for the call) and wraps every fd
//! the kernel hands back in an [`OwnedFd`] at once (so none leaks and none is closed twice).
//! Buffers handed to the kernel are Rust slices whose pointer and length come from the same
//! slice. The only owner of raw memory is [`Mapping`], which unmaps exactly the range it mapped,
//! once, on drop. Return values are turned into `io::Result` in one place ([`cvt`]).
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::{self, NonNull};

/// The kernel's `-1 + errno` convention as an `io::Result`.
fn cvt(ret: c_int) -> io::Result<c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// [`cvt`] for calls that return a byte count.
fn cvt_len(ret: isize) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// [`cvt`] for calls that return a file offset.
fn cvt_off(ret: libc::off_t) -> io::Result<u64> {
    u64::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// Wraps a fd the kernel just returned.
fn owned(fd: c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful syscall that creates a new descriptor, so it
    // is open and nothing else in the process owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `memfd_create(2)`.
pub(crate) fn memfd_create(name: &CStr, flags: c_uint) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and lives for the call; the kernel copies it.
    let fd = cvt(unsafe { libc::memfd_create(name.as_ptr(), flags) })?;
    Ok(owned(fd))
}

/// `ftruncate(2)`.
pub(crate) fn ftruncate(fd: BorrowedFd<'_>, len: i64) -> io::Result<()> {
    // SAFETY: plain syscall on an open fd; no memory is passed.
    cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), len) }).map(drop)
}

/// `fchmod(2)`.
pub(crate) fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: plain syscall on an open fd; no memory is passed.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode) }).map(drop)
}

/// What [`fstat`] reports that this crate uses.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stat {
    /// `st_mode`: type and permission bits.
    pub(crate) mode: u32,
    /// `st_size`, never negative for the files we look at (a negative one reads as 0).
    pub(crate) size: u64,
    /// `st_blksize`: the huge page size on hugetlbfs.
    pub(crate) blksize: u64,
}

impl Stat {
    /// Whether this is a regular file (memfds are).
    pub(crate) fn is_regular(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }
}

/// `fstat(2)`.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid for writes of one `struct stat`, which the kernel fills on success.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so the kernel initialised the whole struct.
    let st = unsafe { st.assume_init() };
    Ok(Stat {
        mode: st.st_mode,
        size: u64::try_from(st.st_size).unwrap_or(0),
        blksize: u64::try_from(st.st_blksize).unwrap_or(0),
    })
}

/// Whether `fd` lives on hugetlbfs (`fstatfs(2)`), whose mappings unmap in huge pages.
pub(crate) fn is_hugetlbfs(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut sfs = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `sfs` is valid for writes of one `struct statfs`, which the kernel fills on success.
    cvt(unsafe { libc::fstatfs(fd.as_raw_fd(), sfs.as_mut_ptr()) })?;
    // SAFETY: fstatfs succeeded, so the kernel initialised the whole struct.
    let sfs = unsafe { sfs.assume_init() };
    // `f_type`'s integer type differs between libcs; compare as the 32-bit magic it is.
    Ok(sfs.f_type as u32 == libc::HUGETLBFS_MAGIC as u32)
}

/// The base page size (`sysconf(_SC_PAGESIZE)`).
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf reads a constant of the running system; no memory is passed.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// `fcntl(F_ADD_SEALS)`.
pub(crate) fn add_seals(fd: BorrowedFd<'_>, seals: c_int) -> io::Result<()> {
    // SAFETY: F_ADD_SEALS takes an int argument; no memory is passed.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) }).map(drop)
}

/// `fcntl(F_GET_SEALS)`.
pub(crate) fn get_seals(fd: BorrowedFd<'_>) -> io::Result<c_int> {
    // SAFETY: F_GET_SEALS takes no argument; no memory is passed.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) })
}

/// `fcntl(F_GETFD)`: the descriptor flags (`FD_CLOEXEC`).
pub(crate) fn get_fd_flags(fd: BorrowedFd<'_>) -> io::Result<c_int> {
    // SAFETY: F_GETFD takes no argument; no memory is passed.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) })
}

/// `fcntl(F_DUPFD)`: a duplicate numbered `min` or above, WITHOUT `FD_CLOEXEC`, so it survives
/// `exec`.
pub(crate) fn dup_inheritable(fd: BorrowedFd<'_>, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD takes an int argument and returns a new descriptor; no memory is passed.
    let new = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD, min) })?;
    Ok(owned(new))
}

/// `pwrite(2)`, one call.
pub(crate) fn pwrite(fd: BorrowedFd<'_>, buf: &[u8], offset: i64) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call.
    cvt_len(unsafe { libc::pwrite(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), offset) })
}

/// `pread(2)`, one call.
pub(crate) fn pread(fd: BorrowedFd<'_>, buf: &mut [u8], offset: i64) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
    cvt_len(unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), offset) })
}

/// `read(2)`, one call.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
    cvt_len(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// `lseek(2)`.
pub(crate) fn lseek(fd: BorrowedFd<'_>, offset: i64, whence: c_int) -> io::Result<u64> {
    // SAFETY: plain syscall on an open fd; no memory is passed.
    cvt_off(unsafe { libc::lseek(fd.as_raw_fd(), offset, whence) })
}

/// How a [`Mapping`] maps its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// `PROT_READ | PROT_WRITE`, `MAP_SHARED`: stores reach the file.
    SharedWrite,
    /// `PROT_READ`, `MAP_PRIVATE`.
    PrivateRead,
}

/// An owned `mmap` of a file range `[0, len)`, unmapped on drop.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    /// What `munmap` must be given: `len` rounded up to the huge page size on hugetlbfs.
    map_len: usize,
}

// SAFETY: a Mapping owns its pages exclusively like a `Box<[u8]>` (shared access goes through
// `&self`, mutation through `&mut self`); nothing in it is tied to the thread that mapped it.
unsafe impl Send for Mapping {}
// SAFETY: `&Mapping` only gives out `&[u8]`, which is safe to share like any byte slice.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `mmap(NULL, len, ..., fd, 0)`; `len` must not be 0 (the caller handles empty maps).
    /// `map_len` (>= `len`) is what drop unmaps.
    pub(crate) fn new(
        fd: BorrowedFd<'_>,
        len: usize,
        map_len: usize,
        access: Access,
    ) -> io::Result<Mapping> {
        if len == 0 || map_len < len {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let (prot, flags) = match access {
            Access::SharedWrite => (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED),
            Access::PrivateRead => (libc::PROT_READ, libc::MAP_PRIVATE),
        };
        // SAFETY: a fresh mapping chosen by the kernel (NULL hint, no MAP_FIXED) cannot overlap
        // any memory Rust already uses; the fd is open for the call.
        let ptr = unsafe { libc::mmap(ptr::null_mut(), len, prot, flags, fd.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Mapping { ptr, len, map_len })
    }

    /// The mapped bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of at least `len` readable bytes, owned by `self` until
        // drop; the file range behind it was checked to exist when it was mapped.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, writable (only meaningful for [`Access::SharedWrite`]; a read-only
    /// mapping is never handed out mutably by the callers).
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only reference to the bytes.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`map_len` describe exactly the mapping made in `new`, unmapped only here;
        // no slice borrowed from `self` can outlive this call.
        let ret = unsafe { libc::munmap(self.ptr.as_ptr().cast::<c_void>(), self.map_len) };
        // munmap of a range we mapped cannot fail short of a kernel bug; nothing to do if it did.
        debug_assert_eq!(ret, 0, "munmap of our own mapping failed");
    }
}

/// Control-message buffer, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct CmsgBuf([u8; 256]);

/// `CMSG_SPACE(len)`: bytes a control message with `len` data bytes takes, padding included.
fn cmsg_space(len: c_uint) -> usize {
    // SAFETY: CMSG_SPACE is pure arithmetic on its argument (unsafe only by libc's declaration).
    unsafe { libc::CMSG_SPACE(len) as usize }
}

/// `CMSG_LEN(len)`: the `cmsg_len` of a control message with `len` data bytes.
fn cmsg_len(len: c_uint) -> usize {
    // SAFETY: CMSG_LEN is pure arithmetic on its argument (unsafe only by libc's declaration).
    unsafe { libc::CMSG_LEN(len) as usize }
}

/// A zeroed `msghdr` (it has private padding fields, so it cannot be built literally).
fn zeroed_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is a plain C struct of pointers and integers; all-zero is a valid value
    // (null pointers, zero lengths).
    unsafe { std::mem::zeroed() }
}

/// `sendmsg(2)` of one data byte carrying `fd` as `SCM_RIGHTS`. Returns the bytes sent.
pub(crate) fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<usize> {
    let byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_ptr().cast_mut().cast(),
        iov_len: byte.len(),
    };
    let mut cbuf = CmsgBuf([0; 256]);
    let fd_len = std::mem::size_of::<c_int>() as c_uint;
    let mut msg = zeroed_msghdr();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    // CMSG_SPACE of one int is 24 on 64-bit Linux, well inside the 256-byte buffer.
    msg.msg_controllen = cmsg_space(fd_len) as _;
    // SAFETY: msg_control points at a buffer of msg_controllen >= sizeof(cmsghdr) bytes, so
    // CMSG_FIRSTHDR returns a non-null, aligned header inside it.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    if cmsg.is_null() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `cmsg` points at a header inside `cbuf` with room for its data (CMSG_SPACE above);
    // the fd is written unaligned because CMSG_DATA does not promise int alignment.
    unsafe {
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = cmsg_len(fd_len) as _;
        ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>(), fd.as_raw_fd());
    }
    loop {
        // SAFETY: `msg` and everything it points to (iov, byte, cbuf) live for the call.
        let ret = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        match cvt_len(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// What one [`recv_fd`] call received.
pub(crate) struct Received {
    /// Data bytes read (0 at end of stream).
    pub(crate) bytes: usize,
    /// The first fd of the message, if any; further fds were closed.
    pub(crate) fd: Option<OwnedFd>,
}

/// `recvmsg(2)` of one data byte with `MSG_CMSG_CLOEXEC`, collecting `SCM_RIGHTS` fds.
pub(crate) fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<Received> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: byte.len(),
    };
    // Room for dozens of fds: a peer that sends more than one gets the extras closed here
    // rather than silently dropped by the kernel.
    let mut cbuf = CmsgBuf([0; 256]);
    let mut msg = zeroed_msghdr();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = cbuf.0.len() as _;
    let bytes = loop {
        // SAFETY: `msg` and everything it points to (iov, byte, cbuf) live for the call and are
        // writable for the lengths given.
        let ret = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        match cvt_len(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    let mut first = None;
    // SAFETY: recvmsg set msg_controllen to the bytes of control data it wrote into `cbuf`, so
    // walking with CMSG_FIRSTHDR/CMSG_NXTHDR stays inside that data.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is a header the kernel wrote inside `cbuf` (see above); copied out
        // unaligned-safe.
        let hdr = unsafe { ptr::read_unaligned(cmsg) };
        if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
            // cmsg_len is size_t on glibc but socklen_t on musl.
            #[allow(clippy::unnecessary_cast)]
            let data_len = (hdr.cmsg_len as usize).saturating_sub(cmsg_len(0));
            let count = data_len / std::mem::size_of::<c_int>();
            // SAFETY: `cmsg` is a valid header (above); CMSG_DATA only offsets the pointer.
            let data = unsafe { libc::CMSG_DATA(cmsg) }.cast::<c_int>();
            for i in 0..count {
                // SAFETY: the kernel wrote `count` ints at `data` (cmsg_len says so), inside
                // `cbuf`; read unaligned as CMSG_DATA does not promise int alignment.
                let raw = unsafe { data.add(i).read_unaligned() };
                // Every received fd is new in this process: own it at once so extras close.
                let fd = owned(raw);
                if first.is_none() {
                    first = Some(fd);
                }
            }
        }
        // SAFETY: `cmsg` is inside the control data; CMSG_NXTHDR returns the next header in it
        // or null at its end.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok(Received { bytes, fd: first })
}

/// Calls `f` with `list` as a NULL-terminated array of C string pointers. Up to 63 entries live
/// on the stack, so no allocation happens (this runs between `fork` and `exec`).
fn with_ptrs<R>(list: &[&CStr], f: impl FnOnce(&[*const c_char]) -> R) -> R {
    const ON_STACK: usize = 64;
    if list.len() < ON_STACK {
        let mut ptrs = [ptr::null::<c_char>(); ON_STACK];
        for (slot, s) in ptrs.iter_mut().zip(list) {
            *slot = s.as_ptr();
        }
        f(&ptrs[..=list.len()])
    } else {
        let ptrs: Vec<*const c_char> = list
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(ptr::null()))
            .collect();
        f(&ptrs)
    }
}

/// `fexecve(3)`: only returns on failure, with the error.
pub(crate) fn fexecve(fd: BorrowedFd<'_>, argv: &[&CStr], envp: &[&CStr]) -> io::Error {
    with_ptrs(argv, |argv| {
        with_ptrs(envp, |envp| {
            // SAFETY: `argv` and `envp` are NULL-terminated arrays of pointers to NUL-terminated
            // strings, all alive for the call; on success the call does not return.
            unsafe { libc::fexecve(fd.as_raw_fd(), argv.as_ptr(), envp.as_ptr()) };
            io::Error::last_os_error()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_arrays_are_null_terminated_on_stack_and_heap() {
        let a = c"a";
        for n in [0usize, 1, 63, 64, 200] {
            let list = vec![a; n];
            with_ptrs(&list, |ptrs| {
                assert_eq!(ptrs.len(), n + 1);
                assert!(ptrs[n].is_null());
                assert!(ptrs[..n].iter().all(|p| *p == a.as_ptr()));
            });
        }
    }
}
