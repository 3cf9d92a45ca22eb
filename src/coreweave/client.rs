//! The calls to the CoreWeave API: [`whoami`] (is this token accepted, and whose is it)
//! and [`mint_service_account_token`] (the alpha OIDC exchange), the hooks the Object
//! Storage and CKS calls go through, and the settings they run on ([`ApiConfig`]). Each is
//! a path, an idempotency, the secrets to redact and a request builder handed to
//! `transport.rs`, then a parser of the 2xx body. The blocking ones run on the network
//! layer's runtime, built by the first call, so a command that never calls them starts no
//! runtime, loads no TLS roots and opens no socket; inside that runtime use
//! [`whoami_async`].

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;

use serde::Serialize;
use serde_json::Value;

use super::error::{redact, ApiError};
use super::transport::{call, request, run, Idempotency};
use crate::secret::Token;
use crate::time::{format_duration, parse_go_duration, parse_rfc3339};
use jiff::{SignedDuration, Timestamp};

/// Where the API is when neither `--api-endpoint` nor `COREWEAVE_API_ENDPOINT` says.
pub const DEFAULT_ENDPOINT: &str = "https://api.coreweave.com";
/// The environment variable CoreWeave's own tools (the Terraform provider) read the
/// endpoint from.
pub const ENDPOINT_ENV: &str = "COREWEAVE_API_ENDPOINT";
/// The environment variable CoreWeave's own tools read the HTTP timeout from (a Go
/// duration, `10s`).
pub const TIMEOUT_ENV: &str = "COREWEAVE_HTTP_TIMEOUT";
/// The Terraform provider's default, kept so both tools behave alike.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Retries after the first try, for what is worth retrying.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// The identity probe.
pub const WHOAMI_PATH: &str = "/v1beta1/auth/whoami";
/// The OIDC → service-account token exchange. CoreWeave marks it alpha and internal and
/// says the path will change when it is made public, hence a parameter of the call.
pub const MINT_PATH: &str =
    "/coreweave.directory.v1alpha.InternalDirectoryService/ServiceAccountOidcAuth";

/// First backoff wait; it doubles on each retry.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest backoff wait.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A `Retry-After` longer than this is not waited for: the call fails at once and says
/// how long the server asked for, rather than hanging a command line for minutes.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Most time spent waiting between tries of one call, all waits together.
pub const MAX_TOTAL_WAIT: Duration = Duration::from_secs(20);
/// Largest answer body read (the network layer's cap).
pub use crate::net::MAX_BODY;
/// Longest minted bearer token accepted: CoreWeave's tokens are well under 1 KiB, and a
/// longer one is not a token the API meant to give.
pub const MAX_MINTED_TOKEN: usize = 1024;
/// How far past the requested duration a minted token's `expireTime` may lie (clock skew
/// between us and the server, rounding up): 5 minutes plus a tenth of the duration.
pub const MINT_EXPIRY_SLACK: Duration = Duration::from_secs(300);

/// How the API is reached: base URL (no trailing slash), the timeout of each HTTP try,
/// how many times a failed try may be repeated, and the moment by which the whole call
/// must be over whatever its tries and waits add up to (`token rotate --verify-timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    pub endpoint: String,
    pub timeout: Duration,
    pub max_retries: u32,
    pub deadline: Option<Deadline>,
}

pub use crate::net::Deadline;

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            endpoint: DEFAULT_ENDPOINT.into(),
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            deadline: None,
        }
    }
}

impl ApiConfig {
    /// The settings from the flags, else the environment (`COREWEAVE_API_ENDPOINT`,
    /// `COREWEAVE_HTTP_TIMEOUT`), else the defaults; validated, so a bad value fails here,
    /// before any token is read for sending. An empty flag or variable counts as unset.
    pub fn resolve(
        flag_endpoint: Option<&str>,
        flag_timeout: Option<&str>,
    ) -> Result<ApiConfig, ApiError> {
        ApiConfig::resolve_with(flag_endpoint, flag_timeout, |k| std::env::var(k).ok())
    }

