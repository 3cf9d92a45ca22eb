//! `kubectl coreweave token store` and `token unstore`: move the active user's token from
//! the kubeconfig into the OS keyring (the user entry then runs `kubectl-coreweave token
//! credential ITEM`), and back.
//!
//! The order keeps the token safe at every step: the keyring item is written and read back
//! before any file changes; files are locked, read again and planned from what is really
//! there (the exec editor proves each edit), then committed with rollback, as `rotate`
//! does. Where no keyring is reachable nothing changes: the command refuses, it never falls
//! back to a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::commands::options::{Interactive, StoreOptions};
use crate::commands::token::holders;
use crate::keystore::{check_reference, Binding, Item, Keyring, KeyringError};
use crate::kubeconfig::edit::{self, Edit, ExecKind, InteractiveMode};
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::write::PlannedWrite;
use crate::kubeconfig::KubeconfigSource;
use crate::kubeconfig::{Credential, Kubeconfig};
use crate::secret::{quoted, shown, Token};
use crate::transaction::{self, ItemChange};

/// One user entry to change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Target {
    file: PathBuf,
    user: String,
}

pub fn store(
    source: &KubeconfigSource,
    sel: &Selection,
    args: &StoreOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let timeout = args.lock_timeout;
    let kc = source.load_settled(timeout)?;
    let resolved = kc.resolve(sel)?;
    let active = resolved.user_origin;
    let active_file = kc.path(active.file).to_path_buf();
    let token = match held_by(&kc, &resolved, &active_file)? {
        Held::Inline(t) => t,
        Held::Item(reference) => return rebind(source, &kc, &resolved, &reference, args, out),
    };
    let reference = args.item.clone().unwrap_or_else(|| resolved.user.clone());
    check_reference(&reference)
        .map_err(|e| anyhow::anyhow!("{e}; choose an item name with --item"))?;
    let mode = match args.interactive_mode {
        Interactive::IfAvailable => InteractiveMode::IfAvailable,
        Interactive::Never => InteractiveMode::Never,
    };
    let targets = store_targets(
        &kc,
        active,
        &token,
        args.all,
        resolved.server.as_deref(),
        args.force,
    )?;
    let command = edit::exec_command(args.bare_command)?;
    let storing = Storing {
        reference: &reference,
        token: &token,
        targets: &targets,
        mode,
        command: &command,
        args,
    };

    let keyring = open_for_store()?;
    let existing = storing.bindings_held(&keyring)?;
    let approved = approve_bindings(
        &kc,
        &targets,
        &resolved.context,
        &existing,
        &reference,
        args,
        out,
    )?;
    if args.dry_run {
        return storing.dry_run(&kc, out);
    }
    drop(kc);
    drop(keyring);

    let scope = transaction::Scope {
        files: targets.iter().map(|t| t.file.clone()).collect(),
        items: [reference.clone()].into(),
    };
    let bound = transaction::run(source, scope, timeout, None, |kc, reads| {
        let still = kc
            .all_users()
            .find(|(s, u)| kc.path(s.file) == active_file && u.name == resolved.user)
            .and_then(|(s, _)| kc.credential(s).ok())
            .is_some_and(|c| matches!(&c, Credential::Inline(t) if t == &token));
        if !still {
            bail!(
                "the token of user {:?} changed on disk while storing; nothing was written",
                resolved.user
            );
        }
        storing.under_lock(kc, reads, &approved)
    })?;
    storing.print_stored(&bound, out)
}

/// Where the active user's token is: inline (to be stored), or already in a keyring item of
/// this plugin's (to be bound to more clusters).
enum Held {
    Inline(Token),
    Item(String),
}

/// The active user's token as `token store` takes it; a token file is refused.
fn held_by(
    kc: &Kubeconfig,
    resolved: &crate::kubeconfig::resolve::Resolved,
    active_file: &Path,
) -> anyhow::Result<Held> {
    let active = resolved.user_origin;
    match kc.credential(active) {
        Ok(Credential::Inline(t)) => Ok(Held::Inline(t)),
        Ok(Credential::File { path, .. }) => bail!(
            "user {:?} (in {}) keeps its token in tokenFile {}; `token store` moves inline tokens only",
            resolved.user,
            active_file.display(),
            path.display()
        ),
        Ok(Credential::Keyring { reference, .. }) => Ok(Held::Item(reference)),
        Err(e) => {
            if let Some(ExecKind::Plugin { reference }) = kc.files[active.file].config.users
                [active.index]
                .user
                .as_ref()
                .and_then(|u| u.exec_kind())
            {
                return Ok(Held::Item(reference));
            }
            Err(e.into())
        }
    }
}

