//! No secret in any output (issue 10, items 5, 6 and 12): kubeconfigs holding every kind
//! of credential in every YAML style, run through every command that prints (show in all
//! formats, rotate --dry-run, errors), and no credential may show in stdout or stderr.

use crate::support;

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use support::{path_str, stderr, stdout, Sandbox};

const OLD: &str = "CW-SECRET-aQk3Lm9Tz2Vb7Nc4-test-fake";
const NEW: &str = "CW-SECRET-fPw8Rt5Yu1Io6Ae3-test-fake";
const NEIGHBOUR: &str = "CW-SECRET-nGh2Jk7Ls4Df9Qe-test-fake";
const IN_COMMENT: &str = "CW-SECRET-cXc5Vb8Nm1Zq4Rt-test-fake";
const FOREIGN_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.fWq3Er6Ty8Kp";
const PASSWORD: &str = "pHu2Yx7Cv4Bn8Mk";
const KEY_DATA: &str = "Y2xpZW50LWtleS1zZWNyZXQtWnE3eDlRdjdMcDNS";
const CERT_DATA: &str = "Y2xpZW50LWNlcnQtc2VjcmV0LVdtNGs4SHMySmQ2WQ==";
const ID_TOKEN: &str = "iAa1Ss2Dd3Ff4Gg5Hh6";
const REFRESH: &str = "rJj7Kk8Ll9Zz0Xx1";
const ACCESS: &str = "aQq2Ww3Ee4Rr5Tt6";
const CLIENT_SECRET: &str = "cYy7Uu8Ii9Oo0Pp1";

/// Every secret of the generated files, the public prefix aside.
const SECRETS: &[&str] = &[
    OLD,
    NEW,
    NEIGHBOUR,
    IN_COMMENT,
    FOREIGN_TOKEN,
    PASSWORD,
    KEY_DATA,
    CERT_DATA,
    ID_TOKEN,
    REFRESH,
    ACCESS,
    CLIENT_SECRET,
];

const SERVER: &str = "https://org1-abc123.k8s.us-east-04a.coreweave.com";

/// Fails when 8 consecutive characters of any secret show in `text`.
fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        let s = s.strip_prefix("CW-SECRET-").unwrap_or(s);
        for w in s.as_bytes().windows(8) {
            let w = std::str::from_utf8(w).expect("ascii");
            assert!(
                !text.contains(w),
                "{what}: {w:?} of secret {s:?} shows in:\n{text}"
            );
        }
    }
}

fn assert_clean(what: &str, o: &Output) {
    assert_no_secret(&format!("{what} (stdout)"), &stdout(o));
    assert_no_secret(&format!("{what} (stderr)"), &stderr(o));
}

#[derive(Debug, Clone, Copy)]
enum Style {
    Plain,
    Double,
    Single,
    Literal,
    Folded,
    /// A double-quoted scalar continued on the next line with an escaped line break.
    DoubleSplit,
    Flow,
    Json,
}

const STYLES: &[Style] = &[
    Style::Plain,
    Style::Double,
    Style::Single,
    Style::Literal,
    Style::Folded,
    Style::DoubleSplit,
    Style::Flow,
    Style::Json,
];

/// A block scalar value at `indent` (the key's indentation) in `style`.
fn scalar(style: Style, v: &str, indent: usize) -> String {
    let pad = " ".repeat(indent + 2);
    match style {
        Style::Double => format!("\"{v}\""),
        Style::Single => format!("'{v}'"),
        Style::Literal => format!("|-\n{pad}{v}"),
        Style::Folded => format!(">-\n{pad}{v}"),
        Style::DoubleSplit => {
            let (a, b) = v.split_at(v.len() / 2);
            format!("\"{a}\\\n{pad}{b}\"")
        }
        _ => v.to_string(),
    }
}

/// The users of every file: the active one, a neighbour with another CoreWeave token, and
/// one of each other credential kind.
fn users() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        ("u", vec![("token", OLD)]),
        ("neighbour", vec![("token", NEIGHBOUR)]),
        ("foreign", vec![("token", FOREIGN_TOKEN)]),
        ("basic", vec![("username", "admin"), ("password", PASSWORD)]),
        (
            "cert",
            vec![
                ("client-certificate-data", CERT_DATA),
                ("client-key-data", KEY_DATA),
            ],
        ),
    ]
}

