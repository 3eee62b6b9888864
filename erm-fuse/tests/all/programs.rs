//! Real programs on the mount, each checked by its own output.

use super::common::{CORPUS, Mount, missing, mount_root};
use ermfs::{CompressionPolicy, Fs};

#[test]
fn cp_a_diff_r_and_sha256sum_of_the_corpus() {
    let Some(m) = Mount::new("corpus") else {
        return;
    };
    m.sh(r#"cp -a "$CORPUS" c && diff -r "$CORPUS" c"#);
    let sums = m.sh("cd c && sha256sum -c SHA256SUMS");
    assert!(!sums.contains("FAILED"), "{sums}");
    let listing = m.sh("ls -la c");
    assert!(listing.contains("alice29.txt"), "{listing}");
    // Through the API: the same bytes, compressed once settled.
    m.fs.settle();
    let ours = m.fs.read_file("/c/alice29.txt").unwrap();
    assert_eq!(
        ours,
        std::fs::read(format!("{CORPUS}/alice29.txt")).unwrap()
    );
}

#[test]
fn tar_create_extract_and_gzip_gunzip() {
    if missing("tar") || missing("gzip") {
        return;
    }
    let Some(m) = Mount::new("tar") else {
        return;
    };
    m.sh(concat!(
        r#"tar -cf a.tar -C "$CORPUS" . && mkdir x && tar -xf a.tar -C x && diff -r "$CORPUS" x"#,
        "\n",
        "gzip -k a.tar && test -s a.tar.gz && gunzip -c a.tar.gz | cmp - a.tar\n",
        "mv a.tar b.tar && gunzip a.tar.gz && cmp a.tar b.tar\n",
        "tar -czf c.tgz x && mkdir y && tar -xzf c.tgz -C y && diff -r x y/x\n",
    ));
    let on_mount = m.sh("sha256sum < b.tar");
    let direct = m.sh("sha256sum < a.tar");
    assert_eq!(on_mount, direct);
}

#[test]
fn find_du_ls_on_a_deep_tree() {
    let Some(m) = Mount::new("deep") else {
        return;
    };
    m.sh(concat!(
        "p=t; for i in $(seq 40); do p=$p/d$i; done; mkdir -p $p\n",
        "q=t; for i in $(seq 40); do q=$q/d$i; echo $i > $q/f; ",
        "head -c 5000 /dev/zero > $q/z; done\n",
    ));
    assert_eq!(m.sh("find t -type d | wc -l").trim(), "41");
    assert_eq!(m.sh("find t -type f | wc -l").trim(), "80");
    assert_eq!(m.sh("find t -name f | wc -l").trim(), "40");
    let du: u64 = m.sh("du -sk t | cut -f1").trim().parse().unwrap();
    assert!(du > 0, "du {du}");
    assert_eq!(m.sh("ls -laR t | grep -c '^-'").trim(), "80");
    m.sh("rm -r t && test ! -e t");
}

/// A Python script run on the mount with its own `os` calls.
const PY_OS: &str = r#"
import os, errno
os.makedirs("a/b/c")
fd = os.open("a/b/c/f", os.O_CREAT | os.O_RDWR, 0o640)
assert os.write(fd, b"hello world") == 11
assert os.pread(fd, 5, 6) == b"world"
os.ftruncate(fd, 5)
os.close(fd)
assert open("a/b/c/f", "rb").read() == b"hello"
st = os.stat("a/b/c/f")
assert st.st_size == 5 and (st.st_mode & 0o777) == 0o640, st
os.chmod("a/b/c/f", 0o600)
assert os.stat("a/b/c/f").st_mode & 0o777 == 0o600
os.utime("a/b/c/f", ns=(1_000_000_123, 2_000_000_456))
st = os.stat("a/b/c/f")
assert st.st_mtime_ns == 2_000_000_456 and st.st_atime_ns == 1_000_000_123, st
os.rename("a/b/c/f", "a/g")
open("a/h", "w").write("other")
os.replace("a/g", "a/h")
assert open("a/h").read() == "hello" and not os.path.exists("a/g")
os.rename("a/b", "a/b2")
assert os.listdir("a/b2") == ["c"]
try:
    os.rmdir("a")
    raise SystemExit("rmdir of a full directory worked")
except OSError as e:
    assert e.errno == errno.ENOTEMPTY
os.setxattr("a/h", "user.k", b"v")
assert os.getxattr("a/h", "user.k") == b"v" and os.listxattr("a/h") == ["user.k"]
os.removexattr("a/h", "user.k")
f = open("a/h", "r+b")
os.unlink("a/h")
f.write(b"HE"); f.flush(); f.seek(0)
assert f.read() == b"HEllo" and os.fstat(f.fileno()).st_nlink == 0
f.close()
with open("big", "wb") as f:
    f.write(os.urandom(1 << 16) * 64)
assert os.path.getsize("big") == 1 << 22
assert sorted(os.listdir(".")) == ["a", "big", "script.py"]
open("l1", "w").write("linked")
os.link("l1", "l2")
assert os.stat("l1").st_nlink == 2 and os.stat("l1").st_ino == os.stat("l2").st_ino
os.unlink("l1")
assert open("l2").read() == "linked" and os.stat("l2").st_nlink == 1
os.symlink("l2", "s")
assert os.readlink("s") == "l2" and open("s").read() == "linked"
assert os.path.islink("s") and os.lstat("s").st_size == 2
os.symlink("a/b2", "sd")
assert os.listdir("sd/c") == [] and os.path.isdir("sd")
os.replace("s", "s2")
assert os.readlink("s2") == "l2"
try:
    os.link("a", "a_hard")
    raise SystemExit("link to a directory worked")
except OSError as e:
    assert e.errno == errno.EPERM
sv = os.statvfs(".")
assert sv.f_namemax == 255 and sv.f_blocks > 0
print("ok")
"#;

#[test]
fn python_os_calls() {
    if missing("python3") {
        return;
    }
    let Some(m) = Mount::new("python") else {
        return;
    };
    std::fs::write(m.path("script.py"), PY_OS).unwrap();
    let out = m.sh("python3 script.py");
    assert_eq!(out.trim(), "ok");
}

/// Python's sqlite3: 10,000 rows in ten transactions, then integrity_check.
const PY_SQLITE: &str = r#"
import sqlite3
db = sqlite3.connect("t.db")
db.execute("create table t (id integer primary key, v text)")
for batch in range(10):
    with db:
        db.executemany("insert into t (v) values (?)",
                       [("row %d" % (batch * 1000 + i),) for i in range(1000)])
assert db.execute("select count(*) from t").fetchone()[0] == 10000
print(db.execute("pragma integrity_check").fetchone()[0])
db.close()
"#;

#[test]
fn sqlite_ten_thousand_rows_and_integrity_check() {
    if missing("python3") {
        return;
    }
    let Some(m) = Mount::new("sqlite") else {
        return;
    };
    std::fs::write(m.path("script.py"), PY_SQLITE).unwrap();
    assert_eq!(m.sh("python3 script.py").trim(), "ok");
    if !missing("sqlite3") {
        let out = m.sh("sqlite3 t.db 'select count(*) from t; pragma integrity_check;'");
        assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["10000", "ok"]);
    }
}

