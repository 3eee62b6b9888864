//! Timestamps as inodes keep them ([`Time`]) and as `utimens` takes them
//! ([`TimeSpec`]); the `relatime` rule
//! reads and `readdir` follow.
//!
//! Every time comes from the file system's clock
//! ([`FsBuilder::clock`](crate::FsBuilder::clock)). Writes and truncates set
//! `mtime` and `ctime`; metadata changes (`chmod`, `chown`, `rename`,
//! xattrs, `utimens`) set `ctime`; adding or removing an entry sets the
//! directory's `mtime` and `ctime`. By default ([`AtimePolicy::Relatime`](crate::AtimePolicy::Relatime))
//! reads move `atime` only when it is not after `mtime` or `ctime`, or is
//! 24 hours old (Linux's `relatime`), so a read of an unchanged file takes
//! no exclusive lock.

use std::time::{Duration, SystemTime};

use crate::types::config::Clock;

/// One time of [`Fs::utimens`](crate::Fs::utimens): libc's `UTIME_NOW`, `UTIME_OMIT`, or a value.
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
    pub fn now(clock: &Clock) -> Time {
        clock.now().into()
    }

    /// This time plus `secs` seconds (saturating).
    pub fn plus_secs(self, secs: i64) -> Time {
        let Time { secs: s, nanos } = self;
        Time {
            secs: s.saturating_add(secs),
            nanos,
        }
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
