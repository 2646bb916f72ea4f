//! The workspace's shape, checked: which crate may depend on which (docs/architecture.md), no
//! import circle between the modules of a crate, and no source file over 1,000 lines.
//!
//! These read the tree as text (Cargo.toml dependency lines, `crate::` paths), which is enough
//! for the rules they check and keeps the test free of a Rust parser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn crates() -> Vec<(String, PathBuf)> {
    let mut v: Vec<_> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    v.sort();
    v
}

/// The workspace crates a crate's `[dependencies]` (not dev-dependencies) name.
fn deps(dir: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let mut section = String::new();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_string();
        } else if section == "[dependencies]" {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            if name.starts_with("pc-") {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// Each layer, bottom first; a crate may depend only on crates of lower layers (or its own).
const LAYERS: &[&[&str]] = &[
    &["pc-base"],
    // Formats: bytes in, typed views out; nothing of identifiers, apps or verdicts.
    &[
        "pc-capture",
        "pc-net",
        "pc-proto",
        "pc-apk",
        "pc-dex",
        "pc-apksig",
    ],
    // Formats built on formats (pc-image reads zips with pc-apk's reader).
    &["pc-tlsdec", "pc-h2", "pc-image"],
    &["pc-h3"],
    // What to look for, and the unit under test.
    &["pc-detect"],
    &["pc-case"],
    // Facts from the evidence.
    &["pc-traffic", "pc-firmware"],
    // Verdicts, then the service, then the command line.
    &["pc-certify"],
    &["pc-registry"],
    &["phonecert"],
];

fn layer_of(name: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&name))
        .unwrap_or_else(|| {
            panic!("crate {name} is in no layer: add it to LAYERS and to docs/architecture.md")
        })
}

#[test]
fn crates_depend_only_downwards() {
    let mut wrong = Vec::new();
    for (name, dir) in crates() {
        let me = layer_of(&name);
        for d in deps(&dir) {
            if layer_of(&d) >= me && d != name {
                wrong.push(format!("{name} -> {d}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies that run sideways or upwards: {wrong:?}"
    );
}

#[test]
fn the_rules_are_not_vacuous() {
    // The parser of Cargo.toml finds real edges: certification reads the traffic report.
    let dir = workspace().join("crates/pc-certify");
    assert!(deps(&dir).contains("pc-traffic"));
    assert!(!deps(&workspace().join("crates/pc-capture")).contains("pc-detect"));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`None` for the crate root).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let m = first.trim_end_matches(".rs").to_string();
    (m != "lib" && m != "main").then_some(m)
}

/// Modules named by `crate::NAME` in `text` (in `use` lines and in paths), with names the root
/// re-exports (`pub use m::{A, B}`) resolved to their module.
fn references(text: &str, reexports: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + 7..];
        if rest.starts_with('{') {
            // `use crate::{a::X, b};`
            let end = rest.find('}').unwrap_or(rest.len());
            for part in rest[1..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(reexports.get(&name).cloned().unwrap_or(name));
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(reexports.get(&name).cloned().unwrap_or(name));
        }
    }
    out
}

/// `pub use m::{A, B};` and `pub use m::A;` in the crate root: name → module.
fn root_reexports(root: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for stmt in root.split(';') {
        let s = stmt.trim();
        let Some(path) = s.strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, names)) = path.split_once("::") else {
            continue;
        };
        let module = module.trim().to_string();
        let names = names.trim().trim_start_matches('{').trim_end_matches('}');
        for n in names.split(',') {
            let n = n.trim();
            let n = n.rsplit("::").next().unwrap_or(n);
            let n = n.split(" as ").last().unwrap_or(n).trim();
            if !n.is_empty() {
                map.insert(n.to_string(), module.clone());
            }
        }
    }
    map
}

/// A circle in the graph, if there is one (depth-first search).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut c = stack[from..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

fn module_graph(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let src = dir.join("src");
    let root = ["lib.rs", "main.rs"]
        .iter()
        .find_map(|r| std::fs::read_to_string(src.join(r)).ok())
        .unwrap_or_default();
    let reexports = root_reexports(&root);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(&src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let Some(me) = top_module(&src, f) else {
            continue;
        };
        // Unit tests may reach anywhere; what counts is the code they test.
        if me.ends_with("tests") || me == "tests" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        let refs = references(text, &reexports);
        let entry = graph.entry(me.clone()).or_default();
        for r in refs {
            if r != me && modules.contains(&r) && !r.ends_with("tests") {
                entry.insert(r);
            }
        }
    }
    graph
}

#[test]
fn no_import_circle_inside_a_crate() {
    let mut circles = Vec::new();
    for (name, dir) in crates() {
        if let Some(c) = find_cycle(&module_graph(&dir)) {
            circles.push(format!("{name}: {}", c.join(" -> ")));
        }
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn the_circle_finder_finds_circles() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&g).unwrap().len(), 4);
    let re = root_reexports("pub use audit::{Outcome, run as audit_run};\npub use x::Y;");
    assert_eq!(re.get("Outcome").map(String::as_str), Some("audit"));
    assert_eq!(re.get("audit_run").map(String::as_str), Some("audit"));
    let refs = references(
        "use crate::{Outcome, checks::f};\nlet x = crate::y::z();",
        &re,
    );
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["audit", "checks", "y"]
    );
}

#[test]
fn no_source_file_over_1000_lines() {
    let mut files = Vec::new();
    for (_, dir) in crates() {
        rust_files(&dir, &mut files);
    }
    rust_files(&workspace().join("fuzz/fuzz_targets"), &mut files);
    let mut long: Vec<_> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).ok()?.lines().count();
            (n > 1000).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    long.sort();
    assert!(long.is_empty(), "files over 1,000 lines: {long:#?}");
}
