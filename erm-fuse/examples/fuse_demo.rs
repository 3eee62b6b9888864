//! Mounts ERMFS with FUSE under `target/fuse-demo`, copies the shared
//! corpus in with `cp -a`, runs `git init` and a commit there, then shows
//! the memory the store holds at rest against the bytes stored, and
//! unmounts (also on failure, by a guard). Skips, saying why, where FUSE
//! is unavailable.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use erm_fuse::MountConfig;
use ermfs::{CompressionPolicy, Fs};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

/// Unmounts at the end, whatever happened.
struct Guard {
    dir: PathBuf,
    session: Option<fuser::BackgroundSession>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(s) = self.session.take()
            && let Err(e) = s.umount_and_join()
        {
            eprintln!("unmount: {e}; trying fusermount3 -u and umount -l");
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg(&self.dir)
                .status();
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

fn sh(dir: &Path, script: &str) -> std::io::Result<String> {
    let out = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .env("CORPUS", CORPUS)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "`{script}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Bytes stored: the sum of the regular files' sizes, through the API.
fn bytes_stored(fs: &Fs, dir: &str) -> std::io::Result<u64> {
    let mut total = 0;
    for e in fs.readdir(dir)? {
        if e.name == b"." || e.name == b".." {
            continue;
        }
        let path = format!(
            "{}/{}",
            dir.trim_end_matches('/'),
            String::from_utf8_lossy(&e.name)
        );
        total += if e.kind == ermfs::FileType::Dir {
            bytes_stored(fs, &path)?
        } else if e.kind == ermfs::FileType::File {
            fs.stat(&path)?.size
        } else {
            0
        };
    }
    Ok(total)
}

fn main() -> std::io::Result<()> {
    if !Path::new("/dev/fuse").exists() {
        println!("SKIPPED: /dev/fuse is missing, so nothing can be mounted here");
        return Ok(());
    }
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/fuse-demo"));
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize()?;
    let _ = Command::new("fusermount3") // a stale run's mount, if any
        .arg("-uz")
        .arg(&dir)
        .stderr(std::process::Stdio::null())
        .status();
    let fs = Fs::builder()
        .compression(CompressionPolicy::Background {
            delay: Duration::from_millis(100),
        })
        .build()?;
    let session = erm_fuse::spawn(fs.clone(), &dir, &MountConfig::default())?;
    let _guard = Guard {
        dir: dir.clone(),
        session: Some(session),
    };
    println!("mounted ERMFS on {}", dir.display());
    sh(&dir, r#"cp -a "$CORPUS" corpus"#)?;
    println!(
        "cp -a corpus: {}",
        sh(&dir, "du -sh --apparent-size corpus")?.trim()
    );
    if Command::new("git").arg("--version").output().is_ok() {
        let log = sh(
            &dir,
            "git init -q repo && cp -a corpus/. repo/ && cd repo && git add -A && \
             git -c user.name=demo -c user.email=demo@ermfs commit -qm 'corpus on ERMFS' && \
             git fsck --strict 2>&1 && git log --oneline --stat | tail -n 3",
        )?;
        println!("git init + commit + fsck on the mount:\n{}", log.trim_end());
    } else {
        println!("git: SKIPPED (not installed)");
    }
    fs.settle();
    let stored = bytes_stored(&fs, "/")?;
    let held = fs.memory_used() as u64;
    println!(
        "at rest: {} files, {stored} bytes stored, {held} bytes held by the store ({:.1}%)",
        sh(&dir, "find . -type f | wc -l")?.trim(),
        100.0 * held as f64 / stored.max(1) as f64
    );
    let rss = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .map(|l| l.trim_start_matches("VmRSS:").trim().to_string())
        .unwrap_or_default();
    println!("this process's resident memory (code, FUSE buffers, the store): {rss}");
    println!("df: {}", sh(&dir, "df -h . | tail -n 1")?.trim());
    println!("unmounting {}", dir.display());
    Ok(())
}
