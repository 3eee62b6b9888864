//! Conversions between ERMFS's types and the FUSE protocol's: file types,
//! attributes, device numbers, times, errnos.

use std::io;
use std::time::SystemTime;

use ermfs::{Stat, TimeSpec};
use fuser::{Errno, FileAttr, FileType, INodeNo, TimeOrNow};

use crate::sys;

/// The errno of `e` (`EIO` for an error that carries none).
pub(crate) fn errno(e: &io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The error of errno `code`.
pub(crate) fn fail(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// The FUSE file type of an ERMFS one.
pub(crate) fn kind(k: ermfs::FileType) -> FileType {
    match k {
        ermfs::FileType::File => FileType::RegularFile,
        ermfs::FileType::Dir => FileType::Directory,
        ermfs::FileType::Symlink => FileType::Symlink,
        ermfs::FileType::Fifo => FileType::NamedPipe,
        ermfs::FileType::CharDevice => FileType::CharDevice,
        ermfs::FileType::BlockDevice => FileType::BlockDevice,
        ermfs::FileType::Socket => FileType::Socket,
    }
}

/// A device number as the FUSE protocol carries it: the kernel's 32-bit
/// `new_encode_dev` form (12-bit major, 20-bit minor), from the `dev_t`
/// of `makedev(3)`. Numbers that do not fit are cut, as the kernel's own
/// 32-bit `dev_t` would.
pub(crate) fn encode_dev(dev: u64) -> u32 {
    let (major, minor) = (sys::major(dev), sys::minor(dev));
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

/// The `dev_t` of a device number the FUSE protocol carries
/// (`new_decode_dev`).
pub(crate) fn decode_dev(dev: u32) -> u64 {
    let major = (dev & 0xfff00) >> 8;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    sys::makedev(major, minor)
}

/// The attributes the kernel caches for a node.
pub(crate) fn attr(st: &Stat) -> FileAttr {
    FileAttr {
        ino: INodeNo(st.ino),
        size: st.size,
        blocks: st.blocks,
        atime: st.atime,
        mtime: st.mtime,
        ctime: st.ctime,
        crtime: st.btime,
        kind: kind(st.kind),
        perm: (st.mode & 0o7777) as u16,
        nlink: st.nlink,
        uid: st.uid,
        gid: st.gid,
        rdev: encode_dev(st.rdev),
        blksize: st.blksize,
        flags: 0,
    }
}

/// The attributes of a negative entry (node 0: "no such name") or of `.`
/// and `..` in a `readdirplus` answer (which the kernel takes no lookup
/// and no attributes from).
pub(crate) fn bare(ino: u64, kind: FileType) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: 0,
        blocks: 0,
        atime: SystemTime::UNIX_EPOCH,
        mtime: SystemTime::UNIX_EPOCH,
        ctime: SystemTime::UNIX_EPOCH,
        crtime: SystemTime::UNIX_EPOCH,
        kind,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 0,
        flags: 0,
    }
}

/// A time of a SETATTR as the node API takes it.
pub(crate) fn spec(t: Option<TimeOrNow>) -> TimeSpec {
    match t {
        None => TimeSpec::Omit,
        Some(TimeOrNow::Now) => TimeSpec::Now,
        Some(TimeOrNow::SpecificTime(t)) => TimeSpec::Set(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_round_trip_through_the_kernel_encoding() {
        for (major, minor) in [
            (0, 0),
            (4, 1),
            (8, 17),
            (259, 3),
            (0xfff, 0xfffff),
            (1, 256),
        ] {
            let dev = sys::makedev(major, minor);
            let wire = encode_dev(dev);
            assert_eq!(decode_dev(wire), dev, "{major}:{minor}");
        }
        // The classic 16-bit numbers keep their old encoding.
        assert_eq!(encode_dev(sys::makedev(4, 1)), 0x401);
    }
}
