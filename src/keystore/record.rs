//! What a keyring item holds, and how it is spelled in the secret: the token, the servers
//! `token credential` may send it to ([`Binding`]) and whether it also serves callers that
//! name no server. One versioned JSON record per item, the same on every platform.

use sha2::Digest as _;

use super::KeyringError;
use crate::secret::Token;

/// The record's version (its key is `kubectl-coreweave`).
const VERSION: u32 = 2;

/// Longest record kept whole in the secret: well inside Credential Manager's 1,280
/// characters, leaving room for a token of up to about 1,100 characters when spilled.
///
/// A binding names its certificate authority by SHA-256, not by its bytes, so a record
/// stays small; still, Windows Credential Manager holds at most 2,560 bytes (1,280 UTF-16
/// characters), so a record longer than [`MAX_INLINE_RECORD`] keeps its server list in a
/// file beside the item ([`side`]) and names it by the list's SHA-256: the item vouches for
/// the file, and a file that does not hash to what the item says is refused. Every
/// platform spills at the same size, so what Linux tests is what Windows runs.
pub const MAX_INLINE_RECORD: usize = 1000;

/// A bearer token is tens of bytes; an item far larger than this holds something else.
pub(super) const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The whole secret value.
pub(super) const MAX_ITEM_LEN: usize = 256 * 1024;

/// What an item holds. `servers` is `None` for an item written before items were bound (a
/// bare token), which is served to no server until `token store` binds it.
#[derive(Clone, PartialEq, Eq)]
pub struct Item {
    pub token: Token,
    pub servers: Option<Vec<Binding>>,
    /// Served also to a caller that names no cluster (a client without
    /// `KUBERNETES_EXEC_INFO`, such as `@kubernetes/client-node`): set only by `token store
    /// --allow-clients-without-cluster-info`, never by anything a kubeconfig says.
    pub clients_without_cluster_info: bool,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item")
            .field("token", &self.token)
            .field("servers", &self.servers)
            .field(
                "clients_without_cluster_info",
                &self.clients_without_cluster_info,
            )
            .finish()
    }
}

/// One server an item may be sent to, with the trust kubectl verifies it by: a server name
/// alone would let a kubeconfig that names the same server, but its own certificate
/// authority and a `proxy-url` it runs, read the token. Public data, no secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Binding {
    /// The server URL, normalised ([`crate::commands::token::credential::normal_server`]).
    pub server: String,
    /// SHA-256 of the certificate authority's bytes, lower-case hex; empty for the system's
    /// roots.
    #[serde(rename = "caSHA256", default, skip_serializing_if = "String::is_empty")]
    pub ca_sha256: String,
    /// `tls-server-name`, lower case; empty when not set.
    #[serde(
        rename = "tlsServerName",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub tls_server_name: String,
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = sha2::Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// An item as the secret spells it, and the side file it needs, if any.
pub(super) struct Encoded {
    pub secret: String,
    /// The file name ([`side::file_name`]) and bytes of the server list, when spilled.
    pub side: Option<(String, Vec<u8>)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    #[serde(rename = "kubectl-coreweave")]
    version: u32,
    token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    servers: Option<Vec<Binding>>,
    /// The spilled server list's SHA-256 (the side file is named after it).
    #[serde(
        rename = "serversSHA256",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    servers_sha256: Option<String>,
    #[serde(
        rename = "clientsWithoutClusterInfo",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    clients_without_cluster_info: bool,
}

/// Version 1: the CA as base64 bytes.
#[derive(serde::Deserialize)]
struct RecordV1 {
    servers: Vec<BindingV1>,
    token: String,
}

#[derive(serde::Deserialize)]
struct BindingV1 {
    server: String,
    #[serde(default)]
    ca: String,
    #[serde(rename = "tlsServerName", default)]
    tls_server_name: String,
}

impl Item {
    /// The secret value: the bare token for an unbound item (as it was written), else the
    /// record, with the server list spilled to a side file when the record would be long.
    pub(super) fn encode(&self, reference: &str) -> Encoded {
        let Some(servers) = &self.servers else {
            if !self.clients_without_cluster_info {
                return Encoded {
                    secret: self.token.expose().to_string(),
                    side: None,
                };
            }
            return self.record(None, None);
        };
        let whole = self.record(Some(servers.clone()), None);
        if whole.secret.len() <= MAX_INLINE_RECORD {
            return whole;
        }
        let list = serde_json::to_vec(servers).unwrap_or_default();
        let hash = sha256_hex(&list);
        let mut spilled = self.record(None, Some(hash.clone()));
        spilled.side = Some((side::file_name(reference, &hash), list));
        spilled
    }

