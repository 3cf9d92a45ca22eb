//! Release packaging for `kubectl-coreweave`: the archive krew installs (one executable,
//! the license and, on unix, the completion file), the krew manifest rendered from
//! `plugin-manifest/coreweave.yaml.tmpl`, a validator that applies krew's rules to a
//! manifest before it is published, and the smoke test each archive passes on its own
//! platform before a release (`smoke.rs`).
//!
//! Everything here is a plain function so the tests call it directly; `main.rs` only
//! parses arguments and runs cargo.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

mod smoke;
pub use smoke::{smoke, KrewMode, SmokeInput, SAMPLE_KUBECONFIG, SMOKE_STEPS};

/// The krew plugin name: `kubectl krew install coreweave`, `kubectl coreweave …`.
pub const PLUGIN_NAME: &str = "coreweave";
/// The plugin's executable (plus `.exe` on Windows).
pub const BINARY: &str = "kubectl-coreweave";
/// The executable kubectl (1.26 or later) runs to complete `kubectl coreweave <TAB>`.
pub const COMPLETER: &str = "kubectl_complete-coreweave";
/// What the completion file in the unix archives holds.
pub const COMPLETER_SCRIPT: &str = "#!/bin/sh\nexec kubectl-coreweave __complete \"$@\"\n";
/// The only apiVersion and kind krew reads.
pub const KREW_API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";
pub const KREW_KIND: &str = "Plugin";
/// A sha256 that stands for an archive not built when the manifest was rendered.
pub const PLACEHOLDER_SHA256: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";
/// Where the template lives, relative to the workspace root.
pub const TEMPLATE_PATH: &str = "plugin-manifest/coreweave.yaml.tmpl";

/// The five platforms a release ships, with the Rust target each is built for.
/// Linux builds are static (musl) so one archive runs on every distribution.
pub const RELEASE_PLATFORMS: [ReleasePlatform; 5] = [
    ReleasePlatform {
        os: "linux",
        arch: "amd64",
        target: "x86_64-unknown-linux-musl",
    },
    ReleasePlatform {
        os: "linux",
        arch: "arm64",
        target: "aarch64-unknown-linux-musl",
    },
    ReleasePlatform {
        os: "darwin",
        arch: "amd64",
        target: "x86_64-apple-darwin",
    },
    ReleasePlatform {
        os: "darwin",
        arch: "arm64",
        target: "aarch64-apple-darwin",
    },
    ReleasePlatform {
        os: "windows",
        arch: "amd64",
        target: "x86_64-pc-windows-msvc",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleasePlatform {
    pub os: &'static str,
    pub arch: &'static str,
    pub target: &'static str,
}

/// krew's `os`/`arch` labels (Go's GOOS/GOARCH) for a Rust target triple.
pub fn os_arch_of_target(triple: &str) -> Result<(&'static str, &'static str)> {
    let arch = match triple.split('-').next().unwrap_or("") {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i686" | "i586" => "386",
        "armv7" | "arm" => "arm",
        "powerpc64le" => "ppc64le",
        "s390x" => "s390x",
        other => bail!("target {triple:?}: no krew arch for CPU {other:?}"),
    };
    let os = if triple.contains("-linux-") || triple.ends_with("-linux") {
        "linux"
    } else if triple.contains("-apple-darwin") {
        "darwin"
    } else if triple.contains("-windows-") || triple.ends_with("-windows") {
        "windows"
    } else {
        bail!("target {triple:?}: no krew os for it (linux, darwin or windows)")
    };
    Ok((os, arch))
}

/// krew's `os`/`arch` labels for the machine running this program.
pub fn host_os_arch() -> Result<(&'static str, &'static str)> {
    let os = match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        "windows" => "windows",
        other => bail!("no krew os label for host OS {other:?}"),
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => bail!("no krew arch label for host CPU {other:?}"),
    };
    Ok((os, arch))
}

/// `kubectl-coreweave_v0.1.0_linux_amd64.tar.gz`, `.zip` for Windows.
pub fn archive_name(version: &str, os: &str, arch: &str) -> String {
    let ext = if os == "windows" { "zip" } else { "tar.gz" };
    format!("{BINARY}_{version}_{os}_{arch}.{ext}")
}

/// The plugin executable's name inside the archive for `os`: the name cargo gives it there.
pub fn binary_name(os: &str) -> String {
    exe_name(BINARY, os)
}

/// An executable's file name on `os`: `.exe` added on Windows.
pub fn exe_name(base: &str, os: &str) -> String {
    if os == "windows" {
        format!("{base}.exe")
    } else {
        base.to_string()
    }
}

/// A packed release archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub path: PathBuf,
    /// Lowercase hex, as krew's manifest wants it.
    pub sha256: String,
}

