//! The kubeconfig data model, as far as this plugin reads it.
//!
//! These are plain serde types for one file, before merging. They name only the keys the
//! plugin uses; every other key is skipped by the parser (never kept: files are edited as
//! text by `edit/`, not re-serialised from these types, so nothing is lost by skipping).
//! Field names and types follow client-go's `clientcmd/api/v1/types.go`. Strings are
//! [`ByteString`]s: the line scanner slices them out of the file's text (one buffer,
//! counted references) instead of copying each.

use crate::secret::Token;
pub use bytestring::ByteString;
use serde::{Deserialize, Deserializer};

/// One kubeconfig file's content.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct FileConfig {
    #[serde(rename = "apiVersion", default)]
    pub api_version: Option<ByteString>,
    #[serde(default)]
    pub kind: Option<ByteString>,
    #[serde(rename = "current-context", default)]
    pub current_context: Option<ByteString>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub clusters: Vec<NamedCluster>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub contexts: Vec<NamedContext>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub users: Vec<NamedUser>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct NamedCluster {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name: ByteString,
    #[serde(default)]
    pub cluster: Option<Cluster>,
}

/// A cluster entry: where the server is and how kubectl reaches it (the fields the cluster
/// check needs to do as kubectl does). `certificate-authority-data` is kept as written
/// (base64); the check decodes it.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Cluster {
    #[serde(default)]
    pub server: Option<ByteString>,
    #[serde(rename = "certificate-authority-data", default)]
    pub certificate_authority_data: Option<ByteString>,
    #[serde(rename = "certificate-authority", default)]
    pub certificate_authority: Option<ByteString>,
    #[serde(
        rename = "insecure-skip-tls-verify",
        default,
        deserialize_with = "strict_bool"
    )]
    pub insecure_skip_tls_verify: Option<bool>,
    #[serde(rename = "tls-server-name", default)]
    pub tls_server_name: Option<ByteString>,
    #[serde(rename = "proxy-url", default)]
    pub proxy_url: Option<ByteString>,
}

// By hand for the CA data, most of a file's bytes, which the editor's proof compares in
// two readings of each file it edits: `==` calls the C library's `bcmp`, byte by byte in
// musl (see `io::same_bytes`).
impl PartialEq for Cluster {
    fn eq(&self, other: &Cluster) -> bool {
        let Cluster {
            server,
            certificate_authority_data: ca_data,
            certificate_authority,
            insecure_skip_tls_verify,
            tls_server_name,
            proxy_url,
        } = self;
        let same_ca_data = match (ca_data, &other.certificate_authority_data) {
            (Some(a), Some(b)) => crate::io::same_bytes(a.as_bytes(), b.as_bytes()),
            (a, b) => a.is_none() && b.is_none(),
        };
        same_ca_data
            && *server == other.server
            && *certificate_authority == other.certificate_authority
            && *insecure_skip_tls_verify == other.insecure_skip_tls_verify
            && *tls_server_name == other.tls_server_name
            && *proxy_url == other.proxy_url
    }
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct NamedContext {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name: ByteString,
    #[serde(default)]
    pub context: Option<Context>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub cluster: Option<ByteString>,
    #[serde(default)]
    pub user: Option<ByteString>,
    #[serde(default)]
    pub namespace: Option<ByteString>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct NamedUser {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name: ByteString,
    #[serde(default)]
    pub user: Option<User>,
}

/// A user entry's credentials. Only `token` and `tokenFile` are read; the other kinds are
/// recorded as present or absent so `token show` can say what the entry holds instead.
#[derive(Default, Clone, PartialEq, Deserialize)]
pub struct User {
    #[serde(default)]
    pub token: Option<Token>,
    #[serde(rename = "tokenFile", default)]
    pub token_file: Option<ByteString>,
    #[serde(default)]
    pub exec: Option<Exec>,
    #[serde(rename = "auth-provider", default)]
    pub auth_provider: Option<serde::de::IgnoredAny>,
    #[serde(rename = "client-certificate", default)]
    pub client_certificate: Option<serde::de::IgnoredAny>,
    #[serde(rename = "client-certificate-data", default)]
    pub client_certificate_data: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub username: Option<serde::de::IgnoredAny>,
    /// Named extensions (client-go keeps them through its rewrites); `token show` reads
    /// the `coreweave.com/token` one for the token's expiry.
    #[serde(default)]
    pub extensions: Option<Vec<NamedExtension>>,
}

/// One entry of a user's `extensions` list. `name` is read strictly, as client-go does;
/// `extension` is any JSON value in client-go (`runtime.RawExtension`), so its content is
/// read leniently: only the fields of [`CoreweaveTokenExtension`] that are strings are
/// kept, and any other shape (another tool's extension, a scalar, a list) is `None`
/// instead of an error. Callers check `name` before trusting `extension`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct NamedExtension {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name: ByteString,
    #[serde(default, deserialize_with = "lenient_extension")]
    pub extension: Option<CoreweaveTokenExtension>,
}

/// The `coreweave.com/token` extension's fields (all optional; unknown keys ignored):
/// `{expires: <RFC 3339>, source: console|minted|..., rotatedAt: <RFC 3339>}`. Nothing
/// secret is kept here.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CoreweaveTokenExtension {
    pub expires: Option<ByteString>,
    pub source: Option<ByteString>,
    /// `rotatedAt` in the file.
    pub rotated_at: Option<ByteString>,
}

