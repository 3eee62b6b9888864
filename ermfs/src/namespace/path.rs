//! Path parsing: bytes in, components out, Linux's limits and errors.
//!
//! Paths are byte strings (no UTF-8 requirement). A relative path is resolved
//! against `/` (ERMFS has no working directory). `//` collapses; `.` and `..`
//! are kept as components because resolving them needs the walk: `.` and
//! `..` after a file give `ENOTDIR` as on Linux, and `..` pops to the parent
//! directory met during the walk, never above `/`. A component's length is
//! checked by the walk, when the name is looked up in a directory (the
//! registry's `Name` refuses one past [`NAME_MAX`]), as Linux does: a long
//! name under a missing directory is `ENOENT`, under a file `ENOTDIR`.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::types::errno::fail;
#[cfg(doc)]
use crate::types::name::NAME_MAX;

/// Longest path accepted, in bytes (Linux `PATH_MAX` is 4096 with the NUL).
pub const PATH_MAX: usize = 4095;

/// One component of a parsed path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comp<'a> {
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// Any other name (1 or more bytes, no `/`, no NUL; the walk refuses
    /// one past [`NAME_MAX`]).
    Name(&'a [u8]),
}

/// A validated path: its components (empty for `/`), whether it ended in
/// `/`, and whether it began with one (only a symlink's target resolves
/// differently for that: against the link's directory when relative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed<'a> {
    pub comps: Vec<Comp<'a>>,
    pub trailing_slash: bool,
    pub absolute: bool,
}

/// Splits and validates `path`.
///
/// # Errors
/// `ENOENT` for an empty path, `EINVAL` for a NUL byte, `ENAMETOOLONG` past
/// [`PATH_MAX`] bytes (a component past [`NAME_MAX`] is left to the walk).
pub(crate) fn parse(path: &Path) -> io::Result<Parsed<'_>> {
    parse_bytes(path.as_os_str().as_bytes())
}

/// [`parse`] on bytes (a symlink's target).
pub(crate) fn parse_bytes(bytes: &[u8]) -> io::Result<Parsed<'_>> {
    if bytes.is_empty() {
        return fail(libc::ENOENT);
    }
    if bytes.contains(&0) {
        return fail(libc::EINVAL);
    }
    if bytes.len() > PATH_MAX {
        return fail(libc::ENAMETOOLONG);
    }
    let mut comps = Vec::new();
    for part in bytes.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
        comps.push(match part {
            b"." => Comp::Dot,
            b".." => Comp::DotDot,
            name => Comp::Name(name),
        });
    }
    // "/" alone has no trailing slash to honour: it names the root.
    let trailing_slash = bytes.len() > 1 && bytes.ends_with(b"/") && !comps.is_empty();
    Ok(Parsed {
        comps,
        trailing_slash,
        absolute: bytes.starts_with(b"/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno(p: &[u8]) -> Option<i32> {
        parse(Path::new(std::ffi::OsStr::from_bytes(p)))
            .err()
            .and_then(|e| e.raw_os_error())
    }

    #[test]
    fn splits_and_validates() {
        let p = parse(Path::new("//a/./b/../c/")).expect("valid");
        assert_eq!(
            p.comps,
            vec![
                Comp::Name(b"a"),
                Comp::Dot,
                Comp::Name(b"b"),
                Comp::DotDot,
                Comp::Name(b"c")
            ]
        );
        assert!(p.trailing_slash && p.absolute);
        assert!(!parse(Path::new("a/b")).expect("valid").absolute);
        let root = parse(Path::new("/")).expect("valid");
        assert!(root.comps.is_empty() && !root.trailing_slash);
        assert_eq!(
            parse(Path::new("x")).expect("valid").comps,
            vec![Comp::Name(b"x")]
        );
        assert_eq!(errno(b""), Some(libc::ENOENT));
        assert_eq!(errno(b"/a\0b"), Some(libc::EINVAL));
        // Too long a name is the walk's to refuse (after the directories
        // before it), not the parser's.
        assert_eq!(errno(&[b'a'; 256]), None);
        let long: Vec<u8> = b"/a".repeat(2048);
        assert_eq!(errno(&long), Some(libc::ENAMETOOLONG));
        assert_eq!(errno(&long[..4095]), None);
    }
}
