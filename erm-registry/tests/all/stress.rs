//! Bounded concurrency stress: threads race on overlapping keys; afterwards
//! every value is accounted for (installed once, displaced at most once, the
//! rest is exactly the map's content), `len` agrees, and no `Arc` leaked.

use crate::backends;
use erm_registry::{InsertError, Registry};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const KEYS: u64 = 64;

/// A value knows its key and has a unique id.
struct Val {
    key: u64,
    id: u64,
}

#[derive(Default)]
struct Log {
    installed: Vec<Arc<Val>>,
    displaced: Vec<(u64, u64)>,
}

fn worker(map: &dyn Registry<u64, Val>, thread: u64, deadline: Instant, max_ops: u64) -> Log {
    let mut log = Log::default();
    let mut rng = thread.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for n in 0..max_ops {
        if n % 256 == 0 && Instant::now() > deadline {
            break;
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let key = rng % KEYS;
        let fresh = || {
            Arc::new(Val {
                key,
                id: (thread << 32) | n,
            })
        };
        match (rng >> 32) % 10 {
            0..=3 => {
                if let Some(v) = map.get(&key) {
                    assert_eq!(v.key, key);
                }
            }
            4 | 5 => {
                let v = fresh();
                match map.insert_if_absent(key, Arc::clone(&v)) {
                    Ok(()) => log.installed.push(v),
                    Err(InsertError::Occupied(old)) => assert_eq!(old.key, key),
                    Err(InsertError::Full(_)) => panic!("not full"),
                }
            }
            6 => {
                let v = fresh();
                if let Some(old) = map.replace(&key, Arc::clone(&v)) {
                    log.installed.push(v);
                    log.displaced.push((key, old.id));
                }
            }
            7 | 8 => {
                if let Some(old) = map.remove(&key) {
                    log.displaced.push((key, old.id));
                }
            }
            _ => {
                if let Some(current) = map.get(&key) {
                    if map.remove_if(&key, &current) {
                        log.displaced.push((key, current.id));
                    }
                }
            }
        }
    }
    log
}

fn run(map: &(dyn Registry<u64, Val> + Sync), threads: u64) -> Vec<Arc<Val>> {
    let deadline = Instant::now() + Duration::from_millis(150);
    let logs: Vec<Log> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || worker(map, t + 1, deadline, 200_000)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Per key: installed ids minus displaced ids is the key's final value.
    let mut live: HashMap<u64, HashSet<u64>> = HashMap::new();
    for log in &logs {
        for v in &log.installed {
            assert!(
                live.entry(v.key).or_default().insert(v.id),
                "installed twice"
            );
        }
    }
    for log in &logs {
        for &(key, id) in &log.displaced {
            assert!(
                live.entry(key).or_default().remove(&id),
                "displaced unknown or twice"
            );
        }
    }
    let mut present = 0;
    for key in 0..KEYS {
        let expected = live.get(&key).map_or(0, HashSet::len);
        assert!(expected <= 1, "key {key} holds {expected} values");
        match map.get(&key) {
            Some(v) => {
                present += 1;
                assert!(live[&key].contains(&v.id));
            }
            None => assert_eq!(expected, 0),
        }
    }
    assert_eq!(map.len(), present);
    let mut visited = 0;
    map.for_each(&mut |_, _| visited += 1);
    assert_eq!(visited, present);
    // Returned for the leak check once the registry is gone.
    logs.into_iter().flat_map(|l| l.installed).collect()
}

#[test]
fn threads_on_overlapping_keys_keep_every_value_accounted_for() {
    for threads in [2, 4, 8] {
        for map in backends::<u64, Val>() {
            let installed = run(&map, threads);
            drop(map);
            for v in &installed {
                assert_eq!(Arc::strong_count(v), 1, "value leaked");
            }
        }
    }
}
