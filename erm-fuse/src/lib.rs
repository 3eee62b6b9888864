//! FUSE mount of an ERMFS store: any program can use a compressed RAM disk.
//!
//! [`ErmFuse`] implements `fuser::Filesystem` (fuser 0.18, pure-Rust
//! mount through `fusermount3`, or `mount(2)` as root) on top of an
//! [`ermfs::Fs`]. FUSE names inodes by number while ERMFS is path based, so
//! the FUSE inode number is the ERMFS inode number (unique, never reused,
//! root = 1) and a table maps each inode the kernel holds to the
//! `(parent inode, name)` pairs it handed out for it (one, or several for
//! hard links), with the kernel's lookup count; a request turns its inode
//! back into a path by walking that table to the root. Renames move one
//! name (a directory's subtree follows), unlinks drop one; file
//! handles are ERMFS descriptors, so an unlinked file stays readable through
//! its handles and the last `release` compresses it by the store's policy.
//! Every request takes a shared lock, `rename` an exclusive one, so no path
//! is built while a subtree moves.
//!
//! Provided:
//! - [`ErmFuse`]: lookup/forget, getattr/setattr (size, mode, owner,
//!   times), mknod (regular files)/create, open/read/write/flush/release/
//!   fsync, mkdir/rmdir/unlink, link/symlink/readlink, rename (`RENAME_NOREPLACE`, and
//!   `RENAME_EXCHANGE` by three renames under the exclusive lock),
//!   opendir/readdir/readdirplus/releasedir (a snapshot per handle: offsets
//!   stay stable whatever changes; readdirplus hands out each entry's
//!   attributes, so a listing needs no LOOKUP per name), statfs, the four xattr calls, access, fallocate,
//!   lseek (`SEEK_DATA`/`SEEK_HOLE`), copy_file_range (inside the store);
//! - [`MountConfig`] and [`spawn`]: mount on a directory with
//!   `default_permissions` (the kernel checks permissions), `max_write`
//!   1 MiB, attribute and entry TTL [`DEFAULT_TTL`] (1 s: every change goes
//!   through the mount, so the kernel's cache is only stale if the same
//!   [`ermfs::Fs`] is also changed in process), negative entries (a missing
//!   name is cached for the TTL too), `FOPEN_NOFLUSH` (no FLUSH round trip
//!   per `close(2)`: nothing is buffered here), `FUSE_ATOMIC_O_TRUNC` (a
//!   closed file opened with `O_TRUNC` is dropped, not inflated first),
//!   `FUSE_PARALLEL_DIROPS` and `FUSE_HANDLE_KILLPRIV_V2` (the file system
//!   drops set-user-ID/set-group-ID bits and `security.capability` on
//!   write, truncate and chown, so the kernel stops asking GETXATTR before
//!   every write), and on request the kernel's writeback cache
//!   ([`MountConfig::writeback_cache`], `--writeback-cache`);
//! - the binary `ermfs-mount DIR [OPTIONS]`.
//!
//! # Limitations
//! - Write-through by default: each `write(2)` is one round trip, answered
//!   once the bytes are in ERMFS. The writeback cache is opt-in because the
//!   kernel then owns every cached file's size and mtime for good (a change
//!   made in process to the same [`ermfs::Fs`] would never show) and, as
//!   measured in the fuse bench, it speeds up scattered 4 KiB writes but
//!   not 1 MiB sequential ones (dirty-page throttling, one more copy).
//! - An open keeps the kernel's cached pages (`FOPEN_KEEP_CACHE`)
//!   when the file's `(mtime, size)` is what it was when the kernel last had
//!   it open; a change to the same [`ermfs::Fs`] made in process that keeps
//!   both is not seen by a cached reader.
//! - Every request is at least one round trip through `/dev/fuse` (two
//!   context switches): a create/stat/unlink costs eight synchronous ones
//!   (LOOKUP, CREATE, GETXATTR before the first write, WRITE, GETATTR after
//!   it, UNLINK, and two GETATTRs of the directory that
//!   `default_permissions` needs after each change to it).
//! - Extended attributes on a symlink's inode act on its target (ERMFS's
//!   xattr calls follow links); Linux refuses `user.` ones there.
//! - A truncate or `open(O_TRUNC)` by a caller other than root drops the
//!   set-ID bits (fuser 0.18 does not pass on the kernel's
//!   `FATTR_KILL_SUIDGID`/`FUSE_OPEN_KILL_SUIDGID`, so "lacks `CAP_FSETID`"
//!   is judged by uid).
//! - `mknod` makes regular files only (`EPERM` for devices, FIFOs, sockets).

mod mount;
mod nodes;
mod ops;

pub use mount::{MountConfig, spawn};
pub use ops::{DEFAULT_TTL, ErmFuse};
