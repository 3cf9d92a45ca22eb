//! Which kubeconfig files are read and how they merge, following client-go's
//! `tools/clientcmd/loader.go`, with each merged entry remembering its file.
//!
//! The merged view is a set of indexes into the loaded files rather than copies, so the
//! shadowed entries (same name in a later file) stay reachable: `token rotate` edits them
//! too, and every edit goes back to the file an entry came from.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::model::{FileConfig, NamedCluster, NamedContext, NamedUser};
use super::{Files, KubeconfigError, MAX_FILE_SIZE};

/// The files to read, in precedence order, as client-go picks them:
/// `--kubeconfig` replaces everything; else `KUBECONFIG` (a path list; empty entries
/// dropped, a path listed twice kept once, missing files skipped later); else
/// `~/.kube/config`. Returns the list and whether it came from `--kubeconfig`.
pub fn config_paths(
    explicit: Option<&Path>,
    env: Option<OsString>,
    home: Option<PathBuf>,
) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    if let Some(env) = env.filter(|e| !e.is_empty()) {
        let mut seen = Vec::new();
        for p in std::env::split_paths(&env) {
            if !p.as_os_str().is_empty() && !seen.contains(&p) {
                seen.push(p);
            }
        }
        return seen;
    }
    match home {
        Some(h) => vec![h.join(".kube").join("config")],
        None => Vec::new(),
    }
}

/// One file that was read.
#[derive(Debug)]
pub struct LoadedFile {
    pub path: PathBuf,
    /// The bytes as read: `token rotate` edits these and checks them again under the lock.
    pub text: String,
    pub config: FileConfig,
}

/// An entry of the merged view: which loaded file, and which position in its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sourced {
    pub file: usize,
    pub index: usize,
}

/// Every file kubectl would read, and client-go's merge of them.
#[derive(Debug, Default)]
pub struct Kubeconfig {
    /// The files that exist and were read, in precedence order.
    pub files: Vec<LoadedFile>,
    /// Every path considered, read or not, for messages.
    pub searched: Vec<PathBuf>,
    current_context: Option<String>,
    clusters: HashMap<String, Sourced>,
    contexts: HashMap<String, Sourced>,
    users: HashMap<String, Sourced>,
}

impl Kubeconfig {
    /// Read and merge `paths`. With `explicit`, the single path must exist (kubectl's
    /// `--kubeconfig` rule); otherwise missing files are skipped.
    pub fn load(paths: &[PathBuf], explicit: bool) -> Result<Kubeconfig, KubeconfigError> {
        let mut kc = Kubeconfig {
            searched: paths.to_vec(),
            ..Kubeconfig::default()
        };
        for path in paths {
            let Some(text) = read_file(path, explicit)? else {
                continue;
            };
            let config = parse(path, &text)?;
            kc.add(LoadedFile {
                path: path.clone(),
                text,
                config,
            })?;
        }
        Ok(kc)
    }

