//! ERMFS mounted with FUSE against a tmpfs and against a plain passthrough
//! FUSE file system (`bindfs` over a directory of that tmpfs), all mounted by
//! this bench under `target/fuse-bench/` (as root) and timed interleaved in
//! the same run: sequential 1 MiB-block write and read, 4 KiB random
//! read/write (by `pread`/`pwrite`, by `fio --rw=randrw --ioengine=psync`,
//! and through a shared mapping), and a create/stat/unlink storm of small
//! files. The ERMFS mount is the default one (FUSE passthrough for open
//! files); beside it, for information, the same cases on an ERMFS mount
//! without passthrough (`--no-passthrough`: every read and write a round
//! trip) and on one with the kernel's writeback cache (opt-in, which turns
//! passthrough off), and the cost of one FUSE round trip. Skipped, saying
//! why, without root or FUSE; without `bindfs` the passthrough-anchor rows
//! say so, without `fio` its row does.
//!
//! Memory is measured on a mount served by a separate daemon process (this
//! bench binary re-executed as one, built as `ermfs-mount` builds its
//! store), so its RSS is the daemon's alone: fresh, with a tree of 8,000
//! small text files settled (against `df` used), and after `rm -rf`.
//!
//! The mounts compress closed files in the background (2 s after the last
//! close, as `ermfs-mount` does); the bench waits for those compressions
//! between samples, untimed, since on two cores one 256 MiB compression
//! would otherwise take the machine from the next sample of any place.

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use erm_bench::{Report, Row, SplitMix64, median, quick, time};
use erm_fuse::MountConfig;
use ermfs::{CompressionPolicy, Fs};

const BLOCK: usize = 1 << 20;

/// Unmounts every file system at the end, whatever happened (bindfs first:
/// it sits on the tmpfs).
struct Mounts {
    /// Root of the bench's own tmpfs (the passthrough's source lives in it).
    tmpfs_root: PathBuf,
    /// Where the tmpfs cases run (a directory of the tmpfs).
    tmpfs: PathBuf,
    /// The ERMFS mount point (the default mount: FUSE passthrough).
    ermfs: PathBuf,
    /// An ERMFS mount without passthrough (`--no-passthrough`), measured
    /// beside the default for information.
    ermfs_np: PathBuf,
    /// An ERMFS mount with the kernel's writeback cache (opt-in,
    /// `--writeback-cache`), measured beside the default for information.
    ermfs_wb: PathBuf,
    /// The bindfs mount point, if bindfs mounted.
    bindfs: Option<PathBuf>,
    sessions: Vec<fuser::BackgroundSession>,
}

fn unmount(dir: &Path) {
    let quiet = |cmd: &mut Command| {
        cmd.arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !quiet(Command::new("fusermount3").arg("-u")) {
        let _ = quiet(Command::new("umount").arg("-l"));
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        if let Some(dir) = self.bindfs.take() {
            unmount(&dir);
        }
        for s in self.sessions.drain(..) {
            let _ = s.umount_and_join();
        }
        unmount(&self.ermfs);
        unmount(&self.ermfs_np);
        unmount(&self.ermfs_wb);
        unmount(&self.tmpfs_root);
    }
}

/// Mounts bindfs on `dir` passing `src` through, or says why it cannot.
fn mount_bindfs(src: &Path, dir: &Path) -> Result<(), String> {
    let status = Command::new("bindfs")
        .arg(src)
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("bindfs failed ({s})")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("bindfs is not installed (apt-get install bindfs)".into())
        }
        Err(e) => Err(format!("bindfs: {e}")),
    }
}

