//! Where a new token comes from (`--from-stdin`, `--from-file`, `--from-kubeconfig`,
//! `--from-command`, or a prompt on a terminal) and the checks every new token passes
//! before anything is written.
//!
//! There is no public API that creates CoreWeave user tokens: the Console makes them. So
//! every source here is a way of carrying a token the user already has into the plugin.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::commands::token::terminal::{self, Answer, Echo};
use crate::io::{read_capped, read_line_capped};
use crate::kubeconfig::resolve::{credential_of, Selection};
use crate::kubeconfig::token_file::MAX_TOKEN_BYTES;
use crate::kubeconfig::{KubeconfigError, KubeconfigSource};
use crate::secret::{Token, COREWEAVE_PREFIX, MIN_SECRET_CHARS, SECRET_ALPHABET};

/// Where the Console creates API access tokens.
pub const CONSOLE_TOKENS_URL: &str = "https://console.coreweave.com/tokens";

/// The source the user chose on the command line.
#[derive(Debug, Clone)]
pub enum Source {
    Stdin,
    File(PathBuf),
    Kubeconfig(PathBuf),
    Command {
        command: String,
        timeout: Duration,
    },
    /// Ask on the terminal (no source flag given).
    Prompt,
    /// `--mint`: made by the service-account OIDC exchange (fetched by the caller).
    Minted,
    /// Handed over by `kubeconfig import --replace-token`, from a downloaded kubeconfig.
    Imported(Token),
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("no new token given and stdin is not a terminal; pass --from-stdin, --from-file PATH, --from-kubeconfig PATH or --from-command CMD")]
    NoSource,
    #[error("cannot read the new token from standard input")]
    Stdin(#[source] std::io::Error),
    #[error("cannot read the new token from the terminal")]
    Terminal(#[source] std::io::Error),
    #[error("cannot read token file {path}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--from-kubeconfig {}: {reason}", crate::secret::shown_path(.path))]
    DownloadedKubeconfig { path: PathBuf, reason: String },
    /// The downloaded kubeconfig does not load or resolve; the cause says why.
    #[error("--from-kubeconfig {}", crate::secret::shown_path(.path))]
    FromKubeconfig {
        path: PathBuf,
        #[source]
        source: KubeconfigError,
    },
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    #[error("cannot run --from-command")]
    CommandSpawn(#[source] std::io::Error),
    #[error("--from-command exited with {status}; nothing was written")]
    CommandFailed { status: String },
    #[error("--from-command did not finish within {0:?}; it was stopped and nothing was written")]
    CommandTimeout(Duration),
    #[error("the new token from {origin} is empty")]
    Empty { origin: String },
    #[error("the new token from {origin} contains {what} at character {at}; a token is printable ASCII without spaces")]
    BadCharacters {
        origin: String,
        /// The first character refused, as a code point (`U+200B`), never the token.
        what: String,
        at: usize,
    },
    #[error("the new token from {origin} is not a CoreWeave API access token: expected {COREWEAVE_PREFIX} and at least {MIN_SECRET_CHARS} letters, digits or {SECRET_ALPHABET}; pass --force if that is intended")]
    NotCoreWeave { origin: String },
    #[error("the new token from {origin} is the token already in use; create a new one at {CONSOLE_TOKENS_URL}")]
    Unchanged { origin: String },
    #[error("not confirmed; nothing was written")]
    NotConfirmed,
    /// Ctrl-C at a prompt: the program ends with 130, as a shell reports a Ctrl-C.
    #[error("interrupted; nothing was written")]
    Interrupted,
}

impl Source {
    /// A short description for messages ("standard input", "file X", ...).
    pub fn describe(&self) -> String {
        match self {
            Source::Stdin => "standard input".into(),
            Source::File(p) => format!("file {}", p.display()),
            Source::Kubeconfig(p) => format!("kubeconfig {}", p.display()),
            Source::Command { .. } => "--from-command".into(),
            Source::Prompt => "the terminal".into(),
            Source::Minted => "the service-account exchange".into(),
            Source::Imported(_) => "the imported kubeconfig".into(),
        }
    }

    /// Where the token came from, as recorded in the `coreweave.com/token` extension.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Stdin => "stdin",
            Source::File(_) => "file",
            Source::Kubeconfig(_) => "console-kubeconfig",
            Source::Command { .. } => "command",
            Source::Prompt => "console",
            Source::Minted => "minted",
            Source::Imported(_) => "console-kubeconfig",
        }
    }

    /// Choose the prompt only when a person can answer it.
    pub fn prompt_or_error() -> Result<Source, SourceError> {
        if std::io::stdin().is_terminal() {
            Ok(Source::Prompt)
        } else {
            Err(SourceError::NoSource)
        }
    }
}

