//! Every reading of a kubeconfig's data from its node tree (`yaml_tree::Doc`), through the
//! serde deserializer here: the model the loader hands every command (`model::FileConfig`),
//! the generic data the editor's proof compares and `kubeconfig import` copies
//! (`serde_json::Value`), and the check that an edit's result still loads. It reads as
//! kubectl's decoder (sigs.k8s.io/yaml over go-yaml v2) does, with the rules at [`read`]:
//! one parse then serves the editor and every reader. (`fast.rs` is the one other producer
//! of the model, for the layouts it reads whole; property tests hold it to this reading.)

use std::collections::HashMap;
use std::fmt;

use granit_parser::ScalarStyle;
use serde::de::{self, DeserializeOwned, Unexpected, Visitor};
use serde::Deserialize;

use super::super::edit_error::Position;
use super::yaml_tree::{anchor_label, is_merge_key, Doc, Kind, Node, NodeId, TagClass};

pub(in crate::kubeconfig) use super::yaml_tree::MAX_DEPTH;

/// How ambiguous scalars are typed: as the loader reads a kubeconfig (a plain `123` or
/// `yes` is refused where a string belongs), or as generic data (`Value`), where every
/// scalar has the type YAML gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::kubeconfig) enum Typing {
    Kubeconfig,
    Data,
}

/// Why a tree cannot be read: where, and the reason. The reason may quote a value a
/// visitor names, and a typed scalar's position within its own text; the loader cleans
/// both away before it is shown (`load::clean_parser_message`).
#[derive(Debug)]
pub(in crate::kubeconfig) struct TreeError {
    pub(in crate::kubeconfig) position: Option<Position>,
    pub(in crate::kubeconfig) message: String,
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TreeError {}

impl de::Error for TreeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        TreeError {
            position: None,
            message: msg.to_string(),
        }
    }
}

/// The first document of `doc` read into `T`; `None` for an empty or `null` document.
/// kubectl's decoding rules:
/// - a mapping's entries are built in document order, a later key overwriting an earlier
///   one, and a merge key (`<<`) applies where it stands: the mapping it names (or, for a
///   list, each mapping from last to first) is written over the keys read so far, and keys
///   after it overwrite it in turn (YAML's own rule, explicit keys always win, reads other
///   values). A merge key is a plain, untagged `<<`, or one tagged `!!merge`; a quoted
///   `"<<"` is an ordinary key;
/// - aliases are followed, what they expand to bounded by a budget that grows with the
///   document ("document contains excessive aliasing"), and nesting stops at 10,000 levels
///   ("exceeded max depth of 10000"), kubectl's words;
/// - scalars are typed as YAML 1.1 types them, so a plain `123`, `yes` or `~` is not a
///   string. A quoted, block or `!!str` scalar is a string, and so is a plain one that
///   cannot be anything else (`fast::scalar::is_clearly_string`, the scanner's own rule);
///   the rest (numbers, YAML 1.1 words, explicit tags) are few, and serde-saphyr types each
///   on its own text, with the options that give every scalar kubectl's type;
/// - values the model does not name are still checked as kubectl checks them (an infinity
///   or NaN anywhere refuses the file), without being kept.
pub(in crate::kubeconfig) fn read<T: DeserializeOwned>(
    doc: &Doc<'_>,
    typing: Typing,
) -> Result<Option<T>, TreeError> {
    let Some(root) = doc.root else {
        return Ok(None);
    };
    let reader = Reader { doc, typing };
    // The whole document's shape first (aliases, depth, merge values), so the typed
    // reading below never meets an unbounded expansion.
    reader.walk(root, false)?;
    Option::<T>::deserialize(At {
        r: &reader,
        id: root,
    })
}

/// Whether the document is something a kubeconfig can be: a mapping, or null (an empty
/// config). kubectl refuses anything else as "not a mapping".
pub(in crate::kubeconfig) fn root_is_mapping_or_null(doc: &Doc<'_>) -> bool {
    let Some(root) = doc.root else {
        return true;
    };
    let reader = Reader {
        doc,
        typing: Typing::Kubeconfig,
    };
    match reader.target(root) {
        Ok((_, node)) => {
            matches!(node.kind, Kind::Map { .. }) || matches!(reading(node), Some(Reading::Null))
        }
        Err(_) => true,
    }
}

struct Reader<'d, 's> {
    doc: &'d Doc<'s>,
    typing: Typing,
}

