//! The mount guard and the helpers that run programs on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use erm_fuse::MountConfig;
use ermfs::{CompressionPolicy, Fs};
use fuser::BackgroundSession;

/// The shared corpus (read-only).
pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

/// Where test mounts live: plain directories under the workspace `target/`.
pub fn mount_root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/fuse-tests")).to_path_buf()
}

/// Whether `program` is on `PATH`.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Prints why a test does nothing, and returns `true` if `program` is missing.
pub fn missing(program: &str) -> bool {
    if have(program) {
        return false;
    }
    eprintln!("SKIP: `{program}` is not installed (cargo xtask ci installs it)");
    true
}

/// Whether `dir` is a mount point now.
pub fn is_mounted(dir: &Path) -> bool {
    let Ok(canon) = dir.canonicalize() else {
        return false;
    };
    let want = canon.to_string_lossy().replace(' ', "\\040");
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| m == want)
}

/// Unmounts `dir` whatever state it is in: `fusermount3 -u`, then a lazy
/// `umount -l` (a process may still sit in it).
pub fn force_unmount(dir: &Path) {
    if !is_mounted(dir) {
        return;
    }
    let _ = Command::new("fusermount3").arg("-u").arg(dir).status();
    if is_mounted(dir) {
        let _ = Command::new("fusermount3").arg("-uz").arg(dir).status();
    }
    if is_mounted(dir) {
        let _ = Command::new("umount").arg("-l").arg(dir).status();
    }
}

/// Why FUSE cannot be used here, if it cannot.
pub fn fuse_unavailable() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse does not exist".into());
    }
    // SAFETY: geteuid cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    if !root && !have("fusermount3") {
        return Some("not root and no fusermount3 (apt-get install fuse3)".into());
    }
    None
}

/// A mounted store; dropping it unmounts (even while a test unwinds).
pub struct Mount {
    /// The mount point.
    pub dir: PathBuf,
    /// The store behind it, for checks through the API.
    pub fs: Fs,
    session: Option<BackgroundSession>,
}

/// Whether the tests run as root (mounts with mount(2), FUSE passthrough).
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

impl Mount {
    /// Mounts a fresh store on `target/fuse-tests/<name>`, or prints why
    /// it cannot and returns `None`.
    pub fn new(name: &str) -> Option<Mount> {
        Mount::with(name, MountConfig::default())
    }

    /// As [`Mount::new`], with mount options.
    pub fn with(name: &str, config: MountConfig) -> Option<Mount> {
        if let Some(why) = fuse_unavailable() {
            eprintln!("SKIP: FUSE unavailable: {why}");
            return None;
        }
        let fs = Fs::builder()
            .compression(CompressionPolicy::Background {
                delay: std::time::Duration::from_millis(20),
            })
            .inode_index(true)
            .build()
            .expect("build the store");
        Mount::of(name, fs, config)
    }

    /// Mounts `fs` on `target/fuse-tests/<name>`, or prints why it cannot
    /// and returns `None`.
    pub fn of(name: &str, fs: Fs, config: MountConfig) -> Option<Mount> {
        if let Some(why) = fuse_unavailable() {
            eprintln!("SKIP: FUSE unavailable: {why}");
            return None;
        }
        let dir = mount_root().join(name);
        force_unmount(&dir); // a stale mount of a killed run
        std::fs::create_dir_all(&dir).expect("create the mount point");
        let session = erm_fuse::spawn(fs.clone(), &dir, &config).expect("mount");
        let dir = dir.canonicalize().expect("canonical mount point");
        assert!(is_mounted(&dir), "{} is not mounted", dir.display());
        Some(Mount {
            dir,
            fs,
            session: Some(session),
        })
    }

    /// A path on the mount.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Runs `script` with `sh -e` in the mount; panics with its output if
    /// it fails; returns its standard output.
    pub fn sh(&self, script: &str) -> String {
        let out = self.sh_output(script);
        assert!(
            out.status.success(),
            "`{script}` failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `script` with `sh -e` in the mount, whatever its status.
    pub fn sh_output(&self, script: &str) -> Output {
        // Never run a script on the disk below a mount that went away.
        assert!(
            is_mounted(&self.dir),
            "{} is not mounted",
            self.dir.display()
        );
        Command::new("sh")
            .args(["-ec", script])
            .current_dir(&self.dir)
            .env("CORPUS", CORPUS)
            .env("LC_ALL", "C")
            .output()
            .expect("run sh")
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(session) = self.session.take()
            && let Err(e) = session.umount_and_join()
        {
            eprintln!("unmount of {}: {e} (forcing)", self.dir.display());
        }
        force_unmount(&self.dir);
        assert!(
            std::thread::panicking() || !is_mounted(&self.dir),
            "{} is still mounted",
            self.dir.display()
        );
    }
}
