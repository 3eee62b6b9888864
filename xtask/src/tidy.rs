//! `cargo xtask tidy`: repository hygiene and the architecture invariants
//! about code structure, checked on the sources as text (also run by
//! `cargo test -p xtask`, so `cargo xtask ci` runs them with the rest).
//!
//! Hygiene:
//! - every `.rs` file starts with a `//!` doc comment saying what it is for;
//! - no temp-file machinery anywhere (scratch data lives in memfds);
//! - no `#[ignore]` without a reason;
//! - every `unsafe` block is preceded by a `// SAFETY:` comment;
//! - documents and comments refer only to the repository (`doc_refs.rs`).
//!
//! Architecture invariants (ARCHITECTURE.md says "(checked by `cargo xtask
//! tidy`)" beside each):
//! - [`C_EXPORTS`]: only `ermfs-c` exports C symbols;
//! - [`FUSER`]: only `erm-fuse` and `erm-bench` depend on `fuser`;
//! - [`SYNC`]: in a crate with a `sync` module, only that module names
//!   std's or loom's atomics and locks;
//! - [`LAYERS`]: dependencies between our crates point down the layers;
//! - [`SYSCALLS`]: in a crate with a `sys.rs`, every libc call is there and
//!   the other modules are `deny(unsafe_code)` or say why not;
//! - [`MODULE_TREE`](crate::module_tree::MODULE_TREE): inside `ermfs`,
//!   imports point down its module trees, with no circle but the
//!   builder/`Fs` pair (`module_tree.rs`).
//!
//! Every rule is a function from in-memory sources to [`Offence`]s, so the
//! unit tests below feed each one small synthetic inputs and show it fails.

use crate::util::root;
use std::fmt;
use std::path::Path;

/// A file of the repository: its path from the root (with `/`) and text.
pub struct Source {
    /// Path relative to the workspace root, `/`-separated.
    pub path: String,
    /// The whole file.
    pub text: String,
}

impl Source {
    /// A source from a path and its text.
    pub fn new(path: &str, text: &str) -> Source {
        Source {
            path: path.to_owned(),
            text: text.to_owned(),
        }
    }

    /// The top-level directory the file is in (its crate's directory).
    fn krate(&self) -> &str {
        self.path.split('/').next().unwrap_or("")
    }
}

/// One broken rule: where, which rule, and the offending text.
#[derive(Debug, PartialEq, Eq)]
pub struct Offence {
    /// File, relative to the workspace root.
    pub path: String,
    /// 1-based line (0 for a whole-file offence).
    pub line: usize,
    /// The rule or invariant broken.
    pub rule: &'static str,
    /// The offending line, trimmed (or a description).
    pub text: String,
}

impl fmt::Display for Offence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}\n    {}",
            self.path, self.line, self.rule, self.text
        )
    }
}

/// Hygiene: module docs.
pub const MODULE_DOC: &str = "every .rs file starts with a `//!` doc comment";
/// Hygiene: no temp files.
pub const TEMP_FILES: &str = "no temp-file machinery (scratch data lives in memfds)";
/// Hygiene: ignored tests say why.
pub const IGNORE: &str = "`#[ignore]` needs a reason (`#[ignore = \"...\"]`)";
/// Hygiene: SAFETY comments.
pub const SAFETY: &str = "every `unsafe` block has a `// SAFETY:` comment on or above it";
/// Architecture invariant of `ermfs-c`.
pub const C_EXPORTS: &str = "architecture invariant: only ermfs-c exports C symbols \
     (no `no_mangle`/`export_name` attribute and no `pub extern \"ABI\" fn` elsewhere; \
     private `extern \"C\"` callbacks and `extern` declaration blocks are fine)";
/// Architecture invariant of `erm-fuse`.
pub const FUSER: &str =
    "architecture invariant: only erm-fuse (and erm-bench's fuse group) depends on fuser";
/// Architecture invariant of the crates with a `sync` module.
pub const SYNC: &str = "architecture invariant: in a crate with a `sync` module, only that \
     module names std's/core's atomics and locks, parking_lot or loom (import them from \
     `crate::sync`; `#[cfg(test)]` modules and tests/ are exempt)";
/// Architecture invariant: the layering of the bird's-eye view.
pub const LAYERS: &str = "architecture invariant: dependency arrows point down \
     (ARCHITECTURE.md, bird's-eye view: a crate depends only on crates of lower layers)";
/// Architecture invariant of the crates with a `sys.rs`.
pub const SYSCALLS: &str = "architecture invariant: in a crate with src/sys.rs, every libc \
     call and foreign declaration is in sys.rs, lib.rs is `#![deny(unsafe_code)]`, and a \
     module that allows unsafe code says why in a `//! # Safety` paragraph";

