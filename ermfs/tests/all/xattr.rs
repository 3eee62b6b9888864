//! Extended attributes: flags, size queries, limits, namespaces, the
//! descriptor forms, the memory budget, and a differential against a
//! kernel tmpfs (mounted under `target/`, when the test runs as root).

use std::ffi::CString;

use ermfs::{Fs, XATTR_SIZE_MAX};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::common::{each_fs, each_with, errno, get, put};
use super::kernel::{Tmpfs, cstr, errno_of};

/// The value of `name` on `path`, or its errno.
fn value(fs: &Fs, path: &str, name: &str) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; XATTR_SIZE_MAX];
    match fs.getxattr(path, name, &mut buf) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => Err(e.raw_os_error().unwrap()),
    }
}

/// The names of `path`'s attributes.
fn names(fs: &Fs, path: &str) -> Vec<String> {
    let mut buf = vec![0u8; 1 << 16];
    let n = fs.listxattr(path, &mut buf).unwrap();
    buf[..n]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8(s.to_vec()).unwrap())
        .collect()
}

#[test]
fn set_get_list_remove() {
    each_fs(|fs| {
        put(fs, "/f", b"data");
        assert_eq!(fs.listxattr("/f", &mut []).unwrap(), 0);
        fs.setxattr("/f", "user.b", b"2", 0).unwrap();
        fs.setxattr("/f", "user.a", b"one", 0).unwrap();
        fs.setxattr("/f", "trusted.t", b"", 0).unwrap();
        fs.setxattr("/f", "security.s", b"sec", 0).unwrap();
        assert_eq!(value(fs, "/f", "user.a"), Ok(b"one".to_vec()));
        assert_eq!(value(fs, "/f", "trusted.t"), Ok(vec![]));
        // Descending byte order (as tmpfs), NUL after each name.
        assert_eq!(
            names(fs, "/f"),
            ["user.b", "user.a", "trusted.t", "security.s"]
        );
        let len = "security.s trusted.t user.a user.b ".len();
        assert_eq!(fs.listxattr("/f", &mut []).unwrap(), len);
        assert_eq!(
            errno(fs.listxattr("/f", &mut vec![0; len - 1])),
            libc::ERANGE
        );
        // Size query and a buffer too small.
        assert_eq!(fs.getxattr("/f", "user.a", &mut []).unwrap(), 3);
        assert_eq!(
            errno(fs.getxattr("/f", "user.a", &mut [0; 2])),
            libc::ERANGE
        );
        // Replace (shorter, longer), remove.
        fs.setxattr("/f", "user.a", b"1", 0).unwrap();
        fs.setxattr("/f", "user.a", b"longer value", 0).unwrap();
        assert_eq!(value(fs, "/f", "user.a"), Ok(b"longer value".to_vec()));
        fs.removexattr("/f", "user.a").unwrap();
        assert_eq!(value(fs, "/f", "user.a"), Err(libc::ENODATA));
        assert_eq!(errno(fs.removexattr("/f", "user.a")), libc::ENODATA);
        // The data is untouched; the attributes survive compression.
        assert_eq!(get(fs, "/f"), b"data");
        assert_eq!(names(fs, "/f"), ["user.b", "trusted.t", "security.s"]);
        // Directories have them too.
        fs.mkdir("/d", 0o755).unwrap();
        fs.setxattr("/d", "user.x", b"dir", 0).unwrap();
        assert_eq!(value(fs, "/d/", "user.x"), Ok(b"dir".to_vec()));
        // A rename keeps them.
        fs.rename("/f", "/g").unwrap();
        assert_eq!(value(fs, "/g", "user.b"), Ok(b"2".to_vec()));
    });
}

#[test]
fn attributes_survive_backend_switches_and_background_compression() {
    let delay = std::time::Duration::from_millis(1);
    let policy = ermfs::CompressionPolicy::Background { delay };
    each_with(
        || Fs::builder().compression(policy),
        |fs| {
            put(fs, "/f", &b"abc".repeat(10_000));
            fs.setxattr("/f", "user.k", b"v", 0).unwrap();
            fs.settle();
            assert_eq!(fs.stats().compressions, 1);
            let lockless = fs.is_lockless();
            fs.set_lockless_mode(!lockless).unwrap();
            assert_eq!(value(fs, "/f", "user.k"), Ok(b"v".to_vec()));
            fs.set_lockless_mode(lockless).unwrap();
            assert_eq!(names(fs, "/f"), ["user.k"]);
        },
    );
}

