//! The cluster check: proving that a Kubernetes cluster accepts a token before
//! `token rotate` writes it, by sending the request `kubectl auth whoami` sends (a
//! `SelfSubjectReview`, `authentication.k8s.io/v1`) with that token.
//!
//! What it owns:
//! - [`cluster_targets`]: for each context, what the check needs of its cluster entry
//!   (server, certificate authority, `insecure-skip-tls-verify`, `tls-server-name`,
//!   `proxy-url`), read from the kubeconfig file that defines the entry, with relative
//!   `certificate-authority` paths resolved against that file's folder (client-go's rule).
//! - [`verify`]: one review per target, concurrently (at most [`MAX_CONCURRENT`] at a time)
//!   on a current-thread tokio runtime built for the call, each bounded by the timeout; the
//!   answer is the user the cluster says the token belongs to, or a [`ClusterError`] that
//!   says why not: rejected (401/403), TLS, connection, timeout, bad cluster entry, or an
//!   unexpected answer.
//!
//! Where it stops: it never prints, never writes, never reads the user's token or any
//! credential of the kubeconfig (only the token it is given is sent), and never lets `kube`
//! read the environment or a kubeconfig: the `kube::Config` is built by hand from the
//! [`ClusterTarget`] (`Kubeconfig::read_from` would rewrite relative paths, and
//! `Config::infer` would read `KUBECONFIG`, `HTTPS_PROXY` and in-cluster files). So unlike
//! kubectl, `HTTPS_PROXY`/`NO_PROXY` are not honoured; only a cluster's `proxy-url` is.
//! System roots (a cluster without CA) come from the platform verifier, which on Linux
//! honours `SSL_CERT_FILE`/`SSL_CERT_DIR` as Go does. Deciding what to do with an outcome
//! (refuse to rotate, ask) is the caller's.
//!
//! Why the cluster fields are read here and not in `kubeconfig::model`: the loader's model
//! is the hot path of `token show --raw`, which must not pay for parsing and keeping
//! fields it never uses. Only a rotation that asks for the cluster check pays for a second,
//! narrow parse (the `clusters` list) of the files whose clusters it needs, from the exact
//! text the loader read (`LoadedFile::text`), so both parses see the same bytes.
//!
//! Proxies: a cluster's `proxy-url` is honoured for `http://` and `https://` (a CONNECT
//! tunnel, as client-go) and `socks5://`; any other scheme is a [`ClusterError::Config`]
//! and nothing is sent. The `user:password@` of an `http(s)://` proxy-url is sent as
//! `Proxy-Authorization: Basic`; that of a `socks5://` one is not sent (kube does not pass
//! it on), so a SOCKS5 proxy that requires authentication refuses the check where kubectl
//! would log in. An `https://` proxy's certificate is verified with the cluster entry's
//! trust settings (CA, `insecure-skip-tls-verify`, `tls-server-name`): kube builds one TLS
//! configuration for both.
//!
//! No error carries the token: messages are built from the target and from the causes'
//! texts with any occurrence of the token replaced by its masked form. Nor a proxy's
//! user or password: a proxy-url is shown without them.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::config::AuthInfo;
use kube::{Client, Config};
use serde::{Deserialize, Deserializer};

use crate::kubeconfig::{base_dir, Kubeconfig};
use crate::secret::Token;

