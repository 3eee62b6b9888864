//! Fuzz target `fs_ops`: bytes decode into a sequence of file system calls
//! (descriptor, namespace and metadata calls: `chmod`, `chown`, `access`,
//! `utimens`, xattrs, `fallocate`; hard links and symlinks: `link`,
//! `symlink` with targets that loop, dangle or climb, `readlink`, `lstat`,
//! `lchown`) on a small path set, and node calls on held [`Node`] handles
//! (kept across calls, removed nodes too): `lookup`, `getattr`, `mknodat`
//! and the path `mknod`/`mkfifo` of every type (FIFO, socket, devices,
//! regular files, invalid types), `mkdirat`, `symlinkat`, `linkat`,
//! `unlinkat`, `rmdirat`, `renameat2` and `rename_with_flags` with each
//! flag and invalid combinations, `setattr`, `open_node`. Each runs on a
//! locked and on a lockless `Fs` (empty, or holding a small tree, as the
//! first byte says); every result and errno must agree,
//! nothing may panic, a successful rename must leave exactly the names it
//! promises (an exchange swaps the two inodes), `getattr` of a held node
//! agrees with the handle, and at the end every descriptor closes, a walk
//! of the tree agrees with `Stats` (types, link counts, names), both
//! stores hold the same files, bytes and compressed bytes, and removing
//! every name gives back every byte.

#![no_main]

use ermfs::{
    CompressionPolicy, FileType, Fs, Identity, Node, RenameFlags, SetAttr, Stat, TimeSpec,
};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
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
/// Names for the node calls: the path set's, the dots, and invalid ones
/// (empty, a `/`, a NUL, one byte past `NAME_MAX`).
const NAMES: [&[u8]; 12] = [
    b"a",
    b"b",
    b"d",
    b"x",
    b"e",
    b"y",
    b".",
    b"..",
    b"",
    b"a/b",
    b"n\0",
    &[b'z'; 256],
];
/// `st_mode` type bits (Linux values).
const S_IFIFO: u32 = 0o010000;
const S_IFCHR: u32 = 0o020000;
const S_IFDIR: u32 = 0o040000;
const S_IFBLK: u32 = 0o060000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFSOCK: u32 = 0o140000;
const S_IFMT: u32 = 0o170000;
/// `mknod` modes: every type it makes, a regular file as 0 and as
/// `S_IFREG`, the types it refuses (directory, symlink) and unknown bits.
const MODES: [u32; 14] = [
    S_IFIFO | 0o644,
    S_IFSOCK | 0o600,
    S_IFCHR | 0o620,
    S_IFBLK | 0o660,
    0o644,
    S_IFREG | 0o6755,
    S_IFREG | 0o2775,
    S_IFDIR | 0o755,
    S_IFLNK | 0o777,
    0o030000 | 0o644,
    0o050000,
    0o070000 | 0o7777,
    0o110000,
    S_IFMT,
];
/// Device numbers: none, `makedev(4, 1)`, `makedev(8, 0)`, all bits.
const RDEVS: [u64; 4] = [0, 0x401, 0x800, u64::MAX];
const UMASKS: [u32; 3] = [0, 0o022, 0o7777];
/// Callers: root, a user in group 0 (the store's), one outside it.
const WHO: [(u32, u32); 3] = [(0, 0), (1000, 0), (1000, 1000)];
/// `renameat2` flags as raw bits: each flag, the invalid combinations
/// (`EXCHANGE` with another; every bit), and unknown bits (`EINVAL`).
const RENAME: [u32; 9] = [0, 1, 2, 4, 3, 6, 5, 7, 8];
/// Sizes for `setattr`: shrink, grow by bytes and blocks, past `i64::MAX`.
const SIZES: [u64; 6] = [0, 1, 4095, 9000, 1 << 40, u64::MAX];
/// Handles kept at once (slot 0 is always `/`).
const HELD: usize = 8;
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

/// The fields of a `Stat` both stores must agree on (no times: the clock is
/// the real one).
fn attrs(s: &Stat) -> (u64, FileType, u32, u32, u32, u32, u64, u64) {
    (s.ino, s.kind, s.mode, s.uid, s.gid, s.nlink, s.size, s.rdev)
}

/// The `st_mode` type bits of `kind`.
fn type_bits(kind: FileType) -> u32 {
    match kind {
        FileType::File => S_IFREG,
        FileType::Dir => S_IFDIR,
        FileType::Symlink => S_IFLNK,
        FileType::Fifo => S_IFIFO,
        FileType::CharDevice => S_IFCHR,
        FileType::BlockDevice => S_IFBLK,
        FileType::Socket => S_IFSOCK,
    }
}

