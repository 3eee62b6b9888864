//! The node API: calls on inodes held by handle ([`Node`]), shaped like the
//! kernel's inode operations. A call takes a directory node and one name,
//! never a path, and the caller's [`Identity`]; the path calls of the other
//! modules are a walk (`namespace/walk.rs`) plus one of these.
//!
//! Every namespace change runs under the namespace lock (`Namespace::ns`), which
//! is what makes `RENAME_NOREPLACE` and `RENAME_EXCHANGE` atomic: the check
//! and the change happen under one lock, and an exchange swaps the two
//! registry entries with two `replace`s, so a lookup of either name finds
//! one of the two inodes at every instant and no third name ever exists.
//!
//! The node calls check no permissions, as the path calls (the front end
//! asks [`Fs::access`] first, or the kernel checks for a FUSE mount); the
//! identity decides only what Linux lets it decide inside the file system:
//! the owner of what it creates, set-group-ID inheritance, whether device
//! nodes may be made, whether a write or a truncate keeps set-ID bits.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use erm_registry::Registry;

use crate::types::name::{NAME_MAX, Name};

use crate::namespace::dirops::{set_child, touch_dir};
use crate::namespace::names::Namespace;
use crate::namespace::path::PATH_MAX;
use crate::sync::{Ordering, lock, read, write};
use crate::types::errno::{err, fail};
use crate::types::identity::Identity;
use crate::types::inode::{Body, Content, FileType, Inode};
use crate::types::stats::add;
use crate::types::times::TimeSpec;

/// A handle to one inode of an [`Fs`](crate::Fs): the inode stays valid (its metadata
/// readable, its content kept if it is a file) while a handle is held,
/// linked or not, as the kernel's inode references. Cheap to clone (one
/// `Arc`); two handles are equal when they name the same inode.
#[derive(Clone)]
pub struct Node {
    pub(crate) inode: Arc<Inode>,
}

impl Node {
    pub(crate) fn new(inode: Arc<Inode>) -> Node {
        Node { inode }
    }

    /// The inode number (unique within its [`Fs`](crate::Fs), never reused).
    pub fn ino(&self) -> u64 {
        self.inode.ino
    }

    /// What the inode is (fixed when it was made).
    pub fn kind(&self) -> FileType {
        self.inode.kind()
    }

    /// Names referring to it now (0 once it was removed).
    pub fn nlink(&self) -> u32 {
        self.inode.nlink()
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        Arc::ptr_eq(&self.inode, &other.inode)
    }
}

impl Eq for Node {}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("ino", &self.ino())
            .field("kind", &self.kind())
            .finish()
    }
}

/// Flags of [`Fs::renameat2`](crate::Fs::renameat2): Linux's `RENAME_*` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RenameFlags(u32);

impl RenameFlags {
    /// No flag: replace an existing target, as `rename(2)`.
    pub const NONE: RenameFlags = RenameFlags(0);
    /// Fail with `EEXIST` if the target exists (checked and done under one lock).
    pub const NOREPLACE: RenameFlags = RenameFlags(libc::RENAME_NOREPLACE);
    /// Swap the two names, which must both exist (atomically: no third name).
    pub const EXCHANGE: RenameFlags = RenameFlags(libc::RENAME_EXCHANGE);
    /// Leave a whiteout (a character device 0:0, owned by the caller) at
    /// the source name, as overlay file systems ask.
    pub const WHITEOUT: RenameFlags = RenameFlags(libc::RENAME_WHITEOUT);

    /// The flags of Linux's raw `flags` argument.
    ///
    /// # Errors
    /// `EINVAL` for an unknown bit.
    pub fn from_bits(bits: u32) -> io::Result<RenameFlags> {
        let all = libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE | libc::RENAME_WHITEOUT;
        if bits & !all != 0 {
            return fail(libc::EINVAL);
        }
        Ok(RenameFlags(bits))
    }

    /// The raw bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: RenameFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for RenameFlags {
    type Output = RenameFlags;
    fn bitor(self, rhs: RenameFlags) -> RenameFlags {
        RenameFlags(self.0 | rhs.0)
    }
}

/// The changes of one [`Fs::setattr`](crate::Fs::setattr): every field that is `Some` (or not
/// [`TimeSpec::Omit`]) is changed, all in one step under the inode's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission bits (`& 0o7777`; the type stays).
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size of a regular file (`truncate`).
    pub size: Option<u64>,
    /// New access time.
    pub atime: TimeSpec,
    /// New modification time.
    pub mtime: TimeSpec,
    /// An explicit change time; otherwise a change sets it to now.
    pub ctime: Option<SystemTime>,
}

