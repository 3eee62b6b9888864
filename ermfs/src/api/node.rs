//! The node calls of [`Fs`]: the kernel's inode operations on a
//! directory [`Node`] and one name, with the caller's [`Identity`].

use crate::api::fs::Fs;
use crate::namespace::node::{
    Make, Node, RenameFlags, SetAttr, check_name, check_target, is_dots, mknod_kind,
};
use crate::sync::{Ordering, lock, read, write};
use crate::types::errno::{err, fail};
use crate::types::identity::Identity;
use crate::types::identity::Writer;
use crate::types::inode::{Body, Content, FileType};
use crate::types::stat::{Stat, stat_of};
use crate::types::times::{Time, TimeSpec};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

impl Fs {
    /// A handle to `/`.
    pub fn root(&self) -> Node {
        Node::new(Arc::clone(&self.inner.root))
    }

    /// A handle to what `path` names, a final symlink followed.
    ///
    /// # Errors
    /// The path errors of [`stat`](Fs::stat).
    pub fn node(&self, path: impl AsRef<std::path::Path>) -> io::Result<Node> {
        self.inner.resolve(path.as_ref()).map(Node::new)
    }

    /// A handle to what `path` names, a final symlink not followed.
    ///
    /// # Errors
    /// The path errors of [`lstat`](Fs::lstat).
    pub fn node_nofollow(&self, path: impl AsRef<std::path::Path>) -> io::Result<Node> {
        self.inner
            .resolve_as(path.as_ref(), crate::namespace::walk::Follow::No)
            .map(Node::new)
    }

    /// The entry `name` of directory `dir` (`.` is `dir`, `..` its parent;
    /// a symlink is returned, not followed).
    ///
    /// # Errors
    /// `ENOENT` if missing (`..` of a removed directory too), `ENOTDIR` if
    /// `dir` is not a directory, `ENAMETOOLONG` past [`NAME_MAX`](crate::NAME_MAX) bytes,
    /// `EINVAL` for a `/` or NUL in `name`.
    pub fn lookup(&self, dir: &Node, name: impl AsRef<[u8]>) -> io::Result<Node> {
        self.inner
            .lookup_in(&dir.inode, name.as_ref())
            .map(Node::new)
    }

    /// The node's metadata (as [`stat`](Fs::stat)).
    pub fn getattr(&self, node: &Node) -> Stat {
        stat_of(&node.inode, self.inner.shared.atime_policy())
    }

    /// Makes `name` in directory `dir` by `who`: a regular file, FIFO,
    /// socket, or (for root only, but for the whiteout 0:0) a character or
    /// block device `rdev`, as
    /// `mknod(2)`: the type from `mode & S_IFMT` (0 is a regular file), the
    /// permission bits `mode & 0o7777` less `umask`. Owner and group are
    /// `who`'s, or the directory's group if it is set-group-ID.
    ///
    /// ```
    /// use ermfs::{Fs, FileType, Identity};
    ///
    /// let fs = Fs::new();
    /// let root = fs.root();
    /// let who = Identity::root();
    /// let fifo = fs.mknodat(&root, "pipe", libc::S_IFIFO | 0o644, 0, 0o022, &who)?;
    /// assert_eq!(fifo.kind(), FileType::Fifo);
    /// let tty = fs.mknodat(&root, "tty", libc::S_IFCHR | 0o620, libc::makedev(4, 1), 0, &who)?;
    /// assert_eq!(fs.getattr(&tty).rdev, libc::makedev(4, 1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `EEXIST` if the name exists (`.` and `..` too); `EPERM` for a
    /// directory type (use [`mkdirat`](Fs::mkdirat)) or a device made by a
    /// caller other than root; `EINVAL` for any other type (symlinks:
    /// [`symlinkat`](Fs::symlinkat)); `ENOTDIR`; `ENOENT` if `dir` was
    /// removed; the name errors of [`lookup`](Fs::lookup); `ENOSPC`.
    pub fn mknodat(
        &self,
        dir: &Node,
        name: impl AsRef<[u8]>,
        mode: u32,
        rdev: u64,
        umask: u32,
        who: &Identity,
    ) -> io::Result<Node> {
        let kind = mknod_kind(mode)?;
        let make = Make {
            kind,
            perm: mode & 0o7777,
            umask,
            rdev,
        };
        self.inner
            .mknod_in(&dir.inode, name.as_ref(), make, who)
            .map(Node::new)
    }

