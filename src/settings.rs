//! The command line turned into the settings the commands run on, once, at the top (as
//! ripgrep turns its flags into `HiArgs`): `lib.rs` calls these, and nothing below it sees
//! clap's structs (`commands/options.rs` holds what they make). Each function only moves
//! values; what needs checking is checked where the command checks it, so an error keeps
//! its place in the command's order of work.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli;
use crate::commands::options::{
    AddOptions, ClusterListOptions, CredentialsOptions, ImportOptions, Interactive, Keep, KeyKind,
    KeyOutput, ListOptions, MintOptions, NewToken, OutputFormat, ProfileOptions, RotateOptions,
    S3Options, ShowOptions, StoreOptions, WhoamiOptions, WhoamiOutput,
};
use crate::commands::token::source::Source;
use crate::commands::token::verify::How;
use crate::coreweave::ApiSettings;
use crate::kubeconfig::KubeconfigSource;

/// The kubeconfig flags and the environment.
pub fn kubeconfig_source(g: &cli::GlobalArgs) -> KubeconfigSource {
    KubeconfigSource::new(
        g.kubeconfig.clone(),
        std::env::var_os("KUBECONFIG"),
        Some(crate::kubeconfig::home_dir()),
    )
}

/// `--api-endpoint` and `--request-timeout`.
pub fn api(args: &cli::ApiArgs) -> ApiSettings {
    ApiSettings {
        endpoint: args.api_endpoint.clone(),
        request_timeout: args.request_timeout.clone(),
    }
}

fn how(verify: cli::Verify) -> How {
    match verify {
        cli::Verify::Api => How::Api,
        cli::Verify::Cluster => How::Cluster,
        cli::Verify::None => How::None,
    }
}

fn format(output: Option<cli::OutputFormat>) -> Option<OutputFormat> {
    output.map(|o| match o {
        cli::OutputFormat::Json => OutputFormat::Json,
        cli::OutputFormat::Yaml => OutputFormat::Yaml,
    })
}

fn keep(store: cli::ImportStore) -> Keep {
    match store {
        cli::ImportStore::Inline => Keep::Inline,
        cli::ImportStore::Keyring => Keep::Keyring,
    }
}

fn key_kind(kind: cli::KeyKind) -> KeyKind {
    match kind {
        cli::KeyKind::ApiToken => KeyKind::ApiToken,
        cli::KeyKind::AccessKey => KeyKind::AccessKey,
    }
}

fn s3(args: &cli::S3Args) -> S3Options {
    S3Options {
        endpoint: args.endpoint.clone(),
        region: args.region.clone(),
    }
}

/// The `--from-…` flags of `token rotate` and `kubeconfig add` (clap lets at most one be
/// given).
fn source(
    stdin: bool,
    file: &Option<PathBuf>,
    kubeconfig: &Option<PathBuf>,
    command: &Option<String>,
    command_timeout: u64,
) -> Option<Source> {
    if stdin {
        Some(Source::Stdin)
    } else if let Some(p) = file {
        Some(Source::File(p.clone()))
    } else if let Some(p) = kubeconfig {
        Some(Source::Kubeconfig(p.clone()))
    } else {
        command.as_ref().map(|c| Source::Command {
            command: c.clone(),
            timeout: Duration::from_secs(command_timeout),
        })
    }
}

pub fn show(args: &cli::ShowArgs) -> ShowOptions {
    ShowOptions {
        raw: args.raw,
        output: format(args.output),
        check: args.check,
        api: api(&args.api),
    }
}

pub fn list(args: &cli::ListArgs) -> ListOptions {
    ListOptions {
        output: format(args.output),
        check: args.check,
        api: api(&args.api),
    }
}

pub fn rotate(args: &cli::RotateArgs) -> RotateOptions {
    let new_token = if args.mint {
        NewToken::Mint(MintOptions {
            service_account: args.service_account.clone(),
            oidc_token_file: args.oidc_token_file.clone(),
            duration: args.duration.clone(),
            path: args.mint_path.clone(),
        })
    } else {
        let given = source(
            args.from_stdin,
            &args.from_file,
            &args.from_kubeconfig,
            &args.from_command,
            args.command_timeout,
        );
        given.map_or(NewToken::Ask, NewToken::From)
    };
    RotateOptions {
        new_token,
        only_current: args.only_current,
        dry_run: args.dry_run,
        backup: args.backup,
        lock_timeout: Duration::from_secs(args.lock_timeout),
        force: args.force,
        yes: args.yes,
        verify: how(args.verify),
        verify_timeout: args.verify_timeout,
        expires: args.expires.clone(),
        api: api(&args.api),
    }
}

pub fn store(args: &cli::StoreArgs) -> StoreOptions {
    StoreOptions {
        all: args.all,
        dry_run: args.dry_run,
        item: args.item.clone(),
        interactive_mode: match args.interactive_mode {
            cli::Interactive::IfAvailable => Interactive::IfAvailable,
            cli::Interactive::Never => Interactive::Never,
        },
        lock_timeout: Duration::from_secs(args.lock_timeout),
        force: args.force,
        bare_command: args.bare_command,
        yes: args.yes,
        allow_clients_without_cluster_info: args.allow_clients_without_cluster_info,
        deny_clients_without_cluster_info: args.deny_clients_without_cluster_info,
    }
}

