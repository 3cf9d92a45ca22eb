//! The prompts of `token rotate` on a real pseudo-terminal: Ctrl-C (the byte the line
//! discipline turns into an interrupt) at the hidden token prompt or at the y/N question
//! gives the terminal back with echo on and ends with 130; the y/N answer is echoed and the
//! token is not.

use crate::support;

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc;

use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use rustix::termios::{tcgetattr, LocalModes, SpecialCodeIndex};
use support::{path_str, Sandbox};

const OLD: &str = "CW-SECRET-terminal-old-0000";
const NEW: &str = "CW-SECRET-terminal-new-1111";
const CTRL_C: &[u8] = b"\x03";

/// One CKS-shaped context, so that nothing but the prompts stands between the user and the
/// write.
fn kubeconfig(sb: &Sandbox) -> std::path::PathBuf {
    sb.write(
        "config",
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    \
             server: https://org1-abc.k8s.us-east-04a.coreweave.com\ncontexts:\n- name: x\n  \
             context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    \
             token: {OLD}\ncurrent-context: x\n"
        ),
    )
}

/// The plugin running with a pseudo-terminal as its controlling terminal and stdin,
/// stdout and stderr; everything it writes to the terminal is collected.
struct OnTerminal {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    /// Held so the terminal outlives the plugin and its settings can be read afterwards.
    _master: Box<dyn portable_pty::MasterPty + Send>,
    input: Box<dyn Write + Send>,
    output: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
    tty: std::path::PathBuf,
    before: Modes,
}

/// The settings a prompt may change: the local modes (ECHO, ISIG, ICANON...) and the
/// special characters (VEOL...).
#[derive(Debug, PartialEq)]
struct Modes {
    local: LocalModes,
    special: Vec<u8>,
}

fn modes_of(tty: &Path) -> Modes {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(tty)
        .expect("open the terminal's other end");
    let modes = tcgetattr(&tty).expect("tcgetattr");
    Modes {
        local: modes.local_modes,
        special: [
            SpecialCodeIndex::VINTR,
            SpecialCodeIndex::VEOF,
            SpecialCodeIndex::VEOL,
            SpecialCodeIndex::VEOL2,
        ]
        .into_iter()
        .map(|i| modes.special_codes[i])
        .collect(),
    }
}

