//! `token rotate` under attack (issue 10, items 3, 4, 7 and 8): token files that are not
//! tokens, files the user may not write, one file reached through several names by
//! concurrent rotates, and inputs that never end. Every test checks the outcome on disk,
//! not only the exit status. Permission tests run the plugin as `nobody` (uid 65534) when
//! the tests run as root (as CI does), since root ignores file permissions.

use crate::support;

use std::os::unix::fs::{chown, symlink, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use support::{path_str, stderr, stdout, Sandbox};

const OLD: &str = "CW-SECRET-hostile-old-0000";
const NEW: &str = "CW-SECRET-hostile-new-1111";
const NOBODY: u32 = 65534;

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hostile")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A kubeconfig whose current context uses user `u`; `users` is the YAML of the list.
fn config(users: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: cw\n  cluster:\n    \
         server: https://abc123-def456.k8s.us-east-04a.coreweave.com\ncontexts:\n\
         - name: ctx\n  context:\n    cluster: cw\n    user: u\ncurrent-context: ctx\n\
         users:\n{users}"
    )
}

fn inline_user(name: &str, token: &str) -> String {
    format!("- name: {name}\n  user:\n    token: {token}\n")
}

fn file_user(name: &str, token_file: &str) -> String {
    format!("- name: {name}\n  user:\n    tokenFile: {token_file}\n")
}

/// `token rotate --verify none --from-stdin` on `kubeconfig`, fed `NEW`.
fn rotate_cmd(sb: &Sandbox, kubeconfig: &Path, extra: &[&str]) -> Command {
    let mut c = sb.cmd(Some(path_str(kubeconfig)));
    c.args(["token", "rotate", "--verify", "none", "--from-stdin"])
        .args(extra);
    c
}

fn run(mut c: Command, input: &[u8]) -> Output {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plugin");
    use std::io::Write;
    // A plugin that refuses early closes its stdin: EPIPE here is fine.
    let _ = child.stdin.take().expect("stdin").write_all(input);
    child.wait_with_output().expect("wait plugin")
}

fn rotate(sb: &Sandbox, kubeconfig: &Path, extra: &[&str]) -> Output {
    run(
        rotate_cmd(sb, kubeconfig, extra),
        format!("{NEW}\n").as_bytes(),
    )
}

/// Refused as the README promises: exit 1, one `error: ` line, no panic, no token.
fn refused(o: &Output, what: &str) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: {err:?} {:?}", stdout(o));
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: one line expected: {err:?}");
    for t in [OLD, NEW] {
        assert!(!err.contains(t), "{what}: token leaked: {err}");
    }
    err
}

/// Lock and temporary files left in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock") || n.contains(".tmp-"))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------
// Item 3: a token file that is not a token is never overwritten
// ---------------------------------------------------------------------------------------

/// `tokenFile` naming the kubeconfig itself, by every kind of name (a hard link too): rotate
/// reads the whole kubeconfig as "the token" (as client-go would) and used to replace the
/// file with the new token. `--force` does not change that; a dry run refuses it too.
#[test]
fn token_file_that_is_the_kubeconfig_is_refused_by_any_name() {
    let names = [
        "config",
        "../k/config",
        "link-to-config",
        "sub/../config",
        "hard-link-to-config",
    ];
    for (name, dry_run) in names.iter().flat_map(|n| [(*n, false), (*n, true)]) {
        let sb = Sandbox::new();
        std::fs::create_dir_all(sb.path("k/sub")).expect("mkdir");
        let text = String::from_utf8(fixture("token-file-is-kubeconfig.yaml"))
            .expect("utf8")
            .replace("tokenFile: config", &format!("tokenFile: {name}"));
        let k = sb.write("k/config", &text);
        symlink("config", sb.path("k/link-to-config")).expect("symlink");
        std::fs::hard_link(&k, sb.path("k/hard-link-to-config")).expect("hard link");

        let args: &[&str] = if dry_run {
            &["--force", "--dry-run"]
        } else {
            &["--force"]
        };
        let o = rotate(&sb, &k, args);

        let err = refused(&o, name);
        assert!(
            err.contains(&format!("tokenFile {}", sb.path("k").join(name).display())),
            "{name}: {err}"
        );
        assert!(err.contains("is the kubeconfig file"), "{name}: {err}");
        assert!(
            !err.contains("apiVersion"),
            "{name}: file content shown: {err}"
        );
        assert_eq!(
            std::fs::read_to_string(&k).expect("read"),
            text,
            "{name}: kubeconfig changed"
        );
        assert_eq!(leftovers(&sb.path("k")), Vec::<String>::new(), "{name}");
    }
}

