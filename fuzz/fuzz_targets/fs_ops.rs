//! Fuzz target `fs_ops`: bytes decode into a sequence of file system calls
//! (descriptor, namespace and metadata calls: `chmod`, `chown`, `access`,
//! `utimens`, xattrs, `fallocate`; hard links and symlinks: `link`,
//! `symlink` with targets that loop, dangle or climb, `readlink`, `lstat`,
//! `lchown`) on a small path set, run on a locked and on a lockless `Fs`; every result and
//! errno must agree, nothing may panic, and at the end every descriptor closes
//! and both stores hold the same files, bytes and compressed bytes.

#![no_main]

use ermfs::{CompressionPolicy, Fs};
use libfuzzer_sys::fuzz_target;
use std::fmt::Debug;
use std::io;

const PATHS: [&str; 10] = [
    "/", "/a", "/b", "/d", "/d/x", "/d/e", "/d/e/y", "/a/..", "/x/../a", "/d/./x/",
];

/// Open flags (Linux values: this crate does not depend on libc).
const O_RDONLY: i32 = 0;
const O_WRONLY: i32 = 1;
const O_RDWR: i32 = 2;
const O_CREAT: i32 = 0o100;
const O_EXCL: i32 = 0o200;
const O_TRUNC: i32 = 0o1000;
const O_APPEND: i32 = 0o2000;
const O_DIRECTORY: i32 = 0o200000;
const O_NOFOLLOW: i32 = 0o400000;
/// Symlink targets: relative, absolute, climbing, looping (`/a` -> `a`),
/// ending in `/`, empty (`ENOENT`).
const TARGETS: [&str; 8] = ["a", "/d", "../a", "x", "/d/e/y", "d/", "b/../d", ""];
/// `fallocate` modes (Linux values): 0, `KEEP_SIZE`, `PUNCH_HOLE | KEEP_SIZE`,
/// `PUNCH_HOLE` alone, `ZERO_RANGE`, an unknown bit.
const FALLOC: [i32; 6] = [0, 1, 3, 2, 0x10, 0x100];
/// Extended attribute names: valid, bare prefix, unknown namespace, empty.
const XATTRS: [&str; 5] = ["user.a", "trusted.b", "user.", "foo.c", ""];
const FLAGS: [i32; 9] = [
    O_RDONLY,
    O_WRONLY,
    O_RDWR,
    O_RDWR | O_CREAT,
    O_WRONLY | O_CREAT | O_TRUNC,
    O_RDWR | O_CREAT | O_EXCL,
    O_WRONLY | O_CREAT | O_APPEND,
    O_RDONLY | O_DIRECTORY,
    O_RDONLY | O_NOFOLLOW,
];

fn store(lockless: bool) -> Fs {
    Fs::builder()
        .compression(CompressionPolicy::Immediate)
        .block_size(4096)
        .lockless(lockless)
        .build()
        .expect("a default store builds")
}

/// What a call gave, comparable across the two stores: the value's debug
/// form, or the errno.
fn outcome<T: Debug>(r: io::Result<T>) -> Result<String, Option<i32>> {
    r.map(|v| format!("{v:?}")).map_err(|e| e.raw_os_error())
}

/// What a `getxattr`/`listxattr` into `buf` that returned `n` gave. With an
/// empty `buf` the call is a size query: `n` is the full length and nothing
/// was filled, so only `n` is compared. Otherwise `n` must fit in `buf`
/// (a value that does not fit is `ERANGE`, never a longer count).
fn filled(call: &str, buf: &[u8], n: usize) -> String {
    if buf.is_empty() {
        return format!("size {n}");
    }
    match buf.get(..n) {
        Some(bytes) => format!("{bytes:?}"),
        None => panic!("{call} returned {n} for a {}-byte buffer", buf.len()),
    }
}

/// Bytes as a cursor; missing bytes read as zero so every input decodes.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
    fn path(&mut self) -> &'static str {
        PATHS[usize::from(self.byte()) % PATHS.len()]
    }
    fn fd(&mut self) -> i32 {
        i32::from(self.byte() % 10) - 1 // -1 and a few never-opened numbers too
    }
    fn len(&mut self) -> usize {
        usize::from(self.byte()) * 37
    }
    fn offset(&mut self) -> i64 {
        match self.byte() {
            255 => -1,
            254 => i64::MAX,
            b => i64::from(b) * 97,
        }
    }
}

