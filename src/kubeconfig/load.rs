//! Which kubeconfig files are read and how they merge, following client-go's
//! `tools/clientcmd/loader.go`, with each merged entry remembering its file.
//!
//! The merged view is a set of indexes into the loaded files rather than copies, so the
//! shadowed entries (same name in a later file) stay reachable: `token rotate` edits them
//! too, and every edit goes back to the file an entry came from.

use foldhash::{HashMap, HashSet, HashSetExt};
use std::collections::hash_map::Entry;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::edit_error::{EditError, Position};
use super::model::{ByteString, FileConfig, NamedCluster, NamedContext, NamedUser};
use super::read::document::{
    decode, first_content, first_document, kubectl_position, root_end_before_junk, Encoding,
};
use super::read::fast::{TokenSpan, TopLayout};
use super::read::from_tree::{self, Typing};
use super::read::yaml_tree::{Doc, Stream};
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

/// The folder client-go takes the home folder to be (`homedir.HomeDir()`), for the
/// default `~/.kube/config`. On Unix that is `$HOME` as it is: with `HOME` unset or empty,
/// kubectl reads `.kube/config` in the current folder, and so does the plugin (not the
/// password database's home folder). On Windows, the first of `%HOME%`,
/// `%HOMEDRIVE%%HOMEPATH%` and `%USERPROFILE%` holding a `.kube\config`, else the first
/// that exists, else the first set.
pub fn home_dir() -> PathBuf {
    #[cfg(windows)]
    {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let home = var("HOME");
        let drive_path = var("HOMEDRIVE").zip(var("HOMEPATH")).map(|(mut d, p)| {
            d.push(p);
            d
        });
        let profile = var("USERPROFILE");
        let with_config = [&home, &drive_path, &profile]
            .into_iter()
            .flatten()
            .find(|p| Path::new(p).join(".kube").join("config").exists());
        if let Some(p) = with_config {
            return PathBuf::from(p);
        }
        let order = [&home, &profile, &drive_path];
        let existing = order.into_iter().flatten().find(|p| Path::new(p).is_dir());
        let first = order.into_iter().flatten().next();
        existing.or(first).map(PathBuf::from).unwrap_or_default()
    }
    #[cfg(not(windows))]
    {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
    }
}

/// One file that was read. Its `Debug` leaves out the text, which holds every token.
pub struct LoadedFile {
    pub path: PathBuf,
    /// The text as read (decoded when the file is UTF-16; a byte-order mark stays at its
    /// start): `token rotate` edits this and checks it again under the lock.
    pub text: ByteString,
    pub encoding: Encoding,
    pub config: FileConfig,
    /// Where each entry of `config.users` has its token scalar in `text`, when the line
    /// scanner (`fast.rs`) read the file: the editor's fast path starts from it instead of
    /// reading the file again.
    pub token_spans: Option<Vec<Option<TokenSpan>>>,
    /// Where the top level's lists and `current-context` stand, when the line scanner
    /// read the file: the editor's append fast path starts from it.
    pub layout: Option<TopLayout>,
}

impl fmt::Debug for LoadedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedFile")
            .field("path", &self.path)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("encoding", &self.encoding)
            .field("config", &self.config)
            .field("token_spans", &self.token_spans)
            .field("layout", &self.layout)
            .finish()
    }
}

impl LoadedFile {
    /// Read and parse one file; `Ok(None)` for a missing file that may be skipped.
    fn read(path: &Path, explicit: bool) -> Result<Option<LoadedFile>, KubeconfigError> {
        let Some((text, encoding)) = read_file(path, explicit)? else {
            return Ok(None);
        };
        let text = ByteString::from(text);
        let (config, spans) = parse_scanned(path, &text)?;
        let (token_spans, layout) = spans.unzip();
        Ok(Some(LoadedFile {
            path: path.to_path_buf(),
            text,
            encoding,
            config,
            token_spans,
            layout,
        }))
    }

