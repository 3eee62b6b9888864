//! Fuzz target `fdtable`: byte strings decoded into op sequences, run on both
//! erm-fdtable backends and checked against a `BTreeMap` model.
#![no_main]

use erm_fdtable::{AnyFdTable, Backend, FdTable};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::sync::Arc;

fn same(a: Option<Arc<usize>>, b: Option<&Arc<usize>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(&a, b),
        _ => false,
    }
}

/// Decodes an fd: mostly near the table, sometimes extreme.
fn fd(byte: u8) -> i32 {
    match byte {
        250 => i32::MIN,
        251 => i32::MAX,
        252 => -2,
        _ => i32::from(byte % 24) - 1,
    }
}

fn run(backend: Backend, capacity: usize, ops: &[u8]) {
    let table = AnyFdTable::new(backend, capacity);
    let mut model: BTreeMap<i32, Arc<usize>> = BTreeMap::new();
    for (n, pair) in ops.chunks_exact(2).enumerate() {
        let (op, fd) = (pair[0] % 6, fd(pair[1]));
        let value = Arc::new(n);
        match op {
            0 | 1 => {
                let lowest = (0..capacity as i32).find(|f| !model.contains_key(f));
                match (table.insert(value.clone()), lowest) {
                    (Ok(got), Some(want)) => {
                        assert_eq!(got, want);
                        model.insert(got, value);
                    }
                    (Err(e), None) => assert_eq!(e.raw_os_error(), Some(libc_emfile())),
                    (got, want) => panic!("insert: {got:?}, model {want:?}"),
                }
            }
            2 => assert!(same(table.get(fd), model.get(&fd))),
            3 => assert!(same(table.remove(fd), model.remove(&fd).as_ref())),
            4 => {
                let ok = (0..capacity as i32).contains(&fd);
                match table.insert_at(fd, value.clone()) {
                    Ok(old) => {
                        assert!(ok);
                        assert!(same(old, model.insert(fd, value).as_ref()));
                    }
                    Err(_) => assert!(!ok),
                }
            }
            _ => {
                let g = table.generation(fd);
                assert_eq!(g.is_some(), model.contains_key(&fd));
                if let Some(g) = g {
                    assert!(same(table.get_if_generation(fd, g), model.get(&fd)));
                    assert!(table.get_if_generation(fd, g.wrapping_add(1)).is_none());
                }
            }
        }
        assert_eq!(table.len(), model.len());
    }
}

/// `EMFILE` on Linux (the fuzz crate does not depend on libc).
fn libc_emfile() -> i32 {
    24
}

fuzz_target!(|data: &[u8]| {
    let Some((&cap, ops)) = data.split_first() else {
        return;
    };
    let capacity = usize::from(cap % 20);
    run(Backend::Locked, capacity, ops);
    run(Backend::Lockless, capacity, ops);
});
