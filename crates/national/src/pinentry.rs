//! PIN entry without a PIN pad (`docs/unified-interface.md` section 5):
//! GnuPG's `pinentry` programs, spoken to over Assuan.
//!
//! The national interface's PIN functions take no PIN argument; when the
//! reader has no PIN pad the library asks a [`PinSource`]. [`Pinentry`]
//! runs `pinentry` (`SSCARD_PINENTRY`, default `pinentry`) and speaks the
//! Assuan protocol to it; [`ScriptedPins`] answers from a list, for tests.
//!
//! The dialog, as sent (observed with pinentry-curses 1.2.1):
//! `OPTION ttyname=…`, `OPTION ttytype=…`, `OPTION lc-ctype=…`,
//! `OPTION lc-messages=…`, `SETTITLE 社会保障卡`, `SETPROMPT 密码：`,
//! `SETOK 确定`, `SETCANCEL 取消`, `SETTIMEOUT n`, then per entry
//! `SETDESC …` and `GETPIN`, and `BYE`. Errors on the settings are ignored
//! (a pinentry may not know an option); only the greeting and `GETPIN`
//! decide.
//!
//! How `GETPIN`'s answers map:
//! - `D …` lines then `OK`: the PIN, checked to be 4 to 12 ASCII digits.
//!   Anything else, empty or with a character that is no digit, is
//!   [`PinEntryError::WrongLength`] (-33): the interface has no code of
//!   its own for a non-digit, and the card takes digits only.
//! - `ERR` with error code 99 (`GPG_ERR_CANCELED`, e.g. 83886179), 198
//!   (`GPG_ERR_FULLY_CANCELED`: pinentry-curses on SIGINT) or 114
//!   (`GPG_ERR_NOT_CONFIRMED`): [`PinEntryError::Cancelled`], the holder's
//!   choice.
//! - `ERR` with 62 (`GPG_ERR_TIMEOUT`, e.g. 83886142):
//!   [`PinEntryError::TimedOut`].
//! - Any other `ERR` (no terminal: 83918950 "Inappropriate ioctl for
//!   device"), the end of the output, a line that is no Assuan, or a
//!   program that cannot be started: [`PinEntryError::Unavailable`]. The
//!   holder chose nothing, so it is never `Cancelled`.
//!
//! Times: pinentry ends a prompt nobody touched after `SETTIMEOUT` seconds.
//! pinentry-curses stops counting at the first key, so sscard ends a
//! prompt itself five minutes after that (SIGINT to the pinentry, which
//! then closes its dialog): [`PinEntryError::TimedOut`]. A timeout of 0
//! means none, on both sides. Every other command has 10 seconds.
//!
//! A new PIN is asked twice, as two `GETPIN`s ("请输入新密码", then
//! "请再次输入新密码"), and compared here. `SETREPEAT` is not used:
//! pinentry-curses then keeps the dialog open until both entries match, so
//! the interface's -34 could never be answered, and older pinentries lack
//! it.
//!
//! PIN hygiene: the pinentry's output is read unbuffered from a socket
//! (no `BufReader`) into one fixed, zeroizing line buffer on the heap; `D`
//! lines are percent-decoded into a fixed zeroizing buffer and wiped from
//! the line buffer at once; the PIN then moves into a `Zeroizing<String>`
//! of its exact size. No error, log or `Debug` output holds a PIN byte.
//! The pinentry's stdin and stdout are one end of a socket pair, written
//! with `MSG_NOSIGNAL`, so a pinentry that dies cannot raise SIGPIPE in the
//! host process (the C library lives in other programs). The child is
//! always waited for: after `BYE`, or killed by its PID if it does not
//! leave within a second.
//!
//! The crates.io `pinentry` crate is not used: it reads through a
//! `BufReader` and `read_line` into a growable `String`, logs responses
//! with `Debug`, hard-codes `ttyname=/dev/tty`, and can panic on long
//! lines.

use std::ffi::{CStr, OsStr};
use std::fs::OpenOptions;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zeroize::{Zeroize, Zeroizing};

