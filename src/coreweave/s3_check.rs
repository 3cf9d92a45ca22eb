//! Whether the S3 endpoint accepts a new Object Storage key yet. New keys take seconds to
//! reach every S3 front end (CoreWeave's own Terraform provider polls ListBuckets for up to
//! a minute after making one), so a key printed at once can fail the first `aws` command.
//! [`wait_until_accepted`] sends one ListBuckets (`GET /` on the endpoint), signed with
//! AWS Signature Version 4 by `aws-sigv4` (AWS's own signer), and repeats it until the
//! endpoint accepts the key or the wait runs out.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::Connect;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::access_key::AccessKey;
use super::transport::{route, USER_AGENT};
use crate::net::connect::{cause, Cause, OverConnector};
use crate::net::{self, redact, Capped};
use crate::time::format_duration;

/// Most of an error answer read (S3's XML errors are a few hundred bytes).
pub const MAX_ERROR_BODY: usize = 64 * 1024;
/// First pause between tries; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// Where and how long to check.
#[derive(Debug, Clone)]
pub struct Check<'a> {
    /// The S3 endpoint, `https://…` (or `http://` to loopback or CoreWeave's LOTA), no
    /// trailing slash.
    pub endpoint: &'a str,
    /// The SigV4 region (CoreWeave: the availability zone).
    pub region: &'a str,
    /// Each try's limit.
    pub request_timeout: Duration,
    /// The whole wait's limit.
    pub wait: Duration,
}

/// How the key came to be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub tries: u32,
}

/// Why the check failed, as one line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "the new Object Storage key {id} was not accepted by {endpoint} within {wait} \
         ({tries} tries, last: {last}); it was not kept; try again, or use --no-wait to \
         print new keys unchecked (--wait-timeout sets the wait)"
    )]
    NotAccepted {
        id: String,
        endpoint: String,
        wait: String,
        tries: u32,
        last: String,
    },
    #[error(
        "{endpoint} refused the check of the new Object Storage key {id} ({what}); check \
         --endpoint and --region (the availability zone, e.g. us-east-04a), or use --no-wait"
    )]
    Refused {
        id: String,
        endpoint: String,
        what: String,
    },
    #[error("cannot check the new Object Storage key at {endpoint}: {why}")]
    Client { endpoint: String, why: String },
}

/// Sends signed ListBuckets requests until `check.endpoint` accepts `key`, or fails.
///
/// The request goes through the network layer as the CoreWeave API calls do
/// (`transport::route`: the platform's verifier, `HTTPS_PROXY`/`NO_PROXY`, the connect
/// timeout), each try within the request timeout, the whole wait within its bound, the
/// answer read to at most [`MAX_ERROR_BODY`]. What the answers mean:
/// - 2xx: accepted. 403 `AccessDenied` too: the endpoint knows the key, and only its
///   policy keeps it from listing buckets (a user whose policies name buckets).
/// - 401, any other 403 (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, …), 429, 5xx and
///   connections that fail or time out: not yet; asked again after 250 ms, doubling to 2 s.
/// - Any other answer (400 `AuthorizationHeaderMalformed` for a wrong region, a redirect)
///   and TLS failures: waiting cannot help, so the check fails at once.
///
/// No secret leaves here: the signature is derived from the secret key, the session token
/// rides in a header marked sensitive, and server text passes [`redact`] with both masked.
pub fn wait_until_accepted(key: &AccessKey, check: &Check<'_>) -> Result<Accepted, CheckError> {
    let url = format!("{}/", check.endpoint);
    let client_err = |why: String| CheckError::Client {
        endpoint: check.endpoint.to_string(),
        why,
    };
    let started = Instant::now();
    let poll = Poll {
        key,
        check,
        url: &url,
        deadline: started + check.wait,
    };
    net::block_on(async {
        let route = route(check.request_timeout, &url).map_err(|e| client_err(e.to_string()))?;
        net::connect::over(&route, poll).await
    })
    .map_err(|e| client_err(e.to_string()))?
}

/// The tries of one check, over whichever connector the route takes.
struct Poll<'a> {
    key: &'a AccessKey,
    check: &'a Check<'a>,
    url: &'a str,
    deadline: Instant,
}

