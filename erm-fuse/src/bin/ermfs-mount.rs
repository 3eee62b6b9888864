//! `ermfs-mount [SOURCE] DIR [-o OPTIONS] [FLAGS]`: mount a compressed RAM
//! store on `DIR` with FUSE. Idle files cost their gzip size; SIGINT,
//! SIGTERM or `fusermount3 -u DIR` unmount it (and the store is gone).
//! `SOURCE DIR -o LIST` is the convention `mount.fuse3` and `mount(8)`
//! helpers use; the `-o` words are tmpfs's plus ERMFS's own
//! ([`erm_fuse::options`]). Called as `mount.fuse.ermfs` it takes the
//! `mount(8)` helper's arguments; `ermfs-mount stats DIR` and `ermfs-mount
//! remount DIR -o ...` talk to a live mount ([`erm_fuse::control`]); logs
//! through [`erm_fuse::logging`].

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use erm_fuse::logging::{self, LogTarget};
use erm_fuse::options::{MountOptions, check_block_size, parse_delay, parse_size};
use erm_fuse::{MountConfig, control, daemon};
use ermfs::Fs;

/// Mounts a compressed RAM file system on DIR: like tmpfs, but closed
/// files are kept gzip-compressed (open files are plain pages).
///
/// Options come as flags or as `-o` words, tmpfs's syntax included:
/// `ermfs-mount ram /mnt -o size=2G,mode=1777,noatime`.
///
/// A live mount: `ermfs-mount stats DIR` prints what it holds;
/// `ermfs-mount remount DIR -o size=4G` (or `mount -o remount,size=4G DIR`
/// with the mount(8) helper) changes size=, nr_inodes=, the atime policy
/// and lockless/locked.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// `[SOURCE] DIR`: the mount point (an existing, empty directory),
    /// optionally after a source name (shown as the file system's name, as
    /// `mount -t fuse.ermfs SOURCE DIR` passes it).
    #[arg(num_args = 1..=2, required = true, value_name = "[SOURCE] DIR")]
    paths: Vec<PathBuf>,
    /// Comma-separated mount options (repeatable): size=, nr_inodes=, mode=,
    /// uid=, gid=, noatime|relatime|strictatime, level=, block_size=,
    /// compress_delay=, lockless|locked, threads=, writeback_cache, ro,
    /// allow_other, auto_unmount, nonempty, log=syslog|stderr|PATH.
    #[arg(short = 'o', value_name = "OPTIONS")]
    options: Vec<String>,
    /// Most bytes held (raw and compressed), as `size=`: `512M`, `2GiB`,
    /// `1.5G`, `50%` of RAM; `0`: no limit. Default: half of RAM, as tmpfs.
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Most inodes (files, directories, symlinks, special files), as
    /// `nr_inodes=`: `10000`, `64k`; `0`: no limit (the default).
    #[arg(long, value_name = "N")]
    nr_inodes: Option<String>,
    /// Deflate level for closed files, 0 (stored) to 12 (smallest); default 6.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=12))]
    level: Option<u32>,
    /// Uncompressed bytes per gzip member (random access unit), e.g. `256K`.
    #[arg(long, value_name = "SIZE")]
    block_size: Option<String>,
    /// Seconds a closed file stays raw before it is compressed: `0`
    /// compresses in the last close, `never` keeps files raw; default 2.
    #[arg(long, value_name = "SECS|never")]
    compress_delay: Option<String>,
    /// Lock-free tables (atomics/CAS).
    #[arg(long, conflicts_with = "locked")]
    lockless: bool,
    /// Mutex-based tables (the default unless built with `lockless`).
    #[arg(long)]
    locked: bool,
    /// Threads answering FUSE requests; default 2.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: Option<u64>,
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
    /// Serve open files' reads and writes in the daemon instead of letting
    /// the kernel do them on the files' memfds (FUSE passthrough, on by
    /// default where the kernel and CAP_SYS_ADMIN allow it).
    #[arg(long)]
    no_passthrough: bool,
    /// More log detail: `-v` every refused request, `-vv` every request
    /// (`RUST_LOG` overrides; logs go to stderr with -f, else to syslog or
    /// `-o log=PATH`).
    #[arg(short, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Log only warnings and errors.
    #[arg(short, long)]
    quiet: bool,
}

impl Args {
    fn dir(&self) -> &Path {
        &self.paths[self.paths.len() - 1]
    }