#[test]
fn a_c_program_built_and_run_from_the_mount() {
    if missing("cc") {
        return;
    }
    let Some(m) = Mount::new("cc") else {
        return;
    };
    std::fs::write(
        m.path("hello.c"),
        "#include <stdio.h>\nint main(void) { puts(\"hello from ermfs\"); return 0; }\n",
    )
    .unwrap();
    let out = m.sh("cc -O1 -o hello hello.c && ./hello");
    assert_eq!(out.trim(), "hello from ermfs");
}

#[test]
fn git_init_commit_fsck() {
    if missing("git") {
        return;
    }
    let Some(m) = Mount::new("git") else {
        return;
    };
    let out_dir = mount_root().join("git-clone-out");
    let out = m.sh(&format!(
        "OUT='{}'\n{}",
        out_dir.display(),
        concat!(
            "export GIT_CONFIG_NOSYSTEM=1 HOME=\"$PWD\"\n",
            "git init -q r && cd r && cp -a \"$CORPUS\"/. .\n",
            "git add -A && git -c user.name=t -c user.email=t@e commit -qm one\n",
            "echo more >> alice29.txt && git -c user.name=t -c user.email=t@e commit -qam two\n",
            "git fsck --full --strict 2>&1\n",
            // Clones: inside the mount (hard links), out of it, back into it.
            "cd .. && git clone -q r r2 && git -C r2 fsck --strict 2>&1\n",
            "rm -rf \"$OUT\" && git clone -q r \"$OUT\" && git clone -q \"$OUT\" r3\n",
            "git -C r3 fsck --strict 2>&1 && rm -rf \"$OUT\" && git -C r3 log --oneline | wc -l\n",
        )
    ));
    assert_eq!(out.lines().last().map(str::trim), Some("2"), "{out}");
}

