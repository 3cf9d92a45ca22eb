//! The one format-preserving kubeconfig editor. A change is a list of [`Edit`]s; the file
//! is parsed once into `yaml_tree.rs`'s node tree, each kind of edit plans its splices on
//! that tree (`token.rs`, `extension.rs`, `exec.rs`, `append.rs`, `server.rs`), the splices are applied
//! together, and one proof (`proof.rs`) accepts the result or refuses it: every byte outside
//! the splices kept, the result re-parsed with the original's comments, and its data equal
//! to the original's with exactly the intended changes. Token-only edits and additions of
//! entries to files the line scanner reads whole take its faster, separately proven paths
//! first (`token.rs`, `append_fast.rs`).
//! Why it works this way: docs/editing.md. No error message carries
//! a scalar's value.

mod append;
mod append_fast;
mod exec;
mod extension;
mod path;
mod proof;
mod server;
mod token;

use serde_json::Value;

use super::edit_error::unsupported;
pub use super::edit_error::{EditError, Position};
use super::load::LoadedFile;
use super::model::ByteString;
use super::read::yaml_tree::{Doc, Stream};
use super::text::apply_splices;
pub use append::{new_file, Additions};
pub use exec::{
    exec_command, exec_json, installed_path, is_plugin_program, ExecKind, InteractiveMode,
    EXEC_API_VERSION, INSTALL_HINT, PLUGIN_COMMAND, PLUGIN_MARKER,
};
pub use extension::TokenExtension;

/// One change to a kubeconfig's first document. Its `Debug` leaves out the tokens.
#[derive(Clone, Copy, PartialEq)]
pub enum Edit<'a> {
    /// Replace `users[name == user].user.token` by `new_token` (validated by the caller;
    /// the editor only quotes it correctly).
    Token { user: &'a str, new_token: &'a str },
    /// Set the user's `coreweave.com/token` extension to `record`, adding it if missing.
    Extension {
        user: &'a str,
        record: &'a TokenExtension<'a>,
    },
    /// Replace the user's inline `token:` by an exec entry running this plugin's
    /// `token credential REFERENCE` (`token store`).
    TokenToExec {
        user: &'a str,
        reference: &'a str,
        mode: InteractiveMode,
        /// The exec entry's `command` ([`exec::exec_command`]).
        command: &'a str,
    },
    /// Replace the user's exec entry (one that runs this plugin) by an inline `token:`
    /// (`token unstore`).
    ExecToToken { user: &'a str, token: &'a str },
    /// Add whole list entries and set `current-context` (`kubeconfig import`, `add`).
    Append(&'a Additions),
    /// Replace `clusters[name == cluster].cluster.server` (`kubeconfig add --update`).
    Server { cluster: &'a str, server: &'a str },
}

impl std::fmt::Debug for Edit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = format_args!("<redacted>");
        match self {
            Edit::Token { user, .. } => f
                .debug_struct("Token")
                .field("user", user)
                .field("new_token", &hidden)
                .finish(),
            Edit::ExecToToken { user, .. } => f
                .debug_struct("ExecToToken")
                .field("user", user)
                .field("token", &hidden)
                .finish(),
            Edit::Extension { user, record } => f
                .debug_struct("Extension")
                .field("user", user)
                .field("record", record)
                .finish(),
            Edit::TokenToExec {
                user,
                reference,
                mode,
                command,
            } => f
                .debug_struct("TokenToExec")
                .field("user", user)
                .field("reference", reference)
                .field("mode", mode)
                .field("command", command)
                .finish(),
            Edit::Append(additions) => f.debug_tuple("Append").field(additions).finish(),
            Edit::Server { cluster, server } => f
                .debug_struct("Server")
                .field("cluster", cluster)
                .field("server", server)
                .finish(),
        }
    }
}

