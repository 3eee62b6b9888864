//! POSIX ACLs (`system.posix_acl_access`, `system.posix_acl_default`):
//! behaviour on both backends (round trips, mode updates, `chmod`,
//! inheritance, access checks, the memory budget), and a differential
//! against a kernel tmpfs mounted under `target/` (when root): fixed
//! scenarios and random sequences of ACL, `chmod`, create and `access`
//! calls, the last as non-root identities on threads of their own, creates
//! on threads with their own umask (`unshare(CLONE_FS)`); results, errnos,
//! attribute bytes and the resulting modes must agree.

use std::cell::RefCell;
use std::ffi::CString;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use ermfs::{Fs, FsBuilder, Identity, XATTR_SIZE_MAX};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::common::{each_fs, each_with, errno, put};
use super::kernel::{Tmpfs, as_who, cstr, errno_of};

const ACCESS: &str = "system.posix_acl_access";
const DEFAULT: &str = "system.posix_acl_default";

const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEF: u32 = u32::MAX;

/// The xattr bytes of `entries` (tag, perm, id), with `version`.
fn acl_v(version: u32, entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut out = version.to_le_bytes().to_vec();
    for &(tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

/// The xattr bytes of `entries`, version 2.
fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    acl_v(2, entries)
}

/// `u::a,g::b,o::c`.
fn minimal(u: u16, g: u16, o: u16) -> Vec<u8> {
    acl(&[
        (USER_OBJ, u, UNDEF),
        (GROUP_OBJ, g, UNDEF),
        (OTHER, o, UNDEF),
    ])
}

/// The value of `name` on `path`, or its errno.
fn value(fs: &Fs, path: &str, name: &str) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; XATTR_SIZE_MAX];
    match fs.getxattr(path, name, &mut buf) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => Err(e.raw_os_error().unwrap()),
    }
}

/// The names of `path`'s attributes, in listing order.
fn names(fs: &Fs, path: &str) -> Vec<String> {
    let mut buf = vec![0u8; 1 << 16];
    let n = fs.listxattr(path, &mut buf).unwrap();
    buf[..n]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8(s.to_vec()).unwrap())
        .collect()
}

fn perm(fs: &Fs, path: &str) -> u32 {
    fs.stat(path).unwrap().mode & 0o7777
}

/// `u::rw-,u:1000:rwx,g::r--,g:30:-w-,m::rw-,o::---`.
fn extended() -> Vec<u8> {
    acl(&[
        (USER_OBJ, 6, UNDEF),
        (USER, 7, 1000),
        (GROUP_OBJ, 4, UNDEF),
        (GROUP, 2, 30),
        (MASK, 6, UNDEF),
        (OTHER, 0, UNDEF),
    ])
}

#[test]
fn set_get_round_trip_updates_the_mode() {
    each_fs(|fs| {
        put(fs, "/f", b"x");
        fs.chmod("/f", 0o4755).unwrap();
        assert_eq!(value(fs, "/f", ACCESS), Err(libc::ENODATA));
        assert_eq!(value(fs, "/f", DEFAULT), Err(libc::ENODATA));
        fs.setxattr("/f", ACCESS, &extended(), 0).unwrap();
        assert_eq!(value(fs, "/f", ACCESS), Ok(extended()));
        // Owner from USER_OBJ, group from the mask, other from OTHER; the
        // set-user-ID bit stays.
        assert_eq!(perm(fs, "/f"), 0o4660);
        // Ids of unnamed entries come back as ACL_UNDEFINED_ID.
        let with_ids = acl(&[
            (USER_OBJ, 7, 5),
            (USER, 4, 1000),
            (GROUP_OBJ, 4, 6),
            (MASK, 5, 7),
            (OTHER, 1, 8),
        ]);
        fs.setxattr("/f", ACCESS, &with_ids, 0).unwrap();
        let normal = acl(&[
            (USER_OBJ, 7, UNDEF),
            (USER, 4, 1000),
            (GROUP_OBJ, 4, UNDEF),
            (MASK, 5, UNDEF),
            (OTHER, 1, UNDEF),
        ]);
        assert_eq!(value(fs, "/f", ACCESS), Ok(normal.clone()));
        assert_eq!(perm(fs, "/f"), 0o4751);
        // Size query and a small buffer, as any attribute.
        assert_eq!(fs.getxattr("/f", ACCESS, &mut []).unwrap(), normal.len());
        assert_eq!(errno(fs.getxattr("/f", ACCESS, &mut [0; 8])), libc::ERANGE);
        // XATTR_CREATE / XATTR_REPLACE do not apply to ACLs (as Linux).
        fs.setxattr("/f", ACCESS, &extended(), libc::XATTR_CREATE)
            .unwrap();
        fs.removexattr("/f", ACCESS).unwrap();
        fs.setxattr("/f", ACCESS, &extended(), libc::XATTR_REPLACE)
            .unwrap();
        // Named ids need not be sorted and may repeat (the kernel's rule).
        let unsorted = acl(&[
            (USER_OBJ, 6, UNDEF),
            (USER, 4, 20),
            (USER, 4, 10),
            (USER, 4, 10),
            (GROUP_OBJ, 4, UNDEF),
            (MASK, 7, UNDEF),
            (OTHER, 4, UNDEF),
        ]);
        fs.setxattr("/f", ACCESS, &unsorted, 0).unwrap();
        assert_eq!(value(fs, "/f", ACCESS), Ok(unsorted));
        // Directories and the descriptor forms.
        fs.mkdir("/d", 0o755).unwrap();
        let fd = fs.open("/d", libc::O_RDONLY, 0).unwrap();
        fs.fsetxattr(fd, ACCESS, &extended(), 0).unwrap();
        let mut buf = [0u8; 128];
        let n = fs.fgetxattr(fd, ACCESS, &mut buf).unwrap();
        assert_eq!(&buf[..n], &extended()[..]);
        fs.fremovexattr(fd, ACCESS).unwrap();
        assert_eq!(errno(fs.fgetxattr(fd, ACCESS, &mut [])), libc::ENODATA);
        fs.close(fd).unwrap();
        assert_eq!(perm(fs, "/d"), 0o660, "removing keeps the mode");
    });
}

