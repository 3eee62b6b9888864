//! The lockless backend: an open-addressed table of `(key, value)` pointer
//! slots with CAS inserts, tombstoned values and epoch reclamation.
//!
//! The algorithm, the resize protocol and the ordering of each atomic are
//! described in the crate docs; the comments here say why at each step.

#![allow(unsafe_code)]

use crate::epoch::Collector;
use crate::sync::{AtomicIsize, AtomicPtr, AtomicUsize, HashBuilder, Ordering, RwLock};
use crate::{Config, InsertError, Registry};
use crossbeam_utils::CachePadded;
use std::hash::{BuildHasher, Hash};
use std::ptr;
use std::sync::Arc;

/// Smallest table, in slots (a power of two).
const MIN_CAPACITY: usize = 4;

/// A value slot that held a value which was removed. Address 1 is never a
/// pointer returned by `Arc::into_raw` (those are at least 8-aligned).
fn tombstone<V>() -> *mut V {
    ptr::without_provenance_mut(1)
}

fn is_live<V>(value: *mut V) -> bool {
    !value.is_null() && value != tombstone()
}

/// Key pointers in slots carry 16 bits of the key's hash in their unused
/// top bits (flagged by bit 0), so a probe skips most foreign slots without
/// touching their key box. A box whose address already uses the top bits
/// (no such allocator exists on x86-64 or AArch64 Linux) is stored untagged.
const TAG_SHIFT: u32 = 48;
const TAGGED: usize = 1;

fn tag_key<K>(key: *mut KeyBox<K>, hash: u64) -> *mut KeyBox<K> {
    let addr = key.addr() as u64;
    if usize::BITS < 64 || addr >> TAG_SHIFT != 0 {
        return key;
    }
    let tag = (hash >> TAG_SHIFT) << TAG_SHIFT;
    key.map_addr(|a| a | tag as usize | TAGGED)
}

/// The real key box pointer, and whether a tagged one can match `hash`.
fn untag_key<K>(key: *mut KeyBox<K>, hash: u64) -> (*mut KeyBox<K>, bool) {
    if key.addr() & TAGGED == 0 {
        return (key, true);
    }
    let low = (1u64 << TAG_SHIFT) - 1;
    let addr = key.addr() as u64;
    let real = key.map_addr(|a| (a as u64 & low & !(TAGGED as u64)) as usize);
    (real, (addr ^ hash) >> TAG_SHIFT == 0)
}

/// A key, boxed once and never moved, with its hash cached for probing.
struct KeyBox<K> {
    hash: u64,
    key: K,
}

/// One table entry. `key` goes from null to a key box once and never
/// changes while the table is current; `value` cycles null/live/tombstone.
struct Slot<K, V> {
    key: AtomicPtr<KeyBox<K>>,
    value: AtomicPtr<V>,
}

struct Table<K, V> {
    slots: Box<[Slot<K, V>]>,
    /// Key slots claimed (live or dead); a new key must reserve one first.
    used: CachePadded<AtomicUsize>,
    /// Most key slots that may be claimed: 3/4 of the slots, so a probe
    /// always meets an empty slot.
    limit: usize,
}

impl<K, V> Table<K, V> {
    /// A table of `capacity` empty slots, or `None` if memory is short.
    fn new(capacity: usize) -> Option<Box<Self>> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(capacity).ok()?;
        slots.extend((0..capacity).map(|_| Slot {
            key: AtomicPtr::new(ptr::null_mut()),
            value: AtomicPtr::new(ptr::null_mut()),
        }));
        Some(Box::new(Table {
            slots: slots.into_boxed_slice(),
            used: CachePadded::new(AtomicUsize::new(0)),
            limit: capacity / 4 * 3,
        }))
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Slots in probe order for `hash` (linear probing, whole table once).
    fn probe(&self, hash: u64) -> impl Iterator<Item = &Slot<K, V>> {
        let mask = self.mask();
        let start = hash as usize & mask;
        (0..=mask).map(move |i| &self.slots[(start + i) & mask])
    }
}

/// Memory waiting for a grace period.
enum Garbage<K, V> {
    /// The registry's own strong count of a removed or replaced value.
    Value(*const V),
    /// A table replaced by a resize, with the keys that were dead in it.
    /// Its live keys and all its values moved to the new table.
    Table(*mut Table<K, V>, Vec<*mut KeyBox<K>>),
}