/// Mounts the tmpfs, ERMFS and (if it can) bindfs; the `String` says why
/// there is no bindfs.
/// The stores are those of the default, no-passthrough and writeback mounts.
fn mount() -> Result<(Mounts, Vec<Fs>, Option<String>), String> {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Err("mounting the tmpfs anchor needs root".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Err("/dev/fuse is missing".into());
    }
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/fuse-bench"));
    let (tmpfs_root, ermfs, bindfs) = (base.join("tmpfs"), base.join("ermfs"), base.join("bindfs"));
    let (ermfs_wb, ermfs_np) = (base.join("ermfs-wb"), base.join("ermfs-np"));
    for dir in [&bindfs, &ermfs, &ermfs_np, &ermfs_wb, &tmpfs_root] {
        unmount(dir);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut mounts = Mounts {
        tmpfs: tmpfs_root.join("plain"),
        tmpfs_root: tmpfs_root.clone(),
        ermfs: ermfs.clone(),
        ermfs_np: ermfs_np.clone(),
        ermfs_wb: ermfs_wb.clone(),
        bindfs: None,
        sessions: Vec::new(),
    };
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2g", "erm-bench"])
        .arg(&tmpfs_root)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err("mount -t tmpfs failed".into());
    }
    let source = tmpfs_root.join("passthrough");
    for dir in [&mounts.tmpfs, &source] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let no_bindfs = match mount_bindfs(&source, &bindfs) {
        Ok(()) => {
            mounts.bindfs = Some(bindfs);
            None
        }
        Err(why) => Some(why),
    };
    let store = || {
        Fs::builder()
            .compression(CompressionPolicy::Background {
                delay: Duration::from_secs(2),
            })
            .build()
            .map_err(|e| e.to_string())
    };
    let no_passthrough = MountConfig {
        passthrough: false,
        ..MountConfig::default()
    };
    let writeback = MountConfig {
        writeback_cache: true,
        ..MountConfig::default()
    };
    let mut stores = Vec::new();
    for (dir, config) in [
        (&ermfs, MountConfig::default()),
        (&ermfs_np, no_passthrough),
        (&ermfs_wb, writeback),
    ] {
        let fs = store()?;
        let session = erm_fuse::spawn(fs.clone(), dir, &config).map_err(|e| e.to_string())?;
        mounts.sessions.push(session);
        stores.push(fs);
    }
    Ok((mounts, stores, no_bindfs))
}

/// Medians of `samples` runs of each closure, interleaved with a rotating
/// order so none always runs first (warm caches); one warm-up run each.
/// `idle` runs, untimed, before every run: it waits for the stores'
/// background compressions, which would otherwise take both cores of this
/// machine from whatever sample runs next (another place's included).
fn compare_all(samples: usize, runs: &mut [&mut dyn FnMut()], idle: &dyn Fn()) -> Vec<Duration> {
    for run in runs.iter_mut() {
        idle();
        run();
    }
    let n = runs.len();
    let mut times = vec![Vec::with_capacity(samples); n];
    for i in 0..samples.max(1) {
        for k in 0..n {
            let j = (i + k) % n;
            idle();
            times[j].push(time(&mut runs[j]));
        }
    }
    times.iter_mut().map(|t| median(t)).collect()
}

/// The places one case runs: tmpfs, the three ERMFS mounts, bindfs (if
/// mounted).
struct Places {
    /// The stores behind the ERMFS mounts, settled between samples.
    stores: Vec<Fs>,
    tmpfs: PathBuf,
    ermfs: PathBuf,
    ermfs_np: PathBuf,
    ermfs_wb: PathBuf,
    bindfs: Option<PathBuf>,
    no_bindfs: Option<String>,
}

impl Places {
    /// Every place, in the order [`times`](Places::times) answers.
    fn dirs(&self) -> impl Iterator<Item = &PathBuf> {
        [
            Some(&self.tmpfs),
            Some(&self.ermfs),
            Some(&self.ermfs_np),
            Some(&self.ermfs_wb),
            self.bindfs.as_ref(),
        ]
        .into_iter()
        .flatten()
    }

    /// Medians of `work` in each place, interleaved: tmpfs, ERMFS, ERMFS
    /// without passthrough, ERMFS with the writeback cache, and bindfs if
    /// mounted.
    fn times(&self, samples: usize, work: impl Fn(&Path)) -> Vec<Duration> {
        let mut runs: Vec<Box<dyn FnMut() + '_>> = self
            .dirs()
            .map(|d| Box::new(|| work(d)) as Box<dyn FnMut()>)
            .collect();
        let mut refs: Vec<&mut dyn FnMut()> = runs.iter_mut().map(|r| &mut **r as _).collect();
        let idle = || self.stores.iter().for_each(Fs::settle);
        compare_all(samples, &mut refs, &idle)
    }

