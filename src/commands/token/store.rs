//! `kubectl coreweave token store` and `token unstore`: move the active user's token from
//! the kubeconfig into the OS keyring (the user entry then runs `kubectl-coreweave token
//! credential ITEM`), and back.
//!
//! The order keeps the token safe at every step: the keyring item is written and read back
//! before any file changes; files are locked, read again and planned from what is really
//! there (the exec editor proves each edit), then committed with rollback, as `rotate`
//! does. Where no keyring is reachable nothing changes: the command refuses, it never falls
//! back to a file.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::cli::{Interactive, StoreArgs};
use crate::commands::token::holders;
use crate::keystore::{check_reference, Keyring, KeyringError};
use crate::kubeconfig::edit::{self, Edit, ExecKind, InteractiveMode};
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::write::{self, FileLock, PlannedWrite};
use crate::kubeconfig::{Credential, Kubeconfig};
use crate::secret::{quoted, shown, Token};

/// One user entry to change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Target {
    file: PathBuf,
    user: String,
}

pub fn store(
    paths: &[PathBuf],
    explicit: bool,
    sel: &Selection,
    args: &StoreArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(args.lock_timeout);
    let kc = Kubeconfig::load_settled(paths, explicit, timeout)?;
    let resolved = kc.resolve(sel)?;
    let active = resolved.user_origin;
    let active_file = kc.path(active.file).to_path_buf();
    let token = match kc.credential(active) {
        Ok(Credential::Inline(t)) => t,
        Ok(Credential::File { path, .. }) => bail!(
            "user {:?} (in {}) keeps its token in tokenFile {}; `token store` moves inline tokens only",
            resolved.user,
            active_file.display(),
            path.display()
        ),
        Ok(Credential::Keyring { reference, .. }) => {
            return rebind(paths, explicit, &kc, active, &reference, args, out)
        }
        Err(e) => {
            if let Some(ExecKind::Plugin { reference }) = kc.files[active.file].config.users
                [active.index]
                .user
                .as_ref()
                .and_then(|u| u.exec_kind())
            {
                return rebind(paths, explicit, &kc, active, &reference, args, out);
            }
            return Err(e.into());
        }
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
    let plan = |kc: &Kubeconfig, targets: &[Target]| {
        plan_writes(kc, targets, |user| Edit::TokenToExec {
            user,
            reference: &reference,
            mode,
            command: &command,
        })
    };

    let keyring = open_for_store()?;
    if let Some(held) = keyring.find(&reference)? {
        if held != token {
            bail!(
                "keyring item {reference:?} already holds another token; choose another item with --item, or `token unstore` the users that use it"
            );
        }
    }
    if args.dry_run {
        let writes = plan(&kc, &targets)?;
        writeln!(
            out,
            "Would write the token to keyring item {} (service {}) and change {}:",
            quoted(&reference),
            crate::keystore::SERVICE,
            count(targets.len(), "user entry", "user entries")
        )?;
        print_targets(&targets, out)?;
        print_diff(&writes, out)?;
        writeln!(out, "Dry run: nothing was written.")?;
        return Ok(());
    }
    drop(kc);

    let _signals = write::InterruptGuard::install();
    let files: BTreeSet<PathBuf> = targets.iter().map(|t| t.file.clone()).collect();
    let locks = lock_all(&files, timeout)?;
    let kc = Kubeconfig::load(paths, explicit)?;
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
    let writes = plan(&kc, &targets)?;
    let existed = keyring.find(&reference)?.is_some();
    let servers = bound_servers(&kc, &targets, out)?;
    keyring.put(&reference, &token, &servers)?;
    if write::interrupted() {
        bail!("interrupted; the keyring item {reference:?} was written, no file was changed");
    }
    for w in &writes {
        write::remove_stale_temp_files(&w.path);
    }
    if let Err(e) = write::commit(&writes) {
        // Files are as they were: an item no entry uses would only confuse.
        if !existed && e.nothing_changed() {
            let _ = keyring.delete(&reference);
        }
        return Err(e.into());
    }
    drop(locks);
    writeln!(
        out,
        "Stored the token in keyring item {} (service {}); {} now run `kubectl-coreweave token credential {}`:",
        quoted(&reference),
        crate::keystore::SERVICE,
        count(targets.len(), "user entry", "user entries"),
        shown(&reference)
    )?;
    print_targets(&targets, out)?;
    let bound = crate::keystore::read_once(&reference)
        .ok()
        .and_then(|i| i.servers)
        .unwrap_or(servers);
    writeln!(
        out,
        "`token credential` sends it only to {}.",
        shown_servers(&bound)
    )?;
    writeln!(out, "Undo with `kubectl coreweave token unstore`.")?;
    Ok(())
}

/// `token store` for a user already stored: bind its item to the servers of the user's
/// contexts (with --all, of every entry that reads the item), and write the entries again
/// as `store` writes them now (`provideClusterInfo: true`, the installed path unless
/// `--bare-command`). This is the one-command fix
/// for entries and items from before bindings.
fn rebind(
    paths: &[PathBuf],
    explicit: bool,
    kc: &Kubeconfig,
    active: crate::kubeconfig::Sourced,
    reference: &str,
    args: &StoreArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(args.lock_timeout);
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
    let plan = |kc: &Kubeconfig| -> anyhow::Result<Vec<PlannedWrite<'static>>> {
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
                    token: item.token.expose(),
                })
                .collect();
            let middle = edit::apply_loaded(loaded, &back).with_context(cannot)?;
            let again: Vec<Edit> = here
                .iter()
                .map(|t| Edit::TokenToExec {
                    user: &t.user,
                    reference,
                    mode,
                    command: &command,
                })
                .collect();
            let text = edit::apply(&middle, &again).with_context(cannot)?;
            if text != loaded.text {
                writes.push(PlannedWrite {
                    path: loaded.path.clone(),
                    original: Some(std::borrow::Cow::Owned(loaded.text.clone().into_bytes())),
                    new: text.into_bytes(),
                });
            }
        }
        Ok(writes)
    };
    let servers = bound_servers(kc, &targets, out)?;
    let shown_servers = shown_servers(&servers);
    if args.dry_run {
        let writes = plan(kc)?;
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
    let _signals = write::InterruptGuard::install();
    let files: BTreeSet<PathBuf> = targets.iter().map(|t| t.file.clone()).collect();
    let locks = lock_all(&files, timeout)?;
    let kc = Kubeconfig::load(paths, explicit)?;
    let writes = plan(&kc)?;
    keyring.put(reference, &item.token, &servers)?;
    if write::interrupted() {
        bail!("interrupted; keyring item {reference:?} was bound, no file was changed");
    }
    for w in &writes {
        write::remove_stale_temp_files(&w.path);
    }
    if let Err(e) = write::commit(&writes) {
        let _ = keyring.put_item(reference, &item);
        return Err(e.into());
    }
    drop(locks);
    writeln!(
        out,
        "Bound keyring item {} (service {}) to {shown_servers}; {} run `kubectl-coreweave token credential {}`:",
        quoted(reference),
        crate::keystore::SERVICE,
        count(targets.len(), "user entry", "user entries"),
        shown(reference)
    )?;
    print_targets(&targets, out)?;
    Ok(())
}

