//! `kubeconfig import`: Console downloads merged into the kubeconfig kubectl writes to, with
//! the real kubectl as the judge of the result and as the client of the imported clusters.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::support;
use support::fake_coreweave::FakeCoreweave;
use support::fake_kube::{FakeKube, FakeUser};
use support::{kubectl_view, path_str, stderr, stdout, Sandbox};

const TOKEN_A: &str = "CW-SECRET-fake-import-aaaaaaaaaaaaaaaa1111";
const TOKEN_B: &str = "CW-SECRET-fake-import-bbbbbbbbbbbbbbbb2222";
const TOKEN_C: &str = "CW-SECRET-fake-import-cccccccccccccccc3333";

/// A kubeconfig as the Console downloads it: generic names (user `token`, cluster and context
/// named after the cluster), the token inline.
fn download(server: &str, ca_data: Option<&str>, token: &str) -> String {
    let ca = ca_data
        .map(|d| format!("    certificate-authority-data: {d}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n{ca}    server: {server}\n  name: my-cluster\ncontexts:\n- context:\n    cluster: my-cluster\n    namespace: default\n    user: token\n  name: my-cluster\ncurrent-context: my-cluster\nkind: Config\npreferences: {{}}\nusers:\n- name: token\n  user:\n    token: {token}\n"
    )
}

fn import(sb: &Sandbox, kubeconfig_env: Option<&str>, args: &[&str]) -> Output {
    let mut all = vec!["kubeconfig", "import"];
    all.extend_from_slice(args);
    sb.run(kubeconfig_env, &all)
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}

/// No whole token in anything the command printed.
fn no_token_in(o: &Output) {
    for t in [TOKEN_A, TOKEN_B, TOKEN_C] {
        assert!(!stdout(o).contains(t), "token on stdout: {}", stdout(o));
        assert!(!stderr(o).contains(t), "token on stderr: {}", stderr(o));
    }
}

/// `kubectl auth whoami --context C`: the username the cluster saw, or None.
fn whoami(sb: &Sandbox, kubeconfig_env: &str, context: &str) -> Option<String> {
    let o = Command::new("kubectl")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.dir.path())
        .env("KUBECONFIG", kubeconfig_env)
        .args([
            "auth",
            "whoami",
            "-o",
            "json",
            "--request-timeout=10s",
            "--context",
            context,
        ])
        .output()
        .expect("kubectl must be installed (.ci/run installs it)");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    v["status"]["userInfo"]["username"]
        .as_str()
        .map(str::to_owned)
}

/// kubectl sorts each list by name; so does the comparison.
fn by_name(mut view: serde_json::Value) -> serde_json::Value {
    for list in ["clusters", "contexts", "users"] {
        if let Some(a) = view[list].as_array_mut() {
            a.sort_by(|x, y| x["name"].as_str().cmp(&y["name"].as_str()));
        }
    }
    view
}

