//! The cluster check (`kubectl_coreweave::cluster`) against a fake API server on
//! loopback, with the real `kubectl auth whoami` as the oracle that keeps the fake honest.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kubectl_coreweave::cluster::{
    self, CaSource, ClusterError, ClusterTarget, ReviewOutcome, UserInfo,
};
use kubectl_coreweave::kubeconfig::Kubeconfig;
use kubectl_coreweave::secret::Token;
use support::fake_kube::{
    base64_encode, closed_port_url, write_kubeconfig, ClusterSpec, ConnectProxy, FakeKube,
    FakeKubeOptions, FakeUser, HeldEnd, SilentServer, TestCa, Trust,
};
use support::Sandbox;

const ALICE: &str = "CW-SECRET-clustertest-alice-0123456789abcdef";
const UNKNOWN: &str = "CW-SECRET-clustertest-nobody-fedcba987654321";
const TIMEOUT: Duration = Duration::from_secs(10);

fn alice_fake() -> FakeKube {
    FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))])
}

fn alice_fake_with(options: FakeKubeOptions) -> FakeKube {
    FakeKube::start_with(&[(ALICE, FakeUser::new("alice@example.com"))], options)
}

/// Load `kubeconfig` as the plugin does and check `contexts` with `token`.
fn check(
    kubeconfig: &Path,
    contexts: &[&str],
    token: &str,
    timeout: Duration,
) -> Vec<ReviewOutcome> {
    let targets = targets(kubeconfig, contexts);
    let out = cluster::verify(&targets, &Token::new(token), timeout);
    assert_eq!(out.len(), contexts.len());
    for (o, c) in out.iter().zip(contexts) {
        assert_eq!(&o.context, c, "outcomes come back in the targets' order");
        assert_no_secret(o);
    }
    out
}

fn targets(kubeconfig: &Path, contexts: &[&str]) -> Vec<ClusterTarget> {
    let kc = Kubeconfig::load(&[kubeconfig.to_path_buf()], true).expect("load kubeconfig");
    let names: Vec<String> = contexts.iter().map(|c| c.to_string()).collect();
    cluster::cluster_targets(&kc, &names).expect("cluster targets")
}

/// Neither Display nor Debug of an outcome shows any part of a token's secret.
fn assert_no_secret(o: &ReviewOutcome) {
    let mut shown = format!("{o:?}");
    if let Err(e) = &o.result {
        shown.push_str(&e.to_string());
    }
    for t in [ALICE, UNKNOWN] {
        let secret = t.strip_prefix("CW-SECRET-").unwrap();
        assert!(!shown.contains(secret), "token leaked: {shown}");
    }
}

fn ok(o: &ReviewOutcome) -> &UserInfo {
    match &o.result {
        Ok(u) => u,
        Err(e) => panic!("context {}: expected success, got {e} ({e:?})", o.context),
    }
}

fn err(o: &ReviewOutcome) -> &ClusterError {
    match &o.result {
        Err(e) => e,
        Ok(u) => panic!("context {}: expected an error, got {u:?}", o.context),
    }
}

/// One cluster, one context `ctx`, one user holding `token`.
fn single(sb: &Sandbox, file: &str, spec: ClusterSpec, token: &str) -> std::path::PathBuf {
    let name = spec.name;
    write_kubeconfig(
        &sb.path(file),
        &[spec],
        &[("ctx", name, "u")],
        &[("u", token)],
    )
}

/// `kubectl auth whoami -o json` with HOME and KUBECONFIG sealed: (success, username, stderr).
fn kubectl_whoami(sb: &Sandbox, kubeconfig: &Path) -> (bool, Option<String>, String) {
    let o = Command::new("/usr/bin/kubectl")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.path("home"))
        .env("KUBECONFIG", kubeconfig)
        .args(["auth", "whoami", "-o", "json", "--request-timeout=10s"])
        .output()
        .expect("/usr/bin/kubectl must exist: .ci/run installs it (Debian's kubernetes-client)");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let user = v["status"]["userInfo"]["username"]
        .as_str()
        .map(str::to_string);
    (
        o.status.success(),
        user,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------

/// The real kubectl and `verify` agree on a known and an unknown token, on the user, and
/// on what the fake saw; the fake answers everything kubectl asks.
#[test]
fn kubectl_auth_whoami_agrees_with_verify() {
    let fake = alice_fake();
    let sb = Sandbox::new();
    for (token, known) in [(ALICE, true), (UNKNOWN, false)] {
        let file = format!("{}.yaml", if known { "known" } else { "unknown" });
        let k = single(
            &sb,
            &file,
            ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
            token,
        );
        let before = fake.requests().len();
        let (kubectl_ok, kubectl_user, stderr) = kubectl_whoami(&sb, &k);
        let kubectl_requests: Vec<_> = fake.requests()[before..].to_vec();
        let out = check(&k, &["ctx"], token, TIMEOUT);
        assert_eq!(
            kubectl_ok,
            out[0].result.is_ok(),
            "kubectl and verify disagree for the {} token; kubectl: {stderr}; verify: {:?}; \
             kubectl sent {kubectl_requests:?}",
            if known { "known" } else { "unknown" },
            out[0].result
        );
        // Whatever kubectl asked, the fake answered it as a cluster would (nothing 404).
        assert!(
            kubectl_requests.iter().any(|r| r.method == "POST"
                && r.path == "/apis/authentication.k8s.io/v1/selfsubjectreviews"),
            "{kubectl_requests:?}"
        );
        assert!(
            kubectl_requests.iter().all(|r| r.status != 404),
            "kubectl asked for something the fake does not serve: {kubectl_requests:?}"
        );
        if known {
            let u = ok(&out[0]);
            assert_eq!(
                kubectl_user.as_deref(),
                Some("alice@example.com"),
                "{stderr}"
            );
            assert_eq!(u.username, "alice@example.com");
            assert_eq!(u.uid.as_deref(), Some("uid-alice@example.com"));
            assert_eq!(u.groups, ["system:authenticated", "cw:org-admins"]);
        } else {
            assert!(stderr.contains("Unauthorized"), "{stderr}");
            match err(&out[0]) {
                ClusterError::Rejected { status, .. } => assert_eq!(*status, 401),
                e => panic!("expected a rejection, got {e:?}"),
            }
            let shown = err(&out[0]).to_string();
            assert_eq!(
                shown,
                format!(
                    "cluster {} rejected the token (401 Unauthorized)",
                    fake.url()
                )
            );
        }
        // verify sent exactly one review, with the token it was given.
        let mine: Vec<_> = fake.requests()[before + kubectl_requests.len()..].to_vec();
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(
            mine[0].path,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews"
        );
        assert_eq!(mine[0].bearer.as_deref(), Some(token));
        let body: serde_json::Value = serde_json::from_str(&mine[0].body).unwrap();
        assert_eq!(body["kind"], "SelfSubjectReview");
        assert_eq!(body["apiVersion"], "authentication.k8s.io/v1");
    }
}

/// A cluster from before 1.28 serves the review only as v1beta1: kubectl falls back to
/// it, and so does verify.
#[test]
fn old_cluster_without_v1_falls_back_like_kubectl() {
    let fake = alice_fake_with(FakeKubeOptions {
        review_versions: vec!["v1beta1"],
        ..FakeKubeOptions::default()
    });
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
        ALICE,
    );
    let (kubectl_ok, kubectl_user, stderr) = kubectl_whoami(&sb, &k);
    assert!(kubectl_ok, "{stderr}");
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    assert_eq!(Some(ok(&out[0]).username.clone()), kubectl_user);
    let paths: Vec<_> = fake
        .requests_with(ALICE)
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(
        paths.ends_with(&[
            "/apis/authentication.k8s.io/v1/selfsubjectreviews".to_string(),
            "/apis/authentication.k8s.io/v1beta1/selfsubjectreviews".to_string(),
        ]),
        "{paths:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Trust: certificate authority, insecure, server name
// ---------------------------------------------------------------------------------------

#[test]
fn ca_from_certificate_authority_data() {
    let fake = alice_fake();
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
        ALICE,
    );
    let t = targets(&k, &["ctx"]);
    assert_eq!(t[0].ca, CaSource::Data(fake.ca.data()));
    assert_eq!(t[0].server, fake.url());
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    assert_eq!(ok(&out[0]).username, "alice@example.com");
}

/// `certificate-authority: certs/ca.pem` is relative to the kubeconfig's folder, not to the
/// working directory (which is the crate's root while tests run).
#[test]
fn ca_from_a_relative_certificate_authority_path() {
    let fake = alice_fake();
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "nested/dir/config",
        ClusterSpec::new(
            "c",
            fake.url(),
            Trust::File {
                rel: "certs/ca.pem",
                pem: &fake.ca.pem,
            },
        ),
        ALICE,
    );
    assert!(!Path::new("certs/ca.pem").exists());
    let t = targets(&k, &["ctx"]);
    assert_eq!(t[0].ca, CaSource::File(sb.path("nested/dir/certs/ca.pem")));
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    assert_eq!(ok(&out[0]).username, "alice@example.com");
    // kubectl reads the same file the same way.
    let (kubectl_ok, _, stderr) = kubectl_whoami(&sb, &k);
    assert!(kubectl_ok, "{stderr}");
}