// SAFETY: garbage is only dropped (values and keys freed) by whichever thread
// collects; that is sound when K and V may be sent and shared across threads.
unsafe impl<K: Send + Sync, V: Send + Sync> Send for Garbage<K, V> {}

impl<K, V> Drop for Garbage<K, V> {
    fn drop(&mut self) {
        match self {
            // SAFETY: the pointer came from `Arc::into_raw` and carried one
            // strong count owned by the registry, given up here exactly once;
            // the grace period has passed, so no reader is between loading
            // it and incrementing it.
            Garbage::Value(value) => drop(unsafe { Arc::from_raw(*value) }),
            Garbage::Table(table, dead_keys) => {
                for &key in dead_keys.iter() {
                    // SAFETY: dead keys were boxed by `insert_if_absent`, are in
                    // no newer table, and no reader can reach the old table.
                    drop(unsafe { Box::from_raw(untag_key(key, 0).0) });
                }
                // SAFETY: the table was boxed by `Table::new`; its slots own
                // nothing (live keys and values moved), so this frees only it.
                drop(unsafe { Box::from_raw(*table) });
            }
        }
    }
}

/// A lockless open-addressed registry: readers never block or lock;
/// writers claim slots with CAS and pause only while a resize runs.
pub struct LocklessRegistry<K, V, S = HashBuilder> {
    table: CachePadded<AtomicPtr<Table<K, V>>>,
    /// Writers hold it shared for one operation; a resize holds it alone.
    /// Readers never touch it.
    gate: RwLock<()>,
    /// Entries, reserved before an insert publishes its value.
    len: CachePadded<AtomicIsize>,
    collector: Collector<Garbage<K, V>>,
    hasher: S,
    config: Config,
}

// SAFETY: the registry owns boxed keys and Arc'd values reached through raw
// pointers; sharing or sending it shares or sends those K and V.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Send> Send for LocklessRegistry<K, V, S> {}
// SAFETY: as above; every shared mutation goes through atomics or the gate.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Sync> Sync for LocklessRegistry<K, V, S> {}

/// Outcome of one insert attempt in one table.
enum Attempt<V> {
    Inserted,
    Occupied(Arc<V>),
    NeedResize,
}

impl<K: Hash + Eq, V> LocklessRegistry<K, V> {
    /// An empty registry with the default [`Config`].
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// An empty registry sized and bounded by `config`.
    pub fn with_config(config: Config) -> Self {
        Self::with_config_and_hasher(config, HashBuilder::default())
    }
}

impl<K: Hash + Eq, V> Default for LocklessRegistry<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> LocklessRegistry<K, V, S> {
    /// An empty registry hashing with `hasher` (use a randomly seeded one;
    /// see the crate docs on collision floods).
    pub fn with_config_and_hasher(config: Config, hasher: S) -> Self {
        let capacity = capacity_for(config.initial_capacity);
        // A table of the default or a test's size always fits; if even that
        // fails, fall back to the smallest one rather than abort here.
        let table = Table::new(capacity)
            .or_else(|| Table::new(MIN_CAPACITY))
            .map_or(ptr::null_mut(), Box::into_raw);
        LocklessRegistry {
            table: CachePadded::new(AtomicPtr::new(table)),
            gate: RwLock::new(()),
            len: CachePadded::new(AtomicIsize::new(0)),
            collector: Collector::new(),
            hasher,
            config,
        }
    }

    /// The current table, valid while the caller is pinned or holds the gate.
    fn table(&self) -> Option<&Table<K, V>> {
        // Acquire: pairs with the Release publish in `resize`, so the slots
        // copied into the table are visible.
        let table = self.table.load(Ordering::Acquire);
        // SAFETY: a non-null table pointer is a live `Box<Table>`; it is
        // freed only after a grace period or with the gate held alone, and
        // every caller is pinned or holds the gate shared.
        unsafe { table.as_ref() }
    }

