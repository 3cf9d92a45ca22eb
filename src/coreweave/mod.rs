//! The CoreWeave API (`https://api.coreweave.com`), as far as the plugin talks to it.
//! `client.rs`: [`ApiConfig`] and the calls (`whoami`, the alpha mint exchange, the hooks
//! below), over `transport.rs` (requests, tries, retry rules); `temporary_credentials.rs`
//! and `access_key.rs`: the two ways to an Object Storage key; `s3_check.rs`: whether the
//! S3 endpoint accepts a new key yet; `cks.rs`: the organization's CKS clusters;
//! `settings.rs`: [`ApiSettings`], the API flags as given, resolved when a call is made;
//! `error.rs`: [`ApiError`] and [`error::redact`], the one gate every text a server chose
//! passes before it is shown. Nothing here runs at load time: a runtime, a TLS
//! configuration and the system's roots are built when a call is made.

pub mod access_key;
pub mod cks;
pub mod client;
pub mod error;
pub mod s3_check;
pub mod settings;
pub mod temporary_credentials;
mod transport;

pub use client::{
    mint_service_account_token, whoami, ApiConfig, Deadline, Minted, Principal, DEFAULT_ENDPOINT,
    DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, ENDPOINT_ENV, MINT_PATH, TIMEOUT_ENV, WHOAMI_PATH,
};
pub use error::ApiError;
pub use settings::ApiSettings;

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
    if let Some(host) = plain_https_host(server) {
        return https_host_kind(host);
    }
    parsed_server_kind(server)
}

/// [`server_kind`] through a full URL parse (WHATWG's, which also maps international
/// and percent-encoded hosts, as Go's dialer ends up doing).
fn parsed_server_kind(server: &str) -> ServerKind {
    let Ok(url) = url::Url::parse(server.trim()) else {
        return ServerKind::Other;
    };
    let Some(host) = url.domain() else {
        return ServerKind::Other;
    };
    if url.scheme() != "https" {
        return ServerKind::Other;
    }
    https_host_kind(&host.trim_end_matches('.').to_ascii_lowercase())
}

/// The host of a server written in the plainest form, for which the full parse is known
/// to give this very host: `https://`, lowercase ASCII labels of letters, digits and `-`
/// (none empty, none an `xn--` label, the last of letters only, so never an IPv4
/// address), then nothing, a port of at most five digits up to 65535, and a path of
/// unreserved characters. `None` for anything else, which the full parse reads. Rotate
/// classifies every context's server, and at 2,000 contexts the full parse would be a
/// tenth of its instructions; `tests::the_plain_form_reads_as_the_full_parse_does` holds
/// the two to the same answers.
fn plain_https_host(server: &str) -> Option<&str> {
    // Bytes, not `str` patterns: those go through the generic character searchers.
    let rest = server.strip_prefix("https://")?;
    let end = (rest.bytes())
        .position(|b| b == b':' || b == b'/')
        .unwrap_or(rest.len());
    let (host, mut tail) = rest.split_at(end);
    let label_ok = |l: &[u8]| {
        !l.is_empty()
            && !l.starts_with(b"xn--")
            && l.iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    };
    let labels = || host.as_bytes().split(|b| *b == b'.');
    if !labels().all(label_ok) || !labels().next_back()?.iter().all(u8::is_ascii_lowercase) {
        return None;
    }
    if let Some(after) = tail.strip_prefix(':') {
        let digits = after.bytes().position(|b| b == b'/').unwrap_or(after.len());
        let (port, path) = after.split_at(digits);
        if port.is_empty() || port.len() > 5 || port.parse::<u32>().ok()? > 65_535 {
            return None;
        }
        tail = path;
    }
    let path_ok = tail.is_empty()
        || (tail.starts_with('/')
            && tail.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~')
            }));
    path_ok.then_some(host)
}

/// What an `https` server with this host (lowercase, no final dot) is. The labels are
/// walked, not collected: every context's server is classified on the hot paths.
fn https_host_kind(host: &str) -> ServerKind {
    if host == "coreweave.com" {
        return ServerKind::ConsoleToken;
    }
    let Some(above) = host.strip_suffix(".coreweave.com") else {
        return ServerKind::Other;
    };
    let mut labels = above.split('.');
    match (
        labels.next(),
        labels.next(),
        labels.next(),
        labels.next(),
        labels.next(),
    ) {
        (Some("api"), Some(cluster), Some("k8s"), Some(zone), None)
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
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Whenever the plain form answers, the full parse gives the same host, and the
        /// classification is the full parse's for every input.
        #[test]
        fn the_plain_form_reads_as_the_full_parse_does(
            scheme in prop::sample::select(vec!["https://", "https://", "http://", "HTTPS://", " https://", ""]),
            labels in prop::collection::vec(
                prop_oneof![
                    6 => "[a-z0-9-]{1,8}",
                    1 => prop::sample::select(vec!["", "xn--ls8h", "XN--abc", "API", "0", "255", "0x7f", "-", "a_b", "é", "%61"]).prop_map(str::to_string),
                ],
                1..6,
            ),
            suffix in prop::sample::select(vec![".k8s.us-east-04a.coreweave.com", ".coreweave.com", "coreweave.com", ".coreweave.com.", ".coreweave.co", "", ".example.com", ".1"]),
            port in prop::sample::select(vec!["", ":443", ":6443", ":0443", ":65535", ":65536", ":99999", ":", ":12a", ":123456"]),
            path in prop::sample::select(vec!["", "/", "/api", "/a/b-c_d.e~f", "/x?y", "/#f", "/%2e", "\\x", "@evil.com", " "]),
        ) {
            let server = format!("{scheme}{}{suffix}{port}{path}", labels.join("."));
            if let Some(host) = super::plain_https_host(&server) {
                let url = url::Url::parse(server.trim());
                prop_assert!(url.is_ok(), "{server:?}");
                let url = url.unwrap();
                prop_assert_eq!(url.scheme(), "https", "{:?}", server);
                let parsed = url.domain().map(|h| h.trim_end_matches('.').to_ascii_lowercase());
                prop_assert_eq!(parsed.as_deref(), Some(host), "{:?}", server);
            }
            prop_assert_eq!(server_kind(&server), super::parsed_server_kind(&server), "{:?}", server);
        }
    }

    /// The classification of a host by a collected list of its labels, which
    /// [`super::https_host_kind`] replaced.
    fn collected_host_kind(host: &str) -> ServerKind {
        if !(host == "coreweave.com" || host.ends_with(".coreweave.com")) {
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

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Walking the labels classifies every host as collecting them did.
        #[test]
        fn walked_labels_classify_hosts_as_collected_ones_did(
            labels in prop::collection::vec(
                prop_oneof![
                    4 => "[a-z0-9-]{0,6}",
                    2 => prop::sample::select(vec!["api", "k8s", "coreweave", "com", "", "API", "x"]).prop_map(str::to_string),
                ],
                0..8,
            ),
            suffix in prop::sample::select(vec![".coreweave.com", "coreweave.com", ".coreweave.com.", "", ".com", "xcoreweave.com", ".k8s.z.coreweave.com"]),
        ) {
            let host = format!("{}{suffix}", labels.join("."));
            prop_assert_eq!(super::https_host_kind(&host), collected_host_kind(&host), "{:?}", host);
        }
    }

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
