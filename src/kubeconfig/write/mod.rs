//! The only code that writes kubeconfig and token files, one job a file: `lock.rs` locks as
//! client-go takes them (`<file>.lock` with `O_CREAT|O_EXCL`, for the path as given and for
//! the file it resolves to), `replace.rs` the permission check and the atomic replace (a
//! temporary file beside the target, the original's mode and owner, `fsync`, `rename`,
//! `fsync` of the folder), `commit.rs` the multi-file commit with rollback; beside them
//! `backup.rs`, `interrupt.rs` (while locks are held a stop signal only sets a flag) and
//! `fault.rs` (debug builds' fault hook). This file holds the one error type and the
//! helpers they share. It never parses YAML or picks files: callers plan the bytes and hold
//! the locks.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod backup;
mod commit;
mod fault;
mod interrupt;
mod lock;
mod replace;
#[cfg(test)]
mod tests;

pub use backup::backup;
pub use commit::{commit, CommitError, CommitReport, PlannedWrite};
pub use interrupt::{interrupted, InterruptGuard};
pub use lock::{lock, lock_all, lock_path, FileLock};
pub use replace::{check_writable, remove_stale_temp_files, write_atomic};

use commit::read_current;
use fault::injected_fault;
use replace::{resolve, sync_folder};

/// The environment variable read by the fault-injection hook (debug builds only).
pub const FAULT_ENV: &str = "KUBECTL_COREWEAVE_FAULT";

/// Linux gives up after 40 links (`ELOOP`); doing the same keeps the two in agreement.
const MAX_SYMLINKS: usize = 40;

/// Mode of every file this module creates from nothing: kubeconfigs hold bearer tokens.
#[cfg(unix)]
const PRIVATE_MODE: u32 = 0o600;

/// Every way a write fails. Each message is one line that names the path and says what to
/// do, and embeds its I/O cause instead of exposing it as `source()`, so printing the error
/// chain shows every cause once.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("interrupted while waiting for {lock}; nothing was written")]
    Interrupted { lock: PathBuf },

    #[error(
        "{path} is locked by {lock}{}; another kubectl may be writing it: retry, or if none is running, remove {lock}",
        age_note(.age)
    )]
    Locked {
        path: PathBuf,
        lock: PathBuf,
        /// How long ago the lock file was created, when its time can be read.
        age: Option<Duration>,
    },

    #[error("cannot create lock file {lock}: {error}; check that {} exists and is writable", folder(.lock).display())]
    Lock { lock: PathBuf, error: io::Error },

    #[error("cannot remove lock file {lock}: {error}; remove it by hand, or kubectl cannot write the file")]
    Unlock { lock: PathBuf, error: io::Error },

    #[error("cannot read {path}: {error}; check that it exists and is readable")]
    Read { path: PathBuf, error: io::Error },

    #[error("cannot follow symlink {path}: {reason}; fix or remove the link")]
    Symlink { path: PathBuf, reason: String },

    #[error("cannot write {path}{}: it is not a regular file; point the path at a file", via(.path, .target))]
    NotRegular { path: PathBuf, target: PathBuf },

    #[error(
        "cannot write {path}{}: {step} failed: {error}; it is left as it was; check free space and that {} is writable",
        via(.path, .target),
        folder(.target).display()
    )]
    Write {
        path: PathBuf,
        /// The file actually replaced: `path` with symlinks followed.
        target: PathBuf,
        step: &'static str,
        error: io::Error,
    },

    #[error("cannot write {path}{}: permission denied; it is left as it was (kubectl refuses it too); make it writable or run as its owner", via(.path, .target))]
    PermissionDenied { path: PathBuf, target: PathBuf },

    #[error("refusing to write {path}{}: it belongs to uid {uid} gid {gid}, and replacing it would change its owner; it is left as it was; run as its owner", via(.path, .target))]
    Owner {
        path: PathBuf,
        target: PathBuf,
        uid: u32,
        gid: u32,
    },

    #[error("cannot remove {path}: {error}; remove it by hand")]
    Remove { path: PathBuf, error: io::Error },

    #[error("refusing to overwrite {path}: it changed on disk since it was read; run the command again to start from its current content")]
    Changed { path: PathBuf },
}

fn age_note(age: &Option<Duration>) -> String {
    match age {
        Some(age) => format!(" (created {}s ago)", age.as_secs()),
        None => String::new(),
    }
}

fn via(path: &Path, target: &Path) -> String {
    if path == target {
        String::new()
    } else {
        format!(" (symlink to {})", target.display())
    }
}

/// The folder holding `path`; `.` for a bare file name, so it can be opened and shown.
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// `create_new` with mode 0600, so a secret is never readable by others, not even for a moment.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_MODE);
    }
    options.open(path)
}