use sscard_model::pin::is_pin_shaped;

/// The window title.
pub const TITLE: &str = "社会保障卡";
/// The label before the entry field.
pub const PROMPT: &str = "密码：";
/// The description of a new PIN's second entry.
pub const REPEAT_DESCRIPTION: &str = "请再次输入新密码";
/// The default of `SSCARD_PINENTRY_TIMEOUT`, in seconds.
pub const DEFAULT_TIMEOUT: u32 = 60;

/// What a prompt shows.
pub struct PinPrompt<'a> {
    /// e.g. "请输入社保卡密码" / "请输入原密码" / "请输入新密码"
    pub description: &'a str,
    /// The tries left, shown in the prompt when known.
    pub tries_left: Option<u32>,
}

impl PinPrompt<'_> {
    /// The text shown: the description, and the tries left when known
    /// ("请输入社保卡密码（剩余3次）").
    pub fn text(&self) -> String {
        match self.tries_left {
            Some(n) => format!("{}（剩余{n}次）", self.description),
            None => self.description.to_owned(),
        }
    }
}

/// Why no PIN came.
///
/// The national codes: `Cancelled` -31, `TimedOut` -32, `WrongLength` -33,
/// `EntriesDiffer` -34, `Unavailable` -11.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinEntryError {
    /// The holder cancelled the prompt.
    #[error("the PIN prompt was cancelled")]
    Cancelled,
    /// Nobody answered the prompt in time.
    #[error("the PIN prompt timed out")]
    TimedOut,
    /// Not 4 to 12 digits (a character that is no digit counts too).
    #[error("the PIN is not 4 to 12 digits")]
    WrongLength,
    /// The two entries of a new PIN differ.
    #[error("the two entries of the new PIN differ")]
    EntriesDiffer,
    /// The program could not be started or spoke no Assuan.
    #[error("no PIN prompt: the pinentry program could not be started or failed")]
    Unavailable,
}

