//! Permission differential against the kernel: random `chmod`, `chown`,
//! `mkdir`, create, `stat` (mode, uid, gid) and `access` calls (the last as
//! root and as three non-root identities, one with a supplementary group)
//! on a small tree give the same results on
//! ERMFS ([`Fs::access`]) and on a tmpfs mounted under `target/`, where
//! each kernel `access` runs on a thread of its own that takes the
//! identity with raw `setgroups`/`setresgid`/`setresuid` syscalls (which,
//! unlike libc's wrappers, change only the calling thread). Needs root:
//! skipped, with a message, otherwise. Also `futimens` edge values
//! against a memfd.

use std::cell::RefCell;
use std::time::{Duration, SystemTime};

use ermfs::{Fs, Identity, TimeSpec};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::common::{each_fs, each_with};
use super::kernel::{Tmpfs, as_who, cstr, status};

const PATHS: &[&str] = &[
    "a",
    "a/f",
    "a/b",
    "a/b/g",
    "a/b/..",
    "a/./f",
    "a/f/",
    "a/missing",
    "a/b/missing",
    "a/f/x",
];
const MODES: &[u32] = &[
    0o000, 0o700, 0o750, 0o755, 0o711, 0o644, 0o640, 0o604, 0o460, 0o070, 0o007, 0o001, 0o100,
    0o010, 0o1777,
];
const IDS: &[u32] = &[0, 1000, 1001];

/// Root, two users, and a third user in the first one's group.
fn identities() -> Vec<Identity> {
    vec![
        Identity::root(),
        Identity::new(1000, 1000),
        Identity::new(1001, 1001).with_groups([1000]),
        Identity::new(1002, 1002),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Chmod(usize, u32),
    Chown(usize, u32, u32),
    Access(usize, i32, usize),
    Mkdir(usize, u32),
    Create(usize, u32),
    /// Compares mode, uid and gid.
    Stat(usize),
}

/// What a call gave: its errno, or for `Stat` the mode, uid and gid.
type Outcome = Result<Option<(u32, u32, u32)>, i32>;

fn op() -> impl Strategy<Value = Op> {
    let path = 0..PATHS.len();
    let id = prop::sample::select(IDS);
    let mode = prop_oneof![
        3 => prop::sample::select(MODES),
        1 => Just(0o7777u32),
        1 => Just(0o2775u32),
    ];
    prop_oneof![
        2 => (path.clone(), mode.clone()).prop_map(|(p, m)| Op::Chmod(p, m)),
        1 => (path.clone(), id.clone(), id).prop_map(|(p, u, g)| Op::Chown(p, u, g)),
        5 => (path.clone(), 0i32..=8, 0usize..4).prop_map(|(p, m, i)| Op::Access(p, m, i)),
        1 => (path.clone(), mode.clone()).prop_map(|(p, m)| Op::Mkdir(p, m)),
        1 => (path.clone(), mode).prop_map(|(p, m)| Op::Create(p, m)),
        2 => path.prop_map(Op::Stat),
    ]
}

/// Empties the tmpfs and builds the starting tree.
fn reset(tmpfs: &Tmpfs) {
    tmpfs.clear();
    let root = tmpfs.path();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("a/f"), b"f").unwrap();
    std::fs::write(root.join("a/b/g"), b"g").unwrap();
    for (p, mode) in [
        ("a", 0o755),
        ("a/b", 0o755),
        ("a/f", 0o644),
        ("a/b/g", 0o644),
    ] {
        let i = PATHS.iter().position(|&x| x == p).unwrap();
        change(tmpfs, &Op::Chmod(i, mode)).unwrap();
    }
}

/// `op` on the kernel (creates with the process's umask).
fn on_kernel(tmpfs: &Tmpfs, op: &Op) -> Outcome {
    let path = match *op {
        Op::Chmod(p, _)
        | Op::Chown(p, ..)
        | Op::Access(p, ..)
        | Op::Mkdir(p, _)
        | Op::Create(p, _)
        | Op::Stat(p) => tmpfs.at(PATHS[p]),
    };
    match *op {
        Op::Mkdir(_, mode) => {
            // SAFETY: a valid NUL-terminated path.
            status(unsafe { libc::mkdir(path.as_ptr(), mode) }).map(|()| None)
        }
        Op::Create(_, mode) => {
            let flags = libc::O_CREAT | libc::O_WRONLY;
            // SAFETY: a valid NUL-terminated path.
            let fd = unsafe { libc::open(path.as_ptr(), flags, mode) };
            status(fd)?;
            // SAFETY: closing the descriptor just opened.
            unsafe { libc::close(fd) };
            Ok(None)
        }
        Op::Stat(_) => {
            // SAFETY: `st` is a valid out-pointer for stat.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: a valid NUL-terminated path and out-pointer.
            status(unsafe { libc::stat(path.as_ptr(), &mut st) })?;
            Ok(Some((st.st_mode, st.st_uid, st.st_gid)))
        }
        _ => change(tmpfs, op).map(|()| None),
    }
}