    /// [`ApiConfig::resolve`] with the environment given as a function (for tests).
    pub fn resolve_with(
        flag_endpoint: Option<&str>,
        flag_timeout: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ApiConfig, ApiError> {
        let given = |flag: Option<&str>, var: &'static str, flag_name: &'static str| match flag
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            Some(f) => Some((f.to_string(), flag_name)),
            None => env(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(|v| (v, var)),
        };
        let endpoint = match given(flag_endpoint, ENDPOINT_ENV, "--api-endpoint") {
            Some((value, origin)) => normalize_endpoint(&value, origin)?,
            None => DEFAULT_ENDPOINT.to_string(),
        };
        let timeout = match given(flag_timeout, TIMEOUT_ENV, "--request-timeout") {
            Some((value, origin)) => {
                parse_go_duration(&value).map_err(|reason| ApiError::InvalidTimeout {
                    value,
                    origin,
                    reason,
                })?
            }
            None => DEFAULT_TIMEOUT,
        };
        Ok(ApiConfig {
            endpoint,
            timeout,
            max_retries: DEFAULT_MAX_RETRIES,
            deadline: None,
        })
    }
}

/// Who the API says a token belongs to (`GET /v1beta1/auth/whoami`). The public fields
/// are the server's texts made fit to print ([`redact`]: masked, escaped, cut); two
/// principals are compared with [`Principal::same_as`], on the whole texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    pub uid: String,
    pub org_uid: String,
    pub groups: Vec<String>,
    pub console_actions: Vec<String>,
    #[serde(skip)]
    identity: Identity,
}

impl Principal {
    /// Same principal in the same org, compared as the server wrote them (the printable
    /// forms are cut, so two long uids could print alike).
    pub fn same_as(&self, other: &Principal) -> bool {
        self.identity == other.identity
    }
}

/// uid and orgUid as the server sent them; never shown.
#[derive(Clone, PartialEq, Eq)]
struct Identity(String, String);

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity(..)")
    }
}

/// A service-account token from the OIDC exchange. `Debug` shows the token masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    pub token: Token,
    /// RFC 3339, as the server sent it (checked to be one).
    pub expire_time: String,
}

/// `GET /v1beta1/auth/whoami` with `token` as the bearer: the principal when the API
/// accepts the token, [`ApiError::Rejected`] when it answers 401 or 403. A read, so 5xx,
/// timeouts, broken connections and 429 are retried (see the module doc for the bounds).
pub fn whoami(cfg: &ApiConfig, token: &Token) -> Result<Principal, ApiError> {
    crate::net::block_on(whoami_async(cfg, token)).map_err(|e| ApiError::Client(e.into()))?
}

/// [`whoami`] as a future, for several calls at once on the network layer's runtime
/// (`token list --check`).
pub async fn whoami_async(cfg: &ApiConfig, token: &Token) -> Result<Principal, ApiError> {
    let url = request_url(cfg, WHOAMI_PATH)?;
    let secrets = [token.expose()];
    let body = call(
        cfg,
        &url,
        Idempotency::Idempotent,
        &secrets,
        MAX_BODY,
        || request(http::Method::GET, &url, Some(token), &[], Bytes::new()),
    )
    .await?;
    parse_principal(&body, &url, &secrets)
}

