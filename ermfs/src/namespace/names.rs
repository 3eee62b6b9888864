//! [`Namespace`]: the names of one store (the registry of
//! `(parent ino, name) -> inode`, the root, inode numbers, the lock every
//! namespace change takes) and the content lifecycle they sit on.

use std::io;
use std::sync::Arc;

use arc_swap::ArcSwap;
use erm_registry::{AnyRegistry, Registry};

use crate::content::shared::Shared;
use crate::namespace::ino_index::InoIndex;
use crate::sync::{AtomicU64, Mutex, Ordering};
use crate::types::identity::Identity;
use crate::types::inode::Inode;
use crate::types::name::Name;

/// Inode number of `/`.
pub const ROOT_INO: u64 = 1;

/// The registry type: `(parent ino, name) -> inode`.
pub(crate) type Names = AnyRegistry<Name, Inode>;
/// The namespace of one store: what path and node calls walk and change.
/// Knows no descriptors (those are the API's, above it).
pub(crate) struct Namespace {
    pub shared: Arc<Shared>,
    pub names: ArcSwap<Names>,
    pub root: Arc<Inode>,
    pub next_ino: AtomicU64,
    /// The store's owner: the identity the path calls act as, and so the
    /// owner of whatever they create.
    pub owner_id: Identity,
    /// Bits cleared from created modes.
    pub umask: u32,
    /// Serializes namespace changes (create, mkdir, rmdir, unlink, rename,
    /// mode switch). Lookups and the data path never take it.
    pub ns: Mutex<()>,
    /// Inode number -> inode, when [`FsBuilder::inode_index`](crate::FsBuilder::inode_index) asked for it.
    pub inos: Option<InoIndex>,
    /// What file handles pair with inode numbers ([`Fs::generation`](crate::Fs::generation)).
    pub generation: u32,
}

impl Namespace {
    /// A fresh inode number.
    pub fn alloc_ino(&self) -> u64 {
        self.next_ino.fetch_add(1, Ordering::Relaxed)
    }

    /// The child `name` of directory `dir`.
    pub fn child(&self, dir: &Inode, name: &[u8]) -> io::Result<Option<Arc<Inode>>> {
        Ok(self.names.load().get(&Name::new(dir.ino, name)?))
    }

    /// The identity of in-process path calls: the store's owner.
    pub(crate) fn owner_identity(&self) -> &Identity {
        &self.owner_id
    }
}
