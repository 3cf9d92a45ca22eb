//! What `kubeconfig add` will do, decided from data alone: the clusters the API listed, a
//! snapshot of what the kubeconfig files already hold ([`Existing`]) and the options, in;
//! a [`Plan`] out (per cluster: add, already present, moved, skipped; the entries to append;
//! which user entry holds the token; the keyring bindings it needs). No file, keyring or
//! network is touched here, so the command can plan again under the lock from a fresh
//! snapshot and the tests can plan without either.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::coreweave::cks::CksCluster;
use crate::keystore::Binding;
use crate::kubeconfig::edit::{exec_json, Additions, InteractiveMode};
use crate::secret::Token;

/// The named cluster extension `add` writes on each cluster entry: which CKS cluster the
/// entry is (`id`), in which organization and zone, so a later run can tell that the
/// cluster moved (same id, another endpoint). client-go keeps named extensions.
pub const CLUSTER_EXTENSION: &str = "coreweave.com/cks-cluster";

/// What the kubeconfig files hold that the plan depends on (the merged view, as kubectl
/// reads it), gathered by the command.
#[derive(Debug, Default, Clone)]
pub struct Existing {
    /// Every cluster, context and user name in every file (a new name must clash with none).
    pub taken: HashSet<String>,
    /// Each merged context with its cluster's server (normalised) and whether its user
    /// holds the token being added.
    pub reach: Vec<Reach>,
    /// Cluster entries carrying [`CLUSTER_EXTENSION`].
    pub records: Vec<Record>,
    /// The user entry kubectl uses that already holds the token (one user per token).
    pub holder: Option<Holder>,
    pub current_context: Option<String>,
    /// Some credential compared was read outside the files (a `tokenFile`, the OS
    /// keyring): a plan from this snapshot is not settled by the files' bytes alone.
    pub read_outside: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub context: String,
    pub server: String,
    pub same_token: bool,
}

/// A cluster entry `add` wrote earlier (or one written like it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub file: PathBuf,
    /// The cluster entry's name.
    pub entry: String,
    pub id: String,
    /// Its server now, normalised.
    pub server: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub user: String,
    /// When the token is in the OS keyring: the item, and the servers it is bound to.
    pub item: Option<(String, Vec<Binding>)>,
}

/// Where a new token is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Inline,
    Keyring,
}

/// Which context becomes current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetCurrent {
    /// Leave `current-context` as it is.
    No,
    /// The one cluster named on the command line (add's default with one CLUSTER).
    Only,
    /// The context of this cluster (name or id).
    Named(String),
}

pub struct Options<'a> {
    pub org: &'a str,
    pub token: &'a Token,
    pub store: Store,
    pub include_private: bool,
    pub update: bool,
    pub namespace: Option<&'a str>,
    pub set_current: SetCurrent,
    /// The exec entry's `command` for a keyring user.
    pub exec_command: &'a str,
}

/// What happens to one listed cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Add {
        context: String,
    },
    /// A context already reaches its server (`same_token`: with this token).
    Present {
        context: String,
        same_token: bool,
    },
    /// A cluster entry recorded for this id has another server.
    Moved {
        entry: String,
        file: PathBuf,
        from: String,
        to: String,
        /// `--update`: the entry's server is rewritten.
        updated: bool,
    },
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Default)]
pub struct Plan {
    /// One per cluster given, in the same order.
    pub decisions: Vec<Decision>,
    pub additions: Additions,
    /// The user the new contexts use, and whether it is new.
    pub user: Option<(String, bool)>,
    /// The holder's keyring item, when it must be bound to servers it is not yet
    /// ([`Plan::new_bindings`]).
    pub bound_item: Option<String>,
    /// Servers the holder's keyring item must be bound to and is not yet.
    pub new_bindings: Vec<Binding>,
    /// A new token kept in the keyring: the item to write, bound to these servers.
    pub new_item: Option<(String, Vec<Binding>)>,
    /// `--update`: (file, cluster entry, new server).
    pub moves: Vec<(PathBuf, String, String)>,
}

