//! Format-preserving replacement of bearer-token scalars in kubeconfig text.
//!
//! This module owns the one place where the plugin writes a kubeconfig. Re-serialising
//! the file through a YAML library would drop comments, reorder keys and change quoting,
//! so instead the editor locates each chosen `users[].user.token` scalar with a single
//! event pass over the original text and splices new scalar text over exactly that
//! scalar's bytes. Everything else (comments, indentation, line endings, a BOM, later
//! documents) is copied byte for byte.
//!
//! Splicing text is only safe if the result still means what we intended, so every edit
//! is proven before it is returned: the new text is re-parsed and its event stream must
//! equal the original one except for the replaced scalars, and the first document, loaded
//! as plain data by an independent deserializer, must equal the original data with exactly
//! the requested tokens changed. Constructs whose meaning differs between YAML parsers
//! (merge keys that may supply a token, anchors shared with other keys, duplicate keys)
//! are refused rather than guessed at.
//!
//! No error message ever contains a token value: errors describe positions, user names,
//! key names and anchor names only.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use granit_parser::{Event, Parser, ScalarStyle, Span, StructureStyle, Tag};

/// Replace `users[name == user].user.token` in the first YAML document with `new_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenEdit<'a> {
    /// The `name` of the entry in the kubeconfig `users` list.
    pub user: &'a str,
    /// The token to store; the caller validates it, the editor only quotes it correctly.
    pub new_token: &'a str,
}

/// A 1-based line and column in the kubeconfig text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a token edit was refused. Messages are single-line and never contain token values.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The text is not YAML that the parser accepts.
    #[error("kubeconfig is not valid yaml at {position}: {reason}")]
    Parse {
        /// Where the parser stopped.
        position: Position,
        /// The parser's description of the problem (never quotes scalar text).
        reason: String,
    },
    /// The first document has no usable `users` list.
    #[error("kubeconfig has no users list: {reason}")]
    NoUsers {
        /// What was found instead.
        reason: String,
    },
    /// No entry of the `users` list has this name.
    #[error("user {user:?} is not in the users list")]
    UserNotFound {
        /// The requested user name.
        user: String,
    },
    /// Two entries of the `users` list share a name; kubectl rejects such files.
    #[error(
        "user name {user:?} appears more than once in the users list (at {first} and {second})"
    )]
    DuplicateUser {
        /// The repeated name.
        user: String,
        /// Position of the first entry with that name.
        first: Position,
        /// Position of the second entry with that name.
        second: Position,
    },
    /// The user exists but stores no `token` (for example only `tokenFile`).
    #[error("user {user:?} at {position} has no token key{note}")]
    NoToken {
        /// The requested user name.
        user: String,
        /// Position of the user's entry or `user` mapping.
        position: Position,
        /// Extra context such as `": it uses tokenFile"`; may be empty.
        note: String,
    },
    /// The `token` value is a mapping or a list.
    #[error("token of user {user:?} at {position} is a {found}, not a scalar")]
    NotScalar {
        /// The requested user name.
        user: String,
        /// Position of the token value.
        position: Position,
        /// What the value is (`mapping`, `list`).
        found: &'static str,
    },
    /// The token, or the path to it, uses a construct the editor cannot change safely.
    #[error("{detail}")]
    Unsupported {
        /// Which construct, for which user, where.
        detail: String,
    },
    /// The same user appears in `edits` with two different new tokens.
    #[error("user {user:?} is given two different new tokens")]
    ConflictingEdits {
        /// The user named twice.
        user: String,
    },
    /// The edited text did not re-parse to the original with exactly the tokens changed.
    #[error("verification of the edited kubeconfig failed: {reason}")]
    Verification {
        /// Which check failed (positions only).
        reason: String,
    },
}

/// Returns the new text. Every byte outside the replaced token scalars is kept.
///
/// An empty `edits` slice returns the input unchanged without parsing it.
pub fn replace_user_tokens(src: &str, edits: &[TokenEdit<'_>]) -> Result<String, EditError> {
    let wanted = dedup_edits(edits)?;
    if wanted.is_empty() {
        return Ok(src.to_owned());
    }
    let doc = Doc::parse(src)?;
    let splices = plan(src, &doc, &wanted)?;
    let out = apply_splices(src, &splices)?;
    verify(src, &out, &doc, &splices, &wanted)?;
    Ok(out)
}

/// One planned replacement of source bytes `start..end`.
#[derive(Debug, Clone)]
struct Splice {
    start: usize,
    end: usize,
    replacement: String,
    /// Index of the replaced scalar among the non-comment events of the original stream.
    event: usize,
    /// The style the replacement parses back as.
    style: ScalarStyle,
    new_token: String,
}

fn dedup_edits<'a>(edits: &[TokenEdit<'a>]) -> Result<Vec<(&'a str, &'a str)>, EditError> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut wanted = Vec::new();
    for edit in edits {
        match seen.get(edit.user) {
            Some(prev) if *prev == edit.new_token => {}
            Some(_) => {
                return Err(EditError::ConflictingEdits {
                    user: edit.user.to_owned(),
                })
            }
            None => {
                seen.insert(edit.user, edit.new_token);
                wanted.push((edit.user, edit.new_token));
            }
        }
    }
    Ok(wanted)
}