/// Where PINs come from when the reader has no PIN pad.
pub trait PinSource: Send {
    /// A PIN the card holds: 4 to 12 digits, else WrongLength.
    fn current_pin(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError>;
    /// A new PIN, asked twice; EntriesDiffer when the two differ; 4 to 12 digits else WrongLength.
    fn new_pin(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError>;
}

/// The pinentry program: `SSCARD_PINENTRY` or the given path, default "pinentry".
#[derive(Debug, Clone)]
pub struct Pinentry {
    program: PathBuf,
    /// `SETTIMEOUT`, in seconds; 0 for none.
    timeout: u32,
    /// `OPTION ttyname`: where a terminal pinentry draws.
    tty: Option<PathBuf>,
    /// `OPTION ttytype`: the terminal's type (`TERM`).
    ttytype: Option<String>,
    /// How long after `timeout` sscard ends a prompt itself.
    grace: Duration,
}

impl Pinentry {
    /// `SSCARD_PINENTRY`, else "pinentry"; `SSCARD_PINENTRY_TIMEOUT`
    /// seconds (default 60; 0 for none).
    pub fn from_env() -> Pinentry {
        let program =
            std::env::var_os("SSCARD_PINENTRY").filter(|p| !p.is_empty()).unwrap_or_else(|| "pinentry".into());
        let timeout = std::env::var("SSCARD_PINENTRY_TIMEOUT")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(DEFAULT_TIMEOUT);
        Pinentry::new(program).with_timeout(timeout)
    }

    /// The given program, with a timeout of 60 seconds, the controlling
    /// terminal (`GPG_TTY`, `TTY`, `/dev/tty`, or the terminal on stdin,
    /// stdout or stderr) and `TERM`.
    pub fn new(program: impl Into<PathBuf>) -> Pinentry {
        Pinentry {
            program: program.into(),
            timeout: DEFAULT_TIMEOUT,
            tty: controlling_tty(),
            ttytype: std::env::var("TERM").ok().filter(|t| !t.is_empty()),
            grace: Duration::from_secs(300),
        }
    }

    /// `SETTIMEOUT`: a prompt nobody touches ends after `seconds`; 0 for none.
    pub fn with_timeout(self, seconds: u32) -> Self {
        Pinentry { timeout: seconds, ..self }
    }

    /// The terminal a terminal pinentry (pinentry-curses, pinentry-tty)
    /// draws on, e.g. `/dev/pts/3`.
    pub fn with_tty(self, tty: impl Into<PathBuf>) -> Self {
        Pinentry { tty: Some(tty.into()), ..self }
    }

    /// The terminal's type, e.g. `xterm` or `screen`.
    pub fn with_ttytype(self, ttytype: impl Into<String>) -> Self {
        Pinentry { ttytype: Some(ttytype.into()), ..self }
    }

    /// The program run.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The timeout, in seconds.
    pub fn timeout(&self) -> u32 {
        self.timeout
    }

    /// The terminal given to the pinentry, if any.
    pub fn tty(&self) -> Option<&Path> {
        self.tty.as_deref()
    }

    #[cfg(test)]
    fn with_grace(self, grace: Duration) -> Self {
        Pinentry { grace, ..self }
    }
}

impl PinSource for Pinentry {
    fn current_pin(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        let mut session = Session::start(self)?;
        let mut entry = PinBuf::new();
        session.get_pin(&prompt.text(), &mut entry)?;
        session.close();
        entry.to_pin()
    }

    fn new_pin(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        let mut session = Session::start(self)?;
        let mut first = PinBuf::new();
        session.get_pin(&prompt.text(), &mut first)?;
        // A new PIN of the wrong length is refused before its second entry.
        let pin = first.to_pin()?;
        let again = PinPrompt { description: REPEAT_DESCRIPTION, tries_left: prompt.tries_left };
        let mut second = PinBuf::new();
        session.get_pin(&again.text(), &mut second)?;
        session.close();
        if !same(first.as_bytes(), second.as_bytes()) {
            return Err(PinEntryError::EntriesDiffer);
        }
        Ok(pin)
    }
}

/// A scripted PIN source for tests: answers from a list (or errors).
///
/// `current_pin` takes one answer, `new_pin` two (the entry and its
/// repetition, the second only when the first is 4 to 12 digits); the
/// answers are checked as [`Pinentry`]'s are. An exhausted list answers
/// `Unavailable`. `Debug` shows no PIN.
pub struct ScriptedPins {
    answers: std::collections::VecDeque<Result<Zeroizing<String>, PinEntryError>>,
    prompts: Vec<String>,
}

impl ScriptedPins {
    pub fn new(answers: Vec<Result<&str, PinEntryError>>) -> Self {
        let answers = answers.into_iter().map(|a| a.map(|pin| Zeroizing::new(pin.to_owned()))).collect();
        ScriptedPins { answers, prompts: Vec::new() }
    }

    /// The texts shown so far, in order (as [`PinPrompt::text`] gives them).
    pub fn prompts(&self) -> &[String] {
        &self.prompts
    }

    /// The answers not taken yet.
    pub fn remaining(&self) -> usize {
        self.answers.len()
    }

    fn next(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        self.prompts.push(prompt.text());
        self.answers.pop_front().unwrap_or(Err(PinEntryError::Unavailable))
    }
}

impl std::fmt::Debug for ScriptedPins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedPins").field("remaining", &self.answers.len()).field("prompts", &self.prompts).finish()
    }
}

impl PinSource for ScriptedPins {
    fn current_pin(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        let pin = self.next(prompt)?;
        if !is_pin_shaped(pin.as_bytes()) {
            return Err(PinEntryError::WrongLength);
        }
        Ok(pin)
    }

    fn new_pin(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        let pin = self.current_pin(prompt)?;
        let again = self.next(&PinPrompt { description: REPEAT_DESCRIPTION, tries_left: prompt.tries_left })?;
        if !same(pin.as_bytes(), again.as_bytes()) {
            return Err(PinEntryError::EntriesDiffer);
        }
        Ok(pin)
    }
}