/// Lowercase hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The archive's timestamp: `SOURCE_DATE_EPOCH` when set (the release workflow sets the
/// tag commit's time), else 1980-01-01, the earliest a zip can hold. Fixed, so the same
/// inputs give the same archive and the same sha256.
fn archive_mtime() -> Result<u64> {
    const ZIP_EPOCH: u64 = 315_532_800; // 1980-01-01T00:00:00Z
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if !s.trim().is_empty() => {
            let t: u64 = s
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={s:?} is not a number of seconds"))?;
            Ok(t.max(ZIP_EPOCH))
        }
        _ => Ok(ZIP_EPOCH),
    }
}

/// Packs the files the manifest's `files` name for one platform into
/// `out_dir/kubectl-coreweave_<version>_<os>_<arch>.tar.gz` (`.zip` on Windows):
/// `kubectl-coreweave[.exe]` (mode 0755, so named whatever the input file is called),
/// `LICENSE` (0644) and, on unix only, `kubectl_complete-coreweave` holding `completer`
/// (0755). Entries sit at the archive's root, owned by 0:0, in that order, with a fixed
/// timestamp.
pub fn pack(
    binary: &Path,
    license: &Path,
    completer: Option<&str>,
    out_dir: &Path,
    os: &str,
    arch: &str,
    version: &str,
) -> Result<Archive> {
    ensure!(
        version.starts_with('v'),
        "version {version:?} must start with 'v' (krew's spec.version form)"
    );
    ensure!(
        matches!(os, "linux" | "darwin" | "windows"),
        "os {os:?} is not one of linux, darwin, windows"
    );
    ensure!(!arch.is_empty(), "arch is empty");
    let bin =
        fs::read(binary).with_context(|| format!("cannot read binary {}", binary.display()))?;
    ensure!(!bin.is_empty(), "binary {} is empty", binary.display());
    let lic = fs::read(license).with_context(|| format!("cannot read {}", license.display()))?;
    ensure!(
        !lic.is_empty(),
        "license file {} is empty",
        license.display()
    );

    let mut entries: Vec<(String, Vec<u8>, u32)> = vec![
        (binary_name(os), bin, 0o755),
        ("LICENSE".into(), lic, 0o644),
    ];
    match (os, completer) {
        ("windows", Some(_)) => {
            bail!("the Windows archive has no {COMPLETER} (kubectl on Windows cannot run a sh script)")
        }
        ("windows", None) => {}
        (_, Some(script)) => {
            ensure!(
                script.starts_with("#!/bin/sh\n"),
                "{COMPLETER} must be a POSIX sh script starting with #!/bin/sh"
            );
            entries.push((COMPLETER.into(), script.as_bytes().to_vec(), 0o755));
        }
        (_, None) => bail!("the {os} archive must carry {COMPLETER}; none given"),
    }

    fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create output folder {}", out_dir.display()))?;
    let name = archive_name(version, os, arch);
    let path = out_dir.join(&name);
    let partial = out_dir.join(format!(".{name}.partial"));
    let mtime = archive_mtime()?;
    let file =
        File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let written = if os == "windows" {
        write_zip(file, &entries, mtime)
    } else {
        write_tar_gz(file, &entries, mtime)
    };
    if let Err(e) = written {
        let _ = fs::remove_file(&partial);
        return Err(e.context(format!("cannot write {}", path.display())));
    }
    fs::rename(&partial, &path)
        .with_context(|| format!("cannot move {} to {}", partial.display(), path.display()))?;
    let sha256 = sha256_file(&path)?;
    Ok(Archive { path, sha256 })
}

