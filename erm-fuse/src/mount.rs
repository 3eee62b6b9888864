//! Mounting: [`MountConfig`] turned into fuser's options, and [`spawn`].

use std::io;
use std::path::Path;
use std::time::Duration;

use ermfs::{AtimePolicy, Fs};
use fuser::{BackgroundSession, Config, MountOption, SessionACL};

use crate::ops::{DEFAULT_TTL, ErmFuse};

/// How a store is mounted (the file system itself is configured by
/// [`ermfs::FsBuilder`]).
#[derive(Debug, Clone)]
pub struct MountConfig {
    /// Threads answering requests (fuser's `n_threads`, one fd each).
    pub threads: usize,
    /// Let other users than the mounting one in (`allow_other`; needs
    /// `user_allow_other` in `/etc/fuse.conf` for a non-root user).
    pub allow_other: bool,
    /// Unmount when the mounting process dies (`auto_unmount`, through
    /// `fusermount3`; implies `allow_other`-style ACL, as fuser requires).
    pub auto_unmount: bool,
    /// Mount read-only (`ro`).
    pub read_only: bool,
    /// How long the kernel caches attributes and names.
    pub ttl: Duration,
    /// The kernel's writeback cache (see
    /// [`ErmFuse::with_writeback_cache`]): off by default, since a store
    /// shared with the process must show its in-process changes.
    pub writeback_cache: bool,
    /// The mount-wide access-time policy (`noatime`, `relatime`,
    /// `strictatime`), set on the store at mount ([`Fs::set_atime_policy`]);
    /// `None` keeps the store's own. The kernel leaves atime to FUSE
    /// servers, so reads move it when they reach the store: under
    /// [`AtimePolicy::Strict`] every open drops the kernel's cached pages,
    /// so each open's first read of a page does (a re-read of a page the
    /// kernel still holds in the same open does not).
    pub atime: Option<AtimePolicy>,
}

impl Default for MountConfig {
    fn default() -> Self {
        MountConfig {
            threads: 2,
            allow_other: false,
            auto_unmount: false,
            read_only: false,
            ttl: DEFAULT_TTL,
            writeback_cache: false,
            atime: None,
        }
    }
}

impl MountConfig {
    /// fuser's configuration: always `default_permissions` (the kernel
    /// checks modes, owners and the sticky bit, as on any disk file
    /// system), `fsname=ermfs`, `subtype=ermfs`, and the chosen options.
    pub fn fuser_config(&self) -> Config {
        let mut options = vec![
            MountOption::FSName("ermfs".into()),
            MountOption::Subtype("ermfs".into()),
            MountOption::DefaultPermissions,
            MountOption::Exec,
            MountOption::NoDev,
            MountOption::NoSuid,
        ];
        options.push(if self.read_only {
            MountOption::RO
        } else {
            MountOption::RW
        });
        if self.auto_unmount {
            options.push(MountOption::AutoUnmount);
        }
        let mut config = Config::default();
        config.mount_options = options;
        config.acl = if self.allow_other {
            SessionACL::All
        } else if self.auto_unmount {
            SessionACL::RootAndOwner
        } else {
            SessionACL::Owner
        };
        config.n_threads = Some(self.threads.max(1));
        config.clone_fd = self.threads > 1;
        config
    }
}

/// Mounts `fs` on `dir` and serves it from background threads until the
/// returned session is dropped or [`BackgroundSession::umount_and_join`]
/// is called (or `fusermount3 -u dir` runs).
///
/// # Errors
/// The mount's: `ENOENT`/`ENOTDIR` for `dir`, `EPERM`/`EACCES` without the
/// right to mount, `ENODEV` without `/dev/fuse`.
pub fn spawn(fs: Fs, dir: &Path, config: &MountConfig) -> io::Result<BackgroundSession> {
    if let Some(policy) = config.atime {
        fs.set_atime_policy(policy);
    }
    let ermfuse = ErmFuse::new(fs, config.ttl).with_writeback_cache(config.writeback_cache);
    let slot = ermfuse.notifier_slot();
    let session = fuser::spawn_mount(ermfuse, dir, &config.fuser_config())?;
    let _ = slot.set(session.notifier());
    Ok(session)
}
