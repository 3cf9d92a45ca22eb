//! The line scanner's reading of a document as generic data (`serde_json::Value`), for the
//! editor's append fast path: it reads back the entries it inserted, whose extension
//! records the model does not keep, without a node tree. Its rule is the scanner's: `Some`
//! only when sure the node tree reads the same data (`from_tree.rs`, `Typing::Data`); a
//! plain scalar that could be typed as anything but a string (numbers, booleans), a quoted
//! or unusual key, a duplicate key, a flow collection other than `{}` and `[]`, anything
//! the model's reading refuses, gives `None`.

use serde_json::{Map, Value};

use super::scalar::*;
use super::{Line, Nested, Parser};

/// `doc`'s data when it is a block mapping at column 0 the scanner reads whole; `None`
/// whenever unsure.
pub fn data(doc: &str) -> Option<Value> {
    if doc.len() > super::MAX_DOC_BYTES {
        return None;
    }
    let owner = super::ByteString::from(doc);
    let mut p = Parser::new(&owner);
    match p.peek().ok()? {
        Some(line) if line.indent == 0 => {}
        _ => return None,
    }
    let data = p.map_data(0).ok()?;
    // `entry` ends only at the end of the text or at a line left of column 0.
    match p.peek().ok()? {
        None => Some(data),
        Some(_) => None,
    }
}

impl<'a> Parser<'a> {
    /// The value of a key at column `n` (`rest` follows its colon).
    fn value_data(&mut self, n: usize, rest: Text<'a>) -> R<Value> {
        let v = match value(rest)? {
            Val::Empty => {
                return match self.nested(n, true)? {
                    Nested::Null => Ok(Value::Null),
                    Nested::Map(c) => self.map_data(c),
                    Nested::Seq(m) => self.seq_data(m),
                }
            }
            Val::EmptyMap => Value::Object(Map::new()),
            Val::EmptySeq => Value::Array(Vec::new()),
            Val::Plain(s) if is_null(s) => Value::Null,
            Val::Plain(s) if is_clearly_string(s) => Value::String(s.to_owned()),
            Val::Plain(_) => return Err(Bail),
            Val::Single(raw) => Value::String(raw.replace("''", "'")),
            Val::Double(raw) => Value::String(unescape_double(raw)?),
        };
        self.no_deeper(n)?;
        Ok(v)
    }

    /// A block mapping whose keys are at column `c`.
    fn map_data(&mut self, c: usize) -> R<Value> {
        self.enter()?;
        let mut map = Map::new();
        while let Some((key, rest)) = self.entry(c)? {
            let v = self.value_data(c, rest)?;
            if map.insert(key.to_owned(), v).is_some() {
                return Err(Bail);
            }
        }
        self.leave();
        Ok(Value::Object(map))
    }

