//! Metadata: ownership, umask, `chmod`/`chown`, `access` and
//! `may_delete` against identities, timestamps under an injected clock
//! (no sleeps), `relatime`, `utimens`, `statfs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use ermfs::{AtimePolicy, Fs, FsBuilder, Identity, TimeSpec};

use super::common::{each_fs, each_with, errno, put};

const RW: i32 = libc::O_RDWR | libc::O_CREAT;

/// A clock the test moves by hand: seconds (and nanoseconds) past a base.
#[derive(Clone)]
struct Clock(Arc<AtomicU64>);

/// Where the test clock starts (2026-01-01T00:00:00Z).
const BASE: u64 = 1_767_225_600;

impl Clock {
    fn new() -> Clock {
        Clock(Arc::new(AtomicU64::new(0)))
    }
    /// The time `nanos` nanoseconds past `BASE`.
    fn at(nanos: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(BASE) + Duration::from_nanos(nanos)
    }
    fn now(&self) -> SystemTime {
        Clock::at(self.0.load(Ordering::SeqCst))
    }
    /// Moves the clock forward by `nanos`, returning the new time.
    fn tick(&self, nanos: u64) -> SystemTime {
        self.0.fetch_add(nanos, Ordering::SeqCst);
        self.now()
    }
    /// A builder whose clock is this one.
    fn builder(&self) -> FsBuilder {
        let c = Arc::clone(&self.0);
        Fs::builder().clock(Arc::new(move || Clock::at(c.load(Ordering::SeqCst))))
    }
}

/// Runs `f` on both backends, each with a fresh test clock.
fn each_clocked(f: impl Fn(&Fs, &Clock)) {
    for lockless in [false, true] {
        let clock = Clock::new();
        let fs = clock.builder().lockless(lockless).build().unwrap();
        f(&fs, &clock);
    }
}

fn times(fs: &Fs, path: &str) -> (SystemTime, SystemTime, SystemTime) {
    let st = fs.stat(path).unwrap();
    (st.atime, st.mtime, st.ctime)
}

#[test]
fn owner_is_the_builders_and_stat_reports_it() {
    each_fs(|fs| {
        put(fs, "/f", b"x");
        let st = fs.stat("/f").unwrap();
        assert_eq!((st.uid, st.gid), (0, 0));
        assert_eq!(
            (fs.stat("/").unwrap().uid, fs.stat("/").unwrap().gid),
            (0, 0)
        );
    });
    each_with(
        || Fs::builder().owner(1000, 100),
        |fs| {
            fs.mkdir("/d", 0o755).unwrap();
            put(fs, "/d/f", b"x");
            for p in ["/", "/d", "/d/f"] {
                let st = fs.stat(p).unwrap();
                assert_eq!((st.uid, st.gid), (1000, 100), "{p}");
            }
        },
    );
}

#[test]
fn umask_applies_at_creation_only() {
    // Default: modes stored as given (what a FUSE front end wants).
    each_fs(|fs| {
        fs.close(fs.open("/f", RW, 0o7777).unwrap()).unwrap();
        assert_eq!(fs.stat("/f").unwrap().mode, libc::S_IFREG | 0o7777);
        // mkdir drops set-user-ID and set-group-ID, as Linux.
        fs.mkdir("/d", 0o7777).unwrap();
        assert_eq!(fs.stat("/d").unwrap().mode, libc::S_IFDIR | 0o1777);
    });
    each_with(
        || Fs::builder().umask(0o022),
        |fs| {
            fs.close(fs.open("/f", RW, 0o666).unwrap()).unwrap();
            assert_eq!(fs.stat("/f").unwrap().mode, libc::S_IFREG | 0o644);
            fs.mkdir("/d", 0o1777).unwrap();
            assert_eq!(fs.stat("/d").unwrap().mode, libc::S_IFDIR | 0o1755);
            // chmod is not masked.
            fs.chmod("/f", 0o666).unwrap();
            assert_eq!(fs.stat("/f").unwrap().mode, libc::S_IFREG | 0o666);
        },
    );
}

