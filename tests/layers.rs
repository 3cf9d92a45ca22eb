//! Layers that cannot loop: parses `src/**/*.rs` with `syn`, collects which module uses
//! which (every path in production code: `use` trees, expressions, types, macro bodies,
//! attribute arguments), sees through `pub use` re-exports to the module that defines the
//! item, and fails on any import cycle, or on a module below the top that reads clap's
//! structs. Nodes are the top-level modules, the crate root (`lib.rs`), the binary
//! (`main.rs`) and the submodules of `kubeconfig`, `commands` and each command group. Items
//! under `#[cfg(test)]` are left out wherever they stand in a file. Print the graph
//! with `cargo test --test layers -- --nocapture`. The same reading holds production code to
//! sizes a reader can hold: no function over 100 lines, no file over 900 production lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use syn::visit::Visit;

/// Modules shown with their submodules (a path of modules, joined with `::`).
const SPLIT: &[&str] = &[
    "kubeconfig",
    "commands",
    "commands::token",
    "commands::kubeconfig",
    "commands::objectstorage",
];

/// Items of the crate root that modules below it still import. The root dispatches to every
/// command, so each such import is a cycle through it; they are listed here, kept out of the
/// cycle check and must only ever go (the test fails when one is no longer imported).
const KNOWN_ROOT_IMPORTS: &[&str] = &[];

type Module = Vec<String>;

/// Every module of the crate, its production items, and the names it re-exports.
struct Crate {
    modules: BTreeMap<Module, Vec<syn::Item>>,
    /// (module, exported name) → the path it re-exports, as written, and the module
    /// the path is relative to.
    reexports: BTreeMap<(Module, String), (Module, Vec<String>)>,
    /// The same for names a module imports for itself (`use commands::token;`), so that
    /// `token::list::run` there lands on `commands::token::list`.
    aliases: BTreeMap<(Module, String), (Module, Vec<String>)>,
}

/// Whether `#[cfg(…)]` attributes make an item exist only in tests.
fn test_only(attrs: &[syn::Attribute]) -> bool {
    fn only_test(meta: &syn::Meta) -> bool {
        match meta {
            syn::Meta::Path(p) => p.is_ident("test"),
            syn::Meta::List(l) if l.path.is_ident("all") => l
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
                )
                .is_ok_and(|ms| ms.iter().any(only_test)),
            _ => false,
        }
    }
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .any(|a| a.parse_args::<syn::Meta>().is_ok_and(|m| only_test(&m)))
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// The paths a `use` tree names, each with its last name as imported (`None` for a glob).
fn use_paths(tree: &syn::UseTree, prefix: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match tree {
        syn::UseTree::Path(p) => {
            let mut prefix = prefix;
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
        }
        syn::UseTree::Name(n) if n.ident == "self" => {
            let name = prefix.last().cloned().unwrap_or_default();
            out.push((prefix, name));
        }
        syn::UseTree::Name(n) => {
            let mut p = prefix;
            p.push(n.ident.to_string());
            out.push((p, n.ident.to_string()));
        }
        syn::UseTree::Rename(r) => {
            let mut p = prefix;
            if r.ident != "self" {
                p.push(r.ident.to_string());
            }
            out.push((p, r.rename.to_string()));
        }
        syn::UseTree::Glob(_) => out.push((prefix, "*".into())),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_paths(t, prefix.clone(), out);
            }
        }
    }
}

impl Crate {
    fn read(src: &Path) -> Crate {
        let mut krate = Crate {
            modules: BTreeMap::new(),
            reexports: BTreeMap::new(),
            aliases: BTreeMap::new(),
        };
        krate.read_dir(src, src);
        krate
    }

    fn read_dir(&mut self, dir: &Path, src: &Path) {
        for entry in std::fs::read_dir(dir).expect("read src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                self.read_dir(&path, src);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut module: Module = rel
                .with_extension("")
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            // `main.rs` stays `main`: the binary is a crate of its own, shown as that node.
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            let file = syn::parse_file(&text)
                .unwrap_or_else(|e| panic!("{}: not Rust that syn parses: {e}", path.display()));
            self.add(module, file.items);
        }
    }

