//! Kubeconfig text as the plugin may print it (the lines of `token rotate --dry-run`):
//! every credential value hidden and every line passed through [`secret::shown`]. Two
//! finders mark the bytes to hide, and their union is hidden: the YAML tree (when the first
//! document parses: every credential key's value in any style, aliases followed, every
//! scalar holding `CW-SECRET-`), and a line scanner for what the tree does not see
//! (comments, later documents, text that does not parse: `key: value` anywhere on a line,
//! block scalars below). Over-hiding costs a less informative preview; under-hiding leaks a
//! credential, so every doubt hides.

use std::ops::Range;

use super::read::yaml_tree::{Doc, Kind, Stream};
use crate::secret::{self, Token, COREWEAVE_PREFIX};

/// Keys whose values are credentials (client-go's `AuthInfo`, `auth-provider.config`).
/// Compared without ASCII case: Go's JSON decoder, which kubectl's YAML decoding ends in,
/// matches field names that way.
pub const CREDENTIAL_KEYS: &[&str] = &[
    "token",
    "password",
    "client-key-data",
    "client-certificate-data",
    "id-token",
    "refresh-token",
    "access-token",
    "client-secret",
];

/// The lines of a kubeconfig's text, credentials hidden, line for line (so a diff made on
/// the real text can print these lines by index). Line breaks are not included.
pub fn kubeconfig_lines(text: &str) -> Vec<String> {
    let mut hidden = tree_secrets(text);
    hidden.extend(scanned_secrets(text));
    render(text, merge(hidden))
}

/// The lines of a token file: all secret (the file holds a token and nothing else).
pub fn token_file_lines(text: &str) -> Vec<String> {
    let whole = 0..text.len();
    render(text, vec![whole])
}

