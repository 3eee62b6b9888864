//! `statfs`: the memory limit seen as a disk ([`StatFs`]).

use crate::api::fs::Fs;
use crate::types::name::NAME_MAX;

/// Block size `statfs` counts in (the page size ERMFS reports as `st_blksize`).
const BLOCK: u64 = 4096;

/// What [`Fs::statfs`] reports, in the shape of `struct statfs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFs {
    /// Block size (`f_bsize` and `f_frsize`): 4096.
    pub block_size: u64,
    /// Total blocks (`f_blocks`): the memory limit, or the machine's RAM
    /// (`MemTotal` of `/proc/meminfo`) without one.
    pub blocks: u64,
    /// Free blocks (`f_bfree`): the total less the bytes charged, rounded up.
    pub blocks_free: u64,
    /// Free blocks for unprivileged users (`f_bavail`): as `blocks_free`.
    pub blocks_available: u64,
    /// Inodes (`f_files`): the inode limit, or without one the registry's
    /// capacity (`u32::MAX` names).
    pub files: u64,
    /// Free inodes (`f_ffree`): that less the inodes in use (files,
    /// directories, symlinks and special files).
    pub files_free: u64,
    /// Longest name (`f_namelen`): 255.
    pub name_max: u64,
}

/// The machine's RAM in bytes, from `/proc/meminfo` (`None` if unreadable).
fn mem_total() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

impl Fs {
    /// Capacity and use, as statfs(2) reports them for a file system: the
    /// memory limit is the disk size and every byte charged (raw content,
    /// compressed streams, extended attributes) is used space. Without a
    /// limit the size is the machine's RAM (as tmpfs sizes itself from it),
    /// or `i64::MAX` bytes if `/proc/meminfo` cannot be read; the use may
    /// then pass it, and the free count stops at 0.
    ///
    /// ```
    /// let fs = ermfs::Fs::builder().memory_limit(Some(1 << 20)).build()?;
    /// let s = fs.statfs();
    /// assert_eq!((s.blocks, s.blocks_free, s.name_max), (256, 256, 255));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn statfs(&self) -> StatFs {
        let budget = &self.inner.shared.budget;
        let total = match budget.limit() {
            Some(limit) => limit as u64,
            None => mem_total().unwrap_or(i64::MAX as u64),
        };
        let used = budget.used() as u64;
        let blocks = total / BLOCK;
        let free = blocks.saturating_sub(used.div_ceil(BLOCK));
        let shared = &self.inner.shared;
        let inodes = shared.inodes_in_use();
        let files = shared.inode_limit().unwrap_or(u64::from(u32::MAX));
        StatFs {
            block_size: BLOCK,
            blocks,
            blocks_free: free,
            blocks_available: free,
            files,
            files_free: files.saturating_sub(inodes),
            name_max: NAME_MAX as u64,
        }
    }
}
