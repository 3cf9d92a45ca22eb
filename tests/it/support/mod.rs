//! Shared pieces of the integration tests: running the built binary in a sealed
//! environment (its own HOME, an explicit KUBECONFIG) and writing kubeconfig fixtures.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubectl-coreweave")
}

/// A temporary folder that holds the kubeconfig files of one test and serves as HOME, so
/// the developer's own ~/.kube/config never takes part.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write `content` to `name` (folders created) and return its path.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write fixture");
        p
    }

    /// The plugin with HOME set to the sandbox and KUBECONFIG as given (unset for None).
    pub fn cmd(&self, kubeconfig_env: Option<&str>) -> Command {
        let mut c = Command::new(bin());
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            // No test may reach the real API: a default `--verify api` meets a closed
            // loopback port unless the test points it at its fake.
            .env("COREWEAVE_API_ENDPOINT", "http://127.0.0.1:9")
            .current_dir(self.dir.path());
        if let Some(k) = kubeconfig_env {
            c.env("KUBECONFIG", k);
        }
        c
    }

    pub fn run(&self, kubeconfig_env: Option<&str>, args: &[&str]) -> Output {
        self.cmd(kubeconfig_env)
            .args(args)
            .output()
            .expect("run plugin")
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A kubeconfig with one context per (context, cluster, user) triple and the given users.
pub fn kubeconfig(
    current: Option<&str>,
    contexts: &[(&str, &str, &str)],
    users: &[(&str, &str)],
) -> String {
    let mut s = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    let mut seen = Vec::new();
    for (_, cluster, _) in contexts {
        if seen.contains(cluster) {
            continue;
        }
        seen.push(cluster);
        s.push_str(&format!(
            "- name: {cluster}\n  cluster:\n    server: https://{cluster}.k8s.test.coreweave.com\n"
        ));
    }
    s.push_str("contexts:\n");
    for (name, cluster, user) in contexts {
        s.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {cluster}\n    user: {user}\n"
        ));
    }
    s.push_str("users:\n");
    for (name, token) in users {
        s.push_str(&format!("- name: {name}\n  user:\n    token: {token}\n"));
    }
    if let Some(c) = current {
        s.push_str(&format!("current-context: {c}\n"));
    }
    s
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// `kubectl config view --raw -o json` over `kubeconfig_env`, with HOME sealed: the
/// oracle's view of what the files mean. Panics (failing the test) when kubectl is
/// missing: `.ci/run` installs it, and no test skips for want of it.
pub fn kubectl_view(home: &Path, kubeconfig_env: &str) -> (bool, serde_json::Value, String) {
    let o = Command::new("kubectl")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("KUBECONFIG", kubeconfig_env)
        .args(["config", "view", "--raw", "-o", "json"])
        .output()
        .expect("kubectl must be installed (.ci/run installs Debian's kubernetes-client)");
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (
        o.status.success(),
        v,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Replace every string equal to `from` inside a JSON value.
pub fn replace_strings(v: &mut serde_json::Value, from: &str, to: &str) {
    match v {
        serde_json::Value::String(s) if s == from => *s = to.to_string(),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| replace_strings(x, from, to)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| replace_strings(x, from, to)),
        _ => {}
    }
}
pub mod fake_coreweave;
pub mod fake_kube;
