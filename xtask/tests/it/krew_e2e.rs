//! Pack the real plugin, smoke-test the archive with `cargo xtask smoke` (what the
//! release workflow runs on every platform before publishing), install it the way krew
//! does, and let the real kubectl find and run it: `kubectl plugin list`, `kubectl
//! coreweave version`, `token show --raw`, `token show --check` (the network code, in the
//! same executable, reached through krew's link; it only reaches a closed loopback port,
//! never the internet), and `kubectl coreweave <TAB>` through the completion file the
//! caveats tell users to copy.
//!
//! krew itself cannot be installed here (no network but the package registries), so the
//! install is xtask's `krew_install`, which follows krew's steps; the release workflow runs
//! the same smoke with the real `kubectl krew install`.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;
use xtask::{
    host_os_arch, krew_install, list_archive, pack, render, sha256_file, validate,
    COMPLETER_SCRIPT, SMOKE_STEPS,
};

/// The token in the test's kubeconfig; no real secret.
const TOKEN: &str = "CW-SECRET-krew-e2e-CANARY-0001";
/// A loopback port nothing listens on (discard): the check fails fast and stays local.
const CLOSED_API: &str = "http://127.0.0.1:9";

/// The plugin executable of this workspace's own test build: what `cargo test
/// --workspace` (`.ci/run`) has already compiled for the root package's integration tests.
///
/// Asking cargo for that same build (`cargo test --workspace --no-run`, same profile and
/// target) is a fingerprint check when it is fresh (under a second), and its JSON messages
/// name the executable (re-linked into place even when fresh). A narrower request, `cargo
/// build -p kubectl-coreweave --bin …` as this test once made, resolves features without
/// the rest of the workspace and the dev-dependencies, so cargo compiled rustix, clap,
/// clap_complete and the plugin a second time (49 s on the loaded 2-core machine).
fn workspace_test_binary() -> PathBuf {
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
        "test",
        "--workspace",
        "--no-run",
        "--locked",
        "--message-format=json-render-diagnostics",
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
        "building the workspace's tests failed ({cmd:?}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let executable = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["name"] == xtask::BINARY
                && m["target"]["kind"] == serde_json::json!(["bin"])
        })
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("{cmd:?} named no {} executable", xtask::BINARY));
    assert!(executable.is_file(), "{}", executable.display());
    executable
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

fn xtask_smoke(archive: &Path, krew: &str, path_env: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["smoke", "--krew", krew, "--archive"])
        .arg(archive);
    if let Some(p) = path_env {
        cmd.env("PATH", p);
    }
    cmd.output().expect("run xtask smoke")
}

/// The debug build, stripped of debug information as the release profile strips
/// (`strip = true`), packed for this machine as `cargo xtask dist` packs a release build.
/// Packed once for all tests of the module, under cargo's temporary folder for tests.
///
/// Stripping keeps the code and leaves 37 MB to compress instead of 168 MB: gzip -9 of the
/// unstripped debug executable, once per test and in unoptimized flate2 (the dev profile
/// now optimizes it), took minutes; with the narrower build above it made the 215 s this
/// module once took on a clean machine.
fn packed() -> &'static (PathBuf, xtask::Archive) {
    static PACKED: std::sync::OnceLock<(PathBuf, xtask::Archive)> = std::sync::OnceLock::new();
    PACKED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("krew_e2e");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("kubectl-coreweave");
        // `-S`: debug information only; GNU and Apple strip both take it.
        let status = Command::new("strip")
            .arg("-S")
            .arg("-o")
            .arg(&binary)
            .arg(workspace_test_binary())
            .status()
            .expect("strip (binutils, or Xcode's command line tools) is not installed");
        assert!(status.success(), "strip failed");
        let (os, arch) = host_os_arch().unwrap();
        let archive = pack(
            &binary,
            &workspace_root().join("LICENSE"),
            Some(COMPLETER_SCRIPT),
            &dir.join("dist"),
            os,
            arch,
            &cargo_version_v(),
        )
        .unwrap();
        (binary, archive)
    })
}

