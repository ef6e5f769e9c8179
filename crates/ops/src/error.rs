//! The operations' errors: each names what went wrong in one line, with
//! the step and status word where a card answered.

use thiserror::Error;

use sscard_apdu::StatusWord;
use sscard_model::{DecodeError, Field, RecordInputError, ValidationError};
use sscard_script::{CheckOutcome, Pos, RunError, Slot, StatusClass};
use sscard_transport::TransportError;

#[derive(Debug, Error)]
pub enum OpError {
    /// Bad input; nothing was sent to the card.
    #[error("invalid argument: {0}")]
    InvalidArgument(ValidationError),
    /// A personalisation with nothing in it; nothing was sent.
    #[error("invalid argument: record: nothing to write (give at least one writable element)")]
    EmptyRecord,
    /// Bad input that is not one element's value: an unknown or read-only
    /// key, a value of the wrong D-Bus type, an HSM step's value of the
    /// wrong form; nothing was sent. `field` and `rule` are the contract's
    /// names (`sscard_contract::rule`).
    #[error("invalid argument: {message}")]
    BadInput { field: String, rule: &'static str, message: String },
    #[error("not a social security card: SELECT of the SSSE application was refused")]
    NotSocialSecurityCard,
    #[error("not supported: {0}")]
    NotSupported(String),
    #[error("the operation needs a PSAM, and none is present")]
    NoSam,
    #[error("the PIN is blocked")]
    PinBlocked,
    #[error("one PIN try is left; refused without allow_last_try")]
    LastTry,
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("holder mismatch: {0}")]
    HolderMismatch(String),
    #[error("the card is already active")]
    AlreadyActive,
    #[error("authentication failed at {pos}: {slot} answered {sw}")]
    AuthenticationFailed { pos: Pos, slot: Slot, sw: StatusWord },
    /// `ReadCard` with `authenticate`: the card's INTERNAL AUTHENTICATE
    /// answer is not the PSAM's.
    #[error("authentication failed: the card's INTERNAL AUTHENTICATE answer does not match the PSAM's")]
    InternalAuthMismatch,
    /// An HSM session's step: the back end's result is not the card's answer.
    #[error("the back end's result differs from the card's answer ({0})")]
    NotAuthentic(String),
    /// An HSM session's step gave back a value that was not the one issued.
    #[error("not the one issued: {0}")]
    NotIssued(String),
    #[error("card error at {pos}: `{step}` answered {sw}")]
    Card { pos: Pos, slot: Slot, step: String, sw: StatusWord, class: StatusClass },
    #[error("read-back differs from what was written: {}", .0.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(", "))]
    ReadBackMismatch(Vec<Field>),
    #[error("the card holds malformed data: {0}")]
    Decode(DecodeError),
    #[error("the card was removed")]
    CardRemoved,
    /// Whether the operation may run again depends on its effects: never
    /// once a PIN try was spent.
    #[error("the card was reset by another program")]
    CardReset,
    #[error("the card did not answer in time")]
    Timeout,
    #[error("pcscd is not available")]
    ServiceUnavailable,
    /// The keypad was asked for, and the reader has none.
    #[error("the reader has no PIN pad")]
    NoPinPad,
    /// The PIN pad answered instead of the card: nothing reached the card.
    #[error("{0}")]
    PinPad(PinPadError),
    #[error("transport: {0}")]
    Transport(TransportError),
    /// The PSAM failed in the middle of the operation (removed, reset, or
    /// its reader gone); the user card is still there.
    #[error("the PSAM failed during the operation: {0}")]
    Sam(TransportError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The PIN pad's refusal (PC/SC part 10), as a person reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPadError(pub sscard_transport::PadRefusal);

impl std::fmt::Display for PinPadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use sscard_transport::PadRefusal;
        f.write_str(match self.0 {
            PadRefusal::Timeout => "nobody typed the PIN on the reader's keypad in time",
            PadRefusal::Cancelled => "the PIN entry was cancelled on the reader's keypad",
            PadRefusal::EntriesDiffer => "new_pin: the new PIN and its confirmation on the keypad differ",
            PadRefusal::Length => "pin: the PIN typed on the keypad has a length the pad does not take",
        })
    }
}

