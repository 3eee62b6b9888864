//! `cargo xtask ci`: every check, in order, stopping at the first failure.

use crate::util::{cargo, ensure_packages, exec, have, nightly_cargo, root, step};
use std::process::Command;
use std::time::Instant;

/// Debian packages the checks need, each with a program that shows it is there.
const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    ("cmake", "cmake"), // builds zlib-ng for erm-compress's `zlib-ng` backend
    ("cc", "gcc"),      // builds zlib and libdeflate
    ("make", "make"),
    ("gzip", "gzip"),   // interop tests pipe through the real gzip
    ("bgzip", "tabix"), // ... and bgzip -d
    ("pigz", "pigz"),   // ... and multi-member streams from pigz
    ("pkg-config", "pkg-config"),
    ("valgrind", "valgrind"),   // the C tests run under valgrind too
    ("sha256sum", "coreutils"), // the export demo's child process
    // erm-fuse: fuse3 (fusermount3) and the programs its tests run on a
    // mount; the list lives in fuse.rs beside the step that needs it.
    ("fusermount3", "fuse3"),
    ("tar", "tar"),
    ("git", "git"),
    ("python3", "python3"),
    ("sqlite3", "sqlite3"),
    ("setpriv", "util-linux"),
    ("diff", "diffutils"),
    ("find", "findutils"),
    ("setfacl", "acl"),   // the POSIX ACL test (setfacl, getfacl)
    ("perl", "perl"),     // the rewinddir test; prove runs pjdfstest
    ("bindfs", "bindfs"), // the passthrough-FUSE anchor of the fuse bench
    ("fio", "fio"),       // the fuse bench's randrw psync case
];

/// Crates whose lockless structures have Miri-checked unit tests.
pub const MIRI_CRATES: &[&str] = &["erm-registry", "erm-fdtable"];

/// Seconds each fuzz target runs in CI (the full `cargo xtask fuzz` default is 60).
const CI_FUZZ_SECONDS: &str = "20";

pub fn run() -> Result<(), String> {
    let start = Instant::now();
    step("system packages", || ensure_packages(SYSTEM_PACKAGES))?;
    step("fmt", || exec(cargo().args(["fmt", "--all", "--check"])))?;
    // Also a test (run again with the tests); first here because it is instant.
    step("tidy", crate::tidy::run)?;
    step("clippy", || {
        exec(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("tests", tests)?;
    step(
        "FUSE (real programs on an ermfs-mount under target/fuse-tests)",
        crate::fuse::ci,
    )?;
    step(
        "mount helper (install-mount into target/, mount as mount(8) does)",
        crate::mount_helper::ci,
    )?;
    step(
        "conformance (pjdfstest in full, fsx 200,000 operations)",
        || crate::conformance::run(crate::conformance::Scope::Ci),
    )?;
    step(
        "C ABI (header, C tests, valgrind, install-c + pkg-config example)",
        crate::capi::ci,
    )?;
    step("docs", || {
        exec(
            cargo()
                .args(["doc", "--workspace", "--no-deps"])
                .env("RUSTDOCFLAGS", "-D warnings"),
        )
    })?;
    step("loom models", loom)?;
    step("miri (lockless unit tests)", run_miri)?;
    step("fuzz (short)", || crate::fuzz::run(Some(CI_FUZZ_SECONDS)))?;
    step("bench smoke (--quick)", || crate::bench::run(true))?;
    println!(
        "\nci: all steps passed in {:.1} min",
        start.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}

fn tests() -> Result<(), String> {
    if have("cargo-nextest") {
        exec(cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
        ]))?;
        // nextest does not run doc tests.
        exec(cargo().args(["test", "--workspace", "--all-features", "--doc"]))
    } else {
        exec(cargo().args(["test", "--workspace", "--all-features"]))
    }
}

/// Packages with `tests/loom_*.rs` models, found by looking, so a new crate's
/// models run without touching this file.
fn loom_packages() -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(root()) else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(tests) = std::fs::read_dir(entry.path().join("tests")) else {
            continue;
        };
        let has_model = tests
            .flatten()
            .any(|t| t.file_name().to_string_lossy().starts_with("loom"));
        if has_model {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found.sort();
    found
}

fn loom() -> Result<(), String> {
    let packages = loom_packages();
    if packages.is_empty() {
        println!("no loom models yet");
        return Ok(());
    }
    for package in packages {
        exec(
            cargo()
                .args(["test", "--release", "-p", &package, "--tests"])
                .env("RUSTFLAGS", "--cfg loom")
                .env("CARGO_TARGET_DIR", root().join("target/loom"))
                .env("LOOM_MAX_PREEMPTIONS", "2"),
        )?;
    }
    Ok(())
}

/// `cargo xtask miri`: the lockless crates' unit tests under Miri.
pub fn miri() -> Result<(), String> {
    step("miri", run_miri)
}

fn run_miri() -> Result<(), String> {
    if !crate::fuzz::nightly_works() {
        println!(
            "miri: SKIPPED: no working nightly toolchain (`rustup toolchain install nightly` to enable)"
        );
        return Ok(());
    }
    // Idempotent and quick when the components are already there. They come
    // from rustup's own server, not a package registry: if it cannot be
    // reached, say so loudly and go on rather than fail every other check.
    let components = Command::new("rustup")
        .args([
            "component",
            "add",
            "--toolchain",
            "nightly",
            "miri",
            "rust-src",
        ])
        .status();
    if !components.is_ok_and(|s| s.success()) {
        println!("miri: SKIPPED: `rustup component add --toolchain nightly miri rust-src` failed");
        return Ok(());
    }
    for package in MIRI_CRATES {
        if !root().join(package).is_dir() {
            continue;
        }
        exec(
            nightly_cargo()
                .args(["miri", "test", "-p", package, "--lib"])
                .env("MIRIFLAGS", "-Zmiri-strict-provenance")
                .env("CARGO_TARGET_DIR", root().join("target/miri")),
        )?;
    }
    Ok(())
}
