//! The krew manifest: the template renders to what `validate` accepts, the committed
//! krew.yaml is the template's rendering and agrees with Cargo.toml, and `validate`
//! refuses each kind of manifest krew (or krew-index review) refuses.

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::*;
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

#[test]
fn template_installs_one_executable_per_platform() {
    // One program: each platform's `files` are the archive's entries, in pack's order.
    let t = template();
    let unix = "    files:\n    - from: kubectl-coreweave\n      to: .\n    - from: LICENSE\n      to: .\n    - from: kubectl_complete-coreweave\n      to: .\n";
    let windows = "    files:\n    - from: kubectl-coreweave.exe\n      to: .\n    - from: LICENSE\n      to: .\n";
    let n_unix = RELEASE_PLATFORMS
        .iter()
        .filter(|p| p.os != "windows")
        .count();
    assert_eq!(t.matches(unix).count(), n_unix, "{t}");
    assert_eq!(t.matches(windows).count(), RELEASE_PLATFORMS.len() - n_unix);
    assert_eq!(t.matches("    files:\n").count(), RELEASE_PLATFORMS.len());
    assert!(
        !t.contains("coreweave-net"),
        "the network executable is gone"
    );
}

#[test]
fn accepts_files_by_glob_by_default_or_with_a_moved_bin() {
    let good = valid_manifest();
    let first_files = "    files:\n    - from: kubectl-coreweave\n      to: .\n    - from: LICENSE\n      to: .\n    - from: kubectl_complete-coreweave\n      to: .\n";
    assert!(good.contains(first_files), "the template's files changed");
    // Every file of the archive into the plugin's folder.
    let star = good.replacen(
        first_files,
        "    files:\n    - from: \"*\"\n      to: .\n",
        1,
    );
    assert_eq!(validate(&star), Ok(()));
    // No `files`: krew's default, the whole archive.
    let default = good.replacen(first_files, "", 1);
    assert_eq!(validate(&default), Ok(()));
    // The executable in a sub-folder.
    let sub = good
        .replacen(
            "    bin: kubectl-coreweave\n",
            "    bin: sub/kubectl-coreweave\n",
            1,
        )
        .replacen(
            first_files,
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
    let no_exe = dir.path().join("no-exe");
    std::fs::create_dir_all(&no_exe).unwrap();
    let no_exe = no_exe.join("coreweave.yaml");
    std::fs::write(
        &no_exe,
        valid_manifest().replace("bin: kubectl-coreweave.exe", "bin: kubectl-coreweave"),
    )
    .unwrap();

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
            &no_exe,
            "spec.platforms[4]: the Windows bin \"kubectl-coreweave\" does not end in .exe",
        ),
    ] {
        let out = run(&[path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
    }

    let release = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["check-manifest", "--release"])
        .arg(workspace_root().join("krew.yaml"))
        .output()
        .unwrap();
    assert_eq!(
        release.status.code(),
        Some(1),
        "placeholders are not releasable"
    );
    assert!(String::from_utf8_lossy(&release.stderr).contains("placeholder"));

    // No manifest named: a usage error (clap's exit code 2), nothing checked.
    let none = run(&[]);
    assert_eq!(none.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(stderr.contains("<PATH>"), "{stderr}");
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