/// How many reviews are in flight at once.
pub const MAX_CONCURRENT: usize = 8;

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
    /// An answer that is neither a review nor a rejection (404, 500, not JSON, …).
    #[error("cluster {server}: {detail}")]
    Unexpected { server: String, detail: String },
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
/// kubectl (first file defining the name wins), re-read from that file's text.
/// Fails on the first context that cannot be checked at all: unknown, without a cluster,
/// naming an undefined cluster, or a cluster without `server`.
pub fn cluster_targets(
    kc: &Kubeconfig,
    contexts: &[String],
) -> Result<Vec<ClusterTarget>, ClusterError> {
    let mut parsed: HashMap<usize, Vec<ClusterEntry>> = HashMap::new();
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
        let entries = match parsed.entry(origin.file) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(parse_clusters(path, &kc.files[origin.file].text).map_err(&config_err)?)
            }
        };
        // Both parses read the same text with the same rules, so the positions agree; a
        // disagreement would mean the loader and this parser differ, and is refused.
        let entry = entries
            .get(origin.index)
            .filter(|e| e.name == merged.name)
            .ok_or_else(|| {
                config_err(format!(
                    "cluster {cluster_name:?} in {}: entry not found on re-reading the file",
                    path.display()
                ))
            })?;
        let fields = entry.cluster.clone().unwrap_or_default();
        let server = fields.server.unwrap_or_default();
        if server.is_empty() {
            return Err(config_err(format!(
                "cluster {cluster_name:?} (in {}) has no server",
                path.display()
            )));
        }
        let ca = match (
            fields.certificate_authority_data.filter(|d| !d.is_empty()),
            fields.certificate_authority.filter(|f| !f.is_empty()),
        ) {
            // client-go: the data wins over the file when both are set.
            (Some(data), _) => CaSource::Data(data),
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

/// Only the `clusters` list of a file, and of each entry only what the check uses.
#[derive(Deserialize, Default)]
struct ClustersOnly {
    #[serde(default, deserialize_with = "null_as_empty")]
    clusters: Vec<ClusterEntry>,
}

#[derive(Deserialize, Default)]
struct ClusterEntry {
    #[serde(default, deserialize_with = "null_as_empty")]
    name: String,
    #[serde(default)]
    cluster: Option<ClusterFields>,
}

#[derive(Deserialize, Default, Clone)]
struct ClusterFields {
    #[serde(default)]
    server: Option<String>,
    #[serde(rename = "certificate-authority-data", default)]
    certificate_authority_data: Option<String>,
    #[serde(rename = "certificate-authority", default)]
    certificate_authority: Option<String>,
    #[serde(rename = "insecure-skip-tls-verify", default)]
    insecure_skip_tls_verify: Option<bool>,
    #[serde(rename = "tls-server-name", default)]
    tls_server_name: Option<String>,
    #[serde(rename = "proxy-url", default)]
    proxy_url: Option<String>,
}

/// Parse the `clusters` list with the loader's options (`load::parse`): first document
/// only, no YAML 1.1 type guessing, last duplicate key wins.
fn parse_clusters(path: &Path, text: &str) -> Result<Vec<ClusterEntry>, String> {
    let doc = crate::kubeconfig::load::first_document(text);
    if doc.trim().is_empty() {
        return Ok(Vec::new());
    }
    // A document that is `null`, `~` or only comments is an empty config, as in `load.rs`,
    // whose reader (merge keys and limits as kubectl reads them) this shares.
    let parsed: Option<ClustersOnly> =
        crate::kubeconfig::load::from_document(doc).map_err(|e| {
            // The parser's message may quote a scalar of the file; only the place is kept.
            let e = e.kubectl_position(doc);
            let (line, column) = (e.line, e.column);
            format!(
                "kubeconfig {}:{line}:{column}: a cluster entry field has the wrong type \
             (server, certificate-authority, certificate-authority-data, tls-server-name and \
             proxy-url are strings, insecure-skip-tls-verify is true or false)",
                path.display()
            )
        })?;
    Ok(parsed.map(|p| p.clusters).unwrap_or_default())
}

/// `clusters: null` is an empty list and `name: null` an empty string, as in client-go.
fn null_as_empty<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------
// Sending the reviews
// ---------------------------------------------------------------------------------------

/// Sends one SelfSubjectReview per target with `token`, concurrently (at most
/// [`MAX_CONCURRENT`] at once), on one current-thread tokio runtime built here. Each target
/// gets at most `timeout` (connection, TLS and answer together). Returns one outcome per
/// target, in the targets' order. Never prints; never puts the token in an error.
pub fn verify(targets: &[ClusterTarget], token: &Token, timeout: Duration) -> Vec<ReviewOutcome> {
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return targets
                .iter()
                .map(|t| {
                    outcome(
                        t,
                        Err(ClusterError::Unexpected {
                            server: t.server.clone(),
                            detail: format!("cannot start the network runtime: {e}"),
                        }),
                    )
                })
                .collect()
        }
    };
    // kube builds its rustls configs with the process default provider; this crate links
    // only ring, so installing it explicitly only guards against a second provider.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let mut results: Vec<Option<Result<UserInfo, ClusterError>>> =
        (0..targets.len()).map(|_| None).collect();
    runtime.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        let mut next = 0;
        while next < targets.len() || !set.is_empty() {
            while next < targets.len() && set.len() < MAX_CONCURRENT {
                let (i, target, token) = (next, targets[next].clone(), token.clone());
                set.spawn(async move {
                    let result = review_within(&target, &token, timeout).await;
                    (i, result)
                });
                next += 1;
            }
            if let Some(Ok((i, result))) = set.join_next().await {
                results[i] = Some(result);
            }
        }
    });
    targets
        .iter()
        .zip(results)
        .map(|(t, r)| {
            let r = r.unwrap_or_else(|| {
                Err(ClusterError::Unexpected {
                    server: t.server.clone(),
                    detail: "the check stopped without an answer (internal error)".into(),
                })
            });
            outcome(t, r)
        })
        .collect()
}

