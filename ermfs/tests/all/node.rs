//! The node API: lookups, creation of every file type by an identity,
//! `renameat2` flags, `setattr`, a tree deeper than any path, inode-number
//! lookups, and `RENAME_EXCHANGE` against concurrent lookups. Both backends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ermfs::{FileType, Fs, Identity, NAME_MAX, Node, PATH_MAX, RenameFlags, SetAttr, TimeSpec};

use super::common::{each_fs, each_with, errno};
use super::kernel::{Tmpfs, is_root};

fn root() -> Identity {
    Identity::root()
}

fn alice() -> Identity {
    Identity::new(1000, 1000)
}

#[test]
fn lookup_finds_names_dot_and_dotdot() {
    each_fs(|fs| {
        let r = fs.root();
        let d = fs.mkdirat(&r, "d", 0o755, 0, &root()).unwrap();
        let f = fs.mknodat(&d, "f", 0o644, 0, 0, &root()).unwrap();
        assert_eq!(fs.lookup(&r, "d").unwrap(), d);
        assert_eq!(fs.lookup(&d, "f").unwrap(), f);
        assert_eq!(fs.lookup(&d, ".").unwrap(), d);
        assert_eq!(fs.lookup(&d, "..").unwrap(), r);
        assert_eq!(fs.lookup(&r, "..").unwrap(), r);
        assert_eq!(errno(fs.lookup(&d, "missing")), libc::ENOENT);
        assert_eq!(errno(fs.lookup(&f, "x")), libc::ENOTDIR);
        assert_eq!(errno(fs.lookup(&d, "a/b")), libc::EINVAL);
        assert_eq!(errno(fs.lookup(&d, "")), libc::ENOENT);
        let long = "n".repeat(NAME_MAX + 1);
        assert_eq!(errno(fs.lookup(&d, &long)), libc::ENAMETOOLONG);
        // The path calls see what the node calls made.
        assert_eq!(fs.stat("/d/f").unwrap().ino, f.ino());
        assert_eq!(fs.node("/d/f").unwrap(), f);
        // `..` of a removed directory is gone.
        fs.unlinkat(&d, "f").unwrap();
        fs.rmdirat(&r, "d").unwrap();
        assert_eq!(fs.getattr(&d).nlink, 0);
        assert_eq!(errno(fs.lookup(&d, "..")), libc::ENOENT);
        assert_eq!(
            errno(fs.mknodat(&d, "g", 0o644, 0, 0, &root())),
            libc::ENOENT
        );
    });
}