/// One `token store`: the token, the item it goes to, and the user entries that will run
/// the plugin instead.
struct Storing<'a> {
    reference: &'a str,
    token: &'a Token,
    targets: &'a [Target],
    mode: InteractiveMode,
    command: &'a str,
    args: &'a StoreOptions,
}

impl<'a> Storing<'a> {
    /// Each target's token replaced by the exec entry, proven by the editor.
    fn plan(&self, kc: &Kubeconfig) -> anyhow::Result<Vec<PlannedWrite>> {
        plan_writes(kc, self.targets, |user| Edit::TokenToExec {
            user,
            reference: self.reference,
            mode: self.mode,
            command: self.command,
        })
    }

    /// The bindings the item already has; an item that holds another token is refused.
    fn bindings_held(&self, keyring: &Keyring) -> anyhow::Result<Vec<Binding>> {
        let held = keyring.find_item(self.reference)?;
        if held.as_ref().is_some_and(|h| &h.token != self.token) {
            bail!(
                "keyring item {:?} already holds another token; choose another item with --item, or `token unstore` the users that use it",
                self.reference
            );
        }
        Ok(held.and_then(|h| h.servers).unwrap_or_default())
    }

    fn dry_run(&self, kc: &Kubeconfig, out: &mut dyn Write) -> anyhow::Result<()> {
        let writes = self.plan(kc)?;
        writeln!(
            out,
            "Would write the token to keyring item {} (service {}) and change {}:",
            quoted(self.reference),
            crate::keystore::SERVICE,
            count(self.targets.len(), "user entry", "user entries")
        )?;
        print_targets(self.targets, out)?;
        print_diff(&writes, out)?;
        writeln!(out, "Dry run: nothing was written.")?;
        Ok(())
    }

    /// Under the locks: the entries' edits and the item, with the token and its bindings
    /// (those it had and those approved). Returns the bindings it ends with.
    fn under_lock(
        &self,
        kc: &Kubeconfig,
        reads: &transaction::Reads,
        approved: &[Binding],
    ) -> anyhow::Result<transaction::Step<Vec<Binding>>> {
        let (reference, token, args) = (self.reference, self.token, self.args);
        let writes = self.plan(kc)?;
        let item = match reads.item(reference)? {
            Some(h) if &h.token != token => bail!(
                "keyring item {reference:?} was given another token while storing (a rotate?); nothing was written"
            ),
            Some(h) => Item {
                servers: Some(with(h.servers.as_deref().unwrap_or_default(), approved)),
                clients_without_cluster_info: without_cluster_info(args, h),
                ..h.clone()
            },
            None => Item {
                token: token.clone(),
                servers: Some(with(&[], approved)),
                clients_without_cluster_info: args.allow_clients_without_cluster_info,
            },
        };
        let bound = item.servers.clone().unwrap_or_default();
        let changes = transaction::Changes {
            files: writes,
            items: vec![(reference.to_owned(), ItemChange::Put(item))],
        };
        Ok(transaction::Step::Commit(changes, bound))
    }

    fn print_stored(&self, bound: &[Binding], out: &mut dyn Write) -> anyhow::Result<()> {
        writeln!(
            out,
            "Stored the token in keyring item {} (service {}); {} now run `kubectl-coreweave token credential {}`:",
            quoted(self.reference),
            crate::keystore::SERVICE,
            count(self.targets.len(), "user entry", "user entries"),
            shown(self.reference)
        )?;
        print_targets(self.targets, out)?;
        writeln!(
            out,
            "`token credential` sends it only to {}.",
            shown_servers(bound)
        )?;
        writeln!(out, "Undo with `kubectl coreweave token unstore`.")?;
        Ok(())
    }
}

/// `existing` and `added`, each binding once, in order.
fn with(existing: &[Binding], added: &[Binding]) -> Vec<Binding> {
    let mut all: Vec<Binding> = existing.iter().chain(added).cloned().collect();
    all.sort();
    all.dedup();
    all
}

/// The item's setting for callers that name no cluster: as the flags say, else as it was.
fn without_cluster_info(args: &StoreOptions, held: &Item) -> bool {
    if args.allow_clients_without_cluster_info {
        true
    } else if args.deny_clients_without_cluster_info {
        false
    } else {
        held.clients_without_cluster_info
    }
}