    fn record(&self, servers: Option<Vec<Binding>>, servers_sha256: Option<String>) -> Encoded {
        let record = Record {
            version: VERSION,
            token: self.token.expose().to_string(),
            servers,
            servers_sha256,
            clients_without_cluster_info: self.clients_without_cluster_info,
        };
        Encoded {
            secret: serde_json::to_string(&record).unwrap_or_default(),
            side: None,
        }
    }

    /// Reads an item's value: a record (version 2, or 1 with CA bytes), or the bare token
    /// (an item written before bindings, or by hand with `secret-tool store`), unbound.
    pub(super) fn decode(reference: &str, bytes: Vec<u8>) -> Result<Item, KeyringError> {
        if bytes.len() > MAX_ITEM_LEN {
            return Err(KeyringError::TooLarge(reference.to_string(), bytes.len()));
        }
        let other = |detail: String| KeyringError::Other {
            reference: reference.to_string(),
            detail,
        };
        if !bytes.starts_with(b"{\"kubectl-coreweave\"") {
            return Ok(Item {
                token: token_from(reference, bytes)?,
                servers: None,
                clients_without_cluster_info: false,
            });
        }
        #[derive(serde::Deserialize)]
        struct Version {
            #[serde(rename = "kubectl-coreweave")]
            version: u32,
        }
        let unreadable =
            || other("the item's record is not readable; store the token again".into());
        let version: Version = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
        match version.version {
            1 => {
                let v1: RecordV1 = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
                let servers = v1
                    .servers
                    .into_iter()
                    .map(|b| from_v1(b).ok_or_else(unreadable))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Item {
                    token: token_from(reference, v1.token.into_bytes())?,
                    servers: Some(servers),
                    clients_without_cluster_info: false,
                })
            }
            VERSION => {
                let record: Record = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
                let servers = match (record.servers, record.servers_sha256) {
                    (Some(s), None) => Some(s),
                    (None, Some(hash)) => Some(side::read(reference, &hash)?),
                    (None, None) => None,
                    (Some(_), Some(_)) => return Err(unreadable()),
                };
                Ok(Item {
                    token: token_from(reference, record.token.into_bytes())?,
                    servers,
                    clients_without_cluster_info: record.clients_without_cluster_info,
                })
            }
            newer => Err(other(format!(
                "the item was written by a newer kubectl-coreweave (record version {newer})"
            ))),
        }
    }
}

/// A version-1 binding: the CA's bytes become their hash.
fn from_v1(b: BindingV1) -> Option<Binding> {
    use base64::Engine as _;
    let ca_sha256 = if b.ca.is_empty() {
        String::new()
    } else {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b.ca.as_bytes())
            .ok()?;
        sha256_hex(&bytes)
    };
    Some(Binding {
        server: b.server,
        ca_sha256,
        tls_server_name: b.tls_server_name,
    })
}

pub(super) fn token_from(reference: &str, bytes: Vec<u8>) -> Result<Token, KeyringError> {
    if bytes.len() > MAX_TOKEN_LEN {
        return Err(KeyringError::TooLarge(reference.to_string(), bytes.len()));
    }
    String::from_utf8(bytes)
        .map(Token::new)
        .map_err(|_| KeyringError::NotText(reference.to_string()))
}

/// Server lists too long for the secret, one file per item and list under
/// `~/.kube/kubectl-coreweave/bindings/`, named `<item hash>-<list hash>.json`. The file
/// holds public data only (servers and CA hashes); the item vouches for it by the hash.
pub mod side {
    use std::path::PathBuf;

    use super::{sha256_hex, Binding, KeyringError};

    /// 10,000 bindings of a few hundred bytes each.
    const MAX_SIDE_FILE: u64 = 8 * 1024 * 1024;

    pub fn folder() -> Result<PathBuf, KeyringError> {
        super::super::state_folder().map(|d| d.join("bindings"))
    }

