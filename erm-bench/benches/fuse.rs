//! ERMFS mounted with FUSE against a tmpfs (both mounted by this bench under
//! `target/fuse-bench/`, as root): sequential 1 MiB-block write and read,
//! and a create/stat/unlink storm of small files. Skipped, saying why,
//! without root or FUSE.

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use erm_bench::{Report, Row, SplitMix64, compare, quick};
use erm_fuse::MountConfig;
use ermfs::{CompressionPolicy, Fs};

const BLOCK: usize = 1 << 20;

/// Unmounts both file systems at the end, whatever happened.
struct Mounts {
    tmpfs: PathBuf,
    ermfs: PathBuf,
    session: Option<fuser::BackgroundSession>,
}

impl Drop for Mounts {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.umount_and_join();
        }
        for dir in [&self.ermfs, &self.tmpfs] {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(dir)
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

fn mount() -> Result<Mounts, String> {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Err("mounting the tmpfs anchor needs root".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Err("/dev/fuse is missing".into());
    }
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/fuse-bench"));
    let tmpfs = base.join("tmpfs");
    let ermfs = base.join("ermfs");
    for dir in [&tmpfs, &ermfs] {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status();
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut mounts = Mounts {
        tmpfs: tmpfs.clone(),
        ermfs: ermfs.clone(),
        session: None,
    };
    let ok = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=1g",
            "erm-bench",
            tmpfs.to_str().unwrap_or(""),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err("mount -t tmpfs failed".into());
    }
    let fs = Fs::builder()
        .compression(CompressionPolicy::Background {
            delay: Duration::from_secs(2),
        })
        .build()
        .map_err(|e| e.to_string())?;
    let config = MountConfig::default();
    mounts.session = Some(erm_fuse::spawn(fs, &ermfs, &config).map_err(|e| e.to_string())?);
    Ok(mounts)
}

fn write_file(path: &Path, data: &[u8], blocks: usize) {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .expect("create the bench file");
    for _ in 0..blocks {
        f.write_all(data).expect("write");
    }
}

fn read_file(path: &Path, buf: &mut [u8]) -> usize {
    let mut f = File::open(path).expect("open the bench file");
    let mut total = 0;
    loop {
        let n = f.read(buf).expect("read");
        if n == 0 {
            return total;
        }
        total += n;
    }
}

fn storm(dir: &Path, files: usize) {
    for i in 0..files {
        let p = dir.join(format!("s{i}"));
        std::fs::write(&p, b"small").expect("create");
        black_box(std::fs::metadata(&p).expect("stat"));
        std::fs::remove_file(&p).expect("unlink");
    }
}

fn main() -> std::io::Result<()> {
    let mut report = Report::new("fuse");
    let mounts = match mount() {
        Ok(m) => m,
        Err(why) => {
            println!("fuse bench: SKIPPED: {why}");
            return report.write();
        }
    };
    let samples = if quick() { 3 } else { 7 };
    let mib = if quick() { 32 } else { 256 };
    let files = if quick() { 1_000 } else { 10_000 };
    let mut rng = SplitMix64::new(11);
    // Text-like data: compressible, as files usually are.
    let data: Vec<u8> = (0..BLOCK)
        .map(|_| b"abcdefgh ij\n"[rng.below(12) as usize])
        .collect();
    let (t, e) = (mounts.tmpfs.join("seq"), mounts.ermfs.join("seq"));
    let (anchor, ours) = compare(
        samples,
        || write_file(&t, &data, mib),
        || write_file(&e, &data, mib),
    );
    report.push(Row::lower_is_better(
        &format!("fuse/seq_write_1MiB_blocks_{mib}MiB"),
        "s",
        ours.as_secs_f64(),
        "tmpfs",
        anchor.as_secs_f64(),
        Some(0.5),
    ));
    let mut buf = vec![0; BLOCK];
    let mut buf2 = vec![0; BLOCK];
    let (anchor, ours) = compare(
        samples,
        || {
            black_box(read_file(&t, &mut buf));
        },
        || {
            black_box(read_file(&e, &mut buf2));
        },
    );
    report.push(Row::lower_is_better(
        &format!("fuse/seq_read_1MiB_blocks_{mib}MiB"),
        "s",
        ours.as_secs_f64(),
        "tmpfs",
        anchor.as_secs_f64(),
        Some(0.5),
    ));
    let _ = std::fs::remove_file(&t);
    let _ = std::fs::remove_file(&e);
    let (anchor, ours) = compare(
        samples,
        || storm(&mounts.tmpfs, files),
        || storm(&mounts.ermfs, files),
    );
    report.push(Row::lower_is_better(
        &format!("fuse/create_stat_unlink_{files}_files"),
        "s",
        ours.as_secs_f64(),
        "tmpfs",
        anchor.as_secs_f64(),
        Some(0.5),
    ));
    drop(mounts);
    report.write()
}