    /// Makes directory `name` in `dir` by `who`, permission bits
    /// `mode & 0o1777` less `umask` (a set-group-ID `dir` passes its group
    /// and that bit on), as `mkdir(2)`.
    ///
    /// # Errors
    /// As [`mknodat`](Fs::mknodat).
    pub fn mkdirat(
        &self,
        dir: &Node,
        name: impl AsRef<[u8]>,
        mode: u32,
        umask: u32,
        who: &Identity,
    ) -> io::Result<Node> {
        let make = Make {
            kind: FileType::Dir,
            perm: mode & 0o1777,
            umask,
            rdev: 0,
        };
        self.inner
            .mknod_in(&dir.inode, name.as_ref(), make, who)
            .map(Node::new)
    }

    /// Makes symlink `name` in `dir` pointing to `target` (any bytes), owned
    /// by `who`, as `symlink(2)`.
    ///
    /// # Errors
    /// `ENOENT` for an empty target, `EINVAL` for a NUL in it,
    /// `ENAMETOOLONG` past [`PATH_MAX`](crate::PATH_MAX); then as [`mknodat`](Fs::mknodat).
    pub fn symlinkat(
        &self,
        target: impl AsRef<[u8]>,
        dir: &Node,
        name: impl AsRef<[u8]>,
        who: &Identity,
    ) -> io::Result<Node> {
        let (target, name) = (target.as_ref(), name.as_ref());
        check_target(target)?;
        check_name(name)?;
        if !dir.inode.is_dir() {
            return fail(libc::ENOTDIR);
        }
        if is_dots(name) {
            return fail(libc::EEXIST);
        }
        let _ns = lock(&self.inner.ns);
        self.inner
            .symlink_in(&dir.inode, name, target, who)
            .map(Node::new)
    }

    /// Makes `name` in `dir` one more name of `node` (not a directory), as
    /// `link(2)`.
    ///
    /// # Errors
    /// `EEXIST` if the name exists; `EPERM` for a directory; `ENOENT` if
    /// `node` has no name left or `dir` was removed; `EMLINK`; the name
    /// errors of [`lookup`](Fs::lookup); `ENOSPC`.
    pub fn linkat(&self, node: &Node, dir: &Node, name: impl AsRef<[u8]>) -> io::Result<()> {
        let name = name.as_ref();
        check_name(name)?;
        if !dir.inode.is_dir() {
            return fail(libc::ENOTDIR);
        }
        if is_dots(name) {
            return fail(libc::EEXIST);
        }
        let inner = &self.inner;
        let _ns = lock(&inner.ns);
        if inner.child(&dir.inode, name)?.is_some() {
            return fail(libc::EEXIST);
        }
        if dir.inode.nlink() == 0 {
            return fail(libc::ENOENT);
        }
        inner.link_in(&node.inode, &dir.inode, name)
    }

    /// Removes the non-directory `name` from `dir`, as `unlink(2)`.
    ///
    /// # Errors
    /// `EISDIR` for a directory (`.` and `..` too), `ENOENT`, `ENOTDIR`,
    /// the name errors of [`lookup`](Fs::lookup).
    pub fn unlinkat(&self, dir: &Node, name: impl AsRef<[u8]>) -> io::Result<()> {
        let name = name.as_ref();
        check_name(name)?;
        if !dir.inode.is_dir() {
            return fail(libc::ENOTDIR);
        }
        if is_dots(name) {
            return fail(libc::EISDIR);
        }
        let _ns = lock(&self.inner.ns);
        self.inner.remove_in(&dir.inode, name, false, false)
    }

    /// Removes the empty directory `name` from `dir`, as `rmdir(2)`.
    ///
    /// # Errors
    /// `ENOTEMPTY` (and for `..`), `EINVAL` for `.`, `ENOTDIR`, `ENOENT`,
    /// the name errors of [`lookup`](Fs::lookup).
    pub fn rmdirat(&self, dir: &Node, name: impl AsRef<[u8]>) -> io::Result<()> {
        let name = name.as_ref();
        check_name(name)?;
        if !dir.inode.is_dir() {
            return fail(libc::ENOTDIR);
        }
        match name {
            b"." => return fail(libc::EINVAL),
            b".." => return fail(libc::ENOTEMPTY),
            _ => {}
        }
        let _ns = lock(&self.inner.ns);
        self.inner.remove_in(&dir.inode, name, true, false)
    }

