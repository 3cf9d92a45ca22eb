//! `objectstorage credentials` (`--key-kind access-key` mostly; the token exchange is
//! `objectstorage_exchange.rs`) and `objectstorage profile` against the fake CoreWeave API,
//! and the test world the Object Storage modules share ([`World`]: a sandbox, the fake, a
//! keyring). The real AWS CLI against moto is `objectstorage_awscli.rs`.
//!
//! Every plugin and AWS CLI process here runs in a session keyring of its test's own (a
//! named keyring the test holds, joined before exec), so tests running at once, here or
//! in other checkouts on the machine, never see each other's kept keys.

use crate::support;

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::fake_coreweave::{FakeCoreweave, Reply};
use support::{stderr, stdout, Sandbox};

const KEY_PATH: &str = "/v1/cwobject/access-key";

/// A token unique to this test run, so no kept key of another run can match it.
pub(crate) fn unique_token(tag: &str) -> String {
    format!(
        "CW-SECRET-objstore-{tag}-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    )
}

// Linux keyutils, by raw syscalls (the test's own, independent of the plugin's crate).
const KEY_SPEC_PROCESS_KEYRING: libc::c_long = -2;
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_CLEAR: libc::c_long = 7;
const KEYCTL_UNLINK: libc::c_long = 9;
const KEYCTL_READ: libc::c_long = 11;
const KEYCTL_DESCRIBE: libc::c_long = 6;
const KEYCTL_SETPERM: libc::c_long = 5;
/// Possessor and user: view, read, write, search, link, setattr.
const RING_PERM: libc::c_long = 0x3f3f_0000;

/// A named keyring held by this test process; commands given to [`Ring::apply`] join it
/// as their session keyring, so what the plugin keeps there lives as long as the test.
pub(crate) struct Ring {
    name: CString,
    id: i32,
}

impl Ring {
    fn new() -> Ring {
        let name = CString::new(format!(
            "kcw-it-objstore-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ))
        .expect("name");
        let kind = CString::new("keyring").expect("type");
        // SAFETY: add_key with NUL-terminated strings and no payload.
        let id = unsafe {
            libc::syscall(
                libc::SYS_add_key,
                kind.as_ptr(),
                name.as_ptr(),
                std::ptr::null::<u8>(),
                0usize,
                KEY_SPEC_PROCESS_KEYRING,
            )
        };
        assert!(
            id > 0,
            "cannot create a test keyring: {}",
            std::io::Error::last_os_error()
        );
        // Joining by name needs the user's search permission on it.
        // SAFETY: keyctl on the keyring just made.
        let set = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, id, RING_PERM) };
        assert_eq!(set, 0, "{}", std::io::Error::last_os_error());
        Ring {
            name,
            id: id as i32,
        }
    }

    pub(crate) fn apply(&self, cmd: &mut Command) {
        let name = self.name.clone();
        // SAFETY: one async-signal-safe syscall between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    fn read(id: i32) -> Vec<u8> {
        let mut buf = vec![0u8; 65536];
        // SAFETY: the buffer is as long as we say.
        let n = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_READ,
                id as libc::c_long,
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        buf.truncate(n.max(0) as usize);
        buf
    }

    /// (description, payload) of every key in the ring.
    pub(crate) fn contents(&self) -> Vec<(String, Vec<u8>)> {
        let ids = Ring::read(self.id);
        ids.chunks_exact(4)
            .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .map(|id| {
                let mut d = vec![0u8; 4096];
                // SAFETY: as above.
                let n = unsafe {
                    libc::syscall(
                        libc::SYS_keyctl,
                        KEYCTL_DESCRIBE,
                        id as libc::c_long,
                        d.as_mut_ptr(),
                        d.len(),
                    )
                };
                d.truncate(n.max(1) as usize - 1);
                (String::from_utf8_lossy(&d).into_owned(), Ring::read(id))
            })
            .collect()
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: plain keyctl calls on our own keyring.
        unsafe {
            libc::syscall(libc::SYS_keyctl, KEYCTL_CLEAR, self.id as libc::c_long);
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_UNLINK,
                self.id as libc::c_long,
                KEY_SPEC_PROCESS_KEYRING,
            );
        }
    }
}

