//! Merge keys (`<<`) as kubectl reads them.
//!
//! kubectl decodes YAML with sigs.k8s.io/yaml, a go-yaml v2 fork, which applies a merge key
//! where it stands: the mapping it names (or, for a list, each mapping from last to
//! first) is written over the keys read so far, and keys after it overwrite it in turn.
//! YAML's own rule (explicit keys always win), which serde-saphyr follows, reads other
//! values. A document whose first document holds a merge key is therefore resolved here,
//! on the node tree, into plain YAML text without anchors, aliases or merge keys, which
//! the usual deserializer then reads with its usual typing rules. Each line of that text
//! holds one node, so an error in it is reported at the node's place in the file.
//!
//! A merge key is a plain, untagged `<<` key, or one tagged `!!merge` (go-yaml's test); a
//! quoted `"<<"` is an ordinary key.

use std::collections::HashMap;

use granit_parser::ScalarStyle;

use super::edit_error::Position;
use super::yaml_tree::{is_merge_key, Doc, Kind, NodeId, Stream, TagClass};

/// Nested collections and aliases followed at once; deeper is refused (a self-referencing
/// anchor ends here too). kubectl's limit, as the deserializer's (`load.rs`).
const MAX_DEPTH: usize = super::load::MAX_DEPTH;

/// The first document with kubectl's merge-key reading applied, as YAML text, and for
/// each line of that text the place in the original of the node on it.
pub(super) struct Resolved {
    pub(super) text: String,
    pub(super) lines: Vec<Position>,
}

/// Why a document with merge keys cannot be read (kubectl refuses these too).
#[derive(Debug)]
pub(super) struct MergeError {
    pub(super) position: Position,
    pub(super) message: &'static str,
}

/// `None` when the first document of `doc_text` has no merge key, or does not parse (the
/// deserializer then reads it, error messages included).
pub(super) fn resolve(doc_text: &str) -> Option<Result<Resolved, MergeError>> {
    if !doc_text.contains("<<") {
        return None;
    }
    let doc = Doc::parse(doc_text, Stream::Drop).ok()?;
    let has_merge = doc.nodes.iter().enumerate().any(|(id, n)| {
        matches!(n.kind, Kind::Map { .. })
            && doc.pairs(id).iter().any(|(k, _)| is_merge_key(&doc, *k))
    });
    if !has_merge {
        return None;
    }
    let root = doc.root?;
    // Aliases may repeat parts of the document; the work allowed grows with the file, and
    // a document that expands far beyond its own size (an alias bomb, which kubectl's
    // decoder refuses as "excessive aliasing") is refused.
    let budget = doc.nodes.len().saturating_mul(16).max(1_000_000);
    let mut e = Emitter {
        doc: &doc,
        text: String::with_capacity(doc_text.len()),
        lines: Vec::new(),
        budget,
        depth: 0,
    };
    e.line(root);
    Some(e.node(root).map(|()| Resolved {
        text: e.text,
        lines: e.lines,
    }))
}

struct Emitter<'d, 's> {
    doc: &'d Doc<'s>,
    text: String,
    lines: Vec<Position>,
    budget: usize,
    depth: usize,
}

impl Emitter<'_, '_> {
    fn fail(&self, at: NodeId, message: &'static str) -> MergeError {
        MergeError {
            position: self.doc.position(at),
            message,
        }
    }

    /// Follows an alias to its anchored node.
    fn target(&self, id: NodeId) -> Result<NodeId, MergeError> {
        self.doc
            .resolve(id)
            .ok_or_else(|| self.fail(id, "alias to an unknown anchor"))
    }

    fn spend(&mut self, at: NodeId) -> Result<(), MergeError> {
        self.budget = self
            .budget
            .checked_sub(1)
            .ok_or_else(|| self.fail(at, "document contains excessive aliasing"))?;
        Ok(())
    }

    fn enter(&mut self, at: NodeId) -> Result<(), MergeError> {
        self.depth = self.depth.saturating_add(1);
        if self.depth > MAX_DEPTH {
            return Err(self.fail(at, "nesting too deep (or an anchor that contains itself)"));
        }
        Ok(())
    }

