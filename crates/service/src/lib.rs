//! The reader service: the layer between the operations and the D-Bus
//! surface. It watches pcscd for readers and cards, gives every reader a
//! worker thread that runs one operation at a time in one PC/SC
//! transaction, shares the PSAM between them, and reports what happens as
//! [`Event`]s. It knows nothing of D-Bus, and nothing of cards beyond what
//! the operations layer tells it.

pub(crate) mod audit;
pub mod dbus;
mod error;
mod hsm_session;
mod monitor;
mod sam;
mod worker;

use std::collections::BTreeMap;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

pub use audit::Caller;
pub use error::{ErrorName, ServiceError};

use sscard_model::{HolderRecordUpdate, Pin, Ssn};
/// Where a request's PINs come from.
pub use sscard_ops::PinEntry;
use sscard_ops::{
    CardInfo, Engine, HsmInput, HsmOperation, HsmStep, OpError, OperationKind, PinStatus, ReadOptions, VerifyOutcome,
};
/// What a reader says of itself, as [`Event::ReaderAdded`] carries it.
pub use sscard_transport::ReaderFeatures;
use sscard_transport::{AnyBackend, Backend, PcscBackend};

/// What the card in a reader is, as `Reader1.CardKind` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKind {
    None,
    Ssse,
    Psam,
    Unknown,
}

impl CardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CardKind::None => "none",
            CardKind::Ssse => "ssse",
            CardKind::Psam => "psam",
            CardKind::Unknown => "unknown",
        }
    }
}

/// Something the D-Bus surface should show. Reader ids are never reused
/// during the service's lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ReaderAdded {
        id: u32,
        name: String,
        /// What the reader said of itself when it appeared (PC/SC part 10).
        features: ReaderFeatures,
    },
    ReaderRemoved {
        id: u32,
    },
    /// Sent once the card has been classified.
    CardInserted {
        id: u32,
        atr: Vec<u8>,
        kind: CardKind,
        profile: String,
        /// A PSAM that changed the reader operations use: that reader now,
        /// told with the card that made it so, so that a client that sees
        /// the new `SamReader` finds that reader's card already a `psam`.
        sam_reader: Option<Option<u32>>,
    },
    CardRemoved {
        id: u32,
    },
    Busy {
        id: u32,
        busy: bool,
    },
    /// The reader whose PSAM operations use, if any.
    SamReader {
        id: Option<u32>,
    },
    /// pcscd went away (`false`) or is back (`true`).
    Service {
        available: bool,
    },
}

/// An operation for a reader's worker, its arguments parsed once at the
/// edge into the model's types. PINs stay in zeroizing buffers.
pub enum Request {
    ReadCard(ReadOptions),
    WriteHolderRecord(Box<HolderRecordUpdate>),
    PinStatus,
    VerifyPin {
        pin: PinEntry<Pin>,
        allow_last_try: bool,
    },
    /// The old PIN and the new one.
    ChangePin {
        pins: PinEntry<(Pin, Pin)>,
        allow_last_try: bool,
    },
    ReloadPin {
        new_pin: Pin,
    },
    UnblockPin,
    /// The initial PIN and the new one.
    Activate {
        ssn: Ssn,
        pins: PinEntry<(Pin, Pin)>,
        allow_last_try: bool,
    },
}

impl Request {
    /// Whether the reader's keypad is to collect the PINs.
    pub fn uses_keypad(&self) -> bool {
        match self {
            Request::VerifyPin { pin, .. } => pin.is_keypad(),
            Request::ChangePin { pins, .. } | Request::Activate { pins, .. } => pins.is_keypad(),
            _ => false,
        }
    }

    /// What the operation is, for the checks made before any APDU.
    fn kind(&self) -> OperationKind {
        match self {
            Request::ReadCard(options) => OperationKind::ReadCard(*options),
            Request::WriteHolderRecord(_) => OperationKind::Personalize,
            Request::PinStatus => OperationKind::PinStatus,
            Request::VerifyPin { .. } => OperationKind::VerifyPin,
            Request::ChangePin { .. } => OperationKind::ChangePin,
            Request::ReloadPin { .. } => OperationKind::ReloadPin,
            Request::UnblockPin => OperationKind::UnblockPin,
            Request::Activate { .. } => OperationKind::Activate,
        }
    }

