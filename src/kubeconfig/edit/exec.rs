//! The exec entry this plugin writes, read back (`exec_of`, `plugin_users`), and the
//! planner's swap of a user's credential between an inline `token:` and that entry
//! (`token store` and `token unstore`).
//!
//! Only the plain layout kubectl itself writes is edited: block mappings, `token: VALUE`
//! on one line, no anchors, aliases or merge keys anywhere in the entry. Anything else is
//! refused with its position. Writing `unstore`'s token back in the style kubectl writes
//! (plain when it can be) makes `store` then `unstore` give back the original bytes
//! whenever the original was written that way.

use std::collections::HashMap;

use serde_json::Value;

use super::super::edit_error::{unsupported, EditError};
use super::super::read::yaml_tree::{Doc, Kind, Lookup, NodeId};
use super::super::text::Splice;
use super::super::text::{double_quoted, scalar};
use super::path::{self, PathRule};
use super::proof::loaded_auth;
use super::Edit;

pub use crate::kubeconfig::model::{is_plugin_program, PLUGIN_COMMAND, PLUGIN_MARKER};
/// The exec entry's `apiVersion`.
pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1";
/// Shown by kubectl when `kubectl-coreweave` is not on PATH.
pub const INSTALL_HINT: &str = "This kubeconfig keeps its CoreWeave token in the OS keyring \
    through kubectl-coreweave. Install it with `kubectl krew install coreweave` \
    (https://github.com/coreweave-community/kubectl-coreweave), or ask for a kubeconfig \
    with an inline token.";

/// The `command` a new exec entry runs: the bare name when `bare` (kubectl then looks it up
/// on its PATH, which GUIs started from a desktop often lack), else this program's absolute
/// path as it was installed ([`installed_path`]), so the entry works without the shell's
/// PATH, once [`crate::safe_program`] finds no one else can replace it. The bare name is
/// the name the plugin is installed under (`kubectl-coreweave`, or `kubectl-cw` for a link
/// of that name), so kubectl finds this very plugin. A path that is not UTF-8 cannot be
/// written into a kubeconfig: the bare name then.
pub fn exec_command(bare: bool) -> Result<String, crate::safe_program::NotWriting> {
    let installed = installed_path();
    let name = installed.as_deref().and_then(bare_name);
    if bare {
        return Ok(name.unwrap_or_else(|| PLUGIN_COMMAND.to_owned()));
    }
    match installed.and_then(|p| p.into_os_string().into_string().ok()) {
        Some(path) => {
            crate::safe_program::check_for_writing(path.as_ref(), "--bare-command")?;
            Ok(path)
        }
        None => Ok(name.unwrap_or_else(|| PLUGIN_COMMAND.to_owned())),
    }
}

/// The file name kubectl's PATH lookup finds the program by (without `.exe` on Windows).
fn bare_name(path: &std::path::Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let name = match name.len().checked_sub(4) {
        Some(cut) if cfg!(windows) && name.get(cut..)?.eq_ignore_ascii_case(".exe") => {
            name.get(..cut)?
        }
        _ => name,
    };
    (!name.is_empty()).then(|| name.to_owned())
}

