//! erm-alloc's integration tests: one binary, one module per concern.

mod bad_input;
mod model;
mod resident;
mod shared_memfd;
mod sparse;

use erm_alloc::{MemoryBudget, Region};
use std::sync::Arc;

/// The two kinds of backing every behaviour test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backing {
    /// `Region::new`: size classes, then private pages.
    Anonymous,
    /// `Region::new_memfd`: a memfd's shared pages.
    Memfd,
}

/// Every backing, for tests to loop over.
pub const BACKINGS: [Backing; 2] = [Backing::Anonymous, Backing::Memfd];

/// A fresh region of the given backing on `budget`.
pub fn region(backing: Backing, budget: &Arc<MemoryBudget>) -> Region {
    match backing {
        Backing::Anonymous => Region::new(budget),
        Backing::Memfd => {
            Region::new_memfd(budget, "erm-alloc-test").expect("memfd_create works on Linux")
        }
    }
}
