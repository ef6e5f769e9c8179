//! The transport layer: moving APDU bytes to a card and back.
//!
//! [`Transport`] is deliberately small (after openpgp-card's backend
//! traits): it knows the card's ATR, what the card can take, and how to
//! exchange one command for one response. The T=0 continuations (61xx and
//! 6Cxx) are resolved here by [`t0::Exchanger`], so no layer above ever
//! sees those status words.

pub mod atr;
mod in_process;
mod pcsc;
pub mod shape;
mod t0;

use thiserror::Error;

pub use atr::{Atr, Protocol};
pub use in_process::{InProcessTransport, VirtualCard};

pub use pcsc::{PcscTransaction, PcscTransport, list_readers};
pub use t0::MAX_CONTINUATIONS;

/// A transport failure: the command may or may not have reached the card.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("the PC/SC service (pcscd) is not available")]
    NoService,
    #[error("reader {0:?} is not known to PC/SC")]
    UnknownReader(String),
    #[error("the reader went away")]
    ReaderUnavailable,
    #[error("no card in the reader")]
    NoCard,
    #[error("the card was removed")]
    CardRemoved,
    #[error("the card was reset by another program")]
    CardReset,
    #[error("the card did not answer in time")]
    Timeout,
    #[error("the card does not take extended-length APDUs")]
    ExtendedLengthUnsupported,
    #[error("malformed command APDU: {0}")]
    MalformedCommand(#[from] shape::ShapeError),
    #[error("malformed response APDU: {0}")]
    MalformedResponse(&'static str),
    #[error("the card kept answering 61xx/6Cxx after {0} continuations")]
    TooManyContinuations(usize),
    #[error("PC/SC error: {0}")]
    Pcsc(String),
}

/// What a card can take, read from its ATR and the negotiated protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub protocol: Protocol,
    /// Extended Lc/Le, from the card-capabilities byte of the historical bytes.
    pub extended_length: bool,
}

/// A slot with no card in it: every exchange is [`TransportError::NoCard`].
/// It stands in for the user card while a reader is probed for a PSAM.
#[derive(Debug, Default, Clone, Copy)]
pub struct Absent;

impl Transport for Absent {
    fn atr(&self) -> &[u8] {
        &[]
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { protocol: Protocol::T1, extended_length: false }
    }

    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::NoCard)
    }

    fn apdus_sent(&self) -> u64 {
        0
    }
}

/// One card connection.
pub trait Transport: Send {
    /// The ATR the card gave at its last reset.
    fn atr(&self) -> &[u8];

    fn capabilities(&self) -> Capabilities;

    /// Exchanges one command APDU for its complete response APDU: GET
    /// RESPONSE after 61xx and a resend with the right Le after 6Cxx are
    /// already done. An extended APDU to a card without extended length is
    /// refused before anything is sent.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// Every command APDU sent so far on this connection, GET RESPONSE and
    /// 6Cxx resends included.
    fn apdus_sent(&self) -> u64;
}
