//! The `std::fs`-shaped layer over the descriptor calls: [`OpenOptions`],
//! [`File`] (`Read`, `Write`, `Seek`, positional I/O, close on drop),
//! [`Metadata`], [`ReadDir`] and [`DirEntry`], plus path conveniences on
//! [`Fs`] ([`read_file`](Fs::read_file), [`write_file`](Fs::write_file),
//! [`open_file`](Fs::open_file), [`create_file`](Fs::create_file),
//! [`metadata`](Fs::metadata), [`read_dir`](Fs::read_dir)).
//!
//! Every call is one descriptor call, so errors carry the same errnos. The
//! conveniences are not named `read`/`write` as in `std::fs` because
//! [`Fs::read`] and [`Fs::write`] are the descriptor calls.

use std::ffi::OsString;
use std::fs::Permissions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::api::fs::Fs;
use crate::types::errno::fail;
use crate::types::inode::FileType;
use crate::types::stat::Stat;

/// Options for opening a [`File`], as [`std::fs::OpenOptions`]: the same
/// flag combinations are accepted and refused (`EINVAL`) as std does on Linux.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// All options off; a created file gets mode `0o666`, as std's default.
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut OpenOptions {
        self.read = on;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut OpenOptions {
        self.write = on;
        self
    }

    /// Every write goes to the end of the file (`O_APPEND`); implies writing.
    pub fn append(&mut self, on: bool) -> &mut OpenOptions {
        self.append = on;
        self
    }

    /// Truncate to length 0 on open (`O_TRUNC`); needs `write`.
    pub fn truncate(&mut self, on: bool) -> &mut OpenOptions {
        self.truncate = on;
        self
    }

    /// Create the file if missing (`O_CREAT`); needs `write` or `append`.
    pub fn create(&mut self, on: bool) -> &mut OpenOptions {
        self.create = on;
        self
    }

    /// Create the file, failing with `EEXIST` if it exists (`O_CREAT | O_EXCL`).
    pub fn create_new(&mut self, on: bool) -> &mut OpenOptions {
        self.create_new = on;
        self
    }

    /// Permission bits of a created file (as `OpenOptionsExt::mode`).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = mode;
        self
    }

    /// The `open` flags these options give (std's rules on Linux).
    fn flags(&self) -> io::Result<i32> {
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => return fail(libc::EINVAL),
        };
        match (self.write, self.append) {
            (true, false) => {}
            (false, false) if self.truncate || self.create || self.create_new => {
                return fail(libc::EINVAL);
            }
            (false, false) => {}
            (_, true) if self.truncate && !self.create_new => return fail(libc::EINVAL),
            (_, true) => {}
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (false, false, false) => 0,
        };
        Ok(access | creation)
    }

    /// Opens `path` in `fs` with these options.
    ///
    /// # Errors
    /// `EINVAL` for a combination std refuses (no access mode, `create`
    /// or `truncate` without `write`, `append` with `truncate`), then the
    /// errors of [`Fs::open`].
    pub fn open(&self, fs: &Fs, path: impl AsRef<Path>) -> io::Result<File> {
        let fd = fs.open(path, self.flags()?, self.mode)?;
        Ok(File { fs: fs.clone(), fd })
    }
}

/// An open file of an [`Fs`]: one descriptor plus a clone of the `Fs`, as
/// [`std::fs::File`]. Reads, writes and seeks go through the descriptor's
/// offset; [`read_at`](File::read_at)/[`write_at`](File::write_at) leave it
/// alone. Dropping the `File` closes the descriptor (which may compress the
/// file, per the policy); an error on that close is ignored, as std does;
/// call [`close`](File::close) to see it. A `File` keeps its `Fs` alive.
#[derive(Debug)]
pub struct File {
    fs: Fs,
    /// The descriptor; -1 once [`close`](File::close) has taken it.
    fd: i32,
}

