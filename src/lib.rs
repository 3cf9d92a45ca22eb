//! kubectl-coreweave: show and rotate the CoreWeave API access token kept in kubeconfig.
//!
//! `src/main.rs` parses the command line and calls [`run`]; everything else is here so the
//! benchmarks, the fuzz targets and the tests reach the same code. The network code
//! (`coreweave`, `cluster`) is linked in but only runs when a command talks to CoreWeave or
//! to a cluster: nothing builds a runtime or a TLS configuration before that.

// Unit tests write their fixtures directly; production code writes only through
// kubeconfig::write (clippy.toml).
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod complete;
pub mod coreweave;
#[doc(hidden)]
pub mod fuzzing;
pub mod io;
pub mod keystore;
pub mod kubeconfig;
pub mod net;
pub mod safe_program;
pub mod secret;
pub mod settings;
pub mod stdout;
pub mod time;
pub mod transaction;

use std::io::Write;

use cli::{
    Cli, ClusterCommand, Command, Deferred, KubeconfigCommand, ObjectstorageCommand, TokenCommand,
};
use commands::{kubeconfig::import, objectstorage, token};
use kubeconfig::resolve::Selection;

/// How long `token show` waits for another writer's `<file>.lock` when a file does not load.
const SHOW_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// Run one parsed command line, writing its result to `out`: the flags become settings
/// here (`settings.rs`), and each command runs on those.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    let source = settings::kubeconfig_source(&cli.global);
    let selection = Selection {
        context: cli.global.context.clone(),
        user: cli.global.user.clone(),
    };
    // The commands that only read take the files as they settle (a second is plenty for
    // kubectl to finish a write; a stale lock costs a broken file's error that second);
    // the ones that write load them themselves, with their own lock timeout.
    let load = || source.load_settled(SHOW_PATIENCE);
    match cli.command {
        Command::Version => {
            writeln!(out, "{}", version_line())?;
            Ok(())
        }
        Command::Completion { shell } => {
            let mut cmd = cli::whole_command();
            // clap_complete panics when its writer fails: the script (a few kB) is built
            // in memory and written like any other output (EPIPE quiet, others one line).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "kubectl-coreweave", &mut script);
            out.write_all(&script)?;
            Ok(())
        }
        Command::Complete { words } => Ok(complete::run(&words, out)?),
        Command::Cluster {
            command: Deferred(ClusterCommand::List(args)),
        } => {
            commands::cluster::list::run(&load()?, &selection, &settings::cluster_list(&args), out)
        }
        Command::Kubeconfig {
            command: Deferred(KubeconfigCommand::Import(args)),
        } => import::run(&source, &settings::import(&args), out),
        Command::Kubeconfig {
            command: Deferred(KubeconfigCommand::Add(args)),
        } => commands::kubeconfig::add::run(&source, &selection, &settings::add(&args), out),
        Command::Objectstorage {
            command: Deferred(ObjectstorageCommand::Credentials(args)),
        } => objectstorage::credentials::run(
            &load()?,
            &selection,
            &settings::credentials(&args),
            out,
        ),
        Command::Objectstorage {
            command: Deferred(ObjectstorageCommand::Profile(args)),
        } => {
            let options = settings::profile(&args);
            // The region comes from the context's server unless --region gives it.
            let server = match options.s3.region {
                Some(_) => None,
                None => load()?.resolve(&selection)?.server,
            };
            let kubeconfig = source.explicit.as_deref();
            objectstorage::profile::run(kubeconfig, &selection, &options, server.as_deref(), out)
        }
        Command::Objectstorage {
            command: Deferred(ObjectstorageCommand::Whoami(args)),
        } => objectstorage::whoami::run(&load()?, &selection, &settings::whoami(&args), out),
        Command::Token {
            command: Deferred(TokenCommand::Show(args)),
        } => token::show::run(&load()?, &selection, &settings::show(&args), out),
        Command::Token {
            command: Deferred(TokenCommand::List(args)),
        } => token::list::run(&load()?, &selection, &settings::list(&args), out),
        Command::Token {
            command: Deferred(TokenCommand::Rotate(args)),
        } => token::rotate::run(&source, &selection, &settings::rotate(&args), out),
        // kubectl runs this before every request: no kubeconfig is read.
        Command::Token {
            command: Deferred(TokenCommand::Credential { reference, .. }),
        } => token::credential::run(&reference, out),
        Command::Token {
            command: Deferred(TokenCommand::Store(args)),
        } => token::store::store(&source, &selection, &settings::store(&args), out),
        Command::Token {
            command: Deferred(TokenCommand::Unstore(args)),
        } => token::store::unstore(&source, &selection, &settings::store(&args), out),
    }
}

/// The exit status for a command's result (its own status, or 1 for an error, which is
/// printed as one line on stderr; an error that carries its own status, such as
/// `token list --check`'s, ends with that one).
pub fn exit_status(result: anyhow::Result<u8>) -> u8 {
    match result {
        Ok(status) => status,
        Err(e) if interrupted_at_prompt(&e) => {
            eprintln!("error: {e:#}");
            130
        }
        Err(e) => {
            // `{:#}` prints the cause chain on one line: "cannot read kubeconfig x: Permission denied".
            // Each layer masks what it quotes; this last pass through the one masking
            // function also catches a token or a control character in text a layer took
            // from elsewhere (an OS error, a parser, a server).
            let text = io::without_os_error_codes(&format!("{e:#}"));
            eprintln!("error: {}", secret::shown(&text));
            e.downcast_ref::<token::list::CheckFailed>()
                .map_or(1, |f| f.status)
        }
    }
}

/// Ctrl-C at a prompt: 130, the status a shell gives a program that Ctrl-C stopped.
fn interrupted_at_prompt(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<token::source::SourceError>(),
            Some(token::source::SourceError::Interrupted)
        )
    })
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