/// One try's outcome.
enum Outcome {
    Accepted,
    /// Not yet, with what was seen (for the final message).
    NotYet(String),
    /// Waiting cannot help.
    Refused(String),
}

impl OverConnector for Poll<'_> {
    type Output = Result<Accepted, CheckError>;
    async fn run<C>(self, connector: C) -> Self::Output
    where
        C: Connect + Clone + Send + Sync + 'static,
    {
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let mut tries = 0;
        let mut pause = FIRST_PAUSE;
        loop {
            tries += 1;
            let left = self.deadline.saturating_duration_since(Instant::now());
            let limit = self.check.request_timeout.min(left.max(FIRST_PAUSE));
            let last = match self.try_once(&client, limit).await {
                Outcome::Accepted => return Ok(Accepted { tries }),
                Outcome::Refused(what) => {
                    return Err(CheckError::Refused {
                        id: self.key.access_key_id.clone(),
                        endpoint: self.check.endpoint.to_string(),
                        what,
                    })
                }
                Outcome::NotYet(last) => last,
            };
            if Instant::now() + pause > self.deadline {
                return Err(CheckError::NotAccepted {
                    id: self.key.access_key_id.clone(),
                    endpoint: self.check.endpoint.to_string(),
                    wait: format_duration(self.check.wait),
                    tries,
                    last,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

impl Poll<'_> {
    async fn try_once<C>(&self, client: &Client<C, Full<Bytes>>, limit: Duration) -> Outcome
    where
        C: Connect + Clone + Send + Sync + 'static,
    {
        let request = match signed_list_buckets(self.key, self.url, self.check.region) {
            Ok(r) => r,
            Err(why) => return Outcome::Refused(why.to_string()),
        };
        let exchange = async {
            let response = client.request(request).await?;
            let status = response.status().as_u16();
            let body = if (200..300).contains(&status) {
                Vec::new()
            } else {
                match net::read_capped(response.into_body(), MAX_ERROR_BODY).await? {
                    Capped::Whole(b) | Capped::Over(b) => b,
                }
            };
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
        };
        match tokio::time::timeout(limit, exchange).await {
            Err(_) => Outcome::NotYet(format!("no answer within {}", format_duration(limit))),
            Ok(Err(e)) if cause(&*e) == Cause::Tls => {
                Outcome::Refused(self.redacted(&e.to_string()))
            }
            Ok(Err(e)) => Outcome::NotYet(self.redacted(&innermost(&*e))),
            Ok(Ok((status, body))) => self.judge(status, &body),
        }
    }

    fn judge(&self, status: u16, body: &[u8]) -> Outcome {
        let text = String::from_utf8_lossy(body);
        let code = xml_text(&text, "Code");
        let said = match (&code, xml_text(&text, "Message")) {
            (Some(c), Some(m)) => format!("{status} {c}: {m}"),
            (Some(c), None) => format!("{status} {c}"),
            (None, _) => status.to_string(),
        };
        let said = self.redacted(&said);
        match status {
            200..=299 => Outcome::Accepted,
            403 if code.as_deref() == Some("AccessDenied") => Outcome::Accepted,
            401 | 403 | 429 | 500..=599 => Outcome::NotYet(said),
            _ => Outcome::Refused(said),
        }
    }

    fn redacted(&self, text: &str) -> String {
        let mut secrets = vec![self.key.secret_key.expose()];
        if let Some(s) = &self.key.session_token {
            secrets.push(s.expose());
        }
        redact(text, &secrets)
    }
}

/// `GET <url>` signed with SigV4 for service `s3` in `region`, the empty payload's hash in
/// `x-amz-content-sha256` as S3 wants it.
/// Why the ListBuckets request could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot sign the request: {0}")]
    Params(aws_sigv4::sign::v4::signing_params::BuildError),
    #[error("cannot sign the request to {url}: {cause}")]
    Sign {
        url: String,
        cause: aws_sigv4::http_request::SigningError,
    },
    #[error("cannot form the request to {url}: {cause}")]
    Form { url: String, cause: http::Error },
}

fn signed_list_buckets(
    key: &AccessKey,
    url: &str,
    region: &str,
) -> Result<http::Request<Full<Bytes>>, SignError> {
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
    };
    let credentials = aws_credential_types::Credentials::new(
        key.access_key_id.clone(),
        key.secret_key.expose().to_string(),
        key.session_token.as_ref().map(|t| t.expose().to_string()),
        None,
        "kubectl-coreweave",
    );
    let identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(SignError::Params)?
        .into();
    let signable = SignableRequest::new("GET", url, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|cause| SignError::Sign {
        url: url.to_string(),
        cause,
    })?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|cause| SignError::Sign {
            url: url.to_string(),
            cause,
        })?
        .into_parts();
    let mut request = http::Request::builder()
        .method(http::Method::GET)
        .uri(url)
        .header(http::header::USER_AGENT, USER_AGENT)
        .body(Full::new(Bytes::new()))
        .map_err(|cause| SignError::Form {
            url: url.to_string(),
            cause,
        })?;
    instructions.apply_to_request_http1x(&mut request);
    for name in ["authorization", "x-amz-security-token"] {
        if let Some(v) = request.headers_mut().get_mut(name) {
            v.set_sensitive(true);
        }
    }
    Ok(request)
}

/// The text of the first `<tag>…</tag>` in an S3 XML error (no entities or nesting in the
/// elements read here).
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..start + len].trim().to_string()).filter(|s| !s.is_empty())
}

