//! The only code that writes kubeconfig and token files. It owns five jobs:
//!
//! - **Locking** ([`lock_all`]): `<file>.lock`, created with `O_CREAT|O_EXCL` exactly as
//!   client-go does before kubectl writes a kubeconfig, so kubectl and this plugin never write
//!   the same file at once: one for the path as given (the name kubectl locks) and one for
//!   the file it resolves to, so every name of one file meets on a lock.
//! - **Permission** ([`check_writable`]): what kubectl's writer would refuse (a read-only
//!   file, another user's file) is refused before any lock.
//! - **Atomic replace** ([`write_atomic`]): a temporary file beside the real target, the
//!   original's mode and owner exactly, `fsync`, `rename`, `fsync` of the folder. A crash or
//!   a full disk leaves either the old file or the new one, never half of each (kubectl's own
//!   in-place `os.WriteFile` can leave a truncated file). Symlinks are followed and kept, as
//!   kubectl does.
//! - **Backups** ([`backup`]): a private copy `<file>.bak-<UTC time>` before an edit.
//! - **Multi-file commit** ([`commit`]): one rotation may touch several files; they are checked
//!   against the bytes they were planned from, written in order, and if one fails the ones
//!   already written are put back, and the error says exactly which file holds what.
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

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

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

/// `<path>.lock`, the name client-go uses: the suffix is appended, not swapped for an extension.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// A held `<path>.lock`; removed on drop (and by [`FileLock::release`]).
#[derive(Debug)]
#[must_use = "the lock is released as soon as it is dropped"]
pub struct FileLock {
    lock: PathBuf,
    held: bool,
    /// Written into the lock file, so we never delete a lock someone else made after ours was
    /// removed by hand. Inode numbers cannot tell: a new file reuses the freed one at once.
    /// client-go's own lock files are empty, so they never match.
    token: String,
}

impl FileLock {
    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.lock
    }

    /// Remove the lock file now, reporting a failure that drop would have to ignore.
    pub fn release(mut self) -> Result<(), WriteError> {
        self.held = false;
        self.remove()
    }

    fn remove(&self) -> Result<(), WriteError> {
        let unlock = |error| WriteError::Unlock {
            lock: self.lock.clone(),
            error,
        };
        match fs::read(&self.lock) {
            Ok(found) if found == self.token.as_bytes() => {}
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(unlock(error)),
        }
        match fs::remove_file(&self.lock) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(unlock(error)),
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if self.held {
            let _ = self.remove();
        }
    }
}

/// Set by SIGINT, SIGTERM or SIGHUP while an [`InterruptGuard`] is alive.
fn interrupt_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(Arc::default)
}

/// Whether a stop signal arrived while an [`InterruptGuard`] was alive.
pub fn interrupted() -> bool {
    interrupt_flag().load(Ordering::SeqCst)
}

/// While alive, SIGINT, SIGTERM and SIGHUP only set a flag instead of killing the process,
/// so a rotate waiting for a lock (or about to write) stops cleanly and its own `.lock`
/// files are removed by their `Drop`, instead of being left behind to block every kubectl
/// write. Taken only around the locked part: at a prompt, Ctrl-C still stops at once.
///
/// signal-hook cannot give a signal its default disposition back once it handles it, so
/// the handlers are registered once, for the whole process, and outside a guard they run
/// the default action themselves (`register_conditional_default`): Ctrl-C after the last
/// guard is gone ends the program as it would have before the first.
pub struct InterruptGuard {
    _private: (),
}

/// How many guards are alive, and the flag that lets the handlers run the default action.
#[cfg(unix)]
fn guard_state() -> &'static (std::sync::Mutex<usize>, Arc<AtomicBool>) {
    static STATE: OnceLock<(std::sync::Mutex<usize>, Arc<AtomicBool>)> = OnceLock::new();
    STATE.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let default_action = Arc::new(AtomicBool::new(true));
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            // Registration fails only for forbidden signals; these three are not.
            let _ =
                signal_hook::flag::register_conditional_default(sig, Arc::clone(&default_action));
            let _ = signal_hook::flag::register(sig, Arc::clone(interrupt_flag()));
        }
        (std::sync::Mutex::new(0), default_action)
    })
}