/// A PIN a caller handed over (the bridge's request, `sscardctl`'s standard
/// input), kept if it follows the model's rule, else `WrongLength`.
pub fn checked_pin(pin: Zeroizing<String>) -> Result<Zeroizing<String>, PinEntryError> {
    if is_pin_shaped(pin.as_bytes()) { Ok(pin) } else { Err(PinEntryError::WrongLength) }
}

/// Equal bytes, compared without an early exit.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The longest Assuan line, its line end included.
const LINE_MAX: usize = 1000;
/// The line buffer: a whole line, and room to read more after it.
const RECV_BUF: usize = 2 * LINE_MAX + 48;
/// The decoded entry kept: anything longer is refused as too long anyway.
const PIN_BUF: usize = 64;
/// How long a command other than `GETPIN` may take.
const COMMAND_TIME: Duration = Duration::from_secs(10);
/// How long a pinentry has to leave after `BYE` or SIGINT.
const LEAVE_TIME: Duration = Duration::from_secs(1);

/// gpg-error codes (the low 16 bits of an Assuan `ERR` code).
const GPG_ERR_TIMEOUT: u32 = 62;
const GPG_ERR_CANCELED: u32 = 99;
const GPG_ERR_NOT_CONFIRMED: u32 = 114;
const GPG_ERR_FULLY_CANCELED: u32 = 198;

/// What went wrong on the channel (no data of the pinentry's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fail {
    /// The pinentry closed its output.
    Ended,
    /// Reading or writing failed.
    Io,
    /// A line that is no Assuan, or too long.
    Protocol,
    /// No answer in time.
    Late,
}

/// The end of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AssuanReply {
    Ok,
    /// The full error code.
    Err(u32),
}

/// A decoded entry: a fixed zeroizing buffer on the heap.
struct PinBuf {
    bytes: Box<Zeroizing<[u8; PIN_BUF]>>,
    len: usize,
    /// More came than the buffer holds (and was dropped).
    overflow: bool,
}

impl PinBuf {
    fn new() -> PinBuf {
        PinBuf { bytes: Box::new(Zeroizing::new([0; PIN_BUF])), len: 0, overflow: false }
    }

    fn clear(&mut self) {
        self.bytes.zeroize();
        self.len = 0;
        self.overflow = false;
    }

    /// Appends a `D` line's data, percent-decoded.
    fn push_escaped(&mut self, data: &[u8]) -> Result<(), Fail> {
        let mut i = 0;
        while let Some(&b) = data.get(i) {
            let mut byte = b;
            i += 1;
            if b == b'%' {
                let (Some(hi), Some(lo)) = (data.get(i).and_then(|h| hex(*h)), data.get(i + 1).and_then(|l| hex(*l)))
                else {
                    return Err(Fail::Protocol);
                };
                byte = (hi << 4) | lo;
                i += 2;
            }
            match self.bytes.get_mut(self.len) {
                Some(slot) => {
                    *slot = byte;
                    self.len += 1;
                }
                None => self.overflow = true,
            }
            byte.zeroize();
        }
        Ok(())
    }

    fn as_bytes(&self) -> &[u8] {
        if self.overflow { &self.bytes[..] } else { &self.bytes[..self.len] }
    }

