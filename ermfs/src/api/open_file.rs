//! [`OpenFile`]: an open file description, what a descriptor refers to.

use std::sync::Arc;

use crate::content::shared::Shared;
use crate::sync::{AtomicI64, Mutex};
use crate::types::identity::Writer;
use crate::types::inode::{FileType, Inode};

/// An open file description: the inode, access mode, flags and its own offset.
/// Shared by `dup`; the last handle dropped is the file's "close".
#[derive(Debug)]
pub(crate) struct OpenFile {
    pub(crate) inode: Arc<Inode>,
    pub(crate) shared: Arc<Shared>,
    /// `O_RDONLY`, `O_WRONLY` or `O_RDWR`.
    pub(crate) access: i32,
    pub(crate) append: bool,
    /// Who opened it, for the set-ID rules of its writes and truncates
    /// (`None`: a caller with `CAP_FSETID`, whose writes keep them).
    pub(crate) writer: Option<Writer>,
    pub(crate) offset: AtomicI64,
    /// Orders `read`/`write`/`lseek` through this description.
    pub(crate) pos: Mutex<()>,
}

impl OpenFile {
    /// The file or directory open.
    pub(crate) fn inode(&self) -> &Arc<Inode> {
        &self.inode
    }
    pub(crate) fn readable(&self) -> bool {
        self.access != libc::O_WRONLY
    }
    pub(crate) fn writable(&self) -> bool {
        self.access != libc::O_RDONLY
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        if self.inode.kind() == FileType::File {
            self.shared.release(&self.inode);
        }
    }
}