/// `POST <path>` (normally [`MINT_PATH`]) in the Connect protocol's JSON form: trade an
/// OIDC token for a service-account bearer token valid for `duration` (whole seconds).
/// Not idempotent (a repeat could mint a second token), so a 5xx, a timeout or a
/// connection lost after sending is not retried; only a refused connection and a 429
/// carrying `Retry-After` are, as the server did nothing then.
pub fn mint_service_account_token(
    cfg: &ApiConfig,
    path: &str,
    oidc_token: &Token,
    service_account_uid: &str,
    duration: Duration,
) -> Result<Minted, ApiError> {
    if !path.starts_with('/') || path.contains(|c: char| c.is_whitespace() || c == '?' || c == '#')
    {
        return Err(ApiError::InvalidRequest(format!(
            "the exchange path {path:?} must start with / and hold no spaces, query or fragment"
        )));
    }
    let uid = service_account_uid.trim();
    if uid.is_empty() {
        return Err(ApiError::InvalidRequest(
            "the service account uid is empty".into(),
        ));
    }
    if oidc_token.expose().trim().is_empty() {
        return Err(ApiError::InvalidRequest("the OIDC token is empty".into()));
    }
    if duration.as_secs() == 0 {
        return Err(ApiError::InvalidRequest(format!(
            "a minted token must last at least 1s, not {}",
            format_duration(duration)
        )));
    }
    let url = request_url(cfg, path)?;
    let payload = serde_json::json!({
        "oidcToken": oidc_token.expose(),
        "serviceAccountUid": uid,
        // protojson reads an int64 from a JSON number or string; FACTS documents a number.
        "durationSeconds": duration.as_secs(),
    })
    .to_string();
    // A server echoing a JWT in an error may quote one segment rather than the whole.
    let mut secrets: Vec<&str> = vec![oidc_token.expose()];
    secrets.extend(oidc_token.expose().split('.'));
    let timeout_ms = cfg.timeout.as_millis().to_string();
    let payload = Bytes::from(payload);
    let body = run(
        cfg,
        &url,
        Idempotency::NotIdempotent,
        &secrets,
        MAX_BODY,
        || {
            request(
                http::Method::POST,
                &url,
                None,
                &[
                    ("content-type", "application/json"),
                    ("connect-protocol-version", "1"),
                    // Tells the server to stop working on it when we stop waiting.
                    ("connect-timeout-ms", timeout_ms.as_str()),
                ],
                payload.clone(),
            )
        },
    )?;
    let minted = parse_minted(&body, &url, &secrets)?;
    check_minted(&minted, duration, &url)?;
    Ok(minted)
}

/// The hook for calls kept in their own files (`access_key.rs`): `POST <path>` of a JSON
/// `payload` with `bearer` as the bearer token, through this file's client, retries and
/// error rules. `idempotent`: whether a 5xx, a timeout or a 429 without `Retry-After` may
/// be retried (see [`Idempotency`]). Returns the request's URL (for messages) and the body
/// of the 2xx answer; `secrets` are masked in any server text.
pub(crate) fn post_json(
    cfg: &ApiConfig,
    path: &str,
    bearer: &Token,
    payload: String,
    idempotent: bool,
    secrets: &[&str],
) -> Result<(String, Vec<u8>), ApiError> {
    let url = request_url(cfg, path)?;
    let idempotency = if idempotent {
        Idempotency::Idempotent
    } else {
        Idempotency::NotIdempotent
    };
    let payload = Bytes::from(payload);
    let body = run(cfg, &url, idempotency, secrets, MAX_BODY, || {
        request(
            http::Method::POST,
            &url,
            Some(bearer),
            &[("content-type", "application/json")],
            payload.clone(),
        )
    })?;
    Ok((url, body))
}

/// The GET twin of [`post_json`]: `GET <path>` with `bearer` as the bearer token, a read,
/// so retried as `whoami` is. Returns the request's URL and the body of the 2xx answer.
pub(crate) fn get_json(
    cfg: &ApiConfig,
    path: &str,
    bearer: &Token,
    secrets: &[&str],
) -> Result<(String, Vec<u8>), ApiError> {
    let url = request_url(cfg, path)?;
    let body = run(
        cfg,
        &url,
        Idempotency::Idempotent,
        secrets,
        MAX_BODY,
        || request(http::Method::GET, &url, Some(bearer), &[], Bytes::new()),
    )?;
    Ok((url, body))
}

