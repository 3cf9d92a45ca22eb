//! `kubectl coreweave token rotate`: put a new token everywhere the active user's token is
//! stored, in place, losing nothing.
//!
//! The order of work is what makes it safe: read and plan without locks (the new token may
//! come from a prompt that takes minutes), then lock the files to change, read them again
//! under the lock and plan again from what is really there, prepare every new content
//! (the editor proves each one by re-parsing), and only then commit them one by one with
//! rollback. `--dry-run` stops after the first plan and takes no lock.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::cli::{RotateArgs, Verify};
use crate::kubeconfig::edit::{replace_user_tokens, TokenEdit};
use crate::kubeconfig::extension::{upsert_token_extension, TokenExtension};
use crate::kubeconfig::resolve::{credential_of, Selection};
use crate::kubeconfig::write::{self, FileLock, PlannedWrite};
use crate::kubeconfig::{Credential, Kubeconfig, Sourced};
use crate::secret::Token;
use crate::token::source::{self, Source};
use crate::token::verify;

/// One user entry that holds the old token, and how it holds it.
#[derive(Debug, Clone)]
pub struct Target {
    pub file: PathBuf,
    pub user: String,
    /// Merged contexts that use this entry; empty for a shadowed entry.
    pub contexts: Vec<String>,
    /// The earlier file whose same-named entry hides this one from kubectl.
    pub shadowed_by: Option<PathBuf>,
    /// Set when the token lives in a tokenFile (that file is rewritten).
    pub token_file: Option<PathBuf>,
    /// The inline `token` holds the old token too (also rewritten).
    pub inline: bool,
    /// The entry carries a `coreweave.com/token` extension (about the old token: it is
    /// brought up to date, or its expiry would describe a token that is gone).
    pub has_extension: bool,
}

impl Target {
    /// Whether rotating this entry rewrites its kubeconfig file.
    fn writes_kubeconfig(&self, expires_known: bool) -> bool {
        self.inline || expires_known || self.has_extension
    }
}

/// Every file to write, with its bytes before and after.
#[derive(Debug)]
pub struct Plan {
    pub targets: Vec<Target>,
    pub writes: Vec<PlannedWrite>,
}

