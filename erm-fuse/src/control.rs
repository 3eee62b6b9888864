//! Control requests to a running mount: `ioctl`s on its root directory.
//!
//! `mount -o remount` changes only the kernel's side of a FUSE mount, so a
//! live mount is reached the way a program reaches any file system: open
//! its root directory and send an `ioctl`, which the kernel forwards to
//! the daemon as a FUSE request. Three commands, all on the root only:
//!
//! - [`STATS_IOCTL`] (`_IOR('E', 0xe1, 256 bytes)`): anyone who can open
//!   the root reads [`MountStats`], as `ermfs-mount stats DIR` prints them;
//! - [`REQUESTS_IOCTL`] (`_IOR('E', 0xe3, 512 bytes)`): anyone who can
//!   open the root reads the FUSE requests served per operation
//!   ([`RequestCounts`]);
//! - [`REMOUNT_IOCTL`] (`_IOW('E', 0xe2, 1024 bytes)`): root or the user
//!   who mounted it sends `-o` words (NUL-padded text); the changeable
//!   ones ([`CHANGEABLE`]) take effect at once, the others keep their
//!   mount-time values, as tmpfs keeps `mode=` on a remount. A size or
//!   inode limit below what is in use is refused with `EINVAL`, changing
//!   nothing (tmpfs's rule).
//!
//! Any other `ioctl` gets `ENOTTY`, as on a file system without them.

use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use ermfs::{AtimePolicy, Fs};

use crate::options::MountOptions;
use crate::requests::{REQUESTS_LEN, RequestCounts, Requests};
use crate::sys;

/// Bytes of the stats reply: 32 little-endian `u64` slots.
const STATS_LEN: usize = 256;

/// Bytes of a remount request: the `-o` words, NUL-padded.
pub const REMOUNT_LEN: usize = 1024;

/// Reads a mount's [`MountStats`] (an `ioctl` on its root directory).
pub const STATS_IOCTL: u32 = sys::ioc(2, b'E', 0xe1, STATS_LEN);

/// Reads a mount's [`RequestCounts`] (an `ioctl` on its root directory).
pub const REQUESTS_IOCTL: u32 = sys::ioc(2, b'E', 0xe3, REQUESTS_LEN);

/// Sends a mount `-o` words to change (an `ioctl` on its root directory).
pub const REMOUNT_IOCTL: u32 = sys::ioc(1, b'E', 0xe2, REMOUNT_LEN);

/// The options a live mount can change.
pub const CHANGEABLE: &str = "size=, nr_inodes=, noatime, relatime, strictatime, lockless, locked";

/// The version of the stats layout (slot 0).
const VERSION: u64 = 1;

/// What a mount holds and has done, as `ermfs-mount stats DIR` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MountStats {
    /// Regular files (hard links once).
    pub files: u64,
    /// Directories, the root included.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// FIFOs, sockets and device nodes.
    pub specials: u64,
    /// Files open now (open descriptions).
    pub open_files: u64,
    /// Bytes charged for uncompressed content (open and not yet
    /// compressed files).
    pub raw_bytes: u64,
    /// Bytes of compressed streams (closed files).
    pub compressed_bytes: u64,
    /// Uncompressed size of the files those streams hold.
    pub packed_raw_bytes: u64,
    /// Bytes charged against the size limit (content, streams, xattrs).
    pub memory_used: u64,
    /// The size limit (`size=`), `None` for none.
    pub memory_limit: Option<u64>,
    /// Inodes in use (files, directories, symlinks, special files).
    pub inodes: u64,
    /// The inode limit (`nr_inodes=`), `None` for none.
    pub inode_limit: Option<u64>,
    /// Files compressed so far.
    pub compressions: u64,
    /// Compressions stopped because the file was opened meanwhile.
    pub compressions_cancelled: u64,
    /// Closed files waiting for their compression.
    pub pending_compressions: u64,
    /// Compressed files inflated in full (reopened for writing).
    pub inflations: u64,
    /// Bytes written into files.
    pub bytes_written: u64,
    /// Bytes read from files.
    pub bytes_read: u64,
}