/// A CA file that is missing is a configuration error naming the resolved path; nothing
/// is sent.
#[test]
fn missing_ca_file_is_a_config_error() {
    let fake = alice_fake();
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::System),
        ALICE,
    );
    let text = std::fs::read_to_string(&k).unwrap().replace(
        &format!("server: {}\n", fake.url()),
        &format!(
            "server: {}\n    certificate-authority: gone.pem\n",
            fake.url()
        ),
    );
    std::fs::write(&k, text).unwrap();
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    let e = err(&out[0]);
    assert!(matches!(e, ClusterError::Config { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains(&*sb.path("gone.pem").to_string_lossy()),
        "{e}"
    );
    assert!(fake.requests().is_empty());
}

#[test]
fn insecure_skip_tls_verify_without_ca() {
    let fake = alice_fake();
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::Insecure),
        ALICE,
    );
    let t = targets(&k, &["ctx"]);
    assert!(t[0].insecure_skip_tls_verify);
    assert_eq!(t[0].ca, CaSource::System);
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    assert_eq!(ok(&out[0]).username, "alice@example.com");
}

/// kubectl refuses a cluster that has both a CA and insecure-skip-tls-verify; so does
/// verify, before sending anything.
#[test]
fn insecure_together_with_a_ca_is_refused_like_kubectl() {
    let fake = alice_fake();
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
        ALICE,
    );
    let text = std::fs::read_to_string(&k).unwrap().replace(
        "    certificate-authority-data:",
        "    insecure-skip-tls-verify: true\n    certificate-authority-data:",
    );
    std::fs::write(&k, text).unwrap();
    let (kubectl_ok, _, stderr) = kubectl_whoami(&sb, &k);
    assert!(!kubectl_ok, "kubectl accepted CA + insecure");
    assert!(stderr.contains("insecure"), "{stderr}");
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    let e = err(&out[0]);
    assert!(matches!(e, ClusterError::Config { .. }), "{e:?}");
    assert!(e.to_string().contains("insecure-skip-tls-verify"), "{e}");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

/// A CA that did not sign the server's certificate: a TLS error, not a rejection, and the
/// token never reached the server.
#[test]
fn wrong_ca_is_a_tls_error() {
    let fake = alice_fake();
    let other = TestCa::new("some other CA");
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::Data(&other.pem)),
        ALICE,
    );
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    let e = err(&out[0]);
    assert!(matches!(e, ClusterError::Tls { .. }), "{e:?}");
    let shown = e.to_string();
    assert!(shown.contains(&fake.url()), "{shown}");
    assert!(shown.contains("certificate-authority-data"), "{shown}");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    let (kubectl_ok, _, stderr) = kubectl_whoami(&sb, &k);
    assert!(!kubectl_ok && stderr.contains("certificate"), "{stderr}");
}

/// No CA in the entry: the system's roots, which do not include the test's CA.
#[test]
fn no_ca_means_system_roots() {
    let fake = alice_fake();
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::System),
        ALICE,
    );
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    let e = err(&out[0]);
    assert!(matches!(e, ClusterError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("system"), "{e}");
    assert!(fake.requests().is_empty());
}

