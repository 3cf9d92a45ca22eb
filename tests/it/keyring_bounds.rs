//! Keyring calls are bounded (issue 19, item 7): a Secret Service that does not answer
//! (its daemon stopped with SIGSTOP: D-Bus keeps the name, the calls go unanswered) ends
//! `token credential` and `token store` with one line naming the store and what to do;
//! and the kernel keyring copy is best effort: with keyctl, add_key and request_key denied
//! by a seccomp filter, as Docker's default profile denies them, `token credential` reads
//! the Secret Service instead. Runs on the real Secret Service (.ci/with-keyring).

use std::ffi::OsString;
use std::process::{Command, Output};

use crate::support::{self, stderr, stdout, Sandbox};

const ALICE: &str = "CW-SECRET-keyringbounds-alice-0123456789ab";
const BOB: &str = "CW-SECRET-keyringbounds-bob-ba9876543210";
/// As `token store` records it (normalised: no trailing slash); kubectl passes it as written.
const SERVER: &str = "https://bound.k8s.test.coreweave.com";
const V1_INFO: &str = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false,"cluster":{"server":"https://bound.k8s.test.coreweave.com/"}}}"#;

/// The item as `token store` writes it: the token bound to [`SERVER`].
fn bound_record(token: &str) -> String {
    serde_json::json!({
        "kubectl-coreweave": 1,
        "servers": [{"server": SERVER, "ca": "", "tlsServerName": ""}],
        "token": token,
    })
    .to_string()
}

fn bus() -> OsString {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|| {
        panic!("no D-Bus session: run the tests through .ci/with-keyring (see README)")
    })
}

fn secret_tool_store(item: &str, token: &str) {
    use std::io::Write;
    let mut child = Command::new("secret-tool")
        .args([
            "store",
            "--label=t",
            "service",
            "kubectl-coreweave",
            "username",
            item,
        ])
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("secret-tool must exist: .ci/run installs libsecret-tools");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bound_record(token).as_bytes())
        .expect("write");
    assert!(child.wait().expect("secret-tool").success());
}

fn secret_tool_clear(item: &str) {
    let _ = Command::new("secret-tool")
        .args(["clear", "service", "kubectl-coreweave", "username", item])
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .output();
}

#[test]
fn a_secret_service_that_does_not_answer_is_one_line_naming_it() {
    let sb = Sandbox::new();
    let home = sb.path("home");
    let run = sb.path("run");
    for d in [&home, &run] {
        std::fs::create_dir_all(d).expect("mkdir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let k = sb.write(
        "config",
        support::kubeconfig(Some("c"), &[("c", "c", "kb-hung")], &[("kb-hung", ALICE)]),
    );
    let before = std::fs::read(&k).expect("read");
    // Inside a private session: a keyring holding the item, then its daemon stopped (found
    // by the bus name it owns, never by process name), the plugin run, the daemon resumed
    // and ended.
    let record = bound_record(ALICE);
    let script = format!(
        "printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
         printf '%s' '{record}' | secret-tool store --label=t service kubectl-coreweave username kb-hung && \
         pid=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
               org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets | awk '/uint32/ {{print $2}}') && \
         kill -STOP \"$pid\" && \
         \"$BIN\" token credential kb-hung >out 2>err; echo \"credential rc=$? $(wc -c <out)\"; cat err >&2; \
         \"$BIN\" token store --kubeconfig \"$KC\" >out 2>err; echo \"store rc=$?\"; cat err >&2; \
         kill -CONT \"$pid\"; kill \"$pid\""
    );
    let o = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .current_dir(sb.dir.path())
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &run)
        .env("BIN", support::bin())
        .env("KC", &k)
        .env("KUBERNETES_EXEC_INFO", V1_INFO)
        .env("KUBECTL_COREWEAVE_KEYRING_TIMEOUT", "2")
        .env("COREWEAVE_API_ENDPOINT", "http://127.0.0.1:9")
        .output()
        .expect("dbus-run-session must exist: .ci/run installs dbus");
    let out = stdout(&o);
    assert!(out.contains("credential rc=1 0\n"), "{out} {}", stderr(&o));
    assert!(out.contains("store rc=1\n"), "{out} {}", stderr(&o));
    let err = stderr(&o);
    let ours: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(ours.len(), 2, "{err}");
    for line in ours {
        assert!(
            line.contains(
                "the Secret Service (D-Bus org.freedesktop.secrets) did not answer within 2 s"
            ) && line.contains("KUBECTL_COREWEAVE_KEYRING_TIMEOUT=SECONDS")
                && line.contains("restart gnome-keyring-daemon"),
            "{line}"
        );
    }
    assert!(!err.contains(ALICE) && !out.contains(ALICE));
    assert_eq!(
        std::fs::read(&k).expect("read"),
        before,
        "store changed the file"
    );
}