/// The layers of the bird's-eye view, lowest first: a crate may depend on
/// crates of strictly lower layers only (none of its own layer). `xtask`
/// is outside: it drives cargo and depends on no crate of ours, so a broken
/// crate never breaks the tool that reports it.
pub const LAYER_TABLE: &[(&str, u32)] = &[
    ("erm-alloc", 0),
    ("erm-compress", 0),
    ("erm-registry", 1),
    ("erm-fdtable", 1),
    ("ermfd", 1),
    ("ermfs", 2),
    ("ermfs-c", 3),
    ("erm-fuse", 3),
    ("erm-bench", 4),
    ("erm-fuzz", 4),
];

/// Packages that may depend on fuser.
const FUSER_USERS: &[&str] = &["erm-fuse", "erm-bench"];

/// The crate allowed to export C symbols (its directory).
const C_ABI_CRATE: &str = "ermfs-c";

/// Names from std/core's `sync` that only a `sync` module may import
/// (besides anything starting with `Atomic`). `Arc`, `Weak`, `OnceLock`,
/// `LazyLock`, `PoisonError` and `mpsc` are not synchronisation a loom model
/// must see, so they are free.
const LOCK_NAMES: &[&str] = &[
    "atomic",
    "Mutex",
    "MutexGuard",
    "RwLock",
    "RwLockReadGuard",
    "RwLockWriteGuard",
    "Condvar",
    "Barrier",
];

/// Runs every rule on the repository; `Err` lists every offence.
pub fn run() -> Result<(), String> {
    let (rust, manifests) = load(&root())?;
    let offences = check(&rust, &manifests);
    let docs = crate::doc_refs::check();
    if !docs.is_empty() {
        return Err(format!(
            "tidy: documents and comments must stand on the repository alone:\n{}",
            docs.join("\n")
        ));
    }
    if offences.is_empty() {
        println!(
            "tidy: {} Rust files and {} manifests pass every rule",
            rust.len(),
            manifests.len()
        );
        return Ok(());
    }
    let list: Vec<String> = offences.iter().map(ToString::to_string).collect();
    Err(format!(
        "tidy: {} offence(s):\n{}",
        offences.len(),
        list.join("\n")
    ))
}

/// Every rule over the given Rust sources and `Cargo.toml` manifests.
pub fn check(rust: &[Source], manifests: &[Source]) -> Vec<Offence> {
    let mut all = Vec::new();
    all.extend(module_docs(rust));
    all.extend(temp_files(rust));
    all.extend(bare_ignores(rust));
    all.extend(safety_comments(rust));
    all.extend(c_exports(rust));
    all.extend(fuser_users(manifests));
    all.extend(sync_modules(rust));
    all.extend(layering(manifests));
    all.extend(syscalls(rust));
    all.extend(crate::module_tree::check(rust));
    all
}

/// The repository's `.rs` files and its crates' manifests (`*/Cargo.toml`,
/// `fuzz/` included; the workspace's own manifest declares no package).
fn load(root: &Path) -> Result<(Vec<Source>, Vec<Source>), String> {
    fn walk(root: &Path, dir: &Path, depth: usize, rust: &mut Vec<Source>, toml: &mut Vec<Source>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || ["target", "corpus", "artifacts"].contains(&&*name) {
                continue;
            }
            let read = || {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let rel = path.strip_prefix(root).unwrap_or(&path);
                Source::new(&rel.to_string_lossy().replace('\\', "/"), &text)
            };
            if path.is_dir() {
                walk(root, &path, depth + 1, rust, toml);
            } else if name.ends_with(".rs") {
                rust.push(read());
            } else if name == "Cargo.toml" && depth == 1 {
                toml.push(read());
            }
        }
    }
    let (mut rust, mut toml) = (Vec::new(), Vec::new());
    walk(root, root, 0, &mut rust, &mut toml);
    if rust.is_empty() || toml.is_empty() {
        return Err(format!(
            "tidy: found no Rust files or manifests under {}",
            root.display()
        ));
    }
    rust.sort_by(|a, b| a.path.cmp(&b.path));
    toml.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((rust, toml))
}

/// Lines of every file for which `rule(lines, i)` holds, as offences.
fn lines_where(
    files: &[Source],
    rule: &'static str,
    mut bad: impl FnMut(&Source, &[&str], usize) -> bool,
) -> Vec<Offence> {
    let mut out = Vec::new();
    for file in files {
        let lines: Vec<&str> = file.text.lines().collect();
        for i in 0..lines.len() {
            if bad(file, &lines, i) {
                out.push(Offence {
                    path: file.path.clone(),
                    line: i + 1,
                    rule,
                    text: lines[i].trim().to_owned(),
                });
            }
        }
    }
    out
}

/// Whether a line is a comment (line, doc or inner doc).
pub(crate) fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with("//")
}

