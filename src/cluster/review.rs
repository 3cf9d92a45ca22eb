//! The reviews, concurrently, each within the timeout and all within the deadline, as tasks
//! on the network layer. Each goes through a `kube::Client` built for its target (kube's
//! base-URI layer, its typed create request: k8s-openapi's `SelfSubjectReview`
//! for v1, a `DynamicObject` for v1beta1 and v1alpha1, which k8s-openapi no longer has).
//! Only a 2xx naming the user is an acceptance; answers are read to [`MAX_BODY`];
//! redirects are not followed.

use std::error::Error as StdError;
use std::time::Duration;

use hyper_util::client::legacy::connect::Connect;
use hyper_util::rt::TokioExecutor;

use crate::net::connect::{cause, chain, Cause};
use crate::net::{self, redact, Capped, Deadline, ProxyEnv};
use crate::secret::Token;

use super::setup::{setup, Setup};
use super::{
    suffix, CaSource, ClusterError, ClusterTarget, ReviewOutcome, UserInfo, MAX_BODY,
    MAX_CONCURRENT,
};

/// Sends one SelfSubjectReview per target with `token`, concurrently (at most
/// [`MAX_CONCURRENT`] at once), as tasks on the network layer's runtime. Each target
/// gets at most `timeout` (connection, TLS and answer together). Returns one outcome per
/// target, in the targets' order. Never prints; never puts the token in an error.
pub fn verify(targets: &[ClusterTarget], token: &Token, timeout: Duration) -> Vec<ReviewOutcome> {
    verify_until(targets, token, timeout, Deadline::after(Duration::MAX))
}

/// [`verify`], all of it over by `deadline`: a target without an answer by then gets
/// [`ClusterError::Deadline`]. A target without `proxy-url` goes through the proxy of
/// this process's environment as kubectl would ([`ProxyEnv`]).
pub fn verify_until(
    targets: &[ClusterTarget],
    token: &Token,
    timeout: Duration,
    deadline: Deadline,
) -> Vec<ReviewOutcome> {
    verify_with(targets, token, timeout, deadline, &ProxyEnv::from_process())
}

/// [`verify_until`] with the proxy environment given.
pub fn verify_with(
    targets: &[ClusterTarget],
    token: &Token,
    timeout: Duration,
    deadline: Deadline,
    env: &ProxyEnv,
) -> Vec<ReviewOutcome> {
    match net::block_on(verify_async(targets, token, timeout, deadline, env)) {
        Ok(out) => out,
        Err(why) => targets
            .iter()
            .map(|t| ReviewOutcome {
                context: t.context.clone(),
                result: Err(ClusterError::Unexpected {
                    server: t.server.clone(),
                    detail: why.to_string(),
                }),
            })
            .collect(),
    }
}

/// [`verify_with`] as a future, for a command that makes other calls on the same
/// runtime ([`net::block_on`]).
pub async fn verify_async(
    targets: &[ClusterTarget],
    token: &Token,
    timeout: Duration,
    deadline: Deadline,
    env: &ProxyEnv,
) -> Vec<ReviewOutcome> {
    let outcome = |t: &ClusterTarget, result| ReviewOutcome {
        context: t.context.clone(),
        result,
    };
    if let Some(why) = header_problem(token) {
        return targets
            .iter()
            .map(|t| {
                outcome(
                    t,
                    Err(ClusterError::Config {
                        context: t.context.clone(),
                        detail: why.to_string(),
                    }),
                )
            })
            .collect();
    }
    let jobs: Vec<_> = targets
        .iter()
        .map(|t| {
            let (t, token, env) = (t.clone(), token.clone(), env.clone());
            async move { review_within(&t, &token, timeout, &env).await }
        })
        .collect();
    let results = net::all_bounded(jobs, MAX_CONCURRENT, Some(deadline)).await;
    let ran_out = std::time::Instant::now() >= deadline.at;
    targets
        .iter()
        .zip(results)
        .map(|(t, r)| {
            let r = r.unwrap_or_else(|| {
                Err(match ran_out {
                    true => ClusterError::Deadline {
                        server: t.server.clone(),
                        limit: deadline.limit,
                    },
                    // A review task that panicked.
                    false => ClusterError::Unexpected {
                        server: t.server.clone(),
                        detail: "the check stopped without an answer (internal error)".into(),
                    },
                })
            });
            outcome(t, r)
        })
        .collect()
}

