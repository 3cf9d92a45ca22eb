//! `kubectl coreweave objectstorage credentials`: an Object Storage key for the active
//! user's token, printed as AWS's `credential_process` JSON (`Version: 1`, `AccessKeyId`,
//! `SecretAccessKey`, `SessionToken` when there is one, `Expiration`) or as environment
//! variables.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::{cache, settings};
use crate::commands::options::{CredentialsOptions, KeyKind, KeyOutput};
use crate::coreweave::access_key::{create_access_key, AccessKey, Lifetime};
use crate::coreweave::s3_check::{wait_until_accepted, Check};
use crate::coreweave::temporary_credentials::exchange;
use crate::coreweave::ApiConfig;
use crate::kubeconfig::edit::ExecKind;
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::{Kubeconfig, Sourced};
use crate::secret::{quoted, Token};

/// `--duration`'s default for `--key-kind access-key`.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(3600);

/// Which key to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Make {
    Exchange,
    AccessKey(Lifetime),
}

impl Make {
    fn of(args: &CredentialsOptions) -> anyhow::Result<Make> {
        match args.key_kind.unwrap_or_default() {
            KeyKind::ApiToken if args.duration.is_some() || args.permanent => bail!(
                "--duration and --permanent are for keys made with POST /v1/cwobject/access-key; \
                 add --key-kind access-key (the token exchange's keys expire when CoreWeave says)"
            ),
            KeyKind::ApiToken => Ok(Make::Exchange),
            KeyKind::AccessKey if args.permanent => Ok(Make::AccessKey(Lifetime::Permanent)),
            KeyKind::AccessKey => Ok(Make::AccessKey(Lifetime::Temporary(
                args.duration.unwrap_or(DEFAULT_DURATION),
            ))),
        }
    }

    /// The kept key's kind (`cache.rs`); `None` for a key never kept.
    fn slot(self) -> Option<String> {
        match self {
            Make::Exchange => Some("api-token".into()),
            Make::AccessKey(Lifetime::Temporary(d)) => Some(d.as_secs().to_string()),
            Make::AccessKey(Lifetime::Permanent) => None,
        }
    }
}

