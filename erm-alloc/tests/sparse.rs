//! Holes cost nothing: huge lengths, far writes, commits, punched holes and
//! the queries over them, on both backings.

use crate::{BACKINGS, region};
use erm_alloc::{MAX_LEN, MemoryBudget, Region, RegionKind, page_size};
use std::sync::Arc;

const TIB: usize = 1 << 40;

fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().expect("errors carry an errno")
}

#[test]
fn resize_to_i64_max_costs_nothing_and_reads_zeros() {
    for backing in BACKINGS {
        let budget = Arc::new(MemoryBudget::unlimited());
        let mut r = region(backing, &budget);
        r.resize(i64::MAX as usize).expect("a hole maps nothing");
        assert_eq!(r.len(), MAX_LEN);
        assert_eq!((budget.used(), r.data_bytes(), r.mapped_len()), (0, 0, 0));
        let mut buf = [7u8; 100];
        assert_eq!(r.read_at(MAX_LEN - 50, &mut buf), 50);
        assert!(buf[..50].iter().all(|&b| b == 0) && buf[50..].iter().all(|&b| b == 7));
        assert_eq!(errno(r.seek_data(0).unwrap_err()), libc::ENXIO);
        assert_eq!(r.seek_hole(12345).expect("hole"), 12345);
        assert_eq!(errno(r.seek_hole(MAX_LEN).unwrap_err()), libc::ENXIO);
        assert_eq!(r.data_extents().count(), 0);
        assert_eq!(errno(r.resize(MAX_LEN + 1).unwrap_err()), libc::EFBIG);
        r.resize(0).expect("shrink");
        assert_eq!(budget.used(), 0);
    }
}

#[test]
fn a_page_far_away_costs_a_page() {
    let page = page_size();
    for at in [TIB, 34_000_000_000] {
        for backing in BACKINGS {
            let budget = Arc::new(MemoryBudget::unlimited());
            let mut r = region(backing, &budget);
            r.write_at(at, &[9; 4096]).expect("sparse write");
            let first = at / page * page;
            let pages = (at + 4096).div_ceil(page) - at / page;
            assert_eq!(r.len(), at + 4096);
            assert_eq!(budget.used(), pages * page, "{backing:?} at {at}");
            assert_eq!(r.data_bytes(), pages * page);
            assert_eq!(r.seek_data(0).expect("data"), first);
            assert_eq!(r.seek_data(at + 1).expect("data"), at + 1);
            assert_eq!(r.seek_hole(0).expect("hole"), 0);
            assert_eq!(
                r.seek_hole(first).expect("hole"),
                at + 4096,
                "EOF is a hole"
            );
            assert_eq!(r.data_extents().collect::<Vec<_>>(), vec![first..at + 4096]);
            let mut buf = [1u8; 8192];
            assert_eq!(r.read_at(at - 4096, &mut buf), 8192);
            assert!(buf[..4096].iter().all(|&b| b == 0));
            assert!(buf[4096..].iter().all(|&b| b == 9));
            // Past the data: a virtual tail.
            r.resize(MAX_LEN).expect("grow");
            assert_eq!(budget.used(), pages * page);
            assert_eq!(r.read_at(at + 8192, &mut buf), 8192);
            assert!(buf.iter().all(|&b| b == 0));
            assert_eq!(r.seek_hole(at).expect("hole"), first + pages * page);
            assert_eq!(errno(r.seek_data(at + 4096 * 3).unwrap_err()), libc::ENXIO);
            // Punching the page out credits it.
            assert_eq!(
                r.release(first..first + pages * page).expect("punch"),
                pages * page
            );
            assert_eq!((budget.used(), r.data_bytes()), (0, 0));
            assert_eq!(errno(r.seek_data(0).unwrap_err()), libc::ENXIO);
        }
    }
}

