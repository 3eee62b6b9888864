//! Making memfds ([`create`]), freezing them ([`seal`]) and reading their seals ([`seals`]).

use crate::flags::{ExportFlags, Seals};
use crate::sys;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
// A one-time detection cache, not a concurrent data structure: every interleaving gives a right
// answer (at worst two threads both probe), so it uses std atomics directly, also under loom.
use std::sync::atomic::{AtomicU8, Ordering};

/// The longest memfd name the kernel takes, in bytes: `NAME_MAX` (255) less the `"memfd:"`
/// prefix. [`create`] cuts longer names to this.
pub const NAME_MAX: usize = 249;

/// Whether the kernel knows `MFD_NOEXEC_SEAL`/`MFD_EXEC`: not probed yet, yes, no.
static NOEXEC_SEAL: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const SUPPORTED: u8 = 1;
const UNSUPPORTED: u8 = 2;

/// Whether this kernel knows `MFD_NOEXEC_SEAL` (Linux 6.3 and later).
///
/// The first call probes once with a throw-away memfd: `EINVAL` means an older kernel. The answer
/// is kept in a static for the life of the process. Errors other than `EINVAL` (say `EMFILE`) are
/// returned and not remembered.
pub fn noexec_seal_supported() -> io::Result<bool> {
    match NOEXEC_SEAL.load(Ordering::Relaxed) {
        SUPPORTED => return Ok(true),
        UNSUPPORTED => return Ok(false),
        _ => {}
    }
    let flags = libc::MFD_CLOEXEC | libc::MFD_NOEXEC_SEAL;
    let supported = match sys::memfd_create(c"ermfd-probe", flags) {
        Ok(_probe) => true,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => false,
        Err(e) => return Err(e),
    };
    let state = if supported { SUPPORTED } else { UNSUPPORTED };
    NOEXEC_SEAL.store(state, Ordering::Relaxed);
    Ok(supported)
}

/// `name` as a C string in `buf`: cut at the first NUL and at [`NAME_MAX`] bytes.
fn c_name<'b>(name: &[u8], buf: &'b mut [u8; NAME_MAX + 1]) -> &'b CStr {
    let end = name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name.len())
        .min(NAME_MAX);
    buf[..end].copy_from_slice(&name[..end]);
    buf[end] = 0;
    CStr::from_bytes_until_nul(&buf[..=end]).expect("a NUL was just written at `end`")
}