    /// The D-Bus method name, for messages.
    pub fn method(&self) -> &'static str {
        match self {
            Request::ReadCard(_) => "ReadCard",
            Request::WriteHolderRecord(_) => "WriteHolderRecord",
            Request::PinStatus => "GetPinStatus",
            Request::VerifyPin { .. } => "VerifyPin",
            Request::ChangePin { .. } => "ChangePin",
            Request::ReloadPin { .. } => "ReloadPin",
            Request::UnblockPin => "UnblockPin",
            Request::Activate { .. } => "Activate",
        }
    }
}

impl std::fmt::Debug for Request {
    /// The method only: never a PIN.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.method())
    }
}

/// An operation's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    CardInfo(Box<CardInfo>),
    Written { digest: String, apdus: u64 },
    PinStatus(PinStatus),
    Verified(VerifyOutcome),
    Done,
}

/// Settings of the service.
#[derive(Clone)]
pub struct ServiceConfig {
    /// How long a call may take, from its arrival, before the caller gets
    /// `Timeout`.
    pub operation_timeout: Duration,
    /// At shutdown, how long operations under way may take to finish.
    pub shutdown_grace: Duration,
    /// The longest wait between attempts to reach pcscd again.
    pub max_backoff: Duration,
    /// The salt of the card hashes in the audit trail.
    pub audit_salt: Zeroizing<String>,
    /// How long an HSM session waits for its owner's next step before it
    /// ends with a card reset.
    pub hsm_idle_timeout: Duration,
}

impl std::fmt::Debug for ServiceConfig {
    /// Without the salt.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("operation_timeout", &self.operation_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("max_backoff", &self.max_backoff)
            .field("hsm_idle_timeout", &self.hsm_idle_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            operation_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(60),
            max_backoff: Duration::from_millis(500),
            audit_salt: Zeroizing::new(String::new()),
            hsm_idle_timeout: Duration::from_secs(60),
        }
    }
}

/// What the audit trail records of a call besides its outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CallReport {
    /// Command APDUs sent to both cards, GET RESPONSE included.
    pub apdus: u64,
    /// The card: a salted SHA-256 of its card number (of its identifier
    /// while it has no number), lower-case hex; never the number itself.
    pub card: Option<String>,
}

/// A salted SHA-256 naming a card in the audit trail.
fn card_hash(salt: &str, card_number: Option<&str>, card_id: Option<&sscard_model::CardId>) -> Option<String> {
    use sha2::{Digest, Sha256};
    let key = match (card_number, card_id) {
        (Some(number), _) => format!("card_number:{number}"),
        (None, Some(id)) => format!("card_id:{}", id.to_hex()),
        (None, None) => return None,
    };
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    Some(hex::encode(hasher.finalize()))
}

/// A job for a reader's worker thread.
enum Job {
    Classify {
        atr: Vec<u8>,
    },
    CardRemoved,
    Call(Box<Call>),
    /// An operation on another reader uses this reader's PSAM: serve its
    /// commands in one PC/SC transaction until it closes the session.
    SamSession(std_mpsc::Receiver<sam::SamCommand>),
    /// An HSM session's first step: the worker then serves the session's
    /// steps, in one PC/SC transaction, until it ends.
    HsmBegin(Box<hsm_session::HsmBeginCall>),
    /// A later step of the session the worker serves.
    HsmStep(Box<hsm_session::HsmStepCall>),
    /// The session's owner aborted it, left the bus, or sent a step that
    /// could not be read (`why`, for the audit trail).
    HsmAbort {
        session: u64,
        why: ErrorName,
    },
    /// The daemon stops taking calls: an HSM session waiting for its next
    /// step ends now (nothing else in the worker waits for it).
    Stop,
}

/// A queued call: what to do, for whom, until when, and where to answer.
struct Call {
    request: Request,
    caller: Caller,
    /// Its arrival plus the operation timeout. Past this, the caller has
    /// been told `Timeout`: the call is dropped unstarted rather than run
    /// behind the caller's back.
    deadline: Instant,
    /// Set by whichever side settles an unstarted call first: the worker,
    /// which then runs or drops it, or the waiting caller at shutdown,
    /// which answers `Cancelled` without waiting for the worker.
    claimed: Arc<std::sync::atomic::AtomicBool>,
    reply: oneshot::Sender<Result<Reply, ServiceError>>,
}

