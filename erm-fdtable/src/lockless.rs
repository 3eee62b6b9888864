//! The lockless backend: a pre-allocated slot array, slots claimed by CAS,
//! a generation tag per slot against ABA, and a per-slot reader count as the
//! memory-reclamation scheme.
//!
//! The slot state machine, the reclamation scheme and every memory ordering
//! are documented on [`LocklessFdTable`], where rustdoc shows them.

use crate::sync::{AtomicU64, Ordering, Spin, UnsafeCell};
use crate::{DEFAULT_CAPACITY, FdTable, MAX_CAPACITY, errno, index};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::io;
use std::sync::Arc;

use Ordering::{Acquire, Relaxed, Release};

const STATE_MASK: u64 = 0b11;
const FREE: u64 = 0;
const BUSY: u64 = 1;
const FULL: u64 = 2;
const REPLACING: u64 = 3;
/// One reader in the count field.
const READER: u64 = 1 << 2;
const READERS_MASK: u64 = 0x3FFF_FFFF << 2;
const GEN_SHIFT: u32 = 32;

#[inline]
fn state(word: u64) -> u64 {
    word & STATE_MASK
}

#[inline]
fn readers(word: u64) -> u64 {
    (word & READERS_MASK) >> 2
}

#[inline]
fn generation(word: u64) -> u32 {
    (word >> GEN_SHIFT) as u32
}

/// `word` with its state replaced by `new` (count and generation kept).
#[inline]
fn with_state(word: u64, new: u64) -> u64 {
    (word & !STATE_MASK) | new
}

/// Table word fields: hint in bits 0..21, open count in 21..42, version above.
const HINT_MASK: u64 = (1 << 21) - 1;
const LEN_ONE: u64 = 1 << 21;
const VERSION_ONE: u64 = 1 << 42;
// Hint (up to the capacity) and count (up to the capacity) fit their 21 bits.
const _: () = assert!(MAX_CAPACITY < 1 << 21);

#[inline]
fn hint(table: u64) -> u64 {
    table & HINT_MASK
}

#[inline]
fn open_count(table: u64) -> usize {
    ((table >> 21) & HINT_MASK) as usize
}

#[inline]
fn version(table: u64) -> u64 {
    table >> 42
}

#[inline]
fn make(generation: u32, state: u64) -> u64 {
    (u64::from(generation) << GEN_SHIFT) | state
}

/// Where descriptor `fd` lives in a slot array of `capacity`: within each
/// full group of 64 slots the bits of `fd` are permuted so that consecutive
/// fds sit on different cache lines, two lines apart (four 16-byte slots to
/// a 64-byte line). Threads opening and closing neighbouring low fds, the
/// common case under lowest-free numbering, then do not false-share. The
/// partial last group is laid out in order.
#[inline]
fn position(fd: usize, capacity: usize) -> usize {
    if fd >= capacity & !63 {
        return fd;
    }
    // fd bits b5..b0 -> position bits b2 b1 b0 b3 b5 b4: the line is
    // (b2 b1 b0 b3), the place within the line (b5 b4).
    let line = ((fd & 7) << 1) | ((fd >> 3) & 1);
    (fd & !63) | (line << 2) | ((fd >> 4) & 3)
}

struct Slot<V> {
    word: AtomicU64,
    value: UnsafeCell<Option<Arc<V>>>,
}

