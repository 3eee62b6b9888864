//! The `ermfs-mount` binary: mounts, refuses a busy mount point with a
//! clear message, and unmounts cleanly on SIGTERM and on `fusermount3 -u`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{force_unmount, fuse_unavailable, is_mounted, missing, mount_root};

const BIN: &str = env!("CARGO_BIN_EXE_ermfs-mount");

/// Unmounts the directory at the end of the test, whatever happened.
struct Guard(std::path::PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        force_unmount(&self.0);
    }
}

fn wait_for(what: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn ermfs_mount_foreground_sigterm_busy_and_fusermount() {
    if let Some(why) = fuse_unavailable() {
        eprintln!("SKIP: FUSE unavailable: {why}");
        return;
    }
    let dir = mount_root().join("binary");
    force_unmount(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let guard = Guard(dir.canonicalize().unwrap());
    let dir = guard.0.clone();
    let mut child = Command::new(BIN)
        .arg(&dir)
        .args(["-f", "--memory-limit", "64M", "--compress-delay", "0"])
        .args(["--threads", "2", "--locked"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(|| is_mounted(&dir)), "ermfs-mount did not mount");
    std::fs::write(dir.join("f"), "hi").unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("f")).unwrap(), "hi");
    // A second mount on the busy directory: a clear message, no mount.
    let second = Command::new(BIN).arg(&dir).arg("-f").output().unwrap();
    assert!(!second.status.success());
    let msg = String::from_utf8_lossy(&second.stderr);
    assert!(msg.contains("already a mount point"), "{msg}");
    // SIGTERM: unmounted, exit 0.
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill sends a signal to our own child; no memory involved.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!is_mounted(&dir));

    // Detached (the default), read-only; `fusermount3 -u` ends it.
    if missing("fusermount3") {
        return;
    }
    let status = Command::new(BIN)
        .arg(&dir)
        .args(["--lockless", "--read-only"])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(is_mounted(&dir));
    let e = std::fs::write(dir.join("g"), "x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS));
    let unmount = Command::new("fusermount3").arg("-u").arg(&dir).status();
    assert!(unmount.unwrap().success());
    assert!(wait_for(|| !is_mounted(&dir)));
    drop(guard);
}

/// Root only: the mounts below use mount(2), uid switches and `-o uid=`.
fn root() -> bool {
    if let Some(why) = fuse_unavailable() {
        eprintln!("SKIP: FUSE unavailable: {why}");
        return false;
    }
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: needs root");
        return false;
    }
    true
}

/// A fresh, empty mount point `target/fuse-tests/<name>`, unmounted on drop.
fn mount_point(name: &str) -> Guard {
    let dir = mount_root().join(name);
    force_unmount(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Guard(dir.canonicalize().unwrap())
}

/// `ermfs-mount ARGS...` (detached): its exit status and standard error.
fn ermfs_mount(args: &[&str]) -> (bool, String) {
    let (ok, _, stderr) = ermfs_mount_cmd(args);
    (ok, stderr)
}

/// `findmnt -n -o COLUMN DIR`.
fn findmnt(dir: &std::path::Path, column: &str) -> String {
    let out = Command::new("findmnt")
        .args(["-n", "-o", column])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `statvfs` of `dir`.
fn statvfs(dir: &std::path::Path) -> libc::statvfs {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: an all-zero statvfs is valid for the call to fill.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated, `st` valid for writes.
    assert_eq!(unsafe { libc::statvfs(path.as_ptr(), &mut st) }, 0);
    st
}

/// Total bytes of the file system at `dir`.
fn fs_size(dir: &std::path::Path) -> u64 {
    let st = statvfs(dir);
    st.f_blocks * st.f_frsize
}

/// The pid of the `ermfs-mount` daemon serving `dir`, from /proc.
fn daemon_of(dir: &std::path::Path) -> Option<i32> {
    let want = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let ours = args.first().is_some_and(|a| a.ends_with("ermfs-mount"));
        (ours && args.contains(&want)).then_some(pid)
    })
}