    /// The flags, then each `-o` list in turn (a later word wins).
    fn options(&self, ram: u64) -> Result<MountOptions, String> {
        let mut o = MountOptions::default();
        if let Some(size) = &self.memory_limit {
            o.size = Some(parse_size(size, ram).map_err(|e| format!("--memory-limit: {e}"))?);
        }
        if let Some(n) = &self.nr_inodes {
            o.apply(&format!("nr_inodes={n}"), ram)
                .map_err(|e| format!("--{e}"))?;
        }
        o.level = self.level;
        if let Some(block) = &self.block_size {
            let bytes = parse_size(block, ram).map_err(|e| format!("--block-size: {e}"))?;
            o.block_size = Some(check_block_size(bytes).map_err(|e| format!("--{e}"))?);
        }
        if let Some(delay) = &self.compress_delay {
            o.compression = Some(parse_delay(delay).map_err(|e| format!("--{e}"))?);
        }
        if self.lockless || self.locked {
            o.lockless = Some(self.lockless);
        }
        o.threads = self.threads.and_then(|t| usize::try_from(t).ok());
        o.allow_other = self.allow_other;
        o.auto_unmount = self.auto_unmount;
        o.read_only = self.read_only;
        o.writeback_cache = self.writeback_cache;
        o.no_passthrough = self.no_passthrough;
        for list in &self.options {
            o.apply(list, ram)?;
        }
        Ok(o)
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

/// Refuses a mount point that cannot or should not be mounted on, saying
/// what to do: missing, not a directory, a dead FUSE mount, a live mount,
/// or (without `nonempty`) a directory with entries.
fn check_mount_point(dir: &Path, nonempty: bool) -> Result<(), String> {
    let d = dir.display();
    match std::fs::metadata(dir) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
            return Err(format!(
                "{d} is a dead FUSE mount (its daemon is gone): unmount it with \
                 `fusermount3 -u {d}` (as root also `umount -l {d}`), then mount again"
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!(
                "{d} does not exist: create it first (`mkdir -p {d}`)"
            ));
        }
        Err(e) => return Err(format!("{d}: {e}")),
        Ok(m) if !m.is_dir() => return Err(format!("{d} is not a directory")),
        Ok(_) => {}
    }
    if is_mount_point(dir) {
        return Err(format!(
            "{d} is already a mount point (busy): unmount it first with `fusermount3 -u {d}`"
        ));
    }
    let has_entries = std::fs::read_dir(dir)
        .map_err(|e| format!("{d}: {e}"))?
        .next()
        .is_some();
    if has_entries && !nonempty {
        return Err(format!(
            "{d} is not empty: its files would be hidden under the mount; \
             add `-o nonempty` to mount over them anyway"
        ));
    }
    Ok(())
}

fn build(o: &MountOptions, ram: u64) -> Result<Fs, String> {
    // tmpfs's default: half of RAM; `size=0`: no limit.
    let limit = match o.size.unwrap_or(ram / 2) {
        0 => None,
        b => Some(usize::try_from(b).map_err(|_| "size= too large for this machine")?),
    };
    let block =
        usize::try_from(o.block_size.unwrap_or(256 << 10)).map_err(|_| "block_size= too large")?;
    // Owned by the mounting user unless uid=/gid= say otherwise, so
    // `ermfs-mount ~/ram` gives a usable dir.
    let (uid, gid) = daemon::ids();
    let mut builder = Fs::builder();
    if let Some(lockless) = o.lockless {
        builder = builder.lockless(lockless);
    }
    if let Some(atime) = o.atime {
        builder = builder.atime(atime);
    }
    let fs = builder
        .memory_limit(limit)
        .inode_limit(o.nr_inodes.filter(|&n| n != 0))
        .compression_level(o.level.unwrap_or(6))
        .block_size(block)
        .compression(
            o.compression
                .unwrap_or(ermfs::CompressionPolicy::Background {
                    delay: std::time::Duration::from_secs(2),
                }),
        )
        .owner(o.uid.unwrap_or(uid), o.gid.unwrap_or(gid))
        // File handles (open_by_handle_at, NFS export) find inodes by number.
        .inode_index(true)
        .build()
        .map_err(|e| format!("cannot create the store: {e}"))?;
    if let Some(mode) = o.mode {
        fs.chmod("/", mode)
            .map_err(|e| format!("mode={mode:o}: {e}"))?;
    }
    Ok(fs)
}

/// Whether the logger writes to standard error (then `main` need not print
/// the final error a second time).
static LOGS_ON_STDERR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Installs the logger: `-o log=` if given, else standard error in the
/// foreground and syslog once detached (without `/dev/log`, a detached
/// daemon logs nothing and says so now).
fn start_logging(args: &Args, o: &MountOptions) -> Result<(), String> {
    let verbosity = if args.quiet {
        -1
    } else {
        i8::try_from(args.verbose).unwrap_or(i8::MAX)
    };
    let target = match &o.log {
        Some(t) => t.clone(),
        None if args.foreground => LogTarget::Stderr,
        None => LogTarget::Syslog,
    };
    match logging::init(verbosity, &target) {
        Ok(()) => {}
        Err(e) if o.log.is_none() => eprintln!("ermfs-mount: no logs once detached: {e}"),
        Err(e) => return Err(e),
    }
    let _ = LOGS_ON_STDERR.set(target == LogTarget::Stderr);
    Ok(())
}

fn run(args: Args) -> Result<(), String> {
    let dir = args.dir();
    let ram = daemon::ram_bytes();
    let o = args.options(ram)?;
    if o.remount {
        return remount(dir, &changes(&o));
    }
    if let [source, _] = args.paths.as_slice() {
        let name = source.to_string_lossy();
        if name.is_empty() || name.contains(|c: char| c == ',' || c.is_whitespace()) {
            return Err(format!(
                "SOURCE {name:?}: a name without commas or spaces, e.g. `ram`"
            ));
        }
    }
    check_mount_point(dir, o.nonempty)?;
    start_logging(&args, &o)?;
    let report = if args.foreground {
        None
    } else {
        Some(daemon::detach().map_err(|e| format!("cannot detach: {e}"))?)
    };
    let signals = daemon::Signals::block();
    let fs = build(&o, ram)?;
    let config = MountConfig {
        threads: o.threads.unwrap_or(2),
        allow_other: o.allow_other,
        auto_unmount: o.auto_unmount,
        read_only: o.read_only,
        writeback_cache: o.writeback_cache,
        passthrough: !o.no_passthrough,
        atime: o.atime,
        fsname: match args.paths.as_slice() {
            [source, _] => source.to_string_lossy().into_owned(),
            _ => "ermfs".to_owned(),
        },
        ..MountConfig::default()
    };
    // Only the mount changes this store: the writeback cache is safe.
    let (session, mut unmounter) = erm_fuse::mount(fs, dir, &config)
        .map_err(|e| format!("cannot mount on {}: {e}", dir.display()))?;
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("ermfs-fuse".into())
        .spawn(move || {
            let _ = done.send(session.run());
            // Unmounted from outside (fusermount3 -u): wake the main thread.
            daemon::wake();
        })
        .map_err(|e| format!("cannot start the server thread: {e}"))?;
    tracing::info!("mounted {} on {} with {o:?}", config.fsname, dir.display());
    if let Some(detached) = report {
        detached.mounted();
    } else {
        tracing::info!("Ctrl-C or SIGTERM unmounts {}", dir.display());
    }
    let sig = signals.wait();
    let d = dir.display();
    if let Ok(result) = ended.try_recv() {
        // The session ended first: unmounted from outside.
        tracing::info!("{d} was unmounted; exiting");
        return result.map_err(|e| format!("FUSE session ended with: {e}"));
    }
    let name = daemon::signal_name(sig);
    match unmounter.unmount() {
        Ok(false) => tracing::info!("{name}: unmounted {d}"),
        Ok(true) => {
            // Detached while in use: its users see ENOTCONN once this
            // process is gone; waiting for them could take forever.
            tracing::info!("{name}: {d} was busy: detached it (lazy unmount) and exiting");
            return Ok(());
        }
        Err(e) => return Err(format!("{name}: cannot unmount {d}: {e}; exiting anyway")),
    }
    // The session ends once the kernel lets go; never wait for it long.
    match ended.recv_timeout(std::time::Duration::from_secs(3)) {
        Ok(Ok(())) | Err(_) => Ok(()),
        Ok(Err(e)) => Err(format!("FUSE session ended with: {e}")),
    }
}

/// The words of `o` a live mount can change ([`control::CHANGEABLE`]), as
/// `-o` words; the others keep their mount-time values, as tmpfs keeps
/// `mode=` on a remount (so a remount from an fstab line, which repeats
/// them all, works).
fn changes(o: &MountOptions) -> String {
    let mut words = Vec::new();
    if let Some(size) = o.size {
        words.push(format!("size={size}"));
    }
    if let Some(n) = o.nr_inodes {
        words.push(format!("nr_inodes={n}"));
    }
    words.extend(o.atime.map(|a| match a {
        ermfs::AtimePolicy::Noatime => "noatime".to_owned(),
        ermfs::AtimePolicy::Strict => "strictatime".to_owned(),
        ermfs::AtimePolicy::Relatime => "relatime".to_owned(),
    }));
    words.extend(
        o.lockless
            .map(|l| if l { "lockless" } else { "locked" }.to_owned()),
    );
    words.join(",")
}

/// Sends the changes to the live mount at `dir` ([`control::remount`]).
fn remount(dir: &Path, options: &str) -> Result<(), String> {
    let d = dir.display();
    control::remount(dir, options).map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) => format!("remount {d}: only root or the mount's owner may change it"),
        Some(libc::EINVAL) => format!(
            "remount {d}: refused, nothing changed: a size= or nr_inodes= below what is in \
             use (see `ermfs-mount stats {d}`)"
        ),
        Some(libc::ENOTTY) => format!("remount {d}: not the root of an ERMFS mount"),
        _ => format!("remount {d}: {e}"),
    })?;
    Ok(())
}

