//! `pack`: the archives hold exactly the files the manifest's `files` name (one
//! executable among them), with the right modes, reproducibly; `krew_install` checks the
//! sha256 like krew; `cargo xtask dist --binary` packs an executable built elsewhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use xtask::{
    archive_name, krew_install, list_archive, pack, render, sha256_file, COMPLETER_SCRIPT,
};

/// A fake executable under a name unlike the archive's (pack renames it), and the real
/// LICENSE.
fn fake_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let binary = dir.join("some-build-output");
    std::fs::write(&binary, b"\x7fELF not really the plugin").unwrap();
    (binary, workspace_root().join("LICENSE"))
}

fn names_and_modes(entries: &[(String, u32, Vec<u8>)]) -> Vec<(&str, u32)> {
    entries.iter().map(|(n, m, _)| (n.as_str(), *m)).collect()
}

#[test]
fn license_is_apache_2() {
    let text = read("LICENSE");
    assert!(text.contains("Apache License"));
    assert!(text.contains("Version 2.0, January 2004"));
    assert!(text.contains("END OF TERMS AND CONDITIONS"));
    assert_eq!(cargo_package_field("license"), "Apache-2.0");
}

#[test]
fn unix_archive_holds_the_executable_license_and_completer() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, license) = fake_inputs(dir.path());
    let v = cargo_version_v();
    let a = pack(
        &bin,
        &license,
        Some(COMPLETER_SCRIPT),
        dir.path(),
        "linux",
        "arm64",
        &v,
    )
    .unwrap();
    assert_eq!(
        a.path,
        dir.path()
            .join(format!("kubectl-coreweave_{v}_linux_arm64.tar.gz"))
    );
    assert_eq!(a.sha256, sha256_file(&a.path).unwrap());
    assert_eq!(a.sha256.len(), 64);

    let entries = list_archive(&a.path).unwrap();
    assert_eq!(
        names_and_modes(&entries),
        [
            ("kubectl-coreweave", 0o755),
            ("LICENSE", 0o644),
            ("kubectl_complete-coreweave", 0o755)
        ]
    );
    assert_eq!(entries[0].2, std::fs::read(&bin).unwrap());
    assert_eq!(entries[1].2, std::fs::read(&license).unwrap());
    assert_eq!(
        entries[2].2,
        b"#!/bin/sh\nexec kubectl-coreweave __complete \"$@\"\n".to_vec()
    );
}

#[test]
fn windows_archive_is_a_zip_with_the_exe_and_license_only() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, license) = fake_inputs(dir.path());
    let v = cargo_version_v();
    let a = pack(&bin, &license, None, dir.path(), "windows", "amd64", &v).unwrap();
    assert!(a.path.ends_with(archive_name(&v, "windows", "amd64")));
    assert!(a.path.to_string_lossy().ends_with("_windows_amd64.zip"));
    assert_eq!(&std::fs::read(&a.path).unwrap()[..4], b"PK\x03\x04");
    let entries = list_archive(&a.path).unwrap();
    assert_eq!(
        names_and_modes(&entries),
        [("kubectl-coreweave.exe", 0o755), ("LICENSE", 0o644)]
    );
    assert_eq!(entries[0].2, std::fs::read(&bin).unwrap());

    let err = pack(
        &bin,
        &license,
        Some(COMPLETER_SCRIPT),
        dir.path(),
        "windows",
        "amd64",
        &v,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("no kubectl_complete-coreweave"));
    let err = pack(&bin, &license, None, dir.path(), "linux", "amd64", &v).unwrap_err();
    assert!(format!("{err:#}").contains("must carry kubectl_complete-coreweave"));
    let err = pack(
        &bin,
        &license,
        None,
        dir.path(),
        "windows",
        "amd64",
        "0.1.0",
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("must start with 'v'"));
}

#[test]
fn pack_refuses_a_missing_or_empty_binary_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, license) = fake_inputs(dir.path());
    let out = dir.path().join("dist");
    let missing = dir.path().join("missing");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    for (bin, expect) in [
        (
            &missing,
            format!("cannot read binary {}", missing.display()),
        ),
        (&empty, format!("binary {} is empty", empty.display())),
    ] {
        let err = pack(
            bin,
            &license,
            Some(COMPLETER_SCRIPT),
            &out,
            "linux",
            "amd64",
            &cargo_version_v(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains(&expect), "{err:#}");
        assert!(!out.exists(), "{} written anyway", out.display());
    }
}

