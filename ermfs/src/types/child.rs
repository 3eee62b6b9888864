//! A directory's child names as its entry set keeps them: 24 bytes each,
//! the bytes inline up to 22 of them.
//!
//! Every file costs one entry in its directory's set at rest, so the entry
//! is as small as a name can be without a heap block: a B-tree leaf of
//! these is a 288-byte heap chunk for 11 names (with the parent in each
//! entry, as a registry key has it, 384 bytes).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

/// Names up to this many bytes live inline.
const INLINE: usize = 22;

/// One child name (already validated as a path component).
#[derive(Clone)]
pub(crate) enum ChildName {
    /// The common case: no heap block.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// Longer than [`INLINE`] bytes.
    Heap(Box<[u8]>),
}

impl ChildName {
    pub fn new(name: &[u8]) -> ChildName {
        match u8::try_from(name.len()) {
            Ok(len) if name.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..name.len()].copy_from_slice(name);
                ChildName::Inline { len, bytes }
            }
            _ => ChildName::Heap(name.into()),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ChildName::Inline { len, bytes } => &bytes[..usize::from(*len)],
            ChildName::Heap(b) => b,
        }
    }
}

// Equality and order are the bytes' (never the form holding them), so that
// `Borrow<[u8]>` lets the set be searched by a plain slice.
impl PartialEq for ChildName {
    fn eq(&self, other: &ChildName) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ChildName {}

impl PartialOrd for ChildName {
    fn partial_cmp(&self, other: &ChildName) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ChildName {
    fn cmp(&self, other: &ChildName) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Borrow<[u8]> for ChildName {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for ChildName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_boxed_names_agree_and_stay_small() {
        let names: Vec<Vec<u8>> = [1, 21, 22, 23, 255]
            .iter()
            .flat_map(|&len| [vec![b'a'; len], vec![b'b'; len]])
            .collect();
        for a in &names {
            let ca = ChildName::new(a);
            assert_eq!(ca.as_bytes(), &a[..]);
            for b in &names {
                assert_eq!(ca.cmp(&ChildName::new(b)), a.cmp(b));
            }
        }
        #[cfg(target_pointer_width = "64")]
        assert_eq!(std::mem::size_of::<ChildName>(), 24);
    }
}
