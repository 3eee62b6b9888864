//! The module-tree invariant of `ermfs` (ARCHITECTURE.md, code map of
//! `ermfs`): its module trees are layers, `types` < `content` <
//! `namespace` < `api` (with `sync` below them all), and a module imports
//! only from its own tree or lower ones; no two modules import each other,
//! directly or around a circle, except `api::builder` and `api::fs` (the
//! builder builds an `Fs`, which keeps its settings); and code names the
//! crate's items by their module path, never through the crate root's
//! re-exports or `super::` (which would hide an edge from this check).
//!
//! Imports are read as text: every `crate::` path outside comments and
//! `#[cfg(test)]` modules is an edge from the file it is in to the module
//! it names (its first two segments when the second is a module).

use std::collections::{BTreeMap, BTreeSet};

use crate::tidy::{Offence, Source, code_part, is_comment, test_module_lines};

/// The invariant, as offences name it.
pub const MODULE_TREE: &str = "architecture invariant: inside ermfs, imports point down the \
     module trees types < content < namespace < api (sync below all), no import circle \
     between modules but api::builder <-> api::fs, and items are named by their module \
     path (not `crate::Item` re-exports or `super::`)";

/// The crate whose module tree is checked, and its source directory.
const SRC: &str = "ermfs/src/";

/// The module trees, lowest first.
const TREES: &[&str] = &["sync", "types", "content", "namespace", "api"];

/// The one import circle allowed.
const ALLOWED_CIRCLE: &[&str] = &["api::builder", "api::fs"];

/// The module a source file is (`api/fs.rs` -> `api::fs`, `api/mod.rs` ->
/// `api`); `None` for the crate root and files outside the crate.
fn module_of(path: &str) -> Option<String> {
    let rel = path.strip_prefix(SRC)?.strip_suffix(".rs")?;
    let rel = rel.strip_suffix("/mod").unwrap_or(rel);
    (rel != "lib").then(|| rel.replace('/', "::"))
}

/// The rank of the tree `module` is in (`None`: not in a known tree).
fn rank(module: &str) -> Option<usize> {
    let tree = module.split("::").next()?;
    TREES.iter().position(|t| *t == tree)
}

/// What a line imports: the `crate::` paths in its code (each as its
/// segments), or `Err` with what it names that the rule forbids.
fn crate_paths(code: &str) -> Vec<Result<Vec<String>, String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("super::") {
        let before = code[..i].chars().next_back();
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            out.push(Err(
                "`super::` (name the module by its crate:: path)".to_owned()
            ));
        }
    }
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        let mut segments = Vec::new();
        let mut s = rest;
        loop {
            let end = s
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(s.len());
            if end == 0 {
                break;
            }
            segments.push(s[..end].to_owned());
            match s[end..].strip_prefix("::") {
                Some(next) => s = next,
                None => break,
            }
        }
        match segments.first() {
            None => out.push(Err(format!(
                "`crate::{}` (one module per path)",
                &rest[..rest.len().min(12)]
            ))),
            Some(first) if first.starts_with(|c: char| c.is_uppercase()) => out.push(Err(format!(
                "`crate::{first}` (a root re-export: name its module)"
            ))),
            Some(_) => out.push(Ok(segments)),
        }
    }
    out
}

/// The module a path's segments name, given the modules that exist.
fn target(segments: &[String], modules: &BTreeSet<String>) -> String {
    let two = segments
        .iter()
        .take(2)
        .cloned()
        .collect::<Vec<_>>()
        .join("::");
    if modules.contains(&two) {
        two
    } else {
        segments[0].clone()
    }
}

