//! Bad input at the C boundary, driven from Rust through the exported
//! functions themselves: NULL pointers, bad descriptors, huge lengths,
//! malformed options and environment values, and a panic in a body.
//! (The behaviour of the calls is tested in C: `tests/c/`, run by
//! `cargo xtask c-test`.)

#![allow(clippy::unwrap_used)]

use std::ffi::{CString, c_int};
use std::io;
use std::ptr::{null, null_mut};

use crate::boundary::{Failure, call, set_errno};
use crate::control::*;
use crate::dir::*;
use crate::fd::*;
use crate::instance::*;
use crate::links::*;
use crate::meta::*;
use crate::names::*;
use crate::space::*;
use crate::xattr::*;

/// The calling thread's errno.
fn errno() -> c_int {
    io::Error::last_os_error().raw_os_error().unwrap()
}

/// Asserts that `rc` is the failure value and errno is `code`.
fn fails<R: Failure + PartialEq + std::fmt::Debug>(rc: R, code: c_int) {
    assert_eq!((rc, errno()), (R::FAILED, code));
}

/// A fresh explicit instance, freed on drop.
struct Instance(*mut ermfs_t);

impl Instance {
    fn new(lockless: bool) -> Instance {
        let opts = ermfs_options_t {
            lockless,
            ..Default::default()
        };
        // SAFETY: `opts` is a live options struct.
        let fs = unsafe { ermfs_new(&opts) };
        assert!(!fs.is_null());
        Instance(fs)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: from ermfs_new, freed once, used by this thread only.
        unsafe { ermfs_free(self.0) };
    }
}

