//! Configuration values the layers below the API read: when files are
//! compressed ([`CompressionPolicy`]), when reads move `atime`
//! ([`AtimePolicy`]), the clock timestamps come from ([`Clock`]) and when
//! a file is worth several threads ([`PARALLEL_MIN_BLOCKS`]). The builder
//! that sets them is the API's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// When a file is compressed after its last close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionPolicy {
    /// Inside the `close` that drops the last open file description:
    /// deterministic, and `close` takes as long as the deflate pass.
    Immediate,
    /// By a worker thread (one per [`Fs`](crate::Fs), started by the first close that
    /// needs it, stopped when the last `Fs` clone drops), once the file has
    /// stayed closed for `delay`: `close` returns at once, and a reopen
    /// before the delay finds the file still raw and costs nothing.
    /// [`Fs::settle`](crate::Fs::settle) compresses every waiting file at once.
    Background {
        /// How long a file stays closed and raw before it is compressed.
        delay: Duration,
    },
    /// Never: closed files stay uncompressed in RAM.
    Never,
}

/// A clock for timestamps: called for every time an inode records.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, SystemTime};
///
/// let fixed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
/// let fs = ermfs::Fs::builder().clock(Arc::new(move || fixed)).build()?;
/// fs.mkdir("/d", 0o755)?;
/// assert_eq!(fs.stat("/d")?.mtime, fixed);
/// # Ok::<(), std::io::Error>(())
/// ```
pub type ClockFn = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The clock an [`Fs`](crate::Fs) reads: `SystemTime::now` unless one was injected.
#[derive(Clone, Default)]
pub(crate) struct Clock(pub(crate) Option<ClockFn>);

impl Clock {
    /// The current time.
    pub fn now(&self) -> SystemTime {
        match &self.0 {
            Some(f) => f(),
            None => SystemTime::now(),
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Clock(injected)"
        } else {
            "Clock(SystemTime::now)"
        })
    }
}

/// How old `atime` may get before a read refreshes it anyway (`relatime`),
/// in seconds.
pub(crate) const RELATIME_MAX_AGE: i64 = 24 * 60 * 60;

/// When reads move a file's access time (as the `atime` mount options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AtimePolicy {
    /// Only when `atime` is not after `mtime` or `ctime`, or is 24 hours
    /// old (Linux's default, `relatime`): a read of an unchanged file
    /// reads the clock but takes no exclusive lock.
    #[default]
    Relatime,
    /// On every read (`strictatime`): each read takes the file's exclusive
    /// lock for a moment.
    Strict,
    /// Never (`noatime`): reads neither read the clock nor write.
    Noatime,
}

/// Blocks per thread below which a file is compressed or inflated on one
/// thread (the threads would cost more than they save).
pub const PARALLEL_MIN_BLOCKS: usize = 4;
