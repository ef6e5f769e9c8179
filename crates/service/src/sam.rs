//! The PSAM, shared by every reader's operations.
//!
//! The PSAM's own reader worker keeps its connection. An operation that
//! talks to the PSAM opens a session with that worker at its first PSAM
//! command: the worker begins a PC/SC transaction on the PSAM, sends the
//! operation's commands in it, and ends it when the operation drops its
//! end of the session. Sessions queue in the worker's job queue, so the
//! steps of one authentication never interleave with another operation's,
//! nor, through the PC/SC transaction, with another program's.
//!
//! The PSAM's terminal number is kept with its entry once an operation has
//! read it, so that later operations need not ask the PSAM again: it cannot
//! change while the PSAM stays in its reader. It is dropped with the entry
//! when the PSAM leaves, and whenever its worker sees that the PSAM's
//! session may have changed (a reset seen at the start of a session or by
//! a command, a reconnect, a command that failed).

use std::collections::BTreeMap;
use std::sync::mpsc as std_mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use zeroize::Zeroizing;

use super::Job;
use sscard_transport::{Capabilities, Transport, TransportError};

/// How long an operation waits for its turn at the PSAM, and for an answer.
const PSAM_PATIENCE: Duration = Duration::from_secs(30);

/// One command of a session, and where its answer goes.
pub(super) struct SamCommand {
    pub command: Zeroizing<Vec<u8>>,
    pub answer: std_mpsc::Sender<Result<SamAnswer, TransportError>>,
}

/// The PSAM's answer to one command of a session.
pub(super) struct SamAnswer {
    pub response: Vec<u8>,
    /// The command APDUs it took (GET RESPONSE included).
    pub apdus: u64,
    /// The PSAM entry's epoch when the session began: what the session
    /// read is kept only while the entry is still at it.
    pub epoch: Option<u64>,
}

/// A PSAM as operations see it: its ATR and what it can take, and what
/// operations have learnt of it.
struct SamEntry {
    atr: Vec<u8>,
    capabilities: Capabilities,
    /// Its terminal number, once read.
    terminal_number: Option<String>,
    /// Moves on whenever the number is dropped, so that a number read
    /// before that is not kept after it.
    epoch: u64,
}

/// The PSAMs present.
#[derive(Default)]
struct SamCards {
    /// By reader id; operations use the lowest id.
    by_reader: BTreeMap<u32, SamEntry>,
    /// The last epoch given out, over every entry, so that no entry ever
    /// takes an epoch an operation saw on an earlier one.
    epochs: u64,
}

impl SamCards {
    fn next_epoch(&mut self) -> u64 {
        self.epochs += 1;
        self.epochs
    }
}

/// The PSAMs present, shared by the workers.
#[derive(Default)]
pub(super) struct SamShare {
    cards: Mutex<SamCards>,
}

impl SamShare {
    fn lock(&self) -> MutexGuard<'_, SamCards> {
        self.cards.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the PSAM in reader `id` (served by that reader's worker), and
    /// reports the reader operations now use; the report is made under the
    /// lock, so reports from two readers arrive in the order of the changes.
    pub(super) fn add(&self, id: u32, atr: Vec<u8>, capabilities: Capabilities, report: impl FnOnce(Option<u32>)) {
        let mut cards = self.lock();
        let epoch = cards.next_epoch();
        cards.by_reader.insert(id, SamEntry { atr, capabilities, terminal_number: None, epoch });
        report(cards.by_reader.keys().next().copied());
    }

    /// Removes the PSAM of reader `id`, if it had one, and reports the
    /// reader operations now use, under the lock.
    pub(super) fn remove(&self, id: u32, report: impl FnOnce(Option<u32>)) {
        let mut cards = self.lock();
        if cards.by_reader.remove(&id).is_some() {
            report(cards.by_reader.keys().next().copied());
        }
    }

    /// Whether a PSAM is present.
    pub(super) fn present(&self) -> bool {
        !self.lock().by_reader.is_empty()
    }

    /// Drops what operations learnt of the PSAM of reader `id`: its
    /// session may have changed (reset, reconnected, a command failed).
    pub(super) fn forget(&self, id: u32) {
        let mut cards = self.lock();
        let epoch = cards.next_epoch();
        if let Some(entry) = cards.by_reader.get_mut(&id) {
            entry.terminal_number = None;
            entry.epoch = epoch;
        }
    }

    /// The epoch of the PSAM entry of reader `id`, if it has one.
    pub(super) fn epoch(&self, id: u32) -> Option<u64> {
        self.lock().by_reader.get(&id).map(|entry| entry.epoch)
    }

    /// Keeps the terminal number an operation read from `sam`, unless that
    /// PSAM has left or been forgotten since the session began.
    pub(super) fn remember_terminal_number(&self, sam: &SharedSam, number: String) {
        let mut cards = self.lock();
        if let Some(entry) = cards.by_reader.get_mut(&sam.id)
            && Some(entry.epoch) == sam.epoch
        {
            entry.terminal_number = Some(number);
        }
    }

    /// The PSAM for one operation, if any is present; `queue_of` finds the
    /// job queue of a reader's worker. (Only the reader's own handle keeps
    /// that queue open, so a worker ends when its reader goes.)
    pub(super) fn for_operation(
        &self,
        queue_of: impl FnOnce(u32) -> Option<std_mpsc::Sender<Job>>,
    ) -> Option<SharedSam> {
        let (id, atr, capabilities, terminal_number) = {
            let cards = self.lock();
            let (&id, entry) = cards.by_reader.iter().next()?;
            (id, entry.atr.clone(), entry.capabilities, entry.terminal_number.clone())
        };
        let jobs = queue_of(id)?;
        Some(SharedSam { id, jobs, atr, capabilities, terminal_number, epoch: None, session: None, sent: 0 })
    }
}

/// The PSAM as one operation's [`Transport`]: the session opens at its
/// first command and closes when the operation drops it.
pub(super) struct SharedSam {
    id: u32,
    jobs: std_mpsc::Sender<Job>,
    atr: Vec<u8>,
    capabilities: Capabilities,
    /// The PSAM's terminal number, if known when the operation began.
    terminal_number: Option<String>,
    /// The entry's epoch when the session began, once it has.
    epoch: Option<u64>,
    session: Option<std_mpsc::Sender<SamCommand>>,
    sent: u64,
}

impl SharedSam {
    /// The PSAM's terminal number, if an earlier operation read it.
    pub(super) fn terminal_number(&self) -> Option<&str> {
        self.terminal_number.as_deref()
    }
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
            Ok(Ok(SamAnswer { response, apdus, epoch })) => {
                self.sent += apdus;
                self.epoch = epoch;
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