/// `ermfs-mount stats DIR`: the mount's [`control::MountStats`], then the
/// FUSE requests it has served per operation.
fn stats(argv: &[String]) -> ExitCode {
    let [dir] = argv else {
        eprintln!("usage: ermfs-mount stats DIR");
        return ExitCode::FAILURE;
    };
    match control::stats(Path::new(dir)).and_then(|s| Ok((s, control::requests(Path::new(dir))?))) {
        Ok((s, requests)) => {
            println!("{s}");
            println!("FUSE requests served, per operation:");
            print!("{requests}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let why = match e.raw_os_error() {
                Some(libc::ENOTTY) => "not the root of an ERMFS mount".to_owned(),
                _ => e.to_string(),
            };
            eprintln!("ermfs-mount stats {dir}: {why}");
            ExitCode::FAILURE
        }
    }
}

/// The `mount(8)` helper convention, `mount.fuse.ermfs SOURCE DIR [-sfnv]
/// [-o OPTIONS] [-t TYPE]`, as this program's own arguments; `None` for
/// `-f` (a fake mount: nothing to do).
///
/// # Errors
/// A message for an argument the convention does not have.
fn helper_args(argv: &[String]) -> Result<Option<Vec<String>>, String> {
    let mut out = vec!["ermfs-mount".to_owned()];
    let mut positional = Vec::new();
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" => {
                let list = it.next().ok_or("-o needs an option list")?;
                out.extend(["-o".to_owned(), list.clone()]);
            }
            "-t" => {
                let t = it.next().ok_or("-t needs a type")?;
                if t != "fuse.ermfs" && t != "ermfs" {
                    return Err(format!("-t {t}: this helper mounts fuse.ermfs"));
                }
            }
            "-N" => return Err("-N (another mount namespace) is not supported".to_owned()),
            flags if flags.starts_with('-') && flags.len() > 1 => {
                for f in flags.chars().skip(1) {
                    match f {
                        // sloppy, no mtab, verbose: nothing to change here.
                        's' | 'n' | 'v' => {}
                        'f' => return Ok(None),
                        other => {
                            return Err(format!(
                                "-{other}: not a mount helper flag (-s, -f, -n, -v, -o, -t)"
                            ));
                        }
                    }
                }
            }
            _ => positional.push(a.clone()),
        }
    }
    if positional.len() != 2 {
        return Err("usage: mount.fuse.ermfs SOURCE DIR [-o OPTIONS]".to_owned());
    }
    out.extend(positional);
    Ok(Some(out))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let helper = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n.to_string_lossy().starts_with("mount."));
    if !helper {
        match argv.get(1).map(String::as_str) {
            Some("stats") => return stats(&argv[2..]),
            Some("remount") => {
                let mut own = vec![
                    "ermfs-mount".to_owned(),
                    "-o".to_owned(),
                    "remount".to_owned(),
                ];
                own.extend(argv[2..].iter().cloned());
                return match run(Args::parse_from(own)) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(msg) => {
                        eprintln!("ermfs-mount: {msg}");
                        ExitCode::FAILURE
                    }
                };
            }
            _ => {}
        }
    }
    let args = if helper {
        match helper_args(&argv) {
            Ok(Some(own)) => Args::parse_from(own),
            Ok(None) => return ExitCode::SUCCESS,
            Err(msg) => {
                eprintln!("mount.fuse.ermfs: {msg}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        Args::parse()
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            tracing::warn!("{msg}");
            if LOGS_ON_STDERR.get() != Some(&true) {
                eprintln!("ermfs-mount: {msg}");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::helper_args;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn mount_helper_arguments() {
        let own = helper_args(&strings(&[
            "/sbin/mount.fuse.ermfs",
            "ram",
            "/mnt",
            "-sv",
            "-o",
            "rw,size=2G",
            "-t",
            "fuse.ermfs",
        ]));
        assert_eq!(
            own,
            Ok(Some(strings(&[
                "ermfs-mount",
                "-o",
                "rw,size=2G",
                "ram",
                "/mnt"
            ])))
        );
        assert_eq!(
            helper_args(&strings(&["mount.fuse.ermfs", "ram", "/mnt", "-f"])),
            Ok(None)
        );
        for bad in [
            &["m", "ram"][..],
            &["m", "ram", "/mnt", "-x"],
            &["m", "ram", "/mnt", "-t", "ext4"],
            &["m", "a", "b", "-o"],
        ] {
            assert!(helper_args(&strings(bad)).is_err(), "{bad:?}");
        }
    }
}
