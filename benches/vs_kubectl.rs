//! Whole processes side by side, in one run on one machine: `kubectl-coreweave token show
//! --raw` against `kubectl config view --raw --minify -o jsonpath='{.users[0].user.token}'`
//! on the same files; how `token show` grows from 3 to 20,000 contexts; the process CPU
//! time and peak memory of `token rotate` on one token held by 2,000 entries over 3 files
//! (`--verify none`, and `--verify api` against a loopback whoami) against `kubectl config
//! set-credentials` changing one entry of the same files; `token show`'s peak memory; and
//! `token list` against `token show` on 2,000 contexts over 3 files (target: within 2x);
//! and `kubeconfig add --all` of 1,000 clusters from a loopback CKS list into the same set,
//! against `token rotate --verify none` on it (target: within 2x).
//!
//! Run: `cargo bench --bench vs_kubectl` (BENCHMARKS.md records the figures). Set
//! `BENCH_RUNS` to change the number of timed runs per command (default 30), and
//! `BENCH_ONLY=list` (or `rotate`, or `add`) to run only the `token list` (or `token
//! rotate`, or `kubeconfig add`) comparison. With `BENCH_ONLY=add`, `BENCH_KEEP=1` times
//! nothing: it writes the add row's files, prints both command lines and serves the CKS
//! stand-in until killed, for `valgrind --tool=callgrind` (BENCHMARKS.md).
// Benchmarks write their inputs directly; the plugin writes only through kubeconfig::write.
#![allow(clippy::disallowed_methods)]

mod gen;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The plugin's one executable: the one cargo built for this bench (bench profile:
/// opt-level 3, no LTO), or `BENCH_PLUGIN`, e.g. the shipped release build (`cargo build
/// --release`: fat LTO, opt-level "s"), which BENCHMARKS.md reports.
fn plugin() -> String {
    std::env::var("BENCH_PLUGIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_kubectl-coreweave").to_string())
}
const JSONPATH: &str = "jsonpath={.users[0].user.token}";

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let plugin = plugin();
    let plugin = plugin.as_str();
    println!("plugin: {plugin}");
    println!("kubectl: {}", kubectl_version());
    println!("runs per command: {runs} (median reported; commands alternate)\n");

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only == "rotate" {
        rotate_against_kubectl(plugin, dir.path(), &home, runs);
        return;
    }
    if only == "add" {
        add_against_rotate(plugin, dir.path(), &home, runs);
        return;
    }
    if only == "exec" {
        exec_users_against_kubectl(plugin, dir.path(), &home, runs);
        return;
    }
    list_against_show(plugin, dir.path(), &home, runs);
    if only == "list" {
        return;
    }
    exec_users_against_kubectl(plugin, dir.path(), &home, runs);

    let floor_bin = floor_program(dir.path());
    println!("## token show --raw against the kubectl one-liner");
    println!("(floor: a Rust program that only reads the same files and exits)");
    // The last row is the same set with an anchor at the top of each file: the line
    // scanner leaves such files to the node tree (`from_tree.rs`), so it measures the
    // reading every layout the scanner does not take gets.
    for (label, contexts, files, tree) in [
        ("small: 3 contexts, 1 file", 3, 1, false),
        ("2,000 contexts over 3 files", 2000, 3, false),
        ("the same, read by the tree", 2000, 3, true),
    ] {
        let d = dir.path().join(format!("show-{contexts}-{tree}"));
        std::fs::create_dir_all(&d).expect("dir");
        let paths = gen::kubeconfig_set(&d, contexts, files, false);
        if tree {
            for p in &paths {
                let text = std::fs::read_to_string(p).expect("read");
                std::fs::write(p, format!("x-anchor: &a 1\n{text}")).expect("write");
            }
        }
        let env = gen::join_paths(&paths);
        let ours = || run(plugin, &["token", "show", "--raw"], &env, &home);
        let kubectl = || {
            run(
                "kubectl",
                &["config", "view", "--raw", "--minify", "-o", JSONPATH],
                &env,
                &home,
            )
        };
        assert_eq!(
            output(plugin, &["token", "show", "--raw"], &env, &home),
            output(
                "kubectl",
                &["config", "view", "--raw", "--minify", "-o", JSONPATH],
                &env,
                &home
            ) + "\n",
            "the two disagree"
        );
        let floor = || run(&floor_bin, &[], &env, &home);
        let t = alternate(runs, &mut [&mut { ours }, &mut { kubectl }, &mut { floor }]);
        let (p, k, f) = (t[0], t[1], t[2]);
        println!(
            "{label:<30} plugin {:>8.2} ms   kubectl {:>8.2} ms   ratio {:>6.1}x   (floor {:.2} ms, {:.1}x)",
            ms(p),
            ms(k),
            k.as_secs_f64() / p.as_secs_f64(),
            ms(f),
            k.as_secs_f64() / f.as_secs_f64()
        );
    }

    println!("\n## token show --raw as the kubeconfig grows (3 files)");
    println!(
        "{:>8} {:>10} {:>12} {:>14}",
        "contexts", "MB", "median ms", "µs/context"
    );
    for contexts in [3, 200, 2000, 20000] {
        let d = dir.path().join(format!("scale-{contexts}"));
        std::fs::create_dir_all(&d).expect("dir");
        let paths = gen::kubeconfig_set(&d, contexts, 3, false);
        let bytes: u64 = paths
            .iter()
            .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .sum();
        let env = gen::join_paths(&paths);
        let n = if contexts >= 20000 {
            runs.min(10)
        } else {
            runs
        };
        let t = median(
            (0..n)
                .map(|_| run(plugin, &["token", "show", "--raw"], &env, &home))
                .collect(),
        );
        println!(
            "{contexts:>8} {:>10.2} {:>12.2} {:>14.3}",
            bytes as f64 / 1e6,
            ms(t),
            t.as_secs_f64() * 1e6 / contexts as f64
        );
    }

    rotate_against_kubectl(plugin, dir.path(), &home, runs);

    println!("\n## peak memory of token show --raw, 2,000 contexts over 3 files");
    let d = dir.path().join("show-2000");
    std::fs::create_dir_all(&d).expect("dir");
    let env = gen::join_paths(&gen::kubeconfig_set(&d, 2000, 3, false));
    let mut show = Measured::default();
    let mut kubectl = Measured::default();
    for _ in 0..runs.min(10) {
        show.push(run_measured(
            plugin,
            &["token", "show", "--raw"],
            &env,
            &home,
        ));
        kubectl.push(run_measured(
            "kubectl",
            &["config", "view", "--raw", "--minify", "-o", JSONPATH],
            &env,
            &home,
        ));
    }
    println!(
        "{:<46} {:>9} {:>9} {:>9} {:>9}",
        "", "CPU ms", "max", "wall ms", "peak MiB"
    );
    show.print("token show --raw");
    kubectl.print("kubectl config view --raw --minify");
}

