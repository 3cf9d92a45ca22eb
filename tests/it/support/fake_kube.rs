//! A fake Kubernetes API server for the cluster check, on loopback only.
//!
//! TLS from a CA generated per test (rcgen), a server certificate for `127.0.0.1` and
//! `localhost` (and an extra DNS name, or only that name, for `tls-server-name`), plain
//! threads and `rustls::StreamOwned` over std `TcpStream`. It answers what
//! `kubectl auth whoami` sends: `POST /apis/authentication.k8s.io/v1/selfsubjectreviews`
//! with the user of a known bearer token, 401 with a Kubernetes `Status` for any other
//! token on every path (authentication comes before routing, as in kube-apiserver),
//! `GET /version` (kubectl 1.32's `auth whoami` asks it first, with `?timeout=5s`), a
//! little discovery (`/api`, `/apis`), and 404 `Status` for the rest. kubectl sends its
//! review as protobuf; the fake reads no request body and always answers JSON, which
//! kubectl accepts. Every request is recorded, with the SNI the client sent.
//!
//! Also here: a server that accepts and never answers (recording how its connections
//! ended and how many were open at once), a tiny HTTP CONNECT or SOCKS5 proxy, and
//! writers of kubeconfig files that point at a fake.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority made for one test.
pub struct TestCa {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("ca key");
        let cert = params.self_signed(&key).expect("ca cert");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// base64 of the PEM, as `certificate-authority-data` holds it.
    pub fn data(&self) -> String {
        base64_encode(self.pem.as_bytes())
    }

    /// A server certificate for `sans` (IP addresses or DNS names) and its key.
    pub fn issue(&self, sans: &[&str]) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "fake-kube");
        params.subject_alt_names = sans
            .iter()
            .map(|s| match s.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*s).try_into().expect("dns name")),
            })
            .collect();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        (
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }
}

/// A self-signed server certificate for `sans`, as its own "CA" (its PEM), and its key.
fn self_signed(
    sans: &[&str],
    how: SelfSigned,
) -> (TestCa, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "fake-kube self-signed");
    params.subject_alt_names = sans
        .iter()
        .map(|s| match s.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*s).try_into().expect("dns name")),
        })
        .collect();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if how.is_ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
    } else {
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    }
    if how.expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-sign");
    let der = cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        },
        vec![der],
        private,
    )
}

pub fn base64_encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The user a known token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl FakeUser {
    pub fn new(username: &str) -> FakeUser {
        FakeUser {
            username: username.to_string(),
            uid: format!("uid-{username}"),
            groups: vec!["system:authenticated".into(), "cw:org-admins".into()],
        }
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path without the query.
    pub path: String,
    pub query: Option<String>,
    /// The bearer token, if the request had one.
    pub bearer: Option<String>,
    pub body: String,
    /// The server name the client sent in its TLS hello.
    pub sni: Option<String>,
    /// What the fake answered.
    pub status: u16,
}

/// How to build a fake.
pub struct FakeKubeOptions {
    /// SANs of the server certificate.
    pub sans: Vec<String>,
    /// Serve SelfSubjectReview under these versions only (as clusters before 1.28 do).
    pub review_versions: Vec<&'static str>,
    /// Answer every review with this status and body instead.
    pub canned: Option<(u16, String)>,
    /// Headers added to every answer (a `Location` for a redirect).
    pub headers: Vec<(String, String)>,
    /// Answer every review `201` with a chunked body that never ends (until the client
    /// leaves).
    pub endless: bool,
    /// Serve a self-signed certificate instead of one issued by a CA; `ca` then holds that
    /// certificate itself (so `Trust::Data(&fake.ca.pem)` lists the server's own).
    pub self_signed: Option<SelfSigned>,
}

/// How a self-signed server certificate is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelfSigned {
    /// Basic constraints CA:TRUE (and keyCertSign), as kubeadm-style self-signed CAs.
    pub is_ca: bool,
    /// Valid only in 2000.
    pub expired: bool,
}

impl Default for FakeKubeOptions {
    fn default() -> Self {
        FakeKubeOptions {
            sans: vec!["127.0.0.1".into(), "localhost".into()],
            review_versions: vec!["v1"],
            canned: None,
            headers: Vec::new(),
            endless: false,
            self_signed: None,
        }
    }
}

