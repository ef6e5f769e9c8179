//! A transport that drives a card object in the same process, for unit
//! tests. It applies the same T=0 rules as the PC/SC transport.

use super::t0;
use super::{Atr, Capabilities, Transport, TransportError};

/// A card that lives in this process, such as the reference simulator.
pub trait VirtualCard: Send {
    /// Powers the card up (a cold or warm reset) and returns its ATR.
    fn reset(&mut self) -> Vec<u8>;
    /// Processes one command APDU and returns the response APDU.
    fn process(&mut self, command: &[u8]) -> Vec<u8>;
}

/// A [`Transport`] over a [`VirtualCard`].
pub struct InProcessTransport<C: VirtualCard> {
    card: C,
    atr: Vec<u8>,
    caps: Capabilities,
    sent: u64,
}

impl<C: VirtualCard> InProcessTransport<C> {
    /// Resets the card and connects with the protocol its ATR offers (T=1
    /// when offered, as a reader would negotiate).
    pub fn new(mut card: C) -> Self {
        let atr = card.reset();
        let parsed = Atr::parse(&atr);
        let caps = Capabilities { protocol: parsed.protocol, extended_length: parsed.extended_length };
        InProcessTransport { card, atr, caps, sent: 0 }
    }

    pub fn card(&self) -> &C {
        &self.card
    }

    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }

    /// Resets the card, as a reader does on reconnect with `ResetCard`.
    pub fn reset(&mut self) {
        self.atr = self.card.reset();
    }
}

impl<C: VirtualCard> Transport for InProcessTransport<C> {
    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let card = &mut self.card;
        t0::exchange(self.caps, &mut self.sent, command, &mut |c| Ok(card.process(c)))
    }

    fn apdus_sent(&self) -> u64 {
        self.sent
    }
}
