//! The command line: every flag, its help text and the examples `--help` shows.
//!
//! kubectl rejects its own flags placed before a plugin's name, so the plugin owns
//! `--kubeconfig`, `--context` and `--user`; they are global and may stand anywhere
//! after `kubectl coreweave`.

use std::path::PathBuf;

use clap::{Args, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Show and rotate the CoreWeave API access token in your kubeconfig.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-coreweave",
    bin_name = "kubectl coreweave",
    version,
    after_help = "Examples:\n  \
        # Which token does my current context use, and where is it stored?\n  \
        kubectl coreweave token show\n\n  \
        # The token alone, for scripts (replaces the kubectl jsonpath one-liner)\n  \
        kubectl coreweave token show --raw"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The flags kubectl users know, read exactly as kubectl reads them.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (replaces KUBECONFIG and ~/.kube/config; must exist)
    // An empty value means "not given", as in kubectl (`--kubeconfig="$KC"` with KC unset);
    // clap's PathBuf parser would refuse it, so parse it as a plain OS string.
    #[arg(long, global = true, value_name = "PATH", help_heading = KUBECONFIG_HEADING,
          value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from))]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: current-context)
    #[arg(long, global = true, value_name = "NAME", help_heading = KUBECONFIG_HEADING)]
    pub context: Option<String>,
    /// The kubeconfig user to use (default: the context's user)
    #[arg(long, global = true, value_name = "NAME", help_heading = KUBECONFIG_HEADING)]
    pub user: Option<String>,
}

/// The help heading of `--kubeconfig`, `--context` and `--user`.
pub const KUBECONFIG_HEADING: &str = "Kubeconfig";