#[test]
fn setgid_directories_pass_their_group_on() {
    each_with(
        || Fs::builder().owner(1000, 100),
        |fs| {
            fs.mkdir("/g", 0o775).unwrap();
            fs.chown("/g", u32::MAX, 50).unwrap();
            fs.chmod("/g", 0o2775).unwrap();
            put(fs, "/g/f", b"x");
            fs.mkdir("/g/sub", 0o755).unwrap();
            let f = fs.stat("/g/f").unwrap();
            assert_eq!((f.uid, f.gid, f.mode & 0o7777), (1000, 50, 0o644));
            let sub = fs.stat("/g/sub").unwrap();
            assert_eq!((sub.uid, sub.gid, sub.mode & 0o7777), (1000, 50, 0o2755));
        },
    );
}

#[test]
fn chmod_and_fchmod() {
    each_clocked(|fs, clock| {
        put(fs, "/f", b"data");
        fs.mkdir("/d", 0o755).unwrap();
        let (_, m0, _) = times(fs, "/f");
        let t1 = clock.tick(1_000);
        fs.chmod("/f", 0o4755 | libc::S_IFREG).unwrap(); // type bits ignored
        let st = fs.stat("/f").unwrap();
        assert_eq!(st.mode, libc::S_IFREG | 0o4755);
        assert_eq!((st.mtime, st.ctime), (m0, t1));
        fs.chmod("/d", 0o1777).unwrap();
        assert_eq!(fs.stat("/d").unwrap().mode, libc::S_IFDIR | 0o1777);
        // fchmod works through a read-only descriptor, as Linux.
        let ro = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        fs.fchmod(ro, 0o600).unwrap();
        assert_eq!(fs.fstat(ro).unwrap().mode, libc::S_IFREG | 0o600);
        fs.close(ro).unwrap();
        // Bad input.
        assert_eq!(errno(fs.chmod("/missing", 0o644)), libc::ENOENT);
        assert_eq!(errno(fs.chmod("/f/x", 0o644)), libc::ENOTDIR);
        assert_eq!(errno(fs.chmod("/f/", 0o644)), libc::ENOTDIR);
        assert_eq!(errno(fs.chmod("", 0o644)), libc::ENOENT);
        assert_eq!(errno(fs.chmod("/a\0b", 0o644)), libc::EINVAL);
        assert_eq!(
            errno(fs.chmod(format!("/{}", "n".repeat(256)), 0o644)),
            libc::ENAMETOOLONG
        );
        for fd in [-1, 99, i32::MAX] {
            assert_eq!(errno(fs.fchmod(fd, 0o644)), libc::EBADF);
        }
    });
}

#[test]
fn chown_and_fchown() {
    each_clocked(|fs, clock| {
        put(fs, "/f", b"data");
        fs.mkdir("/d", 0o755).unwrap();
        fs.chown("/f", 1000, 100).unwrap();
        let st = fs.stat("/f").unwrap();
        assert_eq!((st.uid, st.gid), (1000, 100));
        // u32::MAX (C's -1) leaves a field alone; ctime moves anyway.
        let t1 = clock.tick(5);
        fs.chown("/f", u32::MAX, u32::MAX).unwrap();
        let st = fs.stat("/f").unwrap();
        assert_eq!((st.uid, st.gid, st.ctime), (1000, 100, t1));
        fs.chown("/f", 7, u32::MAX).unwrap();
        assert_eq!(fs.stat("/f").unwrap().gid, 100);
        // A file loses set-user-ID, and set-group-ID when group-executable.
        fs.chmod("/f", 0o6755).unwrap();
        fs.chown("/f", 0, 0).unwrap();
        assert_eq!(fs.stat("/f").unwrap().mode & 0o7777, 0o0755);
        fs.chmod("/f", 0o6745).unwrap();
        fs.chown("/f", 0, 0).unwrap();
        assert_eq!(fs.stat("/f").unwrap().mode & 0o7777, 0o2745);
        // A directory keeps them.
        fs.chmod("/d", 0o6755).unwrap();
        fs.chown("/d", 3, 4).unwrap();
        let st = fs.stat("/d").unwrap();
        assert_eq!((st.uid, st.gid, st.mode & 0o7777), (3, 4, 0o6755));
        let fd = fs.open("/d", libc::O_RDONLY, 0).unwrap();
        fs.fchown(fd, 9, 9).unwrap();
        assert_eq!(fs.fstat(fd).unwrap().uid, 9);
        fs.close(fd).unwrap();
        assert_eq!(errno(fs.chown("/missing", 1, 1)), libc::ENOENT);
        assert_eq!(errno(fs.chown("/f/x", 1, 1)), libc::ENOTDIR);
        assert_eq!(errno(fs.fchown(-1, 1, 1)), libc::EBADF);
        assert_eq!(errno(fs.fchown(fd, 1, 1)), libc::EBADF);
    });
}