// ---------------------------------------------------------------------------------------
// Parsing: one pass that keeps every non-comment event (for verification) and builds a
// light node tree of the first document (for locating tokens).
// ---------------------------------------------------------------------------------------

type NodeId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagClass {
    None,
    /// `!!str` or the non-specific `!`: the value stays a string whatever it looks like.
    Str,
    Other,
}

#[derive(Debug)]
enum Kind<'s> {
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

#[derive(Debug)]
struct Node<'s> {
    kind: Kind<'s>,
    start: usize,
    end: usize,
    position: Position,
    anchor: usize,
    tag: TagClass,
    /// True when any enclosing collection is a flow collection.
    in_flow: bool,
    /// True when this node itself is a flow collection.
    flow: bool,
    event: usize,
}

struct Doc<'s> {
    /// Every non-comment event of the whole stream, in order.
    events: Vec<Event<'s>>,
    nodes: Vec<Node<'s>>,
    root: Option<NodeId>,
    anchor_nodes: HashMap<usize, NodeId>,
    anchor_names: HashMap<usize, Cow<'s, str>>,
    alias_refs: HashMap<usize, Vec<NodeId>>,
    /// Byte offset where the first document ends (after `...` if present).
    doc_end: Option<usize>,
}

fn parser_options() -> granit_parser::Options {
    let mut options = granit_parser::Options::default();
    options.emit_anchor_events = true;
    // Comments are not needed to locate or verify anything: all bytes outside the
    // splices are compared verbatim, and comment emission has its own buffering limit
    // that would reject files with long comment blocks.
    options.emit_comments = false;
    options
}

fn marker_position(span: &Span) -> Position {
    Position {
        line: span.start.line(),
        column: span.start.col().saturating_add(1),
    }
}

fn tag_class(tag: Option<&Cow<'_, Tag>>) -> TagClass {
    match tag {
        None => TagClass::None,
        Some(tag) if tag.is_yaml_core_schema_tag("str") || tag.parts() == ("", "!") => {
            TagClass::Str
        }
        Some(_) => TagClass::Other,
    }
}

fn parse_error(err: &granit_parser::ScanError) -> EditError {
    let reason = err.kind().to_string().replace(['\r', '\n'], " ");
    EditError::Parse {
        position: Position {
            line: err.marker().line(),
            column: err.marker().col().saturating_add(1),
        },
        reason,
    }
}

