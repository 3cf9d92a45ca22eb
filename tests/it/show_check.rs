//! `token show --check` and the expiry display, run as a user runs them: the binary, a
//! sandboxed kubeconfig, and a fake CoreWeave API on loopback.

use crate::support;

use std::process::Output;
use std::time::Duration;

use support::fake_coreweave::{FakeCoreweave, Reply};
use support::{kubeconfig, path_str, stderr, stdout, Sandbox};

const TOKEN: &str = "CW-SECRET-checktest-SHOWCANARY-cccc-0003";
const DAY: i64 = 86_400;

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn format_rfc3339(unix: i64) -> String {
    kubectl_coreweave::time::format_rfc3339(jiff::Timestamp::from_second(unix).unwrap())
}

struct Setup {
    sb: Sandbox,
    kubeconfig: String,
    fake: FakeCoreweave,
}

impl Setup {
    fn new() -> Setup {
        let sb = Sandbox::new();
        let k = sb.write(
            "config",
            kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", TOKEN)]),
        );
        Setup {
            kubeconfig: path_str(&k).to_string(),
            sb,
            fake: FakeCoreweave::start(),
        }
    }

    /// The plugin with `args` after `token show`, the API at the fake.
    fn show(&self, args: &[&str]) -> Output {
        self.sb
            .cmd(Some(&self.kubeconfig))
            .env("COREWEAVE_API_ENDPOINT", self.fake.url())
            .args(["token", "show"])
            .args(args)
            .output()
            .expect("run plugin")
    }
}

fn assert_no_token(o: &Output) {
    for (name, text) in [("stdout", stdout(o)), ("stderr", stderr(o))] {
        assert!(!text.contains("SHOWCANARY"), "token in {name}: {text}");
    }
}

#[test]
fn accepted_token_exits_0_with_a_summary_line() {
    let s = Setup::new();
    s.fake.accept_token(TOKEN, "u-123", "o-456");
    let o = s.show(&["--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Context:     c\n"), "{out}");
    assert!(
        out.contains("API check:   accepted (principal u-123, org o-456)\n"),
        "{out}"
    );
    assert_eq!(stderr(&o), "");
    assert_no_token(&o);
    let reqs = s.fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].authorization(), Some(&*format!("Bearer {TOKEN}")));
}