/// `token rotate` (`--verify none` and `--verify api`) against `kubectl config
/// set-credentials`: CPU time and peak memory.
fn rotate_against_kubectl(plugin: &str, dir: &Path, home: &Path, runs: usize) {
    println!("\n## token rotate: one token held by 2,000 entries over 3 files");
    // The plugin and kubectl each edit their own copy of the same set, so that neither
    // reads the other's output; commands alternate, CPU time and peak RSS from wait4.
    let d = dir.join("rotate");
    let dk = dir.join("rotate-kubectl");
    std::fs::create_dir_all(&d).expect("dir");
    std::fs::create_dir_all(&dk).expect("dir");
    let paths = gen::kubeconfig_set(&d, 2000, 3, true);
    let bytes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let env = gen::join_paths(&paths);
    let env_kubectl = gen::join_paths(&gen::kubeconfig_set(&dk, 2000, 3, true));
    // Each rotate needs a token other than the one in place: three, in turn.
    let tokens: Vec<_> = ["aaaa", "bbbb", "cccc"]
        .iter()
        .map(|t| {
            let p = d.join(format!("token-{t}"));
            std::fs::write(&p, format!("CW-SECRET-bench-rotated-{t}\n")).expect("token");
            p
        })
        .collect();
    let api = format!("http://{}", whoami_server());
    let mut none = Measured::default();
    let mut verified = Measured::default();
    let mut kubectl = Measured::default();
    for i in 0..runs {
        let rotate = |from: &Path, verify: &[&str]| {
            let mut args = vec!["token", "rotate", "--from-file", path(from)];
            args.extend_from_slice(verify);
            run_measured(plugin, &args, &env, home)
        };
        none.push(rotate(&tokens[(2 * i) % 3], &["--verify", "none"]));
        verified.push(rotate(
            &tokens[(2 * i + 1) % 3],
            &["--verify", "api", "--api-endpoint", &api],
        ));
        let token = format!("--token=CW-SECRET-kubectl-{i:04}");
        let user = format!("user-{}", i % 2000);
        kubectl.push(run_measured(
            "kubectl",
            &["config", "set-credentials", &user, &token],
            &env_kubectl,
            home,
        ));
    }
    println!(
        "files: {:.2} MB; the plugin rewrites 2,000 token scalars in 3 files, kubectl one entry",
        bytes as f64 / 1e6
    );
    println!(
        "{:<46} {:>9} {:>9} {:>9} {:>9}",
        "", "CPU ms", "max", "wall ms", "peak MiB"
    );
    for (label, m) in [
        ("rotate --verify none", &none),
        ("rotate --verify api (loopback whoami)", &verified),
        ("kubectl config set-credentials (one entry)", &kubectl),
    ] {
        m.print(label);
    }
    let k = median(kubectl.cpu.clone()).as_secs_f64();
    println!(
        "CPU ratio: kubectl / rotate --verify none {:.1}x, kubectl / rotate --verify api {:.1}x",
        k / median(none.cpu.clone()).as_secs_f64(),
        k / median(verified.cpu.clone()).as_secs_f64()
    );
}