impl FakeKubeOptions {
    /// The default SANs plus `extra` (a DNS name).
    pub fn with_extra_name(extra: &str) -> FakeKubeOptions {
        let mut o = FakeKubeOptions::default();
        o.sans.push(extra.to_string());
        o
    }

    /// A certificate that names only `name`: no IP address, no localhost.
    pub fn only_name(name: &str) -> FakeKubeOptions {
        FakeKubeOptions {
            sans: vec![name.to_string()],
            ..FakeKubeOptions::default()
        }
    }
}

struct Shared {
    users: HashMap<String, FakeUser>,
    review_versions: Vec<&'static str>,
    canned: Option<(u16, String)>,
    headers: Vec<(String, String)>,
    endless: bool,
    requests: Mutex<Vec<Recorded>>,
    /// TCP connections accepted, whether or not TLS then succeeded.
    connections: std::sync::atomic::AtomicUsize,
}

/// A running fake API server; stops when dropped.
pub struct FakeKube {
    pub addr: SocketAddr,
    pub ca: TestCa,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl FakeKube {
    /// A fake that knows `users` (token → user), with the default certificate.
    pub fn start(users: &[(&str, FakeUser)]) -> FakeKube {
        FakeKube::start_with(users, FakeKubeOptions::default())
    }

    pub fn start_with(users: &[(&str, FakeUser)], options: FakeKubeOptions) -> FakeKube {
        let sans: Vec<&str> = options.sans.iter().map(String::as_str).collect();
        let (ca, chain, key) = match options.self_signed {
            None => {
                let ca = TestCa::new("fake-kube test CA");
                let (chain, key) = ca.issue(&sans);
                (ca, chain, key)
            }
            Some(how) => self_signed(&sans, how),
        };
        let tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server cert");
        let tls = Arc::new(tls);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            users: users
                .iter()
                .map(|(t, u)| (t.to_string(), u.clone()))
                .collect(),
            review_versions: options.review_versions,
            canned: options.canned,
            headers: options.headers,
            endless: options.endless,
            requests: Mutex::new(Vec::new()),
            connections: std::sync::atomic::AtomicUsize::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (shared, stop) = (shared.clone(), stop.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    let (shared, tls) = (shared.clone(), tls.clone());
                    thread::spawn(move || serve_connection(conn, tls, &shared));
                }
            });
        }
        FakeKube {
            addr,
            ca,
            shared,
            stop,
        }
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// TCP connections accepted so far, including those whose TLS handshake failed.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The requests that carried `token`.
    pub fn requests_with(&self, token: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.bearer.as_deref() == Some(token))
            .collect()
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn serve_connection(conn: TcpStream, tls: Arc<rustls::ServerConfig>, shared: &Shared) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(server) = rustls::ServerConnection::new(tls) else {
        return;
    };
    let mut reader = BufReader::new(rustls::StreamOwned::new(server, conn));
    while let Some(req) = read_request(&mut reader) {
        let sni = reader.get_ref().conn.server_name().map(str::to_string);
        let (status, body) = answer(shared, &req);
        shared.requests.lock().unwrap().push(Recorded {
            method: req.method.clone(),
            path: req.path.split('?').next().unwrap_or("").to_string(),
            query: req.path.split_once('?').map(|(_, q)| q.to_string()),
            bearer: req.bearer.clone(),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            sni,
            status,
        });
        let stream = reader.get_mut();
        let review = req.method == "POST" && req.path.contains("/selfsubjectreviews");
        if shared.endless && review && status == 201 {
            // An answer that never ends: 64 KiB chunks until the client goes away.
            let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
            let head = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n";
            if stream.write_all(head.as_bytes()).is_ok() {
                while stream.write_all(chunk.as_bytes()).is_ok() {}
            }
            break;
        }
        let reason = match status {
            200 => "OK",
            201 => "Created",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            _ => "Status",
        };
        let extra: String = shared
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).is_err()
            || stream.write_all(body.as_bytes()).is_err()
            || stream.flush().is_err()
        {
            break;
        }
        if req.close {
            break;
        }
    }
    let stream = reader.get_mut();
    stream.conn.send_close_notify();
    let _ = stream.flush();
    let _ = stream.sock.shutdown(Shutdown::Both);
}

