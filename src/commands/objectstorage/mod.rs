//! `kubectl coreweave objectstorage`: CoreWeave AI Object Storage (S3) keys made from the
//! API token the kubeconfig already holds, so no S3 key has to live in a file.
//!
//! - `credentials.rs`: resolve the token as `token show` does, reuse a kept key or make one
//!   (the token exchange, `coreweave::temporary_credentials`, or `coreweave::access_key`),
//!   wait until the S3 endpoint accepts a new one (`coreweave::s3_check`), print it in
//!   AWS's `credential_process` form or as environment variables.
//! - `settings.rs`: the S3 endpoint (`cwobject`, `lota`, a URL) and the region (the
//!   availability zone, from the context's CKS server).
//! - `cache.rs`: where a key is kept between calls (kernel session keyring on Linux, the OS
//!   keyring elsewhere; never a file), keyed by a hash of the token.
//! - `profile.rs` and `aws_config.rs`: the `~/.aws/config` profile that runs the plugin, and
//!   its byte-keeping addition to the AWS config file.
//! - `whoami.rs`: the identity and groups the exchanged keys carry, for bucket policies.

pub mod aws_config;
pub mod cache;
pub mod credentials;
pub mod profile;
pub mod settings;
pub mod whoami;
