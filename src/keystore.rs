//! The OS keyring that `token store` moves tokens into and the exec plugin (`token
//! credential`) reads them from: one item per reference, under the service name
//! `kubectl-coreweave`, through keyring-core with the platform's own store (Keychain on
//! macOS, Credential Manager on Windows, the Secret Service elsewhere on Unix).
//!
//! kubectl runs `token credential` before every command, and a Secret Service read costs a
//! D-Bus connection and an encrypted session (see BENCHMARKS.md), so on Linux the plugin
//! keeps a copy of the item in the kernel's session keyring for [`CACHE_SECONDS`]
//! ([`read_for_plugin`]); every write through [`Keyring`] drops that copy. The copy is
//! keyed by what names the item (service, item name, the user's uid), never by how the
//! environment spells the bus address, so every write drops the copy `credential` reads.
//!
//! An item holds its token and the servers it may be sent to ([`Item`]), together in the
//! secret value as one versioned record, so every platform store keeps them the same way,
//! and they are written and read in one call: a token is never found without its binding.
//! Items written before bindings existed hold the bare token; they read as unbound.
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

/// The whole item: the token and its servers (a few hundred bytes each).
const MAX_ITEM_LEN: usize = 256 * 1024;

/// The record key that marks an item holding a token and its binding (version 1).
const RECORD_TAG: &str = "kubectl-coreweave";

/// What an item holds: the token, and the servers `token credential` may send it to.
/// `servers` is `None` for an item written before items were bound (a bare token), which
/// is served to no server until `token store` binds it.
#[derive(Clone, PartialEq, Eq)]
pub struct Item {
    pub token: Token,
    pub servers: Option<Vec<Binding>>,
}

/// One server an item may be sent to, with the trust kubectl verifies it by: a server
/// name alone would let a kubeconfig that names the same server, but its own certificate
/// authority and a `proxy-url` it runs, read the token. Public data, no secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Binding {
    /// The server URL, normalised ([`crate::commands::token::credential::normal_server`]).
    pub server: String,
    /// The certificate authority's bytes, base64 (standard alphabet, padded) as kubectl
    /// passes them in `KUBERNETES_EXEC_INFO`; empty for the system's roots.
    #[serde(default)]
    pub ca: String,
    /// `tls-server-name`, lower case; empty when not set.
    #[serde(rename = "tlsServerName", default)]
    pub tls_server_name: String,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item")
            .field("token", &self.token)
            .field("servers", &self.servers)
            .finish()
    }
}

impl Item {
    /// The secret value: `{"kubectl-coreweave":1,"servers":[…],"token":"…"}`, or the bare
    /// token for an item that is bound to nothing yet (as it was written).
    fn encode(&self) -> String {
        match &self.servers {
            Some(servers) => serde_json::json!({
                RECORD_TAG: 1,
                "servers": servers,
                "token": self.token.expose(),
            })
            .to_string(),
            None => self.token.expose().to_string(),
        }
    }

    /// Reads an item's value: the versioned record, or (an item written before bindings,
    /// or by hand with `secret-tool store`) the bare token, unbound.
    fn decode(reference: &str, bytes: Vec<u8>) -> Result<Item, KeyringError> {
        if bytes.len() > MAX_ITEM_LEN {
            return Err(KeyringError::TooLarge(reference.to_string(), bytes.len()));
        }
        #[derive(serde::Deserialize)]
        struct Record {
            #[serde(rename = "kubectl-coreweave")]
            version: u32,
            servers: Vec<Binding>,
            token: String,
        }
        if bytes.starts_with(b"{\"kubectl-coreweave\"") {
            let record: Record =
                serde_json::from_slice(&bytes).map_err(|_| KeyringError::Other {
                    reference: reference.to_string(),
                    detail: "the item's record is not readable; store the token again".into(),
                })?;
            if record.version != 1 {
                return Err(KeyringError::Other {
                    reference: reference.to_string(),
                    detail: format!(
                        "the item was written by a newer kubectl-coreweave (record version {})",
                        record.version
                    ),
                });
            }
            let token = token_from(reference, record.token.into_bytes())?;
            return Ok(Item {
                token,
                servers: Some(record.servers),
            });
        }
        Ok(Item {
            token: token_from(reference, bytes)?,
            servers: None,
        })
    }
}

/// Item references are short names that travel on the exec entry's command line.
const MAX_REFERENCE_LEN: usize = 200;