fn each(f: impl Fn(*const ermfs_t)) {
    for lockless in [false, true] {
        let fs = Instance::new(lockless);
        f(fs.0);
    }
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

#[test]
fn null_pointers_are_efault() {
    each(|fs| {
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: every pointer below is NULL or live, as the API asks.
        unsafe {
            fails(ermfs_fs_open(fs, null(), libc::O_RDONLY, 0), libc::EFAULT);
            fails(ermfs_fs_stat(fs, null(), st.as_mut_ptr()), libc::EFAULT);
            fails(ermfs_fs_stat(fs, c("/").as_ptr(), null_mut()), libc::EFAULT);
            fails(ermfs_fs_mkdir(fs, null(), 0o755), libc::EFAULT);
            fails(ermfs_fs_rename(fs, c("/a").as_ptr(), null()), libc::EFAULT);
            fails(ermfs_fs_stats(fs, null_mut()), libc::EFAULT);
            fails(ermfs_fs_opendir(fs, null()), libc::EFAULT);
            fails(ermfs_readdir(null_mut()), libc::EFAULT);
            fails(ermfs_closedir(null_mut()), libc::EFAULT);
            fails(ermfs_fs_close(null(), 0), libc::EFAULT);
            fails(ermfs_fs_open(null(), c("/").as_ptr(), 0, 0), libc::EFAULT);
            fails(ermfs_options_init(null_mut()), libc::EFAULT);
            ermfs_free(null_mut());
        }
    });
}

#[test]
fn bad_descriptors_and_lengths() {
    each(|fs| {
        let mut buf = [0u8; 16];
        let p = buf.as_mut_ptr().cast();
        // SAFETY: `buf` is live for 16 bytes where the length says so; the
        // huge lengths are refused before any access.
        unsafe {
            fails(ermfs_fs_read(fs, 7, p, 16), libc::EBADF);
            // Linux checks the descriptor and the offset before the buffer.
            fails(ermfs_fs_read(fs, 7, null_mut(), 1), libc::EBADF);
            fails(ermfs_fs_pwrite(fs, 7, null(), 1, -1), libc::EINVAL);
            fails(ermfs_fs_close(fs, -1), libc::EBADF);
            fails(ermfs_fs_dup2(fs, 3, 4), libc::EBADF);
            fails(ermfs_fs_lseek(fs, i32::MAX, 0, libc::SEEK_SET), libc::EBADF);
            let fd = ermfs_fs_open(fs, c("/f").as_ptr(), libc::O_CREAT | libc::O_RDWR, 0o644);
            assert!(fd >= 0);
            fails(ermfs_fs_read(fs, fd, null_mut(), 1), libc::EFAULT);
            let ro = ermfs_fs_open(fs, c("/f").as_ptr(), libc::O_RDONLY, 0);
            fails(ermfs_fs_write(fs, ro, null(), 1), libc::EBADF);
            assert_eq!(ermfs_fs_close(fs, ro), 0);
            fails(ermfs_fs_write(fs, fd, p, usize::MAX), libc::EFAULT);
            fails(
                ermfs_fs_pread(fs, fd, p, isize::MAX as usize + 1, 0),
                libc::EFAULT,
            );
            fails(ermfs_fs_pwrite(fs, fd, p, 16, -1), libc::EINVAL);
            fails(ermfs_fs_pwrite(fs, fd, p, 16, i64::MAX - 4), libc::EINVAL);
            fails(ermfs_fs_ftruncate(fs, fd, -1), libc::EINVAL);
            fails(
                ermfs_fs_lseek(fs, fd, i64::MIN, libc::SEEK_SET),
                libc::EINVAL,
            );
            assert_eq!(ermfs_fs_read(fs, fd, null_mut(), 0), 0);
            assert_eq!(ermfs_fs_write(fs, fd, null(), 0), 0);
            assert_eq!(ermfs_fs_close(fs, fd), 0);
            fails(ermfs_fs_dup(fs, fd), libc::EBADF);
        }
    });
}

/// A call's result as the kernel reports it: the value, or -1 and errno.
fn answer(rc: isize) -> (isize, c_int) {
    (rc, if rc < 0 { errno() } else { 0 })
}

/// A kernel memfd (tmpfs) holding `hello`, its offset at 0, for reading and
/// writing, and one opened read-only.
fn memfd_oracle() -> (c_int, c_int) {
    // SAFETY: a NUL-terminated name; the fds are closed by the caller.
    unsafe {
        let fd = libc::memfd_create(c"oracle".as_ptr(), libc::MFD_CLOEXEC);
        assert!(fd >= 0);
        assert_eq!(libc::write(fd, b"hello".as_ptr().cast(), 5), 5);
        assert_eq!(libc::lseek(fd, 0, libc::SEEK_SET), 0);
        let path = c(&format!("/proc/self/fd/{fd}"));
        let ro = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        assert!(ro >= 0);
        (fd, ro)
    }
}

#[test]
fn bad_buffers_match_the_kernel() {
    let (kfd, kro) = memfd_oracle();
    // Any directory: `read` refuses directories in the VFS, whatever the fs.
    let dir = c(env!("CARGO_MANIFEST_DIR"));
    // SAFETY: a NUL-terminated path.
    let kdir = unsafe { libc::open(dir.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    assert!(kdir >= 0);
    each(|fs| {
        let mut buf = [0u8; 16];
        let p = buf.as_mut_ptr().cast::<libc::c_void>();
        let max = isize::MAX as usize;
        // SAFETY: `buf` is live for 16 bytes; the longer counts reach past
        // the user address space and are refused before any access, by the
        // kernel as by ERMFS; NULL buffers are never dereferenced.
        unsafe {
            let fd = ermfs_fs_open(fs, c("/f").as_ptr(), libc::O_CREAT | libc::O_RDWR, 0o644);
            assert_eq!(ermfs_fs_write(fs, fd, b"hello".as_ptr().cast(), 5), 5);
            assert_eq!(ermfs_fs_lseek(fs, fd, 0, libc::SEEK_SET), 0);
            let ro = ermfs_fs_open(fs, c("/f").as_ptr(), libc::O_RDONLY, 0);
            assert_eq!(ermfs_fs_mkdir(fs, c("/d").as_ptr(), 0o755), 0);
            let dfd = ermfs_fs_open(fs, c("/d").as_ptr(), libc::O_RDONLY, 0);
            assert!(fd >= 0 && ro >= 0 && dfd >= 0);
            // Each side's errno is taken right after its call.
            let same = |what: &str, kernel: &dyn Fn() -> isize, ours: &dyn Fn() -> isize| {
                let k = answer(kernel());
                assert_eq!(answer(ours()), k, "{what}: ERMFS differs from the kernel");
            };
            same("write SSIZE_MAX", &|| libc::write(kfd, p, max), &|| {
                ermfs_fs_write(fs, fd, p, max)
            });
            same(
                "write SIZE_MAX",
                &|| libc::write(kfd, p, usize::MAX),
                &|| ermfs_fs_write(fs, fd, p, usize::MAX),
            );
            same(
                "pwrite SSIZE_MAX",
                &|| libc::pwrite(kfd, p, max, 0),
                &|| ermfs_fs_pwrite(fs, fd, p, max, 0),
            );
            same("read SSIZE_MAX", &|| libc::read(kfd, p, max), &|| {
                ermfs_fs_read(fs, fd, p, max)
            });
            same("pread SSIZE_MAX", &|| libc::pread(kfd, p, max, 0), &|| {
                ermfs_fs_pread(fs, fd, p, max, 0)
            });
            same(
                "pread SSIZE_MAX at the end",
                &|| libc::pread(kfd, p, max, 5),
                &|| ermfs_fs_pread(fs, fd, p, max, 5),
            );
            same(
                "pread SSIZE_MAX at -1",
                &|| libc::pread(kfd, p, max, -1),
                &|| ermfs_fs_pread(fs, fd, p, max, -1),
            );
            same(
                "read SSIZE_MAX, bad fd",
                &|| libc::read(-1, p, max),
                &|| ermfs_fs_read(fs, -1, p, max),
            );
            same(
                "write SSIZE_MAX, read-only",
                &|| libc::write(kro, p, max),
                &|| ermfs_fs_write(fs, ro, p, max),
            );
            same(
                "read SSIZE_MAX, directory",
                &|| libc::read(kdir, p, max),
                &|| ermfs_fs_read(fs, dfd, p, max),
            );
            same(
                "read NULL, directory",
                &|| libc::read(kdir, null_mut(), 8),
                &|| ermfs_fs_read(fs, dfd, null_mut(), 8),
            );
            same(
                "pread NULL",
                &|| libc::pread(kfd, null_mut(), 8, 0),
                &|| ermfs_fs_pread(fs, fd, null_mut(), 8, 0),
            );
            same("write NULL", &|| libc::pwrite(kfd, null(), 8, 0), &|| {
                ermfs_fs_pwrite(fs, fd, null(), 8, 0)
            });
            same(
                "write NULL, 0 bytes",
                &|| libc::write(kfd, null(), 0),
                &|| ermfs_fs_write(fs, fd, null(), 0),
            );
            // The one deliberate difference (SEMANTICS.md): the kernel copies
            // nothing at the end of a file, so it never meets a NULL buffer
            // there and returns 0; ERMFS refuses NULL wherever the offset is.
            assert_eq!(answer(libc::pread(kfd, null_mut(), 8, 5)), (0, 0));
            assert_eq!(
                answer(ermfs_fs_pread(fs, fd, null_mut(), 8, 5)),
                (-1, libc::EFAULT)
            );
            // Nothing above moved either offset or changed either file.
            assert_eq!(libc::lseek(kfd, 0, libc::SEEK_CUR), 0);
            assert_eq!(ermfs_fs_lseek(fs, fd, 0, libc::SEEK_CUR), 0);
            assert_eq!(ermfs_fs_read(fs, fd, p, 16), 5);
            assert_eq!(ermfs_fs_close(fs, dfd), 0);
            assert_eq!(ermfs_fs_close(fs, ro), 0);
            assert_eq!(ermfs_fs_close(fs, fd), 0);
            assert_eq!(ermfs_fs_unlink(fs, c("/f").as_ptr()), 0);
        }
    });
    // SAFETY: fds this test opened, closed once.
    unsafe {
        for fd in [kfd, kro, kdir] {
            libc::close(fd);
        }
    }
}

#[test]
fn errno_is_untouched_on_success_and_end_of_directory() {
    each(|fs| {
        set_errno(12345);
        // SAFETY: live C strings and a live directory stream.
        unsafe {
            assert_eq!(ermfs_fs_mkdir(fs, c("/d").as_ptr(), 0o755), 0);
            let dir = ermfs_fs_opendir(fs, c("/d").as_ptr());
            assert!(!dir.is_null());
            assert_eq!((*ermfs_readdir(dir)).d_name[0], b'.' as _);
            assert_eq!((*ermfs_readdir(dir)).d_type, ERMFS_DT_DIR);
            assert!(ermfs_readdir(dir).is_null());
            assert_eq!(ermfs_closedir(dir), 0);
        }
        assert_eq!(errno(), 12345);
    });
}

#[test]
fn options_are_checked() {
    let mut opts = ermfs_options_t::default();
    // SAFETY: `opts` is live and writable.
    unsafe {
        assert_eq!(ermfs_options_init(&mut opts), 0);
        opts.policy = 7;
        fails(ermfs_new(&opts), libc::EINVAL);
        opts.policy = ERMFS_POLICY_BACKGROUND;
        opts.block_size = 1;
        fails(ermfs_new(&opts), libc::EINVAL);
        opts.block_size = ermfs_options_t::default().block_size;
        opts.fd_capacity = 0;
        fails(ermfs_new(&opts), libc::EINVAL);
        opts.fd_capacity = 8;
        let fs = ermfs_new(&opts);
        assert!(!fs.is_null());
        assert_eq!(ermfs_fs_settle(fs), 0);
        ermfs_free(fs);
    }
}

#[test]
fn environment_values() {
    assert_eq!(parse_size("4096"), Some(4096));
    assert_eq!(parse_size(" 64M "), Some(64 << 20));
    assert_eq!(parse_size("2g"), Some(2 << 30));
    assert_eq!(parse_size("1k"), Some(1024));
    assert_eq!(parse_size("0"), Some(0));
    for bad in [
        "",
        "M",
        "-1",
        "1.5G",
        "12Q",
        "99999999999999999999",
        "20000000T",
    ] {
        assert_eq!(parse_size(bad), None, "{bad:?}");
    }
    assert_eq!(parse_umask("022"), Some(0o22));
    assert_eq!(parse_umask(" 0777 "), Some(0o777));
    assert_eq!(parse_umask("0"), Some(0));
    for bad in ["", "8", "0o22", "1000", "-1", "99999999999999"] {
        assert_eq!(parse_umask(bad), None, "{bad:?}");
    }
    assert_eq!(parse_flag("1"), Some(true));
    assert_eq!(parse_flag("0"), Some(false));
    assert_eq!(parse_flag("yes"), None);
}

#[test]
fn a_panic_becomes_eio() {
    let rc: c_int = call(|| panic!("deliberate panic in a test"));
    fails(rc, libc::EIO);
    let p: *mut ermfs_t = call(|| panic!("and another, not logged"));
    fails(p, libc::EIO);
}

#[test]
fn default_instance_calls() {
    // Unique names: other tests may share the process's default instance.
    let path = c("/default-instance-test");
    // SAFETY: live C strings and a live stats struct.
    unsafe {
        let fd = ermfs_open(path.as_ptr(), libc::O_CREAT | libc::O_RDWR, 0o600);
        assert!(fd >= 0);
        assert_eq!(ermfs_write(fd, b"abc".as_ptr().cast(), 3), 3);
        fails(
            ermfs_set_lockless_mode(ermfs_is_lockless() == 0),
            libc::EBUSY,
        );
        assert_eq!(ermfs_close(fd), 0);
        let mut stats = ermfs_stats_t::default();
        assert_eq!(ermfs_stats(&mut stats), 0);
        assert!(stats.files >= 1);
        assert_eq!(ermfs_unlink(path.as_ptr()), 0);
        fails(ermfs_unlink(path.as_ptr()), libc::ENOENT);
        assert!(!ermfs_default().is_null());
    }
}

/// A `struct timespec`.
fn ts(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

#[test]
fn metadata_bad_input() {
    each(|fs| {
        let f = c("/f");
        let (nul, none) = (null::<libc::c_char>(), c("user.none"));
        let groups = [1 as libc::gid_t, 2];
        let mut buf = [0u8; 8];
        let b = buf.as_mut_ptr().cast();
        // SAFETY: every pointer below is NULL or live for the length given;
        // the oversized lengths are refused or clamped before any access.
        unsafe {
            let fd = ermfs_fs_open(fs, f.as_ptr(), libc::O_CREAT | libc::O_RDWR, 0o644);
            assert!(fd >= 0);
            // Owned by the process (uid 0 or not), no access for others.
            assert_eq!(ermfs_fs_chown(fs, f.as_ptr(), 0, 0), 0);
            assert_eq!(ermfs_fs_chmod(fs, f.as_ptr(), 0o640), 0);
            fails(ermfs_fs_chmod(fs, nul, 0o600), libc::EFAULT);
            fails(ermfs_fs_chown(fs, nul, 1, 1), libc::EFAULT);
            fails(ermfs_fs_fchmod(fs, 99, 0o600), libc::EBADF);
            fails(ermfs_fs_fchown(fs, 99, 1, 1), libc::EBADF);
            fails(ermfs_fs_access(fs, nul, libc::F_OK), libc::EFAULT);
            fails(ermfs_fs_access(fs, f.as_ptr(), 8), libc::EINVAL);
            fails(
                ermfs_fs_access_as(fs, f.as_ptr(), libc::R_OK, 1, 1, null(), 1),
                libc::EFAULT,
            );
            fails(
                ermfs_fs_access_as(
                    fs,
                    f.as_ptr(),
                    libc::R_OK,
                    1,
                    1,
                    groups.as_ptr(),
                    usize::MAX,
                ),
                libc::EINVAL,
            );
            assert_eq!(
                ermfs_fs_access_as(fs, f.as_ptr(), libc::R_OK, 1, 2, groups.as_ptr(), 2),
                -1
            );
            assert_eq!(
                ermfs_fs_access_as(fs, f.as_ptr(), libc::R_OK, 1, 2, null(), 0),
                -1
            );
            assert_eq!(
                ermfs_fs_access_as(fs, f.as_ptr(), libc::W_OK, 0, 0, null(), 0),
                0
            );
            fails(
                ermfs_fs_may_delete_as(fs, nul, 0, 0, null(), 0),
                libc::EFAULT,
            );
            fails(
                ermfs_fs_may_delete_as(fs, f.as_ptr(), 0, 0, groups.as_ptr(), 65_537),
                libc::EINVAL,
            );
            fails(
                ermfs_fs_may_delete_as(fs, f.as_ptr(), 0, 0, null(), 2),
                libc::EFAULT,
            );
            fails(
                ermfs_fs_may_delete_as(fs, f.as_ptr(), 1, 1, null(), 0),
                libc::EACCES,
            );

            // utimens: tv_nsec outside 0..1e9 (and not UTIME_*) is EINVAL,
            // after the path's and descriptor's own errors.
            for bad in [-1, 1_000_000_000, i64::MAX, libc::UTIME_NOW + 5] {
                let t = [ts(0, 0), ts(0, bad)];
                fails(ermfs_fs_utimens(fs, f.as_ptr(), t.as_ptr()), libc::EINVAL);
                fails(ermfs_fs_futimens(fs, fd, t.as_ptr()), libc::EINVAL);
                fails(ermfs_fs_futimens(fs, 99, t.as_ptr()), libc::EBADF);
                fails(
                    ermfs_fs_utimens(fs, c("/x").as_ptr(), t.as_ptr()),
                    libc::ENOENT,
                );
            }
            fails(ermfs_fs_utimens(fs, nul, null()), libc::EFAULT);
            // The extreme seconds survive the round trip through stat.
            let t = [ts(i64::MIN, 0), ts(i64::MAX, 999_999_999)];
            assert_eq!(ermfs_fs_utimens(fs, f.as_ptr(), t.as_ptr()), 0);
            let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
            assert_eq!(ermfs_fs_stat(fs, f.as_ptr(), st.as_mut_ptr()), 0);
            let st = st.assume_init();
            assert_eq!((st.st_atime, st.st_atime_nsec), (i64::MIN, 0));
            assert_eq!((st.st_mtime, st.st_mtime_nsec), (i64::MAX, 999_999_999));

            // xattrs: Linux's order, sizes past 64 KiB.
            let name = c("user.a");
            fails(
                ermfs_fs_setxattr(fs, f.as_ptr(), name.as_ptr(), null(), usize::MAX, 0),
                libc::E2BIG,
            );
            fails(
                ermfs_fs_setxattr(fs, f.as_ptr(), nul, null(), usize::MAX, 0),
                libc::EFAULT,
            );
            fails(
                ermfs_fs_setxattr(fs, f.as_ptr(), nul, null(), 1, -1),
                libc::EINVAL,
            );
            fails(
                ermfs_fs_setxattr(fs, nul, name.as_ptr(), b"v".as_ptr().cast(), 1, 0),
                libc::EFAULT,
            );
            // Arguments before the descriptor, as Linux 6.18.
            fails(ermfs_fs_fsetxattr(fs, 99, nul, null(), 1, 0), libc::EFAULT);
            fails(ermfs_fs_fsetxattr(fs, 99, nul, null(), 1, 8), libc::EINVAL);
            fails(
                ermfs_fs_fsetxattr(fs, 99, name.as_ptr(), null(), 1, 0),
                libc::EFAULT,
            );
            assert_eq!(
                ermfs_fs_setxattr(fs, f.as_ptr(), name.as_ptr(), b"v".as_ptr().cast(), 1, 0),
                0
            );
            fails(
                ermfs_fs_getxattr(fs, f.as_ptr(), none.as_ptr(), null_mut(), usize::MAX),
                libc::ENODATA,
            );
            fails(
                ermfs_fs_getxattr(fs, f.as_ptr(), name.as_ptr(), null_mut(), usize::MAX),
                libc::EFAULT,
            );
            fails(ermfs_fs_getxattr(fs, f.as_ptr(), nul, b, 8), libc::EFAULT);
            fails(ermfs_fs_fgetxattr(fs, fd, nul, b, 8), libc::EFAULT);
            fails(ermfs_fs_fgetxattr(fs, 99, nul, b, 8), libc::EFAULT);
            fails(ermfs_fs_fgetxattr(fs, 99, name.as_ptr(), b, 8), libc::EBADF);
            assert_eq!(
                ermfs_fs_getxattr(fs, f.as_ptr(), name.as_ptr(), null_mut(), 0),
                1
            );
            assert_eq!(ermfs_fs_fgetxattr(fs, fd, name.as_ptr(), b, 8), 1);
            fails(ermfs_fs_listxattr(fs, nul, b.cast(), 8), libc::EFAULT);
            fails(
                ermfs_fs_flistxattr(fs, fd, null_mut(), isize::MAX as usize + 1),
                libc::EFAULT,
            );
            assert_eq!(ermfs_fs_flistxattr(fs, fd, null_mut(), 0), 7);
            fails(ermfs_fs_removexattr(fs, f.as_ptr(), nul), libc::EFAULT);
            fails(ermfs_fs_removexattr(fs, nul, name.as_ptr()), libc::EFAULT);
            fails(ermfs_fs_fremovexattr(fs, fd, nul), libc::EFAULT);
            assert_eq!(ermfs_fs_fremovexattr(fs, fd, name.as_ptr()), 0);

            // statfs and fallocate.
            fails(ermfs_fs_statfs(fs, null_mut()), libc::EFAULT);
            fails(ermfs_fs_statfs(null(), null_mut()), libc::EFAULT);
            fails(ermfs_fs_fallocate(fs, fd, 0, i64::MAX, 1), libc::EFBIG);
            fails(ermfs_fs_fallocate(fs, fd, 0, i64::MIN, 1), libc::EINVAL);
            fails(ermfs_fs_fallocate(fs, fd, 0, 0, i64::MIN), libc::EINVAL);
            fails(ermfs_fs_fallocate(fs, fd, -1, 0, 1), libc::EOPNOTSUPP);
            fails(ermfs_fs_fallocate(fs, -1, 0, 0, 1), libc::EBADF);
            assert_eq!(ermfs_fs_close(fs, fd), 0);
        }
    });
}

#[test]
fn links_bad_input() {
    each(|fs| {
        let (f, l, nul) = (c("/f"), c("/l"), null::<libc::c_char>());
        let mut buf = [0u8; 4];
        let b = buf.as_mut_ptr().cast();
        // SAFETY: every pointer below is NULL or live for the length given;
        // the oversized lengths are refused or cut to the target first.
        unsafe {
            let fd = ermfs_fs_open(fs, f.as_ptr(), libc::O_CREAT | libc::O_RDWR, 0o644);
            assert!(fd >= 0 && ermfs_fs_close(fs, fd) == 0);
            fails(ermfs_fs_link(fs, nul, l.as_ptr()), libc::EFAULT);
            fails(ermfs_fs_link(fs, f.as_ptr(), nul), libc::EFAULT);
            fails(ermfs_fs_symlink(fs, f.as_ptr(), nul), libc::EFAULT);
            fails(ermfs_fs_lstat(fs, nul, null_mut()), libc::EFAULT);
            fails(ermfs_fs_lchown(fs, nul, 0, 0), libc::EFAULT);
            fails(ermfs_fs_lutimens(fs, nul, null()), libc::EFAULT);
            assert_eq!(ermfs_fs_symlink(fs, f.as_ptr(), l.as_ptr()), 0);
            // Linux checks the size first, and cuts the target to it.
            fails(ermfs_fs_readlink(fs, nul, b, 0), libc::EINVAL);
            fails(
                ermfs_fs_readlink(fs, l.as_ptr(), b, usize::MAX),
                libc::EINVAL,
            );
            fails(ermfs_fs_readlink(fs, nul, b, 4), libc::EFAULT);
            fails(ermfs_fs_readlink(fs, f.as_ptr(), b, 4), libc::EINVAL);
            fails(
                ermfs_fs_readlink(fs, l.as_ptr(), null_mut(), 4),
                libc::EFAULT,
            );
            assert_eq!(ermfs_fs_readlink(fs, l.as_ptr(), b, 1), 1);
            assert_eq!(buf[0], b'/');
            assert_eq!(ermfs_fs_readlink(fs, l.as_ptr(), b, 4), 2);
            assert_eq!(&buf[..2], b"/f");
        }
    });
}

#[test]
fn mknod_mkfifo_and_rename2() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    each(|fs| {
        let (p, q, nul) = (c("/p"), c("/q"), null::<libc::c_char>());
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: every pointer below is NULL or a live C string or stat.
        unsafe {
            assert_eq!(ermfs_fs_mkfifo(fs, p.as_ptr(), 0o640), 0);
            assert_eq!(ermfs_fs_stat(fs, p.as_ptr(), st.as_mut_ptr()), 0);
            let s = st.assume_init();
            assert_eq!((s.st_mode, s.st_rdev), (libc::S_IFIFO | 0o640, 0));
            fails(ermfs_fs_mkfifo(fs, p.as_ptr(), 0o640), libc::EEXIST);
            fails(ermfs_fs_mkfifo(fs, nul, 0o640), libc::EFAULT);
            fails(
                ermfs_fs_open(fs, p.as_ptr(), libc::O_RDONLY, 0),
                libc::ENXIO,
            );
            assert_eq!(
                ermfs_fs_mknod(fs, c("/s").as_ptr(), libc::S_IFSOCK | 0o600, 0),
                0
            );
            fails(
                ermfs_fs_open(fs, c("/s").as_ptr(), libc::O_RDWR, 0),
                libc::ENXIO,
            );
            assert_eq!(ermfs_fs_mknod(fs, c("/r").as_ptr(), 0o600, 0), 0);
            assert_eq!(ermfs_fs_lstat(fs, c("/r").as_ptr(), st.as_mut_ptr()), 0);
            assert_eq!(st.assume_init().st_mode, libc::S_IFREG | 0o600);
            // The type is checked before the path, as Linux's `may_mknod`.
            fails(
                ermfs_fs_mknod(fs, nul, libc::S_IFDIR | 0o755, 0),
                libc::EPERM,
            );
            fails(
                ermfs_fs_mknod(fs, nul, libc::S_IFLNK | 0o777, 0),
                libc::EINVAL,
            );
            fails(ermfs_fs_mknod(fs, q.as_ptr(), 0o170000, 0), libc::EINVAL);
            fails(ermfs_fs_mknod(fs, nul, libc::S_IFIFO, 0), libc::EFAULT);
            fails(
                ermfs_fs_mknod(fs, p.as_ptr(), libc::S_IFIFO, 0),
                libc::EEXIST,
            );
            fails(ermfs_fs_mknod(fs, c("/no/x").as_ptr(), 0, 0), libc::ENOENT);
            let dev = libc::makedev(1, 3);
            let rc = ermfs_fs_mknod(fs, c("/null").as_ptr(), libc::S_IFCHR | 0o666, dev);
            if root {
                assert_eq!(rc, 0);
                assert_eq!(ermfs_fs_stat(fs, c("/null").as_ptr(), st.as_mut_ptr()), 0);
                let s = st.assume_init();
                assert_eq!((s.st_mode, s.st_rdev), (libc::S_IFCHR | 0o666, dev));
                fails(
                    ermfs_fs_open(fs, c("/null").as_ptr(), libc::O_RDWR, 0),
                    libc::ENXIO,
                );
            } else {
                fails(rc, libc::EPERM);
            }

            // rename2: flags first (before a NULL path), then as rename.
            fails(ermfs_fs_rename2(fs, nul, nul, 8), libc::EINVAL);
            fails(ermfs_fs_rename2(fs, nul, nul, u32::MAX), libc::EINVAL);
            fails(
                ermfs_fs_rename2(fs, nul, nul, ERMFS_RENAME_EXCHANGE | ERMFS_RENAME_NOREPLACE),
                libc::EINVAL,
            );
            fails(
                ermfs_fs_rename2(fs, nul, q.as_ptr(), ERMFS_RENAME_NOREPLACE),
                libc::EFAULT,
            );
            fails(
                ermfs_fs_rename2(fs, p.as_ptr(), c("/r").as_ptr(), ERMFS_RENAME_NOREPLACE),
                libc::EEXIST,
            );
            fails(
                ermfs_fs_rename2(fs, p.as_ptr(), q.as_ptr(), ERMFS_RENAME_EXCHANGE),
                libc::ENOENT,
            );
            assert_eq!(
                ermfs_fs_rename2(fs, p.as_ptr(), c("/r").as_ptr(), ERMFS_RENAME_EXCHANGE),
                0
            );
            assert_eq!(ermfs_fs_stat(fs, c("/r").as_ptr(), st.as_mut_ptr()), 0);
            assert_eq!(st.assume_init().st_mode & libc::S_IFMT, libc::S_IFIFO);
            assert_eq!(ermfs_fs_rename2(fs, p.as_ptr(), q.as_ptr(), 0), 0);
            fails(ermfs_fs_stat(fs, p.as_ptr(), st.as_mut_ptr()), libc::ENOENT);
            // A whiteout needs no privilege (Linux 5.8 on): nothing opens it.
            let rc = ermfs_fs_rename2(fs, q.as_ptr(), p.as_ptr(), ERMFS_RENAME_WHITEOUT);
            assert_eq!(rc, 0);
            assert_eq!(ermfs_fs_stat(fs, q.as_ptr(), st.as_mut_ptr()), 0);
            let s = st.assume_init();
            assert_eq!((s.st_mode & libc::S_IFMT, s.st_rdev), (libc::S_IFCHR, 0));
        }
    });
    // The default-instance spellings share the bodies.
    let (a, b) = (c("/default-mknod-a"), c("/default-mknod-b"));
    // SAFETY: live C strings.
    unsafe {
        assert_eq!(ermfs_mkfifo(a.as_ptr(), 0o600), 0);
        assert_eq!(ermfs_mknod(b.as_ptr(), libc::S_IFSOCK | 0o600, 0), 0);
        fails(
            ermfs_rename2(a.as_ptr(), b.as_ptr(), ERMFS_RENAME_NOREPLACE),
            libc::EEXIST,
        );
        assert_eq!(
            ermfs_rename2(a.as_ptr(), b.as_ptr(), ERMFS_RENAME_EXCHANGE),
            0
        );
        assert_eq!(ermfs_unlink(a.as_ptr()), 0);
        assert_eq!(ermfs_unlink(b.as_ptr()), 0);
    }
}
