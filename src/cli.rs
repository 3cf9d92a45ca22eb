//! The command line: every flag, its help text and the examples `--help` shows.
//!
//! kubectl rejects its own flags placed before a plugin's name, so the plugin owns
//! `--kubeconfig`, `--context` and `--user`; they are global and may stand anywhere
//! after `kubectl coreweave`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    #[arg(long, global = true, value_name = "PATH",
          value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from))]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: current-context)
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The kubeconfig user to use (default: the context's user)
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show, list or rotate the CoreWeave tokens in your kubeconfig
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the plugin's version, git commit and target
    Version,
    /// Print a shell completion script for kubectl-coreweave
    #[command(after_help = "Examples:\n  \
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
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
}
