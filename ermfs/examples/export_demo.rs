//! ERMFS export demo: a corpus file stored (and compressed) in ERMFS is
//! exported as a sealed memfd and handed to `sha256sum` as `/proc/self/fd/N`
//! in a child process, whose digest must match the original bytes'; then a
//! real binary (`/bin/echo`) imported into ERMFS runs straight from an
//! exported memfd through `fexecve`. Nothing touches the disk.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use ermfs::{ExportFlags, Fs};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

/// `sha256sum`'s digest of `path` as the child sees it.
fn sha256_of_path(path: &str) -> std::io::Result<String> {
    let out = Command::new("sha256sum").arg(path).output()?;
    digest(&out.stdout, out.status.success())
}

/// `sha256sum`'s digest of `bytes` fed through a pipe.
fn sha256_of_bytes(bytes: &[u8]) -> std::io::Result<String> {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?;
    std::thread::scope(|s| {
        s.spawn(move || stdin.write_all(bytes));
        let out = child.wait_with_output()?;
        digest(&out.stdout, out.status.success())
    })
}

fn digest(stdout: &[u8], ok: bool) -> std::io::Result<String> {
    let text = String::from_utf8_lossy(stdout);
    match text.split_whitespace().next() {
        Some(d) if ok => Ok(d.to_string()),
        _ => Err(std::io::Error::other(format!("sha256sum failed: {text}"))),
    }
}

/// Runs the program in `exe` through `fexecve` in a child, with `args`.
fn run_fexecve(exe: BorrowedFd<'_>, args: &[&str]) -> std::io::Result<std::process::Output> {
    let argv: Vec<CString> = args
        .iter()
        .map(|a| CString::new(*a).map_err(std::io::Error::other))
        .collect::<std::io::Result<_>>()?;
    let envp = [CString::new("LC_ALL=C").map_err(std::io::Error::other)?];
    let raw = exe.as_raw_fd();
    let mut cmd = Command::new("/proc/self/exe"); // never run: pre_exec replaces the child
    // SAFETY: the closure runs in the forked child before exec; it only
    // builds slices of pointers on the stack and calls `ermfd::fexecve`,
    // which does not allocate for this few arguments, and `raw` stays open
    // in the child (the memfd is inherited until the exec).
    unsafe {
        cmd.pre_exec(move || {
            let fd = BorrowedFd::borrow_raw(raw);
            let argv: [&std::ffi::CStr; 3] = [&argv[0], &argv[1], &argv[2]];
            let envp: [&std::ffi::CStr; 1] = [&envp[0]];
            Err(ermfd::fexecve(fd, &argv, &envp))
        });
    }
    cmd.output()
}

fn main() -> std::io::Result<()> {
    let fs = Fs::new();
    // The biggest corpus file, closed: compressed inside ERMFS.
    let mut files: Vec<_> = std::fs::read_dir(CORPUS)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    files.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    let path = files
        .last()
        .ok_or_else(|| std::io::Error::other("empty corpus"))?;
    let bytes = std::fs::read(path)?;
    fs.write_file("/big.dat", &bytes)?;
    let s = fs.stats();
    println!(
        "stored corpus file {} ({} bytes) in ERMFS: compressed to {} bytes",
        path.file_name().unwrap_or_default().to_string_lossy(),
        bytes.len(),
        s.compressed_bytes
    );

    // Export: inflated straight into a sealed memfd; the child reads it by path.
    let memfd = fs.export_memfd("/big.dat", ExportFlags::SEALED)?;
    let inherited = ermfd::inheritable(memfd.as_fd())?;
    let child_path = ermfd::proc_path(inherited.as_fd());
    let exported = sha256_of_path(&child_path)?;
    let original = sha256_of_bytes(&bytes)?;
    println!("sha256sum {child_path} (child process): {exported}");
    println!("sha256sum of the original bytes:        {original}");
    let digests_match = exported == original;
    println!("digests match: {digests_match}");
    drop(inherited);

    // A real binary stored in ERMFS, run from an exported memfd with fexecve.
    let echo = std::fs::File::open("/bin/echo")?;
    let n = fs.import_fd("/bin-echo", echo.as_fd(), 0)?;
    let exe = fs.export_memfd("/bin-echo", ExportFlags::EXECUTABLE | ExportFlags::SEALED)?;
    let out = run_fexecve(
        exe.as_fd(),
        &["echo", "hello from a binary stored in", "ERMFS"],
    )?;
    let said = String::from_utf8_lossy(&out.stdout);
    println!(
        "/bin/echo ({n} bytes) imported, exported and run with fexecve: {} -> {}",
        out.status,
        said.trim_end()
    );
    let ran = out.status.success() && said.trim_end() == "hello from a binary stored in ERMFS";
    if digests_match && ran {
        Ok(())
    } else {
        Err(std::io::Error::other("export demo failed"))
    }
}
