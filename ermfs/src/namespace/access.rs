//! The permission-checking walk of [`Fs::access`](crate::Fs::access) and
//! [`Fs::may_delete`](crate::Fs::may_delete).

use std::io;
use std::sync::Arc;

use crate::namespace::names::Namespace;
use crate::namespace::path::Comp;
use crate::namespace::walk::Follow;
use crate::types::identity::Identity;
use crate::types::inode::Inode;
use crate::types::perm::{MAY_EXEC, check};

impl Namespace {
    /// Walks `comps` from `/` as `who`, checking search permission on each
    /// directory before looking a component up in it (`EACCES`), as Linux's
    /// `link_path_walk`, and following symlinks (the last one too);
    /// returns the chain of inodes visited.
    pub(crate) fn walk_as(
        &self,
        comps: &[Comp<'_>],
        who: &Identity,
    ) -> io::Result<Vec<Arc<Inode>>> {
        let mut chain = vec![Arc::clone(&self.root)];
        let search = |dir: &Inode| check(dir, MAY_EXEC, who);
        self.walk_on(&mut chain, comps, Follow::Yes, &mut 0, &search)?;
        Ok(chain)
    }
}
