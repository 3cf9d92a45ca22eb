//! `cluster list` against the loopback CoreWeave API stand-in: the table and the JSON
//! document, which contexts reach each cluster, `--all-tokens` grouped by organization with
//! one listing request per token, and the errors in CoreWeave's words.

use crate::support;

use serde_json::{json, Value};
use support::fake_coreweave::{FakeCoreweave, Reply};
use support::{path_str, stderr, stdout, Sandbox};

const ALICE: &str = "CW-SECRET-clusterlist-alice-0123456789";
const BOB: &str = "CW-SECRET-clusterlist-bob-9876543210ab";

/// The clusters of org `cwaaaa`: one public with a managed endpoint, one private, one still
/// creating (no endpoint), one with the older integer status and a URL endpoint.
fn org_clusters() -> Vec<Value> {
    vec![
        json!({"id": "id-train", "name": "train", "zone": "us-east-04a", "vpcId": "v1", "public": true,
               "version": "v1.32", "status": "STATUS_RUNNING",
               "apiServerEndpoint": "cwaaaa-1111.k8s.us-east-04a.coreweave.com"}),
        json!({"id": "id-inner", "name": "inner", "zone": "us-east-04a", "public": false,
               "version": "v1.32", "status": "running",
               "apiServerEndpoint": "cwaaaa-2222.k8s.us-east-04a.coreweave.com"}),
        json!({"id": "id-new", "name": "fresh", "zone": "us-west-01a", "public": true,
               "version": "v1.33", "status": "STATUS_CREATING"}),
        json!({"id": "id-old", "name": "legacy", "zone": "rno2a", "public": true,
               "version": "v1.30", "status": 1,
               "apiServerEndpoint": "https://cwaaaa-3333.k8s.rno2a.coreweave.com/"}),
    ]
}

fn fake() -> FakeCoreweave {
    let api = FakeCoreweave::start();
    api.accept_token(ALICE, "uid-alice", "cwaaaa")
        .accept_token(BOB, "uid-bob", "cwbbbb")
        .clusters("cwaaaa", org_clusters())
        .clusters(
            "cwbbbb",
            vec![json!({"id": "id-b", "name": "bee", "zone": "z", "public": true, "status": "running",
                        "apiServerEndpoint": "cwbbbb-1.k8s.z.coreweave.com"})],
        );
    api
}

/// `prod` reaches `train` (same server, other spelling), `other` uses Bob's token.
fn kubeconfig(sb: &Sandbox) -> std::path::PathBuf {
    sb.write(
        "config",
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: train-download
  cluster:
    server: HTTPS://cwaaaa-1111.k8s.us-east-04a.coreweave.com:443/
- name: b
  cluster:
    server: https://elsewhere.k8s.z.coreweave.com
contexts:
- name: prod
  context: {{cluster: train-download, user: alice}}
- name: other
  context: {{cluster: b, user: bob}}
current-context: prod
users:
- name: alice
  user:
    token: {ALICE}
- name: bob
  user:
    token: {BOB}
"
        ),
    )
}

fn list(sb: &Sandbox, api: &FakeCoreweave, extra: &[&str]) -> std::process::Output {
    let config = kubeconfig(sb);
    let url = api.url();
    let mut args = vec!["cluster", "list", "--api-endpoint", &url];
    args.extend_from_slice(extra);
    sb.run(Some(path_str(&config)), &args)
}

fn no_token_in(o: &std::process::Output) {
    for t in [ALICE, BOB] {
        assert!(
            !stdout(o).contains(t) && !stderr(o).contains(t),
            "token shown"
        );
    }
}