/// Get the new token from `source`, trimmed but not yet validated.
pub fn fetch(source: &Source) -> Result<Token, SourceError> {
    let raw = match source {
        // Bounded: `< /dev/zero` or a runaway producer is refused after MAX_TOKEN_BYTES.
        Source::Stdin => read_line_capped(std::io::stdin().lock(), MAX_TOKEN_BYTES)
            .and_then(utf8)
            .map_err(SourceError::Stdin)?,
        // Any readable file, FIFOs too (`--from-file <(pass show cw)`), but bounded.
        Source::File(path) => std::fs::File::open(path)
            .and_then(|f| read_capped(f, MAX_TOKEN_BYTES))
            .and_then(utf8)
            .map_err(|source| SourceError::File {
                path: path.clone(),
                source,
            })?,
        Source::Kubeconfig(path) => return from_downloaded_kubeconfig(path),
        Source::Command { command, timeout } => first_line(&run_command(command, *timeout)?),
        Source::Prompt => prompt()?,
        Source::Minted => String::new(),
        Source::Imported(token) => return Ok(token.clone()),
    };
    Ok(Token::new(raw.trim()))
}

/// A byte-order mark at the start of what a token was read from (Windows editors write
/// one) is not part of the token.
pub fn without_bom(new: Token) -> Token {
    match new.expose().strip_prefix('\u{feff}') {
        Some(rest) => Token::new(rest.trim()),
        None => new,
    }
}

/// The checks every new token passes: non-empty; printable ASCII only (no whitespace,
/// control, zero-width or other invisible character, nothing beyond ASCII: HTTP headers
/// carry nothing else safely), even with `--force`; different from the old token; and
/// CoreWeave-shaped ([`Token::is_coreweave_shaped`]) unless forced.
pub fn validate(new: &Token, old: &Token, origin: &str, force: bool) -> Result<(), SourceError> {
    let origin = origin.to_string();
    let v = new.expose();
    if v.is_empty() {
        return Err(SourceError::Empty { origin });
    }
    if let Some((at, c)) = v.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic()) {
        let what = match c {
            ' ' => "a space".to_string(),
            c => format!("U+{:04X}", u32::from(c)),
        };
        return Err(SourceError::BadCharacters {
            origin,
            what,
            at: at + 1,
        });
    }
    if new == old {
        return Err(SourceError::Unchanged { origin });
    }
    if !force && !new.is_coreweave_shaped() {
        return Err(SourceError::NotCoreWeave { origin });
    }
    Ok(())
}

