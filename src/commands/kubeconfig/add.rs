//! `kubectl coreweave kubeconfig add CLUSTER… | --all`: every CKS cluster of the token's
//! organization as a cluster, a context and (once per token) a user in the file kubectl
//! writes to, from the API alone, as `aws eks update-kubeconfig` and `gcloud … get-credentials`
//! do for theirs. No Console download.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::kubeconfig::model::ByteString;
use anyhow::{bail, Context as _};

use super::add_plan::{self, Decision, Existing, Holder, Plan, Reach, Record, SetCurrent, Store};
use super::import::{create_parent, default_target, load_existing, read_target};
use crate::commands::options::{AddOptions, Keep};
use crate::commands::token::credential::normal_server;
use crate::commands::token::holders;
use crate::commands::token::source::{self, Source};
use crate::coreweave::cks::{list_clusters, CksCluster};
use crate::coreweave::Principal;
use crate::keystore::{Item, Keyring};
use crate::kubeconfig::edit::{self, Edit};
use crate::kubeconfig::mask::kubeconfig_lines;
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::write::{self, PlannedWrite};
use crate::kubeconfig::KubeconfigSource;
use crate::kubeconfig::{Credential, Kubeconfig};
use crate::secret::{quoted, shown, shown_path, Token};
use crate::transaction;

/// The order: the token (the active context's, or rotate's sources) proven by whoami; one
/// `GET /v1beta1/cks/clusters`; a snapshot of the kubeconfig files (names, servers, CKS
/// records, who holds the token) and the plan from it (`add_plan.rs`, data only); new
/// keyring bindings listed and confirmed; then the write in `commit`, the one transaction
/// (files and the item locked, read again, planned again, item and files committed
/// together), with the same editor, proof and diff as `import`.
pub fn run(
    source: &KubeconfigSource,
    sel: &Selection,
    args: &AddOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut api = args.api.resolve()?;
    api.deadline = Some(crate::coreweave::Deadline::after(args.verify_timeout));
    let target = default_target(source);
    let existing_paths = source.existing();
    let kc = load_existing(&existing_paths)?;
    let (token, origin) = token_for(kc.as_ref(), sel, args)?;
    let principal = crate::coreweave::whoami(&api, &token).with_context(|| {
        format!("CoreWeave does not accept the token from {origin} ({token}); nothing was written")
    })?;
    let listed = list_clusters(&api, &token)?;
    let chosen = choose(&listed, args, &principal)?;
    let snapshot = existing(kc.as_ref(), &token)?;
    let (store, store_note) = store_for(args, snapshot.holder.is_some());
    let command = edit::exec_command(args.bare_command)?;
    let opts = add_plan::Options {
        org: &principal.org_uid,
        token: &token,
        store,
        include_private: args.include_private,
        update: args.update,
        namespace: args.namespace.as_deref(),
        set_current: match (&args.set_current, args.no_set_current, args.all) {
            (Some(name), _, _) => SetCurrent::Named(name.clone()),
            (None, true, _) | (None, false, true) => SetCurrent::No,
            (None, false, false) => SetCurrent::Only,
        },
        exec_command: &command,
    };
    let plan = add_plan::plan(&snapshot, &chosen, &opts);
    let whose = (&token, &principal);
    let note = store_note.as_deref();
    if args.dry_run {
        print_summary(&plan, &chosen, whose, &target, note, true, out)?;
        return print_dry_run(&target, &plan, out);
    }
    let confirmed = confirm_bindings(&plan, args.yes, out)?;
    // The keyring is reached before anything is locked: without one, nothing changes.
    if item_of(&plan).is_some() {
        drop(crate::commands::token::store::open_for_store()?);
    }
    let replan = |kc: Option<&Kubeconfig>| -> anyhow::Result<Plan> {
        Ok(add_plan::plan(&existing(kc, &token)?, &chosen, &opts))
    };
    let writing = Writing {
        target: &target,
        source,
        timeout: args.lock_timeout,
        confirmed: &confirmed,
        token: &token,
    };
    let written = commit(plan, snapshot.read_outside, kc, &writing, &replan)?;
    print_summary(&written, &chosen, whose, &target, note, false, out)
}

