//! `cargo xtask`: the one entry point for ERMFS chores (CI, tidy, demo, benchmarks, fuzzing).
//!
//! Bare `cargo xtask` prints help. Every subcommand is plain Rust calling
//! `cargo` and the system's tools, so a fresh Linux machine needs nothing but
//! a Rust toolchain: missing system packages are installed with `apt-get`.

mod bench;
mod capi;
mod ci;
mod conformance;
mod demo;
mod doc_refs;
mod fuse;
mod fuzz;
mod module_tree;
mod mount_helper;
mod plot;
mod tidy;
mod util;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <command>

Commands:
  ci               every check CI runs (fmt, tidy, clippy, tests, docs, loom, miri, fuzz, bench smoke)
  tidy             repository hygiene and the architecture invariants (also a test)
  conformance      pjdfstest and fsx on fresh ermfs-mount mounts, in full (as root; builds
                   them under target/conformance from ../shared/conformance)
  demo             show ERMFS at work, layer by layer
  bench [--quick]  run every benchmark beside its anchor; writes target/bench/summary.json
                   and the table in BENCHMARKS.md (--quick: the CI smoke run, under 5 minutes)
  plot             redraw the charts of target/bench/summary.json into target/bench/plots
  fuzz [SECONDS]   run every cargo-fuzz target for SECONDS each (default 60)
  miri             run the lockless crates' unit tests under Miri (nightly; also part of ci)
  header [--check] regenerate ermfs-c/include/ermfs.h with cbindgen (--check: fail if stale)
  c-test           build libermfs, run the C tests (.so, .a, then valgrind)
  install-c [PREFIX]
                   install libermfs.{so,a}, ermfs.h and lib/pkgconfig/ermfs.pc
                   (default PREFIX /usr/local; no make needed)
  install-mount [PREFIX]
                   install bin/ermfs-mount and the mount(8) helper sbin/mount.fuse.ermfs
                   (default PREFIX /usr, where mount -t fuse.ermfs finds it)
  mount-helper     as root: install into target/mount-helper and mount through the helper,
                   with mount -t fuse.ermfs and from an fstab line (also part of ci)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("conformance") => conformance::run(conformance::Scope::Full),
        Some("tidy") => tidy::run(),
        Some("demo") => demo::run(),
        Some("bench") => bench::run(args.iter().any(|a| a == "--quick")),
        Some("plot") => bench::plot(),
        Some("fuzz") => fuzz::run(args.get(1).map(String::as_str)),
        Some("miri") => ci::miri(),
        Some("header") => capi::header(args.iter().any(|a| a == "--check")),
        Some("c-test") => capi::test(),
        Some("install-c") => capi::install(args.get(1).map(String::as_str)).map(drop),
        Some("mount-helper") => mount_helper::ci(),
        Some("install-mount") => mount_helper::install(args.get(1).map(String::as_str)).map(drop),
        None | Some("help" | "-h" | "--help") => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("xtask: {msg}");
            ExitCode::FAILURE
        }
    }
}
