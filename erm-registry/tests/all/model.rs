//! Model-based proptest: random operation sequences against `HashMap`.

use crate::backends;
use erm_registry::{InsertError, Registry};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
enum Op {
    Get(u8),
    Insert(u8, u32),
    Replace(u8, u32),
    Remove(u8),
    RemoveIf(u8, bool),
    ForEach,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..24;
    prop_oneof![
        3 => key.clone().prop_map(Op::Get),
        3 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Replace(k, v)),
        2 => key.clone().prop_map(Op::Remove),
        1 => (key, any::<bool>()).prop_map(|(k, c)| Op::RemoveIf(k, c)),
        1 => Just(Op::ForEach),
    ]
}

fn check(map: &dyn Registry<u8, u32>, ops: &[Op]) {
    let mut model: HashMap<u8, u32> = HashMap::new();
    for op in ops {
        match *op {
            Op::Get(k) => {
                assert_eq!(map.get(&k).as_deref(), model.get(&k));
                let mut seen = None;
                let found = map.inspect(&k, &mut |v| seen = Some(*v));
                assert_eq!(seen.as_ref(), model.get(&k));
                assert_eq!(found, seen.is_some());
            }
            Op::Insert(k, v) => match map.insert_if_absent(k, Arc::new(v)) {
                Ok(()) => assert!(model.insert(k, v).is_none()),
                Err(InsertError::Occupied(old)) => assert_eq!(Some(&*old), model.get(&k)),
                Err(InsertError::Full(_)) => panic!("not full"),
            },
            Op::Replace(k, v) => {
                let expected = model.get_mut(&k).map(|slot| std::mem::replace(slot, v));
                assert_eq!(map.replace(&k, Arc::new(v)).as_deref(), expected.as_ref());
            }
            Op::Remove(k) => assert_eq!(map.remove(&k).as_deref(), model.remove(&k).as_ref()),
            Op::RemoveIf(k, current) => {
                let expected = if current {
                    map.get(&k)
                } else {
                    Some(Arc::new(0))
                };
                match expected {
                    Some(e) => {
                        let removed = map.remove_if(&k, &e);
                        assert_eq!(removed, current);
                        if removed {
                            model.remove(&k);
                        }
                    }
                    None => assert!(!model.contains_key(&k)),
                }
            }
            Op::ForEach => {
                let mut seen = HashMap::new();
                map.for_each(&mut |k, v| assert!(seen.insert(*k, **v).is_none()));
                assert_eq!(seen, model);
            }
        }
        assert_eq!(map.len(), model.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn matches_hashmap(ops in proptest::collection::vec(op(), 0..200)) {
        for map in backends::<u8, u32>() {
            check(&map, &ops);
        }
    }
}