#[test]
fn access_follows_generic_permission() {
    each_fs(|fs| {
        let alice = Identity::new(1000, 1000);
        let bob = Identity::new(1001, 1001).with_groups([1000]);
        let eve = Identity::new(1002, 1002);
        let root = Identity::root();
        fs.mkdir("/home", 0o755).unwrap();
        fs.mkdir("/home/alice", 0o750).unwrap();
        fs.chown("/home/alice", 1000, 1000).unwrap();
        put(fs, "/home/alice/notes", b"x");
        fs.chown("/home/alice/notes", 1000, 1000).unwrap();
        fs.chmod("/home/alice/notes", 0o460).unwrap();
        let n = "/home/alice/notes";
        let (r, w, x) = (libc::R_OK, libc::W_OK, libc::X_OK);
        // Owner: owner bits only (r--), not the group's rw-.
        assert_eq!(errno(fs.access(n, r, &alice)), 0);
        assert_eq!(errno(fs.access(n, w, &alice)), libc::EACCES);
        // A supplementary group member gets the group bits.
        assert_eq!(errno(fs.access(n, r | w, &bob)), 0);
        assert_eq!(errno(fs.access(n, x, &bob)), libc::EACCES);
        // Others cannot even search the directory: EACCES, missing or not.
        assert_eq!(errno(fs.access(n, libc::F_OK, &eve)), libc::EACCES);
        assert_eq!(errno(fs.access("/home/alice/none", 0, &eve)), libc::EACCES);
        assert_eq!(errno(fs.access("/home/alice", r, &eve)), libc::EACCES);
        assert_eq!(errno(fs.access("/home/alice", libc::F_OK, &eve)), 0);
        // `.` and `..` need search permission too.
        assert_eq!(errno(fs.access("/home/alice/..", 0, &eve)), libc::EACCES);
        assert_eq!(errno(fs.access("/home/alice/.", 0, &bob)), 0);
        // Root: read and write anything, execute only with an x bit.
        assert_eq!(errno(fs.access(n, r | w, &root)), 0);
        assert_eq!(errno(fs.access(n, x, &root)), libc::EACCES);
        fs.chmod(n, 0o001).unwrap();
        assert_eq!(errno(fs.access(n, r | w | x, &root)), 0);
        fs.chmod("/home/alice", 0o000).unwrap();
        assert_eq!(errno(fs.access("/home/alice", r | w | x, &root)), 0);
        // Path errors and bad modes.
        assert_eq!(errno(fs.access("/missing", 0, &root)), libc::ENOENT);
        assert_eq!(errno(fs.access(format!("{n}/"), 0, &root)), libc::ENOTDIR);
        assert_eq!(errno(fs.access(format!("{n}/x"), 0, &root)), libc::ENOTDIR);
        assert_eq!(errno(fs.access("/", 8, &root)), libc::EINVAL);
        assert_eq!(errno(fs.access("/missing", -1, &root)), libc::EINVAL);
        assert_eq!(errno(fs.access("", 0, &root)), libc::ENOENT);
        assert_eq!(errno(fs.access("/a\0", 0, &root)), libc::EINVAL);
        // Calls without an identity check nothing.
        assert_eq!(fs.readdir("/home/alice").unwrap().len(), 3);
    });
}