impl Default for SetAttr {
    fn default() -> SetAttr {
        SetAttr {
            mode: None,
            uid: None,
            gid: None,
            size: None,
            atime: TimeSpec::Omit,
            mtime: TimeSpec::Omit,
            ctime: None,
        }
    }
}

/// Checks one name given to a node call: 1 to [`NAME_MAX`] bytes, no `/`,
/// no NUL (`.` and `..` are left to the call).
pub(crate) fn check_name(name: &[u8]) -> io::Result<()> {
    if name.is_empty() {
        return fail(libc::ENOENT);
    }
    if name.contains(&b'/') || name.contains(&0) {
        return fail(libc::EINVAL);
    }
    if name.len() > NAME_MAX {
        return fail(libc::ENAMETOOLONG);
    }
    Ok(())
}

/// `name` is `.` or `..`.
pub(crate) fn is_dots(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

/// What a creation asks for: type, permission bits before the umask, the
/// umask, a device number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Make {
    pub kind: FileType,
    pub perm: u32,
    pub umask: u32,
    pub rdev: u64,
}

impl Namespace {
    /// The child `name` of `dir` for a node call: `.` and `..` included.
    pub(crate) fn lookup_in(&self, dir: &Arc<Inode>, name: &[u8]) -> io::Result<Arc<Inode>> {
        check_name(name)?;
        let parent = {
            let st = read(&dir.state);
            let Body::Dir(d) = &st.body else {
                return fail(libc::ENOTDIR);
            };
            d.parent.clone()
        };
        match name {
            b"." => Ok(Arc::clone(dir)),
            // A removed directory has no entries, `..` included (Linux's
            // `IS_DEADDIR`).
            _ if dir.nlink() == 0 => fail(libc::ENOENT),
            b".." => parent.upgrade().ok_or_else(|| err(libc::ENOENT)),
            _ => self.child(dir, name)?.ok_or_else(|| err(libc::ENOENT)),
        }
    }

    /// Makes a new inode for `dir` by Linux's rules (`inode_init_owner`,
    /// `mode_strip_sgid`): owned by `who`, or by the directory's group if
    /// that is set-group-ID (a subdirectory then inherits the bit, and a
    /// group-executable set-group-ID file of a caller outside that group
    /// loses it). Not linked anywhere yet.
    pub(crate) fn new_inode(
        &self,
        dir: &Arc<Inode>,
        make: Make,
        body: Body,
        who: &Identity,
    ) -> io::Result<Arc<Inode>> {
        self.shared.inode_room()?;
        let kind = make.kind;
        // The umask, or the parent's default ACL (POSIX ACLs: `acl.rs`).
        let (mut perm, xattrs) =
            crate::types::acl::inherit(dir, kind, make.perm, make.umask, &self.shared.budget)?;
        let mut gid = who.gid;
        if dir.perm() & libc::S_ISGID != 0 {
            gid = dir.owner().1;
            if kind == FileType::Dir {
                perm |= libc::S_ISGID;
            } else if perm & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP
                && !who.in_group(gid)
                && !who.is_root()
            {
                perm &= !libc::S_ISGID;
            }
        }
        let now = self.shared.clock.now();
        let inode = Arc::new(Inode::new(
            self.alloc_ino(),
            kind,
            perm,
            Arc::downgrade(dir),
            body,
            (who.uid, gid),
            now,
        ));
        if xattrs.is_some() {
            write(&inode.state).xattrs = xattrs;
        }
        Ok(inode)
    }

    /// Creates `name` in `dir` (the namespace lock held by the caller).
    pub(crate) fn make_in(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        make: Make,
        who: &Identity,
    ) -> io::Result<Arc<Inode>> {
        let body = match make.kind {
            FileType::File => Body::File(Content::Raw(erm_alloc::Region::new(&self.shared.budget))),
            FileType::Dir => Body::Dir(Default::default()),
            FileType::Symlink => return fail(libc::EINVAL), // made by `symlink_in`
            FileType::Fifo | FileType::Socket => Body::Special(0),
            FileType::CharDevice | FileType::BlockDevice => Body::Special(make.rdev),
        };
        self.add(dir, name, make, body, who)
    }