/// "Connection refused (os error 111)" rather than hyper-util's "client error (Connect)".
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Token;

    fn key(session: Option<&str>) -> AccessKey {
        AccessKey {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_key: Token::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: session.map(Token::new),
            principal_name: None,
            expiry: None,
        }
    }

    #[test]
    fn the_request_is_signed_for_s3_in_the_zone() {
        let r = signed_list_buckets(
            &key(Some("sess-token")),
            "https://cwobject.com/",
            "us-east-04a",
        )
        .unwrap();
        let auth = r.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
                && auth.contains("/us-east-04a/s3/aws4_request"),
            "{auth}"
        );
        assert!(auth.contains("x-amz-security-token"), "{auth}");
        assert!(!auth.contains("EXAMPLEKEY"), "{auth}");
        assert!(r.headers()["authorization"].is_sensitive());
        assert!(r.headers()["x-amz-security-token"].is_sensitive());
        assert_eq!(
            r.headers()["x-amz-content-sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("sess-token") && !shown.contains("EXAMPLEKEY"),
            "{shown}"
        );
        let r = signed_list_buckets(&key(None), "http://127.0.0.1:9/", "z").unwrap();
        assert!(r.headers().get("x-amz-security-token").is_none());
    }

    #[test]
    fn answers_are_judged_by_status_and_code() {
        let k = key(None);
        let check = Check {
            endpoint: "https://cwobject.com",
            region: "z",
            request_timeout: Duration::from_secs(1),
            wait: Duration::from_secs(1),
        };
        let poll = Poll {
            key: &k,
            check: &check,
            url: "https://cwobject.com/",
            deadline: Instant::now(),
        };
        let err = |code: &str| {
            format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>m wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY</Message></Error>")
        };
        assert!(matches!(poll.judge(200, b""), Outcome::Accepted));
        assert!(matches!(
            poll.judge(403, err("AccessDenied").as_bytes()),
            Outcome::Accepted
        ));
        for (status, code) in [
            (403, "InvalidAccessKeyId"),
            (403, "SignatureDoesNotMatch"),
            (503, "SlowDown"),
            (401, "x"),
        ] {
            match poll.judge(status, err(code).as_bytes()) {
                Outcome::NotYet(said) => {
                    assert!(said.starts_with(&format!("{status} {code}: m ")), "{said}");
                    assert!(!said.contains("EXAMPLEKEY"), "{said}");
                }
                _ => panic!("{status} {code}"),
            }
        }
        assert!(matches!(
            poll.judge(400, err("AuthorizationHeaderMalformed").as_bytes()),
            Outcome::Refused(_)
        ));
        assert!(matches!(poll.judge(301, b""), Outcome::Refused(_)));
        assert_eq!(
            xml_text("<Error><Code> X </Code></Error>", "Code").as_deref(),
            Some("X")
        );
        assert_eq!(xml_text("<Error><Code></Code></Error>", "Code"), None);
        assert_eq!(xml_text("<Code>unclosed", "Code"), None);
    }
}