/// What a scalar node is, from its text, style and tag alone; `Typed` leaves it to
/// serde-saphyr.
enum Reading<'a> {
    Null,
    Str(&'a str),
    Bool(bool),
    Typed,
}

fn reading<'a>(node: &'a Node<'_>) -> Option<Reading<'a>> {
    let Kind::Scalar { value, style } = &node.kind else {
        return None;
    };
    let value = value.as_ref();
    Some(match node.tag {
        TagClass::Str => Reading::Str(value),
        TagClass::None if *style != ScalarStyle::Plain => Reading::Str(value),
        TagClass::None => match value {
            "" | "~" | "null" | "Null" | "NULL" => Reading::Null,
            "true" | "True" | "TRUE" => Reading::Bool(true),
            "false" | "False" | "FALSE" => Reading::Bool(false),
            v if super::fast::scalar::is_clearly_string(v) => Reading::Str(v),
            _ => Reading::Typed,
        },
        TagClass::Merge | TagClass::Other => Reading::Typed,
    })
}

/// A scalar as a one-line YAML document that serde-saphyr reads exactly as it read the
/// scalar in place: its tag, then plain text kept plain (so `123` or `yes` is typed as
/// before) and anything else double-quoted (a string, as quoted and block scalars are).
fn scalar_document(node: &Node<'_>, value: &str, style: ScalarStyle) -> String {
    let mut out = String::new();
    match node.tag {
        TagClass::Other => {
            if let Some(uri) = &node.tag_uri {
                out.push_str("!<");
                out.push_str(uri);
                out.push_str("> ");
            }
        }
        TagClass::Merge => out.push_str("!!merge "),
        TagClass::Str => out.push_str("!!str "),
        TagClass::None => {}
    }
    if style == ScalarStyle::Plain && node.tag != TagClass::Str {
        if value.is_empty() {
            out.push_str("null");
            return out;
        }
        if flow_plain_safe(value) {
            out.push_str(value);
            return out;
        }
    }
    out.push_str(&super::super::text::double_quoted(value));
    out
}

/// Text that reads back as the same plain scalar on its own. What fails this test is
/// never a number, boolean or null in any YAML version, so quoting it keeps its type (a
/// string).
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

/// The serde-saphyr options generic data is typed with (the editor's proof, `import`).
pub(crate) fn data_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    // Error text may quote the scalar (and so a token): only the position is ever
    // reported, and snippets are not rendered at all.
    options.with_snippet = false;
    options.crop_radius = 0;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::AsString;
    options.null_as_string = true;
    options
}

impl<'d, 's> Reader<'d, 's> {
    fn fail(&self, at: NodeId, message: impl Into<String>) -> TreeError {
        TreeError {
            position: Some(self.doc.position(at)),
            message: message.into(),
        }
    }

    /// The node `id` stands for: itself, or an alias's anchored node.
    fn target(&self, id: NodeId) -> Result<(NodeId, &'d Node<'s>), TreeError> {
        let target = self
            .doc
            .resolve(id)
            .ok_or_else(|| self.fail(id, "alias to an unknown anchor"))?;
        match self.doc.nodes.get(target) {
            // An alias inside the node its anchor names (`&a [*a]`, `&a {<<: *a}`).
            Some(node) if target < id && id < node.subtree_end => Err(self.fail(
                id,
                format!(
                    "anchor {} value contains itself",
                    crate::secret::shown(&anchor_label(self.doc, node.anchor))
                ),
            )),
            Some(node) if !matches!(node.kind, Kind::Alias { .. }) => Ok((target, node)),
            _ => Err(self.fail(id, "alias to an alias")),
        }
    }

    /// A scalar typed by serde-saphyr on its own text, with the options of [`Typing`].
    fn typed<T: DeserializeOwned>(&self, at: NodeId, node: &Node<'_>) -> Result<T, TreeError> {
        let Kind::Scalar { value, style } = &node.kind else {
            return Err(self.fail(at, "not a scalar"));
        };
        let text = scalar_document(node, value, *style);
        let options = match self.typing {
            Typing::Kubeconfig => serde_saphyr::options! {
                no_schema: true,
                with_snippet: false,
            },
            Typing::Data => data_options(),
        };
        serde_saphyr::from_str_with_options::<T>(&text, options)
            .map_err(|e| self.fail(at, e.without_snippet().to_string()))
    }

