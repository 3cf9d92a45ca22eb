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

/// As [`cluster_setup`], with `proxy_url` on the cluster of context b.
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
    let o = rotate(&sb, &k, &api.url(), &["--verify", "cluster"]);
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
    let o = rotate(&sb, &k, &api.url(), &["--verify", "cluster"]);
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
    let o = rotate(&sb, &k, &api.url(), &["--verify", "cluster"]);
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
    let o = rotate(&sb, &k, &api.url(), &["--verify", "cluster"]);
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

#[test]
fn minted_token_is_written_with_its_expiry() {
    let sb = Sandbox::new();
    let k = kubeconfig(&sb);
    let api = FakeCoreweave::start();
    let expire =
        kubectl_coreweave::time::format_rfc3339(kubectl_coreweave::time::unix_now() + 7200);
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
