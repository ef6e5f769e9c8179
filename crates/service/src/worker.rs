//! A reader's worker thread: it classifies each card that arrives and runs
//! the reader's operations one after another, each in one PC/SC
//! transaction.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Instant;

use super::hsm_session::{self, HsmBeginCall, Session, SessionEnd};
use super::sam::{SamAnswer, SamCommand};
use super::{Call, CallReport, Caller, CardKind, ErrorName, Event, Job, Reply, Request, ServiceError, Shared, audit};
use sscard_model::CardId;
use sscard_ops::{Classification, OpError};
use sscard_script::{Cards, Effects};
use sscard_transport::{Backend, CardConnection, CardTransaction, Transport, TransportError};

pub(super) struct Worker<B: Backend> {
    id: u32,
    reader: String,
    shared: Arc<Shared<B>>,
    connection: Option<B::Connection>,
    /// The identifier of the card in the reader, to recognise it after a
    /// reset by another program.
    card_id: Option<CardId>,
    /// The card number (EF05 tag 07), once known.
    card_number: Option<String>,
    /// The audit trail's name for the card, from the two above.
    card_hash: Option<String>,
    /// The profile the card was classified with.
    profile: Option<String>,
    /// Command APDUs of the current call, across a rerun.
    apdus: u64,
    is_sam: bool,
    /// A card was announced (`CardInserted`) and not yet taken back; the
    /// connection may already be gone after a failed operation.
    announced: bool,
    jobs: std_mpsc::Receiver<Job>,
    /// Jobs that arrived during an HSM session, served after it.
    deferred: VecDeque<Job>,
}

pub(super) fn run<B: Backend>(id: u32, reader: String, shared: Arc<Shared<B>>, jobs: std_mpsc::Receiver<Job>) {
    let mut worker = Worker {
        id,
        reader,
        shared,
        connection: None,
        card_id: None,
        card_number: None,
        card_hash: None,
        profile: None,
        apdus: 0,
        is_sam: false,
        announced: false,
        jobs,
        deferred: VecDeque::new(),
    };
    while let Some(job) = worker.next_job() {
        // Once the daemon stops, queued work is answered, not run.
        let stopping = worker.stopping();
        match job {
            Job::Classify { .. } if stopping => {}
            Job::Classify { atr } => worker.classify(atr),
            Job::CardRemoved => worker.card_removed(),
            Job::Call(call) => worker.serve(*call, stopping),
            Job::SamSession(commands) => worker.serve_sam_session(&commands),
            Job::HsmBegin(call) => worker.serve_hsm(*call, stopping),
            Job::HsmStep(step) => {
                let _ = step.reply.send(Err(hsm_session::no_such_session("Continue")));
            }
            // Only a session waiting for its step has a use for these.
            Job::HsmAbort { .. } | Job::Stop => {}
        }
    }
    worker.card_removed();
}

/// What a session's wait for its next job brought.
pub(super) enum Waited {
    Job(Job),
    Deadline,
    /// The queue has closed: the reader is gone, or the daemon stops.
    Closed,
}

/// How a transaction ends, from what ran in it.
pub(super) struct Ending {
    /// With a reset (whatever the effects say of an open security state).
    pub reset: bool,
    /// The card left or was reset meanwhile: there is nothing to close.
    pub card_gone: bool,
    /// The card left: its connection goes.
    pub removed: bool,
}

