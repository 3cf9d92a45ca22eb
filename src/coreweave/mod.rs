//! The CoreWeave API (`https://api.coreweave.com`), as far as the plugin talks to it:
//! whether a token is accepted (`whoami`, for `token show --check`) and the alpha
//! service-account token exchange (`mint_service_account_token`).
//!
//! - `client.rs`: [`ApiConfig`] (endpoint, timeout, retries; from flags, environment,
//!   defaults), the blocking calls and their retry rules.
//! - `error.rs`: [`ApiError`], one line per failure, never carrying a token; and
//!   [`error::redact`], the one gate every text a server chose passes before it is shown
//!   (the CoreWeave API's and the clusters' alike).
//!
//! Nothing here runs at load time: a runtime, a TLS configuration and (for an https
//! endpoint only) the system's roots are built when a call is made.

pub mod client;
pub mod error;

pub use client::{
    mint_service_account_token, whoami, ApiConfig, Deadline, Minted, Principal, DEFAULT_ENDPOINT,
    DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, ENDPOINT_ENV, MINT_PATH, TIMEOUT_ENV, WHOAMI_PATH,
};
pub use error::ApiError;

/// The name of the kubeconfig user extension that records a token's expiry and origin:
/// `users[].user.extensions: [{name: coreweave.com/token, extension: {expires, source,
/// rotatedAt}}]`. client-go keeps named extensions when it rewrites a file.
pub const TOKEN_EXTENSION: &str = "coreweave.com/token";
