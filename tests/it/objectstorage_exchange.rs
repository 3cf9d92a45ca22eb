//! `objectstorage credentials` by the token exchange (its default), the wait for a new key
//! to be accepted by S3, the region and endpoint settings, and `objectstorage whoami`,
//! against the fake CoreWeave API (which also stands in for the S3 endpoint: it refuses a
//! key with 403 InvalidAccessKeyId until told otherwise). The AWS CLI and moto test of the
//! same path is `objectstorage::aws_cli_lists_buckets_through_the_profile_with_the_minted_key`.

use std::time::{Duration, Instant};

use crate::objectstorage::{
    assert_aws_contract, files_holding, json_of, one_error_line, unique_token, World,
};
use crate::support::fake_coreweave::Reply;
use crate::support::{self, stderr, stdout};

const EXCHANGE_PATH: &str = "/v1/cwobject/temporary-credentials/api-token";
const CREDENTIALS: [&str; 2] = ["objectstorage", "credentials"];

#[test]
fn the_exchange_makes_one_key_per_life_and_passes_its_session_token_on() {
    let w = World::new("exchange");
    let first = json_of(&w.plugin(&CREDENTIALS));
    assert_aws_contract(&first);
    let second = json_of(&w.plugin(&CREDENTIALS));
    assert_eq!(first, second);
    // One exchange for the key's life, one S3 check of the new key, none for the kept one.
    let api = w.fake.api_requests();
    assert_eq!(api.len(), 1);
    assert_eq!(
        (api[0].method.as_str(), api[0].path.as_str()),
        ("GET", EXCHANGE_PATH)
    );
    assert_eq!(
        api[0].authorization(),
        Some(format!("Bearer {}", w.token).as_str())
    );
    let s3 = w.fake.s3_requests();
    assert_eq!(s3.len(), 1);
    let key = &w.fake.access_keys()[0];
    assert_eq!(key.kind, "api-token");
    // The check is signed with the new key for the context's zone (c1.k8s.test.coreweave.com).
    let auth = s3[0].authorization().unwrap_or_default();
    assert!(
        auth.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential={}/",
            key.access_key_id
        )) && auth.contains("/test/s3/aws4_request"),
        "{auth}"
    );
    assert_eq!(
        s3[0].header("x-amz-security-token"),
        key.session_token.as_deref()
    );
    // The answer's key, session token and expiry, as the AWS CLI wants them.
    assert_eq!(first["AccessKeyId"], key.access_key_id);
    assert_eq!(first["SecretAccessKey"], key.secret_key);
    assert_eq!(first["SessionToken"].as_str(), key.session_token.as_deref());
    let at: jiff::Timestamp = first["Expiration"].as_str().unwrap().parse().unwrap();
    let left = at.as_second() - jiff::Timestamp::now().as_second();
    assert!((3500..=3600).contains(&left), "{left}");
    // --key-kind access-key still mints with its duration, as its own kept key.
    let o = w.plugin(&[
        "objectstorage",
        "credentials",
        "--key-kind",
        "access-key",
        "--duration",
        "30m",
    ]);
    let minted = json_of(&o);
    assert_ne!(minted["AccessKeyId"], first["AccessKeyId"]);
    let keys = w.fake.access_keys();
    assert_eq!(
        (keys[1].kind, keys[1].duration_seconds),
        ("access-key", 1800)
    );
    assert_eq!(
        w.fake.api_requests()[1].json(),
        serde_json::json!({"durationSeconds": 1800})
    );
    assert_eq!(json_of(&w.plugin(&CREDENTIALS)), first);
    assert_eq!(w.mints(), 2);
}

