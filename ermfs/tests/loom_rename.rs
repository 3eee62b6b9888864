//! loom models of the atomic renames of the node API, run through the
//! public API so the real code is checked: `RENAME_EXCHANGE` of a file and
//! a directory racing two readers that look up both names (by node and by
//! path: every lookup finds one of the two inodes, never nothing and never
//! a third, and afterwards the names are swapped exactly), the same with
//! two files and one lookup each, and two `RENAME_NOREPLACE` calls onto one
//! free name racing a lookup of it (exactly one wins, the other gets
//! `EEXIST`, the lookup finds nothing or one of the two, no name or inode
//! is lost). Each model runs on the locked and the lockless backends.
//!
//! What is not claimed: the exchange replaces the two registry entries one
//! after the other, so a reader that looks up the target and then the
//! source can find the source's inode under both names (the target already
//! swapped, the source not yet); each single lookup is what is atomic.
//!
//! Run by `cargo xtask ci` with `RUSTFLAGS="--cfg loom"` and
//! `LOOM_MAX_PREEMPTIONS=2`.
#![cfg(loom)]
#![allow(clippy::unwrap_used)]

use loom::sync::Arc;
use loom::thread;

use ermfs::{FileType, Fs, Identity, Node, RenameFlags};

/// A small file system: few descriptors, so the fd table stays small.
fn small_fs(lockless: bool) -> Fs {
    Fs::builder()
        .lockless(lockless)
        .fd_capacity(4)
        .threads(1)
        .build()
        .unwrap()
}

/// Runs `model` under `loom::model` on each backend and checks that more
/// than one interleaving was explored.
fn each_mode(model: fn(bool)) {
    for lockless in [false, true] {
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&runs);
        let start = std::time::Instant::now();
        // The setup and checks inside each run (writes, reads, stats) pass
        // loom's default 1,000 branches per execution: raised, the
        // preemption bound (LOOM_MAX_PREEMPTIONS) is what keeps runs few.
        let mut builder = loom::model::Builder::new();
        builder.max_branches = 20_000;
        builder.check(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            model(lockless)
        });
        // A model that explores one interleaving checks nothing.
        let runs = runs.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!(
            "lockless={lockless}: {runs} interleavings in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        assert!(runs > 1, "loom explored a single interleaving");
    }
}

/// The names of `/`, without `.` and `..`.
fn root_names(fs: &Fs) -> Vec<String> {
    let mut names: Vec<String> = fs
        .readdir("/")
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.name).unwrap())
        .filter(|n| n != "." && n != "..")
        .collect();
    names.sort();
    names
}

/// A lookup of `name` in `root` during a race: it never vanishes and is
/// one of `ids`.
fn lookup_one_of(fs: &Fs, root: &Node, name: &str, ids: [u64; 2]) {
    let n = fs
        .lookup(root, name)
        .unwrap_or_else(|e| panic!("{name} never vanishes: {e}"));
    assert!(ids.contains(&n.ino()), "{name}: {n:?}");
}

/// A `stat` of `path` during a race: it never vanishes and is one of
/// `ids`.
fn stat_one_of(fs: &Fs, path: &str, ids: [u64; 2]) {
    let st = fs
        .stat(path)
        .unwrap_or_else(|e| panic!("{path} never vanishes: {e}"));
    assert!(ids.contains(&st.ino), "{path}: ino {}", st.ino);
}

/// After a race, `/` holds exactly `names`, each `(name, node, data)`
/// the node given (by node and by path; a file with one link and the
/// data given), and `(files, dirs)` in all.
fn assert_root_holds(
    fs: &Fs,
    root: &Node,
    names: &[(&str, &Node, Option<&[u8]>)],
    (files, dirs): (u64, u64),
) {
    for &(name, node, data) in names {
        assert_eq!(&fs.lookup(root, name).unwrap(), node, "{name} by node");
        let path = format!("/{name}");
        assert_eq!(fs.stat(&path).unwrap().ino, node.ino(), "{name} by path");
        if let Some(data) = data {
            assert_eq!(fs.read_file(&path).unwrap(), data, "{name}'s data");
            assert_eq!(node.nlink(), 1, "{name}'s links");
        }
    }
    let mut expected: Vec<&str> = names.iter().map(|&(name, ..)| name).collect();
    expected.sort();
    assert_eq!(root_names(fs), expected);
    let s = fs.stats();
    assert_eq!((s.files, s.dirs), (files, dirs), "files and directories");
}

