//! Mounting: [`MountConfig`] turned into fuser's options, and [`spawn`].

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ermfs::{AtimePolicy, Fs};
use fuser::{BackgroundSession, Config, MountOption, Session, SessionACL, SessionUnmounter};

use crate::ops::{DEFAULT_TTL, ErmFuse};
use crate::sys;

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
    /// FUSE passthrough for open files (see [`ErmFuse::with_passthrough`]):
    /// on by default, taken only where the kernel and the capabilities
    /// allow it and without the writeback cache.
    pub passthrough: bool,
    /// The mount-wide access-time policy (`noatime`, `relatime`,
    /// `strictatime`), set on the store at mount ([`Fs::set_atime_policy`]);
    /// `None` keeps the store's own. The kernel leaves atime to FUSE
    /// servers, so reads move it when they reach the store: under
    /// [`AtimePolicy::Strict`] every open drops the kernel's cached pages,
    /// so each open's first read of a page does (a re-read of a page the
    /// kernel still holds in the same open does not).
    pub atime: Option<AtimePolicy>,
    /// The file system's name in the mount table (`fsname=`, the first
    /// column of `/proc/mounts`; `mount -t fuse.ermfs SOURCE DIR` passes
    /// SOURCE): `ermfs` by default.
    pub fsname: String,
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
            passthrough: true,
            atime: None,
            fsname: "ermfs".to_owned(),
        }
    }
}

impl MountConfig {
    /// fuser's configuration: always `default_permissions` (the kernel
    /// checks modes, owners and the sticky bit, as on any disk file
    /// system), `fsname=` [`MountConfig::fsname`], `subtype=ermfs`, and the
    /// chosen options.
    pub fn fuser_config(&self) -> Config {
        let mut options = vec![
            MountOption::FSName(self.fsname.clone()),
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
    let ermfuse = ErmFuse::new(fs, config.ttl)
        .with_writeback_cache(config.writeback_cache)
        .with_passthrough(config.passthrough);
    let slot = ermfuse.notifier_slot();
    let session = fuser::spawn_mount(ermfuse, dir, &config.fuser_config())?;
    let _ = slot.set(session.notifier());
    Ok(session)
}

/// Unmounts what [`mount`] mounted, the way it was mounted.
pub struct Unmounter {
    dir: PathBuf,
    /// `None`: mounted with mount(2) by this process (root).
    fuser: Option<SessionUnmounter>,
}

impl std::fmt::Debug for Unmounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unmounter")
            .field("dir", &self.dir)
            .field("kernel_mount", &self.fuser.is_none())
            .finish()
    }
}

impl Unmounter {
    /// Unmounts the mount point; a busy mount (a shell inside it, an open
    /// file) is detached lazily instead: it leaves the namespace at once
    /// and goes when its last user does. Returns whether it had to be lazy.
    /// An already unmounted directory (`fusermount3 -u` from outside) is
    /// not an error.
    ///
    /// # Errors
    /// The unmount's, when even the lazy one fails.
    pub fn unmount(&mut self) -> io::Result<bool> {
        let busy = |e: &io::Error| e.raw_os_error() == Some(libc::EBUSY);
        match &mut self.fuser {
            None => match sys::unmount(&self.dir, false) {
                Ok(()) => Ok(false),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(false),
                Err(e) if busy(&e) => sys::unmount(&self.dir, true).map(|()| true),
                Err(e) => Err(e),
            },
            Some(u) => {
                // fuser's unmount may return with the mount still there
                // (with auto_unmount it only ends fusermount3's watcher):
                // what counts is the mount table.
                let _ = u.unmount();
                if !is_mount_point(&self.dir) {
                    return Ok(false);
                }
                if fusermount3(&self.dir, false) {
                    return Ok(false);
                }
                if fusermount3(&self.dir, true) {
                    return Ok(true);
                }
                Err(io::Error::from_raw_os_error(libc::EBUSY))
            }
        }
    }
}

/// `fusermount3 -u [-z] DIR`: whether it succeeded.
fn fusermount3(dir: &Path, lazy: bool) -> bool {
    let mut cmd = std::process::Command::new("fusermount3");
    cmd.arg("-u");
    if lazy {
        cmd.arg("-z");
    }
    cmd.arg("--")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the canonical path `dir` is a mount point in this process's
/// mount namespace (`/proc/self/mountinfo`, field 5, octal escapes).
fn is_mount_point(dir: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = dir
        .to_string_lossy()
        .replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
        .replace('\n', "\\012");
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| m == want)
}

/// Mounts `fs` on `dir` for a daemon that runs the session itself (the
/// `ermfs-mount` binary): as root with mount(2) under the type
/// `fuse.ermfs` (the `MS_*` atime flag following [`MountConfig::atime`],
/// so the mount table shows the policy), otherwise (or with
/// `auto_unmount`, which fusermount3 implements) through fuser and
/// fusermount3, which also name it `fuse.ermfs`. Attribute invalidation
/// is wired to the session.
///
/// # Errors
/// The mount's: `ENOENT`/`ENOTDIR` for `dir`, `EPERM`/`EACCES` without the
/// right to mount, `ENODEV` without `/dev/fuse`.
pub fn mount(
    fs: Fs,
    dir: &Path,
    config: &MountConfig,
) -> io::Result<(Session<ErmFuse>, Unmounter)> {
    if let Some(policy) = config.atime {
        fs.set_atime_policy(policy);
    }
    let ermfuse = ErmFuse::new(fs, config.ttl)
        .with_writeback_cache(config.writeback_cache)
        .with_passthrough(config.passthrough);
    let slot = ermfuse.notifier_slot();
    let fuser_config = config.fuser_config();
    let dir = dir.canonicalize()?;
    if sys::euid() == 0 && !config.auto_unmount {
        let mut flags = libc::MS_NOSUID | libc::MS_NODEV;
        if config.read_only {
            flags |= libc::MS_RDONLY;
        }
        flags |= match config.atime {
            Some(AtimePolicy::Noatime) => libc::MS_NOATIME,
            Some(AtimePolicy::Strict) => libc::MS_STRICTATIME,
            _ => libc::MS_RELATIME,
        };
        let others = match fuser_config.acl {
            SessionACL::Owner => "",
            SessionACL::All | SessionACL::RootAndOwner => ",allow_other",
        };
        // The mount's owner is root (user_id/group_id: who may unmount
        // it and, without allow_other, enter).
        let data = format!("rootmode=40000,user_id=0,group_id=0,default_permissions{others}");
        match sys::mount_fuse(&dir, &config.fsname, "fuse.ermfs", flags, &data) {
            Ok(fd) => {
                let acl = fuser_config.acl;
                let session = match Session::from_fd(ermfuse, fd, acl, fuser_config) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = sys::unmount(&dir, true);
                        return Err(e);
                    }
                };
                let _ = slot.set(session.notifier());
                return Ok((session, Unmounter { dir, fuser: None }));
            }
            // In a user namespace without the right: fusermount3 may.
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            Err(e) => return Err(e),
        }
    }
    let mut session = Session::new(ermfuse, &dir, &fuser_config)?;
    let _ = slot.set(session.notifier());
    let unmounter = session.unmount_callable();
    Ok((
        session,
        Unmounter {
            dir,
            fuser: Some(unmounter),
        },
    ))
}
