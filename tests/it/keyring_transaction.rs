//! Issue 28's attacks on the stored mode, set up as an attacker would: a second file on
//! KUBECONFIG that names a stored item against the same server with its own CA and a proxy
//! it runs (rotate, store and `--verify cluster` must not widen the binding, and no token,
//! old or new, reaches the attacker); two commands racing on one item (no token is lost);
//! the kernel copy outside a session of its own or on another D-Bus session; a binding too
//! large for one secret. Real parts throughout: gnome-keyring, kubectl, TLS fakes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use crate::keyring::{
    assert_no_token, bound_servers, bus, clear, exec_block, lookup, lookup_raw, path_with_plugin,
    plugin, ALICE, BOB,
};
use crate::support::fake_kube::{
    write_kubeconfig, ClusterSpec, ConnectProxy, FakeKube, FakeKubeOptions, FakeUser, Trust,
};
use crate::support::{stderr, stdout, Sandbox};

/// A CoreWeave managed endpoint's name, reached on loopback through a proxy that resolves it.
const NAME: &str = "cw1234-abc123.k8s.us-east-04a.coreweave.com";

fn fake() -> FakeKube {
    FakeKube::start_with(
        &[
            (ALICE, FakeUser::new("alice@example.com")),
            (BOB, FakeUser::new("alice@example.com")),
        ],
        FakeKubeOptions::with_extra_name(NAME),
    )
}

fn port(addr: SocketAddr) -> u16 {
    addr.port()
}

/// kubectl through `kubeconfig` (a `:` list), as the user runs it.
fn kubectl(sb: &Sandbox, kubeconfig: &str, args: &[&str]) -> Output {
    let mut c = Command::new("kubectl");
    sb.session.join(&mut c);
    c.env_clear()
        .env("PATH", path_with_plugin())
        .env("HOME", sb.dir.path())
        .env("KUBECONFIG", kubeconfig)
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .args(args)
        .args(["--request-timeout=10s"])
        .output()
        .expect("kubectl")
}

fn run(sb: &Sandbox, kubeconfig: &str, args: &[&str]) -> Output {
    sb.cmd(Some(kubeconfig))
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .args(args)
        .output()
        .expect("run plugin")
}