#[test]
fn smoke_passes_every_step_on_the_real_archive_and_fails_without_krew() {
    let (_, archive) = packed();

    let out = xtask_smoke(&archive.path, "emulated", None);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "smoke failed:\n{stdout}\n{stderr}");
    let want: Vec<String> = SMOKE_STEPS
        .iter()
        .map(|s| format!("smoke ok: {s}"))
        .collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), want, "{stderr}");
    assert!(!stdout.contains("CW-SECRET-") && !stderr.contains("CW-SECRET-"));

    // The real krew is what the release runs: without it on PATH (kubectl has no `krew`
    // command here), the smoke fails at that step instead of passing without it.
    let path = format!("{}:/usr/bin:/bin", kubectl().parent().unwrap().display());
    let out = xtask_smoke(&archive.path, "real", Some(&path));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("smoke ok: kubectl-coreweave completion bash"),
        "{stdout}"
    );
    assert!(
        stderr.starts_with("error: kubectl krew install --manifest --archive: failed"),
        "{stderr}"
    );
}

#[test]
fn smoke_refuses_another_platforms_archive_and_a_plugin_that_misbehaves() {
    let tmp = tempfile::tempdir().unwrap();
    let v = cargo_version_v();
    let (os, arch) = host_os_arch().unwrap();
    let license = workspace_root().join("LICENSE");
    let other_arch = if arch == "amd64" { "arm64" } else { "amd64" };
    // Each fake plugin passes the steps before the one it breaks.
    let fakes = [
        (
            other_arch,
            "#!/bin/sh\nexit 0\n".to_string(),
            format!("is not this machine's archive: want kubectl-coreweave_{v}_{os}_{arch}"),
        ),
        (
            arch,
            "#!/bin/sh\necho kubectl-coreweave v0.0.0-old\n".to_string(),
            format!(
                "kubectl-coreweave version: printed \"kubectl-coreweave v0.0.0-old\", want \
                 \"kubectl-coreweave {v}\" first"
            ),
        ),
        (
            arch,
            format!(
                "#!/bin/sh\n[ \"$1\" = version ] && echo kubectl-coreweave {v} && exit 0\n\
                 echo CW-SECRET-not-the-sample\n"
            ),
            "kubectl-coreweave token show --raw: stdout (25 bytes) is not the sample's token"
                .to_string(),
        ),
    ];
    for (i, (arch, script, expect)) in fakes.iter().enumerate() {
        let bin = tmp.path().join(format!("fake-{i}"));
        std::fs::write(&bin, script).unwrap();
        let archive = pack(
            &bin,
            &license,
            Some(COMPLETER_SCRIPT),
            &tmp.path().join(format!("dist-{i}")),
            os,
            arch,
            &v,
        )
        .unwrap();
        let out = xtask_smoke(&archive.path, "emulated", None);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{i}: {stdout}\n{stderr}");
        assert!(
            stderr.contains(expect.as_str()),
            "{i}: want {expect:?} in {stderr}"
        );
        assert!(!stderr.contains("CW-SECRET-"), "{i}: {stderr}");
    }
}

#[test]
fn pack_install_like_krew_and_run_through_kubectl() {
    let kubectl = kubectl();
    let version = cargo_version_v();
    let (os, arch) = host_os_arch().unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // Pack, render the manifest for this archive, and check they agree.
    let (binary, archive) = packed();
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
            ("LICENSE", 0o644),
            ("kubectl_complete-coreweave", 0o755),
        ]
    );
    assert!(entries[0].2 == std::fs::read(binary).unwrap());

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
        std::fs::read(store.join("kubectl-coreweave")).unwrap() == std::fs::read(binary).unwrap()
    );
    for f in ["kubectl-coreweave", "kubectl_complete-coreweave"] {
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

    // `token show --check` through krew's link: the network code is linked in the one
    // executable and runs for this command; the API is a closed loopback port, so it is
    // the network error that ends it.
    let check = ["coreweave", "token", "show", "--check"];
    let out = run_with(&kubectl, &path_env, &home, &config, &check);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "token show --check:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("cannot reach the CoreWeave API") && stderr.contains("127.0.0.1:9"),
        "not the network error: {stderr}"
    );
    assert!(
        !stdout.contains("CANARY") && !stderr.contains("CANARY"),
        "the token leaked:\n{stdout}\n{stderr}"
    );

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
