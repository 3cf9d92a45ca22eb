//! `kubectl coreweave token list`: every distinct CoreWeave token reachable through the
//! loaded kubeconfig files (shadowed user entries included), where each is stored, which
//! user entries hold it, which contexts use it and when it expires; with `--check`, whether
//! CoreWeave's whoami still accepts each one.
//!
//! It owns the grouping (user entries → distinct tokens → contexts), the bounded parallel
//! check and the two renderings: an 80-column table and a documented JSON/YAML schema
//! (README, "token list"). Loading, resolving and the API call are the shared ones.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{ListArgs, OutputFormat};
use crate::commands::token::show::{token_extension, Expiry, EXPIRY_WARNING_DAYS};
use crate::coreweave::{ApiConfig, ApiError, Principal};
use crate::kubeconfig::resolve::{credential_of, Selection};
use crate::kubeconfig::{Credential, Kubeconfig, KubeconfigError, Sourced};
use crate::secret::{escape_controls, mask_coreweave_tokens, Token};
use crate::time::humanize;
use jiff::{SignedDuration, Timestamp};

/// At most this many whoami calls are in flight at once: enough to hide the latency of a
/// fleet of tokens, few enough not to look like a flood to the API's rate limiter.
pub const CHECK_CONCURRENCY: usize = 4;

/// `--check` found a token that the API rejected or whose recorded expiry has passed.
pub const EXIT_REJECTED: u8 = 1;
/// `--check` could not get a verdict for some token (and none was rejected or expired).
pub const EXIT_UNREACHABLE: u8 = 3;

/// The version of the `-o json|yaml` schema; raised on any change that is not an addition.
pub const SCHEMA_VERSION: u32 = 1;

/// The table is laid out for a terminal this wide.
const TABLE_WIDTH: usize = 80;
/// Users or contexts shown per row before the rest are counted as `+N more`.
const MAX_LINES: usize = 3;

