//! The cluster check: proves that a Kubernetes cluster accepts a token before `token
//! rotate` writes it, by sending what `kubectl auth whoami` sends (a `SelfSubjectReview`,
//! v1, then v1beta1 and v1alpha1 on 404). `targets.rs` reads each context's cluster entry
//! from the loader's model; `review.rs` sends the reviews and judges the answers;
//! `setup.rs` builds each target's kube configuration, trust and route; `tls.rs` holds the
//! certificate verifiers. Failures are told apart by the types of their causes, into
//! [`ClusterError`]. It never prints or writes and sends only the token it is given; every
//! server text and error cause goes through `net::redact`, and a proxy-url is shown
//! without its user and password.

use std::path::PathBuf;
use std::time::Duration;

use crate::net::{self, proxy::without_userinfo};

mod review;
mod setup;
mod targets;
pub mod tls;

pub use review::{verify, verify_async, verify_until, verify_with};
pub use targets::cluster_targets;

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

/// Why a cluster's certificate authority cannot be used (the message names the entry).
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("{}", crate::io::io_message(.0))]
    Read(std::io::Error),
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    #[error("is not valid PEM: {0}")]
    NotPem(rustls::pki_types::pem::Error),
    #[error("holds no PEM certificate")]
    NoCertificate,
    #[error("no certificate of its certificate authority can be used")]
    NoneUsable,
    #[error("its certificate authority cannot be used: {0}")]
    Verifier(rustls::client::VerifierBuilderError),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Token;

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
