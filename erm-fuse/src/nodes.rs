//! The inode table: FUSE inode number -> the names the kernel knows it by
//! (parent, name), with the kernel's lookup count and the ERMFS descriptors
//! open on it.
//!
//! ERMFS is path based, so every FUSE request on an inode is turned back into
//! a path by walking this table up to the root. The FUSE inode number *is*
//! the ERMFS inode number (unique, never reused, root = 1 as FUSE wants), so
//! nothing is allocated here and a `readdir` answer needs no table entry.
//! An entry lives from the first `lookup`/`create`/`mkdir` that hands the
//! inode to the kernel until `forget` drops its count to zero. Renames move
//! one name (children follow because they name their parent by number).
//! A file with hard links keeps every name the kernel got for it (each came
//! through `lookup`, `link` or a creation), so unlinking one leaves the
//! others usable; with no name left only an open descriptor reaches it.

use std::collections::HashMap;
use std::io;
use std::time::SystemTime;

use ermfs::ROOT_INO;

/// Deepest path walked before giving up (a corrupt table would loop).
const MAX_DEPTH: usize = 4096;

/// One inode the kernel knows.
#[derive(Debug)]
struct Node {
    /// `(parent inode, name)` pairs, the most recent last; empty once gone.
    names: Vec<(u64, Vec<u8>)>,
    /// The kernel's lookup count (`forget` subtracts).
    lookups: u64,
    /// ERMFS descriptors open on the inode (for unlinked-but-open files).
    fds: Vec<i32>,
    /// `(mtime, size)` when the kernel last cached the file's pages: an
    /// open that finds the same may keep them (`FOPEN_KEEP_CACHE`).
    cached: Option<(SystemTime, u64)>,
}

/// The table. Not synchronised: the caller wraps it in a mutex.
#[derive(Debug)]
pub(crate) struct Nodes {
    map: HashMap<u64, Node>,
}

fn enoent() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOENT)
}

impl Nodes {
    /// A table holding only the root.
    pub fn new() -> Nodes {
        let mut map = HashMap::new();
        map.insert(
            ROOT_INO,
            Node {
                names: Vec::new(),
                lookups: 1,
                fds: Vec::new(),
                cached: None,
            },
        );
        Nodes { map }
    }

    /// The absolute path of `ino` (`ENOENT` if unknown or detached).
    pub fn path(&self, ino: u64) -> io::Result<Vec<u8>> {
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut cur = ino;
        while cur != ROOT_INO {
            if parts.len() > MAX_DEPTH {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let node = self.map.get(&cur).ok_or_else(enoent)?;
            let (parent, name) = node.names.last().ok_or_else(enoent)?;
            parts.push(name);
            cur = *parent;
        }
        let mut path = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 1);
        for part in parts.iter().rev() {
            path.push(b'/');
            path.extend_from_slice(part);
        }
        if path.is_empty() {
            path.push(b'/');
        }
        Ok(path)
    }

    /// The path of `name` in directory `parent`.
    pub fn child_path(&self, parent: u64, name: &[u8]) -> io::Result<Vec<u8>> {
        let mut path = self.path(parent)?;
        if path.len() > 1 {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        Ok(path)
    }

    /// The kernel got `ino` as `name` in `parent` once more: count it and
    /// make that the name the entry resolves by.
    pub fn remember(&mut self, ino: u64, parent: u64, name: &[u8]) {
        let node = self.map.entry(ino).or_insert_with(|| Node {
            names: Vec::new(),
            lookups: 0,
            fds: Vec::new(),
            cached: None,
        });
        if ino != ROOT_INO {
            node.names.retain(|(p, n)| !(*p == parent && n == name));
            node.names.push((parent, name.to_vec()));
        }
        node.lookups += 1;
    }

    /// The kernel dropped `n` references to `ino`.
    pub fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT_INO {
            return;
        }
        if let Some(node) = self.map.get_mut(&ino) {
            node.lookups = node.lookups.saturating_sub(n);
            if node.lookups == 0 && node.fds.is_empty() {
                self.map.remove(&ino);
            }
        }
    }