#[test]
fn an_acl_equivalent_to_a_mode_is_only_the_mode() {
    each_fs(|fs| {
        put(fs, "/f", b"");
        fs.chmod("/f", 0o1777).unwrap();
        fs.setxattr("/f", ACCESS, &minimal(6, 4, 0), 0).unwrap();
        assert_eq!(perm(fs, "/f"), 0o1640);
        assert_eq!(value(fs, "/f", ACCESS), Err(libc::ENODATA));
        assert!(names(fs, "/f").is_empty());
        // It also drops an extended ACL stored before.
        fs.setxattr("/f", ACCESS, &extended(), 0).unwrap();
        assert_eq!(names(fs, "/f"), [ACCESS]);
        fs.setxattr("/f", ACCESS, &minimal(7, 5, 1), 0).unwrap();
        assert_eq!(value(fs, "/f", ACCESS), Err(libc::ENODATA));
        assert_eq!(perm(fs, "/f"), 0o1751);
        // A mask alone makes it extended: the group bits are the mask.
        let masked = acl(&[
            (USER_OBJ, 6, UNDEF),
            (GROUP_OBJ, 6, UNDEF),
            (MASK, 4, UNDEF),
            (OTHER, 0, UNDEF),
        ]);
        fs.setxattr("/f", ACCESS, &masked, 0).unwrap();
        assert_eq!(value(fs, "/f", ACCESS), Ok(masked));
        assert_eq!(perm(fs, "/f"), 0o1640);
        // An empty value or a bare header removes, as removexattr.
        fs.setxattr("/f", ACCESS, &acl(&[]), 0).unwrap();
        assert_eq!(value(fs, "/f", ACCESS), Err(libc::ENODATA));
        fs.setxattr("/f", ACCESS, &extended(), 0).unwrap();
        fs.setxattr("/f", ACCESS, b"", 0).unwrap();
        assert_eq!(value(fs, "/f", ACCESS), Err(libc::ENODATA));
        assert_eq!(perm(fs, "/f"), 0o1660);
    });
}

#[test]
fn invalid_acls_are_refused_and_change_nothing() {
    each_fs(|fs| {
        put(fs, "/f", b"");
        fs.setxattr("/f", ACCESS, &extended(), 0).unwrap();
        let cases: Vec<(Vec<u8>, i32)> = vec![
            (acl_v(1, &[(USER_OBJ, 6, 0)]), libc::EOPNOTSUPP),
            (vec![2, 0, 0], libc::EINVAL),
            ([minimal(6, 4, 4), vec![0]].concat(), libc::EINVAL),
            (acl(&[(USER_OBJ, 6, 0)]), libc::EINVAL),
            (minimal(8, 4, 4), libc::EINVAL),
            (
                acl(&[(USER_OBJ, 6, 0), (0x40, 4, 0), (OTHER, 0, 0)]),
                libc::EINVAL,
            ),
            // Named user without a mask; a named user with no valid uid.
            (
                acl(&[
                    (USER_OBJ, 6, 0),
                    (USER, 4, 5),
                    (GROUP_OBJ, 4, 0),
                    (OTHER, 0, 0),
                ]),
                libc::EINVAL,
            ),
            (
                acl(&[
                    (USER_OBJ, 6, 0),
                    (USER, 4, UNDEF),
                    (GROUP_OBJ, 4, 0),
                    (MASK, 4, 0),
                    (OTHER, 0, 0),
                ]),
                libc::EINVAL,
            ),
            // Out of order: the group before the owner.
            (
                acl(&[(GROUP_OBJ, 4, 0), (USER_OBJ, 6, 0), (OTHER, 0, 0)]),
                libc::EINVAL,
            ),
        ];
        for (bytes, want) in &cases {
            assert_eq!(errno(fs.setxattr("/f", ACCESS, bytes, 0)), *want);
            assert_eq!(value(fs, "/f", ACCESS), Ok(extended()));
            assert_eq!(perm(fs, "/f"), 0o660);
        }
        // The usual argument checks come first.
        assert_eq!(
            errno(fs.setxattr("/f", ACCESS, &extended(), 8)),
            libc::EINVAL
        );
        let big = vec![0u8; XATTR_SIZE_MAX + 1];
        assert_eq!(errno(fs.setxattr("/f", ACCESS, &big, 0)), libc::E2BIG);
        assert_eq!(errno(fs.setxattr("/none", ACCESS, b"x", 0)), libc::ENOENT);
        // Other `system.` names stay refused.
        for name in ["system.posix_acl", "system.posix_acl_accesss", "system."] {
            assert_eq!(errno(fs.setxattr("/f", name, b"", 0)), libc::EOPNOTSUPP);
            assert_eq!(errno(fs.getxattr("/f", name, &mut [])), libc::EOPNOTSUPP);
            assert_eq!(errno(fs.removexattr("/f", name)), libc::EOPNOTSUPP);
        }
    });
}