fn write_tar_gz(file: File, entries: &[(String, Vec<u8>, u32)], mtime: u64) -> Result<()> {
    // mtime 0 and no file name in the gzip header: the bytes depend on the content only.
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(io::BufWriter::new(file), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    for (name, data, mode) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root")?;
        header.set_groupname("root")?;
        tar.append_data(&mut header, name, data.as_slice())?;
    }
    let gz = tar.into_inner()?;
    let mut buf = gz.finish()?;
    buf.flush()?;
    buf.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

fn write_zip(file: File, entries: &[(String, Vec<u8>, u32)], mtime: u64) -> Result<()> {
    let (y, mo, d, h, mi, s) = civil_from_unix(mtime);
    let when = zip::DateTime::from_date_and_time(y, mo, d, h, mi, s)
        .map_err(|e| anyhow::anyhow!("timestamp {mtime} does not fit a zip: {e:?}"))?;
    let mut zip = zip::ZipWriter::new(io::BufWriter::new(file));
    for (name, data, mode) in entries {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(when)
            .unix_permissions(*mode);
        zip.start_file(name.as_str(), options)?;
        zip.write_all(data)?;
    }
    let mut buf = zip.finish()?;
    buf.flush()?;
    buf.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// UTC (year, month, day, hour, minute, second) of a unix time, years clamped to what a
/// zip can store (1980..=2107).
fn civil_from_unix(t: u64) -> (u16, u8, u8, u8, u8, u8) {
    let days = (t / 86_400) as i64;
    let secs = t % 86_400;
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let mut y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    if m <= 2 {
        y += 1;
    }
    let y = y.clamp(1980, 2107) as u16;
    (
        y,
        m,
        d,
        (secs / 3600) as u8,
        ((secs % 3600) / 60) as u8,
        (secs % 60) as u8,
    )
}

// ---------------------------------------------------------------------------------------
// Rendering the manifest

/// The `(os, arch)` pairs the template has a `{{SHA256_<os>_<arch>}}` placeholder for, in
/// template order.
pub fn template_platforms(template: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{SHA256_") {
        rest = &rest[i + "{{SHA256_".len()..];
        let Some(end) = rest.find("}}") else { break };
        if let Some((os, arch)) = rest[..end].split_once('_') {
            let pair = (os.to_string(), arch.to_string());
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
        rest = &rest[end..];
    }
    out
}

/// Renders the template: `{{VERSION}}` becomes `version` (`v0.1.0`) and each
/// `{{SHA256_<os>_<arch>}}` the sha256 given for `"<os>_<arch>"` in `shas`, or 64 zeros
/// when none is given. A comment at the top says which sha256 values are placeholders.
///
/// Fails on a version krew would refuse, a key in `shas` that names no platform of the
/// template, a sha256 that is not 64 hex digits, or a placeholder left unreplaced.
pub fn render(template: &str, version: &str, shas: &BTreeMap<String, String>) -> Result<String> {
    check_version(version).map_err(|e| anyhow::anyhow!("version {version:?}: {e}"))?;
    let platforms = template_platforms(template);
    ensure!(
        !platforms.is_empty(),
        "the template has no {{{{SHA256_<os>_<arch>}}}} placeholder"
    );
    let keys: Vec<String> = platforms.iter().map(|(o, a)| format!("{o}_{a}")).collect();
    for (key, sha) in shas {
        ensure!(
            keys.contains(key),
            "--sha256 {key}=…: the template has no platform {key} (it has {})",
            keys.join(", ")
        );
        ensure!(
            is_sha256(sha) && sha != PLACEHOLDER_SHA256,
            "sha256 for {key} is {sha:?}: not 64 lowercase hex digits"
        );
    }
    let mut body = template.replace("{{VERSION}}", version);
    for key in &keys {
        let sha = shas
            .get(key)
            .map(String::as_str)
            .unwrap_or(PLACEHOLDER_SHA256);
        body = body.replace(&format!("{{{{SHA256_{key}}}}}"), sha);
    }
    if let Some(i) = body.find("{{") {
        let line = body[i..].lines().next().unwrap_or("");
        bail!("placeholder left unreplaced in the template: {line}");
    }

    let label = |k: &String| k.replacen('_', "/", 1);
    let real: Vec<String> = keys
        .iter()
        .filter(|k| shas.contains_key(*k))
        .map(label)
        .collect();
    let missing: Vec<String> = keys
        .iter()
        .filter(|k| !shas.contains_key(*k))
        .map(label)
        .collect();
    let mut header = String::from(
        "# krew plugin manifest for kubectl-coreweave, rendered from\n\
         # plugin-manifest/coreweave.yaml.tmpl by `cargo xtask` (do not edit by hand).\n",
    );
    if missing.is_empty() {
        header.push_str("# Every sha256 below is that of the archive given for its platform.\n");
    } else {
        let mut text = String::from("NOT INSTALLABLE AS IS. ");
        if real.is_empty() {
            text.push_str("No platform has a real sha256 here. ");
        } else {
            text.push_str(&format!(
                "Only {} {} a real sha256 here: that of the archive given when rendering \
                 (for `cargo xtask dist`, the archive it built on that machine), which is not \
                 the asset a release publishes at the uri. ",
                real.join(", "),
                if real.len() == 1 { "has" } else { "have" },
            ));
        }
        text.push_str(&format!(
            "The sha256 of {} {} placeholders (64 zeros): krew refuses to install {}. \
             The release workflow (.github/workflows/release.yml) builds all {} archives on a \
             `v*` tag, renders the real manifest with their sha256 values, validates it and \
             attaches it to the GitHub release as krew.yaml: that file is the one to submit \
             to krew-index or to publish in a custom index.",
            missing.join(", "),
            if missing.len() == 1 { "is a" } else { "are" },
            if missing.len() == 1 { "it" } else { "them" },
            keys.len(),
        ));
        header.push_str("#\n");
        header.push_str(&wrap_comment(&text, 80));
    }
    Ok(format!("{header}{body}"))
}

/// `text` as `# ` comment lines of at most `width` columns.
fn wrap_comment(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 1 && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// krew's version rule: a leading `v`, then semver as Kubernetes'
/// `version.ParseSemantic` reads it (exactly three numbers without leading zeros, an
/// optional `-pre.release` and `+build`).
pub fn check_version(v: &str) -> std::result::Result<(), String> {
    let Some(rest) = v.strip_prefix('v') else {
        return Err("does not start with 'v'".into());
    };
    let b = rest.as_bytes();
    let mut i = 0;
    let mut components = Vec::new();
    loop {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err("is not semver (MAJOR.MINOR.PATCH)".into());
        }
        components.push(&rest[start..i]);
        if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            i += 1;
        } else {
            break;
        }
    }
    if components.len() != 3 {
        return Err(format!(
            "is not semver: {} numeric components, 3 wanted (MAJOR.MINOR.PATCH)",
            components.len()
        ));
    }
    for c in &components {
        if c.len() > 1 && c.starts_with('0') {
            return Err(format!("is not semver: {c:?} has a leading zero"));
        }
        if c.parse::<u64>().is_err() {
            return Err(format!("is not semver: {c:?} is too large"));
        }
    }
    let extra = &rest[i..];
    let ident_list = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
    };
    let (pre_and_build, ok) = match extra.split_once('+') {
        Some((pre, build)) => (pre, ident_list(build)),
        None => (extra, true),
    };
    let ok =
        ok && (pre_and_build.is_empty() || pre_and_build.strip_prefix('-').is_some_and(ident_list));
    if !ok {
        return Err(format!(
            "is not semver: bad pre-release or build part {extra:?}"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Validating a manifest

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<Metadata>,
    spec: Option<Spec>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Spec {
    version: Option<String>,
    homepage: Option<String>,
    #[serde(rename = "shortDescription")]
    short_description: Option<String>,
    description: Option<String>,
    caveats: Option<String>,
    platforms: Option<Vec<Platform>>,
}

#[derive(Debug, Deserialize)]
struct Platform {
    selector: Option<Selector>,
    uri: Option<String>,
    sha256: Option<String>,
    bin: Option<String>,
    files: Option<Vec<FileOp>>,
}

#[derive(Debug, Deserialize)]
struct Selector {
    #[serde(rename = "matchLabels")]
    match_labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "matchExpressions")]
    match_expressions: Option<Vec<Requirement>>,
}

#[derive(Debug, Deserialize)]
struct Requirement {
    key: String,
    operator: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct FileOp {
    from: Option<String>,
    to: Option<String>,
}

/// The `(os, arch)` pairs krew's own manifest check (cmd/validate-krew-manifest)
/// tries selectors against.
pub const KREW_PLATFORMS: [(&str, &str); 12] = [
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("linux", "s390x"),
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
];

const WINDOWS_RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

fn parse_manifest(text: &str) -> std::result::Result<Manifest, String> {
    // `no_schema`: an unquoted value that YAML would read as a number, boolean or null is
    // an error, as it is for krew, whose Go YAML reader turns `sha256: 0123…` or
    // `arch: 386` into a number and then fails to fill a string field with it.
    let options = serde_saphyr::options! { no_schema: true };
    serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| format!("not a krew manifest (YAML that fits the Plugin type): {e}"))
}

/// Checks a manifest against krew's rules and returns every problem found.
///
/// Rules from krew's code (internal/index/validation/validate.go, the semver package,
/// installation/move.go and install.go, cmd/validate-krew-manifest): apiVersion, kind,
/// name `^[\w-]+$` and not a Windows device name, non-empty one-line shortDescription,
/// `v`-prefixed semver version, at least one platform; per platform uri, sha256
/// `^[a-f0-9]{64}$`, bin, `files` absent or non-empty with `from`/`to` set and `to` a
/// clean path, a non-empty selector on `os`/`arch` only that matches a platform krew
/// knows, no two platforms selecting the same os/arch, and `bin` inside the plugin's
/// folder. Rules from krew-index review, enforced here so a submission is not sent back:
/// shortDescription at most 50 characters, description and caveats lines at most 80
/// columns (a line that is one word, such as a URL, may be longer, as in krew's check),
/// no usage examples in description, an http(s) homepage, an https uri ending in
/// `.tar.gz`, `.tgz` or `.zip`, `bin` one of the files the `files` operations install,
/// and a Windows `bin` ending in `.exe`.
pub fn validate(manifest_text: &str) -> std::result::Result<(), Vec<String>> {
    let m = parse_manifest(manifest_text).map_err(|e| vec![e])?;
    let mut errs = Vec::new();

    match m.api_version.as_deref() {
        Some(KREW_API_VERSION) => {}
        other => errs.push(format!(
            "apiVersion is {other:?}; krew reads only {KREW_API_VERSION:?}"
        )),
    }
    match m.kind.as_deref() {
        Some(KREW_KIND) => {}
        other => errs.push(format!("kind is {other:?}; krew reads only {KREW_KIND:?}")),
    }
    match m.metadata.as_ref().and_then(|md| md.name.as_deref()) {
        None | Some("") => errs.push("metadata.name is missing".into()),
        Some(name) => {
            let word = name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
            if !word {
                errs.push(format!(
                    "metadata.name {name:?} is not allowed: it must match ^[\\w-]+$"
                ));
            } else if WINDOWS_RESERVED
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name))
            {
                errs.push(format!(
                    "metadata.name {name:?} is a reserved file name on Windows"
                ));
            }
        }
    }

    let Some(spec) = m.spec.as_ref() else {
        errs.push("spec is missing".into());
        return Err(errs);
    };

    match spec.version.as_deref() {
        None | Some("") => errs.push("spec.version is missing".into()),
        Some(v) => {
            if let Err(e) = check_version(v) {
                errs.push(format!("spec.version {v:?} {e}"));
            }
        }
    }

    match spec.homepage.as_deref() {
        None | Some("") => errs.push("spec.homepage is missing (krew-index asks for one)".into()),
        Some(h) if !(h.starts_with("https://") || h.starts_with("http://")) => {
            errs.push(format!("spec.homepage {h:?} is not an http(s) URL"))
        }
        Some(_) => {}
    }

    match spec.short_description.as_deref() {
        None | Some("") => errs.push("spec.shortDescription is missing".into()),
        Some(s) => {
            if s.contains(['\r', '\n']) {
                errs.push("spec.shortDescription has a line break; it must be one line".into());
            }
            let n = s.trim_end_matches(['\r', '\n']).chars().count();
            if n > 50 {
                errs.push(format!(
                    "spec.shortDescription is {n} characters; krew-index asks for at most 50"
                ));
            }
        }
    }

    match spec.description.as_deref() {
        None | Some("") => errs.push("spec.description is missing".into()),
        Some(d) => {
            long_lines("spec.description", d, &mut errs);
            for (i, line) in d.lines().enumerate() {
                let t = line.trim_start();
                if t.starts_with("$ ") || t.starts_with("kubectl ") {
                    errs.push(format!(
                        "spec.description line {} looks like a usage example ({t:?}); krew-index \
                         wants none in the description (put them in caveats or the homepage)",
                        i + 1
                    ));
                }
            }
        }
    }
    if let Some(c) = spec.caveats.as_deref() {
        long_lines("spec.caveats", c, &mut errs);
    }

    let platforms = spec.platforms.as_deref().unwrap_or(&[]);
    if platforms.is_empty() {
        errs.push("spec.platforms is empty; at least one platform is needed".into());
    }
    for (i, p) in platforms.iter().enumerate() {
        validate_platform(&format!("spec.platforms[{i}]"), p, &mut errs);
    }
    for (os, arch) in KREW_PLATFORMS {
        let matching: Vec<usize> = platforms
            .iter()
            .enumerate()
            .filter(|(_, p)| p.selector.as_ref().is_some_and(|s| selects(s, os, arch)))
            .map(|(i, _)| i)
            .collect();
        if matching.len() > 1 {
            errs.push(format!(
                "spec.platforms {matching:?} overlap: their selectors all select os={os} arch={arch}"
            ));
        }
    }

    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

fn long_lines(field: &str, text: &str, errs: &mut Vec<String>) {
    for (i, line) in text.lines().enumerate() {
        let n = line.chars().count();
        if n > 80 && line.trim().contains(' ') {
            errs.push(format!(
                "{field} line {} is {n} columns; wrap it at 80: {line:?}",
                i + 1
            ));
        }
    }
}

fn validate_platform(at: &str, p: &Platform, errs: &mut Vec<String>) {
    match p.uri.as_deref() {
        None | Some("") => errs.push(format!("{at}: `uri` has to be set")),
        Some(u) => {
            if !u.starts_with("https://") {
                errs.push(format!("{at}: uri {u:?} is not https"));
            }
            if ![".tar.gz", ".tgz", ".zip"].iter().any(|e| u.ends_with(e)) {
                errs.push(format!(
                    "{at}: uri {u:?} does not end in .tar.gz, .tgz or .zip"
                ));
            }
        }
    }
    match p.sha256.as_deref() {
        None | Some("") => errs.push(format!("{at}: `sha256` has to be set")),
        Some(s) if !is_sha256(s) => errs.push(format!(
            "{at}: sha256 {s:?} is not valid: it must match ^[a-f0-9]{{64}}$"
        )),
        Some(_) => {}
    }

    let mut windows_only = false;
    match p.selector.as_ref() {
        None => errs.push(format!(
            "{at}: selector is missing (nil selector is not supported)"
        )),
        Some(sel) => {
            let labels_empty = sel.match_labels.as_ref().is_none_or(|l| l.is_empty());
            let exprs_empty = sel.match_expressions.as_ref().is_none_or(|e| e.is_empty());
            if labels_empty && exprs_empty {
                errs.push(format!("{at}: empty selector is not supported"));
            } else {
                if sel.match_labels.as_ref().is_some_and(|l| l.is_empty()) {
                    errs.push(format!("{at}: `matchLabels` specified but empty"));
                }
                if sel.match_expressions.as_ref().is_some_and(|e| e.is_empty()) {
                    errs.push(format!("{at}: `matchExpressions` specified but empty"));
                }
                let keys = sel
                    .match_labels
                    .iter()
                    .flat_map(|l| l.keys().cloned())
                    .chain(
                        sel.match_expressions
                            .iter()
                            .flatten()
                            .map(|r| r.key.clone()),
                    );
                let mut keys_ok = true;
                for k in keys {
                    if k != "os" && k != "arch" {
                        errs.push(format!("{at}: selector key {k:?} not supported (os, arch)"));
                        keys_ok = false;
                    }
                }
                for r in sel.match_expressions.iter().flatten() {
                    if !matches!(
                        r.operator.as_str(),
                        "In" | "NotIn" | "Exists" | "DoesNotExist"
                    ) {
                        errs.push(format!(
                            "{at}: selector operator {:?} not supported",
                            r.operator
                        ));
                        keys_ok = false;
                    }
                }
                let matched: Vec<(&str, &str)> = KREW_PLATFORMS
                    .iter()
                    .copied()
                    .filter(|(os, arch)| selects(sel, os, arch))
                    .collect();
                if keys_ok && matched.is_empty() {
                    errs.push(format!(
                        "{at}: selector matches no platform krew supports (os/arch pairs \
                         such as linux/amd64, darwin/arm64, windows/amd64)"
                    ));
                }
                windows_only =
                    !matched.is_empty() && matched.iter().all(|(os, _)| *os == "windows");
            }
        }
    }

    let bin = match p.bin.as_deref() {
        None | Some("") => {
            errs.push(format!("{at}: `bin` has to be set"));
            None
        }
        Some(b) => match clean_relative(b) {
            Some(c) => Some(c),
            None => {
                errs.push(format!(
                    "{at}: bin {b:?} must be a relative path inside the plugin's folder"
                ));
                None
            }
        },
    };
    if let (true, Some(b)) = (windows_only, bin.as_deref()) {
        if !b.ends_with(".exe") {
            errs.push(format!("{at}: the Windows bin {b:?} does not end in .exe"));
        }
    }

    let Some(files) = p.files.as_ref() else {
        // krew's default is `from: "*", to: "."`: every file of the archive.
        return;
    };
    if files.is_empty() {
        errs.push(format!("{at}: `files` has to be unspecified or non-empty"));
        return;
    }
    let mut targets: Vec<String> = Vec::new();
    let mut files_ok = true;
    for (j, f) in files.iter().enumerate() {
        let (from, to) = match (f.from.as_deref(), f.to.as_deref()) {
            (None | Some(""), _) => {
                errs.push(format!("{at}.files[{j}]: `from` field has to be set"));
                files_ok = false;
                continue;
            }
            (_, None | Some("")) => {
                errs.push(format!("{at}.files[{j}]: `to` field has to be set"));
                files_ok = false;
                continue;
            }
            (Some(from), Some(to)) => (from, to),
        };
        match clean_relative(to) {
            Some(c) if c == to => {}
            Some(c) => {
                errs.push(format!(
                    "{at}.files[{j}]: `to` {to:?} is not a clean path; krew wants {c:?}"
                ));
                files_ok = false;
                continue;
            }
            None => {
                errs.push(format!(
                    "{at}.files[{j}]: `to` {to:?} leaves the plugin's folder"
                ));
                files_ok = false;
                continue;
            }
        }
        let base = from.rsplit('/').next().unwrap_or(from);
        let target = if to == "." {
            base.to_string()
        } else if from.contains(['*', '?', '[']) {
            format!("{to}/{base}")
        } else {
            to.to_string()
        };
        targets.push(target);
    }
    if let (true, Some(b)) = (files_ok, bin) {
        if !targets.iter().any(|t| glob_match(t, &b)) {
            errs.push(format!(
                "{at}: bin {b:?} is not among the files it installs ({})",
                targets.join(", ")
            ));
        }
    }
}

/// `a/./b` -> `a/b`, `./x` -> `x`, `a/` -> `a`; None for an absolute path or one that
/// climbs out with `..`.
fn clean_relative(p: &str) -> Option<String> {
    if p.starts_with('/') || p.starts_with('\\') || p.contains(':') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        Some(".".into())
    } else {
        Some(parts.join("/"))
    }
}

/// Shell-style match of `name` against `pattern` with `*` and `?` (no `/` crossing).
fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && n[0] != b'/' && go(p, &n[1..])),
            (Some(b'?'), Some(c)) if *c != b'/' => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// Whether a label selector selects `{os, arch}` (Kubernetes semantics).
