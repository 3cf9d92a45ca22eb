//! `kubectl coreweave token show`: the active context's token, masked unless `--raw`,
//! with where it is stored and which other contexts share it.
//!
//! `--raw` is the hot path (a drop-in for the kubectl jsonpath one-liner in scripts): it
//! resolves the one user and prints; the summary's extra work (other contexts, their token
//! files) is done only for the other output forms.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{OutputFormat, ShowArgs};
use crate::kubeconfig::resolve::{credential_of, Selection};
use crate::kubeconfig::{Credential, Kubeconfig, Resolved};
use crate::secret::Token;

/// What `token show` reports, in the order the summary prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub context: String,
    pub context_file: PathBuf,
    pub cluster: Option<String>,
    pub cluster_defined: bool,
    pub server: Option<String>,
    pub namespace: Option<String>,
    pub user: String,
    pub user_file: PathBuf,
    /// `token` or `tokenFile`: the key the token is kept under.
    pub stored_in: &'static str,
    pub token_file: Option<PathBuf>,
    /// Masked unless `--raw`.
    pub token: String,
    pub coreweave_token: bool,
    /// Other contexts whose user has the same token (they change with a rotate).
    pub shared_with: Vec<String>,
    pub warnings: Vec<String>,
}

pub fn run(
    kc: &Kubeconfig,
    sel: &Selection,
    args: &ShowArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let resolved = kc.resolve(sel)?;
    let credential = kc.credential(resolved.user_origin)?;
    let warnings = warnings(&resolved, credential.token());
    if args.raw && args.output.is_none() {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        writeln!(out, "{}", credential.token().expose()).context("cannot write to stdout")?;
        return Ok(());
    }
    let report = report(kc, &resolved, &credential, args.raw, warnings);
    let text = match args.output {
        Some(OutputFormat::Json) => {
            let mut s = serde_json::to_string_pretty(&report)?;
            s.push('\n');
            s
        }
        Some(OutputFormat::Yaml) => serde_saphyr::to_string(&report)?,
        None => summary(&report),
    };
    out.write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    Ok(())
}

fn warnings(r: &Resolved, token: &Token) -> Vec<String> {
    let mut w = Vec::new();
    if r.cluster_origin.is_none() {
        let cluster = r.cluster.as_deref().unwrap_or("");
        w.push(if cluster.is_empty() {
            format!("context {:?} names no cluster; kubectl cannot use it", r.context)
        } else {
            format!(
                "context {:?} names cluster {cluster:?}, which no kubeconfig file defines; kubectl cannot use it",
                r.context
            )
        });
    }
    if !token.is_coreweave() {
        w.push(
            "this token does not start with CW-SECRET-; it is not a CoreWeave API access token"
                .into(),
        );
    }
    w
}

fn report(
    kc: &Kubeconfig,
    r: &Resolved,
    cred: &Credential,
    raw: bool,
    warnings: Vec<String>,
) -> Report {
    let token = cred.token();
    Report {
        context: r.context.clone(),
        context_file: kc.path(r.context_origin.file).to_path_buf(),
        cluster: r.cluster.clone(),
        cluster_defined: r.cluster_origin.is_some(),
        server: r.server.clone(),
        namespace: r.namespace.clone(),
        user: r.user.clone(),
        user_file: kc.path(r.user_origin.file).to_path_buf(),
        stored_in: match cred {
            Credential::Inline(_) => "token",
            Credential::File { .. } => "tokenFile",
        },
        token_file: match cred {
            Credential::Inline(_) => None,
            Credential::File { path, .. } => Some(path.clone()),
        },
        token: if raw {
            token.expose().to_string()
        } else {
            token.masked()
        },
        coreweave_token: token.is_coreweave(),
        shared_with: shared_with(kc, &r.context, token),
        warnings,
    }
}

/// The other merged contexts whose user resolves to the same token. Contexts whose user
/// cannot be resolved are skipped: they share nothing.
fn shared_with(kc: &Kubeconfig, active: &str, token: &Token) -> Vec<String> {
    kc.contexts()
        .into_iter()
        .filter(|(name, _)| *name != active)
        .filter(|(_, ctx)| {
            let Some(user) = ctx.context.as_ref().and_then(|c| c.user.as_deref()) else {
                return false;
            };
            let Some((origin, entry)) = kc.user(user) else {
                return false;
            };
            credential_of(kc.path(origin.file), entry).is_ok_and(|c| c.token() == token)
        })
        .map(|(name, _)| name.to_string())
        .collect()
}

fn summary(r: &Report) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    rows.push(("Context", r.context.clone()));
    let cluster = match (&r.cluster, r.cluster_defined, &r.server) {
        (Some(c), true, Some(s)) => format!("{c} ({s})"),
        (Some(c), true, None) => format!("{c} (no server set)"),
        (Some(c), false, _) => format!("{c} (not defined in any file)"),
        (None, _, _) => "(none)".into(),
    };
    rows.push(("Cluster", cluster));
    rows.push((
        "Namespace",
        r.namespace.clone().unwrap_or_else(|| "(default)".into()),
    ));
    rows.push(("User", format!("{} (in {})", r.user, r.user_file.display())));
    let stored = match &r.token_file {
        Some(p) => format!("tokenFile {}", p.display()),
        None => "token".into(),
    };
    rows.push(("Token", format!("{} (stored in {stored})", r.token)));
    let shared = if r.shared_with.is_empty() {
        "no other context".into()
    } else {
        r.shared_with.join(", ")
    };
    rows.push(("Shared with", shared));
    let mut s = String::new();
    for (k, v) in rows {
        s.push_str(&format!("{:<12} {v}\n", format!("{k}:")));
    }
    for w in &r.warnings {
        s.push_str(&format!("Warning:     {w}\n"));
    }
    s
}
