//! Identity differential against the kernel: what Linux lets the caller's
//! identity decide inside a file system, on ERMFS's node calls and on a
//! tmpfs mounted under `target/identity-oracle/<test>`.
//!
//! - Creation (`open(O_CREAT)`, `mkdir`, `mknod(S_IFIFO)` against
//!   [`Fs::mknodat`]/[`Fs::mkdirat`]) by root, 1000:1000, 1000:1000 with
//!   supplementary group 500 and 1001:1001, in a plain 0777 directory and a
//!   set-group-ID 02777 one owned by root:500, under umasks 0 and 022: mode,
//!   owner and group (set-group-ID inheritance, `mode_strip_sgid`).
//! - Data changes through a descriptor opened by each identity (`write`,
//!   `ftruncate`, `fallocate` against [`Fs::open_node`] and the same calls)
//!   on root's files with set-ID bits and a `security.capability`: which
//!   bits and whether the capability remain.
//! - `fchown` by root and by the owner (to other ids, the same ids, and
//!   -1/-1) against [`Fs::setattr`] (and [`Fs::fchown`] for root, the
//!   store's owner): mode, owner, group, capability.
//! - Device nodes and whiteouts (`mknod(S_IFCHR)`, `RENAME_WHITEOUT`) by a
//!   caller other than root.
//!
//! The kernel side runs each identity on a thread of its own that takes it
//! with raw `setgroups`/`setresgid`/`setresuid` syscalls (which change the
//! calling thread only) after `unshare(CLONE_FS)` and `umask`, so it has
//! exactly the umask given to ERMFS. Results are stat'ed as root. Every
//! difference is printed with both sides before the test fails. Needs root
//! (to mount, to take identities and set `security.capability`): skipped,
//! with a message, otherwise.
//!
//! Every case asserts the kernel's answer. Where ERMFS differs (Linux
//! 6.18, this tree) the failure lists each case; the differences found so
//! far are the core's to fix:
//! - a write, truncate or `fallocate` by a caller outside the file's group
//!   (and not root) clears set-group-ID without group execute too (Linux's
//!   `setattr_should_drop_sgid`); ERMFS keeps it;
//! - `fallocate` (every mode: a reservation or a punch of an empty file
//!   too) removes set-ID bits and `security.capability` as a write does;
//!   ERMFS removes nothing;
//! - a chown judges set-group-ID without group execute by the group the
//!   file had before (`setattr_should_drop_sgid`), ERMFS by the new one;
//! - `chown(-1, -1)` clears set-user-ID, set-group-ID (as above) and the
//!   capability; a [`SetAttr`] with neither id cannot say it, and changes
//!   nothing ([`Fs::fchown`] with `u32::MAX` agrees with the kernel);
//! - a character device 0:0 (a whiteout) may be made by anyone, with
//!   `mknod` or `RENAME_WHITEOUT` (Linux 5.8 on); ERMFS says `EPERM`.

use std::ffi::CString;
use std::fmt;

use ermfs::{Fs, Identity, Node, RenameFlags, SetAttr};

use super::common::each_fs;
use super::kernel::{Tmpfs, as_who, cstr, errno_of, status};

/// The group of the set-group-ID directory, and a supplementary group of
/// one identity.
const GROUP: u32 = 500;

/// `security.capability` (`VFS_CAP_REVISION_2`, permitted
/// `CAP_NET_BIND_SERVICE`): 20 bytes the kernel accepts.
fn capability() -> Vec<u8> {
    let mut v = 0x0200_0000u32.to_le_bytes().to_vec();
    for word in [1u32 << 10, 0, 0, 0] {
        v.extend_from_slice(&word.to_le_bytes());
    }
    v
}

const CAP: &str = "security.capability";

fn identities() -> Vec<Identity> {
    vec![
        Identity::root(),
        Identity::new(1000, 1000),
        Identity::new(1000, 1000).with_groups([GROUP]),
        Identity::new(1001, 1001),
    ]
}

