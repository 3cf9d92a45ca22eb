//! `coreweave-net`: the same commands as `kubectl-coreweave`, with the network calls linked
//! in. `kubectl-coreweave` hands it the commands that talk to CoreWeave or to a cluster,
//! arguments unchanged (see `network.rs`); it also works when run by hand.

use std::process::ExitCode;

use clap::Parser;
use kubectl_coreweave::cli::Cli;
use kubectl_coreweave::network::ONLINE;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = kubectl_coreweave::run(cli, Some(&ONLINE), &mut out).map(|()| 0);
    ExitCode::from(kubectl_coreweave::exit_status(result))
}
