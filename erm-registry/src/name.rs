//! The key ermfs uses: a parent inode number and one path component.

use std::io;

/// Longest name accepted, in bytes (Linux `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// A directory entry key: `(parent inode number, name bytes)`, like the
/// kernel's dentry cache. Construction validates the name, so a `Name` in a
/// registry is always a legal path component.
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Name {
    parent: u64,
    name: Box<[u8]>,
}

impl Name {
    /// Validates `name` as one path component under directory `parent`.
    ///
    /// # Errors
    /// `EINVAL` for an empty name or one containing `/` or a NUL byte;
    /// `ENAMETOOLONG` for a name longer than [`NAME_MAX`] bytes.
    pub fn new(parent: u64, name: &[u8]) -> io::Result<Name> {
        if name.is_empty() || name.iter().any(|&b| b == b'/' || b == 0) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        if name.len() > NAME_MAX {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        Ok(Name {
            parent,
            name: name.into(),
        })
    }

    /// The parent directory's inode number.
    pub fn parent(&self) -> u64 {
        self.parent
    }

    /// The name bytes (1 to [`NAME_MAX`] of them, no `/`, no NUL).
    pub fn name(&self) -> &[u8] {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_names() {
        let errno = |r: io::Result<Name>| r.err().and_then(|e| e.raw_os_error());
        assert_eq!(errno(Name::new(1, b"")), Some(libc::EINVAL));
        assert_eq!(errno(Name::new(1, b"a/b")), Some(libc::EINVAL));
        assert_eq!(errno(Name::new(1, b"a\0")), Some(libc::EINVAL));
        assert_eq!(errno(Name::new(1, &[b'x'; 256])), Some(libc::ENAMETOOLONG));
        let ok = Name::new(7, &[b'x'; 255]).expect("255 bytes is legal");
        assert_eq!((ok.parent(), ok.name().len()), (7, 255));
    }
}
