//! `token rotate` proves the new token before writing: CoreWeave's whoami (a fake API on
//! loopback), the affected contexts' clusters (a TLS fake that kubectl itself accepts,
//! see `cluster.rs`), and records what it knows of the token's expiry.

use crate::support;

use std::path::Path;
use std::process::Output;

use support::fake_coreweave::{FakeCoreweave, Reply};
use support::fake_kube::{
    closed_port_url, write_kubeconfig, ClusterSpec, ConnectProxy, FakeKube, FakeUser, Trust,
};
use support::{path_str, stderr, stdout, Sandbox};

const OLD: &str = "CW-SECRET-verify-old-0000aaaa";
const NEW: &str = "CW-SECRET-verify-new-1111bbbb";

fn kubeconfig(sb: &Sandbox) -> String {
    let cfg = support::kubeconfig(
        Some("a"),
        &[("a", "k1", "cw"), ("b", "k2", "cw")],
        &[("cw", OLD)],
    );
    path_str(&sb.write("config", cfg)).to_string()
}

fn rotate(sb: &Sandbox, k: &str, api: &str, extra: &[&str]) -> Output {
    let tok = sb.write("new-token", format!("{NEW}\n"));
    let mut args = vec![
        "token",
        "rotate",
        "--from-file",
        path_str(&tok),
        "--api-endpoint",
        api,
    ];
    args.extend_from_slice(extra);
    let o = sb.run(Some(k), &args);
    let printed = stdout(&o) + &stderr(&o);
    assert!(
        !printed.contains(NEW) && !printed.contains(OLD),
        "a token was printed: {printed}"
    );
    o
}