/// Mounts `target/identity-oracle/<test>` (one mount per test: the tests
/// of this binary run in parallel) and makes `plain` (0777, root:root) and
/// `sgid` (02777, root:500) in it. `None` (said) when not root: the test
/// is skipped.
fn mount(test: &str) -> Option<Tmpfs> {
    let Some(tmpfs) = Tmpfs::mount(&format!("identity-oracle/{test}")) else {
        eprintln!("identity differential: skipped (needs root to mount a tmpfs)");
        return None;
    };
    for (name, gid, mode) in [("plain", 0, 0o777), ("sgid", GROUP, 0o2777)] {
        let p = tmpfs.at(name);
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkdir(p.as_ptr(), 0o700) }, 0);
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::chown(p.as_ptr(), 0, gid) }, 0);
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::chmod(p.as_ptr(), mode) }, 0);
    }
    Some(tmpfs)
}

/// Mode, uid, gid and whether `security.capability` is there.
type Meta = (u32, u32, u32, bool);

/// [`Meta`] of a kernel path, as root.
fn kernel_meta(path: &CString) -> Meta {
    // SAFETY: `st` is a valid out-pointer for lstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and out-pointer.
    assert_eq!(unsafe { libc::lstat(path.as_ptr(), &mut st) }, 0);
    let name = cstr(CAP.as_bytes());
    // SAFETY: valid NUL-terminated strings; a NULL buffer of size 0 asks
    // for the length only.
    let cap = unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    (st.st_mode, st.st_uid, st.st_gid, cap >= 0)
}

/// [`Meta`] of an ERMFS node whose path is `path`.
fn ermfs_meta(fs: &Fs, node: &Node, path: &str) -> Meta {
    let st = fs.getattr(node);
    let cap = fs.getxattr(path, CAP, &mut []).is_ok();
    (st.mode, st.uid, st.gid, cap)
}

fn kernel_set_cap(path: &CString) {
    let (name, value) = (cstr(CAP.as_bytes()), capability());
    // SAFETY: valid NUL-terminated strings and a value of `value.len()` bytes.
    let ret = unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        ret,
        0,
        "setxattr {CAP}: {}",
        std::io::Error::last_os_error()
    );
}

/// A result for the report: the mode in octal, owner, group, capability.
fn show(r: &Result<Meta, i32>) -> String {
    match r {
        Ok((mode, uid, gid, cap)) => format!("{mode:o} {uid}:{gid} cap {cap}"),
        Err(e) => format!("errno {e}"),
    }
}

/// The cases where ERMFS differs from the kernel, each with both results.
#[derive(Default)]
struct Diffs(Vec<String>);

impl Diffs {
    /// Notes `case` if ERMFS's result is not the kernel's.
    fn check(
        &mut self,
        case: fmt::Arguments<'_>,
        theirs: &Result<Meta, i32>,
        ours: &Result<Meta, i32>,
    ) {
        if ours != theirs {
            self.0.push(format!(
                "{case}: kernel {}, ermfs {}",
                show(theirs),
                show(ours)
            ));
        }
    }

