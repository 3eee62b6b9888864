//! [`Region`]: a sparse, growable byte buffer made of a size-class slot or of whole pages.

use crate::budget::MemoryBudget;
use crate::extents::Extents;
use crate::small::{self, SMALL_MAX, SmallBuf};
use crate::sys::{self, Backing, FileState, Mapping};
use std::ffi::CString;
use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// The largest length a region can have: `i64::MAX`, the largest file size
/// (`off_t`). Only the data pages need address space, so a region may be far
/// longer than this process could map.
pub const MAX_LEN: usize = if usize::BITS >= 64 {
    i64::MAX as usize
} else {
    isize::MAX as usize
};

/// Lengths up to this are mapped as they grow (address space only:
/// `MAP_NORESERVE`, uncharged, no RAM), so [`Region::as_slice`] covers the
/// whole length of any region this long or shorter; a longer length keeps
/// its tail past the last data page virtual, mapping nothing. The bound
/// keeps a truncation from taking a large share of the process's address
/// space (128 TiB on x86-64).
pub const MAP_AHEAD_MAX: usize = 64 << 30;

/// Page mappings grow geometrically (so appends cost few `mremap` calls)
/// but by at most this much at a time past what is needed. The reserve is
/// address space only (`MAP_NORESERVE`): it is neither charged nor backed.
const MAX_GROW_STEP: usize = 64 << 20;

/// How a region's bytes are stored right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    /// No memory at all (nothing charged; every byte reads as zero).
    Empty,
    /// A slot of a size class (64 B to 2 KiB).
    Small,
    /// Private anonymous pages.
    Pages,
    /// Shared pages of a memfd ([`Region::memfd`] gives the descriptor).
    Memfd,
}

#[derive(Debug)]
enum Storage {
    Empty,
    Small(SmallBuf),
    Pages(Mapping),
    /// Boxed: memfd regions are rare (exports), and a region stays small.
    Memfd(Box<MemfdStorage>),
}

/// A memfd region's file and mapping.
#[derive(Debug)]
struct MemfdStorage {
    /// The file always exists; its size is always the region's length.
    fd: OwnedFd,
    /// The mapping, only while it is non-empty. It may reach past the end
    /// of the file (growth reserve); only pages inside the file are touched.
    map: Option<Mapping>,
    /// The file's times as of the last [`Region::sync`] or the region's own
    /// last change of the file, whichever came later: what a time must
    /// differ from to be reported as another writer's.
    times: Option<Times>,
    /// The file's size and blocks before the last sync's scan of its data
    /// runs (`None`: none since the region itself last changed them): the
    /// same figures at the next sync mean no page was added meanwhile, so
    /// no scan is needed. Never set from anything but the `fstat` a scan
    /// followed, or a write that `fstat` missed could be missed for good.
    scanned: Option<(u64, u64)>,
}

/// A memfd's modification and access times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Times {
    mtime: std::time::SystemTime,
    atime: std::time::SystemTime,
}

impl From<&FileState> for Times {
    fn from(st: &FileState) -> Times {
        Times {
            mtime: st.mtime,
            atime: st.atime,
        }
    }
}

/// What [`Region::sync`] found another writer did: the memfd's times that
/// moved since the last sync (`None`: unchanged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Synced {
    /// The file's modification time, if it moved (a write, an extension).
    pub modified: Option<std::time::SystemTime>,
    /// The file's access time, if it moved (a read, as the kernel's atime
    /// rules for the memfd have it).
    pub accessed: Option<std::time::SystemTime>,
}

/// Whether a commit may refuse (`ENOSPC`) or must charge past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charge {
    Checked,
    Forced,
}

