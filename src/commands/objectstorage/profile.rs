//! `kubectl coreweave objectstorage profile [NAME] [--write]`: the AWS config profile that
//! gets its keys from `objectstorage credentials`, printed, or with `--write` added to the
//! AWS config file (`aws_config.rs`'s plan under `<file>.lock`, replaced atomically).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use super::aws_config::{plan_add, Plan, MAX_AWS_CONFIG};
use super::settings::{self, LOTA_ENDPOINT, S3_ENDPOINT};
use crate::commands::options::{KeyKind, ProfileOptions};
use crate::kubeconfig::resolve::Selection;
use crate::kubeconfig::write;
use crate::secret::shown_path;

/// Where the AWS CLI reads its config from when `AWS_CONFIG_FILE` is unset.
pub const CONFIG_ENV: &str = "AWS_CONFIG_FILE";

/// `server`: the context's cluster server, which names the zone (unless `--region` does).
///
/// The section it prints or adds:
///
/// ```ini
/// [profile coreweave]
/// credential_process = /home/me/.krew/bin/kubectl-coreweave objectstorage credentials --region us-east-04a
/// region = us-east-04a
/// endpoint_url = https://cwobject.com
/// s3 =
///   addressing_style = virtual
/// ```
///
/// The command names the plugin by its absolute path (the AWS CLI runs it without a shell
/// and with its own PATH), refused where others could replace it (`safe_program.rs`;
/// `--bare-command` writes the bare name), and carries the `--kubeconfig`, `--context`,
/// `--user`, `--key-kind`, `--duration`, `--no-wait` and `--endpoint` given here, each as
/// `--flag=value` (a value that starts with `-` stays a value); without them the profile
/// follows the current context of the kubeconfig the AWS CLI's environment points at. The
/// region (`settings.rs`: the context's zone, else `--region`) is written both as the
/// profile's `region` and as the command's `--region`, so the new key's check is signed for
/// the region the AWS CLI then signs for. Words are quoted for botocore's split (shlex on
/// POSIX, the Windows rules on Windows). `--write` keeps the file's owner and mode; a new
/// file is 0600 in a 0700 folder.
pub fn run(
    kubeconfig: Option<&Path>,
    sel: &Selection,
    args: &ProfileOptions,
    server: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    check_profile_name(&args.name)?;
    if args.duration.is_some() && args.key_kind != Some(KeyKind::AccessKey) {
        bail!("--duration is for keys made with POST /v1/cwobject/access-key; add --key-kind access-key");
    }
    let env = |k: &str| std::env::var(k).ok();
    let endpoint = settings::endpoint(args.s3.endpoint.as_deref(), &env)?;
    let Some((region, _)) = settings::region(args.s3.region.as_deref(), server, &env)? else {
        bail!(
            "cannot tell the availability zone for the profile's region: the context's server \
             {} is not a CKS endpoint (https://<org>-<hash>.k8s.<zone>.coreweave.com); give \
             --region ZONE (e.g. us-east-04a)",
            server.map_or_else(|| "(none)".to_string(), crate::secret::quoted)
        );
    };
    let command = credential_process(kubeconfig, sel, args, &endpoint, &region)?;
    let section = section(&args.name, &command, &region, &endpoint);
    // Static keys in the credentials file win over credential_process in botocore: the
    // profile would silently use them.
    if let Some((file, lines)) = shadowing_credentials(&args.name)? {
        let what = format!(
            "{file} has a profile {:?} too (line {lines}); the AWS CLI uses its keys instead of credential_process",
            args.name
        );
        if args.write {
            bail!("{what}; remove it there or choose another name; nothing was changed");
        }
        eprintln!("warning: {what}");
    }
    if !args.write {
        out.write_all(section.as_bytes())?;
        return Ok(());
    }
    let path = config_path()?;
    let shown = shown_path(&path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            create_private_dir(dir)
                .with_context(|| format!("cannot create {}", shown_path(dir)))?;
        }
    }
    write::check_writable(&path)?;
    let lock = write::lock(&path, args.lock_timeout)?;
    // Read and planned under the lock, from what is really there.
    let result = (|| -> anyhow::Result<bool> {
        let original = read_bounded(&path)?;
        match plan_add(original.as_deref(), &args.name, &section)
            .with_context(|| format!("not adding profile {:?} to {shown}", args.name))?
        {
            Plan::Present => Ok(false),
            Plan::Write(bytes) => {
                write::write_atomic(&path, &bytes)?;
                Ok(true)
            }
        }
    })();
    lock.release()?;
    if result? {
        writeln!(out, "profile {} added to {shown}", args.name)?;
    } else {
        writeln!(
            out,
            "profile {} is already in {shown}; nothing changed",
            args.name
        )?;
    }
    Ok(())
}