#[derive(Debug, Clone, thiserror::Error)]
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
pub(crate) fn bounded<T: Send + 'static>(
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
pub fn read_for_plugin(reference: &str, interactive: bool) -> Result<Item, KeyringError> {
    check_reference(reference)?;
    if let Some(item) = cache::get(reference) {
        return Ok(item);
    }
    let owned = reference.to_owned();
    let item = bounded(interactive, move || plugin_read(&owned, interactive))?;
    cache::put(reference, &item);
    Ok(item)
}

/// The Secret Service read of the item keyring-core's store writes (attributes `service`
/// and `username`), asking for an unlock only when `interactive`: the store's own read
/// always asks, and would raise a desktop prompt behind a non-interactive kubectl.
#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn plugin_read(reference: &str, interactive: bool) -> Result<Item, KeyringError> {
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
    Item::decode(reference, item.get_secret().map_err(fail)?)
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
fn plugin_read(reference: &str, _interactive: bool) -> Result<Item, KeyringError> {
    Keyring::open()?.get_item(reference)
}

/// A copy of items in the kernel's session keyring (Linux keyutils), only ever readable by
/// processes of this login session, expiring on its own after [`CACHE_SECONDS`]. The
/// description names the item as the store does (service and item name) and the user, and
/// nothing the environment may spell two ways: a write through the plugin drops the one
/// copy `credential` would read, however the bus address is written.
#[cfg(target_os = "linux")]
mod cache {
    use linux_keyutils::{KeyRing, KeyRingIdentifier};

    use super::Item;

    fn description(reference: &str) -> String {
        let uid = rustix::process::getuid().as_raw();
        format!("{}:{uid}:{reference}", super::SERVICE)
    }

    /// The session keyring, or the user's session keyring when the process has none (no
    /// PAM session): never a new anonymous one, which would die with this process.
    fn session() -> Option<KeyRing> {
        KeyRing::from_special_id(KeyRingIdentifier::Session, false).ok()
    }

    pub(super) fn get(reference: &str) -> Option<Item> {
        let key = session()?.search(&description(reference)).ok()?;
        let bytes = key.read_to_vec().ok()?;
        Item::decode(reference, bytes).ok()
    }

    /// Best effort: without a copy the plugin is only slower.
    pub(super) fn put(reference: &str, item: &Item) {
        let Some(ring) = session() else { return };
        if let Ok(key) = ring.add_key(&description(reference), item.encode().as_bytes()) {
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
    use super::Item;

    pub(super) fn get(_reference: &str) -> Option<Item> {
        None
    }

    pub(super) fn put(_reference: &str, _item: &Item) {}

    pub(super) fn forget(_reference: &str) {}
}

/// The item, read at most once per process (connecting once): `show`, `list`, `rotate` and
/// `import` ask for each entry that reads an item, and many entries may read one. Writes
/// through [`Keyring`] update what later reads here see.
pub fn read_once(reference: &str) -> Result<Item, KeyringError> {
    let mut guard = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let read = guard.get_or_insert_with(HashMap::new);
    if let Some(known) = read.get(reference) {
        return known.clone();
    }
    let item = SHARED
        .get_or_init(Keyring::open)
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|k| k.get_item(reference));
    read.insert(reference.to_string(), item.clone());
    item
}

static SHARED: std::sync::OnceLock<Result<Keyring, KeyringError>> = std::sync::OnceLock::new();
static READ: std::sync::Mutex<Option<HashMap<String, Result<Item, KeyringError>>>> =
    std::sync::Mutex::new(None);

/// What a write through [`Keyring`] left in the item (`None`: deleted, or unknown).
fn remember(reference: &str, item: Option<&Item>) {
    let mut guard = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let read = guard.get_or_insert_with(HashMap::new);
    match item {
        Some(i) => read.insert(reference.to_string(), Ok(i.clone())),
        None => read.remove(reference),
    };
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
        self.get_item(reference).map(|i| i.token)
    }

    /// The token and the servers it is bound to. After a locked keyring refused once, every
    /// later read in this process fails the same way without asking again: one command
    /// prompts at most once, however many entries it reads.
    pub fn get_item(&self, reference: &str) -> Result<Item, KeyringError> {
        static LOCKED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        if let Some(why) = LOCKED.get() {
            return Err(KeyringError::Locked(why.clone()));
        }
        // The password, not the raw secret: Credential Manager keeps what `set_password`
        // wrote as UTF-16, and only `get_password` reads it back as the text written.
        let bytes = self.bounded(reference, |k, r| {
            k.entry(r)?
                .get_password()
                .map(String::into_bytes)
                .map_err(|e| classify(r, e))
        });
        if let Err(KeyringError::Locked(why)) = &bytes {
            let _ = LOCKED.set(why.clone());
        }
        Item::decode(reference, bytes?)
    }

