//! `pack`: the archives hold exactly the files the manifest's `files` name, with the
//! right modes, reproducibly; `krew_install` checks the sha256 like krew.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use xtask::{
    archive_name, krew_install, list_archive, pack, render, sha256_file, COMPLETER_SCRIPT,
};

fn fake_inputs(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let bin = dir.join("some-build-output");
    std::fs::write(&bin, b"\x7fELF not really a binary").unwrap();
    (bin, workspace_root().join("LICENSE"))
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
fn unix_archive_holds_binary_license_and_completer() {
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
    let names: Vec<(&str, u32)> = entries.iter().map(|(n, m, _)| (n.as_str(), *m)).collect();
    assert_eq!(
        names,
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
    let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["kubectl-coreweave.exe", "LICENSE"]);
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
    let err = pack(
        &dir.path().join("missing"),
        &license,
        None,
        dir.path(),
        "windows",
        "amd64",
        &v,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("cannot read binary"));
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
        let b = pack(
            &bin,
            &license,
            completer,
            &dir.path().join("2"),
            os,
            "arm64",
            &v,
        )
        .unwrap();
        assert_eq!(a.sha256, b.sha256, "{os}");
    }
}

#[test]
fn every_release_platform_packs_and_its_manifest_entry_installs() {
    // For each of the five platforms: pack a fake binary, render the manifest with that
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