pub fn run(
    paths: &[PathBuf],
    explicit: bool,
    sel: &Selection,
    args: &RotateArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let kc = Kubeconfig::load_settled(paths, explicit, Duration::from_secs(args.lock_timeout))?;
    let resolved = kc.resolve(sel)?;
    let old = kc.credential(resolved.user_origin)?.token().clone();
    let active = resolved.user_origin;
    let active_file = kc.path(active.file).to_path_buf();

    let (source, new, expires) = if args.mint {
        let minted = mint(args)?;
        (Source::Minted, minted.token, Some(minted.expire_time))
    } else {
        // Check --expires before asking for anything.
        let expires = args.expires.as_deref().map(expiry_time).transpose()?;
        let source = source_of(args)?;
        (source.clone(), source::fetch(&source)?, expires)
    };
    source::validate(&new, &old, &source.describe(), args.force)?;

    // Without the lock only the targets are found; the edits are made (and proven) once,
    // under the lock, from the bytes that will really be replaced.
    let targets = find_targets(&kc, active, &old, args.only_current)?;
    let contexts: Vec<String> = targets
        .iter()
        .flat_map(|t| t.contexts.iter().cloned())
        .collect();
    let proof = match args.verify {
        Verify::None => verify::Proof::default(),
        how => verify::prove(&verify::Request {
            kc: &kc,
            contexts: &contexts,
            old: &old,
            new: &new,
            how,
            api: &args.api,
            force: args.force,
        })?,
    };
    print_proof(&proof, out)?;
    let rotated_at = crate::time::format_rfc3339(crate::time::unix_now());
    let record = TokenExtension {
        expires: expires.as_deref(),
        source: source.kind(),
        rotated_at: &rotated_at,
    };
    let expires_known = expires.is_some();
    if args.dry_run {
        let plan = Plan {
            writes: prepare_writes(&kc, &targets, &new, &record)?,
            targets,
        };
        return print_dry_run(&plan, &old, &new, out);
    }
    if matches!(source, Source::Prompt) && !args.yes && !args.force {
        source::confirm(&format!(
            "Write the new token to {} in {}?",
            count(targets.len(), "user entry", "user entries"),
            count(files_of(&targets, expires_known).len(), "file", "files")
        ))?;
    }

    // Everything is read again under the lock. Files that still hold the bytes planned
    // from keep the first parse (parsing is most of a large rotate's CPU); after any change
    // everything is parsed and planned again.
    let mut first = Some(kc);
    let timeout = Duration::from_secs(args.lock_timeout);
    // The files to lock come from the unlocked plan; if the plan under the lock needs a file
    // that is not locked (someone edited in between), lock again with the larger set.
    let mut to_lock = files_of(&targets, expires_known);
    let _signals = write::InterruptGuard::install();
    for _ in 0..3 {
        let locks = lock_all(&to_lock, timeout)?;
        let kc = match first
            .take()
            .filter(|kc| kc.unchanged_on_disk(paths, explicit))
        {
            Some(kc) => kc,
            None => Kubeconfig::load(paths, explicit)?,
        };
        let Some(active) = find_entry(&kc, &active_file, &resolved.user)
            .or_else(|| kc.resolve(sel).ok().map(|r| r.user_origin))
        else {
            bail!(
                "user {:?} disappeared from the kubeconfig while rotating; nothing was written",
                resolved.user
            );
        };
        if kc.credential(active).map(|c| c.token() == &old).ok() != Some(true) {
            bail!(
                "the token of user {:?} changed on disk while rotating (another rotate?); nothing was written",
                resolved.user
            );
        }
        let targets = find_targets(&kc, active, &old, args.only_current)?;
        let needed = files_of(&targets, expires_known);
        if !needed.is_subset(&to_lock) {
            drop(locks);
            to_lock.extend(needed);
            continue;
        }
        let plan = Plan {
            writes: prepare_writes(&kc, &targets, &new, &record)?,
            targets,
        };
        let mut backups = Vec::new();
        if args.backup {
            for w in &plan.writes {
                backups.push(write::backup(&w.path)?);
            }
        }
        if write::interrupted() {
            bail!("interrupted; nothing was written");
        }
        for w in &plan.writes {
            write::remove_stale_temp_files(&w.path);
        }
        write::commit(&plan.writes)?;
        drop(locks);
        return print_done(&plan, &record, &backups, out);
    }
    bail!("the kubeconfig files kept changing while rotating; nothing was written")
}

/// `--mint`: the service-account OIDC exchange.
pub fn mint(args: &RotateArgs) -> anyhow::Result<crate::coreweave::Minted> {
    let (Some(uid), Some(oidc_file)) = (&args.service_account, &args.oidc_token_file) else {
        bail!("--mint needs --service-account UID and --oidc-token-file PATH");
    };
    let duration = crate::time::parse_go_duration(&args.duration)
        .map_err(|e| anyhow::anyhow!("--duration {:?}: {e}", args.duration))?;
    let oidc = std::fs::read_to_string(oidc_file)
        .with_context(|| format!("cannot read --oidc-token-file {}", oidc_file.display()))?;
    let oidc = Token::new(oidc.trim());
    let cfg = crate::coreweave::ApiConfig::resolve(
        args.api.api_endpoint.as_deref(),
        args.api.request_timeout.as_deref(),
    )?;
    Ok(crate::coreweave::mint_service_account_token(
        &cfg,
        &args.mint_path,
        &oidc,
        uid,
        duration,
    )?)
}

