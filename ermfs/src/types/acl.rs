//! POSIX ACLs as tmpfs keeps them: the `system.posix_acl_access` and
//! `system.posix_acl_default` attributes (Linux's `fs/posix_acl.c` with
//! `simple_set_acl`/`simple_acl_create`, as `mm/shmem.c` uses them).
//!
//! An ACL lives in the inode's [`Xattrs`] under its attribute name, as the
//! bytes `getxattr` returns (Linux's xattr format, little-endian: a `u32`
//! version 2, then one `{u16 tag, u16 perm, u32 id}` per entry, the id
//! `ACL_UNDEFINED_ID` for entries other than named users and groups), so it
//! is charged to the memory budget as any attribute. The pure half of the
//! module parses, validates and serializes that format and does the
//! kernel's mode arithmetic (`posix_acl_equiv_mode`, `__posix_acl_chmod`,
//! `posix_acl_create_masq`, `posix_acl_permission`); the other half is what
//! the calls hook in:
//!
//! - [`set`]: `setxattr`/`removexattr` of an ACL name (flags are ignored
//!   and an empty value removes, as Linux's `do_set_acl`). An access ACL
//!   equivalent to a mode only sets the mode (and drops a stored ACL);
//!   another sets the mode's permission bits from it and is stored. A
//!   default ACL on a non-directory is `EACCES` (removing one succeeds);
//!   symlinks have none (`EOPNOTSUPP`).
//! - [`chmod`]: keeps a stored access ACL in step with a new mode.
//! - [`inherit`]: a new inode in a directory with a default ACL gets the
//!   mode and ACLs `posix_acl_create` gives (no umask).
//! - [`permission`]: `Fs::access` and `Fs::may_delete` consult the access
//!   ACL where Linux's `acl_permission_check` does.
//!
//! As Linux's `posix_acl_valid`, named entries need not be sorted by id and
//! may repeat an id (the kernel keeps the order given); stricter checks
//! are libacl's, in user space.

use std::io;
use std::sync::Arc;

use erm_alloc::MemoryBudget;

use crate::sync::{read, write};
use crate::types::config::Clock;
use crate::types::errno::fail;
use crate::types::identity::Identity;
use crate::types::inode::{FileType, Inode, State};
use crate::types::xattr_store::{Xattrs, put, take};

/// Name of the access ACL attribute.
pub(crate) const ACCESS: &[u8] = b"system.posix_acl_access";
/// Name of the default ACL attribute (directories only).
pub(crate) const DEFAULT: &[u8] = b"system.posix_acl_default";

/// `POSIX_ACL_XATTR_VERSION`.
const VERSION: u32 = 2;
/// Bytes of the header (the version).
const HEADER: usize = 4;
/// Bytes of one entry.
const ENTRY: usize = 8;
/// The id written for entries that carry none (`ACL_UNDEFINED_ID`).
const UNDEFINED_ID: u32 = u32::MAX;

/// The file owner's entry.
pub(crate) const USER_OBJ: u16 = 0x01;
/// A named user's entry.
pub(crate) const USER: u16 = 0x02;
/// The owning group's entry.
pub(crate) const GROUP_OBJ: u16 = 0x04;
/// A named group's entry.
pub(crate) const GROUP: u16 = 0x08;
/// The mask: the most a named entry or the group class may grant.
pub(crate) const MASK: u16 = 0x10;
/// Everyone else's entry.
pub(crate) const OTHER: u16 = 0x20;

/// Read, write and execute (`ACL_READ | ACL_WRITE | ACL_EXECUTE`).
const RWX: u16 = 7;

/// Which of an inode's two ACLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `system.posix_acl_access`: checked on access, mirrored in the mode.
    Access,
    /// `system.posix_acl_default`: what a directory's new children inherit.
    Default,
}

impl Kind {
    /// The ACL an attribute name stands for, if any (exact names only, as
    /// Linux's `is_posix_acl_xattr`).
    pub(crate) fn of(name: &[u8]) -> Option<Kind> {
        match name {
            ACCESS => Some(Kind::Access),
            DEFAULT => Some(Kind::Default),
            _ => None,
        }
    }

    /// The attribute name.
    pub(crate) fn name(self) -> &'static [u8] {
        match self {
            Kind::Access => ACCESS,
            Kind::Default => DEFAULT,
        }
    }
}

