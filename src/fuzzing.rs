//! The properties the fuzzers check, as plain functions that panic on a violation, so the
//! coverage-guided target in `fuzz/` (`cargo fuzz run editor`) and the bounded mutation
//! run in `tests/fuzz_editor.rs` (part of `cargo test`, hence of CI) check the same thing.
//! Not part of the plugin's interface.

use std::path::Path;

use crate::commands::token::diff::Line;
use crate::kubeconfig::edit::{replace_user_tokens, TokenEdit};
use crate::kubeconfig::load;

const NEW: &str = "CW-SECRET-fuzz-new-token-0001";

/// For any input bytes, editing either fails cleanly or yields a file that parses to the
/// original with exactly the chosen tokens changed and every other line kept.
pub fn editor(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let nowhere = Path::new("");
    let original = load::parse(nowhere, src).ok();
    // Which users to edit: those the loader sees with a token (every other one when the
    // input's length is odd, to vary the choice), or a fixed name when it does not load.
    let mut names: Vec<String> = match &original {
        Some(cfg) => cfg
            .users
            .iter()
            .filter(|u| u.user.as_ref().and_then(|u| u.token.as_ref()).is_some())
            .map(|u| u.name.to_string())
            .collect(),
        None => vec!["u".into()],
    };
    if data.len() % 2 == 1 {
        names = names.into_iter().step_by(2).collect();
    }
    names.dedup();
    let edits: Vec<TokenEdit> = names
        .iter()
        .map(|user| TokenEdit {
            user,
            new_token: NEW,
        })
        .collect();
    let Ok(out) = replace_user_tokens(src, &edits) else {
        return;
    };
    check_edit(src, original, &names, &out);
}

/// The property for one edit: `out` is `src` with the token of each of `names` set to the
/// fuzzing token, and nothing else changed. Panics otherwise.
pub fn check_edit(
    src: &str,
    original: Option<crate::kubeconfig::model::FileConfig>,
    names: &[String],
    out: &str,
) {
    let nowhere = Path::new("");
    if names.is_empty() {
        assert_eq!(out, src, "no edit, yet the text changed");
        return;
    }
    let mut expected = original.expect("an edit succeeded on a file the loader refuses");
    let mut old_tokens = Vec::new();
    for name in names {
        let entry = expected
            .users
            .iter_mut()
            .find(|u| u.name == name)
            .expect("edited user exists");
        let user = entry.user.get_or_insert_with(Default::default);
        old_tokens.extend(user.token.replace(crate::secret::Token::new(NEW)));
    }
    let actual = load::parse(nowhere, out).expect("the edited file does not load");
    assert_eq!(actual, expected, "the edited file means something else");

    // Every other byte kept: what the line diff removed and added must differ only in
    // token characters (and the quoting or block-scalar indicators a restyled scalar
    // drops or gains), comments and keys on those lines included.
    let alphabet: std::collections::HashSet<char> = old_tokens
        .iter()
        .flat_map(|t| t.expose().chars())
        .chain(NEW.chars())
        .collect();
    let skeleton = |text: &str| -> String {
        text.chars()
            .filter(|c| {
                !c.is_whitespace()
                    && !alphabet.contains(c)
                    && !matches!(c, '"' | '\'' | '|' | '>' | '+' | '-' | '\\')
            })
            .collect()
    };
    let (mut removed, mut added) = (String::new(), String::new());
    for line in crate::commands::token::diff::lines(src, out) {
        match line {
            Line::Removed(l) => removed.push_str(&skeleton(l)),
            Line::Added(l) => added.push_str(&skeleton(l)),
            Line::Same(_) => {}
        }
    }
    assert_eq!(removed, added, "more than the token scalars changed");
}
