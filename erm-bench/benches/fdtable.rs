//! fd table: open/close cycles and `get` at 1 and 2 threads, lockless vs
//! locked, beside a naive `Mutex<Vec<Option<Arc>>>` (linear scan) and
//! `sharded-slab` (which hands out slab keys, not lowest-free numbers).

use erm_bench::{Report, Row, SplitMix64, compare, quick};
use erm_fdtable::{FdTable, LockedFdTable, LocklessFdTable};
use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex, PoisonError};

/// What a benchmarked table can do: open a value, look it up, close it.
trait Table: Sync {
    fn open(&self, v: Arc<u64>) -> usize;
    fn get(&self, k: usize) -> Option<Arc<u64>>;
    fn close(&self, k: usize) -> Option<Arc<u64>>;
}

impl Table for LockedFdTable<u64> {
    fn open(&self, v: Arc<u64>) -> usize {
        self.insert(v).expect("bench stays below capacity") as usize
    }
    fn get(&self, k: usize) -> Option<Arc<u64>> {
        FdTable::get(self, k as i32)
    }
    fn close(&self, k: usize) -> Option<Arc<u64>> {
        self.remove(k as i32)
    }
}

impl Table for LocklessFdTable<u64> {
    fn open(&self, v: Arc<u64>) -> usize {
        self.insert(v).expect("bench stays below capacity") as usize
    }
    fn get(&self, k: usize) -> Option<Arc<u64>> {
        FdTable::get(self, k as i32)
    }
    fn close(&self, k: usize) -> Option<Arc<u64>> {
        self.remove(k as i32)
    }
}

/// The naive design: one mutex, lowest free found by a linear scan.
#[derive(Default)]
struct Naive(Mutex<Vec<Option<Arc<u64>>>>);

impl Table for Naive {
    fn open(&self, v: Arc<u64>) -> usize {
        let mut slots = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match slots.iter().position(Option::is_none) {
            Some(i) => {
                slots[i] = Some(v);
                i
            }
            None => {
                slots.push(Some(v));
                slots.len() - 1
            }
        }
    }
    fn get(&self, k: usize) -> Option<Arc<u64>> {
        let slots = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        slots.get(k).and_then(Clone::clone)
    }
    fn close(&self, k: usize) -> Option<Arc<u64>> {
        let mut slots = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        slots.get_mut(k).and_then(Option::take)
    }
}

impl Table for sharded_slab::Slab<Arc<u64>> {
    fn open(&self, v: Arc<u64>) -> usize {
        self.insert(v).expect("slab has room")
    }
    fn get(&self, k: usize) -> Option<Arc<u64>> {
        sharded_slab::Slab::get(self, k).map(|e| Arc::clone(&e))
    }
    fn close(&self, k: usize) -> Option<Arc<u64>> {
        self.take(k)
    }
}

/// Runs `work(thread)` on `threads` threads started together.
fn on_threads(threads: usize, work: impl Fn(usize) + Sync) {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (barrier, work) = (&barrier, &work);
            s.spawn(move || {
                barrier.wait();
                work(t);
            });
        }
    });
}

/// `cycles` open + get + close per thread (the table already holds some fds).
fn cycle<T: Table>(table: &T, threads: usize, cycles: usize) {
    on_threads(threads, |t| {
        // One value per thread: threads of a program open different files.
        let v = Arc::new(t as u64);
        for _ in 0..cycles {
            let k = table.open(v.clone());
            black_box(table.get(k));
            black_box(table.close(k));
        }
    });
}

/// `gets` lookups per thread over the open keys in `keys`, in a seeded order.
fn lookups<T: Table>(table: &T, keys: &[usize], threads: usize, gets: usize) {
    on_threads(threads, |t| {
        let mut rng = SplitMix64::new(t as u64 + 1);
        for _ in 0..gets {
            let k = keys[rng.below(keys.len() as u64) as usize];
            black_box(table.get(k));
        }
    });
}

/// A fresh table of each kind, with `open` fds already open (their keys).
fn tables(open: usize) -> Tables {
    let locked = LockedFdTable::new();
    let lockless = LocklessFdTable::new();
    let naive = Naive::default();
    let slab = sharded_slab::Slab::new();
    let mut keys = [vec![], vec![], vec![], vec![]];
    for i in 0..open {
        // A value per fd, so lookups of different fds touch different counts.
        let v = Arc::new(i as u64);
        keys[0].push(locked.open(v.clone()));
        keys[1].push(lockless.open(v.clone()));
        keys[2].push(naive.open(v.clone()));
        keys[3].push(slab.open(v.clone()));
    }
    Tables {
        locked,
        lockless,
        naive,
        slab,
        keys,
    }
}

