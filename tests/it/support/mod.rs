//! Shared pieces of the integration tests: running the built binary in a sealed
//! environment (its own HOME, an explicit KUBECONFIG) and writing kubeconfig fixtures.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubectl-coreweave")
}

/// A temporary folder that holds the kubeconfig files of one test and serves as HOME, so
/// the developer's own ~/.kube/config never takes part; and, on Linux, the test's own
/// kernel session keyring ([`SessionKeyring`]).
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub session: SessionKeyring,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
            session: SessionKeyring::new(),
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
            // Nor the real S3 endpoint, which `objectstorage credentials` checks new keys at.
            .env("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
            .current_dir(self.dir.path());
        if let Some(k) = kubeconfig_env {
            c.env("KUBECONFIG", k);
        }
        self.session.join(&mut c);
        c
    }

    pub fn run(&self, kubeconfig_env: Option<&str>, args: &[&str]) -> Output {
        self.cmd(kubeconfig_env)
            .args(args)
            .output()
            .expect("run plugin")
    }
}

/// The kernel session keyring of one test. `token credential` keeps its short-lived copy
/// of an item in the session keyring, keyed by the item's name and the uid; tests run in
/// parallel (and other suites on the same machine) with the same item names and uid, so
/// every program a test runs joins the test's own session keyring, as every command of one
/// login session shares that session's keyring: copies live across the test's commands
/// (a copy a rotate must drop is really there) and never leak between tests.
///
/// The keyring is named uniquely and held by the test thread's thread keyring (it lives
/// as long as the test); the children join it by name (`keyctl join-session-keyring`),
/// which needs search permission for the user.
pub struct SessionKeyring {
    /// The keyring's name and id; `None` where the kernel keyring is not available (a
    /// container whose seccomp profile refuses keyctl): the plugin then keeps no copies
    /// either, and there is nothing to keep apart.
    #[cfg(target_os = "linux")]
    ring: Option<(std::ffi::CString, i64)>,
}

impl SessionKeyring {
    #[cfg(target_os = "linux")]
    pub fn new() -> SessionKeyring {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "kubectl-coreweave-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let name = std::ffi::CString::new(name).expect("no NUL");
        const KEY_SPEC_THREAD_KEYRING: libc::c_long = -1;
        const KEYCTL_SETPERM: libc::c_long = 5;
        // SAFETY: plain syscalls with valid NUL-terminated strings and no payload.
        let id = unsafe {
            libc::syscall(
                libc::SYS_add_key,
                c"keyring".as_ptr(),
                name.as_ptr(),
                std::ptr::null::<u8>(),
                0usize,
                KEY_SPEC_THREAD_KEYRING,
            )
        };
        if id <= 0 {
            let e = std::io::Error::last_os_error();
            assert!(
                matches!(
                    e.raw_os_error(),
                    Some(libc::ENOSYS | libc::EPERM | libc::EACCES)
                ),
                "cannot create a kernel keyring for the test: {e}"
            );
            return SessionKeyring { ring: None };
        }
        // Possessor and user: view, read, write, search, link, setattr.
        let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, id, 0x3f3f_0000_i64) };
        assert_eq!(rc, 0, "keyctl setperm: {}", std::io::Error::last_os_error());
        SessionKeyring {
            ring: Some((name, id)),
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn new() -> SessionKeyring {
        SessionKeyring {}
    }

    /// Makes `c` (and everything it runs, kubectl's exec plugins too) use this keyring as
    /// its session keyring.
    #[cfg(target_os = "linux")]
    pub fn join(&self, c: &mut Command) {
        use std::os::unix::process::CommandExt;
        let Some((name, _)) = &self.ring else {
            return;
        };
        let name = name.clone();
        const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
        // SAFETY: between fork and exec only a syscall runs, on memory allocated before.
        unsafe {
            c.pre_exec(move || {
                if libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) < 0 {
                    let e = std::io::Error::last_os_error();
                    // A child run as another user (`nobody`, set before this runs) may
                    // not join root's keyring; it never reaches the OS keyring either.
                    if e.raw_os_error() != Some(libc::EACCES) {
                        return Err(e);
                    }
                }
                Ok(())
            });
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn join(&self, _c: &mut Command) {}
}

#[cfg(target_os = "linux")]
impl Drop for SessionKeyring {
    fn drop(&mut self) {
        const KEYCTL_INVALIDATE: libc::c_long = 21;
        if let Some((_, id)) = self.ring {
            // SAFETY: a plain syscall on the keyring's id.
            unsafe {
                libc::syscall(libc::SYS_keyctl, KEYCTL_INVALIDATE, id);
            }
        }
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