/// The line without a trailing `// ...` comment (a `//` inside a string
/// literal is kept: quotes are counted).
pub(crate) fn code_part(line: &str) -> &str {
    let mut in_str = false;
    let mut escaped = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_str => escaped = true,
            b'"' => in_str = !in_str,
            b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn module_docs(files: &[Source]) -> Vec<Offence> {
    files
        .iter()
        .filter(|f| !f.text.trim_start().starts_with("//!"))
        .map(|f| Offence {
            path: f.path.clone(),
            line: 1,
            rule: MODULE_DOC,
            text: "no leading `//!` doc".to_owned(),
        })
        .collect()
}

fn temp_files(files: &[Source]) -> Vec<Offence> {
    // Split so this file does not match itself.
    let words = [
        ["temp", "file"].concat(),
        ["mk", "stemp"].concat(),
        ["mk", "temp"].concat(),
        ["temp", "_dir"].concat(),
    ];
    lines_where(files, TEMP_FILES, |_, lines, i| {
        let l = lines[i].to_ascii_lowercase();
        words.iter().any(|w| l.contains(w.as_str()))
    })
}

fn bare_ignores(files: &[Source]) -> Vec<Offence> {
    let attr = ["#[", "ignore]"].concat();
    lines_where(files, IGNORE, |_, lines, i| lines[i].trim() == attr)
}

fn safety_comments(files: &[Source]) -> Vec<Offence> {
    let block = ["unsafe", " {"].concat();
    lines_where(files, SAFETY, |_, lines, i| {
        let l = lines[i].trim_start();
        if !l.contains(&block) || l.starts_with("//") {
            return false;
        }
        // The comment may stand on this line or on the lines above it.
        let above = lines[..i].iter().rev().take_while(|p| {
            let p = p.trim_start();
            p.starts_with("//") || p.starts_with("#[")
        });
        !above.chain([&lines[i]]).any(|c| c.contains("SAFETY:"))
    })
}

/// (a) Only `ermfs-c` exports C symbols: elsewhere no `no_mangle` or
/// `export_name` attribute (plain or `unsafe(...)`) and no public function
/// with an explicit ABI. Private `extern "C" fn`s (callbacks handed to a C
/// library, as erm-compress's zlib allocator) and `extern "C" { ... }`
/// declarations export nothing and are allowed.
fn c_exports(files: &[Source]) -> Vec<Offence> {
    let attrs = [["no_", "mangle"].concat(), ["export_", "name"].concat()];
    let others: Vec<&Source> = files.iter().filter(|f| f.krate() != C_ABI_CRATE).collect();
    let mut out = Vec::new();
    for file in others {
        let lines: Vec<&str> = file.text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if is_comment(line) {
                continue;
            }
            let code = code_part(line).trim();
            let attr = code.starts_with("#[") && attrs.iter().any(|a| code.contains(a.as_str()));
            let public_abi =
                code.starts_with("pub ") && code.contains("extern \"") && code.contains(" fn ");
            if attr || public_abi {
                out.push(Offence {
                    path: file.path.clone(),
                    line: i + 1,
                    rule: C_EXPORTS,
                    text: code.to_owned(),
                });
            }
        }
    }
    out
}

/// A dependency named in a manifest: the package it resolves to (after a
/// `package = "..."` rename), the line that names it and the table.
#[derive(Debug, PartialEq, Eq)]
struct Dependency {
    package: String,
    line: usize,
    table: String,
}

/// The `[package]` name of a manifest.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_package = t == "[package]";
        } else if in_package {
            if let Some(value) = t.strip_prefix("name").map(str::trim_start) {
                if let Some(value) = value.strip_prefix('=') {
                    return Some(value.trim().trim_matches('"').to_owned());
                }
            }
        }
    }
    None
}

/// Every dependency of a manifest, in every dependency table
/// (`[dependencies]`, `[dev-dependencies]`, `[build-dependencies]`, their
/// `[target.'...'.*]` forms, and `[dependencies.NAME]` tables). A small
/// line reader, enough for the manifests of this repository (one
/// dependency per line, inline tables on one line).
fn dependencies(manifest: &str) -> Vec<Dependency> {
    fn is_table(name: &str) -> bool {
        ["dependencies", "dev-dependencies", "build-dependencies"]
            .iter()
            .any(|t| name == *t || name.ends_with(&format!(".{t}")))
    }
    fn renamed(line: &str) -> Option<String> {
        let at = line.find("package")?;
        let rest = line[at + "package".len()..]
            .trim_start()
            .strip_prefix('=')?;
        let rest = rest.trim_start().strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_owned())
    }
    let mut out: Vec<Dependency> = Vec::new();
    // The table being read, and for `[dependencies.NAME]` the entry index.
    let mut table: Option<String> = None;
    let mut single: Option<usize> = None;
    for (i, line) in manifest.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(header) = t.strip_prefix('[') {
            let header = header.trim_end_matches(']').trim();
            single = None;
            table = None;
            if is_table(header) {
                table = Some(header.to_owned());
            } else if let Some((parent, name)) = header.rsplit_once('.') {
                if is_table(parent) {
                    out.push(Dependency {
                        package: name.trim_matches('"').to_owned(),
                        line: i + 1,
                        table: parent.to_owned(),
                    });
                    single = Some(out.len() - 1);
                }
            }
            continue;
        }
        if let Some(index) = single {
            if let (Some(dep), Some(package)) = (out.get_mut(index), renamed(t)) {
                dep.package = package;
            }
            continue;
        }
        let Some(table) = &table else { continue };
        let Some((key, _)) = t.split_once('=') else {
            continue;
        };
        let name = key.split('.').next().unwrap_or("").trim().trim_matches('"');
        out.push(Dependency {
            package: renamed(t).unwrap_or_else(|| name.to_owned()),
            line: i + 1,
            table: table.clone(),
        });
    }
    out
}