    /// Links a new inode holding `body` as `name` in `dir` (the namespace
    /// lock held).
    pub(crate) fn add(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        make: Make,
        body: Body,
        who: &Identity,
    ) -> io::Result<Arc<Inode>> {
        if dir.nlink() == 0 {
            return fail(libc::ENOENT); // the directory was removed
        }
        let inode = self.new_inode(dir, make, body, who)?;
        // EEXIST if the name is taken, ENOSPC if the registry is full.
        self.names
            .load()
            .insert_if_absent(Name::new(dir.ino, name)?, Arc::clone(&inode))
            .map_err(io::Error::from)?;
        set_child(dir, name, true, self.shared.clock.now());
        self.count(&inode, 1);
        if let Some(index) = &self.inos {
            index.insert(&inode);
        }
        if make.kind == FileType::Dir {
            dir.nlink.fetch_add(1, Ordering::AcqRel);
        }
        Ok(inode)
    }

    /// Counts `inode` in the statistics by its type (`delta` 1 or -1).
    pub(crate) fn count(&self, inode: &Inode, delta: i64) {
        let c = &self.shared.counters;
        let counter = match inode.kind() {
            FileType::File => &c.files,
            FileType::Dir => &c.dirs,
            FileType::Symlink => &c.symlinks,
            _ => &c.specials,
        };
        if delta > 0 {
            add(counter, delta as u64);
        } else {
            crate::types::stats::sub(counter, delta.unsigned_abs());
        }
    }

    /// `mknod`/`mkdir`/`creat` of `name` in `dir` by `who`, in Linux's
    /// order of checks (the namespace lock taken here).
    pub(crate) fn mknod_in(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        make: Make,
        who: &Identity,
    ) -> io::Result<Arc<Inode>> {
        check_name(name)?;
        if !dir.is_dir() {
            return fail(libc::ENOTDIR);
        }
        if is_dots(name) {
            return fail(libc::EEXIST);
        }
        if needs_mknod_cap(make.kind, make.rdev) && !who.is_root() {
            return fail(libc::EPERM);
        }
        let _ns = lock(&self.ns);
        self.make_in(dir, name, make, who)
    }

    /// `symlink` of `target` as `name` in `dir` (the namespace lock held).
    pub(crate) fn symlink_in(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        target: &[u8],
        who: &Identity,
    ) -> io::Result<Arc<Inode>> {
        let budget = &self.shared.budget;
        budget.try_charge(target.len())?;
        let body = Body::Symlink(Arc::from(target));
        let make = Make {
            kind: FileType::Symlink,
            perm: 0o777,
            umask: 0,
            rdev: 0,
        };
        self.add(dir, name, make, body, who).inspect_err(|_| {
            budget.credit(target.len());
        })
    }

    /// `link` of `src` as `name` in `dir` (the namespace lock held; the
    /// name checked free by the caller).
    pub(crate) fn link_in(
        &self,
        src: &Arc<Inode>,
        dir: &Arc<Inode>,
        name: &[u8],
    ) -> io::Result<()> {
        if src.is_dir() {
            return fail(libc::EPERM);
        }
        if src.nlink() == 0 {
            return fail(libc::ENOENT); // linkat of an unlinked file
        }
        if src.nlink() == u32::MAX {
            return fail(libc::EMLINK);
        }
        self.names
            .load()
            .insert_if_absent(Name::new(dir.ino, name)?, Arc::clone(src))
            .map_err(io::Error::from)?;
        src.nlink.fetch_add(1, Ordering::AcqRel);
        let now = self.shared.clock.now();
        set_child(dir, name, true, now);
        write(&src.state).ctime = now.into();
        Ok(())
    }

    /// Removes `name` from `dir`: a directory if `want_dir`, anything else
    /// otherwise (the namespace lock held; `.`/`..` handled by the caller).
    pub(crate) fn remove_in(
        &self,
        dir: &Arc<Inode>,
        name: &[u8],
        want_dir: bool,
        trailing_slash: bool,
    ) -> io::Result<()> {
        let victim = self.child(dir, name)?.ok_or_else(|| err(libc::ENOENT))?;
        match (want_dir, victim.is_dir()) {
            (true, false) => return fail(libc::ENOTDIR),
            (false, true) => return fail(libc::EISDIR),
            (false, false) if trailing_slash => return fail(libc::ENOTDIR),
            (true, true) if !is_empty_dir(&victim) => return fail(libc::ENOTEMPTY),
            _ => {}
        }
        self.names.load().remove(&Name::new(dir.ino, name)?);
        set_child(dir, name, false, self.shared.clock.now());
        self.drop_link(dir, &victim);
        Ok(())
    }

