//! Descriptors: `open`, `read`, `write`, `pread`, `pwrite`, `lseek`,
//! `ftruncate`, `truncate`, `fstat`, `close`, `dup`, `dup2`, `fsync`.
//!
//! Data calls take only the file's own lock (shared to read, alone to
//! write), never a file-system-wide one. `read`, `write` and `lseek` on one
//! description also take its position lock, as Linux's `f_pos_lock` does,
//! so concurrent calls through a shared description never reuse an offset.

use std::io;
use std::path::Path;
use std::sync::Arc;

use erm_fdtable::FdTable;

use crate::api::fs::{Fs, Inner, gate};
use crate::api::open_file::OpenFile;
use crate::content::data::{Bytes, offset_of, read_at, truncate_open, verify_area, view, write_at};
use crate::namespace::node::Make;
use crate::namespace::path::{parse, parse_bytes};
use crate::namespace::walk::hop;
use crate::namespace::walk::{Follow, Last, ParentOf};
use crate::sync::{AtomicI64, Mutex, Ordering, lock, read};
use crate::types::errno::{err, fail};
use crate::types::identity::Writer;
use crate::types::inode::{Body, Content, FileType, Inode};
use crate::types::stat::{Stat, stat_of};
use crate::types::stats::add;

impl Inner {
    pub(crate) fn file(&self, fd: i32) -> io::Result<Arc<OpenFile>> {
        self.fds.load().get(fd).ok_or_else(|| err(libc::EBADF))
    }

    fn install(&self, of: Arc<OpenFile>) -> io::Result<i32> {
        let _gate = gate(self);
        self.fds.load().insert(of)
    }

    /// Opens `inode` with `flags` (checked by the caller for the access
    /// mode): `None` if it is a file freed meanwhile (unlinked and closed
    /// after it was looked up). With `memfd` a file's content is held in a
    /// memfd while open (see [`Fs::open_node_memfd`]).
    fn open_resolved(
        &self,
        inode: Arc<Inode>,
        flags: i32,
        writer: Option<Writer>,
        memfd: bool,
    ) -> io::Result<Option<i32>> {
        let access = flags & libc::O_ACCMODE;
        let directory = flags & libc::O_DIRECTORY != 0;
        let trunc = flags & libc::O_TRUNC != 0;
        match inode.kind() {
            FileType::Symlink => {
                // Only `O_NOFOLLOW` stops at a link (no `O_PATH`).
                return fail(if directory {
                    libc::ENOTDIR
                } else {
                    libc::ELOOP
                });
            }
            FileType::Dir => {
                if access != libc::O_RDONLY || trunc || flags & libc::O_CREAT != 0 {
                    return fail(libc::EISDIR);
                }
            }
            _ if directory => return fail(libc::ENOTDIR),
            FileType::File => {
                match self
                    .shared
                    .acquire_as(&inode, access != libc::O_RDONLY, trunc, memfd)
                {
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
                    other => other?,
                }
            }
            // No driver behind a device, no pipe behind a FIFO in-process:
            // what the kernel answers for a node nothing serves.
            _ => return fail(libc::ENXIO),
        }
        let of = Arc::new(OpenFile {
            inode,
            shared: Arc::clone(&self.shared),
            access,
            append: flags & libc::O_APPEND != 0,
            writer,
            offset: AtomicI64::new(0),
            pos: Mutex::new(()),
        });
        // On EMFILE the description drops here, which closes it.
        self.install(of).map(Some)
    }

    /// [`Fs::open_node`]: opens `inode` itself (no `O_CREAT` meaning).
    pub(crate) fn open_inode(
        &self,
        inode: Arc<Inode>,
        flags: i32,
        writer: Option<Writer>,
        memfd: bool,
    ) -> io::Result<i32> {
        if flags & libc::O_ACCMODE == libc::O_ACCMODE {
            return fail(libc::EINVAL);
        }
        let flags = flags & !libc::O_CREAT;
        self.open_resolved(inode, flags, writer, memfd)?
            .ok_or_else(|| err(libc::ENOENT))
    }

    /// Finds or creates the file for an `O_CREAT` open.
    pub(crate) fn open_create(&self, path: &Path, flags: i32, mode: u32) -> io::Result<Arc<Inode>> {
        let parsed = parse(path)?;
        let p = self.resolve_parent(&parsed)?;
        self.create_at(p, flags, mode, &mut 0)
    }

