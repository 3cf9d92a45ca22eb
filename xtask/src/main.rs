//! `cargo xtask`: release packaging for kubectl-coreweave: build and pack an archive,
//! render and check the krew manifest, smoke-test an archive on the machine it is for.
//! See plugin-manifest/README.md. This file parses options (clap) and runs cargo; the
//! work is in the library.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, ensure, Context, Result};
use clap::{Args, Parser, ValueEnum};
use xtask::{
    archive_name, host_os_arch, os_arch_of_target, pack, render, smoke, validate, KrewMode, BINARY,
    COMPLETER_SCRIPT, PLACEHOLDER_SHA256, SAMPLE_KUBECONFIG, TEMPLATE_PATH,
};

/// Release packaging for kubectl-coreweave (see plugin-manifest/README.md)
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    disable_version_flag = true
)]
enum Cli {
    /// Build (or take --binary), pack one platform's archive, render krew.yaml for it
    ///
    /// Builds kubectl-coreweave with `cargo build --release --locked` for this machine or
    /// --target (or takes --binary, already built), packs it into
    /// kubectl-coreweave_v<version>_<os>_<arch>.tar.gz (.zip for Windows) with a .sha256
    /// file beside it, and renders krew.yaml for it (other platforms: --sha256 values, else
    /// 64 zeros).
    Dist(DistArgs),
    /// Render the krew manifest from plugin-manifest/coreweave.yaml.tmpl (stdout unless --out)
    Render(RenderArgs),
    /// Validate manifests by krew's rules
    CheckManifest(CheckArgs),
    /// Smoke-test this machine's release archive as a user would run it
    ///
    /// Unpacks the archive and runs version, token show --raw and token rotate --verify
    /// none --from-stdin on a copy of examples/coreweave-kubeconfig.yaml, completion bash,
    /// then installs it with `kubectl krew install --manifest --archive` and runs
    /// `kubectl coreweave version`. Prints `smoke ok: <step>` after each step.
    Smoke(SmokeArgs),
}

