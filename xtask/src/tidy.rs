//! Repository hygiene, checked as tests so `cargo xtask ci` runs them with the rest.
//!
//! - every `.rs` file starts with a `//!` doc comment saying what it is for;
//! - no temp-file machinery anywhere (scratch data lives in memfds);
//! - no `#[ignore]` without a reason;
//! - every `unsafe` block is preceded by a `// SAFETY:` comment.

#[cfg(test)]
mod tests {
    use crate::util::root;
    use std::path::{Path, PathBuf};

    fn rust_files() -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
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
                {
                    continue;
                }
                if path.is_dir() {
                    walk(&path, out);
                } else if name.ends_with(".rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(&root(), &mut files);
        assert!(
            !files.is_empty(),
            "found no Rust files under {}",
            root().display()
        );
        files
    }

    /// Lines of `path` that break `rule`, as `path:line: text`.
    fn offences(rule: impl Fn(&[&str], usize) -> bool) -> Vec<String> {
        let mut bad = Vec::new();
        for path in rust_files() {
            let text = std::fs::read_to_string(&path).expect("tracked sources are UTF-8");
            let lines: Vec<&str> = text.lines().collect();
            for i in 0..lines.len() {
                if rule(&lines, i) {
                    bad.push(format!("{}:{}: {}", path.display(), i + 1, lines[i].trim()));
                }
            }
        }
        bad
    }

    #[test]
    fn every_rust_file_starts_with_a_module_doc() {
        let bad: Vec<String> = rust_files()
            .into_iter()
            .filter(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                !text.trim_start().starts_with("//!")
            })
            .map(|p| p.display().to_string())
            .collect();
        assert!(
            bad.is_empty(),
            "files without a leading `//!` doc:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn no_temp_files() {
        // Split so this file does not match itself.
        let words = [
            ["temp", "file"].concat(),
            ["mk", "stemp"].concat(),
            ["mk", "temp"].concat(),
            ["temp", "_dir"].concat(),
        ];
        let bad = offences(|lines, i| {
            let l = lines[i].to_ascii_lowercase();
            words.iter().any(|w| l.contains(w.as_str()))
        });
        assert!(
            bad.is_empty(),
            "temp-file machinery (use memfds):\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn no_ignore_without_reason() {
        let attr = ["#[", "ignore]"].concat();
        let bad = offences(|lines, i| lines[i].trim() == attr);
        assert!(
            bad.is_empty(),
            "`#[ignore]` needs a reason (`#[ignore = \"...\"]`):\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn every_unsafe_block_has_a_safety_comment() {
        let block = ["unsafe", " {"].concat();
        let bad = offences(|lines, i| {
            let l = lines[i].trim_start();
            if !l.contains(&block) || l.starts_with("//") {
                return false;
            }
            // The comment may stand on this line or on the lines above it.
            let above = lines[..i].iter().rev().take_while(|p| {
                let p = p.trim_start();
                p.starts_with("//") || p.starts_with("#[")
            });
            let mut context = above.map(|p| p.to_string()).collect::<Vec<_>>();
            context.push(lines[i].to_string());
            // Also allow `let x = unsafe {` right after a SAFETY line two lines up in a chain.
            !context.iter().any(|c| c.contains("SAFETY:"))
        });
        assert!(
            bad.is_empty(),
            "unsafe blocks without `// SAFETY:`:\n{}",
            bad.join("\n")
        );
    }
}
