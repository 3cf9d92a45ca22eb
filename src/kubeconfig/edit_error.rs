//! The error and position types the format-preserving editor reports, below the node
//! tree (`yaml_tree.rs`) and the editor that plans on it, so that no module imports from a
//! module that imports it. Messages are single-line and never carry a scalar's value.

use std::fmt;

use crate::secret::{quoted, shown};

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
    #[error("kubeconfig is not valid yaml at {position}: {}", shown(.reason))]
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
    #[error("user {} is not in the users list at {users_at}", quoted(.user))]
    UserNotFound {
        /// The requested user name.
        user: String,
        /// Position of the `users` list that was searched.
        users_at: Position,
    },
    /// Two entries of the `users` list share a name; kubectl rejects such files.
    #[error(
        "user name {} appears more than once in the users list (at {first} and {second})",
        quoted(.user)
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
    #[error(
        "user {} at {position} has no token key{}",
        quoted(.user),
        .hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
    )]
    NoToken {
        /// The requested user name.
        user: String,
        /// Position of the user's entry or `user` mapping.
        position: Position,
        /// Extra context such as `"it only has tokenFile"`.
        hint: Option<String>,
    },
    /// The `token` value is a mapping or a list.
    #[error("token of user {} at {position} is a {found}, not a scalar", quoted(.user))]
    NotScalar {
        /// The requested user name.
        user: String,
        /// Position of the token value.
        position: Position,
        /// What the value is (`mapping`, `list`).
        found: &'static str,
    },
    /// The token, or the path to it, uses a construct the editor cannot change safely.
    #[error("{}", shown(.detail))]
    Unsupported {
        /// Which construct, for which user, where.
        detail: String,
    },
    /// The same user appears in `edits` with two different new tokens.
    #[error("user {} is given two different new tokens", quoted(.user))]
    ConflictingEdits {
        /// The user named twice.
        user: String,
    },
    /// The edited text did not re-parse to the original with exactly the tokens changed.
    #[error("verification of the edited kubeconfig failed: {}", shown(.reason))]
    Verification {
        /// Which check failed (positions only).
        reason: String,
    },
}

pub(super) fn internal(what: &str) -> EditError {
    EditError::Verification {
        reason: format!("internal inconsistency ({what})"),
    }
}

pub(super) fn unsupported(detail: String) -> EditError {
    EditError::Unsupported { detail }
}

pub(super) fn verification(reason: impl Into<String>) -> EditError {
    EditError::Verification {
        reason: reason.into(),
    }
}