impl InterruptGuard {
    pub fn install() -> InterruptGuard {
        #[cfg(unix)]
        {
            let (alive, default_action) = guard_state();
            let mut alive = alive
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *alive += 1;
            default_action.store(false, Ordering::SeqCst);
        }
        InterruptGuard { _private: () }
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let (alive, default_action) = guard_state();
            let mut alive = alive
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *alive = alive.saturating_sub(1);
            if *alive == 0 {
                default_action.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// Lock every file in `paths` against every writer that follows client-go's protocol,
/// whatever name it reaches the file by. Each file gets two locks: `<path>.lock` for the
/// name as listed (the one kubectl takes) and `<target>.lock` for the file that name
/// resolves to (symlinks followed, folders canonical), so `tok`, `/abs/tok`, `sub/../tok`
/// and a symlink to `tok` all meet on one lock. Lock files that are one file under two
/// names are taken once, and all are taken in the order of their canonical names: a rotate
/// never waits for itself, and two rotates never wait for each other in a circle.
pub fn lock_all<'a>(
    paths: impl IntoIterator<Item = &'a Path>,
    timeout: Duration,
) -> Result<Vec<FileLock>, WriteError> {
    let mut wanted: std::collections::BTreeMap<PathBuf, (PathBuf, PathBuf)> =
        std::collections::BTreeMap::new();
    for path in paths {
        let target = resolve(path)?;
        for (file, lock) in [
            (path, lock_path(path)),
            (target.as_path(), lock_path(&target)),
        ] {
            wanted
                .entry(canonical_name(&lock))
                .or_insert_with(|| (file.to_path_buf(), lock));
        }
    }
    wanted
        .into_values()
        .map(|(file, lock)| take_lock(&file, lock, timeout))
        .collect()
}

/// The name a possibly missing file is known by whatever path reaches it: its folder
/// canonical, its own name kept. Falls back to the absolute path when the folder is missing
/// (creating the lock fails there anyway, naming it).
fn canonical_name(path: &Path) -> PathBuf {
    match (fs::canonicalize(folder(path)), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// Create `<path>.lock` with create_new (mode 0600). While it exists, retry every 20-50 ms
/// until `timeout` has passed, then fail naming the lock file. A zero timeout tries once, which
/// is what kubectl does.
pub fn lock(path: &Path, timeout: Duration) -> Result<FileLock, WriteError> {
    take_lock(path, lock_path(path), timeout)
}

/// Take the lock file `lock`, which guards `path` (named in messages).
fn take_lock(path: &Path, lock: PathBuf, timeout: Duration) -> Result<FileLock, WriteError> {
    let start = Instant::now();
    loop {
        match create_private(&lock) {
            Ok(mut file) => {
                let token = format!(
                    "kubectl-coreweave pid {} {:08x}\n",
                    std::process::id(),
                    fastrand::u32(..)
                );
                if let Err(error) = file.write_all(token.as_bytes()) {
                    drop(file);
                    let _ = fs::remove_file(&lock);
                    return Err(WriteError::Lock { lock, error });
                }
                return Ok(FileLock {
                    lock,
                    held: true,
                    token,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if interrupted() {
                    return Err(WriteError::Interrupted { lock });
                }
                let waited = start.elapsed();
                if waited >= timeout {
                    let age = fs::symlink_metadata(&lock)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    return Err(WriteError::Locked {
                        path: path.to_path_buf(),
                        lock,
                        age,
                    });
                }
                // Jitter keeps two waiting plugins from retrying in lockstep.
                let pause = Duration::from_millis(fastrand::u64(20..=50));
                thread::sleep(pause.min(timeout - waited));
            }
            Err(error) => return Err(WriteError::Lock { lock, error }),
        }
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

/// Follow a chain of symlinks to the file they end at, which may not exist yet (kubectl also
/// writes through a dangling link). A relative target is relative to the link's folder.
fn resolve(path: &Path) -> Result<PathBuf, WriteError> {
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
/// error the original is untouched and no temporary file is left.
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
                    crate::io_message(&e)
                ),
            )
        })?;
    }
    file.set_permissions(fs::Permissions::from_mode(original.mode() & 0o7777))
}

/// Makes the rename itself durable. Best effort: the file is already replaced and visible, so
/// failing now would report a write that happened as one that did not (and a commit would then
/// mis-report its rollback); some filesystems cannot sync a folder at all.
fn sync_folder(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Copy the current bytes of `path` to `<path>.bak-<YYYYMMDDTHHMMSSZ>` (UTC), or `...Z-1`,
/// `...Z-2` when that name is taken, with mode 0600 and the original's owner. Returns the
/// backup's path. The backup sits beside `path` as given, even when it is a symlink.
pub fn backup(path: &Path) -> Result<PathBuf, WriteError> {
    backup_stamped(path, &utc_stamp(SystemTime::now()))
}

fn backup_stamped(path: &Path, stamp: &str) -> Result<PathBuf, WriteError> {
    let read_error = |error| WriteError::Read {
        path: path.to_path_buf(),
        error,
    };
    let bytes = read_current(path).map_err(read_error)?;
    #[cfg(unix)]
    let original = fs::metadata(path).map_err(read_error)?;
    for n in 0..1000 {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".bak-{stamp}"));
        if n > 0 {
            name.push(format!("-{n}"));
        }
        let name = PathBuf::from(name);
        // Reserving the name with create_new means two backups in one second never overwrite
        // each other; write_atomic then keeps the reservation's mode and owner.
        match create_private(&name) {
            Ok(file) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::{fchown, MetadataExt};
                    // So that root backing up a user's file leaves a backup that user can read.
                    let _ = fchown(&file, Some(original.uid()), Some(original.gid()));
                }
                drop(file);
                return match write_atomic(&name, &bytes) {
                    Ok(()) => Ok(name),
                    Err(e) => {
                        let _ = fs::remove_file(&name);
                        Err(e)
                    }
                };
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => {
                return Err(WriteError::Write {
                    target: name.clone(),
                    path: name,
                    step: "creating the backup file",
                    error,
                })
            }
        }
    }
    Err(WriteError::Write {
        path: path.to_path_buf(),
        target: path.to_path_buf(),
        step: "finding a free backup name",
        error: io::Error::new(io::ErrorKind::AlreadyExists, "1000 backups in one second"),
    })
}

/// `YYYYMMDDTHHMMSSZ` in UTC: RFC 3339 without its separators, so names sort by time. A
/// clock before 1970 gives the epoch rather than failing a backup.
fn utc_stamp(time: SystemTime) -> String {
    let at = jiff::Timestamp::try_from(time)
        .ok()
        .filter(|t| *t >= jiff::Timestamp::UNIX_EPOCH)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    crate::time::format_rfc3339(at).replace(['-', ':'], "")
}

/// One planned change: the file, the exact bytes it was planned from, and the new bytes.
pub struct PlannedWrite {
    pub path: PathBuf,
    /// What the file held when read; `None` if it did not exist (a rollback then removes it).
    pub original: Option<Vec<u8>>,
    pub new: Vec<u8>,
}

/// Shows sizes only: the bytes are kubeconfigs and tokens.
impl fmt::Debug for PlannedWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlannedWrite")
            .field("path", &self.path)
            .field("original_len", &self.original.as_ref().map(Vec::len))
            .field("new_len", &self.new.len())
            .finish()
    }
}

