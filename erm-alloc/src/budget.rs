//! [`MemoryBudget`]: the shared account every region charges and credits.

use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};
use crossbeam_utils::CachePadded;
use std::io;
use std::sync::{Arc, Weak};

/// Memory the budget's owner can give back on demand: clean caches (pages
/// that can always be made again). When a charge would pass the limit, the
/// budget asks its reclaimer for the shortfall before it refuses.
pub trait Reclaim: Send + Sync {
    /// Frees and [`credit`](MemoryBudget::credit)s up to about `bytes`
    /// (more or less is fine); returns the bytes credited.
    ///
    /// It runs inside the failing charge, on the charging thread, which
    /// may hold locks of its own: it must take only locks it can skip
    /// (`try_lock`) or that no charging thread holds, and must not charge.
    fn reclaim(&self, bytes: usize) -> usize;
}

/// A shared account of the bytes held by regions, with an optional limit.
///
/// Every [`Region`](crate::Region) charges its data pages (or its slot) here
/// before it takes memory and credits them when it gives memory back, so
/// [`used`](Self::used) is always the sum of the live regions'
/// [`capacity`](crate::Region::capacity); holes cost nothing. A charge that would
/// pass the limit fails with `ENOSPC` (kind [`io::ErrorKind::StorageFull`])
/// and changes nothing, so a file system on top can refuse a write instead of
/// the process being killed for running out of memory.
///
/// It also counts the bytes regions copy internally (moving a small buffer
/// to a larger class or to pages), so tests can assert the copy budget.
///
/// ```
/// use erm_alloc::{MemoryBudget, Region};
/// use std::sync::Arc;
///
/// let budget = Arc::new(MemoryBudget::with_limit(1 << 20));
/// let mut region = Region::new(&budget);
/// region.write_at(0, b"hello")?;
/// assert_eq!(budget.used(), region.capacity());
/// let err = region.reserve(2 << 20).unwrap_err(); // data pages are charged
/// assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
/// assert_eq!(region.as_slice(), b"hello"); // unchanged
/// region.resize(1 << 40)?; // a hole is not: a 1 TiB sparse file fits
/// assert_eq!(budget.used(), region.capacity());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct MemoryBudget {
    used: CachePadded<AtomicUsize>,
    peak: AtomicUsize,
    limit: AtomicUsize,
    copied: AtomicU64,
    /// Whether `reclaimer` is set: spares a failing charge the lock when not.
    has_reclaimer: AtomicBool,
    /// Asked for room before a charge fails (weak: its owner holds the budget).
    reclaimer: Mutex<Option<Weak<dyn Reclaim>>>,
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("stats", &self.stats())
            .field("reclaimer", &self.has_reclaimer.load(Ordering::Relaxed))
            .finish()
    }
}

/// A snapshot of a [`MemoryBudget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetStats {
    /// Bytes currently charged (the sum of live regions' data pages and slots).
    pub used: usize,
    /// The highest `used` seen since creation or the last [`MemoryBudget::reset_peak`].
    pub peak: usize,
    /// The limit, if any.
    pub limit: Option<usize>,
    /// Bytes copied inside regions (class changes), beyond the callers' own reads and writes.
    pub copied_bytes: u64,
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self::unlimited()
    }
}

impl MemoryBudget {
    /// A budget without a limit.
    pub fn unlimited() -> MemoryBudget {
        Self::from_raw_limit(usize::MAX)
    }

    /// A budget that refuses charges past `limit` bytes.
    pub fn with_limit(limit: usize) -> MemoryBudget {
        Self::from_raw_limit(limit)
    }

