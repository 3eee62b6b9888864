//! Inodes: metadata plus a file's content or a directory's child list, under
//! the inode's own lock.

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use erm_alloc::Region;
use erm_compress::Index;

use crate::sync::{AtomicU32, Ordering, RwLock};
use crate::types::child::ChildName;
use crate::types::config::{AtimePolicy, RELATIME_MAX_AGE};
use crate::types::times::Time;
use crate::types::xattr_store::Xattrs;

/// What an inode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (its target is bytes, read by [`Fs::readlink`](crate::Fs::readlink)).
    Symlink,
    /// A named pipe (FIFO), made by [`Fs::mkfifo`](crate::Fs::mkfifo).
    Fifo,
    /// A character device node (its device number is [`Stat::rdev`](crate::Stat::rdev)).
    CharDevice,
    /// A block device node (its device number is [`Stat::rdev`](crate::Stat::rdev)).
    BlockDevice,
    /// A Unix domain socket node (binding one is a front end's business).
    Socket,
}

impl FileType {
    /// The `S_IFMT` bits of `st_mode` for this type.
    pub fn mode_bits(self) -> u32 {
        match self {
            FileType::File => libc::S_IFREG,
            FileType::Dir => libc::S_IFDIR,
            FileType::Symlink => libc::S_IFLNK,
            FileType::Fifo => libc::S_IFIFO,
            FileType::CharDevice => libc::S_IFCHR,
            FileType::BlockDevice => libc::S_IFBLK,
            FileType::Socket => libc::S_IFSOCK,
        }
    }

    /// The type the `S_IFMT` bits of `mode` name (`None` for bits that
    /// name no type).
    pub fn from_mode(mode: u32) -> Option<FileType> {
        Some(match mode & libc::S_IFMT {
            libc::S_IFREG => FileType::File,
            libc::S_IFDIR => FileType::Dir,
            libc::S_IFLNK => FileType::Symlink,
            libc::S_IFIFO => FileType::Fifo,
            libc::S_IFCHR => FileType::CharDevice,
            libc::S_IFBLK => FileType::BlockDevice,
            libc::S_IFSOCK => FileType::Socket,
            _ => return None,
        })
    }

    /// Whether it is a regular file.
    pub fn is_file(self) -> bool {
        self == FileType::File
    }

    /// Whether it is a directory.
    pub fn is_dir(self) -> bool {
        self == FileType::Dir
    }

    /// Whether it is a symbolic link.
    pub fn is_symlink(self) -> bool {
        self == FileType::Symlink
    }

    /// Whether it is a FIFO, a device or a socket: a node with no content
    /// of its own in the store.
    pub fn is_special(self) -> bool {
        matches!(
            self,
            FileType::Fifo | FileType::CharDevice | FileType::BlockDevice | FileType::Socket
        )
    }
}

/// One file or directory.
///
/// Every closed file pays for one of these at rest (with the `Arc` counts:
/// 168 bytes, a 176-byte heap chunk), so fields only some inodes need live
/// in their [`Body`] (a directory's parent) and times are compact [`Time`]s.
#[derive(Debug)]
pub(crate) struct Inode {
    pub ino: u64,
    /// `st_mode`: the file type bits (`S_IFREG`, `S_IFDIR`, `S_IFLNK`; they
    /// never change) and the permission bits (`0o7777`), in one word, with
    /// [`SHARED_CONTENT`] above them.
    mode: AtomicU32,
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
    /// Creation time (never changes).
    pub btime: Time,
    pub state: RwLock<State>,
}

/// A bit of [`Inode`]'s mode word above `st_mode`'s: the content is (or
/// was, until [`Inode::sync_shared`] finds otherwise) a memfd region shared
/// with another writer, the kernel's FUSE passthrough, whose changes the
/// store takes in before it reads or changes the file. Kept in the mode
/// word so that every other file pays one atomic load for the check.
const SHARED_CONTENT: u32 = 1 << 31;

/// The bits of the mode word that are `st_mode`.
const MODE_BITS: u32 = libc::S_IFMT | 0o7777;

/// The part of an inode guarded by its lock.
#[derive(Debug)]
pub(crate) struct State {
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
    /// Last closes of the file so far (wrapping): a background job queued at
    /// close number `n` is stale once this has moved on from `n`.
    pub closes: u32,
    /// Extended attributes; `None` (one null pointer) for most inodes.
    pub xattrs: Option<Box<Xattrs>>,
    pub body: Body,
}