const OIDC: &[(&str, &str)] = &[
    ("id-token", ID_TOKEN),
    ("refresh-token", REFRESH),
    ("access-token", ACCESS),
    ("client-secret", CLIENT_SECRET),
];

/// A kubeconfig in `style` with every credential kind, the active user first in the
/// users list and the others around it, and a token in a comment.
fn kubeconfig(style: Style) -> String {
    let head = format!("# rotated last week, old one was {IN_COMMENT}\n");
    match style {
        Style::Json => {
            let mut users: Vec<serde_json::Value> = users()
                .into_iter()
                .map(|(name, kv)| {
                    let user: serde_json::Map<String, serde_json::Value> = kv
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.into()))
                        .collect();
                    serde_json::json!({"name": name, "user": user})
                })
                .collect();
            let config: serde_json::Map<String, serde_json::Value> = OIDC
                .iter()
                .map(|(k, v)| (k.to_string(), (*v).into()))
                .collect();
            users.push(serde_json::json!({"name": "oidc", "user": {"auth-provider": {"name": "oidc", "config": config}}}));
            let doc = serde_json::json!({
                "apiVersion": "v1", "kind": "Config", "current-context": "c",
                "clusters": [{"name": "k", "cluster": {"server": SERVER}}],
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                "users": users,
            });
            format!("{head}{doc}\n")
        }
        Style::Flow => {
            let mut s = format!(
                "{head}apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{{name: k, cluster: {{server: \"{SERVER}\"}}}}]\ncontexts: [{{name: c, context: {{cluster: k, user: u}}}}]\nusers: ["
            );
            for (name, kv) in users() {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                s.push_str(&format!(
                    "{{name: {name}, user: {{{}}}}}, ",
                    body.join(", ")
                ));
            }
            let body: Vec<String> = OIDC.iter().map(|(k, v)| format!("{k}: \"{v}\"")).collect();
            s.push_str(&format!(
                "{{name: oidc, user: {{auth-provider: {{name: oidc, config: {{{}}}}}}}}}]\n",
                body.join(", ")
            ));
            s
        }
        _ => {
            let mut s = format!(
                "{head}apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: {SERVER}\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\nusers:\n"
            );
            for (name, kv) in users() {
                s.push_str(&format!("- name: {name}\n  user:\n"));
                for (k, v) in kv {
                    s.push_str(&format!("    {k}: {}\n", scalar(style, v, 4)));
                }
            }
            s.push_str(
                "- name: oidc\n  user:\n    auth-provider:\n      name: oidc\n      config:\n",
            );
            for (k, v) in OIDC {
                s.push_str(&format!(
                    "        {k}: {}   # {k} of the IdP\n",
                    scalar(style, v, 8)
                ));
            }
            s
        }
    }
}

fn run_with_stdin(sb: &Sandbox, k: &str, args: &[&str], input: &str) -> Output {
    let mut child = sb
        .cmd(Some(k))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // A command refused before it reads stdin closes it: that is not the test's failure.
    let written = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    child.wait_with_output().expect("wait")
}

fn dry_run(sb: &Sandbox, k: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "token",
        "rotate",
        "--verify",
        "none",
        "--from-stdin",
        "--dry-run",
    ];
    args.extend_from_slice(extra);
    run_with_stdin(sb, k, &args, &format!("{NEW}\n"))
}