/// One test's world: a sandbox HOME with a kubeconfig, the fake API (which also stands in
/// for the S3 endpoint the plugin checks new keys against), a keyring.
pub(crate) struct World {
    pub(crate) sb: Sandbox,
    pub(crate) fake: FakeCoreweave,
    pub(crate) ring: Ring,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) token: String,
}

impl World {
    pub(crate) fn new(tag: &str) -> World {
        let sb = Sandbox::new();
        let token = unique_token(tag);
        let kubeconfig = sb.write(
            "kubeconfig",
            support::kubeconfig(Some("cw"), &[("cw", "c1", "alice")], &[("alice", &token)]),
        );
        std::fs::create_dir_all(sb.path("tmp")).expect("tmp");
        let fake = FakeCoreweave::start();
        fake.accept_token(&token, "uid-alice", "org-1");
        World {
            sb,
            fake,
            ring: Ring::new(),
            kubeconfig,
            token,
        }
    }

    /// The plugin with the sandbox's HOME, TMPDIR and kubeconfig, the fake API as the
    /// CoreWeave API and as the S3 endpoint (`AWS_ENDPOINT_URL_S3`), the ring.
    pub(crate) fn plugin(&self, args: &[&str]) -> Output {
        self.plugin_with(args, |_| {})
    }

    /// [`World::plugin`] with a change to the command before it runs.
    pub(crate) fn plugin_with(&self, args: &[&str], change: impl FnOnce(&mut Command)) -> Output {
        let mut c = self.sb.cmd(Some(support::path_str(&self.kubeconfig)));
        c.env("COREWEAVE_API_ENDPOINT", self.fake.url())
            .env("AWS_ENDPOINT_URL_S3", self.fake.url())
            .env("TMPDIR", self.sb.path("tmp"))
            .env("AWS_CONFIG_FILE", self.sb.path(".aws/config"))
            .args(args);
        change(&mut c);
        self.ring.apply(&mut c);
        c.output().expect("run plugin")
    }

    pub(crate) fn mints(&self) -> usize {
        self.fake.access_keys().len()
    }
}

