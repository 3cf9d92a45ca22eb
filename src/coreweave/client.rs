//! The calls to the CoreWeave API: [`whoami`] (is this token accepted, and whose is it)
//! and [`mint_service_account_token`] (the alpha OIDC exchange), with the settings they
//! run on ([`ApiConfig`]) and the retry rules each follows.
//!
//! The plugin is synchronous; these functions are a blocking facade over hyper-util's
//! client on the network layer's connector (`crate::net::connect`: TLS by the platform's
//! verifier, `HTTPS_PROXY`/`NO_PROXY` as kubectl reads them), run on its runtime
//! (`crate::net`: one per command, built by the first call), so a command that never calls them (`token show` without `--check`) never
//! starts a runtime, loads TLS roots or opens a socket. Do not call the blocking ones from
//! inside that runtime; use [`whoami_async`] there. A new call is a path, an idempotency,
//! the secrets to redact and a request builder handed to `call` (async) or `run`
//! (blocking), then a parser of the 2xx body.
//!
//! Retries are bounded in count ([`ApiConfig::max_retries`]), in each wait
//! ([`MAX_BACKOFF`], [`MAX_RETRY_AFTER`]) and in total ([`MAX_TOTAL_WAIT`]), so the worst
//! case of a call is `(max_retries + 1) × timeout + MAX_TOTAL_WAIT`. `whoami` is a read and
//! retries anything transient; minting creates a token on the server, so it retries only
//! what proves the server did nothing (a refused connection, a 429 with `Retry-After`).

use std::error::Error as StdError;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::Connect;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use serde::Serialize;
use serde_json::Value;

use super::error::{redact, ApiError};
use crate::net::connect::{cause, Cause, Route};
use crate::net::proxy::{parse_proxy, without_userinfo};
use crate::net::{self, Capped, ProxyEnv};
use crate::secret::Token;
use crate::time::{format_duration, parse_go_duration, parse_http_date, parse_rfc3339};
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
    crate::net::block_on(whoami_async(cfg, token)).map_err(ApiError::Client)?
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

/// Whether a failed try may be repeated without risk of doing the work twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Idempotency {
    Idempotent,
    NotIdempotent,
}

/// One request as sent: built anew for each try (a body is consumed by sending it).
type Request = http::Request<Full<Bytes>>;

/// A request to `url` with the plugin's user agent, `Accept: application/json`, the
/// `headers` given, and, when given, `bearer` as its Authorization (marked sensitive, so
/// that hyper never shows it). Fails, naming no value, when a header cannot carry what
/// it is given (a token with a control character).
fn request(
    method: http::Method,
    url: &str,
    bearer: Option<&Token>,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Request, String> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::USER_AGENT, USER_AGENT)
        .header(http::header::ACCEPT, "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Full::new(body)).map_err(|e| e.to_string())?;
    if let Some(token) = bearer {
        let mut value = http::HeaderValue::try_from(format!("Bearer {}", token.expose()))
            .map_err(|_| "the token cannot be sent in an HTTP header".to_string())?;
        value.set_sensitive(true);
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
    }
    Ok(request)
}

pub(crate) const USER_AGENT: &str = concat!("kubectl-coreweave/", env!("CARGO_PKG_VERSION"));

/// One call, blocking: on the command's runtime ([`crate::net::block_on`]), try until
/// success, a final failure or the retry budget runs out. Returns the body of a 2xx answer.
fn run(
    cfg: &ApiConfig,
    url: &str,
    idempotency: Idempotency,
    secrets: &[&str],
    cap: usize,
    request: impl Fn() -> Result<Request, String> + Send + Sync,
) -> Result<Vec<u8>, ApiError> {
    crate::net::block_on(call(cfg, url, idempotency, secrets, cap, request))
        .map_err(ApiError::Client)?
}