    /// Whether `a` is `b` or one of its ancestors (walking `b`'s parents;
    /// the namespace lock held, so no directory moves meanwhile).
    fn is_ancestor(&self, a: &Arc<Inode>, b: &Arc<Inode>) -> bool {
        if !a.is_dir() {
            return false;
        }
        let mut cur = Arc::clone(b);
        loop {
            if Arc::ptr_eq(&cur, a) {
                return true;
            }
            let parent = match &read(&cur.state).body {
                Body::Dir(d) => d.parent.upgrade(),
                _ => None,
            };
            match parent {
                Some(p) if !Arc::ptr_eq(&p, &cur) => cur = p,
                _ => return false, // the root, or a removed directory
            }
        }
    }

    /// `renameat2` of `src_name` in `src_dir` to `dst_name` in `dst_dir`,
    /// in Linux's order of checks (`do_renameat2`, `vfs_rename`,
    /// `shmem_rename2`). `slashes` says whether each path ended in `/`
    /// (node calls: never). The namespace lock is taken here.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rename_in(
        &self,
        src_dir: &Arc<Inode>,
        src_name: &[u8],
        dst_dir: &Arc<Inode>,
        dst_name: &[u8],
        flags: RenameFlags,
        who: &Identity,
        slashes: (bool, bool),
    ) -> io::Result<()> {
        check_rename_flags(flags)?;
        let exchange = flags.contains(RenameFlags::EXCHANGE);
        let whiteout = flags.contains(RenameFlags::WHITEOUT);
        if !src_dir.is_dir() || !dst_dir.is_dir() {
            return fail(libc::ENOTDIR);
        }
        if is_dots(src_name) {
            return fail(libc::EBUSY);
        }
        if is_dots(dst_name) {
            return fail(if flags.contains(RenameFlags::NOREPLACE) {
                libc::EEXIST
            } else {
                libc::EBUSY
            });
        }
        let _ns = lock(&self.ns);
        let src = self
            .child(src_dir, src_name)?
            .ok_or_else(|| err(libc::ENOENT))?;
        let dst = self.child(dst_dir, dst_name)?;
        if flags.contains(RenameFlags::NOREPLACE) && dst.is_some() {
            return fail(libc::EEXIST);
        }
        if exchange {
            match &dst {
                None => return fail(libc::ENOENT),
                Some(d) if !d.is_dir() && slashes.1 => return fail(libc::ENOTDIR),
                _ => {}
            }
        }
        if !src.is_dir() && (slashes.0 || (!exchange && slashes.1)) {
            return fail(libc::ENOTDIR);
        }
        // The source must not be an ancestor of the target (EINVAL), nor
        // the target one of the source (ENOTEMPTY; EINVAL for an exchange).
        if self.is_ancestor(&src, dst_dir) {
            return fail(libc::EINVAL);
        }
        if let Some(d) = &dst
            && self.is_ancestor(d, src_dir)
        {
            return fail(if exchange {
                libc::EINVAL
            } else {
                libc::ENOTEMPTY
            });
        }
        if let Some(d) = &dst {
            if Arc::ptr_eq(d, &src) {
                return Ok(()); // two names of one inode: nothing to do
            }
            if !exchange {
                match (src.is_dir(), d.is_dir()) {
                    (false, true) => return fail(libc::EISDIR),
                    (true, false) => return fail(libc::ENOTDIR),
                    (true, true) if !is_empty_dir(d) => return fail(libc::ENOTEMPTY),
                    _ => {}
                }
            }
        }
        if dst_dir.nlink() == 0 {
            return fail(libc::ENOENT);
        }
        let names = self.names.load();
        let (src_key, dst_key) = (
            Name::new(src_dir.ino, src_name)?,
            Name::new(dst_dir.ino, dst_name)?,
        );
        let now = self.shared.clock.now();
        if let (true, Some(dst)) = (exchange, &dst) {
            // Each name switches from one inode to the other in one step:
            // a lookup of either finds one of the two, always.
            names.replace(&dst_key, Arc::clone(&src));
            names.replace(&src_key, Arc::clone(dst));
            if !Arc::ptr_eq(src_dir, dst_dir) {
                match (src.is_dir(), dst.is_dir()) {
                    (true, false) => {
                        src_dir.nlink.fetch_sub(1, Ordering::AcqRel);
                        dst_dir.nlink.fetch_add(1, Ordering::AcqRel);
                    }
                    (false, true) => {
                        dst_dir.nlink.fetch_sub(1, Ordering::AcqRel);
                        src_dir.nlink.fetch_add(1, Ordering::AcqRel);
                    }
                    _ => {}
                }
            }
            moved(&src, dst_dir, now);
            moved(dst, src_dir, now);
            touch_dir(src_dir, now);
            touch_dir(dst_dir, now);
            return Ok(());
        }
        let whiteout_inode = if whiteout {
            let make = Make {
                kind: FileType::CharDevice,
                perm: 0,
                umask: 0,
                rdev: 0,
            };
            Some(self.new_inode(src_dir, make, Body::Special(0), who)?)
        } else {
            None
        };
        match &dst {
            // The target name switches from the old inode to the new one in
            // one step: a lookup sees one or the other, never nothing.
            Some(_) => {
                names.replace(&dst_key, Arc::clone(&src));
            }
            None => names
                .insert_if_absent(dst_key, Arc::clone(&src))
                .map_err(io::Error::from)?,
        }
        match whiteout_inode {
            Some(w) => {
                names.replace(&src_key, Arc::clone(&w));
                self.count(&w, 1);
                if let Some(index) = &self.inos {
                    index.insert(&w);
                }
                touch_dir(src_dir, now);
            }
            None => {
                names.remove_if(&src_key, &src);
                set_child(src_dir, src_name, false, now);
            }
        }
        set_child(dst_dir, dst_name, true, now);
        if src.is_dir() && !Arc::ptr_eq(src_dir, dst_dir) {
            src_dir.nlink.fetch_sub(1, Ordering::AcqRel);
            dst_dir.nlink.fetch_add(1, Ordering::AcqRel);
        }
        moved(&src, dst_dir, now);
        if let Some(dst) = dst {
            self.drop_link(dst_dir, &dst);
        }
        Ok(())
    }
}