/// kube puts the token in an `Authorization` header and panics if it is not a valid
/// header value; refuse such a token before anything is built.
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
) -> Result<UserInfo, ClusterError> {
    let timed_out = || ClusterError::Timeout {
        server: t.server.clone(),
        timeout,
    };
    match tokio::time::timeout(timeout, review(t, token, timeout)).await {
        Ok(Err(ClusterError::Timeout { .. })) | Err(_) => Err(timed_out()),
        Ok(r) => r,
    }
}

async fn review(
    t: &ClusterTarget,
    token: &Token,
    timeout: Duration,
) -> Result<UserInfo, ClusterError> {
    let config = client_config(t, token, timeout)?;
    let client = Client::try_from(config).map_err(|e| classify(t, token, timeout, e))?;
    let v1: Api<SelfSubjectReview> = Api::all(client.clone());
    match v1
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
    {
        Ok(review) => {
            let info = review.status.and_then(|s| s.user_info).unwrap_or_default();
            Ok(UserInfo {
                username: info.username.unwrap_or_default(),
                uid: info.uid.filter(|u| !u.is_empty()),
                groups: info.groups.unwrap_or_default(),
            })
        }
        // As `kubectl auth whoami`: clusters before 1.28 serve only v1beta1 (1.27) or
        // v1alpha1 (1.26). A 404 there comes after authentication, but the user is wanted.
        Err(kube::Error::Api(s)) if s.code == 404 => {
            let mut last = kube::Error::Api(s);
            for version in ["v1beta1", "v1alpha1"] {
                match review_older(&client, version).await {
                    Ok(info) => return Ok(info),
                    Err(kube::Error::Api(s)) if s.code == 404 => last = kube::Error::Api(s),
                    Err(e) => return Err(classify(t, token, timeout, e)),
                }
            }
            Err(classify(t, token, timeout, last))
        }
        Err(e) => Err(classify(t, token, timeout, e)),
    }
}

