//! Ownership, permissions and timestamps: chmod, fchmod, chown, fchown,
//! access, access_as, may_delete_as, utimens, futimens, each as `ermfs_X` (default
//! instance) and `ermfs_fs_X` (explicit instance) over one private body.
//!
//! The store never checks permissions on its own calls (one process owns
//! it); `access`, `access_as` and `may_delete_as` are the checks a front
//! end asks for.

use std::ffi::{c_char, c_int};
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ermfs_core::{Fs, Identity, TimeSpec};
use libc::{gid_t, mode_t, uid_t};

use crate::boundary::{array, err, path};
use crate::instance::{ermfs_t, on, on_default};

/// Most supplementary groups `ermfs_access_as` takes (Linux's `NGROUPS_MAX`).
const NGROUPS_MAX: usize = 65_536;

fn chmod(fs: &Fs, p: *const c_char, mode: mode_t) -> io::Result<c_int> {
    // SAFETY: `p` is NULL or a C string, by the exported function's contract.
    fs.chmod(unsafe { path(p) }?, mode).map(|()| 0)
}

fn chown(fs: &Fs, p: *const c_char, uid: uid_t, gid: gid_t) -> io::Result<c_int> {
    // SAFETY: as in `chmod`.
    fs.chown(unsafe { path(p) }?, uid, gid).map(|()| 0)
}

/// The calling process as access(2) sees it: real user and group IDs and
/// the supplementary groups.
fn process_identity() -> Identity {
    // SAFETY: getuid/getgid have no preconditions and cannot fail; getgroups
    // with size 0 only counts, and otherwise writes at most `n` entries into
    // a buffer of `n`.
    let (uid, gid, groups) = unsafe {
        let n = libc::getgroups(0, std::ptr::null_mut()).max(0);
        let mut groups = vec![0; n as usize];
        // A failure (the groups grew meanwhile) leaves no supplementary
        // groups: the check can only get stricter, never looser.
        let got = libc::getgroups(n, groups.as_mut_ptr()).max(0);
        groups.truncate(got as usize);
        (libc::getuid(), libc::getgid(), groups)
    };
    Identity::new(uid, gid).with_groups(groups)
}

fn access(fs: &Fs, p: *const c_char, mode: c_int) -> io::Result<c_int> {
    // SAFETY: as in `chmod`.
    let p = unsafe { path(p) }?;
    fs.access(p, mode, &process_identity()).map(|()| 0)
}

/// A caller's identity from C: `EINVAL` for more than `NGROUPS_MAX`
/// groups, `EFAULT` for NULL `groups` with `ngroups` > 0.
///
/// # Safety
/// `groups` is NULL or has `ngroups` readable entries.
unsafe fn identity(
    uid: uid_t,
    gid: gid_t,
    groups: *const gid_t,
    ngroups: usize,
) -> io::Result<Identity> {
    // Checked before the array is touched: the count bounds what is read.
    if ngroups > NGROUPS_MAX {
        return Err(err(libc::EINVAL));
    }
    // SAFETY: NULL or `ngroups` entries, by this function's contract.
    let groups = unsafe { array(groups, ngroups) }?;
    Ok(Identity::new(uid, gid).with_groups(groups))
}

fn access_as(
    fs: &Fs,
    p: *const c_char,
    mode: c_int,
    uid: uid_t,
    gid: gid_t,
    groups: *const gid_t,
    ngroups: usize,
) -> io::Result<c_int> {
    // SAFETY: `p` as in `chmod`; `groups` is NULL or has `ngroups` entries,
    // by the contract.
    let (p, who) = unsafe { (path(p)?, identity(uid, gid, groups, ngroups)?) };
    fs.access(p, mode, &who).map(|()| 0)
}

fn may_delete_as(
    fs: &Fs,
    p: *const c_char,
    uid: uid_t,
    gid: gid_t,
    groups: *const gid_t,
    ngroups: usize,
) -> io::Result<c_int> {
    // SAFETY: as in `access_as`.
    let (p, who) = unsafe { (path(p)?, identity(uid, gid, groups, ngroups)?) };
    fs.may_delete(p, &who).map(|()| 0)
}

/// A time since the epoch, negative seconds included (`None` past what
/// `SystemTime` holds).
fn at(secs: i64, nanos: u32) -> Option<SystemTime> {
    let whole = match u64::try_from(secs) {
        Ok(s) => UNIX_EPOCH.checked_add(Duration::from_secs(s))?,
        Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?,
    };
    whole.checked_add(Duration::from_nanos(nanos.into()))
}

/// One C `struct timespec` of utimensat: `UTIME_NOW`, `UTIME_OMIT`, or a
/// time with `tv_nsec` in `0..1e9` (`EINVAL` otherwise).
fn spec(t: &libc::timespec) -> io::Result<TimeSpec> {
    match t.tv_nsec {
        libc::UTIME_NOW => Ok(TimeSpec::Now),
        libc::UTIME_OMIT => Ok(TimeSpec::Omit),
        n => u32::try_from(n)
            .ok()
            .filter(|&n| n < 1_000_000_000)
            .and_then(|n| at(t.tv_sec, n))
            .map(TimeSpec::Set)
            .ok_or_else(|| err(libc::EINVAL)),
    }
}