/// `getattr` of a held node: never panics, and agrees with the handle.
fn checked_getattr(fs: &Fs, node: &Node) -> Stat {
    let s = fs.getattr(node);
    assert_eq!((s.ino, s.kind), (node.ino(), node.kind()), "{node:?}");
    assert_eq!(s.mode & S_IFMT, type_bits(node.kind()), "{node:?}: {s:?}");
    assert_eq!(s.nlink, node.nlink(), "{node:?}");
    if node.kind() == FileType::Symlink {
        assert_eq!(s.mode & 0o7777, 0o777, "{node:?}");
    }
    if !matches!(node.kind(), FileType::CharDevice | FileType::BlockDevice) {
        assert_eq!(s.rdev, 0, "{node:?}");
    }
    s
}

/// One store and the node handles held on it.
struct Store {
    fs: Fs,
    held: Vec<Node>,
}

impl Store {
    /// An empty store, or (`populated`) one holding a tree on the path
    /// set, so that a short input already reaches calls on existing names:
    /// `/a` (a file of two blocks), `/b` (a FIFO), `/d`, `/d/x` (a file),
    /// `/d/e`, `/d/e/y` (a symlink to `/a`), each held.
    fn new(lockless: bool, populated: bool) -> Store {
        let fs = store(lockless);
        let mut held = vec![fs.root()];
        if populated {
            let data: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
            fs.write_file("/a", &data).expect("populate /a");
            fs.mkfifo("/b", 0o644).expect("populate /b");
            fs.mkdir("/d", 0o755).expect("populate /d");
            fs.write_file("/d/x", b"x").expect("populate /d/x");
            fs.mkdir("/d/e", 0o755).expect("populate /d/e");
            fs.symlink("../../a", "/d/e/y").expect("populate /d/e/y");
            for path in ["/a", "/b", "/d", "/d/x", "/d/e", "/d/e/y"] {
                held.push(fs.node_nofollow(path).expect("populated"));
            }
        }
        Store { fs, held }
    }
}

/// Keeps the node a call gave (replacing the slot `slot` picks once
/// [`HELD`] are held, never `/`); the outcome is the node's number and type.
fn keep(held: &mut Vec<Node>, slot: u8, r: io::Result<Node>) -> Result<String, Option<i32>> {
    if let Ok(node) = &r {
        if held.len() < HELD {
            held.push(node.clone());
        } else {
            held[1 + usize::from(slot) % (HELD - 1)] = node.clone();
        }
    }
    outcome(r)
}

/// What `name` of `dir` is now, if anything.
fn entry(fs: &Fs, dir: &Node, name: &[u8]) -> Option<Node> {
    fs.lookup(dir, name).ok()
}

/// Checks what a successful rename of `(od, on)` to `(nd, nn)` left, given
/// what both names were before (`src`, `dst`).
fn check_rename(
    fs: &Fs,
    (od, on): (&Node, &[u8]),
    (nd, nn): (&Node, &[u8]),
    flags: u32,
    (src, dst): (Option<Node>, Option<Node>),
) {
    let (now_src, now_dst) = (entry(fs, od, on), entry(fs, nd, nn));
    let src = src.expect("a successful rename had a source");
    if flags & 2 != 0 {
        let dst = dst.expect("an exchange had a target");
        assert_eq!(
            now_src.as_ref(),
            Some(&dst),
            "exchange: the source name has the target"
        );
        assert_eq!(
            now_dst.as_ref(),
            Some(&src),
            "exchange: the target name has the source"
        );
        return;
    }
    if flags & 1 != 0 {
        assert!(dst.is_none(), "NOREPLACE succeeded over {dst:?}");
    }
    assert_eq!(
        now_dst.as_ref(),
        Some(&src),
        "the target name has the source"
    );
    if dst.as_ref() == Some(&src) {
        // Two names of one inode (or one name twice): nothing changes.
        assert_eq!(
            now_src.as_ref(),
            Some(&src),
            "a rename onto itself kept the source"
        );
    } else if flags & 4 != 0 {
        let w = now_src.expect("a whiteout at the source name");
        let s = checked_getattr(fs, &w);
        assert_eq!(
            (s.kind, s.rdev, s.nlink),
            (FileType::CharDevice, 0, 1),
            "whiteout"
        );
    } else {
        assert_eq!(now_src, None, "the source name is gone");
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
    fn node(&mut self, held: &[Node]) -> Node {
        held[usize::from(self.byte()) % held.len()].clone()
    }
    fn name(&mut self) -> &'static [u8] {
        NAMES[usize::from(self.byte()) % NAMES.len()]
    }
    fn who(&mut self) -> Identity {
        let (uid, gid) = WHO[usize::from(self.byte()) % WHO.len()];
        Identity::new(uid, gid)
    }
    fn pick<T: Copy, const N: usize>(&mut self, table: &[T; N]) -> T {
        table[usize::from(self.byte()) % N]
    }
    fn time(&mut self) -> TimeSpec {
        match self.byte() % 4 {
            0 => TimeSpec::Omit,
            1 => TimeSpec::Now,
            2 => TimeSpec::Set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30)),
            _ => TimeSpec::Set(std::time::UNIX_EPOCH - std::time::Duration::from_nanos(1)),
        }
    }
    fn offset(&mut self) -> i64 {
        match self.byte() {
            255 => -1,
            254 => i64::MAX,
            b => i64::from(b) * 97,
        }
    }
}

