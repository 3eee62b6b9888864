//! The C ABI's chores: generate and check `ermfs.h`, build and run the C
//! tests (plain and under valgrind, against `libermfs.so` and `libermfs.a`),
//! install the library with a pkg-config file, and run the C benchmark.
//!
//! `ermfs.h` is generated with cbindgen used as a library, from
//! `ermfs-c/src` and `ermfs-c/cbindgen.toml`: checking it is a parse of a few
//! source files and a byte comparison, no build. The C programs live in
//! `ermfs-c/tests/c/` and are built with the system's `cc`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{cargo, exec, have, root, step};

/// The C tests, each a program exiting non-zero on failure.
const C_TESTS: &[&str] = &[
    "test_ermfd",
    "test_full_store",
    "test_lockless_correctness",
    "test_lockless_concurrency",
    "test_metadata",
    "test_nodes",
];

/// The C benchmark; prints `ratio lockless/locked open-close 2t: R`.
const C_BENCH: &str = "benchmark_lockless";

/// The README's C example, built through pkg-config after `install-c`.
const C_EXAMPLE: &str = "example";

/// Warnings are errors: the C programs are part of the tested surface.
const CFLAGS: &[&str] = &[
    "-std=c11",
    "-D_GNU_SOURCE",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-O2",
    "-g",
    "-pthread",
];

fn crate_dir() -> PathBuf {
    root().join("ermfs-c")
}

fn header_path() -> PathBuf {
    crate_dir().join("include/ermfs.h")
}

/// Cargo's target directory (honouring `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// `ermfs.h` as cbindgen generates it now.
fn generate() -> Result<Vec<u8>, String> {
    let config = cbindgen::Config::from_file(crate_dir().join("cbindgen.toml"))?;
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir().join("src/lib.rs"))
        .generate()
        .map_err(|e| format!("cbindgen: {e}"))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    Ok(out)
}

/// `cargo xtask header [--check]`: rewrites `ermfs-c/include/ermfs.h`, or
/// with `check` fails if the checked-in copy differs from a fresh one.
pub fn header(check: bool) -> Result<(), String> {
    let fresh = generate()?;
    let path = header_path();
    if check {
        let current = std::fs::read(&path).unwrap_or_default();
        if current != fresh {
            return Err(format!(
                "{} is stale: run `cargo xtask header` and commit it",
                path.display()
            ));
        }
        println!("{} is current", path.display());
        return Ok(());
    }
    std::fs::write(&path, fresh).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The built library: where `libermfs.so` and `libermfs.a` are, and the
/// system libraries a program linking `libermfs.a` needs (`-lz`, `-lm`, ...).
struct Lib {
    dir: PathBuf,
    static_libs: Vec<String>,
}

/// Builds the release library (`cargo rustc --release -p ermfs-c`), asking
/// rustc for the staticlib's native dependencies: they depend on the build
/// (system zlib or a bundled one), so they are read, not hard-coded. Cargo
/// replays the note when nothing needs rebuilding.
fn build_lib() -> Result<Lib, String> {
    let mut cmd = cargo();
    cmd.args(["rustc", "--release", "-p", "ermfs-c", "--lib", "--"])
        .arg("--print=native-static-libs");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    eprint!("{log}");
    if !out.status.success() {
        return Err(format!("{cmd:?} failed with {}", out.status));
    }
    let libs = log
        .lines()
        .find_map(|l| l.split_once("native-static-libs:"))
        .map(|(_, libs)| libs.split_whitespace().map(str::to_owned).collect())
        .ok_or_else(|| format!("{cmd:?} printed no native-static-libs line"))?;
    Ok(Lib {
        dir: target_dir().join("release"),
        static_libs: libs,
    })
}

/// How a C program links the library.
#[derive(Clone, Copy)]
enum Link {
    Shared,
    Static,
}

/// Compiles `ermfs-c/tests/c/<name>.c` against the library in `lib`.
fn compile(name: &str, lib: &Lib, link: Link) -> Result<PathBuf, String> {
    let out_dir = target_dir().join("c-tests");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let suffix = match link {
        Link::Shared => "",
        Link::Static => "-static",
    };
    let exe = out_dir.join(format!("{name}{suffix}"));
    let mut cc = Command::new("cc");
    cc.args(CFLAGS)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join(format!("tests/c/{name}.c")))
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Shared => {
            cc.arg(format!("-L{}", lib.dir.display()))
                .arg(format!("-Wl,-rpath,{}", lib.dir.display()))
                .arg("-lermfs");
        }
        Link::Static => {
            cc.arg(lib.dir.join("libermfs.a")).args(&lib.static_libs);
        }
    }
    exec(&mut cc)?;
    Ok(exe)
}

/// Runs a C program, under valgrind if asked (any error or definite leak fails).
fn run(exe: &Path, valgrind: bool) -> Result<(), String> {
    let mut cmd = if valgrind {
        let mut v = Command::new("valgrind");
        v.args([
            "--quiet",
            "--error-exitcode=1",
            "--leak-check=full",
            "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=definite",
        ])
        .arg(exe)
        // Smaller loops: valgrind runs the threads one at a time, ~50x slower.
        .env("ERMFS_C_QUICK", "1");
        v
    } else {
        Command::new(exe)
    };
    // The default instance reads these; the tests set what they need.
    // `cargo run` (hence `cargo xtask`) puts target/debug/deps on
    // LD_LIBRARY_PATH, which outranks the programs' RUNPATH: a stale debug
    // libermfs.so there would be tested instead of the release one.
    cmd.env_remove("ERMFS_MEMORY_LIMIT")
        .env_remove("ERMFS_LOCKLESS")
        .env_remove("ERMFS_UMASK")
        .env_remove("LD_LIBRARY_PATH");
    exec(&mut cmd)
}

