//! What `stat` and `readdir` report: [`Stat`] and [`DirEntry`].

use std::time::SystemTime;

use crate::sync::read;
use crate::types::config::AtimePolicy;
use crate::types::inode::{Body, Content, FileType, Inode};

/// What `stat`/`fstat` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Inode number (unique within one [`Fs`](crate::Fs), never reused).
    pub ino: u64,
    /// File type.
    pub kind: FileType,
    /// `st_mode`: the type bits (`S_IFREG`, `S_IFDIR`, `S_IFLNK`,
    /// `S_IFIFO`, `S_IFCHR`, `S_IFBLK`, `S_IFSOCK`) with the permission
    /// bits (`0o777` for a symlink).
    pub mode: u32,
    /// Owner user ID.
    pub uid: u32,
    /// Owner group ID.
    pub gid: u32,
    /// Link count: a file's or symlink's names (0 once all are unlinked), 2
    /// plus subdirectories for a directory.
    pub nlink: u32,
    /// Size in bytes (directories: 0; symlinks: the target's length).
    pub size: u64,
    /// Memory held, in 512-byte units (raw capacity, or the compressed stream
    /// once the file is closed; this is where ERMFS differs from tmpfs).
    pub blocks: u64,
    /// Preferred I/O size.
    pub blksize: u32,
    /// The device a character or block device node stands for (0 for
    /// anything else), as `libc::makedev` encodes it.
    pub rdev: u64,
    /// Last access: reads update it `relatime`-style (see [`Fs::utimens`](crate::Fs::utimens)).
    pub atime: SystemTime,
    /// Last content change.
    pub mtime: SystemTime,
    /// Last content or metadata change.
    pub ctime: SystemTime,
    /// Creation (birth) time.
    pub btime: SystemTime,
}

/// One `readdir` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name bytes (`.` and `..` included).
    pub name: Vec<u8>,
    /// Inode number.
    pub ino: u64,
    /// File type.
    pub kind: FileType,
}

/// The attributes of `inode`, after taking in what another writer did to a
/// shared content (`atime`: the store's atime policy, for its reads).
pub(crate) fn stat_of(inode: &Inode, atime: AtimePolicy) -> Stat {
    inode.sync_shared(atime);
    let st = read(&inode.state);
    let (size, resident) = match &st.body {
        // An open (raw) file counts its data pages, as tmpfs; a closed one
        // the memory it holds (its compressed stream).
        Body::File(Content::Raw(r)) => (r.len() as u64, r.data_bytes() as u64),
        Body::File(c) => (c.len(), c.resident()),
        Body::Dir(_) => (0, 0),
        Body::Symlink(target) => (target.len() as u64, target.len() as u64),
        Body::Special(_) => (0, 0),
    };
    let rdev = match st.body {
        Body::Special(rdev) => rdev,
        _ => 0,
    };
    let (uid, gid) = inode.owner();
    Stat {
        ino: inode.ino,
        kind: inode.kind(),
        mode: inode.mode(),
        uid,
        gid,
        nlink: inode.nlink(),
        size,
        blocks: resident.div_ceil(512),
        blksize: 4096,
        rdev,
        atime: st.atime.into(),
        mtime: st.mtime.into(),
        ctime: st.ctime.into(),
        btime: inode.btime.into(),
    }
}
