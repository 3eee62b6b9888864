//! The only place that names atomics, locks, cells and fences: loom's under
//! `cfg(loom)`, std's otherwise, so the same code is model-checked.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicIsize, AtomicPtr, AtomicUsize, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicIsize, AtomicPtr, AtomicUsize, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

pub(crate) use std::sync::atomic::Ordering;

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// std's `UnsafeCell` behind loom's `with`/`with_mut` interface, so that
/// code using it is checked by loom unchanged.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer for reading.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a pointer for writing.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// One step of a wait for another thread's short, non-blocking step (a
/// writer publishing a key it claimed): loom must see it as a yield to
/// explore the other thread; otherwise a CPU spin hint, then the OS.
pub(crate) fn spin(step: &mut u32) {
    if cfg!(loom) {
        #[cfg(loom)]
        loom::thread::yield_now();
    } else if *step < 6 {
        for _ in 0..1u32 << *step {
            std::hint::spin_loop();
        }
    } else {
        std::thread::yield_now();
    }
    *step = step.saturating_add(1);
}

/// A small per-thread number used only to spread readers over counter
/// shards. It is a performance hint, not a safety property: any value is
/// correct, so it uses std's thread-local and atomic even under loom (where
/// every model thread then shares shard 0, which loom still checks).
pub(crate) fn thread_index() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    static NEXT: StdAtomicUsize = StdAtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    if cfg!(loom) {
        // Loom needs every execution to take the same path.
        return 0;
    }
    INDEX
        .try_with(|cell| {
            let mut index = cell.get();
            if index == usize::MAX {
                index = NEXT.fetch_add(1, Ordering::Relaxed);
                cell.set(index);
            }
            index
        })
        .unwrap_or(0)
}

/// The per-instance hasher: foldhash (quality variant) with a random seed
/// per process and per instance, or under loom a fixed-key one so that
/// every model execution probes the same way (loom requires determinism;
/// the seed has no bearing on memory safety).
#[cfg(not(loom))]
pub type HashBuilder = foldhash::quality::RandomState;
/// The per-instance hasher: foldhash (quality variant) with a random seed
/// per process and per instance, or under loom a fixed-key one so that
/// every model execution probes the same way (loom requires determinism;
/// the seed has no bearing on memory safety).
#[cfg(loom)]
pub type HashBuilder = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;
