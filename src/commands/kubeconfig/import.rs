//! `kubectl coreweave kubeconfig import FILE`: merge a kubeconfig downloaded from the Cloud
//! Console into the file kubectl writes to, under names that stay unique, without touching
//! a byte of what is there.
//!
//! Every Console download names its user `token` and its cluster and context after the
//! cluster, so two downloads listed in `KUBECONFIG` silently share the first file's token.
//! Import renames: each cluster and context after the cluster's name and the organisation
//! in its API host (`<org>-<hash>.k8s.<zone>.coreweave.com`), each user after the context
//! unless a user entry already holds the same token (one user entry per distinct token).
//! What is already there is never overwritten: a context that reaches the same server with
//! the same token is reused (importing twice changes nothing); one with another token is
//! reported, and `--replace-token` rotates it as `token rotate` would.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde_json::Value;

use crate::cli::{ImportArgs, ImportStore, RotateArgs, Verify};
use crate::commands::token::store::open_for_store;
use crate::coreweave::{ApiConfig, Principal};
use crate::kubeconfig::edit::{self, exec_json, Additions, Edit, InteractiveMode};
use crate::kubeconfig::mask::kubeconfig_lines;
use crate::kubeconfig::model::FileConfig;
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::write::{self, PlannedWrite};
use crate::kubeconfig::{load, Kubeconfig};
use crate::secret::{quoted, shown, shown_path, Token};
use crate::transaction;

/// A Console download is a few kilobytes; this leaves room for many clusters.
const MAX_DOWNLOAD: u64 = 1024 * 1024;

/// One context of the download, with what it needs.
struct Incoming {
    context: String,
    cluster: Value,
    context_entry: Value,
    user: Value,
    server: String,
    token: Option<Token>,
    /// What the user entry holds, when it is not a plain token (imported as it is).
    other_credential: Option<&'static str>,
    /// The program an exec entry runs (named in the warning before it is imported).
    exec_command: Option<String>,
}

