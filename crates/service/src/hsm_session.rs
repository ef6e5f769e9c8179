//! An HSM session as its reader's worker serves it: a state machine from
//! `BeginHsm` to its end (begun, awaiting a step, finished), run in one
//! transaction that the worker's lifecycle holds for it from the first step
//! to the last ([`super::worker`]'s `InTransaction`), and the registry of
//! sessions through which the D-Bus side finds a session's reader and owner,
//! and why it ended when its owner was not there to see it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::worker::{Ending, InTransaction, Waited, Worker};
use super::{Caller, ErrorName, Job, ServiceError, audit};
use sscard_ops::{HsmInput, HsmOperation, HsmStep, OpError};
use sscard_script::{Cards, Effects};
use sscard_transport::Backend;

const BEGIN: &str = "BeginHsm";
const CONTINUE: &str = "Continue";

/// `BeginHsm`, queued like a call.
pub(super) struct HsmBeginCall {
    pub session: u64,
    pub operation: HsmOperation,
    pub owner: String,
    pub caller: Caller,
    pub deadline: Instant,
    pub claimed: Arc<AtomicBool>,
    pub reply: oneshot::Sender<Result<HsmStep, ServiceError>>,
}

/// `Continue`.
pub(super) struct HsmStepCall {
    pub session: u64,
    pub input: HsmInput,
    pub reply: oneshot::Sender<Result<HsmStep, ServiceError>>,
}

/// A session the service knows, from its first step's answer until its
/// owner has heard how it ended: its reader, its owner (a D-Bus unique
/// name), and, once it has ended other than by its owner's step, why.
pub(super) struct HsmSlot {
    pub reader: u32,
    pub owner: String,
    pub ended: Option<ServiceError>,
}

/// The sessions, by id; ids are never reused.
pub(super) type Registry = BTreeMap<u64, HsmSlot>;

/// Finds `session` for `sender`, the one check of a session's ownership:
/// `NotAuthorized` for anyone but its owner. Answers its reader and, for a
/// session that has ended meanwhile, why (the slot then goes: its owner
/// has been told).
pub(super) fn owned_slot(
    sessions: &mut Registry,
    session: u64,
    sender: &str,
    method: &str,
) -> Result<(u32, Option<ServiceError>), ServiceError> {
    let Some(slot) = sessions.get(&session) else {
        return Err(no_such_session(method));
    };
    if slot.owner != sender {
        return Err(ServiceError::new(ErrorName::NotAuthorized, method, "the session belongs to another client"));
    }
    let reader = slot.reader;
    let ended = if slot.ended.is_some() { sessions.remove(&session).and_then(|s| s.ended) } else { None };
    Ok((reader, ended))
}