fn selects(sel: &Selector, os: &str, arch: &str) -> bool {
    let label = |k: &str| match k {
        "os" => Some(os),
        "arch" => Some(arch),
        _ => None,
    };
    let labels_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| label(k) == Some(v.as_str()));
    let exprs_ok = sel.match_expressions.iter().flatten().all(|r| {
        let have = label(&r.key);
        match r.operator.as_str() {
            "In" => have.is_some_and(|h| r.values.iter().any(|v| v == h)),
            "NotIn" => have.is_none_or(|h| !r.values.iter().any(|v| v == h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        }
    });
    let empty = sel.match_labels.as_ref().is_none_or(|l| l.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty());
    !empty && labels_ok && exprs_ok
}

/// The name and version a manifest declares (after it validated).
pub fn manifest_name_version(manifest_text: &str) -> Result<(String, String)> {
    let m = parse_manifest(manifest_text).map_err(anyhow::Error::msg)?;
    let name = m
        .metadata
        .and_then(|md| md.name)
        .context("no metadata.name")?;
    let version = m.spec.and_then(|s| s.version).context("no spec.version")?;
    Ok((name, version))
}

/// The `sha256` the manifest gives for `os`/`arch`, or None if no platform selects it.
pub fn manifest_sha256(manifest_text: &str, os: &str, arch: &str) -> Result<Option<String>> {
    Ok(select_platform(manifest_text, os, arch)?.and_then(|p| p.sha256))
}

fn select_platform(manifest_text: &str, os: &str, arch: &str) -> Result<Option<Platform>> {
    let m = parse_manifest(manifest_text).map_err(anyhow::Error::msg)?;
    let mut found = m
        .spec
        .and_then(|s| s.platforms)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.selector.as_ref().is_some_and(|s| selects(s, os, arch)));
    let first = found.next();
    ensure!(
        found.next().is_none(),
        "several platforms select {os}/{arch}"
    );
    Ok(first)
}