    fn add(&mut self, module: Module, items: Vec<syn::Item>) {
        let mut kept = Vec::new();
        for item in items {
            if test_only(item_attrs(&item)) {
                continue;
            }
            match item {
                syn::Item::Mod(m) if m.content.is_some() => {
                    let mut inner = module.clone();
                    inner.push(m.ident.to_string());
                    self.add(inner, m.content.expect("checked").1);
                }
                syn::Item::Use(u) if !matches!(u.vis, syn::Visibility::Inherited) => {
                    let mut paths = Vec::new();
                    use_paths(&u.tree, Vec::new(), &mut paths);
                    for (path, name) in paths {
                        self.reexports
                            .insert((module.clone(), name), (module.clone(), path));
                    }
                }
                syn::Item::Use(u) => {
                    let mut paths = Vec::new();
                    use_paths(&u.tree, Vec::new(), &mut paths);
                    for (path, name) in paths {
                        self.aliases
                            .insert((module.clone(), name), (module.clone(), path));
                    }
                    kept.push(syn::Item::Use(u));
                }
                other => kept.push(other),
            }
        }
        self.modules.entry(module).or_default().extend(kept);
    }

    fn is_module(&self, m: &[String]) -> bool {
        self.modules.contains_key(m)
    }

    /// The module a path used in `from` names, re-exports followed; `None` for a path
    /// outside the crate (std, a dependency, a local item or variable).
    fn resolve(&self, from: &[String], path: &[String], depth: usize) -> Option<Module> {
        let (first, rest) = path.split_first()?;
        let base: Module = match first.as_str() {
            "crate" => Vec::new(),
            "kubectl_coreweave" if from == ["main"] => Vec::new(),
            "self" => from.to_vec(),
            "super" => {
                let mut b = from.to_vec();
                b.pop();
                let mut rest = rest;
                while let Some(("super", r)) = rest.split_first().map(|(a, r)| (a.as_str(), r)) {
                    b.pop();
                    rest = r;
                }
                return self.descend(b, rest, depth);
            }
            child => {
                let mut b = from.to_vec();
                b.push(child.to_string());
                if from != ["main"] && self.is_module(&b) {
                    b
                } else if let Some((at, path)) = self.aliases.get(&(from.to_vec(), child.into())) {
                    if depth >= 16 || path.len() < 2 {
                        return None;
                    }
                    let mut target = path.clone();
                    target.extend(rest.iter().cloned());
                    return self.resolve(at, &target, depth + 1);
                } else {
                    return None;
                }
            }
        };
        self.descend(base, rest, depth)
    }

    /// From module `base`, follows `rest` down through modules and re-exports.
    fn descend(&self, mut base: Module, rest: &[String], depth: usize) -> Option<Module> {
        let mut rest = rest;
        while let Some((next, r)) = rest.split_first() {
            let mut child = base.clone();
            child.push(next.clone());
            if self.is_module(&child) {
                base = child;
                rest = r;
                continue;
            }
            if depth < 16 {
                let named = self.reexports.get(&(base.clone(), next.clone()));
                let glob = self.reexports.get(&(base.clone(), "*".to_string()));
                for (at, path, tail) in named
                    .map(|(at, p)| (at, p, r))
                    .into_iter()
                    .chain(glob.map(|(at, p)| (at, p, rest)))
                {
                    let mut target = path.clone();
                    target.extend(tail.iter().cloned());
                    let found = self.resolve(at, &target, depth + 1);
                    if found.as_ref().is_some_and(|m| *m != *at) {
                        return found;
                    }
                }
            }
            break;
        }
        Some(base)
    }
}

/// Collects every path a module's production items mention.
struct Paths(Vec<Vec<String>>);

impl Paths {
    /// Every `a::b::c` run in `tokens`, as a candidate path.
    fn tokens(&mut self, tokens: String) {
        let text = tokens.replace(" :: ", "::");
        for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
            if word.contains("::") {
                self.0.push(
                    word.split("::")
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                );
            }
        }
    }
}