/// A file's content, a directory's entries or a symlink's target.
#[derive(Debug)]
pub(crate) enum Body {
    File(Content),
    Dir(Dir),
    /// The target, never changed (an `Arc` so a path walk takes it out of
    /// the lock without copying).
    Symlink(Arc<[u8]>),
    /// A FIFO, device or socket: no content, only a device number
    /// (`st_rdev`; 0 for FIFOs and sockets).
    Special(u64),
}

/// A directory's content.
#[derive(Debug, Default)]
pub(crate) struct Dir {
    /// The parent directory (itself for `/`): `readdir`'s and `lookup`'s
    /// `..`. Changed by a rename that moves the directory. Weak, so no
    /// cycle keeps a tree alive; a live directory's parent is always
    /// alive (it holds the directory's name), a removed one's may be gone.
    pub parent: Weak<Inode>,
    /// The children's names, kept sorted (byte order): `readdir` lists
    /// them so. A short name is inline: an entry costs no heap block.
    pub children: BTreeSet<ChildName>,
}

/// Where a file's bytes are.
#[derive(Debug)]
pub(crate) enum Content {
    /// Uncompressed and mutable (always so while the file is open).
    Raw(Region),
    /// Compressed after the last close.
    Packed(Packed),
    /// Compressed, and open for reading only: blocks are inflated into a
    /// region of the file's size as reads touch them (a cache charged to
    /// the budget, whose blocks are dropped again when the store needs room).
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
    /// Where the next [`Lazy::evict`] starts looking (a clock hand, so the
    /// blocks dropped are roughly the oldest inflated).
    pub hand: usize,
}

impl Lazy {
    /// The data blocks covering `offset..offset + len` (clamped to the
    /// file), as indices into the index's data blocks; holes need no
    /// inflating, so they have none.
    pub fn blocks(&self, offset: u64, len: usize) -> std::ops::Range<usize> {
        let size = self.packed.raw_len;
        if len == 0 || offset >= size {
            return 0..0;
        }
        let end = offset.saturating_add(len as u64).min(size);
        let blocks = self.index.blocks();
        let first = blocks.partition_point(|b| b.raw_offset + u64::from(b.raw_len) <= offset);
        let last = blocks.partition_point(|b| b.raw_offset < end);
        first..last.max(first)
    }

    /// Whether every block in `blocks` is inflated.
    pub fn is_filled(&self, blocks: std::ops::Range<usize>) -> bool {
        self.filled
            .get(blocks)
            .is_some_and(|f| f.iter().all(|&b| b))
    }

    /// The uncompressed bytes of data block `i`, as a range of the region.
    pub fn block_range(&self, i: usize) -> Option<std::ops::Range<usize>> {
        let b = self.index.blocks().get(i)?;
        let start = usize::try_from(b.raw_offset).ok()?;
        Some(start..start.checked_add(b.raw_len as usize)?)
    }

