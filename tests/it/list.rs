//! `token list`, run as a user runs it: generated multi-file kubeconfig sets checked against
//! the real kubectl (its merged view for the winning entries, and each file read alone for
//! a brute-force walk of every entry), and `--check` against the fake CoreWeave API.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::fake_coreweave::FakeCoreweave;
use support::{kubectl_view, path_str, stderr, stdout, Sandbox};

/// splitmix64: a seeded generator, so a failing case is replayed from its number.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
}

/// The CoreWeave tokens the generator hands out: distinct last 4 characters, so their masks
/// differ, and a `LISTCANARY` in the secret part that no output may carry.
fn pool_token(i: usize) -> String {
    format!(
        "CW-SECRET-LISTCANARY-{i:02}-secretpart-{:04}",
        1000 + i * 37
    )
}
const POOL: usize = 6;
const USERS: [&str; 5] = ["alice", "bob", "svc-deploy", "admin:cw", "ops"];
const CONTEXTS: [&str; 6] = ["dev", "prod", "staging", "lab", "edge", "ci"];

/// What a user entry holds in a generated file.
enum Cred {
    Inline(String),
    File { rel: String, inline: Option<String> },
    Exec,
    None,
}

/// One generated set: files `d<f>/config`, token files `d<f>/tok/<name>` (relative to
/// their kubeconfig), users and contexts drawn from small pools so names repeat across
/// files (shadowing) and tokens repeat across users (sharing).
fn generate(sb: &Sandbox, seed: u64) -> Vec<PathBuf> {
    let mut rng = Rng(seed);
    let files = 1 + rng.below(3);
    let mut paths = Vec::new();
    for f in 0..files {
        let mut s = String::from("apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n    server: https://k.example\ncontexts:\n");
        let mut names: Vec<&str> = CONTEXTS.to_vec();
        for _ in 0..rng.below(5) {
            let c = names.remove(rng.below(names.len()));
            let user = if rng.percent(10) {
                "ghost".to_string()
            } else {
                USERS[rng.below(USERS.len())].to_string()
            };
            s += &format!("- name: {c}\n  context:\n    cluster: k\n    user: {user}\n");
        }
        if rng.percent(60) {
            s += &format!("current-context: {}\n", CONTEXTS[rng.below(CONTEXTS.len())]);
        }
        s += "users:\n";
        let mut users: Vec<&str> = USERS.to_vec();
        for _ in 0..1 + rng.below(4) {
            let u = users.remove(rng.below(users.len()));
            let token = |rng: &mut Rng| {
                if rng.percent(15) {
                    "eyJhbGciOiJSUzI1NiJ9.not-coreweave".to_string()
                } else {
                    pool_token(rng.below(POOL))
                }
            };
            let cred = match rng.below(10) {
                0..=4 => Cred::Inline(token(&mut rng)),
                5..=7 => {
                    let rel = format!("tok/{}", rng.below(3));
                    let inline = rng.percent(30).then(|| token(&mut rng));
                    // Some token files are missing: the inline token (if any) counts then.
                    if rng.percent(80) {
                        sb.write(&format!("d{f}/{rel}"), format!("{}\n", token(&mut rng)));
                    }
                    Cred::File { rel, inline }
                }
                8 => Cred::Exec,
                _ => Cred::None,
            };
            s += &format!("- name: {u}\n  user:\n");
            match cred {
                Cred::Inline(t) => s += &format!("    token: {t}\n"),
                Cred::File { rel, inline } => {
                    s += &format!("    tokenFile: {rel}\n");
                    if let Some(t) = inline {
                        s += &format!("    token: {t}\n");
                    }
                }
                Cred::Exec => {
                    s += "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: cw-login\n      interactiveMode: Never\n"
                }
                Cred::None => s += "    username: someone\n",
            }
        }
        paths.push(sb.write(&format!("d{f}/config"), s));
    }
    paths
}

fn kubeconfig_env(paths: &[PathBuf]) -> String {
    std::env::join_paths(paths)
        .expect("paths")
        .into_string()
        .expect("utf-8")
}

