//! The `vfs` feature: the `vfs` crate's own conformance suites (`test_vfs!`
//! on an empty store, `test_vfs_readonly!` on its fixture tree) run on a
//! locked and a lockless [`Fs`], plus the error-kind mapping and the
//! compress-on-close path seen through `VfsPath`.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};

use ermfs::{CompressionPolicy, Fs};
use vfs::error::VfsErrorKind;
use vfs::{FileSystem, VfsError, VfsPath};

/// An empty file system in the given mode.
fn fresh(lockless: bool) -> Fs {
    Fs::builder().lockless(lockless).build().unwrap()
}

/// The tree `test_vfs_readonly!` expects (the `vfs` crate's
/// `test/test_directory`).
fn fixture(lockless: bool) -> Fs {
    let fs = fresh(lockless);
    for dir in ["/a", "/a/x", "/a/x/y", "/a/x/y/z", "/a.txt.dir", "/c"] {
        fs.mkdir(dir, 0o755).unwrap();
    }
    for (file, text) in [
        ("/a.txt", "a"),
        ("/a/d.txt", "d"),
        ("/a.txt.dir/g.txt", "g"),
        ("/b.txt", "b"),
        ("/c/e.txt", "e"),
    ] {
        fs.write_file(file, text).unwrap();
    }
    fs
}

/// Instantiates both conformance suites for one mode.
macro_rules! conformance {
    ($module:ident, $lockless:expr) => {
        mod $module {
            use super::*;
            vfs::test_vfs!(fresh($lockless));
            vfs::test_vfs_readonly!(fixture($lockless));
        }
    };
}

conformance!(locked, false);
conformance!(lockless, true);

/// Runs `f` on a `VfsPath` root over a locked and a lockless store.
fn each_root(f: impl Fn(&Fs, &VfsPath)) {
    for lockless in [false, true] {
        let fs = fresh(lockless);
        f(&fs, &VfsPath::new(fs.clone()));
    }
}

/// The errno behind a `vfs` error: its own `io::Error` or its source's.
fn errno(e: &VfsError) -> Option<i32> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        // `VfsError::source` hands its cause out as a `Box<VfsError>`.
        let vfs = (err.downcast_ref::<VfsError>())
            .or_else(|| err.downcast_ref::<Box<VfsError>>().map(|b| &**b));
        if let Some(VfsErrorKind::IoError(io)) = vfs.map(|v| v.kind()) {
            let inner = io
                .get_ref()
                .and_then(|i| i.downcast_ref::<std::io::Error>());
            return inner.unwrap_or(io).raw_os_error();
        }
        cur = err.source();
    }
    None
}

