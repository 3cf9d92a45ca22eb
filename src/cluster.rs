//! The cluster check: proving that a Kubernetes cluster accepts a token before
//! `token rotate` writes it, by sending what `kubectl auth whoami` sends (a
//! `SelfSubjectReview`, v1, then v1beta1 and v1alpha1 on 404) with that token.
//!
//! - [`cluster_targets`]: what the check needs of each context's cluster entry, from the
//!   loader's model (the one reading of each file; relative CA paths against the folder of
//!   the file that defines the entry, as client-go).
//!   A context kubectl would not send the token to (`http://` server) or would refuse
//!   (CA data with a CA file, insecure with a CA) is refused here, before anything is sent.
//! - [`verify_until`]: the reviews, concurrently, each within the timeout and all within
//!   the deadline, as tasks on the network layer (`crate::net`). Each goes through a
//!   `kube::Client` built for its target: a `kube::Config` of the cluster and the user
//!   (server, `tls-server-name`, the bearer), kube's base-URI and auth layers, kube's
//!   typed create request (k8s-openapi's `SelfSubjectReview` for v1, a `DynamicObject`
//!   for v1beta1 and v1alpha1, which k8s-openapi no longer has), over a hyper-rustls
//!   connector of ours: the proxy is the entry's `proxy-url`, else `HTTPS_PROXY` with
//!   `NO_PROXY` as kubectl reads them (`net::ProxyEnv`). Trust is kube's rustls
//!   configuration with its verifier replaced by ours ([`tls`]: the listed CAs with Go's
//!   listed-leaf rule, or none), or the system's roots, loaded only for a target about to
//!   be contacted. Only a 2xx naming the user is an acceptance; answers are read to
//!   [`MAX_BODY`]; redirects not followed. Failures are told apart by the types of their
//!   causes (rustls, I/O, hyper-util's connector), into [`ClusterError`].
//!
//! It never prints or writes, and sends only the token it is given. Every server text and
//! error cause goes through [`redact`]; a proxy-url is shown without its user and password.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use hyper_util::client::legacy::connect::Connect;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::ServerName;

use crate::kubeconfig::{base_dir, Kubeconfig};
use crate::net::connect::{cause, chain, Cause, Route};
use crate::net::proxy::{parse_proxy, without_userinfo, Proxy};
use crate::net::{self, redact, Capped, Deadline, ProxyEnv};
use crate::secret::Token;

/// How many reviews are in flight at once.
pub const MAX_CONCURRENT: usize = 8;
/// Largest answer read from a cluster, as for the CoreWeave API: a review is a few hundred
/// bytes, and an endless answer must not take the memory of the machine.
pub const MAX_BODY: usize = net::MAX_BODY;

/// Where the certificate authority that verifies a cluster's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// `certificate-authority-data`: base64 of PEM, as written in the file.
    Data(String),
    /// `certificate-authority`: a PEM file, already resolved against the kubeconfig's folder.
    File(PathBuf),
    /// Neither: the system's roots.
    System,
}

/// What the check needs of a cluster entry, read from the kubeconfig file that defines it
/// (relative certificate-authority paths resolve against that file's folder).
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterTarget {
    pub context: String,
    /// The cluster entry's name, for messages.
    pub cluster: String,
    pub server: String,
    pub ca: CaSource,
    pub insecure_skip_tls_verify: bool,
    pub tls_server_name: Option<String>,
    pub proxy_url: Option<String>,
}

/// By hand, so that a debug print never shows a proxy-url's password.
impl std::fmt::Debug for ClusterTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterTarget")
            .field("context", &self.context)
            .field("cluster", &self.cluster)
            .field("server", &self.server)
            .field("ca", &self.ca)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("tls_server_name", &self.tls_server_name)
            .field(
                "proxy_url",
                &self.proxy_url.as_deref().map(without_userinfo),
            )
            .finish()
    }
}

/// Who the cluster says the token belongs to (`status.userInfo` of the review).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub uid: Option<String>,
    pub groups: Vec<String>,
}

/// The answer for one target; [`verify`] returns them in the targets' order.
#[derive(Debug)]
pub struct ReviewOutcome {
    pub context: String,
    pub result: Result<UserInfo, ClusterError>,
}

