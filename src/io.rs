//! I/O below every layer: bounded reads of outside input (a cap on every read, regular
//! files only, opened without blocking), and the text of an I/O error as a user reads it.
//! Every module that reads a file, standard input or a side file reads through here; what
//! opens a path fails with a [`PathError`], which carries the path.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

/// An I/O error on a file, with the file (as cargo-util's `paths` adds the path to every
/// error). Callers that word their own message take [`PathError::message`].
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", crate::secret::shown_path(path), io_message(cause))]
pub struct PathError {
    pub path: PathBuf,
    /// Not a `#[source]`: the text above already ends with it.
    pub cause: io::Error,
}

impl PathError {
    fn at(path: &Path) -> impl FnOnce(io::Error) -> PathError + '_ {
        |cause| PathError {
            path: path.to_path_buf(),
            cause,
        }
    }

    pub fn kind(&self) -> io::ErrorKind {
        self.cause.kind()
    }

    /// The cause alone, as a user reads it ([`io_message`]).
    pub fn message(&self) -> String {
        io_message(&self.cause)
    }
}

/// The whole of the regular file `path` ([`open_regular`]), refusing more than `cap` bytes.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, PathError> {
    let file = open_regular(path)?;
    read_file_capped(&file, cap).map_err(PathError::at(path))
}

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
    // On the stack: its pages stay mapped from one check to the next, where a heap block
    // is handed back to the system when freed and faulted in again on the next check.
    let mut block = [0u8; 64 * 1024];
    let mut at = 0usize;
    loop {
        let n = match file.read(&mut block) {
            Ok(0) => return Ok(at == expected.len()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let end = at.saturating_add(n);
        match (expected.get(at..end), block.get(..n)) {
            (Some(want), Some(got)) if same_bytes(want, got) => {}
            _ => return Ok(false),
        }
        at = end;
    }
}

/// Whether `a` and `b` are the same bytes, sixteen at a time. `==` on slices calls the C
/// library's `bcmp`, and musl's (the Linux archives are static musl builds) compares one
/// byte at a time, about seven instructions a byte: on megabyte kubeconfigs, checked
/// against the disk before and under the lock, that was a fifth of rotate's work.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let (a_words, a_tail) = a.as_chunks::<16>();
    let (b_words, b_tail) = b.as_chunks::<16>();
    a.len() == b.len()
        && a_words
            .iter()
            .zip(b_words)
            .all(|(x, y)| u128::from_ne_bytes(*x) == u128::from_ne_bytes(*y))
        && a_tail.iter().zip(b_tail).all(|(x, y)| x == y)
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

/// Open `path` for reading, refusing anything but a regular file. A FIFO is never opened
/// (its `stat` refuses it first; opening one, even non-blocking, would show a writer
/// waiting on it a reader), and on unix the open itself cannot block (`O_NONBLOCK`, which
/// regular files ignore) if the file is swapped for a FIFO in between; the open file is
/// checked again.
pub fn open_regular(path: &Path) -> Result<File, PathError> {
    open_regular_io(path).map_err(PathError::at(path))
}

fn open_regular_io(path: &Path) -> io::Result<File> {
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

/// An I/O error as a user reads it: "permission denied", not "Permission denied (os error 13)".
pub fn io_message(e: &std::io::Error) -> String {
    without_os_error_codes(&e.to_string())
}

/// Drops the " (os error N)" that std appends to every OS error's text: the number helps no
/// user, and kubectl prints none.
pub fn without_os_error_codes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" (os error ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + " (os error ".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(')') {
            rest = &after[digits + 1..];
        } else {
            out.push_str(" (os error ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The word-wise comparison agrees with slice equality: equal slices, one byte
        /// changed anywhere (in a word or the tail), and different lengths.
        #[test]
        fn same_bytes_is_slice_equality(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            at in 0usize..200,
            flip in 1u8..=255,
            cut in 0usize..200,
        ) {
            proptest::prop_assert!(same_bytes(&a, &a.clone()));
            let mut b = a.clone();
            if let Some(byte) = b.get_mut(at) {
                *byte ^= flip;
                proptest::prop_assert!(!same_bytes(&a, &b));
            }
            let short = &a[..cut.min(a.len())];
            proptest::prop_assert_eq!(same_bytes(&a, short), a.as_slice() == short);
        }
    }

    #[test]
    fn errors_of_a_path_carry_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let e = read_regular(&missing, 16).unwrap_err();
        assert_eq!(e.path, missing);
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(!e.message().contains("os error"), "{}", e.message());
        assert_eq!(
            e.to_string(),
            format!("{}: {}", missing.display(), e.message())
        );
        let e = open_regular(dir.path()).unwrap_err();
        assert_eq!(e.path, dir.path());
        assert_eq!(e.message(), "it is a folder, not a regular file");
        let long = dir.path().join("long");
        std::fs::write(&long, b"abcde").unwrap();
        assert_eq!(read_regular(&long, 5).unwrap(), b"abcde");
        let e = read_regular(&long, 4).unwrap_err();
        assert_eq!(
            (e.path.as_path(), e.kind()),
            (long.as_path(), io::ErrorKind::InvalidData)
        );
    }

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
    fn os_error_codes_are_dropped() {
        assert_eq!(
            without_os_error_codes("cannot read x: Permission denied (os error 13)"),
            "cannot read x: Permission denied"
        );
        assert_eq!(
            without_os_error_codes("a (os error x) b"),
            "a (os error x) b"
        );
        assert_eq!(without_os_error_codes("no tail"), "no tail");
    }
}