/// `version` and `completion` read no kubeconfig. The global kubeconfig flags are still
/// accepted there (as kubectl accepts them on `kubectl version`), but as hidden flags of
/// their own, which clap's propagation of the global ones leaves in place: their help does
/// not list flags that do nothing.
fn hidden_kubeconfig_flags() -> [clap::Arg; 3] {
    // The value types match the global flags': clap hands a value given here up to them.
    let flag = |name: &'static str| clap::Arg::new(name).long(name).hide(true).num_args(1);
    [
        flag("kubeconfig").value_parser(clap::builder::TypedValueParser::map(
            clap::builder::OsStringValueParser::new(),
            PathBuf::from,
        )),
        flag("context").value_parser(clap::value_parser!(String)),
        flag("user").value_parser(clap::value_parser!(String)),
    ]
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show, list or rotate the CoreWeave tokens in your kubeconfig
    Token {
        #[command(subcommand)]
        command: Deferred<TokenCommand>,
    },
    /// List the CKS clusters your token's organization has
    Cluster {
        #[command(subcommand)]
        command: Deferred<ClusterCommand>,
    },
    /// Add CKS clusters to your kubeconfig, from the token alone or from a Console download
    Kubeconfig {
        #[command(subcommand)]
        command: Deferred<KubeconfigCommand>,
    },
    /// Make CoreWeave AI Object Storage (S3) keys from the token, for the AWS CLI and others
    #[command(name = "objectstorage")]
    Objectstorage {
        #[command(subcommand)]
        command: Deferred<ObjectstorageCommand>,
    },
    /// Print the plugin's version, git commit and target
    #[command(args = hidden_kubeconfig_flags())]
    Version,
    /// Print a shell completion script for kubectl-coreweave
    #[command(args = hidden_kubeconfig_flags(), after_help = "Examples:\n  \
        kubectl coreweave completion bash > ~/.local/share/bash-completion/completions/kubectl-coreweave\n\n\
        For `kubectl coreweave <TAB>` (kubectl 1.26 or later), put the kubectl_complete-coreweave\n\
        file from the release archive on PATH, or link it: ln -s \"$(command -v kubectl-coreweave)\"\n\
        ~/.local/bin/kubectl_complete-coreweave")]
    Completion {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Completion protocol used by kubectl_complete-coreweave (kubectl 1.26+)
    #[command(name = "__complete", hide = true)]
    Complete {
        /// The words after `kubectl coreweave`, the last being the one to complete
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// List the CKS clusters of the active token's organization, and which contexts reach them
    #[command(after_help = "Examples:\n  \
        kubectl coreweave cluster list\n  \
        kubectl coreweave cluster list --all-tokens -o json\n\n\
        Asks CoreWeave (GET /v1beta1/cks/clusters, after whoami) with the active context's\n\
        token. CONTEXTS names the contexts of your kubeconfig files whose cluster server is\n\
        the cluster's endpoint, or -. `kubectl coreweave kubeconfig add NAME` adds one.")]
    List(ClusterListArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct ClusterListArgs {
    /// Output format: json or yaml (default: a table per organization); the schema is in the README
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
    /// Every distinct CoreWeave token the kubeconfig files hold (as `token list` finds
    /// them), asked in parallel, grouped by organization
    #[arg(long)]
    pub all_tokens: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Show the active user's token (masked), where it is stored and who shares it
    #[command(after_help = "Examples:\n  \
        kubectl coreweave token show\n  \
        kubectl coreweave token show --context my-cluster -o json\n  \
        export COREWEAVE_API_TOKEN=\"$(kubectl coreweave token show --raw)\"\n  \
        kubectl coreweave token show --check\n\n\
        The token is masked (CW-SECRET-…1a2b) unless --raw is given. With --raw alone,\n\
        stdout is the token and a newline, nothing else. --check asks the CoreWeave API\n\
        whether the token is accepted; it exits 1 when the token is rejected or the API\n\
        cannot be reached. When the kubeconfig records the token's expiry (user extension\n\
        coreweave.com/token), a token expired or expiring within 7 days gets a warning.")]
    Show(ShowArgs),
    /// List every CoreWeave token in the kubeconfig files: where it is stored, who uses it
    #[command(after_help = "Examples:\n  \
        kubectl coreweave token list\n  \
        kubectl coreweave token list --check\n  \
        kubectl coreweave token list -o json\n\n\
        One row per distinct token, from every user entry of every file kubectl reads\n\
        (entries shadowed by a same-named user in an earlier file included): the token\n\
        masked, how it is stored, the user entries holding it ([n] numbers the files\n\
        listed below the table), the contexts using it (* the current one) and the\n\
        expiry recorded by `token rotate --expires`. Tokens are never shown whole.\n\n\
        Exit status with --check: 0 every token accepted; 1 a token rejected or past its\n\
        recorded expiry; 3 no answer from the API for some token (and none of the former);\n\
        2 usage error.")]
    List(ListArgs),
    /// Replace the active user's token everywhere it is stored, in place
    #[command(after_help = "Examples:\n  \
        # Paste a token created at https://console.coreweave.com/tokens (asks, echo off)\n  \
        kubectl coreweave token rotate\n\n  \
        # From a password manager, previewing first\n  \
        kubectl coreweave token rotate --from-command 'pass show coreweave/token' --dry-run\n\n  \
        # From the kubeconfig the Console downloads\n  \
        kubectl coreweave token rotate --from-kubeconfig ~/Downloads/CWKubeconfig_cwtoken-1a2b-laptop\n\n\
        Every user entry, in every kubeconfig file kubectl reads, whose token is the active\n\
        user's token gets the new one (tokenFile users: the file is rewritten). Only the\n\
        token's characters change; comments, order and layout are kept. Files are locked\n\
        like kubectl locks them and replaced atomically.")]
    Rotate(Box<RotateArgs>),
    /// Move the active user's token into the OS keyring; the kubeconfig runs this plugin
    #[command(after_help = "Examples:\n  \
        kubectl coreweave token store --dry-run\n  \
        kubectl coreweave token store --all\n\n\
        The token is written to the OS keyring (macOS Keychain, Windows Credential Manager,\n\
        the Secret Service on Linux) and read back; then the user entry's `token:` is\n\
        replaced, in place, by an `exec:` entry that runs `kubectl-coreweave token\n\
        credential <item>`. Nothing else in the file changes. `token unstore` undoes it.\n\
        With no keyring reachable, nothing changes: keep the token in a 0600 tokenFile.")]
    Store(StoreArgs),
    /// Put the token kept in the OS keyring back inline into the kubeconfig (undo `store`)
    #[command(after_help = "Examples:\n  \
        kubectl coreweave token unstore\n  \
        kubectl coreweave token unstore --all --dry-run\n\n\
        The keyring item is kept (other kubeconfigs may use it); delete it with your\n\
        keyring's tool, e.g. `secret-tool clear service kubectl-coreweave username <item>`.")]
    Unstore(StoreArgs),
    /// Print the token kept in the OS keyring as an ExecCredential (kubectl runs this)
    #[command(
        after_help = "kubectl runs this through the user entry `token store` wrote; it reads\n\
        KUBERNETES_EXEC_INFO and prints a client.authentication.k8s.io/v1 ExecCredential."
    )]
    Credential {
        /// The keyring item (`args` of the exec entry)
        #[arg(value_name = "ITEM")]
        reference: String,
        /// The marker `token store` writes after the item (`--plugin=kubectl-coreweave`),
        /// so the entry is recognised as this plugin's under any program name
        #[arg(long, hide = true, value_parser = ["kubectl-coreweave"])]
        plugin: Option<String>,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct StoreArgs {
    /// Every user entry holding the same token, not only the active one
    #[arg(long)]
    pub all: bool,
    /// Show what would change (tokens masked) and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The keyring item to use (default: the active user's name)
    #[arg(long, value_name = "NAME")]
    pub item: Option<String>,
    /// The exec entry's interactiveMode: may the plugin ask to unlock the keyring
    #[arg(long, value_enum, default_value_t = Interactive::IfAvailable, value_name = "MODE")]
    pub interactive_mode: Interactive,
    /// Seconds to wait for another writer's <file>.lock to go away
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub lock_timeout: u64,
    /// Store even a token whose contexts reach CKS's unmanaged-auth endpoint
    /// (https://api.<cluster>.k8s.<zone>.coreweave.com), which refuses Console API tokens
    #[arg(long)]
    pub force: bool,
    /// Write the exec entry's command as the bare name `kubectl-coreweave` (found on
    /// kubectl's PATH) instead of the plugin's absolute path
    #[arg(long)]
    pub bare_command: bool,
    /// Bind the clusters of other contexts that name the stored users too (listed first)
    /// without asking
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also give the token to callers that name no cluster (clients that set no
    /// KUBERNETES_EXEC_INFO, such as Node's @kubernetes/client-node): any kubeconfig that
    /// names the item can then send it to any server
    #[arg(long, conflicts_with = "deny_clients_without_cluster_info")]
    pub allow_clients_without_cluster_info: bool,
    /// Take back --allow-clients-without-cluster-info
    #[arg(long)]
    pub deny_clients_without_cluster_info: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Interactive {
    /// Ask to unlock the keyring when kubectl runs in a terminal
    #[default]
    #[value(name = "IfAvailable")]
    IfAvailable,
    /// Never ask; fail with one line when the keyring is locked
    #[value(name = "Never")]
    Never,
}

#[derive(Debug, Subcommand)]
pub enum ObjectstorageCommand {
    /// Print an Object Storage access key made from the token, as AWS's credential_process
    /// expects it (or as environment variables)
    #[command(after_help = "Examples:\n  \
        kubectl coreweave objectstorage credentials\n  \
        eval \"$(kubectl coreweave objectstorage credentials -o env)\"; rclone lsd :s3:\n  \
        kubectl coreweave objectstorage credentials --key-kind access-key --duration 30m\n\n\
        By default the token is exchanged for temporary keys (GET\n\
        /v1/cwobject/temporary-credentials/api-token) that carry your own identity\n\
        (coreweave/<UID>) and groups; --key-kind access-key makes a key with POST\n\
        /v1/cwobject/access-key instead. A new key is checked with one signed ListBuckets\n\
        and waited for (at most --wait-timeout) until the S3 endpoint accepts it. A key is\n\
        reused while more than max(10 minutes, a tenth of its life) is left; it is kept in\n\
        the kernel session keyring (Linux) or the OS keyring, never in a file, and is\n\
        dropped when the token is rotated or unstored.")]
    Credentials(ObjectCredentialsArgs),
    /// Print (or add to ~/.aws/config) the AWS profile that runs `objectstorage credentials`
    #[command(after_help = "Examples:\n  \
        kubectl coreweave objectstorage profile\n  \
        kubectl coreweave objectstorage profile cw --write && aws --profile cw s3 ls\n  \
        kubectl coreweave objectstorage profile lota --endpoint lota --write\n\n\
        The profile runs this plugin by its absolute path, with the --kubeconfig, --context,\n\
        --user, --region and key flags given here. Its region is the availability zone of\n\
        the context's CKS cluster (https://<org>-<hash>.k8s.<zone>.coreweave.com), else\n\
        --region. --write adds it to $AWS_CONFIG_FILE, else ~/.aws/config, atomically,\n\
        keeping every other byte; a profile of that name that says something else is\n\
        refused, an identical one is left as it is.")]
    Profile(ObjectProfileArgs),
    /// Show the identity and groups the Object Storage keys carry, for bucket policies
    #[command(after_help = "Examples:\n  \
        kubectl coreweave objectstorage whoami\n  \
        kubectl coreweave objectstorage whoami -o json\n\n\
        Asks the CoreWeave API who the token belongs to (GET /v1beta1/auth/whoami). Keys from\n\
        the token exchange carry the identity coreweave/<UID> and the groups in the\n\
        condition key iam:<ORG-ID>:groups.")]
    Whoami(ObjectWhoamiArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyOutput {
    /// AWS's credential_process JSON (Version 1)
    Json,
    /// `export AWS_ACCESS_KEY_ID=…` lines, for `eval` in a shell
    Env,
    /// `AWS_ACCESS_KEY_ID=…` lines without `export`, for env files
    #[value(name = "env-no-export")]
    EnvNoExport,
}

/// How an Object Storage key is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum KeyKind {
    /// GET /v1/cwobject/temporary-credentials/api-token: keys with your identity and groups
    #[default]
    #[value(name = "api-token")]
    ApiToken,
    /// POST /v1/cwobject/access-key: a key of the token itself, with --duration or --permanent
    #[value(name = "access-key")]
    AccessKey,
}

/// The S3 endpoint flags shared by `credentials` and `profile`.
#[derive(Debug, Args, Clone, Default)]
pub struct S3Args {
    /// The S3 endpoint: cwobject (https://cwobject.com), lota (http://cwlota.com, inside
    /// CoreWeave clusters) or a URL [default: $AWS_ENDPOINT_URL_S3, else cwobject]
    #[arg(long, value_name = "ENDPOINT")]
    pub endpoint: Option<String>,
    /// The availability zone, e.g. us-east-04a [default: the zone of the context's CKS
    /// server, else $AWS_REGION or $AWS_DEFAULT_REGION]
    #[arg(long, value_name = "ZONE")]
    pub region: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ObjectCredentialsArgs {
    /// How the key is made [default: api-token]
    #[arg(long, value_enum, value_name = "KIND")]
    pub key_kind: Option<KeyKind>,
    /// Lifetime of a new key (at most 12h; with --key-kind access-key) [default: 1h]
    #[arg(long, value_name = "DURATION", value_parser = key_duration, conflicts_with = "permanent", requires = "key_kind")]
    pub duration: Option<std::time::Duration>,
    /// Make a key that never expires (with --key-kind access-key; never taken from or kept
    /// in the cache)
    #[arg(long, requires = "key_kind")]
    pub permanent: bool,
    /// Print a new key without checking that the S3 endpoint accepts it yet
    #[arg(long)]
    pub no_wait: bool,
    /// Longest wait for the S3 endpoint to accept a new key, e.g. 60s or 2m
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = wait_timeout, conflicts_with = "no_wait")]
    pub wait_timeout: std::time::Duration,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = KeyOutput::Json, value_name = "FORMAT")]
    pub output: KeyOutput,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args, Clone)]
