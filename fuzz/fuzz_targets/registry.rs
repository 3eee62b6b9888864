//! Fuzz target `registry`: bytes decode into an operation sequence run on
//! both backends and on a `HashMap` model; every result must agree.

#![no_main]

use erm_registry::{AnyRegistry, Backend, Config, InsertError, Registry};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::Arc;

const MAX_LEN: usize = 12;

/// The fuzzed key: a small group number and a byte string that owns heap
/// memory (empty, short, or long), so moves and drops of keys are checked.
type Key = (u8, Vec<u8>);

/// A key from two bytes: a group and the shape of its byte string.
fn key(group: u8, shape: u8) -> Key {
    let bytes: Vec<u8> = match shape % 8 {
        0 => Vec::new(),
        1 => vec![b'x'; 24 + usize::from(shape >> 3)],
        n => format!("k{}", (shape >> 3) ^ n).into_bytes(),
    };
    (group % 4, bytes)
}

fn check(map: &dyn Registry<Key, u8>, data: &[u8]) {
    let mut model: HashMap<Key, u8> = HashMap::new();
    for op in data.chunks_exact(4) {
        let k = key(op[1], op[2]);
        let v = op[3];
        match op[0] % 7 {
            0 => assert_eq!(map.get(&k).as_deref(), model.get(&k)),
            1 | 2 => match map.insert_if_absent(k.clone(), Arc::new(v)) {
                Ok(()) => {
                    assert!(model.len() < MAX_LEN);
                    assert!(model.insert(k, v).is_none());
                }
                Err(InsertError::Occupied(old)) => assert_eq!(Some(&*old), model.get(&k)),
                Err(InsertError::Full(back)) => {
                    assert_eq!(*back, v);
                    assert!(model.len() >= MAX_LEN && !model.contains_key(&k));
                }
            },
            3 => {
                let expected = model.get_mut(&k).map(|slot| std::mem::replace(slot, v));
                assert_eq!(map.replace(&k, Arc::new(v)).as_deref(), expected.as_ref());
            }
            4 => assert_eq!(map.remove(&k).as_deref(), model.remove(&k).as_ref()),
            5 => {
                let current = map.get(&k);
                let expected = current.clone().unwrap_or_else(|| Arc::new(v));
                assert_eq!(map.remove_if(&k, &expected), current.is_some());
                model.remove(&k);
            }
            _ => {
                let mut seen = HashMap::new();
                map.for_each(&mut |k, v| assert!(seen.insert(k.clone(), **v).is_none()));
                assert_eq!(seen, model);
            }
        }
        assert_eq!(map.len(), model.len());
    }
}

fuzz_target!(|data: &[u8]| {
    for backend in [Backend::Locked, Backend::Lockless] {
        let map = AnyRegistry::new(
            backend,
            Config {
                initial_capacity: 1,
                max_len: MAX_LEN,
            },
        );
        check(&map, data);
    }
});
