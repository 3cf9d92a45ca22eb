//! The krew manifest: the template renders to what `validate` accepts, the committed
//! krew.yaml is the template's rendering and agrees with Cargo.toml, and `validate`
//! refuses each kind of manifest krew (or krew-index review) refuses.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use xtask::{render, validate, PLACEHOLDER_SHA256, RELEASE_PLATFORMS};

fn valid_manifest() -> String {
    let m = render(&template(), &cargo_version_v(), &all_shas()).expect("template renders");
    assert_eq!(
        validate(&m),
        Ok(()),
        "the fully rendered template must validate"
    );
    m
}

/// `needle` replaced once by `with` in a valid manifest must be refused with an error
/// that contains `expect`.
#[track_caller]
fn assert_refused(needle: &str, with: &str, expect: &str) {
    let good = valid_manifest();
    assert!(
        good.contains(needle),
        "the manifest has no {needle:?} to change"
    );
    let bad = good.replacen(needle, with, 1);
    match validate(&bad) {
        Ok(()) => panic!("accepted a manifest with {needle:?} -> {with:?}"),
        Err(errs) => assert!(
            errs.iter().any(|e| e.contains(expect)),
            "{needle:?} -> {with:?}: no error mentions {expect:?}; errors: {errs:#?}"
        ),
    }
}

#[test]
fn validate_accepts_the_committed_krew_yaml() {
    let committed = read("krew.yaml");
    assert_eq!(validate(&committed), Ok(()));
}

#[test]
fn validate_accepts_the_template_rendered_with_and_without_shas() {
    let none = render(&template(), &cargo_version_v(), &no_shas()).unwrap();
    assert_eq!(validate(&none), Ok(()));
    assert_eq!(
        none.matches(PLACEHOLDER_SHA256).count(),
        RELEASE_PLATFORMS.len()
    );
    let all = valid_manifest();
    assert!(!all.contains(PLACEHOLDER_SHA256));
    assert!(!all.contains("{{"), "a placeholder survived rendering");
}

#[test]
fn committed_krew_yaml_version_equals_cargo_toml_version() {
    let (name, version) = xtask::manifest_name_version(&read("krew.yaml")).unwrap();
    assert_eq!(name, "coreweave");
    assert_eq!(
        version,
        cargo_version_v(),
        "krew.yaml spec.version vs Cargo.toml version"
    );
}

#[test]
fn committed_krew_yaml_is_the_template_rendered_for_linux_amd64() {
    let committed = read("krew.yaml");
    let sha = xtask::manifest_sha256(&committed, "linux", "amd64")
        .unwrap()
        .expect("krew.yaml has a linux/amd64 platform");
    assert_ne!(
        sha, PLACEHOLDER_SHA256,
        "linux/amd64 must carry the built archive's sha256"
    );
    let shas = BTreeMap::from([("linux_amd64".to_string(), sha)]);
    let expected = render(&template(), &cargo_version_v(), &shas).unwrap();
    assert!(
        committed == expected,
        "krew.yaml is not the current template's rendering; regenerate it with\n  \
         cargo xtask dist && cp <target-dir>/dist/krew.yaml krew.yaml"
    );
    for (os, arch) in [
        ("linux", "arm64"),
        ("darwin", "amd64"),
        ("darwin", "arm64"),
        ("windows", "amd64"),
    ] {
        let s = xtask::manifest_sha256(&committed, os, arch).unwrap();
        assert_eq!(s.as_deref(), Some(PLACEHOLDER_SHA256), "{os}/{arch}");
    }
    // The file says what it is.
    assert!(committed.starts_with("# krew plugin manifest"));
    assert!(committed.contains("NOT INSTALLABLE AS IS"));
    assert!(committed.contains(".github/workflows/release.yml"));
}