/// The absolute path this program was started through, not the file it resolves to: kubectl
/// runs a plugin by the path it found on PATH (argv[0]), which for krew is the link
/// `~/.krew/bin/kubectl-coreweave`; resolving it would give krew's versioned store folder,
/// which the next `kubectl krew upgrade` deletes. Started by bare name from a shell, the
/// name is looked up on PATH as kubectl would. A candidate counts only if it leads to this
/// very executable; without one, the executable's own path.
pub fn installed_path() -> Option<std::path::PathBuf> {
    use std::path::{Path, PathBuf};
    let me = std::env::current_exe().ok()?;
    let real = std::fs::canonicalize(&me).ok()?;
    let is_me = |p: &Path| std::fs::canonicalize(p).is_ok_and(|c| c == real);
    let cwd = std::env::current_dir().ok();
    let absolute = |p: &Path| -> Option<PathBuf> {
        // Lexically only (components() drops `.`): a link's own path is what is kept.
        let p: PathBuf = if p.is_absolute() {
            p.components().collect()
        } else {
            cwd.as_ref()?.join(p).components().collect()
        };
        p.is_absolute().then_some(p)
    };
    let on_path = |name: &std::ffi::OsStr| -> Vec<PathBuf> {
        let dirs = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&dirs)
            .filter(|d| !d.as_os_str().is_empty())
            .flat_map(|d| {
                let plain = d.join(name);
                let mut exe = plain.clone().into_os_string();
                exe.push(".exe");
                [plain, PathBuf::from(exe)]
            })
            .collect()
    };
    let argv0 = std::env::args_os().next().map(PathBuf::from);
    let mut candidates = Vec::new();
    if let Some(a) = argv0.filter(|a| !a.as_os_str().is_empty()) {
        if a.components().count() > 1 || a.is_absolute() {
            candidates.push(a);
        } else {
            candidates.extend(on_path(a.as_os_str()));
        }
    }
    candidates.extend(on_path(PLUGIN_COMMAND.as_ref()));
    candidates
        .iter()
        .filter_map(|c| absolute(c))
        .find(|c| is_me(c))
        .or(Some(me))
}

/// How the exec entry lets the plugin prompt (client-go's `interactiveMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractiveMode {
    IfAvailable,
    Never,
}

impl InteractiveMode {
    pub fn as_str(self) -> &'static str {
        match self {
            InteractiveMode::IfAvailable => "IfAvailable",
            InteractiveMode::Never => "Never",
        }
    }
}

pub use crate::kubeconfig::model::ExecKind;

/// What the exec node the editor is about to replace runs, read from its tree by the
/// model's rule ([`crate::kubeconfig::model::Exec::kind`]).
fn classify(doc: &Doc<'_>, exec: NodeId) -> ExecKind {
    let command = found(doc, exec, "command")
        .and_then(|c| doc.scalar_text(c))
        .map(Into::into);
    let args: Option<Vec<Option<_>>> = found(doc, exec, "args")
        .and_then(|a| doc.resolve(a))
        .and_then(|a| match &doc.nodes.get(a)?.kind {
            Kind::Seq { items } => items
                .iter()
                .map(|i| doc.scalar_text(*i).map(|t| Some(t.into())))
                .collect(),
            _ => None,
        });
    crate::kubeconfig::model::Exec { command, args }.kind()
}

