//! Hard links: `link` shares one inode between names, `nlink` counts them,
//! the content lives until the last name and the last descriptor are gone
//! (unlink, rename over a name, close in any order), `ctime` moves, bad
//! input gets Linux's errnos, and a mode switch keeps the sharing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use ermfs::{CompressionPolicy, Fs, PATH_MAX};

use super::common::{each_fs, each_with, errno, get, put};

#[test]
fn names_share_one_inode() {
    each_fs(|fs| {
        put(fs, "/a", b"hello");
        fs.mkdir("/d", 0o755).unwrap();
        fs.link("/a", "/d/b").unwrap();
        let (a, b) = (fs.stat("/a").unwrap(), fs.stat("/d/b").unwrap());
        assert_eq!((a.ino, a.nlink), (b.ino, 2));
        assert_eq!(get(fs, "/d/b"), b"hello");
        // A write through one name shows through the other.
        let fd = fs.open("/d/b", libc::O_WRONLY | libc::O_APPEND, 0).unwrap();
        fs.write(fd, b" world").unwrap();
        fs.close(fd).unwrap();
        assert_eq!(get(fs, "/a"), b"hello world");
        // Directories count subdirectories only: a file's names change nothing.
        assert_eq!(fs.stat("/d").unwrap().nlink, 2);
        assert_eq!(fs.stat("/").unwrap().nlink, 3);
        let s = fs.stats();
        assert_eq!((s.files, s.dirs), (1, 2), "one file, whatever its names");
        let names: Vec<_> = fs
            .readdir("/d")
            .unwrap()
            .into_iter()
            .map(|e| e.ino)
            .collect();
        assert_eq!(names[2..], [a.ino]);
    });
}

#[test]
fn content_lives_until_the_last_name_and_the_last_close() {
    each_fs(|fs| {
        put(fs, "/a", &vec![b'x'; 100_000]);
        fs.link("/a", "/b").unwrap();
        let used = fs.memory_used();
        assert!(used > 0);
        fs.unlink("/a").unwrap();
        assert_eq!(fs.stat("/b").unwrap().nlink, 1);
        assert_eq!(fs.memory_used(), used, "one name left: nothing freed");
        assert_eq!(get(fs, "/b"), vec![b'x'; 100_000]);
        // Held open, then the last name goes: freed only at the close.
        let fd = fs.open("/b", libc::O_RDWR, 0).unwrap();
        fs.unlink("/b").unwrap();
        assert_eq!(fs.fstat(fd).unwrap().nlink, 0);
        assert_eq!(fs.stats().files, 0);
        let mut buf = [0u8; 4];
        assert_eq!(fs.pread(fd, &mut buf, 99_996).unwrap(), 4);
        assert!(fs.memory_used() > 0);
        fs.close(fd).unwrap();
        assert_eq!(fs.memory_used(), 0, "freed at the last close");
    });
}

#[test]
fn a_last_close_with_a_name_left_keeps_the_file() {
    each_fs(|fs| {
        put(fs, "/a", &vec![b'y'; 50_000]);
        fs.link("/a", "/b").unwrap();
        let fd = fs.open("/a", libc::O_RDWR, 0).unwrap();
        fs.unlink("/a").unwrap();
        assert_eq!(fs.fstat(fd).unwrap().nlink, 1);
        fs.close(fd).unwrap(); // last close, one name left: compressed, not freed
        assert_eq!(fs.stats().files, 1);
        assert_eq!(get(fs, "/b"), vec![b'y'; 50_000]);
        assert!(fs.stats().compressions >= 2);
        fs.unlink("/b").unwrap();
        assert_eq!(fs.memory_used(), 0);
    });
}

