//! The fast path of [`Edit::Append`](super::Edit::Append), for files the line scanner of
//! `fast.rs` reads whole: the new entries are planned from the scanner's layout of the top
//! level (where each block list's last line ends, where `current-context` is) exactly as
//! `append.rs` plans them on the node tree, and proven without parsing the file into a
//! tree: the bytes outside the splices kept, the result read whole by the scanner as the
//! original's model plus exactly the new entries, and the inserted text, read on its own
//! as data, exactly the entries requested. Anything else (flow or empty lists, a later
//! document, a layout the scanner refuses) is `None`, and the planner decides, errors
//! included.

use serde_json::{Map, Value};

use super::super::load::is_go_base64;
use super::super::model::{ByteString, FileConfig};
use super::super::read::document::first_document;
use super::super::read::fast::{self, ListAt, ScalarAt, TopLayout};
use super::super::read::yaml_tree::{Doc, Stream};
use super::super::text::{apply_splices, column_of, dash_of_item, scalar, Splice};
use super::append::{block_item, Additions};
use super::proof::{check_splices, data_of};

/// The line scanner's reading of a file and its top level's layout.
pub(super) type Scanned<'a> = (&'a FileConfig, &'a TopLayout);

/// What a splice of the fast path adds, for its proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// Items after the last line of the block list under this top-level key.
    List(&'static str),
    /// Keys the file lacks, after its last content line.
    Tail,
    /// The value of `current-context`.
    CurrentContext,
}

/// `src` with `additions` made, when the line scanner reads it whole (or `scanned`, the
/// load's reading of it, says so) and the result proves; `None` otherwise. The result is
/// byte for byte what the planner's path gives.
pub(super) fn append_fast(
    src: &str,
    scanned: Option<Scanned<'_>>,
    additions: &Additions,
) -> Option<ByteString> {
    if first_document(src).len() != src.len() {
        // Later documents: the planner checks that they still parse.
        return None;
    }
    let read;
    let (original, layout) = match scanned {
        Some(given) => given,
        None => {
            let (config, _, layout) = fast::parse_with_spans(&src.into())?;
            // The loader checked a file it read; this one only the planner would have.
            if !cas_decode(&config) {
                return None;
            }
            read = (config, layout);
            (&read.0, &read.1)
        }
    };
    let planned = plan(src, layout, additions)?;
    // Proven in place: the proof's model is slices of it.
    let out = ByteString::from(apply_splices(src, planned.iter().map(|(_, s)| s)).ok()?);
    prove(src, &out, original, &planned, additions).ok()?;
    Some(out)
}

/// Every cluster's `certificate-authority-data` is base64 as kubectl decodes it.
fn cas_decode(config: &FileConfig) -> bool {
    config.clusters.iter().all(|c| {
        c.cluster
            .as_ref()
            .and_then(|c| c.certificate_authority_data.as_deref())
            .is_none_or(is_go_base64)
    })
}

