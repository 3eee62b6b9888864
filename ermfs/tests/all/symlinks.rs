//! Symbolic links: `symlink`, `readlink`, `lstat` against `stat`; the walk
//! follows links in intermediate components and (unless `O_NOFOLLOW`) the
//! last one, relative targets from the link's directory, absolute ones
//! from `/`, `ELOOP` past 40 links in one resolution; `O_CREAT` through a
//! dangling link creates its target; `unlink`, `rename`, `mkdir`, `rmdir`
//! act on the link itself; `readdir` and the std layer report the type;
//! the target is charged to the memory limit; bad input.

use std::path::PathBuf;

use std::time::{Duration, SystemTime};

use ermfs::{FileType, Fs, Identity, MAX_SYMLINKS, PATH_MAX, TimeSpec};

use super::common::{each_fs, each_with, errno, get, put};

#[test]
fn a_symlink_is_its_target_for_stat_and_itself_for_lstat() {
    each_fs(|fs| {
        put(fs, "/f", b"content");
        fs.symlink("f", "/l").unwrap();
        let (st, lst) = (fs.stat("/l").unwrap(), fs.lstat("/l").unwrap());
        assert_eq!(st, fs.stat("/f").unwrap());
        assert_eq!(lst.kind, FileType::Symlink);
        assert_eq!(lst.mode, libc::S_IFLNK | 0o777);
        assert_eq!((lst.size, lst.nlink), (1, 1));
        assert_ne!(lst.ino, st.ino);
        assert_eq!(fs.readlink("/l").unwrap(), b"f");
        assert_eq!(get(fs, "/l"), b"content");
        // Writes go to the target.
        let fd = fs.open("/l", libc::O_WRONLY | libc::O_APPEND, 0).unwrap();
        fs.write(fd, b"!").unwrap();
        fs.close(fd).unwrap();
        assert_eq!(get(fs, "/f"), b"content!");
        assert_eq!(fs.stats().symlinks, 1);
        // readlink of anything else is EINVAL.
        assert_eq!(errno(fs.readlink("/f")), libc::EINVAL);
        assert_eq!(errno(fs.readlink("/")), libc::EINVAL);
        assert_eq!(errno(fs.readlink("/missing")), libc::ENOENT);
    });
}

#[test]
fn targets_resolve_from_the_link_directory_or_the_root() {
    each_fs(|fs| {
        fs.mkdir("/a", 0o755).unwrap();
        fs.mkdir("/a/b", 0o755).unwrap();
        fs.mkdir("/c", 0o755).unwrap();
        put(fs, "/a/b/f", b"deep");
        put(fs, "/f", b"top");
        fs.symlink("b/f", "/a/rel").unwrap();
        fs.symlink("/f", "/a/abs").unwrap();
        fs.symlink("../f", "/a/up").unwrap();
        fs.symlink("/a/b", "/c/dir").unwrap();
        fs.symlink("../../../../f", "/a/b/climb").unwrap();
        assert_eq!(get(fs, "/a/rel"), b"deep");
        assert_eq!(get(fs, "/a/abs"), b"top");
        assert_eq!(get(fs, "/a/up"), b"top");
        assert_eq!(get(fs, "/a/b/climb"), b"top", "`..` stops at /");
        // Intermediate components, and `..` after a link is the target's parent.
        assert_eq!(get(fs, "/c/dir/f"), b"deep");
        assert_eq!(
            fs.stat("/c/dir/..").unwrap().ino,
            fs.stat("/a").unwrap().ino
        );
        assert_eq!(get(fs, "/c/dir/../b/f"), b"deep");
        // Chains mixing both kinds.
        fs.symlink("dir/../rel", "/c/chain").unwrap();
        assert_eq!(get(fs, "/c/chain"), b"deep");
        // A link to `.` and `/`.
        fs.symlink(".", "/a/self").unwrap();
        fs.symlink("/", "/a/root").unwrap();
        assert_eq!(get(fs, "/a/self/self/self/b/f"), b"deep");
        assert_eq!(fs.stat("/a/root").unwrap().ino, ermfs::ROOT_INO);
        let names: Vec<_> = fs.readdir("/a/root").unwrap()[2..]
            .iter()
            .map(|e| e.name.clone())
            .collect();
        assert_eq!(names, [&b"a"[..], b"c", b"f"]);
    });
}