    /// Times `work` in each place (interleaved) and pushes the rows: ERMFS
    /// vs tmpfs (`>= target`), the no-passthrough and writeback-cache
    /// mounts (informational) and ERMFS vs bindfs (`>= 1.0`).
    fn case(
        &self,
        report: &mut Report,
        samples: usize,
        (name, target): (&str, f64),
        work: impl Fn(&Path),
    ) -> Vec<Duration> {
        let times = self.times(samples, work);
        self.rows(report, (name, target), &times);
        times
    }

    /// The rows of a case from its medians per place ([`times`]'s order).
    ///
    /// [`times`]: Places::times
    fn rows(&self, report: &mut Report, (name, target): (&str, f64), times: &[Duration]) {
        let ours = times[1].as_secs_f64();
        let tmpfs = times[0].as_secs_f64();
        report.push(Row::lower_is_better(
            &format!("fuse/{name}"),
            "s",
            ours,
            "tmpfs",
            tmpfs,
            Some(target),
        ));
        for (at, suffix, what) in [
            (
                2,
                "no_passthrough",
                "--no-passthrough, every read and write a round trip",
            ),
            (
                3,
                "writeback_cache",
                "opt-in --writeback-cache, passthrough off",
            ),
        ] {
            let t = times[at].as_secs_f64();
            report.push(Row::standalone(
                &format!("fuse/{name}_{suffix}"),
                "s",
                t,
                &format!(
                    "informational ({what}): {:.2}x tmpfs, {:.2}x the default mount",
                    tmpfs / t,
                    ours / t
                ),
                None,
            ));
        }
        let row = match (times.get(4), &self.no_bindfs) {
            (Some(bindfs), _) => Row::lower_is_better(
                &format!("fuse/{name}_vs_bindfs"),
                "s",
                ours,
                "bindfs over tmpfs",
                bindfs.as_secs_f64(),
                Some(1.0),
            ),
            (None, why) => Row::standalone(
                &format!("fuse/{name}_vs_bindfs"),
                "s",
                ours,
                &format!(
                    "no passthrough anchor: {}",
                    why.as_deref().unwrap_or("bindfs not mounted")
                ),
                None,
            ),
        };
        report.push(row);
    }

    /// [`case`](Places::case) with `file` held open read-write in every
    /// place for the duration (opened, untimed, before the first sample):
    /// the I/O of an open file, which ERMFS keeps raw. Without the held
    /// open each sample's open of a closed ERMFS file inflates all of it
    /// first (the stores are settled between samples), a cost the
    /// `..._reopened` rows show.
    fn case_open(
        &self,
        report: &mut Report,
        samples: usize,
        (name, target): (&str, f64),
        file: &str,
        work: impl Fn(&Path),
    ) {
        let held: Vec<File> = self
            .dirs()
            .map(|d| {
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(d.join(file))
                    .expect("hold the bench file open")
            })
            .collect();
        self.case(report, samples, (name, target), work);
        drop(held);
    }
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
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .expect("open for random I/O");
    random_io_on(&f, len, ops, seed);
}