// By hand, so a derived Debug can never print a token.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("exec", &self.exec.is_some())
            .field("auth_provider", &self.auth_provider.is_some())
            .field("extensions", &self.extensions)
            .finish_non_exhaustive()
    }
}

/// client-go decodes through JSON, where `users: null` (or `users:` with nothing after it)
/// is an empty list and `name: null` an empty string; serde would call both a type error.
pub(crate) fn null_as_empty<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A boolean as kubectl decodes one: a plain YAML boolean or null. The parser would also
/// turn a quoted `"true"` or a number into a bool, where kubectl's JSON decoding refuses
/// the file ("cannot unmarshal string into ... of type bool"); this refuses them too.
/// (Left: the parser reads YAML 1.1's words in any case, so `tRUE` is true here and an
/// error to kubectl, which knows only `true`, `True` and `TRUE`; README, "Known
/// differences".)
fn strict_bool<'de, D>(d: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Visitor;
    use std::fmt;

    struct StrictBool;

    impl<'de> Visitor<'de> for StrictBool {
        type Value = Option<bool>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("true or false, unquoted")
        }

        fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
            Ok(Some(b))
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(StrictBool)
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    d.deserialize_any(StrictBool)
}

/// `extension:` of a named extension: a mapping gives a [`CoreweaveTokenExtension`] of its
/// string-valued `expires`, `source` and `rotatedAt`; anything else, at any depth, is
/// skipped without error, because a kubeconfig kubectl reads must not become unreadable
/// over some other tool's extension.
fn lenient_extension<'de, D>(d: D) -> Result<Option<CoreweaveTokenExtension>, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    struct ExtensionVisitor;

    impl<'de> Visitor<'de> for ExtensionVisitor {
        type Value = Option<CoreweaveTokenExtension>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut ext = CoreweaveTokenExtension::default();
            while let Some(key) = map.next_key::<LenientString>()? {
                let slot = match key.0.as_deref() {
                    Some("expires") => &mut ext.expires,
                    Some("source") => &mut ext.source,
                    Some("rotatedAt") => &mut ext.rotated_at,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                };
                // Duplicate keys: the last wins, as the loader's parser is set up to do.
                *slot = map.next_value::<LenientString>()?.0.map(ByteString::from);
            }
            Ok(Some(ext))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(ExtensionVisitor)
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    d.deserialize_any(ExtensionVisitor)
}

/// A value that is kept when it is a string and dropped (as `None`) when it is anything
/// else, nested mappings and lists included.
struct LenientString(Option<String>);

impl<'de> Deserialize<'de> for LenientString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        use std::fmt;

        struct V;

        impl<'de> Visitor<'de> for V {
            type Value = LenientString;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }

            fn visit_str<E>(self, s: &str) -> Result<LenientString, E> {
                Ok(LenientString(Some(s.to_string())))
            }

            fn visit_string<E>(self, s: String) -> Result<LenientString, E> {
                Ok(LenientString(Some(s)))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientString, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientString(None))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LenientString, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientString(None))
            }

            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<LenientString, D2::Error> {
                d.deserialize_any(V)
            }

            fn visit_none<E>(self) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }

            fn visit_unit<E>(self) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }

            fn visit_bool<E>(self, _: bool) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }

            fn visit_i64<E>(self, _: i64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }

            fn visit_u64<E>(self, _: u64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }

            fn visit_f64<E>(self, _: f64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
        }

        d.deserialize_any(V)
    }
}

/// A user's `exec:` entry, as far as the plugin reads it: the program and its arguments
/// (client-go's `ExecConfig.Command` and `.Args`; `args: [null]` is an empty string to
/// Go). The other fields (`env`, `apiVersion`, ...) are not read, so not type-checked.
#[derive(Default, Clone, PartialEq, Deserialize)]
pub struct Exec {
    #[serde(default)]
    pub command: Option<ByteString>,
    #[serde(default)]
    pub args: Option<Vec<Option<ByteString>>>,
}

// By hand: arguments may carry secrets (`--token=...`); only their number is shown.
impl std::fmt::Debug for Exec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exec")
            .field("command", &self.command)
            .field("args", &self.args.as_ref().map(Vec::len))
            .finish()
    }
}

