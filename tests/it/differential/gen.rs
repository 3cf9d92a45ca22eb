//! The case generator: a seeded PRNG, a tiny YAML tree with several renderers, and the
//! random kubeconfig scenarios built from them.
//!
//! Everything here is deterministic for a given seed and case number: a case is regenerated
//! alone from `case_seed(seed, n)`, so a failure report's numbers are enough to replay it.
//!
//! Paths inside generated text use the placeholder [`ROOT`]; the harness replaces it with
//! the case's temporary folder when it writes the files.

use std::collections::BTreeSet;

/// Stands for the case's folder in generated paths and file contents.
pub const ROOT: &str = "@ROOT@";

/// The name pools. Small on purpose, so that the same name shows up in several files
/// (shadowing) and references often hit. No name is a substring of a name in another
/// pool, so a warning that names a cluster is told apart from one naming a context.
pub const USERS: [&str; 4] = ["alice", "bob@coreweave", "svc-deploy", "admin:cw"];
pub const CONTEXTS: [&str; 4] = ["dev", "prod@cw", "ctx.staging", "default"];
pub const CLUSTERS: [&str; 4] = ["east-1", "west.example", "lab:6443", "edge"];
/// Names that no generated file defines.
pub const GHOST_USER: &str = "ghost-user";
pub const GHOST_CONTEXT: &str = "ghost-ctx";
pub const GHOST_CLUSTER: &str = "ghost-cluster";

// ---------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------

/// splitmix64: tiny, fast, and good enough to drive a generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p` percent.
    pub fn percent(&mut self, p: u32) -> bool {
        (self.below(100) as u32) < p
    }

    pub fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }

    /// One of `xs`, each chosen with probability proportional to its weight.
    pub fn weighted<T: Clone>(&mut self, xs: &[(u32, T)]) -> T {
        let total: u32 = xs.iter().map(|(w, _)| *w).sum();
        let mut r = self.below(total as usize) as u32;
        for (w, x) in xs {
            if r < *w {
                return x.clone();
            }
            r -= w;
        }
        unreachable!("weights add up")
    }

    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }

    pub fn alnum(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| CHARS[self.below(CHARS.len())] as char)
            .collect()
    }
}

