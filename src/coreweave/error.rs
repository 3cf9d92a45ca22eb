//! [`ApiError`]: every way a call to the CoreWeave API can fail, as one lowercase line that
//! names the endpoint and says what happened.
//!
//! No message ever carries a token: the request's headers are never formatted (the
//! bearer's is marked sensitive), no transport error is kept (only the innermost cause's
//! text), and whatever a server says
//! back goes through [`redact`] first, which masks the secrets of the request and any
//! `CW-SECRET-…` it finds. `Debug` is derived over the same redacted fields.

#[cfg(test)]
use crate::net::MAX_MESSAGE_CHARS;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The endpoint is not an absolute http(s) URL we are willing to use.
    #[error("invalid CoreWeave API endpoint {endpoint:?} (from {origin}): {reason}")]
    InvalidEndpoint {
        endpoint: String,
        origin: &'static str,
        reason: String,
    },
    /// Plain `http://` to a host that is not loopback.
    #[error(
        "refusing to send the token to {endpoint} (from {origin}): the bearer token is a \
         secret, so only https is allowed, except for loopback (127.0.0.0/8, ::1, localhost)"
    )]
    InsecureEndpoint {
        endpoint: String,
        origin: &'static str,
    },
    #[error(
        "invalid request timeout {value:?} (from {origin}): {reason}; \
         use a duration such as 10s, 1m30s or 500ms, or plain seconds"
    )]
    InvalidTimeout {
        value: String,
        origin: &'static str,
        reason: crate::time::DurationError,
    },
    /// An argument of a call that is wrong before anything is sent.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401 or 403: the API does not accept the token.
    #[error("{url}: token rejected (invalid, revoked or expired): {}", status_line(*status, code, message))]
    Rejected {
        url: String,
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// Any other non-2xx answer (after the retries, for the ones worth retrying).
    #[error("{url}: CoreWeave API answered {}{}", status_line(*status, code, message), tries_note(*tries))]
    Status {
        url: String,
        status: u16,
        code: Option<String>,
        message: Option<String>,
        tries: u32,
    },
    /// 429 on every try, or a `Retry-After` longer than we are willing to wait.
    #[error(
        "{url}: rate-limited by the CoreWeave API (429{}){}{}; try again later",
        code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(),
        tries_note(*tries),
        retry_after.as_deref().map(|r| format!("; it asked to wait {r}")).unwrap_or_default()
    )]
    RateLimited {
        url: String,
        code: Option<String>,
        /// The last `Retry-After`, as a duration (`30s`), when it was given.
        retry_after: Option<String>,
        tries: u32,
    },
    /// No complete answer within the request timeout.
    #[error("{url}: no answer within the {timeout} request timeout (--request-timeout, COREWEAVE_HTTP_TIMEOUT){}", tries_note(*tries))]
    Timeout {
        url: String,
        /// As given (`300ms`, `10s`).
        timeout: String,
        tries: u32,
    },
    /// The connection could not be made, or broke before a whole answer came.
    #[error("{url}: cannot reach the CoreWeave API: {cause}{}", tries_note(*tries))]
    Connection {
        url: String,
        cause: String,
        tries: u32,
    },
    /// The total time limit of the checks ran out before this call was over.
    #[error(
        "{url}: stopped waiting, the checks' total time limit ({limit}, --verify-timeout) ran out"
    )]
    Deadline { url: String, limit: String },
    /// A 2xx answer that is not what the API documents.
    #[error("unexpected answer from {url} ({what})")]
    Unexpected { url: String, what: String },
    /// The HTTP client or its runtime could not be set up.
    #[error("cannot start the HTTP client: {0}")]
    Client(ClientError),
}

/// Why the HTTP client could not be set up.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    #[error("cannot load the system's root certificates: {0}")]
    Roots(rustls::Error),
    #[error("{0} (from the environment)")]
    Proxy(crate::net::proxy::ProxyError),
    /// A call that was never made (its answer stands in for one not needed).
    #[error("not asked")]
    NotAsked,
}

impl ApiError {
    /// The API answered and refused the token (401/403), as opposed to a failure to get
    /// an answer or an answer we cannot use.
    pub fn is_rejection(&self) -> bool {
        matches!(self, ApiError::Rejected { .. })
    }

    /// The HTTP status the error comes from, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Rejected { status, .. } | ApiError::Status { status, .. } => Some(*status),
            ApiError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// The Connect error code (`unauthenticated`, `not_found`, …), when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Rejected { code, .. }
            | ApiError::Status { code, .. }
            | ApiError::RateLimited { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

fn status_line(status: u16, code: &Option<String>, message: &Option<String>) -> String {
    let mut s = status.to_string();
    if let Some(c) = code {
        s.push(' ');
        s.push_str(c);
    }
    if let Some(m) = message {
        s.push_str(": ");
        s.push_str(m);
    }
    s
}

fn tries_note(tries: u32) -> String {
    if tries > 1 {
        format!(" (gave up after {tries} tries)")
    } else {
        String::new()
    }
}

/// The one gate for server text; it lives in the network layer (`net::redact`).
pub use crate::net::redact;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_masks_known_secrets_and_any_coreweave_token() {
        let sent = "CW-SECRET-sentsentsentsent9999";
        let other = "CW-SECRET-otherotherother7777";
        let jwt = "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl";
        let text = format!(
            "token {sent} is bad;\n also \"{other}\", jwt {jwt} (and CW-SECRET-) CW-SECRET-abc"
        );
        let r = redact(&text, &[sent, jwt]);
        assert!(!r.contains("sentsent"), "{r}");
        assert!(!r.contains("otherother"), "{r}");
        assert!(!r.contains("eyJzdWIiOi"), "{r}");
        assert!(r.contains("CW-SECRET-…9999"), "{r}");
        assert!(r.contains("\"CW-SECRET-…7777\""), "{r}");
        assert!(r.contains("(and CW-SECRET-)"), "{r}");
        assert!(r.ends_with("CW-SECRET-…"), "{r}");
        assert!(!r.contains('\n') && r.contains("\\n"), "{r}");
        let painted = redact("\x1b[2J\x1b[31mok\r\x08\x07", &[]);
        assert!(!painted.chars().any(char::is_control), "{painted}");
    }

    #[test]
    fn redact_cuts_long_text() {
        let r = redact(&"x".repeat(5000), &[]);
        assert_eq!(r.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn messages_read_as_one_line() {
        let e = ApiError::Rejected {
            url: "https://api.coreweave.com/v1beta1/auth/whoami".into(),
            status: 401,
            code: Some("unauthenticated".into()),
            message: Some("bad token".into()),
        };
        assert_eq!(
            e.to_string(),
            "https://api.coreweave.com/v1beta1/auth/whoami: token rejected (invalid, revoked \
             or expired): 401 unauthenticated: bad token"
        );
        let e = ApiError::Status {
            url: "u".into(),
            status: 500,
            code: Some("internal".into()),
            message: None,
            tries: 4,
        };
        assert_eq!(
            e.to_string(),
            "u: CoreWeave API answered 500 internal (gave up after 4 tries)"
        );
        let e = ApiError::RateLimited {
            url: "u".into(),
            code: None,
            retry_after: Some("1m".into()),
            tries: 1,
        };
        assert_eq!(
            e.to_string(),
            "u: rate-limited by the CoreWeave API (429); it asked to wait 1m; try again later"
        );
    }
}
