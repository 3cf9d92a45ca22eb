//! Proxies: which one a request goes through and how its URL is read. [`ProxyEnv`] is
//! the environment as kubectl (Go's `httpproxy`) reads it; [`Proxy`] a proxy URL as
//! client-go takes one (`proxy-url`, or the environment's); [`without_userinfo`] the one
//! way a proxy URL is shown.

use std::net::IpAddr;

use super::redact;

/// The proxy settings of the environment, read as kubectl reads them: client-go's
/// transport uses Go's `http.ProxyFromEnvironment` (`golang.org/x/net/http/httpproxy`)
/// for a cluster without `proxy-url`. Only `https://` servers are checked, so only
/// `HTTPS_PROXY` (then `https_proxy`) matters, with `NO_PROXY` (then `no_proxy`); the
/// first non-empty spelling wins, as Go's `getEnvAny`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    pub https_proxy: Option<String>,
    pub no_proxy: String,
}

/// By hand, so that a debug print never shows a proxy's user and password.
impl std::fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self
            .https_proxy
            .as_deref()
            .map(|p| match p.rsplit_once('@') {
                Some((_, host)) => format!("…@{host}"),
                None => p.to_string(),
            });
        f.debug_struct("ProxyEnv")
            .field("https_proxy", &shown)
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxyEnv {
    /// From this process's environment.
    pub fn from_process() -> ProxyEnv {
        ProxyEnv::from_lookup(|name| std::env::var(name).ok())
    }

    /// From `get` (a variable's value, or `None`), for tests.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> ProxyEnv {
        let any = |names: [&str; 2]| {
            names
                .into_iter()
                .find_map(|n| get(n).filter(|v| !v.is_empty()))
        };
        ProxyEnv {
            https_proxy: any(["HTTPS_PROXY", "https_proxy"]),
            no_proxy: any(["NO_PROXY", "no_proxy"]).unwrap_or_default(),
        }
    }

    /// The proxy URL for an `https://` request to `host` (as in the URL, brackets of an
    /// IPv6 address removed) on `port`, or `None` to connect directly. A value without a
    /// scheme Go understands is read as `http://` + value, as Go's `parseProxy` does.
    pub fn for_https(&self, host: &str, port: u16) -> Option<String> {
        let proxy = self.https_proxy.as_deref()?;
        if !self.use_proxy(host, port) {
            return None;
        }
        let known = ["http://", "https://", "socks5://", "socks5h://"];
        let has_scheme = known.iter().any(|s| {
            proxy
                .get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
        });
        Some(if has_scheme {
            proxy.to_string()
        } else {
            format!("http://{proxy}")
        })
    }

    /// Go's `useProxy`: never for `localhost` or a loopback address; not for a host that
    /// `NO_PROXY` names (`*`; an IP address or CIDR, with an optional port; a domain,
    /// which also matches its subdomains, with an optional port; `.domain` and `*.domain`
    /// only the subdomains).
    fn use_proxy(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host == "localhost" {
            return false;
        }
        let ip: Option<IpAddr> = host.parse().ok();
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return false;
        }
        let host = host.trim().to_ascii_lowercase();
        let port = port.to_string();
        for entry in self.no_proxy.split(',') {
            let entry = entry.trim().to_ascii_lowercase();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                return false;
            }
            if let Some(cidr) = parse_cidr(&entry) {
                if ip.is_some_and(|ip| cidr_contains(cidr, ip)) {
                    return false;
                }
                continue;
            }
            let (phost, pport) = match split_host_port(&entry) {
                Some(("", _)) => continue,
                Some((h, p)) => (
                    h.trim_start_matches('[').trim_end_matches(']').to_string(),
                    p,
                ),
                None => (entry.clone(), String::new()),
            };
            if let Ok(pip) = phost.parse::<IpAddr>() {
                if ip.is_some_and(|ip| same_ip(ip, pip)) && (pport.is_empty() || pport == port) {
                    return false;
                }
                continue;
            }
            if phost.is_empty() {
                continue;
            }
            let phost = phost
                .strip_prefix('*')
                .filter(|p| p.starts_with('.'))
                .unwrap_or(&phost);
            let (suffix, match_host) = match phost.starts_with('.') {
                true => (phost.to_string(), false),
                false => (format!(".{phost}"), true),
            };
            if (host.ends_with(&suffix) || (match_host && host == suffix[1..]))
                && (pport.is_empty() || pport == port)
            {
                return false;
            }
        }
        true
    }
}