/// The plan for `clusters` (the ones the user asked for) over `existing`.
pub fn plan(existing: &Existing, clusters: &[&CksCluster], opts: &Options<'_>) -> Plan {
    // The names this plan takes, beside the files' (which are not copied).
    let mut taken = Taken {
        files: &existing.taken,
        new: HashSet::with_capacity(clusters.len() + 1),
    };
    let mut plan = Plan {
        decisions: Vec::with_capacity(clusters.len()),
        ..Plan::default()
    };
    plan.additions.clusters.reserve(clusters.len());
    plan.additions.contexts.reserve(clusters.len());
    let user = match &existing.holder {
        Some(h) => (h.user.clone(), false),
        None => (taken.unique(&format!("coreweave-{}", opts.org)), true),
    };
    taken.new.insert(user.0.clone());
    let keyring_user = match (&existing.holder, opts.store) {
        (Some(h), _) => h.item.as_ref().map(|(item, _)| item.clone()),
        (None, Store::Keyring) => Some(user.0.clone()),
        (None, Store::Inline) => None,
    };
    let mut bound: Vec<Binding> = Vec::with_capacity(clusters.len());
    // The contexts reaching each server, looked up once per cluster.
    let mut reach: HashMap<&str, Vec<&Reach>> = HashMap::with_capacity(existing.reach.len());
    for r in &existing.reach {
        reach.entry(r.server.as_str()).or_default().push(r);
    }
    for c in clusters {
        let decision = decide(existing, &reach, c, opts, &mut taken);
        match &decision {
            Decision::Add { context } => {
                let server = c.server.as_deref().unwrap_or_default();
                plan.additions
                    .clusters
                    .push(cluster_entry(context, server, c, opts.org));
                plan.additions
                    .contexts
                    .push(context_entry(context, &user.0, opts.namespace));
                bound.push(binding(server));
            }
            Decision::Moved {
                entry,
                file,
                to,
                updated: true,
                ..
            } => {
                plan.moves.push((file.clone(), entry.clone(), to.clone()));
                bound.push(binding(to));
            }
            _ => {}
        }
        plan.decisions.push(decision);
    }
    if !plan.additions.contexts.is_empty() || !plan.moves.is_empty() {
        plan.user = Some(user.clone());
    }
    if user.1 && !plan.additions.contexts.is_empty() {
        let entry = match keyring_user {
            Some(_) => {
                json!({"exec": exec_json(&user.0, InteractiveMode::IfAvailable, opts.exec_command)})
            }
            None => json!({"token": opts.token.expose()}),
        };
        plan.additions
            .users
            .push(json!({"name": user.0, "user": entry}));
        if keyring_user.is_some() {
            plan.new_item = Some((user.0.clone(), bound.clone()));
        }
    } else if let Some(Some((item, has))) = existing.holder.as_ref().map(|h| &h.item) {
        let mut new: Vec<Binding> = bound.into_iter().filter(|b| !has.contains(b)).collect();
        new.sort();
        new.dedup();
        if !new.is_empty() {
            plan.bound_item = Some(item.clone());
        }
        plan.new_bindings = new;
    }
    plan.additions.current_context = current(existing, clusters, &plan.decisions, opts)
        .filter(|c| existing.current_context.as_deref() != Some(c.as_str()));
    plan
}

/// Every name in the files, and the ones this plan has taken so far.
struct Taken<'a> {
    files: &'a HashSet<String>,
    new: HashSet<String>,
}

impl Taken<'_> {
    /// `base`, or the first `base-N` that clashes with no name taken.
    fn unique(&self, base: &str) -> String {
        super::import::unique_by(base, |n| self.files.contains(n) || self.new.contains(n))
    }
}