struct ReaderHandle {
    name: String,
    /// What the reader said of itself when it appeared.
    features: ReaderFeatures,
    jobs: std_mpsc::Sender<Job>,
    thread: Option<JoinHandle<()>>,
}

/// State shared by the monitor, the workers and the callers.
struct Shared<B: Backend> {
    backend: B,
    engine: Arc<Engine>,
    audit_salt: Zeroizing<String>,
    /// Each reader's card, as the audit trail names it.
    card_hashes: Mutex<BTreeMap<u32, String>>,
    /// Each reader's card profile, once its card was classified.
    card_profiles: Mutex<BTreeMap<u32, String>>,
    events: mpsc::UnboundedSender<Event>,
    readers: Mutex<BTreeMap<u32, ReaderHandle>>,
    sam: sam::SamShare,
    /// Wakes the monitor's wait, at shutdown.
    monitor_cancel: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
    stopping: std::sync::atomic::AtomicBool,
    /// `stopping`, for the callers that wait.
    stopped: tokio::sync::watch::Sender<bool>,
    available: std::sync::atomic::AtomicBool,
    /// The HSM sessions, by id; ids are never reused.
    hsm: Mutex<hsm_session::Registry>,
    next_hsm: std::sync::atomic::AtomicU64,
    hsm_idle_timeout: Duration,
}

impl<B: Backend> Shared<B> {
    fn emit(&self, event: Event) {
        // The receiver only goes away at shutdown.
        let _ = self.events.send(event);
    }

    fn readers(&self) -> MutexGuard<'_, BTreeMap<u32, ReaderHandle>> {
        self.readers.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn hsm(&self) -> MutexGuard<'_, hsm_session::Registry> {
        self.hsm.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The running service, over PC/SC readers unless told otherwise.
/// The service the daemon serves: its backend is chosen at run time
/// ([`AnyBackend`]: pcscd, or in-process readers for the D-Bus tests).
pub struct Service<B: Backend = AnyBackend> {
    shared: Arc<Shared<B>>,
    config: ServiceConfig,
    monitor: Mutex<Option<JoinHandle<()>>>,
    wake_monitor: std_mpsc::Sender<()>,
}

impl Service<AnyBackend> {
    /// Starts the service over pcscd; readers and cards arrive as events.
    pub fn start(
        engine: Arc<Engine>,
        config: ServiceConfig,
        events: mpsc::UnboundedSender<Event>,
    ) -> std::io::Result<Service> {
        Service::start_with(AnyBackend::Pcsc(PcscBackend::default()), engine, config, events)
    }
}

impl<B: Backend> Service<B> {
    /// Starts the monitor thread over `backend`'s readers.
    pub fn start_with(
        backend: B,
        engine: Arc<Engine>,
        config: ServiceConfig,
        events: mpsc::UnboundedSender<Event>,
    ) -> std::io::Result<Service<B>> {
        let shared = Arc::new(Shared {
            backend,
            engine,
            audit_salt: config.audit_salt.clone(),
            card_hashes: Mutex::new(BTreeMap::new()),
            card_profiles: Mutex::new(BTreeMap::new()),
            events,
            readers: Mutex::new(BTreeMap::new()),
            sam: sam::SamShare::default(),
            monitor_cancel: Mutex::new(None),
            stopping: std::sync::atomic::AtomicBool::new(false),
            stopped: tokio::sync::watch::Sender::new(false),
            available: std::sync::atomic::AtomicBool::new(false),
            hsm: Mutex::new(BTreeMap::new()),
            next_hsm: std::sync::atomic::AtomicU64::new(1),
            hsm_idle_timeout: config.hsm_idle_timeout,
        });
        let (wake_monitor, woken) = std_mpsc::channel();
        let monitor = {
            let shared = Arc::clone(&shared);
            let max_backoff = config.max_backoff;
            std::thread::Builder::new()
                .name("pcsc-monitor".into())
                .spawn(move || monitor::run(&shared, &woken, max_backoff))?
        };
        Ok(Service { shared, config, monitor: Mutex::new(Some(monitor)), wake_monitor })
    }