fn contexts(view: &serde_json::Value) -> Vec<String> {
    view["contexts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Two downloads with the same generic names and different tokens: after importing both,
/// each cluster gets its own token. Listing both files in KUBECONFIG (the control) gives
/// the second cluster the first file's token, which its server refuses.
#[test]
fn two_downloads_with_the_same_names_each_keep_their_token() {
    let sb = Sandbox::new();
    let fake_a = FakeKube::start(&[(TOKEN_A, FakeUser::new("alice@org-a"))]);
    let fake_b = FakeKube::start(&[(TOKEN_B, FakeUser::new("bob@org-b"))]);
    let a = sb.write(
        "Downloads/a.yaml",
        download(&fake_a.url(), Some(&fake_a.ca.data()), TOKEN_A),
    );
    let b = sb.write(
        "Downloads/b.yaml",
        download(&fake_b.url(), Some(&fake_b.ca.data()), TOKEN_B),
    );

    // The control: client-go's first-wins merge gives context my-cluster (from a) the
    // user `token` from a, and b's cluster never gets its own token.
    let both = format!("{}:{}", path_str(&a), path_str(&b));
    let (_, naive, _) = kubectl_view(sb.dir.path(), &both);
    assert_eq!(contexts(&naive), ["my-cluster"], "{naive}");

    let target = sb.path(".kube/config");
    for f in [&a, &b] {
        let o = import(&sb, None, &[path_str(f), "--verify", "none"]);
        ok(&o);
        no_token_in(&o);
    }
    let env = path_str(&target);
    let (loads, view, err) = kubectl_view(sb.dir.path(), env);
    assert!(loads, "{err}");
    let names = contexts(&view);
    assert_eq!(names.len(), 2, "{view}");
    let mut seen = Vec::new();
    for name in &names {
        seen.push(whoami(&sb, env, name));
    }
    seen.sort();
    assert_eq!(
        seen,
        [Some("alice@org-a".to_owned()), Some("bob@org-b".to_owned())],
        "{view}"
    );
    assert_eq!(fake_a.requests_with(TOKEN_B).len(), 0);
    assert_eq!(fake_b.requests_with(TOKEN_A).len(), 0);
    // The first import set current-context (there was none); the second left it.
    assert_eq!(view["current-context"], names[0].as_str());
}

/// kubectl's view after import is the old view plus exactly the imported entries, renamed;
/// every byte of the old file stays (comments and layout included).
#[test]
fn import_adds_exactly_the_entries_and_keeps_every_byte() {
    let sb = Sandbox::new();
    let old = "# my kubeconfig, hand-kept\napiVersion: v1\nkind: Config\nclusters:\n  - name: my-cluster   # same name as the download's\n    cluster:\n      server: https://old.example:6443\ncontexts:\n  - name: my-cluster\n    context: {cluster: my-cluster, user: token}\ncurrent-context: my-cluster\nusers:\n  - name: token\n    user:\n      token: \"CW-SECRET-fake-import-oooooooooooooooo0000\"\n# end\n";
    let target = sb.write("kc/config", old);
    let env = path_str(&target).to_owned();
    let (_, before, _) = kubectl_view(sb.dir.path(), &env);
    let dl = sb.write(
        "dl.yaml",
        download(
            "https://cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com",
            None,
            TOKEN_A,
        ),
    );
    let o = import(&sb, Some(&env), &[path_str(&dl), "--verify", "none"]);
    ok(&o);
    no_token_in(&o);
    let text = std::fs::read_to_string(&target).unwrap();
    // The original text survives as a subsequence of lines, in order.
    let mut lines = text.lines();
    for l in old.lines() {
        assert!(lines.any(|x| x == l), "line {l:?} lost:\n{text}");
    }
    let (loads, after, err) = kubectl_view(sb.dir.path(), &env);
    assert!(loads, "{err}\n{text}");
    let mut expected = before.clone();
    let name = "my-cluster-cw9f3a";
    expected["clusters"].as_array_mut().unwrap().push(serde_json::json!(
        {"name": name, "cluster": {"server": "https://cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com"}}
    ));
    expected["contexts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(
            {"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}
        ));
    expected["users"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(
            {"name": name, "user": {"token": TOKEN_A}}
        ));
    assert_eq!(by_name(after), by_name(expected), "{text}");
    assert!(stdout(&o).contains(name), "{}", stdout(&o));
}

#[test]
fn importing_the_same_file_twice_changes_nothing() {
    let sb = Sandbox::new();
    let target = sb.write(
        "kc/config",
        support::kubeconfig(Some("c1"), &[("c1", "c1", "u1")], &[("u1", TOKEN_C)]),
    );
    let env = path_str(&target).to_owned();
    let dl = sb.write(
        "dl.yaml",
        download("https://cw1-2.k8s.z.coreweave.com", None, TOKEN_A),
    );
    ok(&import(
        &sb,
        Some(&env),
        &[path_str(&dl), "--verify", "none"],
    ));
    let once = std::fs::read(&target).unwrap();
    let o = import(&sb, Some(&env), &[path_str(&dl), "--verify", "none"]);
    ok(&o);
    assert_eq!(std::fs::read(&target).unwrap(), once);
    assert!(stdout(&o).contains("nothing to add"), "{}", stdout(&o));
    // current-context was set, so it stays c1.
    let (_, view, _) = kubectl_view(sb.dir.path(), &env);
    assert_eq!(view["current-context"], "c1");
}

#[test]
fn a_second_cluster_with_the_same_token_shares_one_user_entry() {
    let sb = Sandbox::new();
    let target = sb.path("kc/config");
    let env = path_str(&target).to_owned();
    let one = sb.write(
        "one.yaml",
        download("https://cw1-aaa.k8s.z.coreweave.com", None, TOKEN_A),
    );
    let two = sb.write(
        "two.yaml",
        download("https://cw1-bbb.k8s.z.coreweave.com", None, TOKEN_A),
    );
    ok(&import(
        &sb,
        Some(&env),
        &[path_str(&one), "--verify", "none", "--kubeconfig", &env],
    ));
    ok(&import(
        &sb,
        Some(&env),
        &[path_str(&two), "--verify", "none", "--kubeconfig", &env],
    ));
    let (_, view, _) = kubectl_view(sb.dir.path(), &env);
    assert_eq!(view["users"].as_array().map(Vec::len), Some(1), "{view}");
    assert_eq!(view["contexts"].as_array().map(Vec::len), Some(2), "{view}");
}

#[test]
fn dry_run_writes_nothing_and_shows_a_masked_diff() {
    let sb = Sandbox::new();
    let target = sb.write(
        "kc/config",
        support::kubeconfig(Some("c1"), &[("c1", "c1", "u1")], &[("u1", TOKEN_C)]),
    );
    let before = std::fs::read(&target).unwrap();
    let env = path_str(&target).to_owned();
    let dl = sb.write(
        "dl.yaml",
        download("https://cw1-2.k8s.z.coreweave.com", None, TOKEN_A),
    );
    let o = import(
        &sb,
        Some(&env),
        &[path_str(&dl), "--verify", "none", "--dry-run"],
    );
    ok(&o);
    no_token_in(&o);
    assert!(
        stdout(&o).contains("+    token: CW-SECRET-…1111"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read(&target).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(sb.path("kc")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    // A dry run into a file that does not exist creates neither it nor its folder.
    let o = import(&sb, None, &[path_str(&dl), "--verify", "none", "--dry-run"]);
    ok(&o);
    assert!(!sb.path(".kube").exists());
}

#[test]
fn a_missing_target_is_created_private() {
    let sb = Sandbox::new();
    let dl = sb.write(
        "dl.yaml",
        download("https://cw1-2.k8s.z.coreweave.com", None, TOKEN_A),
    );
    ok(&import(&sb, None, &[path_str(&dl), "--verify", "none"]));
    let dir = std::fs::metadata(sb.path(".kube")).unwrap();
    let file = std::fs::metadata(sb.path(".kube/config")).unwrap();
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    assert_eq!(file.permissions().mode() & 0o777, 0o600);
    let (loads, view, err) = kubectl_view(sb.dir.path(), path_str(&sb.path(".kube/config")));
    assert!(loads, "{err}");
    assert_eq!(view["current-context"], "my-cluster-cw1");
}

/// kubectl writes new entries to the first KUBECONFIG file that exists; so does import.
#[test]
fn the_target_is_the_file_kubectl_writes_to() {
    let sb = Sandbox::new();
    let second = sb.write(
        "b/config",
        support::kubeconfig(Some("c1"), &[("c1", "c1", "u1")], &[("u1", TOKEN_C)]),
    );
    let second_before = std::fs::read(&second).unwrap();
    let env = format!("{}:{}", path_str(&sb.path("a/missing")), path_str(&second));
    let dl = sb.write(
        "dl.yaml",
        download("https://cw1-2.k8s.z.coreweave.com", None, TOKEN_A),
    );
    ok(&import(
        &sb,
        Some(&env),
        &[path_str(&dl), "--verify", "none"],
    ));
    assert!(!sb.path("a/missing").exists());
    assert_ne!(std::fs::read(&second).unwrap(), second_before);
    let (_, view, _) = kubectl_view(sb.dir.path(), &env);
    assert_eq!(contexts(&view).len(), 2, "{view}");
}

#[test]
fn malformed_and_foreign_downloads_are_refused_and_nothing_is_written() {
    let sb = Sandbox::new();
    let target = sb.write(
        "kc/config",
        support::kubeconfig(Some("c1"), &[("c1", "c1", "u1")], &[("u1", TOKEN_C)]),
    );
    let before = std::fs::read(&target).unwrap();
    let env = path_str(&target).to_owned();
    for (name, body, says) in [
        ("broken.yaml", format!("apiVersion: v1\nusers: [\n  - token: {TOKEN_A}\n"), "broken.yaml"),
        ("notes.txt", format!("my token is {TOKEN_A}\n"), "notes.txt"),
        ("empty.yaml", String::new(), "no contexts"),
        ("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n".to_owned(), "pod.yaml"),
        ("dangling.yaml", "apiVersion: v1\nkind: Config\ncontexts:\n- name: x\n  context: {cluster: nowhere, user: nobody}\n".to_owned(), "does not define"),
        ("dup.yaml", download("https://cw1-2.k8s.z.coreweave.com", None, TOKEN_A).replace("users:\n", "users:\n- name: token\n  user: {token: x}\n"), "dup.yaml"),
    ] {
        let dl = sb.write(name, body);
        let o = import(&sb, Some(&env), &[path_str(&dl), "--verify", "none"]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{name}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{name}: {}", stderr(&o));
        no_token_in(&o);
        assert_eq!(std::fs::read(&target).unwrap(), before, "{name}");
    }
}

/// A download with merge keys is copied as kubectl reads it: `<<` applies where it stands
/// (go-yaml's rule), so the merged `server` overwrites the explicit one written before it,
/// where YAML's own rule would keep the explicit one. (Import used to refuse such a
/// download, because it copied entries from a reading with YAML's rule.)
#[test]
fn merge_keys_in_a_download_are_copied_as_kubectl_reads_them() {
    let sb = Sandbox::new();
    let target = sb.write(
        "kc/config",
        support::kubeconfig(Some("c1"), &[("c1", "c1", "u1")], &[("u1", TOKEN_C)]),
    );
    let env = path_str(&target).to_owned();
    let dl = sb.write(
        "merged.yaml",
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: &base {{server: 'https://cw1-2.k8s.z.coreweave.com'}}\n- name: d\n  cluster:\n    server: https://cw1-3.k8s.z.coreweave.com\n    <<: *base\ncontexts:\n- name: x\n  context: {{cluster: d, user: u}}\nusers:\n- name: u\n  user: {{token: {TOKEN_A}}}\n"),
    );
    let (loads, download, _) = kubectl_view(sb.dir.path(), path_str(&dl));
    assert!(loads);
    let server_of = |view: &serde_json::Value, context: &str| {
        let cluster = view["contexts"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == context))
            .map(|c| c["context"]["cluster"].clone())
            .unwrap_or_default();
        view["clusters"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == cluster))
            .map(|c| c["cluster"]["server"].clone())
            .unwrap_or_default()
    };
    let kubectl_reads = server_of(&download, "x");
    assert_eq!(kubectl_reads, "https://cw1-2.k8s.z.coreweave.com");
    let o = import(&sb, Some(&env), &[path_str(&dl), "--verify", "none"]);
    ok(&o);
    no_token_in(&o);
    let (_, view, _) = kubectl_view(sb.dir.path(), &env);
    let imported: Vec<String> = contexts(&view).into_iter().filter(|c| c != "c1").collect();
    assert_eq!(imported.len(), 1, "{view}");
    assert_eq!(server_of(&view, &imported[0]), kubectl_reads, "{view}");
}

/// A FIFO given as the download is refused at once, not waited on.
#[test]
fn a_fifo_download_is_refused_without_waiting() {
    let sb = Sandbox::new();
    let fifo = sb.path("dl.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let o = import(&sb, None, &[path_str(&fifo), "--verify", "none"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    assert!(!sb.path(".kube").exists());
}

/// A download whose user runs this plugin's `token credential` (however the program is
/// spelled or wrapped) is no Console download: it would hand a keyring item to the
/// download's server. Refused by name, with `--set-current` too, and nothing is written.
#[test]
fn a_download_running_this_plugin_is_refused() {
    let sb = Sandbox::new();
    let target = sb.path("kc/config");
    let env = path_str(&target).to_owned();
    for (i, exec) in [
        "command: kubectl-coreweave\n      args: [token, credential, alice]",
        "command: /home/u/.krew/bin/kubectl-coreweave\n      args: [token, credential, alice]",
        "command: 'C:\\krew\\bin\\KUBECTL-COREWEAVE.EXE'\n      args: [token, credential, alice]",
        "command: kubectl\n      args: [coreweave, token, credential, alice]",
        "command: sh\n      args: [-c, 'exec kubectl-coreweave token credential alice']",
        "command: /tmp/x/kubectl-coreweave.sh\n      args: [token, credential, alice]",
    ]
    .iter()
    .enumerate()
    {
        let dl = sb.write(
            &format!("dl{i}.yaml"),
            format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://evil.example.com'}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: alice}}\ncurrent-context: c\nusers:\n- name: alice\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      {exec}\n"),
        );
        for extra in [&[][..], &["--set-current"][..]] {
            let mut args = vec![path_str(&dl), "--verify", "none"];
            args.extend_from_slice(extra);
            let o = import(&sb, Some(&env), &args);
            assert_eq!(o.status.code(), Some(1), "{exec}: {}", stdout(&o));
            let err = stderr(&o);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains("runs kubectl-coreweave"), "{exec}: {err}");
            assert!(err.contains("https://evil.example.com"), "{err}");
            assert!(!target.exists(), "{exec}: nothing may be written");
        }
    }
}

#[test]
fn exec_and_client_certificate_users_are_imported_as_they_are_with_a_note() {
    let sb = Sandbox::new();
    let target = sb.path("kc/config");
    let env = path_str(&target).to_owned();
    let dl = sb.write(
        "dl.yaml",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://cw1-2.k8s.z.coreweave.com'}\n- name: d\n  cluster: {server: 'https://cw1-3.k8s.z.coreweave.com'}\ncontexts:\n- name: c\n  context: {cluster: c, user: e}\n- name: d\n  context: {cluster: d, user: k}\nusers:\n- name: e\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: some-login\n      args: [get-token]\n      interactiveMode: Never\n- name: k\n  user:\n    client-certificate-data: QUJD\n    client-key-data: REVG\n",
    );
    let o = import(&sb, Some(&env), &[path_str(&dl), "--verify", "none"]);
    ok(&o);
    assert!(
        stdout(&o).contains(
            "Warning: the user of context \"c\" runs the exec command \"some-login\"; kubectl will run it before every request to https://cw1-2.k8s.z.coreweave.com"
        ),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("a client certificate"),
        "{}",
        stdout(&o)
    );
    let (loads, view, err) = kubectl_view(sb.dir.path(), &env);
    assert!(loads, "{err}");
    let users = view["users"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert!(
        users
            .iter()
            .any(|u| u["user"]["exec"]["command"] == "some-login"),
        "{view}"
    );
    assert!(
        users.iter().any(|u| u["user"]["client-key-data"] == "REVG"),
        "{view}"
    );
}

#[test]
fn a_locked_target_is_not_written() {
    let sb = Sandbox::new();
    let target = sb.write(
        "kc/config",
        support::kubeconfig(Some("c1"), &[("c1", "c1", "u1")], &[("u1", TOKEN_C)]),
    );
    let before = std::fs::read(&target).unwrap();
    sb.write("kc/config.lock", "");
    let env = path_str(&target).to_owned();
    let dl = sb.write(
        "dl.yaml",
        download("https://cw1-2.k8s.z.coreweave.com", None, TOKEN_A),
    );
    let o = import(
        &sb,
        Some(&env),
        &[path_str(&dl), "--verify", "none", "--lock-timeout", "0"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("config.lock"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&target).unwrap(), before);
}

#[test]
fn the_token_is_checked_with_coreweave_and_its_owner_named() {
    let sb = Sandbox::new();
    let api = FakeCoreweave::start();
    api.accept_token(TOKEN_A, "user-ada", "org-lovelace");
    let target = sb.path("kc/config");
    let env = path_str(&target).to_owned();
    let good = sb.write(
        "good.yaml",
        download("https://cw1-2.k8s.z.coreweave.com", None, TOKEN_A),
    );
    let bad = sb.write(
        "bad.yaml",
        download("https://cw1-3.k8s.z.coreweave.com", None, TOKEN_B),
    );
    let o = import(
        &sb,
        Some(&env),
        &[path_str(&bad), "--api-endpoint", &api.url()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    no_token_in(&o);
    assert!(!target.exists());
    let o = import(
        &sb,
        Some(&env),
        &[path_str(&good), "--api-endpoint", &api.url()],
    );
    ok(&o);
    assert!(
        stdout(&o).contains("user-ada") && stdout(&o).contains("org-lovelace"),
        "{}",
        stdout(&o)
    );
    assert_eq!(api.requests().len(), 2);
}

/// The same server with another token is reported, never overwritten; --replace-token
/// rotates every entry holding the old token, as token rotate does.
#[test]
fn the_same_server_with_another_token_is_reported_or_rotated() {
    let sb = Sandbox::new();
    let fake = FakeKube::start(&[(TOKEN_B, FakeUser::new("new-me"))]);
    let old = sb.write(
        "old.yaml",
        download(&fake.url(), Some(&fake.ca.data()), TOKEN_A),
    );
    let new = sb.write(
        "new.yaml",
        download(&fake.url(), Some(&fake.ca.data()), TOKEN_B),
    );
    let target = sb.path("kc/config");
    let env = path_str(&target).to_owned();
    ok(&import(
        &sb,
        Some(&env),
        &[path_str(&old), "--verify", "none"],
    ));
    let before = std::fs::read(&target).unwrap();
    let o = import(&sb, Some(&env), &[path_str(&new), "--verify", "none"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--replace-token"), "{}", stderr(&o));
    no_token_in(&o);
    assert_eq!(std::fs::read(&target).unwrap(), before);
    assert_eq!(whoami(&sb, &env, "my-cluster"), None);
    // The fake listens on loopback, not a CoreWeave host: rotating it takes --force.
    let o = import(
        &sb,
        Some(&env),
        &[path_str(&new), "--verify", "none", "--replace-token"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a CoreWeave cluster"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&target).unwrap(), before);
    let o = import(
        &sb,
        Some(&env),
        &[
            path_str(&new),
            "--verify",
            "none",
            "--replace-token",
            "--force",
        ],
    );
    ok(&o);
    no_token_in(&o);
    assert_eq!(whoami(&sb, &env, "my-cluster").as_deref(), Some("new-me"));
    let (_, view, _) = kubectl_view(sb.dir.path(), &env);
    assert_eq!(contexts(&view).len(), 1, "{view}");
}

#[test]
fn stdin_set_current_name_and_namespace() {
    let sb = Sandbox::new();
    let target = sb.write(
        "kc/config",
        support::kubeconfig(Some("c1"), &[("c1", "c1", "u1")], &[("u1", TOKEN_C)]),
    );
    let env = path_str(&target).to_owned();
    let mut child = sb
        .cmd(Some(&env))
        .args([
            "kubeconfig",
            "import",
            "-",
            "--verify",
            "none",
            "--set-current",
            "--name",
            "prod",
            "--namespace",
            "ml",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(download("https://cw1-2.k8s.z.coreweave.com", None, TOKEN_A).as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    ok(&o);
    let (_, view, _) = kubectl_view(sb.dir.path(), &env);
    assert_eq!(view["current-context"], "prod");
    let ctx = view["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "prod")
        .cloned()
        .unwrap();
    assert_eq!(ctx["context"]["namespace"], "ml");
    let _ = Path::new("");
}

/// A target the user may not write is refused like kubectl's writer refuses it, before any
/// lock or folder is made (the plugin runs as nobody; CI runs as root).
#[test]
fn a_read_only_target_is_refused_before_anything_is_done() {
    use std::os::unix::process::CommandExt as _;
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let target = sb.write(
        "config",
        support::kubeconfig(Some("c1"), &[("c1", "c1", "u1")], &[("u1", TOKEN_C)]),
    );
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&target).unwrap();
    let dl = sb.write(
        "dl.yaml",
        download("https://cw1-2.k8s.z.coreweave.com", None, TOKEN_A),
    );
    std::fs::set_permissions(&dl, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = sb
        .cmd(Some(path_str(&target)))
        .uid(65534)
        .gid(65534)
        .args(["kubeconfig", "import", path_str(&dl), "--verify", "none"])
        .output()
        .expect("run plugin");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&target).unwrap(), before);
    assert!(!sb.path("config.lock").exists());
}
