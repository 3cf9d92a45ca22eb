//! The node tree of a kubeconfig: one granit-parser event pass that builds a light tree of
//! the first document with byte spans (and, for the editor's proof, the comments). Every
//! reading of a file's data comes from it (`from_tree.rs`: the loader's model, the
//! proof's data); the format-preserving editor (`edit/`) plans its splices on it. Also
//! kubectl's key lookup (merge keys included); the users list and the rule for an edited
//! path are the editor's (`edit/path.rs`), the splices the writer's (`text.rs`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{Event, Parser, ScalarStyle, Span, StructureStyle, Tag};

use super::super::edit_error::{internal, EditError, Position};

pub(in crate::kubeconfig) type NodeId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::kubeconfig) enum TagClass {
    None,
    /// `!!str` or the non-specific `!`: the value stays a string whatever it looks like.
    Str,
    /// `!!merge`: with the value `<<`, a merge key however it is quoted (go-yaml's rule).
    Merge,
    Other,
}

/// A node's content. Its `Debug` gives a scalar's length, not its text (it may be a token).
pub(in crate::kubeconfig) enum Kind<'s> {
    Scalar {
        value: Cow<'s, str>,
        style: ScalarStyle,
    },
    Seq {
        items: Vec<NodeId>,
    },
    /// Keys and values alternate.
    Map {
        entries: Vec<NodeId>,
    },
    Alias {
        anchor: usize,
    },
}

impl std::fmt::Debug for Kind<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Scalar { value, style } => f
                .debug_struct("Scalar")
                .field("value", &format_args!("<{} bytes>", value.len()))
                .field("style", style)
                .finish(),
            Kind::Seq { items } => f.debug_struct("Seq").field("items", items).finish(),
            Kind::Map { entries } => f.debug_struct("Map").field("entries", entries).finish(),
            Kind::Alias { anchor } => f.debug_struct("Alias").field("anchor", anchor).finish(),
        }
    }
}

#[derive(Debug)]
pub(in crate::kubeconfig) struct Node<'s> {
    pub(in crate::kubeconfig) kind: Kind<'s>,
    /// Start of the node's text: a scalar or alias, a block collection's first key or item,
    /// a flow collection's opening bracket.
    pub(in crate::kubeconfig) start: usize,
    /// End of the parser's span: a scalar's or alias's text (a block scalar's may run on
    /// over trailing blank lines), a flow collection's opening bracket.
    pub(in crate::kubeconfig) end: usize,
    /// Span of a flow collection's closing bracket.
    pub(in crate::kubeconfig) close: Option<Range<usize>>,
    /// End of the last non-blank text inside a collection (its last key, value or item;
    /// a block scalar counts without the trailing blank lines its span may include).
    pub(in crate::kubeconfig) content_end: usize,
    pub(in crate::kubeconfig) position: Position,
    pub(in crate::kubeconfig) anchor: usize,
    pub(in crate::kubeconfig) tag: TagClass,
    /// The resolved tag (`handle` and `suffix` joined) of a `TagClass::Other` node.
    pub(in crate::kubeconfig) tag_uri: Option<String>,
    /// True when this node itself is a flow collection.
    pub(in crate::kubeconfig) flow: bool,
    /// True when any enclosing collection is a flow collection.
    pub(in crate::kubeconfig) in_flow: bool,
    /// One past the id of the last node inside this one (ids follow document order).
    pub(in crate::kubeconfig) subtree_end: NodeId,
}

/// Nesting kubectl's decoder reads; deeper is "exceeded max depth of 10000".
pub(in crate::kubeconfig) const MAX_DEPTH: usize = 10_000;

/// Whether `Doc::parse` keeps the comments' text, which the editor's proof compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::kubeconfig) enum Stream {
    /// Parse without comments and keep only the tree.
    Drop,
    /// Parse with comments and keep every comment's place and text, in order.
    Comments,
}

