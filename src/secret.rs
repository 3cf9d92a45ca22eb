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
    fn short_and_foreign_tokens_show_little() {
        assert_eq!(Token::new("CW-SECRET-abc").masked(), "CW-SECRET-…");
        assert_eq!(Token::new("CW-SECRET-abcdefgh").masked(), "CW-SECRET-…gh");
        assert_eq!(Token::new("").masked(), "…");
        assert_eq!(Token::new("eyJhbGciOiJSUzI1NiJ9.payload").masked(), "…load");
        assert_eq!(Token::new("CW-SECRET-ééééééééé").masked(), "CW-SECRET-…éé");
    }
}