    /// [`Kubeconfig::load`] for a reader that may meet a writer. client-go rewrites a
    /// kubeconfig in place (truncate, then write) while it holds `<file>.lock`, and readers
    /// take no lock, so a read can catch a half-written file. When loading fails while one
    /// of the files is locked, wait up to `patience` for the locks to go and read once
    /// more; if a lock stays, the error says so (a stale lock, or a slow writer).
    pub fn load_settled(
        paths: &[PathBuf],
        explicit: bool,
        patience: std::time::Duration,
    ) -> Result<Kubeconfig, KubeconfigError> {
        let error = match Kubeconfig::load(paths, explicit) {
            Ok(kc) => return Ok(kc),
            Err(e) => e,
        };
        let locked = || {
            paths
                .iter()
                .map(|p| super::write::lock_path(p))
                .find(|l| l.exists())
        };
        if locked().is_none() {
            return Err(error);
        }
        let deadline = std::time::Instant::now() + patience;
        while let Some(lock) = locked() {
            if std::time::Instant::now() >= deadline {
                return Err(KubeconfigError::Locked {
                    error: Box::new(error),
                    lock,
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Kubeconfig::load(paths, explicit)
    }

    /// Whether `paths` (the list this was loaded from) hold exactly the bytes that were read:
    /// then a reading under a lock can keep this parse, which is most of the CPU a
    /// `token rotate` of a large kubeconfig spends. Any difference, or a read error, is
    /// `false`, and the caller loads again (and reports the error).
    pub fn unchanged_on_disk(&self, paths: &[PathBuf], explicit: bool) -> bool {
        let mut loaded = self.files.iter();
        for path in paths {
            match read_file(path, explicit) {
                Ok(None) => continue,
                Ok(Some(text)) => match loaded.next() {
                    Some(f) if f.path == *path && f.text == text => {}
                    _ => return false,
                },
                Err(_) => return false,
            }
        }
        loaded.next().is_none()
    }

    /// client-go merges by name: the first file that defines a cluster, context or user
    /// wins and a later same-named entry is dropped whole (not merged field by field);
    /// `current-context` comes from the first file that sets a non-empty one.
    fn add(&mut self, file: LoadedFile) -> Result<(), KubeconfigError> {
        let n = self.files.len();
        let cfg = &file.config;
        check_unique(&file.path, "clusters", cfg.clusters.iter().map(|c| &c.name))?;
        check_unique(&file.path, "contexts", cfg.contexts.iter().map(|c| &c.name))?;
        check_unique(&file.path, "users", cfg.users.iter().map(|c| &c.name))?;
        if self.current_context.is_none() {
            self.current_context = cfg.current_context.clone().filter(|c| !c.is_empty());
        }
        for (index, c) in cfg.clusters.iter().enumerate() {
            self.clusters
                .entry(c.name.clone())
                .or_insert(Sourced { file: n, index });
        }
        for (index, c) in cfg.contexts.iter().enumerate() {
            self.contexts
                .entry(c.name.clone())
                .or_insert(Sourced { file: n, index });
        }
        for (index, u) in cfg.users.iter().enumerate() {
            self.users
                .entry(u.name.clone())
                .or_insert(Sourced { file: n, index });
        }
        self.files.push(file);
        Ok(())
    }

    /// No file defines any cluster, context or user.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty() && self.contexts.is_empty() && self.users.is_empty()
    }

    pub fn current_context(&self) -> Option<&str> {
        self.current_context.as_deref()
    }

    /// The paths of the files that were read, or of all searched when none was.
    pub fn files_for_messages(&self) -> Files {
        if self.files.is_empty() {
            Files(self.searched.clone())
        } else {
            Files(self.files.iter().map(|f| f.path.clone()).collect())
        }
    }

    pub fn path(&self, file: usize) -> &Path {
        &self.files[file].path
    }

    pub fn context(&self, name: &str) -> Option<(Sourced, &NamedContext)> {
        let s = *self.contexts.get(name)?;
        Some((s, &self.files[s.file].config.contexts[s.index]))
    }

    pub fn user(&self, name: &str) -> Option<(Sourced, &NamedUser)> {
        let s = *self.users.get(name)?;
        Some((s, &self.files[s.file].config.users[s.index]))
    }

    pub fn cluster(&self, name: &str) -> Option<(Sourced, &NamedCluster)> {
        let s = *self.clusters.get(name)?;
        Some((s, &self.files[s.file].config.clusters[s.index]))
    }

    /// The merged contexts (shadowed ones excluded), sorted by name as kubectl lists them.
    pub fn contexts(&self) -> Vec<(&str, &NamedContext)> {
        let mut v: Vec<_> = self
            .contexts
            .iter()
            .map(|(name, s)| (name.as_str(), &self.files[s.file].config.contexts[s.index]))
            .collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Every user entry in every file, shadowed ones included, with its origin.
    pub fn all_users(&self) -> impl Iterator<Item = (Sourced, &NamedUser)> {
        self.files.iter().enumerate().flat_map(|(file, f)| {
            f.config
                .users
                .iter()
                .enumerate()
                .map(move |(index, u)| (Sourced { file, index }, u))
        })
    }
}

/// [`parse`], and the name checks the merge makes: a file kubectl would refuse alone.
pub fn parse_alone(path: &Path, text: &str) -> Result<FileConfig, KubeconfigError> {
    let cfg = parse(path, text)?;
    check_unique(path, "clusters", cfg.clusters.iter().map(|c| &c.name))?;
    check_unique(path, "contexts", cfg.contexts.iter().map(|c| &c.name))?;
    check_unique(path, "users", cfg.users.iter().map(|c| &c.name))?;
    Ok(cfg)
}

fn check_unique<'a>(
    path: &Path,
    list: &'static str,
    names: impl Iterator<Item = &'a String>,
) -> Result<(), KubeconfigError> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name.as_str()) {
            return Err(KubeconfigError::DuplicateName {
                path: path.to_path_buf(),
                list,
                name: name.clone(),
            });
        }
    }
    Ok(())
}

