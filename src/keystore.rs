//! The OS keyring that `token store` moves tokens into and the exec plugin (`token
//! credential`) reads them from: one item per reference, under the service name
//! `kubectl-coreweave`, through keyring-core with the platform's own store (Keychain on
//! macOS, Credential Manager on Windows, the Secret Service elsewhere on Unix).
//!
//! kubectl runs `token credential` before every command, and a Secret Service read costs a
//! D-Bus connection and an encrypted session (see BENCHMARKS.md), so on Linux the plugin
//! keeps a copy of the token in the kernel's session keyring for [`CACHE_SECONDS`]
//! ([`read_for_plugin`]); every write through [`Keyring`] drops that copy.
//!
//! Errors say which of the three things a user can act on went wrong (no keyring reachable,
//! keyring locked, no such item); none carries the secret (keyring-core's `BadEncoding`
//! holds the raw bytes, so its text is never shown).

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error};

use crate::secret::Token;

/// The service every item is filed under (`secret-tool search service kubectl-coreweave`).
pub const SERVICE: &str = "kubectl-coreweave";

/// A bearer token is tens of bytes; an item far larger than this holds something else, and
/// kubectl would send it on every request.
const MAX_TOKEN_LEN: usize = 64 * 1024;

/// Item references are short names that travel on the exec entry's command line.
const MAX_REFERENCE_LEN: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("no OS keyring is reachable ({0})")]
    Unreachable(String),
    #[error("the OS keyring is locked ({0}); unlock it (log in to the desktop session, or `gnome-keyring-daemon --unlock`) and try again")]
    Locked(String),
    #[error("the OS keyring has no item {0:?} (service {SERVICE}): it was deleted, or this kubeconfig came from another machine; put the token inline again and run `kubectl coreweave token store`")]
    NoItem(String),
    #[error(
        "the OS keyring holds {count} items {reference:?} (service {SERVICE}); delete all but one"
    )]
    Ambiguous { reference: String, count: usize },
    #[error("keyring item {0:?} does not hold a token (not UTF-8 text)")]
    NotText(String),
    #[error("keyring item {0:?} holds {1} bytes, over the {MAX_TOKEN_LEN} byte limit for a token")]
    TooLarge(String, usize),
    #[error("keyring item reference {0:?} is not usable: use 1 to {MAX_REFERENCE_LEN} letters, digits and . _ @ : / -, starting with a letter or digit")]
    BadReference(String),
    #[error("keyring item {reference:?}: {detail}")]
    Other { reference: String, detail: String },
    #[error("{store} did not answer within {seconds} s (it hangs, or waits on an unlock prompt no one sees); check that it runs and is unlocked{hint}, or give it longer with {TIMEOUT_ENV}=SECONDS")]
    TimedOut {
        store: &'static str,
        seconds: u64,
        hint: &'static str,
    },
}

/// Seconds any one keyring call may take ([`bounded`]), overriding the defaults.
pub const TIMEOUT_ENV: &str = "KUBECTL_COREWEAVE_KEYRING_TIMEOUT";
/// kubectl waits on `token credential` before every command; a keyring that does not
/// answer must not hang it (a stopped gnome-keyring-daemon leaves D-Bus calls unanswered
/// for D-Bus's own 25 s, a missing prompter for ever).
const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// A read that may raise the desktop's unlock prompt waits for a person to type.
const PROMPT_TIMEOUT_SECS: u64 = 60;

/// The platform's store, as named in errors.
#[cfg(target_os = "macos")]
const STORE_NAME: (&str, &str) = ("the macOS Keychain", "");
#[cfg(windows)]
const STORE_NAME: (&str, &str) = ("Windows Credential Manager", "");
#[cfg(not(any(target_os = "macos", windows)))]
const STORE_NAME: (&str, &str) = (
    "the Secret Service (D-Bus org.freedesktop.secrets)",
    " (restart gnome-keyring-daemon or the desktop's keyring, and unlock it)",
);

/// Runs one keyring call on its own thread and waits at most the deadline: the call itself
/// cannot be cancelled (D-Bus and the platform APIs block), so on time-out it is left to
/// finish or die with the process, which is about to end with the error.
fn bounded<T: Send + 'static>(
    may_prompt: bool,
    call: impl FnOnce() -> Result<T, KeyringError> + Send + 'static,
) -> Result<T, KeyringError> {
    let seconds = std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(if may_prompt {
            PROMPT_TIMEOUT_SECS
        } else {
            DEFAULT_TIMEOUT_SECS
        });
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("keyring".into())
        .spawn(move || {
            let _ = tx.send(call());
        });
    if let Err(e) = spawned {
        return Err(KeyringError::Unreachable(one_line(&format!(
            "cannot start a thread for the keyring call: {e}"
        ))));
    }
    match rx.recv_timeout(std::time::Duration::from_secs(seconds)) {
        Ok(result) => result,
        Err(_) => Err(KeyringError::TimedOut {
            store: STORE_NAME.0,
            seconds,
            hint: STORE_NAME.1,
        }),
    }
}