/// A user entry's token as client-go reads it: the tokenFile's trimmed content when it
/// is readable and not blank (relative to the kubeconfig's folder), else the inline token.
fn token_of(user: &Value, kubeconfig: &Path) -> Option<String> {
    let u = &user["user"];
    if let Some(tf) = u["tokenFile"].as_str().filter(|t| !t.is_empty()) {
        let path = kubeconfig.parent().expect("folder").join(tf);
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.trim().is_empty() {
                return Some(text.trim().to_string());
            }
        }
    }
    u["token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn masked(token: &str) -> String {
    kubectl_coreweave::secret::Token::new(token).masked()
}

/// A token's row as compared: holders (user, file, shadowed) and contexts (name, current).
type Row = (BTreeSet<(String, String, bool)>, BTreeSet<(String, bool)>);

/// The expected rows, from kubectl alone: each file read by itself for every entry, the
/// merged view for which entry wins, the contexts and the current context.
fn expected(sb: &Sandbox, paths: &[PathBuf]) -> (BTreeMap<String, Row>, usize) {
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    let mut other = 0;
    // name → (file, entry) of the first file defining it: client-go's winner.
    let mut winners: BTreeMap<String, (PathBuf, Value)> = BTreeMap::new();
    for p in paths {
        let (ok, view, err) = kubectl_view(sb.dir.path(), path_str(p));
        assert!(ok, "kubectl reads {}: {err}", p.display());
        for u in view["users"].as_array().cloned().unwrap_or_default() {
            let name = u["name"].as_str().expect("name").to_string();
            let shadowed = winners.contains_key(&name);
            if !shadowed {
                winners.insert(name.clone(), (p.clone(), u.clone()));
            }
            match token_of(&u, p).filter(|t| t.starts_with("CW-SECRET-")) {
                Some(t) => {
                    rows.entry(masked(&t)).or_default().0.insert((
                        name,
                        path_str(p).to_string(),
                        shadowed,
                    ));
                }
                None => other += 1,
            }
        }
    }
    let (ok, merged, err) = kubectl_view(sb.dir.path(), &kubeconfig_env(paths));
    assert!(ok, "kubectl merges: {err}");
    let current = merged["current-context"].as_str().unwrap_or("");
    let merged_users = merged["users"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        merged_users.len(),
        winners.len(),
        "kubectl's merge keeps one entry per user name"
    );
    for u in &merged_users {
        let name = u["name"].as_str().expect("name");
        assert_eq!(
            &winners[name].1, u,
            "kubectl's winner for {name} is the first file's"
        );
    }
    for c in merged["contexts"].as_array().cloned().unwrap_or_default() {
        let name = c["name"].as_str().expect("name");
        let Some((file, entry)) = c["context"]["user"].as_str().and_then(|u| winners.get(u)) else {
            continue;
        };
        let Some(t) = token_of(entry, file).filter(|t| t.starts_with("CW-SECRET-")) else {
            continue;
        };
        rows.entry(masked(&t))
            .or_default()
            .1
            .insert((name.to_string(), name == current));
    }
    (rows, other)
}

fn actual(listing: &Value) -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for t in listing["tokens"].as_array().expect("tokens") {
        let holders = t["holders"]
            .as_array()
            .expect("holders")
            .iter()
            .map(|h| {
                (
                    h["user"].as_str().expect("user").to_string(),
                    h["file"].as_str().expect("file").to_string(),
                    h["shadowed"].as_bool().expect("shadowed"),
                )
            })
            .collect();
        let contexts = t["contexts"]
            .as_array()
            .expect("contexts")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().expect("name").to_string(),
                    c["current"].as_bool().expect("current"),
                )
            })
            .collect();
        let token = t["token"].as_str().expect("token").to_string();
        assert!(
            rows.insert(token.clone(), (holders, contexts)).is_none(),
            "one row per token: {token} twice"
        );
    }
    rows
}

fn assert_no_token(what: &str, o: &Output) {
    for (name, text) in [("stdout", stdout(o)), ("stderr", stderr(o))] {
        assert!(
            !text.contains("LISTCANARY") && !text.contains("secretpart"),
            "{what}: a token in {name}: {text}"
        );
    }
}

