//! What `kubeconfig import` does with each context of the download, against the merged
//! view: reuse a context that reaches the same server with the same token, report one with
//! another token, or add entries under unique names (`<cluster>-<org>`), reusing a user
//! entry that already holds the token.

use std::collections::BTreeSet;

use anyhow::bail;
use serde_json::Value;

use crate::commands::options::{ImportOptions, Keep};
use crate::kubeconfig::edit::{self, exec_json, Additions, InteractiveMode};
use crate::kubeconfig::Kubeconfig;
use crate::secret::{quoted, Token};

use super::download::Incoming;
use super::{bound, stored_reference};

/// What import decided for one incoming context.
pub(super) enum Decision {
    /// A context already reaches this server with this token.
    Present { context: String },
    /// A context reaches this server with another token.
    Conflict {
        context: String,
        old: Token,
        new: Token,
    },
    /// New entries under these names.
    Add {
        context: String,
        cluster: String,
        user: String,
        reuse_user: bool,
    },
}

/// What import will do: a decision per incoming context, the entries to append, and with
/// `--store keyring` the items to write first (item, token).
pub(super) struct Plan {
    pub(super) decisions: Vec<Decision>,
    pub(super) additions: Additions,
    /// Item name, token, and the servers the item is bound to.
    pub(super) keyring_items: Vec<(String, Token, Vec<crate::keystore::Binding>)>,
}

/// Names and entries for every incoming context, against the merged view `kc`.
pub(super) fn plan(
    kc: Option<&Kubeconfig>,
    incoming: &[Incoming],
    args: &ImportOptions,
) -> anyhow::Result<Plan> {
    let Existing {
        mut taken,
        contexts_by_target,
        mut users_by_token,
    } = kc.map(existing).unwrap_or_default();
    let mut decisions = Vec::new();
    let mut additions = Additions::default();
    let mut keyring_items = Vec::new();
    for inc in incoming {
        if let Some(d) = known(inc, &contexts_by_target) {
            decisions.push(d);
            continue;
        }
        let base = args
            .name
            .clone()
            .unwrap_or_else(|| derived_name(&inc.context, &inc.server));
        let name = unique(&base, &taken);
        taken.insert(name.clone());
        let existing_user = inc.token.as_ref().and_then(|t| {
            users_by_token
                .iter()
                .find(|(_, ut)| ut == t)
                .map(|(n, _)| n.clone())
        });
        let (user, reuse_user) = match existing_user {
            Some(u) => (u, true),
            None => (name.clone(), false),
        };
        // A new context for a user whose token is in a keyring item binds the item to its
        // server too (import is an explicit act of the user, like `token store`).
        if reuse_user {
            if let (Some(reference), Some(t)) =
                (kc.and_then(|kc| stored_reference(kc, &user)), &inc.token)
            {
                keyring_items.push((reference, t.clone(), bound(&inc.cluster)));
            }
        }
        let mut cluster = inc.cluster.clone();
        cluster["name"] = Value::String(name.clone());
        let mut context = inc.context_entry.clone();
        context["name"] = Value::String(name.clone());
        if let Some(obj) = context.get_mut("context").and_then(Value::as_object_mut) {
            obj.insert("cluster".into(), Value::String(name.clone()));
            obj.insert("user".into(), Value::String(user.clone()));
        }
        additions.clusters.push(cluster);
        additions.contexts.push(context);
        if !reuse_user {
            let mut u = inc.user.clone();
            u["name"] = Value::String(user.clone());
            if args.store == Keep::Keyring && inc.other_credential.is_none() {
                // The token goes to the keyring item named after the user (written and read
                // back before the file changes); the entry runs this plugin instead.
                u["user"] = serde_json::json!({
                    "exec": exec_json(&user, InteractiveMode::IfAvailable, &edit::exec_command(args.bare_command)?)
                });
                if let Some(t) = &inc.token {
                    keyring_items.push((user.clone(), t.clone(), bound(&inc.cluster)));
                }
            }
            additions.users.push(u);
            if let Some(t) = &inc.token {
                users_by_token.push((user.clone(), t.clone()));
            }
        }
        decisions.push(Decision::Add {
            context: name.clone(),
            cluster: name,
            user,
            reuse_user,
        });
    }
    let wanted = wanted_current(kc, &decisions, args);
    additions.current_context =
        wanted.filter(|w| kc.and_then(Kubeconfig::current_context) != Some(w.as_str()));
    Ok(Plan {
        decisions,
        additions,
        keyring_items,
    })
}

