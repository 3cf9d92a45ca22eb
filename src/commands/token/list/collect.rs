//! The grouping behind `token list`: user entries (shadowed ones and keyring items
//! included) → distinct tokens → the contexts that use them, with each token's earliest
//! recorded expiry.

use std::collections::HashMap;

use crate::commands::token::holders;
use crate::commands::token::show::{token_extension, Expiry};
use crate::kubeconfig::model::NamedUser;
use crate::kubeconfig::resolve::{credential_of, Selection};
use crate::kubeconfig::{Credential, Kubeconfig, KubeconfigError, Sourced};
use crate::secret::Token;
use jiff::Timestamp;

use super::{clean, ContextRef, Holder, Listing, Storage, TokenEntry, SCHEMA_VERSION};

/// The listing (without checks), the distinct tokens in the same order as its rows, and
/// the warnings for stderr.
pub fn collect(
    kc: &Kubeconfig,
    sel: &Selection,
    now: Timestamp,
) -> (Listing, Vec<Token>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut rows: Vec<TokenEntry> = Vec::new();
    let mut tokens: Vec<Token> = Vec::new();
    let users: usize = kc.files.iter().map(|f| f.config.users.len()).sum();
    let mut row_of: HashMap<Token, usize> = HashMap::with_capacity(users);
    // [file][index] of a user entry that kubectl uses → its row, for the contexts below.
    let mut row_of_user: Vec<Vec<Option<usize>>> = kc
        .files
        .iter()
        .map(|f| vec![None; f.config.users.len()])
        .collect();
    let file_names: Vec<String> = (0..kc.files.len())
        .map(|i| clean(&kc.path(i).display().to_string()))
        .collect();
    let mut expiries: Vec<Vec<Expiry>> = Vec::new();
    let mut other_users = 0;
    for (origin, entry) in kc.all_users() {
        let Some((token, storage)) = listed_credential(kc, origin, entry, &mut warnings) else {
            other_users += 1;
            continue;
        };
        let row = *row_of.entry(token.clone()).or_insert_with(|| {
            rows.push(TokenEntry {
                token: token.masked(),
                holders: Vec::new(),
                contexts: Vec::new(),
                expires: None,
                expires_in_days: None,
                expired: None,
                expiry_warning: false,
                expires_in_secs: None,
                check: None,
            });
            tokens.push(token.clone());
            expiries.push(Vec::new());
            rows.len() - 1
        });
        let recorded = token_extension(kc, origin).and_then(|e| e.expires.clone());
        if let Some(e) = &recorded {
            expiries[row].push(Expiry::at(e, now));
        }
        let shadowed = kc.user(&entry.name).map(|(s, _)| s) != Some(origin);
        if !shadowed {
            row_of_user[origin.file][origin.index] = Some(row);
        }
        rows[row].holders.push(Holder {
            user: clean(&entry.name),
            file: file_names[origin.file].clone(),
            shadowed,
            storage,
            expires: recorded.map(|e| clean(&e)),
        });
    }
    let current = sel
        .context
        .as_deref()
        .filter(|c| !c.is_empty())
        .or(kc.current_context());
    for (name, ctx) in kc.contexts() {
        let Some(user) = ctx.context.as_ref().and_then(|c| c.user.as_deref()) else {
            continue;
        };
        let Some((Sourced { file, index }, _)) = kc.user(user) else {
            continue;
        };
        let Some(row) = row_of_user[file][index] else {
            continue;
        };
        let context_file = kc.context(name).map_or(0, |(s, _)| s.file);
        rows[row].contexts.push(ContextRef {
            name: clean(name),
            file: file_names[context_file].clone(),
            current: Some(name) == current,
        });
    }
    earliest_expiries(&mut rows, &expiries, &tokens, &mut warnings);
    let listing = Listing {
        schema_version: SCHEMA_VERSION,
        files: file_names,
        current_context: current.map(clean),
        tokens: rows,
        other_users,
    };
    (listing, tokens, warnings)
}

/// An entry's CoreWeave token and where it keeps it; `None` for an entry not listed (no
/// CoreWeave token, or one that cannot be read, with a warning saying why).
fn listed_credential(
    kc: &Kubeconfig,
    origin: Sourced,
    entry: &NamedUser,
    warnings: &mut Vec<String>,
) -> Option<(Token, Storage)> {
    let credential = match credential_of(kc.path(origin.file), entry) {
        Ok(c) if c.token().is_coreweave() => c,
        // `token store` moved it into the OS keyring: the exec entry leads there (one
        // keyring read per such entry).
        Err(KubeconfigError::NoToken { .. }) => match holders::stored_credential(kc, origin) {
            Some(Ok(c)) if c.token().is_coreweave() => c,
            Some(Err(e)) => {
                warnings.push(format!("{e:#}; not listed"));
                return None;
            }
            _ => return None,
        },
        Ok(_) => return None,
        Err(e) => {
            let mut text = e.to_string();
            if let Some(io) =
                std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>())
            {
                text = format!("{text}: {}", crate::io::io_message(io));
            }
            warnings.push(format!("{text}; not listed"));
            return None;
        }
    };
    Some(match credential {
        Credential::Inline(t) => (t, Storage::Token),
        Credential::File { path, token } => (
            token,
            Storage::TokenFile {
                path: clean(&path.display().to_string()),
            },
        ),
        Credential::Keyring { reference, token } => {
            warnings.extend(holders::foreign_program_note(kc, origin));
            (
                token,
                Storage::Keyring {
                    item: clean(&reference),
                },
            )
        }
    })
}

/// Each row's expiry: the earliest readable one its holders record; an unreadable one only
/// when no holder records a readable one.
fn earliest_expiries(
    rows: &mut [TokenEntry],
    expiries: &[Vec<Expiry>],
    tokens: &[Token],
    warnings: &mut Vec<String>,
) {
    for ((row, found), token) in rows.iter_mut().zip(expiries).zip(tokens) {
        let Some(expiry) = found
            .iter()
            .filter(|e| e.left.is_some())
            .min_by_key(|e| e.left)
            .or(found.first())
        else {
            continue;
        };
        row.expires = Some(clean(&expiry.expires));
        row.expires_in_days = expiry.in_days();
        row.expired = expiry.expired();
        row.expires_in_secs = expiry.left.map(|d| d.as_secs());
        if let Some(w) = expiry.warning() {
            row.expiry_warning = true;
            warnings.push(format!("{}: {w}", token.masked()));
        }
    }
}