pub(in crate::kubeconfig) struct Doc<'s> {
    /// With `Stream::Comments`, the text of every comment of the whole stream, in order.
    pub(in crate::kubeconfig) comments: Vec<(usize, Cow<'s, str>)>,
    pub(in crate::kubeconfig) nodes: Vec<Node<'s>>,
    pub(in crate::kubeconfig) root: Option<NodeId>,
    pub(in crate::kubeconfig) anchor_nodes: HashMap<usize, NodeId>,
    pub(in crate::kubeconfig) anchor_names: HashMap<usize, Cow<'s, str>>,
    /// The aliases that refer to each anchor.
    pub(in crate::kubeconfig) alias_refs: HashMap<usize, Vec<NodeId>>,
    /// Byte offset where the first document ends (after `...` if present).
    pub(in crate::kubeconfig) doc_end: Option<usize>,
}

/// A node about to be added to the tree.
struct NewNode<'s> {
    kind: Kind<'s>,
    range: Range<usize>,
    position: Position,
    anchor: usize,
    tag: TagClass,
    tag_uri: Option<String>,
    flow: bool,
}

/// With `comments`, comments become events so that a comparison sees every one of them.
/// The default buffering limit would then reject long comment blocks in otherwise valid
/// files; the buffer is bounded by the input size anyway.
pub(in crate::kubeconfig) fn parser_options(comments: bool) -> granit_parser::Options {
    let mut options = granit_parser::Options::default();
    options.emit_anchor_events = true;
    // kubectl reads files nested up to 10,000 deep; the parser's default stops at 255.
    // Nothing walks the tree by recursion as deep as the file (`from_tree.rs`).
    options.flow_nesting_limit = MAX_DEPTH;
    options.block_nesting_limit = MAX_DEPTH;
    if comments {
        options.emit_comments = true;
        options.max_buffered_comment_events = 1 << 24;
    } else {
        options.set_emit_comments(false);
    }
    options
}

pub(in crate::kubeconfig) fn marker_position(span: &Span) -> Position {
    Position {
        line: span.start.line(),
        column: span.start.col().saturating_add(1),
    }
}

pub(in crate::kubeconfig) fn parse_error(err: &granit_parser::ScanError) -> EditError {
    let reason = err.kind().to_string().replace(['\r', '\n'], " ");
    EditError::Parse {
        position: Position {
            line: err.marker().line(),
            column: err.marker().col().saturating_add(1),
        },
        reason,
    }
}

pub(in crate::kubeconfig) fn byte_range(span: &Span) -> Result<Range<usize>, EditError> {
    span.byte_range()
        .ok_or_else(|| internal("parser reported no byte offsets"))
}

fn tag_class(tag: Option<&Cow<'_, Tag>>) -> TagClass {
    match tag {
        None => TagClass::None,
        Some(tag) if tag.is_yaml_core_schema_tag("str") || tag.parts() == ("", "!") => {
            TagClass::Str
        }
        Some(tag) if tag.parts() == ("tag:yaml.org,2002:", "merge") => TagClass::Merge,
        Some(_) => TagClass::Other,
    }
}

fn tag_uri(tag: Option<&Cow<'_, Tag>>) -> Option<String> {
    let tag = tag?;
    (tag_class(Some(tag)) == TagClass::Other).then(|| {
        let (handle, suffix) = tag.parts();
        format!("{handle}{suffix}")
    })
}

/// End of a leaf's last non-blank byte; `None` for an empty (implicit) scalar.
fn leaf_end(src: &str, range: &Range<usize>) -> Option<usize> {
    let text = src.get(range.clone())?;
    let trimmed = text.trim_end_matches([' ', '\t', '\r', '\n']);
    if trimmed.is_empty() {
        return None;
    }
    range.start.checked_add(trimmed.len())
}

