//! How one target is reached: kube's configuration of the cluster (server,
//! `tls-server-name`; the bearer is set on each request by the review); trust as kube's rustls configuration with its verifier
//! replaced by ours (the listed CAs with Go's listed-leaf rule, or none) or the system's
//! roots, loaded only for a target about to be contacted; and the proxy: the entry's
//! `proxy-url`, else `HTTPS_PROXY` with `NO_PROXY` as kubectl reads them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

use crate::net::connect::Route;
use crate::net::proxy::{parse_proxy, without_userinfo, Proxy, ProxyError};
use crate::net::{redact, ProxyEnv};

use super::{tls, CaError, CaSource, ClusterError, ClusterTarget};

/// How one target is reached: kube's configuration of the cluster (URL, server name),
/// and the route (TLS as the cluster entry says, the server name to
/// verify, the proxy with where it came from).
pub(super) struct Setup {
    pub(super) config: kube::Config,
    pub(super) route: Route,
}

/// Everything one target needs, built from its entry, and for a cluster without
/// `proxy-url` the proxy of the environment as kubectl chooses it. Fails with
/// [`ClusterError::Config`] before anything is sent.
pub(super) fn setup(
    t: &ClusterTarget,
    env: &ProxyEnv,
    timeout: Duration,
) -> Result<Setup, ClusterError> {
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
    let listed = listed_certificates(t)?;
    // kube's configuration of this cluster gives the requests their base URL. The TLS
    // configuration is built here, not by kube's `rustls_client_config`: that one first
    // asks the user's exec plugin for a client certificate, which links kube's whole
    // auth machinery (a JSONPath engine and regex, half a megabyte) for nothing. The
    // verifier is the entry's: none (skip), the listed CAs, or the platform's roots,
    // loaded here for a cluster about to be contacted.
    let config = kube::Config::new(server);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder();
    let tls = match (t.insecure_skip_tls_verify, listed) {
        (true, _) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(tls::NoVerification::new(provider))),
        (false, Some(certs)) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(
                tls::ListedOrChained::new(certs, provider)
                    .map_err(|why| config_err(format!("{}: {why}", entry())))?,
            )),
        (false, None) => {
            use rustls_platform_verifier::BuilderVerifierExt as _;
            builder.with_platform_verifier().map_err(|e| {
                config_err(format!("cannot load the system's root certificates: {e}"))
            })?
        }
    }
    .with_no_client_auth();
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
    let proxy = route_proxy(t, env)?;
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

/// The certificates of the entry's certificate authority; `None` for the system's roots.
fn listed_certificates(t: &ClusterTarget) -> Result<Option<Vec<Vec<u8>>>, ClusterError> {
    let config_err = |detail: String| ClusterError::Config {
        context: t.context.clone(),
        detail,
    };
    let entry = || format!("cluster {:?}", t.cluster);
    Ok(match &t.ca {
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
    })
}

/// The proxy a target goes through, with where it came from: its `proxy-url`, else the
/// environment's as kubectl chooses it.
fn route_proxy(t: &ClusterTarget, env: &ProxyEnv) -> Result<Option<(String, Proxy)>, ClusterError> {
    let config_err = |detail: String| ClusterError::Config {
        context: t.context.clone(),
        detail,
    };
    Ok(match &t.proxy_url {
        Some(p) => Some((
            format!("proxy-url {}", without_userinfo(p)),
            proxy(t, p).map_err(|e| config_err(e.to_string()))?,
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
    })
}

/// The proxy of a target's `proxy-url` (or the environment's `p`), as client-go takes it.
fn proxy(t: &ClusterTarget, p: &str) -> Result<Proxy, ProxyError> {
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
fn read_ca_file(path: &Path) -> Result<Vec<u8>, CaError> {
    use std::io::Read as _;
    const MAX_CA_FILE: u64 = 4 << 20;
    let file = std::fs::File::open(path).map_err(CaError::Read)?;
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE + 1)
        .read_to_end(&mut pem)
        .map_err(CaError::Read)?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(CaError::TooLarge(MAX_CA_FILE));
    }
    Ok(pem)
}

/// The DER certificates of a PEM bundle, or why there are none.
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, CaError> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::CertificateDer;
    let mut out = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(CaError::NotPem)?;
        out.push(cert.to_vec());
    }
    if out.is_empty() {
        return Err(CaError::NoCertificate);
    }
    Ok(out)
}