/// A reference may name any item, but it is written on a kubeconfig command line and read
/// back by kubectl: plain characters only, so it needs no quoting anywhere.
pub fn check_reference(reference: &str) -> Result<(), KeyringError> {
    let ok = !reference.is_empty()
        && reference.len() <= MAX_REFERENCE_LEN
        && reference.starts_with(|c: char| c.is_ascii_alphanumeric())
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@:/-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(KeyringError::BadReference(
            reference.escape_debug().to_string(),
        ))
    }
}

/// How long `token credential` may answer from its copy in the kernel keyring.
pub const CACHE_SECONDS: usize = 300;

/// The exec plugin's read: the kernel keyring's copy when there is one, else the OS
/// keyring (and a fresh copy for the next [`CACHE_SECONDS`]).
/// A locked keyring is unlocked (the desktop's prompt) only when `interactive`.
pub fn read_for_plugin(reference: &str, interactive: bool) -> Result<Token, KeyringError> {
    check_reference(reference)?;
    if let Some(token) = cache::get(reference) {
        return Ok(token);
    }
    let owned = reference.to_owned();
    let token = bounded(interactive, move || plugin_read(&owned, interactive))?;
    cache::put(reference, &token);
    Ok(token)
}

/// The Secret Service read of the item keyring-core's store writes (attributes `service`
/// and `username`), asking for an unlock only when `interactive`: the store's own read
/// always asks, and would raise a desktop prompt behind a non-interactive kubectl.
#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn plugin_read(reference: &str, interactive: bool) -> Result<Token, KeyringError> {
    use secret_service::blocking::SecretService;
    use secret_service::Error as SsError;

    let fail = |e: SsError| match e {
        SsError::Locked | SsError::Prompt | SsError::PromptDisconnected => {
            KeyringError::Locked(one_line(&e.to_string()))
        }
        SsError::NoResult => KeyringError::NoItem(reference.to_string()),
        other => KeyringError::Other {
            reference: reference.to_string(),
            detail: one_line(&other.to_string()),
        },
    };
    let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").ok();
    let ss = SecretService::connect(session_encryption(bus.as_deref()))
        .map_err(|e| KeyringError::Unreachable(one_line(&e.to_string())))?;
    let found = ss
        .search_items(HashMap::from([
            ("service", SERVICE),
            ("username", reference),
        ]))
        .map_err(fail)?;
    let item = match (found.unlocked.as_slice(), found.locked.as_slice()) {
        ([item], []) => item,
        ([], []) => return Err(KeyringError::NoItem(reference.to_string())),
        ([], [item]) if interactive => {
            ss.unlock_all(&[item]).map_err(fail)?;
            item
        }
        ([], [_]) => {
            return Err(KeyringError::Locked(
                "kubectl runs the plugin without a terminal, so it does not ask to unlock".into(),
            ))
        }
        (unlocked, locked) => {
            return Err(KeyringError::Ambiguous {
                reference: reference.to_string(),
                count: unlocked.len() + locked.len(),
            })
        }
    };
    token_from(reference, item.get_secret().map_err(fail)?)
}

fn token_from(reference: &str, bytes: Vec<u8>) -> Result<Token, KeyringError> {
    if bytes.len() > MAX_TOKEN_LEN {
        return Err(KeyringError::TooLarge(reference.to_string(), bytes.len()));
    }
    String::from_utf8(bytes)
        .map(Token::new)
        .map_err(|_| KeyringError::NotText(reference.to_string()))
}

/// The Secret Service session's encryption guards the secret on a bus that leaves the
/// machine. On a local socket it guards it from no one who could not ask the keyring
/// directly, and its key exchange (two 1024-bit modular exponentiations, one on each side)
/// was half of a cold `token credential` (BENCHMARKS.md): a plain session there.
#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn session_encryption(bus: Option<&str>) -> secret_service::EncryptionType {
    // Unset, the bus is $XDG_RUNTIME_DIR/bus, a local socket.
    let local = bus.is_none_or(|address| {
        address
            .split(';')
            .filter(|a| !a.is_empty())
            .all(|a| a.starts_with("unix:"))
    });
    if local {
        secret_service::EncryptionType::Plain
    } else {
        secret_service::EncryptionType::Dh
    }
}