/// Go's `net.SplitHostPort` for a NO_PROXY entry: `host:port` or `[v6]:port`; `None` when
/// there is no port (a bare host, or an IPv6 address without brackets).
fn split_host_port(s: &str) -> Option<(&str, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((h, port.to_string()));
    }
    let (h, port) = s.rsplit_once(':')?;
    if h.contains(':') {
        return None;
    }
    Some((h, port.to_string()))
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

/// Go's `IP.Equal`: an IPv4 address equals its IPv4-mapped IPv6 form.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

fn cidr_contains((net, bits): (IpAddr, u8), ip: IpAddr) -> bool {
    match (net, ip.to_canonical()) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// A proxy to go through, as client-go takes a proxy URL.
pub enum Proxy {
    /// HTTP CONNECT, with `Proxy-Authorization: Basic` from the URL's user and password.
    Http {
        uri: http::Uri,
        auth: Option<http::HeaderValue>,
    },
    /// HTTP CONNECT over TLS to the proxy.
    Https {
        uri: http::Uri,
        auth: Option<http::HeaderValue>,
    },
    /// A socks5 proxy's user and password are not sent (kube never did).
    Socks5 { uri: http::Uri },
}

/// A proxy setting that cannot be used; `what` names the setting, the URL is shown
/// without its user and password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("{what} {url:?} is not a URL: {why}{}", if *userinfo { " (a `/`, `?` or `#` in its user or password must be percent-encoded)" } else { "" })]
    NotAUrl {
        what: String,
        url: String,
        why: String,
        /// The setting had a `user:password@` part.
        userinfo: bool,
    },
    #[error("{what} scheme {scheme:?} is not supported (use http://, https:// or socks5://)")]
    Scheme { what: String, scheme: String },
}

/// The proxy of a URL, as client-go takes it: `http://` and `https://` (CONNECT, with
/// `Proxy-Authorization: Basic` from the URL's user and password) or `socks5://`.
/// `what` names the setting in messages (`cluster "k": proxy-url`, `HTTPS_PROXY`); the
/// URL is shown only without its user and password.
pub fn parse_proxy(what: &str, p: &str) -> Result<Proxy, ProxyError> {
    let not_a_url = |why: String| ProxyError::NotAUrl {
        what: what.to_string(),
        url: without_userinfo(p),
        why,
        userinfo: p.contains('@'),
    };
    let uri: http::Uri = p.parse().map_err(|e| not_a_url(format!("{e}")))?;
    // The URI parser leaves the port unchecked: with an unescaped `/` in the password,
    // the user name would become the proxy's host (and be looked up in DNS). Go's URL
    // parser, and so kubectl, refuse such a proxy-url; so does the check. An empty port
    // is the scheme's default for both.
    let port = uri
        .authority()
        .and_then(|a| a.as_str().rsplit('@').next())
        .and_then(|h| h.rsplit(']').next())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, port)| port);
    if port.is_some_and(|p| !p.is_empty()) && uri.port_u16().is_none() {
        return Err(not_a_url("invalid port".into()));
    }
    let auth = || {
        let userinfo = uri.authority()?.as_str().rsplit_once('@')?.0;
        let decoded = percent_encoding::percent_decode_str(userinfo).collect::<Vec<u8>>();
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(decoded);
        let mut v = http::HeaderValue::from_str(&format!("Basic {basic}")).ok()?;
        v.set_sensitive(true);
        Some(v)
    };
    match uri.scheme_str() {
        Some("http") => Ok(Proxy::Http { auth: auth(), uri }),
        Some("https") => Ok(Proxy::Https { auth: auth(), uri }),
        Some("socks5") => Ok(Proxy::Socks5 { uri }),
        other => Err(ProxyError::Scheme {
            what: what.to_string(),
            scheme: redact(other.unwrap_or(""), &[]),
        }),
    }
}