#[test]
fn rename_over_a_name_drops_one_link() {
    each_fs(|fs| {
        put(fs, "/a", b"first");
        fs.link("/a", "/b").unwrap();
        put(fs, "/c", b"second");
        // Over another name of the same inode: nothing happens (POSIX).
        fs.rename("/a", "/b").unwrap();
        assert_eq!(fs.stat("/a").unwrap().nlink, 2);
        assert!(fs.exists("/b"));
        // A name of the shared file replaced: the file keeps one name.
        fs.rename("/c", "/b").unwrap();
        assert_eq!(fs.stat("/a").unwrap().nlink, 1);
        assert_eq!(get(fs, "/b"), b"second");
        assert_eq!(get(fs, "/a"), b"first");
        // The shared file renamed over an unrelated one: that one is freed.
        fs.link("/a", "/e").unwrap();
        fs.rename("/e", "/b").unwrap();
        assert_eq!(fs.stat("/a").unwrap().nlink, 2);
        assert_eq!(get(fs, "/b"), b"first");
        assert_eq!(fs.stats().files, 1);
        fs.unlink("/a").unwrap();
        fs.unlink("/b").unwrap();
        assert_eq!(fs.memory_used(), 0);
    });
}

#[test]
fn link_errors_follow_linux() {
    each_fs(|fs| {
        put(fs, "/f", b"1");
        put(fs, "/g", b"2");
        fs.mkdir("/d", 0o755).unwrap();
        let e = |old: &str, new: &str| errno(fs.link(old, new));
        assert_eq!(e("/d", "/d2"), libc::EPERM);
        assert_eq!(e("/", "/r"), libc::EPERM);
        assert_eq!(e("/d/.", "/d3"), libc::EPERM);
        assert_eq!(e("/d", "/f"), libc::EEXIST, "EEXIST before EPERM");
        assert_eq!(e("/f", "/g"), libc::EEXIST);
        assert_eq!(e("/f", "/d"), libc::EEXIST);
        assert_eq!(e("/f", "/"), libc::EEXIST);
        assert_eq!(e("/f", "/d/."), libc::EEXIST);
        assert_eq!(e("/f", "/d/.."), libc::EEXIST);
        assert_eq!(e("/missing", "/n"), libc::ENOENT);
        assert_eq!(e("/missing", "/f"), libc::ENOENT, "old is looked up first");
        assert_eq!(e("/f", "/no/n"), libc::ENOENT);
        assert_eq!(
            e("/f", "/n/"),
            libc::ENOENT,
            "a trailing / asks for a directory"
        );
        assert_eq!(e("/f/", "/n"), libc::ENOTDIR);
        assert_eq!(e("/f/x", "/n"), libc::ENOTDIR);
        assert_eq!(e("/f", "/g/n"), libc::ENOTDIR);
        assert_eq!(e("", "/n"), libc::ENOENT);
        assert_eq!(e("/f", ""), libc::ENOENT);
        assert_eq!(e("/f\0", "/n"), libc::EINVAL);
        assert_eq!(e("/f", "/n\0"), libc::EINVAL);
        let long_name = format!("/{}", "n".repeat(256));
        let long_path = "/n".repeat(PATH_MAX / 2 + 1);
        assert_eq!(e(&long_name, "/n"), libc::ENAMETOOLONG);
        assert_eq!(e("/f", &long_name), libc::ENAMETOOLONG);
        assert_eq!(e(&long_path, "/n"), libc::ENAMETOOLONG);
        assert_eq!(e("/f", &long_path), libc::ENAMETOOLONG);
        // Nothing changed on any error.
        assert_eq!(fs.stat("/f").unwrap().nlink, 1);
        assert_eq!(fs.stat("/d").unwrap().nlink, 2);
        assert_eq!(fs.readdir("/").unwrap().len(), 5);
        // A directory's link count is its own business: `..` still works.
        fs.link("/f", "/d/f2").unwrap();
        assert_eq!(fs.stat("/d/..").unwrap().ino, fs.stat("/").unwrap().ino);
        assert_eq!(fs.readdir("/d").unwrap()[1].ino, ermfs::ROOT_INO);
    });
}

