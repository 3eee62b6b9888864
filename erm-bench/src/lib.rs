//! Benchmark harness shared by every ERMFS benchmark: anchor beside ours, as ratios.
//!
//! Machines are noisy, so absolute times from different runs say little. Every
//! case here runs an *anchor* (the thing a user would otherwise use: `memcpy`,
//! glibc `malloc`, a `Mutex<HashMap>`, one raw `deflate` call...) and *ours*
//! in the same process, interleaved sample by sample, and reports the ratio of
//! their medians, oriented so that bigger is better for ERMFS.
//!
//! Each bench target (`benches/*.rs`, `harness = false`) fills a [`Report`]
//! and calls [`Report::write`]; `cargo xtask bench` runs them all and merges
//! the per-group files into `target/bench/summary.json` and the table in
//! `BENCHMARKS.md` (the format is in ARCHITECTURE.md, "Benchmarks").
//!
//! Provided:
//! - [`Row`]: one line of the summary, with constructors for time and
//!   lower-is-better figures;
//! - [`compare`]: interleaved, warmed-up, median-of-samples timing of two closures;
//! - [`quick`]: whether the run is `--quick` (CI smoke run);
//! - [`resident_bytes`]: the process's resident set, read from the kernel;
//! - [`corpus`] and [`repeat_to`]: the shared corpus as one buffer, and inputs of any size made from it;
//! - [`SplitMix64`]: a tiny seeded generator so every run sees the same inputs.
//!
//! # Limitations
//! No statistics beyond the median of interleaved samples; the full run takes
//! more samples than `--quick`, nothing more clever.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Whether this is a quick smoke run (`cargo xtask bench --quick`, set through
/// the `ERM_BENCH_QUICK` environment variable): fewer samples, smaller inputs.
pub fn quick() -> bool {
    std::env::var_os("ERM_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// Directory the per-group results go to: `ERM_BENCH_OUT`, or `target/bench`
/// of the workspace.
pub fn out_dir() -> PathBuf {
    match std::env::var_os("ERM_BENCH_OUT") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench"),
    }
}

/// One line of the benchmark summary: a case, ours against its anchor, the
/// ratio (bigger is better for ERMFS) and its target.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What was measured, e.g. `"alloc/growth 1 GiB in 4 KiB appends"`.
    pub name: String,
    /// Our figure, in `unit`.
    pub ours: f64,
    /// The anchor's figure in the same unit, when there is an anchor.
    pub anchor: Option<f64>,
    /// What the anchor is, e.g. `"Vec<u8> push (glibc realloc)"`.
    pub anchor_name: String,
    /// Unit of `ours` and `anchor` (`"s"`, `"resident/live"`, `"bytes"`...).
    pub unit: String,
    /// `anchor / ours` for lower-is-better units, so bigger is better for us.
    pub ratio: Option<f64>,
    /// The target in words, e.g. `"ratio >= 1.0"`; empty for informational rows.
    pub target: String,
    /// Whether the target holds; `None` for informational rows.
    pub pass: Option<bool>,
}

impl Row {
    /// A row where lower is better for both figures (times, bytes, overheads):
    /// `ratio = anchor / ours`, passing when `ratio >= min_ratio`.
    pub fn lower_is_better(
        name: &str,
        unit: &str,
        ours: f64,
        anchor_name: &str,
        anchor: f64,
        min_ratio: Option<f64>,
    ) -> Row {
        let ratio = if ours > 0.0 {
            anchor / ours
        } else if anchor > 0.0 {
            f64::INFINITY
        } else {
            1.0
        };
        Row {
            name: name.to_owned(),
            ours,
            anchor: Some(anchor),
            anchor_name: anchor_name.to_owned(),
            unit: unit.to_owned(),
            ratio: Some(ratio),
            target: min_ratio.map_or_else(String::new, |m| format!("ratio >= {m}")),
            pass: min_ratio.map(|m| ratio >= m),
        }
    }

    /// A row with no anchor: a figure reported with its own target in words
    /// and whether it holds (`pass`), or informational when `pass` is `None`.
    pub fn standalone(name: &str, unit: &str, ours: f64, target: &str, pass: Option<bool>) -> Row {
        Row {
            name: name.to_owned(),
            ours,
            anchor: None,
            anchor_name: String::new(),
            unit: unit.to_owned(),
            ratio: None,
            target: target.to_owned(),
            pass,
        }
    }

    /// Replaces the target and verdict, for rows whose rule is more than a ratio.
    pub fn with_target(mut self, target: &str, pass: bool) -> Row {
        self.target = target.to_owned();
        self.pass = Some(pass);
        self
    }

    fn to_json(&self) -> String {
        fn num(v: f64) -> String {
            if v.is_finite() {
                format!("{v}")
            } else {
                "null".to_owned()
            }
        }
        fn opt(v: Option<f64>) -> String {
            v.map_or_else(|| "null".to_owned(), num)
        }
        format!(
            r#"{{"name": {}, "ours": {}, "anchor": {}, "anchor_name": {}, "unit": {}, "ratio": {}, "target": {}, "pass": {}}}"#,
            json_str(&self.name),
            num(self.ours),
            opt(self.anchor),
            json_str(&self.anchor_name),
            json_str(&self.unit),
            opt(self.ratio),
            json_str(&self.target),
            self.pass
                .map_or_else(|| "null".to_owned(), |p| p.to_string()),
        )
    }

