//! ERMFS demo: the corpus written into an in-memory file system, closed and
//! compressed in the background, `settle()`d, memory at rest (from the
//! counters and from the kernel) against the raw size, then every file
//! reopened and checked by checksum; once with the locked backends, once
//! with the lockless ones. Nothing is written to disk.

use std::time::{Duration, Instant};

use erm_alloc::resident_bytes;
use ermfs::{CompressionPolicy, Fs};

/// The shared corpus (read-only).
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

/// Copies of the corpus written, each in its own directory, so that the
/// memory figures stand well above the allocator's noise.
const COPIES: usize = 16;

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn mib(bytes: f64) -> String {
    format!("{:.2} MiB", bytes / f64::from(1u32 << 20))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// One run's figures.
struct Run {
    mode: &'static str,
    files: usize,
    raw: u64,
    compressed: u64,
    raw_at_rest: u64,
    rss_delta: i64,
    write: Duration,
    settle: Duration,
    verify: Duration,
    verified: usize,
}

fn run(
    mode: &'static str,
    lockless: bool,
    corpus: &[(String, Vec<u8>, u64)],
) -> std::io::Result<Run> {
    let fs = Fs::builder()
        .lockless(lockless)
        .compression(CompressionPolicy::Background {
            delay: Duration::from_millis(50),
        })
        .build()?;
    let base = resident_bytes()?;
    let start = Instant::now();
    let mut raw = 0u64;
    for copy in 0..COPIES {
        fs.mkdir(format!("/copy{copy}"), 0o755)?;
        for (name, bytes, _) in corpus {
            // Closed on return: queued for the background compressor.
            fs.write_file(format!("/copy{copy}/{name}"), bytes)?;
            raw += bytes.len() as u64;
        }
    }
    let write = start.elapsed();
    let start = Instant::now();
    fs.settle();
    let settle = start.elapsed();
    let stats = fs.stats();
    let rss_delta = resident_bytes()? as i64 - base as i64;

    let start = Instant::now();
    let mut verified = 0;
    for copy in 0..COPIES {
        for (name, _, sum) in corpus {
            let back = fs.read_file(format!("/copy{copy}/{name}"))?;
            if fnv1a(&back) == *sum {
                verified += 1;
            } else {
                eprintln!("checksum mismatch: /copy{copy}/{name}");
            }
        }
    }
    let verify = start.elapsed();
    Ok(Run {
        mode,
        files: COPIES * corpus.len(),
        raw,
        compressed: stats.compressed_bytes,
        raw_at_rest: stats.raw_bytes,
        rss_delta,
        write,
        settle,
        verify,
        verified,
    })
}

fn main() -> std::io::Result<()> {
    let mut corpus = Vec::new();
    for entry in std::fs::read_dir(CORPUS)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let bytes = std::fs::read(entry.path())?;
            let sum = fnv1a(&bytes);
            corpus.push((entry.file_name().to_string_lossy().into_owned(), bytes, sum));
        }
    }
    corpus.sort_by(|a, b| a.0.cmp(&b.0));
    println!(
        "ERMFS demo: {} corpus files x {COPIES} copies, Background policy (50 ms delay), settle(), reopen + FNV-1a check\n",
        corpus.len()
    );
    let runs = [
        run("locked", false, &corpus)?,
        run("lockless", true, &corpus)?,
    ];
    println!(
        "{:<9} {:>6} {:>11} {:>11} {:>7} {:>11} {:>11} {:>10} {:>10} {:>10} {:>9}",
        "mode",
        "files",
        "raw size",
        "compressed",
        "ratio",
        "raw held",
        "RSS delta",
        "write",
        "settle",
        "verify",
        "verified"
    );
    let mut all_ok = true;
    for r in &runs {
        println!(
            "{:<9} {:>6} {:>11} {:>11} {:>6.2}x {:>11} {:>11} {:>10} {:>10} {:>10} {:>9}",
            r.mode,
            r.files,
            mib(r.raw as f64),
            mib(r.compressed as f64),
            r.raw as f64 / r.compressed.max(1) as f64,
            mib(r.raw_at_rest as f64),
            mib(r.rss_delta as f64),
            ms(r.write),
            ms(r.settle),
            ms(r.verify),
            format!("{}/{}", r.verified, r.files),
        );
        all_ok &= r.verified == r.files;
    }
    println!(
        "\nAt rest (after settle) every file is held compressed: \"raw held\" is the uncompressed\n\
         bytes still charged, \"RSS delta\" the growth of the process's resident set measured by\n\
         the kernel while the files were written and compressed (allocator slack included)."
    );
    if all_ok {
        println!("All checksums match.");
        Ok(())
    } else {
        Err(std::io::Error::other("checksum mismatch"))
    }
}
