//! Integration tests of erm-registry: every behaviour runs on both backends.

#![cfg(not(loom))]
#![allow(clippy::unwrap_used)]

#[path = "all/behaviour.rs"]
mod behaviour;
#[path = "all/model.rs"]
mod model;
#[path = "all/stress.rs"]
mod stress;

use erm_registry::{AnyRegistry, Backend, Config};

/// Both backends, small enough that tests exercise growth and tombstones.
pub fn backends<K: std::hash::Hash + Eq, V>() -> [AnyRegistry<K, V>; 2] {
    let config = Config {
        initial_capacity: 4,
        max_len: 1 << 20,
    };
    [
        AnyRegistry::new(Backend::Locked, config),
        AnyRegistry::new(Backend::Lockless, config),
    ]
}