#[test]
fn default_acls_belong_to_directories() {
    each_fs(|fs| {
        put(fs, "/f", b"");
        fs.mkdir("/d", 0o755).unwrap();
        assert_eq!(
            errno(fs.setxattr("/f", DEFAULT, &extended(), 0)),
            libc::EACCES
        );
        // Even an invalid one (validity is checked after); a parse error first.
        assert_eq!(
            errno(fs.setxattr("/f", DEFAULT, &minimal(9, 0, 0), 0)),
            libc::EACCES
        );
        assert_eq!(
            errno(fs.setxattr("/f", DEFAULT, &acl_v(3, &[]), 0)),
            libc::EOPNOTSUPP
        );
        // Removing one is no error.
        fs.removexattr("/f", DEFAULT).unwrap();
        fs.setxattr("/f", DEFAULT, b"", 0).unwrap();
        assert!(names(fs, "/f").is_empty());
        // A directory keeps even a minimal one, and its mode stays.
        fs.setxattr("/d", DEFAULT, &minimal(7, 5, 0), 0).unwrap();
        assert_eq!(value(fs, "/d", DEFAULT), Ok(minimal(7, 5, 0)));
        assert_eq!(perm(fs, "/d"), 0o755);
        assert_eq!(
            errno(fs.setxattr("/d", DEFAULT, &minimal(8, 0, 0), 0)),
            libc::EINVAL
        );
        // Listing: the access ACL, the default ACL, then the rest descending.
        fs.setxattr("/d", "user.z", b"", 0).unwrap();
        fs.setxattr("/d", "security.a", b"", 0).unwrap();
        fs.setxattr("/d", ACCESS, &extended(), 0).unwrap();
        assert_eq!(names(fs, "/d"), [ACCESS, DEFAULT, "user.z", "security.a"]);
        let len = names(fs, "/d").iter().map(|n| n.len() + 1).sum::<usize>();
        assert_eq!(fs.listxattr("/d", &mut []).unwrap(), len);
        fs.removexattr("/d", DEFAULT).unwrap();
        assert_eq!(names(fs, "/d"), [ACCESS, "user.z", "security.a"]);
    });
}

/// A clock the test moves: nanoseconds past the epoch.
fn clocked(now: &Arc<AtomicU64>) -> FsBuilder {
    let now = Arc::clone(now);
    Fs::builder().clock(Arc::new(move || {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(now.load(Ordering::SeqCst))
    }))
}

#[test]
fn setting_and_removing_an_acl_sets_ctime() {
    let now = Arc::new(AtomicU64::new(1_000_000_000));
    each_with(
        || clocked(&now),
        |fs| {
            put(fs, "/f", b"");
            fs.mkdir("/d", 0o755).unwrap();
            let mut t = now.load(Ordering::SeqCst);
            let mut step = |fs: &Fs, path: &str, f: &dyn Fn(&Fs) -> std::io::Result<()>| {
                t += 1_000;
                now.store(t, Ordering::SeqCst);
                f(fs).unwrap();
                let st = fs.stat(path).unwrap();
                assert_eq!(st.ctime, SystemTime::UNIX_EPOCH + Duration::from_nanos(t));
                assert!(st.mtime < st.ctime, "only ctime moves");
            };
            step(fs, "/f", &|fs| fs.setxattr("/f", ACCESS, &extended(), 0));
            step(fs, "/f", &|fs| {
                fs.setxattr("/f", ACCESS, &minimal(6, 4, 4), 0)
            });
            step(fs, "/f", &|fs| fs.removexattr("/f", ACCESS));
            step(fs, "/d", &|fs| fs.setxattr("/d", DEFAULT, &extended(), 0));
            step(fs, "/d", &|fs| fs.removexattr("/d", DEFAULT));
        },
    );
}

#[test]
fn chmod_keeps_the_access_acl_in_step() {
    each_fs(|fs| {
        put(fs, "/f", b"");
        fs.setxattr("/f", ACCESS, &extended(), 0).unwrap();
        fs.chmod("/f", 0o2751).unwrap();
        assert_eq!(perm(fs, "/f"), 0o2751);
        // USER_OBJ, MASK and OTHER take the bits; named entries stay.
        let want = acl(&[
            (USER_OBJ, 7, UNDEF),
            (USER, 7, 1000),
            (GROUP_OBJ, 4, UNDEF),
            (GROUP, 2, 30),
            (MASK, 5, UNDEF),
            (OTHER, 1, UNDEF),
        ]);
        assert_eq!(value(fs, "/f", ACCESS), Ok(want));
        let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        fs.fchmod(fd, 0o640).unwrap();
        fs.close(fd).unwrap();
        let bytes = value(fs, "/f", ACCESS).unwrap();
        let perms: Vec<u8> = bytes[4..].chunks(8).map(|e| e[2]).collect();
        assert_eq!(perms, [6, 7, 4, 2, 4, 0]);
        // The default ACL is not touched by chmod.
        fs.mkdir("/d", 0o755).unwrap();
        fs.setxattr("/d", DEFAULT, &extended(), 0).unwrap();
        fs.chmod("/d", 0o700).unwrap();
        assert_eq!(value(fs, "/d", DEFAULT), Ok(extended()));
    });
}

/// `u::rwx,u:1000:rw-,g::r-x,m::rwx,o::--x`.
fn inheritable() -> Vec<u8> {
    acl(&[
        (USER_OBJ, 7, UNDEF),
        (USER, 6, 1000),
        (GROUP_OBJ, 5, UNDEF),
        (MASK, 7, UNDEF),
        (OTHER, 1, UNDEF),
    ])
}