#[test]
fn an_empty_token_field_means_no_session_token() {
    let w = World::new("nosession");
    w.fake.exchange_session_tokens(false);
    let v = json_of(&w.plugin(&CREDENTIALS));
    assert_aws_contract(&v);
    assert!(v.get("SessionToken").is_none(), "{v}");
    let o = w.plugin(&["objectstorage", "credentials", "-o", "env-no-export"]);
    assert!(!stdout(&o).contains("AWS_SESSION_TOKEN"), "{}", stdout(&o));
    // A key living less than its margin (10 minutes) is printed but never kept.
    let w = World::new("shortlived");
    w.fake.exchange_lifetime(jiff::SignedDuration::from_mins(9));
    for _ in 0..2 {
        json_of(&w.plugin(&CREDENTIALS));
    }
    assert_eq!(w.mints(), 2);
    assert!(w.ring.contents().is_empty());
}

#[test]
fn access_key_flags_need_the_access_key_kind() {
    let w = World::new("flags");
    for extra in [&["--duration", "1h"][..], &["--permanent"]] {
        let mut args = CREDENTIALS.to_vec();
        args.extend(extra);
        let o = w.plugin(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("--key-kind"), "{}", stderr(&o));
    }
    let e = one_error_line(&w.plugin(&[
        "objectstorage",
        "credentials",
        "--key-kind",
        "api-token",
        "--duration",
        "1h",
    ]));
    assert!(e.contains("add --key-kind access-key"), "{e}");
    for bad in ["0s", "11m", "soon"] {
        let o = w.plugin(&["objectstorage", "credentials", "--wait-timeout", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
    }
    assert!(w.fake.requests().is_empty());
}

#[test]
fn a_new_key_is_waited_for_until_s3_accepts_it() {
    let started = std::time::SystemTime::now();
    let w = World::new("wait");
    w.fake.s3_accept_after(Some(Duration::from_secs(2)));
    let t0 = Instant::now();
    let v = json_of(&w.plugin(&CREDENTIALS));
    assert_aws_contract(&v);
    let key = w.fake.access_keys()[0].clone();
    let s3 = w.fake.s3_requests();
    // Asked until accepted: the last check came at least two seconds after the key was
    // made, the ones before it were refused.
    assert!(s3.len() >= 2, "{} checks", s3.len());
    assert!(s3.last().unwrap().at.duration_since(key.made) >= Duration::from_secs(2));
    assert!(t0.elapsed() >= Duration::from_secs(2));
    // The kept key is printed at once, without another check.
    assert_eq!(json_of(&w.plugin(&CREDENTIALS)), v);
    assert_eq!(w.fake.s3_requests().len(), s3.len());
    // --no-wait prints a new key without asking S3.
    let w2 = World::new("nowait");
    w2.fake.s3_accept_after(None);
    json_of(&w2.plugin(&["objectstorage", "credentials", "--no-wait"]));
    assert!(w2.fake.s3_requests().is_empty());
    // Nothing under HOME or the temporary folders holds the key's secrets.
    for secret in [
        key.secret_key.as_str(),
        key.session_token.as_deref().unwrap(),
    ] {
        let mut holding = files_holding(w.sb.dir.path(), secret.as_bytes(), started);
        holding.extend(files_holding(
            &std::env::temp_dir(),
            secret.as_bytes(),
            started,
        ));
        assert!(holding.is_empty(), "a secret is in {holding:?}");
    }
}

#[test]
fn a_key_never_accepted_fails_within_the_bound_and_is_not_kept() {
    let w = World::new("never");
    w.fake.s3_accept_after(None);
    let o = w.plugin(&["objectstorage", "credentials", "--wait-timeout", "2s"]);
    let e = one_error_line(&o);
    let key = w.fake.access_keys()[0].clone();
    assert!(
        e.contains(&format!(
            "key {} was not accepted by {}",
            key.access_key_id,
            w.fake.url()
        )) && e.contains("within 2s")
            && e.contains("403 InvalidAccessKeyId")
            && e.contains("--no-wait"),
        "{e}"
    );
    assert!(!e.contains(&key.secret_key) && !e.contains(key.session_token.as_deref().unwrap()));
    assert!(!e.contains(w.token.trim_start_matches("CW-SECRET-")), "{e}");
    let checks = w.fake.s3_requests();
    assert!(checks.len() >= 2, "{} checks", checks.len());
    // Nothing was kept: the next call makes another key.
    assert!(w.ring.contents().is_empty());
    one_error_line(&w.plugin(&["objectstorage", "credentials", "--wait-timeout", "1s"]));
    assert_eq!(w.mints(), 2);
}

#[test]
fn exchange_refusals_are_one_line_and_never_kept() {
    let w = World::new("refusals");
    let in_an_hour = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::connect_error(403, "permission_denied", &format!("no access for {}", w.token)),
            "Object Storage Admin role or a policy granting the cwobject:CreateAccessKey permission",
        ),
        (
            Reply::connect_error(401, "unauthenticated", "bad token"),
            "token rejected",
        ),
        (
            Reply::json(200, serde_json::json!({"AccessKeyId": "A", "SecretAccessKey": "S", "Token": ""})),
            "a key A without an Expiration",
        ),
        (
            Reply::json(200, serde_json::json!({"AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "tomorrow"})),
            "Expiration \"tomorrow\" is not an RFC 3339 time",
        ),
        (
            Reply::json(200, serde_json::json!({"AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "2020-01-01T00:00:00Z"})),
            "already past",
        ),
        (
            Reply::json(200, serde_json::json!({"AccessKeyId": "A", "Expiration": in_an_hour})),
            "no SecretAccessKey",
        ),
    ];
    for (reply, expect) in cases {
        w.fake.script([reply]);
        let e = one_error_line(&w.plugin(&CREDENTIALS));
        assert!(e.contains(expect), "{expect}: {e}");
        assert!(e.contains(EXCHANGE_PATH), "{e}");
        assert!(!e.contains(w.token.trim_start_matches("CW-SECRET-")), "{e}");
    }
    assert!(w.ring.contents().is_empty());
    assert!(w.fake.s3_requests().is_empty());
    // A 5xx is retried (a read); one key results.
    w.fake
        .script([Reply::connect_error(503, "unavailable", "busy")]);
    json_of(&w.plugin(&CREDENTIALS));
    assert_eq!(w.mints(), 1);
}

#[test]
fn a_refusal_that_waiting_cannot_mend_fails_at_once() {
    let w = World::new("malformed");
    w.fake.s3_answer(Some(
        Reply::status(400)
            .header("Content-Type", "application/xml")
            .body("<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'test' is wrong</Message></Error>"),
    ));
    let e = one_error_line(&w.plugin(&CREDENTIALS));
    assert!(
        e.contains("refused the check")
            && e.contains("400 AuthorizationHeaderMalformed: the region 'test' is wrong")
            && e.contains("--region"),
        "{e}"
    );
    // One answer was enough to know.
    assert_eq!(w.fake.s3_requests().len(), 1);
    assert!(w.ring.contents().is_empty());
}

#[test]
fn env_output_names_the_region_and_the_endpoint() {
    let w = World::new("envregion");
    let o = w.plugin(&["objectstorage", "credentials", "-o", "env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key = &w.fake.access_keys()[0];
    assert_eq!(
        stdout(&o),
        format!(
            "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_SESSION_TOKEN={}\nexport AWS_REGION=test\nexport AWS_ENDPOINT_URL_S3={}\n",
            key.access_key_id,
            key.secret_key,
            key.session_token.as_deref().unwrap(),
            w.fake.url()
        )
    );
    // --endpoint lota and --region, without the check (LOTA is only inside CoreWeave).
    let o = w.plugin(&[
        "objectstorage",
        "credentials",
        "-o",
        "env-no-export",
        "--endpoint",
        "lota",
        "--region",
        "us-east-04a",
        "--no-wait",
    ]);
    assert!(
        stdout(&o).ends_with("AWS_REGION=us-east-04a\nAWS_ENDPOINT_URL_S3=http://cwlota.com\n"),
        "{}",
        stdout(&o)
    );
    for (flag, value) in [("--endpoint", "http://s3.example"), ("--region", "us east")] {
        let e = one_error_line(&w.plugin(&["objectstorage", "credentials", flag, value]));
        assert!(e.contains(flag), "{e}");
    }
    assert_eq!(w.mints(), 1);
}

#[test]
fn the_region_comes_from_the_cks_server_or_must_be_given() {
    let w = World::new("zones");
    let cks = w.sb.write(
        "cks",
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://cw1234-a1b2c3.k8s.us-east-04a.coreweave.com\n- name: other\n  cluster:\n    server: https://k8s.example.test\ncontexts:\n- name: cks\n  context:\n    cluster: c\n    user: u\n- name: other\n  context:\n    cluster: other\n    user: u\nusers:\n- name: u\n  user:\n    token: {}\ncurrent-context: cks\n",
            w.token
        ),
    );
    let kc = support::path_str(&cks);
    let profile = |more: &[&str]| {
        let mut args = vec!["--kubeconfig", kc, "objectstorage", "profile"];
        args.extend(more);
        w.plugin_with(&args, |c| {
            c.env_remove("AWS_ENDPOINT_URL_S3");
        })
    };
    let o = profile(&["--endpoint", "lota"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(&format!(" objectstorage credentials --kubeconfig={kc} --endpoint=lota --region=us-east-04a\nregion = us-east-04a\nendpoint_url = http://cwlota.com\ns3 =\n  addressing_style = virtual\n")),
        "{text}"
    );
    let e = one_error_line(&profile(&["--context", "other"]));
    assert!(e.contains("give --region ZONE"), "{e}");
    let o = profile(&["--context", "other", "--region", "rno2a", "--no-wait"]);
    assert!(
        stdout(&o).contains(" --context=other --no-wait --region=rno2a\nregion = rno2a\nendpoint_url = https://cwobject.com\n"),
        "{}",
        stdout(&o)
    );
    // credentials: no zone, no AWS_REGION: a check cannot be signed.
    let e = one_error_line(&w.plugin(&[
        "--kubeconfig",
        kc,
        "--context",
        "other",
        "objectstorage",
        "credentials",
    ]));
    assert!(
        e.contains("--region ZONE") && e.contains("--no-wait"),
        "{e}"
    );
    assert!(w.fake.requests().is_empty());
}

#[test]
fn whoami_names_the_identity_and_groups_the_keys_carry() {
    let w = World::new("whoami");
    let o = w.plugin(&["objectstorage", "whoami"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "identity:  coreweave/uid-alice\norg:       org-1\ngroups:    admins\ngroup key: iam:org-1:groups\n"
    );
    let v = json_of(&w.plugin(&["objectstorage", "whoami", "-o", "json"]));
    assert_eq!(
        v,
        serde_json::json!({
            "identity": "coreweave/uid-alice",
            "uid": "uid-alice",
            "orgUid": "org-1",
            "groups": ["admins"],
            "groupsConditionKey": "iam:org-1:groups",
        })
    );
    assert!(w
        .fake
        .requests()
        .iter()
        .all(|r| r.path == "/v1beta1/auth/whoami"));
    // A token the API does not know: one line, no token.
    let stranger = unique_token("stranger");
    let k = w.sb.write(
        "stranger",
        support::kubeconfig(Some("cw"), &[("cw", "c1", "s")], &[("s", &stranger)]),
    );
    let e = one_error_line(&w.plugin(&[
        "--kubeconfig",
        support::path_str(&k),
        "objectstorage",
        "whoami",
    ]));
    assert!(
        e.contains("token rejected") && !e.contains(stranger.trim_start_matches("CW-SECRET-")),
        "{e}"
    );
}
