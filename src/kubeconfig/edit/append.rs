//! Format-preserving addition of whole list entries (clusters, contexts, users) to a
//! kubeconfig, and setting its `current-context`: what `kubeconfig import` writes.
//!
//! New entries go after the last item of each list, in the list's own style (a block list
//! gets block items at its indentation, a flow list gets flow items); a missing list or
//! `current-context` is added at the end of the top-level mapping. Every existing byte
//! stays. An anchor or merge key that would make the addition change something else fails
//! the planner's proof, and the file is left alone.

use serde_json::{Map, Value};

use super::super::edit_error::{unsupported, verification, EditError};
use super::super::read::yaml_tree::{Doc, Kind, Lookup, NodeId};
use super::super::text::Splice;
use super::super::text::{column_of, dash_of_item, scalar};
use super::proof::load_data;

/// What to add to one file. Its `Debug` shows the entries' names only: a user entry holds
/// its credential.
#[derive(Default, Clone, PartialEq)]
pub struct Additions {
    /// New entries per list, each a whole entry (`{"name": …, "cluster": {…}}`).
    pub clusters: Vec<Value>,
    pub contexts: Vec<Value>,
    pub users: Vec<Value>,
    /// A new `current-context`, if it changes.
    pub current_context: Option<String>,
}

impl std::fmt::Debug for Additions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |entries: &[Value]| -> Vec<Option<String>> {
            entries
                .iter()
                .map(|e| e.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        };
        f.debug_struct("Additions")
            .field("clusters", &names(&self.clusters))
            .field("contexts", &names(&self.contexts))
            .field("users", &names(&self.users))
            .field("current_context", &self.current_context)
            .finish()
    }
}

impl Additions {
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
            && self.contexts.is_empty()
            && self.users.is_empty()
            && self.current_context.is_none()
    }

    pub(super) fn lists(&self) -> [(&'static str, &[Value]); 3] {
        [
            ("clusters", &self.clusters),
            ("contexts", &self.contexts),
            ("users", &self.users),
        ]
    }
}

/// Why entries cannot be added to this file's `key`.
fn cannot_add(key: &str, why: &str) -> EditError {
    unsupported(format!(
        "its {key} is written in a way entries cannot be added to ({why})"
    ))
}

fn not_a_mapping() -> EditError {
    unsupported("the file's top level is not a mapping".to_owned())
}

/// A new kubeconfig holding only `additions` (the target file does not exist yet), in the
/// layout kubectl writes.
pub fn new_file(additions: &Additions) -> Result<String, EditError> {
    let mut out = String::from("apiVersion: v1\nkind: Config\n");
    for (key, entries) in additions.lists() {
        out.push_str(key);
        if entries.is_empty() {
            out.push_str(": []\n");
        } else {
            out.push_str(":\n");
            for e in entries {
                out.push_str(&block_item(e, 0));
            }
        }
    }
    if let Some(c) = &additions.current_context {
        out.push_str("current-context: ");
        out.push_str(&scalar(c));
        out.push('\n');
    }
    // Nothing to keep, so the proof is the data alone.
    let mut expected = Value::Object(Map::new());
    intend(&mut expected, additions)?;
    let got: Value = load_data(&out, "new")?;
    let written = serde_json::json!({"apiVersion": "v1", "kind": "Config"});
    let mut got = got;
    if let (Some(got), Some(written)) = (got.as_object_mut(), written.as_object()) {
        for (key, value) in written {
            if got.get(key) == Some(value) {
                got.remove(key);
            }
        }
        for (key, entries) in additions.lists() {
            if entries.is_empty() && got.get(key) == Some(&Value::Array(Vec::new())) {
                got.remove(key);
            }
        }
    }
    if got != expected {
        return Err(verification(
            "the new file's data is not exactly the entries to add",
        ));
    }
    Ok(out)
}