/// What runs in one transaction on the card: an operation, or an HSM
/// session from its first step to its end. The worker's lifecycle around it
/// ([`Worker::serve_job`], [`Worker::attempt`]) is the same for both.
pub(super) trait InTransaction<B: Backend> {
    type Output;
    /// Whether the shared PSAM joins the transaction.
    fn uses_sam(&self) -> bool;
    /// Runs on the card; the worker's connection is lent to `cards`
    /// meanwhile. `terminal_number` is the PSAM's, when an earlier
    /// operation read it.
    fn run(&mut self, worker: &mut Worker<B>, cards: &mut Cards<'_>, terminal_number: Option<&str>) -> Self::Output;
    /// The PSAM's terminal number `output` holds, for the PSAM's entry to
    /// keep (a `ReadCard` reads it once per PSAM insertion).
    fn terminal_number_read<'o>(&self, _output: &'o Self::Output) -> Option<&'o str> {
        None
    }
    /// The output of a run that panicked.
    fn panicked(&mut self) -> Self::Output;
    /// How the transaction ends after `output`, from the effects of all
    /// it sent.
    fn ending(&self, output: &Self::Output, effects: &Effects, panicked: bool) -> Ending;
    /// The profile whose closing SELECT ends an open security state, when
    /// not the one the card was classified with.
    fn profile(&self) -> Option<&str> {
        None
    }
}

/// What the lifecycle admits a job by.
struct Ticket<'a> {
    /// The method, for the refusals' messages.
    method: &'static str,
    /// The audit trail's name of the operation.
    operation: &'static str,
    caller: Caller,
    deadline: Instant,
    claimed: &'a AtomicBool,
    /// Its caller stopped waiting while it was queued.
    caller_gone: bool,
}

/// A transaction that ran.
struct Transacted<T> {
    output: T,
    effects: Effects,
    /// Command APDUs to both cards.
    sent: u64,
    /// It ended with our reset.
    was_reset: bool,
    /// The card left, or could not be reset: its connection goes.
    let_go: bool,
}

/// How long a PSAM session waits for the operation's next command.
const SESSION_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

impl<B: Backend> Worker<B> {
    fn next_job(&mut self) -> Option<Job> {
        self.deferred.pop_front().or_else(|| self.jobs.recv().ok())
    }

