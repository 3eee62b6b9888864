//! ERMFS core: an in-process RAM file store with a POSIX-shaped descriptor API
//! that compresses each file when its last descriptor closes.
//!
//! An [`Fs`] holds a tree of files and directories in memory. Names live in a
//! concurrent registry keyed by `(parent inode, name)` (`erm-registry`), like
//! the kernel's dentry cache: a lookup is one probe per path component and a
//! directory rename moves one entry. Each directory also keeps its own sorted
//! child list (under its own lock) for [`Fs::readdir`]. Descriptors come from
//! an `erm-fdtable` table and point to open file descriptions (inode, access
//! mode, flags, offset) shared by `dup`. While a file is open its bytes sit
//! uncompressed in an `erm-alloc` region under the file's own lock: writes
//! copy each byte once, reads once, no lock is shared between files. On the
//! last close, [`CompressionPolicy::Immediate`] (the default) deflates the
//! region block by block into the blocked gzip form of `erm-compress`, giving
//! each block's pages back as soon as it is packed;
//! [`CompressionPolicy::Background`] leaves that to a worker thread once the
//! file has stayed closed for a delay ([`Fs::settle`] waits for it), and
//! [`CompressionPolicy::Never`] keeps files raw. Reopening for writing
//! inflates the stream straight into a fresh region (on several threads for
//! a big file, as its compression was); a read-only reopen inflates only the
//! blocks its reads touch, and its last close keeps the stream. Every byte
//! held (raw or compressed) is charged to one memory budget per `Fs`, so a
//! memory limit turns into `ENOSPC` instead of
//! an OOM kill. Errors are `io::Error`s carrying the Linux errno.
//!
//! Provided:
//! - [`Fs`], built by [`Fs::builder`] ([`FsBuilder`], [`CompressionPolicy`]);
//! - descriptor calls: [`open`](Fs::open), [`read`](Fs::read),
//!   [`write`](Fs::write), [`pread`](Fs::pread), [`pwrite`](Fs::pwrite),
//!   [`lseek`](Fs::lseek), [`ftruncate`](Fs::ftruncate),
//!   [`fstat`](Fs::fstat), [`close`](Fs::close), [`dup`](Fs::dup),
//!   [`dup2`](Fs::dup2), [`fsync`](Fs::fsync);
//! - the node API, shaped like the kernel's inode operations (the path
//!   calls are a walk plus one of these): [`Node`] handles that keep an
//!   inode valid while held ([`Fs::root`], [`Fs::node`], [`Fs::lookup`],
//!   [`Fs::node_by_ino`] with [`Fs::generation`] for file handles),
//!   [`getattr`](Fs::getattr), [`setattr`](Fs::setattr) ([`SetAttr`]: any
//!   subset in one step), [`mknodat`](Fs::mknodat) (every file type:
//!   FIFOs, devices, sockets), [`mkdirat`](Fs::mkdirat),
//!   [`symlinkat`](Fs::symlinkat), [`linkat`](Fs::linkat),
//!   [`unlinkat`](Fs::unlinkat), [`rmdirat`](Fs::rmdirat),
//!   [`renameat2`](Fs::renameat2) ([`RenameFlags`]: `NOREPLACE`,
//!   `EXCHANGE`, `WHITEOUT`, atomic), [`open_node`](Fs::open_node), and
//!   directory streams ([`Fs::opendir_node`], [`DirStream`]: O(1) to open,
//!   stable cookies); creation takes the caller's [`Identity`] and follows
//!   Linux's set-group-ID and kill-privilege rules;
//! - path calls: [`mkdir`](Fs::mkdir), [`rmdir`](Fs::rmdir),
//!   [`unlink`](Fs::unlink), [`rename`](Fs::rename), [`stat`](Fs::stat)
//!   ([`Stat`]), [`readdir`](Fs::readdir) ([`DirEntry`]),
//!   [`truncate`](Fs::truncate), [`exists`](Fs::exists);
//! - links: hard links ([`link`](Fs::link); `nlink` counts the names, the
//!   content lives until the last name and the last descriptor are gone)
//!   and symbolic links ([`symlink`](Fs::symlink),
//!   [`readlink`](Fs::readlink), [`lstat`](Fs::lstat),
//!   [`lchown`](Fs::lchown), [`lutimens`](Fs::lutimens)), followed by every
//!   path walk in intermediate components and, unless `O_NOFOLLOW`, as the
//!   last one, at most [`MAX_SYMLINKS`] per resolution (`ELOOP`);
//! - metadata: [`chmod`](Fs::chmod), [`fchmod`](Fs::fchmod),
//!   [`chown`](Fs::chown), [`fchown`](Fs::fchown) (owner and umask from
//!   [`FsBuilder::owner`] and [`FsBuilder::umask`]), the permission checks
//!   a front end makes for a caller, [`access`](Fs::access) and
//!   [`may_delete`](Fs::may_delete) ([`Identity`]);
//!   [`utimens`](Fs::utimens) and [`futimens`](Fs::futimens)
//!   ([`TimeSpec`]), every time from an injectable clock
//!   ([`FsBuilder::clock`]) and `atime` kept `relatime`-style by default
//!   ([`AtimePolicy`]); extended
//!   attributes: [`setxattr`](Fs::setxattr), [`getxattr`](Fs::getxattr),
//!   [`listxattr`](Fs::listxattr), [`removexattr`](Fs::removexattr) and
//!   their `f` forms; [`statfs`](Fs::statfs) ([`StatFs`]);
//!   [`fallocate`](Fs::fallocate) (`0`, `KEEP_SIZE`, `PUNCH_HOLE`);
//! - the `std::fs`-shaped layer ([`std_api`]): [`OpenOptions`], [`File`]
//!   (`Read`, `Write`, `Seek`, [`read_at`](File::read_at),
//!   [`write_at`](File::write_at), closed on drop), [`Metadata`],
//!   [`ReadDir`], and [`Fs::read_file`], [`Fs::write_file`],
//!   [`Fs::open_file`], [`Fs::create_file`], [`Fs::metadata`],
//!   [`Fs::symlink_metadata`], [`Fs::read_link`], [`Fs::read_dir`];
//! - kernel fds: [`Fs::export_memfd`] ([`ExportFlags`]), [`Fs::import_fd`],
//!   [`Fs::import_gzip`], [`Fs::export_gzip`], and the borrowed view
//!   [`Fs::with_bytes`];
//! - with the cargo feature `vfs`, the `vfs` crate's `FileSystem` for
//!   [`Fs`], so a `vfs::VfsPath` can run on ERMFS (its creation-time
//!   setter answers `NotSupported`);
//! - [`Fs::settle`] (wait for background compressions),
//!   [`Fs::set_lockless_mode`] (switch backends when no descriptor is open)
//!   and [`Fs::stats`] ([`Stats`]);
//! - [`mknod`](Fs::mknod), [`mkfifo`](Fs::mkfifo),
//!   [`rename_with_flags`](Fs::rename_with_flags), [`opendir`](Fs::opendir);
//! - [`PATH_MAX`], [`NAME_MAX`], [`MAX_SYMLINKS`], [`ROOT_INO`], [`FileType`].
//!
//! Paths are bytes; a relative path is resolved against `/` (there is no
//! working directory); `.` and `..` are resolved during the walk, `..` never
//! above `/`. Flags and `whence` values are libc's (`libc::O_CREAT`, ...).
//!
//! ```
//! use ermfs::Fs;
//!
//! let fs = Fs::builder().memory_limit(Some(64 << 20)).build()?;
//! fs.mkdir("/logs", 0o755)?;
//! let fd = fs.open("/logs/a.txt", libc::O_CREAT | libc::O_RDWR, 0o644)?;
//! fs.write(fd, &b"hello ".repeat(1000))?;
//! fs.close(fd)?; // last close: compressed now
//! assert_eq!(fs.stats().compressions, 1);
//! let fd = fs.open("/logs/a.txt", libc::O_RDONLY, 0)?; // inflated again
//! let mut buf = [0u8; 6];
//! assert_eq!(fs.pread(fd, &mut buf, 6)?, 6);
//! assert_eq!(&buf, b"hello ");
//! fs.close(fd)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The same through the std-shaped layer, compressed in the background:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use ermfs::{CompressionPolicy, Fs, OpenOptions};
//!
//! let delay = Duration::from_millis(100);
//! let fs = Fs::builder().compression(CompressionPolicy::Background { delay }).build()?;
//! let mut file = OpenOptions::new().write(true).create(true).open(&fs, "/a.txt")?;
//! file.write_all(&b"hello ".repeat(1000))?;
//! drop(file); // closed: compressed 100 ms from now, unless reopened first
//! fs.settle(); // or now
//! assert_eq!(fs.stats().compressions, 1);
//! let mut text = String::new();
//! fs.open_file("/a.txt")?.read_to_string(&mut text)?;
//! assert!(text.starts_with("hello hello"));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Limitations
//! - the std-shaped conveniences are [`Fs::read_file`]/[`Fs::write_file`],
//!   not `read`/`write` (those names are the descriptor calls); a [`File`]'s
//!   descriptor is an ERMFS one, not a kernel fd ([`Fs::export_memfd`] makes
//!   one);
//! - the default policy is `Immediate`, not `Background` as a mounted disk
//!   would want: deterministic, and no thread unless asked for.
//!   `Background` runs one worker thread per `Fs` (not a pool), and every
//!   last close queues a job, so a file closed many times within the delay
//!   leaves stale jobs that the worker drops when they come due
//!   ([`Stats::pending_compressions`] counts them); dropping the last `Fs` clone stops the worker and leaves queued
//!   files raw (they are freed with it);
//! - a read-only open of a compressed file caches the blocks it reads,
//!   charged to the memory limit while there is room and dropped again when
//!   anything needs it; at the limit its reads inflate past the cache (a
//!   full store stays readable, block inflates cost more than cache hits);
//!   a writable open inflates the whole file, and its last close
//!   compresses it again even if nothing was written;
//! - multicore compression joins the runs of each chunk with one copy of their
//!   compressed bytes (counted in [`Stats::internal_copies`]);
//! - a large file that does not shrink is found out only after its deflate
//!   pass and then inflated back into its region (small files cost nothing);
//! - compression charges the stream as it grows while the region is still
//!   charged in full, so near the memory limit a file may stay uncompressed
//!   (never lost);
//! - FIFOs, devices and sockets are nodes only: opening one in-process
//!   gives `ENXIO`; no `O_TMPFILE`; no `O_PATH` (so no
//!   descriptor of a symlink itself); `chmod` (as Linux) and the xattr
//!   calls always follow a final symlink (no `l*xattr`); no call
//!   checks permissions itself ([`Fs::access`] and [`Fs::may_delete`] are
//!   there for a front end to ask first); uid 0 stands for every
//!   capability; POSIX ACLs (`system.posix_acl_access`/`_default`) are
//!   kept and honoured as on tmpfs, but the in-process calls check
//!   nothing, so only [`Fs::access`] and [`Fs::may_delete`] consult them,
//!   and setting one needs no ownership (Linux: the owner or `CAP_FOWNER`);
//! - `st_blocks` of a closed file counts the compressed stream it holds,
//!   not the pages written (an open file counts its data pages, as tmpfs);
//! - `O_APPEND` writes are serialized by the file's lock (no atomic range
//!   reservation); namespace changes are serialized by one lock per `Fs`.
//!
//! `SEMANTICS.md` at the repository root lists every call, its errors, and
//! each difference from Linux tmpfs.

#![deny(unsafe_code)]

mod api;
mod content;
mod namespace;
mod sync;
mod types;

pub use api::builder::FsBuilder;
pub use api::dirstream::DirStream;
pub use api::export::ExportFlags;
pub use api::fs::Fs;
pub use api::statfs::StatFs;
pub use api::std_api;
pub use api::std_api::{File, Metadata, OpenOptions, ReadDir};
pub use namespace::names::ROOT_INO;
pub use namespace::node::{Node, RenameFlags, SetAttr};
pub use namespace::path::PATH_MAX;
pub use namespace::walk::MAX_SYMLINKS;
pub use types::config::{AtimePolicy, ClockFn, CompressionPolicy, PARALLEL_MIN_BLOCKS};
pub use types::identity::Identity;
pub use types::inode::FileType;
pub use types::name::NAME_MAX;
pub use types::stat::{DirEntry, Stat};
pub use types::stats::Stats;
pub use types::times::TimeSpec;
pub use types::xattr::{XATTR_NAME_MAX, XATTR_SIZE_MAX};