/// A descriptor table of CAS-claimed slots with generation tags.
///
/// # Slot word
///
/// Each slot is an `AtomicU64` beside a cell holding `Option<Arc<V>>`:
///
/// ```text
///  63            32 31             2 1  0
/// +----------------+----------------+----+
/// |   generation   |  reader count  | st |
/// +----------------+----------------+----+
/// ```
///
/// # State machine
///
/// ```text
///            insert / insert_at: CAS, gen unchanged
///   FREE ------------------------------------------> BUSY (owner writes cell)
///    ^                                                 |
///    |  owner takes cell, store FREE                   | store FULL, gen + 1
///    |                                                 v
///   BUSY (readers drain) <------ remove: CAS ------- FULL <---- get: CAS readers + 1
///                                                    |  ^      (then clone, readers - 1)
///                            insert_at: CAS          |  | owner swaps cell,
///                                                    v  | store FULL, gen + 1
///                                                  REPLACING (readers drain)
/// ```
///
/// - `FREE`: the cell is `None`, the reader count is 0. `insert` and
///   `insert_at` claim it by one CAS to `BUSY`.
/// - `BUSY`: exactly one thread owns the slot: an inserter writing the cell,
///   or a remover waiting for readers to leave and then taking the value.
///   `get` and `remove` treat it as closed, `insert` skips it, `insert_at`
///   waits for it to settle.
/// - `FULL`: the cell holds the value of this generation. `get` pins it by a
///   CAS that adds one reader *and compares the generation*, clones the `Arc`
///   out of the cell and unpins with `fetch_sub`.
/// - `REPLACING`: `insert_at` owns a full slot; readers already pinned finish
///   their clone, new `get`s wait (the descriptor is never seen closed
///   during a `dup2`), then the owner swaps the cell and publishes `FULL`
///   with the next generation.
///
/// Only the owner of a `BUSY`/`REPLACING` slot stores to the word; everybody
/// else changes it by RMW (pin CAS, unpin `fetch_sub`), so no update is lost.
///
/// # Reclamation and ABA
///
/// The value is never freed while a reader may touch it because reading is
/// bracketed by the slot's own reader count: `remove`/`insert_at` move the
/// slot out of `FULL` (no new pins) and wait until the count drains to 0
/// before touching the cell. A pin is a few instructions (one `Arc` clone), so
/// the wait is short, needs no global epoch, no deferred garbage and no
/// allocation, and lives entirely in the one atomic word, which is why it runs
/// unchanged inside loom. A remove that returns has freed its slot, so the
/// POSIX lowest-free rule holds exactly for a thread that closes then opens.
///
/// ABA: a reader loads the word, then pins with a CAS expecting that exact
/// word. If the descriptor was closed and reopened in between, the generation
/// differs (each `FULL` publication bumps it), so the CAS fails and the reader
/// looks again; [`FdTable::get_if_generation`] then returns `None` rather than
/// the new file. A pin can therefore only ever be taken on the occupancy the
/// reader saw.
///
/// # Memory orderings
///
/// - Claim CAS `FREE -> BUSY` (`Acquire`): pairs with the `Release` store of
///   `FREE` by the last remover, so its `take()` of the cell happens before
///   our write.
/// - Publish store `BUSY/REPLACING -> FULL` (`Release`): makes the cell write
///   visible to every later pin.
/// - Pin CAS `readers + 1` (`Acquire` on success): reads the `FULL`
///   publication or an RMW in its release sequence, so the cell holds the
///   published value when we clone it. Failure and the first load are
///   `Relaxed`: their value is only a guess the CAS verifies.
/// - Unpin `fetch_sub` (`Release`): orders our read of the cell before the
///   owner's `Acquire` load that sees the count at 0.
/// - Remove/replace CAS out of `FULL` (`Acquire`) and the drain loads
///   (`Acquire`): pair with the publication and with every unpin, so the
///   owner's write or `take()` of the cell happens after all reads.
/// - Free store `BUSY -> FREE` (`Release`): see the claim CAS.
/// - Table word: the lowest-free hint (bits 0..21), the open count (bits
///   21..42) and a version (bits 42..64) share one padded atomic, so each
///   insert and each remove pays one table-wide RMW, not two. Every free
///   does a `Release` RMW that lowers the hint to the freed fd, decrements
///   the count and bumps the version, *after* storing `FREE`; an inserter
///   loads the word with `Acquire`, so when it reads a hint written by a free
///   it also sees that slot `FREE`. An inserter counts itself and raises the
///   hint past the slot it claimed in one RMW, raising only if the version
///   is still the one it started from (no free in between), so "every slot
///   below the hint is taken" holds whenever no free is in flight; a lost
///   race merely leaves the hint lower (slower, never wrong). An insert that
///   finds no free slot looks again if the version moved during its scan (a
///   slot behind it may have been freed), so `EMFILE` means every slot was
///   seen taken while no free completed.
/// - The count is incremented before the `FULL` publication and decremented
///   after the slot is freed, so happens-before (through the slot word) keeps
///   it from going below zero and borrowing from the version.
pub struct LocklessFdTable<V> {
    slots: Box<[Slot<V>]>,
    /// Lowest-free hint, open count and version (see the type docs).
    table: CachePadded<AtomicU64>,
}

// SAFETY: the table hands out `Arc<V>` clones to any thread and drops values
// on any thread, which needs `V: Send + Sync`; the cells are only written by
// the single owner of a BUSY/REPLACING slot with no reader pinned, and read
// only under a pin (type docs), so sharing the table is race-free.
unsafe impl<V: Send + Sync> Sync for LocklessFdTable<V> {}

