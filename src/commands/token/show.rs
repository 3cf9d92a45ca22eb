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

use crate::commands::options::{OutputFormat, ShowOptions};
use crate::coreweave::{ApiError, TOKEN_EXTENSION};
use crate::kubeconfig::model::CoreweaveTokenExtension;
use crate::kubeconfig::resolve::{credential_of, Selection};
use crate::kubeconfig::{Credential, Kubeconfig, Resolved, Sourced};
use crate::secret::{escape_json_text, has_hidden, mask_coreweave_tokens, quoted, shown, Token};
use crate::time::{humanize, parse_rfc3339};
use jiff::{SignedDuration, Timestamp};

/// A token expiring within this many days gets a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 7;

/// Where a new token is created, for the expiry warnings.
const TOKENS_PAGE: &str = "https://console.coreweave.com/tokens";

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
    /// `token` or `tokenFile`: the key the token is kept under; `keyring` when an exec
    /// entry of this plugin reads it from the OS keyring.
    pub stored_in: &'static str,
    pub token_file: Option<PathBuf>,
    /// The OS keyring item, when `storedIn` is `keyring`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyring_item: Option<String>,
    /// Masked unless `--raw`.
    pub token: String,
    pub coreweave_token: bool,
    /// Other contexts whose user has the same token (they change with a rotate).
    pub shared_with: Vec<String>,
    /// From the `coreweave.com/token` extension, as written there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Whole days left (counted toward zero: 0 within the last day, negative once
    /// expired); absent when `expires` is absent or not an RFC 3339 time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
    /// `in 3 days`, `expired 2 days ago`: the summary's wording of the same instant.
    #[serde(skip)]
    pub expires_relative: Option<String>,
    /// The extension's `source` (`console`, `minted`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_source: Option<String>,
    /// The extension's `rotatedAt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
    /// The answer of the CoreWeave API, with `--check`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    pub warnings: Vec<String>,
}

/// `--check`'s result: accepted with whose token it is, or rejected with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub accepted: bool,
    /// The principal's uid.
    pub principal: Option<String>,
    /// The principal's organization uid.
    pub org: Option<String>,
    pub error: Option<String>,
}

/// The token's expiry as the kubeconfig records it, against the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// As written in the extension.
    pub expires: String,
    /// From now until it expires (negative once expired); `None` when `expires` is not an
    /// RFC 3339 time.
    pub left: Option<SignedDuration>,
}

impl Expiry {
    pub fn at(expires: &str, now: Timestamp) -> Expiry {
        Expiry {
            expires: expires.to_string(),
            left: parse_rfc3339(expires.trim()).map(|t| t.duration_since(now)),
        }
    }

    pub fn expired(&self) -> Option<bool> {
        self.left.map(|d| d <= SignedDuration::ZERO)
    }

    pub fn in_days(&self) -> Option<i64> {
        self.left.map(|d| d.as_secs() / 86_400)
    }

    /// `in 3 days`, `expired 2 days ago`, `not an RFC 3339 time`.
    pub fn relative(&self) -> String {
        match self.left {
            Some(d) if d <= SignedDuration::ZERO => format!("expired {} ago", humanize(d)),
            Some(d) => format!("in {}", humanize(d)),
            None => "not an RFC 3339 time".into(),
        }
    }

    /// The stderr warning, when the token is expired or expires within
    /// [`EXPIRY_WARNING_DAYS`].
    pub fn warning(&self) -> Option<String> {
        let d = self.left?;
        let what = if d <= SignedDuration::ZERO {
            format!("token expired {} ago", humanize(d))
        } else if d < SignedDuration::from_secs(EXPIRY_WARNING_DAYS * 86_400) {
            format!("token expires in {}", humanize(d))
        } else {
            return None;
        };
        Some(format!(
            "{what} ({}); create a new one at {TOKENS_PAGE}, then run `kubectl coreweave token rotate`",
            self.expires
        ))
    }
}