    fn line(&mut self, at: NodeId) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.lines.push(self.doc.position(at));
    }

    fn node(&mut self, id: NodeId) -> Result<(), MergeError> {
        let target = self.target(id)?;
        self.spend(id)?;
        self.enter(id)?;
        let node = self
            .doc
            .node(target)
            .map_err(|_| self.fail(id, "internal error"))?;
        if let Some(uri) = &node.tag_uri {
            self.text.push_str("!<");
            self.text.push_str(uri);
            self.text.push_str("> ");
        }
        match &node.kind {
            Kind::Scalar { value, style } => {
                let s = scalar(value, *style, node.tag);
                self.text.push_str(&s);
            }
            Kind::Seq { items } => {
                self.text.push('[');
                for (i, &item) in items.iter().enumerate() {
                    if i > 0 {
                        self.text.push(',');
                    }
                    self.line(item);
                    self.node(item)?;
                }
                self.text.push(']');
            }
            Kind::Map { .. } => {
                let entries = self.entries(target)?;
                self.text.push('{');
                for (i, (key, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        self.text.push(',');
                    }
                    self.line(value);
                    let k = self.target(key)?;
                    match &self
                        .doc
                        .node(k)
                        .map_err(|_| self.fail(key, "internal error"))?
                        .kind
                    {
                        Kind::Scalar { value, style } => {
                            let s = scalar(value, *style, self.doc.nodes[k].tag);
                            self.text.push_str(&s);
                        }
                        _ => return Err(self.fail(key, "a mapping key that is not a scalar")),
                    }
                    self.text.push_str(": ");
                    self.node(value)?;
                }
                self.text.push('}');
            }
            Kind::Alias { .. } => return Err(self.fail(id, "alias to an alias")),
        }
        self.depth = self.depth.saturating_sub(1);
        Ok(())
    }

    /// A mapping's entries as go-yaml v2 builds them: in document order, each key (from
    /// the mapping itself or from a merge) overwriting an earlier one of the same name.
    fn entries(&mut self, map: NodeId) -> Result<Vec<(NodeId, NodeId)>, MergeError> {
        self.enter(map)?;
        let mut out: Vec<(NodeId, NodeId)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (key, value) in self.doc.pairs(map) {
            self.spend(key)?;
            if !is_merge_key(self.doc, key) {
                self.set(&mut out, &mut index, key, value)?;
                continue;
            }
            let source = self.target(value)?;
            let wrong = "map merge requires map or sequence of maps as the value";
            match &self
                .doc
                .node(source)
                .map_err(|_| self.fail(value, "internal error"))?
                .kind
            {
                Kind::Map { .. } => {
                    for (k, v) in self.entries(source)? {
                        self.set(&mut out, &mut index, k, v)?;
                    }
                }
                Kind::Seq { items } => {
                    // Earlier mappings of the list take precedence: apply them last.
                    for &item in items.iter().rev() {
                        let m = self.target(item)?;
                        if !self.doc.is_map(m) {
                            return Err(self.fail(item, wrong));
                        }
                        for (k, v) in self.entries(m)? {
                            self.set(&mut out, &mut index, k, v)?;
                        }
                    }
                }
                _ => return Err(self.fail(value, wrong)),
            }
        }
        self.depth = self.depth.saturating_sub(1);
        Ok(out)
    }

    fn set(
        &self,
        out: &mut Vec<(NodeId, NodeId)>,
        index: &mut HashMap<String, usize>,
        key: NodeId,
        value: NodeId,
    ) -> Result<(), MergeError> {
        let Some(name) = self.doc.scalar_text(key) else {
            return Err(self.fail(key, "a mapping key that is not a scalar"));
        };
        match index.get(name) {
            Some(&i) => {
                if let Some(slot) = out.get_mut(i) {
                    *slot = (key, value);
                }
            }
            None => {
                index.insert(name.to_owned(), out.len());
                out.push((key, value));
            }
        }
        Ok(())
    }
}

/// A scalar as flow YAML that the deserializer reads exactly as it reads the original:
/// plain text stays plain (so `123` or `yes` is typed as before), anything else is
/// double-quoted (a string, as quoted, block and `!!str` scalars are).
fn scalar(value: &str, style: ScalarStyle, tag: TagClass) -> String {
    if style == ScalarStyle::Plain && tag == TagClass::None {
        if value.is_empty() {
            return "null".to_owned();
        }
        if flow_plain_safe(value) {
            return value.to_owned();
        }
    }
    super::text::double_quoted(value)
}

