//! Pack the real plugin, install it the way krew does, and let the real kubectl find and
//! run it: `kubectl plugin list`, `kubectl coreweave version`, and `kubectl coreweave
//! <TAB>` through the completion file the caveats tell users to copy.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use xtask::{host_os_arch, krew_install, pack, render, sha256_file, validate, COMPLETER_SCRIPT};

/// The root package's binary, built by `cargo build --locked` into the target directory
/// and profile this test was built in (so it shares that build's cache and lock).
fn plugin_binary() -> PathBuf {
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
    ])
    .env("CARGO_TARGET_DIR", &target_dir)
    .current_dir(workspace_root());
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
    let bin = profile_dir.join("kubectl-coreweave");
    assert!(
        bin.is_file(),
        "cargo build succeeded but there is no {} (target dir {}, profile {profile})",
        bin.display(),
        target_dir.display()
    );
    bin
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
    Command::new(kubectl)
        .args(args)
        .env_clear()
        .env("PATH", path_env)
        .env("HOME", home)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubectl {args:?}: {e}"))
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
    let binary = plugin_binary();
    let version = cargo_version_v();
    let (os, arch) = host_os_arch().unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // Pack, render the manifest for this archive, and check they agree.
    let archive = pack(
        &binary,
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
    assert_eq!(
        std::fs::read(store.join("kubectl-coreweave")).unwrap(),
        std::fs::read(&binary).unwrap()
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