struct Request {
    method: String,
    path: String,
    bearer: Option<String>,
    body: Vec<u8>,
    close: bool,
}

/// One HTTP/1.1 request, or None at the end of the connection or on garbage.
fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let header = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let mut body = Vec::new();
    if let Some(len) = header("content-length") {
        let len: usize = len.parse().ok()?;
        body.resize(len, 0);
        r.read_exact(&mut body).ok()?;
    } else if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let bearer = header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::to_string);
    let close = header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
    Some(Request {
        method,
        path,
        bearer,
        body,
        close,
    })
}

fn status_json(code: u16, reason: &str, message: &str) -> String {
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
    .to_string()
}

fn answer(shared: &Shared, req: &Request) -> (u16, String) {
    let path = req.path.split('?').next().unwrap_or("");
    let Some(user) = req.bearer.as_ref().and_then(|t| shared.users.get(t)) else {
        return (401, status_json(401, "Unauthorized", "Unauthorized"));
    };
    let review_version = path
        .strip_prefix("/apis/authentication.k8s.io/")
        .and_then(|rest| rest.strip_suffix("/selfsubjectreviews"))
        .filter(|v| shared.review_versions.contains(v));
    match (req.method.as_str(), path) {
        ("POST", _) if review_version.is_some() => {
            if let Some((code, body)) = &shared.canned {
                return (*code, body.clone());
            }
            let version = review_version.unwrap();
            let body = serde_json::json!({
                "kind": "SelfSubjectReview",
                "apiVersion": format!("authentication.k8s.io/{version}"),
                "metadata": {"creationTimestamp": null},
                "status": {"userInfo": {
                    "username": user.username,
                    "uid": user.uid,
                    "groups": user.groups,
                }},
            });
            (201, body.to_string())
        }
        ("GET", "/version") => (
            200,
            serde_json::json!({
                "major": "1", "minor": "32", "gitVersion": "v1.32.4",
                "gitCommit": "fake", "gitTreeState": "clean", "buildDate": "2025-04-22T00:00:00Z",
                "goVersion": "go1.23.6", "compiler": "gc", "platform": "linux/amd64",
            })
            .to_string(),
        ),
        ("GET", "/api") => (
            200,
            serde_json::json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}],
            })
            .to_string(),
        ),
        ("GET", "/apis") => {
            let versions: Vec<_> = shared
                .review_versions
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "groupVersion": format!("authentication.k8s.io/{v}"),
                        "version": v,
                    })
                })
                .collect();
            (
                200,
                serde_json::json!({
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [{
                        "name": "authentication.k8s.io",
                        "versions": versions,
                        "preferredVersion": versions[0],
                    }],
                })
                .to_string(),
            )
        }
        _ => (
            404,
            status_json(404, "NotFound", "the server could not find the requested resource"),
        ),
    }
}

/// How a connection held by a [`SilentServer`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldEnd {
    /// The client closed (or reset) it: the client gave up.
    ByClient,
    /// The server closed it: its hold ran out, its group was released, or it was dropped.
    ByServer,
}

/// One connection a [`SilentServer`] accepted, with times from the server's clock.
#[derive(Debug, Clone)]
pub struct HeldConnection {
    /// The server that accepted it (servers of a group share one record).
    pub server: SocketAddr,
    pub accepted: Instant,
    /// When and how it ended; None while it is still open.
    pub ended: Option<(Instant, HeldEnd)>,
    /// Bytes the client sent (its TLS hello); none is ever answered.
    pub bytes_in: usize,
}

#[derive(Default)]
struct HoldLog {
    connections: Vec<HeldConnection>,
    open: usize,
    max_open: usize,
    /// Close every connection once this many are open at the same moment.
    release_at: Option<usize>,
    released: bool,
}

/// What the servers of one group share.
struct Holding {
    log: Mutex<HoldLog>,
    changed: Condvar,
    /// Longest a connection is held; None: until the client leaves or the server is dropped.
    hold: Option<Duration>,
}

impl Holding {
    fn new(hold: Option<Duration>, release_at: Option<usize>) -> Arc<Holding> {
        Arc::new(Holding {
            log: Mutex::new(HoldLog {
                release_at,
                ..HoldLog::default()
            }),
            changed: Condvar::new(),
            hold,
        })
    }

