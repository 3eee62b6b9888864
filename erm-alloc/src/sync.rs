//! The atomics this crate uses, named in one place.
//!
//! erm-alloc has no lock-free data structure: the budget is a single counter
//! updated with `fetch_update`, and the size-class pool uses one plain mutex
//! per class. So there is nothing for loom to explore here, and the crate is
//! not built under `cfg(loom)`; the shim exists so that a later lock-free
//! free list would slot in the same way as in the table crates.

pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
pub(crate) use std::sync::{Mutex, MutexGuard};