/// `tokenFile: ../etc/passwd`: many lines, so not a token file, even with `--force`.
#[test]
fn token_file_with_many_lines_is_refused() {
    let sb = Sandbox::new();
    let passwd = sb.write("etc/passwd", fixture("passwd"));
    let k = sb.write("k/config", config(&file_user("u", "../etc/passwd")));
    let before = std::fs::read(&passwd).expect("read");

    let err = refused(&rotate(&sb, &k, &["--force"]), "passwd");

    assert!(err.contains("refusing to rewrite tokenFile"), "{err}");
    assert!(err.contains("etc/passwd"), "{err}");
    assert!(err.contains("lines, not one token line"), "{err}");
    assert!(!err.contains("root:x"), "file content shown: {err}");
    assert_eq!(std::fs::read(&passwd).expect("read"), before);
}

/// One line that is not CoreWeave-shaped (`/etc/hostname`, say): refused unless `--force`,
/// and rewritten (keeping its line break) with it.
#[test]
fn single_line_token_file_that_is_not_a_coreweave_token_needs_force() {
    let sb = Sandbox::new();
    let host = sb.write("k/hostname", "buildhost\n");
    let k = sb.write("k/config", config(&file_user("u", "hostname")));

    let o = rotate(&sb, &k, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&host).expect("read"), "buildhost\n");

    let o = rotate(&sb, &k, &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&host).expect("read"),
        format!("{NEW}\n")
    );
}

/// A token file over the size cap is not a token: it is not read as one (nor written).
#[test]
fn oversized_token_file_is_refused() {
    let sb = Sandbox::new();
    let big = format!("CW-SECRET-{}\n", "a".repeat(20_000));
    let tok = sb.write("k/tok", &big);
    let k = sb.write("k/config", config(&file_user("u", "tok")));

    let err = refused(&rotate(&sb, &k, &["--force"]), "oversized");

    assert!(err.contains(&tok.display().to_string()), "{err}");
    assert!(err.contains("longer than 16384 bytes"), "{err}");
    assert_eq!(std::fs::read_to_string(&tok).expect("read"), big);
}

/// A FIFO as `tokenFile` of a user that is not the one being rotated (someone else's entry
/// in a shared kubeconfig). Opening a FIFO for reading blocks until a writer comes, so rotate
/// used to hang there. No clock: while the rotate runs, the test offers to be that writer
/// (a non-blocking open for writing succeeds only when a reader has the FIFO open); a rotate
/// that never opens the FIFO ends by itself.
#[test]
fn fifo_token_file_of_another_user_neither_hangs_nor_is_read() {
    let sb = Sandbox::new();
    let fifo = sb.path("k/fifo");
    std::fs::create_dir_all(sb.path("k")).expect("mkdir");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let users = inline_user("u", OLD) + &file_user("other", "fifo");
    let k = sb.write("k/config", config(&users));

    let mut child = rotate_cmd(&sb, &k, &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(format!("{NEW}\n").as_bytes())
            .expect("stdin");
    }
    let mut opened = false;
    while child.try_wait().expect("try_wait").is_none() {
        let writer = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&fifo);
        if let Ok(mut w) = writer {
            opened = true;
            use std::io::Write;
            let _ = w.write_all(b"CW-SECRET-unblocked\n");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let o = child.wait_with_output().expect("wait");
    assert!(!opened, "rotate opened the FIFO and blocked on it");
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&k).expect("read");
    assert!(after.contains(&inline_user("u", NEW)), "{after}");
}

// ---------------------------------------------------------------------------------------
// Item 4: never write what the user may not write
// ---------------------------------------------------------------------------------------

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A sandbox `nobody` can reach, with a folder `w` it owns and may write.
fn nobody_sandbox() -> Sandbox {
    assert!(
        is_root(),
        "the permission tests need root (as in CI) to make files of two users"
    );
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod sandbox");
    std::fs::create_dir(sb.path("w")).expect("mkdir");
    chown(sb.path("w"), Some(NOBODY), Some(NOBODY)).expect("chown w");
    sb
}

