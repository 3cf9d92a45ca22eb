//! `cargo xtask`: release packaging for kubectl-coreweave. See plugin-manifest/README.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, ensure, Context, Result};
use xtask::{
    archive_name, host_os_arch, os_arch_of_target, pack, render, validate, Binaries, BINARY,
    COMPLETER_SCRIPT, NETWORK_BINARY, PLACEHOLDER_SHA256, TEMPLATE_PATH,
};

const USAGE: &str = "\
usage:
  cargo xtask dist [--target TRIPLE] [--builder cargo|cross|zigbuild] [--bin-dir DIR]
                   [--out DIR] [--sha256 OS_ARCH=HEX]...
      Build both executables, kubectl-coreweave and coreweave-net, with `cargo build
      --release --locked` for the host or TRIPLE (unless --bin-dir names a folder that
      holds both already built, named as cargo names them: .exe for a Windows TRIPLE),
      pack them into kubectl-coreweave_v<version>_<os>_<arch>.tar.gz (.zip on Windows)
      in --out (default <target-dir>/dist) with a .sha256 file beside it, and render
      krew.yaml there for it (other platforms: --sha256 values, else 64 zeros).
  cargo xtask render [--version vX.Y.Z] [--sha256 OS_ARCH=HEX]... [--require-all]
                     [--template PATH] [--out PATH]
      Render the krew manifest from plugin-manifest/coreweave.yaml.tmpl (stdout unless
      --out). --version must equal Cargo.toml's version with a 'v'.
  cargo xtask check-manifest [--release] PATH...
      Validate manifests by krew's rules; --release also refuses placeholder sha256s.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode> {
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return Ok(ExitCode::from(2));
    };
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    match cmd.as_str() {
        "dist" => dist(rest),
        "render" => render_cmd(rest),
        "check-manifest" => check_manifest(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => {
            eprint!("error: unknown command {other:?}\n{USAGE}");
            Ok(ExitCode::from(2))
        }
    }
}

/// A tiny option reader: `--flag VALUE`, `--flag=VALUE`, repeated flags, bare switches.
struct Opts {
    values: BTreeMap<String, Vec<String>>,
    switches: Vec<String>,
    positional: Vec<String>,
}

fn parse_opts(args: &[String], with_value: &[&str], switches: &[&str]) -> Result<Opts> {
    let mut o = Opts {
        values: BTreeMap::new(),
        switches: Vec::new(),
        positional: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(flag) = a.strip_prefix("--") {
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            if with_value.contains(&name) {
                let v = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .with_context(|| format!("--{name} needs a value"))?
                        .clone(),
                };
                o.values.entry(name.to_string()).or_default().push(v);
            } else if switches.contains(&name) && inline.is_none() {
                o.switches.push(name.to_string());
            } else {
                bail!("unknown option --{name}\n{USAGE}");
            }
        } else {
            o.positional.push(a.clone());
        }
    }
    Ok(o)
}

impl Opts {
    fn one(&self, name: &str) -> Result<Option<&str>> {
        match self.values.get(name).map(Vec::as_slice) {
            None => Ok(None),
            Some([v]) => Ok(Some(v.as_str())),
            Some(_) => bail!("--{name} given more than once"),
        }
    }
    fn many(&self, name: &str) -> &[String] {
        self.values.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
    fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }
}