pub fn import(args: &cli::ImportArgs) -> ImportOptions {
    ImportOptions {
        file: args.file.clone(),
        name: args.name.clone(),
        set_current: args.set_current,
        namespace: args.namespace.clone(),
        dry_run: args.dry_run,
        replace_token: args.replace_token,
        verify: how(args.verify),
        verify_timeout: args.verify_timeout,
        store: keep(args.store),
        bare_command: args.bare_command,
        force: args.force,
        lock_timeout: Duration::from_secs(args.lock_timeout),
        api: api(&args.api),
    }
}

pub fn add(args: &cli::AddArgs) -> AddOptions {
    AddOptions {
        clusters: args.clusters.clone(),
        all: args.all,
        include_private: args.include_private,
        update: args.update,
        no_set_current: args.no_set_current,
        set_current: args.set_current.clone(),
        namespace: args.namespace.clone(),
        store: args.store.map(keep),
        bare_command: args.bare_command,
        source: source(
            args.from_stdin,
            &args.from_file,
            &args.from_kubeconfig,
            &args.from_command,
            args.command_timeout,
        ),
        dry_run: args.dry_run,
        yes: args.yes,
        verify_timeout: args.verify_timeout,
        lock_timeout: Duration::from_secs(args.lock_timeout),
        api: api(&args.api),
    }
}

pub fn cluster_list(args: &cli::ClusterListArgs) -> ClusterListOptions {
    ClusterListOptions {
        output: format(args.output),
        all_tokens: args.all_tokens,
        api: api(&args.api),
    }
}

pub fn credentials(args: &cli::ObjectCredentialsArgs) -> CredentialsOptions {
    CredentialsOptions {
        key_kind: args.key_kind.map(key_kind),
        duration: args.duration,
        permanent: args.permanent,
        no_wait: args.no_wait,
        wait_timeout: args.wait_timeout,
        output: match args.output {
            cli::KeyOutput::Json => KeyOutput::Json,
            cli::KeyOutput::Env => KeyOutput::Env,
            cli::KeyOutput::EnvNoExport => KeyOutput::EnvNoExport,
        },
        s3: s3(&args.s3),
        api: api(&args.api),
    }
}

pub fn profile(args: &cli::ObjectProfileArgs) -> ProfileOptions {
    ProfileOptions {
        name: args.name.clone(),
        write: args.write,
        key_kind: args.key_kind.map(key_kind),
        duration: args.duration,
        no_wait: args.no_wait,
        s3: s3(&args.s3),
        lock_timeout: Duration::from_secs(args.lock_timeout),
        bare_command: args.bare_command,
    }
}

pub fn whoami(args: &cli::ObjectWhoamiArgs) -> WhoamiOptions {
    WhoamiOptions {
        output: match args.output {
            cli::WhoamiOutput::Text => WhoamiOutput::Text,
            cli::WhoamiOutput::Json => WhoamiOutput::Json,
        },
        api: api(&args.api),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn rotate_of(args: &[&str]) -> RotateOptions {
        let mut line = vec!["kubectl-coreweave", "token", "rotate"];
        line.extend_from_slice(args);
        match cli::Cli::try_parse_from(line).expect("parses").command {
            cli::Command::Token {
                command: cli::Deferred(cli::TokenCommand::Rotate(args)),
            } => rotate(&args),
            _ => unreachable!("a rotate command line"),
        }
    }

    #[test]
    fn rotate_flags_name_where_the_token_comes_from() {
        let o = rotate_of(&[
            "--from-file",
            "/t",
            "--lock-timeout",
            "7",
            "--verify",
            "none",
        ]);
        assert!(
            matches!(&o.new_token, NewToken::From(Source::File(p)) if p == &PathBuf::from("/t"))
        );
        assert_eq!(o.lock_timeout, Duration::from_secs(7));
        assert_eq!(o.verify, How::None);
        assert!(!o.records_expiry());
        assert!(matches!(rotate_of(&[]).new_token, NewToken::Ask));
        let minted = rotate_of(&[
            "--mint",
            "--service-account",
            "sa",
            "--oidc-token-file",
            "/o",
        ]);
        assert!(
            matches!(&minted.new_token, NewToken::Mint(m) if m.service_account.as_deref() == Some("sa"))
        );
        assert!(minted.records_expiry());
        let timed = rotate_of(&["--from-command", "pass x", "--command-timeout", "3"]);
        assert!(matches!(
            &timed.new_token,
            NewToken::From(Source::Command { timeout, .. }) if *timeout == Duration::from_secs(3)
        ));
    }

    #[test]
    fn api_flags_are_kept_as_given_until_a_call_resolves_them() {
        let o = rotate_of(&[
            "--api-endpoint",
            "http://127.0.0.1:1",
            "--request-timeout",
            "x",
        ]);
        assert_eq!(o.api.endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(o.api.request_timeout.as_deref(), Some("x"));
        assert!(
            o.api.resolve().is_err(),
            "a bad timeout fails when resolved"
        );
    }
}