#[test]
fn the_plugin_is_one_executable() {
    // The root package builds one binary, the one every archive and manifest carries.
    let cargo_toml = read("Cargo.toml");
    assert_eq!(cargo_toml.matches("[[bin]]").count(), 1, "{cargo_toml}");
    let bin = format!("[[bin]]\nname = \"{}\"\n", xtask::BINARY);
    assert!(cargo_toml.contains(&bin), "Cargo.toml has no {bin:?}");
    assert!(!workspace_root().join("src/bin").exists());
    assert_eq!(xtask::binary_name("windows"), "kubectl-coreweave.exe");
    assert_eq!(xtask::binary_name("darwin"), "kubectl-coreweave");
}

#[test]
fn packing_twice_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, license) = fake_inputs(dir.path());
    let v = cargo_version_v();
    for (os, completer) in [("darwin", Some(COMPLETER_SCRIPT)), ("windows", None)] {
        let a = pack(
            &bin,
            &license,
            completer,
            &dir.path().join("1"),
            os,
            "arm64",
            &v,
        )
        .unwrap();
        // Another file time and path for the input: only its content may count.
        let copies = dir.path().join(format!("copies-{os}"));
        std::fs::create_dir_all(&copies).unwrap();
        let moved = copies.join("a");
        std::fs::copy(&bin, &moved).unwrap();
        let b = pack(
            &moved,
            &license,
            completer,
            &dir.path().join("2"),
            os,
            "arm64",
            &v,
        )
        .unwrap();
        assert_eq!(a.sha256, b.sha256, "{os}");
        assert_eq!(
            std::fs::read(&a.path).unwrap(),
            std::fs::read(&b.path).unwrap()
        );
        if os != "windows" {
            assert_fixed_tar_headers(&a.path);
        }
    }
}

/// Every tar entry: owner 0:0 (root), the fixed timestamp, a regular file.
fn assert_fixed_tar_headers(archive: &Path) {
    const ZIP_EPOCH: u64 = 315_532_800;
    let want_mtime = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(ZIP_EPOCH, |t| t.max(ZIP_EPOCH));
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(archive).unwrap());
    let mut tar = tar::Archive::new(gz);
    let mut n = 0;
    for e in tar.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        let name = e.path().unwrap().display().to_string();
        assert_eq!(h.mtime().unwrap(), want_mtime, "{name}");
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0), "{name}");
        assert_eq!(h.username().unwrap(), Some("root"), "{name}");
        assert_eq!(h.groupname().unwrap(), Some("root"), "{name}");
        assert_eq!(h.entry_type(), tar::EntryType::Regular, "{name}");
        n += 1;
    }
    assert_eq!(n, 3, "{}", archive.display());
}

#[test]
fn every_release_platform_packs_and_its_manifest_entry_installs() {
    // For each of the five platforms: pack a fake executable, render the manifest with that
    // archive's sha256, and install it by the manifest's own `files` and `bin`.
    let dir = tempfile::tempdir().unwrap();
    let (bin, license) = fake_inputs(dir.path());
    let v = cargo_version_v();
    for p in xtask::RELEASE_PLATFORMS {
        let completer = (p.os != "windows").then_some(COMPLETER_SCRIPT);
        let a = pack(
            &bin,
            &license,
            completer,
            &dir.path().join("dist"),
            p.os,
            p.arch,
            &v,
        )
        .unwrap();
        let shas = BTreeMap::from([(format!("{}_{}", p.os, p.arch), a.sha256.clone())]);
        let manifest = render(&template(), &v, &shas).unwrap();
        let root = dir.path().join(format!("krew-{}-{}", p.os, p.arch));
        let link = krew_install(&manifest, p.os, p.arch, &a.path, &root)
            .unwrap_or_else(|e| panic!("{}/{}: {e:#}", p.os, p.arch));
        let store = root.join("store/coreweave").join(&v);
        let mut installed: Vec<String> = std::fs::read_dir(&store)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        installed.sort();
        let expected: &[&str] = if p.os == "windows" {
            &["LICENSE", "kubectl-coreweave.exe"]
        } else {
            &["LICENSE", "kubectl-coreweave", "kubectl_complete-coreweave"]
        };
        assert_eq!(installed, expected, "{}/{}", p.os, p.arch);
        assert_eq!(std::fs::read(&link).unwrap(), std::fs::read(&bin).unwrap());
    }
}

