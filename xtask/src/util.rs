//! Helpers for running commands and finding the workspace.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A `cargo` command run from the workspace root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// A `cargo` command on the nightly toolchain, run from the workspace root.
///
/// `cargo +nightly` only works through rustup's proxy, and `cargo xtask`
/// runs with `CARGO` pointing at the stable toolchain's own binary, so this
/// goes through `rustup run nightly cargo` and drops the variables that would
/// pin the stable toolchain.
pub fn nightly_cargo() -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo"]).current_dir(root());
    for var in [
        "CARGO",
        "RUSTC",
        "RUSTDOC",
        "RUSTUP_TOOLCHAIN",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd`, failing with a message naming it when it exits non-zero.
pub fn exec(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}

/// Whether `program` is on the PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// A named step of a longer job: prints its name, runs it, prints its duration,
/// and turns a failure into a line saying which step failed.
pub fn step(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    println!("\n==> {name}");
    let start = Instant::now();
    let result = f();
    let secs = start.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
            println!("<== {name}: ok in {secs:.1}s");
            Ok(())
        }
        Err(e) => Err(format!("step `{name}` failed after {secs:.1}s: {e}")),
    }
}

/// Installs Debian packages whose marker is missing (a program on the PATH,
/// or an absolute path to a file such as a header): `apt-get update` once,
/// then `apt-get install -y`, non-interactively. Fails loudly when it cannot.
pub fn ensure_packages(wanted: &[(&str, &str)]) -> Result<(), String> {
    let present = |marker: &str| {
        if marker.starts_with('/') {
            std::path::Path::new(marker).exists()
        } else {
            have(marker)
        }
    };
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(marker, _)| !present(marker))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing missing system packages: {}", missing.join(" "));
    if !have("apt-get") {
        return Err(format!(
            "missing {} and no apt-get to install them",
            missing.join(", ")
        ));
    }
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        exec(&mut cmd)
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)
}
