//! The errors the daemon answers: a name (`org.sscard.Error.<Name>`), a
//! one-line message for a person, and details for programs. Clients decide
//! from the name and the details only; the message may be reworded at any
//! time.

use crate::bus::ERROR_PREFIX;

macro_rules! error_names {
    ($($(#[$doc:meta])* $name:ident = $code:literal,)*) => {
        /// The error names of `docs/interfaces.md`, each with the exit code
        /// `sscardctl` gives it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorName {
            $($(#[$doc])* $name,)*
        }

        impl ErrorName {
            pub const ALL: &'static [ErrorName] = &[$(ErrorName::$name,)*];

            /// The short name, e.g. `NoCard`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorName::$name => stringify!($name),)*
                }
            }

            /// The D-Bus name, e.g. `org.sscard.Error.NoCard`.
            pub const fn dbus_name(self) -> &'static str {
                match self {
                    $(ErrorName::$name => concat!("org.sscard.Error.", stringify!($name)),)*
                }
            }

            /// `sscardctl`'s exit code for it.
            pub const fn exit_code(self) -> u8 {
                match self {
                    $(ErrorName::$name => $code,)*
                }
            }
        }
    };
}

error_names! {
    /// No card in the reader.
    NoCard = 3,
    /// `FindCard` found more than one social security card.
    Ambiguous = 4,
    /// The card left during the operation.
    CardRemoved = 5,
    /// Another program reset the card, and the single rerun did not help.
    CardReset = 6,
    /// Not a social security card, or no profile fits it.
    NotSupported = 7,
    /// Bad input; the details name the field and the rule.
    InvalidArgument = 8,
    /// The PIN was blocked when the call began.
    PinBlocked = 9,
    /// One try left, and `allow_last_try` was not given.
    LastTry = 10,
    /// A wrong PIN to `ChangePin` or `Activate`.
    WrongPin = 11,
    /// The SSN on the card is not the one given, or the card has none.
    HolderMismatch = 12,
    /// `Activate` on an active gen3 card.
    AlreadyActive = 13,
    /// The operation needs a PSAM, and none is present.
    NoSam = 14,
    /// The card or the PSAM refused a cryptogram or MAC.
    AuthenticationFailed = 15,
    /// An unexpected status word, or a read-back that differs.
    CardError = 16,
    /// polkit said no, or the caller does not own the session.
    NotAuthorized = 17,
    /// pcscd is not there.
    ServiceUnavailable = 18,
    /// A card did not answer within the configured time.
    Timeout = 19,
    /// The daemon is shutting down.
    Cancelled = 20,
    /// Anything else.
    Internal = 21,
    /// An HSM session's step: the back end's result differs from the card's
    /// own answer (INTERNAL AUTHENTICATE); nothing more was sent.
    NotAuthentic = 22,
    /// An HSM session's step gave back an original or a command header
    /// that is not the one the session issued; nothing was sent.
    NotIssued = 23,
    /// `pin_pad` on a reader without a PIN pad; nothing was sent.
    NoPinPad = 24,
    /// The holder pressed cancel on the reader's keypad; the card was not
    /// asked.
    PinEntryCancelled = 25,
}

impl ErrorName {
    /// The name from its short (`NoCard`) or D-Bus form.
    pub fn from_name(name: &str) -> Option<ErrorName> {
        let short = name.strip_prefix(ERROR_PREFIX).and_then(|n| n.strip_prefix('.')).unwrap_or(name);
        ErrorName::ALL.iter().copied().find(|n| n.as_str() == short)
    }
}

impl std::fmt::Display for ErrorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which card answered or failed: the user's card or the PSAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Card,
    Sam,
}

impl Slot {
    /// Its form in the details: `card` or `sam`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Slot::Card => "card",
            Slot::Sam => "sam",
        }
    }

    pub fn parse(text: &str) -> Option<Slot> {
        match text {
            "card" => Some(Slot::Card),
            "sam" => Some(Slot::Sam),
            _ => None,
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The keys of an error's details (`a{sv}`, the error's second argument),
/// with their D-Bus types.
pub mod detail {
    /// `s`: the argument or element the input was for (`new_pin`, `ssn`,
    /// `opts`, `record`, an HSM value's name). `InvalidArgument`.
    pub const FIELD: &str = "field";
    /// `s`: the rule it breaks, one of [`crate::rule`]. `InvalidArgument`.
    pub const RULE: &str = "rule";
    /// `u`: the PIN tries left. `WrongPin`, `LastTry`.
    pub const TRIES_LEFT: &str = "tries_left";
    /// `q`: the status word a card or the PSAM answered, `SW1·256 + SW2`.
    pub const SW: &str = "sw";
    /// `s`: `card` or `sam`, the card that answered or failed.
    pub const SLOT: &str = "slot";
    /// `u`: an HSM session's step that failed, 1 being `BeginHsm`.
    pub const STEP: &str = "step";

    /// Every key, in the order they are documented.
    pub const ALL: [&str; 6] = [FIELD, RULE, TRIES_LEFT, SW, SLOT, STEP];
}

/// What a program needs of an error besides its name. Each is present only
/// where it applies; a client ignores keys it does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetails {
    /// The argument or element the input was for.
    pub field: Option<String>,
    /// The rule it breaks (one of [`crate::rule`]; a newer daemon may name
    /// others).
    pub rule: Option<String>,
    pub tries_left: Option<u32>,
    pub sw: Option<u16>,
    pub slot: Option<Slot>,
    pub step: Option<u32>,
}

impl ErrorDetails {
    /// Bad input: `field` breaks `rule`.
    pub fn invalid(field: impl Into<String>, rule: &str) -> ErrorDetails {
        ErrorDetails { field: Some(field.into()), rule: Some(rule.to_owned()), ..ErrorDetails::default() }
    }

    /// A status word `slot` answered.
    pub fn status(slot: Slot, sw: u16) -> ErrorDetails {
        ErrorDetails { sw: Some(sw), slot: Some(slot), ..ErrorDetails::default() }
    }

    /// Whether the input broke `rule`.
    pub fn rule_is(&self, rule: &str) -> bool {
        self.rule.as_deref() == Some(rule)
    }

    /// Whether the input was for `field`.
    pub fn field_is(&self, field: &str) -> bool {
        self.field.as_deref() == Some(field)
    }

    pub fn is_empty(&self) -> bool {
        *self == ErrorDetails::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_has_its_own_exit_code() {
        let mut codes: Vec<u8> = ErrorName::ALL.iter().map(|n| n.exit_code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorName::ALL.len());
        assert_eq!(codes, (3..=25).collect::<Vec<u8>>());
    }

    #[test]
    fn names_parse_in_both_forms() {
        for name in ErrorName::ALL {
            assert_eq!(ErrorName::from_name(name.as_str()), Some(*name));
            assert_eq!(ErrorName::from_name(name.dbus_name()), Some(*name));
            assert_eq!(name.dbus_name(), format!("{ERROR_PREFIX}.{name}"));
        }
        assert_eq!(ErrorName::from_name("org.sscard.Error.Later"), None);
        assert_eq!(ErrorName::from_name("org.other.Error.NoCard"), None);
    }

    #[test]
    fn slots_read_back() {
        for slot in [Slot::Card, Slot::Sam] {
            assert_eq!(Slot::parse(slot.as_str()), Some(slot));
        }
        assert_eq!(Slot::parse("reader"), None);
    }
}