    /// Prints every difference and fails if there is one.
    fn report(&self, what: &str) {
        for d in &self.0 {
            eprintln!("{what}: {d}");
        }
        assert!(
            self.0.is_empty(),
            "{what}: {} case(s) differ from the kernel (listed above)",
            self.0.len()
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    File,
    Dir,
    Fifo,
}

const CREATE_MODES: &[u32] = &[0o644, 0o2755, 0o2745, 0o4755, 0o6755, 0o1777];
const KINDS: &[Kind] = &[Kind::File, Kind::Dir, Kind::Fifo];
const UMASKS: &[u32] = &[0, 0o022];
const DIRS: &[&str] = &["plain", "sgid"];

fn kernel_create(path: &CString, kind: Kind, mode: u32) -> Result<(), i32> {
    match kind {
        Kind::File => {
            let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY;
            // SAFETY: a valid NUL-terminated path.
            let fd = errno_of(unsafe { libc::open(path.as_ptr(), flags, mode) } as isize)?;
            // SAFETY: closing the descriptor just opened.
            unsafe { libc::close(fd as i32) };
            Ok(())
        }
        // SAFETY: a valid NUL-terminated path.
        Kind::Dir => status(unsafe { libc::mkdir(path.as_ptr(), mode) }),
        Kind::Fifo => {
            // SAFETY: a valid NUL-terminated path.
            status(unsafe { libc::mknod(path.as_ptr(), libc::S_IFIFO | mode, 0) })
        }
    }
}

/// The two directories of [`mount`] in `fs`.
fn ermfs_dirs(fs: &Fs) -> Vec<Node> {
    let root = Identity::root();
    let top = fs.root();
    DIRS.iter()
        .map(|name| {
            let d = fs.mkdirat(&top, name, 0o700, 0, &root).unwrap();
            let (gid, mode) = if *name == "sgid" {
                (GROUP, 0o2777)
            } else {
                (0, 0o777)
            };
            let attr = SetAttr {
                gid: Some(gid),
                ..SetAttr::default()
            };
            fs.setattr(&d, &attr, &root).unwrap();
            let attr = SetAttr {
                mode: Some(mode),
                ..SetAttr::default()
            };
            fs.setattr(&d, &attr, &root).unwrap();
            d
        })
        .collect()
}

#[test]
fn creation_by_each_identity_matches_the_kernel() {
    let Some(tmpfs) = mount("creation") else {
        return;
    };
    let ids = identities();
    // Every name made on the kernel, with its result.
    let mut kernel = Vec::new();
    for &umask in UMASKS {
        for (i, who) in ids.iter().enumerate() {
            let mut jobs = Vec::new();
            for dir in DIRS {
                for &mode in CREATE_MODES {
                    for &kind in KINDS {
                        let rel = format!("{dir}/{kind:?}-{i}-{mode:o}-{umask:o}");
                        jobs.push((tmpfs.at(&rel), rel, kind, mode));
                    }
                }
            }
            let results = as_who(who, umask, move || {
                jobs.into_iter()
                    .map(|(path, rel, kind, mode)| {
                        let r = kernel_create(&path, kind, mode);
                        (path, rel, kind, mode, r)
                    })
                    .collect::<Vec<_>>()
            });
            for (path, rel, kind, mode, r) in results {
                let r = r.map(|()| kernel_meta(&path));
                kernel.push((umask, i, rel, kind, mode, r));
            }
        }
    }
    // Every directory is writable by all: every creation succeeds.
    for (_, i, rel, _, _, r) in &kernel {
        assert!(r.is_ok(), "kernel: {rel} by identity {i}: {r:?}");
    }
    each_fs(|fs| {
        let dirs = ermfs_dirs(fs);
        let mut diffs = Diffs::default();
        for (umask, i, rel, kind, mode, theirs) in &kernel {
            let who = &ids[*i];
            let (dir, name) = rel.split_once('/').unwrap();
            let d = &dirs[DIRS.iter().position(|x| *x == dir).unwrap()];
            let made = match kind {
                Kind::File => fs.mknodat(d, name, libc::S_IFREG | mode, 0, *umask, who),
                Kind::Dir => fs.mkdirat(d, name, *mode, *umask, who),
                Kind::Fifo => fs.mknodat(d, name, libc::S_IFIFO | mode, 0, *umask, who),
            };
            let ours = made
                .map(|n| ermfs_meta(fs, &n, &format!("/{rel}")))
                .map_err(|e| e.raw_os_error().unwrap());
            diffs.check(
                format_args!("{kind:?} {mode:o} umask {umask:o} by {who:?} in {dir}"),
                theirs,
                &ours,
            );
        }
        diffs.report("creation");
    });
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    Write,
    Truncate,
    Fallocate,
    /// `FALLOC_FL_KEEP_SIZE`: a reservation, the size unchanged.
    Reserve,
    /// `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE` of an empty file.
    Punch,
}

/// `fallocate`'s `mode` and range for a change, if it is one.
fn falloc(change: Change) -> Option<(i32, i64, i64)> {
    let punch = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    match change {
        Change::Fallocate => Some((0, 0, 4096)),
        Change::Reserve => Some((libc::FALLOC_FL_KEEP_SIZE, 0, 4096)),
        Change::Punch => Some((punch, 0, 4096)),
        Change::Write | Change::Truncate => None,
    }
}

const WRITE_MODES: &[u32] = &[0o6777, 0o6767, 0o4777, 0o2777, 0o777];
/// The group of root's files: root's own, or the supplementary group of
/// one identity (set-group-ID without group execute is kept for a member).
const FILE_GROUPS: &[u32] = &[0, GROUP];

fn kernel_change(path: &CString, change: Change) -> Result<(), i32> {
    // SAFETY: a valid NUL-terminated path.
    let fd = errno_of(unsafe { libc::open(path.as_ptr(), libc::O_WRONLY) } as isize)? as i32;
    let r = match change {
        // SAFETY: `fd` is the descriptor just opened; the buffer is one byte.
        Change::Write => unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) },
        // SAFETY: `fd` is the descriptor just opened.
        Change::Truncate => unsafe { libc::ftruncate(fd, 1) as isize },
        _ => {
            let (mode, off, len) = falloc(change).unwrap();
            // SAFETY: `fd` is the descriptor just opened.
            unsafe { libc::fallocate(fd, mode, off, len) as isize }
        }
    };
    let r = errno_of(r).map(drop);
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    r
}

