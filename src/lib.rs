//! kubectl-coreweave: show and rotate the CoreWeave API access token kept in kubeconfig.
//!
//! Two executables share this library (see `network.rs`): `kubectl-coreweave`
//! (`src/main.rs`) runs every command that stays on this machine and hands the others to
//! `coreweave-net` (`src/bin/coreweave-net.rs`), which links the network code. Both parse
//! the command line and call [`run`]; everything else is here so the benchmarks, the fuzz
//! targets and the tests reach the same code.

pub mod cli;
pub mod cluster;
pub mod complete;
pub mod coreweave;
#[doc(hidden)]
pub mod fuzzing;
pub mod kubeconfig;
pub mod network;
pub mod secret;
pub mod time;
pub mod token;

use std::io::Write;

use cli::{Cli, Command, TokenCommand};
use kubeconfig::resolve::Selection;
use kubeconfig::{config_paths, Kubeconfig};

/// How long `token show` waits for another writer's `<file>.lock` when a file does not load.
const SHOW_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// Run one parsed command line, writing its result to `out`. `net` is the table of network
/// calls, `None` in `kubectl-coreweave` (which never runs a command that needs it).
pub fn run(cli: Cli, net: Option<&network::Network>, out: &mut dyn Write) -> anyhow::Result<()> {
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
            // A second is plenty for kubectl to finish a write; a stale lock costs a broken
            // file's error that second.
            let kc = Kubeconfig::load_settled(&paths, explicit.is_some(), SHOW_PATIENCE)?;
            token::show::run(&kc, &selection, &args, net, out)
        }
        Command::Token {
            command: TokenCommand::Rotate(args),
        } => token::rotate::run(&paths, explicit.is_some(), &selection, &args, net, out),
    }
}

/// The exit status for a command's result (its own status, or 1 for an error, which is
/// printed as one line on stderr).
pub fn exit_status(result: anyhow::Result<u8>) -> u8 {
    match result {
        Ok(status) => status,
        Err(e) => {
            // `{:#}` prints the cause chain on one line: "cannot read kubeconfig x: Permission denied".
            eprintln!("error: {e:#}");
            1
        }
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
