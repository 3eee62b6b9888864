//! The crate's only syscall module: mounting a FUSE file system with
//! mount(2) under its own type name, and unmounting.
//!
//! fuser mounts as root with the type `fuse` (its `subtype=` reaches only
//! fusermount3), so `findmnt -t fuse.ermfs` would miss root mounts; the
//! kernel takes `fuse.<subtype>` as the type itself. Also the process
//! plumbing of a mount daemon ([`crate::daemon`]): fork, signal masks,
//! standard fds, the machine's RAM.
//!
//! # Safety
//! Each call passes only pointers to live, properly initialised values
//! owned by the caller for the call's duration, and takes ownership of an
//! fd only right after the kernel created it. `fork` runs only in a
//! process with a single thread (checked first), so the child is a whole
//! copy of it.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Opens `/dev/fuse` and mounts it on `dir` as type `fstype` from `source`
/// with `flags` (`MS_*`) and the FUSE options `data` (this function adds
/// the `fd=`); returns the device, whose first read is the kernel's INIT.
///
/// # Errors
/// `EPERM` without `CAP_SYS_ADMIN`, the mount's other errors, `EINVAL`
/// for a NUL in a name.
pub(crate) fn mount_fuse(
    dir: &Path,
    source: &str,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> io::Result<OwnedFd> {
    let nul = |_| io::Error::from_raw_os_error(libc::EINVAL);
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")?;
    let fd = OwnedFd::from(dev);
    let target = CString::new(dir.as_os_str().as_bytes()).map_err(nul)?;
    let source = CString::new(source).map_err(nul)?;
    let fstype = CString::new(fstype).map_err(nul)?;
    let data = CString::new(format!(
        "fd={},{data}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .map_err(nul)?;
    // SAFETY: every pointer is a NUL-terminated string that outlives the
    // call; the kernel only reads them.
    let r = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Unmounts `dir` (umount2(2)); `lazy` detaches it now and lets it go
/// when the last user leaves (`MNT_DETACH`).
///
/// # Errors
/// `EBUSY` for a busy mount (not lazy), `EINVAL` if `dir` is not a mount
/// point, `EPERM` without the right.
pub(crate) fn unmount(dir: &Path, lazy: bool) -> io::Result<()> {
    let target = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let flags = if lazy { libc::MNT_DETACH } else { 0 };
    // SAFETY: `target` is a NUL-terminated string that outlives the call.
    if unsafe { libc::umount2(target.as_ptr(), flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The effective uid of this process.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// `pipe2(O_CLOEXEC)`: (read end, write end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both fds are open and owned by no one else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Whether this process runs exactly one thread (`/proc/self/status`).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .is_some_and(|n| n.trim() == "1")
    })
}

/// `fork()` then, in the child, `setsid()`: `Ok(None)` in the child,
/// `Ok(Some(pid))` in the parent.
///
/// # Errors
/// `EBUSY` if the process already runs other threads (the child would
/// inherit their locks but not them), fork's own errors.
pub(crate) fn fork_session() -> io::Result<Option<i32>> {
    if !single_threaded() {
        return Err(io::Error::from_raw_os_error(libc::EBUSY));
    }
    // SAFETY: the process is single-threaded (checked above), so the child
    // is a complete copy of it and may do anything the parent could.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // SAFETY: setsid has no memory effects; failure is harmless.
            unsafe { libc::setsid() };
            Ok(None)
        }
        pid => Ok(Some(pid)),
    }
}

/// Points fd `target` (0, 1 or 2) at `fd` (`dup2`).
pub(crate) fn redirect(fd: BorrowedFd<'_>, target: i32) -> io::Result<()> {
    // SAFETY: dup2 takes two fd numbers; `fd` is open for the call, and
    // the standard fds belong to the process.
    if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A signal set of `signals`, blocked in this thread (and the threads it
/// starts after this).
pub(crate) fn block(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: an all-zero sigset_t is a valid value to initialise.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t; these calls only write to it and
    // to this thread's signal mask.
    unsafe {
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    set
}

/// Waits for one of the (blocked) signals in `set`; returns its number.
pub(crate) fn wait(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    // SAFETY: `set` and `sig` are valid for the call.
    unsafe { libc::sigwait(set, &mut sig) };
    sig
}

/// Sends `sig` to this process.
pub(crate) fn raise_in_process(sig: i32) {
    // SAFETY: kill on our own pid; no memory involved.
    unsafe { libc::kill(libc::getpid(), sig) };
}

/// (real uid, real gid) of this process.
pub(crate) fn ids() -> (u32, u32) {
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    unsafe { (libc::getuid(), libc::getgid()) }
}

/// The machine's RAM in bytes (`_SC_PHYS_PAGES` x the page size).
pub(crate) fn ram_bytes() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    u64::try_from(pages)
        .unwrap_or(0)
        .saturating_mul(u64::try_from(page).unwrap_or(4096))
}

/// The major number of a `dev_t` (glibc's layout, as `stat` gives it).
pub(crate) fn major(dev: u64) -> u32 {
    libc::major(dev)
}

/// The minor number of a `dev_t`.
pub(crate) fn minor(dev: u64) -> u32 {
    libc::minor(dev)
}

/// A `dev_t` from its major and minor numbers.
pub(crate) fn makedev(major: u32, minor: u32) -> u64 {
    libc::makedev(major, minor)
}

/// An `ioctl` number as the kernel's `_IOC` macro makes it: direction
/// (1 write, 2 read), size of the argument, type byte and number.
pub(crate) const fn ioc(dir: u32, kind: u8, nr: u8, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((kind as u32) << 8) | nr as u32
}

/// `ioctl(fd, cmd, buf)`, where `cmd`'s size field is `buf.len()`: the
/// kernel (FUSE forwards it to the daemon) reads `buf` for an `_IOW`
/// command and fills it for an `_IOR` one.
///
/// # Errors
/// The ioctl's errno (`ENOTTY` for a command the file does not know).
pub(crate) fn ioctl_buf(fd: BorrowedFd<'_>, cmd: u32, buf: &mut [u8]) -> io::Result<()> {
    if ((cmd >> 16) & 0x3fff) as usize != buf.len() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `buf` is live and writable for its whole length, which is
    // exactly the size `cmd` tells the kernel to read or write.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, buf.as_mut_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets the per-mount flags of the mount at `dir` (`MS_REMOUNT |
/// MS_BIND`: nosuid, nodev, noexec, read-only and the atime policy),
/// keeping the first four as they are and putting `atime` (one of
/// `MS_NOATIME`, `MS_RELATIME`, `MS_STRICTATIME`) in place of the old one.
///
/// # Errors
/// `EPERM` without `CAP_SYS_ADMIN`, `EINVAL` if `dir` is not a mount point.
pub(crate) fn set_mount_atime(dir: &Path, atime: libc::c_ulong) -> io::Result<()> {
    let target = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: an all-zero statvfs is a valid value for the call to fill.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `target` is NUL-terminated and `st` valid for writes.
    if unsafe { libc::statvfs(target.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut flags = libc::MS_REMOUNT | libc::MS_BIND | atime;
    for (st_flag, ms_flag) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_RDONLY, libc::MS_RDONLY),
    ] {
        if st.f_flag & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    // SAFETY: `target` outlives the call; the other pointers are null,
    // which a bind remount allows.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            target.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
