//! Memory given back is really returned to the OS: checked against the kernel's RSS.
//!
//! Figures come from `/proc/self/statm`, so other threads of the same test
//! process can add noise; the margins below are a quarter of the sizes moved,
//! and the tests here take turns (one lock) so they do not measure each other.

use crate::{BACKINGS, region};
use erm_alloc::{MemoryBudget, resident_bytes};
use std::sync::Arc;

const MIB: usize = 1 << 20;

/// Held by each test while it measures.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn shrinking_returns_pages_to_the_os() {
    let _turn = turn();
    for backing in BACKINGS {
        let budget = Arc::new(MemoryBudget::unlimited());
        let mut r = region(backing, &budget);
        let before = resident_bytes().expect("procfs is mounted");
        r.resize(128 * MIB).expect("grow");
        r.as_mut_slice().fill(1); // touch every page
        let grown = resident_bytes().expect("procfs is mounted");
        assert!(
            grown >= before + 96 * MIB,
            "{backing:?}: touching 128 MiB raised RSS by only {}",
            grown - before
        );
        r.resize(MIB).expect("shrink");
        let shrunk = resident_bytes().expect("procfs is mounted");
        assert!(
            shrunk + 96 * MIB <= grown,
            "{backing:?}: shrinking gave back only {}",
            grown - shrunk
        );
        assert!(r.as_slice().iter().all(|&b| b == 1));
    }
}

#[test]
fn release_returns_a_ranges_pages_to_the_os() {
    let _turn = turn();
    for backing in BACKINGS {
        let budget = Arc::new(MemoryBudget::unlimited());
        let mut r = region(backing, &budget);
        r.resize(128 * MIB).expect("grow");
        r.as_mut_slice().fill(2);
        let before = resident_bytes().expect("procfs is mounted");
        // Release block by block, as the compressor does.
        for block in 0..128 {
            let released = r.release(block * MIB..(block + 1) * MIB).expect("release");
            assert_eq!(released, MIB);
        }
        let after = resident_bytes().expect("procfs is mounted");
        assert!(
            after + 96 * MIB <= before,
            "{backing:?}: release gave back only {}",
            before - after
        );
        assert_eq!(r.len(), 128 * MIB, "length and capacity stay");
        assert!(
            r.as_slice()[..4096].iter().all(|&b| b == 0),
            "released pages read as zeros"
        );
    }
}

#[test]
fn dropping_returns_everything() {
    let _turn = turn();
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut r = region(crate::Backing::Anonymous, &budget);
    r.resize(128 * MIB).expect("grow");
    r.as_mut_slice().fill(3);
    let before = resident_bytes().expect("procfs is mounted");
    drop(r);
    let after = resident_bytes().expect("procfs is mounted");
    assert!(
        after + 96 * MIB <= before,
        "drop gave back only {}",
        before - after
    );
    assert_eq!(budget.used(), 0);
}

/// Heap blocks freed around a few live ones stay resident until
/// `trim_heap`, which gives the free pages between them back (glibc).
#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap_returns_free_pages_between_live_blocks() {
    let _turn = turn();
    // 64 MiB of 1 KiB blocks, touched, in this thread's arena; one in 64
    // stays, so no arena top is free and only a trim can give pages back.
    let mut blocks: Vec<Box<[u8]>> = (0..64 * 1024).map(|i| vec![i as u8; 1024].into()).collect();
    let full = resident_bytes().expect("procfs is mounted");
    let mut i = 0;
    blocks.retain(|_| {
        i += 1;
        i % 64 == 0
    });
    let freed = resident_bytes().expect("procfs is mounted");
    erm_alloc::trim_heap();
    let trimmed = resident_bytes().expect("procfs is mounted");
    assert!(
        trimmed + 32 * MIB <= freed.min(full),
        "trim gave back only {} of ~63 MiB freed (RSS full {full}, freed {freed}, trimmed {trimmed})",
        freed.min(full).saturating_sub(trimmed)
    );
    assert_eq!(blocks.len(), 1024);
    assert!(blocks.iter().all(|b| b.len() == 1024));
}