fn ermfs_change(fs: &Fs, node: &Node, change: Change, who: &Identity) -> Result<(), i32> {
    let run = || -> std::io::Result<()> {
        let fd = fs.open_node(node, libc::O_WRONLY, who)?;
        let r = match change {
            Change::Write => fs.write(fd, b"x").map(drop),
            Change::Truncate => fs.ftruncate(fd, 1),
            _ => {
                let (mode, off, len) = falloc(change).unwrap();
                fs.fallocate(fd, mode, off, len)
            }
        };
        fs.close(fd)?;
        r
    };
    run().map_err(|e| e.raw_os_error().unwrap())
}

/// Makes root's file `name` in ERMFS's `/plain` with owner `uid:gid`,
/// `mode` and a capability, as [`kernel_file`] does on the kernel.
fn ermfs_file(fs: &Fs, dir: &Node, name: &str, (uid, gid): (u32, u32), mode: u32) -> Node {
    let root = Identity::root();
    let node = fs
        .mknodat(dir, name, libc::S_IFREG | 0o600, 0, 0, &root)
        .unwrap();
    let owner = SetAttr {
        uid: Some(uid),
        gid: Some(gid),
        ..SetAttr::default()
    };
    fs.setattr(&node, &owner, &root).unwrap();
    let perm = SetAttr {
        mode: Some(mode),
        ..SetAttr::default()
    };
    fs.setattr(&node, &perm, &root).unwrap();
    fs.setxattr(format!("/plain/{name}"), CAP, &capability(), 0)
        .unwrap();
    node
}

/// Makes the kernel file `path` as root: owner `uid:gid`, `mode`, a
/// capability.
fn kernel_file(path: &CString, (uid, gid): (u32, u32), mode: u32) {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY;
    // SAFETY: a valid NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), flags, 0o600) };
    assert!(fd >= 0, "create: {}", std::io::Error::last_os_error());
    // SAFETY: closing the descriptor just opened.
    unsafe { libc::close(fd) };
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::chown(path.as_ptr(), uid, gid) }, 0);
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::chmod(path.as_ptr(), mode) }, 0);
    kernel_set_cap(path);
}

#[test]
fn writes_truncates_and_fallocate_by_each_identity_match_the_kernel() {
    let Some(tmpfs) = mount("changes") else {
        return;
    };
    let ids = identities();
    let mut kernel = Vec::new();
    for change in [
        Change::Write,
        Change::Truncate,
        Change::Fallocate,
        Change::Reserve,
        Change::Punch,
    ] {
        for &gid in FILE_GROUPS {
            for &mode in WRITE_MODES {
                for (i, who) in ids.iter().enumerate() {
                    let name = format!("{change:?}-{gid}-{mode:o}-{i}");
                    let path = tmpfs.at(&format!("plain/{name}"));
                    kernel_file(&path, (0, gid), mode);
                    let p = path.clone();
                    let r = as_who(who, 0, move || kernel_change(&p, change));
                    kernel.push((change, gid, mode, i, name, r.map(|()| kernel_meta(&path))));
                }
            }
        }
    }
    each_fs(|fs| {
        let plain = ermfs_dirs(fs).swap_remove(0);
        let mut diffs = Diffs::default();
        for (change, gid, mode, i, name, theirs) in &kernel {
            let who = &ids[*i];
            let node = ermfs_file(fs, &plain, name, (0, *gid), *mode);
            let ours = ermfs_change(fs, &node, *change, who)
                .map(|()| ermfs_meta(fs, &node, &format!("/plain/{name}")));
            diffs.check(
                format_args!("{change:?} on {mode:o} root:{gid} with a capability by {who:?}"),
                theirs,
                &ours,
            );
        }
        diffs.report("data change");
    });
}