/// Keychain and Credential Manager ask (or not) on their own terms.
#[cfg(not(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
)))]
fn plugin_read(reference: &str, _interactive: bool) -> Result<Token, KeyringError> {
    Keyring::open()?.get(reference)
}

/// A copy of items in the kernel's session keyring (Linux keyutils), only ever readable by
/// processes of this login session, expiring on its own after [`CACHE_SECONDS`]. The
/// description names the D-Bus session the item was read through, so a copy is only used
/// with the Secret Service it came from.
#[cfg(target_os = "linux")]
mod cache {
    use linux_keyutils::{KeyRing, KeyRingIdentifier};

    use crate::secret::Token;

    fn description(reference: &str) -> String {
        let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default();
        format!("kubectl-coreweave:{reference}:{bus}")
    }

    /// The session keyring, or the user's session keyring when the process has none (no
    /// PAM session): never a new anonymous one, which would die with this process.
    fn session() -> Option<KeyRing> {
        KeyRing::from_special_id(KeyRingIdentifier::Session, false).ok()
    }

    pub(super) fn get(reference: &str) -> Option<Token> {
        let key = session()?.search(&description(reference)).ok()?;
        let bytes = key.read_to_vec().ok()?;
        super::token_from(reference, bytes).ok()
    }

    /// Best effort: without a copy the plugin is only slower.
    pub(super) fn put(reference: &str, token: &Token) {
        let Some(ring) = session() else { return };
        if let Ok(key) = ring.add_key(&description(reference), token.expose()) {
            if key.set_timeout(super::CACHE_SECONDS).is_err() {
                let _ = key.invalidate();
            }
        }
    }

    pub(super) fn forget(reference: &str) {
        if let Some(key) = session().and_then(|r| r.search(&description(reference)).ok()) {
            let _ = key.invalidate();
        }
    }
}

/// Other systems' keyrings answer without a D-Bus round trip: no copy is kept.
#[cfg(not(target_os = "linux"))]
mod cache {
    use crate::secret::Token;

    pub(super) fn get(_reference: &str) -> Option<Token> {
        None
    }

    pub(super) fn put(_reference: &str, _token: &Token) {}

    pub(super) fn forget(_reference: &str) {}
}

/// The platform's credential store, connected.
pub struct Keyring {
    store: Arc<CredentialStore>,
}

impl Keyring {
    /// Connects to the platform's store; on the Secret Service this is the D-Bus session.
    pub fn open() -> Result<Keyring, KeyringError> {
        let store = bounded(false, || {
            platform_store().map_err(|e| KeyringError::Unreachable(detail(&e)))
        })?;
        Ok(Keyring { store })
    }

    /// `call` on this store under [`bounded`]'s deadline.
    fn bounded<T: Send + 'static>(
        &self,
        reference: &str,
        call: impl FnOnce(&Keyring, &str) -> Result<T, KeyringError> + Send + 'static,
    ) -> Result<T, KeyringError> {
        let keyring = Keyring {
            store: Arc::clone(&self.store),
        };
        let reference = reference.to_owned();
        // The store may raise its own unlock prompt (keyring-core's Secret Service store
        // always asks; Keychain and Credential Manager may).
        bounded(true, move || call(&keyring, &reference))
    }

    fn entry(&self, reference: &str) -> Result<Entry, KeyringError> {
        check_reference(reference)?;
        let label = format!("kubectl-coreweave token {reference}");
        let modifiers = HashMap::from([("label", label.as_str())]);
        Entry::new_in_store_with_modifiers(&self.store, SERVICE, reference, &modifiers)
            .or_else(|_| Entry::new_in_store(&self.store, SERVICE, reference))
            .map_err(|e| classify(reference, e))
    }

    /// The token the item holds.
    pub fn get(&self, reference: &str) -> Result<Token, KeyringError> {
        self.bounded(reference, |k, r| k.get_now(r))
    }

    fn get_now(&self, reference: &str) -> Result<Token, KeyringError> {
        let entry = self.entry(reference)?;
        let text = entry.get_password().map_err(|e| classify(reference, e))?;
        token_from(reference, text.into_bytes())
    }

    /// The token, or `None` when there is no such item.
    pub fn find(&self, reference: &str) -> Result<Option<Token>, KeyringError> {
        match self.get(reference) {
            Ok(t) => Ok(Some(t)),
            Err(KeyringError::NoItem(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the item (replacing its value) and reads it back: the caller changes no file
    /// unless the keyring really holds the token.
    pub fn put(&self, reference: &str, token: &Token) -> Result<(), KeyringError> {
        if token.expose().len() > MAX_TOKEN_LEN {
            return Err(KeyringError::TooLarge(
                reference.to_string(),
                token.expose().len(),
            ));
        }
        check_reference(reference)?;
        cache::forget(reference);
        let value = token.clone();
        self.bounded(reference, move |k, r| {
            k.entry(r)?
                .set_password(value.expose())
                .map_err(|e| classify(r, e))
        })?;
        let back = self.get(reference)?;
        if &back != token {
            return Err(KeyringError::Other {
                reference: reference.to_string(),
                detail: "the item read back differs from what was written".into(),
            });
        }
        Ok(())
    }

    /// Deletes the item; a missing item is not an error.
    pub fn delete(&self, reference: &str) -> Result<(), KeyringError> {
        check_reference(reference)?;
        cache::forget(reference);
        self.bounded(reference, |k, r| match k.entry(r)?.delete_credential() {
            Ok(()) | Err(Error::NoEntry) => Ok(()),
            Err(e) => Err(classify(r, e)),
        })
    }
}

#[cfg(target_os = "macos")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(windows)]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(not(any(windows, all(unix, not(any(target_os = "ios", target_os = "android"))))))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(Error::NotSupportedByStore(
        "this platform has no supported keyring".into(),
    ))
}