#[test]
fn every_file_type_is_made_and_reported() {
    each_fs(|fs| {
        let r = fs.root();
        let dev = libc::makedev(8, 1);
        let cases = [
            (libc::S_IFIFO | 0o640, 0, FileType::Fifo),
            (libc::S_IFSOCK | 0o755, 0, FileType::Socket),
            (
                libc::S_IFCHR | 0o620,
                libc::makedev(4, 1),
                FileType::CharDevice,
            ),
            (libc::S_IFBLK | 0o660, dev, FileType::BlockDevice),
            (libc::S_IFREG | 0o600, 0, FileType::File),
            (0o600, 0, FileType::File),
        ];
        for (i, (mode, rdev, kind)) in cases.into_iter().enumerate() {
            let name = format!("n{i}");
            let node = fs.mknodat(&r, &name, mode, rdev, 0o022, &root()).unwrap();
            let st = fs.getattr(&node);
            assert_eq!(st.kind, kind);
            assert_eq!(st.mode, kind.mode_bits() | (mode & 0o7777 & !0o022));
            let expect_rdev = if kind.is_special() && rdev != 0 {
                rdev
            } else {
                0
            };
            assert_eq!(st.rdev, expect_rdev, "{kind:?}");
            assert_eq!((st.size, st.blocks, st.nlink), (0, 0, 1));
            if kind.is_special() {
                // Nothing serves the node in-process.
                let path = format!("/{name}");
                assert_eq!(errno(fs.open(&path, libc::O_RDONLY, 0)), libc::ENXIO);
                assert_eq!(
                    errno(fs.open_node(&node, libc::O_RDWR, &root())),
                    libc::ENXIO
                );
                assert_eq!(errno(fs.truncate(&path, 0)), libc::EINVAL);
                let attr = SetAttr {
                    size: Some(0),
                    ..SetAttr::default()
                };
                assert_eq!(errno(fs.setattr(&node, &attr, &root())), libc::EINVAL);
            }
        }
        assert_eq!(fs.stats().specials, 4);
        let kinds: Vec<_> = fs.readdir("/").unwrap()[2..]
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, cases.map(|c| c.2));
        // The refusals, in Linux's order.
        assert_eq!(
            errno(fs.mknodat(&r, "x", libc::S_IFDIR | 0o755, 0, 0, &root())),
            libc::EPERM
        );
        assert_eq!(
            errno(fs.mknodat(&r, "x", libc::S_IFLNK | 0o777, 0, 0, &root())),
            libc::EINVAL
        );
        assert_eq!(
            errno(fs.mknodat(&r, "x", 0o170000, 0, 0, &root())),
            libc::EINVAL
        );
        let chr = libc::S_IFCHR | 0o600;
        assert_eq!(errno(fs.mknodat(&r, "x", chr, 1, 0, &alice())), libc::EPERM);
        // A whiteout (character device 0:0) needs no privilege.
        let w = fs.mknodat(&r, "wh", chr, 0, 0, &alice()).unwrap();
        assert_eq!(fs.getattr(&w).uid, 1000);
        fs.unlinkat(&r, "wh").unwrap();
        assert_eq!(
            errno(fs.mknodat(&r, "n0", libc::S_IFIFO, 0, 0, &root())),
            libc::EEXIST
        );
        assert_eq!(
            errno(fs.mknodat(&r, "..", libc::S_IFIFO, 0, 0, &root())),
            libc::EEXIST
        );
        // A FIFO by an unprivileged caller is fine, and owned by it.
        let p = fs
            .mknodat(&r, "p", libc::S_IFIFO | 0o600, 0, 0, &alice())
            .unwrap();
        assert_eq!((fs.getattr(&p).uid, fs.getattr(&p).gid), (1000, 1000));
        // Path forms.
        fs.mkfifo("/q", 0o644).unwrap();
        assert_eq!(fs.stat("/q").unwrap().kind, FileType::Fifo);
        fs.mknod("/c", libc::S_IFCHR | 0o600, libc::makedev(1, 3))
            .unwrap();
        assert_eq!(fs.stat("/c").unwrap().rdev, libc::makedev(1, 3));
        assert_eq!(errno(fs.mknod("/c", libc::S_IFIFO, 0)), libc::EEXIST);
        assert_eq!(errno(fs.mknod("/d", libc::S_IFDIR, 0)), libc::EPERM);
        fs.link("/q", "/q2").unwrap();
        assert_eq!(fs.stat("/q").unwrap().nlink, 2);
        fs.unlink("/q").unwrap();
        fs.unlink("/q2").unwrap();
        fs.unlink("/c").unwrap();
        assert_eq!(fs.stats().specials, 5);
    });
}