/// One cluster's fate; a name is taken for an added one.
fn decide(
    existing: &Existing,
    reach: &HashMap<&str, Vec<&Reach>>,
    c: &CksCluster,
    opts: &Options<'_>,
    taken: &mut Taken<'_>,
) -> Decision {
    let skip = |reason: &str| Decision::Skipped {
        reason: reason.to_string(),
    };
    if let Some(why) = &c.unusable {
        return skip(why);
    }
    if c.is_deleting() {
        return skip("it is being deleted");
    }
    let Some(server) = c.server.as_deref() else {
        return skip(&format!(
            "it has no API server endpoint yet (status {})",
            c.status
        ));
    };
    if crate::coreweave::is_unmanaged_auth_server(server) {
        return skip(
            "its endpoint is CKS's unmanaged-auth endpoint, which does not take Console API tokens",
        );
    }
    if !c.public && !opts.include_private {
        return skip("it is private (reachable only inside its VPC; --include-private adds it)");
    }
    if let Some(r) = existing.records.iter().find(|r| r.id == c.id) {
        if r.server != server {
            return Decision::Moved {
                entry: r.entry.clone(),
                file: r.file.clone(),
                from: r.server.clone(),
                to: server.to_string(),
                updated: opts.update,
            };
        }
    }
    let reaching: &[&Reach] = reach.get(server).map_or(&[], Vec::as_slice);
    if let Some(r) = reaching.iter().find(|r| r.same_token).or(reaching.first()) {
        return Decision::Present {
            context: r.context.clone(),
            same_token: r.same_token,
        };
    }
    let name = taken.unique(&super::import::derived_name(&c.name, server));
    taken.new.insert(name.clone());
    Decision::Add { context: name }
}

/// The context to make current, if any.
fn current(
    existing: &Existing,
    clusters: &[&CksCluster],
    decisions: &[Decision],
    opts: &Options<'_>,
) -> Option<String> {
    let wanted = match &opts.set_current {
        SetCurrent::No => return None,
        SetCurrent::Only if clusters.len() == 1 => 0,
        SetCurrent::Only => return None,
        SetCurrent::Named(n) => clusters.iter().position(|c| &c.name == n || &c.id == n)?,
    };
    match decisions.get(wanted)? {
        Decision::Add { context } | Decision::Present { context, .. } => Some(context.clone()),
        Decision::Moved { from, .. } => existing
            .reach
            .iter()
            .find(|r| &r.server == from)
            .map(|r| r.context.clone()),
        Decision::Skipped { .. } => None,
    }
}

/// A JSON object of these members, built as it is (not through `json!`'s serializer:
/// `add --all` builds a thousand of these).
fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in members {
        map.insert(k.to_owned(), v);
    }
    Value::Object(map)
}

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// A new cluster entry: the managed endpoint, publicly trusted (no CA), and the record.
fn cluster_entry(name: &str, server: &str, c: &CksCluster, org: &str) -> Value {
    let record = object([
        ("id", text(&c.id)),
        ("name", text(&c.name)),
        ("org", text(org)),
        ("zone", text(&c.zone)),
    ]);
    let extension = object([("name", text(CLUSTER_EXTENSION)), ("extension", record)]);
    object([
        ("name", text(name)),
        (
            "cluster",
            object([
                ("server", text(server)),
                ("extensions", Value::Array(vec![extension])),
            ]),
        ),
    ])
}

/// A new context entry: the cluster of the same name, the token's user, `--namespace`.
fn context_entry(name: &str, user: &str, namespace: Option<&str>) -> Value {
    let mut context = object([("cluster", text(name)), ("user", text(user))]);
    if let (Some(ns), Value::Object(members)) = (namespace, &mut context) {
        members.insert("namespace".to_owned(), text(ns));
    }
    object([("name", text(name)), ("context", context)])
}

