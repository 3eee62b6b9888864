//! [`Extents`]: a set of page indexes kept as sorted, coalesced runs.
//!
//! A page region records which of its pages hold data (were written or
//! committed) here. A dense file is one run, so the common append touches
//! only the last run: O(1). Other changes binary-search the runs and splice,
//! O(log n + runs touched + moved tail).

use std::ops::Range;

/// Sorted, non-overlapping, non-adjacent runs of page indexes.
///
/// One pointer wide (a region, and so an inode, stays small); the empty set
/// allocates nothing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Extents(Option<Box<Runs>>);

impl Extents {
    /// The empty set.
    pub(crate) const fn new() -> Extents {
        Extents(None)
    }

    /// Number of pages in the set.
    pub(crate) fn pages(&self) -> usize {
        self.0.as_ref().map_or(0, |r| r.pages)
    }

    /// Whether the set is empty.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The runs, in order.
    pub(crate) fn runs(&self) -> &[Range<usize>] {
        self.0.as_ref().map_or(&[], |r| &r.runs)
    }

    /// One past the last page in the set (0 when empty).
    pub(crate) fn end(&self) -> usize {
        self.runs().last().map_or(0, |r| r.end)
    }

    /// Empties the set (and frees its runs).
    pub(crate) fn clear(&mut self) {
        self.0 = None;
    }

    /// Index of the first run that ends after `page`.
    pub(crate) fn first_ending_after(&self, page: usize) -> usize {
        self.runs().partition_point(|r| r.end <= page)
    }

    /// Whether `page` is in the set.
    pub(crate) fn contains(&self, page: usize) -> bool {
        self.runs()
            .get(self.first_ending_after(page))
            .is_some_and(|r| r.start <= page)
    }

    /// Pages of `range` that are in the set.
    pub(crate) fn present(&self, range: Range<usize>) -> usize {
        self.0.as_ref().map_or(0, |r| r.present(range))
    }

    /// Pages of `range` that are not in the set.
    pub(crate) fn missing(&self, range: Range<usize>) -> usize {
        range.len() - self.present(range)
    }

    /// Adds `range`; returns the number of pages that were not in the set.
    pub(crate) fn insert(&mut self, range: Range<usize>) -> usize {
        if range.is_empty() {
            return 0;
        }
        self.0.get_or_insert_with(Box::default).insert(range)
    }

    /// Removes `range`; returns the number of pages that were in the set.
    pub(crate) fn remove(&mut self, range: Range<usize>) -> usize {
        let Some(runs) = &mut self.0 else {
            return 0;
        };
        let removed = runs.remove(range);
        if runs.runs.is_empty() {
            self.0 = None;
        }
        removed
    }
}

/// The runs behind a non-empty [`Extents`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Runs {
    runs: Vec<Range<usize>>,
    /// Pages in all runs.
    pages: usize,
}

impl Runs {
    /// Index of the first run that ends after `page`.
    fn first_ending_after(&self, page: usize) -> usize {
        self.runs.partition_point(|r| r.end <= page)
    }

    /// Pages of `range` that are in the set.
    fn present(&self, range: Range<usize>) -> usize {
        if range.is_empty() {
            return 0;
        }
        self.runs[self.first_ending_after(range.start)..]
            .iter()
            .take_while(|r| r.start < range.end)
            .map(|r| r.end.min(range.end) - r.start.max(range.start))
            .sum()
    }

    /// Adds `range`; returns the number of pages that were not in the set.
    fn insert(&mut self, range: Range<usize>) -> usize {
        if range.is_empty() {
            return 0;
        }
        // Fast path: at or past the start of the last run (appends).
        if let Some(last) = self.runs.last_mut() {
            if range.start > last.end {
                self.pages += range.len();
                self.runs.push(range);
                return range_len_of_last(&self.runs);
            }
            if range.start >= last.start {
                let added = range.end.saturating_sub(last.end);
                last.end = last.end.max(range.end);
                self.pages += added;
                return added;
            }
        } else {
            self.pages = range.len();
            self.runs.push(range);
            return self.pages;
        }
        // Runs i..j touch or overlap `range`: merge them into one.
        let i = self.runs.partition_point(|r| r.end < range.start);
        let j = self.runs.partition_point(|r| r.start <= range.end);
        let covered: usize = self.runs[i..j].iter().map(ExactSizeIterator::len).sum();
        let merged = if i < j {
            self.runs[i].start.min(range.start)..self.runs[j - 1].end.max(range.end)
        } else {
            range
        };
        let added = merged.len() - covered;
        self.runs.splice(i..j, [merged]);
        self.pages += added;
        added
    }

    /// Removes `range`; returns the number of pages that were in the set.
    fn remove(&mut self, range: Range<usize>) -> usize {
        if range.is_empty() {
            return 0;
        }
        let i = self.first_ending_after(range.start);
        let j = self.runs.partition_point(|r| r.start < range.end);
        if i >= j {
            return 0;
        }
        let removed = self.present(range.clone());
        let left = self.runs[i].start..range.start;
        let right = range.end..self.runs[j - 1].end;
        let pieces = [left, right].into_iter().filter(|r| !r.is_empty());
        self.runs.splice(i..j, pieces);
        self.pages -= removed;
        removed
    }
}

/// Length of the last run (the one just pushed).
fn range_len_of_last(runs: &[Range<usize>]) -> usize {
    runs.last().map_or(0, ExactSizeIterator::len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn check(set: &Extents, model: &BTreeSet<usize>) {
        let pages: BTreeSet<usize> = set.runs().iter().flat_map(Clone::clone).collect();
        assert_eq!(&pages, model);
        assert_eq!(set.pages(), model.len());
        for w in set.runs().windows(2) {
            assert!(w[0].end < w[1].start, "runs sorted and coalesced: {w:?}");
        }
        assert!(set.runs().iter().all(|r| !r.is_empty()));
    }

    proptest! {
        #[test]
        fn matches_a_set_of_pages(ops in prop::collection::vec((any::<bool>(), 0usize..64, 0usize..12), 1..60)) {
            let mut set = Extents::new();
            let mut model = BTreeSet::new();
            for (add, start, len) in ops {
                let range = start..start + len;
                let before: usize = range.clone().filter(|p| model.contains(p)).count();
                assert_eq!(set.present(range.clone()), before);
                assert_eq!(set.missing(range.clone()), len - before);
                assert_eq!(set.contains(start), model.contains(&start));
                if add {
                    assert_eq!(set.insert(range.clone()), len - before);
                    model.extend(range);
                } else {
                    assert_eq!(set.remove(range.clone()), before);
                    for p in range {
                        model.remove(&p);
                    }
                }
                check(&set, &model);
                assert_eq!(set.end(), model.last().map_or(0, |p| p + 1));
            }
        }
    }

    #[test]
    fn appends_stay_one_run() {
        let mut set = Extents::new();
        for p in 0..1000 {
            assert_eq!(set.insert(p..p + 1), 1);
        }
        assert_eq!((set.runs().len(), set.runs()[0].clone()), (1, 0..1000));
        assert_eq!(set.insert(10..20), 0);
        assert_eq!(set.remove(10..20), 10);
        assert_eq!(set.runs(), [0..10, 20..1000]);
        set.clear();
        assert!(set.is_empty());
    }
}
