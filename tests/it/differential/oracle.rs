//! The oracle: what the real kubectl says the active token is.
//!
//! Everything is asked of `kubectl config view`; the oracle itself only follows the rules
//! below, each of which was checked against kubectl (v1.32) by hand, the tokenFile ones by
//! watching the `Authorization` header kubectl sends to a local HTTPS server:
//!
//! 1. Primary: `kubectl config view --raw --minify [--kubeconfig F] [--context C]`, read
//!    `.users[0]` (name, token, tokenFile). Exit 0 with a user gives that user; exit 0
//!    with no user (a context naming none) means no token.
//! 2. `--minify` fails with `cannot locate cluster X` when the context's cluster is
//!    missing although its user is defined. kubectl could not use that context, but the
//!    plugin's documented choice is to print the token anyway and warn about X: the user
//!    then comes from the merged view (`{.contexts[?(@.name=="C")].context.user}`) and the
//!    plugin must print a `warning:` line naming X.
//! 3. `config view` ignores `--user`. What `kubectl --context C --user U` uses: the
//!    context C (or current-context) must exist, exactly as without `--user`; the
//!    context's own user is then irrelevant (it may even be undefined): U replaces it, and
//!    U's entry is taken from the merged view. So with `--user U` the primary call must
//!    succeed or fail only with `cannot locate cluster` (rule 2: token with a warning) or
//!    `cannot locate user` (the context's own user, replaced by U); any other failure (no
//!    such context, no current-context, a file that does not load) is a failure. U not
//!    defined anywhere is a failure.
//! 4. Credentials (client-go's `getUserIdentificationPartialConfig` and the transport's
//!    bearer round-tripper): a non-empty `tokenFile` wins over `token`; the token is the
//!    file's content trimmed of whitespace. A relative `tokenFile` is relative to the
//!    folder of the file that defines the user: the first file, in kubectl's order, whose
//!    users hold the name (asked of kubectl one file at a time). When the file cannot be
//!    read or is blank, kubectl falls back to the inline `token` when there is one (the
//!    round-tripper starts from it and keeps it when re-reading the file fails), and fails
//!    when there is none. No `token` and no `tokenFile` (exec, client certificate, basic
//!    auth, empty user): no token.
//!
//! 5. The empty name is looked up like any other (client-go's `getContext` and
//!    `getAuthInfo`; checked by hand through the `Authorization` header kubectl sends).
//!    With current-context empty or missing (and no `--context`), a context named `""`
//!    is used; `--minify` refuses it ("current-context must exist"), so the oracle reads
//!    that context from the merged view. A context naming no user uses the user named
//!    `""` when one exists (`--minify` shows no user then).
//!
//! kubectl's file order (client-go's loader): `--kubeconfig F` (non-empty) alone; else
//! `KUBECONFIG` split on `:`, empty entries dropped, repeated paths kept once; else
//! `$HOME/.kube/config`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the kubectl binary is: `$KUBECTL`, else `kubectl` on `PATH`, else
/// `/usr/bin/kubectl`. Panics (never skips) when there is none.
pub fn kubectl() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(p) = std::env::var_os("KUBECTL") {
            candidates.push(PathBuf::from(p));
        }
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|d| d.join("kubectl")));
        }
        candidates.push(PathBuf::from("/usr/bin/kubectl"));
        let found = candidates.into_iter().find(|p| p.is_file());
        let Some(found) = found else {
            panic!(
                "the differential test needs the real `kubectl` as its oracle and found none \
                 ($KUBECTL, PATH, /usr/bin/kubectl). `.ci/run` installs it; on a developer \
                 machine run the same install step (or set KUBECTL=/path/to/kubectl). This \
                 test never skips."
            )
        };
        let out = Command::new(&found)
            .args(["version", "--client"])
            .env_clear()
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", found.display()));
        assert!(
            out.status.success(),
            "{} version --client failed: {}",
            found.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        found
    })
}

/// The environment of one case, with real paths.
#[derive(Debug, Clone)]
pub struct Cx {
    /// The case folder: both programs run here.
    pub root: PathBuf,
    pub home: PathBuf,
    pub kubeconfig_env: Option<String>,
    pub kubeconfig_flag: Option<String>,
    pub context_flag: Option<String>,
    pub user_flag: Option<String>,
}