    /// The token, or `None` when there is no such item.
    pub fn find(&self, reference: &str) -> Result<Option<Token>, KeyringError> {
        Ok(self.find_item(reference)?.map(|i| i.token))
    }

    /// The item, or `None` when there is no such item.
    pub fn find_item(&self, reference: &str) -> Result<Option<Item>, KeyringError> {
        match self.get_item(reference) {
            Ok(i) => Ok(Some(i)),
            Err(KeyringError::NoItem(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `token` to the item, bound to the servers it was bound to (when it exists)
    /// and to `servers`: a binding only grows through an explicit store, import or rotate.
    pub fn put(
        &self,
        reference: &str,
        token: &Token,
        servers: &[Binding],
    ) -> Result<(), KeyringError> {
        let mut bound: Vec<Binding> = self
            .find_item(reference)?
            .and_then(|i| i.servers)
            .unwrap_or_default();
        bound.extend(servers.iter().cloned());
        bound.sort();
        bound.dedup();
        self.put_item(
            reference,
            &Item {
                token: token.clone(),
                servers: Some(bound),
            },
        )
    }

    /// Writes the item exactly (replacing its value) and reads it back: the caller changes
    /// no file unless the keyring really holds it.
    pub fn put_item(&self, reference: &str, item: &Item) -> Result<(), KeyringError> {
        let token = &item.token;
        if token.expose().len() > MAX_TOKEN_LEN {
            return Err(KeyringError::TooLarge(
                reference.to_string(),
                token.expose().len(),
            ));
        }
        check_reference(reference)?;
        cache::forget(reference);
        remember(reference, None);
        let value = item.encode();
        self.bounded(reference, move |k, r| {
            k.entry(r)?.set_password(&value).map_err(|e| classify(r, e))
        })?;
        let back = self.get_item(reference)?;
        if &back != item {
            return Err(KeyringError::Other {
                reference: reference.to_string(),
                detail: "the item read back differs from what was written".into(),
            });
        }
        remember(reference, Some(item));
        Ok(())
    }

    /// Deletes the item; a missing item is not an error.
    pub fn delete(&self, reference: &str) -> Result<(), KeyringError> {
        check_reference(reference)?;
        cache::forget(reference);
        remember(reference, None);
        self.bounded(reference, |k, r| match k.entry(r)?.delete_credential() {
            Ok(()) | Err(Error::NoEntry) => Ok(()),
            Err(e) => Err(classify(r, e)),
        })
    }
}

/// The platform's store itself, for items that are not tokens (the Object Storage key
/// cache, `commands/objectstorage/cache.rs`, files its own items under [`SERVICE`]).
pub fn platform_credential_store() -> Result<Arc<CredentialStore>, KeyringError> {
    bounded(false, || {
        platform_store().map_err(|e| KeyringError::Unreachable(detail(&e)))
    })
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
    fn an_item_reads_back_as_written_bound_or_not() {
        let b = Binding {
            server: "https://a".into(),
            ca: "eA==".into(),
            tls_server_name: String::new(),
        };
        for servers in [None, Some(vec![]), Some(vec![b])] {
            let item = Item {
                token: Token::new("CW-SECRET-abc"),
                servers,
            };
            let back = Item::decode("r", item.encode().into_bytes()).expect("reads");
            assert_eq!(back, item);
        }
        let bare = Item::decode("r", b"CW-SECRET-abc".to_vec()).expect("reads");
        assert_eq!(bare.servers, None);
        assert!(Item::decode(
            "r",
            br#"{"kubectl-coreweave":2,"servers":[],"token":"x"}"#.to_vec()
        )
        .is_err());
        assert!(Item::decode("r", br#"{"kubectl-coreweave":1,"token":"x"}"#.to_vec()).is_err());
    }

    #[test]
    fn raw_bytes_of_a_bad_item_are_never_shown() {
        let e = classify("r", Error::BadEncoding(b"CW-SECRET-abc\xff".to_vec()));
        assert!(!e.to_string().contains("CW-SECRET"), "{e}");
    }
}
