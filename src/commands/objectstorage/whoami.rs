//! `kubectl coreweave objectstorage whoami`: the identity and groups that Object Storage
//! keys from the token exchange carry, so a user can write a bucket or organization
//! policy for them. The keys carry `coreweave/<UID>` and the principal's SCIM groups in
//! the condition key `iam:<ORG-ID>:groups`; both come from `GET /v1beta1/auth/whoami`
//! with the token `objectstorage credentials` would send. The texts are the server's,
//! made fit to print (`coreweave::error::redact`).

use std::io::Write;

use crate::commands::options::{WhoamiOptions, WhoamiOutput};
use crate::coreweave::{whoami, Principal};
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::Kubeconfig;

pub fn run(
    kc: &Kubeconfig,
    sel: &Selection,
    args: &WhoamiOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let resolved = kc.resolve(sel)?;
    let api = args.api.resolve()?;
    let token = super::credentials::coreweave_token(kc, &resolved)?;
    let principal = whoami(&api, &token)?;
    let text = match args.output {
        WhoamiOutput::Text => text(&principal),
        WhoamiOutput::Json => format!("{:#}\n", json(&principal)),
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// The principal name a bucket policy names: `coreweave/<UID>`.
pub fn identity(p: &Principal) -> String {
    format!("coreweave/{}", p.uid)
}

/// The policy condition key holding the principal's groups: `iam:<ORG-ID>:groups`.
pub fn groups_key(p: &Principal) -> String {
    format!("iam:{}:groups", p.org_uid)
}

fn text(p: &Principal) -> String {
    let groups = if p.groups.is_empty() {
        "(none)".to_string()
    } else {
        p.groups.join(", ")
    };
    format!(
        "identity:  {}\norg:       {}\ngroups:    {groups}\ngroup key: {}\n",
        identity(p),
        p.org_uid,
        groups_key(p)
    )
}

fn json(p: &Principal) -> serde_json::Value {
    serde_json::json!({
        "identity": identity(p),
        "uid": p.uid,
        "orgUid": p.org_uid,
        "groups": p.groups,
        "groupsConditionKey": groups_key(p),
    })
}
