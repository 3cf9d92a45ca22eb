//! The plugin installed under another name (issue 28, item 7): linked as `kubectl-cw` and
//! run as `kubectl cw …`, its exec entries carry the marker `--plugin=kubectl-coreweave`,
//! so `token show`, `list`, `store` (rebind), `rotate` and `unstore` treat them as stored,
//! and kubectl runs the renamed program; entries written by the renamed program before the
//! marker are recognised as this very executable; an entry with the marker that runs
//! another program is named as such. `kubeconfig import` refuses a download that would run
//! the plugin under any name. Runs on the real Secret Service (.ci/with-keyring) and the
//! real kubectl against the TLS fake.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::fake_kube::{write_kubeconfig, ClusterSpec, FakeKube, FakeUser, Trust};
use crate::support::{self, stderr, stdout, Sandbox};

const OLD: &str = "CW-SECRET-renamed-old-0123456789abcdef";
const NEW: &str = "CW-SECRET-renamed-new-fedcba9876543210";

fn bus() -> OsString {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|| {
        panic!("no D-Bus session: run the tests through .ci/with-keyring (see README)")
    })
}

fn clear(item: &str) {
    let _ = Command::new("secret-tool")
        .args(["clear", "service", "kubectl-coreweave", "username", item])
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .output();
}

/// The folder kubectl is in (checked to hold no `kubectl-cw`), alone, or after `first`.
fn path_with(first: Option<&Path>) -> OsString {
    let kubectl = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .expect("kubectl must be on PATH: .ci/run installs it");
    let dir = kubectl.parent().expect("folder").to_path_buf();
    assert!(!dir.join("kubectl-cw").exists(), "{}", dir.display());
    std::env::join_paths(first.map(Path::to_path_buf).into_iter().chain([dir])).expect("PATH")
}

/// The plugin linked as `bin/kubectl-cw` (no `kubectl-coreweave` anywhere on PATH).
fn install_as_cw(sb: &Sandbox) -> PathBuf {
    let bin = sb.path("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::os::unix::fs::symlink(support::bin(), bin.join("kubectl-cw")).expect("link");
    bin
}

fn kubectl(sb: &Sandbox, path: &OsString, kubeconfig: &OsString, args: &[&str]) -> Output {
    Command::new("kubectl")
        .env_clear()
        .env("PATH", path)
        .env("HOME", sb.path("home"))
        .env("KUBECONFIG", kubeconfig)
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .env("COREWEAVE_API_ENDPOINT", "http://127.0.0.1:9")
        .current_dir(sb.dir.path())
        .args(args)
        .output()
        .expect("kubectl")
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}\n{}", stdout(o), stderr(o));
    stdout(o)
}

