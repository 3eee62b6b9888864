//! Namespace calls: errno table, rename semantics, readdir, stat, nlink.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use ermfs::{FileType, Fs};

use super::common::{each_fs, errno, get, put};

/// `/d/f` file, `/d/e` empty dir, `/f` file, `/e2` empty dir, `/full/x` file.
fn fixture(fs: &Fs) {
    fs.mkdir("/d", 0o755).unwrap();
    fs.mkdir("/d/e", 0o755).unwrap();
    fs.mkdir("/e2", 0o755).unwrap();
    fs.mkdir("/full", 0o755).unwrap();
    put(fs, "/d/f", b"df");
    put(fs, "/f", b"f");
    put(fs, "/full/x", b"x");
}

type Op = fn(&Fs) -> i32;

#[test]
fn errno_table() {
    let cases: &[(&str, Op, i32)] = &[
        (
            "mkdir existing",
            |fs| errno(fs.mkdir("/d", 0o755)),
            libc::EEXIST,
        ),
        (
            "mkdir missing parent",
            |fs| errno(fs.mkdir("/nope/x", 0o755)),
            libc::ENOENT,
        ),
        (
            "mkdir under file",
            |fs| errno(fs.mkdir("/f/x", 0o755)),
            libc::ENOTDIR,
        ),
        ("mkdir root", |fs| errno(fs.mkdir("/", 0o755)), libc::EEXIST),
        (
            "mkdir dot",
            |fs| errno(fs.mkdir("/d/.", 0o755)),
            libc::EEXIST,
        ),
        ("mkdir empty", |fs| errno(fs.mkdir("", 0o755)), libc::ENOENT),
        (
            "mkdir nul",
            |fs| errno(fs.mkdir(Path::new(OsStr::from_bytes(b"/a\0b")), 0o755)),
            libc::EINVAL,
        ),
        (
            "mkdir long name",
            |fs| errno(fs.mkdir(format!("/{}", "n".repeat(256)), 0o755)),
            libc::ENAMETOOLONG,
        ),
        (
            "mkdir 255 name",
            |fs| errno(fs.mkdir(format!("/{}", "n".repeat(255)), 0o755)),
            0,
        ),
        (
            "mkdir long path",
            |fs| errno(fs.mkdir("/a".repeat(2048), 0o755)),
            libc::ENAMETOOLONG,
        ),
        ("mkdir relative", |fs| errno(fs.mkdir("rel", 0o755)), 0),
        (
            "rmdir non-empty",
            |fs| errno(fs.rmdir("/d")),
            libc::ENOTEMPTY,
        ),
        ("rmdir file", |fs| errno(fs.rmdir("/f")), libc::ENOTDIR),
        ("rmdir root", |fs| errno(fs.rmdir("/")), libc::EBUSY),
        ("rmdir missing", |fs| errno(fs.rmdir("/nope")), libc::ENOENT),
        ("rmdir dot", |fs| errno(fs.rmdir("/d/e/.")), libc::EINVAL),
        (
            "rmdir dotdot",
            |fs| errno(fs.rmdir("/d/e/..")),
            libc::ENOTEMPTY,
        ),
        ("rmdir empty", |fs| errno(fs.rmdir("/d/e")), 0),
        ("unlink dir", |fs| errno(fs.unlink("/d")), libc::EISDIR),
        (
            "unlink missing",
            |fs| errno(fs.unlink("/nope")),
            libc::ENOENT,
        ),
        (
            "unlink trailing slash",
            |fs| errno(fs.unlink("/f/")),
            libc::ENOTDIR,
        ),
        (
            "unlink below file",
            |fs| errno(fs.unlink("/f/x")),
            libc::ENOTDIR,
        ),
        ("unlink root", |fs| errno(fs.unlink("/")), libc::EISDIR),
        ("unlink file", |fs| errno(fs.unlink("/d/f")), 0),
        (
            "stat dotdot after file",
            |fs| errno(fs.stat("/f/../x")),
            libc::ENOTDIR,
        ),
        (
            "stat dot after file",
            |fs| errno(fs.stat("/f/.")),
            libc::ENOTDIR,
        ),
        ("stat file slash", |fs| errno(fs.stat("/f/")), libc::ENOTDIR),
        ("stat through dotdot", |fs| errno(fs.stat("/d/e/../f")), 0),
        ("stat above root", |fs| errno(fs.stat("/../../f")), 0),
        ("stat relative dotdot", |fs| errno(fs.stat("../d//./f")), 0),
        ("stat missing", |fs| errno(fs.stat("/d/nope")), libc::ENOENT),
        (
            "rename file over dir",
            |fs| errno(fs.rename("/f", "/e2")),
            libc::EISDIR,
        ),
        (
            "rename dir over file",
            |fs| errno(fs.rename("/e2", "/f")),
            libc::ENOTDIR,
        ),
        (
            "rename dir over non-empty",
            |fs| errno(fs.rename("/e2", "/full")),
            libc::ENOTEMPTY,
        ),
        (
            "rename dir over ancestor",
            |fs| errno(fs.rename("/d/e", "/d")),
            libc::ENOTEMPTY,
        ),
        (
            "rename dir into itself",
            |fs| errno(fs.rename("/d", "/d/e/x")),
            libc::EINVAL,
        ),
        (
            "rename dir onto itself below",
            |fs| errno(fs.rename("/d", "/d/x")),
            libc::EINVAL,
        ),
        (
            "rename missing",
            |fs| errno(fs.rename("/nope", "/x")),
            libc::ENOENT,
        ),
        (
            "rename missing target parent",
            |fs| errno(fs.rename("/f", "/nope/x")),
            libc::ENOENT,
        ),
        ("rename same", |fs| errno(fs.rename("/f", "/f")), 0),
        ("rename root", |fs| errno(fs.rename("/", "/x")), libc::EBUSY),
        (
            "rename onto dot",
            |fs| errno(fs.rename("/f", "/d/.")),
            libc::EBUSY,
        ),
        (
            "rename file slash",
            |fs| errno(fs.rename("/f/", "/g")),
            libc::ENOTDIR,
        ),
        (
            "rename dir over empty dir",
            |fs| errno(fs.rename("/e2", "/d/e")),
            0,
        ),
        (
            "open dir for write",
            |fs| errno(fs.open("/d", libc::O_WRONLY, 0)),
            libc::EISDIR,
        ),
        (
            "open dir trunc",
            |fs| errno(fs.open("/d", libc::O_RDONLY | libc::O_TRUNC, 0)),
            libc::EISDIR,
        ),
        (
            "open file as dir",
            |fs| errno(fs.open("/f", libc::O_DIRECTORY, 0)),
            libc::ENOTDIR,
        ),
        (
            "open bad access",
            |fs| errno(fs.open("/f", 3, 0)),
            libc::EINVAL,
        ),
        (
            "open creat dir flag",
            |fs| errno(fs.open("/n", libc::O_CREAT | libc::O_DIRECTORY, 0)),
            libc::EINVAL,
        ),
        (
            "open excl existing",
            |fs| errno(fs.open("/f", libc::O_CREAT | libc::O_EXCL, 0)),
            libc::EEXIST,
        ),
        (
            "open missing",
            |fs| errno(fs.open("/nope", libc::O_RDONLY, 0)),
            libc::ENOENT,
        ),
        (
            "open creat slash",
            |fs| errno(fs.open("/new/", libc::O_CREAT | libc::O_RDWR, 0)),
            libc::EISDIR,
        ),
        (
            "open creat root",
            |fs| errno(fs.open("/", libc::O_CREAT | libc::O_RDWR, 0)),
            libc::EISDIR,
        ),
        (
            "open creat missing dir",
            |fs| errno(fs.open("/nope/x", libc::O_CREAT | libc::O_RDWR, 0)),
            libc::ENOENT,
        ),
        (
            "open file slash",
            |fs| errno(fs.open("/f/", libc::O_RDONLY, 0)),
            libc::ENOTDIR,
        ),
        (
            "open dir rdonly",
            |fs| errno(fs.open("/d/", libc::O_RDONLY | libc::O_DIRECTORY, 0)),
            0,
        ),
        (
            "truncate dir",
            |fs| errno(fs.truncate("/d", 0)),
            libc::EISDIR,
        ),
        (
            "truncate negative",
            |fs| errno(fs.truncate("/f", -1)),
            libc::EINVAL,
        ),
        ("readdir file", |fs| errno(fs.readdir("/f")), libc::ENOTDIR),
    ];
    for (name, op, expected) in cases {
        each_fs(|fs| {
            fixture(fs);
            assert_eq!(op(fs), *expected, "{name} (lockless: {})", fs.is_lockless());
        });
    }
}

