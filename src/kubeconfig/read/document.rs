//! Which bytes of a file kubectl's decoder reads, before any parser runs: the encoding
//! (UTF-8, or UTF-16 after a byte-order mark), the first document (a `---` scanner, since
//! kubectl reads no other), where its content starts, where a flow root ends before text
//! go-yaml never scans, and a parser's position as go-yaml (YAML 1.1) counts lines.

/// How a kubeconfig file is encoded. kubectl's YAML reader (go-yaml) takes UTF-16 when
/// the file starts with a UTF-16 byte-order mark (Windows PowerShell 5's `>` writes
/// UTF-16LE with one), and UTF-8 otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark (kept in the text).
    Utf8,
    Utf16Le,
    Utf16Be,
}

/// The file's text and encoding: UTF-16 when it starts with a UTF-16 byte-order mark (the
/// mark stays in the text, as a UTF-8 one does), UTF-8 otherwise; `None` when it is not
/// valid in that encoding.
pub(in crate::kubeconfig) fn decode(bytes: Vec<u8>) -> Option<(String, Encoding)> {
    let utf16 = |encoding: Encoding, unit: fn([u8; 2]) -> u16| {
        let (pairs, odd) = bytes.as_chunks::<2>();
        if !odd.is_empty() {
            return None;
        }
        let text = char::decode_utf16(pairs.iter().map(|p| unit(*p)))
            .collect::<Result<String, _>>()
            .ok()?;
        Some((text, encoding))
    };
    match bytes.as_slice() {
        [0xFF, 0xFE, ..] => utf16(Encoding::Utf16Le, u16::from_le_bytes),
        [0xFE, 0xFF, ..] => utf16(Encoding::Utf16Be, u16::from_be_bytes),
        // UTF-8 takes the bytes as they are read, not a copy of them (2 MB at 2,000
        // contexts, each page of it a fault).
        _ => String::from_utf8(bytes).ok().map(|t| (t, Encoding::Utf8)),
    }
}

/// The text of the first YAML document: everything before a second `---` marker at the
/// start of a line (a leading `---` opens the first document and is kept).
pub(in crate::kubeconfig) fn first_document(text: &str) -> &str {
    // A byte-order mark belongs to the stream, not to the first line's content.
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    // A marker ends the document only after content (a leading `---` is content).
    let mut offset = bom;
    for line in text[bom..].split_inclusive('\n') {
        offset += line.len();
        let trimmed = line.trim_end_matches(['\n', '\r']);
        let blank_or_comment = trimmed.trim().is_empty() || trimmed.trim_start().starts_with('#');
        if !blank_or_comment && !trimmed.starts_with('%') {
            break;
        }
    }
    // Every later line starts after a `\n`: the markers are found by searching for
    // `\n---` and `\n...`, not by walking the 20,000 lines of a 2 MB kubeconfig (each
    // command reads every file through here, and `token rotate` does it three times).
    let Some(rest) = text
        .get(offset.saturating_sub(1)..)
        .filter(|_| offset < text.len())
    else {
        return text;
    };
    let is_marker = |start: usize| {
        let line = &text[start..];
        let line = line[..memchr::memchr(b'\n', line.as_bytes()).unwrap_or(line.len())]
            .trim_end_matches('\r');
        line == "---"
            || line.starts_with("--- ")
            || line.starts_with("---\t")
            || line == "..."
            || line.starts_with("... ")
    };
    let first = |needle: &[u8]| {
        memchr::memmem::find_iter(rest.as_bytes(), needle)
            .map(|at| offset + at)
            .find(|&start| is_marker(start))
    };
    match first(b"\n---").into_iter().chain(first(b"\n...")).min() {
        Some(end) => &text[..end],
        None => text,
    }
}

/// Line and column (1-based) of the first content of a document: what a parser reports
/// when the whole document has the wrong type.
pub(in crate::kubeconfig) fn first_content(doc: &str) -> Option<(u64, u64)> {
    for (i, line) in doc.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('%') || t == "---" {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        return Some((i as u64 + 1, indent as u64 + 1));
    }
    None
}

/// kubectl's decoder (go-yaml's `Unmarshal`) stops once the first document's root node is
/// complete: it scans one token further and never asks for the next document's start, so
/// text after a flow-style root (`{…}` and then more lines without a `---`), which YAML and
/// this parser call an error, is not read at all. Where the parse fails after the root
/// ends, where the root ends, when the next token is one go-yaml scans without error;
/// `None` otherwise. Tokens whose scanning can fail (quoted and block scalars, tags,
/// anchors, aliases, directives, reserved characters) are left as errors, as an unclosed
/// quote there is one in kubectl too.
pub(in crate::kubeconfig) fn root_end_before_junk(doc: &str) -> Option<usize> {
    use granit_parser::{Event, Parser};
    let mut depth = 0usize;
    let mut root_end: Option<usize> = None;
    for item in Parser::new_from_str(doc) {
        let Ok((event, span)) = item else {
            let end = root_end?;
            let next = doc
                .get(end..)?
                .lines()
                .map(str::trim_start)
                .find(|l| !l.is_empty() && !l.starts_with('#'))?;
            let scans =
                !next.starts_with(['"', '\'', '|', '>', '!', '&', '*', '%', '@', '`', '\t']);
            return scans.then_some(end);
        };
        let ends_root = match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth = depth.saturating_add(1);
                false
            }
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                depth == 0
            }
            Event::Scalar(..) | Event::Alias(..) => depth == 0,
            Event::StreamEnd => return None,
            _ => false,
        };
        if ends_root && root_end.is_none() {
            root_end = Some(span.byte_range()?.end);
        }
    }
    None
}

/// Where kubectl's reader (go-yaml, YAML 1.1) places a position the parser (YAML 1.2)
/// reports: YAML 1.1 also ends a line at NEL, LS and PS (U+0085, U+2028, U+2029), so
/// after one of those the line is one more and the column counts from it. Both count
/// columns in characters, from 1, and neither counts a byte-order mark. (kubectl's own
/// message gives only the line, 0-based for some errors and none on the first line; the
/// plugin reports lines from 1 and the column too.)
pub(in crate::kubeconfig) fn kubectl_position(doc: &str, line: u64, column: u64) -> (u64, u64) {
    if line == 0 || !doc.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        return (line, column);
    }
    let (mut l, mut c) = (1u64, 1u64);
    let (mut kl, mut kc) = (1u64, 1u64);
    let mut chars = doc
        .strip_prefix('\u{feff}')
        .unwrap_or(doc)
        .chars()
        .peekable();
    while l < line || (l == line && c < column) {
        let Some(ch) = chars.next() else {
            break;
        };
        match ch {
            '\r' | '\n' => {
                if ch == '\r' {
                    chars.next_if_eq(&'\n');
                }
                (l, c) = (l.saturating_add(1), 1);
                (kl, kc) = (kl.saturating_add(1), 1);
            }
            '\u{85}' | '\u{2028}' | '\u{2029}' => {
                c = c.saturating_add(1);
                (kl, kc) = (kl.saturating_add(1), 1);
            }
            _ => {
                c = c.saturating_add(1);
                kc = kc.saturating_add(1);
            }
        }
    }
    (kl, kc)
}