impl<'s> Doc<'s> {
    /// Reads the whole stream, so that a later document that does not parse is an error,
    /// and builds the tree of the first document.
    pub(in crate::kubeconfig) fn parse(src: &'s str, stream: Stream) -> Result<Self, EditError> {
        let keep = stream == Stream::Comments;
        let mut doc = Doc {
            comments: Vec::new(),
            nodes: Vec::new(),
            root: None,
            anchor_nodes: HashMap::new(),
            anchor_names: HashMap::new(),
            alias_refs: HashMap::new(),
            doc_end: None,
        };
        let mut documents = 0usize;
        let mut building = false;
        let mut stack: Vec<NodeId> = Vec::new();
        for item in Parser::new_from_str_with_options(src, parser_options(keep)) {
            let (event, span) = item.map_err(|e| parse_error(&e))?;
            if let Event::Comment(text, _) = event {
                if keep {
                    doc.comments.push((byte_range(&span)?.start, text));
                }
                continue;
            }
            match &event {
                Event::DocumentStart(..) => {
                    documents = documents.saturating_add(1);
                    building = documents == 1;
                }
                Event::DocumentEnd if building => {
                    building = false;
                    doc.doc_end = Some(byte_range(&span)?.end);
                }
                Event::Anchor(id, name) if building => {
                    doc.anchor_names.insert(*id, name.clone());
                    let end = byte_range(&span)?.end;
                    if let Some(&top) = stack.last() {
                        doc.bump(top, end);
                    }
                }
                Event::Scalar(value, style, anchor, tag) if building => {
                    let range = byte_range(&span)?;
                    let end = leaf_end(src, &range);
                    doc.add_leaf(
                        &stack,
                        NewNode {
                            kind: Kind::Scalar {
                                value: value.clone(),
                                style: *style,
                            },
                            range,
                            position: marker_position(&span),
                            anchor: *anchor,
                            tag: tag_class(tag.as_ref()),
                            tag_uri: tag_uri(tag.as_ref()),
                            flow: false,
                        },
                        end,
                    )?;
                }
                Event::Alias(anchor) if building => {
                    let range = byte_range(&span)?;
                    let end = Some(range.end);
                    let id = doc.add_leaf(
                        &stack,
                        NewNode {
                            kind: Kind::Alias { anchor: *anchor },
                            range,
                            position: marker_position(&span),
                            anchor: 0,
                            tag: TagClass::None,
                            tag_uri: None,
                            flow: false,
                        },
                        end,
                    )?;
                    doc.alias_refs.entry(*anchor).or_default().push(id);
                }
                Event::SequenceStart(style, anchor, tag) if building => {
                    let kind = Kind::Seq { items: Vec::new() };
                    doc.start_collection(&mut stack, kind, &span, *style, *anchor, tag.as_ref())?;
                }
                Event::MappingStart(style, anchor, tag) if building => {
                    let kind = Kind::Map {
                        entries: Vec::new(),
                    };
                    doc.start_collection(&mut stack, kind, &span, *style, *anchor, tag.as_ref())?;
                }
                Event::SequenceEnd | Event::MappingEnd if building => {
                    doc.end_collection(&mut stack, &span)?;
                }
                _ => {}
            }
        }
        Ok(doc)
    }

    /// A sequence or mapping opens: its node, made the parent of what follows.
    fn start_collection(
        &mut self,
        stack: &mut Vec<NodeId>,
        kind: Kind<'s>,
        span: &Span,
        style: StructureStyle,
        anchor: usize,
        tag: Option<&Cow<'_, Tag>>,
    ) -> Result<(), EditError> {
        let id = self.add(
            stack,
            NewNode {
                kind,
                range: byte_range(span)?,
                position: marker_position(span),
                anchor,
                tag: tag_class(tag),
                tag_uri: tag_uri(tag),
                flow: style == StructureStyle::Flow,
            },
        )?;
        stack.push(id);
        Ok(())
    }

    /// The innermost open collection closes: where its subtree and its text end.
    fn end_collection(&mut self, stack: &mut Vec<NodeId>, span: &Span) -> Result<(), EditError> {
        let range = byte_range(span)?;
        let Some(id) = stack.pop() else {
            return Err(internal("collection end without a start"));
        };
        let subtree_end = self.nodes.len();
        let node = self
            .nodes
            .get_mut(id)
            .ok_or_else(|| internal("node id out of range"))?;
        node.subtree_end = subtree_end;
        let outer_end = if node.flow {
            node.close = Some(range.clone());
            range.end
        } else {
            node.content_end
        };
        if let Some(&parent) = stack.last() {
            self.bump(parent, outer_end);
        }
        Ok(())
    }

