//! The errors callers see (docs/interfaces.md): one name from the contract
//! (`org.sscard.Error.<Name>`), a one-line message naming the operation,
//! and the details programs decide by. The names, their exit codes and the
//! details' keys are the contract crate's; this module says which name and
//! details each failure of the layers below gets.

pub use sscard_contract::{ErrorDetails, ErrorName};
use sscard_contract::{keys, rule};

use sscard_ops::{OpError, PinPadError};
use sscard_transport::{PadRefusal, TransportError};

/// The contract's name for a transport failure. `NoCard` only ever answers
/// the start of something on an empty reader; a card that leaves while it
/// is used is `CardRemoved`.
pub(crate) fn name_of_transport(e: &TransportError) -> ErrorName {
    match e {
        TransportError::NoService => ErrorName::ServiceUnavailable,
        TransportError::NoCard => ErrorName::NoCard,
        TransportError::CardRemoved | TransportError::ReaderUnavailable | TransportError::UnknownReader(_) => {
            ErrorName::CardRemoved
        }
        TransportError::CardReset => ErrorName::CardReset,
        TransportError::NoPinPad => ErrorName::NoPinPad,
        TransportError::Timeout => ErrorName::Timeout,
        TransportError::ExtendedLengthUnsupported
        | TransportError::ReaderShortApdusOnly
        | TransportError::MalformedCommand(_)
        | TransportError::MalformedResponse(_)
        | TransportError::TooManyContinuations(_)
        | TransportError::Pcsc(_) => ErrorName::CardError,
    }
}

/// The contract's name for an operation's failure.
pub(crate) fn name_of_op(e: &OpError) -> ErrorName {
    match e {
        OpError::InvalidArgument(_) | OpError::EmptyRecord | OpError::BadInput { .. } => ErrorName::InvalidArgument,
        OpError::NotSocialSecurityCard | OpError::NotSupported(_) => ErrorName::NotSupported,
        OpError::NoSam => ErrorName::NoSam,
        OpError::PinBlocked => ErrorName::PinBlocked,
        OpError::LastTry => ErrorName::LastTry,
        OpError::WrongPin { .. } => ErrorName::WrongPin,
        OpError::HolderMismatch(_) => ErrorName::HolderMismatch,
        OpError::AlreadyActive => ErrorName::AlreadyActive,
        OpError::AuthenticationFailed { .. } | OpError::InternalAuthMismatch => ErrorName::AuthenticationFailed,
        OpError::NotAuthentic(_) => ErrorName::NotAuthentic,
        OpError::NotIssued(_) => ErrorName::NotIssued,
        OpError::Card { .. } | OpError::ReadBackMismatch(_) | OpError::Decode(_) => ErrorName::CardError,
        OpError::CardRemoved => ErrorName::CardRemoved,
        OpError::CardReset => ErrorName::CardReset,
        OpError::Timeout => ErrorName::Timeout,
        OpError::ServiceUnavailable => ErrorName::ServiceUnavailable,
        OpError::NoPinPad => ErrorName::NoPinPad,
        OpError::PinPad(PinPadError(refusal)) => match refusal {
            PadRefusal::Timeout => ErrorName::Timeout,
            PadRefusal::Cancelled => ErrorName::PinEntryCancelled,
            PadRefusal::EntriesDiffer | PadRefusal::Length => ErrorName::InvalidArgument,
        },
        OpError::Transport(t) => name_of_transport(t),
        // The operation needed the PSAM, and it went away under it.
        OpError::Sam(_) => ErrorName::NoSam,
        OpError::Internal(_) => ErrorName::Internal,
    }
}

