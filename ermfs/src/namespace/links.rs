//! Hard and symbolic links: `link`, `symlink`, `readlink`, `lstat`, and
//! the calls that change a symlink itself, `lchown` and `lutimens`.
//!
//! A hard link is one more registry entry for the same inode: `nlink`
//! counts the names of a file or symlink, and a file's content is freed
//! when the last name and the last open description are both gone (the
//! name side in `Namespace::drop_link`, the descriptor side in
//! `Shared::release`). A symlink is an inode holding its target's bytes;
//! the path walk (`Namespace::walk_on`) follows it.

use std::io;
use std::sync::Arc;

use crate::content::stamps::{atime_due, set_atime};
use crate::namespace::names::Namespace;
use crate::namespace::walk::{Last, ParentOf};
use crate::sync::read;
use crate::types::errno::fail;
use crate::types::inode::{Body, Inode};

impl Namespace {
    /// The target of symlink `link` (`EINVAL` for anything else). Reading
    /// it moves its access time `relatime`-style, as following or reading
    /// a link does on Linux.
    pub(crate) fn target(&self, link: &Inode) -> io::Result<Arc<[u8]>> {
        let (target, due) = {
            let st = read(&link.state);
            let Body::Symlink(target) = &st.body else {
                return fail(libc::EINVAL);
            };
            (Arc::clone(target), atime_due(&st, &self.shared))
        };
        if let Some(now) = due {
            set_atime(link, now);
        }
        Ok(target)
    }

    /// Credits the target of symlink `link`, whose last name is gone (the
    /// bytes stay until the inode drops, so a walk still holding the
    /// inode reads them).
    pub(crate) fn drop_target(&self, link: &Inode) {
        if let Body::Symlink(target) = &read(&link.state).body {
            self.shared.budget.credit(target.len());
        }
    }

    /// Checks that a new entry may be made at `p` (the namespace lock
    /// held), in Linux's order (`filename_create`, `may_create`), and
    /// returns its name.
    pub(crate) fn new_entry<'a>(&self, p: &ParentOf<'a>) -> io::Result<&'a [u8]> {
        let Last::Name(name) = p.last else {
            return fail(libc::EEXIST); // `/`, `.`, `..`
        };
        if self.child(p.dir(), name)?.is_some() {
            return fail(libc::EEXIST);
        }
        // A missing name with a trailing `/` asked for a directory.
        if p.trailing_slash || p.dir().nlink() == 0 {
            return fail(libc::ENOENT);
        }
        Ok(name)
    }
}