/// The hook for reads kept in their own files (`cks.rs`): `GET <path>` with `bearer` as the
/// bearer token, retried as `whoami` is (a read), its answer read to at most `cap` bytes (a
/// listing may be far larger than [`MAX_BODY`]; a longer answer is an error naming the
/// cap). Returns the request's URL (for messages) and the body of the 2xx answer.
pub(crate) async fn get_json_async(
    cfg: &ApiConfig,
    path: &str,
    bearer: &Token,
    cap: usize,
) -> Result<(String, Vec<u8>), ApiError> {
    let url = request_url(cfg, path)?;
    let secrets = [bearer.expose()];
    let body = call(cfg, &url, Idempotency::Idempotent, &secrets, cap, || {
        request(http::Method::GET, &url, Some(bearer), &[], Bytes::new())
    })
    .await?;
    Ok((url, body))
}

/// A minted token is refused, before anything uses it, when it cannot be what was asked
/// for: longer than any CoreWeave token, not sendable as a header, already expired, or
/// living far longer than the requested duration.
fn check_minted(m: &Minted, duration: Duration, url: &str) -> Result<(), ApiError> {
    let unexpected = |what: String| {
        Err(ApiError::Unexpected {
            url: url.into(),
            what,
        })
    };
    let token = m.token.expose();
    if token.len() > MAX_MINTED_TOKEN {
        return unexpected(format!(
            "a bearerToken of {} bytes; a CoreWeave token is well under {MAX_MINTED_TOKEN}",
            token.len()
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return unexpected("a bearerToken with spaces or control characters".into());
    }
    // parse_minted checked that it parses.
    let expires = parse_rfc3339(&m.expire_time).unwrap_or(Timestamp::MIN);
    let now = Timestamp::now();
    if expires <= now {
        return unexpected(format!(
            "the minted token's expireTime {} is already past",
            m.expire_time
        ));
    }
    let slack = MINT_EXPIRY_SLACK + duration / 10;
    let latest = SignedDuration::try_from(duration + slack)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX);
    if expires > latest {
        return unexpected(format!(
            "the minted token's expireTime {} is far beyond the requested --duration {}",
            m.expire_time,
            format_duration(duration)
        ));
    }
    Ok(())
}

fn parse_principal(body: &[u8], url: &str, secrets: &[&str]) -> Result<Principal, ApiError> {
    let unexpected = |what: &str| ApiError::Unexpected {
        url: url.into(),
        what: what.into(),
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| unexpected("not JSON"))?;
    let p = v
        .get("principal")
        .filter(|p| p.is_object())
        .ok_or_else(|| unexpected("missing principal"))?;
    let text = |name: &str| {
        p.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| unexpected(&format!("missing principal.{name}")))
    };
    let list = |name: &str| -> Result<Vec<String>, ApiError> {
        match p.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(|i| redact(i, secrets)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| unexpected(&format!("principal.{name} is not a list of strings"))),
            Some(_) => Err(unexpected(&format!(
                "principal.{name} is not a list of strings"
            ))),
        }
    };
    let (uid, org_uid) = (text("uid")?, text("orgUid")?);
    Ok(Principal {
        uid: redact(&uid, secrets),
        org_uid: redact(&org_uid, secrets),
        groups: list("groups")?,
        console_actions: list("consoleActions")?,
        identity: Identity(uid, org_uid),
    })
}

