//! Atomic replace: permission checks as kubectl's writer would refuse, a private
//! temporary file beside the target with the original's owner and mode, `rename`, and the
//! clean-up of temporary files a dead writer left.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::*;

/// Follow a chain of symlinks to the file they end at, which may not exist yet (kubectl also
/// writes through a dangling link). A relative target is relative to the link's folder.
pub(super) fn resolve(path: &Path) -> Result<PathBuf, WriteError> {
    let mut current = path.to_path_buf();
    for _ in 0..=MAX_SYMLINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current).map_err(|e| WriteError::Symlink {
                    path: path.to_path_buf(),
                    reason: format!("cannot read link {}: {e}", current.display()),
                })?;
                current = if target.is_absolute() {
                    target
                } else {
                    // The kernel resolves it from the link's folder; resolving from the cwd
                    // (as cargo's paths.rs does) would replace some other file.
                    current.parent().unwrap_or(Path::new("")).join(target)
                };
            }
            // Missing files and unreadable components are reported by the write itself.
            _ => return Ok(current),
        }
    }
    Err(WriteError::Symlink {
        path: path.to_path_buf(),
        reason: format!("more than {MAX_SYMLINKS} links in a row, probably a loop"),
    })
}

/// Refuse, before any lock is taken, to write a file that kubectl's writer could not
/// write: kubectl opens the file itself for writing, so a 0444 file or a file of another
/// user fails there with "permission denied" although rename() in a writable folder would
/// succeed. A file whose owner a replace could not keep is refused too, rather than handed
/// to the caller (kubectl's in-place write keeps the owner; an atomic replace keeps it only
/// by chown). A missing file passes: it is created 0600.
pub fn check_writable(path: &Path) -> Result<(), WriteError> {
    let target = resolve(path)?;
    match fs::metadata(&target) {
        Ok(meta) => check_existing(path, &target, &meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(WriteError::Read {
            path: path.to_path_buf(),
            error,
        }),
    }
}

fn check_existing(path: &Path, target: &Path, meta: &fs::Metadata) -> Result<(), WriteError> {
    if !meta.is_file() {
        return Err(WriteError::NotRegular {
            path: path.to_path_buf(),
            target: target.to_path_buf(),
        });
    }
    let denied = || WriteError::PermissionDenied {
        path: path.to_path_buf(),
        target: target.to_path_buf(),
    };
    #[cfg(unix)]
    {
        use rustix::fs::{access, Access};
        use rustix::io::Errno;
        use std::os::unix::fs::MetadataExt;
        match access(target, Access::WRITE_OK) {
            Ok(()) => {}
            Err(e) if e == Errno::ACCESS || e == Errno::PERM => return Err(denied()),
            // A read-only filesystem, say: the error says so better than "permission".
            Err(e) => {
                return Err(WriteError::Write {
                    path: path.to_path_buf(),
                    target: target.to_path_buf(),
                    step: "checking write access",
                    error: e.into(),
                })
            }
        }
        if !can_keep_owner(meta.uid(), meta.gid(), folder(target)) {
            return Err(WriteError::Owner {
                path: path.to_path_buf(),
                target: target.to_path_buf(),
                uid: meta.uid(),
                gid: meta.gid(),
            });
        }
    }
    #[cfg(not(unix))]
    if meta.permissions().readonly() {
        return Err(denied());
    }
    Ok(())
}

/// Whether a new file of ours in `dir` can be given `uid`:`gid`: root can give it to
/// anyone, others only keep their own user, and a group they belong to or the one the
/// folder hands every new file (a setgid folder; any folder on BSD and macOS).
#[cfg(unix)]
fn can_keep_owner(uid: u32, gid: u32, dir: &Path) -> bool {
    use rustix::process::{getegid, geteuid, getgroups};
    use std::os::unix::fs::MetadataExt;
    let me = geteuid();
    if me.is_root() {
        return true;
    }
    let inherited = || {
        let bsd_groups = cfg!(any(target_vendor = "apple", target_os = "freebsd"));
        fs::metadata(dir).is_ok_and(|d| d.gid() == gid && (bsd_groups || d.mode() & 0o2000 != 0))
    };
    uid == me.as_raw()
        && (gid == getegid().as_raw()
            || getgroups().is_ok_and(|groups| groups.iter().any(|g| g.as_raw() == gid))
            || inherited())
}

/// Replace the file at `path` with `contents` atomically. Symlinks (a chain too) are followed
/// and left in place; the final target is replaced. The new file has exactly the original's
/// mode and owner (0600 and the caller's owner for a new file); a file the caller may not
/// write, or whose owner could not be kept, is refused (see [`check_writable`]). On any
/// error the original is untouched and no temporary file is left. A crash or a full disk
/// leaves the old file or the new one, never half of each (kubectl's in-place
/// `os.WriteFile` can leave a truncated file). A hard-linked file stops sharing content with
/// its other names (rename makes a new inode), where kubectl keeps the link: nobody is known
/// to hard-link a kubeconfig, and atomicity matters more.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    // Evaluated first so `rename-fail:<n>` counts calls, not calls that got far.
    let fault = injected_fault(path);
    let target = resolve(path)?;
    let fail = |step: &'static str, error: io::Error| WriteError::Write {
        path: path.to_path_buf(),
        target: target.clone(),
        step,
        error,
    };

    let original = match fs::metadata(&target) {
        Ok(meta) => {
            check_existing(path, &target, &meta)?;
            Some(meta)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(fail("reading its metadata", e)),
    };
    let Some(name) = target.file_name() else {
        let error = io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name");
        return Err(fail("naming a temporary file", error));
    };
    let dir = folder(&target);

    // Dropping `temp` on an error path removes it.
    let mut temp = create_temp(dir, name).map_err(|e| fail("creating a temporary file", e))?;
    fill_temp(temp.as_file_mut(), original.as_ref(), contents, fault)
        .map_err(|(step, error)| fail(step, error))?;
    temp.persist(&target)
        .map_err(|e| fail("replacing the file", e.error))?;
    sync_folder(dir);
    Ok(())
}

