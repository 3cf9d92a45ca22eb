//! The readers of kubeconfig text, side by side, each for its reason: `document.rs` finds
//! which bytes kubectl reads at all (encoding, first document, where a flow root ends) by
//! scanning, before any parser; `yaml_tree.rs` parses them once into a node tree with byte
//! spans, what the editor plans on and every other reading is checked against;
//! `from_tree.rs` reads that tree with kubectl's rules (serde, with serde-saphyr typing the
//! ambiguous scalars); `fast.rs` is a line scanner for the common layouts, for start-up
//! speed, answering only when sure the tree reads the same. (`mask.rs`'s line scanner
//! stays with the printer: it hides credentials in text that need not parse.)

pub(super) mod document;
pub(crate) mod fast;
pub(super) mod from_tree;
pub(super) mod yaml_tree;