/// `--dry-run`: the keyring item to bind, and each file's diff with credentials masked.
fn print_dry_run(target: &Path, plan: &Plan, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(item) = &plan.bound_item {
        writeln!(
            out,
            "Would bind keyring item {} to the new servers.",
            quoted(item)
        )?;
    }
    for (path, before, after) in render(&edits_by_file(target, plan), None)? {
        let before = before.unwrap_or_default();
        let diff = crate::commands::token::diff::unified(
            &before,
            &after,
            &kubeconfig_lines(&before),
            &kubeconfig_lines(&after),
            &shown_path(&path),
            2,
        );
        for line in diff.lines() {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out, "Dry run: nothing was written.")?;
    Ok(())
}

/// The token and where it came from: a source flag, else the active context's CoreWeave
/// token, else the prompt when a person is at the terminal.
fn token_for(
    kc: Option<&Kubeconfig>,
    sel: &Selection,
    args: &AddOptions,
) -> anyhow::Result<(Token, String)> {
    let flag = args.source.clone();
    if flag.is_none() {
        let active = kc.and_then(|kc| {
            let r = kc.resolve(sel).ok()?;
            let c = holders::credential(kc, r.user_origin).ok()?;
            Some((c.token().clone(), format!("context {}", quoted(&r.context))))
        });
        if let Some((token, origin)) = active.filter(|(t, _)| t.is_coreweave()) {
            return Ok((token, origin));
        }
    }
    let source = match flag {
        Some(s) => s,
        None if std::io::stdin().is_terminal() => Source::Prompt,
        None => bail!("the active context holds no CoreWeave token and stdin is not a terminal; pass --from-stdin, --from-file PATH, --from-kubeconfig PATH or --from-command CMD"),
    };
    let token = source::without_bom(source::fetch(&source)?);
    source::validate(&token, &Token::new(""), &source.describe(), false)?;
    Ok((token, source.describe()))
}

/// The clusters asked for, in the order given (`--all`: the API's order).
fn choose<'a>(
    listed: &'a [CksCluster],
    args: &AddOptions,
    principal: &Principal,
) -> anyhow::Result<Vec<&'a CksCluster>> {
    if let Some(name) = &args.set_current {
        let among = listed
            .iter()
            .find(|c| &c.name == name || &c.id == name)
            .is_some_and(|c| args.all || args.clusters.iter().any(|w| w == &c.id || w == &c.name));
        if !among {
            bail!(
                "--set-current {}: no such cluster among those to add; nothing was written",
                quoted(name)
            );
        }
    }
    if args.all {
        return Ok(listed.iter().collect());
    }
    let mut chosen: Vec<&CksCluster> = Vec::new();
    for wanted in &args.clusters {
        let c = listed
            .iter()
            .find(|c| &c.id == wanted)
            .or_else(|| listed.iter().find(|c| &c.name == wanted))
            .with_context(|| {
                format!(
                    "organization {} has no cluster named {} (`kubectl coreweave cluster list` lists them); nothing was written",
                    shown(&principal.org_uid),
                    quoted(wanted)
                )
            })?;
        if !chosen.iter().any(|k| k.id == c.id) {
            chosen.push(c);
        }
    }
    Ok(chosen)
}

