//! The C ABI of ERMFS: `libermfs.so` and `libermfs.a`, described by the
//! generated `include/ermfs.h`.
//!
//! Every `ermfs_core::Fs` call is exported twice: `ermfs_X(...)` on a
//! process-wide default instance, created on first use from the environment
//! (`ERMFS_MEMORY_LIMIT`, `ERMFS_LOCKLESS`, `ERMFS_UMASK`), and `ermfs_fs_X(ermfs_t *fs,
//! ...)` on an explicit instance from `ermfs_new`. Both spellings are one
//! line over the same private body taking `&Fs`, so they cannot drift apart.
//! Each body runs inside one wrapper ([`boundary`]) that catches panics and
//! turns every `io::Error` into `-1` (or `NULL`) with libc's `errno` set to
//! the error's errno; the same wrapper is the only place C memory is read.
//!
//! Provided (C names):
//! - instances ([`instance`]): `ermfs_options_t`, `ermfs_options_init`,
//!   `ermfs_new`, `ermfs_free`, `ermfs_default`;
//! - descriptor calls ([`fd`]): `open`, `read`, `write`, `pread`, `pwrite`,
//!   `lseek`, `ftruncate`, `fstat`, `close`, `dup`, `dup2`, `fsync`;
//! - path calls ([`names`]): `stat`, `truncate`, `unlink`, `rename`,
//!   `rename2` (`RENAME_*` flags), `mkdir`, `rmdir`, `mknod`, `mkfifo`; directory streams ([`dir`]): `opendir`, `readdir`,
//!   `closedir`;
//! - instance-wide calls ([`control`]): `set_lockless_mode`, `is_lockless`,
//!   `settle`, `stats`;
//! - kernel descriptors ([`export`]): `ermfs_export_memfd`, `ermfs_import_fd`;
//! - ownership, permissions, times ([`meta`]): `chmod`, `fchmod`, `chown`,
//!   `fchown`, `access` (the process's identity), `access_as` (any uid,
//!   gid and groups), `may_delete_as` (the sticky-directory rule),
//!   `utimens`, `futimens`;
//! - extended attributes ([`xattr`]): `setxattr`, `getxattr`, `listxattr`,
//!   `removexattr` and their `f` forms on a descriptor;
//! - space ([`space`]): `statfs` (a `struct statvfs`), `fallocate`;
//! - links ([`links`]): `link`, `symlink`, `readlink`, `lstat`, `lchown`,
//!   `lutimens`.
//!
//! # Safety
//! This crate exists to take raw pointers from C. Each exported function
//! states in its `# Safety` section (copied into `ermfs.h`) what the caller
//! promises: pointers are NULL or valid for the stated size, handles are live.
//! NULL is always checked (`EFAULT`), lengths past `SSIZE_MAX` and ranges
//! past the user address space (`SSIZE_MAX` bytes anywhere) too; the
//! pointer reads themselves are the few `unsafe fn`s of [`boundary`].
//!
//! # Limitations
//! - ERMFS descriptors are the instance's own small integers, not kernel
//!   fds: they do not work with `read(2)` and may collide in value with kernel
//!   fds (`ermfs_export_memfd` gives a real kernel fd when one is needed);
//! - `opendir` reads a snapshot of the directory, and the `ermfs_fs_*` calls
//!   on an instance must not race with its `ermfs_free`;
//! - the environment is read once, when the default instance is created; it
//!   is never freed, and while it runs lockless valgrind reports its registry
//!   keys as "definitely lost" at exit (the lockless registry tags pointers in
//!   their high bits): the C tests switch it back to locked before exiting.

// The header lists items in this order (rustfmt sorts `mod` lines only
// within a block, hence one block each).
mod instance;

mod fd;

mod names;

mod dir;

mod control;

mod export;

mod meta;

mod xattr;

mod space;

mod links;

mod boundary;
mod stat;

#[cfg(test)]
mod tests;