    fn from_raw_limit(limit: usize) -> MemoryBudget {
        MemoryBudget {
            used: CachePadded::new(AtomicUsize::new(0)),
            peak: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit),
            copied: AtomicU64::new(0),
            has_reclaimer: AtomicBool::new(false),
            reclaimer: Mutex::new(None),
        }
    }

    /// Sets what a charge that would pass the limit asks for room first
    /// (replacing any earlier one; held weakly, so the reclaimer may own
    /// the budget). A charge that still does not fit then fails as before.
    pub fn set_reclaimer(&self, reclaimer: Weak<dyn Reclaim>) {
        *self.lock_reclaimer() = Some(reclaimer);
        self.has_reclaimer.store(true, Ordering::Release);
    }

    fn lock_reclaimer(&self) -> crate::sync::MutexGuard<'_, Option<Weak<dyn Reclaim>>> {
        self.reclaimer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The reclaimer, if one is set and alive.
    fn reclaimer(&self) -> Option<Arc<dyn Reclaim>> {
        if !self.has_reclaimer.load(Ordering::Acquire) {
            return None;
        }
        self.lock_reclaimer().as_ref().and_then(Weak::upgrade)
    }

    /// Bytes currently charged.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit, or `None` when unlimited.
    pub fn limit(&self) -> Option<usize> {
        match self.limit.load(Ordering::Relaxed) {
            usize::MAX => None,
            limit => Some(limit),
        }
    }

    /// Changes the limit. Lowering it below [`used`](Self::used) takes nothing
    /// away; it only makes further charges fail until enough is credited.
    pub fn set_limit(&self, limit: Option<usize>) {
        self.limit
            .store(limit.unwrap_or(usize::MAX), Ordering::Relaxed);
    }

    /// Bytes still available under the limit (`usize::MAX` when unlimited).
    pub fn available(&self) -> usize {
        self.limit
            .load(Ordering::Relaxed)
            .saturating_sub(self.used())
    }

    /// Charges `bytes`, or fails with `ENOSPC` leaving the account unchanged.
    /// A charge that would pass the limit first asks the
    /// [reclaimer](Self::set_reclaimer) for the shortfall and tries again once.
    pub fn try_charge(&self, bytes: usize) -> io::Result<()> {
        if bytes == 0 || self.charge_within_limit(bytes).is_ok() {
            return Ok(());
        }
        let Some(reclaimer) = self.reclaimer() else {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        };
        let short = self
            .used()
            .saturating_add(bytes)
            .saturating_sub(self.limit.load(Ordering::Relaxed));
        if reclaimer.reclaim(short.max(1)) == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        self.charge_within_limit(bytes)
            .map_err(|()| io::Error::from_raw_os_error(libc::ENOSPC))
    }

    /// One attempt at charging `bytes` without passing the limit.
    fn charge_within_limit(&self, bytes: usize) -> Result<(), ()> {
        // Relaxed is enough: the counter orders nothing else, it only has to
        // never pass the limit, which the read-modify-write guarantees.
        let limit = self.limit.load(Ordering::Relaxed);
        let previous = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= limit)
            })
            .map_err(|_| ())?;
        self.peak.fetch_max(previous + bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Charges `bytes` whatever the limit, for the one caller that cannot
    /// refuse ([`Region::as_mut_slice`](crate::Region::as_mut_slice), which
    /// must account the pages it hands out); `used` may then pass the limit,
    /// and further [`try_charge`](Self::try_charge)s fail until enough is credited.
    pub(crate) fn force_charge(&self, bytes: usize) {
        let previous = self.used.fetch_add(bytes, Ordering::Relaxed);
        self.peak
            .fetch_max(previous.saturating_add(bytes), Ordering::Relaxed);
    }

    /// Credits `bytes` back (what an earlier [`try_charge`](Self::try_charge) took).
    pub fn credit(&self, bytes: usize) {
        let previous = self.used.fetch_sub(bytes, Ordering::Relaxed);
        debug_assert!(previous >= bytes, "credited more than was charged");
    }

    /// Adds `bytes` to the internal copy counter.
    pub fn record_copy(&self, bytes: usize) {
        self.copied.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Bytes copied inside regions so far.
    pub fn copied_bytes(&self) -> u64 {
        self.copied.load(Ordering::Relaxed)
    }

    /// Starts a new peak measurement from the current use.
    pub fn reset_peak(&self) {
        self.peak.store(self.used(), Ordering::Relaxed);
    }

    /// A snapshot of every counter.
    pub fn stats(&self) -> BudgetStats {
        BudgetStats {
            used: self.used(),
            peak: self.peak.load(Ordering::Relaxed),
            limit: self.limit(),
            copied_bytes: self.copied_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_past_limit_fails_and_changes_nothing() {
        let budget = MemoryBudget::with_limit(100);
        budget.try_charge(60).expect("under the limit");
        let err = budget.try_charge(41).expect_err("past the limit");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(budget.used(), 60);
        budget.try_charge(40).expect("exactly at the limit");
        budget.credit(100);
        assert_eq!(
            budget.stats(),
            BudgetStats {
                used: 0,
                peak: 100,
                limit: Some(100),
                copied_bytes: 0
            }
        );
    }

    /// Frees from a pretend cache of `held` bytes when asked.
    struct Cache {
        budget: Arc<MemoryBudget>,
        held: std::sync::Mutex<usize>,
        asked: AtomicUsize,
    }

    impl Reclaim for Cache {
        fn reclaim(&self, bytes: usize) -> usize {
            self.asked.fetch_add(1, Ordering::Relaxed);
            let mut held = self.held.lock().expect("not poisoned");
            let freed = bytes.min(*held);
            *held -= freed;
            self.budget.credit(freed);
            freed
        }
    }

    #[test]
    fn a_failing_charge_asks_the_reclaimer_for_the_shortfall() {
        let budget = Arc::new(MemoryBudget::with_limit(100));
        let cache = Arc::new(Cache {
            budget: Arc::clone(&budget),
            held: std::sync::Mutex::new(30),
            asked: AtomicUsize::new(0),
        });
        budget.try_charge(30).expect("the cache's bytes");
        budget.try_charge(50).expect("a writer's");
        let weak: Weak<dyn Reclaim> = Arc::downgrade(&cache) as Weak<dyn Reclaim>;
        budget.set_reclaimer(weak);
        budget.try_charge(20).expect("fits without asking");
        assert_eq!(cache.asked.load(Ordering::Relaxed), 0);
        // 100 used: 25 more needs 25 of the cache's 30.
        budget.try_charge(25).expect("the cache makes room");
        assert_eq!(*cache.held.lock().expect("not poisoned"), 5);
        assert_eq!(budget.used(), 100);
        // More than the cache still holds: it gives its 5, the charge fails
        // and changes nothing beyond what was reclaimed.
        let err = budget.try_charge(10).expect_err("past what can be freed");
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(budget.used(), 95);
        // A reclaimer that has gone is not asked (nor a panic).
        drop(cache);
        assert!(budget.try_charge(10).is_err());
        budget.try_charge(5).expect("fits");
    }

    #[test]
    fn overflowing_charge_fails() {
        let budget = MemoryBudget::unlimited();
        budget.try_charge(usize::MAX - 1).expect("fits");
        assert!(budget.try_charge(2).is_err());
        assert_eq!(budget.available(), 1);
    }
}
