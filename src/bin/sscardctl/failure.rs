//! How a command fails: the one-line message and the exit code.

use sscard::dbus::client::{error_message, error_name};

/// The exit code of each of the daemon's errors (`org.sscard.Error.<Name>`).
pub const DAEMON_ERRORS: &[(&str, u8)] = &[
    ("NoCard", 3),
    ("Ambiguous", 4),
    ("CardRemoved", 5),
    ("CardReset", 6),
    ("NotSupported", 7),
    ("InvalidArgument", 8),
    ("PinBlocked", 9),
    ("LastTry", 10),
    ("WrongPin", 11),
    ("HolderMismatch", 12),
    ("AlreadyActive", 13),
    ("NoSam", 14),
    ("AuthenticationFailed", 15),
    ("CardError", 16),
    ("NotAuthorized", 17),
    ("ServiceUnavailable", 18),
    ("Timeout", 19),
    ("Cancelled", 20),
    ("Internal", 21),
];

/// The exit code of an `org.sscard.Error` this client does not know.
const UNKNOWN_DAEMON_ERROR: u8 = 21;
/// EX_UNAVAILABLE: the daemon is not on the bus.
pub const EXIT_UNAVAILABLE: u8 = 69;
/// A local failure: bad JSON, an unreadable file, no terminal for a PIN.
pub const EXIT_LOCAL: u8 = 1;
/// `pin verify` with a wrong PIN: the same code as `WrongPin`.
pub const EXIT_WRONG_PIN: u8 = 11;

/// `sscardctl --help`'s table; a unit test checks it against the codes.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
   0  success
   1  a local error (bad JSON, an unreadable file, no terminal for a PIN prompt),
      or a D-Bus failure that is not one of the daemon's errors
   2  usage error
   3  NoCard                  13  AlreadyActive
   4  Ambiguous               14  NoSam
   5  CardRemoved             15  AuthenticationFailed
   6  CardReset               16  CardError
   7  NotSupported            17  NotAuthorized
   8  InvalidArgument         18  ServiceUnavailable
   9  PinBlocked              19  Timeout
  10  LastTry                 20  Cancelled
  11  WrongPin                21  Internal, or an error name this client does not know
  12  HolderMismatch
  69  the daemon is not on the bus, or the bus is not there (EX_UNAVAILABLE)
The daemon's errors (3 to 21) are printed as `sscardctl: <ErrorName>: <message>`.
`pin verify` with a wrong PIN is not an error of the daemon, but it prints
`wrong PIN, <n> tries left` and exits with 11 all the same.

PINs are never taken from the command line: they are prompted for without
echo, or read from standard input with --pin-stdin, one a line, in the order
of the method's arguments.

Audit trail: sscardd records every call as one event (caller uid and pid,
operation, reader, a salted hash of the card number, outcome, APDU count;
never a name, SSN, PIN or photo). Read it with journalctl:
  journalctl -u sscardd.service -g 'sscard::audit'            # as text
  journalctl -u sscardd.service -o json-pretty -g 'sscard::audit'
  journalctl -u sscardd.service -g 'sscard::audit.*outcome=\"NotAuthorized\"'   # refusals only";

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// Bad local input or a local I/O failure.
    Local(String),
    /// The daemon answered `org.sscard.Error.<name>`.
    Daemon { name: String, message: String },
    /// The daemon is not on the bus, or the bus is not there.
    Unavailable(String),
    /// Any other D-Bus failure.
    Bus(String),
    /// `VerifyPin` answered `(false, tries_left)`.
    WrongPin { tries_left: u32 },
}

impl Failure {
    pub fn code(&self) -> u8 {
        match self {
            Failure::Local(_) | Failure::Bus(_) => EXIT_LOCAL,
            Failure::Daemon { name, .. } => daemon_exit_code(name),
            Failure::Unavailable(_) => EXIT_UNAVAILABLE,
            Failure::WrongPin { .. } => EXIT_WRONG_PIN,
        }
    }

    /// The line after `sscardctl: `.
    pub fn message(&self) -> String {
        match self {
            Failure::Local(m) | Failure::Unavailable(m) | Failure::Bus(m) => m.clone(),
            Failure::Daemon { name, message } => format!("{name}: {message}"),
            Failure::WrongPin { tries_left: 0 } => "wrong PIN, 0 tries left: the PIN is now blocked".to_owned(),
            Failure::WrongPin { tries_left: 1 } => "wrong PIN, 1 try left".to_owned(),
            Failure::WrongPin { tries_left } => format!("wrong PIN, {tries_left} tries left"),
        }
    }
}

pub fn daemon_exit_code(name: &str) -> u8 {
    DAEMON_ERRORS.iter().find(|(n, _)| *n == name).map_or(UNKNOWN_DAEMON_ERROR, |(_, code)| *code)
}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Self {
        if let Some(name) = error_name(&e) {
            return Failure::Daemon { name, message: one_line(&error_message(&e)) };
        }
        match &e {
            zbus::Error::FDO(fdo) => match &**fdo {
                zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_) => {
                    Failure::Unavailable(format!("{} is not on the bus (is sscardd running?)", sscard::dbus::BUS_NAME))
                }
                zbus::fdo::Error::NoReply(m) | zbus::fdo::Error::Disconnected(m) => {
                    Failure::Unavailable(format!("the daemon left without answering: {}", one_line(m)))
                }
                other => Failure::Bus(one_line(&other.to_string())),
            },
            zbus::Error::InputOutput(_) | zbus::Error::Connection(..) => {
                Failure::Unavailable(format!("lost the bus: {}", one_line(&e.to_string())))
            }
            _ => Failure::Bus(one_line(&e.to_string())),
        }
    }
}

impl From<zbus::fdo::Error> for Failure {
    fn from(e: zbus::fdo::Error) -> Self {
        Failure::from(zbus::Error::from(e))
    }
}

/// Messages stay on one line.
pub fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_daemon_error_has_its_own_code() {
        let mut codes: Vec<u8> = DAEMON_ERRORS.iter().map(|(_, c)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DAEMON_ERRORS.len());
        assert!(codes.iter().all(|c| ![0, EXIT_LOCAL, 2, EXIT_UNAVAILABLE].contains(c)));
        assert_eq!(daemon_exit_code("WrongPin"), EXIT_WRONG_PIN);
        assert_eq!(daemon_exit_code("SomethingNew"), UNKNOWN_DAEMON_ERROR);
    }

    #[test]
    fn wrong_pin_says_the_tries_left() {
        assert_eq!(Failure::WrongPin { tries_left: 2 }.message(), "wrong PIN, 2 tries left");
        assert_eq!(Failure::WrongPin { tries_left: 2 }.code(), 11);
    }
}
