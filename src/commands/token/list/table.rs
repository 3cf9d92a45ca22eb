//! The 80-column table of `token list`: one line per token, long names cut in the middle
//! (keeping both ends) and paths from the left, to fit the width.

use jiff::SignedDuration;

use crate::commands::token::show::EXPIRY_WARNING_DAYS;
use crate::secret::{escape_controls, mask_coreweave_tokens};
use crate::time::humanize;

use super::{
    CheckResult, ContextRef, Listing, Storage, TokenEntry, Verdict, MAX_LINES, TABLE_WIDTH,
};

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

/// The table, laid out here rather than by a table crate: comfy-table fits a width by
/// wrapping a cell onto more lines, or, with a row height of one, by cutting its end; this
/// table keeps one line per token and cuts long names in the middle, keeping both ends (a
/// context's region, a token's last four characters). Colour is the caller's choice.
pub(super) fn table(listing: &Listing, colour: bool) -> String {
    let mut out = String::with_capacity(80 * (listing.tokens.len() + 4));
    let columns = columns(listing);
    let widths = column_widths(&columns);
    let header: Vec<String> = columns.iter().map(|c| c.header.to_string()).collect();
    line(&mut out, &header, &widths, &[Style::Plain; 6], false);
    rows(&mut out, listing, &columns, &widths, colour);
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

/// The columns with their cells, one per token; CHECK only when a token was checked.
fn columns(listing: &Listing) -> Vec<Column> {
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
        columns[1].cells.push(stored_cell(t));
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
    columns
}

/// The STORED cell of a row: each distinct storage once, a path on a line of its own.
fn stored_cell(t: &TokenEntry) -> Vec<Piece> {
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
        .collect()
}

/// The rows, a token's cells side by side on as many lines as its tallest cell, each
/// checked token followed by its detail line.
fn rows(out: &mut String, listing: &Listing, columns: &[Column], widths: &[usize], colour: bool) {
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
            for (c, w) in columns.iter().zip(widths) {
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
            line(out, &texts, widths, &styles, colour);
        }
        if let Some(c) = &t.check {
            let detail = check_detail(c);
            out.push_str(&format!(
                "  {}\n",
                elide(&shown(&detail), TABLE_WIDTH - 2, Elide::Middle)
            ));
        }
    }
}

/// The line under a checked row: whom the API says the token is, or why there is no answer.
fn check_detail(c: &CheckResult) -> String {
    match c.status {
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
    }
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
    use crate::commands::token::list::{CheckResult, Holder, SCHEMA_VERSION};

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
