//! `kubectl coreweave token rotate`: put a new token everywhere the active user's token is
//! stored, in place, losing nothing.
//!
//! The order of work is what makes it safe: read and plan without locks (the new token may
//! come from a prompt that takes minutes), then lock the files to change, read them again
//! under the lock and plan again from what is really there, prepare every new content
//! (the editor proves each one by re-parsing), and only then commit them one by one with
//! rollback. `--dry-run` stops after the first plan and takes no lock.

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::commands::options::{MintOptions, NewToken, RotateOptions};
use crate::commands::token::holders::{self, Target};
use crate::commands::token::source::{self, Source};
use crate::commands::token::verify::{self, How};
use crate::kubeconfig::edit::{self, Edit, TokenExtension};
use crate::kubeconfig::mask;
use crate::kubeconfig::model::ByteString;
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::token_file;
use crate::kubeconfig::write::{self, PlannedWrite};
use crate::kubeconfig::KubeconfigSource;
use crate::kubeconfig::{Credential, Kubeconfig, LoadedFile, Sourced};
use crate::secret::{quoted, shown, shown_path, Token};
use crate::transaction;

/// Every file to write, with its bytes before and after.
#[derive(Debug)]
pub struct Plan {
    pub targets: Vec<Target>,
    pub writes: Vec<PlannedWrite>,
}

/// `token rotate`: every holder of the selected user's token gets the new token that
/// `args.new_token` names (`kubeconfig import --replace-token` hands over a downloaded one).
pub fn run(
    kubeconfig: &KubeconfigSource,
    sel: &Selection,
    args: &RotateOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let kc = kubeconfig.load_settled(args.lock_timeout)?;
    let resolved = kc.resolve(sel)?;
    let credential = holders::credential(&kc, resolved.user_origin)?;
    let old = credential.token().clone();
    // A token `token store` moved into the OS keyring: the item is rotated too.
    let in_keyring = matches!(credential, Credential::Keyring { .. });
    let active = resolved.user_origin;
    let active_file = kc.path(active.file).to_path_buf();

    // Without the lock only the targets are found; the edits are made (and proven) once,
    // under the lock, from the bytes that will really be replaced.
    let targets = targets_for(&kc, active, &old, args.only_current, in_keyring)?;
    let mut coreweave_servers = foldhash::HashSet::default();
    let files = settle(
        &kc,
        resolved.server.as_deref(),
        &targets,
        &old,
        args,
        &mut coreweave_servers,
    )?;
    let (source, new, expires) = new_token(args, &old)?;
    prove(&kc, &targets, &old, &new, args, out)?;
    let rotated_at = crate::time::format_rfc3339(jiff::Timestamp::now());
    let record = TokenExtension {
        expires: expires.as_deref(),
        source: source.kind(),
        rotated_at: &rotated_at,
    };
    if args.dry_run {
        return dry_run(kc, targets, &new, &record, args.force, out);
    }
    if matches!(source, Source::Prompt) && !args.yes && !args.force {
        source::confirm(&confirm_question(targets.len(), &files))?;
    }

    // Everything is read again under the locks (files and keyring items), in one
    // transaction; files that still hold the bytes planned from keep the first parse
    // (parsing is most of a large rotate's CPU).
    let scope = transaction::Scope {
        files,
        items: items_of(&targets).into_iter().map(str::to_owned).collect(),
    };
    let rotation = Rotation {
        first_targets: &targets,
        sel,
        user: &resolved.user,
        active_file: &active_file,
        old: &old,
        new: &new,
        record: &record,
        in_keyring,
        args,
    };
    let (plan_targets, writes_count, backups) = transaction::run_mut(
        kubeconfig,
        scope,
        args.lock_timeout,
        Some(kc),
        |kc, reads| rotation.under_lock(kc, reads, &mut coreweave_servers),
    )?;
    // Object Storage keys made with the old token are not handed out again.
    crate::commands::objectstorage::cache::forget(&old);
    print_done(&plan_targets, writes_count, &record, &backups, out)?;
    for item in items_of(&plan_targets) {
        writeln!(
            out,
            "Updated keyring item {} (service {})",
            quoted(item),
            crate::keystore::SERVICE
        )?;
    }
    Ok(())
}