/// The binding of a managed endpoint: the system's roots, no TLS server name.
pub fn binding(server: &str) -> Binding {
    Binding {
        server: server.to_string(),
        ca_sha256: String::new(),
        tls_server_name: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(id: &str, name: &str, server: Option<&str>, public: bool) -> CksCluster {
        CksCluster {
            id: id.into(),
            name: name.into(),
            zone: "us-east-04a".into(),
            vpc_id: String::new(),
            public,
            version: "v1.32".into(),
            status: "running".into(),
            server: server.map(String::from),
            created_at: None,
            updated_at: None,
            unusable: None,
        }
    }

    fn opts<'a>(token: &'a Token, set_current: SetCurrent) -> Options<'a> {
        Options {
            org: "cwaaaa",
            token,
            store: Store::Inline,
            include_private: false,
            update: false,
            namespace: None,
            set_current,
            exec_command: "kubectl-coreweave",
        }
    }

    const A: &str = "https://cwaaaa-1.k8s.us-east-04a.coreweave.com";
    const B: &str = "https://cwaaaa-2.k8s.us-east-04a.coreweave.com";

    #[test]
    fn names_never_clash_and_present_clusters_are_not_added_again() {
        let token = Token::new("CW-SECRET-plan-test-0000");
        let existing = Existing {
            taken: ["train-cwaaaa".to_string(), "coreweave-cwaaaa".to_string()].into(),
            reach: vec![Reach {
                context: "dl".into(),
                server: B.into(),
                same_token: false,
            }],
            ..Existing::default()
        };
        let (a, b) = (
            cluster("1", "train", Some(A), true),
            cluster("2", "infer", Some(B), true),
        );
        let p = plan(&existing, &[&a, &b], &opts(&token, SetCurrent::No));
        assert_eq!(
            p.decisions,
            [
                Decision::Add {
                    context: "train-cwaaaa-2".into()
                },
                Decision::Present {
                    context: "dl".into(),
                    same_token: false
                }
            ]
        );
        assert_eq!(p.user, Some(("coreweave-cwaaaa-2".into(), true)));
        assert_eq!(p.additions.users[0]["user"]["token"], token.expose());
        assert_eq!(
            p.additions.clusters[0]["cluster"]["extensions"][0]["extension"]["id"],
            "1"
        );
        assert_eq!(p.additions.current_context, None);
    }

    #[test]
    fn private_endpointless_and_moved_clusters() {
        let token = Token::new("CW-SECRET-plan-test-0000");
        let existing = Existing {
            records: vec![Record {
                file: "/k".into(),
                entry: "train-cwaaaa".into(),
                id: "1".into(),
                server: B.into(),
            }],
            holder: Some(Holder {
                user: "me".into(),
                item: Some(("me".into(), vec![binding(B)])),
            }),
            ..Existing::default()
        };
        let moved = cluster("1", "train", Some(A), true);
        let private = cluster("2", "inner", Some(B), false);
        let creating = cluster("3", "new", None, true);
        let mut o = opts(&token, SetCurrent::Only);
        let p = plan(&existing, &[&moved, &private, &creating], &o);
        assert!(matches!(
            &p.decisions[0],
            Decision::Moved { updated: false, .. }
        ));
        assert!(
            matches!(&p.decisions[1], Decision::Skipped { reason } if reason.contains("private"))
        );
        assert!(
            matches!(&p.decisions[2], Decision::Skipped { reason } if reason.contains("no API server endpoint"))
        );
        assert!(p.additions.is_empty() && p.moves.is_empty() && p.new_bindings.is_empty());
        o.update = true;
        o.include_private = true;
        let p = plan(&existing, &[&moved, &private], &o);
        assert_eq!(p.moves, [("/k".into(), "train-cwaaaa".into(), A.into())]);
        assert!(matches!(&p.decisions[1], Decision::Add { .. }));
        // The item already has B: only A is new; the holder is reused.
        assert_eq!(p.new_bindings, [binding(A)]);
        assert_eq!(p.user, Some(("me".into(), false)));
        assert!(p.additions.users.is_empty());
    }
}