/// Runs one call on `fs`; returns its outcome.
fn apply(fs: &Fs, op: u8, args: &[u8]) -> Result<String, Option<i32>> {
    let mut inp = Input(args);
    match op % 22 {
        0 => outcome(fs.open(
            inp.path(),
            FLAGS[usize::from(inp.byte()) % FLAGS.len()],
            0o644,
        )),
        1 => outcome(fs.close(inp.fd())),
        2 => {
            let fd = inp.fd();
            let data = vec![inp.byte(); inp.len()];
            outcome(fs.write(fd, &data))
        }
        3 => {
            let fd = inp.fd();
            let data = vec![inp.byte(); inp.len()];
            outcome(fs.pwrite(fd, &data, inp.offset()))
        }
        4 => {
            let fd = inp.fd();
            let mut buf = vec![0; inp.len()];
            outcome(fs.read(fd, &mut buf).map(|n| buf[..n].to_vec()))
        }
        5 => {
            let fd = inp.fd();
            let mut buf = vec![0; inp.len()];
            let off = inp.offset();
            outcome(fs.pread(fd, &mut buf, off).map(|n| buf[..n].to_vec()))
        }
        6 => {
            let fd = inp.fd();
            outcome(fs.lseek(fd, inp.offset(), i32::from(inp.byte() % 5)))
        }
        7 => {
            let fd = inp.fd();
            outcome(fs.ftruncate(fd, inp.offset()))
        }
        8 => outcome(fs.mkdir(inp.path(), 0o755)),
        9 => outcome(fs.rmdir(inp.path())),
        10 => outcome(fs.unlink(inp.path())),
        11 => outcome(fs.rename(inp.path(), inp.path())),
        12 => outcome(
            fs.stat(inp.path())
                .map(|s| (s.ino, s.kind, s.mode, s.nlink, s.size)),
        ),
        13 => outcome(fs.readdir(inp.path()).map(|entries| {
            entries
                .into_iter()
                .map(|e| (e.name, e.ino))
                .collect::<Vec<_>>()
        })),
        14 => {
            let path = inp.path();
            let mode = u32::from(inp.byte()) * 33;
            if mode % 2 == 0 {
                outcome(fs.chmod(path, mode))
            } else {
                outcome(fs.chown(path, u32::from(inp.byte()), u32::MAX))
            }
        }
        15 => {
            let path = inp.path();
            let name = XATTRS[usize::from(inp.byte()) % XATTRS.len()];
            let value = vec![inp.byte(); inp.len()];
            outcome(fs.setxattr(path, name, &value, i32::from(inp.byte() % 4)))
        }
        16 => {
            let path = inp.path();
            let name = XATTRS[usize::from(inp.byte()) % XATTRS.len()];
            let mut buf = vec![0; inp.len() / 8];
            match inp.byte() % 3 {
                0 => {
                    let r = fs.getxattr(path, name, &mut buf);
                    outcome(r.map(|n| filled("getxattr", &buf, n)))
                }
                1 => {
                    let r = fs.listxattr(path, &mut buf);
                    outcome(r.map(|n| filled("listxattr", &buf, n)))
                }
                _ => outcome(fs.removexattr(path, name)),
            }
        }
        17 => {
            let fd = inp.fd();
            let mode = FALLOC[usize::from(inp.byte()) % FALLOC.len()];
            outcome(fs.fallocate(fd, mode, inp.offset(), inp.offset()))
        }
        18 => {
            let path = inp.path();
            let who = ermfs::Identity::new(u32::from(inp.byte() % 3), 0);
            let mode = i32::from(inp.byte() % 9);
            if inp.byte() % 2 == 0 {
                outcome(fs.access(path, mode, &who))
            } else {
                let secs = u64::from(inp.byte()) << 24;
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
                outcome(fs.utimens(path, ermfs::TimeSpec::Set(t), ermfs::TimeSpec::Omit))
            }
        }
        19 => {
            let path = inp.path();
            if inp.byte() % 2 == 0 {
                outcome(fs.link(path, inp.path()))
            } else {
                outcome(fs.symlink(TARGETS[usize::from(inp.byte()) % TARGETS.len()], path))
            }
        }
        20 => {
            let path = inp.path();
            match inp.byte() % 3 {
                0 => outcome(fs.readlink(path)),
                1 => outcome(
                    fs.lstat(path)
                        .map(|s| (s.ino, s.kind, s.mode, s.nlink, s.size)),
                ),
                _ => outcome(fs.lchown(path, u32::from(inp.byte()), u32::MAX)),
            }
        }
        _ => {
            let old = inp.fd();
            if inp.byte() % 2 == 0 {
                outcome(fs.dup(old))
            } else {
                outcome(fs.dup2(old, inp.fd()))
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (locked, lockless) = (store(false), store(true));
    for chunk in data.chunks(6).take(64) {
        let (op, args) = chunk.split_first().unwrap_or((&0, &[]));
        let a = apply(&locked, *op, args);
        let b = apply(&lockless, *op, args);
        assert_eq!(a, b, "op {op} {args:?}: locked and lockless disagree");
    }
    for fs in [&locked, &lockless] {
        for fd in 0..64 {
            let _ = fs.close(fd);
        }
        assert_eq!(fs.stats().open_fds, 0, "every descriptor closed");
    }
    let (a, b) = (locked.stats(), lockless.stats());
    assert_eq!(
        (a.files, a.dirs, a.symlinks, a.raw_bytes, a.compressed_bytes),
        (b.files, b.dirs, b.symlinks, b.raw_bytes, b.compressed_bytes),
        "both stores end in the same state"
    );
});
