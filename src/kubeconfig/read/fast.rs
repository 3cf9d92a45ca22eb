//! The fast path for reading one kubeconfig file: a line scanner for the block-style YAML
//! subset that kubectl writes and people usually write, filling the same [`FileConfig`] as
//! the node tree (`yaml_tree.rs` read by `from_tree.rs`, "the full parser" below). It
//! exists for start-up speed (`token show --raw` on megabytes of kubeconfig; BENCHMARKS.md).
//! Its rule: `Some` only when sure the full parser returns `Ok` with the same value; on
//! anything unusual (anchors, tags, block or multi-line scalars, flow collections, quoted
//! keys, tabs, scalars YAML 1.1 would type, duplicate keys the model reads, ...) `None`,
//! and the full parser decides, error messages included: being wrong that way costs time
//! only, so every check errs towards `None`.

use serde::de::IgnoredAny;

use super::super::model::{ByteString, FileConfig};

mod data;
mod entries;
pub(in crate::kubeconfig) mod scalar;
mod spans;

pub use data::data;
pub use spans::{ListAt, ScalarAt, ScalarStyle, TokenSpan, TopLayout};

use scalar::*;

/// Larger documents go to the full parser: no limit of its own should ever be what tells
/// the two apart.
const MAX_DOC_BYTES: usize = 48 << 20;
/// Deeper nesting goes to the full parser (kubectl's limit is 10,000; no kubeconfig
/// layout the scanner reads comes near 40).
const MAX_DEPTH: usize = 40;

/// `doc` is the text of the first YAML document (the caller already cut off later
/// documents).
///
/// Returns `Some(config)` only if the full parser (the tree and `from_tree.rs`: YAML 1.1
/// scalars refused in string fields, the last of duplicate keys kept) would
/// return `Ok` with exactly this value, and only for an `apiVersion` of `v1` (or none) and
/// a `kind` of `Config` (or none), so the caller's version check never needs the full
/// parser's view. Returns `None` whenever unsure, including for every input the full
/// parser would reject, and for a document without content.
///
/// The model's plain strings are slices of `doc`'s buffer; a caller holding the text
/// as a [`ByteString`] already passes it to [`parse_shared`] instead, which copies nothing.
pub fn parse(doc: &str) -> Option<FileConfig> {
    parse_shared(&ByteString::from(doc))
}

/// [`parse`] of a document held as a [`ByteString`].
pub fn parse_shared(doc: &ByteString) -> Option<FileConfig> {
    parse_with_spans(doc).map(|(config, _, _)| config)
}

/// [`parse`], and for each entry of `users` (in order) where its `token` scalar is, when
/// it has a non-null one.
pub fn parse_with_token_spans(doc: &str) -> Option<(FileConfig, Vec<Option<TokenSpan>>)> {
    parse_with_spans(&ByteString::from(doc)).map(|(config, tokens, _)| (config, tokens))
}

/// [`parse_with_token_spans`] of a document held as a [`ByteString`], and where the top
/// level's lists and `current-context` stand (the editor's append fast path).
pub fn parse_with_spans(
    doc: &ByteString,
) -> Option<(FileConfig, Vec<Option<TokenSpan>>, TopLayout)> {
    scan(doc, [0; 3])
}

/// [`parse_shared`] of a document expected to read as `like` but for some scalars (the
/// editor's result, read again for its proof): its lists are allocated at `like`'s
/// lengths instead of grown.
pub fn parse_like(doc: &ByteString, like: &FileConfig) -> Option<FileConfig> {
    let sizes = [like.clusters.len(), like.contexts.len(), like.users.len()];
    scan(doc, sizes).map(|(config, _, _)| config)
}

/// `sizes`: the expected lengths of `clusters`, `contexts` and `users` (0: unknown).
fn scan(
    doc: &ByteString,
    sizes: [usize; 3],
) -> Option<(FileConfig, Vec<Option<TokenSpan>>, TopLayout)> {
    if doc.len() > MAX_DOC_BYTES {
        return None;
    }
    let mut p = Parser::new(doc);
    p.sizes = sizes;
    p.user_tokens.reserve_exact(sizes[2]);
    let config = p.file().ok()?;
    let version_ok = matches!(config.api_version.as_deref(), None | Some("" | "v1"));
    let kind_ok = matches!(config.kind.as_deref(), None | Some("" | "Config"));
    if p.user_tokens.len() != config.users.len() {
        return None;
    }
    (version_ok && kind_ok).then_some((config, p.user_tokens, p.top))
}

/// A line with content (not blank, not only a comment).
#[derive(Clone, Copy)]
struct Line<'a> {
    /// Column of the first character of `text`.
    indent: usize,
    /// The offset after the line's break (the end of the text on the last line).
    end: usize,
    /// From the first non-space character to the end of the line, line break excluded.
    text: Text<'a>,
}

/// What follows a key whose value is not on its line.
enum Nested {
    Null,
    /// A block mapping whose keys are at this column.
    Map(usize),
    /// A block sequence whose `-` are at this column.
    Seq(usize),
}

struct Parser<'a> {
    /// The document; plain scalars are slices of its buffer.
    owner: &'a ByteString,
    src: &'a str,
    /// Byte offset of the next line not yet read.
    pos: usize,
    /// The line looked at and not yet consumed. It may be synthetic: the mapping that
    /// follows a `- ` on the same line.
    cur: Option<Line<'a>>,
    /// A `---` before any content opens the document.
    doc_start_allowed: bool,
    nodes: usize,
    depth: usize,
    /// The `token` scalar of the user being read, for the editor.
    token: Option<TokenSpan>,
    /// One slot per entry of `users`, in order, for the editor.
    user_tokens: Vec<Option<TokenSpan>>,
    /// The end of the last line consumed (`Line::end`).
    last_end: usize,
    /// The top level's layout, for the editor.
    top: TopLayout,
    /// The expected lengths of the top level's lists, when known ([`parse_like`]).
    sizes: [usize; 3],
}

impl<'a> Parser<'a> {
    fn new(owner: &'a ByteString) -> Self {
        Parser {
            owner,
            src: owner,
            pos: 0,
            cur: None,
            doc_start_allowed: true,
            nodes: 0,
            depth: 0,
            token: None,
            user_tokens: Vec::new(),
            last_end: 0,
            top: TopLayout::default(),
            sizes: [0; 3],
        }
    }

