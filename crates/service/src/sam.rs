//! The PSAM, shared by every reader's operations.
//!
//! The PSAM's own reader worker keeps its connection. An operation that
//! talks to the PSAM opens a session with that worker at its first PSAM
//! command: the worker begins a PC/SC transaction on the PSAM, sends the
//! operation's commands in it, and ends it when the operation drops its
//! end of the session. Sessions queue in the worker's job queue, so the
//! steps of one authentication never interleave with another operation's,
//! nor, through the PC/SC transaction, with another program's.

use std::collections::BTreeMap;
use std::sync::mpsc as std_mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use zeroize::Zeroizing;

use super::Job;
use sscard_transport::{Capabilities, Transport, TransportError};

/// How long an operation waits for its turn at the PSAM, and for an answer.
const PSAM_PATIENCE: Duration = Duration::from_secs(30);

/// One command of a session, and where its answer goes: the response and
/// the command APDUs it took (GET RESPONSE included).
pub(super) struct SamCommand {
    pub command: Zeroizing<Vec<u8>>,
    pub answer: std_mpsc::Sender<Result<(Vec<u8>, u64), TransportError>>,
}

/// A PSAM as operations see it: its ATR and what it can take.
struct SamEntry {
    atr: Vec<u8>,
    capabilities: Capabilities,
}

/// The PSAMs present, by reader id; operations use the lowest id.
#[derive(Default)]
pub(super) struct SamShare {
    cards: Mutex<BTreeMap<u32, SamEntry>>,
}

impl SamShare {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u32, SamEntry>> {
        self.cards.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the PSAM in reader `id` (served by that reader's worker), and
    /// reports the reader operations now use; the report is made under the
    /// lock, so reports from two readers arrive in the order of the changes.
    pub(super) fn add(&self, id: u32, atr: Vec<u8>, capabilities: Capabilities, report: impl FnOnce(Option<u32>)) {
        let entry = SamEntry { atr, capabilities };
        let mut cards = self.lock();
        cards.insert(id, entry);
        report(cards.keys().next().copied());
    }

    /// Removes the PSAM of reader `id`, if it had one, and reports the
    /// reader operations now use, under the lock.
    pub(super) fn remove(&self, id: u32, report: impl FnOnce(Option<u32>)) {
        let mut cards = self.lock();
        if cards.remove(&id).is_some() {
            report(cards.keys().next().copied());
        }
    }

    /// Whether a PSAM is present.
    pub(super) fn present(&self) -> bool {
        !self.lock().is_empty()
    }

    /// The PSAM for one operation, if any is present; `queue_of` finds the
    /// job queue of a reader's worker. (Only the reader's own handle keeps
    /// that queue open, so a worker ends when its reader goes.)
    pub(super) fn for_operation(
        &self,
        queue_of: impl FnOnce(u32) -> Option<std_mpsc::Sender<Job>>,
    ) -> Option<SharedSam> {
        let (id, atr, capabilities) = {
            let cards = self.lock();
            let (&id, entry) = cards.iter().next()?;
            (id, entry.atr.clone(), entry.capabilities)
        };
        Some(SharedSam { id, jobs: queue_of(id)?, atr, capabilities, session: None, sent: 0 })
    }
}

/// The PSAM as one operation's [`Transport`]: the session opens at its
/// first command and closes when the operation drops it.
pub(super) struct SharedSam {
    id: u32,
    jobs: std_mpsc::Sender<Job>,
    atr: Vec<u8>,
    capabilities: Capabilities,
    session: Option<std_mpsc::Sender<SamCommand>>,
    sent: u64,
}

impl Transport for SharedSam {
    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let session = match &self.session {
            Some(session) => session,
            None => {
                let (commands, queue) = std_mpsc::channel();
                // The PSAM's worker has stopped: the PSAM has gone.
                self.jobs.send(Job::SamSession(queue)).map_err(|_| TransportError::CardRemoved)?;
                self.session.insert(commands)
            }
        };
        let (answer, answered) = std_mpsc::channel();
        session
            .send(SamCommand { command: Zeroizing::new(command.to_vec()), answer })
            .map_err(|_| TransportError::CardRemoved)?;
        match answered.recv_timeout(PSAM_PATIENCE) {
            Ok(Ok((response, apdus))) => {
                self.sent += apdus;
                Ok(response)
            }
            Ok(Err(e)) => Err(e),
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                tracing::warn!(psam = self.id, "no answer from the PSAM's worker in time");
                Err(TransportError::Timeout)
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(TransportError::CardRemoved),
        }
    }

    fn apdus_sent(&self) -> u64 {
        self.sent
    }
}