/// `kubeconfig add --all` of 1,000 clusters (one whoami, one list, one locked write per
/// file) into the 2,000-context set, against `token rotate --verify none` on the same set.
/// Each add starts from a fresh copy of the set (the copy is not timed); the API is a
/// loopback stand-in answering whoami and the list.
fn add_against_rotate(plugin: &str, dir: &Path, home: &Path, runs: usize) {
    println!("\n## kubeconfig add --all: 1,000 clusters into 2,000 contexts over 3 files");
    let d = dir.join("add-source");
    std::fs::create_dir_all(&d).expect("dir");
    let source = gen::kubeconfig_set(&d, 2000, 3, true);
    let items: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                r#"{{"id":"id-{i}","name":"c{i}","zone":"z","public":true,"status":"STATUS_RUNNING","apiServerEndpoint":"cwbench-{i:04}.k8s.us-east-04a.coreweave.com"}}"#
            )
        })
        .collect();
    let api = format!(
        "http://{}",
        api_server(format!(r#"{{"items":[{}]}}"#, items.join(",")))
    );
    let r = dir.join("add-rotate");
    std::fs::create_dir_all(&r).expect("dir");
    let rotated = gen::join_paths(&gen::kubeconfig_set(&r, 2000, 3, true));
    let tokens: Vec<_> = ["aaaa", "bbbb"]
        .iter()
        .map(|t| {
            let p = r.join(format!("token-{t}"));
            std::fs::write(&p, format!("CW-SECRET-bench-rotated-{t}\n")).expect("token");
            p
        })
        .collect();
    if std::env::var_os("BENCH_KEEP").is_some() {
        keep_add_files(plugin, dir, &source, &api, &rotated, &tokens[0]);
    }
    let (mut add, mut rotate) = (Measured::default(), Measured::default());
    for i in 0..=runs {
        let copy = dir.join(format!("add-{i}"));
        std::fs::create_dir_all(&copy).expect("dir");
        let paths: Vec<_> = source
            .iter()
            .map(|p| {
                let to = copy.join(p.file_name().expect("name"));
                std::fs::copy(p, &to).expect("copy");
                to
            })
            .collect();
        let env = gen::join_paths(&paths);
        let args = [
            "kubeconfig",
            "add",
            "--all",
            "--store",
            "inline",
            "--api-endpoint",
            &api,
        ];
        let a = run_measured(plugin, &args, &env, home);
        let added = std::fs::read_to_string(&paths[0]).expect("read");
        assert_eq!(
            added.matches("coreweave.com/cks-cluster").count(),
            1000,
            "add --all"
        );
        let from = &tokens[i % 2];
        let t = run_measured(
            plugin,
            &[
                "token",
                "rotate",
                "--from-file",
                path(from),
                "--verify",
                "none",
            ],
            &rotated,
            home,
        );
        // The first round warms the caches; it is not counted.
        if i > 0 {
            add.push(a);
            rotate.push(t);
        }
        let _ = std::fs::remove_dir_all(&copy);
    }
    println!(
        "{:<46} {:>9} {:>9} {:>9} {:>9}",
        "", "CPU ms", "max", "wall ms", "peak MiB"
    );
    add.print("kubeconfig add --all (1,000 clusters)");
    rotate.print("token rotate --verify none");
    println!(
        "wall ratio add / rotate {:.2}x (target: at most 2x)",
        median(add.wall.clone()).as_secs_f64() / median(rotate.wall.clone()).as_secs_f64()
    );
}

/// `BENCH_KEEP`: the add row's inputs kept on disk and its two command lines printed (each
/// run edits its files: copy the source set first), the API served until the process is
/// killed.
fn keep_add_files(
    plugin: &str,
    dir: &Path,
    source: &[std::path::PathBuf],
    api: &str,
    rotated: &str,
    token: &Path,
) -> ! {
    let kept = dir.to_path_buf();
    println!("files kept in {}", kept.display());
    println!(
        "add:    KUBECONFIG={} {plugin} kubeconfig add --all --store inline --api-endpoint {api}",
        gen::join_paths(source)
    );
    println!(
        "rotate: KUBECONFIG={rotated} {plugin} token rotate --from-file {} --verify none",
        path(token)
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

/// A loopback stand-in for the CoreWeave API: whoami answers one principal, every other
/// path `clusters` (the CKS list), one connection at a time.
fn api_server(clusters: String) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let whoami = r#"{"principal":{"uid":"u-bench","orgUid":"cwbench","groups":[]}}"#;
        let answer = |body: &str| {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        };
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body = if request.starts_with(b"GET /v1beta1/auth/whoami") {
                whoami
            } else {
                clusters.as_str()
            };
            let _ = stream.write_all(answer(body).as_bytes());
        }
    });
    addr
}

