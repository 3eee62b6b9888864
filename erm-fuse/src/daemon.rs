//! Process plumbing for a mount daemon (`ermfs-mount`): detaching from
//! the terminal once the mount is up, the termination signals as values a
//! thread waits for, the caller's ids and the machine's RAM. Safe wrappers
//! over the crate's `sys` module.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use crate::sys;

/// The child side of [`detach`]: report the mount's outcome to the
/// waiting parent with [`Detached::mounted`] (or drop it on failure: the
/// parent then exits with status 1).
#[derive(Debug)]
pub struct Detached {
    report: OwnedFd,
}

impl Detached {
    /// Tells the parent the mount is up (it exits 0) and points standard
    /// input, output and error at `/dev/null`: nobody reads them now.
    pub fn mounted(self) {
        let mut pipe = std::fs::File::from(self.report);
        let _ = pipe.write_all(&[1]);
        if let Ok(null) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            for target in 0..3 {
                let _ = sys::redirect(null.as_fd(), target);
            }
        }
    }
}

/// Forks into a new session: the parent waits until the child reports
/// through [`Detached::mounted`] and exits 0 (or 1 if the child gave up),
/// so a shell or `mount(8)` sees the mount's outcome; the child returns.
///
/// # Errors
/// `EBUSY` if threads were started already (call it before anything
/// spawns one), the pipe's and fork's errors.
pub fn detach() -> io::Result<Detached> {
    let (rd, wr) = sys::pipe()?;
    match sys::fork_session()? {
        None => {
            drop(rd);
            Ok(Detached { report: wr })
        }
        Some(_) => {
            drop(wr);
            let mut status = [0u8; 1];
            let ok = std::fs::File::from(rd).read(&mut status).ok() == Some(1) && status[0] == 1;
            std::process::exit(if ok { 0 } else { 1 });
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP, blocked in the thread that made this (and
/// in every thread it starts afterwards), so they arrive only through
/// [`Signals::wait`].
#[derive(Debug)]
pub struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    /// Blocks the three signals; make it before starting any thread.
    pub fn block() -> Signals {
        Signals {
            set: sys::block(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP]),
        }
    }

    /// Waits for one of them; returns its number.
    pub fn wait(&self) -> i32 {
        sys::wait(&self.set)
    }
}

/// Wakes a [`Signals::wait`] in this process (sends it SIGTERM).
pub fn wake() {
    sys::raise_in_process(libc::SIGTERM);
}

/// The name of a termination signal (`SIGTERM` for any other number).
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => "SIGTERM",
    }
}

/// The caller's real (uid, gid).
pub fn ids() -> (u32, u32) {
    sys::ids()
}

/// The machine's RAM in bytes.
pub fn ram_bytes() -> u64 {
    sys::ram_bytes()
}