    /// A block sequence whose `-` are at column `m`.
    fn seq_data(&mut self, m: usize) -> R<Value> {
        self.enter()?;
        let mut items = Vec::new();
        while let Some(rest) = self.seq_entry(m)? {
            let text = rest.trim_start()?;
            let item = if text.s.is_empty() || text.s.starts_with('#') {
                match self.nested(m, false)? {
                    Nested::Null => Value::Null,
                    Nested::Map(c) => self.map_data(c)?,
                    Nested::Seq(c) => self.seq_data(c)?,
                }
            } else if is_seq_entry(text.s) {
                return Err(Bail);
            } else if split_key(text).is_ok() {
                let col = m
                    .saturating_add(1)
                    .saturating_add(rest.s.len().saturating_sub(text.s.len()));
                self.cur = Some(Line {
                    indent: col,
                    end: self.last_end,
                    text,
                });
                self.map_data(col)?
            } else {
                self.value_data(m, rest)?
            };
            items.push(item);
        }
        self.leave();
        Ok(Value::Array(items))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::data;
    use crate::kubeconfig::read::from_tree::{self, Typing};
    use crate::kubeconfig::read::yaml_tree::{Doc, Stream};

    /// The node tree's reading of `doc` as data, the oracle.
    fn tree_data(doc: &str) -> Option<Value> {
        let tree = Doc::parse(doc, Stream::Drop).ok()?;
        let read = crate::kubeconfig::load::on_parse_stack(|| {
            from_tree::read::<Value>(&tree, Typing::Data)
        })
        .ok()?;
        read.ok().map(Option::unwrap_or_default)
    }

    #[test]
    fn reads_block_entries_as_the_tree_does() {
        let doc = "clusters:\n- cluster:\n    extensions:\n    - extension:\n        id: id-1\n        zone: 'US-EAST-04A'\n      name: coreweave.com/cks-cluster\n    server: \"https://a.example:443\"\n  name: c1 # one\ncontexts:\n  - name: c1\n    context: {}\n    x: []\n    blank:\n    tilde: ~\ncurrent-context: c1\n";
        let want = json!({
            "clusters": [{"cluster": {"extensions": [{"extension": {"id": "id-1", "zone": "US-EAST-04A"},
                "name": "coreweave.com/cks-cluster"}], "server": "https://a.example:443"}, "name": "c1"}],
            "contexts": [{"name": "c1", "context": {}, "x": [], "blank": null, "tilde": null}],
            "current-context": "c1",
        });
        assert_eq!(data(doc), Some(want.clone()));
        assert_eq!(tree_data(doc), Some(want));
    }

    #[test]
    fn declines_what_it_cannot_be_sure_of() {
        for doc in [
            "a: yes\n",
            "a: 1\n",
            "a: 1.5\n",
            "a: [1]\n",
            "a: {b: c}\n",
            "a: &x b\n",
            "a: !!str b\n",
            "a: |\n  b\n",
            "a: b\na: c\n",
            "\"a\": b\n",
            "a:\n- - b\n",
            "a: b\n  c\n",
            "y: b\n",
            "- a\n",
            "",
        ] {
            assert_eq!(data(doc), None, "{doc:?}");
        }
    }

    const WORDS: [&str; 24] = [
        "a",
        "n:1",
        "yes",
        "No",
        "1",
        "1.5",
        "0x1F",
        "1e3",
        ".inf",
        "~",
        "null",
        "a b",
        "#x",
        "x #y",
        "'q'",
        "\"d\"",
        "",
        "2026-01-01",
        "https://h:443",
        "-x",
        "- x",
        "a: b",
        "é",
        "{}",
    ];

    /// A line of `key: value` with the value written raw, single- or double-quoted.
    fn scalar() -> impl Strategy<Value = String> {
        (proptest::sample::select(WORDS.to_vec()), 0u8..3).prop_map(|(w, style)| match style {
            0 => w.to_owned(),
            1 => format!("'{}'", w.replace('\'', "''")),
            _ => format!("\"{}\"", w.replace('\\', "\\\\").replace('"', "\\\"")),
        })
    }

    /// Block documents of nested mappings and lists with such scalars.
    fn document() -> impl Strategy<Value = String> {
        let leaf = scalar().prop_map(|s| vec![format!(" {s}")]);
        let tree = leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(
                    (
                        proptest::sample::select(vec!["k", "name", "yes", "id", "k"]),
                        inner.clone()
                    ),
                    1..4
                )
                .prop_map(|pairs| {
                    let mut lines = vec![String::new()];
                    for (k, v) in pairs {
                        let mut v = v.into_iter();
                        lines.push(format!("{k}:{}", v.next().unwrap_or_default()));
                        lines.extend(v.map(|l| format!("  {l}")));
                    }
                    lines
                }),
                proptest::collection::vec(inner, 1..4).prop_map(|items| {
                    let mut lines = vec![String::new()];
                    for item in items {
                        let mut item = item.into_iter();
                        lines.push(format!("-{}", item.next().unwrap_or_default()));
                        lines.extend(item.map(|l| format!("  {l}")));
                    }
                    lines
                }),
            ]
        });
        tree.prop_map(|lines| {
            let mut doc = String::from("top:");
            let mut lines = lines.into_iter();
            doc.push_str(&lines.next().unwrap_or_default());
            doc.push('\n');
            for l in lines {
                doc.push_str("  ");
                doc.push_str(&l);
                doc.push('\n');
            }
            doc
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn some_only_when_the_tree_reads_the_same(doc in document()) {
            if let Some(got) = data(&doc) {
                prop_assert_eq!(Some(got), tree_data(&doc), "{:?}", doc);
            }
        }
    }
}