    fn add(&mut self, stack: &[NodeId], new: NewNode<'s>) -> Result<NodeId, EditError> {
        let id = self.nodes.len();
        // A block collection has no text of its own before its first entry.
        let block = !new.flow && matches!(new.kind, Kind::Seq { .. } | Kind::Map { .. });
        let content_end = if block {
            new.range.start
        } else {
            new.range.end
        };
        let parent = stack.last().copied();
        let in_flow = parent
            .and_then(|p| self.nodes.get(p))
            .is_some_and(|p| p.in_flow || p.flow);
        if new.anchor != 0 {
            self.anchor_nodes.insert(new.anchor, id);
        }
        self.nodes.push(Node {
            kind: new.kind,
            start: new.range.start,
            end: new.range.end,
            close: None,
            content_end,
            position: new.position,
            anchor: new.anchor,
            tag: new.tag,
            tag_uri: new.tag_uri,
            flow: new.flow,
            in_flow,
            subtree_end: id.saturating_add(1),
        });
        match parent.and_then(|p| self.nodes.get_mut(p)) {
            Some(Node {
                kind: Kind::Seq { items },
                ..
            }) => items.push(id),
            Some(Node {
                kind: Kind::Map { entries },
                ..
            }) => entries.push(id),
            Some(_) => return Err(internal("parent node is not a collection")),
            None => {
                if self.root.is_none() {
                    self.root = Some(id);
                }
            }
        }
        Ok(id)
    }

    fn add_leaf(
        &mut self,
        stack: &[NodeId],
        new: NewNode<'s>,
        end: Option<usize>,
    ) -> Result<NodeId, EditError> {
        let id = self.add(stack, new)?;
        if let (Some(end), Some(&parent)) = (end, stack.last()) {
            self.bump(parent, end);
        }
        Ok(id)
    }

    fn bump(&mut self, id: NodeId, end: usize) {
        if let Some(node) = self.nodes.get_mut(id) {
            node.content_end = node.content_end.max(end);
        }
    }