/// What a successful [`commit`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Files replaced, in order.
    pub written: Vec<PathBuf>,
    /// Files whose new bytes equal their original ones, left alone.
    pub unchanged: Vec<PathBuf>,
}

/// A [`commit`] that stopped: which file failed, why, and where every file written before it
/// stands now. `written` is always `restored` plus the paths in `not_restored`.
#[derive(Debug)]
pub struct CommitError {
    /// The file that could not be written (or changed on disk).
    pub path: PathBuf,
    /// Boxed to keep `Result<_, CommitError>` small.
    pub cause: Box<WriteError>,
    /// Files replaced before the failure, in order.
    pub written: Vec<PathBuf>,
    /// Of those, the ones put back to their original bytes.
    pub restored: Vec<PathBuf>,
    /// Of those, the ones that could not be put back and now hold the new bytes.
    pub not_restored: Vec<(PathBuf, WriteError)>,
}

impl CommitError {
    /// Whether no file now differs from what it held before the commit.
    pub fn nothing_changed(&self) -> bool {
        self.not_restored.is_empty()
    }
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cause)?;
        if self.written.is_empty() {
            return f.write_str("; no file was written");
        }
        if !self.restored.is_empty() {
            write!(f, "; rolled back {}", join(self.restored.iter()))?;
        }
        for (path, error) in &self.not_restored {
            write!(
                f,
                "; {} still holds the new content because rolling it back failed ({error}); restore it from its backup",
                path.display()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for CommitError {}

fn join<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> String {
    paths
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Commit several planned writes; the caller already holds their locks. Every file is first
/// checked against the bytes it was planned from, so a file changed by another program stops
/// the commit before anything is written; each is checked again right before its own replace.
/// Files are written in order; if one fails, those written before it are put back (newest
/// first), atomically, and the error reports each file's state.
pub fn commit(writes: &[PlannedWrite]) -> Result<CommitReport, CommitError> {
    let stopped = |w: &PlannedWrite, cause| CommitError {
        path: w.path.clone(),
        cause: Box::new(cause),
        written: Vec::new(),
        restored: Vec::new(),
        not_restored: Vec::new(),
    };
    for w in writes {
        unchanged_on_disk(w).map_err(|cause| stopped(w, cause))?;
    }

    let mut report = CommitReport::default();
    let mut done: Vec<&PlannedWrite> = Vec::new();
    for w in writes {
        if w.original.as_deref() == Some(&w.new[..]) {
            report.unchanged.push(w.path.clone());
            continue;
        }
        let result = unchanged_on_disk(w).and_then(|()| write_atomic(&w.path, &w.new));
        if let Err(cause) = result {
            let mut error = stopped(w, cause);
            error.written = done.iter().map(|d| d.path.clone()).collect();
            for d in done.iter().rev() {
                match restore(d) {
                    Ok(()) => error.restored.insert(0, d.path.clone()),
                    Err(e) => error.not_restored.insert(0, (d.path.clone(), e)),
                }
            }
            return Err(error);
        }
        done.push(w);
        report.written.push(w.path.clone());
    }
    Ok(report)
}

fn unchanged_on_disk(w: &PlannedWrite) -> Result<(), WriteError> {
    let now = match read_current(&w.path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(WriteError::Read {
                path: w.path.clone(),
                error,
            })
        }
    };
    if now == w.original {
        Ok(())
    } else {
        Err(WriteError::Changed {
            path: w.path.clone(),
        })
    }
}

/// The bytes of a file about to be backed up or replaced: a regular file, at most the
/// kubeconfig size cap, so a file swapped for a FIFO or a device since it was planned can
/// neither hang a rotate that holds locks nor fill its memory.
fn read_current(path: &Path) -> io::Result<Vec<u8>> {
    let file = super::token_file::open_regular(path)?;
    super::token_file::read_capped(file, super::MAX_FILE_SIZE)
}

fn restore(w: &PlannedWrite) -> Result<(), WriteError> {
    if let Some(original) = &w.original {
        return write_atomic(&w.path, original);
    }
    // The commit created the file, through any symlink: remove what it created, keep the link.
    let target = resolve(&w.path)?;
    match fs::remove_file(&target) {
        Ok(()) => {
            sync_folder(folder(&target));
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(WriteError::Remove {
            path: target,
            error,
        }),
    }
}

/// Whether this `write_atomic` call must fail, per [`FAULT_ENV`]. Unit tests use a
/// per-thread spec instead, so parallel tests neither race on the environment nor share a count.
fn injected_fault(path: &Path) -> bool {
    if !cfg!(debug_assertions) {
        return false;
    }
    let Some((spec, call)) = fault_spec() else {
        return false;
    };
    let target = resolve(path).unwrap_or_else(|_| path.to_path_buf());
    fault_matches(&spec, call, path, &target)
}

/// The armed fault spec and this call's number, counting calls made while it is armed.
#[cfg(not(test))]
fn fault_spec() -> Option<(String, u64)> {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let spec = std::env::var_os(FAULT_ENV)?;
    let call = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    Some((spec.to_string_lossy().into_owned(), call))
}

#[cfg(test)]
fn fault_spec() -> Option<(String, u64)> {
    tests::TEST_FAULT.with(|slot| {
        let mut slot = slot.borrow_mut();
        let (spec, calls) = slot.as_mut()?;
        *calls += 1;
        Some((spec.clone(), *calls))
    })
}

fn fault_matches(spec: &str, call: u64, path: &Path, target: &Path) -> bool {
    spec.split(',')
        .filter_map(|item| item.trim().split_once(':'))
        .any(|(kind, arg)| match kind {
            "write-fail" => [path, target]
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n == arg)),
            "rename-fail" => arg.parse() == Ok(call),
            _ => false,
        })
}

#[cfg(test)]
mod tests {

    /// Outside every guard the handlers run the signal's default action; inside any (they
    /// nest, as `kubeconfig import --replace-token` nests a rotate), they only set the flag.
    #[cfg(unix)]
    #[test]
    fn signals_act_as_before_once_the_last_guard_is_gone() {
        let default_action = || guard_state().1.load(Ordering::SeqCst);
        let outer = InterruptGuard::install();
        let inner = InterruptGuard::install();
        assert!(!default_action());
        drop(inner);
        assert!(!default_action(), "the outer guard is still alive");
        drop(outer);
        assert!(default_action());
    }

    use super::*;
    use std::cell::RefCell;

    thread_local! {
        pub(super) static TEST_FAULT: RefCell<Option<(String, u64)>> = const { RefCell::new(None) };
    }

    /// Arms the fault hook for this test's thread until dropped.
    struct Fault;
    fn inject(spec: &str) -> Fault {
        TEST_FAULT.with(|slot| *slot.borrow_mut() = Some((spec.to_string(), 0)));
        Fault
    }
    impl Drop for Fault {
        fn drop(&mut self) {
            TEST_FAULT.with(|slot| *slot.borrow_mut() = None);
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn temp_files(dir: &Path) -> Vec<String> {
        names(dir)
            .into_iter()
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Root ignores file permissions, so permission-based failures need the fault hook there.
    #[cfg(unix)]
    fn running_as_root() -> bool {
        use std::os::unix::fs::MetadataExt;
        let probe = tempfile::NamedTempFile::new().unwrap();
        probe.as_file().metadata().unwrap().uid() == 0
    }

    // ---- lock ----

    #[test]
    fn lock_creates_lock_file_and_release_and_drop_remove_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let lock_file = dir.path().join("config.lock");

        let held = lock(&config, Duration::ZERO).unwrap();
        assert_eq!(held.path(), lock_file);
        assert!(lock_file.exists());
        held.release().unwrap();
        assert!(!lock_file.exists());

        let held = lock(&config, Duration::ZERO).unwrap();
        assert!(lock_file.exists());
        drop(held);
        assert!(!lock_file.exists());
    }

    #[cfg(unix)]
    #[test]
    fn lock_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(&dir.path().join("config"), Duration::ZERO).unwrap();
        assert_eq!(mode(held.path()), 0o600);
    }

    #[test]
    fn second_lock_waits_then_times_out_naming_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let _held = lock(&config, Duration::ZERO).unwrap();

        let start = Instant::now();
        let err = lock(&config, Duration::from_millis(150)).unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(150));
        assert!(matches!(err, WriteError::Locked { .. }), "{err:?}");
        let msg = err.to_string();
        let lock_name = dir.path().join("config.lock").display().to_string();
        assert!(msg.contains(&lock_name), "{msg}");
        assert!(msg.contains("created 0s ago"), "{msg}");
        assert!(msg.contains(&format!("remove {lock_name}")), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn lock_is_acquired_once_the_holder_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let held = lock(&config, Duration::ZERO).unwrap();
        let holder = thread::spawn(move || {
            thread::sleep(Duration::from_millis(150));
            drop(held);
        });

        let start = Instant::now();
        let second = lock(&config, Duration::from_secs(5)).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(second.path().exists());
        holder.join().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn lock_is_named_after_the_link_not_its_target() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("real"), "x").unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("config")).unwrap();
        let _held = lock(&dir.path().join("config"), Duration::ZERO).unwrap();
        assert!(dir.path().join("config.lock").exists());
        assert!(!dir.path().join("real.lock").exists());
    }

    #[test]
    fn dropping_a_lock_never_removes_someone_elses() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let held = lock(&config, Duration::ZERO).unwrap();
        // A user removed our "stale" lock; then another plugin, then kubectl, took it.
        fs::remove_file(held.path()).unwrap();
        let other = lock(&config, Duration::ZERO).unwrap();
        drop(held);
        assert!(other.path().exists());
        fs::remove_file(other.path()).unwrap();
        fs::write(other.path(), "").unwrap();
        drop(other);
        assert!(dir.path().join("config.lock").exists());
    }

    /// `real`, `sub/../real` and a symlink to it are one file: locking all three names at
    /// once takes `real.lock` once (no wait for itself) plus the link's own lock, and a
    /// second locker through any of the names is shut out.
    #[cfg(unix)]
    #[test]
    fn lock_all_takes_one_lock_per_file_whatever_the_names() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("real"), "x").unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
        let paths = ["real", "sub/../real", "link"].map(|n| dir.path().join(n));

        let held = lock_all(paths.iter().map(PathBuf::as_path), Duration::ZERO).unwrap();

        let mut locks: Vec<String> = names_of(&held);
        locks.sort();
        assert_eq!(locks, ["link.lock", "real.lock"]);
        for name in &paths {
            let err = lock_all([name.as_path()], Duration::ZERO).unwrap_err();
            assert!(
                matches!(err, WriteError::Locked { .. }),
                "{name:?}: {err:?}"
            );
        }
        drop(held);
        assert_eq!(names(dir.path()), ["link", "real", "sub"]);
    }

    #[cfg(unix)]
    fn names_of(locks: &[FileLock]) -> Vec<String> {
        locks
            .iter()
            .map(|l| l.path().file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn only_dead_writers_temp_files_are_stale() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(&config, "x").unwrap();
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let gone_pid = gone.id();
        gone.wait().unwrap();
        let ours = format!(".config.tmp-{}-aaaaaaaa", std::process::id());
        for name in [
            ours.as_str(),
            &format!(".config.tmp-{gone_pid}-bbbbbbbb"),
            ".config.tmp-1-cccccccc",
            ".config.tmp-nopid",
            ".other.tmp-1-dddddddd",
        ] {
            fs::write(dir.path().join(name), "t").unwrap();
        }

        remove_stale_temp_files(&config);

        // pid 1 runs; a name without a pid proves nothing; another file's temps are not ours.
        let mut want = vec![
            ".config.tmp-1-cccccccc",
            ".config.tmp-nopid",
            ".other.tmp-1-dddddddd",
            "config",
        ];
        want.push(&ours);
        want.sort();
        assert_eq!(names(dir.path()), want);
    }

    #[test]
    fn lock_in_a_missing_folder_fails_at_once_naming_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("missing").join("config");
        let err = lock(&config, Duration::from_secs(5)).unwrap_err();
        // The creation's own error, not the end of a wait for someone else's lock.
        assert!(
            matches!(&err, WriteError::Lock { error, .. } if error.kind() == io::ErrorKind::NotFound),
            "{err:?}"
        );
        assert!(err.to_string().contains("config.lock"), "{err}");
    }

    // ---- write_atomic ----

    #[test]
    fn write_atomic_replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(&config, "old contents that are longer").unwrap();
        write_atomic(&config, b"new").unwrap();
        assert_eq!(fs::read(&config).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["config"]);
    }

    #[test]
    fn write_atomic_creates_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        write_atomic(&config, b"hello").unwrap();
        assert_eq!(fs::read(&config).unwrap(), b"hello");
        assert_eq!(names(dir.path()), ["config"]);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_keeps_mode_0640() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(&config, "old").unwrap();
        set_mode(&config, 0o640);
        write_atomic(&config, b"new").unwrap();
        assert_eq!(mode(&config), 0o640);
        assert_eq!(fs::read(&config).unwrap(), b"new");
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_gives_a_new_file_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        write_atomic(&config, b"new").unwrap();
        assert_eq!(mode(&config), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_keeps_owner() {
        use std::os::unix::fs::{chown, MetadataExt};
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(&config, "old").unwrap();
        set_mode(&config, 0o640);
        let ours = fs::metadata(&config).unwrap().uid();
        // Only root can give a file away; otherwise the owner must stay the caller.
        let want = if running_as_root() {
            chown(&config, Some(4321), Some(4322)).unwrap();
            (4321, 4322)
        } else {
            (ours, fs::metadata(&config).unwrap().gid())
        };
        write_atomic(&config, b"new").unwrap();
        let meta = fs::metadata(&config).unwrap();
        assert_eq!((meta.uid(), meta.gid()), want);
        assert_eq!(mode(&config), 0o640);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_through_relative_symlink_in_another_folder_keeps_the_link() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let (kube, dotfiles) = (dir.path().join("kube"), dir.path().join("dotfiles"));
        fs::create_dir_all(&kube).unwrap();
        fs::create_dir_all(&dotfiles).unwrap();
        fs::write(dotfiles.join("real"), "old").unwrap();
        set_mode(&dotfiles.join("real"), 0o640);
        // Relative to kube/, not to the cwd, where ../dotfiles does not exist.
        symlink("../dotfiles/real", kube.join("config")).unwrap();

        write_atomic(&kube.join("config"), b"new").unwrap();

        let link = fs::symlink_metadata(kube.join("config")).unwrap();
        assert!(link.file_type().is_symlink());
        assert_eq!(
            fs::read_link(kube.join("config")).unwrap(),
            Path::new("../dotfiles/real")
        );
        assert_eq!(fs::read(dotfiles.join("real")).unwrap(), b"new");
        assert_eq!(mode(&dotfiles.join("real")), 0o640);
        assert_eq!(names(&kube), ["config"]);
        assert_eq!(names(&dotfiles), ["real"]);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_through_a_chain_of_two_links_keeps_both() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        for sub in ["a", "b", "c"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        fs::write(dir.path().join("c/real"), "old").unwrap();
        symlink("../c/real", dir.path().join("b/hop")).unwrap();
        symlink("../b/hop", dir.path().join("a/config")).unwrap();

        write_atomic(&dir.path().join("a/config"), b"new").unwrap();

        for link in ["a/config", "b/hop"] {
            let meta = fs::symlink_metadata(dir.path().join(link)).unwrap();
            assert!(meta.file_type().is_symlink(), "{link}");
        }
        assert_eq!(fs::read(dir.path().join("c/real")).unwrap(), b"new");
        assert_eq!(names(&dir.path().join("c")), ["real"]);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_through_a_dangling_link_creates_the_target() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("config")).unwrap();
        write_atomic(&dir.path().join("config"), b"new").unwrap();
        assert!(fs::symlink_metadata(dir.path().join("config"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(dir.path().join("real")).unwrap(), b"new");
        assert_eq!(mode(&dir.path().join("real")), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_refuses_a_symlink_loop() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        let err = write_atomic(&dir.path().join("a"), b"new").unwrap_err();
        assert!(matches!(err, WriteError::Symlink { .. }), "{err:?}");
        assert!(err
            .to_string()
            .contains(&dir.path().join("a").display().to_string()));
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn write_atomic_refuses_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("config")).unwrap();
        let err = write_atomic(&dir.path().join("config"), b"new").unwrap_err();
        assert!(matches!(err, WriteError::NotRegular { .. }), "{err:?}");
        assert!(dir.path().join("config").is_dir());
    }

    #[test]
    fn failed_write_leaves_original_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(&config, "old").unwrap();
        let _fault = inject("write-fail:config");

        let err = write_atomic(&config, b"new").unwrap_err();

        let msg = err.to_string();
        assert!(msg.contains(&config.display().to_string()), "{msg}");
        assert!(msg.contains("fault injected"), "{msg}");
        assert_eq!(fs::read(&config).unwrap(), b"old");
        assert!(temp_files(dir.path()).is_empty(), "{:?}", names(dir.path()));
    }

    /// As a normal user a read-only folder makes creating the temp file fail; root ignores
    /// folder permissions, so there the fault hook makes the write fail instead.
    #[cfg(unix)]
    #[test]
    fn write_into_read_only_folder_fails_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("ro");
        fs::create_dir(&sub).unwrap();
        let config = sub.join("config");
        fs::write(&config, "old").unwrap();
        set_mode(&sub, 0o555);
        let _fault = running_as_root().then(|| inject("write-fail:config"));

        let result = write_atomic(&config, b"new");
        set_mode(&sub, 0o755);

        let err = result.unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("cannot write "), "{msg}");
        assert!(msg.contains(&config.display().to_string()), "{msg}");
        assert!(
            msg.contains(&format!("that {} is writable", sub.display())),
            "{msg}"
        );
        assert_eq!(fs::read(&config).unwrap(), b"old");
        assert_eq!(names(&sub), ["config"]);
    }

    #[cfg(unix)]
    #[test]
    fn error_through_a_link_names_both_link_and_target() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("real"), "old").unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("config")).unwrap();
        let _fault = inject("write-fail:real");
        let err = write_atomic(&dir.path().join("config"), b"new").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&dir.path().join("config").display().to_string()));
        assert!(msg.contains(&format!(
            "(symlink to {})",
            dir.path().join("real").display()
        )));
        assert_eq!(fs::read(dir.path().join("real")).unwrap(), b"old");
    }

    #[test]
    fn fault_spec_matches_by_name_or_call_number() {
        let (p, t) = (Path::new("/k/config"), Path::new("/d/real"));
        assert!(fault_matches("write-fail:config", 1, p, t));
        assert!(fault_matches("write-fail:real", 1, p, t));
        assert!(!fault_matches("write-fail:conf", 1, p, t));
        assert!(fault_matches("rename-fail:2, write-fail:x", 2, p, t));
        assert!(!fault_matches("rename-fail:2", 3, p, t));
        assert!(!fault_matches("bogus", 1, p, t));
    }

    // ---- backup ----

    #[test]
    fn utc_stamp_formats_known_instants() {
        let at = |secs| utc_stamp(std::time::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "19700101T000000Z");
        assert_eq!(at(951_782_400), "20000229T000000Z");
        assert_eq!(at(1_709_251_199), "20240229T235959Z");
        assert_eq!(at(4_102_444_800), "21000101T000000Z");
    }

    #[test]
    fn backup_copies_bytes_to_a_private_stamped_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(&config, "token: CW-SECRET-x\n").unwrap();
        #[cfg(unix)]
        set_mode(&config, 0o644);

        let saved = backup(&config).unwrap();

        let name = saved.file_name().unwrap().to_str().unwrap();
        let stamp = name.strip_prefix("config.bak-").unwrap();
        assert_eq!(stamp.len(), 16, "{name}");
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T',
            "{name}"
        );
        assert!(stamp[..8]
            .bytes()
            .chain(stamp[9..15].bytes())
            .all(|b| b.is_ascii_digit()));
        assert_eq!(saved.parent(), Some(dir.path()));
        assert_eq!(fs::read(&saved).unwrap(), fs::read(&config).unwrap());
        #[cfg(unix)]
        assert_eq!(mode(&saved), 0o600);
        assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn backup_in_the_same_second_gets_a_numeric_suffix() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(&config, "one").unwrap();
        let first = backup_stamped(&config, "20240229T235959Z").unwrap();
        fs::write(&config, "two").unwrap();
        let second = backup_stamped(&config, "20240229T235959Z").unwrap();
        assert_eq!(first, dir.path().join("config.bak-20240229T235959Z"));
        assert_eq!(second, dir.path().join("config.bak-20240229T235959Z-1"));
        assert_eq!(fs::read(&first).unwrap(), b"one");
        assert_eq!(fs::read(&second).unwrap(), b"two");
    }

    #[test]
    fn failed_backup_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(&config, "one").unwrap();
        let _fault = inject("rename-fail:1");
        let err = backup(&config).unwrap_err();
        assert!(err.to_string().contains("config.bak-"), "{err}");
        assert_eq!(names(dir.path()), ["config"]);
    }

    #[test]
    fn backup_of_a_missing_file_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = backup(&dir.path().join("config")).unwrap_err();
        assert!(matches!(err, WriteError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("config"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn backup_belongs_to_the_original_owner() {
        use std::os::unix::fs::{chown, MetadataExt};
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(&config, "x").unwrap();
        if running_as_root() {
            chown(&config, Some(4321), Some(4322)).unwrap();
        }
        let want = fs::metadata(&config).unwrap();
        let saved = backup(&config).unwrap();
        let got = fs::metadata(&saved).unwrap();
        assert_eq!((got.uid(), got.gid()), (want.uid(), want.gid()));
        assert_eq!(mode(&saved), 0o600);
    }

    // ---- commit ----

    fn plan(dir: &Path, files: &[(&str, Option<&str>, &str)]) -> Vec<PlannedWrite> {
        files
            .iter()
            .map(|(name, old, new)| {
                let path = dir.join(name);
                if let Some(old) = old {
                    fs::write(&path, old).unwrap();
                }
                PlannedWrite {
                    path,
                    original: old.map(|o| o.as_bytes().to_vec()),
                    new: new.as_bytes().to_vec(),
                }
            })
            .collect()
    }

    fn contents(writes: &[PlannedWrite]) -> Vec<Option<String>> {
        writes
            .iter()
            .map(|w| fs::read_to_string(&w.path).ok())
            .collect()
    }

    #[test]
    fn commit_writes_all_files() {
        let dir = tempfile::tempdir().unwrap();
        let writes = plan(
            dir.path(),
            &[
                ("a", Some("a0"), "a1"),
                ("b", Some("b0"), "b1"),
                ("c", None, "c1"),
            ],
        );
        let report = commit(&writes).unwrap();
        assert_eq!(
            report.written,
            writes.iter().map(|w| w.path.clone()).collect::<Vec<_>>()
        );
        assert!(report.unchanged.is_empty());
        let want = ["a1", "b1", "c1"].map(|s| Some(s.to_string()));
        assert_eq!(contents(&writes), want);
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn commit_skips_files_whose_bytes_do_not_change() {
        let dir = tempfile::tempdir().unwrap();
        let writes = plan(
            dir.path(),
            &[("a", Some("same"), "same"), ("b", Some("b0"), "b1")],
        );
        let _fault = inject("write-fail:a");
        let report = commit(&writes).unwrap();
        assert_eq!(report.unchanged, [dir.path().join("a")]);
        assert_eq!(report.written, [dir.path().join("b")]);
    }

    #[test]
    fn commit_failing_on_the_third_file_restores_the_first_two() {
        let dir = tempfile::tempdir().unwrap();
        let writes = plan(
            dir.path(),
            &[
                ("a", Some("a0"), "a1"),
                ("b", Some("b0"), "b1"),
                ("c", Some("c0"), "c1"),
            ],
        );
        let _fault = inject("write-fail:c");

        let err = commit(&writes).unwrap_err();

        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"a0");
        assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"b0");
        assert_eq!(fs::read(dir.path().join("c")).unwrap(), b"c0");
        let ab = vec![dir.path().join("a"), dir.path().join("b")];
        assert_eq!(err.path, dir.path().join("c"));
        assert_eq!(err.written, ab);
        assert_eq!(err.restored, ab);
        assert!(err.not_restored.is_empty());
        assert!(err.nothing_changed());
        let msg = err.to_string();
        assert!(
            msg.contains(&dir.path().join("c").display().to_string()),
            "{msg}"
        );
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let rolled = format!("; rolled back {}, {}", a.display(), b.display());
        assert!(msg.ends_with(&rolled), "{msg}");
        assert!(!msg.contains('\n'));
        assert!(temp_files(dir.path()).is_empty(), "{:?}", names(dir.path()));
    }

    #[test]
    fn commit_reports_a_file_that_could_not_be_restored() {
        let dir = tempfile::tempdir().unwrap();
        let writes = plan(
            dir.path(),
            &[
                ("a", Some("a0"), "a1"),
                ("b", Some("b0"), "b1"),
                ("c", Some("c0"), "c1"),
            ],
        );
        // Calls: a, b, c (fails), restore b, restore a (fails).
        let _fault = inject("rename-fail:3,rename-fail:5");

        let err = commit(&writes).unwrap_err();

        assert_eq!(
            contents(&writes),
            ["a1", "b0", "c0"].map(|s| Some(s.to_string()))
        );
        assert_eq!(err.restored, [dir.path().join("b")]);
        assert_eq!(err.not_restored.len(), 1);
        assert_eq!(err.not_restored[0].0, dir.path().join("a"));
        assert!(!err.nothing_changed());
        let msg = err.to_string();
        let a = dir.path().join("a").display().to_string();
        assert!(
            msg.contains(&format!(
                "{a} still holds the new content because rolling it back failed"
            )),
            "{msg}"
        );
    }

    #[test]
    fn commit_rollback_removes_a_file_it_created() {
        let dir = tempfile::tempdir().unwrap();
        let writes = plan(
            dir.path(),
            &[("token", None, "t1"), ("config", Some("k0"), "k1")],
        );
        let _fault = inject("write-fail:config");
        let err = commit(&writes).unwrap_err();
        assert_eq!(err.restored, [dir.path().join("token")]);
        assert_eq!(names(dir.path()), ["config"]);
    }

    #[test]
    fn commit_refuses_a_file_changed_on_disk_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let writes = plan(
            dir.path(),
            &[
                ("a", Some("a0"), "a1"),
                ("b", Some("b0"), "b1"),
                ("c", Some("c0"), "c1"),
            ],
        );
        fs::write(dir.path().join("c"), "edited by hand").unwrap();

        let err = commit(&writes).unwrap_err();

        assert!(matches!(*err.cause, WriteError::Changed { .. }), "{err:?}");
        assert_eq!(err.path, dir.path().join("c"));
        assert!(err.written.is_empty());
        let want = ["a0", "b0", "edited by hand"].map(|s| Some(s.to_string()));
        assert_eq!(contents(&writes), want);
        let msg = err.to_string();
        assert!(msg.contains("changed on disk"), "{msg}");
        assert!(msg.ends_with("no file was written"), "{msg}");
    }

    #[test]
    fn commit_refuses_a_file_that_appeared_since_planning() {
        let dir = tempfile::tempdir().unwrap();
        let writes = plan(dir.path(), &[("token", None, "t1")]);
        fs::write(dir.path().join("token"), "someone else's").unwrap();
        let err = commit(&writes).unwrap_err();
        assert!(matches!(*err.cause, WriteError::Changed { .. }), "{err:?}");
        assert_eq!(
            fs::read(dir.path().join("token")).unwrap(),
            b"someone else's"
        );
    }

    #[test]
    fn planned_write_debug_hides_the_bytes() {
        let w = PlannedWrite {
            path: PathBuf::from("/k/config"),
            original: Some(b"token: CW-SECRET-old".to_vec()),
            new: b"token: CW-SECRET-new".to_vec(),
        };
        let shown = format!("{w:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("67, 87"),
            "{shown}"
        );
        assert!(shown.contains("/k/config"), "{shown}");
    }
}