/// The splices that make `additions` in `src`, from its `layout`, in the order `append.rs`
/// makes them (lists, then `current-context`, then the keys the file lacks), sorted as it
/// sorts them: the same bytes (an item rendered at its column is the planner's item
/// rendered at column 0 and indented). `None` for what only the planner writes (flow
/// lists).
pub(super) fn plan(
    src: &str,
    layout: &TopLayout,
    additions: &Additions,
) -> Option<Vec<(Part, Splice)>> {
    let newline = if src.contains("\r\n") { "\r\n" } else { "\n" };
    let open_end = |at: usize| at == src.len() && !src.ends_with('\n');
    let root_indent = column_of(src, layout.root_start);
    let mut planned = Vec::new();
    let mut tail = String::new();
    for ((key, entries), at) in
        additions
            .lists()
            .into_iter()
            .zip([&layout.clusters, &layout.contexts, &layout.users])
    {
        if entries.is_empty() {
            continue;
        }
        match at {
            ListAt::Absent => {
                let indent = root_indent?;
                tail.push_str(&format!("{}{key}:\n", " ".repeat(indent)));
                for e in entries {
                    tail.push_str(&block_item(e, indent));
                }
            }
            ListAt::Block {
                first: Some(first),
                end,
            } => {
                let (dash, _) = dash_of_item(src, *first)?;
                let mut text = String::new();
                if open_end(*end) {
                    text.push('\n');
                }
                for e in entries {
                    text.push_str(&block_item(e, dash));
                }
                let splice = Splice {
                    start: *end,
                    end: *end,
                    text,
                };
                planned.push((Part::List(key), splice));
            }
            // `[]`, null, or a first item not on its dash's line: the planner's.
            ListAt::Block { first: None, .. } | ListAt::Empty => return None,
        }
    }
    if let Some(name) = &additions.current_context {
        let splice = match &layout.current_context {
            ScalarAt::Absent => {
                let pad = " ".repeat(root_indent?);
                tail.push_str(&format!("{pad}current-context: {}\n", scalar(name)));
                None
            }
            ScalarAt::Scalar(range) => Some(Splice {
                start: range.start,
                end: range.end,
                text: scalar(name),
            }),
            ScalarAt::Empty(at) => Some(Splice {
                start: *at,
                end: *at,
                text: format!(" {}", scalar(name)),
            }),
        };
        planned.extend(splice.map(|s| (Part::CurrentContext, s)));
    }
    if !tail.is_empty() {
        let at = layout.content_end;
        let mut text = String::new();
        if open_end(at) {
            text.push_str(newline);
        }
        text.push_str(&tail);
        planned.push((
            Part::Tail,
            Splice {
                start: at,
                end: at,
                text,
            },
        ));
    }
    for (_, s) in &mut planned {
        if newline == "\r\n" {
            s.text = s.text.replace("\r\n", "\n").replace('\n', "\r\n");
        }
    }
    planned.sort_by_key(|(_, s)| (s.start, s.end));
    Some(planned)
}

/// The fast path's proof that `out` is `src` with exactly `additions` made by `planned`:
/// - bytes: outside the splices `out` is `src`, in order;
/// - shape: each list or tail splice inserts whole lines at a line's start (or after a
///   last line without a break), and the `current-context` splice stays on its line, so
///   in the scanner's layouts, where every scalar, key and indicator stands on one line,
///   no existing line can be read differently;
/// - the inserted text, read on its own as one document (each list's items under their
///   key, `current-context` as its own line) by the scanner's data reading (`fast/data.rs`,
///   held to the node tree's) or, where that declines, by the node tree, is exactly the
///   requested entries and name;
/// - the line scanner reads `out` whole, as the original's model with exactly the
///   inserted text's model after each list's items and the new `current-context`.
pub(super) fn prove(
    src: &str,
    out: &ByteString,
    original: &FileConfig,
    planned: &[(Part, Splice)],
    additions: &Additions,
) -> Result<(), Refused> {
    let new_end = check_splices(src, out, planned.iter().map(|(_, s)| s), src.len())
        .map_err(|_| Refused("bytes outside the splices changed"))?;
    if new_end != out.len() {
        return Err(Refused("the result has text after its first document"));
    }
    let mut alone = String::new();
    for (part, splice) in planned {
        let text = splice.text.as_str();
        match part {
            Part::List(_) | Part::Tail => {
                let open = splice.start == src.len() && !src.ends_with('\n');
                let at_line_start = splice.start == 0
                    || src.as_bytes().get(splice.start.wrapping_sub(1)) == Some(&b'\n');
                let body = match (at_line_start, open) {
                    (true, false) => text,
                    (false, true) => text
                        .strip_prefix("\r\n")
                        .or_else(|| text.strip_prefix('\n'))
                        .ok_or(Refused("an insertion does not start a line"))?,
                    _ => return Err(Refused("an insertion does not start a line")),
                };
                if splice.start != splice.end || !body.ends_with('\n') {
                    return Err(Refused("an insertion is not whole lines"));
                }
                if let Part::List(key) = part {
                    alone.push_str(key);
                    alone.push_str(":\n");
                }
                alone.push_str(body);
            }
            Part::CurrentContext => {
                let replaced = src
                    .get(splice.start..splice.end)
                    .ok_or(Refused("bad splice"))?;
                if [replaced, text].iter().any(|t| t.contains(['\n', '\r'])) {
                    return Err(Refused("the current-context splice leaves its line"));
                }
                alone.push_str("current-context: ");
                alone.push_str(text.trim_start_matches(' '));
                alone.push('\n');
            }
        }
    }
    let new = inserted_model(&alone, additions)?;
    let actual =
        fast::parse_shared(out).ok_or(Refused("the line scanner does not read the result"))?;
    let extended = |old: usize, all: usize, added: usize| all == old.saturating_add(added);
    let lists_ok = extended(
        original.clusters.len(),
        actual.clusters.len(),
        new.clusters.len(),
    ) && extended(
        original.contexts.len(),
        actual.contexts.len(),
        new.contexts.len(),
    ) && extended(original.users.len(), actual.users.len(), new.users.len())
        && actual.clusters.split_at(original.clusters.len())
            == (&original.clusters[..], &new.clusters[..])
        && actual.contexts.split_at(original.contexts.len())
            == (&original.contexts[..], &new.contexts[..])
        && actual.users.split_at(original.users.len()) == (&original.users[..], &new.users[..]);
    let current = match &additions.current_context {
        Some(_) => &new.current_context,
        None => &original.current_context,
    };
    let rest_ok = actual.api_version == original.api_version
        && actual.kind == original.kind
        && &actual.current_context == current;
    (lists_ok && rest_ok).then_some(()).ok_or(Refused(
        "the result is not the original with exactly the new entries",
    ))
}

