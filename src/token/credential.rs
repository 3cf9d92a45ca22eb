//! `kubectl coreweave token credential REF`: the exec credential plugin kubectl runs before
//! every request of a user entry that `token store` rewrote. It reads the token from the OS
//! keyring item REF and prints a client-go `ExecCredential`, and nothing else, on stdout.
//!
//! kubectl shows the plugin's stderr to the user, so every failure is one line there that
//! says what to do; stdout stays empty then (kubectl would try to parse it).

use std::io::Write;

use serde::Deserialize;

/// The ExecCredential versions this plugin answers in; the answer carries the version
/// kubectl asked in (the two agree on `status.token`).
const API_VERSIONS: [&str; 2] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// client-go's `KUBERNETES_EXEC_INFO` is a few hundred bytes (a few kB with
/// `provideClusterInfo` and a CA); anything far larger is not from kubectl.
const MAX_EXEC_INFO: usize = 1024 * 1024;

/// What kubectl tells the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecInfo {
    pub api_version: String,
    /// Whether kubectl's stdin is a terminal the plugin may prompt on.
    pub interactive: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecInfoError {
    #[error("KUBERNETES_EXEC_INFO is not JSON ({0}); it is set by kubectl, unset it to run the plugin by hand")]
    Malformed(String),
    #[error("KUBERNETES_EXEC_INFO is {0} bytes, over the {MAX_EXEC_INFO} byte limit")]
    TooLarge(usize),
    #[error("KUBERNETES_EXEC_INFO is not UTF-8")]
    NotUtf8,
    #[error("KUBERNETES_EXEC_INFO asks for ExecCredential apiVersion {0:?}; this plugin speaks client.authentication.k8s.io/v1 and v1beta1 (set apiVersion: client.authentication.k8s.io/v1 in the kubeconfig's exec entry)")]
    Version(String),
    #[error("KUBERNETES_EXEC_INFO has kind {0:?}, not ExecCredential")]
    Kind(String),
}

#[derive(Deserialize)]
struct RawInfo {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    spec: Option<RawSpec>,
}

#[derive(Deserialize)]
struct RawSpec {
    #[serde(default)]
    interactive: Option<bool>,
}

/// Reads `KUBERNETES_EXEC_INFO`. Unset (the plugin run by hand) means v1, not interactive.
pub fn exec_info(value: Option<std::ffi::OsString>) -> Result<ExecInfo, ExecInfoError> {
    let Some(value) = value else {
        return Ok(ExecInfo {
            api_version: API_VERSIONS[0].to_string(),
            interactive: false,
        });
    };
    if value.len() > MAX_EXEC_INFO {
        return Err(ExecInfoError::TooLarge(value.len()));
    }
    let text = value.into_string().map_err(|_| ExecInfoError::NotUtf8)?;
    let raw: RawInfo = serde_json::from_str(&text).map_err(|e| {
        ExecInfoError::Malformed(format!("line {} column {}", e.line(), e.column()))
    })?;
    let kind = raw.kind.unwrap_or_default();
    if kind != "ExecCredential" {
        return Err(ExecInfoError::Kind(
            crate::secret::escape_controls(&kind).into_owned(),
        ));
    }
    let api_version = raw.api_version.unwrap_or_default();
    if !API_VERSIONS.contains(&api_version.as_str()) {
        return Err(ExecInfoError::Version(
            crate::secret::escape_controls(&api_version).into_owned(),
        ));
    }
    Ok(ExecInfo {
        api_version,
        interactive: raw.spec.and_then(|s| s.interactive).unwrap_or(false),
    })
}

pub fn run(reference: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let info = exec_info(std::env::var_os("KUBERNETES_EXEC_INFO"))?;
    let token = crate::keystore::read_for_plugin(reference, info.interactive)?;
    let credential = serde_json::json!({
        "apiVersion": info.api_version,
        "kind": "ExecCredential",
        "status": { "token": token.expose() },
    });
    writeln!(out, "{credential}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(s: &str) -> Result<ExecInfo, ExecInfoError> {
        exec_info(Some(s.into()))
    }

    #[test]
    fn kubectl_exec_info_is_read() {
        let i = info(r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}"#)
            .expect("reads");
        assert!(i.interactive);
        assert_eq!(i.api_version, "client.authentication.k8s.io/v1");
        let i = info(r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{}}"#)
            .expect("reads");
        assert!(!i.interactive);
        assert!(!exec_info(None).expect("unset").interactive);
    }

    #[test]
    fn other_versions_and_garbage_are_refused() {
        assert!(matches!(
            info(r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v2"}"#),
            Err(ExecInfoError::Version(_))
        ));
        assert!(matches!(info("{"), Err(ExecInfoError::Malformed(_))));
        assert!(matches!(info("\"x\""), Err(ExecInfoError::Malformed(_))));
        assert!(info("[]").is_err());
        assert!(matches!(
            info(r#"{"kind":"Pod","apiVersion":"client.authentication.k8s.io/v1"}"#),
            Err(ExecInfoError::Kind(_))
        ));
    }
}