/// The seed of case `n` of a run seeded with `seed`.
pub fn case_seed(seed: u64, n: usize) -> u64 {
    let mut r = Rng::new(seed ^ (n as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    r.next_u64()
}

// ---------------------------------------------------------------------------------------
// A YAML tree and its renderers
// ---------------------------------------------------------------------------------------

/// A YAML value. Strings are always meant as strings: the renderer quotes them when a
/// plain scalar would read as something else.
#[derive(Debug, Clone)]
pub enum Y {
    Str(String),
    Bool(bool),
    Int(i64),
    Null,
    Map(Vec<(String, Y)>),
    Seq(Vec<Y>),
}

pub fn s(v: &str) -> Y {
    Y::Str(v.to_string())
}

pub fn map(entries: Vec<(&str, Y)>) -> Y {
    Y::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// How a file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// What `kubectl config view` writes: 2-space indent, list items at the key's column,
    /// nothing quoted that need not be, no comments.
    Kubectl,
    /// Hand-written: 2- or 4-space indent, list items indented or not, some flow maps,
    /// quoted scalars, comments (some holding old tokens), trailing comments.
    Hand,
    /// Block document whose list items are all flow mappings.
    FlowItems,
    /// The whole document as one flow mapping.
    FlowDoc,
    /// JSON (valid YAML), pretty or compact.
    Json,
}

pub struct Renderer<'a> {
    pub rng: &'a mut Rng,
    pub layout: Layout,
    indent: usize,
    seq_indent: bool,
    flow_maps: u32,
    flow_items: u32,
    comments: u32,
    quoting: u32,
    /// Tokens placed in comments, to be added to the case's secret list.
    pub comment_tokens: Vec<String>,
    /// Makes a token for a comment (the case's token factory).
    pub token_for_comment: Option<&'a mut dyn FnMut() -> String>,
}

impl<'a> Renderer<'a> {
    pub fn new(rng: &'a mut Rng, layout: Layout) -> Renderer<'a> {
        let (indent, seq_indent, flow_maps, flow_items, comments, quoting) = match layout {
            Layout::Kubectl => (2, false, 0, 0, 0, 0),
            Layout::Hand => {
                let indent = if rng.percent(40) { 4 } else { 2 };
                let seq_indent = rng.percent(60);
                (indent, seq_indent, 25, 10, 25, 30)
            }
            Layout::FlowItems => (2, rng.percent(50), 0, 100, 15, 30),
            Layout::FlowDoc | Layout::Json => (2, false, 0, 0, 0, 40),
        };
        Renderer {
            rng,
            layout,
            indent,
            seq_indent,
            flow_maps,
            flow_items,
            comments,
            quoting,
            comment_tokens: Vec::new(),
            token_for_comment: None,
        }
    }

    pub fn render(&mut self, doc: &Y) -> String {
        let mut out = String::new();
        match self.layout {
            Layout::Json => {
                let pretty = self.rng.percent(60);
                json(&mut out, doc, pretty, 0);
                out.push('\n');
            }
            Layout::FlowDoc => {
                if self.rng.percent(20) {
                    out.push_str("---\n");
                }
                let text = self.flow(doc);
                out.push_str(&text);
                out.push('\n');
            }
            _ => {
                if self.layout == Layout::Hand && self.rng.percent(20) {
                    out.push_str("---\n");
                }
                if self.layout != Layout::Kubectl && self.rng.percent(self.comments) {
                    out.push_str("# generated by the differential test\n");
                }
                match doc {
                    Y::Map(entries) => self.block_map(&mut out, entries, 0, None),
                    other => {
                        let t = self.flow(other);
                        out.push_str(&t);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    fn scalar(&mut self, v: &str) -> String {
        let plain = plain_safe(v);
        if plain && !self.rng.percent(self.quoting) {
            return v.to_string();
        }
        if self.rng.percent(50) {
            format!("'{}'", v.replace('\'', "''"))
        } else {
            format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
        }
    }

    fn key(&mut self, k: &str) -> String {
        if self.layout == Layout::Kubectl || !self.rng.percent(10) {
            return k.to_string();
        }
        self.scalar(k)
    }

    fn null(&mut self, after_key: bool) -> &'static str {
        match self.rng.below(3) {
            0 if after_key => "",
            1 => " ~",
            _ => " null",
        }
    }

    fn comment_line(&mut self, out: &mut String, col: usize) {
        if self.comments == 0 || !self.rng.percent(self.comments / 2) {
            return;
        }
        let text = if self.rng.percent(30) {
            match self.token_for_comment.as_mut() {
                Some(f) => {
                    let t = f();
                    self.comment_tokens.push(t.clone());
                    format!("old token: {t}")
                }
                None => "note".to_string(),
            }
        } else {
            self.rng
                .pick(&["TODO rotate", "managed by hand", "see the Console", ""])
                .to_string()
        };
        out.push_str(&" ".repeat(col));
        out.push('#');
        if !text.is_empty() {
            out.push(' ');
            out.push_str(&text);
        }
        out.push('\n');
    }

    fn trailing_comment(&mut self) -> &'static str {
        if self.comments > 0 && self.rng.percent(self.comments / 3) {
            " # inline note"
        } else {
            ""
        }
    }

    /// A map's entries; the first line starts with `lead` (a list dash) when given, the
    /// others at column `col`.
    fn block_map(
        &mut self,
        out: &mut String,
        entries: &[(String, Y)],
        col: usize,
        lead: Option<String>,
    ) {
        let mut lead = lead;
        for (k, v) in entries {
            match lead.take() {
                Some(l) => out.push_str(&l),
                None => {
                    self.comment_line(out, col);
                    out.push_str(&" ".repeat(col));
                }
            }
            let key = self.key(k);
            out.push_str(&key);
            out.push(':');
            self.value_after_key(out, v, col);
        }
    }

    fn value_after_key(&mut self, out: &mut String, v: &Y, col: usize) {
        match v {
            Y::Str(_) | Y::Bool(_) | Y::Int(_) => {
                out.push(' ');
                let t = self.flow(v);
                out.push_str(&t);
                let c = self.trailing_comment();
                out.push_str(c);
                out.push('\n');
            }
            Y::Null => {
                let n = self.null(true);
                out.push_str(n);
                out.push('\n');
            }
            Y::Map(m) if m.is_empty() => out.push_str(" {}\n"),
            Y::Seq(xs) if xs.is_empty() => out.push_str(" []\n"),
            Y::Map(m) => {
                if self.rng.percent(self.flow_maps) {
                    out.push(' ');
                    let t = self.flow(v);
                    out.push_str(&t);
                    let c = self.trailing_comment();
                    out.push_str(c);
                    out.push('\n');
                } else {
                    out.push('\n');
                    self.block_map(out, m, col + self.indent, None);
                }
            }
            Y::Seq(xs) => {
                out.push('\n');
                let c = if self.seq_indent {
                    col + self.indent
                } else {
                    col
                };
                self.block_seq(out, xs, c);
            }
        }
    }

    fn block_seq(&mut self, out: &mut String, items: &[Y], col: usize) {
        for item in items {
            self.comment_line(out, col);
            let dash = format!("{}- ", " ".repeat(col));
            match item {
                Y::Map(m) if !m.is_empty() && !self.rng.percent(self.flow_items) => {
                    self.block_map(out, m, col + 2, Some(dash));
                }
                Y::Null => {
                    out.push_str(&dash);
                    out.push_str("null\n");
                }
                other => {
                    out.push_str(&dash);
                    let t = self.flow(other);
                    out.push_str(&t);
                    out.push('\n');
                }
            }
        }
    }

    fn flow(&mut self, v: &Y) -> String {
        match v {
            Y::Str(x) => self.scalar(x),
            Y::Bool(b) => b.to_string(),
            Y::Int(i) => i.to_string(),
            Y::Null => self.null(false).trim().to_string(),
            Y::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| {
                        let k = self.key(k);
                        let v = self.flow(v);
                        format!("{k}: {v}")
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Y::Seq(xs) => {
                let parts: Vec<String> = xs.iter().map(|x| self.flow(x)).collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }
}

fn json(out: &mut String, v: &Y, pretty: bool, depth: usize) {
    let nl = |out: &mut String, d: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(d));
        }
    };
    match v {
        Y::Str(x) => {
            out.push('"');
            out.push_str(&x.replace('\\', "\\\\").replace('"', "\\\""));
            out.push('"');
        }
        Y::Bool(b) => out.push_str(&b.to_string()),
        Y::Int(i) => out.push_str(&i.to_string()),
        Y::Null => out.push_str("null"),
        Y::Map(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, depth + 1);
                out.push('"');
                out.push_str(k);
                out.push_str(if pretty { "\": " } else { "\":" });
                json(out, v, pretty, depth + 1);
            }
            if !m.is_empty() {
                nl(out, depth);
            }
            out.push('}');
        }
        Y::Seq(xs) => {
            out.push('[');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, depth + 1);
                json(out, x, pretty, depth + 1);
            }
            if !xs.is_empty() {
                nl(out, depth);
            }
            out.push(']');
        }
    }
}

/// Whether `v` may be written as a plain scalar and still read back as this string under
/// YAML 1.1 (go-yaml, kubectl) and 1.2 (the plugin) alike. [`ROOT`] counts as an absolute
/// path (the harness checks the real folder is plain-safe too).
pub fn plain_safe(v: &str) -> bool {
    let v = v.replace(ROOT, "/root");
    let Some(first) = v.chars().next() else {
        return false;
    };
    let specials = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
    ];
    (first.is_ascii_alphabetic() || first == '/' || first == '.')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@:".contains(c))
        && !v.ends_with(':')
        && !specials.contains(&v.to_ascii_lowercase().as_str())
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

/// One test case: files to write, the environment and the flags.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    /// "seed 0x… case N" or a hand-picked test's name.
    pub label: String,
    /// Files to write, as (path relative to the case folder, content). Both may hold
    /// [`ROOT`].
    pub files: Vec<(String, String)>,
    /// Folders to create besides the files' own (relative to the case folder).
    pub dirs: Vec<String>,
    /// `KUBECONFIG`: `None` removes it from the environment.
    pub kubeconfig_env: Option<String>,
    pub kubeconfig_flag: Option<String>,
    pub context_flag: Option<String>,
    pub user_flag: Option<String>,
    /// Where the plugin's flags go on its command line (0..4), see the harness.
    pub flag_layout: u8,
    /// What the generator meant to cover, for the coverage check.
    pub tags: BTreeSet<String>,
}

