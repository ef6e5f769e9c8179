//! The real pinentry-curses, drawing on the terminal of a detached tmux
//! session (its own server, on its own socket in a temporary directory),
//! with the holder's keys typed by `tmux send-keys` once the prompt shows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sscard::pinentry::{PinEntryError, PinPrompt, PinSource, Pinentry};
use zeroize::Zeroizing;

const PINENTRY_CURSES: &str = "/usr/bin/pinentry-curses";
/// How long the prompt may take to show (the machine is shared).
const SHOW_TIME: Duration = Duration::from_secs(20);

/// A tmux server of our own, with one detached session whose pane only
/// sleeps: nothing there reads the terminal but the pinentry. Dropping it
/// kills the server.
struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn start() -> Tmux {
        assert!(Path::new(PINENTRY_CURSES).exists(), "{PINENTRY_CURSES} is missing: run scripts/setup");
        let dir = tempfile::tempdir().unwrap();
        let tmux = Tmux { socket: dir.path().join("tmux"), _dir: dir };
        let out = tmux.run(&["new-session", "-d", "-s", "holder", "-x", "120", "-y", "40", "sleep 100000"]);
        assert!(out.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&out.stderr));
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("run tmux (scripts/setup installs it)")
    }

    /// The pane's terminal, e.g. /dev/pts/3.
    fn tty(&self) -> String {
        let out = self.run(&["display-message", "-p", "-t", "holder", "#{pane_tty}"]);
        let tty = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(tty.starts_with("/dev/"), "pane tty {tty:?}");
        tty
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "holder"]).stdout).into_owned()
    }

    /// Waits until the screen shows `text` (or, with `shown` false, no
    /// longer does).
    fn wait_for(&self, text: &str, shown: bool) -> Result<(), String> {
        let deadline = Instant::now() + SHOW_TIME;
        loop {
            let screen = self.screen();
            if screen.contains(text) == shown {
                return Ok(());
            }
            if Instant::now() > deadline {
                let what = if shown { "never showed" } else { "never went" };
                return Err(format!("{text:?} {what}; the screen:\n{screen}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "holder"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success(), "send-keys {keys:?}");
    }

    /// Types digits as the holder would, and checks they show as stars only.
    fn type_pin(&self, pin: &str) -> Result<(), String> {
        assert!(self.run(&["send-keys", "-t", "holder", "-l", pin]).status.success());
        self.wait_for(&"*".repeat(pin.len()), true)?;
        let screen = self.screen();
        if screen.contains(pin) {
            return Err(format!("the PIN is echoed:\n{screen}"));
        }
        Ok(())
    }

    fn pinentry(&self) -> Pinentry {
        Pinentry::new(PINENTRY_CURSES).with_tty(self.tty()).with_ttytype("screen").with_timeout(60)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Runs `ask` (the library's side) while `holder` types at the terminal;
/// a holder that fails ends the prompt (Ctrl-E, pinentry-curses' cancel)
/// so that `ask` returns.
fn at_the_terminal<T>(
    tmux: &Tmux,
    holder: impl FnOnce(&Tmux) -> Result<(), String> + Send,
    ask: impl FnOnce() -> T,
) -> T {
    let (answer, typed) = std::thread::scope(|s| {
        let typing = s.spawn(|| {
            let typed = holder(tmux);
            if typed.is_err() {
                tmux.keys(&["C-e"]);
            }
            typed
        });
        let answer = ask();
        (answer, typing.join().expect("the holder's thread"))
    });
    if let Err(e) = typed {
        panic!("at the terminal: {e}");
    }
    // The dialog is gone, the terminal given back, the program waited for.
    tmux.wait_for("密码：", false).unwrap();
    assert_eq!(pinentry_children(), Vec::<u32>::new(), "pinentry-curses left running or unreaped");
    answer
}

/// Our children that are pinentry-curses (running or zombies).
fn pinentry_children() -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid …
        let Some((head, tail)) = stat.rsplit_once(')') else { continue };
        let ppid = tail.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(me) && head.ends_with("(pinentry-curses") {
            found.push(pid);
        }
    }
    found
}

#[test]
fn the_holder_types_the_pin_and_it_comes_back() {
    let tmux = Tmux::start();
    let mut pinentry = tmux.pinentry();
    let pin = at_the_terminal(
        &tmux,
        |t| {
            t.wait_for("请输入社保卡密码（剩余3次）", true)?;
            t.type_pin("246810")?;
            t.keys(&["Enter"]);
            Ok(())
        },
        || pinentry.current_pin(&PinPrompt { description: "请输入社保卡密码", tries_left: Some(3) }),
    );
    assert_eq!(pin.map(|p| p.as_str().to_owned()), Ok("246810".to_owned()));
}

/// A new PIN asked for in real pinentry-curses: `first`, then `second` at
/// the prompt to repeat it, typed at the terminal.
fn new_pin_typed(first: &'static str, second: &'static str) -> Result<Zeroizing<String>, PinEntryError> {
    let tmux = Tmux::start();
    let mut pinentry = tmux.pinentry();
    at_the_terminal(
        &tmux,
        |t| {
            t.wait_for("请输入新密码", true)?;
            t.type_pin(first)?;
            t.keys(&["Enter"]);
            t.wait_for("请再次输入新密码", true)?;
            t.type_pin(second)?;
            t.keys(&["Enter"]);
            Ok(())
        },
        || pinentry.new_pin(&PinPrompt { description: "请输入新密码", tries_left: None }),
    )
}

#[test]
fn a_new_pin_typed_twice_comes_back() {
    let pin = new_pin_typed("97531", "97531");
    assert_eq!(pin.map(|p| p.as_str().to_owned()), Ok("97531".to_owned()));
}

#[test]
fn two_different_entries_of_a_new_pin_differ() {
    let pin = new_pin_typed("135790", "135791");
    assert_eq!(pin.map(|p| p.len()), Err(PinEntryError::EntriesDiffer));
}

#[test]
fn the_cancel_button_cancels() {
    let tmux = Tmux::start();
    let mut pinentry = tmux.pinentry();
    let pin = at_the_terminal(
        &tmux,
        |t| {
            t.wait_for("请输入原密码（剩余2次）", true)?;
            t.type_pin("12")?;
            // Tab to <确定>, Tab to <取消>, Enter.
            t.keys(&["Tab", "Tab", "Enter"]);
            Ok(())
        },
        || pinentry.current_pin(&PinPrompt { description: "请输入原密码", tries_left: Some(2) }),
    );
    assert_eq!(pin.map(|p| p.len()), Err(PinEntryError::Cancelled));
}

#[test]
fn an_untouched_prompt_times_out() {
    let tmux = Tmux::start();
    let mut pinentry = tmux.pinentry().with_timeout(1);
    let started = Instant::now();
    let pin = at_the_terminal(
        &tmux,
        |t| t.wait_for("请输入社保卡密码", true),
        || pinentry.current_pin(&PinPrompt { description: "请输入社保卡密码", tries_left: None }),
    );
    assert_eq!(pin.map(|p| p.len()), Err(PinEntryError::TimedOut));
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
}
