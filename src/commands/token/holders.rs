//! Who holds a token: the user entries, in every loaded file, whose effective token (inline,
//! a tokenFile, or the OS keyring item this plugin's exec entry reads) is a given token, and
//! the servers their contexts send it to. `token rotate`, `token store` and `kubeconfig
//! import` plan from this one answer, and `token show`/`list` read credentials through it,
//! so "holder" means the same thing everywhere (`token list` shows the same set).

use std::collections::BTreeSet;

use foldhash::HashMapExt;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::kubeconfig::edit::{self, ExecKind};
use crate::kubeconfig::model::{ByteString, NamedUser};
use crate::kubeconfig::resolve::credential_of;
use crate::kubeconfig::{Credential, Kubeconfig, Sourced};
use crate::secret::{quoted, shown, shown_path, Token};

/// One user entry that holds the old token, and how it holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub file: PathBuf,
    /// A slice of the file's text, as the model's names are.
    pub user: ByteString,
    /// Merged contexts that use this entry; empty for a shadowed entry.
    pub contexts: Vec<ByteString>,
    /// The earlier file whose same-named entry hides this one from kubectl.
    pub shadowed_by: Option<PathBuf>,
    /// Set when the token lives in a tokenFile (that file is rewritten).
    pub token_file: Option<PathBuf>,
    /// The inline `token` holds the old token too (also rewritten).
    pub inline: bool,
    /// Set when the entry runs this plugin's `token credential ITEM` and the item holds
    /// the old token (the item is rewritten, before any file).
    pub keyring_item: Option<String>,
    /// The entry carries a `coreweave.com/token` extension (about the old token: it is
    /// brought up to date, or its expiry would describe a token that is gone).
    pub has_extension: bool,
}

impl Target {
    /// Whether rotating this entry rewrites its kubeconfig file.
    pub(crate) fn writes_kubeconfig(&self, expires_known: bool) -> bool {
        self.inline || expires_known || self.has_extension
    }
}

/// Which entries hold `old`. Entries are compared by the token client-go would use
/// (tokenFile content first, or the keyring item an exec entry of this plugin reads), in
/// every loaded file, shadowed entries included: the same holders `token list` shows.
/// An item that cannot be read is an error: rotate would not know whether it misses a
/// holder.
pub fn find_targets(
    kc: &Kubeconfig,
    active: Sourced,
    old: &Token,
    only_current: bool,
) -> anyhow::Result<Vec<Target>> {
    // Which merged contexts name each user, computed once: 2,000 users times 2,000
    // contexts, asked one by one, would be quadratic. Each user's list is sorted, not
    // all the contexts (a user has one or a few).
    let contexts = kc.contexts_unordered();
    let mut contexts_of = foldhash::HashMap::<&str, Vec<ByteString>>::with_capacity(contexts.len());
    for (_, ctx) in contexts {
        if let Some(user) = ctx.context.as_ref().and_then(|c| c.user.as_deref()) {
            contexts_of.entry(user).or_default().push(ctx.name.clone());
        }
    }
    contexts_of
        .values_mut()
        .for_each(|names| names.sort_unstable());
    let canonical = first_names(kc);
    // Every entry may hold the token (a shared one does): room for all at once.
    let mut targets = Vec::with_capacity(kc.files.iter().map(|f| f.config.users.len()).sum());
    for (origin, entry) in kc.all_users() {
        if only_current && origin != active {
            continue;
        }
        if canonical[origin.file].is_none() && origin != active {
            continue;
        }
        let file = kc.path(origin.file);
        let cred = match credential_of(file, entry) {
            Ok(c) => c,
            Err(_) => match keyring_credential(entry, file)? {
                Some(c) => c,
                None => continue,
            },
        };
        if cred.token() != old {
            continue;
        }
        let inline_token = entry
            .user
            .as_ref()
            .and_then(|u| u.token.as_ref().map(Token::expose));
        let shadowed_by = kc
            .user(&entry.name)
            .filter(|(winner, _)| *winner != origin)
            .map(|(winner, _)| kc.path(winner.file).to_path_buf());
        let (token_file, inline, keyring_item) = match cred {
            Credential::Inline(_) => (None, true, None),
            Credential::File { path, .. } => (Some(path), inline_token == Some(old.expose()), None),
            Credential::Keyring { reference, .. } => (None, false, Some(reference)),
        };
        targets.push(Target {
            file: file.to_path_buf(),
            user: entry.name.clone(),
            // Taken, not copied: only the entry a name resolves to gets its contexts.
            contexts: match &shadowed_by {
                Some(_) => Vec::new(),
                None => contexts_of.remove(&*entry.name).unwrap_or_default(),
            },
            shadowed_by,
            token_file,
            inline,
            keyring_item,
            has_extension: entry
                .user
                .as_ref()
                .and_then(|u| u.extensions.as_ref())
                .is_some_and(|e| {
                    e.iter()
                        .any(|x| x.name == crate::coreweave::TOKEN_EXTENSION)
                }),
        });
    }
    if targets.is_empty() {
        bail!("no user entry holds the active user's token any more; nothing to rotate");
    }
    Ok(targets)
}

