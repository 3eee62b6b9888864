//! The documentation rule of `cargo xtask tidy`: the repository stands
//! alone. No document or comment names a file outside it (a `.md` file must
//! exist here; no path climbs out of the checkout or into its sibling
//! `shared/` directory), and none cites an issue or pull-request number: a
//! doc states the rule itself.

use crate::util::root;
use std::path::{Path, PathBuf};

/// Files under the root whose names end in one of `exts` (no hidden
/// directories, build output, fuzz corpora or crash artifacts).
fn files(exts: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.')
                || name == "target"
                || name == "corpus"
                || name == "artifacts"
                || name == "coverage"
            {
                continue;
            }
            if path.is_dir() {
                walk(&path, exts, out);
            } else if exts.iter().any(|e| name.ends_with(&format!(".{e}"))) {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root(), exts, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "found no {exts:?} files under {}",
        root().display()
    );
    files
}
/// Scans source text for string literals and comments, carrying the
/// state from line to line (a string or block comment may span lines).
#[derive(Default)]
struct Scanner {
    in_string: bool,
    in_raw: bool,
    in_block: bool,
}

impl Scanner {
    /// The comment text of one line of Rust or C: after `//`, inside
    /// `/* */`, never inside a string or character literal.
    fn comments(&mut self, line: &str) -> String {
        let b = line.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            let rest = &b[i..];
            if self.in_block {
                if rest.starts_with(b"*/") {
                    self.in_block = false;
                    i += 2;
                } else {
                    out.push(char::from(b[i]));
                    i += 1;
                }
            } else if self.in_raw {
                if rest.starts_with(b"\"#") {
                    self.in_raw = false;
                    i += 2;
                } else {
                    i += 1;
                }
            } else if self.in_string {
                match b[i] {
                    b'\\' => i += 2,
                    b'"' => {
                        self.in_string = false;
                        i += 1;
                    }
                    _ => i += 1,
                }
            } else if rest.starts_with(b"//") {
                // Non-ASCII bytes are dropped above; keep the rest whole.
                out.push_str(&String::from_utf8_lossy(&rest[2..]));
                return out;
            } else if rest.starts_with(b"/*") {
                self.in_block = true;
                i += 2;
            } else if rest.starts_with(b"r#\"") {
                self.in_raw = true;
                i += 3;
            } else if b[i] == b'"' {
                self.in_string = true;
                i += 1;
            } else if b[i] == b'\'' && rest.get(2) == Some(&b'\'') {
                i += 3; // 'x'
            } else if b[i] == b'\'' && rest.get(1) == Some(&b'\\') && rest.get(3) == Some(&b'\'') {
                i += 4; // '\x'
            } else {
                i += 1;
            }
        }
        out
    }
}

/// The comment of one TOML line: after a `#` outside a string.
fn toml_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '#') => return &line[i + 1..],
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    ""
}

/// What is wrong with the documentation text `doc` of a line of `file`
/// (a path under `root`), if anything: a reference to a file outside
/// the repository, an issue number, a document that is not here.
fn reference_offence(root: &Path, file: &Path, doc: &str) -> Option<String> {
    let rel = file.strip_prefix(root).unwrap_or(file);
    let dir = file.parent().unwrap_or(root);
    let depth = rel.components().count().saturating_sub(1);
    let crate_dir = rel.components().next().map(|c| root.join(c));
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "._/-~".contains(c);
    for token in doc.split(|c: char| !is_path_char(c)) {
        let token = token.trim_end_matches(['.', ',']);
        if token.starts_with("//") {
            continue; // a URL's host and path
        }
        let inner = token.trim_start_matches("../");
        if token.starts_with("../") && token.matches("../").count() > depth {
            return Some(format!("`{token}` climbs out of the repository"));
        }
        if token.starts_with("../") && (inner == "shared" || inner.starts_with("shared/")) {
            return Some(format!("`{token}` is outside the repository"));
        }
        if token.ends_with(".md") && token.len() > 3 {
            let here = [
                Some(root.join(token)),
                Some(dir.join(token)),
                crate_dir.as_ref().map(|c| c.join(token)),
            ];
            if !here.iter().flatten().any(|p| p.exists()) {
                return Some(format!("`{token}` is not a file of this repository"));
            }
        }
    }
    let lower = doc.to_ascii_lowercase();
    for brief in ["the brief", "design brief"] {
        if lower.contains(brief) {
            return Some(format!("names {brief:?}: state the rule itself"));
        }
    }
    let b = lower.as_bytes();
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    for (i, _) in lower.match_indices("issue") {
        let starts_word = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let mut j = i + "issue".len();
        if b.get(j) == Some(&b's') {
            j += 1;
        }
        while matches!(b.get(j), Some(b' ' | b'#' | b'/')) {
            j += 1;
        }
        if starts_word && j > i + "issues".len() - 1 && digit_at(j) {
            return Some("an issue number: say what the rule is instead".to_owned());
        }
    }
    for (i, _) in lower.match_indices("pull/") {
        if digit_at(i + "pull/".len()) {
            return Some("a pull-request number".to_owned());
        }
    }
    for (i, _) in lower.match_indices('#') {
        let after_word = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b"&#".contains(&b[i - 1]));
        let mut j = i + 1;
        while digit_at(j) {
            j += 1;
        }
        // A number alone; a colour such as `#5c6bc0` goes on in hex.
        let hex_goes_on = b.get(j).is_some_and(u8::is_ascii_alphanumeric);
        if !after_word && j > i + 1 && !hex_goes_on {
            return Some(format!("`{}`: an issue number", &lower[i..j]));
        }
    }
    None
}