#[test]
fn punching_holes_credits_the_data_pages() {
    let page = page_size();
    for backing in BACKINGS {
        let budget = Arc::new(MemoryBudget::unlimited());
        let mut r = region(backing, &budget);
        r.write_at(0, &vec![5; 10 * page]).expect("write");
        assert_eq!(budget.used(), 10 * page);
        // Whole pages inside only: 2..5.
        assert_eq!(r.release(page + 1..5 * page + 10).expect("punch"), 3 * page);
        assert_eq!(budget.used(), 7 * page);
        assert_eq!(r.seek_hole(0).expect("hole"), 2 * page);
        assert_eq!(r.seek_data(2 * page).expect("data"), 5 * page);
        assert_eq!(
            r.data_extents().collect::<Vec<_>>(),
            vec![0..2 * page, 5 * page..10 * page]
        );
        // Punching again gives back nothing more.
        assert_eq!(r.release(2 * page..5 * page).expect("punch"), 3 * page);
        assert_eq!(budget.used(), 7 * page);
        let mut buf = vec![1u8; 4 * page];
        r.read_at(page + 1, &mut buf);
        assert!(buf[..page - 1].iter().all(|&b| b == 5));
        assert!(buf[page - 1..4 * page - 1].iter().all(|&b| b == 0));
        // Writing into the hole charges it again.
        r.write_at(3 * page, b"x").expect("write");
        assert_eq!(budget.used(), 8 * page);
    }
}

#[test]
fn commit_charges_new_pages_once_and_refuses_with_nothing_changed() {
    let page = page_size();
    for backing in BACKINGS {
        let budget = Arc::new(MemoryBudget::with_limit(8 * page));
        let mut r = region(backing, &budget);
        r.resize(100 * page).expect("a hole is free");
        r.commit(3 * page + 5..5 * page).expect("commit");
        assert_eq!(budget.used(), 2 * page);
        r.commit(3 * page..6 * page).expect("commit");
        assert_eq!(budget.used(), 3 * page, "only the new page is charged");
        let err = r.commit(0..20 * page).unwrap_err();
        assert_eq!(errno(err), libc::ENOSPC);
        assert_eq!(
            (budget.used(), r.data_bytes(), r.len()),
            (3 * page, 3 * page, 100 * page)
        );
        assert_eq!(r.seek_data(0).expect("data"), 3 * page);
        // Bulk writers fill committed pages through a view of just that range.
        let dst = r.as_mut_range(10 * page..12 * page).expect("fits");
        dst.fill(4);
        assert_eq!(budget.used(), 5 * page);
        assert_eq!(errno(r.try_as_mut_slice().unwrap_err()), libc::ENOSPC);
        assert_eq!(budget.used(), 5 * page);
        let mut buf = [0u8; 2];
        r.read_at(12 * page - 1, &mut buf);
        assert_eq!(buf, [4, 0]);
        // A write past the limit fails whole.
        let err = r.write_at(50 * page, &vec![1; 4 * page]).unwrap_err();
        assert_eq!(errno(err), libc::ENOSPC);
        assert_eq!((budget.used(), r.len()), (5 * page, 100 * page));
        assert_eq!(errno(r.seek_data(13 * page).unwrap_err()), libc::ENXIO);
    }
}

#[test]
fn reserve_commits_past_the_end_and_truncation_drops_it() {
    let page = page_size();
    for backing in BACKINGS {
        let budget = Arc::new(MemoryBudget::unlimited());
        let mut r = region(backing, &budget);
        r.write_at(0, &[1; 5000]).expect("write");
        r.reserve(3 * page).expect("reserve");
        assert_eq!(r.len(), 5000);
        let data = (5000 + 3 * page).div_ceil(page) * page;
        assert_eq!((r.data_bytes(), budget.used()), (data, data));
        assert_eq!(r.seek_hole(0).expect("hole"), 5000, "past len is not seen");
        r.resize(2 * page).expect("grow into the reserve");
        assert_eq!(budget.used(), data, "the reserve is already data");
        r.resize(page + 1).expect("shrink");
        assert_eq!(budget.used(), 2 * page);
        let mut buf = [9u8; 2];
        r.resize(page + 3).expect("grow");
        r.read_at(page, &mut buf);
        assert_eq!(buf, [1, 0], "the cut bytes read as zeros");
    }
}

