//! The line between the plugin's two executables.
//!
//! `kubectl-coreweave` links no HTTP client, TLS or async runtime, so `token show --raw`
//! starts about as fast as a Rust hello world (a shell prompt or a script loop calls it
//! often). A command that talks to CoreWeave or to a cluster (`token show --check`, `token
//! rotate` unless `--verify none`) is handed, arguments unchanged, to `coreweave-net`, the
//! executable installed beside it. That one runs the same library with [`ONLINE`], the
//! table of network calls; `kubectl-coreweave` never names the table, so the linker leaves
//! all of it (reqwest, rustls, kube, tokio) out.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cli::{Cli, Command, RotateArgs, TokenCommand, Verify};
use crate::coreweave::{ApiConfig, ApiError, Minted, Principal};
use crate::secret::Token;
use crate::token::verify::Proof;

/// The executable that holds the network code, installed in the same folder as
/// `kubectl-coreweave` (krew's store folder, `~/.cargo/bin`, the archive). Its name does not
/// start with `kubectl-`, so kubectl does not list it as a plugin of its own.
pub const NETWORK_BINARY: &str = "coreweave-net";

/// The network calls the commands make, as plain function pointers: the executable that
/// passes them is the one that links them.
#[derive(Clone, Copy)]
pub struct Network {
    /// `GET /v1beta1/auth/whoami`.
    pub whoami: fn(&ApiConfig, &Token) -> Result<Principal, ApiError>,
    /// `token rotate --mint`: the service-account OIDC exchange.
    pub mint: fn(&RotateArgs) -> anyhow::Result<Minted>,
    /// `token rotate --verify api|cluster`: prove the new token before anything is written.
    pub prove: fn(&crate::token::verify::Request<'_>) -> anyhow::Result<Proof>,
}

/// The real calls, for `coreweave-net`.
pub const ONLINE: Network = Network {
    whoami: crate::coreweave::whoami,
    mint: crate::token::rotate::mint,
    prove: crate::token::verify::prove,
};

/// Whether the command line needs [`Network`], i.e. must run in `coreweave-net`.
pub fn needed_by(cli: &Cli) -> bool {
    match &cli.command {
        Command::Token {
            command: TokenCommand::Show(a),
        } => a.check,
        Command::Token {
            command: TokenCommand::Rotate(a),
        } => a.mint || a.verify != Verify::None,
        _ => false,
    }
}

/// For a command that reached an executable without the network calls; `main.rs` routes
/// such commands to `coreweave-net`, so this is a bug, not a user error.
pub fn missing() -> anyhow::Error {
    anyhow::anyhow!("internal error: this command needs {NETWORK_BINARY}, but ran without it")
}

/// Where `coreweave-net` is: beside the running executable, symlinks resolved (krew links
/// `kubectl-coreweave` from its bin folder into the version's store folder).
pub fn binary_path() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find the running executable: {e}"))?;
    let me = std::fs::canonicalize(&me).unwrap_or(me);
    let dir = me.parent().ok_or_else(|| {
        anyhow::anyhow!(
            "cannot find the folder of the running executable {}",
            me.display()
        )
    })?;
    Ok(dir.join(format!("{NETWORK_BINARY}{}", std::env::consts::EXE_SUFFIX)))
}

/// Run `args` (the whole command line, `args[0]` included) in `coreweave-net`. On Unix the
/// process becomes `coreweave-net` (same pid, signals, stdin and terminal), so this returns
/// only on failure; elsewhere it waits for the child and returns its exit status.
pub fn hand_off(args: &[OsString]) -> anyhow::Result<u8> {
    let path = binary_path()?;
    if !path.is_file() {
        anyhow::bail!(
            "this command talks to the network, which {} does (it should be installed beside kubectl-coreweave, at {}); reinstall the plugin (from a checkout: cargo build --bins), or pass --verify none to rotate offline",
            NETWORK_BINARY,
            path.display()
        );
    }
    let mut cmd = std::process::Command::new(&path);
    cmd.args(args.iter().skip(1));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let e = cmd.exec();
        anyhow::bail!("cannot run {}: {e}", path.display())
    }
    #[cfg(not(unix))]
    {
        let status = cmd
            .status()
            .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", path.display()))?;
        Ok(status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn needs(args: &[&str]) -> bool {
        let cli =
            Cli::try_parse_from(std::iter::once("kubectl-coreweave").chain(args.iter().copied()))
                .expect("parses");
        needed_by(&cli)
    }

    #[test]
    fn only_commands_that_talk_to_the_network_are_handed_off() {
        assert!(!needs(&["token", "show"]));
        assert!(!needs(&["token", "show", "--raw", "-o", "json"]));
        assert!(needs(&["token", "show", "--check"]));
        assert!(needs(&["token", "rotate", "--from-stdin"]));
        assert!(needs(&[
            "token",
            "rotate",
            "--from-stdin",
            "--verify",
            "cluster"
        ]));
        assert!(!needs(&[
            "token",
            "rotate",
            "--from-stdin",
            "--verify",
            "none"
        ]));
        assert!(needs(&[
            "token",
            "rotate",
            "--verify",
            "none",
            "--mint",
            "--service-account",
            "u",
            "--oidc-token-file",
            "/f"
        ]));
        assert!(!needs(&["version"]));
        assert!(!needs(&["completion", "bash"]));
        assert!(!needs(&["__complete", "token", ""]));
    }
}
