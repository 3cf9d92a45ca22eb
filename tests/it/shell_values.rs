//! Values that reach a shell or a command line (issue 28, item 10): `objectstorage
//! credentials -o env` and `-o env-no-export` from an API answering keys made to run
//! commands (`$(…)`, backticks, quotes) never make a sourcing shell run them, and a
//! `credential_process` written for a context named `-o` is read as that context by the
//! plugin when the real AWS CLI runs it. Against the fake CoreWeave API on loopback.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::fake_coreweave::FakeCoreweave;
use crate::support::{self, stderr, stdout, Sandbox};

fn token(tag: &str) -> String {
    format!(
        "CW-SECRET-shell-{tag}-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    )
}

/// A sandbox with `kubeconfig` (context `context`, user alice holding `token`) and a fake
/// API that accepts the token.
fn world(tag: &str, context: &str) -> (Sandbox, FakeCoreweave, std::path::PathBuf, String) {
    let sb = Sandbox::new();
    let t = token(tag);
    let k = sb.write(
        "kubeconfig",
        support::kubeconfig(Some(context), &[(context, "c1", "alice")], &[("alice", &t)]),
    );
    let fake = FakeCoreweave::start();
    fake.accept_token(&t, "uid-alice", "org-1");
    (sb, fake, k, t)
}

fn plugin(sb: &Sandbox, fake: &FakeCoreweave, k: &Path, args: &[&str]) -> Output {
    sb.cmd(Some(support::path_str(k)))
        .env("COREWEAVE_API_ENDPOINT", fake.url())
        .env("AWS_CONFIG_FILE", sb.path(".aws/config"))
        .args(args)
        .output()
        .expect("run plugin")
}

/// `set -a; . ./FILE` in a fresh folder `dir`, printing the two key variables.
fn source(dir: &Path, text: &str) -> Output {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("keys.env"), text).expect("write");
    Command::new("sh")
        .args([
            "-c",
            "set -a; . ./keys.env; printf '%s\\n%s' \"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\"",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir)
        .output()
        .expect("sh")
}

/// Every file in `dir` but the sourced one.
fn made_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "keys.env")
        .collect()
}

#[test]
fn env_output_never_runs_what_a_hostile_api_answers() {
    let (sb, fake, k, _) = world("env", "cw");
    let id = "`touch${IFS}ID_RAN`";
    let secret = "$(touch${IFS}SECRET_RAN)'`touch${IFS}QUOTE_RAN`'";
    fake.provide_keys([
        (id.to_string(), secret.to_string()),
        ("CWPLAIN0001".to_string(), "abc/DEF+ghi=".to_string()),
    ]);
    // Control: the bare lines a shell would run, sourced, do run (the probe works).
    let control = sb.path("control");
    let o = source(
        &control,
        &format!("AWS_ACCESS_KEY_ID={id}\nAWS_SECRET_ACCESS_KEY={secret}\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!made_in(&control).is_empty(), "the control ran nothing");

    // env-no-export writes values bare: a value a shell would interpret is refused,
    // in one line that does not print it.
    let o = plugin(
        &sb,
        &fake,
        &k,
        &[
            "objectstorage",
            "credentials",
            "-o",
            "env-no-export",
            "--key-kind",
            "access-key",
            "--no-wait",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("-o env"), "{err}");
    assert!(!err.contains("touch"), "{err}");
    // -o env quotes them: sourcing creates nothing and gives back the exact values.
    let o = plugin(
        &sb,
        &fake,
        &k,
        &[
            "objectstorage",
            "credentials",
            "-o",
            "env",
            "--key-kind",
            "access-key",
            "--no-wait",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let quoted = sb.path("quoted");
    let sourced = source(&quoted, &stdout(&o));
    assert!(sourced.status.success(), "{}", stderr(&sourced));
    assert!(made_in(&quoted).is_empty(), "{:?}", made_in(&quoted));
    assert_eq!(stdout(&sourced), format!("{id}\n{secret}"));
    assert_eq!(
        fake.access_keys().len(),
        1,
        "the kept key serves the second call"
    );

    // A plain key (what CoreWeave hands out) is printed bare and sources back as itself.
    let o = plugin(
        &sb,
        &fake,
        &k,
        &[
            "objectstorage",
            "credentials",
            "-o",
            "env-no-export",
            "--key-kind",
            "access-key",
            "--permanent",
            "--no-wait",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .starts_with("AWS_ACCESS_KEY_ID=CWPLAIN0001\nAWS_SECRET_ACCESS_KEY=abc/DEF+ghi=\n"),
        "{}",
        stdout(&o)
    );
    let plain = sb.path("plain");
    let sourced = source(&plain, &stdout(&o));
    assert_eq!(stdout(&sourced), "CWPLAIN0001\nabc/DEF+ghi=");
    assert!(made_in(&plain).is_empty());
}

/// A context named `-o`: the profile passes `--context=-o`, which the plugin reads as the
/// context when botocore runs it (no shell, shlex-split), as a shell would run it too.
#[test]
fn a_profile_for_a_context_named_like_a_flag_runs() {
    let (sb, fake, k, t) = world("dash", "-o");
    let o = plugin(
        &sb,
        &fake,
        &k,
        &[
            "--context=-o",
            "objectstorage",
            "profile",
            "cw",
            "--write",
            "--no-wait",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let config = std::fs::read_to_string(sb.path(".aws/config")).expect("profile");
    let line = config
        .lines()
        .find_map(|l| l.strip_prefix("credential_process = "))
        .expect("credential_process")
        .to_string();
    assert_eq!(
        line,
        format!(
            "{} objectstorage credentials --context=-o --no-wait --endpoint=http://127.0.0.1:9 --region=test",
            support::bin()
        )
    );
    // The control: the spelling without `=` is what clap rejects.
    let bad = Command::new(support::bin())
        .args(["objectstorage", "credentials", "--context", "-o"])
        .env_clear()
        .env("KUBECONFIG", &k)
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));

    // Run as a shell runs it.
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(&line)
        .env_clear()
        .env("HOME", sb.dir.path())
        .env("KUBECONFIG", &k)
        .env("COREWEAVE_API_ENDPOINT", fake.url());
    sb.session.join(&mut sh);
    let o = sh.output().expect("sh");
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["Version"], 1, "{v}");

    // Run by the real AWS CLI: `configure list` resolves the profile's credentials.
    let mut aws = Command::new("aws");
    aws.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.dir.path())
        .env("LANG", "C.UTF-8")
        .env("AWS_CONFIG_FILE", sb.path(".aws/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", sb.path(".aws/credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KUBECONFIG", &k)
        .env("COREWEAVE_API_ENDPOINT", fake.url())
        .args(["configure", "list", "--profile", "cw"]);
    for passed in ["PYENV_ROOT", "PYENV_VERSION"] {
        if let Some(v) = std::env::var_os(passed) {
            aws.env(passed, v);
        }
    }
    sb.session.join(&mut aws);
    let o = aws
        .output()
        .expect("aws must be installed: .ci/run installs it (pip install awscli)");
    assert!(o.status.success(), "{}", stderr(&o));
    let keys = fake.access_keys();
    assert!(!keys.is_empty() && keys.iter().all(|key| key.token == t));
    let id = &keys.last().expect("a key").access_key_id;
    let listed = stdout(&o);
    assert!(
        listed.contains(&id[id.len() - 4..]) && listed.contains("custom-process"),
        "{listed}"
    );
}