/// Whether the targets may be rotated at all, settled before a new token is asked for, any
/// check over the network, the prompt or a lock (a dry run too): an entry that is not a
/// CoreWeave credential, a token file that is not one, and a file kubectl's writer could
/// not write. Returns the files to change (a minted token and `--expires` both record an
/// expiry in the kubeconfig).
fn settle(
    kc: &Kubeconfig,
    server: Option<&str>,
    targets: &[Target],
    old: &Token,
    args: &RotateOptions,
    coreweave_servers: &mut foldhash::HashSet<String>,
) -> anyhow::Result<BTreeSet<PathBuf>> {
    if !args.force {
        refuse_foreign(kc, server, targets, old, coreweave_servers)?;
    }
    check_token_files(kc, targets, args.force)?;
    let files = files_of(targets, args.records_expiry());
    for f in &files {
        write::check_writable(f)?;
    }
    Ok(files)
}

/// The new token, where it came from and the expiry to record, checked against the old one.
fn new_token(args: &RotateOptions, old: &Token) -> anyhow::Result<(Source, Token, Option<String>)> {
    let (source, new, expires) = if let NewToken::Mint(m) = &args.new_token {
        let minted = mint(m, &args.api)?;
        (Source::Minted, minted.token, Some(minted.expire_time))
    } else {
        // Check --expires before asking for anything.
        let expires = args.expires.as_deref().map(expiry_time).transpose()?;
        let source = match &args.new_token {
            NewToken::From(s) => s.clone(),
            _ => Source::prompt_or_error()?,
        };
        (source.clone(), source::fetch(&source)?, expires)
    };
    let new = source::without_bom(new);
    source::validate(&new, old, &source.describe(), args.force)?;
    Ok((source, new, expires))
}

/// `--verify api|cluster`: the new token proven before anything is written, and what the
/// checks found printed.
fn prove(
    kc: &Kubeconfig,
    targets: &[Target],
    old: &Token,
    new: &Token,
    args: &RotateOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let contexts = match args.verify {
        How::Cluster => verifiable_contexts(kc, targets, out)?,
        _ => Vec::new(),
    };
    let proof = match args.verify {
        How::None => verify::Proof::default(),
        how => verify::prove(&verify::Request {
            kc,
            contexts: &contexts,
            old,
            new,
            how,
            api: &args.api,
            force: args.force,
            verify_timeout: args.verify_timeout,
        })?,
    };
    print_proof(&proof, out)?;
    Ok(())
}

/// `--dry-run`: the edits made and proven as they would be written, shown masked.
fn dry_run(
    mut kc: Kubeconfig,
    targets: Vec<Target>,
    new: &Token,
    record: &TokenExtension<'_>,
    force: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let plan = Plan {
        writes: prepare_writes(&mut kc, &targets, new, record, force)?,
        targets,
    };
    for item in items_of(&plan.targets) {
        writeln!(
            out,
            "Would update keyring item {} (service {})",
            crate::secret::quoted(item),
            crate::keystore::SERVICE
        )?;
    }
    print_dry_run(&plan, out)
}

/// What the locked part of a rotation needs from the first reading.
struct Rotation<'a> {
    /// The holders found before the lock, from the reading the transaction starts with.
    first_targets: &'a [Target],
    sel: &'a Selection,
    /// The active user's name, and the file it came from.
    user: &'a str,
    active_file: &'a Path,
    old: &'a Token,
    new: &'a Token,
    record: &'a TokenExtension<'a>,
    in_keyring: bool,
    args: &'a RotateOptions,
}

/// The targets, the number of files written and the backups made.
type Rotated = (Vec<Target>, usize, Vec<PathBuf>);

