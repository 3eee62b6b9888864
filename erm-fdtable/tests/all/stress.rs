//! Bounded stress: threads open, get, dup2 and close concurrently; at the end
//! no slot is lost, no `Arc` leaked, and every fd was free when returned.

use crate::backends;
use erm_fdtable::FdTable;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const CAPACITY: usize = 64;
const THREADS: usize = 4;
const MAX_ROUNDS: usize = 1_000_000;
const MAX_TIME: Duration = Duration::from_secs(2);

/// A value that counts how many of its kind are alive.
struct Probe<'a> {
    thread: usize,
    live: &'a AtomicUsize,
}

impl<'a> Probe<'a> {
    fn new(thread: usize, live: &'a AtomicUsize) -> Arc<Self> {
        live.fetch_add(1, Ordering::Relaxed);
        Arc::new(Probe { thread, live })
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

#[test]
fn open_get_close_storm() {
    let live = AtomicUsize::new(0);
    for table in backends(CAPACITY) {
        // `owned[fd]`: some thread holds fd (set after insert, cleared before remove).
        let owned: Vec<AtomicBool> = (0..CAPACITY).map(|_| AtomicBool::new(false)).collect();
        let start = Instant::now();
        thread::scope(|s| {
            for t in 0..THREADS {
                let (table, live, owned) = (&table, &live, &owned);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut x = t as u64 + 1;
                    for round in 0..MAX_ROUNDS {
                        if round % 256 == 0 && start.elapsed() > MAX_TIME {
                            break;
                        }
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        match x % 8 {
                            // At most a quarter of the slots each, counting one in flight.
                            0..=2 if mine.len() < CAPACITY / THREADS - 1 => {
                                let v = Probe::new(t, live);
                                let fd = table
                                    .insert(v.clone())
                                    .expect("a quarter of the slots is ours");
                                assert!(
                                    !owned[fd as usize].swap(true, Ordering::AcqRel),
                                    "fd {fd} handed out twice"
                                );
                                mine.push((fd, v));
                            }
                            3 if !mine.is_empty() => {
                                let i = x as usize / 8 % mine.len();
                                let (fd, v) = &mut mine[i];
                                let new = Probe::new(t, live);
                                let old = table.insert_at(*fd, new.clone()).unwrap().unwrap();
                                assert!(Arc::ptr_eq(&old, v));
                                *v = new;
                            }
                            4 | 5 if !mine.is_empty() => {
                                let i = x as usize / 8 % mine.len();
                                let (fd, v) = mine.swap_remove(i);
                                owned[fd as usize].store(false, Ordering::Release);
                                assert!(Arc::ptr_eq(&table.remove(fd).unwrap(), &v));
                            }
                            _ => {
                                // Anyone's fd: whatever it holds must be a live probe.
                                let fd = (x / 8 % (CAPACITY as u64 + 2)) as i32 - 1;
                                if let Some(v) = table.get(fd) {
                                    assert!(v.thread < THREADS);
                                }
                                if let Some(&(fd, ref v)) = mine.first() {
                                    assert!(Arc::ptr_eq(&table.get(fd).unwrap(), v));
                                }
                            }
                        }
                    }
                    for (fd, v) in mine {
                        owned[fd as usize].store(false, Ordering::Release);
                        assert!(Arc::ptr_eq(&table.remove(fd).unwrap(), &v));
                    }
                });
            }
        });
        assert_eq!(table.len(), 0);
        assert_eq!(live.load(Ordering::Relaxed), 0, "an Arc leaked");
        // No slot lost: the table fills 0..CAPACITY in order again.
        let v = Probe::new(0, &live);
        for fd in 0..CAPACITY as i32 {
            assert_eq!(table.insert(v.clone()).unwrap(), fd);
        }
        assert!(table.insert(v.clone()).is_err());
        drop(table);
        drop(v);
        assert_eq!(live.load(Ordering::Relaxed), 0);
    }
}