#[test]
fn small_regions_and_holes() {
    let page = page_size();
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut r = Region::new(&budget);
    // A truncated-up empty file takes no slot: an uncharged mapping, so
    // `as_slice` covers it.
    r.resize(1000).expect("grow");
    assert_eq!(
        (r.kind(), budget.used(), r.data_bytes()),
        (RegionKind::Pages, 0, 0)
    );
    assert_eq!(r.as_slice(), &[0; 1000][..]);
    r.resize(0).expect("shrink");
    assert_eq!(r.kind(), RegionKind::Empty);
    // A small write takes a slot, reported as one page of data.
    r.write_at(10, b"abc").expect("write");
    assert_eq!(
        (r.kind(), budget.used(), r.data_bytes()),
        (RegionKind::Small, 64, page)
    );
    assert_eq!(r.seek_hole(0).expect("hole"), 13);
    // Growing within MAP_AHEAD_MAX moves the slot to page 0 of a mapping.
    r.resize(10 * page).expect("grow");
    assert_eq!((r.kind(), budget.used()), (RegionKind::Pages, page));
    assert_eq!(r.mapped_len(), r.len());
    assert_eq!(r.seek_hole(0).expect("hole"), page);
    // Shrinking below 1 KiB with page 0 data goes back to a slot ...
    r.resize(500).expect("shrink");
    assert_eq!((r.kind(), budget.used()), (RegionKind::Small, 512));
    assert_eq!(&r.as_slice()[10..13], b"abc");
    // ... which a virtual length keeps.
    r.resize(3 * TIB).expect("a virtual tail keeps the slot");
    assert_eq!(
        (r.kind(), budget.used(), r.mapped_len()),
        (RegionKind::Small, 512, 512)
    );
    assert_eq!(r.seek_hole(0).expect("hole"), page);
    assert_eq!(r.data_extents().collect::<Vec<_>>(), vec![0..512]);
    // A far write moves the slot to page 0 of a mapping.
    r.write_at(TIB, b"far").expect("write");
    assert_eq!((r.kind(), budget.used()), (RegionKind::Pages, 2 * page));
    let mut buf = [0u8; 3];
    r.read_at(10, &mut buf);
    assert_eq!(&buf, b"abc");
    // Pages whose first page is a hole stay pages, uncharged.
    assert_eq!(r.release(0..page).expect("punch"), page);
    r.resize(100).expect("shrink");
    assert_eq!(
        (r.kind(), budget.used(), r.len()),
        (RegionKind::Pages, 0, 100)
    );
    assert_eq!(r.as_slice(), &[0; 100][..]);
    // Punching a slot's page out of a virtual length frees it.
    let mut s = Region::new(&budget);
    s.resize(MAX_LEN).expect("grow");
    s.write_at(0, b"slot").expect("write");
    assert_eq!(s.kind(), RegionKind::Small);
    assert_eq!(s.release(0..page).expect("punch"), page);
    assert_eq!((s.kind(), budget.used()), (RegionKind::Empty, 0));
}

#[test]
fn as_mut_slice_commits_everything() {
    let page = page_size();
    let budget = Arc::new(MemoryBudget::with_limit(4 * page));
    let mut r = Region::new(&budget);
    r.resize(8 * page).expect("grow");
    assert_eq!(
        (r.mapped_len(), budget.used()),
        (8 * page, 0),
        "mapped, not charged"
    );
    let all = r.as_mut_slice();
    assert_eq!(all.len(), 8 * page);
    all[8 * page - 1] = 1;
    assert_eq!(r.data_bytes(), 8 * page);
    assert_eq!(
        budget.used(),
        8 * page,
        "charged past the limit: it cannot refuse"
    );
    assert_eq!(errno(r.write_at(9 * page, b"x").unwrap_err()), libc::ENOSPC);
    assert_eq!(r.seek_hole(0).expect("hole"), 8 * page);
    drop(r);
    assert_eq!(budget.used(), 0);
}

#[test]
fn dense_appends_stay_one_extent() {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut r = Region::new(&budget);
    for i in 0..10_000u32 {
        r.extend_from_slice(&i.to_le_bytes().repeat(100))
            .expect("append");
    }
    assert_eq!(r.data_extents().collect::<Vec<_>>(), vec![0..r.len()]);
    assert_eq!(r.mapped_len(), r.len());
    assert_eq!(budget.used(), r.len().div_ceil(page_size()) * page_size());
}
