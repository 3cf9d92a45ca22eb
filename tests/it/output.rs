//! Standard output as kubectl users meet it (issue 10, item 1): a reader that went away ends
//! the program quietly; any other write failure is one error line and status 1; a closed
//! stdout is found before anything is done, so a rotate whose report could not be shown
//! writes nothing.

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

#[test]
fn a_closed_stdout_is_one_error_line_and_status_1() {
    let (sb, k) = setup();
    for args in [
        format!("token show --raw --kubeconfig {k}"),
        format!("token show --kubeconfig {k}"),
        "version".to_owned(),
    ] {
        let o = shell(&sb, ">&-", &args);
        assert_eq!(o.status.code(), Some(1), "{args}: {}", stderr(&o));
        assert_eq!(
            stderr(&o),
            "error: cannot write to standard output: it is closed\n",
            "{args}"
        );
    }
    // `>/dev/null` (write-only) is a stdout like any other.
    let o = shell(
        &sb,
        ">/dev/null",
        &format!("token show --raw --kubeconfig {k}"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
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

/// A rotate whose report could not be shown does nothing at all.
#[test]
fn a_rotate_into_a_closed_stdout_writes_nothing() {
    let (sb, k) = setup();
    let before = std::fs::read(&k).expect("read");
    let tok = sb.write("new", "CW-SECRET-fake-output-new-mnopqrst5678\n");
    let o = shell(
        &sb,
        ">&-",
        &format!(
            "token rotate --force --verify none --from-file {} --yes --kubeconfig {k}",
            path_str(&tok)
        ),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(std::fs::read(&k).expect("read"), before);
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