/// `[profile NAME]` (`[default]` for the default profile) and its settings, `\n` ended.
pub fn section(name: &str, command: &str, region: &str, endpoint: &str) -> String {
    let header = if name == "default" {
        "[default]".to_string()
    } else {
        format!("[profile {name}]")
    };
    format!(
        "{header}\ncredential_process = {command}\nregion = {region}\nendpoint_url = {endpoint}\ns3 =\n  addressing_style = virtual\n"
    )
}

/// Profile names botocore reads back the same from `[profile NAME]`: letters, digits and
/// `- _ . @ +`, at most 64.
fn check_profile_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@+".contains(c));
    if !ok {
        bail!(
            "profile name {} is not usable: use 1 to 64 letters, digits and - _ . @ +",
            crate::secret::quoted(name)
        );
    }
    Ok(())
}

/// The `credential_process` value: the plugin (its absolute path, checked as the exec
/// entry's is, or its bare name) and the flags to pass on. Each flag is written as
/// `--flag=value`, so a value that starts with `-` (a context named `-o`) stays a value.
fn credential_process(
    kubeconfig: Option<&Path>,
    sel: &Selection,
    args: &ProfileOptions,
    endpoint: &str,
    region: &str,
) -> anyhow::Result<String> {
    // The path rule of the exec entries: krew's `bin/` link or cargo's bin folder, the
    // path that survives upgrades, not the versioned file it resolves to.
    let exe = crate::kubeconfig::edit::exec_command(args.bare_command)?;
    let mut words = vec![text_of(Path::new(&exe), "the plugin's path")?];
    words.push("objectstorage".into());
    words.push("credentials".into());
    if let Some(k) = kubeconfig {
        let abs = std::path::absolute(k)
            .with_context(|| format!("cannot make {} absolute", shown_path(k)))?;
        words.push(format!("--kubeconfig={}", text_of(&abs, "--kubeconfig")?));
    }
    for (flag, value) in [("--context", &sel.context), ("--user", &sel.user)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            if v.chars().any(char::is_control) {
                bail!(
                    "{flag} {} holds a control character; a profile line cannot carry it",
                    crate::secret::quoted(v)
                );
            }
            words.push(format!("{flag}={v}"));
        }
    }
    if args.key_kind == Some(KeyKind::AccessKey) {
        words.push("--key-kind=access-key".into());
    }
    if let Some(d) = args.duration {
        words.push(format!("--duration={}", crate::time::format_duration(d)));
    }
    if args.no_wait {
        words.push("--no-wait".into());
    }
    match endpoint {
        S3_ENDPOINT => {}
        LOTA_ENDPOINT => words.push("--endpoint=lota".into()),
        url => words.push(format!("--endpoint={url}")),
    }
    words.push(format!("--region={region}"));
    Ok(words
        .iter()
        .map(|w| quote_word(w))
        .collect::<Vec<_>>()
        .join(" "))
}

fn text_of(p: &Path, what: &str) -> anyhow::Result<String> {
    match p.to_str() {
        Some(s) if !s.chars().any(char::is_control) => Ok(s.to_string()),
        _ => bail!(
            "{what} {} is not plain UTF-8 text; an AWS config line cannot name it",
            shown_path(p)
        ),
    }
}