#[test]
fn rename_flags() {
    each_fs(|fs| {
        let r = fs.root();
        let who = root();
        fs.write_file("/a", b"A").unwrap();
        fs.write_file("/b", b"B").unwrap();
        fs.mkdir("/d", 0o755).unwrap();
        fs.mkdir("/d/e", 0o755).unwrap();
        let d = fs.node("/d").unwrap();
        let (a, b) = (fs.node("/a").unwrap(), fs.node("/b").unwrap());
        // NOREPLACE refuses an existing target and renames onto a free one.
        let nr = RenameFlags::NOREPLACE;
        assert_eq!(
            errno(fs.renameat2(&r, "a", &r, "b", nr, &who)),
            libc::EEXIST
        );
        fs.renameat2(&r, "a", &r, "c", nr, &who).unwrap();
        assert_eq!(fs.lookup(&r, "c").unwrap(), a);
        fs.renameat2(&r, "c", &r, "a", nr, &who).unwrap();
        // EXCHANGE swaps two existing names, a file with a directory across
        // directories too, keeping the link counts right.
        let ex = RenameFlags::EXCHANGE;
        assert_eq!(
            errno(fs.renameat2(&r, "a", &r, "zz", ex, &who)),
            libc::ENOENT
        );
        fs.renameat2(&r, "a", &r, "b", ex, &who).unwrap();
        assert_eq!(
            (fs.lookup(&r, "a").unwrap(), fs.lookup(&r, "b").unwrap()),
            (b.clone(), a.clone())
        );
        let root_links = fs.stat("/").unwrap().nlink;
        fs.renameat2(&r, "a", &d, "e", ex, &who).unwrap();
        assert_eq!(fs.stat("/a").unwrap().kind, FileType::Dir);
        assert_eq!(fs.read_file("/d/e").unwrap(), b"B");
        assert_eq!(fs.stat("/").unwrap().nlink, root_links + 1);
        assert_eq!(fs.stat("/d").unwrap().nlink, 2);
        assert_eq!(fs.lookup(&fs.node("/a").unwrap(), "..").unwrap(), r);
        let names: Vec<_> = fs
            .readdir("/")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, [&b"."[..], b"..", b"a", b"b", b"d"]);
        // Exchanging a directory into its own subtree is refused.
        fs.mkdir("/a/in", 0o755).unwrap();
        let a_dir = fs.node("/a").unwrap();
        assert_eq!(
            errno(fs.renameat2(&r, "a", &a_dir, "in", ex, &who)),
            libc::EINVAL
        );
        assert_eq!(
            errno(fs.renameat2(&a_dir, "in", &r, "a", ex, &who)),
            libc::EINVAL
        );
        // Refused combinations and bits.
        assert_eq!(
            errno(fs.renameat2(&r, "a", &r, "b", ex | nr, &who)),
            libc::EINVAL
        );
        assert_eq!(errno(RenameFlags::from_bits(8)), libc::EINVAL);
        // WHITEOUT leaves a character device 0:0 at the old name.
        let wo = RenameFlags::WHITEOUT;
        // Anyone may: the whiteout is the caller's.
        fs.renameat2(&r, "b", &r, "w", wo, &alice()).unwrap();
        assert_eq!(fs.lstat("/b").unwrap().uid, 1000);
        let st = fs.lstat("/b").unwrap();
        assert_eq!(
            (st.kind, st.rdev, st.mode),
            (FileType::CharDevice, 0, libc::S_IFCHR)
        );
        assert_eq!(fs.read_file("/w").unwrap(), b"A");
        // Dots.
        assert_eq!(
            errno(fs.renameat2(&r, ".", &r, "x", RenameFlags::NONE, &who)),
            libc::EBUSY
        );
        assert_eq!(
            errno(fs.renameat2(&r, "w", &r, "..", nr, &who)),
            libc::EEXIST
        );
    });
}

#[test]
fn setattr_changes_everything_in_one_call() {
    each_fs(|fs| {
        let r = fs.root();
        let f = fs.mknodat(&r, "f", 0o6755, 0, 0, &root()).unwrap();
        let fd = fs.open_node(&f, libc::O_WRONLY, &root()).unwrap();
        fs.write(fd, b"hello world").unwrap();
        fs.close(fd).unwrap();
        fs.setxattr("/f", "security.capability", b"cap", 0).unwrap();
        let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::new(77, 7);
        let attr = SetAttr {
            uid: Some(1000),
            gid: Some(1000),
            size: Some(5),
            atime: TimeSpec::Set(t),
            mtime: TimeSpec::Set(t),
            ..SetAttr::default()
        };
        let st = fs.setattr(&f, &attr, &root()).unwrap();
        assert_eq!((st.uid, st.gid, st.size), (1000, 1000, 5));
        assert_eq!((st.atime, st.mtime), (t, t));
        // chown: set-user-ID goes, set-group-ID too (group-executable), and
        // the file capability.
        assert_eq!(st.mode & 0o7777, 0o755);
        assert_eq!(
            errno(fs.getxattr("/f", "security.capability", &mut [])),
            libc::ENODATA
        );
        assert_eq!(fs.read_file("/f").unwrap(), b"hello");
        // chmod by a caller outside the group drops set-group-ID.
        let attr = SetAttr {
            mode: Some(0o2755),
            ..SetAttr::default()
        };
        let bob = Identity::new(1000, 2000);
        assert_eq!(fs.setattr(&f, &attr, &bob).unwrap().mode & 0o7777, 0o755);
        assert_eq!(
            fs.setattr(&f, &attr, &alice()).unwrap().mode & 0o7777,
            0o2755
        );
        // A truncate by a caller other than root drops set-ID bits.
        let attr = SetAttr {
            size: Some(1),
            ..SetAttr::default()
        };
        assert_eq!(
            fs.setattr(&f, &attr, &alice()).unwrap().mode & 0o7777,
            0o755
        );
        let d = fs.mkdirat(&r, "d", 0o755, 0, &root()).unwrap();
        assert_eq!(errno(fs.setattr(&d, &attr, &root())), libc::EISDIR);
        let too_big = SetAttr {
            size: Some(u64::MAX),
            ..SetAttr::default()
        };
        assert_eq!(errno(fs.setattr(&f, &too_big, &root())), libc::EINVAL);
        // A symlink's mode is always 0o777 (Linux: EOPNOTSUPP).
        let l = fs.symlinkat("f", &r, "l", &root()).unwrap();
        let chmod = SetAttr {
            mode: Some(0o600),
            ..SetAttr::default()
        };
        assert_eq!(errno(fs.setattr(&l, &chmod, &root())), libc::EOPNOTSUPP);
        assert_eq!(fs.getattr(&l).mode, libc::S_IFLNK | 0o777);
    });
}

