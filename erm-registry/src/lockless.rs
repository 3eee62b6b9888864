//! The lockless backend: an open-addressed table of slots holding the key
//! inline next to a tagged value pointer, with CAS inserts, tombstoned
//! values and epoch reclamation.
//!
//! The algorithm, the resize protocol and the ordering of each atomic are
//! described in the crate docs; the comments here say why at each step.

#![allow(unsafe_code)]

use crate::epoch::Collector;
use crate::sync::{
    AtomicIsize, AtomicPtr, AtomicUsize, HashBuilder, Ordering, RwLock, UnsafeCell, spin,
};
use crate::{Config, InsertError, Registry};
use crossbeam_utils::CachePadded;
use std::hash::{BuildHasher, Hash};
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::Arc;

/// Smallest table, in slots (a power of two).
const MIN_CAPACITY: usize = 4;

/// The value word of a slot whose key was removed (or, transiently, whose
/// first value is not in yet). Address 1 is never a pointer returned by
/// `Arc::into_raw` (those are at least 8-aligned).
fn tombstone<V>() -> *mut V {
    ptr::without_provenance_mut(1)
}

/// The value word of a slot claimed by an inserter that is still writing
/// the key; no one reads the key until the word leaves this state.
fn busy<V>() -> *mut V {
    ptr::without_provenance_mut(2)
}

/// Whether a value word holds an `Arc` (not empty, busy or a tombstone).
fn is_live<V>(value: *mut V) -> bool {
    value.addr() > 2
}

/// One table entry: the value word and the key, inline so that a hit reads
/// one slot (the key's own heap data aside) before the value.
///
/// `value` is null (empty), then busy (claimed, key being written), then
/// cycles live/tombstone; the key is written once, between the claim and
/// the Release store that ends "busy", and never changes while the table
/// is current. Slots are packed (no alignment beyond the fields'): with a
/// 32-byte key a slot is 40 bytes, and aligning it to 32 would pad it to
/// 64, which a memory-at-rest budget per entry (ermfs: per closed file)
/// cannot afford; a slot that straddles two lines costs one more line only
/// when its key is compared. The key needs no bound for living here: the
/// resize moves it bitwise, as every Rust move does, and drops only the
/// copy that stays owned.
#[repr(C)]
struct Slot<K, V> {
    value: AtomicPtr<V>,
    key: UnsafeCell<MaybeUninit<K>>,
}

impl<K, V> Slot<K, V> {
    fn empty() -> Self {
        Slot {
            value: AtomicPtr::new(ptr::null_mut()),
            key: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Calls `f` on the key.
    ///
    /// # Safety
    /// The caller saw (with Acquire) a value word that is neither null nor
    /// busy in this slot, and keeps the table alive (pinned or gated).
    unsafe fn with_key<R>(&self, f: impl FnOnce(&K) -> R) -> R {
        // SAFETY: per the contract the key was written before the Release
        // store the caller acquired, and is dropped only with the retired
        // table after a grace period (or when the registry drops).
        self.key.with(|key| f(unsafe { (*key).assume_init_ref() }))
    }
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
        advise_huge_pages(slots.spare_capacity_mut());
        slots.extend((0..capacity).map(|_| Slot::empty()));
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
    /// A table replaced by a resize, with the indices of the keys that were
    /// dead in it. Its live keys (bitwise) and values moved to the new table.
    Table(*mut Table<K, V>, Vec<usize>),
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
            Garbage::Table(table, dead) => {
                // SAFETY: the table was boxed by `Table::new`; no reader can
                // reach it any more (grace period) and only this drop owns it.
                let table = unsafe { Box::from_raw(*table) };
                for &i in dead.iter() {
                    if let Some(slot) = table.slots.get(i) {
                        slot.key.with_mut(|key| {
                            // SAFETY: a written key that was dead at the
                            // resize: in no newer table, dropped once, here.
                            // Live keys were moved out bitwise: not dropped.
                            unsafe { (*key).assume_init_drop() }
                        });
                    }
                }
                // Slots own nothing else: dropping the box frees the memory.
            }
        }
    }
}

/// A lockless open-addressed registry: readers never block or lock;
/// writers claim slots with CAS and pause only while a resize runs.
pub struct LocklessRegistry<K, V, S = HashBuilder> {
    table: CachePadded<AtomicPtr<Table<K, V>>>,
    /// Writers hold it shared for one operation; a resize holds it alone.
    /// Readers never touch it; padded so that writers taking it do not
    /// evict the read-mostly fields (hasher keys, collector) from readers.
    gate: CachePadded<RwLock<()>>,
    /// Entries, reserved before an insert publishes its value.
    len: CachePadded<AtomicIsize>,
    collector: Collector<Garbage<K, V>>,
    hasher: S,
    config: Config,
}

// SAFETY: the registry owns the keys in its tables and Arc'd values reached
// through raw pointers; sharing or sending it shares or sends those K and V.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Send> Send for LocklessRegistry<K, V, S> {}
// SAFETY: as above; every shared mutation goes through atomics or the gate.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Sync> Sync for LocklessRegistry<K, V, S> {}

