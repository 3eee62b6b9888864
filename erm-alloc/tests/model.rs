//! Region behaviour against simple expectations: charges, copies, moves
//! between storages. (The random model test, which also compares holes with
//! the kernel's tmpfs, lives in the crate: `src/model_tests.rs`.)

use crate::{BACKINGS, region};
use erm_alloc::{MemoryBudget, Region, RegionKind};
use std::sync::Arc;

#[test]
fn budget_is_the_sum_of_live_capacities() {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut regions: Vec<Region> = (0..50).map(|_| Region::new(&budget)).collect();
    for (i, r) in regions.iter_mut().enumerate() {
        r.resize(i * 997).expect("unlimited budget");
        r.write_at(i * 31, &[1; 3000]).expect("unlimited budget");
    }
    let sum: usize = regions.iter().map(Region::capacity).sum();
    assert_eq!(budget.used(), sum);
    regions.truncate(10);
    let sum: usize = regions.iter().map(Region::capacity).sum();
    assert_eq!(budget.used(), sum);
}

#[test]
fn ten_bytes_cost_a_small_slot_not_a_page() {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut r = Region::new(&budget);
    r.write_at(0, b"0123456789").expect("write");
    assert_eq!(r.kind(), RegionKind::Small);
    assert_eq!(r.capacity(), 64);
}

#[test]
fn growing_pages_copies_nothing_and_small_moves_are_counted() {
    for backing in BACKINGS {
        let budget = Arc::new(MemoryBudget::unlimited());
        let mut r = region(backing, &budget);
        let chunk = vec![7u8; 4096];
        for _ in 0..2048 {
            r.extend_from_slice(&chunk).expect("append");
        }
        assert_eq!(r.len(), 8 << 20);
        assert_eq!(
            budget.copied_bytes(),
            0,
            "{backing:?}: page growth must not copy"
        );
    }
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut r = Region::new(&budget);
    r.write_at(0, &[1; 100]).expect("write");
    r.write_at(100, &[2; 5000]).expect("write");
    assert_eq!(
        budget.copied_bytes(),
        100,
        "moving 100 bytes from a slot to pages copies them once"
    );
}

#[test]
fn shrinking_far_below_a_page_moves_back_to_a_slot() {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut r = Region::new(&budget);
    r.write_at(0, &[9; 10_000]).expect("write");
    assert_eq!(r.kind(), RegionKind::Pages);
    r.resize(1500).expect("shrink");
    assert_eq!(
        r.kind(),
        RegionKind::Pages,
        "hysteresis: just under 2 KiB stays in pages"
    );
    r.resize(500).expect("shrink");
    assert_eq!(r.kind(), RegionKind::Small);
    assert_eq!(r.as_slice(), &[9; 500][..]);
    assert_eq!(budget.used(), 512);
}
