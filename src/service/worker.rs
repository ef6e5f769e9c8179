//! A reader's worker thread: it classifies each card that arrives and runs
//! the reader's operations one after another, each in one PC/SC
//! transaction.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use super::sam::{SamAnswer, SamCommand};
use super::{
    Call, CallReport, CardKind, ErrorName, Event, HsmBeginCall, HsmSlot, Job, Reply, Request, ServiceError, Shared,
    audit,
};
use crate::model::CardId;
use crate::ops::{Classification, OpError};
use crate::script::{Cards, Effects};
use crate::transport::{Backend, CardConnection, CardTransaction, Transport, TransportError};

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
    /// Jobs that arrived during an HSM session, served after it.
    deferred: std::collections::VecDeque<Job>,
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
        deferred: std::collections::VecDeque::new(),
    };
    loop {
        let job = match worker.deferred.pop_front() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        // Once the daemon stops, queued work is answered, not run.
        let stopping = worker.shared.stopping.load(std::sync::atomic::Ordering::SeqCst);
        match job {
            Job::Classify { .. } if stopping => {}
            Job::Classify { atr } => worker.classify(atr),
            Job::CardRemoved => worker.card_removed(),
            Job::Call(call) => worker.serve(*call, stopping),
            Job::SamSession(commands) => worker.serve_sam_session(&commands),
            Job::HsmBegin(call) => worker.serve_hsm(*call, &jobs, stopping),
            Job::HsmStep(step) => {
                let _ = step.reply.send(Err(ServiceError::new(
                    ErrorName::InvalidArgument,
                    "Continue",
                    "invalid argument: no such session (it has ended)",
                )));
            }
            Job::HsmAbort { .. } => {}
        }
    }
    worker.card_removed();
}

/// How an HSM session ended.
enum SessionEnd {
    /// Its last step answered.
    Finished,
    /// A step failed; its caller has the error.
    Failed { name: ErrorName, card_gone: bool },
    /// Its owner aborted it or left the bus (`Cancelled`), or sent a step
    /// that could not be read (`InvalidArgument`): the audit's outcome.
    Aborted(ErrorName),
    /// No step within the idle deadline.
    Idle,
    /// The card left the reader between steps.
    Removed,
    /// The daemon is stopping.
    Stopping,
}

/// How often a session waiting for its next step looks at the daemon's
/// stopping flag.
const SESSION_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// How long a PSAM session waits for the operation's next command.
const SESSION_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

