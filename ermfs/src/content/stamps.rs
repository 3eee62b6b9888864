//! Timestamps taken from the store's clock: the `relatime` rule reads and
//! `readdir` follow, and `utimens`.

use crate::content::shared::Shared;
use crate::sync::write;
use crate::types::config::{AtimePolicy, RELATIME_MAX_AGE};
use crate::types::inode::{Inode, State};
use crate::types::times::{Time, TimeSpec};

/// The time to store as `atime` if a read now should move it (compared as
/// stored, with no conversion: reads take this path every time).
pub(crate) fn atime_due(st: &State, shared: &Shared) -> Option<Time> {
    match shared.atime_policy() {
        AtimePolicy::Noatime => return None,
        AtimePolicy::Strict => return Some(Time::now(&shared.clock)),
        AtimePolicy::Relatime => {}
    }
    if st.atime <= st.mtime || st.atime <= st.ctime {
        return Some(Time::now(&shared.clock));
    }
    let now = Time::now(&shared.clock);
    (now >= st.atime.plus_secs(RELATIME_MAX_AGE)).then_some(now)
}

/// Stores `now` as `inode`'s access time (a read found it due).
pub(crate) fn set_atime(inode: &Inode, now: Time) {
    write(&inode.state).atime = now;
}

/// Applies `utimens` to `inode`.
pub(crate) fn set_times(shared: &Shared, inode: &Inode, atime: TimeSpec, mtime: TimeSpec) {
    let now = Time::now(&shared.clock);
    let mut st = write(&inode.state);
    let pick = |spec: TimeSpec, old: Time| match spec {
        TimeSpec::Now => now,
        TimeSpec::Omit => old,
        TimeSpec::Set(t) => t.into(),
    };
    st.atime = pick(atime, st.atime);
    st.mtime = pick(mtime, st.mtime);
    st.ctime = now;
}
