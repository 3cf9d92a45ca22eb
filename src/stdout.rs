//! Standard output as the commands write it: every write error is remembered, so `main`
//! can tell a reader that went away (EPIPE: end quietly, as kubectl does) from any other
//! failure (one error line, status 1), whatever the command did with the error itself.

use std::io::{self, Write};

/// Why stdout could not be written.
#[derive(Debug)]
pub enum WriteFailure {
    /// The reader closed the pipe (`| head -c0`).
    ReaderGone,
    /// Anything else, already worded for the user.
    Other(String),
}

/// The process's stdout, locked, recording the first write failure.
pub struct Stdout {
    inner: io::StdoutLock<'static>,
    failure: Option<WriteFailure>,
    checked: bool,
}

impl Default for Stdout {
    fn default() -> Self {
        Self::new()
    }
}

impl Stdout {
    pub fn new() -> Stdout {
        Stdout {
            inner: io::stdout().lock(),
            failure: None,
            checked: false,
        }
    }

    /// Flush what is buffered; the error is also recorded.
    pub fn finish(&mut self) -> io::Result<()> {
        self.flush()
    }

    /// The first write failure, if any.
    pub fn failure(&self) -> Option<&WriteFailure> {
        self.failure.as_ref()
    }

    fn record(&mut self, e: io::Error) -> io::Error {
        if self.failure.is_none() {
            self.failure = Some(match e.kind() {
                io::ErrorKind::BrokenPipe => WriteFailure::ReaderGone,
                _ => WriteFailure::Other(crate::io_message(&e)),
            });
        }
        e
    }

    /// Before the first byte: a stdout that was closed when the program started (`>&-`)
    /// was replaced by /dev/null in Rust's start-up (so no file the program opens can land
    /// on descriptor 1); writing the output there would lose it without a word.
    fn check_open(&mut self) -> io::Result<()> {
        if !self.checked {
            self.checked = true;
            if closed_at_start() {
                self.failure = Some(WriteFailure::Other("it is closed".into()));
            }
        }
        match &self.failure {
            Some(_) => Err(io::Error::other("standard output cannot be written")),
            None => Ok(()),
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check_open()?;
        self.inner.write(buf).map_err(|e| self.record(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(WriteFailure::ReaderGone | WriteFailure::Other(_)) = self.failure {
            return Err(io::Error::other("standard output cannot be written"));
        }
        self.inner.flush().map_err(|e| self.record(e))
    }
}

/// Whether descriptor 1 is the /dev/null that Rust's start-up opens (read-write) in place
/// of a closed stdout. A shell's `>/dev/null` opens it write-only, so it is not mistaken
/// for a closed one.
#[cfg(unix)]
fn closed_at_start() -> bool {
    use rustix::fs::{fcntl_getfl, fstat, stat, OFlags};
    let out = io::stdout();
    let (Ok(flags), Ok(st), Ok(null)) = (fcntl_getfl(&out), fstat(&out), stat("/dev/null")) else {
        return false;
    };
    flags & OFlags::RWMODE == OFlags::RDWR && st.st_rdev == null.st_rdev && st.st_ino == null.st_ino
}

#[cfg(not(unix))]
fn closed_at_start() -> bool {
    false
}