/// What `token list` reports (the `-o json|yaml` document). Every string that comes from a
/// kubeconfig has any `CW-SECRET-…` run in it masked.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub schema_version: u32,
    /// The files read, in precedence order (a holder's or context's `file` is one of them).
    pub files: Vec<String>,
    /// The context `token show` would use: `--context`, else `current-context`.
    pub current_context: Option<String>,
    /// One per distinct CoreWeave token, in order of first appearance in the files.
    pub tokens: Vec<TokenEntry>,
    /// User entries not listed: no CoreWeave token (another kind of credential, a token
    /// without the `CW-SECRET-` prefix, nothing), or a token that cannot be read.
    pub other_users: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenEntry {
    /// Masked: `CW-SECRET-…1a2b`.
    pub token: String,
    /// Every user entry holding the token, in file order, shadowed ones included.
    pub holders: Vec<Holder>,
    /// The merged contexts (kubectl's view) whose user is a holder that is not shadowed.
    pub contexts: Vec<ContextRef>,
    /// The earliest expiry the holders record (`coreweave.com/token` extension), as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
    /// Expired, or expires within 7 days.
    pub expiry_warning: bool,
    /// Seconds left at the time of listing, for the table.
    #[serde(skip)]
    pub expires_in_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckResult>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    pub user: String,
    pub file: String,
    /// A user of the same name in an earlier file wins; kubectl never uses this entry, but
    /// `token rotate` still changes it.
    pub shadowed: bool,
    pub storage: Storage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Where a holder keeps the token: `{"kind": "token"}`, `{"kind": "tokenFile", "path": …}`.
/// A credential kept elsewhere (an exec entry reading a keyring) becomes another kind here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Storage {
    Token,
    TokenFile {
        path: String,
    },
    /// `token store` put it in the OS keyring; the user entry runs this plugin's
    /// `token credential ITEM`.
    Keyring {
        item: String,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextRef {
    pub name: String,
    pub file: String,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub status: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Why the token was rejected or no verdict came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    Accepted,
    /// 401/403: the API does not take the token.
    Rejected,
    /// No verdict: no connection, timeout, 429, 5xx or an answer that is not whoami's.
    Unreachable,
}

/// An error that ends the command with its own exit status: printed as one `error:` line.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CheckFailed {
    pub status: u8,
    pub message: String,
}

pub fn run(
    kc: &Kubeconfig,
    sel: &Selection,
    args: &ListArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if kc.files.is_empty() {
        return Err(KubeconfigError::NoFiles(kc.files_for_messages()).into());
    }
    // `--context` only moves the current mark, but a name that is not there is a typo to
    // report, as `token show` does, not a mark that silently goes nowhere.
    if let Some(name) = sel.context.as_deref().filter(|c| !c.is_empty()) {
        if kc.context(name).is_none() {
            return Err(KubeconfigError::UnknownContext {
                name: name.to_string(),
                files: kc.files_for_messages(),
            }
            .into());
        }
    }
    // Settings are checked before anything is printed or sent.
    let api = if args.check {
        Some(ApiConfig::resolve(
            args.api.api_endpoint.as_deref(),
            args.api.request_timeout.as_deref(),
        )?)
    } else {
        None
    };
    let (mut listing, tokens, warnings) = collect(kc, sel, Timestamp::now());
    for w in &warnings {
        eprintln!("warning: {}", escape_controls(&mask_coreweave_tokens(w)));
    }
    if let Some(cfg) = &api {
        let checks = check_all(cfg, &tokens);
        for (entry, check) in listing.tokens.iter_mut().zip(checks) {
            entry.check = Some(check);
        }
    }
    let text = match args.output {
        Some(OutputFormat::Json) => {
            let mut s = serde_json::to_string_pretty(&listing)?;
            s.push('\n');
            s
        }
        Some(OutputFormat::Yaml) => serde_saphyr::to_string(&listing)?,
        None => table(&listing, use_colour()),
    };
    out.write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    match api {
        Some(_) => verdict_status(&listing),
        None => Ok(()),
    }
}

/// Colour only for a person at a terminal, and not when `NO_COLOR` is set to anything.
fn use_colour() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// The listing (without checks), the distinct tokens in the same order as its rows, and
/// the warnings for stderr.
pub fn collect(
    kc: &Kubeconfig,
    sel: &Selection,
    now: Timestamp,
) -> (Listing, Vec<Token>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut rows: Vec<TokenEntry> = Vec::new();
    let mut tokens: Vec<Token> = Vec::new();
    let users: usize = kc.files.iter().map(|f| f.config.users.len()).sum();
    let mut row_of: HashMap<Token, usize> = HashMap::with_capacity(users);
    // [file][index] of a user entry that kubectl uses → its row, for the contexts below.
    let mut row_of_user: Vec<Vec<Option<usize>>> = kc
        .files
        .iter()
        .map(|f| vec![None; f.config.users.len()])
        .collect();
    let file_names: Vec<String> = (0..kc.files.len())
        .map(|i| clean(&kc.path(i).display().to_string()))
        .collect();
    let mut expiries: Vec<Vec<Expiry>> = Vec::new();
    let mut other_users = 0;
    for (origin, entry) in kc.all_users() {
        let credential = match credential_of(kc.path(origin.file), entry) {
            Ok(c) if c.token().is_coreweave() => c,
            // `token store` moved it into the OS keyring: the exec entry leads there (one
            // keyring read per such entry).
            Err(KubeconfigError::NoToken { .. }) => {
                match super::holders::stored_credential(kc, origin) {
                    Some(Ok(c)) if c.token().is_coreweave() => c,
                    Some(Err(e)) => {
                        other_users += 1;
                        warnings.push(format!("{e:#}; not listed"));
                        continue;
                    }
                    _ => {
                        other_users += 1;
                        continue;
                    }
                }
            }
            Ok(_) => {
                other_users += 1;
                continue;
            }
            Err(e) => {
                other_users += 1;
                let mut text = e.to_string();
                if let Some(io) =
                    std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>())
                {
                    text = format!("{text}: {}", crate::io::io_message(io));
                }
                warnings.push(format!("{text}; not listed"));
                continue;
            }
        };
        let (token, storage) = match credential {
            Credential::Inline(t) => (t, Storage::Token),
            Credential::File { path, token } => (
                token,
                Storage::TokenFile {
                    path: clean(&path.display().to_string()),
                },
            ),
            Credential::Keyring { reference, token } => {
                warnings.extend(super::holders::foreign_program_note(kc, origin));
                (
                    token,
                    Storage::Keyring {
                        item: clean(&reference),
                    },
                )
            }
        };
        let row = *row_of.entry(token.clone()).or_insert_with(|| {
            rows.push(TokenEntry {
                token: token.masked(),
                holders: Vec::new(),
                contexts: Vec::new(),
                expires: None,
                expires_in_days: None,
                expired: None,
                expiry_warning: false,
                expires_in_secs: None,
                check: None,
            });
            tokens.push(token.clone());
            expiries.push(Vec::new());
            rows.len() - 1
        });
        let recorded = token_extension(kc, origin).and_then(|e| e.expires.clone());
        if let Some(e) = &recorded {
            expiries[row].push(Expiry::at(e, now));
        }
        let shadowed = kc.user(&entry.name).map(|(s, _)| s) != Some(origin);
        if !shadowed {
            row_of_user[origin.file][origin.index] = Some(row);
        }
        rows[row].holders.push(Holder {
            user: clean(&entry.name),
            file: file_names[origin.file].clone(),
            shadowed,
            storage,
            expires: recorded.map(|e| clean(&e)),
        });
    }
    let current = sel
        .context
        .as_deref()
        .filter(|c| !c.is_empty())
        .or(kc.current_context());
    for (name, ctx) in kc.contexts() {
        let Some(user) = ctx.context.as_ref().and_then(|c| c.user.as_deref()) else {
            continue;
        };
        let Some((Sourced { file, index }, _)) = kc.user(user) else {
            continue;
        };
        let Some(row) = row_of_user[file][index] else {
            continue;
        };
        let context_file = kc.context(name).map_or(0, |(s, _)| s.file);
        rows[row].contexts.push(ContextRef {
            name: clean(name),
            file: file_names[context_file].clone(),
            current: Some(name) == current,
        });
    }
    for ((row, found), token) in rows.iter_mut().zip(&expiries).zip(&tokens) {
        // The earliest readable expiry speaks for the token; an unreadable one only when no
        // holder records a readable one.
        let Some(expiry) = found
            .iter()
            .filter(|e| e.left.is_some())
            .min_by_key(|e| e.left)
            .or(found.first())
        else {
            continue;
        };
        row.expires = Some(clean(&expiry.expires));
        row.expires_in_days = expiry.in_days();
        row.expired = expiry.expired();
        row.expires_in_secs = expiry.left.map(|d| d.as_secs());
        if let Some(w) = expiry.warning() {
            row.expiry_warning = true;
            warnings.push(format!("{}: {w}", token.masked()));
        }
    }
    let listing = Listing {
        schema_version: SCHEMA_VERSION,
        files: file_names,
        current_context: current.map(clean),
        tokens: rows,
        other_users,
    };
    (listing, tokens, warnings)
}

