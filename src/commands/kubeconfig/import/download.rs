//! The Console download `kubeconfig import` reads: bounded, regular files or standard input
//! only, validated as kubectl would load it, each context with the entries it copies.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context as _};
use serde_json::Value;

use crate::commands::options::ImportOptions;
use crate::kubeconfig::load;
use crate::kubeconfig::model::FileConfig;
use crate::secret::{quoted, shown, shown_path, Token};

/// A Console download is a few kilobytes; this leaves room for many clusters.
const MAX_DOWNLOAD: u64 = 1024 * 1024;

/// One context of the download, with what it needs.
pub(super) struct Incoming {
    pub(super) context: String,
    pub(super) cluster: Value,
    pub(super) context_entry: Value,
    pub(super) user: Value,
    pub(super) server: String,
    pub(super) token: Option<Token>,
    /// What the user entry holds, when it is not a plain token (imported as it is).
    pub(super) other_credential: Option<&'static str>,
    /// The program an exec entry runs (named in the warning before it is imported).
    pub(super) exec_command: Option<String>,
}

/// The download's text and how to name it in messages.
pub(super) fn read_download(file: &Path) -> anyhow::Result<(String, String)> {
    let mut bytes = Vec::new();
    let origin = if file.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_DOWNLOAD + 1)
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        "from standard input".to_owned()
    } else {
        let name = shown_path(file);
        // Regular files only, opened without blocking (a FIFO named as the download would
        // otherwise hang the command).
        let unreadable = |message: String| {
            anyhow::anyhow!("cannot read downloaded kubeconfig {name}: {message}")
        };
        crate::io::open_regular(file)
            .map_err(|e| unreadable(e.message()))?
            .take(MAX_DOWNLOAD + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| unreadable(crate::io::io_message(&e)))?;
        name
    };
    if bytes.len() as u64 > MAX_DOWNLOAD {
        bail!("downloaded kubeconfig {origin} is over {MAX_DOWNLOAD} bytes; a Console download is a few kilobytes");
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("downloaded kubeconfig {origin} is not UTF-8 text"))?;
    Ok((origin, text))
}

/// The download's contexts, validated as kubectl would load the file, with their entries
/// kept whole for copying (every key, as kubectl reads it: merge keys applied).
pub(super) fn parse_download(
    origin: &str,
    text: &str,
    args: &ImportOptions,
) -> anyhow::Result<Vec<Incoming>> {
    // One parse gives both the model and the entries as data, merge keys applied as
    // kubectl applies them, so what is copied is what kubectl reads.
    let (config, data): (FileConfig, Value) = load::parse_alone_with_data(Path::new(origin), text)?;
    if config.contexts.is_empty() {
        bail!(
            "downloaded kubeconfig {origin} has no contexts: it is not a kubeconfig for a cluster"
        );
    }
    let entry = |list: &str, name: &str| -> Option<Value> {
        data.get(list)?
            .as_array()?
            .iter()
            .find(|e| e.get("name").and_then(Value::as_str).unwrap_or("") == name)
            .cloned()
    };
    let mut incoming = Vec::new();
    for ctx in &config.contexts {
        let name = quoted(&ctx.name);
        let c = ctx.context.clone().unwrap_or_default();
        let cluster_name = c.cluster.unwrap_or_default();
        let user_name = c.user.unwrap_or_default();
        let (Some(mut context_entry), Some(cluster), Some(user)) = (
            entry("contexts", &ctx.name),
            entry("clusters", &cluster_name),
            entry("users", &user_name),
        ) else {
            bail!("downloaded kubeconfig {origin}: context {name} names a cluster or user the file does not define");
        };
        let server = cluster
            .get("cluster")
            .and_then(|c| c.get("server"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if server.is_empty() {
            bail!("downloaded kubeconfig {origin}: cluster of context {name} has no server");
        }
        let u = user.get("user").cloned().unwrap_or(Value::Null);
        let token = u
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(Token::new);
        let exec = u.get("exec").filter(|e| !e.is_null());
        if let Some(exec) = exec {
            if crate::commands::kubeconfig::runs_plugin::runs_this_plugin(exec) {
                bail!(
                    "downloaded kubeconfig {origin}: user {} (of context {}) runs kubectl-coreweave as its exec credential plugin, which a Console download never does (it would hand a token from this machine's keyring to server {}); refusing it; nothing was written",
                    quoted(&user_name),
                    quoted(&ctx.name),
                    shown(&server)
                );
            }
        }
        let exec_command = exec.map(|e| {
            crate::secret::escape_controls(e.get("command").and_then(Value::as_str).unwrap_or(""))
                .into_owned()
        });
        // CKS's unmanaged-auth endpoint refuses Console API tokens: a token bound for it
        // would fail on every kubectl command, and the user should import the managed one.
        if token.is_some() && crate::coreweave::is_unmanaged_auth_server(&server) {
            bail!(
                "downloaded kubeconfig {origin}: context {name} sends a token to {}, which is {}; import the Console's managed-auth kubeconfig instead; nothing was written",
                shown(&server),
                crate::coreweave::UNMANAGED_AUTH_REASON
            );
        }
        let other_credential = other_credential(&u, exec.is_some(), token.is_some());
        if let Some(ns) = &args.namespace {
            if let Some(obj) = context_entry
                .get_mut("context")
                .and_then(Value::as_object_mut)
            {
                obj.insert("namespace".into(), Value::String(ns.clone()));
            }
        }
        incoming.push(Incoming {
            context: ctx.name.to_string(),
            cluster,
            context_entry,
            user,
            server,
            token,
            other_credential,
            exec_command,
        });
    }
    Ok(incoming)
}

/// What a user entry holds when it is not a plain token, named for the warning (it is
/// imported as it is).
fn other_credential(u: &Value, exec: bool, token: bool) -> Option<&'static str> {
    if u.get("tokenFile").is_some() {
        Some("a tokenFile")
    } else if exec {
        Some("an exec plugin")
    } else if u.get("client-certificate-data").is_some() || u.get("client-certificate").is_some() {
        Some("a client certificate")
    } else if u.get("auth-provider").is_some() {
        Some("an auth provider")
    } else if !token {
        Some("no token")
    } else {
        None
    }
}
