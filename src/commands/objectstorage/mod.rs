//! `kubectl coreweave objectstorage`: CoreWeave AI Object Storage (S3) keys made from the
//! API token the kubeconfig already holds, so no S3 key has to live in a file.
//!
//! - `credentials.rs`: resolve the token as `token show` does, reuse a kept key or make one
//!   (`coreweave::access_key`), print it in AWS's `credential_process` form or as
//!   environment variables.
//! - `cache.rs`: where a key is kept between calls (kernel session keyring on Linux, the OS
//!   keyring elsewhere; never a file), keyed by a hash of the token.
//! - `profile.rs` and `aws_config.rs`: the `~/.aws/config` profile that runs the plugin, and
//!   its byte-keeping addition to the AWS config file.

pub mod aws_config;
pub mod cache;
pub mod credentials;
pub mod profile;

/// CoreWeave AI Object Storage's S3 endpoint (virtual-hosted addressing).
pub const S3_ENDPOINT: &str = "https://cwobject.com";