pub(super) fn no_such_session(method: &str) -> ServiceError {
    ServiceError::new(ErrorName::InvalidArgument, method, "invalid argument: no such session (it has ended)")
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionEnd {
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

impl SessionEnd {
    /// What the audit trail records.
    pub(super) fn outcome(self) -> audit::Outcome {
        match self {
            SessionEnd::Finished => audit::Outcome::Success,
            SessionEnd::Failed { name, .. } | SessionEnd::Aborted(name) => audit::Outcome::Failed(name),
            SessionEnd::Idle => audit::Outcome::Failed(ErrorName::Timeout),
            SessionEnd::Removed => audit::Outcome::Failed(ErrorName::CardRemoved),
            SessionEnd::Stopping => audit::Outcome::Failed(ErrorName::Cancelled),
        }
    }

    fn card_gone(self) -> bool {
        matches!(self, SessionEnd::Removed | SessionEnd::Failed { card_gone: true, .. })
    }
}

/// Where a session is.
enum State {
    /// Admitted; its first step has not run. `BeginHsm` waits on `reply`.
    Begun {
        reply: oneshot::Sender<Result<HsmStep, ServiceError>>,
    },
    /// Step `step` has answered; the next is due before `deadline`.
    Awaiting {
        script: sscard_ops::HsmSession,
        step: u32,
        deadline: Instant,
    },
    Ended(SessionEnd),
}

/// One HSM session: its state, and what its end needs (its profile's
/// closing SELECT, its registry slot, its audit event).
pub(super) struct Session {
    id: u64,
    operation: HsmOperation,
    owner: String,
    /// How long it waits for a step.
    idle: Duration,
    /// The card's profile, once the first step has found it.
    profile: Option<String>,
    state: State,
}

/// What the worker's lifecycle admits and records a session by.
pub(super) struct Admission {
    pub caller: Caller,
    pub deadline: Instant,
    pub claimed: Arc<AtomicBool>,
    /// Its caller stopped waiting before it began.
    pub caller_gone: bool,
}

impl Session {
    pub(super) fn new(call: HsmBeginCall, idle: Duration) -> (Session, Admission) {
        let HsmBeginCall { session, operation, owner, caller, deadline, claimed, reply } = call;
        let admission = Admission { caller, deadline, claimed, caller_gone: reply.is_closed() };
        let state = State::Begun { reply };
        (Session { id: session, operation, owner, idle, profile: None, state }, admission)
    }

    pub(super) fn operation(&self) -> HsmOperation {
        self.operation
    }

    /// Answers `BeginHsm` with `e` when the session never began (refused,
    /// or its transaction could not begin).
    pub(super) fn refuse(&mut self, e: ServiceError) {
        if let State::Begun { reply } =
            std::mem::replace(&mut self.state, State::Ended(SessionEnd::Failed { name: e.name, card_gone: false }))
        {
            let _ = reply.send(Err(e));
        }
    }

    /// Leaves in the registry what the owner must hear of an end it did
    /// not see (`Timeout`, `CardRemoved`, `Cancelled` at shutdown), or takes
    /// the slot away: the owner's own step or abort ended it.
    pub(super) fn unregister(&self, sessions: &mut Registry) {
        let State::Ended(end) = self.state else { return };
        let why = match end {
            SessionEnd::Idle => Some(ServiceError::new(
                ErrorName::Timeout,
                CONTINUE,
                &format!(
                    "the session waited {} s for its next step; it ended with a card reset",
                    self.idle.as_secs_f32()
                ),
            )),
            SessionEnd::Removed => {
                Some(ServiceError::new(ErrorName::CardRemoved, CONTINUE, "the card was removed between steps"))
            }
            SessionEnd::Stopping => {
                Some(ServiceError::new(ErrorName::Cancelled, CONTINUE, "the daemon is shutting down"))
            }
            SessionEnd::Finished | SessionEnd::Failed { .. } | SessionEnd::Aborted(_) => None,
        };
        match why {
            Some(why) => {
                if let Some(slot) = sessions.get_mut(&self.id) {
                    slot.ended = Some(why);
                }
            }
            None => {
                sessions.remove(&self.id);
            }
        }
    }

    fn end(&mut self, end: SessionEnd) {
        self.state = State::Ended(end);
    }

    /// Step 1, from `Begun`: the session is registered before its answer
    /// goes out, so that its owner's next call finds it.
    fn first_step<B: Backend>(&mut self, worker: &mut Worker<B>, cards: &mut Cards<'_>) {
        let State::Begun { reply } = std::mem::replace(&mut self.state, State::Ended(SessionEnd::Finished)) else {
            return;
        };
        let engine = Arc::clone(&worker.shared().engine);
        let operation = self.operation;
        match guarded("the operation failed unexpectedly", || engine.hsm_begin(cards, operation)) {
            Ok((script, step)) => {
                self.profile = Some(script.profile().to_owned());
                let slot = HsmSlot { reader: worker.id(), owner: self.owner.clone(), ended: None };
                worker.shared().hsm().insert(self.id, slot);
                let last = step.is_last();
                self.state = if reply.send(Ok(step)).is_err() {
                    // Nobody took the first step: abandoned.
                    State::Ended(SessionEnd::Aborted(ErrorName::Cancelled))
                } else if last {
                    State::Ended(SessionEnd::Finished)
                } else {
                    State::Awaiting { script, step: 1, deadline: Instant::now() + self.idle }
                };
            }
            Err(e) => {
                let card_gone = matches!(e, OpError::CardRemoved);
                let e = ServiceError::from_op(BEGIN, &e).at_step(1);
                let name = e.name;
                let _ = reply.send(Err(e));
                self.end(SessionEnd::Failed { name, card_gone });
            }
        }
    }

    /// A later step, for this session.
    fn step<B: Backend>(&mut self, call: HsmStepCall, worker: &mut Worker<B>, cards: &mut Cards<'_>) {
        let HsmStepCall { input, reply, .. } = call;
        let State::Awaiting { script, step, deadline } = &mut self.state else {
            let _ = reply.send(Err(no_such_session(CONTINUE)));
            return;
        };
        // The step a `Continue` runs; `BeginHsm` ran step 1.
        *step += 1;
        let number = *step;
        let engine = Arc::clone(&worker.shared().engine);
        match guarded("the step failed unexpectedly", || engine.hsm_continue(cards, script, input)) {
            Ok(answer) => {
                if let HsmStep::CardInfo(info) = &answer {
                    worker.learn_card_number(info.issuer.card_number.as_ref().map(ToString::to_string));
                }
                let last = answer.is_last();
                let _ = reply.send(Ok(answer));
                if last {
                    self.end(SessionEnd::Finished);
                } else {
                    *deadline = Instant::now() + self.idle;
                }
            }
            Err(e) => {
                let card_gone = matches!(e, OpError::CardRemoved);
                let e = ServiceError::from_op(CONTINUE, &e).at_step(number);
                let name = e.name;
                let _ = reply.send(Err(e));
                self.end(SessionEnd::Failed { name, card_gone });
            }
        }
    }

    /// A job that reaches the worker while the session awaits its step:
    /// the session's own steps and ends are served, other sessions' steps
    /// answered, and the rest kept for after the session.
    fn on_job<B: Backend>(&mut self, job: Job, worker: &mut Worker<B>, cards: &mut Cards<'_>) {
        match job {
            Job::HsmStep(step) if step.session == self.id => self.step(*step, worker, cards),
            Job::HsmStep(step) => {
                let _ = step.reply.send(Err(no_such_session(CONTINUE)));
            }
            Job::HsmAbort { session, why } if session == self.id => self.end(SessionEnd::Aborted(why)),
            Job::HsmAbort { .. } => {}
            Job::Stop => self.end(SessionEnd::Stopping),
            Job::CardRemoved => {
                worker.defer(Job::CardRemoved);
                self.end(SessionEnd::Removed);
            }
            other => worker.defer(other),
        }
    }
}

/// The session runs in one transaction from its first step to its end: the
/// worker sleeps until a job or the idle deadline, never polling; a stop
/// reaches it as a job ([`Job::Stop`]).
impl<B: Backend> InTransaction<B> for Session {
    type Output = SessionEnd;

    fn uses_sam(&self) -> bool {
        // Its keys are in the client's back end, not in a PSAM.
        false
    }

    fn run(&mut self, worker: &mut Worker<B>, cards: &mut Cards<'_>, _terminal_number: Option<&str>) -> SessionEnd {
        self.first_step(worker, cards);
        loop {
            let deadline = match &self.state {
                State::Awaiting { deadline, .. } => *deadline,
                State::Ended(end) => return *end,
                State::Begun { .. } => return SessionEnd::Aborted(ErrorName::Cancelled),
            };
            // The flag is set before the stop's job is sent: seen here, the
            // session need not wait through the jobs queued ahead of it.
            if worker.stopping() {
                self.end(SessionEnd::Stopping);
                continue;
            }
            match worker.wait_job(deadline) {
                Waited::Job(job) => self.on_job(job, worker, cards),
                Waited::Deadline => self.end(SessionEnd::Idle),
                Waited::Closed => self.end(SessionEnd::Stopping),
            }
        }
    }

    fn panicked(&mut self) -> SessionEnd {
        let end = SessionEnd::Failed { name: ErrorName::Internal, card_gone: false };
        self.refuse(ServiceError::new(ErrorName::Internal, BEGIN, "the operation failed unexpectedly").at_step(1));
        self.end(end);
        end
    }

    /// The last step ends the transaction as the scripts' effects say (a
    /// closing SELECT for an open security state); every other end resets
    /// the card, unless it has gone.
    fn ending(&self, end: &SessionEnd, effects: &Effects, _panicked: bool) -> Ending {
        let card_gone = end.card_gone();
        let reset = !card_gone && (effects.pin_try_spent || *end != SessionEnd::Finished);
        Ending { reset, card_gone, removed: card_gone }
    }

    fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }
}

/// `f`, a panic on card data becoming `Internal` (the session then ends
/// with a reset, and the reader lives on).
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, OpError>) -> Result<T, OpError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| Err(OpError::Internal(what.into())))
}