    fn log(&self) -> std::sync::MutexGuard<'_, HoldLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A server that accepts connections and never says anything; stops when dropped. It
/// records every connection (when it was accepted, when and by whom it was closed) and the
/// most connections open at the same moment, so a test can see that a client gave up, or
/// that clients were waiting at once, without timing anything itself.
pub struct SilentServer {
    pub addr: SocketAddr,
    holding: Arc<Holding>,
    stop: Arc<AtomicBool>,
}

impl SilentServer {
    /// Holds every connection until the client closes it or the server is dropped.
    pub fn start() -> SilentServer {
        SilentServer::start_in(Holding::new(None, None))
    }

    /// Holds every connection at most `hold`, then closes it without a word: a client that
    /// gets a timeout error from a server held much longer than its timeout gave up itself.
    pub fn holding(hold: Duration) -> SilentServer {
        SilentServer::start_in(Holding::new(Some(hold), None))
    }

    /// `n` servers that hold every connection until `n` connections are open on the group
    /// at the same moment, then close them all (and any later one at once). Clients that
    /// wait on the servers one after the other never get them released.
    pub fn released_together(n: usize) -> Vec<SilentServer> {
        let holding = Holding::new(None, Some(n));
        (0..n)
            .map(|_| SilentServer::start_in(holding.clone()))
            .collect()
    }

