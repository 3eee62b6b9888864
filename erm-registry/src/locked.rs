//! The locked backend: shards of `RwLock<HashTable>`, picked by the key's hash.

use crate::sync::{AtomicUsize, HashBuilder, Ordering, RwLock};
use crate::{Config, InsertError, Registry};
use crossbeam_utils::CachePadded;
use hashbrown::hash_table::{Entry, HashTable};
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// Number of shards (a power of two): enough that threads rarely meet on
/// one lock, few enough that `len` and `for_each` stay cheap.
const SHARDS: usize = 32;

/// Hash bits that pick the shard: above those a table of fewer than 2^40
/// buckets indexes by, and below the 7 top bits hashbrown keeps as tags.
const SHARD_SHIFT: u32 = 40;

type Table<K, V> = RwLock<HashTable<(K, Arc<V>)>>;
type Shard<K, V> = CachePadded<Table<K, V>>;

/// A sharded `RwLock<HashTable>` registry: readers of one shard share its
/// lock, writers take it alone, and different shards never contend.
///
/// The key is hashed once per operation with the per-instance
/// [`HashBuilder`](crate::HashBuilder) (randomly seeded): that one hash
/// picks the shard and probes its table, so an operation costs no more than
/// on a plain `Mutex<HashMap>` plus an uncontended read or write lock.
/// Collisions cannot be crafted offline.
pub struct LockedRegistry<K, V, S = HashBuilder> {
    shards: Box<[Shard<K, V>]>,
    hasher: S,
    len: CachePadded<AtomicUsize>,
    max_len: usize,
}

impl<K: Hash + Eq, V> LockedRegistry<K, V> {
    /// An empty registry with the default [`Config`].
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// An empty registry sized and bounded by `config`.
    pub fn with_config(config: Config) -> Self {
        Self::with_config_and_hasher(config, HashBuilder::default())
    }
}

impl<K: Hash + Eq, V> Default for LockedRegistry<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> LockedRegistry<K, V, S> {
    /// An empty registry hashing with `hasher` (use a randomly seeded one).
    pub fn with_config_and_hasher(config: Config, hasher: S) -> Self {
        let per_shard = config.initial_capacity.div_ceil(SHARDS);
        LockedRegistry {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(RwLock::new(HashTable::with_capacity(per_shard))))
                .collect(),
            hasher,
            len: CachePadded::new(AtomicUsize::new(0)),
            max_len: config.max_len,
        }
    }

    /// The key's hash and its shard.
    fn locate(&self, key: &K) -> (u64, &Table<K, V>) {
        let hash = self.hasher.hash_one(key);
        (hash, &self.shards[(hash >> SHARD_SHIFT) as usize % SHARDS])
    }
}

/// Read-locks a lock, ignoring poison: every critical section here leaves
/// the table consistent even if a key's `Hash`/`Eq` panics half way.
macro_rules! read {
    ($lock:expr) => {
        $lock
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
}

/// Write-locks a lock, ignoring poison (see `read!`).
macro_rules! write {
    ($lock:expr) => {
        $lock
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
}

impl<K: Hash + Eq, V, S: BuildHasher> Registry<K, V> for LockedRegistry<K, V, S> {
    fn get(&self, key: &K) -> Option<Arc<V>> {
        let (hash, shard) = self.locate(key);
        read!(shard)
            .find(hash, |(k, _)| k == key)
            .map(|(_, v)| Arc::clone(v))
    }

    fn inspect(&self, key: &K, f: &mut dyn FnMut(&V)) -> bool {
        let (hash, shard) = self.locate(key);
        read!(shard)
            .find(hash, |(k, _)| k == key)
            .map(|(_, v)| f(v))
            .is_some()
    }

    fn insert_if_absent(&self, key: K, value: Arc<V>) -> Result<(), InsertError<V>> {
        let (hash, shard) = self.locate(&key);
        let mut table = write!(shard);
        let rehash = |(k, _): &(K, Arc<V>)| self.hasher.hash_one(k);
        match table.entry(hash, |(k, _)| *k == key, rehash) {
            Entry::Occupied(entry) => Err(InsertError::Occupied(Arc::clone(&entry.get().1))),
            Entry::Vacant(entry) => {
                // Reserve a place first so the bound is exact across shards.
                if self.len.fetch_add(1, Ordering::Relaxed) >= self.max_len {
                    self.len.fetch_sub(1, Ordering::Relaxed);
                    return Err(InsertError::Full(value));
                }
                entry.insert((key, value));
                Ok(())
            }
        }
    }

    fn replace(&self, key: &K, value: Arc<V>) -> Option<Arc<V>> {
        let (hash, shard) = self.locate(key);
        write!(shard)
            .find_mut(hash, |(k, _)| k == key)
            .map(|(_, slot)| std::mem::replace(slot, value))
    }

    fn remove(&self, key: &K) -> Option<Arc<V>> {
        let (hash, shard) = self.locate(key);
        let removed = match write!(shard).find_entry(hash, |(k, _)| k == key) {
            Ok(entry) => Some(entry.remove().0.1),
            Err(_) => None,
        };
        if removed.is_some() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    fn remove_if(&self, key: &K, expected: &Arc<V>) -> bool {
        let (hash, shard) = self.locate(key);
        let removed = match write!(shard).find_entry(hash, |(k, _)| k == key) {
            Ok(entry) if Arc::ptr_eq(&entry.get().1, expected) => {
                entry.remove();
                true
            }
            _ => false,
        };
        if removed {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn for_each(&self, f: &mut dyn FnMut(&K, &Arc<V>)) {
        for shard in self.shards.iter() {
            // One shard at a time, under its read lock: `f` must not call
            // into this registry (documented on the trait).
            for (key, value) in read!(shard).iter() {
                f(key, value);
            }
        }
    }
}
