//! The transport layer: moving APDU bytes to a card and back.
//!
//! Two levels, after openpgp-card's `card-backend`:
//! - a [`CardConnection`] is a card in a reader: it can begin a transaction
//!   and reconnect after a reset, and nothing else;
//! - a [`CardTransaction`] is the only thing that transmits. It ends
//!   explicitly, leaving the card as it is or resetting it, so a bare
//!   connection can never break "one transaction per operation".
//!
//! [`Transport`] is what a transaction offers the layers above: the card's
//! ATR, what it can take, and one command for one response. The T=0
//! continuations (61xx and 6Cxx) are resolved here by `t0::exchange`, so no
//! layer above ever sees those status words.
//!
//! A [`Backend`] brings connections and a [`ReaderMonitor`] that watches
//! readers and cards: [`PcscBackend`] through pcscd, [`VirtualBackend`] in
//! this process, for tests that need neither pcscd nor root.

mod either;
mod in_process;
pub mod part10;
mod pcsc;
pub mod shape;
mod t0;
mod virtual_readers;

use std::sync::Arc;

use thiserror::Error;

pub use either::{AnyBackend, AnyConnection, AnyMonitor, AnyTransaction};
pub use in_process::{InProcessConnection, InProcessTransaction, VirtualCard};
pub use part10::{PadRefusal, PinPadEntry, PinPadRequest, ReaderFeatures};
pub use pcsc::{PcscBackend, PcscConnection, PcscMonitor, PcscTransaction};
/// ATR parsing is the model's (the national interface reads the
/// historical bytes too).
pub use sscard_model::atr::{self, Atr, Protocol};
pub use virtual_readers::{
    Fault, PadKeys, VirtualBackend, VirtualConnection, VirtualMonitor, VirtualReader, VirtualTransaction,
};

/// A transport failure: the command may or may not have reached the card.
///
/// `NoCard` is only ever the answer to beginning something (connecting,
/// a transaction) on an empty reader; a card that leaves while it is used
/// is `CardRemoved`.
#[derive(Debug, Error)]
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
    /// The card would take the extended APDU; the reader would not.
    #[error("the reader accepts only short APDUs")]
    ReaderShortApdusOnly,
    #[error("the reader has no PIN pad")]
    NoPinPad,
    #[error("malformed command APDU: {0}")]
    MalformedCommand(#[from] shape::ShapeError),
    #[error("malformed response APDU: {0}")]
    MalformedResponse(&'static str),
    #[error("the card kept answering 61xx/6Cxx after {0} continuations")]
    TooManyContinuations(usize),
    #[error("PC/SC error: {0}")]
    Pcsc(String),
}

/// What a card in its reader can take: the ATR, the negotiated protocol
/// and the reader's own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub protocol: Protocol,
    /// Extended Lc/Le, used only when the card offers it (the
    /// card-capabilities byte of its historical bytes, over T=1) **and**
    /// the reader passes it.
    pub extended_length: bool,
    /// Whether the reader passes extended APDUs
    /// ([`ReaderFeatures::extended_apdu`]); it names the refusal when the
    /// card would take one but the reader would not.
    pub reader_extended: bool,
}

impl Capabilities {
    /// A card's capabilities in a reader that passes `reader_extended`.
    pub fn of_card(protocol: Protocol, card_extended: bool, reader_extended: bool) -> Capabilities {
        Capabilities { protocol, extended_length: card_extended && reader_extended, reader_extended }
    }
}

/// Moving APDUs inside a transaction (or a session that stands for one,
/// such as the shared PSAM's).
pub trait Transport: Send {
    /// The ATR the card gave at its last reset.
    fn atr(&self) -> &[u8];

    fn capabilities(&self) -> Capabilities;

    /// Exchanges one command APDU for its complete response APDU: GET
    /// RESPONSE after 61xx and a resend with the right Le after 6Cxx are
    /// already done. An extended APDU to a card without extended length is
    /// refused before anything is sent.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// Has the reader's keypad collect the PIN and send `request`'s command
    /// with it (PC/SC part 10): the card's answer, or the pad's own
    /// refusal ([`PadRefusal::of_status`]). The PIN never reaches the host.
    /// Counts as one command APDU.
    fn pin_pad(&mut self, request: &PinPadRequest) -> Result<Vec<u8>, TransportError> {
        let _ = request;
        Err(TransportError::NoPinPad)
    }

