//! Picking the active context, user and cluster, and reading the user's token, as
//! client-go's `DirectClientConfig` does: `--context` replaces current-context, `--user`
//! replaces the context's user, and a `tokenFile` wins over an inline `token`.

use std::path::{Path, PathBuf};

use super::model::{NamedUser, User};
use super::{base_dir, Kubeconfig, KubeconfigError, Sourced, Via};
use crate::secret::Token;

/// The flags that choose what is active, as given on the command line.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub context: Option<String>,
    pub user: Option<String>,
}

/// The active context's pieces, with where each came from.
#[derive(Debug)]
pub struct Resolved {
    pub context: String,
    pub context_origin: Sourced,
    pub namespace: Option<String>,
    pub cluster: Option<String>,
    /// The cluster entry, when the context's cluster is defined in some file.
    pub cluster_origin: Option<Sourced>,
    pub server: Option<String>,
    pub user: String,
    pub user_origin: Sourced,
}

/// Where a token is kept, and the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Inline, `users[].user.token`.
    Inline(Token),
    /// In a file named by `tokenFile` (the path as resolved against the kubeconfig's folder).
    File { path: PathBuf, token: Token },
    /// In the OS keyring item `reference`, read through an exec entry that runs this
    /// plugin's `token credential` (never produced here: `token::store::credential` reads
    /// the keyring).
    Keyring { reference: String, token: Token },
}

impl Credential {
    pub fn token(&self) -> &Token {
        match self {
            Credential::Inline(t) => t,
            Credential::File { token, .. } | Credential::Keyring { token, .. } => token,
        }
    }
}

impl Kubeconfig {
    /// The active context, its user and cluster. A missing cluster is not an error here:
    /// the token is still defined (kubectl's `--minify` refuses such a context, `token show`
    /// reports it instead).
    pub fn resolve(&self, sel: &Selection) -> Result<Resolved, KubeconfigError> {
        let wanted = sel.context.as_deref().filter(|c| !c.is_empty());
        let name = match wanted.or(self.current_context()) {
            Some(n) => n,
            // client-go looks the empty name up like any other: with current-context empty
            // or missing, a context named "" (an entry without a name) is the one it uses.
            None if self.context("").is_some() => "",
            None if self.files.is_empty() => {
                return Err(KubeconfigError::NoFiles(self.files_for_messages()))
            }
            None if self.is_empty() => {
                return Err(KubeconfigError::Empty(self.files_for_messages()))
            }
            None => return Err(KubeconfigError::NoCurrentContext(self.files_for_messages())),
        };
        let Some((context_origin, entry)) = self.context(name) else {
            return Err(KubeconfigError::UnknownContext {
                name: name.to_string(),
                files: self.files_for_messages(),
            });
        };
        let ctx = entry.context.as_ref();
        let flag_user = sel.user.as_deref().filter(|u| !u.is_empty());
        let (user, via) = match (flag_user, ctx.and_then(|c| c.user.as_deref())) {
            (Some(u), _) => (u, Via::Flag),
            (None, Some(u)) if !u.is_empty() => (u, Via::Context(name.to_string())),
            // Likewise a context without a user uses the user named "", if there is one.
            (None, _) if self.user("").is_some() => ("", Via::Context(name.to_string())),
            (None, _) => {
                return Err(KubeconfigError::ContextWithoutUser {
                    context: name.to_string(),
                    file: self.path(context_origin.file).to_path_buf(),
                })
            }
        };
        let Some((user_origin, _)) = self.user(user) else {
            return Err(KubeconfigError::UnknownUser {
                user: user.to_string(),
                via,
                files: self.files_for_messages(),
            });
        };
        let cluster = ctx
            .and_then(|c| c.cluster.as_deref())
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let found = cluster.as_deref().and_then(|c| self.cluster(c));
        Ok(Resolved {
            context: name.to_string(),
            context_origin,
            namespace: ctx
                .and_then(|c| c.namespace.as_deref())
                .filter(|n| !n.is_empty())
                .map(str::to_string),
            server: found
                .and_then(|(_, c)| c.cluster.as_ref())
                .and_then(|c| c.server.as_deref())
                .map(str::to_string),
            cluster_origin: found.map(|(s, _)| s),
            cluster,
            user: user.to_string(),
            user_origin,
        })
    }

    /// The token of the user entry at `origin`.
    pub fn credential(&self, origin: Sourced) -> Result<Credential, KubeconfigError> {
        let file = self.path(origin.file);
        let entry = &self.files[origin.file].config.users[origin.index];
        credential_of(file, entry)
    }
}

/// A user entry's token: the `tokenFile` content (trimmed) when `tokenFile` is set, as
/// client-go prefers it, else the inline `token`; an error saying what the entry holds
/// instead when it has neither.
pub fn credential_of(file: &Path, entry: &NamedUser) -> Result<Credential, KubeconfigError> {
    let empty = User::default();
    let user = entry.user.as_ref().unwrap_or(&empty);
    let inline = user.token.as_ref().filter(|t| !t.expose().is_empty());
    if let Some(tf) = user.token_file.as_deref().filter(|t| !t.is_empty()) {
        let path = base_dir(file).join(tf);
        // Bounded and regular files only: a FIFO or /dev/zero named here must not hang or
        // exhaust the plugin; such a file counts as unreadable.
        let content = super::token_file::read_token_file(&path)
            .map_err(|e| e.cause)
            .and_then(|bytes| {
                String::from_utf8(bytes)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            });
        match (content, inline) {
            (Ok(text), _) if !text.trim().is_empty() => {
                return Ok(Credential::File {
                    token: Token::new(text.trim()),
                    path,
                })
            }
            // client-go falls back to the inline token when the token file cannot be read
            // or is blank (seen in the Authorization header kubectl sends).
            (_, Some(_)) => {}
            (Ok(_), None) => {
                return Err(KubeconfigError::EmptyTokenFile {
                    user: entry.name.to_string(),
                    path,
                    file: file.to_path_buf(),
                })
            }
            (Err(source), None) => {
                return Err(KubeconfigError::TokenFile {
                    user: entry.name.to_string(),
                    path,
                    file: file.to_path_buf(),
                    source,
                })
            }
        }
    }
    if let Some(t) = inline {
        return Ok(Credential::Inline(t.clone()));
    }
    let (holds, hint) = if user.exec.is_some() {
        (
            "runs an exec credential plugin",
            "the plugin, not this kubeconfig, holds the credential",
        )
    } else if user.auth_provider.is_some() {
        (
            "uses an auth-provider",
            "the provider, not this kubeconfig, holds the credential",
        )
    } else if user.client_certificate.is_some() || user.client_certificate_data.is_some() {
        (
            "authenticates with a client certificate",
            "CoreWeave clusters use a bearer token; download a kubeconfig from the Console",
        )
    } else if user.username.is_some() {
        (
            "uses basic authentication",
            "CoreWeave clusters use a bearer token; download a kubeconfig from the Console",
        )
    } else {
        (
            "holds no credentials",
            "add a token with `kubectl coreweave token rotate`",
        )
    };
    Err(KubeconfigError::NoToken {
        user: entry.name.to_string(),
        file: file.to_path_buf(),
        holds,
        hint,
    })
}
