//! The token type. A CoreWeave token is a bearer secret for every cluster and for
//! api.coreweave.com, so it lives in a type whose `Debug` and `Display` never show it:
//! printing a whole token takes an explicit call to [`Token::expose`], which only `--raw`
//! output and the writers of kubeconfig and token files make.

use std::fmt;

/// The prefix of every CoreWeave API access token.
pub const COREWEAVE_PREFIX: &str = "CW-SECRET-";

/// A bearer token. Compared by value; shown only masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Token {
        Token(value.into())
    }

    /// The whole secret. Callers: `--raw` output, file writers, HTTP Authorization headers.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_coreweave(&self) -> bool {
        self.0.starts_with(COREWEAVE_PREFIX)
    }

    /// `CW-SECRET-…wxyz`: the well-known prefix and at most the last 4 characters. Short
    /// secrets show fewer (a quarter of the secret part at most), so a mask never gives
    /// away a meaningful share of the token.
    pub fn masked(&self) -> String {
        let (prefix, secret) = match self.0.strip_prefix(COREWEAVE_PREFIX) {
            Some(rest) => (COREWEAVE_PREFIX, rest),
            None => ("", self.0.as_str()),
        };
        let chars = secret.chars().count();
        let shown = (chars / 4).min(4);
        let tail: String = secret.chars().skip(chars - shown).collect();
        format!("{prefix}…{tail}")
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
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(COREWEAVE_PREFIX) {
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

/// `s` with every control character (ESC, BEL, CR, LF, backspace, DEL, C1) written as an
/// escape (`\u{1b}`, `\n`), so text read from a file or a server cannot move the cursor,
/// recolour the terminal or forge a line of output.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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
        assert!(matches!(
            escape_controls("plain é"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn short_and_foreign_tokens_show_little() {
        assert_eq!(Token::new("CW-SECRET-abc").masked(), "CW-SECRET-…");
        assert_eq!(Token::new("CW-SECRET-abcdefgh").masked(), "CW-SECRET-…gh");
        assert_eq!(Token::new("").masked(), "…");
        assert_eq!(Token::new("eyJhbGciOiJSUzI1NiJ9.payload").masked(), "…load");
        assert_eq!(Token::new("CW-SECRET-ééééééééé").masked(), "CW-SECRET-…éé");
    }
}
