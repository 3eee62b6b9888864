//! erm-alloc benchmarks: fragmentation churn against glibc malloc, and growth by appends.
//!
//! The churn runs each allocator in a child process of its own, so neither
//! inherits the other's heap and each reports its own resident set.

use erm_alloc::{MemoryBudget, Region};
use erm_bench::{Report, Row, SplitMix64, compare, quick, resident_bytes};
use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;

const MIB: usize = 1 << 20;

/// Churn parameters: objects created over the run, and the cap on live bytes.
fn churn_size() -> (usize, usize) {
    if quick() {
        (2_000, 256 * MIB)
    } else {
        (10_000, 2048 * MIB)
    }
}

/// A growable buffer under test: ERMFS region or `Vec<u8>` (glibc realloc).
trait Buffer {
    fn set_len(&mut self, len: usize);
    fn len(&self) -> usize;
}

impl Buffer for Region {
    fn set_len(&mut self, len: usize) {
        let old = Region::len(self);
        self.resize(len).expect("unlimited budget");
        if len > old {
            // A file write touches the new bytes.
            self.as_mut_slice()[old..].fill(0x5A);
        }
    }
    fn len(&self) -> usize {
        Region::len(self)
    }
}

impl Buffer for Vec<u8> {
    fn set_len(&mut self, len: usize) {
        if len > self.len() {
            self.resize(len, 0x5A);
        } else {
            self.truncate(len);
            // Give the allocator the chance to return memory, as a careful
            // Vec-based store would.
            self.shrink_to_fit();
        }
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// Runs the seeded churn; returns (resident bytes above the baseline, live bytes) at the end.
fn churn<B: Buffer>(mut make: impl FnMut() -> B) -> (usize, usize) {
    let (objects, cap) = churn_size();
    let baseline = resident_bytes().expect("statm");
    let mut rng = SplitMix64::new(0x5EED_C0DE);
    let mut live: Vec<B> = Vec::new();
    let mut live_bytes = 0usize;
    let mut created = 0;
    while created < objects {
        let roll = rng.below(100);
        if roll < 40 || live.is_empty() {
            // Birth at a log-uniform size.
            let size = rng.log_uniform(10, 64 * MIB);
            while live_bytes + size > cap && !live.is_empty() {
                let victim = live.swap_remove(rng.below(live.len() as u64) as usize);
                live_bytes -= victim.len();
            }
            let mut b = make();
            b.set_len(size);
            live_bytes += size;
            live.push(b);
            created += 1;
        } else if roll < 85 {
            // Grow or shrink a random object to a new log-uniform size.
            let i = rng.below(live.len() as u64) as usize;
            let size = rng.log_uniform(10, 64 * MIB);
            let old = live[i].len();
            if live_bytes - old + size > cap {
                continue;
            }
            live[i].set_len(size);
            live_bytes = live_bytes - old + size;
        } else {
            let victim = live.swap_remove(rng.below(live.len() as u64) as usize);
            live_bytes -= victim.len();
        }
    }
    let resident = resident_bytes().expect("statm").saturating_sub(baseline);
    black_box(&live);
    (resident, live_bytes)
}

fn churn_child(kind: &str) {
    let (resident, live) = match kind {
        "erm" => {
            let budget = Arc::new(MemoryBudget::unlimited());
            churn(|| Region::new(&budget))
        }
        _ => churn(Vec::<u8>::new),
    };
    println!("{resident} {live}");
}

/// Runs this bench binary again as a churn child and reads its result.
fn run_child(kind: &str) -> (f64, usize) {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .args(["--churn-child", kind])
        .output()
        .expect("run churn child");
    assert!(
        out.status.success(),
        "churn child {kind} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<usize>().expect("number"));
    let (resident, live) = (
        fields.next().expect("resident"),
        fields.next().expect("live"),
    );
    (resident as f64 / live as f64, live)
}

fn growth(report: &mut Report) {
    let total = if quick() { 256 * MIB } else { 1024 * MIB };
    let chunk = vec![0x11u8; 4096];
    let budget = Arc::new(MemoryBudget::unlimited());
    let samples = if quick() { 3 } else { 7 };
    let (anchor, ours) = compare(
        samples,
        || {
            let mut v: Vec<u8> = Vec::new();
            while v.len() < total {
                v.extend_from_slice(&chunk);
            }
            black_box(&v);
        },
        || {
            let mut r = Region::new(&budget);
            while r.len() < total {
                r.extend_from_slice(&chunk).expect("unlimited budget");
            }
            black_box(&r);
        },
    );
    let label = format!("alloc/growth 0 to {} MiB in 4 KiB appends", total / MIB);
    report.push(Row::lower_is_better(
        &label,
        "s",
        ours.as_secs_f64(),
        "Vec<u8> extend (glibc realloc)",
        anchor.as_secs_f64(),
        None,
    ));
    let copied = budget.copied_bytes() as f64;
    report.push(Row::standalone(
        &format!("{label}: bytes copied by erm-alloc"),
        "bytes",
        copied,
        "== 0",
        Some(copied == 0.0),
    ));
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--churn-child") {
        churn_child(args.get(i + 1).map_or("erm", String::as_str));
        return Ok(());
    }
    let mut report = Report::new("alloc");
    let (objects, cap) = churn_size();
    let (erm, live) = run_child("erm");
    let (glibc, _) = run_child("glibc");
    let label = format!(
        "alloc/fragmentation churn ({objects} objects, 10 B-64 MiB, live <= {} MiB)",
        cap / MIB
    );
    let row = Row::lower_is_better(
        &label,
        "resident/live",
        erm,
        "glibc malloc/realloc (Vec)",
        glibc,
        None,
    );
    let pass = erm <= 1.2 && erm <= glibc;
    report.push(row.with_target("ours <= 1.2 and <= glibc", pass));
    eprintln!("churn ended with {} MiB live", live / MIB);
    growth(&mut report);
    report.write()
}
