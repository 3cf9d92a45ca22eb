//! The `kubectl-coreweave` binary: parse, run, and turn errors into one line on stderr
//! and an exit code (0 success, 1 failure, 2 usage error from clap).

use std::process::ExitCode;

use clap::Parser;
use kubectl_coreweave::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match kubectl_coreweave::run(cli, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the cause chain on one line: "cannot read kubeconfig x: Permission denied".
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