    /// Renames `old_name` in `old_dir` to `new_name` in `new_dir`, as
    /// `renameat2(2)` with `flags` ([`RenameFlags`]): an existing target is
    /// replaced atomically unless `NOREPLACE`; `EXCHANGE` swaps two
    /// existing names atomically; `WHITEOUT` leaves a character device 0:0
    /// owned by `who` at the old name.
    ///
    /// ```
    /// use ermfs::{Fs, Identity, RenameFlags};
    ///
    /// let fs = Fs::new();
    /// fs.write_file("/a", b"A")?;
    /// fs.write_file("/b", b"B")?;
    /// let root = fs.root();
    /// fs.renameat2(&root, "a", &root, "b", RenameFlags::EXCHANGE, &Identity::root())?;
    /// assert_eq!(fs.read_file("/a")?, b"B");
    /// assert_eq!(fs.read_file("/b")?, b"A");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `EINVAL` for `EXCHANGE` with another flag, or moving a directory
    /// into its own subtree; `EBUSY` for `.` or `..`; `ENOENT` if the source (or, with
    /// `EXCHANGE`, the target) is missing; `EEXIST` with `NOREPLACE`;
    /// `ENOTEMPTY` over a non-empty directory or an ancestor of the source;
    /// `EISDIR`/`ENOTDIR` for a type mismatch (not with `EXCHANGE`).
    pub fn renameat2(
        &self,
        old_dir: &Node,
        old_name: impl AsRef<[u8]>,
        new_dir: &Node,
        new_name: impl AsRef<[u8]>,
        flags: RenameFlags,
        who: &Identity,
    ) -> io::Result<()> {
        let (old_name, new_name) = (old_name.as_ref(), new_name.as_ref());
        check_name(old_name)?;
        check_name(new_name)?;
        self.inner.rename_in(
            &old_dir.inode,
            old_name,
            &new_dir.inode,
            new_name,
            flags,
            who,
            (false, false),
        )
    }

    /// Changes the node's attributes as `who`, all in one step, as the
    /// kernel's `notify_change`: `mode` (a caller other than root outside
    /// the file's group loses set-group-ID), `uid`/`gid` (a non-directory
    /// loses set-user-ID, set-group-ID when group-executable, and
    /// `security.capability`), `size` (a regular file: inflated if
    /// compressed, set, and `mtime` moved; a caller other than root loses
    /// the set-ID bits, anyone `security.capability`), the times; `ctime`
    /// is set to now (or to the given value). Returns the new metadata.
    ///
    /// # Errors
    /// `EOPNOTSUPP` for a mode on a symlink (its mode is always `0o777`,
    /// as Linux's `chmod_common` answers); `EISDIR` for a size on a
    /// directory, `EINVAL` on another non-regular node or past `i64::MAX`;
    /// `ENOSPC` if the new size does not fit the memory limit. Nothing
    /// changes on error.
    pub fn setattr(&self, node: &Node, attr: &SetAttr, who: &Identity) -> io::Result<Stat> {
        let inode = &node.inode;
        if attr.mode.is_some() && inode.is_symlink() {
            return fail(libc::EOPNOTSUPP);
        }
        let inner = &self.inner;
        if let Some(size) = attr.size {
            match inode.kind() {
                FileType::File => {}
                FileType::Dir => return fail(libc::EISDIR),
                _ => return fail(libc::EINVAL),
            }
            let len = i64::try_from(size).map_err(|_| err(libc::EINVAL))?;
            inner.shared.acquire(inode, true, size == 0)?;
            let result = crate::content::data::truncate_open(
                &inner.shared,
                inode,
                len,
                Writer::of(who).as_ref(),
            );
            inner.shared.release(inode);
            result?;
        }
        let now = Time::from(inner.shared.clock.now());
        let mut st = write(&inode.state);
        if let Some(mode) = attr.mode {
            let mut perm = mode & 0o7777;
            let gid = attr.gid.unwrap_or(inode.owner().1);
            if !who.is_root() && !who.in_group(gid) {
                perm &= !libc::S_ISGID;
            }
            inode.set_perm(perm);
        }
        if attr.uid.is_some() || attr.gid.is_some() {
            // Judged by the group the file had (Linux's `chown_common`).
            crate::types::perm::drop_privs_on_chown(inode, &mut st, who);
            if let Some(uid) = attr.uid {
                inode.uid.store(uid, Ordering::Release);
            }
            if let Some(gid) = attr.gid {
                inode.gid.store(gid, Ordering::Release);
            }
        }
        let pick = |spec: TimeSpec, old: Time| match spec {
            TimeSpec::Now => now,
            TimeSpec::Omit => old,
            TimeSpec::Set(t) => t.into(),
        };
        st.atime = pick(attr.atime, st.atime);
        st.mtime = pick(attr.mtime, st.mtime);
        st.ctime = attr.ctime.map_or(now, Time::from);
        drop(st);
        Ok(stat_of(inode, inner.shared.atime_policy()))
    }

