//! Reading one line from the user's terminal: the new token with echo off, the y/N answer
//! with echo on. Whatever happens (Ctrl-C, Ctrl-D, an error), the terminal is left as it
//! was found, and Ctrl-C comes back as [`Answer::Interrupted`] for the caller to end with 130.
//!
//! No signal handler: once signal-hook has caught SIGINT it cannot give back the default
//! action (its `unregister` leaves the signal ignored), so Ctrl-C would stop working for the
//! rest of the run. Instead, while the line is read, the terminal itself is told not to turn
//! Ctrl-C into SIGINT (`ISIG` off) but to end the line with it (`VEOL` = the interrupt
//! character): the read returns, the settings are put back, and nothing process-wide changed.

use std::io;

/// What the user typed: a line (without its newline), or Ctrl-C.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Line(String),
    Interrupted,
}

/// Whether the typed line is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// A secret: nothing shown but the Enter that ends it.
    Hidden,
    Shown,
}

/// A line is at most this long; a token is far shorter, and a terminal line (Linux's
/// `MAX_CANON`) holds 4095 bytes.
const MAX_LINE: usize = 16 * 1024;

/// Write `prompt` to the terminal and read one line.
#[cfg(unix)]
pub fn read_line(prompt: &str, echo: Echo) -> io::Result<Answer> {
    use rustix::termios::{
        tcgetattr, tcsetattr, LocalModes, OptionalActions, SpecialCodeIndex as Code,
    };
    use std::io::{Read, Write};

    // The controlling terminal, as sudo, ssh and rpassword use: the prompt reaches the user
    // even when stderr is redirected.
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let saved = tcgetattr(&tty)?;
    let mut modes = saved.clone();
    let intr = saved.special_codes[Code::VINTR];
    // 0 and 0xff are how Linux and the BSDs write "no such character" (_POSIX_VDISABLE).
    let catch_intr = saved.local_modes.contains(LocalModes::ISIG) && !matches!(intr, 0 | 0xff);
    if catch_intr {
        modes.local_modes.remove(LocalModes::ISIG);
        modes.special_codes[Code::VEOL] = intr;
    }
    modes.local_modes.insert(LocalModes::ICANON);
    if echo == Echo::Hidden {
        // The Enter that ends the hidden line is still shown, as every password prompt does.
        modes.local_modes.remove(LocalModes::ECHO);
        modes.local_modes.insert(LocalModes::ECHONL);
    }
    tcsetattr(&tty, OptionalActions::Now, &modes)?;
    // From here on the settings are put back on every way out, a panic included.
    let restore = Restore {
        tty: tty.try_clone()?,
        saved,
    };

    tty.write_all(prompt.as_bytes())?;
    tty.flush()?;
    let mut line = Vec::new();
    let mut too_long = false;
    let mut buf = [0u8; 512];
    let ended_by = loop {
        let n = match tty.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // A canonical read returns at most one line, so whatever ends it is the last byte
        // read; the loop also copes with a terminal left in raw mode.
        if let Some(end) = buf[..n]
            .iter()
            .position(|&b| b == b'\n' || (catch_intr && b == intr))
        {
            too_long |= line.len() + end > MAX_LINE;
            if !too_long {
                line.extend_from_slice(&buf[..end]);
            }
            break Some(buf[end]);
        }
        too_long |= line.len() + n > MAX_LINE;
        if !too_long {
            line.extend_from_slice(&buf[..n]);
        }
    };
    if ended_by != Some(b'\n') {
        // Ctrl-C and Ctrl-D leave the cursor after the prompt; the shell's prompt that
        // follows starts on a line of its own.
        let _ = tty.write_all(b"\n");
    }
    drop(restore);
    if ended_by.is_some() && ended_by != Some(b'\n') {
        return Ok(Answer::Interrupted);
    }
    if too_long {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the line typed is longer than {MAX_LINE} bytes"),
        ));
    }
    let line = String::from_utf8(line)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the line typed is not UTF-8"))?;
    Ok(Answer::Line(line.trim_end_matches('\r').to_string()))
}

/// Puts the terminal's settings back when dropped.
#[cfg(unix)]
struct Restore {
    tty: std::fs::File,
    saved: rustix::termios::Termios,
}

#[cfg(unix)]
impl Drop for Restore {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            &self.tty,
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// Windows: the console's own line reading (rpassword turns its echo off); Ctrl-C there is
/// the console's business.
#[cfg(not(unix))]
pub fn read_line(prompt: &str, echo: Echo) -> io::Result<Answer> {
    use std::io::{BufRead, Read, Write};
    if echo == Echo::Hidden {
        return rpassword::prompt_password(prompt).map(Answer::Line);
    }
    let mut err = io::stderr();
    err.write_all(prompt.as_bytes())?;
    err.flush()?;
    let mut line = String::new();
    io::stdin()
        .lock()
        .take(MAX_LINE as u64)
        .read_line(&mut line)?;
    Ok(Answer::Line(
        line.trim_end_matches(['\r', '\n']).to_string(),
    ))
}