/// A proxy URL without any `user:password@`, for messages. Everything up to the last `@`
/// goes, not only a well-formed userinfo: a password with an unescaped `/`, `@` or `:`
/// makes the URL malformed, and that is exactly when it would be shown in an error.
pub fn without_userinfo(url: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(https: &str, no: &str) -> ProxyEnv {
        ProxyEnv::from_lookup(|n| match n {
            "HTTPS_PROXY" => Some(https.to_string()),
            "NO_PROXY" => Some(no.to_string()),
            _ => None,
        })
    }

    #[test]
    fn environment_spellings_as_go_reads_them() {
        let e = ProxyEnv::from_lookup(|n| match n {
            "HTTPS_PROXY" => Some(String::new()),
            "https_proxy" => Some("proxy:3128".into()),
            "HTTP_PROXY" => Some("http://other:1".into()),
            "no_proxy" => Some("a.example".into()),
            _ => None,
        });
        assert_eq!(e.https_proxy.as_deref(), Some("proxy:3128"));
        assert_eq!(e.no_proxy, "a.example");
        assert_eq!(
            e.for_https("k.example", 443).as_deref(),
            Some("http://proxy:3128")
        );
        assert_eq!(e.for_https("x.a.example", 443), None);
        // HTTP_PROXY alone is not for https.
        let e = ProxyEnv::from_lookup(|n| (n == "HTTP_PROXY").then(|| "http://p:1".into()));
        assert_eq!(e.for_https("k.example", 443), None);
    }

    #[test]
    fn debug_hides_the_proxy_password() {
        let e = env("http://user:hunter2@proxy:3128", "");
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("proxy:3128"),
            "{shown}"
        );
    }

    #[test]
    fn no_proxy_matching_as_go() {
        let p = "http://p:3128";
        for (no, host, port, proxied) in [
            ("", "k.example", 443, true),
            ("", "localhost", 443, false),
            ("", "127.0.0.2", 443, false),
            ("", "::1", 443, false),
            ("", "localhost.localdomain", 443, true),
            ("*", "k.example", 443, false),
            ("k.example", "k.example", 443, false),
            ("k.example", "a.k.example", 443, false),
            ("k.example", "ak.example", 443, true),
            (".k.example", "k.example", 443, true),
            (".k.example", "a.k.example", 443, false),
            ("*.k.example", "k.example", 443, true),
            ("*.k.example", "a.k.example", 443, false),
            ("K.Example:6443", "k.example", 6443, false),
            ("k.example:6443", "k.example", 443, true),
            ("10.0.0.0/8", "10.1.2.3", 443, false),
            ("10.0.0.0/8", "11.1.2.3", 443, true),
            ("10.1.2.3", "10.1.2.3", 443, false),
            ("10.1.2.3:443", "10.1.2.3", 443, false),
            ("10.1.2.3:80", "10.1.2.3", 443, true),
            ("[fd00::1]:443", "[fd00::1]", 443, false),
            ("fd00::/8", "fd00::1", 443, false),
            (" a.example , k.example ", "k.example", 443, false),
            ("10.0.0.0/8", "k.example", 443, true),
            (":443", "k.example", 443, true),
        ] {
            let got = env(p, no).for_https(host, port).is_some();
            assert_eq!(got, proxied, "NO_PROXY={no:?} host {host}:{port}");
        }
    }
}
