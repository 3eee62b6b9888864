//! FUSE passthrough: files whose reads, writes, splices and mappings the
//! kernel does itself, on a memfd that is the file's content while it is
//! open ([`ermfs::Fs::open_node_memfd`]).
//!
//! The kernel's rules (Linux 6.9+): registering a backing file needs
//! `CAP_SYS_ADMIN`; every open of one inode must name the same backing,
//! and passthrough and cached opens of one inode cannot be open at once
//! (the second kind fails with `EIO`). So the first open of an inode
//! decides its mode, and every later open follows it until the last
//! release: [`Opens`] counts the kernel's open files per inode with the
//! backing they share, if any.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use fuser::BackingId;

/// Whether this process may register backing files: the kernel requires
/// `CAP_SYS_ADMIN` in the initial user namespace. Read from
/// `/proc/self/status` (`CapEff`) and `/proc/self/uid_map` (the initial
/// namespace maps every uid to itself); should the kernel still refuse,
/// the first registration turns passthrough off.
pub(crate) fn may_register_backing() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    let capable = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let caps = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(caps.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN) != 0);
    let initial = std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    capable && initial
}

/// How long an open that could use passthrough waits for the RELEASE of
/// an inode's cached opens (see [`Opens::wait_for_release`]); an inode
/// that really is open cached elsewhere costs its opens this much.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_millis(1);

/// Shards of the table (a power of two).
const SHARDS: usize = 16;

/// The kernel's open files of one inode.
#[derive(Debug)]
pub(crate) struct Opened {
    /// Open files (releases subtract).
    pub opens: u32,
    /// The backing they share: `None` for cached (non-passthrough) opens.
    /// Dropping it closes the kernel's backing id.
    pub backing: Option<BackingId>,
}

/// Inodes the kernel has open, by node id, and whether passthrough is on.
#[derive(Debug)]
pub(crate) struct Opens {
    shards: Box<[Mutex<HashMap<u64, Opened>>]>,
    /// Asked for and usable: cleared at `init` when the kernel or the
    /// capabilities refuse it, or by the first refused registration.
    on: AtomicBool,
}

impl Opens {
    /// An empty table, passthrough `on` if asked for.
    pub fn new(on: bool) -> Opens {
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        Opens {
            shards,
            on: AtomicBool::new(on),
        }
    }

    /// Whether new inodes are opened through passthrough.
    pub fn on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// Turns passthrough off for inodes opened from now on, logging `why`
    /// once. Inodes open through it stay so until their last release.
    pub fn turn_off(&self, why: &str) {
        if self.on.swap(false, Ordering::AcqRel) {
            tracing::info!("FUSE passthrough off: {why}");
        }
    }

    /// The shard of inode `ino`, locked: held across an inode's first open
    /// so that its mode is decided once.
    pub fn shard(&self, ino: u64) -> MutexGuard<'_, HashMap<u64, Opened>> {
        // Each use is a few map operations around one open: a poisoned
        // lock still holds a consistent map.
        self.shards[ino as usize % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The shard of inode `ino`, locked, once its cached (non-passthrough)
    /// opens are all released or [`RELEASE_WAIT`] has passed. The kernel
    /// sends RELEASE after `close(2)` has returned, so a program that
    /// closes a file and opens it again (read it, then write it) finds the
    /// entry of the closed file here for a moment: waiting for it lets the
    /// new open use passthrough instead of following a file already gone.
    pub fn wait_for_release(&self, ino: u64) -> MutexGuard<'_, HashMap<u64, Opened>> {
        let start = std::time::Instant::now();
        loop {
            let shard = self.shard(ino);
            let cached = shard.get(&ino).is_some_and(|o| o.backing.is_none());
            if !cached || start.elapsed() >= RELEASE_WAIT {
                return shard;
            }
            drop(shard);
            std::thread::sleep(std::time::Duration::from_micros(20));
        }
    }

    /// One of inode `ino`'s open files is released; the last one closes
    /// its backing id, if any.
    pub fn release(&self, ino: u64) {
        let mut shard = self.shard(ino);
        if let Some(opened) = shard.get_mut(&ino) {
            opened.opens = opened.opens.saturating_sub(1);
            if opened.opens == 0 {
                shard.remove(&ino);
            }
        }
    }

    /// Inodes the kernel has open through passthrough now.
    pub fn passthrough_inodes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .values()
                    .filter(|o| o.backing.is_some())
                    .count()
            })
            .sum()
    }
}