/// (b) Only erm-fuse and erm-bench depend on fuser, in any table.
fn fuser_users(manifests: &[Source]) -> Vec<Offence> {
    let mut out = Vec::new();
    for m in manifests {
        let package = package_name(&m.text).unwrap_or_default();
        if FUSER_USERS.contains(&package.as_str()) {
            continue;
        }
        for dep in dependencies(&m.text)
            .iter()
            .filter(|d| d.package == "fuser")
        {
            out.push(Offence {
                path: m.path.clone(),
                line: dep.line,
                rule: FUSER,
                text: format!("{package} depends on fuser in [{}]", dep.table),
            });
        }
    }
    out
}

/// (d) Dependencies between our crates point down [`LAYER_TABLE`]; a crate
/// of ours missing from the table is an offence too (place it first), and
/// xtask depends on none of ours.
fn layering(manifests: &[Source]) -> Vec<Offence> {
    let ours: Vec<String> = manifests
        .iter()
        .filter_map(|m| package_name(&m.text))
        .collect();
    let layer = |name: &str| LAYER_TABLE.iter().find(|(n, _)| *n == name).map(|l| l.1);
    let mut out = Vec::new();
    for m in manifests {
        let Some(package) = package_name(&m.text) else {
            continue;
        };
        let own = layer(&package);
        if own.is_none() && package != "xtask" {
            out.push(Offence {
                path: m.path.clone(),
                line: 1,
                rule: LAYERS,
                text: format!("{package} has no layer in tidy's LAYER_TABLE"),
            });
            continue;
        }
        for dep in dependencies(&m.text) {
            if !ours.contains(&dep.package) {
                continue;
            }
            let allowed = match (own, layer(&dep.package)) {
                (Some(own), Some(theirs)) => theirs < own,
                _ => false, // xtask, or a dependency without a layer
            };
            if !allowed {
                out.push(Offence {
                    path: m.path.clone(),
                    line: dep.line,
                    rule: LAYERS,
                    text: format!(
                        "{package} (layer {}) depends on {} (layer {}) in [{}]",
                        own.map_or("none: xtask".to_owned(), |l| l.to_string()),
                        dep.package,
                        layer(&dep.package).map_or("none".to_owned(), |l| l.to_string()),
                        dep.table
                    ),
                });
            }
        }
    }
    out
}

/// Whether a `#[cfg(...)]` attribute line switches on `test`.
fn is_test_cfg(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("#[cfg(")
        && !t.contains("not(test)")
        && t.split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|w| w == "test")
}

/// The lines of `lines` that belong to inline `#[cfg(test)]` modules
/// (`#[cfg(all(test, loom))]` and the like): from the attribute to the
/// module's closing brace, found by counting braces outside strings, char
/// literals and comments.
pub(crate) fn test_module_lines(lines: &[&str]) -> Vec<bool> {
    fn depth_change(line: &str) -> i64 {
        let code = code_part(line).replace("'{'", "").replace("'}'", "");
        let mut in_str = false;
        let mut escaped = false;
        let mut d = 0;
        for c in code.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_str => escaped = true,
                '"' => in_str = !in_str,
                '{' if !in_str => d += 1,
                '}' if !in_str => d -= 1,
                _ => {}
            }
        }
        d
    }
    let mut inside = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if !is_test_cfg(lines[i]) {
            i += 1;
            continue;
        }
        // The item the attribute applies to: the next non-attribute line.
        let mut j = i + 1;
        while j < lines.len() && lines[j].trim_start().starts_with("#[") {
            j += 1;
        }
        let item = lines.get(j).map_or("", |l| code_part(l).trim());
        let is_mod =
            item.starts_with("mod ") || (item.starts_with("pub") && item.contains(" mod "));
        if !is_mod || !item.ends_with('{') {
            i = j;
            continue;
        }
        let mut depth = 0;
        let mut k = j;
        while k < lines.len() {
            depth += depth_change(lines[k]);
            k += 1;
            if depth <= 0 {
                break;
            }
        }
        for flag in &mut inside[i..k] {
            *flag = true;
        }
        i = k;
    }
    inside
}

/// Paths of the files that `file` declares as `#[cfg(test)] mod NAME;`.
fn test_module_files(file: &Source) -> Vec<String> {
    let lines: Vec<&str> = file.text.lines().collect();
    let dir = match file.path.rsplit_once('/') {
        Some((dir, name)) if ["lib.rs", "main.rs", "mod.rs"].contains(&name) => dir.to_owned(),
        Some(_) => file.path.trim_end_matches(".rs").to_owned(),
        None => String::new(),
    };
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = code_part(line).trim();
        let Some(name) = t
            .strip_prefix("mod ")
            .or_else(|| t.strip_prefix("pub(crate) mod "))
            .and_then(|n| n.strip_suffix(';'))
        else {
            continue;
        };
        let attrs = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.trim_start().starts_with("#["));
        if attrs.clone().any(|a| is_test_cfg(a)) {
            out.push(format!("{dir}/{name}.rs"));
            out.push(format!("{dir}/{name}/mod.rs"));
        }
    }
    out
}

