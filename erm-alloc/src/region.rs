//! [`Region`]: a growable byte buffer made of a size-class slot or of whole pages.

use crate::budget::MemoryBudget;
use crate::small::{self, SMALL_MAX, SmallBuf};
use crate::sys::{self, Backing, Mapping};
use std::ffi::CString;
use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// The largest length a region can hold: beyond it, a slice could not describe it.
pub const MAX_LEN: usize = isize::MAX as usize / 2;

/// Page regions grow their capacity geometrically (so appends cost few
/// `mremap` calls) but by at most this much at a time past what is needed,
/// so a large file never reserves much more than it holds.
const MAX_GROW_STEP: usize = 64 << 20;

/// How a region's bytes are stored right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    /// No memory at all (capacity 0).
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
    /// The file always exists; the mapping only while the capacity is non-zero.
    Memfd {
        fd: OwnedFd,
        map: Option<Mapping>,
    },
}

/// A growable run of bytes in page-granular memory, charged to a [`MemoryBudget`].
///
/// A region holds `len` initialized bytes in `capacity` reserved bytes. Below
/// 2 KiB it lives in a size-class slot (a 10-byte file costs 64 bytes, not a
/// page); beyond, in its own mapping that grows and shrinks with `mremap`, so
/// growing never copies the bytes and shrinking gives the pages back to the OS
/// at once. It can also be backed by a memfd, so that a later export can hand
/// the same pages to the kernel.
///
/// Invariants every method keeps:
/// - the bytes in `len..capacity` read as zero, so growing never needs to clear;
/// - the budget is charged exactly `capacity` for this region;
/// - a failed call leaves the region exactly as it was.
///
/// ```
/// use erm_alloc::{MemoryBudget, Region, RegionKind};
/// use std::sync::Arc;
///
/// let budget = Arc::new(MemoryBudget::unlimited());
/// let mut region = Region::new(&budget);
/// region.write_at(0, b"ten bytes!")?;
/// assert_eq!(region.kind(), RegionKind::Small);
/// region.write_at(1 << 20, b"far away")?;          // grows to pages; the gap reads as zeros
/// assert_eq!(region.kind(), RegionKind::Pages);
/// assert_eq!(&region.as_slice()[..10], b"ten bytes!");
/// assert!(region.as_slice()[10..1 << 20].iter().all(|&b| b == 0));
/// region.resize(0)?;                                // every page goes back to the OS
/// assert_eq!(budget.used(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Region {
    storage: Storage,
    len: usize,
    budget: Arc<MemoryBudget>,
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

fn efbig() -> io::Error {
    io::Error::from_raw_os_error(libc::EFBIG)
}

/// Fresh pages a write must fill before they are populated in one call.
const POPULATE_MIN: usize = 64 << 10;

fn page_round_up(n: usize) -> io::Result<usize> {
    let page = crate::page_size();
    n.checked_add(page - 1)
        .map(|v| v & !(page - 1))
        .ok_or_else(efbig)
}

impl Region {
    /// An empty anonymous region charged to `budget`. Takes no memory until written.
    pub fn new(budget: &Arc<MemoryBudget>) -> Region {
        Region {
            storage: Storage::Empty,
            len: 0,
            budget: Arc::clone(budget),
        }
    }

    /// An empty region whose pages belong to a new memfd called `name` (see
    /// memfd_create(2); the name is for `/proc/self/fd` and need not be unique).
    /// Memfd regions never use size classes: the file holds the bytes at all sizes.
    ///
    /// Fails with `EINVAL` if `name` contains a NUL byte or is longer than 249
    /// bytes, and with the kernel's error if the memfd cannot be created.
    pub fn new_memfd(budget: &Arc<MemoryBudget>, name: &str) -> io::Result<Region> {
        if name.len() > 249 {
            return Err(einval());
        }
        let name = CString::new(name).map_err(|_| einval())?;
        let fd = sys::memfd_create(&name)?;
        Ok(Region {
            storage: Storage::Memfd { fd, map: None },
            len: 0,
            budget: Arc::clone(budget),
        })
    }

