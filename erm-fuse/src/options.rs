//! Mount options as `mount -o` words: tmpfs's (`size=`, `mode=`, `uid=`,
//! `gid=`, the atime policies) with tmpfs's syntax, and ERMFS's own
//! (`level=`, `block_size=`, `compress_delay=`, `lockless`, `threads=`,
//! `writeback_cache`), so one fstab line or one command line says all.
//!
//! Every refusal names the option and says what would be accepted. The
//! generic words `mount(8)` passes to a helper (`rw`, `defaults`, `auto`,
//! `nofail`, `x-*`, ...) are accepted and change nothing.

use std::time::Duration;

use ermfs::{AtimePolicy, CompressionPolicy};

use crate::logging::LogTarget;

/// What a `-o` list (or the command line) asks for; `None` keeps the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MountOptions {
    /// `size=`: most bytes the store holds, raw and compressed; `Some(0)`
    /// means no limit (as tmpfs's `size=0`); `None`: half of RAM, as tmpfs.
    pub size: Option<u64>,
    /// `mode=` of the root directory (octal, as tmpfs: default `1777`
    /// there; ERMFS's root defaults to `0755`).
    pub mode: Option<u32>,
    /// `uid=` owning the root directory (default: the mounting user).
    pub uid: Option<u32>,
    /// `gid=` owning the root directory (default: the mounting group).
    pub gid: Option<u32>,
    /// `noatime`, `relatime` (the default), `strictatime`.
    pub atime: Option<AtimePolicy>,
    /// `level=`: deflate level of closed files, 0 (stored) to 12.
    pub level: Option<u32>,
    /// `block_size=`: uncompressed bytes per gzip member, e.g. `256k`.
    pub block_size: Option<u64>,
    /// `compress_delay=`: seconds a closed file stays raw (`0`: compressed
    /// at the last close), or `never`.
    pub compression: Option<CompressionPolicy>,
    /// `lockless` / `locked` tables.
    pub lockless: Option<bool>,
    /// `threads=`: threads answering requests, 1 to 64.
    pub threads: Option<usize>,
    /// `writeback_cache`: the kernel caches writes (FUSE passthrough is
    /// then off: the kernel allows one or the other).
    pub writeback_cache: bool,
    /// `nopassthrough`: open files are read and written through the daemon
    /// instead of by the kernel on their memfds (`passthrough` turns it
    /// back on, the default).
    pub no_passthrough: bool,
    /// `ro` (a later `rw` turns it off again).
    pub read_only: bool,
    /// `allow_other`: other users may enter.
    pub allow_other: bool,
    /// `auto_unmount`: unmount when the daemon dies.
    pub auto_unmount: bool,
    /// `nonempty`: mount over a directory that has entries.
    pub nonempty: bool,
    /// `nr_inodes=`: most inodes (files, directories, symlinks, special
    /// files); `Some(0)` means no limit (as tmpfs); `None`: no limit.
    pub nr_inodes: Option<u64>,
    /// `remount`: change a live mount instead of mounting (`mount -o
    /// remount` passes it to the helper).
    pub remount: bool,
    /// `log=syslog|stderr|/abs/path`: where the daemon logs (default:
    /// standard error with `-f`, syslog once detached).
    pub log: Option<LogTarget>,
}

/// The words [`MountOptions::apply`] accepts, for refusal messages.
pub const ACCEPTED: &str = "size=N[k|m|g|t|KiB|MiB|GiB|TiB|%], nr_inodes=N[k|m|g], \
mode=OCTAL, uid=N, gid=N, \
noatime, relatime, strictatime, level=0..12, block_size=4k..16m, compress_delay=SECS|never, \
lockless, locked, threads=1..64, writeback_cache, passthrough, nopassthrough, log=syslog|stderr|PATH, ro, rw, allow_other, auto_unmount, nonempty";

/// Words `mount(8)` and fstab pass that mean nothing to this file system.
const IGNORED: &[&str] = &[
    "defaults",
    "auto",
    "noauto",
    "user",
    "nouser",
    "users",
    "owner",
    "group",
    "nofail",
    "_netdev",
    "async",
    "dev",
    "nodev",
    "suid",
    "nosuid",
    "exec",
    "noexec",
    "atime",
    "diratime",
    "nodiratime",
    "lazytime",
    "nolazytime",
    "silent",
    "loud",
    // The FUSE kernel options the mount table shows, which `mount(8)`
    // repeats on `mount -o remount`: this program sets them itself.
    "default_permissions",
    "user_id",
    "group_id",
    "rootmode",
    "max_read",
    "blksize",
    "fsname",
    "subtype",
];