impl File {
    /// The descriptor (valid until the `File` is closed or dropped).
    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// Reads into `buf` at `offset`, leaving the file's offset alone
    /// (`pread`); 0 at or past the end.
    ///
    /// # Errors
    /// As [`Fs::pread`]; `EINVAL` for an offset past `i64::MAX`.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.fs.pread(self.fd, buf, to_i64(offset)?)
    }

    /// Writes `buf` at `offset`, leaving the file's offset alone (`pwrite`;
    /// with `append` it goes to the end, as on Linux).
    ///
    /// # Errors
    /// As [`Fs::pwrite`]; `EINVAL` for an offset past `i64::MAX`.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.fs.pwrite(self.fd, buf, to_i64(offset)?)
    }

    /// Sets the file's length: growing reads back zeros.
    ///
    /// # Errors
    /// As [`Fs::ftruncate`] (`EINVAL` if not open for writing, `ENOSPC`).
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.fs.ftruncate(self.fd, to_i64(len)?)
    }

    /// The file's metadata.
    ///
    /// # Errors
    /// `EBADF` only if the descriptor was closed behind the `File`'s back.
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.fs.fstat(self.fd).map(Metadata)
    }

    /// A no-op that succeeds: the data is in memory already.
    ///
    /// # Errors
    /// `EBADF` as [`metadata`](File::metadata).
    pub fn sync_all(&self) -> io::Result<()> {
        self.fs.fsync(self.fd)
    }

    /// Same as [`sync_all`](File::sync_all).
    ///
    /// # Errors
    /// As [`sync_all`](File::sync_all).
    pub fn sync_data(&self) -> io::Result<()> {
        self.fs.fsync(self.fd)
    }

    /// A second `File` on the same open description (`dup`: shared offset).
    ///
    /// # Errors
    /// `EMFILE` when the descriptor table is full.
    pub fn try_clone(&self) -> io::Result<File> {
        let fd = self.fs.dup(self.fd)?;
        Ok(File {
            fs: self.fs.clone(),
            fd,
        })
    }

    /// Closes the file, reporting an error the drop would ignore.
    ///
    /// # Errors
    /// `EBADF` if the descriptor was closed behind the `File`'s back.
    pub fn close(mut self) -> io::Result<()> {
        let fd = std::mem::replace(&mut self.fd, -1);
        self.fs.close(fd)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        if self.fd >= 0 {
            // As std::fs::File: a failed close cannot be reported from drop.
            let _ = self.fs.close(self.fd);
        }
    }
}

/// An offset or length as the `i64` the descriptor calls take.
fn to_i64(v: u64) -> io::Result<i64> {
    i64::try_from(v).map_err(|_| crate::types::errno::err(libc::EINVAL))
}

