//! Pack the real plugin (both executables), install it the way krew does, and let the
//! real kubectl find and run it: `kubectl plugin list`, `kubectl coreweave version`,
//! `token show --raw` (stays in kubectl-coreweave), `token show --check` (handed through
//! krew's link to coreweave-net in the store folder; it only reaches a closed loopback
//! port, never the internet), and `kubectl coreweave <TAB>` through the completion file
//! the caveats tell users to copy.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use xtask::{
    host_os_arch, krew_install, list_archive, pack, render, sha256_file, validate, Binaries,
    COMPLETER_SCRIPT,
};

/// The token in the test's kubeconfig; no real secret.
const TOKEN: &str = "CW-SECRET-krew-e2e-CANARY-0001";
/// A loopback port nothing listens on (discard): the check fails fast and stays local.
const CLOSED_API: &str = "http://127.0.0.1:9";
/// What kubectl-coreweave says when coreweave-net is not beside it.
const NOT_BESIDE: &str = "should be installed beside kubectl-coreweave";

/// The root package's two executables, built by `cargo build --locked` into the target
/// directory and profile this test was built in (so it shares that build's cache and lock).
fn plugin_binaries() -> Binaries {
    let exe = std::env::current_exe().expect("current_exe");
    // <target-dir>[/<triple>]/<profile>/deps/<this test>
    let deps = exe.parent().expect("test binary in deps/");
    let profile_dir = deps.parent().expect("deps/ in a profile folder");
    let profile = profile_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let above = profile_dir
        .parent()
        .expect("profile folder in a target folder");
    let (target_dir, triple) = if above.join("CACHEDIR.TAG").exists() {
        (above.to_path_buf(), None)
    } else {
        let triple = above.file_name().unwrap().to_string_lossy().into_owned();
        (
            above.parent().expect("target folder").to_path_buf(),
            Some(triple),
        )
    };

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let mut cmd = Command::new(&cargo);
    cmd.args([
        "build",
        "--locked",
        "-p",
        "kubectl-coreweave",
        "--bin",
        "kubectl-coreweave",
        "--bin",
        "coreweave-net",
    ])
    .env("CARGO_TARGET_DIR", &target_dir)
    .current_dir(workspace_root());
    // Cargo runs this test with the xtask package's own variables (CARGO_PKG_NAME=xtask,
    // CARGO_MANIFEST_DIR, …). ring's build script reruns when those change, so passing them
    // on would make this build and the workspace's own build in the same target folder
    // rebuild ring, rustls, kube and the plugin in turn.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        let set_by_cargo_for_this_test = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_"]
            .iter()
            .any(|p| k.starts_with(p))
            || matches!(
                &*k,
                "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR" | "OUT_DIR"
            );
        if set_by_cargo_for_this_test {
            cmd.env_remove(&key);
        }
    }
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    if let Some(t) = &triple {
        cmd.args(["--target", t]);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    assert!(
        out.status.success(),
        "building the plugin failed ({:?}):\n{}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    Binaries::in_dir(profile_dir, std::env::consts::OS).unwrap_or_else(|e| {
        panic!(
            "cargo build succeeded but {e:#} (target dir {}, profile {profile})",
            target_dir.display()
        )
    })
}

/// kubectl from the test's PATH. Never skipped: CI installs it.
fn kubectl() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .expect(
            "kubectl is not installed: this test runs the real kubectl. `.ci/run` installs it \
             (apt-get install kubernetes-client); install it the same way",
        )
}

fn run(kubectl: &Path, path_env: &str, home: &Path, args: &[&str]) -> Output {
    run_with(kubectl, path_env, home, &home.join("no-kubeconfig"), args)
}

/// kubectl with nothing of the caller's environment but what is given: no proxy variables,
/// no real kubeconfig, and the CoreWeave API at a closed loopback port.
fn run_with(
    kubectl: &Path,
    path_env: &str,
    home: &Path,
    kubeconfig: &Path,
    args: &[&str],
) -> Output {
    Command::new(kubectl)
        .args(args)
        .env_clear()
        .env("PATH", path_env)
        .env("HOME", home)
        .env("KUBECONFIG", kubeconfig)
        .env("COREWEAVE_API_ENDPOINT", CLOSED_API)
        .current_dir(home)
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubectl {args:?}: {e}"))
}