/// One word of the command as botocore splits it: shlex on POSIX, the Windows command-line
/// rules on Windows.
fn quote_word(w: &str) -> String {
    if cfg!(windows) {
        if !w.is_empty() && !w.contains([' ', '\t', '"']) {
            return w.to_string();
        }
        let mut out = String::from("\"");
        let mut backslashes = 0;
        for c in w.chars() {
            match c {
                '\\' => backslashes += 1,
                '"' => {
                    out.push_str(&"\\".repeat(backslashes * 2 + 1));
                    out.push('"');
                    backslashes = 0;
                }
                c => {
                    out.push_str(&"\\".repeat(backslashes));
                    out.push(c);
                    backslashes = 0;
                }
            }
        }
        out.push_str(&"\\".repeat(backslashes * 2));
        out.push('"');
        out
    } else {
        super::credentials::sh_quote(w)
    }
}

/// `AWS_CONFIG_FILE` (a leading `~/` is the home folder, as botocore expands it), else
/// `~/.aws/config`.
pub fn config_path() -> anyhow::Result<PathBuf> {
    Ok(env_path(CONFIG_ENV, &[".aws", "config"]))
}

/// Where botocore reads static keys: `AWS_SHARED_CREDENTIALS_FILE`, else
/// `~/.aws/credentials`.
pub const CREDENTIALS_ENV: &str = "AWS_SHARED_CREDENTIALS_FILE";

/// The credentials file and the lines of its sections that could name profile `name`.
fn shadowing_credentials(name: &str) -> anyhow::Result<Option<(String, String)>> {
    let path = env_path(CREDENTIALS_ENV, &[".aws", "credentials"]);
    // Only a regular file is opened (a FIFO would block the read).
    if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
        return Ok(None);
    }
    let Some(bytes) = read_bounded(&path)? else {
        return Ok(None);
    };
    let lines = super::aws_config::lines_naming(&bytes, name);
    if lines.is_empty() {
        return Ok(None);
    }
    let lines = lines.iter().map(ToString::to_string).collect::<Vec<_>>();
    Ok(Some((shown_path(&path), lines.join(", "))))
}

fn env_path(var: &str, default: &[&str]) -> PathBuf {
    let home = crate::kubeconfig::home_dir();
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(v) => {
            let p = PathBuf::from(&v);
            match p.strip_prefix("~") {
                Ok(rest) => home.join(rest),
                Err(_) => p,
            }
        }
        None => default.iter().fold(home, |p, part| p.join(part)),
    }
}

fn read_bounded(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => bail!(
            "cannot read {}: {}",
            shown_path(path),
            crate::io::io_message(&e)
        ),
    };
    let mut bytes = Vec::new();
    file.take(MAX_AWS_CONFIG + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", shown_path(path)))?;
    if bytes.len() as u64 > MAX_AWS_CONFIG {
        bail!(
            "{} is over {} bytes; not an AWS config file this command edits",
            shown_path(path),
            MAX_AWS_CONFIG
        );
    }
    Ok(Some(bytes))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_are_plain() {
        for ok in ["coreweave", "cw-prod_1.x@y+z", "default"] {
            assert!(check_profile_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a]", "[a", "a\nb", "a=b", "a;b", &"x".repeat(65)] {
            assert!(check_profile_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_default_profile_has_no_prefix() {
        assert!(section("default", "p", "z", "e").starts_with("[default]\n"));
        assert_eq!(
            section("cw", "p", "us-east-04a", "http://cwlota.com"),
            "[profile cw]\ncredential_process = p\nregion = us-east-04a\nendpoint_url = http://cwlota.com\ns3 =\n  addressing_style = virtual\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn words_are_quoted_for_shlex() {
        assert_eq!(
            quote_word("/usr/bin/kubectl-coreweave"),
            "/usr/bin/kubectl-coreweave"
        );
        assert_eq!(quote_word("/my dir/it's"), r"'/my dir/it'\''s'");
        assert_eq!(quote_word(""), "''");
    }
}