    /// The entry as a PIN, in a string of its exact size.
    fn to_pin(&self) -> Result<Zeroizing<String>, PinEntryError> {
        if self.overflow || !is_pin_shaped(self.as_bytes()) {
            return Err(PinEntryError::WrongLength);
        }
        let digits = std::str::from_utf8(self.as_bytes()).map_err(|_| PinEntryError::WrongLength)?;
        let mut pin = Zeroizing::new(String::with_capacity(digits.len()));
        pin.push_str(digits);
        Ok(pin)
    }
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// An Assuan command with a text argument, percent-escaping `%`, CR and
/// LF (and other control characters), cut at a character boundary to fit
/// one line.
fn command_line(command: &str, text: &str) -> Vec<u8> {
    let mut line = Vec::with_capacity(LINE_MAX);
    line.extend_from_slice(command.as_bytes());
    line.push(b' ');
    let mut encoded = [0u8; 4];
    for c in text.chars() {
        let piece: &[u8] = if c == '%' || c.is_ascii_control() {
            let b = c as u8;
            encoded[0] = b'%';
            encoded[1] = b"0123456789ABCDEF"[usize::from(b >> 4)];
            encoded[2] = b"0123456789ABCDEF"[usize::from(b & 0x0F)];
            &encoded[..3]
        } else {
            c.encode_utf8(&mut encoded).as_bytes()
        };
        // The line end still has to fit.
        if line.len() + piece.len() + 1 > LINE_MAX {
            break;
        }
        line.extend_from_slice(piece);
    }
    line
}

/// `OPTION name=value`, when the value needs no escaping and fits.
fn option_line(name: &str, value: &OsStr) -> Option<Vec<u8>> {
    let value = value.as_bytes();
    if value.is_empty() || value.iter().any(|b| *b == b'%' || b.is_ascii_control()) {
        return None;
    }
    let mut line = Vec::with_capacity(LINE_MAX);
    line.extend_from_slice(b"OPTION ");
    line.extend_from_slice(name.as_bytes());
    line.push(b'=');
    line.extend_from_slice(value);
    (line.len() < LINE_MAX).then_some(line)
}

/// The locale of a category, for the pinentry to show Chinese and convert
/// the entry back to UTF-8 by: `LC_ALL`, the category's variable or `LANG`
/// (as GnuPG passes its own); `C.UTF-8` when that is unset, C or POSIX.
fn locale(category: &str) -> String {
    let set = ["LC_ALL", category, "LANG"].into_iter().find_map(|v| std::env::var(v).ok().filter(|l| !l.is_empty()));
    match set {
        Some(l) if l != "C" && l != "POSIX" => l,
        _ => "C.UTF-8".to_owned(),
    }
}

/// The terminal to prompt on: `GPG_TTY` (GnuPG's convention), `TTY`, the
/// controlling terminal, or the one on stdin, stdout or stderr.
fn controlling_tty() -> Option<PathBuf> {
    for var in ["GPG_TTY", "TTY"] {
        if let Some(tty) = std::env::var_os(var).filter(|t| !t.is_empty()) {
            return Some(tty.into());
        }
    }
    if let Ok(tty) = OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOCTTY).open("/dev/tty")
        && let Some(name) = tty_name(tty.as_raw_fd())
    {
        return Some(name);
    }
    (0..=2).find_map(tty_name)
}

fn tty_name(fd: RawFd) -> Option<PathBuf> {
    let mut name = [0 as libc::c_char; 256];
    // SAFETY: `name` is writable for its whole length, which is passed.
    if unsafe { libc::ttyname_r(fd, name.as_mut_ptr(), name.len()) } != 0 {
        return None;
    }
    // SAFETY: on success ttyname_r leaves a NUL-terminated string in `name`.
    let name = unsafe { CStr::from_ptr(name.as_ptr()) };
    Some(PathBuf::from(OsStr::from_bytes(name.to_bytes())))
}

/// The Assuan connection to the pinentry: our end of a socket pair.
struct Channel {
    sock: UnixStream,
    /// Lines read, unbuffered; `start..end` not consumed yet.
    buf: Box<Zeroizing<[u8; RECV_BUF]>>,
    start: usize,
    end: usize,
}