impl<'s> Doc<'s> {
    fn parse(src: &'s str) -> Result<Self, EditError> {
        let mut doc = Doc {
            events: Vec::new(),
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
        for item in Parser::new_from_str_with_options(src, parser_options()) {
            let (event, span) = item.map_err(|e| parse_error(&e))?;
            if matches!(event, Event::Comment(..)) {
                continue;
            }
            let index = doc.events.len();
            match &event {
                Event::DocumentStart(..) => {
                    documents = documents.saturating_add(1);
                    building = documents == 1;
                }
                Event::DocumentEnd => {
                    if building {
                        building = false;
                        let range = span.byte_range().ok_or_else(no_offsets)?;
                        doc.doc_end = Some(range.end);
                    }
                }
                Event::Anchor(id, name) if building => {
                    doc.anchor_names.insert(*id, name.clone());
                }
                Event::Scalar(value, style, anchor, tag) if building => {
                    let kind = Kind::Scalar {
                        value: value.clone(),
                        style: *style,
                    };
                    doc.add_node(
                        &mut stack,
                        kind,
                        &span,
                        *anchor,
                        tag_class(tag.as_ref()),
                        index,
                    )?;
                }
                Event::Alias(anchor) if building => {
                    let id = doc.add_node(
                        &mut stack,
                        Kind::Alias { anchor: *anchor },
                        &span,
                        0,
                        TagClass::None,
                        index,
                    )?;
                    doc.alias_refs.entry(*anchor).or_default().push(id);
                }
                Event::SequenceStart(style, anchor, tag) if building => {
                    let id = doc.add_node(
                        &mut stack,
                        Kind::Seq { items: Vec::new() },
                        &span,
                        *anchor,
                        tag_class(tag.as_ref()),
                        index,
                    )?;
                    doc.set_flow(id, *style == StructureStyle::Flow);
                    stack.push(id);
                }
                Event::MappingStart(style, anchor, tag) if building => {
                    let id = doc.add_node(
                        &mut stack,
                        Kind::Map {
                            entries: Vec::new(),
                        },
                        &span,
                        *anchor,
                        tag_class(tag.as_ref()),
                        index,
                    )?;
                    doc.set_flow(id, *style == StructureStyle::Flow);
                    stack.push(id);
                }
                Event::SequenceEnd | Event::MappingEnd if building => {
                    stack.pop();
                }
                _ => {}
            }
            doc.events.push(event);
        }
        Ok(doc)
    }

    fn add_node(
        &mut self,
        stack: &mut [NodeId],
        kind: Kind<'s>,
        span: &Span,
        anchor: usize,
        tag: TagClass,
        event: usize,
    ) -> Result<NodeId, EditError> {
        let range = span.byte_range().ok_or_else(no_offsets)?;
        let id = self.nodes.len();
        let parent = stack.last().copied();
        let in_flow = parent
            .and_then(|p| self.nodes.get(p))
            .is_some_and(|p| p.in_flow || p.flow);
        self.nodes.push(Node {
            kind,
            start: range.start,
            end: range.end,
            position: marker_position(span),
            anchor,
            tag,
            in_flow,
            flow: false,
            event,
        });
        if anchor != 0 {
            self.anchor_nodes.insert(anchor, id);
        }
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

    fn set_flow(&mut self, id: NodeId, flow: bool) {
        if let Some(node) = self.nodes.get_mut(id) {
            node.flow = flow;
        }
    }

    fn node(&self, id: NodeId) -> Result<&Node<'s>, EditError> {
        self.nodes
            .get(id)
            .ok_or_else(|| internal("node id out of range"))
    }

    fn position(&self, id: NodeId) -> Position {
        self.nodes
            .get(id)
            .map_or(Position { line: 0, column: 0 }, |n| n.position)
    }

    /// Follows one alias; anchors never sit on aliases, so one step is enough.
    fn resolve(&self, id: NodeId) -> Option<NodeId> {
        match &self.nodes.get(id)?.kind {
            Kind::Alias { anchor } => self.anchor_nodes.get(anchor).copied(),
            _ => Some(id),
        }
    }

    fn scalar_text(&self, id: NodeId) -> Option<&str> {
        match &self.nodes.get(self.resolve(id)?)?.kind {
            Kind::Scalar { value, .. } => Some(value.as_ref()),
            _ => None,
        }
    }

    fn pairs(&self, map: NodeId) -> Vec<(NodeId, NodeId)> {
        match self.nodes.get(map).map(|n| &n.kind) {
            Some(Kind::Map { entries }) => entries
                .chunks_exact(2)
                .filter_map(|c| Some((*c.first()?, *c.get(1)?)))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn is_map(&self, id: NodeId) -> bool {
        matches!(self.nodes.get(id).map(|n| &n.kind), Some(Kind::Map { .. }))
    }

    fn is_null(&self, id: NodeId) -> bool {
        match self.nodes.get(id) {
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

    fn describe(&self, id: NodeId) -> &'static str {
        match self.nodes.get(id).map(|n| &n.kind) {
            Some(Kind::Map { .. }) => "mapping",
            Some(Kind::Seq { .. }) => "list",
            Some(Kind::Scalar { .. }) if self.is_null(id) => "null value",
            Some(Kind::Scalar { .. }) => "scalar",
            Some(Kind::Alias { .. }) => "alias",
            None => "missing node",
        }
    }

    fn anchor_label(&self, anchor: usize) -> String {
        match self.anchor_names.get(&anchor) {
            Some(name) => format!("&{}", name.escape_debug()),
            None => "an anchor".to_owned(),
        }
    }

    /// If this node is an alias, or an anchored node that some alias refers to, editing
    /// inside it would also change the other place; returns the anchor's label.
    fn sharing(&self, id: NodeId) -> Option<String> {
        let node = self.nodes.get(id)?;
        let anchor = match node.kind {
            Kind::Alias { anchor } => anchor,
            _ if node.anchor != 0 => node.anchor,
            _ => return None,
        };
        let referenced = matches!(node.kind, Kind::Alias { .. })
            || self.alias_refs.get(&anchor).is_some_and(|r| !r.is_empty());
        referenced.then(|| self.anchor_label(anchor))
    }

    fn lookup(&self, map: NodeId, key: &str) -> Lookup {
        let mut found: Option<(NodeId, NodeId)> = None;
        let mut merges: Vec<(NodeId, NodeId)> = Vec::new();
        for (k, v) in self.pairs(map) {
            match self.scalar_text(k) {
                Some(text) if text == key => {
                    if let Some((first, _)) = found {
                        return Lookup::Duplicate { first, second: k };
                    }
                    found = Some((k, v));
                }
                // Quoted `"<<"` is an ordinary key in YAML, but not every loader agrees,
                // so every spelling is treated as a merge key.
                Some("<<") => merges.push((k, v)),
                _ => {}
            }
        }
        let merged = self.search_merges(&merges, key);
        let merge_key = merges.first().map_or(map, |m| m.0);
        match (found, merged) {
            (Some((key, value)), MergeSearch::NotFound) => Lookup::Found { key, value },
            (Some(_), _) => Lookup::Ambiguous { merge_key },
            (None, MergeSearch::NotFound) => Lookup::Missing,
            (None, MergeSearch::One(value)) => Lookup::Merged { merge_key, value },
            (None, MergeSearch::Unknown) => Lookup::Ambiguous { merge_key },
        }
    }

    fn search_merges(&self, merges: &[(NodeId, NodeId)], key: &str) -> MergeSearch {
        const MAX_STEPS: usize = 10_000;
        let mut stack: Vec<NodeId> = merges.iter().map(|m| m.1).collect();
        let mut visited = HashSet::new();
        let mut found = Vec::new();
        let mut steps = 0usize;
        while let Some(id) = stack.pop() {
            steps = steps.saturating_add(1);
            if steps > MAX_STEPS {
                return MergeSearch::Unknown;
            }
            let Some(id) = self.resolve(id) else {
                return MergeSearch::Unknown;
            };
            if !visited.insert(id) {
                continue;
            }
            match self.nodes.get(id).map(|n| &n.kind) {
                Some(Kind::Map { .. }) => {
                    for (k, v) in self.pairs(id) {
                        match self.scalar_text(k) {
                            Some(text) if text == key => found.push(v),
                            Some("<<") => stack.push(v),
                            _ => {}
                        }
                    }
                }
                Some(Kind::Seq { items }) => stack.extend(items.iter().copied()),
                _ => return MergeSearch::Unknown,
            }
        }
        match found.as_slice() {
            [] => MergeSearch::NotFound,
            [one] => MergeSearch::One(*one),
            _ => MergeSearch::Unknown,
        }
    }
}

enum Lookup {
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
    /// A merge key may provide the key, and loaders disagree on precedence or the merge
    /// source could not be followed.
    Ambiguous {
        merge_key: NodeId,
    },
}

enum MergeSearch {
    NotFound,
    One(NodeId),
    Unknown,
}

fn no_offsets() -> EditError {
    internal("parser reported no byte offsets")
}

fn internal(what: &str) -> EditError {
    EditError::Verification {
        reason: format!("internal inconsistency ({what})"),
    }
}

fn unsupported(detail: String) -> EditError {
    EditError::Unsupported { detail }
}

// ---------------------------------------------------------------------------------------
// Locating the token scalars and planning the splices.
// ---------------------------------------------------------------------------------------

/// A token value slot chosen by an edit: the `token` key and its value node.
struct Slot<'e> {
    user: &'e str,
    new_token: &'e str,
    key: NodeId,
    value: NodeId,
}

fn plan(src: &str, doc: &Doc<'_>, wanted: &[(&str, &str)]) -> Result<Vec<Splice>, EditError> {
    let users = find_users_list(doc)?;
    let entries = index_user_entries(doc, users)?;

    let mut slots: Vec<Slot<'_>> = Vec::new();
    for (user, new_token) in wanted {
        let Some(entry) = entries.get(user) else {
            return Err(EditError::UserNotFound {
                user: (*user).to_owned(),
            });
        };
        let (key, value) = find_token_slot(doc, user, *entry)?;
        slots.push(Slot {
            user,
            new_token,
            key,
            value,
        });
    }

    // Several slots may resolve to one anchored scalar; it is edited once.
    let slot_by_value: HashMap<NodeId, usize> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| (s.value, i))
        .collect();
    let mut done: HashSet<NodeId> = HashSet::new();
    let mut splices = Vec::new();
    for slot in &slots {
        let target = resolve_token_target(doc, slot)?;
        check_sharing(doc, slot, target, &slots, &slot_by_value)?;
        if !done.insert(target) {
            continue;
        }
        // The target is itself one of the chosen slots when it is anchored (the sharing
        // check guarantees that); its own key is where a block header search starts.
        let key = slot_by_value
            .get(&target)
            .and_then(|i| slots.get(*i))
            .map_or(slot.key, |s| s.key);
        splices.push(splice_for(src, doc, slot, key, target)?);
    }
    splices.sort_by_key(|s| s.start);
    Ok(splices)
}

fn find_users_list(doc: &Doc<'_>) -> Result<NodeId, EditError> {
    let Some(root) = doc.root else {
        return Err(EditError::NoUsers {
            reason: "the file contains no yaml document".to_owned(),
        });
    };
    if !doc.is_map(root) {
        return Err(EditError::NoUsers {
            reason: format!(
                "the first document at {} is a {}, not a mapping",
                doc.position(root),
                doc.describe(root)
            ),
        });
    }
    if let Some(anchor) = doc.sharing(root) {
        return Err(unsupported(format!(
            "the top-level mapping at {} is shared through anchor {anchor}",
            doc.position(root)
        )));
    }
    let users = match doc.lookup(root, "users") {
        Lookup::Missing => {
            return Err(EditError::NoUsers {
                reason: "the top-level mapping has no users key".to_owned(),
            })
        }
        Lookup::Found { value, .. } => value,
        Lookup::Duplicate { first, second } => {
            return Err(unsupported(format!(
                "key \"users\" appears twice in the top-level mapping (at {} and {})",
                doc.position(first),
                doc.position(second)
            )))
        }
        Lookup::Merged { merge_key, .. } | Lookup::Ambiguous { merge_key } => {
            return Err(unsupported(format!(
                "the users list may come from the merge key (<<) at {}",
                doc.position(merge_key)
            )))
        }
    };
    if let Some(anchor) = doc.sharing(users) {
        return Err(unsupported(format!(
            "the users list at {} is shared through anchor {anchor}",
            doc.position(users)
        )));
    }
    match doc.node(users)?.kind {
        Kind::Seq { .. } => Ok(users),
        _ => Err(EditError::NoUsers {
            reason: format!(
                "users at {} is a {}, not a list",
                doc.position(users),
                doc.describe(users)
            ),
        }),
    }
}

/// Maps each user name to its entry (the sequence item node). Refuses duplicate names
/// and entries whose name cannot be determined.
fn index_user_entries<'d>(
    doc: &'d Doc<'_>,
    users: NodeId,
) -> Result<HashMap<&'d str, NodeId>, EditError> {
    let items: &[NodeId] = match &doc.node(users)?.kind {
        Kind::Seq { items } => items,
        _ => &[],
    };
    let mut by_name: HashMap<&str, NodeId> = HashMap::new();
    for &item in items {
        let Some(entry) = doc.resolve(item) else {
            continue;
        };
        if !doc.is_map(entry) {
            continue;
        }
        let name = match doc.lookup(entry, "name") {
            Lookup::Found { value, .. } | Lookup::Merged { value, .. } => value,
            Lookup::Missing => continue,
            Lookup::Duplicate { first, second } => {
                return Err(unsupported(format!(
                    "key \"name\" appears twice in the users entry at {} (at {} and {})",
                    doc.position(item),
                    doc.position(first),
                    doc.position(second)
                )))
            }
            Lookup::Ambiguous { merge_key } => {
                return Err(unsupported(format!(
                    "the name of the users entry at {} may come from the merge key (<<) at {}",
                    doc.position(item),
                    doc.position(merge_key)
                )))
            }
        };
        let Some(name) = doc.scalar_text(name) else {
            continue;
        };
        if let Some(prev) = by_name.insert(name, item) {
            return Err(EditError::DuplicateUser {
                user: name.to_owned(),
                first: doc.position(prev),
                second: doc.position(item),
            });
        }
    }
    Ok(by_name)
}