/// The username the fake cluster saw for `kubectl auth whoami` through the entry.
fn whoami(sb: &Sandbox, kubeconfig: &OsString) -> String {
    let o = kubectl(
        sb,
        &path_with(None),
        kubeconfig,
        &["auth", "whoami", "-o", "json", "--request-timeout=10s"],
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).expect("json");
    v["status"]["userInfo"]["username"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Stored through `kubectl cw token store`, the entry is the plugin's own for every
/// command run as `kubectl cw`: show, list, store again, rotate through an inline holder
/// of the same token in a second file (the item ends with the new token), unstore.
#[test]
fn an_install_named_kubectl_cw_keeps_its_own_entries() {
    let item = "rn-alice";
    clear(item);
    let fake = FakeKube::start(&[
        (OLD, FakeUser::new("alice@example.com")),
        (NEW, FakeUser::new("alice-new@example.com")),
    ]);
    let sb = Sandbox::new();
    let main = write_kubeconfig(
        &sb.path("main.yaml"),
        &[ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem))],
        &[("ctx", "c", item)],
        &[(item, OLD)],
    );
    let second = write_kubeconfig(
        &sb.path("second.yaml"),
        &[ClusterSpec::new(
            "c2",
            fake.url(),
            Trust::Data(&fake.ca.pem),
        )],
        &[("ctx2", "c2", "inline")],
        &[("inline", OLD)],
    );
    let env = std::env::join_paths([&main, &second]).expect("KUBECONFIG");
    let bin = install_as_cw(&sb);
    let path = path_with(Some(&bin));
    let cw = |args: &[&str]| {
        let mut all = vec!["cw"];
        all.extend_from_slice(args);
        kubectl(&sb, &path, &env, &all)
    };

    ok(&cw(&["token", "store"]));
    let text = std::fs::read_to_string(&main).expect("read");
    let link = bin.join("kubectl-cw");
    assert!(
        text.contains(&format!("command: \"{}\"\n", link.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "      - {item}\n      - --plugin=kubectl-coreweave\n"
        )),
        "{text}"
    );
    assert!(!text.contains(OLD), "{text}");
    // kubectl runs the renamed program by its path, with no plugin on PATH.
    assert_eq!(
        whoami(&sb, &main.clone().into_os_string()),
        "alice@example.com"
    );

    let o = cw(&["token", "show"]);
    let shown = ok(&o);
    assert!(
        shown.contains(&format!("stored in OS keyring, item \"{item}\"")),
        "{shown}"
    );
    assert!(!shown.contains("Warning"), "{shown}");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert_eq!(ok(&cw(&["token", "show", "--raw"])), format!("{OLD}\n"));

    let o = cw(&["token", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).expect("json");
    assert_eq!(v["tokens"].as_array().map(Vec::len), Some(1), "{v}");
    let holders = &v["tokens"][0]["holders"];
    assert_eq!(holders.as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(holders[0]["user"], item, "{v}");
    assert_eq!(holders[0]["storage"]["kind"], "keyring", "{v}");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));

    // Stored already: store binds again and rewrites the entry, it does not refuse.
    ok(&cw(&["token", "store"]));
    assert_eq!(std::fs::read_to_string(&main).expect("read"), text);

    // Rotate through the inline holder: the item gets the new token too.
    let new_file = sb.write("new.txt", format!("{NEW}\n"));
    let o = kubectl(
        &sb,
        &path,
        &env,
        &[
            "cw",
            "token",
            "rotate",
            "--context",
            "ctx2",
            "--from-file",
            support::path_str(&new_file),
            "--verify",
            "none",
            "--force",
        ],
    );
    let report = ok(&o);
    assert!(report.contains(item), "{report}");
    assert_eq!(ok(&cw(&["token", "show", "--raw"])), format!("{NEW}\n"));
    let second_text = std::fs::read_to_string(&second).expect("read");
    assert!(second_text.contains(NEW), "{second_text}");
    assert_eq!(
        whoami(&sb, &main.clone().into_os_string()),
        "alice-new@example.com"
    );

    // Unstore takes the entry back: the new token inline.
    ok(&cw(&["token", "unstore"]));
    let back = std::fs::read_to_string(&main).expect("read");
    assert!(back.contains(&format!("token: {NEW}\n")), "{back}");
    assert!(!back.contains("exec:"), "{back}");
    clear(item);
}