pub(crate) fn json_of(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// AWS's credential_process contract, as botocore reads it.
pub(crate) fn assert_aws_contract(v: &serde_json::Value) {
    let o = v.as_object().expect("an object");
    assert_eq!(v["Version"], 1, "{v}");
    assert!(
        v["AccessKeyId"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    assert!(
        v["SecretAccessKey"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    for k in o.keys() {
        assert!(
            [
                "Version",
                "AccessKeyId",
                "SecretAccessKey",
                "SessionToken",
                "Expiration"
            ]
            .contains(&k.as_str()),
            "{k}"
        );
    }
    if let Some(e) = v.get("Expiration") {
        let at: jiff::Timestamp = e.as_str().expect("text").parse().expect("RFC 3339");
        assert!(at > jiff::Timestamp::now(), "{v}");
    }
}

pub(crate) fn one_error_line(o: &Output) -> String {
    assert!(!o.status.success(), "succeeded: {}", stdout(o));
    assert!(o.stdout.is_empty(), "stdout on failure: {}", stdout(o));
    let e = stderr(o);
    assert_eq!(e.lines().count(), 1, "{e}");
    e
}

const ACCESS_KEY: [&str; 4] = ["objectstorage", "credentials", "--key-kind", "access-key"];

/// `objectstorage credentials --key-kind access-key` and more arguments.
fn access_key_args<'a>(more: &[&'a str]) -> Vec<&'a str> {
    ACCESS_KEY
        .iter()
        .copied()
        .chain(more.iter().copied())
        .collect()
}

#[test]
fn two_calls_mint_once_and_print_aws_contract() {
    let w = World::new("twice");
    let first = json_of(&w.plugin(&ACCESS_KEY));
    assert_aws_contract(&first);
    let second = json_of(&w.plugin(&ACCESS_KEY));
    assert_eq!(first, second);
    assert_eq!(w.mints(), 1);
    // One API round trip for the mint, none for the kept answer; one S3 check of the new key.
    assert_eq!(w.fake.api_requests().len(), 1);
    assert_eq!(w.fake.s3_requests().len(), 1);
    let keys = w.fake.access_keys();
    assert_eq!(keys[0].access_key_id, first["AccessKeyId"]);
    assert_eq!(keys[0].secret_key, first["SecretAccessKey"]);
    assert_eq!(keys[0].token, w.token);
    assert_eq!(keys[0].duration_seconds, 3600);
    let req = &w.fake.api_requests()[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", KEY_PATH));
    assert_eq!(
        req.authorization(),
        Some(format!("Bearer {}", w.token).as_str())
    );
    assert_eq!(req.json(), serde_json::json!({"durationSeconds": 3600}));
    // Expiration is the key's own: an hour out.
    let at: jiff::Timestamp = first["Expiration"].as_str().unwrap().parse().unwrap();
    let left = at.as_second() - jiff::Timestamp::now().as_second();
    assert!((3500..=3600).contains(&left), "{left}");
    // Another duration is another key; the first is still reused.
    let short = json_of(&w.plugin(&access_key_args(&["--duration", "30m"])));
    assert_ne!(short["AccessKeyId"], first["AccessKeyId"]);
    assert_eq!(w.mints(), 2);
    assert_eq!(json_of(&w.plugin(&ACCESS_KEY)), first);
    assert_eq!(w.mints(), 2);
    // What is kept: in the test's session keyring, named by a hash, never the token.
    let kept = w.ring.contents();
    assert_eq!(
        kept.len(),
        1,
        "{:?}",
        kept.iter().map(|k| &k.0).collect::<Vec<_>>()
    );
    let (desc, payload) = &kept[0];
    assert!(desc.contains("kubectl-coreweave:cwobject:"), "{desc}");
    let secret_part = w.token.trim_start_matches("CW-SECRET-");
    assert!(!desc.contains(secret_part));
    assert!(!String::from_utf8_lossy(payload).contains(secret_part));
}

#[test]
fn keys_expire_out_of_the_cache_and_permanent_keys_are_never_kept() {
    let w = World::new("perm");
    // A 10-minute key has no life left beyond its margin (10 minutes): every call mints.
    for _ in 0..2 {
        json_of(&w.plugin(&access_key_args(&["--duration", "10m"])));
    }
    assert_eq!(w.mints(), 2);
    // A permanent key: asked with 0, printed without Expiration, never reused.
    for _ in 0..2 {
        let v = json_of(&w.plugin(&access_key_args(&["--permanent"])));
        assert_aws_contract(&v);
        assert!(v.get("Expiration").is_none(), "{v}");
    }
    assert_eq!(w.mints(), 4);
    let keys = w.fake.access_keys();
    assert_eq!(keys[2].duration_seconds, 0);
    assert_eq!(keys[3].duration_seconds, 0);
    assert!(w.ring.contents().is_empty());
    // --duration is bounded.
    for bad in ["12h1s", "0s", "1.5s", "soon"] {
        let o = w.plugin(&access_key_args(&["--duration", bad]));
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
    }
    let o = w.plugin(&access_key_args(&["--permanent", "--duration", "1h"]));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(w.mints(), 4);
}

#[test]
fn rotate_and_a_new_token_never_reuse_the_old_key() {
    let w = World::new("rotate");
    let first = json_of(&w.plugin(&["objectstorage", "credentials"]));
    assert_eq!(json_of(&w.plugin(&["objectstorage", "credentials"])), first);
    assert_eq!(w.mints(), 1, "the key is kept before the rotate");
    // The same token in a file outside KUBECONFIG: rotate leaves it, and drops the kept key.
    let other = w.sb.write(
        "other-kubeconfig",
        support::kubeconfig(Some("cw"), &[("cw", "c1", "bob")], &[("bob", &w.token)]),
    );
    let new_token = unique_token("rotated");
    w.fake.accept_token(&new_token, "uid-alice", "org-1");
    let token_file = w.sb.write("new-token", format!("{new_token}\n"));
    let mut c = w.sb.cmd(Some(support::path_str(&w.kubeconfig)));
    c.args([
        "token",
        "rotate",
        "--verify",
        "none",
        "--yes",
        "--from-file",
    ])
    .arg(&token_file);
    w.ring.apply(&mut c);
    let o = c.output().expect("rotate");
    assert!(o.status.success(), "{}", stderr(&o));
    let after = json_of(&w.plugin(&["objectstorage", "credentials"]));
    assert_ne!(after["AccessKeyId"], first["AccessKeyId"]);
    assert_eq!(w.fake.access_keys()[1].token, new_token);
    let old = json_of(&w.plugin(&[
        "--kubeconfig",
        support::path_str(&other),
        "objectstorage",
        "credentials",
    ]));
    assert_ne!(
        old["AccessKeyId"], first["AccessKeyId"],
        "the old token's key was kept"
    );
    assert_eq!(w.mints(), 3);
}

#[test]
fn env_output_and_the_upper_case_key_id() {
    let w = World::new("env");
    w.fake.spell_key_id_upper(true);
    let o = w.plugin(&access_key_args(&["-o", "env"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let key = &w.fake.access_keys()[0];
    // The region is the zone of the context's server (c1.k8s.test.coreweave.com).
    assert_eq!(
        stdout(&o),
        format!(
            "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_REGION=test\nexport AWS_ENDPOINT_URL_S3={}\n",
            key.access_key_id,
            key.secret_key,
            w.fake.url()
        )
    );
    // A shell reads them back as they were.
    let sh = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{}\nprintf '%s %s' \"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\"",
            stdout(&o)
        ))
        .output()
        .expect("sh");
    assert_eq!(
        stdout(&sh),
        format!("{} {}", key.access_key_id, key.secret_key)
    );
    let o = w.plugin(&access_key_args(&["-o", "env-no-export"]));
    assert!(stdout(&o).starts_with(&format!("AWS_ACCESS_KEY_ID={}\n", key.access_key_id)));
    assert_eq!(w.mints(), 1);
}

#[test]
fn api_refusals_are_one_line_that_says_what_to_do() {
    let w = World::new("errors");
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::connect_error(401, "unauthenticated", "bad token"),
            "token rejected",
        ),
        (
            Reply::connect_error(
                403,
                "permission_denied",
                &format!("no cwobject:CreateAccessKey for {}", w.token),
            ),
            "Object Storage Admin role or a policy granting the cwobject:CreateAccessKey permission",
        ),
        (
            Reply::json(200, serde_json::json!({"principalName": "p"})),
            "no accessKeyId",
        ),
        (
            Reply::json(
                200,
                serde_json::json!({"accessKeyId": "A", "secretKey": "S", "expiry": "2020-01-01T00:00:00Z"}),
            ),
            "already past",
        ),
        (
            Reply::json(
                200,
                serde_json::json!({"accessKeyId": "A", "secretKey": "S", "expiry": "2099-01-01T00:00:00Z"}),
            ),
            "far beyond the asked --duration 1h",
        ),
        (
            Reply::json(
                200,
                serde_json::json!({"accessKeyId": "A", "secretKey": "S", "expiry": "1970-01-01T00:00:00Z"}),
            ),
            "a permanent key A where a temporary one was asked for",
        ),
        (
            Reply::json(
                200,
                serde_json::json!({"accessKeyId": "A", "secretKey": w.token}),
            ),
            "holds the API token",
        ),
    ];
    for (reply, expect) in cases {
        w.fake.script([reply]);
        let o = w.plugin(&ACCESS_KEY);
        let e = one_error_line(&o);
        assert!(e.contains(expect), "{expect}: {e}");
        assert!(!e.contains(w.token.trim_start_matches("CW-SECRET-")), "{e}");
    }
    assert!(w.ring.contents().is_empty());
    // 429 (with Retry-After) and 5xx are retried as the client retries; one key results.
    let before = w.fake.api_requests().len();
    w.fake.script([
        Reply::connect_error(429, "resource_exhausted", "slow down").header("Retry-After", "0"),
        Reply::connect_error(503, "unavailable", "busy"),
    ]);
    let v = json_of(&w.plugin(&ACCESS_KEY));
    assert_aws_contract(&v);
    assert_eq!(w.fake.api_requests().len() - before, 3);
    assert_eq!(w.mints(), 1);
    // A permanent key is not retried after a 5xx: the server may have made one.
    w.fake
        .script([Reply::connect_error(500, "internal", "oops")]);
    let before = w.fake.api_requests().len();
    let e = one_error_line(&w.plugin(&access_key_args(&["--permanent"])));
    assert!(e.contains("500"), "{e}");
    assert_eq!(w.fake.api_requests().len() - before, 1);
}

#[test]
fn only_a_coreweave_token_is_sent() {
    let w = World::new("foreign");
    let k = w.sb.write(
        "eks",
        support::kubeconfig(
            Some("eks"),
            &[("eks", "c2", "aws")],
            &[("aws", "k8s-aws-v1.abcdefghijkl")],
        ),
    );
    let o = w.plugin(&[
        "--kubeconfig",
        support::path_str(&k),
        "objectstorage",
        "credentials",
    ]);
    let e = one_error_line(&o);
    assert!(
        e.contains("does not hold a CoreWeave API access token"),
        "{e}"
    );
    assert!(!e.contains("abcdefghijkl"), "{e}");
    assert!(w.fake.requests().is_empty());
}

#[test]
fn profile_prints_and_writes_without_touching_other_bytes() {
    let w = World::new("profile");
    let args = [
        "objectstorage",
        "profile",
        "--context",
        "cw",
        "--key-kind",
        "access-key",
        "--duration",
        "2h",
    ];
    let o = w.plugin_with(&args, |c| {
        c.env_remove("AWS_ENDPOINT_URL_S3");
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let bin = support::bin();
    assert_eq!(
        text,
        format!(
            "[profile coreweave]\ncredential_process = {bin} objectstorage credentials --context=cw --key-kind=access-key --duration=2h --region=test\nregion = test\nendpoint_url = https://cwobject.com\ns3 =\n  addressing_style = virtual\n"
        )
    );
    // A new file: 0600 in a new 0700 folder.
    let cfg = w.sb.path(".aws/config");
    let o = w.plugin(&["objectstorage", "profile", "cw", "--write"]);
    assert!(o.status.success(), "{}", stderr(&o));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&cfg), 0o600);
    assert_eq!(mode(cfg.parent().unwrap()), 0o700);
    // An existing CRLF file without a final line break, mode 0640: kept byte for byte.
    let original =
        "# mine\r\n[default]\r\nregion = us-east-1\r\n[profile x]\r\ns3 =\r\n  [profile other]";
    std::fs::write(&cfg, original).unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = w.plugin(&["objectstorage", "profile", "cw", "--write"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&cfg).unwrap();
    assert!(after.starts_with(original), "{after:?}");
    assert!(
        after[original.len()..].starts_with("\r\n\r\n[profile cw]\r\n"),
        "{after:?}"
    );
    assert_eq!(mode(&cfg), 0o640);
    // Again: the same profile is there, nothing changes.
    let o = w.plugin(&["objectstorage", "profile", "cw", "--write"]);
    assert!(stdout(&o).contains("already in"), "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), after);
    // Another command under that name, in any spelling, is refused; the file is left.
    for planted in [
        "[profile other]\ncredential_process = /evil\n",
        "[ profile 'other' ]\n",
    ] {
        std::fs::write(&cfg, planted).unwrap();
        let e = one_error_line(&w.plugin(&["objectstorage", "profile", "other", "--write"]));
        assert!(e.contains("says something else"), "{e}");
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), planted);
    }
    std::fs::write(&cfg, "[cw]\n[profile cw]\n").unwrap();
    let e = one_error_line(&w.plugin(&["objectstorage", "profile", "cw", "--write"]));
    assert!(e.contains("2 sections"), "{e}");
    // Static keys of that name in the credentials file would win over the profile.
    std::fs::write(&cfg, "").unwrap();
    let creds = w.sb.write(
        ".aws/credentials",
        "[default]\n[Cw]\naws_access_key_id = A\n",
    );
    let e = one_error_line(&w.plugin(&["objectstorage", "profile", "cw", "--write"]));
    assert!(
        e.contains("instead of credential_process") && e.contains("line 2"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "");
    let o = w.plugin(&["objectstorage", "profile", "cw"]);
    assert!(
        o.status.success() && stderr(&o).starts_with("warning: "),
        "{}",
        stderr(&o)
    );
    std::fs::remove_file(creds).unwrap();
    // Not a file to edit: too large, or not text.
    std::fs::write(&cfg, vec![b'#'; 1024 * 1024 + 1]).unwrap();
    let e = one_error_line(&w.plugin(&["objectstorage", "profile", "cw", "--write"]));
    assert!(e.contains("over 1048576 bytes"), "{e}");
    std::fs::write(&cfg, b"\xff\xfe[\0d\0]\0").unwrap();
    let e = one_error_line(&w.plugin(&["objectstorage", "profile", "cw", "--write"]));
    assert!(e.contains("not UTF-8 text"), "{e}");
    assert_eq!(std::fs::read(&cfg).unwrap(), b"\xff\xfe[\0d\0]\0");
    let e = one_error_line(&w.plugin(&["objectstorage", "profile", "a]b"]));
    assert!(e.contains("not usable"), "{e}");
    assert!(w.fake.requests().is_empty());
}

/// Every regular file under `dir` (not following links) whose bytes hold `needle`.
pub(crate) fn files_holding(
    dir: &Path,
    needle: &[u8],
    since: std::time::SystemTime,
) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file()
                && meta.len() < 64 * 1024 * 1024
                && meta.modified().is_ok_and(|m| m >= since)
            {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    if bytes.windows(needle.len()).any(|win| win == needle) {
                        found.push(e.path());
                    }
                }
            }
        }
    }
    found
}