/// The I/O of [`random_io`] on an open file.
fn random_io_on(f: &File, len: u64, ops: usize, seed: u64) {
    use std::os::unix::fs::FileExt;
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

/// `ops` 4 KiB copies in and out of a shared mapping of `file` (`len`
/// bytes) at random aligned offsets, then `msync` and unmap: on tmpfs and
/// through passthrough the mapping is the file's pages; without
/// passthrough the kernel's page cache, written back to the daemon.
fn mmap_random_io(file: &Path, len: u64, ops: usize, seed: u64) {
    use std::os::fd::AsRawFd;
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .expect("open for mmap");
    let len = usize::try_from(len).expect("the bench file fits the address space");
    // SAFETY: a fresh shared mapping of an open file at an address the
    // kernel picks aliases no Rust object; it is unmapped below.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(map, libc::MAP_FAILED, "mmap of the bench file");
    // SAFETY: the mapping is `len` bytes, readable and writable, and only
    // this slice refers to it until the munmap below.
    let bytes = unsafe { std::slice::from_raw_parts_mut(map.cast::<u8>(), len) };
    let mut rng = SplitMix64::new(seed);
    let mut page = [7u8; 4096];
    for i in 0..ops {
        let off = (rng.below(len as u64 / 4096) * 4096) as usize;
        if i % 2 == 0 {
            page.copy_from_slice(&bytes[off..off + 4096]);
        } else {
            bytes[off..off + 4096].copy_from_slice(&page);
        }
    }
    black_box(page);
    // SAFETY: the mapping is ours and `bytes` is not used past here.
    unsafe {
        libc::msync(map, len, libc::MS_SYNC);
        libc::munmap(map, len);
    }
}

/// fio's `randrw` at 4 KiB blocks with the `psync` engine (pread/pwrite),
/// `ops` I/Os on the existing bench file of `len` bytes held open, in every
/// place, interleaved; each sample is fio's own I/O time.
fn fio_case(report: &mut Report, places: &Places, samples: usize, len: u64, ops: usize) {
    let name = format!("fio_randrw_4KiB_psync_{ops}_ops");
    let present = Command::new("fio")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        report.push(Row::standalone(
            &format!("fuse/{name}"),
            "s",
            0.0,
            "not measured: fio is not installed (apt-get install fio)",
            Some(false),
        ));
        return;
    }
    let io_size = ops as u64 * 4096;
    // fio's own account of its I/O time (`job_runtime`, ms), not its
    // start-up, which takes longer than the I/O at these sizes.
    let fio = |dir: &Path| -> Duration {
        let out = Command::new("fio")
            .args([
                "--name=randrw",
                "--rw=randrw",
                "--bs=4k",
                "--ioengine=psync",
                "--randrepeat=1",
                "--norandommap",
                "--allow_file_create=0",
                "--output-format=json",
            ])
            .arg(format!("--filename={}", dir.join("seq").display()))
            .arg(format!("--size={len}"))
            .arg(format!("--io_size={io_size}"))
            .output()
            .expect("run fio");
        assert!(out.status.success(), "fio failed in {}", dir.display());
        let json = String::from_utf8_lossy(&out.stdout);
        let ms = json
            .split("\"job_runtime\"")
            .nth(1)
            .and_then(|rest| rest.trim_start_matches([' ', ':']).split(',').next())
            .and_then(|n| n.trim().parse::<u64>().ok())
            .expect("fio's JSON has job_runtime");
        Duration::from_millis(ms)
    };
    let held: Vec<File> = places
        .dirs()
        .map(|d| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(d.join("seq"))
                .expect("hold the bench file open")
        })
        .collect();
    let dirs: Vec<&PathBuf> = places.dirs().collect();
    let mut times = vec![Vec::new(); dirs.len()];
    for i in 0..=samples {
        for k in 0..dirs.len() {
            let j = (i + k) % dirs.len();
            places.stores.iter().for_each(Fs::settle);
            let t = fio(dirs[j]);
            if i > 0 {
                times[j].push(t); // the first round warms up
            }
        }
    }
    drop(held);
    let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
    places.rows(report, (&name, 0.9), &medians);
}

/// The physical limit under the open-file random 4 KiB row: the same I/O
/// on the memfd that holds the file on the default mount (the store's own,
/// from `open_node_memfd`, the very backing the kernel passes through to),
/// interleaved with the same I/O through the mount: what is left between
/// them is the kernel's FUSE passthrough path.
fn memfd_floor(
    report: &mut Report,
    fs: &Fs,
    ermfs: &Path,
    (len, ops): (u64, usize),
    samples: usize,
) {
    let Ok(node) = fs.node("/seq") else {
        return;
    };
    let Ok((fd, memfd)) = fs.open_node_memfd(&node, libc::O_RDWR, &ermfs::Identity::root()) else {
        return;
    };
    let memfd = File::from(memfd);
    let path = ermfs.join("seq");
    let held = OpenOptions::new().read(true).write(true).open(&path);
    let mut through = || random_io(&path, len, ops, 5);
    let mut direct = || random_io_on(&memfd, len, ops, 5);
    let times = compare_all(samples, &mut [&mut through, &mut direct], &|| ());
    drop(held);
    let _ = fs.close(fd);
    report.push(Row::lower_is_better(
        &format!("fuse/random_4KiB_read_write_{ops}_ops_vs_its_memfd"),
        "s",
        times[0].as_secs_f64(),
        "the same I/O on the file's memfd itself (no FUSE)",
        times[1].as_secs_f64(),
        None,
    ));
}