/// The check `renameat2` makes of its flags before any lookup: `EINVAL`
/// for `EXCHANGE` with another flag. (`WHITEOUT` needs no privilege since
/// Linux 5.8: a whiteout is a device nobody can open.)
pub(crate) fn check_rename_flags(flags: RenameFlags) -> io::Result<()> {
    let exchange = flags.contains(RenameFlags::EXCHANGE);
    let whiteout = flags.contains(RenameFlags::WHITEOUT);
    if exchange && (flags.contains(RenameFlags::NOREPLACE) || whiteout) {
        return fail(libc::EINVAL);
    }
    Ok(())
}

/// Whether making a node of `kind` with device `rdev` needs `CAP_MKNOD`
/// (Linux's `vfs_mknod`): a block device, or a character device other than
/// the whiteout 0:0.
pub(crate) fn needs_mknod_cap(kind: FileType, rdev: u64) -> bool {
    kind == FileType::BlockDevice || (kind == FileType::CharDevice && rdev != 0)
}

/// The type `mknod(2)` makes for `mode`, checked before any lookup as
/// Linux's `may_mknod`: 0 is a regular file, a directory `EPERM`, a
/// symlink or unknown bits `EINVAL`.
pub(crate) fn mknod_kind(mode: u32) -> io::Result<FileType> {
    match mode & libc::S_IFMT {
        0 => Ok(FileType::File),
        libc::S_IFDIR => fail(libc::EPERM),
        bits => match FileType::from_mode(bits) {
            Some(FileType::Symlink) | None => fail(libc::EINVAL),
            Some(kind) => Ok(kind),
        },
    }
}

/// Records that `inode` now lives in `dir`: its `ctime`, and a directory's
/// parent.
fn moved(inode: &Inode, dir: &Arc<Inode>, now: SystemTime) {
    let mut st = write(&inode.state);
    st.ctime = now.into();
    if let Body::Dir(d) = &mut st.body {
        d.parent = Arc::downgrade(dir);
    }
}

/// Whether `dir` is a directory with no entries.
pub(crate) fn is_empty_dir(dir: &Inode) -> bool {
    matches!(&read(&dir.state).body, Body::Dir(d) if d.children.is_empty())
}

/// Checks a symlink target: `ENOENT` if empty, `EINVAL` for a NUL,
/// `ENAMETOOLONG` past [`PATH_MAX`].
pub(crate) fn check_target(target: &[u8]) -> io::Result<()> {
    if target.is_empty() {
        return fail(libc::ENOENT);
    }
    if target.contains(&0) {
        return fail(libc::EINVAL);
    }
    if target.len() > PATH_MAX {
        return fail(libc::ENAMETOOLONG);
    }
    Ok(())
}
