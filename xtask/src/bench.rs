//! `cargo xtask bench [--quick]`: every benchmark beside its anchor, merged into
//! `target/bench/summary.json` and the table of `BENCHMARKS.md`.

use crate::util::{cargo, exec, root};
use std::process::Command;

const TABLE_START: &str = "<!-- bench-table:start -->";
const TABLE_END: &str = "<!-- bench-table:end -->";

pub fn run(quick: bool) -> Result<(), String> {
    let out = root().join("target/bench");
    let rows_dir = out.join("rows");
    let _ = std::fs::remove_dir_all(&rows_dir);
    let mut cmd = cargo();
    cmd.args(["bench", "-p", "erm-bench"])
        .env("ERM_BENCH_OUT", &out);
    if quick {
        cmd.env("ERM_BENCH_QUICK", "1");
    }
    exec(&mut cmd)?;
    c_abi_row(&rows_dir, quick)?;

    let mut groups: Vec<String> = std::fs::read_dir(&rows_dir)
        .map_err(|e| format!("no results in {}: {e}", rows_dir.display()))?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_owned)
        })
        .collect();
    groups.sort();
    if groups.is_empty() {
        return Err("the benchmarks produced no figures".into());
    }

    let mut json_rows = Vec::new();
    let mut table = String::new();
    for group in &groups {
        let json = read(&rows_dir.join(format!("{group}.json")))?;
        let inner = json
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim();
        if inner.is_empty() {
            return Err(format!("benchmark group `{group}` produced no figure"));
        }
        if inner.contains(r#""ours": null"#) {
            return Err(format!(
                "benchmark group `{group}` has a case without a figure:\n{inner}"
            ));
        }
        json_rows.push(inner.to_owned());
        table.push_str(&read(&rows_dir.join(format!("{group}.md")))?);
    }
    let summary = out.join("summary.json");
    std::fs::write(&summary, format!("[\n{}\n]\n", json_rows.join(",\n")))
        .map_err(|e| e.to_string())?;
    println!("\nwrote {}", summary.display());

    let failing = table.lines().filter(|l| l.contains("**FAIL**")).count();
    println!(
        "{} cases, {failing} missing their target",
        table.lines().count()
    );
    // Quick runs draw into target/ (CI checks the charts are made); a full
    // run's charts are the published ones, linked from BENCHMARKS.md.
    let plots = if quick {
        out.join("plots")
    } else {
        root().join(PLOTS_DIR)
    };
    let charted = write_plots(&read(&summary)?, &plots)?;
    println!("drew {} charts in {}", charted.len(), plots.display());
    if quick {
        println!("--quick: BENCHMARKS.md keeps the figures of the last full run");
    } else {
        update_benchmarks_md(&table, &charted)?;
    }
    Ok(())
}

/// `cargo xtask plot`: redraws the charts of the last run's summary into
/// `target/bench/plots` (to look at them without running the benchmarks).
pub fn plot() -> Result<(), String> {
    let out = root().join("target/bench");
    let groups = write_plots(&read(&out.join("summary.json"))?, &out.join("plots"))?;
    println!(
        "drew {} charts in {}",
        groups.len(),
        out.join("plots").display()
    );
    Ok(())
}

/// Where a full run puts its charts, relative to the workspace root.
const PLOTS_DIR: &str = "docs/bench";

/// Writes `<group>.svg` into `dir` for every group of `summary`; returns the groups.
fn write_plots(summary: &str, dir: &std::path::Path) -> Result<Vec<String>, String> {
    let rows = crate::plot::parse_rows(summary)?;
    let mut groups: Vec<&str> = rows.iter().map(crate::plot::Row::group).collect();
    groups.sort_unstable();
    groups.dedup();
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for group in &groups {
        let of_group: Vec<_> = rows
            .iter()
            .filter(|r| r.group() == *group)
            .cloned()
            .collect();
        let path = dir.join(format!("{group}.svg"));
        std::fs::write(&path, crate::plot::chart(group, &of_group))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(groups.into_iter().map(str::to_owned).collect())
}

fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn update_benchmarks_md(rows: &str, charted: &[String]) -> Result<(), String> {
    let path = root().join("BENCHMARKS.md");
    let doc = read(&path)?;
    let (Some(start), Some(end)) = (doc.find(TABLE_START), doc.find(TABLE_END)) else {
        return Err(format!(
            "BENCHMARKS.md lacks the {TABLE_START} / {TABLE_END} markers"
        ));
    };
    let charts: Vec<String> = charted
        .iter()
        .map(|g| format!("[{g}]({PLOTS_DIR}/{g}.svg)"))
        .collect();
    let table = format!(
        "{TABLE_START}\nMachine: {}. Run: {}.\n\nCharts of this run, one per group: {}.\n\n\
         | case | ours | anchor | anchor is | ratio (bigger is better) | target | verdict |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n{rows}",
        machine(),
        shell("date -u '+%Y-%m-%d %H:%M UTC'"),
        charts.join(", "),
    );
    let new = format!("{}{table}{}", &doc[..start], &doc[end..]);
    std::fs::write(&path, new).map_err(|e| e.to_string())?;
    println!("updated {}", path.display());
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))?
                .split(':')
                .nth(1)
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores, Linux {}", shell("uname -r"))
}

fn shell(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The C ABI group: `benchmark_lockless.c`'s open/close throughput at 2
/// threads, lockless against locked, as one row in the harness's formats.
fn c_abi_row(rows_dir: &std::path::Path, quick: bool) -> Result<(), String> {
    let (locked, lockless) = crate::capi::lockless_rates(quick)?;
    let (ours, anchor) = (1.0 / lockless, 1.0 / locked); // microseconds per op
    let ratio = lockless / locked;
    let pass = ratio >= 1.5;
    let name = "c_abi/open+close from C, 2 threads, lockless vs locked (benchmark_lockless.c)";
    let json = format!(
        "[\n  {{\"name\": \"{name}\", \"ours\": {ours}, \"anchor\": {anchor}, \"anchor_name\": \"ermfs locked mode\", \"unit\": \"us/op\", \"ratio\": {ratio}, \"target\": \"ratio >= 1.5\", \"pass\": {pass}}}\n]\n"
    );
    let verdict = if pass { "pass" } else { "**FAIL**" };
    let md = format!(
        "| {name} | {ours:.4} us/op | {anchor:.4} us/op | ermfs locked mode | {ratio:.2}x | ratio >= 1.5 | {verdict} |\n"
    );
    std::fs::write(rows_dir.join("c_abi.json"), json).map_err(|e| format!("c_abi.json: {e}"))?;
    std::fs::write(rows_dir.join("c_abi.md"), md).map_err(|e| format!("c_abi.md: {e}"))
}