/// Whether `file` is its crate's sync shim (`src/sync.rs` or `src/sync/`).
fn is_sync_module(file: &Source) -> bool {
    let rest = file.path.split_once('/').map_or("", |(_, r)| r);
    rest == "src/sync.rs" || rest.starts_with("src/sync/")
}

/// What a line names that only a sync module may: `Some(reason)`.
fn names_sync_primitive(code: &str) -> Option<String> {
    if code.contains("loom::") {
        return Some("names loom".to_owned());
    }
    if code.contains("parking_lot") {
        return Some("names parking_lot".to_owned());
    }
    if code.contains("sync::atomic") {
        return Some("names std's atomics".to_owned());
    }
    for root in ["std::sync::", "core::sync::"] {
        for (at, _) in code.match_indices(root) {
            let rest = &code[at + root.len()..];
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if is_lock_name(&ident) {
                return Some(format!("names {root}{ident}"));
            }
        }
    }
    None
}

fn is_lock_name(ident: &str) -> bool {
    LOCK_NAMES.contains(&ident) || ident.starts_with("Atomic")
}

/// A `use std::...` / `use core::...` statement that reaches into `sync`
/// through a group (`use std::sync::{Arc, Mutex}`, `use std::{sync::...}`):
/// `Some(reason)` if it brings a lock or atomic in.
fn use_group_names_sync(statement: &str) -> Option<String> {
    let flat: String = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    let body = flat
        .trim_start_matches("pub(crate) ")
        .trim_start_matches("pub ")
        .strip_prefix("use ")?;
    if !(body.starts_with("std::") || body.starts_with("core::")) {
        return None;
    }
    let after = &body[body.find("sync")? + "sync".len()..];
    after
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .find(|w| is_lock_name(w))
        .map(|w| format!("imports {w} from std's sync"))
}

/// (c) In crates with a sync module, only that module names std's, core's
/// or loom's atomics and locks, or parking_lot. Inline `#[cfg(test)]`
/// modules and files declared under `#[cfg(test)]` are test code (as
/// `tests/` is) and exempt; crates without a sync module are exempt
/// (ARCHITECTURE.md lists them and why).
fn sync_modules(files: &[Source]) -> Vec<Offence> {
    let with_sync: Vec<&str> = files
        .iter()
        .filter(|f| is_sync_module(f))
        .map(Source::krate)
        .collect();
    let test_files: Vec<String> = files.iter().flat_map(test_module_files).collect();
    let mut out = Vec::new();
    for file in files {
        let in_src = file.path.split('/').nth(1) == Some("src");
        if !in_src
            || !with_sync.contains(&file.krate())
            || is_sync_module(file)
            || test_files.contains(&file.path)
        {
            continue;
        }
        let lines: Vec<&str> = file.text.lines().collect();
        let tests = test_module_lines(&lines);
        let mut i = 0;
        while i < lines.len() {
            let start = i;
            let line = lines[i];
            i += 1;
            if tests[start] || is_comment(line) {
                continue;
            }
            let code = code_part(line);
            let mut reason = names_sync_primitive(code);
            let t = code.trim_start();
            if reason.is_none()
                && (t.starts_with("use ")
                    || t.starts_with("pub(crate) use ")
                    || t.starts_with("pub use "))
            {
                // Join a statement spread over several lines.
                let mut statement = code.to_owned();
                while !statement.contains(';') && i < lines.len() {
                    statement.push(' ');
                    statement.push_str(code_part(lines[i]));
                    reason = reason.or_else(|| names_sync_primitive(code_part(lines[i])));
                    i += 1;
                }
                reason = reason.or_else(|| use_group_names_sync(&statement));
            }
            if let Some(reason) = reason {
                out.push(Offence {
                    path: file.path.clone(),
                    line: start + 1,
                    rule: SYNC,
                    text: format!("{} ({reason})", line.trim()),
                });
            }
        }
    }
    out
}

/// Whether a line calls a libc function (`libc::name(`, lower-case name;
/// constants and types such as `libc::EINVAL` or `libc::off_t` are fine).
fn calls_libc(code: &str) -> bool {
    code.match_indices("libc::").any(|(at, _)| {
        let rest = &code[at + "libc::".len()..];
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        ident.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && rest[ident.len()..].trim_start().starts_with('(')
    })
}

