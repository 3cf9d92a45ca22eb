//! The proof every format-preserving edit ends with ([`prove`]): the result is the original
//! with exactly the planned splices (byte for byte elsewhere, comments included), it
//! re-parses (once), and its first document, read as data from that tree, equals the
//! original's data (read from the tree the plan was made on) with exactly the intended
//! changes made.

use std::ops::Range;

use serde_json::Value;

use super::super::edit_error::{verification, EditError};
use super::super::read::from_tree::{self, Typing};
use super::super::read::yaml_tree::{Doc, Stream};
use super::super::text::Splice;

/// The byte half of every editor's proof: `out` is `src` with exactly these splices
/// applied, all of them inside the first document (which ends at `doc_end` in `src`), and
/// every other byte kept, in order. Returns where the first document of `out` must end.
pub(super) fn check_splices<'a>(
    src: &str,
    out: &str,
    splices: impl IntoIterator<Item = &'a Splice>,
    doc_end: usize,
) -> Result<usize, EditError> {
    let overflow = || verification("offset overflow");
    let mut src_cursor = 0usize;
    let mut out_cursor = 0usize;
    let mut growth: isize = 0;
    for splice in splices {
        if splice.start < src_cursor || splice.end < splice.start {
            return Err(verification("edits overlap"));
        }
        if splice.end > doc_end {
            return Err(verification("an edit lies outside the first document"));
        }
        let gap = splice.start.saturating_sub(src_cursor);
        let out_gap_end = out_cursor.checked_add(gap).ok_or_else(overflow)?;
        if src.as_bytes().get(src_cursor..splice.start)
            != out.as_bytes().get(out_cursor..out_gap_end)
        {
            return Err(verification("text outside the edits changed"));
        }
        let out_splice_end = out_gap_end
            .checked_add(splice.text.len())
            .ok_or_else(overflow)?;
        if out.as_bytes().get(out_gap_end..out_splice_end) != Some(splice.text.as_bytes()) {
            return Err(verification("an edit has unexpected content"));
        }
        let removed =
            isize::try_from(splice.end.saturating_sub(splice.start)).map_err(|_| overflow())?;
        let added = isize::try_from(splice.text.len()).map_err(|_| overflow())?;
        growth = growth.saturating_add(added).saturating_sub(removed);
        src_cursor = splice.end;
        out_cursor = out_splice_end;
    }
    if src.as_bytes().get(src_cursor..) != out.as_bytes().get(out_cursor..) {
        return Err(verification("text after the last edit changed"));
    }
    doc_end.checked_add_signed(growth).ok_or_else(overflow)
}

/// `text`'s first document as data, read from its tree as kubectl reads it (merge keys
/// applied where they stand, `from_tree.rs`).
pub(super) fn load_data(text: &str, which: &str) -> Result<Value, EditError> {
    let tree = Doc::parse(text, Stream::Drop).map_err(|e| match e {
        EditError::Parse { position, .. } => {
            verification(format!("the {which} document does not parse at {position}"))
        }
        other => other,
    })?;
    data_of(&tree, which)
}

/// A parsed tree's first document as data (`Value::Null` when it is empty).
pub(super) fn data_of(tree: &Doc<'_>, which: &str) -> Result<Value, EditError> {
    let read =
        crate::kubeconfig::load::on_parse_stack(|| from_tree::read::<Value>(tree, Typing::Data))
            .map_err(|_| verification("cannot start the parser"))?;
    read.map(Option::unwrap_or_default).map_err(|e| {
        let at = e.position.map(|p| format!(" at {p}")).unwrap_or_default();
        verification(format!("the {which} document cannot be loaded as data{at}"))
    })
}

/// The one proof every planned edit ends with. `out` is `src` with exactly `splices` (all
/// inside the first document, every other byte kept, in order); it parses; its first
/// document ends where the splices put it and later documents are byte-identical; its
/// comments are the original's, in order, but for those inside `replaced` spans (a splice
/// that swallowed one elsewhere keeps the data, and is caught here); its first document,
/// loaded as data with kubectl's merge-key rule, is the original's with `intend` applied
/// (`changes` names the changes for the message); and the plugin's own loader reads it, as
/// `token show` will. (That it reads the original is the planner's precondition.) `doc` is the original, parsed
/// with its comments.
pub(super) fn prove(
    src: &str,
    out: &str,
    doc: &Doc<'_>,
    splices: &[Splice],
    replaced: &[Range<usize>],
    changes: &str,
    intend: impl FnOnce(&mut Value) -> Result<(), EditError>,
) -> Result<(), EditError> {
    let src_end = doc
        .doc_end
        .ok_or_else(|| verification("the original first document has no end"))?;
    let expected_end = check_splices(src, out, splices, src_end)?;
    let edited = Doc::parse(out, Stream::Comments).map_err(|e| match e {
        EditError::Parse { position, .. } => {
            verification(format!("the edited text does not parse at {position}"))
        }
        other => other,
    })?;
    if edited.doc_end != Some(expected_end) {
        return Err(verification(
            "the first document of the edited text does not end where expected",
        ));
    }
    if src.get(src_end..) != out.get(expected_end..) {
        return Err(verification("a later document changed"));
    }
    let kept = doc
        .comments
        .iter()
        .filter(|(at, _)| !replaced.iter().any(|r| r.contains(at)))
        .map(|(_, text)| text);
    if !kept.eq(edited.comments.iter().map(|(_, text)| text)) {
        return Err(verification(
            "the comments of the edited text differ from the original's",
        ));
    }
    // Both readings come from the trees already parsed: the original's (the one the plan
    // was made on) and the result's (parsed once, above).
    let mut expected = data_of(doc, "original")?;
    let actual = data_of(&edited, "edited")?;
    intend(&mut expected)?;
    if expected != actual {
        return Err(verification(format!(
            "the edited document's data is not the original with only {changes}"
        )));
    }
    super::super::load::loadable(std::path::Path::new(""), &edited)
        .map_err(|_| verification("the edited document cannot be loaded as a kubeconfig"))?;
    Ok(())
}

/// The one `users` entry named `user` in loaded data (an entry without `name`, or with a
/// null one, is the user named "", as kubectl reads it), for an edit's intended change.
pub(super) fn loaded_user<'v>(
    data: &'v mut Value,
    user: &str,
) -> Result<&'v mut serde_json::Map<String, Value>, EditError> {
    let users = data
        .get_mut("users")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| verification("the loaded document has no users list"))?;
    let mut matching = users.iter_mut().filter(|e| match e.get("name") {
        None | Some(Value::Null) => user.is_empty(),
        Some(v) => v.as_str() == Some(user),
    });
    let entry = matching
        .next()
        .ok_or_else(|| verification(format!("the loaded document has no user {user:?}")))?;
    if matching.next().is_some() {
        return Err(verification(format!(
            "the loaded document has user {user:?} twice"
        )));
    }
    entry
        .as_object_mut()
        .ok_or_else(|| verification(format!("user {user:?} is not a mapping")))
}

/// The `user` mapping of the loaded entry named `user`.
pub(super) fn loaded_auth<'v>(
    data: &'v mut Value,
    user: &str,
) -> Result<&'v mut serde_json::Map<String, Value>, EditError> {
    loaded_user(data, user)?
        .get_mut("user")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| verification(format!("user {user:?} has no user mapping")))
}