/// The splices that make `additions` in `text` (parsed as `doc`).
pub(super) fn plan(
    text: &str,
    doc: &Doc<'_>,
    additions: &Additions,
) -> Result<Vec<Splice>, EditError> {
    let root = doc.root.ok_or_else(not_a_mapping)?;
    let root_node = doc.node(root)?;
    if !doc.is_map(root) {
        return Err(not_a_mapping());
    }
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut splices = Vec::new();
    // Keys missing from the file are added together after the mapping's last line.
    let mut tail = String::new();
    let root_indent = if root_node.flow {
        None
    } else {
        column_of(text, root_node.start)
    };
    for (key, entries) in additions.lists() {
        if entries.is_empty() {
            continue;
        }
        match doc.lookup(root, key) {
            Lookup::Duplicate { .. } => return Err(cannot_add(key, "the key appears twice")),
            Lookup::Missing => {
                let Some(indent) = root_indent else {
                    return Err(cannot_add(key, "a flow-style or unindentable top level"));
                };
                let pad = " ".repeat(indent);
                tail.push_str(&format!("{pad}{key}:\n"));
                for e in entries {
                    tail.push_str(&indent_lines(&block_item(e, 0), &pad));
                }
            }
            Lookup::Found { value, .. } => {
                splices.push(list_splice(text, doc, key, value, entries)?)
            }
        }
    }
    if let Some(name) = &additions.current_context {
        if let Some(splice) = current_context_splice(text, doc, root, root_indent, name, &mut tail)?
        {
            splices.push(splice);
        }
    }
    if !tail.is_empty() {
        let at = line_end(text, root_node.content_end);
        let mut insert = String::new();
        if at == text.len() && !text.ends_with('\n') {
            insert.push_str(newline);
        }
        insert.push_str(&tail);
        splices.push(Splice {
            start: at,
            end: at,
            text: insert,
        });
    }
    for s in &mut splices {
        if newline == "\r\n" {
            s.text = s.text.replace("\r\n", "\n").replace('\n', "\r\n");
        }
    }
    Ok(splices)
}

/// The new `current-context`: a splice replacing the value the file has, or (returning
/// `None`) a line added to `tail` when the key is missing.
fn current_context_splice(
    text: &str,
    doc: &Doc<'_>,
    root: NodeId,
    root_indent: Option<usize>,
    name: &str,
    tail: &mut String,
) -> Result<Option<Splice>, EditError> {
    match doc.lookup(root, "current-context") {
        Lookup::Duplicate { .. } => Err(cannot_add("current-context", "the key appears twice")),
        Lookup::Missing => {
            let Some(indent) = root_indent else {
                return Err(cannot_add(
                    "current-context",
                    "a flow-style or unindentable top level",
                ));
            };
            tail.push_str(&format!(
                "{}current-context: {}\n",
                " ".repeat(indent),
                scalar(name)
            ));
            Ok(None)
        }
        Lookup::Found { value, .. } => {
            let node = doc.node(value)?;
            match &node.kind {
                Kind::Scalar { style, .. }
                    if node.start < node.end
                        && matches!(
                            style,
                            granit_parser::ScalarStyle::Plain
                                | granit_parser::ScalarStyle::SingleQuoted
                                | granit_parser::ScalarStyle::DoubleQuoted
                        ) =>
                {
                    Ok(Some(Splice {
                        start: node.start,
                        end: node.end,
                        text: scalar(name),
                    }))
                }
                Kind::Scalar { .. } => {
                    // Empty (`current-context:`): the value goes right after the colon.
                    let at = after_colon(text, doc, root, "current-context")
                        .ok_or_else(|| cannot_add("current-context", "no colon found"))?;
                    Ok(Some(Splice {
                        start: at,
                        end: at,
                        text: format!(" {}", scalar(name)),
                    }))
                }
                _ => Err(cannot_add(
                    "current-context",
                    "not a plain or quoted string",
                )),
            }
        }
    }
}

