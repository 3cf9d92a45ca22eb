//! The plugin is two executables (see `src/network.rs`): `kubectl-coreweave` runs what stays
//! on this machine and hands the commands that talk to the network to `coreweave-net`,
//! found beside it. These tests install them as krew does (a link in a bin folder to the
//! store folder) or alone, and check which commands run where.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::fake_coreweave::FakeCoreweave;
use support::{kubeconfig, path_str, stderr, stdout, Sandbox};

const OLD: &str = "CW-SECRET-twobins-OLDCANARY-0001";
const NEW: &str = "CW-SECRET-twobins-NEWCANARY-0002";

fn net_bin() -> &'static str {
    env!("CARGO_BIN_EXE_coreweave-net")
}

/// `kubectl-coreweave` copied into `<sandbox>/store/` (with `coreweave-net` beside it when
/// `with_net`), and `<sandbox>/bin/kubectl-coreweave` a symlink to it, as krew installs.
fn install(sb: &Sandbox, with_net: bool) -> PathBuf {
    let store = sb.path("store");
    std::fs::create_dir_all(&store).expect("store");
    std::fs::copy(support::bin(), store.join("kubectl-coreweave")).expect("copy plugin");
    if with_net {
        std::fs::copy(net_bin(), store.join("coreweave-net")).expect("copy coreweave-net");
    }
    let bin = sb.path("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let link = bin.join("kubectl-coreweave");
    std::os::unix::fs::symlink("../store/kubectl-coreweave", &link).expect("symlink");
    link
}

fn run(sb: &Sandbox, exe: &Path, kubeconfig: &Path, api: &str, args: &[&str]) -> Output {
    let mut c = Command::new(exe);
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", sb.dir.path())
        .env("KUBECONFIG", kubeconfig)
        .env("COREWEAVE_API_ENDPOINT", api)
        .current_dir(sb.dir.path())
        .args(args);
    c.output().expect("run plugin")
}

/// `token rotate --from-file <NEW>` with `extra` flags.
fn rotate(sb: &Sandbox, exe: &Path, kubeconfig: &Path, api: &str, extra: &[&str]) -> Output {
    let new_token = sb.write("new-token", format!("{NEW}\n"));
    let mut args = vec!["token", "rotate", "--from-file", path_str(&new_token)];
    args.extend_from_slice(extra);
    run(sb, exe, kubeconfig, api, &args)
}

fn config(sb: &Sandbox) -> PathBuf {
    sb.write(
        "config",
        kubeconfig(Some("c"), &[("c", "k", "u")], &[("u", OLD)]),
    )
}

fn assert_no_token(o: &Output) {
    for text in [stdout(o), stderr(o)] {
        assert!(!text.contains("CANARY"), "token in output: {text}");
    }
}

/// Through krew's link, `kubectl-coreweave` finds `coreweave-net` in the store folder and
/// the network commands work: `show --check` and a verified rotate reach the fake API.
#[test]
fn network_commands_run_in_coreweave_net_found_through_the_link() {
    let sb = Sandbox::new();
    let exe = install(&sb, true);
    let k = config(&sb);
    let fake = FakeCoreweave::start();
    fake.accept_token(OLD, "u-1", "o-1")
        .accept_token(NEW, "u-1", "o-1");

    let o = run(&sb, &exe, &k, &fake.url(), &["token", "show", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("u-1"), "{}", stdout(&o));
    assert_no_token(&o);

    std::fs::write(sb.path("new-token"), format!("{NEW}\n")).expect("token file");
    let o = run(
        &sb,
        &exe,
        &k,
        &fake.url(),
        &[
            "token",
            "rotate",
            "--from-file",
            path_str(&sb.path("new-token")),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Verified: CoreWeave accepts"),
        "{}",
        stdout(&o)
    );
    assert_no_token(&o);
    let after = std::fs::read_to_string(&k).expect("read config");
    assert!(after.contains(NEW) && !after.contains(OLD), "{after}");
    // Both the check and the rotate asked the fake: 1 whoami, then new and old.
    assert_eq!(fake.requests().len(), 3, "{:?}", fake.requests().len());
}

/// Without `coreweave-net`, everything that stays on this machine still works, and a
/// network command fails with one line that names the missing file, changing nothing.
#[test]
fn without_coreweave_net_offline_commands_work_and_network_ones_say_what_is_missing() {
    let sb = Sandbox::new();
    let exe = install(&sb, false);
    let k = config(&sb);
    let fake = FakeCoreweave::start();
    fake.accept_token(NEW, "u-1", "o-1");

    let o = run(&sb, &exe, &k, &fake.url(), &["token", "show", "--raw"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{OLD}\n"));

    let before = std::fs::read(&k).expect("read config");
    std::fs::write(sb.path("new-token"), format!("{NEW}\n")).expect("token file");
    let missing = sb.path("store").join("coreweave-net");
    for args in [
        &["token", "show", "--check"][..],
        &[
            "token",
            "rotate",
            "--from-file",
            path_str(&sb.path("new-token")),
        ],
        &[
            "token",
            "rotate",
            "--verify",
            "cluster",
            "--from-file",
            path_str(&sb.path("new-token")),
        ],
    ] {
        let o = run(&sb, &exe, &k, &fake.url(), args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(path_str(&missing)), "{args:?}: {err}");
        assert!(err.contains("--verify none"), "{args:?}: {err}");
        assert_eq!(stdout(&o), "", "{args:?}");
        assert_no_token(&o);
        assert_eq!(std::fs::read(&k).expect("read config"), before, "{args:?}");
    }
    assert!(fake.requests().is_empty(), "nothing may reach the API");

    // An offline rotate needs no network and stays in kubectl-coreweave.
    let o = rotate(&sb, &exe, &k, &fake.url(), &["--verify", "none"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let after = std::fs::read_to_string(&k).expect("read config");
    assert!(after.contains(NEW) && !after.contains(OLD), "{after}");
}

/// `coreweave-net` is the same command line, run by hand too, with the same help.
#[test]
fn coreweave_net_runs_the_same_command_line() {
    let sb = Sandbox::new();
    let k = config(&sb);
    let net = PathBuf::from(net_bin());
    let o = run(
        &sb,
        &net,
        &k,
        "http://127.0.0.1:9",
        &["token", "show", "--raw"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{OLD}\n"));
    let help = |exe: &Path| stdout(&run(&sb, exe, &k, "http://127.0.0.1:9", &["--help"]));
    assert_eq!(help(&net), help(Path::new(support::bin())));
    assert!(help(&net).contains("kubectl coreweave"));
}

/// The hand-off keeps the exit status and the one-line error of `coreweave-net`.
#[test]
fn the_hand_off_keeps_the_exit_status_and_the_error() {
    let sb = Sandbox::new();
    let exe = install(&sb, true);
    let k = config(&sb);
    let fake = FakeCoreweave::start();
    // OLD is unknown to the fake: rejected.
    let o = run(
        &sb,
        &exe,
        &k,
        &fake.url(),
        &["token", "show", "--check", "--raw"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("token rejected"), "{}", stderr(&o));
    assert_no_token(&o);
}

/// `kubectl-coreweave` links none of the network stack: messages that only tokio and rustls
/// carry are in `coreweave-net` (so the needles are real) and not in `kubectl-coreweave`.
/// (The linker drops unreferenced code in every profile, so the debug build shows it too.)
#[test]
fn kubectl_coreweave_links_no_network_code() {
    let small = std::fs::read(support::bin()).expect("read kubectl-coreweave");
    let net = std::fs::read(net_bin()).expect("read coreweave-net");
    let contains =
        |hay: &[u8], needle: &str| memchr::memmem::find(hay, needle.as_bytes()).is_some();
    for needle in ["A Tokio 1.x context was found", "received corrupt message"] {
        assert!(contains(&net, needle), "coreweave-net lacks {needle:?}");
        assert!(
            !contains(&small, needle),
            "kubectl-coreweave links {needle:?}"
        );
    }
}