#[test]
fn template_matches_cargo_toml_and_the_release_platforms() {
    let t = template();
    let repo = cargo_package_field("repository");
    assert!(
        t.contains(&format!("  homepage: {repo}\n")),
        "homepage must be {repo}"
    );
    let uris: Vec<&str> = t
        .lines()
        .filter_map(|l| l.trim().strip_prefix("uri: "))
        .collect();
    assert_eq!(uris.len(), RELEASE_PLATFORMS.len());
    for (uri, p) in uris.iter().zip(RELEASE_PLATFORMS) {
        let name = xtask::archive_name("{{VERSION}}", p.os, p.arch);
        assert_eq!(
            *uri,
            format!("{repo}/releases/download/{{{{VERSION}}}}/{name}")
        );
    }
    let platforms: Vec<(String, String)> = RELEASE_PLATFORMS
        .iter()
        .map(|p| (p.os.to_string(), p.arch.to_string()))
        .collect();
    assert_eq!(xtask::template_platforms(&t), platforms);
}

#[test]
fn rendered_description_and_caveats_say_what_the_brief_asks() {
    let m = valid_manifest();
    assert!(m.contains("https://console.coreweave.com/tokens"));
    assert!(m.contains("--backup"));
    assert!(m.contains("kubectl_complete-coreweave"));
    let short = m
        .lines()
        .find_map(|l| l.trim().strip_prefix("shortDescription: "))
        .unwrap();
    assert!(short.chars().count() <= 50, "{short}");
}

#[test]
fn render_refuses_bad_input() {
    let t = template();
    let v = cargo_version_v();
    let one = |k: &str, s: &str| BTreeMap::from([(k.to_string(), s.to_string())]);
    let err = |r: anyhow::Result<String>| format!("{:#}", r.expect_err("must fail"));
    assert!(err(render(&t, "0.1.0", &no_shas())).contains("'v'"));
    assert!(err(render(&t, &v, &one("linux_amd46", &fake_sha('a'))))
        .contains("no platform linux_amd46"));
    assert!(err(render(&t, &v, &one("linux_amd64", "abc"))).contains("not 64 lowercase hex"));
    assert!(err(render(&t, &v, &one("linux_amd64", PLACEHOLDER_SHA256))).contains("not 64"));
    let t2 = format!("{t}  extra: \"{{{{SHA256}}}}\"\n");
    assert!(err(render(&t2, &v, &no_shas())).contains("unreplaced"));
}

#[test]
fn refuses_a_name_krew_does_not_allow() {
    assert_refused("name: coreweave", "name: core.weave", "metadata.name");
    assert_refused("name: coreweave", "name: \"core weave\"", "metadata.name");
    assert_refused("name: coreweave", "name: con", "reserved");
}

#[test]
fn refuses_a_version_without_v_or_not_semver() {
    let v = cargo_version_v();
    let line = format!("version: \"{v}\"");
    assert_refused(
        &line,
        &format!("version: \"{}\"", &v[1..]),
        "does not start with 'v'",
    );
    assert_refused(&line, "version: \"v0.1\"", "not semver");
    assert_refused(&line, "version: \"v1.2.3.4\"", "not semver");
    assert_refused(&line, "version: \"v01.2.3\"", "leading zero");
    assert_refused(&line, "version: \"vnext\"", "not semver");
}

#[test]
fn refuses_a_long_or_multiline_short_description() {
    let line = "shortDescription: Show and rotate CoreWeave API access tokens";
    let long = "x".repeat(51);
    assert_refused(line, &format!("shortDescription: {long}"), "at most 50");
    assert_refused(
        line,
        "shortDescription: \"Show and rotate\\nCoreWeave tokens\"",
        "line break",
    );
}