    /// Whether pcscd is reachable right now.
    pub fn available(&self) -> bool {
        self.shared.available.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The audit trail's name for the card in reader `id`, if any.
    pub(crate) fn card_hash(&self, id: u32) -> Option<String> {
        self.shared.card_hashes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id).cloned()
    }

    /// The profile of the card in reader `id`, once classified.
    fn card_profile(&self, id: u32) -> Option<String> {
        self.shared.card_profiles.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id).cloned()
    }

    /// Checks what can be checked of `request` without touching the card
    /// (new-PIN rules, a record's consistency), against the profile of the
    /// reader's card when it is known, so that bad input is
    /// `InvalidArgument` naming the field that broke a rule for this card.
    fn precheck(&self, id: u32, request: &Request) -> Result<(), ServiceError> {
        let engine = &self.shared.engine;
        let profile = self.card_profile(id);
        let profile = profile.as_deref();
        // The card's profile tells whether the PSAM is needed.
        if let Some(profile) = profile
            && engine.sam_required(profile, request.kind())
            && !self.shared.sam.present()
        {
            return Err(ServiceError::from_op(request.method(), &OpError::NoSam));
        }
        // The keypad is asked for only where the reader said it has one.
        if request.uses_keypad() && !self.shared.readers().get(&id).is_some_and(|h| h.features.pin_pad()) {
            return Err(ServiceError::from_op(request.method(), &OpError::NoPinPad));
        }
        let checked = match request {
            Request::ReadCard(_) | Request::PinStatus | Request::UnblockPin | Request::VerifyPin { .. } => Ok(()),
            Request::WriteHolderRecord(update) => engine.check_record(update, profile),
            Request::ReloadPin { new_pin }
            | Request::ChangePin { pins: PinEntry::Host((_, new_pin)), .. }
            | Request::Activate { pins: PinEntry::Host((_, new_pin)), .. } => engine.check_new_pin(new_pin, profile),
            // The keypad's PINs never reach the host: no rule can see them.
            Request::ChangePin { pins: PinEntry::Keypad, .. } | Request::Activate { pins: PinEntry::Keypad, .. } => {
                Ok(())
            }
        };
        checked.map_err(|e| ServiceError::from_op(request.method(), &e))
    }

    /// Records in the audit trail a call on reader `id` refused before it
    /// reached the card.
    pub(crate) fn audit_refusal(&self, id: u32, caller: Caller, operation: &str, refused: ErrorName) {
        let reader = self.shared.readers().get(&id).map(|h| h.name.clone()).unwrap_or_default();
        let report = CallReport { apdus: 0, card: self.card_hash(id) };
        let outcome = audit::Outcome::Failed(refused);
        audit::record(&audit::Entry { caller, operation, reader: &reader, report: &report, outcome });
    }

