//! The release workflow cannot run here; this checks its shape: it parses as YAML, runs
//! on `v*` tags, its build matrix lists exactly the template's five platforms with
//! targets that map to them, each build runs `cargo xtask dist` for its target, and the
//! final job renders krew.yaml with every sha256 and validates it.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;
use xtask::os_arch_of_target;

fn workflow() -> Value {
    let text = read(".github/workflows/release.yml");
    serde_saphyr::from_str(&text).expect(".github/workflows/release.yml is not valid YAML")
}

fn runs(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .expect("job has steps")
        .iter()
        .filter_map(|s| s["run"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn triggers_on_version_tags() {
    let wf = workflow();
    let tags = wf["on"]["push"]["tags"].as_array().expect("on.push.tags");
    assert_eq!(tags, &[Value::from("v*")]);
    assert!(wf["on"]["pull_request"].is_null() && wf["on"]["push"]["branches"].is_null());
}

#[test]
fn matrix_lists_exactly_the_templates_platforms() {
    let wf = workflow();
    let include = wf["jobs"]["dist"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("jobs.dist.strategy.matrix.include");
    let mut seen = BTreeSet::new();
    for entry in include {
        let field = |k: &str| {
            entry[k]
                .as_str()
                .unwrap_or_else(|| panic!("matrix entry without {k}: {entry}"))
                .to_string()
        };
        let (os, arch, target, runner, builder) = (
            field("os"),
            field("arch"),
            field("target"),
            field("runner"),
            field("builder"),
        );
        let (t_os, t_arch) = os_arch_of_target(&target).unwrap();
        assert_eq!(
            (t_os, t_arch),
            (os.as_str(), arch.as_str()),
            "{target} is not {os}/{arch}"
        );
        match os.as_str() {
            "linux" => assert!(
                ["zigbuild", "cross"].contains(&builder.as_str()),
                "linux builds cross-compile: {entry}"
            ),
            "darwin" => assert!(runner.starts_with("macos"), "{entry}"),
            "windows" => {
                assert!(runner.starts_with("windows"), "{entry}");
                assert!(target.ends_with("-windows-msvc"), "{entry}");
            }
            _ => panic!("unexpected os in {entry}"),
        }
        let release = xtask::RELEASE_PLATFORMS
            .iter()
            .find(|p| p.os == os && p.arch == arch)
            .unwrap_or_else(|| panic!("{os}/{arch} is not a release platform"));
        assert_eq!(
            release.target, target,
            "matrix and xtask disagree on the target"
        );
        assert!(seen.insert((os, arch)), "platform listed twice: {entry}");
    }
    let template: BTreeSet<(String, String)> =
        xtask::template_platforms(&template()).into_iter().collect();
    assert_eq!(template.len(), 5);
    assert_eq!(
        seen, template,
        "matrix platforms vs plugin-manifest/coreweave.yaml.tmpl"
    );
}

#[test]
fn each_build_runs_xtask_dist_and_uploads() {
    let wf = workflow();
    let job = &wf["jobs"]["dist"];
    assert_eq!(job["runs-on"], "${{ matrix.runner }}");
    let runs = runs(job);
    assert!(
        runs.iter()
            .any(|r| r.contains("cargo xtask dist --target ${{ matrix.target }}")),
        "no `cargo xtask dist --target` step: {runs:#?}"
    );
    // `--binary` named one executable; the archive now needs two (`--bin-dir`).
    assert!(
        !runs.iter().any(|r| r.contains("--binary")),
        "a step passes --binary, which `cargo xtask dist` no longer takes: {runs:#?}"
    );
    let uploads = job["steps"].as_array().unwrap().iter().any(|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
    });
    assert!(uploads, "the build job uploads nothing");
}

#[test]
fn final_job_renders_validates_and_attaches_krew_yaml() {
    let wf = workflow();
    let job = &wf["jobs"]["release"];
    assert_eq!(job["needs"], "dist");
    assert_eq!(job["permissions"]["contents"], "write");
    let script = runs(job).join("\n");
    for needed in [
        "cargo xtask render --version \"$GITHUB_REF_NAME\" --require-all",
        "--sha256",
        "cargo xtask check-manifest --release dist/krew.yaml",
        "gh release create",
        "dist/krew.yaml",
    ] {
        assert!(
            script.contains(needed),
            "the release job lacks {needed:?}:\n{script}"
        );
    }
    let render_at = script.find("cargo xtask render").unwrap();
    let check_at = script.find("cargo xtask check-manifest").unwrap();
    let publish_at = script.find("gh release create").unwrap();
    assert!(
        render_at < check_at && check_at < publish_at,
        "render, check, then publish"
    );
}
