//! The node table: FUSE node id -> the [`ermfs::Node`] handle the kernel
//! holds, with the kernel's lookup count.
//!
//! The FUSE node id *is* the ERMFS inode number (unique, never reused,
//! root = 1 as FUSE wants), so a `readdir` answer needs no table entry and
//! nothing is allocated per id. An entry lives from the first reply that
//! hands the inode to the kernel (`lookup`, a creation, `link`,
//! `readdirplus`) until `forget` drops its count to zero; while it lives,
//! its handle keeps the inode valid, named or not, as the kernel's own
//! reference does (an unlinked file stays readable and stat-able through
//! the kernel's open files). Renames and unlinks change nothing here: the
//! table holds inodes, never names.
//!
//! The table is split in shards by node id, each behind its own mutex held
//! for one map operation, so requests on different nodes do not wait for
//! each other.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use ermfs::{Node, ROOT_INO};

/// Shards of the table (a power of two).
const SHARDS: usize = 16;

/// One node the kernel holds.
#[derive(Debug)]
struct Entry {
    node: Node,
    /// The kernel's lookup count (`forget` subtracts).
    lookups: u64,
    /// `(mtime, size)` when the kernel last had the file's pages, as its
    /// [`fingerprint`] (0: none yet): an open that finds the same may keep
    /// them (`FOPEN_KEEP_CACHE`). A digest, not the stamp: the table has an
    /// entry for every inode the kernel caches, and 8 bytes instead of 32
    /// make the entry 24 bytes, not 48.
    cached: u64,
}

/// A non-zero 64-bit digest of a `(mtime, size)` stamp (two different
/// stamps collide with odds of about 2^-64).
fn fingerprint((mtime, size): (SystemTime, u64)) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    mtime.hash(&mut h);
    size.hash(&mut h);
    h.finish().max(1)
}

/// The table (shared by every request thread).
#[derive(Debug)]
pub(crate) struct Nodes {
    shards: Box<[Mutex<HashMap<u64, Entry>>]>,
}

impl Nodes {
    /// A table holding `root`, which is never forgotten.
    pub fn new(root: Node) -> Nodes {
        let shards: Box<[_]> = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        let table = Nodes { shards };
        table.remember(&root);
        table
    }

    fn shard(&self, ino: u64) -> MutexGuard<'_, HashMap<u64, Entry>> {
        // Each method is one map operation, so a panic elsewhere leaves
        // the map consistent: a poisoned lock is still usable.
        self.shards[ino as usize % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The handle of node `ino`, if the kernel holds it.
    pub fn get(&self, ino: u64) -> Option<Node> {
        self.shard(ino).get(&ino).map(|e| e.node.clone())
    }

    /// The kernel got `node` once more (one lookup).
    pub fn remember(&self, node: &Node) {
        self.shard(node.ino())
            .entry(node.ino())
            .or_insert_with(|| Entry {
                node: node.clone(),
                lookups: 0,
                cached: 0,
            })
            .lookups += 1;
    }

    /// The kernel dropped `n` lookups of `ino`; the entry goes at zero
    /// (the root stays).
    pub fn forget(&self, ino: u64, n: u64) {
        if ino == ROOT_INO {
            return;
        }
        let mut shard = self.shard(ino);
        if let Some(entry) = shard.get_mut(&ino) {
            entry.lookups = entry.lookups.saturating_sub(n);
            if entry.lookups == 0 {
                shard.remove(&ino);
            }
        }
    }

    /// An open found the file at `stamp` (`(mtime, size)`): whether the
    /// kernel's cached pages are still those of this content. Only changes
    /// that bypass the mount (the same `Fs` used in process) move the stamp
    /// without the kernel knowing; changes through the mount keep its page
    /// cache in step (write-through, truncate and punch-hole invalidation).
    pub fn keep_cache(&self, ino: u64, stamp: (SystemTime, u64)) -> bool {
        let mut shard = self.shard(ino);
        let Some(entry) = shard.get_mut(&ino) else {
            return false;
        };
        let stamp = fingerprint(stamp);
        let keep = entry.cached == stamp;
        entry.cached = stamp;
        keep
    }

    /// The stamp the file has as a handle on it is released.
    pub fn stamp(&self, ino: u64, stamp: (SystemTime, u64)) {
        if let Some(entry) = self.shard(ino).get_mut(&ino) {
            entry.cached = fingerprint(stamp);
        }
    }

    /// Nodes the kernel holds, the root included.
    pub fn len(&self) -> usize {
        (0..SHARDS).map(|i| self.shard(i as u64).len()).sum()
    }

    /// How many lookups the kernel holds on `ino` (tests).
    #[cfg(test)]
    pub fn lookups(&self, ino: u64) -> u64 {
        self.shard(ino).get(&ino).map_or(0, |e| e.lookups)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ermfs::Fs;

    #[test]
    fn entries_live_from_the_first_lookup_to_the_last_forget() {
        let fs = Fs::new();
        let t = Nodes::new(fs.root());
        fs.write_file("/f", b"x").unwrap();
        let f = fs.node("/f").unwrap();
        assert!(t.get(f.ino()).is_none());
        t.remember(&f);
        t.remember(&f);
        assert_eq!(t.lookups(f.ino()), 2);
        assert_eq!(t.len(), 2);
        // The table holds the inode, not the name.
        fs.unlink("/f").unwrap();
        assert_eq!(t.get(f.ino()).unwrap(), f);
        t.forget(f.ino(), 1);
        assert!(t.get(f.ino()).is_some());
        t.forget(f.ino(), 5);
        assert!(t.get(f.ino()).is_none());
        t.forget(ROOT_INO, 100);
        assert_eq!(t.get(ROOT_INO).unwrap(), fs.root());
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn cached_pages_are_kept_only_for_the_same_stamp() {
        let fs = Fs::new();
        let t = Nodes::new(fs.root());
        let now = SystemTime::now();
        assert!(!t.keep_cache(ROOT_INO, (now, 1)));
        assert!(t.keep_cache(ROOT_INO, (now, 1)));
        t.stamp(ROOT_INO, (now, 2));
        assert!(!t.keep_cache(ROOT_INO, (now, 1)));
        assert!(!t.keep_cache(99, (now, 1)));
    }
}