    fn find<'t>(&self, table: &'t Table<K, V>, hash: u64, key: &K) -> Option<&'t Slot<K, V>> {
        for slot in table.probe(hash) {
            // Acquire: pairs with the CAS that published the key box.
            let current = slot.key.load(Ordering::Acquire);
            if current.is_null() {
                return None;
            }
            if let Some(found) = key_box(current, hash) {
                if found.hash == hash && found.key == *key {
                    return Some(slot);
                }
            }
        }
        None
    }

    /// Inserts into `table` while holding the gate shared.
    fn try_insert(
        &self,
        table: &Table<K, V>,
        key: &mut *mut KeyBox<K>,
        value: *mut V,
    ) -> Attempt<V> {
        // SAFETY: `key` is our own unpublished box until a CAS succeeds, and
        // the caller stops using it (sets it null) once it is published.
        let (hash, new_key) = unsafe { ((**key).hash, &(**key).key) };
        for slot in table.probe(hash) {
            let mut current = slot.key.load(Ordering::Acquire);
            if current.is_null() {
                if table.used.fetch_add(1, Ordering::Relaxed) >= table.limit {
                    table.used.fetch_sub(1, Ordering::Relaxed);
                    return Attempt::NeedResize;
                }
                // AcqRel: Release publishes the key box's contents to
                // readers; Acquire (also on failure) reads the winner's.
                let tagged = tag_key(*key, hash);
                match slot.key.compare_exchange(
                    current,
                    tagged,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        *key = ptr::null_mut();
                        return self.put_value(slot, value);
                    }
                    Err(actual) => {
                        table.used.fetch_sub(1, Ordering::Relaxed);
                        current = actual;
                    }
                }
            }
            if let Some(found) = key_box(current, hash) {
                if found.hash == hash && found.key == *new_key {
                    return self.put_value(slot, value);
                }
            }
        }
        Attempt::NeedResize
    }

    /// Fills the value of a slot whose key is ours, unless one is there.
    fn put_value(&self, slot: &Slot<K, V>, value: *mut V) -> Attempt<V> {
        let mut current = slot.value.load(Ordering::Acquire);
        loop {
            if is_live(current) {
                // SAFETY: a live value seen while pinned stays allocated.
                return Attempt::Occupied(unsafe { clone_raw(current) });
            }
            // Release: readers that Acquire the pointer see the value.
            match slot
                .value
                .compare_exchange(current, value, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Attempt::Inserted,
                Err(actual) => current = actual,
            }
        }
    }

    /// Replaces a full table (seen as `seen`) by one sized for its live
    /// entries, with the gate held alone. Returns false if memory is short.
    fn resize(&self, seen: *mut Table<K, V>) -> bool {
        let gate = self
            .gate
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.table.load(Ordering::Acquire);
        if current != seen {
            return true; // another writer resized already
        }
        // SAFETY: the current table, kept alive by the exclusive gate (only
        // a resize retires a table).
        let Some(old) = (unsafe { current.as_ref() }) else {
            return false;
        };
        let mut live = Vec::new();
        let mut dead = Vec::new();
        for slot in old.slots.iter() {
            // No writer runs (gate held alone); readers only load.
            let key = slot.key.load(Ordering::Acquire);
            let value = slot.value.load(Ordering::Acquire);
            if key.is_null() {
                continue;
            }
            if is_live(value) {
                live.push((key, value));
            } else {
                dead.push(key);
            }
        }
        let capacity = capacity_for(
            live.len()
                .saturating_mul(2)
                .max(self.config.initial_capacity),
        );
        let Some(new) = Table::new(capacity) else {
            return false;
        };
        for &(key, value) in &live {
            // SAFETY: a published key box of the old table.
            let hash = unsafe { (*untag_key(key, 0).0).hash };
            if let Some(slot) = new
                .probe(hash)
                .find(|s| s.key.load(Ordering::Relaxed).is_null())
            {
                // Relaxed: the table is unpublished; the Release store of
                // the table pointer below publishes these.
                slot.key.store(key, Ordering::Relaxed);
                slot.value.store(value, Ordering::Relaxed);
            }
        }
        new.used.store(live.len(), Ordering::Relaxed);
        // Release: readers that Acquire the new table see its slots.
        self.table.store(Box::into_raw(new), Ordering::Release);
        drop(gate);
        // Readers may still be in the old table: free it after a grace period.
        self.collector.retire(Garbage::Table(current, dead));
        true
    }

    /// Gives up the registry's count of `value` after a grace period.
    fn retire_value(&self, value: *mut V) {
        self.collector.retire(Garbage::Value(value));
    }

    fn write_gate(&self) -> crate::sync::RwLockReadGuard<'_, ()> {
        // Poison cannot leave the table inconsistent: every step is atomic.
        self.gate
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The key box a non-null slot key points to, unless its tag rules out
/// `hash`. The box lives as long as the table holding it (it is freed only
/// with a retired table, after a grace period), and callers keep the table
/// alive for `'t`.
fn key_box<'t, K>(key: *mut KeyBox<K>, hash: u64) -> Option<&'t KeyBox<K>> {
    let (real, may_match) = untag_key(key, hash);
    // SAFETY: a published key box, alive for `'t` (see above).
    may_match.then(|| unsafe { &*real })
}