#[test]
fn create_and_replace_flags() {
    each_fs(|fs| {
        put(fs, "/f", b"");
        let (create, replace) = (libc::XATTR_CREATE, libc::XATTR_REPLACE);
        assert_eq!(
            errno(fs.setxattr("/f", "user.k", b"v", replace)),
            libc::ENODATA
        );
        fs.setxattr("/f", "user.k", b"v", create).unwrap();
        assert_eq!(
            errno(fs.setxattr("/f", "user.k", b"w", create)),
            libc::EEXIST
        );
        fs.setxattr("/f", "user.k", b"w", replace).unwrap();
        assert_eq!(value(fs, "/f", "user.k"), Ok(b"w".to_vec()));
        // Both flags: EEXIST if present, ENODATA if absent (as Linux).
        assert_eq!(
            errno(fs.setxattr("/f", "user.k", b"", create | replace)),
            libc::EEXIST
        );
        assert_eq!(
            errno(fs.setxattr("/f", "user.z", b"", create | replace)),
            libc::ENODATA
        );
        assert_eq!(errno(fs.setxattr("/f", "user.k", b"", 4)), libc::EINVAL);
        assert_eq!(value(fs, "/f", "user.k"), Ok(b"w".to_vec()));
    });
}

#[test]
fn limits_and_namespaces() {
    each_fs(|fs| {
        put(fs, "/f", b"");
        let long = format!("user.{}", "n".repeat(250));
        assert_eq!(long.len(), 255);
        fs.setxattr("/f", &long, b"v", 0).unwrap();
        assert_eq!(value(fs, "/f", &long), Ok(b"v".to_vec()));
        let too_long = format!("{long}n");
        assert_eq!(errno(fs.setxattr("/f", &too_long, b"v", 0)), libc::ERANGE);
        assert_eq!(errno(fs.getxattr("/f", &too_long, &mut [])), libc::ERANGE);
        assert_eq!(errno(fs.removexattr("/f", &too_long)), libc::ERANGE);
        assert_eq!(errno(fs.setxattr("/f", "", b"v", 0)), libc::ERANGE);
        assert_eq!(errno(fs.setxattr("/f", "user.a\0b", b"v", 0)), libc::EINVAL);
        // Values up to 64 KiB.
        let big = vec![0xA5u8; XATTR_SIZE_MAX];
        fs.setxattr("/f", "user.big", &big, 0).unwrap();
        assert_eq!(value(fs, "/f", "user.big").unwrap(), big);
        let bigger = vec![0u8; XATTR_SIZE_MAX + 1];
        assert_eq!(
            errno(fs.setxattr("/f", "user.big", &bigger, 0)),
            libc::E2BIG
        );
        // Namespaces.
        for name in [
            "foo.bar",
            "system.foo",
            "system.posix_acl_accessx",
            "user",
            "xattr",
        ] {
            assert_eq!(
                errno(fs.setxattr("/f", name, b"v", 0)),
                libc::EOPNOTSUPP,
                "{name}"
            );
            assert_eq!(
                errno(fs.getxattr("/f", name, &mut [])),
                libc::EOPNOTSUPP,
                "{name}"
            );
            assert_eq!(
                errno(fs.removexattr("/f", name)),
                libc::EOPNOTSUPP,
                "{name}"
            );
        }
        for name in ["user.", "trusted.", "security."] {
            assert_eq!(
                errno(fs.setxattr("/f", name, b"v", 0)),
                libc::EINVAL,
                "{name}"
            );
        }
        // Linux's order: flags, name, size, then the path, then the namespace.
        assert_eq!(errno(fs.setxattr("/none", "user.a", b"", 8)), libc::EINVAL);
        assert_eq!(errno(fs.setxattr("/none", "", b"", 0)), libc::ERANGE);
        assert_eq!(
            errno(fs.setxattr("/none", "user.a", &bigger, 0)),
            libc::E2BIG
        );
        assert_eq!(errno(fs.setxattr("/none", "foo.a", b"", 0)), libc::ENOENT);
        assert_eq!(errno(fs.getxattr("/none", "user.a", &mut [])), libc::ENOENT);
        assert_eq!(errno(fs.listxattr("/none", &mut [])), libc::ENOENT);
        assert_eq!(errno(fs.removexattr("/f/x", "user.a")), libc::ENOTDIR);
        assert_eq!(
            errno(fs.getxattr("/f", "user.none", &mut [])),
            libc::ENODATA
        );
    });
}

