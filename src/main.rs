//! The `kubectl-coreweave` binary: parse, run, and turn errors into one line on stderr
//! and an exit code (0 success, 1 failure, 2 usage error from clap).

use std::process::ExitCode;

use clap::Parser;
use kubectl_coreweave::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse_from(args());
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

/// The command line, with `__complete` put first when the binary runs under the name of
/// kubectl's completion companion (`kubectl_complete-coreweave`, a link to this binary).
fn args() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .map(std::path::Path::new)
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .unwrap_or("");
    if invoked_as == "kubectl_complete-coreweave" {
        args.insert(1, "__complete".into());
    }
    args
}
