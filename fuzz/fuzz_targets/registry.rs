//! Fuzz target `registry`: bytes decode into an operation sequence run on
//! both backends and on a `HashMap` model; every result must agree.

#![no_main]

use erm_registry::{AnyRegistry, Backend, Config, InsertError, NAME_MAX, Name, Registry};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::Arc;

const MAX_LEN: usize = 12;

/// A key from two bytes: a parent and a short name; some names are invalid
/// on purpose (empty, `/`, NUL, too long) and must be refused cleanly.
fn key(parent: u8, shape: u8) -> Option<Name> {
    let name: Vec<u8> = match shape % 16 {
        0 => Vec::new(),
        1 => b"a/b".to_vec(),
        2 => vec![b'x'; NAME_MAX + 1 + usize::from(shape >> 4)],
        3 => b"nul\0".to_vec(),
        n => format!("f{}", (shape >> 4) ^ n).into_bytes(),
    };
    let result = Name::new(u64::from(parent % 4), &name);
    match shape % 16 {
        0 | 1 | 3 => assert_eq!(
            result.as_ref().err().and_then(|e| e.raw_os_error()),
            Some(EINVAL)
        ),
        2 => assert_eq!(
            result.as_ref().err().and_then(|e| e.raw_os_error()),
            Some(ENAMETOOLONG)
        ),
        _ => assert!(result.is_ok()),
    }
    result.ok()
}

/// Linux errno values (this fuzz crate does not depend on libc).
const EINVAL: i32 = 22;
const ENAMETOOLONG: i32 = 36;

fn check(map: &dyn Registry<Name, u8>, data: &[u8]) {
    let mut model: HashMap<Name, u8> = HashMap::new();
    for op in data.chunks_exact(4) {
        let Some(k) = key(op[1], op[2]) else { continue };
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
