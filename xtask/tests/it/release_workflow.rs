//! The release workflow cannot run here; this checks its shape: it parses as YAML, runs
//! on `v*` tags, its build matrix lists exactly the template's five platforms with
//! targets that map to them, each build runs `cargo xtask dist` for its target, every
//! platform's archive is smoke-tested on a runner of its own OS and CPU with the real krew,
//! the smoke runs the commands a user runs, and the final job waits for every smoke test,
//! then renders krew.yaml with every sha256 and validates it.

use std::collections::BTreeSet;

use crate::common::*;
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
    assert!(
        !runs.iter().any(|r| r.contains("--bin-dir")),
        "a step passes --bin-dir, which `cargo xtask dist` no longer takes: {runs:#?}"
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
    let needs: BTreeSet<&str> = job["needs"]
        .as_array()
        .expect("release needs a list of jobs")
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(
        needs,
        BTreeSet::from(["dist", "smoke"]),
        "publishing must wait for every build and every smoke test"
    );
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

/// (os, arch) of each entry of a job's matrix, with the entry.
fn matrix(wf: &Value, job: &str) -> Vec<(String, String, Value)> {
    wf["jobs"][job]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap_or_else(|| panic!("jobs.{job}.strategy.matrix.include"))
        .iter()
        .map(|e| {
            let f = |k: &str| {
                e[k].as_str()
                    .unwrap_or_else(|| panic!("{job} matrix entry without {k}: {e}"))
                    .to_string()
            };
            (f("os"), f("arch"), e.clone())
        })
        .collect()
}

#[test]
fn every_platform_is_smoke_tested_on_its_own_os_and_cpu() {
    let wf = workflow();
    let built: BTreeSet<(String, String)> = matrix(&wf, "dist")
        .into_iter()
        .map(|(o, a, _)| (o, a))
        .collect();
    let smoke = matrix(&wf, "smoke");
    let tested: BTreeSet<(String, String)> = smoke
        .iter()
        .map(|(o, a, _)| (o.clone(), a.clone()))
        .collect();
    assert_eq!(
        smoke.len(),
        tested.len(),
        "a platform is smoke-tested twice"
    );
    assert_eq!(tested, built, "smoke matrix vs build matrix");
    assert_eq!(wf["jobs"]["smoke"]["needs"], "dist");
    assert_eq!(wf["jobs"]["smoke"]["runs-on"], "${{ matrix.runner }}");
    for (os, arch, entry) in &smoke {
        let runner = entry["runner"].as_str().expect("runner");
        // GitHub's labels: ubuntu-*-arm are arm64, macos-*-intel (and macos-13) x86_64,
        // other macos-* arm64.
        let own = match (os.as_str(), arch.as_str()) {
            ("linux", "amd64") => runner.starts_with("ubuntu-") && !runner.ends_with("-arm"),
            ("linux", "arm64") => runner.starts_with("ubuntu-") && runner.ends_with("-arm"),
            ("darwin", "amd64") => runner.ends_with("-intel") || runner == "macos-13",
            ("darwin", "arm64") => {
                runner.starts_with("macos-") && !runner.ends_with("-intel") && runner != "macos-13"
            }
            ("windows", "amd64") => runner.starts_with("windows-") && !runner.ends_with("-arm"),
            _ => false,
        };
        assert!(
            own,
            "{os}/{arch} is smoke-tested on {runner}, not its own OS and CPU"
        );
        let ext = if os == "windows" { "zip" } else { "tar.gz" };
        assert_eq!(entry["ext"], ext, "{entry}");
    }
}

#[test]
fn smoke_job_installs_kubectl_and_krew_and_runs_xtask_smoke_on_the_downloaded_archive() {
    let wf = workflow();
    let job = &wf["jobs"]["smoke"];
    let steps = job["steps"].as_array().expect("smoke steps");
    let uses = |prefix: &str| {
        steps
            .iter()
            .any(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix)))
    };
    assert!(
        uses("actions/download-artifact@"),
        "the archive is not downloaded"
    );
    assert!(uses("azure/setup-kubectl@"), "kubectl is not installed");
    let script = runs(job).join("\n");
    for needed in [
        "kubernetes-sigs/krew/releases/download/${KREW_VERSION}/",
        "kubectl-krew${exe}",
        "kubectl krew version",
        "cargo xtask smoke --krew real",
        "--archive \"dist/kubectl-coreweave_${GITHUB_REF_NAME}_${{ matrix.os }}_${{ matrix.arch }}.${{ matrix.ext }}\"",
    ] {
        assert!(script.contains(needed), "the smoke job lacks {needed:?}:\n{script}");
    }
    let download = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/download-artifact@"))
        })
        .unwrap();
    assert_eq!(
        download["with"]["name"],
        "dist-${{ matrix.os }}-${{ matrix.arch }}"
    );
}

#[test]
fn smoke_runs_what_a_user_runs() {
    // What `cargo xtask smoke` runs, in order; krew_e2e checks that it prints each of
    // these after doing it, so dropping a step from smoke.rs fails one test or the other.
    assert_eq!(
        xtask::SMOKE_STEPS,
        [
            "unpack",
            "kubectl-coreweave version",
            "kubectl-coreweave token show --raw",
            "kubectl-coreweave token rotate --verify none --from-stdin",
            "kubectl-coreweave completion bash",
            "kubectl krew install --manifest --archive",
            "kubectl coreweave version",
        ]
    );
    let smoke_rs = read("xtask/src/smoke.rs");
    for needed in [
        "\"--from-stdin\"",
        "[\"krew\", \"install\", &manifest_arg, &archive_arg]",
        "SAMPLE_KUBECONFIG: &str = \"examples/coreweave-kubeconfig.yaml\"",
    ] {
        assert!(smoke_rs.contains(needed), "smoke.rs lacks {needed}");
    }
    assert!(workspace_root().join(xtask::SAMPLE_KUBECONFIG).is_file());
}
