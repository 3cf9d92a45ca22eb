//! The only code that writes kubeconfig and token files: locks, atomic replace and the
//! multi-file commit, one file each, with the backups and the signal guard beside them.
//!
//! - **Locking** (`lock.rs`, [`lock_all`]): `<file>.lock`, created with `O_CREAT|O_EXCL` exactly as
//!   client-go does before kubectl writes a kubeconfig, so kubectl and this plugin never write
//!   the same file at once: one for the path as given (the name kubectl locks) and one for
//!   the file it resolves to, so every name of one file meets on a lock.
//! - **Permission** (`replace.rs`, [`check_writable`]): what kubectl's writer would refuse (a read-only
//!   file, another user's file) is refused before any lock.
//! - **Atomic replace** (`replace.rs`, [`write_atomic`]): a temporary file beside the real target, the
//!   original's mode and owner exactly, `fsync`, `rename`, `fsync` of the folder. A crash or
//!   a full disk leaves either the old file or the new one, never half of each (kubectl's own
//!   in-place `os.WriteFile` can leave a truncated file). Symlinks are followed and kept, as
//!   kubectl does. Temporary files a dead writer left are removed
//!   ([`remove_stale_temp_files`]).
//! - **Multi-file commit** (`commit.rs`, [`commit`]): one rotation may touch several files; they are checked
//!   against the bytes they were planned from, written in order, and if one fails the ones
//!   already written are put back, and the error says exactly which file holds what.
//!
//! Beside them: `backup.rs` ([`backup`], a private copy `<file>.bak-<UTC time>` before an
//! edit), `interrupt.rs` ([`InterruptGuard`]: while locks are held, a stop signal only sets
//! a flag, so the locks are removed on the way out) and `fault.rs` (the hook below). This
//! file holds the one error type and the helpers they share.
//!
//! Where its job stops: it never parses YAML or picks files; callers plan the bytes and hold
//! the locks.
//!
//! Errors are one line that names the path and says what to do. Each embeds its I/O cause
//! instead of exposing it as `source()`, so printing the error chain shows every cause once.
//!
//! A hard-linked file stops sharing content with its other names after a replace (rename makes
//! a new inode); kubectl writes in place and keeps the link. Nobody is known to hard-link a
//! kubeconfig, and atomicity matters more.
//!
//! # Fault injection (debug builds only)
//!
//! Integration tests cannot make a write fail as root (root ignores permissions), so in debug
//! builds, and only there, the environment variable `KUBECTL_COREWEAVE_FAULT` makes
//! [`write_atomic`] fail after writing its temporary file and before the rename. It holds
//! comma-separated items:
//!
//! - `write-fail:<file-name>`: every write whose path, or symlink target, has that file name;
//! - `rename-fail:<n>`: the n-th call to `write_atomic` in the process, counting from 1
//!   (backups and rollback restores count too).
//!
//! Example: `KUBECTL_COREWEAVE_FAULT=write-fail:config-b` makes a commit fail on `config-b`
//! and roll back the files written before it. Release builds never read the variable.

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