impl Exec {
    /// What the entry runs: this plugin's `token credential ITEM`, or another program.
    /// The plugin's own entry is recognised by [`PLUGIN_MARKER`] after `token credential
    /// ITEM`, whatever the program is called (an install linked as `kubectl-cw`), or, as
    /// written before the marker, by the program's name ([`is_plugin_program`]) or by the
    /// program being this very executable ([`crate::kubeconfig::exec_program`]).
    /// Recognition only decides which keyring item the entry reads: nothing here, or in
    /// any command, ever runs the entry's program.
    pub fn kind(&self) -> ExecKind {
        let command = self.command.as_deref().unwrap_or_default().to_string();
        let args: Option<Vec<&str>> = self
            .args
            .as_ref()
            .map(|a| a.iter().map(|x| x.as_deref().unwrap_or("")).collect());
        let plugin = |reference: &str| ExecKind::Plugin {
            reference: reference.to_string(),
        };
        match args.as_deref() {
            Some(["token", "credential", reference, PLUGIN_MARKER]) => plugin(reference),
            Some(["token", "credential", reference])
                if is_plugin_program(&command)
                    || crate::kubeconfig::exec_program::is_this_program(&command) =>
            {
                plugin(reference)
            }
            _ => ExecKind::Other { command },
        }
    }
}

impl User {
    /// What the user's `exec:` entry runs, when it has one.
    pub fn exec_kind(&self) -> Option<ExecKind> {
        self.exec.as_ref().map(Exec::kind)
    }
}

/// The command an exec entry written by `token store` runs.
pub const PLUGIN_COMMAND: &str = "kubectl-coreweave";

/// The last argument of every exec entry this plugin writes (`token credential ITEM
/// --plugin=kubectl-coreweave`): with the item it names, it marks the entry as this
/// plugin's own under any program name. `token credential` accepts it and nothing else
/// there.
pub const PLUGIN_MARKER: &str = "--plugin=kubectl-coreweave";

/// Whether an exec `command` runs this plugin as kubectl would run it: the bare name (found
/// on PATH) or a path whose last part is exactly `kubectl-coreweave` (what the editor's
/// `exec_command` writes, before and after the absolute path). On Windows `\` also
/// separates folders, `kubectl-coreweave.exe` is the same program and names match without
/// regard to case, as the file system does. A name that merely starts the same
/// (`kubectl-coreweave.sh`) is another program, which kubectl would run.
pub fn is_plugin_program(command: &str) -> bool {
    if cfg!(windows) {
        let name = command.rsplit(['/', '\\']).next().unwrap_or("");
        name.eq_ignore_ascii_case(PLUGIN_COMMAND)
            || name.eq_ignore_ascii_case("kubectl-coreweave.exe")
    } else {
        command.rsplit('/').next() == Some(PLUGIN_COMMAND)
    }
}

/// What a user entry's `exec:` runs, as far as `token show` and `unstore` need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecKind {
    /// This plugin's `token credential REF`.
    Plugin { reference: String },
    /// Some other program (named as written, or empty when no command is given).
    Other { command: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written equality of [`Cluster`] sees every field, and the whole of the CA
    /// data (a byte changed in a word or in the tail, or a different length).
    #[test]
    fn clusters_differing_in_any_field_are_unequal() {
        let ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t".repeat(3);
        let base = Cluster {
            server: Some("https://a.example".into()),
            certificate_authority_data: Some(ca.as_str().into()),
            certificate_authority: Some("ca.crt".into()),
            insecure_skip_tls_verify: Some(false),
            tls_server_name: Some("a".into()),
            proxy_url: Some("http://proxy".into()),
        };
        assert_eq!(base, base.clone());
        let mut changed = Vec::new();
        for at in [0, 9, ca.len() - 1] {
            let mut data = ca.clone().into_bytes();
            data[at] = b'x';
            changed.push(Cluster {
                certificate_authority_data: Some(String::from_utf8(data).unwrap().into()),
                ..base.clone()
            });
        }
        changed.extend([
            Cluster {
                certificate_authority_data: Some(ca[1..].into()),
                ..base.clone()
            },
            Cluster {
                certificate_authority_data: None,
                ..base.clone()
            },
            Cluster {
                server: None,
                ..base.clone()
            },
            Cluster {
                certificate_authority: None,
                ..base.clone()
            },
            Cluster {
                insecure_skip_tls_verify: Some(true),
                ..base.clone()
            },
            Cluster {
                tls_server_name: None,
                ..base.clone()
            },
            Cluster {
                proxy_url: None,
                ..base.clone()
            },
        ]);
        for other in changed {
            assert_ne!(base, other);
            assert_ne!(other, base);
        }
        assert_eq!(Cluster::default(), Cluster::default());
    }
}
