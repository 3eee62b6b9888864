//! Test hooks: ways to put an `Fs` into states that normal use cannot reach,
//! so tests can check how the rest of it copes. Hidden from the docs.

use std::io;
use std::path::Path;

use crate::api::fs::Fs;
use crate::sync::write;
use crate::types::errno::fail;
use crate::types::inode::{Body, Content};

impl Fs {
    /// Test hook: damages block `block` of the compressed file `path` (one
    /// byte in the middle of its member flipped, as a memory error would),
    /// so that reads touching that block fail with `EIO`.
    ///
    /// # Errors
    /// `ENOENT`/`ENOTDIR` as for a path; `EISDIR` for a directory; `EINVAL`
    /// if the file is not compressed (closed under a compressing policy) or
    /// has no block `block`.
    #[doc(hidden)]
    pub fn corrupt_block(&self, path: impl AsRef<Path>, block: usize) -> io::Result<()> {
        let inode = self.inner.resolve(path.as_ref())?;
        let mut st = write(&inode.state);
        let packed = match &mut st.body {
            Body::Dir(_) => return fail(libc::EISDIR),
            Body::File(Content::Packed(p)) => p,
            Body::File(Content::Lazy(l)) => &mut l.packed,
            Body::File(_) | Body::Symlink(_) | Body::Special(_) => return fail(libc::EINVAL),
        };
        let index = packed.index().or_else(|_| fail(libc::EINVAL))?;
        let Some(member) = index.blocks().get(block).map(|b| b.range()) else {
            return fail(libc::EINVAL);
        };
        let middle = member.start + member.len() / 2;
        match packed.stream.get_mut(middle) {
            Some(byte) => {
                *byte ^= 0x5a;
                Ok(())
            }
            None => fail(libc::EINVAL),
        }
    }
}
