//! The exec entry's command (issue 19, item 6): `token store` and `kubeconfig import
//! --store keyring` write the plugin's absolute path as installed (krew's `bin/` link, not
//! the versioned store folder it points into), so kubectl runs it without the plugin on
//! PATH, as desktop GUIs do, and after an upgrade; `--bare-command` keeps the bare name,
//! and entries with the bare name keep working and are still the plugin's own. A path
//! others could replace (issue 28, item 6: a 0777 folder, another user's files) is never
//! written, into the kubeconfig or the AWS profile. Runs on the real Secret Service
//! (.ci/with-keyring) and the real kubectl against the TLS fake.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::fake_kube::{write_kubeconfig, ClusterSpec, FakeKube, FakeUser, Trust};
use crate::support::{self, stderr, stdout, Sandbox};

const ALICE: &str = "CW-SECRET-execpath-alice-0123456789abcdef";

fn bus() -> OsString {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|| {
        panic!("no D-Bus session: run the tests through .ci/with-keyring (see README)")
    })
}

/// The folder kubectl is in, checked to hold no `kubectl-coreweave`: a PATH of only this
/// is a desktop's PATH without the plugin.
fn path_without_plugin() -> OsString {
    let kubectl = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .expect("kubectl must be on PATH: .ci/run installs it");
    let dir = kubectl.parent().expect("folder").to_path_buf();
    assert!(!dir.join("kubectl-coreweave").exists(), "{}", dir.display());
    std::env::join_paths([dir]).expect("PATH")
}

fn path_with(first: &Path) -> OsString {
    let mut dirs = vec![first.to_path_buf()];
    dirs.extend(std::env::split_paths(&path_without_plugin()));
    std::env::join_paths(dirs).expect("PATH")
}

/// krew's layout: `store/coreweave/<version>/kubectl-coreweave` (here a link to the built
/// plugin) and `bin/kubectl-coreweave`, a link into the current version's folder.
fn krew_install(root: &Path, version: &str) -> PathBuf {
    let store = root.join("store/coreweave").join(version);
    std::fs::create_dir_all(&store).expect("mkdir");
    let exe = store.join("kubectl-coreweave");
    std::os::unix::fs::symlink(support::bin(), &exe).expect("link");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let link = bin.join("kubectl-coreweave");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&exe, &link).expect("link");
    bin
}

fn kubectl(sb: &Sandbox, path: &OsString, kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .env_clear()
        .env("PATH", path)
        .env("HOME", sb.path("home"))
        .env("KUBECONFIG", kubeconfig)
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .env("COREWEAVE_API_ENDPOINT", "http://127.0.0.1:9")
        .args(args)
        .output()
        .expect("kubectl")
}

fn whoami(sb: &Sandbox, path: &OsString, kubeconfig: &Path) -> Output {
    kubectl(
        sb,
        path,
        kubeconfig,
        &["auth", "whoami", "-o", "json", "--request-timeout=10s"],
    )
}

