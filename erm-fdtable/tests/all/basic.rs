//! Single-threaded behaviour: lowest free, EMFILE, EBADF, bad fds, dup2, generations.

use crate::backends;
use erm_fdtable::{AnyFdTable, Backend, DEFAULT_CAPACITY, FdTable, MAX_CAPACITY};
use std::sync::Arc;

fn errno<T: std::fmt::Debug>(r: std::io::Result<T>) -> Option<i32> {
    r.unwrap_err().raw_os_error()
}

#[test]
fn lowest_free_then_emfile() {
    for t in backends(3) {
        assert_eq!(t.insert(Arc::new('a')).unwrap(), 0);
        assert_eq!(t.insert(Arc::new('b')).unwrap(), 1);
        assert_eq!(t.insert(Arc::new('c')).unwrap(), 2);
        assert_eq!(errno(t.insert(Arc::new('d'))), Some(libc::EMFILE));
        assert_eq!(*t.remove(1).unwrap(), 'b');
        assert_eq!(t.remove(1), None);
        assert_eq!(t.insert(Arc::new('e')).unwrap(), 1);
        assert_eq!(t.len(), 3);
    }
}

#[test]
fn bad_descriptors_are_closed() {
    for t in backends::<u8>(8) {
        for fd in [-1, i32::MIN, 0, 7, 8, i32::MAX] {
            assert_eq!(t.get(fd), None, "{:?} fd {fd}", t.backend());
            assert_eq!(t.remove(fd), None);
            assert_eq!(t.generation(fd), None);
            assert_eq!(t.get_if_generation(fd, 0), None);
        }
        for fd in [-1, i32::MIN, 8, i32::MAX] {
            assert_eq!(errno(t.insert_at(fd, Arc::new(1))), Some(libc::EBADF));
        }
        assert!(t.is_empty());
    }
}

#[test]
fn insert_at_is_dup2() {
    for t in backends(8) {
        assert_eq!(t.insert_at(5, Arc::new(50)).unwrap(), None);
        assert_eq!(t.insert(Arc::new(0)).unwrap(), 0);
        let g = t.generation(5).unwrap();
        assert_eq!(*t.get_if_generation(5, g).unwrap(), 50);
        assert_eq!(*t.insert_at(5, Arc::new(51)).unwrap().unwrap(), 50);
        assert_eq!(*t.get(5).unwrap(), 51);
        assert_eq!(
            t.get_if_generation(5, g),
            None,
            "replaced: old claim is stale"
        );
        assert_eq!(t.len(), 2);
        // Lowest free skips the dup2 target.
        for want in [1, 2, 3, 4, 6] {
            assert_eq!(t.insert(Arc::new(want)).unwrap(), want);
        }
    }
}

#[test]
fn reopen_changes_generation() {
    for t in backends(2) {
        t.insert(Arc::new(1)).unwrap();
        let g = t.generation(0).unwrap();
        t.remove(0).unwrap();
        assert_eq!(t.get_if_generation(0, g), None);
        t.insert(Arc::new(2)).unwrap();
        assert_ne!(t.generation(0), Some(g));
        assert_eq!(t.get_if_generation(0, g), None);
        assert_eq!(*t.get(0).unwrap(), 2);
    }
}

#[test]
fn capacity_default_and_clamp() {
    let t = AnyFdTable::<u8>::default();
    assert_eq!(t.capacity(), DEFAULT_CAPACITY);
    let expected = if cfg!(feature = "lockless") {
        Backend::Lockless
    } else {
        Backend::Locked
    };
    assert_eq!(t.backend(), expected);
    for t in backends::<u8>(usize::MAX) {
        assert_eq!(t.capacity(), MAX_CAPACITY);
    }
    for t in backends::<u8>(0) {
        assert_eq!(errno(t.insert(Arc::new(1))), Some(libc::EMFILE));
        assert_eq!(errno(t.insert_at(0, Arc::new(1))), Some(libc::EBADF));
    }
}

#[test]
fn full_table_of_default_capacity() {
    for t in backends(DEFAULT_CAPACITY) {
        let v = Arc::new(());
        for i in 0..DEFAULT_CAPACITY {
            assert_eq!(t.insert(v.clone()).unwrap() as usize, i);
        }
        assert_eq!(errno(t.insert(v.clone())), Some(libc::EMFILE));
        assert!(t.remove(40_000).is_some());
        assert_eq!(t.insert(v.clone()).unwrap(), 40_000);
        drop(t);
        assert_eq!(Arc::strong_count(&v), 1, "no Arc leaked");
    }
}