/// Every line of documentation (`.md` files, comments of `.rs`, `.c`,
/// `.h` and `.toml` files) that refers outside the repository or to an
/// issue number, as `file:line: why: text`.
pub fn check() -> Vec<String> {
    let root = root();
    let mut bad = Vec::new();
    for path in files(&["md", "rs", "toml", "c", "h"]) {
        let text = std::fs::read_to_string(&path).expect("tracked sources are UTF-8");
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let mut scanner = Scanner::default();
        for (i, line) in text.lines().enumerate() {
            let doc = match ext {
                "md" => line.to_owned(),
                "toml" => toml_comment(line).to_owned(),
                _ => scanner.comments(line),
            };
            if let Some(why) = reference_offence(&root, &path, &doc) {
                let rel = path.strip_prefix(&root).unwrap_or(&path);
                bad.push(format!(
                    "{}:{}: {why}: {}",
                    rel.display(),
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_refer_only_to_the_repository() {
        let bad = check();
        assert!(
            bad.is_empty(),
            "documents and comments must stand on the repository alone (no files outside it, \
             no issue numbers; write the rule itself, in ARCHITECTURE.md if it is a design rule):\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn the_reference_rule_catches_doc_references_only() {
        let root = root();
        let at = |rel: &str, doc: &str| reference_offence(&root, &root.join(rel), doc);
        let sibling = ["..", "/shared/", "DESIGN", ".md"].concat();
        for (rel, doc) in [
            ("ARCHITECTURE.md", format!("The design is `{sibling}`.")),
            (
                "ermfs/src/lib.rs",
                ["see ", "DESIGN", ".md section 6"].concat(),
            ),
            (
                "Cargo.toml",
                [" (", "DEVELOPERS", ".md lists them)"].concat(),
            ),
            (
                "erm-bench/src/lib.rs",
                ["corpus in `..", "/shared/corpus`"].concat(),
            ),
            (
                "ermfs/tests/all/x.rs",
                ["../../../../", "elsewhere"].concat(),
            ),
            ("SEMANTICS.md", ["scope of ", "issues 7 and 10"].concat()),
            ("ermfs/src/fs.rs", ["fixed in ", "#12"].concat()),
            ("README.md", ["github.com/o/r/", "issues/3"].concat()),
            ("ARCHITECTURE.md", ["Departure from ", "the brief"].concat()),
        ] {
            assert!(at(rel, &doc).is_some(), "{rel}: {doc:?} not caught");
        }
        for (rel, doc) in [
            (
                "ermfs/tests/all/namespace_kernel.rs",
                "symlinks to `../a` and `../../a`",
            ),
            (
                "ARCHITECTURE.md",
                "listed in `SEMANTICS.md` and BENCHMARKS.md.",
            ),
            ("xtask/src/plot.rs", "bars drawn in #5c6bc0"),
            (
                "ermfs/src/fd.rs",
                "`#[cfg(loom)]` and `#![deny(unsafe_code)]`, no issue here",
            ),
            (
                "ermfs/src/fs.rs",
                "a shared/exclusive lock, ../target for scratch",
            ),
            ("README.md", "https://example.invalid/guide.md"),
        ] {
            assert_eq!(at(rel, doc), None, "{rel}: {doc:?}");
        }
        let mut s = Scanner::default();
        assert_eq!(s.comments("let p = \"//x\"; // note"), " note");
        assert_eq!(s.comments("let c = '\"'; /* a"), " a");
        assert_eq!(s.comments("b */ x"), "b ");
        assert_eq!(toml_comment("a = \"#1\" # ok"), " ok");
    }
}
