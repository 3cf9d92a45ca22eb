//! A scriptable fake of the CoreWeave API for the tests: plain HTTP/1.1 on
//! `127.0.0.1:<random port>`, std threads only, one request per connection.
//!
//! - Tokens it knows ([`FakeCoreweave::accept_token`]) get their principal from
//!   `GET /v1beta1/auth/whoami`; any other token gets a Connect `401 unauthenticated`.
//!   Either answer can be held back for one token ([`FakeCoreweave::slow_token`]).
//! - A test can script the next answers in order ([`FakeCoreweave::script`]): a status,
//!   headers (`Retry-After`), any body (a Connect error, malformed JSON, missing fields),
//!   a delay before answering, or hanging up without answering. The script is used up
//!   first; after it, the default behaviour above answers (404 for other paths).
//! - Every request is recorded (method, path, headers, body, arrival time), before it is
//!   answered, so a test can check what was sent and how many tries were made. While
//!   the fake holds a delayed answer it watches the connection: a client that closes it
//!   (gives up) ends the wait, and when it left is recorded ([`Recorded::client_left`]).
//! - `POST /v1/cwobject/access-key` with a known token makes an Object Storage key: the
//!   next one given to [`FakeCoreweave::provide_keys`] (keys a local S3 stand-in knows),
//!   else a made-up one, expiring `durationSeconds` from now (the epoch for 0, as the API
//!   reports a permanent key). Every key made is recorded ([`FakeCoreweave::access_keys`]).
//! - `GET /v1/cwobject/temporary-credentials/api-token` with a known token exchanges it
//!   (AWS's container-credentials shape): the next supplied key, else a made-up one, with a
//!   made-up session token ([`FakeCoreweave::exchange_session_tokens`]) and an Expiration
//!   [`FakeCoreweave::exchange_lifetime`] from now (an hour unless set).
//! - `GET /` stands in for an S3 endpoint's ListBuckets: a SigV4 `Authorization` naming a
//!   key the fake made is accepted once [`FakeCoreweave::s3_accept_after`] has passed since
//!   it was made (at once unless set; never for `None`); before that, and for any other
//!   key, `403 InvalidAccessKeyId` as S3 answers a key it does not know yet. The signature
//!   itself is not checked here (moto's S3 checks it, in the AWS CLI tests).
//! - `GET /v1beta1/cks/clusters` with a known token lists the clusters given for its org
//!   ([`FakeCoreweave::clusters`]), `{"items": [...]}` in any shape a test writes; none
//!   given is an org without clusters.
//! - Dropping the fake stops it: the accept loop ends and pending delays are cut short.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Waited before answering (or before hanging up).
    pub delay: Duration,
    /// Close the connection after reading the request, without answering.
    pub hang_up: bool,
}

