//! Every type here that holds a file's text or a credential has a `Debug` that leaves the
//! secret out: a `{:?}` in an error, a log line or a test failure never prints a token.

use serde_json::json;

use super::edit::{Additions, Edit, TokenEdit};
use super::yaml_tree::{Doc, Splice, Stream};
use super::Kubeconfig;

const OLD: &str = "CW-SECRET-debugOldAb3Cd5Ef7Gh9";
const NEW: &str = "CW-SECRET-debugNewZy8Xw6Vu4Ts2";

fn kubeconfig_text() -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    \
         server: https://k.example\ncontexts:\n- name: c\n  context:\n    cluster: k\n    \
         user: u\nusers:\n- name: u\n  user:\n    token: {OLD}\n    exec:\n      command: x\n      \
         args: [--token={OLD}]\n"
    )
}

fn assert_hidden(what: &str, debug: &str) {
    for secret in [OLD, NEW, "debugOld", "debugNew"] {
        assert!(!debug.contains(secret), "{what} shows {secret}: {debug}");
    }
}

#[test]
fn kubeconfig_and_loaded_file_hide_the_text_and_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config");
    let text = kubeconfig_text();
    std::fs::write(&path, &text).expect("write");
    let kc = Kubeconfig::load(std::slice::from_ref(&path), true).expect("load");
    assert_eq!(kc.files[0].text, text, "the text is there to hide");
    let debug = format!("{kc:?}");
    assert_hidden("Kubeconfig", &debug);
    assert!(debug.contains("config"), "the path is shown: {debug}");
    assert_hidden("LoadedFile", &format!("{:#?}", kc.files[0]));
}

#[test]
fn edits_hide_the_tokens_they_write() {
    let additions = Additions {
        users: vec![json!({"name": "u", "user": {"token": NEW}})],
        ..Additions::default()
    };
    let edits = [
        Edit::Token {
            user: "u",
            new_token: NEW,
        },
        Edit::ExecToToken {
            user: "u",
            token: NEW,
        },
        Edit::Append(&additions),
    ];
    for edit in edits {
        let debug = format!("{edit:?}");
        assert_hidden("Edit", &debug);
        assert!(debug.contains("\"u\""), "the user is shown: {debug}");
    }
    let token_edit = TokenEdit {
        user: "u",
        new_token: NEW,
    };
    assert_hidden("TokenEdit", &format!("{token_edit:?}"));
}

#[test]
fn the_tree_and_its_splices_hide_scalar_text() {
    let text = kubeconfig_text();
    let doc = Doc::parse(&text, Stream::Drop).expect("parse");
    let kinds: Vec<String> = doc.nodes.iter().map(|n| format!("{n:?}")).collect();
    assert!(!kinds.is_empty());
    assert_hidden("Node", &kinds.join("\n"));
    let splice = Splice {
        start: 0,
        end: 3,
        text: NEW.to_string(),
    };
    assert_hidden("Splice", &format!("{splice:?}"));
}
