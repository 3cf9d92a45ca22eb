//! `kubectl coreweave token credential REF`: the exec credential plugin kubectl runs before
//! every request of a user entry that `token store` rewrote. It reads the token from the OS
//! keyring item REF and prints a client-go `ExecCredential`, and nothing else, on stdout.
//!
//! kubectl shows the plugin's stderr to the user, so every failure is one line there that
//! says what to do; stdout stays empty then (kubectl would try to parse it).

use std::io::Write;

use anyhow::Context as _;
use serde::Deserialize;

/// The ExecCredential versions this plugin answers in; the answer carries the version
/// kubectl asked in (the two agree on `status.token`).
const API_VERSIONS: [&str; 2] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// client-go's `KUBERNETES_EXEC_INFO` is a few hundred bytes (a few kB with
/// `provideClusterInfo` and a CA); anything far larger is not from kubectl.
const MAX_EXEC_INFO: usize = 1024 * 1024;

/// What kubectl tells the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecInfo {
    pub api_version: String,
    /// Whether kubectl's stdin is a terminal the plugin may prompt on.
    pub interactive: bool,
    /// The server kubectl is about to call (`spec.cluster.server`), when the exec entry
    /// asks for cluster info.
    pub server: Option<String>,
    /// How kubectl verifies that server (`spec.cluster`'s CA bytes, base64, TLS server
    /// name, whether it skips verification).
    pub ca: String,
    pub tls_server_name: String,
    pub insecure: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecInfoError {
    #[error("KUBERNETES_EXEC_INFO is not JSON ({0}); it is set by kubectl, unset it to run the plugin by hand")]
    Malformed(String),
    #[error("KUBERNETES_EXEC_INFO is {0} bytes, over the {MAX_EXEC_INFO} byte limit")]
    TooLarge(usize),
    #[error("KUBERNETES_EXEC_INFO is not UTF-8")]
    NotUtf8,
    #[error("KUBERNETES_EXEC_INFO asks for ExecCredential apiVersion {0:?}; this plugin speaks client.authentication.k8s.io/v1 and v1beta1 (set apiVersion: client.authentication.k8s.io/v1 in the kubeconfig's exec entry)")]
    Version(String),
    #[error("KUBERNETES_EXEC_INFO has kind {0:?}, not ExecCredential")]
    Kind(String),
}

#[derive(Deserialize)]
struct RawInfo {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    spec: Option<RawSpec>,
}

#[derive(Deserialize)]
struct RawSpec {
    #[serde(default)]
    interactive: Option<bool>,
    #[serde(default)]
    cluster: Option<RawCluster>,
}

#[derive(Deserialize)]
struct RawCluster {
    #[serde(default)]
    server: Option<String>,
    #[serde(rename = "certificate-authority-data", default)]
    ca: Option<String>,
    #[serde(rename = "tls-server-name", default)]
    tls_server_name: Option<String>,
    #[serde(rename = "insecure-skip-tls-verify", default)]
    insecure: Option<bool>,
}

/// Reads `KUBERNETES_EXEC_INFO`. Unset (the plugin run by hand) means v1, not interactive.
pub fn exec_info(value: Option<std::ffi::OsString>) -> Result<ExecInfo, ExecInfoError> {
    let Some(value) = value else {
        return Ok(ExecInfo {
            api_version: API_VERSIONS[0].to_string(),
            interactive: false,
            server: None,
            ca: String::new(),
            tls_server_name: String::new(),
            insecure: false,
        });
    };
    if value.len() > MAX_EXEC_INFO {
        return Err(ExecInfoError::TooLarge(value.len()));
    }
    let text = value.into_string().map_err(|_| ExecInfoError::NotUtf8)?;
    let raw: RawInfo = serde_json::from_str(&text).map_err(|e| {
        ExecInfoError::Malformed(format!("line {} column {}", e.line(), e.column()))
    })?;
    let kind = raw.kind.unwrap_or_default();
    if kind != "ExecCredential" {
        return Err(ExecInfoError::Kind(
            crate::secret::escape_controls(&kind).into_owned(),
        ));
    }
    let api_version = raw.api_version.unwrap_or_default();
    if !API_VERSIONS.contains(&api_version.as_str()) {
        return Err(ExecInfoError::Version(
            crate::secret::escape_controls(&api_version).into_owned(),
        ));
    }
    let spec = raw.spec;
    let interactive = spec.as_ref().and_then(|s| s.interactive).unwrap_or(false);
    let cluster = spec.and_then(|s| s.cluster);
    Ok(match cluster {
        Some(c) => ExecInfo {
            api_version,
            interactive,
            server: c.server,
            ca: c.ca.unwrap_or_default(),
            tls_server_name: c.tls_server_name.unwrap_or_default(),
            insecure: c.insecure.unwrap_or(false),
        },
        None => ExecInfo {
            api_version,
            interactive,
            server: None,
            ca: String::new(),
            tls_server_name: String::new(),
            insecure: false,
        },
    })
}