#[test]
fn errors_get_their_vfs_kind_and_keep_the_errno() {
    each_root(|fs, root| {
        fs.mkdir("/d", 0o755).unwrap();
        fs.mkdir("/d/sub", 0o755).unwrap();
        fs.write_file("/f", "x").unwrap();
        let fsys: &dyn FileSystem = fs;

        let e = fsys.metadata("/nope").unwrap_err();
        assert!(matches!(e.kind(), VfsErrorKind::FileNotFound), "{e:?}");
        assert_eq!(errno(&e), Some(libc::ENOENT));

        let e = fsys.create_dir("/d").unwrap_err();
        assert!(matches!(e.kind(), VfsErrorKind::DirectoryExists), "{e:?}");
        assert_eq!(errno(&e), Some(libc::EEXIST));
        let e = fsys.create_dir("/f").unwrap_err();
        assert!(matches!(e.kind(), VfsErrorKind::FileExists), "{e:?}");
        assert_eq!(errno(&e), Some(libc::EEXIST));

        let e = fsys.metadata("/a\0b").unwrap_err();
        assert!(matches!(e.kind(), VfsErrorKind::InvalidPath), "{e:?}");
        assert_eq!(errno(&e), Some(libc::EINVAL));
        let long = format!("/{}", "n".repeat(256));
        let e = fsys.create_dir(&long).unwrap_err();
        assert!(matches!(e.kind(), VfsErrorKind::InvalidPath), "{e:?}");
        assert_eq!(errno(&e), Some(libc::ENAMETOOLONG));

        for (e, code) in [
            (fsys.remove_dir("/d").unwrap_err(), libc::ENOTEMPTY),
            (fsys.remove_dir("/f").unwrap_err(), libc::ENOTDIR),
            (fsys.remove_file("/d").unwrap_err(), libc::EISDIR),
            (fsys.metadata("/f/x").unwrap_err(), libc::ENOTDIR),
            (fsys.move_dir("/d", "/d/sub/x").unwrap_err(), libc::EINVAL),
            (fsys.move_file("/f", "/d").unwrap_err(), libc::EISDIR),
            (fsys.read_dir("/f").err().unwrap(), libc::ENOTDIR),
            (fsys.open_file("/d").err().unwrap(), libc::EISDIR),
            (fsys.create_file("/d").err().unwrap(), libc::EISDIR),
        ] {
            assert!(matches!(e.kind(), VfsErrorKind::IoError(_)), "{e:?}");
            assert_eq!(errno(&e), Some(code), "{e:?}");
        }

        assert!(!fsys.exists("/f/x").unwrap(), "ENOTDIR: does not exist");
        assert!(!fsys.exists("/nope").unwrap());
        assert!(fsys.exists("").unwrap(), "the root is \"\"");
        let e = root.join("nope").unwrap().append_file().err().unwrap();
        assert!(matches!(e.kind(), VfsErrorKind::FileNotFound), "{e:?}");
    });
}

#[test]
fn set_times_go_through_utimens() {
    each_root(|fs, _| {
        fs.write_file("/f", "x").unwrap();
        let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::new(1_000, 7);
        let u = t + std::time::Duration::from_secs(5);
        let fsys: &dyn FileSystem = fs;
        fsys.set_modification_time("/f", t).unwrap();
        fsys.set_access_time("/f", u).unwrap();
        let st = fs.stat("/f").unwrap();
        assert_eq!((st.mtime, st.atime), (t, u));
        let e = fsys.set_creation_time("/f", t).unwrap_err();
        assert!(matches!(e.kind(), VfsErrorKind::NotSupported), "{e:?}");
        let e = fsys.set_access_time("/nope", t).unwrap_err();
        assert!(matches!(e.kind(), VfsErrorKind::FileNotFound), "{e:?}");
    });
}

#[test]
fn files_compress_on_close_and_read_back_through_vfs() {
    for lockless in [false, true] {
        let fs = Fs::builder()
            .lockless(lockless)
            .compression(CompressionPolicy::Immediate)
            .build()
            .unwrap();
        let root = VfsPath::new(fs.clone());
        let text = "hello vfs ".repeat(10_000);
        let file = root.join("logs/a.txt").unwrap();
        file.parent().create_dir_all().unwrap();
        file.create_file()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        assert_eq!(fs.stats().compressions, 1, "closed on drop, compressed");
        assert!(fs.stat("/logs/a.txt").unwrap().blocks * 512 < text.len() as u64);
        let mut back = String::new();
        file.open_file().unwrap().read_to_string(&mut back).unwrap();
        assert_eq!(back, text);
        file.append_file().unwrap().write_all(b"!").unwrap();
        assert_eq!(file.metadata().unwrap().len, text.len() as u64 + 1);
        file.move_file(&root.join("logs/b.txt").unwrap()).unwrap();
        assert_eq!(fs.read_file("/logs/b.txt").unwrap().len(), text.len() + 1);
        root.join("logs").unwrap().remove_dir_all().unwrap();
        assert_eq!(fs.stats().files, 0);
    }
}

#[test]
fn memory_limit_is_an_io_error_with_enospc() {
    for lockless in [false, true] {
        let fs = Fs::builder()
            .lockless(lockless)
            .memory_limit(Some(64 << 10))
            .build()
            .unwrap();
        let root = VfsPath::new(fs);
        let mut file = root.join("big").unwrap().create_file().unwrap();
        let e = file.write_all(&vec![7u8; 1 << 20]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
    }
}
