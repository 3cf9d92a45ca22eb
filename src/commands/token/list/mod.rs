//! `kubectl coreweave token list`: every distinct CoreWeave token reachable through the
//! loaded kubeconfig files (shadowed user entries included), where each is stored, which
//! user entries hold it, which contexts use it and when it expires; with `--check`, whether
//! CoreWeave's whoami still accepts each one.
//!
//! It owns the grouping (user entries → distinct tokens → contexts), the bounded parallel
//! check and the two renderings: an 80-column table and a documented JSON/YAML schema
//! (README, "token list"): `collect.rs` groups, `table.rs` lays out the table. Loading,
//! resolving and the API call are the shared ones.

use std::io::{IsTerminal, Write};

use anyhow::Context as _;
use serde::Serialize;

use crate::commands::options::{ListOptions, OutputFormat};
use crate::coreweave::{ApiConfig, ApiError, Principal};
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::{Kubeconfig, KubeconfigError};
use crate::secret::{escape_controls, mask_coreweave_tokens, Token};
use jiff::Timestamp;

mod collect;
mod table;

pub use collect::collect;
use table::table;

/// At most this many whoami calls are in flight at once: enough to hide the latency of a
/// fleet of tokens, few enough not to look like a flood to the API's rate limiter.
pub const CHECK_CONCURRENCY: usize = 4;

/// `--check` found a token that the API rejected or whose recorded expiry has passed.
pub const EXIT_REJECTED: u8 = 1;
/// `--check` could not get a verdict for some token (and none was rejected or expired).
pub const EXIT_UNREACHABLE: u8 = 3;

/// The version of the `-o json|yaml` schema; raised on any change that is not an addition.
pub const SCHEMA_VERSION: u32 = 1;

/// The table is laid out for a terminal this wide.
const TABLE_WIDTH: usize = 80;
/// Users or contexts shown per row before the rest are counted as `+N more`.
const MAX_LINES: usize = 3;

/// What `token list` reports (the `-o json|yaml` document). Every string that comes from a
/// kubeconfig has any `CW-SECRET-…` run in it masked.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub schema_version: u32,
    /// The files read, in precedence order (a holder's or context's `file` is one of them).
    pub files: Vec<String>,
    /// The context `token show` would use: `--context`, else `current-context`.
    pub current_context: Option<String>,
    /// One per distinct CoreWeave token, in order of first appearance in the files.
    pub tokens: Vec<TokenEntry>,
    /// User entries not listed: no CoreWeave token (another kind of credential, a token
    /// without the `CW-SECRET-` prefix, nothing), or a token that cannot be read.
    pub other_users: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenEntry {
    /// Masked: `CW-SECRET-…1a2b`.
    pub token: String,
    /// Every user entry holding the token, in file order, shadowed ones included.
    pub holders: Vec<Holder>,
    /// The merged contexts (kubectl's view) whose user is a holder that is not shadowed.
    pub contexts: Vec<ContextRef>,
    /// The earliest expiry the holders record (`coreweave.com/token` extension), as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
    /// Expired, or expires within 7 days.
    pub expiry_warning: bool,
    /// Seconds left at the time of listing, for the table.
    #[serde(skip)]
    pub expires_in_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckResult>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    pub user: String,
    pub file: String,
    /// A user of the same name in an earlier file wins; kubectl never uses this entry, but
    /// `token rotate` still changes it.
    pub shadowed: bool,
    pub storage: Storage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Where a holder keeps the token: `{"kind": "token"}`, `{"kind": "tokenFile", "path": …}`.
/// A credential kept elsewhere (an exec entry reading a keyring) becomes another kind here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Storage {
    Token,
    TokenFile {
        path: String,
    },
    /// `token store` put it in the OS keyring; the user entry runs this plugin's
    /// `token credential ITEM`.
    Keyring {
        item: String,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextRef {
    pub name: String,
    pub file: String,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub status: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Why the token was rejected or no verdict came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    Accepted,
    /// 401/403: the API does not take the token.
    Rejected,
    /// No verdict: no connection, timeout, 429, 5xx or an answer that is not whoami's.
    Unreachable,
}

/// An error that ends the command with its own exit status: printed as one `error:` line.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CheckFailed {
    pub status: u8,
    pub message: String,
}

pub fn run(
    kc: &Kubeconfig,
    sel: &Selection,
    args: &ListOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if kc.files.is_empty() {
        return Err(KubeconfigError::NoFiles(kc.files_for_messages()).into());
    }
    // `--context` only moves the current mark, but a name that is not there is a typo to
    // report, as `token show` does, not a mark that silently goes nowhere.
    if let Some(name) = sel.context.as_deref().filter(|c| !c.is_empty()) {
        if kc.context(name).is_none() {
            return Err(KubeconfigError::UnknownContext {
                name: name.to_string(),
                files: kc.files_for_messages(),
            }
            .into());
        }
    }
    // Settings are checked before anything is printed or sent.
    let api = if args.check {
        Some(args.api.resolve()?)
    } else {
        None
    };
    let (mut listing, tokens, warnings) = collect(kc, sel, Timestamp::now());
    for w in &warnings {
        eprintln!("warning: {}", escape_controls(&mask_coreweave_tokens(w)));
    }
    if let Some(cfg) = &api {
        let checks = check_all(cfg, &tokens);
        for (entry, check) in listing.tokens.iter_mut().zip(checks) {
            entry.check = Some(check);
        }
    }
    let text = match args.output {
        Some(OutputFormat::Json) => {
            let mut s = serde_json::to_string_pretty(&listing)?;
            s.push('\n');
            s
        }
        Some(OutputFormat::Yaml) => serde_saphyr::to_string(&listing)?,
        None => table(&listing, use_colour()),
    };
    out.write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    match api {
        Some(_) => verdict_status(&listing),
        None => Ok(()),
    }
}

/// Colour only for a person at a terminal, and not when `NO_COLOR` is set to anything.
fn use_colour() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// A string from a kubeconfig made safe to print anywhere: no whole token inside.
fn clean(s: &str) -> String {
    mask_coreweave_tokens(s)
}

/// Ask whoami about every token, [`CHECK_CONCURRENCY`] at a time, as tasks on the
/// network layer's runtime; the results in order.
pub fn check_all(cfg: &ApiConfig, tokens: &[Token]) -> Vec<CheckResult> {
    let not_checked = |why: String| CheckResult {
        status: Verdict::Unreachable,
        principal: None,
        org: None,
        error: Some(why),
    };
    let jobs: Vec<_> = tokens
        .iter()
        .map(|token| {
            let (cfg, token) = (cfg.clone(), token.clone());
            async move { to_check(crate::coreweave::client::whoami_async(&cfg, &token).await) }
        })
        .collect();
    match crate::net::block_on(crate::net::all_bounded(
        jobs,
        CHECK_CONCURRENCY,
        cfg.deadline,
    )) {
        Ok(results) => results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| not_checked("not checked".into())))
            .collect(),
        Err(why) => tokens
            .iter()
            .map(|_| not_checked(why.to_string()))
            .collect(),
    }
}

