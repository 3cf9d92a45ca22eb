//! What each command is asked to do, as plain settings. `lib.rs` makes them from the
//! command line once (`settings.rs`); a command that runs another (`kubeconfig import
//! --replace-token` runs rotate) makes that one's settings itself. Nothing under
//! `commands/` sees clap's structs. Values are as given; each command checks its own, in
//! its own order of work.

use std::path::PathBuf;
use std::time::Duration;

use crate::commands::token::source::Source;
use crate::commands::token::verify::How;
use crate::coreweave::ApiSettings;

/// `-o json|yaml`; `None` is the command's human form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Json,
    Yaml,
}

/// `token show`.
#[derive(Debug, Clone, Default)]
pub struct ShowOptions {
    /// Print the whole token.
    pub raw: bool,
    pub output: Option<OutputFormat>,
    /// Ask CoreWeave whether it accepts the token.
    pub check: bool,
    pub api: ApiSettings,
}

/// `token list`.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub output: Option<OutputFormat>,
    /// Ask CoreWeave about each distinct token once.
    pub check: bool,
    pub api: ApiSettings,
}

/// Where the new token of `token rotate` comes from.
#[derive(Debug, Clone)]
pub enum NewToken {
    /// A source named on the command line, or a token another command hands over.
    From(Source),
    /// None named: the terminal's prompt, or an error saying which flags give one (decided
    /// when the token is needed, after the files are checked).
    Ask,
    /// Minted by CoreWeave's service-account OIDC exchange (`--mint`).
    Mint(MintOptions),
}

/// `--mint`'s inputs, as given.
#[derive(Debug, Clone)]
pub struct MintOptions {
    pub service_account: Option<String>,
    pub oidc_token_file: Option<PathBuf>,
    /// The minted token's lifetime (a Go duration).
    pub duration: String,
    /// The exchange's API path.
    pub path: String,
}

/// `token rotate`.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    pub new_token: NewToken,
    pub only_current: bool,
    pub dry_run: bool,
    pub backup: bool,
    pub lock_timeout: Duration,
    pub force: bool,
    /// No confirmation before writing.
    pub yes: bool,
    pub verify: How,
    pub verify_timeout: Duration,
    /// `--expires` as given.
    pub expires: Option<String>,
    pub api: ApiSettings,
}

impl RotateOptions {
    /// Whether the rotated entries get an expiry recorded (a minted token or `--expires`).
    pub fn records_expiry(&self) -> bool {
        matches!(self.new_token, NewToken::Mint(_)) || self.expires.is_some()
    }
}

/// The exec entry's `interactiveMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interactive {
    #[default]
    IfAvailable,
    Never,
}

/// `token store` and `token unstore`.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// Every user entry holding the same token, not only the active one.
    pub all: bool,
    pub dry_run: bool,
    /// The keyring item's name (default: the active user's).
    pub item: Option<String>,
    pub interactive_mode: Interactive,
    pub lock_timeout: Duration,
    pub force: bool,
    /// The exec entry's command as the bare name.
    pub bare_command: bool,
    /// Bind other contexts' clusters without asking.
    pub yes: bool,
    pub allow_clients_without_cluster_info: bool,
    pub deny_clients_without_cluster_info: bool,
}

/// Where a token no user entry holds yet is kept (`--store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// `token: CW-SECRET-…` in the user entry.
    Inline,
    /// The OS keyring, read by this plugin's exec entry.
    Keyring,
}

/// `kubeconfig import`.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The downloaded kubeconfig (`-` for standard input).
    pub file: PathBuf,
    pub name: Option<String>,
    pub set_current: bool,
    pub namespace: Option<String>,
    pub dry_run: bool,
    pub replace_token: bool,
    pub verify: How,
    pub verify_timeout: Duration,
    pub store: Keep,
    pub bare_command: bool,
    pub force: bool,
    pub lock_timeout: Duration,
    pub api: ApiSettings,
}

/// `kubeconfig add`.
#[derive(Debug, Clone)]
pub struct AddOptions {
    /// The clusters named, by name or id.
    pub clusters: Vec<String>,
    pub all: bool,
    pub include_private: bool,
    pub update: bool,
    pub no_set_current: bool,
    pub set_current: Option<String>,
    pub namespace: Option<String>,
    /// `None`: the keyring when one answers, else inline.
    pub store: Option<Keep>,
    pub bare_command: bool,
    /// The token's source when one is named (else the active context's token).
    pub source: Option<Source>,
    pub dry_run: bool,
    pub yes: bool,
    pub verify_timeout: Duration,
    pub lock_timeout: Duration,
    pub api: ApiSettings,
}

/// `cluster list`.
#[derive(Debug, Clone, Default)]
pub struct ClusterListOptions {
    pub output: Option<OutputFormat>,
    /// Every distinct token the files hold, not only the active one.
    pub all_tokens: bool,
    pub api: ApiSettings,
}

/// `objectstorage credentials -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutput {
    Json,
    Env,
    EnvNoExport,
}

/// How an Object Storage key is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// The token exchange: keys with the user's identity and groups.
    #[default]
    ApiToken,
    /// A key of the token itself.
    AccessKey,
}

/// The S3 endpoint and region, as given.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

/// `objectstorage credentials`.
#[derive(Debug, Clone)]
pub struct CredentialsOptions {
    pub key_kind: Option<KeyKind>,
    pub duration: Option<Duration>,
    pub permanent: bool,
    pub no_wait: bool,
    pub wait_timeout: Duration,
    pub output: KeyOutput,
    pub s3: S3Options,
    pub api: ApiSettings,
}

/// `objectstorage profile`.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// The profile's name.
    pub name: String,
    /// Add it to the AWS config file instead of printing it.
    pub write: bool,
    pub key_kind: Option<KeyKind>,
    pub duration: Option<Duration>,
    pub no_wait: bool,
    pub s3: S3Options,
    pub lock_timeout: Duration,
    pub bare_command: bool,
}

/// `objectstorage whoami -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhoamiOutput {
    Text,
    Json,
}

/// `objectstorage whoami`.
#[derive(Debug, Clone)]
pub struct WhoamiOptions {
    pub output: WhoamiOutput,
    pub api: ApiSettings,
}
