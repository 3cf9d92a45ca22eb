//! The multi-file commit: check each planned file against the bytes it was planned from,
//! write them in order, and put back the ones written when a later one fails.

use bytes::Bytes;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::*;

/// One planned change: the file, the exact bytes it was planned from, and the new bytes.
pub struct PlannedWrite {
    pub path: PathBuf,
    /// What the file held when read; `None` if it did not exist (a rollback then removes it).
    /// The loaded file's own buffer where there is one (a counted reference, not a copy:
    /// a second copy of every file was the largest part of a big rotate's peak memory).
    pub original: Option<Bytes>,
    pub new: Bytes,
}

/// Shows sizes only: the bytes are kubeconfigs and tokens.
impl fmt::Debug for PlannedWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlannedWrite")
            .field("path", &self.path)
            .field("original_len", &self.original.as_ref().map(|o| o.len()))
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

pub(super) fn join<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> String {
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
    // Compared in blocks, not read whole: the commit already holds each file's original
    // and new text, and a third copy was the rotate's peak.
    let read = crate::io::open_regular(&w.path)
        .map_err(|e| e.cause)
        .and_then(|file| match &w.original {
            Some(original) => crate::io::file_holds(&file, original),
            None => Ok(false),
        });
    let same = match read {
        Ok(same) => same,
        Err(e) if e.kind() == io::ErrorKind::NotFound => w.original.is_none(),
        Err(error) => {
            return Err(WriteError::Read {
                path: w.path.clone(),
                error,
            })
        }
    };
    if same {
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
pub(super) fn read_current(path: &Path) -> io::Result<Vec<u8>> {
    // The write layer's errors name the path themselves (`WriteError`).
    crate::io::read_regular(path, crate::kubeconfig::MAX_FILE_SIZE).map_err(|e| e.cause)
}

pub(super) fn restore(w: &PlannedWrite) -> Result<(), WriteError> {
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