#[test]
fn rejected_token_prints_the_report_then_exits_1() {
    let s = Setup::new();
    s.fake.script([Reply::connect_error(
        401,
        "unauthenticated",
        "token revoked",
    )]);
    let o = s.show(&["--check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("Context:     c\n"), "report printed: {out}");
    assert!(out.contains("Token:       CW-SECRET-…0003"), "{out}");
    assert!(
        out.contains("API check:   rejected: ")
            && out.contains(
                "token rejected (invalid, revoked or expired): 401 unauthenticated: token revoked"
            ),
        "{out}"
    );
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("token rejected"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_no_token(&o);
    assert_eq!(s.fake.requests().len(), 1);
}

#[test]
fn json_carries_the_check() {
    let s = Setup::new();
    s.fake.accept_token(TOKEN, "u-1", "o-1");
    let o = s.show(&["-o", "json", "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        v["check"],
        serde_json::json!({"accepted": true, "principal": "u-1", "org": "o-1", "error": null})
    );
    assert_eq!(v["token"], "CW-SECRET-…0003");

    s.fake
        .script([Reply::connect_error(403, "permission_denied", "expired")]);
    let o = s.show(&["-o", "json", "--check", "--raw"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["check"]["accepted"], false);
    assert_eq!(v["check"]["principal"], serde_json::Value::Null);
    let error = v["check"]["error"].as_str().expect("error text");
    assert!(error.contains("403 permission_denied: expired"), "{error}");
    // A rejected token is not printed whole, even with --raw.
    assert_eq!(v["token"], "CW-SECRET-…0003");
    assert_no_token(&o);

    // Without --check there is no check field.
    let o = s.show(&["-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(v.get("check").is_none(), "{v}");
}

#[test]
fn raw_check_prints_the_token_only_when_accepted() {
    let s = Setup::new();
    let o = s.show(&["--raw", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "", "nothing on stdout for a rejected token");
    assert!(stderr(&o).contains("token rejected"), "{}", stderr(&o));
    assert_no_token(&o);

    s.fake.accept_token(TOKEN, "u", "o");
    let o = s.show(&["--raw", "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{TOKEN}\n"));
    assert_eq!(stderr(&o), "");
}

#[test]
fn network_failure_is_not_a_verdict() {
    let s = Setup::new();
    s.fake
        .script((0..10).map(|_| Reply::connect_error(500, "internal", "boom")));
    let o = s.show(&["--check"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "", "no report when the API could not say");
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("CoreWeave API answered 500 internal: boom"),
        "{err}"
    );
    assert_no_token(&o);

    let o =
        s.sb.cmd(Some(&s.kubeconfig))
            .args([
                "token",
                "show",
                "--check",
                "--api-endpoint",
                "http://127.0.0.1:9",
            ])
            .output()
            .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("cannot reach the CoreWeave API"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn without_check_the_api_is_never_called() {
    let s = Setup::new();
    s.fake.accept_token(TOKEN, "u", "o");
    for args in [
        &[][..],
        &["--raw"],
        &["-o", "json"],
        &["-o", "yaml", "--raw"],
    ] {
        let o = s.show(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(!stdout(&o).contains("API check"), "{}", stdout(&o));
    }
    // Bad API settings do not matter when the API is not called.
    let o =
        s.sb.cmd(Some(&s.kubeconfig))
            .env("COREWEAVE_API_ENDPOINT", "http://api.coreweave.com")
            .env("COREWEAVE_HTTP_TIMEOUT", "soon")
            .args(["token", "show", "--raw"])
            .output()
            .unwrap();
    assert_eq!(stdout(&o), format!("{TOKEN}\n"), "{}", stderr(&o));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(s.fake.requests().len(), 0);
}

#[test]
fn request_timeout_flag_is_validated() {
    let s = Setup::new();
    let o = s.show(&["--check", "--request-timeout", "ten"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid request timeout \"ten\" (from --request-timeout)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(s.fake.requests().len(), 0);
}

// ---- expiry from the coreweave.com/token extension ----

/// A kubeconfig whose user carries the extension with `expires` (and other keys).
fn with_extension(sb: &Sandbox, expires: &str) -> String {
    let cfg = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://k.example\n\
         contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n\
         users:\n- name: u\n  user:\n    token: {TOKEN}\n    extensions:\n\
         \x20   - name: someone.else/thing\n      extension: [1, 2]\n\
         \x20   - name: coreweave.com/token\n      extension:\n        expires: \"{expires}\"\n        source: console\n        rotatedAt: \"2025-01-01T00:00:00Z\"\n"
    );
    path_str(&sb.write("ext-config", cfg)).to_string()
}

fn show_in(sb: &Sandbox, k: &str, args: &[&str]) -> Output {
    sb.cmd(Some(k))
        .args(["token", "show"])
        .args(args)
        .output()
        .expect("run")
}

#[test]
fn expiring_in_3_days_warns_and_reports_days() {
    let sb = Sandbox::new();
    let expires = format_rfc3339(unix_now() + 3 * DAY + 3600);
    let k = with_extension(&sb, &expires);

    let o = show_in(&sb, &k, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("Expires:     {expires} (in 3 days)\n")),
        "{}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(err.starts_with("warning: token expires in 3 days"), "{err}");
    assert!(
        err.contains("https://console.coreweave.com/tokens"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let o = show_in(&sb, &k, &["-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["expires"], expires.as_str());
    assert_eq!(v["expiresInDays"], 3);
    assert_eq!(v["expired"], false);
    assert_eq!(v["tokenSource"], "console");
    assert_eq!(v["rotatedAt"], "2025-01-01T00:00:00Z");
    assert!(stderr(&o).contains("warning: token expires in 3 days"));

    // --raw keeps stdout to the token; the warning goes to stderr.
    let o = show_in(&sb, &k, &["--raw"]);
    assert_eq!(stdout(&o), format!("{TOKEN}\n"));
    assert!(stderr(&o).contains("warning: token expires in 3 days"));
}

#[test]
fn expired_token_says_so() {
    let sb = Sandbox::new();
    let expires = format_rfc3339(unix_now() - 2 * DAY - 3600);
    let k = with_extension(&sb, &expires);
    let o = show_in(&sb, &k, &[]);
    assert!(
        o.status.success(),
        "expiry alone does not fail: {}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains(&format!("Expires:     {expires} (expired 2 days ago)\n")),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).starts_with("warning: token expired 2 days ago"),
        "{}",
        stderr(&o)
    );
    let o = show_in(&sb, &k, &["-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["expired"], true);
    assert_eq!(v["expiresInDays"], -2);
}

#[test]
fn offsets_are_understood_and_a_far_expiry_is_quiet() {
    let sb = Sandbox::new();
    // 30 days and an hour ahead, written as +12:00 wall-clock time: reading the offset
    // the wrong way round would land a day later.
    let at = unix_now() + 30 * DAY + 3600;
    let local = format!(
        "{}+12:00",
        format_rfc3339(at + 12 * 3600).trim_end_matches('Z')
    );
    let k = with_extension(&sb, &local);
    let o = show_in(&sb, &k, &["-o", "json"]);
    assert_eq!(stderr(&o), "", "no warning 30 days out");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["expiresInDays"], 30);
}

#[test]
fn a_malformed_expiry_is_a_warning_not_an_error() {
    let sb = Sandbox::new();
    let k = with_extension(&sb, "next tuesday");
    let o = show_in(&sb, &k, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Expires:     next tuesday (not an RFC 3339 time)"),
        "{out}"
    );
    assert!(
        out.contains("Warning:") && out.contains("not an RFC 3339 time"),
        "{out}"
    );
}

#[test]
fn no_extension_no_expires_line() {
    let sb = Sandbox::new();
    let k = sb.write(
        "config",
        kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", TOKEN)]),
    );
    let o = show_in(&sb, path_str(&k), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("Expires"), "{}", stdout(&o));
    assert_eq!(stderr(&o), "");
    let o = show_in(&sb, path_str(&k), &["-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    for key in [
        "expires",
        "expiresInDays",
        "expired",
        "tokenSource",
        "rotatedAt",
    ] {
        assert!(v.get(key).is_none(), "{key} in {v}");
    }
}

// ---- what the API says is text to show, not to obey (issue 15) ----

/// A principal of 900 KB with escape sequences and an echo of the token, and a Connect
/// error that paints the terminal: both reach the user masked, escaped and cut.
#[test]
fn server_texts_are_masked_escaped_and_cut() {
    let s = Setup::new();
    let uid = format!(
        "\u{1b}[2J\u{1b}[31mBearer {TOKEN}\r\nAPI check:   forged {}",
        "u".repeat(900_000)
    );
    s.fake.accept_token(TOKEN, &uid, "org\u{7}\u{8}");
    let o = s.show(&["--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_no_token(&o);
    let out = stdout(&o);
    assert!(out.len() < 4_000, "{} bytes printed", out.len());
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("API check:")).count(),
        1,
        "{out}"
    );

    let s = Setup::new();
    s.fake.script([Reply::connect_error(
        401,
        "unauthenticated\u{1b}[31m",
        &format!(
            "token {TOKEN} is bad\n\u{1b}]0;owned\u{7}error: forged {}",
            "m".repeat(100_000)
        ),
    )]);
    let o = s.show(&["--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_no_token(&o);
    let all = stdout(&o) + &stderr(&o);
    assert!(all.len() < 4_000, "{} bytes printed", all.len());
    assert!(!all.chars().any(|c| c.is_control() && c != '\n'), "{all:?}");
    assert!(
        !all.lines().any(|l| l.starts_with("error: forged")),
        "{all}"
    );
}

// ---- nothing is loaded that the command does not use (issue 11) ----

/// Runs `cmd` with the system CA bundle (`SSL_CERT_FILE`, read by the platform verifier
/// on Linux) replaced by a FIFO, and says whether the plugin opened it. Opening a FIFO
/// completes only when both ends are open, so a thread holding the writing end learns of
/// the plugin's open; after the plugin exits the test opens the reading end itself to
/// release that thread, marking the open as its own.
#[cfg(target_os = "linux")]
fn reads_ca_bundle(sb: &support::Sandbox, mut cmd: std::process::Command) -> (Output, bool) {
    use std::os::unix::fs::OpenOptionsExt as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let fifo = sb.path(&format!("bundle-{}.pem", unix_now_nanos()));
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let empty_dir = sb.path("no-certs");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let plugin_done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (fifo, plugin_done) = (fifo.clone(), plugin_done.clone());
        std::thread::spawn(move || {
            let f = std::fs::OpenOptions::new().write(true).open(&fifo);
            let by_plugin = !plugin_done.load(Ordering::SeqCst);
            drop(f);
            by_plugin
        })
    };
    let out = cmd
        .env("SSL_CERT_FILE", &fifo)
        .env("SSL_CERT_DIR", &empty_dir)
        .output()
        .expect("run plugin");
    plugin_done.store(true, Ordering::SeqCst);
    let _release = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo);
    (out, writer.join().expect("writer thread"))
}

#[cfg(target_os = "linux")]
fn unix_now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// `show`, `show --check` and `rotate` against the loopback http fake, and `rotate
/// --verify none`, never read the system's CA bundle; an https endpoint does (which
/// proves the probe sees it). Linux: elsewhere the platform verifier asks the OS, not a
/// bundle file.
#[cfg(target_os = "linux")]
#[test]
fn the_ca_bundle_is_read_only_for_an_https_endpoint() {
    let s = Setup::new();
    s.fake.accept_token(TOKEN, "u-1", "o-1");
    s.fake
        .accept_token("CW-SECRET-bundle-new-9999aaaa", "u-1", "o-1");
    let new = s.sb.write("new", "CW-SECRET-bundle-new-9999aaaa\n");
    let plugin = |args: &[&str]| {
        let mut c = s.sb.cmd(Some(&s.kubeconfig));
        c.env("COREWEAVE_API_ENDPOINT", s.fake.url()).args(args);
        c
    };
    let rotate = |verify: &str| {
        plugin(&[
            "token",
            "rotate",
            "--from-file",
            path_str(&new),
            "--dry-run",
            "--verify",
            verify,
        ])
    };
    for (what, cmd) in [
        ("show", plugin(&["token", "show"])),
        ("show --raw", plugin(&["token", "show", "--raw"])),
        ("show --check", plugin(&["token", "show", "--check"])),
        ("rotate --verify none", rotate("none")),
        ("rotate --verify api", rotate("api")),
    ] {
        let (o, opened) = reads_ca_bundle(&s.sb, cmd);
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        assert!(!opened, "{what} read the system's CA bundle");
    }
    let tls = support::fake_kube::FakeKube::start(&[]);
    let mut cmd = plugin(&["token", "show", "--check", "--request-timeout", "5s"]);
    cmd.env("COREWEAVE_API_ENDPOINT", tls.url());
    let (o, opened) = reads_ca_bundle(&s.sb, cmd);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        opened,
        "an https endpoint is verified against the system's roots"
    );
}
