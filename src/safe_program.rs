//! Whether a program may be written into a file that runs it later: the kubeconfig's exec
//! entry (`token store`, `kubeconfig import --store keyring`) and the AWS profile's
//! `credential_process` (`objectstorage profile --write`). kubectl and the AWS CLI run that
//! path on every call, as the user, so whoever can replace the file, or any folder above
//! it, runs code as the user.

use std::path::{Path, PathBuf};

use crate::secret::shown_path;

/// Why a path is no safe program to name: the first place found that others control.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct UnsafeProgram {
    /// The file, link or folder found unsafe.
    pub path: PathBuf,
    pub why: Why,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Owned by neither the user nor root.
    Owner { uid: u32, me: u32 },
    /// Writable by its group or by others (`mode` is the permission bits).
    Writable { mode: u32 },
    /// A sticky folder others may add files to, holding the program directly.
    SharedFolder { mode: u32 },
    /// Cannot be read to check it.
    Unreadable { error: String },
    /// More symbolic links than a path lookup follows.
    TooManyLinks,
}

impl UnsafeProgram {
    fn describe(&self) -> String {
        let p = shown_path(&self.path);
        match &self.why {
            Why::Owner { uid, me } => {
                format!("{p} is owned by uid {uid}, neither you (uid {me}) nor root")
            }
            Why::Writable { mode } => {
                let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
                    (true, true) => "its group and others",
                    (true, false) => "its group",
                    _ => "others",
                };
                format!("{p} is writable by {who} (mode {mode:04o})")
            }
            Why::SharedFolder { mode } => format!(
                "{p} is a folder others may add files to (mode {mode:04o}), and the program sits directly in it"
            ),
            Why::Unreadable { error } => format!("{p} cannot be checked: {error}"),
            Why::TooManyLinks => format!("{p} leads through too many symbolic links"),
        }
    }
}

/// The one-line refusal to write a program others could replace: what is unsafe, and
/// `way_out`, the flag that writes the bare name instead.
#[derive(Debug, thiserror::Error)]
#[error(
    "not writing {} as the program to run: {unsafe_at}, so someone else could replace what runs as you on every call; nothing was written; install the plugin where only you or root can write, or use {way_out} to write its bare name (looked up on PATH)",
    shown_path(program)
)]
pub struct NotWriting {
    pub program: PathBuf,
    /// Not a `#[source]`: the text above already holds it.
    pub unsafe_at: UnsafeProgram,
    pub way_out: &'static str,
}

/// Check `program` (the path as it will be written) by the module's rule.
pub fn check_for_writing(program: &Path, way_out: &'static str) -> Result<(), NotWriting> {
    check(program).map_err(|unsafe_at| NotWriting {
        program: program.to_path_buf(),
        unsafe_at,
        way_out,
    })
}

/// Check `program` (an absolute path, as it will be written) by the module's rule.
///
/// On unix the rule is: the program, every folder above it and every symbolic link on the
/// way are owned by the user (effective uid) or root, and no folder or program is writable by
/// its group or by others. A sticky folder (like `/tmp`, mode 1777) is fine above a safe
/// folder, where no one else can rename that folder away, but never as the folder the
/// program (or a link to it) sits in directly: anyone may create a file of that name there
/// once the current one is gone. Both the path as written (krew's `bin/` link) and every
/// link it leads through to the real file are checked, with the folders each is in, as
/// written and as resolved. Access control lists are not read.
///
/// On Windows nothing is checked: who may write a folder there is an ACL question that
/// modes and owners do not answer; the installers' folders (`%USERPROFILE%\.krew\bin`,
/// `%USERPROFILE%\.cargo\bin`) are the user's own.
#[cfg(unix)]
pub fn check(program: &Path) -> Result<(), UnsafeProgram> {
    let me = rustix::process::geteuid().as_raw();
    let program = std::path::absolute(program).map_err(|e| unreadable(program, &e))?;
    let mut current = program.clone();
    // A path lookup gives up after 40 links (Linux's MAXSYMLINKS).
    for _ in 0..=40 {
        check_folders(&current, me)?;
        let meta = std::fs::symlink_metadata(&current).map_err(|e| unreadable(&current, &e))?;
        if !meta.file_type().is_symlink() {
            let real = std::fs::canonicalize(&program).map_err(|e| unreadable(&program, &e))?;
            check_folders(&real, me)?;
            let meta = std::fs::metadata(&real).map_err(|e| unreadable(&real, &e))?;
            return check_entry(&real, &meta, me, false);
        }
        // Only the owner may replace a link in a sticky folder; the folder was checked.
        check_owner(&current, &meta, me)?;
        let target = std::fs::read_link(&current).map_err(|e| unreadable(&current, &e))?;
        current = match current.parent() {
            Some(dir) => dir.join(target),
            None => target,
        };
    }
    Err(UnsafeProgram {
        path: program,
        why: Why::TooManyLinks,
    })
}

/// Windows: see the module's notes; nothing is checked.
#[cfg(not(unix))]
pub fn check(_program: &Path) -> Result<(), UnsafeProgram> {
    Ok(())
}

/// Every folder `path` is looked up through: its folders as written (each as it resolves)
/// and, for a folder reached through a link, the real folders above the real one.
#[cfg(unix)]
fn check_folders(path: &Path, me: u32) -> Result<(), UnsafeProgram> {
    for (i, folder) in path.ancestors().skip(1).enumerate() {
        if folder.as_os_str().is_empty() {
            continue;
        }
        let meta = std::fs::metadata(folder).map_err(|e| unreadable(folder, &e))?;
        check_entry(folder, &meta, me, i > 0)?;
    }
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let real = std::fs::canonicalize(parent).map_err(|e| unreadable(parent, &e))?;
    if real == parent {
        return Ok(());
    }
    for (i, folder) in real.ancestors().enumerate() {
        let meta = std::fs::metadata(folder).map_err(|e| unreadable(folder, &e))?;
        check_entry(folder, &meta, me, i > 0)?;
    }
    Ok(())
}