/// The one-command fix for an entry or item from before bindings.
const REBIND: &str =
    "run `kubectl coreweave token store` in this context to bind the item to its cluster";

/// The flag that lets an item serve callers that name no cluster.
pub const WITHOUT_CLUSTER_INFO_FLAG: &str = "--allow-clients-without-cluster-info";

/// An item is served only to the servers it is bound to ([`crate::keystore::Item`]): the
/// exec entries the plugin writes set `provideClusterInfo: true`, so kubectl names the
/// server it is about to call in `KUBERNETES_EXEC_INFO` (`spec.cluster.server`). Whoever can
/// write a kubeconfig can name any item against any server; only `token store`, `import`
/// and `kubeconfig add`, run by the user, bind servers to an item (rotate carries bindings
/// over unchanged). Without a cluster in the exec info (run by hand, an entry written
/// before bindings, a client that sets no `KUBERNETES_EXEC_INFO`), nothing is served unless
/// the item was stored with `--allow-clients-without-cluster-info`.
pub fn run(reference: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let info = exec_info(std::env::var_os("KUBERNETES_EXEC_INFO"))?;
    crate::keystore::check_reference(reference)?;
    let item_name = crate::secret::quoted(reference);
    let Some(server) = info.server.as_deref() else {
        // A caller that names no server (a client without KUBERNETES_EXEC_INFO, such as
        // Node's @kubernetes/client-node, or an entry without provideClusterInfo) is served
        // only by an item its owner opted in, which no kubeconfig can do.
        let item = crate::keystore::read_for_plugin(reference, info.interactive)?;
        if !item.clients_without_cluster_info {
            anyhow::bail!(
                "kubectl gave no cluster for keyring item {item_name} (the exec entry lacks provideClusterInfo: true, the plugin was run by hand, or the client sets no KUBERNETES_EXEC_INFO, as @kubernetes/client-node does), so its token is not sent; {REBIND}; for clients that never name a cluster, run `kubectl coreweave token store {WITHOUT_CLUSTER_INFO_FLAG}` in a context of this user"
            );
        }
        return answer(&info.api_version, item.token, out);
    };
    let shown_server = crate::secret::shown(server);
    let wanted =
        binding(server, &info.ca, &info.tls_server_name, info.insecure).with_context(|| {
            format!("keyring item {item_name} is not sent to server {shown_server}")
        })?;
    let item = crate::keystore::read_for_plugin(reference, info.interactive)?;
    let Some(servers) = &item.servers else {
        anyhow::bail!(
            "keyring item {item_name} is bound to no cluster yet (stored before kubectl-coreweave bound items to clusters), so it is not sent to server {shown_server}; {REBIND}"
        );
    };
    if !servers.contains(&wanted) {
        anyhow::bail!(
            "keyring item {item_name} is not bound to server {shown_server} (with this certificate authority and TLS server name), so its token is not sent; if this cluster is yours, run `kubectl coreweave token store` in this context"
        );
    }
    answer(&info.api_version, item.token, out)
}

fn answer(
    api_version: &str,
    token: crate::secret::Token,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let credential = serde_json::json!({
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "status": { "token": token.expose() },
    });
    writeln!(out, "{credential}")?;
    Ok(())
}

/// Why a server cannot be bound (one fixed reason per case, for the one-line refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unbindable(pub &'static str);

/// The binding kubectl's connection would need: the normalised server, the SHA-256 of the
/// CA bytes (`ca` is base64, as kubectl passes it, or as a kubeconfig's
/// `certificate-authority-data` holds it), the TLS server name in lower case. A server
/// reached without verifying its certificate cannot be bound.
pub fn binding(
    server: &str,
    ca: &str,
    tls_server_name: &str,
    insecure: bool,
) -> Result<crate::keystore::Binding, Unbindable> {
    use base64::Engine as _;
    if insecure {
        return Err(Unbindable(
            "kubectl does not verify its certificate (insecure-skip-tls-verify)",
        ));
    }
    let server = normal_server(server)?;
    let ca_sha256 = if ca.is_empty() {
        String::new()
    } else {
        // Go's base64 decoder (kubectl's) skips line breaks.
        let compact: String = ca.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| Unbindable("its certificate-authority-data is not base64"))?;
        crate::keystore::sha256_hex(&bytes)
    };
    Ok(crate::keystore::Binding {
        server,
        ca_sha256,
        tls_server_name: tls_server_name.to_ascii_lowercase(),
    })
}

