//! How a command fails: the one-line message and the exit code.

use sscard_client::{CallError, CallErrorKind};
use sscard_contract::ErrorName;

#[cfg(test)]
pub use sscard_cli::sscardctl::{daemon_errors, exit_codes_help};

/// EX_UNAVAILABLE: the daemon is not on the bus.
pub const EXIT_UNAVAILABLE: u8 = 69;
/// A local failure: bad JSON, an unreadable file, no terminal for a PIN.
pub const EXIT_LOCAL: u8 = 1;

/// The exit code of an `org.sscard.Error` this client does not know.
fn unknown_daemon_error() -> u8 {
    ErrorName::Internal.exit_code()
}

/// `pin verify` with a wrong PIN: the same code as `WrongPin`.
fn exit_wrong_pin() -> u8 {
    ErrorName::WrongPin.exit_code()
}

/// Why a command failed.
#[derive(Debug)]
pub enum CommandError {
    /// Bad local input or a local I/O failure.
    Local(String),
    /// The daemon answered `org.sscard.Error.<raw>`; `name` is `None` for
    /// a name this client does not know.
    Daemon { name: Option<ErrorName>, raw: String, message: String },
    /// The daemon is not on the bus, or the bus is not there.
    Unavailable(String),
    /// Any other D-Bus failure.
    Bus(String),
    /// `VerifyPin` answered `(false, tries_left)`.
    WrongPin { tries_left: u32 },
    /// Already said on standard output (`unified`'s return value): exit 1,
    /// print nothing more.
    Quiet,
}

impl CommandError {
    pub fn code(&self) -> u8 {
        match self {
            CommandError::Local(_) | CommandError::Bus(_) | CommandError::Quiet => EXIT_LOCAL,
            CommandError::Daemon { name, .. } => name.map_or(unknown_daemon_error(), ErrorName::exit_code),
            CommandError::Unavailable(_) => EXIT_UNAVAILABLE,
            CommandError::WrongPin { .. } => exit_wrong_pin(),
        }
    }

    /// The line after `sscardctl: `.
    pub fn message(&self) -> String {
        match self {
            CommandError::Local(m) | CommandError::Unavailable(m) | CommandError::Bus(m) => m.clone(),
            CommandError::Quiet => String::new(),
            CommandError::Daemon { raw, message, .. } => format!("{raw}: {message}"),
            CommandError::WrongPin { tries_left: 0 } => "wrong PIN, 0 tries left: the PIN is now blocked".to_owned(),
            CommandError::WrongPin { tries_left: 1 } => "wrong PIN, 1 try left".to_owned(),
            CommandError::WrongPin { tries_left } => format!("wrong PIN, {tries_left} tries left"),
        }
    }
}

impl From<CallError> for CommandError {
    fn from(e: CallError) -> Self {
        match e.kind {
            CallErrorKind::Daemon(name) => {
                CommandError::Daemon { name, raw: e.short_name().to_owned(), message: e.message }
            }
            CallErrorKind::NotRunning => CommandError::Unavailable(format!(
                "{} is not on the bus (is sscardd running?)",
                sscard_contract::bus::BUS_NAME
            )),
            CallErrorKind::Lost if e.bus_name.ends_with(".NoReply") => {
                CommandError::Unavailable(format!("the daemon left without answering: {}", e.message))
            }
            CallErrorKind::Lost => CommandError::Unavailable(format!("lost the bus: {}", e.message)),
            CallErrorKind::Denied | CallErrorKind::Bus => CommandError::Bus(e.to_string()),
        }
    }
}

impl From<zbus::Error> for CommandError {
    fn from(e: zbus::Error) -> Self {
        CommandError::from(CallError::from(&e))
    }
}

impl From<zbus::fdo::Error> for CommandError {
    fn from(e: zbus::fdo::Error) -> Self {
        CommandError::from(CallError::from(e))
    }
}

pub use sscard_client::one_line;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_daemon_error_has_its_own_code() {
        let mut codes: Vec<u8> = daemon_errors().map(|(_, c)| c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorName::ALL.len());
        assert_eq!(codes, (3..=25).collect::<Vec<u8>>());
        assert!(codes.iter().all(|c| ![0, EXIT_LOCAL, 2, EXIT_UNAVAILABLE].contains(c)));
        let code = |raw: &str| {
            CommandError::Daemon { name: ErrorName::from_name(raw), raw: raw.into(), message: "m".into() }.code()
        };
        assert_eq!(code("WrongPin"), 11);
        assert_eq!(code("org.sscard.Error.NoCard"), 3);
        assert_eq!(code("NoCard"), 3);
        assert_eq!(code("SomethingNew"), 21);
    }

    #[test]
    fn the_help_lists_the_codes_in_two_columns() {
        let help = exit_codes_help();
        let table = "   2  usage error
   3  NoCard                  15  AuthenticationFailed
   4  Ambiguous               16  CardError
   5  CardRemoved             17  NotAuthorized
   6  CardReset               18  ServiceUnavailable
   7  NotSupported            19  Timeout
   8  InvalidArgument         20  Cancelled
   9  PinBlocked              21  Internal, or an error name this client does not know
  10  LastTry                 22  NotAuthentic
  11  WrongPin                23  NotIssued
  12  HolderMismatch          24  NoPinPad
  13  AlreadyActive           25  PinEntryCancelled
  14  NoSam
  69  the daemon is not on the bus";
        assert!(help.contains(table), "{help}");
        assert!(help.starts_with("Exit codes:\n   0  success\n"), "{help}");
    }

    #[test]
    fn an_unknown_name_keeps_its_name_and_exits_21() {
        let known =
            CommandError::Daemon { name: ErrorName::from_name("LastTry"), raw: "LastTry".into(), message: "m".into() };
        assert_eq!((known.code(), known.message().as_str()), (10, "LastTry: m"));
        let unknown =
            CommandError::Daemon { name: ErrorName::from_name("Later"), raw: "Later".into(), message: "m".into() };
        assert_eq!((unknown.code(), unknown.message().as_str()), (21, "Later: m"));
    }

    #[test]
    fn wrong_pin_says_the_tries_left() {
        assert_eq!(CommandError::WrongPin { tries_left: 2 }.message(), "wrong PIN, 2 tries left");
        assert_eq!(CommandError::WrongPin { tries_left: 2 }.code(), 11);
    }
}
