//! Demo: compresses the shared corpus into blocked gzip, prints the sizes and
//! ratio, and shows that the real `gunzip` reads the result (piped through a
//! child process's stdin/stdout; no files are written).

use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use erm_compress::{Compressor, Decompressor, Index, Options};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

fn main() -> io::Result<()> {
    let mut paths: Vec<_> = std::fs::read_dir(CORPUS)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    paths.sort();
    let opts = Options::new();
    println!(
        "erm-compress demo: backend {}, level {}, {} KiB blocks",
        opts.get_backend().name(),
        opts.get_level(),
        opts.get_block_size() >> 10
    );
    println!(
        "{:<16} {:>10} {:>10} {:>7}",
        "file", "bytes", "gzip'd", "ratio"
    );
    let mut comp = Compressor::new(opts)?;
    let mut all = Vec::new();
    for p in &paths {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        if name == "README.md" || name == "SHA256SUMS" {
            continue;
        }
        let data = std::fs::read(p)?;
        let mut out = Vec::new();
        comp.compress(&data, &mut out, |_| Ok(()))?;
        println!(
            "{name:<16} {:>10} {:>10} {:>6.1}%",
            data.len(),
            out.len(),
            100.0 * out.len() as f64 / data.len() as f64
        );
        all.extend_from_slice(&data);
    }

    let start = Instant::now();
    let mut stream = Vec::new();
    let index = comp.compress(&all, &mut stream, |_| Ok(()))?;
    let took = start.elapsed();
    let stored = index.blocks().iter().filter(|b| b.stored).count();
    println!(
        "{:<16} {:>10} {:>10} {:>6.1}%  ({} blocks, {stored} stored, {:.1} MiB/s)",
        "all, concatenated",
        all.len(),
        stream.len(),
        100.0 * stream.len() as f64 / all.len() as f64,
        index.blocks().len(),
        all.len() as f64 / took.as_secs_f64() / (1 << 20) as f64
    );
    println!(
        "ratio: {:.3} (input/output)",
        all.len() as f64 / stream.len() as f64
    );
    assert_eq!(Index::rebuild(&stream)?, index);
    println!("index rebuilt from the bytes alone (no inflate): identical");

    let mut back = vec![0u8; all.len()];
    Decompressor::new(opts.get_backend())?.decompress_into(&stream, &index, &mut back)?;
    println!(
        "inflated back into one caller buffer: identical = {}",
        back == all
    );

    let from_gunzip = gunzip(&stream)?;
    println!(
        "real `gunzip -c` read {} bytes from our stream on its stdin: identical = {}",
        from_gunzip.len(),
        from_gunzip == all
    );
    if from_gunzip != all || back != all {
        return Err(io::Error::other("round trip mismatch"));
    }
    Ok(())
}

/// Pipes `gz` through `gunzip -c` (stdin to stdout), feeding it from a thread.
fn gunzip(gz: &[u8]) -> io::Result<Vec<u8>> {
    let mut child = Command::new("gunzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("no stdin"))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no stdout"))?;
    let out = std::thread::scope(|s| {
        let writer = s.spawn(move || stdin.write_all(gz));
        let mut out = Vec::new();
        let read = stdout.read_to_end(&mut out);
        let wrote = writer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        wrote.and(read).map(|_| out)
    })?;
    if !child.wait()?.success() {
        return Err(io::Error::other("gunzip failed"));
    }
    Ok(out)
}
