//! The APDU layer: command and response APDUs, typed status words, and
//! [`exchange`], which sends a [`Command`] over a [`Transport`].

mod command;
mod response;
mod status;

pub use command::{
    Command, CommandError, CommandShape, EXTENDED_MAX_DATA, EXTENDED_MAX_NE, LengthForm, SHORT_MAX_DATA, SHORT_MAX_NE,
    ShapeError, classify,
};
pub use response::{Response, ResponseError};
pub use status::StatusWord;

use thiserror::Error;

use sscard_transport::{Transport, TransportError};

/// Failure to get a response APDU at all. A card that answers with an
/// error status word is not an `ExchangeError`: see [`Response::sw`].
#[derive(Debug, Error)]
pub enum ExchangeError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Response(#[from] ResponseError),
}

/// Sends one command and parses the answer. T=0 continuations (61xx, 6Cxx)
/// are already resolved by the transport.
pub fn exchange(transport: &mut dyn Transport, command: &Command) -> Result<Response, ExchangeError> {
    let raw = transport.transmit(&command.to_bytes())?;
    Ok(Response::parse(&raw)?)
}