#[test]
fn new_inodes_inherit_the_default_acl_and_skip_the_umask() {
    each_with(
        || Fs::builder().umask(0o077),
        |fs| {
            fs.mkdir("/p", 0o755).unwrap();
            fs.setxattr("/p", DEFAULT, &inheritable(), 0).unwrap();
            let fd = fs
                .open("/p/f", libc::O_CREAT | libc::O_WRONLY, 0o640)
                .unwrap();
            fs.close(fd).unwrap();
            assert_eq!(perm(fs, "/p/f"), 0o640, "no umask");
            let file_acl = acl(&[
                (USER_OBJ, 6, UNDEF),
                (USER, 6, 1000),
                (GROUP_OBJ, 5, UNDEF),
                (MASK, 4, UNDEF),
                (OTHER, 0, UNDEF),
            ]);
            assert_eq!(value(fs, "/p/f", ACCESS), Ok(file_acl));
            assert_eq!(names(fs, "/p/f"), [ACCESS]);
            // A directory: access ACL masked by its mode, and the default.
            fs.mkdir("/p/s", 0o750).unwrap();
            assert_eq!(perm(fs, "/p/s"), 0o750);
            assert_eq!(names(fs, "/p/s"), [ACCESS, DEFAULT]);
            assert_eq!(value(fs, "/p/s", DEFAULT), Ok(inheritable()));
            let bytes = value(fs, "/p/s", ACCESS).unwrap();
            let perms: Vec<u8> = bytes[4..].chunks(8).map(|e| e[2]).collect();
            assert_eq!(perms, [7, 6, 5, 5, 0]);
            // ... which goes on down the tree.
            fs.mkdir("/p/s/t", 0o777).unwrap();
            assert_eq!(perm(fs, "/p/s/t"), 0o771);
            assert_eq!(value(fs, "/p/s/t", DEFAULT), Ok(inheritable()));
            // Symlinks get nothing.
            fs.symlink("f", "/p/l").unwrap();
            assert_eq!(fs.lstat("/p/l").unwrap().mode & 0o7777, 0o777);
            // A minimal default ACL gives a mode and no access ACL.
            fs.mkdir("/q", 0o755).unwrap();
            fs.setxattr("/q", DEFAULT, &minimal(7, 5, 5), 0).unwrap();
            let fd = fs
                .open("/q/f", libc::O_CREAT | libc::O_WRONLY, 0o2666)
                .unwrap();
            fs.close(fd).unwrap();
            assert_eq!(perm(fs, "/q/f"), 0o2644);
            assert!(names(fs, "/q/f").is_empty());
            // Without a default ACL the umask applies as before.
            fs.mkdir("/plain", 0o777).unwrap();
            assert_eq!(perm(fs, "/plain"), 0o700);
            assert!(names(fs, "/plain").is_empty());
            // A set-group-ID parent still passes its bit on.
            fs.chmod("/q", 0o2775).unwrap();
            fs.mkdir("/q/g", 0o777).unwrap();
            assert_eq!(perm(fs, "/q/g"), 0o2755);
        },
    );
}

#[test]
fn access_follows_the_acl() {
    each_fs(|fs| {
        put(fs, "/f", b"");
        fs.chown("/f", 10, 20).unwrap();
        let file_acl = acl(&[
            (USER_OBJ, 6, UNDEF),
            (USER, 7, 1000),
            (USER, 0, 1001),
            (GROUP_OBJ, 4, UNDEF),
            (GROUP, 2, 30),
            (MASK, 6, UNDEF),
            (OTHER, 1, UNDEF),
        ]);
        fs.setxattr("/f", ACCESS, &file_acl, 0).unwrap();
        assert_eq!(perm(fs, "/f"), 0o661);
        let ok = |who: &Identity, mode| fs.access("/f", mode, who).is_ok();
        let (r, w, x) = (libc::R_OK, libc::W_OK, libc::X_OK);
        let owner = Identity::new(10, 1);
        assert!(ok(&owner, r | w) && !ok(&owner, x));
        // Named user: masked, no fall-through to other.
        let named = Identity::new(1000, 1);
        assert!(ok(&named, r | w) && !ok(&named, x));
        assert!(!ok(&Identity::new(1001, 1), x));
        // Group class.
        assert!(ok(&Identity::new(5, 20), r));
        assert!(ok(&Identity::new(5, 5).with_groups([30]), w));
        assert!(!ok(&Identity::new(5, 20).with_groups([30]), r | w));
        assert!(!ok(&Identity::new(5, 30), x), "a group matched");
        // Other.
        assert!(ok(&Identity::new(5, 5), x) && !ok(&Identity::new(5, 5), r));
        // Root: read and write always, execute with an x bit in the mode.
        assert!(ok(&Identity::root(), r | w | x));
        // A mask of 0 leaves the group bits 0: Linux then skips the ACL,
        // so the named user gets the other bits.
        fs.chmod("/f", 0o601).unwrap();
        assert!(ok(&named, x) && !ok(&named, r));
        // chmod moved the mask back up: the ACL counts again.
        fs.chmod("/f", 0o671).unwrap();
        assert!(ok(&named, r | w | x));
        assert!(!ok(&Identity::new(1001, 1), x));
        // Directories: search through an ACL entry, and may_delete.
        fs.mkdir("/d", 0o700).unwrap();
        fs.mkdir("/d/e", 0o755).unwrap();
        let dacl = acl(&[
            (USER_OBJ, 7, UNDEF),
            (USER, 7, 1000),
            (GROUP_OBJ, 0, UNDEF),
            (GROUP, 1, 30),
            (MASK, 7, UNDEF),
            (OTHER, 0, UNDEF),
        ]);
        fs.setxattr("/d", ACCESS, &dacl, 0).unwrap();
        assert!(fs.access("/d/e", r, &named).is_ok());
        assert!(fs.access("/d/e", r, &Identity::new(5, 30)).is_ok());
        assert_eq!(
            errno(fs.access("/d/e", r, &Identity::new(5, 5))),
            libc::EACCES
        );
        fs.may_delete("/d/e", &named).unwrap();
        assert_eq!(
            errno(fs.may_delete("/d/e", &Identity::new(5, 30))),
            libc::EACCES
        );
    });
}

