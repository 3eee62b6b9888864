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
//!   opendir/readdir/releasedir (a snapshot per handle: offsets stay stable
//!   whatever changes), statfs, the four xattr calls, access, fallocate,
//!   lseek (`SEEK_DATA`/`SEEK_HOLE`), copy_file_range (inside the store);
//! - [`MountConfig`] and [`spawn`]: mount on a directory with
//!   `default_permissions` (the kernel checks permissions), `max_write`
//!   1 MiB, attribute and entry TTL [`DEFAULT_TTL`] (1 s: every change goes
//!   through the mount, so the kernel's cache is only stale if the same
//!   [`ermfs::Fs`] is also changed in process), negative entries (a missing
//!   name is cached for the TTL too), `FOPEN_NOFLUSH` (no FLUSH round trip
//!   per `close(2)`: nothing is buffered here), `FUSE_PARALLEL_DIROPS` and
//!   `FUSE_HANDLE_KILLPRIV_V2` (the file system drops set-user-ID/
//!   set-group-ID bits and `security.capability` on write, truncate and
//!   chown, so the kernel stops asking GETXATTR before every write);
//! - the binary `ermfs-mount DIR [OPTIONS]`.
//!
//! # Limitations
//! - No writeback cache: writes go straight to ERMFS (write-through page
//!   cache). With it the kernel would own every cached file's size and
//!   mtime for good (changes made in process would never show), and it
//!   measured slower for 1 MiB sequential writes (dirty-page throttling and
//!   one more copy), faster only for scattered 4 KiB writes. An open keeps the kernel's cached pages (`FOPEN_KEEP_CACHE`)
//!   when the file's `(mtime, size)` is what it was when the kernel last had
//!   it open; a change to the same [`ermfs::Fs`] made in process that keeps
//!   both is not seen by a cached reader.
//! - Extended attributes on a symlink's inode act on its target (ERMFS's
//!   xattr calls follow links); Linux refuses `user.` ones there.
//! - A truncate by a caller other than root drops the set-ID bits (fuser
//!   0.18 does not pass on the kernel's `FATTR_KILL_SUIDGID`, so "lacks
//!   `CAP_FSETID`" is judged by uid).
//! - `mknod` makes regular files only (`EPERM` for devices, FIFOs, sockets).

mod mount;
mod nodes;
mod ops;

pub use mount::{MountConfig, spawn};
pub use ops::{DEFAULT_TTL, ErmFuse};