    /// Blocks until the next job or `deadline`, whichever comes first.
    pub(super) fn wait_job(&mut self, deadline: Instant) -> Waited {
        loop {
            match self.jobs.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(job) => return Waited::Job(job),
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return Waited::Closed,
                Err(std_mpsc::RecvTimeoutError::Timeout) if Instant::now() >= deadline => return Waited::Deadline,
                // Woken before the deadline with nothing: wait on.
                Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Keeps a job for after the HSM session under way.
    pub(super) fn defer(&mut self, job: Job) {
        self.deferred.push_back(job);
    }

    pub(super) fn stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
    }

    pub(super) fn shared(&self) -> &Shared<B> {
        &self.shared
    }

    pub(super) fn id(&self) -> u32 {
        self.id
    }

    /// The lifecycle of every job that reaches the card, an operation or
    /// an HSM session: dropped if its caller was answered while it waited
    /// its turn (that side records it); refused before the card once the
    /// daemon stops, when its caller has gone or timed out, or on the
    /// PSAM's reader; otherwise `run` runs with the reader busy, a panic
    /// answering `Internal`. The caller records the audit event
    /// ([`Worker::record`]) and answers.
    fn serve_job<T>(
        &mut self,
        ticket: &Ticket<'_>,
        stopping: bool,
        run: impl FnOnce(&mut Self) -> Result<T, ServiceError>,
    ) -> Option<Result<T, ServiceError>> {
        if ticket.claimed.swap(true, Ordering::SeqCst) {
            // Its caller was answered while it waited its turn (`Cancelled`
            // at shutdown, or `Timeout`), and the call recorded.
            return None;
        }
        self.apdus = 0;
        let method = ticket.method;
        if stopping {
            return Some(Err(ServiceError::new(ErrorName::Cancelled, method, "the daemon is shutting down")));
        }
        if ticket.caller_gone || Instant::now() >= ticket.deadline {
            // The caller was told Timeout while the call was queued.
            return Some(Err(ServiceError::new(
                ErrorName::Timeout,
                method,
                "dropped unstarted: its caller had timed out",
            )));
        }
        if self.is_sam {
            // The PSAM is the daemon's own; its reader serves no card operations.
            return Some(Err(ServiceError::new(
                ErrorName::NotSupported,
                method,
                "this reader holds the PSAM, not a social security card",
            )));
        }
        self.shared.emit(Event::Busy { id: self.id, busy: true });
        // A panic on card data must not take the reader with it.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(self)));
        self.shared.emit(Event::Busy { id: self.id, busy: false });
        Some(ran.unwrap_or_else(|_| {
            self.connection = None;
            Err(ServiceError::new(ErrorName::Internal, method, "the operation failed unexpectedly"))
        }))
    }

    /// The job's one audit event, with the APDUs of all its attempts.
    fn record(&self, ticket: &Ticket<'_>, outcome: audit::Outcome) {
        let report = CallReport { apdus: self.apdus, card: self.card_hash() };
        let (caller, operation, reader) = (ticket.caller, ticket.operation, self.reader.as_str());
        audit::record(&audit::Entry { caller, operation, reader, report: &report, outcome });
    }

    /// Runs one call, unless nobody waits for it any more, and records it
    /// in the audit trail.
    fn serve(&mut self, call: Call, stopping: bool) {
        let Call { request, caller, deadline, claimed, reply } = call;
        let method = request.method();
        let ticket =
            Ticket { method, operation: method, caller, deadline, claimed: &claimed, caller_gone: reply.is_closed() };
        let Some(result) = self.serve_job(&ticket, stopping, |worker| worker.call(&request)) else { return };
        let result = result.map(|reply| {
            self.learn(&request, &reply);
            // The count of the whole call, a rerun after a reset included.
            match reply {
                Reply::Written { digest, .. } => Reply::Written { digest, apdus: self.apdus },
                other => other,
            }
        });
        drop(request);
        let outcome = match &result {
            Ok(Reply::Verified(v)) if !v.ok => audit::Outcome::WrongPin,
            Ok(_) => audit::Outcome::Success,
            Err(e) => audit::Outcome::Failed(e.name),
        };
        self.record(&ticket, outcome);
        // The caller may have timed out and gone.
        let _ = reply.send(result);
    }

    /// Serves an HSM session through the same lifecycle as a call: its
    /// first step, then each later step its owner sends, in one PC/SC
    /// transaction held from the first step to the end
    /// ([`Session`]'s `InTransaction`). Other jobs for this reader wait
    /// meanwhile. One audit event records it.
    fn serve_hsm(&mut self, call: HsmBeginCall, stopping: bool) {
        let (mut session, admission) = Session::new(call, self.shared.hsm_idle_timeout);
        let ticket = Ticket {
            method: "BeginHsm",
            operation: session.operation().audit_name(),
            caller: admission.caller,
            deadline: admission.deadline,
            claimed: &admission.claimed,
            caller_gone: admission.caller_gone,
        };
        let Some(result) = self.serve_job(&ticket, stopping, |worker| worker.run_session(&mut session)) else {
            return;
        };
        match result {
            Ok(end) => self.record(&ticket, end.outcome()),
            Err(e) => {
                // A session that never began: recorded, then answered, as a call is.
                self.record(&ticket, audit::Outcome::Failed(e.name));
                session.refuse(e);
            }
        }
    }

    /// The session's transaction: one attempt, after reconnecting once if
    /// another program reset the card before it began. The registry learns
    /// how it ended before the reader stops being busy.
    fn run_session(&mut self, session: &mut Session) -> Result<SessionEnd, ServiceError> {
        let ran = match self.attempt(session) {
            Err(TransportError::CardReset) => {
                let _ = self.connection.as_mut().map(CardConnection::reconnect);
                self.attempt(session)
            }
            other => other,
        };
        let (end, _) = ran.map_err(|e| ServiceError::from_transport("BeginHsm", &e))?;
        session.unregister(&mut self.shared.hsm());
        Ok(end)
    }

    fn connect(&mut self) -> Result<&mut B::Connection, TransportError> {
        if self.connection.is_none() {
            self.connection = Some(self.shared.backend.connect(&self.reader)?);
        }
        self.connection.as_mut().ok_or(TransportError::NoCard)
    }

    fn classify(&mut self, atr: Vec<u8>) {
        self.card_removed_quietly();
        let engine = Arc::clone(&self.shared.engine);
        let classify = |conn: &mut B::Connection| {
            let mut tx = conn.begin()?;
            let result = engine.classify(&mut tx);
            // The answer stands even if ending the transaction fails.
            let _ = tx.end();
            Ok(result)
        };
        let mut outcome = self.connect().and_then(classify);
        // Other programs (OpenSC, browsers) probe new cards and may reset
        // them under us: reconnect and look once more.
        if matches!(outcome, Err(TransportError::CardReset) | Ok(Err(OpError::CardReset)))
            && let Some(conn) = self.connection.as_mut()
        {
            let _ = conn.reconnect();
            outcome = classify(conn);
        }
        let (kind, profile) = match outcome {
            Ok(Ok(done)) => match done.value {
                Classification::SocialSecurity { profile, card_id, card_number } => {
                    self.card_id = card_id;
                    self.card_number = card_number;
                    self.profile = Some(profile.clone());
                    self.publish_card_hash();
                    self.publish_profile();
                    (CardKind::Ssse, profile)
                }
                Classification::Psam { .. } => (CardKind::Psam, String::new()),
                Classification::Unknown => (CardKind::Unknown, String::new()),
            },
            Ok(Err(e)) => {
                tracing::info!(reader = %self.reader, "card not recognised: {e}");
                (CardKind::Unknown, String::new())
            }
            Err(TransportError::NoCard | TransportError::CardRemoved) => {
                // Gone again before it could be looked at; the monitor
                // reports the removal.
                self.connection = None;
                return;
            }
            Err(e) => {
                tracing::warn!(reader = %self.reader, "cannot classify the card: {e}");
                (CardKind::Unknown, String::new())
            }
        };
        tracing::info!(reader = %self.reader, kind = kind.as_str(), profile = %profile, "card inserted");
        self.announced = true;
        let id = self.id;
        if kind == CardKind::Psam
            && let Some(conn) = self.connection.as_ref()
        {
            let shared = Arc::clone(&self.shared);
            let (sam_atr, caps) = (conn.atr().to_vec(), conn.capabilities());
            // Told under the PSAMs' lock, as their removals are, so that
            // the readers reported reach clients in the order they were.
            self.shared.sam.add(id, sam_atr, caps, |now| {
                shared.emit(Event::CardInserted { id, atr, kind, profile, sam_reader: Some(now) })
            });
            self.is_sam = true;
            return;
        }
        self.shared.emit(Event::CardInserted { id, atr, kind, profile, sam_reader: None });
    }

    fn card_removed(&mut self) {
        self.card_removed_quietly();
        if std::mem::take(&mut self.announced) {
            self.shared.emit(Event::CardRemoved { id: self.id });
        }
    }

    /// Serves one operation's PSAM commands in one PC/SC transaction on the
    /// PSAM, until the operation closes the session.
    fn serve_sam_session(&mut self, commands: &std_mpsc::Receiver<SamCommand>) {
        for attempt in 0..2 {
            let Some(conn) = self.connection.as_mut().filter(|_| self.is_sam) else { break };
            let failure = match conn.begin() {
                Ok(mut tx) => {
                    let epoch = self.shared.sam.epoch(self.id);
                    while let Ok(c) = commands.recv_timeout(SESSION_PATIENCE) {
                        let before = tx.apdus_sent();
                        let answer = tx.transmit(&c.command);
                        let sent = tx.apdus_sent().saturating_sub(before);
                        if answer.is_err() {
                            // Reset, removed, or in a state we cannot tell.
                            self.shared.sam.forget(self.id);
                        }
                        let _ = c.answer.send(answer.map(|response| SamAnswer { response, apdus: sent, epoch }));
                    }
                    let _ = tx.end();
                    return;
                }
                Err(e) => e,
            };
            // Whatever kept the session from beginning (a reset, most
            // likely) may have changed what the PSAM was.
            self.shared.sam.forget(self.id);
            // Someone reset the PSAM: reconnect and begin again, once.
            if matches!(failure, TransportError::CardReset)
                && attempt == 0
                && let Some(conn) = self.connection.as_mut()
                && conn.reconnect().is_ok()
            {
                continue;
            }
            fail_session(commands, &failure);
            return;
        }
        fail_session(commands, &TransportError::CardRemoved);
    }

    /// Forgets the card and its connection.
    fn card_removed_quietly(&mut self) {
        self.card_id = None;
        self.card_number = None;
        self.profile = None;
        self.publish_card_hash();
        self.publish_profile();
        // Dropping a connection leaves the card as it is.
        self.connection = None;
        if self.is_sam {
            self.is_sam = false;
            let shared = Arc::clone(&self.shared);
            self.shared.sam.remove(self.id, |now| shared.emit(Event::SamReader { id: now }));
        }
    }

    /// The audit trail's name for the card.
    fn card_hash(&self) -> Option<String> {
        self.card_hash.clone()
    }

    /// Hashes the card's name for the audit trail again, after its number
    /// or identifier changed (once, not at every call), and publishes it.
    fn publish_card_hash(&mut self) {
        self.card_hash = super::card_hash(&self.shared.audit_salt, self.card_number.as_deref(), self.card_id.as_ref());
        let mut hashes = self.shared.card_hashes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &self.card_hash {
            Some(hash) => hashes.insert(self.id, hash.clone()),
            None => hashes.remove(&self.id),
        };
    }

    fn publish_profile(&self) {
        let mut profiles = self.shared.card_profiles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &self.profile {
            Some(profile) => profiles.insert(self.id, profile.clone()),
            None => profiles.remove(&self.id),
        };
    }

    /// Keeps the card number a call has read or written.
    fn learn(&mut self, request: &Request, reply: &Reply) {
        let number = match (request, reply) {
            (_, Reply::CardInfo(info)) => info.issuer.card_number.as_ref().map(ToString::to_string),
            (Request::WriteHolderRecord(update), _) => update.card_number.as_ref().map(ToString::to_string),
            _ => None,
        };
        self.learn_card_number(number);
    }

    /// Keeps a card number read from the card.
    pub(super) fn learn_card_number(&mut self, number: Option<String>) {
        if number.is_some() && number != self.card_number {
            self.card_number = number;
            self.publish_card_hash();
        }
    }

    fn call(&mut self, request: &Request) -> Result<Reply, ServiceError> {
        let method = request.method();
        let first = self.operate(request);
        let e = match first {
            // Nothing that counts a PIN try was sent: the whole operation may run again.
            Err(AttemptFailure::Op(OpError::CardReset, effects)) if !effects.pin_try_spent => {
                tracing::info!(reader = %self.reader, "{method}: card reset by another program; rerunning once");
                self.recover_from_reset(method)?;
                match self.operate(request) {
                    Err(AttemptFailure::Op(OpError::CardReset, _)) => {
                        let _ = self.connection.as_mut().map(|c| c.reconnect());
                        return Err(ServiceError::new(
                            ErrorName::CardReset,
                            method,
                            "the card was reset by another program again during the rerun",
                        ));
                    }
                    other => return other.map_err(|f| f.into_error(method)),
                }
            }
            Err(AttemptFailure::Op(OpError::CardReset, _)) => {
                let _ = self.connection.as_mut().map(|c| c.reconnect());
                return Err(ServiceError::new(
                    ErrorName::CardReset,
                    method,
                    "the card was reset by another program after a PIN try was sent; not rerun",
                ));
            }
            other => other,
        };
        e.map_err(|f| f.into_error(method))
    }

    /// Reconnects after another program's reset, reselects, and checks
    /// that the card is the one that was there.
    fn recover_from_reset(&mut self, method: &str) -> Result<(), ServiceError> {
        let engine = Arc::clone(&self.shared.engine);
        let known = self.card_id;
        let conn = self.connect().map_err(|e| ServiceError::from_transport(method, &e))?;
        conn.reconnect().map_err(|e| ServiceError::from_transport(method, &e))?;
        let mut tx = conn.begin().map_err(|e| ServiceError::from_transport(method, &e))?;
        let card_before = tx.apdus_sent();
        let identity = engine.card_identity(&mut Cards::new(&mut tx, None));
        let sent = tx.apdus_sent() - card_before;
        let _ = tx.end();
        self.apdus += sent;
        match identity {
            Ok(done) => match done.value {
                Classification::SocialSecurity { card_id, .. } if card_id == known => Ok(()),
                _ => Err(ServiceError::new(
                    ErrorName::CardReset,
                    method,
                    "after the reset a different card answered; not rerun",
                )),
            },
            Err(e) => Err(ServiceError::from_op(method, &e)),
        }
    }

    /// One attempt of an operation, its failure told apart for the rerun
    /// after another program's reset.
    fn operate(&mut self, request: &Request) -> Result<Reply, AttemptFailure> {
        match self.attempt(&mut Operation { request }) {
            Ok((Ok(reply), _)) => Ok(reply),
            Ok((Err(e), effects)) => Err(AttemptFailure::Op(e, effects)),
            Err(TransportError::CardReset) => Err(AttemptFailure::Op(OpError::CardReset, Effects::default())),
            Err(e) => Err(AttemptFailure::Transport(e)),
        }
    }

    /// One transaction on the card for `work`, on the worker's connection,
    /// connecting again once if that is from before a removal. Answers what
    /// ran and its effects, or why the transaction could not begin (nothing
    /// was sent then).
    fn attempt<W: InTransaction<B>>(&mut self, work: &mut W) -> Result<(W::Output, Effects), TransportError> {
        let fresh = self.connection.is_none();
        // The connection is lent to the transaction, so that the work has
        // the worker meanwhile (an HSM session takes its jobs).
        let mut conn = match self.connection.take() {
            Some(conn) => conn,
            None => self.shared.backend.connect(&self.reader)?,
        };
        let mut ran = self.transact(&mut conn, work);
        if let Err(TransportError::CardRemoved | TransportError::NoCard | TransportError::ReaderUnavailable) = ran
            && !fresh
        {
            // A handle from before a removal.
            drop(conn);
            conn = self.shared.backend.connect(&self.reader)?;
            ran = self.transact(&mut conn, work);
        }
        match ran {
            Ok(done) => {
                self.apdus += done.sent;
                if !done.let_go {
                    if done.was_reset {
                        // Our own reset shows on our own handle too.
                        let _ = conn.reconnect();
                    }
                    self.connection = Some(conn);
                }
                Ok((done.output, done.effects))
            }
            Err(e) => {
                if !matches!(e, TransportError::CardRemoved | TransportError::NoCard) {
                    self.connection = Some(conn);
                }
                Err(e)
            }
        }
    }

    /// The transaction itself, holding the PSAM (if the work uses it) from
    /// its first command to the end. How it ends follows from the work's
    /// effects and [`InTransaction::ending`]: with a reset when the work
    /// asks for one (a PIN try spent, an unfinished session, a panic);
    /// otherwise with a closing SELECT if and only if the security state
    /// was left open.
    fn transact<W: InTransaction<B>>(
        &mut self,
        conn: &mut B::Connection,
        work: &mut W,
    ) -> Result<Transacted<W::Output>, TransportError> {
        let engine = Arc::clone(&self.shared.engine);
        let shared = Arc::clone(&self.shared);
        let reader = self.reader.clone();
        let mut tx = conn.begin()?;
        let mut sam = if work.uses_sam() {
            shared.sam.for_operation(|id| shared.readers().get(&id).map(|h| h.jobs.clone()))
        } else {
            None
        };
        // Read once per PSAM insertion: then the PSAM is not asked again.
        let known = sam.as_ref().and_then(|s| s.terminal_number().map(str::to_owned));
        let card_before = tx.apdus_sent();
        let (output, effects, reset, let_go) = {
            let mut cards = Cards::new(&mut tx, sam.as_mut().map(|s| s as &mut dyn Transport));
            // A panic on card data must not take the reader with it, nor
            // leave the card's state open: the work says how to end then.
            let ran =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work.run(self, &mut cards, known.as_deref())));
            let panicked = ran.is_err();
            let output = ran.unwrap_or_else(|_| work.panicked());
            let ending = work.ending(&output, &cards.effects, panicked);
            let profile = work.profile().map(str::to_owned).or_else(|| self.profile.clone());
            let (reset, card_left) =
                close_or_reset(&engine, profile.as_deref(), &mut cards, &reader, ending.reset, ending.card_gone);
            (output, cards.effects, reset, card_left || ending.removed)
        };
        let sent = tx.apdus_sent().saturating_sub(card_before) + sam.as_ref().map_or(0, |s| s.apdus_sent());
        // A number the work read that was not known came from this PSAM.
        if let (Some(sam), None, Some(number)) = (&sam, &known, work.terminal_number_read(&output)) {
            shared.sam.remember_terminal_number(sam, number.to_owned());
        }
        drop(sam);
        let ended = if reset { tx.end_with_reset() } else { tx.end() };
        let was_reset = reset && ended.is_ok();
        let mut let_go = let_go;
        if reset && !was_reset && !let_go {
            // The transaction could not end with the reset: reset the card
            // another way, or let go of it.
            match conn.reset() {
                Ok(()) => tracing::warn!(reader = %reader, "the session's reset was made after its transaction"),
                Err(e) => {
                    tracing::warn!(reader = %reader, "cannot reset the card at the end of a session ({e})");
                    let_go = true;
                }
            }
        }
        Ok(Transacted { output, effects, sent, was_reset, let_go })
    }
}