/// Runs one call on the store; returns its outcome.
fn apply(store: &mut Store, op: u8, args: &[u8]) -> Result<String, Option<i32>> {
    let Store { fs, held } = store;
    let fs = &*fs;
    let mut inp = Input(args);
    match op % 36 {
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
        21 => {
            let old = inp.fd();
            if inp.byte() % 2 == 0 {
                outcome(fs.dup(old))
            } else {
                outcome(fs.dup2(old, inp.fd()))
            }
        }
        22 => {
            let path = inp.path();
            let r = if inp.byte() % 2 == 0 {
                fs.node(path)
            } else {
                fs.node_nofollow(path)
            };
            keep(held, inp.byte(), r)
        }
        23 => {
            let (dir, name) = (inp.node(held), inp.name());
            let r = fs.lookup(&dir, name);
            if let Ok(n) = &r {
                checked_getattr(fs, n);
                if name == b"." {
                    assert_eq!(n, &dir, "`.` is the directory");
                }
            }
            keep(held, inp.byte(), r)
        }
        24 => {
            let node = inp.node(held);
            outcome(Ok(attrs(&checked_getattr(fs, &node))))
        }
        25 => {
            let (dir, name, mode) = (inp.node(held), inp.name(), inp.pick(&MODES));
            let (rdev, umask, who) = (inp.pick(&RDEVS), inp.pick(&UMASKS), inp.who());
            let r = fs.mknodat(&dir, name, mode, rdev, umask, &who);
            if let Ok(n) = &r {
                let s = checked_getattr(fs, n);
                assert_eq!((s.nlink, s.uid), (1, who.uid), "mknodat {mode:o}");
                assert_eq!(s.mode & 0o777, mode & 0o777 & !umask, "mknodat {mode:o}");
                let devices = [FileType::CharDevice, FileType::BlockDevice];
                assert_eq!(s.rdev, if devices.contains(&s.kind) { rdev } else { 0 });
            }
            keep(held, inp.byte(), r)
        }
        26 => {
            let (path, mode) = (inp.path(), inp.pick(&MODES));
            if inp.byte() % 2 == 0 {
                outcome(fs.mknod(path, mode, inp.pick(&RDEVS)))
            } else {
                outcome(fs.mkfifo(path, mode))
            }
        }
        27 => {
            let (dir, name, mode) = (inp.node(held), inp.name(), u32::from(inp.byte()) * 31);
            let (umask, who) = (inp.pick(&UMASKS), inp.who());
            keep(held, inp.byte(), fs.mkdirat(&dir, name, mode, umask, &who))
        }
        28 => {
            let (dir, name, who) = (inp.node(held), inp.name(), inp.who());
            let target = TARGETS[usize::from(inp.byte()) % TARGETS.len()];
            keep(held, inp.byte(), fs.symlinkat(target, &dir, name, &who))
        }
        29 => {
            let (node, dir, name) = (inp.node(held), inp.node(held), inp.name());
            let before = node.nlink();
            let r = fs.linkat(&node, &dir, name);
            if r.is_ok() {
                assert_eq!(node.nlink(), before + 1, "linkat counts the name");
                assert_eq!(entry(fs, &dir, name).as_ref(), Some(&node), "linkat");
            }
            outcome(r)
        }
        30 => {
            let (dir, name) = (inp.node(held), inp.name());
            let r = if inp.byte() % 2 == 0 {
                fs.unlinkat(&dir, name)
            } else {
                fs.rmdirat(&dir, name)
            };
            if r.is_ok() {
                assert_eq!(entry(fs, &dir, name), None, "removed");
            }
            outcome(r)
        }
        31 => {
            let (od, on, nd, nn) = (inp.node(held), inp.name(), inp.node(held), inp.name());
            let (bits, who) = (inp.pick(&RENAME), inp.who());
            let flags = match RenameFlags::from_bits(bits) {
                Ok(flags) => flags,
                Err(e) => {
                    assert!(bits > 7, "{bits} is a valid flag set");
                    return outcome(Err::<(), _>(e));
                }
            };
            let before = (entry(fs, &od, on), entry(fs, &nd, nn));
            let r = fs.renameat2(&od, on, &nd, nn, flags, &who);
            if r.is_ok() {
                check_rename(fs, (&od, on), (&nd, nn), bits, before);
            }
            outcome(r)
        }
        32 => {
            let (from, to) = (inp.path(), inp.path());
            let bits = inp.pick(&RENAME);
            let Ok(flags) = RenameFlags::from_bits(bits) else {
                return Err(Some(22)); // EINVAL, as `from_bits` says
            };
            // Each side as (parent node, last name), resolved beforehand as
            // the call resolves it, so what the rename left can be checked
            // by `lookup` whatever symlinks the paths go through.
            let side = |p: &'static str| {
                let (parent, name) = p.rsplit_once('/')?;
                if name.is_empty() || name == "." || name == ".." {
                    return None;
                }
                let parent = fs.node(if parent.is_empty() { "/" } else { parent }).ok()?;
                Some((parent, name.as_bytes()))
            };
            let sides = side(from).zip(side(to));
            let before = sides
                .as_ref()
                .map(|((od, on), (nd, nn))| (entry(fs, od, on), entry(fs, nd, nn)));
            let r = fs.rename_with_flags(from, to, flags);
            if let (Ok(()), Some(((od, on), (nd, nn))), Some(before)) = (&r, &sides, before) {
                check_rename(fs, (od, on), (nd, nn), bits, before);
            }
            outcome(r)
        }
        33 => {
            let node = inp.node(held);
            let has = |b: u8, bit: u8| b & bit != 0;
            let which = inp.byte();
            let attr = SetAttr {
                mode: has(which, 1).then(|| u32::from(inp.byte()) * 0o101),
                uid: has(which, 2).then(|| u32::from(inp.byte() % 3) * 500),
                gid: has(which, 4).then(|| u32::from(inp.byte() % 3) * 500),
                size: has(which, 8).then(|| inp.pick(&SIZES)),
                atime: inp.time(),
                mtime: inp.time(),
                ctime: has(which, 16).then_some(std::time::UNIX_EPOCH),
            };
            let who = inp.who();
            let r = fs.setattr(&node, &attr, &who);
            if let Ok(s) = &r {
                assert_eq!(
                    attrs(s),
                    attrs(&checked_getattr(fs, &node)),
                    "setattr's result"
                );
                assert_eq!(s.mode & S_IFMT, type_bits(node.kind()), "the type stays");
                if let Some(size) = attr.size {
                    assert_eq!(s.size, size, "setattr size");
                }
                assert_eq!(attr.uid.map_or(s.uid, |u| u), s.uid, "setattr uid");
                assert_eq!(attr.gid.map_or(s.gid, |g| g), s.gid, "setattr gid");
                for (spec, got) in [(attr.atime, s.atime), (attr.mtime, s.mtime)] {
                    if let TimeSpec::Set(t) = spec {
                        assert_eq!(got, t, "setattr time");
                    }
                }
                if let Some(t) = attr.ctime {
                    assert_eq!(s.ctime, t, "setattr ctime");
                }
            }
            outcome(r.map(|s| attrs(&s)))
        }
        34 => {
            let node = inp.node(held);
            let flags = FLAGS[usize::from(inp.byte()) % FLAGS.len()];
            outcome(fs.open_node(&node, flags, &inp.who()))
        }
        _ => {
            // Let go of a handle (never `/`): a removed node may die now.
            let i = usize::from(inp.byte()) % held.len();
            if i > 0 {
                held.swap_remove(i);
            }
            outcome(Ok(held.len()))
        }
    }
}