/// `--expires`: an RFC 3339 time, or a duration from now (`90d`, `8h`, `1h30m`), as UTC
/// RFC 3339.
fn expiry_time(text: &str) -> anyhow::Result<String> {
    use crate::time::{format_rfc3339, parse_go_duration, parse_rfc3339, unix_now};
    if let Some(t) = parse_rfc3339(text) {
        return Ok(format_rfc3339(t));
    }
    let seconds = match text.strip_suffix('d').map(str::parse::<u64>) {
        Some(Ok(days)) => days.checked_mul(86_400),
        _ => parse_go_duration(text).ok().map(|d| d.as_secs()),
    };
    match seconds.and_then(|s| i64::try_from(s).ok()) {
        Some(s) => Ok(format_rfc3339(unix_now().saturating_add(s))),
        None => bail!("--expires {text:?}: give an RFC 3339 time (2027-01-31T00:00:00Z) or a duration (8h, 90d)"),
    }
}

fn print_proof(proof: &verify::Proof, out: &mut dyn Write) -> std::io::Result<()> {
    if let Some(p) = &proof.principal {
        writeln!(
            out,
            "Verified: CoreWeave accepts the new token (principal {}, org {})",
            p.uid, p.org_uid
        )?;
    }
    if !proof.clusters.is_empty() {
        writeln!(
            out,
            "Verified: the clusters of context {} accept it",
            proof.clusters.join(", ")
        )?;
    }
    Ok(())
}

fn source_of(args: &RotateArgs) -> Result<Source, source::SourceError> {
    Ok(if let Some(token) = &args.imported {
        Source::Imported(token.clone())
    } else if args.from_stdin {
        Source::Stdin
    } else if let Some(p) = &args.from_file {
        Source::File(p.clone())
    } else if let Some(p) = &args.from_kubeconfig {
        Source::Kubeconfig(p.clone())
    } else if let Some(c) = &args.from_command {
        Source::Command {
            command: c.clone(),
            timeout: Duration::from_secs(args.command_timeout),
        }
    } else {
        Source::prompt_or_error()?
    })
}

/// Locks in path order, so two rotates over the same files cannot wait on each other.
fn lock_all(paths: &BTreeSet<PathBuf>, timeout: Duration) -> anyhow::Result<Vec<FileLock>> {
    paths
        .iter()
        .map(|p| write::lock(p, timeout).map_err(anyhow::Error::from))
        .collect()
}

fn find_entry(kc: &Kubeconfig, file: &Path, user: &str) -> Option<Sourced> {
    kc.all_users()
        .find(|(s, u)| kc.path(s.file) == file && u.name == user)
        .map(|(s, _)| s)
}

/// The files a rotation of `targets` writes: kubeconfig files with inline tokens, and
/// token files.
fn files_of(targets: &[Target], expires_known: bool) -> BTreeSet<PathBuf> {
    targets
        .iter()
        .flat_map(|t| {
            let kubeconfig = t.writes_kubeconfig(expires_known).then(|| t.file.clone());
            kubeconfig.into_iter().chain(t.token_file.clone())
        })
        .collect()
}