/// The certificate names only `kube.cluster.test`; the server URL is the IP. With
/// `tls-server-name` the name is verified (and sent as SNI); without it the handshake fails.
#[test]
fn tls_server_name_verifies_a_name_the_url_lacks() {
    let name = "kube.cluster.test";
    let fake = alice_fake_with(FakeKubeOptions::only_name(name));
    let sb = Sandbox::new();
    let mut with = ClusterSpec::new("named", fake.url(), Trust::Data(&fake.ca.pem));
    with.tls_server_name = Some(name);
    let without = ClusterSpec::new("plain", fake.url(), Trust::Data(&fake.ca.pem));
    let k = write_kubeconfig(
        &sb.path("config"),
        &[with, without],
        &[("named", "named", "u"), ("plain", "plain", "u")],
        &[("u", ALICE)],
    );
    let t = targets(&k, &["named"]);
    assert_eq!(t[0].tls_server_name.as_deref(), Some(name));
    let out = check(&k, &["named", "plain"], ALICE, TIMEOUT);
    assert_eq!(ok(&out[0]).username, "alice@example.com");
    let e = err(&out[1]);
    assert!(matches!(e, ClusterError::Tls { .. }), "{e:?}");
    let seen = fake.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].sni.as_deref(), Some(name));
    // kubectl agrees on both.
    let (kubectl_ok, _, stderr) = kubectl_whoami(&sb, &k);
    assert!(kubectl_ok, "{stderr}");
}

/// The extra-name certificate still covers the IP: tls-server-name set to the extra name
/// is verified against it too (the helper for a cert with both is honest).
#[test]
fn tls_server_name_with_a_certificate_for_ip_and_name() {
    let fake = alice_fake_with(FakeKubeOptions::with_extra_name("api.extra.test"));
    let sb = Sandbox::new();
    let mut spec = ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem));
    spec.tls_server_name = Some("api.extra.test");
    let k = single(&sb, "config", spec, ALICE);
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    assert_eq!(ok(&out[0]).username, "alice@example.com");
    assert_eq!(fake.requests()[0].sni.as_deref(), Some("api.extra.test"));
    let mut wrong = ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem));
    wrong.tls_server_name = Some("not-in-the-cert.test");
    let k = single(&sb, "wrong", wrong, ALICE);
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    assert!(
        matches!(err(&out[0]), ClusterError::Tls { .. }),
        "{:?}",
        out[0]
    );
}

// ---------------------------------------------------------------------------------------
// Network failures
// ---------------------------------------------------------------------------------------

/// A refused connection fails at once instead of waiting out the timeout. No clock is
/// needed to see it: `verify` turns every check still running at its timeout into a
/// `Timeout`, so a `Connect` error with a 10 s timeout can only come from a check that
/// ended before it.
#[test]
fn server_not_listening_is_a_connect_error() {
    let sb = Sandbox::new();
    let url = closed_port_url();
    let ca = TestCa::new("unused");
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", url.clone(), Trust::Data(&ca.pem)),
        ALICE,
    );
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    let e = err(&out[0]);
    assert!(matches!(e, ClusterError::Connect { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("cannot connect to cluster {url}")),
        "{e}"
    );
}

/// The server holds the connection for a minute, far beyond the 0.7 s timeout, and then
/// closes it (which would be a connection error, not a timeout): a `Timeout` can only
/// mean that the client gave up, and the server saw the client close its one connection.
#[test]
fn a_server_that_never_answers_times_out_within_the_timeout() {
    let silent = SilentServer::holding(Duration::from_secs(60));
    let sb = Sandbox::new();
    let ca = TestCa::new("unused");
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", silent.url(), Trust::Data(&ca.pem)),
        ALICE,
    );
    let timeout = Duration::from_millis(700);
    let started = Instant::now();
    let out = check(&k, &["ctx"], ALICE, timeout);
    let took = started.elapsed();
    let e = err(&out[0]);
    assert_eq!(
        e,
        &ClusterError::Timeout {
            server: silent.url(),
            timeout
        }
    );
    assert_eq!(
        e.to_string(),
        format!("cluster {} did not answer within 0.7s", silent.url())
    );
    // A lower bound only: a loaded machine makes it longer, never shorter.
    assert!(took >= timeout, "{took:?}");
    let conns = silent.wait_all_ended();
    assert_eq!(conns.len(), 1, "one connection, no second try: {conns:?}");
    assert_eq!(
        conns[0].ended.map(|(_, by)| by),
        Some(HeldEnd::ByClient),
        "the client did not close its connection before the server's hold ran out: {conns:?}"
    );
}

/// Reviews run concurrently. Four silent clusters hold their connection until all four are
/// open at the same moment, then close them: checked one after the other, the first would
/// wait out the (10 s) timeout alone and no cluster would ever be released.
#[test]
fn slow_clusters_are_checked_concurrently() {
    let silent = SilentServer::released_together(4);
    let ca = TestCa::new("unused");
    let sb = Sandbox::new();
    let names = ["s0", "s1", "s2", "s3"];
    let specs: Vec<_> = silent
        .iter()
        .zip(names)
        .map(|(s, n)| ClusterSpec::new(n, s.url(), Trust::Data(&ca.pem)))
        .collect();
    let contexts: Vec<_> = names.iter().map(|n| (*n, *n, "u")).collect();
    let k = write_kubeconfig(&sb.path("config"), &specs, &contexts, &[("u", ALICE)]);
    let out = check(&k, &names, ALICE, TIMEOUT);
    let conns = silent[0].wait_all_ended();
    assert_eq!(
        silent[0].max_open(),
        4,
        "the four checks were never waiting at the same time: {conns:?}"
    );
    for (o, s) in out.iter().zip(&silent) {
        let e = err(o);
        assert!(
            !matches!(e, ClusterError::Timeout { .. }),
            "{}: waited out its timeout: {e:?}",
            o.context
        );
        assert!(e.to_string().contains(&s.url()), "{e}");
        assert!(
            conns.iter().any(|c| c.server == s.addr),
            "{} never reached {}",
            o.context,
            s.url()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------

/// CoreWeave answers an expired token with 403: a rejection, with the server's message.
#[test]
fn forbidden_is_a_rejection_with_the_message() {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "token expired", "reason": "Forbidden", "code": 403,
    })
    .to_string();
    let fake = alice_fake_with(FakeKubeOptions {
        canned: Some((403, body)),
        ..FakeKubeOptions::default()
    });
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
        ALICE,
    );
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    let e = err(&out[0]);
    assert_eq!(
        e.to_string(),
        format!(
            "cluster {} rejected the token (403 Forbidden): token expired",
            fake.url()
        )
    );
    let (kubectl_ok, _, _) = kubectl_whoami(&sb, &k);
    assert!(!kubectl_ok);
}