#[test]
fn may_delete_honours_write_permission_and_the_sticky_bit() {
    each_fs(|fs| {
        let alice = Identity::new(1000, 1000);
        let bob = Identity::new(1001, 1001);
        let root = Identity::root();
        fs.mkdir("/tmp", 0o1777).unwrap();
        put(fs, "/tmp/a", b"x");
        fs.chown("/tmp/a", 1000, 1000).unwrap();
        assert_eq!(errno(fs.may_delete("/tmp/a", &alice)), 0);
        assert_eq!(errno(fs.may_delete("/tmp/a", &bob)), libc::EPERM);
        assert_eq!(errno(fs.may_delete("/tmp/a", &root)), 0);
        // The directory's owner may, too.
        fs.chown("/tmp", 1001, 1001).unwrap();
        assert_eq!(errno(fs.may_delete("/tmp/a", &bob)), 0);
        // Without the sticky bit anyone with write permission may.
        fs.chown("/tmp", 0, 0).unwrap();
        fs.chmod("/tmp", 0o777).unwrap();
        assert_eq!(errno(fs.may_delete("/tmp/a", &bob)), 0);
        fs.chmod("/tmp", 0o755).unwrap();
        assert_eq!(errno(fs.may_delete("/tmp/a", &alice)), libc::EACCES);
        assert_eq!(errno(fs.may_delete("/tmp/none", &alice)), libc::ENOENT);
        fs.chmod("/tmp", 0o700).unwrap();
        assert_eq!(errno(fs.may_delete("/tmp/none", &alice)), libc::EACCES);
        assert_eq!(errno(fs.may_delete("/", &root)), libc::EBUSY);
        assert_eq!(errno(fs.may_delete("/tmp/.", &root)), libc::EINVAL);
        assert_eq!(errno(fs.may_delete("/tmp/a/b", &root)), libc::ENOTDIR);
    });
}

#[test]
fn creation_and_directory_changes_set_times() {
    each_clocked(|fs, clock| {
        let t0 = clock.now();
        fs.mkdir("/d", 0o755).unwrap();
        assert_eq!(times(fs, "/d"), (t0, t0, t0));
        assert_eq!(fs.stat("/d").unwrap().btime, t0);
        let t1 = clock.tick(1);
        put(fs, "/d/f", b"abc");
        assert_eq!(times(fs, "/d/f"), (t1, t1, t1));
        let (a, m, c) = times(fs, "/d");
        assert_eq!((a, m, c), (t0, t1, t1), "an entry added: dir mtime+ctime");
        // Rename: both directories' mtime+ctime and the file's ctime.
        fs.mkdir("/e", 0o755).unwrap();
        let t2 = clock.tick(1);
        fs.rename("/d/f", "/e/g").unwrap();
        assert_eq!(times(fs, "/e/g"), (t1, t1, t2));
        assert_eq!(times(fs, "/d").1, t2);
        assert_eq!(times(fs, "/e").2, t2);
        // Unlink: the directory's times and the (open) file's ctime.
        let fd = fs.open("/e/g", libc::O_RDONLY, 0).unwrap();
        let t3 = clock.tick(1);
        fs.unlink("/e/g").unwrap();
        assert_eq!(fs.fstat(fd).unwrap().ctime, t3);
        assert_eq!(times(fs, "/e").1, t3);
        fs.close(fd).unwrap();
        let t4 = clock.tick(1);
        fs.rmdir("/d").unwrap();
        assert_eq!(times(fs, "/").1, t4);
        // A rename over a file: the replaced file's ctime too.
        put(fs, "/x", b"x");
        put(fs, "/y", b"y");
        let old = fs.open("/y", libc::O_RDONLY, 0).unwrap();
        let t5 = clock.tick(1);
        fs.rename("/x", "/y").unwrap();
        assert_eq!(fs.fstat(old).unwrap().ctime, t5);
        assert_eq!(times(fs, "/y").2, t5);
        fs.close(old).unwrap();
    });
}

#[test]
fn writes_and_truncates_set_mtime_and_ctime() {
    each_clocked(|fs, clock| {
        let t0 = clock.now();
        let fd = fs.open("/f", RW, 0o644).unwrap();
        let t1 = clock.tick(1_000_000_007);
        fs.write(fd, b"hello").unwrap();
        assert_eq!(times(fs, "/f"), (t0, t1, t1), "nanoseconds kept");
        let t2 = clock.tick(3);
        assert_eq!(fs.write(fd, b"").unwrap(), 0);
        assert_eq!(times(fs, "/f").1, t1, "an empty write changes nothing");
        fs.pwrite(fd, b"x", 100).unwrap();
        assert_eq!(times(fs, "/f").1, t2);
        let t3 = clock.tick(3);
        fs.ftruncate(fd, 2).unwrap();
        assert_eq!(times(fs, "/f").1, t3);
        fs.close(fd).unwrap();
        let t4 = clock.tick(3);
        fs.truncate("/f", 1).unwrap();
        assert_eq!(times(fs, "/f"), (t0, t4, t4));
        let t5 = clock.tick(3);
        fs.close(fs.open("/f", libc::O_WRONLY | libc::O_TRUNC, 0).unwrap())
            .unwrap();
        assert_eq!(times(fs, "/f").1, t5);
        // Metadata changes move ctime only.
        let t6 = clock.tick(3);
        fs.chmod("/f", 0o600).unwrap();
        assert_eq!(times(fs, "/f"), (t0, t5, t6));
        let t7 = clock.tick(3);
        fs.setxattr("/f", "user.k", b"v", 0).unwrap();
        assert_eq!(times(fs, "/f"), (t0, t5, t7));
    });
}