/// Text that reads back as the same plain scalar inside a flow collection. What fails this
/// test is never a number, boolean or null in any YAML version, so quoting it keeps its
/// type (a string).
fn flow_plain_safe(v: &str) -> bool {
    let Some(first) = v.chars().next() else {
        return false;
    };
    let starts_ok = match first {
        '-' => v
            .chars()
            .nth(1)
            .is_some_and(|c| c.is_ascii_digit() || c == '.'),
        c => c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '_' | '/' | '~' | '$' | '('),
    };
    starts_ok
        && v.chars().all(|c| {
            (c.is_ascii_graphic() || c == ' ')
                && !matches!(c, ',' | '[' | ']' | '{' | '}' | '#' | '"' | '\'')
        })
        && !v.contains(": ")
        && !v.ends_with([':', ' '])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(doc: &str) -> String {
        match resolve(doc) {
            Some(Ok(r)) => r.text,
            Some(Err(e)) => panic!("{}: {}", e.position, e.message),
            None => panic!("no merge key found"),
        }
    }

    #[test]
    fn merge_keys_apply_in_document_order() {
        let before = "b: &b {token: M}\nu:\n  token: E\n  <<: *b\n";
        assert_eq!(text(before), "{\nb: {\ntoken: M},\nu: {\ntoken: M}}");
        let after = "b: &b {token: M}\nu:\n  <<: *b\n  token: E\n";
        assert!(text(after).ends_with("u: {\ntoken: E}}"));
        let list = "a: &a {t: A}\nb: &b {t: B}\nu: {<<: [*a, *b]}\n";
        assert!(text(list).ends_with("u: {\nt: A}}"));
        let two = "a: &a {t: A}\nb: &b {t: B}\nu: {<<: *a, t: X, <<: *b}\n";
        assert!(text(two).ends_with("u: {\nt: B}}"));
        let quoted = "b: &b {t: M}\nu: {t: E, \"<<\": *b}\n";
        assert!(resolve(quoted).is_none());
        let tagged = "b: &b {t: M}\nu: {t: E, !!merge \"<<\": *b}\n";
        assert!(text(tagged).ends_with("u: {\nt: M}}"));
    }

    /// The block layout the fast path reads: it leaves `<<` to the full parser, which
    /// reads it as kubectl does.
    #[test]
    fn the_loader_reads_merge_keys_as_kubectl_on_every_path() {
        let doc = "users:\n- name: u\n  user:\n    token: explicit\n    <<:\n      token: merged\n";
        assert!(crate::kubeconfig::fast::parse(doc).is_none());
        let cfg = crate::kubeconfig::load::parse(std::path::Path::new(""), doc).expect("loads");
        let token = cfg.users[0].user.as_ref().and_then(|u| u.token.as_deref());
        assert_eq!(token, Some("merged"));
        let err = crate::kubeconfig::load::parse(std::path::Path::new("f"), "u:\n  <<: [x]\n")
            .expect_err("a merge of a scalar is refused");
        assert_eq!(
            err.to_string(),
            "kubeconfig f:2:8: map merge requires map or sequence of maps as the value"
        );
    }

    #[test]
    fn scalars_keep_their_type() {
        let doc = "b: &b {n: 12, s: '12', e: , q: \"a: b\", p: a b}\nu: {<<: *b}\n";
        assert!(text(doc).ends_with("u: {\nn: 12,\ns: \"12\",\ne: ~,\nq: \"a: b\",\np: a b}}"));
    }

    #[test]
    fn bad_merge_values_and_alias_bombs_are_refused() {
        let e = resolve("u: {<<: 5}\n")
            .and_then(Result::err)
            .map(|e| e.message);
        assert_eq!(
            e,
            Some("map merge requires map or sequence of maps as the value")
        );
        let mut bomb = String::from("a0: &a0 {<<: {x: 1}}\n");
        for i in 1..12 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = resolve(&bomb).and_then(Result::err).map(|e| e.message);
        assert_eq!(e, Some("document contains excessive aliasing"));
    }
}