/// One splice per swap ([`Edit::TokenToExec`] or [`Edit::ExecToToken`]): the `token:`
/// key and value, or the `exec:` key and mapping, replaced by the other.
pub(super) fn plan(
    src: &str,
    doc: &Doc<'_>,
    swaps: &[&Edit<'_>],
) -> Result<Vec<Splice>, EditError> {
    let entries = user_entries(doc)?;
    let mut splices = Vec::new();
    for swap in swaps {
        splices.push(match **swap {
            Edit::TokenToExec {
                user,
                reference,
                mode,
                command,
            } => to_exec(src, doc, &entries, user, reference, mode, command)?,
            Edit::ExecToToken { user, token } => to_token(doc, &entries, user, token)?,
            _ => continue,
        });
    }
    Ok(splices)
}

fn to_exec(
    src: &str,
    doc: &Doc<'_>,
    entries: &HashMap<&str, NodeId>,
    user: &str,
    reference: &str,
    mode: InteractiveMode,
    command: &str,
) -> Result<Splice, EditError> {
    let user_map = editable_user_map(doc, entries, user)?;
    for key in ["exec", "tokenFile"] {
        if let Some((k, _)) = found_pair(doc, user_map, key) {
            return Err(unsupported(format!(
                "user {user:?} has {key} at {} next to its token; edit it by hand",
                doc.position(k)
            )));
        }
    }
    let Some((key, value)) = found_pair(doc, user_map, "token") else {
        return Err(EditError::NoToken {
            user: user.to_string(),
            position: doc.position(user_map),
            hint: None,
        });
    };
    let value_node = doc.node(value)?;
    if !matches!(value_node.kind, Kind::Scalar { .. }) {
        return Err(unsupported(format!(
            "token of user {user:?} at {} is not a scalar",
            doc.position(value)
        )));
    }
    let start = doc.node(key)?.start;
    let end = value_node.end;
    let (indent, newline) = layout(src, start, end, user, doc, key)?;
    Ok(Splice {
        start,
        end,
        text: exec_text(&indent, newline, reference, mode, command),
    })
}

fn to_token(
    doc: &Doc<'_>,
    entries: &HashMap<&str, NodeId>,
    user: &str,
    token: &str,
) -> Result<Splice, EditError> {
    let user_map = editable_user_map(doc, entries, user)?;
    for key in ["token", "tokenFile"] {
        if let Some((k, _)) = found_pair(doc, user_map, key) {
            return Err(unsupported(format!(
                "user {user:?} has {key} at {} next to its exec entry; edit it by hand",
                doc.position(k)
            )));
        }
    }
    let Some((key, exec)) = found_pair(doc, user_map, "exec") else {
        return Err(unsupported(format!(
            "user {user:?} at {} has no exec entry",
            doc.position(user_map)
        )));
    };
    let node = doc.node(exec)?;
    if node.flow || !doc.is_map(exec) {
        return Err(unsupported(format!(
            "the exec entry of user {user:?} at {} is not a block mapping",
            doc.position(exec)
        )));
    }
    if let ExecKind::Other { command } = classify(doc, exec) {
        return Err(unsupported(format!(
            "the exec entry of user {user:?} at {} runs {command:?}, not `{PLUGIN_COMMAND} token credential`",
            doc.position(exec)
        )));
    }
    Ok(Splice {
        start: doc.node(key)?.start,
        end: node.content_end,
        text: format!("token: {}", scalar(token)),
    })
}

/// [`Edit::TokenToExec`]'s change to the original's data.
pub(super) fn intend_exec(
    data: &mut Value,
    user: &str,
    reference: &str,
    mode: InteractiveMode,
    command: &str,
) -> Result<(), EditError> {
    let auth = loaded_auth(data, user)?;
    auth.remove("token");
    auth.insert("exec".into(), exec_json(reference, mode, command));
    Ok(())
}

/// [`Edit::ExecToToken`]'s change to the original's data.
pub(super) fn intend_token(data: &mut Value, user: &str, token: &str) -> Result<(), EditError> {
    let auth = loaded_auth(data, user)?;
    auth.remove("exec");
    auth.insert("token".into(), Value::String(token.to_string()));
    Ok(())
}

/// The exec mapping in kubectl's key order; the first line continues `token`'s line.
fn exec_text(
    indent: &str,
    newline: &str,
    reference: &str,
    mode: InteractiveMode,
    command: &str,
) -> String {
    let lines = [
        format!("apiVersion: {EXEC_API_VERSION}"),
        "args:".into(),
        "- token".into(),
        "- credential".into(),
        format!("- {reference}"),
        // A constant plain scalar, as kubectl writes such an argument.
        format!("- {PLUGIN_MARKER}"),
        format!("command: {}", scalar(command)),
        format!("installHint: {}", double_quoted(INSTALL_HINT)),
        format!("interactiveMode: {}", mode.as_str()),
        // kubectl names the server in KUBERNETES_EXEC_INFO, and `token credential`
        // serves the item only to the servers it is bound to.
        "provideClusterInfo: true".into(),
    ];
    let mut text = String::from("exec:");
    for line in lines {
        text.push_str(newline);
        text.push_str(indent);
        text.push_str("  ");
        text.push_str(&line);
    }
    text
}

/// The `exec:` mapping that runs this plugin's `token credential REFERENCE`.
pub fn exec_json(reference: &str, mode: InteractiveMode, command: &str) -> Value {
    serde_json::json!({
        "apiVersion": EXEC_API_VERSION,
        "args": ["token", "credential", reference, PLUGIN_MARKER],
        "command": command,
        "installHint": INSTALL_HINT,
        "interactiveMode": mode.as_str(),
        "provideClusterInfo": true,
    })
}

/// The token key's indentation (spaces only) and the line break its line ends with.
fn layout<'s>(
    src: &'s str,
    start: usize,
    end: usize,
    user: &str,
    doc: &Doc<'_>,
    key: NodeId,
) -> Result<(String, &'s str), EditError> {
    let refuse = |why: &str| {
        unsupported(format!(
            "the token of user {user:?} at {} {why}; edit it by hand",
            doc.position(key)
        ))
    };
    let line_start = src
        .get(..start)
        .map_or(0, |s| s.rfind('\n').map_or(0, |i| i + 1));
    let indent = src.get(line_start..start).unwrap_or("");
    if !indent.chars().all(|c| c == ' ') {
        return Err(refuse("does not start its own line"));
    }
    if src.get(start..end).is_none_or(|t| t.contains(['\n', '\r'])) {
        return Err(refuse("spans several lines"));
    }
    let rest = src.get(end..).unwrap_or("");
    let newline = match rest.find('\n') {
        Some(i) if rest.get(..i).is_some_and(|l| l.ends_with('\r')) => "\r\n",
        _ => "\n",
    };
    Ok((indent.to_string(), newline))
}