#[test]
fn writes_drop_privileges_as_linux() {
    each_fs(|fs| {
        let r = fs.root();
        for (who, mode, after) in [
            (alice(), 0o6755, 0o0755),
            // Set-group-ID without group-exec stays for a member of the
            // file's group only.
            (alice(), 0o6745, 0o0745),
            (Identity::new(1000, 1000).with_groups([0]), 0o6745, 0o2745),
            (alice(), 0o4700, 0o0700),
            (root(), 0o6755, 0o6755), // CAP_FSETID keeps them
        ] {
            let f = fs.mknodat(&r, "f", mode, 0, 0, &root()).unwrap();
            fs.setxattr("/f", "security.capability", b"cap", 0).unwrap();
            let fd = fs.open_node(&f, libc::O_WRONLY, &who).unwrap();
            fs.write(fd, b"x").unwrap();
            assert_eq!(fs.getattr(&f).mode & 0o7777, after, "{who:?} {mode:o}");
            // The capability goes whoever writes.
            assert_eq!(
                errno(fs.getxattr("/f", "security.capability", &mut [])),
                libc::ENODATA
            );
            fs.close(fd).unwrap();
            fs.unlinkat(&r, "f").unwrap();
        }
    });
}

#[test]
fn creation_follows_the_set_group_id_rules() {
    each_fs(|fs| {
        let r = fs.root();
        // mkdir takes no set-group-ID bit from its mode: set it after.
        let d = fs.mkdirat(&r, "d", 0o2777, 0, &root()).unwrap();
        assert_eq!(fs.getattr(&d).mode & 0o7777, 0o777);
        let attr = SetAttr {
            mode: Some(0o2777),
            gid: Some(500),
            ..SetAttr::default()
        };
        assert_eq!(
            fs.setattr(&d, &attr, &root()).unwrap().mode & 0o7777,
            0o2777
        );
        let member = Identity::new(1000, 1000).with_groups([500]);
        let outsider = alice();
        let f = fs.mknodat(&d, "f1", 0o2755, 0, 0, &outsider).unwrap();
        let st = fs.getattr(&f);
        assert_eq!((st.uid, st.gid, st.mode & 0o7777), (1000, 500, 0o755));
        let f = fs.mknodat(&d, "f2", 0o2755, 0, 0, &member).unwrap();
        assert_eq!(fs.getattr(&f).mode & 0o7777, 0o2755);
        let f = fs.mknodat(&d, "f3", 0o4755, 0, 0, &outsider).unwrap();
        assert_eq!(fs.getattr(&f).mode & 0o7777, 0o4755);
        let sub = fs.mkdirat(&d, "sub", 0o755, 0, &outsider).unwrap();
        let st = fs.getattr(&sub);
        assert_eq!((st.gid, st.mode & 0o7777), (500, 0o2755));
        // Outside a set-group-ID directory the creator's group is used.
        let g = fs.mknodat(&r, "g", 0o644, 0, 0, &outsider).unwrap();
        assert_eq!(fs.getattr(&g).gid, 1000);
    });
}