struct Tables {
    locked: LockedFdTable<u64>,
    lockless: LocklessFdTable<u64>,
    naive: Naive,
    slab: sharded_slab::Slab<Arc<u64>>,
    keys: [Vec<usize>; 4],
}

/// Speedup of two threads over one on independent, shared-nothing work: 2.0
/// on two free cores, near 1.0 when the threads only take turns. The 2-thread
/// rows below only mean something when this is well above 1.
fn parallel_speedup(samples: usize) -> f64 {
    let spin = |_| {
        let mut x = 1u64;
        for i in 0..2_000_000u64 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
        }
    };
    let (one, two) = compare(samples, || on_threads(1, spin), || on_threads(2, spin));
    2.0 * one.as_secs_f64() / two.as_secs_f64()
}

fn main() -> std::io::Result<()> {
    let mut report = Report::new("fdtable");
    let samples = if quick() { 5 } else { 21 };
    report.push(Row::standalone(
        "fdtable/context: 2-thread speedup on shared-nothing work",
        "x",
        parallel_speedup(samples),
        "info: 2.0 = two free cores; 1.0 = threads take turns",
        None,
    ));
    let cycles = if quick() { 100_000 } else { 400_000 };
    let gets = if quick() { 200_000 } else { 1_000_000 };
    let s = |x: std::time::Duration| x.as_secs_f64();

    // Open/close cycles with 16 fds held open, as a process with a few files.
    let tb = tables(16);
    for threads in [1, 2] {
        let (anchor, ours) = compare(
            samples,
            || cycle(&tb.locked, threads, cycles),
            || cycle(&tb.lockless, threads, cycles),
        );
        let target = (threads == 2).then_some(1.5);
        let name = format!("fdtable/open+get+close cycle, {threads} thread(s), lockless vs locked");
        report.push(Row::lower_is_better(
            &name,
            "s",
            s(ours),
            "LockedFdTable",
            s(anchor),
            target,
        ));
    }
    let (anchor, ours) = compare(
        samples,
        || cycle(&tb.naive, 2, cycles),
        || cycle(&tb.lockless, 2, cycles),
    );
    report.push(Row::lower_is_better(
        "fdtable/open+get+close cycle, 2 threads, lockless vs naive",
        "s",
        s(ours),
        "Mutex<Vec<Option<Arc>>> linear scan",
        s(anchor),
        None,
    ));
    let (anchor, ours) = compare(
        samples,
        || cycle(&tb.slab, 2, cycles),
        || cycle(&tb.lockless, 2, cycles),
    );
    report.push(Row::lower_is_better(
        "fdtable/open+get+close cycle, 2 threads, lockless vs sharded-slab",
        "s",
        s(ours),
        "sharded-slab 0.1 (not lowest-free)",
        s(anchor),
        None,
    ));

    // `get` alone, the read path of every read/write, over 1024 open fds.
    let tb = tables(1024);
    for threads in [1, 2] {
        let (anchor, ours) = compare(
            samples,
            || lookups(&tb.locked, &tb.keys[0], threads, gets),
            || lookups(&tb.lockless, &tb.keys[1], threads, gets),
        );
        let target = (threads == 2).then_some(2.0);
        let name =
            format!("fdtable/get over 1024 open fds, {threads} thread(s), lockless vs locked");
        report.push(Row::lower_is_better(
            &name,
            "s",
            s(ours),
            "LockedFdTable",
            s(anchor),
            target,
        ));
    }
    let (anchor, ours) = compare(
        samples,
        || lookups(&tb.naive, &tb.keys[2], 2, gets),
        || lookups(&tb.lockless, &tb.keys[1], 2, gets),
    );
    report.push(Row::lower_is_better(
        "fdtable/get over 1024 open fds, 2 threads, lockless vs naive",
        "s",
        s(ours),
        "Mutex<Vec<Option<Arc>>>",
        s(anchor),
        None,
    ));
    let (anchor, ours) = compare(
        samples,
        || lookups(&tb.slab, &tb.keys[3], 2, gets),
        || lookups(&tb.lockless, &tb.keys[1], 2, gets),
    );
    report.push(Row::lower_is_better(
        "fdtable/get over 1024 open fds, 2 threads, lockless vs sharded-slab",
        "s",
        s(ours),
        "sharded-slab 0.1 (not lowest-free)",
        s(anchor),
        None,
    ));
    report.write()
}