/// A context that already reaches the incoming context's server: with the same token
/// (nothing to do) or with another (a conflict).
fn known(
    inc: &Incoming,
    contexts_by_target: &[(String, String, Option<Token>)],
) -> Option<Decision> {
    let same_server = contexts_by_target
        .iter()
        .filter(|(_, s, _)| same_server(s, &inc.server))
        .collect::<Vec<_>>();
    if let Some((ctx, _, _)) = same_server
        .iter()
        .find(|(_, _, t)| t.is_some() && t.as_ref() == inc.token.as_ref())
    {
        return Some(Decision::Present {
            context: ctx.clone(),
        });
    }
    if let (Some((ctx, _, Some(old))), Some(new)) = (same_server.first(), &inc.token) {
        return Some(Decision::Conflict {
            context: ctx.clone(),
            old: old.clone(),
            new: new.clone(),
        });
    }
    None
}

/// What the files already hold: every name taken, the contexts by server and token, and
/// the user entries kubectl uses by token.
#[derive(Default)]
struct Existing {
    taken: BTreeSet<String>,
    /// (context, server, token)
    contexts_by_target: Vec<(String, String, Option<Token>)>,
    users_by_token: Vec<(String, Token)>,
}

fn existing(kc: &Kubeconfig) -> Existing {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut contexts_by_target = Vec::new();
    let mut users_by_token: Vec<(String, Token)> = Vec::new();
    for f in &kc.files {
        taken.extend(f.config.clusters.iter().map(|c| c.name.to_string()));
        taken.extend(f.config.contexts.iter().map(|c| c.name.to_string()));
        taken.extend(f.config.users.iter().map(|u| u.name.to_string()));
    }
    for (name, ctx) in kc.contexts() {
        let c = ctx.context.clone().unwrap_or_default();
        let server = c
            .cluster
            .as_deref()
            .and_then(|cl| kc.cluster(cl))
            .and_then(|(_, cl)| cl.cluster.as_ref()?.server.clone());
        let token = c
            .user
            .as_deref()
            .and_then(|u| kc.user(u))
            .and_then(|(origin, _)| crate::commands::token::holders::credential(kc, origin).ok())
            .map(|cred| cred.token().clone());
        if let Some(server) = server {
            contexts_by_target.push((name.to_owned(), server.to_string(), token));
        }
    }
    // Only the entry a name resolves to counts: a shadowed entry is not what kubectl uses.
    let mut seen = BTreeSet::new();
    for f in &kc.files {
        for u in &f.config.users {
            if seen.insert(u.name.clone()) {
                if let Some((origin, _)) = kc.user(&u.name) {
                    // A token `token store` moved into the keyring counts too, or
                    // importing the same download again would write it back inline.
                    if let Ok(cred) = crate::commands::token::holders::credential(kc, origin) {
                        users_by_token.push((u.name.to_string(), cred.token().clone()));
                    }
                }
            }
        }
    }
    Existing {
        taken,
        contexts_by_target,
        users_by_token,
    }
}

/// The context `current-context` is to name: the first added (or with `--set-current` an
/// existing one the download matches), unless the files already name one.
fn wanted_current(
    kc: Option<&Kubeconfig>,
    decisions: &[Decision],
    args: &ImportOptions,
) -> Option<String> {
    let had_current = kc
        .and_then(Kubeconfig::current_context)
        .is_some_and(|c| !c.is_empty());
    let first_added = decisions.iter().find_map(|d| match d {
        Decision::Add { context, .. } => Some(context.clone()),
        _ => None,
    });
    match (args.set_current, had_current) {
        (true, _) | (false, false) => first_added.or_else(|| {
            args.set_current
                .then(|| {
                    decisions.iter().find_map(|d| match d {
                        Decision::Present { context } | Decision::Conflict { context, .. } => {
                            Some(context.clone())
                        }
                        Decision::Add { .. } => None,
                    })
                })
                .flatten()
        }),
        (false, true) => None,
    }
}