const CHOWN_MODES: &[u32] = &[0o6755, 0o6745, 0o4755];
/// `u32::MAX` is -1 (keep).
const KEEP: u32 = u32::MAX;

/// The chowns tried: (owner of the file before, caller, new uid, new gid).
fn chowns() -> Vec<((u32, u32), usize, u32, u32)> {
    let mut cases = Vec::new();
    // Root, on 1000:1000's file.
    for (uid, gid) in [
        (2000, 2000),
        (1000, 1000),
        // chown(-1, -1): for `setattr`, no id at all (see the module doc).
        (KEEP, KEEP),
        (KEEP, GROUP),
        (0, KEEP),
    ] {
        cases.push(((1000, 1000), 0, uid, gid));
    }
    // The owner (1000, without and with group 500), on files in its own
    // group or in 500; only to ids it may give (the kernel's EPERM cases
    // are not modelled: ERMFS checks no permissions).
    for before in [(1000, 1000), (1000, GROUP)] {
        for who in [1, 2] {
            for (uid, gid) in [(KEEP, KEEP), (1000, KEEP), (KEEP, 1000), (1000, 1000)] {
                cases.push((before, who, uid, gid));
            }
            if who == 2 {
                cases.push((before, who, KEEP, GROUP));
            }
        }
    }
    cases
}

fn kernel_fchown(path: &CString, uid: u32, gid: u32) -> Result<(), i32> {
    // SAFETY: a valid NUL-terminated path.
    let fd = errno_of(unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) } as isize)? as i32;
    // SAFETY: `fd` is the descriptor just opened.
    let r = status(unsafe { libc::fchown(fd, uid, gid) });
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    r
}

fn keep(id: u32) -> Option<u32> {
    (id != KEEP).then_some(id)
}

#[test]
fn chown_by_root_and_by_the_owner_matches_the_kernel() {
    let Some(tmpfs) = mount("chown") else {
        return;
    };
    let ids = identities();
    let mut kernel = Vec::new();
    for (n, (before, i, uid, gid)) in chowns().into_iter().enumerate() {
        for &mode in CHOWN_MODES {
            let name = format!("chown-{n}-{mode:o}");
            let path = tmpfs.at(&format!("plain/{name}"));
            kernel_file(&path, before, mode);
            let p = path.clone();
            let r = as_who(&ids[i], 0, move || kernel_fchown(&p, uid, gid));
            assert_eq!(r, Ok(()), "{name}: a chown the kernel allows");
            kernel.push((before, i, uid, gid, mode, name, kernel_meta(&path)));
        }
    }
    each_fs(|fs| {
        let plain = ermfs_dirs(fs).swap_remove(0);
        let mut diffs = Diffs::default();
        for (before, i, uid, gid, mode, name, theirs) in &kernel {
            let who = &ids[*i];
            let node = ermfs_file(fs, &plain, name, *before, *mode);
            // A `SetAttr` chowns when it names an owner: a kernel -1 keeps
            // that id, so `chown(-1, -1)` is the current owner, given.
            let (uid_now, gid_now) = *before;
            let attr = SetAttr {
                uid: Some(keep(*uid).unwrap_or(uid_now)),
                gid: Some(keep(*gid).unwrap_or(gid_now)),
                ..SetAttr::default()
            };
            fs.setattr(&node, &attr, who).unwrap();
            let ours = ermfs_meta(fs, &node, &format!("/plain/{name}"));
            let (u, g) = (*uid as i32, *gid as i32);
            diffs.check(
                format_args!(
                    "setattr chown({u}, {g}) of {mode:o} {before:?} with a capability by {who:?}"
                ),
                &Ok(*theirs),
                &Ok(ours),
            );
            if who.is_root() {
                // The path-style call, as the store's owner (root).
                let node = ermfs_file(fs, &plain, &format!("{name}-f"), *before, *mode);
                let fd = fs.open_node(&node, libc::O_RDONLY, who).unwrap();
                fs.fchown(fd, *uid, *gid).unwrap();
                fs.close(fd).unwrap();
                let ours = ermfs_meta(fs, &node, &format!("/plain/{name}-f"));
                diffs.check(
                    format_args!(
                        "fchown({u}, {g}) of {mode:o} {before:?} with a capability by root"
                    ),
                    &Ok(*theirs),
                    &Ok(ours),
                );
            }
        }
        diffs.report("chown");
    });
}

