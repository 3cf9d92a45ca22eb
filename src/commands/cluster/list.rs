//! `kubectl coreweave cluster list`: the CKS clusters of the organization the active
//! context's token belongs to (`--all-tokens`: of every distinct CoreWeave token `token
//! list` finds, grouped by organization), with the contexts of the loaded kubeconfig files
//! that already reach each one by server.
//!
//! Per token, CoreWeave's whoami (which organization; whether the token is accepted at all,
//! so a later 403 can only mean a missing permission) and one `GET /v1beta1/cks/clusters`;
//! the tokens are asked in parallel on the network layer ([`crate::net::all_bounded`]).

use std::collections::HashMap;
use std::io::Write;

use anyhow::Context as _;
use serde::Serialize;

use crate::commands::options::{ClusterListOptions, OutputFormat};
use crate::coreweave::cks::{list_clusters_async, CksCluster};
use crate::coreweave::client::whoami_async;
use crate::coreweave::ApiConfig;
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::{Kubeconfig, KubeconfigError};
use crate::secret::{mask_coreweave_tokens, shown, Token};

/// The version of the `-o json|yaml` schema; raised on any change that is not an addition.
pub const SCHEMA_VERSION: u32 = 1;

/// What `cluster list` reports (the `-o json|yaml` document).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema_version: u32,
    /// One per organization, in the order their tokens come.
    pub organizations: Vec<Organization>,
    /// Tokens for which no listing came (rejected, no permission, unreachable).
    pub failures: Vec<Failure>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub org: String,
    /// The tokens (masked) that belong to it, with the contexts using each.
    pub tokens: Vec<TokenRef>,
    pub clusters: Vec<ClusterRow>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRef {
    pub token: String,
    pub contexts: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRow {
    #[serde(flatten)]
    pub cluster: CksCluster,
    /// The merged contexts whose cluster's server is this cluster's endpoint.
    pub contexts: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    #[serde(flatten)]
    pub token: TokenRef,
    pub error: String,
}

/// Tokens asked at once: as `token list --check`.
const CONCURRENCY: usize = crate::commands::token::list::CHECK_CONCURRENCY;

pub fn run(
    kc: &Kubeconfig,
    sel: &Selection,
    args: &ClusterListOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if kc.files.is_empty() {
        return Err(KubeconfigError::NoFiles(kc.files_for_messages()).into());
    }
    let api = args.api.resolve()?;
    let tokens = tokens(kc, sel, args.all_tokens)?;
    let answers = ask_all(&api, &tokens);
    let report = report(kc, tokens, answers);
    let text = match args.output {
        Some(OutputFormat::Json) => {
            let mut s = serde_json::to_string_pretty(&report)?;
            s.push('\n');
            crate::secret::escape_json_text(&s).into_owned()
        }
        Some(OutputFormat::Yaml) => {
            let s = serde_saphyr::to_string(&report)?;
            if s.lines().any(crate::secret::has_hidden) {
                let mut json = serde_json::to_string_pretty(&report)?;
                json.push('\n');
                crate::secret::escape_json_text(&json).into_owned()
            } else {
                s
            }
        }
        None => table(&report),
    };
    out.write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    if !report.failures.is_empty() {
        let total = tokens_count(&report);
        anyhow::bail!(
            "{} of {total} token{} could not list clusters",
            report.failures.len(),
            if total == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

fn tokens_count(report: &Report) -> usize {
    report.failures.len()
        + report
            .organizations
            .iter()
            .map(|o| o.tokens.len())
            .sum::<usize>()
}

/// The tokens to ask about, each with the contexts that use it: the active context's, or
/// every distinct CoreWeave token (`token list`'s rows).
fn tokens(
    kc: &Kubeconfig,
    sel: &Selection,
    all: bool,
) -> anyhow::Result<Vec<(Token, Vec<String>)>> {
    if all {
        let (listing, tokens, warnings) =
            crate::commands::token::list::collect(kc, sel, jiff::Timestamp::now());
        for w in &warnings {
            eprintln!("warning: {}", shown(w));
        }
        if tokens.is_empty() {
            anyhow::bail!("the kubeconfig files hold no CoreWeave token (CW-SECRET-…)");
        }
        return Ok(tokens
            .into_iter()
            .zip(listing.tokens)
            .map(|(t, row)| (t, row.contexts.into_iter().map(|c| c.name).collect()))
            .collect());
    }
    let resolved = kc.resolve(sel)?;
    let credential = crate::commands::token::holders::credential(kc, resolved.user_origin)?;
    Ok(vec![(
        credential.token().clone(),
        vec![mask_coreweave_tokens(&resolved.context)],
    )])
}

/// One token's answer: its organization and clusters.
type Answer = Result<(String, Vec<CksCluster>), AskError>;

/// Why a token's organization and clusters are not known (shown in its row).
#[derive(Debug, thiserror::Error)]
enum AskError {
    #[error(transparent)]
    Api(#[from] crate::coreweave::ApiError),
    #[error(transparent)]
    Clusters(#[from] crate::coreweave::cks::ClustersError),
    #[error(transparent)]
    Net(crate::net::NetError),
    /// The total time ran out before this token's calls were over.
    #[error("no answer")]
    NoAnswer,
}

/// whoami, then the list, for every token, [`CONCURRENCY`] tokens at a time.
fn ask_all(api: &ApiConfig, tokens: &[(Token, Vec<String>)]) -> Vec<Answer> {
    let jobs: Vec<_> = tokens
        .iter()
        .map(|(token, _)| {
            let (api, token) = (api.clone(), token.clone());
            async move {
                let principal = whoami_async(&api, &token).await?;
                let clusters = list_clusters_async(&api, &token).await?;
                Ok((principal.org_uid, clusters))
            }
        })
        .collect();
    match crate::net::block_on(crate::net::all_bounded(jobs, CONCURRENCY, api.deadline)) {
        Ok(answers) => answers
            .into_iter()
            .map(|a| a.unwrap_or(Err(AskError::NoAnswer)))
            .collect(),
        Err(why) => tokens
            .iter()
            .map(|_| Err(AskError::Net(why.clone())))
            .collect(),
    }
}

/// Groups the answers by organization (a cluster listed for two tokens of one org is one
/// row) and marks the contexts that reach each cluster.
fn report(kc: &Kubeconfig, tokens: Vec<(Token, Vec<String>)>, answers: Vec<Answer>) -> Report {
    let reach = reaching_contexts(kc);
    let mut organizations: Vec<Organization> = Vec::new();
    let mut failures = Vec::new();
    for ((token, contexts), answer) in tokens.into_iter().zip(answers) {
        let token = TokenRef {
            token: token.masked(),
            contexts: contexts.iter().map(|c| mask_coreweave_tokens(c)).collect(),
        };
        let (org, clusters) = match answer {
            Ok(a) => a,
            Err(error) => {
                failures.push(Failure {
                    token,
                    error: shown(&error.to_string()),
                });
                continue;
            }
        };
        let at = match organizations.iter().position(|o| o.org == org) {
            Some(i) => i,
            None => {
                organizations.push(Organization {
                    org,
                    tokens: Vec::new(),
                    clusters: Vec::new(),
                });
                organizations.len() - 1
            }
        };
        let group = &mut organizations[at];
        group.tokens.push(token);
        for cluster in clusters {
            if group.clusters.iter().any(|c| c.cluster.id == cluster.id) {
                continue;
            }
            let contexts = cluster
                .server
                .as_deref()
                .and_then(|s| reach.get(s))
                .cloned()
                .unwrap_or_default();
            group.clusters.push(ClusterRow { cluster, contexts });
        }
    }
    Report {
        schema_version: SCHEMA_VERSION,
        organizations,
        failures,
    }
}

/// Server (as `token credential` normalises it) → the merged contexts whose cluster has it.
pub fn reaching_contexts(kc: &Kubeconfig) -> HashMap<String, Vec<String>> {
    let mut reach: HashMap<String, Vec<String>> = HashMap::new();
    for (name, ctx) in kc.contexts() {
        let server = ctx
            .context
            .as_ref()
            .and_then(|c| c.cluster.as_deref())
            .and_then(|c| kc.cluster(c))
            .and_then(|(_, c)| c.cluster.as_ref()?.server.as_deref());
        if let Some(Ok(server)) = server.map(crate::commands::token::credential::normal_server) {
            reach
                .entry(server)
                .or_default()
                .push(mask_coreweave_tokens(name));
        }
    }
    reach
}

/// The human form: per organization a heading naming its tokens, then one row a cluster.
fn table(report: &Report) -> String {
    let mut s = String::new();
    for org in &report.organizations {
        let tokens: Vec<String> = org
            .tokens
            .iter()
            .map(|t| match t.contexts.as_slice() {
                [] => t.token.clone(),
                c => format!("{} (context {})", t.token, c.join(", ")),
            })
            .collect();
        s.push_str(&format!(
            "Organization {}, token {}\n",
            shown(&org.org),
            shown(&tokens.join("; "))
        ));
        if org.clusters.is_empty() {
            s.push_str("  no clusters\n\n");
            continue;
        }
        let mut rows = vec![[
            "NAME", "ZONE", "STATUS", "PUBLIC", "VERSION", "SERVER", "CONTEXTS",
        ]
        .map(String::from)];
        for row in &org.clusters {
            let c = &row.cluster;
            rows.push([
                shown(&c.name),
                shown(&c.zone),
                shown(&c.status),
                if c.public { "yes" } else { "no" }.into(),
                shown(&c.version),
                c.server.as_deref().map_or("-".into(), shown),
                if row.contexts.is_empty() {
                    "-".into()
                } else {
                    shown(&row.contexts.join(", "))
                },
            ]);
        }
        let widths: Vec<usize> = (0..7)
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < r.len() {
                    let pad = widths[i] - cell.chars().count() + 2;
                    line.push_str(&" ".repeat(pad));
                }
            }
            s.push_str(line.trim_end());
            s.push('\n');
        }
        s.push('\n');
    }
    for f in &report.failures {
        s.push_str(&format!(
            "Token {}{}: {}\n",
            f.token.token,
            match f.token.contexts.as_slice() {
                [] => String::new(),
                c => format!(" (context {})", shown(&c.join(", "))),
            },
            f.error
        ));
    }
    s
}
