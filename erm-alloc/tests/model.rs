//! Random operation sequences on a region give the same bytes as a `Vec<u8>` model.

use crate::{BACKINGS, Backing, region};
use erm_alloc::{MemoryBudget, Region, RegionKind, page_size};
use proptest::prelude::*;
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Op {
    WriteAt { offset: usize, len: usize, byte: u8 },
    Resize(usize),
    Release { start: usize, end: usize },
    Reserve(usize),
}

/// Sizes clustered where behaviour changes: inside size classes, around the
/// small/page boundary, around page boundaries, and a few hundred KiB.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..200,
        1900usize..2200,
        4000usize..4200,
        0usize..300_000
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (size(), 0usize..9000, any::<u8>()).prop_map(|(offset, len, byte)| Op::WriteAt { offset, len, byte }),
        2 => size().prop_map(Op::Resize),
        1 => (size(), size()).prop_map(|(a, b)| Op::Release { start: a.min(b), end: a.max(b) }),
        1 => (0usize..100_000).prop_map(Op::Reserve),
    ]
}

fn apply(region: &mut Region, model: &mut Vec<u8>, op: &Op) {
    match *op {
        Op::WriteAt { offset, len, byte } => {
            let data = vec![byte; len];
            region.write_at(offset, &data).expect("unlimited budget");
            if len > 0 {
                if model.len() < offset + len {
                    model.resize(offset + len, 0);
                }
                model[offset..offset + len].copy_from_slice(&data);
            }
        }
        Op::Resize(n) => {
            region.resize(n).expect("unlimited budget");
            model.resize(n, 0);
        }
        Op::Release { start, end } => match region.release(start..end) {
            Ok(released) => {
                assert!(end <= model.len());
                let page = page_size();
                let (s, e) = (start.div_ceil(page) * page, end / page * page);
                if matches!(region.kind(), RegionKind::Pages | RegionKind::Memfd) && s < e {
                    assert_eq!(released, e - s);
                    model[s..e].fill(0);
                } else {
                    assert_eq!(released, 0);
                }
            }
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
                assert!(end > model.len(), "only out-of-bounds releases fail");
            }
        },
        Op::Reserve(n) => {
            let cap = region.capacity();
            region.reserve(n).expect("unlimited budget");
            assert!(region.capacity() >= (model.len() + n).max(cap.min(model.len() + n)));
        }
    }
}

fn check_invariants(region: &Region, model: &[u8], budget: &MemoryBudget) {
    assert_eq!(region.len(), model.len());
    assert!(region.as_slice() == model, "contents differ from the model");
    assert!(region.capacity() >= region.len());
    match region.kind() {
        RegionKind::Empty => assert_eq!(region.capacity(), 0),
        RegionKind::Small => assert!([64, 128, 256, 512, 1024, 2048].contains(&region.capacity())),
        RegionKind::Pages | RegionKind::Memfd => assert_eq!(region.capacity() % page_size(), 0),
    }
    if let Some(fd) = region.memfd() {
        let stat = memfd_size(fd);
        assert_eq!(
            stat,
            region.capacity() as u64,
            "the memfd is exactly the capacity long"
        );
    }
    assert_eq!(
        budget.used(),
        region.capacity(),
        "the budget equals the live capacity"
    );
}

fn memfd_size(fd: std::os::fd::BorrowedFd<'_>) -> u64 {
    // std can stat a borrowed fd through a duplicate File without unsafe.
    let file = std::fs::File::from(fd.try_clone_to_owned().expect("dup"));
    file.metadata().expect("fstat").len()
}

fn run(backing: Backing, ops: &[Op]) {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut region = region(backing, &budget);
    let mut model = Vec::new();
    for op in ops {
        apply(&mut region, &mut model, op);
        check_invariants(&region, &model, &budget);
    }
    drop(region);
    assert_eq!(budget.used(), 0, "dropping the region credits everything");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn region_matches_vec_model(ops in prop::collection::vec(op(), 1..40)) {
        for backing in BACKINGS {
            run(backing, &ops);
        }
    }
}

#[test]
fn budget_is_the_sum_of_live_capacities() {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut regions: Vec<Region> = (0..50).map(|_| Region::new(&budget)).collect();
    for (i, r) in regions.iter_mut().enumerate() {
        r.resize(i * 997).expect("unlimited budget");
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