fn to_check(answer: Result<Principal, ApiError>) -> CheckResult {
    match answer {
        Ok(p) => CheckResult {
            status: Verdict::Accepted,
            principal: Some(clean(&p.uid)),
            org: Some(clean(&p.org_uid)),
            error: None,
        },
        Err(e) => CheckResult {
            status: if e.is_rejection() {
                Verdict::Rejected
            } else {
                Verdict::Unreachable
            },
            principal: None,
            org: None,
            error: Some(clean(&e.to_string())),
        },
    }
}

/// `--check`'s exit status: a rejected or expired token outranks a missing verdict, since
/// it is certain that something must be done.
fn verdict_status(listing: &Listing) -> anyhow::Result<()> {
    let total = listing.tokens.len();
    let status = |v: Verdict| {
        listing
            .tokens
            .iter()
            .filter(|t| t.check.as_ref().map(|c| c.status) == Some(v))
            .count()
    };
    let rejected = status(Verdict::Rejected);
    let expired = listing
        .tokens
        .iter()
        .filter(|t| t.expired == Some(true))
        .filter(|t| t.check.as_ref().map(|c| c.status) != Some(Verdict::Rejected))
        .count();
    let unreachable = status(Verdict::Unreachable);
    let of = |n: usize| format!("{n} of {total} token{}", if total == 1 { "" } else { "s" });
    if rejected + expired > 0 {
        let mut what = Vec::new();
        if rejected > 0 {
            what.push(format!("{} rejected by the CoreWeave API", of(rejected)));
        }
        if expired > 0 {
            what.push(format!("{} past their recorded expiry", of(expired)));
        }
        return Err(CheckFailed {
            status: EXIT_REJECTED,
            message: what.join("; "),
        }
        .into());
    }
    if unreachable > 0 {
        return Err(CheckFailed {
            status: EXIT_UNREACHABLE,
            message: format!("no answer from the CoreWeave API for {}", of(unreachable)),
        }
        .into());
    }
    Ok(())
}
