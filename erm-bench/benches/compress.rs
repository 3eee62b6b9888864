//! erm-compress: blocked gzip against one raw deflate/inflate call of the same
//! library and level, multicore speed-up, random access, and the three
//! backends side by side, on the shared corpus.

use std::hint::black_box;
use std::io;
use std::time::Duration;

use erm_bench::{Report, Row, SplitMix64, compare, corpus, quick, repeat_to, time};
use erm_compress::{Backend, Compressor, Decompressor, Index, Options};

/// Output room for one raw deflate stream of `n` bytes (all backends fit).
fn bound(n: usize) -> usize {
    n + n / 64 + 4096
}

fn blocked(opts: Options, src: &[u8]) -> io::Result<(Vec<u8>, Index)> {
    let mut comp = Compressor::new(opts)?;
    let mut out = Vec::with_capacity(bound(src.len()));
    let index = comp.compress(src, &mut out, |_| Ok(()))?;
    Ok((out, index))
}

fn single_stream(backend: Backend, level: u32, src: &[u8]) -> io::Result<Vec<u8>> {
    let mut codec = backend.codec(level)?;
    let mut out = vec![0u8; bound(src.len())];
    let n = codec
        .deflate(src, &mut out)?
        .ok_or_else(|| io::Error::other("deflate bound too small"))?;
    out.truncate(n);
    Ok(out)
}

fn mib_s(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / (1 << 20) as f64
}

/// Blocked compression and inflate vs one raw call, single thread, on `data`.
fn versus_raw(report: &mut Report, label: &str, data: &[u8], samples: usize) -> io::Result<()> {
    let opts = Options::new();
    let (backend, level) = (opts.get_backend(), opts.get_level());
    let tag = format!("{} L{level}", backend.name());

    let mut codec = backend.codec(level)?;
    let mut raw_out = vec![0u8; bound(data.len())];
    let mut comp = Compressor::new(opts)?;
    let mut out = Vec::with_capacity(bound(data.len()));
    let (anchor, ours) = compare(
        samples,
        || {
            black_box(codec.deflate(black_box(data), &mut raw_out).ok());
        },
        || {
            out.clear();
            black_box(comp.compress(black_box(data), &mut out, |_| Ok(())).ok());
        },
    );
    report.push(Row::lower_is_better(
        &format!("compress/blocked deflate, 1 thread, {label} ({tag})"),
        "s",
        ours.as_secs_f64(),
        &format!("one raw deflate call ({tag})"),
        anchor.as_secs_f64(),
        Some(1.0 / 1.1),
    ));

    let single = single_stream(backend, level, data)?;
    let (stream, index) = blocked(opts, data)?;
    report.push(Row::lower_is_better(
        &format!("compress/size at 256 KiB blocks, {label} ({tag})"),
        "bytes",
        stream.len() as f64,
        &format!("one deflate stream ({tag})"),
        single.len() as f64,
        Some(1.0 / 1.02),
    ));

    let mut dec = Decompressor::new(backend)?;
    let mut dst = vec![0u8; data.len()];
    let mut dst2 = vec![0u8; data.len()];
    let (anchor, ours) = compare(
        samples,
        || {
            black_box(codec.inflate(black_box(&single), &mut dst).ok());
        },
        || {
            black_box(
                dec.decompress_into(black_box(&stream), &index, &mut dst2)
                    .ok(),
            );
        },
    );
    assert!(dst == data && dst2 == data, "round trip");
    report.push(Row::lower_is_better(
        &format!("compress/blocked inflate into caller buffer, {label} ({tag})"),
        "s",
        ours.as_secs_f64(),
        &format!("one raw inflate call ({tag})"),
        anchor.as_secs_f64(),
        Some(1.0 / 1.1),
    ));
    Ok(())
}

