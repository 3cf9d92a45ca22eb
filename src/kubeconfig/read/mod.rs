//! The readers of kubeconfig text, side by side, each for its own reason:
//! - `document.rs`: which bytes kubectl reads at all (encoding, the first document, where a
//!   flow root ends), found by scanning, before any parser runs;
//! - `yaml_tree.rs`: one parse of a file into a node tree with byte spans, the reading every
//!   other one is checked against, and what the editor plans its splices on;
//! - `from_tree.rs`: a serde deserializer over that tree with kubectl's rules, for the model,
//!   the editor's proof data and `import`'s entries (serde-saphyr types ambiguous scalars);
//! - `fast.rs`: a line scanner for the common block layouts, for start-up speed, answering
//!   only when sure the tree would read the same.

pub(super) mod document;
pub(crate) mod fast;
pub(super) mod from_tree;
pub(super) mod yaml_tree;
