//! Stress tests for `token rotate`: parallel rotates on the same files, kubectl writing at
//! the same time, SIGKILL at random moments, injected write failures and stale locks.
//!
//! Wherever the expected content is known, files are compared byte for byte (only the
//! token's characters may change), and the real kubectl is asked whether they still parse.
//! Nothing here skips. Run time: about 20 s of CPU in a debug build, most of it in the two
//! SIGKILL tests (320 kills in total).
//!
//! Timing knobs: `STRESS_SEED` (u64) replays the kill schedule of a failing run; the seed is
//! printed by the kill tests (the timing of the machine still varies from run to run).

use crate::support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{kubectl_view, path_str, stderr, Sandbox};

/// The token every fixture starts with.
const OLD: &str = "CW-SECRET-stress-old-00000000000000000000";

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// A set of kubeconfig files, one per folder, listed in KUBECONFIG in this order.
struct Layout {
    sb: Sandbox,
    /// An empty folder used as HOME for kubectl, so no real ~/.kube/config takes part.
    kubectl_home: tempfile::TempDir,
    files: Vec<PathBuf>,
    /// The bytes each file was created with.
    originals: Vec<String>,
    /// Per file: the users holding `OLD` at the start.
    shared: Vec<Vec<String>>,
    /// Per file: the users holding some other token, with that token.
    unrelated: Vec<Vec<(String, String)>>,
}

impl Layout {
    /// `n_files` files in folders `a`, `b`, `c`, ...; each holds `shared_per_file` entries
    /// with `OLD` (quoted three ways), one unrelated user per four shared ones, comments,
    /// and its own cluster and context. The first file sets current-context to its first
    /// shared user. With `shadow`, the last file also defines the first file's active user
    /// (shadowed by the merge, but holding `OLD`, so rotate must change it too).
    fn new(n_files: usize, shared_per_file: usize, shadow: bool) -> Layout {
        let sb = Sandbox::new();
        let mut files = Vec::new();
        let mut originals = Vec::new();
        let mut shared = Vec::new();
        let mut unrelated = Vec::new();
        for i in 0..n_files {
            let folder = (b'a' + i as u8) as char;
            let mut text = format!(
                "# kubeconfig {folder} for the rotate stress test\n\
                 # the shared token is in several entries below; comments must survive\n\
                 apiVersion: v1\nkind: Config\nclusters:\n\
                 - name: cl-{folder}\n  cluster:\n    server: https://cl-{folder}.k8s.test.coreweave.com # server\n\
                 contexts:\n\
                 - name: ctx-{folder}\n  context:\n    cluster: cl-{folder}\n    user: s-{folder}-0\n"
            );
            if i == 0 {
                text.push_str("current-context: ctx-a\n");
            }
            text.push_str("users:\n");
            let mut s = Vec::new();
            let mut u = Vec::new();
            for j in 0..shared_per_file {
                let name = format!("s-{folder}-{j}");
                let value = match j % 3 {
                    0 => OLD.to_string(),
                    1 => format!("\"{OLD}\""),
                    _ => format!("'{OLD}'"),
                };
                text.push_str(&format!(
                    "- name: {name} # shared entry {j}\n  user:\n    token: {value}\n"
                ));
                s.push(name);
                if j % 4 == 0 {
                    let name = format!("keep-{folder}-{j}");
                    let token = format!("CW-SECRET-unrelated-{folder}-{j:04}");
                    text.push_str(&format!(
                        "# unrelated user, must not change\n- name: {name}\n  user:\n    token: {token}\n"
                    ));
                    u.push((name, token));
                }
            }
            if shadow && i + 1 == n_files && i > 0 {
                text.push_str(&format!(
                    "- name: s-a-0 # shadowed by file a\n  user:\n    token: {OLD}\n"
                ));
                s.push("s-a-0".to_string());
            }
            files.push(sb.write(&format!("{folder}/config"), &text));
            originals.push(text);
            shared.push(s);
            unrelated.push(u);
        }
        Layout {
            sb,
            kubectl_home: tempfile::tempdir().expect("temp dir"),
            files,
            originals,
            shared,
            unrelated,
        }
    }

    fn env(&self) -> String {
        let parts: Vec<&str> = self.files.iter().map(|p| path_str(p)).collect();
        parts.join(":")
    }

    fn folders(&self) -> Vec<PathBuf> {
        self.files
            .iter()
            .map(|f| f.parent().expect("folder").to_path_buf())
            .collect()
    }

    /// What file `i` must hold once every shared entry holds `token`.
    fn expected(&self, i: usize, token: &str) -> String {
        self.originals[i].replace(OLD, token)
    }

    /// Put every file back to its original bytes and remove locks and temporary files.
    fn reset(&self) {
        for p in self.leftovers() {
            std::fs::remove_file(&p).expect("remove leftover");
        }
        for (f, text) in self.files.iter().zip(&self.originals) {
            std::fs::write(f, text).expect("reset fixture");
        }
    }

