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
    // HEAD moves on checkout, the ref it names on commit. `git rev-parse --git-path` finds
    // them in a linked worktree too (where `.git` is a file). Only files that exist are
    // watched: cargo reruns a build script on every build for a missing one.
    for path in git_paths() {
        println!("cargo:rerun-if-changed={path}");
    }
}

fn git_paths() -> Vec<String> {
    let git_path = |name: &str| -> Option<String> {
        let out = Command::new("git")
            .args(["rev-parse", "--git-path", name])
            .output()
            .ok()?;
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && std::path::Path::new(&p).is_file()).then_some(p)
    };
    let Some(head) = git_path("HEAD") else {
        return Vec::new();
    };
    let named = std::fs::read_to_string(&head)
        .ok()
        .and_then(|h| h.strip_prefix("ref: ").map(|r| r.trim().to_string()))
        .and_then(|r| git_path(&r));
    std::iter::once(head).chain(named).collect()
}