fn find_token_slot(doc: &Doc<'_>, user: &str, item: NodeId) -> Result<(NodeId, NodeId), EditError> {
    if let Some(anchor) = doc.sharing(item) {
        return Err(unsupported(format!(
            "the users entry of user {user:?} at {} is shared through anchor {anchor}",
            doc.position(item)
        )));
    }
    let no_token = |at: NodeId, note: &str| EditError::NoToken {
        user: user.to_owned(),
        position: doc.position(at),
        note: note.to_owned(),
    };
    let user_map = match doc.lookup(item, "user") {
        Lookup::Missing => return Err(no_token(item, ": the entry has no user mapping")),
        Lookup::Found { value, .. } => value,
        Lookup::Duplicate { first, second } => {
            return Err(unsupported(format!(
                "key \"user\" appears twice in the entry of user {user:?} (at {} and {})",
                doc.position(first),
                doc.position(second)
            )))
        }
        Lookup::Merged { merge_key, .. } | Lookup::Ambiguous { merge_key } => {
            return Err(unsupported(format!(
                "the user mapping of user {user:?} may come from the merge key (<<) at {}",
                doc.position(merge_key)
            )))
        }
    };
    if let Some(anchor) = doc.sharing(user_map) {
        return Err(unsupported(format!(
            "the user mapping of user {user:?} at {} is shared through anchor {anchor}",
            doc.position(user_map)
        )));
    }
    if !doc.is_map(user_map) {
        let note = format!(": its user value is a {}", doc.describe(user_map));
        return Err(no_token(user_map, &note));
    }
    match doc.lookup(user_map, "token") {
        Lookup::Found { key, value } => Ok((key, value)),
        Lookup::Missing => {
            let note = if matches!(doc.lookup(user_map, "tokenFile"), Lookup::Found { .. }) {
                ": it only has tokenFile"
            } else {
                ""
            };
            Err(no_token(user_map, note))
        }
        Lookup::Duplicate { first, second } => Err(unsupported(format!(
            "key \"token\" appears twice for user {user:?} (at {} and {})",
            doc.position(first),
            doc.position(second)
        ))),
        Lookup::Merged { merge_key, .. } => Err(unsupported(format!(
            "token of user {user:?} comes from the merge key (<<) at {}",
            doc.position(merge_key)
        ))),
        Lookup::Ambiguous { merge_key } => Err(unsupported(format!(
            "token of user {user:?} may also come from the merge key (<<) at {}, \
             and yaml loaders disagree on which one wins",
            doc.position(merge_key)
        ))),
    }
}