/// Which entries hold `old`. Entries are compared by the token client-go would use
/// (tokenFile content first), in every loaded file, shadowed entries included.
pub fn find_targets(
    kc: &Kubeconfig,
    active: Sourced,
    old: &Token,
    only_current: bool,
) -> anyhow::Result<Vec<Target>> {
    // Which merged contexts name each user, computed once: 2,000 users times 2,000
    // contexts, asked one by one, would be quadratic.
    let mut contexts_of: HashMap<&str, Vec<String>> = HashMap::new();
    for (name, ctx) in kc.contexts() {
        if let Some(user) = ctx.context.as_ref().and_then(|c| c.user.as_deref()) {
            contexts_of.entry(user).or_default().push(name.to_string());
        }
    }
    // The same file listed twice under different names (a symlink in KUBECONFIG) is one
    // file: its entries are edited once, through the first name.
    let mut canonical: Vec<Option<PathBuf>> = Vec::new();
    for f in &kc.files {
        let c = std::fs::canonicalize(&f.path).ok();
        let seen = c.is_some() && canonical.contains(&c);
        canonical.push(if seen {
            None
        } else {
            c.or_else(|| Some(f.path.clone()))
        });
    }
    let mut targets = Vec::new();
    for (origin, entry) in kc.all_users() {
        if only_current && origin != active {
            continue;
        }
        if canonical[origin.file].is_none() && origin != active {
            continue;
        }
        let file = kc.path(origin.file);
        let Ok(cred) = credential_of(file, entry) else {
            continue;
        };
        if cred.token() != old {
            continue;
        }
        let inline_token = entry.user.as_ref().and_then(|u| u.token.as_deref());
        let shadowed_by = kc
            .user(&entry.name)
            .filter(|(winner, _)| *winner != origin)
            .map(|(winner, _)| kc.path(winner.file).to_path_buf());
        let (token_file, inline) = match cred {
            Credential::Inline(_) => (None, true),
            Credential::File { path, .. } => (Some(path), inline_token == Some(old.expose())),
        };
        targets.push(Target {
            file: file.to_path_buf(),
            user: entry.name.clone(),
            contexts: match &shadowed_by {
                Some(_) => Vec::new(),
                None => contexts_of
                    .get(entry.name.as_str())
                    .cloned()
                    .unwrap_or_default(),
            },
            shadowed_by,
            token_file,
            inline,
            has_extension: entry
                .user
                .as_ref()
                .and_then(|u| u.extensions.as_ref())
                .is_some_and(|e| {
                    e.iter()
                        .any(|x| x.name == crate::coreweave::TOKEN_EXTENSION)
                }),
        });
    }
    if targets.is_empty() {
        bail!("no user entry holds the active user's token any more; nothing to rotate");
    }
    Ok(targets)
}

/// The new bytes of every file that changes: each kubeconfig edited by the proving
/// editor, each token file replaced whole.
pub fn prepare_writes(
    kc: &Kubeconfig,
    targets: &[Target],
    new: &Token,
    record: &TokenExtension<'_>,
) -> anyhow::Result<Vec<PlannedWrite>> {
    let expires_known = record.expires.is_some();
    let mut writes = Vec::new();
    for loaded in &kc.files {
        let here: Vec<&Target> = targets
            .iter()
            .filter(|t| t.file == loaded.path && t.writes_kubeconfig(expires_known))
            .collect();
        if here.is_empty() {
            continue;
        }
        let edits: Vec<TokenEdit> = here
            .iter()
            .filter(|t| t.inline)
            .map(|t| TokenEdit {
                user: &t.user,
                new_token: new.expose(),
            })
            .collect();
        let cannot_edit = || format!("cannot edit kubeconfig {}", loaded.path.display());
        let mut text = replace_user_tokens(&loaded.text, &edits).with_context(cannot_edit)?;
        // The extension is written when the expiry is known, and brought up to date where
        // one exists (else it would describe the token that is gone).
        let users: Vec<&str> = here
            .iter()
            .filter(|t| expires_known || t.has_extension)
            .map(|t| t.user.as_str())
            .collect();
        if !users.is_empty() {
            // (Without users it would return a copy: megabytes for nothing.)
            text = upsert_token_extension(&text, &users, record).with_context(cannot_edit)?;
        }
        writes.push(PlannedWrite {
            path: loaded.path.clone(),
            original: Some(loaded.text.clone().into_bytes()),
            new: text.into_bytes(),
        });
    }
    let token_files: BTreeSet<&PathBuf> = targets
        .iter()
        .filter_map(|t| t.token_file.as_ref())
        .collect();
    for path in token_files {
        let original = std::fs::read(path)
            .with_context(|| format!("cannot read tokenFile {}", path.display()))?;
        writes.push(PlannedWrite {
            path: path.clone(),
            new: token_file_content(&original, new),
            original: Some(original),
        });
    }
    Ok(writes)
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
    let where_ = match &t.token_file {
        Some(p) => format!(
            "tokenFile {} of user {:?} in {}",
            p.display(),
            t.user,
            t.file.display()
        ),
        None => format!("user {:?} in {}", t.user, t.file.display()),
    };
    let used = match (&t.shadowed_by, t.contexts.is_empty()) {
        (Some(f), _) => format!("shadowed by the entry in {}", f.display()),
        (None, true) => "used by no context".to_string(),
        (None, false) => format!("contexts: {}", t.contexts.join(", ")),
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
                file.display()
            )?;
        }
    }
    Ok(())
}