#[test]
fn krew_install_refuses_an_archive_whose_sha256_differs() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, license) = fake_inputs(dir.path());
    let v = cargo_version_v();
    let a = pack(
        &bin,
        &license,
        Some(COMPLETER_SCRIPT),
        dir.path(),
        "linux",
        "amd64",
        &v,
    )
    .unwrap();
    let shas = BTreeMap::from([("linux_amd64".to_string(), fake_sha('b'))]);
    let manifest = render(&template(), &v, &shas).unwrap();
    let err = krew_install(
        &manifest,
        "linux",
        "amd64",
        &a.path,
        &dir.path().join("root"),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("the manifest says"), "{err:#}");
    assert!(!dir.path().join("root/bin/kubectl-coreweave").exists());
}

fn xtask(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run xtask")
}

#[test]
fn dist_with_binary_packs_it_and_prints_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let v = cargo_version_v();
    for (target, os, arch) in [
        ("aarch64-unknown-linux-musl", "linux", "arm64"),
        ("x86_64-pc-windows-msvc", "windows", "amd64"),
    ] {
        let binary = dir.path().join(format!("built-for-{os}"));
        std::fs::write(&binary, format!("plugin bytes for {os}")).unwrap();
        let out_dir = dir.path().join(format!("dist-{os}"));
        let o = xtask(&[
            "dist".as_ref(),
            "--target".as_ref(),
            target.as_ref(),
            "--binary".as_ref(),
            binary.as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{target}: {stderr}");

        let size = std::fs::metadata(&binary).unwrap().len();
        let line = format!("binary   {} ({size} bytes)", binary.display());
        assert!(
            stdout.lines().any(|l| l == line),
            "no {line:?} in\n{stdout}"
        );

        let archive = out_dir.join(archive_name(&v, os, arch));
        let entries = list_archive(&archive).unwrap();
        let expected: &[(&str, u32)] = if os == "windows" {
            &[("kubectl-coreweave.exe", 0o755), ("LICENSE", 0o644)]
        } else {
            &[
                ("kubectl-coreweave", 0o755),
                ("LICENSE", 0o644),
                ("kubectl_complete-coreweave", 0o755),
            ]
        };
        assert_eq!(names_and_modes(&entries), expected, "{target}");
        assert_eq!(entries[0].2, format!("plugin bytes for {os}").as_bytes());

        let sha = sha256_file(&archive).unwrap();
        let manifest = std::fs::read_to_string(out_dir.join("krew.yaml")).unwrap();
        assert_eq!(xtask::validate(&manifest), Ok(()));
        assert_eq!(
            xtask::manifest_sha256(&manifest, os, arch).unwrap(),
            Some(sha.clone())
        );
        let sha_file = out_dir.join(format!("{}.sha256", archive_name(&v, os, arch)));
        assert_eq!(
            std::fs::read_to_string(sha_file).unwrap(),
            format!("{sha}  {}\n", archive_name(&v, os, arch))
        );
    }
}

#[test]
fn dist_refuses_builder_with_binary_the_old_bin_dir_and_a_missing_binary() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("kubectl-coreweave");
    std::fs::write(&binary, b"plugin bytes").unwrap();
    let out_dir = dir.path().join("dist");
    let fails = |args: &[&std::ffi::OsStr], code: i32, expect: &str| {
        let o = xtask(args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expect),
            "{args:?}: want {expect:?} in {stderr}"
        );
        assert!(
            !out_dir.exists(),
            "{args:?} wrote {} anyway",
            out_dir.display()
        );
    };
    // Usage errors, from clap: exit 2.
    fails(
        &[
            "dist".as_ref(),
            "--builder".as_ref(),
            "cargo".as_ref(),
            "--binary".as_ref(),
            binary.as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ],
        2,
        "cannot be used with",
    );
    fails(
        &[
            "dist".as_ref(),
            "--bin-dir".as_ref(),
            dir.path().as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ],
        2,
        "unexpected argument '--bin-dir'",
    );
    fails(
        &[
            "dist".as_ref(),
            "--builder".as_ref(),
            "make".as_ref(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ],
        2,
        "[possible values: cargo, cross, zigbuild]",
    );
    // A binary that is not there: one error line, exit 1.
    let gone = dir.path().join("gone");
    fails(
        &[
            "dist".as_ref(),
            "--target".as_ref(),
            "x86_64-unknown-linux-musl".as_ref(),
            "--binary".as_ref(),
            gone.as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ],
        1,
        &format!("error: cannot read binary {}", gone.display()),
    );
}