/// The details of an operation's failure: the field and rule of bad input,
/// the tries left, the status word and which card answered it.
pub(crate) fn details_of_op(e: &OpError) -> ErrorDetails {
    match e {
        OpError::InvalidArgument(v) => ErrorDetails::invalid(v.field.key(), v.rule.id()),
        OpError::EmptyRecord => ErrorDetails::invalid(keys::args::RECORD, rule::NOTHING_TO_WRITE),
        OpError::BadInput { field, rule, .. } => ErrorDetails::invalid(field.as_str(), rule),
        OpError::WrongPin { tries_left } => {
            ErrorDetails { tries_left: Some(u32::from(*tries_left)), ..ErrorDetails::default() }
        }
        OpError::LastTry => ErrorDetails { tries_left: Some(1), ..ErrorDetails::default() },
        OpError::PinPad(PinPadError(PadRefusal::EntriesDiffer)) => {
            ErrorDetails::invalid(keys::NEW_PIN, rule::PIN_CONFIRMATION_DIFFERS)
        }
        OpError::PinPad(PinPadError(PadRefusal::Length)) => ErrorDetails::invalid(keys::PIN, rule::PIN_LENGTH),
        OpError::PinPad(PinPadError(PadRefusal::Timeout | PadRefusal::Cancelled)) | OpError::NoPinPad => {
            ErrorDetails { slot: Some(sscard_contract::Slot::Card), ..ErrorDetails::default() }
        }
        OpError::AuthenticationFailed { slot, sw, .. } | OpError::Card { slot, sw, .. } => {
            ErrorDetails::status(*slot, sw.to_u16())
        }
        OpError::Sam(_) | OpError::NoSam => {
            ErrorDetails { slot: Some(sscard_contract::Slot::Sam), ..ErrorDetails::default() }
        }
        OpError::Transport(_) | OpError::CardRemoved | OpError::CardReset | OpError::Timeout => {
            ErrorDetails { slot: Some(sscard_contract::Slot::Card), ..ErrorDetails::default() }
        }
        OpError::NotSocialSecurityCard
        | OpError::NotSupported(_)
        | OpError::PinBlocked
        | OpError::HolderMismatch(_)
        | OpError::AlreadyActive
        | OpError::InternalAuthMismatch
        | OpError::NotAuthentic(_)
        | OpError::NotIssued(_)
        | OpError::ReadBackMismatch(_)
        | OpError::Decode(_)
        | OpError::ServiceUnavailable
        | OpError::Internal(_) => ErrorDetails::default(),
    }
}

/// A failed call: its contract name, a one-line message that starts with
/// the method, and its details. It is the daemon's D-Bus error as it
/// stands: `(s message, a{sv} details)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    pub name: ErrorName,
    pub message: String,
    pub details: ErrorDetails,
}

impl ServiceError {
    pub fn new(name: ErrorName, method: &str, detail: &str) -> ServiceError {
        ServiceError { name, message: format!("{method}: {detail}"), details: ErrorDetails::default() }
    }

    /// An error whose message is already whole.
    pub fn named(name: ErrorName, message: String) -> ServiceError {
        ServiceError { name, message, details: ErrorDetails::default() }
    }

    /// Bad input to `method`: `field` breaks `rule` (the contract's
    /// names); `detail` says so for a person.
    pub fn invalid(method: &str, field: &str, rule: &str, detail: &str) -> ServiceError {
        ServiceError {
            details: ErrorDetails::invalid(field, rule),
            ..ServiceError::new(ErrorName::InvalidArgument, method, &format!("invalid argument: {detail}"))
        }
    }

    pub fn from_op(method: &str, e: &OpError) -> ServiceError {
        ServiceError { details: details_of_op(e), ..ServiceError::new(name_of_op(e), method, &e.to_string()) }
    }

    pub fn from_transport(method: &str, e: &TransportError) -> ServiceError {
        ServiceError::new(name_of_transport(e), method, &e.to_string())
    }

    /// The same error, at an HSM session's step `step` (1 being `BeginHsm`).
    pub fn at_step(mut self, step: u32) -> ServiceError {
        self.details.step = Some(step);
        self
    }
}

impl From<zbus::Error> for ServiceError {
    /// A failure of the bus itself while answering (building a reply).
    fn from(e: zbus::Error) -> Self {
        ServiceError::named(ErrorName::Internal, format!("D-Bus: {e}"))
    }
}