/// One call: the route to the API, then tries until success, a final failure or the
/// retry budget runs out, all of it within `cfg.deadline`. Returns the body of a 2xx
/// answer. This is the shape of every CoreWeave API call: a path, an [`Idempotency`], the
/// secrets to redact from answers, the most bytes of answer to read, and a request builder.
async fn call(
    cfg: &ApiConfig,
    url: &str,
    idempotency: Idempotency,
    secrets: &[&str],
    cap: usize,
    request: impl Fn() -> Result<Request, String> + Send + Sync,
) -> Result<Vec<u8>, ApiError> {
    let route = route(cfg.timeout, url)?;
    let tries = Tries {
        cfg,
        url,
        idempotency,
        secrets,
        cap,
        request: &request,
        through: route.proxy.as_ref().map(|(through, _)| through.as_str()),
    };
    let call = net::connect::over(&route, tries);
    match cfg.deadline {
        None => call.await,
        Some(d) => tokio::time::timeout_at(d.at.into(), call)
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::Deadline {
                    url: url.into(),
                    limit: format_duration(d.limit),
                })
            }),
    }
}

/// How the API is reached, through the network layer's connector: TLS verified by the
/// platform's verifier (the system's roots, loaded only for an https call), no redirects
/// (hyper's client follows none, and a redirect must not carry the bearer token
/// elsewhere), and the environment's `HTTPS_PROXY`/`NO_PROXY` as kubectl reads them for
/// clusters (never for loopback, which a proxy cannot reach). Plain http (loopback only,
/// see `normalize_endpoint`) gets an empty root store: it never does TLS. The Object
/// Storage key check (`s3_check.rs`) reaches the S3 endpoint the same way.
pub(crate) fn route(connect_timeout: Duration, url: &str) -> Result<Route, ApiError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let uri: http::Uri = url
        .parse()
        .map_err(|e| ApiError::InvalidRequest(format!("cannot form the request to {url}: {e}")))?;
    let https = uri.scheme_str() == Some("https");
    let tls = if https {
        use rustls_platform_verifier::BuilderVerifierExt as _;
        rustls::ClientConfig::builder()
            .with_platform_verifier()
            .map_err(|e| {
                ApiError::Client(format!("cannot load the system's root certificates: {e}"))
            })?
            .with_no_client_auth()
    } else {
        rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    };
    let proxy = match uri.host().filter(|_| https) {
        Some(host) => ProxyEnv::from_process().for_https(host, uri.port_u16().unwrap_or(443)),
        None => None,
    };
    let proxy = match proxy {
        Some(p) => Some((
            format!("HTTPS_PROXY {}", without_userinfo(&p)),
            parse_proxy("HTTPS_PROXY", &p)
                .map_err(|why| ApiError::Client(format!("{why} (from the environment)")))?,
        )),
        None => None,
    };
    Ok(Route {
        tls,
        server_name: None,
        proxy,
        connect_timeout,
        https_only: false,
    })
}

/// The tries of one call, run over whichever connector the route takes.
struct Tries<'a, F> {
    cfg: &'a ApiConfig,
    url: &'a str,
    idempotency: Idempotency,
    secrets: &'a [&'a str],
    /// The most bytes of an answer's body read.
    cap: usize,
    request: &'a F,
    /// The proxy the call goes through, for messages.
    through: Option<&'a str>,
}

impl<F> net::connect::OverConnector for Tries<'_, F>
where
    F: Fn() -> Result<Request, String> + Send + Sync,
{
    type Output = Result<Vec<u8>, ApiError>;
    async fn run<C>(self, connector: C) -> Self::Output
    where
        C: Connect + Clone + Send + Sync + 'static,
    {
        let client =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
        with_retries(&self, &client).await
    }
}

/// A try's answer: status, `Retry-After`, and the body (cut at the call's cap).
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Vec<u8>,
    cut: bool,
}

/// How a try failed to get an answer.
enum Failure {
    /// The request could not be formed; the text names no value.
    Request(String),
    /// No whole answer within the request timeout.
    Timeout,
    /// The connection, TLS, the proxy, or the exchange failed.
    Transport(Box<dyn StdError + Send + Sync>),
}

