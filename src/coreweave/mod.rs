//! The CoreWeave API (`https://api.coreweave.com`), as far as the plugin talks to it:
//! whether a token is accepted (`whoami`, for `token show --check`) and the alpha
//! service-account token exchange (`mint_service_account_token`).
//!
//! - `client.rs`: [`ApiConfig`] (endpoint, timeout, retries; from flags, environment,
//!   defaults), the blocking calls and their retry rules.
//! - `access_key.rs`: `POST /v1/cwobject/access-key` (Object Storage keys, for
//!   `objectstorage credentials`), through `client.rs`'s one `post_json` hook.
//! - `error.rs`: [`ApiError`], one line per failure, never carrying a token; and
//!   [`error::redact`], the one gate every text a server chose passes before it is shown
//!   (the CoreWeave API's and the clusters' alike).
//!
//! Nothing here runs at load time: a runtime, a TLS configuration and (for an https
//! endpoint only) the system's roots are built when a call is made.

pub mod access_key;
pub mod client;
pub mod error;

pub use client::{
    mint_service_account_token, whoami, ApiConfig, Deadline, Minted, Principal, DEFAULT_ENDPOINT,
    DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, ENDPOINT_ENV, MINT_PATH, TIMEOUT_ENV, WHOAMI_PATH,
};
pub use error::ApiError;

/// The name of the kubeconfig user extension that records a token's expiry and origin:
/// `users[].user.extensions: [{name: coreweave.com/token, extension: {expires, source,
/// rotatedAt}}]`. client-go keeps named extensions when it rewrites a file.
pub const TOKEN_EXTENSION: &str = "coreweave.com/token";

/// What a kubeconfig `server` is, as far as a Console API token is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// A CKS cluster's managed endpoint (or another https host under coreweave.com): it
    /// takes Console API tokens.
    ConsoleToken,
    /// CKS's unmanaged-auth endpoint `https://api.<org>-<hash>.k8s.<zone>.coreweave.com`:
    /// it accepts only the identities the cluster's own OIDC or webhook set-up accepts,
    /// never a Console API token.
    UnmanagedAuth,
    /// Anything else: not a CoreWeave cluster.
    Other,
}

/// The one-line reason given wherever an unmanaged-auth endpoint is left alone.
pub const UNMANAGED_AUTH_REASON: &str = "CKS's unmanaged-auth endpoint (https://api.<cluster>.k8s.<zone>.coreweave.com), which does not take Console API tokens (it accepts only the identities the cluster's own OIDC or webhook set-up accepts; the managed endpoint is the same host without `api.`)";

/// Classifies `server`: an `https` URL whose host is `coreweave.com` or ends in
/// `.coreweave.com` (ASCII case ignored, a final dot ignored) is CoreWeave's; of those,
/// a host of exactly six labels `api.<cluster>.k8s.<zone>.coreweave.com` (an `api` label
/// directly above a cluster label under `k8s.<zone>`) is the unmanaged-auth endpoint.
/// `api-x.…`, `api.k8s.<zone>.…` (no cluster label), `x.api.<cluster>.k8s.…` and hosts
/// with more labels between are not. Any other scheme, host, IP address or a server that
/// is not a URL is [`ServerKind::Other`].
pub fn server_kind(server: &str) -> ServerKind {
    let Ok(url) = url::Url::parse(server.trim()) else {
        return ServerKind::Other;
    };
    let Some(host) = url.domain() else {
        return ServerKind::Other;
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if url.scheme() != "https" || !(host == "coreweave.com" || host.ends_with(".coreweave.com")) {
        return ServerKind::Other;
    }
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        ["api", cluster, "k8s", zone, "coreweave", "com"]
            if !cluster.is_empty() && !zone.is_empty() =>
        {
            ServerKind::UnmanagedAuth
        }
        _ => ServerKind::ConsoleToken,
    }
}

/// Whether kubectl sends a token for `server` to a CoreWeave cluster that takes Console
/// API tokens ([`ServerKind::ConsoleToken`]), as CKS's managed endpoints
/// (`https://<org>-<hash>.k8s.<zone>.coreweave.com`) do.
pub fn is_coreweave_server(server: &str) -> bool {
    server_kind(server) == ServerKind::ConsoleToken
}

/// Whether `server` is CKS's unmanaged-auth endpoint ([`ServerKind::UnmanagedAuth`]).
pub fn is_unmanaged_auth_server(server: &str) -> bool {
    server_kind(server) == ServerKind::UnmanagedAuth
}

#[cfg(test)]
mod tests {
    use super::{is_coreweave_server, server_kind, ServerKind};

    #[test]
    fn coreweave_servers_are_https_hosts_under_coreweave_com() {
        for yes in [
            "https://cw1234-a1b2c3.k8s.us-east-04a.coreweave.com",
            "https://ORG-1.K8S.ORD1.COREWEAVE.COM:443/",
            "https://x.coreweave.com./",
            "https://coreweave.com",
        ] {
            assert!(is_coreweave_server(yes), "{yes}");
        }
        for no in [
            "http://x.k8s.ord1.coreweave.com",
            "https://x.coreweave.com.evil.example",
            "https://evilcoreweave.com",
            "https://coreweave.com@evil.example",
            "https://127.0.0.1:6443",
            "https://[::1]:6443",
            "x.coreweave.com:443",
            "",
            "https://k.example",
        ] {
            assert!(!is_coreweave_server(no), "{no}");
        }
    }

    #[test]
    fn the_unmanaged_endpoint_is_api_directly_above_a_cluster_under_k8s() {
        for yes in [
            "https://api.cw1234-a1b2c3.k8s.us-east-04a.coreweave.com",
            "https://API.Org-1.K8S.ORD1.COREWEAVE.COM:443/",
            "https://api.cw1234-a1b2c3.k8s.us-east-04a.coreweave.com./",
            "  https://api.x.k8s.z.coreweave.com/path?q  ",
        ] {
            assert_eq!(server_kind(yes), ServerKind::UnmanagedAuth, "{yes}");
            assert!(!is_coreweave_server(yes), "{yes}");
        }
        // Close, but a managed endpoint (or another CoreWeave host) that takes the token.
        for managed in [
            "https://cw1234-a1b2c3.k8s.us-east-04a.coreweave.com",
            "https://api-cw1234-a1b2c3.k8s.us-east-04a.coreweave.com",
            "https://apix.cw1234-a1b2c3.k8s.us-east-04a.coreweave.com",
            "https://api.k8s.us-east-04a.coreweave.com",
            "https://x.api.cw1234-a1b2c3.k8s.us-east-04a.coreweave.com",
            "https://api.a.b.k8s.us-east-04a.coreweave.com",
            "https://api.cw1234-a1b2c3.k8s.coreweave.com",
            "https://api.cw1234-a1b2c3.k9s.us-east-04a.coreweave.com",
            "https://api.coreweave.com",
        ] {
            assert_eq!(server_kind(managed), ServerKind::ConsoleToken, "{managed}");
        }
        // Not CoreWeave at all, however close the text.
        for other in [
            "http://api.cw1234-a1b2c3.k8s.us-east-04a.coreweave.com",
            "https://api.cw1234-a1b2c3.k8s.us-east-04a.coreweave.com.evil.example",
            "https://api.cw1234-a1b2c3.k8s.us-east-04a.coreweave.com@evil.example",
            "https://api.cw1234-a1b2c3.k8s.us-east-04a.evilcoreweave.com",
            "api.cw1234-a1b2c3.k8s.us-east-04a.coreweave.com:443",
        ] {
            assert_eq!(server_kind(other), ServerKind::Other, "{other}");
        }
    }
}
