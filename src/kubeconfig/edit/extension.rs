//! Records a token's expiry as the `coreweave.com/token` entry of a user's `extensions`
//! list (client-go keeps extensions through its own rewrites), keeping every other byte:
//! `extensions: [{name: coreweave.com/token, extension: {expires: …, source: console,
//! rotatedAt: …}}]`, written in the file's own layout. The planner's extension splices
//! over `yaml_tree.rs` (layout and refusal rules:
//! docs/editing.md). With no expiry, no `expires` key is written.

use serde_json::Value;

use super::super::edit_error::{internal, unsupported, verification, EditError};
use super::super::read::yaml_tree::{anchor_label, describe, Doc, Kind, Lookup, NodeId};
use super::super::text::Splice;
use super::super::text::{
    column_of, dash_of_item, double_quoted, insert_after_line, line_break_after, pad,
};
use super::path::{self, check_no_merge, check_path, duplicate_key, PathRule};
use super::proof::loaded_auth;
// The `name` of the extension entry this module owns (`token show` reads the same one).
use crate::coreweave::TOKEN_EXTENSION as EXTENSION_NAME;

/// The fields to record; each is written as a double-quoted scalar (values are RFC3339
/// times and short words, never secrets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenExtension<'a> {
    /// When the token expires (RFC 3339); `None` writes no `expires` key.
    pub expires: Option<&'a str>,
    /// Where the token came from: `console`, `minted`, or whatever the caller names.
    pub source: &'a str,
    /// When it was rotated (RFC 3339).
    pub rotated_at: &'a str,
}

impl TokenExtension<'_> {
    fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = Vec::with_capacity(3);
        if let Some(expires) = self.expires {
            fields.push(("expires", double_quoted(expires)));
        }
        fields.push(("source", double_quoted(self.source)));
        fields.push(("rotatedAt", double_quoted(self.rotated_at)));
        fields
    }

    fn to_json(self) -> Value {
        let mut map = serde_json::Map::new();
        if let Some(expires) = self.expires {
            map.insert("expires".into(), Value::String(expires.to_owned()));
        }
        map.insert("source".into(), Value::String(self.source.to_owned()));
        map.insert(
            "rotatedAt".into(),
            Value::String(self.rotated_at.to_owned()),
        );
        Value::Object(map)
    }
}

// ---------------------------------------------------------------------------------------
// Planning: one splice per user.
// ---------------------------------------------------------------------------------------

/// How the file lays out block lists: the dash's offset from the parent key's column, and
/// the content's offset from the dash.
#[derive(Debug, Clone, Copy)]
struct ListLayout {
    dash: usize,
    content: usize,
}

const DEFAULT_LAYOUT: ListLayout = ListLayout {
    dash: 0,
    content: 2,
};

/// What a user's splice needs to know besides the document.
struct Target<'a> {
    user: &'a str,
    ext: &'a TokenExtension<'a>,
    /// Layout for a new `extensions` list, taken from the `users` list.
    layout: ListLayout,
}

