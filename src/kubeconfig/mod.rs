//! Kubeconfig files as kubectl sees them: which files are read, how they merge, which
//! context, user and cluster are active, and where each entry came from, so that an edit
//! goes back to the file that defined the entry.
//!
//! - `model.rs`: the serde types for one file (only the keys the plugin reads).
//! - `load.rs`: the file list (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`), reading with
//!   limits, parsing, and client-go's merge with origin tracking.
//! - `fast.rs`: a fast path for the common block-style layouts (it gives up, and the full
//!   parser decides, whenever it is unsure).
//! - `resolve.rs`: the active context, its user and cluster, and the user's credentials.
//! - `edit.rs`: the format-preserving editor that changes only token scalars.
//! - `exec_entry.rs`: swaps a user's inline token for an exec entry running this plugin
//!   (`token store`) and back (`token unstore`).
//! - `extension.rs`: records a token's expiry as the user's `coreweave.com/token` extension.
//! - `yaml_tree.rs`: the node tree with byte spans that both editors plan their splices on.
//! - `write.rs`: the only writer of files: locks, atomic replace, backups, rollback.
//!
//! Nothing here touches the network.

pub mod edit;
pub mod exec_entry;
pub mod extension;
pub(crate) mod fast;
pub mod load;
pub mod model;
pub mod resolve;
pub mod write;
mod yaml_tree;

use std::fmt;
use std::path::{Path, PathBuf};

pub use load::{config_paths, Kubeconfig, LoadedFile, Sourced};
pub use resolve::{Credential, Resolved};

/// Files larger than this are refused: a kubeconfig with thousands of contexts is a few MB.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Every way loading or resolving a kubeconfig can fail. Messages name the file and say
/// what to do; none carries any part of a token.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("kubeconfig {0}: no such file (given with --kubeconfig)")]
    ExplicitMissing(PathBuf),
    #[error("cannot read kubeconfig {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("kubeconfig {0} is a directory, not a file")]
    IsDirectory(PathBuf),
    #[error("kubeconfig {path} is {size} bytes, over the {max} byte limit")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error("kubeconfig {0} is not UTF-8 text")]
    NotUtf8(PathBuf),
    #[error("kubeconfig {path}:{line}:{column}: {message}")]
    Yaml {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("kubeconfig {path}: unsupported apiVersion/kind {api_version:?}/{kind:?} (expected v1/Config)")]
    Version {
        path: PathBuf,
        api_version: String,
        kind: String,
    },
    #[error(
        "kubeconfig {path}: {list} has two entries named {name:?} (kubectl refuses this file too)"
    )]
    DuplicateName {
        path: PathBuf,
        list: &'static str,
        name: String,
    },
    #[error(
        "{error} (and {lock} exists: another program is writing the file, or left a stale lock)"
    )]
    Locked {
        error: Box<KubeconfigError>,
        lock: PathBuf,
    },
    #[error("no kubeconfig found (looked at {0}); pass --kubeconfig or set KUBECONFIG")]
    NoFiles(Files),
    #[error("kubeconfig {0} is empty: no contexts, users or clusters")]
    Empty(Files),
    #[error(
        "no current context is set in {0}; pass --context or run `kubectl config use-context NAME`"
    )]
    NoCurrentContext(Files),
    #[error(
        "context {name:?} is not defined in {files}; `kubectl config get-contexts` lists them"
    )]
    UnknownContext { name: String, files: Files },
    #[error("context {context:?} (in {file}) names no user; pass --user")]
    ContextWithoutUser { context: String, file: PathBuf },
    #[error("user {user:?}{via} is not defined in {files}")]
    UnknownUser {
        user: String,
        via: Via,
        files: Files,
    },
    #[error("cannot read tokenFile {path} of user {user:?} (in {file})")]
    TokenFile {
        user: String,
        path: PathBuf,
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tokenFile {path} of user {user:?} (in {file}) is empty")]
    EmptyTokenFile {
        user: String,
        path: PathBuf,
        file: PathBuf,
    },
    #[error("user {user:?} (in {file}) has no token: it {holds}; {hint}")]
    NoToken {
        user: String,
        file: PathBuf,
        holds: &'static str,
        hint: &'static str,
    },
}

/// The list of files a message talks about, shown as `a, b and c`.
#[derive(Debug, Clone)]
pub struct Files(pub Vec<PathBuf>);

impl fmt::Display for Files {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("no file"),
            [one] => write!(f, "{}", one.display()),
            [rest @ .., last] => {
                for (i, p) in rest.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", p.display())?;
                }
                write!(f, " and {}", last.display())
            }
        }
    }
}

/// How a user name was reached, for messages: through a context, or `--user`.
#[derive(Debug, Clone)]
pub enum Via {
    Context(String),
    Flag,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::Context(c) => write!(f, " (named by context {c:?})"),
            Via::Flag => f.write_str(" (given with --user)"),
        }
    }
}

/// The folder relative paths inside `file` are resolved against (client-go's rule).
pub fn base_dir(file: &Path) -> &Path {
    file.parent().unwrap_or(Path::new(""))
}
