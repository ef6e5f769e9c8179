//! PINs: from a prompt without echo on the terminal, or with `--pin-stdin`
//! from standard input, one a line. Never from the command line.
//!
//! A PIN is read a byte at a time, unbuffered, into a fixed zeroizing
//! buffer, so that no copy is left in a buffer of the standard library or
//! in an allocation that grew; it then moves into a zeroizing string of
//! its exact size.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};

use zeroize::Zeroizing;

use crate::failure::CommandError;

/// The longest line taken: a PIN has at most 12 digits; the rest of the
/// room lets a mistyped line be refused by the PIN rules, not cut short.
const LINE_MAX: usize = 64;

pub struct Pins {
    from_stdin: bool,
}

impl Pins {
    pub fn new(from_stdin: bool) -> Pins {
        Pins { from_stdin }
    }

    /// A PIN the card already has (`what`: "PIN", "old PIN", "initial PIN").
    pub fn existing(&mut self, what: &str) -> Result<Zeroizing<String>, CommandError> {
        if self.from_stdin {
            return stdin_line(what).map_err(CommandError::Local);
        }
        prompt(what)
    }

    /// A PIN to set: asked twice on the terminal, and both must agree.
    pub fn new_pin(&mut self, what: &str) -> Result<Zeroizing<String>, CommandError> {
        if self.from_stdin {
            return stdin_line(what).map_err(CommandError::Local);
        }
        let first = prompt(what)?;
        let again = prompt(&format!("{what} again"))?;
        if first.as_str() != again.as_str() {
            return Err(CommandError::Local(format!("the two entries of the {what} differ")));
        }
        Ok(first)
    }
}

/// One line of standard input, without its line end, read unbuffered so
/// that the next PIN's line stays for the next call.
pub fn stdin_line(what: &str) -> Result<Zeroizing<String>, String> {
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("reading the {what} from standard input: {e}"))?;
    let mut input = File::from(fd);
    match read_line(&mut input) {
        Ok(Some(line)) => Ok(line),
        Ok(None) => Err(format!("standard input ended before the {what}")),
        Err(e) => Err(format!("reading the {what} from standard input: {e}")),
    }
}

/// Reads up to a line end into a fixed buffer; `None` at the end of input
/// before any byte. A line longer than [`LINE_MAX`] is refused.
fn read_line(input: &mut impl Read) -> std::io::Result<Option<Zeroizing<String>>> {
    let mut buffer = Zeroizing::new([0u8; LINE_MAX]);
    let mut byte = Zeroizing::new([0u8; 1]);
    let mut len = 0;
    let mut ended = false;
    loop {
        match input.read(&mut byte[..]) {
            Ok(0) => {
                ended = true;
                break;
            }
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => {
                let slot = buffer.get_mut(len).ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a line longer than {LINE_MAX} bytes"))
                })?;
                *slot = byte[0];
                len += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if ended && len == 0 {
        return Ok(None);
    }
    let mut text = &buffer[..len];
    while let [rest @ .., b'\r'] = text {
        text = rest;
    }
    let text = std::str::from_utf8(text)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))?;
    let mut line = Zeroizing::new(String::with_capacity(text.len()));
    line.push_str(text);
    Ok(Some(line))
}

/// A prompt on the controlling terminal, without echo.
fn prompt(what: &str) -> Result<Zeroizing<String>, CommandError> {
    let cannot = |e: std::io::Error| {
        CommandError::Local(format!(
            "cannot prompt for the {what} on a terminal ({e}); use --pin-stdin to read it from standard input"
        ))
    };
    let mut tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").map_err(cannot)?;
    let mut label = what.to_owned();
    if let Some(first) = label.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    write!(tty, "{label}: ").and_then(|()| tty.flush()).map_err(cannot)?;
    let line = {
        let _quiet = NoEcho::on(&tty).map_err(cannot)?;
        read_line(&mut tty)
    };
    // The newline the holder typed was not echoed.
    let _ = writeln!(tty);
    match line {
        Ok(Some(pin)) => Ok(pin),
        Ok(None) => Err(CommandError::Local(format!("the terminal closed before the {what}"))),
        Err(e) => Err(cannot(e)),
    }
}

/// Echo off on a terminal until dropped.
struct NoEcho {
    fd: std::os::fd::RawFd,
    saved: libc::termios,
}

impl NoEcho {
    fn on(tty: &File) -> std::io::Result<NoEcho> {
        let fd = tty.as_raw_fd();
        // SAFETY: `termios` is plain data; tcgetattr fills it for an open fd.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is open for the life of `tty`, and `saved` is valid.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut quiet = saved;
        quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
        quiet.c_lflag |= libc::ICANON;
        // SAFETY: as above; `quiet` is a valid termios.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(NoEcho { fd, saved })
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        // SAFETY: restores the settings read from the same, still open, fd.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_one_at_a_time_into_exact_buffers() {
        let mut input: &[u8] = b"123456\r\n654321\n13579";
        let first = read_line(&mut input).unwrap().unwrap();
        assert_eq!((first.as_str(), first.capacity()), ("123456", 6));
        assert_eq!(read_line(&mut input).unwrap().unwrap().as_str(), "654321");
        assert_eq!(read_line(&mut input).unwrap().unwrap().as_str(), "13579", "the last line needs no line end");
        assert!(read_line(&mut input).unwrap().is_none());
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_refused() {
        let long = [b'1'; LINE_MAX + 1];
        let mut input: &[u8] = &long;
        assert!(read_line(&mut input).is_err());
    }
}