/// The splice that adds `entries` to the list at `value`.
fn list_splice(
    src: &str,
    doc: &Doc<'_>,
    key: &'static str,
    value: NodeId,
    entries: &[Value],
) -> Result<Splice, EditError> {
    let node = doc.node(value)?;
    let flow_items = || {
        entries
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &node.kind {
        Kind::Seq { items } if node.flow => {
            // `[a, b]` gets `, {…}` before the bracket; `[]` gets `{…}`. JSON is YAML flow.
            let close = node
                .close
                .clone()
                .ok_or_else(|| cannot_add(key, "an unclosed flow list"))?;
            let at = trim_back(src, node.start + 1, close.start);
            let text = if items.is_empty() {
                flow_items()
            } else {
                format!(", {}", flow_items())
            };
            Ok(Splice {
                start: at,
                end: at,
                text,
            })
        }
        Kind::Seq { items } if !items.is_empty() => {
            let first = doc.node(items[0])?;
            let (dash, _) = dash_of_item(src, first.start)
                .ok_or_else(|| cannot_add(key, "items not written as `- …` lines"))?;
            let pad = " ".repeat(dash);
            let at = line_end(src, node.content_end);
            let mut text = String::new();
            if at == src.len() && !src.ends_with('\n') {
                text.push('\n');
            }
            for e in entries {
                text.push_str(&indent_lines(&block_item(e, 0), &pad));
            }
            Ok(Splice {
                start: at,
                end: at,
                text,
            })
        }
        Kind::Scalar { value: v, .. } if v.is_empty() || v == "null" || v == "~" => {
            // `users:` (nothing) or `users: null`: a flow list of the new entries.
            let flow = format!("[{}]", flow_items());
            if node.start < node.end {
                Ok(Splice {
                    start: node.start,
                    end: node.end,
                    text: flow,
                })
            } else {
                let root = doc.root.ok_or_else(not_a_mapping)?;
                let at = after_colon(src, doc, root, key)
                    .ok_or_else(|| cannot_add(key, "no colon found"))?;
                Ok(Splice {
                    start: at,
                    end: at,
                    text: format!(" {flow}"),
                })
            }
        }
        Kind::Seq { .. } => Err(cannot_add(key, "an empty block list")),
        Kind::Alias { .. } => Err(cannot_add(key, "an alias")),
        _ => Err(cannot_add(key, "not a list")),
    }
}

/// The offset just after the `:` that follows `key` in the mapping `map`.
fn after_colon(src: &str, doc: &Doc<'_>, map: NodeId, key: &str) -> Option<usize> {
    let Lookup::Found { key: k, .. } = doc.lookup(map, key) else {
        return None;
    };
    let node = doc.node(k).ok()?;
    let rest = src.get(node.end..)?;
    let colon = rest.find(':')?;
    rest.get(..colon)?
        .trim()
        .is_empty()
        .then_some(node.end + colon + 1)
}

/// `at` moved back over spaces and line breaks, not before `floor`.
fn trim_back(src: &str, floor: usize, mut at: usize) -> usize {
    let bytes = src.as_bytes();
    while at > floor && matches!(bytes.get(at - 1), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at -= 1;
    }
    at
}

/// The offset after the line break that ends the line holding `at` (or the end of text).
fn line_end(src: &str, at: usize) -> usize {
    match src.get(at..).and_then(|rest| rest.find('\n')) {
        Some(i) => at + i + 1,
        None => src.len(),
    }
}

/// Every line of `block` prefixed with `pad`.
fn indent_lines(block: &str, pad: &str) -> String {
    block.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// One list item (`- key: …` and its continuation lines), in kubectl's block layout:
/// two spaces per level, list items at their parent key's column.
pub(super) fn block_item(entry: &Value, indent: usize) -> String {
    let mut out = String::new();
    write_item(&mut out, entry, indent);
    out
}

/// [`block_item`], written into `out` (a thousand entries are one string, not thousands).
fn write_item(out: &mut String, entry: &Value, indent: usize) {
    push_pad(out, indent);
    out.push_str("- ");
    match entry {
        // The first key goes on the dash's line.
        Value::Object(map) if !map.is_empty() => write_map(out, map, indent + 2, true),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

/// A block mapping's lines, its keys at `indent` (the first key without its padding when
/// it follows a dash).
fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize, after_dash: bool) {
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 || !after_dash {
            push_pad(out, indent);
        }
        out.push_str(&scalar(k));
        out.push(':');
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                write_map(out, m, indent + 2, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                for item in items {
                    write_item(out, item, indent);
                }
            }
            other => {
                out.push(' ');
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

fn push_pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A value on one line: scalars as scalars, empty collections as `{}`/`[]`.
fn inline(v: &Value) -> String {
    match v {
        Value::String(s) => scalar(s),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// The append's change to the original's data: the entries after each list's last, and
/// the new current context.
pub(super) fn intend(data: &mut Value, additions: &Additions) -> Result<(), EditError> {
    if data.is_null() {
        *data = Value::Object(Map::new());
    }
    let map = data.as_object_mut().ok_or_else(not_a_mapping)?;
    for (key, entries) in additions.lists() {
        if entries.is_empty() {
            continue;
        }
        let slot = map.entry(key).or_insert(Value::Null);
        if matches!(slot, Value::Null) || slot.as_str() == Some("") {
            *slot = Value::Array(Vec::new());
        }
        match slot {
            Value::Array(items) => items.extend(entries.iter().cloned()),
            _ => return Err(cannot_add(key, "not a list")),
        }
    }
    if let Some(c) = &additions.current_context {
        map.insert("current-context".into(), Value::String(c.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{apply, Edit};
    use super::*;

    fn append(text: &str, additions: &Additions) -> Result<String, EditError> {
        apply(text, &[Edit::Append(additions)])
    }
    use serde_json::json;

    fn adds() -> Additions {
        Additions {
            clusters: vec![
                json!({"name": "c2", "cluster": {"server": "https://b.example", "certificate-authority-data": "QUJD"}}),
            ],
            contexts: vec![
                json!({"name": "c2", "context": {"cluster": "c2", "user": "u2", "namespace": "default"}}),
            ],
            users: vec![json!({"name": "u2", "user": {"token": "CW-SECRET-fake-new-1234"}})],
            current_context: Some("c2".into()),
        }
    }

    const BASE: &str = "apiVersion: v1\nkind: Config\n# my clusters\nclusters:\n- cluster:\n    server: https://a.example # prod\n  name: c1\ncontexts:\n  - name: c1\n    context:\n      cluster: c1\n      user: u1\ncurrent-context: c1\nusers:\n- name: u1\n  user:\n    token: 'CW-SECRET-fake-old-9999'\n# trailing comment\n";

    #[test]
    fn block_lists_get_block_items_and_every_byte_stays() {
        let out = append(BASE, &adds()).expect("appends");
        assert!(out.contains("# my clusters\n"), "{out}");
        assert!(
            out.contains("    server: https://a.example # prod\n  name: c1\n- cluster:\n"),
            "{out}"
        );
        assert!(out.contains("      user: u1\n  - context:\n"), "{out}");
        assert!(out.contains("current-context: c2\n"), "{out}");
        assert!(out.ends_with("# trailing comment\n"), "{out}");
    }

    #[test]
    fn missing_and_flow_and_empty_lists() {
        for base in [
            "apiVersion: v1\nkind: Config\n",
            "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: [ ]\nusers: []\n",
            "apiVersion: v1\nkind: Config\nclusters:\ncontexts: null\nusers: ~\ncurrent-context:\n",
            "apiVersion: v1\r\nkind: Config\r\nusers:\r\n- name: u1\r\n  user: {token: x}\r\n",
            "apiVersion: v1\nkind: Config\nusers: [{name: u1, user: {token: x}}]",
            "",
        ] {
            let out = append(base, &adds()).unwrap_or_else(|e| panic!("{base:?}: {e}"));
            assert!(out.len() > base.len(), "{base:?} -> {out:?}");
        }
    }

    #[test]
    fn an_anchored_list_shared_elsewhere_is_refused() {
        let base = "apiVersion: v1\nkind: Config\nusers: &u\n- name: u1\n  user: {}\nextensions:\n- name: x\n  extension: *u\n";
        assert!(matches!(
            append(base, &adds()),
            Err(EditError::Verification { .. })
        ));
    }

    #[test]
    fn new_files_are_what_kubectl_writes() {
        let out = new_file(&adds()).expect("new file");
        assert!(
            out.starts_with("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"),
            "{out}"
        );
    }
}
