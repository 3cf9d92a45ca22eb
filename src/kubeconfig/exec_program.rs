//! Which file an exec entry's `command` makes kubectl run, found as client-go finds it,
//! and whether that file is this very executable. The plugin recognises its own entries
//! with it when they were written under another program name before the entry carried
//! [`super::model::PLUGIN_MARKER`], tells the user (in `token show` and `token list`) when
//! an entry it reads a keyring item for runs some other program, and `kubeconfig import`
//! refuses a download that would run this plugin. Nothing here runs the program: files
//! are only looked at.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The file kubectl would run for `command`: an absolute path as written; a relative path
/// with a folder in it relative to the folder of the kubeconfig that holds it (client-go's
/// `ResolvePaths`), or not at all when that folder is not known; a bare name looked up on
/// PATH as Go's `exec.LookPath` does (an executable regular file; `.exe` added on Windows).
pub fn resolve(command: &str, kubeconfig_dir: Option<&Path>) -> Option<PathBuf> {
    if command.is_empty() {
        return None;
    }
    let path = Path::new(command);
    if path.is_absolute() {
        return Some(path.to_path_buf());
    }
    if path.components().count() > 1 || command.contains('/') {
        return kubeconfig_dir.map(|d| d.join(path));
    }
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs)
        .filter(|d| !d.as_os_str().is_empty())
        .flat_map(|d| {
            let plain = d.join(command);
            let mut exe = plain.clone().into_os_string();
            exe.push(".exe");
            [Some(plain), cfg!(windows).then(|| PathBuf::from(exe))]
        })
        .flatten()
        .find(|p| is_executable(p))
}

/// Whether `command` (an absolute path or a name on PATH) runs this very executable.
pub fn is_this_program(command: &str) -> bool {
    resolve(command, None).is_some_and(|p| same_file(&p))
}

/// What `token show` and `token list` say about a user entry recognised as this plugin's
/// own whose program is not this executable: kubectl runs that program, not this one (it
/// gets nothing from this plugin, but the user should know which program it is).
pub fn foreign_program_note(command: &str, user: &str, kubeconfig: &Path) -> Option<String> {
    let found = resolve(command, kubeconfig.parent());
    if found.as_deref().is_some_and(same_file) {
        return None;
    }
    let shown = crate::secret::quoted(command);
    let me = this_executable()
        .map(|p| format!(" ({})", crate::secret::shown_path(p)))
        .unwrap_or_default();
    let user = crate::secret::quoted(user);
    Some(match found {
        Some(p) if p.exists() => format!(
            "the exec entry of user {user} runs {shown}, which is not this kubectl-coreweave{me}: kubectl runs that program instead"
        ),
        _ => format!(
            "the exec entry of user {user} runs {shown}, which kubectl does not find{}; `kubectl coreweave token store` in its context writes this plugin's path",
            if Path::new(command).components().count() > 1 { "" } else { " on PATH" }
        ),
    })
}

/// This executable with every link resolved, found once per process.
fn this_executable() -> Option<&'static Path> {
    static ME: OnceLock<Option<PathBuf>> = OnceLock::new();
    ME.get_or_init(|| {
        let exe = std::env::current_exe().ok()?;
        std::fs::canonicalize(&exe).ok().or(Some(exe))
    })
    .as_deref()
}

/// Whether `p` is this executable's file (a link to it, or a hard link of it, included).
fn same_file(p: &Path) -> bool {
    let Some(me) = this_executable() else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(p), std::fs::metadata(me)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        std::fs::canonicalize(p).is_ok_and(|c| c == me)
    }
}

fn is_executable(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_executable_is_found_by_any_path_and_other_files_are_not() {
        let me = std::env::current_exe().expect("exe");
        let me = me.to_str().expect("utf-8");
        assert!(is_this_program(me));
        let t = tempfile::tempdir().expect("tmp");
        #[cfg(unix)]
        {
            let link = t.path().join("kubectl-cw");
            std::os::unix::fs::symlink(me, &link).expect("link");
            assert!(is_this_program(link.to_str().expect("utf-8")));
            assert!(
                foreign_program_note(link.to_str().unwrap(), "u", &t.path().join("c")).is_none()
            );
        }
        let copy = t.path().join("copy");
        std::fs::write(&copy, b"not me").expect("write");
        assert!(!is_this_program(copy.to_str().expect("utf-8")));
        let note = foreign_program_note(copy.to_str().unwrap(), "u", &t.path().join("c"))
            .expect("another program");
        assert!(note.contains("not this kubectl-coreweave"), "{note}");
        assert!(!is_this_program(""));
        assert!(!is_this_program("no-such-program-anywhere-on-path"));
        let note = foreign_program_note("no-such-program-anywhere", "u", &t.path().join("c"))
            .expect("missing");
        assert!(note.contains("does not find on PATH"), "{note}");
    }

    #[test]
    fn a_relative_path_is_relative_to_the_kubeconfig_folder() {
        assert_eq!(
            resolve("bin/x", Some(Path::new("/home/u/.kube"))),
            Some(PathBuf::from("/home/u/.kube/bin/x"))
        );
        assert_eq!(resolve("./x", None), None);
    }
}
