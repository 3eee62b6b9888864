//! Running the program held by an fd: [`fexecve`] (replace this process), [`command`] (a child
//! through `std::process::Command`), and [`inheritable`] (an fd a child can open by path).

use crate::sys;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::process::Command;

/// The lowest number an inheritable duplicate gets: above stdin, stdout and stderr, which a
/// `Command` may replace in the child.
const MIN_FD: i32 = 3;

/// Whether the file starts with `#!` (read with `pread`, so the offset does not move).
fn is_script(fd: BorrowedFd<'_>) -> bool {
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < head.len() {
        match crate::read_at(fd, &mut head[got..], got as u64) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    head == *b"#!"
}

/// Whether `fd` is closed by `exec` (`FD_CLOEXEC`). If the flags cannot be read, say yes: a
/// needless duplicate is harmless, a missing one breaks scripts.
fn closes_on_exec(fd: BorrowedFd<'_>) -> bool {
    !matches!(sys::get_fd_flags(fd), Ok(flags) if flags & libc::FD_CLOEXEC == 0)
}

/// Replaces this process with the program in `fd` (`fexecve(3)`), with arguments `argv`
/// (`argv[0]` is the program's name for itself) and environment `envp`. Only returns on failure,
/// with the error.
///
/// **The shebang pitfall**: for a `#!` script the kernel runs the interpreter with the script
/// path `/dev/fd/N`, which the interpreter opens *after* the exec. A memfd made with
/// `MFD_CLOEXEC` (as every [`create`](crate::create)d one is) is closed by that exec, so the
/// interpreter finds nothing and `fexecve` fails with `ENOENT`. This function reads the first two
/// bytes (`pread`); for a `#!` file on a close-on-exec fd it executes a duplicate without
/// `FD_CLOEXEC` instead. That duplicate stays open in the script's interpreter (it is the
/// script); if the exec fails it is closed again before returning.
///
/// It does not allocate for up to 63 arguments and 63 environment entries, so it may be called
/// between `fork` and `exec` (e.g. from `CommandExt::pre_exec`).
///
/// # Errors
///
/// The kernel's errno: `EACCES` if the file is not executable (a memfd made without
/// [`ExportFlags::EXECUTABLE`](crate::ExportFlags::EXECUTABLE) on Linux 6.3+, or a mount with
/// `noexec`), `ENOEXEC` for an unknown format, `ENOENT` for a missing interpreter, `EMFILE` if
/// the duplicate cannot be made, `EBADF`...
pub fn fexecve(fd: BorrowedFd<'_>, argv: &[&CStr], envp: &[&CStr]) -> io::Error {
    if is_script(fd) && closes_on_exec(fd) {
        match sys::dup_inheritable(fd, MIN_FD) {
            Ok(dup) => sys::fexecve(dup.as_fd(), argv, envp),
            Err(e) => e,
        }
    } else {
        sys::fexecve(fd, argv, envp)
    }
}

/// A duplicate of `fd` without `FD_CLOEXEC` (numbered 3 or above), so a child process started
/// while it is open inherits it and can open the file as [`proc_path`] of it — e.g. to hand a
/// memfd to `sha256sum /proc/self/fd/N`. Close it (drop) once the child is started.
///
/// Every child spawned by any thread while it is open inherits it, not just the one meant.
///
/// # Errors
///
/// The kernel's errno: `EMFILE`, `EBADF`.
pub fn inheritable(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    sys::dup_inheritable(fd, MIN_FD)
}

/// `/proc/self/fd/N` for `fd`: the path under which this process — and a child that inherited
/// `fd` at the same number — opens the same file.
pub fn proc_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// A [`Command`] that runs the program in `fd`, and the guard that keeps it runnable.
///
/// The command's program is `/proc/self/fd/N`, where `N` is the returned [`OwnedFd`]: an
/// [`inheritable`] duplicate of `fd`. The child inherits it at the same number, so the kernel
/// finds the program there, and a `#!` script's interpreter can still open it after the exec (the
/// shebang pitfall [`fexecve`] describes does not arise). Keep the guard until the last
/// `spawn`/`status`/`output` of the command, then drop it. Add arguments, environment and stdio
/// to the command as usual; its `argv[0]` is the `/proc` path.
///
/// This is the safe way for Rust callers to run an exported file in a child; [`fexecve`] is for
/// replacing the current process.
///
/// # Errors
///
/// Making the duplicate: `EMFILE`, `EBADF`. Exec errors (`EACCES` for a non-executable memfd...)
/// come from the command's `spawn`.
pub fn command(fd: BorrowedFd<'_>) -> io::Result<(Command, OwnedFd)> {
    let dup = inheritable(fd)?;
    let cmd = Command::new(proc_path(dup.as_fd()));
    Ok((cmd, dup))
}
