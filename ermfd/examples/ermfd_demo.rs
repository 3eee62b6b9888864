//! ermfd demo: put bytes in a sealed memfd, hand it to `sha256sum` as `/proc/self/fd/N` in a
//! child process and check the digest against the same bytes piped in, then run a program held
//! in a memfd. Run with `cargo run -p ermfd --example ermfd_demo`.

use ermfd::{ExportFlags, Seals};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};

/// The first word of `sha256sum`'s output: the hex digest.
fn digest(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    text.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn main() -> io::Result<()> {
    let bytes: Vec<u8> = (0..1_000_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();

    // Export: size the memfd, fill it through a shared mapping, drop the map, seal.
    let fd = ermfd::create(b"demo", bytes.len() as u64, ExportFlags::SEALED)?;
    ermfd::map_mut(fd.as_fd(), bytes.len())?.copy_from_slice(&bytes);
    ermfd::seal(fd.as_fd())?;
    let sealed = ermfd::seals(fd.as_fd())?.contains(Seals::IMMUTABLE);
    println!("memfd of {} bytes, sealed immutable: {sealed}", bytes.len());

    // The child opens the memfd by path through an inheritable duplicate.
    let child_fd = ermfd::inheritable(fd.as_fd())?;
    let path = ermfd::proc_path(child_fd.as_fd());
    let out = Command::new("sha256sum").arg(&path).output()?;
    drop(child_fd);
    let via_fd = digest(&out.stdout);
    println!("sha256sum {path}: {via_fd}");

    // The same bytes piped to sha256sum's stdin, for comparison.
    let mut pipe = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    pipe.stdin
        .take()
        .map(|mut s| s.write_all(&bytes))
        .transpose()?;
    let via_pipe = digest(&pipe.wait_with_output()?.stdout);
    println!("sha256sum of the same bytes via a pipe: {via_pipe}");
    let matches = !via_fd.is_empty() && via_fd == via_pipe;
    println!("digests match: {matches}");

    // Run a program held in an executable memfd (a copy of /bin/true, then a script).
    let exe = std::fs::read("/bin/true")?;
    let prog = ermfd::create(b"true", exe.len() as u64, ExportFlags::EXECUTABLE)?;
    ermfd::write_all_at(prog.as_fd(), &exe, 0)?;
    let (mut cmd, _guard) = ermfd::command(prog.as_fd())?;
    println!("/bin/true run from a memfd: {}", cmd.status()?);
    let script = b"#!/bin/sh\necho \"hello from a script in a memfd ($0)\"\n";
    let prog = ermfd::create(b"script", script.len() as u64, ExportFlags::EXECUTABLE)?;
    ermfd::write_all_at(prog.as_fd(), script, 0)?;
    let (mut cmd, _guard) = ermfd::command(prog.as_fd())?;
    let status = cmd.status()?;
    println!("script exit: {status}");

    if matches && status.success() {
        Ok(())
    } else {
        Err(io::Error::other("demo check failed"))
    }
}
