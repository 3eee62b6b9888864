//! Files in and out of kernel fds: [`Fs::export_memfd`], [`Fs::import_fd`]
//! and [`Fs::import_gzip`], on top of `ermfd`'s memfd mechanics.
//!
//! An export is a snapshot taken under the file's shared lock: writers of
//! that file wait for it, nothing else does. A closed file is inflated
//! block by block into a cache-sized buffer and written into the memfd (on
//! several threads when big); an open one is written into the memfd in one
//! `pwrite` (one copy). An import reads
//! the whole source into content of its own first and only then swaps it into
//! the file, so a failed import leaves the file as it was.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use erm_alloc::Region;
use erm_compress::Index;
pub use ermfd::ExportFlags;

use crate::api::fs::Fs;
use crate::content::shared::Incoming;
use crate::sync::read;
use crate::types::errno::{err, fail};
use crate::types::inode::{Body, Content};
use crate::types::stats::add;

/// Bytes asked of a stream source per `read` at first (doubling up to 4 MiB).
const STREAM_CHUNK: usize = 64 << 10;

/// Import flags that are accepted: `O_EXCL` (fail with `EEXIST` if the
/// path exists); 0 creates or replaces.
const IMPORT_FLAGS: i32 = libc::O_EXCL;

/// The label of a memfd made from `path`: its last component.
fn memfd_name(path: &Path) -> &[u8] {
    let bytes = path.as_os_str().as_bytes();
    let trimmed = bytes.strip_suffix(b"/").unwrap_or(bytes);
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

impl Fs {
    /// Exports the file at `path` as a new memfd holding a snapshot of its
    /// bytes (`MFD_CLOEXEC`, offset 0, named after the file's last component),
    /// ready for `mmap`, `fstat`, `fexecve` or passing to another process
    /// ([`ermfd::send_fd`]). Later writes to either side do not show in the
    /// other. The memfd's pages belong to the caller once returned and are not
    /// charged to this store's memory limit.
    ///
    /// `flags`: [`ExportFlags::SEALED`] seals the memfd against writes, growth
    /// and shrinking (`F_SEAL_SEAL` too), so a receiver can trust it;
    /// [`ExportFlags::EXECUTABLE`] makes it executable (mode `0o755`, for
    /// [`ermfd::fexecve`]; otherwise it is created `MFD_NOEXEC_SEAL` where the
    /// kernel has it); [`ExportFlags::HUGETLB`] backs it with huge pages where
    /// the kernel allows it (see [`ermfd::create`]).
    ///
    /// A closed (compressed) file is inflated block by block into a
    /// cache-sized buffer and written into the memfd (faster than inflating
    /// into a mapping of it, whose pages the kernel would fault in and zero
    /// one by one); an open one costs one copy.
    ///
    /// ```
    /// use std::io::Read;
    /// use ermfs::{ExportFlags, Fs};
    ///
    /// let fs = Fs::new();
    /// fs.write_file("/hello.txt", b"hello from ERMFS")?;
    /// let fd = fs.export_memfd("/hello.txt", ExportFlags::SEALED)?;
    /// let mut text = String::new();
    /// std::fs::File::from(fd).read_to_string(&mut text)?;
    /// assert_eq!(text, "hello from ERMFS");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// The path errors of [`open`](Fs::open) (`ENOENT`, `ENOTDIR`,
    /// `ENAMETOOLONG`, `EINVAL`); `EISDIR` for a directory; `EIO` for a
    /// corrupt compressed block; the kernel's errno if it refuses the memfd
    /// (`EMFILE`, `ENOMEM`, `ENOSPC` from hugetlbfs, ...). The memfd is not
    /// charged to the store's memory limit (it is the caller's memory), so a
    /// full store exports too. Nothing is changed on error.
    pub fn export_memfd(&self, path: impl AsRef<Path>, flags: ExportFlags) -> io::Result<OwnedFd> {
        let path = path.as_ref();
        let inode = self.inner.resolve(path)?;
        if inode.is_dir() {
            return fail(libc::EISDIR);
        }
        let shared = &self.inner.shared;
        inode.sync_shared(self.inner.shared.atime_policy());
        let st = read(&inode.state);
        let Body::File(content) = &st.body else {
            return fail(libc::EISDIR);
        };
        let len = content.len();
        let size = usize::try_from(len).map_err(|_| err(libc::EFBIG))?;
        // The memfd is the caller's memory, not the store's: a closed file
        // goes in block by block and nothing is charged, so a full store
        // still exports every file.
        let memfd = ermfd::create(memfd_name(path), len, flags)?;
        match content {
            // Only the data goes in: the memfd's holes read as zeros too.
            Content::Raw(region) if !flags.contains(ExportFlags::HUGETLB) => {
                for data in region.data_extents() {
                    let at = data.start as u64;
                    ermfd::write_all_at(memfd.as_fd(), &region.as_slice()[data], at)?;
                }
            }
            // hugetlbfs has no write(2): copy through a mapping.
            Content::Raw(region) => {
                let mut map = ermfd::map_mut(memfd.as_fd(), size)?;
                let bytes = region.as_slice();
                map[..bytes.len()].copy_from_slice(bytes);
            }
            Content::Packed(packed) if flags.contains(ExportFlags::HUGETLB) => {
                let mut map = ermfd::map_mut(memfd.as_fd(), size)?;
                shared.inflate_into(packed, &mut map)?;
            }
            Content::Lazy(lazy) if flags.contains(ExportFlags::HUGETLB) => {
                let mut map = ermfd::map_mut(memfd.as_fd(), size)?;
                shared.inflate_into(&lazy.packed, &mut map)?;
            }
            Content::Packed(packed) => {
                inflate_to_fd(shared, &packed.stream, &packed.index()?, memfd.as_fd())?;
            }
            Content::Lazy(lazy) => {
                inflate_to_fd(shared, &lazy.packed.stream, &lazy.index, memfd.as_fd())?;
            }
            Content::Freed => return fail(libc::ENOENT),
        }
        drop(st);
        if flags.contains(ExportFlags::SEALED) {
            // After the mapping is gone: a writable shared mapping blocks F_SEAL_WRITE.
            ermfd::seal(memfd.as_fd())?;
        }
        add(&shared.counters.bytes_exported, len);
        Ok(memfd)
    }

    /// Creates or replaces the file at `path` with the bytes of `fd` from
    /// its current offset to its end (a memfd, a regular file, a pipe, a
    /// socket: anything readable). A regular file is mapped and its bytes
    /// copied once into the store; anything else is read straight into the
    /// file's region. The fd's offset is left where it was for a mapped file
    /// and at the end for a stream. The file then goes through the
    /// compression policy as after a last close (an open file stays raw and
    /// its open descriptors see the new bytes). Returns the bytes imported.
    ///
    /// `flags`: 0 (create or replace) or `libc::O_EXCL` (fail with `EEXIST`
    /// if `path` exists). A new file gets mode `0o644`.
    ///
    /// # Errors
    /// `EINVAL` for other flag bits; the path errors of [`open`](Fs::open)
    /// with `O_CREAT`; `EISDIR` if `path` is a directory; `ENOSPC` over the
    /// memory limit; the kernel's errno from reading `fd` (`EBADF`, ...).
    /// The file is unchanged on error.
    pub fn import_fd(
        &self,
        path: impl AsRef<Path>,
        fd: BorrowedFd<'_>,
        flags: i32,
    ) -> io::Result<u64> {
        let path = path.as_ref();
        // Fail early on a bad destination, before reading what may be a pipe.
        self.check_import(path, flags)?;
        let region = self.read_source(fd)?;
        let len = region.len() as u64;
        self.install(path, flags, Incoming::Raw(region))?;
        add(&self.inner.shared.counters.bytes_imported, len);
        Ok(len)
    }

    /// Creates or replaces the file at `path` with the data of the gzip
    /// stream read from `fd` (as [`import_fd`](Fs::import_fd) reads). A
    /// stream that is already in ERMFS's blocked form (what
    /// [`export_gzip`](Fs::export_gzip) or `erm-compress` wrote) is stored as
    /// it is, with no inflate or deflate pass (its blocks are checked when
    /// read); any other gzip stream (gzip, pigz, bgzip) is inflated and
    /// re-cut into blocks in one pass. The file is stored compressed unless
    /// it is open (then it is inflated for its descriptors). Returns the
    /// uncompressed size.
    ///
    /// # Errors
    /// As [`import_fd`](Fs::import_fd); `EIO` if the stream is not valid
    /// gzip (corrupt, truncated, trailing garbage). The file is unchanged on error.
    pub fn import_gzip(
        &self,
        path: impl AsRef<Path>,
        fd: BorrowedFd<'_>,
        flags: i32,
    ) -> io::Result<u64> {
        let path = path.as_ref();
        self.check_import(path, flags)?;
        let shared = &self.inner.shared;
        let source = ermfd::source(fd)?;
        let read_bytes;
        let gz: &[u8] = match source.mapped_bytes() {
            Some(bytes) => bytes,
            None => {
                let region = self.read_source(fd)?;
                read_bytes = region;
                read_bytes.as_slice()
            }
        };
        let (stream, index) = match Index::rebuild(gz) {
            // Already blocked: one copy of the compressed bytes, no codec.
            Ok(index) => (gz.to_vec(), index),
            Err(_) => {
                let mut out = Vec::new();
                let index = erm_compress::import(gz, shared.options, &mut out)
                    .map_err(|_| err(libc::EIO))?;
                (out, index)
            }
        };
        let len = index.raw_len();
        let packed = shared.packed(stream, index)?;
        self.install(path, flags, Incoming::Packed(packed))?;
        add(&shared.counters.bytes_imported, len);
        Ok(len)
    }

    /// Writes the file at `path` to `out` as a gzip stream in ERMFS's blocked
    /// form (readable by `gunzip`, `zcat`, `bgzip -d`, and by
    /// [`import_gzip`](Fs::import_gzip) without a codec pass). A closed file's
    /// stream is written as it is; an open file is compressed for the
    /// occasion (it stays open and raw). Returns the bytes written.
    ///
    /// # Errors
    /// The path errors of [`open`](Fs::open); `EISDIR`; the errors of
    /// writing `out`.
    pub fn export_gzip(&self, path: impl AsRef<Path>, out: &mut impl io::Write) -> io::Result<u64> {
        let inode = self.inner.resolve(path.as_ref())?;
        inode.sync_shared(self.inner.shared.atime_policy());
        let st = read(&inode.state);
        let stream_of = |packed: &crate::types::inode::Packed| packed.stream.clone();
        let stream = match &st.body {
            Body::Dir(_) => return fail(libc::EISDIR),
            Body::File(Content::Packed(p)) => stream_of(p),
            Body::File(Content::Lazy(l)) => stream_of(&l.packed),
            Body::File(Content::Raw(region)) => {
                let mut c = erm_compress::Compressor::new(self.inner.shared.options)?;
                let mut stream = Vec::new();
                let data: Vec<_> = region
                    .data_extents()
                    .map(|e| e.start as u64..e.end as u64)
                    .collect();
                let total = region.len() as u64;
                c.compress_sparse(total, region.as_slice(), &data, &mut stream, |_| Ok(()))?;
                stream
            }
            Body::File(Content::Freed) => return fail(libc::ENOENT),
            // A resolved path never ends at a symlink; a special node has
            // no content.
            Body::Symlink(_) | Body::Special(_) => return fail(libc::EINVAL),
        };
        drop(st);
        let index = Index::rebuild(&stream).map_err(|_| err(libc::EIO))?;
        if index.has_holes() {
            // Hole members read as nothing to gunzip: they go out as
            // deflated zeros.
            return erm_compress::export(&stream, &index, self.inner.shared.options, out);
        }
        out.write_all(&stream)?;
        Ok(stream.len() as u64)
    }

    /// An import's flags and destination: `EINVAL` for unknown flag bits,
    /// `EEXIST` with `O_EXCL` on an existing path, `EISDIR` on a directory,
    /// the path's errors otherwise; fine for a missing last component.
    fn check_import(&self, path: &Path, flags: i32) -> io::Result<()> {
        if flags & !IMPORT_FLAGS != 0 {
            return fail(libc::EINVAL);
        }
        match self.inner.resolve(path) {
            Ok(_) if flags & libc::O_EXCL != 0 => fail(libc::EEXIST),
            Ok(inode) if inode.is_dir() => fail(libc::EISDIR),
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Reads `fd` from its offset to its end into a region of its own:
    /// one copy (from the mapping, or by `read` straight into the region).
    fn read_source(&self, fd: BorrowedFd<'_>) -> io::Result<Region> {
        let mut region = Region::new(&self.inner.shared.budget);
        match ermfd::source(fd)? {
            source @ ermfd::Source::Mapped { .. } => {
                let bytes = source.mapped_bytes().unwrap_or_default();
                region.extend_from_slice(bytes)?;
            }
            ermfd::Source::Stream(fd) => {
                let mut chunk = STREAM_CHUNK;
                loop {
                    let len = region.len();
                    region.resize(len + chunk)?;
                    let got = ermfd::read(fd, &mut region.as_mut_slice()[len..]);
                    let n = *got.as_ref().unwrap_or(&0);
                    region.resize(len + n)?;
                    if got? == 0 {
                        break;
                    }
                    chunk = (chunk * 2).min(4 << 20);
                }
            }
        }
        Ok(region)
    }

    /// Puts `incoming` at `path`, creating the file (mode `0o644`) if needed.
    /// Raw content then goes through the policy as after a last close.
    /// Whatever does not go in is dropped with its charge credited.
    fn install(&self, path: &Path, flags: i32, incoming: Incoming) -> io::Result<()> {
        let mut incoming = Some(incoming);
        let result = self.try_install(path, flags, &mut incoming);
        self.inner.shared.discard_incoming(incoming);
        result
    }

    fn try_install(
        &self,
        path: &Path,
        flags: i32,
        incoming: &mut Option<Incoming>,
    ) -> io::Result<()> {
        let shared = &self.inner.shared;
        // A file unlinked and freed between the lookup and the swap is looked up again.
        for _ in 0..16 {
            let inode = self.inner.open_create(path, libc::O_CREAT | flags, 0o644)?;
            if inode.is_dir() {
                return fail(libc::EISDIR);
            }
            let result = if let Some(Incoming::Raw(_)) = incoming {
                // Opened (and emptied) like a writer, so the release below
                // applies the policy to the new bytes as a last close would.
                shared.acquire(&inode, true, true).map(|()| {
                    let swapped = shared.replace(&inode, incoming);
                    shared.release(&inode);
                    swapped
                })
            } else {
                shared.replace(&inode, incoming).map(Ok)
            };
            match result {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(e),
                Ok(swapped) => return swapped,
            }
        }
        fail(libc::ENOENT)
    }
}

/// Inflates `stream` (whose index is `index`) into `memfd` (already of the right size): block by
/// block into a buffer of one block, each written with `pwrite`; on several
/// threads (each its own run of blocks and buffer) when the file is big.
///
/// Why not straight into a mapping of the memfd: every first store to a
/// tmpfs page then costs a page fault and the kernel zeroes the page before
/// the inflate overwrites it, while `write(2)` fills new tmpfs pages without
/// either. Measured here on 64 MiB (BENCHMARKS.md), the extra copy out of a
/// buffer that stays in L2 costs less than the faults and zeroing it avoids.
fn inflate_to_fd(
    shared: &crate::content::shared::Shared,
    stream: &[u8],
    index: &Index,
    memfd: BorrowedFd<'_>,
) -> io::Result<()> {
    let blocks = index.blocks().len();
    let threads = shared
        .threads
        .min(blocks / crate::types::config::PARALLEL_MIN_BLOCKS.max(1));
    if threads <= 1 {
        return inflate_run_to_fd(shared, stream, index, 0..blocks, memfd);
    }
    let per = blocks.div_ceil(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = (1..threads)
            .map(|t| {
                let run = (t * per).min(blocks)..((t + 1) * per).min(blocks);
                s.spawn(move || inflate_run_to_fd(shared, stream, index, run, memfd))
            })
            .collect();
        let head = inflate_run_to_fd(shared, stream, index, 0..per.min(blocks), memfd);
        workers.into_iter().fold(head, |acc, w| {
            let r = w.join().unwrap_or_else(|_| fail(libc::EIO));
            acc.and(r)
        })
    })
}

/// Inflates data blocks `run` of `stream` into `memfd` at their offsets
/// (holes are left to the memfd, where they read as zeros).
fn inflate_run_to_fd(
    shared: &crate::content::shared::Shared,
    stream: &[u8],
    index: &Index,
    run: std::ops::Range<usize>,
    memfd: BorrowedFd<'_>,
) -> io::Result<()> {
    let mut dec = erm_compress::Decompressor::new(shared.options.get_backend())?;
    let mut buf = vec![0u8; index.block_size()];
    for i in run {
        let Some(block) = index.blocks().get(i) else {
            return fail(libc::EIO);
        };
        let dst = buf
            .get_mut(..block.raw_len as usize)
            .ok_or_else(|| err(libc::EIO))?;
        dec.inflate_block(stream, index, i, dst)
            .map_err(|_| err(libc::EIO))?;
        ermfd::write_all_at(memfd, dst, block.raw_offset)?;
    }
    Ok(())
}
