//! The errors callers see: one name from the contract (`org.sscard.Error.<Name>`)
//! and a one-line message naming the operation.

use crate::ops::OpError;
use crate::transport::TransportError;

/// The error names of `interfaces.md`.
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

    /// The name of `org.sscard.Error.<Name>`, given with or without the
    /// prefix; `None` for a name the contract does not list.
    pub fn from_name(name: &str) -> Option<ErrorName> {
        let short = name.strip_prefix("org.sscard.Error.").unwrap_or(name);
        ErrorName::ALL.into_iter().find(|e| e.as_str() == short)
    }

    /// `sscardctl`'s exit code for this error: each name its own, from 3 to 21.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorName::NoCard => 3,
            ErrorName::Ambiguous => 4,
            ErrorName::CardRemoved => 5,
            ErrorName::CardReset => 6,
            ErrorName::NotSupported => 7,
            ErrorName::InvalidArgument => 8,
            ErrorName::PinBlocked => 9,
            ErrorName::LastTry => 10,
            ErrorName::WrongPin => 11,
            ErrorName::HolderMismatch => 12,
            ErrorName::AlreadyActive => 13,
            ErrorName::NoSam => 14,
            ErrorName::AuthenticationFailed => 15,
            ErrorName::CardError => 16,
            ErrorName::NotAuthorized => 17,
            ErrorName::ServiceUnavailable => 18,
            ErrorName::Timeout => 19,
            ErrorName::Cancelled => 20,
            ErrorName::Internal => 21,
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
