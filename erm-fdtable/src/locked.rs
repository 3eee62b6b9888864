//! The locked backend: one mutex around a slot vector and a two-level free
//! bitmap that keeps "lowest free" to a few word scans.

use crate::sync::{Mutex, MutexGuard};
use crate::{DEFAULT_CAPACITY, FdTable, MAX_CAPACITY, errno, index};
use std::io;
use std::sync::{Arc, PoisonError};

/// A descriptor table behind one mutex (see the crate docs).
///
/// The slot vector grows on demand up to the capacity; which slots are taken
/// is kept in a bitmap with a summary level (one bit per full bitmap word), so
/// finding the lowest free descriptor reads `capacity / 4096` summary words at
/// most, then one bitmap word.
#[derive(Debug)]
pub struct LockedFdTable<V> {
    inner: Mutex<Inner<V>>,
    capacity: usize,
}

#[derive(Debug)]
struct Inner<V> {
    slots: Vec<Slot<V>>,
    taken: TakenBitmap,
    len: usize,
}

#[derive(Debug)]
struct Slot<V> {
    generation: u32,
    value: Option<Arc<V>>,
}

impl<V> Default for Slot<V> {
    fn default() -> Self {
        Slot {
            generation: 0,
            value: None,
        }
    }
}

impl<V> LockedFdTable<V> {
    /// An empty table of [`DEFAULT_CAPACITY`] descriptors.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// An empty table of `capacity` descriptors (clamped to [`MAX_CAPACITY`]).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.min(MAX_CAPACITY);
        LockedFdTable {
            inner: Mutex::new(Inner {
                slots: Vec::new(),
                taken: TakenBitmap::new(capacity),
                len: 0,
            }),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<V>> {
        // No operation leaves `Inner` half-updated across a panic point, so a
        // poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<V> Default for LockedFdTable<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Inner<V> {
    /// Fills the free slot `i` with `value`, giving it a new generation.
    fn fill(&mut self, i: usize, value: Arc<V>) {
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, Slot::default);
        }
        let slot = &mut self.slots[i];
        slot.generation = slot.generation.wrapping_add(1);
        slot.value = Some(value);
        self.taken.set(i);
        self.len += 1;
    }

    fn slot(&self, fd: i32) -> Option<&Slot<V>> {
        usize::try_from(fd).ok().and_then(|i| self.slots.get(i))
    }
}

impl<V> FdTable<V> for LockedFdTable<V> {
    fn insert(&self, value: Arc<V>) -> io::Result<i32> {
        let mut inner = self.lock();
        let i = inner
            .taken
            .lowest_free()
            .ok_or_else(|| errno(libc::EMFILE))?;
        inner.fill(i, value);
        // `i < capacity <= MAX_CAPACITY < i32::MAX`.
        Ok(i as i32)
    }

    fn get(&self, fd: i32) -> Option<Arc<V>> {
        self.lock().slot(fd)?.value.clone()
    }

    fn remove(&self, fd: i32) -> Option<Arc<V>> {
        let mut inner = self.lock();
        let i = usize::try_from(fd).ok()?;
        let old = inner.slots.get_mut(i)?.value.take()?;
        inner.taken.clear(i);
        inner.len -= 1;
        Some(old)
    }

    fn insert_at(&self, fd: i32, value: Arc<V>) -> io::Result<Option<Arc<V>>> {
        let i = index(fd, self.capacity).ok_or_else(|| errno(libc::EBADF))?;
        let mut inner = self.lock();
        match inner.slots.get_mut(i) {
            Some(slot) if slot.value.is_some() => {
                slot.generation = slot.generation.wrapping_add(1);
                Ok(slot.value.replace(value))
            }
            _ => {
                inner.fill(i, value);
                Ok(None)
            }
        }
    }

    fn generation(&self, fd: i32) -> Option<u32> {
        let inner = self.lock();
        let slot = inner.slot(fd)?;
        slot.value.as_ref().map(|_| slot.generation)
    }

    fn get_if_generation(&self, fd: i32, generation: u32) -> Option<Arc<V>> {
        let inner = self.lock();
        let slot = inner.slot(fd)?;
        if slot.generation == generation {
            slot.value.clone()
        } else {
            None
        }
    }

    fn len(&self) -> usize {
        self.lock().len
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Which of `0..capacity` are taken: one bit per slot, plus a summary bit per
/// bitmap word that is set when the word is all ones. Bits past the capacity
/// are permanently set, so a search never returns them.
#[derive(Debug)]
struct TakenBitmap {
    words: Vec<u64>,
    summary: Vec<u64>,
}

impl TakenBitmap {
    fn new(capacity: usize) -> Self {
        let nwords = capacity.div_ceil(64);
        let mut words = vec![0u64; nwords];
        if capacity % 64 != 0 {
            // The tail of the last word lies past the capacity: mark it taken.
            words[nwords - 1] = !0u64 << (capacity % 64);
        }
        let nsummary = nwords.div_ceil(64).max(1);
        let mut summary = vec![0u64; nsummary];
        for (w, &word) in words.iter().enumerate() {
            if word == !0 {
                summary[w / 64] |= 1 << (w % 64);
            }
        }
        if nwords % 64 != 0 || nwords == 0 {
            // Summary bits for words that do not exist read as "full".
            summary[nsummary - 1] |= !0u64 << (nwords % 64);
        }
        TakenBitmap { words, summary }
    }

    fn lowest_free(&self) -> Option<usize> {
        let (s, sword) = self.summary.iter().enumerate().find(|(_, w)| **w != !0)?;
        let w = s * 64 + (!sword).trailing_zeros() as usize;
        let bit = (!self.words[w]).trailing_zeros() as usize;
        Some(w * 64 + bit)
    }

    fn set(&mut self, i: usize) {
        let w = i / 64;
        self.words[w] |= 1 << (i % 64);
        if self.words[w] == !0 {
            self.summary[w / 64] |= 1 << (w % 64);
        }
    }

    fn clear(&mut self, i: usize) {
        let w = i / 64;
        self.words[w] &= !(1 << (i % 64));
        self.summary[w / 64] &= !(1 << (w % 64));
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::TakenBitmap;

    #[test]
    fn bitmap_finds_lowest_free_across_levels() {
        for capacity in [0usize, 1, 63, 64, 65, 4096, 4097, 5000] {
            let mut b = TakenBitmap::new(capacity);
            for i in 0..capacity {
                assert_eq!(b.lowest_free(), Some(i), "capacity {capacity}");
                b.set(i);
            }
            assert_eq!(b.lowest_free(), None, "capacity {capacity}");
            if capacity > 1 {
                b.clear(capacity - 1);
                b.clear(capacity / 2);
                assert_eq!(b.lowest_free(), Some(capacity / 2));
                b.set(capacity / 2);
                assert_eq!(b.lowest_free(), Some(capacity - 1));
            }
        }
    }
}