/// Clones an `Arc` from the raw pointer the registry holds.
///
/// # Safety
/// `value` came from `Arc::into_raw` and its registry count is not given up
/// before the caller's pin ends.
unsafe fn clone_raw<V>(value: *const V) -> Arc<V> {
    // SAFETY: per the contract the allocation holds at least the registry's
    // strong count, so adding one and adopting it is sound.
    unsafe {
        Arc::increment_strong_count(value);
        Arc::from_raw(value)
    }
}

/// Slots for a table asked to hold about `wanted` entries.
fn capacity_for(wanted: usize) -> usize {
    wanted
        .max(MIN_CAPACITY)
        .checked_next_power_of_two()
        .unwrap_or(1 << (usize::BITS - 2))
}

impl<K: Hash + Eq, V, S: BuildHasher> Registry<K, V> for LocklessRegistry<K, V, S> {
    fn get(&self, key: &K) -> Option<Arc<V>> {
        let hash = self.hasher.hash_one(key);
        let _pin = self.collector.pin();
        let slot = self.find(self.table()?, hash, key)?;
        // Acquire: pairs with the Release CAS that published the value.
        let value = slot.value.load(Ordering::Acquire);
        // SAFETY: loaded while pinned; retirement waits for the pin.
        is_live(value).then(|| unsafe { clone_raw(value) })
    }

    fn inspect(&self, key: &K, f: &mut dyn FnMut(&V)) -> bool {
        let hash = self.hasher.hash_one(key);
        let _pin = self.collector.pin();
        let Some(slot) = self.table().and_then(|t| self.find(t, hash, key)) else {
            return false;
        };
        // Acquire: pairs with the Release CAS that published the value.
        let value = slot.value.load(Ordering::Acquire);
        if !is_live(value) {
            return false;
        }
        // SAFETY: loaded while pinned, so the registry's count on it is given
        // up (and the value possibly freed) only after `_pin` drops, which is
        // after `f` returns.
        f(unsafe { &*value });
        true
    }

    fn insert_if_absent(&self, key: K, value: Arc<V>) -> Result<(), InsertError<V>> {
        // A present key (the common failure) costs one lookup and no
        // allocation.
        if let Some(existing) = self.get(&key) {
            return Err(InsertError::Occupied(existing));
        }
        // Reserve a place first so the bound is exact.
        let max_len = isize::try_from(self.config.max_len).unwrap_or(isize::MAX);
        if self.len.fetch_add(1, Ordering::Relaxed) >= max_len {
            self.len.fetch_sub(1, Ordering::Relaxed);
            // A present key is still "exists", as on the locked backend.
            return Err(match self.get(&key) {
                Some(existing) => InsertError::Occupied(existing),
                None => InsertError::Full(value),
            });
        }
        let hash = self.hasher.hash_one(&key);
        let mut key = Box::into_raw(Box::new(KeyBox { hash, key }));
        let value = Arc::into_raw(value).cast_mut();
        let outcome = loop {
            let gate = self.write_gate();
            let pin = self.collector.pin();
            let seen = self.table.load(Ordering::Acquire);
            let attempt = match self.table() {
                Some(table) => self.try_insert(table, &mut key, value),
                None => Attempt::NeedResize,
            };
            drop(pin);
            drop(gate);
            match attempt {
                Attempt::NeedResize if self.resize(seen) => continue,
                other => break other,
            }
        };
        if !key.is_null() {
            // SAFETY: never published, still ours alone.
            drop(unsafe { Box::from_raw(key) });
        }
        if matches!(outcome, Attempt::Inserted) {
            return Ok(());
        }
        self.len.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the value was not published; this is the count
        // `Arc::into_raw` gave us.
        let value = unsafe { Arc::from_raw(value) };
        Err(match outcome {
            Attempt::Occupied(existing) => InsertError::Occupied(existing),
            _ => InsertError::Full(value),
        })
    }