fn resolve_token_target(doc: &Doc<'_>, slot: &Slot<'_>) -> Result<NodeId, EditError> {
    let not_scalar = |found| EditError::NotScalar {
        user: slot.user.to_owned(),
        position: doc.position(slot.value),
        found,
    };
    let target = doc.resolve(slot.value).ok_or_else(|| {
        unsupported(format!(
            "token of user {:?} at {} is an alias to an unknown anchor",
            slot.user,
            doc.position(slot.value)
        ))
    })?;
    match doc.node(target)?.kind {
        Kind::Scalar { .. } => Ok(target),
        Kind::Map { .. } => Err(not_scalar("mapping")),
        Kind::Seq { .. } => Err(not_scalar("list")),
        Kind::Alias { .. } => Err(internal("alias resolved to an alias")),
    }
}

/// Editing an anchored scalar changes every alias of it, so that is only allowed when each
/// place the anchor's value appears is a token slot being set to the same new value.
fn check_sharing(
    doc: &Doc<'_>,
    slot: &Slot<'_>,
    target: NodeId,
    slots: &[Slot<'_>],
    slot_by_value: &HashMap<NodeId, usize>,
) -> Result<(), EditError> {
    let anchor = doc.node(target)?.anchor;
    if anchor == 0 {
        return Ok(());
    }
    let label = doc.anchor_label(anchor);
    let shared_err = || {
        unsupported(format!(
            "token of user {:?} at {} is shared through anchor {label} with other keys",
            slot.user,
            doc.position(slot.value)
        ))
    };
    let refs = doc.alias_refs.get(&anchor).map_or(&[][..], Vec::as_slice);
    for &occurrence in std::iter::once(&target).chain(refs) {
        let Some(other) = slot_by_value.get(&occurrence).and_then(|i| slots.get(*i)) else {
            return Err(shared_err());
        };
        if other.new_token != slot.new_token {
            return Err(unsupported(format!(
                "token of user {:?} at {} is shared through anchor {label} with user {:?}, \
                 which is given a different new token",
                slot.user,
                doc.position(slot.value),
                other.user
            )));
        }
    }
    Ok(())
}

fn splice_for(
    src: &str,
    doc: &Doc<'_>,
    slot: &Slot<'_>,
    key: NodeId,
    target: NodeId,
) -> Result<Splice, EditError> {
    let node = doc.node(target)?;
    let Kind::Scalar { style, .. } = node.kind else {
        return Err(internal("token target is not a scalar"));
    };
    let at = node.position;
    let user = slot.user;
    if node.tag == TagClass::Other {
        return Err(unsupported(format!(
            "token of user {user:?} at {at} carries an explicit tag other than !!str"
        )));
    }
    let raw = src
        .get(node.start..node.end)
        .ok_or_else(|| internal("scalar span is not on character boundaries"))?;
    let new_token = slot.new_token;
    let (start, end, replacement, new_style) = match style {
        ScalarStyle::Plain => {
            if raw.is_empty() {
                return Err(unsupported(format!(
                    "token of user {user:?} at {at} is empty; write a placeholder value first"
                )));
            }
            let (text, style) = if is_plain_safe(new_token) {
                (new_token.to_owned(), ScalarStyle::Plain)
            } else {
                (double_quoted(new_token), ScalarStyle::DoubleQuoted)
            };
            (node.start, node.end, text, style)
        }
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            let quote = if style == ScalarStyle::SingleQuoted {
                '\''
            } else {
                '"'
            };
            if raw.len() < 2 || !raw.starts_with(quote) || !raw.ends_with(quote) {
                return Err(unsupported(format!(
                    "token of user {user:?} at {at} has a quoted span the editor does not recognise"
                )));
            }
            let (text, style) = match single_quoted(new_token) {
                Some(text) if style == ScalarStyle::SingleQuoted => (text, style),
                _ => (double_quoted(new_token), ScalarStyle::DoubleQuoted),
            };
            (node.start, node.end, text, style)
        }
        ScalarStyle::Literal | ScalarStyle::Folded => {
            if node.in_flow {
                return Err(unsupported(format!(
                    "token of user {user:?} at {at} is a block scalar inside a flow collection"
                )));
            }
            let (start, end, tail) = block_scalar_region(src, doc, key, node).ok_or_else(|| {
                unsupported(format!(
                    "token of user {user:?} at {at} is a block scalar whose header \
                     the editor cannot locate"
                ))
            })?;
            let mut text = double_quoted(new_token);
            text.push_str(tail);
            (start, end, text, ScalarStyle::DoubleQuoted)
        }
    };
    Ok(Splice {
        start,
        end,
        replacement,
        event: node.event,
        style: new_style,
        new_token: new_token.to_owned(),
    })
}