impl MountOptions {
    /// Applies a comma-separated `-o` list, left to right (a later word
    /// wins). `ram` is the machine's RAM in bytes, for `size=N%`.
    ///
    /// # Errors
    /// A message naming the first word refused and what is accepted.
    pub fn apply(&mut self, list: &str, ram: u64) -> Result<(), String> {
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            self.apply_word(word, ram)?;
        }
        Ok(())
    }

    fn apply_word(&mut self, word: &str, ram: u64) -> Result<(), String> {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        let need = |what: &str| -> Result<&str, String> {
            value.ok_or_else(|| format!("`{key}` needs a value: {key}={what}"))
        };
        match key {
            "size" => {
                self.size = Some(parse_size(need("SIZE")?, ram).map_err(|e| format!("size: {e}"))?)
            }
            "mode" => {
                let v = need("OCTAL")?;
                let mode = u32::from_str_radix(v, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| format!("mode: {v:?} is not an octal mode (0 to 7777)"))?;
                self.mode = Some(mode);
            }
            "uid" => self.uid = Some(parse_id("uid", need("N")?)?),
            "gid" => self.gid = Some(parse_id("gid", need("N")?)?),
            "noatime" => self.atime = Some(AtimePolicy::Noatime),
            "relatime" => self.atime = Some(AtimePolicy::Relatime),
            "strictatime" => self.atime = Some(AtimePolicy::Strict),
            "level" => {
                let v = need("0..12")?;
                let level = v.parse::<u32>().ok().filter(|l| *l <= 12).ok_or_else(|| {
                    format!("level: {v:?} is not a deflate level 0 (stored) to 12")
                })?;
                self.level = Some(level);
            }
            "block_size" => {
                let v = need("SIZE")?;
                let bytes = parse_size(v, ram).map_err(|e| format!("block_size: {e}"))?;
                self.block_size = Some(check_block_size(bytes)?);
            }
            "compress_delay" => self.compression = Some(parse_delay(need("SECS|never")?)?),
            "lockless" => self.lockless = Some(true),
            "locked" => self.lockless = Some(false),
            "threads" => {
                let v = need("1..64")?;
                let n = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| format!("threads: {v:?} is not a thread count 1 to 64"))?;
                self.threads = Some(n);
            }
            "writeback_cache" => self.writeback_cache = true,
            "passthrough" => self.no_passthrough = false,
            "nopassthrough" => self.no_passthrough = true,
            "ro" => self.read_only = true,
            "rw" => self.read_only = false,
            "allow_other" => self.allow_other = true,
            "auto_unmount" => self.auto_unmount = true,
            "nonempty" => self.nonempty = true,
            "nr_inodes" => {
                let v = need("N")?;
                if v.trim().ends_with('%') {
                    return Err(format!(
                        "nr_inodes: {v:?}: a count (1000, 64k, 1m), not a percentage"
                    ));
                }
                self.nr_inodes = Some(parse_size(v, ram).map_err(|e| format!("nr_inodes: {e}"))?);
            }
            "remount" => self.remount = true,
            "log" => self.log = Some(LogTarget::parse(need("syslog|stderr|PATH")?)?),
            "nr_blocks" | "huge" | "mpol" | "inode64" | "inode32" => {
                return Err(format!(
                    "`{key}` (a tmpfs option) is not supported by ERMFS; accepted: {ACCEPTED}"
                ));
            }
            k if IGNORED.contains(&k) || k.starts_with("x-") || k.starts_with("comment=") => {}
            _ => return Err(format!("unknown option `{word}`; accepted: {ACCEPTED}")),
        }
        Ok(())
    }
}

/// A size as tmpfs writes it: bytes, or a number (decimals allowed with a
/// suffix) with `k`, `m`, `g`, `t`, `p`, `e` (binary, either case; `KiB`,
/// `MiB`, `GiB`, `TiB` too), or `N%` of `ram`. `0` is 0 (for `size=`: no
/// limit).
///
/// # Errors
/// A message with the forms accepted.
pub fn parse_size(s: &str, ram: u64) -> Result<u64, String> {
    let refuse = || {
        format!(
            "{s:?} is not a size: give bytes (1048576), a number with k, m, g or t \
             (512m, 1.5g, 2GiB: binary units) or a percentage of RAM (50%)"
        )
    };
    let t = s.trim();
    if let Some(pct) = t.strip_suffix('%') {
        let p: f64 = pct.trim().parse().map_err(|_| refuse())?;
        if !(p.is_finite() && p >= 0.0) {
            return Err(refuse());
        }
        return Ok((ram as f64 * p / 100.0) as u64);
    }
    let lower = t.to_ascii_lowercase();
    let body = lower
        .strip_suffix("ib")
        .or_else(|| {
            lower
                .strip_suffix('b')
                .filter(|b| b.ends_with(|c: char| c.is_ascii_alphabetic()))
        })
        .unwrap_or(&lower);
    let (digits, shift) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 10),
        Some('m') => (&body[..body.len() - 1], 20),
        Some('g') => (&body[..body.len() - 1], 30),
        Some('t') => (&body[..body.len() - 1], 40),
        Some('p') => (&body[..body.len() - 1], 50),
        Some('e') => (&body[..body.len() - 1], 60),
        _ => (body, 0),
    };
    let digits = digits.trim();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(refuse());
    }
    if let Ok(n) = digits.parse::<u64>() {
        return n
            .checked_mul(1 << shift)
            .ok_or_else(|| format!("{s:?} is too large"));
    }
    let x: f64 = digits.parse().map_err(|_| refuse())?;
    let bytes = x * (1u64 << shift) as f64;
    if shift == 0 || !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(refuse());
    }
    Ok(bytes as u64)
}

