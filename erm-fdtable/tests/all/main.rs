//! Integration tests of erm-fdtable: every behaviour test runs on both
//! backends through [`backends`], so the simple locked table checks the
//! lockless one.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used)]

mod basic;
mod model;
mod stress;

use erm_fdtable::{AnyFdTable, Backend};

/// Both backends, each as a fresh table of `capacity` descriptors.
pub fn backends<V>(capacity: usize) -> [AnyFdTable<V>; 2] {
    [
        AnyFdTable::new(Backend::Locked, capacity),
        AnyFdTable::new(Backend::Lockless, capacity),
    ]
}