    fn replace(&self, key: &K, value: Arc<V>) -> Option<Arc<V>> {
        let hash = self.hasher.hash_one(key);
        let new = Arc::into_raw(value).cast_mut();
        let swapped = {
            let _gate = self.write_gate();
            let _pin = self.collector.pin();
            self.table()
                .and_then(|table| self.find(table, hash, key))
                .and_then(|slot| {
                    let mut current = slot.value.load(Ordering::Acquire);
                    while is_live(current) {
                        // AcqRel: publish the new value, read the old one.
                        match slot.value.compare_exchange(
                            current,
                            new,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        ) {
                            // SAFETY: the old value is live until retired below.
                            Ok(_) => return Some((current, unsafe { clone_raw(current) })),
                            Err(actual) => current = actual,
                        }
                    }
                    None
                })
        };
        match swapped {
            Some((old, returned)) => {
                self.retire_value(old);
                Some(returned)
            }
            None => {
                // SAFETY: not published; the count `into_raw` gave us.
                drop(unsafe { Arc::from_raw(new) });
                None
            }
        }
    }

    fn remove(&self, key: &K) -> Option<Arc<V>> {
        let hash = self.hasher.hash_one(key);
        let (old, returned) = {
            let _gate = self.write_gate();
            let _pin = self.collector.pin();
            let slot = self.find(self.table()?, hash, key)?;
            let mut current = slot.value.load(Ordering::Acquire);
            loop {
                if !is_live(current) {
                    return None;
                }
                // AcqRel: Acquire orders our clone after the value's writes;
                // Release orders the tombstone after our earlier accesses.
                match slot.value.compare_exchange(
                    current,
                    tombstone(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    // SAFETY: live until retired below, after the pin.
                    Ok(_) => break (current, unsafe { clone_raw(current) }),
                    Err(actual) => current = actual,
                }
            }
        };
        self.len.fetch_sub(1, Ordering::Relaxed);
        self.retire_value(old);
        Some(returned)
    }

    fn remove_if(&self, key: &K, expected: &Arc<V>) -> bool {
        let hash = self.hasher.hash_one(key);
        let expected = Arc::as_ptr(expected).cast_mut();
        let removed = {
            let _gate = self.write_gate();
            let _pin = self.collector.pin();
            self.table()
                .and_then(|table| self.find(table, hash, key))
                .is_some_and(|slot| {
                    slot.value
                        .compare_exchange(
                            expected,
                            tombstone(),
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        )
                        .is_ok()
                })
        };
        if removed {
            self.len.fetch_sub(1, Ordering::Relaxed);
            self.retire_value(expected);
        }
        removed
    }

    fn len(&self) -> usize {
        usize::try_from(self.len.load(Ordering::Relaxed)).unwrap_or(0)
    }

    fn for_each(&self, f: &mut dyn FnMut(&K, &Arc<V>)) {
        let _pin = self.collector.pin();
        let Some(table) = self.table() else { return };
        for slot in table.slots.iter() {
            let key = slot.key.load(Ordering::Acquire);
            if key.is_null() {
                continue;
            }
            // SAFETY: a published key box, alive while pinned.
            let key = unsafe { &*untag_key(key, 0).0 };
            let value = slot.value.load(Ordering::Acquire);
            if is_live(value) {
                // SAFETY: live while pinned; ManuallyDrop lends the
                // registry's own count without touching it.
                let value = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(value) });
                f(&key.key, &value);
            }
        }
    }
}

impl<K, V, S> Drop for LocklessRegistry<K, V, S> {
    fn drop(&mut self) {
        let table = self.table.load(Ordering::Relaxed);
        if table.is_null() {
            return;
        }
        // SAFETY: `&mut self`: no reader or writer remains; the current
        // table owns its keys and the registry's count of its live values.
        let table = unsafe { Box::from_raw(table) };
        for slot in table.slots.iter() {
            let key = slot.key.load(Ordering::Relaxed);
            if !key.is_null() {
                // SAFETY: a key box owned by the current table, freed once.
                drop(unsafe { Box::from_raw(untag_key(key, 0).0) });
            }
            let value = slot.value.load(Ordering::Relaxed);
            if is_live(value) {
                // SAFETY: the registry's own strong count, given up once.
                drop(unsafe { Arc::from_raw(value) });
            }
        }
        // Retired tables and values are freed by the collector's drop.
    }
}