#[test]
fn source_dir_and_tmpfs_options_show_in_the_mount_table() {
    if !root() || missing("findmnt") {
        return;
    }
    let guard = mount_point("binary-options");
    let dir = guard.0.clone();
    let d = dir.to_str().unwrap();
    let (ok, err) = ermfs_mount(&[
        "ram",
        d,
        "-o",
        "size=64M,mode=1777,uid=4242,gid=4243,noatime,level=9,rw,nofail",
    ]);
    assert!(ok, "{err}");
    assert_eq!(findmnt(&dir, "FSTYPE"), "fuse.ermfs");
    assert_eq!(findmnt(&dir, "SOURCE"), "ram");
    let options = findmnt(&dir, "OPTIONS");
    assert!(options.split(',').any(|o| o == "noatime"), "{options}");
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata(&dir).unwrap();
    assert_eq!(
        (root.mode() & 0o7777, root.uid(), root.gid()),
        (0o1777, 4242, 4243)
    );
    assert_eq!(fs_size(&dir), 64 << 20);
    std::fs::write(dir.join("f"), "x").unwrap();
    assert!(Command::new("umount").arg(&dir).status().unwrap().success());
    assert!(wait_for(|| !is_mounted(&dir)));
    // Every size form; 0 is no limit (statfs then shows the RAM).
    // SAFETY: sysconf has no memory-safety preconditions.
    let ram = unsafe {
        libc::sysconf(libc::_SC_PHYS_PAGES) as u64 * libc::sysconf(libc::_SC_PAGESIZE) as u64
    };
    for (size, want) in [
        ("2GiB", 2u64 << 30),
        ("1.5G", 3 << 29),
        ("512k", 512 << 10),
        ("25%", ram / 4),
    ] {
        let (ok, err) = ermfs_mount(&["ram", d, "-o", &format!("size={size}")]);
        assert!(ok, "{size}: {err}");
        let got = fs_size(&dir);
        // statfs reports whole 4 KiB blocks.
        assert!(got.abs_diff(want) < 4096, "{size}: {got} vs {want}");
        assert!(Command::new("umount").arg(&dir).status().unwrap().success());
        assert!(wait_for(|| !is_mounted(&dir)));
    }
    // Each atime policy: the mount's flag, and reads as the policy says.
    for (word, flag, moves) in [
        ("noatime", Some("noatime"), false),
        ("relatime", Some("relatime"), false),
        ("strictatime", None, true),
    ] {
        let (ok, err) = ermfs_mount(&["ram", d, "-o", word]);
        assert!(ok, "{word}: {err}");
        let options = findmnt(&dir, "OPTIONS");
        let shown: Vec<&str> = options.split(',').collect();
        for other in ["noatime", "relatime"] {
            assert_eq!(
                shown.contains(&other),
                flag == Some(other),
                "{word}: {options}"
            );
        }
        let f = dir.join("f");
        std::fs::write(&f, "x").unwrap();
        let _ = std::fs::read(&f).unwrap(); // relatime: the first read moves it
        let before = std::fs::metadata(&f).unwrap().accessed().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        // A second read, then a stat past the attribute TTL (1 s), which
        // asks the daemon again.
        let _ = std::fs::read(&f).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let after = std::fs::metadata(&f).unwrap().accessed().unwrap();
        assert_eq!(after != before, moves, "{word}: a second read");
        assert!(Command::new("umount").arg(&dir).status().unwrap().success());
        assert!(wait_for(|| !is_mounted(&dir)));
    }
    let (ok, err) = ermfs_mount(&[d, "--memory-limit", "0"]);
    assert!(ok, "{err}");
    assert!(fs_size(&dir) >= ram / 2, "no limit: the RAM shows");
    assert!(Command::new("umount").arg(&dir).status().unwrap().success());
    assert!(wait_for(|| !is_mounted(&dir)));
    // Refusals say what would be accepted, and nothing is mounted.
    for (args, says) in [
        (vec!["ram", d, "-o", "size=lots"], "percentage of RAM"),
        (vec![d, "--memory-limit", "2 bananas"], "binary units"),
        (vec!["ram", d, "-o", "nr_blocks=100"], "not supported"),
        (vec!["ram", d, "-o", "nr_inodes=10%"], "not a percentage"),
        (vec!["ram", d, "-o", "level=13"], "0 (stored) to 12"),
        (vec![d, "--block-size", "1K"], "outside 4k to 16m"),
        (vec!["ram", d, "-o", "frobnicate"], "accepted: size="),
        (vec!["a,b", d], "without commas"),
    ] {
        let (ok, err) = ermfs_mount(&args);
        assert!(!ok && err.contains(says), "{args:?}: {err}");
        assert!(!is_mounted(&dir));
    }
    drop(guard);
}