pub fn unstore(
    paths: &[PathBuf],
    explicit: bool,
    sel: &Selection,
    args: &StoreArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(args.lock_timeout);
    let kc = Kubeconfig::load_settled(paths, explicit, timeout)?;
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
    // What is written back follows rotate's rules for a new token (not empty, printable
    // ASCII only), so an emptied or tampered item never becomes `token: ""` or a token
    // kubectl would send mangled. The shape rule is rotate's `--force` one: `store` took the
    // token as the file held it, and `unstore` gives it back.
    super::source::validate(
        &token,
        &Token::new(""),
        &format!("keyring item {}", quoted(&reference)),
        true,
    )?;
    let plan = |kc: &Kubeconfig, targets: &[Target]| {
        plan_writes(kc, targets, |user| Edit::ExecToToken {
            user,
            token: token.expose(),
        })
    };
    if args.dry_run {
        let writes = plan(&kc, &targets)?;
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
    let _signals = write::InterruptGuard::install();
    let files: BTreeSet<PathBuf> = targets.iter().map(|t| t.file.clone()).collect();
    let locks = lock_all(&files, timeout)?;
    let kc = Kubeconfig::load(paths, explicit)?;
    let writes = plan(&kc, &targets)?;
    if write::interrupted() {
        bail!("interrupted; nothing was written");
    }
    for w in &writes {
        write::remove_stale_temp_files(&w.path);
    }
    write::commit(&writes)?;
    drop(locks);
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

fn bound_servers(
    kc: &Kubeconfig,
    targets: &[Target],
    out: &mut dyn Write,
) -> anyhow::Result<Vec<crate::keystore::Binding>> {
    let servers = holders::servers_of(
        kc,
        targets.iter().map(|t| (t.file.as_path(), t.user.as_str())),
        out,
    )?;
    Ok(servers)
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
            user: t.user,
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
                    user: u.name.clone(),
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
) -> anyhow::Result<Vec<PlannedWrite<'static>>> {
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
            original: Some(std::borrow::Cow::Owned(loaded.text.clone().into_bytes())),
            new: text.into_bytes(),
        });
    }
    Ok(writes)
}

fn lock_all(paths: &BTreeSet<PathBuf>, timeout: Duration) -> anyhow::Result<Vec<FileLock>> {
    paths
        .iter()
        .map(|p| write::lock(p, timeout).map_err(anyhow::Error::from))
        .collect()
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
