//! Miri-sized unit tests of the lockless backend (and its reclamation).

#![allow(clippy::unwrap_used)]

use crate::{Config, InsertError, LocklessRegistry, Registry};
use std::sync::Arc;
use std::thread;

fn small() -> LocklessRegistry<u64, u64> {
    LocklessRegistry::with_config(Config {
        initial_capacity: 4,
        max_len: 1000,
    })
}

#[test]
fn basic_operations_and_growth() {
    let map = small();
    let n = if cfg!(miri) { 40 } else { 400 };
    for i in 0..n {
        assert!(map.insert_if_absent(i, Arc::new(i * 10)).is_ok());
    }
    assert!(
        matches!(map.insert_if_absent(3, Arc::new(0)), Err(InsertError::Occupied(v)) if *v == 30)
    );
    assert_eq!(map.len(), n as usize);
    for i in 0..n {
        assert_eq!(map.get(&i).as_deref(), Some(&(i * 10)));
    }
    assert_eq!(map.replace(&5, Arc::new(55)).as_deref(), Some(&50));
    assert_eq!(map.get(&5).as_deref(), Some(&55));
    assert!(map.replace(&n, Arc::new(0)).is_none());
    let current = map.get(&6).unwrap();
    assert!(!map.remove_if(&6, &Arc::new(60)));
    assert!(map.remove_if(&6, &current));
    assert!(map.get(&6).is_none());
    assert_eq!(map.remove(&7).as_deref(), Some(&70));
    assert!(map.remove(&7).is_none());
    assert!(map.insert_if_absent(7, Arc::new(77)).is_ok());
    let mut seen = 0;
    map.for_each(&mut |_, _| seen += 1);
    assert_eq!(seen, map.len());
}

#[test]
fn churn_reuses_space_and_frees_everything() {
    let map = small();
    let value = Arc::new(1u64);
    let rounds = if cfg!(miri) { 60 } else { 3000 };
    for i in 0..rounds {
        map.insert_if_absent(i, Arc::clone(&value)).unwrap();
        assert!(map.remove(&i).is_some());
    }
    assert_eq!(map.len(), 0);
    drop(map);
    assert_eq!(Arc::strong_count(&value), 1);
}

#[test]
fn full_is_an_error_not_a_panic() {
    let map = LocklessRegistry::with_config(Config {
        initial_capacity: 4,
        max_len: 3,
    });
    for i in 0..3u8 {
        map.insert_if_absent(i, Arc::new(i)).unwrap();
    }
    let err = map.insert_if_absent(9, Arc::new(9)).unwrap_err();
    assert_eq!(err.errno(), libc::ENOSPC);
    assert!(matches!(err, InsertError::Full(v) if *v == 9));
}

#[test]
fn threads_race_on_shared_keys() {
    let map = Arc::new(small());
    let value = Arc::new(0u64);
    let per = if cfg!(miri) { 8 } else { 2000 };
    let handles: Vec<_> = (0..2u64)
        .map(|t| {
            let map = Arc::clone(&map);
            let value = Arc::clone(&value);
            thread::spawn(move || {
                for i in 0..per {
                    let key = (i + t) % 6;
                    match (i + t) % 4 {
                        0 => drop(map.insert_if_absent(key, Arc::clone(&value))),
                        1 => drop(map.get(&key)),
                        2 => drop(map.replace(&key, Arc::clone(&value))),
                        _ => drop(map.remove(&key)),
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut count = 0;
    map.for_each(&mut |_, _| count += 1);
    assert_eq!(count, map.len());
    drop(map);
    assert_eq!(Arc::strong_count(&value), 1);
}

#[test]
#[cfg_attr(miri, ignore = "allocates an 8 MiB table: too slow under Miri")]
fn big_table_with_huge_page_advice_works() {
    // Large enough (8 MiB of slots) for the huge-page advice to apply.
    let map = LocklessRegistry::with_config(Config {
        initial_capacity: 200_000,
        max_len: 1 << 20,
    });
    for i in 0..1000u64 {
        map.insert_if_absent(i, Arc::new(i)).unwrap();
    }
    for i in 0..1000u64 {
        assert_eq!(map.get(&i).as_deref(), Some(&i));
    }
    assert!(map.get(&1000).is_none());
}

/// The key sits inline in its slot next to one value word: a 32-byte key
/// (ermfs's is one) makes a 40-byte slot, with no padding to a cache line.
#[test]
#[cfg(target_pointer_width = "64")]
fn slots_hold_the_key_inline_unpadded() {
    assert_eq!(LocklessRegistry::<[u64; 4], u8>::SLOT_BYTES, 40);
    assert_eq!(LocklessRegistry::<u64, u8>::SLOT_BYTES, 16);
    assert_eq!(LocklessRegistry::<(u64, [u8; 24]), u8>::SLOT_BYTES, 40);
}

/// Keys that own heap memory survive resizes (moved bitwise) and are
/// dropped exactly once, whether removed, replaced around or left in place:
/// Miri reports a leak or a double free otherwise.
#[test]
fn heap_keys_are_moved_and_dropped_once() {
    let map: LocklessRegistry<String, u64> = LocklessRegistry::with_config(Config {
        initial_capacity: 4,
        max_len: 1000,
    });
    let n = if cfg!(miri) { 24 } else { 300 };
    let key = |i: u64| format!("key number {i} with a heap buffer");
    for i in 0..n {
        map.insert_if_absent(key(i), Arc::new(i)).unwrap();
        if i % 3 == 0 {
            assert_eq!(map.remove(&key(i)).as_deref(), Some(&i));
        }
    }
    for i in (0..n).step_by(3) {
        map.insert_if_absent(key(i), Arc::new(i + 1)).unwrap();
    }
    for i in 0..n {
        let expected = if i % 3 == 0 { i + 1 } else { i };
        assert_eq!(map.get(&key(i)).as_deref(), Some(&expected));
    }
    let mut seen = 0;
    map.for_each(&mut |k, v| {
        assert!(k.starts_with("key number ") && **v <= n);
        seen += 1;
    });
    assert_eq!(seen, n as usize);
}
