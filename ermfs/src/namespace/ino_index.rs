//! [`InoIndex`]: inode number -> inode, for front ends that serve file
//! handles (`Fs::node_by_ino`), kept only when the builder asks for it.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use crate::sync::{Mutex, lock};
use crate::types::inode::Inode;

/// Inode number -> inode, for [`Fs::node_by_ino`](crate::Fs::node_by_ino): weak entries in
/// mutex-guarded shards (an entry goes when the inode's last name does).
/// Off by default: it costs every inode one entry at rest.
pub(crate) struct InoIndex {
    shards: Box<[Mutex<InoShard>]>,
}

/// One shard of [`InoIndex`].
type InoShard = HashMap<u64, Weak<Inode>>;

impl InoIndex {
    const SHARDS: u64 = 16;

    pub(crate) fn new() -> InoIndex {
        InoIndex {
            shards: (0..Self::SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    fn shard(&self, ino: u64) -> &Mutex<InoShard> {
        // Inode numbers are sequential: the low bits spread them evenly.
        &self.shards[(ino % Self::SHARDS) as usize]
    }

    pub(crate) fn get(&self, ino: u64) -> Option<Arc<Inode>> {
        lock(self.shard(ino)).get(&ino).and_then(Weak::upgrade)
    }

    pub(crate) fn insert(&self, inode: &Arc<Inode>) {
        lock(self.shard(inode.ino)).insert(inode.ino, Arc::downgrade(inode));
    }

    pub(crate) fn remove(&self, ino: u64) {
        lock(self.shard(ino)).remove(&ino);
    }
}