/// `path` with `mode`, owned by `uid`:`gid`.
fn own(path: &Path, uid: u32, gid: u32, mode: u32) {
    chown(path, Some(uid), Some(gid)).expect("chown");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn owner_and_mode(path: &Path) -> (u32, u32, u32) {
    let m = std::fs::metadata(path).expect("stat");
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

fn as_nobody(mut c: Command) -> Command {
    c.uid(NOBODY).gid(NOBODY);
    c
}

/// The oracle: kubectl's own writer, as `nobody`, on the same file.
fn kubectl_set_credentials_as_nobody(sb: &Sandbox, kubeconfig: &Path) -> Output {
    Command::new("kubectl")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.dir.path())
        .env("KUBECONFIG", kubeconfig)
        .args([
            "config",
            "set-credentials",
            "u",
            "--token=CW-SECRET-kubectl-2222",
        ])
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .expect("kubectl must be installed (.ci/run installs it)")
}

/// A read-only kubeconfig (0444, 0400) in a folder `nobody` may write: rename() would
/// replace it, kubectl's writer gets "permission denied", and so must rotate, before any
/// lock and with nothing written.
#[test]
fn read_only_kubeconfig_is_refused_like_kubectl() {
    for mode in [0o444, 0o400] {
        let sb = nobody_sandbox();
        let text = config(&inline_user("u", OLD));
        let k = sb.write("w/config", &text);
        own(&k, NOBODY, NOBODY, mode);

        let kubectl = kubectl_set_credentials_as_nobody(&sb, &k);
        assert!(!kubectl.status.success(), "kubectl wrote a {mode:o} file");
        assert!(
            stderr(&kubectl).contains("permission denied"),
            "{}",
            stderr(&kubectl)
        );

        let o = run(
            as_nobody(rotate_cmd(&sb, &k, &[])),
            format!("{NEW}\n").as_bytes(),
        );
        let err = refused(&o, &format!("{mode:o}"));
        assert!(
            err.contains(&format!("cannot write {}: permission denied", k.display())),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&k).expect("read"), text);
        assert_eq!(owner_and_mode(&k), (NOBODY, NOBODY, mode));
        assert_eq!(leftovers(&sb.path("w")), Vec::<String>::new());
    }
}

/// Another user's file in a folder `nobody` may write: a root-owned 0644 file is not
/// writable (kubectl and rotate refuse), and a root-owned 0666 file is writable but
/// replacing it would hand it to `nobody` (the old bug made it nobody:nogroup 0604), so
/// rotate refuses rather than change its owner.
#[test]
fn another_users_file_is_never_taken_over() {
    let sb = nobody_sandbox();
    let text = config(&inline_user("u", OLD));
    let k = sb.write("w/config", &text);
    own(&k, 0, 0, 0o644);
    let kubectl = kubectl_set_credentials_as_nobody(&sb, &k);
    assert!(
        stderr(&kubectl).contains("permission denied"),
        "{}",
        stderr(&kubectl)
    );
    let err = refused(
        &run(
            as_nobody(rotate_cmd(&sb, &k, &[])),
            format!("{NEW}\n").as_bytes(),
        ),
        "root 0644",
    );
    assert!(err.contains("permission denied"), "{err}");
    assert_eq!(owner_and_mode(&k), (0, 0, 0o644));

    own(&k, 0, 0, 0o666);
    let err = refused(
        &run(
            as_nobody(rotate_cmd(&sb, &k, &[])),
            format!("{NEW}\n").as_bytes(),
        ),
        "root 0666",
    );
    assert!(err.contains(&k.display().to_string()), "{err}");
    assert!(err.contains("belongs to uid 0 gid 0"), "{err}");
    assert_eq!(std::fs::read_to_string(&k).expect("read"), text);
    assert_eq!(owner_and_mode(&k), (0, 0, 0o666));
    assert_eq!(leftovers(&sb.path("w")), Vec::<String>::new());
}