/// Give the temporary file its owner, mode and bytes, durably.
fn fill_temp(
    file: &mut File,
    original: Option<&fs::Metadata>,
    contents: &[u8],
    fault: bool,
) -> Result<(), (&'static str, io::Error)> {
    #[cfg(unix)]
    set_owner_and_mode(file, original).map_err(|e| ("setting its owner and mode", e))?;
    #[cfg(not(unix))]
    let _ = original;
    file.write_all(contents).map_err(|e| ("writing", e))?;
    file.sync_all().map_err(|e| ("syncing to disk", e))?;
    if fault {
        let error = io::Error::other(format!("fault injected by {FAULT_ENV}"));
        return Err(("replacing the file", error));
    }
    Ok(())
}

/// The prefix of every temporary file this process makes for `name`:
/// `.<name>.tmp-<pid>-`. The pid lets a later rotate tell a dead writer's leftover from a
/// live writer's file in progress.
fn temp_prefix(name: &std::ffi::OsStr, pid: Option<u32>) -> std::ffi::OsString {
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp-");
    if let Some(pid) = pid {
        prefix.push(format!("{pid}-"));
    }
    prefix
}

/// Remove temporary files that a writer of `path` killed mid-write left behind
/// (`.<name>.tmp-<pid>-*` beside the real file). They hold a whole kubeconfig, tokens
/// included. Only provably stale ones go: the writer named in the file name is no longer
/// running (another rotate's file in progress is never touched). Call it while holding
/// `path`'s locks. Best effort: a file that cannot be removed is left for the next run.
/// Elsewhere than unix a process cannot be asked about cheaply, and nothing is removed.
pub fn remove_stale_temp_files(path: &Path) {
    let Ok(target) = resolve(path) else {
        return;
    };
    let Some(name) = target.file_name() else {
        return;
    };
    let prefix = temp_prefix(name, None);
    let Some(prefix) = prefix.to_str() else {
        return;
    };
    let Ok(entries) = fs::read_dir(folder(&target)) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let writer = rest
            .split('-')
            .next()
            .and_then(|pid| pid.parse::<u32>().ok());
        if writer.is_some_and(writer_is_gone) && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` has ended (so a temporary file it named is nobody's any more).
#[cfg(unix)]
fn writer_is_gone(pid: u32) -> bool {
    use rustix::process::{test_kill_process, Pid};
    if pid == std::process::id() {
        return false;
    }
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    // EPERM means it exists (another user's process); only "no such process" is proof.
    matches!(test_kill_process(pid), Err(e) if e == rustix::io::Errno::SRCH)
}

#[cfg(not(unix))]
fn writer_is_gone(_pid: u32) -> bool {
    false
}

/// `.<name>.tmp-<pid>-<random>` in `dir`, mode 0600 from creation: hidden, and on the same
/// filesystem as the target so the rename is atomic. tempfile creates it exclusively and
/// retries on a name clash, so it is never someone else's file.
fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> io::Result<tempfile::NamedTempFile> {
    let prefix = temp_prefix(name, Some(std::process::id()));
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).rand_bytes(8);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(PRIVATE_MODE));
    }
    builder.tempfile_in(dir)
}

/// Owner first, mode second: chown clears set-id bits, and while the file is still 0600 no
/// other user can open it between the two steps. An owner that cannot be kept is an error,
/// never a quiet change of owner (the caller checked beforehand; this catches a race).
#[cfg(unix)]
fn set_owner_and_mode(file: &File, original: Option<&fs::Metadata>) -> io::Result<()> {
    use std::os::unix::fs::{fchown, MetadataExt, PermissionsExt};
    let Some(original) = original else {
        // Explicit, because the umask may have narrowed the create mode further.
        return file.set_permissions(fs::Permissions::from_mode(PRIVATE_MODE));
    };
    let (want_uid, want_gid) = (original.uid(), original.gid());
    let meta = file.metadata()?;
    if (meta.uid(), meta.gid()) != (want_uid, want_gid) {
        fchown(file, Some(want_uid), Some(want_gid)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot keep its owner (uid {want_uid}, gid {want_gid}): {}",
                    crate::io::io_message(&e)
                ),
            )
        })?;
    }
    file.set_permissions(fs::Permissions::from_mode(original.mode() & 0o7777))
}

/// Makes the rename itself durable. Best effort: the file is already replaced and visible, so
/// failing now would report a write that happened as one that did not (and a commit would then
/// mis-report its rollback); some filesystems cannot sync a folder at all.
pub(super) fn sync_folder(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