impl Rotation<'_> {
    /// The plan again under the locks, from what is really there: the active user and its
    /// token must be as first read, and every file and item to change must be locked (else
    /// the transaction widens its locks and calls again).
    fn under_lock(
        &self,
        kc: &mut Kubeconfig,
        reads: &transaction::Reads,
        coreweave_servers: &mut foldhash::HashSet<String>,
    ) -> anyhow::Result<transaction::Step<Rotated>> {
        let (sel, args) = (self.sel, self.args);
        let Some(active) = find_entry(kc, self.active_file, self.user)
            .or_else(|| kc.resolve(sel).ok().map(|r| r.user_origin))
        else {
            bail!(
                "user {} disappeared from the kubeconfig while rotating; nothing was written",
                quoted(self.user)
            );
        };
        if holders::credential(kc, active)
            .map(|c| c.token() == self.old)
            .ok()
            != Some(true)
        {
            bail!(
                "the token of user {} changed on disk while rotating (another rotate?); nothing was written",
                quoted(self.user)
            );
        }
        let targets = targets_for(kc, active, self.old, args.only_current, self.in_keyring)?;
        // The same reading and the same holders: their servers were checked before the
        // lock, from this very reading (token files and items, read again, may change the
        // holders; then everything is checked again).
        let checked = reads.first_kept() && targets == self.first_targets;
        if !args.force && !checked {
            let server = kc.resolve(sel).ok().and_then(|r| r.server);
            refuse_foreign(kc, server.as_deref(), &targets, self.old, coreweave_servers)?;
        }
        let needed = transaction::Scope {
            files: files_of(&targets, self.record.expires.is_some()),
            items: items_of(&targets).into_iter().map(str::to_owned).collect(),
        };
        if !reads.locked().covers(&needed) {
            return Ok(transaction::Step::Widen(needed));
        }
        // Both checks are done: the servers they found need not live beside the edits.
        drop(std::mem::take(coreweave_servers));
        let writes = prepare_writes(kc, &targets, self.new, self.record, args.force)?;
        let items = self.items_after(&targets, reads)?;
        let mut backups = Vec::new();
        if args.backup {
            for w in &writes {
                backups.push(write::backup(&w.path)?);
            }
        }
        let count = writes.len();
        Ok(transaction::Step::Commit(
            transaction::Changes {
                files: writes,
                items,
            },
            (targets, count, backups),
        ))
    }

    /// Each item with the new token and exactly the bindings it has: a rotation never
    /// widens where a token may go (a file on KUBECONFIG naming the item cannot add its
    /// server).
    fn items_after(
        &self,
        targets: &[Target],
        reads: &transaction::Reads,
    ) -> anyhow::Result<Vec<(String, transaction::ItemChange)>> {
        let mut items = Vec::new();
        for item in items_of(targets) {
            let Some(before) = reads.item(item)? else {
                bail!(
                    "keyring item {} disappeared while rotating; nothing was written",
                    quoted(item)
                );
            };
            let after = crate::keystore::Item {
                token: self.new.clone(),
                ..before.clone()
            };
            items.push((item.to_owned(), transaction::ItemChange::Put(after)));
        }
        Ok(items)
    }
}

/// The contexts `--verify cluster` may send the new token to: every context of an entry
/// that keeps its token in the kubeconfig, and of an entry reading a keyring item only
/// those whose cluster (server, CA, TLS server name) the item is bound to: a file on
/// KUBECONFIG that names the item cannot have the token sent to its own server or proxy.
fn verifiable_contexts(
    kc: &Kubeconfig,
    targets: &[Target],
    out: &mut dyn Write,
) -> anyhow::Result<Vec<String>> {
    let mut contexts = Vec::new();
    for t in targets {
        let Some(item) = &t.keyring_item else {
            contexts.extend(t.contexts.iter().map(ByteString::to_string));
            continue;
        };
        let bound = crate::keystore::read_once(item)?
            .servers
            .unwrap_or_default();
        let entry = [(t.file.as_path(), &*t.user)];
        for cb in holders::context_bindings(kc, entry, &mut std::io::sink())? {
            if bound.contains(&cb.binding) {
                contexts.push(cb.context);
            } else {
                writeln!(
                    out,
                    "Note: context {} is not verified: keyring item {} is not bound to its cluster {}",
                    quoted(&cb.context),
                    quoted(item),
                    shown(&cb.binding.server)
                )?;
            }
        }
    }
    contexts.sort();
    contexts.dedup();
    Ok(contexts)
}

