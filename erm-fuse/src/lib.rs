//! FUSE mount of an ERMFS store: any program can use a compressed RAM disk.
//!
//! [`ErmFuse`] implements `fuser::Filesystem` (fuser 0.18, pure-Rust
//! mount through `fusermount3`, or `mount(2)` as root) on ERMFS's node API:
//! the FUSE node id is the ERMFS inode number (unique, never reused,
//! root = 1) and a sharded table maps each id the kernel holds to the
//! [`ermfs::Node`] handle it was handed, with the kernel's lookup count.
//! Each request is one call on nodes (a write, with its privilege drop, is
//! one `pwrite`); no request turns an inode back into a path, so trees of
//! any depth work and renames, unlinks and hard links change nothing in the
//! table. A node the kernel has forgotten is found again by
//! `(ino, generation)`, so file handles (`open_by_handle_at`, an NFS export)
//! outlive the kernel's caches. File handles are ERMFS descriptors: an
//! unlinked file stays readable through them and the last `release`
//! compresses it by the store's policy.
//!
//! Provided:
//! - [`ErmFuse`]: lookup/forget, getattr/setattr (any subset of size, mode,
//!   owner, times, as one change), mknod (regular files, FIFOs, character
//!   and block devices, sockets)/create, open/read/write/flush/release/
//!   fsync, mkdir/rmdir/unlink, link/symlink/readlink, rename with
//!   `RENAME_NOREPLACE`, `RENAME_EXCHANGE` and `RENAME_WHITEOUT` (each one
//!   atomic step in the store), opendir/readdir/readdirplus/releasedir (a
//!   directory stream per handle: offsets stay valid whatever changes, and
//!   a read from offset 0 starts over, so `rewinddir` shows new names),
//!   statfs, the four xattr calls on the node itself (symlinks included),
//!   access, fallocate, lseek (`SEEK_DATA`/`SEEK_HOLE`), copy_file_range
//!   (inside the store);
//! - [`MountConfig`] and [`spawn`]: mount on a directory with
//!   `default_permissions` (the kernel checks permissions), POSIX ACLs
//!   (`FUSE_POSIX_ACL`: the kernel enforces the stored
//!   `system.posix_acl_*` xattrs and applies the umask itself,
//!   `FUSE_DONT_MASK`), `FUSE_EXPORT_SUPPORT`, `max_write` 1 MiB,
//!   attribute and entry TTL [`DEFAULT_TTL`] (1 s), negative entries (a
//!   missing name is cached for the TTL too), `FOPEN_NOFLUSH` (no FLUSH
//!   round trip per `close(2)`: nothing is buffered here),
//!   `FUSE_ATOMIC_O_TRUNC` (a closed file opened with `O_TRUNC` is dropped,
//!   not inflated first), `FUSE_PARALLEL_DIROPS` and
//!   `FUSE_HANDLE_KILLPRIV_V2` (the store drops set-user-ID/set-group-ID
//!   bits and `security.capability` on write, truncate and chown, so the
//!   kernel stops asking GETXATTR before every write), and on request the
//!   kernel's writeback cache ([`MountConfig::writeback_cache`],
//!   `--writeback-cache`);
//! - FUSE passthrough ([`ErmFuse::with_passthrough`],
//!   [`MountConfig::passthrough`], on by default; `--no-passthrough`): as
//!   root on Linux 6.9+ a file open for writing (or already in memory) is
//!   a memfd ([`ermfs::Fs::open_node_memfd`]) the kernel reads, writes,
//!   splices and maps itself, shared by every open of the inode until its
//!   last release, compressed from at the last close;
//! - kernel caches kept true: a change the kernel did not make itself (a
//!   privilege drop on write or truncate, the compression at the last
//!   close of a written file changing `st_blocks`, an ACL set through
//!   xattrs changing the mode) invalidates the inode's cached attributes
//!   through the session's notifier ([`ErmFuse::notifier_slot`]);
//! - [`mount`] and [`Unmounter`], for a daemon that runs the session
//!   itself: as root a mount(2) of type `fuse.ermfs` (the atime policy as
//!   the mount's `MS_*` flag), else fusermount3; unmounting falls back to
//!   a lazy detach when the mount is busy;
//! - [`options`]: `-o` words, tmpfs's (`size=` with tmpfs's suffixes,
//!   `KiB`/`GiB` and `N%` of RAM, `mode=`, `uid=`, `gid=`, the atime
//!   policies) and ERMFS's own, each refusal saying what is accepted;
//! - the binary `ermfs-mount [SOURCE] DIR [-o OPTIONS] [FLAGS]`.
//!
//! # Limitations
//! - Without passthrough each `write(2)` is one round trip, answered once
//!   the bytes are in ERMFS. The writeback cache is opt-in because the
//!   kernel then owns every cached file's size and mtime for good (a change
//!   made in process to the same [`ermfs::Fs`] would never show) and, as
//!   measured in the fuse bench, it speeds up scattered 4 KiB writes but
//!   not 1 MiB sequential ones (dirty-page throttling, one more copy).
//! - A change made in process to the same [`ermfs::Fs`] is not announced to
//!   the kernel: it shows after the TTL. An open keeps the kernel's cached
//!   pages (`FOPEN_KEEP_CACHE`) when the file's `(mtime, size)` is what it
//!   was when the kernel last had it open; an in-process change that keeps
//!   both is not seen by a cached reader.
//! - With `Background` compression the compression happens after the
//!   release that invalidated the attributes: `st_blocks` may show the
//!   uncompressed count for up to the TTL.
//! - Every request is at least one round trip through `/dev/fuse` (two
//!   context switches); `create` is two store calls (make the node, open
//!   it). With passthrough, what a file open through it writes is charged
//!   to the memory limit when the store next looks, so it can pass the
//!   limit while open (SEMANTICS.md).
//! - `O_TMPFILE`: fuser 0.18 has no `tmpfile` operation, so the kernel gets
//!   `EOPNOTSUPP` for it, as from any FUSE server without one.
//! - fuser 0.18 does not pass on the kernel's `FATTR_KILL_SUIDGID`/
//!   `FUSE_OPEN_KILL_SUIDGID`: whether a truncating caller lacks
//!   `CAP_FSETID` is judged by its uid (root keeps the bits).
#![deny(unsafe_code)]

mod attr;
pub mod control;
pub mod daemon;
pub mod logging;
mod mount;
mod nodes;
mod ops;
pub mod options;
mod passthrough;
pub mod requests;
mod sys;

pub use mount::{MountConfig, Unmounter, mount, spawn};
pub use ops::{DEFAULT_TTL, ErmFuse, NotifierSlot};