/// Read one file as text, refusing directories, huge files and non-UTF-8. `Ok(None)` is a
/// missing file that may be skipped.
fn read_file(path: &Path, explicit: bool) -> Result<Option<String>, KubeconfigError> {
    let read_err = |source| KubeconfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if explicit {
                Err(KubeconfigError::ExplicitMissing(path.to_path_buf()))
            } else {
                Ok(None)
            };
        }
        Err(e) => return Err(read_err(e)),
    };
    let meta = file.metadata().map_err(read_err)?;
    if meta.is_dir() {
        return Err(KubeconfigError::IsDirectory(path.to_path_buf()));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(KubeconfigError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            max: MAX_FILE_SIZE,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    // A file that grows past the cap while being read (or a device) is cut off at the cap
    // and then refused, rather than read without bound.
    (&mut file)
        .take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(KubeconfigError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            max: MAX_FILE_SIZE,
        });
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| KubeconfigError::NotUtf8(path.to_path_buf()))
}

/// Parse one file's text. kubectl reads only the first YAML document, accepts an empty
/// file as an empty config, treats a missing apiVersion/kind as v1/Config and refuses any
/// other; it decodes with YAML 1.1 types into string fields, so `token: 123` or
/// `token: yes` are errors there, and `no_schema` makes them errors here. The price:
/// `no_schema` also refuses mapping keys that YAML 1.1 reads as booleans or numbers
/// (`n:`, `yes:`, `1:`), which kubectl turns into strings and ignores; no kubeconfig key
/// looks like that, so the strictness on values is worth it.
pub fn parse(path: &Path, text: &str) -> Result<FileConfig, KubeconfigError> {
    let doc = first_document(text);
    // The common layouts take the fast path (about 1 ms a megabyte); anything it is not
    // sure of goes to the full parser, which also writes the error messages.
    if let Some(config) = super::fast::parse(doc) {
        return Ok(config);
    }
    if first_content(doc).is_none() {
        // Empty, comments only, or a bare `---`: kubectl reads an empty config.
        return Ok(FileConfig::default());
    }
    let config = deserialize_full(doc).map_err(|e| yaml_error(path, doc, &e))?;
    check_version(path, config)
}

/// The full parser alone on a first document (the fast path's oracle in its tests).
#[cfg(test)]
pub(crate) fn parse_full(doc: &str) -> Result<FileConfig, KubeconfigError> {
    let nowhere = Path::new("");
    if first_content(doc).is_none() {
        return Ok(FileConfig::default());
    }
    let config = deserialize_full(doc).map_err(|e| yaml_error(nowhere, doc, &e))?;
    check_version(nowhere, config)
}

pub(crate) fn deserialize_full(doc: &str) -> Result<FileConfig, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        no_schema: true,
        with_snippet: false,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
    };
    // A document that is `null` or `~` is an empty config to kubectl, hence the Option.
    serde_saphyr::from_str_with_options::<Option<FileConfig>>(doc, options)
        .map(Option::unwrap_or_default)
}

