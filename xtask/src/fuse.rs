//! The FUSE step of `cargo xtask ci` and the mount part of `cargo xtask demo`.
//!
//! `fuse3` and the programs the erm-fuse tests run on the mount (tar, git,
//! python3, sqlite3, setpriv, diff, find) are in `ci::SYSTEM_PACKAGES`,
//! installed by CI's first step.

use std::path::Path;

use crate::util::{cargo, ensure_packages, exec, have};

/// Why FUSE cannot run here, if it cannot.
pub fn unavailable() -> Option<&'static str> {
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing (a container without --device /dev/fuse?)");
    }
    if !have("fusermount3") {
        return Some("fusermount3 is missing (apt-get install fuse3)");
    }
    None
}

/// CI: the erm-fuse tests with their output shown, so a skipped program
/// (printed `SKIP: ...`) is visible in the log.
pub fn ci() -> Result<(), String> {
    if let Some(why) = unavailable() {
        println!("fuse: SKIPPED: {why}");
        return Ok(());
    }
    exec(cargo().args([
        "test",
        "-p",
        "erm-fuse",
        "--all-features",
        "--",
        "--nocapture",
        "--test-threads=4",
    ]))
}

/// Demo: installs `fuse3` if it can; says why the mount part is skipped
/// otherwise. Returns whether the mount demo can run.
pub fn demo_ready() -> bool {
    if !have("fusermount3")
        && let Err(e) = ensure_packages(&[("fusermount3", "fuse3")])
    {
        println!("fuse demo: SKIPPED: cannot install fuse3: {e}");
        return false;
    }
    match unavailable() {
        Some(why) => {
            println!("fuse demo: SKIPPED: {why}");
            false
        }
        None => true,
    }
}