/// A new memfd named `name`, `len` bytes long (all zero), offset 0, ready to be filled with
/// [`write_all_at`](crate::write_all_at) or [`map_mut`](crate::map_mut).
///
/// It is made with `memfd_create(2)` and `MFD_CLOEXEC | MFD_ALLOW_SEALING`, then:
///
/// - without [`ExportFlags::EXECUTABLE`]: `MFD_NOEXEC_SEAL` on kernels that have it (6.3+, see
///   [`noexec_seal_supported`]), so the mode is `0o666` and `F_SEAL_EXEC` keeps it so; on older
///   kernels the mode is set to `0o666` with `fchmod` (which the holder could undo);
/// - with [`ExportFlags::EXECUTABLE`]: `MFD_EXEC` on kernels that have it, and mode `0o755`. A
///   kernel whose `vm.memfd_noexec` sysctl is 2 refuses executable memfds: its errno is returned;
/// - with [`ExportFlags::HUGETLB`]: `MFD_HUGETLB` (the default huge page size). The kernel may
///   refuse: `EINVAL` (no hugetlbfs in the kernel), `ENOENT` (no hugetlbfs mount for the size),
///   or `ENOMEM` (no huge page to reserve: `vm.nr_hugepages` is 0 on most machines) — `create`
///   reserves the pages once with a throw-away mapping so this shows here, not at first touch.
///   hugetlbfs only takes sizes in whole huge pages, so **the file's visible size is `len`
///   rounded up to the huge page size** (2 MiB on x86-64; `fstat` shows it; the tail reads as
///   zeros). It also does not implement `write(2)`: fill it through [`map_mut`](crate::map_mut).
///
/// [`ExportFlags::SEALED`] is not applied here (a sealed empty file could never be filled): call
/// [`seal`] once the bytes are in.
///
/// `name` is only a label (it shows in `/proc/self/fd` as `/memfd:NAME (deleted)`): it is cut at
/// its first NUL byte and at [`NAME_MAX`] bytes, never an error.
///
/// # Errors
///
/// `EINVAL` if `len > i64::MAX` (as the kernel says for a negative size), and the kernel's errno
/// from `memfd_create`, `fchmod` or `ftruncate` (`EMFILE`, `ENFILE`, `ENOMEM`...). On error no fd
/// is left open.
pub fn create(name: &[u8], len: u64, flags: ExportFlags) -> io::Result<OwnedFd> {
    let einval = || io::Error::from_raw_os_error(libc::EINVAL);
    let len = i64::try_from(len).map_err(|_| einval())?;
    let executable = flags.contains(ExportFlags::EXECUTABLE);
    let hugetlb = flags.contains(ExportFlags::HUGETLB);
    let sealed_noexec = noexec_seal_supported()?;

    let mut mfd = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    if hugetlb {
        mfd |= libc::MFD_HUGETLB;
    }
    if sealed_noexec {
        mfd |= if executable {
            libc::MFD_EXEC
        } else {
            libc::MFD_NOEXEC_SEAL
        };
    }
    let mut buf = [0u8; NAME_MAX + 1];
    let fd = sys::memfd_create(c_name(name, &mut buf), mfd)?;

    if executable {
        sys::fchmod(fd.as_fd(), 0o755)?;
    } else if !sealed_noexec {
        sys::fchmod(fd.as_fd(), 0o666)?;
    }

    let len = if hugetlb {
        let page = sys::fstat(fd.as_fd())?.blksize.max(1);
        let pages = (len as u64).div_ceil(page);
        let rounded = pages.checked_mul(page).and_then(|n| i64::try_from(n).ok());
        rounded.ok_or_else(|| io::Error::from_raw_os_error(libc::EFBIG))?
    } else {
        len
    };
    sys::ftruncate(fd.as_fd(), len)?;
    if hugetlb && len > 0 {
        // Reserve the huge pages once so a machine without them fails here with ENOMEM.
        let len = usize::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
        drop(sys::Mapping::new(
            fd.as_fd(),
            len,
            len,
            sys::Access::SharedWrite,
        )?);
    }
    Ok(fd)
}

/// Freezes a memfd: adds `F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL`
/// ([`Seals::IMMUTABLE`]), so whoever holds it can trust its bytes and size never change again.
///
/// # Errors
///
/// - `EBUSY` while a writable shared mapping of the file exists: drop every
///   [`MapMut`](crate::MapMut) of it first;
/// - `EPERM` if the file was made without `MFD_ALLOW_SEALING` or is already sealed with
///   `F_SEAL_SEAL` (sealing twice fails), or the fd is not open for writing;
/// - `EINVAL` if the fd is not a memfd (or other sealable file); `EBADF` if it is not open.
pub fn seal(fd: BorrowedFd<'_>) -> io::Result<()> {
    sys::add_seals(fd, Seals::IMMUTABLE.bits() as libc::c_int)
}

/// The seals on a memfd (`fcntl(F_GET_SEALS)`).
///
/// # Errors
///
/// `EINVAL` if the file does not support sealing; `EBADF` if the fd is not open.
pub fn seals(fd: BorrowedFd<'_>) -> io::Result<Seals> {
    sys::get_seals(fd).map(|bits| Seals::from_bits(bits as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_at_nul_and_at_the_kernel_limit() {
        let mut buf = [0u8; NAME_MAX + 1];
        assert_eq!(c_name(b"plain", &mut buf).to_bytes(), b"plain");
        assert_eq!(c_name(b"a\0b", &mut buf).to_bytes(), b"a");
        assert_eq!(c_name(b"", &mut buf).to_bytes(), b"");
        let long = [b'x'; 1000];
        assert_eq!(c_name(&long, &mut buf).to_bytes().len(), NAME_MAX);
        assert_eq!(
            c_name(&long[..NAME_MAX], &mut buf).to_bytes().len(),
            NAME_MAX
        );
    }
}
