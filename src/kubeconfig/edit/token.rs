//! Replacement of bearer-token scalars (`users[].user.token`): the fast path over
//! `fast.rs`'s line scanner, and the planner's token splices over `yaml_tree.rs` (an
//! anchored token shared by several chosen users is edited once; a block scalar is replaced
//! by a double-quoted one). No error message carries a token value.

use std::collections::{HashMap, HashSet};

use foldhash::HashMapExt;

use granit_parser::ScalarStyle;
use serde_json::Value;

use super::super::edit_error::{internal, unsupported, EditError};
use super::super::model::{ByteString, FileConfig};
use super::super::read::fast::{ScalarStyle as ScanStyle, TokenSpan};
use super::super::read::yaml_tree::{
    anchor_label, describe, lookup_merged, Doc, Kind, MergedLookup, Node, NodeId, TagClass,
};
use super::super::text::{apply_splices, Splice};
use super::super::text::{double_quoted, is_plain_safe, single_quoted};
use super::path::{self, check_path, PathRule};
use super::proof::loaded_auth;

/// The line scanner's reading of a file and where each user's token scalar is.
pub(super) type Scanned<'a> = (&'a FileConfig, &'a [Option<TokenSpan>]);

/// The fast path, for documents the line scanner of `fast.rs` reads whole: splice at the
/// spans it reports, then require that it reads the result as the original with exactly
/// the chosen tokens changed. In that subset every scalar, key and indicator stands on one
/// line and each line is read on its own, so the bytes outside the spans being identical
/// and the token lines reading back as intended prove the edit, as the planner's proof
/// does for the general case. `scanned` is the load's reading of `src`, when it has one
/// (saving one reading of the file; the proof reads the result whatever it is told).
/// `None` whenever it cannot prove it: the planner then decides, error messages included.
/// About 2 ms for 2 MB where the general path takes tens of milliseconds.
pub(super) fn replace_fast(
    src: &str,
    scanned: Option<Scanned<'_>>,
    wanted: &[(&str, &str)],
) -> Option<ByteString> {
    let doc = super::super::read::document::first_document(src);
    if !src.get(doc.len()..)?.trim().is_empty() {
        // Later documents: the planner checks that they still parse.
        return None;
    }
    let read;
    let (original, spans) = match scanned {
        Some((config, spans)) => (config, spans),
        None => {
            read = super::super::read::fast::parse_with_token_spans(doc)?;
            (&read.0, read.1.as_slice())
        }
    };
    // Each wanted user's entry, found through an index: a rotate may edit every entry of a
    // file, and searching the list once per edit would be quadratic. A name listed twice is
    // left to the general editor.
    let mut by_name = foldhash::HashMap::<&str, Option<usize>>::with_capacity(original.users.len());
    for (i, u) in original.users.iter().enumerate() {
        by_name
            .entry(&*u.name)
            .and_modify(|at| *at = None)
            .or_insert(Some(i));
    }
    let at: Vec<usize> = wanted
        .iter()
        .map(|(user, _)| by_name.get(user).copied().flatten())
        .collect::<Option<_>>()?;
    drop(by_name);
    let mut splices: Vec<Splice> = Vec::new();
    for ((_, new_token), &i) in wanted.iter().zip(&at) {
        let span = spans.get(i)?.as_ref()?;
        let text = match span.style {
            ScanStyle::Plain if is_plain_safe(new_token) => (*new_token).to_owned(),
            ScanStyle::Single => {
                single_quoted(new_token).unwrap_or_else(|| double_quoted(new_token))
            }
            _ => double_quoted(new_token),
        };
        splices.push(Splice {
            start: span.range.start,
            end: span.range.end,
            text,
        });
    }
    splices.sort_by_key(|s| s.start);
    if splices.last().is_some_and(|s| s.end > doc.len()) {
        return None;
    }
    // The result is read in place: the model's strings are slices of it.
    let out = ByteString::from(apply_splices(src, &splices).ok()?);
    // Only the first document changed length: later bytes (blank here) follow it as before.
    let new_doc_end = out.len().checked_sub(src.len().checked_sub(doc.len())?)?;
    let new_doc = out.slice_ref(out.get(..new_doc_end)?);
    let mut actual = super::super::read::fast::parse_like(&new_doc, original)?;
    // The result must read as the original with exactly the chosen tokens set: each one
    // is checked and set back to the original's, and what is left must equal the original
    // (no copy of the original is made: at 2,000 entries that copy cost more than the
    // comparison).
    for ((_, new_token), &i) in wanted.iter().zip(&at) {
        let token = &mut actual.users.get_mut(i)?.user.as_mut()?.token;
        if token.as_ref().map(crate::secret::Token::expose) != Some(*new_token) {
            return None;
        }
        *token = original.users.get(i)?.user.as_ref()?.token.clone();
    }
    if actual != *original {
        return None;
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// Locating the token scalars and planning the splices.
// ---------------------------------------------------------------------------------------

/// A token value slot chosen by an edit: the `token` key and its value node.
struct Slot<'e> {
    user: &'e str,
    new_token: &'e str,
    key: NodeId,
    value: NodeId,
}

/// One splice per token scalar the `wanted` (user, new token) pairs reach.
pub(super) fn plan(
    src: &str,
    doc: &Doc<'_>,
    wanted: &[(&str, &str)],
) -> Result<Vec<Splice>, EditError> {
    let users = path::users(doc, PathRule::Unshared)?;

    let mut slots: Vec<Slot<'_>> = Vec::new();
    for (user, new_token) in wanted {
        let entry = users.entry(doc, user)?;
        let (key, value) = find_token_slot(doc, user, entry)?;
        slots.push(Slot {
            user,
            new_token,
            key,
            value,
        });
    }

    // Several slots may resolve to one anchored scalar; it is edited once.
    let slot_by_value: HashMap<NodeId, usize> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| (s.value, i))
        .collect();
    let mut done: HashSet<NodeId> = HashSet::new();
    let mut splices = Vec::new();
    for slot in &slots {
        let target = resolve_token_target(doc, slot)?;
        check_sharing(doc, slot, target, &slots, &slot_by_value)?;
        if !done.insert(target) {
            continue;
        }
        // The target is itself one of the chosen slots when it is anchored (the sharing
        // check guarantees that); its own key is where a block header search starts.
        let key = slot_by_value
            .get(&target)
            .and_then(|i| slots.get(*i))
            .map_or(slot.key, |s| s.key);
        splices.push(splice_for(src, doc, slot, key, target)?);
    }
    Ok(splices)
}

fn find_token_slot(doc: &Doc<'_>, user: &str, item: NodeId) -> Result<(NodeId, NodeId), EditError> {
    check_path(
        doc,
        PathRule::Unshared,
        item,
        &format!("the users entry of user {user:?}"),
    )?;
    let no_token = |at: NodeId, hint: Option<String>| EditError::NoToken {
        user: user.to_owned(),
        position: doc.position(at),
        hint,
    };
    let user_map = match lookup_merged(doc, item, "user") {
        MergedLookup::Missing => {
            return Err(no_token(item, Some("the entry has no user mapping".into())))
        }
        MergedLookup::Found { value, .. } => value,
        MergedLookup::Duplicate { first, second } => {
            return Err(unsupported(format!(
                "key \"user\" appears twice in the entry of user {user:?} (at {} and {})",
                doc.position(first),
                doc.position(second)
            )))
        }
        MergedLookup::Merged { merge_key, .. } | MergedLookup::Ambiguous { merge_key } => {
            return Err(unsupported(format!(
                "the user mapping of user {user:?} may come from the merge key (<<) at {}",
                doc.position(merge_key)
            )))
        }
    };
    check_path(
        doc,
        PathRule::Unshared,
        user_map,
        &format!("the user mapping of user {user:?}"),
    )?;
    if !doc.is_map(user_map) {
        let hint = format!("its user value is {}", describe(doc, user_map));
        return Err(no_token(user_map, Some(hint)));
    }
    match lookup_merged(doc, user_map, "token") {
        MergedLookup::Found { key, value } => Ok((key, value)),
        MergedLookup::Missing => {
            let has_file = matches!(
                lookup_merged(doc, user_map, "tokenFile"),
                MergedLookup::Found { .. }
            );
            let hint = has_file.then(|| "it only has tokenFile".to_owned());
            Err(no_token(user_map, hint))
        }
        MergedLookup::Duplicate { first, second } => Err(unsupported(format!(
            "key \"token\" appears twice for user {user:?} (at {} and {})",
            doc.position(first),
            doc.position(second)
        ))),
        MergedLookup::Merged { merge_key, .. } => Err(unsupported(format!(
            "token of user {user:?} comes from the merge key (<<) at {}",
            doc.position(merge_key)
        ))),
        MergedLookup::Ambiguous { merge_key } => Err(unsupported(format!(
            "token of user {user:?} may come from the merge key (<<) at {}, \
             which the editor cannot follow",
            doc.position(merge_key)
        ))),
    }
}