/// Name → users list item, found as every editor finds them (`yaml_tree::users`); what
/// this editor may change in an entry is checked by [`editable_user_map`].
fn user_entries<'d>(doc: &'d Doc<'_>) -> Result<HashMap<&'d str, NodeId>, EditError> {
    Ok(path::users(doc, PathRule::Unshared)?.by_name().clone())
}

/// The `user` mapping of an entry the editor may change: block style all the way down, no
/// anchors, aliases or merge keys in the entry.
fn editable_user_map(
    doc: &Doc<'_>,
    entries: &HashMap<&str, NodeId>,
    user: &str,
) -> Result<NodeId, EditError> {
    let Some(&item) = entries.get(user) else {
        return Err(EditError::UserNotFound {
            user: user.to_string(),
            users_at: doc.position(doc.root.unwrap_or(0)),
        });
    };
    let refuse = |what: &str, at: NodeId| {
        unsupported(format!(
            "the users entry of user {user:?} at {} {what}; edit it by hand",
            doc.position(at)
        ))
    };
    let node = doc.node(item)?;
    if !matches!(node.kind, Kind::Map { .. }) {
        return Err(refuse("is an alias", item));
    }
    if node.flow || node.in_flow {
        return Err(refuse("is written in flow style", item));
    }
    if doc.anchor_inside(item).is_some() {
        return Err(refuse("holds an anchor", item));
    }
    let end = node.subtree_end;
    for id in item..end {
        let n = doc.node(id)?;
        if matches!(n.kind, Kind::Alias { .. }) {
            return Err(refuse("holds an alias", id));
        }
        if doc.is_map(id) && doc.merge_key(id).is_some() {
            return Err(refuse("holds a merge key (<<)", id));
        }
    }
    let user_map = match doc.lookup(item, "user") {
        Lookup::Found { value, .. } => value,
        Lookup::Missing => return Err(refuse("has no user mapping", item)),
        Lookup::Duplicate { second, .. } => return Err(refuse("has key \"user\" twice", second)),
    };
    let m = doc.node(user_map)?;
    if !doc.is_map(user_map) || m.flow {
        return Err(refuse(
            "has a user value that is not a block mapping",
            user_map,
        ));
    }
    Ok(user_map)
}

fn found_pair(doc: &Doc<'_>, map: NodeId, key: &str) -> Option<(NodeId, NodeId)> {
    match doc.lookup(map, key) {
        Lookup::Found { key, value } => Some((key, value)),
        // A repeated key is caught by the data proof (kubectl keeps the last one; the
        // editor would have changed the first).
        Lookup::Duplicate { first, .. } => doc.pairs(map).into_iter().find(|(k, _)| *k == first),
        Lookup::Missing => None,
    }
}

