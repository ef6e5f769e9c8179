//! The errors callers see: one name from the contract (`org.sscard.Error.<Name>`)
//! and a one-line message naming the operation.

use crate::ops::OpError;
use crate::transport::TransportError;

/// The error names of `docs/interfaces.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorName {
    NoCard,
    Ambiguous,
    CardRemoved,
    CardReset,
    NotSupported,
    InvalidArgument,
    PinBlocked,
    LastTry,
    WrongPin,
    HolderMismatch,
    AlreadyActive,
    NoSam,
    AuthenticationFailed,
    CardError,
    NotAuthorized,
    ServiceUnavailable,
    Timeout,
    Cancelled,
    Internal,
}

impl ErrorName {
    pub const ALL: [ErrorName; 19] = [
        ErrorName::NoCard,
        ErrorName::Ambiguous,
        ErrorName::CardRemoved,
        ErrorName::CardReset,
        ErrorName::NotSupported,
        ErrorName::InvalidArgument,
        ErrorName::PinBlocked,
        ErrorName::LastTry,
        ErrorName::WrongPin,
        ErrorName::HolderMismatch,
        ErrorName::AlreadyActive,
        ErrorName::NoSam,
        ErrorName::AuthenticationFailed,
        ErrorName::CardError,
        ErrorName::NotAuthorized,
        ErrorName::ServiceUnavailable,
        ErrorName::Timeout,
        ErrorName::Cancelled,
        ErrorName::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorName::NoCard => "NoCard",
            ErrorName::Ambiguous => "Ambiguous",
            ErrorName::CardRemoved => "CardRemoved",
            ErrorName::CardReset => "CardReset",
            ErrorName::NotSupported => "NotSupported",
            ErrorName::InvalidArgument => "InvalidArgument",
            ErrorName::PinBlocked => "PinBlocked",
            ErrorName::LastTry => "LastTry",
            ErrorName::WrongPin => "WrongPin",
            ErrorName::HolderMismatch => "HolderMismatch",
            ErrorName::AlreadyActive => "AlreadyActive",
            ErrorName::NoSam => "NoSam",
            ErrorName::AuthenticationFailed => "AuthenticationFailed",
            ErrorName::CardError => "CardError",
            ErrorName::NotAuthorized => "NotAuthorized",
            ErrorName::ServiceUnavailable => "ServiceUnavailable",
            ErrorName::Timeout => "Timeout",
            ErrorName::Cancelled => "Cancelled",
            ErrorName::Internal => "Internal",
        }
    }
}

/// A failed call: its contract name and a one-line message that starts
/// with the method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    pub name: ErrorName,
    pub message: String,
}

impl ServiceError {
    pub fn new(name: ErrorName, method: &str, detail: &str) -> ServiceError {
        ServiceError { name, message: format!("{method}: {detail}") }
    }

    /// The contract's name for an operation's failure.
    pub fn from_op(method: &str, e: &OpError) -> ServiceError {
        let name = match e {
            OpError::InvalidArgument(_) | OpError::EmptyRecord | OpError::BadInput(_) => ErrorName::InvalidArgument,
            OpError::NotSocialSecurityCard | OpError::NotSupported(_) => ErrorName::NotSupported,
            OpError::NoSam => ErrorName::NoSam,
            OpError::PinBlocked => ErrorName::PinBlocked,
            OpError::LastTry => ErrorName::LastTry,
            OpError::WrongPin { .. } => ErrorName::WrongPin,
            OpError::HolderMismatch(_) => ErrorName::HolderMismatch,
            OpError::AlreadyActive => ErrorName::AlreadyActive,
            OpError::AuthenticationFailed { .. } | OpError::NotAuthentic => ErrorName::AuthenticationFailed,
            OpError::Card { .. } | OpError::ReadBackMismatch(_) | OpError::Decode(_) => ErrorName::CardError,
            OpError::CardRemoved => ErrorName::CardRemoved,
            OpError::CardReset { .. } => ErrorName::CardReset,
            OpError::Timeout => ErrorName::Timeout,
            OpError::ServiceUnavailable => ErrorName::ServiceUnavailable,
            OpError::Transport(t) => return ServiceError::from_transport(method, t),
            _ => ErrorName::Internal,
        };
        ServiceError::new(name, method, &e.to_string())
    }

    pub fn from_transport(method: &str, e: &TransportError) -> ServiceError {
        let name = match e {
            TransportError::NoService => ErrorName::ServiceUnavailable,
            TransportError::NoCard => ErrorName::NoCard,
            TransportError::CardRemoved | TransportError::ReaderUnavailable | TransportError::UnknownReader(_) => {
                ErrorName::CardRemoved
            }
            TransportError::CardReset => ErrorName::CardReset,
            TransportError::Timeout => ErrorName::Timeout,
            _ => ErrorName::CardError,
        };
        ServiceError::new(name, method, &e.to_string())
    }
}