impl Scenario {
    pub fn tag(&mut self, t: impl Into<String>) {
        self.tags.insert(t.into());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnvMode {
    /// KUBECONFIG lists the files.
    List,
    /// `--kubeconfig F` (existing or missing), KUBECONFIG set to something else or unset.
    Flag,
    /// `--kubeconfig=` (empty: kubectl treats it as not given) with a KUBECONFIG list.
    FlagEmpty,
    /// KUBECONFIG unset: `$HOME/.kube/config` (generated, or missing).
    Unset,
    /// KUBECONFIG set to "": same as unset for kubectl.
    EmptyVar,
    /// KUBECONFIG=":" or "::": a list of empty entries, no file at all.
    ColonOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Normal,
    Special(Special),
    Malformed(Malformed),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    Empty,
    Blank,
    Comments,
    EmptyMap,
    DocMarker,
    NullDoc,
}

const SPECIALS: [Special; 6] = [
    Special::Empty,
    Special::Blank,
    Special::Comments,
    Special::EmptyMap,
    Special::DocMarker,
    Special::NullDoc,
];

const MALFORMED: [Malformed; 11] = [
    Malformed::DupUser,
    Malformed::DupContext,
    Malformed::DupCluster,
    Malformed::KindFoo,
    Malformed::ApiV2,
    Malformed::UnclosedFlow,
    Malformed::TabIndent,
    Malformed::UnterminatedQuote,
    Malformed::BadIndent,
    Malformed::TopList,
    Malformed::WrongType,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Malformed {
    DupUser,
    DupContext,
    DupCluster,
    KindFoo,
    ApiV2,
    UnclosedFlow,
    TabIndent,
    UnterminatedQuote,
    BadIndent,
    TopList,
    /// Valid YAML that kubectl cannot decode into its types, in fields the plugin reads: a
    /// number or boolean where a string belongs. (Fields the plugin does not read are not
    /// type-checked by it, a documented difference: see `unread_fields_are_not_type_checked`.)
    WrongType,
}

/// How `current-context` is written in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CurrentContext {
    Absent,
    Null,
    Empty,
    Name(String),
}

/// What a generated file defines, for tagging.
#[derive(Debug, Clone)]
struct FileInfo {
    kind: FileKind,
    current_context: CurrentContext,
    users: Vec<String>,
    contexts: Vec<String>,
    clusters: Vec<String>,
}

struct Gen {
    rng: Rng,
    case: usize,
    tokens: usize,
    sc: Scenario,
    /// Absolute token files already planned: (relative path, content).
    abs_token_files: Vec<(String, String)>,
    /// A file kind this case must use at a slot, so every special and malformed kind is
    /// covered whatever the dice say.
    forced: Option<(usize, FileKind)>,
    wrong_type_user: bool,
    wrong_type_prefs: bool,
}

/// Generate case `n` of the run seeded with `seed`.
pub fn generate(seed: u64, n: usize) -> Scenario {
    let cs = case_seed(seed, n);
    let mut g = Gen {
        rng: Rng::new(cs),
        case: n,
        tokens: 0,
        sc: Scenario {
            label: format!("seed {seed:#x} case {n} (case seed {cs:#x})"),
            dirs: vec!["home".to_string()],
            ..Scenario::default()
        },
        abs_token_files: Vec::new(),
        forced: None,
        wrong_type_user: false,
        wrong_type_prefs: false,
    };
    g.build();
    g.sc
}

impl Gen {
    fn token(&mut self) -> String {
        self.tokens += 1;
        let tail = self.rng.alnum(12);
        format!("CW-SECRET-{}-{}-{}", self.case, self.tokens, tail)
    }

    fn build(&mut self) {
        let mode = self.rng.weighted(&[
            (70, EnvMode::List),
            (12, EnvMode::Flag),
            (2, EnvMode::FlagEmpty),
            (9, EnvMode::Unset),
            (4, EnvMode::EmptyVar),
            (1, EnvMode::ColonOnly),
        ]);
        let n_files = match mode {
            EnvMode::List | EnvMode::FlagEmpty => {
                self.rng
                    .weighted(&[(25, 1usize), (35, 2), (25, 3), (15, 4)])
            }
            EnvMode::Flag => self.rng.weighted(&[(60, 1usize), (40, 2)]),
            EnvMode::Unset | EnvMode::EmptyVar => self.rng.weighted(&[(70, 1usize), (30, 2)]),
            EnvMode::ColonOnly => 1,
        };
        // Slot 0 is $HOME/.kube/config when the home file is in play.
        let home_slot = matches!(mode, EnvMode::Unset | EnvMode::EmptyVar);
        let home_missing = home_slot && self.rng.percent(15);
        // One case in 20 has a malformed file, one in 20 an odd but valid one, each kind
        // in turn, at a random position.
        let slot = self.rng.below(n_files);
        self.forced = match self.case % 20 {
            19 => Some((
                slot,
                FileKind::Malformed(MALFORMED[(self.case / 20) % MALFORMED.len()]),
            )),
            9 => Some((
                slot,
                FileKind::Special(SPECIALS[(self.case / 20) % SPECIALS.len()]),
            )),
            _ => None,
        };
        let mut paths = Vec::new();
        for i in 0..n_files {
            if i == 0 && home_slot {
                paths.push("home/.kube/config".to_string());
            } else {
                let name = self
                    .rng
                    .pick(&["config", "config", "kubeconfig.yaml", "cw.conf"]);
                paths.push(format!("k{i}/{name}"));
            }
        }

        // Token files in every kubeconfig folder: `tok` and `sub/tok`, different in each
        // folder, so a relative `tokenFile` read against the wrong folder gives a
        // different token.
        for p in &paths {
            let dir = parent(p);
            for rel in ["tok", "sub/tok"] {
                if self.rng.percent(4) {
                    continue; // missing
                }
                let content = self.token_file_content();
                self.sc.files.push((join(&dir, rel), content));
            }
        }

        let mut infos = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            if i == 0 && home_missing {
                self.sc.tag("home:missing");
                infos.push(None);
                continue;
            }
            let (text, info) = self.file(i, paths.len());
            self.sc.files.push((p.clone(), text));
            infos.push(Some(info));
        }
        let abs = std::mem::take(&mut self.abs_token_files);
        self.sc.files.extend(abs);

        // The files kubectl reads, in order (indexes into `paths`), for tagging.
        let mut effective: Vec<usize> = Vec::new();
        match mode {
            EnvMode::List | EnvMode::FlagEmpty => {
                let order = self.kubeconfig_list(&paths);
                effective = order;
                if mode == EnvMode::FlagEmpty {
                    self.sc.kubeconfig_flag = Some(String::new());
                    self.sc.tag("flag:kubeconfig-empty");
                }
            }
            EnvMode::Flag => {
                if self.rng.percent(15) {
                    self.sc.kubeconfig_flag = Some(format!("{ROOT}/missing/config"));
                    self.sc.tag("flag:kubeconfig-missing");
                } else {
                    let i = self.rng.below(paths.len());
                    self.sc.kubeconfig_flag = Some(self.spell(&paths[i]));
                    self.sc.tag("flag:kubeconfig");
                    effective.push(i);
                }
                if self.rng.percent(50) {
                    // Ignored by both: --kubeconfig replaces KUBECONFIG.
                    let all: Vec<String> = paths.iter().map(|p| self.spell(p)).collect();
                    self.sc.kubeconfig_env = Some(all.join(":"));
                    self.sc.tag("flag:kubeconfig-with-env");
                }
            }
            EnvMode::Unset | EnvMode::EmptyVar => {
                if mode == EnvMode::EmptyVar {
                    self.sc.kubeconfig_env = Some(String::new());
                    self.sc.tag("env:empty-var");
                } else {
                    self.sc.tag("env:unset");
                }
                if !home_missing {
                    effective.push(0);
                }
            }
            EnvMode::ColonOnly => {
                self.sc.kubeconfig_env = Some(self.rng.pick(&[":", "::"]).to_string());
                self.sc.tag("env:colon-only");
            }
        }

        self.tag_effective(&effective, &infos);
        self.flags(&infos, &effective);
        self.sc.flag_layout = self.rng.below(4) as u8;
    }

    /// A path as written in KUBECONFIG or --kubeconfig: mostly absolute, sometimes
    /// relative to the case folder (both programs run there).
    fn spell(&mut self, rel: &str) -> String {
        match self.rng.below(10) {
            0 => {
                self.sc.tag("path:relative");
                rel.to_string()
            }
            1 => {
                self.sc.tag("path:dot-relative");
                format!("./{rel}")
            }
            _ => format!("{ROOT}/{rel}"),
        }
    }

    /// KUBECONFIG from the generated files: a random order of some or all of them, with
    /// empty entries, a path listed twice, missing files and the odd folder. Returns the
    /// order of the files kubectl reads.
    fn kubeconfig_list(&mut self, paths: &[String]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..paths.len()).collect();
        if self.rng.percent(50) {
            self.rng.shuffle(&mut order);
        }
        if order.len() > 1 && self.rng.percent(15) {
            order.truncate(self.rng.below(order.len()) + 1);
            self.sc.tag("list:some-files-unlisted");
        }
        let mut entries: Vec<String> = order.iter().map(|&i| self.spell(&paths[i])).collect();
        if self.rng.percent(20) {
            let i = self.rng.below(entries.len());
            let dup = entries[i].clone();
            let at = self.rng.below(entries.len() + 1);
            entries.insert(at, dup);
            self.sc.tag("list:duplicate-path");
            // The first listing decides the position; the duplicate reads nothing new.
        }
        if self.rng.percent(20) {
            let at = self.rng.below(entries.len() + 1);
            entries.insert(at, format!("{ROOT}/missing-{at}/config"));
            self.sc.tag("list:missing-file");
        }
        if self.rng.percent(3) {
            let at = self.rng.below(entries.len() + 1);
            entries.insert(at, format!("{ROOT}/home"));
            self.sc.tag("list:directory");
        }
        let mut value = entries.join(":");
        if self.rng.percent(25) {
            self.sc.tag("list:empty-entry");
            // `:a`, `a:`, or `a::b` (an empty entry between two; `a::` with one entry).
            value = match self.rng.below(3) {
                0 => format!(":{value}"),
                1 => format!("{value}:"),
                _ if value.contains(':') => value.replacen(':', "::", 1),
                _ => format!("{value}::"),
            };
        }
        // The files kubectl reads, in order: a repeated path keeps its first position.
        let mut read = Vec::new();
        let mut seen = Vec::new();
        for e in value.split(':').filter(|e| !e.is_empty()) {
            let norm = e.replace(&format!("{ROOT}/"), "").replace("./", "");
            if seen.contains(&norm) {
                continue;
            }
            seen.push(norm.clone());
            if let Some(i) = paths.iter().position(|p| *p == norm) {
                read.push(i);
            }
        }
        self.sc.kubeconfig_env = Some(value);
        self.sc.tag("env:list");
        read
    }