fn found(doc: &Doc<'_>, map: NodeId, key: &str) -> Option<NodeId> {
    found_pair(doc, map, key).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::super::apply;
    use super::*;

    /// What the loader reads the user's exec entry as (the model, as every command reads it).
    fn exec_of(src: &str, user: &str) -> Result<Option<ExecKind>, String> {
        let config = crate::kubeconfig::load::parse(std::path::Path::new("config"), src)
            .map_err(|e| e.to_string())?;
        Ok(config
            .users
            .iter()
            .find(|u| u.name == user)
            .and_then(|u| u.user.as_ref()?.exec_kind()))
    }

    fn token_to_exec(
        src: &str,
        users: &[&str],
        reference: &str,
        mode: InteractiveMode,
    ) -> Result<String, EditError> {
        let edits: Vec<Edit<'_>> = users
            .iter()
            .map(|user| Edit::TokenToExec {
                user,
                reference,
                mode,
                command: PLUGIN_COMMAND,
            })
            .collect();
        apply(src, &edits)
    }

    #[test]
    fn an_absolute_command_is_written_quoted_and_read_back() {
        #[cfg(windows)]
        const COMMAND: &str = "C:\\Program Files\\kubectl-coreweave.exe";
        #[cfg(windows)]
        const WRITTEN: &str = "command: \"C:\\\\Program Files\\\\kubectl-coreweave.exe\"\n";
        #[cfg(not(windows))]
        const COMMAND: &str = "/opt/my tools: #1/kubectl-coreweave";
        #[cfg(not(windows))]
        const WRITTEN: &str = "command: \"/opt/my tools: #1/kubectl-coreweave\"\n";
        let src = "users:\n- name: a\n  user:\n    token: CW-SECRET-x\n";
        let edits = [Edit::TokenToExec {
            user: "a",
            reference: "a",
            mode: InteractiveMode::Never,
            command: COMMAND,
        }];
        let out = apply(src, &edits).expect("edit");
        assert!(out.contains(WRITTEN), "{out}");
        assert_eq!(
            exec_of(&out, "a").expect("read"),
            Some(ExecKind::Plugin {
                reference: "a".into()
            })
        );
    }

    fn load(text: &str, which: &str) -> Result<Value, EditError> {
        super::super::proof::load_data(text, which)
    }

    fn exec_to_token(src: &str, edits: &[(&str, &str)]) -> Result<String, EditError> {
        let edits: Vec<Edit<'_>> = edits
            .iter()
            .map(|(user, token)| Edit::ExecToToken { user, token })
            .collect();
        apply(src, &edits)
    }

    const SRC: &str = "apiVersion: v1\nkind: Config\n# users follow\nusers:\n- name: a\n  user:\n    token: CW-SECRET-aaaa1111 # note\n    extensions:\n    - name: x\n      extension: {}\n- name: b\n  user:\n    token: CW-SECRET-bbbb2222\ncontexts: []\n";

    #[test]
    fn store_then_unstore_gives_back_the_original_bytes() {
        let stored =
            token_to_exec(SRC, &["a"], "a-ref", InteractiveMode::IfAvailable).expect("stores");
        assert!(!stored.contains("CW-SECRET-aaaa1111"), "{stored}");
        assert!(stored.contains("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"));
        assert!(
            stored.contains("      provideClusterInfo: true # note\n"),
            "{stored}"
        );
        assert!(stored.contains("token: CW-SECRET-bbbb2222"));
        assert_eq!(
            exec_of(&stored, "a").expect("reads"),
            Some(ExecKind::Plugin {
                reference: "a-ref".into()
            })
        );
        let back = exec_to_token(&stored, &[("a", "CW-SECRET-aaaa1111")]).expect("unstores");
        assert_eq!(back, SRC);
    }

    #[test]
    fn crlf_and_deeper_indentation_are_kept() {
        let src = "users:\r\n  - name: a\r\n    user:\r\n        token: \"CW-SECRET-q\"\r\n";
        let stored = token_to_exec(src, &["a"], "r", InteractiveMode::Never).expect("stores");
        assert!(
            stored.contains("        exec:\r\n          apiVersion:"),
            "{stored:?}"
        );
        assert!(stored.contains("interactiveMode: Never\r\n"));
        let back = exec_to_token(&stored, &[("a", "CW-SECRET-q")]).expect("unstores");
        // A quoted token comes back in kubectl's own (plain) style.
        assert_eq!(back, src.replace("\"CW-SECRET-q\"", "CW-SECRET-q"));
    }

    #[test]
    fn layouts_it_cannot_prove_are_refused() {
        for (src, why) in [
            (
                "users:\n- name: a\n  user: {token: t}\n",
                "not a block mapping",
            ),
            ("users:\n- name: a\n  user:\n    token: &x t\n", "anchor"),
            (
                "users:\n- name: a\n  user:\n    token: t\n    exec: {command: x}\n",
                "exec",
            ),
            (
                "users:\n- name: a\n  user:\n    tokenFile: /f\n    token: t\n",
                "tokenFile",
            ),
            (
                "users:\n- name: a\n  user:\n    token: \"a\n      b\"\n",
                "several lines",
            ),
            ("users:\n- name: a\n  user:\n    tokenFile: /f\n", "token"),
        ] {
            let e = token_to_exec(src, &["a"], "r", InteractiveMode::Never)
                .expect_err(src)
                .to_string();
            assert!(e.contains(why), "{src:?}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn another_tools_exec_entry_is_described_and_never_replaced() {
        let src = "users:\n- name: a\n  user:\n    exec:\n      command: aws\n      args: [eks, get-token]\n";
        assert_eq!(
            exec_of(src, "a").expect("reads"),
            Some(ExecKind::Other {
                command: "aws".into()
            })
        );
        let e = exec_to_token(src, &[("a", "t")]).expect_err("not ours");
        assert!(e.to_string().contains("runs \"aws\""), "{e}");
    }

    #[test]
    fn tokens_that_need_quotes_get_them() {
        assert_eq!(scalar("CW-SECRET-abc"), "CW-SECRET-abc");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("12"), "\"12\"");
        assert_eq!(scalar("a b"), "\"a b\"");
        // YAML 1.1 (kubectl's reader) sees booleans and numbers that 1.2 does not.
        for v in ["yes", "on", "n", "1_000", "0b101", "12:30"] {
            assert_eq!(scalar(v), format!("\"{v}\""), "{v}");
        }
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        const BASES: [&str; 4] = [
            SRC_FOR_PROPERTIES,
            "users:\n  - name: a\n    user:\n      token: 'CW-SECRET-q'\n  - name: b\n    user: {}\n",
            "apiVersion: v1\r\nusers:\r\n- name: a\r\n  user:\r\n    token: \"x y\"  # c\r\n",
            "users:\n- user:\n    token: t\n  name: a\n---\nusers: []\n",
        ];
        const SRC_FOR_PROPERTIES: &str = "users:\n- name: a\n  user:\n    token: CW-SECRET-aaaa\n- name: b\n  user:\n    token: CW-SECRET-aaaa\n";
        const FRAGMENTS: [&str; 16] = [
            "\n", " ", "  ", "- ", ": ", "#", "&x ", "*x", "{", "}", "[", "]", "\"", "'", "<<: ",
            "token: ",
        ];

        fn input() -> impl Strategy<Value = String> {
            let mutated = (
                proptest::sample::select(BASES.to_vec()),
                proptest::collection::vec(
                    (any::<usize>(), any::<bool>(), 0..FRAGMENTS.len()),
                    0..3,
                ),
            )
                .prop_map(|(base, mutations)| {
                    crate::kubeconfig::read::yaml_tree::generated::mutate(
                        base.to_string(),
                        &mutations,
                        &FRAGMENTS,
                    )
                });
            crate::kubeconfig::read::yaml_tree::generated::arbitrary_input(&FRAGMENTS, mutated)
        }

        fn token_of(text: &str) -> Option<String> {
            let data = load(crate::kubeconfig::read::document::first_document(text), "x").ok()?;
            data.get("users")?
                .as_array()?
                .iter()
                .find(|u| u.get("name").and_then(Value::as_str) == Some("a"))?
                .get("user")?
                .get("token")?
                .as_str()
                .map(str::to_string)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            /// Any input: no panic; an accepted store gives an exec entry of this plugin,
            /// and unstore with the same token gives back the same data.
            #[test]
            fn store_then_unstore_keeps_the_data(src in input()) {
                let Ok(out) = token_to_exec(&src, &["a"], "ref", InteractiveMode::Never) else {
                    return Ok(());
                };
                prop_assert_eq!(
                    exec_of(&out, "a").expect("reads"),
                    Some(ExecKind::Plugin { reference: "ref".into() })
                );
                let token = token_of(&src).expect("an accepted input has user a's token");
                prop_assert!(token_of(&out).is_none());
                let back = exec_to_token(&out, &[("a", &token)]).expect("unstores");
                prop_assert_eq!(
                    load(crate::kubeconfig::read::document::first_document(&back), "b").expect("loads"),
                    load(crate::kubeconfig::read::document::first_document(&src), "s").expect("loads")
                );
            }
        }
    }

    #[test]
    fn the_plugin_is_recognised_by_its_exact_program_name() {
        let windows = [
            "C:\\Users\\u\\.krew\\bin\\kubectl-coreweave.exe",
            "kubectl-coreweave.exe",
            "KUBECTL-COREWEAVE.EXE",
            "kubectl-Coreweave",
        ];
        for ours in [
            "kubectl-coreweave",
            "/home/u/.krew/bin/kubectl-coreweave",
            "/root/.cargo/bin/kubectl-coreweave",
            "./kubectl-coreweave",
        ] {
            assert!(is_plugin_program(ours), "{ours}");
        }
        for name in windows {
            assert_eq!(is_plugin_program(name), cfg!(windows), "{name}");
        }
        for other in [
            "/tmp/x/kubectl-coreweave.sh",
            "kubectl-coreweave.py",
            "kubectl-coreweave-wrapper",
            "/usr/bin/kubectl-coreweave-evil",
            "/opt/kubectl-coreweave/helper",
            "xkubectl-coreweave",
            "kubectl-coreweave/",
            "kubectl",
            "",
        ] {
            assert!(!is_plugin_program(other), "{other}");
        }
        let src = "users:\n- name: a\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /tmp/x/kubectl-coreweave.sh\n      args: [token, credential, a]\n";
        assert_eq!(
            exec_of(src, "a").expect("reads"),
            Some(ExecKind::Other {
                command: "/tmp/x/kubectl-coreweave.sh".into()
            })
        );
    }
    #[test]
    fn the_marker_makes_an_entry_the_plugins_own_under_any_program_name() {
        let entry = |command: &str, args: &str| {
            format!("users:\n- name: a\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {command}\n      args: {args}\n")
        };
        let ours = Some(ExecKind::Plugin {
            reference: "it".into(),
        });
        // Written now: the marker, whatever the program is called.
        for command in [
            "/home/u/bin/kubectl-cw",
            "kubectl-cw",
            "/opt/x/kubectl-coreweave",
        ] {
            let src = entry(
                command,
                "[token, credential, it, --plugin=kubectl-coreweave]",
            );
            assert_eq!(exec_of(&src, "a").expect("reads"), ours, "{command}");
        }
        // Written before the marker: by the program's name.
        let src = entry(
            "/home/u/.krew/bin/kubectl-coreweave",
            "[token, credential, it]",
        );
        assert_eq!(exec_of(&src, "a").expect("reads"), ours);
        // Not the plugin's: another name without the marker, another marker, more args.
        for (command, args) in [
            ("/home/u/bin/kubectl-cw", "[token, credential, it]"),
            ("kubectl-cw", "[token, credential, it, --plugin=other]"),
            (
                "kubectl-cw",
                "[token, credential, it, --plugin=kubectl-coreweave, x]",
            ),
            (
                "kubectl-cw",
                "[--plugin=kubectl-coreweave, token, credential, it]",
            ),
        ] {
            let src = entry(command, args);
            assert_eq!(
                exec_of(&src, "a").expect("reads"),
                Some(ExecKind::Other {
                    command: command.into()
                }),
                "{command} {args}"
            );
        }
        // What the editor writes carries the marker, and reads back as the plugin's.
        let out = token_to_exec(SRC, &["a"], "it", InteractiveMode::Never).expect("stores");
        assert!(
            out.contains("      - it\n      - --plugin=kubectl-coreweave\n"),
            "{out}"
        );
        let a = exec_json("it", InteractiveMode::Never, "/x/kubectl-cw");
        assert_eq!(a["args"][3], PLUGIN_MARKER);
    }
}