/// What import decided for one incoming context.
enum Decision {
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

pub fn run(
    paths: &[PathBuf],
    explicit: bool,
    args: &ImportArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (origin, text) = read_download(&args.file)?;
    let incoming = parse_download(&origin, &text, args)?;
    if args.name.is_some() && incoming.len() > 1 {
        bail!(
            "downloaded kubeconfig {origin} has {} contexts; --name names one",
            incoming.len()
        );
    }
    let target = default_target(paths, explicit);

    // The new tokens are proven before anything is locked or written.
    let mut principals = Vec::new();
    if args.verify != Verify::None {
        let mut api = ApiConfig::resolve(
            args.api.api_endpoint.as_deref(),
            args.api.request_timeout.as_deref(),
        )?;
        api.deadline = Some(crate::coreweave::Deadline::after(args.verify_timeout));
        let distinct: BTreeSet<&str> = incoming
            .iter()
            .filter_map(|i| i.token.as_ref().map(Token::expose))
            .collect();
        for t in distinct {
            let token = Token::new(t);
            let p = crate::coreweave::whoami(&api, &token)
                .with_context(|| format!("CoreWeave does not accept the token of {origin} ({token}); nothing was written (--verify none skips this check)"))?;
            principals.push((token, p));
        }
    }

    let existing: Vec<PathBuf> = paths.iter().filter(|p| p.exists()).cloned().collect();
    let plan = |kc: Option<&Kubeconfig>| plan(kc, &incoming, args);
    // The keyring is reached before anything is planned or locked: without one, nothing
    // changes (never a silent fall back to the token in the file).
    let keyring = match args.store {
        ImportStore::Keyring => Some(open_for_store()?),
        ImportStore::Inline => None,
    };

    if args.dry_run {
        let kc = load_existing(&existing)?;
        let Plan {
            decisions,
            additions,
            keyring_items,
        } = plan(kc.as_ref())?;
        report_conflicts(&decisions, args)?;
        let before = read_target(&target)?;
        let after = render(&target, before.as_deref(), &additions)?;
        print_summary(&decisions, &incoming, &principals, &target, args, true, out)?;
        for (item, _, _) in &keyring_items {
            writeln!(
                out,
                "Would write the token to keyring item {} (service {}).",
                quoted(item),
                crate::keystore::SERVICE
            )?;
        }
        if let Some(after) = after {
            let before = before.unwrap_or_default();
            let diff = crate::commands::token::diff::unified(
                &before,
                &after,
                &kubeconfig_lines(&before),
                &kubeconfig_lines(&after),
                &shown_path(&target),
                2,
            );
            for line in diff.lines() {
                writeln!(out, "{line}")?;
            }
        }
        writeln!(out, "Dry run: nothing was written.")?;
        return Ok(());
    }

    let timeout = Duration::from_secs(args.lock_timeout);
    // The lock file sits beside the target, so a new target's folder comes first (0700).
    // What kubectl's writer could not write is refused before anything is created or locked.
    write::check_writable(&target)?;
    create_parent(&target)?;
    let first = plan(load_existing(&existing)?.as_ref())?;
    let scope = transaction::Scope {
        files: [target.clone()].into(),
        items: first
            .keyring_items
            .iter()
            .map(|(i, _, _)| i.clone())
            .collect(),
    };
    drop(keyring);
    // Under the locks (the target file and every item): read everything again and plan
    // from what is really there.
    let (decisions, conflicts, stored) =
        transaction::run(paths, false, scope, timeout, None, |kc, reads| {
            let Plan {
                decisions,
                additions,
                keyring_items,
            } = plan((!kc.files.is_empty()).then_some(kc))?;
            let needed: BTreeSet<String> =
                keyring_items.iter().map(|(i, _, _)| i.clone()).collect();
            if !needed.is_subset(&reads.locked().items) {
                return Ok(transaction::Step::Widen(transaction::Scope {
                    files: reads.locked().files.clone(),
                    items: needed,
                }));
            }
            let conflicts = report_conflicts(&decisions, args)?;
            let before = read_target(&target)?;
            let mut changes = transaction::Changes::default();
            let mut stored = Vec::new();
            if let Some(after) = render(&target, before.as_deref(), &additions)? {
                changes.items = item_changes(reads, &keyring_items)?;
                stored = keyring_items.into_iter().map(|(i, _, _)| i).collect();
                changes.files.push(PlannedWrite {
                    path: target.clone(),
                    original: before.map(|b| std::borrow::Cow::Owned(b.into_bytes())),
                    new: after.into_bytes(),
                });
            }
            Ok(transaction::Step::Commit(
                changes,
                (decisions, conflicts, stored),
            ))
        })?;
    for item in &stored {
        writeln!(
            out,
            "Stored the token in keyring item {} (service {}); the user entry runs `kubectl-coreweave token credential`.",
            quoted(item),
            crate::keystore::SERVICE
        )?;
    }
    print_summary(
        &decisions,
        &incoming,
        &principals,
        &target,
        args,
        false,
        out,
    )?;
    // Same server, another token: rotate's own machinery, every entry holding the old token.
    for (context, new) in conflicts {
        let rotate = RotateArgs {
            verify: args.verify,
            api: args.api.clone(),
            lock_timeout: args.lock_timeout,
            force: args.force,
            verify_timeout: args.verify_timeout,
            yes: true,
            ..RotateArgs::default()
        };
        let sel = Selection {
            context: Some(context),
            user: None,
        };
        crate::commands::token::rotate::rotate(
            paths,
            explicit,
            &sel,
            &rotate,
            Some(crate::commands::token::source::Source::Imported(new)),
            out,
        )?;
    }
    Ok(())
}

/// The download's cluster as an item's binding (server, CA data, TLS server name); none
/// when it cannot be bound (a CA file, no verification, a server that cannot be
/// normalised): the item is then not sent to it, and `token credential` says why.
fn bound(cluster: &Value) -> Vec<crate::keystore::Binding> {
    let c = cluster.get("cluster").unwrap_or(&Value::Null);
    let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
    if !text("certificate-authority").is_empty() {
        return Vec::new();
    }
    crate::commands::token::credential::binding(
        text("server"),
        text("certificate-authority-data"),
        text("tls-server-name"),
        c.get("insecure-skip-tls-verify")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    )
    .ok()
    .into_iter()
    .collect()
}

/// The keyring item of the entry kubectl uses for `user`, when it runs this plugin.
fn stored_reference(kc: &Kubeconfig, user: &str) -> Option<String> {
    let (origin, _) = kc.user(user)?;
    match crate::commands::token::holders::stored_credential(kc, origin)? {
        Ok(crate::kubeconfig::Credential::Keyring { reference, .. }) => Some(reference),
        _ => None,
    }
}

/// Each item the import writes, as read under its lock: a new item holds the token and the
/// download's cluster; an item that holds the same token gains that cluster (the user
/// imports it); one that holds another token is refused, before anything is written.
fn item_changes(
    reads: &transaction::Reads,
    items: &[(String, Token, Vec<crate::keystore::Binding>)],
) -> anyhow::Result<Vec<(String, transaction::ItemChange)>> {
    let mut changes = Vec::new();
    for (item, token, servers) in items {
        crate::keystore::check_reference(item)
            .map_err(|e| anyhow::anyhow!("{e}; choose another name with --name"))?;
        let after = match reads.item(item)? {
            Some(held) if &held.token != token => bail!(
                "keyring item {} already holds another token; choose another name with --name; nothing was written",
                quoted(item)
            ),
            Some(held) => {
                let mut bound = held.servers.clone().unwrap_or_default();
                bound.extend(servers.iter().cloned());
                bound.sort();
                bound.dedup();
                crate::keystore::Item {
                    servers: Some(bound),
                    ..held.clone()
                }
            }
            None => crate::keystore::Item {
                token: token.clone(),
                servers: Some(servers.clone()),
                clients_without_cluster_info: false,
            },
        };
        changes.push((item.clone(), transaction::ItemChange::Put(after)));
    }
    Ok(changes)
}

/// The download's text and how to name it in messages.
fn read_download(file: &Path) -> anyhow::Result<(String, String)> {
    let mut bytes = Vec::new();
    let origin = if file.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_DOWNLOAD + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                anyhow::anyhow!("cannot read standard input: {}", crate::io::io_message(&e))
            })?;
        "from standard input".to_owned()
    } else {
        let name = shown_path(file);
        // Regular files only, opened without blocking (a FIFO named as the download would
        // otherwise hang the command).
        crate::io::open_regular(file)
            .and_then(|f| f.take(MAX_DOWNLOAD + 1).read_to_end(&mut bytes))
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot read downloaded kubeconfig {name}: {}",
                    crate::io::io_message(&e)
                )
            })?;
        name
    };
    if bytes.len() as u64 > MAX_DOWNLOAD {
        bail!("downloaded kubeconfig {origin} is over {MAX_DOWNLOAD} bytes; a Console download is a few kilobytes");
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("downloaded kubeconfig {origin} is not UTF-8 text"))?;
    Ok((origin, text))
}

