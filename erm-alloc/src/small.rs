//! Size classes for contents below one page: slabs of equal slots, one pool per class.
//!
//! A 10-byte file must not cost a 4 KiB page, and small buffers that come and
//! go must not fragment the heap. Each class (64 B to 2 KiB, powers of two)
//! carves 64 KiB slabs (anonymous mappings) into equal slots; a bitmap per slab
//! marks the free ones. A slab whose slots are all free goes back to the OS,
//! except one spare per class so a buffer that dies and is born again does not
//! map and unmap in a loop. Equal slots in a slab cannot fragment: any free
//! slot fits any buffer of the class.
//!
//! # Safety
//! A [`SmallBuf`] is the only handle to its slot: the pool hands a slot out
//! once (its bit goes from free to used under the class lock) and takes it
//! back only in [`SmallBuf`]'s `Drop`. A slab is unmapped only when every bit
//! is free, so a live `SmallBuf` always points into a live mapping.
#![allow(unsafe_code)]

use crate::sync::{Mutex, MutexGuard};
use crate::sys::{Backing, Mapping};
use std::io;
use std::ptr::NonNull;

/// Slot sizes, smallest first.
pub(crate) const CLASSES: [usize; 6] = [64, 128, 256, 512, 1024, 2048];
/// The largest size a small buffer holds.
pub(crate) const SMALL_MAX: usize = CLASSES[CLASSES.len() - 1];
const SLAB_BYTES: usize = 64 * 1024;
// Slot indexes are stored as u16.
const _: () = assert!(SLAB_BYTES / CLASSES[0] <= 1 << 16);

/// The smallest class index whose slots hold `len` bytes.
pub(crate) fn class_for(len: usize) -> Option<usize> {
    CLASSES.iter().position(|&size| size >= len)
}

struct Slab {
    map: Mapping,
    /// One bit per slot, 1 = free.
    free: Vec<u64>,
    free_count: usize,
}

struct ClassPool {
    slabs: Vec<Option<Slab>>,
    /// Indexes of slabs with a free slot (may hold stale entries; checked on use).
    with_free: Vec<usize>,
}

static POOLS: [Mutex<ClassPool>; CLASSES.len()] = [const {
    Mutex::new(ClassPool {
        slabs: Vec::new(),
        with_free: Vec::new(),
    })
}; CLASSES.len()];

fn lock(class: usize) -> MutexGuard<'static, ClassPool> {
    // A panic while holding the lock cannot leave the bitmaps half-updated in a
    // way that matters (each update is a single bit flip plus a counter), so a
    // poisoned lock is safe to keep using.
    POOLS[class]
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One slot of a size class: `CLASSES[class]` bytes, zeroed when handed out.
#[derive(Debug)]
pub(crate) struct SmallBuf {
    ptr: NonNull<u8>,
    class: u8,
    slab: u32,
    /// At most `SLAB_BYTES / CLASSES[0]` (1024) slots a slab.
    slot: u16,
}

// SAFETY: a SmallBuf exclusively owns its slot (module invariant); the pool
// behind it is shared only through a mutex.
unsafe impl Send for SmallBuf {}
// SAFETY: `&SmallBuf` only gives out a read-only view of the slot.
unsafe impl Sync for SmallBuf {}

