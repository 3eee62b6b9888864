//! `cargo xtask conformance`: the suites file system projects run, on fresh
//! `ermfs-mount` mounts, with tmpfs's result (everything passes) as the bar.
//!
//! pjdfstest (POSIX system-call conformance) and fsx (xfstests' file
//! system exerciser) are built under `target/conformance/` from the
//! sources in the `shared/conformance/` directory beside the checkout (the package registries do not
//! carry them). Every run gets its own fresh mount under
//! `target/conformance/mnt/` and its own log under
//! `target/conformance/logs/`; a failure names the log.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Instant;

use crate::util::{cargo, ensure_packages, exec, root, step};

/// Debian packages the suites' builds and runs need, with a program or
/// file that shows each is there.
const PACKAGES: &[(&str, &str)] = &[
    ("autoreconf", "autoconf"),
    ("automake", "automake"),
    ("libtoolize", "libtool"),
    ("cc", "gcc"),
    ("make", "make"),
    ("prove", "perl"),
    ("/usr/include/libaio.h", "libaio-dev"),
    ("/usr/include/liburing.h", "liburing-dev"),
    ("/usr/include/xfs/xfs.h", "xfslibs-dev"),
];

/// The pjdfstest source tarball beside the checkout.
const PJDFSTEST_TARBALL: &str = "pjdfstest-85a8aea.tar.gz";

/// How much of the suites to run.
#[derive(Clone, Copy)]
pub enum Scope {
    /// Everything the mount must pass: pjdfstest from the root and from a
    /// subdirectory on the default and the lockless mount; fsx for
    /// 1,000,000 operations and seeds 2-6 at 100,000 on the default mount,
    /// with the writeback cache, and in both table modes.
    Full,
    /// CI: pjdfstest in full from the mount root and from a subdirectory
    /// (side by side: most of a run is `sleep`), fsx for 200,000 operations.
    Ci,
}

/// One fsx run: mount flags, seed, operations.
struct FsxRun {
    mount_flags: &'static [&'static str],
    seed: u32,
    ops: u32,
}

fn shared() -> PathBuf {
    root().join("../shared/conformance")
}

fn work() -> PathBuf {
    root().join("target/conformance")
}

/// Why the suites cannot run here, if they cannot.
pub fn unavailable() -> Option<String> {
    if let Some(why) = crate::fuse::unavailable() {
        return Some(why.to_string());
    }
    // /proc/self belongs to the process's effective uid.
    if fs::metadata("/proc/self").map_or(true, |m| m.uid() != 0) {
        return Some("pjdfstest switches uids and mounts need allow_other: run as root".into());
    }
    if !shared().join(PJDFSTEST_TARBALL).exists() {
        return Some(format!(
            "the suites' sources are missing ({} not found)",
            shared().display()
        ));
    }
    None
}

/// `cargo xtask conformance` (`Full`) and CI's step (`Ci`).
pub fn run(scope: Scope) -> Result<(), String> {
    if let Some(why) = unavailable() {
        return match scope {
            Scope::Ci => {
                println!("conformance: SKIPPED: {why}");
                Ok(())
            }
            Scope::Full => Err(why),
        };
    }
    ensure_packages(PACKAGES)?;
    step("build pjdfstest, fsx, ermfs-mount", build)?;
    let (pjd, fsx) = (work().join("pjdfstest"), work().join("fsx"));
    let pjd_runs: &[(&str, &[&str], bool)] = match scope {
        // The default mount passes open files through to the kernel (as
        // root); `--no-passthrough` serves every read and write itself.
        Scope::Full => &[
            ("default", &[], false),
            ("default", &[], true),
            ("no-passthrough", &["--no-passthrough"], false),
            ("no-passthrough", &["--no-passthrough"], true),
            ("lockless", &["--lockless"], false),
            ("lockless", &["--lockless"], true),
        ],
        Scope::Ci => &[
            ("default", &[], false),
            ("default", &[], true),
            ("no-passthrough", &["--no-passthrough"], false),
            ("no-passthrough", &["--no-passthrough"], true),
        ],
    };
    // Two runs at a time: each spends most of its time in `sleep 1`.
    for pair in pjd_runs.chunks(2) {
        let names: Vec<String> = pair
            .iter()
            .map(|(name, _, sub)| pjd_name(name, *sub))
            .collect();
        step(&format!("pjdfstest: {}", names.join(", ")), || {
            thread::scope(|s| {
                let handles: Vec<_> = pair
                    .iter()
                    .map(|(name, flags, sub)| s.spawn(|| pjdfstest(&pjd, name, flags, *sub)))
                    .collect();
                let errors: Vec<String> = handles
                    .into_iter()
                    .filter_map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err("run panicked".into()))
                            .err()
                    })
                    .collect();
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(errors.join("; "))
                }
            })
        })?;
    }
    let fsx_runs: Vec<FsxRun> = match scope {
        Scope::Full => {
            let mut runs = Vec::new();
            for flags in [
                &[][..],
                &["--no-passthrough"][..],
                &["--writeback-cache"][..],
                &["--locked"][..],
                &["--lockless"][..],
            ] {
                runs.push(FsxRun {
                    mount_flags: flags,
                    seed: 1,
                    ops: 1_000_000,
                });
                runs.extend((2..=6).map(|seed| FsxRun {
                    mount_flags: flags,
                    seed,
                    ops: 100_000,
                }));
            }
            runs
        }
        Scope::Ci => vec![
            FsxRun {
                mount_flags: &[],
                seed: 1,
                ops: 200_000,
            },
            FsxRun {
                mount_flags: &["--no-passthrough"],
                seed: 1,
                ops: 100_000,
            },
        ],
    };
    for run in &fsx_runs {
        let label = format!(
            "fsx -N {} -S {} on ermfs-mount {}",
            run.ops,
            run.seed,
            run.mount_flags.join(" ")
        );
        step(&label, || fsx_run(&fsx, run))?;
    }
    Ok(())
}