    /// Read the next physical line, checking every character: printable ASCII, or a
    /// non-ASCII character that YAML prints and that no parser treats as a break or a
    /// byte-order mark. Tabs, control characters and a CR not followed by LF give up.
    fn read_line(&mut self) -> R<Option<Text<'a>>> {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let rest = match bytes.get(start..) {
            Some(rest) if !rest.is_empty() => rest,
            _ => return Ok(None),
        };
        let (len, next) = match memchr::memchr(b'\n', rest) {
            Some(k) if k > 0 && rest.get(k.saturating_sub(1)) == Some(&b'\r') => {
                (k.saturating_sub(1), k.saturating_add(1))
            }
            Some(k) => (k, k.saturating_add(1)),
            None => (rest.len(), rest.len()),
        };
        let line = rest.get(..len).ok_or(Bail)?;
        if !all_printable_ascii(line) {
            check_chars(self.src.get(start..start.saturating_add(len)).ok_or(Bail)?)?;
        }
        self.pos = start.saturating_add(next);
        Ok(Some(Text {
            s: self.src.get(start..start.saturating_add(len)).ok_or(Bail)?,
            quiet: memchr::memrchr2(b':', b'#', line).map_or(0, |k| k.saturating_add(1)),
        }))
    }

    /// The next line with content, without consuming it; `None` at the end.
    fn peek(&mut self) -> R<Option<Line<'a>>> {
        if let Some(line) = self.cur {
            return Ok(Some(line));
        }
        while let Some(raw) = self.read_line()? {
            let text = raw.trim_start()?;
            if text.s.is_empty() || text.s.starts_with('#') {
                continue;
            }
            let indent = raw.s.len().saturating_sub(text.s.len());
            let end = self.pos;
            if indent == 0 && (text.s.starts_with("---") || text.s.starts_with("...")) {
                if text.s == "---" && self.doc_start_allowed {
                    self.doc_start_allowed = false;
                    continue;
                }
                return Err(Bail);
            }
            self.doc_start_allowed = false;
            let line = Line { indent, end, text };
            self.cur = Some(line);
            return Ok(Some(line));
        }
        Ok(None)
    }

    fn advance(&mut self) {
        if let Some(line) = self.cur.take() {
            self.last_end = line.end;
        }
    }

    fn bump(&mut self, nodes: usize) -> R<()> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > self.src.len() {
            return Err(Bail);
        }
        Ok(())
    }

    fn enter(&mut self) -> R<()> {
        self.depth = self.depth.saturating_add(1);
        if self.depth > MAX_DEPTH {
            return Err(Bail);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// After a value written on its key's (or its `-`'s) line, nothing may follow that
    /// is indented deeper than `n`: it would continue a plain scalar or be an error.
    fn no_deeper(&mut self, n: usize) -> R<()> {
        match self.peek()? {
            Some(line) if line.indent > n => Err(Bail),
            _ => Ok(()),
        }
    }

    /// The node after a key at column `n` (`indentless`) or a `-` at column `n` whose
    /// line has no value.
    fn nested(&mut self, n: usize, indentless: bool) -> R<Nested> {
        Ok(match self.peek()? {
            Some(line) if line.indent > n => {
                if is_seq_entry(line.text.s) {
                    Nested::Seq(line.indent)
                } else {
                    Nested::Map(line.indent)
                }
            }
            Some(line) if indentless && line.indent == n && is_seq_entry(line.text.s) => {
                Nested::Seq(n)
            }
            _ => Nested::Null,
        })
    }

    /// The next entry of the block mapping whose keys are at column `n`, consumed:
    /// its key and the rest of its line after the colon. `None` at its end.
    fn entry(&mut self, n: usize) -> R<Option<(&'a str, Text<'a>)>> {
        let Some(line) = self.peek()? else {
            return Ok(None);
        };
        if line.indent < n {
            return Ok(None);
        }
        if line.indent > n {
            return Err(Bail);
        }
        let (key, rest) = split_key(line.text)?;
        self.advance();
        self.bump(2)?;
        Ok(Some((key, rest)))
    }

    /// The next entry of the block sequence whose `-` are at column `m`, consumed: the
    /// rest of its line after the `-`. `None` at its end.
    fn seq_entry(&mut self, m: usize) -> R<Option<Text<'a>>> {
        let Some(line) = self.peek()? else {
            return Ok(None);
        };
        if line.indent < m {
            return Ok(None);
        }
        if line.indent > m {
            return Err(Bail);
        }
        if !is_seq_entry(line.text.s) {
            // The end of an indentless sequence; anywhere else, the caller finds this
            // line deeper than its own column and gives up.
            return Ok(None);
        }
        self.advance();
        self.bump(1)?;
        line.text.from(1).map(Some)
    }

    /// The document: a block mapping at column 0.
    fn file(&mut self) -> R<FileConfig> {
        match self.peek()? {
            Some(line) if line.indent == 0 => {
                self.top.root_start = self.offset_of(line.text.s)?;
            }
            _ => return Err(Bail),
        }
        self.enter()?;
        self.bump(1)?;
        let mut cfg = FileConfig::default();
        let mut seen = 0u8;
        while let Some((key, rest)) = self.entry(0)? {
            match key {
                "apiVersion" => {
                    once(&mut seen, 1)?;
                    cfg.api_version = self.string(0, rest)?;
                }
                "kind" => {
                    once(&mut seen, 2)?;
                    cfg.kind = self.string(0, rest)?;
                }
                "current-context" => {
                    once(&mut seen, 4)?;
                    self.top.current_context = self.scalar_at(rest)?;
                    cfg.current_context = self.string(0, rest)?;
                }
                "clusters" => {
                    once(&mut seen, 8)?;
                    let first = self.first_item(rest)?;
                    cfg.clusters = self.list(0, rest, Self::named_cluster, self.sizes[0])?;
                    self.top.clusters = self.list_at(first, cfg.clusters.len());
                }
                "contexts" => {
                    once(&mut seen, 16)?;
                    let first = self.first_item(rest)?;
                    cfg.contexts = self.list(0, rest, Self::named_context, self.sizes[1])?;
                    self.top.contexts = self.list_at(first, cfg.contexts.len());
                }
                "users" => {
                    once(&mut seen, 32)?;
                    let first = self.first_item(rest)?;
                    cfg.users = self.list(0, rest, Self::named_user, self.sizes[2])?;
                    self.top.users = self.list_at(first, cfg.users.len());
                }
                _ => {
                    self.skip(0, rest)?;
                }
            }
        }
        self.top.content_end = self.last_end;
        self.leave();
        // entry() ends only at the end of the text or at a line left of column 0.
        match self.peek()? {
            None => Ok(cfg),
            Some(_) => Err(Bail),
        }
    }

    /// How many items the block sequence with its `-` at column `m`, from the next line
    /// on, has: the lines at column `m` that are `-` or start with `- `, up to the first
    /// line with content at a lower column, or at `m` without a `-`. Only a capacity
    /// hint (a top-level list of 2,000 entries grown by doubling was copied ten times,
    /// each copy fresh pages): a wrong count costs time, never the reading.
    fn items_ahead(&self, m: usize) -> usize {
        // A hostile file could list millions of empty items: beyond this the list grows.
        const MAX_HINT: usize = 1 << 16;
        let bytes = self.src.as_bytes();
        let mut start = self.last_end;
        let mut count = 0usize;
        while let Some(line) = bytes.get(start..).filter(|l| !l.is_empty()) {
            let len = memchr::memchr(b'\n', line).unwrap_or(line.len());
            start = start.saturating_add(len).saturating_add(1);
            let text = line.get(..len).unwrap_or_default();
            let indent = leading_spaces_of(text);
            match text.get(indent) {
                None | Some(b'#' | b'\r') => {}
                Some(b'-')
                    if indent == m
                        && matches!(
                            text.get(indent.saturating_add(1)),
                            None | Some(b' ' | b'\r')
                        ) =>
                {
                    count = count.saturating_add(1);
                }
                Some(_) if indent > m => {}
                Some(_) => break,
            }
        }
        count.min(MAX_HINT)
    }

    /// Where `inner` (a part of the document) starts in it.
    fn offset_of(&self, inner: &str) -> R<usize> {
        (inner.as_ptr() as usize)
            .checked_sub(self.src.as_ptr() as usize)
            .ok_or(Bail)
    }

    /// Where a top-level list's first item has its content, when the list is a block list
    /// whose first `-` line holds some (`rest` follows the list's key), read before the
    /// list is.
    fn first_item(&mut self, rest: Text<'a>) -> R<Option<usize>> {
        if !matches!(value(rest)?, Val::Empty) {
            return Ok(None);
        }
        let Nested::Seq(_) = self.nested(0, true)? else {
            return Ok(None);
        };
        let Some(line) = self.peek()? else {
            return Ok(None);
        };
        let content = line.text.from(1)?.trim_start()?;
        if content.s.is_empty() || content.s.starts_with('#') {
            return Ok(None);
        }
        self.offset_of(content.s).map(Some)
    }

    /// A top-level list just read, with `len` items: a block list ends at the last line
    /// consumed.
    fn list_at(&self, first: Option<usize>, len: usize) -> ListAt {
        if len == 0 {
            ListAt::Empty
        } else {
            ListAt::Block {
                first,
                end: self.last_end,
            }
        }
    }

    /// Where the scalar written in `rest` (after a top-level key's colon) stands.
    fn scalar_at(&self, rest: Text<'a>) -> R<ScalarAt> {
        let at = self.offset_of(rest.s)?;
        let text = rest.trim_start()?;
        let start = self.offset_of(text.s)?;
        Ok(match value(rest)? {
            Val::Empty => ScalarAt::Empty(at),
            Val::Plain(s) => ScalarAt::Scalar(start..start.saturating_add(s.len())),
            Val::Single(s) | Val::Double(s) => {
                ScalarAt::Scalar(start..start.saturating_add(s.len()).saturating_add(2))
            }
            Val::EmptyMap | Val::EmptySeq => return Err(Bail),
        })
    }

    /// A string field of a mapping at column `n`; `rest` follows the colon. A plain
    /// scalar is a slice of the document; a quoted one is unquoted into its own buffer.
    fn string(&mut self, n: usize, rest: Text<'a>) -> R<Option<ByteString>> {
        let val = value(rest)?;
        if let Val::Empty = val {
            return match self.nested(n, true)? {
                Nested::Null => Ok(None),
                _ => Err(Bail),
            };
        }
        let s = match val {
            Val::Empty | Val::EmptyMap | Val::EmptySeq => return Err(Bail),
            Val::Plain(s) if is_null(s) => None,
            Val::Plain(s) if is_clearly_string(s) => Some(self.owner.slice_ref(s)),
            Val::Plain(_) => return Err(Bail),
            Val::Single(raw) => Some(raw.replace("''", "'").into()),
            Val::Double(raw) => Some(unescape_double(raw)?.into()),
        };
        self.no_deeper(n)?;
        Ok(s)
    }

    /// A boolean field (`Option<bool>`): only plain `true` and `false`, and null; any other
    /// spelling goes to the full parser.
    fn boolean(&mut self, n: usize, rest: Text<'a>) -> R<Option<bool>> {
        let b = match value(rest)? {
            Val::Plain("true") => Some(true),
            Val::Plain("false") => Some(false),
            Val::Plain(s) if is_null(s) => None,
            Val::Empty => {
                return match self.nested(n, true)? {
                    Nested::Null => Ok(None),
                    _ => Err(Bail),
                }
            }
            _ => return Err(Bail),
        };
        self.no_deeper(n)?;
        Ok(b)
    }

    /// Where the scalar written in `rest` stands in the document (None for no scalar).
    fn span_of(&self, rest: Text<'a>) -> R<Option<TokenSpan>> {
        let base = self.src.as_ptr() as usize;
        let at = |inner: &str, quote: usize| -> R<std::ops::Range<usize>> {
            let start = (inner.as_ptr() as usize)
                .checked_sub(base)
                .and_then(|o| o.checked_sub(quote))
                .ok_or(Bail)?;
            let end = start
                .checked_add(inner.len())
                .and_then(|e| e.checked_add(2 * quote))
                .ok_or(Bail)?;
            Ok(start..end)
        };
        Ok(match value(rest)? {
            Val::Plain(s) if !is_null(s) => Some(TokenSpan {
                range: at(s, 0)?,
                style: ScalarStyle::Plain,
            }),
            Val::Single(s) => Some(TokenSpan {
                range: at(s, 1)?,
                style: ScalarStyle::Single,
            }),
            Val::Double(s) => Some(TokenSpan {
                range: at(s, 1)?,
                style: ScalarStyle::Double,
            }),
            _ => None,
        })
    }

    /// A list field of a mapping at column `n`: `None` for null (the model's top-level
    /// lists read that as empty, `extensions` as absent).
    fn list<T, L: From<Vec<T>> + Default>(
        &mut self,
        n: usize,
        rest: Text<'a>,
        item: fn(&mut Self, usize, Text<'a>) -> R<T>,
        expected: usize,
    ) -> R<L> {
        match value(rest)? {
            Val::Empty => match self.nested(n, true)? {
                Nested::Null => Ok(L::default()),
                Nested::Seq(m) => {
                    self.enter()?;
                    let expected = match expected {
                        0 if n == 0 => self.items_ahead(m),
                        known => known,
                    };
                    let mut out = Vec::with_capacity(expected);
                    while let Some(rest) = self.seq_entry(m)? {
                        out.push(item(self, m, rest)?);
                    }
                    self.leave();
                    // Kept as long as the reading (all of a rotate's planning): growing
                    // by doubling left up to half of a 2,000-entry list unused.
                    out.shrink_to_fit();
                    Ok(out.into())
                }
                Nested::Map(_) => Err(Bail),
            },
            Val::EmptySeq => {
                self.no_deeper(n)?;
                Ok(Vec::new().into())
            }
            Val::Plain(s) if is_null(s) => {
                self.no_deeper(n)?;
                Ok(L::default())
            }
            _ => Err(Bail),
        }
    }

    /// An optional struct field of a mapping at column `n`; `body` reads its block mapping.
    fn opt_struct<T: Default>(
        &mut self,
        n: usize,
        rest: Text<'a>,
        body: fn(&mut Self, usize) -> R<T>,
    ) -> R<Option<T>> {
        match value(rest)? {
            Val::Empty => match self.nested(n, true)? {
                Nested::Null => Ok(None),
                Nested::Map(c) => {
                    self.enter()?;
                    let out = body(self, c)?;
                    self.leave();
                    Ok(Some(out))
                }
                Nested::Seq(_) => Err(Bail),
            },
            Val::EmptyMap => {
                self.no_deeper(n)?;
                Ok(Some(T::default()))
            }
            Val::Plain(s) if is_null(s) => {
                self.no_deeper(n)?;
                Ok(None)
            }
            _ => Err(Bail),
        }
    }

    /// A field read only as present (any non-null value) or absent.
    fn presence(&mut self, n: usize, rest: Text<'a>) -> R<Option<IgnoredAny>> {
        Ok(self.skip(n, rest)?.then_some(IgnoredAny))
    }

    /// The start of a list item that must be a mapping, its `-` at column `m`: the
    /// column of the mapping's keys, or `None` for `{}`. A mapping starting on the `-`
    /// line becomes the current line.
    fn item_map(&mut self, m: usize, rest: Text<'a>) -> R<Option<usize>> {
        let text = rest.trim_start()?;
        if text.s.is_empty() || text.s.starts_with('#') {
            return match self.nested(m, false)? {
                Nested::Map(c) => Ok(Some(c)),
                _ => Err(Bail),
            };
        }
        if let Some(after) = text.s.strip_prefix("{}") {
            if !tail_ok(after) {
                return Err(Bail);
            }
            self.no_deeper(m)?;
            return Ok(None);
        }
        let col = m
            .saturating_add(1)
            .saturating_add(rest.s.len().saturating_sub(text.s.len()));
        self.cur = Some(Line {
            indent: col,
            end: self.last_end,
            text,
        });
        Ok(Some(col))
    }

    /// A list item `- name: N` with one inner mapping under `inner_key` (clusters,
    /// contexts, users and a user's extensions all have this shape); other keys are
    /// skipped.
    fn named<T: Default>(
        &mut self,
        m: usize,
        rest: Text<'a>,
        inner_key: &str,
        inner: fn(&mut Self, usize) -> R<T>,
    ) -> R<(ByteString, Option<T>)> {
        let (mut name, mut value) = (ByteString::new(), None);
        let Some(c) = self.item_map(m, rest)? else {
            return Ok((name, value));
        };
        self.enter()?;
        let mut seen = 0u8;
        while let Some((key, rest)) = self.entry(c)? {
            if key == "name" {
                once(&mut seen, 1)?;
                name = self.string(c, rest)?.unwrap_or_default();
            } else if key == inner_key {
                once(&mut seen, 2)?;
                value = self.opt_struct(c, rest, inner)?;
            } else {
                self.skip(c, rest)?;
            }
        }
        self.leave();
        Ok((name, value))
    }

    /// Skip the value of a key at column `n` (`rest` follows the colon), checking it as
    /// it goes. Returns whether it is non-null.
    fn skip(&mut self, n: usize, rest: Text<'a>) -> R<bool> {
        match value(rest)? {
            Val::Empty => match self.nested(n, true)? {
                Nested::Null => Ok(false),
                Nested::Map(c) => {
                    self.skip_map(c)?;
                    Ok(true)
                }
                Nested::Seq(m) => {
                    self.skip_seq(m)?;
                    Ok(true)
                }
            },
            Val::Plain(s) if !is_safe_ignored(s) => Err(Bail),
            val => {
                self.no_deeper(n)?;
                Ok(!matches!(val, Val::Plain(s) if is_null(s)))
            }
        }
    }

    /// Skip a block mapping whose keys are at column `c`.
    fn skip_map(&mut self, c: usize) -> R<()> {
        self.enter()?;
        while let Some((_, rest)) = self.entry(c)? {
            self.skip(c, rest)?;
        }
        self.leave();
        Ok(())
    }

    /// Skip a block sequence whose `-` are at column `m`.
    fn skip_seq(&mut self, m: usize) -> R<()> {
        self.enter()?;
        while let Some(rest) = self.seq_entry(m)? {
            let text = rest.trim_start()?;
            if text.s.is_empty() || text.s.starts_with('#') {
                match self.nested(m, false)? {
                    Nested::Null => {}
                    Nested::Map(c) => self.skip_map(c)?,
                    Nested::Seq(c) => self.skip_seq(c)?,
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
                self.skip_map(col)?;
            } else {
                if let Val::Plain(s) = value(rest)? {
                    if !is_safe_ignored(s) {
                        return Err(Bail);
                    }
                }
                self.no_deeper(m)?;
            }
        }
        self.leave();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// The capacity hint counts a top-level list's items in kubectl's layout (`-` at the
    /// key's column) and in the indented one, past comments, blank lines and the items'
    /// own lines, and stops at the next key.
    #[test]
    fn items_ahead_counts_a_top_level_list() {
        for (doc, column, items) in [
            (
                "clusters:\n- name: a\n  cluster:\n    server: s\n# note\n\n- name: b\n-\n- {}\ncontexts: []\n- name: c\n",
                0,
                4,
            ),
            ("clusters:\n  - name: a\n    cluster: {}\n  - name: b\nusers:\n  - x\n", 2, 2),
            ("clusters:\n  - name: a\n  -name: b\n  - c\n", 2, 1),
            ("clusters:\n---\n- name: a\n", 0, 0),
        ] {
            let owner = super::ByteString::from(doc);
            let mut p = super::Parser::new(&owner);
            p.last_end = doc.find('\n').expect("a first line") + 1;
            assert_eq!(p.items_ahead(column), items, "{doc:?}");
        }
    }

    use super::parse;
    use crate::kubeconfig::model::FileConfig;
    use proptest::prelude::*;

    /// The oracle, `load.rs`'s `parse` of a first document (here its copy in `full.rs`).
    fn full_parse(doc: &str) -> Result<FileConfig, String> {
        crate::kubeconfig::load::parse_full(doc).map_err(|e| e.to_string())
    }

    /// The tree reading alone (`load.rs::deserialize_full`), without the version check.
    fn full_deserialize(doc: &str) -> Result<FileConfig, String> {
        crate::kubeconfig::load::deserialize_full(doc).map_err(|e| e.to_string())
    }

    /// Asserts the fast path reads `doc` and agrees with the full parser.
    fn accepted(name: &str, doc: &str) -> FileConfig {
        let full = full_parse(doc).unwrap_or_else(|e| panic!("{name}: full parser: {e}"));
        let fast = parse(doc).unwrap_or_else(|| panic!("{name}: the fast path gave up"));
        assert_eq!(fast, full, "{name}");
        assert_eq!(Ok(&fast), full_deserialize(doc).as_ref(), "{name}");
        fast
    }

    fn ca(n: usize) -> String {
        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t".repeat(n / 36 + 1)
    }

    fn kubectl_written() -> String {
        format!(
            "apiVersion: v1
clusters:
- cluster:
    certificate-authority: /home/me/.minikube/ca.crt
    extensions:
    - extension:
        last-update: Mon, 02 Dec 2024 10:00:00 UTC
        provider: minikube.sigs.k8s.io
        version: v1.34.0
      name: cluster_info
    server: https://192.168.49.2:8443
  name: minikube
- cluster:
    certificate-authority-data: {ca}
    server: https://127.0.0.1:40123
  name: kind-kind
- cluster:
    insecure-skip-tls-verify: true
    server: https://10.0.0.1:6443
    tls-server-name: api.internal
  name: arn:aws:eks:us-west-2:123456789012:cluster/demo
contexts:
- context:
    cluster: minikube
    extensions:
    - extension:
        last-update: Mon, 02 Dec 2024 10:00:00 UTC
        provider: minikube.sigs.k8s.io
        version: v1.34.0
      name: context_info
    namespace: default
    user: minikube
  name: minikube
- context:
    cluster: kind-kind
    user: kind-kind
  name: kind-kind
- context:
    cluster: arn:aws:eks:us-west-2:123456789012:cluster/demo
    user: arn:aws:eks:us-west-2:123456789012:cluster/demo
  name: eks
current-context: kind-kind
kind: Config
preferences: {{}}
users:
- name: minikube
  user:
    client-certificate: /home/me/.minikube/profiles/minikube/client.crt
    client-key: /home/me/.minikube/profiles/minikube/client.key
- name: kind-kind
  user:
    client-certificate-data: {ca}
    client-key-data: {ca}
- name: arn:aws:eks:us-west-2:123456789012:cluster/demo
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - --region
      - us-west-2
      - eks
      - get-token
      - --cluster-name
      - demo
      - --output
      - json
      command: aws
      env: null
      interactiveMode: IfAvailable
      provideClusterInfo: false
- name: oidc
  user:
    auth-provider:
      config:
        client-id: kubernetes
        id-token: eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZSJ9.c2lnbmF0dXJl
        idp-issuer-url: https://issuer.example.com
      name: oidc
- name: basic
  user:
    password: hunter2-is-not-a-password
    username: admin
",
            ca = ca(1800)
        )
    }

    fn coreweave_downloaded() -> String {
        "apiVersion: v1
clusters:
- cluster:
    server: https://k8s.ord1.coreweave.com
  name: my-cluster
contexts:
- context:
    cluster: my-cluster
    namespace: tenant-my-org
    user: token
  name: my-context
current-context: my-context
kind: Config
preferences: {}
users:
- name: token
  user:
    token: CW-SECRET-fake-0123456789abcdef-0123456789abcdef
"
        .to_string()
    }

    fn hand_written() -> String {
        "# My clusters, edited by hand.
---
apiVersion: \"v1\"
kind: 'Config'

# The one I use most
current-context: 'dev' # default

clusters:
  - name: dev            # the dev cluster
    cluster:
      server: \"https://dev.example.com:6443\"
      certificate-authority-data: LS0tLS1CRUdJTi==   # shortened

  - name: \"prod \\\"eu\\\"\"
    cluster:
        server: 'https://prod.example.com/it''s/here'
        proxy-url: http://proxy:3128

contexts:
  -   name: dev
      context:
        cluster: dev
        user: 'me@dev'
        namespace: team-a#1
  - name: prod
    context: {}
  - {}

users:
  - name: me@dev
    user:
      token: \"tab\\tnewline\\nslash\\/back\\\\\"
      tokenFile: ~
  - name: ci
    user:
      tokenFile: /var/run/secrets/token
      exec: {}
  - name: nothing
    user:
  - name: empty
    user: {}
  - name:
  - name: ~
    user: null
  - name: café-☕
    user:
      username: null
      client-certificate: ''
      auth-provider:
      exec: {}
extensions:
  - name: x
    extension:
      deep:
        deeper:
          - a
          - b: c
            d: [] # empty
          -
            e: {}
          -
            - nested2
      list:
      - 1
      - true
      - 8443
      - -1.5
      - yes
      - ~
      - \"quoted: yes\"
      - 'single # not a comment'
empty-list: []
null-list:
"
        .to_string()
    }

    #[test]
    fn corpus_is_read_by_the_fast_path() {
        let docs = [
            ("kubectl", kubectl_written()),
            ("coreweave", coreweave_downloaded()),
            ("hand", hand_written()),
        ];
        for (name, doc) in docs {
            let crlf = doc.replace('\n', "\r\n");
            let no_final_newline = doc.trim_end_matches('\n').to_string();
            // Every indentation doubled, and the spaces after a `-` too (plus one), so
            // that mappings starting after `- ` keep their column.
            let four = doc
                .lines()
                .map(|l| {
                    let t = l.trim_start_matches(' ');
                    let n = l.len() - t.len();
                    let t = match t.strip_prefix('-') {
                        Some(rest) if rest.starts_with(' ') => {
                            let item = rest.trim_start_matches(' ');
                            let k = rest.len() - item.len();
                            format!("-{}{item}", " ".repeat(2 * k + 1))
                        }
                        _ => t.to_string(),
                    };
                    format!("{}{t}", " ".repeat(n * 2))
                })
                .collect::<Vec<_>>()
                .join("\n");
            let a = accepted(name, &doc);
            assert_eq!(a, accepted(name, &crlf), "{name} crlf");
            assert_eq!(
                a,
                accepted(name, &no_final_newline),
                "{name} no final newline"
            );
            assert_eq!(a, accepted(name, &four), "{name} double indentation");
        }
    }

    /// What `token rotate --expires`/`--mint` and `kubeconfig import` write stays on the
    /// fast path (it gave up on every `extensions` once, and `token show` took ten times
    /// as long on such a file).
    #[test]
    fn the_token_extension_the_editor_writes_is_read() {
        let doc = "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: CW-SECRET-x\n    extensions:\n    - name: coreweave.com/token\n      extension:\n        expires: \"2027-01-01T00:00:00Z\"\n        source: \"minted\"\n        rotatedAt: \"2026-11-30T00:00:00Z\"\n    - name: other\n      extension:\n        version: v1.34.0\n    - name: empty\n      extension: {}\n- name: v\n  user:\n    extensions: ~\n";
        let c = accepted("extension", doc);
        let ext = c.users[0]
            .user
            .as_ref()
            .and_then(|u| u.extensions.as_ref())
            .expect("extensions");
        assert_eq!(ext.len(), 3);
        assert_eq!(ext[0].name, "coreweave.com/token");
        let record = ext[0].extension.as_ref().expect("record");
        assert_eq!(record.expires.as_deref(), Some("2027-01-01T00:00:00Z"));
        assert_eq!(record.rotated_at.as_deref(), Some("2026-11-30T00:00:00Z"));
        assert_eq!(ext[1].extension, Some(Default::default()));
        assert_eq!(
            c.users[1].user.as_ref().and_then(|u| u.extensions.clone()),
            None
        );
    }

    #[test]
    fn corpus_values_are_the_expected_ones() {
        let c = accepted("coreweave", &coreweave_downloaded());
        assert_eq!(c.current_context.as_deref(), Some("my-context"));
        assert_eq!(c.clusters[0].name, "my-cluster");
        let ctx = c.contexts[0]
            .context
            .as_ref()
            .map(|c| c.namespace.as_deref());
        assert_eq!(ctx, Some(Some("tenant-my-org")));
        let user = c.users[0].user.as_ref().expect("user");
        assert_eq!(
            user.token.as_ref().map(crate::secret::Token::expose),
            Some("CW-SECRET-fake-0123456789abcdef-0123456789abcdef")
        );

        let h = accepted("hand", &hand_written());
        assert_eq!(h.clusters[1].name, "prod \"eu\"");
        let server = h.clusters[1]
            .cluster
            .as_ref()
            .and_then(|c| c.server.as_deref());
        assert_eq!(server, Some("https://prod.example.com/it's/here"));
        assert_eq!(h.contexts.len(), 3);
        let ns = h.contexts[0]
            .context
            .as_ref()
            .and_then(|c| c.namespace.as_deref());
        assert_eq!(ns, Some("team-a#1"));
        let me = h.users[0].user.as_ref().expect("user");
        assert_eq!(
            me.token.as_ref().map(crate::secret::Token::expose),
            Some("tab\tnewline\nslash/back\\")
        );
        assert!(h.users[1].user.as_ref().is_some_and(|u| u.exec.is_some()));
        assert!(h.users[2].user.is_none());
        let last = h.users[6].user.as_ref().expect("user");
        assert!(last.username.is_none() && last.auth_provider.is_none());
        assert!(last.client_certificate.is_some() && last.exec.is_some());

        let k = accepted("kubectl", &kubectl_written());
        assert!(k.users[2].user.as_ref().is_some_and(|u| u.exec.is_some()));
        assert!(k.users[3]
            .user
            .as_ref()
            .is_some_and(|u| u.auth_provider.is_some()));
    }

    /// Presence fields are set for any non-null value, as the full parser sets them.
    #[test]
    fn presence_follows_the_full_parser() {
        let doc =
            |snippet: &str| format!("users:\n- name: a\n  user:\n    {snippet}\n    token: t\n");
        let cases = [
            ("exec: {}", true),
            ("exec:\n      command: aws", true),
            ("exec:\n      command: aws\n      args:\n      - eks\n      - '--region'\n      - \"us-east-1\"", true),
            ("exec:\n      apiVersion: client.authentication.k8s.io/v1\n      args: []", true),
            ("exec:", false),
            ("exec: ~", false),
            ("exec: null", false),
            ("exec: Null", false),
            ("exec: NULL", false),
            ("exec: # nothing", false),
        ];
        for (snippet, present) in cases {
            let c = accepted(snippet, &doc(snippet));
            let user = c.users[0].user.as_ref().expect("user");
            assert_eq!(user.exec.is_some(), present, "{snippet}");
            assert_eq!(
                user.token.as_ref().map(crate::secret::Token::expose),
                Some("t"),
                "{snippet}"
            );
        }
        // An exec entry that is not a mapping, or whose `command` or `args` have the wrong
        // type, is refused by kubectl's decoding and by the loader; the fast path leaves
        // it to the full parser.
        for snippet in [
            "exec: []",
            "exec: ''",
            "exec: x",
            "exec: 123",
            "exec: nULL",
            "exec:\n    - a",
            "exec:\n      command: [aws]",
            "exec:\n      args: aws",
            "exec:\n      args:\n      - {a: b}",
        ] {
            assert!(full_parse(&doc(snippet)).is_err(), "{snippet}");
            assert!(parse(&doc(snippet)).is_none(), "{snippet}");
        }
    }

    /// Comments anywhere, at any indentation, change nothing.
    #[test]
    fn comments_anywhere() {
        let doc = "# top
current-context: a # after
    # deeper than anything
users: # after a key
# at column 0 inside a list
- name: u # after
      # deep
  user:
  # at the mapping's column
    token: t
#last";
        let c = accepted("comments", doc);
        assert_eq!(c.current_context.as_deref(), Some("a"));
        assert_eq!(
            c.users[0]
                .user
                .as_ref()
                .and_then(|u| u.token.as_ref().map(crate::secret::Token::expose)),
            Some("t")
        );
    }

    /// Files shaped like the benchmark's: many entries, long certificate lines.
    #[test]
    fn generated_large_file() {
        let mut doc = String::from(
            "apiVersion: v1\nkind: Config\npreferences: {}\ncurrent-context: ctx-7\nclusters:\n",
        );
        let ca = ca(1000);
        for i in 0..60 {
            doc += &format!(
                "- cluster:\n    certificate-authority-data: {ca}\n    server: https://org-{i}.k8s.coreweave.com\n  name: cluster-{i}\n"
            );
        }
        doc += "contexts:\n";
        for i in 0..60 {
            doc += &format!(
                "- context:\n    cluster: cluster-{i}\n    namespace: ns-{i}\n    user: user-{i}\n  name: ctx-{i}\n"
            );
        }
        doc += "users:\n";
        for i in 0..60 {
            doc += &format!("- name: user-{i}\n  user:\n    token: CW-SECRET-{i:05}xxxx\n");
        }
        let c = accepted("large", &doc);
        assert_eq!(c.users.len(), 60);
        for path in ["/tmp/big/config0", "/tmp/big/config1", "/tmp/big/config2"] {
            if let Ok(text) = std::fs::read_to_string(path) {
                accepted(path, &text);
            }
        }
    }

    #[test]
    fn unsure_inputs_give_up() {
        let base = coreweave_downloaded();
        let cases: Vec<String> = vec![
            // Not one of the subset's constructs.
            "current-context: &a x\n".into(),
            "current-context: *a\n".into(),
            "a: &x 1\ncurrent-context: *x\n".into(),
            "current-context: !!str x\n".into(),
            "users:\n- name: a\n  user:\n    exec: !foo x\n".into(),
            "current-context: |\n  x\n".into(),
            "current-context: >-\n  x\n".into(),
            "current-context: [a]\n".into(),
            "preferences: {colors: true}\n".into(),
            "users: [{name: a}]\n".into(),
            "current-context: { }\n".into(),
            "current-context: x\n  y\n".into(),
            "current-context:\n  x\n".into(),
            "current-context: 'x\n  y'\n".into(),
            "current-context: \"x\n  y\"\n".into(),
            "current-context: \"x\\\n  y\"\n".into(),
            "users:\n- name: gke\n  user:\n    exec:\n      installHint: Install gke-gcloud-auth-plugin by following\n        https://cloud.google.com/kubernetes-engine\n".into(),
            "? current-context\n: x\n".into(),
            "'current-context': x\n".into(),
            "\"current-context\": x\n".into(),
            "current-context : x\n".into(),
            "\u{feff}current-context: x\n".into(),
            "current-context: x\u{feff}\n".into(),
            "current-context:\tx\n".into(),
            "users:\n\t- name: a\n".into(),
            "current-context: x # tab\tin comment\n".into(),
            "current-context: x\ncurrent-context: y\n".into(),
            "users:\n- name: a\n  name: b\n".into(),
            "users:\n- name: a\n  user:\n    token: a\n    token: b\n".into(),
            "%YAML 1.2\n---\ncurrent-context: x\n".into(),
            "current-context: x\n...\n".into(),
            "current-context: x\n---\nkind: Config\n".into(),
            "---\n---\ncurrent-context: x\n".into(),
            "--- \ncurrent-context: x\n".into(),
            "--- # c\ncurrent-context: x\n".into(),
            "<<: {kind: Config}\ncurrent-context: x\n".into(),
            // Values that are not clearly strings.
            "current-context: 123\n".into(),
            "current-context: 1.5\n".into(),
            "current-context: -1\n".into(),
            "current-context: +1\n".into(),
            "current-context: .5\n".into(),
            "current-context: 1e3\n".into(),
            "current-context: 0x1f\n".into(),
            "current-context: 0o17\n".into(),
            "current-context: 1_000\n".into(),
            "current-context: 1.2.3\n".into(),
            "current-context: .inf\n".into(),
            "current-context: -.Inf\n".into(),
            "current-context: .nan\n".into(),
            "current-context: inf\n".into(),
            "current-context: NaN\n".into(),
            "current-context: yes\n".into(),
            "current-context: No\n".into(),
            "current-context: y\n".into(),
            "current-context: N\n".into(),
            "current-context: on\n".into(),
            "current-context: OFF\n".into(),
            "current-context: true\n".into(),
            "current-context: False\n".into(),
            "current-context: nULL\n".into(),
            "users:\n- name: 42\n".into(),
            "users:\n- name: a\n  user:\n    token: 0123\n".into(),
            // Escapes outside the supported few, and broken quoting.
            "current-context: \"a\\x41\"\n".into(),
            "current-context: \"a\\u00e9\"\n".into(),
            "current-context: \"a\\q\"\n".into(),
            "current-context: 'a\n".into(),
            "current-context: \"a\n".into(),
            "current-context: 'a'b\n".into(),
            "current-context: 'a'#b\n".into(),
            "current-context: \"a\" b\n".into(),
            // Plain scalars that are errors or something else.
            "current-context: a: b\n".into(),
            "current-context: a:\n".into(),
            "current-context: - a\n".into(),
            "current-context: -\n".into(),
            "current-context: %x\n".into(),
            "current-context: @x\n".into(),
            "current-context: `x\n".into(),
            "current-context: a\rb\n".into(),
            "current-context: a\u{85}b\n".into(),
            "current-context: a\u{2028}b\n".into(),
            "current-context: a\u{1}b\n".into(),
            // Structure the model does not allow, or YAML does not.
            "users: foo\n".into(),
            "users: {}\n".into(),
            "users:\n  name: a\n".into(),
            "users:\n- ~\n".into(),
            "users:\n-\n".into(),
            "users:\n- a\n".into(),
            "users:\n- []\n".into(),
            "users:\n- - name: a\n".into(),
            "a:\n- - x\n".into(),
            "users:\n- name: a\n  user: []\n".into(),
            "users:\n- name: a\n  user: x\n".into(),
            "users:\n- name: a\n  user:\n  - token: x\n".into(),
            "users:\n- name: a\n  user:\n    token:\n      x: y\n".into(),
            "users:\n- name: a\n  user:\n    token: []\n".into(),
            "users:\n- name: a\n  user:\n    token: {}\n".into(),
            "users:\n- name: a\n   user: {}\n".into(),
            "users:\n- name: a\n user: {}\n".into(),
            "users:\n  - name: a\n  user: {}\n".into(),
            "users:\n  - name: a\n - name: b\n".into(),
            "users:\n- name: a\nb\n".into(),
            "  current-context: x\n".into(),
            "current-context: x\n  kind: Config\n".into(),
            "current-context: x\n- a\n".into(),
            "a:\n  - x\n  b: y\n".into(),
            "a: b\n  # c\n  c: d\n".into(),
            "a: {}\n  b: c\n".into(),
            "y: 1\n".into(),
            "users:\n- name: a\n  on: 1\n".into(),
            "1: x\n".into(),
            "a b: x\n".into(),
            "a:b: x\n".into(),
            "a: .inf\n".into(),
            "a: -.NaN\n".into(),
            "a: 1e999\n".into(),
            "a:\n- 0x1f\n".into(),
            "users:\n- name: a\n  user:\n    exec: .nan\n".into(),
            // Documents without content, or of another version.
            "".into(),
            "# nothing\n".into(),
            "---\n".into(),
            "apiVersion: v2\n".into(),
            "kind: Other\n".into(),
            // Too deep.
            (0..50)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .collect::<String>(),
            // The benchmark shape with one bad byte at the very end.
            format!("{base}\u{0}"),
            format!("{base}x"),
        ];
        for doc in &cases {
            assert!(parse(doc).is_none(), "accepted: {doc:?}");
        }
    }

    // ---- Property tests ----

    /// A YAML tree, rendered in block style by `render`.
    #[derive(Clone, Debug)]
    enum Node {
        /// Text written after `key: ` or `- ` (empty: nothing).
        Scalar(String),
        Map(Vec<Entry>),
        Seq(Vec<Node>, SeqStyle),
    }

    #[derive(Clone, Debug)]
    struct Entry {
        key: String,
        value: Node,
        deco: Deco,
    }

    #[derive(Clone, Copy, Debug, Default)]
    struct Deco {
        blank_before: bool,
        comment_before: bool,
        comment_after: bool,
    }

    #[derive(Clone, Copy, Debug)]
    struct SeqStyle {
        indentless: bool,
        /// Spaces after the `-` of a mapping item.
        pad: usize,
    }

    #[derive(Clone, Copy, Debug)]
    struct Layout {
        step: usize,
        crlf: bool,
        doc_start: bool,
        final_newline: bool,
    }

    fn render(root: &[Entry], layout: Layout) -> String {
        let mut lines = Vec::new();
        if layout.doc_start {
            lines.push("---".to_string());
        }
        render_map(root, 0, layout.step, &mut lines);
        let nl = if layout.crlf { "\r\n" } else { "\n" };
        let mut out = lines.join(nl);
        if layout.final_newline {
            out += nl;
        }
        out
    }

    fn inline(value: &Node) -> Option<String> {
        match value {
            Node::Scalar(s) => Some(s.clone()),
            Node::Map(e) if e.is_empty() => Some("{}".into()),
            Node::Seq(items, _) if items.is_empty() => Some("[]".into()),
            _ => None,
        }
    }

    fn render_map(entries: &[Entry], col: usize, step: usize, out: &mut Vec<String>) {
        let pad = " ".repeat(col);
        for e in entries {
            if e.deco.blank_before {
                out.push(String::new());
            }
            if e.deco.comment_before {
                out.push(format!("{pad}# about {}", e.key));
            }
            let comment = if e.deco.comment_after { " # note" } else { "" };
            match inline(&e.value) {
                Some(s) if s.is_empty() => out.push(format!("{pad}{}:{comment}", e.key)),
                Some(s) => out.push(format!("{pad}{}: {s}{comment}", e.key)),
                None => {
                    out.push(format!("{pad}{}:{comment}", e.key));
                    match &e.value {
                        Node::Map(m) => render_map(m, col + step, step, out),
                        Node::Seq(items, style) => {
                            let c = if style.indentless { col } else { col + step };
                            render_seq(items, *style, c, step, out);
                        }
                        Node::Scalar(_) => unreachable!(),
                    }
                }
            }
        }
    }

    fn render_seq(items: &[Node], style: SeqStyle, col: usize, step: usize, out: &mut Vec<String>) {
        let pad = " ".repeat(col);
        for item in items {
            match (inline(item), item) {
                (Some(s), _) if s.is_empty() => out.push(format!("{pad}-")),
                (Some(s), _) => out.push(format!("{pad}- {s}")),
                (None, Node::Map(m)) => {
                    let c = col + 1 + style.pad;
                    let first = out.len();
                    let mut m = m.clone();
                    m[0].deco.blank_before = false;
                    m[0].deco.comment_before = false;
                    render_map(&m, c, step, out);
                    let line = &out[first][c..];
                    out[first] = format!("{pad}-{}{line}", " ".repeat(style.pad));
                }
                (None, Node::Seq(inner, inner_style)) => {
                    out.push(format!("{pad}-"));
                    render_seq(inner, *inner_style, col + 2, step, out);
                }
                (None, Node::Scalar(_)) => unreachable!(),
            }
        }
    }

    /// Base64-like text starting with a letter, made from a seed: drawing long strings
    /// character by character would dominate the tests' time.
    fn base64(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        (len, any::<u64>(), 0usize..3).prop_map(|(n, mut seed, pad)| {
            let mut s = String::from("L");
            for _ in 0..n {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push(char::from(ALPHABET[(seed >> 58) as usize]));
            }
            s + &"=".repeat(pad)
        })
    }

    const WORDS: &[&str] = &[
        "dev",
        "prod",
        "my-cluster",
        "token",
        "tenant-a",
        "kind",
        "org",
        "us-east-04a",
        "abc",
        "k8s",
        "x",
        "default",
        "name",
    ];

    fn word() -> impl Strategy<Value = &'static str> {
        prop::sample::select(WORDS)
    }

    /// A scalar that is not null: (text, typed, ignored). `typed`: the full parser reads
    /// it into a string field and the fast path must too; `ignored`: the same where the
    /// model skips the value. (No regex strategies: they dominate the tests' time.)
    fn string_scalar() -> impl Strategy<Value = (String, bool, bool)> {
        let both = |s: String| (s, true, true);
        prop_oneof![
            90 => (word(), 0u32..10_000).prop_map(move |(w, n)| both(format!("{w}-{n}"))),
            30 => (word(), prop::option::of(1u32..65_536), prop::option::of(word())).prop_map(
                move |(w, port, path)| {
                    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                    let path = path.map(|p| format!("/{p}")).unwrap_or_default();
                    both(format!("https://{w}.example.com{port}{path}"))
                }
            ),
            30 => base64(20..200).prop_map(both),
            15 => prop::collection::vec(word(), 2..4).prop_map(move |w| both(w.join(" "))),
            15 => (word(), prop::sample::select(vec!['#', ':', ',', '[', ']', '{', '}']), word())
                .prop_map(move |(a, c, b)| both(format!("{a}{c}{b}"))),
            15 => (prop::sample::select(vec!["café", "日本", "naïve", "a\u{a0}b"]), word())
                .prop_map(move |(u, w)| both(format!("{u}-{w}"))),
            15 => (prop::sample::select(vec!["-", "--", "?", ":"]), word())
                .prop_map(move |(d, w)| both(format!("{d}{w}"))),
            30 => prop::sample::select(vec![
                "''", "'a b'", "'it''s'", "'x # y'", "'a: b'", "'\"q\"'", "'#'", "'123'",
                "'~'", "'yes'", "' lead'",
            ])
            .prop_map(move |s| both(s.to_string())),
            30 => prop::sample::select(vec![
                r#""""#, r#""a\\b""#, r#""say \"hi\"""#, r#""l1\nl2""#, r#""t\tx""#,
                r#""a\/b""#, r#""x # y: z""#, r#""it's""#, r#""null""#, r#""1.5""#,
            ])
            .prop_map(move |s| both(s.to_string())),
            // Read by the full parser, not by the fast path.
            1 => prop::sample::select(vec![
                r#""\x41""#, r#""\u00e9""#, r#""a\rb""#, r#""\0""#, r#""\e""#,
            ])
            .prop_map(|s| (s.to_string(), false, false)),
            // Numbers, booleans and the like: errors in string fields, fine elsewhere.
            1 => prop::sample::select(vec![
                "123", "1.5", "-1", "0123", "+5", "yes", "No", "on", "y", "true", "FALSE",
                "nULL", "1.2.3", "1password",
            ])
            .prop_map(|s| (s.to_string(), false, !matches!(s, "1.2.3" | "1password"))),
            // Refused by the full parser where skipped (infinities), or given up on.
            1 => prop::sample::select(vec![".inf", "-.Inf", ".NaN", "1e999", "0x1f", "1_000", "1e3"])
                .prop_map(|s| (s.to_string(), false, false)),
        ]
    }

    /// A value for a string field: mostly strings, sometimes null.
    fn string_field() -> impl Strategy<Value = (Node, bool)> {
        prop_oneof![
            8 => string_scalar().prop_map(|(s, c, _)| (Node::Scalar(s), c)),
            1 => prop::sample::select(vec!["", "~", "null", "Null", "NULL"])
                .prop_map(|s| (Node::Scalar(s.to_string()), true)),
        ]
    }

    /// A skipped scalar, and whether the fast path must read it.
    fn any_scalar() -> impl Strategy<Value = (String, bool)> {
        prop_oneof![
            4 => string_scalar().prop_map(|(s, _, c)| (s, c)),
            1 => prop::sample::select(vec!["", "~", "null", "{}", "[]", "''", "\"\""])
                .prop_map(|s| (s.to_string(), true)),
        ]
    }

    fn seq_style() -> impl Strategy<Value = SeqStyle> {
        (
            any::<bool>(),
            prop_oneof![4 => Just(1usize), 1 => Just(3usize)],
        )
            .prop_map(|(indentless, pad)| SeqStyle { indentless, pad })
    }

    fn deco() -> impl Strategy<Value = Deco> {
        (0u8..16).prop_map(|b| Deco {
            blank_before: b & 1 != 0 && b & 8 != 0,
            comment_before: b & 2 != 0 && b & 8 != 0,
            comment_after: b & 4 != 0,
        })
    }

    fn unknown_key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => word().prop_map(|w| format!("x-{w}")),
            1 => (word(), word()).prop_map(|(a, b)| format!("{a}.k8s.io/{b}")),
        ]
    }

    /// Content the model skips: anything, nested; and whether the fast path must read it.
    fn unknown_value() -> impl Strategy<Value = (Node, bool)> {
        let leaf = any_scalar().prop_map(|(s, c)| (Node::Scalar(s), c));
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec((unknown_key(), inner.clone(), deco()), 1..3).prop_map(|v| {
                    let clean = v.iter().all(|(_, (_, c), _)| *c);
                    let entries = v
                        .into_iter()
                        .map(|(key, (value, _), deco)| Entry { key, value, deco })
                        .collect();
                    (Node::Map(entries), clean)
                }),
                (prop::collection::vec(inner, 1..3), seq_style()).prop_map(|(v, s)| {
                    let clean = v.iter().all(|(_, c)| *c);
                    (Node::Seq(v.into_iter().map(|(n, _)| n).collect(), s), clean)
                }),
            ]
        })
    }

    fn entry(key: &str, value: Node, deco: Deco) -> Entry {
        Entry {
            key: key.to_string(),
            value,
            deco,
        }
    }

    /// A mapping of known fields (each maybe missing) and unknown ones, shuffled.
    fn fields(
        known: Vec<BoxedStrategy<Option<(Entry, bool)>>>,
    ) -> impl Strategy<Value = (Vec<Entry>, bool)> {
        let unknown = prop::collection::vec((unknown_key(), unknown_value(), deco()), 0..3);
        (known, unknown, any::<u8>(), any::<u64>()).prop_map(|(known, unknown, dup, mut seed)| {
            let mut clean = true;
            let mut out = Vec::new();
            for (e, c) in known.into_iter().flatten() {
                clean &= c;
                out.push(e);
            }
            if dup == 0 && !out.is_empty() {
                // A known key twice: the fast path must give up.
                out.push(out[0].clone());
                clean = false;
            }
            for (k, (v, c), d) in unknown {
                clean &= c;
                out.push(entry(&k, v, d));
            }
            // Shuffled from a seed: `prop_shuffle` under a flat map costs much more.
            for i in (1..out.len()).rev() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                out.swap(i, (seed >> 33) as usize % (i + 1));
            }
            (out, clean)
        })
    }

    fn opt_field(
        key: &'static str,
        value: impl Strategy<Value = (Node, bool)> + 'static,
    ) -> BoxedStrategy<Option<(Entry, bool)>> {
        prop::option::weighted(0.85, (value, deco()))
            .prop_map(move |o| o.map(|((v, c), d)| (entry(key, v, d), c)))
            .boxed()
    }

    /// A struct-valued field: a mapping of `known`, `{}`, or null; rarely a wrong shape.
    fn struct_field(
        known: Vec<BoxedStrategy<Option<(Entry, bool)>>>,
    ) -> impl Strategy<Value = (Node, bool)> {
        prop_oneof![
            60 => fields(known).prop_map(|(e, c)| (Node::Map(e), c)),
            5 => prop::sample::select(vec!["", "~", "{}"])
                .prop_map(|s| (Node::Scalar(s.to_string()), true)),
            1 => prop::sample::select(vec!["[]", "x", "''"])
                .prop_map(|s| (Node::Scalar(s.to_string()), false)),
        ]
    }

    /// A user's `exec:`: `command` and `args` (a list of strings) read, other keys
    /// skipped.
    fn exec_field() -> impl Strategy<Value = (Node, bool)> {
        let args = prop_oneof![
            6 => (prop::collection::vec(string_field(), 0..4), seq_style()).prop_map(|(v, style)| {
                let clean = v.iter().all(|(_, c)| *c) && !v.iter().any(|(n, _)| matches!(n, Node::Scalar(s) if s.is_empty()));
                (Node::Seq(v.into_iter().map(|(n, _)| n).collect(), style), clean)
            }),
            1 => prop::sample::select(vec!["[]", "", "~"])
                .prop_map(|s| (Node::Scalar(s.to_string()), true)),
            1 => prop::sample::select(vec!["x", "{}"])
                .prop_map(|s| (Node::Scalar(s.to_string()), false)),
        ];
        struct_field(vec![
            opt_field("command", string_field()),
            opt_field("args", args),
        ])
    }

    fn presence() -> impl Strategy<Value = (Node, bool)> {
        prop_oneof![
            2 => unknown_value(),
            1 => prop::sample::select(vec!["", "~", "null", "{}"])
                .prop_map(|s| (Node::Scalar(s.to_string()), true)),
        ]
    }

    fn cluster() -> impl Strategy<Value = (Node, bool)> {
        struct_field(vec![
            opt_field("server", string_field()),
            opt_field(
                "certificate-authority-data",
                base64(40..600).prop_map(|s| (Node::Scalar(s), true)),
            ),
            opt_field("certificate-authority", string_field()),
            opt_field("insecure-skip-tls-verify", bool_field()),
            opt_field("tls-server-name", string_field()),
            opt_field("proxy-url", string_field()),
        ])
    }

    /// A boolean field: `true`, `false` and null are read by the fast path; other
    /// spellings (YAML 1.1 words, quoted, numbers, collections) may go to the full parser.
    fn bool_field() -> impl Strategy<Value = (Node, bool)> {
        prop_oneof![
            6 => prop::sample::select(vec!["true", "false"])
                .prop_map(|s| (Node::Scalar(s.to_string()), true)),
            1 => prop::sample::select(vec!["", "~", "null"])
                .prop_map(|s| (Node::Scalar(s.to_string()), true)),
            2 => prop::sample::select(vec!["True", "FALSE", "yes", "off", "'true'", "1", "[]", "{}"])
                .prop_map(|s| (Node::Scalar(s.to_string()), false)),
        ]
    }

    fn context() -> impl Strategy<Value = (Node, bool)> {
        struct_field(vec![
            opt_field("cluster", string_field()),
            opt_field("user", string_field()),
            opt_field("namespace", string_field()),
        ])
    }

    fn user() -> impl Strategy<Value = (Node, bool)> {
        struct_field(vec![
            opt_field("token", string_field()),
            opt_field("tokenFile", string_field()),
            opt_field("exec", exec_field()),
            opt_field("auth-provider", presence()),
            opt_field("client-certificate", presence()),
            opt_field("client-certificate-data", presence()),
            opt_field("username", presence()),
            opt_field("extensions", named_list("extension", extension().boxed())),
        ])
    }

    fn extension() -> impl Strategy<Value = (Node, bool)> {
        struct_field(vec![
            opt_field("expires", string_field()),
            opt_field("source", string_field()),
            opt_field("rotatedAt", string_field()),
        ])
    }

    /// A list of named items: each a mapping with `name` and `inner`.
    fn named_list(
        inner_key: &'static str,
        inner: BoxedStrategy<(Node, bool)>,
    ) -> impl Strategy<Value = (Node, bool)> {
        let item = prop_oneof![
            60 => fields(vec![opt_field("name", string_field()), opt_field(inner_key, inner)])
                .prop_map(|(e, c)| if e.is_empty() { (Node::Scalar("{}".into()), c) } else { (Node::Map(e), c) }),
            3 => Just((Node::Scalar("{}".into()), true)),
            1 => prop::sample::select(vec!["~", "x", "[]", ""])
                .prop_map(|s| (Node::Scalar(s.to_string()), false)),
        ];
        prop_oneof![
            60 => (prop::collection::vec(item, 1..4), seq_style()).prop_map(|(items, style)| {
                let clean = items.iter().all(|(_, c)| *c);
                (Node::Seq(items.into_iter().map(|(n, _)| n).collect(), style), clean)
            }),
            5 => prop::sample::select(vec!["", "~", "[]"])
                .prop_map(|s| (Node::Scalar(s.to_string()), true)),
            1 => prop::sample::select(vec!["{}", "x"])
                .prop_map(|s| (Node::Scalar(s.to_string()), false)),
        ]
    }

    /// A whole kubeconfig-like document and whether the fast path must read it.
    fn document() -> impl Strategy<Value = (String, bool)> {
        let top = fields(vec![
            opt_field(
                "apiVersion",
                prop_oneof![
                    40 => Just((Node::Scalar("v1".into()), true)),
                    5 => Just((Node::Scalar("'v1'".into()), true)),
                    1 => Just((Node::Scalar("v2".into()), false)),
                ],
            ),
            opt_field(
                "kind",
                prop_oneof![
                    40 => Just((Node::Scalar("Config".into()), true)),
                    5 => Just((Node::Scalar("\"Config\"".into()), true)),
                    1 => Just((Node::Scalar("Other".into()), false)),
                ],
            ),
            opt_field("preferences", Just((Node::Scalar("{}".into()), true))),
            opt_field("current-context", string_field()),
            opt_field("clusters", named_list("cluster", cluster().boxed())),
            opt_field("contexts", named_list("context", context().boxed())),
            opt_field("users", named_list("user", user().boxed())),
        ]);
        let layout = (
            prop_oneof![Just(2usize), Just(4usize), Just(3usize)],
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(step, crlf, doc_start, final_newline)| Layout {
                step,
                crlf,
                doc_start,
                final_newline,
            });
        (top, layout).prop_map(|((entries, clean), layout)| {
            let clean = clean && !entries.is_empty();
            (render(&entries, layout), clean)
        })
    }

    const SIGNIFICANT: &[char] = &[
        ':', '-', '#', '\'', '"', '{', '}', '[', ']', '&', '*', '!', '|', '>', ' ', '\t', '\n',
        '\r', '?', ',', '%', '@', '~', '0', 'y', '\\', 'é', '\u{a0}', '\u{85}', '\u{2028}',
        '\u{feff}',
    ];

    #[derive(Clone, Debug)]
    enum Mutation {
        Insert(prop::sample::Index, char),
        Delete(prop::sample::Index),
        Replace(prop::sample::Index, char),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let c = prop::sample::select(SIGNIFICANT);
        prop_oneof![
            (any::<prop::sample::Index>(), c.clone()).prop_map(|(i, c)| Mutation::Insert(i, c)),
            any::<prop::sample::Index>().prop_map(Mutation::Delete),
            (any::<prop::sample::Index>(), c).prop_map(|(i, c)| Mutation::Replace(i, c)),
        ]
    }

    fn mutate(doc: &str, mutations: &[Mutation]) -> String {
        let mut chars: Vec<char> = doc.chars().collect();
        for m in mutations {
            match m {
                Mutation::Insert(i, c) => {
                    let at = i.index(chars.len() + 1);
                    chars.insert(at, *c);
                }
                Mutation::Delete(i) if !chars.is_empty() => {
                    chars.remove(i.index(chars.len()));
                }
                Mutation::Replace(i, c) if !chars.is_empty() => {
                    let at = i.index(chars.len());
                    chars[at] = *c;
                }
                _ => {}
            }
        }
        chars.into_iter().collect()
    }

    /// The property: the fast path gives up, or the full parser agrees with it; and the
    /// tree's generic reading types every scalar as serde-saphyr does.
    fn agrees(doc: &str) -> Result<bool, TestCaseError> {
        if let Err(e) = crate::kubeconfig::read::from_tree::tests::same_data_as_serde_saphyr(doc) {
            prop_assert!(false, "tree data differs ({}): {:?}", e, doc);
        }
        let Some(fast) = parse(doc) else {
            return Ok(false);
        };
        match full_parse(doc) {
            Ok(full) => prop_assert_eq!(&fast, &full, "differs on {:?}", doc),
            Err(e) => prop_assert!(false, "fast accepted, full refused ({}): {:?}", e, doc),
        }
        let direct = full_deserialize(doc);
        prop_assert_eq!(Ok(&fast), direct.as_ref());
        Ok(true)
    }

    /// XorShift: the default ChaCha generator, unoptimised in a debug build, costs more
    /// than everything else the tests do.
    fn config(cases: u32) -> ProptestConfig {
        ProptestConfig {
            cases,
            rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        /// The word-at-a-time check gives the per-byte answer, at every length and for
        /// every byte value (biased towards the edges 0x1f/0x20, 0x7e/0x7f, 0x80).
        #[test]
        fn printable_ascii_by_words(
            printable in prop::collection::vec(
                prop_oneof![3 => 0x20u8..0x7f, 1 => prop::sample::select(vec![0x20u8, 0x7e])],
                0..40,
            ),
            spoil in prop::option::of((
                any::<prop::sample::Index>(),
                prop_oneof![
                    2 => prop::sample::select(vec![0x00u8, 0x09, 0x0a, 0x1f, 0x7f, 0x80, 0xa0, 0xfe, 0xff]),
                    1 => any::<u8>(),
                ],
            )),
        ) {
            let mut bytes = printable;
            if let Some((at, b)) = spoil {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] = b;
                }
            }
            let expected = bytes.iter().all(|&b| super::is_printable_ascii(b));
            prop_assert_eq!(super::all_printable_ascii(&bytes), expected, "{:?}", bytes);
        }
    }

    proptest! {
        #![proptest_config(config(1500))]

        /// Unmutated documents: always consistent, and read by the fast path when made
        /// only of the subset it promises to read.
        #[test]
        fn generated_documents((doc, clean) in document()) {
            let took = agrees(&doc)?;
            if clean {
                prop_assert!(took, "fast path gave up on {:?}", doc);
            }
        }
    }

    proptest! {
        #![proptest_config(config(5000))]

        /// Documents with a few YAML-significant characters inserted, deleted or replaced.
        #[test]
        fn mutated_documents(
            (doc, _) in document(),
            mutations in prop::collection::vec(mutation(), 1..4),
        ) {
            agrees(&mutate(&doc, &mutations))?;
        }
    }
}
