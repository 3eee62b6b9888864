//! Configuration: [`FsBuilder`] and [`CompressionPolicy`].

use std::io;

use erm_compress::{Compressor, DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL, Options};

use crate::api::fs::Fs;
use crate::types::config::{AtimePolicy, Clock, ClockFn, CompressionPolicy};

/// Default cap on [`FsBuilder::threads`].
const MAX_THREADS: usize = 8;

/// Builds an [`Fs`]; see [`Fs::builder`].
#[derive(Debug, Clone)]
pub struct FsBuilder {
    pub(crate) memory_limit: Option<usize>,
    pub(crate) inode_limit: Option<u64>,
    pub(crate) level: u32,
    pub(crate) block_size: usize,
    pub(crate) policy: CompressionPolicy,
    pub(crate) lockless: bool,
    pub(crate) fd_capacity: usize,
    pub(crate) threads: usize,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) umask: u32,
    pub(crate) clock: Clock,
    pub(crate) atime: AtimePolicy,
    pub(crate) inode_index: bool,
}

impl Default for FsBuilder {
    fn default() -> Self {
        FsBuilder {
            memory_limit: None,
            inode_limit: None,
            level: DEFAULT_LEVEL,
            block_size: DEFAULT_BLOCK_SIZE,
            policy: CompressionPolicy::Immediate,
            lockless: cfg!(feature = "lockless"),
            fd_capacity: erm_fdtable::DEFAULT_CAPACITY,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
            uid: 0,
            gid: 0,
            umask: 0,
            clock: Clock::default(),
            atime: AtimePolicy::Relatime,
            inode_index: false,
        }
    }
}

impl FsBuilder {
    /// Defaults: no memory limit, level [`DEFAULT_LEVEL`], 256 KiB blocks,
    /// [`CompressionPolicy::Immediate`] (deterministic and thread-free; a
    /// mounted disk wants `Background`), locked backends (lockless with the
    /// `lockless` cargo feature), 65,536 descriptors, one compression thread
    /// per core (at most 8), owner 0:0, umask 0 (modes stored as given),
    /// the system clock, [`AtimePolicy::Relatime`].
    pub fn new() -> FsBuilder {
        FsBuilder::default()
    }

    /// Most bytes of file content (raw regions plus compressed streams) the
    /// store may hold; past it writes, truncates and reopens fail with `ENOSPC`.
    pub fn memory_limit(mut self, bytes: Option<usize>) -> FsBuilder {
        self.memory_limit = bytes;
        self
    }

    /// Most inodes (files, directories with the root, symlinks, special
    /// files) the store may hold, as tmpfs's `nr_inodes`; past it creating
    /// a name fails with `ENOSPC`. `None` (the default): no limit.
    pub fn inode_limit(mut self, inodes: Option<u64>) -> FsBuilder {
        self.inode_limit = inodes;
        self
    }

    /// Deflate level (0-12 with libdeflate, the default backend).
    pub fn compression_level(mut self, level: u32) -> FsBuilder {
        self.level = level;
        self
    }

    /// Uncompressed bytes per compressed block (4 KiB to 16 MiB).
    pub fn block_size(mut self, bytes: usize) -> FsBuilder {
        self.block_size = bytes;
        self
    }

    /// When closed files are compressed.
    pub fn compression(mut self, policy: CompressionPolicy) -> FsBuilder {
        self.policy = policy;
        self
    }

    /// Lockless registry and fd table (`true`) or the locked ones.
    pub fn lockless(mut self, on: bool) -> FsBuilder {
        self.lockless = on;
        self
    }

    /// How many descriptors may be open at once (fds are `0..capacity`;
    /// clamped to [`erm_fdtable::MAX_CAPACITY`]).
    pub fn fd_capacity(mut self, capacity: usize) -> FsBuilder {
        self.fd_capacity = capacity;
        self
    }

    /// Threads one big file's compression or full inflation may use (default:
    /// the machine's cores, at most 8; clamped to 1..=64). A file of at
    /// least [`PARALLEL_MIN_BLOCKS`](crate::PARALLEL_MIN_BLOCKS) blocks per thread is cut into runs of
    /// whole blocks, one per thread; the stream is the same byte for byte.
    pub fn threads(mut self, threads: usize) -> FsBuilder {
        self.threads = threads.clamp(1, 64);
        self
    }

    /// Owner of `/` and of everything created (`stat`'s `uid` and `gid`;
    /// default 0 and 0). A directory with the set-group-ID bit passes its
    /// group on instead, as on Linux.
    pub fn owner(mut self, uid: u32, gid: u32) -> FsBuilder {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// Permission bits cleared from the mode of every file and directory
    /// created (as umask(2); only `0o777` counts). The default is 0: the
    /// mode passed to [`Fs::open`] or [`Fs::mkdir`] is stored as given,
    /// which is what a FUSE front end wants (the kernel applies the
    /// caller's umask before the request). `0o022` is a shell's usual value.
    pub fn umask(mut self, mask: u32) -> FsBuilder {
        self.umask = mask & 0o777;
        self
    }

    /// The clock timestamps come from (default `SystemTime::now`); tests
    /// inject one they move by hand. It is called under inode locks: keep
    /// it quick and never call back into the `Fs`.
    pub fn clock(mut self, clock: ClockFn) -> FsBuilder {
        self.clock = Clock(Some(clock));
        self
    }

    /// When reads (and `readdir`) move the access time.
    pub fn atime(mut self, policy: AtimePolicy) -> FsBuilder {
        self.atime = policy;
        self
    }

    /// Keeps an index from inode number to inode, so
    /// [`Fs::node_by_ino`](crate::Fs::node_by_ino) can answer: what a front
    /// end serving file handles (NFS export, `open_by_handle_at`) needs.
    /// Off by default: it costs each inode an entry at rest.
    pub fn inode_index(mut self, on: bool) -> FsBuilder {
        self.inode_index = on;
        self
    }

    /// The compressor options these settings give.
    pub(crate) fn options(&self) -> Options {
        Options::new().block_size(self.block_size).level(self.level)
    }

    /// Builds the file system.
    ///
    /// # Errors
    /// `EINVAL` for a block size or level out of range, or a zero fd capacity.
    pub fn build(self) -> io::Result<Fs> {
        // Constructing a compressor validates block size and level now, not
        // at the first close.
        Compressor::new(self.options())?;
        if self.fd_capacity == 0 {
            return Err(crate::types::errno::err(libc::EINVAL));
        }
        Ok(Fs::from_builder(self))
    }
}