/// The writeback cache (opt-in): real programs still see their bytes, and
/// the store has them once the program has closed its files. Write-only
/// partial-page writes (the kernel reads the rest of the page), appends
/// from two descriptors, sqlite and a corpus copy.
#[test]
fn programs_on_a_writeback_cache_mount() {
    if missing("python3") || missing("dd") {
        return;
    }
    let config = erm_fuse::MountConfig {
        writeback_cache: true,
        ..erm_fuse::MountConfig::default()
    };
    let Some(m) = Mount::with("writeback", config) else {
        return;
    };
    m.sh(r#"cp -a "$CORPUS" c && diff -r "$CORPUS" c"#);
    m.sh(concat!(
        "head -c 10000 /dev/zero | tr '\\0' a > f\n",
        "printf XYZ | dd of=f bs=1 seek=5000 conv=notrunc status=none\n",
        "exec 3>>g 4>>g; printf one >&3; printf two >&4; exec 3>&- 4>&-\n",
    ));
    let f = m.fs.read_file("/f").unwrap();
    assert_eq!(
        (f.len(), &f[5000..5003], f[4999], f[5003]),
        (10_000, &b"XYZ"[..], b'a', b'a')
    );
    assert_eq!(m.fs.read_file("/g").unwrap(), b"onetwo");
    std::fs::write(m.path("script.py"), PY_SQLITE).unwrap();
    assert_eq!(m.sh("python3 script.py").trim(), "ok");
    let st = std::fs::metadata(m.path("f")).unwrap();
    assert_eq!(st.len(), m.fs.stat("/f").unwrap().size);
}

/// A store filled to its memory limit still reads every file (as tmpfs):
/// `sha256sum` and `cat` of compressed files work on the full mount, and a
/// large write at the limit is short (the kernel's 1 MiB requests that
/// fitted), then `ENOSPC`. Without passthrough, where every write reaches
/// the store (`a_full_mount_serves_new_opens_itself` is the passthrough case).
#[test]
fn a_full_mount_reads_its_files() {
    let fs = Fs::builder()
        .memory_limit(Some(24 << 20))
        .compression(CompressionPolicy::Immediate)
        .build()
        .unwrap();
    let config = erm_fuse::MountConfig {
        passthrough: false,
        ..erm_fuse::MountConfig::default()
    };
    let Some(m) = Mount::of("full", fs, config) else {
        return;
    };
    // Written through the API, so the kernel's page cache holds none of it
    // and the reads below reach the store.
    m.fs.mkdir("/c", 0o755).unwrap();
    for entry in std::fs::read_dir(CORPUS).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        m.fs.write_file(format!("/c/{name}"), std::fs::read(&path).unwrap())
            .unwrap();
    }
    let out =
        m.sh_output("i=0; while head -c 1000000 /dev/urandom > r$i; do i=$((i+1)); done; echo $i");
    assert!(String::from_utf8_lossy(&out.stderr).contains("No space left"));
    // Then to the page, so that no corpus file (the smallest is 100 KB)
    // fits in what is left and every read below needs an eviction or an
    // uncached read.
    // A compression still running (the kernel sends RELEASE after close
    // returns) holds the raw and the compressed bytes at once, so a fill
    // can stop early: fill again until the room left stays small.
    let mut avail = u64::MAX;
    for _ in 0..50 {
        m.sh("dd if=/dev/urandom of=last bs=4096 oflag=append conv=notrunc status=none 2>/dev/null || true");
        let df = m.sh("df -B1 --output=avail . | tail -1");
        avail = df.trim().parse().unwrap();
        if avail < 64 << 10 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(avail < 64 << 10, "{avail} bytes left");
    let sums = m.sh("cd c && sha256sum -c SHA256SUMS");
    assert!(!sums.contains("FAILED"), "{sums}");
    m.sh(r#"for f in c/*; do cat "$f" | cmp - "$CORPUS/${f#c/}"; done"#);
    assert!(m.fs.stats().uncached_reads > 0 || m.fs.stats().cache_evictions > 0);
    // A write of more than the room: short, then ENOSPC.
    m.sh("rm r0 r1 r2");
    let script = concat!(
        "import os\n",
        "fd = os.open('big', os.O_CREAT | os.O_WRONLY, 0o644)\n",
        "n = os.write(fd, b'x' * (8 << 20))\n",
        "assert 0 < n < 8 << 20 and n % (1 << 20) == 0, n\n",
        "try:\n",
        "    os.write(fd, b'x' * (1 << 20))\n",
        "    raise SystemExit('no ENOSPC')\n",
        "except OSError as e:\n",
        "    assert e.errno == 28, e\n",
        "os.close(fd)\n",
        "assert os.stat('big').st_size == n\n",
    );
    if !missing("python3") {
        m.sh(&format!("python3 -c \"{script}\""));
    }
}

/// With passthrough the kernel writes open files itself, past anything the
/// store could refuse: a store near its limit serves new opens itself, so
/// their writes get `ENOSPC` as on tmpfs, and what a file written through
/// passthrough took is charged by its close at the latest.
#[test]
fn a_full_mount_serves_new_opens_itself() {
    let fs = Fs::builder()
        .memory_limit(Some(16 << 20))
        .compression(CompressionPolicy::Immediate)
        .build()
        .unwrap();
    let Some(m) = Mount::of("full-passthrough", fs, erm_fuse::MountConfig::default()) else {
        return;
    };
    let out =
        m.sh_output("i=0; while head -c 1000000 /dev/urandom > r$i; do i=$((i+1)); done; echo $i");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No space left"),
        "{out:?}"
    );
    let used = m.fs.memory_used();
    assert!(used <= (16 << 20) + (2 << 20), "{used} bytes used");
    // Every file reads back whole (those that fitted), through passthrough.
    m.sh("for f in r*; do test $(wc -c < $f) -le 1000000; done");
    m.sh("cat r* > /dev/null");
}