/// An operation, as one transaction runs it.
struct Operation<'r> {
    request: &'r Request,
}

impl<B: Backend> InTransaction<B> for Operation<'_> {
    type Output = Result<Reply, OpError>;

    fn uses_sam(&self) -> bool {
        true
    }

    fn run(&mut self, worker: &mut Worker<B>, cards: &mut Cards<'_>, terminal_number: Option<&str>) -> Self::Output {
        run_operation(&worker.shared.engine, cards, self.request, terminal_number)
    }

    fn terminal_number_read<'o>(&self, output: &'o Self::Output) -> Option<&'o str> {
        match output {
            Ok(Reply::CardInfo(info)) => info.terminal_number.as_deref(),
            _ => None,
        }
    }

    fn panicked(&mut self) -> Self::Output {
        Err(OpError::Internal("the operation failed unexpectedly".into()))
    }

    /// With a reset if and only if a PIN try was spent, or the operation
    /// panicked on a card still there.
    fn ending(&self, output: &Self::Output, effects: &Effects, panicked: bool) -> Ending {
        let card_gone = matches!(output, Err(OpError::CardRemoved | OpError::CardReset));
        Ending {
            reset: effects.pin_try_spent || (panicked && !card_gone),
            card_gone,
            removed: matches!(output, Err(OpError::CardRemoved)),
        }
    }
}

