//! Inodes: metadata plus a file's content or a directory's child list, under
//! the inode's own lock.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use erm_alloc::Region;
use erm_compress::Index;
use erm_registry::Name;

use crate::sync::{AtomicU32, AtomicU64, Ordering, RwLock};
use crate::xattr::Xattrs;

/// What an inode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (its target is bytes, read by [`Fs::readlink`](crate::Fs::readlink)).
    Symlink,
}

/// One file or directory.
#[derive(Debug)]
pub(crate) struct Inode {
    pub ino: u64,
    pub kind: FileType,
    /// Permission bits (`0o7777`).
    pub perm: AtomicU32,
    /// Owner user ID.
    pub uid: AtomicU32,
    /// Owner group ID.
    pub gid: AtomicU32,
    /// Names referring to it (files and symlinks: one per hard link, 0 once
    /// all are gone; dirs: 2 + subdirectories, 0 once removed). Changed only
    /// under the namespace lock.
    pub nlink: AtomicU32,
    /// Open file descriptions of a file; changed only under `state`'s write
    /// lock so that the count and the content state move together. A `u32`
    /// (each description holds one of at most 2^20 descriptors) so that the
    /// owner fits in what was padding.
    pub open: AtomicU32,
    /// A directory's parent inode number (itself for `/`). Unused for
    /// files and symlinks, which may have several names (hard links).
    pub parent: AtomicU64,
    /// Creation time (never changes).
    pub btime: SystemTime,
    pub state: RwLock<State>,
}

/// The part of an inode guarded by its lock.
#[derive(Debug)]
pub(crate) struct State {
    pub atime: SystemTime,
    pub mtime: SystemTime,
    pub ctime: SystemTime,
    /// Last closes of the file so far: a background job queued at close
    /// number `n` is stale once this is past `n`.
    pub closes: u64,
    /// Extended attributes; `None` (one null pointer) for most inodes.
    pub xattrs: Option<Box<Xattrs>>,
    pub body: Body,
}

/// A file's content, a directory's entries or a symlink's target.
#[derive(Debug)]
pub(crate) enum Body {
    File(Content),
    /// The children's registry keys (parent: this directory), kept sorted
    /// by name bytes: `readdir` lists them so. A key holds a short name
    /// inline, so an entry costs no heap block of its own.
    Dir(BTreeSet<Name>),
    /// The target, never changed (an `Arc` so a path walk takes it out of
    /// the lock without copying).
    Symlink(Arc<[u8]>),
}

/// Where a file's bytes are.
#[derive(Debug)]
pub(crate) enum Content {
    /// Uncompressed and mutable (always so while the file is open).
    Raw(Region),
    /// Compressed after the last close.
    Packed(Packed),
    /// Compressed, and open for reading only: blocks are inflated into a
    /// region of the file's size as reads touch them.
    Lazy(Box<Lazy>),
    /// Freed: the file was unlinked and its last description closed.
    Freed,
}

/// A compressed file at rest: the blocked gzip stream (exactly its length:
/// the length is what the budget is charged) and the file's size.
///
/// No block index is kept: every member's header carries its compressed
/// length (FEXTRA), so [`Index::rebuild`] walks the headers, without
/// inflating, when the file is opened. At rest that saves the index's heap
/// block (a `Vec` of at least four entries) on every closed file.
#[derive(Debug)]
pub(crate) struct Packed {
    /// The stream; its length is charged to the budget.
    pub stream: Vec<u8>,
    /// Uncompressed length (the file's size).
    pub raw_len: u64,
}

impl Packed {
    /// Bytes charged to the budget for the stream.
    pub fn charged(&self) -> usize {
        self.stream.len()
    }

    /// The stream's block index, rebuilt from its member headers.
    ///
    /// # Errors
    /// `EIO` if the stream is damaged.
    pub fn index(&self) -> std::io::Result<Index> {
        Index::rebuild(&self.stream).map_err(|_| std::io::Error::from_raw_os_error(libc::EIO))
    }
}