#[test]
fn descriptor_forms() {
    each_fs(|fs| {
        let fd = fs
            .open("/f", libc::O_CREAT | libc::O_RDONLY, 0o644)
            .unwrap();
        fs.fsetxattr(fd, "user.k", b"v", 0).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(fs.fgetxattr(fd, "user.k", &mut buf).unwrap(), 1);
        assert_eq!(fs.flistxattr(fd, &mut buf).unwrap(), 7);
        assert_eq!(&buf[..7], b"user.k\0");
        fs.fremovexattr(fd, "user.k").unwrap();
        assert_eq!(errno(fs.fremovexattr(fd, "user.k")), libc::ENODATA);
        // An unlinked open file keeps its attributes until the last close.
        fs.fsetxattr(fd, "user.k", b"v", 0).unwrap();
        fs.unlink("/f").unwrap();
        assert_eq!(fs.fgetxattr(fd, "user.k", &mut []).unwrap(), 1);
        fs.close(fd).unwrap();
        for bad in [-1, fd, 1000] {
            assert_eq!(errno(fs.fsetxattr(bad, "user.k", b"v", 0)), libc::EBADF);
            assert_eq!(errno(fs.fgetxattr(bad, "user.k", &mut [])), libc::EBADF);
            assert_eq!(errno(fs.flistxattr(bad, &mut [])), libc::EBADF);
            assert_eq!(errno(fs.fremovexattr(bad, "user.k")), libc::EBADF);
        }
    });
}

#[test]
fn attributes_count_against_the_memory_limit() {
    each_with(
        || Fs::builder().memory_limit(Some(100_000)),
        |fs| {
            put(fs, "/f", b"");
            let v = vec![1u8; 60_000];
            fs.setxattr("/f", "user.a", &v, 0).unwrap();
            assert_eq!(fs.memory_used(), 60_006);
            assert_eq!(errno(fs.setxattr("/f", "user.b", &v, 0)), libc::ENOSPC);
            assert_eq!(names(fs, "/f"), ["user.a"], "nothing changed");
            fs.setxattr("/f", "user.a", b"small", 0).unwrap();
            assert_eq!(fs.memory_used(), 11);
            fs.setxattr("/f", "user.b", &v, 0).unwrap();
            fs.removexattr("/f", "user.b").unwrap();
            assert_eq!(fs.memory_used(), 11);
            // Freed with the inode.
            let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
            fs.unlink("/f").unwrap();
            assert_eq!(fs.memory_used(), 11);
            fs.close(fd).unwrap();
            assert_eq!(fs.memory_used(), 0, "lockless: {}", fs.is_lockless());
            fs.mkdir("/d", 0o755).unwrap();
            fs.setxattr("/d", "user.a", &v, 0).unwrap();
            fs.rmdir("/d").unwrap();
            assert_eq!(fs.memory_used(), 0);
        },
    );
}

/// One call of the differential.
#[derive(Debug, Clone)]
enum Op {
    Set(usize, usize, i32),
    Get(usize, usize),
    List(usize),
    Remove(usize),
}