/// An ACL naming users `0..users`: `u::<owner>`, each named user, the
/// owning group and others `perm`, `m::rwx`.
fn naming_users(users: u32, owner: u16, perm: u16) -> Vec<u8> {
    let entries: Vec<(u16, u16, u32)> = std::iter::once((USER_OBJ, owner, UNDEF))
        .chain((0..users).map(|i| (USER, perm, i)))
        .chain([
            (GROUP_OBJ, perm, UNDEF),
            (MASK, 7, UNDEF),
            (OTHER, perm, UNDEF),
        ])
        .collect();
    acl(&entries)
}

/// Runs `f` and checks that it changed `fs.memory_used()` by `delta`.
fn costs(fs: &Fs, what: &str, delta: isize, f: impl FnOnce()) {
    let before = fs.memory_used();
    f();
    let after = fs.memory_used();
    assert_eq!(
        after as isize - before as isize,
        delta,
        "{what}: memory used went from {before} to {after}"
    );
}

#[test]
fn acls_count_against_the_memory_limit() {
    each_with(
        || Fs::builder().memory_limit(Some(4096)),
        |fs| {
            put(fs, "/f", b"");
            let charge = (ACCESS.len() + extended().len()) as isize;
            costs(fs, "an extended ACL", charge, || {
                fs.setxattr("/f", ACCESS, &extended(), 0).unwrap();
            });
            // An equivalent ACL stores nothing: the charge goes back.
            costs(fs, "an equivalent ACL", -charge, || {
                fs.setxattr("/f", ACCESS, &minimal(6, 4, 4), 0).unwrap();
            });
            // Over the limit: ENOSPC, and neither the ACL nor the mode change.
            fs.chmod("/f", 0o600).unwrap();
            costs(fs, "an ACL over the limit", 0, || {
                let big = naming_users(600, 6, 4);
                let r = fs.setxattr("/f", ACCESS, &big, 0);
                assert_eq!(errno(r), libc::ENOSPC);
            });
            assert_eq!(perm(fs, "/f"), 0o600);
            assert_eq!(value(fs, "/f", ACCESS), Err(libc::ENODATA));
            // Inherited ACLs are charged and go with the inode.
            fs.mkdir("/p", 0o755).unwrap();
            fs.setxattr("/p", DEFAULT, &inheritable(), 0).unwrap();
            let acls = (ACCESS.len() + DEFAULT.len() + 2 * inheritable().len()) as isize;
            costs(fs, "inherited ACLs", acls, || {
                fs.mkdir("/p/s", 0o755).unwrap()
            });
            costs(fs, "their removal", -acls, || fs.rmdir("/p/s").unwrap());
            // A create that cannot pay for its inherited ACLs fails.
            fs.setxattr("/p", DEFAULT, &naming_users(200, 7, 7), 0)
                .unwrap();
            costs(fs, "a create over the limit", 0, || {
                assert_eq!(errno(fs.mkdir("/p/t", 0o755)), libc::ENOSPC);
            });
            assert!(!fs.exists("/p/t"));
        },
    );
}

// ---- The kernel differential. ----

const PATHS: &[&str] = &[
    "a",
    "a/f",
    "a/b",
    "a/b/g",
    "a/n",
    "a/b/n",
    "a/n/x",
    "a/missing",
    "a/f/x",
];
const MODES: &[u32] = &[
    0o000, 0o700, 0o750, 0o755, 0o775, 0o777, 0o711, 0o644, 0o640, 0o666, 0o604, 0o460, 0o070,
    0o007, 0o001, 0o2775, 0o4751, 0o1777,
];
const UMASKS: &[u32] = &[0, 0o022, 0o077, 0o027];
const IDS: &[u32] = &[0, 1000, 1001];

/// Root, and non-root users in and out of the groups the ACLs name.
fn identities() -> Vec<Identity> {
    vec![
        Identity::root(),
        Identity::new(1000, 1000),
        Identity::new(1001, 1001).with_groups([1000]),
        Identity::new(1002, 1002).with_groups([30]),
        Identity::new(1003, 30),
    ]
}