    /// `ino`'s name `from` is now `to` (rename).
    pub fn moved(&mut self, ino: u64, from: (u64, &[u8]), to: (u64, &[u8])) {
        if let Some(node) = self.map.get_mut(&ino) {
            node.names
                .retain(|(p, n)| !((*p == from.0 && n == from.1) || (*p == to.0 && n == to.1)));
            node.names.push((to.0, to.1.to_vec()));
        }
    }

    /// The name `name` in `parent` of `ino` is gone (unlink, rmdir, replaced
    /// by a rename).
    pub fn detach(&mut self, ino: u64, parent: u64, name: &[u8]) {
        if let Some(node) = self.map.get_mut(&ino) {
            node.names.retain(|(p, n)| !(*p == parent && n == name));
        }
    }

    /// Records descriptor `fd` as open on `ino`.
    pub fn opened(&mut self, ino: u64, fd: i32) {
        if let Some(node) = self.map.get_mut(&ino) {
            node.fds.push(fd);
        }
    }

    /// Descriptor `fd` on `ino` was closed.
    pub fn closed(&mut self, ino: u64, fd: i32) {
        if let Some(node) = self.map.get_mut(&ino) {
            node.fds.retain(|&f| f != fd);
            if node.lookups == 0 && node.fds.is_empty() && ino != ROOT_INO {
                self.map.remove(&ino);
            }
        }
    }

    /// An open found the file at `stamp` (`(mtime, size)`): whether the
    /// kernel's cached pages are still those of this content. Only changes
    /// that bypass the mount (the same `Fs` used in process) move the stamp
    /// without the kernel knowing; changes through the mount keep its page
    /// cache in step (write-through, truncate and punch-hole invalidation).
    pub fn keep_cache(&mut self, ino: u64, stamp: (SystemTime, u64)) -> bool {
        let Some(node) = self.map.get_mut(&ino) else {
            return false;
        };
        let keep = node.cached == Some(stamp);
        node.cached = Some(stamp);
        keep
    }

    /// The stamp the file has as a descriptor on it closes.
    pub fn stamp(&mut self, ino: u64, stamp: (SystemTime, u64)) {
        if let Some(node) = self.map.get_mut(&ino) {
            node.cached = Some(stamp);
        }
    }

    /// Some descriptor open on `ino`, if any.
    pub fn any_fd(&self, ino: u64) -> Option<i32> {
        self.map.get(&ino).and_then(|n| n.fds.first().copied())
    }

    /// How many lookups the kernel holds on `ino` (tests).
    #[cfg(test)]
    pub fn lookups(&self, ino: u64) -> u64 {
        self.map.get(&ino).map_or(0, |n| n.lookups)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_follow_renames_and_forgets() {
        let mut t = Nodes::new();
        assert_eq!(t.path(ROOT_INO).unwrap(), b"/");
        t.remember(2, ROOT_INO, b"d");
        t.remember(3, 2, b"f");
        assert_eq!(t.path(3).unwrap(), b"/d/f");
        assert_eq!(t.child_path(2, b"x").unwrap(), b"/d/x");
        t.moved(2, (ROOT_INO, b"d"), (ROOT_INO, b"e"));
        assert_eq!(t.path(3).unwrap(), b"/e/f");
        t.remember(3, 2, b"f");
        assert_eq!(t.lookups(3), 2);
        t.forget(3, 1);
        assert_eq!(t.lookups(3), 1);
        t.detach(3, 2, b"other");
        assert!(t.path(3).is_ok());
        t.remember(3, ROOT_INO, b"hard");
        assert_eq!(t.path(3).unwrap(), b"/hard");
        t.detach(3, ROOT_INO, b"hard");
        assert_eq!(t.path(3).unwrap(), b"/e/f");
        t.forget(3, 1);
        t.detach(3, 2, b"f");
        assert!(t.path(3).is_err());
        t.opened(3, 7);
        t.forget(3, 1);
        assert_eq!(t.any_fd(3), Some(7));
        let now = SystemTime::now();
        assert!(!t.keep_cache(3, (now, 1)));
        assert!(t.keep_cache(3, (now, 1)));
        t.stamp(3, (now, 2));
        assert!(!t.keep_cache(3, (now, 1)));
        t.closed(3, 7);
        assert_eq!(t.any_fd(3), None);
        assert_eq!(t.lookups(3), 0);
    }
}