    fn token_file_content(&mut self) -> String {
        let t = self.token();
        let kind = self.rng.weighted(&[
            (35, 0u8),
            (20, 1),
            (15, 2),
            (10, 3),
            (10, 4),
            (3, 5),
            (3, 6),
        ]);
        match kind {
            0 => format!("{t}\n"),
            1 => t,
            2 => format!("  {t}  \n\n"),
            3 => format!("\t{t}\r\n"),
            4 => format!("\n{t}\n"),
            5 => {
                self.sc.tag("tokenfile:empty");
                String::new()
            }
            _ => {
                self.sc.tag("tokenfile:blank");
                " \n\t\n".to_string()
            }
        }
    }

    fn file(&mut self, slot: usize, n_files: usize) -> (String, FileInfo) {
        let kind = match self.forced {
            Some((s, k)) if s == slot => k,
            _ => {
                let k = self.rng.weighted(&[(93, 0u8), (4, 1), (3, 2)]);
                match k {
                    0 => FileKind::Normal,
                    1 => FileKind::Special(self.rng.pick(&SPECIALS)),
                    _ => FileKind::Malformed(self.rng.pick(&MALFORMED)),
                }
            }
        };
        let empty_info = |kind| FileInfo {
            kind,
            current_context: CurrentContext::Absent,
            users: vec![],
            contexts: vec![],
            clusters: vec![],
        };
        if let FileKind::Special(sp) = kind {
            self.sc.tag(format!("file:special:{sp:?}"));
            let text = match sp {
                Special::Empty => String::new(),
                Special::Blank => "\n   \n\n".to_string(),
                Special::Comments => {
                    let t = self.token();
                    format!("# kubeconfig placeholder\n# old token: {t}\n#\n")
                }
                Special::EmptyMap => "{}\n".to_string(),
                Special::DocMarker => "---\n".to_string(),
                Special::NullDoc => self.rng.pick(&["null\n", "~\n", "---\nnull\n"]).to_string(),
            };
            return (text, empty_info(kind));
        }
        if let FileKind::Malformed(m) = kind {
            self.sc.tag(format!("file:malformed:{m:?}"));
            if slot > 0 {
                self.sc.tag("file:malformed-not-first");
            }
            if slot + 1 < n_files {
                self.sc.tag("file:malformed-not-last");
            }
        }
        let (mut doc, mut info) = self.model(slot, kind);
        info.kind = kind;
        if kind == FileKind::Normal {
            self.sprinkle_merges(&mut doc, slot);
        }
        let layout = match kind {
            // Text corruptions are line based.
            FileKind::Malformed(
                Malformed::TabIndent | Malformed::BadIndent | Malformed::TopList,
            ) => Layout::Kubectl,
            _ => self.rng.weighted(&[
                (35, Layout::Kubectl),
                (35, Layout::Hand),
                (12, Layout::FlowItems),
                (8, Layout::FlowDoc),
                (10, Layout::Json),
            ]),
        };
        self.sc.tag(format!("layout:{layout:?}"));
        let mut rng = Rng::new(self.rng.next_u64());
        let mut comment_tokens = Vec::new();
        let mut text = {
            let case = self.case;
            let counter = &mut self.tokens;
            let mut tok_rng = Rng::new(rng.next_u64());
            let mut make = || {
                *counter += 1;
                format!("CW-SECRET-{case}-{counter}-{}", tok_rng.alnum(12))
            };
            let mut r = Renderer::new(&mut rng, layout);
            r.token_for_comment = Some(&mut make);
            let text = r.render(&doc);
            comment_tokens.append(&mut r.comment_tokens);
            text
        };
        if !comment_tokens.is_empty() {
            self.sc.tag("style:token-in-comment");
        }
        if let FileKind::Malformed(m) = kind {
            let t = self.token();
            text = match m {
                Malformed::UnclosedFlow => format!("{text}extra: [unclosed, {t}\n"),
                Malformed::UnterminatedQuote => format!("{text}note: \"{t}\n"),
                Malformed::TabIndent => format!("{text}more:\n\t- name: {t}\n"),
                Malformed::BadIndent => format!("{text}x-extra:\n  a: 1\n b: {t}\n"),
                Malformed::TopList => format!("- {t}\n- two\n"),
                _ => text,
            };
        }
        (text, info)
    }

