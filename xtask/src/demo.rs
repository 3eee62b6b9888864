//! `cargo xtask demo`: each layer's demo example, bottom up, in release mode.

use crate::util::{cargo, exec};

/// `(package, example)` pairs, in the order the layers stack.
const DEMOS: &[(&str, &str)] = &[
    ("erm-alloc", "alloc_demo"),
    ("erm-compress", "compress_demo"),
    ("ermfs", "ermfs_demo"),
    ("ermfd", "ermfd_demo"),
    ("ermfs", "export_demo"),
    // Last: mount ERMFS with FUSE (skipped, saying why, without FUSE).
    ("erm-fuse", "fuse_demo"),
];

pub fn run() -> Result<(), String> {
    for (package, example) in DEMOS {
        if *package == "erm-fuse" && !crate::fuse::demo_ready() {
            continue;
        }
        println!("\n=== {package}: example `{example}`\n");
        exec(cargo().args([
            "run",
            "--release",
            "--quiet",
            "-p",
            package,
            "--example",
            example,
        ]))?;
    }
    Ok(())
}
