//! The network layer every check runs on (`token show --check`, `token list --check`,
//! `token rotate --verify api|cluster`, `--mint`): what the CoreWeave API calls
//! (`coreweave/client.rs`) and the cluster check (`cluster.rs`) share.
//!
//! - The runtime: a `tokio` current-thread runtime for each check a command makes,
//!   built when it starts and dropped when it ends ([`block_on`]); a command that makes
//!   none (`show`, `rotate --verify none`, `version`) never builds one, nor a TLS
//!   configuration or a root store.
//! - Concurrency: one model, tokio tasks on that runtime, bounded ([`all_bounded`]).
//! - Deadlines: a total time limit shared by several calls ([`Deadline`]).
//! - Server text: [`redact`] is the one gate every text a server chose passes before it
//!   is shown; answers are read to at most [`MAX_BODY`] bytes ([`read_capped`]).
//! - Proxies from the environment as kubectl (Go's `httpproxy`) reads them ([`ProxyEnv`]).
//!
//! Nothing here prints. Do not call [`block_on`] from inside a task of the runtime.

use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::secret::Token;

/// Largest answer body read, from CoreWeave and from a cluster alike: the documented
/// answers are a few hundred bytes, and an endless answer must not take the memory of the
/// machine.
pub const MAX_BODY: usize = 1 << 20;

/// Longest server message kept in an error, in characters: enough for a Connect error's
/// sentence or a Status message, short of an HTML error page.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// A total time limit shared by several calls: when it is reached the call in flight is
/// dropped and fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: Instant,
    /// The limit as the user gave it, for messages.
    pub limit: Duration,
}

impl Deadline {
    /// `limit` from now; a limit too large for the clock is a century.
    pub fn after(limit: Duration) -> Deadline {
        let now = Instant::now();
        Deadline {
            at: now
                .checked_add(limit)
                .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400)),
            limit,
        }
    }
}

/// Runs `f` to completion on a `tokio` current-thread runtime built for it, then drops
/// the runtime. A command makes its calls inside one such run where they belong together
/// (`list --check`'s whoami calls, the cluster check's reviews), so building it is paid
/// once per check, and only by a command that makes one. Dropping the runtime on return
/// ends every task and connection it holds: a try that timed out is closed at once, not
/// left open until the process exits (a kept runtime would not run its tasks again, so
/// they would stay half-done). Fails only when the runtime cannot be built (no event
/// loop: out of file descriptors).
pub fn block_on<F: Future>(f: F) -> Result<F::Output, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the network runtime: {e}"))?;
    Ok(rt.block_on(f))
}

/// Runs `jobs` as tokio tasks, at most `limit` at once, and waits for them until
/// `deadline`. Returns each job's output in the jobs' order; `None` for a job that had
/// not finished by the deadline (it is aborted) or that panicked. Call it inside
/// [`block_on`].
pub async fn all_bounded<T, F>(
    jobs: Vec<F>,
    limit: usize,
    deadline: Option<Deadline>,
) -> Vec<Option<T>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut results: Vec<Option<T>> = (0..jobs.len()).map(|_| None).collect();
    let mut set = tokio::task::JoinSet::new();
    let mut pending = jobs.into_iter().enumerate();
    let mut more = true;
    loop {
        while more && set.len() < limit.max(1) {
            match pending.next() {
                Some((i, job)) => {
                    set.spawn(async move { (i, job.await) });
                }
                None => more = false,
            }
        }
        if set.is_empty() {
            break;
        }
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d.at.into(), set.join_next()).await {
                Ok(next) => next,
                // Dropping the set aborts the jobs still running.
                Err(_) => break,
            },
            None => set.join_next().await,
        };
        if let Some(Ok((i, out))) = next {
            results[i] = Some(out);
        }
    }
    results
}

/// How a body read with [`read_capped`] ended.
pub enum Capped {
    Whole(Vec<u8>),
    /// Longer than the cap: reading stopped there; what was read, cut at the cap.
    Over(Vec<u8>),
}

/// Reads `body` to its end or to `cap` bytes, whichever comes first.
pub async fn read_capped<B>(mut body: B, cap: usize) -> Result<Capped, B::Error>
where
    B: http_body::Body + Unpin,
{
    use bytes::Buf as _;
    use http_body_util::BodyExt as _;
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(mut data) = frame?.into_data() {
            while data.has_remaining() {
                let chunk = data.chunk();
                if read.len() + chunk.len() > cap {
                    let room = cap - read.len();
                    read.extend_from_slice(&chunk[..room]);
                    return Ok(Capped::Over(read));
                }
                read.extend_from_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
        }
    }
    Ok(Capped::Whole(read))
}

/// The one gate for text a server chose (a Connect `code` or `message`, a Kubernetes
/// Status `reason`/`message`/`details`, a whoami uid, an HTML error page), before it goes
/// into anything shown: every secret of the request (`secrets`: the bearer just sent) and
/// every `CW-SECRET-…` masked as [`Token::masked`] masks it, control characters escaped
/// (a server must not recolour the terminal or forge a line), at most
/// [`MAX_MESSAGE_CHARS`] characters kept.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut s = text.trim().to_string();
    for secret in secrets {
        // Shorter fragments are as likely to be ordinary words as secrets.
        if secret.chars().count() >= 8 {
            s = s.replace(secret, &Token::new(*secret).masked());
        }
    }
    s = crate::secret::mask_coreweave_tokens(&s);
    let s = crate::secret::escape_controls(&s);
    if s.chars().count() > MAX_MESSAGE_CHARS {
        s.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…"
    } else {
        s.into_owned()
    }
}

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

    #[test]
    fn bounded_jobs_keep_their_order_and_stop_at_the_deadline() {
        let out = block_on(async {
            let jobs: Vec<_> = (0..5u64)
                .map(|i| async move {
                    tokio::time::sleep(Duration::from_millis(50 - i * 10)).await;
                    i
                })
                .collect();
            all_bounded(jobs, 2, None).await
        })
        .unwrap();
        assert_eq!(out, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
        let out = block_on(async {
            let jobs: Vec<std::pin::Pin<Box<dyn Future<Output = u8> + Send>>> = vec![
                Box::pin(async { 1 }),
                Box::pin(async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    2
                }),
            ];
            all_bounded(jobs, 2, Some(Deadline::after(Duration::from_millis(100)))).await
        })
        .unwrap();
        assert_eq!(out, [Some(1), None]);
    }
}
