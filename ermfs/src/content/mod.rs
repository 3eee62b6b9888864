//! The content lifecycle: a file's bytes raw, packed or lazily inflated,
//! compression at the last close, the background worker, the memory
//! budget, and the timestamps taken from the store's clock.
//!
//! **Architecture invariant:** knows no names and no descriptors: imports
//! only `types` (checked by `cargo xtask tidy`).

pub(crate) mod background;
pub(crate) mod data;
pub(crate) mod shared;
pub(crate) mod stamps;