/// A compressed file open read-only: the stream stays, a region of its
/// size is filled block by block on demand.
#[derive(Debug)]
pub(crate) struct Lazy {
    pub packed: Packed,
    /// The stream's index, rebuilt when the file was opened.
    pub index: Index,
    /// Exactly the file's size; untouched pages cost no RAM.
    pub region: Region,
    /// Per block: already inflated into `region`.
    pub filled: Vec<bool>,
}

impl Lazy {
    /// Blocks covering `offset..offset + len` (clamped to the file), as indices.
    pub fn blocks(&self, offset: u64, len: usize) -> std::ops::Range<usize> {
        let size = self.packed.raw_len;
        if len == 0 || offset >= size {
            return 0..0;
        }
        let bs = self.index.block_size() as u64;
        let end = offset.saturating_add(len as u64).min(size);
        // Both are below the file size, which fits the address space.
        (offset / bs) as usize..end.div_ceil(bs) as usize
    }

    /// Whether every block in `blocks` is inflated.
    pub fn is_filled(&self, blocks: std::ops::Range<usize>) -> bool {
        self.filled
            .get(blocks)
            .is_some_and(|f| f.iter().all(|&b| b))
    }
}

impl Content {
    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Raw(r) => r.len() as u64,
            Content::Packed(p) => p.raw_len,
            Content::Lazy(l) => l.packed.raw_len,
            Content::Freed => 0,
        }
    }

    /// Bytes of memory charged for it.
    pub fn resident(&self) -> u64 {
        match self {
            Content::Raw(r) => r.capacity() as u64,
            Content::Packed(p) => p.charged() as u64,
            Content::Lazy(l) => (l.packed.charged() + l.region.capacity()) as u64,
            Content::Freed => 0,
        }
    }
}

impl Inode {
    /// A new inode of `kind`, with `body`, permission bits `perm`, parent
    /// `parent`, owned by `owner` (uid, gid), made at `now`.
    pub fn new(
        ino: u64,
        kind: FileType,
        perm: u32,
        parent: u64,
        body: Body,
        owner: (u32, u32),
        now: SystemTime,
    ) -> Inode {
        Inode {
            ino,
            kind,
            perm: AtomicU32::new(perm & 0o7777),
            uid: AtomicU32::new(owner.0),
            gid: AtomicU32::new(owner.1),
            nlink: AtomicU32::new(if kind == FileType::Dir { 2 } else { 1 }),
            open: AtomicU32::new(0),
            parent: AtomicU64::new(parent),
            btime: now,
            state: RwLock::new(State {
                atime: now,
                mtime: now,
                ctime: now,
                closes: 0,
                xattrs: None,
                body,
            }),
        }
    }

    /// Current link count.
    pub fn nlink(&self) -> u32 {
        self.nlink.load(Ordering::Acquire)
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == FileType::Dir
    }

    /// Whether this is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.kind == FileType::Symlink
    }

    /// Permission bits (`0o7777`).
    pub fn perm(&self) -> u32 {
        self.perm.load(Ordering::Acquire)
    }

    /// Owner (uid, gid).
    pub fn owner(&self) -> (u32, u32) {
        (
            self.uid.load(Ordering::Acquire),
            self.gid.load(Ordering::Acquire),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-file overhead at rest is benchmarked: the metadata of issue 10
    /// (owner, boxed xattrs) must stay small: 192 bytes before it, 200
    /// with it (x86-64).
    #[test]
    #[cfg(not(loom))]
    fn inode_stays_small() {
        let size = std::mem::size_of::<Inode>();
        assert!(size <= 200, "Inode is {size} bytes");
    }
}
#[cfg(test)]
mod sizes_scratch {
    #[test]
    fn print_sizes() {
        use std::mem::size_of;
        println!(
            "Inode {} State {} Body {} Content {} Packed {} Region {} Index {} Lazy {} Name {} SystemTime {} RwLock<()> {}",
            size_of::<super::Inode>(),
            size_of::<super::State>(),
            size_of::<super::Body>(),
            size_of::<super::Content>(),
            size_of::<super::Packed>(),
            size_of::<erm_alloc::Region>(),
            size_of::<erm_compress::Index>(),
            size_of::<super::Lazy>(),
            size_of::<erm_registry::Name>(),
            size_of::<std::time::SystemTime>(),
            size_of::<crate::sync::RwLock<()>>()
        );
    }
}
