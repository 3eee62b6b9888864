//! `utimens` and `futimens`.

use std::io;
use std::path::Path;

use crate::api::fs::Fs;
use crate::content::stamps::set_times;
use crate::types::errno::err;
use crate::types::times::TimeSpec;

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
        set_times(&self.inner.shared, &inode, atime, mtime);
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
        set_times(&self.inner.shared, of.inode(), atime, mtime);
        Ok(())
    }
}
