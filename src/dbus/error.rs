//! `org.sscard.Error.<Name>`, one variant per name of the contract.

use crate::service::{ErrorName, ServiceError};

/// The daemon's D-Bus errors. Each carries a one-line message.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.sscard.Error")]
#[non_exhaustive]
pub enum Error {
    NoCard(String),
    Ambiguous(String),
    CardRemoved(String),
    CardReset(String),
    NotSupported(String),
    InvalidArgument(String),
    PinBlocked(String),
    LastTry(String),
    WrongPin(String),
    HolderMismatch(String),
    AlreadyActive(String),
    NoSam(String),
    AuthenticationFailed(String),
    CardError(String),
    NotAuthorized(String),
    ServiceUnavailable(String),
    Timeout(String),
    Cancelled(String),
    Internal(String),
    #[zbus(error)]
    ZBus(zbus::Error),
}

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Self {
        let m = e.message;
        match e.name {
            ErrorName::NoCard => Error::NoCard(m),
            ErrorName::Ambiguous => Error::Ambiguous(m),
            ErrorName::CardRemoved => Error::CardRemoved(m),
            ErrorName::CardReset => Error::CardReset(m),
            ErrorName::NotSupported => Error::NotSupported(m),
            ErrorName::InvalidArgument => Error::InvalidArgument(m),
            ErrorName::PinBlocked => Error::PinBlocked(m),
            ErrorName::LastTry => Error::LastTry(m),
            ErrorName::WrongPin => Error::WrongPin(m),
            ErrorName::HolderMismatch => Error::HolderMismatch(m),
            ErrorName::AlreadyActive => Error::AlreadyActive(m),
            ErrorName::NoSam => Error::NoSam(m),
            ErrorName::AuthenticationFailed => Error::AuthenticationFailed(m),
            ErrorName::CardError => Error::CardError(m),
            ErrorName::NotAuthorized => Error::NotAuthorized(m),
            ErrorName::ServiceUnavailable => Error::ServiceUnavailable(m),
            ErrorName::Timeout => Error::Timeout(m),
            ErrorName::Cancelled => Error::Cancelled(m),
            _ => Error::Internal(m),
        }
    }
}

impl Error {
    pub(crate) fn invalid(method: &str, detail: &str) -> Error {
        Error::InvalidArgument(format!("{method}: invalid argument: {detail}"))
    }
}
