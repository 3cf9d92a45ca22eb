//! The smoke test of a release archive, run on a machine of the archive's own OS and CPU
//! (the release workflow runs it for each platform before anything is published, and the
//! xtask tests run it on an archive of the debug build): unpack, run what a new user runs,
//! install it with krew and run it through kubectl.
//!
//! Tokens here are the sample kubeconfig's fake one and a fake new one; still, no error
//! message quotes what `--raw` printed, and the new token reaches the plugin through
//! stdin from a file, never on a command line.

use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{bail, ensure, Context, Result};

use crate::{
    archive_name, binary_name, exe_name, host_os_arch, krew_install, list_archive, render,
    sha256_file, BINARY, COMPLETER, PLUGIN_NAME,
};

/// The sample kubeconfig shipped in the repository, relative to the workspace root.
pub const SAMPLE_KUBECONFIG: &str = "examples/coreweave-kubeconfig.yaml";
/// The token the rotate step writes: CoreWeave-shaped and obviously fake.
const NEW_TOKEN: &str = "CW-SECRET-smoke-test-rotated-0001";
/// A loopback port nothing listens on (discard): if a step reached for the API anyway, it
/// would fail at once and stay on this machine.
const CLOSED_API: &str = "http://127.0.0.1:9";

/// How the krew step installs the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KrewMode {
    /// `kubectl krew install --manifest=… --archive=…`: krew itself, found by kubectl as
    /// `kubectl-krew` on PATH. Fails if it is not there.
    Real,
    /// [`krew_install`]: the same steps done by this crate, for machines without krew
    /// (the test suite runs offline). kubectl still runs the installed plugin.
    Emulated,
}

/// What [`smoke`] tests.
#[derive(Debug, Clone, Copy)]
pub struct SmokeInput<'a> {
    /// The archive; its name must be the one `archive_name(version, os, arch)` gives for
    /// this machine.
    pub archive: &'a Path,
    /// `v` + Cargo.toml's version: `version` must print it.
    pub version: &'a str,
    /// The manifest template, rendered with the archive's sha256 when `manifest` is None.
    pub template: &'a str,
    /// A manifest to install with instead (such as the release's krew.yaml).
    pub manifest: Option<&'a str>,
    /// The sample kubeconfig (examples/coreweave-kubeconfig.yaml); copied, never changed.
    pub sample: &'a Path,
    pub krew: KrewMode,
}

/// The commands every smoke run performs, in order, as printed on success: what the
/// release workflow promises to have run on each platform. Tests compare the output
/// against this list.
pub const SMOKE_STEPS: [&str; 7] = [
    "unpack",
    "kubectl-coreweave version",
    "kubectl-coreweave token show --raw",
    "kubectl-coreweave token rotate --verify none --from-stdin",
    "kubectl-coreweave completion bash",
    "kubectl krew install --manifest --archive",
    "kubectl coreweave version",
];

