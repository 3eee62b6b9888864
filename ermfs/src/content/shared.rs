//! The content lifecycle: open (inflate), last close (compress), free.
//!
//! Every transition happens under the inode's write lock, together with the
//! change of its open count, so an open and a last close of the same file
//! are ordered: an open that comes second inflates what the close packed.

use std::io;
use std::ops::Range;
use std::sync::{Arc, Weak};

use erm_alloc::{MemoryBudget, Reclaim, Region};
use erm_compress::{Compressor, Decompressor, Index, Options};

use crate::content::background::{Background, Packer, Scheduled};
use crate::sync::{
    AtomicU32, AtomicU64, Mutex, Ordering, RwLockWriteGuard, lock, try_write, write,
};
use crate::types::config::{AtimePolicy, Clock, CompressionPolicy, PARALLEL_MIN_BLOCKS};
use crate::types::errno::{err, fail};
use crate::types::inode::{Body, Content, Inode, Lazy, Packed, State};
use crate::types::stats::{Counters, add, get, sub};

/// Bytes a block may grow by when stored (header, trailer, stored-block
/// headers: about 50 at 256 KiB), rounded up: sizes the stream's reservation.
const BLOCK_OVERHEAD: usize = 64;

/// Files whose worst-case stream fits here are deflated into a pooled
/// scratch buffer and the stream then copied out at its exact length: a
/// reservation shrunk in place would leave its tail as a heap hole after
/// every small file, too small for the next file's reservation, and
/// thousands of such holes are megabytes the allocator cannot give back.
/// The copy is of compressed bytes, at most this many per file.
const SCRATCH_MAX: usize = 64 * 1024;

/// Stream bytes freed between two [`erm_alloc::trim_heap`] calls: streams
/// are heap blocks, and without a trim an emptied store keeps their pages.
const TRIM_AFTER: u64 = 2 << 20;

/// New content for a file, made by an import before the file is touched.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// Bytes in a region of their own.
    Raw(Region),
    /// A blocked stream, already charged.
    Packed(Packed),
}

/// What the file system and every open file description share: the budget,
/// the compression settings and the counters (no fd table or registry, so
/// an open file holding it makes no reference cycle).
#[derive(Debug)]
pub(crate) struct Shared {
    pub budget: Arc<MemoryBudget>,
    pub options: Options,
    pub policy: CompressionPolicy,
    /// Threads for one big file's deflate or inflate pass.
    pub threads: usize,
    pub counters: Counters,
    /// Where timestamps come from.
    pub clock: Clock,
    /// When reads move `atime` (an [`AtimePolicy`] as its index, so a
    /// mount can change it at run time).
    atime: AtomicU32,
    /// Most inodes the namespace may hold (`u64::MAX`: no limit), as
    /// tmpfs's `nr_inodes`; changeable at run time.
    inode_limit: AtomicU64,
    /// The `Background` policy's queue and worker (idle under the others).
    pub bg: Background,
    /// This `Shared` itself, handed to the worker when it starts.
    me: Weak<Shared>,
    compressors: Mutex<Vec<Compressor>>,
    decompressors: Mutex<Vec<Decompressor>>,
    /// Scratch streams for small files (see [`SCRATCH_MAX`]), one per
    /// compression running at once.
    scratch: Mutex<Vec<Vec<u8>>>,
    /// Stream bytes freed since the heap was last trimmed.
    freed_since_trim: AtomicU64,
    /// Files that an open is waiting to lock while they are compressed.
    wanted: Wanted,
    /// Files open read-only from their stream ([`Content::Lazy`]), whose
    /// inflated blocks are a cache [`Reclaim`] may drop. Locked only to add,
    /// remove or copy out entries, never while charging the budget.
    caches: Mutex<Vec<Weak<Inode>>>,
}

/// The inode numbers of files an open waits for while a compression holds
/// their lock. A compression looks here between chunks and stops (handing
/// the raw bytes back) when its file is wanted, so an open waits for one
/// chunk instead of a whole deflate. The count spares the compression a lock
/// on the list while nobody waits, which is nearly always.
#[derive(Debug, Default)]
struct Wanted {
    count: AtomicU32,
    inos: Mutex<Vec<u64>>,
}

