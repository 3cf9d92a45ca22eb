//! `token show` run as a user runs it: output forms, masking, and one clear line for
//! every kind of bad input. The kubectl comparison lives in `differential.rs`.

use crate::support;

use support::{kubeconfig, path_str, stderr, stdout, Sandbox};

const TOKEN: &str = "CW-SECRET-showtest-aaaaaaaaaaaa-1111";
const OTHER: &str = "CW-SECRET-showtest-bbbbbbbbbbbb-2222";

fn two_clusters_one_token(sb: &Sandbox) -> String {
    let cfg = kubeconfig(
        Some("prod"),
        &[
            ("prod", "c-prod", "token"),
            ("dev", "c-dev", "token"),
            ("other", "c-dev", "other"),
        ],
        &[("token", TOKEN), ("other", OTHER)],
    );
    path_str(&sb.write("config", cfg)).to_string()
}

/// A failed run: exit 1, nothing on stdout, exactly one line on stderr that contains
/// `needle`, and no token.
fn assert_one_line_error(o: &std::process::Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert_eq!(stdout(o), "", "stdout must be empty on error");
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    for t in [TOKEN, OTHER, "CW-SECRET-leak"] {
        assert!(!err.contains(t), "token leaked: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn raw_prints_the_token_and_a_newline_only() {
    let sb = Sandbox::new();
    let k = two_clusters_one_token(&sb);
    let o = sb.run(Some(&k), &["token", "show", "--raw"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{TOKEN}\n"));
    assert_eq!(stderr(&o), "");
}

#[test]
fn summary_masks_the_token_and_names_where_it_lives() {
    let sb = Sandbox::new();
    let k = two_clusters_one_token(&sb);
    let o = sb.run(Some(&k), &["token", "show"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.contains(TOKEN), "{out}");
    assert!(out.contains("CW-SECRET-…1111"), "{out}");
    assert!(out.contains("Context:     prod"), "{out}");
    assert!(out.contains(&format!("token (in {k})")), "{out}");
    assert!(out.contains("stored in token"), "{out}");
    assert!(out.contains("Shared with: dev\n"), "{out}");
}

#[test]
fn json_and_yaml_carry_the_same_fields_masked_unless_raw() {
    let sb = Sandbox::new();
    let k = two_clusters_one_token(&sb);
    let o = sb.run(
        Some(&k),
        &["token", "show", "-o", "json", "--context", "other"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["context"], "other");
    assert_eq!(v["user"], "other");
    assert_eq!(v["cluster"], "c-dev");
    assert_eq!(v["server"], "https://c-dev.k8s.test.coreweave.com");
    assert_eq!(v["storedIn"], "token");
    assert_eq!(v["token"], "CW-SECRET-…2222");
    assert_eq!(v["sharedWith"], serde_json::json!([]));

    let o = sb.run(Some(&k), &["token", "show", "-o", "json", "--raw"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["token"], TOKEN);
    assert_eq!(v["sharedWith"], serde_json::json!(["dev"]));

    let o = sb.run(Some(&k), &["token", "show", "-o", "yaml"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("token: CW-SECRET-…1111"), "{out}");
    assert!(out.contains("context: prod"), "{out}");
    assert!(!out.contains(TOKEN));
}

#[test]
fn token_file_wins_and_is_relative_to_its_kubeconfig() {
    let sb = Sandbox::new();
    sb.write("a/tok", format!("  {OTHER}\n\n"));
    let cfg = format!(
        "current-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nclusters:\n- name: k\n  cluster: {{server: https://k}}\nusers:\n- name: u\n  user:\n    token: {TOKEN}\n    tokenFile: tok\n"
    );
    let k = sb.write("a/config", cfg);
    let o = sb.run(
        None,
        &["token", "show", "--raw", "--kubeconfig", path_str(&k)],
    );
    assert_eq!(stdout(&o), format!("{OTHER}\n"), "{}", stderr(&o));
    let o = sb.run(None, &["token", "show", "--kubeconfig", path_str(&k)]);
    let tok_path = sb.path("a").join("tok");
    assert!(
        stdout(&o).contains(&format!("stored in tokenFile {}", tok_path.display())),
        "{}",
        stdout(&o)
    );
}

#[test]
fn missing_cluster_still_shows_the_token_with_a_warning() {
    let sb = Sandbox::new();
    let cfg = format!(
        "current-context: c\ncontexts:\n- name: c\n  context: {{cluster: gone, user: u}}\nusers:\n- name: u\n  user: {{token: {TOKEN}}}\n"
    );
    let k = sb.write("config", cfg);
    let o = sb.run(Some(path_str(&k)), &["token", "show", "--raw"]);
    assert_eq!(stdout(&o), format!("{TOKEN}\n"));
    let err = stderr(&o);
    assert!(
        err.starts_with("warning: ") && err.contains("\"gone\""),
        "{err}"
    );
    let o = sb.run(Some(path_str(&k)), &["token", "show"]);
    assert!(
        stdout(&o).contains("gone (not defined in any file)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn user_flag_overrides_the_contexts_user() {
    let sb = Sandbox::new();
    let k = two_clusters_one_token(&sb);
    let o = sb.run(Some(&k), &["token", "show", "--raw", "--user", "other"]);
    assert_eq!(stdout(&o), format!("{OTHER}\n"));
}

#[test]
fn bad_input_gets_one_clear_line() {
    let sb = Sandbox::new();
    let ctx = "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n";
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed", format!("{ctx}users: [\n"), "malformed.yaml:"),
        ("not-mapping", "- a\n- b\n".into(), "not a kubeconfig"),
        ("scalar-doc", "CW-SECRET-leak-in-a-scalar\n".into(), "not a kubeconfig"),
        ("users-scalar", format!("{ctx}users: CW-SECRET-leak-as-users\n"), "users-scalar.yaml:5:8"),
        ("token-number", format!("{ctx}users:\n- name: u\n  user: {{token: 12345}}\n"), "must be quoted"),
        ("dup-user", format!("{ctx}users:\n- name: u\n  user: {{token: {TOKEN}}}\n- name: u\n  user: {{token: {OTHER}}}\n"), "two entries named \"u\""),
        ("bad-kind", format!("kind: Pod\n{ctx}"), "unsupported apiVersion/kind"),
        ("bad-version", format!("apiVersion: v2\n{ctx}"), "unsupported apiVersion/kind"),
        ("empty", String::new(), "is empty"),
        ("no-current", format!("contexts:\n- name: c\n  context: {{user: u}}\nusers:\n- name: u\n  user: {{token: {TOKEN}}}\n"), "no current context"),
        ("unknown-context", format!("current-context: nope\n{}", &ctx[18..]), "context \"nope\" is not defined"),
        ("missing-user", ctx.to_string(), "user \"u\" (named by context \"c\") is not defined"),
        ("context-no-user", "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n".into(), "names no user"),
        ("exec-user", format!("{ctx}users:\n- name: u\n  user:\n    exec: {{command: aws, apiVersion: client.authentication.k8s.io/v1beta1}}\n"), "exec credential plugin"),
        ("cert-user", format!("{ctx}users:\n- name: u\n  user:\n    client-certificate-data: AAAA\n"), "client certificate"),
        ("bare-user", format!("{ctx}users:\n- name: u\n"), "holds no credentials"),
        ("token-file-missing", format!("{ctx}users:\n- name: u\n  user: {{tokenFile: nope.txt}}\n"), "cannot read tokenFile"),
    ];
    for (name, content, needle) in cases {
        let k = sb.write(&format!("{name}.yaml"), &content);
        let o = sb.run(
            None,
            &["token", "show", "--raw", "--kubeconfig", path_str(&k)],
        );
        assert_one_line_error(&o, needle);
        assert!(
            stderr(&o).contains(path_str(&k)) || matches!(name, "unknown-context"),
            "{name}: no path in {}",
            stderr(&o)
        );
        assert_eq!(
            std::fs::read_to_string(&k).expect("fixture"),
            content,
            "{name}: file changed"
        );
    }
}

#[test]
fn kubeconfig_flag_must_name_a_readable_file() {
    let sb = Sandbox::new();
    let missing = sb.path("absent");
    let o = sb.run(None, &["token", "show", "--kubeconfig", path_str(&missing)]);
    assert_one_line_error(&o, "no such file");
    let o = sb.run(
        None,
        &["token", "show", "--kubeconfig", path_str(sb.dir.path())],
    );
    assert_one_line_error(&o, "is a directory");
    let bad = sb.write("latin1", b"users: \xff\xfe\n");
    let o = sb.run(None, &["token", "show", "--kubeconfig", path_str(&bad)]);
    assert_one_line_error(&o, "is not UTF-8");
}

#[test]
fn unreadable_kubeconfig_is_named() {
    let sb = Sandbox::new();
    // Root reads any file whatever its mode, so as root use a file whose read fails
    // anyway (/proc/self/mem at offset 0 gives EIO); otherwise a mode-000 file.
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let path = if is_root {
        std::path::PathBuf::from("/proc/self/mem")
    } else {
        let p = sb.write("locked", "current-context: c\n");
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o000))
            .expect("chmod");
        p
    };
    let o = sb.run(None, &["token", "show", "--kubeconfig", path_str(&path)]);
    assert_one_line_error(&o, &format!("cannot read kubeconfig {}", path.display()));
}

#[test]
fn oversized_kubeconfig_is_refused() {
    let sb = Sandbox::new();
    let p = sb.path("huge");
    let f = std::fs::File::create(&p).expect("create");
    f.set_len(64 * 1024 * 1024 + 1).expect("sparse file");
    let o = sb.run(None, &["token", "show", "--kubeconfig", path_str(&p)]);
    assert_one_line_error(&o, "over the 67108864 byte limit");
}

#[test]
fn no_kubeconfig_anywhere_says_where_it_looked() {
    let sb = Sandbox::new();
    let o = sb.run(None, &["token", "show"]);
    assert_one_line_error(
        &o,
        &format!(
            "no kubeconfig found (looked at {})",
            sb.path(".kube/config").display()
        ),
    );
}

#[test]
fn home_kubeconfig_is_the_default() {
    let sb = Sandbox::new();
    sb.write(
        ".kube/config",
        kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", TOKEN)]),
    );
    let o = sb.run(None, &["token", "show", "--raw"]);
    assert_eq!(stdout(&o), format!("{TOKEN}\n"), "{}", stderr(&o));
    // An empty KUBECONFIG counts as unset, as in client-go.
    let o = sb.run(Some(""), &["token", "show", "--raw"]);
    assert_eq!(stdout(&o), format!("{TOKEN}\n"), "{}", stderr(&o));
}

#[test]
fn the_shipped_sample_works() {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/coreweave-kubeconfig.yaml"
    );
    let sb = Sandbox::new();
    let o = sb.run(None, &["token", "show", "--kubeconfig", sample]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("Shared with: my-other-cluster"), "{out}");
    assert!(out.contains("CW-SECRET-…1a2b"), "{out}");
}