/// A read-only token file: refused by name before anything is written, the kubeconfig
/// included.
#[test]
fn read_only_token_file_is_refused_and_nothing_is_written() {
    let sb = nobody_sandbox();
    let tok = sb.write("w/tok", format!("{OLD}\n"));
    own(&tok, NOBODY, NOBODY, 0o400);
    let text = config(&file_user("u", "tok"));
    let k = sb.write("w/config", &text);
    own(&k, NOBODY, NOBODY, 0o600);

    // --expires makes rotate write the kubeconfig too (the expiry extension).
    let o = run(
        as_nobody(rotate_cmd(&sb, &k, &["--expires", "90d"])),
        format!("{NEW}\n").as_bytes(),
    );

    let err = refused(&o, "0400 token file");
    assert!(
        err.contains(&format!(
            "cannot write {}: permission denied",
            tok.display()
        )),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&tok).expect("read"),
        format!("{OLD}\n")
    );
    assert_eq!(std::fs::read_to_string(&k).expect("read"), text);
    assert_eq!(leftovers(&sb.path("w")), Vec::<String>::new());
}

/// What may be written keeps owner and mode exactly, and backups are private: as `nobody`
/// on its own 0644 file, and as root on a root-owned 0644 file and on `nobody`'s 0640 file.
#[test]
fn written_files_keep_owner_and_mode_and_backups_are_private() {
    let sb = nobody_sandbox();
    let k = sb.write("w/config", config(&inline_user("u", OLD)));
    own(&k, NOBODY, NOBODY, 0o644);
    let o = run(
        as_nobody(rotate_cmd(&sb, &k, &["--backup"])),
        format!("{NEW}\n").as_bytes(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&k).expect("read").contains(NEW));
    assert_eq!(owner_and_mode(&k), (NOBODY, NOBODY, 0o644));
    let backups: Vec<PathBuf> = std::fs::read_dir(sb.path("w"))
        .expect("read")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains(".bak-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(owner_and_mode(&backups[0]), (NOBODY, NOBODY, 0o600));

    // A setgid folder hands its group to every new file: `nobody`'s file there keeps a
    // group `nobody` is not in.
    std::fs::create_dir(sb.path("g")).expect("mkdir");
    own(&sb.path("g"), NOBODY, 4242, 0o2777);
    let k = sb.write("g/config", config(&inline_user("u", OLD)));
    own(&k, NOBODY, 4242, 0o640);
    let o = run(
        as_nobody(rotate_cmd(&sb, &k, &[])),
        format!("{NEW}\n").as_bytes(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&k).expect("read").contains(NEW));
    assert_eq!(owner_and_mode(&k), (NOBODY, 4242, 0o640));

    for (uid, gid, mode) in [(0, 0, 0o644), (NOBODY, NOBODY, 0o640)] {
        let sb = Sandbox::new();
        let k = sb.write("config", config(&inline_user("u", OLD)));
        own(&k, uid, gid, mode);
        let o = rotate(&sb, &k, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(std::fs::read_to_string(&k).expect("read").contains(NEW));
        assert_eq!(
            owner_and_mode(&k),
            (uid, gid, mode),
            "root rotating {uid}:{gid} {mode:o}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Item 7: locks that exclude, whatever the name
// ---------------------------------------------------------------------------------------

/// One token file named three ways by three entries of one kubeconfig (`tok`,
/// `sub/../tok`, a symlink): `tok.lock` and `sub/../tok.lock` are one lock file, so the
/// rotate used to wait for its own lock until `--lock-timeout`, and then wrote the file
/// twice. Now it is locked and written once.
#[test]
fn one_token_file_under_several_names_is_locked_and_written_once() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("k/sub")).expect("mkdir");
    let tok = sb.write("k/tok", format!("{OLD}\n"));
    symlink("tok", sb.path("k/link")).expect("symlink");
    let users = file_user("u", "tok") + &file_user("v", "sub/../tok") + &file_user("w", "link");
    let k = sb.write("k/config", config(&users));

    let o = rotate(&sb, &k, &["--lock-timeout", "1"]);

    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("Rotated the token of 3 user entries (1 file written):"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&tok).expect("read"),
        format!("{NEW}\n")
    );
    assert!(std::fs::symlink_metadata(sb.path("k/link"))
        .expect("link")
        .file_type()
        .is_symlink());
    assert_eq!(leftovers(&sb.path("k")), Vec::<String>::new());
}

const PARALLEL: usize = 8;
const ROUNDS: usize = 4;

/// Rotates that reach one token file through four names (`../tok`, its absolute path, a
/// symlink, `../sub/../tok`), from four kubeconfigs, all started from the same old token
/// (each waits at a barrier after loading): exactly one may win and the file must hold the
/// winner's token. Before, the symlink's rotates took a different lock and several "won",
/// one update lost. Outcomes are counted; no clock decides.
#[test]
fn concurrent_rotates_through_different_names_exclude_each_other() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("sub")).expect("mkdir");
    let tok = sb.path("tok");
    symlink("tok", sb.path("link")).expect("symlink");
    let names = [
        "../tok".to_string(),
        path_str(&tok).to_string(),
        "../link".to_string(),
        "../sub/../tok".to_string(),
    ];
    let configs: Vec<PathBuf> = names
        .iter()
        .enumerate()
        .map(|(i, n)| sb.write(&format!("c{i}/config"), config(&file_user("u", n))))
        .collect();

    for round in 0..ROUNDS {
        let old = format!("CW-SECRET-round-{round}-old");
        std::fs::write(&tok, format!("{old}\n")).expect("token file");
        let barrier = sb.path(&format!("barrier-{round}"));
        std::fs::create_dir(&barrier).expect("mkdir");
        let go = barrier.join("go");
        let mut children: Vec<(String, Child)> = Vec::new();
        for i in 0..PARALLEL {
            let token = format!("CW-SECRET-round-{round}-new-{i}");
            let ready = barrier.join(format!("ready-{i}"));
            let script = format!(
                "touch '{}'; while [ ! -e '{}' ]; do sleep 0.01; done; echo {token}",
                ready.display(),
                go.display()
            );
            let child = sb
                .cmd(Some(path_str(&configs[i % configs.len()])))
                .args([
                    "token",
                    "rotate",
                    "--verify",
                    "none",
                    "--from-command",
                    &script,
                ])
                .args(["--command-timeout", "60", "--lock-timeout", "30"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn rotate");
            children.push((token, child));
        }
        while (0..PARALLEL).any(|i| !barrier.join(format!("ready-{i}")).exists()) {
            for (t, c) in &mut children {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("rotate for {t} ended before the barrier: {status}");
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::fs::write(&go, "").expect("open the barrier");
        let outputs: Vec<(String, Output)> = children
            .into_iter()
            .map(|(t, c)| (t, c.wait_with_output().expect("wait rotate")))
            .collect();
        let winners: Vec<&str> = outputs
            .iter()
            .filter(|(_, o)| o.status.success())
            .map(|(t, _)| t.as_str())
            .collect();
        for (t, o) in &outputs {
            if !o.status.success() {
                // Either under the lock, or before it: the token file is read again when
                // the targets are found, after the new token came.
                let err = stderr(o);
                assert!(
                    err.contains("changed on disk while rotating")
                        || err.contains("no user entry holds the active user's token any more"),
                    "round {round}: loser {t} failed for another reason: {err}"
                );
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: rotates from one old token through different names must have \
             exactly one winner; winners {winners:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&tok).expect("read"),
            format!("{}\n", winners[0]),
            "round {round}: lost update"
        );
        assert_eq!(
            leftovers(sb.dir.path()),
            Vec::<String>::new(),
            "round {round}"
        );
    }
}

/// A rotate removes temporary files only of writers that are gone: another live writer's
/// `.config.tmp-<pid>-*` (here the test process's pid) stays, a dead one's goes.
#[test]
fn only_temp_files_of_dead_writers_are_removed() {
    let sb = Sandbox::new();
    let k = sb.write("k/config", config(&inline_user("u", OLD)));
    let mut dead = Command::new("true").spawn().expect("spawn true");
    let dead_pid = dead.id();
    dead.wait().expect("wait true");
    let live = sb.write(
        &format!("k/.config.tmp-{}-abcdefgh", std::process::id()),
        "another rotate's file in progress",
    );
    let stale = sb.write(
        &format!("k/.config.tmp-{dead_pid}-abcdefgh"),
        "left by a killed rotate",
    );

    let o = rotate(&sb, &k, &[]);

    assert!(o.status.success(), "{}", stderr(&o));
    assert!(live.exists(), "a live writer's temporary file was removed");
    assert!(!stale.exists(), "a dead writer's temporary file was left");
}

// ---------------------------------------------------------------------------------------
// Item 8: bounded reads, no panics, no orphans
// ---------------------------------------------------------------------------------------

/// `--from-file /dev/zero` and `--from-stdin < /dev/zero` end at once with a refusal
/// instead of reading forever; `tokenFile: /dev/zero` counts as unreadable (client-go then
/// uses the inline token), and is not written.
#[test]
fn endless_inputs_are_refused_at_once() {
    let sb = Sandbox::new();
    let text = config(&inline_user("u", OLD));
    let k = sb.write("config", &text);

    let o = sb
        .cmd(Some(path_str(&k)))
        .args([
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-file",
            "/dev/zero",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let err = refused(&o, "--from-file /dev/zero");
    assert!(
        err.contains("/dev/zero") && err.contains("longer than 16384 bytes"),
        "{err}"
    );

    let o = sb
        .cmd(Some(path_str(&k)))
        .args(["token", "rotate", "--verify", "none", "--from-stdin"])
        .stdin(std::fs::File::open("/dev/zero").expect("/dev/zero"))
        .output()
        .expect("run");
    let err = refused(&o, "--from-stdin < /dev/zero");
    assert!(err.contains("longer than 16384 bytes"), "{err}");
    assert_eq!(std::fs::read_to_string(&k).expect("read"), text);

    let users =
        "- name: u\n  user:\n    token: ".to_string() + OLD + "\n    tokenFile: /dev/zero\n";
    let k = sb.write("config", config(&users));
    let o = rotate(&sb, &k, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&k).expect("read").contains(NEW));
}

/// `--lock-timeout` at its largest: waiting for a lock that goes away must not overflow
/// the deadline (it panicked with "overflow when adding duration to instant").
#[test]
fn huge_lock_timeout_does_not_panic() {
    let sb = Sandbox::new();
    // Does not parse, so the read waits for the writer's lock to go and reads again.
    let k = sb.write("config", "apiVersion: v1\nusers: [\n");
    let lock = sb.write("config.lock", "");
    let mut child = rotate_cmd(&sb, &k, &["--lock-timeout", &u64::MAX.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Give it time to meet the lock (a lower bound only), then let it go on.
    for _ in 0..100 {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::remove_file(&lock).expect("remove lock");
    let o = child.wait_with_output().expect("wait");
    let err = refused(&o, "huge --lock-timeout");
    assert!(err.contains(&k.display().to_string()), "{err}");
}

/// `--from-command` that times out is killed with everything it started: a background
/// `sleep` in the command's shell must not outlive the rotate.
#[test]
fn timed_out_command_is_killed_with_its_process_group() {
    let sb = Sandbox::new();
    let k = sb.write("config", config(&inline_user("u", OLD)));
    let pid_file = sb.path("sleep.pid");
    let script = format!("sleep 1000 & echo $! > '{}'; wait", pid_file.display());
    // Output to files, not pipes: a surviving `sleep` holds the command's stderr (the
    // plugin's), and reading a pipe to its end would wait for it instead of failing.
    let (out, err) = (sb.path("out"), sb.path("err"));
    let status = sb
        .cmd(Some(path_str(&k)))
        .args([
            "token",
            "rotate",
            "--verify",
            "none",
            "--from-command",
            &script,
        ])
        .args(["--command-timeout", "1"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("out"))
        .stderr(std::fs::File::create(&err).expect("err"))
        .status()
        .expect("run");
    let o = Output {
        status,
        stdout: std::fs::read(&out).expect("read out"),
        stderr: std::fs::read(&err).expect("read err"),
    };
    let err = refused(&o, "timed-out command");
    assert!(err.contains("did not finish"), "{err}");
    let pid = std::fs::read_to_string(&pid_file).expect("pid file");
    let pid = pid.trim();
    // SIGKILL wakes its target at once: it is running to its end, a zombie, or gone, but
    // never again asleep in its `sleep`.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.chars().next()))
        .flatten();
    let _ = Command::new("kill").args(["-9", pid]).status();
    assert!(
        !matches!(state, Some('S' | 'D' | 'T')),
        "the command's background sleep (pid {pid}) outlived the rotate: state {state:?}"
    );
}