#[test]
fn generated_sets_agree_with_kubectl_merged_view_and_every_file() {
    let mut shadowed_seen = 0;
    let mut shared_seen = 0;
    for case in 0..24u64 {
        let sb = Sandbox::new();
        let paths = generate(&sb, 0x5EED_0000 + case);
        let env = kubeconfig_env(&paths);
        let o = sb.run(Some(&env), &["token", "list", "-o", "json"]);
        assert_eq!(o.status.code(), Some(0), "case {case}: {}", stderr(&o));
        assert_no_token(&format!("case {case} json"), &o);
        let listing: Value = serde_json::from_slice(&o.stdout).expect("json");
        let (want, other) = expected(&sb, &paths);
        let got = actual(&listing);
        assert_eq!(got, want, "case {case}: rows\n{}", stdout(&o));
        assert_eq!(listing["otherUsers"], other, "case {case}");
        assert_eq!(listing["schemaVersion"], 1);
        let files: Vec<&str> = paths.iter().map(|p| path_str(p)).collect();
        assert_eq!(listing["files"], serde_json::json!(files), "case {case}");
        shadowed_seen += got.values().flat_map(|r| &r.0).filter(|h| h.2).count();
        shared_seen += got.values().filter(|r| r.0.len() > 1).count();

        for args in [&["token", "list"][..], &["token", "list", "-o", "yaml"]] {
            let o = sb.run(Some(&env), args);
            assert_eq!(o.status.code(), Some(0), "case {case} {args:?}");
            assert_no_token(&format!("case {case} {args:?}"), &o);
        }
        let table = stdout(&sb.run(Some(&env), &["token", "list"]));
        for line in table.lines() {
            assert!(line.chars().count() <= 80, "case {case}: {line:?}");
        }
        for token in want.keys() {
            assert!(
                table.contains(token.as_str()),
                "case {case}: {token}\n{table}"
            );
        }
    }
    // The generator must reach the cases the issue names, or the comparison proves little.
    assert!(shadowed_seen > 5, "shadowed holders: {shadowed_seen}");
    assert!(shared_seen > 5, "shared tokens: {shared_seen}");
}

const A: &str = "CW-SECRET-LISTCANARY-alpha-secretpart-aaa1";
const B: &str = "CW-SECRET-LISTCANARY-bravo-secretpart-bbb2";
const C: &str = "CW-SECRET-LISTCANARY-charlie-secretpart-ccc3";

