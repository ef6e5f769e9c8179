//! The PSAM, shared by every reader's operations. Operations take it only
//! when they first talk to it, and hold it until they end, so that the
//! steps of one authentication never interleave with another's.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::transport::{Capabilities, PcscTransport, Transport, TransportError};

struct SamCard {
    transport: PcscTransport,
    atr: Vec<u8>,
    capabilities: Capabilities,
}

/// How long an operation waits for another one's turn at the PSAM.
const PSAM_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// The PSAMs present, by reader id; operations use the lowest id.
#[derive(Default)]
pub(super) struct SamShare {
    cards: Mutex<BTreeMap<u32, SamCard>>,
    /// Whether an operation holds the PSAM; a flag and a condition
    /// variable rather than a guard, because the holder is a `Send`
    /// transport.
    in_use: Mutex<bool>,
    released: Condvar,
}

impl SamShare {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u32, SamCard>> {
        self.cards.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a PSAM and reports the reader operations now use; the report
    /// is made under the lock, so reports from two readers arrive in the
    /// order of the changes.
    pub(super) fn add(&self, id: u32, transport: PcscTransport, report: impl FnOnce(Option<u32>)) {
        let atr = transport.atr().to_vec();
        let capabilities = transport.capabilities();
        let mut cards = self.lock();
        cards.insert(id, SamCard { transport, atr, capabilities });
        report(cards.keys().next().copied());
    }

    /// Removes the PSAM of reader `id`, if it had one, and reports the
    /// reader operations now use, under the lock.
    pub(super) fn remove(&self, id: u32, report: impl FnOnce(Option<u32>)) {
        let mut cards = self.lock();
        if let Some(card) = cards.remove(&id) {
            // Leave the PSAM as it is for whoever uses it next.
            let _ = card.transport.disconnect();
        }
        report(cards.keys().next().copied());
    }

    /// The PSAM for one operation, if any is present.
    pub(super) fn for_operation(&self) -> Option<SharedSam<'_>> {
        let cards = self.lock();
        let (&id, card) = cards.iter().next()?;
        Some(SharedSam {
            share: self,
            id,
            atr: card.atr.clone(),
            capabilities: card.capabilities,
            held: false,
            sent: 0,
        })
    }

    /// Waits for the PSAM, at most `patience`; false if it stayed taken.
    fn acquire(&self, patience: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + patience;
        let mut in_use = self.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        while *in_use {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            in_use = self.released.wait_timeout(in_use, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        *in_use = true;
        true
    }

    fn release(&self) {
        *self.in_use.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.released.notify_one();
    }
}

/// The PSAM as one operation's [`Transport`]: locked at its first command
/// and released when the operation drops it.
pub(super) struct SharedSam<'a> {
    share: &'a SamShare,
    id: u32,
    atr: Vec<u8>,
    capabilities: Capabilities,
    held: bool,
    sent: u64,
}

impl Drop for SharedSam<'_> {
    fn drop(&mut self) {
        if self.held {
            self.share.release();
        }
    }
}

impl Transport for SharedSam<'_> {
    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if !self.held {
            if !self.share.acquire(PSAM_PATIENCE) {
                return Err(TransportError::Timeout);
            }
            self.held = true;
        }
        let mut cards = self.share.lock();
        // The PSAM may have left since the operation began.
        let card = cards.get_mut(&self.id).ok_or(TransportError::CardRemoved)?;
        let before = card.transport.apdus_sent();
        let answer = card.transport.transmit(command);
        if matches!(answer, Err(TransportError::CardReset)) {
            // Someone reset the PSAM: reconnect, so the rerun finds it
            // ready (its SELECT comes first again).
            let _ = card.transport.reconnect(false);
        }
        self.sent += card.transport.apdus_sent() - before;
        answer
    }

    fn apdus_sent(&self) -> u64 {
        self.sent
    }
}