/// (e) In crates with `src/sys.rs` (erm-alloc, ermfd, erm-fuse): libc calls and
/// `extern` blocks only in sys.rs; lib.rs denies unsafe code; any other
/// module allowing it explains why under `//! # Safety`.
fn syscalls(files: &[Source]) -> Vec<Offence> {
    let with_sys: Vec<&str> = files
        .iter()
        .filter(|f| {
            f.path
                .split_once('/')
                .is_some_and(|(_, r)| r == "src/sys.rs")
        })
        .map(Source::krate)
        .collect();
    let allow = ["#![allow(", "unsafe_code)]"].concat();
    let deny = [
        ["#![deny(", "unsafe_code)]"].concat(),
        ["#![forbid(", "unsafe_code)]"].concat(),
    ];
    let mut out = Vec::new();
    for file in files {
        let rest = file.path.split_once('/').map_or("", |(_, r)| r);
        if !with_sys.contains(&file.krate()) || !rest.starts_with("src/") || rest == "src/sys.rs" {
            continue;
        }
        let mut offence = |line: usize, text: String| {
            out.push(Offence {
                path: file.path.clone(),
                line,
                rule: SYSCALLS,
                text,
            })
        };
        let lines: Vec<&str> = file.text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if is_comment(line) {
                continue;
            }
            let code = code_part(line);
            let t = code.trim();
            if calls_libc(code) {
                offence(i + 1, format!("{t} (libc call outside sys.rs)"));
            } else if t.contains("extern \"") && t.ends_with('{') && !t.contains(" fn ") {
                offence(i + 1, format!("{t} (foreign declarations outside sys.rs)"));
            }
        }
        let has = |s: &str| lines.iter().any(|l| l.trim() == s);
        if rest == "src/lib.rs" && !deny.iter().any(|d| has(d.as_str())) {
            offence(0, "lib.rs lacks `#![deny(unsafe_code)]`".to_owned());
        }
        let explains = lines
            .iter()
            .take_while(|l| l.trim_start().starts_with("//!") || l.trim().is_empty())
            .any(|l| l.trim() == "//! # Safety");
        if let Some(at) = lines.iter().position(|l| l.trim() == allow) {
            if !explains {
                offence(
                    at + 1,
                    format!("{allow} without a `//! # Safety` paragraph saying why"),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One file from lines; `@` stands for text this file must not hold
    /// literally (or tidy would flag its own tests): `@u` = `unsafe`,
    /// `@nm` = `no_mangle`, `@en` = `export_name`, `@ig` = `ignore`.
    fn src(path: &str, lines: &[&str]) -> Source {
        let text = lines
            .join("\n")
            .replace("@u", &["un", "safe"].concat())
            .replace("@nm", &["no_", "mangle"].concat())
            .replace("@en", &["export_", "name"].concat())
            .replace("@ig", &["ign", "ore"].concat());
        Source::new(path, &text)
    }

    /// The (line, rule) of each offence.
    fn found(offences: &[Offence]) -> Vec<(usize, &'static str)> {
        offences.iter().map(|o| (o.line, o.rule)).collect()
    }

    #[test]
    fn the_repository_passes_every_rule() {
        if let Err(message) = run() {
            panic!("{message}");
        }
    }

    #[test]
    fn offences_name_file_line_and_invariant() {
        let o = Offence {
            path: "a/src/b.rs".to_owned(),
            line: 7,
            rule: SYNC,
            text: "use std::sync::Mutex;".to_owned(),
        };
        let shown = o.to_string();
        assert!(
            shown.starts_with("a/src/b.rs:7: architecture invariant: in a crate with a `sync`")
        );
        assert!(shown.ends_with("use std::sync::Mutex;"));
    }

    #[test]
    fn hygiene_rules_fail_when_broken() {
        let files = [
            src("a/src/lib.rs", &["fn f() {}"]),
            src(
                "a/src/ok.rs",
                &[
                    "//! Docs.",
                    "#[@ig]",
                    "#[@ig = \"slow\"]",
                    "fn g() { @u { h() } }",
                    "// SAFETY: fine.",
                    "fn k() { @u { h() } }",
                ],
            ),
        ];
        assert_eq!(found(&module_docs(&files)), [(1, MODULE_DOC)]);
        assert_eq!(found(&bare_ignores(&files)), [(2, IGNORE)]);
        assert_eq!(found(&safety_comments(&files)), [(4, SAFETY)]);
        let temp = src(
            "a/src/t.rs",
            &["//! x", &["let d = temp", "dir::new();"].concat()],
        );
        assert!(temp_files(&[temp]).is_empty());
        let temp = src(
            "a/src/t.rs",
            &["//! x", &["use temp", "file::Named;"].concat()],
        );
        assert_eq!(found(&temp_files(&[temp])), [(2, TEMP_FILES)]);
    }

    #[test]
    fn only_ermfs_c_exports_c_symbols() {
        let lines = [
            "//! x",
            "#[@nm]",
            "#[@u(@nm)]",
            "#[@en = \"f\"]",
            "pub extern \"C\" fn a() {}",
            "pub @u extern \"C\" fn b() {}",
            "@u extern \"C\" fn callback(_: *mut u8) {}",
            "@u extern \"C\" { fn puts(s: *const u8) -> i32; }",
            "/// A `#[@nm]` in a comment is fine, as is a `pub extern \"C\" fn`.",
            "pub(crate) extern \"C\" fn c() {}",
        ];
        let elsewhere = c_exports(&[src("erm-compress/src/backend/zlib.rs", &lines)]);
        assert_eq!(
            found(&elsewhere),
            [
                (2, C_EXPORTS),
                (3, C_EXPORTS),
                (4, C_EXPORTS),
                (5, C_EXPORTS),
                (6, C_EXPORTS)
            ]
        );
        assert!(c_exports(&[src("ermfs-c/src/fd.rs", &lines)]).is_empty());
    }

    #[test]
    fn manifests_are_read_table_by_table() {
        let manifest = [
            "[package]",
            "name = \"ermfs-c\"",
            "[dependencies]",
            "# fuser = \"1\"",
            "ermfs_core = { package = \"ermfs\", path = \"../ermfs\" }",
            "erm-fdtable.workspace = true",
            "[features]",
            "lockless = [\"ermfs_core/lockless\"]",
            "[target.'cfg(loom)'.dev-dependencies]",
            "loom.workspace = true",
            "[build-dependencies.cc]",
            "version = \"1\"",
            "[dependencies.core2]",
            "package = \"erm-alloc\"",
        ]
        .join("\n");
        assert_eq!(package_name(&manifest).as_deref(), Some("ermfs-c"));
        let deps: Vec<(String, usize)> = dependencies(&manifest)
            .into_iter()
            .map(|d| (d.package, d.line))
            .collect();
        let expected = [
            ("ermfs", 5),
            ("erm-fdtable", 6),
            ("loom", 10),
            ("cc", 11),
            ("erm-alloc", 13),
        ];
        let expected: Vec<(String, usize)> = expected
            .iter()
            .map(|(p, l)| ((*p).to_owned(), *l))
            .collect();
        assert_eq!(deps, expected);
    }

    fn manifest(path: &str, name: &str, deps: &[&str]) -> Source {
        let mut lines = vec![
            "[package]".to_owned(),
            format!("name = \"{name}\""),
            "[dependencies]".to_owned(),
        ];
        lines.extend(
            deps.iter()
                .map(|d| format!("{d} = {{ path = \"../{d}\" }}")),
        );
        Source::new(path, &lines.join("\n"))
    }

    #[test]
    fn only_erm_fuse_and_erm_bench_depend_on_fuser() {
        let manifests = [
            manifest("erm-fuse/Cargo.toml", "erm-fuse", &["fuser"]),
            manifest("erm-bench/Cargo.toml", "erm-bench", &["fuser"]),
            manifest("ermfs/Cargo.toml", "ermfs", &["libc", "fuser"]),
            Source::new(
                "ermfs-c/Cargo.toml",
                "[package]\nname = \"ermfs-c\"\n[dev-dependencies]\nf = { package = \"fuser\", version = \"0.18\" }",
            ),
        ];
        let bad = fuser_users(&manifests);
        let at: Vec<(&str, usize)> = bad.iter().map(|o| (o.path.as_str(), o.line)).collect();
        assert_eq!(at, [("ermfs/Cargo.toml", 5), ("ermfs-c/Cargo.toml", 4)]);
        assert!(bad.iter().all(|o| o.rule == FUSER));
    }

    #[test]
    fn dependencies_point_down_the_layers() {
        let good = [
            manifest("erm-alloc/Cargo.toml", "erm-alloc", &["libc"]),
            manifest("erm-registry/Cargo.toml", "erm-registry", &["erm-alloc"]),
            manifest("ermfs/Cargo.toml", "ermfs", &["erm-alloc", "erm-registry"]),
            manifest("xtask/Cargo.toml", "xtask", &["cbindgen"]),
        ];
        assert!(layering(&good).is_empty());
        let bad = [
            manifest("erm-alloc/Cargo.toml", "erm-alloc", &["erm-compress"]),
            manifest("erm-compress/Cargo.toml", "erm-compress", &[]),
            manifest(
                "erm-registry/Cargo.toml",
                "erm-registry",
                &["ermfs", "erm-fdtable"],
            ),
            manifest("erm-fdtable/Cargo.toml", "erm-fdtable", &[]),
            manifest("ermfs/Cargo.toml", "ermfs", &["ermfs-c"]),
            manifest("ermfs-c/Cargo.toml", "ermfs-c", &["ermfs"]),
            manifest("xtask/Cargo.toml", "xtask", &["ermfs"]),
            manifest("erm-new/Cargo.toml", "erm-new", &[]),
        ];
        let offences = layering(&bad);
        let at: Vec<(&str, usize)> = offences.iter().map(|o| (o.path.as_str(), o.line)).collect();
        assert_eq!(
            at,
            [
                ("erm-alloc/Cargo.toml", 4),    // same layer
                ("erm-registry/Cargo.toml", 4), // upwards
                ("erm-registry/Cargo.toml", 5), // same layer
                ("ermfs/Cargo.toml", 4),        // upwards
                ("xtask/Cargo.toml", 4),        // xtask uses none of ours
                ("erm-new/Cargo.toml", 1),      // not in the table
            ]
        );
        assert!(offences.iter().all(|o| o.rule == LAYERS));
    }

    #[test]
    fn only_sync_modules_name_atomics_and_locks() {
        let files = [
            src(
                "c/src/sync.rs",
                &["//! Shim.", "pub(crate) use std::sync::atomic::AtomicU64;"],
            ),
            src(
                "c/src/lib.rs",
                &[
                    "//! Lib.",
                    "use crate::sync::{AtomicU64, Mutex, Ordering};",
                    "use std::sync::{Arc, Weak, OnceLock};",
                    "use std::sync::atomic::AtomicBool;",
                    "use std::sync::{",
                    "    Arc,",
                    "    Mutex,",
                    "};",
                    "use std::{io, sync::{Arc, RwLock}};",
                    "fn f() -> std::sync::MutexGuard<'static, ()> { todo!() }",
                    "fn g() { loom::thread::yield_now(); }",
                    "type L = parking_lot::Mutex<()>;",
                    "// use std::sync::Mutex; in a comment is fine",
                    "static N: std::sync::OnceLock<u8> = std::sync::OnceLock::new();",
                    "#[cfg(test)]",
                    "mod tests {",
                    "    use std::sync::Mutex;",
                    "    fn f() { let s = format!(\"{}\", '{'); }",
                    "}",
                    "#[cfg(all(test, loom))]",
                    "mod loom_tests {",
                    "    use loom::sync::Arc;",
                    "}",
                    "use std::sync::Condvar;",
                    "#[cfg(all(test, not(loom)))]",
                    "mod unit_tests;",
                ],
            ),
            src(
                "c/src/unit_tests.rs",
                &["//! Tests.", "use std::sync::Mutex;"],
            ),
            src("c/tests/loom.rs", &["//! Model.", "use loom::sync::Mutex;"]),
            src(
                "nosync/src/lib.rs",
                &["//! No shim.", "use std::sync::Mutex;"],
            ),
        ];
        let bad = sync_modules(&files);
        let at: Vec<(&str, usize)> = bad.iter().map(|o| (o.path.as_str(), o.line)).collect();
        assert_eq!(
            at,
            [
                ("c/src/lib.rs", 4),
                ("c/src/lib.rs", 5),
                ("c/src/lib.rs", 9),
                ("c/src/lib.rs", 10),
                ("c/src/lib.rs", 11),
                ("c/src/lib.rs", 12),
                ("c/src/lib.rs", 24),
            ]
        );
        assert!(bad.iter().all(|o| o.rule == SYNC));
    }

    #[test]
    fn test_modules_end_at_their_closing_brace() {
        let lines = [
            "fn a() {}",
            "#[cfg(test)]",
            "mod tests {",
            "    fn b() { if x { \"}\"; } }",
            "}",
            "fn c() {}",
            "#[cfg(test)]",
            "fn d() {}",
            "#[cfg(not(test))]",
            "mod e {",
            "}",
        ];
        let inside = test_module_lines(&lines);
        assert_eq!(
            inside,
            [
                false, true, true, true, true, false, false, false, false, false, false
            ]
        );
    }

    #[test]
    fn syscalls_stay_in_sys_rs() {
        let files = [
            src(
                "d/src/sys.rs",
                &[
                    "//! Sys.",
                    "#![allow(unsafe_code)]",
                    "fn f() { @u { libc::close(3) }; }",
                ],
            ),
            src(
                "d/src/lib.rs",
                &[
                    "//! Lib.",
                    "#![deny(unsafe_code)]",
                    "fn e() -> i32 { libc::EINVAL }",
                    "fn t(x: libc::off_t) {}",
                    "fn g() { let _ = libc::getpid (); }",
                    "// libc::getpid() in a comment is fine",
                    "@u extern \"C\" {",
                    "}",
                ],
            ),
            src(
                "d/src/small.rs",
                &[
                    "//! Small.",
                    "//!",
                    "//! # Safety",
                    "//! Why.",
                    "#![allow(unsafe_code)]",
                ],
            ),
            src(
                "d/src/bad.rs",
                &["//! Bad, says nothing.", "#![allow(unsafe_code)]"],
            ),
            src("e/src/sys.rs", &["//! Sys."]),
            src("e/src/lib.rs", &["//! No deny."]),
            src(
                "f/src/lib.rs",
                &["//! No sys.rs: exempt.", "fn g() { libc::getpid(); }"],
            ),
        ];
        let bad = syscalls(&files);
        let at: Vec<(&str, usize)> = bad.iter().map(|o| (o.path.as_str(), o.line)).collect();
        assert_eq!(
            at,
            [
                ("d/src/lib.rs", 5),
                ("d/src/lib.rs", 7),
                ("d/src/bad.rs", 2),
                ("e/src/lib.rs", 0)
            ]
        );
        assert!(bad.iter().all(|o| o.rule == SYSCALLS));
    }
}
