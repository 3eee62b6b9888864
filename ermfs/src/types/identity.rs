//! Who is asking: [`Identity`] (a caller) and [`Writer`] (what an open
//! file description keeps of its opener), and the set-ID bits a data
//! change by a writer drops ([`privs_to_drop`]).

/// Who is asking: user, primary group, supplementary groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// User ID (0 is root, which bypasses most checks).
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Supplementary group IDs.
    pub groups: Vec<u32>,
}

impl Identity {
    /// User `uid` in group `gid`, no supplementary groups.
    pub fn new(uid: u32, gid: u32) -> Identity {
        Identity {
            uid,
            gid,
            groups: Vec::new(),
        }
    }

    /// Root (uid 0, gid 0).
    pub fn root() -> Identity {
        Identity::new(0, 0)
    }

    /// The same identity with `groups` as its supplementary groups.
    pub fn with_groups(mut self, groups: impl Into<Vec<u32>>) -> Identity {
        self.groups = groups.into();
        self
    }

    /// Whether `gid` is the primary group or a supplementary one.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// Whether this is root (uid 0), which ERMFS takes to hold every
    /// capability (`CAP_FSETID`, `CAP_MKNOD`, `CAP_DAC_OVERRIDE`...).
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }
}

/// Who writes through an open file description, as far as the set-ID
/// rules care: `None` for a caller with `CAP_FSETID` (root), else its
/// groups. An identity without supplementary groups costs no heap block.
#[derive(Debug)]
pub(crate) struct Writer {
    gid: u32,
    groups: Box<[u32]>,
}

impl Writer {
    /// The writer `who` is: `None` for root.
    pub(crate) fn of(who: &Identity) -> Option<Writer> {
        (!who.is_root()).then(|| Writer {
            gid: who.gid,
            groups: who.groups.clone().into_boxed_slice(),
        })
    }

    fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

/// Set-user-ID and set-group-ID bits a data change by `writer` must clear
/// from a file of `mode` and group `gid` (Linux's
/// `setattr_should_drop_suidgid`): none for a caller with `CAP_FSETID`
/// (`None`); else set-user-ID, and set-group-ID when group-executable or
/// when the writer is not in the file's group.
pub(crate) fn privs_to_drop(mode: u32, gid: u32, writer: Option<&Writer>) -> u32 {
    let Some(writer) = writer else {
        return 0;
    };
    if mode & libc::S_IFMT != libc::S_IFREG {
        return 0;
    }
    let mut kill = mode & libc::S_ISUID;
    if mode & libc::S_ISGID != 0 && (mode & libc::S_IXGRP != 0 || !writer.in_group(gid)) {
        kill |= libc::S_ISGID;
    }
    kill
}

// Inodes hold loom atomics under loom, usable only inside a model.
