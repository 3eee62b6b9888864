//! The mount daemon's logs: `tracing` events, filtered by `RUST_LOG` or a
//! verbosity, written to standard error, a file or syslog.
//!
//! Levels: `warn` for errors (a failed unmount, a dying session), `info`
//! for the startup options and how the daemon ended, `debug` for every
//! refused request (operation, errno), `trace` for every request (fuser's
//! own request lines, bridged from the `log` crate, come in at `-vv`).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Where the logs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard error (the default in the foreground).
    Stderr,
    /// The system log, `/dev/log` (the default once detached).
    Syslog,
    /// A file, appended to (`-o log=PATH`).
    File(PathBuf),
}

impl LogTarget {
    /// The target an `-o log=` value names: `stderr`, `syslog` or an
    /// absolute path.
    ///
    /// # Errors
    /// A message for a relative path (the daemon changes directory).
    pub fn parse(value: &str) -> Result<LogTarget, String> {
        match value {
            "stderr" => Ok(LogTarget::Stderr),
            "syslog" => Ok(LogTarget::Syslog),
            p if Path::new(p).is_absolute() => Ok(LogTarget::File(PathBuf::from(p))),
            p => Err(format!(
                "log: {p:?}: give `syslog`, `stderr` or an absolute file path"
            )),
        }
    }
}

/// The filter: `RUST_LOG` if set, else by `verbosity` (-1 quiet: warnings
/// only; 0: info; 1: debug, refused requests; 2 or more: trace, every
/// request).
fn filter(verbosity: i8) -> EnvFilter {
    if let Ok(env) = std::env::var("RUST_LOG") {
        return EnvFilter::new(env);
    }
    EnvFilter::new(match verbosity {
        ..=-1 => "warn",
        0 => "info",
        1 => "info,erm_fuse=debug,ermfs_mount=debug",
        _ => "info,erm_fuse=trace,ermfs_mount=trace,fuser=debug",
    })
}

/// Installs the process's logger. Call once, before detaching (the target
/// is opened here, so a bad one is reported where the user sees it).
///
/// # Errors
/// A message if the file cannot be opened or syslog is not there.
pub fn init(verbosity: i8, target: &LogTarget) -> Result<(), String> {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(verbosity))
        .with_ansi(false)
        .with_target(false);
    let result = match target {
        LogTarget::Stderr => builder.with_writer(io::stderr).try_init(),
        LogTarget::File(path) => {
            let file = File::options()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("log={}: {e}", path.display()))?;
            builder.with_writer(Mutex::new(file)).try_init()
        }
        LogTarget::Syslog => {
            let socket = UnixDatagram::unbound().map_err(|e| format!("syslog: {e}"))?;
            socket.connect("/dev/log").map_err(|e| {
                format!("syslog (/dev/log): {e}; give `-o log=/path/to/file` or run with -f")
            })?;
            // Syslog stamps its own time.
            builder
                .without_time()
                .with_writer(Syslog { socket })
                .try_init()
        }
    };
    result.map_err(|e| format!("cannot install the logger: {e}"))
}

/// Sends each event as one datagram to `/dev/log`, facility `daemon`.
struct Syslog {
    socket: UnixDatagram,
}

/// One event's line, sent when the formatter is done with it.
struct SyslogLine<'a> {
    socket: &'a UnixDatagram,
    severity: u8,
    line: Vec<u8>,
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine<'a>;

    fn make_writer(&'a self) -> SyslogLine<'a> {
        self.line(6)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SyslogLine<'a> {
        // syslog(3) severities: err 3, warning 4, info 6, debug 7.
        self.line(match *meta.level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        })
    }
}

impl Syslog {
    fn line(&self, severity: u8) -> SyslogLine<'_> {
        SyslogLine {
            socket: &self.socket,
            severity,
            line: Vec::new(),
        }
    }
}

impl Write for SyslogLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine<'_> {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        // <PRI>TAG[PID]: MESSAGE, PRI = facility daemon (3) * 8 + severity.
        let datagram = format!(
            "<{}>ermfs-mount[{}]: {text}",
            3 * 8 + u32::from(self.severity),
            std::process::id()
        );
        // A log line that cannot be sent is dropped: never fail a request.
        let _ = self.socket.send(datagram.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_targets_by_name() {
        assert_eq!(LogTarget::parse("syslog"), Ok(LogTarget::Syslog));
        assert_eq!(LogTarget::parse("stderr"), Ok(LogTarget::Stderr));
        assert_eq!(
            LogTarget::parse("/var/log/ermfs.log"),
            Ok(LogTarget::File("/var/log/ermfs.log".into()))
        );
        assert!(
            LogTarget::parse("ermfs.log")
                .unwrap_err()
                .contains("absolute")
        );
    }

    #[test]
    fn a_syslog_line_is_one_datagram_with_its_priority() {
        let (ours, theirs) = UnixDatagram::pair().unwrap();
        let syslog = Syslog { socket: ours };
        let meta_level = tracing::Level::WARN;
        {
            let mut line = syslog.line(4);
            writeln!(line, "{meta_level} cannot unmount").unwrap();
        }
        let mut buf = [0u8; 256];
        let n = theirs.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]);
        let want = format!(
            "<28>ermfs-mount[{}]: WARN cannot unmount",
            std::process::id()
        );
        assert_eq!(got, want);
    }
}