/// A string from a kubeconfig made safe to print anywhere: no whole token inside.
fn clean(s: &str) -> String {
    mask_coreweave_tokens(s)
}

/// Ask whoami about every token, [`CHECK_CONCURRENCY`] at a time, as tasks on the
/// network layer's runtime; the results in order.
pub fn check_all(cfg: &ApiConfig, tokens: &[Token]) -> Vec<CheckResult> {
    let not_checked = |why: String| CheckResult {
        status: Verdict::Unreachable,
        principal: None,
        org: None,
        error: Some(why),
    };
    let jobs: Vec<_> = tokens
        .iter()
        .map(|token| {
            let (cfg, token) = (cfg.clone(), token.clone());
            async move { to_check(crate::coreweave::client::whoami_async(&cfg, &token).await) }
        })
        .collect();
    match crate::net::block_on(crate::net::all_bounded(
        jobs,
        CHECK_CONCURRENCY,
        cfg.deadline,
    )) {
        Ok(results) => results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| not_checked("not checked".into())))
            .collect(),
        Err(why) => tokens.iter().map(|_| not_checked(why.clone())).collect(),
    }
}

fn to_check(answer: Result<Principal, ApiError>) -> CheckResult {
    match answer {
        Ok(p) => CheckResult {
            status: Verdict::Accepted,
            principal: Some(clean(&p.uid)),
            org: Some(clean(&p.org_uid)),
            error: None,
        },
        Err(e) => CheckResult {
            status: if e.is_rejection() {
                Verdict::Rejected
            } else {
                Verdict::Unreachable
            },
            principal: None,
            org: None,
            error: Some(clean(&e.to_string())),
        },
    }
}

