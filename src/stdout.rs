//! Standard output as the commands write it: every write error is remembered, so `main`
//! can tell a reader that went away (EPIPE: end quietly, as kubectl does) from any other
//! failure (one error line, status 1), whatever the command did with the error itself.
//!
//! A write that fails is not an error to the command: the writer records it and swallows
//! it and every later write, so a report that could not be shown never stops or undoes the
//! work it reports on (a rotate into `/dev/full` still writes the files, then says it
//! could not report). The command finishes; `main` reports the failure.

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
    /// Stdout as it was handed over. `/dev/null` is an ordinary stdout whether it was
    /// opened write-only (a shell's `>/dev/null`, Go's `exec.Cmd`) or read-write (Python's
    /// `subprocess.DEVNULL`, Node's `stdio: 'ignore'`, and what Rust's start-up puts in
    /// place of a stdout closed with `>&-`): the output is discarded, the command works.
    pub fn open() -> Stdout {
        Stdout {
            inner: io::stdout().lock(),
            failure: None,
        }
    }

    /// Flush what is buffered; a failure is recorded like any other.
    pub fn finish(&mut self) {
        let _ = self.flush();
    }

    /// The first write failure, if any.
    pub fn failure(&self) -> Option<&WriteFailure> {
        self.failure.as_ref()
    }

    fn record(&mut self, e: &io::Error) {
        if self.failure.is_none() {
            self.failure = Some(match e.kind() {
                io::ErrorKind::BrokenPipe => WriteFailure::ReaderGone,
                _ => WriteFailure::Other(crate::io::io_message(e)),
            });
        }
    }
}

impl Write for Stdout {
    /// Never fails: after the first failure, output is dropped (see the module comment).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failure.is_none() {
            if let Err(e) = self.inner.write_all(buf) {
                self.record(&e);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failure.is_none() {
            if let Err(e) = self.inner.flush() {
                self.record(&e);
            }
        }
        Ok(())
    }
}