/// ACL values the differential sets: valid (minimal, extended, masked)
/// and invalid ones, plus the empty value and a bare header (removals).
fn pool() -> Vec<Vec<u8>> {
    vec![
        minimal(7, 5, 5),
        minimal(6, 4, 0),
        minimal(7, 0, 0),
        extended(),
        inheritable(),
        acl(&[
            (USER_OBJ, 7, UNDEF),
            (USER, 5, 1001),
            (USER, 6, 1002),
            (GROUP_OBJ, 1, UNDEF),
            (GROUP, 7, 1000),
            (GROUP, 4, 30),
            (MASK, 5, UNDEF),
            (OTHER, 2, UNDEF),
        ]),
        // A mask alone; a mask of nothing.
        acl(&[
            (USER_OBJ, 6, UNDEF),
            (GROUP_OBJ, 7, UNDEF),
            (MASK, 3, UNDEF),
            (OTHER, 4, UNDEF),
        ]),
        acl(&[
            (USER_OBJ, 7, UNDEF),
            (USER, 7, 1000),
            (GROUP_OBJ, 7, UNDEF),
            (MASK, 0, UNDEF),
            (OTHER, 5, UNDEF),
        ]),
        // Unsorted, repeated named ids (the kernel takes them).
        acl(&[
            (USER_OBJ, 6, UNDEF),
            (USER, 4, 1002),
            (USER, 7, 1000),
            (USER, 1, 1000),
            (GROUP_OBJ, 4, UNDEF),
            (MASK, 7, UNDEF),
            (OTHER, 0, UNDEF),
        ]),
        // Unnamed entries with ids (ignored).
        acl(&[(USER_OBJ, 5, 7), (GROUP_OBJ, 3, 8), (OTHER, 1, 9)]),
        // Invalid ones.
        acl(&[
            (USER_OBJ, 6, UNDEF),
            (USER, 4, 1000),
            (GROUP_OBJ, 4, UNDEF),
            (OTHER, 0, UNDEF),
        ]),
        minimal(6, 8, 0),
        acl(&[(GROUP_OBJ, 4, 0), (USER_OBJ, 6, 0), (OTHER, 0, 0)]),
        acl(&[(USER_OBJ, 6, 0), (GROUP_OBJ, 4, 0)]),
        acl(&[
            (USER_OBJ, 6, 0),
            (GROUP_OBJ, 4, 0),
            (OTHER, 0, 0),
            (OTHER, 0, 0),
        ]),
        acl(&[(USER_OBJ, 6, 0), (0x40, 4, 0), (OTHER, 0, 0)]),
        acl(&[
            (USER_OBJ, 6, 0),
            (GROUP_OBJ, 4, 0),
            (GROUP, 4, UNDEF),
            (MASK, 4, 0),
            (OTHER, 0, 0),
        ]),
        acl_v(1, &[(USER_OBJ, 6, 0), (GROUP_OBJ, 4, 0), (OTHER, 0, 0)]),
        [minimal(6, 4, 4), vec![0, 0]].concat(),
        vec![2, 0],
        Vec::new(),
        acl(&[]),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    /// Path, default (else access), ACL from the pool, flags.
    Set(usize, bool, usize, i32),
    Get(usize, bool),
    Remove(usize, bool),
    List(usize),
    Chmod(usize, u32),
    Chown(usize, u32, u32),
    Create(usize, u32),
    Mkdir(usize, u32),
    Access(usize, i32, usize),
    /// Mode, uid and gid.
    Stat(usize),
}

/// What a call gave: its errno, or the bytes it returned (attribute
/// values, name lists, or for `Stat` mode, uid and gid).
type Outcome = Result<Vec<u8>, i32>;

fn op() -> impl Strategy<Value = Op> {
    let path = 0..PATHS.len();
    let acl = 0..pool().len();
    let mode = prop::sample::select(MODES);
    let id = prop::sample::select(IDS);
    let flags = prop_oneof![
        3 => Just(0),
        1 => Just(libc::XATTR_CREATE),
        1 => Just(libc::XATTR_REPLACE)
    ];
    prop_oneof![
        6 => (path.clone(), any::<bool>(), acl, flags).prop_map(|(p, d, a, f)| Op::Set(p, d, a, f)),
        2 => (path.clone(), any::<bool>()).prop_map(|(p, d)| Op::Get(p, d)),
        1 => (path.clone(), any::<bool>()).prop_map(|(p, d)| Op::Remove(p, d)),
        1 => path.clone().prop_map(Op::List),
        2 => (path.clone(), mode.clone()).prop_map(|(p, m)| Op::Chmod(p, m)),
        1 => (path.clone(), id.clone(), id).prop_map(|(p, u, g)| Op::Chown(p, u, g)),
        2 => (path.clone(), mode.clone()).prop_map(|(p, m)| Op::Create(p, m)),
        2 => (path.clone(), mode).prop_map(|(p, m)| Op::Mkdir(p, m)),
        5 => (path.clone(), 0i32..8, 0..identities().len()).prop_map(|(p, m, i)| Op::Access(p, m, i)),
        1 => path.prop_map(Op::Stat),
    ]
}

/// Empties the tmpfs and builds the starting tree.
fn reset(tmpfs: &Tmpfs) {
    tmpfs.clear();
    let root = tmpfs.path();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("a/f"), b"f").unwrap();
    std::fs::write(root.join("a/b/g"), b"g").unwrap();
    for (p, mode) in START {
        on_kernel(tmpfs, &Op::Chmod(index(p), *mode), 0).unwrap();
    }
}

/// `Ok` with no bytes, or the errno of a libc call that returned `ret`.
fn done(ret: isize) -> Outcome {
    errno_of(ret).map(|_| Vec::new())
}