impl From<RecordInputError> for OpError {
    fn from(e: RecordInputError) -> OpError {
        match e {
            RecordInputError::Invalid(v) => OpError::InvalidArgument(v),
            RecordInputError::Key { field, rule, message } => OpError::BadInput { field, rule, message },
        }
    }
}

impl OpError {
    pub fn from_run(e: RunError) -> OpError {
        match e {
            RunError::Status { class: StatusClass::WrongPin { tries_left }, .. } => OpError::WrongPin { tries_left },
            RunError::Status { class: StatusClass::PinBlocked, .. } => OpError::PinBlocked,
            RunError::Status { pos, slot, sw, class: StatusClass::AuthenticationFailed, .. } => {
                OpError::AuthenticationFailed { pos, slot, sw }
            }
            RunError::Status { pos, slot, step, sw, class } => OpError::Card { pos, slot, step, sw, class },
            RunError::Transport { slot: Slot::Sam, source, .. } => match source {
                TransportError::Timeout => OpError::Timeout,
                TransportError::NoService => OpError::ServiceUnavailable,
                other @ (TransportError::NoCard
                | TransportError::NoPinPad
                | TransportError::CardRemoved
                | TransportError::CardReset
                | TransportError::UnknownReader(_)
                | TransportError::ReaderUnavailable
                | TransportError::ExtendedLengthUnsupported
                | TransportError::ReaderShortApdusOnly
                | TransportError::MalformedCommand(_)
                | TransportError::MalformedResponse(_)
                | TransportError::TooManyContinuations(_)
                | TransportError::Pcsc(_)) => OpError::Sam(other),
            },
            RunError::Transport { slot: Slot::Card, source, .. } => match source {
                // A card that leaves mid-operation is removed, whatever the
                // reader says; `NoCard` there is pcsc-lite's word for it.
                TransportError::CardRemoved | TransportError::NoCard => OpError::CardRemoved,
                TransportError::NoPinPad => OpError::NoPinPad,
                TransportError::CardReset => OpError::CardReset,
                TransportError::Timeout => OpError::Timeout,
                TransportError::NoService => OpError::ServiceUnavailable,
                t @ (TransportError::UnknownReader(_)
                | TransportError::ReaderUnavailable
                | TransportError::ExtendedLengthUnsupported
                | TransportError::ReaderShortApdusOnly
                | TransportError::MalformedCommand(_)
                | TransportError::MalformedResponse(_)
                | TransportError::TooManyContinuations(_)
                | TransportError::Pcsc(_)) => OpError::Transport(t),
            },
            RunError::NoSam { .. } => OpError::NoSam,
            RunError::Check { pos, outcome } => match outcome {
                CheckOutcome::Malformed => OpError::BadInput {
                    field: sscard_contract::keys::args::ARGS.to_owned(),
                    rule: sscard_contract::rule::MALFORMED,
                    message: format!("a value given for the step has the wrong length or form ({pos})"),
                },
                CheckOutcome::NotIssued => {
                    OpError::NotIssued(format!("a value given back differs from the one handed out ({pos})"))
                }
                CheckOutcome::NotAuthentic => OpError::NotAuthentic(pos.to_string()),
            },
            // A script the loader accepted cannot miss an input or build a
            // bad value from the operations' own inputs: a bug, if it happens.
            e @ (RunError::Value { .. } | RunError::MissingInput { .. }) => OpError::Internal(e.to_string()),
            RunError::PinPad { refusal, .. } => OpError::PinPad(PinPadError(refusal)),
            // An optional script the card's profile leaves out.
            RunError::MissingScript { file } => {
                OpError::NotSupported(format!("{file}: the profile has no such script"))
            }
        }
    }
}
