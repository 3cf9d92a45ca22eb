//! `kubectl-coreweave`: parse the command line with clap, run it, and turn the outcome into
//! an exit status: 0 success, 1 failure (one `error: …` line on stderr), 2 usage error
//! (clap's message). Writing to stdout is watched by [`Stdout`]: a reader that went away
//! (EPIPE, `| head -c0`) ends the program quietly, as kubectl does; any other write error
//! (`/dev/full`) is one error line and status 1, after the command did its work.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use kubectl_coreweave::cli::Cli;
use kubectl_coreweave::stdout::{Stdout, WriteFailure};

fn main() -> ExitCode {
    let cli = Cli::parse_from(args());
    let mut out = Stdout::open();
    let result = kubectl_coreweave::run(cli, &mut out);
    out.finish();
    // The command's own failure comes first; a report that could not be shown only
    // matters when the command itself succeeded (its work is done and stays done).
    match (result, out.failure()) {
        (Ok(()), Some(failure)) => report(failure),
        (result, _) => ExitCode::from(kubectl_coreweave::exit_status(result.map(|()| 0))),
    }
}

fn report(failure: &WriteFailure) -> ExitCode {
    match failure {
        // The shell reports a program that SIGPIPE ended as 128 + 13; kubectl (Go) dies of
        // the signal itself. Either way: no message, the reader asked for no more.
        WriteFailure::ReaderGone => ExitCode::from(141),
        WriteFailure::Other(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line, with `__complete` put first when the binary runs under the name of
/// kubectl's completion companion (`kubectl_complete-coreweave`, a link to this binary).
fn args() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
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
