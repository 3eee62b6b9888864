//! erm-fuse integration tests: real programs on a real mount under
//! `target/fuse-tests/<name>`, each mount unmounted by a guard even when
//! the test fails. Skipped, with the reason printed, where FUSE is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod all {
    pub mod common;
    mod concurrent;
    mod mount_binary;
    mod posix;
    mod programs;
    mod tmpfs_parity;
}