fn check_version(path: &Path, config: FileConfig) -> Result<FileConfig, KubeconfigError> {
    let api_version = config.api_version.as_deref().unwrap_or("");
    let kind = config.kind.as_deref().unwrap_or("");
    let version_ok = matches!(api_version, "" | "v1");
    let kind_ok = matches!(kind, "" | "Config");
    if !version_ok || !kind_ok {
        return Err(KubeconfigError::Version {
            path: path.to_path_buf(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        });
    }
    Ok(config)
}

fn yaml_error(path: &Path, doc: &str, e: &serde_saphyr::Error) -> KubeconfigError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let rendered = e.without_snippet().to_string();
    let mut message = clean_parser_message(&rendered);
    if message.starts_with("expected mapping start") && Some((line, column)) == first_content(doc) {
        message = "not a kubeconfig: the document is not a mapping".into();
    }
    KubeconfigError::Yaml {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// The parser's message on one line, without the position it repeats and without the
/// values it quotes: those can be any scalar of the file, a token among them.
fn clean_parser_message(rendered: &str) -> String {
    let mut first = rendered
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid YAML");
    if let Some(i) = first.rfind(" at line ") {
        first = &first[..i];
    }
    let mut out = String::with_capacity(first.len());
    let mut closing: Option<char> = None;
    for c in first.chars() {
        match closing {
            Some(end) if c == end => closing = None,
            Some(_) => {}
            None => match c {
                '"' | '`' => {
                    out.push('…');
                    closing = Some(c);
                }
                '[' => {
                    out.push('…');
                    closing = Some(']');
                }
                _ => out.push(c),
            },
        }
    }
    out
}

/// Line and column (1-based) of the first content of a document: what a parser reports
/// when the whole document has the wrong type.
fn first_content(doc: &str) -> Option<(u64, u64)> {
    for (i, line) in doc.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('%') || t == "---" {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        return Some((i as u64 + 1, indent as u64 + 1));
    }
    None
}

/// The text of the first YAML document: everything before a second `---` marker at the
/// start of a line (a leading `---` opens the first document and is kept).
pub(crate) fn first_document(text: &str) -> &str {
    // A byte-order mark belongs to the stream, not to the first line's content.
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    // A marker ends the document only after content (a leading `---` is content).
    let mut offset = bom;
    for line in text[bom..].split_inclusive('\n') {
        offset += line.len();
        let trimmed = line.trim_end_matches(['\n', '\r']);
        let blank_or_comment = trimmed.trim().is_empty() || trimmed.trim_start().starts_with('#');
        if !blank_or_comment && !trimmed.starts_with('%') {
            break;
        }
    }
    // Every later line starts after a `\n`: the markers are found by searching for
    // `\n---` and `\n...`, not by walking the 20,000 lines of a 2 MB kubeconfig (each
    // command reads every file through here, and `token rotate` does it three times).
    let Some(rest) = text
        .get(offset.saturating_sub(1)..)
        .filter(|_| offset < text.len())
    else {
        return text;
    };
    let is_marker = |start: usize| {
        let line = &text[start..];
        let line = line[..memchr::memchr(b'\n', line.as_bytes()).unwrap_or(line.len())]
            .trim_end_matches('\r');
        line == "---"
            || line.starts_with("--- ")
            || line.starts_with("---\t")
            || line == "..."
            || line.starts_with("... ")
    };
    let first = |needle: &[u8]| {
        memchr::memmem::find_iter(rest.as_bytes(), needle)
            .map(|at| offset + at)
            .find(|&start| is_marker(start))
    };
    match first(b"\n---").into_iter().chain(first(b"\n...")).min() {
        Some(end) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::first_document;

    #[test]
    fn first_document_stops_at_the_next_marker_after_content() {
        assert_eq!(first_document("a: 1\n---\nb: 2\n"), "a: 1\n");
        assert_eq!(first_document("---\na: 1\n"), "---\na: 1\n");
        assert_eq!(
            first_document("%YAML 1.1\n---\na: 1\n...\n---\nb\n"),
            "%YAML 1.1\n---\na: 1\n"
        );
        assert_eq!(
            first_document("\u{feff}# c\n---\na: 1\n"),
            "\u{feff}# c\n---\na: 1\n"
        );
        assert_eq!(first_document("a: |\n  ---\n"), "a: |\n  ---\n");
    }

    /// The line-by-line reading `first_document` replaced: the oracle for its search.
    fn first_document_by_lines(text: &str) -> &str {
        let mut offset = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let mut seen_content = false;
        for line in text[offset..].split_inclusive('\n') {
            let trimmed = line.trim_end_matches(['\n', '\r']);
            let is_marker = trimmed == "---"
                || trimmed.starts_with("--- ")
                || trimmed.starts_with("---\t")
                || trimmed == "..."
                || trimmed.starts_with("... ");
            if is_marker && seen_content {
                return &text[..offset];
            }
            let blank = trimmed.trim().is_empty() || trimmed.trim_start().starts_with('#');
            if !blank && !trimmed.starts_with('%') {
                seen_content = true;
            }
            offset += line.len();
        }
        text
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
            ..Default::default()
        })]
        #[test]
        fn first_document_agrees_with_reading_line_by_line(
            pieces in proptest::collection::vec(0usize..16, 0..24)
        ) {
            const PIECES: [&str; 16] = [
                "---", "...", "--- x", "...\t", "---\t", "a: 1", "# c", "%YAML 1.1", "\n",
                "\r\n", "\r", " ", "\t", "\u{feff}", "-", ".",
            ];
            let text: String = pieces.iter().map(|&i| PIECES[i]).collect();
            proptest::prop_assert_eq!(first_document(&text), first_document_by_lines(&text));
        }
    }
}