/// `ermfs-mount ARGS...` run to completion: status, stdout, stderr.
fn ermfs_mount_cmd(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Total and free inodes of the file system at `dir`.
fn fs_inodes(dir: &std::path::Path) -> (u64, u64) {
    let st = statvfs(dir);
    (st.f_files, st.f_ffree)
}

#[test]
fn nr_inodes_a_live_remount_and_stats() {
    if !root() {
        return;
    }
    let guard = mount_point("binary-remount");
    let dir = guard.0.clone();
    let d = dir.to_str().unwrap();
    let (ok, err) = ermfs_mount(&["ram", d, "-o", "size=8M,nr_inodes=5,compress_delay=0"]);
    assert!(ok, "{err}");
    assert_eq!(fs_inodes(&dir), (5, 4), "the root is one");
    std::fs::create_dir(dir.join("d")).unwrap();
    std::fs::write(dir.join("d/a"), "a").unwrap();
    std::os::unix::fs::symlink("a", dir.join("d/s")).unwrap();
    std::fs::write(dir.join("d/c"), "c").unwrap();
    let enospc = |r: std::io::Result<()>| r.unwrap_err().raw_os_error() == Some(libc::ENOSPC);
    assert!(enospc(std::fs::write(dir.join("b"), "b")), "a 5th inode");
    assert!(enospc(std::fs::create_dir(dir.join("e"))));
    std::fs::hard_link(dir.join("d/a"), dir.join("a2")).unwrap();
    let (ok, out, err) = ermfs_mount_cmd(&["stats", d]);
    assert!(ok, "{err}");
    assert!(out.contains("inodes       5 of 5"), "{out}");
    assert!(out.contains("of 8.0 MiB"), "{out}");
    // `d` made, `e` refused: each a MKDIR request.
    assert!(
        out.lines().any(|l| l.split_whitespace().eq(["MKDIR", "2"])),
        "{out}"
    );
    // A live change, with the words mount(8) passes on a remount.
    let (ok, _, err) = ermfs_mount_cmd(&[
        "remount",
        d,
        "-o",
        "rw,size=16M,nr_inodes=10,mode=700,level=1",
    ]);
    assert!(ok, "{err}");
    assert_eq!(fs_size(&dir), 16 << 20);
    assert_eq!(fs_inodes(&dir), (10, 5));
    std::fs::write(dir.join("b"), "b").unwrap();
    // Below the use: refused with a reason, nothing changed.
    // Incompressible bytes: 1 MiB stays charged once compressed.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(dir.join("big"), noise).unwrap();
    let (ok, _, err) = ermfs_mount_cmd(&["remount", d, "-o", "size=64k,nr_inodes=20"]);
    assert!(!ok && err.contains("below what is in use"), "{err}");
    assert_eq!((fs_size(&dir), fs_inodes(&dir).0), (16 << 20, 10));
    // An atime policy: the store's and the kernel's per-mount flag.
    for (word, shown) in [("noatime", "noatime"), ("relatime", "relatime")] {
        let (ok, _, err) = ermfs_mount_cmd(&["remount", d, "-o", word]);
        assert!(ok, "{err}");
        let options = findmnt(&dir, "OPTIONS");
        assert!(options.split(',').any(|o| o == shown), "{word}: {options}");
    }
    // size=0 and nr_inodes=0 lift the limits.
    let (ok, _, err) = ermfs_mount_cmd(&["remount", d, "-o", "size=0,nr_inodes=0"]);
    assert!(ok, "{err}");
    assert!(fs_size(&dir) > 16 << 20);
    assert_eq!(fs_inodes(&dir).0, u64::from(u32::MAX));
    // Not an ERMFS root: said so.
    let (ok, _, err) = ermfs_mount_cmd(&["stats", dir.join("d").to_str().unwrap()]);
    assert!(
        !ok && err.contains("not the root of an ERMFS mount"),
        "{err}"
    );
    let (ok, _, err) = ermfs_mount_cmd(&["remount", "/", "-o", "size=1G"]);
    assert!(
        !ok && err.contains("not the root of an ERMFS mount"),
        "{err}"
    );
    assert!(Command::new("umount").arg(&dir).status().unwrap().success());
    assert!(wait_for(|| !is_mounted(&dir)));
    drop(guard);
}

#[test]
fn mount_point_refusals_say_what_to_do() {
    if !root() {
        return;
    }
    let guard = mount_point("binary-refusals");
    let dir = guard.0.clone();
    let d = dir.to_str().unwrap();
    let missing_dir = dir.join("nope");
    let (ok, err) = ermfs_mount(&[missing_dir.to_str().unwrap()]);
    assert!(
        !ok && err.contains("does not exist") && err.contains("mkdir -p"),
        "{err}"
    );
    std::fs::write(dir.join("file"), "x").unwrap();
    let (ok, err) = ermfs_mount(&[dir.join("file").to_str().unwrap()]);
    assert!(!ok && err.contains("is not a directory"), "{err}");
    let (ok, err) = ermfs_mount(&[d]);
    assert!(
        !ok && err.contains("is not empty") && err.contains("-o nonempty"),
        "{err}"
    );
    let (ok, err) = ermfs_mount(&[d, "-o", "nonempty"]);
    assert!(ok, "{err}");
    assert!(
        !dir.join("file").exists(),
        "the mount hides the directory's files"
    );
    // A dead mount: the daemon killed outright.
    let pid = daemon_of(&dir).expect("the daemon's pid");
    // SAFETY: kill sends a signal to a process; no memory involved.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(wait_for(
        || std::fs::metadata(&dir).is_err_and(|e| e.raw_os_error() == Some(libc::ENOTCONN))
    ));
    let (ok, err) = ermfs_mount(&[d]);
    assert!(
        !ok && err.contains("dead FUSE mount") && err.contains("fusermount3 -u"),
        "{err}"
    );
    force_unmount(&dir);
    assert!(dir.join("file").exists());
    drop(guard);
}