// ---------------------------------------------------------------------------------------
// Installing like krew, for tests and for trying an archive without krew

/// Installs `archive` the way `kubectl krew install --manifest=M --archive=A` does, into a
/// krew root: checks the archive's sha256 against the platform the manifest has for
/// `os`/`arch`, unpacks it, applies the platform's `files` operations into
/// `<root>/store/<name>/<version>/`, and links `<root>/bin/kubectl-<name>` to its `bin`
/// with a relative symlink (a copy where symlinks are not available).
/// Returns the link's path.
pub fn krew_install(
    manifest_text: &str,
    os: &str,
    arch: &str,
    archive: &Path,
    root: &Path,
) -> Result<PathBuf> {
    if let Err(errs) = validate(manifest_text) {
        bail!("the manifest is not valid:\n  {}", errs.join("\n  "));
    }
    let (name, version) = manifest_name_version(manifest_text)?;
    let platform = select_platform(manifest_text, os, arch)?
        .with_context(|| format!("plugin {name:?} does not offer installation for {os}/{arch}"))?;
    let want = platform.sha256.clone().unwrap_or_default();
    let got = sha256_file(archive)?;
    ensure!(
        got == want,
        "sha256 of {} is {got}, the manifest says {want}",
        archive.display()
    );

    let staging = root.join(format!(".staging-{name}"));
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    fs::create_dir_all(&staging)?;
    unpack(archive, &staging)?;

    let install_dir = root.join("store").join(&name).join(&version);
    if install_dir.exists() {
        fs::remove_dir_all(&install_dir)?;
    }
    fs::create_dir_all(&install_dir)?;
    let ops = platform.files.unwrap_or_else(|| {
        vec![FileOp {
            from: Some("*".into()),
            to: Some(".".into()),
        }]
    });
    for op in &ops {
        let from = op.from.as_deref().unwrap_or_default();
        let to = op.to.as_deref().unwrap_or_default();
        let direct = staging.join(from);
        if direct.is_file() {
            let dest = if to == "." {
                install_dir.join(direct.file_name().context("file without a name")?)
            } else {
                install_dir.join(to)
            };
            move_file(&direct, &dest)?;
            continue;
        }
        let (dir, pattern) = match from.rsplit_once('/') {
            Some((d, p)) => (staging.join(d), p),
            None => (staging.clone(), from),
        };
        let mut matched = 0;
        let mut names: Vec<_> = fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .collect::<io::Result<Vec<_>>>()?
            .into_iter()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names.iter().filter(|n| glob_match(pattern, n)) {
            let dest_dir = install_dir.join(to);
            fs::create_dir_all(&dest_dir)?;
            let src = dir.join(n);
            if src.is_dir() {
                fs::rename(&src, dest_dir.join(n))?;
            } else {
                move_file(&src, &dest_dir.join(n))?;
            }
            matched += 1;
        }
        ensure!(
            matched > 0,
            "no files in the plugin archive matched the glob pattern={from}"
        );
    }
    fs::remove_dir_all(&staging)?;

    let bin_rel = clean_relative(platform.bin.as_deref().unwrap_or_default())
        .context("bin is not a relative path")?;
    let bin_path = install_dir.join(&bin_rel);
    ensure!(
        bin_path.is_file(),
        "can't create symbolic link, source binary ({}) cannot be found in extracted archive",
        bin_path.display()
    );
    let bin_dir = root.join("bin");
    fs::create_dir_all(&bin_dir)?;
    let mut link = bin_dir.join(format!("kubectl-{}", name.replace('-', "_")));
    if os == "windows" {
        link.set_extension("exe");
    }
    if link.symlink_metadata().is_ok() {
        fs::remove_file(&link)?;
    }
    link_or_copy(
        &Path::new("..")
            .join("store")
            .join(&name)
            .join(&version)
            .join(&bin_rel),
        &bin_path,
        &link,
    )?;
    Ok(link)
}

