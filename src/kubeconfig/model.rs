//! The kubeconfig data model, as far as this plugin reads it.
//!
//! These are plain serde types for one file, before merging. They name only the keys the
//! plugin uses; every other key is skipped by the parser (never kept: files are edited as
//! text by `edit.rs`, not re-serialised from these types, so nothing is lost by skipping).
//! Field names and types follow client-go's `clientcmd/api/v1/types.go`.

use serde::{Deserialize, Deserializer};

/// One kubeconfig file's content.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct FileConfig {
    #[serde(rename = "apiVersion", default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(rename = "current-context", default)]
    pub current_context: Option<String>,
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
    pub name: String,
    #[serde(default)]
    pub cluster: Option<Cluster>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct Cluster {
    #[serde(default)]
    pub server: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct NamedContext {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name: String,
    #[serde(default)]
    pub context: Option<Context>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct NamedUser {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name: String,
    #[serde(default)]
    pub user: Option<User>,
}

/// A user entry's credentials. Only `token` and `tokenFile` are read; the other kinds are
/// recorded as present or absent so `token show` can say what the entry holds instead.
#[derive(Default, Clone, PartialEq, Deserialize)]
pub struct User {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(rename = "tokenFile", default)]
    pub token_file: Option<String>,
    #[serde(default)]
    pub exec: Option<serde::de::IgnoredAny>,
    #[serde(rename = "auth-provider", default)]
    pub auth_provider: Option<serde::de::IgnoredAny>,
    #[serde(rename = "client-certificate", default)]
    pub client_certificate: Option<serde::de::IgnoredAny>,
    #[serde(rename = "client-certificate-data", default)]
    pub client_certificate_data: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub username: Option<serde::de::IgnoredAny>,
}

// By hand, so a derived Debug can never print a token.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("exec", &self.exec.is_some())
            .field("auth_provider", &self.auth_provider.is_some())
            .finish_non_exhaustive()
    }
}

/// client-go decodes through JSON, where `users: null` (or `users:` with nothing after it)
/// is an empty list and `name: null` an empty string; serde would call both a type error.
fn null_as_empty<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