#[test]
fn every_signal_ends_the_daemon_busy_or_not() {
    if !root() {
        return;
    }
    let guard = mount_point("binary-signals");
    let dir = guard.0.clone();
    let d = dir.to_str().unwrap();
    for sig in [libc::SIGTERM, libc::SIGINT] {
        for busy in [false, true] {
            for (how, args) in [
                ("detached", vec![d]),
                ("foreground", vec![d, "-f"]),
                ("auto_unmount", vec![d, "--auto-unmount"]),
            ] {
                let case = format!("{how}, signal {sig}, busy {busy}");
                let mut fg = (how == "foreground").then(|| {
                    Command::new(BIN)
                        .args(&args)
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap()
                });
                if fg.is_none() {
                    let (ok, err) = ermfs_mount(&args);
                    assert!(ok, "{case}: {err}");
                }
                assert!(wait_for(|| is_mounted(&dir)), "{case}: not mounted");
                let pid = daemon_of(&dir).unwrap_or_else(|| panic!("{case}: no daemon"));
                let mut user = busy.then(|| {
                    Command::new("sleep")
                        .arg("30")
                        .current_dir(&dir)
                        .spawn()
                        .unwrap()
                });
                let started = Instant::now();
                // SAFETY: kill sends a signal to a process; no memory involved.
                unsafe { libc::kill(pid, sig) };
                let gone = || {
                    !std::path::Path::new(&format!("/proc/{pid}")).exists()
                        || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                            .is_ok_and(|s| s.contains(") Z "))
                };
                assert!(wait_for(gone), "{case}: the daemon is still running");
                assert!(wait_for(|| !is_mounted(&dir)), "{case}: still mounted");
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "{case}: took {:?}",
                    started.elapsed()
                );
                if let Some(child) = fg.as_mut() {
                    let status = child.wait().unwrap();
                    assert!(status.success(), "{case}: {status}");
                }
                if let Some(mut u) = user.take() {
                    let _ = u.kill();
                    let _ = u.wait();
                }
                force_unmount(&dir);
            }
        }
    }
    drop(guard);
}