/// The same review through an older API version, which k8s-openapi no longer models.
async fn review_older(client: &Client, version: &str) -> Result<UserInfo, kube::Error> {
    let resource = ApiResource {
        group: "authentication.k8s.io".into(),
        version: version.into(),
        api_version: format!("authentication.k8s.io/{version}"),
        kind: "SelfSubjectReview".into(),
        plural: "selfsubjectreviews".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let review = DynamicObject::new("", &resource);
    let answer = api.create(&PostParams::default(), &review).await?;
    let info = &answer.data["status"]["userInfo"];
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    Ok(UserInfo {
        username: text(&info["username"]).unwrap_or_default(),
        uid: text(&info["uid"]).filter(|u| !u.is_empty()),
        groups: info["groups"]
            .as_array()
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default(),
    })
}

/// The `kube::Config` for one target, built by hand: nothing is read from the environment.
fn client_config(
    t: &ClusterTarget,
    token: &Token,
    timeout: Duration,
) -> Result<Config, ClusterError> {
    let config_err = |detail: String| ClusterError::Config {
        context: t.context.clone(),
        detail,
    };
    let entry = || format!("cluster {:?}", t.cluster);
    if !(t.server.starts_with("https://") || t.server.starts_with("http://")) {
        return Err(config_err(format!(
            "{}: server {:?} does not start with https://",
            entry(),
            t.server
        )));
    }
    let mut config = Config::new(t.server.parse().map_err(|e| {
        config_err(format!(
            "{}: server {:?} is not a URL: {e}",
            entry(),
            t.server
        ))
    })?);
    let has_ca = t.ca != CaSource::System;
    if t.insecure_skip_tls_verify && has_ca {
        // client-go refuses this combination, so kubectl cannot use the context either.
        return Err(config_err(format!(
            "{}: insecure-skip-tls-verify is set together with a certificate authority, \
             which kubectl refuses; remove one of them",
            entry()
        )));
    }
    config.root_cert = match &t.ca {
        CaSource::Data(b64) => {
            let cleaned: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            use base64::Engine as _;
            let pem = base64::engine::general_purpose::STANDARD
                .decode(cleaned)
                .map_err(|e| {
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
            let pem = std::fs::read(path).map_err(|e| {
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
        // No verification: an empty root store keeps the system store out of it.
        CaSource::System if t.insecure_skip_tls_verify => Some(Vec::new()),
        CaSource::System => None,
    };
    config.accept_invalid_certs = t.insecure_skip_tls_verify;
    config.tls_server_name = t.tls_server_name.clone();
    if let Some(p) = &t.proxy_url {
        let not_a_url = |why: String| {
            let hint = if p.contains('@') {
                " (a `/`, `?` or `#` in its user or password must be percent-encoded)"
            } else {
                ""
            };
            config_err(format!(
                "{}: proxy-url {:?} is not a URL: {why}{hint}",
                entry(),
                without_userinfo(p)
            ))
        };
        let uri = config
            .proxy_url
            .insert(p.parse().map_err(|e| not_a_url(format!("{e}")))?);
        // The URI parser leaves the port unchecked: with an unescaped `/` in the password,
        // the user name would become the proxy's host (and be looked up in DNS). Go's URL
        // parser, and so kubectl, refuse such a proxy-url; so does the check. An empty
        // port is the scheme's default for both.
        let port = uri
            .authority()
            .and_then(|a| a.as_str().rsplit('@').next())
            .and_then(|h| h.rsplit(']').next())
            .and_then(|h| h.rsplit_once(':'))
            .map(|(_, port)| port);
        if port.is_some_and(|p| !p.is_empty()) && uri.port_u16().is_none() {
            return Err(not_a_url("invalid port".into()));
        }
    }
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    // A check answers once: no retries on 429/503/504 that would outlast the timeout.
    config.default_retry = false;
    config.auth_info = AuthInfo {
        token: Some(token.expose().to_string().into()),
        ..AuthInfo::default()
    };
    Ok(config)
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

/// What went wrong, from kube's error and the chain of its causes.
fn classify(t: &ClusterTarget, token: &Token, timeout: Duration, e: kube::Error) -> ClusterError {
    let server = t.server.clone();
    let scrub = |s: String| scrub(s, token);
    match e {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                canonical_reason(status.code).to_string()
            } else {
                status.reason.clone()
            };
            let message = shorten(&scrub(status.message.trim().to_string()));
            let message = if message == reason {
                String::new()
            } else {
                message
            };
            if matches!(status.code, 401 | 403) {
                ClusterError::Rejected {
                    server,
                    status: status.code,
                    reason,
                    message,
                }
            } else {
                ClusterError::Unexpected {
                    server,
                    detail: format!(
                        "answered {} {reason} to a SelfSubjectReview{}",
                        status.code,
                        suffix(&message)
                    ),
                }
            }
        }
        kube::Error::SerdeError(err) => ClusterError::Unexpected {
            server,
            detail: scrub(format!("the answer is not a SelfSubjectReview: {err}")),
        },
        kube::Error::ProxyProtocolDisabled { proxy_url, .. }
        | kube::Error::ProxyProtocolUnsupported { proxy_url } => ClusterError::Config {
            context: t.context.clone(),
            detail: format!(
                "cluster {:?}: proxy-url scheme {:?} is not supported (use http://, https:// or socks5://)",
                t.cluster,
                proxy_url.scheme_str().unwrap_or("")
            ),
        },
        other => {
            let detail = scrub(chain(&other));
            match cause(&other) {
                Cause::Tls => ClusterError::Tls {
                    server,
                    detail,
                    trust: trust(t),
                },
                Cause::Timeout => ClusterError::Timeout { server, timeout },
                Cause::Connect => ClusterError::Connect {
                    server,
                    detail: match &t.proxy_url {
                        Some(p) => format!("through proxy-url {}: {detail}", without_userinfo(p)),
                        None => detail,
                    },
                },
                Cause::Other => ClusterError::Unexpected { server, detail },
            }
        }
    }
}

/// A proxy URL without any `user:password@`, for messages. Everything up to the last `@`
/// goes, not only a well-formed userinfo: a password with an unescaped `/`, `@` or `:`
/// makes the URL malformed, and that is exactly when it would be shown in an error.
fn without_userinfo(url: &str) -> String {
    let Some(at) = url.rfind('@') else {
        return url.to_string();
    };
    let host = &url[at + 1..];
    let scheme = url.split_once("://").map(|(s, _)| s).filter(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    });
    match scheme {
        Some(scheme) => format!("{scheme}://{host}"),
        None => host.to_string(),
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

enum Cause {
    Tls,
    Timeout,
    Connect,
    Other,
}

/// Walk the causes, looking inside `io::Error`s too (their `source()` skips the error they
/// wrap, which is where rustls puts its own).
fn cause(e: &(dyn StdError + 'static)) -> Cause {
    use std::io::ErrorKind::*;
    let mut stack: Vec<&(dyn StdError + 'static)> = vec![e];
    let mut found = Cause::Other;
    while let Some(e) = stack.pop() {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return Cause::Tls;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                TimedOut => return Cause::Timeout,
                ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected
                | AddrNotAvailable | HostUnreachable | NetworkUnreachable => found = Cause::Connect,
                _ => {}
            }
            if let Some(inner) = io.get_ref() {
                stack.push(inner);
            }
        }
        let text = e.to_string();
        // hyper-util's connector errors (the type is not reachable from here).
        let connector = text.starts_with("dns error")
            || text.starts_with("tcp connect error")
            || text.starts_with("tcp open error")
            || text.contains("proxy")
            || text.contains("tunnel")
            || text.starts_with("SOCKS error");
        if connector && matches!(found, Cause::Other) {
            found = Cause::Connect;
        }
        if let Some(s) = e.source() {
            stack.push(s);
        }
    }
    found
}

/// The error and its causes on one line: kube's and hyper's wrappers (`ServiceError:`,
/// `client error (Connect)`) and repeated texts dropped.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut stack: Vec<&(dyn StdError + 'static)> = vec![e];
    while let Some(e) = stack.pop() {
        let full = e.to_string();
        let text = ["ServiceError: ", "HyperError: "]
            .iter()
            .find_map(|p| full.strip_prefix(p))
            .unwrap_or(&full);
        let wrapper = text.starts_with("client error (") && text.ends_with(')');
        if !text.is_empty() && !wrapper && !parts.iter().any(|p| p.contains(text)) {
            parts.push(text.to_string());
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                stack.push(inner);
                continue;
            }
        }
        if let Some(s) = e.source() {
            stack.push(s);
        }
    }
    shorten(&parts.join(": "))
}

/// Any occurrence of the token, replaced by its masked form.
fn scrub(s: String, token: &Token) -> String {
    let secret = token.expose();
    if secret.is_empty() || !s.contains(secret) {
        s
    } else {
        s.replace(secret, &token.masked())
    }
}

/// At most 300 characters on one line: server messages can be whole HTML pages.
fn shorten(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= 300 {
        one_line
    } else {
        let cut: String = one_line.chars().take(300).collect();
        format!("{cut}…")
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
    fn scrub_replaces_the_token() {
        let t = Token::new("CW-SECRET-abcdefghijklmnop1234");
        let s = scrub(format!("bad header Bearer {}", t.expose()), &t);
        assert!(!s.contains("abcdefghijklmnop"), "{s}");
        assert!(s.contains("CW-SECRET-…1234"), "{s}");
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