    /// Finds or creates the last component of `p` for an `O_CREAT` open.
    /// A symlink there is followed unless `O_EXCL` (`EEXIST`) or
    /// `O_NOFOLLOW` (`ELOOP`), and a dangling one gets its target created,
    /// as on Linux.
    fn create_at(
        &self,
        p: ParentOf<'_>,
        flags: i32,
        mode: u32,
        hops: &mut u32,
    ) -> io::Result<Arc<Inode>> {
        let Last::Name(name) = p.last else {
            // `/`, `.` or `..`: a directory that exists, as Linux's
            // `open_last_lookups` answers.
            return fail(if flags & libc::O_EXCL != 0 {
                libc::EEXIST
            } else {
                libc::EISDIR
            });
        };
        if p.trailing_slash {
            return fail(libc::EISDIR);
        }
        let existing = match self.child(p.dir(), name)? {
            Some(inode) => inode,
            None => {
                let _ns = lock(&self.ns);
                match self.child(p.dir(), name)? {
                    Some(inode) => inode,
                    None => {
                        let make = Make {
                            kind: FileType::File,
                            perm: mode,
                            umask: self.umask,
                            rdev: 0,
                        };
                        return self.make_in(p.dir(), name, make, self.owner_identity());
                    }
                }
            }
        };
        if flags & libc::O_EXCL != 0 {
            return fail(libc::EEXIST);
        }
        if !existing.is_symlink() {
            return Ok(existing);
        }
        if flags & libc::O_NOFOLLOW != 0 {
            return fail(libc::ELOOP);
        }
        hop(hops)?;
        let target = self.target(&existing)?;
        let parsed = parse_bytes(&target)?;
        let p = self.parent_from(p.chain, &parsed, hops)?;
        self.create_at(p, flags, mode, hops)
    }
}

/// `O_TMPFILE`'s own bit (`__O_TMPFILE`: libc's `O_TMPFILE` includes
/// `O_DIRECTORY`).
const O_TMPFILE_BIT: i32 = libc::O_TMPFILE & !libc::O_DIRECTORY;

impl Fs {
    /// Opens `path` and returns a new descriptor (the lowest free one).
    ///
    /// `flags`: one access mode (`O_RDONLY`, `O_WRONLY`, `O_RDWR`) ored with
    /// any of `O_CREAT`, `O_EXCL`, `O_TRUNC`, `O_APPEND`, `O_DIRECTORY`,
    /// `O_NOFOLLOW`; `O_PATH` drops every flag but `O_DIRECTORY` and
    /// `O_NOFOLLOW` (as Linux) and opens read-only; other bits are ignored.
    /// `mode` gives a created file's permission bits. Opening a compressed
    /// file inflates it into memory first.
    ///
    /// # Errors
    /// `EINVAL` for a bad access mode, `O_CREAT | O_DIRECTORY`, `O_TMPFILE`
    /// without write access, or a NUL in the path; `ENOENT`; `EEXIST` with
    /// `O_CREAT | O_EXCL` (`/`, `.` and `..` included); `EISDIR` when
    /// opening a directory for writing (so `O_TMPFILE` with write access),
    /// with `O_TRUNC` or with `O_CREAT`, or creating a path ending in `/`;
    /// `ENOTDIR` for `O_DIRECTORY` on a file or a file path ending in `/`;
    /// `ENAMETOOLONG`; `EMFILE` when the table is full; `ENOSPC` when the
    /// inflated file does not fit the memory limit; `EIO` for a corrupt stream.
    pub fn open(&self, path: impl AsRef<Path>, flags: i32, mode: u32) -> io::Result<i32> {
        // `O_PATH` beats every other flag (the kernel's `build_open_how`):
        // only `O_DIRECTORY` and `O_NOFOLLOW` stay, so `open(path, -1)`
        // opens a directory and gives `ENOTDIR` for a file, as Linux. There
        // are no `O_PATH` descriptors here: it is opened read-only.
        let flags = if flags & libc::O_PATH != 0 {
            flags & (libc::O_DIRECTORY | libc::O_NOFOLLOW)
        } else {
            flags
        };
        let access = flags & libc::O_ACCMODE;
        if access == libc::O_ACCMODE {
            return fail(libc::EINVAL);
        }
        let (creat, directory) = (flags & libc::O_CREAT != 0, flags & libc::O_DIRECTORY != 0);
        if creat && directory {
            return fail(libc::EINVAL);
        }
        // `O_TMPFILE` (its own bit and `O_DIRECTORY`) needs write access,
        // checked before the path is looked at (`build_open_flags`). With
        // write access it opens the directory for writing, which gives
        // `EISDIR` below: what a kernel without `O_TMPFILE` answers.
        if flags & O_TMPFILE_BIT != 0 && (!directory || access == libc::O_RDONLY) {
            return fail(libc::EINVAL);
        }
        let inner = &self.inner;
        // An open that races with an unlink and the last close of the same
        // file can find the inode already freed; it then starts again.
        for _ in 0..16 {
            let inode = if creat {
                inner.open_create(path.as_ref(), flags, mode)?
            } else if flags & libc::O_NOFOLLOW != 0 {
                inner.resolve_as(path.as_ref(), Follow::No)?
            } else {
                inner.resolve(path.as_ref())?
            };
            let writer = Writer::of(inner.owner_identity());
            if let Some(fd) = inner.open_resolved(inode, flags, writer, false)? {
                return Ok(fd);
            }
        }
        fail(libc::ENOENT)
    }