    /// `<file>.lock` and `.<name>.tmp-*` files in the kubeconfig folders, sorted.
    fn leftovers(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for dir in self.folders() {
            for e in std::fs::read_dir(&dir).expect("read folder") {
                let name = e.expect("entry").file_name().to_string_lossy().into_owned();
                if is_lock(&name) || is_temp(&name) {
                    found.push(dir.join(name));
                }
            }
        }
        found.sort();
        found
    }

    fn lock_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .leftovers()
            .into_iter()
            .filter(|p| is_lock(&p.file_name().unwrap().to_string_lossy()))
            .collect();
        v.sort();
        v
    }

    fn read_all(&self) -> Vec<Vec<u8>> {
        self.files
            .iter()
            .map(|f| std::fs::read(f).expect("read kubeconfig"))
            .collect()
    }

    /// `token rotate` with the given extra arguments, sealed HOME and this KUBECONFIG.
    fn rotate(&self, args: &[&str]) -> Command {
        let mut c = self.sb.cmd(Some(&self.env()));
        c.args(["token", "rotate", "--verify", "none"]).args(args);
        c
    }

    /// kubectl's view of file `i` alone: name -> token of every user. Fails the test when
    /// kubectl cannot read it.
    fn kubectl_users(&self, i: usize) -> BTreeMap<String, String> {
        kubectl_users(self.kubectl_home.path(), path_str(&self.files[i]))
    }

    /// Every file parses for kubectl, every entry that held `OLD` holds `token`, the
    /// unrelated users are unchanged, the bytes are the original ones with only the token
    /// replaced, and no lock or temporary file is left.
    fn assert_uniform(&self, token: &str, what: &str) {
        for (i, f) in self.files.iter().enumerate() {
            let users = self.kubectl_users(i);
            for u in &self.shared[i] {
                assert_eq!(
                    users.get(u).map(String::as_str),
                    Some(token),
                    "{what}: user {u} in {} (kubectl's view)",
                    f.display()
                );
            }
            for (u, t) in &self.unrelated[i] {
                assert_eq!(
                    users.get(u),
                    Some(t),
                    "{what}: unrelated user {u} in {} changed",
                    f.display()
                );
            }
            let now = std::fs::read_to_string(f).expect("read");
            assert!(
                now == self.expected(i, token),
                "{what}: {} is not its original with only the token replaced:\n{now}",
                f.display()
            );
        }
        assert_eq!(self.leftovers(), Vec::<PathBuf>::new(), "{what}: leftovers");
    }
}

fn is_lock(name: &str) -> bool {
    name.ends_with(".lock")
}

fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

fn kubectl(home: &Path, kubeconfig_env: &str, args: &[&str]) -> Output {
    Command::new("kubectl")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("KUBECONFIG", kubeconfig_env)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("kubectl must be installed (.ci/run installs it)")
}