#[test]
fn reads_update_atime_relatime_style() {
    each_clocked(|fs, clock| {
        let t0 = clock.now();
        put(fs, "/f", b"hello");
        let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        let mut buf = [0u8; 8];
        // atime == mtime: the first read moves it.
        let t1 = clock.tick(10);
        fs.read(fd, &mut buf).unwrap();
        assert_eq!(times(fs, "/f"), (t1, t0, t0));
        // atime after mtime and ctime, less than a day old: no change.
        clock.tick(3_600_000_000_000);
        fs.pread(fd, &mut buf, 0).unwrap();
        fs.with_bytes(fd, 0, 2, |_| ()).unwrap();
        assert_eq!(times(fs, "/f").0, t1);
        // A day old: moves again.
        let t2 = clock.tick(86_400_000_000_000);
        fs.pread(fd, &mut buf, 0).unwrap();
        assert_eq!(times(fs, "/f").0, t2);
        fs.close(fd).unwrap();
        // A write since the last access: the next read moves it (also on a
        // compressed file read lazily, and at end of file).
        let t3 = clock.tick(1);
        put(fs, "/f", b"world");
        let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        let t4 = clock.tick(1);
        fs.pread(fd, &mut buf, 100).unwrap();
        assert_eq!(times(fs, "/f"), (t4, t3, t3));
        fs.close(fd).unwrap();
        // readdir is a read of the directory.
        fs.mkdir("/d", 0o755).unwrap();
        let t5 = clock.tick(1);
        fs.readdir("/d").unwrap();
        assert_eq!(times(fs, "/d").0, t5);
        clock.tick(1);
        fs.readdir("/d").unwrap();
        assert_eq!(times(fs, "/d").0, t5);
        // Writes, opens and stat never touch atime.
        let fd = fs.open("/f", libc::O_RDWR, 0).unwrap();
        clock.tick(1);
        fs.write(fd, b"x").unwrap();
        fs.fstat(fd).unwrap();
        fs.close(fd).unwrap();
        assert_eq!(times(fs, "/f").0, t4);
    });
}

#[test]
fn atime_policies() {
    for (policy, moves) in [(AtimePolicy::Noatime, false), (AtimePolicy::Strict, true)] {
        for lockless in [false, true] {
            let clock = Clock::new();
            let fs = clock
                .builder()
                .atime(policy)
                .lockless(lockless)
                .build()
                .unwrap();
            let t0 = clock.now();
            put(&fs, "/f", b"hello");
            fs.mkdir("/d", 0o755).unwrap();
            let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
            let mut buf = [0u8; 4];
            for _ in 0..2 {
                let t = clock.tick(1);
                fs.read(fd, &mut buf).unwrap();
                fs.readdir("/d").unwrap();
                let want = if moves { t } else { t0 };
                assert_eq!(times(&fs, "/f").0, want, "{policy:?}");
                assert_eq!(times(&fs, "/d").0, want, "{policy:?}");
            }
            fs.close(fd).unwrap();
        }
    }
}