/// A server URL in the one spelling kubectl would reach it by: scheme and host in lower
/// case, the default port dropped, trailing slashes of the path dropped. Anything where
/// two readers could disagree on the host (user info, a non-ASCII or percent-encoded
/// host, a query or fragment, no scheme, characters outside the plain URL set) is refused
/// rather than guessed at: a binding then matches only what it plainly names.
///
/// Every context's server goes through here when `kubeconfig add` looks for clusters
/// already present, so the normal form is written into one buffer with no other
/// allocation; `tests::one_buffer_spells_servers_as_the_field_reading_did` holds it to
/// the reading by fields it replaced.
pub fn normal_server(server: &str) -> Result<String, Unbindable> {
    const MAX_SERVER: usize = 2048;
    if server.len() > MAX_SERVER {
        return Err(Unbindable("the server URL is too long"));
    }
    // One pass over the bytes: the plain URL set, and whether a query or fragment starts
    // anywhere (past an http(s) scheme, that is in what follows it).
    let mut query = false;
    for b in server.bytes() {
        if !b.is_ascii_graphic()
            || matches!(
                b,
                b'\\' | b'"' | b'<' | b'>' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
        {
            return Err(Unbindable(
                "the server URL holds characters outside a plain URL",
            ));
        }
        query |= b == b'?' || b == b'#';
    }
    let (scheme, rest) =
        scheme_and_rest(server).ok_or(Unbindable("the server URL has no scheme (https://)"))?;
    let (scheme, default_port) = if scheme.eq_ignore_ascii_case("https") {
        ("https", 443)
    } else if scheme.eq_ignore_ascii_case("http") {
        ("http", 80)
    } else {
        return Err(Unbindable("the server URL is not https:// or http://"));
    };
    if query {
        return Err(Unbindable("the server URL has a query or fragment"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(Unbindable("the server URL carries user info (user@host)"));
    }
    if authority.contains('%') {
        return Err(Unbindable("the server URL's host is percent-encoded"));
    }
    let (host, port) = host_and_port(authority)?;
    let port = match port {
        None => None,
        Some(p) => {
            let n: u16 = p
                .parse()
                .ok()
                .filter(|n| *n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or(Unbindable("the server URL's port is not valid"))?;
            (n != default_port).then_some(n)
        }
    };
    let path = path.trim_end_matches('/');
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(Unbindable("the server URL's path has . or .. segments"));
    }
    let mut out = String::with_capacity(scheme.len() + 3 + host.len() + 6 + path.len());
    out.push_str(scheme);
    out.push_str("://");
    out.push_str(host);
    out[scheme.len() + 3..].make_ascii_lowercase();
    if let Some(n) = port {
        use std::fmt::Write as _;
        let _ = write!(out, ":{n}");
    }
    out.push_str(path);
    Ok(out)
}

/// The text before the first `://` and after it; an `https://` or `http://` start (any
/// case) is taken without searching.
fn scheme_and_rest(server: &str) -> Option<(&str, &str)> {
    for scheme in ["https", "http"] {
        let n = scheme.len();
        if server
            .get(..n)
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
            && server.get(n..n + 3) == Some("://")
        {
            return Some((&server[..n], &server[n + 3..]));
        }
    }
    server.split_once("://")
}

/// The host (an IPv6 literal with its brackets) and the port text of a server URL's
/// authority, the host checked to be one every reader takes the same way, not yet
/// lower-cased.
fn host_and_port(authority: &str) -> Result<(&str, Option<&str>), Unbindable> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6
            .split_once(']')
            .ok_or(Unbindable("the server URL's host is not valid"))?;
        if inside.is_empty()
            || !inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(Unbindable("the server URL's host is not valid"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or(Unbindable("the server URL's host is not valid"))?,
            ),
        };
        return Ok((&authority[..inside.len() + 2], port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && !l.starts_with("xn--")
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if host.is_empty() || !host.split('.').all(label_ok) {
        return Err(Unbindable(
            "the server URL's host is not a plain ASCII host name",
        ));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(s: &str) -> Result<ExecInfo, ExecInfoError> {
        exec_info(Some(s.into()))
    }

    #[test]
    fn kubectl_exec_info_is_read() {
        let i = info(r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}"#)
            .expect("reads");
        assert!(i.interactive);
        assert_eq!(i.api_version, "client.authentication.k8s.io/v1");
        let i = info(r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{}}"#)
            .expect("reads");
        assert!(!i.interactive);
        assert!(!exec_info(None).expect("unset").interactive);
    }

    #[test]
    fn other_versions_and_garbage_are_refused() {
        assert!(matches!(
            info(r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v2"}"#),
            Err(ExecInfoError::Version(_))
        ));
        assert!(matches!(info("{"), Err(ExecInfoError::Malformed(_))));
        assert!(matches!(info("\"x\""), Err(ExecInfoError::Malformed(_))));
        assert!(info("[]").is_err());
        assert!(matches!(
            info(r#"{"kind":"Pod","apiVersion":"client.authentication.k8s.io/v1"}"#),
            Err(ExecInfoError::Kind(_))
        ));
    }

    #[test]
    fn the_cluster_server_is_read() {
        let i = info(r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false,"cluster":{"server":"https://a.example.com","certificate-authority-data":"eA=="}}}"#)
            .expect("reads");
        assert_eq!(i.server.as_deref(), Some("https://a.example.com"));
        assert_eq!(exec_info(None).expect("unset").server, None);
    }

    #[test]
    fn servers_compare_as_kubectl_reaches_them() {
        let same = [
            "https://a.example.com",
            "https://a.example.com/",
            "HTTPS://A.Example.COM",
            "https://a.example.com:443",
            "https://a.example.com:443//",
        ];
        for s in same {
            assert_eq!(
                normal_server(s).as_deref(),
                Ok("https://a.example.com"),
                "{s}"
            );
        }
        assert_eq!(
            normal_server("https://127.0.0.1:6443/p/").as_deref(),
            Ok("https://127.0.0.1:6443/p")
        );
        assert_eq!(
            normal_server("https://[::1]:443").as_deref(),
            Ok("https://[::1]")
        );
        assert_eq!(normal_server("http://h:80").as_deref(), Ok("http://h"));
        assert_ne!(normal_server("http://h"), normal_server("https://h"));
        assert_ne!(normal_server("https://h:8443"), normal_server("https://h"));
        assert_ne!(normal_server("https://h/p"), normal_server("https://h"));
        assert_ne!(normal_server("https://h."), normal_server("https://h"));
        for bad in [
            "a.example.com",
            "https://a.example.com@evil.example.com",
            "https://user:pw@a.example.com",
            "https://a.example.com%2eevil.com",
            "https://ä.example.com",
            "https://xn--4ca.example.com",
            "https://a.example.com?x=1",
            "https://a.example.com#f",
            "https://a.example.com\\@evil.com",
            "https://a.example.com:0",
            "https://a.example.com:99999",
            "https://a.example.com:+443",
            "https://a.example.com/../x",
            "ftp://a.example.com",
            "https://",
            "https://a..b",
            "https://a b",
            "https://[zz]",
        ] {
            assert!(normal_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_binding_is_the_server_and_the_trust_it_is_reached_by() {
        let b = binding("HTTPS://A.example.com/", "eA==", "N.Example", false).expect("binds");
        assert_eq!(b.server, "https://a.example.com");
        assert_eq!(b.ca_sha256, crate::keystore::sha256_hex(b"x"));
        assert_eq!(b.tls_server_name, "n.example");
        // Line breaks in base64 (Go's decoder skips them) are the same bytes.
        assert_eq!(
            binding("https://a.example.com", "e\nA==", "", false)
                .expect("binds")
                .ca_sha256,
            crate::keystore::sha256_hex(b"x")
        );
        assert_ne!(
            binding("https://a.example.com", "eA==", "", false),
            binding("https://a.example.com", "eQ==", "", false)
        );
        assert!(binding("https://a.example.com", "", "", true).is_err());
        assert!(binding("https://a.example.com", "not base64!", "", false).is_err());
        let i = info(r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://a","certificate-authority-data":"eA==","tls-server-name":"n","insecure-skip-tls-verify":true}}}"#).expect("reads");
        assert_eq!(
            (i.ca.as_str(), i.tls_server_name.as_str(), i.insecure),
            ("eA==", "n", true)
        );
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6000, ..Default::default() })]

        /// The one-buffer spelling is the field reading's, answer for answer (the same
        /// server or the same refusal), on servers built from the parts that decide it
        /// and on arbitrary printable text.
        #[test]
        fn one_buffer_spells_servers_as_the_field_reading_did(
            scheme in prop::sample::select(vec!["https", "https", "HTTPS", "HtTp", "http", "ftp", "", "https:"]),
            sep in prop::sample::select(vec!["://", "://", "://", ":/", "//"]),
            host in prop_oneof![
                4 => "[a-zA-Z0-9_-]{1,8}(\\.[a-zA-Z0-9_-]{0,8}){0,4}",
                1 => prop::sample::select(vec![
                    "cw9f3a-1b2c.k8s.us-east-04a.coreweave.com", "CW9F3A.K8S.ORD1.COREWEAVE.COM",
                    "127.0.0.1", "[::1]", "[FE80::A:b]", "[]", "[::1", "[g::1]", "[::1]x",
                    "xn--ls8h.example", "XN--ls8h", "-a.b", "a-.b", "a..b", "a.", ".a", "",
                    "u@h", "u:p@h", "h%41", "é.example", "a b",
                ]).prop_map(str::to_string),
            ],
            port in prop::sample::select(vec!["", "", ":443", ":0443", ":80", ":080", ":6443", ":0", ":65535", ":65536", ":", ":+1", ":1a", ":99999999999"]),
            path in prop::sample::select(vec!["", "", "/", "//", "/api", "/a/b/", "/a//", "/./x", "/..", "/a/../b", "/.well", "?q", "/p?q", "#f", "/%2e", "/a\\b", "/{x}"]),
            junk in "[ -~]{0,24}",
        ) {
            let server = format!("{scheme}{sep}{host}{port}{path}");
            prop_assert_eq!(normal_server(&server), field_reading(&server), "{:?}", server);
            prop_assert_eq!(normal_server(&junk), field_reading(&junk), "{:?}", junk);
            let long = format!("https://{}.example", "a".repeat(2040 + junk.len() % 16));
            prop_assert_eq!(normal_server(&long), field_reading(&long));
        }
    }

    /// The reading by fields [`normal_server`] replaced (a string per field, then one
    /// `format!`), kept as the reference it must agree with.
    fn field_reading(server: &str) -> Result<String, Unbindable> {
        const MAX_SERVER: usize = 2048;
        if server.len() > MAX_SERVER {
            return Err(Unbindable("the server URL is too long"));
        }
        if !server
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\\\"<>^`{|}".contains(&b))
        {
            return Err(Unbindable(
                "the server URL holds characters outside a plain URL",
            ));
        }
        let (scheme, rest) = server
            .split_once("://")
            .ok_or(Unbindable("the server URL has no scheme (https://)"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => "443",
            "http" => "80",
            _ => return Err(Unbindable("the server URL is not https:// or http://")),
        };
        if rest.contains(['?', '#']) {
            return Err(Unbindable("the server URL has a query or fragment"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(Unbindable("the server URL carries user info (user@host)"));
        }
        if authority.contains('%') {
            return Err(Unbindable("the server URL's host is percent-encoded"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (inside, after) = v6
                .split_once(']')
                .ok_or(Unbindable("the server URL's host is not valid"))?;
            if inside.is_empty()
                || !inside
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            {
                return Err(Unbindable("the server URL's host is not valid"));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or(Unbindable("the server URL's host is not valid"))?,
                ),
            };
            (format!("[{}]", inside.to_ascii_lowercase()), port)
        } else {
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            let label_ok = |l: &str| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && !l.starts_with("xn--")
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if host.is_empty() || !host.split('.').all(label_ok) {
                return Err(Unbindable(
                    "the server URL's host is not a plain ASCII host name",
                ));
            }
            (host.to_ascii_lowercase(), port)
        };
        let port = match port {
            None => None,
            Some(p) => {
                let n: u16 = p
                    .parse()
                    .ok()
                    .filter(|n| *n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or(Unbindable("the server URL's port is not valid"))?;
                (n.to_string() != default_port).then_some(n)
            }
        };
        let path = path.trim_end_matches('/');
        if path.split('/').any(|seg| seg == "." || seg == "..") {
            return Err(Unbindable("the server URL's path has . or .. segments"));
        }
        Ok(match port {
            Some(n) => format!("{scheme}://{host}:{n}{path}"),
            None => format!("{scheme}://{host}{path}"),
        })
    }
}