/// Where a new token goes: `--store`, else the keyring when one answers (the note says why
/// not otherwise). Irrelevant when a user entry already holds the token.
fn store_for(args: &AddOptions, held: bool) -> (Store, Option<String>) {
    match (args.store, held) {
        (Some(Keep::Keyring), _) => (Store::Keyring, None),
        (Some(Keep::Inline), _) | (None, true) => (Store::Inline, None),
        (None, false) => {
            let probe = Keyring::open().and_then(|k| k.find("kubectl-coreweave-probe").map(|_| ()));
            match probe {
                Ok(()) => (Store::Keyring, None),
                Err(e) => (
                    Store::Inline,
                    Some(format!(
                        "no OS keyring answered ({e}), so the token is kept inline"
                    )),
                ),
            }
        }
    }
}

/// What the files hold that the plan depends on: every name, each merged context's server
/// and whether its user holds `token`, the CKS records, the holder of `token`.
fn existing(kc: Option<&Kubeconfig>, token: &Token) -> anyhow::Result<Existing> {
    let Some(kc) = kc else {
        return Ok(Existing::default());
    };
    let count = |n: fn(&crate::kubeconfig::model::FileConfig) -> usize| -> usize {
        kc.files.iter().map(|f| n(&f.config)).sum()
    };
    let users = count(|c| c.users.len());
    let mut found = Existing {
        current_context: kc.current_context().map(str::to_owned),
        taken: HashSet::with_capacity(count(|c| c.clusters.len() + c.contexts.len()) + users),
        ..Existing::default()
    };
    let mut holds: HashMap<&str, bool> = HashMap::with_capacity(users);
    for f in &kc.files {
        found
            .taken
            .extend(f.config.clusters.iter().map(|c| c.name.to_string()));
        found
            .taken
            .extend(f.config.contexts.iter().map(|c| c.name.to_string()));
        for u in &f.config.users {
            found.taken.insert(u.name.to_string());
            if holds.contains_key(&*u.name) {
                continue;
            }
            // The entry kubectl uses for this name; a keyring item is read to compare.
            let merged = kc.user(&u.name);
            found.read_outside |= merged.is_some_and(|(_, m)| {
                m.user.as_ref().is_some_and(|m| {
                    m.exec.is_some() || m.token_file.as_deref().is_some_and(|f| !f.is_empty())
                })
            });
            let credential = merged.and_then(|(origin, _)| holders::credential(kc, origin).ok());
            let same = credential.as_ref().is_some_and(|c| c.token() == token);
            holds.insert(&u.name, same);
            if same && found.holder.is_none() {
                let item = match credential {
                    Some(Credential::Keyring { reference, .. }) => {
                        let servers = crate::keystore::read_once(&reference)
                            .map(|i| i.servers.unwrap_or_default())
                            .unwrap_or_default();
                        Some((reference, servers))
                    }
                    _ => None,
                };
                found.holder = Some(Holder {
                    user: u.name.to_string(),
                    item,
                });
            }
        }
    }
    for (name, ctx) in kc.contexts() {
        let c = ctx.context.as_ref();
        let server = c
            .and_then(|c| c.cluster.as_deref())
            .and_then(|cl| kc.cluster(cl))
            .and_then(|(_, cl)| cl.cluster.as_ref()?.server.as_deref())
            .and_then(|s| normal_server(s).ok());
        if let Some(server) = server {
            let user = c.and_then(|c| c.user.as_deref()).unwrap_or("");
            found.reach.push(Reach {
                context: name.to_owned(),
                server,
                same_token: holds.get(user).copied().unwrap_or(false),
            });
        }
    }
    for f in kc
        .files
        .iter()
        .filter(|f| f.text.contains(add_plan::CLUSTER_EXTENSION))
    {
        found.records.extend(records(&f.path, &f.text)?);
    }
    Ok(found)
}