/// A 500, or a body that is not a review, is neither success nor rejection; an echo of
/// the token in the server's message is masked.
#[test]
fn other_answers_are_unexpected_and_masked() {
    let body = format!("<html>upstream broke on Bearer {ALICE}</html>");
    let fake = alice_fake_with(FakeKubeOptions {
        canned: Some((500, body)),
        ..FakeKubeOptions::default()
    });
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
        ALICE,
    );
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    let e = err(&out[0]);
    assert!(matches!(e, ClusterError::Unexpected { .. }), "{e:?}");
    let shown = e.to_string();
    assert!(shown.contains("500"), "{shown}");
    assert!(shown.contains("CW-SECRET-…cdef"), "{shown}");

    let fake = alice_fake_with(FakeKubeOptions {
        canned: Some((201, "not json".into())),
        ..FakeKubeOptions::default()
    });
    let k = single(
        &sb,
        "json",
        ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
        ALICE,
    );
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    assert!(
        matches!(err(&out[0]), ClusterError::Unexpected { .. }),
        "{:?}",
        out[0]
    );
}

/// Several contexts in one call: success, two contexts on one cluster, rejection (another
/// cluster does not know the token), TLS, connection; each outcome in order.
#[test]
fn several_contexts_with_mixed_outcomes() {
    let a = alice_fake();
    let b = FakeKube::start(&[(UNKNOWN, FakeUser::new("someone-else"))]);
    let sb = Sandbox::new();
    let wrong = TestCa::new("wrong");
    let closed = closed_port_url();
    let k = write_kubeconfig(
        &sb.path("config"),
        &[
            ClusterSpec::new("a", a.url(), Trust::Data(&a.ca.pem)),
            ClusterSpec::new("b", b.url(), Trust::Data(&b.ca.pem)),
            ClusterSpec::new("tls", a.url(), Trust::Data(&wrong.pem)),
            ClusterSpec::new("down", closed.clone(), Trust::Data(&a.ca.pem)),
        ],
        &[
            ("prod", "a", "u"),
            ("prod-too", "a", "u"),
            ("other-org", "b", "u"),
            ("bad-ca", "tls", "u"),
            ("down", "down", "u"),
        ],
        &[("u", ALICE)],
    );
    let contexts = ["prod", "other-org", "bad-ca", "down", "prod-too"];
    let out = check(&k, &contexts, ALICE, TIMEOUT);
    assert_eq!(ok(&out[0]).username, "alice@example.com");
    assert!(
        matches!(err(&out[1]), ClusterError::Rejected { status: 401, server, .. } if *server == b.url()),
        "{:?}",
        out[1]
    );
    assert!(
        matches!(err(&out[2]), ClusterError::Tls { .. }),
        "{:?}",
        out[2]
    );
    assert!(
        matches!(err(&out[3]), ClusterError::Connect { server, .. } if *server == closed),
        "{:?}",
        out[3]
    );
    assert_eq!(ok(&out[4]).username, "alice@example.com");
    assert_eq!(a.requests_with(ALICE).len(), 2);
    assert_eq!(b.requests_with(ALICE).len(), 1);
}

// ---------------------------------------------------------------------------------------
// Proxy
// ---------------------------------------------------------------------------------------

/// The password put in every proxy-url below; no outcome may show it.
const PROXY_PASSWORD: &str = "proxy-pw-hunter2";

/// `url` with a user and [`PROXY_PASSWORD`] in it.
fn with_credentials(url: &str) -> String {
    url.replacen("://", &format!("://proxy-user:{PROXY_PASSWORD}@"), 1)
}

fn assert_no_proxy_password(out: &[ReviewOutcome]) {
    for o in out {
        let mut shown = format!("{o:?}");
        if let Err(e) = &o.result {
            shown.push_str(&e.to_string());
        }
        assert!(
            !shown.contains(PROXY_PASSWORD),
            "proxy password shown: {shown}"
        );
    }
}

/// Through `proxy` (a proxy-url with a user and password): verify accepts the known token
/// and reports the unknown one as rejected by the cluster, kubectl agrees on both through
/// the same proxy, and every connection of either went through the proxy to the fake.
/// Returns the index in `proxy`'s records of each of verify's own connections.
fn verify_and_kubectl_agree_through(proxy: &ConnectProxy) -> Vec<usize> {
    let fake = alice_fake();
    let sb = Sandbox::new();
    let proxy_url = with_credentials(&proxy.url());
    let mut mine = Vec::new();
    for (token, known) in [(ALICE, true), (UNKNOWN, false)] {
        let mut spec = ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem));
        spec.proxy_url = Some(proxy_url.clone());
        let k = single(&sb, if known { "known" } else { "unknown" }, spec, token);
        assert_eq!(
            targets(&k, &["ctx"])[0].proxy_url.as_deref(),
            Some(proxy_url.as_str())
        );

        let through_before = proxy.targets().len();
        let seen_before = fake.requests_with(token).len();
        let out = check(&k, &["ctx"], token, TIMEOUT);
        assert_no_proxy_password(&out);
        if known {
            assert_eq!(ok(&out[0]).username, "alice@example.com");
        } else {
            match err(&out[0]) {
                ClusterError::Rejected { status, server, .. } => {
                    assert_eq!(*status, 401);
                    assert_eq!(*server, fake.url());
                }
                e => panic!("expected a rejection, got {e:?}"),
            }
        }
        // One review, over one connection, which the proxy opened to the fake: the fake's
        // review came through the tunnel, not past it.
        assert_eq!(
            proxy.targets()[through_before..],
            [fake.addr.to_string()],
            "verify's connection through the proxy"
        );
        assert_eq!(fake.requests_with(token).len(), seen_before + 1);
        mine.push(through_before);

        let (kubectl_ok, kubectl_user, stderr) = kubectl_whoami(&sb, &k);
        assert_eq!(
            kubectl_ok,
            out[0].result.is_ok(),
            "kubectl and verify disagree through {}; kubectl: {stderr}; verify: {:?}",
            proxy.url(),
            out[0].result
        );
        if known {
            assert_eq!(
                kubectl_user.as_deref(),
                Some("alice@example.com"),
                "{stderr}"
            );
        } else {
            assert!(stderr.contains("Unauthorized"), "{stderr}");
        }
        let kubectl_through = proxy.targets()[through_before + 1..].to_vec();
        assert!(
            !kubectl_through.is_empty()
                && kubectl_through.iter().all(|t| *t == fake.addr.to_string()),
            "kubectl's connections through the proxy: {kubectl_through:?}"
        );
    }
    mine
}