/// Runs `ermfs-mount -f ARGS DIR` with `env`, stats a missing name (a
/// negative entry, not an error), writes a file, has an `rmdir` refused
/// (`ENOTEMPTY`), SIGTERMs it; returns its standard error.
fn foreground_log(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let child = Command::new(BIN)
        .arg(dir)
        .arg("-f")
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for(|| is_mounted(dir)), "ermfs-mount did not mount");
    assert!(std::fs::metadata(dir.join("missing")).is_err());
    std::fs::create_dir(dir.join("d")).unwrap();
    std::fs::write(dir.join("d/f"), "x").unwrap();
    assert!(std::fs::remove_dir(dir.join("d")).is_err());
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill sends a signal to our own child; no memory involved.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", out.status);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn logs_follow_the_verbosity_and_the_log_option() {
    if fuse_unavailable().is_some() {
        return;
    }
    let guard = mount_point("binary-logs");
    let dir = guard.0.clone();
    // Default: the startup options and the end, nothing per request.
    let log = foreground_log(&dir, &["-o", "size=16M"], &[]);
    assert!(
        log.contains("mounted") && log.contains("size: Some(16777216)"),
        "{log}"
    );
    assert!(log.contains("SIGTERM: unmounted"), "{log}");
    assert!(!log.contains("refused"), "{log}");
    // -v: each refused request, with its operation and errno.
    let log = foreground_log(&dir, &["-v"], &[]);
    assert!(
        log.contains("op=\"rmdir\"") && log.contains("Directory not empty"),
        "{log}"
    );
    // -q: warnings only.
    let log = foreground_log(&dir, &["-q"], &[]);
    assert!(log.is_empty(), "{log}");
    // RUST_LOG wins; at trace every request shows (fuser's request lines).
    let log = foreground_log(&dir, &["-q"], &[("RUST_LOG", "trace")]);
    assert!(
        log.contains("LOOKUP name \"missing\"") && log.contains("WRITE"),
        "{log}"
    );
    // Detached, -o log=FILE (appended to).
    let file = mount_root().join("binary-logs.log");
    let _ = std::fs::remove_file(&file);
    let target = format!("log={}", file.display());
    let (ok, err) = ermfs_mount(&[dir.to_str().unwrap(), "-v", "-o", &target]);
    assert!(ok, "{err}");
    std::fs::create_dir(dir.join("e")).unwrap();
    std::fs::write(dir.join("e/f"), "x").unwrap();
    assert!(std::fs::remove_dir(dir.join("e")).is_err());
    force_unmount(&dir);
    assert!(wait_for(|| {
        std::fs::read_to_string(&file).is_ok_and(|l| l.contains("was unmounted; exiting"))
    }));
    let log = std::fs::read_to_string(&file).unwrap();
    assert!(
        log.contains("mounted") && log.contains("op=\"rmdir\""),
        "{log}"
    );
    let (ok, err) = ermfs_mount(&[dir.to_str().unwrap(), "-o", "log=relative.log"]);
    assert!(!ok && err.contains("absolute"), "{err}");
    let _ = std::fs::remove_file(&file);
    drop(guard);
}

#[test]
fn passthrough_is_on_as_root_and_says_why_it_is_off() {
    if !root() {
        return;
    }
    let guard = mount_point("binary-passthrough");
    let dir = guard.0.clone();
    let log = foreground_log(&dir, &[], &[]);
    assert!(log.contains("FUSE passthrough on"), "{log}");
    let log = foreground_log(&dir, &["--no-passthrough"], &[]);
    assert!(log.contains("FUSE passthrough off: not asked for"), "{log}");
    let log = foreground_log(&dir, &["--writeback-cache"], &[]);
    assert!(
        log.contains("FUSE passthrough off: the writeback cache is on"),
        "{log}"
    );
    drop(guard);
}

/// Without `CAP_SYS_ADMIN` in the initial user namespace (here: root of a
/// new user namespace, which may mount FUSE but not register backing
/// files) the mount serves every read and write itself, and says so once.
#[test]
fn without_cap_sys_admin_the_daemon_serves_reads_and_writes() {
    if !root() || missing("unshare") {
        return;
    }
    let userns = Command::new("unshare").args(["-Urm", "true"]).status();
    if !userns.is_ok_and(|s| s.success()) {
        eprintln!("SKIP: no user namespaces here");
        return;
    }
    let guard = mount_point("binary-no-cap");
    let d = guard.0.to_str().unwrap().to_owned();
    let script = format!(
        "{BIN} {d} -f & pid=$!
         i=0; until grep -qs ' {d} ' /proc/self/mounts; do
           sleep 0.05; i=$((i+1)); [ $i -lt 200 ] || exit 3; done
         echo hello > {d}/f && cat {d}/f
         {BIN} stats {d} | grep -E '^(WRITE|READ) '
         kill $pid; wait $pid"
    );
    let out = Command::new("unshare")
        .args(["-Urm", "sh", "-c", &script])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("hello"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("WRITE") && !l.ends_with(" 0")),
        "the daemon served the write: {stdout}"
    );
    assert!(
        stderr.contains("FUSE passthrough off: no CAP_SYS_ADMIN")
            && !stderr.contains("passthrough on"),
        "{stderr}"
    );
    drop(guard);
}
