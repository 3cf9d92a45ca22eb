//! How the editor writes text: scalars that every YAML 1.1 and 1.2 loader reads back as
//! the intended string, the file's own layout (columns, list dashes, line breaks) that
//! added lines follow, and the splices that put new text into a file's bytes.

use std::fmt;

use super::edit_error::{internal, EditError};

/// Conservative on purpose: kubectl reads kubeconfig with a YAML 1.1 loader, so anything
/// that could be a bool, null, number, timestamp or sexagesimal value in 1.1 or 1.2 is
/// quoted. Values starting with a digit are always quoted, which covers every numeric,
/// date and base-60 form at once.
pub(in crate::kubeconfig) fn is_plain_safe(value: &str) -> bool {
    const SPECIAL: [&str; 9] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let mut chars = value.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | '+' | '=' | '~')
        })
        && !SPECIAL.iter().any(|s| value.eq_ignore_ascii_case(s))
}

/// A string as a YAML scalar that every YAML 1.1 and 1.2 loader reads back as that string.
pub(in crate::kubeconfig) fn scalar(s: &str) -> String {
    // A `:` inside a plain scalar is text (`https://host:6443`) unless a space or the end
    // follows it; the safe alphabet has no spaces, so only the end needs a look.
    if is_plain_safe(&s.replace(':', "/")) && !s.ends_with(':') {
        s.to_owned()
    } else {
        double_quoted(s)
    }
}

/// Characters that must not appear literally in a quoted scalar: non-printable ones in
/// YAML 1.2, plus NEL/LS/PS (line breaks in YAML 1.1) and a BOM that loaders may strip.
fn needs_escape(c: char) -> bool {
    matches!(c, '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

pub(in crate::kubeconfig) fn double_quoted(value: &str) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(value.len().saturating_add(2));
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) => {
                let code = u32::from(c);
                // Writing to a String cannot fail.
                let _ = if code <= 0xff {
                    write!(out, "\\x{code:02X}")
                } else {
                    write!(out, "\\u{code:04X}")
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `None` when the value cannot be written single-quoted on one line.
pub(in crate::kubeconfig) fn single_quoted(value: &str) -> Option<String> {
    if value.chars().any(|c| needs_escape(c) || c == '\t') {
        return None;
    }
    Some(format!("'{}'", value.replace('\'', "''")))
}

pub(in crate::kubeconfig) fn pad(n: usize) -> String {
    " ".repeat(n)
}

/// The text of `at`'s line before it, without a byte-order mark on the first line.
pub(in crate::kubeconfig) fn line_prefix(src: &str, at: usize) -> Option<&str> {
    let before = src.get(..at)?;
    let line_start = before
        .rfind(['\r', '\n'])
        .map_or(0, |i| i.saturating_add(1));
    let prefix = before.get(line_start..)?;
    Some(if line_start == 0 {
        prefix.trim_start_matches('\u{feff}')
    } else {
        prefix
    })
}

/// The column of `at` when only spaces and sequence dashes precede it on its line (so
/// bytes and characters agree); `None` otherwise (tabs, explicit-key markers, flow text).
pub(in crate::kubeconfig) fn column_of(src: &str, at: usize) -> Option<usize> {
    let prefix = line_prefix(src, at)?;
    prefix
        .chars()
        .all(|c| c == ' ' || c == '-')
        .then_some(prefix.len())
}

/// For a block list item starting at `at` on its dash's line (`  -   name: x`): the dash's
/// column and the distance from the dash to `at`.
pub(in crate::kubeconfig) fn dash_of_item(src: &str, at: usize) -> Option<(usize, usize)> {
    let prefix = line_prefix(src, at)?;
    let head = prefix.trim_end_matches(' ');
    let before_dash = head.strip_suffix('-')?;
    if !before_dash.chars().all(|c| c == ' ') {
        return None;
    }
    let dash = before_dash.len();
    let content = prefix.len().checked_sub(dash)?;
    (content >= 2).then_some((dash, content))
}

/// The line break ending `at`'s line, or the file's first one, or `\n`.
pub(in crate::kubeconfig) fn line_break_after(src: &str, at: usize) -> &'static str {
    let rest = src.get(at..).unwrap_or("");
    break_at_start(
        rest.get(rest.find(['\r', '\n']).unwrap_or(rest.len())..)
            .unwrap_or(""),
    )
    .or_else(|| break_at_start(src.get(src.find(['\r', '\n'])?..)?))
    .unwrap_or("\n")
}

pub(in crate::kubeconfig) fn break_at_start(text: &str) -> Option<&'static str> {
    if text.starts_with("\r\n") {
        Some("\r\n")
    } else if text.starts_with('\r') {
        Some("\r")
    } else if text.starts_with('\n') {
        Some("\n")
    } else {
        None
    }
}

/// Inserts `lines` after the line holding `content_end` (after its line break), each
/// ending in that line break; at the end of a file without a final line break, each
/// line is preceded by the file's line break instead.
pub(in crate::kubeconfig) fn insert_after_line(
    src: &str,
    content_end: usize,
    lines: &[String],
) -> Result<Splice, EditError> {
    let rest = src
        .get(content_end..)
        .ok_or_else(|| internal("insertion point is not on a character boundary"))?;
    let mut text = String::new();
    let at = match rest.find(['\r', '\n']) {
        Some(i) => {
            let nl = rest.get(i..).and_then(break_at_start).unwrap_or("\n");
            for line in lines {
                text.push_str(line);
                text.push_str(nl);
            }
            content_end
                .checked_add(i)
                .and_then(|b| b.checked_add(nl.len()))
                .ok_or_else(|| internal("offset overflow"))?
        }
        None => {
            let nl = line_break_after(src, 0);
            for line in lines {
                text.push_str(nl);
                text.push_str(line);
            }
            src.len()
        }
    };
    Ok(Splice {
        start: at,
        end: at,
        text,
    })
}

/// Replace source bytes `start..end` (an insertion when they are equal) by `text`. Its
/// `Debug` gives the text's length: the text may be a token.
#[derive(Clone, PartialEq, Eq)]
pub(in crate::kubeconfig) struct Splice {
    pub(in crate::kubeconfig) start: usize,
    pub(in crate::kubeconfig) end: usize,
    pub(in crate::kubeconfig) text: String,
}

impl std::fmt::Debug for Splice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Splice")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .finish()
    }
}

/// `src` with the splices, which must be sorted by start, applied.
pub(in crate::kubeconfig) fn apply_splices<'a, I>(
    src: &str,
    splices: I,
) -> Result<String, EditError>
where
    I: IntoIterator<Item = &'a Splice>,
    I::IntoIter: Clone,
{
    let splices = splices.into_iter();
    // Sized exactly: a planned write keeps the result until the commit.
    let added: usize = splices.clone().map(|s| s.text.len()).sum();
    let removed: usize = splices.clone().map(|s| s.end.saturating_sub(s.start)).sum();
    let mut out = String::with_capacity(src.len().saturating_add(added).saturating_sub(removed));
    let mut cursor = 0usize;
    for splice in splices {
        if splice.start < cursor || splice.end < splice.start {
            return Err(internal("overlapping edits"));
        }
        let keep = src
            .get(cursor..splice.start)
            .ok_or_else(|| internal("edit is not on character boundaries"))?;
        out.push_str(keep);
        out.push_str(&splice.text);
        cursor = splice.end;
    }
    let rest = src
        .get(cursor..)
        .ok_or_else(|| internal("edit is not on character boundaries"))?;
    out.push_str(rest);
    Ok(out)
}