fn move_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::rename(from, to)
        .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))
}

#[cfg(unix)]
fn link_or_copy(relative_target: &Path, _absolute: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(relative_target, link)
        .with_context(|| format!("cannot link {}", link.display()))
}

#[cfg(not(unix))]
fn link_or_copy(_relative_target: &Path, absolute: &Path, link: &Path) -> Result<()> {
    fs::copy(absolute, link).with_context(|| format!("cannot copy to {}", link.display()))?;
    Ok(())
}

/// Unpacks a `.tar.gz` or `.zip` (told apart by content, as krew does) into `dir`.
pub fn unpack(archive: &Path, dir: &Path) -> Result<()> {
    let mut magic = [0u8; 4];
    File::open(archive)
        .and_then(|mut f| f.read_exact(&mut magic))
        .with_context(|| format!("cannot read {}", archive.display()))?;
    let f = File::open(archive)?;
    if magic[..2] == [0x1f, 0x8b] {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
        tar.set_preserve_permissions(true);
        tar.unpack(dir)
            .with_context(|| format!("cannot unpack {}", archive.display()))?;
    } else if magic == *b"PK\x03\x04" {
        zip::ZipArchive::new(f)?
            .extract(dir)
            .with_context(|| format!("cannot unpack {}", archive.display()))?;
    } else {
        bail!("{} is neither a gzip'd tar nor a zip", archive.display());
    }
    Ok(())
}