/// `--mint`: the service-account OIDC exchange.
pub fn mint(
    args: &MintOptions,
    api: &crate::coreweave::ApiSettings,
) -> anyhow::Result<crate::coreweave::Minted> {
    let (Some(uid), Some(oidc_file)) = (&args.service_account, &args.oidc_token_file) else {
        bail!("--mint needs --service-account UID and --oidc-token-file PATH");
    };
    let duration = crate::time::parse_go_duration(&args.duration)
        .with_context(|| format!("--duration {:?}", args.duration))?;
    // Bounded like every token read: a projected service-account token is a few KiB.
    let oidc = std::fs::File::open(oidc_file)
        .and_then(|f| crate::io::read_capped(f, token_file::MAX_TOKEN_BYTES))
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot read --oidc-token-file {}: {}",
                oidc_file.display(),
                crate::io::io_message(&e)
            )
        })?;
    let oidc = Token::new(String::from_utf8_lossy(&oidc).trim());
    let cfg = api.resolve()?;
    Ok(crate::coreweave::mint_service_account_token(
        &cfg, &args.path, &oidc, uid, duration,
    )?)
}

/// `--expires`: an RFC 3339 time, or a duration from now (`90d`, `8h`, `1h30m`), as UTC
/// RFC 3339.
fn expiry_time(text: &str) -> anyhow::Result<String> {
    use crate::time::{format_rfc3339, parse_go_duration, parse_rfc3339};
    use jiff::{SignedDuration, Timestamp};
    let now = Timestamp::now();
    let at = match parse_rfc3339(text) {
        Some(t) => t,
        None => {
            let seconds = match text.strip_suffix('d').map(str::parse::<u64>) {
                Some(Ok(days)) => days.checked_mul(86_400),
                _ => parse_go_duration(text).ok().map(|d| d.as_secs()),
            };
            let later = seconds.and_then(|s| i64::try_from(s).ok()).map(|s| {
                now.checked_add(SignedDuration::from_secs(s))
                    .unwrap_or(Timestamp::MAX)
            });
            match later {
                Some(at) => at,
                None => bail!("--expires {}: give an RFC 3339 time (2027-01-31T00:00:00Z) or a duration (8h, 90d)", quoted(text)),
            }
        }
    };
    // A token that has expired already would be recorded as one that works.
    if at <= now {
        bail!(
            "--expires {}: {} is not in the future; give the new token's expiry as the Console shows it",
            quoted(text),
            format_rfc3339(at)
        );
    }
    Ok(format_rfc3339(at))
}

fn print_proof(proof: &verify::Proof, out: &mut dyn Write) -> std::io::Result<()> {
    if let Some(p) = &proof.principal {
        writeln!(
            out,
            "Verified: CoreWeave accepts the new token (principal {}, org {})",
            shown(&p.uid),
            shown(&p.org_uid)
        )?;
    }
    if !proof.clusters.is_empty() {
        writeln!(
            out,
            "Verified: the clusters of context {} accept it",
            shown(&proof.clusters.join(", "))
        )?;
    }
    Ok(())
}

/// The keyring items the targets read, each once, in order.
fn items_of(targets: &[Target]) -> Vec<&str> {
    let items: BTreeSet<&str> = targets
        .iter()
        .filter_map(|t| t.keyring_item.as_deref())
        .collect();
    items.into_iter().collect()
}

fn find_entry(kc: &Kubeconfig, file: &Path, user: &str) -> Option<Sourced> {
    kc.all_users()
        .find(|(s, u)| kc.path(s.file) == file && u.name == user)
        .map(|(s, _)| s)
}

/// The files a rotation of `targets` writes: kubeconfig files with inline tokens, and
/// token files.
fn files_of(targets: &[Target], expires_known: bool) -> BTreeSet<PathBuf> {
    // Many targets share a few files: each path is copied once, not once per target.
    let mut files = BTreeSet::new();
    for t in targets {
        let kubeconfig = t.writes_kubeconfig(expires_known).then_some(&t.file);
        for path in kubeconfig.into_iter().chain(&t.token_file) {
            if !files.contains(path) {
                files.insert(path.clone());
            }
        }
    }
    files
}

/// [`find_targets`]: with the token in the keyring, the entries reading the item are
/// among them (for the item, and for their extension).
fn targets_for(
    kc: &Kubeconfig,
    active: Sourced,
    old: &Token,
    only_current: bool,
    _in_keyring: bool,
) -> anyhow::Result<Vec<Target>> {
    holders::find_targets(kc, active, old, only_current)
}