    /// Number of initialized bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether `len() == 0`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes reserved (and charged to the budget): a size class, or a multiple of the page size.
    pub fn capacity(&self) -> usize {
        match &self.storage {
            Storage::Empty | Storage::Memfd { map: None, .. } => 0,
            Storage::Small(buf) => buf.capacity(),
            Storage::Pages(map) | Storage::Memfd { map: Some(map), .. } => map.len(),
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

    /// The memfd holding the bytes, for memfd-backed regions. Its size is the
    /// region's capacity; only the first [`len`](Self::len) bytes are meaningful.
    pub fn memfd(&self) -> Option<BorrowedFd<'_>> {
        match &self.storage {
            Storage::Memfd { fd, .. } => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// The initialized bytes.
    pub fn as_slice(&self) -> &[u8] {
        let all: &[u8] = match &self.storage {
            Storage::Empty | Storage::Memfd { map: None, .. } => &[],
            Storage::Small(buf) => buf.bytes(),
            Storage::Pages(map) | Storage::Memfd { map: Some(map), .. } => map.bytes(),
        };
        &all[..self.len]
    }

    /// The initialized bytes, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut self.spare_and_data()[..len]
    }

    /// All `capacity` bytes, mutable.
    fn spare_and_data(&mut self) -> &mut [u8] {
        match &mut self.storage {
            Storage::Empty | Storage::Memfd { map: None, .. } => &mut [],
            Storage::Small(buf) => buf.bytes_mut(),
            Storage::Pages(map) | Storage::Memfd { map: Some(map), .. } => map.bytes_mut(),
        }
    }

    /// Copies `data` into the region at `offset`, growing it as needed; bytes
    /// between the old end and `offset` read as zeros. This is the one copy of
    /// a write (caller to region); it is not counted as an internal copy.
    ///
    /// Fails with `EFBIG` if the end would pass [`MAX_LEN`], `ENOSPC` if the
    /// budget refuses the growth, or the kernel's error; the region is then unchanged.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> io::Result<()> {
        let end = offset
            .checked_add(data.len())
            .filter(|&e| e <= MAX_LEN)
            .ok_or_else(efbig)?;
        if data.is_empty() {
            return Ok(());
        }
        if end > self.capacity() {
            self.grow_capacity(end)?;
        }
        self.populate_fresh(offset, end);
        self.spare_and_data()[offset..end].copy_from_slice(data);
        self.len = self.len.max(end);
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

    /// Copies bytes from `offset` into `buf`; returns how many (0 at or past the end).
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> usize {
        let data = self.as_slice();
        let Some(available) = data.get(offset..) else {
            return 0;
        };
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        n
    }

    /// Sets the length: growing reads back zeros, shrinking gives the pages
    /// past the new end back to the OS at once (and moves a region that became
    /// small enough back into a size class).
    ///
    /// Fails with `EFBIG` past [`MAX_LEN`], `ENOSPC` if the budget refuses, or
    /// the kernel's error; the region is then unchanged.
    pub fn resize(&mut self, new_len: usize) -> io::Result<()> {
        if new_len > MAX_LEN {
            return Err(efbig());
        }
        if new_len > self.len {
            if new_len > self.capacity() {
                self.grow_capacity(new_len)?;
            }
            self.len = new_len;
            return Ok(());
        }
        self.shrink(new_len)
    }

    /// Makes room for at least `additional` more bytes past `len` without
    /// changing the contents.
    pub fn reserve(&mut self, additional: usize) -> io::Result<()> {
        let want = self
            .len
            .checked_add(additional)
            .filter(|&w| w <= MAX_LEN)
            .ok_or_else(efbig)?;
        if want > self.capacity() {
            self.grow_capacity(want)
        } else {
            Ok(())
        }
    }

    /// Gives back to the OS the pages that lie wholly inside `range` (which
    /// must be within `0..len`); they then read as zeros, and the length and
    /// capacity stay as they are. Returns the number of bytes released. The
    /// compressor calls this on each block as soon as the block is compressed,
    /// so a file's peak memory stays near one copy. Size-class regions have no
    /// whole page and release nothing.
    ///
    /// Fails with `EINVAL` if the range is reversed or passes `len`.
    pub fn release(&mut self, range: Range<usize>) -> io::Result<usize> {
        if range.start > range.end || range.end > self.len {
            return Err(einval());
        }
        let page = crate::page_size();
        let start = page_round_up(range.start)?;
        let end = range.end & !(page - 1);
        if start >= end {
            return Ok(0);
        }
        match &mut self.storage {
            Storage::Pages(map) => map.discard_anonymous(start, end - start)?,
            Storage::Memfd { fd, .. } => sys::punch_hole(fd.as_fd(), start, end - start)?,
            Storage::Empty | Storage::Small(_) => return Ok(0),
        }
        Ok(end - start)
    }

    /// Grows the capacity to at least `need` (> capacity), moving a small
    /// region to a larger class or to pages as needed.
    fn grow_capacity(&mut self, need: usize) -> io::Result<()> {
        let memfd = matches!(self.storage, Storage::Memfd { .. });
        if !memfd && need <= SMALL_MAX {
            let class = small::class_for(need).expect("need <= SMALL_MAX has a class");
            return self.move_to_small(class);
        }
        let current = self.capacity();
        let exact = page_round_up(need)?;
        let geometric = page_round_up(
            current
                .saturating_mul(2)
                .min(current.saturating_add(MAX_GROW_STEP)),
        )?;
        let preferred = exact.max(geometric);
        // Ask for the geometric step first; if the budget cannot give it, the
        // exact need may still fit.
        match self.grow_pages(preferred) {
            Err(e) if preferred > exact && e.raw_os_error() == Some(libc::ENOSPC) => {
                self.grow_pages(exact)
            }
            other => other,
        }
    }

    /// Grows to exactly `new_cap` bytes of pages (page multiple, > capacity).
    fn grow_pages(&mut self, new_cap: usize) -> io::Result<()> {
        let old_cap = self.capacity();
        let delta = new_cap - old_cap;
        self.budget.try_charge(delta)?;
        let result = self.remap_pages(new_cap);
        if result.is_err() {
            self.budget.credit(delta);
        }
        result
    }

    /// The unaccounted part of growing to `new_cap` pages (budget handled by the caller).
    fn remap_pages(&mut self, new_cap: usize) -> io::Result<()> {
        match &mut self.storage {
            Storage::Pages(map) => map.remap(new_cap),
            Storage::Memfd { fd, map } => {
                sys::ftruncate(fd.as_fd(), new_cap)?;
                let result = match map {
                    Some(map) => map.remap(new_cap),
                    None => {
                        Mapping::new(new_cap, Backing::Shared(fd.as_fd())).map(|m| *map = Some(m))
                    }
                };
                if result.is_err() {
                    let old = map.as_ref().map_or(0, Mapping::len);
                    // Put the file back to its old size; this cannot fail for a shrink.
                    let _ = sys::ftruncate(fd.as_fd(), old);
                }
                result
            }
            Storage::Empty => {
                self.storage = Storage::Pages(Mapping::new(new_cap, Backing::Anonymous)?);
                Ok(())
            }
            Storage::Small(buf) => {
                let mut map = Mapping::new(new_cap, Backing::Anonymous)?;
                map.bytes_mut()[..self.len].copy_from_slice(&buf.bytes()[..self.len]);
                self.budget.record_copy(self.len);
                // The caller charged the difference between the slot and the
                // pages, so the account is already right once the slot is gone.
                self.storage = Storage::Pages(map);
                Ok(())
            }
        }
    }

    /// Moves the bytes into a slot of `class` (from nothing, another class, or pages).
    fn move_to_small(&mut self, class: usize) -> io::Result<()> {
        let new_cap = small::CLASSES[class];
        let old_cap = self.capacity();
        if new_cap > old_cap {
            self.budget.try_charge(new_cap - old_cap)?;
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
        debug_assert!(self.len <= new_cap);
        buf.bytes_mut()[..self.len].copy_from_slice(self.as_slice());
        self.budget.record_copy(self.len);
        self.storage = Storage::Small(buf);
        if old_cap > new_cap {
            self.budget.credit(old_cap - new_cap);
        }
        Ok(())
    }

    /// Shrinks the length to `new_len <= len`, releasing what is no longer needed.
    fn shrink(&mut self, new_len: usize) -> io::Result<()> {
        let old_len = self.len;
        let old_cap = self.capacity();
        match &mut self.storage {
            Storage::Empty => {}
            Storage::Small(buf) => {
                if new_len == 0 {
                    self.storage = Storage::Empty;
                    self.budget.credit(old_cap);
                } else {
                    buf.bytes_mut()[new_len..old_len].fill(0);
                }
            }
            Storage::Pages(map) => {
                // Shrink back into a size class only well below its top, so a
                // file hovering around 2 KiB does not move back and forth.
                if new_len == 0 {
                    self.storage = Storage::Empty;
                    self.budget.credit(old_cap);
                } else if new_len <= SMALL_MAX / 2 {
                    self.len = new_len;
                    let class =
                        small::class_for(new_len).expect("new_len <= SMALL_MAX has a class");
                    if let Err(e) = self.move_to_small(class) {
                        self.len = old_len;
                        return Err(e);
                    }
                } else {
                    let new_cap = page_round_up(new_len)?;
                    if new_cap < old_cap {
                        map.remap(new_cap)?;
                        self.budget.credit(old_cap - new_cap);
                    }
                    map.bytes_mut()[new_len..old_len.min(new_cap)].fill(0);
                }
            }
            Storage::Memfd { fd, map } => {
                let new_cap = page_round_up(new_len)?;
                if new_cap < old_cap {
                    // Shrinking the file frees its pages past the new end. It
                    // goes first because it is the step that can fail (a
                    // sealed memfd); nothing touches the mapping's tail
                    // between the two calls, as we hold `&mut self`.
                    sys::ftruncate(fd.as_fd(), new_cap)?;
                    match map {
                        Some(m) if new_cap > 0 => {
                            if let Err(e) = m.remap(new_cap) {
                                // Give the file its size back so the mapping stays whole.
                                let _ = sys::ftruncate(fd.as_fd(), old_cap);
                                return Err(e);
                            }
                        }
                        _ => *map = None,
                    }
                    self.budget.credit(old_cap - new_cap);
                }
                if let Some(m) = map {
                    m.bytes_mut()[new_len..old_len.min(new_cap)].fill(0);
                }
            }
        }
        self.len = new_len;
        Ok(())
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        self.budget.credit(self.capacity());
    }
}
