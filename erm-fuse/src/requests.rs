//! FUSE requests counted per operation, so round trips can be measured
//! (requests per created file, per write, per `stat`) rather than guessed.
//!
//! The daemon counts each request as its handler starts; requests that
//! fuser answers itself (those ERMFS does not implement, answered
//! `ENOSYS`, and `INIT`/`DESTROY` handshakes beyond the first) are not
//! counted. A `BATCH_FORGET` counts one [`Op::Forget`] per inode it names.
//! [`crate::control::requests`] reads the counts of a live mount.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Declares [`Op`], its names and the list of all operations in one place.
macro_rules! ops {
    ($($op:ident => $name:literal),+ $(,)?) => {
        /// A FUSE operation the daemon serves.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Op {
            $(
                #[doc = concat!("`FUSE_", $name, "`.")]
                $op,
            )+
        }

        impl Op {
            /// Every operation, in the order of the counts' wire layout.
            pub const ALL: &[Op] = &[$(Op::$op),+];

            /// The kernel's name of the opcode, without `FUSE_`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Op::$op => $name),+
                }
            }
        }
    };
}

ops! {
    Init => "INIT",
    Lookup => "LOOKUP",
    Forget => "FORGET",
    Getattr => "GETATTR",
    Setattr => "SETATTR",
    Readlink => "READLINK",
    Mknod => "MKNOD",
    Mkdir => "MKDIR",
    Unlink => "UNLINK",
    Rmdir => "RMDIR",
    Symlink => "SYMLINK",
    Rename => "RENAME",
    Link => "LINK",
    Open => "OPEN",
    Read => "READ",
    Write => "WRITE",
    Flush => "FLUSH",
    Release => "RELEASE",
    Fsync => "FSYNC",
    Opendir => "OPENDIR",
    Readdir => "READDIR",
    Readdirplus => "READDIRPLUS",
    Releasedir => "RELEASEDIR",
    Fsyncdir => "FSYNCDIR",
    Statfs => "STATFS",
    Setxattr => "SETXATTR",
    Getxattr => "GETXATTR",
    Listxattr => "LISTXATTR",
    Removexattr => "REMOVEXATTR",
    Access => "ACCESS",
    Create => "CREATE",
    Ioctl => "IOCTL",
    Fallocate => "FALLOCATE",
    CopyFileRange => "COPY_FILE_RANGE",
    Lseek => "LSEEK",
}

/// Bytes of the counts on the wire: one little-endian `u64` per
/// operation of [`Op::ALL`], then room to grow (zeros).
pub const REQUESTS_LEN: usize = 64 * 8;

/// The daemon's live counters, one per operation.
#[derive(Debug)]
pub(crate) struct Requests {
    counts: Box<[AtomicU64]>,
}

impl Default for Requests {
    fn default() -> Requests {
        Requests {
            counts: Op::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Requests {
    /// Counts one request of `op`.
    pub fn count(&self, op: Op) {
        // Relaxed: each counter stands alone; a reader wants a recent
        // value, not an order between counters.
        self.counts[op as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
        }
    }
}

/// FUSE requests a mount has served, per operation (a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestCounts {
    counts: Vec<u64>,
}

impl RequestCounts {
    /// Requests of `op` served.
    pub fn get(&self, op: Op) -> u64 {
        self.counts.get(op as usize).copied().unwrap_or(0)
    }

    /// Requests of every operation together.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Requests served between `earlier` and `self`, per operation
    /// (0 where a counter did not move forward).
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            counts: Op::ALL
                .iter()
                .map(|&op| self.get(op).saturating_sub(earlier.get(op)))
                .collect(),
        }
    }

    /// The wire form ([`REQUESTS_LEN`] bytes).
    pub fn encode(&self) -> [u8; REQUESTS_LEN] {
        let mut buf = [0u8; REQUESTS_LEN];
        for (slot, &op) in buf.chunks_exact_mut(8).zip(Op::ALL) {
            slot.copy_from_slice(&self.get(op).to_le_bytes());
        }
        buf
    }

    /// Reads the wire form; `None` if `buf` is not [`REQUESTS_LEN`] bytes.
    pub fn decode(buf: &[u8]) -> Option<RequestCounts> {
        if buf.len() != REQUESTS_LEN {
            return None;
        }
        let counts = buf
            .chunks_exact(8)
            .take(Op::ALL.len())
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        Some(RequestCounts { counts })
    }
}

/// One `NAME count` line per operation served at least once.
impl fmt::Display for RequestCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &op in Op::ALL {
            let n = self.get(op);
            if n != 0 {
                writeln!(f, "{:<16}{n}", op.name())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_holds_every_operation() {
        assert!(Op::ALL.len() * 8 <= REQUESTS_LEN);
        for (i, &op) in Op::ALL.iter().enumerate() {
            assert_eq!(op as usize, i, "{op:?}");
        }
    }

    #[test]
    fn counts_round_trip_and_subtract() {
        let live = Requests::default();
        live.count(Op::Lookup);
        for _ in 0..3 {
            live.count(Op::Forget);
        }
        let before = live.snapshot();
        live.count(Op::Create);
        live.count(Op::Lookup);
        let after = live.snapshot();
        let decoded = RequestCounts::decode(&after.encode()).unwrap();
        assert_eq!(decoded, after);
        let delta = after.since(&before);
        assert_eq!((delta.get(Op::Lookup), delta.get(Op::Create)), (1, 1));
        assert_eq!((delta.get(Op::Forget), delta.total()), (0, 2));
        assert_eq!(
            after.to_string(),
            "LOOKUP          2\nFORGET          3\nCREATE          1\n"
        );
        assert_eq!(RequestCounts::decode(&[0; 8]), None);
    }
}
