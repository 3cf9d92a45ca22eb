//! Records the git commit and the target triple for `kubectl coreweave version`.
//! A release build outside a git checkout (a source tarball) may set
//! `KUBECTL_COREWEAVE_COMMIT` instead.

use std::process::Command;

fn main() {
    let commit = std::env::var("KUBECTL_COREWEAVE_COMMIT").ok().or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    println!(
        "cargo:rustc-env=KUBECTL_COREWEAVE_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    println!(
        "cargo:rustc-env=KUBECTL_COREWEAVE_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!("cargo:rerun-if-env-changed=KUBECTL_COREWEAVE_COMMIT");
    // HEAD moves on commit and checkout; the ref file it names moves on commit.
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Ok(head) = std::fs::read_to_string(".git/HEAD") {
        if let Some(r) = head.strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed=.git/{}", r.trim());
        }
    }
}