/// Runs every step of [`SMOKE_STEPS`] and prints `smoke ok: <step>` after each; the first
/// failure ends the run with an error naming the step and what it printed on stderr.
pub fn smoke(input: &SmokeInput) -> Result<()> {
    let (os, arch) = host_os_arch()?;
    let name = input
        .archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let want = archive_name(input.version, os, arch);
    ensure!(
        name == want,
        "{} is not this machine's archive: want {want} ({os}/{arch}, version {})",
        input.archive.display(),
        input.version
    );
    let work = tempfile::tempdir().context("cannot create a temporary folder")?;
    let work = work.path();
    let home = work.join("home");
    fs::create_dir_all(&home)?;
    let env = Env { home: home.clone() };
    let done = |step: &str| println!("smoke ok: {step}");

    // unpack: exactly the files the manifest installs, the executable runnable.
    let unpacked = work.join("unpacked");
    fs::create_dir_all(&unpacked)?;
    crate::unpack(input.archive, &unpacked)?;
    let mut names: Vec<String> = list_archive(input.archive)?
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    names.sort();
    let mut expected = vec![binary_name(os), "LICENSE".to_string()];
    if os != "windows" {
        expected.push(COMPLETER.to_string());
    }
    expected.sort();
    ensure!(
        names == expected,
        "{} holds {names:?}, not {expected:?}",
        input.archive.display()
    );
    let exe = unpacked.join(binary_name(os));
    done(SMOKE_STEPS[0]);

    // version
    let out = env.run(&exe, &["version"], None)?;
    let version_line = format!("{BINARY} {}", input.version);
    expect_version(&out, &version_line, SMOKE_STEPS[1])?;
    done(SMOKE_STEPS[1]);

    // token show --raw on a copy of the sample: the token alone.
    let sample_text = fs::read_to_string(input.sample)
        .with_context(|| format!("cannot read {}", input.sample.display()))?;
    let old_token = sample_token(&sample_text)
        .with_context(|| format!("{}: no token for current-context", input.sample.display()))?;
    let config = work.join("kubeconfig.yaml");
    fs::write(&config, &sample_text)?;
    let config_arg = config.to_string_lossy().into_owned();
    let show = ["token", "show", "--raw", "--kubeconfig", &config_arg];
    let out = env.run(&exe, &show, None)?;
    succeeded(&out, SMOKE_STEPS[2])?;
    ensure!(
        out.stdout == format!("{old_token}\n").as_bytes(),
        "{}: stdout ({} bytes) is not the sample's token and a newline",
        SMOKE_STEPS[2],
        out.stdout.len()
    );
    done(SMOKE_STEPS[2]);

    // token rotate, the new token on stdin from a file: only the token's characters change.
    let token_file = work.join("new-token");
    fs::write(&token_file, format!("{NEW_TOKEN}\n"))?;
    let rotate = [
        "token",
        "rotate",
        "--verify",
        "none",
        "--from-stdin",
        "--yes",
        "--kubeconfig",
        &config_arg,
    ];
    let out = env.run(&exe, &rotate, Some(&token_file))?;
    succeeded(&out, SMOKE_STEPS[3])?;
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        ensure!(
            !text.contains(NEW_TOKEN) && !text.contains(&old_token),
            "{}: a whole token is on its {stream}",
            SMOKE_STEPS[3]
        );
    }
    let rotated = fs::read_to_string(&config)?;
    ensure!(
        rotated == sample_text.replace(&old_token, NEW_TOKEN),
        "{}: the kubeconfig changed in more than the token's characters",
        SMOKE_STEPS[3]
    );
    let out = env.run(&exe, &show, None)?;
    succeeded(&out, SMOKE_STEPS[3])?;
    ensure!(
        out.stdout == format!("{NEW_TOKEN}\n").as_bytes(),
        "{}: token show --raw does not print the new token afterwards",
        SMOKE_STEPS[3]
    );
    done(SMOKE_STEPS[3]);

    // completion bash
    let out = env.run(&exe, &["completion", "bash"], None)?;
    succeeded(&out, SMOKE_STEPS[4])?;
    let script = String::from_utf8_lossy(&out.stdout);
    ensure!(
        script.contains("complete -F ") && script.contains(BINARY),
        "{}: no bash `complete` registration for {BINARY} in its output",
        SMOKE_STEPS[4]
    );
    done(SMOKE_STEPS[4]);

    // krew install, then kubectl finds and runs the plugin krew linked.
    let manifest = match input.manifest {
        Some(m) => m.to_string(),
        None => {
            let shas = [(format!("{os}_{arch}"), sha256_file(input.archive)?)].into();
            render(input.template, input.version, &shas)?
        }
    };
    let manifest_path = work.join("krew.yaml");
    fs::write(&manifest_path, &manifest)?;
    let krew_root = work.join("krew");
    let kubectl = find_on_path(&exe_name("kubectl", os))
        .context("kubectl is not on PATH: the krew step runs the plugin through kubectl")?;
    match input.krew {
        KrewMode::Real => {
            let manifest_arg = format!("--manifest={}", manifest_path.display());
            let archive_arg = format!("--archive={}", input.archive.display());
            let install = ["krew", "install", &manifest_arg, &archive_arg];
            let out = env
                .command(&kubectl, &install, None)?
                .env("KREW_ROOT", &krew_root)
                .output()
                .context("cannot run kubectl krew")?;
            succeeded(&out, SMOKE_STEPS[5])?;
        }
        KrewMode::Emulated => {
            krew_install(&manifest, os, arch, input.archive, &krew_root)?;
        }
    }
    let linked = krew_root.join("bin").join(exe_name(BINARY, os));
    ensure!(
        linked.is_file(),
        "{}: krew did not put {} in place",
        SMOKE_STEPS[5],
        linked.display()
    );
    done(SMOKE_STEPS[5]);

    // Only krew's bin folder ahead of the rest of PATH: kubectl must find the plugin there.
    let path = std::env::join_paths(std::iter::once(krew_root.join("bin")).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))?;
    let out = env
        .command(&kubectl, &[PLUGIN_NAME, "version"], None)?
        .env("PATH", path)
        .output()
        .context("cannot run kubectl")?;
    expect_version(&out, &version_line, SMOKE_STEPS[6])?;
    done(SMOKE_STEPS[6]);
    Ok(())
}

/// The environment every step runs in: a fresh home, no kubeconfig but the one named, and
/// the CoreWeave API at a closed loopback port.
struct Env {
    home: PathBuf,
}

impl Env {
    fn command(&self, program: &Path, args: &[&str], stdin: Option<&Path>) -> Result<Command> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("HOME", &self.home)
            .env("USERPROFILE", &self.home)
            .env("KUBECONFIG", self.home.join("no-kubeconfig"))
            .env("COREWEAVE_API_ENDPOINT", CLOSED_API)
            .env_remove("COREWEAVE_API_TOKEN")
            .current_dir(&self.home);
        match stdin {
            Some(p) => {
                cmd.stdin(File::open(p).with_context(|| format!("cannot open {}", p.display()))?)
            }
            None => cmd.stdin(Stdio::null()),
        };
        Ok(cmd)
    }

    fn run(&self, program: &Path, args: &[&str], stdin: Option<&Path>) -> Result<Output> {
        self.command(program, args, stdin)?
            .output()
            .with_context(|| format!("cannot run {}", program.display()))
    }
}

fn succeeded(out: &Output, step: &str) -> Result<()> {
    if !out.status.success() {
        bail!(
            "{step}: failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(())
}

fn expect_version(out: &Output, want: &str, step: &str) -> Result<()> {
    succeeded(out, step)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().unwrap_or("");
    ensure!(
        first == want || first.starts_with(&format!("{want} ")),
        "{step}: printed {first:?}, want {want:?} first"
    );
    Ok(())
}

/// The token of the current context's user in a kubeconfig (the sample has no tokenFile).
fn sample_token(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_saphyr::from_str(text).ok()?;
    let context = v["current-context"].as_str()?;
    let named = |list: &str, name: &str| {
        v[list]
            .as_array()?
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
    };
    let user = named("contexts", context)?["context"]["user"]
        .as_str()?
        .to_string();
    named("users", &user)?["user"]["token"]
        .as_str()
        .map(str::to_string)
}

fn find_on_path(file: &str) -> Option<PathBuf> {
    let path: OsString = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(file))
        .find(|p| p.is_file())
}
