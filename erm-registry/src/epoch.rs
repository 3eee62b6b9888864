//! A small epoch-based reclamation scheme with sharded reader counters.
//!
//! Readers announce themselves by incrementing one of two counters (chosen by
//! the parity of the global epoch) in their thread's shard; writers hand
//! unlinked memory to [`Collector::retire`]. Freeing follows a grace period:
//! the collector bumps the epoch, then frees the batch once every counter of
//! the old parity reads zero. The ordering argument is in the crate docs
//! (`# Memory ordering`).

use crate::sync::{AtomicUsize, Mutex, MutexGuard, Ordering, fence, thread_index};
use crossbeam_utils::CachePadded;

/// Number of reader-counter shards (a power of two). More shards than cores
/// keeps readers of different threads off each other's cache lines.
const SHARDS: usize = if cfg!(loom) { 2 } else { 16 };

/// Retired items gathered before a grace period is attempted; small under
/// loom and Miri so that freeing is exercised by small models.
const BATCH: usize = if cfg!(any(loom, miri)) { 1 } else { 64 };

/// Retired items: those waiting for the next grace period to start
/// (`current`) and those whose grace period has started (`waiting`).
struct Bags<G> {
    current: Vec<G>,
    waiting: Vec<G>,
}

/// Epoch collector for garbage of type `G`, freed by dropping it.
pub(crate) struct Collector<G> {
    /// Global epoch; only its parity selects a counter. Written only under
    /// the `bags` mutex.
    epoch: CachePadded<AtomicUsize>,
    /// Per-shard active-reader counts, one per epoch parity.
    readers: Box<[CachePadded<[AtomicUsize; 2]>]>,
    /// Padded: every retire writes it, every pin reads `readers` above.
    bags: CachePadded<Mutex<Bags<G>>>,
}

/// Proof that the current thread is pinned: memory reachable from the
/// registry when the guard was taken stays allocated until it drops.
pub(crate) struct Guard<'a> {
    counter: &'a AtomicUsize,
}

impl<G> Collector<G> {
    /// An empty collector at epoch 0.
    pub(crate) fn new() -> Self {
        Collector {
            epoch: CachePadded::new(AtomicUsize::new(0)),
            readers: (0..SHARDS)
                .map(|_| CachePadded::new([AtomicUsize::new(0), AtomicUsize::new(0)]))
                .collect(),
            bags: CachePadded::new(Mutex::new(Bags {
                current: Vec::new(),
                waiting: Vec::new(),
            })),
        }
    }

    /// Pins the current thread; never blocks (it retries only while the
    /// epoch moves under it).
    pub(crate) fn pin(&self) -> Guard<'_> {
        let shard = &self.readers[thread_index() % SHARDS];
        loop {
            let epoch = self.epoch.load(Ordering::Relaxed);
            let counter = &shard[epoch & 1];
            counter.fetch_add(1, Ordering::Relaxed);
            // Store-buffering pair with the fence in `collect`: either the
            // collector sees this increment, or the re-check below sees its
            // epoch bump (and, by Acquire, every unlink made before it).
            fence(Ordering::SeqCst);
            if self.epoch.load(Ordering::Acquire) == epoch {
                return Guard { counter };
            }
            counter.fetch_sub(1, Ordering::Release);
        }
    }

    /// Hands over `item`, already unreachable for readers pinned from now
    /// on; it is dropped once every reader that might still see it is gone.
    pub(crate) fn retire(&self, item: G) {
        let freed = {
            let mut bags = self.lock();
            bags.current.push(item);
            if bags.current.len() >= BATCH || !bags.waiting.is_empty() {
                self.collect(&mut bags)
            } else {
                Vec::new()
            }
        };
        // Dropped outside the lock: a value's destructor may reenter.
        drop(freed);
    }

    /// Like [`retire`](Collector::retire), but starts a grace period at
    /// once instead of waiting for a batch: for big items (a retired table)
    /// that should not wait for 63 more retirements, which a map that only
    /// grows never makes. When no reader is pinned, `item` is freed before
    /// this returns.
    pub(crate) fn retire_now(&self, item: G) {
        let freed = {
            let mut bags = self.lock();
            bags.current.push(item);
            self.collect(&mut bags)
        };
        drop(freed);
    }

    fn lock(&self) -> MutexGuard<'_, Bags<G>> {
        // A panic while holding the lock cannot leave `Bags` inconsistent
        // (pushes and moves only), so a poisoned lock is still usable.
        self.bags
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Advances grace periods as far as possible; returns what is now free.
    fn collect(&self, bags: &mut Bags<G>) -> Vec<G> {
        let mut freed = Vec::new();
        loop {
            // The epoch only changes under the bags mutex we hold.
            let epoch = self.epoch.load(Ordering::Relaxed);
            if !bags.waiting.is_empty() {
                // Pairs with the fence in `pin` (see there).
                fence(Ordering::SeqCst);
                let old = epoch.wrapping_sub(1) & 1;
                // Acquire: a reader's exit (Release decrement) happens
                // before anything is freed.
                if self
                    .readers
                    .iter()
                    .any(|r| r[old].load(Ordering::Acquire) != 0)
                {
                    return freed;
                }
                freed.append(&mut bags.waiting);
            }
            if bags.current.is_empty() {
                return freed;
            }
            // Start a grace period for `current`. Release: readers that see
            // the new epoch also see every unlink made before the retire.
            self.epoch.store(epoch.wrapping_add(1), Ordering::Release);
            std::mem::swap(&mut bags.current, &mut bags.waiting);
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // Release: every access made while pinned happens before the
        // collector's Acquire load that lets memory be freed.
        self.counter.fetch_sub(1, Ordering::Release);
    }
}
