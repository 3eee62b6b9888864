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
use crate::names::*;

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