/// What a walk of the tree from `/` found.
#[derive(Debug, Default, PartialEq)]
struct Census {
    files: u64,
    dirs: u64,
    symlinks: u64,
    specials: u64,
}

/// Walks the tree from `dir` by `readdir` and `lookup`, checking each
/// entry against its node, each directory's link count, and (in `names`)
/// how many names each non-directory has.
fn walk(
    fs: &Fs,
    dir: &Node,
    path: &str,
    census: &mut Census,
    names: &mut HashMap<u64, (Node, u32)>,
) {
    census.dirs += 1;
    let entries = fs.readdir(path).expect("a directory of the walk reads");
    let mut subdirs = 0;
    for e in entries {
        if e.name == b"." || e.name == b".." {
            continue;
        }
        let node = fs.lookup(dir, &e.name).expect("every entry looks up");
        assert_eq!(
            (node.ino(), node.kind()),
            (e.ino, e.kind),
            "{path}: {:?}",
            e.name
        );
        let s = checked_getattr(fs, &node);
        let child = format!(
            "{}/{}",
            path.trim_end_matches('/'),
            String::from_utf8_lossy(&e.name)
        );
        match node.kind() {
            FileType::Dir => {
                subdirs += 1;
                assert_eq!(
                    fs.lookup(&node, "..").ok().as_ref(),
                    Some(dir),
                    "{child}/.."
                );
                walk(fs, &node, &child, census, names);
            }
            _ => {
                assert!(s.nlink >= 1, "{child}: a named node has a link");
                names.entry(node.ino()).or_insert((node, 0)).1 += 1;
            }
        }
    }
    assert_eq!(
        fs.getattr(dir).nlink,
        2 + subdirs,
        "{path}: 2 + subdirectories"
    );
}