/// The session bus of `.ci/with-keyring`; a test without one fails (never skips).
fn bus() -> std::ffi::OsString {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|| {
        panic!("no D-Bus session: run the tests through .ci/with-keyring (see README)")
    })
}

#[test]
fn a_token_kept_in_the_os_keyring_makes_keys_and_unstore_drops_them() {
    let w = World::new("keyring");
    let item = format!("objstore-{}-{:08x}", std::process::id(), fastrand::u32(..));
    let run = |args: &[&str]| {
        let mut c = w.sb.cmd(Some(support::path_str(&w.kubeconfig)));
        c.env("COREWEAVE_API_ENDPOINT", w.fake.url())
            .env("AWS_ENDPOINT_URL_S3", w.fake.url())
            .env("DBUS_SESSION_BUS_ADDRESS", bus())
            .args(args);
        w.ring.apply(&mut c);
        c.output().expect("run plugin")
    };
    let o = run(&["token", "store", "--item", &item]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&w.kubeconfig).unwrap();
    assert!(!text.contains(&w.token) && text.contains("exec:"), "{text}");
    let first = json_of(&run(&["objectstorage", "credentials"]));
    assert_aws_contract(&first);
    assert_eq!(w.fake.access_keys()[0].token, w.token);
    assert_eq!(json_of(&run(&["objectstorage", "credentials"])), first);
    assert_eq!(w.mints(), 1);
    // Unstore puts the token back inline and drops the kept key.
    let o = run(&["token", "unstore"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = json_of(&run(&["objectstorage", "credentials"]));
    assert_ne!(after["AccessKeyId"], first["AccessKeyId"]);
    assert_eq!(w.mints(), 2);
    let _ = Command::new("secret-tool")
        .args(["clear", "service", "kubectl-coreweave", "username", &item])
        .env("DBUS_SESSION_BUS_ADDRESS", bus())
        .output();
}

#[test]
fn a_token_file_user_and_the_context_flag_pick_the_token() {
    let w = World::new("tokenfile");
    let file_token = unique_token("file");
    w.fake.accept_token(&file_token, "uid-f", "org-1");
    w.sb.write("tok", format!("{file_token}\n"));
    let k = w.sb.write(
        "two-users",
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster:\n    server: https://c1.k8s.test.coreweave.com\ncontexts:\n- name: inline\n  context:\n    cluster: c1\n    user: alice\n- name: filed\n  context:\n    cluster: c1\n    user: fred\nusers:\n- name: alice\n  user:\n    token: {}\n- name: fred\n  user:\n    tokenFile: tok\ncurrent-context: inline\n",
            w.token
        ),
    );
    let kc = support::path_str(&k);
    json_of(&w.plugin(&[
        "--kubeconfig",
        kc,
        "objectstorage",
        "credentials",
        "--context",
        "filed",
    ]));
    json_of(&w.plugin(&["--kubeconfig", kc, "objectstorage", "credentials"]));
    let keys = w.fake.access_keys();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].token, file_token);
    assert_eq!(keys[1].token, w.token);
    // The profile carries the flags, the kubeconfig made absolute.
    let o = w.plugin(&[
        "--kubeconfig",
        "two-users",
        "--context",
        "filed",
        "objectstorage",
        "profile",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "credentials --kubeconfig={kc} --context=filed --endpoint={} --region=test\n",
            w.fake.url()
        )),
        "{}",
        stdout(&o)
    );
}
