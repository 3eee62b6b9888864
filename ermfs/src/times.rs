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

/// How old `atime` may get before a read refreshes it anyway (`relatime`).
const RELATIME_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

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

/// The time to store as `atime` if a read now should move it.
pub(crate) fn atime_due(st: &State, shared: &Shared) -> Option<SystemTime> {
    let clock = &shared.clock;
    match shared.atime {
        AtimePolicy::Noatime => return None,
        AtimePolicy::Strict => return Some(clock.now()),
        AtimePolicy::Relatime => {}
    }
    if st.atime <= st.mtime || st.atime <= st.ctime {
        return Some(clock.now());
    }
    let now = clock.now();
    match now.duration_since(st.atime) {
        Ok(age) if age >= RELATIME_MAX_AGE => Some(now),
        _ => None,
    }
}

/// Stores `now` as `inode`'s access time (a read found it due).
pub(crate) fn set_atime(inode: &Inode, now: SystemTime) {
    write(&inode.state).atime = now;
}

/// Applies `utimens` to `inode`.
pub(crate) fn set_times(fs: &Fs, inode: &Inode, atime: TimeSpec, mtime: TimeSpec) {
    let now = fs.inner.shared.clock.now();
    let mut st = write(&inode.state);
    let pick = |spec: TimeSpec, old: SystemTime| match spec {
        TimeSpec::Now => now,
        TimeSpec::Omit => old,
        TimeSpec::Set(t) => t,
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