fn classify(reference: &str, e: Error) -> KeyringError {
    let reference = reference.to_string();
    match e {
        Error::NoEntry => KeyringError::NoItem(reference),
        Error::NoStorageAccess(p) => KeyringError::Locked(one_line(&p.to_string())),
        Error::BadEncoding(_) => KeyringError::NotText(reference),
        Error::Ambiguous(items) => KeyringError::Ambiguous {
            reference,
            count: items.len(),
        },
        Error::PlatformFailure(p) if unreachable_text(&p.to_string()) => {
            KeyringError::Unreachable(one_line(&p.to_string()))
        }
        other => KeyringError::Other {
            reference,
            detail: detail(&other),
        },
    }
}

/// The D-Bus session went away between connecting and asking.
fn unreachable_text(text: &str) -> bool {
    text.contains("ServiceUnknown") || text.contains("connection") || text.contains("I/O error")
}

/// An error's text without the secret: variants that carry raw bytes are named only.
fn detail(e: &Error) -> String {
    match e {
        Error::BadEncoding(_) => "the item does not hold UTF-8 text".into(),
        Error::BadDataFormat(_, p) => one_line(&format!("unexpected item format: {p}")),
        Error::PlatformFailure(p) | Error::NoStorageAccess(p) => one_line(&p.to_string()),
        other => one_line(&other.to_string()),
    }
}

fn one_line(text: &str) -> String {
    crate::secret::escape_controls(&crate::secret::mask_coreweave_tokens(text)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_plain_words() {
        for ok in ["cw-user", "a.b_c@d:e/f", "x"] {
            assert!(check_reference(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-rm", "a b", "a\nb", "é", &"x".repeat(201)] {
            assert!(check_reference(bad).is_err(), "{bad:?}");
        }
    }

    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    #[test]
    fn only_a_local_bus_gets_a_plain_session() {
        use secret_service::EncryptionType::{Dh, Plain};
        let plain = |bus| matches!(session_encryption(bus), Plain);
        assert!(plain(None));
        assert!(plain(Some("unix:path=/run/user/1000/bus")));
        assert!(plain(Some(
            "unix:abstract=/tmp/dbus-x,guid=1;unix:path=/tmp/b"
        )));
        assert!(matches!(
            session_encryption(Some("tcp:host=10.0.0.1,port=9")),
            Dh
        ));
        assert!(!plain(Some("unix:path=/a;tcp:host=h,port=1")));
    }

    #[test]
    fn an_item_must_be_token_sized_text() {
        assert!(token_from("r", b"CW-SECRET-a".to_vec()).is_ok());
        assert!(matches!(
            token_from("r", vec![b'x'; MAX_TOKEN_LEN + 1]),
            Err(KeyringError::TooLarge(_, _))
        ));
        assert!(matches!(
            token_from("r", b"\xff".to_vec()),
            Err(KeyringError::NotText(_))
        ));
    }

    #[test]
    fn raw_bytes_of_a_bad_item_are_never_shown() {
        let e = classify("r", Error::BadEncoding(b"CW-SECRET-abc\xff".to_vec()));
        assert!(!e.to_string().contains("CW-SECRET"), "{e}");
    }
}
