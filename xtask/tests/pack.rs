//! `pack`: the archives hold exactly the files the manifest's `files` name (both
//! executables among them), with the right modes, reproducibly; `krew_install` checks the
//! sha256 like krew; `cargo xtask dist --bin-dir` packs executables built elsewhere.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use xtask::{
    archive_name, krew_install, list_archive, pack, render, sha256_file, Binaries, COMPLETER_SCRIPT,
};

/// Two distinct fake executables under names unlike the archive's (pack renames them),
/// and the real LICENSE.
fn fake_inputs(dir: &Path) -> (Binaries, PathBuf) {
    let plugin = dir.join("some-build-output");
    std::fs::write(&plugin, b"\x7fELF not really the plugin").unwrap();
    let network = dir.join("other-build-output");
    std::fs::write(&network, b"\x7fELF not really the network half").unwrap();
    (
        Binaries { plugin, network },
        workspace_root().join("LICENSE"),
    )
}

/// A folder holding fake executables named as cargo names them for `os`, as
/// `dist --bin-dir` wants.
fn fake_bin_dir(dir: &Path, os: &str) -> PathBuf {
    let exe = if os == "windows" { ".exe" } else { "" };
    let d = dir.join(format!("built-{os}"));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(format!("kubectl-coreweave{exe}")), b"plugin bytes").unwrap();
    std::fs::write(
        d.join(format!("coreweave-net{exe}")),
        b"network bytes, longer",
    )
    .unwrap();
    d
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
fn unix_archive_holds_both_executables_license_and_completer() {
    let dir = tempfile::tempdir().unwrap();
    let (bins, license) = fake_inputs(dir.path());
    let v = cargo_version_v();
    let a = pack(
        &bins,
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
            ("coreweave-net", 0o755),
            ("LICENSE", 0o644),
            ("kubectl_complete-coreweave", 0o755)
        ]
    );
    assert_eq!(entries[0].2, std::fs::read(&bins.plugin).unwrap());
    assert_eq!(entries[1].2, std::fs::read(&bins.network).unwrap());
    assert_eq!(entries[2].2, std::fs::read(&license).unwrap());
    assert_eq!(
        entries[3].2,
        b"#!/bin/sh\nexec kubectl-coreweave __complete \"$@\"\n".to_vec()
    );
}

#[test]
fn windows_archive_is_a_zip_with_the_two_exes_and_license_only() {
    let dir = tempfile::tempdir().unwrap();
    let (bins, license) = fake_inputs(dir.path());
    let v = cargo_version_v();
    let a = pack(&bins, &license, None, dir.path(), "windows", "amd64", &v).unwrap();
    assert!(a.path.ends_with(archive_name(&v, "windows", "amd64")));
    assert!(a.path.to_string_lossy().ends_with("_windows_amd64.zip"));
    assert_eq!(&std::fs::read(&a.path).unwrap()[..4], b"PK\x03\x04");
    let entries = list_archive(&a.path).unwrap();
    assert_eq!(
        names_and_modes(&entries),
        [
            ("kubectl-coreweave.exe", 0o755),
            ("coreweave-net.exe", 0o755),
            ("LICENSE", 0o644)
        ]
    );
    assert_eq!(entries[0].2, std::fs::read(&bins.plugin).unwrap());
    assert_eq!(entries[1].2, std::fs::read(&bins.network).unwrap());

    let err = pack(
        &bins,
        &license,
        Some(COMPLETER_SCRIPT),
        dir.path(),
        "windows",
        "amd64",
        &v,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("no kubectl_complete-coreweave"));
    let err = pack(&bins, &license, None, dir.path(), "linux", "amd64", &v).unwrap_err();
    assert!(format!("{err:#}").contains("must carry kubectl_complete-coreweave"));
    let err = pack(
        &bins,
        &license,
        None,
        dir.path(),
        "windows",
        "amd64",
        "0.1.0",
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("must start with 'v'"));
    for missing_network in [false, true] {
        let mut b = bins.clone();
        let missing = dir.path().join("missing");
        if missing_network {
            b.network = missing.clone();
        } else {
            b.plugin = missing.clone();
        }
        let err = pack(&b, &license, None, dir.path(), "windows", "amd64", &v).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("cannot read binary") && msg.contains(&missing.display().to_string()),
            "{msg}"
        );
    }
}

