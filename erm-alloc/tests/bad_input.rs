//! Bad input gives a clear error and changes nothing.

use crate::{BACKINGS, region};
use erm_alloc::{MAX_LEN, MemoryBudget, Region, page_size};
use std::io::ErrorKind;
use std::sync::Arc;

fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().expect("errors carry an errno")
}

#[test]
fn sizes_past_i64_max_are_efbig_and_change_nothing() {
    assert_eq!(MAX_LEN, i64::MAX as usize);
    for backing in BACKINGS {
        let budget = Arc::new(MemoryBudget::unlimited());
        let mut r = region(backing, &budget);
        r.write_at(0, b"keep me").expect("write");
        let cap = r.capacity();
        for len in [MAX_LEN + 1, usize::MAX] {
            assert_eq!(
                errno(r.resize(len).unwrap_err()),
                libc::EFBIG,
                "{backing:?} resize({len})"
            );
            assert_eq!(
                errno(r.reserve(len).unwrap_err()),
                libc::EFBIG,
                "{backing:?} reserve({len})"
            );
            assert_eq!(errno(r.commit(0..len).unwrap_err()), libc::EFBIG);
        }
        assert_eq!(
            errno(r.write_at(usize::MAX, b"x").unwrap_err()),
            libc::EFBIG
        );
        assert_eq!(errno(r.write_at(MAX_LEN, b"x").unwrap_err()), libc::EFBIG);
        // Within MAX_LEN but far beyond the address space: EFBIG too.
        assert_eq!(
            errno(r.write_at(MAX_LEN - 1, b"x").unwrap_err()),
            libc::EFBIG
        );
        assert_eq!(errno(r.write_at(1 << 50, b"x").unwrap_err()), libc::EFBIG);
        assert_eq!(errno(r.reserve(MAX_LEN - 8).unwrap_err()), libc::EFBIG);
        assert_eq!(r.as_slice(), b"keep me");
        assert_eq!((r.len(), r.capacity()), (7, cap));
        assert_eq!(
            budget.used(),
            cap,
            "{backing:?}: a failed growth leaves the budget as it was"
        );
        // A virtual length is fine up to MAX_LEN itself.
        r.resize(MAX_LEN).expect("a hole maps nothing");
        assert_eq!(r.len(), MAX_LEN);
        assert_eq!(budget.used(), cap);
        // The mutable view of a length no address space holds is the mapped prefix.
        assert!(r.as_mut_slice().len() < 1 << 47);
    }
}

#[test]
fn reversed_commits_are_einval() {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut r = Region::new(&budget);
    r.resize(10_000).expect("resize");
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 10..5;
    assert_eq!(errno(r.commit(reversed.clone()).unwrap_err()), libc::EINVAL);
    assert_eq!(errno(r.as_mut_range(reversed).unwrap_err()), libc::EINVAL);
    assert_eq!(errno(r.as_mut_range(0..10_001).unwrap_err()), libc::EINVAL);
    assert_eq!(budget.used(), 0);
}

#[test]
fn zero_length_regions_are_fine() {
    for backing in BACKINGS {
        let budget = Arc::new(MemoryBudget::unlimited());
        let mut r = region(backing, &budget);
        assert!(r.is_empty());
        assert_eq!(r.as_slice(), b"");
        assert_eq!(r.release(0..0).expect("empty release"), 0);
        r.resize(0).expect("resize to zero");
        r.write_at(12345, b"").expect("empty write is a no-op");
        assert_eq!(r.len(), 0);
        assert_eq!(r.read_at(0, &mut [0; 4]), 0);
        assert_eq!(budget.used(), 0);
    }
}

#[test]
fn release_out_of_bounds_is_einval() {
    for backing in BACKINGS {
        let budget = Arc::new(MemoryBudget::unlimited());
        let mut r = region(backing, &budget);
        r.write_at(0, &vec![5; 3 * page_size()]).expect("write");
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 10..5;
        assert_eq!(errno(r.release(reversed).unwrap_err()), libc::EINVAL);
        assert_eq!(
            errno(r.release(0..3 * page_size() + 1).unwrap_err()),
            libc::EINVAL
        );
        assert_eq!(
            errno(r.release(usize::MAX - 1..usize::MAX).unwrap_err()),
            libc::EINVAL
        );
        assert!(
            r.as_slice().iter().all(|&b| b == 5),
            "{backing:?}: nothing released"
        );
    }
}

#[test]
fn growth_past_the_limit_is_enospc_and_changes_nothing() {
    for backing in BACKINGS {
        let limit = 64 * page_size();
        let budget = Arc::new(MemoryBudget::with_limit(limit));
        let mut r = region(backing, &budget);
        r.write_at(0, &[3; 1000]).expect("small write fits");
        let (cap, len) = (r.capacity(), r.len());
        let err = r.write_at(1000, &vec![4; limit]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::StorageFull);
        assert_eq!(errno(err), libc::ENOSPC);
        assert_eq!((r.capacity(), r.len()), (cap, len), "{backing:?}");
        assert_eq!(r.as_slice(), &[3; 1000][..]);
        assert_eq!(budget.used(), cap);
        let err = r.reserve(limit).unwrap_err();
        assert_eq!(errno(err), libc::ENOSPC);
        assert_eq!(errno(r.commit(0..limit + 1).unwrap_err()), libc::ENOSPC);
        assert_eq!((r.capacity(), r.len()), (cap, len), "{backing:?}");
        // Growing the length charges no hole (a slot moves to its page);
        // data up to exactly the limit still fits.
        r.resize(limit).expect("a hole costs nothing");
        assert_eq!(budget.used(), page_size());
        r.commit(0..limit).expect("exactly the limit fits");
        assert_eq!(budget.used(), limit);
        assert_eq!(r.data_bytes(), limit);
        assert_eq!(&r.as_slice()[..1000], &[3; 1000][..]);
    }
}

#[test]
fn other_regions_count_against_the_same_limit() {
    let budget = Arc::new(MemoryBudget::with_limit(16 * page_size()));
    let mut a = Region::new(&budget);
    let mut b = Region::new(&budget);
    a.reserve(10 * page_size()).expect("fits");
    assert_eq!(errno(b.reserve(8 * page_size()).unwrap_err()), libc::ENOSPC);
    b.resize(8 * page_size()).expect("a hole needs no budget");
    drop(a);
    b.reserve(8 * page_size()).expect("fits once a is gone");
}

#[test]
fn memfd_names_are_checked() {
    let budget = Arc::new(MemoryBudget::unlimited());
    assert_eq!(
        errno(Region::new_memfd(&budget, "a\0b").unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        errno(Region::new_memfd(&budget, &"n".repeat(300)).unwrap_err()),
        libc::EINVAL
    );
    Region::new_memfd(&budget, "").expect("an empty name is allowed");
}