fn is_credential_key(key: &str) -> bool {
    CREDENTIAL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// The spans the YAML tree knows to be secret; none when the text does not parse.
fn tree_secrets(text: &str) -> Vec<Range<usize>> {
    let Ok(doc) = Doc::parse(text, Stream::Drop) else {
        return Vec::new();
    };
    let span = |id: usize| -> Option<Range<usize>> {
        let n = doc.nodes.get(id)?;
        let end = n
            .end
            .max(n.content_end)
            .max(n.close.as_ref().map_or(0, |c| c.end));
        Some(n.start..end.min(text.len()))
    };
    let mut out = Vec::new();
    for (id, node) in doc.nodes.iter().enumerate() {
        match &node.kind {
            Kind::Scalar { value, .. } if value.contains(COREWEAVE_PREFIX) => {
                out.extend(span(id));
            }
            Kind::Map { .. } => {
                for (k, v) in doc.pairs(id) {
                    if doc.scalar_text(k).is_some_and(is_credential_key) {
                        out.extend(span(v));
                        // The anchored node an alias value stands for is the secret itself.
                        if let Some(target) = doc.resolve(v).filter(|t| *t != v) {
                            out.extend(span(target));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The spans the line scanner finds: credential keys followed by `:` anywhere on a line.
fn scanned_secrets(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut line_start = 0;
    while line_start < text.len() {
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i);
        let line = &text[line_start..line_end];
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let lower = line.to_ascii_lowercase();
        for key in CREDENTIAL_KEYS {
            let mut from = 0;
            while let Some(i) = lower[from..].find(key) {
                let at = from + i;
                from = at + key.len();
                if let Some(value) = value_after_key(line, at, key.len()) {
                    let start = line_start + value;
                    out.push(start..value_end(text, bytes, start, line_end, indent));
                }
            }
        }
        line_start = line_end + 1;
    }
    out
}

/// Where the value starts when `line[at..at + len]` is a key followed by `:`.
fn value_after_key(line: &str, at: usize, len: usize) -> Option<usize> {
    let before = line[..at].chars().next_back();
    let quote = before.filter(|c| *c == '"' || *c == '\'');
    let boundary = match quote {
        Some(_) => true,
        None => before.is_none_or(|c| " \t{,[?-#".contains(c)),
    };
    if !boundary {
        return None;
    }
    let mut rest = &line[at + len..];
    if let Some(q) = quote {
        rest = rest.strip_prefix(q)?;
    }
    let after_colon = rest.trim_start_matches([' ', '\t']).strip_prefix(':')?;
    // `token:x` is a plain scalar in block YAML, but JSON and flow YAML allow it after a
    // quoted key; hiding too much is the safe side, so both count.
    let value = after_colon.trim_start_matches([' ', '\t']);
    Some(line.len() - value.len())
}

/// End of the value starting at `start` (inside the line ending at `line_end`, whose key
/// line is indented `indent`).
fn value_end(text: &str, bytes: &[u8], start: usize, line_end: usize, indent: usize) -> usize {
    match bytes.get(start) {
        Some(b'"') => closing_quote(bytes, start, b'"'),
        Some(b'\'') => closing_quote(bytes, start, b'\''),
        // A block scalar, an anchor or tag before the value, nothing (the value on the next
        // lines), or a comment: everything more indented below is the value.
        Some(b'|' | b'>' | b'&' | b'!' | b'#') | None => indented_block_end(text, line_end, indent),
        Some(b'\n' | b'\r') => indented_block_end(text, line_end, indent),
        Some(_) => {
            let line = &text[start..line_end];
            // In a flow collection a plain scalar ends at `,`, `}` or `]`; in block YAML it
            // runs to the end of the line and may go on over more-indented lines.
            let flow = text[..start]
                .rfind('\n')
                .map_or(&text[..start], |nl| &text[nl + 1..start])
                .contains(['{', '[']);
            // Either way ` #` starts a comment, which ends it.
            let comment = line.find(" #").or_else(|| line.find("\t#"));
            if flow {
                let end = line.find([',', '}', ']']).unwrap_or(line.len());
                start + end.min(comment.unwrap_or(end))
            } else if let Some(c) = comment {
                start + line[..c].trim_end().len()
            } else {
                indented_block_end(text, line_end, indent)
            }
        }
    }
}

/// End of a quoted scalar (its closing quote included), across lines; the end of the text
/// when it never closes.
fn closing_quote(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b if b == quote => {
                if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The end of the lines after `line_end` that are blank or indented more than `indent`.
fn indented_block_end(text: &str, line_end: usize, indent: usize) -> usize {
    let mut end = line_end;
    let mut next = line_end + 1;
    while next < text.len() {
        let stop = text[next..].find('\n').map_or(text.len(), |i| next + i);
        let line = text[next..stop].trim_end_matches('\r');
        let own = line.len() - line.trim_start_matches([' ', '\t']).len();
        if line.trim().is_empty() {
            next = stop + 1;
            continue;
        }
        if own <= indent {
            break;
        }
        end = stop;
        next = stop + 1;
    }
    end
}

/// Sorted, overlapping or touching spans joined.
fn merge(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.retain(|r| r.start < r.end);
    spans.sort_by_key(|r| r.start);
    let mut out: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for r in spans {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The text's lines with each hidden span replaced: its first line shows the masked
/// secret (`CW-SECRET-…wxyz`, or `…` and a few last characters of another credential),
/// its further lines `…`, indentation kept.
fn render(text: &str, hidden: Vec<Range<usize>>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut pos = 0;
    let push_visible = |current: &mut String, lines: &mut Vec<String>, part: &str| {
        let mut parts = part.split('\n');
        if let Some(first) = parts.next() {
            current.push_str(first);
        }
        for p in parts {
            lines.push(std::mem::take(current));
            current.push_str(p);
        }
    };
    for span in hidden {
        let (start, end) = (floor(text, span.start), floor(text, span.end));
        if start < pos {
            continue;
        }
        push_visible(&mut current, &mut lines, &text[pos..start]);
        let secret_text = &text[start..end];
        let mut parts = secret_text.split('\n');
        if let Some(first) = parts.next() {
            current.push_str(&first_line_mask(first, secret_text));
        }
        for p in parts {
            lines.push(std::mem::take(&mut current));
            let body = p.trim_start_matches([' ', '\t']);
            current.push_str(&p[..p.len() - body.len()]);
            if !body.trim().is_empty() {
                current.push('…');
            }
        }
        pos = end;
    }
    push_visible(&mut current, &mut lines, &text[pos..]);
    if !current.is_empty() || (!text.ends_with('\n') && !text.is_empty()) {
        lines.push(current);
    }
    lines
        .iter()
        .map(|l| secret::shown(l.strip_suffix('\r').unwrap_or(l)))
        .collect()
}

/// The first line of a hidden span: its opening quote or block indicator kept, the secret
/// (all its lines, quotes and spaces removed) masked.
fn first_line_mask(first: &str, whole: &str) -> String {
    let trimmed = first.trim_end_matches('\r');
    let quote = trimmed
        .chars()
        .next()
        .filter(|c| *c == '"' || *c == '\'')
        .map(String::from)
        .unwrap_or_default();
    let header = trimmed.starts_with(['|', '>']);
    let secret: String = whole
        .split('\n')
        .enumerate()
        .flat_map(|(i, l)| {
            let l = if i == 0 && header { "" } else { l };
            l.chars()
        })
        .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
        .collect();
    if secret.is_empty() && !trimmed.trim().is_empty() {
        return trimmed.to_string();
    }
    if secret.is_empty() {
        return String::new();
    }
    let closing = if !quote.is_empty() && !whole.contains('\n') && trimmed.len() > 1 {
        quote.clone()
    } else {
        String::new()
    };
    let masked = Token::new(secret).masked();
    match (header, trimmed.trim()) {
        (true, h) => format!("{h} {masked}"),
        _ => format!("{quote}{masked}{closing}"),
    }
}

/// `at`, moved back to a character boundary.
fn floor(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRETS: &[&str] = &[
        "CW-SECRET-abcdefghijklmnopqrst",
        "hunter2-pw-value-zzq",
        "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t",
        "eyJhbGciOiJSUzI1NiJ9.idtokenpayload",
        "rf-secret-value-123",
    ];

    fn assert_hidden(text: &str) {
        let shown = kubeconfig_lines(text).join("\n");
        for s in SECRETS {
            // No run of 8 characters of any secret (after the public prefix) may show.
            let s = s.strip_prefix(COREWEAVE_PREFIX).unwrap_or(s);
            for w in s.as_bytes().windows(8) {
                let w = std::str::from_utf8(w).unwrap_or("");
                assert!(!shown.contains(w), "{w:?} of {s:?} shows in:\n{shown}");
            }
        }
        assert_eq!(
            kubeconfig_lines(text).len(),
            text.split_inclusive('\n').count(),
            "line count of {text:?}"
        );
    }

    #[test]
    fn credentials_in_every_style_are_hidden() {
        let block = "users:\n- name: u\n  user:\n    token: CW-SECRET-abcdefghijklmnopqrst\n    password: \"hunter2-pw-value-zzq\"\n    client-key-data: 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t'\n";
        assert_hidden(block);
        let folded = "users:\n- name: u\n  user:\n    token: |-\n      CW-SECRET-abcdefghij\n      klmnopqrst\n    password: >\n      hunter2-pw-value-zzq\n";
        assert_hidden(folded);
        let flow = "users: [{name: u, user: {token: CW-SECRET-abcdefghijklmnopqrst, password: hunter2-pw-value-zzq}}]\n";
        assert_hidden(flow);
        let json = r#"{"users":[{"name":"u","user":{"token":"CW-SECRET-abcdefghijklmnopqrst","auth-provider":{"config":{"id-token":"eyJhbGciOiJSUzI1NiJ9.idtokenpayload","refresh-token":"rf-secret-value-123"}}}}]}"#;
        assert_hidden(json);
        let escaped_key = "users: [{name: u, user: {\"tok\\u0065n\": \"CW-SECRET-abcdefghijklmnopqrst\", \"pass\\x77ord\": \"hunter2-pw-value-zzq\"}}]\n";
        assert_hidden(escaped_key);
        let comment =
            "# old: CW-SECRET-abcdefghijklmnopqrst\n# password: hunter2-pw-value-zzq\nusers: []\n";
        assert_hidden(comment);
        let quoted_multiline = "users:\n- name: u\n  user:\n    token: \"CW-SECRET-abcdefghij\n      klmnopqrst\"\n    Password:\n      hunter2-pw-value-zzq\n";
        assert_hidden(quoted_multiline);
        let alias = "x: &p hunter2-pw-value-zzq\nusers:\n- name: u\n  user:\n    password: *p\n";
        assert_hidden(alias);
        let broken = "users:\n- name: u\n  user:\n    token: CW-SECRET-abcdefghijklmnopqrst\n  [unclosed\n    password: hunter2-pw-value-zzq\n";
        assert_hidden(broken);
    }

    use proptest::prelude::*;

    /// A credential key in some ASCII case, written in one of the styles a kubeconfig may
    /// use for it, somewhere in a user entry, with text around it.
    fn credential_in_style(
        key: &str,
        value: &str,
        style: u8,
        upper: bool,
        comment: bool,
    ) -> String {
        let key = if upper {
            key.to_ascii_uppercase()
        } else {
            key.to_string()
        };
        let tail = if comment { "   # note" } else { "" };
        let (a, b) = value.split_at(value.len() / 2);
        let entry = match style {
            0 => format!("    {key}: {value}{tail}\n"),
            1 => format!("    {key}: \"{value}\"{tail}\n"),
            2 => format!("    '{key}': '{value}'{tail}\n"),
            3 => format!("    {key}: |-{tail}\n      {value}\n"),
            4 => format!("    {key}: >\n      {a}\n      {b}\n"),
            5 => format!("    {key}: \"{a}\\\n      {b}\"\n"),
            6 => format!("    {key}:\n      {value}\n"),
            7 => format!("    {{\"{key}\": \"{value}\", other: 1}}\n"),
            8 => format!("    nested: {{deep: [{{{key}: {value}}}]}}\n"),
            9 => format!("    {key}: &a1 {value}\n    copy: *a1\n"),
            _ => format!("    # {key}: {value}\n"),
        };
        let user = if style == 7 {
            format!("- name: u\n  user:\n{entry}")
        } else {
            format!("- name: u\n  user:\n{entry}    username: admin\n")
        };
        format!("apiVersion: v1\nkind: Config\nusers:\n{user}- name: v\n  user: {{token: x}}\n")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn no_credential_value_shows_in_any_style(
            key in prop::sample::select(CREDENTIAL_KEYS),
            value in "[A-Za-z0-9]{16,40}",
            style in 0u8..11,
            upper: bool,
            comment: bool,
        ) {
            let text = credential_in_style(key, &value, style, upper, comment);
            let shown = kubeconfig_lines(&text).join("\n");
            for w in value.as_bytes().windows(8) {
                let w = std::str::from_utf8(w).unwrap_or("");
                prop_assert!(!shown.contains(w), "{w:?} shows in:\n{shown}\nfrom:\n{text}");
            }
            prop_assert_eq!(kubeconfig_lines(&text).len(), text.lines().count());
        }
    }

    #[test]
    fn the_rest_stays_readable() {
        let text = "users:\n- name: u # me\n  user:\n    token: CW-SECRET-abcdefghijklmnopqrst   # rotate me\n    tokenFile: /tmp/x\n";
        assert_eq!(
            kubeconfig_lines(text),
            [
                "users:",
                "- name: u # me",
                "  user:",
                "    token: CW-SECRET-…qrst   # rotate me",
                "    tokenFile: /tmp/x",
            ]
        );
        assert_eq!(
            kubeconfig_lines("a: \"x\u{1b}[2J\"\r\n"),
            ["a: \"x\\u{1b}[2J\""]
        );
        assert_eq!(
            token_file_lines("CW-SECRET-abcdefghijklmnopqrst\n"),
            ["CW-SECRET-…qrst"]
        );
    }
}
