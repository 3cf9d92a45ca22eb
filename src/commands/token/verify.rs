//! Proving a new token before `token rotate` writes it: a mistyped, expired or
//! other-organisation token written into every user entry locks the user out of every
//! cluster that shared the old one. `--verify api` asks CoreWeave's whoami; `--verify
//! cluster` also sends a SelfSubjectReview to each context that will use the token.
//! Everything here runs before any lock is taken; a failure means nothing is written.
//! All the checks of one rotate share one total time limit (`--verify-timeout`).

use anyhow::{anyhow, bail};

use crate::cluster;
use crate::coreweave::client::whoami_async;
use crate::coreweave::{self, ApiSettings, Deadline, Principal};
use crate::kubeconfig::Kubeconfig;
use crate::secret::Token;

/// How a new token is proven (`--verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// CoreWeave's whoami accepts it (and, unless forced, it has the old one's owner).
    Api,
    /// `Api`, and every context that will use it gets its cluster's SelfSubjectReview.
    Cluster,
    /// No check (offline).
    None,
}

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
    pub how: How,
    pub api: &'a ApiSettings,
    pub force: bool,
    /// `--verify-timeout`: for all the checks together.
    pub verify_timeout: std::time::Duration,
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
        verify_timeout,
    } = req;
    if how == How::None {
        return Ok(Proof::default());
    }
    let mut cfg = api.resolve()?;
    // Refuse what cannot be checked before a token is sent anywhere.
    let targets = if how == How::Cluster && !contexts.is_empty() {
        cluster::cluster_targets(kc, contexts)
            .map_err(|e| anyhow!("cannot check the clusters: {e}; nothing was written"))?
    } else {
        Vec::new()
    };
    refuse_unmanaged_auth(&targets)?;
    let deadline = Deadline::after(verify_timeout);
    cfg.deadline = Some(deadline);
    // Every call of the check on one runtime (`net::block_on`): whoami of the new token,
    // of the old one when the new one is accepted, then the clusters.
    let env = crate::net::ProxyEnv::from_process();
    let (new_answer, old_answer, reviews) = crate::net::block_on(async {
        let new_answer = whoami_async(&cfg, new).await;
        if new_answer.is_err() {
            return (new_answer, None, Vec::new());
        }
        let old_answer = whoami_async(&cfg, old).await;
        // The clusters are asked only when the owners' comparison below lets the rotation
        // go on, as before any token is sent to them.
        let go_on = force
            || match (&new_answer, &old_answer) {
                (Ok(new_p), Ok(old_p)) => old_p.same_as(new_p),
                (_, Err(e)) => e.is_rejection(),
                (Err(_), _) => false,
            };
        let reviews = match targets.is_empty() || !go_on {
            true => Vec::new(),
            false => cluster::verify_async(&targets, new, cfg.timeout, deadline, &env).await,
        };
        (new_answer, Some(old_answer), reviews)
    })
    .map_err(|why| anyhow!("cannot check the new token: {why}; nothing was written"))?;
    let new_p = accepted(new_answer)?;
    same_owner(old_answer, &new_p, force)?;
    let mut proof = Proof {
        principal: Some(new_p),
        clusters: Vec::new(),
    };
    if !targets.is_empty() {
        let failed: Vec<String> = reviews
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

/// The new token's principal, or why the check failed (with the way on when there is one).
fn accepted(answer: Result<Principal, coreweave::ApiError>) -> anyhow::Result<Principal> {
    answer.map_err(|e| {
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
    })
}

/// The old token may be expired or revoked (often the reason to rotate): only the API
/// saying so (401/403) lets the comparison go. Any other failure leaves the question
/// open, and an open question must not let another org's token through.
fn same_owner(
    old_answer: Option<Result<Principal, coreweave::ApiError>>,
    new_p: &Principal,
    force: bool,
) -> anyhow::Result<()> {
    match old_answer.unwrap_or_else(|| Err(coreweave::ApiError::Client(
        coreweave::error::ClientError::NotAsked,
    ))) {
        Ok(old_p) => {
            if !old_p.same_as(new_p) && !force {
                bail!(
                    "the new token belongs to principal {} in org {}, the old one to principal {} in org {}; pass --force if that is intended; nothing was written",
                    new_p.uid, new_p.org_uid, old_p.uid, old_p.org_uid
                );
            }
        }
        Err(e) if e.is_rejection() || force => {}
        Err(e) => bail!(
            "cannot tell whose the old token is, so cannot check that the new one belongs to the same principal and org: {e}; pass --force to rotate anyway; nothing was written"
        ),
    }
    Ok(())
}

/// CKS's unmanaged-auth endpoint refuses every Console API token: its refusal would say
/// nothing about the new token, so `--verify cluster` names the endpoint instead of
/// sending the token there and blaming it.
fn refuse_unmanaged_auth(targets: &[cluster::ClusterTarget]) -> anyhow::Result<()> {
    match targets
        .iter()
        .find(|t| coreweave::is_unmanaged_auth_server(&t.server))
    {
        Some(t) => bail!(
            "cannot check the new token on context {}: its server {} is {}, so it would refuse any Console token; nothing was written (--verify api checks the token with CoreWeave only)",
            crate::secret::quoted(&t.context),
            crate::secret::shown(&t.server),
            coreweave::UNMANAGED_AUTH_REASON
        ),
        None => Ok(()),
    }
}