#[test]
fn device_nodes_and_whiteouts_by_others_match_the_kernel() {
    let Some(tmpfs) = mount("devices") else {
        return;
    };
    let ids = identities();
    // (what, kernel result): mknod of a device, then rename with WHITEOUT.
    let mut kernel = Vec::new();
    let cases = [
        ("chr-1-3", libc::S_IFCHR, libc::makedev(1, 3)),
        ("chr-0-0", libc::S_IFCHR, 0),
        ("blk-8-1", libc::S_IFBLK, libc::makedev(8, 1)),
    ];
    for (i, who) in ids.iter().enumerate() {
        for (name, kind, dev) in cases {
            let path = tmpfs.at(&format!("plain/{name}-{i}"));
            let p = path.clone();
            let r = as_who(who, 0, move || {
                // SAFETY: a valid NUL-terminated path.
                status(unsafe { libc::mknod(p.as_ptr(), kind | 0o640, dev) })
            });
            let r = r.map(|()| kernel_meta(&path));
            kernel.push((i, format!("mknod {name}"), r));
        }
        let from = tmpfs.at(&format!("plain/w-{i}"));
        let to = tmpfs.at(&format!("plain/w-{i}-moved"));
        kernel_file(&from, (who.uid, who.gid), 0o644);
        let (f, t) = (from.clone(), to.clone());
        let r = as_who(who, 0, move || {
            // SAFETY: valid NUL-terminated paths.
            status(unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    f.as_ptr(),
                    libc::AT_FDCWD,
                    t.as_ptr(),
                    libc::RENAME_WHITEOUT,
                )
            })
        });
        let r = r.map(|()| kernel_meta(&from));
        kernel.push((i, "rename WHITEOUT".to_owned(), r));
    }
    each_fs(|fs| {
        let plain = ermfs_dirs(fs).swap_remove(0);
        let mut diffs = Diffs::default();
        let mut rows = kernel.iter();
        for (i, who) in ids.iter().enumerate() {
            for (name, kind, dev) in cases {
                let n = format!("{name}-{i}");
                let ours = fs
                    .mknodat(&plain, &n, kind | 0o640, dev, 0, who)
                    .map(|node| ermfs_meta(fs, &node, &format!("/plain/{n}")))
                    .map_err(|e| e.raw_os_error().unwrap());
                let (_, what, theirs) = rows.next().unwrap();
                diffs.check(format_args!("{what} by {who:?}"), theirs, &ours);
            }
            let n = format!("w-{i}");
            ermfs_file(fs, &plain, &n, (who.uid, who.gid), 0o644);
            let moved = format!("{n}-moved");
            let ours = fs
                .renameat2(&plain, &n, &plain, &moved, RenameFlags::WHITEOUT, who)
                .map(|()| {
                    let node = fs.lookup(&plain, &n).unwrap();
                    ermfs_meta(fs, &node, &format!("/plain/{n}"))
                })
                .map_err(|e| e.raw_os_error().unwrap());
            let (_, what, theirs) = rows.next().unwrap();
            diffs.check(format_args!("{what} by {who:?}"), theirs, &ours);
        }
        diffs.report("device nodes");
    });
}
