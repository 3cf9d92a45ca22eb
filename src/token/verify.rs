//! Proving a new token before `token rotate` writes it: a mistyped, expired or
//! other-organisation token written into every user entry locks the user out of every
//! cluster that shared the old one. `--verify api` asks CoreWeave's whoami; `--verify
//! cluster` also sends a SelfSubjectReview to each context that will use the token.
//! Everything here runs before any lock is taken; a failure means nothing is written.

use anyhow::{anyhow, bail};

use crate::cli::{ApiArgs, Verify};
use crate::cluster;
use crate::coreweave::{self, ApiConfig, Principal};
use crate::kubeconfig::Kubeconfig;
use crate::secret::Token;

/// What was proven, for the report.
#[derive(Debug, Default)]
pub struct Proof {
    pub principal: Option<Principal>,
    pub clusters: Vec<String>,
}

/// What to prove: the new token, the old one (to compare owners), and the contexts that
/// will use the new one.
pub struct Request<'a> {
    pub kc: &'a Kubeconfig,
    pub contexts: &'a [String],
    pub old: &'a Token,
    pub new: &'a Token,
    pub how: Verify,
    pub api: &'a ApiArgs,
    pub force: bool,
}

/// `--verify none` never gets here.
pub fn prove(req: &Request<'_>) -> anyhow::Result<Proof> {
    let &Request {
        kc,
        contexts,
        old,
        new,
        how,
        api,
        force,
    } = req;
    if how == Verify::None {
        return Ok(Proof::default());
    }
    let cfg = ApiConfig::resolve(api.api_endpoint.as_deref(), api.request_timeout.as_deref())?;
    let new_p = coreweave::whoami(&cfg, new).map_err(|e| {
        if e.is_rejection() {
            anyhow!("the new token was not accepted: {e}; nothing was written")
        } else if matches!(
            e,
            coreweave::ApiError::Connection { .. } | coreweave::ApiError::Timeout { .. }
        ) {
            // Offline, or the API cannot be reached from here: skipping the check is the
            // way on. An answer that is wrong (an error status, a rate limit, a bad
            // endpoint) is not fixed by skipping it, so no hint there.
            anyhow!("cannot check the new token with CoreWeave: {e}; nothing was written (--verify none skips the check when the API cannot be reached)")
        } else {
            anyhow!("cannot check the new token with CoreWeave: {e}; nothing was written")
        }
    })?;
    // The old token may be expired or revoked (often the reason to rotate); when it still
    // works, it tells whose token this was.
    if let Ok(old_p) = coreweave::whoami(&cfg, old) {
        let same = old_p.org_uid == new_p.org_uid && old_p.uid == new_p.uid;
        if !same && !force {
            bail!(
                "the new token belongs to principal {} in org {}, the old one to principal {} in org {}; pass --force if that is intended; nothing was written",
                new_p.uid, new_p.org_uid, old_p.uid, old_p.org_uid
            );
        }
    }
    let mut proof = Proof {
        principal: Some(new_p),
        clusters: Vec::new(),
    };
    if how == Verify::Cluster && !contexts.is_empty() {
        let targets = cluster::cluster_targets(kc, contexts)
            .map_err(|e| anyhow!("cannot check the clusters: {e}; nothing was written"))?;
        let failed: Vec<String> = cluster::verify(&targets, new, cfg.timeout)
            .into_iter()
            .filter_map(|o| o.result.err().map(|e| format!("{} ({e})", o.context)))
            .collect();
        if !failed.is_empty() {
            bail!(
                "the new token was not accepted by context {}; nothing was written",
                failed.join(", context ")
            );
        }
        proof.clusters = contexts.to_vec();
    }
    Ok(proof)
}