fn resolve_token_target(doc: &Doc<'_>, slot: &Slot<'_>) -> Result<NodeId, EditError> {
    let not_scalar = |found| EditError::NotScalar {
        user: slot.user.to_owned(),
        position: doc.position(slot.value),
        found,
    };
    let target = doc.resolve(slot.value).ok_or_else(|| {
        unsupported(format!(
            "token of user {:?} at {} is an alias to an unknown anchor",
            slot.user,
            doc.position(slot.value)
        ))
    })?;
    match doc.node(target)?.kind {
        Kind::Scalar { .. } => Ok(target),
        Kind::Map { .. } => Err(not_scalar("mapping")),
        Kind::Seq { .. } => Err(not_scalar("list")),
        Kind::Alias { .. } => Err(internal("alias resolved to an alias")),
    }
}

/// Editing an anchored scalar changes every alias of it, so that is only allowed when each
/// place the anchor's value appears is a token slot being set to the same new value.
fn check_sharing(
    doc: &Doc<'_>,
    slot: &Slot<'_>,
    target: NodeId,
    slots: &[Slot<'_>],
    slot_by_value: &HashMap<NodeId, usize>,
) -> Result<(), EditError> {
    let anchor = doc.node(target)?.anchor;
    if anchor == 0 {
        return Ok(());
    }
    let label = anchor_label(doc, anchor);
    let shared_err = || {
        unsupported(format!(
            "token of user {:?} at {} is shared through anchor {label} with other keys",
            slot.user,
            doc.position(slot.value)
        ))
    };
    let refs = doc.alias_refs.get(&anchor).map_or(&[][..], Vec::as_slice);
    for &occurrence in std::iter::once(&target).chain(refs) {
        let Some(other) = slot_by_value.get(&occurrence).and_then(|i| slots.get(*i)) else {
            return Err(shared_err());
        };
        if other.new_token != slot.new_token {
            return Err(unsupported(format!(
                "token of user {:?} at {} is shared through anchor {label} with user {:?}, \
                 which is given a different new token",
                slot.user,
                doc.position(slot.value),
                other.user
            )));
        }
    }
    Ok(())
}

fn splice_for(
    src: &str,
    doc: &Doc<'_>,
    slot: &Slot<'_>,
    key: NodeId,
    target: NodeId,
) -> Result<Splice, EditError> {
    let node = doc.node(target)?;
    let Kind::Scalar { style, .. } = node.kind else {
        return Err(internal("token target is not a scalar"));
    };
    let at = node.position;
    let user = slot.user;
    if matches!(node.tag, TagClass::Other | TagClass::Merge) {
        return Err(unsupported(format!(
            "token of user {user:?} at {at} carries an explicit tag other than !!str"
        )));
    }
    let raw = src
        .get(node.start..node.end)
        .ok_or_else(|| internal("scalar span is not on character boundaries"))?;
    let new_token = slot.new_token;
    let (start, end, replacement) = match style {
        ScalarStyle::Plain => {
            if raw.is_empty() {
                return Err(unsupported(format!(
                    "token of user {user:?} at {at} is empty; write a placeholder value first"
                )));
            }
            let text = if is_plain_safe(new_token) {
                new_token.to_owned()
            } else {
                double_quoted(new_token)
            };
            (node.start, node.end, text)
        }
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            let quote = if style == ScalarStyle::SingleQuoted {
                '\''
            } else {
                '"'
            };
            if raw.len() < 2 || !raw.starts_with(quote) || !raw.ends_with(quote) {
                return Err(unsupported(format!(
                    "token of user {user:?} at {at} has a quoted span the editor does not recognise"
                )));
            }
            let text = match single_quoted(new_token) {
                Some(text) if style == ScalarStyle::SingleQuoted => text,
                _ => double_quoted(new_token),
            };
            (node.start, node.end, text)
        }
        ScalarStyle::Literal | ScalarStyle::Folded => {
            if node.in_flow {
                return Err(unsupported(format!(
                    "token of user {user:?} at {at} is a block scalar inside a flow collection"
                )));
            }
            let (start, end, tail) = block_scalar_region(src, doc, key, node).ok_or_else(|| {
                unsupported(format!(
                    "token of user {user:?} at {at} is a block scalar whose extent \
                     the editor cannot determine"
                ))
            })?;
            let mut text = double_quoted(new_token);
            text.push_str(tail);
            (start, end, text)
        }
    };
    Ok(Splice {
        start,
        end,
        text: replacement,
    })
}

/// The parser's span for a block scalar starts at its first content line and may run on
/// over trailing blank lines, so the region is rebuilt from the source: it starts at the
/// `|`/`>` indicator and ends at the line break of the last non-blank content line. The
/// header line's trailing whitespace and comment are returned so they can follow the new
/// scalar; blank lines after the content stay where they are.
fn block_scalar_region<'a>(
    src: &'a str,
    doc: &Doc<'_>,
    key: NodeId,
    node: &Node<'_>,
) -> Option<(usize, usize, &'a str)> {
    let key_end = doc.nodes.get(key)?.end;
    let between = src.get(key_end..node.start)?;
    let indicator = find_block_indicator(between)?.checked_add(key_end)?;

    let after_indicator = src.get(indicator..)?;
    let mut header_end = indicator.checked_add(1)?;
    for c in after_indicator.chars().skip(1).take(2) {
        if matches!(c, '+' | '-' | '1'..='9') {
            header_end = header_end.checked_add(1)?;
        } else {
            break;
        }
    }
    let rest = src.get(header_end..)?;
    let line_len = rest.find(['\r', '\n']).unwrap_or(rest.len());
    let tail = rest.get(..line_len)?;
    let tail_body = tail.trim_start_matches([' ', '\t']);
    let comment_only = tail_body.starts_with('#') && tail_body.len() < tail.len();
    if !tail_body.is_empty() && !comment_only {
        return None;
    }
    let line_end = header_end.checked_add(line_len)?;

    let content = src.get(line_end..node.end.max(line_end))?;
    let Some(last) = content.rfind(|c: char| !matches!(c, ' ' | '\t' | '\r' | '\n')) else {
        return Some((indicator, header_end, ""));
    };
    let from_last = line_end.checked_add(last)?;
    let after = src.get(from_last..)?;
    let content_end = from_last.checked_add(after.find(['\r', '\n']).unwrap_or(after.len()))?;
    // Every non-blank line being removed must be indented like the content, so the region
    // cannot reach into a following comment or key whatever the parser's span says.
    let indent = node.position.column.checked_sub(1)?;
    let removed = src.get(line_end..content_end)?;
    let outdented = removed.split(['\r', '\n']).any(|line| {
        let body = line.trim_start_matches(' ');
        !body.trim_start_matches('\t').is_empty() && line.len().saturating_sub(body.len()) < indent
    });
    if outdented {
        return None;
    }
    Some((indicator, content_end, tail))
}

