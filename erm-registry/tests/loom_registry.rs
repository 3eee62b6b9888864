//! Loom models of both backends: each is two threads doing one racy thing.
//!
//! Values carry a loom `UnsafeCell` that their destructor writes: a reader
//! touching a value whose memory was reclaimed too early is reported by
//! loom as a causality violation. Loom does not see std `Arc`'s own
//! counting, so threads hand the `Arc`s they got back to the main thread,
//! which drops them after `join`: then any destructor running concurrently
//! with a reader's access is a real early free.

#![cfg(loom)]
#![allow(clippy::unwrap_used)]

use erm_registry::{AnyRegistry, Backend, Config, InsertError, Registry};
use loom::cell::UnsafeCell;
use loom::thread;
use std::sync::Arc;

/// A value whose destructor writes, so that use after free is a race.
struct Val {
    id: UnsafeCell<u32>,
}

// SAFETY: the cell is only written by the destructor (unique access) and
// read through shared references that outlive no drop.
unsafe impl Sync for Val {}

impl Val {
    fn new(id: u32) -> Arc<Val> {
        Arc::new(Val {
            id: UnsafeCell::new(id),
        })
    }

    fn id(&self) -> u32 {
        // SAFETY: shared read; loom checks it against the destructor's write.
        self.id.with(|p| unsafe { *p })
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: unique access.
        self.id.with_mut(|p| unsafe { *p = u32::MAX });
    }
}

type Map = AnyRegistry<u32, Val>;

/// Looks `key` up and reads the value; the `Arc` goes back to the caller.
fn read(map: &Map, key: u32) -> (Option<u32>, Option<Arc<Val>>) {
    let value = map.get(&key);
    (value.as_ref().map(|v| v.id()), value)
}

/// Runs `body` under loom for each backend on a tiny table.
fn model(body: impl Fn(Arc<Map>) + Sync + Send + Copy + 'static) {
    for backend in [Backend::Locked, Backend::Lockless] {
        let mut builder = loom::model::Builder::new();
        builder.max_branches = 100_000;
        builder.check(move || {
            let map = Arc::new(AnyRegistry::new(
                backend,
                Config {
                    initial_capacity: 4,
                    max_len: 64,
                },
            ));
            body(map);
        });
    }
}

#[test]
fn insert_vs_insert_same_key_one_wins() {
    model(|map| {
        let other = Arc::clone(&map);
        let t = thread::spawn(move || other.insert_if_absent(1, Val::new(1)).is_ok());
        let mine = match map.insert_if_absent(1, Val::new(2)) {
            Ok(()) => true,
            Err(InsertError::Occupied(v)) => {
                assert_eq!(v.id(), 1);
                false
            }
            Err(InsertError::Full(_)) => panic!("not full"),
        };
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs, "exactly one insert wins");
        let expected = if mine { 2 } else { 1 };
        assert_eq!(map.get(&1).unwrap().id(), expected);
        assert_eq!(map.len(), 1);
    });
}

#[test]
fn get_vs_remove() {
    model(|map| {
        map.insert_if_absent(1, Val::new(7)).unwrap();
        let other = Arc::clone(&map);
        let t = thread::spawn(move || read(&other, 1));
        let removed = map.remove(&1).unwrap();
        assert_eq!(removed.id(), 7);
        drop(removed);
        // Another write lets the collector free the removed value while
        // the reader may still run.
        map.insert_if_absent(2, Val::new(8)).unwrap();
        let (seen, _keep) = t.join().unwrap();
        assert!(matches!(seen, None | Some(7)));
    });
}

#[test]
fn inspect_vs_remove_never_sees_freed_memory() {
    model(|map| {
        map.insert_if_absent(1, Val::new(7)).unwrap();
        let other = Arc::clone(&map);
        let t = thread::spawn(move || {
            let mut seen = None;
            other.inspect(&1, &mut |v| seen = Some(v.id()));
            seen
        });
        drop(map.remove(&1).unwrap());
        // Another write lets the collector free the removed value while
        // the inspector may still run.
        map.insert_if_absent(2, Val::new(8)).unwrap();
        assert!(matches!(t.join().unwrap(), None | Some(7)));
    });
}

#[test]
fn replace_vs_get_sees_old_or_new() {
    model(|map| {
        map.insert_if_absent(1, Val::new(1)).unwrap();
        let other = Arc::clone(&map);
        let t = thread::spawn(move || read(&other, 1));
        let old = map.replace(&1, Val::new(2)).unwrap();
        assert_eq!(old.id(), 1);
        drop(old);
        drop(map.remove(&1));
        let (seen, _keep) = t.join().unwrap();
        assert!(matches!(seen, Some(1) | Some(2) | None));
    });
}

#[test]
fn replace_never_shows_nothing() {
    model(|map| {
        map.insert_if_absent(1, Val::new(1)).unwrap();
        let other = Arc::clone(&map);
        let t = thread::spawn(move || read(&other, 1));
        let old = map.replace(&1, Val::new(2)).unwrap();
        assert_eq!(old.id(), 1);
        let (seen, _keep) = t.join().unwrap();
        assert!(matches!(seen, Some(1) | Some(2)));
    });
}

#[test]
fn remove_vs_remove_one_wins() {
    model(|map| {
        map.insert_if_absent(1, Val::new(1)).unwrap();
        let other = Arc::clone(&map);
        let t = thread::spawn(move || other.remove(&1));
        let mine = map.remove(&1);
        let theirs = t.join().unwrap();
        assert_eq!(mine.as_ref().or(theirs.as_ref()).map(|v| v.id()), Some(1));
        assert!(mine.is_some() ^ theirs.is_some(), "exactly one remove wins");
        assert!(map.is_empty());
    });
}

#[test]
fn growth_racing_get() {
    model(|map| {
        // A 4-slot table takes 3 keys; the 4th insert resizes.
        for k in 0..3 {
            map.insert_if_absent(k, Val::new(k)).unwrap();
        }
        let other = Arc::clone(&map);
        let t = thread::spawn(move || (read(&other, 0), read(&other, 3)));
        map.insert_if_absent(3, Val::new(3)).unwrap();
        drop(map.remove(&0));
        let ((zero, _keep0), (three, _keep3)) = t.join().unwrap();
        assert!(matches!(zero, Some(0) | None));
        assert!(matches!(three, Some(3) | None));
        assert_eq!(map.len(), 3);
    });
}

#[test]
fn insert_vs_get_same_key() {
    model(|map| {
        let other = Arc::clone(&map);
        let t = thread::spawn(move || read(&other, 1));
        map.insert_if_absent(1, Val::new(1)).unwrap();
        let (seen, _keep) = t.join().unwrap();
        assert!(matches!(seen, None | Some(1)));
        assert_eq!(map.get(&1).unwrap().id(), 1);
    });
}

#[test]
fn insert_vs_insert_other_keys_both_land() {
    model(|map| {
        let other = Arc::clone(&map);
        let t = thread::spawn(move || other.insert_if_absent(1, Val::new(1)).is_ok());
        assert!(map.insert_if_absent(2, Val::new(2)).is_ok());
        assert!(t.join().unwrap());
        assert_eq!(map.get(&1).unwrap().id(), 1);
        assert_eq!(map.get(&2).unwrap().id(), 2);
        assert_eq!(map.len(), 2);
    });
}
