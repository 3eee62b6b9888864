//! Timestamps: `utimens`/`futimens` ([`TimeSpec`]) and the `relatime` rule
//! reads and `readdir` follow.
//!
//! Every time comes from the file system's clock
//! ([`FsBuilder::clock`](crate::FsBuilder::clock)). Writes and truncates set
//! `mtime` and `ctime`; metadata changes (`chmod`, `chown`, `rename`,
//! xattrs, `utimens`) set `ctime`; adding or removing an entry sets the
//! directory's `mtime` and `ctime`. By default ([`AtimePolicy::Relatime`])
//! reads move `atime` only when it is not after `mtime` or `ctime`, or is
//! 24 hours old (Linux's `relatime`), so a read of an unchanged file takes
//! no exclusive lock.

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::builder::AtimePolicy;
use crate::content::Shared;
use crate::errno::err;
use crate::fs::Fs;
use crate::inode::{Inode, State};
use crate::sync::write;

/// How old `atime` may get before a read refreshes it anyway (`relatime`),
/// in seconds.
const RELATIME_MAX_AGE: i64 = 24 * 60 * 60;

/// One time of [`Fs::utimens`]: libc's `UTIME_NOW`, `UTIME_OMIT`, or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// The clock's current time (`UTIME_NOW`).
    Now,
    /// Leave this time as it is (`UTIME_OMIT`).
    Omit,
    /// This time (any `SystemTime`, before the epoch too), to the nanosecond.
    Set(SystemTime),
}

/// A timestamp as an inode keeps it: seconds since the epoch (negative
/// before it) and nanoseconds, exactly what a Linux `SystemTime` holds, in
/// 12 bytes at 4-byte alignment where a `SystemTime` takes 16 at 8. An inode
/// holds four, so this saves 16 bytes on every file at rest.
///
/// Seconds then nanoseconds (always below 10^9), so the derived order is
/// the order of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(C, packed(4))]
pub(crate) struct Time {
    secs: i64,
    nanos: u32,
}

impl From<SystemTime> for Time {
    fn from(t: SystemTime) -> Time {
        // A Linux SystemTime is an i64 of seconds and a u32 of nanoseconds:
        // both conversions below are exact, and the fallbacks unreachable.
        match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => Time {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(e) => {
                let d = e.duration();
                let (borrow, nanos): (i64, u32) = match d.subsec_nanos() {
                    0 => (0, 0),
                    n => (1, 1_000_000_000 - n),
                };
                let secs = (-borrow)
                    .checked_sub_unsigned(d.as_secs())
                    .unwrap_or(i64::MIN);
                Time { secs, nanos }
            }
        }
    }
}

impl From<Time> for SystemTime {
    fn from(t: Time) -> SystemTime {
        let Time { secs, nanos } = t;
        let back = if secs >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
        } else {
            Duration::from_secs(secs.unsigned_abs())
                .checked_sub(Duration::from_nanos(u64::from(nanos)))
                .and_then(|d| SystemTime::UNIX_EPOCH.checked_sub(d))
        };
        // Every Time was made from a SystemTime, which this gives back.
        back.unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

impl Time {
    /// The clock's time now.
    pub fn now(shared: &Shared) -> Time {
        shared.clock.now().into()
    }