/// Names the differential uses: valid ones, edge lengths, bad namespaces.
fn name_set() -> Vec<String> {
    vec![
        "user.a".into(),
        "user.b".into(),
        "trusted.t".into(),
        format!("user.{}", "l".repeat(250)),
        format!("user.{}", "l".repeat(251)),
        String::new(),
        "user.".into(),
        "foo.bar".into(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let name = 0usize..8;
    let size = prop_oneof![
        Just(0usize),
        1usize..40,
        Just(XATTR_SIZE_MAX),
        Just(XATTR_SIZE_MAX + 1)
    ];
    let flags = prop_oneof![
        3 => Just(0),
        1 => Just(libc::XATTR_CREATE),
        1 => Just(libc::XATTR_REPLACE),
        1 => Just(3),
        1 => Just(4)
    ];
    prop_oneof![
        3 => (name.clone(), size.clone(), flags).prop_map(|(n, s, f)| Op::Set(n, s, f)),
        3 => (name.clone(), size.clone()).prop_map(|(n, s)| Op::Get(n, s)),
        2 => size.prop_map(Op::List),
        2 => name.prop_map(Op::Remove),
    ]
}

/// What a call gave: its result and the bytes it returned.
type Seen = (Result<usize, i32>, Vec<u8>);

fn on_kernel(path: &CString, names: &[CString], op: &Op) -> Seen {
    let mut buf = Vec::new();
    let r = match *op {
        Op::Set(n, s, f) => {
            let v = vec![b'v'; s];
            let (p, name) = (path.as_ptr(), names[n].as_ptr());
            // SAFETY: valid NUL-terminated strings; `v` is valid for `s` bytes.
            let ret = unsafe { libc::setxattr(p, name, v.as_ptr().cast(), s, f) };
            errno_of(ret as isize)
        }
        Op::Get(n, s) => {
            buf = vec![0u8; s];
            // SAFETY: valid NUL-terminated strings; `buf` is valid for `s` bytes.
            errno_of(unsafe {
                libc::getxattr(path.as_ptr(), names[n].as_ptr(), buf.as_mut_ptr().cast(), s)
            })
        }
        Op::List(s) => {
            buf = vec![0u8; s];
            // SAFETY: a valid NUL-terminated string; `buf` is valid for `s` bytes.
            errno_of(unsafe { libc::listxattr(path.as_ptr(), buf.as_mut_ptr().cast(), s) })
        }
        Op::Remove(n) => {
            // SAFETY: valid NUL-terminated strings.
            errno_of(unsafe { libc::removexattr(path.as_ptr(), names[n].as_ptr()) } as isize)
        }
    };
    let r = r.map(|n| n as usize);
    buf.truncate(*r.as_ref().unwrap_or(&0).min(&buf.len()));
    (r, buf)
}

fn on_ermfs(fs: &Fs, names: &[String], op: &Op) -> Seen {
    let mut buf = Vec::new();
    let r = match *op {
        Op::Set(n, s, f) => fs.setxattr("/f", &names[n], &vec![b'v'; s], f).map(|()| 0),
        Op::Get(n, s) => {
            buf = vec![0u8; s];
            fs.getxattr("/f", &names[n], &mut buf)
        }
        Op::List(s) => {
            buf = vec![0u8; s];
            fs.listxattr("/f", &mut buf)
        }
        Op::Remove(n) => fs.removexattr("/f", &names[n]).map(|()| 0),
    };
    let r = r.map_err(|e| e.raw_os_error().unwrap());
    buf.truncate(*r.as_ref().unwrap_or(&0).min(&buf.len()));
    (r, buf)
}

#[test]
fn xattr_ops_match_a_kernel_tmpfs() {
    let Some(tmpfs) = Tmpfs::mount("xattr-oracle") else {
        eprintln!("xattr differential: skipped 1 case (needs root to mount a tmpfs)");
        return;
    };
    let file = tmpfs.path().join("f");
    let path = tmpfs.at("f");
    let names = name_set();
    let c_names: Vec<CString> = names.iter().map(|n| cstr(n.as_str())).collect();
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(op(), 1..30), |ops| {
        let _ = std::fs::remove_file(&file);
        std::fs::write(&file, b"").unwrap();
        let failure = std::cell::RefCell::new(None);
        each_fs(|fs| {
            put(fs, "/f", b"");
            for (i, op) in ops.iter().enumerate() {
                let theirs = on_kernel(&path, &c_names, op);
                let ours = on_ermfs(fs, &names, op);
                if theirs != ours && failure.borrow().is_none() {
                    *failure.borrow_mut() = Some(format!(
                        "op {i} {op:?}: kernel {:?}, ermfs {:?}",
                        theirs.0, ours.0
                    ));
                }
            }
            // Replay the kernel's state for the second backend.
            let _ = std::fs::remove_file(&file);
            std::fs::write(&file, b"").unwrap();
        });
        match failure.into_inner() {
            None => Ok(()),
            Some(f) => Err(proptest::test_runner::TestCaseError::fail(f)),
        }
    });
    drop(tmpfs);
    if let Err(e) = result {
        panic!("{e}");
    }
}