/// `op` on the kernel; creates with `umask`.
fn on_kernel(tmpfs: &Tmpfs, op: &Op, umask: u32) -> Outcome {
    let at = |p: usize| tmpfs.at(PATHS[p]);
    match *op {
        Op::Set(p, default, a, flags) => {
            let (path, value) = (at(p), &pool()[a]);
            let name = cstr(kind(default));
            // SAFETY: valid NUL-terminated strings; `value` is valid
            // for its length.
            let ret = unsafe {
                libc::setxattr(
                    path.as_ptr(),
                    name.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    flags,
                )
            };
            done(ret as isize)
        }
        Op::Get(p, default) => {
            let (path, name) = (at(p), cstr(kind(default)));
            let mut buf = vec![0u8; XATTR_SIZE_MAX];
            // SAFETY: valid NUL-terminated strings; `buf` is valid for
            // its length.
            let n = errno_of(unsafe {
                libc::getxattr(
                    path.as_ptr(),
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            })?;
            buf.truncate(n as usize);
            Ok(buf)
        }
        Op::Remove(p, default) => {
            let (path, name) = (at(p), cstr(kind(default)));
            // SAFETY: valid NUL-terminated strings.
            let ret = unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) };
            done(ret as isize)
        }
        Op::List(p) => {
            let path = at(p);
            let mut buf = vec![0u8; 1 << 16];
            // SAFETY: a valid NUL-terminated string; `buf` is valid
            // for its length.
            let n = errno_of(unsafe {
                libc::listxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            })?;
            buf.truncate(n as usize);
            Ok(buf)
        }
        Op::Chmod(p, mode) => {
            let path = at(p);
            // SAFETY: a valid NUL-terminated path.
            done(unsafe { libc::chmod(path.as_ptr(), mode) } as isize)
        }
        Op::Chown(p, uid, gid) => {
            let path = at(p);
            // SAFETY: a valid NUL-terminated path.
            done(unsafe { libc::chown(path.as_ptr(), uid, gid) } as isize)
        }
        Op::Create(p, mode) | Op::Mkdir(p, mode) => {
            let path = at(p);
            let dir = matches!(op, Op::Mkdir(..));
            as_who(&Identity::root(), umask, move || create(&path, dir, mode))
        }
        Op::Access(p, mode, who) => {
            let path = at(p);
            as_who(&identities()[who], umask, move || {
                // SAFETY: a valid NUL-terminated path.
                done(unsafe { libc::access(path.as_ptr(), mode) } as isize)
            })
        }
        Op::Stat(p) => {
            let path = at(p);
            // SAFETY: `st` is a valid out-pointer for stat.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: a valid NUL-terminated path and out-pointer.
            errno_of(unsafe { libc::stat(path.as_ptr(), &mut st) } as isize)?;
            Ok(stat_bytes(st.st_mode, st.st_uid, st.st_gid))
        }
    }
}

/// The starting tree's modes.
const START: &[(&str, u32)] = &[
    ("a", 0o755),
    ("a/b", 0o755),
    ("a/f", 0o644),
    ("a/b/g", 0o644),
];

fn index(p: &str) -> usize {
    PATHS.iter().position(|&x| x == p).unwrap()
}

fn kind(default: bool) -> &'static str {
    if default { DEFAULT } else { ACCESS }
}

