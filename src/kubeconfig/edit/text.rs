//! The editor's view of the YAML text writer, which lives in `kubeconfig::text` so that
//! `from_tree.rs` can use it without importing the editor (issue 20 item 2: no import cycles).

pub(super) use super::super::text::*;