/// Docker's default seccomp profile: keyctl(2), add_key(2) and request_key(2) fail with
/// EPERM. Installed in the child between fork and exec, inherited by the plugin.
fn deny_kernel_keyring(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    #[repr(C)]
    struct SockFilter {
        code: u16,
        jt: u8,
        jf: u8,
        k: u32,
    }
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const SockFilter,
    }
    #[cfg(target_arch = "x86_64")]
    const ARCH_AND_CALLS: (u32, [u32; 3]) = (0xc000_003e, [248, 249, 250]);
    #[cfg(target_arch = "aarch64")]
    const ARCH_AND_CALLS: (u32, [u32; 3]) = (0xc000_00b7, [217, 218, 219]);
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    const ALLOW: u32 = 0x7fff_0000;
    const ERRNO_EPERM: u32 = 0x0005_0000 | 1;
    let (arch, [add_key, request_key, keyctl]) = ARCH_AND_CALLS;
    let f = |code, jt, jf, k| SockFilter { code, jt, jf, k };
    let filter = [
        f(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        f(JEQ_K, 1, 0, arch),
        f(RET_K, 0, 0, ALLOW),
        f(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        f(JEQ_K, 3, 0, add_key),
        f(JEQ_K, 2, 0, request_key),
        f(JEQ_K, 1, 0, keyctl),
        f(RET_K, 0, 0, ALLOW),
        f(RET_K, 0, 0, ERRNO_EPERM),
    ];
    // SAFETY: between fork and exec only two system calls are made, on memory the
    // closure owns (the filter is moved in, and read by the kernel during the call).
    unsafe {
        cmd.pre_exec(move || {
            let prog = SockFprog {
                len: filter.len() as u16,
                filter: filter.as_ptr(),
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, 2, &prog as *const SockFprog) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn credential(sb: &Sandbox, item: &str, seccomp: bool) -> Output {
    let mut c = sb.cmd(None);
    c.env("DBUS_SESSION_BUS_ADDRESS", bus())
        .env("KUBERNETES_EXEC_INFO", V1_INFO)
        .args(["token", "credential", item]);
    if seccomp {
        deny_kernel_keyring(&mut c);
    }
    c.output().expect("run plugin")
}

#[test]
fn keyctl_denied_by_seccomp_falls_through_to_the_secret_service() {
    let item = "kb-eperm";
    let sb = Sandbox::new();
    secret_tool_store(item, ALICE);
    // A first read leaves a copy in the kernel keyring; the item then changes behind the
    // plugin's back, and the copy still answers (the copy is really there and used).
    let first = credential(&sb, item, false);
    assert!(stdout(&first).contains(ALICE), "{}", stderr(&first));
    secret_tool_store(item, BOB);
    assert!(stdout(&credential(&sb, item, false)).contains(ALICE));
    // Under the filter the copy cannot be read (EPERM): the Secret Service answers, with
    // the item's current value, and nothing is said about the kernel keyring.
    let o = credential(&sb, item, true);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(BOB), "{}", stdout(&o));
    assert_eq!(stderr(&o), "");
    // (Had the filter not denied keyctl, the copy would have answered with ALICE.)
    secret_tool_clear(item);
}