/// The key comes from the token exchange (`coreweave::temporary_credentials`: the user's
/// own identity and groups), or with `--key-kind access-key` from `POST
/// /v1/cwobject/access-key` (`--duration`, `--permanent`). The AWS CLI runs this for every
/// command and keeps nothing, so a kept key is looked up before anything touches the
/// network (`cache.rs`) and printed at once; a miss costs one API round trip, then a new
/// key is checked against the S3 endpoint until it is accepted (`coreweave::s3_check`,
/// bounded by `--wait-timeout`, skipped with `--no-wait`) and only then kept. The token is
/// found as `token show` finds it (inline, `tokenFile`, or an exec entry of this plugin,
/// read through the keyring as `token credential` reads it) and is sent only when it is a
/// CoreWeave API access token. Nothing printed or kept holds the token.
pub fn run(
    kc: &Kubeconfig,
    sel: &Selection,
    args: &CredentialsOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let resolved = kc.resolve(sel)?;
    // Settings are checked before any token is read for sending.
    let make = Make::of(args)?;
    let api = args.api.resolve()?;
    let env = |k: &str| std::env::var(k).ok();
    let endpoint = settings::endpoint(args.s3.endpoint.as_deref(), &env)?;
    let region = settings::region(args.s3.region.as_deref(), resolved.server.as_deref(), &env)?
        .map(|(r, _)| r);
    let check = match (&region, args.no_wait) {
        (_, true) => None,
        (Some(region), false) => Some(Check {
            endpoint: &endpoint,
            region,
            request_timeout: api.timeout,
            wait: args.wait_timeout,
        }),
        (None, false) => bail!(
            "no availability zone to check new keys with: the context's server is not a CKS \
             endpoint (https://<org>-<hash>.k8s.<zone>.coreweave.com) and AWS_REGION is unset; \
             give --region ZONE (e.g. us-east-04a), or --no-wait"
        ),
    };
    let token = coreweave_token(kc, &resolved)?;
    let key = key_for(&api, &token, make, check.as_ref())?;
    let text = match args.output {
        KeyOutput::Json => credential_process_json(&key),
        KeyOutput::Env => env_lines(&key, true, &endpoint, region.as_deref()),
        KeyOutput::EnvNoExport => {
            check_bare_values(&key)?;
            env_lines(&key, false, &endpoint, region.as_deref())
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// The token of the resolved user, when it is a CoreWeave API access token (no other
/// token is ever sent to the CoreWeave API).
pub(super) fn coreweave_token(
    kc: &Kubeconfig,
    resolved: &crate::kubeconfig::resolve::Resolved,
) -> anyhow::Result<Token> {
    let token = token_of(kc, resolved.user_origin)?;
    if !token.is_coreweave() {
        bail!(
            "user {} (in {}) does not hold a CoreWeave API access token (CW-SECRET-…); \
             it is not sent to the CoreWeave API; use --context or --user to pick a CoreWeave user",
            quoted(&resolved.user),
            crate::secret::shown_path(kc.path(resolved.user_origin.file))
        );
    }
    Ok(token)
}

/// A kept key with more than its margin left, else a new one: checked against the S3
/// endpoint (unless `check` is `None`), then kept for the next call.
fn key_for(
    api: &ApiConfig,
    token: &Token,
    make: Make,
    check: Option<&Check<'_>>,
) -> anyhow::Result<AccessKey> {
    // The kept record counts whole seconds since the Unix epoch.
    let now = jiff::Timestamp::now().as_second();
    let slot = make.slot();
    if let Some(kept) = slot
        .as_deref()
        .and_then(|s| cache::get(token, &api.endpoint, s, now))
    {
        return Ok(kept);
    }
    let key = match make {
        Make::Exchange => exchange(api, token)?,
        Make::AccessKey(lifetime) => create_access_key(api, token, lifetime)?,
    };
    if let Some(check) = check {
        wait_until_accepted(&key, check)?;
    }
    if let Some(slot) = slot {
        if !cache::put(token, &api.endpoint, &slot, &key, now) {
            eprintln!(
                "warning: no keyring to keep the Object Storage key in (the kernel session \
                 keyring on Linux, the OS keyring elsewhere); every call makes a new key"
            );
        }
    }
    Ok(key)
}

/// The token of the user entry at `origin`: inline or `tokenFile` as kubectl reads it, or
/// the OS keyring item of an exec entry of this plugin (read as `token credential` reads
/// it, through its short-lived kernel copy). Another program's exec entry is never run.
fn token_of(kc: &Kubeconfig, origin: Sourced) -> anyhow::Result<Token> {
    let err = match kc.credential(origin) {
        Ok(c) => return Ok(c.token().clone()),
        Err(e) => e,
    };
    let entry = &kc.files[origin.file].config.users[origin.index];
    if entry.user.as_ref().is_none_or(|u| u.exec.is_none()) {
        return Err(err.into());
    }
    let file = crate::secret::shown_path(kc.path(origin.file));
    match entry.user.as_ref().and_then(|u| u.exec_kind()) {
        Some(ExecKind::Plugin { reference }) => {
            let interactive = std::io::stdin().is_terminal();
            // The item's server binding is about which clusters may receive the token;
            // here it goes only to CoreWeave's API, which is what the token is for.
            crate::keystore::read_for_plugin(&reference, interactive)
                .map(|item| item.token)
                .with_context(|| {
                    format!(
                        "user {} (in {file}) keeps its token in the OS keyring",
                        quoted(&entry.name)
                    )
                })
        }
        Some(ExecKind::Other { command }) => bail!(
            "user {} (in {file}) runs another exec credential plugin ({}); kubectl-coreweave does not run it",
            quoted(&entry.name),
            quoted(&command)
        ),
        None => Err(err.into()),
    }
}

/// AWS's `credential_process` answer.
pub fn credential_process_json(key: &AccessKey) -> String {
    let mut v = serde_json::json!({
        "Version": 1,
        "AccessKeyId": key.access_key_id,
        "SecretAccessKey": key.secret_key.expose(),
    });
    if let Some(s) = &key.session_token {
        v["SessionToken"] = s.expose().into();
    }
    if let Some(at) = key.expiry {
        v["Expiration"] = at.to_string().into();
    }
    format!("{v}\n")
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (when there is one),
/// `AWS_REGION` (when one is known) and `AWS_ENDPOINT_URL_S3`, one a line, as `aws
/// configure export-credentials` prints them: `export K='v'` for a shell's `eval`, or bare
/// `K=v` for env files. The values are printable ASCII without spaces (`access_key` and
/// `temporary_credentials` refuse anything else); for the shell a value is single-quoted
/// unless it is plainly safe; bare lines are written only after
/// [`check_bare_values`] found every value plainly safe.
pub fn env_lines(key: &AccessKey, export: bool, endpoint: &str, region: Option<&str>) -> String {
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", key.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", key.secret_key.expose()),
    ];
    if let Some(s) = &key.session_token {
        vars.push(("AWS_SESSION_TOKEN", s.expose()));
    }
    if let Some(r) = region {
        vars.push(("AWS_REGION", r));
    }
    vars.push(("AWS_ENDPOINT_URL_S3", endpoint));
    let mut text = String::new();
    for (name, value) in vars {
        if export {
            text.push_str(&format!("export {name}={}\n", sh_quote(value)));
        } else {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    text
}

/// A word for a POSIX shell: as is when made of safe characters only, else single-quoted.
pub fn sh_quote(value: &str) -> String {
    if is_shell_safe(value) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// Whether a shell reads `value` as itself, unquoted: nothing it expands, splits or
/// interprets (`$`, backticks, quotes, `~`, globs, spaces, ...).
fn is_shell_safe(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/+=._-:,@%".contains(c))
}

/// `-o env-no-export` writes values bare, as env files (`docker --env-file`, systemd's
/// `EnvironmentFile`) take them, with no quotes to strip; a shell sourcing the same file
/// (`set -a; . file`) would run `$(…)` or backticks in a value. So a value from the API that
/// a shell would interpret is refused, never printed: AWS-style keys never hold one.
fn check_bare_values(key: &AccessKey) -> anyhow::Result<()> {
    let mut fields = vec![
        ("access key id", key.access_key_id.as_str()),
        ("secret key", key.secret_key.expose()),
    ];
    if let Some(s) = &key.session_token {
        fields.push(("session token", s.expose()));
    }
    for (name, value) in fields {
        if !is_shell_safe(value) {
            bail!(
                "the Object Storage API answered with a {name} holding characters a shell would interpret; -o env-no-export writes values unquoted, so it prints nothing: use -o env (quoted for a shell) or -o json"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(session: Option<&str>) -> AccessKey {
        AccessKey {
            access_key_id: "CWKEY".into(),
            secret_key: Token::new("a/b+c$(x)'y"),
            session_token: session.map(Token::new),
            principal_name: None,
            expiry: Some("2026-12-05T11:00:00Z".parse().unwrap()),
        }
    }

    #[test]
    fn json_is_aws_credential_process_version_1() {
        let v: serde_json::Value =
            serde_json::from_str(&credential_process_json(&key(None))).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["AccessKeyId"], "CWKEY");
        assert_eq!(v["SecretAccessKey"], "a/b+c$(x)'y");
        assert_eq!(v["Expiration"], "2026-12-05T11:00:00Z");
        assert!(v.get("SessionToken").is_none());
        let v: serde_json::Value =
            serde_json::from_str(&credential_process_json(&key(Some("st")))).unwrap();
        assert_eq!(v["SessionToken"], "st");
    }

    #[test]
    fn env_lines_are_shell_safe() {
        let text = env_lines(&key(None), true, "https://cwobject.com", None);
        assert_eq!(
            text,
            "export AWS_ACCESS_KEY_ID=CWKEY\n\
             export AWS_SECRET_ACCESS_KEY='a/b+c$(x)'\\''y'\n\
             export AWS_ENDPOINT_URL_S3=https://cwobject.com\n"
        );
        assert!(check_bare_values(&key(None)).is_err());
        let mut plain = key(Some("st"));
        plain.secret_key = Token::new("a/b+c=");
        check_bare_values(&plain).expect("plain values");
        plain.access_key_id = "`id`".into();
        let e = check_bare_values(&plain).expect_err("backticks");
        assert!(!e.to_string().contains("`id`"), "{e}");
        let bare = env_lines(
            &key(Some("st")),
            false,
            "http://cwlota.com",
            Some("us-east-04a"),
        );
        assert!(
            bare.ends_with("AWS_REGION=us-east-04a\nAWS_ENDPOINT_URL_S3=http://cwlota.com\n"),
            "{bare}"
        );
        assert!(bare.contains("AWS_SESSION_TOKEN=st\n"), "{bare}");
        assert!(bare.starts_with("AWS_ACCESS_KEY_ID=CWKEY\n"), "{bare}");
    }
}