    /// Drops inflated blocks outside `keep` (they are clean: the stream
    /// still holds them) until at least `want` bytes are credited, going
    /// round from where the last eviction stopped; returns the blocks
    /// dropped and the bytes credited.
    pub fn evict(&mut self, keep: std::ops::Range<usize>, want: usize) -> (u64, usize) {
        let n = self.filled.len();
        let (mut blocks, mut freed) = (0, 0);
        for step in 0..n {
            if freed >= want {
                break;
            }
            let i = (self.hand + step) % n;
            if !self.filled[i] || keep.contains(&i) {
                continue;
            }
            let Some(range) = self.block_range(i) else {
                continue;
            };
            let before = self.region.capacity();
            // Whole pages of the block only (a neighbour sharing a page keeps it).
            if self.region.release(range).is_ok() {
                self.filled[i] = false;
                blocks += 1;
                freed += before.saturating_sub(self.region.capacity());
                self.hand = (i + 1) % n;
            }
        }
        (blocks, freed)
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
    /// `parent` (kept by a directory's body), owned by `owner` (uid, gid),
    /// made at `now`.
    pub fn new(
        ino: u64,
        kind: FileType,
        perm: u32,
        parent: Weak<Inode>,
        mut body: Body,
        owner: (u32, u32),
        now: SystemTime,
    ) -> Inode {
        if let Body::Dir(dir) = &mut body {
            dir.parent = parent;
        }
        let type_bits = kind.mode_bits();
        let now = Time::from(now);
        Inode {
            ino,
            mode: AtomicU32::new(type_bits | (perm & 0o7777)),
            uid: AtomicU32::new(owner.0),
            gid: AtomicU32::new(owner.1),
            nlink: AtomicU32::new(if kind == FileType::Dir { 2 } else { 1 }),
            open: AtomicU32::new(0),
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

    /// What it is (fixed when it is made).
    pub fn kind(&self) -> FileType {
        // The type bits never change: no ordering needed to read them.
        FileType::from_mode(self.mode.load(Ordering::Relaxed)).unwrap_or(FileType::File)
    }

    /// `st_mode`: type and permission bits.
    pub fn mode(&self) -> u32 {
        self.mode.load(Ordering::Acquire) & MODE_BITS
    }

    /// Sets the permission bits (`perm & 0o7777`); the type stays.
    pub fn set_perm(&self, perm: u32) {
        let _ = self
            .mode
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                Some(word & !0o7777 | (perm & 0o7777))
            });
    }

    /// Marks the content as a memfd shared with another writer (see
    /// [`SHARED_CONTENT`]); called under the state's write lock by the open
    /// that shares it.
    pub fn set_shared(&self) {
        self.mode.fetch_or(SHARED_CONTENT, Ordering::AcqRel);
    }

    /// Takes in what another writer did to a shared memfd content (see
    /// [`Region::sync`]): its length, its data pages (charged), its
    /// modification time, which becomes the file's mtime and ctime when it
    /// is later than the file's, and its access time (the other writer's
    /// reads), which becomes the file's atime when `atime` says a read
    /// would move it now. Done before the store reads or changes the file,
    /// or reports its size. One atomic load for a file whose
    /// content was never shared; the mark goes once the content is no
    /// longer a memfd (compressed at the last close). A sync the kernel
    /// refuses (it cannot: `fstat` and `lseek` of the store's own memfd)
    /// leaves the file as of the last one.
    pub fn sync_shared(&self, atime: AtimePolicy) {
        if self.mode.load(Ordering::Acquire) & SHARED_CONTENT == 0 {
            return;
        }
        let mut st = crate::sync::write(&self.state);
        let st = &mut *st;
        match &mut st.body {
            Body::File(Content::Raw(r)) if r.kind() == erm_alloc::RegionKind::Memfd => {
                let Ok(synced) = r.sync() else {
                    return;
                };
                if let Some(moved) = synced.modified.map(Time::from) {
                    if moved > st.mtime {
                        st.mtime = moved;
                        st.ctime = moved;
                    }
                }
                let Some(read) = synced.accessed.map(Time::from) else {
                    return;
                };
                let due = match atime {
                    AtimePolicy::Noatime => false,
                    AtimePolicy::Strict => true,
                    AtimePolicy::Relatime => {
                        st.atime <= st.mtime
                            || st.atime <= st.ctime
                            || read >= st.atime.plus_secs(RELATIME_MAX_AGE)
                    }
                };
                if due && read > st.atime {
                    st.atime = read;
                }
            }
            _ => {
                self.mode.fetch_and(!SHARED_CONTENT, Ordering::AcqRel);
            }
        }
    }

    /// Current link count.
    pub fn nlink(&self) -> u32 {
        self.nlink.load(Ordering::Acquire)
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind() == FileType::Dir
    }

    /// Whether this is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.kind() == FileType::Symlink
    }

    /// Permission bits (`0o7777`).
    pub fn perm(&self) -> u32 {
        self.mode() & 0o7777
    }

    /// Owner (uid, gid).
    pub fn owner(&self) -> (u32, u32) {
        (
            self.uid.load(Ordering::Acquire),
            self.gid.load(Ordering::Acquire),
        )
    }
}

#[cfg(all(test, not(loom), target_pointer_width = "64"))]
mod tests {
    use super::*;

    /// Per-file overhead at rest is benchmarked (at most 256 bytes a file
    /// beside the compressed bytes): the inode with its `Arc` counts must
    /// stay within a 176-byte heap chunk (x86-64 glibc: 168 requested).
    #[test]
    fn inode_stays_small() {
        let size = std::mem::size_of::<Inode>();
        assert!(size <= 152, "Inode is {size} bytes");
        assert!(std::mem::size_of::<Packed>() <= 32);
    }
}
