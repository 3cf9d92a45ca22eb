//! Kubeconfig files as kubectl sees them, without the network: which files are read and
//! how they merge (`load.rs`, into `model.rs`'s types), the readers of their text
//! (`read/`), the active context, user and credential (`resolve.rs`), text as it may be
//! printed (`mask.rs`), the one format-preserving editor (`edit/`, over `text.rs`'s YAML
//! writer, errors in `edit_error.rs`), the `tokenFile` rules (`token_file.rs`), what an
//! exec entry runs (`exec_program.rs`), and the only writer of files (`write/`). Every
//! entry remembers the file it came from, so an edit goes back to that file.

pub mod edit;
mod edit_error;
pub mod exec_program;
pub mod load;
pub mod mask;
pub mod model;
mod read;
pub mod resolve;
pub mod source;
mod text;
pub mod token_file;
pub mod write;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::secret::{quoted, shown, shown_path};

pub use load::{config_paths, home_dir, Kubeconfig, LoadedFile, Sourced};
pub use read::document::Encoding;
pub use resolve::{Credential, Resolved};
pub use source::KubeconfigSource;

/// Files larger than this are refused: a kubeconfig with thousands of contexts is a few MB.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Every way loading or resolving a kubeconfig can fail. Messages name the file and say
/// what to do; none carries any part of a token: every name, path or scalar a message
/// quotes from a file goes through `secret::quoted`/`shown` (tokens masked, control
/// characters escaped).
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("kubeconfig {}: no such file (given with --kubeconfig)", shown_path(.0))]
    ExplicitMissing(PathBuf),
    #[error("cannot read kubeconfig {}", shown_path(.path))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("kubeconfig {} is a directory, not a file", shown_path(.0))]
    IsDirectory(PathBuf),
    #[error("kubeconfig {} is {size} bytes, over the {max} byte limit", shown_path(.path))]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error("kubeconfig {} is not UTF-8 text (nor UTF-16 with a byte-order mark)", shown_path(.0))]
    NotUtf8(PathBuf),
    #[error(
        "kubeconfig {} is UTF-16 ({endian}-endian); token rotate edits only UTF-8 \
         kubeconfigs: save it as UTF-8 (kubectl reads both) and run it again",
        shown_path(.path)
    )]
    Utf16Write { path: PathBuf, endian: &'static str },
    #[error("kubeconfig {}:{line}:{column}: {}", shown_path(.path), shown(.message))]
    Yaml {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("kubeconfig {}: unsupported apiVersion/kind {}/{} (expected v1/Config)", shown_path(.path), quoted(.api_version), quoted(.kind))]
    Version {
        path: PathBuf,
        api_version: String,
        kind: String,
    },
    #[error(
        "kubeconfig {}: cluster {}: {field} is not base64 (kubectl refuses this file too)",
        shown_path(.path), quoted(.cluster)
    )]
    BadBase64 {
        path: PathBuf,
        cluster: String,
        field: &'static str,
    },
    #[error(
        "kubeconfig {}: {list} has two entries named {} (kubectl refuses this file too)",
        shown_path(.path), quoted(.name)
    )]
    DuplicateName {
        path: PathBuf,
        list: &'static str,
        name: String,
    },
    #[error(
        "{error} (and {} exists: another program is writing the file, or left a stale lock)",
        shown_path(.lock)
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
        "context {} is not defined in {files}; `kubectl config get-contexts` lists them",
        quoted(.name)
    )]
    UnknownContext { name: String, files: Files },
    #[error("context {} (in {}) names no user; pass --user", quoted(.context), shown_path(.file))]
    ContextWithoutUser { context: String, file: PathBuf },
    #[error("user {}{via} is not defined in {files}", quoted(.user))]
    UnknownUser {
        user: String,
        via: Via,
        files: Files,
    },
    #[error("cannot read tokenFile {} of user {} (in {})", shown_path(.path), quoted(.user), shown_path(.file))]
    TokenFile {
        user: String,
        path: PathBuf,
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tokenFile {} of user {} (in {}) is empty", shown_path(.path), quoted(.user), shown_path(.file))]
    EmptyTokenFile {
        user: String,
        path: PathBuf,
        file: PathBuf,
    },
    #[error("user {} (in {}) has no token: it {holds}; {hint}", quoted(.user), shown_path(.file))]
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
            [one] => f.write_str(&shown_path(one)),
            [rest @ .., last] => {
                for (i, p) in rest.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&shown_path(p))?;
                }
                write!(f, " and {}", shown_path(last))
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
            Via::Context(c) => write!(f, " (named by context {})", quoted(c)),
            Via::Flag => f.write_str(" (given with --user)"),
        }
    }
}