#[test]
fn pack_refuses_one_build_output_given_as_both_executables() {
    let dir = tempfile::tempdir().unwrap();
    let (bins, license) = fake_inputs(dir.path());
    let twice = Binaries {
        plugin: bins.plugin.clone(),
        network: bins.plugin.clone(),
    };
    let err = pack(
        &twice,
        &license,
        Some(COMPLETER_SCRIPT),
        dir.path(),
        "linux",
        "amd64",
        &cargo_version_v(),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("same content"), "{err:#}");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let err = pack(
        &Binaries {
            plugin: bins.plugin.clone(),
            network: empty,
        },
        &license,
        Some(COMPLETER_SCRIPT),
        dir.path(),
        "linux",
        "amd64",
        &cargo_version_v(),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("is empty"), "{err:#}");
}

#[test]
fn binaries_in_dir_takes_cargos_names_for_the_os_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let unix = fake_bin_dir(dir.path(), "linux");
    let b = Binaries::in_dir(&unix, "darwin").unwrap();
    assert_eq!(b.plugin, unix.join("kubectl-coreweave"));
    assert_eq!(b.network, unix.join("coreweave-net"));
    let win = fake_bin_dir(dir.path(), "windows");
    let b = Binaries::in_dir(&win, "windows").unwrap();
    assert_eq!(b.plugin, win.join("kubectl-coreweave.exe"));
    assert_eq!(b.network, win.join("coreweave-net.exe"));
    // The unix names are not what a Windows build leaves.
    let err = format!("{:#}", Binaries::in_dir(&unix, "windows").unwrap_err());
    assert!(err.contains("kubectl-coreweave.exe"), "{err}");

    std::fs::remove_file(unix.join("coreweave-net")).unwrap();
    let err = format!("{:#}", Binaries::in_dir(&unix, "linux").unwrap_err());
    let want = unix.join("coreweave-net").display().to_string();
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("--bin coreweave-net"), "{err}");
}

#[test]
fn network_binary_name_agrees_with_the_plugin_and_cargo_toml() {
    // kubectl-coreweave looks for exactly this name; a rename there must show here.
    let network_rs = read("src/network.rs");
    let decl = format!(
        "pub const NETWORK_BINARY: &str = \"{}\";",
        xtask::NETWORK_BINARY
    );
    assert!(network_rs.contains(&decl), "src/network.rs lacks {decl}");
    let cargo_toml = read("Cargo.toml");
    let bin = format!("[[bin]]\nname = \"{}\"\n", xtask::NETWORK_BINARY);
    assert!(cargo_toml.contains(&bin), "Cargo.toml has no {bin:?}");
    let bin = format!("[[bin]]\nname = \"{}\"\n", xtask::BINARY);
    assert!(cargo_toml.contains(&bin), "Cargo.toml has no {bin:?}");
}

#[test]
fn packing_twice_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (bins, license) = fake_inputs(dir.path());
    let v = cargo_version_v();
    for (os, completer) in [("darwin", Some(COMPLETER_SCRIPT)), ("windows", None)] {
        let a = pack(
            &bins,
            &license,
            completer,
            &dir.path().join("1"),
            os,
            "arm64",
            &v,
        )
        .unwrap();
        // Other file times and paths for the inputs: only their content may count.
        let copies = dir.path().join(format!("copies-{os}"));
        std::fs::create_dir_all(&copies).unwrap();
        let moved = Binaries {
            plugin: copies.join("a"),
            network: copies.join("b"),
        };
        std::fs::copy(&bins.plugin, &moved.plugin).unwrap();
        std::fs::copy(&bins.network, &moved.network).unwrap();
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
    assert_eq!(n, 4, "{}", archive.display());
}