/// Each file's canonical path, `None` for a file listed again under another name (a
/// symlink in KUBECONFIG): its entries are edited once, through the first name.
fn first_names(kc: &Kubeconfig) -> Vec<Option<PathBuf>> {
    let mut canonical: Vec<Option<PathBuf>> = Vec::new();
    for f in &kc.files {
        let c = std::fs::canonicalize(&f.path).ok();
        let seen = c.is_some() && canonical.contains(&c);
        canonical.push(if seen {
            None
        } else {
            c.or_else(|| Some(f.path.clone()))
        });
    }
    canonical
}

/// The keyring item an entry of this plugin's exec kind reads, when its credential is not
/// in the file; `None` for another kind of entry or an item that is gone (no token).
fn keyring_credential(entry: &NamedUser, file: &Path) -> anyhow::Result<Option<Credential>> {
    let Some(edit::ExecKind::Plugin { reference }) =
        entry.user.as_ref().and_then(|u| u.exec_kind())
    else {
        return Ok(None);
    };
    // An item that is gone holds no token.
    let read = crate::keystore::read_once(&reference);
    if let Err(crate::keystore::KeyringError::NoItem(_)) = read {
        return Ok(None);
    }
    let item = read.with_context(|| {
        format!(
            "user {} in {} keeps its token in keyring item {}, which must be read to know whether it holds the token; nothing was written",
            quoted(&entry.name),
            shown_path(file),
            quoted(&reference)
        )
    })?;
    Ok(Some(Credential::Keyring {
        reference,
        token: item.token,
    }))
}

/// The active user's token wherever it is kept: the kubeconfig (inline or tokenFile), or
/// the OS keyring when the user's exec entry runs this plugin's `token credential ITEM`.
/// An exec entry of another program is named in the error and never run.
pub fn credential(
    kc: &Kubeconfig,
    origin: crate::kubeconfig::Sourced,
) -> anyhow::Result<Credential> {
    let err = match kc.credential(origin) {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    let entry = &kc.files[origin.file].config.users[origin.index];
    let Some(kind) = entry.user.as_ref().and_then(|u| u.exec_kind()) else {
        return Err(err.into());
    };
    let file = kc.path(origin.file);
    let user = &entry.name;
    match kind {
        ExecKind::Plugin { reference } => {
            let token = crate::keystore::read_once(&reference)
                .map(|item| item.token)
                .with_context(|| {
                    format!(
                        "user {user:?} (in {}) keeps its token in the OS keyring",
                        file.display()
                    )
                })?;
            Ok(Credential::Keyring { reference, token })
        }
        ExecKind::Other { command } => bail!(
            "user {user:?} (in {}) runs another exec credential plugin ({:?}); kubectl-coreweave does not run it",
            file.display(),
            crate::secret::escape_controls(&command)
        ),
    }
}

/// Whether a user entry is an exec entry of this plugin (what `token store` writes), and
/// then its token from the keyring; `None` for any other entry.
pub fn stored_credential(
    kc: &Kubeconfig,
    origin: crate::kubeconfig::Sourced,
) -> Option<anyhow::Result<Credential>> {
    let entry = &kc.files[origin.file].config.users[origin.index];
    match entry.user.as_ref()?.exec_kind()? {
        ExecKind::Plugin { .. } => Some(credential(kc, origin)),
        ExecKind::Other { .. } => None,
    }
}

/// What `token show` and `token list` say about the user entry at `origin` when it is an
/// exec entry of this plugin whose program is not this executable
/// ([`crate::kubeconfig::exec_program::foreign_program_note`]).
pub fn foreign_program_note(kc: &Kubeconfig, origin: Sourced) -> Option<String> {
    let entry = &kc.files[origin.file].config.users[origin.index];
    let exec = entry.user.as_ref()?.exec.as_ref()?;
    if !matches!(exec.kind(), ExecKind::Plugin { .. }) {
        return None;
    }
    let command = exec.command.as_deref().unwrap_or("");
    crate::kubeconfig::exec_program::foreign_program_note(
        command,
        &entry.name,
        kc.path(origin.file),
    )
}

/// One context's cluster as a keyring item's binding, with what a user needs to judge it
/// before it is added: the context, the file that defines its cluster, and its proxy.
#[derive(Debug, Clone)]
pub struct ContextBinding {
    pub context: String,
    pub binding: crate::keystore::Binding,
    pub cluster_file: PathBuf,
    /// The cluster's `proxy-url` without user info (a password is never shown).
    pub proxy_url: Option<String>,
}

/// The clusters the contexts of these user entries send their token to, with the trust
/// kubectl verifies each by (CA, TLS server name), as `token credential` compares them: what
/// an item holding their token could be bound to. A context whose cluster cannot be bound
/// (no server, no TLS verification, an unreadable CA) is left out, with a note.
pub(crate) fn context_bindings<'a>(
    kc: &Kubeconfig,
    entries: impl IntoIterator<Item = (&'a Path, &'a str)>,
    out: &mut dyn Write,
) -> std::io::Result<Vec<ContextBinding>> {
    let entries: BTreeSet<(&Path, &str)> = entries.into_iter().collect();
    let mut names = Vec::new();
    for (name, ctx) in kc.contexts() {
        let Some(user) = ctx.context.as_ref().and_then(|c| c.user.as_deref()) else {
            continue;
        };
        // The entry kubectl uses for this name (a shadowed one is not reached).
        let Some((origin, _)) = kc.user(user) else {
            continue;
        };
        if entries.contains(&(kc.path(origin.file), user)) {
            names.push(name.to_string());
        }
    }
    bindings_of(kc, &names, out)
}

