//! A token read from a `tokenFile`, and whether that file may be rewritten whole. A token
//! is short: anything longer than [`MAX_TOKEN_BYTES`] is refused after reading one byte
//! past the cap (through `crate::io`'s bounded reads), so `/dev/zero` or a runaway file is
//! refused at once instead of filling memory.

use std::path::Path;

use crate::io::{read_regular, PathError};

/// A CoreWeave token is about 60 bytes; a long OIDC or cloud JWT a few KiB. 16 KiB leaves
/// room for those and bounds every read.
pub const MAX_TOKEN_BYTES: u64 = 16 * 1024;

/// A `tokenFile` as client-go would read it, but bounded and regular files only: a FIFO
/// (which would block until someone writes to it), a device or a folder is refused, without
/// blocking, because it is opened non-blocking and checked before reading.
pub fn read_token_file(path: &Path) -> Result<Vec<u8>, PathError> {
    read_regular(path, MAX_TOKEN_BYTES)
}

/// Why the bytes of a `tokenFile` are not a token file that rotate may replace whole: it
/// must hold exactly one line (surrounding blank space aside) that is one token, and that
/// token must be CoreWeave-shaped unless `force`. `None` when it may be replaced.
pub fn not_a_token_file(bytes: &[u8], force: bool) -> Option<String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Some("it is not UTF-8 text".into());
    };
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    if lines != 1 {
        return Some(format!("it holds {lines} lines, not one token line"));
    }
    let token = text.trim();
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(
            "its line is not a single token (it holds spaces or control characters)".into(),
        );
    }
    if !force && !crate::secret::Token::new(token).is_coreweave() {
        return Some(format!(
            "it does not hold a CoreWeave token ({}…); pass --force to rewrite it anyway",
            crate::secret::COREWEAVE_PREFIX
        ));
    }
    None
}

/// What identifies a file whatever names reach it (hard links and symlinks included): its
/// device and inode on unix, its canonical path elsewhere.
#[cfg(unix)]
pub type FileId = (u64, u64);
#[cfg(not(unix))]
pub type FileId = std::path::PathBuf;

/// The identity of the file at `path`; `None` when it cannot be looked at.
pub fn file_id(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    std::fs::canonicalize(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_token_line_is_a_token_file() {
        assert_eq!(not_a_token_file(b"CW-SECRET-abc\n", false), None);
        assert_eq!(not_a_token_file(b"\n CW-SECRET-abc \r\n\n", false), None);
        assert!(not_a_token_file(b"root:x:0:0::/root:/bin/sh\nbin:x:1:1\n", true).is_some());
        assert!(not_a_token_file(b"apiVersion: v1\nkind: Config\n", true).is_some());
        assert!(not_a_token_file(b"CW-SECRET-a b\n", true).is_some());
        assert!(not_a_token_file(b"", true).is_some());
        assert!(not_a_token_file(b"myhostname\n", false).is_some());
        assert_eq!(not_a_token_file(b"eyJhbGciOi\n", true), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("tok");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o600)).unwrap();
        let err = read_token_file(&fifo).unwrap_err();
        assert!(err.to_string().contains("a FIFO"), "{err}");
        assert!(read_token_file(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string()
            .contains("a device"));
    }
}