/// The physical floor under the `..._reopened` rows: an open of the closed
/// (compressed) bench file in process, which inflates all of it as the
/// mount's open does, and nothing else.
fn reopen_floor(report: &mut Report, fs: &Fs, samples: usize) {
    fs.settle();
    let Ok(len) = fs.stat("/seq").map(|st| st.size) else {
        return;
    };
    let mut times = Vec::new();
    for _ in 0..samples.max(1) {
        fs.settle();
        times.push(time(&mut || {
            let fd = fs.open("/seq", libc::O_RDWR, 0).expect("open in process");
            fs.close(fd).expect("close");
        }));
    }
    let t = median(&mut times).as_secs_f64();
    report.push(Row::standalone(
        "fuse/reopen_inflate_in_process",
        "s",
        t,
        &format!(
            "informational: the open of the closed {len}-byte bench file in process \
             (its inflate, {:.0} MB/s): the floor of each `_reopened` sample",
            len as f64 / t / 1e6
        ),
        None,
    ));
}

/// `n` getxattr calls for a missing attribute of `file`: on a FUSE mount
/// each is exactly one round trip to the daemon (the kernel caches no
/// attributes), on tmpfs one system call.
fn getxattrs(file: &Path, n: usize) {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(file.as_os_str().as_bytes()).expect("no NUL in the path");
    for _ in 0..n {
        // SAFETY: both names are NUL-terminated and outlive the call; a
        // null buffer with size 0 is a size query.
        let r = unsafe {
            libc::getxattr(
                path.as_ptr(),
                c"user.erm-bench".as_ptr(),
                std::ptr::null_mut(),
                0,
            )
        };
        black_box(r);
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

/// The FUSE requests one more (untimed) storm makes per file on the ERMFS
/// mount, per operation, from the daemon's counters; returns how many per
/// file the caller waits for (all but RELEASE and FORGET, which the kernel
/// sends without waiting).
fn storm_requests(report: &mut Report, ermfs: &Path, files: usize) -> f64 {
    let Ok(before) = erm_fuse::control::requests(ermfs) else {
        return 0.0;
    };
    storm(ermfs, files);
    let Ok(after) = erm_fuse::control::requests(ermfs) else {
        return 0.0;
    };
    // Not the storm's: the first read's RELEASEDIR of the root and the
    // second read's OPENDIR and IOCTL (at most one of each).
    let served = after.since(&before);
    let own = [
        erm_fuse::requests::Op::Ioctl,
        erm_fuse::requests::Op::Opendir,
        erm_fuse::requests::Op::Releasedir,
    ]
    .iter()
    .map(|&op| served.get(op).min(1))
    .sum::<u64>();
    let per_file = served.total().saturating_sub(own) as f64 / files as f64;
    let mix = erm_fuse::requests::Op::ALL
        .iter()
        .filter(|&&op| served.get(op) >= files as u64 / 2)
        .map(|&op| format!("{} {:.2}", op.name(), served.get(op) as f64 / files as f64))
        .collect::<Vec<_>>()
        .join(", ");
    report.push(Row::standalone(
        "fuse/create_stat_unlink_requests_per_file",
        "requests",
        per_file,
        &format!("informational: FUSE requests per file on the ERMFS mount ({mix})"),
        None,
    ));
    let unwaited = [
        erm_fuse::requests::Op::Release,
        erm_fuse::requests::Op::Forget,
    ]
    .iter()
    .map(|&op| served.get(op))
    .sum::<u64>();
    per_file - unwaited as f64 / files as f64
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

/// The environment variable that turns this process into the memory
/// case's mount daemon, serving the directory it names.
const DAEMON_ENV: &str = "ERM_BENCH_DAEMON";

/// The memory case's daemon: a store as `ermfs-mount` builds it by default
/// (background compression 2 s after the last close, file handles on),
/// mounted on `dir` until it is unmounted.
fn serve(dir: &Path) -> std::io::Result<()> {
    let fs = Fs::builder()
        .compression(CompressionPolicy::Background {
            delay: Duration::from_secs(2),
        })
        .inode_index(true)
        .build()?;
    erm_fuse::spawn(fs, dir, &MountConfig::default())?.join()
}

/// The `KEY:   N kB` field of a /proc file, in bytes (0 if missing).
fn proc_kb(file: &str, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// `VmRSS` of process `pid`, in bytes.
fn rss_of(pid: u32) -> u64 {
    proc_kb(&format!("/proc/{pid}/status"), "VmRSS")
}

/// `df` used of the file system at `dir`, in bytes.
fn df_used(dir: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).expect("no NUL in the path");
    // SAFETY: an all-zero statvfs is a valid value for the call to fill.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `st` is valid for writes.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    (st.f_blocks - st.f_bfree) * st.f_frsize
}

/// Polls `f` every 250 ms until it gives the same value twice in a row
/// 1 s apart (at most 60 s); returns that value.
fn steady(f: impl Fn() -> u64) -> u64 {
    let mut last = f();
    for _ in 0..60 {
        std::thread::sleep(Duration::from_secs(1));
        let now = f();
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// The daemon's RSS fresh, with 8,000 small files settled and after
/// `rm -rf`, against the targets `1.1 x df used + 4 MiB` and `fresh +
/// 8 MiB`.
fn memory_case(report: &mut Report, base: &Path) -> Result<(), String> {
    const MIB: u64 = 1 << 20;
    // First, before the daemon exists: the same tree on a tmpfs.
    let tmpfs_slab = match tmpfs_slab_per_file(base) {
        Ok(slab) => Some(slab),
        Err(why) => {
            println!("fuse bench: no tmpfs slab anchor: {why}");
            None
        }
    };
    let dir = base.join("memory");
    unmount(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // As /proc/self/mountinfo spells it.
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut daemon = Command::new(exe)
        .env(DAEMON_ENV, &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("daemon: {e}"))?;
    let pid = daemon.id();
    let mounted = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
            m.lines()
                .any(|l| l.contains(&*dir.to_string_lossy()) && l.contains("fuse"))
        })
    });
    let result = if mounted {
        memory_on(report, &dir, pid, MIB, tmpfs_slab);
        Ok(())
    } else {
        Err("the memory daemon did not mount in 10 s".to_owned())
    };
    unmount(&dir);
    let _ = daemon.wait();
    result
}

/// Directories of the memory case's tree.
const SMALL_TREE_DIRS: u64 = 80;

/// Writes the memory case's tree under `dir`: 80 directories of 100 text
/// slices of 1-5 KB from the corpus (a source tree's size mix); returns
/// the files and the bytes written.
fn write_small_tree(dir: &Path) -> (u64, u64) {
    let text: Vec<u8> = ["alice29.txt", "asyoulik.txt", "lcet10.txt"]
        .iter()
        .flat_map(|f| std::fs::read(Path::new(erm_bench::CORPUS_DIR).join(f)).expect("corpus text"))
        .collect();
    let mut rng = SplitMix64::new(19);
    let per_dir = 100;
    let mut apparent = 0u64;
    for d in 0..SMALL_TREE_DIRS {
        let sub = dir.join(format!("d{d}"));
        std::fs::create_dir(&sub).expect("mkdir for the memory case");
        for i in 0..per_dir {
            let n = 1000 + rng.below(4001) as usize;
            let at = rng.below((text.len() - n) as u64) as usize;
            std::fs::write(sub.join(format!("f{i}.txt")), &text[at..at + n]).expect("write");
            apparent += n as u64;
        }
    }
    (SMALL_TREE_DIRS * per_dir, apparent)
}

/// The kernel's `Slab:` bytes (`/proc/meminfo`): where tmpfs keeps its
/// inodes and dentries.
fn kernel_slab() -> u64 {
    proc_kb("/proc/meminfo", "Slab")
}

/// The physical-limit row for per-file state: the kernel's slab growth
/// per file when the same tree is written to a fresh tmpfs (its inode,
/// dentry and security blobs), in bytes per file.
fn tmpfs_slab_per_file(base: &Path) -> Result<f64, String> {
    let dir = base.join("memory-tmpfs");
    unmount(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256m", "erm-bench-memory"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        return Err(format!("mount -t tmpfs on {} failed", dir.display()));
    }
    let before = steady(kernel_slab);
    let (files, _) = write_small_tree(&dir);
    let after = steady(kernel_slab);
    unmount(&dir);
    Ok(after.saturating_sub(before) as f64 / files as f64)
}

fn memory_on(report: &mut Report, dir: &Path, pid: u32, mib: u64, tmpfs_slab: Option<f64>) {
    let fresh = steady(|| rss_of(pid));
    let (files, apparent) = write_small_tree(dir);
    // Settled: past the 2 s delay every file is compressed once df used
    // stops moving; then RSS.
    std::thread::sleep(Duration::from_millis(2500));
    let used = steady(|| df_used(dir));
    let tree = steady(|| rss_of(pid));
    let allowed = 1.1 * used as f64 + (4 * mib) as f64;
    report.push(Row::lower_is_better(
        &format!("fuse/memory_rss_{files}_small_files"),
        "bytes",
        tree as f64,
        "1.1 x df used + 4 MiB",
        allowed,
        Some(1.0),
    ));
    let per_file = (tree as f64 - used as f64 - fresh as f64) / files as f64;
    report.push(Row::standalone(
        &format!("fuse/memory_rss_{files}_small_files_breakdown"),
        "bytes",
        tree as f64,
        &format!(
            "informational: {apparent} bytes written, df used {used}, fresh RSS {fresh}, \
             so {per_file:.0} bytes per file above df used and the fresh daemon"
        ),
        None,
    ));
    // What the RSS target leaves for each file's state, against what the
    // kernel's own RAM file system spends on it (the physical limit of a
    // design that keeps an inode and a name per file).
    let budget_per_file = (allowed - used as f64 - fresh as f64) / files as f64;
    match tmpfs_slab {
        Some(slab) => report.push(Row::lower_is_better(
            "fuse/memory_state_per_file_vs_tmpfs_slab",
            "bytes",
            per_file,
            "tmpfs: kernel slab per file, same tree",
            slab,
            None,
        )),
        None => report.push(Row::standalone(
            "fuse/memory_state_per_file_vs_tmpfs_slab",
            "bytes",
            per_file,
            "tmpfs slab not measured",
            None,
        )),
    }
    report.push(Row::standalone(
        "fuse/memory_state_per_file_the_rss_target_allows",
        "bytes",
        budget_per_file,
        &format!("informational: (1.1 x df used + 4 MiB - df used - fresh RSS) / {files} files"),
        None,
    ));
    for d in 0..SMALL_TREE_DIRS {
        std::fs::remove_dir_all(dir.join(format!("d{d}"))).expect("rm -rf on the memory mount");
    }
    let emptied = steady(|| rss_of(pid));
    report.push(Row::lower_is_better(
        "fuse/memory_rss_after_rm_rf",
        "bytes",
        emptied as f64,
        "fresh daemon + 8 MiB",
        (fresh + 8 * mib) as f64,
        Some(1.0),
    ));
}

fn main() -> std::io::Result<()> {
    if let Some(dir) = std::env::var_os(DAEMON_ENV) {
        return serve(Path::new(&dir));
    }
    let mut report = Report::new("fuse");
    let (mounts, stores, no_bindfs) = match mount() {
        Ok(m) => m,
        Err(why) => {
            println!("fuse bench: SKIPPED: {why}");
            return report.write();
        }
    };
    if let Some(why) = &no_bindfs {
        println!("fuse bench: no bindfs anchor: {why}");
    }
    let fs = stores[0].clone();
    let places = Places {
        stores,
        tmpfs: mounts.tmpfs.clone(),
        ermfs: mounts.ermfs.clone(),
        ermfs_np: mounts.ermfs_np.clone(),
        ermfs_wb: mounts.ermfs_wb.clone(),
        bindfs: mounts.bindfs.clone(),
        no_bindfs,
    };
    let samples = if quick() { 3 } else { 7 };
    let mib = if quick() { 32 } else { 256 };
    let files = if quick() { 1_000 } else { 10_000 };
    let mut rng = SplitMix64::new(11);
    // Text-like data: compressible, as files usually are.
    let data: Vec<u8> = (0..BLOCK)
        .map(|_| b"abcdefgh ij\n"[rng.below(12) as usize])
        .collect();
    places.case(
        &mut report,
        samples,
        (&format!("seq_write_1MiB_blocks_{mib}MiB"), 0.9),
        |dir| write_file(&dir.join("seq"), &data, mib),
    );
    let buf = std::cell::RefCell::new(vec![0; BLOCK]);
    let seq_read = |dir: &Path| {
        black_box(read_file(&dir.join("seq"), &mut buf.borrow_mut()));
    };
    let read_name = format!("seq_read_1MiB_blocks_{mib}MiB");
    places.case_open(&mut report, samples, (&read_name, 1.0), "seq", seq_read);
    let reopened = format!("{read_name}_reopened");
    places.case(&mut report, samples, (&reopened, 1.0), seq_read);
    let (len, ops) = ((mib * BLOCK) as u64, if quick() { 2_000 } else { 20_000 });
    let random = |dir: &Path| random_io(&dir.join("seq"), len, ops, 5);
    let random_name = format!("random_4KiB_read_write_{ops}_ops");
    places.case_open(&mut report, samples, (&random_name, 0.9), "seq", random);
    memfd_floor(&mut report, &fs, &mounts.ermfs, (len, ops), samples);
    let reopened = format!("{random_name}_reopened");
    places.case(&mut report, samples, (&reopened, 0.9), random);
    places.case_open(
        &mut report,
        samples,
        (&format!("mmap_random_4KiB_read_write_{ops}_ops"), 0.9),
        "seq",
        |dir| mmap_random_io(&dir.join("seq"), len, ops, 5),
    );
    fio_case(&mut report, &places, samples, len, ops * 10);
    reopen_floor(&mut report, &fs, samples);
    for dir in places.dirs() {
        let _ = std::fs::remove_file(dir.join("seq"));
    }
    let storm_times = places.case(
        &mut report,
        samples,
        (&format!("create_stat_unlink_{files}_files"), 0.15),
        |dir| storm(dir, files),
    );
    let waited = storm_requests(&mut report, &mounts.ermfs, files);
    // The floor under every row: one FUSE round trip (a request the
    // kernel cannot answer from its caches), per call.
    let calls = if quick() { 2_000 } else { 20_000 };
    for dir in places.dirs() {
        std::fs::write(dir.join("rt"), b"x")?;
    }
    let per_call = places
        .times(samples, |dir| getxattrs(&dir.join("rt"), calls))
        .iter()
        .map(|t| t.as_secs_f64() * 1e6 / calls as f64)
        .collect::<Vec<_>>();
    let bindfs = per_call
        .get(4)
        .map_or_else(|| "no bindfs".to_owned(), |b| format!("bindfs {b:.2} us"));
    // The storm's ceiling on this kernel: the round trips it must wait
    // for, at the cost of the cheapest one, and nothing else.
    let floor = waited * per_call[1] * 1e-6 * files as f64;
    let tmpfs_storm = storm_times[0].as_secs_f64();
    report.push(Row::standalone(
        "fuse/create_stat_unlink_round_trip_floor",
        "s",
        floor,
        &format!(
            "informational: {waited:.1} waited-for requests per file x one round trip \
             ({:.2} us) x {files} files: at best {:.2}x tmpfs with these requests",
            per_call[1],
            tmpfs_storm / floor.max(1e-9)
        ),
        None,
    ));
    report.push(Row::standalone(
        "fuse/one_round_trip_getxattr",
        "us",
        per_call[1],
        &format!(
            "informational: per call; tmpfs {:.2} us (a system call), {bindfs}",
            per_call[0]
        ),
        None,
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
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/fuse-bench"));
    if let Err(why) = memory_case(&mut report, base) {
        report.push(Row::standalone(
            "fuse/memory_rss_8000_small_files",
            "bytes",
            0.0,
            &format!("not measured: {why}"),
            Some(false),
        ));
    }
    report.write()
}
