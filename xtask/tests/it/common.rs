//! Helpers shared by the xtask integration tests.
//! (One test binary: `it/main.rs` holds every module.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root (/work/main): the folder above xtask/.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent folder")
        .to_path_buf()
}

pub fn read(rel: &str) -> String {
    let p = workspace_root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// A `key = "value"` line of the root Cargo.toml's [package] table, read with a tiny
/// line parser (no TOML crate).
pub fn cargo_package_field(key: &str) -> String {
    let text = read("Cargo.toml");
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == key {
                let v = v.trim();
                assert!(
                    v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                    "Cargo.toml: {key} is not a plain string: {v}"
                );
                return v[1..v.len() - 1].to_string();
            }
        }
    }
    panic!("Cargo.toml has no {key} in [package]");
}

/// `v` + the root package's version: what spec.version must be.
pub fn cargo_version_v() -> String {
    format!("v{}", cargo_package_field("version"))
}

pub fn template() -> String {
    read(xtask::TEMPLATE_PATH)
}

pub fn no_shas() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// A sha256 made of one repeated hex digit.
pub fn fake_sha(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

pub fn all_shas() -> BTreeMap<String, String> {
    xtask::template_platforms(&template())
        .into_iter()
        .zip("abcdef1234".chars())
        .map(|((os, arch), c)| (format!("{os}_{arch}"), fake_sha(c)))
        .collect()
}
