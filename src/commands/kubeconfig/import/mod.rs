//! `kubectl coreweave kubeconfig import FILE`: merge a kubeconfig downloaded from the Cloud
//! Console into the file kubectl writes to, under names that stay unique, without touching
//! a byte of what is there. Every Console download names its user `token` and its cluster
//! and context after the cluster, so two downloads in `KUBECONFIG` would share the first
//! file's token; import renames them (`plan.rs`). A context that reaches the same server
//! with the same token is reused (importing twice changes nothing); one with another token
//! is reported, and `--replace-token` rotates it as `token rotate` would. `download.rs`
//! reads and checks the download.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde_json::Value;

use crate::commands::options::{ImportOptions, Keep, NewToken, RotateOptions};
use crate::commands::token::store::open_for_store;
use crate::commands::token::verify::How;
use crate::coreweave::Principal;
use crate::kubeconfig::edit::{self, Additions, Edit};
use crate::kubeconfig::mask::kubeconfig_lines;
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::write::{self, PlannedWrite};
use crate::kubeconfig::Kubeconfig;
use crate::kubeconfig::KubeconfigSource;
use crate::secret::{quoted, shown, shown_path, Token};
use crate::transaction;

mod download;
mod plan;

use download::{parse_download, read_download, Incoming};
pub use plan::{derived_name, unique_by};
use plan::{plan, report_conflicts, Decision, Plan};

pub fn run(
    source: &KubeconfigSource,
    args: &ImportOptions,
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
    let target = default_target(source);
    // The new tokens are proven before anything is locked or written.
    let principals = prove_tokens(&origin, &incoming, args)?;
    let existing = source.existing();
    // The keyring is reached before anything is planned or locked: without one, nothing
    // changes (never a silent fall back to the token in the file).
    let keyring = match args.store {
        Keep::Keyring => Some(open_for_store()?),
        Keep::Inline => None,
    };
    let import = Import {
        incoming: &incoming,
        principals: &principals,
        target: &target,
        args,
    };
    if args.dry_run {
        return import.dry_run(&existing, out);
    }
    let (decisions, conflicts, stored) = import.write(source, &existing, keyring)?;
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
    replace_tokens(source, conflicts, args, out)
}

/// `--verify api`: each distinct token of the download, with whom CoreWeave says it is.
fn prove_tokens(
    origin: &str,
    incoming: &[Incoming],
    args: &ImportOptions,
) -> anyhow::Result<Vec<(Token, Principal)>> {
    let mut principals = Vec::new();
    if args.verify == How::None {
        return Ok(principals);
    }
    let mut api = args.api.resolve()?;
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
    Ok(principals)
}

/// Same server, another token (`--replace-token`): rotate's own machinery, every entry
/// holding the old token.
fn replace_tokens(
    source: &KubeconfigSource,
    conflicts: Vec<(String, Token)>,
    args: &ImportOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for (context, new) in conflicts {
        let rotate = RotateOptions {
            new_token: NewToken::From(crate::commands::token::source::Source::Imported(new)),
            only_current: false,
            dry_run: false,
            backup: false,
            lock_timeout: args.lock_timeout,
            force: args.force,
            yes: true,
            verify: args.verify,
            verify_timeout: args.verify_timeout,
            expires: None,
            api: args.api.clone(),
        };
        let sel = Selection {
            context: Some(context),
            user: None,
        };
        crate::commands::token::rotate::run(source, &sel, &rotate, out)?;
    }
    Ok(())
}

/// One import: the download's contexts, the principals its tokens proved, and the file
/// they go to.
struct Import<'a> {
    incoming: &'a [Incoming],
    principals: &'a [(Token, Principal)],
    target: &'a Path,
    args: &'a ImportOptions,
}

/// The decisions made, the contexts whose token `--replace-token` replaces, and the
/// keyring items written.
type Imported = (Vec<Decision>, Vec<(String, Token)>, Vec<String>);

