//! The PC/SC transport, through pcscd and the `pcsc` crate.

use std::ffi::CString;

use pcsc::{Context, Disposition, Protocols, ShareMode};

use super::t0;
use super::{Atr, Capabilities, Protocol, Transport, TransportError};

impl From<pcsc::Error> for TransportError {
    fn from(e: pcsc::Error) -> Self {
        match e {
            pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::NoReadersAvailable => {
                TransportError::NoService
            }
            pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => TransportError::UnknownReader(String::new()),
            pcsc::Error::NoSmartcard => TransportError::NoCard,
            pcsc::Error::RemovedCard | pcsc::Error::UnpoweredCard | pcsc::Error::UnresponsiveCard => {
                TransportError::CardRemoved
            }
            pcsc::Error::ResetCard => TransportError::CardReset,
            pcsc::Error::Timeout => TransportError::Timeout,
            other => TransportError::Pcsc(other.to_string()),
        }
    }
}

/// The names of the readers pcscd knows, in its order.
pub fn list_readers(ctx: &Context) -> Result<Vec<String>, TransportError> {
    let names = match ctx.list_readers_owned() {
        Ok(names) => names,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(names.into_iter().map(|n| n.to_string_lossy().into_owned()).collect())
}

/// A shared connection to the card in one PC/SC reader.
///
/// Dropping it disconnects with `LeaveCard`, never `ResetCard`, so other
/// programs sharing the card keep their security state.
pub struct PcscTransport {
    card: Option<pcsc::Card>,
    reader: String,
    atr: Vec<u8>,
    caps: Capabilities,
    sent: u64,
}

impl PcscTransport {
    /// Connects in shared mode, letting the reader choose T=0 or T=1.
    pub fn connect(ctx: &Context, reader: &str) -> Result<PcscTransport, TransportError> {
        let name = CString::new(reader).map_err(|_| TransportError::UnknownReader(reader.to_owned()))?;
        let card = ctx.connect(&name, ShareMode::Shared, Protocols::ANY).map_err(|e| match e {
            pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => {
                TransportError::UnknownReader(reader.to_owned())
            }
            other => other.into(),
        })?;
        let (atr, caps) = Self::identify(&card)?;
        Ok(PcscTransport { card: Some(card), reader: reader.to_owned(), atr, caps, sent: 0 })
    }

    fn identify(card: &pcsc::Card) -> Result<(Vec<u8>, Capabilities), TransportError> {
        let status = card.status2_owned()?;
        let atr = status.atr().to_vec();
        let parsed = Atr::parse(&atr);
        let protocol = match status.protocol2() {
            Some(pcsc::Protocol::T1) => Protocol::T1,
            Some(pcsc::Protocol::T0) => Protocol::T0,
            _ => parsed.protocol,
        };
        Ok((atr, Capabilities { protocol, extended_length: parsed.extended_length }))
    }

    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// Reconnects after another program reset the card. `reset` asks for a
    /// warm reset ourselves, which clears the card's security state.
    pub fn reconnect(&mut self, reset: bool) -> Result<(), TransportError> {
        let card = self.card.as_mut().ok_or(TransportError::CardRemoved)?;
        let init = if reset { Disposition::ResetCard } else { Disposition::LeaveCard };
        card.reconnect(ShareMode::Shared, Protocols::ANY, init)?;
        let (atr, caps) = Self::identify(card)?;
        self.atr = atr;
        self.caps = caps;
        Ok(())
    }

    /// Begins a PC/SC transaction: no other program's commands reach the
    /// card until it ends. One public operation is one transaction.
    pub fn transaction(&mut self) -> Result<PcscTransaction<'_>, TransportError> {
        let PcscTransport { card, atr, caps, sent, .. } = self;
        let card = card.as_mut().ok_or(TransportError::CardRemoved)?;
        let tx = card.transaction()?;
        Ok(PcscTransaction { tx: Some(tx), atr, caps: *caps, sent })
    }

    /// Disconnects, leaving the card as it is.
    pub fn disconnect(mut self) -> Result<(), TransportError> {
        match self.card.take() {
            Some(card) => card.disconnect(Disposition::LeaveCard).map_err(|(_, e)| e.into()),
            None => Ok(()),
        }
    }
}

impl Drop for PcscTransport {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            // Nothing useful to do with a failure while dropping.
            let _ = card.disconnect(Disposition::LeaveCard);
        }
    }
}

fn transmit_raw(card: &pcsc::Card, caps: Capabilities, command: &[u8]) -> Result<Vec<u8>, TransportError> {
    let size = if caps.extended_length { pcsc::MAX_BUFFER_SIZE_EXTENDED } else { pcsc::MAX_BUFFER_SIZE };
    let mut buf = vec![0u8; size];
    let answer = card.transmit(command, &mut buf)?;
    Ok(answer.to_vec())
}

impl Transport for PcscTransport {
    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let caps = self.caps;
        let card = self.card.as_ref().ok_or(TransportError::CardRemoved)?;
        t0::exchange(caps, &mut self.sent, command, &mut |c| transmit_raw(card, caps, c))
    }

    fn apdus_sent(&self) -> u64 {
        self.sent
    }
}

/// A [`Transport`] inside a PC/SC transaction. Dropping it ends the
/// transaction with `LeaveCard`.
pub struct PcscTransaction<'a> {
    tx: Option<pcsc::Transaction<'a>>,
    atr: &'a [u8],
    caps: Capabilities,
    sent: &'a mut u64,
}

impl PcscTransaction<'_> {
    /// Ends the transaction, leaving the card as it is.
    pub fn end(mut self) -> Result<(), TransportError> {
        match self.tx.take() {
            Some(tx) => tx.end(Disposition::LeaveCard).map_err(|(_, e)| e.into()),
            None => Ok(()),
        }
    }
}

impl Transport for PcscTransaction<'_> {
    fn atr(&self) -> &[u8] {
        self.atr
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let caps = self.caps;
        let tx = self.tx.as_ref().ok_or(TransportError::CardRemoved)?;
        t0::exchange(caps, self.sent, command, &mut |c| transmit_raw(tx, caps, c))
    }

    fn apdus_sent(&self) -> u64 {
        *self.sent
    }
}