/// The access and modification times of a C `times[2]`; NULL is both now.
///
/// The outer error is `EFAULT` (reported first, as Linux copies `times`
/// first); the inner one `EINVAL` for a bad `tv_nsec`, which Linux reports
/// only after finding the file.
///
/// # Safety
/// `times` is NULL or points to two `struct timespec`.
pub(crate) unsafe fn read_times(
    times: *const libc::timespec,
) -> io::Result<io::Result<[TimeSpec; 2]>> {
    if times.is_null() {
        return Ok(Ok([TimeSpec::Now; 2]));
    }
    // SAFETY: non-NULL, so two live timespecs, by the contract.
    let t = unsafe { array(times, 2) }?;
    Ok(spec(&t[0]).and_then(|a| Ok([a, spec(&t[1])?])))
}

fn utimens(fs: &Fs, p: *const c_char, times: *const libc::timespec) -> io::Result<c_int> {
    // SAFETY: `times` is NULL or two timespecs, `p` as in `chmod`, by the contract.
    let (times, p) = unsafe { (read_times(times)?, path(p)?) };
    match times {
        Ok([atime, mtime]) => fs.utimens(p, atime, mtime).map(|()| 0),
        Err(invalid) => {
            fs.stat(p)?;
            Err(invalid)
        }
    }
}

fn futimens(fs: &Fs, fd: c_int, times: *const libc::timespec) -> io::Result<c_int> {
    // SAFETY: `times` is NULL or two timespecs, by the contract.
    match unsafe { read_times(times) }? {
        Ok([atime, mtime]) => fs.futimens(fd, atime, mtime).map(|()| 0),
        Err(invalid) => {
            fs.fstat(fd)?;
            Err(invalid)
        }
    }
}

/// Sets the permission bits of `path` to `mode & 07777` (set-user-ID,
/// set-group-ID and sticky bits included) and its ctime, as chmod(2) by the
/// owner. No permission check (ask `ermfs_access_as` first if needed).
/// Returns 0, or -1 with `errno` (`ENOENT`, `ENOTDIR`, `ENAMETOOLONG`,
/// `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_chmod(path: *const c_char, mode: mode_t) -> c_int {
    on_default(|fs| chmod(fs, path, mode))
}

/// `ermfs_chmod` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_chmod(
    fs: *const ermfs_t,
    path: *const c_char,
    mode: mode_t,
) -> c_int {
    on(fs, |fs| chmod(fs, path, mode))
}

/// `ermfs_chmod` on the file or directory open at `fd` (any access mode).
/// Returns 0, or -1 with `errno` `EBADF`.
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_fchmod(fd: c_int, mode: mode_t) -> c_int {
    on_default(|fs| fs.fchmod(fd, mode).map(|()| 0))
}

/// `ermfs_fchmod` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_fchmod(fs: *const ermfs_t, fd: c_int, mode: mode_t) -> c_int {
    on(fs, |fs| fs.fchmod(fd, mode).map(|()| 0))
}

/// Sets the owner of `path` to `owner` and `group`; `(uid_t)-1` or
/// `(gid_t)-1` leaves that one unchanged. As chown(2) on Linux, a regular
/// file loses its set-user-ID bit, and its set-group-ID bit if it is
/// group-executable, and ctime is set even when nothing else changes. No
/// permission check. Returns 0, or -1 with `errno` (`ENOENT`, `ENOTDIR`,
/// `ENAMETOOLONG`, `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_chown(path: *const c_char, owner: uid_t, group: gid_t) -> c_int {
    on_default(|fs| chown(fs, path, owner, group))
}

/// `ermfs_chown` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_chown(
    fs: *const ermfs_t,
    path: *const c_char,
    owner: uid_t,
    group: gid_t,
) -> c_int {
    on(fs, |fs| chown(fs, path, owner, group))
}

/// `ermfs_chown` on the file or directory open at `fd` (any access mode).
/// Returns 0, or -1 with `errno` `EBADF`.
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_fchown(fd: c_int, owner: uid_t, group: gid_t) -> c_int {
    on_default(|fs| fs.fchown(fd, owner, group).map(|()| 0))
}

/// `ermfs_fchown` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_fchown(
    fs: *const ermfs_t,
    fd: c_int,
    owner: uid_t,
    group: gid_t,
) -> c_int {
    on(fs, |fs| fs.fchown(fd, owner, group).map(|()| 0))
}

/// Whether the calling process may access `path` as access(2) checks it:
/// with its real user and group IDs and its supplementary groups (uid 0
/// bypasses the checks as on Linux: read and write anything, search any
/// directory, execute a file with an execute bit). `mode` is `F_OK` or any
/// of `R_OK`, `W_OK`, `X_OK`. Search permission is checked on every
/// directory on the way. Returns 0, or -1 with `errno` (`EINVAL` for other
/// bits in `mode`, `EACCES`, `ENOENT`, `ENOTDIR`, `ENAMETOOLONG`, `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_access(path: *const c_char, mode: c_int) -> c_int {
    on_default(|fs| access(fs, path, mode))
}

