//! Instances: the opaque `ermfs_t`, `ermfs_options_t`, `ermfs_new`,
//! `ermfs_free`, and the process-wide default instance.
//!
//! Every call comes in two spellings: `ermfs_fs_X(ermfs_t *fs, ...)` on an
//! explicit instance and `ermfs_X(...)` on the default one. Both are one
//! line, [`on`] or [`on_default`] around the same private body taking `&Fs`.

#![allow(non_camel_case_types)]

use std::ffi::c_int;
use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use ermfs_core::{CompressionPolicy, Fs};

use crate::boundary::{call, err, get, put};

/// An ERMFS file system instance (opaque). Its descriptors are its own small
/// integers, not kernel file descriptors: pass them only to `ermfs_*` calls
/// of the same instance.
pub struct ermfs_t {
    fs: Fs,
}

/// `ermfs_options_t.policy`: compress a file inside its last `close`.
pub const ERMFS_POLICY_IMMEDIATE: u32 = 0;
/// `ermfs_options_t.policy`: compress closed files on a worker thread after
/// `background_delay_ms`.
pub const ERMFS_POLICY_BACKGROUND: u32 = 1;
/// `ermfs_options_t.policy`: never compress (closed files stay raw in RAM).
pub const ERMFS_POLICY_NEVER: u32 = 2;

/// Settings of a new instance. Fill it with `ermfs_options_init` first, then
/// change the fields you care about.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ermfs_options_t {
    /// Most bytes of file content (raw plus compressed) held; past it writes
    /// fail with `ENOSPC`. 0: no limit.
    pub memory_limit: u64,
    /// Deflate level, 0 to 12 (default 6).
    pub compression_level: u32,
    /// Uncompressed bytes per compressed block, 4 KiB to 16 MiB (default 256 KiB).
    pub block_size: usize,
    /// `ERMFS_POLICY_IMMEDIATE` (default), `ERMFS_POLICY_BACKGROUND` or `ERMFS_POLICY_NEVER`.
    pub policy: u32,
    /// With `ERMFS_POLICY_BACKGROUND`: how long a closed file stays raw.
    pub background_delay_ms: u32,
    /// Lockless registry and descriptor table (default: false, unless the
    /// library was built with the `lockless` feature).
    pub lockless: bool,
    /// Most descriptors open at once (default 65536).
    pub fd_capacity: usize,
    /// Permission bits cleared from the mode of every file and directory
    /// created, as umask(2) (only `0777` counts; default 0: modes are
    /// stored as given).
    pub umask: u32,
}

impl Default for ermfs_options_t {
    fn default() -> Self {
        ermfs_options_t {
            memory_limit: 0,
            compression_level: erm_compress::DEFAULT_LEVEL,
            block_size: erm_compress::DEFAULT_BLOCK_SIZE,
            policy: ERMFS_POLICY_IMMEDIATE,
            background_delay_ms: 1000,
            lockless: cfg!(feature = "lockless"),
            fd_capacity: erm_fdtable::DEFAULT_CAPACITY,
            umask: 0,
        }
    }
}