/// `lseek` arguments of a [`SeekFrom`].
fn seek_args(pos: SeekFrom) -> io::Result<(i64, i32)> {
    Ok(match pos {
        SeekFrom::Start(n) => (to_i64(n)?, libc::SEEK_SET),
        SeekFrom::Current(n) => (n, libc::SEEK_CUR),
        SeekFrom::End(n) => (n, libc::SEEK_END),
    })
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fs.read(self.fd, buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        // Reserve the rest of the file up front: one copy, no regrowth.
        if let Ok(st) = self.fs.fstat(self.fd) {
            let pos = self.fs.lseek(self.fd, 0, libc::SEEK_CUR).unwrap_or(0);
            let rest = st.size.saturating_sub(u64::try_from(pos).unwrap_or(0));
            buf.try_reserve(usize::try_from(rest).unwrap_or(0))
                .map_err(|_| crate::types::errno::err(libc::ENOMEM))?;
        }
        let start = buf.len();
        loop {
            if buf.len() == buf.capacity() {
                buf.try_reserve(32 << 10)
                    .map_err(|_| crate::types::errno::err(libc::ENOMEM))?;
            }
            let old = buf.len();
            buf.resize(buf.capacity(), 0);
            match self.fs.read(self.fd, &mut buf[old..]) {
                Ok(0) => {
                    buf.truncate(old);
                    return Ok(old - start);
                }
                Ok(n) => buf.truncate(old + n),
                Err(e) => {
                    buf.truncate(old);
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.fs.write(self.fd, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let (offset, whence) = seek_args(pos)?;
        let new = self.fs.lseek(self.fd, offset, whence)?;
        // lseek never returns a negative offset.
        Ok(new.unsigned_abs())
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

/// Metadata of a file, directory or symlink, as [`std::fs::Metadata`]
/// (from `stat` or `lstat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata(Stat);

impl Metadata {
    /// Size in bytes (0 for a directory).
    pub fn len(&self) -> u64 {
        self.0.size
    }

    /// Whether the size is 0.
    pub fn is_empty(&self) -> bool {
        self.0.size == 0
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.0.kind == FileType::File
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.0.kind == FileType::Dir
    }

    /// Whether it is a symbolic link (only from
    /// [`Fs::symlink_metadata`]: [`Fs::metadata`] follows links).
    pub fn is_symlink(&self) -> bool {
        self.0.kind == FileType::Symlink
    }

    /// The file type.
    pub fn file_type(&self) -> FileType {
        self.0.kind
    }

    /// Permissions (`st_mode`, type bits included, as std reports them).
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.0.mode)
    }

    /// `st_mode`: type bits and permission bits.
    pub fn mode(&self) -> u32 {
        self.0.mode
    }

    /// Inode number.
    pub fn ino(&self) -> u64 {
        self.0.ino
    }

    /// Owner user ID (`MetadataExt::uid`).
    pub fn uid(&self) -> u32 {
        self.0.uid
    }

    /// Owner group ID (`MetadataExt::gid`).
    pub fn gid(&self) -> u32 {
        self.0.gid
    }

    /// Link count.
    pub fn nlink(&self) -> u64 {
        u64::from(self.0.nlink)
    }

    /// Memory held, in 512-byte units (see [`Stat::blocks`]).
    pub fn blocks(&self) -> u64 {
        self.0.blocks
    }

    /// Last content change.
    ///
    /// # Errors
    /// None: every time is recorded (the `Result` is std's shape).
    pub fn modified(&self) -> io::Result<SystemTime> {
        Ok(self.0.mtime)
    }

    /// Last access (moved by reads `relatime`-style, see [`Fs::utimens`]).
    ///
    /// # Errors
    /// None, as [`modified`](Metadata::modified).
    pub fn accessed(&self) -> io::Result<SystemTime> {
        Ok(self.0.atime)
    }

    /// Creation time.
    ///
    /// # Errors
    /// None, as [`modified`](Metadata::modified).
    pub fn created(&self) -> io::Result<SystemTime> {
        Ok(self.0.btime)
    }

    /// The underlying [`Stat`].
    pub fn stat(&self) -> &Stat {
        &self.0
    }
}

/// An entry of a [`ReadDir`].
#[derive(Debug, Clone)]
pub struct DirEntry {
    fs: Fs,
    dir: PathBuf,
    name: OsString,
    ino: u64,
    kind: FileType,
}

impl DirEntry {
    /// The entry's name.
    pub fn file_name(&self) -> OsString {
        self.name.clone()
    }

    /// The directory's path joined with the name.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// The entry's type (known from the listing: no lookup).
    ///
    /// # Errors
    /// None (the `Result` is std's shape).
    pub fn file_type(&self) -> io::Result<FileType> {
        Ok(self.kind)
    }

    /// The entry's inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The entry's metadata (an `lstat` of [`path`](DirEntry::path) now:
    /// a symlink is not followed, as std's).
    ///
    /// # Errors
    /// `ENOENT` if the entry was removed since the listing.
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.fs.symlink_metadata(self.path())
    }
}

/// The entries of a directory, as [`std::fs::ReadDir`]: a snapshot taken
/// when it was made, without `.` and `..`, in byte order of the names.
#[derive(Debug)]
pub struct ReadDir {
    entries: std::vec::IntoIter<DirEntry>,
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        self.entries.next().map(Ok)
    }
}

impl Fs {
    /// Opens `path` read-only, as [`std::fs::File::open`].
    ///
    /// # Errors
    /// As [`Fs::open`].
    pub fn open_file(&self, path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(self, path)
    }

    /// Creates or truncates `path` for writing, as [`std::fs::File::create`].
    ///
    /// # Errors
    /// As [`Fs::open`].
    pub fn create_file(&self, path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self, path)
    }

    /// The whole content of `path`, as [`std::fs::read`].
    ///
    /// # Errors
    /// As [`Fs::open`] and [`Fs::read`] (`EISDIR` for a directory).
    pub fn read_file(&self, path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open_file(path)?.read_to_end(&mut out)?;
        Ok(out)
    }

    /// Makes `path` hold exactly `bytes` (creating it), as [`std::fs::write`].
    /// The file is closed on return (so compressed under `Immediate`).
    ///
    /// # Errors
    /// As [`Fs::open`] and [`Fs::write`] (`ENOSPC` over the memory limit).
    pub fn write_file(&self, path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> io::Result<()> {
        let mut file = self.create_file(path)?;
        file.write_all(bytes.as_ref())?;
        file.close()
    }

    /// Metadata of `path`, as [`std::fs::metadata`].
    ///
    /// # Errors
    /// As [`Fs::stat`].
    pub fn metadata(&self, path: impl AsRef<Path>) -> io::Result<Metadata> {
        self.stat(path).map(Metadata)
    }

    /// Metadata of `path` itself, a symlink not followed, as
    /// [`std::fs::symlink_metadata`].
    ///
    /// # Errors
    /// As [`Fs::lstat`].
    pub fn symlink_metadata(&self, path: impl AsRef<Path>) -> io::Result<Metadata> {
        self.lstat(path).map(Metadata)
    }

    /// The target of symlink `path`, as [`std::fs::read_link`].
    ///
    /// # Errors
    /// As [`Fs::readlink`] (`EINVAL` for anything but a symlink).
    pub fn read_link(&self, path: impl AsRef<Path>) -> io::Result<PathBuf> {
        self.readlink(path)
            .map(|t| PathBuf::from(OsString::from_vec(t)))
    }

    /// The entries of directory `path` without `.` and `..`, as
    /// [`std::fs::read_dir`] (a snapshot; see [`Fs::readdir`]).
    ///
    /// # Errors
    /// As [`Fs::readdir`] (`ENOTDIR` for a file, `ENOENT`).
    pub fn read_dir(&self, path: impl AsRef<Path>) -> io::Result<ReadDir> {
        let dir = path.as_ref().to_path_buf();
        let entries: Vec<DirEntry> = self
            .readdir(&dir)?
            .into_iter()
            .filter(|e| e.name != b"." && e.name != b"..")
            .map(|e| DirEntry {
                fs: self.clone(),
                dir: dir.clone(),
                name: OsString::from_vec(e.name),
                ino: e.ino,
                kind: e.kind,
            })
            .collect();
        Ok(ReadDir {
            entries: entries.into_iter(),
        })
    }
}