    /// Every command APDU sent so far on this connection, GET RESPONSE and
    /// 6Cxx resends included.
    fn apdus_sent(&self) -> u64;
}

/// A transaction on one card: no other program's command reaches the card
/// until it ends. Dropping it ends it as [`CardTransaction::end`] does.
pub trait CardTransaction: Transport {
    /// Ends the transaction, leaving the card as it is.
    fn end(self) -> Result<(), TransportError>;

    /// Ends the transaction with a warm reset, which clears the card's
    /// security state. Every connection to the card, this one included,
    /// then sees [`TransportError::CardReset`] until it reconnects.
    fn end_with_reset(self) -> Result<(), TransportError>;
}

/// A card in a reader, connected in shared mode.
pub trait CardConnection: Send {
    type Transaction<'a>: CardTransaction
    where
        Self: 'a;

    /// The ATR the card gave at its last reset.
    fn atr(&self) -> &[u8];

    fn capabilities(&self) -> Capabilities;

    /// Begins a transaction. A card reset since this connection last
    /// looked is [`TransportError::CardReset`]: [`CardConnection::reconnect`]
    /// first.
    fn begin(&mut self) -> Result<Self::Transaction<'_>, TransportError>;

    /// Takes the card as it is now after a reset (ours or another
    /// program's), without resetting it again.
    fn reconnect(&mut self) -> Result<(), TransportError>;

    /// Resets the card outside a transaction (a reconnect with a warm
    /// reset): the way out when a transaction that had to end with a reset
    /// could not. This connection needs no reconnect afterwards.
    fn reset(&mut self) -> Result<(), TransportError>;

    /// Command APDUs sent through this connection's transactions.
    fn apdus_sent(&self) -> u64;
}

/// What a reader holds, as a [`ReaderMonitor`] reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotState {
    pub present: bool,
    /// Empty without a card.
    pub atr: Vec<u8>,
    /// How many insertions and removals the reader has seen: a card swapped
    /// between two looks moves it on by two.
    pub events: u32,
}

/// What one wait of a [`ReaderMonitor`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// Readers came or went: list them again.
    pub readers_changed: bool,
    /// The readers asked about, in the same order, as they are now.
    pub slots: Vec<SlotState>,
}

/// Why a [`ReaderMonitor::wait`] returned without an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WaitError {
    #[error("the wait was cancelled")]
    Cancelled,
    #[error("a reader went away while it was watched")]
    ReaderGone,
    #[error("the PC/SC service went away")]
    ServiceLost,
}

/// Watches readers and their cards: one blocking wait, no polling, woken by
/// the canceller from another thread.
pub trait ReaderMonitor: Send {
    /// The readers' names, in the backend's order.
    fn list_readers(&mut self) -> Result<Vec<String>, TransportError>;

    /// Blocks until the reader list or a card in one of `readers` changes
    /// (a reader not asked about before answers at once with its state).
    fn wait(&mut self, readers: &[String]) -> Result<Observation, WaitError>;

    /// Wakes a [`ReaderMonitor::wait`] in progress, from any thread.
    fn canceller(&self) -> Arc<dyn Fn() + Send + Sync>;
}

/// Where readers come from.
pub trait Backend: Send + Sync + 'static {
    type Connection: CardConnection + 'static;
    type Monitor: ReaderMonitor + 'static;

    /// Connects to the card in `reader`, in shared mode.
    fn connect(&self, reader: &str) -> Result<Self::Connection, TransportError>;

    /// A new monitor; after the service went away, only a new one helps.
    fn monitor(&self) -> Result<Self::Monitor, TransportError>;

    /// What `reader` says of itself (PC/SC part 10), card or no card; a
    /// reader that answers nothing has no features.
    fn features(&self, reader: &str) -> ReaderFeatures;
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
        Capabilities { protocol: Protocol::T1, extended_length: false, reader_extended: true }
    }

    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::NoCard)
    }

    fn apdus_sent(&self) -> u64 {
        0
    }
}