    /// This time plus `secs` seconds (saturating).
    fn plus_secs(self, secs: i64) -> Time {
        let Time { secs: s, nanos } = self;
        Time {
            secs: s.saturating_add(secs),
            nanos,
        }
    }
}

/// The time to store as `atime` if a read now should move it (compared as
/// stored, with no conversion: reads take this path every time).
pub(crate) fn atime_due(st: &State, shared: &Shared) -> Option<Time> {
    match shared.atime {
        AtimePolicy::Noatime => return None,
        AtimePolicy::Strict => return Some(Time::now(shared)),
        AtimePolicy::Relatime => {}
    }
    if st.atime <= st.mtime || st.atime <= st.ctime {
        return Some(Time::now(shared));
    }
    let now = Time::now(shared);
    (now >= st.atime.plus_secs(RELATIME_MAX_AGE)).then_some(now)
}

/// Stores `now` as `inode`'s access time (a read found it due).
pub(crate) fn set_atime(inode: &Inode, now: Time) {
    write(&inode.state).atime = now;
}

/// Applies `utimens` to `inode`.
pub(crate) fn set_times(fs: &Fs, inode: &Inode, atime: TimeSpec, mtime: TimeSpec) {
    let now = Time::from(fs.inner.shared.clock.now());
    let mut st = write(&inode.state);
    let pick = |spec: TimeSpec, old: Time| match spec {
        TimeSpec::Now => now,
        TimeSpec::Omit => old,
        TimeSpec::Set(t) => t.into(),
    };
    st.atime = pick(atime, st.atime);
    st.mtime = pick(mtime, st.mtime);
    st.ctime = now;
}

impl Fs {
    /// Sets the access and modification times of `path` (each a value,
    /// [`TimeSpec::Now`] or [`TimeSpec::Omit`]), and `ctime` to now, as
    /// utimensat(2). With both [`TimeSpec::Omit`] nothing happens and the
    /// path is not even looked up (as Linux). No permission check (see
    /// [`Fs::access`]).
    ///
    /// Reads and `readdir` update `atime` `relatime`-style: only when it is
    /// not after the last modification or change, or is 24 hours old.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use ermfs::{Fs, TimeSpec};
    ///
    /// let fs = Fs::new();
    /// fs.mkdir("/d", 0o755)?;
    /// let t = SystemTime::UNIX_EPOCH + Duration::new(1_000, 5);
    /// fs.utimens("/d", TimeSpec::Omit, TimeSpec::Set(t))?;
    /// assert_eq!(fs.stat("/d")?.mtime, t);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// The path errors of [`stat`](Fs::stat).
    pub fn utimens(
        &self,
        path: impl AsRef<Path>,
        atime: TimeSpec,
        mtime: TimeSpec,
    ) -> io::Result<()> {
        if atime == TimeSpec::Omit && mtime == TimeSpec::Omit {
            return Ok(());
        }
        let inode = self.inner.resolve(path.as_ref())?;
        set_times(self, &inode, atime, mtime);
        Ok(())
    }

    /// [`utimens`](Fs::utimens) on the file or directory open at `fd` (any
    /// access mode).
    ///
    /// # Errors
    /// `EBADF` (not checked when both times are [`TimeSpec::Omit`], as Linux).
    pub fn futimens(&self, fd: i32, atime: TimeSpec, mtime: TimeSpec) -> io::Result<()> {
        if atime == TimeSpec::Omit && mtime == TimeSpec::Omit {
            return Ok(());
        }
        let of = self.inner.file(fd).map_err(|_| err(libc::EBADF))?;
        set_times(self, of.inode(), atime, mtime);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every time, before the epoch too, comes back as it went in, and the
    /// order is kept.
    #[test]
    fn times_round_trip_and_keep_their_order() {
        let epoch = SystemTime::UNIX_EPOCH;
        let times = [
            epoch - Duration::new(i32::MAX as u64 * 8, 1),
            epoch - Duration::new(1, 1),
            epoch - Duration::new(1, 0),
            epoch - Duration::new(0, 999_999_999),
            epoch - Duration::new(0, 1),
            epoch,
            epoch + Duration::from_nanos(1),
            epoch + Duration::new(1_234_567_890, 123_456_789),
            epoch + Duration::new(i32::MAX as u64 * 8, 999_999_999),
        ];
        for (i, &a) in times.iter().enumerate() {
            assert_eq!(SystemTime::from(Time::from(a)), a);
            for &b in &times[i + 1..] {
                assert!(Time::from(a) < Time::from(b), "{a:?} < {b:?}");
            }
        }
        assert_eq!(std::mem::size_of::<Time>(), 12);
    }
}