    /// Runs `request` for `caller` on reader `id`, after the calls queued
    /// before it. The call `arrived` then: it answers `Timeout` once the
    /// operation timeout has passed since. Every call leaves one audit
    /// event: the worker records the calls it ran or dropped, this function
    /// those it refused or cancelled.
    pub async fn call(
        &self,
        id: u32,
        request: Request,
        caller: Caller,
        arrived: Instant,
    ) -> Result<Reply, ServiceError> {
        let method = request.method();
        let refuse = |e: ServiceError| {
            self.audit_refusal(id, caller, method, e.name);
            Err(e)
        };
        let refuse_as = |name, detail: &str| refuse(ServiceError::new(name, method, detail));
        if self.shared.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return refuse_as(ErrorName::Cancelled, "the daemon is shutting down");
        }
        if let Err(e) = self.precheck(id, &request) {
            return refuse(e);
        }
        if !self.available() {
            return refuse_as(ErrorName::ServiceUnavailable, "pcscd is not available");
        }
        let timed_out = || format!("no answer within {} s", self.config.operation_timeout.as_secs_f32());
        let deadline = arrived + self.config.operation_timeout;
        // Authorization may have taken that long already.
        if Instant::now() >= deadline {
            return refuse_as(ErrorName::Timeout, &timed_out());
        }
        let (reply, mut answer) = oneshot::channel();
        let claimed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let queued = {
            let readers = self.shared.readers();
            readers.get(&id).map(|handle| {
                let call = Call { request, caller, deadline, claimed: Arc::clone(&claimed), reply };
                handle.jobs.send(Job::Call(Box::new(call)))
            })
        };
        match queued {
            None => return refuse_as(ErrorName::NoCard, "the reader has gone away"),
            Some(Err(_)) => return refuse_as(ErrorName::Cancelled, "the reader's worker has stopped"),
            Some(Ok(())) => {}
        }
        let deadline = tokio::time::Instant::from_std(deadline);
        let answered = tokio::select! {
            answered = tokio::time::timeout_at(deadline, &mut answer) => answered,
            () = self.stopped() => {
                // Shutdown: a call still waiting its turn is answered now;
                // one the worker has taken runs to its end.
                if !claimed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    return refuse_as(ErrorName::Cancelled, "the daemon is shutting down");
                }
                tokio::time::timeout_at(deadline, &mut answer).await
            }
        };
        match answered {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ServiceError::new(ErrorName::Cancelled, method, "the daemon is shutting down")),
            Err(_) => {
                // Claimed here, the call never runs: the worker drops it.
                if !claimed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    return refuse_as(ErrorName::Timeout, &format!("{}; it never reached the card", timed_out()));
                }
                // The worker had begun it; it records what became of it.
                Err(ServiceError::new(
                    ErrorName::Timeout,
                    method,
                    &format!("{}; the operation was still running on the card", timed_out()),
                ))
            }
        }
    }

    /// Starts an HSM session on reader `id` for `owner` (a D-Bus unique
    /// name): its first step runs after the calls queued before it, and the
    /// reader then serves only this session until it ends. Answers the
    /// session's id and its first hand-over.
    pub async fn hsm_begin(
        &self,
        id: u32,
        operation: HsmOperation,
        owner: String,
        caller: Caller,
        arrived: Instant,
    ) -> Result<(u64, HsmStep), ServiceError> {
        const METHOD: &str = "BeginHsm";
        let refuse = |e: ServiceError| {
            self.audit_refusal(id, caller, operation.audit_name(), e.name);
            Err(e)
        };
        let refuse_as = |name, detail: &str| refuse(ServiceError::new(name, METHOD, detail));
        if self.shared.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return refuse_as(ErrorName::Cancelled, "the daemon is shutting down");
        }
        if !self.available() {
            return refuse_as(ErrorName::ServiceUnavailable, "pcscd is not available");
        }
        let deadline = arrived + self.config.operation_timeout;
        let session = self.shared.next_hsm.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (reply, answer) = oneshot::channel();
        let claimed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let queued = {
            let readers = self.shared.readers();
            readers.get(&id).map(|handle| {
                let call = hsm_session::HsmBeginCall {
                    session,
                    operation,
                    owner,
                    caller,
                    deadline,
                    claimed: Arc::clone(&claimed),
                    reply,
                };
                handle.jobs.send(Job::HsmBegin(Box::new(call)))
            })
        };
        match queued {
            None => return refuse_as(ErrorName::NoCard, "the reader has gone away"),
            Some(Err(_)) => return refuse_as(ErrorName::Cancelled, "the reader's worker has stopped"),
            Some(Ok(())) => {}
        }
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), answer).await {
            Ok(Ok(result)) => result.map(|step| (session, step)),
            Ok(Err(_)) => Err(ServiceError::new(ErrorName::Cancelled, METHOD, "the daemon is shutting down")),
            Err(_) => {
                if !claimed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    return refuse_as(ErrorName::Timeout, "no answer in time; it never reached the card");
                }
                // The worker began it: it ends the session, with a reset, as
                // soon as it sees nobody took the first step.
                self.hsm_abort_quietly(session, ErrorName::Timeout);
                Err(ServiceError::new(ErrorName::Timeout, METHOD, "no answer in time; the session was abandoned"))
            }
        }
    }

    /// A later step of `session`, for `sender` (a D-Bus unique name):
    /// `NotAuthorized` unless it is the session's owner.
    pub async fn hsm_continue(&self, session: u64, sender: &str, input: HsmInput) -> Result<HsmStep, ServiceError> {
        const METHOD: &str = "Continue";
        let (reader, ended) = hsm_session::owned_slot(&mut self.shared.hsm(), session, sender, METHOD)?;
        if let Some(why) = ended {
            return Err(why);
        }
        let (reply, answer) = oneshot::channel();
        let sent = self
            .shared
            .readers()
            .get(&reader)
            .map(|h| h.jobs.send(Job::HsmStep(Box::new(hsm_session::HsmStepCall { session, input, reply }))));
        if !matches!(sent, Some(Ok(()))) {
            self.shared.hsm().remove(&session);
            return Err(ServiceError::new(ErrorName::CardRemoved, METHOD, "the reader has gone away"));
        }
        let deadline = tokio::time::Instant::now() + self.config.operation_timeout;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ServiceError::new(ErrorName::Cancelled, METHOD, "the session has ended")),
            Err(_) => {
                self.hsm_abort_quietly(session, ErrorName::Timeout);
                Err(ServiceError::new(ErrorName::Timeout, METHOD, "no answer in time; the session was abandoned"))
            }
        }
    }

    /// Ends `session` for `sender`, with a card reset: `NotAuthorized`
    /// unless it is the session's owner. `why` is the outcome the audit
    /// trail records (`Cancelled` for an `Abort`, `InvalidArgument` for a
    /// step that could not be read).
    pub fn hsm_abort(&self, session: u64, sender: &str, why: ErrorName) -> Result<(), ServiceError> {
        let (_, ended) = hsm_session::owned_slot(&mut self.shared.hsm(), session, sender, "Abort")?;
        if ended.is_none() {
            self.hsm_abort_quietly(session, why);
        }
        Ok(())
    }

    /// Ends every session of `owner`, who has left the bus; answers the
    /// sessions' ids.
    pub fn hsm_owner_gone(&self, owner: &str) -> Vec<u64> {
        let ids: Vec<u64> =
            self.shared.hsm().iter().filter(|(_, slot)| slot.owner == owner).map(|(id, _)| *id).collect();
        for id in &ids {
            self.hsm_abort_quietly(*id, ErrorName::Cancelled);
        }
        ids
    }

    fn hsm_abort_quietly(&self, session: u64, why: ErrorName) {
        let slot = self.shared.hsm().remove(&session);
        let reader = slot.map(|s| s.reader);
        let readers = self.shared.readers();
        // Not yet registered (a first step under way): every reader hears it.
        for (id, handle) in readers.iter() {
            if reader.is_none_or(|r| r == *id) {
                let _ = handle.jobs.send(Job::HsmAbort { session, why });
            }
        }
    }

    /// Completes once the service stops taking calls.
    pub async fn stopped(&self) {
        let mut stopped = self.shared.stopped.subscribe();
        // The sender lives as long as the service.
        if stopped.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Stops taking calls: new calls, and those still waiting their turn,
    /// answer `Cancelled`; operations under way go on. [`Service::shutdown`]
    /// begins with this.
    pub fn stop_taking_calls(&self) {
        self.shared.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        self.shared.stopped.send_replace(true);
        // An HSM session waiting for its next step sleeps on its queue:
        // this wakes it, and it ends.
        for handle in self.shared.readers().values() {
            let _ = handle.jobs.send(Job::Stop);
        }
    }

    /// Stops the monitor (through `Context::cancel`) and every worker, and
    /// waits for them: operations under way may finish within the shutdown
    /// grace. Calls still queued are answered `Cancelled`.
    pub fn shutdown(&self) {
        let Some(monitor) = self.monitor.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() else {
            return;
        };
        self.stop_taking_calls();
        let _ = self.wake_monitor.send(());
        // SCardCancel only wakes a wait already begun, so ask until the
        // monitor has seen it.
        while !monitor.is_finished() {
            let cancel = self.shared.monitor_cancel.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            if let Some(cancel) = cancel {
                cancel();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = monitor.join();
        monitor::remove_all_readers(&self.shared, Some(self.config.shutdown_grace));
    }
}

impl<B: Backend> Drop for Service<B> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
#[path = "tests/service.rs"]
mod tests;