/// One try within `timeout`: send, then read the status, `Retry-After` and the body.
async fn send_once<C>(
    client: &Client<C, Full<Bytes>>,
    request: Result<Request, String>,
    timeout: Duration,
    cap: usize,
) -> Result<Answer, Failure>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let request = request.map_err(Failure::Request)?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| Failure::Transport(e.into()))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (body, cut) = match net::read_capped(response.into_body(), cap)
            .await
            .map_err(|e| Failure::Transport(e.into()))?
        {
            Capped::Whole(body) => (body, false),
            Capped::Over(body) => (body, true),
        };
        Ok(Answer {
            status,
            retry_after,
            body,
            cut,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(Failure::Timeout))
}

/// What to do after a failed try.
enum Next {
    /// Stop with this error.
    Fail(ApiError),
    /// Wait this long and try again, or stop with this error when the budget is spent.
    Retry(Duration, ApiError),
}

async fn with_retries<F, C>(
    t: &Tries<'_, F>,
    client: &Client<C, Full<Bytes>>,
) -> Result<Vec<u8>, ApiError>
where
    F: Fn() -> Result<Request, String> + Send + Sync,
    C: Connect + Clone + Send + Sync + 'static,
{
    let (cfg, url) = (t.cfg, t.url);
    let mut tries: u32 = 0;
    let mut waited = Duration::ZERO;
    loop {
        tries += 1;
        let backoff = backoff(tries);
        let next = match send_once(client, (t.request)(), cfg.timeout, t.cap).await {
            Ok(answer) if (200..300).contains(&answer.status) => {
                if answer.cut {
                    return Err(ApiError::Unexpected {
                        url: url.into(),
                        what: format!("an answer over {} bytes", t.cap),
                    });
                }
                return Ok(answer.body);
            }
            Ok(answer) => judge_status(answer, url, tries, t.idempotency, backoff, t.secrets),
            Err(failure) => judge_transport(failure, t, tries, backoff),
        };
        match next {
            Next::Fail(e) => return Err(e),
            Next::Retry(wait, e) => {
                let past_deadline = cfg.deadline.is_some_and(|d| Instant::now() + wait >= d.at);
                if tries > cfg.max_retries || waited + wait > MAX_TOTAL_WAIT || past_deadline {
                    return Err(e);
                }
                waited += wait;
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// The wait before try number `tries + 1`: 200 ms, doubling, at most [`MAX_BACKOFF`].
/// No jitter: one person's command line is not a thundering herd.
fn backoff(tries: u32) -> Duration {
    let factor = 1u32 << tries.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

fn judge_status(
    answer: Answer,
    url: &str,
    tries: u32,
    idempotency: Idempotency,
    backoff: Duration,
    secrets: &[&str],
) -> Next {
    let (code, message) = connect_error(answer.status, &answer.body, secrets);
    match answer.status {
        401 | 403 => Next::Fail(ApiError::Rejected {
            url: url.into(),
            status: answer.status,
            code,
            message,
        }),
        429 => {
            let asked = answer.retry_after.as_deref().and_then(retry_after);
            let error = ApiError::RateLimited {
                url: url.into(),
                code,
                retry_after: asked.map(format_duration),
                tries,
            };
            match (asked, idempotency) {
                (Some(wait), _) if wait > MAX_RETRY_AFTER => Next::Fail(error),
                (Some(wait), _) => Next::Retry(wait, error),
                (None, Idempotency::Idempotent) => Next::Retry(backoff, error),
                (None, Idempotency::NotIdempotent) => Next::Fail(error),
            }
        }
        status => {
            let error = ApiError::Status {
                url: url.into(),
                status,
                code,
                message,
                tries,
            };
            if status >= 500 && idempotency == Idempotency::Idempotent {
                Next::Retry(backoff, error)
            } else {
                Next::Fail(error)
            }
        }
    }
}

/// A try that got no answer. Told apart by the types of the causes: a TLS failure (the
/// certificate, the name, the protocol) is the same on the next try and is never retried;
/// a timeout may have reached the server; a failure of the connector (DNS, TCP, the
/// proxy, the TLS handshake) sent nothing, so even a call that is not idempotent may be
/// repeated after it.
fn judge_transport<F>(failure: Failure, t: &Tries<'_, F>, tries: u32, backoff: Duration) -> Next {
    let url = t.url;
    let timeout = || ApiError::Timeout {
        url: url.into(),
        timeout: format_duration(t.cfg.timeout),
        tries,
    };
    let retry = |error| match t.idempotency {
        Idempotency::Idempotent => Next::Retry(backoff, error),
        Idempotency::NotIdempotent => Next::Fail(error),
    };
    let e = match failure {
        Failure::Request(why) => {
            // Retrying cannot help.
            return Next::Fail(ApiError::InvalidRequest(format!(
                "cannot form the request to {url}: {}",
                redact(&why, t.secrets)
            )));
        }
        Failure::Timeout => return retry(timeout()),
        Failure::Transport(e) => e,
    };
    let kind = cause(&*e);
    if kind == Cause::Timeout {
        return retry(timeout());
    }
    let detail = redact(&innermost_cause(&*e), t.secrets);
    let error = ApiError::Connection {
        url: url.into(),
        cause: match t.through {
            Some(through) => format!("through {through}: {detail}"),
            None => detail,
        },
        tries,
    };
    if kind == Cause::Tls {
        return Next::Fail(error);
    }
    let sent_nothing = e
        .downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(|e| e.is_connect());
    if sent_nothing {
        Next::Retry(backoff, error)
    } else {
        retry(error)
    }
}

/// The deepest error in a chain: "Connection refused (os error 111)" rather than
/// hyper-util's "client error (Connect)".
fn innermost_cause(e: &(dyn StdError + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// `Retry-After` as delay-seconds or an HTTP date (a date in the past is no wait).
fn retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(v)?;
    Some(Duration::try_from(at.duration_since(Timestamp::now())).unwrap_or(Duration::ZERO))
}

/// The Connect error's `code` and `message` from an error answer's body. Without a usable
/// code, the one the Connect protocol assigns to the HTTP status (its clients do the
/// same); `unknown` says nothing, so it counts as absent.
fn connect_error(status: u16, body: &[u8], secrets: &[&str]) -> (Option<String>, Option<String>) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let code = field("code")
        .filter(|c| *c != "unknown")
        .map(|c| redact(c, secrets))
        .or_else(|| code_for_status(status).map(str::to_string));
    let message = field("message").map(|m| redact(m, secrets));
    (code, message)
}

/// The Connect protocol's HTTP status → code table, for answers without a Connect body.
fn code_for_status(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "invalid_argument",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "not_found",
        409 => "already_exists",
        429 => "resource_exhausted",
        500 => "internal",
        501 => "unimplemented",
        502..=504 => "unavailable",
        _ => return None,
    })
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
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(3), Duration::from_millis(800));
        assert_eq!(backoff(5), MAX_BACKOFF);
        assert_eq!(backoff(400), MAX_BACKOFF);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(100);
        let http = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&later)
            .unwrap();
        let wait = retry_after(&http).unwrap();
        assert!(
            wait > Duration::from_secs(95) && wait <= Duration::from_secs(100),
            "{wait:?}"
        );
        assert_eq!(retry_after("soon"), None);
        assert_eq!(retry_after("-1"), None);
    }

    #[test]
    fn connect_errors_and_status_codes() {
        let (c, m) = connect_error(
            401,
            br#"{"code":"unauthenticated","message":"token CW-SECRET-zzzzzzzzzzzz9876 expired"}"#,
            &[],
        );
        assert_eq!(c.as_deref(), Some("unauthenticated"));
        assert_eq!(m.as_deref(), Some("token CW-SECRET-…9876 expired"));
        let (c, m) = connect_error(503, b"<html>busy</html>", &[]);
        assert_eq!(c.as_deref(), Some("unavailable"));
        assert_eq!(m, None);
        let (c, _) = connect_error(418, br#"{"code":"unknown"}"#, &[]);
        assert_eq!(c, None);
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
