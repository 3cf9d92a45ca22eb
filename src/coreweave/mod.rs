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

/// Whether kubectl sends a token for `server` to a CoreWeave cluster: an `https` URL whose
/// host is `coreweave.com` or ends in `.coreweave.com` (ASCII case ignored, a final dot
/// ignored), as CKS servers are (`https://<org>-<hash>.k8s.<zone>.coreweave.com`). Any other
/// scheme, host, IP address or a server that is not a URL is not.
pub fn is_coreweave_server(server: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(server.trim()) else {
        return false;
    };
    let Some(host) = url.domain() else {
        return false;
    };
    let host = host.trim_end_matches('.');
    url.scheme() == "https" && (host == "coreweave.com" || host.ends_with(".coreweave.com"))
}

#[cfg(test)]
mod tests {
    use super::is_coreweave_server;

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
}