fn kubeconfig(home: &Path) -> PathBuf {
    let path = home.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n    server: \
             https://127.0.0.1:9\ncontexts:\n- name: c\n  context:\n    cluster: k\n    \
             user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: {TOKEN}\n"
        ),
    )
    .unwrap();
    path
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn pack_install_like_krew_and_run_through_kubectl() {
    let kubectl = kubectl();
    let binaries = plugin_binaries();
    let version = cargo_version_v();
    let (os, arch) = host_os_arch().unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // Pack, render the manifest for this archive, and check they agree.
    let archive = pack(
        &binaries,
        &workspace_root().join("LICENSE"),
        Some(COMPLETER_SCRIPT),
        &tmp.path().join("dist"),
        os,
        arch,
        &version,
    )
    .unwrap();
    let shas = BTreeMap::from([(format!("{os}_{arch}"), archive.sha256.clone())]);
    let manifest = render(&template(), &version, &shas).unwrap();
    assert_eq!(validate(&manifest), Ok(()));
    let declared = xtask::manifest_sha256(&manifest, os, arch).unwrap();
    assert_eq!(declared.as_deref(), Some(archive.sha256.as_str()));
    assert_eq!(sha256_file(&archive.path).unwrap(), archive.sha256);
    let entries = list_archive(&archive.path).unwrap();
    let listing: Vec<(&str, u32)> = entries.iter().map(|(n, m, _)| (n.as_str(), *m)).collect();
    assert_eq!(
        listing,
        [
            ("kubectl-coreweave", 0o755),
            ("coreweave-net", 0o755),
            ("LICENSE", 0o644),
            ("kubectl_complete-coreweave", 0o755),
        ]
    );
    assert!(entries[0].2 == std::fs::read(&binaries.plugin).unwrap());
    assert!(entries[1].2 == std::fs::read(&binaries.network).unwrap());

    // Install into a krew-like root: store/coreweave/<version>/, bin/kubectl-coreweave.
    let root = tmp.path().join("krew");
    let link = krew_install(&manifest, os, arch, &archive.path, &root).unwrap();
    assert_eq!(link, root.join("bin/kubectl-coreweave"));
    let target = std::fs::read_link(&link).expect("bin/kubectl-coreweave is a symlink");
    assert_eq!(
        target,
        Path::new("../store/coreweave")
            .join(&version)
            .join("kubectl-coreweave")
    );
    let store = root.join("store/coreweave").join(&version);
    assert!(
        std::fs::read(store.join("kubectl-coreweave")).unwrap()
            == std::fs::read(&binaries.plugin).unwrap()
    );
    assert!(
        std::fs::read(store.join("coreweave-net")).unwrap()
            == std::fs::read(&binaries.network).unwrap()
    );
    for f in [
        "kubectl-coreweave",
        "coreweave-net",
        "kubectl_complete-coreweave",
    ] {
        let mode = std::fs::metadata(store.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "{f}");
    }
    assert!(store.join("LICENSE").is_file());

    // Only the krew bin folder and the standard folders on PATH.
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let path_env = format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        root.join("bin").display()
    );

    let out = run(&kubectl, &path_env, &home, &["plugin", "list"]);
    let (stdout, stderr) = text(&out);
    let listed = stdout.lines().any(|l| l.trim() == link.to_string_lossy());
    assert!(
        listed,
        "kubectl plugin list does not list {}:\n{stdout}\n{stderr}",
        link.display()
    );
    for line in stdout.lines().chain(stderr.lines()) {
        let l = line.to_lowercase();
        assert!(
            !(l.contains("coreweave") && (l.contains("warning") || l.contains("error"))),
            "kubectl plugin list warns about the plugin: {line}\n{stdout}\n{stderr}"
        );
    }

    let out = run(&kubectl, &path_env, &home, &["coreweave", "version"]);
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "kubectl coreweave version failed: {stderr}"
    );
    let want = format!("kubectl-coreweave {version}");
    assert!(
        stdout.starts_with(&format!("{want} ")) || stdout.trim_end() == want,
        "kubectl coreweave version printed {stdout:?}, want it to start with {want:?}"
    );

    // `token show --raw` stays in kubectl-coreweave and prints the token alone.
    let config = kubeconfig(&home);
    let out = run_with(
        &kubectl,
        &path_env,
        &home,
        &config,
        &["coreweave", "token", "show", "--raw"],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "token show --raw failed: {stderr}");
    assert_eq!(stdout, format!("{TOKEN}\n"));

    // `token show --check` runs through krew's link; kubectl-coreweave must find
    // coreweave-net in the store folder the link leads to, and it is coreweave-net that
    // fails: the API is a closed loopback port.
    let check = ["coreweave", "token", "show", "--check"];
    let out = run_with(&kubectl, &path_env, &home, &config, &check);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "token show --check:\n{stdout}\n{stderr}"
    );
    assert!(
        !stderr.contains(NOT_BESIDE) && !stderr.contains("cannot run"),
        "the hand-off to coreweave-net failed: {stderr}"
    );
    assert!(
        stderr.contains("cannot reach the CoreWeave API") && stderr.contains("127.0.0.1:9"),
        "not coreweave-net's network error: {stderr}"
    );
    assert!(
        !stdout.contains("CANARY") && !stderr.contains("CANARY"),
        "the token leaked:\n{stdout}\n{stderr}"
    );

    // Control: the assertion above tells the two apart. Without coreweave-net in the store
    // folder, the same command fails with the missing-file error, not a network one.
    // The plugin names the folder of its resolved path (where /tmp is a link, not `store`).
    let net = std::fs::canonicalize(&store).unwrap().join("coreweave-net");
    let aside = tmp.path().join("coreweave-net.aside");
    std::fs::rename(&net, &aside).unwrap();
    let out = run_with(&kubectl, &path_env, &home, &config, &check);
    let (_, stderr) = text(&out);
    std::fs::rename(&aside, &net).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(NOT_BESIDE) && stderr.contains(&net.display().to_string()),
        "without coreweave-net: {stderr}"
    );
    assert!(!stderr.contains("CoreWeave API"), "{stderr}");

    // Completion: do what the caveats say (copy the completion file next to the link),
    // then ask kubectl to complete `kubectl coreweave <TAB>`.
    let caveat: Vec<&str> = manifest
        .lines()
        .skip_while(|l| !l.contains("cd \"${KREW_ROOT:-$HOME/.krew}\""))
        .take(2)
        .map(str::trim)
        .collect();
    assert_eq!(caveat.len(), 2, "the caveats lost their copy command");
    let copy = caveat.join(" ");
    let status = Command::new("/bin/sh")
        .args(["-c", &copy])
        .env("KREW_ROOT", &root)
        .status()
        .unwrap();
    assert!(status.success(), "the caveats' command failed: {copy}");
    let out = run(&kubectl, &path_env, &home, &["__complete", "coreweave", ""]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let words: Vec<&str> = stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    for w in ["token", "version", "completion"] {
        assert!(
            words.contains(&w),
            "kubectl did not complete {w:?}: {stdout}\n{stderr}"
        );
    }
}