impl<'a> Visit<'a> for Paths {
    fn visit_path(&mut self, p: &'a syn::Path) {
        // A lone name is a value, type or macro, never a module (those take a `::`).
        if p.segments.len() > 1 {
            self.0
                .push(p.segments.iter().map(|s| s.ident.to_string()).collect());
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_item_use(&mut self, u: &'a syn::ItemUse) {
        let mut paths = Vec::new();
        use_paths(&u.tree, Vec::new(), &mut paths);
        self.0.extend(paths.into_iter().map(|(p, _)| p));
    }

    fn visit_macro(&mut self, m: &'a syn::Macro) {
        syn::visit::visit_macro(self, m);
        // Macro bodies are tokens to syn; every `a::b::c` run in them is a candidate path.
        self.tokens(m.tokens.to_string());
    }

    /// An attribute's arguments are tokens too (`#[error("…", crate::secret::shown(x))]`);
    /// doc comments are prose, whose `a::b` names no dependency.
    fn visit_attribute(&mut self, a: &'a syn::Attribute) {
        if let syn::Meta::List(list) = &a.meta {
            if !list.path.is_ident("doc") {
                self.tokens(list.tokens.to_string());
            }
        }
    }

    /// `pub(crate)` and `pub(super)` name who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'a syn::Visibility) {}
}

fn node(krate: &Crate, module: &[String]) -> String {
    if module.is_empty() {
        return "crate".into();
    }
    let mut n = 1;
    while n < module.len()
        && SPLIT.contains(&module[..n].join("::").as_str())
        && krate.is_module(&module[..=n])
    {
        n += 1;
    }
    module[..n].join("::")
}

/// The module graph, and the crate-root items imported from below it.
fn graph(krate: &Crate) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut root_imports = BTreeSet::new();
    for (module, items) in &krate.modules {
        let from = node(krate, module);
        let mut paths = Paths(Vec::new());
        for item in items {
            paths.visit_item(item);
        }
        for path in &paths.0 {
            let Some(target) = krate.resolve(module, path, 0) else {
                continue;
            };
            let to = node(krate, &target);
            if to == from {
                continue;
            }
            if to == "crate" && from != "main" {
                let item = path.last().cloned().unwrap_or_default();
                if KNOWN_ROOT_IMPORTS.contains(&item.as_str()) {
                    root_imports.insert(item);
                    continue;
                }
            }
            edges.entry(from.clone()).or_default().insert(to);
        }
        edges.entry(from).or_default();
    }
    (edges, root_imports)
}

/// Strongly connected components with more than one module.
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
    let krate = Crate::read(&src);
    let (edges, root_imports) = graph(&krate);
    println!("module graph (module -> modules it uses):");
    for (from, to) in &edges {
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        println!("  {from} -> {}", to.join(", "));
    }
    println!("crate-root items still imported from below: {root_imports:?}");
    let found = cycles(&edges);
    println!("cycles: {found:?}");
    assert!(found.is_empty(), "import cycle(s): {found:?}");
    let gone: Vec<_> = KNOWN_ROOT_IMPORTS
        .iter()
        .filter(|i| !root_imports.contains(**i))
        .collect();
    assert!(
        gone.is_empty(),
        "{gone:?} in KNOWN_ROOT_IMPORTS no longer imported from below the root; remove them"
    );
}