/// Why a cluster did not confirm a token. Messages name the server (or the context and
/// cluster entry) and never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The cluster answered 401 or 403: the token is not accepted there.
    #[error(
        "cluster {server} rejected the token ({status} {reason}){}",
        suffix(message)
    )]
    Rejected {
        server: String,
        status: u16,
        reason: String,
        /// The server's explanation (its `Status` message), when it gave one.
        message: String,
    },
    /// The TLS handshake failed: the certificate does not verify against the CA in use, the
    /// name does not match, or the server does not speak TLS.
    #[error("TLS with cluster {server} failed: {detail} (verified against {trust})")]
    Tls {
        server: String,
        detail: String,
        trust: String,
    },
    /// No connection: refused, unreachable, name not found, or the proxy failed.
    #[error("cannot connect to cluster {server}: {detail}")]
    Connect { server: String, detail: String },
    /// No answer within the timeout.
    #[error("cluster {server} did not answer within {}", seconds(timeout))]
    Timeout { server: String, timeout: Duration },
    /// The kubeconfig entry cannot be used as it is (no such context, no server, unreadable
    /// or invalid CA, unsupported proxy, …): nothing was sent.
    #[error("context {context:?}: {detail}")]
    Config { context: String, detail: String },
    /// An answer that is neither a review nor a rejection (404, 500, not JSON, a review
    /// without a user, a redirect, …).
    #[error("cluster {server}: {detail}")]
    Unexpected { server: String, detail: String },
    /// The total time limit of the checks ran out before this cluster answered.
    #[error(
        "cluster {server}: stopped waiting, the checks' total time limit ({}, --verify-timeout) ran out",
        seconds(limit)
    )]
    Deadline { server: String, limit: Duration },
}

fn suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

fn seconds(d: &Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}

// ---------------------------------------------------------------------------------------
// Reading the cluster entries
// ---------------------------------------------------------------------------------------