fn kubectl_users(home: &Path, kubeconfig_env: &str) -> BTreeMap<String, String> {
    let (ok, v, err) = kubectl_view(home, kubeconfig_env);
    assert!(ok, "kubectl cannot read {kubeconfig_env}: {err}");
    v["users"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap_or_default().to_string(),
                u["user"]["token"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// A failed run as the README promises it: exit 1, one `error: ` line, no panic, no token.
fn assert_clean_failure(o: &Output, tokens: &[&str], what: &str) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: stderr {err:?}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: one line expected: {err:?}");
    assert!(err.starts_with("error: "), "{what}: {err:?}");
    for t in tokens {
        assert!(!err.contains(t), "{what}: token leaked: {err}");
    }
    err
}

/// Run a command to completion with `input` on stdin.
fn run_with_stdin(mut c: Command, input: &str) -> Output {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plugin");
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes());
    child.wait_with_output().expect("wait plugin")
}

/// splitmix64: small, seeded, good enough to spread kill times.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

fn seed() -> u64 {
    std::env::var("STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026_c0de_0001)
}

// ---------------------------------------------------------------------------------------
// 1. Parallel rotates serialise on the lock
// ---------------------------------------------------------------------------------------

const PARALLEL: usize = 10;

/// All rotates load the kubeconfig (and so take `OLD` as the old token) before any of them
/// goes on: each gets its token from a `--from-command` that waits for a `go` file. Then
/// exactly one can win; the others find the token changed under the lock.
#[test]
fn parallel_rotates_from_the_same_old_token_have_exactly_one_winner() {
    let l = Layout::new(3, 4, true);
    let barrier = l.sb.path("barrier");
    std::fs::create_dir(&barrier).expect("mkdir");
    let go = barrier.join("go");
    let mut children: Vec<(String, Child)> = Vec::new();
    for i in 0..PARALLEL {
        let token = format!("CW-SECRET-par-{i}-{:016x}", 0xfeed_0000_u64 + i as u64);
        let ready = barrier.join(format!("ready-{i}"));
        let script = format!(
            "touch '{}'; while [ ! -e '{}' ]; do sleep 0.01; done; echo {token}",
            ready.display(),
            go.display()
        );
        let child = l
            .rotate(&[
                "--from-command",
                &script,
                "--command-timeout",
                "40",
                "--lock-timeout",
                "20",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rotate");
        children.push((token, child));
    }
    // Every rotate has read the files and is now waiting in its command. No clock here:
    // a rotate that cannot reach the barrier ends by itself (its command times out after
    // 40 s, a lock wait after 20 s), and one that ends before the barrier fails the test.
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
    let all_tokens: Vec<&str> = outputs.iter().map(|(t, _)| t.as_str()).collect();
    let winners: Vec<&str> = outputs
        .iter()
        .filter(|(_, o)| o.status.success())
        .map(|(t, _)| t.as_str())
        .collect();
    for (t, o) in &outputs {
        if !o.status.success() {
            let err = assert_clean_failure(o, &all_tokens, &format!("loser {t}"));
            assert!(
                err.contains("changed on disk while rotating"),
                "loser {t} failed for another reason: {err}"
            );
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one rotate from the same old token may win; winners: {winners:?}; stderr: {:?}",
        outputs.iter().map(|(_, o)| stderr(o)).collect::<Vec<_>>()
    );
    let (_, won) = outputs
        .iter()
        .find(|(t, _)| t == winners[0])
        .expect("winner");
    let said = support::stdout(won);
    // 4 shared entries in each of 3 files, plus the shadowed copy of the active user.
    assert!(
        said.starts_with("Rotated the token of 13 user entries (3 files written):"),
        "{said}"
    );
    l.assert_uniform(winners[0], "after parallel rotates");
}

/// Rotates started at once without a barrier: a late one may start from the token an
/// earlier one wrote, so several may win, but the files must end uniform on a winner's
/// token, and every loser must fail cleanly.
#[test]
fn parallel_rotates_without_barrier_end_on_a_winners_token() {
    let l = Layout::new(3, 4, true);
    let mut children: Vec<(String, Child)> = Vec::new();
    for i in 0..PARALLEL {
        let token = format!("CW-SECRET-par-{i}-{:016x}", 0xabcd_0000_u64 + i as u64);
        let child = l
            .rotate(&["--from-stdin", "--lock-timeout", "20"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rotate");
        children.push((token, child));
    }
    // Hand out the tokens only once all are running, so they overlap as much as possible.
    for (t, c) in &mut children {
        let mut stdin = c.stdin.take().expect("stdin");
        let _ = stdin.write_all(format!("{t}\n").as_bytes());
    }
    let outputs: Vec<(String, Output)> = children
        .into_iter()
        .map(|(t, c)| (t, c.wait_with_output().expect("wait rotate")))
        .collect();
    let all_tokens: Vec<&str> = outputs.iter().map(|(t, _)| t.as_str()).collect();
    let winners: Vec<&str> = outputs
        .iter()
        .filter(|(_, o)| o.status.success())
        .map(|(t, _)| t.as_str())
        .collect();
    for (t, o) in &outputs {
        if !o.status.success() {
            let err = assert_clean_failure(o, &all_tokens, &format!("loser {t}"));
            assert!(
                err.contains("changed on disk while rotating"),
                "loser {t} failed for another reason: {err}"
            );
        }
    }
    assert!(!winners.is_empty(), "no rotate succeeded");
    // The final token is the token of one winner; which one depends on the lock order.
    let users = l.kubectl_users(0);
    let final_token = users.get("s-a-0").expect("active user").clone();
    assert!(
        winners.contains(&final_token.as_str()),
        "final token {final_token} was not written by a rotate that exited 0 ({winners:?})"
    );
    l.assert_uniform(&final_token, "after parallel rotates without barrier");
}

/// Rotates one after another, each with a new token from a different source: each wins.
#[test]
fn chained_rotates_each_succeed() {
    let l = Layout::new(3, 4, true);
    let token_file = l.sb.path("new-token");
    let mut current = OLD.to_string();
    for n in 0..6 {
        let token = format!("CW-SECRET-chain-{n}-{:016x}", 0x1234_5678_u64 * (n + 1));
        let o = match n % 3 {
            0 => run_with_stdin(
                l.rotate(&["--from-stdin", "--lock-timeout", "20"]),
                &format!("{token}\nignored second line\n"),
            ),
            1 => {
                std::fs::write(&token_file, format!("{token}\n")).expect("token file");
                l.rotate(&["--from-file", path_str(&token_file)])
                    .stdin(Stdio::null())
                    .output()
                    .expect("run rotate")
            }
            _ => l
                .rotate(&["--from-command", &format!("echo {token}")])
                .stdin(Stdio::null())
                .output()
                .expect("run rotate"),
        };
        assert!(
            o.status.success(),
            "rotate {n} ({current} -> {token}) failed: {}",
            stderr(&o)
        );
        l.assert_uniform(&token, &format!("after chained rotate {n}"));
        current = token;
    }
}

// ---------------------------------------------------------------------------------------
// 2. kubectl writers at the same time
// ---------------------------------------------------------------------------------------

/// Rotates loop on two threads while kubectl adds users one after another.
///
/// What may be asserted: kubectl locks every KUBECONFIG file with O_EXCL before writing and
/// does not wait, so a kubectl write that meets our lock fails ("file exists"); one that
/// succeeds must survive every later rotate, because rotate re-reads each file under its
/// lock and writes from those bytes.
///
/// What may not: the rotated token's final value. kubectl computes its whole new config
/// *before* it takes the locks, then writes every entry that differs from what is on disk
/// (client-go `ModifyConfig`); if a rotate lands between kubectl's read and its write,
/// kubectl writes the token it read earlier back over the rotated one. That is kubectl's
/// race, documented in the README; so here the shared entries only have to hold one of the
/// tokens ever written. For the same reason the kubectl writers run one at a time: two
/// concurrent `set-credentials` delete each other's new users (the second one's stale
/// config lacks the first one's user, and ModifyConfig removes users missing from it).
#[test]
fn kubectl_writers_during_rotates_keep_their_writes() {
    let l = Arc::new(Layout::new(3, 4, false));
    let stop = Arc::new(AtomicBool::new(false));
    let rotates: Arc<Mutex<Vec<(String, Output)>>> = Arc::default();
    let mut threads = Vec::new();
    for t in 0..2 {
        let (l, stop, rotates) = (l.clone(), stop.clone(), rotates.clone());
        threads.push(std::thread::spawn(move || {
            let mut n = 0;
            // At least a few rotates each, and keep going while kubectl writes.
            while n < 4 || !stop.load(Ordering::Relaxed) {
                let token = format!("CW-SECRET-rot-{t}-{n:04}-{:08x}", 0xbeef_u64 + n);
                let o = run_with_stdin(
                    l.rotate(&["--from-stdin", "--lock-timeout", "20"]),
                    &format!("{token}\n"),
                );
                rotates.lock().unwrap().push((token, o));
                n += 1;
                if n > 200 {
                    break;
                }
            }
        }));
    }

    let env = l.env();
    let mut kubectl_ok = Vec::new();
    let mut kubectl_locked = 0;
    for k in 0..24 {
        let o = kubectl(
            l.kubectl_home.path(),
            &env,
            &[
                "config",
                "set-credentials",
                &format!("other-{k}"),
                &format!("--token=CW-SECRET-kubectl-{k}"),
            ],
        );
        if o.status.success() {
            kubectl_ok.push(k);
        } else {
            let err = stderr(&o);
            // The only acceptable reason: one of our locks was there. Any other failure
            // (a file kubectl cannot parse) means a rotate left something broken.
            assert!(
                err.contains(".lock") && err.contains("exists"),
                "kubectl set-credentials other-{k} failed for a reason other than a lock: {err}"
            );
            kubectl_locked += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("rotate thread");
    }

    let rotates = Arc::try_unwrap(rotates).unwrap().into_inner().unwrap();
    let written: Vec<String> = rotates.iter().map(|(t, _)| t.clone()).collect();
    let tokens: Vec<&str> = written.iter().map(String::as_str).collect();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut succeeded = 0;
    for (t, o) in &rotates {
        if o.status.success() {
            succeeded += 1;
        } else {
            let err = assert_clean_failure(o, &tokens, &format!("rotate to {t}"));
            // Group by message shape, without paths, for the report.
            let key: String = err.chars().take(60).collect();
            *failures.entry(key).or_default() += 1;
        }
    }
    eprintln!(
        "kubectl writers: {} succeeded, {kubectl_locked} refused by a lock; rotates: {succeeded} of {} succeeded; failures: {failures:?}",
        kubectl_ok.len(),
        rotates.len()
    );
    assert!(succeeded > 0, "no rotate succeeded: {failures:?}");
    assert!(!kubectl_ok.is_empty(), "no kubectl write succeeded");

    // Every file parses for kubectl, alone and merged.
    let mut merged = BTreeMap::new();
    for i in (0..l.files.len()).rev() {
        merged.extend(l.kubectl_users(i));
        for (u, t) in &l.unrelated[i] {
            assert_eq!(merged.get(u), Some(t), "unrelated user {u} changed");
        }
        for u in &l.shared[i] {
            let got = merged.get(u).expect("shared user still there");
            assert!(
                got == OLD || written.contains(got),
                "user {u} holds a token nobody wrote: {got}"
            );
        }
    }
    assert_eq!(merged, kubectl_users(l.kubectl_home.path(), &env));
    for k in &kubectl_ok {
        assert_eq!(
            merged.get(&format!("other-{k}")).map(String::as_str),
            Some(format!("CW-SECRET-kubectl-{k}").as_str()),
            "kubectl's successful write of other-{k} was lost"
        );
    }
    // The plugin still reads the result.
    let o = l.sb.run(Some(&env), &["token", "show", "--raw"]);
    assert!(o.status.success(), "token show: {}", stderr(&o));
    assert_eq!(
        l.leftovers(),
        Vec::<PathBuf>::new(),
        "leftover locks or temps"
    );
}

// ---------------------------------------------------------------------------------------
// 3. SIGKILL at random moments
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct KillCounts {
    iterations: usize,
    /// The rotate finished (exit 0) before the kill arrived.
    completed: usize,
    /// Killed before it took any lock: files old, nothing on disk.
    killed_before_start: usize,
    /// Killed holding the lock(s), before any rename: files old, lock left.
    old_with_lock: usize,
    /// Killed after the rename(s): files new (lock left or not).
    new_killed: usize,
    /// Some files new, the later ones old (multi-file only).
    mixed: usize,
    /// Iterations that left a `.<name>.tmp-*` file (killed between create and rename).
    temp_left: usize,
    /// Checks that the next rotate fails on a leftover lock.
    lock_checks: usize,
    plugin_checks: usize,
    kubectl_checks: usize,
}

impl KillCounts {
    fn old_total(&self) -> usize {
        self.killed_before_start + self.old_with_lock
    }
    fn new_total(&self) -> usize {
        self.completed + self.new_killed
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileState {
    Old,
    New,
}

/// Same length and characters as the tokens of the kill loop.
fn calibration_token(n: usize) -> String {
    format!("CW-SECRET-kill-c{n:03}-{:016x}", 0xc0ffee_u64 + n as u64)
}

/// One full rotate's wall time, median of three, measured now (under whatever load the
/// other tests put on the machine).
fn calibrate(l: &Layout) -> Duration {
    let token_file = l.sb.path("new-token");
    let mut times = Vec::new();
    for n in 0..3 {
        l.reset();
        std::fs::write(&token_file, format!("{}\n", calibration_token(n))).expect("token file");
        let start = Instant::now();
        let o = l
            .rotate(&["--from-file", path_str(&token_file)])
            .stdin(Stdio::null())
            .output()
            .expect("run rotate");
        times.push(start.elapsed());
        assert!(o.status.success(), "calibration rotate: {}", stderr(&o));
    }
    times.sort();
    times[1]
}

/// Every file parses for kubectl and each of its shared entries holds `token`.
fn assert_kubectl_sees(l: &Layout, token: &str) {
    for i in 0..l.files.len() {
        let users = l.kubectl_users(i);
        for u in &l.shared[i] {
            assert_eq!(users.get(u).map(String::as_str), Some(token), "{u}");
        }
    }
}

/// Start a rotate, SIGKILL it after a pseudo-random delay in [0, window) (window: 1.2 × one
/// rotate's time at first, then following the load), and check what it left. Files are
/// reset every iteration. "Killed before start" means killed before it took any lock: no
/// trace of it on disk.
fn kill_loop(name: &str, l: &Layout, iterations: usize, seed: u64) -> KillCounts {
    use std::os::unix::process::ExitStatusExt;

    let full = calibrate(l);
    // Both shapes every iteration compares against parse for kubectl: the calibration left
    // the new content (same token shape as in the loop), then the original.
    assert_kubectl_sees(l, &calibration_token(2));
    l.reset();
    assert_kubectl_sees(l, OLD);
    // Kills land in [0, window): mostly before the write (that is where a rotate spends its
    // time), some during it, some after the process has finished. The machine's load can
    // change while the loop runs, so the window follows it: widened when a block of
    // iterations saw no finished rotate, narrowed when a quarter or more finished (those
    // are the most expensive iterations and teach the least).
    let mut window_us = (full.as_micros() as u64) * 6 / 5;
    let mut block_completed = 0;
    eprintln!("{name}: one rotate takes {full:?}; kills start in [0, {window_us} µs); seed {seed}");
    let mut rng = Rng(seed);
    let mut c = KillCounts::default();
    let token_file = l.sb.path("new-token");
    let env = l.env();
    let lock_paths: Vec<PathBuf> = l
        .files
        .iter()
        .map(|f| PathBuf::from(format!("{}.lock", f.display())))
        .collect();

    for iter in 0..iterations {
        l.reset();
        let new = format!("CW-SECRET-kill-{iter:04}-{:016x}", rng.next());
        std::fs::write(&token_file, format!("{new}\n")).expect("token file");
        if iter > 0 && iter % 20 == 0 {
            window_us = match block_completed {
                0 => window_us * 5 / 4,
                1..=4 => window_us,
                5..=8 => window_us * 9 / 10,
                _ => window_us * 3 / 4,
            };
            block_completed = 0;
        }
        let delay = Duration::from_micros(rng.below(window_us));
        let start = Instant::now();
        let mut child = l
            .rotate(&["--from-file", path_str(&token_file)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rotate");
        std::thread::sleep(delay.saturating_sub(start.elapsed()));
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait rotate");
        let ctx = format!("{name} iteration {iter} (seed {seed}, kill after {delay:?})");

        let completed = match (out.status.code(), out.status.signal()) {
            (Some(0), _) => true,
            (_, Some(9)) => false,
            _ => panic!("{ctx}: rotate failed on its own: {}", stderr(&out)),
        };

        // Each file whole: its original bytes or the original with only the token replaced.
        let states: Vec<FileState> = l
            .read_all()
            .iter()
            .enumerate()
            .map(|(i, now)| {
                if now == l.originals[i].as_bytes() {
                    FileState::Old
                } else if now == l.expected(i, &new).as_bytes() {
                    FileState::New
                } else {
                    panic!(
                        "{ctx}: {} is neither the old nor the new content ({} bytes, old {} bytes); \
                         a mix of tokens or a torn write:\n{}",
                        l.files[i].display(),
                        now.len(),
                        l.originals[i].len(),
                        String::from_utf8_lossy(&now[..now.len().min(3000)])
                    )
                }
            })
            .collect();
        // No journal across files: a kill between two renames leaves the files written so
        // far new and the rest old (each file whole). Files are written in KUBECONFIG order,
        // so the new ones are always a prefix; anything else is not a crash artefact.
        let n_new = states.iter().filter(|s| **s == FileState::New).count();
        assert!(
            states[..n_new].iter().all(|s| *s == FileState::New),
            "{ctx}: new files are not a prefix of the write order: {states:?}"
        );
        let locks = l.lock_files();
        let temps = l.leftovers().len() - locks.len();
        if completed {
            assert_eq!(n_new, states.len(), "{ctx}: exit 0 but files {states:?}");
            assert!(
                locks.is_empty() && temps == 0,
                "{ctx}: exit 0 left {:?}",
                l.leftovers()
            );
        }

        // The byte comparison above already proves each file parses: both candidate texts
        // were shown to kubectl before the loop, and every new token has the same shape.
        // Still, the plugin's parser reads every file (show loads them all) on every 4th
        // iteration, and the active user must hold the token of the first file's state.
        if iter % 4 == 0 {
            c.plugin_checks += 1;
            let o = l.sb.run(Some(&env), &["token", "show", "--raw"]);
            let want = if states[0] == FileState::New {
                &new
            } else {
                OLD
            };
            assert!(o.status.success(), "{ctx}: token show: {}", stderr(&o));
            assert_eq!(support::stdout(&o), format!("{want}\n"), "{ctx}");
        }
        // kubectl, the oracle, on a sample.
        if iter % 16 == 0 {
            c.kubectl_checks += 1;
            for (i, state) in states.iter().enumerate() {
                let want = if *state == FileState::New {
                    new.as_str()
                } else {
                    OLD
                };
                let users = l.kubectl_users(i);
                for u in &l.shared[i] {
                    assert_eq!(users.get(u).map(String::as_str), Some(want), "{ctx}: {u}");
                }
            }
        }

        // A lock left by the killed rotate blocks the next one, which says which file to
        // remove; then the user removes it.
        if !locks.is_empty() {
            c.lock_checks += 1;
            let before = l.read_all();
            let next = format!("CW-SECRET-next-{iter:04}");
            std::fs::write(&token_file, format!("{next}\n")).expect("token file");
            let o = l
                .rotate(&["--from-file", path_str(&token_file), "--lock-timeout", "0"])
                .stdin(Stdio::null())
                .output()
                .expect("run rotate");
            let err = assert_clean_failure(&o, &[OLD, &new, &next], &ctx);
            // Locks are taken in path order, so the first leftover is the one it meets.
            assert!(
                err.contains(&format!("is locked by {}", locks[0].display())),
                "{ctx}: files {states:?}, leftover locks {locks:?}, but: {err}"
            );
            assert!(locks.iter().all(|p| lock_paths.contains(p)), "{locks:?}");
            assert_eq!(l.read_all(), before, "{ctx}: a refused rotate wrote");
            for p in &locks {
                std::fs::remove_file(p).expect("remove stale lock");
            }
        }

        c.iterations += 1;
        c.temp_left += usize::from(temps > 0);
        if completed {
            block_completed += 1;
            c.completed += 1;
        } else if n_new == states.len() {
            c.new_killed += 1;
        } else if n_new > 0 {
            c.mixed += 1;
        } else if locks.is_empty() && temps == 0 {
            c.killed_before_start += 1;
        } else {
            c.old_with_lock += 1;
        }
    }
    l.reset();
    eprintln!("{name}: final window {window_us} µs; {c:?}");
    assert!(
        c.old_total() > 0 && c.new_total() > 0,
        "{name}: the kills never hit both sides of the write: {c:?}"
    );
    c
}

/// One file with 200 entries sharing the token, so the rotate takes a while.
#[test]
fn sigkill_single_file_leaves_old_or_new_never_a_mix() {
    let l = Layout::new(1, 200, false);
    kill_loop("single-file", &l, 80, seed());
}

/// Three files: each whole, old or new; across files a prefix may be new.
#[test]
fn sigkill_multi_file_leaves_each_file_whole() {
    let l = Layout::new(3, 10, true);
    kill_loop("multi-file", &l, 240, seed() ^ 0xffff);
}

// ---------------------------------------------------------------------------------------
// 4. Fault injection rollback (the hook exists in debug builds only)
// ---------------------------------------------------------------------------------------

/// Files named `config-a`, `config-b`, `config-c` (the hook matches file names), in one
/// folder, all holding the token.
fn three_named_files() -> Layout {
    let mut l = Layout::new(3, 3, false);
    let mut renamed = Vec::new();
    for (i, f) in l.files.iter().enumerate() {
        let folder = (b'a' + i as u8) as char;
        let p = l.sb.path(&format!("{folder}/config-{folder}"));
        std::fs::rename(f, &p).expect("rename fixture");
        renamed.push(p);
    }
    l.files = renamed;
    l
}

fn fault_run(l: &Layout, fault: &str) -> (String, Vec<Vec<u8>>) {
    l.reset();
    let token_file = l.sb.path("new-token");
    std::fs::write(&token_file, "CW-SECRET-fault-new-token\n").expect("token file");
    let o = l
        .rotate(&["--from-file", path_str(&token_file)])
        .env("KUBECTL_COREWEAVE_FAULT", fault)
        .stdin(Stdio::null())
        .output()
        .expect("run rotate");
    let err = assert_clean_failure(&o, &[OLD, "CW-SECRET-fault-new-token"], fault);
    assert!(err.contains("fault injected"), "{fault}: {err}");
    assert_eq!(
        l.leftovers(),
        Vec::<PathBuf>::new(),
        "{fault}: leftovers after a failed rotate"
    );
    (err, l.read_all())
}

#[test]
fn write_failure_on_the_last_file_rolls_back_the_others() {
    // The hook is compiled into debug builds only; in a release build this test cannot
    // inject anything, and it says so instead of passing without testing.
    if !cfg!(debug_assertions) {
        panic!(
            "KUBECTL_COREWEAVE_FAULT exists in debug builds only; run this test without --release"
        );
    }
    let l = three_named_files();
    let [a, b, c] = [0, 1, 2].map(|i| l.files[i].display().to_string());
    let originals: Vec<Vec<u8>> = l.originals.iter().map(|s| s.clone().into_bytes()).collect();

    // c fails after a and b were replaced: a and b are put back.
    let (err, now) = fault_run(&l, "write-fail:config-c");
    assert!(err.contains(&format!("cannot write {c}")), "{err}");
    assert!(err.contains(&format!("rolled back {a}, {b}")), "{err}");
    assert_eq!(now, originals, "write-fail:config-c: files changed");

    // The very first replace fails: nothing was written, and the message says so.
    let (err, now) = fault_run(&l, "rename-fail:1");
    assert!(err.contains(&format!("cannot write {a}")), "{err}");
    assert!(err.ends_with("no file was written\n"), "{err}");
    assert_eq!(now, originals, "rename-fail:1: files changed");

    // b fails, a is rolled back.
    let (err, now) = fault_run(&l, "rename-fail:2");
    assert!(err.contains(&format!("cannot write {b}")), "{err}");
    assert!(err.contains(&format!("rolled back {a}")), "{err}");
    assert_eq!(now, originals, "rename-fail:2: files changed");

    // b fails and so does a's rollback (calls: a, b, restore a): the message must say that
    // a holds the new token, and it must be true.
    let (err, now) = fault_run(&l, "rename-fail:2,rename-fail:3");
    assert!(err.contains(&format!("cannot write {b}")), "{err}");
    assert!(
        err.contains(&format!("{a} still holds the new content")),
        "{err}"
    );
    assert_eq!(
        now[0],
        l.expected(0, "CW-SECRET-fault-new-token").into_bytes()
    );
    assert_eq!(now[1..], originals[1..], "b and c must be untouched");
}

// ---------------------------------------------------------------------------------------
// 5. Stale lock
// ---------------------------------------------------------------------------------------

#[test]
fn stale_lock_is_reported_and_left_alone() {
    let l = Layout::new(1, 3, false);
    let lock = PathBuf::from(format!("{}.lock", l.files[0].display()));
    std::fs::write(&lock, "").expect("make a kubectl-style lock");
    let token_file = l.sb.path("new-token");
    std::fs::write(&token_file, "CW-SECRET-stale-new\n").expect("token file");

    let start = Instant::now();
    let o = l
        .rotate(&["--from-file", path_str(&token_file), "--lock-timeout", "1"])
        .stdin(Stdio::null())
        .output()
        .expect("run rotate");
    let took = start.elapsed();
    let err = assert_clean_failure(&o, &[OLD, "CW-SECRET-stale-new"], "stale lock");
    // It waited for the lock before giving up. A lower bound only: a loaded machine makes
    // the run longer, never shorter.
    assert!(
        took >= Duration::from_millis(900),
        "--lock-timeout 1 took {took:?}"
    );
    assert!(err.contains(&lock.display().to_string()), "{err}");
    assert_eq!(l.read_all()[0], l.originals[0].as_bytes());
    assert!(lock.exists(), "someone else's lock was removed");
    assert_eq!(std::fs::read(&lock).unwrap(), b"");
}

/// The stale lock is on the second file: the rotate takes the first file's lock, fails on
/// the second, and removes only its own lock.
#[test]
fn stale_lock_on_a_later_file_releases_ours_and_keeps_theirs() {
    let l = Layout::new(3, 3, false);
    let lock_b = PathBuf::from(format!("{}.lock", l.files[1].display()));
    std::fs::write(&lock_b, "someone else\n").expect("lock");
    let token_file = l.sb.path("new-token");
    std::fs::write(&token_file, "CW-SECRET-stale-new\n").expect("token file");

    let o = l
        .rotate(&["--from-file", path_str(&token_file), "--lock-timeout", "1"])
        .stdin(Stdio::null())
        .output()
        .expect("run rotate");
    let err = assert_clean_failure(&o, &[OLD, "CW-SECRET-stale-new"], "stale lock on b");
    assert!(err.contains(&lock_b.display().to_string()), "{err}");
    let originals: Vec<Vec<u8>> = l.originals.iter().map(|s| s.clone().into_bytes()).collect();
    assert_eq!(l.read_all(), originals);
    assert_eq!(l.leftovers(), vec![lock_b.clone()]);
    assert_eq!(std::fs::read(&lock_b).unwrap(), b"someone else\n");
}

/// Found while writing these tests. A rotate waits up to `--lock-timeout` (5 s by default)
/// for a later file's lock while holding the locks it already took; a user who gives up
/// and presses Ctrl-C, or a supervisor's SIGTERM, ends it there. Its own lock must not
/// outlive it: kubectl never waits for a lock, so a leftover `<file>.lock` makes every
/// kubectl write fail until someone removes it by hand. (SIGTERM is used because a test
/// harness started in the background may inherit SIGINT ignored; Ctrl-C behaves the same.)
#[test]
fn terminated_while_waiting_for_a_lock_leaves_none_of_its_own() {
    let l = Layout::new(2, 2, false);
    let lock_a = PathBuf::from(format!("{}.lock", l.files[0].display()));
    let lock_b = PathBuf::from(format!("{}.lock", l.files[1].display()));
    std::fs::write(&lock_b, "").expect("someone else's lock on b");
    let token_file = l.sb.path("new-token");
    std::fs::write(&token_file, "CW-SECRET-term-new\n").expect("token file");

    let mut child = l
        .rotate(&["--from-file", path_str(&token_file), "--lock-timeout", "20"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rotate");
    // It holds a's lock and is waiting for b's. No clock here: a rotate that never takes
    // a's lock ends by itself (its lock wait is 20 s), which fails the test.
    while !lock_a.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("rotate ended before taking a's lock: {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    let sent = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {}", child.id()))
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -TERM failed");
    let out = child.wait_with_output().expect("wait rotate");
    // It stopped because of the signal, not at the end of its 20 s lock wait (that would
    // say that b is locked).
    assert_eq!(out.status.code(), Some(1), "{:?}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "interrupted while waiting for {}; nothing was written",
            lock_b.display()
        )),
        "the rotate did not stop on SIGTERM: {:?}",
        stderr(&out)
    );

    let originals: Vec<Vec<u8>> = l.originals.iter().map(|s| s.clone().into_bytes()).collect();
    assert_eq!(l.read_all(), originals, "a stopped rotate wrote");
    assert!(lock_b.exists(), "someone else's lock was removed");
    assert!(
        !lock_a.exists(),
        "the rotate stopped by SIGTERM ({:?}, stderr {:?}) left its own lock {} behind; \
         kubectl now fails with \"open {}: file exists\" until it is removed by hand",
        out.status,
        stderr(&out),
        lock_a.display(),
        lock_a.display()
    );
}
