//! kubectl-coreweave: show and rotate the CoreWeave API access token kept in kubeconfig.
//!
//! `main.rs` parses the command line and calls [`run`]; everything else is here so the
//! benchmarks, the fuzz targets and the tests reach the same code.

pub mod cli;
pub mod cluster;
pub mod complete;
pub mod coreweave;
#[doc(hidden)]
pub mod fuzzing;
pub mod kubeconfig;
pub mod secret;
pub mod time;
pub mod token;

use std::io::Write;

use cli::{Cli, Command, TokenCommand};
use kubeconfig::resolve::Selection;
use kubeconfig::{config_paths, Kubeconfig};

/// Run one parsed command line, writing its result to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    let g = &cli.global;
    let explicit = g
        .kubeconfig
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty());
    let selection = Selection {
        context: g.context.clone(),
        user: g.user.clone(),
    };
    let paths = config_paths(explicit, std::env::var_os("KUBECONFIG"), dirs::home_dir());
    match cli.command {
        Command::Version => {
            writeln!(out, "{}", version_line())?;
            Ok(())
        }
        Command::Completion { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "kubectl-coreweave", out);
            Ok(())
        }
        Command::Complete { words } => Ok(complete::run(&words, out)?),
        Command::Token {
            command: TokenCommand::Show(args),
        } => {
            let kc = Kubeconfig::load(&paths, explicit.is_some())?;
            token::show::run(&kc, &selection, &args, out)
        }
        Command::Token {
            command: TokenCommand::Rotate(args),
        } => token::rotate::run(&paths, explicit.is_some(), &selection, &args, out),
    }
}

/// `kubectl-coreweave v0.1.0 (commit 1a2b3c4d5e6f, x86_64-unknown-linux-gnu)`
pub fn version_line() -> String {
    format!(
        "kubectl-coreweave v{} (commit {}, {})",
        env!("CARGO_PKG_VERSION"),
        env!("KUBECTL_COREWEAVE_COMMIT"),
        env!("KUBECTL_COREWEAVE_TARGET")
    )
}