/// The targets for `contexts`, in that order: each context's cluster entry as merged by
/// kubectl (first file defining the name wins), as the loader read it.
/// Fails on the first context that cannot be checked at all: unknown, without a cluster,
/// naming an undefined cluster, or a cluster without `server`.
pub fn cluster_targets(
    kc: &Kubeconfig,
    contexts: &[String],
) -> Result<Vec<ClusterTarget>, ClusterError> {
    let mut out = Vec::with_capacity(contexts.len());
    for name in contexts {
        let config_err = |detail: String| ClusterError::Config {
            context: name.clone(),
            detail,
        };
        let Some((ctx_origin, ctx)) = kc.context(name) else {
            return Err(config_err(format!(
                "no such context in {}",
                kc.files_for_messages()
            )));
        };
        let cluster_name = ctx
            .context
            .as_ref()
            .and_then(|c| c.cluster.as_deref())
            .unwrap_or("");
        if cluster_name.is_empty() {
            return Err(config_err(format!(
                "names no cluster (in {})",
                kc.path(ctx_origin.file).display()
            )));
        }
        let Some((origin, merged)) = kc.cluster(cluster_name) else {
            return Err(config_err(format!(
                "names cluster {cluster_name:?}, which no kubeconfig file defines"
            )));
        };
        let path = kc.path(origin.file);
        let fields = merged.cluster.clone().unwrap_or_default();
        let server = fields.server.unwrap_or_default();
        if server.is_empty() {
            return Err(config_err(format!(
                "cluster {cluster_name:?} (in {}) has no server",
                path.display()
            )));
        }
        // kubectl sends no credentials to an `http://` server; neither does the check.
        if server
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        {
            return Err(config_err(format!(
                "cluster {cluster_name:?} (in {}): server {} is not TLS: cannot be verified \
                 without exposing the token (--verify api skips the cluster check)",
                path.display(),
                redact(&server, &[])
            )));
        }
        let ca = match (
            fields.certificate_authority_data.filter(|d| !d.is_empty()),
            fields.certificate_authority.filter(|f| !f.is_empty()),
        ) {
            // client-go's validation refuses both together ("certificate-authority-data
            // and certificate-authority are both specified"), so kubectl cannot use the
            // context: neither can the check.
            (Some(_), Some(file)) => {
                return Err(config_err(format!(
                    "cluster {cluster_name:?} (in {}): certificate-authority-data and \
                     certificate-authority ({}) are both set, which kubectl refuses as an \
                     error in configuration; remove one of them",
                    path.display(),
                    base_dir(path).join(file).display()
                )))
            }
            (Some(data), None) => CaSource::Data(data),
            (None, Some(file)) => CaSource::File(base_dir(path).join(file)),
            (None, None) => CaSource::System,
        };
        out.push(ClusterTarget {
            context: name.clone(),
            cluster: cluster_name.to_string(),
            server,
            ca,
            insecure_skip_tls_verify: fields.insecure_skip_tls_verify.unwrap_or(false),
            tls_server_name: fields.tls_server_name.filter(|s| !s.is_empty()),
            proxy_url: fields.proxy_url.filter(|s| !s.is_empty()),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Sending the reviews
// ---------------------------------------------------------------------------------------

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
                    detail: why.clone(),
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
    let setup = setup(t, token, env, timeout)?;
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
    let auth = setup.config.auth_layer().map_err(|e| {
        config_err(format!(
            "the token cannot be sent: {}",
            redact(&e.to_string(), &[token.expose()])
        ))
    })?;
    let service = tower::ServiceBuilder::new()
        .layer(setup.config.base_uri_layer())
        .option_layer(auth)
        .map_err(tower::BoxError::from)
        .service(http);
    let client = kube::Client::new(service, "default");
    let mut last = None;
    for version in REVIEW_VERSIONS {
        let answer = post_review(&client, version)
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
async fn post_review(client: &kube::Client, version: &str) -> Result<Answer, kube::Error> {
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
    use k8s_openapi::api::authentication::v1::SelfSubjectReviewStatus;
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
        let Some(json) = json else {
            return unexpected(format!(
                "answered {status} with a body that is not a SelfSubjectReview (not JSON)"
            ));
        };
        // The review's status has one shape in v1, v1beta1 and v1alpha1: k8s-openapi's.
        let review: Option<SelfSubjectReviewStatus> =
            serde_json::from_value(json["status"].clone()).ok();
        let info = review.and_then(|r| r.user_info).unwrap_or_default();
        let Some(username) = info.username.as_deref().map(text).filter(|u| !u.is_empty()) else {
            return unexpected(format!(
                "answered {status} without status.userInfo.username: the cluster did not say \
                 who the token belongs to, so it is not an acceptance"
            ));
        };
        return Judged::Done(Ok(UserInfo {
            username,
            uid: info.uid.as_deref().map(text).filter(|u| !u.is_empty()),
            groups: info
                .groups
                .unwrap_or_default()
                .iter()
                .map(|g| text(g))
                .collect(),
        }));
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

/// How one target is reached: kube's configuration of the cluster and user (URL, server
/// name, the bearer), and the route (TLS as the cluster entry says, the server name to
/// verify, the proxy with where it came from).
struct Setup {
    config: kube::Config,
    route: Route,
}

/// Everything one target needs, built from its entry, and for a cluster without
/// `proxy-url` the proxy of the environment as kubectl chooses it. Fails with
/// [`ClusterError::Config`] before anything is sent.
fn setup(
    t: &ClusterTarget,
    token: &Token,
    env: &ProxyEnv,
    timeout: Duration,
) -> Result<Setup, ClusterError> {
    use kube::client::ConfigExt as _;
    let config_err = |detail: String| ClusterError::Config {
        context: t.context.clone(),
        detail,
    };
    let entry = || format!("cluster {:?}", t.cluster);
    let server: http::Uri = t.server.parse().map_err(|e| {
        config_err(format!(
            "{}: server {:?} is not a URL: {e}",
            entry(),
            redact(&t.server, &[])
        ))
    })?;
    if server.scheme_str() != Some("https") || server.host().is_none_or(str::is_empty) {
        return Err(config_err(format!(
            "{}: server {:?} is not an https:// URL with a host",
            entry(),
            redact(&t.server, &[])
        )));
    }
    let has_ca = t.ca != CaSource::System;
    if t.insecure_skip_tls_verify && has_ca {
        // client-go refuses this combination, so kubectl cannot use the context either.
        return Err(config_err(format!(
            "{}: insecure-skip-tls-verify is set together with a certificate authority, \
             which kubectl refuses; remove one of them",
            entry()
        )));
    }
    let listed = match &t.ca {
        CaSource::Data(b64) => {
            // The loader checked it with the same decoder (`load::decode_go_base64`).
            let pem = crate::kubeconfig::load::decode_go_base64(b64).map_err(|e| {
                config_err(format!(
                    "{}: certificate-authority-data is not base64: {e}",
                    entry()
                ))
            })?;
            Some(pem_certificates(&pem).map_err(|why| {
                config_err(format!("{}: certificate-authority-data {why}", entry()))
            })?)
        }
        CaSource::File(path) => {
            let pem = read_ca_file(path).map_err(|e| {
                config_err(format!(
                    "{}: cannot read certificate-authority {}: {e}",
                    entry(),
                    path.display()
                ))
            })?;
            Some(pem_certificates(&pem).map_err(|why| {
                config_err(format!(
                    "{}: certificate-authority {} {why}",
                    entry(),
                    path.display()
                ))
            })?)
        }
        CaSource::System => None,
    };
    // kube's configuration of this cluster and user. Its TLS configuration is taken and
    // its verifier replaced by ours where the entry lists a CA or skips verification, so
    // it is given an empty root store there (its own would load the system's roots, and
    // refuse a bundle with one unreadable certificate, which Go skips); with neither, its
    // verifier is the platform's, loaded here for a cluster about to be contacted.
    let mut config = kube::Config::new(server);
    config.tls_server_name = t.tls_server_name.clone();
    config.accept_invalid_certs = t.insecure_skip_tls_verify;
    config.root_cert = (has_ca || t.insecure_skip_tls_verify).then(Vec::new);
    config.auth_info.token = Some(token.expose().to_string().into());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut tls = config.rustls_client_config().map_err(|e| {
        config_err(match t.ca {
            CaSource::System => format!("cannot load the system's root certificates: {e}"),
            _ => format!("TLS setup: {e}"),
        })
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    match (t.insecure_skip_tls_verify, listed) {
        (true, _) => tls
            .dangerous()
            .set_certificate_verifier(Arc::new(tls::NoVerification::new(provider))),
        (false, Some(certs)) => tls.dangerous().set_certificate_verifier(Arc::new(
            tls::ListedOrChained::new(certs, provider)
                .map_err(|why| config_err(format!("{}: {why}", entry())))?,
        )),
        (false, None) => {}
    }
    let server_name = match &t.tls_server_name {
        Some(n) => Some(ServerName::try_from(n.clone()).map_err(|_| {
            config_err(format!(
                "{}: tls-server-name {:?} is not a host name",
                entry(),
                redact(n, &[])
            ))
        })?),
        None => None,
    };
    let proxy = match &t.proxy_url {
        Some(p) => Some((
            format!("proxy-url {}", without_userinfo(p)),
            proxy(t, p).map_err(config_err)?,
        )),
        None => match env_proxy(t, env) {
            Some(p) => Some((
                format!("HTTPS_PROXY {}", without_userinfo(&p)),
                proxy(t, &p).map_err(|why| {
                    config_err(format!("{why} (from HTTPS_PROXY in the environment)"))
                })?,
            )),
            None => None,
        },
    };
    Ok(Setup {
        config,
        route: Route {
            tls,
            server_name,
            proxy,
            connect_timeout: timeout,
            https_only: true,
        },
    })
}

/// The proxy of a target's `proxy-url` (or the environment's `p`), as client-go takes it.
fn proxy(t: &ClusterTarget, p: &str) -> Result<Proxy, String> {
    parse_proxy(&format!("cluster {:?}: proxy-url", t.cluster), p)
}

/// The environment's proxy for this target's server, as kubectl chooses it (only when the
/// entry has no `proxy-url`).
fn env_proxy(t: &ClusterTarget, env: &ProxyEnv) -> Option<String> {
    let uri: http::Uri = t.server.parse().ok()?;
    let host = uri.host()?;
    env.for_https(host, uri.port_u16().unwrap_or(443))
}

/// A CA file, bounded: a certificate bundle is kilobytes, not the gigabytes a wrong path
/// (a device, a log) could hold.
fn read_ca_file(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    const MAX_CA_FILE: u64 = 4 << 20;
    let file = std::fs::File::open(path).map_err(|e| crate::io::io_message(&e))?;
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE + 1)
        .read_to_end(&mut pem)
        .map_err(|e| crate::io::io_message(&e))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(format!("larger than {MAX_CA_FILE} bytes"));
    }
    Ok(pem)
}

/// The DER certificates of a PEM bundle, or why there are none.
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::CertificateDer;
    let mut out = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("is not valid PEM: {e}"))?;
        out.push(cert.to_vec());
    }
    if out.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(out)
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

/// The certificate verifiers of the check, for rustls.
pub mod tls {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::WebPkiServerVerifier;
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

    /// Verifies against a cluster entry's certificate authority as kubectl (Go) does: a
    /// chain to one of the listed certificates, checked by webpki; or, as Go trusts a leaf
    /// that is itself in the root pool, a server certificate byte-equal to a listed one
    /// (a self-signed certificate, CA or not, that rustls refuses as `CaUsedAsEndEntity`
    /// or `UnknownIssuer`), whose host name and validity period are still checked.
    #[derive(Debug)]
    pub struct ListedOrChained {
        chained: Arc<WebPkiServerVerifier>,
        listed: Vec<CertificateDer<'static>>,
    }

    impl ListedOrChained {
        pub fn new(certs: Vec<Vec<u8>>, provider: Arc<CryptoProvider>) -> Result<Self, String> {
            let listed: Vec<CertificateDer<'static>> =
                certs.into_iter().map(CertificateDer::from).collect();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(listed.iter().cloned());
            if added == 0 {
                return Err("no certificate of its certificate authority can be used".into());
            }
            let chained = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("its certificate authority cannot be used: {e}"))?;
            Ok(ListedOrChained { chained, listed })
        }
    }

    impl ServerCertVerifier for ListedOrChained {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            let chained = self.chained.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            );
            let listed = self
                .listed
                .iter()
                .any(|c| c.as_ref() == end_entity.as_ref());
            if chained.is_ok() || !listed {
                return chained;
            }
            let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
            within_validity(end_entity, now)?;
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.chained.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.chained.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.chained.supported_verify_schemes()
        }
    }

    fn within_validity(cert: &CertificateDer<'_>, now: UnixTime) -> Result<(), Error> {
        let bad = || Error::InvalidCertificate(CertificateError::BadEncoding);
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|_| bad())?;
        let now = i64::try_from(now.as_secs()).map_err(|_| bad())?;
        let validity = parsed.validity();
        if now < validity.not_before.timestamp() {
            return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
        }
        if now > validity.not_after.timestamp() {
            return Err(Error::InvalidCertificate(CertificateError::Expired));
        }
        Ok(())
    }

    /// `insecure-skip-tls-verify: true`: any certificate, as kubectl; the handshake's
    /// signatures are still checked (they prove the peer holds the certificate's key).
    #[derive(Debug)]
    pub struct NoVerification(Arc<CryptoProvider>);

    impl NoVerification {
        pub fn new(provider: Arc<CryptoProvider>) -> NoVerification {
            NoVerification(provider)
        }
    }

    impl ServerCertVerifier for NoVerification {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_credentials_stay_out_of_messages() {
        assert_eq!(
            without_userinfo("http://user:pa@ss@proxy:3128/x"),
            "http://proxy:3128/x"
        );
        assert_eq!(without_userinfo("http://proxy:3128"), "http://proxy:3128");
        let t = ClusterTarget {
            context: "c".into(),
            cluster: "k".into(),
            server: "https://k".into(),
            ca: CaSource::System,
            insecure_skip_tls_verify: false,
            tls_server_name: None,
            proxy_url: Some("http://user:hunter2@proxy:3128".into()),
        };
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("proxy:3128"),
            "{shown}"
        );
        assert_eq!(
            without_userinfo("http://user:pa/ss@proxy:3128"),
            "http://proxy:3128"
        );
        assert_eq!(without_userinfo("user:pass@proxy:3128"), "proxy:3128");
        assert_eq!(
            without_userinfo("user:pass@socks5://proxy:1080"),
            "socks5://proxy:1080"
        );
    }

    #[test]
    fn tokens_that_cannot_be_headers_are_refused_before_sending() {
        let targets = [ClusterTarget {
            context: "c".into(),
            cluster: "c".into(),
            server: "https://127.0.0.1:1".into(),
            ca: CaSource::System,
            insecure_skip_tls_verify: false,
            tls_server_name: None,
            proxy_url: None,
        }];
        for bad in ["", "CW-SECRET-a b", "CW-SECRET-a\nb", "CW-SECRET-é"] {
            let out = verify(&targets, &Token::new(bad), Duration::from_secs(1));
            assert!(
                matches!(out[0].result, Err(ClusterError::Config { .. })),
                "{bad:?}: {:?}",
                out[0].result
            );
        }
    }
}
