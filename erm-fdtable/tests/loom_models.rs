//! loom models of both backends: each is two or three threads doing one racy
//! thing (run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2`).
#![cfg(loom)]
#![allow(clippy::unwrap_used)]

use erm_fdtable::{AnyFdTable, Backend, FdTable};
use loom::thread;
use std::sync::Arc;

/// Runs `model` under loom once per backend, with a table of `capacity`.
fn check(capacity: usize, model: impl Fn(Arc<AnyFdTable<u32>>) + Sync + Send + 'static) {
    let model = Arc::new(model);
    for backend in [Backend::Locked, Backend::Lockless] {
        let model = Arc::clone(&model);
        loom::model(move || model(Arc::new(AnyFdTable::new(backend, capacity))));
    }
}

#[test]
fn two_inserts_never_share_an_fd() {
    check(2, |t| {
        let t2 = Arc::clone(&t);
        let h = thread::spawn(move || t2.insert(Arc::new(1)).unwrap());
        let a = t.insert(Arc::new(0)).unwrap();
        let b = h.join().unwrap();
        assert_ne!(a, b);
        assert_eq!((a.min(b), a.max(b)), (0, 1), "lowest free numbers");
        assert_eq!(t.len(), 2);
    });
}

#[test]
fn insert_reuses_a_concurrently_freed_fd_or_the_next() {
    check(2, |t| {
        t.insert(Arc::new(0)).unwrap();
        let t2 = Arc::clone(&t);
        let h = thread::spawn(move || *t2.remove(0).unwrap());
        let fd = t.insert(Arc::new(1)).unwrap();
        assert_eq!(h.join().unwrap(), 0);
        assert!(fd == 0 || fd == 1);
        // Once both are done, the hint must still find the free slot.
        let next = t.insert(Arc::new(2)).unwrap();
        assert_eq!(next, 1 - fd);
    });
}

#[test]
fn get_vs_remove() {
    check(1, |t| {
        let v = Arc::new(7);
        t.insert(v.clone()).unwrap();
        let t2 = Arc::clone(&t);
        let h = thread::spawn(move || t2.get(0));
        let removed = t.remove(0).unwrap();
        assert!(Arc::ptr_eq(&removed, &v));
        if let Some(got) = h.join().unwrap() {
            assert!(Arc::ptr_eq(&got, &v));
        }
        drop(removed);
        assert_eq!(t.get(0), None);
        assert_eq!(Arc::strong_count(&v), 1, "the table let go of it");
    });
}

#[test]
fn remove_vs_remove_exactly_one_wins() {
    check(1, |t| {
        t.insert(Arc::new(7)).unwrap();
        let t2 = Arc::clone(&t);
        let h = thread::spawn(move || t2.remove(0).is_some());
        let mine = t.remove(0).is_some();
        let theirs = h.join().unwrap();
        assert!(mine ^ theirs, "exactly one remove gets the value");
        assert!(t.is_empty());
    });
}

#[test]
fn insert_at_vs_get_never_sees_closed() {
    check(1, |t| {
        let old = Arc::new(1);
        t.insert(old.clone()).unwrap();
        let t2 = Arc::clone(&t);
        let h = thread::spawn(move || t2.get(0).map(|v| *v));
        let replaced = t.insert_at(0, Arc::new(2)).unwrap().unwrap();
        assert!(Arc::ptr_eq(&replaced, &old));
        let seen = h.join().unwrap();
        assert!(
            seen == Some(1) || seen == Some(2),
            "dup2 target seen as {seen:?}"
        );
        assert_eq!(*t.get(0).unwrap(), 2);
    });
}

#[test]
fn stale_claim_never_reaches_the_reopened_file() {
    // Close + reopen of the same fd between a reader's load of the slot and
    // its pin: the generation check must refuse the new file.
    check(1, |t| {
        t.insert(Arc::new(1)).unwrap();
        let g = t.generation(0).unwrap();
        let t2 = Arc::clone(&t);
        let h = thread::spawn(move || t2.get_if_generation(0, g).map(|v| *v));
        t.remove(0).unwrap();
        assert_eq!(t.insert(Arc::new(2)).unwrap(), 0);
        let seen = h.join().unwrap();
        assert!(
            seen.is_none() || seen == Some(1),
            "stale claim saw {seen:?}"
        );
        assert_ne!(t.generation(0), Some(g));
    });
}

#[test]
fn plain_get_across_reopen_sees_old_new_or_nothing() {
    check(1, |t| {
        t.insert(Arc::new(1)).unwrap();
        let t2 = Arc::clone(&t);
        let h = thread::spawn(move || t2.get(0).map(|v| *v));
        t.remove(0).unwrap();
        t.insert(Arc::new(2)).unwrap();
        let seen = h.join().unwrap();
        assert!(matches!(seen, None | Some(1) | Some(2)), "{seen:?}");
    });
}

#[test]
fn insert_at_vs_remove_is_one_order_or_the_other() {
    check(1, |t| {
        let old = Arc::new(1);
        t.insert(old.clone()).unwrap();
        let t2 = Arc::clone(&t);
        let h = thread::spawn(move || t2.remove(0).map(|v| *v));
        let replaced = t.insert_at(0, Arc::new(2)).unwrap().map(|v| *v);
        let removed = h.join().unwrap();
        let now = t.get(0).map(|v| *v);
        match (removed, replaced) {
            // remove first: dup2 reopened the fd.
            (Some(1), None) => assert_eq!(now, Some(2)),
            // dup2 first: remove closed the new file.
            (Some(2), Some(1)) => assert_eq!(now, None),
            other => panic!("impossible outcome {other:?}"),
        }
    });
}

#[test]
fn three_threads_churn_then_settle() {
    check(2, |t| {
        let spawn = |n: u32| {
            let t = Arc::clone(&t);
            thread::spawn(move || {
                let fd = t.insert(Arc::new(n)).unwrap();
                assert_eq!(*t.remove(fd).unwrap(), n);
            })
        };
        let (a, b) = (spawn(1), spawn(2));
        for fd in 0..2 {
            if let Some(v) = t.get(fd) {
                assert!(*v == 1 || *v == 2);
            }
        }
        a.join().unwrap();
        b.join().unwrap();
        assert!(t.is_empty());
        assert_eq!(t.insert(Arc::new(3)).unwrap(), 0, "no slot lost");
        assert_eq!(t.insert(Arc::new(4)).unwrap(), 1);
    });
}
