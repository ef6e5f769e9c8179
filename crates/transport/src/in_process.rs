//! A connection that drives a card object owned by this process, for unit
//! tests. It applies the same T=0 rules as the PC/SC transport.

use super::t0;
use super::{Atr, Capabilities, CardConnection, CardTransaction, Transport, TransportError};

/// A card that lives in this process, such as the reference simulator.
pub trait VirtualCard: Send {
    /// Powers the card up (a cold or warm reset) and returns its ATR.
    fn reset(&mut self) -> Vec<u8>;
    /// Processes one command APDU and returns the response APDU.
    fn process(&mut self, command: &[u8]) -> Vec<u8>;
}

/// A [`CardConnection`] to a [`VirtualCard`] that only it uses.
pub struct InProcessConnection<C: VirtualCard> {
    card: C,
    atr: Vec<u8>,
    caps: Capabilities,
    sent: u64,
}

impl<C: VirtualCard> InProcessConnection<C> {
    /// Resets the card and connects with the protocol its ATR offers (T=1
    /// when offered, as a reader would negotiate).
    pub fn new(mut card: C) -> Self {
        let atr = card.reset();
        let caps = caps_of(&atr);
        InProcessConnection { card, atr, caps, sent: 0 }
    }

    pub fn card(&self) -> &C {
        &self.card
    }

    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }
}

/// What a card can take, from its ATR alone (no reader negotiates here).
pub(super) fn caps_of(atr: &[u8]) -> Capabilities {
    let parsed = Atr::parse(atr);
    Capabilities::of_card(parsed.protocol, parsed.extended_length, true)
}

impl<C: VirtualCard> CardConnection for InProcessConnection<C> {
    type Transaction<'a>
        = InProcessTransaction<'a, C>
    where
        C: 'a;

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn begin(&mut self) -> Result<InProcessTransaction<'_, C>, TransportError> {
        Ok(InProcessTransaction { connection: self })
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        Ok(())
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        self.atr = self.card.reset();
        self.caps = caps_of(&self.atr);
        Ok(())
    }

    fn apdus_sent(&self) -> u64 {
        self.sent
    }
}

/// A transaction on an [`InProcessConnection`].
pub struct InProcessTransaction<'a, C: VirtualCard> {
    connection: &'a mut InProcessConnection<C>,
}

impl<C: VirtualCard> InProcessTransaction<'_, C> {
    pub fn card_mut(&mut self) -> &mut C {
        &mut self.connection.card
    }
}

impl<C: VirtualCard> Transport for InProcessTransaction<'_, C> {
    fn atr(&self) -> &[u8] {
        &self.connection.atr
    }

    fn capabilities(&self) -> Capabilities {
        self.connection.caps
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let c = &mut *self.connection;
        let card = &mut c.card;
        t0::exchange(c.caps, &mut c.sent, command, &mut |cmd| Ok(card.process(cmd)))
    }

    fn apdus_sent(&self) -> u64 {
        self.connection.sent
    }
}

impl<C: VirtualCard> CardTransaction for InProcessTransaction<'_, C> {
    fn end(self) -> Result<(), TransportError> {
        Ok(())
    }

    fn end_with_reset(self) -> Result<(), TransportError> {
        let c = self.connection;
        c.atr = c.card.reset();
        c.caps = caps_of(&c.atr);
        Ok(())
    }
}