    /// Reads into `buf` at the descriptor's offset and advances it; 0 at end of file.
    ///
    /// # Errors
    /// `EBADF` for a bad or write-only descriptor, `EISDIR` for a directory,
    /// `EINVAL` if the offset plus the length would pass `i64::MAX`.
    pub fn read(&self, fd: i32, buf: &mut [u8]) -> io::Result<usize> {
        let of = self.inner.file(fd)?;
        if of.inode.is_dir() {
            return fail(libc::EISDIR);
        }
        if !of.readable() {
            return fail(libc::EBADF);
        }
        let _pos = lock(&of.pos);
        let off = offset_of(of.offset.load(Ordering::Acquire))?;
        verify_area(off, buf.len())?;
        let n = read_at(&of.shared, &of.inode, buf, off)?;
        of.offset.fetch_add(n as i64, Ordering::AcqRel);
        add(&self.inner.shared.counters.bytes_read, n as u64);
        Ok(n)
    }

    /// Reads into `buf` at `offset`, leaving the descriptor's offset alone.
    ///
    /// # Errors
    /// `EINVAL` for a negative offset (checked first, as on Linux), then as
    /// [`read`](Fs::read).
    pub fn pread(&self, fd: i32, buf: &mut [u8], offset: i64) -> io::Result<usize> {
        // Linux checks the offset before the descriptor.
        let offset = offset_of(offset)?;
        let of = self.inner.file(fd)?;
        if of.inode.is_dir() {
            return fail(libc::EISDIR);
        }
        if !of.readable() {
            return fail(libc::EBADF);
        }
        verify_area(offset, buf.len())?;
        let n = read_at(&of.shared, &of.inode, buf, offset)?;
        add(&self.inner.shared.counters.bytes_read, n as u64);
        Ok(n)
    }

    /// Runs `f` on the file's bytes in `offset..offset + len` (clamped to
    /// the end of file: shorter, or empty, there) without copying them: the
    /// borrowed view of a read. The descriptor's offset does not move. The
    /// file's shared lock is held while `f` runs, so writers of this file
    /// wait for it: keep `f` short.
    ///
    /// ```
    /// let fs = ermfs::Fs::new();
    /// let fd = fs.open("/a", libc::O_CREAT | libc::O_RDWR, 0o644)?;
    /// fs.write(fd, b"hello world")?;
    /// let sum = fs.with_bytes(fd, 6, 100, |b| b.iter().map(|&x| u32::from(x)).sum::<u32>())?;
    /// assert_eq!(sum, b"world".iter().map(|&x| u32::from(x)).sum::<u32>());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`pread`](Fs::pread); `EIO` if a compressed block in the range is corrupt.
    pub fn with_bytes<T>(
        &self,
        fd: i32,
        offset: i64,
        len: usize,
        f: impl FnOnce(&[u8]) -> T,
    ) -> io::Result<T> {
        let offset = offset_of(offset)?;
        let of = self.inner.file(fd)?;
        if of.inode.is_dir() {
            return fail(libc::EISDIR);
        }
        if !of.readable() {
            return fail(libc::EBADF);
        }
        verify_area(offset, len)?;
        view(
            &of.shared,
            &of.inode,
            offset,
            len,
            Bytes(|bytes: &[u8], zeros| {
                if zeros == 0 {
                    return f(bytes);
                }
                // Past what the region maps (a file over 64 GiB whose tail is a
                // hole): the zeros are made for the view.
                let mut whole = bytes.to_vec();
                whole.resize(bytes.len() + zeros, 0);
                f(&whole)
            }),
        )
    }