/// `proxy-url: http://…` tunnels through the proxy with CONNECT, as kubectl does, sending
/// the proxy-url's user and password as `Proxy-Authorization`.
#[test]
fn proxy_url_goes_through_an_http_connect_proxy() {
    let proxy = ConnectProxy::start();
    let mine = verify_and_kubectl_agree_through(&proxy);
    let basic = format!(
        "Basic {}",
        base64_encode(format!("proxy-user:{PROXY_PASSWORD}").as_bytes())
    );
    let sent = proxy.authorizations();
    for i in mine {
        assert_eq!(sent[i].as_deref(), Some(basic.as_str()), "{sent:?}");
    }
}

/// `proxy-url: socks5://…` as well, as kubectl does.
#[test]
fn proxy_url_goes_through_a_socks5_proxy() {
    let proxy = ConnectProxy::start_socks5();
    assert!(proxy.url().starts_with("socks5://"));
    let mine = verify_and_kubectl_agree_through(&proxy);
    assert_eq!(mine.len(), 2);
}

/// A proxy that is not there is a connection error of the context behind it, naming the
/// cluster and the proxy (without its password); nothing reaches the cluster through it,
/// and a context without the proxy is unaffected. kubectl fails there too.
#[test]
fn a_dead_proxy_is_a_connection_error_of_its_context() {
    let fake = alice_fake();
    let sb = Sandbox::new();
    let dead_http = closed_port_url().replace("https://", "http://");
    let dead_socks = closed_port_url().replace("https://", "socks5://");
    let mut via_http = ClusterSpec::new("via-http", fake.url(), Trust::Data(&fake.ca.pem));
    via_http.proxy_url = Some(with_credentials(&dead_http));
    let mut via_socks = ClusterSpec::new("via-socks", fake.url(), Trust::Data(&fake.ca.pem));
    via_socks.proxy_url = Some(with_credentials(&dead_socks));
    let k = write_kubeconfig(
        &sb.path("config"),
        &[
            via_http,
            via_socks,
            ClusterSpec::new("direct", fake.url(), Trust::Data(&fake.ca.pem)),
        ],
        &[
            ("behind-http-proxy", "via-http", "u"),
            ("behind-socks-proxy", "via-socks", "u"),
            ("direct", "direct", "u"),
        ],
        &[("u", ALICE)],
    );
    let contexts = ["behind-http-proxy", "behind-socks-proxy", "direct"];
    let out = check(&k, &contexts, ALICE, TIMEOUT);
    assert_no_proxy_password(&out);
    for (o, (context, proxy)) in out.iter().zip([
        ("behind-http-proxy", &dead_http),
        ("behind-socks-proxy", &dead_socks),
    ]) {
        assert_eq!(o.context, context);
        let e = err(o);
        assert!(
            matches!(e, ClusterError::Connect { .. }),
            "{context}: {e:?}"
        );
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!(
                "cannot connect to cluster {}: through proxy-url {proxy}: ",
                fake.url()
            )),
            "{context}: {shown}"
        );
    }
    assert_eq!(ok(&out[2]).username, "alice@example.com");
    assert_eq!(
        fake.requests_with(ALICE).len(),
        1,
        "only the direct context"
    );
    // kubectl, on the current context (behind the dead HTTP proxy), fails as well.
    let (kubectl_ok, _, stderr) = kubectl_whoami(&sb, &k);
    assert!(!kubectl_ok, "kubectl got through a dead proxy: {stderr}");
    assert_eq!(fake.requests_with(ALICE).len(), 1, "{stderr}");
}

/// A proxy-url kube cannot use is refused before anything is sent: a scheme other than
/// http, https and socks5 (the ones kubectl knows), or text that is not a URL (a password
/// with an unescaped `/`, which kubectl refuses too). The message names the context and
/// shows no password.
#[test]
fn an_unusable_proxy_url_is_refused_before_anything_is_sent() {
    let fake = alice_fake();
    let proxy = ConnectProxy::start();
    let sb = Sandbox::new();
    let addr = proxy.addr;
    for (name, url, needle) in [
        (
            "ftp",
            with_credentials(&format!("ftp://{addr}")),
            "proxy-url scheme \"ftp\" is not supported",
        ),
        (
            "socks4",
            with_credentials(&format!("socks4://{addr}")),
            "proxy-url scheme \"socks4\" is not supported",
        ),
        (
            "slash-in-password",
            format!("http://proxy-user:{PROXY_PASSWORD}/x@{addr}"),
            &format!(
                "proxy-url \"http://{addr}\" is not a URL: invalid port (a `/`, `?` or `#` in its \
                 user or password must be percent-encoded)"
            ),
        ),
    ] {
        let mut spec = ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem));
        spec.proxy_url = Some(url);
        let k = single(&sb, name, spec, ALICE);
        let out = check(&k, &["ctx"], ALICE, TIMEOUT);
        assert_no_proxy_password(&out);
        let e = err(&out[0]);
        assert!(matches!(e, ClusterError::Config { .. }), "{name}: {e:?}");
        let shown = e.to_string();
        assert!(shown.starts_with("context \"ctx\": "), "{name}: {shown}");
        assert!(shown.contains(needle), "{name}: {shown}");
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    assert!(proxy.targets().is_empty(), "{:?}", proxy.targets());
}

// ---------------------------------------------------------------------------------------
// Reading the entries
// ---------------------------------------------------------------------------------------

/// The cluster entry comes from the first file that defines it (KUBECONFIG order), and its
/// relative CA path from that file's folder, even when the context is in another file.
#[test]
fn targets_follow_the_file_that_defines_the_cluster() {
    let fake = alice_fake();
    let sb = Sandbox::new();
    let first = sb.write(
        "one/config",
        "apiVersion: v1\nkind: Config\ncontexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n\
         users:\n- name: u\n  user:\n    token: x\ncurrent-context: ctx\n",
    );
    let second = write_kubeconfig(
        &sb.path("two/config"),
        &[ClusterSpec::new(
            "c",
            fake.url(),
            Trust::File {
                rel: "ca.pem",
                pem: &fake.ca.pem,
            },
        )],
        &[],
        &[],
    );
    // A later file's same-named cluster is shadowed and must not be used.
    let third = write_kubeconfig(
        &sb.path("three/config"),
        &[ClusterSpec::new("c", closed_port_url(), Trust::Insecure)],
        &[],
        &[],
    );
    let kc = Kubeconfig::load(&[first, second, third], false).unwrap();
    let t = cluster::cluster_targets(&kc, &["ctx".to_string()]).unwrap();
    assert_eq!(t[0].server, fake.url());
    assert_eq!(t[0].ca, CaSource::File(sb.path("two/ca.pem")));
    assert!(!t[0].insecure_skip_tls_verify);
    let out = cluster::verify(&t, &Token::new(ALICE), TIMEOUT);
    assert_eq!(ok(&out[0]).username, "alice@example.com");
}