/// `ermfs_access` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_access(
    fs: *const ermfs_t,
    path: *const c_char,
    mode: c_int,
) -> c_int {
    on(fs, |fs| access(fs, path, mode))
}

/// `ermfs_access` for another caller (a front end serving other users):
/// user `uid`, primary group `gid`, and the `ngroups` supplementary groups
/// at `groups` (NULL when `ngroups` is 0). uid 0 is root, with Linux's
/// bypass rules. Returns 0, or -1 with `errno` as `ermfs_access`, plus
/// `EFAULT` for a NULL `groups` with `ngroups` > 0 and `EINVAL` for
/// `ngroups` > 65536 (`NGROUPS_MAX`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `groups` is NULL or has
/// `ngroups` readable entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_access_as(
    path: *const c_char,
    mode: c_int,
    uid: uid_t,
    gid: gid_t,
    groups: *const gid_t,
    ngroups: usize,
) -> c_int {
    on_default(|fs| access_as(fs, path, mode, uid, gid, groups, ngroups))
}

/// `ermfs_access_as` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_access_as`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_access_as(
    fs: *const ermfs_t,
    path: *const c_char,
    mode: c_int,
    uid: uid_t,
    gid: gid_t,
    groups: *const gid_t,
    ngroups: usize,
) -> c_int {
    on(fs, |fs| {
        access_as(fs, path, mode, uid, gid, groups, ngroups)
    })
}

/// Whether user `uid` (primary group `gid`, the `ngroups` supplementary
/// groups at `groups`) may remove the entry `path` by unlink, rmdir, or as
/// the source or an existing target of rename, as Linux's `may_delete`:
/// search permission on the way, write and search permission on the parent
/// directory, and in a sticky directory (mode `01000`, as `/tmp`) only the
/// entry's owner, the directory's owner or root. Call it before the
/// removal: the removal itself checks nothing. Returns 0, or -1 with
/// `errno` (`EACCES`, `EPERM` for the sticky rule, `EBUSY` for `/`,
/// `ENOENT`, `ENOTDIR`, `ENAMETOOLONG`; `EFAULT`, `EINVAL` for the groups
/// as `ermfs_access_as`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `groups` is NULL or has
/// `ngroups` readable entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_may_delete_as(
    path: *const c_char,
    uid: uid_t,
    gid: gid_t,
    groups: *const gid_t,
    ngroups: usize,
) -> c_int {
    on_default(|fs| may_delete_as(fs, path, uid, gid, groups, ngroups))
}

/// `ermfs_may_delete_as` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_may_delete_as`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_may_delete_as(
    fs: *const ermfs_t,
    path: *const c_char,
    uid: uid_t,
    gid: gid_t,
    groups: *const gid_t,
    ngroups: usize,
) -> c_int {
    on(fs, |fs| may_delete_as(fs, path, uid, gid, groups, ngroups))
}

/// Sets the access (`times[0]`) and modification (`times[1]`) times of
/// `path` to the nanosecond, and its ctime to now, as utimensat(2): a
/// `tv_nsec` of `UTIME_NOW` means now, `UTIME_OMIT` leaves that time alone
/// (both omitted: nothing happens, the path is not looked up), `times` NULL
/// means both now. Times before the epoch work. No permission check.
/// Returns 0, or -1 with `errno` (`ENOENT`, `ENOTDIR`, `ENAMETOOLONG`; then
/// `EINVAL` for a `tv_nsec` outside 0..999999999 that is neither special;
/// `EFAULT`).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `times` is NULL or points to
/// two `struct timespec`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_utimens(path: *const c_char, times: *const libc::timespec) -> c_int {
    on_default(|fs| utimens(fs, path, times))
}

/// `ermfs_utimens` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; other pointers as `ermfs_utimens`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_utimens(
    fs: *const ermfs_t,
    path: *const c_char,
    times: *const libc::timespec,
) -> c_int {
    on(fs, |fs| utimens(fs, path, times))
}

/// `ermfs_utimens` on the file or directory open at `fd` (any access mode),
/// as futimens(3). Returns 0, or -1 with `errno` (`EBADF`, not checked when
/// both times are `UTIME_OMIT`; then `EINVAL` for a bad `tv_nsec`; `EFAULT`).
///
/// # Safety
/// `times` is NULL or points to two `struct timespec`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_futimens(fd: c_int, times: *const libc::timespec) -> c_int {
    on_default(|fs| futimens(fs, fd, times))
}

/// `ermfs_futimens` on the instance `fs`.
///
/// # Safety
/// `fs` is NULL or a live instance; `times` as `ermfs_futimens`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_fs_futimens(
    fs: *const ermfs_t,
    fd: c_int,
    times: *const libc::timespec,
) -> c_int {
    on(fs, |fs| futimens(fs, fd, times))
}