impl SmallBuf {
    /// Takes a zeroed slot of class `class`.
    pub(crate) fn new(class: usize) -> io::Result<SmallBuf> {
        let size = CLASSES[class];
        let slots = SLAB_BYTES / size;
        let mut pool = lock(class);
        let slab_index = loop {
            match pool.with_free.last() {
                Some(&i) if pool.slabs[i].as_ref().is_some_and(|s| s.free_count > 0) => break i,
                Some(_) => {
                    pool.with_free.pop();
                }
                None => {
                    let slab = Slab {
                        map: Mapping::new(SLAB_BYTES, Backing::Anonymous)?,
                        free: (0..slots.div_ceil(64))
                            .map(|w| {
                                if (w + 1) * 64 <= slots {
                                    u64::MAX
                                } else {
                                    (1u64 << (slots % 64)) - 1
                                }
                            })
                            .collect(),
                        free_count: slots,
                    };
                    let index = match pool.slabs.iter().position(Option::is_none) {
                        Some(i) => {
                            pool.slabs[i] = Some(slab);
                            i
                        }
                        None => {
                            pool.slabs.push(Some(slab));
                            pool.slabs.len() - 1
                        }
                    };
                    pool.with_free.push(index);
                    break index;
                }
            }
        };
        let slab = pool.slabs[slab_index]
            .as_mut()
            .expect("checked above: the slab is present");
        let (word_index, word) = slab
            .free
            .iter_mut()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .expect("free_count > 0 means a set bit");
        let bit = word.trailing_zeros() as usize;
        *word &= !(1u64 << bit);
        slab.free_count -= 1;
        let slot = word_index * 64 + bit;
        let ptr = NonNull::new(slab.map.as_ptr().wrapping_add(slot * size))
            .expect("mapping pointers are non-null");
        drop(pool);
        let mut buf = SmallBuf {
            ptr,
            class: class as u8,
            slab: slab_index as u32,
            slot: slot as u16,
        };
        // Slots are zeroed on the way out so the region invariant (bytes past
        // `len` read as zero) holds however the previous owner left it.
        buf.bytes_mut().fill(0);
        Ok(buf)
    }

    /// Index of this buffer's class in [`CLASSES`].
    pub(crate) fn class(&self) -> usize {
        usize::from(self.class)
    }

    /// The slot's size.
    pub(crate) fn capacity(&self) -> usize {
        CLASSES[self.class()]
    }

    /// The slot's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the slot is `capacity()` bytes inside a live slab mapping and
        // owned by us alone (module invariant); `&self` forbids mutation.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.capacity()) }
    }

    /// The slot's bytes, mutable.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only view.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.capacity()) }
    }
}

impl Drop for SmallBuf {
    fn drop(&mut self) {
        let class = self.class();
        let slots = SLAB_BYTES / CLASSES[class];
        let mut pool = lock(class);
        let index = self.slab as usize;
        let Some(slab) = pool.slabs[index].as_mut() else {
            debug_assert!(false, "a live SmallBuf's slab is always mapped");
            return;
        };
        let slot = self.slot as usize;
        slab.free[slot / 64] |= 1u64 << (slot % 64);
        slab.free_count += 1;
        let now_free = slab.free_count;
        if now_free == 1 {
            pool.with_free.push(index);
        }
        if now_free == slots {
            // Keep one empty slab per class as a spare; unmap the others.
            let spares = pool
                .slabs
                .iter()
                .flatten()
                .filter(|s| s.free_count == slots)
                .count();
            if spares > 1 {
                pool.slabs[index] = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_one_to_small_max() {
        assert_eq!(class_for(0), Some(0));
        assert_eq!(class_for(64), Some(0));
        assert_eq!(class_for(65), Some(1));
        assert_eq!(class_for(SMALL_MAX), Some(CLASSES.len() - 1));
        assert_eq!(class_for(SMALL_MAX + 1), None);
    }

    #[test]
    fn slots_are_distinct_zeroed_and_reused() {
        let mut bufs: Vec<SmallBuf> = (0..3000).map(|_| SmallBuf::new(0).expect("slot")).collect();
        for (i, b) in bufs.iter_mut().enumerate() {
            assert!(b.bytes().iter().all(|&x| x == 0));
            b.bytes_mut().fill(i as u8);
        }
        for (i, b) in bufs.iter().enumerate() {
            assert!(
                b.bytes().iter().all(|&x| x == i as u8),
                "slot {i} was overwritten by another"
            );
        }
        bufs.truncate(10);
        let again = SmallBuf::new(0).expect("slot");
        assert!(again.bytes().iter().all(|&x| x == 0));
    }
}
