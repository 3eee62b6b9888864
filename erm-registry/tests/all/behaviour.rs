//! Plain behaviour and bad-input checks, on both backends.

use crate::backends;
use erm_registry::{AnyRegistry, Backend, Config, InsertError, Registry};
use std::io;
use std::sync::Arc;

/// A composite key with heap bytes: `(group, bytes)`. Any `Hash + Eq` key
/// works; this one also checks that keys owning memory are moved and
/// dropped right (short and long byte strings alike).
type Key = (u64, Vec<u8>);

fn key(group: u64, s: &str) -> Key {
    (group, s.as_bytes().to_vec())
}

#[test]
fn composite_keys_differ_by_every_part() {
    for map in backends::<Key, u32>() {
        map.insert_if_absent(key(1, "a"), Arc::new(1)).unwrap();
        map.insert_if_absent(key(2, "a"), Arc::new(2)).unwrap();
        let long = "a".repeat(300);
        map.insert_if_absent(key(1, &long), Arc::new(4)).unwrap();
        let err: io::Error = map
            .insert_if_absent(key(1, "a"), Arc::new(3))
            .unwrap_err()
            .into();
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
        assert_eq!(map.get(&key(1, "a")).as_deref(), Some(&1));
        assert_eq!(map.get(&key(2, "a")).as_deref(), Some(&2));
        assert_eq!(map.get(&key(1, &long)).as_deref(), Some(&4));
        assert!(map.get(&key(3, "a")).is_none());
        assert!(map.get(&key(1, "")).is_none());
        assert_eq!(map.len(), 3);
        assert!(!map.is_empty());
    }
}

#[test]
fn any_key_type_works() {
    for map in backends::<String, u8>() {
        for (i, s) in ["", "x", "a longer string key than most"]
            .iter()
            .enumerate()
        {
            map.insert_if_absent((*s).to_owned(), Arc::new(i as u8))
                .unwrap();
        }
        assert_eq!(map.get(&String::new()).as_deref(), Some(&0));
        assert_eq!(map.len(), 3);
    }
}

#[test]
fn capacity_exhaustion_is_enospc() {
    for backend in [Backend::Locked, Backend::Lockless] {
        let map = AnyRegistry::new(
            backend,
            Config {
                initial_capacity: 1,
                max_len: 10,
            },
        );
        for i in 0..10u32 {
            map.insert_if_absent(i, Arc::new(i)).unwrap();
        }
        let err = map.insert_if_absent(10, Arc::new(10)).unwrap_err();
        assert!(matches!(&err, InsertError::Full(v) if **v == 10));
        assert_eq!(io::Error::from(err).raw_os_error(), Some(libc::ENOSPC));
        // Removing one makes room again; a present key is still EEXIST.
        map.remove(&0).unwrap();
        map.insert_if_absent(10, Arc::new(10)).unwrap();
        assert_eq!(
            map.insert_if_absent(1, Arc::new(1)).unwrap_err().errno(),
            libc::EEXIST
        );
        assert_eq!(map.len(), 10);
    }
}

#[test]
fn replace_and_remove_if_need_the_present_value() {
    for map in backends::<u32, u32>() {
        assert!(map.replace(&1, Arc::new(1)).is_none());
        assert!(map.get(&1).is_none(), "replace never inserts");
        map.insert_if_absent(1, Arc::new(10)).unwrap();
        let old = map.replace(&1, Arc::new(11)).unwrap();
        assert_eq!(*old, 10);
        assert!(!map.remove_if(&1, &old));
        let current = map.get(&1).unwrap();
        assert!(map.remove_if(&1, &current));
        assert!(!map.remove_if(&1, &current));
        assert!(map.is_empty());
    }
}

#[test]
fn values_are_released_when_the_registry_drops() {
    let value = Arc::new(7u32);
    for map in backends::<u32, u32>() {
        for i in 0..500 {
            map.insert_if_absent(i, Arc::clone(&value)).unwrap();
            if i % 3 == 0 {
                map.remove(&i);
            }
            if i % 5 == 0 {
                map.replace(&i, Arc::clone(&value));
            }
        }
        let mut visited = 0;
        map.for_each(&mut |_, v| {
            assert!(Arc::ptr_eq(v, &value));
            visited += 1;
        });
        assert_eq!(visited, map.len());
        drop(map);
        assert_eq!(Arc::strong_count(&value), 1);
    }
}

#[test]
fn default_backend_follows_the_feature() {
    let expected = if cfg!(feature = "lockless") {
        Backend::Lockless
    } else {
        Backend::Locked
    };
    assert_eq!(Backend::default(), expected);
    let map: AnyRegistry<u8, u8> = AnyRegistry::new(Backend::default(), Config::default());
    assert_eq!(map.backend(), expected);
    let boxed: Box<dyn Registry<u8, u8>> = Box::new(erm_registry::DefaultRegistry::<u8, u8>::new());
    assert!(boxed.is_empty());
}

#[test]
fn migrate_between_backends_keeps_every_entry() {
    for from in [Backend::Locked, Backend::Lockless] {
        let map = AnyRegistry::new(from, Config::default());
        let values: Vec<Arc<u32>> = (0..300).map(Arc::new).collect();
        for (i, v) in values.iter().enumerate() {
            map.insert_if_absent(i as u32, Arc::clone(v)).unwrap();
        }
        for to in [Backend::Locked, Backend::Lockless] {
            let moved = map.migrate(to, Config::default()).unwrap();
            assert_eq!(moved.backend(), to);
            assert_eq!(moved.len(), values.len());
            for (i, v) in values.iter().enumerate() {
                assert!(Arc::ptr_eq(&moved.get(&(i as u32)).unwrap(), v));
            }
        }
    }
}