/// The entries of an archive: (name, unix mode, content), in archive order.
pub fn list_archive(archive: &Path) -> Result<Vec<(String, u32, Vec<u8>)>> {
    let name = archive.to_string_lossy();
    let f = File::open(archive).with_context(|| format!("cannot open {name}"))?;
    let mut out = Vec::new();
    if name.ends_with(".zip") {
        let mut z = zip::ZipArchive::new(f)?;
        for i in 0..z.len() {
            let mut e = z.by_index(i)?;
            let mut data = Vec::new();
            e.read_to_end(&mut data)?;
            out.push((
                e.name()?.to_string(),
                e.unix_mode().unwrap_or(0) & 0o7777,
                data,
            ));
        }
    } else {
        let mut t = tar::Archive::new(flate2::read::GzDecoder::new(f));
        for e in t.entries()? {
            let mut e = e?;
            let path = e.path()?.to_string_lossy().into_owned();
            let mode = e.header().mode()? & 0o7777;
            let mut data = Vec::new();
            e.read_to_end(&mut data)?;
            out.push((path, mode, data));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_unix(315_532_800), (1980, 1, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(1_709_210_096), (2024, 2, 29, 12, 34, 56));
        assert_eq!(civil_from_unix(0).0, 1980, "clamped to the zip epoch");
    }

    #[test]
    fn versions_like_krew() {
        for ok in [
            "v0.1.0",
            "v1.2.3-rc.1",
            "v1.2.3+build.5",
            "v10.20.30-alpha-1+x",
        ] {
            assert_eq!(check_version(ok), Ok(()), "{ok}");
        }
        for bad in [
            "0.1.0",
            "v0.1",
            "v1.2.3.4",
            "v01.2.3",
            "v1.2.3-",
            "v1.2.3+",
            "v1.2.3-a..b",
            "vx",
        ] {
            assert!(check_version(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn target_labels() {
        assert_eq!(
            os_arch_of_target("x86_64-unknown-linux-musl").unwrap(),
            ("linux", "amd64")
        );
        assert_eq!(
            os_arch_of_target("aarch64-apple-darwin").unwrap(),
            ("darwin", "arm64")
        );
        assert_eq!(
            os_arch_of_target("x86_64-pc-windows-msvc").unwrap(),
            ("windows", "amd64")
        );
        assert!(os_arch_of_target("wasm32-unknown-unknown").is_err());
        for p in RELEASE_PLATFORMS {
            assert_eq!(os_arch_of_target(p.target).unwrap(), (p.os, p.arch));
        }
    }

    #[test]
    fn clean_paths_and_globs() {
        assert_eq!(clean_relative("./kubectl-x").as_deref(), Some("kubectl-x"));
        assert_eq!(clean_relative("a/./b/").as_deref(), Some("a/b"));
        assert_eq!(clean_relative("."), Some(".".into()));
        assert_eq!(clean_relative("../x"), None);
        assert_eq!(clean_relative("/x"), None);
        assert!(glob_match("kubectl-*", "kubectl-coreweave"));
        assert!(!glob_match("kubectl-?", "kubectl-coreweave"));
        assert!(glob_match("*", "LICENSE"));
    }
}
