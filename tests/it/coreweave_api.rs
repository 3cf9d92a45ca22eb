//! The CoreWeave API client against a fake API on loopback: what is sent, how answers and
//! failures are read, how many tries each failure gets, and that no error ever shows a
//! token. The environment variables are tested through the binary, each run with its own
//! environment, so no test changes this process's environment under another.

use crate::support;

use std::time::{Duration, Instant};

use kubectl_coreweave::coreweave::{
    mint_service_account_token, whoami, ApiConfig, ApiError, DEFAULT_MAX_RETRIES, MINT_PATH,
    WHOAMI_PATH,
};
use kubectl_coreweave::secret::Token;
use support::fake_coreweave::{FakeCoreweave, Reply};
use support::{kubeconfig, path_str, stderr, stdout, Sandbox};

/// Distinctive, so a leak of any part of them is found: the middle part must never appear
/// in a message (the mask shows only the prefix and the last 4 characters).
const TOKEN: &str = "CW-SECRET-apitest-LEAKCANARY-aaaa-0001";
const OIDC: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJPSURDQ0FOQVJZIn0.c2lnbmF0dXJlLW9pZGNjYW5hcnk";
const MINTED: &str = "CW-SECRET-minted-MINTCANARY-bbbb-0002";
const CANARIES: [&str; 5] = [
    "LEAKCANARY",
    "MINTCANARY",
    "eyJzdWIiOiJPSURDQ0FOQVJZIn0",
    "c2lnbmF0dXJlLW9pZGNjYW5hcnk",
    "eyJhbGciOiJSUzI1NiJ9",
];
const ALL_TRIES: usize = DEFAULT_MAX_RETRIES as usize + 1;

/// An `expireTime` `secs` from now, as the API writes one.
fn expire_in(secs: i64) -> String {
    kubectl_coreweave::time::format_rfc3339(
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(secs),
    )
}

fn token() -> Token {
    Token::new(TOKEN)
}

fn cfg(fake: &FakeCoreweave) -> ApiConfig {
    ApiConfig::resolve(Some(&fake.url()), None).expect("loopback endpoint is valid")
}

/// Neither the message nor `Debug` holds any part of a secret.
fn assert_clean(e: &ApiError) {
    for shown in [e.to_string(), format!("{e:?}"), format!("{e:#?}")] {
        for canary in CANARIES {
            assert!(!shown.contains(canary), "secret {canary} in {shown}");
        }
    }
    assert!(!e.to_string().contains('\n'), "one line: {e}");
}

fn whoami_err(fake: &FakeCoreweave) -> ApiError {
    let e = whoami(&cfg(fake), &token()).expect_err("must fail");
    assert_clean(&e);
    e
}

#[test]
fn accepted_token_gets_its_principal_and_is_sent_as_a_bearer() {
    let fake = FakeCoreweave::start();
    fake.accept_token(TOKEN, "u-123", "o-456");
    let p = whoami(&cfg(&fake), &token()).expect("accepted");
    assert_eq!(p.uid, "u-123");
    assert_eq!(p.org_uid, "o-456");
    assert_eq!(p.groups, vec!["admins".to_string()]);
    assert_eq!(p.console_actions, vec!["tokens.read".to_string()]);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, WHOAMI_PATH);
    assert_eq!(reqs[0].authorization(), Some(&*format!("Bearer {TOKEN}")));
    assert_eq!(reqs[0].header("accept"), Some("application/json"));
    assert!(reqs[0]
        .header("user-agent")
        .is_some_and(|u| u.starts_with("kubectl-coreweave/")));
}

#[test]
fn trailing_slash_and_base_path_are_tolerated() {
    let fake = FakeCoreweave::start();
    fake.accept_token(TOKEN, "u", "o");
    let c = ApiConfig::resolve(Some(&format!("{}/", fake.url())), None).unwrap();
    whoami(&c, &token()).expect("accepted");
    let c = ApiConfig::resolve(Some(&format!("{}/gw/", fake.url())), None).unwrap();
    let _ = whoami(&c, &token());
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths[0], WHOAMI_PATH);
    assert_eq!(paths[1], format!("/gw{WHOAMI_PATH}"));
}

