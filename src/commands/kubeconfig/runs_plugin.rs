//! Whether an exec entry of a downloaded kubeconfig runs this plugin, in any form:
//! `kubeconfig import` refuses such a download, since a file from elsewhere must never make
//! kubectl read the user's keyring items (a Console download never runs the plugin).

use serde_json::Value;

/// Whether a downloaded exec entry runs this plugin, however it is spelled: the program
/// named kubectl-coreweave (any folder, any case, any extension), kubectl's `coreweave`
/// subcommand, any argument or environment value that names it (a shell wrapper, the
/// marker `--plugin=kubectl-coreweave`), the words `token credential` anywhere in its
/// arguments (the plugin installed under another name, `kubectl cw token credential`), or
/// a program that is this very executable (by path or on PATH, or as the kubectl plugin
/// its first argument names).
pub fn runs_this_plugin(exec: &Value) -> bool {
    use crate::kubeconfig::exec_program::is_this_program;
    let names_plugin = |s: &str| s.to_ascii_lowercase().contains("kubectl-coreweave");
    let command = exec.get("command").and_then(Value::as_str).unwrap_or("");
    let program = command
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let args: Vec<&str> = exec
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let env_values = exec
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("value").and_then(Value::as_str));
    let words: Vec<String> = args
        .iter()
        .flat_map(|a| a.split(|c: char| !(c.is_alphanumeric() || "-_./".contains(c))))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let kubectl = program == "kubectl" || program == "kubectl.exe";
    names_plugin(command)
        || (program.starts_with("kubectl")
            && args.iter().any(|a| a.eq_ignore_ascii_case("coreweave")))
        || args.iter().any(|a| names_plugin(a))
        || env_values.into_iter().any(names_plugin)
        || words
            .windows(2)
            .any(|w| w[0] == "token" && w[1] == "credential")
        || is_this_program(command)
        || (kubectl
            && args
                .first()
                .is_some_and(|name| is_this_program(&format!("kubectl-{name}"))))
}
