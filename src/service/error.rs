//! The errors callers see (docs/interfaces.md): one name from the contract (`org.sscard.Error.<Name>`)
//! and a one-line message naming the operation. The names, their D-Bus
//! form and the client's exit codes are defined here, once.

use crate::ops::OpError;
use crate::transport::TransportError;

/// The D-Bus prefix of every error name.
pub(crate) const ERROR_PREFIX: &str = "org.sscard.Error";

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
    /// Bad input; the message names the field and the rule.
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
    /// polkit said no.
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
}

impl ErrorName {
    /// The name from its short (`NoCard`) or D-Bus form.
    pub fn from_name(name: &str) -> Option<ErrorName> {
        let short = name.strip_prefix(ERROR_PREFIX).and_then(|n| n.strip_prefix('.')).unwrap_or(name);
        ErrorName::ALL.iter().copied().find(|n| n.as_str() == short)
    }

    /// The contract's name for a transport failure. `NoCard` only ever
    /// answers the start of something on an empty reader; a card that
    /// leaves while it is used is `CardRemoved`.
    pub(crate) fn of_transport(e: &TransportError) -> ErrorName {
        match e {
            TransportError::NoService => ErrorName::ServiceUnavailable,
            TransportError::NoCard => ErrorName::NoCard,
            TransportError::CardRemoved | TransportError::ReaderUnavailable | TransportError::UnknownReader(_) => {
                ErrorName::CardRemoved
            }
            TransportError::CardReset => ErrorName::CardReset,
            TransportError::Timeout => ErrorName::Timeout,
            TransportError::ExtendedLengthUnsupported
            | TransportError::MalformedCommand(_)
            | TransportError::MalformedResponse(_)
            | TransportError::TooManyContinuations(_)
            | TransportError::Pcsc(_) => ErrorName::CardError,
        }
    }

    /// The contract's name for an operation's failure.
    pub(crate) fn of_op(e: &OpError) -> ErrorName {
        match e {
            OpError::InvalidArgument(_) | OpError::EmptyRecord | OpError::BadInput(_) => ErrorName::InvalidArgument,
            OpError::NotSocialSecurityCard | OpError::NotSupported(_) => ErrorName::NotSupported,
            OpError::NoSam => ErrorName::NoSam,
            OpError::PinBlocked => ErrorName::PinBlocked,
            OpError::LastTry => ErrorName::LastTry,
            OpError::WrongPin { .. } => ErrorName::WrongPin,
            OpError::HolderMismatch(_) => ErrorName::HolderMismatch,
            OpError::AlreadyActive => ErrorName::AlreadyActive,
            OpError::AuthenticationFailed { .. } | OpError::NotAuthentic => ErrorName::AuthenticationFailed,
            OpError::ResultMismatch(_) => ErrorName::NotAuthentic,
            OpError::NotIssued(_) => ErrorName::NotIssued,
            OpError::Card { .. } | OpError::ReadBackMismatch(_) | OpError::Decode(_) => ErrorName::CardError,
            OpError::CardRemoved => ErrorName::CardRemoved,
            OpError::CardReset => ErrorName::CardReset,
            OpError::Timeout => ErrorName::Timeout,
            OpError::ServiceUnavailable => ErrorName::ServiceUnavailable,
            OpError::Transport(t) => ErrorName::of_transport(t),
            // The operation needed the PSAM, and it went away under it.
            OpError::Sam(_) => ErrorName::NoSam,
            OpError::Internal(_) => ErrorName::Internal,
        }
    }
}

impl std::fmt::Display for ErrorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call: its contract name and a one-line message that starts
/// with the method. It is the daemon's D-Bus error as it stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    pub name: ErrorName,
    pub message: String,
    /// The status word a card or the PSAM answered, where one did; the
    /// error's second argument on the bus (`q`).
    pub status_word: Option<u16>,
}

impl ServiceError {
    pub fn new(name: ErrorName, method: &str, detail: &str) -> ServiceError {
        ServiceError { name, message: format!("{method}: {detail}"), status_word: None }
    }

    /// An error whose message is already whole.
    pub fn named(name: ErrorName, message: String) -> ServiceError {
        ServiceError { name, message, status_word: None }
    }

    /// Bad input to `method`: `detail` names the field and the rule.
    pub(crate) fn invalid(method: &str, detail: &str) -> ServiceError {
        ServiceError::new(ErrorName::InvalidArgument, method, &format!("invalid argument: {detail}"))
    }

    pub(crate) fn from_op(method: &str, e: &OpError) -> ServiceError {
        let status_word = if let OpError::Card { sw, .. } | OpError::AuthenticationFailed { sw, .. } = e {
            Some(sw.to_u16())
        } else {
            None
        };
        ServiceError { status_word, ..ServiceError::new(ErrorName::of_op(e), method, &e.to_string()) }
    }

    pub(crate) fn from_transport(method: &str, e: &TransportError) -> ServiceError {
        ServiceError::new(ErrorName::of_transport(e), method, &e.to_string())
    }
}

impl zbus::DBusError for ServiceError {
    fn create_reply(&self, call: &zbus::message::Header<'_>) -> zbus::Result<zbus::Message> {
        let reply = zbus::Message::error(call, self.name.dbus_name());
        match self.status_word {
            Some(sw) => reply.build(&(self.message.as_str(), sw)),
            None => reply.build(&(self.message.as_str(),)),
        }
    }

    fn name(&self) -> zbus::names::ErrorName<'_> {
        zbus::names::ErrorName::from_static_str_unchecked(self.name.dbus_name())
    }

    fn description(&self) -> Option<&str> {
        Some(&self.message)
    }
}

impl From<zbus::Error> for ServiceError {
    /// A failure of the bus itself while answering (building a reply).
    fn from(e: zbus::Error) -> Self {
        ServiceError { name: ErrorName::Internal, message: format!("D-Bus: {e}"), status_word: None }
    }
}
