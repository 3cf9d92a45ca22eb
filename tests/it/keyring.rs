//! The stored mode against a real Secret Service (Debian's gnome-keyring on a private D-Bus
//! session: run the tests through `.ci/with-keyring`, as README's test command does) and
//! the real kubectl running the exec entry against the TLS Kubernetes fake. `secret-tool`
//! gives an independent look at the keyring item. These tests never skip: without a
//! session bus they fail and say how to get one.

use crate::support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::fake_kube::{write_kubeconfig, ClusterSpec, FakeKube, FakeUser, Trust};
use support::{stderr, stdout, Sandbox};

pub(crate) const ALICE: &str = "CW-SECRET-keyringtest-alice-0123456789abcdef";
pub(crate) const BOB: &str = "CW-SECRET-keyringtest-bob-fedcba9876543210";
/// A kubeconfig whose user runs another program through exec.
const OTHER_TOOL: &str = include_str!("../fixtures/exec-other-tool.yaml");
/// The server the hand-written items below are bound to, and kubectl's exec info naming it.
const BOUND: &str = "https://bound.k8s.test.coreweave.com";
const V1_INFO: &str = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false,"cluster":{"server":"https://bound.k8s.test.coreweave.com/"}}}"#;

/// The session bus the keyring runs on; a test without one fails (never skips).
pub(crate) fn bus() -> OsString {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|| {
        panic!(
            "no D-Bus session: run the tests through .ci/with-keyring (see README), which \
             starts a session bus and an unlocked gnome-keyring"
        )
    })
}

/// PATH with the built plugin first, so kubectl finds `kubectl-coreweave`.
pub(crate) fn path_with_plugin() -> OsString {
    let dir = Path::new(support::bin()).parent().expect("bin folder");
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).expect("PATH")
}

/// The plugin in the sandbox, on the test keyring.
pub(crate) fn plugin(sb: &Sandbox, kubeconfig: &Path, args: &[&str]) -> Output {
    plugin_on(sb, Some(kubeconfig), &bus(), args, None)
}

pub(crate) fn plugin_on(
    sb: &Sandbox,
    kubeconfig: Option<&Path>,
    bus: &OsString,
    args: &[&str],
    exec_info: Option<&str>,
) -> Output {
    let mut c = sb.cmd(None);
    c.env("DBUS_SESSION_BUS_ADDRESS", bus);
    if let Some(k) = kubeconfig {
        c.env("KUBECONFIG", k);
    }
    if let Some(i) = exec_info {
        c.env("KUBERNETES_EXEC_INFO", i);
    }
    c.args(args).output().expect("run plugin")
}

