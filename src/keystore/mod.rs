//! The OS keyring that `token store` moves tokens into and the exec plugin (`token
//! credential`) reads them from: one item per reference, under the service name
//! `kubectl-coreweave`, through keyring-core with the platform's own store (Keychain on
//! macOS, Credential Manager on Windows, the Secret Service elsewhere on Unix).
//!
//! An item holds its token and the servers it may be sent to ([`Item`], `record.rs`), in
//! one versioned record, written and read in one call: a token is never found without its
//! binding. Writers lock an item ([`item_lock_path`]) as they lock files, in one
//! transaction (`crate::transaction`).

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error};

use crate::secret::Token;

/// The service every item is filed under (`secret-tool search service kubectl-coreweave`).
pub const SERVICE: &str = "kubectl-coreweave";

mod kernel_copy;
mod record;

use record::MAX_TOKEN_LEN;
pub use record::{sha256_hex, side, Binding, Item, MAX_INLINE_RECORD};

/// Where the plugin keeps what belongs to keyring items but is no secret (item locks,
/// spilled server lists): `~/.kube/kubectl-coreweave/`, the home folder as kubectl finds it.
pub fn state_folder() -> Result<std::path::PathBuf, KeyringError> {
    let home = crate::kubeconfig::load::home_dir();
    if !home.is_absolute() {
        return Err(KeyringError::Unreachable(
            "no home folder (HOME is unset or not absolute) to keep keyring item locks in".into(),
        ));
    }
    Ok(home.join(".kube").join("kubectl-coreweave"))
}

/// Creates `dir` (and its parents) private to the user, as kubectl's own folders are.
fn private_folder(dir: &std::path::Path) -> Result<(), KeyringError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        KeyringError::Unreachable(format!(
            "cannot create folder {}: {}",
            crate::secret::shown_path(dir),
            crate::io::io_message(&e)
        ))
    })
}

/// The path whose client-go style `.lock` guards an item: every writer of the item (rotate,
/// store, unstore, import, add) takes it, with the files it writes, in one order.
pub fn item_lock_path(reference: &str) -> Result<std::path::PathBuf, KeyringError> {
    check_reference(reference)?;
    let dir = state_folder()?.join("locks");
    private_folder(&dir)?;
    Ok(dir.join(format!("item-{}", side::item_prefix(reference))))
}

fn write_side_file(reference: &str, name: &str, bytes: &[u8]) -> Result<(), KeyringError> {
    let dir = side::folder()?;
    private_folder(&dir)?;
    crate::kubeconfig::write::write_atomic(&dir.join(name), bytes).map_err(|e| {
        KeyringError::Other {
            reference: reference.to_string(),
            detail: format!("cannot write its server list: {e}"),
        }
    })
}

/// Removes the item's spilled server lists other than the one `keep` uses (all of them
/// when `keep` is `None`): called once a transaction has committed, so a rollback always
/// finds the list the old record names.
pub fn sweep_side_files(reference: &str, keep: Option<&Item>) {
    let Ok(dir) = side::folder() else { return };
    let keep = keep.and_then(|i| i.encode(reference).side.map(|(name, _)| name));
    let prefix = format!("{}-", side::item_prefix(reference));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && Some(&name) != keep.as_ref() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Item references are short names that travel on the exec entry's command line.
const MAX_REFERENCE_LEN: usize = 200;

/// Errors say which of the three things a user can act on went wrong (no keyring reachable,
/// keyring locked, no such item); none carries the secret (keyring-core's `BadEncoding`
/// holds the raw bytes, so its text is never shown).
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
    if let Some(item) = kernel_copy::get(reference) {
        return Ok(item);
    }
    let owned = reference.to_owned();
    let item = bounded(interactive, move || plugin_read(&owned, interactive))?;
    kernel_copy::put(reference, &item);
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

/// The item, read at most once per process (connecting once): `show`, `list`, `rotate` and
/// `import` ask for each entry that reads an item, and many entries may read one. Writes
/// through [`Keyring`] update what later reads here see. A transaction reads its items
/// again under their locks ([`Keyring::get_item`]), never from here.
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
/// What [`read_once`] answers for `reference` from now on: a transaction's read of the item
/// under its lock, so holders are planned from what the item really holds.
pub fn refresh(reference: &str, item: Option<&Item>) {
    let mut guard = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let known = match item {
        Some(i) => Ok(i.clone()),
        None => Err(KeyringError::NoItem(reference.to_string())),
    };
    guard
        .get_or_insert_with(HashMap::new)
        .insert(reference.to_string(), known);
}

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
///
/// kubectl runs `token credential` before every command, and a Secret Service read costs a
/// D-Bus connection and an encrypted session (see BENCHMARKS.md), so on Linux the plugin
/// keeps a short-lived copy of the item in its login session's kernel keyring
/// (`kernel_copy.rs`); every write through [`Keyring`] drops it.
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
        kernel_copy::forget(reference);
        remember(reference, None);
        let encoded = item.encode(reference);
        if let Some((name, bytes)) = &encoded.side {
            write_side_file(reference, name, bytes)?;
        }
        let value = encoded.secret;
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
        kernel_copy::forget(reference);
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
        assert!(record::token_from("r", b"CW-SECRET-a".to_vec()).is_ok());
        assert!(matches!(
            record::token_from("r", vec![b'x'; MAX_TOKEN_LEN + 1]),
            Err(KeyringError::TooLarge(_, _))
        ));
        assert!(matches!(
            record::token_from("r", b"\xff".to_vec()),
            Err(KeyringError::NotText(_))
        ));
    }

    #[test]
    fn raw_bytes_of_a_bad_item_are_never_shown() {
        let e = classify("r", Error::BadEncoding(b"CW-SECRET-abc\xff".to_vec()));
        assert!(!e.to_string().contains("CW-SECRET"), "{e}");
    }
}