#[test]
fn atime_policy_changes_at_run_time() {
    for lockless in [false, true] {
        let clock = Clock::new();
        let fs = clock.builder().lockless(lockless).build().unwrap();
        assert_eq!(fs.atime_policy(), AtimePolicy::Relatime);
        put(&fs, "/f", b"hello");
        let fd = fs.open("/f", libc::O_RDONLY, 0).unwrap();
        let mut buf = [0u8; 2];
        let mut read = |fs: &Fs| fs.pread(fd, &mut buf, 0).unwrap();
        // Relatime: the first read after the write moves atime, the next not.
        let t1 = clock.tick(1);
        read(&fs);
        clock.tick(1);
        read(&fs);
        assert_eq!(times(&fs, "/f").0, t1);
        // Strict from now on: every read moves it, through the open descriptor too.
        fs.set_atime_policy(AtimePolicy::Strict);
        assert_eq!(fs.atime_policy(), AtimePolicy::Strict);
        let t2 = clock.tick(1);
        read(&fs);
        assert_eq!(times(&fs, "/f").0, t2);
        // Noatime: never, even past relatime's 24 hours.
        fs.set_atime_policy(AtimePolicy::Noatime);
        clock.tick(2 * 86_400 * 1_000_000_000);
        read(&fs);
        assert_eq!(times(&fs, "/f").0, t2);
        fs.set_atime_policy(AtimePolicy::Relatime);
        let t3 = clock.tick(1);
        read(&fs);
        assert_eq!(times(&fs, "/f").0, t3);
        fs.close(fd).unwrap();
    }
}

#[test]
fn utimens_and_futimens() {
    each_clocked(|fs, clock| {
        put(fs, "/f", b"x");
        let (_, m0, _) = times(fs, "/f");
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_234_567_890, 123_456_789);
        let now = clock.tick(7);
        fs.utimens("/f", TimeSpec::Set(t), TimeSpec::Omit).unwrap();
        assert_eq!(times(fs, "/f"), (t, m0, now));
        let now = clock.tick(7);
        fs.utimens("/f", TimeSpec::Omit, TimeSpec::Now).unwrap();
        assert_eq!(times(fs, "/f"), (t, now, now));
        // Edge values: before the epoch, the epoch, far future, 1 ns.
        for v in [
            SystemTime::UNIX_EPOCH - Duration::new(1, 1),
            SystemTime::UNIX_EPOCH,
            SystemTime::UNIX_EPOCH + Duration::new(i32::MAX as u64 * 8, 999_999_999),
            SystemTime::UNIX_EPOCH + Duration::from_nanos(1),
        ] {
            fs.utimens("/f", TimeSpec::Set(v), TimeSpec::Set(v))
                .unwrap();
            let (a, m, _) = times(fs, "/f");
            assert_eq!((a, m), (v, v));
        }
        // Both omitted: nothing happens, not even the lookup (as Linux).
        let before = fs.stat("/f").unwrap();
        clock.tick(7);
        fs.utimens("/f", TimeSpec::Omit, TimeSpec::Omit).unwrap();
        assert_eq!(fs.stat("/f").unwrap(), before);
        fs.utimens("/missing", TimeSpec::Omit, TimeSpec::Omit)
            .unwrap();
        fs.futimens(-1, TimeSpec::Omit, TimeSpec::Omit).unwrap();
        // Descriptor form, any access mode, directories too.
        fs.mkdir("/d", 0o755).unwrap();
        let fd = fs.open("/d", libc::O_RDONLY, 0).unwrap();
        let now = clock.tick(7);
        fs.futimens(fd, TimeSpec::Now, TimeSpec::Set(t)).unwrap();
        assert_eq!(times(fs, "/d"), (now, t, now));
        fs.close(fd).unwrap();
        assert_eq!(
            errno(fs.futimens(fd, TimeSpec::Now, TimeSpec::Now)),
            libc::EBADF
        );
        assert_eq!(
            errno(fs.utimens("/missing", TimeSpec::Now, TimeSpec::Omit)),
            libc::ENOENT
        );
        assert_eq!(
            errno(fs.utimens("/f/", TimeSpec::Now, TimeSpec::Now)),
            libc::ENOTDIR
        );
    });
}

#[test]
fn statfs_reports_the_memory_limit() {
    each_with(
        || Fs::builder().memory_limit(Some(1 << 20)),
        |fs| {
            let s = fs.statfs();
            assert_eq!((s.block_size, s.blocks, s.blocks_free), (4096, 256, 256));
            assert_eq!(s.blocks_available, s.blocks_free);
            assert_eq!(s.name_max, 255);
            assert_eq!(s.files - s.files_free, 1, "the root");
            let fd = fs.open("/f", RW, 0o644).unwrap();
            fs.write(fd, &vec![7u8; 100_000]).unwrap();
            fs.mkdir("/d", 0o755).unwrap();
            let s = fs.statfs();
            let used = fs.memory_used() as u64;
            assert_eq!(s.blocks_free, 256 - used.div_ceil(4096));
            assert!(s.blocks_free < 256 - 24);
            assert_eq!(s.files - s.files_free, 3);
            fs.close(fd).unwrap();
            fs.unlink("/f").unwrap();
            assert_eq!(fs.statfs().blocks_free, 256);
        },
    );
    each_fs(|fs| {
        let s = fs.statfs();
        assert!(s.blocks > 0 && s.blocks_free <= s.blocks);
    });
}