impl MountStats {
    /// The stats of `fs` now.
    pub fn of(fs: &Fs) -> MountStats {
        let s = fs.stats();
        let statfs = fs.statfs();
        MountStats {
            files: s.files,
            dirs: s.dirs,
            symlinks: s.symlinks,
            specials: s.specials,
            open_files: s.open_fds,
            raw_bytes: s.raw_bytes,
            compressed_bytes: s.compressed_bytes,
            packed_raw_bytes: s.packed_raw_bytes,
            memory_used: fs.memory_used() as u64,
            memory_limit: fs.memory_limit().map(|l| l as u64),
            inodes: statfs.files - statfs.files_free,
            inode_limit: fs.inode_limit(),
            compressions: s.compressions,
            compressions_cancelled: s.compressions_cancelled,
            pending_compressions: s.pending_compressions,
            inflations: s.inflations,
            bytes_written: s.bytes_written,
            bytes_read: s.bytes_read,
        }
    }

    /// The uncompressed size of the compressed files over their streams'
    /// size (`None` with nothing compressed).
    pub fn ratio(&self) -> Option<f64> {
        (self.compressed_bytes > 0)
            .then(|| self.packed_raw_bytes as f64 / self.compressed_bytes as f64)
    }

    /// The slots in wire order (limits: `u64::MAX` for none).
    fn slots(&self) -> [u64; 18] {
        let none = |l: Option<u64>| l.unwrap_or(u64::MAX);
        [
            self.files,
            self.dirs,
            self.symlinks,
            self.specials,
            self.open_files,
            self.raw_bytes,
            self.compressed_bytes,
            self.packed_raw_bytes,
            self.memory_used,
            none(self.memory_limit),
            self.inodes,
            none(self.inode_limit),
            self.compressions,
            self.compressions_cancelled,
            self.pending_compressions,
            self.inflations,
            self.bytes_written,
            self.bytes_read,
        ]
    }

    /// The reply's bytes: version, slot count, slots.
    fn encode(&self) -> [u8; STATS_LEN] {
        let slots = self.slots();
        let mut out = [0u8; STATS_LEN];
        let words = [VERSION, slots.len() as u64].into_iter().chain(slots);
        for (chunk, word) in out.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Decodes a reply; `None` for another layout.
    fn decode(bytes: &[u8; STATS_LEN]) -> Option<MountStats> {
        let mut words = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()));
        if words.next()? != VERSION || words.next()? != 18 {
            return None;
        }
        let mut w = [0u64; 18];
        for slot in &mut w {
            *slot = words.next()?;
        }
        let some = |v: u64| (v != u64::MAX).then_some(v);
        Some(MountStats {
            files: w[0],
            dirs: w[1],
            symlinks: w[2],
            specials: w[3],
            open_files: w[4],
            raw_bytes: w[5],
            compressed_bytes: w[6],
            packed_raw_bytes: w[7],
            memory_used: w[8],
            memory_limit: some(w[9]),
            inodes: w[10],
            inode_limit: some(w[11]),
            compressions: w[12],
            compressions_cancelled: w[13],
            pending_compressions: w[14],
            inflations: w[15],
            bytes_written: w[16],
            bytes_read: w[17],
        })
    }
}

/// Bytes as `df -h` writes them (binary units, one decimal below 10).
fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ if value < 10.0 => format!("{value:.1} {}", UNITS[unit]),
        _ => format!("{value:.0} {}", UNITS[unit]),
    }
}

impl fmt::Display for MountStats {
    /// The table `ermfs-mount stats` prints, one fact a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = |l: Option<u64>, show: &dyn Fn(u64) -> String| {
            l.map_or_else(|| "no limit".to_owned(), |l| format!("of {}", show(l)))
        };
        writeln!(
            f,
            "entries      {} files, {} directories, {} symlinks, {} special",
            self.files, self.dirs, self.symlinks, self.specials
        )?;
        writeln!(
            f,
            "inodes       {} {}",
            self.inodes,
            limit(self.inode_limit, &|l| l.to_string())
        )?;
        let ratio = self
            .ratio()
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"));
        writeln!(
            f,
            "compressed   {} of files in {} (ratio {ratio})",
            human(self.packed_raw_bytes),
            human(self.compressed_bytes)
        )?;
        writeln!(
            f,
            "raw          {} in {} open files and files not yet compressed",
            human(self.raw_bytes),
            self.open_files
        )?;
        let used = match self.memory_limit {
            Some(l) if l > 0 => format!(
                "{} of {} ({:.1}%)",
                human(self.memory_used),
                human(l),
                self.memory_used as f64 * 100.0 / l as f64
            ),
            _ => format!("{} (no limit)", human(self.memory_used)),
        };
        writeln!(f, "memory       {used}")?;
        writeln!(
            f,
            "compressions {} done, {} cancelled, {} pending; {} inflated back",
            self.compressions,
            self.compressions_cancelled,
            self.pending_compressions,
            self.inflations
        )?;
        write!(
            f,
            "traffic      {} written, {} read",
            human(self.bytes_written),
            human(self.bytes_read)
        )
    }
}