/// The tree agrees with the statistics: one node per inode counted by
/// type, each non-directory's link count is its number of names.
fn check_tree(fs: &Fs) -> Census {
    let mut census = Census::default();
    let mut names = HashMap::new();
    walk(fs, &fs.root(), "/", &mut census, &mut names);
    for (node, n) in names.values() {
        assert_eq!(node.nlink(), *n, "{node:?}: link count = names");
        match node.kind() {
            FileType::File => census.files += 1,
            FileType::Symlink => census.symlinks += 1,
            FileType::Dir => unreachable!("directories are walked"),
            _ => census.specials += 1,
        }
    }
    let s = fs.stats();
    let counted = Census {
        files: s.files,
        dirs: s.dirs,
        symlinks: s.symlinks,
        specials: s.specials,
    };
    assert_eq!(census, counted, "Stats agree with a walk of the tree");
    census
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks an empty or a populated start.
    let (populated, data) = match data.split_first() {
        Some((first, rest)) => (first % 2 == 1, rest),
        None => (false, data),
    };
    let (mut locked, mut lockless) = (Store::new(false, populated), Store::new(true, populated));
    for chunk in data.chunks(8).take(64) {
        let (op, args) = chunk.split_first().unwrap_or((&0, &[]));
        let a = apply(&mut locked, *op, args);
        let b = apply(&mut lockless, *op, args);
        assert_eq!(a, b, "op {op} {args:?}: locked and lockless disagree");
    }
    for store in [&locked, &lockless] {
        for node in &store.held {
            checked_getattr(&store.fs, node);
        }
    }
    let census = check_tree(&locked.fs);
    assert_eq!(census, check_tree(&lockless.fs), "both trees alike");
    let (locked, lockless) = (locked.fs, lockless.fs);
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
    // Nothing leaks: with every handle and descriptor gone, removing every
    // name (and `/`'s attributes) gives back every byte. Only the locked
    // store: the lockless name map releases a removed inode late, and a
    // removed file's attributes go with the inode.
    for fs in [&locked, &lockless] {
        empty(fs, &fs.root(), "/");
        let mut list = vec![0; 4096];
        let n = fs.listxattr("/", &mut list).expect("listxattr /");
        for name in list[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
            fs.removexattr("/", name).expect("removexattr /");
        }
        let s = fs.stats();
        let left = (s.files, s.dirs, s.symlinks, s.specials);
        assert_eq!(left, (0, 1, 0, 0), "only / is left");
    }
    assert_eq!(locked.memory_used(), 0, "every byte given back");
});

/// Removes everything under `dir` (at `path`) by node calls.
fn empty(fs: &Fs, dir: &Node, path: &str) {
    for e in fs.readdir(path).expect("a directory of the tree reads") {
        if e.name == b"." || e.name == b".." {
            continue;
        }
        if e.kind == FileType::Dir {
            let child = fs.lookup(dir, &e.name).expect("every entry looks up");
            let name = String::from_utf8_lossy(&e.name);
            empty(
                fs,
                &child,
                &format!("{}/{name}", path.trim_end_matches('/')),
            );
            fs.rmdirat(dir, &e.name).expect("an emptied directory goes");
        } else {
            fs.unlinkat(dir, &e.name).expect("a non-directory unlinks");
        }
    }
}