/// Rotate changes CoreWeave credentials only: the token must be CoreWeave-shaped, and
/// every cluster kubectl sends it to from a context using a target entry (and the active
/// context, which `--user` may point elsewhere) must be a CoreWeave server
/// ([`crate::coreweave::is_coreweave_server`]). A context whose cluster is not defined, or
/// has no server, sends the token nowhere and does not count. `--force` skips this.
fn refuse_foreign(
    kc: &Kubeconfig,
    active_server: Option<&str>,
    targets: &[Target],
    old: &Token,
    coreweave_servers: &mut foldhash::HashSet<String>,
) -> anyhow::Result<()> {
    let entry = |t: &Target| format!("user {} in {}", quoted(&t.user), shown_path(&t.file));
    let Some(first) = targets.first() else {
        return Ok(());
    };
    if !old.is_coreweave_shaped() {
        bail!(
            "{}: its token is not a CoreWeave API access token ({} and at least {} letters, digits or {}); pass --force to rotate it anyway; nothing was written",
            entry(first),
            crate::secret::COREWEAVE_PREFIX,
            crate::secret::MIN_SECRET_CHARS,
            crate::secret::SECRET_ALPHABET
        );
    }
    // Each server is parsed once per run (the check runs again under the lock): a URL
    // parse per context was a sixth of a 2,000-context rotate.
    let mut foreign = |server: &str| {
        if server.is_empty() || coreweave_servers.contains(server) {
            return false;
        }
        let ours = crate::coreweave::is_coreweave_server(server);
        if ours {
            coreweave_servers.insert(server.to_owned());
        }
        !ours
    };
    if let Some(server) = active_server.filter(|s| foreign(s)) {
        bail!(
            "{}: the active context sends its token to {}, {}; pass --force to rotate it anyway; nothing was written",
            entry(first),
            shown(server),
            not_console_token_cluster(server)
        );
    }
    for t in targets {
        for name in &t.contexts {
            let server = kc
                .context(name)
                .and_then(|(_, c)| c.context.as_ref()?.cluster.as_deref())
                .and_then(|c| kc.cluster(c))
                .and_then(|(_, c)| c.cluster.as_ref()?.server.as_deref());
            if let Some(server) = server.filter(|s| foreign(s)) {
                bail!(
                    "{}: context {} sends its token to {}, {}; pass --force to rotate it anyway; nothing was written",
                    entry(t),
                    quoted(name),
                    shown(server),
                    not_console_token_cluster(server)
                );
            }
        }
    }
    Ok(())
}

/// Why `server` (one [`refuse_foreign`] refused) is not a Console-token cluster.
pub fn not_console_token_cluster(server: &str) -> String {
    if crate::coreweave::is_unmanaged_auth_server(server) {
        format!("which is {}", crate::coreweave::UNMANAGED_AUTH_REASON)
    } else {
        "which is not a CoreWeave cluster (https://….coreweave.com)".into()
    }
}