impl Edit<'_> {
    /// The user whose credential this edit changes, for the one-edit-per-credential rule.
    fn credential_of(&self) -> Option<&str> {
        match self {
            Edit::Token { user, .. }
            | Edit::TokenToExec { user, .. }
            | Edit::ExecToToken { user, .. } => Some(user),
            Edit::Extension { .. } | Edit::Append(_) | Edit::Server { .. } => None,
        }
    }

    /// What the proof's message calls the change.
    fn describe(&self) -> &'static str {
        match self {
            Edit::Token { .. } => "the tokens changed",
            Edit::Extension { .. } => "the coreweave.com/token extensions set",
            Edit::TokenToExec { .. } | Edit::ExecToToken { .. } => "the credentials swapped",
            Edit::Append(_) => "the new entries added",
            Edit::Server { .. } => "the cluster servers changed",
        }
    }

    /// Makes this edit's change to the original's data, as the proof expects it.
    fn intend(&self, data: &mut Value) -> Result<(), EditError> {
        match *self {
            Edit::Token { user, new_token } => token::intend(data, user, new_token),
            Edit::Extension { user, record } => extension::intend(data, user, record),
            Edit::TokenToExec {
                user,
                reference,
                mode,
                command,
            } => exec::intend_exec(data, user, reference, mode, command),
            Edit::ExecToToken { user, token } => exec::intend_token(data, user, token),
            Edit::Append(additions) => append::intend(data, additions),
            Edit::Server { cluster, server } => server::intend(data, cluster, server),
        }
    }
}

