//! Model-based proptest: op sequences on both backends against a
//! `BTreeMap<i32, Arc<V>>`, including the lowest-free rule and `EMFILE`.

use crate::backends;
use erm_fdtable::FdTable;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

const CAPACITY: usize = 6;

#[derive(Debug, Clone)]
enum Op {
    Insert,
    Get(i32),
    Remove(i32),
    InsertAt(i32),
    StaleGet(i32),
}

fn fd() -> impl Strategy<Value = i32> {
    prop_oneof![
        6 => -1..CAPACITY as i32 + 2,
        1 => any::<i32>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Insert),
        3 => fd().prop_map(Op::Get),
        3 => fd().prop_map(Op::Remove),
        2 => fd().prop_map(Op::InsertAt),
        1 => fd().prop_map(Op::StaleGet),
    ]
}

fn lowest_free(model: &BTreeMap<i32, Arc<u32>>) -> Option<i32> {
    (0..CAPACITY as i32).find(|fd| !model.contains_key(fd))
}

fn same(a: Option<Arc<u32>>, b: Option<&Arc<u32>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(&a, b),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn matches_btreemap_model(ops in proptest::collection::vec(op(), 1..120)) {
        for table in backends::<u32>(CAPACITY) {
            let mut model: BTreeMap<i32, Arc<u32>> = BTreeMap::new();
            // The generation each open fd had when last seen, to check stale claims.
            let mut seen: BTreeMap<i32, u32> = BTreeMap::new();
            for (n, op) in ops.iter().enumerate() {
                let value = Arc::new(n as u32);
                match *op {
                    Op::Insert => match lowest_free(&model) {
                        Some(fd) => {
                            prop_assert_eq!(table.insert(value.clone()).unwrap(), fd);
                            model.insert(fd, value);
                        }
                        None => prop_assert_eq!(
                            table.insert(value).unwrap_err().raw_os_error(),
                            Some(libc::EMFILE)
                        ),
                    },
                    Op::Get(fd) => prop_assert!(same(table.get(fd), model.get(&fd))),
                    Op::Remove(fd) => prop_assert!(same(table.remove(fd), model.remove(&fd).as_ref())),
                    Op::InsertAt(fd) => {
                        if (0..CAPACITY as i32).contains(&fd) {
                            let old = table.insert_at(fd, value.clone()).unwrap();
                            prop_assert!(same(old, model.insert(fd, value).as_ref()));
                        } else {
                            prop_assert_eq!(
                                table.insert_at(fd, value).unwrap_err().raw_os_error(),
                                Some(libc::EBADF)
                            );
                        }
                    }
                    Op::StaleGet(fd) => {
                        let now = table.generation(fd);
                        prop_assert_eq!(now.is_some(), model.contains_key(&fd));
                        if let Some(&old) = seen.get(&fd) {
                            // An older claim reaches the value only if it is still that occupancy.
                            let got = table.get_if_generation(fd, old);
                            if now == Some(old) {
                                prop_assert!(same(got, model.get(&fd)));
                            } else {
                                prop_assert!(got.is_none());
                            }
                        }
                        if let Some(g) = now {
                            seen.insert(fd, g);
                        }
                    }
                }
                prop_assert_eq!(table.len(), model.len());
            }
            for fd in -1..CAPACITY as i32 + 1 {
                prop_assert!(same(table.get(fd), model.get(&fd)));
            }
        }
    }
}