/// One ACL entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// One of [`USER_OBJ`], [`USER`], [`GROUP_OBJ`], [`GROUP`], [`MASK`],
    /// [`OTHER`].
    pub tag: u16,
    /// Bits of `r` (4), `w` (2), `x` (1).
    pub perm: u16,
    /// The uid or gid of a [`USER`] or [`GROUP`] entry; meaningless (and
    /// serialized as `ACL_UNDEFINED_ID`) for the others.
    pub id: u32,
}

/// The entries of well-formed ACL bytes (an incomplete tail is skipped).
fn entries(value: &[u8]) -> impl Iterator<Item = Entry> + Clone + '_ {
    value
        .get(HEADER..)
        .unwrap_or_default()
        .chunks_exact(ENTRY)
        .map(|e| Entry {
            tag: u16::from_le_bytes([e[0], e[1]]),
            perm: u16::from_le_bytes([e[2], e[3]]),
            id: u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
        })
}

/// Linux's `posix_acl_from_xattr`: the entries of an attribute value, or
/// `None` for no ACL (an empty value, or a header with no entries: both
/// remove an ACL).
///
/// # Errors
/// `EINVAL` for a value shorter than the header or not a whole number of
/// entries, an unknown tag, or a named entry with id `u32::MAX` (no valid
/// uid or gid); `EOPNOTSUPP` for a version other than 2.
pub(crate) fn parse(value: &[u8]) -> io::Result<Option<Vec<Entry>>> {
    if value.is_empty() {
        return Ok(None);
    }
    let Some((version, body)) = value.split_first_chunk::<HEADER>() else {
        return fail(libc::EINVAL);
    };
    if u32::from_le_bytes(*version) != VERSION {
        return fail(libc::EOPNOTSUPP);
    }
    if body.len() % ENTRY != 0 {
        return fail(libc::EINVAL);
    }
    if body.is_empty() {
        return Ok(None);
    }
    let acl: Vec<Entry> = entries(value).collect();
    for e in &acl {
        match e.tag {
            USER_OBJ | GROUP_OBJ | MASK | OTHER => {}
            USER | GROUP if e.id != UNDEFINED_ID => {}
            _ => return fail(libc::EINVAL),
        }
    }
    Ok(Some(acl))
}

/// Linux's `posix_acl_valid`: perms within `rwx`; `USER_OBJ`, the `USER`
/// entries, `GROUP_OBJ`, the `GROUP` entries, `MASK`, `OTHER`, in that
/// order, with exactly one `USER_OBJ`, `GROUP_OBJ` and `OTHER`, at most one
/// `MASK`, and a `MASK` whenever there is a named entry.
///
/// # Errors
/// `EINVAL` otherwise.
pub(crate) fn valid(acl: &[Entry]) -> io::Result<()> {
    // The kernel's state machine: the tag expected next.
    #[derive(PartialEq)]
    enum State {
        UserObj,
        User,
        Group,
        Other,
        Done,
    }
    let mut state = State::UserObj;
    let mut needs_mask = false;
    for e in acl {
        if e.perm & !RWX != 0 {
            return fail(libc::EINVAL);
        }
        state = match (e.tag, state) {
            (USER_OBJ, State::UserObj) => State::User,
            (USER, State::User) => {
                needs_mask = true;
                State::User
            }
            (GROUP_OBJ, State::User) => State::Group,
            (GROUP, State::Group) => {
                needs_mask = true;
                State::Group
            }
            (MASK, State::Group) => State::Other,
            (OTHER, State::Other) => State::Done,
            (OTHER, State::Group) if !needs_mask => State::Done,
            _ => return fail(libc::EINVAL),
        };
    }
    if state == State::Done {
        Ok(())
    } else {
        fail(libc::EINVAL)
    }
}