impl Import<'_> {
    fn plan(&self, kc: Option<&Kubeconfig>) -> anyhow::Result<Plan> {
        plan(kc, self.incoming, self.args)
    }

    /// `--dry-run`: the summary, the items and the target's diff, masked; no lock taken.
    fn dry_run(&self, existing: &[PathBuf], out: &mut dyn Write) -> anyhow::Result<()> {
        let (target, args) = (self.target, self.args);
        let kc = load_existing(existing)?;
        let Plan {
            decisions,
            additions,
            keyring_items,
        } = self.plan(kc.as_ref())?;
        report_conflicts(&decisions, args)?;
        let before = read_target(target)?;
        let after = render(target, before.as_deref(), &additions)?;
        print_summary(
            &decisions,
            self.incoming,
            self.principals,
            target,
            args,
            true,
            out,
        )?;
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
                &shown_path(target),
                2,
            );
            for line in diff.lines() {
                writeln!(out, "{line}")?;
            }
        }
        writeln!(out, "Dry run: nothing was written.")?;
        Ok(())
    }

    /// The write: the target's folder made, a first plan for what to lock, then under the
    /// locks (the target file and every item) everything read again and planned from what
    /// is really there.
    fn write(
        &self,
        source: &KubeconfigSource,
        existing: &[PathBuf],
        keyring: Option<crate::keystore::Keyring>,
    ) -> anyhow::Result<Imported> {
        let target = self.target;
        // The lock file sits beside the target, so a new target's folder comes first (0700).
        // What kubectl's writer could not write is refused before anything is created or
        // locked.
        write::check_writable(target)?;
        create_parent(target)?;
        let first = self.plan(load_existing(existing)?.as_ref())?;
        let scope = transaction::Scope {
            files: [target.to_path_buf()].into(),
            items: first
                .keyring_items
                .iter()
                .map(|(i, _, _)| i.clone())
                .collect(),
        };
        drop(keyring);
        transaction::run(
            &source.may_be_missing(),
            scope,
            self.args.lock_timeout,
            None,
            |kc, reads| self.under_lock(kc, reads),
        )
    }

    fn under_lock(
        &self,
        kc: &Kubeconfig,
        reads: &transaction::Reads,
    ) -> anyhow::Result<transaction::Step<Imported>> {
        let target = self.target;
        let Plan {
            decisions,
            additions,
            keyring_items,
        } = self.plan((!kc.files.is_empty()).then_some(kc))?;
        let needed: BTreeSet<String> = keyring_items.iter().map(|(i, _, _)| i.clone()).collect();
        if !needed.is_subset(&reads.locked().items) {
            return Ok(transaction::Step::Widen(transaction::Scope {
                files: reads.locked().files.clone(),
                items: needed,
            }));
        }
        let conflicts = report_conflicts(&decisions, self.args)?;
        let before = read_target(target)?;
        let mut changes = transaction::Changes::default();
        let mut stored = Vec::new();
        if let Some(after) = render(target, before.as_deref(), &additions)? {
            changes.items = item_changes(reads, &keyring_items)?;
            stored = keyring_items.into_iter().map(|(i, _, _)| i).collect();
            changes.files.push(PlannedWrite {
                path: target.to_path_buf(),
                original: before.map(|b| b.into_bytes().into()),
                new: after.into_bytes().into(),
            });
        }
        Ok(transaction::Step::Commit(
            changes,
            (decisions, conflicts, stored),
        ))
    }
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

/// The file kubectl writes new entries to (client-go's `GetDefaultFilename`): the
/// `--kubeconfig` file; else the first `KUBECONFIG` file that exists, or the last one when
/// none does; else `~/.kube/config`.
pub(super) fn default_target(source: &KubeconfigSource) -> PathBuf {
    let paths = &source.paths;
    if source.is_explicit() || paths.len() <= 1 {
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
    builder
        .create(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))
}

#[allow(clippy::too_many_arguments)]
fn print_summary(
    decisions: &[Decision],
    incoming: &[Incoming],
    principals: &[(Token, Principal)],
    target: &Path,
    args: &ImportOptions,
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
    if args.verify == How::None && !dry_run {
        writeln!(
            out,
            "The token was not checked with CoreWeave (--verify none)."
        )?;
    }
    Ok(())
}