impl OnTerminal {
    fn start(sb: &Sandbox, kubeconfig: &Path, args: &[&str]) -> OnTerminal {
        let pair = native_pty_system()
            .openpty(PtySize::default())
            .expect("open a pseudo-terminal");
        let tty = pair.master.tty_name().expect("the terminal's name");
        let before = modes_of(&tty);
        let mut cmd = CommandBuilder::new(support::bin());
        cmd.env_clear();
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        cmd.env("HOME", sb.dir.path());
        cmd.env("COREWEAVE_API_ENDPOINT", "http://127.0.0.1:9");
        cmd.env("KUBECONFIG", path_str(kubeconfig));
        cmd.cwd(sb.dir.path());
        cmd.args(args);
        let child = pair
            .slave
            .spawn_command(cmd)
            .expect("spawn on the terminal");
        // Only the child holds the terminal's other end now, so its exit ends the output.
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("terminal reader");
        let input = pair.master.take_writer().expect("terminal writer");
        let (send, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EOF or EIO (Linux, once the last process on the terminal is gone) ends it.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || send.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        OnTerminal {
            child,
            _master: pair.master,
            input,
            output,
            seen: Vec::new(),
            tty,
            before,
        }
    }

    /// Wait until the terminal has shown `text` (typing earlier could race the prompt's
    /// own change of the echo setting). Fails if the plugin ends without showing it.
    fn wait_for(&mut self, text: &str) {
        while !String::from_utf8_lossy(&self.seen).contains(text) {
            match self.output.recv() {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => panic!("the plugin ended before showing {text:?}: {}", self.shown()),
            }
        }
    }

    /// Ctrl-C, then Enter: a plugin that ignored the Ctrl-C gets its line ended and fails
    /// the test instead of waiting forever; one that obeyed has ended before the Enter.
    fn press_ctrl_c(&mut self) {
        self.type_bytes(CTRL_C);
        self.type_bytes(b"\n");
    }

    fn type_bytes(&mut self, bytes: &[u8]) {
        self.input.write_all(bytes).expect("type");
        self.input.flush().expect("flush");
    }

    /// Wait for the plugin to end: how it ended, whether the terminal echoes after it,
    /// and all the terminal showed.
    fn finish(mut self) -> Finished {
        let status = self.child.wait().expect("wait");
        let after = self.modes();
        while let Ok(chunk) = self.output.recv() {
            self.seen.extend(chunk);
        }
        Finished {
            status: match status.signal() {
                Some(signal) => format!("killed by {signal}"),
                None => format!("exit {}", status.exit_code()),
            },
            echo: after.local.contains(LocalModes::ECHO),
            restored: (after == self.before)
                .then_some(())
                .ok_or_else(|| format!("before {:?}, after {after:?}", self.before)),
            shown: self.shown(),
        }
    }

    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// What `stty -a` shows of the terminal's line settings, read from its other end.
    fn modes(&self) -> Modes {
        modes_of(&self.tty)
    }
}

struct Finished {
    status: String,
    echo: bool,
    /// Every setting is as it was before the plugin started.
    restored: Result<(), String>,
    shown: String,
}

fn rotate_on_terminal(sb: &Sandbox, config: &Path) -> OnTerminal {
    OnTerminal::start(sb, config, &["token", "rotate", "--verify", "none"])
}

#[test]
fn ctrl_c_at_the_hidden_token_prompt_gives_echo_back_and_exits_130() {
    let sb = Sandbox::new();
    let config = kubeconfig(&sb);
    let before = std::fs::read(&config).expect("read");
    let mut t = rotate_on_terminal(&sb, &config);
    t.wait_for("New token: ");
    // Half a token typed, then Ctrl-C.
    t.type_bytes(b"CW-SECRET-half");
    t.press_ctrl_c();
    let f = t.finish();
    assert!(f.echo, "ECHO is off after the plugin ended: {}", f.shown);
    assert_eq!(
        f.restored,
        Ok(()),
        "the terminal's settings changed: {}",
        f.shown
    );
    assert_eq!(f.status, "exit 130", "the terminal showed: {}", f.shown);
    assert!(
        !f.shown.contains("CW-SECRET-half"),
        "hidden input shown: {}",
        f.shown
    );
    assert!(
        f.shown.contains("interrupted; nothing was written"),
        "{}",
        f.shown
    );
    assert_eq!(
        std::fs::read(&config).expect("read"),
        before,
        "the kubeconfig changed"
    );
}

#[test]
fn ctrl_c_at_the_confirmation_gives_echo_back_and_exits_130() {
    let sb = Sandbox::new();
    let config = kubeconfig(&sb);
    let before = std::fs::read(&config).expect("read");
    let mut t = rotate_on_terminal(&sb, &config);
    t.wait_for("New token: ");
    t.type_bytes(format!("{NEW}\n").as_bytes());
    t.wait_for("[y/N] ");
    t.press_ctrl_c();
    let f = t.finish();
    assert!(f.echo, "ECHO is off after the plugin ended: {}", f.shown);
    assert_eq!(
        f.restored,
        Ok(()),
        "the terminal's settings changed: {}",
        f.shown
    );
    assert_eq!(f.status, "exit 130", "the terminal showed: {}", f.shown);
    assert!(
        !f.shown.contains(NEW),
        "the new token was shown: {}",
        f.shown
    );
    assert_eq!(
        std::fs::read(&config).expect("read"),
        before,
        "the kubeconfig changed"
    );
}

#[test]
fn the_answer_is_echoed_and_the_token_is_not() {
    let sb = Sandbox::new();
    let config = kubeconfig(&sb);
    let mut t = rotate_on_terminal(&sb, &config);
    t.wait_for("New token: ");
    t.type_bytes(format!("{NEW}\n").as_bytes());
    t.wait_for("[y/N] ");
    t.type_bytes(b"y\n");
    let f = t.finish();
    assert!(f.echo, "ECHO is off after the plugin ended: {}", f.shown);
    assert_eq!(
        f.restored,
        Ok(()),
        "the terminal's settings changed: {}",
        f.shown
    );
    assert_eq!(f.status, "exit 0", "the terminal showed: {}", f.shown);
    assert!(
        f.shown.contains("[y/N] y"),
        "the answer was not echoed: {}",
        f.shown
    );
    assert!(
        !f.shown.contains(NEW),
        "the new token was shown: {}",
        f.shown
    );
    let after = std::fs::read_to_string(&config).expect("read");
    assert!(
        after.contains(NEW) && !after.contains(OLD),
        "not rotated:\n{after}"
    );
}

#[test]
fn an_answer_other_than_yes_writes_nothing() {
    let sb = Sandbox::new();
    let config = kubeconfig(&sb);
    let before = std::fs::read(&config).expect("read");
    let mut t = rotate_on_terminal(&sb, &config);
    t.wait_for("New token: ");
    t.type_bytes(format!("{NEW}\n").as_bytes());
    t.wait_for("[y/N] ");
    t.type_bytes(b"n\n");
    let f = t.finish();
    assert!(f.echo, "ECHO is off after the plugin ended: {}", f.shown);
    assert_eq!(
        f.restored,
        Ok(()),
        "the terminal's settings changed: {}",
        f.shown
    );
    assert_eq!(f.status, "exit 1", "the terminal showed: {}", f.shown);
    assert!(
        f.shown.contains("[y/N] n"),
        "the answer was not echoed: {}",
        f.shown
    );
    assert!(
        f.shown.contains("not confirmed; nothing was written"),
        "{}",
        f.shown
    );
    assert_eq!(
        std::fs::read(&config).expect("read"),
        before,
        "the kubeconfig changed"
    );
}

#[test]
fn ctrl_d_at_the_hidden_token_prompt_is_no_token_and_gives_the_terminal_back() {
    let sb = Sandbox::new();
    let config = kubeconfig(&sb);
    let before = std::fs::read(&config).expect("read");
    let mut t = rotate_on_terminal(&sb, &config);
    t.wait_for("New token: ");
    t.type_bytes(b"\x04");
    let f = t.finish();
    assert!(f.echo, "ECHO is off after the plugin ended: {}", f.shown);
    assert_eq!(
        f.restored,
        Ok(()),
        "the terminal's settings changed: {}",
        f.shown
    );
    assert_eq!(f.status, "exit 1", "the terminal showed: {}", f.shown);
    assert!(f.shown.contains("is empty"), "{}", f.shown);
    assert_eq!(
        std::fs::read(&config).expect("read"),
        before,
        "the kubeconfig changed"
    );
}