/// Wall time, CPU time and peak RSS of repeated runs of one command.
#[derive(Default)]
struct Measured {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    peak_kib: i64,
}

impl Measured {
    fn push(&mut self, (wall, cpu, rss): (Duration, Duration, i64)) {
        self.wall.push(wall);
        self.cpu.push(cpu);
        self.peak_kib = self.peak_kib.max(rss);
    }

    fn print(&self, label: &str) {
        println!(
            "{label:<46} {:>9.2} {:>9.2} {:>9.2} {:>9.1}",
            ms(median(self.cpu.clone())),
            ms(*self.cpu.iter().max().expect("runs")),
            ms(median(self.wall.clone())),
            self.peak_kib as f64 / 1024.0
        );
    }
}

/// A loopback stand-in for CoreWeave's whoami, answering every request with the same
/// principal (both tokens belong to it), one connection at a time, for `--verify api`.
fn whoami_server() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let body = r#"{"principal":{"uid":"u-bench","orgUid":"org-bench","groups":[]}}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    addr
}

/// `token list` (every token, every file) against `token show` (the active one, and the
/// contexts sharing it) on the same 2,000 contexts over 3 files: one token per user, and
/// one token held by every user.
fn list_against_show(plugin: &str, dir: &Path, home: &Path, runs: usize) {
    println!("## token list against token show: 2,000 contexts over 3 files");
    for (label, shared) in [("a token per user", false), ("one shared token", true)] {
        let d = dir.join(format!("list-{shared}"));
        std::fs::create_dir_all(&d).expect("dir");
        let env = gen::join_paths(&gen::kubeconfig_set(&d, 2000, 3, shared));
        let listed = output(plugin, &["token", "list", "-o", "json"], &env, home);
        let v: serde_json::Value = serde_json::from_str(&listed).expect("json");
        let rows = v["tokens"].as_array().map_or(0, Vec::len);
        assert_eq!(rows, if shared { 1 } else { 2000 }, "token list rows");
        let list = || run(plugin, &["token", "list"], &env, home);
        let show = || run(plugin, &["token", "show"], &env, home);
        let t = alternate(runs, &mut [&mut { list }, &mut { show }]);
        println!(
            "{label:<20} list {:>8.2} ms   show {:>8.2} ms   list/show {:>5.2}x",
            ms(t[0]),
            ms(t[1]),
            t[0].as_secs_f64() / t[1].as_secs_f64()
        );
    }
    println!();
}

