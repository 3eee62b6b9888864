//! `ermfs-mount DIR [OPTIONS]`: mount a compressed RAM store on `DIR` with
//! FUSE. Idle files cost their gzip size; SIGINT, SIGTERM or
//! `fusermount3 -u DIR` unmount it (and the store is gone).

use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use erm_fuse::{ErmFuse, MountConfig};
use ermfs::{CompressionPolicy, Fs};

/// Mount an ERMFS compressed RAM file store on DIR.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The mount point (an existing, empty directory).
    dir: PathBuf,
    /// Most bytes held (raw and compressed), e.g. `512M`, `4G`; writes past
    /// it fail with ENOSPC. Default: no limit (statfs shows the RAM size).
    #[arg(long, value_parser = parse_size)]
    memory_limit: Option<u64>,
    /// gzip level for closed files, 1 (fast) to 9 (small).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=9))]
    level: u32,
    /// Uncompressed bytes per gzip member (random access unit), e.g. `256K`.
    #[arg(long, default_value = "256K", value_parser = parse_size)]
    block_size: u64,
    /// Seconds a closed file stays raw before it is compressed: `0`
    /// compresses in the last close, `never` keeps files raw.
    #[arg(long, default_value = "2")]
    compress_delay: String,
    /// Lock-free tables (atomics/CAS).
    #[arg(long, conflicts_with = "locked")]
    lockless: bool,
    /// Mutex-based tables (the default unless built with `lockless`).
    #[arg(long)]
    locked: bool,
    /// Threads answering FUSE requests.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: u64,
    /// Let other users in (needs `user_allow_other` in /etc/fuse.conf unless root).
    #[arg(long)]
    allow_other: bool,
    /// Stay in the foreground (default: detach once mounted).
    #[arg(short, long)]
    foreground: bool,
    /// Unmount if this process dies (through fusermount3).
    #[arg(long)]
    auto_unmount: bool,
    /// Mount read-only.
    #[arg(long)]
    read_only: bool,
    /// Let the kernel cache writes and send them in batches (faster
    /// scattered small writes, slower large sequential ones).
    #[arg(long)]
    writeback_cache: bool,
}

