//! The token type. A CoreWeave token is a bearer secret for every cluster and for
//! api.coreweave.com, so it lives in a type whose `Debug` and `Display` never show it:
//! printing a whole token takes an explicit call to [`Token::expose`], which only `--raw`
//! output and the writers of kubeconfig and token files make.

use bytestring::ByteString;
use std::fmt;

/// The prefix of every CoreWeave API access token.
pub const COREWEAVE_PREFIX: &str = "CW-SECRET-";

/// The punctuation a CoreWeave-shaped secret may hold, besides ASCII letters and digits.
pub const SECRET_ALPHABET: &str = "-_.~+/=";

/// The fewest characters after [`COREWEAVE_PREFIX`] a CoreWeave-shaped token has: enough to
/// refuse a truncated paste (`CW-SECRET-` alone, a few characters), far below the length
/// of real tokens.
pub const MIN_SECRET_CHARS: usize = 8;

/// A bearer token. Compared by value; shown only masked. Held as a [`ByteString`] so a
/// token read from a kubeconfig stays a slice of the file's text, as the model's other
/// strings are.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(ByteString);

impl Token {
    pub fn new(value: impl Into<ByteString>) -> Token {
        Token(value.into())
    }

    /// The whole secret. Callers: `--raw` output, file writers, HTTP Authorization headers.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_coreweave(&self) -> bool {
        self.0.starts_with(COREWEAVE_PREFIX)
    }

    /// Whether the token has the shape of a CoreWeave API access token, which `token
    /// rotate` requires without `--force` (of the tokens it writes and of the tokens it
    /// replaces). The secret's alphabet and length are not documented, so the rule is
    /// conservative: [`COREWEAVE_PREFIX`], then at least [`MIN_SECRET_CHARS`] characters of
    /// [`SECRET_ALPHABET`] (letters, digits and the URL-safe and base64 punctuation).
    pub fn is_coreweave_shaped(&self) -> bool {
        self.0.strip_prefix(COREWEAVE_PREFIX).is_some_and(|secret| {
            secret.len() >= MIN_SECRET_CHARS
                && secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || SECRET_ALPHABET.contains(c))
        })
    }

    /// `CW-SECRET-…wxyz`: the well-known prefix and at most the last 4 characters. Short
    /// secrets show fewer (a quarter of the secret part at most), so a mask never gives
    /// away a meaningful share of the token.
    pub fn masked(&self) -> String {
        let (prefix, secret) = match self.0.strip_prefix(COREWEAVE_PREFIX) {
            Some(rest) => (COREWEAVE_PREFIX, rest),
            None => ("", &*self.0),
        };
        let chars = secret.chars().count();
        let shown = (chars / 4).min(4);
        let tail_at = secret
            .char_indices()
            .nth(chars - shown)
            .map_or(secret.len(), |(at, _)| at);
        let mut out = String::with_capacity(prefix.len() + '…'.len_utf8() + shown * 4);
        out.push_str(prefix);
        out.push('…');
        out.push_str(&secret[tail_at..]);
        out
    }
}