/// Reads the stats of the mount at `dir` (its root directory).
///
/// # Errors
/// `ENOTTY` if `dir` is not the root of an ERMFS mount, `EPROTO` for a
/// daemon with another stats layout, the open's errors.
pub fn stats(dir: &Path) -> io::Result<MountStats> {
    let root = std::fs::File::open(dir)?;
    let mut buf = [0u8; STATS_LEN];
    sys::ioctl_buf(root.as_fd(), STATS_IOCTL, &mut buf)?;
    MountStats::decode(&buf).ok_or_else(|| io::Error::from_raw_os_error(libc::EPROTO))
}

/// Reads the FUSE requests the mount at `dir` has served, per operation.
///
/// # Errors
/// Opening `dir`; `ENOTTY` if `dir` is not the root of an ERMFS mount;
/// `EPROTO` if the daemon's answer has the wrong length.
pub fn requests(dir: &Path) -> io::Result<RequestCounts> {
    let root = std::fs::File::open(dir)?;
    let mut buf = [0u8; REQUESTS_LEN];
    sys::ioctl_buf(root.as_fd(), REQUESTS_IOCTL, &mut buf)?;
    RequestCounts::decode(&buf).ok_or_else(|| io::Error::from_raw_os_error(libc::EPROTO))
}

/// Asks the mount at `dir` to apply the `-o` words `options` (see the
/// module docs for which change); as root, an atime word also sets the
/// kernel's per-mount flag, so the mount table shows the policy.
///
/// # Errors
/// `EPERM` unless root or the mount's owner; `EINVAL` for a limit below
/// what is in use or words the daemon refuses; `ENAMETOOLONG` for more
/// than [`REMOUNT_LEN`] bytes; `ENOTTY` if `dir` is not an ERMFS root.
pub fn remount(dir: &Path, options: &str) -> io::Result<()> {
    if options.len() >= REMOUNT_LEN || options.contains('\0') {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    let root = std::fs::File::open(dir)?;
    let mut buf = [0u8; REMOUNT_LEN];
    buf[..options.len()].copy_from_slice(options.as_bytes());
    sys::ioctl_buf(root.as_fd(), REMOUNT_IOCTL, &mut buf)?;
    // The kernel's per-mount atime flag follows the policy (what findmnt
    // shows); only root may change it, and the store's policy is what
    // reads obey either way.
    let mut asked = MountOptions::default();
    asked
        .apply(options, 0)
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    if let (Some(policy), 0) = (asked.atime, sys::euid()) {
        let flag = match policy {
            AtimePolicy::Noatime => libc::MS_NOATIME,
            AtimePolicy::Strict => libc::MS_STRICTATIME,
            AtimePolicy::Relatime => libc::MS_RELATIME,
        };
        sys::set_mount_atime(&dir.canonicalize()?, flag)?;
    }
    Ok(())
}

/// Applies the changeable words of a remount request to `fs`, all or
/// nothing: every limit is checked against the use before any is set.
fn apply_remount(fs: &Fs, text: &str) -> Result<(), i32> {
    let mut o = MountOptions::default();
    o.apply(text, sys::ram_bytes()).map_err(|_| libc::EINVAL)?;
    let size = o
        .size
        .map(|s| match s {
            0 => Ok(None),
            s => usize::try_from(s).map(Some).map_err(|_| libc::EINVAL),
        })
        .transpose()?;
    let inodes = o.nr_inodes.map(|n| (n != 0).then_some(n));
    let used = fs.memory_used();
    if size.flatten().is_some_and(|s| s < used) {
        return Err(libc::EINVAL);
    }
    let statfs = fs.statfs();
    if inodes
        .flatten()
        .is_some_and(|n| n < statfs.files - statfs.files_free)
    {
        return Err(libc::EINVAL);
    }
    let errno = |e: io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    if let Some(size) = size {
        fs.set_memory_limit(size).map_err(errno)?;
    }
    if let Some(inodes) = inodes {
        fs.set_inode_limit(inodes).map_err(errno)?;
    }
    if let Some(policy) = o.atime {
        fs.set_atime_policy(policy);
    }
    if let Some(lockless) = o.lockless {
        fs.set_lockless_mode(lockless).map_err(errno)?;
    }
    Ok(())
}

/// Answers a control `ioctl` on the root: the reply's bytes or an errno.
/// `caller` is the requesting uid; `owner` the daemon's.
pub(crate) fn serve(
    fs: &Fs,
    requests: &Requests,
    cmd: u32,
    input: &[u8],
    caller: u32,
    owner: u32,
) -> Result<Vec<u8>, i32> {
    match cmd {
        STATS_IOCTL => Ok(MountStats::of(fs).encode().to_vec()),
        REQUESTS_IOCTL => Ok(requests.snapshot().encode().to_vec()),
        REMOUNT_IOCTL => {
            if caller != 0 && caller != owner {
                return Err(libc::EPERM);
            }
            let end = input.iter().position(|&b| b == 0).unwrap_or(input.len());
            let text = std::str::from_utf8(&input[..end]).map_err(|_| libc::EINVAL)?;
            apply_remount(fs, text).map(|()| Vec::new())
        }
        _ => Err(libc::ENOTTY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_are_the_kernels_encoding() {
        // _IOR('E', 0xe1, 256) and _IOW('E', 0xe2, 1024) as <asm/ioctl.h>.
        assert_eq!(STATS_IOCTL, 0x8100_45e1);
        assert_eq!(REMOUNT_IOCTL, 0x4400_45e2);
    }

    #[test]
    fn stats_survive_the_wire() {
        let fs = Fs::builder()
            .memory_limit(Some(1 << 20))
            .inode_limit(Some(10))
            .build()
            .unwrap();
        fs.mkdir("/d", 0o755).unwrap();
        let s = MountStats::of(&fs);
        assert_eq!((s.dirs, s.inodes, s.inode_limit), (2, 2, Some(10)));
        assert_eq!(MountStats::decode(&s.encode()), Some(s));
        let mut other = s.encode();
        other[0] = 9;
        assert_eq!(MountStats::decode(&other), None, "another version");
        let text = s.to_string();
        assert!(
            text.contains("2 directories") && text.contains("of 1.0 MiB"),
            "{text}"
        );
    }

    #[test]
    fn remount_changes_only_what_can_change_all_or_nothing() {
        let fs = Fs::builder().memory_limit(Some(1 << 20)).build().unwrap();
        let fd = fs.open("/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        fs.write(fd, &vec![1u8; 300_000]).unwrap();
        let send = |text: &str, caller| {
            serve(
                &fs,
                &Requests::default(),
                REMOUNT_IOCTL,
                text.as_bytes(),
                caller,
                1000,
            )
        };
        assert_eq!(send("size=4m", 1001), Err(libc::EPERM), "a stranger");
        assert_eq!(send("size=4m,nr_inodes=9", 1000), Ok(Vec::new()));
        assert_eq!(fs.memory_limit(), Some(4 << 20));
        assert_eq!(fs.inode_limit(), Some(9));
        // Below the use: refused, and the other word is not applied either.
        assert_eq!(send("nr_inodes=20,size=64k", 0), Err(libc::EINVAL));
        assert_eq!(
            (fs.memory_limit(), fs.inode_limit()),
            (Some(4 << 20), Some(9))
        );
        assert_eq!(send("nr_inodes=1", 0), Err(libc::EINVAL), "2 inodes in use");
        // Words fixed at mount time are accepted and change nothing.
        assert_eq!(
            send("rw,remount,level=9,mode=700,size=0,noatime", 0),
            Ok(Vec::new())
        );
        assert_eq!(fs.memory_limit(), None);
        assert_eq!(fs.atime_policy(), ermfs::AtimePolicy::Noatime);
        assert_eq!(send("size=lots", 0), Err(libc::EINVAL));
        assert_eq!(
            serve(&fs, &Requests::default(), 0x5401, &[], 0, 0),
            Err(libc::ENOTTY)
        );
        fs.close(fd).unwrap();
    }

    #[test]
    fn sizes_read_as_df_writes_them() {
        assert_eq!(human(999), "999 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(200 << 20), "200 MiB");
    }
}