impl Reply {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
            hang_up: false,
        }
    }

    /// `status` with a JSON body.
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::status(status).body(body.to_string())
    }

    /// A Connect protocol error: `{"code":…,"message":…}`.
    pub fn connect_error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(
            status,
            serde_json::json!({"code": code, "message": message, "details": []}),
        )
    }

    /// whoami's success answer.
    pub fn principal(uid: &str, org: &str) -> Reply {
        Reply::json(
            200,
            serde_json::json!({"principal": {
                "uid": uid, "orgUid": org,
                "groups": ["admins"], "consoleActions": ["tokens.read"]
            }}),
        )
    }

    /// Read the request, then close the connection without a byte of answer.
    pub fn hang_up() -> Reply {
        Reply {
            hang_up: true,
            ..Reply::status(0)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Reply {
        self.body = body.into();
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// A request as the fake received it. Header names are lowercase.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
    /// When the client closed the connection while the fake was holding the answer (its
    /// delay); None if the client stayed until answered (or there was no delay).
    pub client_left: Option<Instant>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

/// An Object Storage key the fake made.
#[derive(Debug, Clone)]
pub struct MintedKey {
    pub token: String,
    pub access_key_id: String,
    pub secret_key: String,
    /// `/access-key`'s `durationSeconds`; 0 for the exchange's keys.
    pub duration_seconds: u64,
    /// `access-key` or `api-token` (the exchange).
    pub kind: &'static str,
    pub session_token: Option<String>,
    pub made: Instant,
}

struct State {
    /// The exchange answers with a session token (`Token`), else an empty one.
    session_tokens: bool,
    /// The exchange's keys live this long.
    exchange_lifetime: jiff::SignedDuration,
    /// The S3 stand-in accepts a key this long after it was made; never for None.
    s3_accept_after: Option<Duration>,
    /// The S3 stand-in's answer to every check, when set.
    s3_answer: Option<Reply>,
    /// Keys to hand out next, in order (the exchange passes a supplied session token on).
    key_supply: VecDeque<(String, String, Option<String>)>,
    access_keys: Vec<MintedKey>,
    /// Spell the key id `accessKeyID`, as some of CoreWeave's examples do.
    upper_id: bool,
    /// token → (uid, orgUid)
    tokens: HashMap<String, (String, String)>,
    /// token → how long whoami holds its default answer
    delays: HashMap<String, Duration>,
    script: VecDeque<Reply>,
    /// orgUid → the items `GET /v1beta1/cks/clusters` lists
    clusters: HashMap<String, Vec<serde_json::Value>>,
    requests: Vec<Recorded>,
    /// Recorded requests not yet answered, hung up on, or left by their client.
    pending: usize,
}

impl Default for State {
    fn default() -> State {
        State {
            session_tokens: true,
            exchange_lifetime: jiff::SignedDuration::from_hours(1),
            s3_accept_after: Some(Duration::ZERO),
            s3_answer: None,
            key_supply: VecDeque::new(),
            access_keys: Vec::new(),
            upper_id: false,
            tokens: HashMap::new(),
            delays: HashMap::new(),
            script: VecDeque::new(),
            clusters: HashMap::new(),
            requests: Vec::new(),
            pending: 0,
        }
    }
}

struct Shared {
    stop: AtomicBool,
    state: Mutex<State>,
    settled: Condvar,
}

pub struct FakeCoreweave {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeCoreweave {
    pub fn start() -> FakeCoreweave {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            settled: Condvar::new(),
        });
        let s = Arc::clone(&shared);
        let accept = std::thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let s = Arc::clone(&s);
                        std::thread::spawn(move || serve(stream, &s));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeCoreweave {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// whoami answers `token` with this principal.
    pub fn accept_token(&self, token: &str, uid: &str, org: &str) -> &FakeCoreweave {
        self.state()
            .tokens
            .insert(token.to_string(), (uid.to_string(), org.to_string()));
        self
    }

    /// whoami holds its default answer for `token` this long (the token's own answer,
    /// whichever request comes first, unlike a scripted delay).
    pub fn slow_token(&self, token: &str, delay: Duration) -> &FakeCoreweave {
        self.state().delays.insert(token.to_string(), delay);
        self
    }

    /// The CKS clusters of `org`, as the list answers them (replacing earlier ones).
    pub fn clusters(&self, org: &str, items: Vec<serde_json::Value>) -> &FakeCoreweave {
        self.state().clusters.insert(org.to_string(), items);
        self
    }

    /// Queue answers, used in order before the default behaviour.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) -> &FakeCoreweave {
        self.state().script.extend(replies);
        self
    }

    /// Object Storage keys to hand out, in order, before made-up ones.
    pub fn provide_keys(&self, keys: impl IntoIterator<Item = (String, String)>) -> &FakeCoreweave {
        self.state()
            .key_supply
            .extend(keys.into_iter().map(|(id, secret)| (id, secret, None)));
        self
    }

    /// Keys with their session tokens to hand out, in order, before made-up ones.
    pub fn provide_session_keys(
        &self,
        keys: impl IntoIterator<Item = (String, String, String)>,
    ) -> &FakeCoreweave {
        self.state().key_supply.extend(
            keys.into_iter()
                .map(|(id, secret, t)| (id, secret, Some(t))),
        );
        self
    }

    /// Answer with `accessKeyID` instead of `accessKeyId`.
    pub fn spell_key_id_upper(&self, upper: bool) -> &FakeCoreweave {
        self.state().upper_id = upper;
        self
    }

    /// Whether the exchange's answers carry a session token (`Token`); they do unless told.
    pub fn exchange_session_tokens(&self, on: bool) -> &FakeCoreweave {
        self.state().session_tokens = on;
        self
    }

    /// How long the exchange's keys live (an hour unless told).
    pub fn exchange_lifetime(&self, life: jiff::SignedDuration) -> &FakeCoreweave {
        self.state().exchange_lifetime = life;
        self
    }

    /// The S3 stand-in accepts a key this long after it was made (`None`: never).
    pub fn s3_accept_after(&self, after: Option<Duration>) -> &FakeCoreweave {
        self.state().s3_accept_after = after;
        self
    }

    /// The S3 stand-in answers every check with `reply` (`None`: as keys propagate).
    pub fn s3_answer(&self, reply: Option<Reply>) -> &FakeCoreweave {
        self.state().s3_answer = reply;
        self
    }

    /// The requests of the S3 stand-in (`GET /`).
    pub fn s3_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == "/")
            .collect()
    }

    /// The requests to the CoreWeave API (everything but the S3 stand-in's).
    pub fn api_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path != "/")
            .collect()
    }

    /// Every Object Storage key made so far.
    pub fn access_keys(&self) -> Vec<MintedKey> {
        self.state().access_keys.clone()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// Every request so far, once none is still being held: each was answered, hung up on,
    /// or left by its client (the wait ends at the latest when the delay runs out).
    pub fn settled(&self) -> Vec<Recorded> {
        let mut state = self.state();
        while state.pending > 0 {
            state = self
                .shared
                .settled
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        state.requests.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FakeCoreweave {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&stream) else {
        return;
    };
    let (index, reply) = {
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.requests.push(request.clone());
        state.pending += 1;
        let reply = match state.script.pop_front() {
            Some(r) => r,
            None if request.path == "/v1/cwobject/access-key" => access_key(&mut state, &request),
            None if request.path == "/v1/cwobject/temporary-credentials/api-token" => {
                exchange(&mut state, &request)
            }
            None if request.path == "/" => list_buckets(&state, &request),
            None => default_reply(&state, &request),
        };
        (state.requests.len() - 1, reply)
    };
    answer(stream, index, &reply, shared);
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    state.pending -= 1;
    shared.settled.notify_all();
}

/// Hold for the reply's delay, watching for the client to leave, then answer or hang up.
fn answer(stream: TcpStream, index: usize, reply: &Reply, shared: &Shared) {
    let deadline = Instant::now() + reply.delay;
    // A blocking read wakes as soon as the client closes; the timeout only lets the loop
    // see the deadline and the stop flag.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(10)));
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline && !shared.stop.load(Ordering::SeqCst) {
        let left = match (&stream).read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::Interrupted
            ),
        };
        if left {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            state.requests[index].client_left = Some(Instant::now());
            return;
        }
    }
    if reply.hang_up {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    let has = |name: &str| {
        reply
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    if !has("content-type") {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.body.len()
    ));
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(reply.body.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
}

/// The answer when nothing is scripted: whoami and the cluster list by token, 404
/// elsewhere.
fn default_reply(state: &State, request: &Recorded) -> Reply {
    let token = request
        .authorization()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    if request.path == "/v1beta1/cks/clusters" && request.method == "GET" {
        return match state.tokens.get(token) {
            Some((_, org)) => Reply::json(
                200,
                serde_json::json!({"items": state.clusters.get(org).cloned().unwrap_or_default()}),
            ),
            None => Reply::connect_error(401, "unauthenticated", "invalid or expired token"),
        };
    }
    if request.path != "/v1beta1/auth/whoami" {
        return Reply::connect_error(404, "not_found", "no such procedure");
    }
    let reply = match state.tokens.get(token) {
        Some((uid, org)) => Reply::principal(uid, org),
        None => Reply::connect_error(401, "unauthenticated", "invalid or expired token"),
    };
    match state.delays.get(token) {
        Some(delay) => reply.after(*delay),
        None => reply,
    }
}

/// `POST /v1/cwobject/access-key`: a key for a known token.
fn access_key(state: &mut State, request: &Recorded) -> Reply {
    let token = request
        .authorization()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    if request.method != "POST" {
        return Reply::connect_error(405, "unimplemented", "POST only");
    }
    if !state.tokens.contains_key(token) {
        return Reply::connect_error(401, "unauthenticated", "invalid or expired token");
    }
    let Some(duration) = serde_json::from_str::<serde_json::Value>(&request.body)
        .ok()
        .and_then(|v| v.get("durationSeconds").and_then(serde_json::Value::as_u64))
    else {
        return Reply::connect_error(400, "invalid_argument", "durationSeconds missing");
    };
    let (id, secret, _) = next_key(state);
    let expiry = if duration == 0 {
        jiff::Timestamp::UNIX_EPOCH
    } else {
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(duration as i64)
    };
    state.access_keys.push(MintedKey {
        token: token.to_string(),
        access_key_id: id.clone(),
        secret_key: secret.clone(),
        duration_seconds: duration,
        kind: "access-key",
        session_token: None,
        made: Instant::now(),
    });
    let id_field = if state.upper_id {
        "accessKeyID"
    } else {
        "accessKeyId"
    };
    let mut body = serde_json::json!({
        "secretKey": secret,
        "principalName": "fake-principal",
        "expiry": expiry.to_string(),
    });
    body[id_field] = id.into();
    Reply::json(200, body)
}

/// The next supplied key, else a made-up one.
fn next_key(state: &mut State) -> (String, String, Option<String>) {
    state.key_supply.pop_front().unwrap_or_else(|| {
        let n = state.access_keys.len();
        (
            format!("CWFAKE{n:04}{}", fastrand::u32(..)),
            (0..40).map(|_| fastrand::alphanumeric()).collect(),
            None,
        )
    })
}

/// `GET /v1/cwobject/temporary-credentials/api-token`: a key for a known token, in AWS's
/// container-credentials shape.
fn exchange(state: &mut State, request: &Recorded) -> Reply {
    let token = request
        .authorization()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    if request.method != "GET" {
        return Reply::connect_error(405, "unimplemented", "GET only");
    }
    if !state.tokens.contains_key(token) {
        return Reply::connect_error(401, "unauthenticated", "invalid or expired token");
    }
    let (id, secret, supplied) = next_key(state);
    let session = supplied.or_else(|| {
        state
            .session_tokens
            .then(|| format!("FakeSession{}", fastrand::u64(..)))
    });
    let expiry = jiff::Timestamp::now() + state.exchange_lifetime;
    state.access_keys.push(MintedKey {
        token: token.to_string(),
        access_key_id: id.clone(),
        secret_key: secret.clone(),
        duration_seconds: 0,
        kind: "api-token",
        session_token: session.clone(),
        made: Instant::now(),
    });
    Reply::json(
        200,
        serde_json::json!({
            "AccessKeyId": id,
            "SecretAccessKey": secret,
            "Token": session.unwrap_or_default(),
            "Expiration": expiry.to_string(),
        }),
    )
}

/// `GET /` as an S3 endpoint's ListBuckets: a key the fake made, once it has "propagated".
fn list_buckets(state: &State, request: &Recorded) -> Reply {
    if let Some(reply) = &state.s3_answer {
        return reply.clone();
    }
    let id = request
        .authorization()
        .and_then(|a| a.strip_prefix("AWS4-HMAC-SHA256 Credential="))
        .and_then(|c| c.split('/').next())
        .unwrap_or("");
    let known = state.access_keys.iter().find(|k| k.access_key_id == id);
    let accepted = match (known, state.s3_accept_after) {
        (Some(k), Some(after)) => k.made.elapsed() >= after,
        _ => false,
    };
    let xml = if accepted {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>".to_string()
    } else {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>".to_string()
    };
    Reply::status(if accepted { 200 } else { 403 })
        .header("Content-Type", "application/xml")
        .body(xml)
}

fn read_request(stream: &TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
        client_left: None,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