/// One kubectl run, kept for the report.
#[derive(Debug, Clone)]
pub struct Call {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Exit 0, stdout `token\n`; with `warn_cluster`, a `warning:` line naming it.
    Token {
        token: String,
        warn_cluster: Option<String>,
    },
    /// Exit 1, one `error:` line.
    Fail,
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub expected: Expected,
    /// Which rules decided, for the report and the coverage count.
    pub path: Vec<&'static str>,
    pub reasoning: Vec<String>,
    pub calls: Vec<Call>,
    /// Set when kubectl's answers contradict each other (an oracle bug, not a plugin one).
    pub oracle_error: Option<String>,
}

struct Oracle<'a> {
    cx: &'a Cx,
    v: Verdict,
}

pub fn ask(cx: &Cx) -> Verdict {
    let mut o = Oracle {
        cx,
        v: Verdict {
            expected: Expected::Fail,
            path: Vec::new(),
            reasoning: Vec::new(),
            calls: Vec::new(),
            oracle_error: None,
        },
    };
    o.v.expected = o.decide();
    o.v
}

/// A `jsonpath` template printing `fields` of `base`, one per line.
fn fields(base: &str, fields: &[&str]) -> String {
    let mut t = String::from("jsonpath=");
    for f in fields {
        t.push_str(&format!("{{{base}{f}}}{{\"\\n\"}}"));
    }
    t
}

fn lines(out: &str, n: usize) -> Vec<String> {
    let mut v: Vec<String> = out.split('\n').map(str::to_string).collect();
    v.resize(n.max(v.len()), String::new());
    v
}

