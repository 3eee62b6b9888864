//! The `vfs` crate's [`FileSystem`] trait for [`Fs`] (cargo feature `vfs`),
//! so programs written against `vfs` (`VfsPath`) can run on ERMFS.
//!
//! Each trait call is one ERMFS call: `read_dir` is [`Fs::read_dir`],
//! `create_dir` [`Fs::mkdir`] (mode `0o755`), `open_file`, `create_file` and
//! `append_file` open a [`File`] (created files get mode `0o644`: std's
//! `0o666`/`0o777` under the usual `022` umask, as ERMFS has no umask),
//! `metadata` [`Fs::stat`], `remove_file` [`Fs::unlink`], `remove_dir`
//! [`Fs::rmdir`], `move_file` and `move_dir` [`Fs::rename`]. `vfs` names the
//! root `""`, ERMFS `/`.
//!
//! Errors keep their `io::Error` (with the errno) and get the `vfs` kind
//! that says what went wrong:
//! - `ENOENT` (and `ENOTDIR` in `exists`, which then answers `false`):
//!   [`VfsErrorKind::FileNotFound`]; `vfs` turns every not-found
//!   `io::Error` into that bare kind, so the errno survives as the error's
//!   `source()`, an `IoError` wrapping the original;
//! - `EEXIST` from `create_dir`: [`VfsErrorKind::DirectoryExists`] or
//!   [`VfsErrorKind::FileExists`], after what the name holds, the `io::Error`
//!   again as the `source()`;
//! - a path ERMFS refuses before any lookup (a NUL byte `EINVAL`,
//!   `ENAMETOOLONG`): [`VfsErrorKind::InvalidPath`], `io::Error` as the source;
//! - every other errno (`EISDIR`, `ENOTDIR`, `ENOTEMPTY`, `EINVAL` for a
//!   directory moved below itself, `ENOSPC`, `EMFILE`, `EIO`, ...):
//!   [`VfsErrorKind::IoError`] holding it.
//!
//! `set_modification_time` and `set_access_time` are [`Fs::utimens`] (the
//! other time omitted); `set_creation_time` answers
//! [`VfsErrorKind::NotSupported`] (the birth time never changes, as on
//! Linux); `copy_file` too, so `vfs` copies through the open files (no cheaper way exists: ERMFS
//! has no reflinks). `open_file` on a directory fails with `EISDIR` (the
//! kernel would open it and fail the reads). Names that are not UTF-8
//! (made through the byte-path API) cannot be `String`s: `read_dir` fails
//! with `EILSEQ` rather than list a name that opens nothing.

use std::io;
use std::path::Path;

use vfs::error::VfsErrorKind;
use vfs::{FileSystem, SeekAndRead, SeekAndWrite, VfsError, VfsFileType, VfsMetadata, VfsResult};

use crate::api::fs::Fs;
use crate::api::std_api::{File, OpenOptions};
use crate::types::errno::err;
use crate::types::inode::FileType;
use crate::types::times::TimeSpec;

/// The ERMFS path of a `vfs` path (`""` is the root).
fn path_of(path: &str) -> &Path {
    Path::new(if path.is_empty() { "/" } else { path })
}

/// `e` as a `vfs` error source: wrapped so that `vfs` keeps it as an
/// `IoError` instead of normalising a not-found error to a bare kind.
fn cause(e: io::Error) -> VfsError {
    if e.kind() == io::ErrorKind::NotFound {
        VfsError::from(io::Error::other(e))
    } else {
        VfsError::from(e)
    }
}

/// The `vfs` error for an ERMFS error (see the module docs).
fn vfs_err(e: io::Error) -> VfsError {
    match e.raw_os_error() {
        Some(libc::ENOENT) => VfsError::from(VfsErrorKind::FileNotFound).with_cause(cause(e)),
        _ => VfsError::from(e),
    }
}

/// Checks the shape of `path` before any lookup, so a refused path is
/// [`VfsErrorKind::InvalidPath`] whatever the call: a NUL, a path past
/// `PATH_MAX`, and for `vfs` also a name past `NAME_MAX` (the file system
/// calls refuse that one only when the walk reaches it).
fn checked(path: &str) -> VfsResult<&Path> {
    let p = path_of(path);
    let long_name = |c: &crate::namespace::path::Comp<'_>| matches!(c, crate::namespace::path::Comp::Name(n) if n.len() > crate::types::name::NAME_MAX);
    let shape = crate::namespace::path::parse(p).and_then(|parsed| {
        if parsed.comps.iter().any(long_name) {
            Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG))
        } else {
            Ok(())
        }
    });
    match shape {
        Ok(()) => Ok(p),
        Err(e) => Err(VfsError::from(VfsErrorKind::InvalidPath).with_cause(cause(e))),
    }
}