    /// Writes `buf` at the descriptor's offset (at the end of file with
    /// `O_APPEND`, atomically) and advances it. Bytes between the old end and
    /// the offset read as zeros.
    ///
    /// # Errors
    /// `EBADF` for a bad or read-only descriptor; `EINVAL` if the offset plus
    /// the length would pass `i64::MAX`; `EFBIG` past the largest region
    /// ([`erm_alloc::MAX_LEN`], where tmpfs would go on to `i64::MAX`);
    /// `ENOSPC` over the memory limit (the file is then unchanged).
    pub fn write(&self, fd: i32, buf: &[u8]) -> io::Result<usize> {
        let of = self.inner.file(fd)?;
        if !of.writable() {
            return fail(libc::EBADF);
        }
        let _pos = lock(&of.pos);
        let off = offset_of(of.offset.load(Ordering::Acquire))?;
        verify_area(off, buf.len())?;
        if buf.is_empty() {
            return Ok(0);
        }
        let end = write_at(
            &of.shared,
            &of.inode,
            buf,
            off,
            of.append,
            of.writer.as_ref(),
        )?;
        of.offset.store(end as i64, Ordering::Release);
        add(&self.inner.shared.counters.bytes_written, buf.len() as u64);
        Ok(buf.len())
    }

    /// Writes `buf` at `offset`, leaving the descriptor's offset alone. As on
    /// Linux, an `O_APPEND` descriptor appends whatever the offset.
    ///
    /// # Errors
    /// `EINVAL` for a negative offset (checked first, as on Linux), then as
    /// [`write`](Fs::write).
    pub fn pwrite(&self, fd: i32, buf: &[u8], offset: i64) -> io::Result<usize> {
        // Linux checks the offset before the descriptor.
        let off = offset_of(offset)?;
        let of = self.inner.file(fd)?;
        if !of.writable() {
            return fail(libc::EBADF);
        }
        verify_area(off, buf.len())?;
        if buf.is_empty() {
            return Ok(0);
        }
        write_at(
            &of.shared,
            &of.inode,
            buf,
            off,
            of.append,
            of.writer.as_ref(),
        )?;
        add(&self.inner.shared.counters.bytes_written, buf.len() as u64);
        Ok(buf.len())
    }

    /// Moves the descriptor's offset: `SEEK_SET`, `SEEK_CUR`, `SEEK_END`, or
    /// `SEEK_DATA`/`SEEK_HOLE`, which see the file as one data range (data
    /// at `offset`, the hole at the end). Returns the new offset.
    ///
    /// # Errors
    /// `EBADF`; `EINVAL` for another `whence` or a negative or overflowing
    /// result; `ENXIO` for `SEEK_DATA`/`SEEK_HOLE` at or past the end.
    pub fn lseek(&self, fd: i32, offset: i64, whence: i32) -> io::Result<i64> {
        let of = self.inner.file(fd)?;
        let _pos = lock(&of.pos);
        let size = || -> i64 {
            of.inode.sync_shared(self.inner.shared.atime_policy());
            match &read(&of.inode.state).body {
                Body::File(c) => c.len() as i64,
                Body::Dir(_) | Body::Symlink(_) | Body::Special(_) => 0,
            }
        };
        let new = match whence {
            libc::SEEK_SET => Some(offset),
            libc::SEEK_CUR => of.offset.load(Ordering::Acquire).checked_add(offset),
            libc::SEEK_END if !of.inode.is_dir() => size().checked_add(offset),
            libc::SEEK_DATA | libc::SEEK_HOLE if !of.inode.is_dir() => {
                let size = size();
                if offset < 0 || offset >= size {
                    return fail(libc::ENXIO);
                }
                // An open file is raw: its region knows its holes (page
                // granular, as tmpfs). Otherwise one data range.
                let st = read(&of.inode.state);
                let at = usize::try_from(offset).map_err(|_| err(libc::ENXIO))?;
                Some(match &st.body {
                    Body::File(Content::Raw(r)) if whence == libc::SEEK_DATA => {
                        r.seek_data(at)? as i64
                    }
                    Body::File(Content::Raw(r)) => r.seek_hole(at)? as i64,
                    _ if whence == libc::SEEK_DATA => offset,
                    _ => size,
                })
            }
            _ => None,
        };
        let new = new.filter(|&n| n >= 0).ok_or_else(|| err(libc::EINVAL))?;
        of.offset.store(new, Ordering::Release);
        Ok(new)
    }

