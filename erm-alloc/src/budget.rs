//! [`MemoryBudget`]: the shared account every region charges and credits.

use crate::sync::{AtomicU64, AtomicUsize, Ordering};
use crossbeam_utils::CachePadded;
use std::io;

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
#[derive(Debug)]
pub struct MemoryBudget {
    used: CachePadded<AtomicUsize>,
    peak: AtomicUsize,
    limit: AtomicUsize,
    copied: AtomicU64,
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
        }
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
    pub fn try_charge(&self, bytes: usize) -> io::Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        // Relaxed is enough: the counter orders nothing else, it only has to
        // never pass the limit, which the read-modify-write guarantees.
        let limit = self.limit.load(Ordering::Relaxed);
        let previous = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= limit)
            })
            .map_err(|_| io::Error::from_raw_os_error(libc::ENOSPC))?;
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

    #[test]
    fn overflowing_charge_fails() {
        let budget = MemoryBudget::unlimited();
        budget.try_charge(usize::MAX - 1).expect("fits");
        assert!(budget.try_charge(2).is_err());
        assert_eq!(budget.available(), 1);
    }
}