#[test]
fn targets_refuse_contexts_that_cannot_be_checked() {
    let sb = Sandbox::new();
    let k = sb.write(
        "config",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: noserver\n  cluster:\n    insecure-skip-tls-verify: true\n\
         contexts:\n- name: a\n  context:\n    cluster: noserver\n    user: u\n\
         - name: b\n  context:\n    cluster: missing\n    user: u\n\
         - name: c\n  context:\n    user: u\n\
         users:\n- name: u\n  user:\n    token: x\n",
    );
    let kc = Kubeconfig::load(&[k], true).unwrap();
    for (ctx, needle) in [
        ("a", "has no server"),
        ("b", "which no kubeconfig file defines"),
        ("c", "names no cluster"),
        ("zzz", "no such context"),
    ] {
        let e = cluster::cluster_targets(&kc, &[ctx.to_string()]).unwrap_err();
        assert!(matches!(e, ClusterError::Config { .. }), "{e:?}");
        let shown = e.to_string();
        assert!(shown.contains(needle), "{ctx}: {shown}");
        assert!(shown.starts_with(&format!("context {ctx:?}: ")), "{shown}");
    }
}

/// A wrongly typed cluster field is reported with its place, never its value. kubectl
/// refuses such a file whole, and since the loader reads the cluster fields, so does the
/// load, before any target is built.
#[test]
fn targets_report_a_bad_field_without_its_value() {
    let sb = Sandbox::new();
    let k = sb.write(
        "config",
        format!(
            "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: {ALICE}\n\
             contexts:\n- name: a\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: x\n"
        ),
    );
    let Err(e) = Kubeconfig::load(std::slice::from_ref(&k), true) else {
        panic!("a file kubectl refuses does not load");
    };
    let shown = format!("{e} {e:?}");
    assert!(shown.contains(&format!("{}:5:", k.display())), "{shown}");
    assert!(!shown.contains("clustertest-alice"), "{shown}");
}

// ---------------------------------------------------------------------------------------
// Answers a cluster must not be believed on (issue 15)
// ---------------------------------------------------------------------------------------

/// A fake that answers every review with `status` and `body` (and `headers`), trusted by
/// its CA data, checked with ALICE.
fn answered(status: u16, body: &str, headers: &[(&str, &str)]) -> (FakeKube, ReviewOutcome) {
    let fake = alice_fake_with(FakeKubeOptions {
        canned: Some((status, body.to_string())),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..FakeKubeOptions::default()
    });
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
        ALICE,
    );
    let out = check(&k, &["ctx"], ALICE, TIMEOUT).remove(0);
    (fake, out)
}

/// A 2xx that does not say who the token belongs to proves nothing: `{}`, a review
/// without `status`, one with an empty username.
#[test]
fn a_review_without_a_user_name_is_not_an_acceptance() {
    for body in [
        "{}".to_string(),
        serde_json::json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1"})
            .to_string(),
        serde_json::json!({"kind": "SelfSubjectReview", "status": {"userInfo": {"username": "", "groups": ["g"]}}})
            .to_string(),
    ] {
        for status in [200, 201] {
            let (fake, out) = answered(status, &body, &[]);
            let e = err(&out);
            assert!(matches!(e, ClusterError::Unexpected { .. }), "{body}: {e:?}");
            let shown = e.to_string();
            assert!(
                shown.contains(&format!("answered {status}"))
                    && shown.contains("status.userInfo.username"),
                "{shown}"
            );
            assert_eq!(fake.requests_with(ALICE).len(), 1);
        }
    }
}

/// A 401 whose body is `{}` (or not JSON at all) is a rejection, with its status; other
/// statuses keep theirs in the message.
#[test]
fn error_answers_keep_their_http_status() {
    for body in ["{}", "", "<html>nope</html>"] {
        let (_fake, out) = answered(401, body, &[]);
        match err(&out) {
            ClusterError::Rejected { status, .. } => assert_eq!(*status, 401, "{body}"),
            e => panic!("{body:?}: expected a rejection, got {e:?}"),
        }
        assert!(
            err(&out).to_string().contains("401 Unauthorized"),
            "{}",
            err(&out)
        );
    }
    for status in [400, 409, 500, 503] {
        let (_fake, out) = answered(status, "{}", &[]);
        let shown = err(&out).to_string();
        assert!(
            matches!(err(&out), ClusterError::Unexpected { .. }),
            "{shown}"
        );
        assert!(shown.contains(&format!("answered {status}")), "{shown}");
    }
}

/// A redirect is reported as one, with where it pointed, and is not followed.
#[test]
fn a_redirect_is_reported_and_not_followed() {
    let target = closed_port_url();
    let (fake, out) = answered(
        307,
        "",
        &[(
            "Location",
            &format!("{target}/apis/authentication.k8s.io/v1/selfsubjectreviews"),
        )],
    );
    let shown = err(&out).to_string();
    assert!(
        matches!(err(&out), ClusterError::Unexpected { .. }),
        "{shown}"
    );
    assert!(
        shown.contains("answered 307") && shown.contains("redirect") && shown.contains(&target),
        "{shown}"
    );
    assert!(shown.contains("does not follow"), "{shown}");
    assert_eq!(
        fake.requests_with(ALICE).len(),
        1,
        "one request, no second one"
    );
}

/// Whatever a cluster says in its Status (reason, message, details) reaches the user
/// masked, with control characters escaped, and cut: no echo of the bearer, no escape
/// sequence, no forged line, no megabyte of text.
#[test]
fn status_texts_are_masked_escaped_and_cut() {
    let echo = format!("Authorization: Bearer {ALICE}");
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403,
        "reason": format!("\u{1b}[2J\u{1b}[31mForbidden {echo}\r\nerror: forged line\u{7}\u{8}"),
        "message": format!("{echo} {}", "x".repeat(900_000)),
        "details": {"name": format!("{echo}\u{1b}]0;title\u{7}"), "causes": [{"message": "CW-SECRET-someoneelses-token-9999"}]},
    })
    .to_string();
    for status in [403, 500] {
        let (_fake, out) = answered(status, &body, &[]);
        let e = err(&out);
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(!shown.contains("clustertest-alice"), "{shown}");
            assert!(!shown.contains("someoneelses"), "{shown}");
            assert!(
                !shown.chars().any(|c| c.is_control()),
                "a control character reached the message: {shown:?}"
            );
            assert!(shown.len() < 4_000, "{} bytes", shown.len());
        }
        assert!(e.to_string().contains(&format!("{status}")), "{e}");
    }
}