/// `src` with `edits` made, every other byte kept; either all of them or an error.
///
/// Repeated edits are made once. Two different edits of one user's credential are refused,
/// as is a second different extension record for one user. No edits return the input
/// unchanged without parsing it.
pub fn apply(src: &str, edits: &[Edit<'_>]) -> Result<String, EditError> {
    let out = apply_to(src, None, edits)?;
    // The buffer is the result's alone: taken back without a copy.
    String::from_utf8(Vec::from(out.into_bytes()))
        .map_err(|_| super::edit_error::internal("the edited text is not UTF-8"))
}

/// [`apply`] to a file the loader read: it is a kubeconfig already (not read again to
/// check), and the token fast path starts from the line scanner's reading of it, when the
/// scanner read it. A UTF-16 file is refused: the editor writes UTF-8.
/// The result is a [`ByteString`]: the token path proves it by reading it in place, and
/// hands that very buffer to the writer.
pub fn apply_loaded(file: &LoadedFile, edits: &[Edit<'_>]) -> Result<ByteString, EditError> {
    let src = file
        .editable_text()
        .map_err(|e| unsupported(e.to_string()))?;
    apply_to(src, Some(file), edits)
}

fn apply_to(
    src: &str,
    loaded: Option<&LoadedFile>,
    edits: &[Edit<'_>],
) -> Result<ByteString, EditError> {
    let edits = distinct(edits)?;
    if edits.is_empty() {
        return Ok(src.into());
    }
    let scanned = loaded.and_then(|f| Some((&f.config, f.token_spans.as_deref()?)));
    let tokens: Vec<(&str, &str)> = edits
        .iter()
        .filter_map(|e| match e {
            Edit::Token { user, new_token } => Some((*user, *new_token)),
            _ => None,
        })
        .collect();
    if tokens.len() == edits.len() {
        if let Some(out) = token::replace_fast(src, scanned, &tokens) {
            return Ok(out);
        }
    }
    if let [Edit::Append(additions)] = edits.as_slice() {
        let scanned = loaded.and_then(|f| Some((&f.config, f.layout.as_ref()?)));
        if let Some(out) = append_fast::append_fast(src, scanned, additions) {
            return Ok(out);
        }
    }
    if src.trim().is_empty() {
        if let [Edit::Append(additions)] = edits.as_slice() {
            // An empty file is an empty config to kubectl; it gets the whole new layout.
            return Ok(format!("{src}{}", new_file(additions)?).into());
        }
    }
    planned(src, loaded.is_some(), &edits, &tokens).map(ByteString::from)
}

/// The planner's path: `edits` (distinct, not empty; `tokens` the token edits among them)
/// planned on one parse of `src` and proven. `loaded`: the loader read `src` already.
fn planned(
    src: &str,
    loaded: bool,
    edits: &[Edit<'_>],
    tokens: &[(&str, &str)],
) -> Result<String, EditError> {
    let doc = Doc::parse(src, Stream::Comments)?;
    let mut splices = Vec::new();
    // Spans whose comments the plan drops with them: an old extension mapping or exec
    // entry replaced whole. A token scalar holds none.
    let mut replaced = Vec::new();
    if !tokens.is_empty() {
        splices.extend(token::plan(src, &doc, tokens)?);
    }
    let records: Vec<(&str, &TokenExtension<'_>)> = edits
        .iter()
        .filter_map(|e| match e {
            Edit::Extension { user, record } => Some((*user, *record)),
            _ => None,
        })
        .collect();
    if !records.is_empty() {
        let planned = extension::plan(src, &doc, &records)?;
        replaced.extend(planned.iter().map(|s| s.start..s.end));
        splices.extend(planned);
    }
    let swaps: Vec<&Edit<'_>> = edits
        .iter()
        .filter(|e| matches!(e, Edit::TokenToExec { .. } | Edit::ExecToToken { .. }))
        .collect();
    if !swaps.is_empty() {
        let planned = exec::plan(src, &doc, &swaps)?;
        replaced.extend(planned.iter().map(|s| s.start..s.end));
        splices.extend(planned);
    }
    let servers: Vec<(&str, &str)> = edits
        .iter()
        .filter_map(|e| match e {
            Edit::Server { cluster, server } => Some((*cluster, *server)),
            _ => None,
        })
        .collect();
    if !servers.is_empty() {
        splices.extend(server::plan(src, &doc, &servers)?);
    }
    for edit in edits {
        if let Edit::Append(additions) = edit {
            splices.extend(append::plan(src, &doc, additions)?);
        }
    }
    // (After planning, whose refusals say more.)
    if !loaded {
        // Only a kubeconfig is rewritten, and the proof compares with what it means.
        super::load::loadable(std::path::Path::new(""), &doc).map_err(|_| {
            unsupported("the file cannot be loaded as a kubeconfig; nothing was changed".into())
        })?;
    }
    // An insertion at the end of a replaced span goes after the replacement.
    splices.sort_by_key(|s| (s.start, s.end));
    let out = apply_splices(src, &splices)?;

    let mut changes: Vec<&str> = Vec::new();
    for change in edits.iter().map(Edit::describe) {
        if !changes.contains(&change) {
            changes.push(change);
        }
    }
    let changes = changes.join(" and ");
    proof::prove(src, &out, &doc, &splices, &replaced, &changes, |data| {
        edits.iter().try_for_each(|e| e.intend(data))
    })?;
    Ok(out)
}

/// Token edits of `users[].user.token` only: [`apply`] with one [`Edit::Token`] each.
pub fn replace_user_tokens(src: &str, edits: &[TokenEdit<'_>]) -> Result<String, EditError> {
    let edits: Vec<Edit<'_>> = edits
        .iter()
        .map(|e| Edit::Token {
            user: e.user,
            new_token: e.new_token,
        })
        .collect();
    apply(src, &edits)
}

/// Replace `users[name == user].user.token` in the first YAML document with `new_token`.
/// Its `Debug` leaves out the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenEdit<'a> {
    /// The `name` of the entry in the kubeconfig `users` list.
    pub user: &'a str,
    /// The token to store; the caller validates it, the editor only quotes it correctly.
    pub new_token: &'a str,
}

impl std::fmt::Debug for TokenEdit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEdit")
            .field("user", &self.user)
            .field("new_token", &format_args!("<redacted>"))
            .finish()
    }
}

/// The edits without repeats, in their first order; refuses two different changes of one
/// user's credential or extension.
fn distinct<'a>(edits: &[Edit<'a>]) -> Result<Vec<Edit<'a>>, EditError> {
    let mut kept: Vec<Edit<'a>> = Vec::with_capacity(edits.len());
    let mut credential: std::collections::HashMap<&str, usize> = Default::default();
    let mut record: std::collections::HashMap<&str, usize> = Default::default();
    for edit in edits {
        let (seen, user) = match edit {
            Edit::Extension { user, .. } => (&mut record, Some(*user)),
            other => (&mut credential, other.credential_of()),
        };
        let Some(user) = user else {
            if !kept.contains(edit) {
                kept.push(*edit);
            }
            continue;
        };
        match seen.get(user).and_then(|i| kept.get(*i)) {
            Some(prev) if prev == edit => {}
            Some(Edit::Token { .. }) if matches!(edit, Edit::Token { .. }) => {
                return Err(EditError::ConflictingEdits {
                    user: user.to_owned(),
                })
            }
            Some(_) => {
                return Err(unsupported(format!(
                    "user {} is given two different changes of its {}",
                    crate::secret::quoted(user),
                    if matches!(edit, Edit::Extension { .. }) {
                        "coreweave.com/token extension"
                    } else {
                        "credential"
                    }
                )))
            }
            None => {
                seen.insert(user, kept.len());
                kept.push(*edit);
            }
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: TokenExtension<'static> = TokenExtension {
        expires: Some("2027-01-01T00:00:00Z"),
        source: "minted",
        rotated_at: "2026-11-30T00:00:00Z",
    };

    /// Flow style keeps the fast path out, so the planner decides.
    const FLOW: &str = "users: [{name: a, user: {token: CW-SECRET-old-aaaa}}, # a\n  {name: b, user: {token: CW-SECRET-old-bbbb, extensions: [{name: coreweave.com/token, extension: {source: console}}]}}]\n";

    #[test]
    fn kinds_planned_together_equal_the_same_edits_one_after_another() {
        let block = "users:\n- name: a\n  user:\n    token: CW-SECRET-old-aaaa # kept\n- name: b\n  user:\n    token: CW-SECRET-old-bbbb\n";
        for src in [FLOW, block] {
            let token = |user| Edit::Token {
                user,
                new_token: "CW-SECRET-new-1234",
            };
            let record = |user| Edit::Extension {
                user,
                record: &RECORD,
            };
            let together = apply(src, &[token("a"), record("a"), record("b"), token("b")])
                .expect("plans together");
            let mut one_by_one = src.to_owned();
            for edit in [token("a"), token("b"), record("a"), record("b")] {
                one_by_one = apply(&one_by_one, &[edit]).expect("plans alone");
            }
            assert_eq!(together, one_by_one, "{src}");
            assert!(together.contains("# kept") || together.contains("# a"));
        }
    }

    #[test]
    fn two_different_changes_of_one_credential_are_refused_and_repeats_made_once() {
        let token = |new_token| Edit::Token {
            user: "a",
            new_token,
        };
        assert!(matches!(
            apply(
                FLOW,
                &[token("CW-SECRET-new-1111"), token("CW-SECRET-new-2222")]
            ),
            Err(EditError::ConflictingEdits { .. })
        ));
        let swap = Edit::TokenToExec {
            user: "a",
            reference: "r",
            mode: InteractiveMode::Never,
            command: PLUGIN_COMMAND,
        };
        let e = apply(FLOW, &[token("CW-SECRET-new-1111"), swap]).expect_err("two changes");
        assert!(e.to_string().contains("two different changes"), "{e}");
        let other = TokenExtension {
            source: "console",
            ..RECORD
        };
        let e = apply(
            FLOW,
            &[
                Edit::Extension {
                    user: "a",
                    record: &RECORD,
                },
                Edit::Extension {
                    user: "a",
                    record: &other,
                },
            ],
        )
        .expect_err("two records");
        assert!(e.to_string().contains("extension"), "{e}");
        assert_eq!(
            apply(
                FLOW,
                &[token("CW-SECRET-new-1111"), token("CW-SECRET-new-1111")]
            )
            .expect("a repeat is harmless"),
            apply(FLOW, &[token("CW-SECRET-new-1111")]).expect("once")
        );
        assert_eq!(apply(FLOW, &[]).expect("nothing"), FLOW);
    }

    /// The proof lets a comment go only inside a span the plan replaces whole.
    #[test]
    fn a_comment_may_go_only_with_a_replaced_span() {
        let src = "users:\n- name: a\n  user:\n    token: CW-SECRET-old-aaaa # note\n    extensions:\n    - name: coreweave.com/token\n      extension:\n        source: console # old\n        rotatedAt: \"2026-01-01T00:00:00Z\"\n";
        let out = apply(
            src,
            &[Edit::Extension {
                user: "a",
                record: &RECORD,
            }],
        )
        .expect("replaces the old record and its comment");
        assert!(!out.contains("# old"), "{out}");
        let doc = Doc::parse(src, Stream::Comments).expect("parses");
        let at = src.find("CW-SECRET-old-aaaa").expect("token");
        // A token splice that swallows the comment after it: the data agree.
        let greedy = [super::super::text::Splice {
            start: at,
            end: src.find(" # note\n").expect("comment") + " # note".len(),
            text: "CW-SECRET-new-1234".to_owned(),
        }];
        let swallowed = apply_splices(src, &greedy).expect("applies");
        let intend = |data: &mut Value| token::intend(data, "a", "CW-SECRET-new-1234");
        let e = proof::prove(
            src,
            &swallowed,
            &doc,
            &greedy,
            &[],
            "the tokens changed",
            intend,
        )
        .expect_err("a comment went");
        assert!(e.to_string().contains("comments"), "{e}");
    }
}