/// `token list` and `kubeconfig import --dry-run` on one file of 2,000 exec users (EKS's
/// `aws eks get-token` entries, each with its cluster and context) against `kubectl config
/// view` of the same file: each file is read once per command, whatever the number of
/// exec users (issue 22: one parse per exec user made this quadratic).
fn exec_users_against_kubectl(plugin: &str, dir: &Path, home: &Path, runs: usize) {
    println!("## 2,000 exec users in one file: token list, import --dry-run, kubectl config view");
    let d = dir.join("exec-users");
    std::fs::create_dir_all(&d).expect("dir");
    let n = 2000;
    let mut s = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for i in 0..n {
        s.push_str(&format!(
            "- name: c{i}\n  cluster:\n    server: https://c{i}.gr7.us-west-2.eks.amazonaws.com\n"
        ));
    }
    s.push_str("contexts:\n");
    for i in 0..n {
        s.push_str(&format!(
            "- name: x{i}\n  context:\n    cluster: c{i}\n    user: u{i}\n"
        ));
    }
    s.push_str("current-context: x0\nusers:\n");
    for i in 0..n {
        s.push_str(&format!(
            "- name: u{i}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      args:\n      - --region\n      - us-west-2\n      - eks\n      - get-token\n      - --cluster-name\n      - c{i}\n      command: aws\n      env:\n      - name: AWS_PROFILE\n        value: p{i}\n      interactiveMode: IfAvailable\n      provideClusterInfo: false\n"
        ));
    }
    let config = d.join("config");
    std::fs::write(&config, s).expect("write");
    let download = d.join("download.yaml");
    std::fs::write(
        &download,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: new\n  cluster:\n    server: https://cw1-2.k8s.z.coreweave.com\ncontexts:\n- name: new\n  context: {cluster: new, user: token}\ncurrent-context: new\nusers:\n- name: token\n  user:\n    token: CW-SECRET-benchexecusers0123456789\n",
    )
    .expect("write");
    let env = path(&config).to_string();
    let dl = path(&download).to_string();
    let import = [
        "kubeconfig",
        "import",
        dl.as_str(),
        "--dry-run",
        "--verify",
        "none",
    ];
    let list = || run(plugin, &["token", "list"], &env, home);
    let import = || run(plugin, &import, &env, home);
    let view = || run("kubectl", &["config", "view"], &env, home);
    let t = alternate(runs, &mut [&mut { list }, &mut { import }, &mut { view }]);
    println!(
        "token list {:>8.2} ms   import --dry-run {:>8.2} ms   kubectl config view {:>8.2} ms   (kubectl/list {:.1}x, kubectl/import {:.1}x)\n",
        ms(t[0]),
        ms(t[1]),
        ms(t[2]),
        t[2].as_secs_f64() / t[0].as_secs_f64(),
        t[2].as_secs_f64() / t[1].as_secs_f64()
    );
}

fn kubectl_version() -> String {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_else(|_| "missing: install it (apt-get install kubernetes-client)".into())
}

fn command(bin: &str, args: &[&str], env: &str, home: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("KUBECONFIG", env)
        .stdin(Stdio::null());
    c
}

fn output(bin: &str, args: &[&str], env: &str, home: &Path) -> String {
    let o = command(bin, args, env, home).output().expect("run");
    assert!(
        o.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn run(bin: &str, args: &[&str], env: &str, home: &Path) -> Duration {
    let start = Instant::now();
    let s = command(bin, args, env, home)
        .stdout(Stdio::null())
        .status()
        .expect("run");
    let t = start.elapsed();
    assert!(s.success(), "{bin} {args:?} failed");
    t
}

/// Wall time, the child's CPU time (user+sys) and its peak RSS in KiB, from wait4's rusage.
// The child is reaped by wait4 itself, which std's `wait` cannot do with rusage.
#[allow(clippy::zombie_processes)]
fn run_measured(bin: &str, args: &[&str], env: &str, home: &Path) -> (Duration, Duration, i64) {
    let start = Instant::now();
    let child = command(bin, args, env, home)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child with valid pointers to locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{bin} {args:?} failed"
    );
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (
        wall,
        tv(usage.ru_utime) + tv(usage.ru_stime),
        usage.ru_maxrss,
    )
}

/// The median time of each command, run in turn so that a busy moment of the machine
/// falls on all of them.
fn alternate(runs: usize, commands: &mut [&mut dyn FnMut() -> Duration]) -> Vec<Duration> {
    for c in commands.iter_mut() {
        c();
    }
    let mut times = vec![Vec::new(); commands.len()];
    for _ in 0..runs {
        for (c, t) in commands.iter_mut().zip(&mut times) {
            t.push(c());
        }
    }
    times.into_iter().map(median).collect()
}

/// The floor under any `token show --raw`: a Rust program that only reads the kubeconfig
/// files and exits, compiled here (rustc -O, as small as it gets).
fn floor_program(dir: &Path) -> String {
    let src = dir.join("floor.rs");
    let bin = dir.join("floor");
    std::fs::write(
        &src,
        r#"fn main() {
    let list = std::env::var_os("KUBECONFIG").unwrap_or_default();
    let bytes: usize = std::env::split_paths(&list)
        .map(|p| std::fs::read(p).map(|b| b.len()).unwrap_or(0))
        .sum();
    println!("{bytes}");
}
"#,
    )
    .expect("floor.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let s = Command::new(rustc)
        .args([
            "-C",
            "opt-level=3",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
            "-o",
        ])
        .arg(&bin)
        .arg(&src)
        .status()
        .expect("rustc");
    assert!(s.success(), "cannot compile the floor program");
    path(&bin).to_string()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