impl Wanted {
    fn add(&self, ino: u64) {
        lock(&self.inos).push(ino);
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    fn remove(&self, ino: u64) {
        let mut inos = lock(&self.inos);
        if let Some(i) = inos.iter().position(|&w| w == ino) {
            inos.swap_remove(i);
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn contains(&self, ino: u64) -> bool {
        self.count.load(Ordering::Acquire) != 0 && lock(&self.inos).contains(&ino)
    }
}

/// The store's clean caches, given back when a charge would pass the
/// limit: inflated blocks of read-only opens, oldest opened first. A file
/// whose lock is busy is skipped (its holder may be the charging thread).
impl Reclaim for Shared {
    fn reclaim(&self, bytes: usize) -> usize {
        let caches: Vec<Weak<Inode>> = {
            let mut caches = lock(&self.caches);
            caches.retain(|w| w.strong_count() > 0);
            caches.clone()
        };
        let mut freed = 0;
        for inode in caches.iter().filter_map(Weak::upgrade) {
            if freed >= bytes {
                break;
            }
            let Some(mut st) = try_write(&inode.state) else {
                continue;
            };
            if let Body::File(Content::Lazy(lazy)) = &mut st.body {
                let (dropped, credited) = lazy.evict(0..0, bytes - freed);
                add(&self.counters.cache_evictions, dropped);
                freed += credited;
            }
        }
        freed
    }
}

impl Packer for Shared {
    fn background(&self) -> &Background {
        &self.bg
    }

    fn pack(&self, ino: u64, content: &mut Content) {
        Shared::pack(self, ino, content);
    }

    /// A deflate state is most of a megabyte at the default level and only
    /// the next burst of closes needs one: the pooled compressors and
    /// scratch streams go while nothing waits to be compressed, and the
    /// heap pages they held with them (they sit among the streams).
    fn idle(&self) {
        let compressors = std::mem::take(&mut *lock(&self.compressors));
        let scratch = std::mem::take(&mut *lock(&self.scratch));
        if !compressors.is_empty() || !scratch.is_empty() {
            drop((compressors, scratch));
            erm_alloc::trim_heap();
        }
    }
}

impl Shared {
    pub fn new(
        budget: Arc<MemoryBudget>,
        options: Options,
        policy: CompressionPolicy,
        threads: usize,
        clock: Clock,
        atime: AtimePolicy,
        inode_limit: Option<u64>,
    ) -> Arc<Shared> {
        Arc::new_cyclic(|me: &Weak<Shared>| {
            let reclaimer: Weak<dyn Reclaim> = me.clone();
            budget.set_reclaimer(reclaimer);
            Shared {
                budget,
                options,
                policy,
                threads,
                counters: Counters::default(),
                clock,
                atime: AtomicU32::new(atime as u32),
                inode_limit: AtomicU64::new(inode_limit.unwrap_or(u64::MAX)),
                bg: Background::default(),
                me: me.clone(),
                compressors: Mutex::new(Vec::new()),
                decompressors: Mutex::new(Vec::new()),
                scratch: Mutex::new(Vec::new()),
                freed_since_trim: AtomicU64::new(0),
                wanted: Wanted::default(),
                caches: Mutex::new(Vec::new()),
            }
        })
    }

    /// When reads move `atime` now.
    pub fn atime_policy(&self) -> AtimePolicy {
        match self.atime.load(Ordering::Relaxed) {
            x if x == AtimePolicy::Strict as u32 => AtimePolicy::Strict,
            x if x == AtimePolicy::Noatime as u32 => AtimePolicy::Noatime,
            _ => AtimePolicy::Relatime,
        }
    }

    /// Inodes reachable by a name: files (hard links once), directories
    /// (the root included), symlinks and special files.
    pub fn inodes_in_use(&self) -> u64 {
        let c = &self.counters;
        get(&c.files) + get(&c.dirs) + get(&c.symlinks) + get(&c.specials)
    }

    /// The inode limit, or `None` when unlimited.
    pub fn inode_limit(&self) -> Option<u64> {
        match self.inode_limit.load(Ordering::Relaxed) {
            u64::MAX => None,
            limit => Some(limit),
        }
    }

    /// Changes the inode limit; `EINVAL` (changing nothing) below the
    /// inodes in use, as tmpfs refuses such a remount.
    pub fn set_inode_limit(&self, limit: Option<u64>) -> io::Result<()> {
        let limit = limit.unwrap_or(u64::MAX);
        if limit < self.inodes_in_use() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        self.inode_limit.store(limit, Ordering::Relaxed);
        Ok(())
    }

    /// `ENOSPC` when one more inode would pass the limit. Callers hold the
    /// namespace lock, so the check and the link that follows are one step.
    pub fn inode_room(&self) -> io::Result<()> {
        if self.inodes_in_use() >= self.inode_limit.load(Ordering::Relaxed) {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }

    /// Changes when reads move `atime`, for reads from now on.
    pub fn set_atime_policy(&self, policy: AtimePolicy) {
        self.atime.store(policy as u32, Ordering::Relaxed);
    }

    /// Takes one more open description of file `inode`. A packed file opened
    /// for writing is inflated into a fresh region (or dropped when
    /// `truncate`); opened read-only it stays packed and gets a region its
    /// reads fill block by block ([`Shared::fill`]).
    ///
    /// # Errors
    /// `ENOENT` if the file was freed meanwhile (unlinked and closed),
    /// `ENOSPC` if the inflated file does not fit, `EIO` if the stream is
    /// corrupt; the file is then unchanged and not counted as open.
    pub fn acquire(&self, inode: &Arc<Inode>, writable: bool, truncate: bool) -> io::Result<()> {
        self.acquire_as(inode, writable, truncate, false)
    }

    /// [`acquire`](Self::acquire), and with `memfd` the content is (made) a
    /// memfd region, whole (a read-only open inflates every block), that
    /// another writer may be handed ([`Inode::set_shared`]): inflated
    /// straight into the memfd when the file was closed, copied once into
    /// it when an in-process open holds it raw.
    pub fn acquire_as(
        &self,
        inode: &Arc<Inode>,
        writable: bool,
        truncate: bool,
        memfd: bool,
    ) -> io::Result<()> {
        inode.sync_shared(self.atime_policy());
        let mut st = self.lock_for_open(inode);
        let Body::File(content) = &mut st.body else {
            return Ok(());
        };
        let old = std::mem::replace(content, Content::Freed);
        let was_lazy = matches!(old, Content::Lazy(_));
        let (new, result) = self.open_content(old, writable, truncate, memfd);
        let is_lazy = matches!(new, Content::Lazy(_));
        *content = new;
        result?;
        if memfd {
            inode.set_shared();
        }
        if is_lazy && !was_lazy {
            lock(&self.caches).push(Arc::downgrade(inode));
        } else if was_lazy && !is_lazy {
            self.forget_cache(inode);
        }
        inode.open.fetch_add(1, Ordering::AcqRel);
        if truncate {
            let now = self.clock.now();
            st.mtime = now.into();
            st.ctime = st.mtime;
        }
        Ok(())
    }

    /// The inode's state, locked for an open. When the lock is busy (a
    /// compression may hold it), the open says it is waiting, so that a
    /// compression of this file stops at its next chunk (see [`Wanted`]).
    fn lock_for_open<'a>(&self, inode: &'a Inode) -> RwLockWriteGuard<'a, State> {
        if let Ok(st) = inode.state.try_write() {
            return st;
        }
        self.wanted.add(inode.ino);
        let st = write(&inode.state);
        self.wanted.remove(inode.ino);
        st
    }

    /// The content after one more open, and whether the open may go on (on
    /// an error the content comes back as it was).
    fn open_content(
        &self,
        content: Content,
        writable: bool,
        truncate: bool,
        memfd: bool,
    ) -> (Content, io::Result<()>) {
        match content {
            Content::Freed => (Content::Freed, fail(libc::ENOENT)),
            Content::Raw(mut region) => {
                let result = if truncate { region.resize(0) } else { Ok(()) };
                let result = result.and_then(|()| match memfd {
                    true => self.to_memfd(&mut region),
                    false => Ok(()),
                });
                (Content::Raw(region), result)
            }
            other if truncate => match self.fresh_region(memfd) {
                Ok(region) => {
                    self.discard(other);
                    (Content::Raw(region), Ok(()))
                }
                Err(e) => (other, Err(e)),
            },
            Content::Packed(packed) if writable || memfd || packed.raw_len == 0 => {
                match self.inflate_as(&packed, memfd) {
                    Ok(region) => {
                        self.drop_packed(packed);
                        (Content::Raw(region), Ok(()))
                    }
                    Err(e) => (Content::Packed(packed), Err(e)),
                }
            }
            Content::Packed(packed) => match packed
                .index()
                .and_then(|index| Ok((self.hole_region(&packed)?, index)))
                .map(|(region, index)| (index, region))
            {
                Ok((index, region)) => {
                    add(&self.counters.lazy_opens, 1);
                    let filled = vec![false; index.blocks().len()];
                    let lazy = Lazy {
                        packed,
                        index,
                        region,
                        filled,
                        hand: 0,
                    };
                    (Content::Lazy(Box::new(lazy)), Ok(()))
                }
                Err(e) => (Content::Packed(packed), Err(e)),
            },
            Content::Lazy(mut lazy) if writable || memfd => {
                let all = 0..lazy.filled.len();
                match self.fill(&mut lazy, all) {
                    Ok(()) => {
                        add(&self.counters.inflations, 1);
                        self.drop_packed(lazy.packed);
                        let mut region = lazy.region;
                        let result = match memfd {
                            true => self.to_memfd(&mut region),
                            false => Ok(()),
                        };
                        (Content::Raw(region), result)
                    }
                    Err(e) => (Content::Lazy(lazy), Err(e)),
                }
            }
            lazy @ Content::Lazy(_) => (lazy, Ok(())),
        }
    }

    /// Inflates the blocks of `lazy` in `blocks` not inflated yet, each
    /// straight into its place in the region. Their pages are charged; when
    /// the budget has no room, other files' caches are dropped first (by
    /// [`Reclaim`]), then this file's blocks outside `blocks`.
    ///
    /// # Errors
    /// `ENOSPC` if the blocks still do not fit (read them with
    /// [`Shared::read_uncached`] instead); `EIO` if a block is corrupt. The
    /// blocks before the failing one stay inflated; the failing one is
    /// tried again by the next read that touches it.
    pub fn fill(&self, lazy: &mut Lazy, blocks: Range<usize>) -> io::Result<()> {
        if lazy.is_filled(blocks.clone()) {
            return Ok(());
        }
        let mut dec = self.decompressor()?;
        let mut result = Ok(());
        for i in blocks.clone() {
            if lazy.filled.get(i) != Some(&false) {
                continue;
            }
            let Some(range) = lazy.block_range(i) else {
                result = fail(libc::EIO);
                break;
            };
            if let Err(e) = lazy.region.commit(range.clone()) {
                if e.raw_os_error() != Some(libc::ENOSPC) {
                    result = Err(err(libc::EIO));
                    break;
                }
                let (dropped, _) = lazy.evict(blocks.clone(), range.len());
                add(&self.counters.cache_evictions, dropped);
                if let Err(e) = lazy.region.commit(range.clone()) {
                    result = Err(e);
                    break;
                }
            }
            result = lazy
                .region
                .as_mut_range(range)
                .map_err(|_| err(libc::EIO))
                .and_then(|dst| {
                    dec.inflate_block(&lazy.packed.stream, &lazy.index, i, dst)
                        .map_err(|_| err(libc::EIO))
                });
            if result.is_err() {
                break;
            }
            lazy.filled[i] = true;
            add(
                &self.counters.bytes_inflated,
                u64::from(lazy.index.blocks()[i].raw_len),
            );
            add(&self.counters.blocks_inflated, 1);
        }
        lock(&self.decompressors).push(dec);
        result
    }

    /// Reads `dst.len()` bytes (clamped to the file) of `lazy` from
    /// `offset` straight into `dst`, inflating the blocks they touch into
    /// uncharged scratch and leaving the cache as it is: how a store with
    /// no room left still reads its files. Returns the bytes read.
    ///
    /// # Errors
    /// `EIO` if a block in the range is corrupt.
    pub fn read_uncached(&self, lazy: &Lazy, offset: u64, dst: &mut [u8]) -> io::Result<usize> {
        add(&self.counters.uncached_reads, 1);
        let mut dec = self.decompressor()?;
        let read = dec
            .read_at(&lazy.packed.stream, &lazy.index, offset, dst)
            .map_err(|_| err(libc::EIO));
        lock(&self.decompressors).push(dec);
        read
    }

    /// Takes `inode` off the list of read-only caches.
    fn forget_cache(&self, inode: &Inode) {
        let mut caches = lock(&self.caches);
        if let Some(i) = caches.iter().position(|w| std::ptr::eq(w.as_ptr(), inode)) {
            caches.swap_remove(i);
        }
    }

    /// Replaces the content of file `inode` with an import's result, taken
    /// out of `incoming` only when it goes in. A stream goes in as is when
    /// the file is not open; an open file must stay raw, so the stream is
    /// inflated for it (its last close compresses it again). The old content
    /// is freed.
    ///
    /// # Errors
    /// `ENOENT` if the file was freed meanwhile (the caller looks it up
    /// again); `EISDIR`; `ENOSPC`/`EIO` from the inflation. The file is
    /// unchanged on error, and `incoming` still holds what it held.
    pub fn replace(&self, inode: &Inode, incoming: &mut Option<Incoming>) -> io::Result<()> {
        let mut st = write(&inode.state);
        let Body::File(content) = &mut st.body else {
            return fail(libc::EISDIR);
        };
        if let Content::Freed = content {
            return fail(libc::ENOENT);
        }
        let open = inode.open.load(Ordering::Acquire) > 0;
        let new = match incoming.take() {
            None => return fail(libc::EINVAL),
            Some(Incoming::Raw(region)) => Content::Raw(region),
            Some(Incoming::Packed(packed)) if !open => Content::Packed(packed),
            Some(Incoming::Packed(packed)) => match self.inflate(&packed) {
                Ok(region) => {
                    self.drop_packed(packed);
                    Content::Raw(region)
                }
                Err(e) => {
                    *incoming = Some(Incoming::Packed(packed));
                    return Err(e);
                }
            },
        };
        if matches!(content, Content::Lazy(_)) {
            self.forget_cache(inode);
        }
        self.discard(std::mem::replace(content, new));
        let now = self.clock.now();
        st.mtime = now.into();
        st.ctime = st.mtime;
        Ok(())
    }

    /// Drops an import's content that did not go in, crediting its charge.
    pub fn discard_incoming(&self, incoming: Option<Incoming>) {
        if let Some(Incoming::Packed(packed)) = incoming {
            self.drop_packed(packed);
        }
    }

    /// A stream and its index as a charged [`Packed`] (which keeps only the
    /// index's total length: the index is rebuilt from the stream on use).
    ///
    /// # Errors
    /// `ENOSPC` if its bytes do not fit the budget.
    pub fn packed(&self, mut stream: Vec<u8>, index: Index) -> io::Result<Packed> {
        stream.shrink_to_fit();
        let charged = stream.len();
        self.budget.try_charge(charged)?;
        add(&self.counters.compressed_bytes, charged as u64);
        add(&self.counters.packed_raw_bytes, index.raw_len());
        Ok(Packed {
            stream,
            raw_len: index.raw_len(),
        })
    }

    /// Drops one open description of file `inode`; at the last one, frees an
    /// unlinked file or applies the compression policy.
    pub fn release(&self, inode: &Arc<Inode>) {
        // Another writer's pages are charged by the last close at the
        // latest, whatever the policy.
        inode.sync_shared(self.atime_policy());
        let mut guard = write(&inode.state);
        let st = &mut *guard;
        st.closes = st.closes.wrapping_add(1);
        let closes = st.closes;
        let Body::File(content) = &mut st.body else {
            return;
        };
        if inode.open.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        if matches!(content, Content::Lazy(_)) {
            self.forget_cache(inode);
        }
        if inode.nlink() == 0 {
            self.free(content);
            // Credited now, not when a lockless table reclaims the inode.
            st.xattrs = None;
            return;
        }
        if let Content::Lazy(_) = content {
            // Only read: the stream is still the file. The region goes.
            if let Content::Lazy(lazy) = std::mem::replace(content, Content::Freed) {
                *content = Content::Packed(lazy.packed);
            }
            return;
        }
        match self.policy {
            CompressionPolicy::Immediate => self.pack(inode.ino, content),
            CompressionPolicy::Never => {}
            CompressionPolicy::Background { delay } => {
                if matches!(content, Content::Raw(r) if r.is_empty()) {
                    return; // nothing to gain, as in `pack`
                }
                match self.bg.schedule(&self.me, inode, closes, delay) {
                    Scheduled::Queued | Scheduled::Stopped => {}
                    Scheduled::NoWorker => self.pack(inode.ino, content),
                }
            }
        }
    }

    /// Frees the content of an unlinked file nobody has open (called by
    /// unlink and rename-over; the last close frees it otherwise).
    pub fn free_if_unused(&self, inode: &Inode) {
        let mut guard = write(&inode.state);
        let st = &mut *guard;
        if let Body::File(content) = &mut st.body {
            if inode.open.load(Ordering::Acquire) == 0 && inode.nlink() == 0 {
                self.free(content);
                st.xattrs = None;
            }
        }
    }

    fn free(&self, content: &mut Content) {
        self.discard(std::mem::replace(content, Content::Freed));
    }

    /// Drops `content`, crediting what it was charged (a region credits
    /// its pages itself when dropped).
    fn discard(&self, content: Content) {
        match content {
            Content::Packed(packed) => self.drop_packed(packed),
            Content::Lazy(lazy) => self.drop_packed(lazy.packed),
            Content::Raw(_) | Content::Freed => {}
        }
    }

    /// Credits a packed stream's charge and drops it.
    pub fn drop_packed(&self, packed: Packed) {
        let bytes = packed.charged();
        self.budget.credit(bytes);
        sub(&self.counters.compressed_bytes, bytes as u64);
        sub(&self.counters.packed_raw_bytes, packed.raw_len);
        drop(packed);
        let freed = self
            .freed_since_trim
            .fetch_add(bytes as u64, Ordering::Relaxed)
            .saturating_add(bytes as u64);
        // One caller per TRIM_AFTER bytes wins the swap and trims.
        if freed >= TRIM_AFTER && self.freed_since_trim.swap(0, Ordering::Relaxed) >= TRIM_AFTER {
            erm_alloc::trim_heap();
        }
    }

    /// Compresses a raw region in place of `content`; on any failure the
    /// raw region stays (its bytes intact).
    pub fn pack(&self, ino: u64, content: &mut Content) {
        let Content::Raw(region) = content else {
            return;
        };
        if region.is_empty() {
            return; // an empty region holds no memory: nothing to gain
        }
        let started = std::time::Instant::now();
        let packed = self.compress(ino, region);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        add(&self.counters.compress_nanos, nanos);
        if let Some(packed) = packed {
            add(&self.counters.compressions, 1);
            add(&self.counters.bytes_deflated, packed.raw_len);
            *content = Content::Packed(packed);
        }
    }

    /// Deflates `region` block by block, giving each block's pages back as
    /// soon as it is compressed. The stream's bytes are charged to the budget
    /// as each block is appended, so a full budget stops the compression
    /// (the file then stays raw) instead of passing the limit. A stream that
    /// is not smaller than the data is dropped and the file kept raw, and so
    /// is the file when an open waits for it (file `ino` is [`Wanted`]):
    /// checked before each chunk, the bytes compressed so far go back.
    fn compress(&self, ino: u64, region: &mut Region) -> Option<Packed> {
        // A memfd another writer had (FUSE passthrough): its writes first.
        // Its pages are not given back block by block: a mapping made
        // through the other writer (mmap on the mount) maps them and may
        // outlive every open, and a punched page would read as zeros
        // there. They go when the region does, the last mapping's with it.
        let shared = region.kind() == erm_alloc::RegionKind::Memfd;
        if shared && region.sync().is_err() {
            return None;
        }
        let len = region.len();
        // Trim the growth reserve first: it is charged and holds no data.
        let _ = region.resize(len);
        let block = self.options.get_block_size();
        let mut comp = match lock(&self.compressors).pop() {
            Some(c) => c,
            None => Compressor::new(self.options).ok()?,
        };
        // Taken before any page is released, so that putting the bytes back
        // after a failure can never fail for want of a decompressor.
        let mut dec = match self.decompressor() {
            Ok(dec) => dec,
            Err(_) => {
                lock(&self.compressors).push(comp);
                return None;
            }
        };
        // The block-aligned runs that hold data; between them, whole blocks
        // of hole, each gap one hole member with no payload.
        let extents: Vec<Range<usize>> = region.data_extents().collect();
        let runs = data_runs(&extents, block, len);
        let data_len: usize = runs.iter().map(ExactSizeIterator::len).sum();
        // Room for the worst case up front, so the stream never moves while
        // it grows; untouched capacity costs no RAM and is not charged.
        let members = data_len.div_ceil(block) + 2 * runs.len() + 2;
        let bound = data_len.saturating_add(members.saturating_mul(BLOCK_OVERHEAD));
        let small = bound <= SCRATCH_MAX;
        let mut stream = match small {
            true => lock(&self.scratch).pop().unwrap_or_default(),
            false => Vec::new(),
        };
        let mut charged = 0usize;
        let mut released = 0usize;
        let result = stream
            .try_reserve_exact(if small { SCRATCH_MAX } else { bound })
            .map_err(|_| err(libc::ENOMEM))
            .and_then(|()| {
                // Big files go `threads` blocks at a time, a few blocks per
                // thread, so the pages still go back chunk by chunk; a chunk
                // may gather several runs (and the holes between them).
                let step = self.parallel_step(data_len);
                let mut pos = 0;
                for chunk in chunks(&runs, step) {
                    let span = chunk[0].start..chunk[chunk.len() - 1].end;
                    if pos < span.start {
                        comp.compress_sparse(
                            (span.start - pos) as u64,
                            &[],
                            &[],
                            &mut stream,
                            |_| Ok(()),
                        )?;
                    }
                    if self.wanted.contains(ino) {
                        add(&self.counters.compressions_cancelled, 1);
                        return Err(err(libc::ECANCELED));
                    }
                    let mapped = region.as_slice();
                    let data: usize = chunk.iter().map(ExactSizeIterator::len).sum();
                    // The pieces as extents of the span (what may hold data),
                    // made only for the calls that take them.
                    let extents = || -> Vec<Range<u64>> {
                        chunk
                            .iter()
                            .map(|p| (p.start - span.start) as u64..(p.end - span.start) as u64)
                            .collect()
                    };
                    if span.end > mapped.len() {
                        // Past the mapping (a file over 64 GiB): one piece at
                        // a time, the unmapped rest of each a hole.
                        let mut at = span.start;
                        for piece in &chunk {
                            if at < piece.start {
                                let gap = (piece.start - at) as u64;
                                comp.compress_sparse(gap, &[], &[], &mut stream, |_| Ok(()))?;
                            }
                            let src =
                                &mapped[piece.start.min(mapped.len())..piece.end.min(mapped.len())];
                            let extent = 0..src.len() as u64;
                            comp.compress_sparse(
                                piece.len() as u64,
                                src,
                                std::slice::from_ref(&extent),
                                &mut stream,
                                |_| Ok(()),
                            )?;
                            at = piece.end;
                        }
                    } else if self.threads > 1 && data > block {
                        // Joining the threads' members copies their
                        // compressed bytes once: counted with the internal copies.
                        let joined = erm_compress::copied_bytes();
                        comp.compress_sparse_parallel(
                            span.len() as u64,
                            &mapped[span.clone()],
                            &extents(),
                            &mut stream,
                            self.threads,
                            |_| Ok(()),
                        )?;
                        let joined = erm_compress::copied_bytes() - joined;
                        self.budget
                            .record_copy(usize::try_from(joined).unwrap_or(usize::MAX));
                    } else if let [piece] = chunk.as_slice() {
                        comp.compress(&mapped[piece.clone()], &mut stream, |_| Ok(()))?;
                    } else {
                        comp.compress_sparse(
                            span.len() as u64,
                            &mapped[span.clone()],
                            &extents(),
                            &mut stream,
                            |_| Ok(()),
                        )?;
                    }
                    self.budget.try_charge(stream.len() - charged)?;
                    charged = stream.len();
                    for piece in chunk.iter().filter(|_| !shared) {
                        released += region.release(piece.clone())?;
                    }
                    pos = span.end;
                }
                if pos < len {
                    comp.compress_sparse((len - pos) as u64, &[], &[], &mut stream, |_| Ok(()))?;
                }
                self.budget.try_charge(stream.len() - charged)?;
                charged = stream.len();
                Index::rebuild(&stream)
            });
        lock(&self.compressors).push(comp);
        let index = match result {
            Ok(index) if stream.len() < len => index,
            _ => {
                // Failed or did not shrink: the released blocks come back from
                // the stream (none were released for a small file).
                if released > 0 {
                    self.restore(&mut dec, region, &stream, &extents);
                }
                lock(&self.decompressors).push(dec);
                self.budget.credit(charged);
                if small {
                    self.return_scratch(stream);
                }
                return None;
            }
        };
        lock(&self.decompressors).push(dec);
        // Exactly the stream's length stays allocated: that is what is charged.
        let stream = if small {
            let exact = stream.as_slice().to_vec();
            self.budget.record_copy(exact.len());
            self.return_scratch(stream);
            exact
        } else {
            stream.shrink_to_fit();
            stream
        };
        debug_assert_eq!(charged, stream.len(), "the charge follows the stream");
        add(&self.counters.compressed_bytes, charged as u64);
        add(&self.counters.packed_raw_bytes, index.raw_len());
        Some(Packed {
            stream,
            raw_len: index.raw_len(),
        })
    }

    /// Puts a scratch stream back in the pool, empty.
    fn return_scratch(&self, mut stream: Vec<u8>) {
        stream.clear();
        lock(&self.scratch).push(stream);
    }

    /// Inflates the blocks of a partial stream back into `region`, onto
    /// exactly the data pages it had (`extents`), charged past the limit if
    /// need be: they were given back a moment ago, and the file must come
    /// back whole. The stream holds only whole members just written in
    /// memory (a failed `compress` call truncates its partial member), so
    /// neither the rebuild nor the inflate can fail short of a bug; a debug
    /// build checks it. Each block goes through one block of scratch (the
    /// failure path; the copy is counted).
    fn restore(
        &self,
        dec: &mut Decompressor,
        region: &mut Region,
        stream: &[u8],
        extents: &[Range<usize>],
    ) {
        let restored = Index::rebuild(stream).and_then(|index| {
            let mut scratch = vec![0u8; index.block_size()];
            for (i, block) in index.blocks().iter().enumerate() {
                let start = usize::try_from(block.raw_offset).map_err(|_| err(libc::EFBIG))?;
                let raw = start..start + block.raw_len as usize;
                let bytes = &mut scratch[..raw.len()];
                dec.inflate_block(stream, &index, i, bytes)?;
                for e in extents {
                    let part = e.start.max(raw.start)..e.end.min(raw.end);
                    if part.is_empty() {
                        continue;
                    }
                    region.commit_forced(part.clone())?;
                    region
                        .as_mut_range(part.clone())?
                        .copy_from_slice(&bytes[part.start - raw.start..part.end - raw.start]);
                    self.budget.record_copy(part.len());
                }
            }
            Ok(())
        });
        debug_assert!(
            restored.is_ok(),
            "restoring a stream just written failed: {restored:?}"
        );
    }

    fn decompressor(&self) -> io::Result<Decompressor> {
        match lock(&self.decompressors).pop() {
            Some(d) => Ok(d),
            None => Decompressor::new(self.options.get_backend()),
        }
    }

    /// An empty region: anonymous, or with `memfd` a memfd's (see
    /// [`acquire_as`](Self::acquire_as)).
    fn fresh_region(&self, memfd: bool) -> io::Result<Region> {
        match memfd {
            true => Region::new_memfd(&self.budget, "ermfs"),
            false => Ok(Region::new(&self.budget)),
        }
    }

    /// Moves an anonymous region's bytes into a memfd region (one copy of
    /// its data pages, counted as internal; the holes stay holes); nothing
    /// for a memfd region. On an error (`ENOSPC`: both are charged for a
    /// moment) the region is unchanged.
    fn to_memfd(&self, region: &mut Region) -> io::Result<()> {
        if region.kind() == erm_alloc::RegionKind::Memfd {
            return Ok(());
        }
        let mut memfd = self.fresh_region(true)?;
        memfd.resize(region.len())?;
        for data in region.data_extents() {
            memfd.write_at(data.start, &region.as_slice()[data.clone()])?;
            self.budget.record_copy(data.len());
        }
        // Filling fresh pages moved the memfd's mtime: the store's own
        // doing, not the file's change (see `Region::sync`).
        let _ = memfd.sync();
        *region = memfd;
        Ok(())
    }

    /// A fresh region of `packed`'s size with the ranges of its data
    /// blocks committed (charged; holes are not, and hold nothing), so
    /// filling it never meets the memory limit.
    fn sized_region(&self, packed: &Packed, index: &Index, memfd: bool) -> io::Result<Region> {
        let len = usize::try_from(packed.raw_len).map_err(|_| err(libc::EFBIG))?;
        let mut region = self.fresh_region(memfd)?;
        region.resize(len)?;
        for block in index.blocks() {
            let start = usize::try_from(block.raw_offset).map_err(|_| err(libc::EFBIG))?;
            region.commit(start..start + block.raw_len as usize)?;
        }
        Ok(region)
    }

    /// A fresh region of `packed`'s size that is all hole (charged nothing):
    /// a read-only open's cache, which its reads fill.
    fn hole_region(&self, packed: &Packed) -> io::Result<Region> {
        let len = usize::try_from(packed.raw_len).map_err(|_| err(libc::EFBIG))?;
        let mut region = Region::new(&self.budget);
        region.resize(len)?;
        Ok(region)
    }

    /// Bytes compressed per step: one block, or `PARALLEL_MIN_BLOCKS`
    /// blocks per thread when the file is big enough to share out.
    fn parallel_step(&self, len: usize) -> usize {
        let block = self.options.get_block_size();
        let chunk = block * PARALLEL_MIN_BLOCKS * self.threads;
        if self.threads > 1 && len >= chunk {
            chunk
        } else {
            block
        }
    }

    /// Inflates a whole stream into `dst`, on several threads when it is big.
    /// The index comes from walking the member headers first (one header
    /// read per block, nothing inflated: noise beside the inflate pass).
    /// Holes come out as zeros (an export's mapping wants every byte).
    pub fn inflate_into(&self, packed: &Packed, dst: &mut [u8]) -> io::Result<()> {
        let index = packed.index()?;
        let mut dec = self.decompressor()?;
        let (stream, index) = (&packed.stream, &index);
        let result = if self.parallel_step(dst.len()) > self.options.get_block_size() {
            dec.decompress_parallel(stream, index, dst, self.threads)
        } else {
            dec.decompress_into(stream, index, dst)
        };
        lock(&self.decompressors).push(dec);
        result.map_err(|_| err(libc::EIO))
    }

    /// Inflates `stream` into `region` (its data blocks committed already):
    /// a dense stream in one pass, on several threads when it is big; one
    /// with holes block by block, the holes left untouched.
    fn inflate_with(
        &self,
        dec: &mut Decompressor,
        stream: &[u8],
        index: &Index,
        region: &mut Region,
    ) -> io::Result<()> {
        if index.has_holes() {
            for (i, block) in index.blocks().iter().enumerate() {
                let start = usize::try_from(block.raw_offset).map_err(|_| err(libc::EFBIG))?;
                let dst = region.as_mut_range(start..start + block.raw_len as usize)?;
                dec.inflate_block(stream, index, i, dst)
                    .map_err(|_| err(libc::EIO))?;
            }
            return Ok(());
        }
        let dst = region.try_as_mut_slice()?;
        let result = if self.parallel_step(dst.len()) > self.options.get_block_size() {
            dec.decompress_parallel(stream, index, dst, self.threads)
        } else {
            dec.decompress_into(stream, index, dst)
        };
        result.map_err(|_| err(libc::EIO))
    }

    /// Inflates `packed` straight into a fresh region of its size.
    pub fn inflate(&self, packed: &Packed) -> io::Result<Region> {
        self.inflate_as(packed, false)
    }

    /// [`inflate`](Self::inflate), into a memfd region with `memfd`.
    fn inflate_as(&self, packed: &Packed, memfd: bool) -> io::Result<Region> {
        let index = packed.index()?;
        let mut region = self.sized_region(packed, &index, memfd)?;
        let mut dec = self.decompressor()?;
        let result = self.inflate_with(&mut dec, &packed.stream, &index, &mut region);
        lock(&self.decompressors).push(dec);
        result?;
        if memfd {
            // As in `to_memfd`: the inflate pass's mtime is not a change.
            let _ = region.sync();
        }
        add(&self.counters.inflations, 1);
        add(&self.counters.bytes_inflated, region.len() as u64);
        Ok(region)
    }
}

/// The data `runs` cut into pieces of at most `step` bytes, gathered into
/// chunks of consecutive pieces holding at most `step` bytes together (a
/// chunk of one block is one piece: what is compressed in one call).
fn chunks(runs: &[Range<usize>], step: usize) -> Vec<Vec<Range<usize>>> {
    let step = step.max(1);
    let mut chunks: Vec<Vec<Range<usize>>> = Vec::new();
    let mut filled = step;
    for run in runs {
        let mut start = run.start;
        while start < run.end {
            let piece = start..run.end.min(start.saturating_add(step));
            start = piece.end;
            match chunks.last_mut() {
                Some(chunk) if filled + piece.len() <= step => {
                    filled += piece.len();
                    chunk.push(piece);
                }
                _ => {
                    filled = piece.len();
                    chunks.push(vec![piece]);
                }
            }
        }
    }
    chunks
}

/// The block-aligned ranges of a `len`-byte file that hold its data
/// `extents` (sorted page ranges), merged: each run starts on a block
/// boundary and ends on one or at `len`, so what lies between two runs is
/// whole blocks of hole.
fn data_runs(extents: &[Range<usize>], block: usize, len: usize) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    for e in extents {
        let start = e.start / block * block;
        let end = e.end.div_ceil(block).saturating_mul(block).min(len);
        match runs.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ if start < end => runs.push(start..end),
            _ => {}
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_gather_runs_up_to_the_step_and_cut_long_ones() {
        const B: usize = 4096;
        // Scattered one-block runs: `step / B` to a chunk.
        let runs: Vec<_> = (0..5).map(|i| i * 10 * B..(i * 10 + 1) * B).collect();
        let c = chunks(&runs, 2 * B);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0], vec![0..B, 10 * B..11 * B]);
        assert_eq!(c[2], vec![40 * B..41 * B]);
        // A long run is cut into step-sized pieces, each its own chunk; a
        // short piece after it joins the next run's.
        let c = chunks(&[0..5 * B, 8 * B..9 * B], 2 * B);
        assert_eq!(
            c,
            vec![
                vec![0..2 * B],
                vec![2 * B..4 * B],
                vec![4 * B..5 * B, 8 * B..9 * B]
            ]
        );
        // Step of one block: one piece per chunk; a short last piece stays apart.
        let c = chunks(std::slice::from_ref(&(0..2 * B + 100)), B);
        assert_eq!(
            c,
            vec![vec![0..B], vec![B..2 * B], vec![2 * B..2 * B + 100]]
        );
        assert!(chunks(&[], B).is_empty());
    }
}
