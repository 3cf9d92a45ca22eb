//! The reused Object Storage key: kept only where the token itself may be kept, never in a
//! file. On Linux that is the kernel's session keyring (as `token credential` keeps its
//! copy of the token: readable only by this login session's processes, gone at logout or
//! when its timeout runs out); elsewhere the OS keyring (Keychain, Credential Manager),
//! through keyring-core, under the service `kubectl-coreweave`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::coreweave::access_key::AccessKey;
use crate::secret::Token;

/// Least time left for a key to be handed out again (botocore's mandatory refresh window).
pub const MIN_MARGIN_SECS: i64 = 600;
/// An item is a few hundred bytes; anything far larger is not ours.
const MAX_ITEM: usize = 16 * 1024;

/// The item's name for `token`: `cwobject:` and 40 hex digits of SHA-256.
///
/// One item per token, named by a hash of it (`cwobject:<40 hex>`, SHA-256 over a domain
/// label and the token; never the token itself), so a rotated token never finds a key
/// made with the old one. The item holds one key per API endpoint and kind of key (the
/// token exchange's, or `/access-key`'s of each duration asked). A key is reused while
/// more than its margin is left: max(10 minutes, a tenth of the key's whole life). Ten
/// minutes is botocore's mandatory refresh window: a key handed out with less left would
/// make an AWS SDK re-run the process before every request. The kernel copy times out on
/// its own when the last key in it stops being reusable. A permanent key is never kept. `token rotate` and `token unstore` drop the
/// item of the old token ([`forget`]).
pub fn item_name(token: &Token) -> String {
    let mut h = Sha256::new();
    h.update(b"kubectl-coreweave objectstorage key cache v1\0");
    h.update(token.expose().as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..20].iter().map(|b| format!("{b:02x}")).collect();
    format!("cwobject:{hex}")
}

/// The margin of a key that lived `lifetime` seconds: max(10 min, 10%).
pub fn margin_secs(lifetime: i64) -> i64 {
    MIN_MARGIN_SECS.max(lifetime / 10)
}

/// One kept key.
#[derive(Clone, Serialize, Deserialize)]
struct Kept {
    id: String,
    secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session: Option<String>,
    /// Unix seconds.
    minted: i64,
    expiry: i64,
}

impl Kept {
    /// Seconds it may still be handed out (≤ 0: no longer).
    fn reusable_for(&self, now: i64) -> i64 {
        self.expiry - margin_secs(self.expiry - self.minted) - now
    }
}

/// The item: `"<endpoint> <kind>"` → key; the kind is `api-token` for the token exchange,
/// the asked seconds for `/access-key`.
#[derive(Default, Serialize, Deserialize)]
struct Item {
    keys: BTreeMap<String, Kept>,
}

fn slot(endpoint: &str, kind: &str) -> String {
    format!("{endpoint} {kind}")
}

