//! `kubeconfig add` against the loopback CoreWeave API stand-in, with kubectl as the oracle:
//! what kubectl reads after the command (each new context's server and user, every entry
//! that was there unchanged), a second run leaving the file byte-identical, a downloaded
//! cluster not added twice, names that never clash, current-context, a fresh HOME, moved
//! clusters and `--update`, and end to end `kubectl --context <added> auth whoami` against
//! a loopback TLS API server trusted through `SSL_CERT_FILE`, with the token inline and in
//! the OS keyring through the exec entry.

use crate::support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use support::fake_coreweave::FakeCoreweave;
use support::fake_kube::{FakeKube, FakeUser};
use support::{kubectl_view, path_str, stderr, stdout, Sandbox};

const ALICE: &str = "CW-SECRET-addtest-alice-0123456789abcdef";
const TRAIN: &str = "https://cwaaaa-1111.k8s.us-east-04a.coreweave.com";

fn clusters(train_endpoint: &str) -> Vec<Value> {
    vec![
        json!({"id": "id-train", "name": "train", "zone": "us-east-04a", "public": true,
               "status": "STATUS_RUNNING", "apiServerEndpoint": train_endpoint}),
        json!({"id": "id-infer", "name": "infer", "zone": "us-east-04a", "public": true,
               "status": 1, "apiServerEndpoint": "https://cwaaaa-2222.k8s.us-east-04a.coreweave.com/"}),
        json!({"id": "id-inner", "name": "inner", "zone": "rno2a", "public": false,
               "status": "running", "apiServerEndpoint": "cwaaaa-3333.k8s.rno2a.coreweave.com"}),
        json!({"id": "id-new", "name": "fresh", "zone": "rno2a", "public": true, "status": "STATUS_CREATING"}),
    ]
}

fn api(org: &str, train_endpoint: &str) -> FakeCoreweave {
    let api = FakeCoreweave::start();
    api.accept_token(ALICE, "uid-alice", org)
        .clusters(org, clusters(train_endpoint));
    api
}

/// A kubeconfig in kubectl's layout with comments; `dl` reaches `infer` as a Console
/// download would (same server, another spelling).
const EXISTING: &str = "# my clusters
apiVersion: v1
kind: Config
clusters:
- name: infer   # from the Console
  cluster:
    server: https://CWAAAA-2222.k8s.us-east-04a.coreweave.com:443
- name: home
  cluster:
    server: https://home.example:6443
contexts:
- name: dl
  context:
    cluster: infer
    user: token
- name: home
  context:
    cluster: home
    user: me
current-context: home
users:
- name: token
  user:
    token: CW-SECRET-addtest-alice-0123456789abcdef
- name: me
  user:
    token: not-coreweave
";

fn add(sb: &Sandbox, kubeconfig: Option<&Path>, api: &FakeCoreweave, args: &[&str]) -> Output {
    let mut c = sb.cmd(kubeconfig.map(path_str));
    c.args(["kubeconfig", "add", "--api-endpoint", &api.url()])
        .args(args);
    c.stdin(Stdio::null()).output().expect("run plugin")
}