/// The parser's span for a block scalar starts at its first content line and may run on
/// over trailing blank lines, so the region is rebuilt from the source: it starts at the
/// `|`/`>` indicator and ends at the line break of the last non-blank content line. The
/// header line's trailing whitespace and comment are returned so they can follow the new
/// scalar; blank lines after the content stay where they are.
fn block_scalar_region<'a>(
    src: &'a str,
    doc: &Doc<'_>,
    key: NodeId,
    node: &Node<'_>,
) -> Option<(usize, usize, &'a str)> {
    let key_end = doc.nodes.get(key)?.end;
    let between = src.get(key_end..node.start)?;
    let indicator = find_block_indicator(between)?.checked_add(key_end)?;

    let after_indicator = src.get(indicator..)?;
    let mut header_end = indicator.checked_add(1)?;
    for c in after_indicator.chars().skip(1).take(2) {
        if matches!(c, '+' | '-' | '1'..='9') {
            header_end = header_end.checked_add(1)?;
        } else {
            break;
        }
    }
    let rest = src.get(header_end..)?;
    let line_len = rest.find(['\r', '\n']).unwrap_or(rest.len());
    let tail = rest.get(..line_len)?;
    let tail_body = tail.trim_start_matches([' ', '\t']);
    if !tail_body.is_empty() && !(tail_body.starts_with('#') && tail_body.len() < tail.len()) {
        return None;
    }
    let line_end = header_end.checked_add(line_len)?;

    let content = src.get(line_end..node.end.max(line_end))?;
    let Some(last) = content.rfind(|c: char| !matches!(c, ' ' | '\t' | '\r' | '\n')) else {
        return Some((indicator, header_end, ""));
    };
    let from_last = line_end.checked_add(last)?;
    let after = src.get(from_last..)?;
    let content_end = from_last.checked_add(after.find(['\r', '\n']).unwrap_or(after.len()))?;
    Some((indicator, content_end, tail))
}

