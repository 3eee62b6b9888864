//! Running programs held in memfds: real ELF binaries and `#!` scripts, through `command()` and
//! through `fexecve` in a forked child (including the shebang pitfall it works around).

use super::common::{memfd_with, program};
use ermfd::ExportFlags;
use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

const SCRIPT: &[u8] = b"#!/bin/sh\nexit 7\n";

/// Exit code of the program in `bytes`, run through `ermfd::command`.
fn run(bytes: &[u8]) -> i32 {
    let fd = memfd_with("prog", bytes, ExportFlags::EXECUTABLE);
    let (mut cmd, _guard) = ermfd::command(fd.as_fd()).unwrap();
    cmd.status().unwrap().code().unwrap()
}

#[test]
fn command_runs_elf_binaries() {
    assert_eq!(run(&program("/bin/true")), 0);
    assert_eq!(run(&program("/bin/false")), 1);
}

#[test]
fn command_runs_scripts_with_arguments() {
    assert_eq!(run(SCRIPT), 7);
    let fd = memfd_with(
        "args",
        b"#!/bin/sh\nexit $(($1 + $2))\n",
        ExportFlags::EXECUTABLE,
    );
    let (mut cmd, guard) = ermfd::command(fd.as_fd()).unwrap();
    assert!(guard.as_raw_fd() >= 3);
    assert_eq!(cmd.args(["2", "3"]).status().unwrap().code(), Some(5));
}

#[test]
fn sealed_executables_run() {
    let fd = memfd_with(
        "sealed-exe",
        &program("/bin/false"),
        ExportFlags::EXECUTABLE,
    );
    ermfd::seal(fd.as_fd()).unwrap();
    let (mut cmd, _guard) = ermfd::command(fd.as_fd()).unwrap();
    assert_eq!(cmd.status().unwrap().code(), Some(1));
}

#[test]
fn non_executable_memfds_do_not_run() {
    let fd = memfd_with("noexec", &program("/bin/true"), ExportFlags::empty());
    let (mut cmd, _guard) = ermfd::command(fd.as_fd()).unwrap();
    let err = cmd.status().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
}

/// Exit code of a forked child that calls `exec` on `fd` (the program named in `Command::new`
/// is never reached: the `pre_exec` hook replaces the child first, or fails the spawn).
fn fork_exec(fd: OwnedFd, exec: fn(&OwnedFd) -> std::io::Error) -> std::io::Result<i32> {
    let mut cmd = Command::new("/nonexistent/never-run");
    // SAFETY: the hook only makes syscalls (pread, fcntl, fexecve) on memory prepared before the
    // fork and allocates nothing (fexecve keeps short argument lists on the stack), so it is
    // safe between fork and exec.
    unsafe { cmd.pre_exec(move || Err(exec(&fd))) };
    Ok(cmd.status()?.code().unwrap_or(-1))
}

fn our_fexecve(fd: &OwnedFd) -> std::io::Error {
    let argv: [&CStr; 2] = [c"prog", c"arg"];
    ermfd::fexecve(fd.as_fd(), &argv, &[c"PATH=/usr/bin:/bin"])
}

#[test]
fn fexecve_in_a_forked_child() {
    let exe = |path| memfd_with("fexecve", &program(path), ExportFlags::EXECUTABLE);
    assert_eq!(fork_exec(exe("/bin/true"), our_fexecve).unwrap(), 0);
    assert_eq!(fork_exec(exe("/bin/false"), our_fexecve).unwrap(), 1);
    let script = memfd_with("fexecve-sh", SCRIPT, ExportFlags::EXECUTABLE);
    assert_eq!(fork_exec(script, our_fexecve).unwrap(), 7);
}

#[test]
fn shebang_pitfall_is_real_and_avoided() {
    // Plain fexecve(3) of a close-on-exec script fails with ENOENT: the interpreter cannot open
    // /dev/fd/N, closed by the exec itself.
    fn raw_fexecve(fd: &OwnedFd) -> std::io::Error {
        let argv = [c"sh".as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        // SAFETY: both arrays are NULL-terminated and point to static C strings.
        unsafe { libc::fexecve(fd.as_raw_fd(), argv.as_ptr(), envp.as_ptr()) };
        std::io::Error::last_os_error()
    }
    let script = memfd_with("pitfall", SCRIPT, ExportFlags::EXECUTABLE);
    let err = fork_exec(script, raw_fexecve).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    // ermfd::fexecve runs the same script.
    let script = memfd_with("pitfall", SCRIPT, ExportFlags::EXECUTABLE);
    assert_eq!(fork_exec(script, our_fexecve).unwrap(), 7);
}

#[test]
fn fexecve_failure_returns_the_errno() {
    // (That the failed script path closes its duplicate is checked in `leak`.)
    let fd = memfd_with("not-exe", b"#!/bin/sh\nexit 0\n", ExportFlags::empty());
    let err = ermfd::fexecve(fd.as_fd(), &[c"x"], &[]);
    assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
    let elf = memfd_with("not-exe", &program("/bin/true"), ExportFlags::empty());
    let err = ermfd::fexecve(elf.as_fd(), &[c"x"], &[]);
    assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
    let garbage = memfd_with("garbage", &[0u8; 64], ExportFlags::EXECUTABLE);
    let err = ermfd::fexecve(garbage.as_fd(), &[c"x"], &[]);
    assert_eq!(err.raw_os_error(), Some(libc::ENOEXEC), "{err}");
}