/// The conflicts `--replace-token` resolves (context, new token); without the flag, the
/// first one is an error.
pub(super) fn report_conflicts(
    decisions: &[Decision],
    args: &ImportOptions,
) -> anyhow::Result<Vec<(String, Token)>> {
    let mut conflicts = Vec::new();
    for d in decisions {
        if let Decision::Conflict { context, old, new } = d {
            if !args.replace_token {
                bail!(
                    "context {} already reaches this cluster with another token ({old}); pass --replace-token to rotate it to the imported one, or --name to add the cluster beside it; nothing was written",
                    quoted(context)
                );
            }
            conflicts.push((context.clone(), new.clone()));
        }
    }
    Ok(conflicts)
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// `<cluster name>-<org>` for a CoreWeave host `<org>-<hash>.k8s.<zone>.coreweave.com`
/// (cluster names are unique within an organisation); otherwise the download's own name.
pub fn derived_name(context: &str, server: &str) -> String {
    // The unmanaged-auth endpoint of the same cluster: the managed name, marked. (Its
    // host starts with `api.`: that cheap test first.)
    if let Some((scheme, rest)) = server.trim().split_once("://") {
        if rest
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("api."))
            && crate::coreweave::is_unmanaged_auth_server(server)
        {
            let base = derived_name(context, &format!("{scheme}://{}", &rest[4..]));
            return format!("{base}-unmanaged");
        }
    }
    let host = server
        .split_once("://")
        .map_or(server, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    // `add` names every listed cluster here: the labels are walked, not collected.
    let mut labels = host.split('.');
    let first = labels.next().unwrap_or("");
    let suffix = ".coreweave.com".as_bytes();
    let coreweave = labels.next() == Some("k8s")
        && labels.count() >= 3
        && host.len() >= suffix.len()
        && host.as_bytes()[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix);
    match (coreweave, first.rsplit_once('-')) {
        (true, Some((org, _hash))) if !org.is_empty() => {
            if context.is_empty() || context.contains(org) {
                first.to_owned()
            } else {
                let mut name = String::with_capacity(context.len() + 1 + org.len());
                name.push_str(context);
                name.push('-');
                name.push_str(org);
                name
            }
        }
        _ if !context.is_empty() => context.to_owned(),
        _ => "coreweave".to_owned(),
    }
}

/// `base`, or `base-2`, `base-3`… : the first that clashes with no name in `taken`.
pub fn unique(base: &str, taken: &BTreeSet<String>) -> String {
    unique_by(base, |n| taken.contains(n))
}

/// [`unique`] over any set of names, told by `taken` (`add` checks the files' names and
/// its own new ones without copying the first).
pub fn unique_by(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_coreweave_host() {
        assert_eq!(
            derived_name(
                "my-cluster",
                "https://cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com"
            ),
            "my-cluster-cw9f3a"
        );
        assert_eq!(
            derived_name(
                "",
                "https://cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com:443/"
            ),
            "cw9f3a-1b2c3d"
        );
        assert_eq!(
            derived_name(
                "my-cluster",
                "https://API.cw9f3a-1b2c3d.k8s.us-east-04a.coreweave.com"
            ),
            "my-cluster-cw9f3a-unmanaged"
        );
        assert_eq!(derived_name("dev", "https://10.0.0.1:6443"), "dev");
        assert_eq!(derived_name("", "https://10.0.0.1:6443"), "coreweave");
    }

    #[test]
    fn unique_names_count_up() {
        let taken: BTreeSet<String> = ["a".to_owned(), "a-2".to_owned()].into();
        assert_eq!(unique("a", &taken), "a-3");
        assert_eq!(unique("b", &taken), "b");
    }

    /// The naming by a collected list of labels, which [`derived_name`] replaced.
    fn derived_name_collected(context: &str, server: &str) -> String {
        if crate::coreweave::is_unmanaged_auth_server(server) {
            if let Some((scheme, rest)) = server.trim().split_once("://") {
                if rest
                    .get(..4)
                    .is_some_and(|p| p.eq_ignore_ascii_case("api."))
                {
                    let base =
                        derived_name_collected(context, &format!("{scheme}://{}", &rest[4..]));
                    return format!("{base}-unmanaged");
                }
            }
        }
        let host = server
            .split_once("://")
            .map_or(server, |(_, rest)| rest)
            .split(['/', ':'])
            .next()
            .unwrap_or("");
        let labels: Vec<&str> = host.split('.').collect();
        let coreweave = labels.len() >= 5
            && labels[1] == "k8s"
            && host.to_ascii_lowercase().ends_with(".coreweave.com");
        match (coreweave, labels[0].rsplit_once('-')) {
            (true, Some((org, _hash))) if !org.is_empty() => {
                if context.is_empty() || context.contains(org) {
                    labels[0].to_owned()
                } else {
                    format!("{context}-{org}")
                }
            }
            _ if !context.is_empty() => context.to_owned(),
            _ => "coreweave".to_owned(),
        }
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Walking the host's labels names clusters as collecting them did.
        #[test]
        fn walked_labels_name_clusters_as_collected_ones_did(
            context in prop::sample::select(vec!["", "train", "my-cluster-cw9f3a", "cw9f3a", "é"]),
            scheme in prop::sample::select(vec!["https://", "HTTPS://", "http://", "", " https://"]),
            labels in prop::collection::vec(
                prop_oneof![
                    4 => "[a-zA-Z0-9-]{0,8}",
                    2 => prop::sample::select(vec!["api", "API", "k8s", "K8S", "cw9f3a-1b2c", "-x", "x-", "é-1"]).prop_map(str::to_string),
                ],
                0..6,
            ),
            suffix in prop::sample::select(vec![".coreweave.com", ".COREWEAVE.com", ".k8s.z.coreweave.com", ".coreweave.co", "coreweave.com", "", ".é.coreweave.com"]),
            tail in prop::sample::select(vec!["", ":443", "/", "/p", ":x/y"]),
        ) {
            let server = format!("{scheme}{}{suffix}{tail}", labels.join("."));
            prop_assert_eq!(derived_name(context, &server), derived_name_collected(context, &server), "{:?}", server);
        }
    }
}