/// Between the end of the `token` key and the block scalar's content there can only be the
/// `:` indicator, whitespace, line breaks, comments, a tag and an anchor.
fn find_block_indicator(between: &str) -> Option<usize> {
    let mut chars = between.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '|' | '>' => return Some(i),
            ' ' | '\t' | '\r' | '\n' | ':' => {}
            '#' => while chars.next_if(|(_, c)| !matches!(c, '\r' | '\n')).is_some() {},
            '!' | '&' => {
                while chars
                    .next_if(|(_, c)| !matches!(c, ' ' | '\t' | '\r' | '\n'))
                    .is_some()
                {}
            }
            _ => return None,
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// Scalar rendering.
// ---------------------------------------------------------------------------------------

/// Conservative on purpose: kubectl reads kubeconfig with a YAML 1.1 loader, so anything
/// that could be a bool, null, number, timestamp or sexagesimal value in 1.1 or 1.2 is
/// quoted. Values starting with a digit are always quoted, which covers every numeric,
/// date and base-60 form at once.
fn is_plain_safe(value: &str) -> bool {
    const SPECIAL: [&str; 9] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let mut chars = value.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | '+' | '=' | '~')
        })
        && !SPECIAL.iter().any(|s| value.eq_ignore_ascii_case(s))
}