    /// Merge keys (`<<`) in one file in seven: before, after or between the explicit keys
    /// of the top-level mapping (`current-context`), of users entries (a whole `user`
    /// mapping), of user mappings (`token`) and of contexts (`user`), as one mapping or a
    /// list of two (the first wins). kubectl applies them in document order. Drawn from
    /// a generator of their own, so the rest of each case is as before.
    fn sprinkle_merges(&mut self, doc: &mut Y, slot: usize) {
        let mut r = Rng::new(case_seed(0x3E26_E5ED_0000_0001, self.case * 8 + slot));
        if !r.percent(15) {
            return;
        }
        let Y::Map(top) = doc else {
            return;
        };
        let case = self.case;
        let mut n = 0usize;
        let mut token = |r: &mut Rng| {
            n += 1;
            Y::Str(format!("CW-SECRET-{case}-m{slot}x{n}-{}", r.alnum(8)))
        };
        let mut tags: Vec<&str> = Vec::new();
        if r.percent(35) {
            let contexts: Vec<String> = top
                .iter()
                .filter(|(k, _)| k == "contexts")
                .flat_map(|(_, v)| match v {
                    Y::Seq(items) => items.clone(),
                    _ => vec![],
                })
                .filter_map(|item| match item {
                    Y::Map(e) => e.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone()),
                    _ => None,
                })
                .filter_map(|v| match v {
                    Y::Str(s) => Some(s),
                    _ => None,
                })
                .collect();
            let mut pick = |r: &mut Rng| {
                let name = if !contexts.is_empty() && r.percent(80) {
                    r.pick(&contexts)
                } else {
                    r.pick(&CONTEXTS).to_string()
                };
                vec![("current-context".to_string(), Y::Str(name))]
            };
            insert_merge(&mut r, top, &mut pick);
            tags.push("merge:top");
        }
        for (k, v) in top.iter_mut() {
            let Y::Seq(items) = v else {
                continue;
            };
            for item in items.iter_mut() {
                let Y::Map(entry) = item else {
                    continue;
                };
                if k == "users" {
                    if r.percent(35) {
                        if let Some((_, Y::Map(user))) = entry.iter_mut().find(|(k, _)| k == "user")
                        {
                            let mut content = |r: &mut Rng| vec![("token".to_string(), token(r))];
                            insert_merge(&mut r, user, &mut content);
                            tags.push("merge:user");
                        }
                    }
                    if r.percent(15) {
                        let mut content = |r: &mut Rng| {
                            vec![("user".to_string(), map(vec![("token", token(r))]))]
                        };
                        insert_merge(&mut r, entry, &mut content);
                        tags.push("merge:list-entry");
                    }
                } else if k == "contexts" && r.percent(30) {
                    if let Some((_, Y::Map(ctx))) = entry.iter_mut().find(|(k, _)| k == "context") {
                        let mut content = |r: &mut Rng| {
                            vec![("user".to_string(), Y::Str(r.pick(&USERS).to_string()))]
                        };
                        insert_merge(&mut r, ctx, &mut content);
                        tags.push("merge:context");
                    }
                }
            }
        }
        for t in tags {
            self.sc.tag(t);
        }
    }

    /// A kubeconfig document and what it defines.
    fn model(&mut self, slot: usize, kind: FileKind) -> (Y, FileInfo) {
        let pick_subset = |rng: &mut Rng, pool: &[&str], p: u32| -> Vec<String> {
            let mut v: Vec<String> = pool
                .iter()
                .filter(|_| rng.percent(p))
                .map(|x| x.to_string())
                .collect();
            rng.shuffle(&mut v);
            v
        };
        let clusters = pick_subset(&mut self.rng, &CLUSTERS, 45);
        let contexts = pick_subset(&mut self.rng, &CONTEXTS, 50);
        let users = pick_subset(&mut self.rng, &USERS, 55);

        let mut top: Vec<(String, Y)> = Vec::new();
        let kubectl_order = self.rng.percent(60);
        let api = match kind {
            FileKind::Malformed(Malformed::ApiV2) => Some("v2"),
            FileKind::Malformed(Malformed::KindFoo) => Some("v1"),
            _ if self.rng.percent(75) => Some("v1"),
            _ => {
                self.sc.tag("style:no-apiversion");
                None
            }
        };
        let kind_v = match kind {
            FileKind::Malformed(Malformed::KindFoo) => Some("Foo"),
            FileKind::Malformed(Malformed::ApiV2) => Some("Config"),
            _ if self.rng.percent(75) => Some("Config"),
            _ => {
                self.sc.tag("style:no-kind");
                None
            }
        };

        // clusters
        let mut cluster_items = Vec::new();
        for c in &clusters {
            let server = format!("https://{}.example:6443", c.replace([':', '@'], "-"));
            let mut body = vec![("server".to_string(), Y::Str(server))];
            if self.rng.percent(30) {
                body.push(("certificate-authority-data".into(), s("Zm9vYmFy")));
            } else if self.rng.percent(15) {
                body.push(("insecure-skip-tls-verify".into(), Y::Bool(true)));
            }
            cluster_items.push(map(vec![("name", s(c)), ("cluster", Y::Map(body))]));
        }
        if kind == FileKind::Malformed(Malformed::WrongType) {
            match self.rng.below(7) {
                0 => cluster_items.push(map(vec![
                    ("name", s("broken-tls")),
                    ("cluster", map(vec![("server", Y::Int(6443))])),
                ])),
                1 => cluster_items.push(map(vec![
                    ("name", s("broken-ca")),
                    ("cluster", map(vec![("server", Y::Bool(true))])),
                ])),
                // The fields the cluster check reads: a quoted boolean, CA data that is
                // not base64, a proxy URL that is not a string.
                3 => cluster_items.push(map(vec![
                    ("name", s("broken-insecure")),
                    (
                        "cluster",
                        map(vec![
                            ("server", s("https://insecure.example")),
                            ("insecure-skip-tls-verify", s("true")),
                        ]),
                    ),
                ])),
                4 => cluster_items.push(map(vec![
                    ("name", s("broken-ca-data")),
                    (
                        "cluster",
                        map(vec![
                            ("server", s("https://ca.example")),
                            ("certificate-authority-data", s("Zm9vY")),
                        ]),
                    ),
                ])),
                5 => cluster_items.push(map(vec![
                    ("name", s("broken-proxy")),
                    (
                        "cluster",
                        map(vec![
                            ("server", s("https://proxy.example")),
                            ("proxy-url", Y::Seq(vec![s("http://p:3128")])),
                        ]),
                    ),
                ])),
                2 => {
                    self.wrong_type_user = true;
                }
                _ => self.wrong_type_prefs = true,
            }
        }
        if kind == FileKind::Malformed(Malformed::DupCluster) {
            let c = self.rng.pick(&CLUSTERS).to_string();
            for _ in 0..2 {
                cluster_items.push(map(vec![
                    ("name", s(&c)),
                    ("cluster", map(vec![("server", s("https://dup.example"))])),
                ]));
            }
        }

        // contexts
        let mut context_items = Vec::new();
        for c in &contexts {
            let body = match self
                .rng
                .weighted(&[(92, 0u8), (2, 1), (2, 2), (2, 3), (2, 4)])
            {
                1 => {
                    self.sc.tag("context:null");
                    Some(Y::Null)
                }
                2 => {
                    self.sc.tag("context:absent");
                    None
                }
                3 => {
                    self.sc.tag("context:empty-map");
                    Some(Y::Map(vec![]))
                }
                4 => {
                    // A context whose user is an empty string.
                    self.sc.tag("context:empty-user");
                    let cl = self.context_ref(&clusters, &CLUSTERS, GHOST_CLUSTER, "cluster");
                    let mut b = vec![("user".to_string(), s(""))];
                    if let Some(cl) = cl {
                        b.insert(0, ("cluster".to_string(), Y::Str(cl)));
                    }
                    Some(Y::Map(b))
                }
                _ => {
                    let mut b = Vec::new();
                    if let Some(cl) =
                        self.context_ref(&clusters, &CLUSTERS, GHOST_CLUSTER, "cluster")
                    {
                        b.push(("cluster".to_string(), Y::Str(cl)));
                    }
                    if let Some(u) = self.context_ref(&users, &USERS, GHOST_USER, "user") {
                        b.push(("user".to_string(), Y::Str(u)));
                    }
                    if self.rng.percent(30) {
                        b.push(("namespace".to_string(), s("team-a")));
                    }
                    if self.rng.percent(10) {
                        b.push((
                            "extensions".to_string(),
                            Y::Seq(vec![map(vec![
                                ("name", s("cw")),
                                ("extension", map(vec![("region", s("us-east"))])),
                            ])]),
                        ));
                        self.sc.tag("style:extra-keys");
                    }
                    if self.rng.percent(30) {
                        self.rng.shuffle(&mut b);
                    }
                    Some(Y::Map(b))
                }
            };
            let mut entry = vec![("name".to_string(), s(c))];
            if let Some(b) = body {
                entry.push(("context".to_string(), b));
            }
            context_items.push(Y::Map(entry));
        }
        if kind == FileKind::Malformed(Malformed::DupContext) {
            let c = self.rng.pick(&CONTEXTS).to_string();
            for _ in 0..2 {
                let u = self.rng.pick(&USERS).to_string();
                context_items.push(map(vec![
                    ("name", s(&c)),
                    ("context", map(vec![("user", Y::Str(u))])),
                ]));
            }
        }

        // users
        let mut user_items = Vec::new();
        for u in &users {
            user_items.push(self.user_entry(u, slot));
        }
        if std::mem::take(&mut self.wrong_type_user) {
            let t = self.token();
            user_items.push(map(vec![
                ("name", s("broken-user")),
                (
                    "user",
                    map(vec![("token", Y::Str(t)), ("tokenFile", Y::Int(5))]),
                ),
            ]));
        }
        if kind == FileKind::Malformed(Malformed::DupUser) {
            let u = self.rng.pick(&USERS).to_string();
            for _ in 0..2 {
                let t = self.token();
                user_items.push(map(vec![
                    ("name", s(&u)),
                    ("user", map(vec![("token", Y::Str(t))])),
                ]));
            }
        }

        // current-context
        let cc = self
            .rng
            .weighted(&[(12, 0u8), (5, 1), (2, 2), (72, 3), (6, 4), (3, 5)]);
        let current_context = match cc {
            0 => CurrentContext::Absent,
            1 => CurrentContext::Empty,
            2 => CurrentContext::Null,
            3 if !contexts.is_empty() => CurrentContext::Name(self.rng.pick(&contexts)),
            3 | 4 => CurrentContext::Name(self.rng.pick(&CONTEXTS).to_string()),
            _ => CurrentContext::Name(GHOST_CONTEXT.to_string()),
        };

        let list = |rng: &mut Rng, items: Vec<Y>| -> Option<Y> {
            if !items.is_empty() {
                return Some(Y::Seq(items));
            }
            match rng.below(4) {
                0 => None,
                1 => Some(Y::Seq(vec![])),
                _ => Some(Y::Null),
            }
        };
        let clusters_y = list(&mut self.rng, cluster_items);
        let contexts_y = list(&mut self.rng, context_items);
        let users_y = list(&mut self.rng, user_items);

        // In kubectl's order: apiVersion, clusters, contexts, current-context, kind,
        // preferences, users.
        if let Some(a) = api {
            top.push(("apiVersion".into(), s(a)));
        }
        if let Some(c) = clusters_y {
            top.push(("clusters".into(), c));
        }
        if let Some(c) = contexts_y {
            top.push(("contexts".into(), c));
        }
        match &current_context {
            CurrentContext::Absent => {}
            CurrentContext::Null => top.push(("current-context".into(), Y::Null)),
            CurrentContext::Empty => top.push(("current-context".into(), s(""))),
            CurrentContext::Name(n) => top.push(("current-context".into(), s(n))),
        }
        if let Some(k) = kind_v {
            top.push(("kind".into(), s(k)));
        }
        if std::mem::take(&mut self.wrong_type_prefs) {
            top.push(("current-context".into(), Y::Int(7)));
        } else if self.rng.percent(40) {
            top.push(("preferences".into(), Y::Map(vec![])));
        }
        if let Some(u) = users_y {
            top.push(("users".into(), u));
        }
        if self.rng.percent(12) {
            self.sc.tag("style:extra-keys");
            top.push(("x-cw-note".into(), s("hand edited")));
            if self.rng.percent(50) {
                top.push((
                    "extensions".into(),
                    Y::Seq(vec![map(vec![
                        ("name", s("cw")),
                        (
                            "extension",
                            map(vec![("org", s("acme")), ("tier", Y::Int(2))]),
                        ),
                    ])]),
                ));
            }
        }
        if !kubectl_order {
            self.rng.shuffle(&mut top);
            self.sc.tag("style:key-order-shuffled");
        }
        let info = FileInfo {
            kind,
            current_context,
            users,
            contexts,
            clusters,
        };
        (Y::Map(top), info)
    }

    /// The cluster or user a context names: mostly one defined in the same file, else any
    /// pool name, a name no file defines, or nothing.
    fn context_ref(
        &mut self,
        local: &[String],
        pool: &[&str],
        ghost: &str,
        what: &str,
    ) -> Option<String> {
        match self.rng.weighted(&[(75, 0u8), (15, 1), (4, 2), (6, 3)]) {
            0 if !local.is_empty() => Some(self.rng.pick(local)),
            0 | 1 => Some(self.rng.pick(pool).to_string()),
            2 => {
                self.sc.tag(format!("context:ghost-{what}"));
                Some(ghost.to_string())
            }
            _ => {
                self.sc.tag(format!("context:no-{what}"));
                None
            }
        }
    }

    fn token_file_path(&mut self, slot: usize) -> String {
        match self
            .rng
            .weighted(&[(30, 0u8), (12, 1), (10, 2), (10, 3), (28, 4), (10, 5)])
        {
            0 => {
                self.sc.tag("tokenfile:relative");
                "tok".into()
            }
            1 => {
                self.sc.tag("tokenfile:relative-subdir");
                "sub/tok".into()
            }
            2 => {
                self.sc.tag("tokenfile:dot-relative");
                "./tok".into()
            }
            3 => {
                // Another folder's token file, through `..`.
                self.sc.tag("tokenfile:parent-relative");
                let other = self.rng.below(4);
                if slot == 0 && other == 0 {
                    "../k1/tok".into()
                } else {
                    format!("../k{other}/tok")
                }
            }
            4 => {
                self.sc.tag("tokenfile:absolute");
                let n = self.abs_token_files.len();
                let rel = format!("abs/tok-{n}");
                if self.rng.percent(8) {
                    self.sc.tag("tokenfile:missing");
                } else {
                    let content = self.token_file_content();
                    self.abs_token_files.push((rel.clone(), content));
                }
                format!("{ROOT}/{rel}")
            }
            _ => {
                self.sc.tag("tokenfile:missing");
                "nope/tok".into()
            }
        }
    }

    fn user_entry(&mut self, name: &str, slot: usize) -> Y {
        #[derive(Clone, Copy)]
        enum U {
            Token,
            TokenFile,
            Both,
            Exec,
            TokenAndExec,
            Cert,
            Basic,
            AuthProvider,
            EmptyMap,
            Null,
            Absent,
            EmptyToken,
            NullToken,
        }
        let kind = self.rng.weighted(&[
            (50, U::Token),
            (15, U::TokenFile),
            (10, U::Both),
            (3, U::Exec),
            (2, U::TokenAndExec),
            (3, U::Cert),
            (2, U::Basic),
            (2, U::AuthProvider),
            (3, U::EmptyMap),
            (3, U::Null),
            (3, U::Absent),
            (2, U::EmptyToken),
            (2, U::NullToken),
        ]);
        let exec = || {
            map(vec![
                ("apiVersion", s("client.authentication.k8s.io/v1beta1")),
                ("command", s("cw-login")),
                ("args", Y::Seq(vec![s("get-token")])),
            ])
        };
        let body: Option<Y> = match kind {
            U::Token => {
                self.sc.tag("user:token");
                let t = self.token();
                Some(map(vec![("token", Y::Str(t))]))
            }
            U::TokenFile => {
                self.sc.tag("user:tokenFile");
                let p = self.token_file_path(slot);
                Some(map(vec![("tokenFile", Y::Str(p))]))
            }
            U::Both => {
                self.sc.tag("user:token-and-tokenFile");
                let t = self.token();
                let p = self.token_file_path(slot);
                let mut b = vec![
                    ("token".to_string(), Y::Str(t)),
                    ("tokenFile".to_string(), Y::Str(p)),
                ];
                if self.rng.percent(50) {
                    b.reverse();
                }
                Some(Y::Map(b))
            }
            U::Exec => {
                self.sc.tag("user:exec");
                Some(map(vec![("exec", exec())]))
            }
            U::TokenAndExec => {
                self.sc.tag("user:token-and-exec");
                let t = self.token();
                Some(map(vec![("token", Y::Str(t)), ("exec", exec())]))
            }
            U::Cert => {
                self.sc.tag("user:client-cert");
                Some(map(vec![
                    ("client-certificate-data", s("Zm9vYmFy")),
                    ("client-key-data", s("YmF6cXV4")),
                ]))
            }
            U::Basic => {
                self.sc.tag("user:basic");
                Some(map(vec![
                    ("username", s("admin")),
                    ("password", s("hunter2")),
                ]))
            }
            U::AuthProvider => {
                self.sc.tag("user:auth-provider");
                let t = self.token();
                Some(map(vec![(
                    "auth-provider",
                    map(vec![
                        ("name", s("oidc")),
                        ("config", map(vec![("id-token", Y::Str(t))])),
                    ]),
                )]))
            }
            U::EmptyMap => {
                self.sc.tag("user:empty-map");
                Some(Y::Map(vec![]))
            }
            U::Null => {
                self.sc.tag("user:null");
                Some(Y::Null)
            }
            U::Absent => {
                self.sc.tag("user:absent");
                None
            }
            U::EmptyToken => {
                self.sc.tag("user:empty-token");
                Some(map(vec![("token", s(""))]))
            }
            U::NullToken => {
                self.sc.tag("user:null-token");
                Some(map(vec![("token", Y::Null)]))
            }
        };
        let body = match body {
            Some(Y::Map(mut b)) if self.rng.percent(8) => {
                self.sc.tag("style:extra-keys");
                b.push(("x-note".to_string(), s("unused")));
                Some(Y::Map(b))
            }
            other => other,
        };
        // The record rotate and import write (the line scanner reads it too), sometimes
        // next to another tool's extension. Drawn from a generator of its own, so the rest
        // of each case is as before.
        let name_hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut r = Rng::new(case_seed(
            0xE7E7_5EED_0000_0002 ^ name_hash,
            self.case * 8 + slot,
        ));
        let body = match body {
            Some(Y::Map(mut b)) if r.percent(10) => {
                self.sc.tag("user:extensions");
                let record = map(vec![
                    ("name", s("coreweave.com/token")),
                    (
                        "extension",
                        map(vec![
                            ("expires", s("2027-01-01T00:00:00Z")),
                            ("source", s("minted")),
                        ]),
                    ),
                ]);
                let mut list = vec![record];
                if r.percent(50) {
                    list.push(map(vec![
                        ("name", s("example.com/other")),
                        ("extension", map(vec![("version", s("v1"))])),
                    ]));
                }
                b.push(("extensions".to_string(), Y::Seq(list)));
                Some(Y::Map(b))
            }
            other => other,
        };
        let mut entry = vec![("name".to_string(), s(name))];
        if let Some(b) = body {
            entry.push(("user".to_string(), b));
        }
        if self.rng.percent(15) {
            entry.reverse();
        }
        Y::Map(entry)
    }

    /// Tags about the files as kubectl reads them (merging, shadowing, current-context).
    fn tag_effective(&mut self, effective: &[usize], infos: &[Option<FileInfo>]) {
        let files: Vec<&FileInfo> = effective
            .iter()
            .filter_map(|&i| infos.get(i).and_then(|x| x.as_ref()))
            .collect();
        self.sc.tag(format!("read:{}-files", files.len()));
        let count = |f: &dyn Fn(&FileInfo) -> &Vec<String>| {
            let mut names: Vec<&String> = files.iter().flat_map(|i| f(i).iter()).collect();
            let total = names.len();
            names.sort();
            names.dedup();
            total > names.len()
        };
        if count(&|i| &i.users) {
            self.sc.tag("shadow:user");
        }
        if count(&|i| &i.contexts) {
            self.sc.tag("shadow:context");
        }
        if count(&|i| &i.clusters) {
            self.sc.tag("shadow:cluster");
        }
        // Files that do not load make the case fail anyway; these tags describe the rest.
        let set = |f: &FileInfo| matches!(&f.current_context, CurrentContext::Name(_));
        if files.iter().all(|f| !set(f)) {
            self.sc.tag("current-context:unset-everywhere");
        } else if !set(files[0]) {
            self.sc.tag("current-context:later-file-only");
            if files[0].current_context == CurrentContext::Empty {
                self.sc.tag("current-context:empty-in-first");
            }
        }
        let defined: Vec<&String> = files.iter().flat_map(|f| f.contexts.iter()).collect();
        if let Some(f) = files.iter().find(|f| set(f)) {
            if let CurrentContext::Name(n) = &f.current_context {
                if !defined.contains(&n) {
                    self.sc.tag("current-context:undefined");
                }
            }
        }
    }

    fn flags(&mut self, infos: &[Option<FileInfo>], effective: &[usize]) {
        let defined = |f: &dyn Fn(&FileInfo) -> &Vec<String>| -> Vec<String> {
            effective
                .iter()
                .filter_map(|&i| infos.get(i).and_then(|x| x.as_ref()))
                .flat_map(|i| f(i).clone())
                .collect()
        };
        let contexts = defined(&|i| &i.contexts);
        let users = defined(&|i| &i.users);
        self.sc.context_flag = match self.rng.weighted(&[(60, 0u8), (30, 1), (6, 2), (4, 3)]) {
            0 => None,
            1 => {
                let c = if !contexts.is_empty() && self.rng.percent(80) {
                    self.rng.pick(&contexts)
                } else {
                    self.rng.pick(&CONTEXTS).to_string()
                };
                self.sc.tag(if contexts.contains(&c) {
                    "flag:context-defined"
                } else {
                    "flag:context-undefined"
                });
                Some(c)
            }
            2 => {
                self.sc.tag("flag:context-undefined");
                Some(GHOST_CONTEXT.to_string())
            }
            _ => {
                self.sc.tag("flag:context-empty");
                Some(String::new())
            }
        };
        self.sc.user_flag = match self.rng.weighted(&[(74, 0u8), (19, 1), (4, 2), (3, 3)]) {
            0 => None,
            1 => {
                let u = if !users.is_empty() && self.rng.percent(80) {
                    self.rng.pick(&users)
                } else {
                    self.rng.pick(&USERS).to_string()
                };
                self.sc.tag(if users.contains(&u) {
                    "flag:user-defined"
                } else {
                    "flag:user-undefined"
                });
                Some(u)
            }
            2 => {
                self.sc.tag("flag:user-undefined");
                Some(GHOST_USER.to_string())
            }
            _ => {
                self.sc.tag("flag:user-empty");
                Some(String::new())
            }
        };
    }
}

/// Insert `<<: {…}` (or `<<: [{…}, {…}]`) at a random place among `entries`.
fn insert_merge(
    r: &mut Rng,
    entries: &mut Vec<(String, Y)>,
    content: &mut dyn FnMut(&mut Rng) -> Vec<(String, Y)>,
) {
    let value = if r.percent(25) {
        Y::Seq(vec![Y::Map(content(r)), Y::Map(content(r))])
    } else {
        Y::Map(content(r))
    };
    let at = r.below(entries.len() + 1);
    entries.insert(at, ("<<".to_string(), value));
}

pub fn parent(rel: &str) -> String {
    match rel.rfind('/') {
        Some(i) => rel[..i].to_string(),
        None => String::new(),
    }
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}
