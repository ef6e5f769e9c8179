//! PINs: from a prompt without echo on the terminal, or with `--pin-stdin`
//! from standard input, one a line. Never from the command line. They live
//! in zeroizing strings.

use std::io::BufRead;

use zeroize::Zeroizing;

use crate::failure::Failure;

pub struct Pins {
    from_stdin: bool,
}

impl Pins {
    pub fn new(from_stdin: bool) -> Pins {
        Pins { from_stdin }
    }

    /// A PIN the card already has (`what`: "PIN", "old PIN", "initial PIN").
    pub fn existing(&mut self, what: &str) -> Result<Zeroizing<String>, Failure> {
        if self.from_stdin {
            return read_line(what);
        }
        prompt(what)
    }

    /// A PIN to set: asked twice on the terminal, and both must agree.
    pub fn new_pin(&mut self, what: &str) -> Result<Zeroizing<String>, Failure> {
        if self.from_stdin {
            return read_line(what);
        }
        let first = prompt(what)?;
        let again = prompt(&format!("{what} again"))?;
        if first.as_str() != again.as_str() {
            return Err(Failure::Local(format!("the two entries of the {what} differ")));
        }
        Ok(first)
    }
}

/// One line of standard input, without its line end.
fn read_line(what: &str) -> Result<Zeroizing<String>, Failure> {
    let mut line = Zeroizing::new(String::new());
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Local(format!("reading the {what} from standard input: {e}")))?;
    if read == 0 {
        return Err(Failure::Local(format!("standard input ended before the {what}")));
    }
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    Ok(line)
}

/// A prompt on the terminal, without echo.
fn prompt(what: &str) -> Result<Zeroizing<String>, Failure> {
    let mut label = what.to_owned();
    if let Some(first) = label.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    rpassword::prompt_password(format!("{label}: ")).map(Zeroizing::new).map_err(|e| {
        Failure::Local(format!(
            "cannot prompt for the {what} on a terminal ({e}); use --pin-stdin to read it from standard input"
        ))
    })
}