/// The token of a kubeconfig the Console downloads (`CWKubeconfig_cwtoken-<hash>-<name>`):
/// its current context's user's token, or else the one distinct token its users hold.
fn from_downloaded_kubeconfig(path: &Path) -> Result<Token, SourceError> {
    let err = |reason: &str| SourceError::DownloadedKubeconfig {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    // Errors name --from-kubeconfig: the loader's own words are about --kubeconfig.
    let flag = |e: KubeconfigError| match e {
        KubeconfigError::ExplicitMissing(_) => err("no such file"),
        source => SourceError::FromKubeconfig {
            path: path.to_path_buf(),
            source,
        },
    };
    let kc = KubeconfigSource::file(path.to_path_buf())
        .load()
        .map_err(flag)?;
    if kc.current_context().is_some() {
        let r = kc.resolve(&Selection::default()).map_err(flag)?;
        return Ok(kc.credential(r.user_origin).map_err(flag)?.token().clone());
    }
    let mut tokens: Vec<Token> = Vec::new();
    for (origin, user) in kc.all_users() {
        if let Ok(c) = credential_of(kc.path(origin.file), user) {
            if !tokens.contains(c.token()) {
                tokens.push(c.token().clone());
            }
        }
    }
    match tokens.len() {
        1 => Ok(tokens.remove(0)),
        0 => Err(err("holds no token")),
        n => Err(err(&format!(
            "has no current-context and {n} different tokens; set its current-context or use --from-file"
        ))),
    }
}

fn utf8(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// Run `sh -c CMD` with stdout captured, stdin and stderr inherited (a password manager
/// may ask for a passphrase), and stop it after `timeout`.
///
/// On unix the command runs in a process group of its own, and a timeout kills the whole
/// group: `sh -c 'sleep 1000 | cat'` leaves no `sleep` behind. Not when stdin is a terminal:
/// a process outside the terminal's foreground group is stopped (SIGTTIN) as soon as it
/// prompts, so there the command stays in ours, Ctrl-C reaches all of it, and a timeout
/// kills only the shell.
fn run_command(command: &str, timeout: Duration) -> Result<String, SourceError> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).stdout(Stdio::piped());
    #[cfg(unix)]
    let own_group = !std::io::stdin().is_terminal();
    #[cfg(unix)]
    if own_group {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(SourceError::CommandSpawn)?;
    let stop = |child: &mut std::process::Child| {
        #[cfg(unix)]
        if own_group {
            kill_group(child.id());
        }
        let _ = child.kill();
        let _ = child.wait();
    };
    let mut stdout = child.stdout.take();
    // Read on a thread so a command that writes more than a pipe holds cannot block us.
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.take(1024 * 1024).read_to_end(&mut buf);
        }
        buf
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait().map_err(SourceError::CommandSpawn)? {
            Some(status) => break status,
            None if start.elapsed() >= timeout => {
                stop(&mut child);
                return Err(SourceError::CommandTimeout(timeout));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    // A command that exits but leaves a child holding stdout must not hang us either.
    let deadline = timeout
        .saturating_sub(start.elapsed())
        .max(Duration::from_secs(1));
    let Some(out) = join_with_timeout(reader, deadline) else {
        stop(&mut child);
        return Err(SourceError::CommandTimeout(timeout));
    };
    if !status.success() {
        return Err(SourceError::CommandFailed {
            status: status.to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// SIGKILL to every process of the group led by `pid` (the spawned shell made it).
#[cfg(unix)]
fn kill_group(pid: u32) {
    use rustix::process::{kill_process_group, Pid, Signal};
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

fn join_with_timeout(h: std::thread::JoinHandle<Vec<u8>>, timeout: Duration) -> Option<Vec<u8>> {
    let start = Instant::now();
    while !h.is_finished() {
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    h.join().ok()
}

/// Ask on the terminal, echo off.
fn prompt() -> Result<String, SourceError> {
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "Create a new API access token at {CONSOLE_TOKENS_URL} (\"Create Token\", choose a name and\n\
         an expiration), copy its Token Secret, and paste it here. Input is not echoed."
    );
    match terminal::read_line("New token: ", Echo::Hidden).map_err(SourceError::Terminal)? {
        Answer::Line(token) => Ok(token),
        Answer::Interrupted => Err(SourceError::Interrupted),
    }
}

/// Ask for a yes on the terminal before writing; the answer is echoed as typed.
pub fn confirm(question: &str) -> Result<(), SourceError> {
    match terminal::read_line(&format!("{question} [y/N] "), Echo::Shown)
        .map_err(SourceError::Terminal)?
    {
        Answer::Line(a) if matches!(a.trim(), "y" | "Y" | "yes" | "YES" | "Yes") => Ok(()),
        Answer::Line(_) => Err(SourceError::NotConfirmed),
        Answer::Interrupted => Err(SourceError::Interrupted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Token {
        Token::new(s)
    }

    #[test]
    fn validation_refuses_what_would_lock_users_out() {
        let old = t("CW-SECRET-old-value-0000");
        assert!(validate(&t("CW-SECRET-new-value-1111"), &old, "x", false).is_ok());
        assert!(matches!(
            validate(&t(""), &old, "x", false),
            Err(SourceError::Empty { .. })
        ));
        assert!(matches!(
            validate(&t("CW-SECRET-a b"), &old, "x", false),
            Err(SourceError::BadCharacters { .. })
        ));
        assert!(matches!(
            validate(&t("CW-SECRET-a\u{7}"), &old, "x", false),
            Err(SourceError::BadCharacters { .. })
        ));
        assert!(matches!(
            validate(&old, &old, "x", true),
            Err(SourceError::Unchanged { .. })
        ));
        assert!(matches!(
            validate(&t("eyJhbGciOi"), &old, "x", false),
            Err(SourceError::NotCoreWeave { .. })
        ));
        assert!(validate(&t("eyJhbGciOi"), &old, "x", true).is_ok());
        for short in ["CW-SECRET-", "CW-SECRET-abc"] {
            assert!(
                matches!(
                    validate(&t(short), &old, "x", false),
                    Err(SourceError::NotCoreWeave { .. })
                ),
                "{short}"
            );
        }
        for hidden in [
            "CW-SECRET-new-\u{200b}value",
            "CW-SECRET-new-valué",
            "CW-SECRET-\u{202e}new-value",
        ] {
            let e = validate(&t(hidden), &old, "x", true).expect_err(hidden);
            assert!(matches!(e, SourceError::BadCharacters { .. }), "{hidden}");
            assert!(!e.to_string().contains("new-"), "{e}");
        }
        assert_eq!(
            without_bom(t("\u{feff}CW-SECRET-new-value-1111")).expose(),
            "CW-SECRET-new-value-1111"
        );
    }

    #[test]
    fn command_output_first_line_and_failures() {
        let s = Duration::from_secs(5);
        assert_eq!(
            first_line(&run_command("printf 'CW-SECRET-x\\nmore\\n'", s).expect("runs")),
            "CW-SECRET-x"
        );
        assert!(matches!(
            run_command("exit 3", s),
            Err(SourceError::CommandFailed { .. })
        ));
        // Were the timeout not enforced, this would wait out the sleep and succeed.
        assert!(matches!(
            run_command("sleep 60", Duration::from_millis(200)),
            Err(SourceError::CommandTimeout(_))
        ));
    }
}