/// Answers every command of a session that cannot be served.
fn fail_session(commands: &std_mpsc::Receiver<SamCommand>, failure: &TransportError) {
    while let Ok(c) = commands.recv_timeout(SESSION_PATIENCE) {
        // The operation sees the PSAM's failure; anything else about it
        // means the PSAM is gone for this operation.
        let e = match failure {
            TransportError::CardReset => TransportError::CardReset,
            TransportError::NoService => TransportError::NoService,
            TransportError::Timeout => TransportError::Timeout,
            TransportError::NoCard
            | TransportError::CardRemoved
            | TransportError::UnknownReader(_)
            | TransportError::ReaderUnavailable
            | TransportError::ExtendedLengthUnsupported
            | TransportError::ReaderShortApdusOnly
            | TransportError::NoPinPad
            | TransportError::MalformedCommand(_)
            | TransportError::MalformedResponse(_)
            | TransportError::TooManyContinuations(_)
            | TransportError::Pcsc(_) => TransportError::CardRemoved,
        };
        let _ = c.answer.send(Err(e));
    }
}

/// Why an attempt failed, before it becomes a contract error.
enum AttemptFailure {
    Transport(TransportError),
    /// The operation's error, and what its steps had done to the card.
    Op(OpError, Effects),
}

impl AttemptFailure {
    fn into_error(self, method: &str) -> ServiceError {
        match self {
            AttemptFailure::Transport(e) => ServiceError::from_transport(method, &e),
            AttemptFailure::Op(e, _) => ServiceError::from_op(method, &e),
        }
    }
}

