//! Several processes writing, renaming and deleting in the same
//! directories while another lists them; then invariants through the API.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::common::{Mount, is_mounted};

fn spawn(m: &Mount, script: &str) -> Child {
    assert!(is_mounted(&m.dir));
    Command::new("sh")
        .args(["-c", script])
        .current_dir(&m.dir)
        .spawn()
        .unwrap()
}

/// Waits for `child` until `deadline`, killing it past that (bounded by
/// time as well as by iterations). Returns whether it did not fail.
fn finish(mut child: Child, deadline: Instant) -> bool {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Walks `dir` through the API: every name resolves to the inode its entry
/// names, files have one link, directories 2 + subdirectories. Returns the
/// number of files.
fn check_tree(fs: &ermfs::Fs, dir: &str) -> usize {
    let mut files = 0;
    let mut subdirs = 0;
    for e in fs.readdir(dir).unwrap() {
        if e.name == b"." || e.name == b".." {
            continue;
        }
        let name = String::from_utf8_lossy(&e.name);
        let path = format!("{}/{name}", dir.trim_end_matches('/'));
        let st = fs
            .stat(&path)
            .unwrap_or_else(|e| panic!("{path} does not resolve: {e}"));
        assert_eq!(st.ino, e.ino, "{path}");
        if st.kind == ermfs::FileType::Dir {
            subdirs += 1;
            files += check_tree(fs, &path);
        } else {
            assert_eq!(st.nlink, 1, "{path}");
            files += 1;
        }
    }
    assert_eq!(fs.stat(dir).unwrap().nlink as usize, 2 + subdirs, "{dir}");
    files
}

#[test]
fn writers_renamers_and_deleters_while_one_lists() {
    let Some(m) = Mount::new("concurrent") else {
        return;
    };
    m.sh("mkdir -p d1 d2 d3/sub");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut kids = Vec::new();
    for k in 0..4 {
        kids.push(spawn(
            &m,
            &format!(
                "for i in $(seq 150); do
                   d=d$(( (i + {k}) % 3 + 1 ))
                   echo {k}-$i > $d/w{k}-$i
                   mv -f $d/w{k}-$i d$(( i % 3 + 1 ))/r{k}-$(( i % 7 )) 2>/dev/null || true
                   rm -f d$(( (i + 1) % 3 + 1 ))/r{k}-$(( (i + 3) % 7 )) 2>/dev/null || true
                   mkdir -p d3/sub/x{k}-$(( i % 5 ))
                   rmdir d3/sub/x{k}-$(( (i + 2) % 5 )) 2>/dev/null || true
                 done"
            ),
        ));
    }
    let lister = spawn(
        &m,
        "for i in $(seq 100); do ls -laR . > /dev/null 2>&1 || true; find . > /dev/null 2>&1 || true; done",
    );
    for kid in kids {
        assert!(finish(kid, deadline), "a writer failed");
    }
    finish(lister, deadline);
    m.fs.settle();
    let files = check_tree(&m.fs, "/");
    assert_eq!(m.sh("find . -type f | wc -l").trim(), files.to_string());
    // Every surviving file holds what one writer wrote.
    for line in m.sh("find . -type f").lines() {
        let body = std::fs::read_to_string(m.path(line)).unwrap();
        assert!(body.trim().contains('-'), "{line}: {body:?}");
    }
}

#[test]
fn rename_exchange_of_busy_names_under_concurrent_stat() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(m) = Mount::new("exchange") else {
        return;
    };
    std::fs::write(m.path("a"), "A").unwrap();
    std::fs::create_dir(m.path("b")).unwrap();
    std::fs::write(m.path("b/inside"), "in b").unwrap();
    let (a, b) = (m.path("a"), m.path("b"));
    let swaps = 2_000;
    let done = AtomicBool::new(false);
    let (stats, seen_dirs) = std::thread::scope(|s| {
        let watchers: Vec<_> = [&a, &b]
            .into_iter()
            .map(|p| {
                let done = &done;
                s.spawn(move || {
                    // Each name always exists: no moment has it missing or
                    // a third name in its place.
                    let (mut n, mut dirs) = (0u64, 0u64);
                    while !done.load(Ordering::Relaxed) {
                        let st = std::fs::symlink_metadata(p).unwrap_or_else(|e| {
                            panic!("stat {} during exchanges: {e}", p.display())
                        });
                        n += 1;
                        dirs += u64::from(st.is_dir());
                    }
                    (n, dirs)
                })
            })
            .collect();
        for _ in 0..swaps {
            super::posix::renameat2(&a, &b, libc::RENAME_EXCHANGE).unwrap();
        }
        done.store(true, Ordering::Relaxed);
        let counts: Vec<(u64, u64)> = watchers.into_iter().map(|w| w.join().unwrap()).collect();
        (
            counts.iter().map(|c| c.0).sum::<u64>(),
            counts.iter().map(|c| c.1).sum::<u64>(),
        )
    });
    assert!(
        stats > 0 && seen_dirs > 0,
        "{stats} stats, {seen_dirs} saw a directory"
    );
    // An even number of swaps: back where it started, nothing else named.
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "A");
    assert_eq!(std::fs::read_to_string(b.join("inside")).unwrap(), "in b");
    let mut names: Vec<_> =
        m.fs.readdir("/")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
    names.sort();
    assert_eq!(names, [&b"."[..], b"..", b"a", b"b"]);
    assert_eq!(check_tree(&m.fs, "/"), 2);
}