#[test]
fn unknown_token_is_rejected_with_401_without_retry() {
    let fake = FakeCoreweave::start();
    let e = whoami_err(&fake);
    assert!(e.is_rejection(), "{e:?}");
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.code(), Some("unauthenticated"));
    let msg = e.to_string();
    assert!(
        msg.contains("token rejected (invalid, revoked or expired)"),
        "{msg}"
    );
    assert!(
        msg.contains("401 unauthenticated: invalid or expired token"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("{}{WHOAMI_PATH}", fake.url())),
        "{msg}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn forbidden_is_a_rejection_too_and_echoed_tokens_are_masked() {
    let fake = FakeCoreweave::start();
    fake.script([Reply::connect_error(
        403,
        "permission_denied",
        &format!("token {TOKEN} expired; header was Bearer {TOKEN}"),
    )]);
    let e = whoami_err(&fake);
    assert!(e.is_rejection());
    assert_eq!(e.status(), Some(403));
    assert_eq!(e.code(), Some("permission_denied"));
    let msg = e.to_string();
    assert!(
        msg.contains("403 permission_denied: token CW-SECRET-…0001 expired"),
        "{msg}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn rejection_without_a_connect_body_gets_the_code_of_its_status() {
    let fake = FakeCoreweave::start();
    fake.script([Reply::status(401).body("go away")]);
    let e = whoami_err(&fake);
    assert!(e.is_rejection());
    assert!(e.to_string().ends_with("401 unauthenticated"), "{e}");
}

#[test]
fn not_found_is_reported_with_code_and_message_and_not_retried() {
    let fake = FakeCoreweave::start();
    fake.script([Reply::connect_error(404, "not_found", "no such route")]);
    let e = whoami_err(&fake);
    assert!(!e.is_rejection());
    assert_eq!(
        e.to_string(),
        format!(
            "{}{WHOAMI_PATH}: CoreWeave API answered 404 not_found: no such route",
            fake.url()
        )
    );
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn rate_limit_waits_for_retry_after_then_succeeds() {
    let fake = FakeCoreweave::start();
    fake.accept_token(TOKEN, "u-1", "o-1");
    fake.script([
        Reply::connect_error(429, "resource_exhausted", "slow down").header("Retry-After", "1")
    ]);
    let p = whoami(&cfg(&fake), &token()).expect("second try succeeds");
    assert_eq!(p.uid, "u-1");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    // Arrival times from the fake: the second try came at least the asked second after the
    // first was answered (the first backoff would be 200 ms). A lower bound only: a loaded
    // machine makes the gap longer, never shorter.
    let gap = reqs[1].at - reqs[0].at;
    assert!(
        gap >= Duration::from_millis(900),
        "Retry-After: 1 not honoured: {gap:?}"
    );
}

#[test]
fn rate_limit_forever_gives_up_after_bounded_tries() {
    let fake = FakeCoreweave::start();
    fake.script(
        (0..10).map(|_| {
            Reply::connect_error(429, "resource_exhausted", "x").header("Retry-After", "0")
        }),
    );
    let e = whoami_err(&fake);
    assert!(matches!(e, ApiError::RateLimited { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("rate-limited"), "{msg}");
    assert!(
        msg.contains(&format!("gave up after {ALL_TRIES} tries")),
        "{msg}"
    );
    assert_eq!(fake.requests().len(), ALL_TRIES);
}

#[test]
fn rate_limit_without_retry_after_backs_off() {
    let fake = FakeCoreweave::start();
    fake.script((0..10).map(|_| Reply::status(429)));
    let start = Instant::now();
    let e = whoami_err(&fake);
    assert!(matches!(e, ApiError::RateLimited { .. }), "{e:?}");
    assert_eq!(fake.requests().len(), ALL_TRIES);
    // 200 + 400 + 800 ms of backoff.
    assert!(
        start.elapsed() >= Duration::from_millis(1300),
        "{:?}",
        start.elapsed()
    );
}

/// Told to wait longer than `MAX_RETRY_AFTER` (10 s), the call fails at once, saying how
/// long it was asked to wait. The next answer would be a success, so a client that waited
/// and tried again would succeed: the single try is the evidence, not a clock. (11 s is
/// just over the cap and within the total wait budget, so a missing cap shows here as a
/// second try after 11 s; 1 h shows how long waits are written.)
#[test]
fn a_retry_after_beyond_the_cap_is_not_waited_for() {
    for (asked, shown) in [("11", "11s"), ("3600", "1h")] {
        let fake = FakeCoreweave::start();
        fake.accept_token(TOKEN, "u-1", "o-1");
        fake.script([Reply::status(429).header("Retry-After", asked)]);
        let e = whoami_err(&fake);
        assert!(matches!(e, ApiError::RateLimited { .. }), "{e:?}");
        assert_eq!(fake.requests().len(), 1, "Retry-After: {asked}");
        assert!(
            e.to_string().contains(&format!("it asked to wait {shown}")),
            "{e}"
        );
    }
}

#[test]
fn server_error_then_success() {
    let fake = FakeCoreweave::start();
    fake.accept_token(TOKEN, "u-1", "o-1");
    fake.script([Reply::connect_error(500, "internal", "boom")]);
    whoami(&cfg(&fake), &token()).expect("retried");
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn server_error_forever_is_bounded() {
    let fake = FakeCoreweave::start();
    fake.script((0..10).map(|_| Reply::connect_error(503, "unavailable", "down for maintenance")));
    let e = whoami_err(&fake);
    assert_eq!(e.status(), Some(503));
    let msg = e.to_string();
    assert!(
        msg.contains("CoreWeave API answered 503 unavailable: down for maintenance"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("gave up after {ALL_TRIES} tries")),
        "{msg}"
    );
    assert_eq!(fake.requests().len(), ALL_TRIES);
}

/// Every answer is held a minute, far beyond the 300 ms timeout, and would be a success:
/// a timeout error means the client gave up on each try, and the fake saw it leave.
#[test]
fn slow_answer_times_out_naming_the_timeout() {
    let fake = FakeCoreweave::start();
    fake.script((0..10).map(|_| Reply::principal("u", "o").after(Duration::from_secs(60))));
    let c = ApiConfig::resolve(Some(&fake.url()), Some("300ms")).unwrap();
    let start = Instant::now();
    let e = whoami(&c, &token()).expect_err("times out");
    let took = start.elapsed();
    assert_clean(&e);
    assert!(matches!(e, ApiError::Timeout { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("300ms"), "{msg}");
    assert!(msg.contains(WHOAMI_PATH), "{msg}");
    let reqs = fake.settled();
    assert_eq!(reqs.len(), ALL_TRIES);
    for (i, r) in reqs.iter().enumerate() {
        assert!(
            r.client_left.is_some(),
            "try {i}: the client did not leave the held answer"
        );
    }
    // Lower bound only: each try waited its 300 ms, plus 200 + 400 + 800 ms of backoff.
    assert!(
        took >= Duration::from_millis(300) * ALL_TRIES as u32 + Duration::from_millis(1400),
        "{took:?}"
    );
}

#[test]
fn dropped_connection_is_retried_then_reported() {
    let fake = FakeCoreweave::start();
    fake.accept_token(TOKEN, "u", "o");
    fake.script([Reply::hang_up()]);
    whoami(&cfg(&fake), &token()).expect("second try answers");
    assert_eq!(fake.requests().len(), 2);

    let fake = FakeCoreweave::start();
    fake.script((0..10).map(|_| Reply::hang_up()));
    let e = whoami_err(&fake);
    assert!(matches!(e, ApiError::Connection { .. }), "{e:?}");
    assert!(
        e.to_string().contains("cannot reach the CoreWeave API"),
        "{e}"
    );
    assert_eq!(fake.requests().len(), ALL_TRIES);
}

#[test]
fn nothing_listening_is_a_connection_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = ApiConfig::resolve(Some(&format!("http://127.0.0.1:{port}")), None).unwrap();
    let e = whoami(&c, &token()).expect_err("refused");
    assert_clean(&e);
    assert!(matches!(e, ApiError::Connection { .. }), "{e:?}");
    assert!(e.to_string().to_lowercase().contains("refused"), "{e}");
}

#[test]
fn a_body_that_is_not_json_or_lacks_fields_is_unexpected() {
    let fake = FakeCoreweave::start();
    fake.script([
        Reply::status(200).body("<html>hello</html>"),
        Reply::json(200, serde_json::json!({"principal": {"orgUid": "o"}})),
        Reply::json(200, serde_json::json!({"who": "me"})),
        Reply::json(200, serde_json::json!({"principal": {"uid": "u"}})),
    ]);
    let url = format!("{}{WHOAMI_PATH}", fake.url());
    for what in [
        "not JSON",
        "missing principal.uid",
        "missing principal",
        "missing principal.orgUid",
    ] {
        let e = whoami_err(&fake);
        assert_eq!(
            e.to_string(),
            format!("unexpected answer from {url} ({what})")
        );
    }
    assert_eq!(fake.requests().len(), 4, "a 2xx is never retried");
}

#[test]
fn plain_http_to_another_host_is_refused_before_any_request() {
    let fake = FakeCoreweave::start();
    // `localhost.` reaches the fake if anything is sent, but is not on the loopback list.
    for endpoint in [
        format!("http://localhost.:{}", fake.port()),
        "http://api.coreweave.com".to_string(),
        "http://10.1.2.3:8080".to_string(),
    ] {
        let e = ApiConfig::resolve(Some(&endpoint), None).expect_err("refused");
        assert!(matches!(e, ApiError::InsecureEndpoint { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("the bearer token is a secret"), "{msg}");
        assert!(msg.contains("only https is allowed"), "{msg}");
        assert!(msg.contains("127.0.0.0/8, ::1, localhost"), "{msg}");
        // Built by hand, the config is checked again by the call.
        let by_hand = ApiConfig {
            endpoint,
            ..ApiConfig::default()
        };
        let e = whoami(&by_hand, &token()).expect_err("refused");
        assert_clean(&e);
        assert!(matches!(e, ApiError::InsecureEndpoint { .. }), "{e:?}");
    }
    assert_eq!(fake.requests().len(), 0);
}

// ---- minting ----

fn mint(
    fake: &FakeCoreweave,
    path: &str,
) -> Result<kubectl_coreweave::coreweave::Minted, ApiError> {
    mint_service_account_token(
        &cfg(fake),
        path,
        &Token::new(OIDC),
        "sa-uid-42",
        Duration::from_secs(3600),
    )
}

#[test]
fn mint_sends_the_connect_request_and_reads_the_answer() {
    let fake = FakeCoreweave::start();
    fake.script([Reply::json(
        200,
        serde_json::json!({"bearerToken": MINTED, "expireTime": expire_in(3600)}),
    )]);
    let m = mint(&fake, MINT_PATH).expect("minted");
    assert_eq!(m.token.expose(), MINTED);
    assert!(m.expire_time.ends_with('Z'), "{}", m.expire_time);
    let shown = format!("{m:?}");
    assert!(!shown.contains("MINTCANARY"), "{shown}");
    assert!(shown.contains("CW-SECRET-…0002"), "{shown}");

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, MINT_PATH);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("connect-protocol-version"), Some("1"));
    assert_eq!(r.header("connect-timeout-ms"), Some("10000"));
    assert_eq!(r.authorization(), None, "the OIDC token is the credential");
    let body = r.json();
    assert_eq!(body["oidcToken"], OIDC);
    assert_eq!(body["serviceAccountUid"], "sa-uid-42");
    assert_eq!(body["durationSeconds"], 3600);
    assert_eq!(body.as_object().unwrap().len(), 3);
}

#[test]
fn mint_path_is_configurable_and_snake_case_answers_are_read() {
    let fake = FakeCoreweave::start();
    // An hour from now, written in +01:00.
    let expire = expire_in(2 * 3600).replace('Z', ".5+01:00");
    fake.script([Reply::json(
        200,
        serde_json::json!({"bearer_token": MINTED, "expire_time": expire}),
    )]);
    let m = mint(
        &fake,
        "/coreweave.directory.v1.DirectoryService/ServiceAccountOidcAuth",
    )
    .unwrap();
    assert_eq!(m.expire_time, expire);
    assert_eq!(
        fake.requests()[0].path,
        "/coreweave.directory.v1.DirectoryService/ServiceAccountOidcAuth"
    );
}

#[test]
fn mint_is_not_retried_on_server_errors_timeouts_or_lost_connections() {
    let fake = FakeCoreweave::start();
    fake.script([Reply::connect_error(
        500,
        "internal",
        &format!("bad assertion {OIDC}"),
    )]);
    let e = mint(&fake, MINT_PATH).expect_err("500");
    assert_clean(&e);
    assert_eq!(e.status(), Some(500));
    assert!(e.to_string().contains("500 internal: bad assertion"), "{e}");
    assert_eq!(fake.requests().len(), 1);

    let fake = FakeCoreweave::start();
    fake.script([Reply::status(503), Reply::status(200)]);
    let e = mint(&fake, MINT_PATH).expect_err("503");
    assert_clean(&e);
    assert_eq!(fake.requests().len(), 1);

    let fake = FakeCoreweave::start();
    fake.script([Reply::hang_up(), Reply::status(200)]);
    let e = mint(&fake, MINT_PATH).expect_err("hang up");
    assert_clean(&e);
    assert!(matches!(e, ApiError::Connection { .. }), "{e:?}");
    assert_eq!(fake.requests().len(), 1);

    let fake = FakeCoreweave::start();
    fake.script([Reply::status(200).after(Duration::from_secs(60))]);
    let c = ApiConfig::resolve(Some(&fake.url()), Some("300ms")).unwrap();
    let e = mint_service_account_token(
        &c,
        MINT_PATH,
        &Token::new(OIDC),
        "sa",
        Duration::from_secs(60),
    )
    .expect_err("timeout");
    assert_clean(&e);
    assert!(matches!(e, ApiError::Timeout { .. }), "{e:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn mint_retries_a_429_only_when_told_when() {
    let fake = FakeCoreweave::start();
    fake.script([
        Reply::status(429).header("Retry-After", "0"),
        Reply::json(
            200,
            serde_json::json!({"bearerToken": MINTED, "expireTime": expire_in(3600)}),
        ),
    ]);
    mint(&fake, MINT_PATH).expect("second try");
    assert_eq!(fake.requests().len(), 2);

    let fake = FakeCoreweave::start();
    fake.script([Reply::status(429), Reply::status(200)]);
    let e = mint(&fake, MINT_PATH).expect_err("no Retry-After");
    assert_clean(&e);
    assert!(matches!(e, ApiError::RateLimited { .. }), "{e:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn mint_answers_without_a_token_or_time_are_unexpected_and_leak_nothing() {
    let fake = FakeCoreweave::start();
    fake.script([
        Reply::json(
            200,
            serde_json::json!({"expireTime": "2030-01-01T00:00:00Z"}),
        ),
        Reply::json(200, serde_json::json!({"bearerToken": MINTED})),
        Reply::json(
            200,
            serde_json::json!({"bearerToken": MINTED, "expireTime": format!("soon {MINTED}")}),
        ),
        Reply::status(200).body(format!("{{\"bearerToken\": \"{MINTED}\"")),
    ]);
    for what in [
        "missing bearerToken",
        "missing expireTime",
        "is not an RFC 3339 time",
        "not JSON",
    ] {
        let e = mint(&fake, MINT_PATH).expect_err(what);
        assert_clean(&e);
        assert!(e.to_string().contains(what), "{e}");
        assert!(e.to_string().starts_with("unexpected answer from "), "{e}");
    }
}

// ---- the environment, through the binary ----

fn sandbox_with_token() -> (Sandbox, String) {
    let sb = Sandbox::new();
    let k = sb.write(
        "config",
        kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", TOKEN)]),
    );
    let k = path_str(&k).to_string();
    (sb, k)
}

#[test]
fn environment_names_the_endpoint_and_the_timeout() {
    let fake = FakeCoreweave::start();
    fake.accept_token(TOKEN, "u-env", "o-env");
    let (sb, k) = sandbox_with_token();

    let o = sb
        .cmd(Some(&k))
        .env("COREWEAVE_API_ENDPOINT", fake.url())
        .args(["token", "show", "--check"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("accepted (principal u-env, org o-env)"),
        "{}",
        stdout(&o)
    );
    assert_eq!(fake.requests().len(), 1);

    // The flag wins over the variable (which points at nothing).
    let o = sb
        .cmd(Some(&k))
        .env("COREWEAVE_API_ENDPOINT", "http://127.0.0.1:9")
        .args(["token", "show", "--check", "--api-endpoint", &fake.url()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fake.requests().len(), 2);

    let slow = FakeCoreweave::start();
    slow.script((0..10).map(|_| Reply::principal("u", "o").after(Duration::from_secs(60))));
    let o = sb
        .cmd(Some(&k))
        .env("COREWEAVE_API_ENDPOINT", slow.url())
        .env("COREWEAVE_HTTP_TIMEOUT", "300ms")
        .args(["token", "show", "--check"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(
        err.contains("no answer within the 300ms request timeout"),
        "{err}"
    );
    assert!(!err.contains(TOKEN) && !err.contains("LEAKCANARY"), "{err}");
    assert_eq!(slow.requests().len(), ALL_TRIES);

    // --request-timeout wins over the variable.
    let o = sb
        .cmd(Some(&k))
        .env("COREWEAVE_API_ENDPOINT", fake.url())
        .env("COREWEAVE_HTTP_TIMEOUT", "not-a-duration")
        .args(["token", "show", "--check", "--request-timeout", "5s"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_environment_values_fail_before_anything_is_sent() {
    let fake = FakeCoreweave::start();
    let (sb, k) = sandbox_with_token();
    for (var, value, needle) in [
        (
            "COREWEAVE_HTTP_TIMEOUT",
            "soon",
            "invalid request timeout \"soon\" (from COREWEAVE_HTTP_TIMEOUT)",
        ),
        (
            "COREWEAVE_API_ENDPOINT",
            "http://api.coreweave.com",
            "only https is allowed",
        ),
        (
            "COREWEAVE_API_ENDPOINT",
            "api.coreweave.com",
            "from COREWEAVE_API_ENDPOINT",
        ),
    ] {
        let mut cmd = sb.cmd(Some(&k));
        cmd.env(var, value).args(["token", "show", "--check"]);
        if var != "COREWEAVE_API_ENDPOINT" {
            cmd.env("COREWEAVE_API_ENDPOINT", fake.url());
        }
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{var}={value}");
        assert_eq!(stdout(&o), "");
        assert!(stderr(&o).contains(needle), "{var}={value}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
    assert_eq!(fake.requests().len(), 0);
}

/// A certificate the client does not trust will not be trusted on the next try: one
/// connection, no retry. (The fake Kubernetes API's certificate comes from a test CA.)
#[test]
fn certificate_errors_are_not_retried() {
    let tls = support::fake_kube::FakeKube::start(&[]);
    let cfg = ApiConfig::resolve(Some(&tls.url()), Some("5s")).expect("https endpoint");
    let e = whoami(&cfg, &token()).expect_err("untrusted certificate");
    assert_clean(&e);
    assert!(matches!(e, ApiError::Connection { tries: 1, .. }), "{e:?}");
    assert!(e.to_string().contains("certificate"), "{e}");
    assert_eq!(tls.connections(), 1, "{e}");
}

/// A proxy in the environment that the client cannot use (a scheme it does not speak)
/// fails at once: retrying cannot change the environment. (`socks5://` was this test's
/// example while reqwest, built without SOCKS, was the API's client. The network layer's
/// connector speaks SOCKS5 as kubectl does, and Go reads any other value as `http://` +
/// value, so what cannot be used is a proxy URL that does not parse.)
#[test]
fn an_unusable_proxy_is_not_retried() {
    let sb = Sandbox::new();
    let k = sb.write(
        "config",
        kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", TOKEN)]),
    );
    let o = sb
        .cmd(Some(path_str(&k)))
        .env("HTTPS_PROXY", "http://user:hunter2@127.0.0.1:notaport")
        .args([
            "token",
            "show",
            "--check",
            // A reserved name (RFC 6761): never resolved, the proxy fails first.
            "--api-endpoint",
            "https://api.example.test",
        ])
        .output()
        .expect("run plugin");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("HTTPS_PROXY \"http://127.0.0.1:notaport\" is not a URL"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!err.contains("gave up after"), "retried: {err}");
}

/// The CoreWeave API calls go through the environment's `HTTPS_PROXY` exactly as kubectl
/// sends a cluster's requests (the network layer's one proxy rule): through it for a
/// named host; not for a loopback address, nor for a host `NO_PROXY`
/// names. The API is a TLS server on loopback whose certificate names a host only the
/// proxy resolves, trusted through `SSL_CERT_FILE` (the platform verifier's roots on
/// Linux), so a call that went through the proxy reaches it (and is refused: the fake
/// knows no user), with the bearer token arriving there and nowhere else.
#[test]
fn the_api_goes_through_https_proxy_as_kubectl_would() {
    use support::fake_kube::{ConnectProxy, FakeKube, FakeKubeOptions};
    const NAME: &str = "api.proxied.test";
    let api = FakeKube::start_with(&[], FakeKubeOptions::with_extra_name(NAME));
    let port = api.addr.port();
    let sb = Sandbox::new();
    let ca = sb.write("ca.pem", &api.ca.pem);
    let k = sb.write(
        "config",
        kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", TOKEN)]),
    );
    let check = |endpoint: &str, env: &[(&str, &str)]| {
        let mut cmd = sb.cmd(Some(path_str(&k)));
        cmd.env("SSL_CERT_FILE", &ca)
            .args(["token", "show", "--check", "--request-timeout", "5s"])
            .args(["--api-endpoint", endpoint]);
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd.output().expect("run plugin")
    };
    let by_name = format!("https://{NAME}:{port}");
    let proxy = ConnectProxy::start_resolving(NAME);
    let o = check(&by_name, &[("HTTPS_PROXY", &proxy.url())]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("token rejected"), "{}", stderr(&o));
    assert_eq!(proxy.targets(), [format!("{NAME}:{port}")]);
    let seen = api.requests_with(TOKEN);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/v1beta1/auth/whoami");
    assert_eq!(seen[0].sni.as_deref(), Some(NAME));

    // A loopback address never goes through a proxy; it answers directly.
    let o = check(&api.url(), &[("HTTPS_PROXY", &proxy.url())]);
    assert!(stderr(&o).contains("token rejected"), "{}", stderr(&o));
    assert_eq!(proxy.targets().len(), 1);
    assert_eq!(api.requests_with(TOKEN).len(), 2);

    // NO_PROXY naming the domain: direct, where the name does not resolve.
    let o = check(
        &by_name,
        &[("HTTPS_PROXY", &proxy.url()), ("NO_PROXY", "proxied.test")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
    assert_eq!(proxy.targets().len(), 1);
    assert_eq!(api.requests_with(TOKEN).len(), 2);
}