#[test]
fn rename_replaces_and_moves_subtrees() {
    each_fs(|fs| {
        fixture(fs);
        fs.rename("/f", "/d/f").unwrap();
        assert!(!fs.exists("/f"));
        assert_eq!(get(fs, "/d/f"), b"f");
        assert_eq!(fs.stats().files, 2);
        // Move a directory with its subtree; lookups below it follow.
        fs.rename("/d", "/full/moved").unwrap();
        assert_eq!(get(fs, "/full/moved/f"), b"f");
        assert!(fs.exists("/full/moved/e"));
        assert!(!fs.exists("/d"));
        let moved = fs.stat("/full/moved").unwrap();
        let entries = fs.readdir("/full/moved").unwrap();
        assert_eq!(entries[0].ino, moved.ino);
        assert_eq!(entries[1].ino, fs.stat("/full").unwrap().ino);
        // nlink: "/" has "e2" and "full" below it; "/full" has "moved".
        assert_eq!(fs.stat("/").unwrap().nlink, 4);
        assert_eq!(fs.stat("/full").unwrap().nlink, 3);
        assert_eq!(fs.stat("/full/moved").unwrap().nlink, 3);
        // Replacing an empty directory drops its link from the parent.
        fs.rename("/e2", "/full/moved/e").unwrap();
        assert_eq!(fs.stat("/").unwrap().nlink, 3);
        assert_eq!(fs.stats().dirs, 4);
    });
}

