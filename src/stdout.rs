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
}

impl Stdout {
    /// Stdout, or why it cannot be written at all. Checked before a command runs, so a
    /// command whose result could not be shown changes nothing (a rotate never writes the
    /// files and then fails to say so).
    ///
    /// A stdout that was closed when the program started (`>&-`) was replaced by /dev/null
    /// in Rust's start-up (so that no file the program opens lands on descriptor 1), opened
    /// read-write; a shell's `>/dev/null` opens it write-only. So /dev/null open read-write
    /// counts as closed. A launcher that hands over /dev/null read-write itself (Python's
    /// `subprocess.DEVNULL`) looks the same and is refused too: give it `>/dev/null`
    /// write-only, or read the output.
    pub fn open() -> Result<Stdout, WriteFailure> {
        if closed_at_start() {
            return Err(WriteFailure::Other("it is closed".into()));
        }
        Ok(Stdout {
            inner: io::stdout().lock(),
            failure: None,
        })
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
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::other("standard output cannot be written"));
        }
        self.inner.write(buf).map_err(|e| self.record(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(WriteFailure::ReaderGone | WriteFailure::Other(_)) = self.failure {
            return Err(io::Error::other("standard output cannot be written"));
        }
        self.inner.flush().map_err(|e| self.record(e))
    }
}

/// Whether descriptor 1 is /dev/null open read-write: what Rust's start-up puts in place
/// of a closed stdout (see [`Stdout::open`]).
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