/// Two additions reach beyond the files: the expiry recorded in the user entry's
/// `coreweave.com/token` extension (shown, and warned about on stderr when it is near or
/// past), and `--check`, which asks the CoreWeave API whether it accepts the token. Only
/// `--check` touches the network; without it no runtime, TLS or socket is ever set up.
pub fn run(
    kc: &Kubeconfig,
    sel: &Selection,
    args: &ShowOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let resolved = kc.resolve(sel)?;
    // An exec entry of this plugin is followed into the keyring; another program's is
    // reported, never run.
    let credential = super::holders::credential(kc, resolved.user_origin)?;
    // Settings are checked before anything is printed or sent.
    let api = if args.check {
        Some(args.api.resolve()?)
    } else {
        None
    };
    let extension = token_extension(kc, resolved.user_origin);
    let expiry = extension
        .and_then(|e| e.expires.as_deref())
        .map(|e| Expiry::at(e, Timestamp::now()));
    let mut warnings = warnings(&resolved, credential.token());
    if matches!(credential, Credential::Keyring { .. }) {
        warnings.extend(super::holders::foreign_program_note(
            kc,
            resolved.user_origin,
        ));
    }
    if let Some(e) = expiry.as_ref().filter(|e| e.left.is_none()) {
        warnings.push(format!(
            "the {TOKEN_EXTENSION} extension of user {} has expires {}, which is not an RFC 3339 time",
            quoted(&resolved.user),
            quoted(&e.expires)
        ));
    }
    if let Some(w) = expiry.as_ref().and_then(Expiry::warning) {
        eprintln!("warning: {}", shown(&w));
        // A script reading -o json|yaml sees the same warning in the document.
        if args.output.is_some() {
            warnings.push(w);
        }
    }
    // A failure to get an answer is not a rejection: it ends the command here, with
    // nothing on stdout, so no script mistakes it for a verdict on the token.
    let verdict = match &api {
        Some(cfg) => match crate::coreweave::whoami(cfg, credential.token()) {
            Err(e) if !e.is_rejection() => return Err(e.into()),
            answer => Some(answer),
        },
        None => None,
    };
    let check = verdict.as_ref().map(check_of);
    let rejected: Option<ApiError> = verdict.and_then(Result::err);
    if args.raw && args.output.is_none() {
        for w in &warnings {
            eprintln!("warning: {}", shown(w));
        }
        // With --check, the token goes to stdout only once the API has accepted it.
        if let Some(e) = rejected {
            return Err(e.into());
        }
        writeln!(out, "{}", credential.token().expose()).context("cannot write to stdout")?;
        return Ok(());
    }
    let extras = Extras {
        expiry,
        extension,
        check,
    };
    // Nor is a rejected token printed whole inside -o json|yaml --raw.
    let raw = args.raw && rejected.is_none();
    let report = report(kc, &resolved, &credential, raw, warnings, extras);
    let text = rendered(&report, args.output)?;
    out.write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    // Printed first, then exit 1: the report says why, and scripts can test the status.
    match rejected {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// What `--check` found: whom the API says the token is, or why it rejected it.
fn check_of(verdict: &Result<crate::coreweave::Principal, ApiError>) -> Check {
    match verdict {
        Ok(p) => Check {
            accepted: true,
            principal: Some(p.uid.clone()),
            org: Some(p.org_uid.clone()),
            error: None,
        },
        Err(e) => Check {
            accepted: false,
            principal: None,
            org: None,
            error: Some(e.to_string()),
        },
    }
}

/// The report as `-o json`, `-o yaml` or the summary.
fn rendered(report: &Report, output: Option<OutputFormat>) -> anyhow::Result<String> {
    // Structured output keeps every value exact, but never lets a name or a server from
    // the file drive the terminal: control and invisible characters are escapes.
    let json = || -> anyhow::Result<String> {
        let mut s = escape_json_text(&serde_json::to_string_pretty(&report)?).into_owned();
        s.push('\n');
        Ok(s)
    };
    Ok(match output {
        Some(OutputFormat::Json) => json()?,
        Some(OutputFormat::Yaml) => {
            let yaml = serde_saphyr::to_string(&report)?;
            // The YAML writer leaves some of them (U+202E, …) as they are; JSON is YAML, and
            // its escapes say the same.
            if has_hidden(&yaml.replace('\n', "")) {
                json()?
            } else {
                yaml
            }
        }
        None => summary(report),
    })
}

/// The `coreweave.com/token` extension of the user entry at `origin`, if it has one (the
/// last one of that name, as a map keyed by name would keep).
pub(crate) fn token_extension(
    kc: &Kubeconfig,
    origin: Sourced,
) -> Option<&CoreweaveTokenExtension> {
    kc.files[origin.file].config.users[origin.index]
        .user
        .as_ref()?
        .extensions
        .as_ref()?
        .iter()
        .rev()
        .find(|e| e.name == TOKEN_EXTENSION)?
        .extension
        .as_ref()
}

/// What the report shows beyond the kubeconfig's own entries.
struct Extras<'a> {
    expiry: Option<Expiry>,
    extension: Option<&'a CoreweaveTokenExtension>,
    check: Option<Check>,
}

fn warnings(r: &Resolved, token: &Token) -> Vec<String> {
    let mut w = Vec::new();
    if r.cluster_origin.is_none() {
        let cluster = r.cluster.as_deref().unwrap_or("");
        w.push(if cluster.is_empty() {
            format!(
                "context {} names no cluster; kubectl cannot use it",
                quoted(&r.context)
            )
        } else {
            format!(
                "context {} names cluster {}, which no kubeconfig file defines; kubectl cannot use it",
                quoted(&r.context),
                quoted(cluster)
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
    extras: Extras,
) -> Report {
    let token = cred.token();
    let ext = extras.extension;
    Report {
        context: mask_coreweave_tokens(&r.context),
        context_file: kc.path(r.context_origin.file).to_path_buf(),
        cluster: r.cluster.as_deref().map(mask_coreweave_tokens),
        cluster_defined: r.cluster_origin.is_some(),
        server: r.server.as_deref().map(mask_coreweave_tokens),
        namespace: r.namespace.as_deref().map(mask_coreweave_tokens),
        user: mask_coreweave_tokens(&r.user),
        user_file: kc.path(r.user_origin.file).to_path_buf(),
        stored_in: match cred {
            Credential::Inline(_) => "token",
            Credential::File { .. } => "tokenFile",
            Credential::Keyring { .. } => "keyring",
        },
        token_file: match cred {
            Credential::File { path, .. } => Some(path.clone()),
            _ => None,
        },
        keyring_item: match cred {
            Credential::Keyring { reference, .. } => Some(reference.clone()),
            _ => None,
        },
        token: if raw {
            token.expose().to_string()
        } else {
            token.masked()
        },
        coreweave_token: token.is_coreweave(),
        shared_with: shared_with(kc, &r.context, token)
            .iter()
            .map(|c| mask_coreweave_tokens(c))
            .collect(),
        expires: extras
            .expiry
            .as_ref()
            .map(|e| mask_coreweave_tokens(&e.expires)),
        expires_in_days: extras.expiry.as_ref().and_then(Expiry::in_days),
        expired: extras.expiry.as_ref().and_then(Expiry::expired),
        expires_relative: extras.expiry.as_ref().map(Expiry::relative),
        token_source: ext
            .and_then(|e| e.source.as_deref())
            .map(mask_coreweave_tokens),
        rotated_at: ext
            .and_then(|e| e.rotated_at.as_deref())
            .map(mask_coreweave_tokens),
        check: extras.check,
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
    let stored = match (&r.token_file, &r.keyring_item) {
        (Some(p), _) => format!("tokenFile {}", p.display()),
        (None, Some(item)) => format!("OS keyring, item {item:?}"),
        (None, None) => "token".into(),
    };
    rows.push(("Token", format!("{} (stored in {stored})", r.token)));
    if let (Some(expires), Some(when)) = (&r.expires, &r.expires_relative) {
        rows.push(("Expires", format!("{expires} ({when})")));
    }
    let shared = if r.shared_with.is_empty() {
        "no other context".into()
    } else {
        r.shared_with.join(", ")
    };
    rows.push(("Shared with", shared));
    if let Some(c) = &r.check {
        let line = if c.accepted {
            format!(
                "accepted (principal {}, org {})",
                c.principal.as_deref().unwrap_or("?"),
                c.org.as_deref().unwrap_or("?")
            )
        } else {
            format!(
                "rejected: {}",
                c.error.as_deref().unwrap_or("no reason given")
            )
        };
        rows.push(("API check", line));
    }
    // Every value, a name from the file or an answer from the API, is printed through
    // the one masking function (the token in it is masked already).
    let mut s = String::new();
    for (k, v) in rows {
        s.push_str(&format!("{:<12} {}\n", format!("{k}:"), shown(&v)));
    }
    for w in &r.warnings {
        s.push_str(&format!("Warning:     {}\n", shown(w)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubeconfig::load::parse;
    use std::path::Path;

    const NOW: i64 = 1_748_779_200; // 2025-06-01T12:00:00Z

    fn now() -> Timestamp {
        Timestamp::from_second(NOW).unwrap()
    }
    const DAY: i64 = 86_400;

    #[test]
    fn expiry_in_days_and_words() {
        let soon = Expiry::at("2025-06-04T13:00:00Z", now());
        assert_eq!(soon.in_days(), Some(3));
        assert_eq!(soon.expired(), Some(false));
        assert_eq!(soon.relative(), "in 3 days");
        let w = soon.warning().expect("within 7 days");
        assert!(
            w.starts_with("token expires in 3 days (2025-06-04T13:00:00Z)"),
            "{w}"
        );

        let gone = Expiry::at("2025-05-30T11:00:00+00:00", now());
        assert_eq!(gone.in_days(), Some(-2));
        assert_eq!(gone.expired(), Some(true));
        assert_eq!(gone.relative(), "expired 2 days ago");
        assert!(gone
            .warning()
            .unwrap()
            .starts_with("token expired 2 days ago"));

        let hour = Expiry::at("2025-06-01T13:00:00Z", now());
        assert_eq!(hour.in_days(), Some(0));
        assert_eq!(hour.relative(), "in 1 hour");
        assert!(hour.warning().is_some());

        let far = Expiry::at("2025-06-09T12:00:01Z", now());
        assert_eq!(far.in_days(), Some(8));
        assert_eq!(far.warning(), None);
        let edge = Expiry::at("2025-06-08T11:59:59Z", now());
        assert!(edge.left.unwrap() < SignedDuration::from_secs(EXPIRY_WARNING_DAYS * DAY));
        assert!(edge.warning().is_some());

        let bad = Expiry::at("next tuesday", now());
        assert_eq!(
            (bad.in_days(), bad.expired(), bad.warning()),
            (None, None, None)
        );
        assert_eq!(bad.relative(), "not an RFC 3339 time");
    }

    fn extensions_of(yaml: &str) -> Option<Vec<crate::kubeconfig::model::NamedExtension>> {
        let cfg = parse(Path::new("k"), yaml).expect("parses");
        cfg.users[0].user.clone().unwrap().extensions
    }

    #[test]
    fn the_token_extension_is_read_and_others_do_not_break_the_file() {
        let yaml = r#"users:
- name: u
  user:
    token: t
    extensions:
    - name: other.example/list
      extension: [1, 2, {a: b}]
    - name: other.example/scalar
      extension: 5
    - name: other.example/null
      extension:
    - name: other.example/nested
      extension: {expires: {when: 1}, source: 12, rotatedAt: true}
    - name: coreweave.com/token
      extension:
        expires: 2025-06-04T13:00:00Z
        source: console
        rotatedAt: "2025-05-01T00:00:00Z"
        apiVersion: v1
        extra: {deep: [x]}
"#;
        let ext = extensions_of(yaml).expect("extensions");
        assert_eq!(ext.len(), 5);
        assert_eq!(ext[0].extension, None);
        assert_eq!(ext[1].extension, None);
        assert_eq!(ext[2].extension, None);
        assert_eq!(ext[3].extension, Some(CoreweaveTokenExtension::default()));
        let ours = ext[4].extension.clone().expect("ours");
        assert_eq!(ext[4].name, TOKEN_EXTENSION);
        assert_eq!(ours.expires.as_deref(), Some("2025-06-04T13:00:00Z"));
        assert_eq!(ours.source.as_deref(), Some("console"));
        assert_eq!(ours.rotated_at.as_deref(), Some("2025-05-01T00:00:00Z"));
        assert_eq!(
            extensions_of("users:\n- name: u\n  user: {token: t}\n"),
            None
        );
        assert_eq!(
            extensions_of("users:\n- name: u\n  user: {token: t, extensions: null}\n"),
            None
        );
    }
}