/// Read from a kubeconfig's `token:` as the string it is.
impl<'de> serde::Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Token, D::Error> {
        ByteString::deserialize(d).map(Token)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.masked())
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Every `CW-SECRET-<secret>` in `s` masked. The secret's alphabet is not documented, so
/// the secret runs to the first character that cannot be part of a token in running
/// text: whitespace, a quote, a bracket or separator, or the mask's own `…`.
pub fn mask_coreweave_tokens(s: &str) -> String {
    // Built once: `str::find` sets up a substring searcher on every call, and `token
    // list` masks every cell of its table.
    static PREFIX: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(COREWEAVE_PREFIX));
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = PREFIX.find(rest.as_bytes()) {
        out.push_str(&rest[..i]);
        let after = &rest[i + COREWEAVE_PREFIX.len()..];
        let end = after
            .find(|c: char| c.is_whitespace() || "\"'`,;()[]{}<>…\\".contains(c))
            .unwrap_or(after.len());
        if end == 0 {
            out.push_str(COREWEAVE_PREFIX);
        } else {
            let token = format!("{COREWEAVE_PREFIX}{}", &after[..end]);
            out.push_str(&Token::new(token).masked());
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `s` with every control character (ESC, BEL, CR, LF, backspace, DEL, C1) and every
/// invisible formatting character (zero-width spaces and joiners, bidirectional overrides
/// and isolates, the byte-order mark) written as an escape (`\u{1b}`, `\n`, `\u{202e}`),
/// so text read from a file or a server cannot move the cursor, recolour the terminal,
/// reorder what is shown or forge a line of output.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    // Printable ASCII (most text) holds nothing to escape: no char decoding for it.
    if s.bytes().all(|b| (b' '..=b'~').contains(&b)) || !s.chars().any(is_hidden) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    std::borrow::Cow::Owned(out)
}

/// The one way text that came from a kubeconfig (a name, a server, a scalar an error
/// quotes, a line of a dry-run diff) is printed: every `CW-SECRET-…` run masked, control
/// and invisible characters escaped. Credential values without the prefix are hidden
/// before this, by whoever knows which key they sit under
/// (`kubeconfig::mask::kubeconfig_lines` for whole files).
pub fn shown(s: &str) -> String {
    let masked = mask_coreweave_tokens(s);
    match escape_controls(&masked) {
        std::borrow::Cow::Borrowed(_) => masked,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

/// A path from a kubeconfig (or beside one) as [`shown`] prints it.
pub fn shown_path(p: &std::path::Path) -> String {
    shown(&p.display().to_string())
}

/// [`shown`] in double quotes, with `"` and `\` escaped as well: a name in a message
/// (`context "dev" is not defined`) whose own quotes cannot end the quoting early.
pub fn quoted(s: &str) -> String {
    let plain = |t: &str| {
        t.bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    };
    if plain(s) && !s.contains(COREWEAVE_PREFIX) {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
        return out;
    }
    let masked = mask_coreweave_tokens(s);
    let mut out = String::with_capacity(masked.len() + 2);
    out.push('"');
    if plain(&masked) {
        out.push_str(&masked);
        out.push('"');
        return out;
    }
    for c in masked.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => push_escaped(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// JSON text (as serde_json writes it) with every control or invisible character inside
/// its strings written as a `\uXXXX` escape: the same document, value for value, that a
/// terminal shows without obeying it. serde_json escapes only C0 controls; DEL, C1 (CSI is
/// U+009B) and bidirectional overrides pass through it. JSON is YAML too, so `-o yaml`
/// falls back to this form when its own text would carry such a character.
pub fn escape_json_text(json: &str) -> std::borrow::Cow<'_, str> {
    // Outside strings serde_json writes only ASCII punctuation, digits, letters, spaces and
    // line breaks, so every other hidden character is inside a string.
    let hidden = |c: char| c != '\n' && is_hidden(c);
    if !json.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if hidden(c) {
            // Every hidden character is in the Basic Multilingual Plane: one escape each.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether `s` holds a control or invisible character [`escape_controls`] would escape.
pub fn has_hidden(s: &str) -> bool {
    s.chars().any(is_hidden)
}

/// Characters that change how a terminal shows the rest of a line, or that show nothing.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

fn push_escaped(out: &mut String, c: char) {
    if c.is_control() {
        out.extend(c.escape_debug());
    } else if is_hidden(c) {
        out.extend(c.escape_unicode());
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "CW-SECRET-fake-abcdefghijklmnop-qrstuvwxyz0123";

    #[test]
    fn debug_and_display_hide_the_secret() {
        let t = Token::new(SECRET);
        for shown in [format!("{t:?}"), format!("{t}"), format!("{:?}", Some(&t))] {
            assert!(!shown.contains("abcdefghijklmnop"), "{shown}");
            assert!(shown.contains("CW-SECRET-…0123"), "{shown}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_controls("a\x1b[31mb\r\n\x07\x08"),
            "a\\u{1b}[31mb\\r\\n\\u{7}\\u{8}"
        );
        assert_eq!(
            escape_controls("a\u{202e}b\u{200b}"),
            "a\\u{202e}b\\u{200b}"
        );
        assert!(matches!(
            escape_controls("plain é"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn shown_and_quoted_mask_tokens_and_escape() {
        let s = format!("ctx {SECRET} \x1b[2J");
        assert_eq!(shown(&s), "ctx CW-SECRET-…0123 \\u{1b}[2J");
        assert_eq!(quoted(&s), "\"ctx CW-SECRET-…0123 \\u{1b}[2J\"");
        assert_eq!(quoted("a\"b\\"), r#""a\"b\\""#);
        assert_eq!(shown(&shown(&s)), shown(&s));
    }

    #[test]
    fn coreweave_shape_is_prefix_length_and_alphabet() {
        assert!(Token::new(SECRET).is_coreweave_shaped());
        assert!(Token::new("CW-SECRET-aZ09-_.~+/=").is_coreweave_shaped());
        for bad in [
            "CW-SECRET-",
            "CW-SECRET-abc",
            "CW-SECRET-abcdefg\u{200b}h",
            "CW-SECRET-abcdefgh\u{feff}",
            "CW-SECRET-abcdéfgh",
            "CW-SECRET-abcd efgh",
            "CW-SECRET-abcd\"efgh",
            "cw-secret-abcdefgh",
            "eyJhbGciOiJSUzI1NiJ9.x.y",
        ] {
            assert!(!Token::new(bad).is_coreweave_shaped(), "{bad:?}");
        }
    }

    #[test]
    fn json_text_escapes_what_serde_json_leaves() {
        let v = serde_json::json!({"a": "x\u{9b}31m\u{202e}\u{7f}\u{1b}\nz"});
        let text = serde_json::to_string_pretty(&v).expect("json");
        let escaped = escape_json_text(&text);
        assert!(!has_hidden(&escaped.replace('\n', "")), "{escaped:?}");
        let back: serde_json::Value = serde_json::from_str(&escaped).expect("still json");
        assert_eq!(back, v);
    }

    #[test]
    fn short_and_foreign_tokens_show_little() {
        assert_eq!(Token::new("CW-SECRET-abc").masked(), "CW-SECRET-…");
        assert_eq!(Token::new("CW-SECRET-abcdefgh").masked(), "CW-SECRET-…gh");
        assert_eq!(Token::new("").masked(), "…");
        assert_eq!(Token::new("eyJhbGciOiJSUzI1NiJ9.payload").masked(), "…load");
        assert_eq!(Token::new("CW-SECRET-ééééééééé").masked(), "CW-SECRET-…éé");
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// The printable-ASCII shortcuts of `escape_controls` and `quoted` give what the
        /// character-by-character escaping gives.
        #[test]
        fn the_ascii_shortcuts_escape_as_every_character_is_escaped(
            s in prop_oneof![
                3 => "[ -~]{0,30}",
                1 => "[ -~\\x00-\\x1f\\x7f\u{85}\u{ad}\u{200b}\u{202e}\u{feff}é\"\\\\]{0,30}",
                1 => Just("ctx CW-SECRET-test-fake-escape-0123 \"x\"".to_string()),
            ],
        ) {
            let each: String = s.chars().fold(String::new(), |mut out, c| {
                push_escaped(&mut out, c);
                out
            });
            prop_assert_eq!(escape_controls(&s).into_owned(), each);
            let masked = mask_coreweave_tokens(&s);
            let mut quoted_each = String::from("\"");
            for c in masked.chars() {
                match c {
                    '"' | '\\' => {
                        quoted_each.push('\\');
                        quoted_each.push(c);
                    }
                    c => push_escaped(&mut quoted_each, c),
                }
            }
            quoted_each.push('"');
            prop_assert_eq!(quoted(&s), quoted_each);
        }
    }
}
