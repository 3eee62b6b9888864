//! Page-granular memory for ERMFS: regions that grow and shrink without copying or fragmenting.
//!
//! A file's bytes live in a [`Region`]. Small contents (up to 2 KiB) sit in a
//! slot of a size class carved from shared 64 KiB slabs, so a 10-byte file
//! costs 64 bytes. Larger contents get their own anonymous mapping (or a
//! memfd's pages) that grows and shrinks with `mremap`: the kernel moves page
//! tables, never bytes, so growth copies nothing and, since every large
//! buffer is its own mapping, freeing or shrinking one gives its pages
//! straight back to the OS instead of leaving holes in a heap. Every region
//! charges its capacity to a shared [`MemoryBudget`] that can refuse growth
//! past a limit with `ENOSPC`.
//!
//! Provided:
//! - [`Region`]: `len` initialized bytes in `capacity` reserved bytes, with
//!   [`write_at`](Region::write_at), [`resize`](Region::resize),
//!   [`release`](Region::release) (hand a range's pages back, e.g. once a
//!   block is compressed) and slice views; anonymous or memfd-backed
//!   ([`Region::new_memfd`]);
//! - [`MemoryBudget`] and [`BudgetStats`]: the shared account, its optional
//!   limit, its peak, and the count of bytes copied internally;
//! - [`page_size`], and [`resident_bytes`]: what the kernel says this process
//!   holds in RAM, the figure tests, demos and benchmarks check against.
//!
//! # Limitations
//! - Linux only (`mremap`, `memfd_create`, `MADV_DONTNEED`).
//! - Size classes are shared by the whole process and guarded by one mutex per
//!   class; slab overhead (free slots of partly used slabs) is not charged to
//!   any budget.
//! - A page region's capacity runs ahead of its length by up to 2x (at most
//!   64 MiB) while it grows, and that reserve is charged to the budget; pages
//!   never written cost no RAM. When the budget cannot give the reserve, the
//!   region grows by exactly what is needed instead.
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

pub use budget::{BudgetStats, MemoryBudget};
pub use region::{DataExtents, MAX_LEN, Region, RegionKind};

/// The size of a memory page on this machine, in bytes (usually 4096).
pub fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(sys::page_size)
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