/// The cluster entries of one file that carry the CKS record (read as kubectl reads them).
fn records(path: &Path, text: &str) -> anyhow::Result<Vec<Record>> {
    let (_, data) = crate::kubeconfig::load::parse_alone_with_data(path, text)?;
    let mut found = Vec::new();
    for c in data
        .get("clusters")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
    {
        let cluster = c.get("cluster");
        let id = cluster
            .and_then(|c| c.get("extensions"))
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
            .find(|e| e.get("name").and_then(|n| n.as_str()) == Some(add_plan::CLUSTER_EXTENSION))
            .and_then(|e| e.get("extension")?.get("id")?.as_str());
        let server = cluster
            .and_then(|c| c.get("server"))
            .and_then(|s| s.as_str())
            .and_then(|s| normal_server(s).ok());
        let name = c.get("name").and_then(|n| n.as_str());
        if let (Some(id), Some(server), Some(name)) = (id, server, name) {
            found.push(Record {
                file: path.to_path_buf(),
                entry: name.to_owned(),
                id: id.to_owned(),
                server,
            });
        }
    }
    Ok(found)
}

/// Lists the servers the holder's keyring item would newly be sent to and asks, unless
/// `--yes`; without a terminal to ask at, refuses. Returns the bindings agreed to.
fn confirm_bindings(
    plan: &Plan,
    yes: bool,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<crate::keystore::Binding>> {
    let Some(item) = plan.bound_item.as_deref() else {
        return Ok(Vec::new());
    };
    writeln!(
        out,
        "Keyring item {} would also be sent to these servers (publicly trusted: the system's roots, no CA, no proxy):",
        quoted(item)
    )?;
    for b in &plan.new_bindings {
        writeln!(out, "  {}", shown(&b.server))?;
    }
    out.flush()?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "binding keyring item {} to new servers needs confirmation and stdin is not a terminal; pass --yes; nothing was written",
                quoted(item)
            );
        }
        source::confirm("Bind the item to them?")?;
    }
    Ok(plan.new_bindings.clone())
}

