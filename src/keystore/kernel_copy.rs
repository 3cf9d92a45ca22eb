//! `token credential`'s short-lived copy of an item in the kernel's session keyring
//! (Linux): kubectl runs the plugin before every command, and a Secret Service read costs a
//! D-Bus connection and an encrypted session (BENCHMARKS.md). The copy is kept only in a
//! session keyring of the process's own login session (never the uid's shared user-session
//! keyring, which a process without a session falls back to: a container, ssh without
//! pam_keyinit), filed under the D-Bus session address it was read from, so a process on
//! another bus asks its own Secret Service. Keys are readable by their possessor only;
//! every write of the item drops every copy of it, whichever bus it came from.

#[cfg(target_os = "linux")]
mod imp {
    use linux_keyutils::{KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};

    use super::super::Item;

    /// Copies of the item, whatever the bus: `kubectl-coreweave:<uid>:<item>@…`, and the
    /// name without `@` that earlier versions used.
    fn item_name(reference: &str) -> String {
        let uid = rustix::process::getuid().as_raw();
        format!("{}:{uid}:{reference}", super::super::SERVICE)
    }

    /// The Secret Service a read goes to, as zbus finds it.
    fn bus() -> String {
        match std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
            Some(a) => a.to_string_lossy().into_owned(),
            None => format!(
                "unix:path={}/bus",
                std::env::var_os("XDG_RUNTIME_DIR")
                    .unwrap_or_default()
                    .to_string_lossy()
            ),
        }
    }

    fn description(reference: &str) -> String {
        let mut bus = super::super::sha256_hex(bus().as_bytes());
        bus.truncate(16);
        format!("{}@{bus}", item_name(reference))
    }

    fn session() -> Option<KeyRing> {
        KeyRing::from_special_id(KeyRingIdentifier::Session, false).ok()
    }

    /// The session keyring when it is the process's own, not the uid's shared fallback.
    fn own_session() -> Option<KeyRing> {
        let session = session()?;
        let shared = KeyRing::from_special_id(KeyRingIdentifier::UserSession, false).ok();
        (shared != Some(session)).then_some(session)
    }

    pub fn get(reference: &str) -> Option<Item> {
        let key = own_session()?.search(&description(reference)).ok()?;
        let bytes = key.read_to_vec().ok()?;
        Item::decode(reference, bytes).ok()
    }

    pub fn put(reference: &str, item: &Item) {
        let Some(ring) = own_session() else { return };
        let encoded = item.encode(reference);
        let Ok(key) = ring.add_key(&description(reference), encoded.secret.as_bytes()) else {
            return;
        };
        let possessor = Permission::VIEW
            | Permission::READ
            | Permission::WRITE
            | Permission::SEARCH
            | Permission::SETATTR;
        let private = KeyPermissionsBuilder::builder().posessor(possessor).build();
        if key.set_perms(private).is_err() || key.set_timeout(super::super::CACHE_SECONDS).is_err()
        {
            let _ = key.invalidate();
        }
    }

    /// Drops every copy of the item in the session keyring (own or shared), whichever bus
    /// it was read from.
    pub fn forget(reference: &str) {
        let Some(ring) = session() else { return };
        let name = item_name(reference);
        let with_bus = format!("{name}@");
        let Ok(links) = ring.get_links(4096) else {
            return;
        };
        for key in links.iter().filter_map(|l| l.as_key()) {
            let Ok(meta) = key.metadata() else { continue };
            let d = meta.get_description();
            if d == name || d.starts_with(&with_bus) {
                let _ = key.invalidate();
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::super::Item;

    pub fn get(_reference: &str) -> Option<Item> {
        None
    }

    pub fn put(_reference: &str, _item: &Item) {}

    pub fn forget(_reference: &str) {}
}

pub(super) use imp::{forget, get, put};