/// The download's contexts, validated as kubectl would load the file, with their entries
/// kept whole for copying (every key, as kubectl reads it: merge keys applied).
fn parse_download(origin: &str, text: &str, args: &ImportArgs) -> anyhow::Result<Vec<Incoming>> {
    // One parse gives both the model and the entries as data, merge keys applied as
    // kubectl applies them, so what is copied is what kubectl reads.
    let (config, data): (FileConfig, Value) = load::parse_alone_with_data(Path::new(origin), text)?;
    if config.contexts.is_empty() {
        bail!(
            "downloaded kubeconfig {origin} has no contexts: it is not a kubeconfig for a cluster"
        );
    }
    let entry = |list: &str, name: &str| -> Option<Value> {
        data.get(list)?
            .as_array()?
            .iter()
            .find(|e| e.get("name").and_then(Value::as_str).unwrap_or("") == name)
            .cloned()
    };
    let mut incoming = Vec::new();
    for ctx in &config.contexts {
        let name = quoted(&ctx.name);
        let c = ctx.context.clone().unwrap_or_default();
        let cluster_name = c.cluster.unwrap_or_default();
        let user_name = c.user.unwrap_or_default();
        let (Some(mut context_entry), Some(cluster), Some(user)) = (
            entry("contexts", &ctx.name),
            entry("clusters", &cluster_name),
            entry("users", &user_name),
        ) else {
            bail!("downloaded kubeconfig {origin}: context {name} names a cluster or user the file does not define");
        };
        let server = cluster
            .get("cluster")
            .and_then(|c| c.get("server"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if server.is_empty() {
            bail!("downloaded kubeconfig {origin}: cluster of context {name} has no server");
        }
        let u = user.get("user").cloned().unwrap_or(Value::Null);
        let token = u
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(Token::new);
        let exec = u.get("exec").filter(|e| !e.is_null());
        if let Some(exec) = exec {
            if super::runs_plugin::runs_this_plugin(exec) {
                bail!(
                    "downloaded kubeconfig {origin}: user {} (of context {}) runs kubectl-coreweave as its exec credential plugin, which a Console download never does (it would hand a token from this machine's keyring to server {}); refusing it; nothing was written",
                    quoted(&user_name),
                    quoted(&ctx.name),
                    shown(&server)
                );
            }
        }
        let exec_command = exec.map(|e| {
            crate::secret::escape_controls(e.get("command").and_then(Value::as_str).unwrap_or(""))
                .into_owned()
        });
        // CKS's unmanaged-auth endpoint refuses Console API tokens: a token bound for it
        // would fail on every kubectl command, and the user should import the managed one.
        if token.is_some() && crate::coreweave::is_unmanaged_auth_server(&server) {
            bail!(
                "downloaded kubeconfig {origin}: context {name} sends a token to {}, which is {}; import the Console's managed-auth kubeconfig instead; nothing was written",
                shown(&server),
                crate::coreweave::UNMANAGED_AUTH_REASON
            );
        }
        let other_credential = if u.get("tokenFile").is_some() {
            Some("a tokenFile")
        } else if exec.is_some() {
            Some("an exec plugin")
        } else if u.get("client-certificate-data").is_some()
            || u.get("client-certificate").is_some()
        {
            Some("a client certificate")
        } else if u.get("auth-provider").is_some() {
            Some("an auth provider")
        } else if token.is_none() {
            Some("no token")
        } else {
            None
        };
        if let Some(ns) = &args.namespace {
            if let Some(obj) = context_entry
                .get_mut("context")
                .and_then(Value::as_object_mut)
            {
                obj.insert("namespace".into(), Value::String(ns.clone()));
            }
        }
        incoming.push(Incoming {
            context: ctx.name.clone(),
            cluster,
            context_entry,
            user,
            server,
            token,
            other_credential,
            exec_command,
        });
    }
    Ok(incoming)
}

/// The file kubectl writes new entries to (client-go's `GetDefaultFilename`): the
/// `--kubeconfig` file; else the first `KUBECONFIG` file that exists, or the last one when
/// none does; else `~/.kube/config`.
pub(super) fn default_target(paths: &[PathBuf], explicit: bool) -> PathBuf {
    if explicit || paths.len() <= 1 {
        return paths
            .first()
            .cloned()
            .unwrap_or_else(|| PathBuf::from(".kube/config"));
    }
    paths
        .iter()
        .find(|p| p.exists())
        .or(paths.last())
        .cloned()
        .unwrap_or_default()
}

pub(super) fn load_existing(existing: &[PathBuf]) -> anyhow::Result<Option<Kubeconfig>> {
    let existing: Vec<PathBuf> = existing.iter().filter(|p| p.exists()).cloned().collect();
    if existing.is_empty() {
        return Ok(None);
    }
    Ok(Some(Kubeconfig::load(&existing, false)?))
}

pub(super) fn read_target(target: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read(target) {
        Ok(bytes) => Ok(Some(String::from_utf8(bytes).map_err(|_| {
            anyhow::anyhow!("kubeconfig {} is not UTF-8 text", target.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => bail!(
            "cannot read kubeconfig {}: {}",
            target.display(),
            crate::io::io_message(&e)
        ),
    }
}

/// The target's new text, or `None` when nothing changes.
fn render(
    target: &Path,
    before: Option<&str>,
    additions: &Additions,
) -> anyhow::Result<Option<String>> {
    if additions.is_empty() {
        return Ok(None);
    }
    let after = match before {
        Some(text) => edit::apply(text, &[Edit::Append(additions)]),
        None => edit::new_file(additions),
    }
    .map_err(|e| anyhow::anyhow!("kubeconfig {}: {e}; nothing was written", target.display()))?;
    Ok(Some(after))
}

pub(super) fn create_parent(target: &Path) -> anyhow::Result<()> {
    let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create folder {}: {}",
            dir.display(),
            crate::io::io_message(&e)
        )
    })
}

/// What import will do: a decision per incoming context, the entries to append, and with
/// `--store keyring` the items to write first (item, token).
struct Plan {
    decisions: Vec<Decision>,
    additions: Additions,
    /// Item name, token, and the servers the item is bound to.
    keyring_items: Vec<(String, Token, Vec<crate::keystore::Binding>)>,
}

/// Names and entries for every incoming context, against the merged view `kc`.
fn plan(kc: Option<&Kubeconfig>, incoming: &[Incoming], args: &ImportArgs) -> anyhow::Result<Plan> {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut contexts_by_target = Vec::new(); // (context, server, token)
    let mut users_by_token: Vec<(String, Token)> = Vec::new();
    if let Some(kc) = kc {
        for f in &kc.files {
            taken.extend(f.config.clusters.iter().map(|c| c.name.clone()));
            taken.extend(f.config.contexts.iter().map(|c| c.name.clone()));
            taken.extend(f.config.users.iter().map(|u| u.name.clone()));
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
                .and_then(|(origin, _)| {
                    crate::commands::token::holders::credential(kc, origin).ok()
                })
                .map(|cred| cred.token().clone());
            if let Some(server) = server {
                contexts_by_target.push((name.to_owned(), server, token));
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
                            users_by_token.push((u.name.clone(), cred.token().clone()));
                        }
                    }
                }
            }
        }
    }
    let mut decisions = Vec::new();
    let mut additions = Additions::default();
    let mut keyring_items = Vec::new();
    for inc in incoming {
        let same_server = contexts_by_target
            .iter()
            .filter(|(_, s, _)| same_server(s, &inc.server))
            .collect::<Vec<_>>();
        if let Some((ctx, _, _)) = same_server
            .iter()
            .find(|(_, _, t)| t.is_some() && t.as_ref() == inc.token.as_ref())
        {
            decisions.push(Decision::Present {
                context: ctx.clone(),
            });
            continue;
        }
        if let (Some((ctx, _, Some(old))), Some(new)) = (same_server.first(), &inc.token) {
            decisions.push(Decision::Conflict {
                context: ctx.clone(),
                old: old.clone(),
                new: new.clone(),
            });
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
            if args.store == ImportStore::Keyring && inc.other_credential.is_none() {
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
    let had_current = kc
        .and_then(Kubeconfig::current_context)
        .is_some_and(|c| !c.is_empty());
    let first_added = decisions.iter().find_map(|d| match d {
        Decision::Add { context, .. } => Some(context.clone()),
        _ => None,
    });
    let wanted = match (args.set_current, had_current) {
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
    };
    additions.current_context =
        wanted.filter(|w| kc.and_then(Kubeconfig::current_context) != Some(w.as_str()));
    Ok(Plan {
        decisions,
        additions,
        keyring_items,
    })
}

/// The conflicts `--replace-token` resolves (context, new token); without the flag, the
/// first one is an error.
fn report_conflicts(
    decisions: &[Decision],
    args: &ImportArgs,
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
    // The unmanaged-auth endpoint of the same cluster: the managed name, marked.
    if crate::coreweave::is_unmanaged_auth_server(server) {
        if let Some((scheme, rest)) = server.trim().split_once("://") {
            if rest
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("api."))
            {
                let base = derived_name(context, &format!("{scheme}://{}", &rest[4..]));
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

fn unique(base: &str, taken: &BTreeSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|n| !taken.contains(n))
        .unwrap_or_else(|| base.to_owned())
}

#[allow(clippy::too_many_arguments)]
fn print_summary(
    decisions: &[Decision],
    incoming: &[Incoming],
    principals: &[(Token, Principal)],
    target: &Path,
    args: &ImportArgs,
    dry_run: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let verb = if dry_run { "Would add" } else { "Added" };
    for (d, inc) in decisions.iter().zip(incoming) {
        let whose = inc
            .token
            .as_ref()
            .and_then(|t| principals.iter().find(|(pt, _)| pt == t))
            .map(|(_, p)| {
                format!(
                    "; the token belongs to {} in organization {}",
                    shown(&p.uid),
                    shown(&p.org_uid)
                )
            })
            .unwrap_or_default();
        match d {
            Decision::Present { context } => writeln!(
                out,
                "Context {} already reaches {} with this token: nothing to add{whose}.",
                quoted(context),
                shown(&inc.server)
            )?,
            Decision::Conflict { context, old, .. } => writeln!(
                out,
                "Context {} reaches {} with another token ({old}); {} it to {}{whose}.",
                quoted(context),
                shown(&inc.server),
                if dry_run { "would rotate" } else { "rotating" },
                inc.token.as_ref().map(Token::masked).unwrap_or_default(),
            )?,
            Decision::Add {
                context,
                cluster,
                user,
                reuse_user,
            } => {
                writeln!(
                    out,
                    "{verb} context {} (cluster {}, {} {}) for {} to {}{whose}.",
                    quoted(context),
                    quoted(cluster),
                    if *reuse_user { "existing user" } else { "user" },
                    quoted(user),
                    shown(&inc.server),
                    shown_path(target)
                )?;
                if let Some(command) = &inc.exec_command {
                    writeln!(
                        out,
                        "Warning: the user of context {} runs the exec command {}; kubectl will run it before every request to {}.",
                        quoted(&inc.context),
                        quoted(command),
                        shown(&inc.server)
                    )?;
                } else if let Some(what) = inc.other_credential {
                    writeln!(
                        out,
                        "Note: the user of context {} holds {what}, not a CoreWeave token; it was imported as it is.",
                        quoted(&inc.context)
                    )?;
                }
            }
        }
    }
    if args.verify == Verify::None && !dry_run {
        writeln!(
            out,
            "The token was not checked with CoreWeave (--verify none)."
        )?;
    }
    Ok(())
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
}