/// One file or folder: owned by the user or root, writable by no one else; a sticky folder
/// only `above` the program's own folder.
#[cfg(unix)]
fn check_entry(
    path: &Path,
    meta: &std::fs::Metadata,
    me: u32,
    above: bool,
) -> Result<(), UnsafeProgram> {
    use std::os::unix::fs::PermissionsExt;
    check_owner(path, meta, me)?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 == 0 {
        return Ok(());
    }
    let sticky = meta.is_dir() && mode & 0o1000 != 0;
    match (sticky, above) {
        (true, true) => Ok(()),
        (true, false) => Err(UnsafeProgram {
            path: path.to_path_buf(),
            why: Why::SharedFolder { mode },
        }),
        (false, _) => Err(UnsafeProgram {
            path: path.to_path_buf(),
            why: Why::Writable { mode },
        }),
    }
}

#[cfg(unix)]
fn check_owner(path: &Path, meta: &std::fs::Metadata, me: u32) -> Result<(), UnsafeProgram> {
    use std::os::unix::fs::MetadataExt;
    let uid = meta.uid();
    if uid == me || uid == 0 {
        return Ok(());
    }
    Err(UnsafeProgram {
        path: path.to_path_buf(),
        why: Why::Owner { uid, me },
    })
}

#[cfg(unix)]
fn unreadable(path: &Path, e: &std::io::Error) -> UnsafeProgram {
    UnsafeProgram {
        path: path.to_path_buf(),
        why: Why::Unreadable {
            error: crate::io::io_message(e),
        },
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn mode(p: &Path, m: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
    }

    /// A private folder (tempfile makes it 0700) holding `name`, a 0755 program.
    fn program_in(dir: &Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(dir).expect("mkdir");
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").expect("write");
        mode(&p, 0o755);
        p
    }

    #[test]
    fn a_private_folder_is_safe_and_an_open_one_is_not() {
        let t = tempfile::tempdir().expect("tmp");
        let p = program_in(&t.path().join("bin"), "kubectl-coreweave");
        check(&p).expect("safe");
        mode(&t.path().join("bin"), 0o777);
        let e = check(&p).expect_err("open folder");
        assert_eq!(e.path, t.path().join("bin"));
        assert_eq!(e.why, Why::Writable { mode: 0o777 });
        assert!(e
            .to_string()
            .contains("writable by its group and others (mode 0777)"));
        mode(&t.path().join("bin"), 0o775);
        assert_eq!(
            check(&p).expect_err("group").why,
            Why::Writable { mode: 0o775 }
        );
        mode(&t.path().join("bin"), 0o755);
        mode(&p, 0o757);
        assert_eq!(check(&p).expect_err("file").path, p);
    }

    #[test]
    fn a_sticky_folder_is_fine_above_a_safe_folder_only() {
        let t = tempfile::tempdir().expect("tmp");
        let shared = t.path().join("shared");
        let p = program_in(&shared.join("mine"), "kubectl-coreweave");
        mode(&shared, 0o1777);
        check(&p).expect("a sticky folder above a safe one");
        let direct = program_in(&shared, "kubectl-coreweave");
        let e = check(&direct).expect_err("directly in a sticky folder");
        assert_eq!(e.why, Why::SharedFolder { mode: 0o1777 });
        assert!(e.to_string().contains("sits directly in it"), "{e}");
    }

    #[test]
    fn the_link_and_its_target_are_both_checked() {
        let t = tempfile::tempdir().expect("tmp");
        let real = program_in(&t.path().join("store/v1"), "kubectl-coreweave");
        let bin = t.path().join("bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        let link = bin.join("kubectl-coreweave");
        symlink(&real, &link).expect("link");
        check(&link).expect("krew's layout");
        // The target's folder open to others.
        mode(&t.path().join("store/v1"), 0o777);
        assert_eq!(
            check(&link).expect_err("target").path,
            t.path().join("store/v1")
        );
        mode(&t.path().join("store/v1"), 0o755);
        // The link's folder open to others.
        mode(&bin, 0o777);
        assert_eq!(check(&link).expect_err("link folder").path, bin);
        mode(&bin, 0o755);
        // A link in between, in an open folder.
        let hop = program_in(&t.path().join("hop"), "x");
        std::fs::remove_file(&hop).expect("rm");
        symlink(&real, &hop).expect("link");
        std::fs::remove_file(&link).expect("rm");
        symlink(&hop, &link).expect("link");
        check(&link).expect("two links, all private");
        mode(&t.path().join("hop"), 0o777);
        assert_eq!(
            check(&link).expect_err("middle link").path,
            t.path().join("hop")
        );
    }

    #[test]
    fn a_folder_reached_through_a_link_is_checked_where_it_really_is() {
        let t = tempfile::tempdir().expect("tmp");
        let open = t.path().join("open");
        let p = program_in(&open.join("bin"), "kubectl-coreweave");
        mode(&open, 0o777);
        let alias = t.path().join("alias");
        symlink(open.join("bin"), &alias).expect("link");
        let e = check(&alias.join("kubectl-coreweave")).expect_err("real folder open");
        assert_eq!(e.path, open);
        let _ = p;
    }

    #[test]
    fn a_missing_program_cannot_be_checked() {
        let t = tempfile::tempdir().expect("tmp");
        let e = check(&t.path().join("nope")).expect_err("missing");
        assert!(matches!(e.why, Why::Unreadable { .. }), "{e}");
    }
}