/// `{"bearerToken","expireTime"}`; protojson may also spell them in snake_case (a
/// handler marshalling with proto names), which CoreWeave's own client accepts too.
fn parse_minted(body: &[u8], url: &str, secrets: &[&str]) -> Result<Minted, ApiError> {
    let unexpected = |what: String| ApiError::Unexpected {
        url: url.into(),
        what,
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| unexpected("not JSON".into()))?;
    let field = |camel: &str, snake: &str| {
        v.get(camel)
            .or_else(|| v.get(snake))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let token = field("bearerToken", "bearer_token")
        .ok_or_else(|| unexpected("missing bearerToken".into()))?;
    let expire = field("expireTime", "expire_time")
        .ok_or_else(|| unexpected("missing expireTime".into()))?;
    if parse_rfc3339(expire).is_none() {
        let mut all = secrets.to_vec();
        all.push(token);
        return Err(unexpected(format!(
            "expireTime {:?} is not an RFC 3339 time",
            redact(expire, &all)
        )));
    }
    Ok(Minted {
        token: Token::new(token),
        expire_time: expire.to_string(),
    })
}

/// The URL of `path` under the configured endpoint, checked again here (the fields are
/// public, so a config need not have come from [`ApiConfig::resolve`]).
fn request_url(cfg: &ApiConfig, path: &str) -> Result<String, ApiError> {
    let base = normalize_endpoint(&cfg.endpoint, "the API configuration")?;
    Ok(format!("{base}{path}"))
}

/// An endpoint as used: trailing slashes dropped; an absolute `https://` URL, or
/// `http://` to loopback only; no credentials, query or fragment in it.
fn normalize_endpoint(value: &str, origin: &'static str) -> Result<String, ApiError> {
    let invalid = |reason: &str| ApiError::InvalidEndpoint {
        endpoint: value.to_string(),
        origin,
        reason: reason.to_string(),
    };
    let trimmed = value.trim().trim_end_matches('/');
    let url = url::Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
    if url.host().is_none() {
        return Err(invalid("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials do not belong in the URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not allowed"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(ApiError::InsecureEndpoint {
                endpoint: trimmed.to_string(),
                origin,
            })
        }
        _ => return Err(invalid("not an http(s) URL")),
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and `localhost`.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_then_environment_then_flags() {
        let none = ApiConfig::resolve_with(None, None, env_of(&[])).unwrap();
        assert_eq!(none, ApiConfig::default());
        let env = env_of(&[
            (ENDPOINT_ENV, "https://api.example.test/"),
            (TIMEOUT_ENV, "1m30s"),
        ]);
        let from_env = ApiConfig::resolve_with(None, None, &env).unwrap();
        assert_eq!(from_env.endpoint, "https://api.example.test");
        assert_eq!(from_env.timeout, Duration::from_secs(90));
        let flags =
            ApiConfig::resolve_with(Some("http://127.0.0.1:8080//"), Some("500ms"), &env).unwrap();
        assert_eq!(flags.endpoint, "http://127.0.0.1:8080");
        assert_eq!(flags.timeout, Duration::from_millis(500));
        let empty = env_of(&[(ENDPOINT_ENV, ""), (TIMEOUT_ENV, " ")]);
        assert_eq!(
            ApiConfig::resolve_with(Some(""), None, empty).unwrap(),
            ApiConfig::default()
        );
    }

    #[test]
    fn a_base_path_is_kept() {
        let c = ApiConfig::resolve_with(Some("https://gw.example/coreweave/"), None, env_of(&[]))
            .unwrap();
        assert_eq!(
            request_url(&c, WHOAMI_PATH).unwrap(),
            "https://gw.example/coreweave/v1beta1/auth/whoami"
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:1",
            "http://127.8.9.10",
            "http://[::1]:8080",
            "http://localhost:9",
            "http://LOCALHOST",
            "http://[::ffff:127.0.0.1]",
            "https://api.coreweave.com",
        ] {
            assert!(
                ApiConfig::resolve_with(Some(ok), None, env_of(&[])).is_ok(),
                "{ok}"
            );
        }
        for insecure in [
            "http://api.coreweave.com",
            "http://10.0.0.1",
            "http://128.0.0.1",
            "http://localhost.evil.example",
            "http://[::2]",
        ] {
            let e = ApiConfig::resolve_with(Some(insecure), None, env_of(&[])).unwrap_err();
            assert!(
                matches!(e, ApiError::InsecureEndpoint { .. }),
                "{insecure}: {e}"
            );
            let msg = e.to_string();
            assert!(msg.contains("only https is allowed"), "{msg}");
            assert!(msg.contains("--api-endpoint"), "{msg}");
        }
        for bad in [
            "api.coreweave.com",
            "ftp://api.coreweave.com",
            "https://user:pw@api.coreweave.com",
            "https://api.coreweave.com/?x=1",
            "https://",
        ] {
            let e = ApiConfig::resolve_with(Some(bad), None, env_of(&[])).unwrap_err();
            assert!(matches!(e, ApiError::InvalidEndpoint { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_timeouts_name_their_origin() {
        let env = env_of(&[(TIMEOUT_ENV, "soon")]);
        let e = ApiConfig::resolve_with(None, None, &env).unwrap_err();
        assert!(e.to_string().contains("COREWEAVE_HTTP_TIMEOUT"), "{e}");
        let e = ApiConfig::resolve_with(None, Some("0s"), &env).unwrap_err();
        assert!(e.to_string().contains("--request-timeout"), "{e}");
    }

    #[test]
    fn principal_shapes() {
        let p = parse_principal(
            br#"{"principal":{"uid":"u1","orgUid":"o1","groups":["g"],"extra":1}}"#,
            "u",
            &[],
        )
        .unwrap();
        assert_eq!(p.uid, "u1");
        assert_eq!(p.org_uid, "o1");
        assert_eq!(p.groups, vec!["g".to_string()]);
        assert!(p.console_actions.is_empty());
        for (body, what) in [
            (&b"nope"[..], "not JSON"),
            (br#"{"uid":"u1"}"#, "missing principal"),
            (br#"{"principal":{"orgUid":"o"}}"#, "missing principal.uid"),
            (br#"{"principal":{"uid":"u"}}"#, "missing principal.orgUid"),
            (
                br#"{"principal":{"uid":"u","orgUid":"o","groups":"g"}}"#,
                "principal.groups is not a list of strings",
            ),
        ] {
            let e = parse_principal(body, "https://x/whoami", &[]).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("unexpected answer from https://x/whoami ({what})")
            );
        }
    }

    #[test]
    fn minted_shapes_and_debug() {
        let m = parse_minted(
            br#"{"bearer_token":"CW-SECRET-mintedmintedminted4321","expire_time":"2030-01-01T00:00:00Z"}"#,
            "u",
            &[],
        )
        .unwrap();
        let shown = format!("{m:?}");
        assert!(!shown.contains("mintedminted"), "{shown}");
        let e = parse_minted(
            br#"{"bearerToken":"CW-SECRET-mintedmintedminted4321","expireTime":"tomorrow CW-SECRET-mintedmintedminted4321"}"#,
            "u",
            &[],
        )
        .unwrap_err();
        assert!(!format!("{e} {e:?}").contains("mintedminted"), "{e:?}");
    }

    #[test]
    fn nothing_is_sent_for_a_bad_mint_request() {
        let cfg = ApiConfig {
            endpoint: "https://127.0.0.1:1".into(),
            ..ApiConfig::default()
        };
        let t = Token::new("a.b.c");
        let d = Duration::from_secs(60);
        for e in [
            mint_service_account_token(&cfg, "no-slash", &t, "sa", d),
            mint_service_account_token(&cfg, MINT_PATH, &t, " ", d),
            mint_service_account_token(&cfg, MINT_PATH, &Token::new(""), "sa", d),
            mint_service_account_token(&cfg, MINT_PATH, &t, "sa", Duration::from_millis(10)),
        ] {
            assert!(matches!(e, Err(ApiError::InvalidRequest(_))), "{e:?}");
        }
    }
}