pub struct ObjectProfileArgs {
    /// The profile's name
    #[arg(value_name = "NAME", default_value = "coreweave")]
    pub name: String,
    /// Add it to the AWS config file instead of printing it
    #[arg(long)]
    pub write: bool,
    /// How the keys are made, passed on to `objectstorage credentials` [default: api-token]
    #[arg(long, value_enum, value_name = "KIND")]
    pub key_kind: Option<KeyKind>,
    /// The keys' lifetime, passed on to `objectstorage credentials` (with --key-kind access-key)
    #[arg(long, value_name = "DURATION", value_parser = key_duration, requires = "key_kind")]
    pub duration: Option<std::time::Duration>,
    /// Passed on to `objectstorage credentials`: print new keys without checking them
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub s3: S3Args,
    /// Seconds to wait for another writer's <file>.lock to go away
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub lock_timeout: u64,
    /// Write credential_process with the plugin's bare name (found on the AWS CLI's PATH)
    /// instead of its absolute path
    #[arg(long)]
    pub bare_command: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ObjectWhoamiArgs {
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = WhoamiOutput::Text, value_name = "FORMAT")]
    pub output: WhoamiOutput,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhoamiOutput {
    Text,
    Json,
}

/// `--wait-timeout`: 1s to 10m.
fn wait_timeout(value: &str) -> Result<std::time::Duration, DurationFlagError> {
    let d = crate::time::parse_go_duration(value)
        .map_err(|e| DurationFlagError::Unreadable(e, "30s, 60s or 2m"))?;
    if d < std::time::Duration::from_secs(1) || d > std::time::Duration::from_secs(600) {
        return Err(DurationFlagError::WaitRange);
    }
    Ok(d)
}