/// Opens `path` with `options` as a file (not a directory).
fn open(fs: &Fs, path: &str, options: &OpenOptions) -> VfsResult<File> {
    let file = options.open(fs, checked(path)?).map_err(vfs_err)?;
    if file.metadata().map_err(vfs_err)?.is_dir() {
        return Err(vfs_err(err(libc::EISDIR)));
    }
    Ok(file)
}

/// `vfs` support (cargo feature `vfs`): a [`VfsPath`](vfs::VfsPath) made
/// from an `Fs` runs `vfs` programs on ERMFS, files compressing on their last
/// close as usual. The root is `""`; directories are made with mode `0o755`,
/// files with `0o644`. Errors keep their `io::Error` (errno): `ENOENT` is
/// [`VfsErrorKind::FileNotFound`] and `EEXIST` from `create_dir`
/// [`DirectoryExists`](VfsErrorKind::DirectoryExists) or
/// [`FileExists`](VfsErrorKind::FileExists), each with the `io::Error` as its
/// `source()`; a NUL byte or an over-long path is
/// [`InvalidPath`](VfsErrorKind::InvalidPath) (same); every other errno is
/// [`IoError`](VfsErrorKind::IoError). `open_file` on a directory is
/// `EISDIR`; `exists` is `false` for `ENOENT` and `ENOTDIR`;
/// `set_modification_time` and `set_access_time` are [`Fs::utimens`];
/// `set_creation_time` and `copy_file` are `NotSupported` (`vfs` then copies
/// through the files); `move_file` and `move_dir` are [`Fs::rename`].
impl FileSystem for Fs {
    fn read_dir(&self, path: &str) -> VfsResult<Box<dyn Iterator<Item = String> + Send>> {
        let names = self
            .read_dir(checked(path)?)
            .map_err(vfs_err)?
            .map(|entry| {
                let name = entry.map_err(vfs_err)?.file_name();
                name.into_string()
                    .map_err(|_| VfsError::from(err(libc::EILSEQ)))
            })
            .collect::<VfsResult<Vec<String>>>()?;
        Ok(Box::new(names.into_iter()))
    }

    fn create_dir(&self, path: &str) -> VfsResult<()> {
        let p = checked(path)?;
        match self.mkdir(p, 0o755) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                let kind = match self.stat(p) {
                    Ok(st) if st.kind == FileType::File => VfsErrorKind::FileExists,
                    _ => VfsErrorKind::DirectoryExists,
                };
                Err(VfsError::from(kind).with_cause(cause(e)))
            }
            Err(e) => Err(vfs_err(e)),
        }
    }

    fn open_file(&self, path: &str) -> VfsResult<Box<dyn SeekAndRead + Send>> {
        Ok(Box::new(open(self, path, OpenOptions::new().read(true))?))
    }

    fn create_file(&self, path: &str) -> VfsResult<Box<dyn SeekAndWrite + Send>> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true).mode(0o644);
        Ok(Box::new(open(self, path, &options)?))
    }

    fn append_file(&self, path: &str) -> VfsResult<Box<dyn SeekAndWrite + Send>> {
        Ok(Box::new(open(self, path, OpenOptions::new().append(true))?))
    }

    fn metadata(&self, path: &str) -> VfsResult<VfsMetadata> {
        let st = self.stat(checked(path)?).map_err(vfs_err)?;
        Ok(VfsMetadata {
            file_type: match st.kind {
                FileType::Dir => VfsFileType::Directory,
                // `stat` follows links: a symlink is never reported; vfs
                // knows no special files, which are files to it.
                _ => VfsFileType::File,
            },
            len: st.size,
            created: Some(st.btime),
            modified: Some(st.mtime),
            accessed: Some(st.atime),
        })
    }

    fn exists(&self, path: &str) -> VfsResult<bool> {
        match self.stat(checked(path)?) {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(false),
            Err(e) => Err(vfs_err(e)),
        }
    }

    fn remove_file(&self, path: &str) -> VfsResult<()> {
        self.unlink(checked(path)?).map_err(vfs_err)
    }

    fn remove_dir(&self, path: &str) -> VfsResult<()> {
        self.rmdir(checked(path)?).map_err(vfs_err)
    }

    fn move_file(&self, src: &str, dest: &str) -> VfsResult<()> {
        self.rename(checked(src)?, checked(dest)?).map_err(vfs_err)
    }

    fn move_dir(&self, src: &str, dest: &str) -> VfsResult<()> {
        self.rename(checked(src)?, checked(dest)?).map_err(vfs_err)
    }

    fn set_modification_time(&self, path: &str, time: std::time::SystemTime) -> VfsResult<()> {
        self.utimens(checked(path)?, TimeSpec::Omit, TimeSpec::Set(time))
            .map_err(vfs_err)
    }

    fn set_access_time(&self, path: &str, time: std::time::SystemTime) -> VfsResult<()> {
        self.utimens(checked(path)?, TimeSpec::Set(time), TimeSpec::Omit)
            .map_err(vfs_err)
    }
}