#[test]
fn every_release_platform_packs_and_its_manifest_entry_installs() {
    // For each of the five platforms: pack fake executables, render the manifest with that
    // archive's sha256, and install it by the manifest's own `files` and `bin`.
    let dir = tempfile::tempdir().unwrap();
    let (bins, license) = fake_inputs(dir.path());
    let v = cargo_version_v();
    for p in xtask::RELEASE_PLATFORMS {
        let completer = (p.os != "windows").then_some(COMPLETER_SCRIPT);
        let a = pack(
            &bins,
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
            &["LICENSE", "coreweave-net.exe", "kubectl-coreweave.exe"]
        } else {
            &[
                "LICENSE",
                "coreweave-net",
                "kubectl-coreweave",
                "kubectl_complete-coreweave",
            ]
        };
        assert_eq!(installed, expected, "{}/{}", p.os, p.arch);
        assert_eq!(
            std::fs::read(&link).unwrap(),
            std::fs::read(&bins.plugin).unwrap()
        );
        // The network half sits in the folder the link leads to, where the plugin looks.
        #[cfg(unix)]
        {
            let resolved = std::fs::canonicalize(&link).unwrap();
            let beside = resolved
                .parent()
                .unwrap()
                .join(xtask::network_binary_name(p.os));
            assert_eq!(
                std::fs::read(&beside).unwrap(),
                std::fs::read(&bins.network).unwrap(),
                "{}/{}",
                p.os,
                p.arch
            );
        }
    }
}

#[test]
fn krew_install_refuses_an_archive_whose_sha256_differs() {
    let dir = tempfile::tempdir().unwrap();
    let (bins, license) = fake_inputs(dir.path());
    let v = cargo_version_v();
    let a = pack(
        &bins,
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
fn dist_with_bin_dir_packs_both_executables_and_prints_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let v = cargo_version_v();
    for (target, os, arch) in [
        ("aarch64-unknown-linux-musl", "linux", "arm64"),
        ("x86_64-pc-windows-msvc", "windows", "amd64"),
    ] {
        let bin_dir = fake_bin_dir(dir.path(), os);
        let out_dir = dir.path().join(format!("dist-{os}"));
        let o = xtask(&[
            "dist".as_ref(),
            "--target".as_ref(),
            target.as_ref(),
            "--bin-dir".as_ref(),
            bin_dir.as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{target}: {stderr}");

        let bins = Binaries::in_dir(&bin_dir, os).unwrap();
        for exe in [&bins.plugin, &bins.network] {
            let size = std::fs::metadata(exe).unwrap().len();
            let line = format!("binary   {} ({size} bytes)", exe.display());
            assert!(
                stdout.lines().any(|l| l == line),
                "no {line:?} in\n{stdout}"
            );
        }

        let archive = out_dir.join(archive_name(&v, os, arch));
        let entries = list_archive(&archive).unwrap();
        let expected: &[(&str, u32)] = if os == "windows" {
            &[
                ("kubectl-coreweave.exe", 0o755),
                ("coreweave-net.exe", 0o755),
                ("LICENSE", 0o644),
            ]
        } else {
            &[
                ("kubectl-coreweave", 0o755),
                ("coreweave-net", 0o755),
                ("LICENSE", 0o644),
                ("kubectl_complete-coreweave", 0o755),
            ]
        };
        assert_eq!(names_and_modes(&entries), expected, "{target}");
        assert_eq!(entries[0].2, b"plugin bytes");
        assert_eq!(entries[1].2, b"network bytes, longer");

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
fn dist_refuses_the_old_binary_option_and_a_bin_dir_without_the_network_executable() {
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = fake_bin_dir(dir.path(), "linux");
    let out_dir = dir.path().join("dist");
    let fails = |args: &[&std::ffi::OsStr], expect: &str| {
        let o = xtask(args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expect),
            "{args:?}: want {expect:?} in {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");
        assert!(
            !out_dir.exists(),
            "{args:?} wrote {} anyway",
            out_dir.display()
        );
    };
    let plugin = bin_dir.join("kubectl-coreweave");
    fails(
        &[
            "dist".as_ref(),
            "--binary".as_ref(),
            plugin.as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ],
        "give --bin-dir DIR",
    );
    fails(
        &[
            "dist".as_ref(),
            "--builder".as_ref(),
            "cargo".as_ref(),
            "--bin-dir".as_ref(),
            bin_dir.as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ],
        "give one",
    );
    let net = bin_dir.join("coreweave-net");
    std::fs::remove_file(&net).unwrap();
    fails(
        &[
            "dist".as_ref(),
            "--target".as_ref(),
            "x86_64-unknown-linux-musl".as_ref(),
            "--bin-dir".as_ref(),
            bin_dir.as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ],
        &format!("no built executable at {}", net.display()),
    );
}
