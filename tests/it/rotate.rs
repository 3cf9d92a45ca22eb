//! `token rotate` end to end: the real kubectl judges that the files mean the same as
//! before except for the rotated tokens, and the bytes show nothing else moved.
//! Concurrency, SIGKILL and fault injection live in `rotate_stress.rs`.

use crate::support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Output, Stdio};

use support::{kubectl_view, path_str, replace_strings, stderr, stdout, Sandbox};

const OLD: &str = "CW-SECRET-corpus-old-0000";
const NEW: &str = "CW-SECRET-corpus-new-1111";
const KEEP: &str = "CW-SECRET-corpus-keep-9999";

fn layout(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/layouts")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn rotate_stdin(sb: &Sandbox, kubeconfig_env: &str, token: &str, args: &[&str]) -> Output {
    let mut child = sb
        .cmd(Some(kubeconfig_env))
        .args(["token", "rotate", "--verify", "none", "--from-stdin"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{token}\n").as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn no_token_in(o: &Output) {
    for t in [OLD, NEW, KEEP] {
        assert!(!stdout(o).contains(t), "token in stdout: {}", stdout(o));
        assert!(!stderr(o).contains(t), "token in stderr: {}", stderr(o));
    }
}

/// The corpus: for each layout, what the file must be after the rotate. For plain and
/// quoted scalars that is exactly the old bytes with the token's characters changed; block
/// scalars become a double-quoted scalar on the key's line; a second YAML document (which
/// kubectl ignores) keeps its old token.
#[test]
fn every_layout_keeps_every_byte_but_the_token() {
    let whole = |b: &[u8]| {
        String::from_utf8(b.to_vec())
            .expect("utf8")
            .replace(OLD, NEW)
    };
    type Expected = Box<dyn Fn(&[u8]) -> String>;
    let cases: Vec<(&str, Expected)> = vec![
        ("commented.yaml", Box::new(whole)),
        ("flow.yaml", Box::new(whole)),
        ("quoted.yaml", Box::new(whole)),
        ("indented-4.yaml", Box::new(whole)),
        ("anchors.yaml", Box::new(whole)),
        ("crlf.yaml", Box::new(whole)),
        ("no-final-newline.yaml", Box::new(whole)),
        (
            "multi-doc.yaml",
            Box::new(|b: &[u8]| {
                String::from_utf8(b.to_vec())
                    .expect("utf8")
                    .replacen(OLD, NEW, 1)
            }),
        ),
        (
            "block-scalars.yaml",
            Box::new(|b: &[u8]| {
                String::from_utf8(b.to_vec())
                    .expect("utf8")
                    .replace(&format!("|-\n      {OLD}\n"), &format!("\"{NEW}\"\n"))
                    .replace(&format!(">-\n      {OLD}\n"), &format!("\"{NEW}\"\n"))
            }),
        ),
    ];
    for (name, expected) in cases {
        let sb = Sandbox::new();
        let original = layout(name);
        let k = sb.write("config", &original);
        let k = path_str(&k);
        let (ok, mut before, err) = kubectl_view(sb.dir.path(), k);
        assert!(ok, "{name}: kubectl cannot read the fixture: {err}");
        let o = rotate_stdin(&sb, k, NEW, &[]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        no_token_in(&o);
        let after_bytes = std::fs::read(k).expect("read back");
        assert_eq!(
            String::from_utf8_lossy(&after_bytes),
            expected(&original),
            "{name}: bytes"
        );
        let (ok, after, err) = kubectl_view(sb.dir.path(), k);
        assert!(ok, "{name}: kubectl cannot read the result: {err}");
        replace_strings(&mut before, OLD, NEW);
        assert_eq!(
            before, after,
            "{name}: kubectl sees more than the token change"
        );
    }
}

/// A file kubectl itself wrote (its own layout and ordering) rotates cleanly too.
#[test]
fn kubectl_written_file() {
    let sb = Sandbox::new();
    let k = sb.path("config");
    let k = path_str(&k);
    let kubectl = |args: &[&str]| {
        let o = std::process::Command::new("kubectl")
            .env("HOME", sb.dir.path())
            .env("KUBECONFIG", k)
            .args(args)
            .output()
            .expect("kubectl is installed (.ci/run installs it)");
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    kubectl(&[
        "config",
        "set-cluster",
        "cw",
        "--server=https://cw.k8s.test.coreweave.com",
    ]);
    kubectl(&[
        "config",
        "set-credentials",
        "token",
        &format!("--token={OLD}"),
    ]);
    kubectl(&[
        "config",
        "set-credentials",
        "other",
        &format!("--token={KEEP}"),
    ]);
    kubectl(&[
        "config",
        "set-context",
        "cw",
        "--cluster=cw",
        "--user=token",
        "--namespace=ns",
    ]);
    kubectl(&[
        "config",
        "set-context",
        "cw2",
        "--cluster=cw",
        "--user=token",
    ]);
    kubectl(&["config", "use-context", "cw"]);
    let original = std::fs::read_to_string(k).expect("kubectl wrote it");
    let (_, mut before, _) = kubectl_view(sb.dir.path(), k);
    let o = rotate_stdin(&sb, k, NEW, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("contexts: cw, cw2"), "{}", stdout(&o));
    assert_eq!(
        std::fs::read_to_string(k).expect("read"),
        original.replace(OLD, NEW)
    );
    let (_, after, _) = kubectl_view(sb.dir.path(), k);
    replace_strings(&mut before, OLD, NEW);
    assert_eq!(before, after);
}

/// Every file kubectl reads is rotated, shadowed entries too; other tokens stay.
#[test]
fn rotates_across_files_and_shadowed_entries() {
    let sb = Sandbox::new();
    let a = sb.write(
        "a/config",
        format!("current-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nclusters:\n- name: k\n  cluster: {{server: https://k.k8s.test.coreweave.com}}\nusers:\n- name: u\n  user: {{token: {OLD}}}\n"),
    );
    let b = sb.write(
        "b/config",
        format!("users:\n- name: u # shadowed by a/config\n  user: {{token: {OLD}}}\n- name: v\n  user: {{token: {OLD}}}\n- name: w\n  user: {{token: {KEEP}}}\n"),
    );
    let c = sb.write(
        "c/config",
        format!("users:\n- name: x\n  user: {{token: {KEEP}}}\n"),
    );
    let env = [&a, &b, &c].map(|p| path_str(p).to_string()).join(":");
    let c_before = std::fs::read(&c).expect("read");
    let o = rotate_stdin(&sb, &env, NEW, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Rotated the token of 3 user entries (2 files written)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "user \"u\" in {} (shadowed by the entry in {})",
            b.display(),
            a.display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "user \"v\" in {} (used by no context)",
            b.display()
        )),
        "{out}"
    );
    let b_text = std::fs::read_to_string(&b).expect("read");
    assert_eq!(b_text.matches(NEW).count(), 2, "{b_text}");
    assert!(b_text.contains(KEEP));
    assert_eq!(
        std::fs::read(&c).expect("read"),
        c_before,
        "a file without the token is untouched"
    );
}

#[test]
fn only_current_limits_the_change_to_the_active_entry() {
    let sb = Sandbox::new();
    let k = sb.write("config", layout("commented.yaml"));
    let o = rotate_stdin(&sb, path_str(&k), NEW, &["--only-current"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    assert!(
        text.contains(&format!("token: {NEW}   # rotate me")),
        "{text}"
    );
    assert!(text.contains(&format!("token: \"{OLD}\"")), "{text}");
}

#[test]
fn token_file_users_get_the_file_rewritten() {
    let sb = Sandbox::new();
    let tok = sb.write("secrets/cw-token", format!("{OLD}\n"));
    std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let k = sb.write(
        "config",
        format!("current-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nusers:\n- name: u\n  user:\n    tokenFile: secrets/cw-token\n- name: inline\n  user: {{token: {OLD}}}\n"),
    );
    let o = rotate_stdin(&sb, path_str(&k), NEW, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("tokenFile {} of user \"u\"", tok.display())),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&tok).expect("read"),
        format!("{NEW}\n")
    );
    assert_eq!(
        std::fs::metadata(&tok).expect("stat").permissions().mode() & 0o7777,
        0o640
    );
    assert!(std::fs::read_to_string(&k)
        .expect("read")
        .contains(&format!("token: {NEW}")));
}

#[test]
fn mode_owner_and_symlinks_survive() {
    let sb = Sandbox::new();
    let real = sb.write("real/config", layout("commented.yaml"));
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    std::fs::create_dir_all(sb.path("home/.kube")).expect("mkdir");
    let link = sb.path("home/.kube/config");
    std::os::unix::fs::symlink("../../real/config", &link).expect("symlink");
    let owner = std::fs::metadata(&real).expect("stat").uid();
    let o = rotate_stdin(&sb, path_str(&link), NEW, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "link replaced by a file"
    );
    let meta = std::fs::metadata(&real).expect("stat");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!(meta.uid(), owner);
    assert!(std::fs::read_to_string(&real).expect("read").contains(NEW));
    let leftovers: Vec<_> = std::fs::read_dir(sb.path("real"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("config")],
        "lock or temp file left"
    );
}

#[test]
fn dry_run_shows_a_masked_diff_and_writes_nothing() {
    let sb = Sandbox::new();
    let k = sb.write("config", layout("commented.yaml"));
    let before = std::fs::read(&k).expect("read");
    let o = rotate_stdin(&sb, path_str(&k), NEW, &["--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    no_token_in(&o);
    assert!(
        out.contains("-      token: CW-SECRET-…000   # rotate me"),
        "{out}"
    );
    assert!(
        out.contains("+      token: CW-SECRET-…111   # rotate me"),
        "{out}"
    );
    assert!(out.contains("Dry run: nothing was written."), "{out}");
    assert_eq!(std::fs::read(&k).expect("read"), before);
    assert_eq!(
        std::fs::read_dir(sb.dir.path()).expect("ls").count(),
        1,
        "dry run left a file (a lock?)"
    );
}

#[test]
fn backup_keeps_the_original_privately() {
    let sb = Sandbox::new();
    let original = layout("commented.yaml");
    let k = sb.write("config", &original);
    let o = rotate_stdin(&sb, path_str(&k), NEW, &["--backup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let backups: Vec<_> = std::fs::read_dir(sb.dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("config.bak-"))
        })
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read(&backups[0]).expect("read"), original);
    assert_eq!(
        std::fs::metadata(&backups[0])
            .expect("stat")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(
        stdout(&o).contains(&format!("Backup: {}", backups[0].display())),
        "{}",
        stdout(&o)
    );
}

/// Every refusal: exit 1, one line, no token, every file byte-identical.
#[test]
fn refused_new_tokens_change_nothing() {
    let sb = Sandbox::new();
    let original = layout("commented.yaml");
    let k = sb.write("config", &original);
    let k = path_str(&k).to_string();
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (vec!["--from-stdin"], Some(""), "is empty"),
        (
            vec!["--from-stdin"],
            Some("CW-SECRET-has space"),
            "contains a space at character 14",
        ),
        (
            vec!["--from-stdin"],
            Some(OLD),
            "is the token already in use",
        ),
        (
            vec!["--from-stdin"],
            Some("eyJhbGciOiJIUzI1NiJ9"),
            "is not a CoreWeave API access token",
        ),
        (
            vec!["--from-file", "/nonexistent/token"],
            None,
            "cannot read token file /nonexistent/token",
        ),
        (
            vec!["--from-command", "exit 7"],
            None,
            "--from-command exited with exit status: 7",
        ),
        (vec!["--from-command", "true"], None, "is empty"),
        (
            vec!["--from-command", "sleep 10", "--command-timeout", "1"],
            None,
            "did not finish within",
        ),
        (vec![], None, "stdin is not a terminal; pass --from-stdin"),
    ];
    for (args, input, needle) in cases {
        let mut cmd = sb.cmd(Some(&k));
        cmd.args(["token", "rotate", "--verify", "none"])
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().expect("spawn");
        if let Some(text) = input {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(format!("{text}\n").as_bytes())
                .expect("write");
        }
        let o = child.wait_with_output().expect("wait");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
        no_token_in(&o);
        assert_eq!(
            std::fs::read(&k).expect("read"),
            original,
            "{args:?} changed the file"
        );
        assert_eq!(
            std::fs::read_dir(sb.dir.path()).expect("ls").count(),
            1,
            "{args:?} left a file"
        );
    }
}

#[test]
fn from_file_and_from_command_and_force() {
    let sb = Sandbox::new();
    let k = sb.write("config", layout("indented-4.yaml"));
    let k = path_str(&k).to_string();
    let f = sb.write("new-token", format!("  {NEW}\n"));
    let o = sb.run(
        Some(&k),
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-file",
            path_str(&f),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sb.run(
        Some(&k),
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-command",
            "printf 'CW-SECRET-from-command-2\\nignored\\n'",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sb.run(
        Some(&k),
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-command",
            "echo not-a-coreweave-token",
            "--force",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sb.run(Some(&k), &["token", "show", "--raw"]);
    assert_eq!(stdout(&o), "not-a-coreweave-token\n");
}

#[test]
fn from_downloaded_kubeconfig() {
    let sb = Sandbox::new();
    let k = sb.write("config", layout("commented.yaml"));
    let k = path_str(&k).to_string();
    let downloaded = sb.write(
        "Downloads/CWKubeconfig_cwtoken-1a2b3c-laptop",
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: my-cluster\n  cluster: {{server: https://x}}\ncontexts:\n- name: my-cluster\n  context: {{cluster: my-cluster, user: token}}\ncurrent-context: my-cluster\nusers:\n- name: token\n  user: {{token: {NEW}}}\n"),
    );
    let o = sb.run(
        Some(&k),
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-kubeconfig",
            path_str(&downloaded),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&sb.run(Some(&k), &["token", "show", "--raw"])),
        format!("{NEW}\n")
    );

    // No current-context and two different tokens: ambiguous.
    let two = sb.write(
        "Downloads/two",
        format!(
            "users:\n- name: a\n  user: {{token: {OLD}}}\n- name: b\n  user: {{token: {KEEP}}}\n"
        ),
    );
    let o = sb.run(
        Some(&k),
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-kubeconfig",
            path_str(&two),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("2 different tokens"), "{}", stderr(&o));
}

/// With no source flag and a terminal, the plugin asks (echo off) and confirms.
#[test]
fn prompts_on_a_terminal() {
    let sb = Sandbox::new();
    let k = sb.write("config", layout("commented.yaml"));
    // `script` gives the plugin a real pseudo-terminal; answers are typed into it.
    let cmd = format!(
        "KUBECONFIG={} HOME={} {} token rotate --verify none",
        path_str(&k),
        path_str(sb.dir.path()),
        support::bin()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        std::thread::sleep(std::time::Duration::from_millis(300));
        stdin
            .write_all(format!("{NEW}\n").as_bytes())
            .expect("type token");
        std::thread::sleep(std::time::Duration::from_millis(300));
        stdin.write_all(b"y\n").expect("confirm");
    }
    let o = child.wait_with_output().expect("wait");
    let screen = stdout(&o);
    assert!(o.status.success(), "{screen}");
    assert!(
        screen.contains("https://console.coreweave.com/tokens"),
        "{screen}"
    );
    assert!(screen.contains("[y/N]"), "{screen}");
    assert!(!screen.contains(NEW), "the token was echoed: {screen}");
    assert!(std::fs::read_to_string(&k).expect("read").contains(NEW));
}

/// A YAML construct the editor will not touch safely: refused, file as it was.
#[test]
fn unsafe_layout_is_refused_whole() {
    let sb = Sandbox::new();
    let text = format!(
        "current-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nusers:\n- name: u\n  user:\n    token: &t {OLD}\n- name: v\n  user:\n    token: {KEEP}\n    note: *t\n"
    );
    let k = sb.write("config", &text);
    let o = rotate_stdin(&sb, path_str(&k), NEW, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!("cannot edit kubeconfig {}", k.display())),
        "{}",
        stderr(&o)
    );
    no_token_in(&o);
    assert_eq!(std::fs::read_to_string(&k).expect("read"), text);
}

/// A kubeconfig listed twice in KUBECONFIG through a symlink is one file: rotated once.
#[test]
fn same_file_listed_twice_through_a_symlink_rotates_once() {
    let sb = Sandbox::new();
    let k = sb.write("config", layout("quoted.yaml"));
    let link = sb.path("link");
    std::os::unix::fs::symlink("config", &link).expect("symlink");
    let env = format!("{}:{}", path_str(&k), path_str(&link));
    let o = rotate_stdin(&sb, &env, NEW, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("(1 file written)"), "{}", stdout(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    assert_eq!(
        text,
        String::from_utf8(layout("quoted.yaml"))
            .expect("utf8")
            .replace(OLD, NEW)
    );
    assert!(std::fs::symlink_metadata(&link)
        .expect("lstat")
        .file_type()
        .is_symlink());
}

/// A writer killed mid-write leaves `.config.tmp-*` holding a whole kubeconfig; the next
/// rotate, holding the lock, removes it.
#[test]
fn stale_temporary_files_are_removed_under_the_lock() {
    let sb = Sandbox::new();
    let k = sb.write("config", layout("commented.yaml"));
    let stale = sb.write(".config.tmp-99999-deadbeef", "a killed writer's copy");
    let unrelated = sb.write(".other.tmp-1-2", "not ours");
    let o = rotate_stdin(&sb, path_str(&k), NEW, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stale.exists(), "stale temp file kept");
    assert!(unrelated.exists(), "a file that is not ours was removed");
}

/// A kubeconfig as a reader can see it while kubectl rewrites it in place: cut inside the
/// (double-quoted) token, so it does not parse, with kubectl's `<file>.lock` beside it.
struct HalfWritten {
    whole: String,
    half: String,
    file: std::path::PathBuf,
    lock: std::path::PathBuf,
}

impl HalfWritten {
    fn new(sb: &Sandbox) -> HalfWritten {
        let whole = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://k.k8s.test.coreweave.com\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user:\n    token: \"{OLD}\"\n"
        );
        let half = whole[..whole.find(OLD).expect("token in fixture") + 5].to_string();
        HalfWritten {
            file: sb.write("config", &half),
            lock: sb.write("config.lock", ""),
            whole,
            half,
        }
    }
}

/// kubectl rewrites a kubeconfig in place (truncate, then write) while holding
/// `<file>.lock`, and readers take no lock, so the first reading can catch a half-written
/// file. Seen while the lock exists, such a file is read again once the lock goes: `token
/// show` and `token rotate` both end as if they had come a moment later.
#[test]
fn a_half_written_file_under_a_writers_lock_is_read_again() {
    let sb = Sandbox::new();
    let HalfWritten {
        whole,
        file: k,
        lock,
        ..
    } = HalfWritten::new(&sb);
    let kubeconfig = path_str(&k).to_string();
    let show = sb
        .cmd(Some(&kubeconfig))
        .args(["token", "show", "--raw"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn show");
    let rotate = {
        let new_token = sb.write("new-token", format!("{NEW}\n"));
        sb.cmd(Some(&kubeconfig))
            .args(["token", "rotate", "--verify", "none", "--from-file"])
            .arg(&new_token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rotate")
    };
    // The writer finishes: the whole file, then the lock goes (client-go's order).
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(&k, &whole).expect("finish the write");
    std::fs::remove_file(&lock).expect("unlock");

    let o = show.wait_with_output().expect("show");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o) == format!("{OLD}\n") || stdout(&o) == format!("{NEW}\n"),
        "{}",
        stdout(&o)
    );
    let o = rotate.wait_with_output().expect("rotate");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&k).expect("read"),
        whole.replace(OLD, NEW)
    );
}

/// A file that does not load while a lock stays (a stale lock, or a writer that hangs):
/// the error is the file's, and says the lock is there; nothing is written or removed.
#[test]
fn a_broken_file_under_a_lock_that_stays_names_the_lock() {
    let sb = Sandbox::new();
    let HalfWritten {
        file: k,
        lock,
        half,
        ..
    } = HalfWritten::new(&sb);
    let kubeconfig = path_str(&k).to_string();
    for args in [
        &["token", "show", "--raw"][..],
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-stdin",
            "--lock-timeout",
            "1",
        ],
    ] {
        let o = sb.run(Some(&kubeconfig), args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("kubeconfig {kubeconfig}:")), "{err}");
        assert!(
            err.contains(&format!("and {}.lock exists", kubeconfig)),
            "{err}"
        );
        no_token_in(&o);
        assert!(lock.exists(), "{args:?} removed someone's lock");
        assert_eq!(std::fs::read_to_string(&k).expect("read"), half);
    }
}

/// An entry without `name` is the user named "" for kubectl; holding the old token, it is
/// rotated with the others, on the editor's general path (flow style) too, and its expiry
/// is recorded like theirs.
#[test]
fn an_unnamed_entry_holding_the_token_is_rotated() {
    let sb = Sandbox::new();
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{{name: k, cluster: {{server: https://k.k8s.test.coreweave.com}}}}]\ncontexts: [{{name: c, context: {{cluster: k, user: u}}}}]\nusers: [{{name: u, user: {{token: {OLD}}}}}, {{user: {{token: {OLD}}}}}]\n"
    );
    let k = sb.write("config", &text);
    let kubeconfig = path_str(&k).to_string();
    let home = tempfile::tempdir().expect("home");
    let (ok, before, _) = kubectl_view(home.path(), &kubeconfig);
    assert!(ok);
    let o = rotate_stdin(&sb, &kubeconfig, NEW, &["--expires", "30d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("user \"\" in"), "{}", stdout(&o));
    no_token_in(&o);
    let (ok, after, _) = kubectl_view(home.path(), &kubeconfig);
    assert!(ok);
    let users = after["users"].as_array().expect("users");
    assert_eq!(users.len(), 2);
    for u in users {
        assert_eq!(u["user"]["token"], NEW, "{u}");
        assert_eq!(
            u["user"]["extensions"][0]["name"], "coreweave.com/token",
            "{u}"
        );
    }
    let mut expected = before;
    replace_strings(&mut expected, OLD, NEW);
    let mut got = after;
    for u in got["users"].as_array_mut().expect("users") {
        u["user"]
            .as_object_mut()
            .expect("user")
            .remove("extensions");
    }
    assert_eq!(got, expected);
}

/// A file that changes between the unlocked plan and the lock (here the token command
/// itself adds an entry holding the old token, and moves every later byte) is read and
/// planned again under the lock: the new entry is rotated too, and nothing is refused.
/// The first reading's parse is kept only when the bytes under the lock are the same.
#[test]
fn a_file_changed_before_the_lock_is_planned_again() {
    let sb = Sandbox::new();
    let k = sb.write(
        "config",
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: https://c1-x.k8s.test.coreweave.com}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u1}}\ncurrent-context: c\nusers:\n- name: u1\n  user:\n    token: {OLD}\n"),
    );
    let command = format!(
        "printf -- '- name: u2\\n  user:\\n    token: {OLD}\\n' >> '{}' && echo {NEW}",
        path_str(&k)
    );
    let o = sb.run(
        Some(path_str(&k)),
        &[
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-command",
            &command,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    no_token_in(&o);
    assert!(stdout(&o).contains("2 user entries"), "{}", stdout(&o));
    let text = std::fs::read_to_string(&k).expect("read");
    assert!(!text.contains(OLD), "an entry kept the old token");
    assert_eq!(text.matches(NEW).count(), 2);
}