/// The folder relative paths inside `file` are resolved against (client-go's rule).
pub fn base_dir(file: &Path) -> &Path {
    file.parent().unwrap_or(Path::new(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message that quotes a name, a path or a scalar from a file masks tokens in it
    /// and escapes control characters, whatever the field.
    #[test]
    fn messages_mask_tokens_and_escape_controls_in_every_quoted_field() {
        let hostile = "CW-SECRET-pastedAb3Cd5Ef7Gh9 \u{1b}[2J\u{202e}";
        let s = || hostile.to_string();
        let p = || PathBuf::from(format!("/tmp/{hostile}"));
        let io = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let errors = [
            KubeconfigError::ExplicitMissing(p()),
            KubeconfigError::Read {
                path: p(),
                source: io(),
            },
            KubeconfigError::IsDirectory(p()),
            KubeconfigError::TooLarge {
                path: p(),
                size: 1,
                max: 0,
            },
            KubeconfigError::NotUtf8(p()),
            KubeconfigError::Yaml {
                path: p(),
                line: 1,
                column: 1,
                message: s(),
            },
            KubeconfigError::Version {
                path: p(),
                api_version: s(),
                kind: s(),
            },
            KubeconfigError::DuplicateName {
                path: p(),
                list: "users",
                name: s(),
            },
            KubeconfigError::Locked {
                error: Box::new(KubeconfigError::NotUtf8(p())),
                lock: p(),
            },
            KubeconfigError::NoFiles(Files(vec![p(), p()])),
            KubeconfigError::Empty(Files(vec![p()])),
            KubeconfigError::NoCurrentContext(Files(vec![p()])),
            KubeconfigError::UnknownContext {
                name: s(),
                files: Files(vec![p()]),
            },
            KubeconfigError::ContextWithoutUser {
                context: s(),
                file: p(),
            },
            KubeconfigError::UnknownUser {
                user: s(),
                via: Via::Context(s()),
                files: Files(vec![p()]),
            },
            KubeconfigError::TokenFile {
                user: s(),
                path: p(),
                file: p(),
                source: io(),
            },
            KubeconfigError::EmptyTokenFile {
                user: s(),
                path: p(),
                file: p(),
            },
            KubeconfigError::NoToken {
                user: s(),
                file: p(),
                holds: "holds no credentials",
                hint: "add one",
            },
        ];
        for e in errors {
            let text = e.to_string();
            assert!(!text.contains("pastedAb"), "{text}");
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{202e}'),
                "{text:?}"
            );
            assert!(text.contains("CW-SECRET-…"), "{text}");
        }
    }
}

// Every type here that holds a file's text or a credential has a `Debug` that leaves the
// secret out: a `{:?}` in an error, a log line or a test failure never prints a token.
#[cfg(test)]
mod debug_hides_secrets {
    use serde_json::json;

    use super::edit::{Additions, Edit, TokenEdit};
    use super::read::yaml_tree::{Doc, Stream};
    use super::text::Splice;
    use super::Kubeconfig;

    const OLD: &str = "CW-SECRET-test-debug-old-fake-0001";
    const NEW: &str = "CW-SECRET-test-debug-new-fake-0002";

    fn kubeconfig_text() -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    \
             server: https://k.example\ncontexts:\n- name: c\n  context:\n    cluster: k\n    \
             user: u\nusers:\n- name: u\n  user:\n    token: {OLD}\n    exec:\n      command: x\n      \
             args: [--token={OLD}]\n"
        )
    }

    fn assert_hidden(what: &str, debug: &str) {
        for secret in [OLD, NEW, "debug-old", "debug-new"] {
            assert!(!debug.contains(secret), "{what} shows {secret}: {debug}");
        }
    }

    #[test]
    fn kubeconfig_and_loaded_file_hide_the_text_and_tokens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        let text = kubeconfig_text();
        std::fs::write(&path, &text).expect("write");
        let kc = Kubeconfig::load(std::slice::from_ref(&path), true).expect("load");
        assert_eq!(kc.files[0].text, text, "the text is there to hide");
        let debug = format!("{kc:?}");
        assert_hidden("Kubeconfig", &debug);
        assert!(debug.contains("config"), "the path is shown: {debug}");
        assert_hidden("LoadedFile", &format!("{:#?}", kc.files[0]));
    }

    #[test]
    fn edits_hide_the_tokens_they_write() {
        let additions = Additions {
            users: vec![json!({"name": "u", "user": {"token": NEW}})],
            ..Additions::default()
        };
        let edits = [
            Edit::Token {
                user: "u",
                new_token: NEW,
            },
            Edit::ExecToToken {
                user: "u",
                token: NEW,
            },
            Edit::Append(&additions),
        ];
        for edit in edits {
            let debug = format!("{edit:?}");
            assert_hidden("Edit", &debug);
            assert!(debug.contains("\"u\""), "the user is shown: {debug}");
        }
        let token_edit = TokenEdit {
            user: "u",
            new_token: NEW,
        };
        assert_hidden("TokenEdit", &format!("{token_edit:?}"));
    }

    #[test]
    fn the_tree_and_its_splices_hide_scalar_text() {
        let text = kubeconfig_text();
        let doc = Doc::parse(&text, Stream::Drop).expect("parse");
        let kinds: Vec<String> = doc.nodes.iter().map(|n| format!("{n:?}")).collect();
        assert!(!kinds.is_empty());
        assert_hidden("Node", &kinds.join("\n"));
        let splice = Splice {
            start: 0,
            end: 3,
            text: NEW.to_string(),
        };
        assert_hidden("Splice", &format!("{splice:?}"));
    }
}
