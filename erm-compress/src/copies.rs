//! The copy counter: bytes moved by `memcpy` besides the deflate/inflate passes.
//!
//! The copy budget (ARCHITECTURE.md) allows no copy on these paths; tests read this counter to
//! check that the main paths (compress, inflate into the caller's buffer,
//! whole-block random access) copy nothing. It is per thread, so tests that
//! run side by side in one process do not see each other's copies.

use std::cell::Cell;

thread_local! {
    static COPIED: Cell<u64> = const { Cell::new(0) };
}

/// Bytes this thread has copied inside erm-compress besides the deflate and
/// inflate passes, since the thread started.
///
/// Non-zero only on paths that cannot avoid it: a [`read_at`] range that
/// starts or ends inside a block (the block is inflated whole, to check its
/// CRC, then the asked-for part is copied out), and the multicore compressor,
/// which appends each other thread's members after the first thread's.
///
/// [`read_at`]: crate::Decompressor::read_at
pub fn copied_bytes() -> u64 {
    COPIED.with(Cell::get)
}

/// Adds `n` to this thread's counter.
pub(crate) fn count(n: usize) {
    COPIED.with(|c| c.set(c.get() + n as u64));
}