    fn to_markdown(&self) -> String {
        fn fig(v: f64) -> String {
            if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
                format!("{v:.4}")
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_owned()
            } else {
                format!("{v:.3e}")
            }
        }
        let verdict = match self.pass {
            Some(true) => "pass",
            Some(false) => "**FAIL**",
            None => "info",
        };
        format!(
            "| {} | {} {} | {} | {} | {} | {} | {} |\n",
            self.name,
            fig(self.ours),
            self.unit,
            self.anchor
                .map_or_else(|| "-".to_owned(), |a| format!("{} {}", fig(a), self.unit)),
            if self.anchor_name.is_empty() {
                "-"
            } else {
                &self.anchor_name
            },
            self.ratio
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x")),
            if self.target.is_empty() {
                "-"
            } else {
                &self.target
            },
            verdict,
        )
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The rows of one benchmark group (one bench target).
#[derive(Debug, Default)]
pub struct Report {
    group: String,
    rows: Vec<Row>,
}

impl Report {
    /// An empty report for `group` (the bench target's name, e.g. `"alloc"`).
    pub fn new(group: &str) -> Report {
        Report {
            group: group.to_owned(),
            rows: Vec::new(),
        }
    }

    /// Adds a row and prints it at once, so a long run shows progress.
    pub fn push(&mut self, row: Row) {
        print!("{}", row.to_markdown());
        self.rows.push(row);
    }

    /// Writes `rows/<group>.json` (a JSON array) and `rows/<group>.md` (table
    /// rows) under [`out_dir`], for `cargo xtask bench` to merge.
    pub fn write(&self) -> io::Result<()> {
        let dir = out_dir().join("rows");
        std::fs::create_dir_all(&dir)?;
        let json: Vec<String> = self
            .rows
            .iter()
            .map(|r| format!("  {}", r.to_json()))
            .collect();
        std::fs::write(
            dir.join(format!("{}.json", self.group)),
            format!("[\n{}\n]\n", json.join(",\n")),
        )?;
        let md: String = self.rows.iter().map(Row::to_markdown).collect();
        std::fs::write(dir.join(format!("{}.md", self.group)), md)
    }
}

/// Median times of `anchor` and `ours`, each called `samples` times after one
/// warm-up call each, alternating so that drift in the machine hits both alike.
///
/// Each closure is one sample; batch inside it when one call is too short to time.
pub fn compare(
    samples: usize,
    mut anchor: impl FnMut(),
    mut ours: impl FnMut(),
) -> (Duration, Duration) {
    anchor();
    ours();
    let mut a = Vec::with_capacity(samples);
    let mut o = Vec::with_capacity(samples);
    for i in 0..samples.max(1) {
        // Alternate which goes first, so neither always runs on a warm cache.
        if i % 2 == 0 {
            a.push(time(&mut anchor));
            o.push(time(&mut ours));
        } else {
            o.push(time(&mut ours));
            a.push(time(&mut anchor));
        }
    }
    (median(&mut a), median(&mut o))
}

/// Wall time of one call.
pub fn time(f: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Median of a non-empty sample (the mean of the middle two for even counts).
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    let n = samples.len();
    match n {
        0 => Duration::ZERO,
        _ if n % 2 == 1 => samples[n / 2],
        _ => (samples[n / 2 - 1] + samples[n / 2]) / 2,
    }
}

/// The benchmark corpus: a directory of sample files kept beside the
/// checkout (at this path), not in the repository.
pub const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

/// Every data file of the corpus (not its README.md or SHA256SUMS),
/// concatenated in name order.
pub fn corpus() -> io::Result<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(CORPUS_DIR)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    paths.sort();
    let mut all = Vec::new();
    for p in paths {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name != "README.md" && name != "SHA256SUMS" {
            all.extend_from_slice(&std::fs::read(&p)?);
        }
    }
    Ok(all)
}

/// `len` bytes made by repeating `src` (which must not be empty).
pub fn repeat_to(src: &[u8], len: usize) -> Vec<u8> {
    src.iter().copied().cycle().take(len).collect()
}

pub use erm_alloc::resident_bytes;

/// SplitMix64: a tiny, fast, seeded generator, so every run sees the same inputs.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..n` (`n > 0`; the tiny modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A size drawn log-uniformly from `lo..=hi`.
    pub fn log_uniform(&mut self, lo: usize, hi: usize) -> usize {
        let (l, h) = ((lo.max(1) as f64).ln_1p(), (hi.max(lo) as f64).ln_1p());
        let x = l + (h - l) * self.unit();
        (x.exp_m1().round() as usize).clamp(lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_oriented_bigger_is_better() {
        let row = Row::lower_is_better("t", "s", 1.0, "anchor", 2.0, Some(1.5));
        assert_eq!(row.ratio, Some(2.0));
        assert_eq!(row.pass, Some(true));
        let row = Row::lower_is_better("t", "s", 2.0, "anchor", 1.0, Some(1.5));
        assert_eq!(row.ratio, Some(0.5));
        assert_eq!(row.pass, Some(false));
    }

    #[test]
    fn json_escapes_strings() {
        let row = Row::standalone("a \"quoted\"\nname", "s", 1.5, "", None);
        let json = row.to_json();
        assert!(json.contains(r#""a \"quoted\"\nname""#), "{json}");
        assert!(json.contains(r#""pass": null"#), "{json}");
    }

    #[test]
    fn median_of_even_and_odd_samples() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(
            median(&mut [ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
    }

    #[test]
    fn log_uniform_stays_in_range() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..10_000 {
            let v = rng.log_uniform(10, 64 << 20);
            assert!((10..=64 << 20).contains(&v));
        }
    }
}