/// Checks the invariant on the given sources (others than `ermfs/src` are
/// ignored).
pub fn check(files: &[Source]) -> Vec<Offence> {
    let files: Vec<(&Source, String)> = files
        .iter()
        .filter_map(|f| module_of(&f.path).map(|m| (f, m)))
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|(_, m)| m.clone()).collect();
    let mut out = Vec::new();
    // module -> (imported module -> first line importing it)
    let mut edges: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (file, module) in &files {
        let lines: Vec<&str> = file.text.lines().collect();
        let in_tests = test_module_lines(&lines);
        let own = rank(module);
        if own.is_none() {
            out.push(Offence {
                path: file.path.clone(),
                line: 0,
                rule: MODULE_TREE,
                text: format!("{module} is in no module tree ({})", TREES.join(", ")),
            });
        }
        let mine = edges.entry(module.clone()).or_default();
        for (i, line) in lines.iter().enumerate() {
            if in_tests[i] || is_comment(line) {
                continue;
            }
            for path in crate_paths(code_part(line)) {
                let segments = match path {
                    Ok(s) => s,
                    Err(what) => {
                        out.push(Offence {
                            path: file.path.clone(),
                            line: i + 1,
                            rule: MODULE_TREE,
                            text: format!("{what}: {}", line.trim()),
                        });
                        continue;
                    }
                };
                let to = target(&segments, &modules);
                if &to == module {
                    continue;
                }
                if let (Some(own), Some(theirs)) = (own, rank(&to)) {
                    if theirs > own {
                        out.push(Offence {
                            path: file.path.clone(),
                            line: i + 1,
                            rule: MODULE_TREE,
                            text: format!(
                                "{module} imports {to}, which is above it: {}",
                                line.trim()
                            ),
                        });
                    }
                }
                mine.entry(to).or_insert(i + 1);
            }
        }
    }
    for circle in circles(&edges) {
        let allowed = circle.len() == ALLOWED_CIRCLE.len()
            && ALLOWED_CIRCLE.iter().all(|m| circle.iter().any(|c| c == m));
        if allowed {
            continue;
        }
        let first = &circle[0];
        let path = files
            .iter()
            .find(|(_, m)| m == first)
            .map_or_else(String::new, |(f, _)| f.path.clone());
        out.push(Offence {
            path,
            line: 0,
            rule: MODULE_TREE,
            text: format!("import circle: {}", circle.join(" <-> ")),
        });
    }
    out
}

/// The strongly connected components of more than one module (Tarjan's
/// algorithm, iterative), each sorted.
fn circles(edges: &BTreeMap<String, BTreeMap<String, usize>>) -> Vec<Vec<String>> {
    let names: Vec<&String> = edges.keys().collect();
    let id = |n: &str| names.iter().position(|m| *m == n);
    let succ: Vec<Vec<usize>> = names
        .iter()
        .map(|n| edges[*n].keys().filter_map(|t| id(t)).collect())
        .collect();
    let n = names.len();
    let (mut index, mut low) = (vec![usize::MAX; n], vec![0; n]);
    let (mut on_stack, mut stack) = (vec![false; n], Vec::new());
    let mut next = 0;
    let mut out = Vec::new();
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        // (node, next successor to visit)
        let mut work = vec![(start, 0)];
        index[start] = next;
        low[start] = next;
        next += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if let Some(&w) = succ[v].get(*k) {
                *k += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(names[w].clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    out.push(component);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &str, lines: &[&str]) -> Source {
        Source::new(path, &lines.join("\n"))
    }

    fn texts(offences: &[Offence]) -> Vec<String> {
        offences
            .iter()
            .map(|o| format!("{}:{}", o.path, o.line))
            .collect()
    }

    #[test]
    fn downward_imports_pass() {
        let files = [
            src(
                "ermfs/src/types/inode.rs",
                &["//! x", "use crate::sync::lock;"],
            ),
            src(
                "ermfs/src/content/shared.rs",
                &["//! x", "use crate::types::inode::Inode;"],
            ),
            src(
                "ermfs/src/api/fs.rs",
                &[
                    "//! x",
                    "use crate::content::shared::Shared;",
                    "use crate::api::builder::B;",
                ],
            ),
            src(
                "ermfs/src/api/builder.rs",
                &["//! x", "use crate::api::fs::Fs;"],
            ),
            src("ermfs/src/sync.rs", &["//! x"]),
            src("ermfs/src/lib.rs", &["pub use api::fs::Fs;"]),
            src("other/src/x.rs", &["use crate::Anything;"]),
        ];
        assert_eq!(texts(&check(&files)), Vec::<String>::new());
    }

    #[test]
    fn upward_imports_circles_and_shortcuts_fail() {
        let files = [
            src(
                "ermfs/src/types/inode.rs",
                &[
                    "//! x",
                    "use crate::api::fs::Fs;",
                    "// use crate::api::fs::Fs; a comment is no import",
                    "fn f() { let _ = crate::NAME_MAX; }",
                    "use super::stat;",
                    "#[cfg(test)]",
                    "mod tests {",
                    "    use crate::api::fs::Fs;",
                    "    use super::*;",
                    "}",
                ],
            ),
            src(
                "ermfs/src/content/a.rs",
                &["//! x", "use crate::content::b::B;"],
            ),
            src(
                "ermfs/src/content/b.rs",
                &["//! x", "use crate::content::a::A;"],
            ),
            src("ermfs/src/api/fs.rs", &["//! x"]),
            src("ermfs/src/misc.rs", &["//! x"]),
        ];
        let found = texts(&check(&files));
        for want in [
            "ermfs/src/types/inode.rs:2",
            "ermfs/src/types/inode.rs:4",
            "ermfs/src/types/inode.rs:5",
            "ermfs/src/content/a.rs:0",
            "ermfs/src/misc.rs:0",
        ] {
            assert!(found.contains(&want.to_owned()), "{want} not in {found:?}");
        }
        assert_eq!(found.len(), 5, "{found:?}");
    }
}