#[derive(Debug, Args)]
struct DistArgs {
    /// Rust target triple to build and pack for [default: this machine]
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// What builds the release binary [default: cargo]
    #[arg(long, value_enum, conflicts_with = "binary")]
    builder: Option<Builder>,
    /// Pack this kubectl-coreweave executable, already built for --target (or this
    /// machine), instead of building one
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
    /// Where the archive, its .sha256 and krew.yaml go [default: <cargo target dir>/dist]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The sha256 of another platform's archive, for krew.yaml (repeatable)
    #[arg(long = "sha256", value_name = "OS_ARCH=HEX", value_parser = parse_sha)]
    sha256: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Builder {
    Cargo,
    Cross,
    Zigbuild,
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// The release version; must equal Cargo.toml's version with a 'v' [default: that]
    #[arg(long, value_name = "vX.Y.Z")]
    version: Option<String>,
    /// A platform's archive sha256 (repeatable)
    #[arg(long = "sha256", value_name = "OS_ARCH=HEX", value_parser = parse_sha)]
    sha256: Vec<(String, String)>,
    /// Fail unless every platform of the template has a --sha256
    #[arg(long)]
    require_all: bool,
    /// The template [default: plugin-manifest/coreweave.yaml.tmpl]
    #[arg(long, value_name = "PATH")]
    template: Option<PathBuf>,
    /// Write the manifest here instead of stdout
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Also refuse placeholder sha256 values (64 zeros)
    #[arg(long)]
    release: bool,
    /// Manifests to check
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct SmokeArgs {
    /// The archive to test; it must be the one for this machine's OS and CPU
    #[arg(long, value_name = "PATH")]
    archive: PathBuf,
    /// The krew manifest to install with [default: the template rendered with this
    /// archive's sha256]
    #[arg(long, value_name = "PATH")]
    manifest: Option<PathBuf>,
    /// real: `kubectl krew install --manifest --archive` (krew on PATH as kubectl-krew);
    /// emulated: xtask's own copy of krew's install steps, for machines without krew
    #[arg(long, value_enum, default_value_t = KrewArg::Real)]
    krew: KrewArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KrewArg {
    Real,
    Emulated,
}

fn parse_sha(s: &str) -> Result<(String, String), String> {
    let (key, hex) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: want OS_ARCH=HEX, e.g. linux_amd64=ab12…"))?;
    Ok((key.to_string(), hex.to_ascii_lowercase()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = match cli {
        Cli::Dist(a) => dist(a),
        Cli::Render(a) => render_cmd(a),
        Cli::CheckManifest(a) => check_manifest(a),
        Cli::Smoke(a) => smoke_cmd(a),
    };
    match done {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn shas_map(given: Vec<(String, String)>) -> Result<BTreeMap<String, String>> {
    let mut shas = BTreeMap::new();
    for (key, hex) in given {
        if shas.insert(key.clone(), hex).is_some() {
            bail!("--sha256 {key}=… given more than once");
        }
    }
    Ok(shas)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Cargo's target directory (honours CARGO_TARGET_DIR and build.target-dir) and the
/// kubectl-coreweave package's version.
fn cargo_metadata() -> Result<(PathBuf, String)> {
    let out = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .current_dir(workspace_root())
        .output()
        .context("cannot run cargo metadata")?;
    ensure!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")?;
    let target_dir = meta["target_directory"]
        .as_str()
        .context("cargo metadata: no target_directory")?;
    let version = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == BINARY)
        .and_then(|p| p["version"].as_str())
        .with_context(|| format!("cargo metadata: no package {BINARY}"))?;
    Ok((PathBuf::from(target_dir), version.to_string()))
}

fn dist(a: DistArgs) -> Result<ExitCode> {
    let (target_dir, cargo_version) = cargo_metadata()?;
    let version = format!("v{cargo_version}");
    let target = a.target.as_deref();
    let (os, arch) = match target {
        Some(t) => os_arch_of_target(t)?,
        None => host_os_arch()?,
    };

    let binary = match a.binary {
        Some(b) => b,
        None => {
            let (program, mut argv): (String, Vec<&str>) = match a.builder.unwrap_or(Builder::Cargo)
            {
                Builder::Cargo => (cargo(), vec!["build"]),
                Builder::Zigbuild => (cargo(), vec!["zigbuild"]),
                Builder::Cross => ("cross".into(), vec!["build"]),
            };
            argv.extend([
                "--release",
                "--locked",
                "--package",
                BINARY,
                "--bin",
                BINARY,
            ]);
            if let Some(t) = target {
                argv.extend(["--target", t]);
            }
            eprintln!("running: {program} {}", argv.join(" "));
            let status = Command::new(&program)
                .args(&argv)
                .current_dir(workspace_root())
                .status()
                .with_context(|| format!("cannot run {program}"))?;
            ensure!(
                status.success(),
                "{program} {} failed ({status})",
                argv.join(" ")
            );
            let mut p = target_dir.clone();
            if let Some(t) = target {
                p.push(t);
            }
            p.join("release").join(xtask::binary_name(os))
        }
    };

    let out_dir = a.out.unwrap_or_else(|| target_dir.join("dist"));
    let completer = (os != "windows").then_some(COMPLETER_SCRIPT);
    let root = workspace_root();
    let archive = pack(
        &binary,
        &root.join("LICENSE"),
        completer,
        &out_dir,
        os,
        arch,
        &version,
    )?;
    let name = archive_name(&version, os, arch);
    let sha_file = out_dir.join(format!("{name}.sha256"));
    std::fs::write(&sha_file, format!("{}  {name}\n", archive.sha256))
        .with_context(|| format!("cannot write {}", sha_file.display()))?;

    let mut shas = shas_map(a.sha256)?;
    let key = format!("{os}_{arch}");
    if let Some(given) = shas.get(&key) {
        ensure!(
            *given == archive.sha256,
            "--sha256 {key}={given} differs from the archive just built ({})",
            archive.sha256
        );
    }
    shas.insert(key, archive.sha256.clone());
    let template = read(&root.join(TEMPLATE_PATH))?;
    let manifest = render(&template, &version, &shas)?;
    if let Err(errs) = validate(&manifest) {
        bail!(
            "the rendered manifest is not valid:\n  {}",
            errs.join("\n  ")
        );
    }
    let manifest_path = out_dir.join("krew.yaml");
    std::fs::write(&manifest_path, &manifest)
        .with_context(|| format!("cannot write {}", manifest_path.display()))?;

    let size = std::fs::metadata(&binary)
        .with_context(|| format!("cannot read {}", binary.display()))?
        .len();
    println!("binary   {} ({size} bytes)", binary.display());
    println!("archive  {}", archive.path.display());
    println!("sha256   {}", archive.sha256);
    println!("manifest {}", manifest_path.display());
    Ok(ExitCode::SUCCESS)
}

fn render_cmd(a: RenderArgs) -> Result<ExitCode> {
    let (_, cargo_version) = cargo_metadata()?;
    let version = match a.version {
        Some(v) => {
            ensure!(
                v == format!("v{cargo_version}"),
                "--version {v} differs from Cargo.toml's version {cargo_version} (tag and \
                 Cargo.toml must agree: bump Cargo.toml, or tag v{cargo_version})"
            );
            v
        }
        None => format!("v{cargo_version}"),
    };
    let template_path = a
        .template
        .unwrap_or_else(|| workspace_root().join(TEMPLATE_PATH));
    let template = read(&template_path)?;
    let shas = shas_map(a.sha256)?;
    if a.require_all {
        let missing: Vec<String> = xtask::template_platforms(&template)
            .into_iter()
            .map(|(os, arch)| format!("{os}_{arch}"))
            .filter(|k| !shas.contains_key(k))
            .collect();
        ensure!(
            missing.is_empty(),
            "--require-all: no --sha256 for {}",
            missing.join(", ")
        );
    }
    let manifest = render(&template, &version, &shas)?;
    if let Err(errs) = validate(&manifest) {
        bail!(
            "the rendered manifest is not valid:\n  {}",
            errs.join("\n  ")
        );
    }
    match a.out {
        Some(p) => std::fs::write(&p, &manifest)
            .with_context(|| format!("cannot write {}", p.display()))?,
        None => print!("{manifest}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn check_manifest(a: CheckArgs) -> Result<ExitCode> {
    let mut failed = false;
    for path in &a.paths {
        let text = read(path)?;
        let mut errs = validate(&text).err().unwrap_or_default();
        if errs.is_empty() {
            let (name, _) = xtask::manifest_name_version(&text)?;
            // In an index the file must be plugins/<name>.yaml; a release asset is krew.yaml.
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            if stem != "krew" && stem != name {
                errs.push(format!(
                    "the file is named {stem:?}.yaml but the plugin is {name:?}: krew reads \
                     plugins/{name}.yaml"
                ));
            }
        }
        if a.release && text.contains(PLACEHOLDER_SHA256) {
            errs.push(
                "a sha256 is the placeholder of 64 zeros: render with every platform's \
                 --sha256 before releasing"
                    .into(),
            );
        }
        if errs.is_empty() {
            println!("{}: ok", path.display());
        } else {
            failed = true;
            eprintln!("{}: {} problem(s):", path.display(), errs.len());
            for e in &errs {
                eprintln!("  - {e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn smoke_cmd(a: SmokeArgs) -> Result<ExitCode> {
    let (_, cargo_version) = cargo_metadata()?;
    let root = workspace_root();
    let manifest = a.manifest.as_deref().map(read).transpose()?;
    smoke(&xtask::SmokeInput {
        archive: &a.archive,
        version: &format!("v{cargo_version}"),
        template: &read(&root.join(TEMPLATE_PATH))?,
        manifest: manifest.as_deref(),
        sample: &root.join(SAMPLE_KUBECONFIG),
        krew: match a.krew {
            KrewArg::Real => KrewMode::Real,
            KrewArg::Emulated => KrewMode::Emulated,
        },
    })?;
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
