//! Kubeconfig sets for the benchmarks: `contexts` clusters, contexts and users spread
//! round-robin over `files` files, in the layout kubectl writes, each cluster with a
//! certificate-authority-data line like CoreWeave-downloaded files have. About 1 KB per
//! context: 2,000 contexts over 3 files is about 2 MB.
// Benchmarks write their inputs directly; the plugin writes only through kubeconfig::write.
#![allow(clippy::disallowed_methods)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The token every user holds when `shared` (the rotate case), else one per user.
pub const SHARED_TOKEN: &str = "CW-SECRET-bench-shared-token-0000";

pub fn kubeconfig_set(dir: &Path, contexts: usize, files: usize, shared: bool) -> Vec<PathBuf> {
    let ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t".repeat(20);
    (0..files)
        .map(|f| {
            let ids: Vec<usize> = (f..contexts).step_by(files).collect();
            let mut s = String::from("apiVersion: v1\nclusters:\n");
            for i in &ids {
                s += &format!("- cluster:\n    certificate-authority-data: {ca}\n    server: https://cw{i:05}.k8s.us-east-04a.coreweave.com\n  name: cluster-{i}\n");
            }
            s += "contexts:\n";
            for i in &ids {
                s += &format!("- context:\n    cluster: cluster-{i}\n    namespace: tenant-{i}\n    user: user-{i}\n  name: ctx-{i}\n");
            }
            if f == 0 {
                s += &format!("current-context: ctx-{}\n", contexts.saturating_sub(1) / 2);
            }
            s += "kind: Config\npreferences: {}\nusers:\n";
            for i in &ids {
                let token = if shared {
                    SHARED_TOKEN.to_string()
                } else {
                    format!("CW-SECRET-bench-{i:06}-{}", "x".repeat(24))
                };
                s += &format!("- name: user-{i}\n  user:\n    token: {token}\n");
            }
            let p = dir.join(format!("config-{f}"));
            std::fs::write(&p, s).expect("write kubeconfig");
            p
        })
        .collect()
}

pub fn join_paths(paths: &[PathBuf]) -> String {
    std::env::join_paths(paths)
        .expect("paths")
        .into_string()
        .expect("utf-8 paths")
}