impl<V> fmt::Debug for LocklessFdTable<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocklessFdTable")
            .field("capacity", &self.slots.len())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<V> Default for LocklessFdTable<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> LocklessFdTable<V> {
    /// An empty table of [`DEFAULT_CAPACITY`] descriptors.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// An empty table of `capacity` descriptors (clamped to [`MAX_CAPACITY`]),
    /// all allocated now.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.min(MAX_CAPACITY);
        let slots = (0..capacity)
            .map(|_| Slot {
                word: AtomicU64::new(make(0, FREE)),
                value: UnsafeCell::new(None),
            })
            .collect();
        LocklessFdTable {
            slots,
            table: CachePadded::new(AtomicU64::new(0)),
        }
    }

    fn slot(&self, fd: i32) -> Option<&Slot<V>> {
        index(fd, self.slots.len()).map(|i| self.slot_at(i))
    }

    /// The slot of descriptor `i < capacity`, through [`position`].
    #[inline]
    fn slot_at(&self, i: usize) -> &Slot<V> {
        &self.slots[position(i, self.slots.len())]
    }

    /// Pins `slot` in `FULL` (of `want` if given), clones its value, unpins.
    fn read(&self, slot: &Slot<V>, want: Option<u32>) -> Option<Arc<V>> {
        let spin = Spin::new();
        let mut word = slot.word.load(Relaxed);
        loop {
            match state(word) {
                FULL => {
                    if want.is_some_and(|g| g != generation(word)) {
                        return None;
                    }
                    debug_assert!(readers(word) < READERS_MASK >> 2, "reader count overflow");
                    match slot
                        .word
                        .compare_exchange(word, word + READER, Acquire, Relaxed)
                    {
                        Ok(_) => break,
                        Err(now) => word = now,
                    }
                }
                // A dup2 onto this fd is in flight: the fd stays open
                // throughout, so wait for the new value rather than say
                // "closed". A generation-checked read linearises after the
                // replacement instead, which retires its generation.
                REPLACING if want.is_none() => {
                    spin.wait();
                    word = slot.word.load(Relaxed);
                }
                _ => return None,
            }
        }
        // SAFETY: we hold a pin on a FULL slot: no owner writes the cell until
        // the count drains (type docs), and the Acquire pin made the
        // published value visible. Cloning an `Arc` through `&` is a shared read.
        let value = slot.value.with(|cell| unsafe { (*cell).clone() });
        slot.word.fetch_sub(READER, Release);
        value
    }

    /// Waits, as the owner of `slot` (BUSY or REPLACING), until no reader
    /// is pinned; returns the word then.
    fn drain(slot: &Slot<V>, mut word: u64) -> u64 {
        let spin = Spin::new();
        while readers(word) != 0 {
            spin.wait();
            word = slot.word.load(Acquire);
        }
        word
    }

    /// Fills `slot`, claimed FREE -> BUSY from `word`, counts it open
    /// (raising the hint past `claimed` when given: the fd and the table word
    /// the scan started from) and publishes it.
    fn fill(&self, slot: &Slot<V>, word: u64, value: Arc<V>, claimed: Option<(usize, u64)>) {
        // SAFETY: we own the slot in BUSY, claimed from FREE where no reader
        // is ever pinned, and the Acquire claim ordered the last `take()`.
        slot.value.with_mut(|cell| unsafe { *cell = Some(value) });
        // Before the publication, so a remover's decrement comes after it.
        self.opened(claimed);
        slot.word
            .store(make(generation(word).wrapping_add(1), FULL), Release);
    }

    /// Counts one more open fd; with `Some((i, seen))` also raises the hint
    /// past `i` if no slot was freed since the table word `seen` was read.
    fn opened(&self, claimed: Option<(usize, u64)>) {
        let mut cur = self.table.load(Relaxed);
        loop {
            let mut next = cur + LEN_ONE;
            if let Some((i, seen)) = claimed {
                let want = i as u64 + 1;
                if version(cur) == version(seen) && hint(cur) < want {
                    next = (next & !HINT_MASK) | want;
                }
            }
            // Relaxed: the slot's own publication orders everything that
            // matters; an RMW still carries frees' release sequences on.
            match self.table.compare_exchange(cur, next, Relaxed, Relaxed) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Counts one fd fewer after slot `i` was freed: lowers the hint to `i`
    /// and bumps the version, so no inserter that started earlier raises the
    /// hint past `i`.
    fn closed(&self, i: usize) {
        let mut cur = self.table.load(Relaxed);
        loop {
            let index = hint(cur).min(i as u64);
            // The version is the top field: it wraps off the end on overflow.
            let next = ((cur - LEN_ONE).wrapping_add(VERSION_ONE) & !HINT_MASK) | index;
            match self.table.compare_exchange(cur, next, Release, Relaxed) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }
}

impl<V> FdTable<V> for LocklessFdTable<V> {
    fn insert(&self, value: Arc<V>) -> io::Result<i32> {
        let mut seen = self.table.load(Acquire);
        loop {
            let start = hint(seen) as usize;
            for i in start..self.slots.len() {
                let slot = self.slot_at(i);
                let word = slot.word.load(Relaxed);
                if state(word) != FREE {
                    continue;
                }
                let claimed = slot
                    .word
                    .compare_exchange(word, with_state(word, BUSY), Acquire, Relaxed)
                    .is_ok();
                if claimed {
                    self.fill(slot, word, value, Some((i, seen)));
                    // `i < capacity <= MAX_CAPACITY < i32::MAX`.
                    return Ok(i as i32);
                }
            }
            // Every slot looked taken. If a free completed during the scan (the
            // hint version moved), it may be behind us: look again. Otherwise
            // the table was full at some point of the scan.
            let now = self.table.load(Acquire);
            if version(now) == version(seen) {
                return Err(errno(libc::EMFILE));
            }
            seen = now;
        }
    }

    fn get(&self, fd: i32) -> Option<Arc<V>> {
        self.read(self.slot(fd)?, None)
    }

    fn remove(&self, fd: i32) -> Option<Arc<V>> {
        let slot = self.slot(fd)?;
        let spin = Spin::new();
        let mut word = slot.word.load(Relaxed);
        loop {
            match state(word) {
                FULL => {
                    match slot
                        .word
                        .compare_exchange(word, with_state(word, BUSY), Acquire, Relaxed)
                    {
                        Ok(_) => break,
                        Err(now) => word = now,
                    }
                }
                // The fd stays open through a dup2 onto it: close the result.
                REPLACING => {
                    spin.wait();
                    word = slot.word.load(Relaxed);
                }
                _ => return None,
            }
        }
        let word = Self::drain(slot, word);
        // SAFETY: we own the slot in BUSY and the count drained to 0 (Acquire):
        // nobody else reads or writes the cell.
        let value = slot.value.with_mut(|cell| unsafe { (*cell).take() });
        slot.word.store(make(generation(word), FREE), Release);
        self.closed(fd as usize);
        value
    }

    fn insert_at(&self, fd: i32, value: Arc<V>) -> io::Result<Option<Arc<V>>> {
        let i = index(fd, self.slots.len()).ok_or_else(|| errno(libc::EBADF))?;
        let slot = self.slot_at(i);
        let spin = Spin::new();
        let mut word = slot.word.load(Relaxed);
        loop {
            let next = match state(word) {
                FREE => with_state(word, BUSY),
                FULL => with_state(word, REPLACING),
                // Another owner is mid-step; it finishes in FREE or FULL.
                _ => {
                    spin.wait();
                    word = slot.word.load(Relaxed);
                    continue;
                }
            };
            match slot.word.compare_exchange(word, next, Acquire, Relaxed) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        if state(word) == FREE {
            self.fill(slot, word, value, None);
            return Ok(None);
        }
        let word = Self::drain(slot, word);
        // SAFETY: we own the slot in REPLACING and the count drained to 0
        // (Acquire): nobody else reads or writes the cell.
        let old = slot.value.with_mut(|p| unsafe { (*p).replace(value) });
        slot.word
            .store(make(generation(word).wrapping_add(1), FULL), Release);
        Ok(old)
    }

    fn generation(&self, fd: i32) -> Option<u32> {
        let word = self.slot(fd)?.word.load(Acquire);
        matches!(state(word), FULL | REPLACING).then(|| generation(word))
    }

    fn get_if_generation(&self, fd: i32, generation: u32) -> Option<Arc<V>> {
        self.read(self.slot(fd)?, Some(generation))
    }

    fn len(&self) -> usize {
        open_count(self.table.load(Relaxed))
    }

    fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! Miri-sized unit tests of the lockless backend (`cargo +nightly miri
    //! test -p erm-fdtable --lib`): each is small enough for the interpreter.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::Arc;
    use std::thread;

    const ROUNDS: usize = if cfg!(miri) { 20 } else { 2_000 };

    #[test]
    fn position_is_a_permutation_that_spreads_neighbours() {
        for capacity in [0, 1, 63, 64, 100, 128, 200] {
            let mut seen = vec![false; capacity];
            for fd in 0..capacity {
                let p = position(fd, capacity);
                assert!(!seen[p], "capacity {capacity}: {fd} collides");
                seen[p] = true;
            }
        }
        for fd in 0..127 {
            if fd % 64 != 63 {
                assert_ne!(position(fd, 128) / 4, position(fd + 1, 128) / 4);
            }
        }
    }

    #[test]
    fn word_fields_round_trip() {
        let w = make(7, FULL) + 3 * READER;
        assert_eq!((state(w), readers(w), generation(w)), (FULL, 3, 7));
        assert_eq!(state(with_state(w, BUSY)), BUSY);
        assert_eq!(readers(with_state(w, BUSY)), 3);
    }

    #[test]
    fn sequential_lowest_free_and_emfile() {
        let t = LocklessFdTable::with_capacity(4);
        for i in 0..4 {
            assert_eq!(t.insert(Arc::new(i)).unwrap(), i);
        }
        assert_eq!(
            t.insert(Arc::new(9)).unwrap_err().raw_os_error(),
            Some(libc::EMFILE)
        );
        assert_eq!(*t.remove(2).unwrap(), 2);
        assert_eq!(*t.remove(1).unwrap(), 1);
        assert_eq!(t.insert(Arc::new(5)).unwrap(), 1);
        assert_eq!(t.insert(Arc::new(6)).unwrap(), 2);
        assert_eq!(t.len(), 4);
        assert_eq!(t.get(-1), None);
        assert_eq!(t.get(4), None);
    }

    #[test]
    fn spread_layout_keeps_fd_order() {
        let t = LocklessFdTable::with_capacity(130);
        for i in 0..130 {
            assert_eq!(t.insert(Arc::new(i)).unwrap(), i);
        }
        assert!(t.insert(Arc::new(0)).is_err());
        for i in [70, 3, 129] {
            assert_eq!(*t.remove(i).unwrap(), i);
        }
        for i in [3, 70, 129] {
            assert_eq!(t.insert(Arc::new(i)).unwrap(), i);
            assert_eq!(*t.get(i).unwrap(), i);
        }
    }

    #[test]
    fn replace_bumps_generation_and_returns_old() {
        let t = LocklessFdTable::with_capacity(2);
        assert_eq!(t.insert_at(1, Arc::new("a")).unwrap(), None);
        let g = t.generation(1).unwrap();
        assert_eq!(*t.insert_at(1, Arc::new("b")).unwrap().unwrap(), "a");
        assert_ne!(t.generation(1), Some(g));
        assert_eq!(t.get_if_generation(1, g), None);
        assert_eq!(t.insert(Arc::new("c")).unwrap(), 0);
        assert_eq!(
            t.insert_at(2, Arc::new("x")).unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
    }

    #[test]
    fn values_are_dropped_with_the_table() {
        let v = Arc::new(1);
        {
            let t = LocklessFdTable::with_capacity(3);
            t.insert(v.clone()).unwrap();
            t.insert_at(2, v.clone()).unwrap();
            assert_eq!(Arc::strong_count(&v), 3);
        }
        assert_eq!(Arc::strong_count(&v), 1);
    }

    #[test]
    fn threads_open_get_close() {
        let t = Arc::new(LocklessFdTable::with_capacity(4));
        let handles: Vec<_> = (0..2)
            .map(|n| {
                let t = Arc::clone(&t);
                thread::spawn(move || {
                    for r in 0..ROUNDS {
                        let v = Arc::new((n, r));
                        let fd = t.insert(v.clone()).unwrap();
                        assert!(Arc::ptr_eq(&t.get(fd).unwrap(), &v));
                        let _ = t.get(1 - fd.min(1));
                        assert!(Arc::ptr_eq(&t.remove(fd).unwrap(), &v));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(t.len(), 0);
        assert_eq!(t.insert(Arc::new((9, 9))).unwrap(), 0);
    }

    #[test]
    fn get_races_replace_and_remove() {
        let t = Arc::new(LocklessFdTable::with_capacity(2));
        t.insert(Arc::new(0usize)).unwrap();
        let writer = {
            let t = Arc::clone(&t);
            thread::spawn(move || {
                for r in 1..ROUNDS {
                    if r % 3 == 0 {
                        t.remove(0);
                        t.insert(Arc::new(r)).unwrap();
                    } else {
                        t.insert_at(0, Arc::new(r)).unwrap();
                    }
                }
            })
        };
        let mut last = 0;
        for _ in 0..ROUNDS {
            if let Some(v) = t.get(0) {
                // Values only grow, and a get never sees a freed one.
                assert!(*v >= last);
                last = *v;
            }
        }
        writer.join().unwrap();
        assert_eq!(t.len(), 1);
    }
}