#[test]
fn trailing_slashes_follow_the_last_link() {
    each_fs(|fs| {
        fs.mkdir("/d", 0o755).unwrap();
        put(fs, "/f", b"x");
        fs.symlink("d", "/ld").unwrap();
        fs.symlink("f", "/lf").unwrap();
        fs.symlink("f/", "/lfs").unwrap();
        assert_eq!(fs.lstat("/ld/").unwrap().kind, FileType::Dir);
        assert_eq!(errno(fs.lstat("/lf/")), libc::ENOTDIR);
        assert_eq!(errno(fs.stat("/lfs")), libc::ENOTDIR, "target ending in /");
        assert_eq!(errno(fs.readlink("/ld/")), libc::EINVAL);
        let fd = fs
            .open("/ld/", libc::O_RDONLY | libc::O_NOFOLLOW, 0)
            .unwrap();
        fs.close(fd).unwrap();
        assert_eq!(errno(fs.unlink("/ld/")), libc::ENOTDIR);
        assert_eq!(errno(fs.rmdir("/ld/")), libc::ENOTDIR);
        assert_eq!(errno(fs.rename("/ld/", "/x")), libc::ENOTDIR);
    });
}

#[test]
fn open_flags_on_links() {
    each_fs(|fs| {
        fs.mkdir("/d", 0o755).unwrap();
        put(fs, "/f", b"x");
        fs.symlink("f", "/lf").unwrap();
        fs.symlink("d", "/ld").unwrap();
        let open = |p: &str, flags: i32| fs.open(p, flags, 0o600).map(|fd| fs.close(fd).unwrap());
        assert_eq!(
            errno(open("/lf", libc::O_RDONLY | libc::O_NOFOLLOW)),
            libc::ELOOP
        );
        assert_eq!(
            errno(open("/lf", libc::O_RDWR | libc::O_NOFOLLOW)),
            libc::ELOOP
        );
        let dir_nofollow = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        assert_eq!(errno(open("/ld", dir_nofollow)), libc::ENOTDIR);
        assert_eq!(errno(open("/ld", libc::O_RDONLY | libc::O_DIRECTORY)), 0);
        let creat = libc::O_CREAT | libc::O_WRONLY;
        assert_eq!(errno(open("/lf", creat | libc::O_EXCL)), libc::EEXIST);
        assert_eq!(errno(open("/lf", creat | libc::O_NOFOLLOW)), libc::ELOOP);
        assert_eq!(errno(open("/lf", creat)), 0);
        assert_eq!(errno(open("/ld", creat)), libc::EISDIR);
        // Intermediate links are followed even with O_NOFOLLOW.
        put(fs, "/d/g", b"y");
        assert_eq!(errno(open("/ld/g", libc::O_RDONLY | libc::O_NOFOLLOW)), 0);
    });
}

#[test]
fn creat_through_a_dangling_link_creates_the_target() {
    each_fs(|fs| {
        fs.mkdir("/d", 0o755).unwrap();
        fs.symlink("d/new", "/l").unwrap();
        fs.symlink("l", "/l2").unwrap();
        fs.symlink("/d/abs", "/l3").unwrap();
        fs.symlink("missing/new", "/bad").unwrap();
        fs.symlink("d/dir/", "/slash").unwrap();
        assert_eq!(errno(fs.stat("/l")), libc::ENOENT);
        assert_eq!(fs.lstat("/l").unwrap().kind, FileType::Symlink);
        let creat = libc::O_CREAT | libc::O_WRONLY;
        let fd = fs.open("/l2", creat, 0o600).unwrap();
        fs.write(fd, b"made").unwrap();
        fs.close(fd).unwrap();
        assert_eq!(get(fs, "/d/new"), b"made");
        assert_eq!(fs.stat("/d/new").unwrap().mode, libc::S_IFREG | 0o600);
        fs.close(fs.open("/l3", creat, 0o644).unwrap()).unwrap();
        assert!(fs.exists("/d/abs"));
        assert_eq!(errno(fs.open("/bad", creat, 0o644)), libc::ENOENT);
        assert_eq!(errno(fs.open("/slash", creat, 0o644)), libc::EISDIR);
        // The links stay links.
        assert_eq!(fs.lstat("/l2").unwrap().kind, FileType::Symlink);
    });
}

/// `n` links `/l0` -> `/l1` -> ... -> `/l{n-1}` -> `end`.
fn chain(fs: &Fs, n: u32, end: &str) {
    for i in 0..n {
        let target = if i + 1 == n {
            end.to_owned()
        } else {
            format!("l{}", i + 1)
        };
        fs.symlink(target, format!("/l{i}")).unwrap();
    }
}