/// The bindings `store` adds to the item. The selected context's cluster is bound as the
/// user asked; every other context naming the stored users (another file on KUBECONFIG,
/// `--all`) is listed with what it trusts (server, CA fingerprint, TLS server name, proxy,
/// the file that defines it) and bound only when the user confirms, or passes `--yes`.
/// A CoreWeave managed endpoint is publicly trusted: a cluster entry that gives one its own
/// certificate authority is how a hostile file would read the token, so it is not bound
/// without `--force` (an error for the selected context, a note for the others).
fn approve_bindings(
    kc: &Kubeconfig,
    targets: &[Target],
    selected: &str,
    existing: &[Binding],
    reference: &str,
    args: &StoreOptions,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<Binding>> {
    // The selected context first (with --user it need not name the stored user).
    let mut found = holders::bindings_of(kc, &[selected.to_owned()], &mut std::io::sink())?;
    found.extend(holders::context_bindings(
        kc,
        targets.iter().map(|t| (t.file.as_path(), t.user.as_str())),
        out,
    )?);
    let mut approved = Vec::new();
    let mut to_ask: Vec<holders::ContextBinding> = Vec::new();
    for cb in found {
        if existing.contains(&cb.binding) || approved.contains(&cb.binding) {
            continue;
        }
        let pinned_public = crate::coreweave::is_coreweave_server(&cb.binding.server)
            && !cb.binding.ca_sha256.is_empty();
        if pinned_public && !args.force {
            let why = format!(
                "its cluster {} is a CoreWeave managed endpoint, which is publicly trusted, but {} gives it its own certificate authority (SHA-256 {}); pass --force if you trust that file",
                shown(&cb.binding.server),
                crate::secret::shown_path(&cb.cluster_file),
                cb.binding.ca_sha256
            );
            if cb.context == selected {
                bail!(
                    "context {} is not bound: {why}; nothing was written",
                    quoted(&cb.context)
                );
            }
            writeln!(
                out,
                "Note: context {} is not bound: {why}",
                quoted(&cb.context)
            )?;
            continue;
        }
        if cb.context == selected {
            approved.push(cb.binding);
        } else {
            to_ask.push(cb);
        }
    }
    to_ask.retain(|cb| !approved.contains(&cb.binding));
    if to_ask.is_empty() {
        return Ok(approved);
    }
    writeln!(
        out,
        "Keyring item {} would also be sent to the clusters of {} (each a new binding):",
        quoted(reference),
        count(to_ask.len(), "other context", "other contexts")
    )?;
    for cb in &to_ask {
        writeln!(out, "  {}", describe_binding(cb))?;
    }
    if !args.dry_run && !args.yes {
        use std::io::IsTerminal as _;
        if !std::io::stdin().is_terminal() {
            bail!(
                "token store would bind {} (listed above); pass --yes to bind them, or run it in each context you want bound; nothing was written",
                count(to_ask.len(), "more cluster", "more clusters")
            );
        }
        super::source::confirm(&format!(
            "Bind keyring item {} to {} as well?",
            quoted(reference),
            count(to_ask.len(), "more cluster", "more clusters")
        ))?;
    }
    approved.extend(to_ask.into_iter().map(|cb| cb.binding));
    Ok(approved)
}

/// One line per new binding: everything that decides who can read the token.
fn describe_binding(cb: &holders::ContextBinding) -> String {
    let b = &cb.binding;
    let ca = if b.ca_sha256.is_empty() {
        "the system's roots".to_string()
    } else {
        format!("CA SHA-256 {}", b.ca_sha256)
    };
    let or_none = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(shown).unwrap_or("-".into());
    format!(
        "{} ({ca}, tls-server-name {}, proxy-url {}) of context {} in {}",
        shown(&b.server),
        or_none(Some(&b.tls_server_name)),
        or_none(cb.proxy_url.as_deref()),
        quoted(&cb.context),
        crate::secret::shown_path(&cb.cluster_file)
    )
}

/// `token store` for a user already stored: bind its item to the selected context's cluster
/// (and, confirmed, the others naming its users; with `--all`, of every entry that reads the
/// item), and write the entries again as `store` writes them now (`provideClusterInfo:
/// true`, the installed path unless `--bare-command`). This is the one-command fix for
/// entries and items from before bindings. The token is the item's, as read under its lock.
fn rebind(
    source: &KubeconfigSource,
    kc: &Kubeconfig,
    resolved: &crate::kubeconfig::resolve::Resolved,
    reference: &str,
    args: &StoreOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (active, selected) = (resolved.user_origin, resolved.context.as_str());
    let timeout = args.lock_timeout;
    let active_file = kc.path(active.file).to_path_buf();
    let user = kc.files[active.file].config.users[active.index]
        .name
        .clone();
    if args.item.as_deref().is_some_and(|i| i != reference) {
        bail!(
            "user {user:?} (in {}) is already stored in keyring item {reference:?}; `token unstore` it first to move it to another item",
            active_file.display()
        );
    }
    let mode = match args.interactive_mode {
        Interactive::IfAvailable => InteractiveMode::IfAvailable,
        Interactive::Never => InteractiveMode::Never,
    };
    let targets = unstore_targets(kc, &active_file, &user, reference, args.all)?;
    let command = edit::exec_command(args.bare_command)?;
    let keyring = open_for_store()?;
    let item = keyring.get_item(reference)?;
    let plan = |kc: &Kubeconfig, token: &Token| {
        rewrite_entries(kc, &targets, token, reference, mode, &command)
    };
    let existing = item.servers.clone().unwrap_or_default();
    let approved = approve_bindings(kc, &targets, selected, &existing, reference, args, out)?;
    if args.dry_run {
        let shown_servers = shown_servers(&with(&existing, &approved));
        let writes = plan(kc, &item.token)?;
        writeln!(
            out,
            "Would bind keyring item {} (service {}) to {shown_servers} and rewrite {}:",
            quoted(reference),
            crate::keystore::SERVICE,
            count(writes.len(), "file", "files")
        )?;
        print_targets(&targets, out)?;
        print_diff(&writes, out)?;
        writeln!(out, "Dry run: nothing was written.")?;
        return Ok(());
    }
    drop(keyring);
    let scope = transaction::Scope {
        files: targets.iter().map(|t| t.file.clone()).collect(),
        items: [reference.to_owned()].into(),
    };
    let bound = transaction::run(source, scope, timeout, None, |kc, reads| {
        let Some(held) = reads.item(reference)? else {
            bail!("keyring item {reference:?} was deleted while storing; nothing was written");
        };
        let writes = plan(kc, &held.token)?;
        let after = Item {
            servers: Some(with(held.servers.as_deref().unwrap_or_default(), &approved)),
            clients_without_cluster_info: without_cluster_info(args, held),
            ..held.clone()
        };
        let bound = after.servers.clone().unwrap_or_default();
        let changes = transaction::Changes {
            files: writes,
            items: vec![(reference.to_owned(), ItemChange::Put(after))],
        };
        Ok(transaction::Step::Commit(changes, bound))
    })?;
    writeln!(
        out,
        "Bound keyring item {} (service {}) to {}; {} run `kubectl-coreweave token credential {}`:",
        quoted(reference),
        crate::keystore::SERVICE,
        shown_servers(&bound),
        count(targets.len(), "user entry", "user entries"),
        shown(reference)
    )?;
    print_targets(&targets, out)?;
    Ok(())
}

/// The files of `targets` with their exec entries swapped back to `token` and out again
/// as `store` writes them now, each step proven; the token lives only in memory between.
fn rewrite_entries(
    kc: &Kubeconfig,
    targets: &[Target],
    token: &Token,
    reference: &str,
    mode: InteractiveMode,
    command: &str,
) -> anyhow::Result<Vec<PlannedWrite>> {
    let mut writes = Vec::new();
    for loaded in &kc.files {
        if writes.iter().any(|w: &PlannedWrite| w.path == loaded.path) {
            continue;
        }
        let here: Vec<&Target> = targets.iter().filter(|t| t.file == loaded.path).collect();
        if here.is_empty() {
            continue;
        }
        let cannot = || format!("cannot edit kubeconfig {}", loaded.path.display());
        // The entry is swapped back to a token and out again, each step proven; the
        // token lives only in memory in between.
        let back: Vec<Edit> = here
            .iter()
            .map(|t| Edit::ExecToToken {
                user: &t.user,
                token: token.expose(),
            })
            .collect();
        let middle = edit::apply_loaded(loaded, &back).with_context(cannot)?;
        let again: Vec<Edit> = here
            .iter()
            .map(|t| Edit::TokenToExec {
                user: &t.user,
                reference,
                mode,
                command,
            })
            .collect();
        let text = edit::apply(&middle, &again).with_context(cannot)?;
        if loaded.text != text {
            writes.push(PlannedWrite {
                path: loaded.path.clone(),
                original: Some(loaded.text.clone().into_bytes()),
                new: text.into_bytes().into(),
            });
        }
    }
    Ok(writes)
}

pub fn unstore(
    source: &KubeconfigSource,
    sel: &Selection,
    args: &StoreOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let timeout = args.lock_timeout;
    let kc = source.load_settled(timeout)?;
    let resolved = kc.resolve(sel)?;
    let active = resolved.user_origin;
    let active_file = kc.path(active.file).to_path_buf();
    let reference = match kc.files[active.file].config.users[active.index]
        .user
        .as_ref()
        .and_then(|u| u.exec_kind())
    {
        Some(ExecKind::Plugin { reference }) => reference,
        Some(ExecKind::Other { command }) => bail!(
            "user {:?} (in {}) runs another credential plugin ({command:?}), not kubectl-coreweave; nothing to unstore",
            resolved.user,
            active_file.display()
        ),
        None => bail!(
            "user {:?} (in {}) has no exec entry of kubectl-coreweave; nothing to unstore",
            resolved.user,
            active_file.display()
        ),
    };
    let targets = unstore_targets(&kc, &active_file, &resolved.user, &reference, args.all)?;
    let keyring = Keyring::open()?;
    let token = keyring.get(&reference)?;
    drop(keyring);
    let plan = |kc: &Kubeconfig, token: &Token| {
        // What is written back follows rotate's rules for a new token (not empty, printable
        // ASCII only), so an emptied or tampered item never becomes `token: ""` or a token
        // kubectl would send mangled. The shape rule is rotate's `--force` one: `store` took
        // the token as the file held it, and `unstore` gives it back.
        super::source::validate(
            token,
            &Token::new(""),
            &format!("keyring item {}", quoted(&reference)),
            true,
        )?;
        plan_writes(kc, &targets, |user| Edit::ExecToToken {
            user,
            token: token.expose(),
        })
    };
    if args.dry_run {
        let writes = plan(&kc, &token)?;
        writeln!(
            out,
            "Would put the token of keyring item {} back into {}:",
            quoted(&reference),
            count(targets.len(), "user entry", "user entries")
        )?;
        print_targets(&targets, out)?;
        print_diff(&writes, out)?;
        writeln!(out, "Dry run: nothing was written.")?;
        return Ok(());
    }
    drop(kc);
    // The item is locked too: the token written back is the one it holds under the lock,
    // never one a concurrent rotate has just replaced.
    let scope = transaction::Scope {
        files: targets.iter().map(|t| t.file.clone()).collect(),
        items: [reference.clone()].into(),
    };
    let token = transaction::run(source, scope, timeout, None, |kc, reads| {
        let Some(held) = reads.item(&reference)? else {
            bail!("keyring item {reference:?} was deleted while unstoring; nothing was written");
        };
        let changes = transaction::Changes {
            files: plan(kc, &held.token)?,
            items: Vec::new(),
        };
        Ok(transaction::Step::Commit(changes, held.token.clone()))
    })?;
    // Object Storage keys kept for this token go with its keyring storage.
    crate::commands::objectstorage::cache::forget(&token);
    writeln!(
        out,
        "Put the token back into {}:",
        count(targets.len(), "user entry", "user entries")
    )?;
    print_targets(&targets, out)?;
    writeln!(
        out,
        "Keyring item {} (service {}) is kept; other kubeconfigs may use it.",
        quoted(&reference),
        crate::keystore::SERVICE
    )?;
    Ok(())
}

fn shown_servers(servers: &[crate::keystore::Binding]) -> String {
    if servers.is_empty() {
        "no server".to_string()
    } else {
        let mut names: Vec<String> = servers.iter().map(|b| shown(&b.server)).collect();
        names.dedup();
        names.join(", ")
    }
}

/// The keyring for `store`, or the refusal that says what to do instead.
pub(crate) fn open_for_store() -> anyhow::Result<Keyring> {
    Keyring::open().map_err(|e| match e {
        KeyringError::Unreachable(_) => anyhow::anyhow!(
            "{e}; nothing was changed. Without a keyring, keep the token in a file only you can read: \
             write it to a file with mode 0600 and point the user's tokenFile at it"
        ),
        other => other.into(),
    })
}

fn store_targets(
    kc: &Kubeconfig,
    active: crate::kubeconfig::Sourced,
    token: &Token,
    all: bool,
    active_server: Option<&str>,
    force: bool,
) -> anyhow::Result<Vec<Target>> {
    let found = holders::find_targets(kc, active, token, !all)?;
    if !force {
        refuse_unmanaged_auth(kc, active_server, &found)?;
    }
    let mut targets: Vec<Target> = found
        .into_iter()
        .filter(|t| t.inline && t.token_file.is_none())
        .map(|t| Target {
            file: t.file,
            user: t.user.to_string(),
        })
        .collect();
    targets.sort();
    targets.dedup();
    if targets.is_empty() {
        bail!("no user entry holds the token inline; nothing to store");
    }
    Ok(targets)
}

/// A token that reaches CKS's unmanaged-auth endpoint is not a Console-token credential
/// there (the endpoint refuses Console API tokens): without `--force`, store leaves the
/// users alone and says why, naming the first context that sends a token there.
fn refuse_unmanaged_auth(
    kc: &Kubeconfig,
    active_server: Option<&str>,
    found: &[holders::Target],
) -> anyhow::Result<()> {
    let server_of = |context: &str| {
        kc.context(context)
            .and_then(|(_, c)| c.context.as_ref()?.cluster.as_deref())
            .and_then(|c| kc.cluster(c))
            .and_then(|(_, c)| c.cluster.as_ref()?.server.as_deref())
    };
    let named = active_server.map(|s| ("the active context".to_owned(), s));
    let by_context = found.iter().flat_map(|t| {
        t.contexts
            .iter()
            .filter_map(|c| server_of(c).map(|s| (format!("context {}", quoted(c)), s)))
    });
    for (what, server) in named.into_iter().chain(by_context) {
        if crate::coreweave::is_unmanaged_auth_server(server) {
            bail!(
                "{what} sends its token to {}, which is {}; pass --force to store it anyway; nothing was written",
                shown(server),
                crate::coreweave::UNMANAGED_AUTH_REASON
            );
        }
    }
    Ok(())
}

fn unstore_targets(
    kc: &Kubeconfig,
    active_file: &Path,
    active_user: &str,
    reference: &str,
    all: bool,
) -> anyhow::Result<Vec<Target>> {
    if !all {
        return Ok(vec![Target {
            file: active_file.to_path_buf(),
            user: active_user.to_string(),
        }]);
    }
    let mut targets = Vec::new();
    for f in &kc.files {
        for u in &f.config.users {
            let kind = u.user.as_ref().and_then(|u| u.exec_kind());
            if matches!(kind, Some(ExecKind::Plugin { reference: r }) if r == reference) {
                targets.push(Target {
                    file: f.path.clone(),
                    user: u.name.to_string(),
                });
            }
        }
    }
    targets.sort();
    targets.dedup();
    Ok(targets)
}

fn plan_writes<'t>(
    kc: &Kubeconfig,
    targets: &'t [Target],
    edit_of: impl Fn(&'t str) -> Edit<'t>,
) -> anyhow::Result<Vec<PlannedWrite>> {
    let mut writes = Vec::new();
    for loaded in &kc.files {
        if writes.iter().any(|w: &PlannedWrite| w.path == loaded.path) {
            continue;
        }
        let edits: Vec<Edit> = targets
            .iter()
            .filter(|t| t.file == loaded.path)
            .map(|t| edit_of(&t.user))
            .collect();
        if edits.is_empty() {
            continue;
        }
        let text = edit::apply_loaded(loaded, &edits)
            .with_context(|| format!("cannot edit kubeconfig {}", loaded.path.display()))?;
        writes.push(PlannedWrite {
            path: loaded.path.clone(),
            original: Some(loaded.text.clone().into_bytes()),
            new: text.into_bytes(),
        });
    }
    Ok(writes)
}

fn print_targets(targets: &[Target], out: &mut dyn Write) -> std::io::Result<()> {
    for t in targets {
        writeln!(
            out,
            "  user {} in {}",
            quoted(&t.user),
            crate::secret::shown_path(&t.file)
        )?;
    }
    Ok(())
}

/// The masked diff of each planned write (every line through the one masking function).
fn print_diff(writes: &[PlannedWrite], out: &mut dyn Write) -> anyhow::Result<()> {
    use crate::kubeconfig::mask::kubeconfig_lines;
    for w in writes {
        let before = String::from_utf8_lossy(w.original.as_deref().unwrap_or_default());
        let after = String::from_utf8_lossy(&w.new);
        let diff = super::diff::unified(
            &before,
            &after,
            &kubeconfig_lines(&before),
            &kubeconfig_lines(&after),
            &crate::secret::shown_path(&w.path),
            2,
        );
        write!(out, "{diff}")?;
    }
    Ok(())
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