/// Between the end of the `token` key and the block scalar's content there can only be the
/// `:` indicator, whitespace, line breaks, comments, a tag and an anchor.
fn find_block_indicator(between: &str) -> Option<usize> {
    let mut chars = between.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '|' | '>' => return Some(i),
            ' ' | '\t' | '\r' | '\n' | ':' => {}
            '#' => while chars.next_if(|(_, c)| !matches!(c, '\r' | '\n')).is_some() {},
            '!' | '&' => {
                while chars
                    .next_if(|(_, c)| !matches!(c, ' ' | '\t' | '\r' | '\n'))
                    .is_some()
                {}
            }
            _ => return None,
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// Scalar rendering.
// ---------------------------------------------------------------------------------------

/// The token edit's change to the original's data.
pub(super) fn intend(data: &mut Value, user: &str, new_token: &str) -> Result<(), EditError> {
    loaded_auth(data, user)?.insert("token".into(), Value::String(new_token.to_owned()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::read::yaml_tree::Stream;
    use super::super::proof::prove;
    use super::super::{replace_user_tokens, TokenEdit};
    use super::*;
    use crate::kubeconfig::read::from_tree::data_options;

    /// The planner's proof of token edits alone.
    fn verify(
        src: &str,
        out: &str,
        doc: &Doc<'_>,
        splices: &[Splice],
        wanted: &[(&str, &str)],
    ) -> Result<(), EditError> {
        prove(src, out, doc, splices, &[], "the tokens changed", |data| {
            wanted.iter().try_for_each(|(u, t)| intend(data, u, t))
        })
    }

    fn apply(src: &str, splices: &[Splice]) -> Result<String, EditError> {
        apply_splices(src, splices)
    }

    /// The planner's general path, without the fast path.
    fn replace_general(src: &str, wanted: &[(&str, &str)]) -> Result<String, EditError> {
        let doc = Doc::parse(src, Stream::Comments)?;
        let mut splices = plan(src, &doc, wanted)?;
        splices.sort_by_key(|s| (s.start, s.end));
        let out = apply(src, &splices)?;
        verify(src, &out, &doc, &splices, wanted)?;
        Ok(out)
    }

    /// An entry without `name` is user "", as kubectl and the loader read it: both paths
    /// edit it, alike (a disagreement found by the generated-input property below).
    #[test]
    fn an_unnamed_entry_is_user_empty_on_both_paths() {
        let src = "users:\n- name: u1\n  user:\n    token: a\n- ame: u2\n  user:\n    token: b\n";
        let want = "users:\n- name: u1\n  user:\n    token: a\n- ame: u2\n  user:\n    token: c\n";
        let edit = [TokenEdit {
            user: "",
            new_token: "c",
        }];
        assert_eq!(replace_fast(src, None, &[("", "c")]).as_deref(), Some(want));
        // Flow style: the general editor's answer.
        let flow = "users: [{name: u1, user: {token: a}}, {user: {token: b}}]\n";
        assert!(replace_fast(flow, None, &[("", "c")]).is_none());
        assert_eq!(
            replace_user_tokens(flow, &edit).expect("edits the unnamed entry"),
            "users: [{name: u1, user: {token: a}}, {user: {token: c}}]\n"
        );
        assert_eq!(replace_user_tokens(src, &edit).expect("edits"), want);
    }

    /// A null `name` (`name:`, `name: ~`) is the user named "" too, as kubectl decodes it;
    /// with an unnamed entry beside it, that is a name used twice (a disagreement with
    /// the loader the mutation fuzzer found).
    #[test]
    fn a_null_name_is_user_empty() {
        for null in ["", " ~", " null"] {
            let one = format!("users: [{{name:{null}, user: {{token: a}}}}]\n");
            let out = replace_user_tokens(
                &one,
                &[TokenEdit {
                    user: "",
                    new_token: "c",
                }],
            )
            .unwrap_or_else(|e| panic!("{one}: {e}"));
            assert_eq!(out, one.replace("token: a", "token: c"));
            let two =
                format!("users: [{{name:{null}, user: {{token: a}}}}, {{user: {{token: b}}}}]\n");
            assert!(
                matches!(
                    replace_user_tokens(
                        &two,
                        &[TokenEdit {
                            user: "",
                            new_token: "c"
                        }]
                    ),
                    Err(EditError::DuplicateUser { .. })
                ),
                "{two}"
            );
        }
    }

    #[test]
    fn fast_path_is_taken_and_agrees_with_the_general_editor() {
        let layouts = [
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: CW-SECRET-test-old-1 # c\n- name: v\n  user:\n    token: 'CW-SECRET-test-old-1'\n",
            "users:\r\n  - name: u\r\n    user:\r\n      token: \"CW-SECRET-test-old-1\"\r\n  - name: v\r\n    user: {}\r\n",
        ];
        for src in layouts {
            for new in ["CW-SECRET-test-new-2", "yes", "CW-SECRET-it's", "12345"] {
                let wanted = [("u", new)];
                let fast = replace_fast(src, None, &wanted)
                    .unwrap_or_else(|| panic!("fast path not taken: {src:?} {new:?}"));
                let general = replace_general(src, &wanted).expect("general editor");
                assert_eq!(fast, general, "{src:?} {new:?}");
            }
        }
        // Not provable by the fast path: it steps aside.
        assert!(replace_fast(
            "users:\n- name: u\n  user:\n    token: &a CW-SECRET-test-old-1\n",
            None,
            &[("u", "CW-SECRET-x")]
        )
        .is_none());
        assert!(replace_fast(
            "users:\n- name: u\n  user: {}\n",
            None,
            &[("u", "CW-SECRET-x")]
        )
        .is_none());
    }

    /// The load's reading saves the fast path one reading of the file; a reading of some
    /// other text is caught by the proof, not trusted.
    #[test]
    fn the_loads_reading_gives_the_same_edit_and_a_stale_one_is_refused() {
        let scan = |text: &str| {
            crate::kubeconfig::read::fast::parse_with_token_spans(text)
                .expect("the scanner reads it")
        };
        let wanted = [("alice", NEW), ("bob", NEW2)];
        let (config, spans) = scan(KUBECTL);
        let given = replace_fast(KUBECTL, Some((&config, &spans)), &wanted);
        assert!(given.is_some());
        assert_eq!(given, replace_fast(KUBECTL, None, &wanted));
        let shifted = format!("# one more line\n{KUBECTL}");
        let (config, spans) = scan(&shifted);
        assert_eq!(
            replace_fast(KUBECTL, Some((&config, &spans)), &wanted),
            None
        );
    }

    fn run(src: &str, edits: &[(&str, &str)]) -> Result<String, EditError> {
        let edits: Vec<TokenEdit<'_>> = edits
            .iter()
            .map(|(user, new_token)| TokenEdit { user, new_token })
            .collect();
        replace_user_tokens(src, &edits)
    }

    #[track_caller]
    fn ok(src: &str, edits: &[(&str, &str)]) -> String {
        match run(src, edits) {
            Ok(out) => out,
            Err(e) => panic!("edit failed: {e}"),
        }
    }

    #[track_caller]
    fn err(src: &str, edits: &[(&str, &str)]) -> EditError {
        match run(src, edits) {
            Ok(out) => panic!("edit unexpectedly succeeded:\n{out}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.contains("CW-SECRET"), "token leaked into: {msg}");
                assert!(!msg.contains('\n'), "multi-line message: {msg}");
                for (_, new_token) in edits {
                    assert!(new_token.is_empty() || !msg.contains(new_token), "{msg}");
                }
                e
            }
        }
    }

    #[test]
    fn smoke() {
        let src = "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n";
        assert_eq!(
            ok(src, &[("a", "CW-SECRET-test-new-1")]),
            "users:\n- name: a\n  user:\n    token: CW-SECRET-test-new-1\n"
        );
    }

    fn big_kubeconfig(users: usize) -> String {
        let mut s = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
        let cert = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo".repeat(24);
        for i in 0..users {
            s.push_str(&format!(
                "- name: cluster-{i}\n  cluster:\n    server: https://c{i}.example.invalid\n    certificate-authority-data: {cert}\n"
            ));
        }
        s.push_str("users:\n");
        for i in 0..users {
            s.push_str(&format!(
                "# user {i}\n- name: user-{i}\n  user:\n    token: CW-SECRET-test-old-{i} # rotated\n"
            ));
        }
        s.push_str("current-context: ctx-0\n");
        s
    }

    #[test]
    /// Correctness on a large file; how the cost grows is measured in
    /// `benches/kubeconfig.rs`, not asserted here in seconds.
    fn large_file_with_many_edits() {
        let src = big_kubeconfig(2000);
        assert!(src.len() > 1_900_000, "{}", src.len());
        let names: Vec<String> = (0..700).map(|i| format!("user-{}", i * 2)).collect();
        let tokens: Vec<String> = (0..700)
            .map(|i| format!("CW-SECRET-test-new-{i}"))
            .collect();
        let edits: Vec<TokenEdit<'_>> = names
            .iter()
            .zip(&tokens)
            .map(|(user, new_token)| TokenEdit { user, new_token })
            .collect();
        let out = replace_user_tokens(&src, &edits).expect("edit");
        assert!(out.contains("name: user-2\n  user:\n    token: CW-SECRET-test-new-1 # rotated\n"));
        assert!(out.contains("name: user-3\n  user:\n    token: CW-SECRET-test-old-3 # rotated\n"));
    }

    const NEW: &str = "CW-SECRET-test-new-1";
    const NEW2: &str = "CW-SECRET-test-new-2";

    fn load(text: &str) -> serde_json::Value {
        // An independent oracle: the first document as generic data.
        serde_saphyr::from_str_with_options(text, data_options()).expect("loads")
    }

    /// Independent of the editor's planning: the output's first document must load as the
    /// original data with exactly the given tokens set.
    #[track_caller]
    fn assert_data(src: &str, out: &str, edits: &[(&str, &str)]) {
        let mut expected = load(src);
        for (user, token) in edits {
            let users = expected["users"].as_array_mut().expect("users");
            let entry = users
                .iter_mut()
                .find(|e| e["name"] == *user)
                .expect("user entry");
            entry["user"]["token"] = serde_json::Value::String((*token).to_owned());
        }
        assert_eq!(load(out), expected);
    }

    const KUBECTL: &str = "\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: QUJD
    server: https://api.example.invalid
  name: cw
contexts:
- context:
    cluster: cw
    user: alice
  name: cw
current-context: cw
kind: Config
preferences: {}
users:
- name: alice
  user:
    token: CW-SECRET-test-old-1
- name: bob
  user:
    token: CW-SECRET-test-old-2
";

    #[test]
    fn kubectl_written_file() {
        let out = ok(KUBECTL, &[("alice", NEW)]);
        assert_eq!(
            out,
            KUBECTL.replace("token: CW-SECRET-test-old-1", "token: CW-SECRET-test-new-1")
        );
        assert_data(KUBECTL, &out, &[("alice", NEW)]);
    }

    #[test]
    fn several_users_in_one_call() {
        let out = ok(KUBECTL, &[("bob", NEW2), ("alice", NEW)]);
        let expected = KUBECTL
            .replace("CW-SECRET-test-old-1", NEW)
            .replace("CW-SECRET-test-old-2", NEW2);
        assert_eq!(out, expected);
        // The same edit twice is harmless.
        assert_eq!(
            ok(KUBECTL, &[("bob", NEW2), ("alice", NEW), ("bob", NEW2)]),
            expected
        );
    }

    #[test]
    fn hand_written_with_comments_everywhere() {
        let src = "\
# kubeconfig for the lab
apiVersion: v1 # always v1
kind: Config

users:   # people
  # first entry
  - name: alice   # the admin
    user:
      # the token below is rotated monthly
      token:   CW-SECRET-test-old-1    # rotated 2024-01
      # trailing comment in the mapping

  # second entry
  - name: bob
    user:
      token: # value on the next line
        CW-SECRET-test-old-2
# the end
";
        let out = ok(src, &[("alice", NEW), ("bob", NEW2)]);
        assert_eq!(
            out,
            src.replace("CW-SECRET-test-old-1", NEW)
                .replace("CW-SECRET-test-old-2", NEW2)
        );
        assert_data(src, &out, &[("alice", NEW), ("bob", NEW2)]);
    }

    #[test]
    fn four_space_and_indentless_sequences() {
        let four = "users:\n    -   name: a\n        user:\n            token: CW-SECRET-test-old-1\n            other: x\n";
        assert_eq!(
            ok(four, &[("a", NEW)]),
            four.replace("CW-SECRET-test-old-1", NEW)
        );
        let indentless = "users:\n- user:\n    token: 'CW-SECRET-test-old-1'\n  name: a\n- name: b\n  user: {token: CW-SECRET-test-old-2}\n";
        assert_eq!(
            ok(indentless, &[("a", NEW), ("b", NEW2)]),
            indentless
                .replace("CW-SECRET-test-old-1", NEW)
                .replace("CW-SECRET-test-old-2", NEW2)
        );
    }

    #[test]
    fn flow_style() {
        let src = "users: [{name: a, user: {token: CW-SECRET-test-old-1}}, {\"name\":\"b\",\"user\":{\"token\":\"CW-SECRET-test-old-2\"}}]\n";
        let out = ok(src, &[("a", NEW), ("b", NEW2)]);
        assert_eq!(
            out,
            "users: [{name: a, user: {token: CW-SECRET-test-new-1}}, {\"name\":\"b\",\"user\":{\"token\":\"CW-SECRET-test-new-2\"}}]\n"
        );
        // A value that is not plain-safe inside a flow mapping becomes double-quoted.
        let out = ok(src, &[("a", "CW,SECRET}test")]);
        assert_eq!(
            out,
            "users: [{name: a, user: {token: \"CW,SECRET}test\"}}, {\"name\":\"b\",\"user\":{\"token\":\"CW-SECRET-test-old-2\"}}]\n"
        );
        let multiline =
            "users: [\n  {name: a, user: {\n    token: 'CW-SECRET-test-old-1'\n  }},\n]\n";
        assert_eq!(
            ok(multiline, &[("a", NEW)]),
            "users: [\n  {name: a, user: {\n    token: 'CW-SECRET-test-new-1'\n  }},\n]\n"
        );
    }

    #[test]
    fn quoting_styles_are_kept() {
        let src = "users:\n- name: p\n  user: {token: CW-SECRET-test-old-1}\n- name: s\n  user:\n    token: 'CW-SECRET-test-old-2'\n- name: d\n  user:\n    token: \"CW-SECRET-test-old-3\"\n";
        let out = ok(src, &[("p", NEW), ("s", NEW), ("d", NEW)]);
        assert_eq!(
            out,
            "users:\n- name: p\n  user: {token: CW-SECRET-test-new-1}\n- name: s\n  user:\n    token: 'CW-SECRET-test-new-1'\n- name: d\n  user:\n    token: \"CW-SECRET-test-new-1\"\n"
        );
        // Quote characters in the new value are escaped in the original style.
        let out = ok(src, &[("s", "CW-it's"), ("d", "CW-\"q\"\\")]);
        assert!(out.contains("    token: 'CW-it''s'\n"), "{out}");
        assert!(out.contains("    token: \"CW-\\\"q\\\"\\\\\"\n"), "{out}");
        assert_data(src, &out, &[("s", "CW-it's"), ("d", "CW-\"q\"\\")]);
        // Control characters cannot be single-quoted: the scalar becomes double-quoted.
        let out = ok(src, &[("s", "CW\ttab\u{7f}")]);
        assert!(out.contains("    token: \"CW\\ttab\\x7F\"\n"), "{out}");
        assert_data(src, &out, &[("s", "CW\ttab\u{7f}")]);
        // Multi-line quoted originals are replaced whole.
        let src =
            "users:\n- name: m\n  user:\n    token: \"CW-SECRET-\n      test-old-1\"\n    x: 1\n";
        assert_eq!(
            ok(src, &[("m", NEW)]),
            "users:\n- name: m\n  user:\n    token: \"CW-SECRET-test-new-1\"\n    x: 1\n"
        );
    }

    #[test]
    fn values_unsafe_as_plain_are_double_quoted() {
        let src = "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1 # keep\n";
        for value in [
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "n",
            "true",
            "null",
            "~",
            "123",
            "0x1F",
            "1_000",
            ".inf",
            "1:20",
            "2001-12-14",
            "0o17",
            "-1",
            "+1",
            "=",
            "<<",
            "a b",
            "a: b",
            "#x",
            "-",
            "[x]",
            "*x",
            "&x",
            "!x",
            "%x",
            "@x",
            "`x",
            "a#b",
            "é",
        ] {
            let out = ok(src, &[("a", value)]);
            let expected = format!(
                "users:\n- name: a\n  user:\n    token: {} # keep\n",
                double_quoted(value)
            );
            assert_eq!(out, expected, "value {value:?}");
            assert_data(src, &out, &[("a", value)]);
        }
        for value in [
            "CW-SECRET-test-new-1",
            "abc_DEF.ghi/jkl+mno=",
            "_x",
            "yesno",
            "a~b",
        ] {
            let out = ok(src, &[("a", value)]);
            assert_eq!(
                out,
                format!("users:\n- name: a\n  user:\n    token: {value} # keep\n")
            );
        }
    }

    #[test]
    fn plain_safety_rules() {
        assert!(is_plain_safe("CW-SECRET-test-new-1"));
        assert!(is_plain_safe("Token_with.dots/and+eq="));
        for bad in [
            "",
            "yes",
            "YES",
            "Yes",
            "no",
            "on",
            "Off",
            "y",
            "N",
            "true",
            "False",
            "null",
            "NULL",
            "1",
            "0x1F",
            "1_000",
            "1e3",
            "1:20",
            "2001-12-14",
            ".inf",
            ".nan",
            "-.inf",
            "~",
            "-",
            "a b",
            "a:b",
            "a#b",
            "a,b",
            "a[b",
            "a{b",
            "a}b",
            "a]b",
            "a'b",
            "a\"b",
            "a\\b",
            "a\tb",
            "a\nb",
            "é",
        ] {
            assert!(!is_plain_safe(bad), "{bad:?}");
        }
    }

    #[test]
    fn double_quoting_escapes() {
        assert_eq!(double_quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(double_quoted("\n\r\t\0"), "\"\\n\\r\\t\\0\"");
        assert_eq!(
            double_quoted("\u{1}\u{85}\u{2028}\u{feff}"),
            "\"\\x01\\x85\\u2028\\uFEFF\""
        );
        assert_eq!(double_quoted("é"), "\"é\"");
        assert_eq!(single_quoted("it's"), Some("'it''s'".to_owned()));
        assert_eq!(single_quoted("a\nb"), None);
    }

    #[test]
    fn block_scalars_become_double_quoted_on_the_key_line() {
        let cases = [
            (
                "users:\n- name: a\n  user:\n    token: |\n      CW-SECRET-test-old-1\n    next: x\n",
                "users:\n- name: a\n  user:\n    token: \"CW-SECRET-test-new-1\"\n    next: x\n",
            ),
            (
                "users:\n- name: a\n  user:\n    token: |-\n      CW-SECRET-test-old-1\n\n    # after the block\n    next: x\n",
                "users:\n- name: a\n  user:\n    token: \"CW-SECRET-test-new-1\"\n\n    # after the block\n    next: x\n",
            ),
            (
                "users:\n- name: a\n  user:\n    token: >- # folded\n      CW-SECRET-\n      test-old-1\n- name: b\n",
                "users:\n- name: a\n  user:\n    token: \"CW-SECRET-test-new-1\" # folded\n- name: b\n",
            ),
            (
                "users:\n- name: a\n  user:\n    token: |+2\n      CW-SECRET-test-old-1  \n\n\n",
                "users:\n- name: a\n  user:\n    token: \"CW-SECRET-test-new-1\"\n\n\n",
            ),
            (
                "users:\n- name: a\n  user:\n    token: !!str &t |\n      CW-SECRET-test-old-1",
                "users:\n- name: a\n  user:\n    token: !!str &t \"CW-SECRET-test-new-1\"",
            ),
            (
                "users:\n- name: a\n  user:\n    token: # comment first\n      |\n      CW-SECRET-test-old-1\n",
                "users:\n- name: a\n  user:\n    token: # comment first\n      \"CW-SECRET-test-new-1\"\n",
            ),
            (
                "users:\n- name: a\n  user:\n    token: |\n    next: x\n",
                "users:\n- name: a\n  user:\n    token: \"CW-SECRET-test-new-1\"\n    next: x\n",
            ),
        ];
        for (src, expected) in cases {
            let out = ok(src, &[("a", NEW)]);
            assert_eq!(out, expected, "source {src:?}");
            assert_data(src, &out, &[("a", NEW)]);
        }
    }

    #[test]
    fn block_scalar_with_crlf_keeps_line_endings() {
        let src = "users:\r\n- name: a\r\n  user:\r\n    token: | # hdr\r\n      CW-SECRET-test-old-1\r\n\r\n    # after\r\n    next: x\r\n";
        let out = ok(src, &[("a", NEW)]);
        assert_eq!(
            out,
            "users:\r\n- name: a\r\n  user:\r\n    token: \"CW-SECRET-test-new-1\" # hdr\r\n\r\n    # after\r\n    next: x\r\n"
        );
        assert_data(src, &out, &[("a", NEW)]);
    }

    #[test]
    fn crlf_bom_and_no_trailing_newline() {
        let crlf = KUBECTL.replace('\n', "\r\n");
        assert_eq!(
            ok(&crlf, &[("bob", NEW)]),
            crlf.replace("CW-SECRET-test-old-2", NEW)
        );
        let bom = format!("\u{feff}{KUBECTL}");
        let out = ok(&bom, &[("bob", NEW)]);
        assert_eq!(out, bom.replace("CW-SECRET-test-old-2", NEW));
        assert!(out.starts_with('\u{feff}'));
        let bare = KUBECTL.trim_end_matches('\n');
        assert_eq!(
            ok(bare, &[("bob", NEW)]),
            bare.replace("CW-SECRET-test-old-2", NEW)
        );
    }

    #[test]
    fn multi_document_and_directives() {
        let src = "%YAML 1.2\n---\nusers:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n...\n---\nusers:\n- name: a\n  user:\n    token: CW-SECRET-test-old-2\n";
        assert_eq!(
            ok(src, &[("a", NEW)]),
            src.replacen("CW-SECRET-test-old-1", NEW, 1)
        );
        let src = "---\nusers:\n- name: a\n  user: {token: CW-SECRET-test-old-1}\n---\nnot: [a, kubeconfig\n";
        // A later document that does not parse makes the whole file invalid.
        assert!(matches!(err(src, &[("a", NEW)]), EditError::Parse { .. }));
        let src = "---\nusers:\n- name: a\n  user: {token: CW-SECRET-test-old-1}\n---\n- other: doc # c\n";
        assert_eq!(
            ok(src, &[("a", NEW)]),
            src.replace("CW-SECRET-test-old-1", NEW)
        );
    }

    #[test]
    fn quoted_keys_and_explicit_keys() {
        let src = "'users':\n- \"name\": a\n  \"user\":\n    \"token\": CW-SECRET-test-old-1\n- name: b\n  user:\n    ? token\n    : CW-SECRET-test-old-2\n";
        assert_eq!(
            ok(src, &[("a", NEW), ("b", NEW2)]),
            src.replace("CW-SECRET-test-old-1", NEW)
                .replace("CW-SECRET-test-old-2", NEW2)
        );
    }

    #[test]
    fn alias_keys_and_null_or_empty_tokens() {
        let alias_key = "k: &k token\nusers:\n- name: a\n  user:\n    *k : CW-SECRET-test-old-1\n";
        let out = ok(alias_key, &[("a", NEW)]);
        assert_eq!(out, alias_key.replace("CW-SECRET-test-old-1", NEW));
        assert_data(alias_key, &out, &[("a", NEW)]);
        let null =
            "users:\n- name: a\n  user:\n    token: null\n- name: b\n  user:\n    token: \"\"\n";
        let out = ok(null, &[("a", NEW), ("b", NEW2)]);
        assert_eq!(
            out,
            "users:\n- name: a\n  user:\n    token: CW-SECRET-test-new-1\n- name: b\n  user:\n    token: \"CW-SECRET-test-new-2\"\n"
        );
        assert_data(null, &out, &[("a", NEW), ("b", NEW2)]);
    }

    #[test]
    fn tagged_tokens() {
        let src = "users:\n- name: a\n  user:\n    token: !!str CW-SECRET-test-old-1\n- name: b\n  user:\n    token: ! 'CW-SECRET-test-old-2'\n";
        let out = ok(src, &[("a", NEW), ("b", NEW2)]);
        assert_eq!(
            out,
            "users:\n- name: a\n  user:\n    token: !!str CW-SECRET-test-new-1\n- name: b\n  user:\n    token: ! 'CW-SECRET-test-new-2'\n"
        );
        let custom = "users:\n- name: a\n  user:\n    token: !secret CW-SECRET-test-old-1\n";
        let e = err(custom, &[("a", NEW)]);
        assert!(matches!(e, EditError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("tag"), "{e}");
    }

    #[test]
    fn anchors_and_aliases() {
        let shared = "users:\n- name: a\n  user:\n    token: &t CW-SECRET-test-old-1\n- name: b\n  user:\n    token: *t\n";
        // Both users that share the anchor get the same new value: allowed, edited once.
        let out = ok(shared, &[("a", NEW), ("b", NEW)]);
        assert_eq!(out, shared.replace("CW-SECRET-test-old-1", NEW));
        assert_data(shared, &out, &[("a", NEW), ("b", NEW)]);
        // Editing only one of them would silently change the other.
        for user in ["a", "b"] {
            let e = err(shared, &[(user, NEW)]);
            assert!(matches!(e, EditError::Unsupported { .. }), "{e}");
            assert!(e.to_string().contains("shared through anchor &t"), "{e}");
            assert!(e.to_string().contains(&format!("user \"{user}\"")), "{e}");
        }
        let e = err(shared, &[("a", NEW), ("b", NEW2)]);
        assert!(e.to_string().contains("different new token"), "{e}");

        // Anchor defined on a key that is not a token.
        let other =
            "defaults: &t CW-SECRET-test-old-1\nusers:\n- name: a\n  user:\n    token: *t\n";
        let e = err(other, &[("a", NEW)]);
        assert_eq!(
            e.to_string(),
            "token of user \"a\" at 5:12 is shared through anchor &t with other keys"
        );

        // An anchor nobody refers to is harmless and stays in place.
        let lone = "users:\n- name: a\n  user:\n    token: &t 'CW-SECRET-test-old-1'\n";
        assert_eq!(
            ok(lone, &[("a", NEW)]),
            lone.replace("CW-SECRET-test-old-1", NEW)
        );

        // Shared containers on the path are refused too.
        let entry =
            "users:\n- &e\n  name: a\n  user:\n    token: CW-SECRET-test-old-1\nbackup: *e\n";
        assert!(err(entry, &[("a", NEW)])
            .to_string()
            .contains("shared through anchor &e"));
        let user = "base: &u {token: CW-SECRET-test-old-1}\nusers:\n- name: a\n  user: *u\n";
        assert!(err(user, &[("a", NEW)])
            .to_string()
            .contains("shared through anchor &u"));
        let list = "all: &l\n- name: a\n  user: {token: CW-SECRET-test-old-1}\nusers: *l\n";
        assert!(err(list, &[("a", NEW)])
            .to_string()
            .contains("shared through anchor &l"));
        // Aliases of the name only are fine.
        let name = "nm: &n a\nusers:\n- name: *n\n  user: {token: CW-SECRET-test-old-1}\n";
        assert_eq!(
            ok(name, &[("a", NEW)]),
            name.replace("CW-SECRET-test-old-1", NEW)
        );
    }

    #[test]
    fn merge_keys() {
        let from_merge =
            "base: &b\n  token: CW-SECRET-test-old-1\nusers:\n- name: a\n  user:\n    <<: *b\n";
        let e = err(from_merge, &[("a", NEW)]);
        assert!(
            e.to_string()
                .contains("comes from the merge key (<<) at 6:5"),
            "{e}"
        );
        // kubectl's decoder applies `<<` where it stands: a key after it wins, a key
        // before it loses. The editor edits the one kubectl reads, or refuses.
        let token_of = |text: &str, user: &str| {
            let cfg =
                crate::kubeconfig::load::parse(std::path::Path::new(""), text).expect("loads");
            cfg.users
                .iter()
                .find(|u| u.name == user)
                .and_then(|u| Some(u.user.as_ref()?.token.as_ref()?.expose().to_string()))
        };
        let after = "base: &b\n  token: CW-SECRET-test-old-1\nusers:\n- name: a\n  user:\n    <<: *b\n    token: CW-SECRET-test-old-2\n";
        let out = ok(after, &[("a", NEW)]);
        assert_eq!(out, after.replace("CW-SECRET-test-old-2", NEW));
        assert_eq!(token_of(&out, "a").as_deref(), Some(NEW));
        let before = "base: &b\n  token: CW-SECRET-test-old-1\nusers:\n- name: a\n  user:\n    token: CW-SECRET-test-old-2\n    <<: *b\n";
        assert_eq!(
            token_of(before, "a").as_deref(),
            Some("CW-SECRET-test-old-1")
        );
        let e = err(before, &[("a", NEW)]);
        assert!(
            e.to_string()
                .contains("comes from the merge key (<<) at 7:5"),
            "{e}"
        );
        let between = "b1: &b1 {token: CW-SECRET-test-old-1}\nb2: &b2 {tokenFile: f}\nusers:\n- name: a\n  user:\n    <<: *b1\n    token: CW-SECRET-test-old-2\n    <<: *b2\n";
        let out = ok(between, &[("a", NEW)]);
        assert_eq!(out, between.replace("CW-SECRET-test-old-2", NEW));
        // A name written before a merge that renames the entry: kubectl reads user "b".
        let renamed = "users:\n- name: a\n  <<: {name: b}\n  user: {token: CW-SECRET-test-old-1}\n";
        assert!(matches!(
            err(renamed, &[("a", NEW)]),
            EditError::UserNotFound { .. }
        ));
        let out = ok(renamed, &[("b", NEW)]);
        assert_eq!(token_of(&out, "b").as_deref(), Some(NEW));
        let unrelated = "base: &b\n  client-key-data: QUJD\nusers:\n- name: a\n  user:\n    <<: [*b]\n    token: CW-SECRET-test-old-2\n";
        let out = ok(unrelated, &[("a", NEW)]);
        assert_eq!(out, unrelated.replace("CW-SECRET-test-old-2", NEW));
        assert_data(unrelated, &out, &[("a", NEW)]);
        let merged_name =
            "nm: &n {name: a}\nusers:\n- <<: *n\n  user: {token: CW-SECRET-test-old-1}\n";
        let out = ok(merged_name, &[("a", NEW)]);
        assert_eq!(out, merged_name.replace("CW-SECRET-test-old-1", NEW));
        let merged_users =
            "d: &d {users: [{name: a, user: {token: CW-SECRET-test-old-1}}]}\n<<: *d\n";
        assert!(matches!(
            err(merged_users, &[("a", NEW)]),
            EditError::Unsupported { .. }
        ));
    }

    #[test]
    fn lookup_failures() {
        assert_eq!(
            err(KUBECTL, &[("carol", NEW)]).to_string(),
            "user \"carol\" is not in the users list at 15:1"
        );
        let token_file = "users:\n- name: a\n  user:\n    tokenFile: /var/run/token\n";
        let e = err(token_file, &[("a", NEW)]);
        assert_eq!(
            e.to_string(),
            "user \"a\" at 4:5 has no token key: it only has tokenFile"
        );
        let no_user = "users:\n- name: a\n";
        assert!(matches!(
            err(no_user, &[("a", NEW)]),
            EditError::NoToken { .. }
        ));
        let null_user = "users:\n- name: a\n  user:\n";
        assert!(matches!(
            err(null_user, &[("a", NEW)]),
            EditError::NoToken { .. }
        ));
        let dup = "users:\n- name: a\n  user: {token: CW-SECRET-test-old-1}\n- name: a\n  user: {token: CW-SECRET-test-old-2}\n";
        let e = err(dup, &[("a", NEW)]);
        assert_eq!(
            e.to_string(),
            "user name \"a\" appears more than once in the users list (at 2:3 and 4:3)"
        );
        let mapping = "users:\n- name: a\n  user:\n    token: {value: CW-SECRET-test-old-1}\n";
        assert_eq!(
            err(mapping, &[("a", NEW)]).to_string(),
            "token of user \"a\" at 4:12 is a mapping, not a scalar"
        );
        let list = "users:\n- name: a\n  user:\n    token: [CW-SECRET-test-old-1]\n";
        assert!(matches!(
            err(list, &[("a", NEW)]),
            EditError::NotScalar { found: "list", .. }
        ));
        let empty = "users:\n- name: a\n  user:\n    token:\n";
        assert!(err(empty, &[("a", NEW)]).to_string().contains("is empty"));
        let dup_key = "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1\n    token: CW-SECRET-test-old-2\n";
        assert!(err(dup_key, &[("a", NEW)])
            .to_string()
            .contains("appears twice"));
        assert!(matches!(
            err(KUBECTL, &[("alice", NEW), ("alice", NEW2)]),
            EditError::ConflictingEdits { .. }
        ));
    }

    #[test]
    fn documents_without_users() {
        let cases = [
            ("", "the file contains no yaml document"),
            ("# only a comment\n", "the file contains no yaml document"),
            (
                "- a\n- b\n",
                "the first document at 1:1 is a list, not a mapping",
            ),
            (
                "just text\n",
                "the first document at 1:1 is a scalar, not a mapping",
            ),
            ("apiVersion: v1\n", "the top-level mapping has no users key"),
            ("users:\n", "users at 1:6 is a null value, not a list"),
            ("users: {a: 1}\n", "users at 1:8 is a mapping, not a list"),
        ];
        for (src, reason) in cases {
            let e = err(src, &[("a", NEW)]);
            assert_eq!(
                e.to_string(),
                format!("kubeconfig has no users list: {reason}"),
                "{src:?}"
            );
        }
        assert!(matches!(
            err("users: []\n", &[("a", NEW)]),
            EditError::UserNotFound { .. }
        ));
    }

    #[test]
    fn malformed_yaml_is_a_parse_error() {
        for src in [
            "users: [\n",
            "users:\n- name: a\n  user:\n    token: \"CW-SECRET-test-old-1\n",
            "users:\n- name: a\n user: x\n",
            "a: b: c\n",
            "users:\n  - a\n - b\n",
            "key: *nope\n",
        ] {
            let e = err(src, &[("a", NEW)]);
            assert!(matches!(e, EditError::Parse { .. }), "{src:?}: {e}");
            assert!(
                e.to_string()
                    .starts_with("kubeconfig is not valid yaml at "),
                "{e}"
            );
        }
    }

    #[test]
    fn empty_edit_list_returns_input() {
        assert_eq!(ok("not: [valid", &[]), "not: [valid");
    }

    #[test]
    fn odd_new_tokens_never_panic() {
        for value in [
            "", " ", "\n", "a\r\nb", "\u{0}", "\u{2028}", "'", "\"", "\\", "💥",
        ] {
            let out = ok(KUBECTL, &[("alice", value)]);
            assert_data(KUBECTL, &out, &[("alice", value)]);
            let quoted = "users:\n- name: a\n  user:\n    token: 'CW-SECRET-test-old-1'\n";
            let out = ok(quoted, &[("a", value)]);
            assert_data(quoted, &out, &[("a", value)]);
        }
    }

    fn wanted_a() -> [(&'static str, &'static str); 1] {
        [("a", NEW)]
    }

    #[test]
    fn verification_rejects_a_wrong_splice() {
        let src = KUBECTL;
        let wanted = [("alice", NEW)];
        let doc = Doc::parse(src, Stream::Comments).expect("parse");
        let splices = plan(src, &doc, &wanted).expect("plan");
        let good = apply(src, &splices).expect("apply");
        assert!(verify(src, &good, &doc, &splices, &wanted).is_ok());

        // The text says something else than the splice claims.
        let mut wrong_value = splices.clone();
        if let Some(s) = wrong_value.first_mut() {
            s.text = "CW-SECRET-test-new-9".to_owned();
        }
        let out = apply(src, &wrong_value).expect("apply");
        let e = verify(src, &out, &doc, &splices, &wanted).expect_err("must fail");
        assert!(matches!(e, EditError::Verification { .. }), "{e}");

        // The splice breaks the structure.
        let mut broken = splices.clone();
        if let Some(s) = broken.first_mut() {
            s.text = "x\n  evil: 1".to_owned();
        }
        let out = apply(src, &broken).expect("apply");
        assert!(verify(src, &out, &doc, &broken, &wanted).is_err());

        // A byte outside the splices changed.
        let tampered = good.replace("kind: Config", "kind: Confog");
        assert!(verify(src, &tampered, &doc, &splices, &wanted).is_err());

        // A splice that swallows a comment keeps the structure but must still be caught.
        let commented = "users:\n- name: a\n  user:\n    token: CW-SECRET-test-old-1 # note\n";
        let doc = Doc::parse(commented, Stream::Comments).expect("parse");
        let mut splices = plan(commented, &doc, &wanted_a()).expect("plan");
        if let Some(s) = splices.first_mut() {
            s.end = commented.len() - 1;
        }
        let out = apply(commented, &splices).expect("apply");
        assert_eq!(
            out,
            "users:\n- name: a\n  user:\n    token: CW-SECRET-test-new-1\n"
        );
        let e = verify(commented, &out, &doc, &splices, &wanted_a()).expect_err("must fail");
        assert!(e.to_string().contains("comment"), "{e}");

        // The right bytes, but the wrong user was expected to change.
        let doc = Doc::parse(src, Stream::Comments).expect("parse");
        let splices = plan(src, &doc, &wanted).expect("plan");
        let e = verify(src, &good, &doc, &splices, &[("bob", NEW)]).expect_err("must fail");
        assert!(
            e.to_string()
                .contains("not the original with only the tokens changed"),
            "{e}"
        );
    }

    #[test]
    fn error_messages_are_lowercase_single_line_and_token_free() {
        let sources = [
            "users:\n- name: a\n  user:\n    token: !x CW-SECRET-test-old-1\n",
            "users:\n- name: a\n  user:\n    token: {CW-SECRET-test-old-1: 1}\n",
            "x: &t CW-SECRET-test-old-1\nusers:\n- name: a\n  user:\n    token: *t\n",
            "users:\n- name: a\n  user:\n    token: \"CW-SECRET-test-old-1\n",
            "users:\n- name: CW-SECRET-test-old-1\n",
        ];
        for src in sources {
            for edits in [&[("a", NEW)][..], &[("CW-SECRET-test-old-1", NEW)][..]] {
                if let Err(e) = run(src, edits) {
                    let msg = e.to_string();
                    assert!(!msg.contains(NEW) && !msg.contains('\n'), "{msg}");
                    if edits[0].0 == "a" {
                        assert!(!msg.contains("CW-SECRET"), "{msg}");
                    }
                    let first = msg.chars().next().unwrap_or('x');
                    assert!(first.is_lowercase(), "{msg}");
                }
            }
        }
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;
        use serde_json::{json, Map, Value};

        const NEW_TOKENS: [(&str, bool); 7] = [
            ("CW-SECRET-test-new-1", true),
            ("CW-SECRET-test-new-2", true),
            ("yes", false),
            ("123", false),
            ("CW SECRET test", false),
            ("CW-it's", false),
            ("CW-\"q\"\\", false),
        ];

        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Style {
            Plain,
            Single,
            Double,
            /// Index into `BLOCK_HEADERS`.
            Block(usize),
        }

        /// Header (with `{}` for the indentation step) and whether the value keeps its
        /// final line break (clip) or not (strip).
        const BLOCK_HEADERS: [(&str, bool); 5] = [
            ("|", true),
            ("|-", false),
            (">", true),
            (">-", false),
            ("|{}-", false),
        ];

        #[derive(Debug, Clone)]
        struct User {
            name_style: u8,
            style: Style,
            comment_above: bool,
            inline_comment: bool,
            extra_before: bool,
            extra_after: bool,
            token_file: bool,
            blank_after: bool,
        }

        #[derive(Debug, Clone)]
        struct KubeDoc {
            crlf: bool,
            bom: bool,
            indent: usize,
            indentless: bool,
            flow: bool,
            flow_multiline: bool,
            prefix: u8,
            suffix: u8,
            final_newline: bool,
            users_first: bool,
            users: Vec<User>,
        }

        /// Where a token was written, and what follows the new scalar for block headers.
        #[derive(Debug, Clone)]
        struct TokenLoc {
            start: usize,
            end: usize,
            style: Style,
            tail: String,
        }

        struct Rendered {
            text: String,
            tokens: Vec<Option<TokenLoc>>,
            data: Value,
        }

        fn user_strategy() -> impl Strategy<Value = User> {
            (
                0u8..3,
                prop_oneof![
                    Just(Style::Plain),
                    Just(Style::Single),
                    Just(Style::Double),
                    (0..BLOCK_HEADERS.len()).prop_map(Style::Block),
                ],
                any::<[bool; 6]>(),
                proptest::bool::weighted(0.15),
            )
                .prop_map(|(name_style, style, flags, token_file)| User {
                    name_style,
                    style,
                    comment_above: flags[0],
                    inline_comment: flags[1],
                    extra_before: flags[2],
                    extra_after: flags[3],
                    blank_after: flags[4],
                    token_file,
                })
        }

        fn doc_strategy() -> impl Strategy<Value = KubeDoc> {
            (
                any::<[bool; 8]>(),
                prop_oneof![Just(2usize), Just(4usize)],
                0u8..4,
                0u8..4,
                proptest::collection::vec(user_strategy(), 1..7),
            )
                .prop_map(|(f, indent, prefix, suffix, users)| KubeDoc {
                    crlf: f[0],
                    bom: f[1],
                    indent,
                    indentless: f[2],
                    flow: f[3] && f[4],
                    flow_multiline: f[5],
                    prefix,
                    suffix,
                    final_newline: f[6],
                    users_first: f[7],
                    users,
                })
        }

        struct Writer {
            text: String,
            nl: &'static str,
        }

        impl Writer {
            fn line(&mut self, s: &str) {
                self.text.push_str(s);
                self.text.push_str(self.nl);
            }
            fn push(&mut self, s: &str) {
                self.text.push_str(s);
            }
        }

        fn old_token(i: usize) -> String {
            format!("CW-SECRET-test-old-{i}")
        }

        fn quote_name(i: usize, style: u8) -> String {
            match style {
                0 => format!("u{i}"),
                1 => format!("\"u{i}\""),
                _ => format!("'u{i}'"),
            }
        }

        fn render(doc: &KubeDoc) -> Rendered {
            let mut w = Writer {
                text: String::new(),
                nl: if doc.crlf { "\r\n" } else { "\n" },
            };
            if doc.bom {
                w.push("\u{feff}");
            }
            match doc.prefix {
                1 => w.line("---"),
                2 => {
                    w.line("%YAML 1.2");
                    w.line("---");
                }
                3 => w.line("# leading comment"),
                _ => {}
            }
            let s = doc.indent;
            let dash = if doc.indentless { 0 } else { s };
            let pad = |n: usize| " ".repeat(n);
            let mut tokens = Vec::new();
            let mut users_json = Vec::new();

            let others = |w: &mut Writer| {
                w.line("apiVersion: v1");
                w.line("kind: Config");
                w.line("clusters:");
                w.line(&format!("{}- cluster:", pad(dash)));
                w.line(&format!(
                    "{}server: https://c.example.invalid",
                    pad(dash + 2 + s)
                ));
                w.line(&format!("{}name: c # the only cluster", pad(dash + 2)));
                w.line("preferences: {}");
            };
            if !doc.users_first {
                others(&mut w);
            }
            if doc.flow {
                w.push("users: [");
                for (i, u) in doc.users.iter().enumerate() {
                    if i > 0 {
                        w.push(",");
                    }
                    if doc.flow_multiline {
                        w.push(w.nl);
                        w.push(&pad(s));
                    } else if i > 0 {
                        w.push(" ");
                    }
                    w.push(&format!(
                        "{{name: {}, user: {{",
                        quote_name(i, u.name_style)
                    ));
                    let mut user = Map::new();
                    if u.token_file {
                        w.push(&format!("tokenFile: /t/{i}"));
                        user.insert("tokenFile".into(), json!(format!("/t/{i}")));
                        tokens.push(None);
                    } else {
                        w.push("token: ");
                        let style = match u.style {
                            Style::Block(_) => Style::Double,
                            other => other,
                        };
                        let start = w.text.len();
                        w.push(&written_token(i, style));
                        tokens.push(Some(TokenLoc {
                            start,
                            end: w.text.len(),
                            style,
                            tail: String::new(),
                        }));
                        user.insert("token".into(), json!(old_token(i)));
                    }
                    if u.extra_after {
                        w.push(&format!(", x-extra: v{i}"));
                        user.insert("x-extra".into(), json!(format!("v{i}")));
                    }
                    w.push("}}");
                    users_json.push(json!({"name": format!("u{i}"), "user": user}));
                }
                if doc.flow_multiline {
                    w.push(w.nl);
                }
                w.line("]");
            } else {
                w.line("users: # people");
                for (i, u) in doc.users.iter().enumerate() {
                    if u.comment_above {
                        w.line(&format!("{}# user {i}", pad(dash)));
                    }
                    w.line(&format!(
                        "{}- name: {}",
                        pad(dash),
                        quote_name(i, u.name_style)
                    ));
                    w.line(&format!("{}user:", pad(dash + 2)));
                    let key_pad = pad(dash + 2 + s);
                    let mut user = Map::new();
                    if u.extra_before {
                        w.line(&format!("{key_pad}client-key-data: QUJD"));
                        user.insert("client-key-data".into(), json!("QUJD"));
                    }
                    if u.token_file {
                        w.line(&format!("{key_pad}tokenFile: /t/{i}"));
                        user.insert("tokenFile".into(), json!(format!("/t/{i}")));
                        tokens.push(None);
                    } else {
                        w.push(&format!("{key_pad}token: "));
                        let start = w.text.len();
                        let value = match u.style {
                            Style::Block(b) => {
                                let (header, clip) = BLOCK_HEADERS[b];
                                w.push(&header.replace("{}", &s.to_string()));
                                let tail = if u.inline_comment {
                                    format!(" # header {i}")
                                } else {
                                    String::new()
                                };
                                w.push(&tail);
                                w.push(w.nl);
                                w.push(&format!("{}{}", pad(dash + 2 + 2 * s), old_token(i)));
                                tokens.push(Some(TokenLoc {
                                    start,
                                    end: w.text.len(),
                                    style: u.style,
                                    tail,
                                }));
                                w.push(w.nl);
                                if clip {
                                    format!("{}\n", old_token(i))
                                } else {
                                    old_token(i)
                                }
                            }
                            style => {
                                w.push(&written_token(i, style));
                                tokens.push(Some(TokenLoc {
                                    start,
                                    end: w.text.len(),
                                    style,
                                    tail: String::new(),
                                }));
                                if u.inline_comment {
                                    w.push(" # rotated");
                                }
                                w.push(w.nl);
                                old_token(i)
                            }
                        };
                        user.insert("token".into(), json!(value));
                    }
                    if u.extra_after {
                        w.line(&format!("{key_pad}x-extra: v{i}"));
                        user.insert("x-extra".into(), json!(format!("v{i}")));
                    }
                    if u.blank_after {
                        w.line("");
                    }
                    users_json.push(json!({"name": format!("u{i}"), "user": user}));
                }
            }
            if doc.users_first {
                others(&mut w);
            }
            w.line("current-context: ctx");
            match doc.suffix {
                1 => {
                    w.line("---");
                    w.line("second: doc");
                }
                2 => w.line("..."),
                3 => {
                    w.line("---");
                    w.line("- x");
                    w.line("...");
                    w.line("# trailing");
                }
                _ => {}
            }
            if !doc.final_newline {
                let len = w.text.len() - w.nl.len();
                w.text.truncate(len);
            }
            let data = json!({
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"cluster": {"server": "https://c.example.invalid"}, "name": "c"}],
                "preferences": {},
                "current-context": "ctx",
                "users": users_json,
            });
            Rendered {
                text: w.text,
                tokens,
                data,
            }
        }

        fn written_token(i: usize, style: Style) -> String {
            match style {
                Style::Single => format!("'{}'", old_token(i)),
                Style::Double => format!("\"{}\"", old_token(i)),
                _ => old_token(i),
            }
        }

        fn expected_scalar(loc: &TokenLoc, value: &str, plain_safe: bool) -> String {
            let dq = format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""));
            match loc.style {
                Style::Plain if plain_safe => value.to_owned(),
                Style::Single => format!("'{}'", value.replace('\'', "''")),
                Style::Block(_) => format!("{dq}{}", loc.tail),
                _ => dq,
            }
        }

        fn first_document(text: &str) -> Value {
            let docs: Vec<Value> =
                serde_saphyr::from_multiple_with_options(text, data_options()).expect("loads");
            docs.into_iter().next().expect("one document")
        }

        fn edits_strategy() -> impl Strategy<Value = Vec<(usize, usize)>> {
            proptest::collection::vec((0usize..8, 0..NEW_TOKENS.len()), 1..5)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

            #[test]
            fn generated_kubeconfigs_change_only_token_spans(
                doc in doc_strategy(),
                picks in edits_strategy(),
            ) {
                let rendered = render(&doc);
                prop_assert_eq!(first_document(&rendered.text), rendered.data.clone());

                // Keep the first pick per user, only users that have a token.
                let mut chosen: Vec<(usize, usize)> = Vec::new();
                for (user, token) in picks {
                    let user = user % rendered.tokens.len().max(1);
                    let has_token = rendered.tokens.get(user).is_some_and(Option::is_some);
                    if has_token && !chosen.iter().any(|c| c.0 == user) {
                        chosen.push((user, token));
                    }
                }
                prop_assume!(!chosen.is_empty());
                let names: Vec<String> = chosen.iter().map(|c| format!("u{}", c.0)).collect();
                let edits: Vec<TokenEdit<'_>> = chosen
                    .iter()
                    .zip(&names)
                    .map(|(c, name)| TokenEdit { user: name, new_token: NEW_TOKENS[c.1].0 })
                    .collect();
                let out = replace_user_tokens(&rendered.text, &edits)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;

                let mut locs: Vec<(TokenLoc, usize)> = chosen
                    .iter()
                    .filter_map(|c| Some((rendered.tokens.get(c.0)?.clone()?, c.1)))
                    .collect();
                locs.sort_by_key(|l| l.0.start);
                let mut expected = String::new();
                let mut cursor = 0;
                for (loc, token) in &locs {
                    let (value, plain_safe) = NEW_TOKENS[*token];
                    expected.push_str(&rendered.text[cursor..loc.start]);
                    expected.push_str(&expected_scalar(loc, value, plain_safe));
                    cursor = loc.end;
                }
                expected.push_str(&rendered.text[cursor..]);
                prop_assert_eq!(&out, &expected);

                let mut data = rendered.data.clone();
                for (c, name) in chosen.iter().zip(&names) {
                    let users = data["users"].as_array_mut().expect("users");
                    let entry = users.iter_mut().find(|e| e["name"] == *name).expect("entry");
                    entry["user"]["token"] = json!(NEW_TOKENS[c.1].0);
                }
                prop_assert_eq!(first_document(&out), data);
            }
        }

        const FRAGMENTS: [&str; 34] = [
            "users",
            "name",
            "user",
            "token",
            "tokenFile",
            "a",
            "b",
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
            ">-",
            "<<: ",
            "---\n",
            "...\n",
            "\t",
            "\u{feff}",
            "CW-SECRET-test-old-1",
        ];

        fn arbitrary_input() -> impl Strategy<Value = String> {
            let mutated = (
                doc_strategy(),
                proptest::collection::vec(
                    (any::<usize>(), any::<bool>(), 0..FRAGMENTS.len()),
                    1..3,
                ),
            )
                .prop_map(|(doc, mutations)| {
                    crate::kubeconfig::read::yaml_tree::generated::mutate(
                        render(&doc).text,
                        &mutations,
                        &FRAGMENTS,
                    )
                });
            crate::kubeconfig::read::yaml_tree::generated::arbitrary_input(&FRAGMENTS, mutated)
        }

        fn user_and_token() -> impl Strategy<Value = (String, String)> {
            (
                proptest::sample::select(vec!["u0", "u1", "u2", "u0", "u1", "a", ""]),
                prop_oneof![
                    proptest::sample::select(NEW_TOKENS.iter().map(|t| t.0).collect::<Vec<_>>())
                        .prop_map(str::to_owned),
                    any::<String>(),
                ],
            )
                .prop_map(|(u, t)| (u.to_owned(), t))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_input_never_panics_and_ok_is_verified(
                src in arbitrary_input(),
                raw_edits in proptest::collection::vec(user_and_token(), 1..3),
            ) {
                let edits: Vec<TokenEdit<'_>> = raw_edits
                    .iter()
                    .map(|(user, new_token)| TokenEdit { user, new_token })
                    .collect();
                let Ok(out) = replace_user_tokens(&src, &edits) else {
                    return Ok(());
                };
                if edits.is_empty() {
                    prop_assert_eq!(out, src);
                    return Ok(());
                }
                let old = Doc::parse(&src, Stream::Comments).expect("accepted input parses");
                let new = Doc::parse(&out, Stream::Comments).expect("output parses");
                let (old_end, new_end) = (old.doc_end.expect("end"), new.doc_end.expect("end"));
                prop_assert_eq!(&src[old_end..], &out[new_end..]);
                // Tags kubectl ignores (`users: !!str` over a sequence) are beyond the
                // oracle: such inputs are checked by the rest of this test only.
                let Ok(mut expected) = serde_saphyr::from_str_with_options::<serde_json::Value>(
                    &src[..old_end],
                    data_options(),
                ) else {
                    return Ok(());
                };
                for edit in &edits {
                    let users = expected["users"].as_array_mut().expect("users");
                    let entry = users
                        .iter_mut()
                        // An entry without `name`, or with a null one, is user "" (kubectl).
                        .find(|e| e["name"] == *edit.user || (edit.user.is_empty() && e.get("name").is_none_or(serde_json::Value::is_null)))
                        .expect("entry");
                    entry["user"]["token"] = json!(edit.new_token);
                }
                prop_assert_eq!(load(&out[..new_end]), expected);
            }
        }
    }
}