#[test]
fn forty_links_resolve_and_the_forty_first_is_eloop() {
    assert_eq!(MAX_SYMLINKS, 40);
    each_fs(|fs| {
        put(fs, "/f", b"end");
        chain(fs, 41, "f");
        assert_eq!(errno(fs.stat("/l0")), libc::ELOOP, "41 links");
        assert_eq!(get(fs, "/l1"), b"end", "40 links");
        assert_eq!(errno(fs.open("/l0", libc::O_RDONLY, 0)), libc::ELOOP);
        let creat = libc::O_CREAT | libc::O_WRONLY;
        assert_eq!(errno(fs.open("/l0", creat, 0o644)), libc::ELOOP);
        fs.close(fs.open("/l1", creat, 0o644).unwrap()).unwrap();
        assert_eq!(fs.lstat("/l0").unwrap().kind, FileType::Symlink);
        assert_eq!(fs.readlink("/l0").unwrap(), b"l1");
        assert_eq!(
            errno(fs.access("/l0", libc::R_OK, &Identity::root())),
            libc::ELOOP
        );
        assert_eq!(errno(fs.access("/l1", libc::R_OK, &Identity::root())), 0);
        // Links in intermediate components count in the same budget.
        fs.mkdir("/d", 0o755).unwrap();
        put(fs, "/d/g", b"g");
        for i in 0..41 {
            fs.unlink(format!("/l{i}")).unwrap();
        }
        chain(fs, 40, "d");
        assert_eq!(get(fs, "/l0/g"), b"g", "40 links on the way");
        fs.symlink("l0/g", "/via").unwrap();
        assert_eq!(errno(fs.stat("/via")), libc::ELOOP, "1 + 40 links");
        // A dangling chain of 40 is ENOENT, of 41 ELOOP.
        fs.unlink("/d/g").unwrap();
        assert_eq!(errno(fs.stat("/l0/g")), libc::ENOENT);
        assert_eq!(errno(fs.stat("/via")), libc::ELOOP);
    });
}

#[test]
fn loops_are_eloop() {
    each_fs(|fs| {
        fs.symlink("self", "/self").unwrap();
        fs.symlink("b", "/a").unwrap();
        fs.symlink("a", "/b").unwrap();
        fs.mkdir("/d", 0o755).unwrap();
        fs.symlink("../d/up", "/d/up").unwrap();
        for p in ["/self", "/a", "/b/x", "/d/up", "/d/up/"] {
            assert_eq!(errno(fs.stat(p)), libc::ELOOP, "{p}");
        }
        assert_eq!(
            errno(fs.open("/a", libc::O_CREAT | libc::O_RDWR, 0o644)),
            libc::ELOOP
        );
        assert_eq!(errno(fs.mkdir("/a/x", 0o755)), libc::ELOOP);
        assert_eq!(fs.lstat("/a").unwrap().size, 1);
        // The links themselves can be removed.
        for p in ["/self", "/a", "/b", "/d/up"] {
            fs.unlink(p).unwrap();
        }
        assert_eq!(fs.stats().symlinks, 0);
    });
}

#[test]
fn name_calls_act_on_the_link_itself() {
    each_fs(|fs| {
        fs.mkdir("/d", 0o755).unwrap();
        put(fs, "/f", b"x");
        fs.symlink("d", "/ld").unwrap();
        fs.symlink("f", "/lf").unwrap();
        fs.symlink("gone", "/dangling").unwrap();
        assert_eq!(errno(fs.mkdir("/ld", 0o755)), libc::EEXIST);
        assert_eq!(errno(fs.mkdir("/dangling", 0o755)), libc::EEXIST);
        assert_eq!(errno(fs.rmdir("/ld")), libc::ENOTDIR);
        assert_eq!(errno(fs.symlink("x", "/dangling")), libc::EEXIST);
        // rename moves the link, not the target.
        fs.rename("/lf", "/d/moved").unwrap();
        assert_eq!(fs.readlink("/d/moved").unwrap(), b"f");
        assert_eq!(
            errno(fs.stat("/d/moved")),
            libc::ENOENT,
            "relative to its new place"
        );
        fs.rename("/d/moved", "/lf").unwrap();
        assert_eq!(get(fs, "/lf"), b"x");
        // rename over a link replaces the link.
        put(fs, "/g", b"g");
        fs.rename("/g", "/lf").unwrap();
        assert_eq!(fs.lstat("/lf").unwrap().kind, FileType::File);
        assert_eq!(get(fs, "/f"), b"x");
        // A link to a directory is not a directory for rename.
        fs.mkdir("/e", 0o755).unwrap();
        assert_eq!(errno(fs.rename("/e", "/ld")), libc::ENOTDIR);
        assert_eq!(errno(fs.rename("/ld", "/e")), libc::EISDIR);
        // unlink removes the link; the directory stays.
        fs.unlink("/ld").unwrap();
        assert!(fs.exists("/d"));
        fs.unlink("/dangling").unwrap();
        // A hard link to a symlink is one more name of the link.
        fs.symlink("f", "/s").unwrap();
        fs.link("/s", "/s2").unwrap();
        let (a, b) = (fs.lstat("/s").unwrap(), fs.lstat("/s2").unwrap());
        assert_eq!((a.ino, a.nlink, b.kind), (b.ino, 2, FileType::Symlink));
        assert_eq!(fs.readlink("/s2").unwrap(), b"f");
        assert_eq!(fs.stats().symlinks, 1);
    });
}