/// The clusters of these contexts as bindings ([`context_bindings`]), each that can be
/// bound; the others are named in a note.
pub(crate) fn bindings_of(
    kc: &Kubeconfig,
    names: &[String],
    out: &mut dyn Write,
) -> std::io::Result<Vec<ContextBinding>> {
    let mut found = Vec::new();
    for (name, target) in cluster_targets_each(kc, names) {
        let note = |out: &mut dyn Write, why: &str| {
            writeln!(out, "Note: context {} is not bound: {why}", quoted(&name))
        };
        let target = match target {
            Ok(t) => t,
            Err(e) => {
                note(out, &e.to_string())?;
                continue;
            }
        };
        let ca = match ca_base64(&target.ca) {
            Ok(ca) => ca,
            Err(why) => {
                note(out, &why.to_string())?;
                continue;
            }
        };
        let binding = match super::credential::binding(
            &target.server,
            &ca,
            target.tls_server_name.as_deref().unwrap_or(""),
            target.insecure_skip_tls_verify,
        ) {
            Ok(b) => b,
            Err(why) => {
                note(out, &format!("{why} ({})", shown(&target.server)))?;
                continue;
            }
        };
        let cluster_file = kc
            .cluster(&target.cluster)
            .map(|(origin, _)| kc.path(origin.file).to_path_buf())
            .unwrap_or_default();
        found.push(ContextBinding {
            context: name,
            binding,
            cluster_file,
            proxy_url: target
                .proxy_url
                .as_deref()
                .map(crate::net::proxy::without_userinfo),
        });
    }
    Ok(found)
}

/// Why a context's cluster cannot be bound to a keyring item (the note names the context).
#[derive(Debug, thiserror::Error)]
pub enum Unbound {
    #[error(transparent)]
    Cluster(crate::cluster::ClusterError),
    #[error("no cluster")]
    NoCluster,
    #[error(
        "cannot read its certificate-authority {}: {}",
        crate::secret::shown_path(&.0.path),
        .0.message()
    )]
    CaFile(crate::io::PathError),
}

/// Each context's cluster: all at once (each file's clusters read once), context by context
/// only when one of them cannot be read, to name it and keep the others.
fn cluster_targets_each(
    kc: &Kubeconfig,
    names: &[String],
) -> Vec<(String, Result<crate::cluster::ClusterTarget, Unbound>)> {
    match crate::cluster::cluster_targets(kc, names) {
        Ok(t) => names.iter().cloned().zip(t.into_iter().map(Ok)).collect(),
        Err(_) => names
            .iter()
            .map(|n| {
                let one = crate::cluster::cluster_targets(kc, std::slice::from_ref(n))
                    .map_err(Unbound::Cluster)
                    .and_then(|mut t| t.pop().ok_or(Unbound::NoCluster));
                (n.clone(), one)
            })
            .collect(),
    }
}

/// A cluster's CA as base64 bytes (empty for the system's roots), read from its file when
/// the kubeconfig names one.
fn ca_base64(ca: &crate::cluster::CaSource) -> Result<String, Unbound> {
    use base64::Engine as _;
    match ca {
        crate::cluster::CaSource::Data(d) => Ok(d.clone()),
        crate::cluster::CaSource::System => Ok(String::new()),
        crate::cluster::CaSource::File(p) => {
            // A CA bundle is a few kB; 1 MiB leaves room for many.
            crate::io::read_regular(p, 1024 * 1024)
                .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
                .map_err(Unbound::CaFile)
        }
    }
}