/// Builds both suites (once) and a release `ermfs-mount`.
fn build() -> Result<(), String> {
    let work = work();
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let pjd = work.join("pjdfstest");
    if !pjd.join("pjdfstest").exists() {
        exec(
            Command::new("tar")
                .arg("-xzf")
                .arg(shared().join(PJDFSTEST_TARBALL))
                .arg("-C")
                .arg(&work),
        )?;
        exec(Command::new("autoreconf").arg("-ifs").current_dir(&pjd))?;
        exec(Command::new("./configure").current_dir(&pjd))?;
        exec(Command::new("make").arg("pjdfstest").current_dir(&pjd))?;
    }
    let fsx = work.join("fsx");
    if !fsx.exists() {
        exec(
            Command::new("bash")
                .arg(shared().join("fsx/build.sh"))
                .arg(&work),
        )?;
    }
    exec(cargo().args([
        "build",
        "--release",
        "-p",
        "erm-fuse",
        "--bin",
        "ermfs-mount",
    ]))
}

fn pjd_name(mount: &str, subdir: bool) -> String {
    format!("{mount}-{}", if subdir { "subdir" } else { "root" })
}

/// A fresh mount under `target/conformance/mnt/NAME`, unmounted on drop.
struct FreshMount {
    dir: PathBuf,
}

impl FreshMount {
    fn new(name: &str, flags: &[&str]) -> Result<FreshMount, String> {
        let dir = work().join("mnt").join(name);
        // A mount left by an interrupted run: take it down first.
        let _ = Command::new("umount")
            .arg(&dir)
            .stderr(Stdio::null())
            .status();
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        exec(
            Command::new(root().join("target/release/ermfs-mount"))
                .arg("--allow-other")
                .args(flags)
                .arg(&dir),
        )?;
        Ok(FreshMount { dir })
    }
}

impl Drop for FreshMount {
    fn drop(&mut self) {
        if let Err(e) = exec(Command::new("umount").arg(&self.dir)) {
            eprintln!("conformance: {e}");
        }
    }
}

/// Opens the log file of run `name`.
fn log(name: &str) -> Result<(PathBuf, fs::File), String> {
    let dir = work().join("logs");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{name}.log"));
    let file = fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((path, file))
}

/// pjdfstest in full on a fresh mount, from its root or a subdirectory.
fn pjdfstest(pjd: &Path, mount: &str, flags: &[&str], subdir: bool) -> Result<(), String> {
    let name = format!("pjdfstest-{}", pjd_name(mount, subdir));
    let m = FreshMount::new(&pjd_name(mount, subdir), flags)?;
    let cwd = if subdir {
        let sub = m.dir.join("sub/dir");
        fs::create_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
        sub
    } else {
        m.dir.clone()
    };
    let (path, file) = log(&name)?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let status = Command::new("prove")
        .arg("-r")
        .arg(pjd.join("tests"))
        .current_dir(&cwd)
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot start prove: {e}"))?;
    let text = fs::read_to_string(&path).unwrap_or_default();
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("Files=") || l.starts_with("Result:"))
        .collect();
    println!(
        "{name}: {} ({:.0} s, log {})",
        summary.join(" "),
        start.elapsed().as_secs_f64(),
        path.display()
    );
    if status.success() && summary.contains(&"Result: PASS") {
        Ok(())
    } else {
        // prove's summary table names each failing file and subtest.
        if let Some(at) = text.find("Test Summary Report") {
            println!("{}", &text[at..]);
        }
        Err(format!("{name} failed (see {})", path.display()))
    }
}

/// One fsx run on a fresh mount.
fn fsx_run(fsx: &Path, run: &FsxRun) -> Result<(), String> {
    let mount = format!(
        "fsx{}-s{}",
        run.mount_flags.concat().replace("--", "-"),
        run.seed
    );
    let m = FreshMount::new(&mount, run.mount_flags)?;
    let logdir = work().join("logs").join(&mount);
    fs::create_dir_all(&logdir).map_err(|e| format!("{}: {e}", logdir.display()))?;
    let (path, file) = log(&mount)?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let status = Command::new(fsx)
        .arg("-N")
        .arg(run.ops.to_string())
        .arg("-S")
        .arg(run.seed.to_string())
        .arg("-P")
        .arg(&logdir)
        .arg("fsx.file")
        .current_dir(&m.dir)
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot start fsx: {e}"))?;
    let text = fs::read_to_string(&path).unwrap_or_default();
    let ok = text.contains("operations completed A-OK!");
    if status.success() && ok {
        if let Some(last) = text.lines().last() {
            println!("  {last}");
        }
        Ok(())
    } else {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for line in tail.iter().rev() {
            println!("  {line}");
        }
        Err(format!(
            "fsx seed {} failed (log {}, fsx logs in {})",
            run.seed,
            path.display(),
            logdir.display()
        ))
    }
}