    pub(in crate::kubeconfig) fn node(&self, id: NodeId) -> Result<&Node<'s>, EditError> {
        self.nodes
            .get(id)
            .ok_or_else(|| internal("node id out of range"))
    }

    pub(in crate::kubeconfig) fn position(&self, id: NodeId) -> Position {
        self.nodes
            .get(id)
            .map_or(Position { line: 0, column: 0 }, |n| n.position)
    }

    /// Follows one alias; anchors never sit on aliases, so one step is enough.
    pub(in crate::kubeconfig) fn resolve(&self, id: NodeId) -> Option<NodeId> {
        match &self.nodes.get(id)?.kind {
            Kind::Alias { anchor } => self.anchor_nodes.get(anchor).copied(),
            _ => Some(id),
        }
    }

    pub(in crate::kubeconfig) fn scalar_text(&self, id: NodeId) -> Option<&str> {
        match &self.nodes.get(self.resolve(id)?)?.kind {
            Kind::Scalar { value, .. } => Some(value.as_ref()),
            _ => None,
        }
    }

    pub(in crate::kubeconfig) fn pairs(&self, map: NodeId) -> Vec<(NodeId, NodeId)> {
        match self.nodes.get(map).map(|n| &n.kind) {
            Some(Kind::Map { entries }) => entries
                .chunks_exact(2)
                .filter_map(|c| Some((*c.first()?, *c.get(1)?)))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub(in crate::kubeconfig) fn is_map(&self, id: NodeId) -> bool {
        matches!(self.nodes.get(id).map(|n| &n.kind), Some(Kind::Map { .. }))
    }

    /// The anchor's name, escaped for a single-line message.
    pub(in crate::kubeconfig) fn anchor_name(&self, anchor: usize) -> Option<String> {
        self.anchor_names
            .get(&anchor)
            .map(|n| n.escape_debug().to_string())
    }

    /// The key's own entry in the mapping; merge keys are not followed.
    pub(in crate::kubeconfig) fn lookup(&self, map: NodeId, key: &str) -> Lookup {
        let mut found: Option<(NodeId, NodeId)> = None;
        for (k, v) in self.pairs(map) {
            if self.scalar_text(k) == Some(key) {
                if let Some((first, _)) = found {
                    return Lookup::Duplicate { first, second: k };
                }
                found = Some((k, v));
            }
        }
        match found {
            Some((key, value)) => Lookup::Found { key, value },
            None => Lookup::Missing,
        }
    }

    /// The merge keys (`<<`) of a mapping and their values. Quoted `"<<"` is an ordinary
    /// key in YAML, but not every loader agrees, so every spelling counts.
    pub(in crate::kubeconfig) fn merges(&self, map: NodeId) -> Vec<(NodeId, NodeId)> {
        self.pairs(map)
            .into_iter()
            .filter(|(k, _)| self.scalar_text(*k) == Some("<<"))
            .collect()
    }

    /// The first merge key of a mapping.
    pub(in crate::kubeconfig) fn merge_key(&self, map: NodeId) -> Option<NodeId> {
        self.merges(map).first().map(|(key, _)| *key)
    }

    /// The first anchor defined inside (or on) a node.
    pub(in crate::kubeconfig) fn anchor_inside(&self, id: NodeId) -> Option<usize> {
        let end = self.nodes.get(id)?.subtree_end;
        self.nodes
            .get(id..end)?
            .iter()
            .map(|n| n.anchor)
            .find(|a| *a != 0)
    }
}

// ---------------------------------------------------------------------------------------
// Reading a mapping as kubectl does, and the users list every editor starts from.
// ---------------------------------------------------------------------------------------

/// Whether this key node is a merge key in go-yaml's reading.
pub(in crate::kubeconfig) fn is_merge_key(doc: &Doc<'_>, key: NodeId) -> bool {
    let Some(node) = doc.nodes.get(key) else {
        return false;
    };
    match &node.kind {
        Kind::Scalar { value, style } if value.as_ref() == "<<" => {
            (*style == ScalarStyle::Plain && node.tag == TagClass::None)
                || node.tag == TagClass::Merge
        }
        _ => false,
    }
}

/// The key's value in the mapping as kubectl reads it (`from_tree.rs`): the last writer in
/// document order wins, whether the key itself or a merge key (`<<`) that provides it.
/// A merge source the editor cannot follow makes the value unknown.
pub(in crate::kubeconfig) fn lookup_merged(doc: &Doc<'_>, map: NodeId, key: &str) -> MergedLookup {
    lookup_at(doc, map, key, 0)
}

/// Merge sources nested deeper than this are not followed (the value is then unknown).
const MAX_MERGE_DEPTH: usize = 32;

fn lookup_at(doc: &Doc<'_>, map: NodeId, key: &str, depth: usize) -> MergedLookup {
    let mut winner = MergedLookup::Missing;
    let mut explicit: Option<NodeId> = None;
    for (k, v) in doc.pairs(map) {
        if is_merge_key(doc, k) {
            match search_merge(doc, v, key, depth) {
                MergeSearch::NotFound => {}
                MergeSearch::One(value) => {
                    winner = MergedLookup::Merged {
                        merge_key: k,
                        value,
                    }
                }
                MergeSearch::Unknown => winner = MergedLookup::Ambiguous { merge_key: k },
            }
        } else if doc.scalar_text(k) == Some(key) {
            if let Some(first) = explicit {
                return MergedLookup::Duplicate { first, second: k };
            }
            explicit = Some(k);
            winner = MergedLookup::Found { key: k, value: v };
        }
    }
    winner
}

/// What the merge value `value` provides for `key`: for a list of mappings, the first
/// one that has it (go-yaml applies them last to first).
fn search_merge(doc: &Doc<'_>, value: NodeId, key: &str, depth: usize) -> MergeSearch {
    if depth > MAX_MERGE_DEPTH {
        return MergeSearch::Unknown;
    }
    let Some(id) = doc.resolve(value) else {
        return MergeSearch::Unknown;
    };
    let in_map = |m: NodeId| match lookup_at(doc, m, key, depth.saturating_add(1)) {
        MergedLookup::Found { value, .. } | MergedLookup::Merged { value, .. } => {
            MergeSearch::One(value)
        }
        MergedLookup::Missing => MergeSearch::NotFound,
        MergedLookup::Duplicate { .. } | MergedLookup::Ambiguous { .. } => MergeSearch::Unknown,
    };
    match doc.nodes.get(id).map(|n| &n.kind) {
        Some(Kind::Map { .. }) => in_map(id),
        Some(Kind::Seq { items }) => {
            for &item in items {
                match doc.resolve(item) {
                    Some(m) if doc.is_map(m) => match in_map(m) {
                        MergeSearch::NotFound => {}
                        found => return found,
                    },
                    _ => return MergeSearch::Unknown,
                }
            }
            MergeSearch::NotFound
        }
        _ => MergeSearch::Unknown,
    }
}

pub(in crate::kubeconfig) enum MergedLookup {
    Missing,
    Found {
        key: NodeId,
        value: NodeId,
    },
    Duplicate {
        first: NodeId,
        second: NodeId,
    },
    /// Only a merge key (`<<`) provides the key.
    Merged {
        merge_key: NodeId,
        value: NodeId,
    },
    /// A merge key may provide the key: its source could not be followed.
    Ambiguous {
        merge_key: NodeId,
    },
}

enum MergeSearch {
    NotFound,
    One(NodeId),
    Unknown,
}

/// An untagged plain null.
pub(in crate::kubeconfig) fn is_null(doc: &Doc<'_>, id: NodeId) -> bool {
    match doc.nodes.get(id) {
        Some(Node {
            kind:
                Kind::Scalar {
                    value,
                    style: ScalarStyle::Plain,
                },
            tag: TagClass::None,
            ..
        }) => matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL"),
        _ => false,
    }
}

/// What a node is, with its article, for messages.
pub(in crate::kubeconfig) fn describe(doc: &Doc<'_>, id: NodeId) -> &'static str {
    match doc.nodes.get(id).map(|n| &n.kind) {
        Some(Kind::Map { entries }) if entries.is_empty() => "an empty mapping",
        Some(Kind::Map { .. }) => "a mapping",
        Some(Kind::Seq { .. }) => "a list",
        Some(Kind::Scalar { .. }) if is_null(doc, id) => "a null value",
        Some(Kind::Scalar { .. }) => "a scalar",
        Some(Kind::Alias { .. }) => "an alias",
        None => "a missing node",
    }
}

/// `&name` for messages (escaped), or `an anchor` when the parser gave none.
pub(in crate::kubeconfig) fn anchor_label(doc: &Doc<'_>, anchor: usize) -> String {
    match doc.anchor_name(anchor) {
        Some(name) => format!("&{name}"),
        None => "an anchor".to_owned(),
    }
}

pub(in crate::kubeconfig) enum Lookup {
    Missing,
    Found { key: NodeId, value: NodeId },
    Duplicate { first: NodeId, second: NodeId },
}

/// Inputs for the editor's generated-input properties: each kind's own documents, mutated
/// with its own YAML fragments, next to arbitrary text.
#[cfg(test)]
pub(in crate::kubeconfig) mod generated {
    use proptest::prelude::*;

    /// `text` with each `(at, insert, fragment)` applied: `fragments[fragment]` inserted at
    /// byte `at` (wrapped to the text, moved back to a character boundary), or the
    /// character there removed.
    pub(in crate::kubeconfig) fn mutate(
        mut text: String,
        mutations: &[(usize, bool, usize)],
        fragments: &[&str],
    ) -> String {
        for &(at, insert, fragment) in mutations {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if insert {
                text.insert_str(at, fragments[fragment % fragments.len()]);
            } else if at < text.len() {
                text.remove(at);
            }
        }
        text
    }

    /// Arbitrary strings, runs of fragments, and (four times as often) `mutated` documents.
    pub(in crate::kubeconfig) fn arbitrary_input(
        fragments: &'static [&'static str],
        mutated: impl Strategy<Value = String> + 'static,
    ) -> impl Strategy<Value = String> {
        prop_oneof![
            1 => any::<String>(),
            1 => proptest::collection::vec(proptest::sample::select(fragments), 0..40)
                .prop_map(|parts| parts.concat()),
            4 => mutated,
        ]
    }
}
