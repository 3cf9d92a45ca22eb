//! `kubectl-coreweave`: parse, then run here or hand the command to `coreweave-net` (the
//! network half, see `network.rs`), and turn errors into one line on stderr and an exit
//! code (0 success, 1 failure, 2 usage error from clap).
//!
//! `token show --raw` sits in shell prompts and script loops, and most of its time is
//! process start-up. So this binary starts at C's `main`, without Rust's runtime start-up,
//! which reads /proc/self/maps to place a stack-overflow guard: about a fifth of the
//! instructions of the whole command. What that start-up also did is done here or not
//! needed: the exit goes through `std::process::exit`, which flushes stdout; SIGPIPE keeps
//! its default, so `token show --raw | head -c0` ends quietly as kubectl does; a stack
//! overflow is a plain SIGSEGV instead of a message (the parsers bound their depth).
#![no_main]

use std::ffi::{c_char, c_int};

use kubectl_coreweave::cli::Cli;
use kubectl_coreweave::network;

#[no_mangle]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // std reads the arguments itself (args_os), as it does for a Rust `main`.
    let args = args();
    let cli = Cli::parse_args(&args);
    let result = if network::needed_by(&cli) {
        network::hand_off(&args)
    } else {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        kubectl_coreweave::run(cli, None, &mut out).map(|()| 0)
    };
    std::process::exit(kubectl_coreweave::exit_status(result).into())
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