/// Characters that must not appear literally in a quoted scalar: non-printable ones in
/// YAML 1.2, plus NEL/LS/PS (line breaks in YAML 1.1) and a BOM that loaders may strip.
fn needs_escape(c: char) -> bool {
    matches!(c, '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

fn double_quoted(value: &str) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(value.len().saturating_add(2));
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) => {
                let code = u32::from(c);
                // Writing to a String cannot fail.
                let _ = if code <= 0xff {
                    write!(out, "\\x{code:02X}")
                } else {
                    write!(out, "\\u{code:04X}")
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `None` when the value cannot be written single-quoted on one line.
fn single_quoted(value: &str) -> Option<String> {
    if value.chars().any(|c| needs_escape(c) || c == '\t') {
        return None;
    }
    Some(format!("'{}'", value.replace('\'', "''")))
}

fn apply_splices(src: &str, splices: &[Splice]) -> Result<String, EditError> {
    let added: usize = splices.iter().map(|s| s.replacement.len()).sum();
    let mut out = String::with_capacity(src.len().saturating_add(added));
    let mut cursor = 0usize;
    for splice in splices {
        if splice.start < cursor || splice.end < splice.start {
            return Err(internal("overlapping token spans"));
        }
        let keep = src
            .get(cursor..splice.start)
            .ok_or_else(|| internal("splice is not on character boundaries"))?;
        out.push_str(keep);
        out.push_str(&splice.replacement);
        cursor = splice.end;
    }
    let rest = src
        .get(cursor..)
        .ok_or_else(|| internal("splice is not on character boundaries"))?;
    out.push_str(rest);
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Verification.
// ---------------------------------------------------------------------------------------

fn verification(reason: impl Into<String>) -> EditError {
    EditError::Verification {
        reason: reason.into(),
    }
}

fn verify(
    src: &str,
    out: &str,
    doc: &Doc<'_>,
    splices: &[Splice],
    wanted: &[(&str, &str)],
) -> Result<(), EditError> {
    let new_doc_end = verify_bytes(src, out, doc, splices)?;
    verify_events(out, doc, splices)?;
    verify_data(src, out, doc, new_doc_end, wanted)
}

/// Bytes outside the splices are identical, and the first document's end moved by exactly
/// the size change of the splices (all of which lie inside it).
fn verify_bytes(
    src: &str,
    out: &str,
    doc: &Doc<'_>,
    splices: &[Splice],
) -> Result<usize, EditError> {
    let doc_end = doc
        .doc_end
        .ok_or_else(|| verification("the original first document has no end"))?;
    let mut src_cursor = 0usize;
    let mut out_cursor = 0usize;
    for splice in splices {
        let gap = splice
            .start
            .checked_sub(src_cursor)
            .ok_or_else(|| verification("token spans overlap"))?;
        let out_gap_end = out_cursor
            .checked_add(gap)
            .ok_or_else(|| verification("offset overflow"))?;
        if src.as_bytes().get(src_cursor..splice.start)
            != out.as_bytes().get(out_cursor..out_gap_end)
        {
            return Err(verification("text outside the token spans changed"));
        }
        let out_splice_end = out_gap_end
            .checked_add(splice.replacement.len())
            .ok_or_else(|| verification("offset overflow"))?;
        if out.as_bytes().get(out_gap_end..out_splice_end) != Some(splice.replacement.as_bytes()) {
            return Err(verification("a replaced token span has unexpected content"));
        }
        if splice.end > doc_end {
            return Err(verification("a token span lies outside the first document"));
        }
        src_cursor = splice.end;
        out_cursor = out_splice_end;
    }
    if src.as_bytes().get(src_cursor..) != out.as_bytes().get(out_cursor..) {
        return Err(verification("text after the last token changed"));
    }
    let tail = src
        .len()
        .checked_sub(doc_end)
        .ok_or_else(|| verification("document end beyond the text"))?;
    out.len()
        .checked_sub(tail)
        .ok_or_else(|| verification("edited text is shorter than the trailing documents"))
}

/// The edited text's event stream equals the original one except for the replaced scalars,
/// which carry the new value, the chosen style and their original anchor and tag.
fn verify_events(out: &str, doc: &Doc<'_>, splices: &[Splice]) -> Result<(), EditError> {
    let by_event: HashMap<usize, &Splice> = splices.iter().map(|s| (s.event, s)).collect();
    let mut index = 0usize;
    for item in Parser::new_from_str_with_options(out, parser_options()) {
        let (event, span) = item.map_err(|e| {
            verification(format!(
                "the edited text does not parse at {}:{}",
                e.marker().line(),
                e.marker().col().saturating_add(1)
            ))
        })?;
        if matches!(event, Event::Comment(..)) {
            continue;
        }
        let Some(original) = doc.events.get(index) else {
            return Err(verification(
                "the edited text has more yaml events than the original",
            ));
        };
        let matches = match (by_event.get(&index), &event, original) {
            (
                Some(splice),
                Event::Scalar(value, style, anchor, tag),
                Event::Scalar(_, _, old_anchor, old_tag),
            ) => {
                value.as_ref() == splice.new_token
                    && *style == splice.style
                    && anchor == old_anchor
                    && tag == old_tag
            }
            (Some(_), _, _) => false,
            (None, new, old) => new == old,
        };
        if !matches {
            let at = marker_position(&span);
            return Err(verification(format!(
                "the edited text differs structurally from the original at {at}"
            )));
        }
        index = index.saturating_add(1);
    }
    if index != doc.events.len() {
        return Err(verification(
            "the edited text has fewer yaml events than the original",
        ));
    }
    Ok(())
}

fn data_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    // Error text from the loader may quote source lines (and so tokens): only its
    // location is ever reported, and snippets are not rendered at all.
    options.with_snippet = false;
    options.crop_radius = 0;
    // kubectl's loader keeps the last duplicate; either way both texts are loaded alike.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::AsString;
    if let Some(budget) = options.budget.as_mut() {
        // Scale with large kubeconfigs; the parser itself bounds nesting.
        budget.max_events = budget.max_events.max(8_000_000);
        budget.max_nodes = budget.max_nodes.max(8_000_000);
    }
    options
}

fn load_data(text: &str, which: &str) -> Result<serde_json::Value, EditError> {
    serde_saphyr::from_str_with_options::<serde_json::Value>(text, data_options()).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" at {}:{}", l.line(), l.column()))
            .unwrap_or_default();
        verification(format!("the {which} document cannot be loaded as data{at}"))
    })
}

/// An independent loader must see the original data with exactly the chosen tokens set.
fn verify_data(
    src: &str,
    out: &str,
    doc: &Doc<'_>,
    new_doc_end: usize,
    wanted: &[(&str, &str)],
) -> Result<(), EditError> {
    let old_text = doc
        .doc_end
        .and_then(|end| src.get(..end))
        .ok_or_else(|| verification("the original first document cannot be isolated"))?;
    let new_text = out
        .get(..new_doc_end)
        .ok_or_else(|| verification("the edited first document cannot be isolated"))?;
    let mut expected = load_data(old_text, "original")?;
    let actual = load_data(new_text, "edited")?;
    for (user, new_token) in wanted {
        set_token(&mut expected, user, new_token)?;
    }
    if expected != actual {
        return Err(verification(
            "the edited document's data is not the original with only the tokens changed",
        ));
    }
    Ok(())
}

fn set_token(root: &mut serde_json::Value, user: &str, new_token: &str) -> Result<(), EditError> {
    let entries = root
        .get_mut("users")
        .and_then(serde_json::Value::as_array_mut)
        .ok_or_else(|| verification("the loaded document has no users list"))?;
    let mut matching = entries
        .iter_mut()
        .filter(|e| e.get("name").and_then(serde_json::Value::as_str) == Some(user));
    let entry = matching
        .next()
        .ok_or_else(|| verification(format!("the loaded document has no user {user:?}")))?;
    let user_map = entry
        .get_mut("user")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| verification(format!("the loaded user {user:?} has no user mapping")))?;
    user_map.insert(
        "token".to_owned(),
        serde_json::Value::String(new_token.to_owned()),
    );
    if matching.next().is_some() {
        return Err(verification(format!(
            "the loaded document has user {user:?} twice"
        )));
    }
    Ok(())
}