impl Channel {
    /// Sends a command line (a line end is added).
    fn send(&mut self, line: &[u8]) -> Result<(), Fail> {
        let mut out = Vec::with_capacity(line.len() + 1);
        out.extend_from_slice(line);
        out.push(b'\n');
        let mut rest = &out[..];
        while !rest.is_empty() {
            // SAFETY: `rest` is valid for reads of its length; the socket is
            // open for the life of `self`. MSG_NOSIGNAL: a closed peer gives
            // EPIPE, not SIGPIPE.
            let sent =
                unsafe { libc::send(self.sock.as_raw_fd(), rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
            match usize::try_from(sent) {
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(_) if std::io::Error::last_os_error().kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(Fail::Io),
            }
        }
        Ok(())
    }

    /// The next line, without its line end, as a range of `buf`.
    fn next_line(&mut self, deadline: Option<Instant>) -> Result<(usize, usize), Fail> {
        loop {
            let pending = self.buf.get(self.start..self.end).unwrap_or_default();
            if let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                let from = self.start;
                let mut to = from + pos;
                self.start = to + 1;
                if to > from && self.buf.get(to - 1) == Some(&b'\r') {
                    to -= 1;
                }
                return Ok((from, to));
            }
            if pending.len() >= LINE_MAX {
                return Err(Fail::Protocol);
            }
            if self.start > 0 {
                // Move the partial line to the front and wipe what it left.
                let len = self.end - self.start;
                self.buf.copy_within(self.start..self.end, 0);
                if let Some(stale) = self.buf.get_mut(len..self.end) {
                    stale.zeroize();
                }
                self.start = 0;
                self.end = len;
            }
            let wait = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Fail::Late);
                    }
                    Some(left)
                }
                None => None,
            };
            self.sock.set_read_timeout(wait).map_err(|_| Fail::Io)?;
            let room = self.buf.get_mut(self.end..).unwrap_or_default();
            match (&self.sock).read(room) {
                Ok(0) => return Err(Fail::Ended),
                Ok(n) => self.end += n,
                Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return Err(Fail::Io),
            }
        }
    }

    /// Reads a response up to its `OK` or `ERR`; `D` lines go, decoded,
    /// into `data` (or are dropped), and are wiped from the line buffer.
    fn response(&mut self, deadline: Option<Instant>, mut data: Option<&mut PinBuf>) -> Result<AssuanReply, Fail> {
        loop {
            let (from, to) = self.next_line(deadline)?;
            let line = self.buf.get(from..to).unwrap_or_default();
            if line == b"OK" || line.starts_with(b"OK ") {
                return Ok(AssuanReply::Ok);
            }
            if let Some(rest) = line.strip_prefix(b"ERR ") {
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                let code = std::str::from_utf8(rest.get(..digits).unwrap_or_default())
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .ok_or(Fail::Protocol)?;
                return Ok(AssuanReply::Err(code));
            }
            if let Some(payload) = line.strip_prefix(b"D ") {
                let decoded = match data.as_deref_mut() {
                    Some(entry) => entry.push_escaped(payload),
                    None => Ok(()),
                };
                if let Some(line) = self.buf.get_mut(from..to) {
                    line.zeroize();
                }
                decoded?;
            } else if line.starts_with(b"INQUIRE ") {
                // Nothing is offered (no quality bar, no passphrase maker).
                self.send(b"CAN")?;
            } else if !(line == b"S" || line.starts_with(b"S ") || line.starts_with(b"#") || line.is_empty()) {
                return Err(Fail::Protocol);
            }
        }
    }
}

/// A running pinentry. Dropping it ends the program and waits for it.
struct Session {
    child: Child,
    channel: Channel,
    timeout: u32,
    grace: Duration,
    closed: bool,
}