/// Why the proof refused a fast-path result (the planner then decides; a test names it).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(super) struct Refused(pub &'static str);

/// The model of the inserted text `alone` (one document), once its data, read on its own
/// (by the scanner's data reading, or the node tree where that declines), is exactly what
/// `additions` asks for.
fn inserted_model(alone: &str, additions: &Additions) -> Result<FileConfig, Refused> {
    // The scanner reads it as data when it is sure the tree reads the same (the text holds
    // only strings); anything else, the tree reads.
    let data = match fast::data(alone) {
        Some(data) => Ok(data),
        None if alone.is_empty() => Ok(Value::Null),
        None => Doc::parse(alone, Stream::Drop)
            .map_err(|_| Refused("the inserted text does not parse"))
            .and_then(|tree| {
                data_of(&tree, "inserted").map_err(|_| Refused("the inserted text is not data"))
            }),
    };
    let data = match data? {
        // Nothing inserted (nothing to add) is no entries.
        Value::Null => Map::new(),
        Value::Object(data) => data,
        _ => return Err(Refused("the inserted text is not data")),
    };
    // Exactly the lists with entries and the name, compared in place (no copy of them).
    let lists = additions.lists();
    let keys = lists.iter().filter(|(_, e)| !e.is_empty()).count()
        + usize::from(additions.current_context.is_some());
    let lists_ok = lists.iter().all(|(key, entries)| {
        entries.is_empty()
            || data.get(*key).and_then(Value::as_array).map(Vec::as_slice) == Some(entries)
    });
    let name_ok = additions.current_context.as_ref().is_none_or(|name| {
        data.get("current-context").and_then(Value::as_str) == Some(name.as_str())
    });
    if data.len() != keys || !lists_ok || !name_ok {
        return Err(Refused(
            "the inserted text is not exactly the entries to add",
        ));
    }
    // Its model, by the scanner (which answers only as the tree would read it).
    let new = if alone.is_empty() {
        FileConfig::default()
    } else {
        fast::parse(alone).ok_or(Refused("the line scanner does not read the inserted text"))?
    };
    cas_decode(&new)
        .then_some(new)
        .ok_or(Refused("the new entries do not load"))
}

#[cfg(test)]
#[path = "append_fast_tests.rs"]
mod tests;