impl Oracle<'_> {
    fn kubectl(&mut self, args: Vec<String>) -> Call {
        let mut cmd = Command::new(kubectl());
        cmd.args(&args)
            .current_dir(&self.cx.root)
            .env_clear()
            .env("HOME", &self.cx.home);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        if let Some(k) = &self.cx.kubeconfig_env {
            cmd.env("KUBECONFIG", k);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run kubectl: {e}"));
        let call = Call {
            args,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.v.calls.push(call.clone());
        call
    }

    /// `config view --raw` with the case's `--kubeconfig`, and `--minify --context` when
    /// `minify`.
    fn view_args(&self, minify: bool) -> Vec<String> {
        let mut a = vec!["config".to_string(), "view".into(), "--raw".into()];
        if let Some(f) = &self.cx.kubeconfig_flag {
            a.push(format!("--kubeconfig={f}"));
        }
        if minify {
            a.push("--minify".into());
            if let Some(c) = &self.cx.context_flag {
                a.push(format!("--context={c}"));
            }
        }
        a.push("-o".into());
        a
    }

    fn note(&mut self, s: impl Into<String>) {
        self.v.reasoning.push(s.into());
    }

    fn decide(&mut self) -> Expected {
        let user_flag = self.cx.user_flag.clone().filter(|u| !u.is_empty());
        let mut args = self.view_args(true);
        args.push(fields(
            ".users[0]",
            &[".name", ".user.token", ".user.tokenFile"],
        ));
        let primary = self.kubectl(args);
        let mut warn_cluster = None;
        let mut empty_context = false;
        if primary.code != Some(0) {
            let err = primary.stderr.clone();
            if let Some(x) = after(&err, "cannot locate cluster ") {
                self.v.path.push("missing-cluster");
                self.note(format!(
                    "minify fails only because cluster {x:?} is missing: the plugin prints \
                     the token anyway, with a warning naming {x:?}"
                ));
                warn_cluster = Some(x);
            } else if err.contains("current-context must exist")
                && self.cx.context_flag.as_deref().unwrap_or("").is_empty()
                && self.merged_context("").is_some()
            {
                self.v.path.push("empty-context-name");
                self.note(
                    "no current-context, but a context named \"\" exists: client-go uses it \
                     (minify refuses it)",
                );
                empty_context = true;
            } else if user_flag.is_some() && after(&err, "cannot locate user ").is_some() {
                self.note(
                    "minify fails on the context's own user, which --user replaces: the \
                     context exists",
                );
            } else {
                self.v.path.push("kubectl-fails");
                self.v.path.push(failure_kind(&err));
                self.note(format!("kubectl fails: {}", err.trim()));
                return Expected::Fail;
            }
        }

        // The user kubectl would use, and its token and tokenFile as kubectl shows them.
        let (name, token, token_file) = if let Some(u) = &user_flag {
            self.v.path.push("user-flag");
            self.note(format!(
                "--user {u:?} replaces the context's user: take {u:?} from the merged view"
            ));
            match self.merged_user(u) {
                Some(x) => x,
                None => {
                    self.note(format!("user {u:?} is not defined: failure"));
                    return Expected::Fail;
                }
            }
        } else if warn_cluster.is_some() || empty_context {
            let ctx = if empty_context {
                String::new()
            } else {
                let Some(ctx) = self.context_name() else {
                    self.set_oracle_error("minify found a context but the merged view has none");
                    return Expected::Fail;
                };
                ctx
            };
            let Some((user, cluster)) = self.merged_context(&ctx) else {
                self.set_oracle_error(&format!("context {ctx:?} is not in the merged view"));
                return Expected::Fail;
            };
            if empty_context && !cluster.is_empty() && self.merged_cluster(&cluster).is_none() {
                self.note(format!(
                    "context \"\" names cluster {cluster:?}, undefined: warn"
                ));
                warn_cluster = Some(cluster);
            }
            if user.is_empty() && self.merged_user("").is_none() {
                self.note(format!("context {ctx:?} names no user: no token"));
                self.v.path.push("no-user");
                return Expected::Fail;
            }
            if user.is_empty() {
                self.v.path.push("empty-user-name");
                self.note("the context names no user: client-go uses the user named \"\"");
            }
            match self.merged_user(&user) {
                Some(x) => x,
                None => {
                    self.note(format!("context {ctx:?} names user {user:?}, undefined"));
                    self.v.path.push("undefined-user");
                    return Expected::Fail;
                }
            }
        } else {
            let l = lines(&primary.stdout, 3);
            if l[0].is_empty() {
                // The context names no user (or ""); minify then shows none.
                match self.merged_user("") {
                    Some(x) => {
                        self.v.path.push("empty-user-name");
                        self.note(
                            "the minified view has no user; client-go uses the user named \"\"",
                        );
                        x
                    }
                    None => {
                        self.note("the minified view has no user: no token");
                        self.v.path.push("no-user");
                        return Expected::Fail;
                    }
                }
            } else {
                (l[0].clone(), l[1].clone(), l[2].clone())
            }
        };

        match self.credential(&name, &token, &token_file) {
            Some(token) => Expected::Token {
                token,
                warn_cluster,
            },
            None => Expected::Fail,
        }
    }

    /// The active context's name: `--context` when given (non-empty), else the merged
    /// current-context.
    fn context_name(&mut self) -> Option<String> {
        if let Some(c) = self.cx.context_flag.clone().filter(|c| !c.is_empty()) {
            return Some(c);
        }
        let mut args = self.view_args(false);
        args.push("jsonpath={.current-context}".into());
        let c = self.kubectl(args);
        Some(c.stdout.trim_end_matches('\n').to_string()).filter(|s| !s.is_empty())
    }

    /// The fields of the merged view's entry of `list` named `name`, if there is one
    /// (the name may be empty, so presence is marked separately).
    fn merged_entry(&mut self, list: &str, name: &str, fields: &[&str]) -> Option<Vec<String>> {
        let mut args = self.view_args(false);
        let mut t = format!("jsonpath={{range .{list}[?(@.name==\"{name}\")]}}found{{\"\\n\"}}");
        for f in fields {
            t.push_str(&format!("{{{f}}}{{\"\\n\"}}"));
        }
        t.push_str("{end}");
        args.push(t);
        let c = self.kubectl(args);
        let rest = c.stdout.strip_prefix("found\n")?;
        (c.code == Some(0)).then(|| lines(rest, fields.len()))
    }

    /// (name, token, tokenFile) of user `u` in the merged view, if defined.
    fn merged_user(&mut self, u: &str) -> Option<(String, String, String)> {
        let l = self.merged_entry("users", u, &[".name", ".user.token", ".user.tokenFile"])?;
        Some((l[0].clone(), l[1].clone(), l[2].clone()))
    }

    /// (user, cluster) of context `c` in the merged view, if defined.
    fn merged_context(&mut self, c: &str) -> Option<(String, String)> {
        let l = self.merged_entry("contexts", c, &[".context.user", ".context.cluster"])?;
        Some((l[0].clone(), l[1].clone()))
    }

    fn merged_cluster(&mut self, c: &str) -> Option<()> {
        self.merged_entry("clusters", c, &[".name"]).map(|_| ())
    }

    /// Rule 4: the token client-go sends for this user entry, or None.
    fn credential(&mut self, name: &str, token: &str, token_file: &str) -> Option<String> {
        if token_file.is_empty() {
            if token.is_empty() {
                self.note(format!("user {name:?} has neither token nor tokenFile"));
                self.v.path.push("no-token");
                return None;
            }
            self.note(format!("user {name:?}: inline token"));
            self.v.path.push("token");
            return Some(token.to_string());
        }
        let Some(defining) = self.defining_file(name) else {
            self.set_oracle_error(&format!(
                "no single file in kubectl's order defines user {name:?}"
            ));
            return None;
        };
        let base = Path::new(&defining)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let path = self.cx.root.join(base).join(token_file);
        self.note(format!(
            "user {name:?} (defined first in {defining}) has tokenFile {token_file:?} -> {}",
            path.display()
        ));
        let content = std::fs::read(&path)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        match content.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => {
                self.v.path.push("token-file");
                self.note("token file read, trimmed");
                Some(t.to_string())
            }
            _ if !token.is_empty() => {
                self.v.path.push("token-file-unusable-inline-fallback");
                self.note(
                    "the token file is missing, unreadable or blank: client-go keeps the \
                     inline token",
                );
                Some(token.to_string())
            }
            _ => {
                self.v.path.push("token-file-unusable");
                self.note("the token file is missing, unreadable or blank, no inline token");
                None
            }
        }
    }

    /// kubectl's file order.
    fn precedence(&self) -> Vec<String> {
        if let Some(f) = self.cx.kubeconfig_flag.clone().filter(|f| !f.is_empty()) {
            return vec![f];
        }
        match self.cx.kubeconfig_env.as_deref() {
            Some(v) if !v.is_empty() => {
                let mut out: Vec<String> = Vec::new();
                for e in v.split(':') {
                    if !e.is_empty() && !out.iter().any(|x| x == e) {
                        out.push(e.to_string());
                    }
                }
                out
            }
            _ => vec![self.cx.home.join(".kube/config").display().to_string()],
        }
    }

    /// The first file, in kubectl's order, whose users hold `name` (asked one file at a
    /// time: `--kubeconfig Fi`).
    fn defining_file(&mut self, name: &str) -> Option<String> {
        for f in self.precedence() {
            // client-go skips missing files; so does this search (saving a kubectl run).
            if !self.cx.root.join(&f).exists() {
                continue;
            }
            let args = vec![
                "config".to_string(),
                "view".into(),
                "--raw".into(),
                format!("--kubeconfig={f}"),
                "-o".into(),
                format!("jsonpath={{.users[?(@.name==\"{name}\")].name}}"),
            ];
            let c = self.kubectl(args);
            if c.code == Some(0) && !c.stdout.trim().is_empty() {
                return Some(f);
            }
        }
        None
    }

    fn set_oracle_error(&mut self, msg: &str) {
        self.v.oracle_error = Some(msg.to_string());
        self.v.path.push("oracle-error");
    }
}

/// The rest of the line after `marker`, trimmed.
fn after(text: &str, marker: &str) -> Option<String> {
    let i = text.find(marker)?;
    let rest = &text[i + marker.len()..];
    Some(rest.lines().next().unwrap_or("").trim().to_string())
}

/// A short name for why kubectl failed, for the statistics.
fn failure_kind(stderr: &str) -> &'static str {
    const KINDS: &[(&str, &str)] = &[
        ("error loading config file", "fails:file-does-not-load"),
        ("cannot locate context", "fails:undefined-context"),
        ("current-context must exist", "fails:no-current-context"),
        ("cannot locate user", "fails:undefined-user"),
        ("no such file or directory", "fails:missing-kubeconfig"),
    ];
    KINDS
        .iter()
        .find(|(needle, _)| stderr.contains(needle))
        .map(|(_, kind)| *kind)
        .unwrap_or("fails:other")
}
