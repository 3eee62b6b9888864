//! Counters and their public snapshot, [`Stats`].

use crate::sync::{CounterU64 as AtomicU64, Ordering};

/// A snapshot of an [`Fs`](crate::Fs)'s counters (each exact at rest,
/// approximate while calls are in flight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Regular files reachable by a name (hard links counted once).
    pub files: u64,
    /// Directories, `/` included.
    pub dirs: u64,
    /// Symbolic links reachable by a name.
    pub symlinks: u64,
    /// FIFOs, device nodes and sockets reachable by a name.
    pub specials: u64,
    /// Open descriptors.
    pub open_fds: u64,
    /// Bytes charged for uncompressed content (region capacities).
    pub raw_bytes: u64,
    /// Bytes charged for compressed streams.
    pub compressed_bytes: u64,
    /// Uncompressed size of the files those streams hold (so
    /// `packed_raw_bytes / compressed_bytes` is the compression ratio at rest).
    pub packed_raw_bytes: u64,
    /// Bytes copied from callers into files by `write`/`pwrite`.
    pub bytes_written: u64,
    /// Bytes copied from files to callers by `read`/`pread`.
    pub bytes_read: u64,
    /// Uncompressed bytes fed to the deflate pass at last close.
    pub bytes_deflated: u64,
    /// Uncompressed bytes produced by the inflate pass at reopen.
    pub bytes_inflated: u64,
    /// Bytes copied inside regions (size-class moves), and compressed bytes
    /// joined after a multicore deflate (runs after the first), beyond the above.
    pub internal_copies: u64,
    /// Files compressed so far.
    pub compressions: u64,
    /// Compressions stopped (and their bytes handed back raw) because an
    /// open was waiting for the file; its next last close compresses again.
    pub compressions_cancelled: u64,
    /// Closed files queued by the `Background` policy (stale jobs of files
    /// reopened since included, until the worker drops them).
    pub pending_compressions: u64,
    /// Files inflated back in full (a reopen for writing) so far.
    pub inflations: u64,
    /// Read-only opens of compressed files, which inflate only the blocks
    /// their reads touch.
    pub lazy_opens: u64,
    /// Blocks inflated one by one for read-only opens.
    pub blocks_inflated: u64,
    /// Inflated blocks of read-only opens dropped again to make room (they
    /// are clean: a later read inflates them anew).
    pub cache_evictions: u64,
    /// Reads of read-only opens served by inflating straight for the
    /// caller, because the store had no room to cache the blocks even after
    /// dropping clean ones (a full store still reads its files).
    pub uncached_reads: u64,
    /// Wall-clock nanoseconds spent compressing files (summed over calls).
    pub compress_nanos: u64,
    /// Bytes put into memfds by [`Fs::export_memfd`](crate::Fs::export_memfd)
    /// (one copy from an open file; for a closed one the inflate pass into a
    /// one-block buffer, then one copy of that cache-hot block by `pwrite`).
    pub bytes_exported: u64,
    /// Bytes taken in by [`Fs::import_fd`](crate::Fs::import_fd) (one copy
    /// each) and [`Fs::import_gzip`](crate::Fs::import_gzip) (uncompressed size).
    pub bytes_imported: u64,
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub files: AtomicU64,
    pub dirs: AtomicU64,
    pub symlinks: AtomicU64,
    pub specials: AtomicU64,
    pub compressed_bytes: AtomicU64,
    pub packed_raw_bytes: AtomicU64,
    pub bytes_written: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_deflated: AtomicU64,
    pub bytes_inflated: AtomicU64,
    pub compressions: AtomicU64,
    pub compressions_cancelled: AtomicU64,
    pub inflations: AtomicU64,
    pub lazy_opens: AtomicU64,
    pub blocks_inflated: AtomicU64,
    pub cache_evictions: AtomicU64,
    pub uncached_reads: AtomicU64,
    pub compress_nanos: AtomicU64,
    pub bytes_exported: AtomicU64,
    pub bytes_imported: AtomicU64,
}

/// Adds `n` to a counter (Relaxed: counters order nothing).
pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Subtracts `n` from a counter.
pub(crate) fn sub(c: &AtomicU64, n: u64) {
    c.fetch_sub(n, Ordering::Relaxed);
}

/// Reads a counter.
pub(crate) fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}
