//! `kubectl coreweave objectstorage credentials`: an Object Storage access key for the
//! active user's token, printed as AWS's `credential_process` JSON (`Version: 1`,
//! `AccessKeyId`, `SecretAccessKey`, `SessionToken` when there is one, `Expiration`) or as
//! environment variables.
//!
//! The AWS CLI runs this for every command and keeps nothing, so a kept key is looked up
//! before anything touches the network (`cache.rs`); a miss costs one API round trip. The
//! token is found as `token show` finds it (inline, `tokenFile`, or an exec entry of this
//! plugin, read through the keyring as `token credential` reads it) and is sent only when it
//! is a CoreWeave API access token. Nothing printed or kept holds the token.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::{cache, S3_ENDPOINT};
use crate::cli::{KeyOutput, ObjectCredentialsArgs};
use crate::coreweave::access_key::{create_access_key, AccessKey, Lifetime};
use crate::coreweave::ApiConfig;
use crate::kubeconfig::edit::ExecKind;
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::{Kubeconfig, Sourced};
use crate::secret::{quoted, Token};

pub fn run(
    kc: &Kubeconfig,
    sel: &Selection,
    args: &ObjectCredentialsArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let resolved = kc.resolve(sel)?;
    // Settings are checked before any token is read for sending.
    let api = ApiConfig::resolve(
        args.api.api_endpoint.as_deref(),
        args.api.request_timeout.as_deref(),
    )?;
    let token = token_of(kc, resolved.user_origin)?;
    if !token.is_coreweave() {
        bail!(
            "user {} (in {}) does not hold a CoreWeave API access token (CW-SECRET-…); \
             it is not sent to the CoreWeave API; use --context or --user to pick a CoreWeave user",
            quoted(&resolved.user),
            crate::secret::shown_path(kc.path(resolved.user_origin.file))
        );
    }
    let key = if args.permanent {
        create_access_key(&api, &token, Lifetime::Permanent)?
    } else {
        key_for(&api, &token, args.duration)?
    };
    let text = match args.output {
        KeyOutput::Json => credential_process_json(&key),
        KeyOutput::Env => env_lines(&key, true),
        KeyOutput::EnvNoExport => {
            check_bare_values(&key)?;
            env_lines(&key, false)
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// A kept key with more than its margin left, else a new one (kept for the next call).
fn key_for(api: &ApiConfig, token: &Token, duration: Duration) -> anyhow::Result<AccessKey> {
    let secs = duration.as_secs();
    // The kept record counts whole seconds since the Unix epoch.
    let now = jiff::Timestamp::now().as_second();
    if let Some(kept) = cache::get(token, &api.endpoint, secs, now) {
        return Ok(kept);
    }
    let key = create_access_key(api, token, Lifetime::Temporary(duration))?;
    if !cache::put(token, &api.endpoint, secs, &key, now) {
        eprintln!(
            "warning: no keyring to keep the Object Storage key in (the kernel session keyring \
             on Linux, the OS keyring elsewhere); every call makes a new key"
        );
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

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (when there is one)
/// and `AWS_ENDPOINT_URL_S3`, one a line, as `aws configure export-credentials` prints
/// them: `export K='v'` for a shell's `eval`, or bare `K=v` for env files. The values
/// are printable ASCII without spaces (`access_key` refuses anything else); for the shell
/// a value is single-quoted unless it is plainly safe; bare lines are written only after
/// [`check_bare_values`] found every value plainly safe.
pub fn env_lines(key: &AccessKey, export: bool) -> String {
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", key.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", key.secret_key.expose()),
    ];
    if let Some(s) = &key.session_token {
        vars.push(("AWS_SESSION_TOKEN", s.expose()));
    }
    vars.push(("AWS_ENDPOINT_URL_S3", S3_ENDPOINT));
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
        let text = env_lines(&key(None), true);
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
        let bare = env_lines(&key(Some("st")), false);
        assert!(bare.contains("AWS_SESSION_TOKEN=st\n"), "{bare}");
        assert!(bare.starts_with("AWS_ACCESS_KEY_ID=CWKEY\n"), "{bare}");
    }
}