fn stat_bytes(mode: u32, uid: u32, gid: u32) -> Vec<u8> {
    [mode, uid, gid]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// Creates a file or directory (on a thread of [`as_who`], with the
/// umask it was given).
fn create(path: &CString, dir: bool, mode: u32) -> Outcome {
    if dir {
        // SAFETY: a valid NUL-terminated path.
        return done(unsafe { libc::mkdir(path.as_ptr(), mode) } as isize);
    }
    // SAFETY: a valid NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_CREAT | libc::O_WRONLY, mode) };
    errno_of(fd as isize)?;
    // SAFETY: closing the descriptor just opened.
    unsafe { libc::close(fd) };
    Ok(Vec::new())
}

fn on_ermfs(fs: &Fs, op: &Op) -> Outcome {
    let mut buf = vec![0u8; 1 << 16];
    let r = match *op {
        Op::Set(p, d, a, flags) => fs
            .setxattr(PATHS[p], kind(d), &pool()[a], flags)
            .map(|()| 0),
        Op::Get(p, d) => fs.getxattr(PATHS[p], kind(d), &mut buf),
        Op::Remove(p, d) => fs.removexattr(PATHS[p], kind(d)).map(|()| 0),
        Op::List(p) => fs.listxattr(PATHS[p], &mut buf),
        Op::Chmod(p, mode) => fs.chmod(PATHS[p], mode).map(|()| 0),
        Op::Chown(p, uid, gid) => fs.chown(PATHS[p], uid, gid).map(|()| 0),
        Op::Create(p, mode) => fs
            .open(PATHS[p], libc::O_CREAT | libc::O_WRONLY, mode)
            .and_then(|fd| fs.close(fd))
            .map(|()| 0),
        Op::Mkdir(p, mode) => fs.mkdir(PATHS[p], mode).map(|()| 0),
        Op::Access(p, mode, who) => fs.access(PATHS[p], mode, &identities()[who]).map(|()| 0),
        Op::Stat(p) => fs.stat(PATHS[p]).map(|st| {
            buf = stat_bytes(st.mode, st.uid, st.gid);
            buf.len()
        }),
    };
    let n = r.map_err(|e| e.raw_os_error().unwrap())?;
    buf.truncate(n);
    Ok(buf)
}

fn setup(fs: &Fs) {
    fs.mkdir("/a", 0o755).unwrap();
    fs.mkdir("/a/b", 0o755).unwrap();
    put(fs, "/a/f", b"f");
    put(fs, "/a/b/g", b"g");
    for (p, mode) in START {
        fs.chmod(p, *mode).unwrap();
    }
}

/// Runs `ops` on the kernel and on both backends (each from a fresh
/// start, with `umask`); then compares every path's mode, owner, ACLs and
/// attribute list. The first difference, if any.
fn compare(tmpfs: &Tmpfs, ops: &[Op], umask: u32) -> Option<String> {
    let failure = RefCell::new(None::<String>);
    let mut finals: Vec<Op> = Vec::new();
    for p in 0..PATHS.len() {
        finals.extend([
            Op::Stat(p),
            Op::Get(p, false),
            Op::Get(p, true),
            Op::List(p),
        ]);
    }
    each_with(
        || Fs::builder().umask(umask),
        |fs| {
            reset(tmpfs);
            setup(fs);
            let all = ops
                .iter()
                .map(|op| (true, op))
                .chain(finals.iter().map(|op| (false, op)));
            for (i, (scripted, op)) in all.enumerate() {
                let (theirs, ours) = (on_kernel(tmpfs, op, umask), on_ermfs(fs, op));
                if theirs != ours && failure.borrow().is_none() {
                    let at = if scripted { "op" } else { "final check" };
                    *failure.borrow_mut() = Some(format!(
                        "umask {umask:o}, {at} {i} {op:?} (ops {ops:?}): kernel {theirs:?}, ermfs {ours:?} (lockless: {})",
                        fs.is_lockless()
                    ));
                }
            }
        },
    );
    failure.into_inner()
}

/// The fixed cases, in order: round trips of valid and invalid
/// ACLs, an ACL equal to the mode, a default ACL on a file, `chmod` with
/// an ACL, inheritance into files and directories, access checks.
fn scenarios() -> Vec<Vec<Op>> {
    let (a, f, b, g, n, bn, nx) = (0, 1, 2, 3, 4, 5, 6);
    let mut out: Vec<Vec<Op>> = Vec::new();
    // Every pool entry as access and default ACL on a file and a dir.
    for acl in 0..pool().len() {
        for p in [f, b] {
            out.push(vec![
                Op::Set(p, false, acl, 0),
                Op::Get(p, false),
                Op::Set(p, true, acl, 0),
                Op::Get(p, true),
                Op::List(p),
                Op::Stat(p),
                Op::Remove(p, false),
                Op::Remove(p, true),
                Op::Stat(p),
            ]);
        }
    }
    // Equivalent ACLs over an extended one; removal of what is not there.
    out.push(vec![
        Op::Set(f, false, 3, 0),
        Op::Set(f, false, 1, libc::XATTR_CREATE),
        Op::Get(f, false),
        Op::Remove(f, false),
        Op::Remove(g, true),
        Op::Stat(f),
    ]);
    // chmod with ACLs (with and without a named entry's mask at 0).
    for acl in [3, 5, 6, 7, 8] {
        for mode in [0o2751, 0o640, 0o007, 0o000, 0o4777] {
            out.push(vec![
                Op::Set(f, false, acl, 0),
                Op::Chmod(f, mode),
                Op::Get(f, false),
                Op::Set(b, false, acl, 0),
                Op::Chmod(b, mode),
                Op::Get(b, false),
            ]);
        }
    }
    // Inheritance into files and directories, nested, with every mode.
    for acl in [0, 1, 3, 4, 5, 6, 7, 8, 9] {
        for &mode in MODES {
            out.push(vec![
                Op::Set(a, true, acl, 0),
                Op::Create(n, mode),
                Op::Set(b, true, acl, 0),
                Op::Mkdir(bn, mode),
                Op::Chmod(a, 0o2775),
                Op::Remove(n, false),
            ]);
        }
        out.push(vec![
            Op::Set(a, true, acl, 0),
            Op::Mkdir(n, 0o777),
            Op::Mkdir(nx, 0o750),
        ]);
    }
    // Access as every identity, for each ACL, file and directory.
    let ids = identities().len();
    for acl in [3, 4, 5, 6, 7, 8] {
        for owner in [(0, 0), (1000, 30), (1001, 1000)] {
            let mut ops = vec![
                Op::Chown(f, owner.0, owner.1),
                Op::Chown(b, owner.0, owner.1),
                Op::Set(f, false, acl, 0),
                Op::Set(b, false, acl, 0),
            ];
            for who in 0..ids {
                for mode in 0..8 {
                    ops.push(Op::Access(f, mode, who));
                    ops.push(Op::Access(g, mode, who));
                }
            }
            out.push(ops);
        }
    }
    out
}

#[test]
fn acls_match_a_kernel_tmpfs() {
    let Some(tmpfs) = Tmpfs::mount("acl-oracle") else {
        eprintln!("ACL differential: skipped (needs root to mount a tmpfs)");
        return;
    };
    let mut failure = None;
    for (i, ops) in scenarios().iter().enumerate() {
        let umask = UMASKS[i % UMASKS.len()];
        if let Some(f) = compare(&tmpfs, ops, umask) {
            failure = Some(format!("scenario {i}: {f}"));
            break;
        }
    }
    let result = match failure {
        Some(f) => Err(f),
        None => {
            let mut runner = TestRunner::new(Config {
                cases: 96,
                failure_persistence: None,
                ..Config::default()
            });
            let strategy = (
                prop::sample::select(UMASKS),
                prop::collection::vec(op(), 1..25),
            );
            runner
                .run(&strategy, |(umask, ops)| {
                    match compare(&tmpfs, &ops, umask) {
                        None => Ok(()),
                        Some(f) => Err(TestCaseError::fail(f)),
                    }
                })
                .map_err(|e| e.to_string())
        }
    };
    drop(tmpfs);
    if let Err(e) = result {
        panic!("{e}");
    }
}
