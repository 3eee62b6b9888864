//! The extended attributes of one inode ([`Xattrs`]): a vector of
//! `(name, value)` pairs sorted by name, its bytes charged to the memory
//! budget and credited back when it drops. What the names mean and which
//! calls reach them is `xattr.rs`'s (and `acl.rs`'s for the two ACLs).

use std::io;
use std::sync::Arc;

use erm_alloc::MemoryBudget;

/// One attribute: name and value.
type Entry = (Box<[u8]>, Box<[u8]>);

/// The extended attributes of one inode, charged to the budget.
pub(crate) struct Xattrs {
    /// Sorted by name.
    entries: Vec<Entry>,
    /// Bytes charged: the sum of the names' and values' lengths.
    charged: usize,
    budget: Arc<MemoryBudget>,
}

impl std::fmt::Debug for Xattrs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Xattrs")
            .field("count", &self.entries.len())
            .field("charged", &self.charged)
            .finish_non_exhaustive()
    }
}

impl Drop for Xattrs {
    fn drop(&mut self) {
        self.budget.credit(self.charged);
    }
}

impl Xattrs {
    fn find(&self, name: &[u8]) -> Result<usize, usize> {
        self.entries.binary_search_by(|(n, _)| (**n).cmp(name))
    }

    /// The names set, in byte order.
    pub(crate) fn names(&self) -> impl DoubleEndedIterator<Item = &[u8]> + Clone {
        self.entries.iter().map(|(n, _)| &**n)
    }

    /// The value of `name`, if set.
    pub(crate) fn value(&self, name: &[u8]) -> Option<&[u8]> {
        self.find(name).ok().map(|i| &*self.entries[i].1)
    }

    /// The value of `name`, if set, to change in place (its length, and
    /// so the charge, stays).
    pub(crate) fn value_mut(&mut self, name: &[u8]) -> Option<&mut [u8]> {
        let i = self.find(name).ok()?;
        Some(&mut self.entries[i].1)
    }
}

/// Sets `name` to `value` in `slot` (boxing an empty store first), the
/// difference charged to `budget` before anything changes.
///
/// # Errors
/// `ENOSPC` over the memory limit (nothing changes).
pub(crate) fn put(
    slot: &mut Option<Box<Xattrs>>,
    budget: &Arc<MemoryBudget>,
    name: &[u8],
    value: &[u8],
) -> io::Result<()> {
    let old = slot
        .as_ref()
        .and_then(|x| x.find(name).ok().map(|i| x.entries[i].1.len()));
    // Charged before anything changes, so a refusal leaves all as it was.
    let cost = match old {
        Some(old) => value.len().saturating_sub(old),
        None => name.len() + value.len(),
    };
    budget.try_charge(cost)?;
    let xattrs = slot.get_or_insert_with(|| {
        Box::new(Xattrs {
            entries: Vec::new(),
            charged: 0,
            budget: Arc::clone(budget),
        })
    });
    match xattrs.find(name) {
        Ok(i) => {
            let old = xattrs.entries[i].1.len();
            budget.credit(old.saturating_sub(value.len()));
            xattrs.charged = xattrs.charged - old + value.len();
            xattrs.entries[i].1 = value.into();
        }
        Err(i) => {
            xattrs.charged += cost;
            xattrs.entries.insert(i, (name.into(), value.into()));
        }
    }
    Ok(())
}

/// Removes `name` from `slot` (crediting its bytes; an emptied store is
/// dropped); whether it was there.
pub(crate) fn take(slot: &mut Option<Box<Xattrs>>, name: &[u8]) -> bool {
    let Some(x) = slot.as_mut() else {
        return false;
    };
    let Ok(i) = x.find(name) else {
        return false;
    };
    let (n, v) = x.entries.remove(i);
    let freed = n.len() + v.len();
    x.charged -= freed;
    x.budget.credit(freed);
    if x.entries.is_empty() {
        *slot = None;
    }
    true
}