#[test]
fn the_memory_limit_changes_on_a_live_store_as_a_tmpfs_remount() {
    each_with(
        || Fs::builder().memory_limit(Some(1 << 20)),
        |fs| {
            assert_eq!(fs.memory_limit(), Some(1 << 20));
            let fd = fs.open("/f", RW, 0o644).unwrap();
            // Past the limit: refused; raised live: the same write fits.
            assert_eq!(errno(fs.write(fd, &vec![1u8; 3 << 20])), libc::ENOSPC);
            fs.set_memory_limit(Some(4 << 20)).unwrap();
            assert_eq!(fs.statfs().blocks, 1024);
            assert_eq!(fs.write(fd, &vec![1u8; 3 << 20]).unwrap(), 3 << 20);
            // Below what is charged: EINVAL and nothing changes.
            assert_eq!(errno(fs.set_memory_limit(Some(1 << 20))), libc::EINVAL);
            assert_eq!(fs.memory_limit(), Some(4 << 20));
            fs.set_memory_limit(None).unwrap();
            assert_eq!(fs.memory_limit(), None);
            fs.close(fd).unwrap();
        },
    );
}

#[test]
fn the_inode_limit_refuses_names_past_it_as_nr_inodes() {
    each_with(
        || Fs::builder().inode_limit(Some(5)),
        |fs| {
            let s = fs.statfs();
            assert_eq!((s.files, s.files_free), (5, 4), "the root counts");
            put(fs, "/f", b"x");
            fs.mkdir("/d", 0o755).unwrap();
            fs.symlink("f", "/s").unwrap();
            fs.mknod("/p", libc::S_IFIFO | 0o644, 0).unwrap();
            assert_eq!(fs.statfs().files_free, 0);
            for refused in [
                errno(fs.open("/g", RW, 0o644)),
                errno(fs.mkdir("/e", 0o755)),
                errno(fs.symlink("f", "/t")),
                errno(fs.mknod("/q", libc::S_IFIFO | 0o644, 0)),
            ] {
                assert_eq!(refused, libc::ENOSPC);
            }
            // A hard link and a rename make no inode; a removal frees one.
            fs.link("/f", "/d/f2").unwrap();
            fs.rename("/s", "/d/s").unwrap();
            assert_eq!(errno(fs.set_inode_limit(Some(4))), libc::EINVAL);
            assert_eq!(fs.inode_limit(), Some(5));
            fs.unlink("/p").unwrap();
            put(fs, "/g", b"y");
            fs.set_inode_limit(Some(6)).unwrap();
            fs.mkdir("/e", 0o755).unwrap();
            fs.set_inode_limit(None).unwrap();
            assert_eq!(fs.statfs().files, u64::from(u32::MAX));
        },
    );
}

#[test]
fn packed_raw_bytes_follow_the_files_held_compressed() {
    each_fs(|fs| {
        let text = b"a line of text that compresses well\n".repeat(2000);
        put(fs, "/a", &text);
        put(fs, "/b", &text[..1000]);
        fs.settle();
        let s = fs.stats();
        assert_eq!(s.packed_raw_bytes, text.len() as u64 + 1000);
        assert!(s.compressed_bytes > 0 && s.compressed_bytes * 10 < s.packed_raw_bytes);
        // Reopened for writing: inflated, no longer counted; removed: gone.
        let fd = fs.open("/a", libc::O_RDWR, 0).unwrap();
        assert_eq!(fs.stats().packed_raw_bytes, 1000);
        fs.close(fd).unwrap();
        fs.unlink("/a").unwrap();
        fs.unlink("/b").unwrap();
        fs.settle();
        assert_eq!(fs.stats().packed_raw_bytes, 0);
    });
}