/// Runs `request`; `terminal_number` is the PSAM's, when already known.
fn run_operation(
    engine: &sscard_ops::Engine,
    cards: &mut Cards<'_>,
    request: &Request,
    terminal_number: Option<&str>,
) -> Result<Reply, OpError> {
    Ok(match request {
        Request::ReadCard(options) => {
            Reply::CardInfo(Box::new(engine.read_card_knowing(cards, *options, terminal_number)?.value))
        }
        Request::WriteHolderRecord(update) => {
            let done = engine.personalize(cards, update)?;
            Reply::Written { digest: done.value.digest, apdus: done.apdus }
        }
        Request::PinStatus => Reply::PinStatus(engine.pin_status(cards)?.value),
        Request::VerifyPin { pin, allow_last_try } => {
            Reply::Verified(engine.verify_pin(cards, &pin.as_ref(), *allow_last_try)?.value)
        }
        Request::ChangePin { pins, allow_last_try } => {
            engine.change_pin(cards, &pins.as_refs(), *allow_last_try)?;
            Reply::Done
        }
        Request::ReloadPin { new_pin } => {
            engine.reload_pin(cards, new_pin)?;
            Reply::Done
        }
        Request::UnblockPin => {
            engine.unblock_pin(cards)?;
            Reply::Done
        }
        Request::Activate { ssn, pins, allow_last_try } => {
            Reply::CardInfo(Box::new(engine.activate(cards, ssn, &pins.as_refs(), *allow_last_try)?.value))
        }
    })
}

/// The end of a transaction that ran an operation or a session, from its
/// effects: unless a reset comes anyway (`reset`) or the card is gone, a
/// security state left open is closed with the profile's closing SELECT,
/// and one that cannot be closed is cleared by a reset. Answers whether to
/// end with a reset, and whether the card left during the closing SELECT
/// (the state left with it; the operation's answer stands).
fn close_or_reset(
    engine: &sscard_ops::Engine,
    profile: Option<&str>,
    cards: &mut Cards<'_>,
    reader: &str,
    reset: bool,
    card_gone: bool,
) -> (bool, bool) {
    if reset || card_gone || !cards.effects.security_state_open {
        return (reset, false);
    }
    match engine.close_security_state(profile, cards) {
        Ok(()) => (false, false),
        Err(OpError::CardRemoved) => (false, true),
        Err(e) => {
            tracing::warn!(reader = %reader, "closing SELECT failed ({e}); resetting the card");
            (true, false)
        }
    }
}