/// 2 threads vs 1 on the big input, both ways.
fn multicore(report: &mut Report, label: &str, big: &[u8], samples: usize) -> io::Result<()> {
    let opts = Options::new();
    let tag = format!("{} L{}", opts.get_backend().name(), opts.get_level());
    let mut comp = Compressor::new(opts)?;
    let mut comp2 = Compressor::new(opts)?;
    let mut out1 = Vec::with_capacity(bound(big.len()));
    let mut out2 = Vec::with_capacity(bound(big.len()));
    let (one, two) = compare(
        samples,
        || {
            out1.clear();
            black_box(comp.compress(big, &mut out1, |_| Ok(())).ok());
        },
        || {
            out2.clear();
            black_box(comp2.compress_parallel(big, &mut out2, 2, |_| Ok(())).ok());
        },
    );
    assert!(out1 == out2, "parallel output differs");
    report.push(Row::lower_is_better(
        &format!("compress/multicore deflate 2 threads, {label} ({tag})"),
        "s",
        two.as_secs_f64(),
        "same, 1 thread",
        one.as_secs_f64(),
        Some(1.7),
    ));

    let index = Index::rebuild(&out1)?;
    let mut dec = Decompressor::new(opts.get_backend())?;
    let mut dst = vec![0u8; big.len()];
    let mut dst2 = vec![0u8; big.len()];
    let mut dec2 = Decompressor::new(opts.get_backend())?;
    let (one, two) = compare(
        samples,
        || {
            black_box(dec.decompress_into(&out1, &index, &mut dst).ok());
        },
        || {
            black_box(dec2.decompress_parallel(&out1, &index, &mut dst2, 2).ok());
        },
    );
    report.push(Row::lower_is_better(
        &format!("compress/multicore inflate 2 threads, {label} ({tag})"),
        "s",
        two.as_secs_f64(),
        "same, 1 thread",
        one.as_secs_f64(),
        Some(1.7),
    ));

    // Random 4 KiB reads against inflating the whole stream.
    let mut rng = SplitMix64::new(4);
    let mut page = [0u8; 4096];
    let reads = 64;
    let (whole, random) = compare(
        samples,
        || {
            black_box(dec.decompress_into(&out1, &index, &mut dst).ok());
        },
        || {
            for _ in 0..reads {
                let at = rng.below((big.len() - page.len()) as u64);
                black_box(dec2.read_at(&out1, &index, at, &mut page).ok());
            }
        },
    );
    report.push(Row::lower_is_better(
        &format!("compress/random 4 KiB read, {label} ({tag})"),
        "s",
        random.as_secs_f64() / reads as f64,
        "inflate the whole stream",
        whole.as_secs_f64(),
        Some(10.0),
    ));
    Ok(())
}

/// zlib vs zlib-ng vs libdeflate at levels 1, 6, 9: speed both ways and size.
fn backends(report: &mut Report, data: &[u8], samples: usize) -> io::Result<()> {
    for backend in Backend::available() {
        for level in [1, 6, 9] {
            let opts = Options::new().backend(backend).level(level);
            let mut comp = Compressor::new(opts)?;
            let mut out = Vec::with_capacity(bound(data.len()));
            let mut times = Vec::new();
            for _ in 0..samples {
                times.push(time(&mut || {
                    out.clear();
                    black_box(comp.compress(data, &mut out, |_| Ok(())).ok());
                }));
            }
            let deflate = erm_bench::median(&mut times);
            let index = Index::rebuild(&out)?;
            let mut dec = Decompressor::new(backend)?;
            let mut dst = vec![0u8; data.len()];
            let mut times = Vec::new();
            for _ in 0..samples {
                times.push(time(&mut || {
                    black_box(dec.decompress_into(&out, &index, &mut dst).ok());
                }));
            }
            let inflate = erm_bench::median(&mut times);
            let name = format!("compress/backend {} L{level}", backend.name());
            report.push(Row::standalone(
                &format!("{name} deflate"),
                "MiB/s",
                mib_s(data.len(), deflate),
                "",
                None,
            ));
            report.push(Row::standalone(
                &format!("{name} inflate"),
                "MiB/s",
                mib_s(data.len(), inflate),
                "",
                None,
            ));
            report.push(Row::standalone(
                &format!("{name} size/input"),
                "ratio",
                out.len() as f64 / data.len() as f64,
                "",
                None,
            ));
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let mut report = Report::new("compress");
    let q = quick();
    let corpus = corpus()?;
    let big = repeat_to(&corpus, 64 << 20);
    let label = format!("corpus {:.1} MiB", corpus.len() as f64 / (1 << 20) as f64);
    versus_raw(&mut report, &label, &corpus, if q { 5 } else { 21 })?;
    versus_raw(&mut report, "64 MiB", &big, if q { 3 } else { 7 })?;
    multicore(&mut report, "64 MiB", &big, if q { 3 } else { 21 })?;
    backends(&mut report, &corpus, if q { 1 } else { 5 })?;
    report.write()
}
