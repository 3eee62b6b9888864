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
