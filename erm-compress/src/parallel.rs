//! Splitting blocks into per-thread runs, and joining scoped threads.

use std::ops::Range;
use std::thread::ScopedJoinHandle;

/// Cuts `blocks` blocks into at most `threads` contiguous runs of nearly
/// equal length (the first runs take the remainder). Never empty runs.
pub(crate) fn runs(blocks: usize, threads: usize) -> Vec<Range<usize>> {
    let n = threads.clamp(1, blocks.max(1));
    let (per, extra) = (blocks / n, blocks % n);
    let mut start = 0;
    (0..n)
        .map(|i| {
            let len = per + usize::from(i < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// Joins a worker, passing a panic on to the caller (workers only panic on
/// a bug; erm-compress code does not panic on input).
pub(crate) fn join<T>(h: ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn runs_cover_all_blocks_in_order() {
        for blocks in 0..20 {
            for threads in 0..6 {
                let r = runs(blocks, threads);
                assert_eq!(r.iter().map(|r| r.len()).sum::<usize>(), blocks);
                assert!(r.windows(2).all(|w| w[0].end == w[1].start));
                assert!(r.len() <= threads.max(1));
            }
        }
    }
}