    /// A mapping's entries as go-yaml v2 builds them: in document order, each key (from
    /// the mapping itself or from a merge) overwriting an earlier one of the same name.
    fn entries(&self, map: NodeId, depth: usize) -> Result<Vec<(NodeId, NodeId)>, TreeError> {
        if depth > MAX_DEPTH {
            return Err(self.fail(map, format!("exceeded max depth of {MAX_DEPTH}")));
        }
        let pairs = self.doc.pairs(map);
        let mut out: Vec<(NodeId, NodeId)> = Vec::with_capacity(pairs.len());
        let mut index: HashMap<&'d str, usize> = HashMap::new();
        for (key, value) in pairs {
            if !is_merge_key(self.doc, key) {
                self.set(&mut out, &mut index, key, value)?;
                continue;
            }
            let (source, node) = self.target(value)?;
            let wrong = "map merge requires map or sequence of maps as the value";
            match &node.kind {
                Kind::Map { .. } => {
                    for (k, v) in self.entries(source, depth.saturating_add(1))? {
                        self.set(&mut out, &mut index, k, v)?;
                    }
                }
                Kind::Seq { items } => {
                    // Earlier mappings of the list take precedence: apply them last.
                    for &item in items.iter().rev() {
                        let (m, _) = self.target(item)?;
                        if !self.doc.is_map(m) {
                            return Err(self.fail(item, wrong));
                        }
                        for (k, v) in self.entries(m, depth.saturating_add(1))? {
                            self.set(&mut out, &mut index, k, v)?;
                        }
                    }
                }
                _ => return Err(self.fail(value, wrong)),
            }
        }
        Ok(out)
    }

    fn set(
        &self,
        out: &mut Vec<(NodeId, NodeId)>,
        index: &mut HashMap<&'d str, usize>,
        key: NodeId,
        value: NodeId,
    ) -> Result<(), TreeError> {
        let (_, node) = self.target(key)?;
        // kubectl turns a number or boolean key into a string, but refuses a null one
        // ("unsupported map key").
        if let Some(Reading::Null) = reading(node) {
            return Err(self.fail(key, "a mapping key that is null"));
        }
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
                index.insert(name, out.len());
                out.push((key, value));
            }
        }
        Ok(())
    }

    /// Every node below `id` as kubectl's decoder reaches it, aliases and merges followed,
    /// without recursion: the work is bounded by a budget that grows with the document,
    /// and the depth by kubectl's. With `scalars`, each scalar is also checked as kubectl
    /// checks a value it does not keep.
    fn walk(&self, id: NodeId, scalars: bool) -> Result<(), TreeError> {
        let mut budget = self.doc.nodes.len().saturating_mul(16).max(1_000_000);
        let mut stack: Vec<(NodeId, usize)> = vec![(id, 1)];
        while let Some((id, depth)) = stack.pop() {
            budget = budget
                .checked_sub(1)
                .ok_or_else(|| self.fail(id, "document contains excessive aliasing"))?;
            if depth > MAX_DEPTH {
                return Err(self.fail(id, format!("exceeded max depth of {MAX_DEPTH}")));
            }
            let (target, node) = self.target(id)?;
            let below = depth.saturating_add(1);
            match &node.kind {
                Kind::Scalar { value, .. } => {
                    if scalars {
                        if let Some(Reading::Typed) = reading(node) {
                            let plain_untagged = node.tag == TagClass::None;
                            if !(plain_untagged && super::fast::scalar::is_safe_ignored(value)) {
                                self.typed::<de::IgnoredAny>(id, node)?;
                            }
                        }
                    }
                }
                Kind::Seq { items } => stack.extend(items.iter().rev().map(|&i| (i, below))),
                Kind::Map { .. } => {
                    let entries = self.entries(target, depth)?;
                    budget = budget
                        .checked_sub(entries.len())
                        .ok_or_else(|| self.fail(id, "document contains excessive aliasing"))?;
                    stack.extend(entries.into_iter().rev().map(|(_, v)| (v, below)));
                }
                Kind::Alias { .. } => return Err(self.fail(id, "alias to an alias")),
            }
        }
        Ok(())
    }
}

/// The deserializer of one node (an alias stands for its anchored node).
#[derive(Clone, Copy)]
struct At<'r, 'd, 's> {
    r: &'r Reader<'d, 's>,
    id: NodeId,
}