/// Linux's `posix_acl_to_xattr`: the attribute value of `acl`.
pub(crate) fn serialize(acl: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + ENTRY * acl.len());
    out.extend_from_slice(&VERSION.to_le_bytes());
    for e in acl {
        let id = match e.tag {
            USER | GROUP => e.id,
            _ => UNDEFINED_ID,
        };
        out.extend_from_slice(&e.tag.to_le_bytes());
        out.extend_from_slice(&e.perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

/// Linux's `posix_acl_equiv_mode`: `mode` with its `rwx` bits taken from a
/// valid `acl` (owner from `USER_OBJ`, group from `MASK` if any, else
/// `GROUP_OBJ`, other from `OTHER`; the other bits kept), and whether the
/// ACL says more than the mode can (it has a named entry or a mask).
pub(crate) fn equiv_mode(acl: &[Entry], mode: u32) -> (u32, bool) {
    let mut bits = 0;
    let mut not_equiv = false;
    for e in acl {
        let p = u32::from(e.perm & RWX);
        match e.tag {
            USER_OBJ => bits |= p << 6,
            GROUP_OBJ => bits |= p << 3,
            OTHER => bits |= p,
            MASK => {
                bits = (bits & !0o070) | p << 3;
                not_equiv = true;
            }
            _ => not_equiv = true,
        }
    }
    ((mode & !0o777) | bits, not_equiv)
}

/// Linux's `__posix_acl_chmod_masq`: `USER_OBJ`, `MASK` (or `GROUP_OBJ`
/// without a mask) and `OTHER` take `mode`'s bits.
pub(crate) fn chmod_masq(acl: &mut [Entry], mode: u32) {
    let has_mask = acl.iter().any(|e| e.tag == MASK);
    let class = |shift: u32| ((mode >> shift) & 7) as u16;
    for e in acl {
        match e.tag {
            USER_OBJ => e.perm = class(6),
            MASK => e.perm = class(3),
            GROUP_OBJ if !has_mask => e.perm = class(3),
            OTHER => e.perm = class(0),
            _ => {}
        }
    }
}

/// Linux's `posix_acl_create_masq`: narrows a default ACL (a copy) by the
/// requested `mode` and `mode` by the ACL; returns the new mode and
/// whether the ACL says more than that mode (then it is stored as the new
/// inode's access ACL).
pub(crate) fn create_masq(acl: &mut [Entry], mode: u32) -> (u32, bool) {
    let mut mode = mode;
    let mut not_equiv = false;
    let mut group = None;
    for (i, e) in acl.iter_mut().enumerate() {
        match e.tag {
            USER_OBJ => {
                e.perm &= ((mode >> 6) & 7) as u16;
                mode &= u32::from(e.perm) << 6 | !0o700;
            }
            OTHER => {
                e.perm &= (mode & 7) as u16;
                mode &= u32::from(e.perm) | !0o007;
            }
            GROUP_OBJ => group = group.or(Some(i)),
            MASK => {
                group = Some(i);
                not_equiv = true;
            }
            _ => not_equiv = true,
        }
    }
    // The mask if there is one (it comes after GROUP_OBJ), else GROUP_OBJ.
    if let Some(e) = group.and_then(|i| acl.get_mut(i)) {
        e.perm &= ((mode >> 3) & 7) as u16;
        mode &= u32::from(e.perm) << 3 | !0o070;
    }
    (mode, not_equiv)
}

/// Linux's `posix_acl_permission`: whether `who` may do `want` (bits of
/// read 4, write 2, execute 1) to a file owned by `owner` with `acl`.
pub(crate) fn permits<I>(acl: I, owner: (u32, u32), who: &Identity, want: u32) -> bool
where
    I: Iterator<Item = Entry> + Clone,
{
    let want = (want & 7) as u16;
    let mask = acl.clone().find(|e| e.tag == MASK).map(|e| e.perm);
    let masked = |perm: u16| perm & mask.unwrap_or(RWX) & want == want;
    let mut found = false;
    for e in acl {
        match e.tag {
            USER_OBJ if who.uid == owner.0 => return e.perm & want == want,
            USER if who.uid == e.id => return masked(e.perm),
            GROUP_OBJ | GROUP => {
                let gid = if e.tag == GROUP { e.id } else { owner.1 };
                if who.in_group(gid) {
                    found = true;
                    if e.perm & want == want {
                        return masked(e.perm);
                    }
                }
            }
            OTHER => return !found && e.perm & want == want,
            _ => {}
        }
    }
    false
}

/// The access check `acl_permission_check` makes with an access ACL, for
/// a caller who does not own `inode`: `None` when the ACL is not
/// consulted (none, or no group bits in the mode, as Linux skips it then),
/// else whether it grants `want`.
pub(crate) fn permission(inode: &Inode, want: u32, who: &Identity) -> Option<bool> {
    if inode.perm() & 0o070 == 0 {
        return None;
    }
    let st = read(&inode.state);
    let value = st.xattrs.as_ref()?.value(ACCESS)?;
    Some(permits(entries(value), inode.owner(), who, want))
}

/// `setxattr` (`value` not empty) or `removexattr` (`value` empty) of ACL
/// `kind` on `inode`, as Linux's `do_set_acl` with tmpfs's
/// `simple_set_acl`; sets `ctime` when something was set or removed.
///
/// # Errors
/// `EOPNOTSUPP` on a symlink; the errors of [`parse`]; `EACCES` for a
/// default ACL on a non-directory; those of [`valid`]; `ENOSPC` over the
/// memory limit (nothing changes then).
pub(crate) fn set(
    budget: &Arc<MemoryBudget>,
    clock: &Clock,
    inode: &Inode,
    kind: Kind,
    value: &[u8],
) -> io::Result<()> {
    if inode.is_symlink() {
        return fail(libc::EOPNOTSUPP);
    }
    let mut acl = parse(value)?;
    if kind == Kind::Default && !inode.is_dir() {
        return match acl {
            Some(_) => fail(libc::EACCES),
            None => Ok(()),
        };
    }
    if let Some(acl) = &acl {
        valid(acl)?;
    }
    let mut st = write(&inode.state);
    let mut mode = None;
    if kind == Kind::Access {
        if let Some(a) = &acl {
            let (m, not_equiv) = equiv_mode(a, inode.perm());
            mode = Some(m);
            if !not_equiv {
                acl = None;
            }
        }
    }
    match acl {
        Some(acl) => put(&mut st.xattrs, budget, kind.name(), &serialize(&acl))?,
        None => {
            take(&mut st.xattrs, kind.name());
        }
    }
    if let Some(mode) = mode {
        inode.set_perm(mode);
    }
    st.ctime = clock.now().into();
    Ok(())
}

/// Linux's `posix_acl_chmod`, for `chmod` under the inode's write lock:
/// a stored access ACL takes the new `mode`'s bits (same length, so the
/// charge does not change).
pub(crate) fn chmod(st: &mut State, mode: u32) {
    let Some(value) = st.xattrs.as_mut().and_then(|x| x.value_mut(ACCESS)) else {
        return;
    };
    let mut acl: Vec<Entry> = entries(value).collect();
    chmod_masq(&mut acl, mode);
    let bytes = serialize(&acl);
    if bytes.len() == value.len() {
        value.copy_from_slice(&bytes);
    }
}

/// Linux's `posix_acl_create` for a new inode of `kind` with requested
/// permission bits `perm` in `dir`: without a default ACL on `dir`, `perm`
/// less `umask`, and no attributes; with one, no umask: the mode and
/// access ACL [`create_masq`] gives (no access ACL when it says no more
/// than the mode), and a new directory's copy of the default ACL. A
/// symlink gets `0o777` and nothing. Returns the permission bits and the
/// attributes to give the new inode (charged to `budget`).
///
/// # Errors
/// `ENOSPC` over the memory limit.
pub(crate) fn inherit(
    dir: &Inode,
    kind: FileType,
    perm: u32,
    umask: u32,
    budget: &Arc<MemoryBudget>,
) -> io::Result<(u32, Option<Box<Xattrs>>)> {
    if kind == FileType::Symlink {
        return Ok((0o777, None));
    }
    let perm = perm & 0o7777;
    let default = {
        let st = read(&dir.state);
        let value = st.xattrs.as_ref().and_then(|x| x.value(DEFAULT));
        value.map(|v| (v.to_vec(), entries(v).collect::<Vec<Entry>>()))
    };
    let Some((default_bytes, mut acl)) = default else {
        return Ok((perm & !umask, None));
    };
    let (perm, not_equiv) = create_masq(&mut acl, perm);
    let mut xattrs = None;
    if not_equiv {
        put(&mut xattrs, budget, ACCESS, &serialize(&acl))?;
    }
    if kind == FileType::Dir {
        put(&mut xattrs, budget, DEFAULT, &default_bytes)?;
    }
    Ok((perm, xattrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(tag: u16, perm: u16, id: u32) -> Entry {
        Entry { tag, perm, id }
    }

    fn errno(r: io::Result<impl Sized>) -> i32 {
        r.err().and_then(|e| e.raw_os_error()).unwrap_or(0)
    }

    /// `u::rw-,u:1000:r--,g::r--,m::rw-,o::---`.
    fn extended() -> Vec<Entry> {
        vec![
            e(USER_OBJ, 6, UNDEFINED_ID),
            e(USER, 4, 1000),
            e(GROUP_OBJ, 4, UNDEFINED_ID),
            e(MASK, 6, UNDEFINED_ID),
            e(OTHER, 0, UNDEFINED_ID),
        ]
    }

    fn minimal(u: u16, g: u16, o: u16) -> Vec<Entry> {
        vec![e(USER_OBJ, u, 0), e(GROUP_OBJ, g, 0), e(OTHER, o, 0)]
    }

    #[test]
    fn parse_and_serialize_round_trip() {
        let bytes = serialize(&extended());
        assert_eq!(bytes.len(), 4 + 5 * 8);
        assert_eq!(&bytes[..4], &[2, 0, 0, 0]);
        assert_eq!(&bytes[4..12], &[1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(&bytes[12..20], &[2, 0, 4, 0, 0xe8, 3, 0, 0]);
        assert_eq!(parse(&bytes).ok().flatten(), Some(extended()));
        // Ids of unnamed entries are written as ACL_UNDEFINED_ID.
        let s = serialize(&minimal(7, 5, 0));
        assert!(entries(&s).all(|x| x.id == UNDEFINED_ID));
    }

    #[test]
    fn parse_errors_as_posix_acl_from_xattr() {
        assert_eq!(parse(b"").ok(), Some(None));
        assert_eq!(parse(&[2, 0, 0, 0]).ok(), Some(None));
        assert_eq!(errno(parse(&[2, 0, 0])), libc::EINVAL);
        assert_eq!(errno(parse(&[1, 0, 0, 0])), libc::EOPNOTSUPP);
        let mut b = serialize(&minimal(6, 4, 4));
        b.push(0);
        assert_eq!(errno(parse(&b)), libc::EINVAL);
        assert_eq!(
            errno(parse(&serialize(&[e(0x40, 0, 0)]))),
            libc::EINVAL,
            "unknown tag"
        );
        let mut named = extended();
        named[1].id = u32::MAX;
        assert_eq!(errno(parse(&serialize(&named))), libc::EINVAL);
        // The version is checked before the length.
        assert_eq!(errno(parse(&[3, 0, 0, 0, 1])), libc::EOPNOTSUPP);
    }

    #[test]
    fn validity_as_posix_acl_valid() {
        assert!(valid(&extended()).is_ok());
        assert!(valid(&minimal(7, 7, 7)).is_ok());
        let bad: Vec<Vec<Entry>> = vec![
            vec![],
            minimal(8, 0, 0),
            vec![e(USER_OBJ, 6, 0), e(GROUP_OBJ, 4, 0)],
            vec![e(GROUP_OBJ, 4, 0), e(USER_OBJ, 6, 0), e(OTHER, 0, 0)],
            vec![
                e(USER_OBJ, 6, 0),
                e(USER_OBJ, 6, 0),
                e(GROUP_OBJ, 4, 0),
                e(OTHER, 0, 0),
            ],
            // A named entry without a mask.
            vec![
                e(USER_OBJ, 6, 0),
                e(USER, 6, 5),
                e(GROUP_OBJ, 4, 0),
                e(OTHER, 0, 0),
            ],
            // A named user after the group.
            vec![
                e(USER_OBJ, 6, 0),
                e(GROUP_OBJ, 4, 0),
                e(USER, 6, 5),
                e(MASK, 6, 0),
                e(OTHER, 0, 0),
            ],
            // Something after OTHER.
            vec![
                e(USER_OBJ, 6, 0),
                e(GROUP_OBJ, 4, 0),
                e(OTHER, 0, 0),
                e(OTHER, 0, 0),
            ],
            // Two masks.
            vec![
                e(USER_OBJ, 6, 0),
                e(GROUP_OBJ, 4, 0),
                e(MASK, 6, 0),
                e(MASK, 6, 0),
                e(OTHER, 0, 0),
            ],
        ];
        for acl in bad {
            assert_eq!(errno(valid(&acl)), libc::EINVAL, "{acl:?}");
        }
        // A mask alone is fine; so are unsorted and repeated named ids
        // (the kernel does not check them).
        let mut masked = minimal(6, 4, 0);
        masked.insert(2, e(MASK, 4, 0));
        assert!(valid(&masked).is_ok());
        let mut ids = extended();
        ids.insert(1, e(USER, 4, 2000));
        ids.insert(1, e(USER, 4, 1000));
        assert!(valid(&ids).is_ok());
    }

    #[test]
    fn mode_arithmetic() {
        assert_eq!(equiv_mode(&minimal(6, 4, 0), 0o4777), (0o4640, false));
        assert_eq!(equiv_mode(&extended(), 0o100), (0o660, true));
        let mut acl = extended();
        chmod_masq(&mut acl, 0o751);
        let perms: Vec<u16> = acl.iter().map(|x| x.perm).collect();
        assert_eq!(perms, [7, 4, 4, 5, 1]);
        let mut acl = minimal(6, 4, 0);
        chmod_masq(&mut acl, 0o751);
        assert_eq!(acl, minimal(7, 5, 1));
        // A default `u::rwx,u:1000:rw-,g::r-x,m::rwx,o::--x`, file 0o640.
        let mut acl = vec![
            e(USER_OBJ, 7, 0),
            e(USER, 6, 1000),
            e(GROUP_OBJ, 5, 0),
            e(MASK, 7, 0),
            e(OTHER, 1, 0),
        ];
        assert_eq!(create_masq(&mut acl, 0o640), (0o640, true));
        let perms: Vec<u16> = acl.iter().map(|x| x.perm).collect();
        assert_eq!(perms, [6, 6, 5, 4, 0]);
        let mut acl = minimal(7, 5, 5);
        assert_eq!(create_masq(&mut acl, 0o2666), (0o2644, false));
    }

    #[test]
    fn permission_as_posix_acl_permission() {
        let owner = (10, 20);
        let acl = [
            e(USER_OBJ, 6, 0),
            e(USER, 7, 1000),
            e(USER, 0, 1001),
            e(GROUP_OBJ, 4, 0),
            e(GROUP, 2, 30),
            e(MASK, 6, 0),
            e(OTHER, 1, 0),
        ];
        let who = |uid, gid| Identity::new(uid, gid);
        assert!(permits(acl.iter().copied(), owner, &who(10, 0), 6));
        assert!(!permits(acl.iter().copied(), owner, &who(10, 0), 1));
        // Named user: masked (no x), and no fall-through to other.
        assert!(permits(acl.iter().copied(), owner, &who(1000, 0), 6));
        assert!(!permits(acl.iter().copied(), owner, &who(1000, 0), 1));
        assert!(!permits(acl.iter().copied(), owner, &who(1001, 0), 1));
        // Group class: any matching entry that grants, masked.
        assert!(permits(acl.iter().copied(), owner, &who(5, 20), 4));
        assert!(permits(
            acl.iter().copied(),
            owner,
            &who(5, 5).with_groups([20, 30]),
            2
        ));
        assert!(!permits(
            acl.iter().copied(),
            owner,
            &who(5, 20).with_groups([30]),
            6
        ));
        // A group matched but none grants: denied, though other has x.
        assert!(!permits(acl.iter().copied(), owner, &who(5, 30), 1));
        assert!(permits(acl.iter().copied(), owner, &who(5, 5), 1));
        assert!(!permits(acl.iter().copied(), owner, &who(5, 5), 4));
    }

    /// Symlinks have no ACLs: setting or removing one is `EOPNOTSUPP`
    /// (unreachable through `Fs`, whose xattr calls follow links), and a
    /// new symlink inherits nothing.
    // Inodes hold loom atomics under loom, usable only inside a model.
    #[cfg(not(loom))]
    #[test]
    fn symlinks_have_none() {
        let budget = &Arc::new(MemoryBudget::unlimited());
        let clock = &Clock::default();
        let link = Inode::new(
            9,
            FileType::Symlink,
            0o777,
            std::sync::Weak::new(),
            crate::types::inode::Body::Symlink(Arc::from(&b"t"[..])),
            (0, 0),
            std::time::SystemTime::UNIX_EPOCH,
        );
        let acl = serialize(&extended());
        for kind in [Kind::Access, Kind::Default] {
            assert_eq!(
                errno(set(budget, clock, &link, kind, &acl)),
                libc::EOPNOTSUPP
            );
            assert_eq!(
                errno(set(budget, clock, &link, kind, b"")),
                libc::EOPNOTSUPP
            );
            assert_eq!(
                errno(set(budget, clock, &link, kind, &[9, 0, 0, 0])),
                libc::EOPNOTSUPP
            );
        }
        let dir = Inode::new(
            10,
            FileType::Dir,
            0o755,
            std::sync::Weak::new(),
            crate::types::inode::Body::Dir(Default::default()),
            (0, 0),
            std::time::SystemTime::UNIX_EPOCH,
        );
        set(budget, clock, &dir, Kind::Default, &acl).ok();
        let (perm, xattrs) = inherit(&dir, FileType::Symlink, 0o644, 0o022, budget)
            .ok()
            .unwrap_or_default();
        assert_eq!((perm, xattrs.is_none()), (0o777, true));
        let (perm, xattrs) = inherit(&dir, FileType::File, 0o644, 0o022, budget)
            .ok()
            .unwrap_or_default();
        assert_eq!((perm, xattrs.is_some()), (0o640, true));
    }
}