    fn start_in(holding: Arc<Holding>) -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (holding, stop) = (holding.clone(), stop.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let index = {
                        let mut log = holding.log();
                        log.connections.push(HeldConnection {
                            server: addr,
                            accepted: Instant::now(),
                            ended: None,
                            bytes_in: 0,
                        });
                        log.open += 1;
                        log.max_open = log.max_open.max(log.open);
                        if log.release_at.is_some_and(|n| log.open >= n) {
                            log.released = true;
                        }
                        holding.changed.notify_all();
                        log.connections.len() - 1
                    };
                    let (holding, stop) = (holding.clone(), stop.clone());
                    thread::spawn(move || hold_connection(conn, index, &holding, &stop));
                }
            });
        }
        SilentServer {
            addr,
            holding,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Every connection accepted so far (by the whole group, for [`Self::released_together`]).
    pub fn connections(&self) -> Vec<HeldConnection> {
        self.holding.log().connections.clone()
    }

    /// The most connections that were open at the same moment (on the whole group).
    pub fn max_open(&self) -> usize {
        self.holding.log().max_open
    }

    /// Waits until every connection accepted so far has ended, then returns them all. A
    /// connection ends when the client leaves, or at the latest when the hold runs out,
    /// the group is released, or the server is dropped.
    pub fn wait_all_ended(&self) -> Vec<HeldConnection> {
        let mut log = self.holding.log();
        while log.connections.iter().any(|c| c.ended.is_none()) {
            log = self
                .holding
                .changed
                .wait(log)
                .unwrap_or_else(|e| e.into_inner());
        }
        log.connections.clone()
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Read (and never answer) until the client leaves or the server lets go; record which.
fn hold_connection(mut conn: TcpStream, index: usize, holding: &Holding, stop: &AtomicBool) {
    // A blocking read wakes as soon as the client closes; the short timeout only lets the
    // loop see the server's own reasons to let go.
    let _ = conn.set_read_timeout(Some(Duration::from_millis(10)));
    let accepted = Instant::now();
    let mut buf = [0u8; 4096];
    let end = loop {
        if stop.load(Ordering::SeqCst)
            || holding.log().released
            || holding.hold.is_some_and(|h| accepted.elapsed() >= h)
        {
            break HeldEnd::ByServer;
        }
        match conn.read(&mut buf) {
            Ok(0) => break HeldEnd::ByClient,
            Ok(n) => holding.log().connections[index].bytes_in += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break HeldEnd::ByClient,
        }
    };
    let _ = conn.shutdown(Shutdown::Both);
    let mut log = holding.log();
    log.open -= 1;
    log.connections[index].ended = Some((Instant::now(), end));
    holding.changed.notify_all();
}

/// An address on loopback where nothing listens (bound, then released).
pub fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("https://{addr}")
}

/// A tiny proxy on loopback, HTTP CONNECT or SOCKS5 (no authentication), that tunnels to
/// loopback targets only and records each target (and, for CONNECT, the
/// `Proxy-Authorization` it was sent, which it does not check); stops when dropped.
pub struct ConnectProxy {
    pub addr: SocketAddr,
    socks5: bool,
    targets: Arc<Mutex<Vec<String>>>,
    authorizations: Arc<Mutex<Vec<Option<String>>>>,
    stop: Arc<AtomicBool>,
}

impl ConnectProxy {
    /// An HTTP CONNECT proxy (`http://…`).
    pub fn start() -> ConnectProxy {
        ConnectProxy::start_kind(false)
    }

    /// A SOCKS5 proxy (`socks5://…`).
    pub fn start_socks5() -> ConnectProxy {
        ConnectProxy::start_kind(true)
    }

    /// An HTTP CONNECT proxy that resolves `name` to 127.0.0.1 itself: a client that goes
    /// through it reaches a loopback server by a name that resolves nowhere else, and that
    /// is neither `localhost` nor a loopback address (which Go never proxies).
    pub fn start_resolving(name: &str) -> ConnectProxy {
        ConnectProxy::start_inner(false, Some(name.to_string()))
    }

    /// An attacker's HTTP CONNECT proxy: every tunnel goes to `to`, whatever was asked.
    pub fn start_redirecting(to: SocketAddr) -> ConnectProxy {
        ConnectProxy::start_inner(false, Some(format!("redirect:{to}")))
    }

    fn start_kind(socks5: bool) -> ConnectProxy {
        ConnectProxy::start_inner(socks5, None)
    }

    fn start_inner(socks5: bool, alias: Option<String>) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let targets = Arc::new(Mutex::new(Vec::new()));
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (targets, authorizations, stop, alias) = (
                targets.clone(),
                authorizations.clone(),
                stop.clone(),
                alias.clone(),
            );
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (targets, authorizations) = (targets.clone(), authorizations.clone());
                    let alias = alias.clone();
                    if socks5 {
                        thread::spawn(move || socks5_tunnel(conn, &targets));
                    } else {
                        thread::spawn(move || {
                            tunnel(conn, &targets, &authorizations, alias.as_deref())
                        });
                    }
                }
            });
        }
        ConnectProxy {
            addr,
            socks5,
            targets,
            authorizations,
            stop,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.socks5 { "socks5" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The `host:port` of every CONNECT seen.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }

    /// The `Proxy-Authorization` header of every HTTP CONNECT seen (None: not sent).
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.authorizations.lock().unwrap().clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn tunnel(
    client: TcpStream,
    targets: &Mutex<Vec<String>>,
    authorizations: &Mutex<Vec<Option<String>>>,
    alias: Option<&str>,
) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(client);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            if name.trim().eq_ignore_ascii_case("proxy-authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    targets.lock().unwrap().push(target.to_string());
    authorizations.lock().unwrap().push(authorization);
    let mut client = reader.into_inner();
    let target = match (alias, target.rsplit_once(':')) {
        (Some(to), _) if to.starts_with("redirect:") => to["redirect:".len()..].to_string(),
        (Some(name), Some((host, port))) if host.eq_ignore_ascii_case(name) => {
            format!("127.0.0.1:{port}")
        }
        _ => target.to_string(),
    };
    let target = target.as_str();
    let allowed = target
        .parse::<SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    if method != "CONNECT" || !allowed {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    let Ok(upstream) = TcpStream::connect(target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    splice(client, upstream);
}

/// SOCKS5 (RFC 1928), no authentication, CONNECT to an IPv4 address or a name.
fn socks5_tunnel(mut client: TcpStream, targets: &Mutex<Vec<String>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut head = [0u8; 2];
    if client.read_exact(&mut head).is_err() || head[0] != 5 {
        return;
    }
    let mut methods = vec![0u8; head[1] as usize];
    if client.read_exact(&mut methods).is_err() || !methods.contains(&0) {
        let _ = client.write_all(&[5, 0xff]);
        return;
    }
    if client.write_all(&[5, 0]).is_err() {
        return;
    }
    let mut req = [0u8; 4];
    if client.read_exact(&mut req).is_err() || req[..3] != [5, 1, 0] {
        return;
    }
    let host = match req[3] {
        1 => {
            let mut ip = [0u8; 4];
            if client.read_exact(&mut ip).is_err() {
                return;
            }
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            if client.read_exact(&mut len).is_err() {
                return;
            }
            let mut name = vec![0u8; len[0] as usize];
            if client.read_exact(&mut name).is_err() {
                return;
            }
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return,
    };
    let mut port = [0u8; 2];
    if client.read_exact(&mut port).is_err() {
        return;
    }
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    targets.lock().unwrap().push(target.clone());
    let upstream = target
        .parse::<SocketAddr>()
        .ok()
        .filter(|a| a.ip().is_loopback())
        .and_then(|a| TcpStream::connect(a).ok());
    let Some(upstream) = upstream else {
        let _ = client.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
        return;
    };
    if client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).is_err() {
        return;
    }
    splice(client, upstream);
}

/// Copy both ways until each side closes.
fn splice(client: TcpStream, upstream: TcpStream) {
    let _ = client.set_read_timeout(None);
    let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let mut client_r = client;
    let mut upstream_r = upstream;
    let t = thread::spawn(move || {
        let _ = std::io::copy(&mut client_r, &mut u2);
        let _ = u2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream_r, &mut c2);
    let _ = c2.shutdown(Shutdown::Write);
    let _ = t.join();
}

/// How a kubeconfig cluster entry trusts the fake.
pub enum Trust<'a> {
    /// `certificate-authority-data` with this PEM.
    Data(&'a str),
    /// `certificate-authority: <rel>`, the PEM written to `<rel>` beside the kubeconfig.
    File { rel: &'a str, pem: &'a str },
    /// `insecure-skip-tls-verify: true`, no CA.
    Insecure,
    /// Nothing: the system's roots.
    System,
}

/// One cluster entry of a written kubeconfig.
pub struct ClusterSpec<'a> {
    pub name: &'a str,
    pub server: String,
    pub trust: Trust<'a>,
    pub tls_server_name: Option<&'a str>,
    pub proxy_url: Option<String>,
}

impl<'a> ClusterSpec<'a> {
    pub fn new(name: &'a str, server: String, trust: Trust<'a>) -> ClusterSpec<'a> {
        ClusterSpec {
            name,
            server,
            trust,
            tls_server_name: None,
            proxy_url: None,
        }
    }
}

/// Write a kubeconfig at `path` with `clusters`, one context per (context, cluster, user)
/// and `users` (name, token); the first context is current. CA files named by
/// `Trust::File` are written relative to the kubeconfig's folder.
pub fn write_kubeconfig(
    path: &Path,
    clusters: &[ClusterSpec],
    contexts: &[(&str, &str, &str)],
    users: &[(&str, &str)],
) -> PathBuf {
    let dir = path.parent().expect("folder");
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut s = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for c in clusters {
        s.push_str(&format!(
            "- name: {}\n  cluster:\n    server: {}\n",
            c.name, c.server
        ));
        match &c.trust {
            Trust::Data(pem) => s.push_str(&format!(
                "    certificate-authority-data: {}\n",
                base64_encode(pem.as_bytes())
            )),
            Trust::File { rel, pem } => {
                let p = dir.join(rel);
                std::fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
                std::fs::write(&p, pem).expect("write ca");
                s.push_str(&format!("    certificate-authority: {rel}\n"));
            }
            Trust::Insecure => s.push_str("    insecure-skip-tls-verify: true\n"),
            Trust::System => {}
        }
        if let Some(n) = c.tls_server_name {
            s.push_str(&format!("    tls-server-name: {n}\n"));
        }
        if let Some(p) = &c.proxy_url {
            s.push_str(&format!("    proxy-url: {p}\n"));
        }
    }
    s.push_str("contexts:\n");
    for (name, cluster, user) in contexts {
        s.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {cluster}\n    user: {user}\n"
        ));
    }
    s.push_str("users:\n");
    for (name, token) in users {
        s.push_str(&format!("- name: {name}\n  user:\n    token: {token}\n"));
    }
    if let Some((first, _, _)) = contexts.first() {
        s.push_str(&format!("current-context: {first}\n"));
    }
    std::fs::write(path, s).expect("write kubeconfig");
    path.to_path_buf()
}
