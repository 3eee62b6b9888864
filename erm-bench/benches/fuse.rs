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

fn mount() -> Result<(Mounts, Fs), String> {
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
    let session = erm_fuse::spawn(fs.clone(), &ermfs, &config).map_err(|e| e.to_string())?;
    mounts.session = Some(session);
    Ok((mounts, fs))
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

/// `ops` 4 KiB reads and writes at random aligned offsets of `file`.
fn random_io(file: &Path, len: u64, ops: usize, seed: u64) {
    use std::os::unix::fs::FileExt;
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .expect("open for random I/O");
    let mut rng = SplitMix64::new(seed);
    let mut page = [7u8; 4096];
    for i in 0..ops {
        let off = rng.below(len / 4096) * 4096;
        if i % 2 == 0 {
            f.read_exact_at(&mut page, off).expect("pread");
        } else {
            f.write_all_at(&page, off).expect("pwrite");
        }
    }
    black_box(page);
}

fn storm(dir: &Path, files: usize) {
    for i in 0..files {
        let p = dir.join(format!("s{i}"));
        std::fs::write(&p, b"small").expect("create");
        black_box(std::fs::metadata(&p).expect("stat"));
        std::fs::remove_file(&p).expect("unlink");
    }
}

/// Apparent size of a tree, in bytes (`du -sb`).
fn du_bytes(dir: &Path) -> u64 {
    Command::new("du")
        .arg("-sb")
        .arg(dir)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> std::io::Result<()> {
    let mut report = Report::new("fuse");
    let (mounts, fs) = match mount() {
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
    let (len, ops) = ((mib * BLOCK) as u64, if quick() { 2_000 } else { 20_000 });
    let (anchor, ours) = compare(
        samples,
        || random_io(&t, len, ops, 5),
        || random_io(&e, len, ops, 5),
    );
    report.push(Row::lower_is_better(
        &format!("fuse/random_4KiB_read_write_{ops}_ops"),
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
    // Memory at rest: the corpus copied N times onto the mount, settled.
    let copies = if quick() { 5 } else { 50 };
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");
    let mut copied = 0u64;
    for i in 0..copies {
        let dst = mounts.ermfs.join(format!("corpus{i}"));
        let ok = Command::new("cp")
            .args(["-a", corpus])
            .arg(&dst)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cp -a of the corpus onto the mount failed");
        copied += du_bytes(&dst);
    }
    fs.settle();
    let held = fs.memory_used() as f64;
    report.push(Row::standalone(
        &format!("fuse/memory_at_rest_corpus_x{copies}_vs_bytes_copied"),
        "ratio",
        held / copied.max(1) as f64,
        &format!("{held} bytes held for {copied} bytes copied (informational)"),
        None,
    ));
    drop(mounts);
    report.write()
}
