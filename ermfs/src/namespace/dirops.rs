//! What every namespace change does to directories: a child name added
//! or removed, a directory's times, a name's link counted gone.

use std::time::SystemTime;

use crate::namespace::names::Namespace;
use crate::sync::{Ordering, write};
use crate::types::child::ChildName;
use crate::types::inode::{Body, FileType, Inode};

/// Adds or removes `name` in directory `dir`'s child list and touches its
/// times (set to `now`).
pub(crate) fn set_child(dir: &Inode, name: &[u8], present: bool, now: SystemTime) {
    let mut st = write(&dir.state);
    if let Body::Dir(d) = &mut st.body {
        if present {
            d.children.insert(ChildName::new(name));
        } else {
            d.children.remove(name);
        }
    }
    st.mtime = now.into();
    st.ctime = st.mtime;
}

/// Sets directory `dir`'s `mtime` and `ctime` to `now` (an entry in it
/// changed without a name coming or going: an exchange, a whiteout).
pub(crate) fn touch_dir(dir: &Inode, now: SystemTime) {
    let mut st = write(&dir.state);
    st.mtime = now.into();
    st.ctime = st.mtime;
}

impl Namespace {
    /// Counts one name of `inode` gone (the name is already out of the
    /// registry); at a file's last name, frees what nobody holds open.
    pub(crate) fn drop_link(&self, parent: &Inode, inode: &Inode) {
        let last = match inode.kind() {
            FileType::Dir => {
                inode.nlink.store(0, Ordering::Release);
                parent.nlink.fetch_sub(1, Ordering::AcqRel);
                true
            }
            // Other hard links may remain: only the last name frees. Every
            // change of `nlink` runs under the namespace lock, so it never
            // goes below 0; `release` reads it under the inode's lock.
            _ => inode.nlink.fetch_sub(1, Ordering::AcqRel) == 1,
        };
        if last {
            self.count(inode, -1);
            if let Some(index) = &self.inos {
                index.remove(inode.ino);
            }
            match inode.kind() {
                FileType::File => self.shared.free_if_unused(inode),
                FileType::Symlink => self.drop_target(inode),
                _ => {}
            }
        }
        let mut st = write(&inode.state);
        st.ctime = self.shared.clock.now().into();
        if last && inode.kind() != FileType::File {
            // A removed directory's attributes are credited now (an open
            // descriptor of it then sees none), not when a lockless table
            // reclaims the inode.
            st.xattrs = None;
        }
    }
}
