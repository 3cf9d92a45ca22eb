//! `kubectl coreweave <TAB>` through the real kubectl: kubectl finds
//! `kubectl_complete-coreweave` on PATH (here a link to the binary) and relays its answer.

use crate::support;

use support::{bin, path_str, stdout, Sandbox};

fn kubectl_complete(sb: &Sandbox, kubeconfig: &str, words: &[&str]) -> String {
    let bindir = sb.path("bin");
    std::fs::create_dir_all(&bindir).expect("mkdir");
    for name in ["kubectl-coreweave", "kubectl_complete-coreweave"] {
        let link = bindir.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(bin(), &link).expect("symlink");
        }
    }
    let path = format!(
        "{}:{}",
        bindir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new("kubectl")
        .env("PATH", path)
        .env("HOME", sb.dir.path())
        .env("KUBECONFIG", kubeconfig)
        .arg("__complete")
        .arg("coreweave")
        .args(words)
        .output()
        .expect("kubectl is installed (.ci/run installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    stdout(&o)
}

#[test]
fn kubectl_completes_subcommands_flags_and_kubeconfig_names() {
    let sb = Sandbox::new();
    let k = sb.write(
        "config",
        support::kubeconfig(
            Some("prod"),
            &[("prod", "k", "cw"), ("dev", "k", "cw")],
            &[("cw", "CW-SECRET-complete-1")],
        ),
    );
    let k = path_str(&k);
    let top = kubectl_complete(&sb, k, &[""]);
    assert!(
        top.contains("token\t") && top.contains("version\t") && top.ends_with(":4\n"),
        "{top}"
    );
    let contexts = kubectl_complete(&sb, k, &["token", "show", "--context", ""]);
    assert_eq!(contexts, "dev\tuser cw\nprod\tuser cw\n:4\n");
    let users = kubectl_complete(&sb, k, &["token", "rotate", "--user", "c"]);
    assert_eq!(users, "cw\n:4\n");
    let flags = kubectl_complete(&sb, k, &["token", "rotate", "--dry"]);
    assert!(flags.starts_with("--dry-run\t"), "{flags}");
}

#[test]
fn version_names_version_commit_and_target() {
    let sb = Sandbox::new();
    let o = sb.run(None, &["version"]);
    let out = stdout(&o);
    assert!(o.status.success());
    assert!(
        out.starts_with(&format!(
            "kubectl-coreweave v{} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{out}"
    );
    assert!(
        out.trim_end().ends_with(')') && out.contains("-linux-") || out.contains("-apple-"),
        "{out}"
    );
}

#[test]
fn completion_scripts_for_every_shell() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let o = sb.run(None, &["completion", shell]);
        assert!(o.status.success(), "{shell}");
        assert!(stdout(&o).contains("kubectl-coreweave"), "{shell}");
    }
    // Every level is in the script, the `help` subcommand's tree included, though a
    // parse builds only the group it enters.
    let bash = stdout(&sb.run(None, &["completion", "bash"]));
    for path in [
        "cmd=\"kubectl__coreweave__subcmd__kubeconfig__subcmd__add\"",
        "cmd=\"kubectl__coreweave__subcmd__help__subcmd__kubeconfig__subcmd__add\"",
        "cmd=\"kubectl__coreweave__subcmd__help__subcmd__token__subcmd__rotate\"",
    ] {
        assert!(bash.contains(path), "{path} missing from the bash script");
    }
    let o = sb.run(None, &["completion", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}
