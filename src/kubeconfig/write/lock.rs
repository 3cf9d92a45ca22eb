//! Locks: `<file>.lock` as client-go takes it, one for the name and one for the file it
//! resolves to, taken in one order ([`lock_all`]).

use std::fs::{self};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::*;

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