/// An entry the renamed program wrote before the marker (`kubectl-cw token credential
/// ITEM`) is this very executable's: shown and unstored as stored. The same arguments
/// with a program that is not this one stay another program's.
#[test]
fn an_entry_written_before_the_marker_is_recognised_by_the_executable() {
    let item = "rn-legacy";
    clear(item);
    let fake = FakeKube::start(&[(OLD, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let k = write_kubeconfig(
        &sb.path("config"),
        &[ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem))],
        &[("ctx", "c", item)],
        &[(item, OLD)],
    );
    let original = std::fs::read_to_string(&k).expect("read");
    let bin = install_as_cw(&sb);
    let path = path_with(Some(&bin));
    let env = k.clone().into_os_string();
    ok(&kubectl(&sb, &path, &env, &["cw", "token", "store"]));
    // As the renamed install wrote it before: no marker.
    let stored = std::fs::read_to_string(&k).expect("read");
    let legacy = stored.replace("      - --plugin=kubectl-coreweave\n", "");
    assert_ne!(legacy, stored);
    std::fs::write(&k, &legacy).expect("write");
    let shown = ok(&kubectl(&sb, &path, &env, &["cw", "token", "show"]));
    assert!(shown.contains("stored in OS keyring"), "{shown}");
    // A copy is another program: its entry is not read.
    let copy = sb.path("other/kubectl-cw");
    std::fs::create_dir_all(copy.parent().unwrap()).expect("mkdir");
    std::fs::write(&copy, "#!/bin/sh\nexit 1\n").expect("write");
    let foreign = legacy.replace(
        &bin.join("kubectl-cw").display().to_string(),
        &copy.display().to_string(),
    );
    std::fs::write(&k, &foreign).expect("write");
    let o = kubectl(&sb, &path, &env, &["cw", "token", "show"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("runs another exec credential plugin"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&k, &legacy).expect("write");
    ok(&kubectl(&sb, &path, &env, &["cw", "token", "unstore"]));
    assert_eq!(std::fs::read_to_string(&k).expect("read"), original);
    clear(item);
}

/// An entry with the marker whose program is not this executable (a hostile file can write
/// one): the item is read for show and list, the program is never run by the plugin, and
/// both say which program kubectl would run instead.
#[test]
fn a_marked_entry_running_another_program_is_named() {
    let item = "rn-foreign";
    clear(item);
    let fake = FakeKube::start(&[(OLD, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let k = write_kubeconfig(
        &sb.path("config"),
        &[ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem))],
        &[("ctx", "c", item)],
        &[(item, OLD)],
    );
    let kc = support::path_str(&k);
    let run = |args: &[&str]| {
        sb.cmd(Some(kc))
            .env("DBUS_SESSION_BUS_ADDRESS", bus())
            .args(args)
            .output()
            .expect("run")
    };
    let o = run(&["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A program that would leave a trace if anything ran it.
    let trace = sb.path("ran");
    let other = sb.write(
        "other/helper",
        format!("#!/bin/sh\ntouch '{}'\n", trace.display()),
    );
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let text = std::fs::read_to_string(&k).expect("read");
    let swapped = text.replace(
        &format!("command: \"{}\"", support::bin()),
        &format!("command: \"{}\"", other.display()),
    );
    assert_ne!(swapped, text);
    std::fs::write(&k, &swapped).expect("write");
    let o = run(&["token", "show"]);
    let shown = ok(&o);
    assert!(shown.contains("stored in OS keyring"), "{shown}");
    assert!(
        shown.contains("which is not this kubectl-coreweave"),
        "{shown}"
    );
    let o = run(&["token", "list"]);
    ok(&o);
    assert!(
        stderr(&o).contains(&format!("runs \"{}\"", other.display())),
        "{}",
        stderr(&o)
    );
    assert!(!trace.exists(), "the plugin ran the entry's program");
    clear(item);
}

/// A download that runs the plugin under another name, or through kubectl's plugin lookup
/// of that name, or with the marker, is refused with one line naming the file and the user.
#[test]
fn import_refuses_a_download_running_the_plugin_under_any_name() {
    let sb = Sandbox::new();
    let bin = install_as_cw(&sb);
    let target = sb.path("kc/config");
    let alias = sb.path("tools/helper");
    std::fs::create_dir_all(alias.parent().unwrap()).expect("mkdir");
    std::os::unix::fs::symlink(support::bin(), &alias).expect("link");
    let cw = bin.join("kubectl-cw");
    for (i, exec) in [
        format!("command: {}\n      args: [token, credential, alice]", cw.display()),
        "command: kubectl\n      args: [cw, token, credential, alice]".to_string(),
        format!("command: {}\n      args: [x]", alias.display()),
        "command: kubectl\n      args: [cw, version]".to_string(),
        "command: /usr/local/bin/thing\n      args: [token, credential, alice, --plugin=kubectl-coreweave]".to_string(),
        "command: sh\n      args: [-c, 'exec kubectl-cw token credential alice']".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let dl = sb.write(
            &format!("dl{i}.yaml"),
            format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://evil.example.com'}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: mallory}}\ncurrent-context: c\nusers:\n- name: mallory\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      {exec}\n"),
        );
        let mut c = sb.cmd(Some(support::path_str(&target)));
        c.env("PATH", path_with(Some(&bin)));
        let o = c
            .args(["kubeconfig", "import", support::path_str(&dl), "--verify", "none"])
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(1), "{exec}: {}", stdout(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&dl.display().to_string()), "{exec}: {err}");
        assert!(err.contains("user \"mallory\""), "{exec}: {err}");
        assert!(err.contains("runs kubectl-coreweave"), "{exec}: {err}");
        assert!(!target.exists(), "{exec}: nothing may be written");
    }
    // Control: another exec plugin is imported (with a note).
    let dl = sb.write(
        "fine.yaml",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://cw1-2.k8s.z.coreweave.com'}\ncontexts:\n- name: c\n  context: {cluster: c, user: e}\nusers:\n- name: e\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: some-login\n      args: [get-token]\n",
    );
    let mut c = sb.cmd(Some(support::path_str(&target)));
    c.env("PATH", path_with(Some(&bin)));
    let o = c
        .args([
            "kubeconfig",
            "import",
            support::path_str(&dl),
            "--verify",
            "none",
        ])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(target.exists());
}
