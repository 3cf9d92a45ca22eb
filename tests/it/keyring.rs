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

const ALICE: &str = "CW-SECRET-keyringtest-alice-0123456789abcdef";
const BOB: &str = "CW-SECRET-keyringtest-bob-fedcba9876543210";
/// A kubeconfig whose user runs another program through exec.
const OTHER_TOOL: &str = include_str!("../fixtures/exec-other-tool.yaml");
const V1_INFO: &str = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;

/// The session bus the keyring runs on; a test without one fails (never skips).
fn bus() -> OsString {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|| {
        panic!(
            "no D-Bus session: run the tests through .ci/with-keyring (see README), which \
             starts a session bus and an unlocked gnome-keyring"
        )
    })
}

/// PATH with the built plugin first, so kubectl finds `kubectl-coreweave`.
fn path_with_plugin() -> OsString {
    let dir = Path::new(support::bin()).parent().expect("bin folder");
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).expect("PATH")
}

/// The plugin in the sandbox, on the test keyring.
fn plugin(sb: &Sandbox, kubeconfig: &Path, args: &[&str]) -> Output {
    plugin_on(sb, Some(kubeconfig), &bus(), args, None)
}

fn plugin_on(
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

fn secret_tool(args: &[&str], input: Option<&str>) -> Output {
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
fn lookup(item: &str) -> Option<String> {
    let o = secret_tool(
        &["lookup", "service", "kubectl-coreweave", "username", item],
        None,
    );
    o.status.success().then(|| stdout(&o))
}

fn clear(item: &str) {
    secret_tool(
        &["clear", "service", "kubectl-coreweave", "username", item],
        None,
    );
}

/// No output of the plugin carries a token.
#[track_caller]
fn assert_no_token(o: &Output) {
    let all = format!("{}{}", stdout(o), stderr(o));
    for t in [ALICE, BOB] {
        let secret = t.strip_prefix("CW-SECRET-").expect("prefix");
        assert!(!all.contains(secret), "token leaked: {all}");
    }
}

#[track_caller]
fn one_error_line(o: &Output) -> String {
    assert!(!o.status.success(), "expected failure: {}", stdout(o));
    assert!(o.stdout.is_empty(), "stdout must stay empty: {}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_no_token(o);
    err
}

/// `kubectl auth whoami` through the kubeconfig, with the plugin on PATH.
fn kubectl_whoami(sb: &Sandbox, kubeconfig: &Path) -> Output {
    Command::new("kubectl")
        .env_clear()
        .env("PATH", path_with_plugin())
        .env("HOME", sb.path("home"))
        .env("KUBECONFIG", kubeconfig)
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .args(["auth", "whoami", "-o", "json", "--request-timeout=10s"])
        .output()
        .expect("kubectl must exist: .ci/run installs it (Debian's kubernetes-client)")
}

/// One context on the fake, users `(name, token)`; the first user is the context's.
fn kubeconfig_for(sb: &Sandbox, fake: &FakeKube, users: &[(&str, &str)]) -> PathBuf {
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
    assert!(stored.contains("provideClusterInfo: false"));

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
    let o = secret_tool(
        &[
            "store",
            "--label=test",
            "service",
            "kubectl-coreweave",
            "username",
            item,
        ],
        Some(BOB),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let sb = Sandbox::new();
    for (info, version) in [
        (Some(V1_INFO), "client.authentication.k8s.io/v1"),
        (None, "client.authentication.k8s.io/v1"),
        (
            Some(
                r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":true}}"#,
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
        Command::new("dbus-run-session")
            .args(["--", "sh", "-c", script])
            .current_dir(sb.dir.path())
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &run)
            .env("BIN", support::bin())
            .env("KUBERNETES_EXEC_INFO", V1_INFO)
            .output()
            .expect("dbus-run-session must exist: .ci/run installs dbus")
    };
    let first = session(&format!(
        "printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
         printf '%s' '{ALICE}' | secret-tool store --label=t service kubectl-coreweave username kr-locked"
    ));
    assert!(first.status.success(), "{}", stderr(&first));
    // Not interactive (what kubectl says without a terminal): no unlock prompt is raised.
    let second = session(
        "gnome-keyring-daemon --start --components=secrets >/dev/null && \
         \"$BIN\" token credential kr-locked 2>err; echo \"rc=$?\"; cat err >&2",
    );
    let out = stdout(&second);
    assert_eq!(out.trim(), "rc=1", "{out} {}", stderr(&second));
    let err = stderr(&second);
    // gnome-keyring writes to the same stderr without a line break of its own.
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
        "gnome-keyring-daemon --start --components=secrets >/dev/null && \
         KUBERNETES_EXEC_INFO='{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"spec\":{\"interactive\":true}}' \
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
    let store = |token: &str| {
        let o = secret_tool(
            &[
                "store",
                "--label=t",
                "service",
                "kubectl-coreweave",
                "username",
                item,
            ],
            Some(token),
        );
        assert!(o.status.success(), "{}", stderr(&o));
    };
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
    // Another D-Bus session (another Secret Service) never sees this copy.
    let elsewhere: OsString = format!("unix:path={}", sb.path("no-bus").display()).into();
    let o = plugin_on(
        &sb,
        None,
        &elsewhere,
        &["token", "credential", item],
        Some(V1_INFO),
    );
    one_error_line(&o);
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
    assert_eq!(lookup(item).as_deref(), Some(ALICE));
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