#[test]
fn metadata_calls_follow_the_link() {
    each_fs(|fs| {
        put(fs, "/f", b"1234");
        fs.symlink("f", "/l").unwrap();
        fs.chmod("/l", 0o600).unwrap();
        fs.chown("/l", 7, 8).unwrap();
        fs.truncate("/l", 2).unwrap();
        let (st, lst) = (fs.stat("/f").unwrap(), fs.lstat("/l").unwrap());
        assert_eq!(
            (st.mode, st.uid, st.gid, st.size),
            (libc::S_IFREG | 0o600, 7, 8, 2)
        );
        assert_eq!((lst.mode, lst.uid, lst.size), (libc::S_IFLNK | 0o777, 0, 1));
        let alice = Identity::new(1000, 1000);
        assert_eq!(errno(fs.access("/l", libc::R_OK, &alice)), libc::EACCES);
        fs.mkdir("/private", 0o700).unwrap();
        put(fs, "/private/p", b"p");
        fs.chmod("/private/p", 0o644).unwrap();
        fs.symlink("private/p", "/lp").unwrap();
        // Search permission is checked in the target's directories too.
        assert_eq!(errno(fs.access("/lp", libc::R_OK, &alice)), libc::EACCES);
        fs.chmod("/private", 0o711).unwrap();
        assert_eq!(errno(fs.access("/lp", libc::R_OK, &alice)), 0);
        let mut buf = [0u8; 1];
        fs.setxattr("/l", "user.k", b"v", 0).unwrap();
        assert_eq!(fs.getxattr("/f", "user.k", &mut buf).unwrap(), 1);
        let memfd = fs.export_memfd("/l", ermfs::ExportFlags::empty()).unwrap();
        drop(memfd);
    });
}

#[test]
fn readdir_and_the_std_layer_report_links() {
    each_fs(|fs| {
        put(fs, "/f", b"x");
        fs.symlink("f", "/l").unwrap();
        fs.symlink("nowhere", "/m").unwrap();
        let kinds: Vec<_> = fs.readdir("/").unwrap()[2..]
            .iter()
            .map(|e| (e.name.clone(), e.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                (b"f".to_vec(), FileType::File),
                (b"l".to_vec(), FileType::Symlink),
                (b"m".to_vec(), FileType::Symlink)
            ]
        );
        let entries: Vec<_> = fs.read_dir("/").unwrap().map(Result::unwrap).collect();
        assert_eq!(entries[1].file_type().unwrap(), FileType::Symlink);
        assert!(
            entries[2].metadata().unwrap().is_symlink(),
            "not followed, as std"
        );
        assert!(fs.metadata("/l").unwrap().is_file());
        let meta = fs.symlink_metadata("/l").unwrap();
        assert!(meta.is_symlink() && !meta.is_file() && !meta.is_dir());
        assert_eq!(meta.file_type(), FileType::Symlink);
        assert_eq!(fs.read_link("/m").unwrap(), PathBuf::from("nowhere"));
        assert_eq!(errno(fs.metadata("/m")), libc::ENOENT);
        assert!(!fs.exists("/m"));
    });
}

#[test]
fn targets_are_charged_and_credited() {
    each_with(
        || Fs::builder().memory_limit(Some(10_000)),
        |fs| {
            let target = "t".repeat(4000);
            fs.symlink(&target, "/a").unwrap();
            assert_eq!(fs.memory_used(), 4000);
            assert_eq!(fs.lstat("/a").unwrap().size, 4000);
            fs.symlink(&target, "/b").unwrap();
            assert_eq!(errno(fs.symlink(&target, "/c")), libc::ENOSPC);
            assert!(!fs.exists("/c") && fs.lstat("/c").is_err());
            assert_eq!(fs.memory_used(), 8000);
            fs.link("/a", "/a2").unwrap();
            fs.unlink("/a").unwrap();
            assert_eq!(fs.memory_used(), 8000, "a name is left");
            fs.unlink("/a2").unwrap();
            fs.rename("/b", "/b2").unwrap();
            put(fs, "/f", b"");
            fs.rename("/f", "/b2").unwrap();
            assert_eq!(fs.memory_used(), 0);
            assert_eq!(fs.stats().symlinks, 0);
        },
    );
}