/// A token that cannot be a bearer (empty, or not printable ASCII) is refused for every
/// target at once, with one clear reason, before anything is built.
fn header_problem(token: &Token) -> Option<&'static str> {
    let t = token.expose();
    if t.is_empty() {
        Some("the token is empty")
    } else if !t.bytes().all(|b| b.is_ascii_graphic()) {
        Some("the token contains spaces or characters that cannot be sent in an HTTP header")
    } else {
        None
    }
}

async fn review_within(
    t: &ClusterTarget,
    token: &Token,
    timeout: Duration,
    env: &ProxyEnv,
) -> Result<UserInfo, ClusterError> {
    let timed_out = || ClusterError::Timeout {
        server: t.server.clone(),
        timeout,
    };
    match tokio::time::timeout(timeout, review(t, token, timeout, env)).await {
        Ok(Err(ClusterError::Timeout { .. })) | Err(_) => Err(timed_out()),
        Ok(r) => r,
    }
}

async fn review(
    t: &ClusterTarget,
    token: &Token,
    timeout: Duration,
    env: &ProxyEnv,
) -> Result<UserInfo, ClusterError> {
    let setup = setup(t, env, timeout)?;
    net::connect::over(
        &setup.route,
        Reviews {
            t,
            token,
            timeout,
            setup: &setup,
        },
    )
    .await
}

/// The reviews of one target, over whichever connector its route takes.
struct Reviews<'a> {
    t: &'a ClusterTarget,
    token: &'a Token,
    timeout: Duration,
    setup: &'a Setup,
}

impl net::connect::OverConnector for Reviews<'_> {
    type Output = Result<UserInfo, ClusterError>;
    fn run<C>(self, connector: C) -> impl std::future::Future<Output = Self::Output> + Send
    where
        C: Connect + Clone + Send + Sync + 'static,
    {
        reviews(self.t, self.token, self.timeout, self.setup, connector)
    }
}

/// The review versions, newest first, as `kubectl auth whoami` tries them: clusters
/// before 1.28 serve only v1beta1 (1.27) or v1alpha1 (1.26).
const REVIEW_VERSIONS: [&str; 3] = ["v1", "v1beta1", "v1alpha1"];

/// The review through a `kube::Client` over `connector`, falling back from v1 on 404 as
/// `kubectl auth whoami` does. A 404 comes after authentication, but the user is wanted.
async fn reviews<C>(
    t: &ClusterTarget,
    token: &Token,
    timeout: Duration,
    setup: &Setup,
    connector: C,
) -> Result<UserInfo, ClusterError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    use kube::client::ConfigExt as _;
    let config_err = |detail: String| ClusterError::Config {
        context: t.context.clone(),
        detail,
    };
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build::<_, kube::client::Body>(connector);
    // The bearer goes on each request here rather than through kube's auth layer: that
    // layer also carries exec plugins and auth providers (a JSONPath engine and regex,
    // half a megabyte of the binary) for a token that is always given.
    let mut bearer =
        http::HeaderValue::try_from(format!("Bearer {}", token.expose())).map_err(|_| {
            config_err(
                "the token cannot be sent: it holds a character an HTTP header cannot carry".into(),
            )
        })?;
    bearer.set_sensitive(true);
    let service = tower::ServiceBuilder::new()
        .layer(setup.config.base_uri_layer())
        .map_err(tower::BoxError::from)
        .service(http);
    let client = kube::Client::new(service, "default");
    let mut last = None;
    for version in REVIEW_VERSIONS {
        let answer = post_review(&client, version, &bearer)
            .await
            .map_err(|e| classify(t, token, timeout, setup, &e))?;
        match judge(t, token, answer) {
            Judged::NotServed(e) => last = Some(e),
            Judged::Done(r) => return r,
        }
    }
    Err(last.unwrap_or_else(|| ClusterError::Unexpected {
        server: t.server.clone(),
        detail: "answered 404 to every SelfSubjectReview version".into(),
    }))
}