impl<B: Backend> Worker<B> {
    /// Runs one call, unless nobody waits for it any more, and records it
    /// in the audit trail.
    fn serve(&mut self, call: Call, stopping: bool) {
        let Call { request, caller, deadline, claimed, reply } = call;
        if claimed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            // Its caller was answered while it waited its turn (`Cancelled`
            // at shutdown, or `Timeout`), and the call recorded.
            return;
        }
        let method = request.method();
        self.apdus = 0;
        let result = if stopping {
            Err(ServiceError::new(ErrorName::Cancelled, method, "the daemon is shutting down"))
        } else if reply.is_closed() || std::time::Instant::now() >= deadline {
            // The caller was told Timeout while the call was queued.
            Err(ServiceError::new(ErrorName::Timeout, method, "dropped unstarted: its caller had timed out"))
        } else {
            self.shared.emit(Event::Busy { id: self.id, busy: true });
            // A panic on card data must not take the reader with it.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.call(&request)));
            self.shared.emit(Event::Busy { id: self.id, busy: false });
            match ran {
                Ok(result) => result,
                Err(_) => {
                    self.connection = None;
                    Err(ServiceError::new(ErrorName::Internal, method, "the operation failed unexpectedly"))
                }
            }
        };
        let result = match result {
            Ok(reply) => {
                self.learn(&request, &reply);
                // The count of the whole call, a rerun after a reset included.
                Ok(match reply {
                    Reply::Written { digest, .. } => Reply::Written { digest, apdus: self.apdus },
                    other => other,
                })
            }
            Err(e) => Err(e),
        };
        drop(request);
        let outcome = match &result {
            Ok(Reply::Verified(v)) if !v.ok => audit::Outcome::WrongPin,
            Ok(_) => audit::Outcome::Success,
            Err(e) => audit::Outcome::Failed(e.name),
        };
        let report = CallReport { apdus: self.apdus, card: self.card_hash() };
        let reader = self.reader.clone();
        audit::record(&audit::Entry { caller, operation: method, reader: &reader, report: &report, outcome });
        // The caller may have timed out and gone.
        let _ = reply.send(result);
    }

    /// Serves an HSM session: its first step, then each later step its
    /// owner sends, in one PC/SC transaction held from the first step to
    /// the end. Other jobs for this reader wait meanwhile. The session ends
    /// at its last step (as the scripts' effects say), or with a card reset
    /// when a step fails, its owner aborts or leaves, or it stays idle; a
    /// card removed between steps ends it too. One audit event records it.
    fn serve_hsm(&mut self, call: HsmBeginCall, jobs: &std_mpsc::Receiver<Job>, stopping: bool) {
        use crate::ops::HsmStep;
        let HsmBeginCall { session: sid, operation, owner, caller, deadline, claimed, reply } = call;
        if claimed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        const METHOD: &str = "BeginHsm";
        let audit_name = operation.audit_name();
        let reader = self.reader.clone();
        let record = |worker: &Self, apdus: u64, outcome: audit::Outcome| {
            let report = CallReport { apdus, card: worker.card_hash() };
            audit::record(&audit::Entry { caller, operation: audit_name, reader: &reader, report: &report, outcome });
        };
        // A session that never began: its caller has the error, the audit
        // trail the event, and the reader is no longer busy.
        let unbegun =
            |worker: &Self, reply: tokio::sync::oneshot::Sender<Result<HsmStep, ServiceError>>, e: ServiceError| {
                record(worker, 0, audit::Outcome::Failed(e.name));
                let _ = reply.send(Err(e));
                worker.shared.emit(Event::Busy { id: worker.id, busy: false });
            };
        let refused = if stopping {
            Some(ServiceError::new(ErrorName::Cancelled, METHOD, "the daemon is shutting down"))
        } else if reply.is_closed() || std::time::Instant::now() >= deadline {
            Some(ServiceError::new(ErrorName::Timeout, METHOD, "dropped unstarted: its caller had timed out"))
        } else if self.is_sam {
            Some(ServiceError::new(
                ErrorName::NotSupported,
                METHOD,
                "this reader holds the PSAM, not a social security card",
            ))
        } else {
            None
        };
        if let Some(e) = refused {
            record(self, 0, audit::Outcome::Failed(e.name));
            let _ = reply.send(Err(e));
            return;
        }
        let engine = Arc::clone(&self.shared.engine);
        let idle = self.shared.hsm_idle_timeout;
        self.shared.emit(Event::Busy { id: self.id, busy: true });
        // The transaction, on a fresh connection if the one we had is from
        // before a removal.
        let fresh = self.connection.is_none();
        let conn = match self.connect() {
            Ok(_) => self.connection.take(),
            Err(e) => return unbegun(self, reply, ServiceError::from_transport(METHOD, &e)),
        };
        let Some(mut conn) = conn else {
            return unbegun(self, reply, ServiceError::new(ErrorName::NoCard, METHOD, "no card in the reader"));
        };
        // A failed begin is answered from a probe (begun and ended at
        // once): the session's own transaction borrows the connection,
        // which the failure must give back to the worker. A connection from
        // before a removal is replaced, and one reset by another program
        // reconnected, once.
        let mut began = conn.begin().map(drop);
        match began {
            Err(TransportError::CardRemoved | TransportError::NoCard | TransportError::ReaderUnavailable) if !fresh => {
                if let Ok(fresh_conn) = self.shared.backend.connect(&self.reader) {
                    conn = fresh_conn;
                    began = conn.begin().map(drop);
                }
            }
            Err(TransportError::CardReset) => {
                let _ = conn.reconnect();
                began = conn.begin().map(drop);
            }
            _ => {}
        }
        if let Err(e) = began {
            let e = ServiceError::from_transport(METHOD, &e);
            if e.name != ErrorName::CardRemoved {
                self.connection = Some(conn);
            }
            return unbegun(self, reply, e);
        }
        let mut tx = match conn.begin() {
            Ok(tx) => tx,
            Err(e) => return unbegun(self, reply, ServiceError::from_transport(METHOD, &e)),
        };
        let before = tx.apdus_sent();
        let mut effects;
        let first = {
            let mut cards = Cards::new(&mut tx, None);
            let ran =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.hsm_begin(&mut cards, operation)));
            effects = cards.effects;
            ran.unwrap_or_else(|_| Err(OpError::Internal("the operation failed unexpectedly".into())))
        };
        let mut profile = None;
        let (end, mut session) = match first {
            Ok((session, step)) => {
                profile = Some(session.profile().to_owned());
                self.shared.hsm().insert(sid, HsmSlot { reader: self.id, owner: owner.clone(), ended: None });
                let last = step.is_last();
                if reply.send(Ok(step)).is_err() {
                    // Nobody took the first step: abandoned.
                    (Some(SessionEnd::Aborted(ErrorName::Cancelled)), Some(session))
                } else if last {
                    (Some(SessionEnd::Finished), Some(session))
                } else {
                    (None, Some(session))
                }
            }
            Err(e) => {
                let card_gone = matches!(e, OpError::CardRemoved);
                let e = ServiceError::from_op(METHOD, &e);
                let name = e.name;
                let _ = reply.send(Err(e));
                (Some(SessionEnd::Failed { name, card_gone }), None)
            }
        };
        let end = match end {
            Some(end) => end,
            None => {
                let mut idle_deadline = std::time::Instant::now() + idle;
                loop {
                    if self.shared.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                        break SessionEnd::Stopping;
                    }
                    let now = std::time::Instant::now();
                    if now >= idle_deadline {
                        break SessionEnd::Idle;
                    }
                    match jobs.recv_timeout(idle_deadline.saturating_duration_since(now).min(SESSION_POLL)) {
                        Ok(Job::HsmStep(step)) if step.session == sid => {
                            let super::HsmStepCall { input, reply: step_reply, .. } = *step;
                            let Some(current) = session.as_mut() else {
                                break SessionEnd::Aborted(ErrorName::Cancelled);
                            };
                            let mut cards = Cards::new(&mut tx, None);
                            cards.effects = effects;
                            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                engine.hsm_continue(&mut cards, current, input)
                            }));
                            effects = cards.effects;
                            match ran.unwrap_or_else(|_| Err(OpError::Internal("the step failed unexpectedly".into())))
                            {
                                Ok(answer) => {
                                    let last = answer.is_last();
                                    if let HsmStep::CardInfo(info) = &answer {
                                        self.learn(
                                            &Request::ReadCard(Default::default()),
                                            &Reply::CardInfo(info.clone()),
                                        );
                                    }
                                    let _ = step_reply.send(Ok(answer));
                                    if last {
                                        break SessionEnd::Finished;
                                    }
                                    idle_deadline = std::time::Instant::now() + idle;
                                }
                                Err(e) => {
                                    let card_gone = matches!(e, OpError::CardRemoved);
                                    let e = ServiceError::from_op("Continue", &e);
                                    let name = e.name;
                                    let _ = step_reply.send(Err(e));
                                    break SessionEnd::Failed { name, card_gone };
                                }
                            }
                        }
                        Ok(Job::HsmStep(step)) => {
                            let _ = step.reply.send(Err(ServiceError::new(
                                ErrorName::InvalidArgument,
                                "Continue",
                                "invalid argument: no such session (it has ended)",
                            )));
                        }
                        Ok(Job::HsmAbort { session, why }) if session == sid => break SessionEnd::Aborted(why),
                        Ok(Job::HsmAbort { .. }) => {}
                        Ok(Job::CardRemoved) => {
                            self.deferred.push_back(Job::CardRemoved);
                            break SessionEnd::Removed;
                        }
                        Ok(other) => self.deferred.push_back(other),
                        Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                        Err(std_mpsc::RecvTimeoutError::Disconnected) => break SessionEnd::Stopping,
                    }
                }
            }
        };
        drop(session.take());
        // How the transaction ends follows from the effects, as for every
        // operation; a session that did not finish ends with a reset.
        let card_gone = matches!(end, SessionEnd::Removed | SessionEnd::Failed { card_gone: true, .. });
        let reset = !card_gone && (effects.pin_try_spent || !matches!(end, SessionEnd::Finished));
        let mut cards = Cards::new(&mut tx, None);
        cards.effects = effects;
        let (reset, card_left) =
            close_or_reset(&engine, profile.as_deref(), &mut cards, &self.reader, reset, card_gone);
        let card_gone = card_gone || card_left;
        let apdus = tx.apdus_sent().saturating_sub(before);
        let ended = if reset { tx.end_with_reset() } else { tx.end() };
        if reset && ended.is_err() && !card_gone {
            if let Err(e) = conn.reset() {
                tracing::warn!(reader = %self.reader, "cannot reset the card at the end of a session ({e})");
            }
        } else if reset {
            // Our own reset shows on our own handle too.
            let _ = conn.reconnect();
        }
        if !card_gone {
            self.connection = Some(conn);
        }
        let why = match end {
            SessionEnd::Idle => Some(ServiceError::new(
                ErrorName::Timeout,
                "Continue",
                &format!("the session waited {} s for its next step; it ended with a card reset", idle.as_secs_f32()),
            )),
            SessionEnd::Removed => {
                Some(ServiceError::new(ErrorName::CardRemoved, "Continue", "the card was removed between steps"))
            }
            SessionEnd::Stopping => {
                Some(ServiceError::new(ErrorName::Cancelled, "Continue", "the daemon is shutting down"))
            }
            SessionEnd::Finished | SessionEnd::Failed { .. } | SessionEnd::Aborted(_) => None,
        };
        let outcome = match &end {
            SessionEnd::Finished => audit::Outcome::Success,
            SessionEnd::Failed { name, .. } => audit::Outcome::Failed(*name),
            SessionEnd::Aborted(why) => audit::Outcome::Failed(*why),
            SessionEnd::Idle => audit::Outcome::Failed(ErrorName::Timeout),
            SessionEnd::Removed => audit::Outcome::Failed(ErrorName::CardRemoved),
            SessionEnd::Stopping => audit::Outcome::Failed(ErrorName::Cancelled),
        };
        {
            let mut sessions = self.shared.hsm();
            match why {
                Some(why) => {
                    if let Some(slot) = sessions.get_mut(&sid) {
                        slot.ended = Some(why);
                    }
                }
                None => {
                    sessions.remove(&sid);
                }
            }
        }
        record(self, apdus, outcome);
        self.shared.emit(Event::Busy { id: self.id, busy: false });
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
        if kind == CardKind::Psam
            && let Some(conn) = self.connection.as_ref()
        {
            let shared = Arc::clone(&self.shared);
            let (atr, caps) = (conn.atr().to_vec(), conn.capabilities());
            self.shared.sam.add(self.id, atr, caps, |now| shared.emit(Event::SamReader { id: now }));
            self.is_sam = true;
        }
        self.announced = true;
        self.shared.emit(Event::CardInserted { id: self.id, atr, kind, profile });
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
        if number.is_some() && number != self.card_number {
            self.card_number = number;
            self.publish_card_hash();
        }
    }

    fn call(&mut self, request: &Request) -> Result<Reply, ServiceError> {
        let method = request.method();
        // The PSAM is the daemon's own; its reader serves no card operations.
        if self.is_sam {
            return Err(ServiceError::new(
                ErrorName::NotSupported,
                method,
                "this reader holds the PSAM, not a social security card",
            ));
        }
        let first = self.attempt_once(request);
        let e = match first {
            // Nothing that counts a PIN try was sent: the whole operation may run again.
            Err(Failure::Op(OpError::CardReset, effects)) if !effects.pin_try_spent => {
                tracing::info!(reader = %self.reader, "{method}: card reset by another program; rerunning once");
                self.recover_from_reset(method)?;
                match self.attempt_once(request) {
                    Err(Failure::Op(OpError::CardReset, _)) => {
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
            Err(Failure::Op(OpError::CardReset, _)) => {
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

    /// [`Worker::attempt`], connecting again once if the connection was
    /// from before a removal.
    fn attempt_once(&mut self, request: &Request) -> Result<Reply, Failure> {
        match self.attempt(request) {
            Err(Failure::Stale) => self.attempt(request),
            other => other,
        }
    }

    /// One run of the operation in one transaction on the card, holding the
    /// PSAM from its first command to the end. How the transaction ends
    /// follows from the operation's effects: with a reset if and only if a
    /// PIN try was spent; otherwise with a closing SELECT if and only if
    /// the security state was left open.
    fn attempt(&mut self, request: &Request) -> Result<Reply, Failure> {
        let engine = Arc::clone(&self.shared.engine);
        let shared = Arc::clone(&self.shared);
        let profile = self.profile.clone();
        let reader = self.reader.clone();
        let fresh = self.connection.is_none();
        let outcome = 'run: {
            let conn = self.connect().map_err(Failure::Transport)?;
            let mut tx = match conn.begin() {
                Ok(tx) => tx,
                Err(e) => break 'run Err(e),
            };
            let mut sam = shared.sam.for_operation(|id| shared.readers().get(&id).map(|h| h.jobs.clone()));
            // Read once per PSAM insertion: then the PSAM is not asked again.
            let known_terminal_number = sam.as_ref().and_then(|s| s.terminal_number().map(str::to_owned));
            let card_before = tx.apdus_sent();
            let (result, effects, reset, card_left) = {
                let mut cards = Cards::new(&mut tx, sam.as_mut().map(|s| s as &mut dyn Transport));
                // A panic on card data must not take the reader with it,
                // nor leave the card's state open: the session is then
                // ended with a reset, whatever it did.
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_operation(&engine, &mut cards, request, known_terminal_number.as_deref())
                }));
                let panicked = ran.is_err();
                let result = ran.unwrap_or_else(|_| Err(OpError::Internal("the operation failed unexpectedly".into())));
                let effects = cards.effects;
                let card_gone = matches!(result, Err(OpError::CardRemoved | OpError::CardReset));
                let reset = effects.pin_try_spent || (panicked && !card_gone);
                let (reset, card_left) =
                    close_or_reset(&engine, profile.as_deref(), &mut cards, &reader, reset, card_gone);
                (result, effects, reset, card_left)
            };
            let sent = tx.apdus_sent().saturating_sub(card_before) + sam.as_ref().map_or(0, |s| s.apdus_sent());
            // A number in the answer that was not known came from this PSAM.
            if let (Some(sam), None, Ok(Reply::CardInfo(info))) = (&sam, &known_terminal_number, &result)
                && let Some(number) = &info.terminal_number
            {
                shared.sam.remember_terminal_number(sam, number.clone());
            }
            drop(sam);
            let ended = if reset { tx.end_with_reset() } else { tx.end() };
            let was_reset = reset && ended.is_ok();
            let mut let_go = card_left;
            if reset && !was_reset && !card_left {
                // The transaction could not end with the reset: reset
                // the card another way, or let go of it.
                match conn.reset() {
                    Ok(()) => tracing::warn!(reader = %reader, "the session's reset was made after its transaction"),
                    Err(e) => {
                        tracing::warn!(reader = %reader, "cannot reset the card at the end of a session ({e})");
                        let_go = true;
                    }
                }
            }
            Ok((result, effects, sent, was_reset, let_go))
        };

        let (result, effects, sent, was_reset, card_left) = match outcome {
            Ok(ran) => ran,
            Err(TransportError::CardReset) => return Err(Failure::Op(OpError::CardReset, Effects::default())),
            // A handle from before a removal: the caller connects again, once.
            Err(TransportError::CardRemoved | TransportError::NoCard | TransportError::ReaderUnavailable) if !fresh => {
                self.connection = None;
                return Err(Failure::Stale);
            }
            Err(e) => return Err(Failure::Transport(e)),
        };
        self.apdus += sent;
        if card_left {
            self.connection = None;
        }
        if was_reset && let Some(conn) = self.connection.as_mut() {
            // Our own reset shows on our own handle too.
            let _ = conn.reconnect();
        }
        match result {
            Err(OpError::CardRemoved) => {
                self.connection = None;
                Err(Failure::Op(OpError::CardRemoved, effects))
            }
            other => other.map_err(|e| Failure::Op(e, effects)),
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
            | TransportError::MalformedCommand(_)
            | TransportError::MalformedResponse(_)
            | TransportError::TooManyContinuations(_)
            | TransportError::Pcsc(_) => TransportError::CardRemoved,
        };
        let _ = c.answer.send(Err(e));
    }
}

/// Why an attempt failed, before it becomes a contract error.
enum Failure {
    Transport(TransportError),
    /// The operation's error, and what its steps had done to the card.
    Op(OpError, Effects),
    /// The connection was from before a removal; nothing was sent.
    Stale,
}

impl Failure {
    fn into_error(self, method: &str) -> ServiceError {
        match self {
            Failure::Transport(e) => ServiceError::from_transport(method, &e),
            Failure::Op(e, _) => ServiceError::from_op(method, &e),
            Failure::Stale => ServiceError::new(ErrorName::NoCard, method, "no card in the reader"),
        }
    }
}

/// Runs `request`; `terminal_number` is the PSAM's, when already known.
fn run_operation(
    engine: &crate::ops::Engine,
    cards: &mut Cards<'_>,
    request: &Request,
    terminal_number: Option<&str>,
) -> Result<Reply, OpError> {
    Ok(match request {
        Request::ReadCard(options) => {
            Reply::CardInfo(Box::new(engine.read_card_knowing(cards, *options, terminal_number)?.value))
        }
        Request::WriteHolderRecord(update) => {
            let done = engine.personalise(cards, update)?;
            Reply::Written { digest: done.value.digest, apdus: done.apdus }
        }
        Request::PinStatus => Reply::PinStatus(engine.pin_status(cards)?.value),
        Request::VerifyPin { pin, allow_last_try } => {
            Reply::Verified(engine.verify_pin(cards, pin, *allow_last_try)?.value)
        }
        Request::ChangePin { old_pin, new_pin, allow_last_try } => {
            engine.change_pin(cards, old_pin, new_pin, *allow_last_try)?;
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
        Request::Activate { ssn, initial_pin, new_pin, allow_last_try } => {
            Reply::CardInfo(Box::new(engine.activate(cards, ssn, initial_pin, new_pin, *allow_last_try)?.value))
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
    engine: &crate::ops::Engine,
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