#[test]
fn refuses_a_sha256_that_is_not_64_lowercase_hex() {
    let a = fake_sha('a');
    assert_refused(&a, &a.to_uppercase(), "sha256");
    assert_refused(&a, &a[..63], "sha256");
    assert_refused(&a, &format!("{}g", &a[..63]), "sha256");
    // Unquoted digits are a number to krew's YAML reader, not a string.
    let none = render(&template(), &cargo_version_v(), &no_shas()).unwrap();
    let bad = none.replacen(&format!("\"{PLACEHOLDER_SHA256}\""), PLACEHOLDER_SHA256, 1);
    assert!(
        validate(&bad).is_err(),
        "an unquoted all-digit sha256 must be refused"
    );
}

#[test]
fn refuses_an_empty_selector() {
    let sel = "selector:\n      matchLabels:\n        os: linux\n        arch: amd64\n";
    assert_refused(sel, "selector: {}\n", "empty selector");
    assert_refused(sel, "selector:\n      matchLabels: {}\n", "empty selector");
    assert_refused(
        sel,
        "selector:\n      matchLabels:\n        os: linux\n        cpu: amd64\n",
        "not supported",
    );
    // Two platforms selecting the same os/arch.
    assert_refused("arch: arm64", "arch: amd64", "overlap");
}

#[test]
fn refuses_a_bin_that_is_not_among_the_files_targets() {
    assert_refused(
        "bin: kubectl-coreweave\n",
        "bin: kubectl-cw\n",
        "not among the files",
    );
    assert_refused(
        "- from: kubectl-coreweave.exe\n      to: .",
        "- from: kubectl-coreweave.exe\n      to: kubectl-cw.exe",
        "not among the files",
    );
    assert_refused(
        "bin: kubectl-coreweave.exe",
        "bin: kubectl-coreweave",
        "does not end in .exe",
    );
    assert_refused("to: .", "to: ./", "not a clean path");
}

/// A unix platform's `files` entry for the network executable, as the template has it.
const NET_FILE: &str = "    - from: coreweave-net\n      to: .\n";
const NET_FILE_EXE: &str = "    - from: coreweave-net.exe\n      to: .\n";

#[test]
fn template_installs_the_network_executable_on_every_platform() {
    let t = template();
    let platforms = RELEASE_PLATFORMS.len();
    let unix = RELEASE_PLATFORMS
        .iter()
        .filter(|p| p.os != "windows")
        .count();
    assert_eq!(t.matches(NET_FILE).count(), unix);
    assert_eq!(t.matches(NET_FILE_EXE).count(), platforms - unix);
    assert_eq!(t.matches("    files:\n").count(), platforms);
}

#[test]
fn refuses_platform_files_without_the_network_executable() {
    // Left out of the first (linux/amd64) platform, or of the Windows one.
    assert_refused(
        NET_FILE,
        "",
        "spec.platforms[0]: `files` do not install \"coreweave-net\" beside bin \"kubectl-coreweave\"",
    );
    assert_refused(
        NET_FILE_EXE,
        "",
        "spec.platforms[4]: `files` do not install \"coreweave-net.exe\" beside bin",
    );
    // On Windows the plugin runs coreweave-net.exe; a file without .exe is not it.
    assert_refused(
        NET_FILE_EXE,
        "    - from: coreweave-net.exe\n      to: coreweave-net\n",
        "do not install \"coreweave-net.exe\"",
    );
    // Installed, but not in the folder of bin, the only place the plugin looks.
    assert_refused(
        NET_FILE,
        "    - from: coreweave-net\n      to: net/coreweave-net\n",
        "beside bin",
    );
    let good = valid_manifest();
    let moved_bin = good
        .replacen(
            "    bin: kubectl-coreweave\n",
            "    bin: sub/kubectl-coreweave\n",
            1,
        )
        .replacen(
            "    - from: kubectl-coreweave\n      to: .\n",
            "    - from: kubectl-coreweave\n      to: sub/kubectl-coreweave\n",
            1,
        );
    let errs = validate(&moved_bin).expect_err("coreweave-net is not beside sub/kubectl-coreweave");
    assert!(
        errs.iter()
            .any(|e| e.contains("\"sub/coreweave-net\" beside bin \"sub/kubectl-coreweave\"")),
        "{errs:#?}"
    );
}

