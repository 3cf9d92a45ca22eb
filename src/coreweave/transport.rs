//! How every CoreWeave API call travels: a request built anew for each try, hyper-util's
//! client over the network layer's connector (`crate::net::connect`: TLS by the platform's
//! verifier, `HTTPS_PROXY`/`NO_PROXY` as kubectl reads them) on its runtime, and the retry
//! rules. Retries are bounded in count ([`ApiConfig::max_retries`]), in each wait
//! ([`MAX_BACKOFF`], [`MAX_RETRY_AFTER`]) and in total ([`MAX_TOTAL_WAIT`]): the worst case
//! of a call is `(max_retries + 1) × timeout + MAX_TOTAL_WAIT`. A call that may have done
//! its work on the server (not idempotent) is retried only when the server provably did
//! nothing (a refused connection, a 429 with `Retry-After`).

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::Connect;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::client::{ApiConfig, FIRST_BACKOFF, MAX_BACKOFF, MAX_RETRY_AFTER, MAX_TOTAL_WAIT};
use super::error::{redact, ApiError, ClientError};
use crate::net::connect::{cause, Cause, Route};
use crate::net::proxy::{parse_proxy, without_userinfo};
use crate::net::{self, Capped, ProxyEnv};
use crate::secret::Token;
use crate::time::{format_duration, parse_http_date};
use jiff::Timestamp;
use serde_json::Value;

/// Whether a failed try may be repeated without risk of doing the work twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Idempotency {
    Idempotent,
    NotIdempotent,
}

/// One request as sent: built anew for each try (a body is consumed by sending it).
pub(super) type Request = http::Request<Full<Bytes>>;

/// A request to `url` with the plugin's user agent, `Accept: application/json`, the
/// `headers` given, and, when given, `bearer` as its Authorization (marked sensitive, so
/// that hyper never shows it). Fails, naming no value, when a header cannot carry what
/// it is given (a token with a control character).
pub(super) fn request(
    method: http::Method,
    url: &str,
    bearer: Option<&Token>,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Request, RequestError> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::USER_AGENT, USER_AGENT)
        .header(http::header::ACCEPT, "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Full::new(body)).map_err(RequestError::Form)?;
    if let Some(token) = bearer {
        let mut value = http::HeaderValue::try_from(format!("Bearer {}", token.expose()))
            .map_err(|_| RequestError::TokenHeader)?;
        value.set_sensitive(true);
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
    }
    Ok(request)
}

/// Why a request could not be formed; the text names no value.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Form(http::Error),
    #[error("the token cannot be sent in an HTTP header")]
    TokenHeader,
}

pub(crate) const USER_AGENT: &str = concat!("kubectl-coreweave/", env!("CARGO_PKG_VERSION"));

/// One call, blocking: on the command's runtime ([`crate::net::block_on`]), try until
/// success, a final failure or the retry budget runs out. Returns the body of a 2xx answer.
pub(super) fn run(
    cfg: &ApiConfig,
    url: &str,
    idempotency: Idempotency,
    secrets: &[&str],
    cap: usize,
    request: impl Fn() -> Result<Request, RequestError> + Send + Sync,
) -> Result<Vec<u8>, ApiError> {
    crate::net::block_on(call(cfg, url, idempotency, secrets, cap, request))
        .map_err(|e| ApiError::Client(e.into()))?
}

/// One call: the route to the API, then tries until success, a final failure or the
/// retry budget runs out, all of it within `cfg.deadline`. Returns the body of a 2xx
/// answer. This is the shape of every CoreWeave API call: a path, an [`Idempotency`], the
/// secrets to redact from answers, the most bytes of answer to read, and a request builder.
pub(super) async fn call(
    cfg: &ApiConfig,
    url: &str,
    idempotency: Idempotency,
    secrets: &[&str],
    cap: usize,
    request: impl Fn() -> Result<Request, RequestError> + Send + Sync,
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
            .map_err(|e| ApiError::Client(ClientError::Roots(e)))?
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
                .map_err(|why| ApiError::Client(ClientError::Proxy(why)))?,
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
    F: Fn() -> Result<Request, RequestError> + Send + Sync,
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
    Request(RequestError),
    /// No whole answer within the request timeout.
    Timeout,
    /// The connection, TLS, the proxy, or the exchange failed.
    Transport(Box<dyn StdError + Send + Sync>),
}

/// One try within `timeout`: send, then read the status, `Retry-After` and the body.
async fn send_once<C>(
    client: &Client<C, Full<Bytes>>,
    request: Result<Request, RequestError>,
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
    F: Fn() -> Result<Request, RequestError> + Send + Sync,
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
                redact(&why.to_string(), t.secrets)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