/// `block_size=` must lie in 4 KiB..=16 MiB (erm-compress's limits).
///
/// # Errors
/// A message with the range.
pub fn check_block_size(bytes: u64) -> Result<u64, String> {
    if (4 << 10..=16 << 20).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(format!("block_size: {bytes} bytes is outside 4k to 16m"))
    }
}

fn parse_id(key: &str, v: &str) -> Result<u32, String> {
    v.parse::<u32>()
        .ok()
        .filter(|id| *id != u32::MAX)
        .ok_or_else(|| format!("{key}: {v:?} is not a numeric id (0 to 4294967294)"))
}

/// `compress_delay=`: seconds (decimals allowed; `0` compresses at the last
/// close) or `never`.
///
/// # Errors
/// A message with the forms accepted.
pub fn parse_delay(v: &str) -> Result<CompressionPolicy, String> {
    if v == "never" {
        return Ok(CompressionPolicy::Never);
    }
    let secs: f64 = v
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .ok_or_else(|| format!("compress_delay: {v:?} is not seconds (0, 2, 0.5) or `never`"))?;
    Ok(if secs == 0.0 {
        CompressionPolicy::Immediate
    } else {
        CompressionPolicy::Background {
            delay: Duration::from_secs_f64(secs),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn sizes_as_tmpfs_writes_them() {
        let ram = 16 * GIB;
        for (s, want) in [
            ("0", 0),
            ("4096", 4096),
            ("64k", 64 << 10),
            ("64K", 64 << 10),
            ("512m", 512 << 20),
            ("2G", 2 * GIB),
            ("2GiB", 2 * GIB),
            ("2gb", 2 * GIB),
            ("1.5G", 3 * GIB / 2),
            ("1t", 1 << 40),
            ("50%", 8 * GIB),
            ("12.5%", 2 * GIB),
        ] {
            assert_eq!(parse_size(s, ram), Ok(want), "{s}");
        }
        for bad in [
            "",
            "G",
            "-1",
            "1.5",
            "2x",
            "1Q",
            "abc",
            "99999999999e",
            "%",
            "-5%",
            "1..5g",
        ] {
            let e = parse_size(bad, ram).unwrap_err();
            assert!(
                e.contains("not a size") || e.contains("too large"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_tmpfs_fstab_line_and_ermfs_words() {
        let mut o = MountOptions::default();
        o.apply(
            "rw,size=2G,mode=1777,uid=1000,gid=100,noatime,level=9,block_size=64k,\
             compress_delay=never,lockless,threads=4,writeback_cache,nopassthrough,nofail,\
             x-systemd.automount",
            16 * GIB,
        )
        .unwrap();
        assert_eq!(o.size, Some(2 * GIB));
        assert_eq!(
            (o.mode, o.uid, o.gid),
            (Some(0o1777), Some(1000), Some(100))
        );
        assert_eq!(o.atime, Some(AtimePolicy::Noatime));
        assert_eq!((o.level, o.block_size), (Some(9), Some(64 << 10)));
        assert_eq!(o.compression, Some(CompressionPolicy::Never));
        assert_eq!(
            (o.lockless, o.threads, o.writeback_cache, o.no_passthrough),
            (Some(true), Some(4), true, true)
        );
        o.apply("ro,strictatime,compress_delay=0,locked", 0)
            .unwrap();
        assert!(o.read_only);
        assert_eq!(o.atime, Some(AtimePolicy::Strict));
        assert_eq!(o.compression, Some(CompressionPolicy::Immediate));
        assert_eq!(o.lockless, Some(false));
        o.apply("rw", 0).unwrap();
        assert!(!o.read_only);
        // What mount(8) passes on `mount -o remount`: the mount table's words.
        o.apply(
            "rw,nosuid,nodev,noatime,user_id=0,group_id=0,default_permissions,nr_inodes=64k,remount",
            0,
        )
        .unwrap();
        assert_eq!((o.nr_inodes, o.remount), (Some(65536), true));
    }

    #[test]
    fn every_refusal_says_what_is_accepted() {
        for (list, says) in [
            ("bogus", "accepted: size="),
            ("size", "size=SIZE"),
            ("size=lots", "not a size"),
            ("mode=999", "octal mode"),
            ("uid=-1", "numeric id"),
            ("gid=x", "numeric id"),
            ("level=13", "0 (stored) to 12"),
            ("threads=0", "1 to 64"),
            ("block_size=1k", "outside 4k to 16m"),
            ("block_size=32m", "outside 4k to 16m"),
            ("compress_delay=soon", "`never`"),
            ("nr_blocks=1000", "not supported by ERMFS"),
            ("nr_inodes=5%", "not a percentage"),
            ("nr_inodes=many", "not a size"),
        ] {
            let e = MountOptions::default().apply(list, GIB).unwrap_err();
            assert!(e.contains(says), "{list}: {e}");
        }
    }
}