fn add_with_stdin(
    sb: &Sandbox,
    env: &[(&str, OsString)],
    api: &FakeCoreweave,
    args: &[&str],
    input: &str,
) -> Output {
    use std::io::Write;
    let mut c = sb.cmd(None);
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(["kubeconfig", "add", "--api-endpoint", &api.url()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run plugin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn named<'a>(view: &'a Value, list: &str, name: &str) -> &'a Value {
    view[list]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no {list} entry {name}: {view:#}"))
}

fn no_token_in(o: &Output) {
    assert!(
        !stdout(o).contains(ALICE) && !stderr(o).contains(ALICE),
        "token shown"
    );
}

#[test]
fn adds_each_public_cluster_keeps_every_byte_and_a_second_run_changes_nothing() {
    let (sb, api) = (Sandbox::new(), api("cwaaaa", TRAIN));
    let k = sb.write("config", EXISTING);
    let (ok, before, e) = kubectl_view(sb.dir.path(), path_str(&k));
    assert!(ok, "{e}");
    let o = add(&sb, Some(&k), &api, &["--all", "--context", "dl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    no_token_in(&o);
    assert!(
        out.contains("Added context \"train-cwaaaa\" for cluster \"train\""),
        "{out}"
    );
    assert!(
        out.contains("Cluster \"infer\" is already reached by context \"dl\"."),
        "{out}"
    );
    assert!(
        out.contains("Skipped cluster \"inner\": it is private"),
        "{out}"
    );
    assert!(
        out.contains(
            "Skipped cluster \"fresh\": it has no API server endpoint yet (status creating)"
        ),
        "{out}"
    );
    assert!(
        out.contains("user \"token\": already held by this user entry"),
        "{out}"
    );
    let after_bytes = std::fs::read_to_string(&k).expect("read");
    // Every original line is still there, in order; only new lines were added.
    let mut lines = after_bytes.lines();
    for line in EXISTING.lines() {
        assert!(lines.any(|l| l == line), "lost {line:?}:\n{after_bytes}");
    }
    let (ok, after, e) = kubectl_view(sb.dir.path(), path_str(&k));
    assert!(ok, "{e}");
    for list in ["clusters", "contexts", "users"] {
        for entry in before[list].as_array().expect("list") {
            assert_eq!(named(&after, list, entry["name"].as_str().unwrap()), entry);
        }
    }
    assert_eq!(after["contexts"].as_array().unwrap().len(), 3, "{after:#}");
    assert_eq!(
        after["users"].as_array().unwrap().len(),
        2,
        "one user per token"
    );
    let ctx = named(&after, "contexts", "train-cwaaaa");
    assert_eq!(
        ctx["context"],
        json!({"cluster": "train-cwaaaa", "user": "token"})
    );
    let cluster = &named(&after, "clusters", "train-cwaaaa")["cluster"];
    assert_eq!(cluster["server"], TRAIN);
    assert_eq!(cluster.get("certificate-authority-data"), None);
    assert_eq!(
        cluster["extensions"],
        json!([{"name": "coreweave.com/cks-cluster",
                "extension": {"id": "id-train", "name": "train", "org": "cwaaaa", "zone": "us-east-04a"}}])
    );
    assert_eq!(
        after["current-context"], "home",
        "--all leaves current-context alone"
    );

    let again = add(&sb, Some(&k), &api, &["--all", "--context", "dl"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("already reached by context \"train-cwaaaa\""),
        "{}",
        stdout(&again)
    );
    assert!(
        stdout(&again).contains("is unchanged"),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        std::fs::read_to_string(&k).expect("read"),
        after_bytes,
        "second run wrote"
    );
}

#[test]
fn one_cluster_becomes_current_under_a_name_that_clashes_with_nothing() {
    let (sb, api) = (Sandbox::new(), api("cwaaaa", TRAIN));
    let taken = EXISTING
        .replace(
            "- name: home\n  cluster:",
            "- name: train-cwaaaa\n  cluster:",
        )
        .replace("    cluster: home\n", "    cluster: train-cwaaaa\n");
    let k = sb.write("config", &taken);
    // An unknown cluster is an error before anything is written.
    let o = add(&sb, Some(&k), &api, &["nope", "--context", "dl"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("organization cwaaaa has no cluster named \"nope\""),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&k).unwrap(), taken);

    let set = ["--all", "--set-current", "nope", "--context", "dl"];
    let o = add(&sb, Some(&k), &api, &set);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--set-current \"nope\": no such cluster"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&k).unwrap(), taken);

    let o = add(
        &sb,
        Some(&k),
        &api,
        &["--dry-run", "train", "--context", "dl"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("+  name: train-cwaaaa-2\n"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("Dry run: nothing was written."));
    assert_eq!(std::fs::read_to_string(&k).unwrap(), taken);

    let o = add(
        &sb,
        Some(&k),
        &api,
        &["--no-set-current", "id-train", "--context", "dl"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, view, _) = kubectl_view(sb.dir.path(), path_str(&k));
    assert_eq!(view["current-context"], "home");
    assert_eq!(
        named(&view, "clusters", "train-cwaaaa-2")["cluster"]["server"],
        TRAIN
    );
    // Named again: present, and now made current (as aws eks update-kubeconfig does).
    let o = add(&sb, Some(&k), &api, &["train", "--context", "dl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, view, _) = kubectl_view(sb.dir.path(), path_str(&k));
    assert_eq!(view["current-context"], "train-cwaaaa-2");
}

#[test]
fn a_fresh_home_gets_a_private_file_from_stdin() {
    let (sb, api) = (Sandbox::new(), api("cwcccc", TRAIN));
    let o = add_with_stdin(
        &sb,
        &[],
        &api,
        &["--all", "--from-stdin"],
        &format!("{ALICE}\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    no_token_in(&o);
    // No session bus in the sandbox: no keyring answers, and the report says so.
    assert!(
        stdout(&o).contains("kept inline in the user entry; no OS keyring answered"),
        "{}",
        stdout(&o)
    );
    let config = sb.path(".kube/config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&config), 0o600);
        assert_eq!(mode(&sb.path(".kube")), 0o700);
    }
    let (ok, view, e) = kubectl_view(sb.dir.path(), path_str(&config));
    assert!(ok, "{e}");
    assert_eq!(
        named(&view, "users", "coreweave-cwcccc")["user"]["token"],
        ALICE
    );
    assert_eq!(
        named(&view, "contexts", "infer-cwaaaa")["context"]["user"],
        "coreweave-cwcccc"
    );
    assert_eq!(view["contexts"].as_array().unwrap().len(), 2);
    // Without any token and no terminal: a clear error, nothing created.
    let sb2 = Sandbox::new();
    let o = add(&sb2, None, &api, &["--all"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("pass --from-stdin"), "{}", stderr(&o));
    assert!(!sb2.path(".kube").exists());
}

#[test]
fn a_moved_cluster_is_reported_and_update_rewrites_only_its_server() {
    let (sb, api) = (Sandbox::new(), api("cwaaaa", TRAIN));
    let k = sb.write("config", EXISTING);
    assert!(add(&sb, Some(&k), &api, &["train", "--context", "dl"])
        .status
        .success());
    let added = std::fs::read_to_string(&k).unwrap();
    let moved = "https://cwaaaa-9999.k8s.us-east-04a.coreweave.com";
    api.clusters("cwaaaa", clusters(moved));
    let o = add(&sb, Some(&k), &api, &["train", "--context", "dl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("Cluster \"train\" moved from {TRAIN} to {moved}")),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("--update rewrites its server"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read_to_string(&k).unwrap(), added);
    let o = add(
        &sb,
        Some(&k),
        &api,
        &["train", "--update", "--context", "dl"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&k).unwrap(),
        added.replace(TRAIN, moved)
    );
    let (_, view, _) = kubectl_view(sb.dir.path(), path_str(&k));
    assert_eq!(
        named(&view, "clusters", "train-cwaaaa")["cluster"]["server"],
        moved
    );
}

/// kubectl with the CA of `fake` as the system's roots.
fn kubectl_whoami(
    sb: &Sandbox,
    kubeconfig: &Path,
    context: &str,
    ca: &Path,
    extra: &[(&str, OsString)],
) -> Output {
    let mut c = Command::new("kubectl");
    sb.session.join(&mut c);
    c.env_clear()
        .env("PATH", path_with_plugin())
        .env("HOME", sb.path("home"))
        .env("KUBECONFIG", kubeconfig)
        .env("SSL_CERT_FILE", ca);
    for (k, v) in extra {
        c.env(k, v);
    }
    c.args([
        "--context",
        context,
        "auth",
        "whoami",
        "-o",
        "json",
        "--request-timeout=10s",
    ])
    .output()
    .expect("kubectl must exist: .ci/run installs it")
}

fn path_with_plugin() -> OsString {
    let dir = Path::new(support::bin()).parent().expect("bin folder");
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).expect("PATH")
}

fn fake_cluster(sb: &Sandbox) -> (FakeKube, PathBuf) {
    let fake = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let ca = sb.write("roots.pem", &fake.ca.pem);
    (fake, ca)
}

#[test]
fn kubectl_reaches_an_added_cluster_with_the_inline_token() {
    let sb = Sandbox::new();
    let (fake, ca) = fake_cluster(&sb);
    let api = api("cwdddd", &format!("127.0.0.1:{}", fake.addr.port()));
    let k = sb.path("kube/config");
    let o = add_with_stdin(
        &sb,
        &[("KUBECONFIG", k.clone().into())],
        &api,
        &["train", "--from-stdin", "--store", "inline"],
        ALICE,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let w = kubectl_whoami(&sb, &k, "train", &ca, &[]);
    assert!(w.status.success(), "{}", stderr(&w));
    assert!(stdout(&w).contains("alice@example.com"), "{}", stdout(&w));
    assert!(!fake.requests_with(ALICE).is_empty());
}

fn bus() -> OsString {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|| {
        panic!("no D-Bus session: run the tests through .ci/with-keyring (see README)")
    })
}

fn clear_item(item: &str) {
    let _ = Command::new("secret-tool")
        .args(["clear", "service", "kubectl-coreweave", "username", item])
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .output()
        .expect("secret-tool must exist: .ci/run installs libsecret-tools");
}

#[test]
fn kubectl_reaches_added_clusters_through_the_keyring_and_new_bindings_are_confirmed() {
    let org = "cweeee";
    let item = format!("coreweave-{org}");
    clear_item(&item);
    let sb = Sandbox::new();
    let (fake, ca) = fake_cluster(&sb);
    let port = fake.addr.port();
    let api = FakeCoreweave::start();
    api.accept_token(ALICE, "uid-alice", org).clusters(
        org,
        vec![
            json!({"id": "1", "name": "one", "public": true, "status": "running",
                   "apiServerEndpoint": format!("127.0.0.1:{port}")}),
            json!({"id": "2", "name": "two", "public": true, "status": "running",
                   "apiServerEndpoint": format!("https://localhost:{port}")}),
        ],
    );
    let k = sb.path("kube/config");
    let env = [
        ("KUBECONFIG", k.clone().into()),
        ("DBUS_SESSION_BUS_ADDRESS", bus()),
    ];
    let o = add_with_stdin(&sb, &env, &api, &["one", "--from-stdin"], ALICE);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("kept in the OS keyring (item \"{item}\")")),
        "{}",
        stdout(&o)
    );
    let text = std::fs::read_to_string(&k).unwrap();
    assert!(
        !text.contains(ALICE) && text.contains("- credential"),
        "{text}"
    );
    let dbus = [("DBUS_SESSION_BUS_ADDRESS", bus())];
    let w = kubectl_whoami(&sb, &k, "one", &ca, &dbus);
    assert!(w.status.success(), "{}", stderr(&w));
    assert!(stdout(&w).contains("alice@example.com"));

    // The active context's token is now in the keyring: the exec user is reused, and the
    // item's new server is listed and must be confirmed.
    let o = add_with_stdin(&sb, &env, &api, &["two"], "");
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("  https://localhost:{port}")),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("needs confirmation and stdin is not a terminal; pass --yes"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&k).unwrap(), text);
    let w = kubectl_whoami(&sb, &k, "two", &ca, &dbus);
    assert!(!w.status.success(), "no context yet");
    let o = add_with_stdin(&sb, &env, &api, &["two", "--yes"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("user \"{item}\": already held")),
        "{}",
        stdout(&o)
    );
    let (_, view, _) = kubectl_view(sb.dir.path(), path_str(&k));
    assert_eq!(view["users"].as_array().unwrap().len(), 1, "{view:#}");
    assert_eq!(view["current-context"], "two");
    let w = kubectl_whoami(&sb, &k, "two", &ca, &dbus);
    assert!(w.status.success(), "{}", stderr(&w));
    clear_item(&item);
}

/// The plan made before the lock is kept only while the file still holds the bytes it was
/// made from: a context reaching `train` written under kubectl's lock while `add` waits
/// for it is seen, and `train` is not added a second time.
#[test]
fn a_cluster_reached_while_add_waits_for_the_lock_is_not_added() {
    let (sb, api) = (Sandbox::new(), api("cwaaaa", TRAIN));
    let k = sb.write("config", EXISTING);
    let lock = sb.write("config.lock", "");
    let child = sb
        .cmd(Some(path_str(&k)))
        .args(["kubeconfig", "add", "--api-endpoint", &api.url()])
        .args(["--all", "--context", "dl"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run plugin");
    // Another writer, holding the lock, adds a context for train's server, then unlocks.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let changed = EXISTING
        .replace(
            "clusters:\n",
            &format!("clusters:\n- name: mine\n  cluster:\n    server: {TRAIN}\n"),
        )
        .replace(
            "contexts:\n",
            "contexts:\n- name: mine\n  context:\n    cluster: mine\n    user: token\n",
        );
    std::fs::write(&k, &changed).expect("the other writer");
    std::fs::remove_file(&lock).expect("unlock");
    let o = child.wait_with_output().expect("wait");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Cluster \"train\" is already reached by context \"mine\"."),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read_to_string(&k).expect("read"), changed);
}