/// A tree whose deepest path is 64 KiB long: built, renamed under another
/// directory and removed with node calls, while each path argument stays
/// limited to `PATH_MAX` as on Linux.
#[test]
fn a_tree_deeper_than_any_path() {
    each_fs(|fs| {
        let who = root();
        let r = fs.root();
        let name = "d".repeat(250);
        let top = fs.mkdirat(&r, "top", 0o755, 0, &who).unwrap();
        let mut chain: Vec<Node> = vec![top.clone()];
        while chain.len() * (name.len() + 1) < 64 * 1024 {
            let next = fs
                .mkdirat(chain.last().unwrap(), &name, 0o755, 0, &who)
                .unwrap();
            chain.push(next);
        }
        let deepest = chain.last().unwrap();
        fs.mknodat(deepest, "leaf", 0o644, 0, 0, &who).unwrap();
        // A path argument longer than PATH_MAX is refused, not the depth.
        let long = format!("/top/{}", [name.as_str(); 20].join("/"));
        assert!(long.len() > PATH_MAX);
        assert_eq!(errno(fs.stat(&long)), libc::ENAMETOOLONG);
        let within = format!("/top/{}", [name.as_str(); 15].join("/"));
        assert!(within.len() <= PATH_MAX);
        assert_eq!(fs.stat(&within).unwrap().kind, FileType::Dir);
        // Rename the whole tree under a new directory, and its bottom up.
        let other = fs.mkdirat(&r, "other", 0o755, 0, &who).unwrap();
        fs.renameat2(&r, "top", &other, "moved", RenameFlags::NONE, &who)
            .unwrap();
        assert_eq!(fs.lookup(&other, "moved").unwrap(), top);
        // Moving an ancestor into its own subtree is refused at any depth.
        assert_eq!(
            errno(fs.renameat2(&other, "moved", deepest, "loop", RenameFlags::NONE, &who)),
            libc::EINVAL
        );
        assert_eq!(fs.lookup(&chain[1], "..").unwrap(), top);
        fs.unlinkat(deepest, "leaf").unwrap();
        for i in (1..chain.len()).rev() {
            fs.rmdirat(&chain[i - 1], &name).unwrap();
        }
        fs.rmdirat(&other, "moved").unwrap();
        fs.rmdirat(&r, "other").unwrap();
        assert_eq!(fs.readdir("/").unwrap().len(), 2);
        assert_eq!(fs.stats().dirs, 1);
    });
}

#[test]
fn nodes_by_inode_number() {
    each_with(
        || Fs::builder().inode_index(true),
        |fs| {
            let g = fs.generation();
            assert_ne!(g, 0);
            fs.write_file("/f", b"x").unwrap();
            let f = fs.node("/f").unwrap();
            assert_eq!(fs.node_by_ino(f.ino(), g).unwrap(), f);
            assert_eq!(fs.node_by_ino(1, g).unwrap(), fs.root());
            assert_eq!(
                errno(fs.node_by_ino(f.ino(), g.wrapping_add(1))),
                libc::ESTALE
            );
            fs.link("/f", "/f2").unwrap();
            fs.unlink("/f").unwrap();
            assert_eq!(fs.node_by_ino(f.ino(), g).unwrap(), f);
            fs.unlink("/f2").unwrap();
            assert_eq!(errno(fs.node_by_ino(f.ino(), g)), libc::ESTALE);
            assert_eq!(errno(fs.node_by_ino(999_999, g)), libc::ESTALE);
            // Renames keep it; a whiteout is found too.
            fs.write_file("/a", b"a").unwrap();
            let r = fs.root();
            fs.renameat2(&r, "a", &r, "b", RenameFlags::WHITEOUT, &root())
                .unwrap();
            let w = fs.node_nofollow("/a").unwrap();
            assert_eq!(fs.node_by_ino(w.ino(), g).unwrap(), w);
        },
    );
    each_fs(|fs| {
        assert_eq!(errno(fs.node_by_ino(1, fs.generation())), libc::EOPNOTSUPP);
    });
}