#[test]
fn exchange_racing_lookups_always_finds_one_of_the_two() {
    each_mode(|lockless| {
        let fs = Arc::new(small_fs(lockless));
        fs.write_file("/a", b"A").unwrap();
        fs.mkdir("/b", 0o755).unwrap();
        let root = fs.root();
        let (file, dir) = (fs.node("/a").unwrap(), fs.node("/b").unwrap());
        let ids = [file.ino(), dir.ino()];
        let swapper = {
            let (fs, root) = (Arc::clone(&fs), root.clone());
            thread::spawn(move || {
                fs.renameat2(
                    &root,
                    "a",
                    &root,
                    "b",
                    RenameFlags::EXCHANGE,
                    &Identity::root(),
                )
                .unwrap()
            })
        };
        // One reader looks up `a` by node and `b` by path, the other the
        // other way round: each must find one of the two inodes, whatever
        // point of the exchange it lands on.
        let reader = {
            let (fs, root) = (Arc::clone(&fs), root.clone());
            thread::spawn(move || {
                lookup_one_of(&fs, &root, "a", ids);
                stat_one_of(&fs, "/b", ids);
            })
        };
        lookup_one_of(&fs, &root, "b", ids);
        stat_one_of(&fs, "/a", ids);
        reader.join().unwrap();
        swapper.join().unwrap();
        // Swapped exactly: the directory is `a`, the file `b`, nothing else.
        let names = [("a", &dir, None), ("b", &file, Some(&b"A"[..]))];
        assert_root_holds(&fs, &root, &names, (1, 2));
        assert_eq!(fs.stat("/a").unwrap().kind, FileType::Dir);
        assert_eq!(fs.lookup(&dir, "..").unwrap(), root);
        assert_eq!(fs.getattr(&root).nlink, 3);
    });
}

#[test]
fn exchange_of_two_files_racing_two_lookups() {
    each_mode(|lockless| {
        let fs = Arc::new(small_fs(lockless));
        fs.write_file("/a", b"A").unwrap();
        fs.write_file("/b", b"B").unwrap();
        let root = fs.root();
        let (a, b) = (fs.node("/a").unwrap(), fs.node("/b").unwrap());
        let ids = [a.ino(), b.ino()];
        let readers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let (fs, root) = (Arc::clone(&fs), root.clone());
                thread::spawn(move || lookup_one_of(&fs, &root, name, ids))
            })
            .collect();
        fs.renameat2(
            &root,
            "a",
            &root,
            "b",
            RenameFlags::EXCHANGE,
            &Identity::root(),
        )
        .unwrap();
        for r in readers {
            r.join().unwrap();
        }
        let names = [("a", &b, Some(&b"B"[..])), ("b", &a, Some(&b"A"[..]))];
        assert_root_holds(&fs, &root, &names, (2, 1));
    });
}

#[test]
fn two_noreplace_renames_onto_one_free_name_one_wins() {
    each_mode(|lockless| {
        let fs = Arc::new(small_fs(lockless));
        fs.write_file("/x", b"X").unwrap();
        fs.write_file("/y", b"Y").unwrap();
        let root = fs.root();
        let (x, y) = (fs.node("/x").unwrap(), fs.node("/y").unwrap());
        let rename = |fs: &Fs, root: &ermfs::Node, from: &str| {
            fs.renameat2(
                root,
                from,
                root,
                "t",
                RenameFlags::NOREPLACE,
                &Identity::root(),
            )
            .map_err(|e| e.raw_os_error())
        };
        let other = {
            let (fs, root) = (Arc::clone(&fs), root.clone());
            thread::spawn(move || rename(&fs, &root, "y"))
        };
        // A lookup of the target meanwhile finds nothing or one of the two.
        let watcher = {
            let (fs, root) = (Arc::clone(&fs), root.clone());
            let ids = [x.ino(), y.ino()];
            thread::spawn(move || match fs.lookup(&root, "t") {
                Ok(n) => assert!(ids.contains(&n.ino()), "t: {n:?}"),
                Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT)),
            })
        };
        let mine = rename(&fs, &root, "x");
        watcher.join().unwrap();
        let theirs = other.join().unwrap();
        let ((winner, won), (loser, lost), kept) = match (mine, theirs) {
            (Ok(()), Err(Some(libc::EEXIST))) => ((&x, b"X"), (&y, b"Y"), "y"),
            (Err(Some(libc::EEXIST)), Ok(())) => ((&y, b"Y"), (&x, b"X"), "x"),
            other => panic!("exactly one must win, the other EEXIST: {other:?}"),
        };
        // The winner is `t`, the loser keeps its name, nothing else exists.
        let names = [
            ("t", winner, Some(&won[..])),
            (kept, loser, Some(&lost[..])),
        ];
        assert_root_holds(&fs, &root, &names, (2, 1));
    });
}
