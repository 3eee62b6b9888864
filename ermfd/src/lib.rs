//! memfd mechanics for ERMFS: make, size, map and seal a memfd, pass it over a UNIX socket,
//! execute it, and read any fd the cheapest way.
//!
//! A memfd is an anonymous RAM file the kernel gives a real file descriptor: it can be `mmap`ed,
//! `fstat`ed, `lseek`ed, `read`, sent to another process and executed. This crate is the thin,
//! safe layer over those syscalls that `ermfs` builds `export_memfd`/`import_fd` on; it knows
//! nothing of paths, files or ERMFS. Every fd it takes is a [`BorrowedFd`](std::os::fd::BorrowedFd)
//! and every fd it makes is an [`OwnedFd`](std::os::fd::OwnedFd) with `FD_CLOEXEC` (unless asked
//! for an inheritable one), so nothing leaks. Errors are [`std::io::Error`]s carrying the kernel's
//! errno. All `libc` calls sit in one private module; the rest of the crate has no `unsafe`.
//!
//! An export goes: [`create`] (size and flags) → [`map_mut`] and fill the mapping (or
//! [`write_all_at`]) → drop the map → [`seal`] if [`ExportFlags::SEALED`] → hand the fd out with
//! [`send_fd`], [`command`] or [`inheritable`] + [`proc_path`]. An import goes: [`source`] →
//! copy [`Source::mapped_bytes`] or [`read`] the [`Source::Stream`] until it returns 0.
//!
//! What it provides:
//!
//! - [`create`] with [`ExportFlags`] (`SEALED`, `EXECUTABLE`, `HUGETLB`; C ABI bit values), and
//!   [`noexec_seal_supported`] (the kernel's `MFD_NOEXEC_SEAL`, probed once);
//! - [`map_mut`] → [`MapMut`] (shared, writable) and [`map`] → [`Map`] (private, read-only),
//!   both `Deref<Target = [u8]>` and unmapped on drop;
//! - [`seal`] (content and size frozen) and [`seals`] → [`Seals`];
//! - [`write_all_at`], [`read`], [`read_at`] and [`lseek`] (all five [`Whence`]s), `EINTR`
//!   retried;
//! - [`source`] → [`Source`]: mapped for regular files, a stream otherwise;
//! - [`send_fd`] / [`recv_fd`]: `SCM_RIGHTS` over a [`UnixStream`](std::os::unix::net::UnixStream);
//! - [`fexecve`] (handles the `#!`-script pitfall of close-on-exec fds), [`command`] (a
//!   `std::process::Command` running an fd's program) and [`inheritable`] / [`proc_path`].
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use std::os::fd::AsFd;
//! let fd = ermfd::create(b"hello", 5, ermfd::ExportFlags::empty())?;
//! ermfd::map_mut(fd.as_fd(), 5)?.copy_from_slice(b"hello");
//! ermfd::seal(fd.as_fd())?;
//! assert!(ermfd::seals(fd.as_fd())?.contains(ermfd::Seals::IMMUTABLE));
//! assert_eq!(&ermfd::map(fd.as_fd(), 5)?[..], b"hello");
//! # Ok(())
//! # }
//! ```
//!
//! # Limitations
//!
//! - Linux only (memfd, seals, `SCM_RIGHTS`, `/proc/self/fd`), 64-bit targets only.
//! - [`Map`] and [`MapMut`] hand out the file's pages as slices. If another fd or process writes
//!   the file while the map lives, the slice's bytes change under Rust's feet; if it truncates
//!   the file, touching the lost pages raises `SIGBUS`; two [`MapMut`]s of one file alias the
//!   same bytes. (This is why `memmap2` calls mapping
//!   `unsafe`.) The crate's own flow is safe: a fresh memfd has no other holder, and a memfd with
//!   [`Seals::IMMUTABLE`] cannot change. Before mapping an fd from elsewhere, check [`seals`] or
//!   trust its sender; [`source`] maps any regular file and shares this caveat.
//! - [`ExportFlags::HUGETLB`] rounds the visible size up to whole huge pages, does not support
//!   `write(2)` (fill it through [`map_mut`]), and fails on machines with no huge pages reserved
//!   (see [`create`]).
//! - [`ExportFlags::SEALED`] is applied by [`seal`], not by [`create`]; sealing fails with `EBUSY`
//!   while a [`MapMut`] of the file lives.
//! - Without `MFD_NOEXEC_SEAL` (kernels before 6.3) a non-executable memfd is only `chmod`ed to
//!   `0o666`: its holder could make it executable again.
//! - [`inheritable`] duplicates (and so [`command`]) are inherited by every child spawned while
//!   they are open, from any thread.
//! - [`recv_fd`] speaks only [`send_fd`]'s protocol: one data byte per fd.
#![deny(unsafe_code)]

mod exec;
mod flags;
mod io;
mod map;
mod memfd;
mod pass;
mod source;
mod sys;

pub use exec::{command, fexecve, inheritable, proc_path};
pub use flags::{ExportFlags, Seals};
pub use io::{Whence, lseek, read, read_at, write_all_at};
pub use map::{Map, MapMut, map, map_mut};
pub use memfd::{NAME_MAX, create, noexec_seal_supported, seal, seals};
pub use pass::{recv_fd, send_fd};
pub use source::{Source, source};