/// One splice per (user, record): a new entry, a new `extension`, or the fields replaced.
pub(super) fn plan(
    src: &str,
    doc: &Doc<'_>,
    records: &[(&str, &TokenExtension<'_>)],
) -> Result<Vec<Splice>, EditError> {
    let users = path::users(doc, PathRule::Untouched)?;
    let users_key_column = doc
        .nodes
        .get(users.key)
        .and_then(|n| column_of(src, n.start));
    let mut splices = Vec::with_capacity(records.len());
    for &(user, ext) in records {
        let item = users.entry(doc, user)?;
        let layout = doc
            .nodes
            .get(item)
            .and_then(|n| dash_of_item(src, n.start))
            .zip(users_key_column)
            .map_or(DEFAULT_LAYOUT, |((dash, content), key)| ListLayout {
                dash: dash.saturating_sub(key),
                content,
            });
        let target = Target { user, ext, layout };
        splices.push(plan_user(src, doc, &target, item)?);
    }
    Ok(splices)
}

fn plan_user(
    src: &str,
    doc: &Doc<'_>,
    target: &Target<'_>,
    item: NodeId,
) -> Result<Splice, EditError> {
    let user = target.user;
    let what_entry = format!("the users entry of user {user:?}");
    check_path(doc, PathRule::Untouched, item, &what_entry)?;
    check_no_merge(doc, item, &what_entry)?;
    let (user_key, user_map) = match doc.lookup(item, "user") {
        Lookup::Found { key, value } => (key, value),
        Lookup::Missing => {
            return Err(unsupported(format!(
                "{what_entry} at {} has no user mapping",
                doc.position(item)
            )))
        }
        Lookup::Duplicate { first, second } => {
            return Err(duplicate_key(doc, "user", &what_entry, first, second))
        }
    };
    let what_user = format!("the user mapping of user {user:?}");
    check_path(doc, PathRule::Untouched, user_map, &what_user)?;
    match &doc.node(user_map)?.kind {
        Kind::Map { entries } if !entries.is_empty() => {}
        _ => {
            return Err(unsupported(format!(
                "{what_user} at {} is {}; the editor adds extensions only to a user \
                 mapping with content",
                doc.position(user_map),
                describe(doc, user_map)
            )))
        }
    }
    check_no_merge(doc, user_map, &what_user)?;
    let map = doc.node(user_map)?;
    // The indentation step of the file: how far the user mapping's keys sit right of `user`.
    let key_column = column_of(src, map.start);
    let step = doc
        .nodes
        .get(user_key)
        .and_then(|k| column_of(src, k.start))
        .zip(key_column)
        .and_then(|(outer, inner)| inner.checked_sub(outer))
        .filter(|s| *s > 0)
        .unwrap_or(2);

    match doc.lookup(user_map, "extensions") {
        Lookup::Duplicate { first, second } => {
            Err(duplicate_key(doc, "extensions", &what_user, first, second))
        }
        Lookup::Missing if map.flow => {
            let at = flow_insert_point(doc, user_map, &what_user)?;
            let text = format!(", extensions: [{}]", flow_item(target.ext));
            Ok(Splice {
                start: at,
                end: at,
                text,
            })
        }
        Lookup::Missing => {
            let Some(k) = key_column else {
                return Err(unsupported(format!(
                    "the indentation of {what_user} at {} cannot be determined",
                    doc.position(user_map)
                )));
            };
            let ListLayout { dash, content } = target.layout;
            let dash_col = k.saturating_add(dash);
            let item_col = dash_col.saturating_add(content);
            let mut lines = vec![
                format!("{}extensions:", pad(k)),
                format!(
                    "{}-{}name: {EXTENSION_NAME}",
                    pad(dash_col),
                    pad(content.saturating_sub(1))
                ),
                format!("{}extension:", pad(item_col)),
            ];
            lines.extend(block_fields(target.ext, item_col.saturating_add(step)));
            insert_after_line(src, map.content_end, &lines)
        }
        Lookup::Found { value, .. } => plan_extensions_list(src, doc, target, value, step),
    }
}

fn plan_extensions_list(
    src: &str,
    doc: &Doc<'_>,
    target: &Target<'_>,
    list: NodeId,
    step: usize,
) -> Result<Splice, EditError> {
    let user = target.user;
    let what = format!("the extensions list of user {user:?}");
    check_path(doc, PathRule::Untouched, list, &what)?;
    let node = doc.node(list)?;
    let Kind::Seq { items } = &node.kind else {
        return Err(unsupported(format!(
            "{what} at {} is {}, not a list",
            node.position,
            describe(doc, list)
        )));
    };
    let mut ours = Vec::new();
    for &item in items {
        let Some(entry) = doc.resolve(item) else {
            continue;
        };
        if !doc.is_map(entry) {
            continue;
        }
        match doc.lookup(entry, "name") {
            Lookup::Found { value, .. } => {
                if doc.scalar_text(value) == Some(EXTENSION_NAME) {
                    ours.push(item);
                }
            }
            Lookup::Missing => {
                if let Some(merge) = doc.merge_key(entry) {
                    return Err(unsupported(format!(
                        "the name of the extension entry at {} of user {user:?} may come from \
                         the merge key (<<) at {}",
                        doc.position(item),
                        doc.position(merge)
                    )));
                }
            }
            Lookup::Duplicate { first, second } => {
                let what = format!("the extension entry at {}", doc.position(item));
                return Err(duplicate_key(doc, "name", &what, first, second));
            }
        }
    }
    match ours.as_slice() {
        [] if node.flow => {
            let at = flow_insert_point(doc, list, &what)?;
            let separator = if items.is_empty() { "" } else { ", " };
            Ok(Splice {
                start: at,
                end: at,
                text: format!("{separator}{}", flow_item(target.ext)),
            })
        }
        [] => {
            let layout = items
                .iter()
                .rev()
                .filter_map(|i| doc.nodes.get(*i))
                .find_map(|n| dash_of_item(src, n.start));
            let Some((dash_col, content)) = layout else {
                return Err(unsupported(format!(
                    "the indentation of {what} at {} cannot be determined",
                    node.position
                )));
            };
            let item_col = dash_col.saturating_add(content);
            let mut lines = vec![
                format!(
                    "{}-{}name: {EXTENSION_NAME}",
                    pad(dash_col),
                    pad(content.saturating_sub(1))
                ),
                format!("{}extension:", pad(item_col)),
            ];
            lines.extend(block_fields(target.ext, item_col.saturating_add(step)));
            insert_after_line(src, node.content_end, &lines)
        }
        [entry] => plan_entry(src, doc, target, *entry, step),
        [first, second, ..] => Err(unsupported(format!(
            "user {user:?} has two {EXTENSION_NAME} extensions (at {} and {})",
            doc.position(*first),
            doc.position(*second)
        ))),
    }
}

fn plan_entry(
    src: &str,
    doc: &Doc<'_>,
    target: &Target<'_>,
    entry: NodeId,
    step: usize,
) -> Result<Splice, EditError> {
    let user = target.user;
    let what = format!("the {EXTENSION_NAME} extension entry of user {user:?}");
    check_path(doc, PathRule::Untouched, entry, &what)?;
    check_no_merge(doc, entry, &what)?;
    let node = doc.node(entry)?;
    match doc.lookup(entry, "extension") {
        Lookup::Duplicate { first, second } => {
            Err(duplicate_key(doc, "extension", &what, first, second))
        }
        Lookup::Missing if node.flow => {
            let at = flow_insert_point(doc, entry, &what)?;
            Ok(Splice {
                start: at,
                end: at,
                text: format!(", extension: {}", flow_fields(target.ext)),
            })
        }
        Lookup::Missing => {
            let Some(col) = column_of(src, node.start) else {
                return Err(unsupported(format!(
                    "the indentation of {what} at {} cannot be determined",
                    node.position
                )));
            };
            let mut lines = vec![format!("{}extension:", pad(col))];
            lines.extend(block_fields(target.ext, col.saturating_add(step)));
            insert_after_line(src, node.content_end, &lines)
        }
        Lookup::Found { value, .. } => {
            let what = format!("the {EXTENSION_NAME} extension of user {user:?}");
            check_path(doc, PathRule::Untouched, value, &what)?;
            let old = doc.node(value)?;
            if let Some(anchor) = doc.anchor_inside(value) {
                return Err(unsupported(format!(
                    "{what} at {} defines anchor {}, which other nodes may refer to",
                    old.position,
                    anchor_label(doc, anchor)
                )));
            }
            match (&old.kind, &old.close) {
                (Kind::Map { .. }, Some(close)) if old.flow => Ok(Splice {
                    start: old.start,
                    end: close.end,
                    text: flow_fields(target.ext),
                }),
                (Kind::Map { entries }, _) if !old.flow && !entries.is_empty() => {
                    let Some(col) = column_of(src, old.start) else {
                        return Err(unsupported(format!(
                            "the indentation of {what} at {} cannot be determined",
                            old.position
                        )));
                    };
                    let nl = line_break_after(src, old.start);
                    let mut text = String::new();
                    for (i, line) in block_fields(target.ext, col).iter().enumerate() {
                        if i > 0 {
                            text.push_str(nl);
                            text.push_str(line);
                        } else {
                            text.push_str(line.trim_start_matches(' '));
                        }
                    }
                    Ok(Splice {
                        start: old.start,
                        end: old.content_end,
                        text,
                    })
                }
                _ => Err(unsupported(format!(
                    "{what} at {} is {}, not a mapping",
                    old.position,
                    describe(doc, value)
                ))),
            }
        }
    }
}

/// Where text is added to a flow collection: right after its last entry (or its opening
/// bracket when empty). The last value must have a known end: an empty (implicit) value
/// is reported at its key, and text put there would split the pair.
fn flow_insert_point(doc: &Doc<'_>, id: NodeId, what: &str) -> Result<usize, EditError> {
    let node = doc.node(id)?;
    let children = match &node.kind {
        Kind::Seq { items } => items,
        Kind::Map { entries } => entries,
        _ => return Err(internal("flow insertion into a scalar")),
    };
    let Some(&last) = children.last() else {
        return Ok(node.end);
    };
    let last = doc.node(last)?;
    if matches!(last.kind, Kind::Scalar { .. }) && last.start == last.end {
        return Err(unsupported(format!(
            "{what} at {} ends with an empty value at {}; give it a value first",
            node.position, last.position
        )));
    }
    match &node.close {
        Some(close) if node.content_end <= close.start => Ok(node.content_end),
        _ => Err(internal("flow collection without a closing bracket")),
    }
}

// ---------------------------------------------------------------------------------------
// Text helpers.
// ---------------------------------------------------------------------------------------

fn flow_fields(ext: &TokenExtension<'_>) -> String {
    let fields: Vec<String> = ext
        .fields()
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

fn flow_item(ext: &TokenExtension<'_>) -> String {
    format!(
        "{{name: {EXTENSION_NAME}, extension: {}}}",
        flow_fields(ext)
    )
}

fn block_fields(ext: &TokenExtension<'_>, column: usize) -> Vec<String> {
    ext.fields()
        .into_iter()
        .map(|(k, v)| format!("{}{k}: {v}", pad(column)))
        .collect()
}

/// The extension edit's change to the original's data.
pub(super) fn intend(
    data: &mut Value,
    user: &str,
    ext: &TokenExtension<'_>,
) -> Result<(), EditError> {
    let list = loaded_auth(data, user)?
        .entry("extensions")
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| verification(format!("extensions of user {user:?} is not a list")))?;
    let mut ours = list
        .iter_mut()
        .filter(|e| e.get("name").and_then(Value::as_str) == Some(EXTENSION_NAME));
    match (ours.next(), ours.next()) {
        (Some(entry), None) => {
            let entry = entry
                .as_object_mut()
                .ok_or_else(|| internal("extension entry is not a mapping"))?;
            entry.insert("extension".into(), ext.to_json());
        }
        (None, _) => list.push(serde_json::json!({
            "name": EXTENSION_NAME,
            "extension": ext.to_json(),
        })),
        (Some(_), Some(_)) => {
            return Err(verification(format!(
                "user {user:?} has two {EXTENSION_NAME} extensions in the loaded document"
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::read::yaml_tree::Stream;
    use super::super::super::text::apply_splices;
    use super::super::proof::prove;
    use super::super::{apply, Edit};
    use super::*;
    use crate::kubeconfig::read::from_tree::data_options;

    /// The planner with one extension edit per user.
    fn upsert_token_extension(
        src: &str,
        users: &[&str],
        ext: &TokenExtension<'_>,
    ) -> Result<String, EditError> {
        let edits: Vec<Edit<'_>> = users
            .iter()
            .map(|user| Edit::Extension { user, record: ext })
            .collect();
        apply(src, &edits)
    }

    /// The planner's proof of extension edits alone.
    fn verify(
        src: &str,
        out: &str,
        doc: &Doc<'_>,
        splices: &[Splice],
        users: &[&str],
        ext: &TokenExtension<'_>,
    ) -> Result<(), EditError> {
        let replaced: Vec<_> = splices.iter().map(|s| s.start..s.end).collect();
        prove(
            src,
            out,
            doc,
            splices,
            &replaced,
            "the extensions set",
            |data| users.iter().try_for_each(|u| intend(data, u, ext)),
        )
    }

    fn first_document_end(text: &str) -> Result<usize, EditError> {
        Ok(Doc::parse(text, Stream::Drop)?.doc_end.unwrap_or(0))
    }
    use serde_json::json;

    const EXT: TokenExtension<'static> = TokenExtension {
        expires: Some("2027-01-01T00:00:00Z"),
        source: "console",
        rotated_at: "2026-11-28T17:40:00Z",
    };

    /// The block fields of `EXT` at `col`, each line ending in `nl`.
    fn fields(col: usize, nl: &str) -> String {
        let p = pad(col);
        format!(
            "{p}expires: \"2027-01-01T00:00:00Z\"{nl}{p}source: \"console\"{nl}{p}rotatedAt: \"2026-11-28T17:40:00Z\"{nl}"
        )
    }

    const FLOW_EXT: &str = "{expires: \"2027-01-01T00:00:00Z\", source: \"console\", rotatedAt: \"2026-11-28T17:40:00Z\"}";

    fn load_first(text: &str) -> Value {
        let docs: Vec<Value> =
            serde_saphyr::from_multiple_with_options(text, data_options()).expect("loads");
        docs.into_iter().next().expect("one document")
    }

    /// The test's own statement of the intended change, on the original's data.
    fn expected_data(src: &str, users: &[&str], ext: &TokenExtension<'_>) -> Value {
        let mut data = load_first(src);
        for user in users {
            let entry = data["users"]
                .as_array_mut()
                .expect("users")
                .iter_mut()
                // An entry without `name` is user "".
                .find(|e| e["name"] == *user || (user.is_empty() && e.get("name").is_none()))
                .expect("user entry");
            let auth = entry["user"].as_object_mut().expect("user mapping");
            let list = auth
                .entry("extensions")
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("extensions list");
            let value = ext.to_json();
            match list.iter_mut().find(|e| e["name"] == EXTENSION_NAME) {
                Some(e) => e["extension"] = value,
                None => list.push(json!({"name": EXTENSION_NAME, "extension": value})),
            }
        }
        data
    }

    fn is_subsequence(small: &str, big: &str) -> bool {
        let mut it = big.bytes();
        small.bytes().all(|b| it.any(|c| c == b))
    }

    #[track_caller]
    fn ok_with(src: &str, users: &[&str], ext: &TokenExtension<'_>) -> String {
        let out = match upsert_token_extension(src, users, ext) {
            Ok(out) => out,
            Err(e) => panic!("edit failed: {e}\n{src}"),
        };
        assert_eq!(load_first(&out), expected_data(src, users, ext), "{out}");
        out
    }

    #[track_caller]
    fn ok(src: &str, users: &[&str]) -> String {
        let out = ok_with(src, users, &EXT);
        // These cases only insert: every byte of the original is still there, in order.
        if !src.contains(EXTENSION_NAME) {
            assert!(is_subsequence(src, &out), "{out}");
        }
        out
    }

    #[track_caller]
    fn err(src: &str, users: &[&str]) -> EditError {
        match upsert_token_extension(src, users, &EXT) {
            Ok(out) => panic!("edit unexpectedly succeeded:\n{out}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.contains("CW-SECRET"), "token leaked into: {msg}");
                assert!(!msg.contains('\n'), "multi-line message: {msg}");
                e
            }
        }
    }

    #[track_caller]
    fn unsupported_err(src: &str, users: &[&str], needle: &str) {
        let e = err(src, users);
        assert!(matches!(e, EditError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    }

    const KUBECTL: &str = "\
apiVersion: v1
clusters:
- cluster:
    server: https://api.example.invalid
  name: cw
contexts:
- context:
    cluster: cw
    user: token
  name: cw
current-context: cw
kind: Config
preferences: {}
users:
- name: token
  user:
    token: CW-SECRET-test-old-1
- name: other
  user:
    client-certificate-data: QUJD
    exec:
      apiVersion: client.authentication.k8s.io/v1
      args:
      - get-token
      command: cw
";

    #[test]
    fn kubectl_written_user_gets_an_extensions_list() {
        let out = ok(KUBECTL, &["token"]);
        assert_eq!(
            out,
            "\
apiVersion: v1
clusters:
- cluster:
    server: https://api.example.invalid
  name: cw
contexts:
- context:
    cluster: cw
    user: token
  name: cw
current-context: cw
kind: Config
preferences: {}
users:
- name: token
  user:
    token: CW-SECRET-test-old-1
    extensions:
    - name: coreweave.com/token
      extension:
        expires: \"2027-01-01T00:00:00Z\"
        source: \"console\"
        rotatedAt: \"2026-11-28T17:40:00Z\"
- name: other
  user:
    client-certificate-data: QUJD
    exec:
      apiVersion: client.authentication.k8s.io/v1
      args:
      - get-token
      command: cw
"
        );
    }

    #[test]
    fn several_users_in_one_call() {
        // `other` ends with a nested mapping whose last value is an indentless list.
        let out = ok(KUBECTL, &["other", "token", "other"]);
        let ext = format!(
            "    extensions:\n    - name: coreweave.com/token\n      extension:\n{}",
            fields(8, "\n")
        );
        let expected = KUBECTL
            .replace(
                "    token: CW-SECRET-test-old-1\n",
                &format!("    token: CW-SECRET-test-old-1\n{ext}"),
            )
            .replace("      command: cw\n", &format!("      command: cw\n{ext}"));
        assert_eq!(out, expected);
        // No users: the text is returned untouched, even when it is not YAML.
        assert_eq!(
            upsert_token_extension("{not yaml", &[], &EXT).expect("no-op"),
            "{not yaml"
        );
    }

    #[test]
    fn hand_written_with_comments_and_blank_lines() {
        let src = "\
# lab kubeconfig
users:   # people
  # first entry
  - name: alice   # the admin
    user:
      token:   CW-SECRET-test-old-1    # rotated 2024-01

      # a comment after the mapping

  - name: bob
    user:
      token: \"CW-SECRET-test-old-2\" # c
# the end
current-context: lab
";
        let out = ok(src, &["alice", "bob"]);
        let ext = format!(
            "      extensions:\n        - name: coreweave.com/token\n          extension:\n{}",
            fields(12, "\n")
        );
        assert_eq!(
            out,
            format!(
                "\
# lab kubeconfig
users:   # people
  # first entry
  - name: alice   # the admin
    user:
      token:   CW-SECRET-test-old-1    # rotated 2024-01
{ext}
      # a comment after the mapping

  - name: bob
    user:
      token: \"CW-SECRET-test-old-2\" # c
{ext}# the end
current-context: lab
"
            )
        );
    }

    #[test]
    fn four_space_indent() {
        let src = "users:\n    -   name: a\n        user:\n            token: CW-SECRET-test-old-1\n            x-extra: v # c\nclusters: []\n";
        assert_eq!(
            ok(src, &["a"]),
            format!(
                "users:\n    -   name: a\n        user:\n            token: CW-SECRET-test-old-1\n            x-extra: v # c\n            extensions:\n                -   name: coreweave.com/token\n                    extension:\n{}clusters: []\n",
                fields(24, "\n")
            )
        );
    }

    #[test]
    fn crlf_bom_and_no_final_line_break() {
        let crlf = "users:\r\n- name: a\r\n  user:\r\n    token: CW-SECRET-test-old-1\r\n";
        assert_eq!(
            ok(crlf, &["a"]),
            format!(
                "{crlf}    extensions:\r\n    - name: coreweave.com/token\r\n      extension:\r\n{}",
                fields(8, "\r\n")
            )
        );
        let bom = format!("\u{feff}{crlf}");
        assert_eq!(
            ok(&bom, &["a"]),
            format!(
                "{bom}    extensions:\r\n    - name: coreweave.com/token\r\n      extension:\r\n{}",
                fields(8, "\r\n")
            )
        );
        // Without a final line break the new lines are each preceded by one instead.
        let bare = crlf.trim_end_matches("\r\n");
        let mut expected = format!(
            "{bare}\r\n    extensions:\r\n    - name: coreweave.com/token\r\n      extension:\r\n{}",
            fields(8, "\r\n")
        );
        expected.truncate(expected.len() - 2);
        assert_eq!(ok(bare, &["a"]), expected);
    }

    #[test]
    fn appends_to_an_existing_list() {
        // kubectl sorts keys: `extensions` before `token`, `extension` before `name`.
        let src = "\
users:
- name: token
  user:
    extensions:
    - extension:
        kind: Other
      name: example.com/other # theirs
    token: CW-SECRET-test-old-1
";
        assert_eq!(
            ok(src, &["token"]),
            format!(
                "\
users:
- name: token
  user:
    extensions:
    - extension:
        kind: Other
      name: example.com/other # theirs
    - name: coreweave.com/token
      extension:
{}    token: CW-SECRET-test-old-1
",
                fields(8, "\n")
            )
        );
        // An indented list keeps its dash column and spacing.
        let indented = "users:\n  - name: a\n    user:\n      extensions:\n        -   name: example.com/other\n            extension: {kind: Other}\n      token: CW-SECRET-test-old-1\n";
        assert_eq!(
            ok(indented, &["a"]),
            format!(
                "users:\n  - name: a\n    user:\n      extensions:\n        -   name: example.com/other\n            extension: {{kind: Other}}\n        -   name: coreweave.com/token\n            extension:\n{}      token: CW-SECRET-test-old-1\n",
                fields(14, "\n")
            )
        );
    }

    #[test]
    fn appends_to_a_flow_list() {
        let src = "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions: [{name: example.com/other, extension: {kind: Other}}] # c\n";
        assert_eq!(
            ok(src, &["a"]),
            format!("users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions: [{{name: example.com/other, extension: {{kind: Other}}}}, {{name: coreweave.com/token, extension: {FLOW_EXT}}}] # c\n")
        );
        let empty =
            "users:\n- name: a\n  user:\n    extensions: []\n    token: CW-SECRET-test-old-1\n";
        assert_eq!(
            ok(empty, &["a"]),
            format!("users:\n- name: a\n  user:\n    extensions: [{{name: coreweave.com/token, extension: {FLOW_EXT}}}]\n    token: CW-SECRET-test-old-1\n")
        );
    }

    #[test]
    fn replaces_an_existing_block_extension() {
        let src = "\
users:
- name: token
  user:
    extensions:
    - extension:
        expires: \"2026-01-01T00:00:00Z\" # old
        rotatedAt: \"2025-12-01T00:00:00Z\"
        source: minted
        stale: x   # kept
      name: coreweave.com/token
    - name: example.com/other
      extension: {kind: Other}
    token: CW-SECRET-test-old-1
";
        let out = ok(src, &["token"]);
        assert_eq!(
            out,
            "\
users:
- name: token
  user:
    extensions:
    - extension:
        expires: \"2027-01-01T00:00:00Z\"
        source: \"console\"
        rotatedAt: \"2026-11-28T17:40:00Z\"   # kept
      name: coreweave.com/token
    - name: example.com/other
      extension: {kind: Other}
    token: CW-SECRET-test-old-1
"
        );
        // Running it again with the same values is a fixed point.
        assert_eq!(ok(&out, &["token"]), out);
    }

    #[test]
    fn replaces_an_existing_flow_extension() {
        let src = "users:\n- name: token\n  user:\n    token: CW-SECRET-test-old-1\n    extensions:\n    - {name: coreweave.com/token, extension: {expires: \"2026-01-01T00:00:00Z\", source: minted}} # ours\n";
        assert_eq!(
            ok(src, &["token"]),
            format!("users:\n- name: token\n  user:\n    token: CW-SECRET-test-old-1\n    extensions:\n    - {{name: coreweave.com/token, extension: {FLOW_EXT}}} # ours\n")
        );
        let in_block = "users:\n- name: token\n  user:\n    extensions:\n    - name: coreweave.com/token\n      extension: {}\n    token: CW-SECRET-test-old-1\n";
        assert_eq!(
            ok(in_block, &["token"]),
            format!("users:\n- name: token\n  user:\n    extensions:\n    - name: coreweave.com/token\n      extension: {FLOW_EXT}\n    token: CW-SECRET-test-old-1\n")
        );
    }

    #[test]
    fn adds_a_missing_extension_value_to_our_entry() {
        let block = "users:\n- name: a\n  user:\n    extensions:\n    - name: coreweave.com/token\n    token: CW-SECRET-test-old-1\n";
        assert_eq!(
            ok_with(block, &["a"], &EXT),
            format!(
                "users:\n- name: a\n  user:\n    extensions:\n    - name: coreweave.com/token\n      extension:\n{}    token: CW-SECRET-test-old-1\n",
                fields(8, "\n")
            )
        );
        let flow = "users:\n- name: a\n  user:\n    extensions: [{name: coreweave.com/token}]\n    token: CW-SECRET-test-old-1\n";
        assert_eq!(
            ok_with(flow, &["a"], &EXT),
            format!("users:\n- name: a\n  user:\n    extensions: [{{name: coreweave.com/token, extension: {FLOW_EXT}}}]\n    token: CW-SECRET-test-old-1\n")
        );
    }

    #[test]
    fn flow_style_user() {
        let src = "users:\n- name: a\n  user: {token: CW-SECRET-test-old-1}\n";
        assert_eq!(
            ok(src, &["a"]),
            format!("users:\n- name: a\n  user: {{token: CW-SECRET-test-old-1, extensions: [{{name: coreweave.com/token, extension: {FLOW_EXT}}}]}}\n")
        );
        let json_like =
            "{\"users\":[{\"name\":\"a\",\"user\":{\"token\":\"CW-SECRET-test-old-1\"}}]}";
        assert_eq!(
            ok(json_like, &["a"]),
            format!("{{\"users\":[{{\"name\":\"a\",\"user\":{{\"token\":\"CW-SECRET-test-old-1\", extensions: [{{name: coreweave.com/token, extension: {FLOW_EXT}}}]}}}}]}}")
        );
        // Across lines, with a trailing comma and a comment before the closing brace.
        let multiline =
            "users: [\n  {name: a, user: {\n    token: 'CW-SECRET-test-old-1',   # c\n  }},\n]\n";
        assert_eq!(
            ok(multiline, &["a"]),
            format!("users: [\n  {{name: a, user: {{\n    token: 'CW-SECRET-test-old-1', extensions: [{{name: coreweave.com/token, extension: {FLOW_EXT}}}],   # c\n  }}}},\n]\n")
        );
        // A flow mapping ending in an empty value: where to write is not known exactly.
        unsupported_err(
            "users:\n- name: a\n  user: {token: CW-SECRET-test-old-1, x: }\n",
            &["a"],
            "ends with an empty value",
        );
    }

    #[test]
    fn expires_none_writes_no_expires_key() {
        let ext = TokenExtension {
            expires: None,
            source: "minted",
            rotated_at: "2026-11-28T17:40:00Z",
        };
        let src = "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n";
        let out = ok_with(src, &["a"], &ext);
        assert_eq!(
            out,
            "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions:\n    - name: coreweave.com/token\n      extension:\n        source: \"minted\"\n        rotatedAt: \"2026-11-28T17:40:00Z\"\n"
        );
        // Replacing a record that had an expiry drops it.
        let again = ok_with(&ok(src, &["a"]), &["a"], &ext);
        assert_eq!(again, out);
        let flow = "users:\n- name: a\n  user: {token: CW-SECRET-test-old-1}\n";
        assert_eq!(
            ok_with(flow, &["a"], &ext),
            "users:\n- name: a\n  user: {token: CW-SECRET-test-old-1, extensions: [{name: coreweave.com/token, extension: {source: \"minted\", rotatedAt: \"2026-11-28T17:40:00Z\"}}]}\n"
        );
    }

    #[test]
    fn values_are_double_quoted_and_escaped() {
        let ext = TokenExtension {
            expires: Some("2027-01-01"),
            source: "it's \"q\" \\ é\n",
            rotated_at: "on",
        };
        let src = "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n";
        assert_eq!(
            ok_with(src, &["a"], &ext),
            "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions:\n    - name: coreweave.com/token\n      extension:\n        expires: \"2027-01-01\"\n        source: \"it's \\\"q\\\" \\\\ é\\n\"\n        rotatedAt: \"on\"\n"
        );
    }

    #[test]
    fn later_documents_and_markers_are_kept() {
        let src = "%YAML 1.2\n---\nusers:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1 # c\n# after\n...\n---\nusers:\n- name: a\n  user:\n    token: CW-SECRET-test-old-2\n";
        assert_eq!(
            ok(src, &["a"]),
            format!(
                "%YAML 1.2\n---\nusers:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1 # c\n    extensions:\n    - name: coreweave.com/token\n      extension:\n{}# after\n...\n---\nusers:\n- name: a\n  user:\n    token: CW-SECRET-test-old-2\n",
                fields(8, "\n")
            )
        );
        let implicit =
            "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n---\n- other\n";
        assert_eq!(
            ok(implicit, &["a"]),
            format!(
                "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions:\n    - name: coreweave.com/token\n      extension:\n{}---\n- other\n",
                fields(8, "\n")
            )
        );
    }

    #[test]
    fn block_scalar_and_multi_line_values_at_the_end() {
        let src = "users:\n- name: a\n  user:\n    token: |\n      CW-SECRET-test-old-1\n\n\n    # c\n- name: b\n  user:\n    token: \"CW-SECRET-\n      test-old-2\"\n";
        assert_eq!(
            ok(src, &["a", "b"]),
            format!(
                "users:\n- name: a\n  user:\n    token: |\n      CW-SECRET-test-old-1\n    extensions:\n    - name: coreweave.com/token\n      extension:\n{f}\n\n    # c\n- name: b\n  user:\n    token: \"CW-SECRET-\n      test-old-2\"\n    extensions:\n    - name: coreweave.com/token\n      extension:\n{f}",
                f = fields(8, "\n")
            )
        );
    }

    #[test]
    fn values_that_would_absorb_the_insertion_are_refused_not_mangled() {
        // A keep-chomped block scalar owns the blank lines after it: inserting before them
        // would change the token, and verification says so.
        let keep = "users:\n- name: a\n  user:\n    token: |+\n      CW-SECRET-test-old-1\n\n\n";
        let e = err(keep, &["a"]);
        assert!(matches!(e, EditError::Verification { .. }), "{e}");
        // A flow entry in a block list is a flow user mapping like any other.
        let flow_entry = "users:\n- {name: a, user: {token: CW-SECRET-test-old-1}}\n";
        assert_eq!(
            ok(flow_entry, &["a"]),
            format!("users:\n- {{name: a, user: {{token: CW-SECRET-test-old-1, extensions: [{{name: coreweave.com/token, extension: {FLOW_EXT}}}]}}}}\n")
        );
    }

    #[test]
    fn missing_user() {
        let e = err(KUBECTL, &["carol"]);
        assert!(matches!(e, EditError::UserNotFound { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "user \"carol\" is not in the users list at 14:1"
        );
        // One missing user fails the whole call.
        assert!(matches!(
            err(KUBECTL, &["token", "carol"]),
            EditError::UserNotFound { .. }
        ));
        assert_eq!(
            err("kind: Config\n", &["a"]).to_string(),
            "kubeconfig has no users list: the top-level mapping has no users key"
        );
        assert!(matches!(err("users: [\n", &["a"]), EditError::Parse { .. }));
        let dup = "users:\n- name: a\n  user: {token: x}\n- name: a\n  user: {token: y}\n";
        assert!(matches!(err(dup, &["a"]), EditError::DuplicateUser { .. }));
    }

    #[test]
    fn user_without_a_usable_mapping() {
        let cases = [
            (
                "users:\n- name: a\n  user: {}\n",
                "at 3:9 is an empty mapping",
            ),
            ("users:\n- name: a\n  user:\n", "is a null value"),
            ("users:\n- name: a\n  user: null\n", "is a null value"),
            ("users:\n- name: a\n  user: [x]\n", "is a list"),
            (
                "users:\n- name: a\n  user: CW-SECRET-test-old-1\n",
                "is a scalar",
            ),
            ("users:\n- name: a\n", "has no user mapping"),
        ];
        for (src, needle) in cases {
            unsupported_err(src, &["a"], needle);
        }
        let e = err("users:\n- name: a\n  user: {}\n", &["a"]);
        assert_eq!(
            e.to_string(),
            "the user mapping of user \"a\" at 3:9 is an empty mapping; the editor adds \
             extensions only to a user mapping with content"
        );
    }

    #[test]
    fn anchors_aliases_tags_and_merge_keys_on_the_path_are_refused() {
        let cases = [
            (
                "base: &u {token: CW-SECRET-test-old-1}\nusers:\n- name: a\n  user: *u\n",
                "the user mapping of user \"a\" at 4:9 is an alias (*u)",
            ),
            (
                "users:\n- name: a\n  user: &u\n    token: CW-SECRET-test-old-1\n",
                "carries anchor &u",
            ),
            (
                "users:\n- &e\n  name: a\n  user:\n    token: CW-SECRET-test-old-1\n",
                "the users entry of user \"a\"",
            ),
            (
                "all: &l\n- name: a\n  user: {token: CW-SECRET-test-old-1}\nusers: *l\n",
                "the users list at 4:8 is an alias (*l)",
            ),
            (
                "x: &x [{name: o}]\nusers:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions: *x\n",
                "the extensions list of user \"a\"",
            ),
            (
                "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions:\n    - name: coreweave.com/token\n      extension: &v {source: x}\n",
                "carries anchor &v",
            ),
            (
                "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions:\n    - name: coreweave.com/token\n      extension:\n        source: &s x\n",
                "defines anchor &s",
            ),
            (
                "users:\n- name: a\n  user: !!map\n    token: CW-SECRET-test-old-1\n",
                "carries an explicit tag",
            ),
            (
                "base: &b {token: CW-SECRET-test-old-1}\nusers:\n- name: a\n  user:\n    <<: *b\n",
                "has a merge key (<<) at 5:5",
            ),
            (
                "n: &n {name: a}\nusers:\n- <<: *n\n  user: {token: CW-SECRET-test-old-1}\n",
                "the merge key (<<) at 3:3 is not known",
            ),
            (
                // A merge key may rename the entry even after its own `name`.
                "users:\n- name: a\n  <<: {x: 1}\n  user: {token: CW-SECRET-test-old-1}\n",
                "the merge key (<<) at 3:3 is not known",
            ),
        ];
        for (src, needle) in cases {
            unsupported_err(src, &["a"], needle);
        }
        // Anchors and aliases off the path are fine.
        let off_path =
            "nm: &n a\nusers:\n- name: *n\n  user:\n    token: &t CW-SECRET-test-old-1\nother: *t\n";
        ok(off_path, &["a"]);
    }

    #[test]
    fn odd_extension_lists_are_refused() {
        let two = "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions:\n    - name: coreweave.com/token\n    - name: coreweave.com/token\n";
        unsupported_err(
            two,
            &["a"],
            "has two coreweave.com/token extensions (at 6:7 and 7:7)",
        );
        let scalar = "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions:\n    - name: coreweave.com/token\n      extension: soon\n";
        unsupported_err(scalar, &["a"], "is a scalar, not a mapping");
        let null = "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    extensions:\n";
        unsupported_err(null, &["a"], "is a null value, not a list");
        let dup = "users:\n- name: a\n  user:\n    extensions: []\n    extensions: []\n";
        unsupported_err(dup, &["a"], "key \"extensions\" appears twice");
    }

    /// The verifier itself rejects texts that are not exactly the intended edit.
    #[test]
    fn verification_rejects_wrong_results() {
        let src =
            "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1 # c\n---\nlater: 1\n";
        let doc = Doc::parse(src, Stream::Comments).expect("parses");
        let splices = plan(src, &doc, &[("a", &EXT)]).expect("plans");
        let good = apply_splices(src, &splices).expect("applies");
        verify(src, &good, &doc, &splices, &["a"], &EXT).expect("the real edit verifies");
        let reject = |out: &str, splices: &[Splice]| {
            let e = verify(src, out, &doc, splices, &["a"], &EXT).expect_err("must be rejected");
            assert!(matches!(e, EditError::Verification { .. }), "{e}");
        };
        // A byte elsewhere changed.
        reject(&good.replace("# c", "# d"), &splices);
        // A later document changed.
        reject(&good.replace("later: 1", "later: 2"), &splices);
        // The recorded value differs from the requested one (splice and text agree).
        let wrong: Vec<Splice> = splices
            .iter()
            .map(|s| Splice {
                text: s.text.replace("console", "minted"),
                ..s.clone()
            })
            .collect();
        reject(&apply_splices(src, &wrong).expect("applies"), &wrong);
        // Text that changes more than the extension: the token moves into the new list.
        let greedy = vec![Splice {
            start: 0,
            end: 0,
            text: "x: 1\n".to_owned(),
        }];
        reject(&apply_splices(src, &greedy).expect("applies"), &greedy);
    }

    #[test]
    /// Correctness on a large file; how the cost grows is measured in
    /// `benches/kubeconfig.rs`, not asserted here in seconds.
    fn large_file_with_many_users() {
        let mut src = String::from("apiVersion: v1\nkind: Config\nusers:\n");
        for i in 0..3000 {
            src.push_str(&format!(
                "# user {i}\n- name: user-{i}\n  user:\n    token: CW-SECRET-test-old-{i} # rotated\n"
            ));
        }
        let names: Vec<String> = (0..1000).map(|i| format!("user-{}", i * 3)).collect();
        let users: Vec<&str> = names.iter().map(String::as_str).collect();
        let out = upsert_token_extension(&src, &users, &EXT).expect("edit");
        assert_eq!(out.matches("- name: coreweave.com/token\n").count(), 1000);
    }

    /// client-go (through the real kubectl, with HOME sealed in a temporary folder) reads
    /// the inserted extension under `users[].user.extensions` and keeps it when it rewrites
    /// the file; the editor then updates the entry kubectl wrote in its own key order.
    #[test]
    fn kubectl_reads_and_keeps_the_extension() {
        let home = tempfile::tempdir().expect("temp dir");
        let path = home.path().join("config");
        let kubectl = |args: &[&str]| {
            std::process::Command::new("kubectl")
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", home.path())
                .env("KUBECONFIG", &path)
                .args(args)
                .output()
                .expect("kubectl must be installed (.ci/run installs Debian's kubernetes-client)")
        };
        let view = || {
            let o = kubectl(&["config", "view", "--raw", "-o", "json"]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            serde_json::from_slice::<Value>(&o.stdout).expect("json")
        };
        let user_of = |v: &Value, name: &str| -> Value {
            v["users"]
                .as_array()
                .and_then(|u| u.iter().find(|e| e["name"] == name))
                .map(|e| e["user"].clone())
                .unwrap_or(Value::Null)
        };
        let ours = |ext: &TokenExtension<'_>| json!([{"name": EXTENSION_NAME, "extension": ext.to_json()}]);

        std::fs::write(&path, ok(KUBECTL, &["token"])).expect("write");
        let v = view();
        assert_eq!(user_of(&v, "token")["extensions"], ours(&EXT), "{v}");
        assert_eq!(user_of(&v, "token")["token"], "CW-SECRET-test-old-1");
        assert_eq!(user_of(&v, "other")["extensions"], Value::Null, "{v}");

        let o = kubectl(&["config", "set-credentials", "added", "--token=x"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let rewritten = std::fs::read_to_string(&path).expect("read");
        assert!(rewritten.contains("name: added"), "{rewritten}");
        let v = view();
        assert_eq!(user_of(&v, "token")["extensions"], ours(&EXT), "{v}");

        // kubectl's rewrite puts `extension` before `name`; replacing it there works too.
        let next = TokenExtension {
            expires: None,
            source: "minted",
            rotated_at: "2026-12-01T00:00:00Z",
        };
        let updated = ok_with(&rewritten, &["token", "added"], &next);
        std::fs::write(&path, &updated).expect("write");
        let v = view();
        assert_eq!(user_of(&v, "token")["extensions"], ours(&next), "{v}");
        assert_eq!(user_of(&v, "added")["extensions"], ours(&next), "{v}");
        assert_eq!(user_of(&v, "added")["token"], "x");
    }

    /// Generated kubeconfigs: indentation, list style, comments, line endings and existing
    /// extensions vary; every edit must verify and read back as what was set.
    mod generated {
        use super::*;
        use proptest::prelude::*;
        use proptest::test_runner::TestCaseError;

        #[derive(Debug, Clone)]
        struct GenUser {
            flow: bool,
            /// 0 none, 1 another entry, 2 ours (block value), 3 ours (flow value),
            /// 4 flow list with another entry, 5 empty flow list, 6 ours without a value.
            existing: u8,
            extensions_first: bool,
            comment_after_token: bool,
            extra_after: bool,
            blank_after: bool,
            comment_line_after: bool,
            token_file: bool,
        }

        #[derive(Debug, Clone)]
        struct GenDoc {
            step: usize,
            indented_lists: bool,
            crlf: bool,
            final_newline: bool,
            users_first: bool,
            later_document: bool,
            users: Vec<GenUser>,
        }

        fn user_strategy() -> impl Strategy<Value = GenUser> {
            (
                any::<bool>(),
                0u8..7,
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                proptest::bool::weighted(0.15),
            )
                .prop_map(
                    |(
                        flow,
                        existing,
                        extensions_first,
                        comment_after_token,
                        extra_after,
                        blank_after,
                        comment_line_after,
                        token_file,
                    )| GenUser {
                        flow,
                        existing,
                        extensions_first,
                        comment_after_token,
                        extra_after,
                        blank_after,
                        comment_line_after,
                        token_file,
                    },
                )
        }

        fn doc_strategy() -> impl Strategy<Value = GenDoc> {
            (
                prop_oneof![Just(2usize), Just(4usize), Just(3usize)],
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                proptest::collection::vec(user_strategy(), 1..5),
            )
                .prop_map(
                    |(
                        step,
                        indented_lists,
                        crlf,
                        final_newline,
                        users_first,
                        later_document,
                        users,
                    )| GenDoc {
                        step,
                        indented_lists,
                        crlf,
                        final_newline,
                        users_first,
                        later_document,
                        users,
                    },
                )
        }

        fn render(doc: &GenDoc) -> String {
            let s = doc.step;
            let d = if doc.indented_lists { s } else { 0 };
            let mut lines: Vec<String> = Vec::new();
            let others = |lines: &mut Vec<String>| {
                lines.push("apiVersion: v1".into());
                lines.push("clusters:".into());
                lines.push(format!("{}-{}name: c", pad(d), pad(s - 1)));
                lines.push(format!(
                    "{}cluster: {{server: https://c.example.invalid}}",
                    pad(d + s)
                ));
                lines.push("kind: Config # c".into());
            };
            if !doc.users_first {
                others(&mut lines);
            }
            lines.push("users: # people".into());
            for (i, u) in doc.users.iter().enumerate() {
                let e = d + s; // entry keys
                let k = e + s; // user mapping keys
                lines.push(format!("{}-{}name: u{i}", pad(d), pad(s - 1)));
                let credential = if u.token_file {
                    format!("tokenFile: /t/{i}")
                } else {
                    format!("token: CW-SECRET-test-old-{i}")
                };
                if u.flow {
                    let ext = match u.existing {
                        1 | 4 => ", extensions: [{name: example.com/other, extension: {kind: Other}}]",
                        2 => ", extensions: [{name: coreweave.com/token, extension: {expires: \"2020-01-01T00:00:00Z\", stale: x}}]",
                        3 => ", extensions: [{name: example.com/other}, {name: coreweave.com/token, extension: {source: old}}]",
                        5 => ", extensions: []",
                        6 => ", extensions: [{name: coreweave.com/token}]",
                        _ => "",
                    };
                    let extra = if u.extra_after { ", x-extra: v" } else { "" };
                    lines.push(format!("{}user: {{{credential}{ext}{extra}}}", pad(e)));
                } else {
                    lines.push(format!("{}user:", pad(e)));
                    let mut ext: Vec<String> = Vec::new();
                    let (dash, item) = (k + d, k + d + s);
                    match u.existing {
                        1 => {
                            ext.push(format!("{}extensions:", pad(k)));
                            ext.push(format!("{}-{}name: example.com/other", pad(dash), pad(s - 1)));
                            ext.push(format!("{}extension:", pad(item)));
                            ext.push(format!("{}kind: Other # theirs", pad(item + s)));
                        }
                        2 => {
                            ext.push(format!("{}extensions:", pad(k)));
                            ext.push(format!("{}-{}extension:", pad(dash), pad(s - 1)));
                            ext.push(format!("{}expires: \"2020-01-01T00:00:00Z\" # old", pad(item + s)));
                            ext.push(format!("{}stale: x", pad(item + s)));
                            ext.push(format!("{}name: coreweave.com/token", pad(item)));
                        }
                        3 => {
                            ext.push(format!("{}extensions:", pad(k)));
                            ext.push(format!("{}- {{name: coreweave.com/token, extension: {{source: old}}}}", pad(dash)));
                        }
                        4 => ext.push(format!(
                            "{}extensions: [{{name: example.com/other, extension: {{kind: Other}}}}]",
                            pad(k)
                        )),
                        5 => ext.push(format!("{}extensions: []", pad(k))),
                        6 => {
                            ext.push(format!("{}extensions:", pad(k)));
                            ext.push(format!("{}-{}name: coreweave.com/token", pad(dash), pad(s - 1)));
                        }
                        _ => {}
                    }
                    if u.extensions_first {
                        lines.append(&mut ext);
                    }
                    let comment = if u.comment_after_token {
                        "   # rotated"
                    } else {
                        ""
                    };
                    lines.push(format!("{}{credential}{comment}", pad(k)));
                    lines.append(&mut ext);
                    if u.extra_after {
                        lines.push(format!("{}x-extra: v", pad(k)));
                    }
                }
                if u.blank_after {
                    lines.push(String::new());
                }
                if u.comment_line_after {
                    lines.push(format!("{}# after u{i}", pad(k_or(d, s))));
                }
            }
            if doc.users_first {
                others(&mut lines);
            }
            lines.push("current-context: ctx".into());
            if doc.later_document {
                lines.push("---".into());
                lines.push("users: [{name: u0, user: {token: CW-SECRET-test-later}}]".into());
            }
            let nl = if doc.crlf { "\r\n" } else { "\n" };
            let mut text = lines.join(nl);
            if doc.final_newline {
                text.push_str(nl);
            }
            text
        }

        fn k_or(d: usize, s: usize) -> usize {
            d + s
        }

        fn ext_strategy() -> impl Strategy<Value = (Option<String>, String, String)> {
            (
                proptest::option::of(proptest::sample::select(vec![
                    "2027-01-01T00:00:00Z",
                    "2026-02-29T23:59:59.5+01:00",
                    "",
                ])),
                prop_oneof![
                    proptest::sample::select(vec![
                        "console",
                        "minted",
                        "on",
                        "it's \"q\"",
                        "é\n\t#x"
                    ])
                    .prop_map(str::to_owned),
                    any::<String>(),
                ],
                proptest::sample::select(vec!["2026-11-28T17:40:00Z", "null"])
                    .prop_map(str::to_owned),
            )
                .prop_map(|(e, s, r)| (e.map(str::to_owned), s, r))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn generated_kubeconfigs_verify_and_read_back(
                doc in doc_strategy(),
                picks in proptest::collection::vec(0usize..5, 1..4),
                (expires, source, rotated_at) in ext_strategy(),
            ) {
                let text = render(&doc);
                let names: Vec<String> = picks
                    .iter()
                    .map(|p| format!("u{}", p % doc.users.len()))
                    .collect();
                let users: Vec<&str> = names.iter().map(String::as_str).collect();
                let ext = TokenExtension {
                    expires: expires.as_deref(),
                    source: &source,
                    rotated_at: &rotated_at,
                };
                let out = upsert_token_extension(&text, &users, &ext)
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;

                // Independently of the editor's own verification.
                prop_assert_eq!(load_first(&out), expected_data(&text, &users, &ext));
                let data = load_first(&out);
                for name in &names {
                    let entry = data["users"]
                        .as_array()
                        .and_then(|u| u.iter().find(|e| e["name"] == name.as_str()))
                        .ok_or_else(|| TestCaseError::fail("user missing"))?;
                    let ours: Vec<&Value> = entry["user"]["extensions"]
                        .as_array()
                        .map(|l| l.iter().filter(|e| e["name"] == EXTENSION_NAME).collect())
                        .unwrap_or_default();
                    prop_assert_eq!(ours.len(), 1);
                    prop_assert_eq!(&ours[0]["extension"], &ext.to_json());
                }
                let replaces = names.iter().any(|n| {
                    let i: usize = n[1..].parse().unwrap_or(0);
                    matches!(doc.users[i].existing, 2 | 3)
                });
                if !replaces {
                    prop_assert!(is_subsequence(&text, &out));
                }
                if doc.later_document {
                    let tail = text.find("---").map(|i| &text[i..]).unwrap_or_default();
                    prop_assert!(out.ends_with(tail));
                }
                // The result is a fixed point: setting the same values again changes nothing.
                let again = upsert_token_extension(&out, &users, &ext)
                    .map_err(|e| TestCaseError::fail(format!("second run: {e}\n{out}")))?;
                prop_assert_eq!(again, out);
            }
        }

        const FRAGMENTS: [&str; 32] = [
            "users",
            "name",
            "user",
            "token",
            "extensions",
            "extension",
            "coreweave.com/token",
            ":",
            ": ",
            " ",
            "  ",
            "\n",
            "\r\n",
            "- ",
            "-",
            "{",
            "}",
            "[",
            "]",
            ", ",
            "'",
            "\"",
            "# c",
            "&t ",
            "*t",
            "!!str ",
            "|",
            "<<: ",
            "---\n",
            "...\n",
            "\t",
            "\u{feff}",
        ];

        fn arbitrary_input() -> impl Strategy<Value = String> {
            let mutated = (
                doc_strategy(),
                proptest::collection::vec(
                    (any::<usize>(), any::<bool>(), 0..FRAGMENTS.len()),
                    1..4,
                ),
            )
                .prop_map(|(doc, mutations)| {
                    crate::kubeconfig::read::yaml_tree::generated::mutate(
                        render(&doc),
                        &mutations,
                        &FRAGMENTS,
                    )
                });
            crate::kubeconfig::read::yaml_tree::generated::arbitrary_input(&FRAGMENTS, mutated)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_input_never_panics_and_ok_is_what_was_asked(
                src in arbitrary_input(),
                users in proptest::collection::vec(
                    proptest::sample::select(vec!["u0", "u1", "u2", "a", "", "token"]),
                    0..3,
                ),
                (expires, source, rotated_at) in ext_strategy(),
            ) {
                let ext = TokenExtension {
                    expires: expires.as_deref(),
                    source: &source,
                    rotated_at: &rotated_at,
                };
                let Ok(out) = upsert_token_extension(&src, &users, &ext) else {
                    return Ok(());
                };
                if users.is_empty() {
                    prop_assert_eq!(out, src);
                    return Ok(());
                }
                let old_end = Doc::parse(&src, Stream::Drop).expect("accepted input parses").doc_end.expect("end");
                let new_end = first_document_end(&out).expect("output parses");
                prop_assert_eq!(&src[old_end..], &out[new_end..]);
                let expected = expected_data(&src[..old_end], &users, &ext);
                prop_assert_eq!(load_first(&out[..new_end]), expected);
            }
        }
    }
}