    /// Opens `node` as [`open`](Fs::open) opens a path (`flags` as there;
    /// `O_CREAT` and `O_EXCL` do nothing here), for `who`: a write or a
    /// truncate through the descriptor by a caller other than root clears
    /// the file's set-ID bits, as Linux does for a caller without
    /// `CAP_FSETID`.
    ///
    /// # Errors
    /// As [`open`](Fs::open); `ENXIO` for a FIFO, device or socket, `ELOOP`
    /// for a symlink.
    pub fn open_node(&self, node: &Node, flags: i32, who: &Identity) -> io::Result<i32> {
        self.inner
            .open_inode(Arc::clone(&node.inode), flags, Writer::of(who), false)
    }

    /// Whether file `node`'s content is raw in memory now: open, or closed
    /// and not yet compressed (a delayed policy, `Never`, or a stream that
    /// would not have been smaller), so that an open of it inflates
    /// nothing. `false` for a compressed file and for any other node type.
    pub fn content_is_raw(&self, node: &Node) -> bool {
        node.inode.sync_shared(self.inner.shared.atime_policy());
        matches!(read(&node.inode.state).body, Body::File(Content::Raw(_)))
    }

    /// Opens a file `node` as [`open_node`](Fs::open_node) does, with its
    /// content held in a memfd for as long as it is open, and returns the
    /// descriptor and a duplicate of that memfd (close-on-exec): the file
    /// itself, whose size is the file's, for a front end to hand to
    /// another writer that reads and writes it directly (the kernel's FUSE
    /// passthrough). A closed file is inflated straight into the memfd,
    /// whole even for a read-only open; a file open in process is copied
    /// into it once; every later open shares it until the last close
    /// compresses it by the policy (its pages then go with the last
    /// mapping of the memfd, not block by block).
    ///
    /// The store takes in what the other writer did before it reads,
    /// changes or reports the file ([`getattr`](Fs::getattr) gives the
    /// memfd's size and, when it moved, its modification time as the
    /// file's mtime and ctime): the other writer may write and extend the
    /// memfd, never truncate it (truncates come through the store). Its
    /// pages are charged to the memory limit when the store takes them
    /// in, past the limit if need be, so the limit binds only the store's
    /// own growth, and its writes do not clear set-ID bits (a front end
    /// shares no file that has them).
    ///
    /// # Errors
    /// As [`open_node`](Fs::open_node); `ENOSPC` when the whole file does
    /// not fit (a read-only [`open_node`](Fs::open_node) may still open it,
    /// reading blocks on demand); `EINVAL` for a node that is not a regular
    /// file; the kernel's error if the memfd cannot be made.
    pub fn open_node_memfd(
        &self,
        node: &Node,
        flags: i32,
        who: &Identity,
    ) -> io::Result<(i32, OwnedFd)> {
        if node.inode.kind() != FileType::File {
            return fail(libc::EINVAL);
        }
        let fd = self
            .inner
            .open_inode(Arc::clone(&node.inode), flags, Writer::of(who), true)?;
        let memfd = {
            let st = read(&node.inode.state);
            match &st.body {
                Body::File(Content::Raw(region)) => region.memfd().map(|m| m.try_clone_to_owned()),
                _ => None,
            }
        };
        match memfd {
            Some(Ok(memfd)) => Ok((fd, memfd)),
            other => {
                let _ = self.close(fd);
                Err(match other {
                    Some(Err(e)) => e,
                    _ => err(libc::EIO),
                })
            }
        }
    }

    /// The stream generation that a file handle pairs with an inode number:
    /// drawn at random when the store is made, so a handle from another
    /// store (an earlier mount at the same place) is refused with `ESTALE`.
    pub fn generation(&self) -> u32 {
        self.inner.generation
    }

    /// The node with inode number `ino`, for a front end serving file
    /// handles (`open_by_handle_at`, NFS export). Needs the inode index
    /// ([`FsBuilder::inode_index`](crate::FsBuilder::inode_index)).
    ///
    /// # Errors
    /// `ESTALE` if no inode of that number has a name (any more), or
    /// `generation` is not [`generation`](Fs::generation); `EOPNOTSUPP`
    /// without the inode index.
    pub fn node_by_ino(&self, ino: u64, generation: u32) -> io::Result<Node> {
        if generation != self.inner.generation {
            return fail(libc::ESTALE);
        }
        let index = self
            .inner
            .inos
            .as_ref()
            .ok_or_else(|| err(libc::EOPNOTSUPP))?;
        index
            .get(ino)
            .filter(|inode| inode.nlink() > 0)
            .map(Node::new)
            .ok_or_else(|| err(libc::ESTALE))
    }
}