fn assert_unchanged(k: &str, before: &[u8]) {
    assert_eq!(
        std::fs::read(k).expect("read"),
        before,
        "the kubeconfig changed"
    );
    let dir = Path::new(k).parent().expect("dir");
    let left: Vec<_> = std::fs::read_dir(dir)
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock") || n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn api_check_passes_then_writes() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let api = FakeCoreweave::start();
    api.accept_token(NEW, "user-1", "org-1")
        .accept_token(OLD, "user-1", "org-1");
    let o = rotate(&sb, &k, &api.url(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .contains("Verified: CoreWeave accepts the new token (principal user-1, org org-1)"),
        "{}",
        stdout(&o)
    );
    assert!(std::fs::read_to_string(&k).expect("read").contains(NEW));
    let auths: Vec<String> = api
        .requests()
        .iter()
        .filter_map(|r| r.authorization().map(str::to_string))
        .collect();
    assert_eq!(auths, [format!("Bearer {NEW}"), format!("Bearer {OLD}")]);
}

#[test]
fn rejected_new_token_writes_nothing() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let before = std::fs::read(&k).expect("read");
    let api = FakeCoreweave::start();
    api.accept_token(OLD, "user-1", "org-1");
    let o = rotate(&sb, &k, &api.url(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the new token was not accepted")
            && stderr(&o).contains("token rejected (invalid, revoked or expired)"),
        "{}",
        stderr(&o)
    );
    assert_unchanged(&k, &before);
}

#[test]
fn another_orgs_token_is_refused_unless_forced() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let before = std::fs::read(&k).expect("read");
    let api = FakeCoreweave::start();
    api.accept_token(NEW, "user-2", "org-2")
        .accept_token(OLD, "user-1", "org-1");
    let o = rotate(&sb, &k, &api.url(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("belongs to principal user-2 in org org-2, the old one to principal user-1 in org org-1"), "{}", stderr(&o));
    assert_unchanged(&k, &before);
    let o = rotate(&sb, &k, &api.url(), &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn an_expired_old_token_does_not_block_the_rotation() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let api = FakeCoreweave::start();
    api.accept_token(NEW, "user-1", "org-1");
    let o = rotate(&sb, &k, &api.url(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn unreachable_api_writes_nothing_and_says_how_to_skip() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let before = std::fs::read(&k).expect("read");
    let o = rotate(&sb, &k, "http://127.0.0.1:9", &["--request-timeout", "2s"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--verify none skips the check"),
        "{}",
        stderr(&o)
    );
    assert_unchanged(&k, &before);
}

fn cluster_setup(sb: &Sandbox, second_knows_new: bool) -> (String, FakeKube, FakeKube) {
    cluster_setup_with_proxy(sb, second_knows_new, None)
}

/// As [`cluster_setup`], with `proxy_url` on the cluster of context b. The clusters are
/// on loopback, not CoreWeave hosts, so the rotations over them pass --force.
fn cluster_setup_with_proxy(
    sb: &Sandbox,
    second_knows_new: bool,
    proxy_url: Option<String>,
) -> (String, FakeKube, FakeKube) {
    let good = FakeKube::start(&[(NEW, FakeUser::new("alice"))]);
    let users: Vec<(&str, FakeUser)> = if second_knows_new {
        vec![(NEW, FakeUser::new("alice"))]
    } else {
        vec![]
    };
    let other = FakeKube::start(&users);
    let pem1 = good.ca.pem.clone();
    let pem2 = other.ca.pem.clone();
    let mut second = ClusterSpec::new("k2", other.url(), Trust::Data(&pem2));
    second.proxy_url = proxy_url;
    let k = write_kubeconfig(
        &sb.path("config"),
        &[
            ClusterSpec::new("k1", good.url(), Trust::Data(&pem1)),
            second,
        ],
        &[("a", "k1", "cw"), ("b", "k2", "cw")],
        &[("cw", OLD)],
    );
    (path_str(&k).to_string(), good, other)
}

#[test]
fn cluster_check_proves_every_affected_context() {
    let sb = Sandbox::new();
    let (k, good, other) = cluster_setup(&sb, true);
    let api = FakeCoreweave::start();
    api.accept_token(NEW, "user-1", "org-1");
    let o = rotate(&sb, &k, &api.url(), &["--verify", "cluster", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Verified: the clusters of context a, b accept it"),
        "{}",
        stdout(&o)
    );
    assert_eq!(good.requests_with(NEW).len(), 1);
    assert_eq!(other.requests_with(NEW).len(), 1);
}

#[test]
fn a_cluster_that_rejects_the_token_stops_the_rotation() {
    let sb = Sandbox::new();
    let (k, _good, _other) = cluster_setup(&sb, false);
    let before = std::fs::read(&k).expect("read");
    let api = FakeCoreweave::start();
    api.accept_token(NEW, "user-1", "org-1");
    let o = rotate(&sb, &k, &api.url(), &["--verify", "cluster", "--force"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("not accepted by context b (cluster https://127.0.0.1:")
            && err.contains("rejected the token (401"),
        "{err}"
    );
    assert!(!err.contains("context a"), "{err}");
    assert_unchanged(&k, &before);
}

const PROXY_PASSWORD: &str = "proxy-pw-hunter2";

/// A context whose cluster is behind `proxy-url` is checked through that proxy.
#[test]
fn cluster_check_goes_through_the_proxy_url() {
    let sb = Sandbox::new();
    let proxy = ConnectProxy::start();
    let url = proxy
        .url()
        .replace("http://", &format!("http://proxy-user:{PROXY_PASSWORD}@"));
    let (k, good, other) = cluster_setup_with_proxy(&sb, true, Some(url));
    let api = FakeCoreweave::start();
    api.accept_token(NEW, "user-1", "org-1");
    let o = rotate(&sb, &k, &api.url(), &["--verify", "cluster", "--force"]);
    let printed = stdout(&o) + &stderr(&o);
    assert!(!printed.contains(PROXY_PASSWORD), "{printed}");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Verified: the clusters of context a, b accept it"),
        "{}",
        stdout(&o)
    );
    assert_eq!(proxy.targets(), [other.addr.to_string()]);
    assert_eq!(other.requests_with(NEW).len(), 1);
    assert_eq!(good.requests_with(NEW).len(), 1);
    assert!(std::fs::read_to_string(&k).expect("read").contains(NEW));
}

/// A proxy that is not there stops the rotation; the message names the context behind it
/// and the proxy, without the proxy's password.
#[test]
fn a_dead_proxy_stops_the_rotation_naming_the_context() {
    let sb = Sandbox::new();
    let dead = closed_port_url().replace("https://", "http://");
    let url = dead.replace("http://", &format!("http://proxy-user:{PROXY_PASSWORD}@"));
    let (k, _good, other) = cluster_setup_with_proxy(&sb, true, Some(url));
    let before = std::fs::read(&k).expect("read");
    let api = FakeCoreweave::start();
    api.accept_token(NEW, "user-1", "org-1");
    let o = rotate(&sb, &k, &api.url(), &["--verify", "cluster", "--force"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "not accepted by context b (cannot connect to cluster {}: through proxy-url {dead}: ",
            other.url()
        )),
        "{err}"
    );
    assert!(!err.contains("context a"), "{err}");
    assert!(!(stdout(&o) + &err).contains(PROXY_PASSWORD), "{err}");
    assert!(other.requests().is_empty(), "{:?}", other.requests());
    assert_unchanged(&k, &before);
}

/// Through the command: a cluster without proxy-url is checked through `HTTPS_PROXY` from
/// the environment, unless `NO_PROXY` names it, as kubectl does (the differential against
/// kubectl itself is `cluster::https_proxy_from_the_environment_is_used_exactly_when_kubectl_uses_it`).
/// The server's name resolves only at the proxy, so going direct fails.
#[test]
fn cluster_check_goes_through_https_proxy_unless_no_proxy_names_it() {
    const NAME: &str = "kube.proxied.test";
    let sb = Sandbox::new();
    let fake = FakeKube::start_with(
        &[(NEW, FakeUser::new("alice"))],
        support::fake_kube::FakeKubeOptions::with_extra_name(NAME),
    );
    let proxy = ConnectProxy::start_resolving(NAME);
    let port = fake.addr.port();
    let server = format!("https://{NAME}:{port}");
    let pem = fake.ca.pem.clone();
    let k = write_kubeconfig(
        &sb.path("config"),
        &[ClusterSpec::new("k1", server.clone(), Trust::Data(&pem))],
        &[("a", "k1", "cw")],
        &[("cw", OLD)],
    );
    let k = path_str(&k).to_string();
    let api = FakeCoreweave::start();
    api.accept_token(NEW, "user-1", "org-1");
    let tok = sb.write("new-token", format!("{NEW}\n"));
    let run = |env: &[(&str, String)]| {
        let o = sb
            .cmd(Some(&k))
            .envs(env.iter().map(|(n, v)| (*n, v.as_str())))
            .args(["token", "rotate", "--from-file", path_str(&tok)])
            .args([
                "--api-endpoint",
                &api.url(),
                "--verify",
                "cluster",
                "--force",
            ])
            .output()
            .expect("run plugin");
        let printed = stdout(&o) + &stderr(&o);
        assert!(
            !printed.contains(NEW) && !printed.contains(OLD),
            "a token was printed: {printed}"
        );
        o
    };

    let before = std::fs::read(&k).expect("read");
    let o = run(&[
        ("HTTPS_PROXY", proxy.url()),
        ("NO_PROXY", ".proxied.test".into()),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("cannot connect to cluster {server}")),
        "{}",
        stderr(&o)
    );
    assert!(proxy.targets().is_empty(), "{:?}", proxy.targets());
    assert_unchanged(&k, &before);

    let o = run(&[("https_proxy", proxy.url())]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(proxy.targets(), [format!("{NAME}:{port}")]);
    assert_eq!(fake.requests_with(NEW).len(), 1);
    assert!(std::fs::read_to_string(&k).expect("read").contains(NEW));
}

#[test]
fn minted_token_is_written_with_its_expiry() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let api = FakeCoreweave::start();
    let expire = kubectl_coreweave::time::format_rfc3339(
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(7200),
    );
    api.script([Reply::json(
        200,
        serde_json::json!({"bearerToken": NEW, "expireTime": expire}),
    )]);
    api.accept_token(NEW, "sa-1", "org-1");
    let oidc = sb.write("oidc", "eyJhbGciOiJSUzI1NiJ9.oidc.sig\n");
    let o = sb.run(
        Some(&k),
        &[
            "token",
            "rotate",
            "--mint",
            "--service-account",
            "sa-1",
            "--oidc-token-file",
            path_str(&oidc),
            "--duration",
            "2h",
            "--api-endpoint",
            &api.url(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("Expires: {expire}")),
        "{}",
        stdout(&o)
    );
    let mint = &api.requests()[0];
    assert!(
        mint.path.ends_with("/ServiceAccountOidcAuth"),
        "{}",
        mint.path
    );
    assert_eq!(mint.json()["serviceAccountUid"], "sa-1");
    assert_eq!(mint.json()["durationSeconds"], 7200);
    let show = sb.run(Some(&k), &["token", "show", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(v["expires"], expire.as_str());
    assert_eq!(v["tokenSource"], "minted");
    assert_eq!(v["token"], "CW-SECRET-…bbbb");
}

#[test]
fn expires_is_recorded_and_then_warned_about() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let o = rotate(
        &sb,
        &k,
        "http://127.0.0.1:9",
        &["--verify", "none", "--expires", "3d"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    assert!(
        text.contains("- name: coreweave.com/token") && text.contains("source: \"file\""),
        "{text}"
    );
    let show = sb.run(Some(&k), &["token", "show", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    let days = v["expiresInDays"].as_i64().expect("expiresInDays");
    assert!((2..=3).contains(&days), "{v}");
    assert!(
        stderr(&show).contains("warning: token expires in"),
        "{}",
        stderr(&show)
    );

    // A later rotate without --expires drops the stale expiry but keeps the record.
    let tok = sb.write("newer", "CW-SECRET-verify-newer-2222cccc\n");
    let o = sb.run(
        Some(&k),
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-file",
            path_str(&tok),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    assert!(
        text.contains("coreweave.com/token") && !text.contains("expires:"),
        "{text}"
    );
}

#[test]
fn bad_expires_is_refused_before_anything_happens() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let before = std::fs::read(&k).expect("read");
    let o = rotate(
        &sb,
        &k,
        "http://127.0.0.1:9",
        &["--verify", "none", "--expires", "soonish"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--expires \"soonish\""),
        "{}",
        stderr(&o)
    );
    assert_unchanged(&k, &before);
}

// ---------------------------------------------------------------------------------------
// Misbehaving servers (issue 15)
// ---------------------------------------------------------------------------------------

/// An API that knows both tokens as one principal.
fn same_principal_api() -> FakeCoreweave {
    let api = FakeCoreweave::start();
    api.accept_token(NEW, "user-1", "org-1")
        .accept_token(OLD, "user-1", "org-1");
    api
}

/// A cluster served over plain http, directly or behind a proxy-url, never sees the
/// token: kubectl sends no credentials there. The context is refused by name and nothing
/// is written; skipping the cluster check (`--verify api`) rotates without contacting it.
#[test]
fn a_plain_http_cluster_never_gets_the_token() {
    let direct = FakeCoreweave::start();
    let behind = FakeCoreweave::start();
    let proxy = ConnectProxy::start();
    for (context, proxied) in [("a", false), ("b", true)] {
        let sb = Sandbox::new();
        let server = if proxied { behind.url() } else { direct.url() };
        let mut spec = ClusterSpec::new("k", server, Trust::System);
        spec.proxy_url = proxied.then(|| proxy.url());
        let k = write_kubeconfig(
            &sb.path("config"),
            &[spec],
            &[(context, "k", "cw")],
            &[("cw", OLD)],
        );
        let k = path_str(&k).to_string();
        let before = std::fs::read(&k).expect("read");
        let api = same_principal_api();
        // --force lets a loopback cluster be rotated at all (it is not a CoreWeave host);
        // it does not let the token go over cleartext.
        let o = rotate(&sb, &k, &api.url(), &["--verify", "cluster", "--force"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("context {context:?}")) && err.contains("is not TLS"),
            "{err}"
        );
        assert_unchanged(&k, &before);
        assert!(
            api.requests().is_empty(),
            "refused before any token was sent: {:?}",
            api.requests()
        );
        let o = rotate(&sb, &k, &api.url(), &["--verify", "api", "--force"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert!(direct.requests().is_empty(), "{:?}", direct.requests());
    assert!(behind.requests().is_empty(), "{:?}", behind.requests());
    assert!(proxy.targets().is_empty(), "{:?}", proxy.targets());
}

/// Only a 401/403 on the old token means "already dead, nothing to compare". A 503, a
/// malformed 200 or a 404 leaves the owner unknown: a token of another org is refused
/// (saying why) unless --force.
#[test]
fn the_org_guard_fails_closed() {
    let other_org = || Reply::principal("user-2", "org-2");
    for (why, old_answer) in [
        ("503", vec![Reply::status(503); 4]),
        (
            "malformed",
            vec![Reply::status(200).body("{\"principal\":{}}")],
        ),
        ("404", vec![Reply::connect_error(404, "not_found", "gone")]),
        (
            "429",
            vec![Reply::status(429).header("Retry-After", "3600")],
        ),
    ] {
        let sb = Sandbox::new();
        let k = kubeconfig(&sb);
        let before = std::fs::read(&k).expect("read");
        let api = FakeCoreweave::start();
        api.script(std::iter::once(other_org()).chain(old_answer.clone()));
        let o = rotate(&sb, &k, &api.url(), &[]);
        assert_eq!(o.status.code(), Some(1), "{why}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("cannot tell whose the old token is") && err.contains("--force"),
            "{why}: {err}"
        );
        assert_unchanged(&k, &before);
        api.script(std::iter::once(other_org()).chain(old_answer));
        let o = rotate(&sb, &k, &api.url(), &["--force"]);
        assert!(o.status.success(), "{why}: {}", stderr(&o));
    }
    // A 403 on the old token: it is dead, and the new one is written.
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let api = FakeCoreweave::start();
    api.script([
        other_org(),
        Reply::connect_error(403, "permission_denied", "expired"),
    ]);
    let o = rotate(&sb, &k, &api.url(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Mint with `answer` as the exchange's answer.
fn mint_with(sb: &Sandbox, k: &str, answer: serde_json::Value) -> (Output, FakeCoreweave) {
    let api = FakeCoreweave::start();
    api.script([Reply::json(200, answer)]);
    let oidc = sb.write("oidc", "eyJhbGciOiJSUzI1NiJ9.oidc.sig\n");
    let o = sb.run(
        Some(k),
        &[
            "token",
            "rotate",
            "--mint",
            "--service-account",
            "sa-1",
            "--oidc-token-file",
            path_str(&oidc),
            "--duration",
            "1h",
            "--api-endpoint",
            &api.url(),
        ],
    );
    (o, api)
}

/// A minted token that expired in 2001, that lives far beyond the hour asked for, or that
/// is far longer than any token, is refused; nothing is written and nothing else is asked.
#[test]
fn insane_minted_tokens_are_refused() {
    let long = format!("CW-SECRET-{}", "m".repeat(5000));
    let far = kubectl_coreweave::time::format_rfc3339(
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(90 * 86_400),
    );
    let soon = kubectl_coreweave::time::format_rfc3339(
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600),
    );
    for (what, token, expire) in [
        ("already past", NEW, "2001-09-09T01:46:40Z".to_string()),
        ("far beyond the requested --duration 1h", NEW, far),
        ("a bearerToken of 5010 bytes", long.as_str(), soon),
    ] {
        let sb = Sandbox::new();
        let k = kubeconfig(&sb);
        let before = std::fs::read(&k).expect("read");
        let (o, api) = mint_with(
            &sb,
            &k,
            serde_json::json!({"bearerToken": token, "expireTime": expire}),
        );
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains(what), "{}", stderr(&o));
        assert!(!stderr(&o).contains("mmmmmmmm"), "{}", stderr(&o));
        assert_unchanged(&k, &before);
        assert_eq!(api.requests().len(), 1, "only the exchange was asked");
    }
}

/// A whoami uid of 900 KB with escape sequences is printed escaped and cut.
#[test]
fn a_huge_painted_uid_is_escaped_and_cut() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let uid = format!(
        "\u{1b}[2J\u{1b}[31muser\r\nVerified: forged {}",
        "u".repeat(900_000)
    );
    let api = FakeCoreweave::start();
    api.accept_token(NEW, &uid, "org-1")
        .accept_token(OLD, &uid, "org-1");
    let o = rotate(&sb, &k, &api.url(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.len() < 4_000, "{} bytes printed", out.len());
    assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out:?}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("Verified")).count(),
        1,
        "{out}"
    );
}

/// One total limit for the checks: a whoami that hangs longer than --request-timeout
/// allows, or a cluster that never answers, is given up on when --verify-timeout runs out.
#[test]
fn verify_timeout_bounds_all_the_checks() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let before = std::fs::read(&k).expect("read");
    let api = FakeCoreweave::start();
    let o = rotate(&sb, &k, &api.url(), &["--verify-timeout", "soon"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("'--verify-timeout <DURATION>'"),
        "{}",
        stderr(&o)
    );
    assert!(api.requests().is_empty());
    let api = FakeCoreweave::start();
    api.script([Reply::principal("user-1", "org-1").after(std::time::Duration::from_secs(120))]);
    let o = rotate(
        &sb,
        &k,
        &api.url(),
        &["--request-timeout", "100s", "--verify-timeout", "1s"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("total time limit (1s, --verify-timeout) ran out"),
        "{}",
        stderr(&o)
    );
    let seen = api.settled();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].client_left.is_some(), "the client did not leave");
    assert_unchanged(&k, &before);

    let silent = support::fake_kube::SilentServer::start();
    let ca = support::fake_kube::TestCa::new("unused");
    let k = write_kubeconfig(
        &sb.path("silent"),
        &[ClusterSpec::new("k", silent.url(), Trust::Data(&ca.pem))],
        &[("a", "k", "cw")],
        &[("cw", OLD)],
    );
    let k = path_str(&k).to_string();
    let api = same_principal_api();
    let o = rotate(
        &sb,
        &k,
        &api.url(),
        &[
            "--verify",
            "cluster",
            "--request-timeout",
            "100s",
            "--verify-timeout",
            "2s",
            "--force",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("total time limit (2s, --verify-timeout) ran out"),
        "{}",
        stderr(&o)
    );
    let conns = silent.wait_all_ended();
    assert!(
        conns
            .iter()
            .all(|c| c.ended.map(|(_, by)| by) == Some(support::fake_kube::HeldEnd::ByClient)),
        "{conns:?}"
    );
}

/// Runs `cmd` to the end and returns its output and its peak resident memory in bytes.
///
/// The child is started by a small Python process, which reports its peak through
/// getrusage(RUSAGE_CHILDREN). Started from this test binary directly, the child's figure
/// would include this binary's own peak: the kernel carries the peak of the address space a
/// process had before exec (std spawns with vfork, which shares this binary's) into the
/// exec'd program's count, so it grew with whatever the other tests held at the time.
#[cfg(unix)]
fn output_and_peak_memory(cmd: std::process::Command) -> (Output, u64) {
    const LAUNCHER: &str = "import resource, subprocess, sys\n\
        r = subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL, capture_output=True)\n\
        sys.stdout.buffer.write(r.stdout)\n\
        sys.stderr.buffer.write(r.stderr)\n\
        open(sys.argv[1], 'w').write(f'{r.returncode} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')\n";
    let report = tempfile::NamedTempFile::new().expect("report file");
    // The interpreter itself, not a version manager's shim (the child's environment is
    // sealed: its HOME is the sandbox).
    let which = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 must be installed: it measures the child's peak memory");
    let python = String::from_utf8(which.stdout).expect("utf-8 path");
    let mut py = std::process::Command::new(python.trim());
    py.arg("-c")
        .arg(LAUNCHER)
        .arg(report.path())
        .arg(cmd.get_program());
    py.args(cmd.get_args());
    py.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            py.env(k, v);
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        py.current_dir(dir);
    }
    let out = py.output().expect("run python3");
    let report = std::fs::read_to_string(report.path()).expect("launcher report");
    let (code, kib) = report.split_once(' ').expect("report: code and peak");
    let code: i32 = code.parse().expect("exit code");
    let peak = kib.trim().parse::<u64>().expect("peak KiB") * 1024;
    use std::os::unix::process::ExitStatusExt as _;
    let output = Output {
        // A status as wait() reports an exit with `code` (signals are negative in Python).
        status: std::process::ExitStatus::from_raw(if code >= 0 { code << 8 } else { -code }),
        stdout: out.stdout,
        stderr: out.stderr,
    };
    (output, peak)
}

/// A cluster whose answer never ends costs a bounded amount of memory: the body is read
/// to 1 MiB and no further. (Before the cap, the plugin held everything that came within
/// the timeout: gigabytes.)
#[cfg(unix)]
#[test]
fn an_endless_cluster_answer_takes_little_memory() {
    let sb = Sandbox::new();
    let fake = FakeKube::start_with(
        &[(NEW, FakeUser::new("alice"))],
        support::fake_kube::FakeKubeOptions {
            endless: true,
            ..Default::default()
        },
    );
    let k = write_kubeconfig(
        &sb.path("config"),
        &[ClusterSpec::new("k", fake.url(), Trust::Data(&fake.ca.pem))],
        &[("a", "k", "cw")],
        &[("cw", OLD)],
    );
    let api = same_principal_api();
    let tok = sb.write("new-token", format!("{NEW}\n"));
    let mut cmd = sb.cmd(Some(path_str(&k)));
    cmd.args([
        "token",
        "rotate",
        "--from-file",
        path_str(&tok),
        "--api-endpoint",
        &api.url(),
        "--verify",
        "cluster",
        "--request-timeout",
        "5s",
        "--force",
    ]);
    let (o, peak) = output_and_peak_memory(cmd);
    eprintln!("peak memory of the plugin: {} KiB", peak / 1024);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("answered 201 with a body over 1048576 bytes"),
        "{}",
        stderr(&o)
    );
    assert!(peak < 48 << 20, "peak memory {} KiB", peak / 1024);
    assert_eq!(fake.requests_with(NEW).len(), 1);
}