fn parse_shas(flags: &[String]) -> Result<BTreeMap<String, String>> {
    let mut shas = BTreeMap::new();
    for f in flags {
        let (key, hex) = f
            .split_once('=')
            .with_context(|| format!("--sha256 {f:?}: want OS_ARCH=HEX, e.g. linux_amd64=ab12…"))?;
        if shas
            .insert(key.to_string(), hex.to_ascii_lowercase())
            .is_some()
        {
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

fn dist(args: &[String]) -> Result<ExitCode> {
    let o = parse_opts(
        args,
        &["target", "builder", "bin-dir", "binary", "out", "sha256"],
        &[],
    )?;
    ensure!(
        o.one("binary")?.is_none(),
        "--binary is gone: the archive carries two executables; give --bin-dir DIR, the \
         folder that holds {BINARY} and {NETWORK_BINARY}"
    );
    ensure!(
        o.positional.is_empty(),
        "unexpected argument {:?}",
        o.positional[0]
    );
    let (target_dir, cargo_version) = cargo_metadata()?;
    let version = format!("v{cargo_version}");
    let target = o.one("target")?;
    let (os, arch) = match target {
        Some(t) => os_arch_of_target(t)?,
        None => host_os_arch()?,
    };

    let bin_dir = match o.one("bin-dir")? {
        Some(d) => {
            ensure!(
                o.one("builder")?.is_none(),
                "--builder builds; --bin-dir names executables already built: give one"
            );
            PathBuf::from(d)
        }
        None => {
            let builder = o.one("builder")?.unwrap_or("cargo");
            let (program, mut argv): (String, Vec<&str>) = match builder {
                "cargo" => (cargo(), vec!["build"]),
                "zigbuild" => (cargo(), vec!["zigbuild"]),
                "cross" => ("cross".into(), vec!["build"]),
                other => bail!("--builder {other:?}: cargo, cross or zigbuild"),
            };
            argv.extend([
                "--release",
                "--locked",
                "--package",
                BINARY,
                "--bin",
                BINARY,
                "--bin",
                NETWORK_BINARY,
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
            p.join("release")
        }
    };
    let binaries = Binaries::in_dir(&bin_dir, os)?;

    let out_dir = match o.one("out")? {
        Some(d) => PathBuf::from(d),
        None => target_dir.join("dist"),
    };
    let completer = (os != "windows").then_some(COMPLETER_SCRIPT);
    let root = workspace_root();
    let archive = pack(
        &binaries,
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

    let mut shas = parse_shas(o.many("sha256"))?;
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

    for exe in [&binaries.plugin, &binaries.network] {
        let size = std::fs::metadata(exe)
            .with_context(|| format!("cannot read {}", exe.display()))?
            .len();
        println!("binary   {} ({size} bytes)", exe.display());
    }
    println!("archive  {}", archive.path.display());
    println!("sha256   {}", archive.sha256);
    println!("manifest {}", manifest_path.display());
    Ok(ExitCode::SUCCESS)
}

fn render_cmd(args: &[String]) -> Result<ExitCode> {
    let o = parse_opts(
        args,
        &["version", "sha256", "template", "out"],
        &["require-all"],
    )?;
    ensure!(
        o.positional.is_empty(),
        "unexpected argument {:?}",
        o.positional[0]
    );
    let (_, cargo_version) = cargo_metadata()?;
    let version = match o.one("version")? {
        Some(v) => {
            ensure!(
                v == format!("v{cargo_version}"),
                "--version {v} differs from Cargo.toml's version {cargo_version} (tag and \
                 Cargo.toml must agree: bump Cargo.toml, or tag v{cargo_version})"
            );
            v.to_string()
        }
        None => format!("v{cargo_version}"),
    };
    let template_path = match o.one("template")? {
        Some(t) => PathBuf::from(t),
        None => workspace_root().join(TEMPLATE_PATH),
    };
    let template = read(&template_path)?;
    let shas = parse_shas(o.many("sha256"))?;
    if o.switch("require-all") {
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
    match o.one("out")? {
        Some(p) => std::fs::write(p, &manifest).with_context(|| format!("cannot write {p}"))?,
        None => print!("{manifest}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn check_manifest(args: &[String]) -> Result<ExitCode> {
    let o = parse_opts(args, &[], &["release"])?;
    ensure!(
        !o.positional.is_empty(),
        "check-manifest needs a manifest path\n{USAGE}"
    );
    let mut failed = false;
    for path in &o.positional {
        let text = read(Path::new(path))?;
        let mut errs = validate(&text).err().unwrap_or_default();
        if errs.is_empty() {
            let (name, _) = xtask::manifest_name_version(&text)?;
            // In an index the file must be plugins/<name>.yaml; a release asset is krew.yaml.
            let stem = Path::new(path)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("");
            if stem != "krew" && stem != name {
                errs.push(format!(
                    "the file is named {stem:?}.yaml but the plugin is {name:?}: krew reads \
                     plugins/{name}.yaml"
                ));
            }
        }
        if o.switch("release") && text.contains(PLACEHOLDER_SHA256) {
            errs.push(
                "a sha256 is the placeholder of 64 zeros: render with every platform's \
                 --sha256 before releasing"
                    .into(),
            );
        }
        if errs.is_empty() {
            println!("{path}: ok");
        } else {
            failed = true;
            eprintln!("{path}: {} problem(s):", errs.len());
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

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