#[test]
fn readdir_is_sorted_with_dot_entries() {
    each_fs(|fs| {
        for name in ["zeta", "alpha", "Mid", "beta"] {
            put(fs, &format!("/{name}"), b"");
        }
        fs.mkdir("/dir", 0o700).unwrap();
        let names: Vec<Vec<u8>> = fs
            .readdir("/")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        let expected: Vec<&[u8]> = vec![b".", b"..", b"Mid", b"alpha", b"beta", b"dir", b"zeta"];
        assert_eq!(names, expected);
        let root = fs.readdir("/").unwrap();
        assert_eq!(root[1].ino, ermfs::ROOT_INO);
        assert_eq!(root[5].kind, FileType::Dir);
        assert_eq!(root[6].kind, FileType::File);
        fs.unlink("/beta").unwrap();
        assert_eq!(fs.readdir("/").unwrap().len(), 6);
    });
}

#[test]
fn stat_reports_metadata() {
    each_fs(|fs| {
        put(fs, "/a", &[7u8; 5000]);
        fs.mkdir("/d", 0o750).unwrap();
        let a = fs.stat("/a").unwrap();
        assert_eq!(a.mode, libc::S_IFREG | 0o644);
        assert_eq!((a.size, a.nlink, a.kind), (5000, 1, FileType::File));
        assert!(a.blocks > 0);
        let d = fs.stat("/d").unwrap();
        assert_eq!(d.mode, libc::S_IFDIR | 0o750);
        assert_eq!((d.size, d.nlink), (0, 2));
        assert_ne!(a.ino, d.ino);
        assert!(a.ctime >= a.atime);
        let s = fs.stats();
        assert_eq!((s.files, s.dirs), (1, 2));
    });
}