/// A sparse, growable run of bytes in page-granular memory, charged to a
/// [`MemoryBudget`] for its data only.
///
/// A region has a length [`len`](Self::len) (up to [`MAX_LEN`], `i64::MAX`)
/// and holds data in one of these storages ([`kind`](Self::kind)):
/// - nothing ([`RegionKind::Empty`]): every byte reads as zero and nothing
///   is charged, whatever the length (a file truncated up costs nothing);
/// - a size-class slot (up to 2 KiB): a 10-byte file costs 64 bytes;
/// - its own page mapping (anonymous, or a memfd's pages so a later export
///   can hand them to the kernel), reserved with `MAP_NORESERVE` and grown
///   and shrunk with `mremap`, so growing never copies and shrinking gives
///   the pages back to the OS at once.
///
/// A page region tracks its *data pages*: the pages written at least once
/// ([`write_at`](Self::write_at)) or committed ([`commit`](Self::commit),
/// [`reserve`](Self::reserve), the mutable views). Every other page is a
/// *hole*. The mapping covers at least every data page, and the whole
/// length up to [`MAP_AHEAD_MAX`] (address space only); past that, the
/// bytes between the mapped prefix ([`mapped_len`](Self::mapped_len)) and
/// `len` are a virtual hole that maps nothing. A growing
/// [`resize`](Self::resize) charges nothing either way.
///
/// Invariants every method keeps:
/// - every byte outside the data pages (or outside the slot), and every byte
///   at or past `len`, reads as zero;
/// - the budget is charged exactly the data pages (page size each), or the
///   slot, of this region: [`capacity`](Self::capacity);
/// - mutable views only ever cover data pages (they commit first);
/// - a failed call leaves the region exactly as it was.
///
/// ```
/// use erm_alloc::{MemoryBudget, Region, RegionKind, page_size};
/// use std::sync::Arc;
///
/// let budget = Arc::new(MemoryBudget::unlimited());
/// let mut region = Region::new(&budget);
/// region.write_at(0, b"ten bytes!")?;
/// assert_eq!(region.kind(), RegionKind::Small);
/// region.write_at(1 << 40, b"far away")?;          // 1 TiB: a hole between
/// assert_eq!(region.kind(), RegionKind::Pages);
/// assert_eq!(budget.used(), 2 * page_size());     // two data pages
/// assert_eq!(region.seek_hole(0)?, page_size());
/// assert_eq!(region.seek_data(page_size())?, 1 << 40);
/// let mut buf = [1u8; 4];
/// region.read_at(1 << 30, &mut buf);               // inside the hole
/// assert_eq!(buf, [0; 4]);
/// region.resize(i64::MAX as usize)?;               // a virtual tail: maps nothing
/// assert_eq!(budget.used(), 2 * page_size());
/// region.resize(0)?;                               // every page goes back to the OS
/// assert_eq!(budget.used(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Region {
    storage: Storage,
    len: usize,
    /// The data pages of a page storage (always empty for `Empty` and `Small`).
    data: Extents,
    budget: Arc<MemoryBudget>,
}

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn einval() -> io::Error {
    errno(libc::EINVAL)
}

fn efbig() -> io::Error {
    errno(libc::EFBIG)
}

fn enxio() -> io::Error {
    errno(libc::ENXIO)
}

/// The kernel refusing address space (`ENOMEM` from `mmap`/`mremap`, or
/// `EINVAL` for a size past the address space, our arguments being valid
/// otherwise) means the offset is too large for one region of this
/// process: `EFBIG`, see [`Region::write_at`].
fn address_space(e: io::Error) -> io::Error {
    if matches!(e.raw_os_error(), Some(libc::ENOMEM | libc::EINVAL)) {
        efbig()
    } else {
        e
    }
}

/// Fresh pages a write must fill before they are populated in one call.
const POPULATE_MIN: usize = 64 << 10;

fn page_round_up(n: usize) -> io::Result<usize> {
    let page = crate::page_size();
    n.checked_add(page - 1)
        .map(|v| v & !(page - 1))
        .ok_or_else(efbig)
}

/// The pages that hold any byte of `range` (non-empty).
fn pages_touched(range: &Range<usize>) -> Range<usize> {
    let page = crate::page_size();
    range.start / page..range.end.div_ceil(page)
}

impl Region {
    /// An empty anonymous region charged to `budget`. Takes no memory until written.
    pub fn new(budget: &Arc<MemoryBudget>) -> Region {
        Region {
            storage: Storage::Empty,
            len: 0,
            data: Extents::new(),
            budget: Arc::clone(budget),
        }
    }

    /// An empty region whose pages belong to a new memfd called `name` (see
    /// memfd_create(2); the name is for `/proc/self/fd` and need not be unique).
    /// Memfd regions never use size classes: the file holds the bytes at all
    /// sizes, and its size is always the region's [`len`](Self::len), so
    /// the memfd ([`memfd`](Self::memfd)) can be handed to another writer
    /// (a process, the kernel's FUSE passthrough) that reads and writes it
    /// as the file itself; [`sync`](Self::sync) then takes in its changes.
    ///
    /// Fails with `EINVAL` if `name` contains a NUL byte or is longer than 249
    /// bytes, and with the kernel's error if the memfd cannot be created.
    pub fn new_memfd(budget: &Arc<MemoryBudget>, name: &str) -> io::Result<Region> {
        if name.len() > 249 {
            return Err(einval());
        }
        let name = CString::new(name).map_err(|_| einval())?;
        let fd = sys::memfd_create(&name)?;
        let times = sys::fstat(fd.as_fd()).ok().as_ref().map(Times::from);
        Ok(Region {
            storage: Storage::Memfd(Box::new(MemfdStorage {
                fd,
                map: None,
                times,
                scanned: None,
            })),
            len: 0,
            data: Extents::new(),
            budget: Arc::clone(budget),
        })
    }

    /// The length in bytes (the logical size; holes included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether `len() == 0`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes charged to the budget for this region: the slot's size, or its
    /// data pages times the page size. Holes and the address space reserved
    /// ahead of the data cost nothing and are not counted.
    pub fn capacity(&self) -> usize {
        match &self.storage {
            Storage::Small(buf) => buf.capacity(),
            _ => self.data.pages() * crate::page_size(),
        }
    }

    /// Bytes of data pages, what `st_blocks * 512` reports for the file: the
    /// data pages (those past `len` too, as tmpfs counts fallocated pages),
    /// and for a slot one page, as tmpfs reports a 10-byte file as 8 blocks.
    pub fn data_bytes(&self) -> usize {
        match &self.storage {
            Storage::Small(_) => crate::page_size(),
            _ => self.data.pages() * crate::page_size(),
        }
    }