/// The test sees what it claims to: a module's use of a re-exported item lands on the
/// module that defines it, the crate root and the binary are nodes, and production code
/// after a test module is read.
#[test]
fn the_graph_sees_reexports_the_root_and_code_after_tests() {
    let krate = Crate::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let (edges, _) = graph(&krate);
    let uses = |from: &str, to: &str| edges.get(from).is_some_and(|t| t.contains(to));
    // `crate::kubeconfig::Kubeconfig` is `kubeconfig::load::Kubeconfig`, re-exported.
    let via = krate.resolve(
        &["transaction".into()],
        &["crate".into(), "kubeconfig".into(), "Kubeconfig".into()],
        0,
    );
    assert_eq!(
        via,
        Some(vec!["kubeconfig".to_string(), "load".to_string()])
    );
    assert!(uses("crate", "cli"), "{edges:?}");
    // lib.rs says `token::list::run` after `use commands::{…, token}`.
    assert!(uses("crate", "commands::token::list"), "{edges:?}");
    assert!(uses("main", "crate"), "{edges:?}");
    // io.rs names `crate::secret` only inside a `#[error(…)]` attribute.
    assert!(uses("io", "secret"), "{edges:?}");
    let parsed: syn::File = syn::parse_str(
        "#[cfg(test)] mod tests { use crate::a; } #[cfg(all(test, unix))] fn t() { crate::b::f() } fn later() { crate::c::f() }",
    )
    .expect("parses");
    let mut k = Crate {
        modules: BTreeMap::new(),
        reexports: BTreeMap::new(),
        aliases: BTreeMap::new(),
    };
    for m in ["a", "b", "c", "x"] {
        k.modules.insert(vec![m.into()], Vec::new());
    }
    k.add(vec!["x".into()], parsed.items);
    let (e, _) = graph(&k);
    assert_eq!(e["x"], BTreeSet::from(["c".to_string()]));
}

/// The command line stops at the top: clap's structs (`cli`) are read by the crate root,
/// the binary, `settings.rs` (which turns them into each command's options) and
/// `complete.rs` (which completes the command line itself); no command and no layer below
/// the commands sees them.
#[test]
fn only_the_top_reads_the_command_line() {
    let krate = Crate::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let (edges, _) = graph(&krate);
    let readers: BTreeSet<&str> = edges
        .iter()
        .filter(|(_, to)| to.contains("cli"))
        .map(|(from, _)| from.as_str())
        .collect();
    assert!(readers.contains("settings"), "{readers:?}");
    let below: Vec<&&str> = readers
        .iter()
        .filter(|m| !["crate", "main", "settings", "complete"].contains(*m))
        .collect();
    assert!(
        below.is_empty(),
        "modules below the top read clap's structs: {below:?}"
    );
}
/// The longest production function a reader is asked to hold, and the longest file.
const MAX_FN_LINES: usize = 100;
const MAX_FILE_LINES: usize = 900;

/// Every production function's length (from `fn` to its closing brace) and every file's
/// production lines (its lines less its test-only items); files that are test modules
/// (`#[cfg(test)] mod tests;`) are left out.
struct Sizes {
    fns: Vec<(usize, String)>,
    files: Vec<(usize, String)>,
}

fn lines(span: proc_macro2::Span) -> usize {
    span.end().line + 1 - span.start().line
}

fn fn_sizes(items: &[syn::Item], at: &str, out: &mut Vec<(usize, String)>) {
    use syn::spanned::Spanned;
    for item in items.iter().filter(|i| !test_only(item_attrs(i))) {
        match item {
            syn::Item::Fn(f) => {
                let span = f.sig.fn_token.span.join(f.block.span()).expect("one file");
                out.push((lines(span), format!("{at}::{}", f.sig.ident)));
            }
            syn::Item::Impl(i) => {
                let ty = match &*i.self_ty {
                    syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                    _ => None,
                }
                .unwrap_or_else(|| "_".into());
                for f in i.items.iter().filter_map(|x| match x {
                    syn::ImplItem::Fn(f) if !test_only(&f.attrs) => Some(f),
                    _ => None,
                }) {
                    let span = f.sig.fn_token.span.join(f.block.span()).expect("one file");
                    out.push((lines(span), format!("{at}::{ty}::{}", f.sig.ident)));
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    fn_sizes(inner, &format!("{at}::{}", m.ident), out);
                }
            }
            _ => {}
        }
    }
}