/// `123`, `64K`, `512M`, `4G` (binary units).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 10),
        Some((i, 'm' | 'M')) => (&s[..i], 20),
        Some((i, 'g' | 'G')) => (&s[..i], 30),
        Some((i, 't' | 'T')) => (&s[..i], 40),
        _ => (s, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("not a size: {s:?}"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

fn policy(delay: &str) -> Result<CompressionPolicy, String> {
    if delay == "never" {
        return Ok(CompressionPolicy::Never);
    }
    let secs: f64 = delay
        .parse()
        .map_err(|_| format!("--compress-delay: seconds or `never`, not {delay:?}"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("--compress-delay: bad value {delay:?}"));
    }
    if secs == 0.0 {
        Ok(CompressionPolicy::Immediate)
    } else {
        Ok(CompressionPolicy::Background {
            delay: Duration::from_secs_f64(secs),
        })
    }
}

/// Whether `dir` is already a mount point (a clear message beats the
/// mount's own error).
fn is_mount_point(dir: &Path) -> bool {
    let Ok(canon) = dir.canonicalize() else {
        return false;
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    // Field 5 is the mount point, with spaces etc. octal-escaped.
    let want = canon.to_string_lossy().replace(' ', "\\040");
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| m == want)
}

fn build(args: &Args) -> Result<Fs, String> {
    let limit = match args.memory_limit {
        Some(b) => Some(usize::try_from(b).map_err(|_| "--memory-limit too large")?),
        None => None,
    };
    let block = usize::try_from(args.block_size).map_err(|_| "--block-size too large")?;
    // Owned by the mounting user, so `ermfs-mount ~/ram` gives a usable dir.
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut builder = Fs::builder();
    if args.lockless || args.locked {
        builder = builder.lockless(args.lockless);
    }
    builder
        .memory_limit(limit)
        .compression_level(args.level)
        .block_size(block)
        .compression(policy(&args.compress_delay)?)
        .owner(uid, gid)
        // File handles (open_by_handle_at, NFS export) find inodes by number.
        .inode_index(true)
        .build()
        .map_err(|e| format!("cannot create the store: {e}"))
}

/// Detaches from the terminal: forks, the parent waits for the child to
/// report the mount and exits with its status. Returns the pipe end the
/// child reports on.
fn daemonize() -> io::Result<OwnedFd> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both fds are open and owned by us alone.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: called before any thread is started (main's first act), so
    // the child is a complete copy of a single-threaded process.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(rd);
            // SAFETY: setsid has no memory effects; failure is harmless.
            unsafe { libc::setsid() };
            Ok(wr)
        }
        _ => {
            drop(wr);
            let mut status = [0u8; 1];
            let ok = std::fs::File::from(rd).read(&mut status).ok() == Some(1) && status[0] == 1;
            std::process::exit(if ok { 0 } else { 1 });
        }
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread and every thread
/// started after, so only [`wait_signal`] sees them.
fn block_signals() -> libc::sigset_t {
    // SAFETY: an all-zero sigset_t is a valid value to initialise.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t; these calls only write to it and
    // to this thread's signal mask.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    set
}

fn wait_signal(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    // SAFETY: `set` and `sig` are valid for the call.
    unsafe { libc::sigwait(set, &mut sig) };
    sig
}

fn run(args: Args) -> Result<(), String> {
    let dir = &args.dir;
    if !dir.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    if is_mount_point(dir) {
        return Err(format!(
            "{0} is already a mount point (busy): unmount it first with `fusermount3 -u {0}`",
            dir.display()
        ));
    }
    let report = if args.foreground {
        None
    } else {
        Some(daemonize().map_err(|e| format!("cannot detach: {e}"))?)
    };
    let set = block_signals();
    let fs = build(&args)?;
    let config = MountConfig {
        threads: usize::try_from(args.threads).unwrap_or(1),
        allow_other: args.allow_other,
        auto_unmount: args.auto_unmount,
        read_only: args.read_only,
        writeback_cache: args.writeback_cache,
        ..MountConfig::default()
    };
    // Only the mount changes this store: the writeback cache is safe.
    let ermfuse = ErmFuse::new(fs, config.ttl).with_writeback_cache(config.writeback_cache);
    let mut session = fuser::Session::new(ermfuse, dir, &config.fuser_config())
        .map_err(|e| format!("cannot mount on {}: {e}", dir.display()))?;
    let mut unmounter = session.unmount_callable();
    let server = std::thread::Builder::new()
        .name("ermfs-fuse".into())
        .spawn(move || {
            let result = session.run();
            // Unmounted from outside (fusermount3 -u): wake the main thread.
            // SAFETY: kill on our own pid with a blocked, waited-for signal.
            unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
            result
        })
        .map_err(|e| format!("cannot start the server thread: {e}"))?;
    if let Some(report) = report {
        let mut pipe = std::fs::File::from(report);
        let _ = pipe.write_all(&[1]);
        if let Ok(null) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            use std::os::fd::AsRawFd;
            for target in 0..3 {
                // SAFETY: dup2 onto the standard fds, which we own.
                unsafe { libc::dup2(null.as_raw_fd(), target) };
            }
        }
    } else {
        eprintln!(
            "ermfs-mount: mounted on {} (Ctrl-C to unmount)",
            dir.display()
        );
    }
    wait_signal(&set);
    if let Err(e) = unmounter.unmount() {
        eprintln!("ermfs-mount: unmount: {e}");
    }
    match server.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("FUSE session ended with: {e}")),
        Err(_) => Err("the FUSE server thread panicked".into()),
    }
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("ermfs-mount: {msg}");
            ExitCode::FAILURE
        }
    }
}