/// An answer to a review: status, `Location`, and the body as far as it was read.
struct Answer {
    status: u16,
    location: Option<String>,
    body: Capped,
}

/// POST one review, as `kubectl auth whoami` does: for v1 k8s-openapi's
/// `SelfSubjectReview`; for the versions k8s-openapi no longer has, the same object as a
/// `DynamicObject` of that version. Both go as kube's typed create request; the answer's
/// status, `Location` and at most [`MAX_BODY`] bytes of its body are read here rather than
/// by `kube::Api` (which reads any length and follows no redirect but drops `Location`).
async fn post_review(
    client: &kube::Client,
    version: &str,
    bearer: &http::HeaderValue,
) -> Result<Answer, kube::Error> {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let body = match version {
        "v1" => serde_json::to_vec(&SelfSubjectReview::default()),
        older => serde_json::to_vec(&kube::core::DynamicObject {
            types: Some(kube::core::TypeMeta {
                api_version: format!("authentication.k8s.io/{older}"),
                kind: "SelfSubjectReview".into(),
            }),
            metadata: Default::default(),
            data: serde_json::json!({}),
        }),
    }
    .map_err(kube::Error::SerdeError)?;
    let request = kube::core::Request::new(format!(
        "/apis/authentication.k8s.io/{version}/selfsubjectreviews"
    ))
    .create(&kube::api::PostParams::default(), body)
    .map_err(kube::Error::BuildRequest)?;
    let (mut parts, body) = request.into_parts();
    // kube's create leaves an empty query (`…/selfsubjectreviews?`); kubectl sends none.
    if let Some(path) = parts.uri.path_and_query().filter(|p| p.query() == Some("")) {
        let path = path.path().to_string();
        parts.uri = path
            .parse()
            .map_err(|e: http::uri::InvalidUri| kube::Error::HttpError(http::Error::from(e)))?;
    }
    parts
        .headers
        .insert(http::header::AUTHORIZATION, bearer.clone());
    parts.headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    parts.headers.insert(
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("kubectl-coreweave/", env!("CARGO_PKG_VERSION"))),
    );
    let response = client
        .send(http::Request::from_parts(
            parts,
            kube::client::Body::from(body),
        ))
        .await?;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
    let body = net::read_capped(response.into_body(), MAX_BODY).await?;
    Ok(Answer {
        status,
        location,
        body,
    })
}

enum Judged {
    /// 404: this version of the review is not served; try the next.
    NotServed(ClusterError),
    Done(Result<UserInfo, ClusterError>),
}

/// What an answer to a review means. Only a 2xx review naming a user is an acceptance;
/// 401/403 is a rejection whatever the body; everything else keeps its HTTP status in
/// the message. Every text of the server goes through [`redact`].
fn judge(t: &ClusterTarget, token: &Token, answer: Answer) -> Judged {
    let Answer {
        status,
        location,
        body,
    } = answer;
    let secrets = [token.expose()];
    let unexpected = |detail: String| {
        Judged::Done(Err(ClusterError::Unexpected {
            server: t.server.clone(),
            detail,
        }))
    };
    let body = match body {
        Capped::Whole(b) => b,
        Capped::Over(_) => {
            return unexpected(format!(
                "answered {status} with a body over {MAX_BODY} bytes; stopped reading"
            ))
        }
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let text = |s: &str| redact(s, &secrets);
    if (200..300).contains(&status) {
        return Judged::Done(accepted(t, status, json, &secrets));
    }
    if (300..400).contains(&status) {
        let to = location
            .map(|l| format!(" to {}", redact(&l, &secrets)))
            .unwrap_or_default();
        return unexpected(format!(
            "answered {status}, a redirect{to}, which the check does not follow (kubectl \
             would not send the token there either)"
        ));
    }
    // A Kubernetes Status, when the body is one; else the body itself (an HTML page).
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j[name].as_str())
            .map(text)
            .filter(|s| !s.is_empty())
    };
    let reason = field("reason").unwrap_or_else(|| canonical_reason(status).to_string());
    let mut message = match &json {
        Some(_) => field("message").unwrap_or_default(),
        None => redact(&String::from_utf8_lossy(&body), &secrets),
    };
    if let Some(details) = json
        .as_ref()
        .map(|j| &j["details"])
        .filter(|d| d.as_object().is_some_and(|o| !o.is_empty()))
    {
        let details = redact(&details.to_string(), &secrets);
        message = if message.is_empty() {
            format!("details {details}")
        } else {
            format!("{message} (details {details})")
        };
    }
    if message == reason {
        message.clear();
    }
    match status {
        401 | 403 => Judged::Done(Err(ClusterError::Rejected {
            server: t.server.clone(),
            status,
            reason,
            message,
        })),
        404 => Judged::NotServed(ClusterError::Unexpected {
            server: t.server.clone(),
            detail: format!(
                "answered 404 {reason} to a SelfSubjectReview{}",
                suffix(&message)
            ),
        }),
        _ => unexpected(format!(
            "answered {status} {reason} to a SelfSubjectReview{}",
            suffix(&message)
        )),
    }
}

