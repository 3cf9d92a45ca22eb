//! The proof every format-preserving edit ends with, over the node tree (`yaml_tree.rs`):
//! the result is the original with exactly the planned splices (byte for byte elsewhere),
//! it re-parses, and its first document, loaded as data, equals the original's data with
//! exactly the intended changes made. Each editor calls the checks that fit its cost.

use serde_json::Value;

use super::edit_error::{verification, EditError};
use super::model::{FileConfig, NamedUser};
use super::yaml_tree::{Doc, Splice, Stream};

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

/// The one set of serde-saphyr options every editor's proof loads text with.
pub(crate) fn data_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    // Error text from the loader may quote source lines (and so tokens): only its location
    // is ever reported, and snippets are not rendered at all.
    options.with_snippet = false;
    options.crop_radius = 0;
    // kubectl's loader keeps the last duplicate; either way both texts are loaded alike.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::AsString;
    options.null_as_string = true;
    if let Some(budget) = options.budget.as_mut() {
        // Scale with large kubeconfigs; the parser itself bounds nesting.
        budget.max_events = budget.max_events.max(8_000_000);
        budget.max_nodes = budget.max_nodes.max(8_000_000);
    }
    options
}

pub(super) fn load_data<T: serde::de::DeserializeOwned>(
    text: &str,
    which: &str,
) -> Result<T, EditError> {
    serde_saphyr::from_str_with_options(text, data_options()).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" at {}:{}", l.line(), l.column()))
            .unwrap_or_default();
        verification(format!("the {which} document cannot be loaded as data{at}"))
    })
}

/// Parses the whole edited text and returns where its first document ends; a text that
/// no longer parses fails the proof with its position only.
pub(super) fn first_document_end(text: &str) -> Result<usize, EditError> {
    let doc = Doc::parse(text, Stream::Drop).map_err(|e| match e {
        EditError::Parse { position, .. } => {
            verification(format!("the edited text does not parse at {position}"))
        }
        other => other,
    })?;
    doc.doc_end
        .ok_or_else(|| verification("the edited text has no document"))
}

/// The byte and parse half of the proof for an edit whose result is not compared event by
/// event: `out` is `src` with exactly `splices` (which end inside the first document), it
/// parses, its first document ends where the splices put it, and later documents are
/// byte-identical. Returns the two first documents.
pub(super) fn prove_splices<'t>(
    src: &'t str,
    out: &'t str,
    doc: &Doc<'_>,
    splices: &[Splice],
) -> Result<(&'t str, &'t str), EditError> {
    let src_end = doc
        .doc_end
        .ok_or_else(|| verification("the original first document has no end"))?;
    let expected_end = check_splices(src, out, splices, src_end)?;
    let out_end = first_document_end(out)?;
    if out_end != expected_end {
        return Err(verification(
            "the first document of the edited text does not end where expected",
        ));
    }
    if src.get(src_end..) != out.get(out_end..) {
        return Err(verification("a later document changed"));
    }
    let boundary = || verification("document end is not on a character boundary");
    Ok((
        src.get(..src_end).ok_or_else(boundary)?,
        out.get(..out_end).ok_or_else(boundary)?,
    ))
}

/// The plugin's own loader (the lean one `token show` uses: a few milliseconds on a 2 MB
/// file, where loading it as generic data takes hundreds) reads `out` as `src` with
/// `intend` applied to the data (`changes` names them for the message).
pub(super) fn prove_loaded(
    src: &str,
    out: &str,
    changes: &str,
    intend: impl FnOnce(&mut FileConfig) -> Result<(), EditError>,
) -> Result<(), EditError> {
    let nowhere = std::path::Path::new("");
    let mut expected = super::load::parse(nowhere, src)
        .map_err(|_| verification("the original document cannot be loaded as a kubeconfig"))?;
    let actual = super::load::parse(nowhere, out)
        .map_err(|_| verification("the edited document cannot be loaded as a kubeconfig"))?;
    intend(&mut expected)?;
    if expected != actual {
        return Err(verification(format!(
            "the edited document's data is not the original with only {changes}"
        )));
    }
    Ok(())
}

/// The one loaded user named `user`, which the intended change is made to.
pub(super) fn loaded_user<'c>(
    config: &'c mut FileConfig,
    user: &str,
) -> Result<&'c mut NamedUser, EditError> {
    let mut matching = config.users.iter_mut().filter(|u| u.name == user);
    let entry = matching
        .next()
        .ok_or_else(|| verification(format!("the loaded document has no user {user:?}")))?;
    if matching.next().is_some() {
        return Err(verification(format!(
            "the loaded document has user {user:?} twice"
        )));
    }
    Ok(entry)
}

/// The first documents of `before` and `after`, loaded as generic data with the options
/// above: `after` must be `before` with `intend` applied.
pub(super) fn prove_data(
    before: &str,
    after: &str,
    changes: &str,
    intend: impl FnOnce(&mut Value) -> Result<(), EditError>,
) -> Result<(), EditError> {
    let mut expected: Value = load_data(before, "original")?;
    let actual: Value = load_data(after, "edited")?;
    intend(&mut expected)?;
    if expected != actual {
        return Err(verification(format!(
            "the edited document's data is not the original with only {changes}"
        )));
    }
    Ok(())
}