/// `--check`'s exit status: a rejected or expired token outranks a missing verdict, since
/// it is certain that something must be done.
fn verdict_status(listing: &Listing) -> anyhow::Result<()> {
    let total = listing.tokens.len();
    let status = |v: Verdict| {
        listing
            .tokens
            .iter()
            .filter(|t| t.check.as_ref().map(|c| c.status) == Some(v))
            .count()
    };
    let rejected = status(Verdict::Rejected);
    let expired = listing
        .tokens
        .iter()
        .filter(|t| t.expired == Some(true))
        .filter(|t| t.check.as_ref().map(|c| c.status) != Some(Verdict::Rejected))
        .count();
    let unreachable = status(Verdict::Unreachable);
    let of = |n: usize| format!("{n} of {total} token{}", if total == 1 { "" } else { "s" });
    if rejected + expired > 0 {
        let mut what = Vec::new();
        if rejected > 0 {
            what.push(format!("{} rejected by the CoreWeave API", of(rejected)));
        }
        if expired > 0 {
            what.push(format!("{} past their recorded expiry", of(expired)));
        }
        return Err(CheckFailed {
            status: EXIT_REJECTED,
            message: what.join("; "),
        }
        .into());
    }
    if unreachable > 0 {
        return Err(CheckFailed {
            status: EXIT_UNREACHABLE,
            message: format!("no answer from the CoreWeave API for {}", of(unreachable)),
        }
        .into());
    }
    Ok(())
}

// ---- the table ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Red,
    Yellow,
    Green,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elide {
    /// Keep both ends of a name: names often differ only at the end.
    Middle,
    /// Keep the end of a path: the file name.
    Left,
}

/// One line of a cell: `head` and `tail` are always shown, `body` is shortened to fit.
#[derive(Debug, Clone)]
struct Piece {
    head: String,
    body: String,
    tail: String,
    elide: Elide,
    style: Style,
}

impl Piece {
    fn new(body: impl Into<String>) -> Piece {
        Piece {
            head: String::new(),
            body: body.into(),
            tail: String::new(),
            elide: Elide::Middle,
            style: Style::Plain,
        }
    }

    fn cols(&self) -> usize {
        cols(&self.head) + cols(&self.body) + cols(&self.tail)
    }

    /// The piece in at most `width` columns.
    fn fit(&self, width: usize) -> String {
        let fixed = cols(&self.head) + cols(&self.tail);
        let mut s = String::with_capacity(self.head.len() + self.body.len() + self.tail.len());
        s.push_str(&self.head);
        if cols(&self.body) + fixed <= width {
            s.push_str(&self.body);
        } else {
            s.push_str(&elide(&self.body, width.saturating_sub(fixed), self.elide));
        }
        s.push_str(&self.tail);
        if cols(&s) > width {
            elide(&s, width, Elide::Middle)
        } else {
            s
        }
    }
}

/// Columns `s` takes on a terminal (its escapes already made printable).
fn cols(s: &str) -> usize {
    // Most names are ASCII: one column a byte, without a table lookup per character.
    if s.is_ascii() {
        s.len()
    } else {
        unicode_width::UnicodeWidthStr::width(s)
    }
}