/// The new bytes of every file that changes: each kubeconfig edited by the proving
/// editor, each token file replaced whole (once, whatever names reach it). The reading is
/// taken apart as it goes (`kc` is left empty): each kubeconfig's text moves into its
/// write as the original (for the check under the lock and for rollback, not copied), and
/// its model is dropped before the next file is edited, so the models, the edited texts
/// and the proof's readings of all the files are never held at once.
pub fn prepare_writes(
    kc: &mut Kubeconfig,
    targets: &[Target],
    new: &Token,
    record: &TokenExtension<'_>,
    force: bool,
) -> anyhow::Result<Vec<PlannedWrite>> {
    // Token files first (written after the kubeconfigs): telling them apart from the
    // kubeconfig files needs the whole reading.
    let mut token_writes = Vec::new();
    for (path, target) in token_files(targets) {
        let original = read_rewritable_token_file(kc, target, path, force)?;
        token_writes.push(PlannedWrite {
            path: path.to_path_buf(),
            new: token_file_content(&original, new).into(),
            original: Some(original.into()),
        });
    }
    let expires_known = record.expires.is_some();
    let mut writes = Vec::new();
    for loaded in std::mem::take(kc).into_files() {
        let here: Vec<&Target> = targets
            .iter()
            .filter(|t| t.file == loaded.path && t.writes_kubeconfig(expires_known))
            .collect();
        if here.is_empty() {
            continue;
        }
        let tokens = here.iter().filter(|t| t.inline).map(|t| Edit::Token {
            user: &t.user,
            new_token: new.expose(),
        });
        // The extension is written when the expiry is known, and brought up to date where
        // one exists (else it would describe the token that is gone).
        let records = here
            .iter()
            .filter(|t| expires_known || t.has_extension)
            .map(|t| Edit::Extension {
                user: &t.user,
                record,
            });
        let edits: Vec<Edit> = tokens.chain(records).collect();
        // (A UTF-16 file is refused here, by name.)
        loaded.editable_text()?;
        let text = edit::apply_loaded(&loaded, &edits)
            .with_context(|| format!("cannot edit kubeconfig {}", loaded.path.display()))?;
        // The file's model is dropped here, before the next file's edit.
        let LoadedFile {
            path,
            text: original,
            ..
        } = loaded;
        writes.push(PlannedWrite {
            path,
            original: Some(original.into_bytes()),
            new: text.into_bytes(),
        });
    }
    writes.extend(token_writes);
    Ok(writes)
}

/// Each token file to rewrite once, by the first name that reaches it (`tok`, `./tok` and
/// a symlink to it are one file), with the first entry that names it.
fn token_files(targets: &[Target]) -> Vec<(&Path, &Target)> {
    let mut files: Vec<(&Path, &Target)> = Vec::new();
    let mut seen_ids = HashSet::new();
    let mut seen_names = BTreeSet::new();
    for t in targets {
        let Some(path) = t.token_file.as_deref() else {
            continue;
        };
        if !seen_names.insert(path) {
            continue;
        }
        if token_file::file_id(path).is_none_or(|id| seen_ids.insert(id)) {
            files.push((path, t));
        }
    }
    files
}

/// Every token file passes [`read_rewritable_token_file`]; called before the prompt.
fn check_token_files(kc: &Kubeconfig, targets: &[Target], force: bool) -> anyhow::Result<()> {
    for (path, target) in token_files(targets) {
        read_rewritable_token_file(kc, target, path, force)?;
    }
    Ok(())
}

/// The bytes of a token file that rotate may replace whole: a regular file within the
/// token size cap, not one of the loaded kubeconfig files (by identity, whatever the
/// name), holding one token line (CoreWeave-shaped unless `force`). Anything else is
/// refused naming the file: `tokenFile: config` or `tokenFile: ../etc/passwd` must never
/// be overwritten by a token.
fn read_rewritable_token_file(
    kc: &Kubeconfig,
    target: &Target,
    path: &Path,
    force: bool,
) -> anyhow::Result<Vec<u8>> {
    let refuse = |reason: &str| {
        anyhow::anyhow!(
            "refusing to rewrite tokenFile {} of user {:?} (in {}): {reason}; nothing was written",
            path.display(),
            target.user,
            target.file.display()
        )
    };
    let id = token_file::file_id(path);
    if let Some(k) = kc
        .files
        .iter()
        .find(|f| id.is_some() && token_file::file_id(&f.path) == id)
    {
        return Err(refuse(&format!(
            "it is the kubeconfig file {}",
            k.path.display()
        )));
    }
    let bytes = token_file::read_token_file(path).map_err(|e| refuse(&e.message()))?;
    if let Some(reason) = token_file::not_a_token_file(&bytes, force) {
        return Err(refuse(&reason));
    }
    Ok(bytes)
}

/// The new token in place of the old one, keeping the file's trailing line break (or
/// its absence), so tools that read the file the way they did still do.
fn token_file_content(original: &[u8], new: &Token) -> Vec<u8> {
    let trimmed_len = original
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let trailing = original.get(trimmed_len..).unwrap_or(&[]);
    let mut v = new.expose().as_bytes().to_vec();
    v.extend_from_slice(if trailing.is_empty() { b"" } else { trailing });
    v
}