fn print_done(
    plan: &Plan,
    record: &TokenExtension<'_>,
    backups: &[PathBuf],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "Rotated the token of {} ({} written):",
        count(plan.targets.len(), "user entry", "user entries"),
        count(plan.writes.len(), "file", "files")
    )?;
    print_targets(&plan.targets, out)?;
    if let Some(e) = record.expires {
        writeln!(
            out,
            "Expires: {e} (recorded on each entry as the {} extension)",
            crate::coreweave::TOKEN_EXTENSION
        )?;
    }
    for b in backups {
        writeln!(out, "Backup: {}", b.display())?;
    }
    Ok(())
}

fn print_dry_run(plan: &Plan, old: &Token, new: &Token, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "Would rotate the token of {} ({} to write):",
        count(plan.targets.len(), "user entry", "user entries"),
        count(plan.writes.len(), "file", "files")
    )?;
    print_targets(&plan.targets, out)?;
    for w in &plan.writes {
        let before = mask(
            &String::from_utf8_lossy(w.original.as_deref().unwrap_or_default()),
            old,
            new,
        );
        let after = mask(&String::from_utf8_lossy(&w.new), old, new);
        let name = w.path.display().to_string();
        let diff = super::diff::unified(&before, &after, &name, 2);
        for line in diff.lines() {
            writeln!(out, "{}", hide_token_fragments(line, old, new))?;
        }
    }
    writeln!(out, "Dry run: nothing was written.")?;
    Ok(())
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A changed line of the dry-run diff that still shows part of a token: a token written
/// over several lines (a quoted or block scalar with line breaks) is not caught by
/// [`mask`], which replaces whole tokens. Such a line shows its key, if any, then `…`.
fn hide_token_fragments<'a>(line: &'a str, old: &Token, new: &Token) -> std::borrow::Cow<'a, str> {
    let changed = (line.starts_with('-') && !line.starts_with("---"))
        || (line.starts_with('+') && !line.starts_with("+++"));
    let masked = line.contains(&old.masked()) || line.contains(&new.masked());
    let Some(body) = line.get(1..).filter(|_| changed && !masked) else {
        return line.into();
    };
    let indent = &body[..body.len() - body.trim_start().len()];
    let mark = &line[..1];
    if let Some(at) = body.find("token") {
        return format!("{mark}{}token …", &body[..at]).into();
    }
    match body.trim_start().split_once(": ") {
        Some(_) => line.into(),
        None if body.trim_end().ends_with(':') => line.into(),
        None => format!("{mark}{indent}…").into(),
    }
}

/// Masks both tokens in text shown to the user.
fn mask(text: &str, old: &Token, new: &Token) -> String {
    text.replace(old.expose(), &old.masked())
        .replace(new.expose(), &new.masked())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_lines_never_show_a_token_split_over_lines() {
        let (old, new) = (
            Token::new("CW-SECRET-old-abcdefgh"),
            Token::new("CW-SECRET-new-12345678"),
        );
        let hide = |l: &str| hide_token_fragments(l, &old, &new).into_owned();
        assert_eq!(hide("-    token: \"CW-SECRET-old-ab"), "-    token …");
        assert_eq!(hide("-      cdefgh\""), "-      …");
        let shown = format!("+    token: {}", new.masked());
        assert_eq!(hide(&shown), shown);
        assert_eq!(hide("+    extensions:"), "+    extensions:");
        assert_eq!(
            hide("+        source: \"stdin\""),
            "+        source: \"stdin\""
        );
        assert_eq!(hide(" unchanged context line"), " unchanged context line");
        assert_eq!(hide("--- /path/config"), "--- /path/config");
    }
}