/// The user a 2xx answer names, or why it is not an acceptance.
fn accepted(
    t: &ClusterTarget,
    status: u16,
    json: Option<serde_json::Value>,
    secrets: &[&str],
) -> Result<UserInfo, ClusterError> {
    use k8s_openapi::api::authentication::v1::SelfSubjectReviewStatus;
    let unexpected = |detail: String| ClusterError::Unexpected {
        server: t.server.clone(),
        detail,
    };
    let text = |s: &str| redact(s, secrets);
    let Some(json) = json else {
        return Err(unexpected(format!(
            "answered {status} with a body that is not a SelfSubjectReview (not JSON)"
        )));
    };
    // The review's status has one shape in v1, v1beta1 and v1alpha1: k8s-openapi's.
    let review: Option<SelfSubjectReviewStatus> =
        serde_json::from_value(json["status"].clone()).ok();
    let info = review.and_then(|r| r.user_info).unwrap_or_default();
    let Some(username) = info.username.as_deref().map(text).filter(|u| !u.is_empty()) else {
        return Err(unexpected(format!(
            "answered {status} without status.userInfo.username: the cluster did not say \
             who the token belongs to, so it is not an acceptance"
        )));
    };
    Ok(UserInfo {
        username,
        uid: info.uid.as_deref().map(text).filter(|u| !u.is_empty()),
        groups: info
            .groups
            .unwrap_or_default()
            .iter()
            .map(|g| text(g))
            .collect(),
    })
}

/// What went wrong, from the error's type and the types of its causes.
fn classify(
    t: &ClusterTarget,
    token: &Token,
    timeout: Duration,
    setup: &Setup,
    e: &kube::Error,
) -> ClusterError {
    let server = t.server.clone();
    // kube's own wrapper says only which layer failed; the causes say what.
    let inner: &(dyn StdError + 'static) = match e {
        kube::Error::Service(inner) => &**inner,
        kube::Error::HyperError(inner) => inner,
        other => other,
    };
    let detail = redact(&chain(inner), &[token.expose()]);
    match cause(inner) {
        Cause::Tls => ClusterError::Tls {
            server,
            detail,
            trust: trust(t),
        },
        Cause::Timeout => ClusterError::Timeout { server, timeout },
        Cause::Connect => ClusterError::Connect {
            server,
            detail: match &setup.route.proxy {
                Some((through, _)) => format!("through {through}: {detail}"),
                None => detail,
            },
        },
        Cause::Other => ClusterError::Unexpected { server, detail },
    }
}

fn trust(t: &ClusterTarget) -> String {
    let name = match &t.tls_server_name {
        Some(n) => format!(" for name {n:?}"),
        None => String::new(),
    };
    match &t.ca {
        CaSource::Data(_) => format!(
            "certificate-authority-data of cluster {:?}{name}",
            t.cluster
        ),
        CaSource::File(p) => format!("certificate-authority {}{name}", p.display()),
        CaSource::System => format!("the system's roots{name}"),
    }
}

fn canonical_reason(code: u16) -> &'static str {
    match code {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        429 => "TooManyRequests",
        500 => "InternalError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "",
    }
}