/// `cargo xtask c-test`: builds the library and runs every C test linked
/// both ways, then under valgrind.
pub fn test() -> Result<(), String> {
    let mut built = None;
    step("C ABI: build libermfs (release)", || {
        built = Some(build_lib()?);
        Ok(())
    })?;
    let lib = built.expect("the step above built it or returned its error");
    step("C ABI: tests (libermfs.so and libermfs.a)", || {
        for name in C_TESTS {
            for link in [Link::Shared, Link::Static] {
                run(&compile(name, &lib, link)?, false)?;
            }
        }
        Ok(())
    })?;
    step("C ABI: tests under valgrind", || {
        if !have("valgrind") {
            return Err("valgrind is not installed (apt-get install valgrind)".into());
        }
        for name in C_TESTS {
            run(&compile(name, &lib, Link::Shared)?, true)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// `cargo xtask install-c [PREFIX]`: builds the release library and copies
/// `libermfs.so`, `libermfs.a`, `ermfs.h` and `ermfs.pc` under `PREFIX`
/// (default `/usr/local`): `lib/`, `include/`, `lib/pkgconfig/`. Returns the prefix.
pub fn install(prefix: Option<&str>) -> Result<PathBuf, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let prefix = cwd.join(prefix.unwrap_or("/usr/local"));
    let lib = build_lib()?;
    let (libdir, incdir) = (prefix.join("lib"), prefix.join("include"));
    let pcdir = libdir.join("pkgconfig");
    for dir in [&libdir, &incdir, &pcdir] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let copy = |from: PathBuf, to: PathBuf| {
        std::fs::copy(&from, &to)
            .map(drop)
            .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
    };
    copy(lib.dir.join("libermfs.so"), libdir.join("libermfs.so"))?;
    copy(lib.dir.join("libermfs.a"), libdir.join("libermfs.a"))?;
    copy(header_path(), incdir.join("ermfs.h"))?;
    let template = std::fs::read_to_string(crate_dir().join("ermfs.pc.in"))
        .map_err(|e| format!("ermfs.pc.in: {e}"))?;
    let pc = template
        .replace("@PREFIX@", &prefix.display().to_string())
        .replace("@VERSION@", &version()?)
        .replace("@LIBS_PRIVATE@", &lib.static_libs.join(" "));
    std::fs::write(pcdir.join("ermfs.pc"), pc).map_err(|e| format!("ermfs.pc: {e}"))?;
    println!(
        "installed libermfs, ermfs.h and ermfs.pc under {}",
        prefix.display()
    );
    Ok(prefix)
}

/// The `version` of `ermfs-c/Cargo.toml`.
fn version() -> Result<String, String> {
    let manifest = std::fs::read_to_string(crate_dir().join("Cargo.toml"))
        .map_err(|e| format!("ermfs-c/Cargo.toml: {e}"))?;
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = "))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .ok_or_else(|| "ermfs-c/Cargo.toml has no `version = ` line".to_owned())
}

/// Installs under `target/c-install` and builds the README example with
/// `cc example.c $(pkg-config --cflags --libs ermfs)`, then runs it.
fn pkg_config_example() -> Result<(), String> {
    let prefix = install(Some(&target_dir().join("c-install").display().to_string()))?;
    let pc_path = prefix.join("lib/pkgconfig");
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", "ermfs"])
        .env("PKG_CONFIG_PATH", &pc_path)
        .output()
        .map_err(|e| format!("pkg-config: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pkg-config --cflags --libs ermfs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let flags = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("pkg-config --cflags --libs ermfs: {}", flags.trim());
    let exe = target_dir().join("c-tests").join(C_EXAMPLE);
    std::fs::create_dir_all(target_dir().join("c-tests")).map_err(|e| e.to_string())?;
    exec(
        Command::new("cc")
            .arg(crate_dir().join(format!("tests/c/{C_EXAMPLE}.c")))
            .arg("-o")
            .arg(&exe)
            .args(flags.split_whitespace()),
    )?;
    let run = Command::new(&exe)
        .env("LD_LIBRARY_PATH", prefix.join("lib"))
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let text = String::from_utf8_lossy(&run.stdout);
    print!("{text}");
    if !run.status.success() || !text.contains("hello from ermfs") {
        return Err(format!("the example failed: {}", run.status));
    }
    Ok(())
}

/// Every C ABI check CI runs: header current, C tests (both links, then
/// valgrind), install + pkg-config example, a quick benchmark run.
pub fn ci() -> Result<(), String> {
    step("C ABI: ermfs.h current", || header(true))?;
    test()?;
    step("C ABI: install-c + pkg-config example", pkg_config_example)?;
    step("C ABI: benchmark_lockless (quick)", || {
        lockless_rates(true).map(drop)
    })
}

/// Runs `benchmark_lockless` and returns the locked and lockless open-close
/// throughputs at 2 threads, in Mops/s.
pub fn lockless_rates(quick: bool) -> Result<(f64, f64), String> {
    let lib = build_lib()?;
    let exe = compile(C_BENCH, &lib, Link::Shared)?;
    let mut cmd = Command::new(&exe);
    if quick {
        cmd.env("ERMFS_C_QUICK", "1");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() {
        return Err(format!("{C_BENCH} failed with {}", out.status));
    }
    let rate = |prefix: &str| -> Result<f64, String> {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|r| r.trim().trim_end_matches("Mops/s").trim().parse().ok())
            .ok_or_else(|| format!("{C_BENCH} printed no `{prefix}` line"))
    };
    Ok((
        rate("locked open-close 2t: ")?,
        rate("lockless open-close 2t: ")?,
    ))
}