impl Session {
    /// Starts the program, reads its greeting and sends the settings.
    fn start(pinentry: &Pinentry) -> Result<Session, PinEntryError> {
        let (ours, theirs) = UnixStream::pair().map_err(|_| PinEntryError::Unavailable)?;
        let theirs_out = theirs.try_clone().map_err(|_| PinEntryError::Unavailable)?;
        let child = {
            let mut command = Command::new(&pinentry.program);
            command
                .stdin(Stdio::from(OwnedFd::from(theirs)))
                .stdout(Stdio::from(OwnedFd::from(theirs_out)))
                .stderr(Stdio::null());
            command.spawn().map_err(|_| PinEntryError::Unavailable)?
            // The command, and with it our copies of the child's ends, goes
            // here: the child's exit then ends our reads.
        };
        ours.set_write_timeout(Some(COMMAND_TIME)).map_err(|_| PinEntryError::Unavailable)?;
        let channel = Channel { sock: ours, buf: Box::new(Zeroizing::new([0; RECV_BUF])), start: 0, end: 0 };
        let mut session = Session { child, channel, timeout: pinentry.timeout, grace: pinentry.grace, closed: false };

        match session.channel.response(Some(Instant::now() + COMMAND_TIME), None) {
            Ok(AssuanReply::Ok) => {}
            _ => return Err(PinEntryError::Unavailable),
        }
        let mut settings = Vec::new();
        if let Some(tty) = &pinentry.tty {
            settings.extend(option_line("ttyname", tty.as_os_str()));
        }
        if let Some(ttytype) = &pinentry.ttytype {
            settings.extend(option_line("ttytype", OsStr::new(ttytype)));
        }
        settings.extend(option_line("lc-ctype", OsStr::new(&locale("LC_CTYPE"))));
        settings.extend(option_line("lc-messages", OsStr::new(&locale("LC_MESSAGES"))));
        settings.push(command_line("SETTITLE", TITLE));
        settings.push(command_line("SETPROMPT", PROMPT));
        settings.push(command_line("SETOK", "确定"));
        settings.push(command_line("SETCANCEL", "取消"));
        if pinentry.timeout > 0 {
            settings.push(command_line("SETTIMEOUT", &pinentry.timeout.to_string()));
        }
        for line in settings {
            // A setting the pinentry refuses (ERR) is left out.
            session.command(&line)?;
        }
        Ok(session)
    }

    /// One command other than `GETPIN`; its `ERR` is the caller's.
    fn command(&mut self, line: &[u8]) -> Result<AssuanReply, PinEntryError> {
        self.channel.send(line).map_err(|_| PinEntryError::Unavailable)?;
        self.channel.response(Some(Instant::now() + COMMAND_TIME), None).map_err(|_| PinEntryError::Unavailable)
    }

    /// Shows `text` and reads one entry into `entry`.
    fn get_pin(&mut self, text: &str, entry: &mut PinBuf) -> Result<(), PinEntryError> {
        self.command(&command_line("SETDESC", text))?;
        entry.clear();
        self.channel.send(b"GETPIN").map_err(|_| PinEntryError::Unavailable)?;
        let deadline =
            (self.timeout > 0).then(|| Instant::now() + Duration::from_secs(u64::from(self.timeout)) + self.grace);
        let reply = self.channel.response(deadline, Some(entry));
        if reply != Ok(AssuanReply::Ok) {
            entry.clear();
        }
        match reply {
            Ok(AssuanReply::Ok) => Ok(()),
            Ok(AssuanReply::Err(code)) => Err(match code & 0xFFFF {
                GPG_ERR_CANCELED | GPG_ERR_FULLY_CANCELED | GPG_ERR_NOT_CONFIRMED => PinEntryError::Cancelled,
                GPG_ERR_TIMEOUT => PinEntryError::TimedOut,
                _ => PinEntryError::Unavailable,
            }),
            Err(Fail::Late) => {
                self.interrupt();
                Err(PinEntryError::TimedOut)
            }
            Err(Fail::Ended | Fail::Io | Fail::Protocol) => Err(PinEntryError::Unavailable),
        }
    }

    /// Asks a pinentry that outlived its timeout to close its dialog: SIGINT,
    /// which pinentry-curses answers with `ERR … Fully canceled`, leaving
    /// the terminal as it was.
    fn interrupt(&mut self) {
        if let Ok(None) = self.child.try_wait()
            && let Ok(pid) = libc::pid_t::try_from(self.child.id())
        {
            // SAFETY: `pid` is our child, not yet waited for, so the PID is
            // still its own.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
            let mut scratch = PinBuf::new();
            let _ = self.channel.response(Some(Instant::now() + LEAVE_TIME), Some(&mut scratch));
        }
    }

    /// `BYE`, then waits for the program; kills it (by its PID) if it has
    /// not left within a second.
    fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if self.channel.send(b"BYE").is_ok() {
            let _ = self.channel.response(Some(Instant::now() + LEAVE_TIME), None);
        }
        let deadline = Instant::now() + LEAVE_TIME;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests;