    /// Sets the length of an open file: growing reads back zeros, shrinking
    /// gives memory back at once.
    ///
    /// # Errors
    /// `EBADF`; `EINVAL` for a negative length, a directory or a descriptor
    /// not open for writing; `ENOSPC` over the memory limit (file unchanged).
    pub fn ftruncate(&self, fd: i32, len: i64) -> io::Result<()> {
        let of = self.inner.file(fd)?;
        if of.inode.is_dir() || !of.writable() {
            return fail(libc::EINVAL);
        }
        truncate_open(&of.shared, &of.inode, len, of.writer.as_ref())
    }

    /// Sets the length of file `path` (opening it, and so inflating it, for
    /// the change; the next last close compresses it again).
    ///
    /// # Errors
    /// `EISDIR` for a directory; `EINVAL` for a negative length; the path
    /// errors of [`open`](Fs::open); `ENOSPC` over the memory limit.
    pub fn truncate(&self, path: impl AsRef<Path>, len: i64) -> io::Result<()> {
        let to_zero = offset_of(len)? == 0;
        let inode = self.inner.resolve(path.as_ref())?;
        match inode.kind() {
            FileType::File => {}
            FileType::Dir => return fail(libc::EISDIR),
            _ => return fail(libc::EINVAL),
        }
        self.inner.shared.acquire(&inode, true, to_zero)?;
        let writer = Writer::of(self.inner.owner_identity());
        let result = truncate_open(&self.inner.shared, &inode, len, writer.as_ref());
        self.inner.shared.release(&inode);
        result
    }

    /// Metadata of the file open at `fd`.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn fstat(&self, fd: i32) -> io::Result<Stat> {
        Ok(stat_of(
            &self.inner.file(fd)?.inode,
            self.inner.shared.atime_policy(),
        ))
    }

    /// Closes `fd`. When it was the last descriptor of the file's last open
    /// description, the compression policy runs (or an unlinked file is freed).
    ///
    /// # Errors
    /// `EBADF` if `fd` is not open.
    pub fn close(&self, fd: i32) -> io::Result<()> {
        let of = self
            .inner
            .fds
            .load()
            .remove(fd)
            .ok_or_else(|| err(libc::EBADF))?;
        drop(of);
        Ok(())
    }

    /// A new descriptor (the lowest free) for the same open description.
    ///
    /// # Errors
    /// `EBADF`, `EMFILE`.
    pub fn dup(&self, fd: i32) -> io::Result<i32> {
        let of = self.inner.file(fd)?;
        self.inner.install(of)
    }

    /// Makes `new` refer to the open description of `old`, closing what
    /// `new` held. Returns `new`.
    ///
    /// # Errors
    /// `EBADF` if `old` is not open or `new` is out of range.
    pub fn dup2(&self, old: i32, new: i32) -> io::Result<i32> {
        let of = self.inner.file(old)?;
        if old == new {
            return Ok(new);
        }
        let replaced = {
            let _gate = gate(&self.inner);
            self.inner.fds.load().insert_at(new, of)?
        };
        drop(replaced);
        Ok(new)
    }

    /// Flushes `fd`: a no-op (the data is in memory), checked for a valid descriptor.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn fsync(&self, fd: i32) -> io::Result<()> {
        self.inner.file(fd).map(drop)
    }
}
