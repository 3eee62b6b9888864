//! The registry key of the namespace: a parent inode number and one path
//! component, validated (`EINVAL`, `ENAMETOOLONG`), with [`NAME_MAX`].
//!
//! erm-registry is a generic map; the file-name rules live here. The key is
//! 32 bytes with names of up to 22 bytes inline, so a lookup allocates
//! nothing and a lockless registry slot holding it is 40 bytes (a test below
//! guards both).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;

use crate::types::errno::err;

/// Longest name accepted, in bytes (Linux `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// Names up to this many bytes live inside the key, with no heap block.
const INLINE: usize = 22;

/// A directory entry key: `(parent inode number, name bytes)`, like the
/// kernel's dentry cache. Construction validates the name, so a `Name` in a
/// registry is always a legal path component.
///
/// A name of up to 22 bytes (nearly every real one) is stored inside the
/// key (32 bytes in all), so making a key for a lookup allocates nothing and
/// a stored key costs no heap block of its own; a longer one is boxed.
/// Equality, order and hash are those of `(parent, name bytes)`.
#[derive(Clone)]
pub(crate) struct Name {
    parent: u64,
    name: Bytes,
}

/// The name bytes: inline when they fit, boxed otherwise. Only the bytes
/// count: comparisons and the hash never look at which form holds them.
#[derive(Clone)]
enum Bytes {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Bytes {
    fn new(name: &[u8]) -> Bytes {
        match u8::try_from(name.len()) {
            Ok(len) if name.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..name.len()].copy_from_slice(name);
                Bytes::Inline { len, bytes }
            }
            _ => Bytes::Heap(name.into()),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Bytes::Heap(b) => b,
        }
    }
}

impl Name {
    /// Validates `name` as one path component under directory `parent`.
    ///
    /// # Errors
    /// `EINVAL` for an empty name or one containing `/` or a NUL byte;
    /// `ENAMETOOLONG` for a name longer than [`NAME_MAX`] bytes.
    pub(crate) fn new(parent: u64, name: &[u8]) -> io::Result<Name> {
        if name.is_empty() || name.iter().any(|&b| b == b'/' || b == 0) {
            return Err(err(libc::EINVAL));
        }
        if name.len() > NAME_MAX {
            return Err(err(libc::ENAMETOOLONG));
        }
        Ok(Name {
            parent,
            name: Bytes::new(name),
        })
    }

    /// The name bytes (1 to [`NAME_MAX`] of them, no `/`, no NUL).
    fn name(&self) -> &[u8] {
        self.name.as_slice()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.parent == other.parent && self.name() == other.name()
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    /// By parent, then by name bytes.
    fn cmp(&self, other: &Name) -> Ordering {
        (self.parent, self.name()).cmp(&(other.parent, other.name()))
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
        self.name().hash(state);
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Name")
            .field("parent", &self.parent)
            .field("name", &self.name())
            .finish()
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
        assert_eq!((ok.parent, ok.name().len()), (7, 255));
    }

    /// Short and long names keep their bytes, compare and hash by them.
    #[test]
    fn inline_and_boxed_names_agree() {
        let hash = |n: &Name| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            n.hash(&mut h);
            h.finish()
        };
        let names: Vec<Vec<u8>> = [1, 21, 22, 23, 255]
            .iter()
            .flat_map(|&len| [vec![b'a'; len], vec![b'b'; len]])
            .collect();
        for a in &names {
            let na = Name::new(3, a).expect("legal");
            assert_eq!(na.name(), &a[..]);
            for b in &names {
                let nb = Name::new(3, b).expect("legal");
                assert_eq!(na.cmp(&nb), a.cmp(b));
                assert_eq!(na == nb, a == b);
                assert_eq!(hash(&na) == hash(&nb), a == b);
            }
            assert!(Name::new(2, a).expect("legal") < na);
        }
    }

    /// The key is 32 bytes on 64-bit targets, and a lockless registry slot
    /// holding it 40: the per-file cost at rest (BENCHMARKS.md). Not under
    /// loom, whose atomics are bigger than std's.
    #[test]
    #[cfg(all(target_pointer_width = "64", not(loom)))]
    fn name_is_32_bytes_and_its_slot_40() {
        assert_eq!(std::mem::size_of::<Name>(), 32);
        assert_eq!(
            erm_registry::LocklessRegistry::<Name, crate::types::inode::Inode>::SLOT_BYTES,
            40
        );
    }
}