fn decode(bytes: &[u8]) -> Option<Item> {
    if bytes.len() > MAX_ITEM {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}

/// A kept key for this token, API endpoint and kind with more than its margin left.
pub fn get(token: &Token, endpoint: &str, kind: &str, now: i64) -> Option<AccessKey> {
    let item = decode(&backend::read(&item_name(token))?)?;
    let kept = item.keys.get(&slot(endpoint, kind))?;
    if kept.reusable_for(now) <= 0 || kept.minted > now {
        return None;
    }
    Some(AccessKey {
        access_key_id: kept.id.clone(),
        secret_key: Token::new(kept.secret.clone()),
        session_token: kept.session.clone().map(Token::new),
        principal_name: None,
        expiry: jiff::Timestamp::from_second(kept.expiry).ok(),
    })
}

/// Keeps `key` (a temporary one, minted at `minted`) for later calls; false when there is
/// nowhere to keep it. Keys of the same item that are no longer reusable are dropped.
pub fn put(token: &Token, endpoint: &str, kind: &str, key: &AccessKey, minted: i64) -> bool {
    let Some(expiry) = key.expiry.map(|t| t.as_second()) else {
        return true; // permanent keys are never kept
    };
    let name = item_name(token);
    let mut item = backend::read(&name)
        .and_then(|b| decode(&b))
        .unwrap_or_default();
    item.keys.retain(|_, k| k.reusable_for(minted) > 0);
    item.keys.insert(
        slot(endpoint, kind),
        Kept {
            id: key.access_key_id.clone(),
            secret: key.secret_key.expose().to_string(),
            session: key.session_token.as_ref().map(|t| t.expose().to_string()),
            minted,
            expiry,
        },
    );
    let keep_for = item
        .keys
        .values()
        .map(|k| k.reusable_for(minted))
        .max()
        .unwrap_or(0);
    if keep_for <= 0 {
        return true; // too short-lived to be reused at all
    }
    let Ok(bytes) = serde_json::to_vec(&item) else {
        return false;
    };
    backend::write(&name, &bytes, keep_for)
}

/// Drops every key kept for `token` (its rotation or unstore). Best effort.
pub fn forget(token: &Token) {
    backend::remove(&item_name(token));
}

#[cfg(target_os = "linux")]
mod backend {
    use linux_keyutils::{KeyRing, KeyRingIdentifier};

    fn description(name: &str) -> String {
        format!("kubectl-coreweave:{name}")
    }

    /// As `token credential`'s copy: the session keyring, or the user's session keyring
    /// when the process has none; never a new one that would die with this process.
    fn session() -> Option<KeyRing> {
        KeyRing::from_special_id(KeyRingIdentifier::Session, false).ok()
    }

    pub(super) fn read(name: &str) -> Option<Vec<u8>> {
        let key = session()?.search(&description(name)).ok()?;
        key.read_to_vec().ok()
    }

    pub(super) fn write(name: &str, bytes: &[u8], seconds: i64) -> bool {
        let Some(ring) = session() else { return false };
        let Ok(key) = ring.add_key(&description(name), bytes) else {
            return false;
        };
        let seconds = usize::try_from(seconds).unwrap_or(1).max(1);
        if key.set_timeout(seconds).is_err() {
            let _ = key.invalidate();
            return false;
        }
        true
    }

    pub(super) fn remove(name: &str) {
        if let Some(key) = session().and_then(|r| r.search(&description(name)).ok()) {
            let _ = key.invalidate();
        }
    }
}

/// Keychain and Credential Manager: an item of the OS keyring. Its life is not bounded by
/// the keyring; [`super::get`] ignores keys past their margin and each write drops them.
#[cfg(not(target_os = "linux"))]
mod backend {
    // Each call under the keyring deadline (`keystore::bounded`): a hung keyring costs
    // the cache, never the answer.
    use crate::keystore::{bounded, platform_credential_store};

    pub(super) fn read(name: &str) -> Option<Vec<u8>> {
        let store = platform_credential_store().ok()?;
        let name = name.to_owned();
        bounded(false, move || Ok(super::os::read(&store, &name)))
            .ok()
            .flatten()
    }

    pub(super) fn write(name: &str, bytes: &[u8], _seconds: i64) -> bool {
        let Ok(store) = platform_credential_store() else {
            return false;
        };
        let (name, bytes) = (name.to_owned(), bytes.to_vec());
        bounded(false, move || Ok(super::os::write(&store, &name, &bytes))).unwrap_or(false)
    }

    pub(super) fn remove(name: &str) {
        if let Ok(store) = platform_credential_store() {
            let name = name.to_owned();
            let _ = bounded(false, move || {
                super::os::remove(&store, &name);
                Ok(())
            });
        }
    }
}

/// The OS keyring item, on a given store (the platform's, or keyring-core's mock in tests).
#[cfg_attr(target_os = "linux", allow(dead_code))]
mod os {
    use std::sync::Arc;

    use keyring_core::{CredentialStore, Entry};

    use crate::keystore::SERVICE;

    fn entry(store: &Arc<CredentialStore>, name: &str) -> Option<Entry> {
        Entry::new_in_store(store, SERVICE, name).ok()
    }

    pub(super) fn read(store: &Arc<CredentialStore>, name: &str) -> Option<Vec<u8>> {
        let text = entry(store, name)?.get_password().ok()?;
        Some(text.into_bytes())
    }

    pub(super) fn write(store: &Arc<CredentialStore>, name: &str, bytes: &[u8]) -> bool {
        let (Some(e), Ok(text)) = (entry(store, name), std::str::from_utf8(bytes)) else {
            return false;
        };
        e.set_password(text).is_ok()
    }

    pub(super) fn remove(store: &Arc<CredentialStore>, name: &str) {
        if let Some(e) = entry(store, name) {
            let _ = e.delete_credential();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_names_hide_the_token_and_differ_per_token() {
        let a = item_name(&Token::new("CW-SECRET-aaaaaaaaaaaaaaaa"));
        let b = item_name(&Token::new("CW-SECRET-aaaaaaaaaaaaaaab"));
        assert_ne!(a, b);
        assert!(a.starts_with("cwobject:") && a.len() == 9 + 40, "{a}");
        assert!(!a.contains("aaaa"), "{a}");
        assert!(crate::keystore::check_reference(&a).is_ok());
    }

    #[test]
    fn margin_is_ten_minutes_or_a_tenth() {
        assert_eq!(margin_secs(900), 600);
        assert_eq!(margin_secs(3600), 600);
        assert_eq!(margin_secs(7200), 720);
        assert_eq!(margin_secs(43_200), 4320);
        let k = Kept {
            id: "a".into(),
            secret: "s".into(),
            session: None,
            minted: 0,
            expiry: 3600,
        };
        assert_eq!(k.reusable_for(0), 3000);
        assert_eq!(k.reusable_for(3000), 0);
    }

    #[test]
    fn the_os_keyring_item_round_trips() {
        let store: std::sync::Arc<keyring_core::CredentialStore> =
            keyring_core::mock::Store::new().expect("mock store");
        assert!(os::read(&store, "cwobject:x").is_none());
        assert!(os::write(&store, "cwobject:x", br#"{"keys":{}}"#));
        assert_eq!(
            os::read(&store, "cwobject:x").as_deref(),
            Some(&br#"{"keys":{}}"#[..])
        );
        os::remove(&store, "cwobject:x");
        assert!(os::read(&store, "cwobject:x").is_none());
    }

    #[test]
    fn oversized_or_foreign_items_are_ignored() {
        assert!(decode(&vec![b' '; MAX_ITEM + 1]).is_none());
        assert!(decode(b"CW-SECRET-xxxxxxxx").is_none());
        assert!(decode(br#"{"keys":{}}"#).is_some());
    }
}
