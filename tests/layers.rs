//! Layers that cannot loop (issue 20 item 2): reads `src/**/*.rs`, collects which module
//! uses which (`crate::…` and `super::…` paths outside `#[cfg(test)]` modules), at the
//! granularity of the top-level modules and of the submodules of `kubeconfig`, `commands`
//! and each command group,
//! and fails on any import cycle not in `KNOWN_CYCLES`. Print the graph with
//! `cargo test --test layers -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Cycles allowed to remain while being taken apart. The test fails if one disappears, so
/// this list stays honest; it must only ever shrink (it is empty).
const KNOWN_CYCLES: &[&[&str]] = &[];

/// Modules shown with their submodules (a path of modules, joined with `::`).
const SPLIT: &[&str] = &[
    "kubeconfig",
    "commands",
    "commands::token",
    "commands::kubeconfig",
    "commands::objectstorage",
];

fn node(path: &[String]) -> String {
    if path.first().is_none_or(|a| !is_module(&[], a)) {
        return "crate".into();
    }
    let mut n = 1;
    while n < path.len()
        && SPLIT.contains(&path[..n].join("::").as_str())
        && is_module(&path[..n], &path[n])
    {
        n += 1;
    }
    path[..n].join("::")
}

/// Whether `parent::b` is a submodule (a file or folder) rather than an item of `parent`.
fn is_module(parent: &[String], b: &str) -> bool {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for p in parent {
        dir.push(p);
    }
    dir.join(format!("{b}.rs")).is_file() || dir.join(b).is_dir()
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The module path a `crate::`/`super::` path names, as many segments as `node` needs.
fn target(base: Vec<String>, rest: &str, out: &mut Vec<Vec<String>>) {
    let mut p = base;
    let mut rest = rest;
    for _ in 0..4 {
        if let Some(group) = rest.strip_prefix('{') {
            for item in group.split(',') {
                let item = item.trim_start();
                let id = ident(item);
                if id.is_empty() || id == "self" {
                    out.push(p.clone());
                    continue;
                }
                let mut q = p.clone();
                q.push(id.into());
                out.push(q);
            }
            return;
        }
        let id = ident(rest);
        if id.is_empty() || id.chars().next().is_some_and(char::is_uppercase) {
            break;
        }
        p.push(id.into());
        match rest[id.len()..].strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    out.push(p);
}

fn scan(dir: &Path, src: &Path, edges: &mut BTreeMap<String, BTreeSet<String>>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            scan(&path, src, edges);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let rel = path.strip_prefix(src).expect("under src");
        let mut module: Vec<String> = rel
            .with_extension("")
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        if matches!(
            module.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            module.pop();
        }
        let text = std::fs::read_to_string(&path).expect("read source");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let from = node(&module);
        let mut targets = Vec::new();
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or("");
            for (i, _) in line.match_indices("crate::") {
                if i > 0
                    && line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
                {
                    continue;
                }
                target(Vec::new(), &line[i + 7..], &mut targets);
            }
            let mut at = 0;
            while let Some(i) = line[at..].find("super::") {
                let start = at + i;
                if start > 0
                    && line[..start]
                        .ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
                {
                    at = start + 7;
                    continue;
                }
                let mut base = module.clone();
                let mut rest = &line[start..];
                while let Some(r) = rest.strip_prefix("super::") {
                    base.pop();
                    rest = r;
                }
                target(base, rest, &mut targets);
                at = line.len() - rest.len();
            }
        }
        for t in targets {
            let to = node(&t);
            if to != from && to != "crate" {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
        edges.entry(from).or_default();
    }
}

/// Strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn reach(edges: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(n) = stack.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    stack.push(m.clone());
                }
            }
        }
        seen
    }
    let reach: BTreeMap<_, _> = edges.keys().map(|n| (n.clone(), reach(edges, n))).collect();
    let mut out: BTreeSet<Vec<String>> = BTreeSet::new();
    for n in edges.keys() {
        let scc: Vec<String> = edges
            .keys()
            .filter(|m| *m == n || (reach[n].contains(*m) && reach[*m].contains(n)))
            .cloned()
            .collect();
        if scc.len() > 1 {
            out.insert(scc);
        }
    }
    out.into_iter().collect()
}

#[test]
fn modules_do_not_import_in_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges = BTreeMap::new();
    scan(&src, &src, &mut edges);
    println!("module graph (module -> modules it uses):");
    for (from, to) in &edges {
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        println!("  {from} -> {}", to.join(", "));
    }
    let found = cycles(&edges);
    println!("cycles: {found:?}");
    let known: Vec<Vec<String>> = KNOWN_CYCLES
        .iter()
        .map(|c| {
            let mut c: Vec<String> = c.iter().map(|s| s.to_string()).collect();
            c.sort();
            c
        })
        .collect();
    let new: Vec<_> = found.iter().filter(|c| !known.contains(c)).collect();
    let gone: Vec<_> = known.iter().filter(|c| !found.contains(c)).collect();
    assert!(new.is_empty(), "new import cycle(s): {new:?}");
    assert!(
        gone.is_empty(),
        "cycle(s) in KNOWN_CYCLES no longer exist; remove them: {gone:?}"
    );
}