pub(crate) fn secret_tool(args: &[&str], input: Option<&str>) -> Output {
    use std::io::Write;
    let mut c = Command::new("secret-tool");
    c.args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c
        .spawn()
        .expect("secret-tool must exist: .ci/run installs libsecret-tools");
    if let Some(text) = input {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("secret-tool")
}

/// The item's value as `secret-tool lookup` reads it, if any.
pub(crate) fn lookup_raw(item: &str) -> Option<String> {
    let o = secret_tool(
        &["lookup", "service", "kubectl-coreweave", "username", item],
        None,
    );
    o.status.success().then(|| stdout(&o))
}

/// The item's record (`{"kubectl-coreweave":2,"servers":[…],"token":"…"}`), read
/// independently of the plugin.
pub(crate) fn record(item: &str) -> Option<serde_json::Value> {
    let raw = lookup_raw(item)?;
    let v: serde_json::Value = serde_json::from_str(&raw).expect("the item holds a record");
    assert_eq!(v["kubectl-coreweave"], 2, "{v}");
    Some(v)
}

/// The token the item holds, if any.
pub(crate) fn lookup(item: &str) -> Option<String> {
    record(item).map(|v| v["token"].as_str().expect("token").to_string())
}

/// The servers the item is bound to.
pub(crate) fn bound_servers(item: &str) -> Vec<String> {
    record(item).map_or_else(Vec::new, |v| {
        v["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .map(|s| s["server"].as_str().expect("string").to_string())
            .collect()
    })
}

/// Writes an item behind the plugin's back: a record bound to `servers`, or (None) a bare
/// token as items were written before bindings.
pub(crate) fn put_item(item: &str, token: &str, servers: Option<&[&str]>) {
    let value = match servers {
        Some(s) => {
            let s: Vec<serde_json::Value> = s
                .iter()
                .map(|server| serde_json::json!({"server": server, "ca": "", "tlsServerName": ""}))
                .collect();
            serde_json::json!({"kubectl-coreweave": 1, "servers": s, "token": token}).to_string()
        }
        None => token.to_string(),
    };
    let o = secret_tool(
        &[
            "store",
            "--label=test",
            "service",
            "kubectl-coreweave",
            "username",
            item,
        ],
        Some(&value),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

pub(crate) fn clear(item: &str) {
    secret_tool(
        &["clear", "service", "kubectl-coreweave", "username", item],
        None,
    );
}

/// No output of the plugin carries a token.
#[track_caller]
pub(crate) fn assert_no_token(o: &Output) {
    let all = format!("{}{}", stdout(o), stderr(o));
    for t in [ALICE, BOB] {
        let secret = t.strip_prefix("CW-SECRET-").expect("prefix");
        assert!(!all.contains(secret), "token leaked: {all}");
    }
}

#[track_caller]
pub(crate) fn one_error_line(o: &Output) -> String {
    assert!(!o.status.success(), "expected failure: {}", stdout(o));
    assert!(o.stdout.is_empty(), "stdout must stay empty: {}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_no_token(o);
    err
}

/// `kubectl auth whoami` through the kubeconfig, with the plugin on PATH.
pub(crate) fn kubectl_whoami(sb: &Sandbox, kubeconfig: &Path) -> Output {
    let mut c = Command::new("kubectl");
    sb.session.join(&mut c);
    c.env_clear()
        .env("PATH", path_with_plugin())
        .env("HOME", sb.path("home"))
        .env("KUBECONFIG", kubeconfig)
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .args(["auth", "whoami", "-o", "json", "--request-timeout=10s"])
        .output()
        .expect("kubectl must exist: .ci/run installs it (Debian's kubernetes-client)")
}

/// One context on the fake, users `(name, token)`; the first user is the context's.
pub(crate) fn kubeconfig_for(sb: &Sandbox, fake: &FakeKube, users: &[(&str, &str)]) -> PathBuf {
    write_kubeconfig(
        &sb.path("config"),
        &[ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem))],
        &[("ctx", "c", users[0].0)],
        users,
    )
}

#[test]
fn store_then_kubectl_runs_the_plugin_and_unstore_gives_back_the_same_bytes() {
    let item = "kr-whoami";
    clear(item);
    let fake = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let k = kubeconfig_for(&sb, &fake, &[(item, ALICE)]);
    let original = std::fs::read(&k).expect("read");

    let dry = plugin(&sb, &k, &["token", "store", "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert_no_token(&dry);
    assert!(stdout(&dry).contains("+    exec:"), "{}", stdout(&dry));
    assert_eq!(std::fs::read(&k).expect("read"), original);
    assert_eq!(lookup(item), None, "a dry run writes no item");

    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    assert_eq!(lookup(item).as_deref(), Some(ALICE));
    let stored = std::fs::read_to_string(&k).expect("read");
    assert!(!stored.contains(ALICE), "{stored}");
    assert!(
        stored.contains(&format!("command: \"{}\"\n", support::bin()))
            && stored.contains("- credential"),
        "{stored}"
    );
    assert!(stored.contains("interactiveMode: IfAvailable"));
    assert!(stored.contains("provideClusterInfo: true"));
    assert_eq!(
        bound_servers(item),
        [fake.url()],
        "bound to the context's server"
    );

    let before = fake.requests_with(ALICE).len();
    let w = kubectl_whoami(&sb, &k);
    assert!(w.status.success(), "kubectl: {}", stderr(&w));
    let v: serde_json::Value = serde_json::from_slice(&w.stdout).expect("json");
    assert_eq!(v["status"]["userInfo"]["username"], "alice@example.com");
    assert!(
        fake.requests_with(ALICE).len() > before,
        "the fake saw the token"
    );

    let u = plugin(&sb, &k, &["token", "unstore"]);
    assert!(u.status.success(), "{}", stderr(&u));
    assert_no_token(&u);
    assert_eq!(std::fs::read(&k).expect("read"), original);
    clear(item);
}

/// The editor writes UTF-8: a UTF-16 kubeconfig (Windows PowerShell 5's `>`) is refused
/// by name, as rotate refuses it, and neither the file nor the keyring changes.
#[test]
fn store_refuses_a_utf16_kubeconfig_and_changes_nothing() {
    let item = "kr-utf16";
    clear(item);
    let fake = FakeKube::start(&[]);
    let sb = Sandbox::new();
    let k = kubeconfig_for(&sb, &fake, &[(item, ALICE)]);
    let text = std::fs::read_to_string(&k).expect("read");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&k, &utf16).expect("write");
    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(one_error_line(&o).contains("UTF-16"), "{}", stderr(&o));
    assert_no_token(&o);
    assert_eq!(std::fs::read(&k).expect("read"), utf16);
    assert_eq!(lookup(item), None, "no item is written for a refused file");
}

#[test]
fn store_all_moves_every_entry_holding_the_token() {
    let (a, b, other) = ("kr-all-a", "kr-all-b", "kr-all-other");
    for i in [a, b, other] {
        clear(i);
    }
    let fake = FakeKube::start(&[]);
    let sb = Sandbox::new();
    let k = kubeconfig_for(&sb, &fake, &[(a, ALICE), (b, ALICE), (other, BOB)]);
    let original = std::fs::read_to_string(&k).expect("read");
    let o = plugin(&sb, &k, &["token", "store", "--all"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stored = std::fs::read_to_string(&k).expect("read");
    assert!(!stored.contains(ALICE), "{stored}");
    assert_eq!(stored.matches(&format!("- {a}\n")).count(), 2, "{stored}");
    assert!(stored.contains(BOB), "another token stays inline");
    assert_eq!(lookup(a).as_deref(), Some(ALICE));
    let u = plugin(&sb, &k, &["token", "unstore", "--all"]);
    assert!(u.status.success(), "{}", stderr(&u));
    assert_eq!(std::fs::read_to_string(&k).expect("read"), original);
    clear(a);
}

#[test]
fn credential_prints_only_the_exec_credential() {
    let item = "kr-credential";
    put_item(item, BOB, Some(&[BOUND]));
    let sb = Sandbox::new();
    for (info, version) in [
        (Some(V1_INFO), "client.authentication.k8s.io/v1"),
        (
            Some(
                r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":true,"cluster":{"server":"HTTPS://Bound.K8s.Test.CoreWeave.com:443"}}}"#,
            ),
            "client.authentication.k8s.io/v1beta1",
        ),
    ] {
        let o = plugin_on(&sb, None, &bus(), &["token", "credential", item], info);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(o.stderr.is_empty(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("only JSON");
        assert_eq!(
            v,
            serde_json::json!({
                "apiVersion": version,
                "kind": "ExecCredential",
                "status": {"token": BOB},
            })
        );
    }
    clear(item);
}

#[test]
fn bad_exec_info_and_a_missing_item_are_one_line_errors() {
    let sb = Sandbox::new();
    let cases = [
        ("kr-missing", Some(V1_INFO), "has no item \"kr-missing\""),
        (
            "kr-missing",
            Some("{\"kind\":"),
            "KUBERNETES_EXEC_INFO is not JSON",
        ),
        (
            "kr-missing",
            Some(r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v2"}"#),
            "client.authentication.k8s.io/v2",
        ),
        ("-rf", Some(V1_INFO), "unexpected argument"),
        ("a b", Some(V1_INFO), "not usable"),
    ];
    for (item, info, want) in cases {
        let o = plugin_on(&sb, None, &bus(), &["token", "credential", item], info);
        assert!(!o.status.success());
        assert!(o.stdout.is_empty(), "{}", stdout(&o));
        let err = stderr(&o);
        assert!(err.contains(want), "{item} {info:?}: {err}");
    }
}

#[test]
fn without_a_keyring_store_refuses_and_changes_nothing() {
    let sb = Sandbox::new();
    let fake = FakeKube::start(&[]);
    let k = kubeconfig_for(&sb, &fake, &[("kr-nobus", ALICE)]);
    let original = std::fs::read(&k).expect("read");
    let nowhere: OsString = format!("unix:path={}", sb.path("no-bus").display()).into();
    let o = plugin_on(&sb, Some(&k), &nowhere, &["token", "store"], None);
    let err = one_error_line(&o);
    assert!(err.contains("no OS keyring is reachable"), "{err}");
    assert!(err.contains("tokenFile") && err.contains("0600"), "{err}");
    assert_eq!(std::fs::read(&k).expect("read"), original);

    let o = plugin_on(
        &sb,
        None,
        &nowhere,
        &["token", "credential", "kr-nobus"],
        Some(V1_INFO),
    );
    let err = one_error_line(&o);
    assert!(err.contains("no OS keyring is reachable"), "{err}");
}

#[test]
fn another_tools_exec_entry_is_reported_and_left_alone() {
    let sb = Sandbox::new();
    let text = OTHER_TOOL;
    let k = sb.write("config", text);
    for args in [["token", "unstore"], ["token", "store"]] {
        let o = plugin(&sb, &k, &args);
        let err = one_error_line(&o);
        assert!(err.contains("eks"), "{err}");
        assert_eq!(std::fs::read_to_string(&k).expect("read"), text);
    }
    let o = plugin(&sb, &k, &["token", "unstore"]);
    assert!(
        stderr(&o).contains("another credential plugin (\"sh\")"),
        "{}",
        stderr(&o)
    );
    assert!(!sb.path("ran").exists(), "the other program never runs");
}

/// A keyring that exists but is locked (created with a password in one session, found
/// again in the next without being unlocked): one line, and nothing printed on stdout.
#[test]
fn a_locked_keyring_is_one_line() {
    let sb = Sandbox::new();
    let home = sb.path("home");
    let run = sb.path("run");
    for d in [&home, &run] {
        std::fs::create_dir_all(d).expect("mkdir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        }
    }
    let session = |script: &str| {
        let mut c = Command::new("dbus-run-session");
        sb.session.join(&mut c);
        // The daemon's stderr goes to a file, not to our pipe: a daemon that outlives
        // its bus would otherwise hold the pipe open and `output()` would never return.
        let script = format!(
            "gk() {{ gnome-keyring-daemon \"$@\" --components=secrets >/dev/null 2>>gk.err; }}; \
             : >gk.err; {{ {script}; }}; rc=$?; cat gk.err >&2; exit $rc"
        );
        c.args(["--", "sh", "-c", &script])
            .current_dir(sb.dir.path())
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &run)
            .env("BIN", support::bin())
            .env("KUBERNETES_EXEC_INFO", V1_INFO)
            .output()
            .expect("dbus-run-session must exist: .ci/run installs dbus")
    };
    let first = session(&format!(
        "printf pw | gk --unlock && \
         printf '%s' '{ALICE}' | secret-tool store --label=t service kubectl-coreweave username kr-locked"
    ));
    assert!(first.status.success(), "{}", stderr(&first));
    // Not interactive (what kubectl says without a terminal): no unlock prompt is raised.
    let second = session(
        "gk --start && \
         \"$BIN\" token credential kr-locked 2>err; echo \"rc=$?\"; cat err >&2",
    );
    let out = stdout(&second);
    assert_eq!(out.trim(), "rc=1", "{out} {}", stderr(&second));
    let err = stderr(&second);
    let ours: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(ours.len(), 1, "{err}");
    assert!(ours[0].contains("keyring is locked"), "{err}");
    assert!(ours[0].contains("without a terminal"), "{err}");
    assert!(
        !err.contains("SystemPrompter"),
        "a prompt was raised: {err}"
    );
    assert!(!err.contains(ALICE));
    // Interactive: the keyring's own unlock prompt is asked for (here it cannot show, so
    // the read still fails, as locked).
    let third = session(
        "gk --start && \
         KUBERNETES_EXEC_INFO='{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"spec\":{\"interactive\":true,\"cluster\":{\"server\":\"https://bound.k8s.test.coreweave.com\"}}}' \
         \"$BIN\" token credential kr-locked 2>err; echo \"rc=$?\"; cat err >&2",
    );
    let err = stderr(&third);
    assert_eq!(stdout(&third).trim(), "rc=1", "{err}");
    assert!(
        err.contains("SystemPrompter"),
        "no prompt was asked for: {err}"
    );
    assert!(err.contains("keyring is locked"), "{err}");
    assert!(!err.contains(ALICE));

    // One command asks at most once, however many stored entries it reads: `token list`
    // over three entries in three items.
    let mut config = String::from("apiVersion: v1\nkind: Config\nusers:\n");
    for n in 1..=3 {
        config.push_str(&format!("- name: u{n}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      args:\n      - token\n      - credential\n      - kr-locked-{n}\n      command: kubectl-coreweave\n      interactiveMode: IfAvailable\n      provideClusterInfo: true\n"));
    }
    sb.write("three.yaml", &config);
    let store = session(&format!(
        "printf pw | gk --unlock && \
         for n in 1 2 3; do printf '%s' '{ALICE}' | secret-tool store --label=t service kubectl-coreweave username kr-locked-$n || exit 1; done"
    ));
    assert!(store.status.success(), "{}", stderr(&store));
    let list = session(
        "gk --start && \
         \"$BIN\" token list --kubeconfig three.yaml 2>err; echo \"rc=$?\"; cat err >&2",
    );
    let err = stderr(&list);
    assert_eq!(
        err.matches("Activating service name='org.gnome.keyring.SystemPrompter'")
            .count(),
        1,
        "one unlock prompt for the command: {err}"
    );
}

#[test]
fn show_follows_the_exec_entry_into_the_keyring() {
    let item = "kr-show";
    clear(item);
    let fake = FakeKube::start(&[]);
    let api = support::fake_coreweave::FakeCoreweave::start();
    api.accept_token(ALICE, "u-1", "o-1");
    let sb = Sandbox::new();
    let k = kubeconfig_for(&sb, &fake, &[(item, ALICE)]);
    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = plugin(&sb, &k, &["token", "show"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    assert!(
        stdout(&o).contains("(stored in OS keyring, item \"kr-show\")"),
        "{}",
        stdout(&o)
    );
    let o = plugin(&sb, &k, &["token", "show", "-o", "json"]);
    assert_no_token(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["storedIn"], "keyring");
    assert_eq!(v["keyringItem"], item);
    let o = plugin(&sb, &k, &["token", "show", "--raw"]);
    assert_eq!(stdout(&o), format!("{ALICE}\n"), "{}", stderr(&o));

    let mut c = sb.cmd(Some(k.to_str().expect("utf-8")));
    let o = c
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .env("COREWEAVE_API_ENDPOINT", api.url())
        .args(["token", "show", "--check"])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    assert!(
        stdout(&o).contains("accepted (principal u-1"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        api.requests()
            .last()
            .and_then(|r| r.authorization().map(str::to_string)),
        Some(format!("Bearer {ALICE}"))
    );

    clear(item);
    let o = plugin(&sb, &k, &["token", "show"]);
    let err = one_error_line(&o);
    assert!(err.contains("has no item \"kr-show\""), "{err}");
}

/// `token list` shows a stored token once, as kept in the keyring, with its user entry.
#[test]
fn list_shows_a_stored_token_as_kept_in_the_keyring() {
    let item = "kr-list";
    clear(item);
    let fake = FakeKube::start(&[]);
    let sb = Sandbox::new();
    let k = kubeconfig_for(&sb, &fake, &[(item, ALICE)]);
    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = plugin(&sb, &k, &["token", "list", "-o", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let tokens = v["tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 1, "{v}");
    let storage = &tokens[0]["holders"][0]["storage"];
    assert_eq!(storage["kind"], "keyring", "{v}");
    assert_eq!(storage["item"], item, "{v}");
    let o = plugin(&sb, &k, &["token", "list"]);
    assert!(stdout(&o).contains("keyring"), "{}", stdout(&o));
    assert_no_token(&o);
}

#[test]
fn show_reports_another_programs_exec_entry_without_running_it() {
    let sb = Sandbox::new();
    let text = OTHER_TOOL;
    let k = sb.write("config", text);
    for args in [
        &["token", "show"][..],
        &["token", "show", "--raw"],
        &["token", "show", "-o", "json"],
    ] {
        let o = plugin(&sb, &k, args);
        let err = one_error_line(&o);
        assert!(
            err.contains("another exec credential plugin (\"sh\")"),
            "{err}"
        );
    }
    assert!(!sb.path("ran").exists());
}

#[test]
fn rotate_updates_the_keyring_item_and_kubectl_sends_the_new_token() {
    let item = "kr-rotate";
    clear(item);
    let fake = FakeKube::start(&[
        (ALICE, FakeUser::new("alice@example.com")),
        (BOB, FakeUser::new("alice@example.com")),
    ]);
    let sb = Sandbox::new();
    let k = kubeconfig_for(&sb, &fake, &[(item, ALICE)]);
    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stored = std::fs::read(&k).expect("read");

    let o = plugin(
        &sb,
        &k,
        &[
            "token",
            "rotate",
            "--from-file",
            "new",
            "--verify",
            "none",
            "--dry-run",
        ],
    );
    assert!(!o.status.success(), "no such file yet");
    sb.write("new", format!("{BOB}\n"));
    let o = plugin(
        &sb,
        &k,
        &[
            "token",
            "rotate",
            "--force",
            "--from-file",
            "new",
            "--verify",
            "none",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    assert!(
        stdout(&o).contains("Updated keyring item \"kr-rotate\""),
        "{}",
        stdout(&o)
    );
    assert_eq!(lookup(item).as_deref(), Some(BOB));
    assert_eq!(
        std::fs::read(&k).expect("read"),
        stored,
        "the file keeps its exec entry"
    );

    let before = fake.requests_with(BOB).len();
    let w = kubectl_whoami(&sb, &k);
    assert!(w.status.success(), "kubectl: {}", stderr(&w));
    assert!(
        fake.requests_with(BOB).len() > before,
        "the fake saw the new token"
    );

    // With an expiry, the stored entry's extension records it, as for an inline token.
    sb.write("new", format!("{ALICE}\n"));
    let o = plugin(
        &sb,
        &k,
        &[
            "token",
            "rotate",
            "--force",
            "--from-file",
            "new",
            "--verify",
            "none",
            "--expires",
            "30d",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    let o = plugin(&sb, &k, &["token", "show", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["storedIn"], "keyring");
    // 30 days from the rotate, counted toward zero a moment later.
    let days = v["expiresInDays"].as_i64();
    assert!(matches!(days, Some(29 | 30)), "{v}");
    assert_eq!(lookup(item).as_deref(), Some(ALICE));
    let u = plugin(&sb, &k, &["token", "unstore"]);
    assert!(u.status.success(), "{}", stderr(&u));
    let text = std::fs::read_to_string(&k).expect("read");
    assert!(
        text.contains(&format!("token: {ALICE}")) && !text.contains("exec:"),
        "{text}"
    );
    clear(item);
}

/// A file write that fails after the keyring item was updated puts the old token back
/// into the item: nothing is left half rotated.
#[test]
fn a_failed_rotate_puts_the_old_token_back_into_the_keyring() {
    let (item, inline) = ("kr-rotate-fail", "kr-rotate-fail-inline");
    clear(item);
    let fake = FakeKube::start(&[]);
    let sb = Sandbox::new();
    // Two users share the token; only the active one is stored, so a rotate writes the
    // file (the other entry) and the keyring item.
    let k = kubeconfig_for(&sb, &fake, &[(item, ALICE), (inline, ALICE)]);
    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stored = std::fs::read(&k).expect("read");
    sb.write("new", format!("{BOB}\n"));
    let o = sb
        .cmd(Some(k.to_str().expect("utf-8")))
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .env("KUBECTL_COREWEAVE_FAULT", "write-fail:config")
        .args([
            "token",
            "rotate",
            "--force",
            "--from-file",
            "new",
            "--verify",
            "none",
        ])
        .output()
        .expect("run");
    let err = one_error_line(&o);
    assert!(err.contains("fault injected"), "{err}");
    assert_eq!(std::fs::read(&k).expect("read"), stored);
    assert_eq!(lookup(item).as_deref(), Some(ALICE), "old token restored");
    clear(item);
}

/// `token credential` answers from its copy in the kernel keyring for a while (kubectl runs
/// it before every command), and a write through the plugin drops the copy.
#[test]
fn credential_keeps_a_short_lived_copy_that_writes_drop() {
    let item = "kr-copy";
    let store = |token: &str| put_item(item, token, Some(&[BOUND]));
    store(ALICE);
    let sb = Sandbox::new();
    let credential = || {
        plugin_on(
            &sb,
            None,
            &bus(),
            &["token", "credential", item],
            Some(V1_INFO),
        )
    };
    let first = credential();
    assert!(stdout(&first).contains(ALICE), "{}", stderr(&first));
    // Changed behind the plugin's back: the copy still answers.
    store(BOB);
    assert!(stdout(&credential()).contains(ALICE));
    // Another session keyring (another login session) has no copy: it reads the item.
    let other = Sandbox::new();
    let o = plugin_on(
        &other,
        None,
        &bus(),
        &["token", "credential", item],
        Some(V1_INFO),
    );
    assert!(stdout(&o).contains(BOB), "{}", stderr(&o));
    // A store through the plugin drops the copy.
    let fake = FakeKube::start(&[]);
    let k = kubeconfig_for(&sb, &fake, &[("kr-copy-user", BOB)]);
    let o = plugin(&sb, &k, &["token", "store", "--item", item]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = credential();
    assert!(stdout(&after).contains(BOB), "{}", stdout(&after));
    clear(item);
}

/// A "token" far larger than any token is refused before anything is written (kubectl
/// would send it on every request; the plugin's read refuses such an item too).
#[test]
fn an_oversized_token_is_not_stored() {
    let item = "kr-huge";
    clear(item);
    let sb = Sandbox::new();
    let fake = FakeKube::start(&[]);
    let huge = format!("CW-SECRET-{}", "x".repeat(70_000));
    let k = kubeconfig_for(&sb, &fake, &[(item, &huge)]);
    let original = std::fs::read(&k).expect("read");
    let o = plugin(&sb, &k, &["token", "store"]);
    let err = one_error_line(&o);
    assert!(err.contains("over the 65536 byte limit"), "{err}");
    assert!(!err.contains("xxxx"), "{err}");
    assert_eq!(std::fs::read(&k).expect("read"), original);
    assert_eq!(lookup(item), None);
}

/// `kubeconfig import --store keyring`: the downloaded token goes straight into the keyring
/// (never into the file), the new user entry runs this plugin, and kubectl reaches the
/// cluster with it. Without a keyring, nothing is written.
#[test]
fn import_can_store_the_token_in_the_keyring() {
    let fake = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let download = sb.write(
        "Downloads/dl.yaml",
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: my-cluster\n  cluster:\n    server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: my-cluster\n  context: {{cluster: my-cluster, user: token}}\ncurrent-context: my-cluster\nusers:\n- name: token\n  user:\n    token: {ALICE}\n",
            fake.url(),
            support::fake_kube::base64_encode(fake.ca.pem.as_bytes())
        ),
    );
    let k = sb.path("kc/config");
    let dl = download.to_str().expect("utf-8");

    let nowhere: OsString = format!("unix:path={}", sb.path("no-bus").display()).into();
    let args = [
        "kubeconfig",
        "import",
        dl,
        "--verify",
        "none",
        "--store",
        "keyring",
    ];
    let o = plugin_on(&sb, Some(&k), &nowhere, &args, None);
    let err = one_error_line(&o);
    assert!(err.contains("no OS keyring is reachable"), "{err}");
    assert!(!k.exists(), "nothing may be written without a keyring");

    let item = "my-cluster";
    clear(item);
    let o = plugin(&sb, &k, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    let text = std::fs::read_to_string(&k).expect("read");
    assert!(!text.contains(ALICE), "the token is in the file:\n{text}");
    assert!(
        text.contains(&format!("command: \"{}\"", support::bin())),
        "{text}"
    );
    assert!(text.contains("provideClusterInfo: true"), "{text}");
    assert_eq!(lookup(item).as_deref(), Some(ALICE));
    assert_eq!(
        bound_servers(item),
        [fake.url()],
        "bound to the download's server"
    );
    let o = kubectl_whoami(&sb, &k);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !fake.requests_with(ALICE).is_empty(),
        "the fake saw the stored token"
    );
    // The same download again: the stored entry is recognised (its token is in the
    // keyring now), so nothing changes and the token does not come back inline.
    for again in [&args[..5], &args[..]] {
        let o = plugin(&sb, &k, again);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_no_token(&o);
        assert_eq!(std::fs::read_to_string(&k).expect("read"), text);
    }
    clear(item);
}

/// The exec entry `token store` wrote for `user` in `stored` (from `exec:` to its last
/// line), to put into another kubeconfig as an attacker who can write it would.
pub(crate) fn exec_block(stored: &str) -> String {
    let start = stored.find("exec:").expect("an exec entry");
    let end = stored[start..]
        .find("provideClusterInfo: true")
        .map(|i| start + i + "provideClusterInfo: true".len())
        .expect("provideClusterInfo");
    stored[start..end].to_string()
}

/// The issue's check: a kubeconfig that names a stored item against a server the item is
/// not bound to gets no token. The real kubectl runs the exec entry against a second TLS
/// server that records every bearer it is sent; it sees none, and kubectl shows the one
/// line that names the server and the item. The bound server, spelled differently, is
/// still served.
#[test]
fn a_stored_item_is_sent_only_to_the_servers_it_is_bound_to() {
    let item = "kr-bound";
    clear(item);
    let ours = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let evil = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let k = kubeconfig_for(&sb, &ours, &[(item, ALICE)]);
    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(bound_servers(item), [ours.url()]);
    let stored = std::fs::read_to_string(&k).expect("read");
    let w = kubectl_whoami(&sb, &k);
    assert!(w.status.success(), "kubectl: {}", stderr(&w));
    assert!(!ours.requests_with(ALICE).is_empty());

    // The hostile kubeconfig: the same exec entry, against another server (its own CA, so
    // only the item's binding stands between the token and that server). The copy in the
    // kernel keyring is warm from the command above.
    let hostile_dir = Sandbox::new();
    let hostile = kubeconfig_for(&hostile_dir, &evil, &[(item, ALICE)]);
    let text = std::fs::read_to_string(&hostile).expect("read");
    let text = text.replace(&format!("token: {ALICE}"), &exec_block(&stored));
    assert!(!text.contains(ALICE), "{text}");
    for (variant, want) in [
        (text.clone(), "is not bound to server"),
        (
            text.replace("provideClusterInfo: true", "provideClusterInfo: false"),
            "kubectl gave no cluster",
        ),
    ] {
        std::fs::write(&hostile, &variant).expect("write");
        let w = kubectl_whoami(&sb, &hostile);
        assert!(!w.status.success(), "kubectl: {}", stdout(&w));
        let err = stderr(&w);
        assert_no_token(&w);
        let ours_line: Vec<&str> = err.lines().filter(|l| l.contains("kr-bound")).collect();
        assert!(!ours_line.is_empty(), "{err}");
        assert!(err.contains(want), "{err}");
        if want.contains("not bound") {
            assert!(err.contains(&evil.url()), "the server is named: {err}");
        } else {
            assert!(err.contains("token store"), "the fix is named: {err}");
        }
        assert!(
            evil.requests().iter().all(|r| r.bearer.is_none()),
            "the other server was sent a token"
        );
    }
    assert!(evil.requests_with(ALICE).is_empty());

    // The bound server's own name, but trusted through another certificate authority (the
    // attacker's, with a proxy-url of theirs it would read the token), or not verified at
    // all: refused before kubectl connects.
    let ours_ca = support::fake_kube::base64_encode(ours.ca.pem.as_bytes());
    let evil_ca = support::fake_kube::base64_encode(evil.ca.pem.as_bytes());
    assert!(stored.contains(&ours_ca));
    let before = ours.requests_with(ALICE).len();
    for (variant, want) in [
        (stored.replace(&ours_ca, &evil_ca), "certificate authority"),
        (
            stored.replace(
                &format!("certificate-authority-data: {ours_ca}"),
                "insecure-skip-tls-verify: true",
            ),
            "insecure-skip-tls-verify",
        ),
    ] {
        std::fs::write(&hostile, &variant).expect("write");
        let w = kubectl_whoami(&sb, &hostile);
        assert!(!w.status.success(), "kubectl: {}", stdout(&w));
        assert!(stderr(&w).contains(want), "{}", stderr(&w));
        assert!(stderr(&w).contains("kr-bound"), "{}", stderr(&w));
    }
    assert_eq!(ours.requests_with(ALICE).len(), before, "nothing was sent");

    // The bound server under another spelling (a trailing slash, the scheme in capitals)
    // is the same server to kubectl, and is served.
    let respelled = stored.replace(
        &format!("server: {}", ours.url()),
        &format!("server: {}/", ours.url().replace("https://", "HTTPS://")),
    );
    assert_ne!(respelled, stored);
    std::fs::write(&k, &respelled).expect("write");
    let before = ours.requests_with(ALICE).len();
    let w = kubectl_whoami(&sb, &k);
    assert!(w.status.success(), "kubectl: {}", stderr(&w));
    assert!(ours.requests_with(ALICE).len() > before);
    clear(item);
}

/// An entry and item written before bindings (a bare token in the item,
/// `provideClusterInfo: false` in the file) are not served; the message names the one
/// command that fixes them, and after it kubectl works again.
#[test]
fn an_entry_stored_before_bindings_gets_a_one_command_fix() {
    let item = "kr-legacy";
    clear(item);
    let ours = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let k = kubeconfig_for(&sb, &ours, &[(item, ALICE)]);
    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stored = std::fs::read_to_string(&k).expect("read");
    let old_style = stored.replace("provideClusterInfo: true", "provideClusterInfo: false");
    std::fs::write(&k, &old_style).expect("write");
    put_item(item, ALICE, None);

    let w = kubectl_whoami(&sb, &k);
    assert!(!w.status.success(), "kubectl: {}", stdout(&w));
    assert!(
        stderr(&w).contains("kubectl coreweave token store"),
        "{}",
        stderr(&w)
    );
    assert!(ours.requests_with(ALICE).is_empty(), "nothing was sent");
    // The item alone from before bindings (the entry already new): refused too, warm
    // copy or not.
    std::fs::write(&k, &stored).expect("write");
    for _ in 0..2 {
        let w = kubectl_whoami(&sb, &k);
        assert!(!w.status.success(), "kubectl: {}", stdout(&w));
        assert!(stderr(&w).contains("bound to no cluster"), "{}", stderr(&w));
    }
    assert!(ours.requests_with(ALICE).is_empty(), "nothing was sent");

    // The fix: `token store` again, for the entry of the old style.
    std::fs::write(&k, &old_style).expect("write");
    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    assert!(
        stdout(&o).contains("Bound keyring item \"kr-legacy\""),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read_to_string(&k).expect("read"), stored);
    assert_eq!(bound_servers(item), [ours.url()]);
    assert_eq!(lookup(item).as_deref(), Some(ALICE));
    let w = kubectl_whoami(&sb, &k);
    assert!(w.status.success(), "kubectl: {}", stderr(&w));
    assert!(!ours.requests_with(ALICE).is_empty());
    clear(item);
}

/// The short-lived copy is keyed by the item, not by how the bus address is spelled: a
/// rotate run with the address written one way drops the copy that `token credential`
/// reads with it written another (with `,guid=`, without it, unset so the default
/// `$XDG_RUNTIME_DIR/bus` is used).
#[test]
fn rotate_drops_the_copy_however_the_bus_address_is_spelled() {
    let item = "kr-spelling";
    clear(item);
    let fake = FakeKube::start(&[]);
    let sb = Sandbox::new();
    let k = kubeconfig_for(&sb, &fake, &[(item, ALICE)]);
    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let full = bus().into_string().expect("utf-8 bus address");
    let (no_guid, _) = full
        .split_once(",guid=")
        .expect("dbus-run-session gives an address with a guid");
    let socket = no_guid
        .strip_prefix("unix:path=")
        .expect("a unix:path= address");
    let run = sb.path("run");
    std::fs::create_dir(&run).expect("mkdir");
    std::os::unix::fs::symlink(socket, run.join("bus")).expect("symlink");
    let spellings = [Some(full.as_str()), Some(no_guid), None];
    let info = format!(
        r#"{{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{{"interactive":false,"cluster":{{"server":"{}","certificate-authority-data":"{}"}}}}}}"#,
        fake.url(),
        support::fake_kube::base64_encode(fake.ca.pem.as_bytes())
    );
    let run_with = |spelling: Option<&str>, args: &[&str], exec_info: Option<&str>| {
        let mut c = sb.cmd(Some(k.to_str().expect("utf-8")));
        match spelling {
            Some(address) => c.env("DBUS_SESSION_BUS_ADDRESS", address),
            None => c.env("XDG_RUNTIME_DIR", &run),
        };
        if let Some(i) = exec_info {
            c.env("KUBERNETES_EXEC_INFO", i);
        }
        c.args(args).output().expect("run plugin")
    };
    let credential = |spelling| run_with(spelling, &["token", "credential", item], Some(&info));
    let mut current = ALICE;
    for (i, rotate_with) in spellings.iter().enumerate() {
        let read_with = spellings[(i + 1) % 3];
        let o = credential(read_with);
        assert!(stdout(&o).contains(current), "{}", stderr(&o));
        let next = if current == ALICE { BOB } else { ALICE };
        sb.write("new", format!("{next}\n"));
        let o = run_with(
            *rotate_with,
            &[
                "token",
                "rotate",
                "--force",
                "--from-file",
                "new",
                "--verify",
                "none",
            ],
            None,
        );
        assert!(
            o.status.success(),
            "rotate with {rotate_with:?}: {}",
            stderr(&o)
        );
        for spelling in spellings {
            let o = credential(spelling);
            assert!(
                stdout(&o).contains(next),
                "rotated with {rotate_with:?}, read with {spelling:?}: a stale copy answered ({})",
                stderr(&o)
            );
        }
        current = next;
    }
    clear(item);
}

/// The issue's check for rotate: with `KUBECONFIG=a.yaml:b.yaml`, the old token held
/// inline in a.yaml, in keyring item C (one entry) and item D (two entries) in b.yaml and
/// in a tokenFile, a rotate from a.yaml's context reaches every holder: afterwards
/// `token show --raw` on each prints the new token, the report names every entry and item,
/// and kubectl reaches the cluster with the new token through an item.
#[test]
fn rotate_reaches_every_holder_across_files_and_items() {
    let (item_c, item_d) = ("kr-holders-c", "kr-holders-d");
    for i in [item_c, item_d] {
        clear(i);
    }
    let fake = FakeKube::start(&[
        (ALICE, FakeUser::new("alice@example.com")),
        (BOB, FakeUser::new("alice@example.com")),
    ]);
    let sb = Sandbox::new();
    let a = write_kubeconfig(
        &sb.path("a.yaml"),
        &[ClusterSpec::new(
            "ca",
            fake.url(),
            Trust::Data(&fake.ca.pem),
        )],
        &[("ctx-a", "ca", "alice")],
        &[("alice", ALICE)],
    );
    let b = write_kubeconfig(
        &sb.path("b.yaml"),
        &[ClusterSpec::new(
            "cb",
            fake.url(),
            Trust::Data(&fake.ca.pem),
        )],
        &[
            ("ctx-bob", "cb", "bob"),
            ("ctx-carol", "cb", "carol"),
            ("ctx-dave", "cb", "dave"),
        ],
        &[
            ("bob", ALICE),
            ("carol", ALICE),
            ("dave", ALICE),
            ("other", BOB),
        ],
    );
    sb.write("erin-token", format!("{ALICE}\n"));
    let text = std::fs::read_to_string(&b).expect("read");
    let text = text.replace(
        "users:\n",
        "users:\n- name: erin\n  user:\n    tokenFile: erin-token\n",
    );
    std::fs::write(&b, text).expect("write");
    let b_only = b.to_str().expect("utf-8");
    for (user, item) in [("bob", item_c), ("carol", item_d), ("dave", item_d)] {
        let o = sb
            .cmd(Some(b_only))
            .env("DBUS_SESSION_BUS_ADDRESS", bus())
            .args(["--user", user, "token", "store", "--item", item])
            .output()
            .expect("run");
        assert!(o.status.success(), "{user}: {}", stderr(&o));
    }
    let both = format!("{}:{}", a.display(), b.display());
    let run = |args: &[&str]| {
        sb.cmd(Some(&both))
            .env("DBUS_SESSION_BUS_ADDRESS", bus())
            .args(args)
            .output()
            .expect("run")
    };
    // `token list` shows the one token with all its holders.
    let o = run(&["token", "list", "-o", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed = stdout(&o);
    for holder in ["alice", "bob", "carol", "dave", "erin"] {
        assert!(
            listed.contains(&format!("\"{holder}\"")),
            "{holder}: {listed}"
        );
    }

    sb.write("new", format!("{BOB}\n"));
    let rotate = [
        "--context",
        "ctx-a",
        "token",
        "rotate",
        "--force",
        "--from-file",
        "new",
        "--verify",
        "none",
    ];
    let mut dry = rotate.to_vec();
    dry.push("--dry-run");
    let o = run(&dry);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    let report = stdout(&o);
    for line in [
        "Would rotate the token of 5 user entries",
        "keyring item \"kr-holders-c\" of user \"bob\"",
        "keyring item \"kr-holders-d\" of user \"carol\"",
        "keyring item \"kr-holders-d\" of user \"dave\"",
        "Would update keyring item \"kr-holders-c\"",
        "Would update keyring item \"kr-holders-d\"",
    ] {
        assert!(report.contains(line), "{line}: {report}");
    }
    assert_eq!(
        lookup(item_c).as_deref(),
        Some(ALICE),
        "a dry run writes nothing"
    );

    let o = run(&rotate);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    let report = stdout(&o);
    for line in [
        "Rotated the token of 5 user entries",
        "user \"alice\" in",
        "tokenFile",
        "keyring item \"kr-holders-c\" of user \"bob\"",
        "keyring item \"kr-holders-d\" of user \"carol\"",
        "keyring item \"kr-holders-d\" of user \"dave\"",
        "Updated keyring item \"kr-holders-c\"",
        "Updated keyring item \"kr-holders-d\"",
    ] {
        assert!(report.contains(line), "{line}: {report}");
    }
    for user in ["alice", "bob", "carol", "dave", "erin", "other"] {
        let o = run(&["--user", user, "token", "show", "--raw"]);
        assert!(o.status.success(), "{user}: {}", stderr(&o));
        assert_eq!(stdout(&o).trim(), BOB, "{user} holds the new token");
    }
    // Through kubectl: an item holder's context reaches the cluster with the new token.
    let before = fake.requests_with(BOB).len();
    let w = {
        let mut c = Command::new("kubectl");
        sb.session.join(&mut c);
        c.env_clear()
            .env("PATH", path_with_plugin())
            .env("HOME", sb.path("home"))
            .env("KUBECONFIG", &both)
            .env("DBUS_SESSION_BUS_ADDRESS", bus())
            .args([
                "--context",
                "ctx-dave",
                "auth",
                "whoami",
                "--request-timeout=10s",
            ])
            .output()
            .expect("kubectl")
    };
    assert!(w.status.success(), "kubectl: {}", stderr(&w));
    assert!(fake.requests_with(BOB).len() > before);
    for i in [item_c, item_d] {
        clear(i);
    }
}

/// `unstore` writes back only what rotate would accept as a token: an emptied item or one
/// holding a space is refused, and the file keeps its exec entry.
#[test]
fn unstore_applies_rotates_token_rules() {
    let item = "kr-unstore-rules";
    clear(item);
    let fake = FakeKube::start(&[]);
    let sb = Sandbox::new();
    let k = kubeconfig_for(&sb, &fake, &[(item, ALICE)]);
    let o = plugin(&sb, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stored = std::fs::read(&k).expect("read");
    for (bad, says) in [("", "is empty"), ("CW-SECRET-a b", "a space")] {
        put_item(item, bad, Some(&[BOUND]));
        let o = plugin(&sb, &k, &["token", "unstore"]);
        let err = one_error_line(&o);
        assert!(err.contains(says), "{err}");
        assert!(err.contains(item), "{err}");
        assert_eq!(std::fs::read(&k).expect("read"), stored);
    }
    clear(item);
}

/// A program whose file name merely starts like the plugin's is another program, as kubectl
/// would run it: `show` and `rotate` name it and never read the keyring for it.
#[test]
fn a_lookalike_program_is_not_taken_for_the_plugin() {
    let sb = Sandbox::new();
    let text = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://c.k8s.test.coreweave.com\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      args:\n      - token\n      - credential\n      - kr-lookalike\n      command: /tmp/x/kubectl-coreweave.sh\n      provideClusterInfo: true\n";
    let k = sb.write("config", text);
    put_item("kr-lookalike", ALICE, Some(&[BOUND]));
    for args in [
        &["token", "show", "--raw"][..],
        &[
            "token",
            "rotate",
            "--from-file",
            "new",
            "--verify",
            "none",
            "--dry-run",
        ][..],
    ] {
        let o = plugin(&sb, &k, args);
        let err = one_error_line(&o);
        assert!(err.contains("kubectl-coreweave.sh"), "{args:?}: {err}");
        assert!(err.contains("another exec credential plugin"), "{err}");
    }
    clear("kr-lookalike");
}