fn sizes(src: &Path) -> Sizes {
    use syn::spanned::Spanned;
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(src, &mut paths);
    let files: BTreeMap<_, _> = paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read source");
            let file = syn::parse_file(&text).expect("syn parses the sources");
            (p, (text.lines().count(), file))
        })
        .collect();
    // `#[cfg(test)] mod name;` in `dir/x.rs` is `dir/x/name.rs`; in `mod.rs`/`lib.rs`, `dir/name.rs`.
    let mut test_files = BTreeSet::new();
    for (path, (_, file)) in &files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let dir = match stem {
            "mod" | "lib" | "main" => path.parent().expect("in src").to_path_buf(),
            _ => path.with_extension(""),
        };
        for item in &file.items {
            if let syn::Item::Mod(m) = item {
                if m.content.is_none() && test_only(&m.attrs) {
                    test_files.insert(dir.join(format!("{}.rs", m.ident)));
                    test_files.insert(dir.join(m.ident.to_string()).join("mod.rs"));
                    // `#[path = "x_tests.rs"]` is relative to the declaring file's folder.
                    for attr in m.attrs.iter().filter(|a| a.path().is_ident("path")) {
                        if let syn::Meta::NameValue(syn::MetaNameValue {
                            value:
                                syn::Expr::Lit(syn::ExprLit {
                                    lit: syn::Lit::Str(file),
                                    ..
                                }),
                            ..
                        }) = &attr.meta
                        {
                            test_files.insert(path.with_file_name(file.value()));
                        }
                    }
                }
            }
        }
    }
    let mut sizes = Sizes {
        fns: Vec::new(),
        files: Vec::new(),
    };
    for (path, (total, file)) in files.iter().filter(|(p, _)| !test_files.contains(*p)) {
        let name = path
            .strip_prefix(src)
            .expect("under src")
            .display()
            .to_string();
        let tests: usize = file
            .items
            .iter()
            .filter(|i| test_only(item_attrs(i)))
            .map(|i| lines(i.span()))
            .sum();
        sizes.files.push((total - tests, name.clone()));
        fn_sizes(&file.items, &name, &mut sizes.fns);
    }
    sizes.fns.sort_by(|a, b| b.cmp(a));
    sizes.files.sort_by(|a, b| b.cmp(a));
    sizes
}

#[test]
fn production_functions_and_files_are_short() {
    let s = sizes(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    println!("longest production functions (lines, fn to closing brace):");
    for (n, name) in s.fns.iter().take(10) {
        println!("  {n:5} {name}");
    }
    println!("production files over 700 lines:");
    for (n, name) in s.files.iter().take_while(|(n, _)| *n > 700) {
        println!("  {n:5} {name}");
    }
    let long: Vec<_> = s.fns.iter().filter(|(n, _)| *n > MAX_FN_LINES).collect();
    let big: Vec<_> = s
        .files
        .iter()
        .filter(|(n, _)| *n > MAX_FILE_LINES)
        .collect();
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines: {long:?}"
    );
    assert!(
        big.is_empty(),
        "files over {MAX_FILE_LINES} production lines: {big:?}"
    );
}

/// The size check measures what it claims: a function's lines from `fn` to its brace, test
/// items and test-module files left out.
#[test]
#[allow(clippy::disallowed_methods)] // a scratch source tree, not a kubeconfig
fn the_size_check_counts_production_lines_only() {
    let dir = std::env::temp_dir().join(format!("layers-sizes-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a")).expect("mkdir");
    let body = "    let x = 1;\n".repeat(5);
    std::fs::write(
        src.join("a.rs"),
        format!(
            "/// doc\nfn long() {{\n{body}}}\n#[cfg(test)]\nmod tests {{\n    fn t() {{\n{body}    }}\n}}\n#[cfg(test)]\nmod more;\n#[cfg(test)]\n#[path = \"a_tests.rs\"]\nmod t;\nstruct S;\nimpl S {{\n    fn m(&self) {{}}\n}}\n"
        ),
    )
    .expect("write");
    std::fs::write(
        src.join("a").join("more.rs"),
        format!("fn t() {{\n{body}}}\n"),
    )
    .expect("write");
    std::fs::write(src.join("a_tests.rs"), format!("fn t() {{\n{body}}}\n")).expect("write");
    let s = sizes(&src);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        s.fns,
        vec![(7, "a.rs::long".to_string()), (1, "a.rs::S::m".to_string())]
    );
    // 27 lines, the 15 of the three test-only items left out; `a/more.rs` and
    // `a_tests.rs` are test modules.
    assert_eq!(s.files, vec![(12, "a.rs".to_string())]);
}