    /// The text for the kubeconfig editors, which write bytes back as UTF-8: a UTF-16 file
    /// is refused (by name) rather than rewritten in another encoding.
    pub fn editable_text(&self) -> Result<&str, KubeconfigError> {
        match self.encoding {
            Encoding::Utf8 => Ok(&self.text),
            Encoding::Utf16Le | Encoding::Utf16Be => Err(KubeconfigError::Utf16Write {
                path: self.path.clone(),
                endian: if self.encoding == Encoding::Utf16Le {
                    "little"
                } else {
                    "big"
                },
            }),
        }
    }
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
    current_context: Option<ByteString>,
    clusters: HashMap<ByteString, Sourced>,
    contexts: HashMap<ByteString, Sourced>,
    users: HashMap<ByteString, Sourced>,
}

impl Kubeconfig {
    /// Read and merge `paths`. With `explicit`, the single path must exist (kubectl's
    /// `--kubeconfig` rule); otherwise missing files are skipped.
    pub fn load(paths: &[PathBuf], explicit: bool) -> Result<Kubeconfig, KubeconfigError> {
        let mut kc = Kubeconfig {
            searched: paths.to_vec(),
            ..Kubeconfig::default()
        };
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            match LoadedFile::read(path, explicit) {
                Ok(Some(file)) => files.push(file),
                Ok(None) => {}
                Err(e) => {
                    // kubectl refuses an earlier file listing a name twice before it
                    // reads a later one: that error comes first.
                    files.into_iter().try_for_each(|f| kc.add(f))?;
                    return Err(e);
                }
            }
        }
        // The maps sized once for all the files: grown file by file, each was built again.
        let total = |list: fn(&FileConfig) -> usize| files.iter().map(|f| list(&f.config)).sum();
        kc.clusters.reserve(total(|c| c.clusters.len()));
        kc.contexts.reserve(total(|c| c.contexts.len()));
        kc.users.reserve(total(|c| c.users.len()));
        files.into_iter().try_for_each(|f| kc.add(f))?;
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
        // No deadline at all when `patience` is beyond what an Instant can hold.
        let deadline = std::time::Instant::now().checked_add(patience);
        while let Some(lock) = locked() {
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
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
    /// `false`, and the caller loads again (and reports the error). A UTF-8 file is
    /// compared as it streams in, without a second copy of it in memory.
    pub fn unchanged_on_disk(&self, paths: &[PathBuf], explicit: bool) -> bool {
        let mut loaded = self.files.iter();
        for path in paths {
            let file = match std::fs::File::open(path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => continue,
                Err(_) => return false,
            };
            let Some(f) = loaded.next().filter(|f| f.path == *path) else {
                return false;
            };
            let same = match f.encoding {
                Encoding::Utf8 => crate::io::file_holds(&file, f.text.as_bytes()).unwrap_or(false),
                // Decoded when read: compared as decoded (rare; no need to stream).
                Encoding::Utf16Le | Encoding::Utf16Be => {
                    drop(file);
                    matches!(read_file(path, explicit), Ok(Some((text, e))) if f.text == text && e == f.encoding)
                }
            };
            if !same {
                return false;
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
        if self.current_context.is_none() {
            self.current_context = cfg.current_context.clone().filter(|c| !c.is_empty());
        }
        // One hash of each name: the merge also finds a name listed twice in this file,
        // which kubectl refuses (an error here drops the whole reading).
        let merge = |map: &mut HashMap<ByteString, Sourced>,
                     list: &'static str,
                     names: &mut dyn ExactSizeIterator<Item = &ByteString>| {
            // This file's names that an earlier file already defines (the map keeps the
            // earlier entry, so it cannot tell their second listing here).
            let mut shadowed = HashSet::new();
            for (index, name) in names.enumerate() {
                let twice = match map.entry(name.clone()) {
                    Entry::Occupied(earlier) => {
                        earlier.get().file == n || !shadowed.insert(&**name)
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(Sourced { file: n, index });
                        false
                    }
                };
                if twice {
                    return Err(KubeconfigError::DuplicateName {
                        path: file.path.clone(),
                        list,
                        name: name.to_string(),
                    });
                }
            }
            Ok(())
        };
        merge(
            &mut self.clusters,
            "clusters",
            &mut cfg.clusters.iter().map(|c| &c.name),
        )?;
        merge(
            &mut self.contexts,
            "contexts",
            &mut cfg.contexts.iter().map(|c| &c.name),
        )?;
        merge(
            &mut self.users,
            "users",
            &mut cfg.users.iter().map(|u| &u.name),
        )?;
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

    /// The files as read, the merged view dropped: for a writer that has planned from it
    /// and now moves each file's text into its write.
    pub fn into_files(self) -> Vec<LoadedFile> {
        self.files
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
        let mut v: Vec<_> = self.contexts_unordered().collect();
        // (Names are unique: no order among equals to keep.)
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// [`Kubeconfig::contexts`] in no particular order, for callers that sort less.
    pub fn contexts_unordered(&self) -> impl ExactSizeIterator<Item = (&str, &NamedContext)> {
        self.contexts
            .iter()
            .map(|(name, s)| (&**name, &self.files[s.file].config.contexts[s.index]))
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
    names: impl ExactSizeIterator<Item = &'a ByteString>,
) -> Result<(), KubeconfigError> {
    let mut seen = HashSet::with_capacity(names.len());
    for name in names {
        if !seen.insert(&**name) {
            return Err(KubeconfigError::DuplicateName {
                path: path.to_path_buf(),
                list,
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

/// Read one file as text, refusing directories, huge files and what is neither UTF-8 nor
/// UTF-16 with a byte-order mark. `Ok(None)` is a missing file that may be skipped.
fn read_file(path: &Path, explicit: bool) -> Result<Option<(String, Encoding)>, KubeconfigError> {
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
    decode(bytes)
        .map(Some)
        .ok_or_else(|| KubeconfigError::NotUtf8(path.to_path_buf()))
}

/// Parse one file's text. kubectl reads only the first YAML document, accepts an empty
/// file as an empty config, treats a missing apiVersion/kind as v1/Config and refuses any
/// other; it decodes with YAML 1.1 types into string fields, so `token: 123` or
/// `token: yes` are errors there and here (`from_tree.rs`), while such keys (`yes:`,
/// `1:`) are strings to both. The line scanner reads the common layouts; the node tree
/// reads everything else.
pub fn parse(path: &Path, text: &str) -> Result<FileConfig, KubeconfigError> {
    parse_scanned(path, &ByteString::from(text)).map(|(config, _)| config)
}

/// [`parse`] of a text held as a [`ByteString`] (the model's strings are slices of it),
/// and where each user's token scalar is when the line scanner read the file.
pub(in crate::kubeconfig) fn parse_scanned(
    path: &Path,
    text: &ByteString,
) -> Result<Scanned, KubeconfigError> {
    let doc = text.slice_ref(first_document(text));
    parse_document(path, &doc).map_err(|mut e| {
        if let KubeconfigError::Yaml { line, column, .. } = &mut e {
            (*line, *column) = kubectl_position(&doc, *line, *column);
        }
        e
    })
}

/// A file's reading, with its token spans and layout when the line scanner read it.
pub(in crate::kubeconfig) type Scanned = (FileConfig, Option<(Vec<Option<TokenSpan>>, TopLayout)>);

fn parse_document(path: &Path, doc: &ByteString) -> Result<Scanned, KubeconfigError> {
    // The common layouts take the fast path (about 1 ms a megabyte); anything it is not
    // sure of goes to the full parser, which also writes the error messages.
    match super::read::fast::parse_with_spans(doc) {
        Some((config, spans, layout)) => {
            check_ca_data(path, &config)?;
            Ok((config, Some((spans, layout))))
        }
        None => {
            let config = parse_full_at(path, doc)?;
            check_ca_data(path, &config)?;
            Ok((config, None))
        }
    }
}

/// kubectl decodes `certificate-authority-data` as base64 while loading, and a file where
/// it is not refuses to load ("illegal base64 data"). The plugin refuses it too, in every
/// command: only the cluster check uses the field, but a file kubectl cannot load is not
/// one to show a token from or rewrite.
fn check_ca_data(path: &Path, config: &FileConfig) -> Result<(), KubeconfigError> {
    for c in &config.clusters {
        let data = c
            .cluster
            .as_ref()
            .and_then(|c| c.certificate_authority_data.as_deref());
        if data.is_some_and(|d| !is_go_base64(d)) {
            return Err(KubeconfigError::BadBase64 {
                path: path.to_path_buf(),
                cluster: c.name.to_string(),
                field: "certificate-authority-data",
            });
        }
    }
    Ok(())
}

/// Go's `base64.StdEncoding` as `encoding/json` decodes a `[]byte` field: padding
/// required, unused bits of the last group not checked (Go's default, non-strict).
const GO_STD: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
);

/// Each byte's class for [`is_go_base64`]: 0 the standard alphabet, 1 a line break (Go's
/// decoder skips `\r` and `\n` anywhere), 2 anything else.
const BASE64_CLASS: [u8; 256] = {
    let mut t = [2u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
            t[i] = 0;
        } else if b == b'\r' || b == b'\n' {
            t[i] = 1;
        }
        i += 1;
    }
    t
};

/// Whether Go's `base64.StdEncoding` decodes `s`, as kubectl's loading does for
/// `certificate-authority-data`: the alphabet, `=` padding only at the end and at most
/// two, whole groups of four once line breaks are skipped. It only classifies bytes
/// (every CA of every file passes through here on each load, about 1.4 MB for 2,000
/// clusters: decoding them took a sixth of `token show`); the cluster check decodes with
/// [`decode_go_base64`], and a test holds the two to the same answers.
pub(crate) fn is_go_base64(s: &str) -> bool {
    let body = s.trim_end_matches(['=', '\r', '\n']);
    let padding = s[body.len()..].bytes().filter(|b| *b == b'=').count();
    let class = |b: u8| BASE64_CLASS[usize::from(b)];
    let bytes = body.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    let mut seen = 0u8;
    // Eight bytes a step, unrolled by hand: the shipped build optimises for size and
    // leaves a plain loop at about six instructions a byte.
    for c in &mut chunks {
        if let &[a, b, c, d, e, f, g, h] = c {
            seen |= class(a) | class(b) | class(c) | class(d);
            seen |= class(e) | class(f) | class(g) | class(h);
        }
    }
    seen |= chunks.remainder().iter().fold(0, |acc, b| acc | class(*b));
    if seen & 2 != 0 || padding > 2 {
        return false;
    }
    let breaks = if seen & 1 != 0 {
        memchr::memchr2_iter(b'\r', b'\n', bytes).count()
    } else {
        0
    };
    (bytes.len() - breaks + padding).is_multiple_of(4)
}

/// The bytes of a kubeconfig `[]byte` field (`certificate-authority-data`), decoded as
/// kubectl decodes them (line breaks skipped).
pub(crate) fn decode_go_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine;
    GO_STD.decode(s.replace(['\r', '\n'], ""))
}

fn parse_full_at(path: &Path, doc: &str) -> Result<FileConfig, KubeconfigError> {
    if first_content(doc).is_none() {
        // Empty, comments only, or a bare `---`: kubectl reads an empty config.
        return Ok(FileConfig::default());
    }
    let tree = tree_of(doc).map_err(|e| yaml_error(path, e))?;
    model_of(path, &tree)
}

/// The node tree of a first document, as far as kubectl's decoder reads it (see
/// [`root_end_before_junk`]).
fn tree_of(doc: &str) -> Result<Doc<'_>, DocError> {
    match Doc::parse(doc, Stream::Drop) {
        Ok(tree) => Ok(tree),
        Err(e) => match root_end_before_junk(doc) {
            Some(end) => Doc::parse(doc.get(..end).unwrap_or(doc), Stream::Drop)
                .map_err(|e| tree_parse_error(&e)),
            None => Err(tree_parse_error(&e)),
        },
    }
}

/// [`parse_alone`] for a file whose entries are copied whole (`kubeconfig import`): the
/// model, and the first document as generic data (merge keys applied as kubectl applies
/// them), both read from one parse.
pub fn parse_alone_with_data(
    path: &Path,
    text: &str,
) -> Result<(FileConfig, serde_json::Value), KubeconfigError> {
    let doc = first_document(text);
    let place = |mut e: KubeconfigError| {
        if let KubeconfigError::Yaml { line, column, .. } = &mut e {
            (*line, *column) = kubectl_position(doc, *line, *column);
        }
        e
    };
    if first_content(doc).is_none() {
        return Ok((FileConfig::default(), serde_json::Value::Null));
    }
    let tree = tree_of(doc).map_err(|e| place(yaml_error(path, e)))?;
    let config = loadable(path, &tree).map_err(place)?;
    check_unique(path, "clusters", config.clusters.iter().map(|c| &c.name))?;
    check_unique(path, "contexts", config.contexts.iter().map(|c| &c.name))?;
    check_unique(path, "users", config.users.iter().map(|c| &c.name))?;
    let data = on_parse_stack(|| from_tree::read::<serde_json::Value>(&tree, Typing::Data))
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| KubeconfigError::Yaml {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: "cannot be read as data".into(),
        })?;
    Ok((config, data.unwrap_or_default()))
}

/// Why a document does not deserialize: where (as the parser counts; see
/// [`kubectl_position`]) and the reason, without any value it quotes.
#[derive(Debug)]
pub(crate) struct DocError {
    pub(crate) line: u64,
    pub(crate) column: u64,
    pub(crate) message: String,
}

impl DocError {
    fn at(position: Option<Position>, message: &str) -> DocError {
        let position = position.unwrap_or(Position { line: 0, column: 0 });
        DocError {
            line: position.line as u64,
            column: position.column as u64,
            message: clean_parser_message(message),
        }
    }
}

fn tree_parse_error(e: &EditError) -> DocError {
    match e {
        EditError::Parse { position, reason } if reason == "recursion limit exceeded" => {
            DocError::at(
                Some(*position),
                &format!("exceeded max depth of {}", from_tree::MAX_DEPTH),
            )
        }
        EditError::Parse { position, reason } => DocError::at(Some(*position), reason),
        other => DocError::at(None, &other.to_string()),
    }
}

/// A file's model read from its tree, its version checked.
pub(super) fn model_of(path: &Path, tree: &Doc<'_>) -> Result<FileConfig, KubeconfigError> {
    if !from_tree::root_is_mapping_or_null(tree) {
        let at = tree
            .root
            .map(|r| tree.position(r))
            .unwrap_or(Position { line: 0, column: 0 });
        return Err(KubeconfigError::Yaml {
            path: path.to_path_buf(),
            line: at.line as u64,
            column: at.column as u64,
            message: "not a kubeconfig: the document is not a mapping".into(),
        });
    }
    // Merge keys are followed by recursion, as deep as a file chains them.
    let config = on_parse_stack(|| from_tree::read::<FileConfig>(tree, Typing::Kubeconfig))
        .map_err(|e| {
            let message = format!("cannot start the parser: {}", crate::io::io_message(&e));
            yaml_error(path, DocError::at(None, &message))
        })?
        .map_err(|e| yaml_error(path, DocError::at(e.position, &e.message)))?;
    check_version(path, config.unwrap_or_default())
}

/// [`model_of`] with every check [`parse`] makes: the editor's proof reads the result of
/// an edit through here, from the tree it parsed.
pub(super) fn loadable(path: &Path, tree: &Doc<'_>) -> Result<FileConfig, KubeconfigError> {
    let config = model_of(path, tree)?;
    check_ca_data(path, &config)?;
    Ok(config)
}

/// Runs a reading of a tree (generic data recurses as deep as the file; merge keys as
/// deep as a file chains them) on a thread whose stack fits kubectl's 10,000 levels of
/// nesting (reserved, not committed, until used): a deep file fails with an error or
/// loads, but never overflows the main thread's stack (1 MiB on Windows).
pub(super) fn on_parse_stack<R: Send>(f: impl FnOnce() -> R + Send) -> std::io::Result<R> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("kubeconfig-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, f)?;
        Ok(handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// The stack of the parser's thread: a few KiB a level of nesting in a debug build.
const PARSE_STACK: usize = 512 << 20;

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

fn yaml_error(path: &Path, e: DocError) -> KubeconfigError {
    let DocError {
        line,
        column,
        message,
    } = e;
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

/// The full parser alone on a first document (the fast path's oracle in its tests).
#[cfg(test)]
pub(crate) fn parse_full(doc: &str) -> Result<FileConfig, KubeconfigError> {
    parse_full_at(Path::new(""), doc)
}

/// A first document read into `T` as kubectl reads it, from its tree (`from_tree.rs`).
#[cfg(test)]
fn from_document<T: serde::de::DeserializeOwned>(doc: &str) -> Result<Option<T>, DocError> {
    let tree = Doc::parse(doc, Stream::Drop).map_err(|e| tree_parse_error(&e))?;
    from_tree::read::<T>(&tree, Typing::Kubeconfig)
        .map_err(|e| DocError::at(e.position, &e.message))
}

/// [`from_document`] for the whole file model, a `null` document being an empty config.
#[cfg(test)]
pub(crate) fn deserialize_full(doc: &str) -> Result<FileConfig, String> {
    from_document::<FileConfig>(doc)
        .map(Option::unwrap_or_default)
        .map_err(|e| format!("{}:{}: {}", e.line, e.column, e.message))
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// The loader's check and the cluster check's decoder agree on every input.
        #[test]
        fn base64_check_and_decoder_agree(s in "[A-Za-z0-9+/=\r\n -]{0,24}") {
            proptest::prop_assert_eq!(super::is_go_base64(&s), super::decode_go_base64(&s).is_ok(), "{:?}", s);
        }
    }

    #[test]
    fn base64_as_go_decodes_it() {
        for ok in [
            "",
            "Zm9v",
            "Zm9vYg==",
            "Zm9vYmE=",
            "Zm9v\nYmFy",
            "Zm9v\r\nYmE=\n",
            "////",
        ] {
            assert!(super::is_go_base64(ok), "{ok:?}");
        }
        for bad in [
            "Zm9",
            "Zm9vY",
            "Zm9vY===",
            "Zm=v",
            "Zm9v YmFy",
            "Zm9v-_==",
            "not base64!!",
            "=Zm9",
        ] {
            assert!(!super::is_go_base64(bad), "{bad:?}");
        }
    }

    use super::{decode, first_document, Encoding};

    /// What `token rotate` keeps its first parse on: the same bytes in the same files,
    /// compared as they stream in; any change in content, length, or which files exist
    /// is a difference.
    #[test]
    fn unchanged_on_disk_sees_every_kind_of_change() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let missing = dir.path().join("missing");
        let text = "users:\n- name: u\n  user:\n    token: CW-SECRET-unchanged-1\n";
        std::fs::write(&a, text).expect("write");
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        std::fs::write(&b, &utf16).expect("write");
        let paths = vec![a.clone(), missing.clone(), b.clone()];
        let kc = super::Kubeconfig::load(&paths, false).expect("loads");
        assert!(kc.unchanged_on_disk(&paths, false));
        let same_length = text.replace("unchanged-1", "unchanged-2");
        for (path, bytes) in [
            (&a, same_length.as_bytes()),
            (&a, &text.as_bytes()[..text.len() - 1]),
            (&a, format!("{text}# more\n").as_bytes()),
            (&b, &utf16[..utf16.len() - 2]),
            (&missing, text.as_bytes()),
        ] {
            std::fs::write(path, bytes).expect("write");
            assert!(!kc.unchanged_on_disk(&paths, false), "{path:?} {bytes:?}");
            if path == &missing {
                std::fs::remove_file(path).expect("remove");
            } else if path == &a {
                std::fs::write(path, text).expect("write");
            } else {
                std::fs::write(path, &utf16).expect("write");
            }
            assert!(kc.unchanged_on_disk(&paths, false));
        }
        std::fs::remove_file(&a).expect("remove");
        assert!(!kc.unchanged_on_disk(&paths, false));
    }

    /// kubectl's YAML 1.1 reader ends lines at NEL, LS and PS too; its message for this
    /// file says `line 3` (and `line 2` for a CR-only or CRLF file of the same lines).
    #[test]
    fn error_positions_count_lines_as_kubectl_does() {
        let at = |text: &str| match super::parse(std::path::Path::new("f"), text) {
            Err(crate::kubeconfig::KubeconfigError::Yaml { line, column, .. }) => (line, column),
            other => panic!("{other:?}"),
        };
        assert_eq!(at("# a\u{2028} b\na: b: c\n"), (3, 5));
        assert_eq!(at("x: \"a\u{85}b\"\na: b: c\n"), (3, 5));
        assert_eq!(at("\u{feff}x: 1\r\na: b: c\r\n"), (2, 5));
        assert_eq!(at("x: 1\ra: b: c\r"), (2, 5));
        assert_eq!(at("x: \"\u{e9}\u{e9}\" b\n"), (1, 9));
    }

    /// The parser's limits are reported in kubectl's words for the same refusals.
    #[test]
    fn alias_bombs_and_deep_nesting_are_refused_in_kubectls_words() {
        let message = |text: &str| match super::parse(std::path::Path::new("f"), text) {
            Err(crate::kubeconfig::KubeconfigError::Yaml { message, .. }) => message,
            other => panic!("{other:?}"),
        };
        let mut bomb = String::from("a0: &a0 [x]\n");
        for i in 1..8 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                vec![format!("*a{p}"); 9].join(", ")
            ));
        }
        assert_eq!(message(&bomb), "document contains excessive aliasing");
        let deep = format!("x: {}{}\n", "[".repeat(10_001), "]".repeat(10_001));
        assert_eq!(message(&deep), "exceeded max depth of 10000");
        let fine = format!("x: {}{}\n", "[".repeat(500), "]".repeat(500));
        assert!(super::parse(std::path::Path::new("f"), &fine).is_ok());
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_decoded_and_invalid_utf16_refused() {
        let le = [
            0xFF, 0xFE, b'a', 0, b':', 0, b' ', 0, 0xE9, 0, b'\r', 0, b'\n', 0,
        ];
        assert_eq!(
            decode(le.to_vec()),
            Some(("\u{feff}a: \u{e9}\r\n".to_owned(), Encoding::Utf16Le))
        );
        let be = [0xFE, 0xFF, 0, b'a'];
        assert_eq!(
            decode(be.to_vec()),
            Some(("\u{feff}a".to_owned(), Encoding::Utf16Be))
        );
        assert_eq!(decode(vec![0xFF, 0xFE, b'a']), None, "odd length");
        assert_eq!(decode(vec![0xFF, 0xFE, 0x00, 0xD8]), None, "lone surrogate");
        assert_eq!(
            decode(b"\xEF\xBB\xBFa".to_vec()),
            Some(("\u{feff}a".to_owned(), Encoding::Utf8))
        );
        assert_eq!(decode(b"a\xFF".to_vec()), None);
    }

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
