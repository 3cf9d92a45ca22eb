//! Where the line scanner found things, in byte offsets into the document: a user's token
//! scalar (what rotate's fast path replaces) and the top-level layout (where the editor's
//! append fast path adds entries and sets `current-context`).

/// Where a user's `token` scalar stands in the document, quotes included, and how it is
/// written: what the fast editing path replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpan {
    pub range: std::ops::Range<usize>,
    pub style: ScalarStyle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    Single,
    Double,
}

/// Where the top-level mapping's parts stand in the document, as the editor's append
/// fast path needs them: it adds entries after a list's last line and sets
/// `current-context`. Offsets are into the document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopLayout {
    /// Where the first top-level key starts.
    pub root_start: usize,
    /// The end of the document's last content line, its line break included.
    pub content_end: usize,
    pub clusters: ListAt,
    pub contexts: ListAt,
    pub users: ListAt,
    pub current_context: ScalarAt,
}

/// A top-level list (`clusters`, `contexts`, `users`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ListAt {
    /// No such key.
    #[default]
    Absent,
    /// A block list of at least one item.
    Block {
        /// Where the first item's content starts, if on its `-` line.
        first: Option<usize>,
        /// The end of the list's last content line, its line break included.
        end: usize,
    },
    /// Null, empty or `[]`.
    Empty,
}

/// The top-level `current-context`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ScalarAt {
    #[default]
    Absent,
    /// A scalar on the key's line, quotes included (`~` and `null` too).
    Scalar(std::ops::Range<usize>),
    /// Nothing after the colon but spaces or a comment: the colon's end.
    Empty(usize),
}