/// The files the plan writes, each with its edits: the target gets the new entries, any
/// file holding a moved cluster's entry its new server.
fn edits_by_file<'p>(target: &Path, plan: &'p Plan) -> Vec<(PathBuf, Vec<Edit<'p>>)> {
    let mut files: Vec<(PathBuf, Vec<Edit<'p>>)> = Vec::new();
    if !plan.additions.is_empty() {
        files.push((target.to_path_buf(), vec![Edit::Append(&plan.additions)]));
    }
    for (file, entry, server) in &plan.moves {
        let edit = Edit::Server {
            cluster: entry,
            server,
        };
        match files.iter_mut().find(|(f, _)| f == file) {
            Some((_, edits)) => edits.push(edit),
            None => files.push((file.clone(), vec![edit])),
        }
    }
    files
}

/// Each file's bytes before and after (a new target: none before).
fn render(
    files: &[(PathBuf, Vec<Edit<'_>>)],
    kc: Option<&Kubeconfig>,
) -> anyhow::Result<Vec<(PathBuf, Option<ByteString>, ByteString)>> {
    let mut out = Vec::new();
    for (path, edits) in files {
        // A file the loader read is edited from that reading (not read or checked again).
        let loaded = kc.and_then(|kc| kc.files.iter().find(|f| &f.path == path));
        let (before, after) = match loaded {
            Some(f) => (Some(f.text.clone()), edit::apply_loaded(f, edits)),
            None => {
                let before = read_target(path)?;
                let after = match (&before, edits.as_slice()) {
                    (Some(text), _) => edit::apply(text, edits),
                    (None, [Edit::Append(additions)]) => edit::new_file(additions),
                    (None, _) => bail!(
                        "kubeconfig {} disappeared; nothing was written",
                        shown_path(path)
                    ),
                };
                (before.map(ByteString::from), after.map(ByteString::from))
            }
        };
        let after = after.map_err(|e| {
            anyhow::anyhow!("kubeconfig {}: {e}; nothing was written", shown_path(path))
        })?;
        out.push((path.clone(), before, after));
    }
    Ok(out)
}

/// What the write needs besides the plan: where, how long to wait for locks, the bindings
/// the user agreed to and the token.
struct Writing<'a> {
    target: &'a Path,
    /// The files kubectl reads (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`).
    source: &'a KubeconfigSource,
    timeout: Duration,
    confirmed: &'a [crate::keystore::Binding],
    token: &'a Token,
}

/// The write, in the one transaction: the target (and any file a moved cluster's entry is
/// in, as the `unlocked` plan says) and the token's keyring item locked, everything read
/// again (the first reading `first` is kept when the files still hold its bytes, as rotate
/// keeps it), planned again, then the item (compare-and-swap) and the files, both put back
/// if anything fails. Returns the plan that was written.
///
/// The plan is a function of the snapshot, the clusters and the options: when the first
/// reading is kept and its snapshot read nothing outside the files (`read_outside`: no
/// `tokenFile`, no keyring), planning again would give `unlocked` back, so it is used as
/// it is (at 2,000 contexts the snapshot and the plan are a third of the command).
fn commit(
    unlocked: Plan,
    read_outside: bool,
    first: Option<Kubeconfig>,
    w: &Writing<'_>,
    replan: &dyn Fn(Option<&Kubeconfig>) -> anyhow::Result<Plan>,
) -> anyhow::Result<Plan> {
    let files: BTreeSet<PathBuf> = edits_by_file(w.target, &unlocked)
        .into_iter()
        .map(|(f, _)| f)
        .chain([w.target.to_path_buf()])
        .collect();
    for f in &files {
        write::check_writable(f)?;
    }
    create_parent(w.target)?;
    let scope = transaction::Scope {
        files,
        items: item_of(&unlocked).into_iter().collect(),
    };
    let existing = KubeconfigSource {
        paths: w.source.existing(),
        explicit: None,
    };
    let mut settled = (!read_outside).then_some(unlocked);
    transaction::run(&existing, scope.clone(), w.timeout, first, |kc, reads| {
        let kc = (!kc.files.is_empty()).then_some(kc);
        let plan = match settled.take().filter(|_| reads.first_kept()) {
            Some(plan) => plan,
            None => replan(kc)?,
        };
        let edits = edits_by_file(w.target, &plan);
        if edits.iter().any(|(f, _)| !scope.files.contains(f))
            || plan.new_bindings.iter().any(|b| !w.confirmed.contains(b))
            || item_of(&plan).is_some_and(|i| !scope.items.contains(&i))
        {
            bail!(
                "the kubeconfig changed while adding; nothing was written (run the command again)"
            );
        }
        let rendered = render(&edits, kc)?;
        let mut changes = transaction::Changes::default();
        if !rendered.is_empty() {
            changes.items = item_changes(reads, &plan, w.token)?;
            changes.files = rendered
                .into_iter()
                .map(|(path, before, after)| PlannedWrite {
                    path,
                    original: before.map(ByteString::into_bytes),
                    new: after.into_bytes(),
                })
                .collect();
        }
        Ok(transaction::Step::Commit(changes, plan))
    })
}

/// The keyring item the plan writes: a new token's, or the holder's that gains bindings.
fn item_of(plan: &Plan) -> Option<String> {
    match (&plan.new_item, &plan.bound_item) {
        (Some((item, _)), _) => Some(item.clone()),
        (None, Some(item)) => Some(item.clone()),
        (None, None) => None,
    }
}

/// The keyring half of the plan, from the item as read under its lock: a token no user
/// entry held gets its own item (refused when the item holds another token), bound to the
/// new clusters' servers; the holder's item gains the new servers, its token still the one
/// added.
fn item_changes(
    reads: &transaction::Reads,
    plan: &Plan,
    token: &Token,
) -> anyhow::Result<Vec<(String, transaction::ItemChange)>> {
    let with = |held: &Item, added: &[crate::keystore::Binding]| {
        let mut all = held.servers.clone().unwrap_or_default();
        all.extend(added.iter().cloned());
        all.sort();
        all.dedup();
        Item {
            servers: Some(all),
            ..held.clone()
        }
    };
    let (item, after) = if let Some((item, servers)) = &plan.new_item {
        crate::keystore::check_reference(item)?;
        let after = match reads.item(item)? {
            Some(h) if &h.token != token => bail!(
                "keyring item {} already holds another token; nothing was written",
                quoted(item)
            ),
            Some(h) => with(h, servers),
            None => Item {
                token: token.clone(),
                servers: Some(servers.clone()),
                clients_without_cluster_info: false,
            },
        };
        (item, after)
    } else if let Some(item) = &plan.bound_item {
        let held = reads.item(item)?.filter(|h| &h.token == token);
        let Some(held) = held else {
            bail!(
                "keyring item {} changed while adding; nothing was written",
                quoted(item)
            );
        };
        (item, with(held, &plan.new_bindings))
    } else {
        return Ok(Vec::new());
    };
    Ok(vec![(item.clone(), transaction::ItemChange::Put(after))])
}

/// What was (or would be) done, one line per cluster, written into one buffer and out in
/// one write (a line per cluster is a thousand lines for `--all` of a large org).
fn print_summary(
    plan: &Plan,
    clusters: &[&CksCluster],
    whose: (&Token, &Principal),
    target: &Path,
    store_note: Option<&str>,
    dry_run: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let (token, principal) = whose;
    let (add, moved) = if dry_run {
        ("Would add", "would be rewritten")
    } else {
        ("Added", "was rewritten")
    };
    let user = plan.user.as_ref();
    let (target_shown, user_quoted) = (
        shown_path(target),
        quoted(user.map_or("", |u| u.0.as_str())),
    );
    let mut text = String::with_capacity(clusters.len() * 160 + 256);
    for (c, d) in clusters.iter().zip(&plan.decisions) {
        let name = quoted(&c.name);
        match d {
            Decision::Add { context } => writeln!(
                text,
                "{add} context {} for cluster {name} ({}) to {target_shown}, user {user_quoted}.",
                quoted(context),
                shown(c.server.as_deref().unwrap_or("")),
            )?,
            Decision::Present {
                context,
                same_token,
            } => writeln!(
                text,
                "Cluster {name} is already reached by context {}{}.",
                quoted(context),
                if *same_token {
                    ""
                } else {
                    " (with another credential)"
                }
            )?,
            Decision::Moved {
                entry,
                file,
                from,
                to,
                updated,
            } => writeln!(
                text,
                "Cluster {name} moved from {} to {}: cluster entry {} in {} {}.",
                shown(from),
                shown(to),
                quoted(entry),
                shown_path(file),
                if *updated {
                    moved
                } else {
                    "is left as it is (--update rewrites its server)"
                }
            )?,
            Decision::Skipped { reason } => {
                writeln!(text, "Skipped cluster {name}: {}.", shown(reason))?
            }
        }
    }
    if let Some(c) = &plan.additions.current_context {
        let verb = if dry_run { "Would switch" } else { "Switched" };
        writeln!(text, "{verb} current-context to {}.", quoted(c))?;
    }
    if let Some((u, new)) = user {
        let kept = match (&plan.new_item, new) {
            (Some((item, _)), _) => format!("kept in the OS keyring (item {})", quoted(item)),
            (None, true) => "kept inline in the user entry".to_string(),
            (None, false) => "already held by this user entry".to_string(),
        };
        writeln!(
            text,
            "The token ({}) belongs to {} in organization {}; user {}: {kept}{}.",
            token,
            shown(&principal.uid),
            shown(&principal.org_uid),
            quoted(u),
            store_note.map(|n| format!("; {n}")).unwrap_or_default()
        )?;
    } else if !dry_run && plan.additions.is_empty() && plan.moves.is_empty() {
        writeln!(text, "Nothing to add; {target_shown} is unchanged.")?;
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}