/// Two files: A inline in both (shadowed in the second) and in a token file shared by two
/// users; B held by a shadowed entry only; C by a user no context names; one foreign token.
fn two_files(sb: &Sandbox) -> String {
    sb.write("secrets/a", format!("{A}\n"));
    let first = sb.write(
        "first",
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: k\n  cluster: {{server: https://k}}\ncontexts:\n- name: prod\n  context: {{cluster: k, user: alice}}\n- name: batch\n  context: {{cluster: k, user: robot}}\n- name: other\n  context: {{cluster: k, user: foreign}}\nusers:\n- name: alice\n  user: {{token: {A}}}\n- name: robot\n  user: {{tokenFile: secrets/a}}\n- name: foreign\n  user: {{token: not-a-coreweave-token}}\n"
        ),
    );
    let second = sb.write(
        "second",
        format!(
            "contexts:\n- name: lab\n  context: {{cluster: k, user: carol}}\nusers:\n- name: alice\n  user: {{token: {B}}}\n- name: carol\n  user: {{token: {A}}}\n- name: dave\n  user: {{token: {C}}}\n"
        ),
    );
    kubeconfig_env(&[first, second])
}

#[test]
fn table_shows_storage_holders_contexts_and_the_files() {
    let sb = Sandbox::new();
    let env = two_files(&sb);
    let o = sb.run(Some(&env), &["token", "list"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_no_token("table", &o);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["TOKEN", "STORED", "USERS", "CONTEXTS", "EXPIRES"],
        "{out}"
    );
    // Columns line up: every row's cells start where the header's do (in characters: the
    // mask's `…` is one column, three bytes).
    let col = |h: &str| lines[0].find(h).expect("header");
    let cell = |row: usize, h: &str| -> String {
        let rest: String = lines[row].chars().skip(col(h)).collect();
        rest.split("  ").next().unwrap_or("").to_string()
    };
    let row_a = lines
        .iter()
        .position(|l| l.starts_with("CW-SECRET-…aaa1"))
        .expect("row A");
    assert_eq!(cell(row_a, "STORED"), "token", "{out}");
    assert_eq!(cell(row_a, "CONTEXTS"), "*prod", "{out}");
    assert_eq!(cell(row_a + 1, "STORED"), "tokenFile", "{out}");
    assert_eq!(
        cell(row_a + 2, "STORED"),
        path_str(&sb.path("secrets/a")),
        "{out}"
    );
    let holders: Vec<String> = (row_a..row_a + 3).map(|r| cell(r, "USERS")).collect();
    assert_eq!(holders, ["alice [1]", "robot [1]", "carol [2]"], "{out}");
    let contexts: Vec<String> = (row_a..row_a + 3).map(|r| cell(r, "CONTEXTS")).collect();
    assert_eq!(contexts, ["*prod", "batch", "lab"], "{out}");
    let row_b = lines
        .iter()
        .position(|l| l.starts_with("CW-SECRET-…bbb2"))
        .expect("row B");
    assert!(lines[row_b].contains("alice [2]~"), "{out}");
    assert!(
        out.contains("1 other user entry without a CoreWeave token"),
        "{out}"
    );
    assert!(out.contains("~ shadowed"), "{out}");
    let first = sb.path("first");
    assert!(
        out.contains(&format!("  [1] {}\n", first.display())),
        "{out}"
    );
}

#[test]
fn json_schema_of_a_shared_token() {
    let sb = Sandbox::new();
    let env = two_files(&sb);
    let o = sb.run(
        Some(&env),
        &["token", "list", "-o", "json", "--context", "lab"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["currentContext"], "lab", "--context moves the marker");
    let a = &v["tokens"][0];
    assert_eq!(a["token"], "CW-SECRET-…aaa1");
    let secrets = sb.path("secrets/a");
    assert_eq!(
        a["holders"][1],
        serde_json::json!({"user": "robot", "file": path_str(&sb.path("first")), "shadowed": false,
            "storage": {"kind": "tokenFile", "path": path_str(&secrets)}})
    );
    let contexts: Vec<(&str, bool)> = a["contexts"]
        .as_array()
        .expect("contexts")
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["current"].as_bool().unwrap()))
        .collect();
    assert_eq!(contexts, [("batch", false), ("lab", true), ("prod", false)]);
    assert_eq!(a["expiryWarning"], false);
    assert!(
        a.get("check").is_none() && a.get("expires").is_none(),
        "{a}"
    );
    let c = &v["tokens"][2];
    assert_eq!(c["token"], "CW-SECRET-…ccc3");
    assert_eq!(c["contexts"], serde_json::json!([]));
}

#[test]
fn an_unknown_context_is_an_error() {
    let sb = Sandbox::new();
    let env = two_files(&sb);
    let o = sb.run(Some(&env), &["token", "list", "--context", "nope"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).starts_with("error: context \"nope\" is not defined in "),
        "{}",
        stderr(&o)
    );
}

#[test]
fn raw_is_not_offered() {
    let sb = Sandbox::new();
    let env = two_files(&sb);
    let o = sb.run(Some(&env), &["token", "list", "--raw"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_no_token("--raw", &o);
}

/// A kubeconfig where user `u<i>` holds `tokens[i]` and, for sharing, `v<i>` does too.
fn config_with(sb: &Sandbox, tokens: &[String], extra: &str) -> String {
    let mut s = String::from("clusters:\n- name: k\n  cluster: {server: https://k}\ncontexts:\n");
    for i in 0..tokens.len() {
        s += &format!("- name: c{i}\n  context: {{cluster: k, user: u{i}}}\n");
    }
    s += "current-context: c0\nusers:\n";
    for (i, t) in tokens.iter().enumerate() {
        s += &format!(
            "- name: u{i}\n  user: {{token: {t}}}\n- name: v{i}\n  user: {{token: {t}}}\n"
        );
    }
    s += extra;
    path_str(&sb.write("config", s)).to_string()
}

fn tokens(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("CW-SECRET-LISTCANARY-check-{i}-secretpart-{:04}", 7000 + i))
        .collect()
}

fn check(sb: &Sandbox, env: &str, api: &str, args: &[&str]) -> Output {
    sb.cmd(Some(env))
        .env("COREWEAVE_API_ENDPOINT", api)
        .args(["token", "list", "--check"])
        .args(args)
        .output()
        .expect("run plugin")
}

fn statuses(o: &Output) -> Vec<String> {
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    v["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| t["check"]["status"].as_str().expect("status").to_string())
        .collect()
}

#[test]
fn check_asks_once_per_distinct_token_and_exits_1_on_a_rejection() {
    let sb = Sandbox::new();
    let t = tokens(5);
    let env = config_with(&sb, &t, "");
    let fake = FakeCoreweave::start();
    fake.accept_token(&t[0], "u-0", "o-1")
        .accept_token(&t[1], "u-1", "o-1")
        .accept_token(&t[3], "u-3", "o-2")
        .slow_token(&t[3], Duration::from_millis(800))
        .slow_token(&t[4], Duration::from_millis(500));
    let o = check(&sb, &env, &fake.url(), &["-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_no_token("check", &o);
    assert_eq!(
        statuses(&o),
        ["accepted", "accepted", "rejected", "accepted", "rejected"]
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        v["tokens"][3]["check"],
        serde_json::json!({"status": "accepted", "principal": "u-3", "org": "o-2"})
    );
    assert!(v["tokens"][2]["check"]["error"]
        .as_str()
        .expect("error")
        .contains("token rejected"));
    let err = stderr(&o);
    assert!(
        err.ends_with("error: 2 of 5 tokens rejected by the CoreWeave API\n"),
        "{err}"
    );
    // Ten user entries, five distinct tokens: five requests, one per token.
    let asked: BTreeSet<String> = fake
        .settled()
        .iter()
        .map(|r| r.authorization().expect("bearer").to_string())
        .collect();
    assert_eq!(fake.requests().len(), 5);
    let want: BTreeSet<String> = t.iter().map(|t| format!("Bearer {t}")).collect();
    assert_eq!(asked, want);

    let o = check(&sb, &env, &fake.url(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_no_token("check table", &o);
    let out = stdout(&o);
    assert!(out.lines().next().unwrap_or("").ends_with("CHECK"), "{out}");
    assert!(out.contains("  principal u-3, org o-2\n"), "{out}");
    assert_eq!(out.matches("REJECTED").count(), 2, "{out}");
    for l in out.lines() {
        assert!(l.chars().count() <= 80, "{l:?}");
    }
}

#[test]
fn check_exits_0_when_every_token_is_accepted() {
    let sb = Sandbox::new();
    let t = tokens(3);
    let env = config_with(
        &sb,
        &t,
        "- name: ext\n  user: {exec: {command: x, apiVersion: client.authentication.k8s.io/v1}}\n",
    );
    let fake = FakeCoreweave::start();
    for (i, tok) in t.iter().enumerate() {
        fake.accept_token(tok, &format!("u-{i}"), "o");
    }
    let o = check(&sb, &env, &fake.url(), &["-o", "yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_no_token("all accepted", &o);
    assert_eq!(stdout(&o).matches("status: accepted").count(), 3);
    assert_eq!(
        fake.requests().len(),
        3,
        "the exec user is not sent anywhere"
    );
}

#[test]
fn check_exits_1_for_a_recorded_expiry_that_has_passed() {
    let sb = Sandbox::new();
    let t = tokens(2);
    let mut s = String::from(
        "contexts:\n- name: c\n  context: {cluster: k, user: old}\ncurrent-context: c\nusers:\n",
    );
    s += &format!("- name: old\n  user:\n    token: {}\n    extensions:\n    - name: coreweave.com/token\n      extension: {{expires: \"2020-01-01T00:00:00Z\"}}\n", t[0]);
    s += &format!("- name: new\n  user:\n    token: {}\n    extensions:\n    - name: coreweave.com/token\n      extension: {{expires: \"2999-01-01T00:00:00Z\"}}\n", t[1]);
    let env = path_str(&sb.write("config", s)).to_string();
    let fake = FakeCoreweave::start();
    fake.accept_token(&t[0], "u", "o")
        .accept_token(&t[1], "u", "o");
    let o = check(&sb, &env, &fake.url(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_no_token("expired", &o);
    let out = stdout(&o);
    assert!(out.contains("EXPIRED"), "{out}");
    assert!(out.contains("2999-01-01"), "{out}");
    let err = stderr(&o);
    assert!(
        err.contains("warning: CW-SECRET-…7000: token expired"),
        "{err}"
    );
    assert!(
        err.ends_with("error: 1 of 2 tokens past their recorded expiry\n"),
        "{err}"
    );
    // Without --check the listing is information only: exit 0, the warning on stderr.
    let o = sb.run(Some(&env), &["token", "list"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("token expired"));
}

/// A loopback port nothing listens on.
fn dead_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_dead_api_exits_3_with_the_listing_printed() {
    let sb = Sandbox::new();
    let t = tokens(2);
    let env = config_with(&sb, &t, "");
    let o = check(&sb, &env, &dead_endpoint(), &["-o", "json"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_no_token("dead", &o);
    assert_eq!(statuses(&o), ["unreachable", "unreachable"]);
    let err = stderr(&o);
    assert!(
        err.ends_with("error: no answer from the CoreWeave API for 2 of 2 tokens\n"),
        "{err}"
    );
}

#[test]
fn a_rejection_outranks_a_missing_answer() {
    let sb = Sandbox::new();
    let t = tokens(3);
    let env = config_with(&sb, &t, "");
    let fake = FakeCoreweave::start();
    fake.accept_token(&t[0], "u", "o")
        .slow_token(&t[2], Duration::from_secs(30));
    let o = check(
        &sb,
        &env,
        &fake.url(),
        &["-o", "json", "--request-timeout", "300ms"],
    );
    assert_eq!(
        statuses(&o),
        ["accepted", "rejected", "unreachable"],
        "{}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(1));
    assert_no_token("mixed", &o);

    // Without the rejection, the missing answer decides: 3.
    let env = config_with(&sb, &[t[0].clone(), t[2].clone()], "");
    let o = check(&sb, &env, &fake.url(), &["--request-timeout", "300ms"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stdout(&o).contains("unreachable"));
}

#[test]
fn checks_run_a_few_at_a_time() {
    let sb = Sandbox::new();
    let t = tokens(8);
    let env = config_with(&sb, &t, "");
    let fake = FakeCoreweave::start();
    let hold = Duration::from_millis(1500);
    for (i, tok) in t.iter().enumerate() {
        fake.accept_token(tok, &format!("u-{i}"), "o")
            .slow_token(tok, hold);
    }
    let o = check(&sb, &env, &fake.url(), &["-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let reqs = fake.settled();
    assert_eq!(reqs.len(), 8);
    // A request is answered no sooner than `hold` after it arrived, so the requests that
    // arrived less than `hold` before another were all still open when it arrived.
    let open_at = |i: usize| {
        reqs.iter()
            .filter(|r| r.at <= reqs[i].at && reqs[i].at.duration_since(r.at) < hold)
            .count()
    };
    let most = (0..reqs.len()).map(open_at).max().unwrap_or(0);
    assert!(most > 1, "checks ran one at a time");
    assert!(most <= 4, "{most} checks at once, over the bound of 4");
}

#[test]
fn names_from_the_files_are_escaped_and_masked() {
    let sb = Sandbox::new();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/list/hostile-names.yaml");
    let text = std::fs::read_to_string(fixture).expect("fixture");
    let env = path_str(&sb.write("config", text)).to_string();
    // The token file named by a token-like path exists, so its path is printed.
    sb.write(
        "CW-SECRET-LISTCANARY-as-a-path-secretpart-2\x1b]0;title\x07",
        format!("{B}\n"),
    );
    for args in [
        &["token", "list"][..],
        &["token", "list", "-o", "json"],
        &["token", "list", "-o", "yaml"],
    ] {
        let o = sb.run(Some(&env), args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert_no_token(&format!("{args:?}"), &o);
        let out = stdout(&o);
        assert!(!out.contains(['\x1b', '\r', '\x07']), "{args:?}: {out:?}");
    }
    let out = stdout(&sb.run(Some(&env), &["token", "list"]));
    // Escaped, then shortened to the column: the escapes show (possibly cut by the `…`).
    assert!(
        out.contains("evil\\u") && out.contains("\\rname [1]"),
        "{out}"
    );
    assert!(out.contains("*CW-SECRET-…"), "{out}");
    assert!(out.contains("bell\\u{7"), "{out}");
    let v: Value =
        serde_json::from_slice(&sb.run(Some(&env), &["token", "list", "-o", "json"]).stdout)
            .expect("json");
    assert_eq!(v["tokens"][0]["holders"][0]["user"], "evil\x1b[31m\rname");
}