#[track_caller]
fn is_alice(o: &Output) {
    assert!(o.status.success(), "kubectl: {}", stderr(o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["status"]["userInfo"]["username"], "alice@example.com");
}

fn clear(item: &str) {
    let _ = Command::new("secret-tool")
        .args(["clear", "service", "kubectl-coreweave", "username", item])
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .output();
}

fn setup(sb: &Sandbox, fake: &FakeKube, user: &str) -> PathBuf {
    write_kubeconfig(
        &sb.path("config"),
        &[ClusterSpec::new("c", fake.url(), Trust::Data(&fake.ca.pem))],
        &[("ctx", "c", user)],
        &[(user, ALICE)],
    )
}

#[test]
fn store_through_krew_writes_the_bin_link_and_kubectl_needs_no_path() {
    let item = "ep-krew";
    clear(item);
    let fake = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let k = setup(&sb, &fake, item);
    let original = std::fs::read(&k).expect("read");
    let krew = sb.path("krew");
    let bin = krew_install(&krew, "v0.1.0");

    // As a user runs it: `kubectl coreweave token store`, kubectl finding krew's link.
    let o = kubectl(&sb, &path_with(&bin), &k, &["coreweave", "token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    let link = bin.join("kubectl-coreweave");
    assert!(
        text.contains(&format!("command: \"{}\"\n", link.display())),
        "{text}"
    );
    assert!(!text.contains("store/coreweave"), "{text}");

    // A desktop GUI's PATH, without the plugin: kubectl runs the entry by its path.
    is_alice(&whoami(&sb, &path_without_plugin(), &k));

    // `kubectl krew upgrade`: a new version folder, the link moved, the old folder gone.
    krew_install(&krew, "v0.2.0");
    std::fs::remove_dir_all(krew.join("store/coreweave/v0.1.0")).expect("rm");
    is_alice(&whoami(&sb, &path_without_plugin(), &k));

    // The entry is the plugin's own: unstore gives back the original bytes.
    let o = kubectl(
        &sb,
        &path_with(&bin),
        &k,
        &["coreweave", "token", "unstore"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&k).expect("read"), original);

    // Started by bare name from a shell: the name is looked up on PATH, as kubectl would.
    let o = Command::new("sh")
        .args(["-c", "kubectl-coreweave token store"])
        .env_clear()
        .env("PATH", path_with(&bin))
        .env("HOME", sb.path("home"))
        .env("KUBECONFIG", &k)
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .current_dir(sb.dir.path())
        .output()
        .expect("sh");
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    assert!(
        text.contains(&format!("command: \"{}\"\n", link.display())),
        "{text}"
    );
    is_alice(&whoami(&sb, &path_without_plugin(), &k));
    clear(item);
}

#[test]
fn bare_command_keeps_the_name_and_bare_entries_keep_working() {
    let item = "ep-bare";
    clear(item);
    let fake = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let k = setup(&sb, &fake, item);
    let original = std::fs::read(&k).expect("read");
    let bin = krew_install(&sb.path("krew"), "v0.1.0");
    let o = kubectl(
        &sb,
        &path_with(&bin),
        &k,
        &["coreweave", "token", "store", "--bare-command"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    assert!(text.contains("command: kubectl-coreweave\n"), "{text}");
    // With the plugin on PATH it works; without, kubectl shows the install hint.
    is_alice(&whoami(&sb, &path_with(&bin), &k));
    let o = whoami(&sb, &path_without_plugin(), &k);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("kubectl krew install coreweave"),
        "{}",
        stderr(&o)
    );
    // Still the plugin's own entry: show follows it, unstore takes it back.
    let o = kubectl(&sb, &path_with(&bin), &k, &["coreweave", "token", "show"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(item), "{}", stdout(&o));
    let o = kubectl(
        &sb,
        &path_with(&bin),
        &k,
        &["coreweave", "token", "unstore"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&k).expect("read"), original);
    clear(item);
}

#[test]
fn import_into_the_keyring_writes_the_absolute_path() {
    let fake = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let dl = sb.write(
        "dl.yaml",
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: ep-import\n  cluster:\n    server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: ep-import\n  context: {{cluster: ep-import, user: token}}\ncurrent-context: ep-import\nusers:\n- name: token\n  user:\n    token: {ALICE}\n",
            fake.url(),
            support::fake_kube::base64_encode(fake.ca.pem.as_bytes())
        ),
    );
    clear("ep-import");
    let k = sb.path("kc/config");
    let bin = krew_install(&sb.path("krew"), "v0.1.0");
    let dl = dl.to_str().expect("utf-8");
    let o = kubectl(
        &sb,
        &path_with(&bin),
        &k,
        &[
            "coreweave",
            "kubeconfig",
            "import",
            dl,
            "--verify",
            "none",
            "--store",
            "keyring",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    let link = bin.join("kubectl-coreweave");
    assert!(text.contains(&link.display().to_string()), "{text}");
    assert!(!text.contains(ALICE), "{text}");
    is_alice(&whoami(&sb, &path_without_plugin(), &k));
    clear("ep-import");
}

// ---- a program others can replace is never written (issue 28, item 6) ----

/// `program` (an installed copy or link of the plugin) run directly, as a user runs it from
/// its folder, with the sandbox's HOME, AWS config and the keyring's bus.
/// A copy written a moment ago can be "busy" (ETXTBSY) while a child another test thread
/// forked still holds its write descriptor until it execs: tried again for a while.
fn run_program(sb: &Sandbox, program: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    for _ in 0..100 {
        match try_program(sb, program, kubeconfig, args) {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            other => return other.expect("run the installed plugin"),
        }
    }
    try_program(sb, program, kubeconfig, args).expect("run the installed plugin")
}

fn try_program(
    sb: &Sandbox,
    program: &Path,
    kubeconfig: &Path,
    args: &[&str],
) -> std::io::Result<Output> {
    Command::new(program)
        .env_clear()
        .env("PATH", path_without_plugin())
        .env("HOME", sb.path("home"))
        .env("KUBECONFIG", kubeconfig)
        .env("AWS_CONFIG_FILE", sb.path("home/.aws/config"))
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .env("COREWEAVE_API_ENDPOINT", "http://127.0.0.1:9")
        .current_dir(program.parent().expect("folder"))
        .args(args)
        .output()
}

/// A copy of the built plugin as `dir/kubectl-coreweave` (mode 0755), `dir` made `mode`.
fn install_copy(dir: &Path, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("mkdir");
    let exe = dir.join("kubectl-coreweave");
    std::fs::copy(support::bin(), &exe).expect("copy the plugin");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
    exe
}

fn item_exists(item: &str) -> bool {
    let o = Command::new("secret-tool")
        .args(["lookup", "service", "kubectl-coreweave", "username", item])
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .output()
        .expect("secret-tool (libsecret-tools) must be installed: .ci/setup installs it");
    !o.stdout.is_empty()
}

/// Refused with one line that names `unsafe_path` and `why`, offers --bare-command, and
/// leaves the kubeconfig, the keyring and the AWS config as they were.
#[track_caller]
fn refused(o: &Output, unsafe_path: &Path, why: &str, k: &Path, original: &[u8], item: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", stdout(o));
    assert!(o.stdout.is_empty(), "{}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "{err}");
    for part in [&unsafe_path.display().to_string(), why, "--bare-command"] {
        assert!(err.contains(part), "{part}: {err}");
    }
    assert_eq!(
        std::fs::read(k).expect("read"),
        original,
        "kubeconfig changed"
    );
    assert!(!item_exists(item), "keyring item {item} was written");
}

/// As an attacker sets it up: the plugin copied into a folder anyone can write (a 0777
/// download folder), then `token store` and `objectstorage profile --write` run from there.
/// Both refuse before writing anything; `--bare-command` writes the bare name instead.
#[test]
fn an_install_in_a_folder_anyone_can_write_is_never_written() {
    let item = "ep-open";
    clear(item);
    let fake = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let k = setup(&sb, &fake, item);
    let original = std::fs::read(&k).expect("read");
    let open = sb.path("open");
    let exe = install_copy(&open, 0o777);
    let aws_config = sb.path("home/.aws/config");

    let o = run_program(&sb, &exe, &k, &["token", "store"]);
    refused(
        &o,
        &open,
        "writable by its group and others (mode 0777)",
        &k,
        &original,
        item,
    );
    let o = run_program(&sb, &exe, &k, &["token", "store", "--dry-run"]);
    refused(&o, &open, "mode 0777", &k, &original, item);
    let o = run_program(
        &sb,
        &exe,
        &k,
        &["objectstorage", "profile", "--write", "--region", "test"],
    );
    refused(&o, &open, "mode 0777", &k, &original, item);
    assert!(!aws_config.exists(), "the AWS config was written");
    // Printing the profile would hand the same path to the user's config: refused too.
    let o = run_program(
        &sb,
        &exe,
        &k,
        &["objectstorage", "profile", "--region", "test"],
    );
    refused(&o, &open, "mode 0777", &k, &original, item);

    // --bare-command: the name, looked up on PATH when kubectl or the AWS CLI runs it.
    let o = run_program(
        &sb,
        &exe,
        &k,
        &[
            "objectstorage",
            "profile",
            "--write",
            "--bare-command",
            "--region",
            "test",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let profile = std::fs::read_to_string(&aws_config).expect("profile written");
    assert!(
        profile.contains(
            "credential_process = kubectl-coreweave objectstorage credentials --region=test\n"
        ),
        "{profile}"
    );
    let o = run_program(&sb, &exe, &k, &["token", "store", "--bare-command"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    assert!(text.contains("command: kubectl-coreweave\n"), "{text}");
    assert!(!text.contains(&open.display().to_string()), "{text}");
    // kubectl finds it by name on a PATH that holds a safe install.
    let bin = krew_install(&sb.path("krew"), "v0.1.0");
    is_alice(&whoami(&sb, &path_with(&bin), &k));
    clear(item);
}

/// Root running the plugin from a folder and binary another user owns (`nobody`): that
/// user could replace it and run code as root on every kubectl call. CI runs as root.
#[test]
fn as_root_an_install_another_user_owns_is_never_written() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root (as in CI) to give files to another user"
    );
    let nobody = 65534;
    let item = "ep-nobody";
    clear(item);
    let fake = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let k = setup(&sb, &fake, item);
    let original = std::fs::read(&k).expect("read");
    // The folder and the program both belong to nobody.
    let theirs = sb.path("theirs");
    let exe = install_copy(&theirs, 0o755);
    std::os::unix::fs::chown(&theirs, Some(nobody), Some(nobody)).expect("chown");
    std::os::unix::fs::chown(&exe, Some(nobody), Some(nobody)).expect("chown");
    let o = run_program(&sb, &exe, &k, &["token", "store"]);
    refused(&o, &theirs, "owned by uid 65534", &k, &original, item);
    let o = run_program(
        &sb,
        &exe,
        &k,
        &["objectstorage", "profile", "--write", "--region", "test"],
    );
    refused(&o, &theirs, "owned by uid 65534", &k, &original, item);
    // Root's own folder, nobody's program.
    let mine = sb.path("mine");
    let exe = install_copy(&mine, 0o755);
    std::os::unix::fs::chown(&exe, Some(nobody), Some(nobody)).expect("chown");
    let o = run_program(&sb, &exe, &k, &["token", "store"]);
    refused(&o, &exe, "owned by uid 65534", &k, &original, item);
    assert!(!sb.path("home/.aws/config").exists());
    clear(item);
}

/// A 0755 folder the user owns (here root, as CI runs): stored with the copy's own path,
/// and kubectl runs it without the plugin on PATH; the profile names the same path.
#[test]
fn an_install_only_the_user_can_write_is_written() {
    let item = "ep-mine";
    clear(item);
    let fake = FakeKube::start(&[(ALICE, FakeUser::new("alice@example.com"))]);
    let sb = Sandbox::new();
    let k = setup(&sb, &fake, item);
    let exe = install_copy(&sb.path("opt/cw"), 0o755);
    let o = run_program(&sb, &exe, &k, &["token", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    assert!(
        text.contains(&format!("command: \"{}\"\n", exe.display())),
        "{text}"
    );
    is_alice(&whoami(&sb, &path_without_plugin(), &k));
    let o = run_program(
        &sb,
        &exe,
        &k,
        &["objectstorage", "profile", "--write", "--region", "test"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let profile = std::fs::read_to_string(sb.path("home/.aws/config")).expect("profile");
    assert!(
        profile.contains(&format!(
            "credential_process = {} objectstorage credentials --region=test\n",
            exe.display()
        )),
        "{profile}"
    );
    clear(item);
}
