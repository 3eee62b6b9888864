//! Page-granular memory for ERMFS: regions that grow and shrink without copying or fragmenting.
//!
//! A file's bytes live in a [`Region`]. Small contents (up to 2 KiB) sit in a
//! slot of a size class carved from shared 64 KiB slabs, so a 10-byte file
//! costs 64 bytes. Larger contents get their own anonymous mapping (or a
//! memfd's pages), reserved with `MAP_NORESERVE` and grown and shrunk with
//! `mremap`: the kernel moves page tables, never bytes, so growth copies
//! nothing and, since every large buffer is its own mapping, freeing or
//! shrinking one gives its pages straight back to the OS instead of leaving
//! holes in a heap.
//!
//! Regions are sparse: only *data pages* (written, or committed for a bulk
//! writer or a reservation) are charged to the shared [`MemoryBudget`],
//! which can refuse them past a limit with `ENOSPC`. Holes cost nothing: a
//! region's length may reach `i64::MAX` ([`MAX_LEN`]); its mapping reaches
//! the length up to [`MAP_AHEAD_MAX`] (64 GiB, address space only) and past
//! that only the last data page, the rest reading as zeros.
//!
//! Provided:
//! - [`Region`]: a length and its data pages, with
//!   [`write_at`](Region::write_at), [`read_at`](Region::read_at),
//!   [`resize`](Region::resize), [`commit`](Region::commit) and
//!   [`as_mut_range`](Region::as_mut_range) (fill a range in place),
//!   [`reserve`](Region::reserve) (fallocate), [`release`](Region::release)
//!   (punch a hole, e.g. once a block is compressed), the queries
//!   [`data_bytes`](Region::data_bytes), [`seek_data`](Region::seek_data),
//!   [`seek_hole`](Region::seek_hole) and [`data_extents`](Region::data_extents),
//!   and slice views of the mapped prefix; anonymous or memfd-backed
//!   ([`Region::new_memfd`]);
//! - [`MemoryBudget`] and [`BudgetStats`]: the shared account, its optional
//!   limit, its peak, and the count of bytes copied internally;
//! - [`page_size`], and [`resident_bytes`]: what the kernel says this process
//!   holds in RAM, the figure tests, demos and benchmarks check against.
//!
//! # Limitations
//! - Linux only (`mremap`, `memfd_create`, `MADV_DONTNEED`, `MAP_NORESERVE`).
//! - Size classes are shared by the whole process and guarded by one mutex per
//!   class; slab overhead (free slots of partly used slabs) is not charged to
//!   any budget.
//! - Data has page granularity: a byte written in a hole makes its whole
//!   page data. Only the data needs address space, but all of it: a write
//!   past what the process can map (hundreds of TiB) fails with `EFBIG`.
//! - [`Region::as_slice`] covers the mapped prefix only: a region grown by
//!   `resize` past [`MAP_AHEAD_MAX`] beyond its data has a virtual tail that
//!   only [`Region::read_at`] and the queries see. [`Region::as_mut_slice`]
//!   commits the whole length (charging it even past the limit).
//! - Committed pages never written are data (as `st_blocks` counts them on
//!   tmpfs), though tmpfs's `SEEK_DATA` skips fallocated pages never written.
//! - A region is not internally synchronized: share it behind the caller's lock.

#![deny(unsafe_code)]

mod budget;
mod extents;
#[cfg(test)]
mod model_tests;
mod region;
mod small;
mod sync;
mod sys;

pub use budget::{BudgetStats, MemoryBudget, Reclaim};
pub use region::{DataExtents, MAP_AHEAD_MAX, MAX_LEN, Region, RegionKind, Synced};

/// The size of a memory page on this machine, in bytes (usually 4096).
pub fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(sys::page_size)
}

/// Gives the C heap's free pages back to the OS; `true` if any went.
///
/// Small heap blocks freed by many threads (a closed file's compressed
/// stream, an inode) go back to the allocator's arenas, not to the OS:
/// glibc returns an arena's pages only from its top, so after a million
/// small frees scattered over an arena its RSS stays put. A store that has
/// just freed megabytes of such blocks calls this (glibc's `malloc_trim`),
/// which also releases whole free pages in the middle of every arena. It
/// walks every arena's free lists under the arena's lock, so callers
/// rate-limit it (ermfs: once per a few MiB freed). A no-op with other C
/// libraries.
pub fn trim_heap() -> bool {
    sys::trim_heap()
}

/// The process's resident set in bytes, as the kernel counts it
/// (`/proc/self/statm`, second field, times the page size): the figure that
/// says whether memory really went back to the OS, not just out of a counter.
pub fn resident_bytes() -> std::io::Result<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "unexpected /proc/self/statm",
            )
        })?;
    Ok(pages * page_size())
}