fn describe(t: &Target) -> String {
    let where_ = match (&t.token_file, &t.keyring_item) {
        (Some(p), _) => format!(
            "tokenFile {} of user {} in {}",
            shown_path(p),
            quoted(&t.user),
            shown_path(&t.file)
        ),
        (None, Some(item)) => format!(
            "keyring item {} of user {} in {}",
            quoted(item),
            quoted(&t.user),
            shown_path(&t.file)
        ),
        (None, None) => format!("user {} in {}", quoted(&t.user), shown_path(&t.file)),
    };
    let used = match (&t.shadowed_by, t.contexts.is_empty()) {
        (Some(f), _) => format!("shadowed by the entry in {}", shown_path(f)),
        (None, true) => "used by no context".to_string(),
        (None, false) => format!("contexts: {}", shown(&t.contexts.join(", "))),
    };
    format!("{where_} ({used})")
}

/// Entries listed per file before the rest are counted: 2,000 lines help nobody.
const LISTED_PER_FILE: usize = 10;

fn print_targets(targets: &[Target], out: &mut dyn Write) -> std::io::Result<()> {
    let mut shown: Vec<(&Path, usize)> = Vec::new();
    for t in targets {
        let n = match shown.iter_mut().find(|(f, _)| *f == t.file.as_path()) {
            Some((_, n)) => n,
            None => {
                shown.push((&t.file, 0));
                &mut shown.last_mut().expect("just pushed").1
            }
        };
        *n += 1;
        if *n <= LISTED_PER_FILE {
            writeln!(out, "  {}", describe(t))?;
        }
    }
    for (file, n) in shown {
        if n > LISTED_PER_FILE {
            writeln!(
                out,
                "  … and {} more in {}",
                n - LISTED_PER_FILE,
                shown_path(file)
            )?;
        }
    }
    Ok(())
}

fn print_done(
    targets: &[Target],
    writes: usize,
    record: &TokenExtension<'_>,
    backups: &[PathBuf],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "Rotated the token of {} ({} written):",
        count(targets.len(), "user entry", "user entries"),
        count(writes, "file", "files")
    )?;
    print_targets(targets, out)?;
    if let Some(e) = record.expires {
        writeln!(
            out,
            "Expires: {} (recorded on each entry as the {} extension)",
            shown(e),
            crate::coreweave::TOKEN_EXTENSION
        )?;
    }
    for b in backups {
        writeln!(out, "Backup: {}", shown_path(b))?;
    }
    Ok(())
}

fn print_dry_run(plan: &Plan, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "Would rotate the token of {} ({} to write):",
        count(plan.targets.len(), "user entry", "user entries"),
        count(plan.writes.len(), "file", "files")
    )?;
    print_targets(&plan.targets, out)?;
    for w in &plan.writes {
        let before = String::from_utf8_lossy(w.original.as_deref().unwrap_or_default());
        let after = String::from_utf8_lossy(&w.new);
        // Every line goes out through the masking of kubeconfig text: a token file is
        // secret whole, a kubeconfig keeps all but its credentials readable.
        let is_token_file = plan
            .targets
            .iter()
            .any(|t| t.token_file.as_ref() == Some(&w.path));
        let view = if is_token_file {
            mask::token_file_lines
        } else {
            mask::kubeconfig_lines
        };
        let name = shown_path(&w.path);
        let diff = super::diff::unified(&before, &after, &view(&before), &view(&after), &name, 2);
        out.write_all(diff.as_bytes())?;
    }
    writeln!(out, "Dry run: nothing was written.")?;
    Ok(())
}

/// The confirmation question names every file that will be written.
fn confirm_question(entries: usize, files: &BTreeSet<PathBuf>) -> String {
    let names: Vec<String> = files.iter().map(|f| crate::secret::shown_path(f)).collect();
    format!(
        "Write the new token to {} in {}: {}?",
        count(entries, "user entry", "user entries"),
        count(files.len(), "file", "files"),
        names.join(", ")
    )
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_names_every_file() {
        let files: BTreeSet<PathBuf> = ["/k/config", "/k/tok"].map(PathBuf::from).into();
        assert_eq!(
            confirm_question(3, &files),
            "Write the new token to 3 user entries in 2 files: /k/config, /k/tok?"
        );
    }
}