/// An answer that never ends is cut at 1 MiB: the check fails, naming the status.
#[test]
fn an_endless_review_is_cut() {
    let fake = alice_fake_with(FakeKubeOptions {
        endless: true,
        ..FakeKubeOptions::default()
    });
    let sb = Sandbox::new();
    let k = single(
        &sb,
        "config",
        ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
        ALICE,
    );
    let out = check(&k, &["ctx"], ALICE, Duration::from_secs(120)).remove(0);
    let shown = err(&out).to_string();
    assert!(
        shown.contains("answered 201") && shown.contains("1048576 bytes"),
        "{shown}"
    );
}

/// `certificate-authority-data` together with `certificate-authority` is an error in
/// configuration for kubectl, whether the file exists or not; the check refuses the
/// context the same way and sends nothing.
#[test]
fn ca_data_with_a_ca_file_is_refused_like_kubectl() {
    let fake = alice_fake();
    let sb = Sandbox::new();
    for (name, write_file) in [("gone", false), ("there", true)] {
        let file = format!("{name}.yaml");
        let k = single(
            &sb,
            &file,
            ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
            ALICE,
        );
        let pem = format!("{name}.pem");
        if write_file {
            std::fs::write(sb.path(&pem), &fake.ca.pem).unwrap();
        }
        let text = std::fs::read_to_string(&k).unwrap().replace(
            "    certificate-authority-data:",
            &format!("    certificate-authority: {pem}\n    certificate-authority-data:"),
        );
        std::fs::write(&k, text).unwrap();
        let (kubectl_ok, _, stderr) = kubectl_whoami(&sb, &k);
        assert!(!kubectl_ok, "kubectl accepted it: {stderr}");
        assert!(stderr.contains("both specified"), "{stderr}");
        let kc = Kubeconfig::load(std::slice::from_ref(&k), true).unwrap();
        let e = cluster::cluster_targets(&kc, &["ctx".to_string()]).expect_err(name);
        assert!(matches!(e, ClusterError::Config { .. }), "{e:?}");
        let shown = e.to_string();
        assert!(
            shown.contains("both set") && shown.contains(&*sb.path(&pem).to_string_lossy()),
            "{shown}"
        );
    }
    assert!(
        fake.requests().iter().all(|r| r.bearer.is_none()),
        "{:?}",
        fake.requests()
    );
}