/// A clock the test moves by hand.
fn clocked() -> (Arc<AtomicU64>, impl Fn() -> ermfs::FsBuilder) {
    let secs = Arc::new(AtomicU64::new(1_000));
    let c = Arc::clone(&secs);
    let builder = move || {
        let c = Arc::clone(&c);
        Fs::builder().clock(Arc::new(move || {
            SystemTime::UNIX_EPOCH + Duration::from_secs(c.load(Ordering::SeqCst))
        }))
    };
    (secs, builder)
}

#[test]
fn link_and_unlink_move_ctime() {
    let (secs, builder) = clocked();
    let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
    each_with(&builder, |fs| {
        secs.store(1_000, Ordering::SeqCst);
        put(fs, "/a", b"x");
        fs.mkdir("/d", 0o755).unwrap();
        secs.store(2_000, Ordering::SeqCst);
        fs.link("/a", "/d/b").unwrap();
        let (a, d) = (fs.stat("/a").unwrap(), fs.stat("/d").unwrap());
        assert_eq!((a.ctime, a.mtime), (at(2_000), at(1_000)));
        assert_eq!((d.ctime, d.mtime), (at(2_000), at(2_000)));
        secs.store(3_000, Ordering::SeqCst);
        fs.unlink("/a").unwrap();
        let b = fs.stat("/d/b").unwrap();
        assert_eq!((b.ctime, b.mtime), (at(3_000), at(1_000)));
        assert_eq!(fs.stat("/").unwrap().mtime, at(3_000));
    });
}

#[test]
fn links_survive_a_mode_switch() {
    each_fs(|fs| {
        put(fs, "/a", b"shared");
        fs.link("/a", "/b").unwrap();
        fs.symlink("a", "/l").unwrap();
        fs.set_lockless_mode(!fs.is_lockless()).unwrap();
        assert_eq!(fs.stat("/a").unwrap().ino, fs.stat("/b").unwrap().ino);
        assert_eq!(fs.stat("/b").unwrap().nlink, 2);
        assert_eq!(get(fs, "/l"), b"shared");
    });
}

#[test]
fn many_links_then_all_unlinked_in_any_order() {
    each_with(
        || Fs::builder().compression(CompressionPolicy::Never),
        |fs| {
            put(fs, "/f0", &[7u8; 10_000]);
            for i in 1..50 {
                fs.link(format!("/f{}", i - 1), format!("/f{i}")).unwrap();
            }
            assert_eq!(fs.stat("/f0").unwrap().nlink, 50);
            let order = (0..50).rev().step_by(2).chain((0..50).step_by(2));
            for (n, i) in order.enumerate() {
                fs.unlink(format!("/f{i}")).unwrap();
                let left = 49 - n as u32;
                if let Some(j) = (0..50).find(|j| fs.exists(format!("/f{j}"))) {
                    let name = format!("/f{j}");
                    assert_eq!(fs.stat(&name).unwrap().nlink, left);
                    assert_eq!(get(fs, &name), [7u8; 10_000]);
                } else {
                    assert_eq!(left, 0);
                }
            }
            assert_eq!((fs.stats().files, fs.memory_used()), (0, 0));
        },
    );
}

#[test]
fn unlink_of_one_name_racing_opens_through_the_other() {
    each_fs(|fs| {
        put(fs, "/keep", &b"data".repeat(1000));
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..300 {
                    if std::time::Instant::now() > deadline {
                        break;
                    }
                    fs.link("/keep", "/tmp-name").unwrap();
                    fs.unlink("/tmp-name").unwrap();
                }
            });
            for _ in 0..300 {
                if std::time::Instant::now() > deadline {
                    break;
                }
                let fd = fs.open("/keep", libc::O_RDONLY, 0).unwrap();
                let mut buf = [0u8; 4];
                assert_eq!(fs.pread(fd, &mut buf, 3996).unwrap(), 4);
                assert_eq!(&buf, b"data");
                fs.close(fd).unwrap();
            }
        });
        assert_eq!(fs.stat("/keep").unwrap().nlink, 1);
        assert_eq!(get(fs, "/keep"), b"data".repeat(1000));
        fs.unlink("/keep").unwrap();
        assert_eq!(fs.memory_used(), 0);
    });
}
