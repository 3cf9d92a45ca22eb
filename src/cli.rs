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
    #[arg(long, global = true, value_name = "PATH")]
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
    /// Show or rotate the token of the active kubeconfig user
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Show the active user's token (masked), where it is stored and who shares it
    #[command(after_help = "Examples:\n  \
        kubectl coreweave token show\n  \
        kubectl coreweave token show --context my-cluster -o json\n  \
        export COREWEAVE_API_TOKEN=\"$(kubectl coreweave token show --raw)\"\n\n\
        The token is masked (CW-SECRET-…1a2b) unless --raw is given. With --raw alone,\n\
        stdout is the token and a newline, nothing else.")]
    Show(ShowArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct ShowArgs {
    /// Print the whole token (alone, or inside -o json|yaml)
    #[arg(long)]
    pub raw: bool,
    /// Output format: json or yaml (default: a human summary)
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
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