/// The servers and CA hashes an item is bound to.
fn bindings(item: &str) -> Vec<(String, String)> {
    let raw = lookup_raw(item).expect("the item exists");
    let v: serde_json::Value = serde_json::from_str(&raw).expect("a record");
    v["servers"]
        .as_array()
        .expect("servers inline")
        .iter()
        .map(|b| {
            (
                b["server"].as_str().unwrap_or("").to_string(),
                b["caSHA256"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// main.yaml: user alice stored in `item`, bound to the managed endpoint (reached through a
/// proxy that resolves its name to loopback). shared.yaml, the attacker's: the same server
/// with the attacker's CA and a proxy that sends every tunnel to the attacker's server, a
/// context for an exec user that reads alice's item, and a context naming alice herself.
struct Setup {
    sb: Sandbox,
    ours: FakeKube,
    evil: FakeKube,
    _resolver: ConnectProxy,
    attacker_proxy: ConnectProxy,
    main: PathBuf,
    shared: PathBuf,
    both: String,
}

fn setup(item: &str) -> Setup {
    clear(item);
    let ours = fake();
    let evil = fake();
    let resolver = ConnectProxy::start_resolving(NAME);
    let attacker_proxy = ConnectProxy::start_redirecting(evil.addr);
    let sb = Sandbox::new();
    let server = format!("https://{NAME}:{}", port(ours.addr));
    let mut ours_cluster = ClusterSpec::new("c", server.clone(), Trust::Data(&ours.ca.pem));
    ours_cluster.proxy_url = Some(resolver.url());
    let main = write_kubeconfig(
        &sb.path("main.yaml"),
        &[ours_cluster],
        &[("main", "c", "alice")],
        &[("alice", ALICE)],
    );
    let main_s = main.to_str().expect("utf-8").to_string();
    // The loopback stand-in pins its own CA on a managed endpoint: --force says it is ours.
    let o = run(&sb, &main_s, &["token", "store", "--item", item, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(bound_servers(item), std::slice::from_ref(&server));
    let stored = std::fs::read_to_string(&main).expect("read");

    let mut evil_cluster = ClusterSpec::new("evil", server, Trust::Data(&evil.ca.pem));
    evil_cluster.proxy_url = Some(attacker_proxy.url());
    let shared = write_kubeconfig(
        &sb.path("shared.yaml"),
        &[evil_cluster],
        &[
            ("evil-exec", "evil", "mallory"),
            ("evil-alice", "evil", "alice"),
        ],
        &[("mallory", "PLACEHOLDER")],
    );
    let text = std::fs::read_to_string(&shared).expect("read");
    let text = text.replace("token: PLACEHOLDER", &exec_block(&stored));
    std::fs::write(&shared, text).expect("write");
    let both = format!("{}:{}", main.display(), shared.display());
    Setup {
        sb,
        ours,
        evil,
        _resolver: resolver,
        attacker_proxy,
        main,
        shared,
        both,
    }
}

impl Setup {
    #[track_caller]
    fn attacker_got_nothing(&self) {
        assert!(
            self.evil.requests().iter().all(|r| r.bearer.is_none()),
            "the attacker's server was sent a token"
        );
    }

    /// kubectl through each attacker context is refused, and sends the attacker nothing.
    #[track_caller]
    fn attacker_contexts_refused(&self) {
        for ctx in ["evil-exec", "evil-alice"] {
            let w = kubectl(&self.sb, &self.both, &["--context", ctx, "auth", "whoami"]);
            assert!(!w.status.success(), "{ctx}: {}", stdout(&w));
            assert_no_token(&w);
        }
        self.attacker_got_nothing();
    }
}

#[test]
fn rotate_never_widens_a_binding_for_a_hostile_file() {
    let item = "kt-rotate";
    let s = setup(item);
    let before = bindings(item);
    s.attacker_contexts_refused();
    // Before: the user's own context works through the item.
    let w = kubectl(&s.sb, &s.both, &["--context", "main", "auth", "whoami"]);
    assert!(w.status.success(), "{}", stderr(&w));

    s.sb.write("new.txt", format!("{BOB}\n"));
    let o = run(
        &s.sb,
        &s.both,
        &[
            "--context",
            "main",
            "token",
            "rotate",
            "--from-file",
            "new.txt",
            "--yes",
            "--verify",
            "none",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_token(&o);
    assert_eq!(lookup(item).as_deref(), Some(BOB));
    assert_eq!(bindings(item), before, "rotate changed the item's bindings");
    s.attacker_contexts_refused();
    let w = kubectl(&s.sb, &s.both, &["--context", "main", "auth", "whoami"]);
    assert!(w.status.success(), "{}", stderr(&w));
    assert!(!s.ours.requests_with(BOB).is_empty());

    // --verify cluster sends the new token to the bound cluster only.
    let api = crate::support::fake_coreweave::FakeCoreweave::start();
    api.accept_token(ALICE, "user-1", "org-1")
        .accept_token(BOB, "user-1", "org-1");
    s.sb.write("new.txt", format!("{ALICE}\n"));
    let o = run(
        &s.sb,
        &s.both,
        &[
            "--context",
            "main",
            "token",
            "rotate",
            "--from-file",
            "new.txt",
            "--yes",
            "--verify",
            "cluster",
            "--api-endpoint",
            &api.url(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("is not verified"), "{}", stdout(&o));
    assert_eq!(bindings(item), before);
    assert!(
        s.attacker_proxy.targets().is_empty(),
        "rotate tunnelled through the attacker's proxy"
    );
    s.attacker_got_nothing();
    clear(item);
}

#[test]
fn store_lists_and_asks_before_binding_what_another_file_names() {
    let item = "kt-store";
    let s = setup(item);
    let before = bindings(item);
    let main_before = std::fs::read(&s.main).expect("read");
    let shared_before = std::fs::read(&s.shared).expect("read");
    // With --force (the CA on the managed endpoint accepted), the other file's clusters
    // are listed with what they trust and where they come from, and not bound without
    // --yes (stdin is no terminal here).
    for args in [
        &["--context", "main", "token", "store", "--force"][..],
        &["--context", "main", "token", "store", "--all", "--force"][..],
    ] {
        let o = run(&s.sb, &s.both, args);
        assert!(!o.status.success(), "{args:?}: {}", stdout(&o));
        assert_no_token(&o);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(all.contains("--yes"), "{all}");
        assert!(all.contains("evil-alice"), "{all}");
        assert!(all.contains(&s.attacker_proxy.url()), "{all}");
        assert!(all.contains("shared.yaml"), "{all}");
        assert!(all.contains("CA SHA-256"), "{all}");
        assert_eq!(
            bindings(item),
            before,
            "{args:?} bound the attacker's cluster"
        );
        assert_eq!(std::fs::read(&s.main).expect("read"), main_before);
        assert_eq!(std::fs::read(&s.shared).expect("read"), shared_before);
    }
    // Without --force, a managed endpoint that another file gives its own CA is never
    // bound, even when the user says yes to the rest: a note says why.
    for args in [
        &["--context", "main", "token", "store"][..],
        &["--context", "main", "token", "store", "--all", "--yes"][..],
    ] {
        let o = run(&s.sb, &s.both, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_no_token(&o);
        assert!(stdout(&o).contains("publicly trusted"), "{}", stdout(&o));
        assert!(stdout(&o).contains("evil-alice"), "{}", stdout(&o));
        assert_eq!(
            bindings(item),
            before,
            "{args:?} bound the attacker's cluster"
        );
    }
    s.attacker_contexts_refused();
    clear(item);
}

/// One context on a fake whose user alice is stored in `item` (bound to the fake).
fn stored(item: &str) -> (Sandbox, FakeKube, PathBuf) {
    clear(item);
    let ours = fake();
    let sb = Sandbox::new();
    let k = write_kubeconfig(
        &sb.path("config"),
        &[ClusterSpec::new("c", ours.url(), Trust::Data(&ours.ca.pem))],
        &[("ctx", "c", "alice")],
        &[("alice", ALICE)],
    );
    let o = plugin(&sb, &k, &["token", "store", "--item", item]);
    assert!(o.status.success(), "{}", stderr(&o));
    (sb, ours, k)
}

/// Two rotates of a keyring-only holder at once: exactly one succeeds and the item holds
/// its token; the other fails saying the token changed.
#[test]
fn two_rotates_of_a_keyring_item_never_lose_a_token() {
    let item = "kt-race";
    let (sb, _ours, k) = stored(item);
    let kstr = k.to_str().expect("utf-8");
    const CAROL: &str = "CW-SECRET-keyringtest-carol-00112233445566";
    let spawn = |token: &str| {
        sb.cmd(Some(kstr))
            .env("DBUS_SESSION_BUS_ADDRESS", bus())
            .args([
                "token",
                "rotate",
                "--force",
                "--verify",
                "none",
                "--lock-timeout",
                "30",
                "--from-command",
                &format!("sleep 1; echo {token}"),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let a = spawn(BOB);
    std::thread::sleep(Duration::from_millis(300));
    let b = spawn(CAROL);
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    let ok: Vec<bool> = [&a, &b].iter().map(|o| o.status.success()).collect();
    assert_eq!(
        ok.iter().filter(|x| **x).count(),
        1,
        "exactly one rotate succeeds: a: {} b: {}",
        stderr(&a),
        stderr(&b)
    );
    let (winner, loser) = if ok[0] { (BOB, &b) } else { (CAROL, &a) };
    assert!(stderr(loser).contains("changed"), "{}", stderr(loser));
    assert_eq!(lookup(item).as_deref(), Some(winner));
    clear(item);
}

/// Store waits on the kubeconfig lock while a rotate of the same item succeeds: the
/// rotated token survives the store.
#[test]
fn store_waiting_on_a_lock_keeps_a_concurrent_rotate() {
    let item = "kt-store-race";
    let (sb, _ours, k) = stored(item);
    let kstr = k.to_str().expect("utf-8");
    // Someone (kubectl) holds the kubeconfig's lock.
    let lock = sb.path("config.lock");
    std::fs::write(&lock, "").expect("lock");
    let store = sb
        .cmd(Some(kstr))
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .args(["token", "store", "--lock-timeout", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(800));
    sb.write("new.txt", format!("{BOB}\n"));
    let rotate = sb
        .cmd(Some(kstr))
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .args([
            "token",
            "rotate",
            "--force",
            "--verify",
            "none",
            "--from-file",
            "new.txt",
            "--lock-timeout",
            "30",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(800));
    std::fs::remove_file(&lock).expect("unlock");
    let (store, rotate) = (
        store.wait_with_output().expect("store"),
        rotate.wait_with_output().expect("rotate"),
    );
    assert!(rotate.status.success(), "rotate: {}", stderr(&rotate));
    assert!(store.status.success(), "store: {}", stderr(&store));
    assert_eq!(
        lookup(item).as_deref(),
        Some(BOB),
        "the rotated token was lost"
    );
    clear(item);
}

/// `token credential` run without its own session keyring (the uid's shared user-session
/// keyring, as in a container) keeps no copy; on another D-Bus session a warm copy is not
/// served.
#[test]
fn the_kernel_copy_is_private_to_its_session_and_bus() {
    let item = "kt-copy";
    let (sb, ours, _k) = stored(item);
    let info = format!(
        r#"{{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{{"interactive":false,"cluster":{{"server":"{}","certificate-authority-data":"{}"}}}}}}"#,
        ours.url(),
        crate::support::fake_kube::base64_encode(ours.ca.pem.as_bytes())
    );
    // Without joining a session keyring: the shared fallback.
    let shared_session = |bus: &std::ffi::OsStr| {
        Command::new(crate::support::bin())
            .env_clear()
            .env("HOME", sb.dir.path())
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .env("KUBERNETES_EXEC_INFO", &info)
            .args(["token", "credential", item])
            .output()
            .expect("run")
    };
    let o = shared_session(&bus());
    assert!(stdout(&o).contains(ALICE), "{}", stderr(&o));
    // Own session: a copy is kept (the item, gone from the Secret Service, still answers).
    let in_session = |bus: &std::ffi::OsStr| {
        sb.cmd(None)
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .env("KUBERNETES_EXEC_INFO", &info)
            .args(["token", "credential", item])
            .output()
            .expect("run")
    };
    let o = in_session(&bus());
    assert!(stdout(&o).contains(ALICE), "{}", stderr(&o));
    clear(item);
    let o = in_session(&bus());
    assert!(
        stdout(&o).contains(ALICE),
        "the session's copy answers: {}",
        stderr(&o)
    );
    // The shared keyring has none.
    let o = shared_session(&bus());
    assert!(
        !o.status.success(),
        "served without a session: {}",
        stdout(&o)
    );
    assert_no_token(&o);
    // Another D-Bus session (no Secret Service there) misses the copy.
    let other = second_bus(&sb);
    let o = in_session(other.address.as_ref());
    assert!(!o.status.success(), "served on another bus: {}", stdout(&o));
    assert_no_token(&o);
}

/// A second, bare D-Bus session daemon (no services), stopped when dropped.
struct SecondBus {
    child: std::process::Child,
    address: String,
}

impl Drop for SecondBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn second_bus(sb: &Sandbox) -> SecondBus {
    use std::io::BufRead as _;
    let config = sb.write(
        "bus.conf",
        format!(
            "<busconfig><type>session</type><listen>unix:dir={}</listen>\
             <policy context=\"default\"><allow send_destination=\"*\"/><allow own=\"*\"/></policy></busconfig>",
            sb.dir.path().display()
        ),
    );
    let mut child = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--print-address", "--nofork"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("dbus-daemon (the dbus package, which .ci/setup installs)");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("address");
    SecondBus {
        child,
        address: line.trim().to_string(),
    }
}

/// A token bound to 1,000 clusters fits every store: the secret stays under Windows'
/// limit, the list lives beside it under its hash, `token credential` serves a bound
/// server from it and refuses once the list is changed behind the item's back.
#[test]
fn a_binding_of_a_thousand_clusters_fits_and_is_vouched_for() {
    let item = "kt-thousand";
    clear(item);
    let sb = Sandbox::new();
    let servers: Vec<String> = (0..1000)
        .map(|n| format!("https://cw1234-h{n:04}.k8s.us-east-04a.coreweave.com"))
        .collect();
    let clusters: Vec<ClusterSpec> = servers
        .iter()
        .enumerate()
        .map(|(n, s)| {
            ClusterSpec::new(
                Box::leak(format!("c{n}").into_boxed_str()),
                s.clone(),
                Trust::System,
            )
        })
        .collect();
    let contexts: Vec<(String, String)> = (0..1000)
        .map(|n| (format!("x{n}"), format!("c{n}")))
        .collect();
    let ctx_refs: Vec<(&str, &str, &str)> = contexts
        .iter()
        .map(|(x, c)| (x.as_str(), c.as_str(), "alice"))
        .collect();
    let k = write_kubeconfig(
        &sb.path("config"),
        &clusters,
        &ctx_refs,
        &[("alice", ALICE)],
    );
    let o = plugin(&sb, &k, &["token", "store", "--item", item, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let raw = lookup_raw(item).expect("stored");
    assert!(raw.len() <= 1000, "the secret is {} bytes", raw.len());
    assert!(raw.contains("serversSHA256"), "{raw}");
    let info = |server: &str| {
        format!(
            r#"{{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{{"interactive":false,"cluster":{{"server":"{server}"}}}}}}"#
        )
    };
    let credential = |server: &str| {
        sb.cmd(None)
            .env("DBUS_SESSION_BUS_ADDRESS", bus())
            .env("KUBERNETES_EXEC_INFO", info(server))
            .args(["token", "credential", item])
            .output()
            .expect("run")
    };
    let o = credential(&servers[999]);
    assert!(stdout(&o).contains(ALICE), "{}", stderr(&o));
    let o = credential("https://cw9999-evil.k8s.us-east-04a.coreweave.com");
    assert!(!o.status.success());
    // The list changed behind the item's back (another server added): refused. A fresh
    // session keyring, so no copy answers.
    let folder = sb.dir.path().join(".kube/kubectl-coreweave/bindings");
    let file = std::fs::read_dir(&folder)
        .expect("bindings folder")
        .flatten()
        .next()
        .expect("one list")
        .path();
    let text = std::fs::read_to_string(&file).expect("read");
    let widened = text.replacen("https://cw1234-h0000", "https://cw9999-evil", 1);
    std::fs::write(&file, widened).expect("tamper");
    let fresh = Sandbox::new();
    let o = fresh
        .cmd(None)
        .env("HOME", sb.dir.path())
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .env(
            "KUBERNETES_EXEC_INFO",
            info("https://cw9999-evil.k8s.us-east-04a.coreweave.com"),
        )
        .args(["token", "credential", item])
        .output()
        .expect("run");
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("not the one the item was written with"),
        "{}",
        stderr(&o)
    );
    assert_no_token(&o);
    clear(item);
}

/// Node's `@kubernetes/client-node` runs the exec entry without `KUBERNETES_EXEC_INFO`: it
/// names no cluster, so a stored token is refused to it (and the refusal names the way out)
/// until the item is stored with `--allow-clients-without-cluster-info`; then the real
/// client reaches the cluster with the token. `.ci/setup` installs the client (pinned).
#[test]
fn a_node_client_gets_the_token_only_when_the_item_opts_in() {
    let item = "kt-node";
    let (sb, ours, k) = stored(item);
    let tools = std::env::var_os("KUBECTL_COREWEAVE_NODETOOLS").unwrap_or_else(|| {
        panic!("KUBECTL_COREWEAVE_NODETOOLS is unset: run the tests through .ci/test, whose .ci/setup installs @kubernetes/client-node")
    });
    let entry = PathBuf::from(tools).join("node_modules/@kubernetes/client-node/dist/index.js");
    assert!(
        entry.is_file(),
        "{} is missing: .ci/setup installs @kubernetes/client-node",
        entry.display()
    );
    let script = sb.write(
        "whoami.mjs",
        r#"const k8s = await import(process.env.CLIENT_NODE);
const kc = new k8s.KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG_FILE);
const api = kc.makeApiClient(k8s.AuthenticationV1Api);
try {
  const r = await api.createSelfSubjectReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
  console.log(JSON.stringify(r.status.userInfo));
} catch (e) {
  console.error(String(e && e.message ? e.message : e));
  process.exit(1);
}
"#,
    );
    let node = || {
        let mut c = Command::new("node");
        sb.session.join(&mut c);
        c.env_clear()
            .env("PATH", path_with_plugin())
            .env("HOME", sb.dir.path())
            .env("DBUS_SESSION_BUS_ADDRESS", bus())
            .env("CLIENT_NODE", format!("file://{}", entry.display()))
            .env("KUBECONFIG_FILE", &k)
            .arg(&script)
            .output()
            .expect("node (the nodejs package)")
    };
    let o = node();
    assert!(
        !o.status.success(),
        "served without the opt-in: {}",
        stdout(&o)
    );
    assert_no_token(&o);
    assert!(
        ours.requests_with(ALICE).is_empty(),
        "the token went out without the opt-in"
    );
    // The refusal, as the plugin prints it to such a client, names the flag.
    let o = sb
        .cmd(None)
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .args(["token", "credential", item])
        .output()
        .expect("run");
    assert!(
        stderr(&o).contains("--allow-clients-without-cluster-info"),
        "{}",
        stderr(&o)
    );

    let o = plugin(
        &sb,
        &k,
        &["token", "store", "--allow-clients-without-cluster-info"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = node();
    assert!(o.status.success(), "node: {}", stderr(&o));
    assert!(stdout(&o).contains("alice@example.com"), "{}", stdout(&o));
    assert!(!ours.requests_with(ALICE).is_empty());
    // And back.
    let o = plugin(
        &sb,
        &k,
        &["token", "store", "--deny-clients-without-cluster-info"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = node();
    assert!(
        !o.status.success(),
        "served after the opt-out: {}",
        stdout(&o)
    );
    clear(item);
}