#[test]
fn no_credential_shows_in_any_output_of_any_style() {
    for &style in STYLES {
        let sb = Sandbox::new();
        let text = kubeconfig(style);
        let k = sb.write("config", &text);
        let k = path_str(&k);
        // kubectl reads the file as generated, or the test proves nothing.
        let (ok, view, err) = support::kubectl_view(sb.dir.path(), k);
        assert!(ok, "{style:?}: kubectl refuses the file: {err}\n{text}");
        let u = view["users"]
            .as_array()
            .and_then(|us| us.iter().find(|u| u["name"] == "u"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(u["user"]["token"], OLD, "{style:?}");
        let what = |c: &str| format!("{style:?} {c}");
        for args in [
            &["token", "show"][..],
            &["token", "show", "-o", "json"],
            &["token", "show", "-o", "yaml"],
        ] {
            let o = sb.run(Some(k), args);
            assert!(
                o.status.success(),
                "{}: {}",
                what(&args.join(" ")),
                stderr(&o)
            );
            assert_clean(&what(&args.join(" ")), &o);
        }
        let o = dry_run(&sb, k, &[]);
        assert!(o.status.success(), "{}: {}", what("dry-run"), stderr(&o));
        assert!(stdout(&o).contains("Dry run"), "{}", stdout(&o));
        assert_clean(&what("rotate --dry-run"), &o);
        let o = dry_run(&sb, k, &["--expires", "30d"]);
        assert_clean(&what("rotate --dry-run --expires"), &o);
        assert_eq!(
            std::fs::read_to_string(sb.path("config")).expect("read"),
            text,
            "{style:?}: a dry run wrote"
        );
    }
}

#[test]
fn dry_run_of_a_one_line_json_kubeconfig_masks_the_line() {
    let sb = Sandbox::new();
    let k = sb.write("config", kubeconfig(Style::Json));
    let o = dry_run(&sb, path_str(&k), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("-{\"apiVersion\":\"v1\""), "{out}");
    assert!(out.contains("CW-SECRET-…"), "{out}");
    assert_clean("json dry-run", &o);
}

#[test]
fn token_file_contents_do_not_show_in_a_dry_run() {
    let sb = Sandbox::new();
    sb.write("tok", format!("{OLD}\n"));
    let k = sb.write(
        "config",
        format!("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: {SERVER}\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nusers:\n- name: u\n  user:\n    tokenFile: tok\n"),
    );
    let o = dry_run(&sb, path_str(&k), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("-CW-SECRET-…"), "{out}");
    assert!(out.contains("+CW-SECRET-…"), "{out}");
    assert_clean("token file dry-run", &o);
}

/// A fixture of tests/fixtures/secrets: a hostile file whose first line says what it attacks.
fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/secrets")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Tokens pasted where a name or a version belongs are echoed by the errors that quote
/// those scalars: each must come out masked, on one line, with control characters escaped.
#[test]
fn errors_that_quote_a_scalar_mask_tokens() {
    for name in [
        "token-as-current-context.yaml",
        "token-as-api-version.yaml",
        "token-as-duplicate-name.yaml",
        "token-in-broken-yaml.yaml",
        "token-as-context-user.yaml",
    ] {
        let sb = Sandbox::new();
        let text = fixture(name);
        let k = sb.write("config", &text);
        let o = sb.run(Some(path_str(&k)), &["token", "show"]);
        assert!(!o.status.success(), "{name}: {}", stdout(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(!err.contains('\u{1b}'), "{name}: {err:?}");
        for line in text.lines().filter(|l| l.contains("CW-SECRET-")) {
            let secret = line
                .split("CW-SECRET-")
                .nth(1)
                .unwrap_or("")
                .trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let head: String = secret.chars().take(8).collect();
            assert!(!err.contains(&head), "{name}: {head:?} shows in: {err}");
        }
        let o = dry_run(&sb, path_str(&k), &[]);
        assert!(!o.status.success(), "{name}");
        assert_eq!(stderr(&o).lines().count(), 1, "{name}: {}", stderr(&o));
        assert!(!stderr(&o).contains(&NEW[10..18]), "{name}");
    }
}

/// Names and servers with control characters (a terminal escape in a context name, a
/// bidirectional override in a server) are printed escaped by show in every format
/// that a terminal shows.
#[test]
fn control_characters_in_names_and_servers_are_escaped() {
    let sb = Sandbox::new();
    let k = sb.write("config", fixture("control-characters.yaml"));
    let o = sb.run(Some(path_str(&k)), &["token", "show"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\u{9b}', '\r'] {
        assert!(!out.contains(bad), "{bad:?} in {out:?}");
    }
    assert!(out.contains("\\u{1b}[2J"), "{out}");
    assert!(out.contains("\\u{202e}"), "{out}");
    for format in ["json", "yaml"] {
        let o = sb.run(Some(path_str(&k)), &["token", "show", "-o", format]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\u{9b}', '\r'] {
            assert!(!out.contains(bad), "{format}: {bad:?} in {out:?}");
        }
        // Escaped, not altered: the document still says exactly what the file says.
        let doc: serde_json::Value = serde_saphyr::from_str(&out).expect("yaml (json is yaml)");
        assert_eq!(doc["context"], "dev\u{1b}[2J", "{format}: {out}");
        assert_eq!(doc["sharedWith"][0], "other\u{9b}31m", "{format}: {out}");
    }
    // An unknown context named with an escape: the error escapes it too.
    let o = sb.run(
        Some(path_str(&k)),
        &["token", "show", "--context", "x\u{1b}]0;owned\u{7}"],
    );
    assert!(!o.status.success());
    assert!(!stderr(&o).contains('\u{1b}'), "{:?}", stderr(&o));
}

/// Rotate refuses, with one line naming the entry and the reason, an entry that is not a
/// CoreWeave credential; --force rotates it.
#[test]
fn rotate_changes_only_coreweave_credentials_unless_forced() {
    for (name, reason) in [
        (
            "foreign-cluster.yaml",
            "context \"corp\" sends its token to https://k8s.corp.example:6443, which is not a CoreWeave cluster",
        ),
        (
            "foreign-token.yaml",
            "its token is not a CoreWeave API access token",
        ),
    ] {
        let sb = Sandbox::new();
        let text = fixture(name);
        let k = sb.write("config", &text);
        let k = path_str(&k);
        let args = ["token", "rotate", "--verify", "none", "--from-stdin"];
        let o = run_with_stdin(&sb, k, &args, &format!("{NEW}\n"));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(reason), "{name}: {err}");
        assert!(err.contains("user \"") && err.contains(k), "{name}: {err}");
        assert!(err.contains("--force"), "{name}: {err}");
        assert_clean(name, &o);
        assert_eq!(std::fs::read_to_string(k).expect("read"), text, "{name}");
        // Refused before a token is read: with nothing on stdin, the same line.
        let o = sb.run(Some(k), &args);
        assert!(stderr(&o).contains(reason), "{name}: {}", stderr(&o));

        let forced: Vec<&str> = args.iter().copied().chain(["--force"]).collect();
        let o = run_with_stdin(&sb, k, &forced, &format!("{NEW}\n"));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(std::fs::read_to_string(k).expect("read").contains(NEW));
    }
}

/// New tokens are refused unless they have the CoreWeave shape; invisible and non-ASCII
/// characters are refused even with --force; a byte-order mark before the token is not
/// part of it.
#[test]
fn new_tokens_are_validated_for_shape() {
    let sb = Sandbox::new();
    let text = support::kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", OLD)]);
    let k = sb.write("config", &text);
    let k = path_str(&k);
    for (token, force, needle) in [
        ("CW-SECRET-", false, "is not a CoreWeave API access token"),
        ("CW-SECRET-ab", false, "is not a CoreWeave API access token"),
        (
            "CW-SECRET-abc$defgh",
            false,
            "is not a CoreWeave API access token",
        ),
        (
            "CW-SECRET-abc\u{200b}defgh",
            true,
            "contains U+200B at character 14",
        ),
        (
            "CW-SECRET-abcdefgh\u{7f}",
            true,
            "contains U+007F at character 19",
        ),
        (
            "CW-SECRET-abcdéfgh",
            true,
            "contains U+00E9 at character 15",
        ),
        (
            "\u{202e}CW-SECRET-abcdefgh",
            true,
            "contains U+202E at character 1",
        ),
    ] {
        let tok = sb.write("new-token", token);
        let mut args = vec![
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-file",
            path_str(&tok),
        ];
        if force {
            args.push("--force");
        }
        let o = sb.run(Some(k), &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{token:?}: {err}");
        assert!(err.contains(needle), "{token:?}: {err}");
        assert!(!err.contains("abcd"), "{token:?}: {err}");
        assert_eq!(std::fs::read_to_string(k).expect("read"), text);
    }
    // A BOM (Windows Notepad) before the token in a file and on stdin.
    let tok = sb.write("new-token", format!("\u{feff}{NEW}\r\n"));
    let o = sb.run(
        Some(k),
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
    let after = std::fs::read_to_string(k).expect("read");
    assert!(after.contains(&format!("token: {NEW}\n")), "{after:?}");
    let args = ["token", "rotate", "--verify", "none", "--from-stdin"];
    let o = run_with_stdin(&sb, k, &args, &format!("\u{feff}{OLD}\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(k).expect("read");
    assert!(after.contains(&format!("token: {OLD}\n")), "{after:?}");
}

/// Errors about the --from-kubeconfig file name that flag (not --kubeconfig), and no
/// error carries an OS error number.
#[test]
fn from_kubeconfig_errors_name_that_flag() {
    let sb = Sandbox::new();
    let text = support::kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", OLD)]);
    let k = sb.write("config", &text);
    let k = path_str(&k);
    sb.write("broken", "users: [\n");
    std::fs::create_dir(sb.path("a-folder")).expect("mkdir");
    for (file, needle) in [
        ("missing", "--from-kubeconfig missing: no such file"),
        ("broken", "--from-kubeconfig broken: kubeconfig broken:"),
        (
            "a-folder",
            "--from-kubeconfig a-folder: kubeconfig a-folder is a directory",
        ),
    ] {
        let o = sb.run(
            Some(k),
            &[
                "token",
                "rotate",
                "--verify",
                "none",
                "--from-kubeconfig",
                file,
            ],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{file}: {err}");
        assert!(err.contains(needle), "{file}: {err}");
        assert!(!err.contains("given with --kubeconfig"), "{file}: {err}");
        assert!(!err.contains("(os error"), "{file}: {err}");
    }
    for args in [
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-file",
            "a-folder",
        ][..],
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-file",
            "missing",
        ],
    ] {
        let o = sb.run(Some(k), args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(!stderr(&o).contains("(os error"), "{}", stderr(&o));
    }
}

/// `--verify none` is suggested when the API cannot be reached, not when it answers wrongly.
#[test]
fn the_verify_none_hint_only_where_it_applies() {
    let sb = Sandbox::new();
    let text = support::kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", OLD)]);
    let k = sb.write("config", &text);
    let k = path_str(&k);
    let tok = sb.write("new", format!("{NEW}\n"));
    let run = |api: &str| {
        sb.run(
            Some(k),
            &[
                "token",
                "rotate",
                "--from-file",
                path_str(&tok),
                "--api-endpoint",
                api,
                "--request-timeout",
                "2s",
            ],
        )
    };
    let api = support::fake_coreweave::FakeCoreweave::start();
    api.script([support::fake_coreweave::Reply::connect_error(
        404,
        "not_found",
        "no such procedure",
    )]);
    let o = run(&api.url());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("404"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("--verify none"), "{}", stderr(&o));
    let o = run("http://127.0.0.1:9");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--verify none skips the check"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(k).expect("read"), text);
}

/// A past `--expires` is refused before anything is read or written.
#[test]
fn a_past_expiry_is_refused() {
    let sb = Sandbox::new();
    let text = support::kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", OLD)]);
    let k = sb.write("config", &text);
    let k = path_str(&k);
    for when in ["2020-01-01T00:00:00Z", "0d", "2000-06-01T00:00:00+02:00"] {
        let args = [
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-stdin",
            "--expires",
            when,
        ];
        let o = run_with_stdin(&sb, k, &args, &format!("{NEW}\n"));
        assert_eq!(o.status.code(), Some(1), "{when}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("is not in the future"),
            "{when}: {}",
            stderr(&o)
        );
        assert_eq!(std::fs::read_to_string(k).expect("read"), text, "{when}");
    }
}

/// The dry run shows inserted lines as they will be written (no `…` after a key that merely
/// contains "token"), and `-o json|yaml` carry the expiry warning show prints.
#[test]
fn dry_run_inserted_lines_and_structured_warnings() {
    let sb = Sandbox::new();
    let text = support::kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", OLD)]);
    let k = sb.write("config", &text);
    let k = path_str(&k);
    let o = dry_run(&sb, k, &["--expires", "2d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("\n+  - name: coreweave.com/token\n")
            || out.contains("\n+    - name: coreweave.com/token\n"),
        "{out}"
    );
    for line in out
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
    {
        assert!(
            !line.ends_with('…') && !line.ends_with("… "),
            "{line:?} in\n{out}"
        );
    }
    let o = run_with_stdin(
        &sb,
        k,
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-stdin",
            "--expires",
            "2d",
        ],
        &format!("{NEW}\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for format in ["json", "yaml"] {
        let o = sb.run(Some(k), &["token", "show", "-o", format]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("warning: token expires in"),
            "{}",
            stderr(&o)
        );
        let doc: serde_json::Value = if format == "json" {
            serde_json::from_str(&stdout(&o)).expect("json")
        } else {
            let v: serde_json::Value = serde_saphyr::from_str(&stdout(&o)).expect("yaml");
            v
        };
        let warnings = doc["warnings"].as_array().cloned().unwrap_or_default();
        assert!(
            warnings.iter().any(|w| w
                .as_str()
                .is_some_and(|w| w.starts_with("token expires in"))),
            "{format}: {doc}"
        );
    }
    // The summary prints it once, on stderr, not again among its own lines.
    let o = sb.run(Some(k), &["token", "show"]);
    assert_eq!(
        (stdout(&o) + &stderr(&o))
            .matches("token expires in")
            .count(),
        1,
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
}

/// README's first rotate example puts no token on a command line, and it works as shown.
#[test]
fn readme_rehearsal_reads_the_token_from_a_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let block = readme
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or(""))
        .find(|b| b.contains("token rotate"))
        .expect("a rotate example");
    assert!(!block.contains("CW-SECRET-"), "{block}");
    let command = block.replace("\\\n", " ");
    let args: Vec<&str> = command
        .split_whitespace()
        .skip_while(|w| *w != "--")
        .skip(1)
        .collect();
    let before = std::fs::read(root.join("examples/coreweave-kubeconfig.yaml")).expect("read");
    let o = std::process::Command::new(support::bin())
        .args(&args)
        .current_dir(root)
        .env("COREWEAVE_API_ENDPOINT", "http://127.0.0.1:9")
        .output()
        .expect("run");
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    assert!(
        stdout(&o).contains("Dry run: nothing was written."),
        "{}",
        stdout(&o)
    );
    assert_clean("README rehearsal", &o);
    let after = std::fs::read(root.join("examples/coreweave-kubeconfig.yaml")).expect("read");
    assert_eq!(before, after);
}

/// Completion prints kubeconfig names too: a name holding a token or a control character
/// (which would also break the protocol's lines) is not offered, and the help column masks.
#[test]
fn completion_offers_no_token_and_no_control_character() {
    let sb = Sandbox::new();
    let text = format!(
        "apiVersion: v1\nkind: Config\ncontexts:\n- name: good\n  context: {{user: {NEIGHBOUR}}}\n- name: {OLD}\n  context: {{user: u}}\n- name: \"bad\\e[2J\"\n  context: {{user: u}}\nusers:\n- name: u\n  user: {{token: {NEW}}}\n- name: {IN_COMMENT}\n  user: {{token: {NEW}}}\n"
    );
    let k = sb.write("config", &text);
    for args in [
        &["__complete", "token", "show", "--context", ""][..],
        &["__complete", "token", "show", "--user", ""],
    ] {
        let o = sb.run(Some(path_str(&k)), args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_clean("completion", &o);
        assert!(!stdout(&o).contains('\u{1b}'), "{:?}", stdout(&o));
    }
    let o = sb.run(
        Some(path_str(&k)),
        &["__complete", "token", "show", "--context", ""],
    );
    assert!(
        stdout(&o).starts_with("good\tuser CW-SECRET-…"),
        "{}",
        stdout(&o)
    );
}
