//! Backups: a private, time-stamped copy of a file before it is edited.

use std::fs::{self};
use std::io::{self};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::*;

/// Copy the current bytes of `path` to `<path>.bak-<YYYYMMDDTHHMMSSZ>` (UTC), or `...Z-1`,
/// `...Z-2` when that name is taken, with mode 0600 and the original's owner. Returns the
/// backup's path. The backup sits beside `path` as given, even when it is a symlink.
pub fn backup(path: &Path) -> Result<PathBuf, WriteError> {
    backup_stamped(path, &utc_stamp(SystemTime::now()))
}

pub(super) fn backup_stamped(path: &Path, stamp: &str) -> Result<PathBuf, WriteError> {
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
pub(super) fn utc_stamp(time: SystemTime) -> String {
    let at = jiff::Timestamp::try_from(time)
        .ok()
        .filter(|t| *t >= jiff::Timestamp::UNIX_EPOCH)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    crate::time::format_rfc3339(at).replace(['-', ':'], "")
}