#[test]
fn bad_input() {
    each_fs(|fs| {
        put(fs, "/f", b"x");
        let e = |t: &[u8], p: &str| {
            let t = std::ffi::OsStr::new(std::str::from_utf8(t).unwrap());
            errno(fs.symlink(t, p))
        };
        assert_eq!(e(b"", "/l"), libc::ENOENT, "empty target");
        assert_eq!(e(b"", "/f"), libc::ENOENT, "the target is checked first");
        assert_eq!(e(b"a\0b", "/l"), libc::EINVAL);
        assert_eq!(e(&[b'a'; PATH_MAX + 1], "/l"), libc::ENAMETOOLONG);
        assert_eq!(e(b"x", "/l\0"), libc::EINVAL);
        assert_eq!(e(b"x", ""), libc::ENOENT);
        assert_eq!(e(b"x", "/"), libc::EEXIST);
        assert_eq!(e(b"x", "/."), libc::EEXIST);
        assert_eq!(e(b"x", "/f"), libc::EEXIST);
        assert_eq!(e(b"x", "/n/"), libc::ENOENT);
        assert_eq!(e(b"x", "/f/n"), libc::ENOTDIR);
        assert_eq!(e(b"x", "/no/n"), libc::ENOENT);
        assert_eq!(
            e(b"x", &format!("/{}", "n".repeat(256))),
            libc::ENAMETOOLONG
        );
        assert_eq!(e(b"x", &"/n".repeat(PATH_MAX / 2 + 1)), libc::ENAMETOOLONG);
        assert_eq!(fs.readdir("/").unwrap().len(), 3, "nothing made");
        // The longest target, and one with an over-long component: made,
        // ENAMETOOLONG when followed (as Linux).
        assert_eq!(e(&[b'a'; PATH_MAX], "/long"), 0);
        assert_eq!(fs.readlink("/long").unwrap().len(), PATH_MAX);
        assert_eq!(errno(fs.stat("/long")), libc::ENAMETOOLONG);
        fs.symlink("f/../f", "/dotted").unwrap();
        assert_eq!(errno(fs.stat("/dotted")), libc::ENOTDIR);
        let long_readlink = format!("/{}", "n".repeat(256));
        assert_eq!(errno(fs.readlink(&long_readlink)), libc::ENAMETOOLONG);
        assert_eq!(errno(fs.readlink("/f\0")), libc::EINVAL);
        assert_eq!(errno(fs.readlink("")), libc::ENOENT);
        assert_eq!(errno(fs.lstat("")), libc::ENOENT);
        assert_eq!(errno(fs.lstat("/f/")), libc::ENOTDIR);
    });
}

#[test]
fn lchown_and_lutimens_change_the_link_itself() {
    each_fs(|fs| {
        put(fs, "/f", b"x");
        fs.symlink("f", "/l").unwrap();
        fs.lchown("/l", 5, 6).unwrap();
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_000, 7);
        fs.lutimens("/l", TimeSpec::Set(t), TimeSpec::Set(t))
            .unwrap();
        let lst = fs.lstat("/l").unwrap();
        assert_eq!((lst.uid, lst.gid, lst.atime, lst.mtime), (5, 6, t, t));
        // Following the link reads it: its atime moves (relatime), as Linux.
        let st = fs.stat("/l").unwrap();
        assert!(fs.lstat("/l").unwrap().atime > t);
        assert_eq!((st.uid, st.gid), (0, 0));
        assert_ne!(st.mtime, t);
        // On anything else they act as chown and utimens.
        fs.lchown("/f", 1, u32::MAX).unwrap();
        fs.lutimens("/f", TimeSpec::Omit, TimeSpec::Set(t)).unwrap();
        let st = fs.stat("/f").unwrap();
        assert_eq!((st.uid, st.gid, st.mtime), (1, 0, t));
        assert_eq!(errno(fs.lchown("/missing", 1, 1)), libc::ENOENT);
        assert_eq!(
            errno(fs.lutimens("/missing", TimeSpec::Now, TimeSpec::Omit)),
            libc::ENOENT
        );
        assert_eq!(
            errno(fs.lutimens("/missing", TimeSpec::Omit, TimeSpec::Omit)),
            0
        );
        assert_eq!(errno(fs.lchown("/l/", 1, 1)), libc::ENOTDIR);
    });
}