/// `RENAME_EXCHANGE` of two busy names: every lookup of either name, at
/// every moment, finds one of the two inodes.
#[test]
fn exchange_under_concurrent_lookups() {
    each_fs(|fs| {
        fs.write_file("/a", b"a").unwrap();
        fs.mkdir("/b", 0o755).unwrap();
        let r = fs.root();
        let ids = [fs.node("/a").unwrap().ino(), fs.node("/b").unwrap().ino()];
        let stop = Arc::new(AtomicBool::new(false));
        let lookups = Arc::new(AtomicU64::new(0));
        std::thread::scope(|s| {
            for name in ["a", "b"] {
                let (stop, r, lookups) = (Arc::clone(&stop), r.clone(), Arc::clone(&lookups));
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let n = fs.lookup(&r, name).expect("a name never vanishes");
                        assert!(ids.contains(&n.ino()));
                        let st = fs.stat(format!("/{name}")).expect("nor by path");
                        assert!(ids.contains(&st.ino));
                        lookups.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            // Swap until the readers have looked many times (in pairs, so
            // the names end where they began).
            let mut swaps = 0;
            while swaps < 2000 || (lookups.load(Ordering::Relaxed) < 20_000 && swaps < 2_000_000) {
                for _ in 0..2 {
                    fs.renameat2(&r, "a", &r, "b", RenameFlags::EXCHANGE, &root())
                        .unwrap();
                }
                swaps += 2;
            }
            stop.store(true, Ordering::Relaxed);
        });
        assert!(lookups.load(Ordering::Relaxed) >= 20_000);
        // An even number of swaps: back where they were.
        assert_eq!(fs.node("/a").unwrap().ino(), ids[0]);
        assert_eq!(fs.readdir("/").unwrap().len(), 4);
    });
}

fn names(s: &mut ermfs::DirStream, n: usize) -> Vec<Vec<u8>> {
    s.by_ref().take(n).map(|e| e.unwrap().name).collect()
}

#[test]
fn directory_streams_follow_the_live_directory() {
    each_fs(|fs| {
        fs.mkdir("/d", 0o755).unwrap();
        for n in ["b", "d", "f", "h"] {
            fs.write_file(format!("/d/{n}"), b"").unwrap();
        }
        let mut s = fs.opendir("/d").unwrap();
        assert_eq!(names(&mut s, 3), [&b"."[..], b"..", b"b"]);
        let after_b = s.tell();
        // Removed before being reached: not listed. Added after the
        // position: listed. Added before it: not (until a rewind).
        fs.unlink("/d/d").unwrap();
        fs.write_file("/d/e", b"").unwrap();
        fs.write_file("/d/a", b"").unwrap();
        assert_eq!(names(&mut s, 10), [&b"e"[..], b"f", b"h"]);
        assert!(s.next_entry().unwrap().is_none());
        // Seeking back to a cookie resumes after the same name.
        s.seek(after_b);
        assert_eq!(names(&mut s, 10), [&b"e"[..], b"f", b"h"]);
        s.rewind();
        assert_eq!(
            names(&mut s, 10),
            [&b"."[..], b"..", b"a", b"b", b"e", b"f", b"h"]
        );
        // A cookie past the end is the end.
        s.seek(1_000);
        assert!(s.next_entry().unwrap().is_none());
        // Entries carry the right inode and type.
        fs.mkdir("/d/sub", 0o755).unwrap();
        s.rewind();
        let sub = s.map(|e| e.unwrap()).find(|e| e.name == b"sub").unwrap();
        assert_eq!(
            (sub.ino, sub.kind),
            (fs.stat("/d/sub").unwrap().ino, FileType::Dir)
        );
        assert_eq!(errno(fs.opendir("/d/b")), libc::ENOTDIR);
    });
}

#[test]
fn a_removed_open_directory_lists_nothing() {
    each_fs(|fs| {
        fs.mkdir("/d", 0o755).unwrap();
        let d = fs.node("/d").unwrap();
        let fd = fs
            .open("/d", libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .unwrap();
        let mut s = fs.opendir_node(&d).unwrap();
        fs.rmdir("/d").unwrap();
        assert!(s.next_entry().unwrap().is_none());
        assert_eq!(fs.fstat(fd).unwrap().nlink, 0);
        assert_eq!(fs.getattr(&d).nlink, 0);
        fs.close(fd).unwrap();
    });
}

/// Names present from the open to the end are listed exactly once while
/// another thread adds and removes other names.
#[test]
fn streams_list_stable_names_once_under_concurrent_change() {
    each_fs(|fs| {
        fs.mkdir("/d", 0o755).unwrap();
        let stable: Vec<String> = (0..200).map(|i| format!("s{i:03}")).collect();
        for n in &stable {
            fs.write_file(format!("/d/{n}"), b"").unwrap();
        }
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let p = format!("/d/t{}", i % 97);
                    if fs.write_file(&p, b"").is_err() || fs.unlink(&p).is_err() {
                        panic!("churn failed");
                    }
                    i += 1;
                }
            });
            for _ in 0..50 {
                let listed: Vec<Vec<u8>> = fs
                    .opendir("/d")
                    .unwrap()
                    .map(|e| e.unwrap().name)
                    .filter(|n| n.starts_with(b"s"))
                    .collect();
                let want: Vec<Vec<u8>> = stable.iter().map(|n| n.as_bytes().to_vec()).collect();
                assert_eq!(listed, want);
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
}

/// The kernel's answers for the same stream steps, on a tmpfs mounted at
/// `target/dirstream-oracle` (root only): every name of a full listing,
/// names added after the open shown after `rewinddir`, a removed open
/// directory listing nothing (not even `.`) with `nlink` 0.
#[test]
fn directory_streams_match_the_kernel() {
    use std::ffi::CStr;
    if !is_root() {
        eprintln!("directory_streams_match_the_kernel: skipped (needs root for the tmpfs)");
        return;
    }
    let tmpfs = Tmpfs::mount("dirstream-oracle").expect("mount tmpfs");
    let d = tmpfs.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("x"), b"").unwrap();
    /// All names of a kernel stream from where it is, sorted.
    fn drain(dir: *mut libc::DIR) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            // SAFETY: `dir` is an open stream used by this thread only.
            let e = unsafe { libc::readdir(dir) };
            if e.is_null() {
                break;
            }
            // SAFETY: readdir returns a valid entry with a NUL-terminated name.
            let name = unsafe { CStr::from_ptr((*e).d_name.as_ptr()) };
            out.push(name.to_bytes().to_vec());
        }
        out.sort();
        out
    }
    let cd = tmpfs.at("d");
    // SAFETY: a valid path.
    let kdir = unsafe { libc::opendir(cd.as_ptr()) };
    assert!(!kdir.is_null());
    let kernel_first = drain(kdir);
    std::fs::write(d.join("y"), b"").unwrap();
    // SAFETY: an open stream.
    unsafe { libc::rewinddir(kdir) };
    let kernel_rewound = drain(kdir);
    std::fs::remove_file(d.join("x")).unwrap();
    std::fs::remove_file(d.join("y")).unwrap();
    std::fs::remove_dir(&d).unwrap();
    // SAFETY: an open stream.
    unsafe { libc::rewinddir(kdir) };
    let kernel_removed = drain(kdir);
    // SAFETY: all-zero bytes are a valid `stat`; `dirfd` of an open stream.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::fstat(libc::dirfd(kdir), &mut st) }, 0);
    let kernel_nlink = st.st_nlink;
    // SAFETY: closing the stream opened above.
    unsafe { libc::closedir(kdir) };
    drop(tmpfs);

    each_fs(|fs| {
        fs.mkdir("/d", 0o755).unwrap();
        fs.write_file("/d/x", b"").unwrap();
        let mut s = fs.opendir("/d").unwrap();
        let sorted = |s: &mut ermfs::DirStream| {
            let mut v = names(s, usize::MAX);
            v.sort();
            v
        };
        assert_eq!(sorted(&mut s), kernel_first);
        fs.write_file("/d/y", b"").unwrap();
        s.rewind();
        assert_eq!(sorted(&mut s), kernel_rewound);
        fs.unlink("/d/x").unwrap();
        fs.unlink("/d/y").unwrap();
        let node = s.dir().clone();
        fs.rmdir("/d").unwrap();
        s.rewind();
        assert_eq!(sorted(&mut s), kernel_removed);
        assert_eq!(u64::from(fs.getattr(&node).nlink), kernel_nlink);
    });
}
