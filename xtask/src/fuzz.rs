//! `cargo xtask fuzz [SECONDS]`: every cargo-fuzz target for a bounded time.

use crate::util::{cargo, exec, have, nightly_cargo, root};
use std::process::Command;

/// Runs every target in `fuzz/` for `seconds` each (default 60) on the nightly
/// toolchain, installing `cargo-fuzz` when it is missing.
pub fn run(seconds: Option<&str>) -> Result<(), String> {
    let seconds = seconds.unwrap_or("60");
    seconds
        .parse::<u32>()
        .map_err(|_| format!("fuzz: `{seconds}` is not a number of seconds"))?;
    let targets = targets();
    if targets.is_empty() {
        println!("fuzz: no cases yet (no fuzz/fuzz_targets/*.rs)");
        return Ok(());
    }
    if !nightly_works() {
        println!(
            "fuzz: SKIPPED: no working nightly toolchain (`rustup toolchain install nightly` to enable)"
        );
        return Ok(());
    }
    if !have("cargo-fuzz") {
        exec(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    for target in targets {
        println!("fuzz: {target} for {seconds}s");
        exec(nightly_cargo().current_dir(root().join("fuzz")).args([
            "fuzz",
            "run",
            &target,
            "--",
            &format!("-max_total_time={seconds}"),
        ]))?;
    }
    Ok(())
}

fn targets() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root().join("fuzz/fuzz_targets")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// Whether `rustup run nightly` works (nightly is installed).
pub fn nightly_works() -> bool {
    Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}