/// `s` in at most `width` columns, with `…` where text was cut.
fn elide(s: &str, width: usize, how: Elide) -> String {
    if cols(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let budget = width - 1;
    let take = |chars: &mut dyn Iterator<Item = char>, room: usize| {
        let mut out = String::new();
        let mut used = 0;
        for c in chars {
            let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if used + w > room {
                break;
            }
            used += w;
            out.push(c);
        }
        out
    };
    match how {
        Elide::Left => {
            let tail: String = take(&mut s.chars().rev(), budget).chars().rev().collect();
            format!("…{tail}")
        }
        Elide::Middle => {
            let front_room = budget.div_ceil(2);
            let front = take(&mut s.chars(), front_room);
            let back_room = budget - cols(&front);
            let back: String = take(&mut s.chars().rev(), back_room)
                .chars()
                .rev()
                .collect();
            format!("{front}…{back}")
        }
    }
}

/// A STORED line before layout: a storage, or the count of those left out.
enum Stored {
    Is(Storage),
    More(String),
}

impl From<String> for Stored {
    fn from(more: String) -> Stored {
        Stored::More(more)
    }
}

impl From<String> for Piece {
    fn from(text: String) -> Piece {
        Piece::new(text)
    }
}

struct Column {
    header: &'static str,
    /// Narrowest it is squeezed to, when the table is too wide.
    min: usize,
    cells: Vec<Vec<Piece>>,
}

/// Text for the table: every string from a kubeconfig or a server escaped and masked.
fn shown(s: &str) -> String {
    let masked = mask_coreweave_tokens(s);
    match escape_controls(&masked) {
        std::borrow::Cow::Borrowed(_) => masked,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

/// Up to [`MAX_LINES`] items; past that, the first ones and `+N more`.
fn capped<T: From<String>>(mut items: Vec<T>) -> Vec<T> {
    if items.len() > MAX_LINES {
        let more = items.len() - (MAX_LINES - 1);
        items.truncate(MAX_LINES - 1);
        items.push(T::from(format!("+{more} more")));
    }
    items
}

/// The table, laid out here rather than by a table crate. comfy-table 8 (measured
/// 2026-12-05: about 140 KB with its `tty` feature, needed for colour) fits a width by
/// wrapping a cell onto more lines, or, with a row height of one, by cutting its end; this
/// table keeps one line per token and cuts long names in the middle, keeping both ends
/// (a context's region, a token's last four characters). Its colour follows a terminal
/// check alone (`NO_COLOR` would still be ours, [`use_colour`]).
fn table(listing: &Listing, colour: bool) -> String {
    let mut out = String::with_capacity(80 * (listing.tokens.len() + 4));
    let file_number = |f: &str| {
        listing
            .files
            .iter()
            .position(|x| x == f)
            .map_or(0, |i| i + 1)
    };
    let checked = listing.tokens.iter().any(|t| t.check.is_some());
    let mut columns = vec![
        Column {
            header: "TOKEN",
            min: 15,
            cells: Vec::new(),
        },
        Column {
            header: "STORED",
            min: 9,
            cells: Vec::new(),
        },
        Column {
            header: "USERS",
            min: 12,
            cells: Vec::new(),
        },
        Column {
            header: "CONTEXTS",
            min: 12,
            cells: Vec::new(),
        },
        Column {
            header: "EXPIRES",
            min: 11,
            cells: Vec::new(),
        },
    ];
    if checked {
        columns.push(Column {
            header: "CHECK",
            min: 11,
            cells: Vec::new(),
        });
    }
    for t in &listing.tokens {
        columns[0].cells.push(vec![Piece::new(shown(&t.token))]);
        let mut stored: Vec<Stored> = Vec::new();
        for h in &t.holders {
            if !stored
                .iter()
                .any(|s| matches!(s, Stored::Is(x) if *x == h.storage))
            {
                stored.push(Stored::Is(h.storage.clone()));
            }
        }
        // A token file's path goes on a line of its own, shortened from the left.
        columns[1].cells.push(
            capped(stored)
                .into_iter()
                .flat_map(|s| match s {
                    Stored::More(more) => vec![Piece::new(more)],
                    Stored::Is(Storage::Token) => vec![Piece::new("token")],
                    Stored::Is(Storage::TokenFile { path }) => vec![
                        Piece::new("tokenFile"),
                        Piece {
                            elide: Elide::Left,
                            ..Piece::new(shown(&path))
                        },
                    ],
                    Stored::Is(Storage::Keyring { item }) => vec![
                        Piece::new("keyring"),
                        Piece {
                            elide: Elide::Left,
                            ..Piece::new(shown(&item))
                        },
                    ],
                })
                .collect(),
        );
        columns[2].cells.push(capped(
            t.holders
                .iter()
                .map(|h| Piece {
                    tail: format!(
                        " [{}]{}",
                        file_number(&h.file),
                        if h.shadowed { "~" } else { "" }
                    ),
                    ..Piece::new(shown(&h.user))
                })
                .collect(),
        ));
        let mut contexts: Vec<&ContextRef> = t.contexts.iter().collect();
        // The current context first, so it is never among the ones counted as `+N more`.
        contexts.sort_by_key(|c| !c.current);
        columns[3].cells.push(capped(
            contexts
                .into_iter()
                .map(|c| Piece {
                    head: if c.current { "*" } else { "" }.into(),
                    ..Piece::new(shown(&c.name))
                })
                .collect(),
        ));
        columns[4].cells.push(vec![expiry_piece(t)]);
        if checked {
            let (word, style) = match t.check.as_ref().map(|c| c.status) {
                Some(Verdict::Accepted) => ("accepted", Style::Green),
                Some(Verdict::Rejected) => ("REJECTED", Style::Red),
                Some(Verdict::Unreachable) => ("unreachable", Style::Yellow),
                None => ("-", Style::Plain),
            };
            columns[5].cells.push(vec![Piece {
                style,
                ..Piece::new(word)
            }]);
        }
    }
    let widths = column_widths(&columns);
    let header: Vec<String> = columns.iter().map(|c| c.header.to_string()).collect();
    line(&mut out, &header, &widths, &[Style::Plain; 6], false);
    let mut texts = Vec::with_capacity(columns.len());
    let mut styles = Vec::with_capacity(columns.len());
    for (row, t) in listing.tokens.iter().enumerate() {
        let height = columns
            .iter()
            .map(|c| c.cells[row].len())
            .max()
            .unwrap_or(1);
        for l in 0..height {
            texts.clear();
            styles.clear();
            for (c, w) in columns.iter().zip(&widths) {
                match c.cells[row].get(l) {
                    Some(p) => {
                        texts.push(p.fit(*w));
                        styles.push(p.style);
                    }
                    None => {
                        texts.push(String::new());
                        styles.push(Style::Plain);
                    }
                }
            }
            line(&mut out, &texts, &widths, &styles, colour);
        }
        if let Some(c) = &t.check {
            let detail = match c.status {
                Verdict::Accepted => format!(
                    "principal {}, org {}",
                    c.principal.as_deref().unwrap_or("?"),
                    c.org.as_deref().unwrap_or("?")
                ),
                // The URL is the same on every row: the cause is what differs.
                Verdict::Rejected | Verdict::Unreachable => {
                    let error = c.error.as_deref().unwrap_or("no reason given");
                    match error.split_once(crate::coreweave::WHOAMI_PATH) {
                        Some((_, cause)) => cause.trim_start_matches(": ").to_string(),
                        None => error.to_string(),
                    }
                }
            };
            out.push_str(&format!(
                "  {}\n",
                elide(&shown(&detail), TABLE_WIDTH - 2, Elide::Middle)
            ));
        }
    }
    if listing.tokens.is_empty() {
        out = "No CoreWeave tokens (CW-SECRET-…) in these files.\n".into();
    }
    if listing.other_users > 0 {
        let n = listing.other_users;
        out.push_str(&format!(
            "{n} other user entr{} without a CoreWeave token (not listed).\n",
            if n == 1 { "y" } else { "ies" }
        ));
    }
    if listing
        .tokens
        .iter()
        .any(|t| t.holders.iter().any(|h| h.shadowed))
    {
        out.push_str(
            "~ shadowed: an earlier file defines a user of that name; kubectl uses that one.\n",
        );
    }
    out.push_str("Files:\n");
    for (i, f) in listing.files.iter().enumerate() {
        let label = format!("  [{}] ", i + 1);
        let room = TABLE_WIDTH - cols(&label);
        out.push_str(&format!("{label}{}\n", elide(&shown(f), room, Elide::Left)));
    }
    out
}

fn expiry_piece(t: &TokenEntry) -> Piece {
    let Some(expires) = &t.expires else {
        return Piece::new("-");
    };
    match t.expires_in_secs {
        None => Piece {
            style: Style::Yellow,
            ..Piece::new("unreadable")
        },
        Some(s) if s <= 0 => Piece {
            style: Style::Red,
            ..Piece::new("EXPIRED")
        },
        Some(s) if s < EXPIRY_WARNING_DAYS * 86_400 => Piece {
            style: Style::Yellow,
            ..Piece::new(format!("in {}", humanize(SignedDuration::from_secs(s))))
        },
        // The UTC date alone: far enough away that the hour does not matter.
        Some(_) => Piece::new(match crate::time::parse_rfc3339(expires.trim()) {
            Some(at) => at.to_string().chars().take(10).collect(),
            None => expires.clone(),
        }),
    }
}

/// Each column's width: its widest line, then the widest squeezable columns narrowed one
/// column at a time until the table fits [`TABLE_WIDTH`] or all are at their minimum.
fn column_widths(columns: &[Column]) -> Vec<usize> {
    let mut widths: Vec<usize> = columns
        .iter()
        .map(|c| {
            c.cells
                .iter()
                .flatten()
                .map(Piece::cols)
                .chain([cols(c.header)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let gaps = 2 * columns.len().saturating_sub(1);
    while widths.iter().sum::<usize>() + gaps > TABLE_WIDTH {
        let widest = (0..columns.len())
            .filter(|&i| widths[i] > columns[i].min)
            .max_by_key(|&i| widths[i]);
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
    widths
}

/// One line of the table appended to `s`: the cells padded to their widths, two spaces
/// apart, no trailing spaces.
fn line(s: &mut String, texts: &[String], widths: &[usize], styles: &[Style], colour: bool) {
    for (i, (text, w)) in texts.iter().zip(widths).enumerate() {
        if i > 0 {
            s.push_str("  ");
        }
        let pad = w.saturating_sub(cols(text));
        let code = match (colour, styles[i]) {
            (true, Style::Red) => Some("\x1b[31m"),
            (true, Style::Yellow) => Some("\x1b[33m"),
            (true, Style::Green) => Some("\x1b[32m"),
            _ => None,
        };
        match code {
            Some(code) => {
                s.push_str(code);
                s.push_str(text);
                s.push_str("\x1b[0m");
            }
            None => s.push_str(text),
        }
        s.extend(std::iter::repeat_n(' ', pad));
    }
    let trimmed = s.trim_end_matches(' ').len();
    s.truncate(trimmed);
    s.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elision_keeps_the_ends_and_the_width() {
        assert_eq!(elide("abcdefghij", 10, Elide::Middle), "abcdefghij");
        assert_eq!(elide("abcdefghij", 5, Elide::Middle), "ab…ij");
        assert_eq!(elide("/a/b/c/file", 7, Elide::Left), "…c/file");
        assert_eq!(cols(&elide("日本語のなまえ", 7, Elide::Middle)), 7);
        assert!(cols(&elide("日本語のなまえ", 6, Elide::Middle)) <= 6);
    }

    fn piece_row(n: usize, wide: &str) -> TokenEntry {
        TokenEntry {
            token: format!("CW-SECRET-…{n:04}"),
            holders: vec![Holder {
                user: format!("{wide}-user-{n}"),
                file: "/f".into(),
                shadowed: n.is_multiple_of(2),
                storage: Storage::TokenFile {
                    path: format!("/very/long/directory/of/tokens/{wide}/token-{n}"),
                },
                expires: None,
            }],
            contexts: (0..5)
                .map(|i| ContextRef {
                    name: format!("{wide}-context-{i}"),
                    file: "/f".into(),
                    current: i == 4,
                })
                .collect(),
            expires: None,
            expires_in_days: None,
            expired: None,
            expiry_warning: false,
            expires_in_secs: None,
            check: Some(CheckResult {
                status: Verdict::Rejected,
                principal: None,
                org: None,
                error: Some(format!("{wide} \x1b[31m rejected")),
            }),
        }
    }

    #[test]
    fn the_table_fits_80_columns_and_marks_the_current_context() {
        let wide = "a-very-long-name-with-wide-日本語-characters-that-goes-on-and-on";
        let listing = Listing {
            schema_version: SCHEMA_VERSION,
            files: vec!["/f".into()],
            current_context: None,
            tokens: (0..3).map(|n| piece_row(n, wide)).collect(),
            other_users: 2,
        };
        for colour in [false, true] {
            let t = table(&listing, colour);
            let plain = t
                .replace("\x1b[31m", "")
                .replace("\x1b[32m", "")
                .replace("\x1b[33m", "")
                .replace("\x1b[0m", "");
            for l in plain.lines() {
                assert!(cols(l) <= TABLE_WIDTH, "{} > 80: {l}", cols(l));
            }
            assert!(plain.contains("+3 more"), "{plain}");
            assert!(plain.contains("[1]~"), "shadowed: {plain}");
            assert!(plain.contains("*a-"), "current first: {plain}");
            assert!(plain.contains("2 other user entries"), "{plain}");
            assert!(!plain.contains('\x1b'), "escaped: {plain}");
            assert_eq!(t.contains("\x1b[31mREJECTED"), colour, "{t}");
        }
    }
}