#[test]
fn the_table_names_each_cluster_and_the_contexts_that_reach_it() {
    let (sb, api) = (Sandbox::new(), fake());
    let o = list(&sb, &api, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("Organization cwaaaa, token CW-SECRET-…6789 (context prod)\n"),
        "{text}"
    );
    let row = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row {name}: {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("train"),
        [
            "train",
            "us-east-04a",
            "running",
            "yes",
            "v1.32",
            "https://cwaaaa-1111.k8s.us-east-04a.coreweave.com",
            "prod"
        ]
    );
    assert_eq!(row("inner")[3..4], ["no"]);
    assert_eq!(row("inner").last(), Some(&"-"));
    assert_eq!(row("fresh")[2..], ["creating", "yes", "v1.33", "-", "-"]);
    assert_eq!(row("legacy")[2], "1");
    assert_eq!(
        row("legacy")[5],
        "https://cwaaaa-3333.k8s.rno2a.coreweave.com"
    );
    no_token_in(&o);
    // whoami, then one listing: the active context's token only.
    let paths: Vec<String> = api.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/v1beta1/auth/whoami", "/v1beta1/cks/clusters"]);
    assert!(api
        .requests()
        .iter()
        .all(|r| r.authorization() == Some(&*format!("Bearer {ALICE}"))));
}

#[test]
fn json_and_all_tokens_group_by_organization_with_one_listing_per_token() {
    let (sb, api) = (Sandbox::new(), fake());
    let o = list(&sb, &api, &["--all-tokens", "-o", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["schemaVersion"], 1);
    let orgs = v["organizations"].as_array().expect("organizations");
    assert_eq!(orgs.len(), 2, "{v:#}");
    assert_eq!(orgs[0]["org"], "cwaaaa");
    assert_eq!(
        orgs[0]["tokens"],
        json!([{"token": "CW-SECRET-…6789", "contexts": ["prod"]}])
    );
    let train = &orgs[0]["clusters"][0];
    assert_eq!(train["name"], "train");
    assert_eq!(train["id"], "id-train");
    assert_eq!(train["public"], true);
    assert_eq!(
        train["server"],
        "https://cwaaaa-1111.k8s.us-east-04a.coreweave.com"
    );
    assert_eq!(train["contexts"], json!(["prod"]));
    assert_eq!(orgs[0]["clusters"][2]["server"], Value::Null);
    assert_eq!(orgs[1]["org"], "cwbbbb");
    assert_eq!(orgs[1]["clusters"][0]["contexts"], json!([]));
    assert_eq!(v["failures"], json!([]));
    let listings = api
        .requests()
        .iter()
        .filter(|r| r.path == "/v1beta1/cks/clusters")
        .count();
    assert_eq!(listings, 2);
    no_token_in(&o);
    let y = list(&sb, &api, &["-o", "yaml"]);
    assert!(y.status.success(), "{}", stderr(&y));
    assert!(stdout(&y).contains("name: train"), "{}", stdout(&y));
}

#[test]
fn a_forbidden_listing_says_which_role_is_missing() {
    let (sb, api) = (Sandbox::new(), fake());
    api.script([
        Reply::principal("uid-alice", "cwaaaa"),
        Reply::connect_error(403, "permission_denied", "not allowed"),
    ]);
    let o = list(&sb, &api, &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("this token may not list CKS clusters (403 permission_denied not allowed)"),
        "{out}"
    );
    assert!(out.contains("CKS Viewer or CKS Admin"), "{out}");
    assert!(
        stderr(&o).contains("error: 1 of 1 token could not list clusters"),
        "{}",
        stderr(&o)
    );
    no_token_in(&o);
}

#[test]
fn a_rejected_token_and_an_oversized_org_are_errors_in_words() {
    let (sb, api) = (Sandbox::new(), FakeCoreweave::start());
    let o = list(&sb, &api, &["--all-tokens"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("token rejected (invalid, revoked or expired): 401 unauthenticated"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("2 of 2 tokens could not list clusters"),
        "{}",
        stderr(&o)
    );

    let api = fake();
    let item = json!({"id": "x", "name": "x"});
    api.clusters("cwaaaa", vec![item; 10_001]);
    let o = list(&sb, &api, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("10001 clusters; at most 10000 are read"),
        "{}",
        stdout(&o)
    );
    no_token_in(&o);
}