    /// How the bytes are stored right now.
    pub fn kind(&self) -> RegionKind {
        match &self.storage {
            Storage::Empty => RegionKind::Empty,
            Storage::Small(_) => RegionKind::Small,
            Storage::Pages(_) => RegionKind::Pages,
            Storage::Memfd { .. } => RegionKind::Memfd,
        }
    }

    /// The budget this region is charged to.
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    /// The memfd holding the bytes, for memfd-backed regions; its size is
    /// [`len`](Self::len). A writer it is handed to (a duplicate of it) may
    /// write and extend it, never shrink it; [`sync`](Self::sync) makes the
    /// region match the file again.
    pub fn memfd(&self) -> Option<BorrowedFd<'_>> {
        match &self.storage {
            Storage::Memfd(m) => Some(m.fd.as_fd()),
            _ => None,
        }
    }

    /// All the bytes of the slot or mapping (length a size class or a page multiple).
    fn storage_bytes(&self) -> &[u8] {
        match &self.storage {
            Storage::Empty => &[],
            Storage::Small(buf) => buf.bytes(),
            Storage::Pages(map) => map.bytes(),
            Storage::Memfd(m) => m.map.as_ref().map_or(&[], Mapping::bytes),
        }
    }

    /// As [`storage_bytes`](Self::storage_bytes), mutable.
    fn storage_bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.storage {
            Storage::Empty => &mut [],
            Storage::Small(buf) => buf.bytes_mut(),
            Storage::Pages(map) => map.bytes_mut(),
            Storage::Memfd(m) => match &mut m.map {
                Some(map) => map.bytes_mut(),
                None => &mut [],
            },
        }
    }

    /// Bytes of the slot or the mapping.
    fn storage_len(&self) -> usize {
        self.storage_bytes().len()
    }

    /// The mapped prefix: `min(len, bytes of the slot or mapping)`. Equal to
    /// [`len`](Self::len) for every region no longer than
    /// [`MAP_AHEAD_MAX`] and every region whose last page is data (any file
    /// written up to its end); shorter only when [`resize`](Self::resize)
    /// grew it past `MAP_AHEAD_MAX` beyond its data (the rest is a virtual
    /// hole that reads as zeros).
    pub fn mapped_len(&self) -> usize {
        self.len.min(self.storage_len())
    }

    /// The mapped prefix of the bytes, `0..mapped_len()`: the whole content
    /// whenever `mapped_len() == len()`. Past it the content is a virtual
    /// hole of zeros that no slice covers; [`read_at`](Self::read_at) reads
    /// any range. Holes inside the prefix read as zeros (for a memfd region,
    /// reading them through this slice makes the kernel allocate them,
    /// uncharged; `read_at` does not).
    pub fn as_slice(&self) -> &[u8] {
        let all = self.storage_bytes();
        &all[..self.len.min(all.len())]
    }

    /// All `len` bytes, mutable, for callers that may write anywhere: every
    /// page of `0..len` becomes data first, so writes through the slice are
    /// accounted and the holes are gone (a sparse region becomes dense;
    /// bulk writers should [`commit`](Self::commit) and use
    /// [`as_mut_range`](Self::as_mut_range) block by block instead).
    ///
    /// It cannot fail, so the commit is charged even past the budget's limit
    /// (later charges then fail until enough is credited); use
    /// [`try_as_mut_slice`](Self::try_as_mut_slice) to get `ENOSPC` instead.
    /// When the address space cannot hold `len` bytes (a virtual length of
    /// terabytes), it returns only the mapped prefix, `mapped_len()` bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len;
        if self.commit_inner(0..len, Charge::Forced).is_err() {
            // Only the mapping can fail a forced commit: make the part
            // already mapped data, which needs no new mapping.
            let mapped = self.mapped_len();
            let committed = self.commit_inner(0..mapped, Charge::Forced);
            debug_assert!(committed.is_ok(), "a mapped commit cannot fail");
        }
        let mapped = self.mapped_len();
        &mut self.storage_bytes_mut()[..mapped]
    }

    /// All `len` bytes, mutable, after committing every page of `0..len`
    /// (see [`commit`](Self::commit) for the errors; the region is then unchanged).
    pub fn try_as_mut_slice(&mut self) -> io::Result<&mut [u8]> {
        self.as_mut_range(0..self.len)
    }

    /// The bytes of `range` (inside `0..len`), mutable, after committing its
    /// pages: the way to fill a region grown by [`resize`](Self::resize)
    /// piece by piece (inflating a compressed block, reading a stream)
    /// without making the rest of it data.
    ///
    /// Fails with `EINVAL` if the range is reversed or passes `len`, and as
    /// [`commit`](Self::commit) does; the region is then unchanged.
    pub fn as_mut_range(&mut self, range: Range<usize>) -> io::Result<&mut [u8]> {
        if range.start > range.end || range.end > self.len {
            return Err(einval());
        }
        if range.is_empty() {
            return Ok(&mut []);
        }
        self.commit_inner(range.clone(), Charge::Checked)?;
        Ok(&mut self.storage_bytes_mut()[range])
    }

    /// Copies `data` into the region at `offset`, growing it as needed; bytes
    /// between the old end and `offset` are a hole and read as zeros. The
    /// pages the write touches become data and are charged. This is the one
    /// copy of a write (caller to region); it is not counted as an internal copy.
    ///
    /// Fails with `EFBIG` if the end would pass [`MAX_LEN`], or if the
    /// process has no address space for a mapping up to the end (a write at
    /// hundreds of TiB: the kernel's `ENOMEM`). `EFBIG` rather than `ENOSPC`
    /// because the offset is what is at fault: the store is not full (its
    /// budget may have room, and a write at a lower offset succeeds), the
    /// file is too large for this implementation, which is what `EFBIG`
    /// means to write(2) callers. Fails with `ENOSPC` if the budget refuses
    /// the new data pages, or the kernel's error; the region is then unchanged.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> io::Result<()> {
        let end = offset
            .checked_add(data.len())
            .filter(|&e| e <= MAX_LEN)
            .ok_or_else(efbig)?;
        if data.is_empty() {
            return Ok(());
        }
        // A memfd's size is the length, and its pages past the end must not
        // be touched: the file grows first.
        let grown = self.grow_file(end)?;
        if let Err(e) = self.commit_inner(offset..end, Charge::Checked) {
            if grown {
                self.shrink_file_back();
            }
            return Err(e);
        }
        self.populate_fresh(offset, end);
        self.storage_bytes_mut()[offset..end].copy_from_slice(data);
        self.len = self.len.max(end);
        if grown {
            self.own_change();
        }
        Ok(())
    }

    /// Before a write of `offset..end`: pages past the current end that the
    /// write fills whole hold no memory yet, and a large run of them is
    /// faulted in by one call instead of one page fault per page (a
    /// sequential writer appending 1 MiB at a time took 256 faults a call).
    fn populate_fresh(&self, offset: usize, end: usize) {
        let page = crate::page_size();
        let Ok(start) = page_round_up(self.len.max(offset)) else {
            return;
        };
        let stop = end / page * page;
        if stop >= start.saturating_add(POPULATE_MIN) {
            if let Storage::Pages(map) = &self.storage {
                map.populate_write(start, stop - start);
            }
        }
    }

    /// Appends `data` at the end.
    pub fn extend_from_slice(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_at(self.len, data)
    }

    /// Copies bytes from `offset` into `buf`; returns how many (0 at or past
    /// the end). Holes, the virtual tail included, read as zeros without
    /// touching the mapping.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> usize {
        if offset >= self.len {
            return 0;
        }
        let n = buf.len().min(self.len - offset);
        let (buf, end) = (&mut buf[..n], offset + n);
        let bytes = self.storage_bytes();
        let mut pos = offset;
        match &self.storage {
            Storage::Small(_) if pos < bytes.len() => {
                let stop = end.min(bytes.len());
                buf[..stop - pos].copy_from_slice(&bytes[pos..stop]);
                pos = stop;
            }
            Storage::Small(_) => {}
            Storage::Pages(_) | Storage::Memfd { .. } => {
                let page = crate::page_size();
                let first = self.data.first_ending_after(offset / page);
                for run in &self.data.runs()[first..] {
                    let start = (run.start * page).max(pos);
                    if start >= end {
                        break;
                    }
                    let stop = (run.end * page).min(end);
                    buf[pos - offset..start - offset].fill(0);
                    buf[start - offset..stop - offset].copy_from_slice(&bytes[start..stop]);
                    pos = stop;
                }
            }
            Storage::Empty => {}
        }
        buf[pos - offset..].fill(0);
        n
    }

    /// Sets the length. Growing charges nothing and commits nothing: the new
    /// bytes are a hole that reads as zeros. Up to [`MAP_AHEAD_MAX`] the
    /// mapping is extended to the new length (address space only, so
    /// [`as_slice`](Self::as_slice) still covers every byte; a slot moves
    /// to page 0 of a mapping, charged one page); past it, nothing is
    /// mapped and the tail is virtual. Shrinking gives the pages past the
    /// new end back to the OS at once (and credits them), and moves a region
    /// that became small enough, and whose first page holds data, back into
    /// a size class.
    ///
    /// Fails with `EFBIG` past [`MAX_LEN`] or when the address space for the
    /// mapping is refused, `ENOSPC` if a slot's move to a page is refused,
    /// or the kernel's error; the region is then unchanged.
    pub fn resize(&mut self, new_len: usize) -> io::Result<()> {
        if new_len > MAX_LEN {
            return Err(efbig());
        }
        if new_len >= self.len {
            if new_len <= MAP_AHEAD_MAX && new_len > self.storage_len() {
                self.map_to(new_len)?;
            }
            if self.grow_file(new_len)? {
                self.own_change();
            }
            self.len = new_len;
            return Ok(());
        }
        self.shrink(new_len)?;
        self.own_change();
        if new_len <= MAP_AHEAD_MAX && new_len > self.storage_len() {
            // Shrunk from a virtual length: map what is left, best effort
            // (the shrink itself has succeeded; a refusal only leaves a
            // virtual tail, which `read_at` reads all the same).
            let _ = self.map_to(new_len);
        }
        Ok(())
    }

    /// Sets a memfd's size to `end` if that is past the length (the size
    /// is always the length); `true` if it did. Nothing for other storage.
    fn grow_file(&mut self, end: usize) -> io::Result<bool> {
        match &self.storage {
            Storage::Memfd(m) if end > self.len => {
                sys::ftruncate(m.fd.as_fd(), end)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// After the region itself truncated, extended or punched its memfd:
    /// the file's new times are its own doing, not another writer's, so
    /// the next [`sync`](Self::sync) reports none for them (a write by
    /// another writer in between is still taken in; only its time may be
    /// taken for the region's), and it scans the data runs again.
    fn own_change(&mut self) {
        if let Storage::Memfd(m) = &mut self.storage {
            m.times = sys::fstat(m.fd.as_fd()).ok().as_ref().map(Times::from);
            m.scanned = None;
        }
    }

    /// Puts a memfd's size back to the length after a failed growth; this
    /// cannot fail (a shrink of a file nobody sealed).
    fn shrink_file_back(&mut self) {
        if let Storage::Memfd(m) = &self.storage {
            let _ = sys::ftruncate(m.fd.as_fd(), self.len);
        }
    }

    /// Takes in what another writer did to a memfd region's file (see
    /// [`memfd`](Self::memfd)): the length becomes the file's size, the
    /// pages the kernel holds data in (`SEEK_DATA`) join the data pages
    /// and are charged to the budget (forced: they exist already, so the
    /// charge may pass the limit and later charges fail until enough is
    /// credited), and the mapping grows to cover them. Returns the file's
    /// modification and access times that moved since the last sync (a
    /// write, an extension; a read), [`Synced::default`] when nothing
    /// changed, at one `fstat`. A region of any other storage has no other
    /// writer: nothing moved.
    ///
    /// Between syncs the region's length, data pages and charge are as of
    /// the last one: the owner syncs before it reads or changes a region
    /// another writer may have written. The other writer never shrinks the
    /// file (only the owner truncates or punches), so every page the region
    /// counts as data is still in the file.
    ///
    /// Fails with the kernel's error (`fstat`, `lseek`), or `EFBIG` when
    /// the address space cannot map up to the last data page; the region is
    /// then unchanged.
    pub fn sync(&mut self) -> io::Result<Synced> {
        let Storage::Memfd(m) = &self.storage else {
            return Ok(Synced::default());
        };
        let fd = m.fd.as_fd();
        let now = sys::fstat(fd)?;
        let size = usize::try_from(now.size).map_err(|_| efbig())?;
        let before = m.times;
        let synced = Synced {
            modified: (before.map(|t| t.mtime) != Some(now.mtime)).then_some(now.mtime),
            accessed: (before.map(|t| t.atime) != Some(now.atime)).then_some(now.atime),
        };
        if m.scanned == Some((now.size, now.blocks)) && size == self.len {
            if let Storage::Memfd(m) = &mut self.storage {
                m.times = Some(Times::from(&now));
            }
            return Ok(synced);
        }
        // The file's data runs, at page granularity (tmpfs's SEEK_DATA).
        let page = crate::page_size();
        let mut data = self.data.clone();
        let mut at = 0;
        while at < size {
            let start = match sys::lseek(fd, at, libc::SEEK_DATA) {
                Ok(start) => start,
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => break,
                Err(e) => return Err(e),
            };
            let end = sys::lseek(fd, start, libc::SEEK_HOLE)?;
            data.insert(start / page..end.div_ceil(page));
            at = end;
        }
        let need = page_round_up(size.min(MAP_AHEAD_MAX))?.max(data.end() * page);
        let mut times = Times::from(&now);
        if need > self.storage_len() {
            let first = self.storage_len() == 0;
            self.grow_mapping(need)?;
            if first {
                // A new mapping of the file moved its atime: our doing.
                if let (Storage::Memfd(m), Some(t)) = (&self.storage, before) {
                    times.atime = sys::fstat(m.fd.as_fd()).map_or(t.atime, |st| st.atime);
                }
            }
        }
        let added = data.pages() - self.data.pages();
        self.budget.force_charge(added * page);
        self.data = data;
        self.len = size;
        if let Storage::Memfd(m) = &mut self.storage {
            m.times = Some(times);
            m.scanned = Some((now.size, now.blocks));
        }
        Ok(synced)
    }

    /// Maps (address space only) up to `new_len` (> the slot or mapping).
    fn map_to(&mut self, new_len: usize) -> io::Result<()> {
        let need = page_round_up(new_len)?;
        if let Storage::Small(_) = self.storage {
            return self.small_to_pages(0..0, need, Charge::Checked);
        }
        self.grow_mapping(need)
    }

    /// Commits `len..len + additional` as data (see [`commit`](Self::commit)),
    /// without changing the length or the contents: fallocate(2)'s
    /// reservation, whose pages count as data on tmpfs too.
    ///
    /// Fails with `EFBIG` past [`MAX_LEN`], and as `commit` does.
    pub fn reserve(&mut self, additional: usize) -> io::Result<()> {
        let want = self
            .len
            .checked_add(additional)
            .filter(|&w| w <= MAX_LEN)
            .ok_or_else(efbig)?;
        self.commit_inner(self.len..want, Charge::Checked)
    }

    /// Makes the pages that hold any byte of `range` data: charges those
    /// that were holes and maps up to them (`mremap`), leaving their bytes as
    /// they were (zeros for a hole). The range may pass `len` (the pages then
    /// count as data, as fallocated ones past the end of a tmpfs file); the
    /// length does not change. A region without page storage and a range
    /// ending within 2 KiB takes a slot instead.
    ///
    /// Fails with `EINVAL` for a reversed range, `EFBIG` past [`MAX_LEN`] or
    /// for want of address space (see [`write_at`](Self::write_at)),
    /// `ENOSPC` if the budget refuses the new data pages, or the kernel's
    /// error; the region is then unchanged.
    pub fn commit(&mut self, range: Range<usize>) -> io::Result<()> {
        if range.start > range.end {
            return Err(einval());
        }
        if range.end > MAX_LEN {
            return Err(efbig());
        }
        self.commit_inner(range, Charge::Checked)
    }

    /// [`commit`](Self::commit) that charges past the limit instead of
    /// refusing: for putting back pages just [`release`](Self::release)d
    /// (a compression that failed restores the file it had started to give
    /// back, and must not fail for want of the room it freed). Fails only
    /// for the argument and mapping errors of `commit`.
    pub fn commit_forced(&mut self, range: Range<usize>) -> io::Result<()> {
        if range.start > range.end {
            return Err(einval());
        }
        if range.end > MAX_LEN {
            return Err(efbig());
        }
        self.commit_inner(range, Charge::Forced)
    }

    /// [`commit`](Self::commit) after the argument checks.
    fn commit_inner(&mut self, range: Range<usize>, mode: Charge) -> io::Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        let memfd = matches!(self.storage, Storage::Memfd { .. });
        let slotted = matches!(self.storage, Storage::Empty | Storage::Small(_));
        if !memfd && slotted && range.end <= SMALL_MAX {
            if range.end <= self.storage_len() {
                return Ok(());
            }
            let class = small::class_for(range.end).expect("end <= SMALL_MAX has a class");
            return self.move_to_small(class, mode);
        }
        let page = crate::page_size();
        let pages = pages_touched(&range);
        let map_need = pages.end.checked_mul(page).ok_or_else(efbig)?;
        if let Storage::Small(_) = self.storage {
            return self.small_to_pages(pages, map_need, mode);
        }
        // Data pages are always mapped: nothing new means nothing to do
        // (rewrites and appends inside the last page stop here).
        let new = self.data.missing(pages.clone()) * page;
        if new == 0 {
            return Ok(());
        }
        self.charge(new, mode)?;
        if map_need > self.storage_len() {
            if let Err(e) = self.grow_mapping(map_need) {
                self.budget.credit(new);
                return Err(e);
            }
        }
        self.data.insert(pages);
        Ok(())
    }

    fn charge(&self, bytes: usize, mode: Charge) -> io::Result<()> {
        match mode {
            Charge::Checked => self.budget.try_charge(bytes),
            Charge::Forced => {
                self.budget.force_charge(bytes);
                Ok(())
            }
        }
    }

    /// Moves a slot's bytes to a fresh mapping of `map_len` bytes whose data
    /// pages are page 0 (the slot's) and `pages`.
    fn small_to_pages(
        &mut self,
        pages: Range<usize>,
        map_len: usize,
        mode: Charge,
    ) -> io::Result<()> {
        let page = crate::page_size();
        let mut data = Extents::new();
        data.insert(0..1);
        data.insert(pages);
        // The slot's charge turns into part of the pages' (a page is larger).
        let slot = self.capacity();
        let charge = data.pages() * page - slot;
        self.charge(charge, mode)?;
        let mut map = match Mapping::new(map_len.max(page), Backing::Anonymous) {
            Ok(map) => map,
            Err(e) => {
                self.budget.credit(charge);
                return Err(address_space(e));
            }
        };
        let n = self.mapped_len();
        map.bytes_mut()[..n].copy_from_slice(&self.storage_bytes()[..n]);
        self.budget.record_copy(n);
        self.storage = Storage::Pages(map);
        self.data = data;
        Ok(())
    }

    /// Grows the mapping to at least `need` bytes (page multiple, > the
    /// mapping), geometrically when the address space allows. Charges nothing.
    fn grow_mapping(&mut self, need: usize) -> io::Result<()> {
        let current = self.storage_len();
        let geometric = page_round_up(
            current
                .saturating_mul(2)
                .min(current.saturating_add(MAX_GROW_STEP)),
        )?;
        let preferred = need.max(geometric);
        match self.remap_pages(preferred) {
            Err(_) if preferred > need => self.remap_pages(need),
            other => other,
        }
        .map_err(address_space)
    }

    /// Grows the mapping (of a page storage, or none yet) to exactly `new_len` bytes.
    fn remap_pages(&mut self, new_len: usize) -> io::Result<()> {
        match &mut self.storage {
            Storage::Pages(map) => map.remap(new_len),
            // The mapping only: the file's size is the length, set by
            // `resize` and `write_at`.
            Storage::Memfd(m) => match &mut m.map {
                Some(map) => map.remap(new_len),
                None => Mapping::new(new_len, Backing::Shared(m.fd.as_fd()))
                    .map(|map| m.map = Some(map)),
            },
            Storage::Empty => {
                self.storage = Storage::Pages(Mapping::new(new_len, Backing::Anonymous)?);
                Ok(())
            }
            Storage::Small(_) => {
                debug_assert!(false, "a slot moves to pages in small_to_pages");
                Err(einval())
            }
        }
    }

    /// Moves the bytes into a slot of `class` (from nothing, another class,
    /// or pages whose first page is data), crediting what was charged before.
    fn move_to_small(&mut self, class: usize, mode: Charge) -> io::Result<()> {
        let new_cap = small::CLASSES[class];
        let old_cap = self.capacity();
        if new_cap > old_cap {
            self.charge(new_cap - old_cap, mode)?;
        }
        let mut buf = match SmallBuf::new(class) {
            Ok(buf) => buf,
            Err(e) => {
                if new_cap > old_cap {
                    self.budget.credit(new_cap - old_cap);
                }
                return Err(e);
            }
        };
        let n = self.mapped_len().min(new_cap);
        buf.bytes_mut()[..n].copy_from_slice(&self.storage_bytes()[..n]);
        self.budget.record_copy(n);
        self.storage = Storage::Small(buf);
        self.data.clear();
        if old_cap > new_cap {
            self.budget.credit(old_cap - new_cap);
        }
        Ok(())
    }

    /// Gives back to the OS the pages that lie wholly inside `range` (which
    /// must start within `0..len` and may end past `len` up to the end of
    /// its last page, so that the page holding the end of the file goes
    /// too when the range covers it, as tmpfs punches it): they become holes (read as zeros) and the
    /// budget is credited those that were data; the length stays. Returns
    /// the bytes of those whole pages (holes among them included), 0 when
    /// the range holds no whole page. The compressor calls this on each
    /// block as soon as the block is compressed, so a file's peak memory
    /// stays near one copy; fallocate(2)'s `PUNCH_HOLE` is this plus zeroing
    /// the partial pages at the edges. A slot counts as page 0.
    ///
    /// Fails with `EINVAL` if the range is reversed or passes the page
    /// holding `len`, or the kernel's error; the region is then unchanged.
    pub fn release(&mut self, range: Range<usize>) -> io::Result<usize> {
        if range.start > range.end || range.end > page_round_up(self.len)? {
            return Err(einval());
        }
        let page = crate::page_size();
        let start = page_round_up(range.start)?;
        let end = range.end & !(page - 1);
        if start >= end {
            return Ok(0);
        }
        let mapped_end = end.min(self.storage_len());
        match &mut self.storage {
            Storage::Empty => {}
            Storage::Small(buf) => {
                if start == 0 {
                    let slot = buf.capacity();
                    self.storage = Storage::Empty;
                    self.budget.credit(slot);
                }
            }
            Storage::Pages(map) => {
                if start < mapped_end {
                    map.discard_anonymous(start, mapped_end - start)?;
                }
            }
            Storage::Memfd(m) => {
                if start < mapped_end {
                    sys::punch_hole(m.fd.as_fd(), start, mapped_end - start)?;
                    m.times = sys::fstat(m.fd.as_fd()).ok().as_ref().map(Times::from);
                    m.scanned = None;
                }
            }
        }
        let removed = self.data.remove(start / page..end / page);
        self.budget.credit(removed * page);
        Ok(end - start)
    }

    /// The first data offset at or after `offset`, as lseek(2)'s `SEEK_DATA`
    /// on tmpfs (page granularity: a data page is data from its first byte).
    ///
    /// Fails with `ENXIO` if `offset >= len` or no data lies at or after it
    /// before `len`.
    pub fn seek_data(&self, offset: usize) -> io::Result<usize> {
        if offset >= self.len {
            return Err(enxio());
        }
        let page = crate::page_size();
        let found = match &self.storage {
            Storage::Small(_) => (offset < page).then_some(offset),
            Storage::Empty => None,
            Storage::Pages(_) | Storage::Memfd { .. } => self
                .data
                .runs()
                .get(self.data.first_ending_after(offset / page))
                .map(|run| (run.start * page).max(offset)),
        };
        found.filter(|&at| at < self.len).ok_or_else(enxio)
    }

    /// The first hole offset at or after `offset`, as lseek(2)'s
    /// `SEEK_HOLE` on tmpfs: `len` when no hole lies before the end (the end
    /// of a file counts as a hole).
    ///
    /// Fails with `ENXIO` if `offset >= len`.
    pub fn seek_hole(&self, offset: usize) -> io::Result<usize> {
        if offset >= self.len {
            return Err(enxio());
        }
        let page = crate::page_size();
        let at = match &self.storage {
            Storage::Small(_) if offset < page => page,
            Storage::Small(_) | Storage::Empty => offset,
            Storage::Pages(_) | Storage::Memfd { .. } => {
                let p = offset / page;
                match self.data.runs().get(self.data.first_ending_after(p)) {
                    Some(run) if run.start <= p => run.end * page,
                    _ => offset,
                }
            }
        };
        Ok(at.min(self.len))
    }

    /// The byte ranges that hold data, in order, clamped to `len`; every
    /// byte outside them reads as zero, and each lies inside the
    /// [`as_slice`](Self::as_slice) prefix. Whole data pages for page
    /// storage; the slot's bytes for a slot. The compressor walks these to
    /// skip holes.
    pub fn data_extents(&self) -> DataExtents<'_> {
        let small = match &self.storage {
            Storage::Small(_) => Some(0..self.mapped_len()).filter(|r| !r.is_empty()),
            _ => None,
        };
        DataExtents {
            runs: self.data.runs().iter(),
            small,
            len: self.len,
            page: crate::page_size(),
        }
    }

    /// Shrinks the length to `new_len < len`, releasing what is no longer needed.
    fn shrink(&mut self, new_len: usize) -> io::Result<()> {
        let page = crate::page_size();
        let old_len = self.len;
        let map_len = self.storage_len();
        let keep = new_len.div_ceil(page);
        match &mut self.storage {
            Storage::Empty => {}
            Storage::Small(buf) => {
                let cap = buf.capacity();
                if new_len == 0 {
                    self.storage = Storage::Empty;
                    self.budget.credit(cap);
                } else if new_len < cap {
                    buf.bytes_mut()[new_len..old_len.min(cap)].fill(0);
                }
            }
            Storage::Pages(_) | Storage::Memfd { .. } => {
                let memfd = matches!(self.storage, Storage::Memfd { .. });
                // Shrink back into a size class only well below its top, so a
                // file hovering around 2 KiB does not move back and forth.
                let small = !memfd && new_len <= SMALL_MAX / 2;
                if new_len == 0 || (new_len > MAP_AHEAD_MAX && self.data.present(0..keep) == 0) {
                    // No data left, and no mapping needed: no storage at all.
                    if let Storage::Memfd(m) = &mut self.storage {
                        sys::ftruncate(m.fd.as_fd(), new_len)?;
                        m.map = None;
                    } else {
                        self.storage = Storage::Empty;
                    }
                    self.budget.credit(self.capacity());
                    self.data.clear();
                } else if small && self.data.contains(0) {
                    self.len = new_len;
                    let class =
                        small::class_for(new_len).expect("new_len <= SMALL_MAX has a class");
                    if let Err(e) = self.move_to_small(class, Charge::Checked) {
                        self.len = old_len;
                        return Err(e);
                    }
                } else {
                    let new_map = map_len.min(keep * page);
                    if let Storage::Memfd(m) = &self.storage {
                        // The size is the length; shrinking the file frees
                        // its pages past the new end. It goes first because
                        // it is the step that can fail (a sealed memfd).
                        sys::ftruncate(m.fd.as_fd(), new_len)?;
                    }
                    if new_map < map_len {
                        match &mut self.storage {
                            Storage::Pages(map) => map.remap(new_map)?,
                            Storage::Memfd(m) => {
                                let Some(map) = &mut m.map else {
                                    return Err(einval());
                                };
                                if let Err(e) = map.remap(new_map) {
                                    // Give the file its size back so the
                                    // region stays as it was (the pages past
                                    // the new end are holes now).
                                    let _ = sys::ftruncate(m.fd.as_fd(), old_len);
                                    return Err(e);
                                }
                            }
                            _ => {}
                        }
                    }
                    let removed = self.data.remove(keep..usize::MAX);
                    self.budget.credit(removed * page);
                    // The kept part of the last page must read as zeros past the end.
                    if new_len % page != 0 && self.data.contains(new_len / page) {
                        let stop = old_len.min(keep * page);
                        self.storage_bytes_mut()[new_len..stop].fill(0);
                    }
                }
            }
        }
        self.len = new_len;
        Ok(())
    }
}

/// The data extents of a region ([`Region::data_extents`]): byte ranges in
/// order, clamped to the region's length.
#[derive(Debug, Clone)]
pub struct DataExtents<'a> {
    runs: std::slice::Iter<'a, Range<usize>>,
    small: Option<Range<usize>>,
    len: usize,
    page: usize,
}

impl Iterator for DataExtents<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        if let Some(small) = self.small.take() {
            return Some(small);
        }
        let run = self.runs.next()?;
        let start = run.start * self.page;
        if start >= self.len {
            // Runs are sorted: every later one lies past the end too.
            self.runs = [].iter();
            return None;
        }
        Some(start..(run.end * self.page).min(self.len))
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        self.budget.credit(self.capacity());
    }
}
#[cfg(all(test, target_pointer_width = "64"))]
#[test]
fn a_region_stays_six_words() {
    // ermfs keeps one per file inode; it was this size before it was sparse.
    assert_eq!(std::mem::size_of::<Region>(), 48);
}