impl At<'_, '_, '_> {
    /// An error from a visitor, placed at this node unless a deeper node placed it.
    fn locate(&self, mut e: TreeError) -> TreeError {
        if e.position.is_none() {
            e.position = Some(self.r.doc.position(self.id));
        }
        e
    }

    fn unexpected(node: &Node<'_>) -> Unexpected<'static> {
        match (&node.kind, reading(node)) {
            (Kind::Seq { .. }, _) => Unexpected::Seq,
            (Kind::Map { .. }, _) => Unexpected::Map,
            (_, Some(Reading::Null)) => Unexpected::Unit,
            (_, Some(Reading::Str(_))) => Unexpected::Other("string"),
            (_, Some(Reading::Bool(_))) => Unexpected::Other("boolean"),
            _ => Unexpected::Other("scalar"),
        }
    }
}

/// A scalar as serde-saphyr typed it, replayed into any visitor.
enum Any {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Str(String),
}

impl<'de> Deserialize<'de> for Any {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Any;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_unit<E>(self) -> Result<Any, E> {
                Ok(Any::Null)
            }
            fn visit_none<E>(self) -> Result<Any, E> {
                Ok(Any::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Any, E> {
                Ok(Any::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Any, E> {
                Ok(Any::I64(n))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Any, E> {
                Ok(Any::U64(n))
            }
            fn visit_i128<E>(self, n: i128) -> Result<Any, E> {
                Ok(Any::I128(n))
            }
            fn visit_u128<E>(self, n: u128) -> Result<Any, E> {
                Ok(Any::U128(n))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Any, E> {
                Ok(Any::F64(n))
            }
            fn visit_str<E>(self, s: &str) -> Result<Any, E> {
                Ok(Any::Str(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Any, E> {
                Ok(Any::Str(s))
            }
        }
        d.deserialize_any(V)
    }
}

impl Any {
    fn visit<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        match self {
            Any::Null => v.visit_unit(),
            Any::Bool(b) => v.visit_bool(b),
            Any::I64(n) => v.visit_i64(n),
            Any::U64(n) => v.visit_u64(n),
            Any::I128(n) => v.visit_i128(n),
            Any::U128(n) => v.visit_u128(n),
            Any::F64(n) => v.visit_f64(n),
            Any::Str(s) => v.visit_string(s),
        }
    }
}

impl<'de> de::Deserializer<'de> for At<'_, '_, '_> {
    type Error = TreeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        let (target, node) = self.r.target(self.id)?;
        let result = match (&node.kind, reading(node)) {
            (Kind::Seq { items }, _) => v.visit_seq(Items {
                r: self.r,
                items: items.iter(),
            }),
            (Kind::Map { .. }, _) => v.visit_map(Entries {
                r: self.r,
                pairs: self.r.entries(target, 1)?.into_iter(),
                value: None,
            }),
            (_, Some(Reading::Null)) => v.visit_unit(),
            (_, Some(Reading::Str(s))) => v.visit_str(s),
            (_, Some(Reading::Bool(b))) => v.visit_bool(b),
            _ => self.r.typed::<Any>(self.id, node)?.visit(v),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        let (_, node) = self.r.target(self.id)?;
        let null = match reading(node) {
            Some(Reading::Null) => true,
            Some(Reading::Typed) => matches!(self.r.typed::<Any>(self.id, node)?, Any::Null),
            _ => false,
        };
        let result = if null {
            v.visit_none()
        } else {
            v.visit_some(self)
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        let (_, node) = self.r.target(self.id)?;
        let result = match reading(node) {
            Some(Reading::Bool(b)) => v.visit_bool(b),
            Some(Reading::Typed) => v.visit_bool(self.r.typed::<bool>(self.id, node)?),
            _ => Err(de::Error::invalid_type(Self::unexpected(node), &v)),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        self.deserialize_string(v)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        let (_, node) = self.r.target(self.id)?;
        let result = match reading(node) {
            Some(Reading::Str(s)) => v.visit_str(s),
            Some(_) => v.visit_string(self.r.typed::<String>(self.id, node)?),
            None => Err(de::Error::invalid_type(Self::unexpected(node), &v)),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        self.deserialize_any(v)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        let (_, node) = self.r.target(self.id)?;
        let result = match &node.kind {
            Kind::Seq { items } => v.visit_seq(Items {
                r: self.r,
                items: items.iter(),
            }),
            _ => Err(de::Error::invalid_type(Self::unexpected(node), &v)),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        let (target, node) = self.r.target(self.id)?;
        let result = match &node.kind {
            Kind::Map { .. } => v.visit_map(Entries {
                r: self.r,
                pairs: self.r.entries(target, 1)?.into_iter(),
                value: None,
            }),
            _ => Err(de::Error::invalid_type(Self::unexpected(node), &v)),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, TreeError> {
        self.deserialize_map(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        let (_, node) = self.r.target(self.id)?;
        let result = match &node.kind {
            Kind::Scalar { value, .. } => v.visit_str(value),
            _ => Err(de::Error::invalid_type(Self::unexpected(node), &v)),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        self.r.walk(self.id, true)?;
        v.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, TreeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, TreeError> {
        Err(self
            .r
            .fail(self.id, "an enum is not read from a kubeconfig"))
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit_struct
        tuple tuple_struct
    }
}

/// A mapping key: kubectl turns every scalar key into a string.
struct Key<'r, 'd, 's> {
    r: &'r Reader<'d, 's>,
    id: NodeId,
}

impl<'de> de::Deserializer<'de> for Key<'_, '_, '_> {
    type Error = TreeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, TreeError> {
        let (_, node) = self.r.target(self.id)?;
        match &node.kind {
            Kind::Scalar { value, .. } => v.visit_str(value),
            _ => Err(self.r.fail(self.id, "a mapping key that is not a scalar")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct Items<'r, 'd, 's> {
    r: &'r Reader<'d, 's>,
    items: std::slice::Iter<'d, NodeId>,
}

impl<'de> de::SeqAccess<'de> for Items<'_, '_, '_> {
    type Error = TreeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TreeError> {
        match self.items.next() {
            Some(&id) => seed.deserialize(At { r: self.r, id }).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Entries<'r, 'd, 's> {
    r: &'r Reader<'d, 's>,
    pairs: std::vec::IntoIter<(NodeId, NodeId)>,
    value: Option<NodeId>,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_, '_> {
    type Error = TreeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TreeError> {
        match self.pairs.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(Key { r: self.r, id: key }).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, TreeError> {
        match self.value.take() {
            Some(id) => seed.deserialize(At { r: self.r, id }),
            None => Err(de::Error::custom("a value without its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.pairs.len())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kubeconfig::read::yaml_tree::Stream;
    use serde_json::{json, Value};

    fn data(doc: &str) -> Result<Value, String> {
        let tree = Doc::parse(doc, Stream::Drop).map_err(|e| e.to_string())?;
        read::<Value>(&tree, Typing::Data)
            .map(Option::unwrap_or_default)
            .map_err(|e| format!("{:?}: {}", e.position, e.message))
    }

    /// Where serde-saphyr, a whole-document YAML reader, reads a document without merge keys, the tree's generic reading is the same data: every scalar keeps
    /// its type. `Err` names the first difference.
    pub(crate) fn same_data_as_serde_saphyr(doc: &str) -> Result<(), String> {
        if doc.contains("<<") {
            return Ok(());
        }
        let Ok(theirs) = serde_saphyr::from_str_with_options::<Value>(doc, data_options()) else {
            return Ok(());
        };
        match data(doc) {
            Ok(ours) if ours == theirs => Ok(()),
            Ok(ours) => Err(format!("{ours} != {theirs}")),
            // The parser refuses what serde-saphyr reads only for a reason kubectl refuses too.
            Err(e) if e.contains("null") || e.contains("depth") => Ok(()),
            Err(e) => Err(format!("refused ({e}) where serde-saphyr reads {theirs}")),
        }
    }

    #[test]
    fn merge_keys_apply_in_document_order() {
        let u = |doc: &str| data(doc).expect("reads")["u"].clone();
        let before = "b: &b {token: M}\nu:\n  token: E\n  <<: *b\n";
        assert_eq!(u(before), json!({"token": "M"}));
        let after = "b: &b {token: M}\nu:\n  <<: *b\n  token: E\n";
        assert_eq!(u(after), json!({"token": "E"}));
        let list = "a: &a {t: A}\nb: &b {t: B}\nu: {<<: [*a, *b]}\n";
        assert_eq!(u(list), json!({"t": "A"}));
        let two = "a: &a {t: A}\nb: &b {t: B}\nu: {<<: *a, t: X, <<: *b}\n";
        assert_eq!(u(two), json!({"t": "B"}));
        let quoted = "b: &b {t: M}\nu: {t: E, \"<<\": *b}\n";
        assert_eq!(u(quoted), json!({"t": "E", "<<": {"t": "M"}}));
        let tagged = "b: &b {t: M}\nu: {t: E, !!merge \"<<\": *b}\n";
        assert_eq!(u(tagged), json!({"t": "M"}));
    }

    /// The block layout the fast path reads: it leaves `<<` to the tree, which reads it
    /// as kubectl does.
    #[test]
    fn the_loader_reads_merge_keys_as_kubectl_on_every_path() {
        let doc = "users:\n- name: u\n  user:\n    token: explicit\n    <<:\n      token: merged\n";
        assert!(crate::kubeconfig::read::fast::parse(doc).is_none());
        let cfg = crate::kubeconfig::load::parse(std::path::Path::new(""), doc).expect("loads");
        let token = cfg.users[0]
            .user
            .as_ref()
            .and_then(|u| u.token.as_ref().map(crate::secret::Token::expose));
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
        let doc = "b: &b {n: 12, s: '12', e: , q: \"a: b\", p: a b, h: 0x10, y: yes, t: !!str 1, f: 1e3}\nu: {<<: *b}\n";
        assert_eq!(
            data(doc).expect("reads")["u"],
            json!({"n": 12, "s": "12", "e": null, "q": "a: b", "p": "a b", "h": 16, "y": true, "t": "1", "f": 1000.0})
        );
        for doc in [
            doc,
            "a: [1, '1', ~, .inf, -.5, +12, 0o17, 1_000, !!binary aGk=, !foo bar]\n",
        ] {
            same_data_as_serde_saphyr(&doc.replace("<<", "m")).expect("same");
        }
    }

    /// kubectl turns number and boolean keys into strings and refuses a null key; the
    /// loader does the same.
    #[test]
    fn keys_are_read_as_kubectl_reads_them() {
        let load = |doc: &str| crate::kubeconfig::load::parse(std::path::Path::new("f"), doc);
        for key in ["1", "1.5", "true", "yes", "''"] {
            let doc = format!("users:\n- name: u\n  {key}: x\n  user: {{token: t}}\n");
            let cfg = load(&doc).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(
                cfg.users[0]
                    .user
                    .as_ref()
                    .and_then(|u| u.token.as_ref().map(crate::secret::Token::expose)),
                Some("t")
            );
        }
        for key in ["~", "null", "[a]", "{a: 1}"] {
            let doc = format!("users:\n- name: u\n  {key}: x\n  user: {{token: t}}\n");
            assert!(load(&doc).is_err(), "{key}");
        }
    }

    #[test]
    fn bad_merge_values_and_alias_bombs_are_refused() {
        let e = data("u: {<<: 5}\n").expect_err("refused");
        assert!(
            e.ends_with("map merge requires map or sequence of maps as the value"),
            "{e}"
        );
        let mut bomb = String::from("a0: &a0 {<<: {x: 1}}\n");
        for i in 1..12 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = data(&bomb).expect_err("refused");
        assert!(e.ends_with("document contains excessive aliasing"), "{e}");
        // kubectl: "anchor 'a' value contains itself".
        for doc in [
            "a: &a {<<: *a}\n",
            "a: &a [*a]\n",
            "a: &a {b: [1, {c: *a}]}\n",
        ] {
            let e = data(doc).expect_err("refused");
            assert!(e.ends_with("anchor &a value contains itself"), "{e}");
        }
    }

    /// Values the model does not name are checked as kubectl checks them (an infinity is
    /// refused), but not kept; a model field refuses a plain non-string.
    #[test]
    fn skipped_values_are_checked_and_model_strings_are_strict() {
        let load = |doc: &str| crate::kubeconfig::load::parse(std::path::Path::new("f"), doc);
        assert!(load("preferences: {x: [1, 2, {y: .5}]}\nusers: []\n").is_ok());
        let e = load("preferences: {x: [1, 2, {y: .inf}]}\n").expect_err("refused");
        assert!(e.to_string().starts_with("kubeconfig f:1:29:"), "{e}");
        let e = load("users:\n- name: u\n  user: {token: 123}\n").expect_err("refused");
        assert!(e.to_string().starts_with("kubeconfig f:3:17:"), "{e}");
        assert!(!e.to_string().contains("123"), "{e}");
    }
}
