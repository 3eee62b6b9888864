//! The descriptor gate: every new descriptor passes it, a backend switch
//! ([`Fs::set_lockless_mode`](crate::Fs::set_lockless_mode)) closes it so
//! that no descriptor lands in a table being replaced.
//!
//! A reader-biased lock: passing writes only a counter of the caller's own
//! shard, padded to its own cache line, so threads opening files at once do
//! not bounce one lock word between their caches (a shared `RwLock` did:
//! its two atomic writes per open were the biggest shared cost of a
//! lockless open on two cores). Closing raises a flag and waits for every
//! shard to drain. Switches are rare and short, so a passer that meets a
//! closed gate yields until it opens again.
//!
//! Ordering: a passer increments its counter, then (SeqCst fence) reads the
//! flag; the closer raises the flag, then (SeqCst fence) reads the counters.
//! The fences order the two pairs, so either the closer sees the pass (and
//! waits for it) or the passer sees the flag (and backs out). A pass ends
//! with a Release decrement that the closer's Acquire read of zero pairs
//! with: every descriptor added under the pass is visible to the closer.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU32, AtomicU64, Ordering, fence, thread_index, yield_now};

/// Counter shards; more than cores, so threads rarely share one.
const SHARDS: usize = if cfg!(loom) { 2 } else { 16 };

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Gate {
    closed: CachePadded<AtomicU32>,
    passing: Box<[CachePadded<AtomicU64>]>,
}

/// A pass through the gate: while it lives, the gate cannot close.
pub(crate) struct Pass<'a> {
    counter: &'a AtomicU64,
}

/// The gate held closed: no new pass until it drops.
pub(crate) struct Closed<'a> {
    gate: &'a Gate,
}

impl Gate {
    /// An open gate.
    pub(crate) fn new() -> Gate {
        Gate {
            closed: CachePadded::new(AtomicU32::new(0)),
            passing: (0..SHARDS)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Passes the gate, waiting while it is closed.
    pub(crate) fn pass(&self) -> Pass<'_> {
        let counter = &self.passing[thread_index() % SHARDS];
        loop {
            counter.fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if self.closed.load(Ordering::Relaxed) == 0 {
                return Pass { counter };
            }
            counter.fetch_sub(1, Ordering::Release);
            while self.closed.load(Ordering::Acquire) != 0 {
                yield_now();
            }
        }
    }

    /// Closes the gate and waits until every pass under way has ended.
    /// Callers serialise closes (they hold the namespace lock).
    pub(crate) fn close(&self) -> Closed<'_> {
        self.closed.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        for counter in self.passing.iter() {
            while counter.load(Ordering::Acquire) != 0 {
                yield_now();
            }
        }
        Closed { gate: self }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        self.gate.closed.store(0, Ordering::Release);
    }
}

/// The gate's promise, model-checked: no pass completes while the gate is
/// closed, and the closer sees every pass that ended before it closed.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;

    #[test]
    fn no_pass_goes_through_a_closed_gate() {
        loom::model(|| {
            let gate = Arc::new(Gate::new());
            let added = Arc::new(AtomicUsize::new(0));
            let passer = {
                let (gate, added) = (Arc::clone(&gate), Arc::clone(&added));
                loom::thread::spawn(move || {
                    let _pass = gate.pass();
                    added.fetch_add(1, Ordering::Relaxed);
                })
            };
            {
                let _closed = gate.close();
                let seen = added.load(Ordering::Relaxed);
                loom::thread::yield_now();
                assert_eq!(added.load(Ordering::Relaxed), seen, "passed a closed gate");
            }
            passer.join().expect("the passer does not panic");
            assert_eq!(added.load(Ordering::Relaxed), 1);
        });
    }
}
