//! CKS's unmanaged-auth endpoint, `https://api.<org>-<hash>.k8s.<zone>.coreweave.com`
//! (issue 19, item 8): it refuses Console API tokens, so rotate and store leave a token
//! bound for it alone unless forced and say why, `--verify cluster` names the endpoint
//! instead of blaming the token, and import refuses a download that sends a token there.
//! Hosts that only look close are ordinary CoreWeave clusters.

use crate::support::{path_str, stderr, Sandbox};

const OLD: &str = "CW-SECRET-fake-unmanaged-old-abcdefgh1234";
const NEW: &str = "CW-SECRET-fake-unmanaged-new-ijklmnop5678";

/// One user shared by a managed context and a context on `second`.
fn config(second: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n\
         - name: managed\n  cluster:\n    server: https://cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com\n\
         - name: second\n  cluster:\n    server: {second}\n\
         contexts:\n\
         - name: managed\n  context:\n    cluster: managed\n    user: u\n\
         - name: second\n  context:\n    cluster: second\n    user: u\n\
         current-context: managed\n\
         users:\n- name: u\n  user:\n    token: {OLD}\n"
    )
}

fn rotate(sb: &Sandbox, k: &str, extra: &[&str]) -> std::process::Output {
    let tok = sb.write("new", format!("{NEW}\n"));
    let mut args = vec!["token", "rotate", "--from-file", path_str(&tok), "--yes"];
    args.extend_from_slice(extra);
    args.extend(["--kubeconfig", k]);
    sb.run(None, &args)
}

const UNMANAGED: [&str; 3] = [
    "https://api.cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com",
    "https://API.cw9f3a-1b2c3d.K8S.us-east-04a.coreweave.com.:443/",
    "https://api.org7-ffff.k8s.rno2a.coreweave.com/",
];

#[test]
fn rotate_leaves_an_unmanaged_endpoint_alone_unless_forced_and_says_why() {
    for server in UNMANAGED {
        let sb = Sandbox::new();
        let k = sb.write("config", config(server));
        let k = path_str(&k).to_owned();
        let before = std::fs::read_to_string(&k).unwrap();
        let o = rotate(&sb, &k, &["--verify", "none"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{server}: {err}");
        assert!(
            err.contains("context \"second\"") && err.contains("unmanaged-auth endpoint"),
            "{server}: {err}"
        );
        assert!(
            err.contains("--force") && !err.contains(OLD) && !err.contains(NEW),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&k).unwrap(), before, "{server}");

        // Forced, --verify cluster names the endpoint before any token is sent (the API
        // endpoint is a closed port: reaching it would be another error).
        let o = rotate(&sb, &k, &["--verify", "cluster", "--force"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("would refuse any Console token") && !err.contains("not accepted"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&k).unwrap(), before);

        // Forced without the cluster check: the user asked, it is written.
        let o = rotate(&sb, &k, &["--verify", "none", "--force"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(
            std::fs::read_to_string(&k).unwrap(),
            before.replace(OLD, NEW)
        );
    }
}

/// Close to the unmanaged shape, but managed endpoints: rotated like any CoreWeave cluster.
#[test]
fn hosts_that_only_look_unmanaged_rotate_as_usual() {
    for server in [
        "https://api-cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com",
        "https://apix.cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com",
        "https://api.k8s.us-east-04a.coreweave.com",
        "https://x.api.cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com",
        "https://cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com",
    ] {
        let sb = Sandbox::new();
        let k = sb.write("config", config(server));
        let k = path_str(&k).to_owned();
        let before = std::fs::read_to_string(&k).unwrap();
        let o = rotate(&sb, &k, &["--verify", "none"]);
        assert_eq!(o.status.code(), Some(0), "{server}: {}", stderr(&o));
        assert_eq!(
            std::fs::read_to_string(&k).unwrap(),
            before.replace(OLD, NEW)
        );
    }
    // Not CoreWeave at all: refused as foreign, not as the unmanaged endpoint.
    let sb = Sandbox::new();
    let k = sb.write(
        "config",
        config("https://api.cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com.evil.example"),
    );
    let o = rotate(&sb, path_str(&k), &["--verify", "none"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not a CoreWeave cluster") && !err.contains("unmanaged"),
        "{err}"
    );
}

/// Store refuses before any keyring is reached (this test has none), naming the endpoint.
#[test]
fn store_leaves_an_unmanaged_endpoint_alone_and_says_why() {
    for current in ["managed", "second"] {
        let sb = Sandbox::new();
        let text = config(UNMANAGED[0]).replace(
            "current-context: managed",
            &format!("current-context: {current}"),
        );
        let k = sb.write("config", &text);
        let o = sb.run(None, &["token", "store", "--kubeconfig", path_str(&k)]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("unmanaged-auth endpoint") && err.contains("--force"),
            "{err}"
        );
        assert!(!err.contains("keyring is"), "{err}");
        assert_eq!(std::fs::read_to_string(&k).unwrap(), text);
    }
}

#[test]
fn import_refuses_a_token_for_the_unmanaged_endpoint() {
    let sb = Sandbox::new();
    let dl = sb.write(
        "dl.yaml",
        format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    server: {}\n  name: my-cluster\ncontexts:\n- context:\n    cluster: my-cluster\n    user: token\n  name: my-cluster\ncurrent-context: my-cluster\nkind: Config\nusers:\n- name: token\n  user:\n    token: {OLD}\n",
            UNMANAGED[0]
        ),
    );
    let target = sb.path("kc/config");
    let o = sb.run(
        Some(path_str(&target)),
        &["kubeconfig", "import", path_str(&dl), "--verify", "none"],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("unmanaged-auth endpoint") && err.contains("managed-auth kubeconfig"),
        "{err}"
    );
    assert!(!err.contains(OLD), "{err}");
    assert!(!target.exists());
}