#[test]
fn accepts_the_network_executable_by_glob_by_default_files_or_beside_a_moved_bin() {
    let good = valid_manifest();
    let first_files = format!(
        "    files:\n    - from: kubectl-coreweave\n      to: .\n{NET_FILE}    - from: LICENSE\n      to: .\n    - from: kubectl_complete-coreweave\n      to: .\n"
    );
    assert!(good.contains(&first_files), "the template's files changed");
    // Every file of the archive into the plugin's folder.
    let star = good.replacen(
        &first_files,
        "    files:\n    - from: \"*\"\n      to: .\n",
        1,
    );
    assert_eq!(validate(&star), Ok(()));
    // No `files`: krew's default, the whole archive.
    let default = good.replacen(&first_files, "", 1);
    assert_eq!(validate(&default), Ok(()));
    // Both executables in the same sub-folder.
    let sub = good
        .replacen(
            "    bin: kubectl-coreweave\n",
            "    bin: sub/kubectl-coreweave\n",
            1,
        )
        .replacen(
            &first_files,
            "    files:\n    - from: \"*\"\n      to: sub\n",
            1,
        );
    assert_eq!(validate(&sub), Ok(()));
}

#[test]
fn refuses_a_description_line_over_80_columns() {
    assert_refused(
        "  description: |\n",
        "  description: |\n    This line is far too long for krew-index review because it runs on well past the eightieth column.\n",
        "wrap it at 80",
    );
    assert_refused(
        "  description: |\n",
        "  description: |\n    $ kubectl coreweave token show\n",
        "usage example",
    );
}

#[test]
fn refuses_an_unknown_api_version_or_kind() {
    assert_refused(
        "apiVersion: krew.googlecontainertools.github.com/v1alpha2",
        "apiVersion: krew.googlecontainertools.github.com/v1alpha1",
        "apiVersion",
    );
    assert_refused("kind: Plugin", "kind: Plugins", "kind");
}

#[test]
fn check_manifest_command_exits_non_zero_with_the_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("coreweave.yaml");
    std::fs::write(&good, valid_manifest()).unwrap();
    let bad = dir.path().join("krew.yaml");
    std::fs::write(
        &bad,
        valid_manifest().replacen("kind: Plugin", "kind: Plugins", 1),
    )
    .unwrap();
    let misnamed = dir.path().join("other.yaml");
    std::fs::write(&misnamed, valid_manifest()).unwrap();
    let no_net = dir.path().join("no-net");
    std::fs::create_dir_all(&no_net).unwrap();
    let no_net = no_net.join("coreweave.yaml");
    std::fs::write(&no_net, valid_manifest().replace(NET_FILE, "")).unwrap();

    let run = |args: &[&std::path::Path]| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("check-manifest")
            .args(args)
            .output()
            .unwrap()
    };
    let ok = run(&[&good]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("coreweave.yaml: ok"));

    for (path, expect) in [
        (&bad, "kind is Some(\"Plugins\")"),
        (&misnamed, "plugins/coreweave.yaml"),
        (
            &no_net,
            "spec.platforms[3]: `files` do not install \"coreweave-net\" beside bin",
        ),
    ] {
        let out = run(&[path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
    }

    let release = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["check-manifest", "--release"])
        .arg(common::workspace_root().join("krew.yaml"))
        .output()
        .unwrap();
    assert_eq!(
        release.status.code(),
        Some(1),
        "placeholders are not releasable"
    );
    assert!(String::from_utf8_lossy(&release.stderr).contains("placeholder"));
}

#[test]
fn render_command_refuses_a_version_other_than_cargo_toml() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["render", "--version", "v99.0.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("differs from Cargo.toml's version"),
        "{stderr}"
    );
}