/// Outcome of one insert attempt in one table.
enum Attempt<V> {
    Inserted,
    Occupied(Arc<V>),
    NeedResize,
}

impl<K, V, S> LocklessRegistry<K, V, S> {
    /// Bytes one table slot takes: the key inline plus the value word
    /// (`size_of::<K>() + 8` on 64-bit targets for 8-aligned keys). A table
    /// holds at most 3/4 of its slots, so this over 0.75 is the least an
    /// entry costs at rest; users with a memory budget per entry can pin it
    /// in a test.
    pub const SLOT_BYTES: usize = std::mem::size_of::<Slot<K, V>>();
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
            gate: CachePadded::new(RwLock::new(())),
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

    /// The slot holding `key` and the value word read from it, if the key
    /// is in `table`. Busy slots are passed over: their insert has not
    /// happened yet, so the key is not in the map (see the crate docs).
    fn find<'t>(
        &self,
        table: &'t Table<K, V>,
        hash: u64,
        key: &K,
    ) -> Option<(&'t Slot<K, V>, *mut V)> {
        for slot in table.probe(hash) {
            // Acquire: pairs with the Release store that ended "busy", so
            // the key (and a live value's contents) are visible.
            let value = slot.value.load(Ordering::Acquire);
            if value.is_null() {
                return None;
            }
            if value == busy() {
                continue;
            }
            if is_live(value) {
                // The value's line is fetched while the key is compared
                // (whose heap data may miss too), instead of after.
                prefetch(value);
            }
            // SAFETY: not null and not busy, seen with Acquire; the caller
            // keeps the table alive.
            if unsafe { slot.with_key(|k| k == key) } {
                return Some((slot, value));
            }
        }
        None
    }

    /// Inserts into `table` while holding the gate shared; takes the key
    /// out of `key` once it is written into a slot.
    fn try_insert(
        &self,
        table: &Table<K, V>,
        hash: u64,
        key: &mut Option<K>,
        value: *mut V,
    ) -> Attempt<V> {
        let Some(new_key) = key.as_ref() else {
            return Attempt::NeedResize;
        };
        for slot in table.probe(hash) {
            let mut current = slot.value.load(Ordering::Acquire);
            if current.is_null() {
                if table.used.fetch_add(1, Ordering::Relaxed) >= table.limit {
                    table.used.fetch_sub(1, Ordering::Relaxed);
                    return Attempt::NeedResize;
                }
                // Acquire on failure: a winner's later Release store is
                // what we wait for below; success needs no ordering (the
                // key is published by the Release store after it).
                match slot.value.compare_exchange(
                    current,
                    busy(),
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        let Some(owned) = key.take() else {
                            return Attempt::NeedResize;
                        };
                        // No one reads or writes the key of a busy slot.
                        slot.key.with_mut(|k| {
                            // SAFETY: we own the busy slot; its key was
                            // never written (slots go empty -> busy once).
                            unsafe { (*k).write(owned) };
                        });
                        // Release: publishes the key and the value together.
                        slot.value.store(value, Ordering::Release);
                        return Attempt::Inserted;
                    }
                    Err(actual) => {
                        table.used.fetch_sub(1, Ordering::Relaxed);
                        current = actual;
                    }
                }
            }
            // Another inserter owns this slot and is writing a key that may
            // be ours: wait for its (short, non-blocking) publish, so that a
            // key never lands in two slots. Only writers wait, never readers.
            let mut step = 0;
            while current == busy() {
                spin(&mut step);
                current = slot.value.load(Ordering::Acquire);
            }
            // SAFETY: not null (slots never go back to empty in a current
            // table) and not busy, seen with Acquire; we hold the gate.
            if unsafe { slot.with_key(|k| k == new_key) } {
                return self.put_value(slot, current, value);
            }
        }
        Attempt::NeedResize
    }

    /// Fills the value of a slot whose key is ours, unless one is there.
    fn put_value(&self, slot: &Slot<K, V>, mut current: *mut V, value: *mut V) -> Attempt<V> {
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
        for (i, slot) in old.slots.iter().enumerate() {
            // No writer runs (gate held alone), so no slot is busy; readers
            // only load.
            let value = slot.value.load(Ordering::Acquire);
            if value.is_null() {
                continue;
            }
            if is_live(value) {
                live.push((i, value));
            } else {
                dead.push(i);
            }
        }
        let capacity = capacity_for(
            live.len()
                .saturating_mul(2)
                .max(self.config.initial_capacity),
        );
        let Some(new) = Table::<K, V>::new(capacity) else {
            return false;
        };
        for &(i, value) in &live {
            let from = &old.slots[i];
            // SAFETY: a written key of the frozen old table (gate alone).
            let hash = unsafe { from.with_key(|k| self.hasher.hash_one(k)) };
            if let Some(to) = new
                .probe(hash)
                .find(|s| s.value.load(Ordering::Relaxed).is_null())
            {
                // The key moves bitwise: from now on the new table owns it,
                // and the old copy is only read (by late readers) until the
                // old table is freed without dropping it.
                from.key.with(|src| {
                    to.key.with_mut(|dst| {
                        // SAFETY: `src` is a written key; `dst` an unwritten
                        // slot of the unpublished table; they do not overlap.
                        unsafe { ptr::copy_nonoverlapping(src, dst, 1) }
                    })
                });
                // Relaxed: the table is unpublished; the Release store of
                // the table pointer below publishes these.
                to.value.store(value, Ordering::Relaxed);
            }
        }
        new.used.store(live.len(), Ordering::Relaxed);
        // Release: readers that Acquire the new table see its slots.
        self.table.store(Box::into_raw(new), Ordering::Release);
        drop(gate);
        // Readers may still be in the old table: free it after a grace period.
        // At once: an old table is as big as half the new one, and a map
        // that only grows retires nothing else to fill a batch.
        self.collector.retire_now(Garbage::Table(current, dead));
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

/// Asks the CPU to start fetching the line `value` points into (a live
/// `Arc`'s data, next to its counts). Only a hint: nothing is dereferenced,
/// so any address (a tombstone included) is fine.
#[inline(always)]
fn prefetch<V>(value: *const V) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `prefetcht0` never faults or reads memory architecturally,
    // whatever the address; SSE is part of the x86-64 baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(value.cast());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = value;
}

