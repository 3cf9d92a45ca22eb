//! Completion for `kubectl coreweave <TAB>`. kubectl 1.26 and later runs an executable named
//! `kubectl_complete-coreweave` with the words typed after the plugin's name, the last one
//! being the word to complete, and reads cobra's `__complete` answer: one candidate a line
//! (`value<TAB>description`), then `:<directive>`. The binary answers that protocol as
//! `kubectl-coreweave __complete …`, or when it is run under the companion's name.
//!
//! Context and user names come from the kubeconfig the typed flags select; any error while
//! reading it just means no candidates.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::kubeconfig::KubeconfigSource;

/// cobra's ShellCompDirective values.
const DIRECTIVE_DEFAULT: u32 = 0; // let the shell complete file names
const DIRECTIVE_NO_FILE: u32 = 4;

pub fn run(words: &[String], out: &mut dyn Write) -> std::io::Result<()> {
    let (current, typed) = match words.split_last() {
        Some((last, rest)) => (last.as_str(), rest),
        None => ("", words),
    };
    let mut root = Cli::command();
    root.build();
    let mut cmd = &root;
    let mut flags = Flags::default();
    let mut pending: Option<String> = None;
    for w in typed {
        if let Some(flag) = pending.take() {
            flags.set(&flag, w);
            continue;
        }
        if let Some(name) = w.strip_prefix("--") {
            match name.split_once('=') {
                Some((n, v)) => flags.set(n, v),
                None if takes_value(cmd, name) => pending = Some(name.to_string()),
                None => {}
            }
        } else if w == "-o" {
            pending = Some("output".into());
        } else if let Some(sub) = cmd.find_subcommand(w) {
            cmd = sub;
        }
    }

    let (prefix, partial, value_of) = match (&pending, current.strip_prefix("--")) {
        (Some(flag), _) => ("", current, Some(flag.clone())),
        (None, Some(rest)) if rest.contains('=') => {
            let (flag, v) = rest.split_once('=').unwrap_or((rest, ""));
            (
                &current[..current.len() - v.len()],
                v,
                Some(flag.to_string()),
            )
        }
        _ => ("", current, None),
    };

    let (candidates, directive) = match value_of.as_deref() {
        Some("context") => (names(&flags, Kind::Context), DIRECTIVE_NO_FILE),
        Some("user") => (names(&flags, Kind::User), DIRECTIVE_NO_FILE),
        Some("kubeconfig" | "from-file" | "from-kubeconfig") => (Vec::new(), DIRECTIVE_DEFAULT),
        Some(flag) => (possible_values(cmd, flag), DIRECTIVE_NO_FILE),
        None if current.starts_with('-') => (flag_names(cmd), DIRECTIVE_NO_FILE),
        None => (subcommands_and_values(cmd), DIRECTIVE_NO_FILE),
    };
    for (value, help) in candidates.iter().filter(|(v, _)| v.starts_with(partial)) {
        if help.is_empty() {
            writeln!(out, "{prefix}{value}")?;
        } else {
            writeln!(out, "{prefix}{value}\t{help}")?;
        }
    }
    writeln!(out, ":{directive}")
}

#[derive(Default)]
struct Flags {
    kubeconfig: Option<String>,
}

impl Flags {
    fn set(&mut self, flag: &str, value: &str) {
        if flag == "kubeconfig" {
            self.kubeconfig = Some(value.to_string());
        }
    }
}

enum Kind {
    Context,
    User,
}

fn names(flags: &Flags, kind: Kind) -> Vec<(String, String)> {
    let source = KubeconfigSource::new(
        flags.kubeconfig.as_ref().map(std::path::PathBuf::from),
        std::env::var_os("KUBECONFIG"),
        Some(crate::kubeconfig::home_dir()),
    );
    let Ok(kc) = source.load() else {
        return Vec::new();
    };
    let mut v: Vec<(String, String)> = match kind {
        Kind::Context => kc
            .contexts()
            .into_iter()
            .map(|(n, c)| {
                let user = c
                    .context
                    .as_ref()
                    .and_then(|c| c.user.clone())
                    .unwrap_or_default();
                (n.to_string(), format!("user {user}"))
            })
            .collect(),
        Kind::User => kc
            .all_users()
            .map(|(_, u)| (u.name.to_string(), String::new()))
            .collect(),
    };
    // Names go out through the one masking function like all kubeconfig text; a name it
    // would change (a token pasted as a name, a control character that would also break
    // the completion protocol's lines) cannot be offered as typed, so it is not offered.
    v.retain(|(name, _)| crate::secret::shown(name) == *name);
    for (_, help) in &mut v {
        *help = crate::secret::shown(help);
    }
    v.sort();
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

fn takes_value(cmd: &clap::Command, long: &str) -> bool {
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(long))
        .is_some_and(|a| a.get_action().takes_values())
}

fn possible_values(cmd: &clap::Command, long: &str) -> Vec<(String, String)> {
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(long))
        .map(|a| {
            a.get_possible_values()
                .iter()
                .map(|p| (p.get_name().to_string(), String::new()))
                .collect()
        })
        .unwrap_or_default()
}

fn flag_names(cmd: &clap::Command) -> Vec<(String, String)> {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| {
            let long = a.get_long()?;
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            Some((format!("--{long}"), help))
        })
        .collect()
}

fn subcommands_and_values(cmd: &clap::Command) -> Vec<(String, String)> {
    let subs = cmd.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| {
        let help = s.get_about().map(|h| h.to_string()).unwrap_or_default();
        (s.get_name().to_string(), help)
    });
    let values = cmd
        .get_positionals()
        .flat_map(|a| a.get_possible_values())
        .map(|p| (p.get_name().to_string(), String::new()));
    subs.filter(|(n, _)| n != "help").chain(values).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(words: &[&str]) -> String {
        let words: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        run(&words, &mut out).expect("write");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn subcommands_flags_and_values() {
        assert!(complete(&[""]).contains("token\tShow, list or rotate"));
        assert!(complete(&["tok"]).starts_with("token\t"));
        assert_eq!(
            complete(&["token", "r"])
                .lines()
                .next()
                .map(|l| l.split('\t').next()),
            Some(Some("rotate"))
        );
        let flags = complete(&["token", "rotate", "--from-"]);
        assert!(
            flags.contains("--from-stdin") && flags.contains("--from-command"),
            "{flags}"
        );
        assert!(complete(&["token", "show", "-o", ""]).starts_with("json\nyaml\n:4"));
        assert!(complete(&["token", "show", "--output=y"]).starts_with("--output=yaml\n:4"));
        assert!(complete(&["completion", "z"]).starts_with("zsh\n:4"));
        assert!(complete(&["token", "show", "--kubeconfig", ""]).ends_with(":0\n"));
    }
}