/// The calls of `op` that return nothing, on the kernel.
fn change(tmpfs: &Tmpfs, op: &Op) -> Result<(), i32> {
    match *op {
        Op::Chmod(p, mode) => {
            let path = tmpfs.at(PATHS[p]);
            // SAFETY: a valid NUL-terminated path.
            status(unsafe { libc::chmod(path.as_ptr(), mode) })
        }
        Op::Chown(p, uid, gid) => {
            let path = tmpfs.at(PATHS[p]);
            // SAFETY: a valid NUL-terminated path.
            status(unsafe { libc::chown(path.as_ptr(), uid, gid) })
        }
        Op::Access(p, mode, who) => {
            let path = tmpfs.at(PATHS[p]);
            // access(2) creates nothing: the thread's umask does not matter.
            as_who(&identities()[who], 0, move || {
                // SAFETY: a valid NUL-terminated path.
                status(unsafe { libc::access(path.as_ptr(), mode) })
            })
        }
        _ => unreachable!("handled by on_kernel"),
    }
}

fn on_ermfs(fs: &Fs, op: &Op) -> Outcome {
    let r = match *op {
        Op::Chmod(p, mode) => fs.chmod(PATHS[p], mode).map(|()| None),
        Op::Chown(p, uid, gid) => fs.chown(PATHS[p], uid, gid).map(|()| None),
        Op::Access(p, mode, who) => fs.access(PATHS[p], mode, &identities()[who]).map(|()| None),
        Op::Mkdir(p, mode) => fs.mkdir(PATHS[p], mode).map(|()| None),
        Op::Create(p, mode) => fs
            .open(PATHS[p], libc::O_CREAT | libc::O_WRONLY, mode)
            .and_then(|fd| fs.close(fd))
            .map(|()| None),
        Op::Stat(p) => fs.stat(PATHS[p]).map(|st| Some((st.mode, st.uid, st.gid))),
    };
    r.map_err(|e| e.raw_os_error().unwrap())
}

/// This process's umask, read without changing it.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
}

fn setup(fs: &Fs) {
    fs.mkdir("/a", 0o755).unwrap();
    fs.mkdir("/a/b", 0o755).unwrap();
    super::common::put(fs, "/a/f", b"f");
    super::common::put(fs, "/a/b/g", b"g");
}

#[test]
fn chmod_chown_and_access_match_the_kernel() {
    let Some(tmpfs) = Tmpfs::mount("meta-oracle") else {
        eprintln!("permission differential: skipped 1 case (needs root to mount a tmpfs)");
        return;
    };
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(op(), 1..30), |ops| {
        let failure = RefCell::new(None::<String>);
        let mask = umask();
        each_with(
            || Fs::builder().umask(mask),
            |fs| {
                reset(&tmpfs);
                setup(fs);
                for (i, op) in ops.iter().enumerate() {
                    let (theirs, ours) = (on_kernel(&tmpfs, op), on_ermfs(fs, op));
                    if theirs != ours && failure.borrow().is_none() {
                        *failure.borrow_mut() =
                            Some(format!("op {i} {op:?}: kernel {theirs:?}, ermfs {ours:?}"));
                    }
                }
            },
        );
        match failure.into_inner() {
            None => Ok(()),
            Some(f) => Err(TestCaseError::fail(f)),
        }
    });
    drop(tmpfs);
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// `SystemTime` of a kernel `timespec`.
fn system_time(sec: i64, nsec: i64) -> SystemTime {
    let nsec = Duration::from_nanos(nsec as u64);
    if sec >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(sec as u64) + nsec
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs()) + nsec
    }
}

/// `futimens` edge values give the same `atime`/`mtime` on a memfd and on
/// ERMFS; `UTIME_OMIT` keeps a time on both.
#[test]
fn futimens_edge_values_match_a_memfd() {
    let values: &[(i64, i64)] = &[
        (0, 0),
        (0, 999_999_999),
        (-1, 0),
        (-1, 1),
        (-(1 << 40), 5),
        (1 << 33, 123_456_789),
        (i32::MAX as i64, 999_999_999),
        (i32::MIN as i64, 0),
    ];
    let name = cstr("utimens-oracle");
    // SAFETY: `name` is a valid NUL-terminated string.
    let memfd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
    assert!(memfd >= 0);
    each_fs(|fs| {
        let fd = fs
            .open("/f", libc::O_CREAT | libc::O_RDONLY, 0o644)
            .unwrap();
        for &(sec, nsec) in values {
            for omit_atime in [false, true] {
                let t = libc::timespec {
                    tv_sec: sec,
                    tv_nsec: nsec,
                };
                let omit = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: libc::UTIME_OMIT,
                };
                let times = [if omit_atime { omit } else { t }, t];
                // SAFETY: `times` holds two valid timespecs.
                assert_eq!(unsafe { libc::futimens(memfd, times.as_ptr()) }, 0);
                // SAFETY: `st` is a valid out-pointer for fstat.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: as above.
                assert_eq!(unsafe { libc::fstat(memfd, &mut st) }, 0);
                let v = TimeSpec::Set(system_time(sec, nsec));
                let a = if omit_atime { TimeSpec::Omit } else { v };
                fs.futimens(fd, a, v).unwrap();
                let ours = fs.fstat(fd).unwrap();
                assert_eq!(ours.mtime, system_time(st.st_mtime, st.st_mtime_nsec));
                assert_eq!(ours.atime, system_time(st.st_atime, st.st_atime_nsec));
            }
        }
        fs.close(fd).unwrap();
    });
    // SAFETY: closing the memfd this test opened.
    unsafe { libc::close(memfd) };
}