/// Asks the kernel to back a big table (not yet touched) with transparent
/// huge pages where it is set to `madvise` (the common default): every
/// probe lands on a random slot, and with 4 KiB pages each is also a TLB
/// miss (a two-level walk under a hypervisor). Only advice: any failure
/// (old kernel, THP off) leaves ordinary pages, so the result is ignored.
fn advise_huge_pages<T>(memory: &mut [T]) {
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(memory);
    if bytes < 2 * HUGE || cfg!(any(miri, loom)) {
        return;
    }
    let start = memory.as_mut_ptr().cast::<u8>();
    let page = 4096;
    let offset = start.align_offset(page);
    if offset >= bytes {
        return;
    }
    let len = (bytes - offset) / page * page;
    #[cfg(not(any(miri, loom)))]
    // SAFETY: the range lies inside memory we own and have not handed to
    // anyone; MADV_HUGEPAGE changes how it is backed, never its contents.
    unsafe {
        libc::madvise(start.add(offset).cast(), len, libc::MADV_HUGEPAGE);
    }
    #[cfg(any(miri, loom))]
    let _ = (start, offset, len);
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
        let (_, value) = self.find(self.table()?, hash, key)?;
        // SAFETY: loaded (Acquire) while pinned; retirement waits for the pin.
        is_live(value).then(|| unsafe { clone_raw(value) })
    }

    fn inspect(&self, key: &K, f: &mut dyn FnMut(&V)) -> bool {
        let hash = self.hasher.hash_one(key);
        let _pin = self.collector.pin();
        let Some((_, value)) = self.table().and_then(|t| self.find(t, hash, key)) else {
            return false;
        };
        if !is_live(value) {
            return false;
        }
        // SAFETY: loaded (Acquire) while pinned, so the registry's count on
        // it is given up (and the value possibly freed) only after `_pin`
        // drops, which is after `f` returns.
        f(unsafe { &*value });
        true
    }

    fn insert_if_absent(&self, key: K, value: Arc<V>) -> Result<(), InsertError<V>> {
        // A present key (the common failure) costs one lookup.
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
        let mut key = Some(key);
        let value = Arc::into_raw(value).cast_mut();
        let outcome = loop {
            let gate = self.write_gate();
            let pin = self.collector.pin();
            let seen = self.table.load(Ordering::Acquire);
            let attempt = match self.table() {
                Some(table) => self.try_insert(table, hash, &mut key, value),
                None => Attempt::NeedResize,
            };
            drop(pin);
            drop(gate);
            match attempt {
                Attempt::NeedResize if self.resize(seen) => continue,
                other => break other,
            }
        };
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
                .and_then(|(slot, mut current)| {
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
            let (slot, mut current) = self.find(self.table()?, hash, key)?;
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
                .is_some_and(|(slot, _)| {
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
            // Acquire: as in `find`.
            let value = slot.value.load(Ordering::Acquire);
            if is_live(value) {
                // SAFETY: live while pinned; ManuallyDrop lends the
                // registry's own count without touching it.
                let value = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(value) });
                // SAFETY: live, so not empty or busy, seen with Acquire;
                // the table is alive while pinned.
                unsafe { slot.with_key(|key| f(key, &value)) };
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
            let value = slot.value.load(Ordering::Relaxed);
            if value.is_null() {
                continue;
            }
            // No insert is in flight (`&mut self`), so no slot is busy and
            // every claimed slot's key was written.
            slot.key.with_mut(|key| {
                // SAFETY: a written key owned by the current table, dropped once.
                unsafe { (*key).assume_init_drop() }
            });
            if is_live(value) {
                // SAFETY: the registry's own strong count, given up once.
                drop(unsafe { Arc::from_raw(value) });
            }
        }
        // Retired tables and values are freed by the collector's drop.
    }
}