/// A plain-http server gets no token: the context is refused before anything is sent.
#[test]
fn a_plain_http_server_is_refused_before_sending() {
    let sb = Sandbox::new();
    for server in ["http://127.0.0.1:8080", "HTTP://127.0.0.1:8080"] {
        let k = single(
            &sb,
            "config",
            ClusterSpec::new("c", server.to_string(), Trust::System),
            ALICE,
        );
        let kc = Kubeconfig::load(&[k], true).unwrap();
        let e = cluster::cluster_targets(&kc, &["ctx".to_string()]).expect_err(server);
        assert!(matches!(e, ClusterError::Config { .. }), "{e:?}");
        assert!(e.to_string().contains("is not TLS"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------
// A server certificate that is itself the certificate authority (issue 10)
// ---------------------------------------------------------------------------------------

/// kubectl (Go) trusts a server whose certificate is one of those in
/// certificate-authority(-data), self-signed, CA or not; so does the check. The host name
/// and the validity period are still checked (by both), and any other certificate is
/// verified strictly.
#[test]
fn a_server_certificate_listed_as_the_ca_is_accepted_like_kubectl() {
    use support::fake_kube::SelfSigned;
    let sb = Sandbox::new();
    let cases = [
        (
            "ca-true",
            SelfSigned {
                is_ca: true,
                expired: false,
            },
            None,
            true,
        ),
        (
            "ca-false",
            SelfSigned {
                is_ca: false,
                expired: false,
            },
            None,
            true,
        ),
        (
            "expired",
            SelfSigned {
                is_ca: true,
                expired: true,
            },
            None,
            false,
        ),
        (
            "other-name",
            SelfSigned {
                is_ca: false,
                expired: false,
            },
            Some("only.other.example"),
            false,
        ),
    ];
    for (name, how, only_name, accepted) in cases {
        let mut options = FakeKubeOptions {
            self_signed: Some(how),
            ..FakeKubeOptions::default()
        };
        if let Some(n) = only_name {
            options.sans = vec![n.to_string()];
        }
        let fake = alice_fake_with(options);
        for trust in ["data", "file"] {
            let file = format!("{name}-{trust}.yaml");
            let rel = format!("{name}.pem");
            let spec = match trust {
                "data" => ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem)),
                _ => ClusterSpec::new(
                    "c",
                    fake.url(),
                    Trust::File {
                        rel: &rel,
                        pem: &fake.ca.pem,
                    },
                ),
            };
            let k = single(&sb, &file, spec, ALICE);
            let (kubectl_ok, kubectl_user, stderr) = kubectl_whoami(&sb, &k);
            assert_eq!(kubectl_ok, accepted, "{name}/{trust}: kubectl: {stderr}");
            let out = check(&k, &["ctx"], ALICE, TIMEOUT);
            if accepted {
                assert_eq!(
                    Some(ok(&out[0]).username.clone()),
                    kubectl_user,
                    "{name}/{trust}"
                );
            } else {
                assert!(
                    matches!(err(&out[0]), ClusterError::Tls { .. }),
                    "{name}/{trust}: {:?}",
                    out[0]
                );
            }
        }
    }
    // Another self-signed certificate than the one listed is refused by both.
    let fake = alice_fake_with(FakeKubeOptions {
        self_signed: Some(SelfSigned {
            is_ca: true,
            expired: false,
        }),
        ..FakeKubeOptions::default()
    });
    let stranger = alice_fake_with(FakeKubeOptions {
        self_signed: Some(SelfSigned {
            is_ca: true,
            expired: false,
        }),
        ..FakeKubeOptions::default()
    });
    let k = single(
        &sb,
        "stranger.yaml",
        ClusterSpec::new("c", fake.url(), Trust::Data(&stranger.ca.pem)),
        ALICE,
    );
    let (kubectl_ok, _, _) = kubectl_whoami(&sb, &k);
    assert!(!kubectl_ok);
    let out = check(&k, &["ctx"], ALICE, TIMEOUT);
    assert!(
        matches!(err(&out[0]), ClusterError::Tls { .. }),
        "{:?}",
        out[0]
    );
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

/// `kubectl auth whoami` with `env` added to the sealed environment of [`kubectl_whoami`]:
/// (success, stderr).
fn kubectl_whoami_with(sb: &Sandbox, kubeconfig: &Path, env: &[(&str, String)]) -> (bool, String) {
    let o = Command::new("/usr/bin/kubectl")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.path("home"))
        .env("KUBECONFIG", kubeconfig)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["auth", "whoami", "-o", "json", "--request-timeout=10s"])
        .output()
        .expect("/usr/bin/kubectl must exist: .ci/run installs it (Debian's kubernetes-client)");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Without a proxy-url, the check goes through an `HTTPS_PROXY` CONNECT proxy on loopback
/// exactly when kubectl does (Go's rules: `HTTPS_PROXY` then `https_proxy`, a value
/// without a scheme is http, `NO_PROXY` by domain, subdomain, port, `*`; never for
/// `localhost` or a loopback address; `HTTP_PROXY` is not for https; a proxy-url wins).
/// The server is named by a host that only the proxy resolves (to loopback), so a
/// client that goes direct cannot reach it and one that goes through the proxy can: the
/// proxy's log and the outcome say which way each went.
#[test]
fn https_proxy_from_the_environment_is_used_exactly_when_kubectl_uses_it() {
    use kubectl_coreweave::net::{Deadline, ProxyEnv};
    const NAME: &str = "kube.proxied.test";
    let fake = alice_fake_with(FakeKubeOptions::with_extra_name(NAME));
    let proxy = ConnectProxy::start_resolving(NAME);
    let port = fake.addr.port();
    let by_name = format!("https://{NAME}:{port}");
    let by_ip = fake.url();
    let by_localhost = format!("https://localhost:{port}");
    let live = proxy.url();
    let bare = proxy.addr.to_string();
    let dead = closed_port_url().replacen("https://", "http://", 1);
    let sb = Sandbox::new();
    // (environment, server, proxy-url, goes through the proxy)
    type Case<'a> = (Vec<(&'a str, String)>, &'a str, Option<&'a str>, bool);
    let cases: Vec<Case> = vec![
        (vec![("HTTPS_PROXY", live.clone())], &by_name, None, true),
        (vec![("https_proxy", live.clone())], &by_name, None, true),
        (
            vec![
                ("HTTPS_PROXY", String::new()),
                ("https_proxy", live.clone()),
            ],
            &by_name,
            None,
            true,
        ),
        (vec![("HTTPS_PROXY", bare.clone())], &by_name, None, true),
        (vec![("HTTP_PROXY", live.clone())], &by_name, None, false),
        (
            vec![
                ("HTTPS_PROXY", live.clone()),
                ("NO_PROXY", "proxied.test".into()),
            ],
            &by_name,
            None,
            false,
        ),
        (
            vec![
                ("HTTPS_PROXY", live.clone()),
                ("no_proxy", ".proxied.test".into()),
            ],
            &by_name,
            None,
            false,
        ),
        (
            vec![
                ("HTTPS_PROXY", live.clone()),
                ("NO_PROXY", "*.proxied.test".into()),
            ],
            &by_name,
            None,
            false,
        ),
        (
            vec![
                ("HTTPS_PROXY", live.clone()),
                ("NO_PROXY", format!("other.test, KUBE.proxied.test:{port}")),
            ],
            &by_name,
            None,
            false,
        ),
        (
            vec![
                ("HTTPS_PROXY", live.clone()),
                ("NO_PROXY", format!("{NAME}:1")),
            ],
            &by_name,
            None,
            true,
        ),
        (
            vec![
                ("HTTPS_PROXY", live.clone()),
                ("NO_PROXY", "xkube.proxied.test,other.test".into()),
            ],
            &by_name,
            None,
            true,
        ),
        (
            vec![("HTTPS_PROXY", live.clone()), ("NO_PROXY", "*".into())],
            &by_name,
            None,
            false,
        ),
        (vec![("HTTPS_PROXY", live.clone())], &by_ip, None, false),
        (
            vec![("HTTPS_PROXY", live.clone())],
            &by_localhost,
            None,
            false,
        ),
        (
            vec![("HTTPS_PROXY", dead.clone())],
            &by_name,
            Some(&live),
            true,
        ),
        (
            vec![("HTTPS_PROXY", live.clone()), ("NO_PROXY", NAME.into())],
            &by_name,
            Some(&live),
            true,
        ),
    ];
    for (i, (env, server, proxy_url, proxied)) in cases.into_iter().enumerate() {
        let mut spec = ClusterSpec::new("c", server.to_string(), Trust::Data(&fake.ca.pem));
        spec.proxy_url = proxy_url.map(str::to_string);
        let k = single(&sb, &format!("case-{i}"), spec, ALICE);
        let about = format!("case {i}: {env:?}, server {server}, proxy-url {proxy_url:?}");

        let before = proxy.targets().len();
        let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        let out = cluster::verify_with(
            &targets(&k, &["ctx"]),
            &Token::new(ALICE),
            TIMEOUT,
            Deadline::after(Duration::from_secs(60)),
            &ProxyEnv::from_lookup(lookup),
        );
        assert_no_secret(&out[0]);
        let mine = proxy.targets()[before..].to_vec();
        let (kubectl_ok, stderr) = kubectl_whoami_with(&sb, &k, &env);
        let theirs = proxy.targets()[before + mine.len()..].to_vec();

        let reached = format!(
            "{}:{port}",
            server
                .trim_start_matches("https://")
                .rsplit_once(':')
                .unwrap()
                .0
        );
        for (who, seen) in [("verify", &mine), ("kubectl", &theirs)] {
            if proxied {
                assert!(
                    !seen.is_empty() && seen.iter().all(|t| *t == reached),
                    "{about}: {who} should have gone through the proxy to {reached}: {seen:?}"
                );
            } else {
                assert!(
                    seen.is_empty(),
                    "{about}: {who} went through the proxy: {seen:?}"
                );
            }
        }
        // Through the proxy, or direct to a loopback address, the fake answers; direct to
        // the name that only the proxy resolves, nothing does.
        let reachable = proxied || server != by_name;
        assert_eq!(kubectl_ok, reachable, "{about}: kubectl: {stderr}");
        match &out[0].result {
            Ok(u) if reachable => assert_eq!(u.username, "alice@example.com"),
            Err(ClusterError::Connect { .. }) if !reachable => {}
            other => panic!("{about}: verify: {other:?}; kubectl: {kubectl_ok} {stderr}"),
        }
    }
}
