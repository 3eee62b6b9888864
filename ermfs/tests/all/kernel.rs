//! Shared kernel-oracle machinery of the differential tests: a tmpfs
//! mounted under `target/` (root only; the tests skip, saying so,
//! otherwise) and detached on drop, NUL-terminated strings, the errno of a
//! libc call, and a thread of its own that takes another identity and
//! umask (the kernel side of a call made "as" someone).
//!
//! Each test file mounts its own directory (`target/<name>`, one per test
//! where several of a file's tests mount at once): the tests of this
//! binary run in parallel.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ermfs::Identity;

/// Whether the tests run as root (to mount a tmpfs, take identities,
/// `chroot`).
pub fn is_root() -> bool {
    // SAFETY: a plain syscall, no memory involved.
    unsafe { libc::geteuid() == 0 }
}

/// `target/<name>` of the workspace.
pub fn target_dir(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")).join(name)
}

/// A tmpfs mounted on `target/<name>` for a test, detached on drop.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs on `target/<name>` (`name` may have several
    /// components: `identity-oracle/<test>` is one mount per test). `None`
    /// when not root or when the mount fails: the caller skips the test
    /// and says so.
    pub fn mount(name: &str) -> Option<Tmpfs> {
        if !is_root() {
            return None;
        }
        let dir = target_dir(name);
        std::fs::create_dir_all(&dir).ok()?;
        let dst = cstr(dir.as_os_str().as_bytes());
        // SAFETY: valid NUL-terminated strings; tmpfs takes null data.
        let ret = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                dst.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        (ret == 0).then_some(Tmpfs(dir))
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The mount point joined with `rel` by hand (`Path::join` would drop
    /// a trailing slash or `.` that a call must see).
    pub fn at(&self, rel: &str) -> CString {
        let mut bytes = self.0.as_os_str().as_bytes().to_vec();
        bytes.push(b'/');
        bytes.extend_from_slice(rel.as_bytes());
        cstr(bytes)
    }

    /// Removes everything in the mount.
    pub fn clear(&self) {
        empty(&self.0);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let dst = cstr(self.0.as_os_str().as_bytes());
        // SAFETY: a valid NUL-terminated path; detaching is always safe.
        unsafe { libc::umount2(dst.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Removes every entry of `dir`: directories with what they hold, other
/// files (symlinks too, not followed) by name.
pub fn empty(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            std::fs::remove_dir_all(entry.path()).unwrap();
        } else {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
}

/// `bytes` NUL-terminated (they hold no NUL).
pub fn cstr(bytes: impl Into<Vec<u8>>) -> CString {
    CString::new(bytes).unwrap()
}

/// `Ok(ret)`, or the errno of a libc call that returned `ret` < 0.
pub fn errno_of(ret: isize) -> Result<isize, i32> {
    if ret < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        Ok(ret)
    }
}

/// `Ok(())`, or the errno of a libc call that returned the `int` status
/// `ret` < 0.
pub fn status(ret: i32) -> Result<(), i32> {
    errno_of(ret as isize).map(drop)
}

/// Makes the calling thread `who` (nothing for root): its supplementary
/// groups, then its group and user, real, effective and saved. Raw
/// syscalls change this thread's credentials only (libc's wrappers would
/// change every thread's), so call it on a thread of its own, which keeps
/// the identity: [`as_who`].
pub fn become_identity(who: &Identity) {
    if who.is_root() {
        return;
    }
    let groups = &who.groups;
    // SAFETY: `groups` is valid for `groups.len()` gids.
    let ret = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    assert_eq!(ret, 0, "setgroups: {}", std::io::Error::last_os_error());
    // SAFETY: a plain syscall, no memory involved.
    let ret = unsafe { libc::syscall(libc::SYS_setresgid, who.gid, who.gid, who.gid) };
    assert_eq!(ret, 0, "setresgid: {}", std::io::Error::last_os_error());
    // SAFETY: a plain syscall, no memory involved.
    let ret = unsafe { libc::syscall(libc::SYS_setresuid, who.uid, who.uid, who.uid) };
    assert_eq!(ret, 0, "setresuid: {}", std::io::Error::last_os_error());
}

/// Runs `f` on a thread of its own as `who` with `umask`: the thread
/// leaves the process's file-system attributes first (`unshare(CLONE_FS)`),
/// so the umask it sets is its own and every other thread keeps theirs.
pub fn as_who<T: Send + 'static>(
    who: &Identity,
    umask: u32,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let who = who.clone();
    std::thread::spawn(move || {
        // SAFETY: a plain syscall on this thread's attributes.
        let ret = unsafe { libc::unshare(libc::CLONE_FS) };
        assert_eq!(ret, 0, "unshare: {}", std::io::Error::last_os_error());
        // SAFETY: a plain syscall; after the unshare, this thread's umask.
        unsafe { libc::umask(umask) };
        become_identity(&who);
        f()
    })
    .join()
    .unwrap()
}
