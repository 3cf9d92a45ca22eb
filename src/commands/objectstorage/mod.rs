//! `kubectl coreweave objectstorage`: CoreWeave AI Object Storage (S3) keys made from the
//! API token the kubeconfig already holds, so no S3 key has to live in a file.
//! `credentials.rs` resolves the token, reuses a kept key (`cache.rs`: the kernel session
//! keyring on Linux, the OS keyring elsewhere, never a file) or makes and checks one, and
//! prints it for AWS's `credential_process` or as environment variables; `settings.rs`
//! picks the endpoint and region; `profile.rs` and `aws_config.rs` write the AWS profile
//! that runs the plugin; `whoami.rs` shows the identity and groups the keys carry.

pub mod aws_config;
pub mod cache;
pub mod credentials;
pub mod profile;
pub mod settings;
pub mod whoami;
