//! Reading a token from outside (a `tokenFile`, `--from-file`, standard input) with a
//! bound, and deciding whether a `tokenFile` may be rewritten. A token is short: anything
//! longer than [`MAX_TOKEN_BYTES`] is refused after reading one byte past the cap, so
//! `/dev/zero` or a runaway file is refused at once instead of filling memory.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Read};
use std::path::Path;

/// A CoreWeave token is about 60 bytes; a long OIDC or cloud JWT a few KiB. 16 KiB leaves
/// room for those and bounds every read.
pub const MAX_TOKEN_BYTES: u64 = 16 * 1024;

/// Read all of `reader`, refusing more than `cap` bytes.
pub fn read_capped(reader: impl Read, cap: u64) -> io::Result<Vec<u8>> {
    read_capped_sized(reader, cap, 0)
}

/// [`read_capped`] of a file whose size is known: the buffer is made that size (within
/// the cap) at once, where growing it by doubling copied a 2 MB kubeconfig five times.
pub fn read_file_capped(file: &File, cap: u64) -> io::Result<Vec<u8>> {
    let size = file.metadata().map_or(0, |m| m.len());
    read_capped_sized(file, cap, size)
}

/// Whether `file` holds exactly `expected`, read in blocks: a bounded read that stops at
/// the first difference or one block past `expected`'s length, and never holds a second
/// copy of a large file.
pub fn file_holds(mut file: &File, expected: &[u8]) -> io::Result<bool> {
    if file.metadata()?.len() != u64::try_from(expected.len()).unwrap_or(u64::MAX) {
        return Ok(false);
    }
    let mut block = vec![0u8; 64 * 1024];
    let mut at = 0usize;
    loop {
        let n = match file.read(&mut block) {
            Ok(0) => return Ok(at == expected.len()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let end = at.saturating_add(n);
        if expected.get(at..end) != block.get(..n) {
            return Ok(false);
        }
        at = end;
    }
}

fn read_capped_sized(reader: impl Read, cap: u64, size: u64) -> io::Result<Vec<u8>> {
    let hint = usize::try_from(size.min(cap)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(hint.saturating_add(1));
    reader.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_long(cap));
    }
    Ok(bytes)
}

/// The first line of `reader` (line break included), refusing a line longer than `cap`.
pub fn read_line_capped(reader: impl BufRead, cap: u64) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_until(b'\n', &mut line)?;
    let content = line.strip_suffix(b"\n").unwrap_or(&line);
    if content.len() as u64 > cap || (line.len() as u64 > cap && !line.ends_with(b"\n")) {
        return Err(too_long(cap));
    }
    Ok(line)
}

fn too_long(cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("longer than {cap} bytes, which no token is"),
    )
}

/// A `tokenFile` as client-go would read it, but bounded and regular files only: a FIFO
/// (which would block until someone writes to it), a device or a folder is refused, without
/// blocking, because it is opened non-blocking and checked before reading.
pub fn read_token_file(path: &Path) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    read_capped(file, MAX_TOKEN_BYTES)
}

/// Open `path` for reading, refusing anything but a regular file. A FIFO is never opened
/// (its `stat` refuses it first; opening one, even non-blocking, would show a writer
/// waiting on it a reader), and on unix the open itself cannot block (`O_NONBLOCK`, which
/// regular files ignore) if the file is swapped for a FIFO in between; the open file is
/// checked again.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let not_regular = |meta: &std::fs::Metadata| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {}, not a regular file", kind_of(meta)),
        )
    };
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    Ok(file)
}

/// What a non-regular file is, for messages.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
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
    fn capped_reads_refuse_one_byte_past_the_cap() {
        assert_eq!(read_capped(&b"abcd"[..], 4).unwrap(), b"abcd");
        assert!(read_capped(&b"abcde"[..], 4).is_err());
        assert!(read_capped(io::repeat(0), 4096).is_err());
        assert_eq!(read_line_capped(&b"abcd\nrest"[..], 4).unwrap(), b"abcd\n");
        assert_eq!(read_line_capped(&b"abcd"[..], 4).unwrap(), b"abcd");
        assert!(read_line_capped(&b"abcde\n"[..], 4).is_err());
        assert!(read_line_capped(io::BufReader::new(io::repeat(b'x')), 4096).is_err());
    }

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