/// Builds a file system from C options, owned by the process's real
/// user and group (as the files a process creates on a disk).
fn build(opts: &ermfs_options_t) -> io::Result<Fs> {
    let policy = match opts.policy {
        ERMFS_POLICY_IMMEDIATE => CompressionPolicy::Immediate,
        ERMFS_POLICY_BACKGROUND => CompressionPolicy::Background {
            delay: Duration::from_millis(opts.background_delay_ms.into()),
        },
        ERMFS_POLICY_NEVER => CompressionPolicy::Never,
        _ => return Err(err(libc::EINVAL)),
    };
    let limit = match opts.memory_limit {
        0 => None,
        n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    // SAFETY: getuid/getgid have no preconditions and cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    Fs::builder()
        .owner(uid, gid)
        .memory_limit(limit)
        .compression_level(opts.compression_level)
        .block_size(opts.block_size)
        .compression(policy)
        .lockless(opts.lockless)
        .fd_capacity(opts.fd_capacity)
        .umask(opts.umask)
        .build()
}

/// Parses `ERMFS_MEMORY_LIMIT`: bytes, with an optional `K`, `M`, `G` or `T`
/// suffix (powers of 1024, either case); 0 means no limit.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 10),
        b'm' | b'M' => (&text[..text.len() - 1], 20),
        b'g' | b'G' => (&text[..text.len() - 1], 30),
        b't' | b'T' => (&text[..text.len() - 1], 40),
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// Parses `ERMFS_UMASK`: octal digits (as a shell's `umask`), at most `0777`.
pub(crate) fn parse_umask(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(text, 8).ok().filter(|&m| m <= 0o777)
}

/// Parses `ERMFS_LOCKLESS`: `0` or `1`.
pub(crate) fn parse_flag(text: &str) -> Option<bool> {
    match text.trim() {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// The default instance's options: the defaults, then the environment.
fn env_options() -> Result<ermfs_options_t, String> {
    let mut opts = ermfs_options_t::default();
    if let Some(v) = std::env::var_os("ERMFS_MEMORY_LIMIT") {
        let v = v.to_string_lossy();
        opts.memory_limit =
            parse_size(&v).ok_or_else(|| format!("ERMFS_MEMORY_LIMIT={v:?} is not a size"))?;
    }
    if let Some(v) = std::env::var_os("ERMFS_LOCKLESS") {
        let v = v.to_string_lossy();
        opts.lockless =
            parse_flag(&v).ok_or_else(|| format!("ERMFS_LOCKLESS={v:?} is not 0 or 1"))?;
    }
    if let Some(v) = std::env::var_os("ERMFS_UMASK") {
        let v = v.to_string_lossy();
        opts.umask =
            parse_umask(&v).ok_or_else(|| format!("ERMFS_UMASK={v:?} is not an octal mask"))?;
    }
    Ok(opts)
}

/// The default instance, or the errno its creation failed with.
static DEFAULT: OnceLock<Result<ermfs_t, c_int>> = OnceLock::new();

/// The default instance, created on first use from the environment. A bad
/// setting is reported once on stderr and fails every default-instance call
/// with `EINVAL`.
fn default_instance() -> io::Result<&'static ermfs_t> {
    let made = DEFAULT.get_or_init(|| {
        let built = env_options().and_then(|o| build(&o).map_err(|e| e.to_string()));
        match built {
            Ok(fs) => Ok(ermfs_t { fs }),
            Err(why) => {
                eprintln!("ermfs: default instance unusable: {why}; its calls fail with EINVAL");
                Err(libc::EINVAL)
            }
        }
    });
    made.as_ref().map_err(|&code| err(code))
}

/// Runs `body` on the instance `fs` inside [`call`] (`EFAULT` for `NULL`).
pub(crate) fn on<R: crate::boundary::Failure>(
    fs: *const ermfs_t,
    body: impl FnOnce(&Fs) -> io::Result<R>,
) -> R {
    // SAFETY: every exported function taking `fs` requires it to be NULL or
    // a live instance from ermfs_new/ermfs_default that is not freed meanwhile.
    call(|| body(&unsafe { get(fs) }?.fs))
}

/// Runs `body` on the default instance inside [`call`].
pub(crate) fn on_default<R: crate::boundary::Failure>(
    body: impl FnOnce(&Fs) -> io::Result<R>,
) -> R {
    call(|| body(&default_instance()?.fs))
}

/// Fills `opts` with the defaults (no memory limit, level 6, 256 KiB blocks,
/// immediate compression, locked backends, 65536 descriptors, umask 0). The
/// environment is not read: it configures only the default instance.
///
/// Returns 0, or -1 with `errno` `EFAULT` for `NULL`.
///
/// # Safety
/// `opts` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_options_init(opts: *mut ermfs_options_t) -> c_int {
    // SAFETY: `opts` is NULL or writable by this function's contract.
    call(|| unsafe { put(opts, ermfs_options_t::default()) }.map(|()| 0))
}

/// Creates an instance; `opts` NULL means the defaults of `ermfs_options_init`.
/// Free it with `ermfs_free`. Its `/` and everything created in it belong
/// to the calling process's real user and group IDs (change them with
/// `ermfs_chown`); created modes lose the bits of `opts->umask`.
///
/// Returns NULL with `errno` `EINVAL` for a level, block size or policy out
/// of range or a zero `fd_capacity`.
///
/// # Safety
/// `opts` is NULL or points to an initialised `ermfs_options_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_new(opts: *const ermfs_options_t) -> *mut ermfs_t {
    call(|| {
        let opts = match opts.is_null() {
            true => ermfs_options_t::default(),
            // SAFETY: non-NULL and initialised by this function's contract.
            false => *unsafe { get(opts) }?,
        };
        Ok(Box::into_raw(Box::new(ermfs_t { fs: build(&opts)? })))
    })
}

/// Frees an instance from `ermfs_new` with every file and descriptor in it.
/// NULL and the default instance are ignored.
///
/// # Safety
/// `fs` is NULL, the default instance, or from `ermfs_new` and not freed
/// yet; no other thread uses it during or after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ermfs_free(fs: *mut ermfs_t) {
    let is_default = DEFAULT
        .get()
        .and_then(|d| d.as_ref().ok())
        .is_some_and(|d| std::ptr::eq(d, fs));
    if fs.is_null() || is_default {
        return;
    }
    call(|| {
        // SAFETY: from Box::into_raw in ermfs_new and not freed yet, by the contract.
        drop(unsafe { Box::from_raw(fs) });
        Ok(0)
    });
}

/// The process-wide default instance (created now if needed), for passing
/// to `ermfs_fs_*` calls. It lives until the process exits.
///
/// Created from the environment: `ERMFS_MEMORY_LIMIT` (bytes with an
/// optional K, M, G or T suffix, powers of 1024; 0 or unset: no limit),
/// `ERMFS_LOCKLESS` (`0` or `1`; unset: the build's default) and
/// `ERMFS_UMASK` (octal, as a shell's `umask`: `022`; unset: 0). Everything else
/// is as `ermfs_options_init` says. Returns NULL with `errno` `EINVAL` if a
/// variable is malformed (then every default-instance call fails the same way).
#[unsafe(no_mangle)]
pub extern "C" fn ermfs_default() -> *mut ermfs_t {
    // A const pointer cast to mut: C holds `ermfs_t *`, but every call only
    // reads through it (Fs is shared by reference) and ermfs_free ignores it.
    call(|| default_instance().map(|d| std::ptr::from_ref(d).cast_mut()))
}
