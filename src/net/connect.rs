//! Connections: one way to reach a server over TLS, directly or through a proxy, shared
//! by the CoreWeave API calls and the cluster check. A [`Route`] says how (TLS
//! configuration, server name, proxy, connect timeout); [`over`] builds hyper-util's
//! connector chain for it and hands it to the caller's [`OverConnector`]; [`cause`] and
//! [`chain`] read a failure by the types of its causes.

use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use rustls::pki_types::ServerName;

use super::proxy::Proxy;

/// How one server is reached.
pub struct Route {
    pub tls: rustls::ClientConfig,
    /// The name to verify the certificate against, when it is not the URL's host
    /// (`tls-server-name`).
    pub server_name: Option<ServerName<'static>>,
    /// The proxy, with where it came from (`proxy-url …`, `HTTPS_PROXY …`) for messages.
    pub proxy: Option<(String, Proxy)>,
    pub connect_timeout: Duration,
    /// Refuse `http://` URLs; only the CoreWeave API's loopback endpoint (tests) uses one.
    pub https_only: bool,
}

/// Work to run over a connector, whatever type the route's proxy gave it (each kind of
/// proxy is its own connector type, and hyper-util's client is generic over it). Two
/// users: the API calls and the cluster reviews.
pub trait OverConnector {
    type Output;
    fn run<C>(self, connector: C) -> impl Future<Output = Self::Output> + Send
    where
        C: Connect + Clone + Send + Sync + 'static;
}

/// Runs `work` over the connector chain of `route`: TCP with the connect timeout, the
/// proxy's tunnel if any (CONNECT, with the proxy's TLS for an `https://` proxy, verified
/// with the route's trust as client-go does; or SOCKS5), then TLS to the server.
pub async fn over<W: OverConnector>(route: &Route, work: W) -> W::Output {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(route.connect_timeout));
    match &route.proxy {
        None => work.run(https(route, tcp)).await,
        Some((_, Proxy::Http { uri, auth })) => {
            let mut tunnel = Tunnel::new(uri.clone(), tcp);
            if let Some(a) = auth {
                tunnel = tunnel.with_auth(a.clone());
            }
            work.run(https(route, tunnel)).await
        }
        Some((_, Proxy::Https { uri, auth })) => {
            let mut tunnel = Tunnel::new(uri.clone(), https(route, tcp));
            if let Some(a) = auth {
                tunnel = tunnel.with_auth(a.clone());
            }
            work.run(https(route, tunnel)).await
        }
        Some((_, Proxy::Socks5 { uri })) => {
            let socks = SocksV5::new(uri.clone(), tcp);
            work.run(https(route, socks)).await
        }
    }
}

/// TLS over `inner`, with the route's trust and server name.
fn https<C>(route: &Route, inner: C) -> HttpsConnector<C> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(route.tls.clone());
    let builder = if route.https_only {
        builder.https_only()
    } else {
        builder.https_or_http()
    };
    match &route.server_name {
        Some(name) => builder
            .with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name.clone()))
            .enable_http1()
            .wrap_connector(inner),
        None => builder.enable_http1().wrap_connector(inner),
    }
}

/// How a request failed, by the types in the chain of causes: a rustls error is TLS; an
/// I/O timeout a timeout; a connector failure of hyper-util's client (DNS, TCP, the
/// proxy's CONNECT or SOCKS answer) or a refused or reset connection is a connection
/// error. Looks inside `io::Error`s too (their `source()` skips the error they wrap,
/// which is where rustls puts its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Tls,
    Timeout,
    Connect,
    Other,
}

pub fn cause(e: &(dyn StdError + 'static)) -> Cause {
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
        if e.downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(|e| e.is_connect())
            && matches!(found, Cause::Other)
        {
            found = Cause::Connect;
        }
        if let Some(s) = e.source() {
            stack.push(s);
        }
    }
    found
}

/// The error and its causes on one line: hyper-util's client wrapper (`client error
/// (Connect)`) and repeated texts dropped.
pub fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut stack: Vec<&(dyn StdError + 'static)> = vec![e];
    while let Some(e) = stack.pop() {
        let wrapper = e
            .downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some();
        let text = e.to_string();
        if !text.is_empty() && !wrapper && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
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
    parts.join(": ")
}
