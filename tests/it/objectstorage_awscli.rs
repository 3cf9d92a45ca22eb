//! The real AWS CLI (awscli from PyPI) through the profile `objectstorage profile --write`
//! makes, against moto's S3 server (PyPI) with signature checks on: moto accepts only keys
//! its STS made, with their session tokens, and the fake API's token exchange hands out
//! exactly those, so a listing proves the key the plugin printed is the one S3 verified;
//! and the plugin's own signed check of the new key went to moto too. `.ci/run` installs
//! both; this test never skips.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::objectstorage::{files_holding, json_of, World};
use crate::support::{self, stderr, stdout, Sandbox};

/// The environment the Python tools run in: PATH (and pyenv's root, where it is one) and
/// nothing of the developer's AWS set-up.
fn python_tool(program: &str, sb: &Sandbox) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.dir.path())
        .env("TMPDIR", sb.path("tmp"))
        .env("LANG", "C.UTF-8")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_SHARED_CREDENTIALS_FILE", sb.path(".aws/credentials"));
    for passed in ["PYENV_ROOT", "PYENV_VERSION"] {
        if let Some(v) = std::env::var_os(passed) {
            c.env(passed, v);
        }
    }
    c
}

struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start(sb: &Sandbox) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = std::fs::File::create(sb.path("moto.log")).expect("log");
        let child = python_tool("moto_server", sb)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect(
                "moto_server must be installed: .ci/run installs it (pip install 'moto[server]')",
            );
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_post(port, "/moto-api/reset", "").is_none() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start: {}",
                std::fs::read_to_string(sb.path("moto.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain-text POST to loopback; the status line's code.
fn http_post(port: u16, path: &str, body: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// The AWS CLI as a user runs it: the profile alone says the endpoint and the region.
fn aws(w: &World, args: &[&str]) -> Output {
    let mut c = python_tool("aws", &w.sb);
    c.env("AWS_CONFIG_FILE", w.sb.path(".aws/config"))
        .env_remove("AWS_DEFAULT_REGION")
        .env("KUBECONFIG", &w.kubeconfig)
        .env("COREWEAVE_API_ENDPOINT", w.fake.url())
        .args(args);
    w.ring.apply(&mut c);
    c.output()
        .expect("aws must be installed: .ci/run installs it (pip install awscli)")
}

/// Temporary credentials made by moto's STS for the role `cw` (signature checks off until
/// `reset-auth`): what the token exchange hands out, a key with its session token, which
/// moto's S3 then checks (a session token it did not make is refused as InvalidToken).
fn moto_session_key(w: &World, moto: &Moto) -> (String, String, String) {
    let o = python_tool("aws", &w.sb)
        .env("AWS_CONFIG_FILE", w.sb.path("no-config"))
        .env("AWS_ACCESS_KEY_ID", "setup")
        .env("AWS_SECRET_ACCESS_KEY", "setup")
        .args([
            "--endpoint-url",
            &moto.url,
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::123456789012:role/cw",
            "--role-session-name",
            "kubectl-coreweave",
        ])
        .output()
        .expect("aws");
    let v = json_of(&o);
    let c = &v["Credentials"];
    let text = |k: &str| c[k].as_str().expect(k).to_string();
    (
        text("AccessKeyId"),
        text("SecretAccessKey"),
        text("SessionToken"),
    )
}

fn moto_setup(w: &World, moto: &Moto, args: &[&str]) {
    let o = python_tool("aws", &w.sb)
        .env("AWS_CONFIG_FILE", w.sb.path("no-config"))
        .env("AWS_ACCESS_KEY_ID", "setup")
        .env("AWS_SECRET_ACCESS_KEY", "setup")
        .args(["--endpoint-url", &moto.url])
        .args(args)
        .output()
        .expect("aws");
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

#[test]
fn aws_cli_lists_buckets_through_the_profile_with_the_minted_key() {
    let started = std::time::SystemTime::now();
    let w = World::new("awscli");
    let moto = Moto::start(&w.sb);
    moto_setup(
        &w,
        &moto,
        &[
            "iam",
            "create-role",
            "--role-name",
            "cw",
            "--assume-role-policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#,
        ],
    );
    moto_setup(
        &w,
        &moto,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "cw",
            "--policy-name",
            "all",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ],
    );
    moto_setup(
        &w,
        &moto,
        &["s3api", "create-bucket", "--bucket", "cw-listed-bucket"],
    );
    let first = moto_session_key(&w, &moto);
    let unused = moto_session_key(&w, &moto);
    // From here on moto checks every signature (and session token) against its keys.
    assert_eq!(
        http_post(moto.port(), "/moto-api/reset-auth", "0"),
        Some(200)
    );
    w.fake.provide_session_keys([first.clone(), unused.clone()]);

    // The profile names moto as its endpoint; the region is the context's zone.
    let o = w.plugin(&[
        "--kubeconfig",
        support::path_str(&w.kubeconfig),
        "objectstorage",
        "profile",
        "cw",
        "--endpoint",
        &moto.url,
        "--write",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = aws(&w, &["configure", "get", "region", "--profile", "cw"]);
    assert_eq!(stdout(&o).trim(), "test", "{}", stderr(&o));
    for round in 0..2 {
        let o = aws(&w, &["--profile", "cw", "s3", "ls"]);
        assert!(o.status.success(), "round {round}: {}", stderr(&o));
        assert!(stdout(&o).contains("cw-listed-bucket"), "{}", stdout(&o));
    }
    let upload = w.sb.write("tmp/upload.txt", "through the exchanged key\n");
    let o = aws(
        &w,
        &[
            "--profile",
            "cw",
            "s3",
            "cp",
            support::path_str(&upload),
            "s3://cw-listed-bucket/a.txt",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let back = w.sb.path("tmp/back.txt");
    let o = aws(
        &w,
        &[
            "--profile",
            "cw",
            "s3",
            "cp",
            "s3://cw-listed-bucket/a.txt",
            support::path_str(&back),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&back).unwrap(),
        "through the exchanged key\n"
    );
    // One key for every call, from the token exchange: the first moto key, the only one S3
    // could have verified (the second was never handed out). The plugin's own check of it
    // was a ListBuckets moto verified too, before the key was printed.
    let keys = w.fake.access_keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kind, "api-token");
    assert_eq!(
        (
            keys[0].access_key_id.clone(),
            keys[0].secret_key.clone(),
            keys[0].session_token.clone().unwrap_or_default()
        ),
        first
    );
    let exchanges = w.fake.api_requests();
    assert_eq!(exchanges.len(), 1);
    assert_eq!(exchanges[0].method, "GET");
    assert!(w.fake.s3_requests().is_empty(), "the check went to moto");
    // Control: a key S3 does not know is refused, so the listing above proves the key.
    let mut bad = python_tool("aws", &w.sb);
    bad.env("AWS_CONFIG_FILE", w.sb.path("no-config"))
        .env("AWS_ACCESS_KEY_ID", &first.0)
        .env("AWS_SECRET_ACCESS_KEY", format!("{}x", first.1))
        .env("AWS_SESSION_TOKEN", &first.2)
        .args(["--endpoint-url", &moto.url, "s3", "ls"]);
    let o = bad.output().expect("aws");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("SignatureDoesNotMatch"),
        "{}",
        stderr(&o)
    );

    // No file under HOME (the AWS config folder is in it), the sandbox's TMPDIR or the
    // system's temp folder holds the secret key after the calls.
    let session = keys[0].session_token.clone().unwrap_or_default();
    for (what, secret) in [
        ("secret key", first.1.as_str()),
        ("session token", session.as_str()),
        ("API token", w.token.as_str()),
    ] {
        let mut holding = files_holding(w.sb.dir.path(), secret.as_bytes(), started);
        holding.extend(files_holding(
            &std::env::temp_dir(),
            secret.as_bytes(),
            started,
        ));
        // The kubeconfig holds the API token, as it did before.
        holding.retain(|p| *p != w.kubeconfig);
        assert!(holding.is_empty(), "the {what} is in {holding:?}");
    }
}
