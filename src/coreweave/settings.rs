//! [`ApiSettings`]: where and how to call the CoreWeave API, as the user asked for it
//! (`--api-endpoint`, `--request-timeout`), before the environment and the defaults fill in.
//! The command line becomes this once, at the top; it is resolved into an [`ApiConfig`]
//! only when a call is made, so a command that makes none never fails on a bad variable.

use super::{ApiConfig, ApiError};

/// The API flags as given (`None` when not given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiSettings {
    pub endpoint: Option<String>,
    pub request_timeout: Option<String>,
}

impl ApiSettings {
    /// These settings, else the environment, else the defaults ([`ApiConfig::resolve`]).
    pub fn resolve(&self) -> Result<ApiConfig, ApiError> {
        ApiConfig::resolve(self.endpoint.as_deref(), self.request_timeout.as_deref())
    }
}
