//! Standard output as kubectl users meet it (issue 10, item 1; issue 19, item 5): a reader
//! that went away ends the program quietly; any other write failure is one error line and
//! status 1; /dev/null however opened is a normal stdout; a report that could not be shown
//! never blocks or undoes a write.

use std::process::{Command, Output, Stdio};

use crate::support::{self, bin, path_str, stderr, Sandbox};

const TOKEN: &str = "CW-SECRET-fake-output-abcdefghijkl1234";

fn setup() -> (Sandbox, String) {
    let sb = Sandbox::new();
    let k = sb.write(
        "config",
        support::kubeconfig(Some("c"), &[("c", "c", "u")], &[("u", TOKEN)]),
    );
    let k = path_str(&k).to_owned();
    (sb, k)
}

/// The plugin under `sh -c`, with `redirect` applied to its stdout.
fn shell(sb: &Sandbox, redirect: &str, args: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("\"$PLUGIN\" {args} {redirect}"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.dir.path())
        .env("PLUGIN", bin())
        .current_dir(sb.dir.path())
        .output()
        .expect("sh")
}

/// The plugin run by Python's `subprocess.run(..., stdout=subprocess.DEVNULL)`, which hands
/// over /dev/null opened read-write (as Node's `stdio: 'ignore'` does); prints the status.
fn python_devnull(sb: &Sandbox, args: &[&str], stdin: Option<&std::path::Path>) -> Output {
    let script = "import subprocess, sys\n\
        stdin = open(sys.argv[1], 'rb') if sys.argv[1] else subprocess.DEVNULL\n\
        r = subprocess.run(sys.argv[2:], stdin=stdin, stdout=subprocess.DEVNULL)\n\
        print(r.returncode)\n";
    let stdin = stdin.map(|p| path_str(p).to_owned()).unwrap_or_default();
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(stdin)
        .arg(bin())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.dir.path())
        .env("COREWEAVE_API_ENDPOINT", "http://127.0.0.1:9")
        .current_dir(sb.dir.path())
        .output()
        .expect("python3 must be installed: it is the launcher under test")
}

/// /dev/null, whichever way it was opened, is a stdout like any other (issue 19, item 5):
/// Python's DEVNULL (read-write), a shell's `>/dev/null` (write-only), and a closed stdout
/// (`>&-`, which Rust's start-up replaces with /dev/null read-write).
#[test]
fn dev_null_opened_read_write_is_a_normal_stdout() {
    let (sb, k) = setup();
    for args in [
        vec!["token", "show", "--raw", "--kubeconfig", &k],
        vec!["token", "show", "--kubeconfig", &k],
        vec!["token", "list", "--kubeconfig", &k],
        vec!["version"],
    ] {
        let o = python_devnull(&sb, &args, None);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "0\n",
            "{args:?}: {}",
            stderr(&o)
        );
        assert_eq!(stderr(&o), "", "{args:?}");
        for redirect in [">/dev/null", ">&-"] {
            let o = shell(&sb, redirect, &args.join(" "));
            assert_eq!(
                o.status.code(),
                Some(0),
                "{redirect} {args:?}: {}",
                stderr(&o)
            );
            assert_eq!(stderr(&o), "", "{redirect} {args:?}");
        }
    }
}

/// Automation that runs a rotate and keeps only the status: the rotate writes.
#[test]
fn a_rotate_under_python_devnull_writes_and_exits_0() {
    let (sb, k) = setup();
    let new = "CW-SECRET-fake-output-new-mnopqrst5678";
    let tok = sb.write("new", format!("{new}\n"));
    let before = std::fs::read_to_string(&k).expect("read");
    let o = python_devnull(
        &sb,
        &[
            "token",
            "rotate",
            "--force",
            "--verify",
            "none",
            "--from-stdin",
            "--yes",
            "--kubeconfig",
            &k,
        ],
        Some(&tok),
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "0\n", "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_eq!(
        std::fs::read_to_string(&k).expect("read"),
        before.replace(TOKEN, new)
    );
}

#[test]
fn a_full_device_is_one_error_line_and_status_1() {
    let (sb, k) = setup();
    let o = shell(
        &sb,
        ">/dev/full",
        &format!("token show --raw --kubeconfig {k}"),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot write to standard output: "),
        "{err}"
    );
    assert!(!err.contains("os error") && !err.contains(TOKEN), "{err}");
}

/// A reader that is gone before the first byte: EPIPE, no message, 141 as a shell reports
/// a program ended by SIGPIPE.
#[test]
fn a_reader_that_went_away_ends_it_quietly() {
    let (sb, k) = setup();
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let o = sb
        .cmd(None)
        .args(["token", "show", "--raw", "--kubeconfig", &k])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run plugin");
    assert_eq!(o.status.code(), Some(141), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

/// A report that could not be shown neither blocks nor undoes the work it reports on: a
/// rotate into /dev/full (every write fails, the first one before the files are written)
/// writes the files, then says its report was lost (status 1); into a reader that went
/// away, it writes and ends quietly with 141.
#[test]
fn a_rotate_whose_report_is_lost_still_writes() {
    let new = "CW-SECRET-fake-output-new-mnopqrst5678";
    let rotate = |sb: &Sandbox, k: &str| {
        let tok = sb.write("new", format!("{new}\n"));
        format!(
            "token rotate --force --verify none --from-file {} --yes --kubeconfig {k}",
            path_str(&tok)
        )
    };

    let (sb, k) = setup();
    let before = std::fs::read_to_string(&k).expect("read");
    let o = shell(&sb, ">/dev/full", &rotate(&sb, &k));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: cannot write to standard output: "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        std::fs::read_to_string(&k).expect("read"),
        before.replace(TOKEN, new)
    );

    let (sb, k) = setup();
    let before = std::fs::read_to_string(&k).expect("read");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let args = rotate(&sb, &k);
    let o = sb
        .cmd(None)
        .args(args.split(' '))
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run plugin");
    assert_eq!(o.status.code(), Some(141), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_eq!(
        std::fs::read_to_string(&k).expect("read"),
        before.replace(TOKEN, new)
    );
}

/// `completion SHELL` writes like every other command (clap_complete's own writer would
/// panic, status 134): a full disk is one line and 1, a reader gone is quiet and 141.
#[test]
fn completion_write_errors_are_like_every_other_command() {
    let (sb, _) = setup();
    for shell_name in ["bash", "zsh", "fish", "powershell"] {
        let o = shell(&sb, ">/dev/full", &format!("completion {shell_name}"));
        assert_eq!(o.status.code(), Some(1), "{shell_name}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: cannot write to standard output: "),
            "{err}"
        );
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let o = sb
            .cmd(None)
            .args(["completion", shell_name])
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .expect("run plugin");
        assert_eq!(o.status.code(), Some(141), "{shell_name}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{shell_name}");
    }
}