    /// The item's part of a side file's name: a hash, since references may hold `/`.
    pub fn item_prefix(reference: &str) -> String {
        let mut h = sha256_hex(format!("{}\0{reference}", super::super::SERVICE).as_bytes());
        h.truncate(32);
        h
    }

    pub fn file_name(reference: &str, list_hash: &str) -> String {
        format!("{}-{list_hash}.json", item_prefix(reference))
    }

    pub(super) fn read(reference: &str, hash: &str) -> Result<Vec<Binding>, KeyringError> {
        let fail = |why: String| KeyringError::Other {
            reference: reference.to_string(),
            detail: why,
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail(
                "the item's record is not readable; store the token again".into(),
            ));
        }
        let path = folder()?.join(file_name(reference, hash));
        let shown = crate::secret::shown_path(&path);
        let bytes = crate::io::read_regular(&path, MAX_SIDE_FILE).map_err(|e| {
            fail(format!(
                "cannot read its server list {shown}: {}; run `kubectl coreweave token store` again",
                e.message()
            ))
        })?;
        if sha256_hex(&bytes) != hash {
            return Err(fail(format!(
                "its server list {shown} is not the one the item was written with; it is not used (run `kubectl coreweave token store` again)"
            )));
        }
        serde_json::from_slice(&bytes)
            .map_err(|_| fail(format!("its server list {shown} is not readable")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(n: usize, ca: &str) -> Binding {
        Binding {
            server: format!("https://cw1234-h{n:04}.k8s.us-east-04a.coreweave.com"),
            ca_sha256: ca.to_string(),
            tls_server_name: String::new(),
        }
    }

    #[test]
    fn an_item_reads_back_as_written_bound_or_not() {
        for (servers, any) in [
            (None, false),
            (None, true),
            (Some(vec![]), false),
            (Some(vec![binding(1, &"a".repeat(64))]), true),
        ] {
            let item = Item {
                token: Token::new("CW-SECRET-abc"),
                servers,
                clients_without_cluster_info: any,
            };
            let encoded = item.encode("r");
            assert!(encoded.side.is_none());
            let back = Item::decode("r", encoded.secret.into_bytes()).expect("reads");
            assert_eq!(back, item);
        }
        let bare = Item::decode("r", b"CW-SECRET-abc".to_vec()).expect("reads");
        assert_eq!(bare.servers, None);
        for bad in [
            r#"{"kubectl-coreweave":3,"servers":[],"token":"x"}"#,
            r#"{"kubectl-coreweave":1,"token":"x"}"#,
            r#"{"kubectl-coreweave":2,"token":"x","servers":[],"serversSHA256":"ab"}"#,
            r#"{"kubectl-coreweave":2,"token":"x","serversSHA256":"../../etc/passwd"}"#,
        ] {
            assert!(Item::decode("r", bad.as_bytes().to_vec()).is_err(), "{bad}");
        }
    }

    #[test]
    fn version_1_records_read_with_the_ca_hashed() {
        let v1 = br#"{"kubectl-coreweave":1,"servers":[{"server":"https://a","ca":"eA==","tlsServerName":"n"},{"server":"https://b"}],"token":"CW-SECRET-abc"}"#;
        let item = Item::decode("r", v1.to_vec()).expect("reads");
        let servers = item.servers.expect("bound");
        assert_eq!(servers[0].ca_sha256, sha256_hex(b"x"));
        assert_eq!(servers[0].tls_server_name, "n");
        assert_eq!(servers[1].ca_sha256, "");
    }

    #[test]
    fn a_long_record_spills_its_servers_and_stays_small() {
        let item = Item {
            token: Token::new(format!("CW-SECRET-{}", "t".repeat(60))),
            servers: Some((0..1000).map(|n| binding(n, &"c".repeat(64))).collect()),
            clients_without_cluster_info: false,
        };
        let encoded = item.encode("alice");
        assert!(
            encoded.secret.len() <= MAX_INLINE_RECORD,
            "{}",
            encoded.secret.len()
        );
        let (name, bytes) = encoded.side.expect("spilled");
        assert!(name.starts_with(&side::item_prefix("alice")));
        assert!(name.ends_with(&format!("{}.json", sha256_hex(&bytes))));
        // A short one stays whole.
        let small = Item {
            servers: Some(vec![binding(1, "")]),
            ..item
        };
        assert!(small.encode("alice").side.is_none());
    }
}