/// `--duration` of an Object Storage key: 1s to 12h.
fn key_duration(value: &str) -> Result<std::time::Duration, DurationFlagError> {
    let d = crate::time::parse_go_duration(value)
        .map_err(|e| DurationFlagError::Unreadable(e, "15m, 1h or 12h"))?;
    if d.as_secs() == 0
        || d > crate::coreweave::access_key::MAX_KEY_DURATION
        || d.subsec_nanos() != 0
    {
        return Err(DurationFlagError::KeyRange);
    }
    Ok(d)
}

#[derive(Debug, Subcommand)]
pub enum KubeconfigCommand {
    /// Merge a kubeconfig downloaded from the Console into the file kubectl writes to, under
    /// unique names, keeping every existing byte
    #[command(after_help = "Examples:\n  \
        # Add a downloaded cluster and switch to it\n  \
        kubectl coreweave kubeconfig import ~/Downloads/CWKubeconfig_cwtoken-1a2b-laptop --set-current\n\n  \
        # Preview first (tokens masked)\n  \
        kubectl coreweave kubeconfig import ~/Downloads/CWKubeconfig_cwtoken-1a2b-laptop --dry-run\n\n\
        The target is the file kubectl writes to: --kubeconfig, else the first KUBECONFIG file\n\
        that exists (the last one if none does), else ~/.kube/config (created 0600 if missing).\n\
        Clusters and contexts are named <cluster>-<org> after the API host\n\
        (<org>-<hash>.k8s.<zone>.coreweave.com); a user entry is added per distinct token.\n\
        Nothing existing is overwritten: a context that already reaches the same server with\n\
        the same token is reused; one with another token is reported (--replace-token rotates\n\
        it, as token rotate does).")]
    Import(Box<ImportArgs>),
    /// Add CKS clusters to the file kubectl writes to, from the API and the token alone
    #[command(after_help = "Examples:\n  \
        # A new laptop: every public cluster of the token's organization, in one command\n  \
        kubectl coreweave kubeconfig add --all --from-stdin\n\n  \
        # One cluster, with the active context's token; it becomes the current context\n  \
        kubectl coreweave kubeconfig add my-cluster\n\n\
        The token (the active context's, or --from-…) is checked with CoreWeave's whoami, then\n\
        GET /v1beta1/cks/clusters lists the clusters. Each one not yet reached by a context\n\
        gets a cluster (server https://<apiServerEndpoint>), a context and, once per token, a\n\
        user, appended to the file kubectl writes to without changing a byte of what is there.\n\
        Running it again changes nothing. Private clusters and clusters without an endpoint\n\
        are skipped, with the reason.")]
    Add(Box<AddArgs>),
}

#[derive(Debug, Args, Clone)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["clusters", "all"]))]
#[command(group = clap::ArgGroup::new("source").multiple(false))]
pub struct AddArgs {
    /// The clusters to add, by name or id (see `kubectl coreweave cluster list`)
    #[arg(value_name = "CLUSTER")]
    pub clusters: Vec<String>,
    /// Every cluster of the token's organization
    #[arg(long, conflicts_with = "clusters")]
    pub all: bool,
    /// Add private clusters too (reachable only from inside their VPC)
    #[arg(long)]
    pub include_private: bool,
    /// Rewrite the server of a cluster entry whose cluster moved (same id, another endpoint)
    #[arg(long)]
    pub update: bool,
    /// Leave current-context alone even when one cluster is named
    #[arg(long, conflicts_with = "set_current")]
    pub no_set_current: bool,
    /// Make this cluster's context current (name or id; with --all, or among several)
    #[arg(long, value_name = "CLUSTER")]
    pub set_current: Option<String>,
    /// Namespace of the new contexts
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Where a token no user entry holds yet is kept [default: keyring when an OS keyring
    /// answers, else inline]
    #[arg(long, value_enum, value_name = "WHERE")]
    pub store: Option<ImportStore>,
    /// With the keyring: write the exec entry's command as the bare name `kubectl-coreweave`
    #[arg(long)]
    pub bare_command: bool,
    /// Read the token from the first line of standard input
    #[arg(long, group = "source")]
    pub from_stdin: bool,
    /// Read the token from a file
    #[arg(long, group = "source", value_name = "PATH")]
    pub from_file: Option<PathBuf>,
    /// Take the token from a kubeconfig downloaded from the Console
    #[arg(long, group = "source", value_name = "PATH")]
    pub from_kubeconfig: Option<PathBuf>,
    /// Run CMD with `sh -c` and take the first line of its output (a secret store)
    #[arg(long, group = "source", value_name = "CMD")]
    pub from_command: Option<String>,
    /// Seconds --from-command may run before it is stopped
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub command_timeout: u64,
    /// Show what would change (tokens masked) and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask before binding a keyring item to the new servers
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Total time for the API calls (whoami and the cluster list)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = verify_timeout)]
    pub verify_timeout: std::time::Duration,
    /// Seconds to wait for another writer's <file>.lock to go away
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub lock_timeout: u64,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ImportStore {
    /// `token: CW-SECRET-…` in the user entry
    #[default]
    Inline,
    /// the OS keyring, read by this plugin's exec entry
    Keyring,
}

#[derive(Debug, Args, Clone)]
pub struct ImportArgs {
    /// The downloaded kubeconfig (`-` for standard input)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Name for the new cluster and context (default: <cluster>-<org> from the API host)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Switch current-context to the imported context (default: only when none is set)
    #[arg(long)]
    pub set_current: bool,
    /// Namespace for the imported context (default: the downloaded one)
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Show what would change (tokens masked) and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// When a context already reaches the same server with another token, rotate every
    /// entry holding that token to the imported one (as token rotate does)
    #[arg(long)]
    pub replace_token: bool,
    /// Prove the imported token with CoreWeave's whoami before writing (api), or not (none)
    #[arg(long, value_enum, default_value_t = Verify::Api, value_name = "HOW")]
    pub verify: Verify,
    /// Total time for the token checks (whoami; with --replace-token, rotate's checks too)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = verify_timeout)]
    pub verify_timeout: std::time::Duration,
    /// Where the imported token is kept: inline in the kubeconfig, as the Console wrote it,
    /// or in the OS keyring with an exec entry running `kubectl-coreweave token credential`
    /// (as `token store` leaves it; the token never touches the file)
    #[arg(long, value_enum, default_value_t = ImportStore::Inline, value_name = "WHERE")]
    pub store: ImportStore,
    /// With --store keyring: write the exec entry's command as the bare name
    /// `kubectl-coreweave` (found on kubectl's PATH) instead of the plugin's absolute path
    #[arg(long)]
    pub bare_command: bool,
    /// With --replace-token: rotate even entries that are not CoreWeave credentials (a
    /// server outside coreweave.com), or whose old token belongs to another principal or org
    #[arg(long, requires = "replace_token")]
    pub force: bool,
    /// Seconds to wait for another writer's <file>.lock to go away
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub lock_timeout: u64,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args, Clone, Default)]
#[command(group = clap::ArgGroup::new("source").multiple(false))]
pub struct RotateArgs {
    /// Read the new token from the first line of standard input
    #[arg(long, group = "source")]
    pub from_stdin: bool,
    /// Read the new token from a file
    #[arg(long, group = "source", value_name = "PATH")]
    pub from_file: Option<PathBuf>,
    /// Take the new token from a kubeconfig downloaded from the Console
    #[arg(long, group = "source", value_name = "PATH")]
    pub from_kubeconfig: Option<PathBuf>,
    /// Run CMD with `sh -c` and take the first line of its output (a secret store)
    #[arg(long, group = "source", value_name = "CMD")]
    pub from_command: Option<String>,
    /// Seconds --from-command may run before it is stopped
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub command_timeout: u64,
    /// Change only the active user entry, not every entry holding the same token
    #[arg(long)]
    pub only_current: bool,
    /// Show what would change (tokens masked) and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Keep each changed file's original as <file>.bak-<UTC time> (mode 0600)
    #[arg(long)]
    pub backup: bool,
    /// Seconds to wait for another writer's <file>.lock to go away
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub lock_timeout: u64,
    /// Accept a token without the CW-SECRET- prefix; skip the confirmation prompt
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation before writing
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Prove the new token before writing: api (CoreWeave accepts it, and it belongs to the
    /// same principal and org as the old one unless --force), cluster (also every context
    /// that will use it accepts it: a SelfSubjectReview, as `kubectl auth whoami`), none
    #[arg(long, value_enum, default_value_t = Verify::Api, value_name = "HOW")]
    pub verify: Verify,
    /// Total time for all of --verify's checks together (CoreWeave's whoami for both
    /// tokens, every cluster), whatever the request timeout and retries add up to
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = verify_timeout)]
    pub verify_timeout: std::time::Duration,
    /// When the new token expires, as chosen in the Console: an RFC 3339 time or a duration
    /// from now (1h, 8h, 30d, 90d, 365d); recorded on each rotated user entry as the
    /// `coreweave.com/token` extension, so `token show` can warn before it expires
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
    /// Mint the new token by CoreWeave's service-account OIDC exchange (alpha) instead of
    /// reading one; needs --service-account and --oidc-token-file
    #[arg(long, group = "source", requires_all = ["service_account", "oidc_token_file"])]
    pub mint: bool,
    /// The service account's UID (with --mint)
    #[arg(long, value_name = "UID", requires = "mint")]
    pub service_account: Option<String>,
    /// A file holding the OIDC token to exchange (with --mint), e.g. a projected
    /// service-account token
    #[arg(long, value_name = "PATH", requires = "mint")]
    pub oidc_token_file: Option<PathBuf>,
    /// Lifetime of the minted token (with --mint)
    #[arg(long, value_name = "DURATION", default_value = "1h", requires = "mint")]
    pub duration: String,
    /// API path of the OIDC exchange (CoreWeave marks it alpha; it may move)
    #[arg(long, value_name = "PATH", default_value = crate::coreweave::MINT_PATH)]
    pub mint_path: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ShowArgs {
    /// Print the whole token (alone, or inside -o json|yaml)
    #[arg(long)]
    pub raw: bool,
    /// Output format: json or yaml (default: a human summary)
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
    /// Ask the CoreWeave API whether it accepts the token (GET /v1beta1/auth/whoami); exit 1
    /// if it does not. With --raw, the token is printed only when accepted
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ListArgs {
    /// Output format: json or yaml (default: a table); the schema is in the README
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
    /// Ask the CoreWeave API about each distinct token once (GET /v1beta1/auth/whoami, a
    /// few at a time) and show whether it is accepted, with its principal and org
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

// Where and how the CoreWeave API is called, for the commands that call it (flattened into
// each, so every command's `args.api` has them). The environment variables are the ones
// CoreWeave's own tools (the Terraform provider) read. A plain comment, not a doc comment:
// clap would take a doc comment here as the about text of the commands it is flattened into.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "CoreWeave API")]
pub struct ApiArgs {
    /// CoreWeave API base URL [default: $COREWEAVE_API_ENDPOINT, else https://api.coreweave.com];
    /// https only, except http to loopback
    #[arg(long, value_name = "URL")]
    pub api_endpoint: Option<String>,
    /// Timeout of each CoreWeave API request, e.g. 10s, 1m30s, 500ms or seconds
    /// [default: $COREWEAVE_HTTP_TIMEOUT, else 10s]
    #[arg(long, value_name = "DURATION")]
    pub request_timeout: Option<String>,
}

/// `--verify-timeout`, checked when the command line is read, before a token is asked for.
fn verify_timeout(value: &str) -> Result<std::time::Duration, DurationFlagError> {
    crate::time::parse_go_duration(value)
        .map_err(|e| DurationFlagError::Unreadable(e, "30s, 2m or 1m30s"))
}

/// Why a duration flag's value is refused (clap prints it after the flag's name).
#[derive(Debug, thiserror::Error)]
pub enum DurationFlagError {
    /// Not a duration; the examples fit the flag.
    #[error("{0}; use a duration such as {1}")]
    Unreadable(crate::time::DurationError, &'static str),
    #[error("the wait lasts 1s to 10m (--no-wait for none)")]
    WaitRange,
    #[error("a key lasts whole seconds, 1s to 12h (--permanent for a key that never expires)")]
    KeyRange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Verify {
    /// CoreWeave's whoami accepts the new token
    #[default]
    Api,
    /// api, and every affected context's cluster accepts it
    Cluster,
    /// no check (offline)
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Json,
    Yaml,
}

/// A subcommand group whose subcommands clap builds only when the command line enters the
/// group ([`clap::Command::defer`]). The derive builds the whole tree on every run, and
/// that was most of the start-up of `version`, `token show` and `token credential` (which
/// kubectl runs before each of its commands). Groups only: a deferred leaf would take its
/// arguments after the global flags and reorder its help.
#[derive(Debug, Clone, Default)]
pub struct Deferred<T>(pub T);

/// Set by [`whole_command`]: a completion script describes every subcommand, the `help`
/// subcommand's tree included, which clap derives from the groups as they are when it builds.
static WHOLE_TREE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The command tree with every group built, for the completion scripts.
pub fn whole_command() -> clap::Command {
    WHOLE_TREE.store(true, std::sync::atomic::Ordering::Relaxed);
    <Cli as clap::CommandFactory>::command()
}

impl<T> std::ops::Deref for Deferred<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Deferred)
    }
    fn from_arg_matches_mut(matches: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(matches).map(Deferred)
    }
    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
    fn update_from_arg_matches_mut(
        &mut self,
        matches: &mut clap::ArgMatches,
    ) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(matches)
    }
}

impl<T: Subcommand> Subcommand for Deferred<T> {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        if WHOLE_TREE.load(std::sync::atomic::Ordering::Relaxed) {
            return T::augment_subcommands(cmd);
        }
        cmd.defer(T::augment_subcommands)
    }
    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(T::augment_subcommands_for_update)
    }
    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn kubeconfig_flags_have_their_heading_and_only_where_they_act() {
        let help = |path: &[&str]| {
            let mut cmd = Cli::command();
            cmd.build();
            let mut sub = &mut cmd;
            for p in path {
                sub = sub.find_subcommand_mut(p).expect("subcommand");
            }
            sub.render_help().to_string()
        };
        for path in [&[][..], &["token", "show"], &["token", "rotate"]] {
            let h = help(path);
            let at = h
                .find("Kubeconfig:")
                .unwrap_or_else(|| panic!("{path:?}: {h}"));
            for flag in ["--kubeconfig", "--context", "--user"] {
                let pos = h
                    .find(flag)
                    .unwrap_or_else(|| panic!("{path:?} {flag}: {h}"));
                assert!(pos > at, "{path:?}: {flag} not under its heading:\n{h}");
            }
        }
        for path in [&["version"][..], &["completion"]] {
            let h = help(path);
            for flag in ["--kubeconfig", "--context", "--user", "Kubeconfig:"] {
                assert!(!h.contains(flag), "{path:?} lists {flag}:\n{h}");
            }
        }
        // Accepted there all the same, as kubectl accepts them on `kubectl version`.
        for args in [
            &["kubectl-coreweave", "version", "--context", "c"][..],
            &["kubectl-coreweave", "--context", "c", "version"],
            &[
                "kubectl-coreweave",
                "completion",
                "bash",
                "--kubeconfig",
                "/k",
            ],
        ] {
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }

    #[test]
    fn global_flags_are_accepted_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "kubectl-coreweave",
            "token",
            "show",
            "--context",
            "c",
            "--kubeconfig",
            "/k",
            "--raw",
        ])
        .expect("parses");
        assert_eq!(cli.global.context.as_deref(), Some("c"));
        assert_eq!(cli.global.kubeconfig, Some(PathBuf::from("/k")));
    }

    /// A parse builds the group it enters and no other; building the whole tree (as help
    /// and the completion scripts do) still reaches every subcommand.
    #[test]
    fn groups_are_built_only_when_entered() {
        use clap::CommandFactory as _;
        let mut root = Cli::command();
        let token = root.find_subcommand("token").expect("token");
        assert_eq!(
            token.get_subcommands().count(),
            0,
            "built before it was entered"
        );
        let parsed = Cli::try_parse_from(["kubectl-coreweave", "token", "credential", "item"])
            .expect("parses");
        assert!(matches!(
            parsed.command,
            Command::Token {
                command: Deferred(TokenCommand::Credential { ref reference, .. })
            } if reference == "item"
        ));
        root.build();
        for group in ["token", "cluster", "kubeconfig", "objectstorage"] {
            let sub = root.find_subcommand(group).expect("group");
            assert!(
                sub.get_subcommands().count() > 0,
                "{group} not built by build()"
            );
        }
    }
}
