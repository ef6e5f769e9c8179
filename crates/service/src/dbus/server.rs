//! `org.sscard.Manager1`, `org.sscard.Reader1` and the ObjectManager, over
//! the reader service. This module translates: D-Bus arguments into
//! service requests, service events into objects, properties and signals,
//! and service errors into `org.sscard.Error.*`. It holds no card knowledge.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use zbus::export::serde;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{Connection, ObjectPath, OwnedObjectPath, OwnedVariant, Variant, interface};

use sscard_contract::{bus, polkit, rule};

use super::error::Error;
use crate::audit::Caller;
use crate::{CardKind, ErrorName, Event, PinEntry, ReaderFeatures, Reply, Request, Service};
use sscard_contract::keys::{self, opts as opt};
use sscard_model::{Field, FieldInput, HolderRecordUpdate, Pin, Ssn};
use sscard_ops::{HsmInput, HsmOperation, HsmStep, InfoValue, OpError, ReadOptions};

pub use sscard_contract::bus::{BUS_NAME, MANAGER_PATH};

/// The object path of reader `id`.
pub fn reader_path(id: u32) -> OwnedObjectPath {
    // A path of digits under a fixed prefix is always valid.
    OwnedObjectPath::try_from(bus::reader_path(id)).unwrap_or_else(|_| no_object())
}

/// The object path of HSM session `id`.
pub fn hsm_session_path(id: u64) -> OwnedObjectPath {
    OwnedObjectPath::try_from(bus::hsm_session_path(id)).unwrap_or_else(|_| no_object())
}

/// `/`: no such object.
fn no_object() -> OwnedObjectPath {
    OwnedObjectPath::from(ObjectPath::from_static_str_unchecked(bus::NO_OBJECT))
}

/// Who may call what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// Every caller may call everything (development and tests only).
    None,
    /// Each method asks polkit for its action.
    Polkit,
}

/// What the daemon shows of one reader.
#[derive(Debug, Clone)]
struct ReaderView {
    name: String,
    present: bool,
    atr: Vec<u8>,
    kind: CardKind,
    profile: String,
    busy: bool,
    features: ReaderFeatures,
    /// Its object's path, kept for the `Busy` signals of every call.
    path: OwnedObjectPath,
}

#[derive(Debug, Default)]
struct View {
    readers: BTreeMap<u32, ReaderView>,
    sam: Option<u32>,
    /// pcscd is there, as the events have said so far: the readers it took
    /// away are gone from `readers` before this turns false.
    available: bool,
}

/// What the objects share.
pub struct Daemon {
    service: Service,
    view: Mutex<View>,
    authorization: Authorization,
    version: String,
    profiles: Vec<String>,
    /// The terminal device number of the legacy line, from the configuration.
    terminal_device: String,
    /// Callers' credentials by unique bus name; a name is never reused on a bus.
    callers: Mutex<HashMap<String, Caller>>,
    /// Reader method calls not yet answered.
    in_flight: tokio::sync::watch::Sender<usize>,
}

/// Past this many remembered callers, the cache starts again.
const CALLER_CACHE: usize = 256;

impl Daemon {
    pub fn new(
        service: Service,
        authorization: Authorization,
        profiles: Vec<String>,
        terminal_device: String,
    ) -> Arc<Daemon> {
        Arc::new(Daemon {
            service,
            view: Mutex::new(View::default()),
            authorization,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            profiles,
            terminal_device,
            callers: Mutex::new(HashMap::new()),
            in_flight: tokio::sync::watch::Sender::new(0),
        })
    }

    fn view(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops taking calls: new calls, and those still waiting for polkit or
    /// for their turn, answer `Cancelled`; operations under way go on.
    pub fn stop_taking_calls(&self) {
        self.service.stop_taking_calls();
    }

    /// Stops the reader service, letting the operations under way finish
    /// within the shutdown grace; queued calls are answered `Cancelled`.
    pub fn shutdown(&self) {
        self.service.shutdown();
    }

    /// Waits up to `patience` until every Reader method call has been
    /// answered; answers how many have not.
    pub async fn drain(&self, patience: std::time::Duration) -> usize {
        let mut in_flight = self.in_flight.subscribe();
        let _ = tokio::time::timeout(patience, in_flight.wait_for(|n| *n == 0)).await;
        *self.in_flight.borrow()
    }

    /// Counts a method call until the guard goes.
    fn enter(&self) -> InFlight<'_> {
        self.in_flight.send_modify(|n| *n += 1);
        InFlight(&self.in_flight)
    }

    /// The caller's uid and pid, asked of the bus once per connection.
    async fn caller(&self, connection: &Connection, header: &Header<'_>) -> Caller {
        let Some(sender) = header.sender() else { return Caller::default() };
        if let Some(known) = self.callers.lock().unwrap_or_else(PoisonError::into_inner).get(sender.as_str()) {
            return *known;
        }
        let credentials = match zbus::fdo::DBusProxy::new(connection).await {
            Ok(bus) => bus.get_connection_credentials(sender.clone().into()).await.ok(),
            Err(_) => None,
        };
        let caller = credentials.map(|c| Caller { uid: c.unix_user_id(), pid: c.process_id() }).unwrap_or_default();
        let mut callers = self.callers.lock().unwrap_or_else(PoisonError::into_inner);
        if callers.len() >= CALLER_CACHE {
            callers.clear();
        }
        callers.insert(sender.to_string(), caller);
        caller
    }

    /// Asks polkit whether the caller may perform `action`, with the
    /// caller's bus name as the subject. Root is always allowed.
    async fn authorize(
        &self,
        connection: &Connection,
        header: &Header<'_>,
        action: &str,
        caller: Caller,
    ) -> Result<(), Error> {
        if self.authorization == Authorization::None || caller.uid == Some(0) {
            return Ok(());
        }
        let method = header.member().map(|m| m.to_string()).unwrap_or_default();
        let subject = zbus_polkit::policykit1::Subject::new_for_message_header(header).map_err(|e| {
            Error::named(ErrorName::Internal, format!("{method}: cannot name the caller to polkit: {e}"))
        })?;
        let authority = zbus_polkit::policykit1::AuthorityProxy::new(connection)
            .await
            .map_err(|e| Error::named(ErrorName::NotAuthorized, format!("{method}: polkit is not reachable: {e}")))?;
        let mut flags = zbus_polkit::policykit1::CheckAuthorizationFlags::empty();
        if header.primary().flags().contains(zbus::message::Flags::ALLOW_INTERACTIVE_AUTH) {
            flags |= zbus_polkit::policykit1::CheckAuthorizationFlags::ALLOW_USER_INTERACTION;
        }
        let result = authority
            .check_authorization(&subject, action, &HashMap::new(), flags, "")
            .await
            .map_err(|e| Error::named(ErrorName::NotAuthorized, format!("{method}: polkit did not answer: {e}")))?;
        if result.is_authorized {
            Ok(())
        } else if result.is_challenge {
            Err(Error::named(
                ErrorName::NotAuthorized,
                format!(
                    "{method}: {action} needs authentication, and none was possible (no agent, or the call did not allow interaction)"
                ),
            ))
        } else {
            Err(Error::named(ErrorName::NotAuthorized, format!("{method}: not authorized for {action}")))
        }
    }
}

/// One Reader method call under way, for [`Daemon::drain`].
struct InFlight<'a>(&'a tokio::sync::watch::Sender<usize>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// `/org/sscard/Daemon`.
pub struct Manager {
    daemon: Arc<Daemon>,
}

/// `org.sscard.Manager1`: the readers, and finding the card.
#[interface(name = "org.sscard.Manager1")]
impl Manager {
    /// Each reader's object path and PC/SC name.
    #[zbus(out_args("readers"))]
    async fn list_readers(&self) -> Vec<(OwnedObjectPath, String)> {
        self.daemon.view().readers.iter().map(|(&id, r)| (reader_path(id), r.name.clone())).collect()
    }

    /// The reader that holds a social security card.
    ///
    /// Errors: `NoCard` (none does), `Ambiguous` (two or more do),
    /// `ServiceUnavailable` (pcscd is not there).
    #[zbus(out_args("reader"))]
    async fn find_card(&self) -> Result<OwnedObjectPath, Error> {
        if !self.daemon.view().available {
            return Err(Error::named(ErrorName::ServiceUnavailable, "FindCard: pcscd is not available".into()));
        }
        let view = self.daemon.view();
        let found: Vec<u32> =
            view.readers.iter().filter(|(_, r)| r.present && r.kind == CardKind::Ssse).map(|(&id, _)| id).collect();
        match found[..] {
            [] => Err(Error::named(ErrorName::NoCard, "FindCard: no reader holds a social security card".into())),
            [one] => Ok(reader_path(one)),
            _ => Err(Error::named(
                ErrorName::Ambiguous,
                format!(
                    "FindCard: {} readers hold a social security card: {}",
                    found.len(),
                    found
                        .iter()
                        .filter_map(|id| view.readers.get(id).map(|r| r.name.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The daemon's version.
    #[zbus(property)]
    async fn version(&self) -> String {
        self.daemon.version.clone()
    }

    /// The reader whose card answered SELECT of the PSAM AID, or `/`.
    #[zbus(property)]
    async fn sam_reader(&self) -> OwnedObjectPath {
        match self.daemon.view().sam {
            Some(id) => reader_path(id),
            None => no_object(),
        }
    }

    /// The names of the loaded script profiles.
    #[zbus(property)]
    async fn profiles(&self) -> Vec<String> {
        self.daemon.profiles.clone()
    }

    #[zbus(signal)]
    async fn reader_added(emitter: &SignalEmitter<'_>, path: ObjectPath<'_>, name: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn reader_removed(emitter: &SignalEmitter<'_>, path: ObjectPath<'_>) -> zbus::Result<()>;
}

/// `/org/sscard/Daemon/readers/<n>`.
pub struct Reader {
    id: u32,
    daemon: Arc<Daemon>,
}

type Dict = HashMap<String, OwnedVariant>;

/// `org.sscard.Reader1`: one PC/SC reader and the card in it. Every method
/// runs as one PC/SC transaction; calls on one reader queue. Besides the
/// errors listed, any method can answer `NoCard`, `CardRemoved`,
/// `CardReset`, `NotSupported`, `CardError`, `NotAuthorized`,
/// `ServiceUnavailable`, `Timeout`, `Cancelled` and `Internal`.
#[interface(name = "org.sscard.Reader1")]
impl Reader {
    /// Reads the card and holder info; `photo` and `authenticate` options.
    ///
    /// Errors: `InvalidArgument` (unknown option), `NoSam` (gen3 without a
    /// PSAM, or `authenticate` without one), `AuthenticationFailed`.
    #[zbus(out_args("info"))]
    async fn read_card(
        &self,
        opts: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<InfoDict, Error> {
        let request = Options::parse("ReadCard", &opts, &[opt::PHOTO, opt::AUTHENTICATE])
            .map(|o| Request::ReadCard(ReadOptions { photo: o.photo, authenticate: o.authenticate }));
        match self.run(connection, &header, "ReadCard", polkit::READ, request).await? {
            Reply::CardInfo(info) => Ok(InfoDict::new(&self.daemon, info.fields())),
            other => Err(unexpected("ReadCard", &other)),
        }
    }

    /// Personalises: writes the keys given, reads them back and compares.
    /// Answers `digest` (s) and `apdus` (u).
    ///
    /// Errors: `InvalidArgument` (unknown or read-only key, wrong type, a
    /// value or combination breaking a rule), `NoSam`,
    /// `AuthenticationFailed`, `CardError` (also a read-back mismatch).
    #[zbus(out_args("result"))]
    async fn write_holder_record(
        &self,
        record: Dict,
        opts: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<Dict, Error> {
        let request = Options::parse("WriteHolderRecord", &opts, &[]).and_then(|_| {
            let fields = record.iter().map(|(k, v)| (k.clone(), field_input(v)));
            let update =
                HolderRecordUpdate::from_fields(fields).map_err(|e| Error::from_op("WriteHolderRecord", &e.into()))?;
            if update.is_empty() {
                return Err(Error::from_op("WriteHolderRecord", &OpError::EmptyRecord));
            }
            Ok(Request::WriteHolderRecord(Box::new(update)))
        });
        match self.run(connection, &header, "WriteHolderRecord", polkit::PERSONALIZE, request).await? {
            Reply::Written { digest, apdus } => {
                let mut out = Dict::new();
                out.insert(keys::DIGEST.into(), owned(Variant::from(digest))?);
                out.insert(keys::APDUS.into(), OwnedVariant::from(u32::try_from(apdus).unwrap_or(u32::MAX)));
                Ok(out)
            }
            other => Err(unexpected("WriteHolderRecord", &other)),
        }
    }

    /// The PIN counter, after a fresh SELECT; consumes no try.
    ///
    /// Errors: `InvalidArgument` (unknown option).
    #[zbus(out_args("tries_left", "blocked"))]
    async fn get_pin_status(
        &self,
        opts: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<(u32, bool), Error> {
        let request = Options::parse("GetPinStatus", &opts, &[]).map(|_| Request::PinStatus);
        match self.run(connection, &header, "GetPinStatus", polkit::READ, request).await? {
            Reply::PinStatus(s) => Ok((u32::from(s.tries_left), s.blocked)),
            other => Err(unexpected("GetPinStatus", &other)),
        }
    }

    /// VERIFY. A wrong PIN is `(false, n)`; the try that blocks it `(false, 0)`.
    ///
    /// Errors: `InvalidArgument` (not 4 to 12 digits, unknown option; with
    /// `pin_pad`, a PIN given, or the pad's length refusal),
    /// `PinBlocked` (blocked before the call), `LastTry` (one try left
    /// without `allow_last_try`), `NoPinPad`, `PinEntryCancelled` and
    /// `Timeout` (`pin_pad`: no pad, cancel, no key in time).
    #[zbus(out_args("ok", "tries_left"))]
    async fn verify_pin(
        &self,
        pin: &str,
        opts: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<(bool, u32), Error> {
        let request = Options::parse("VerifyPin", &opts, &[opt::ALLOW_LAST_TRY, opt::PIN_PAD]).and_then(|o| {
            let pin = if o.pin_pad {
                keypad("VerifyPin", &[(keys::PIN, pin)]).map(|()| PinEntry::Keypad)?
            } else {
                PinEntry::Host(pin_arg("VerifyPin", pin, Field::Pin)?)
            };
            Ok(Request::VerifyPin { pin, allow_last_try: o.allow_last_try })
        });
        match self.run(connection, &header, "VerifyPin", polkit::PIN, request).await? {
            Reply::Verified(v) => Ok((v.ok, u32::from(v.tries_left))),
            other => Err(unexpected("VerifyPin", &other)),
        }
    }

    /// CHANGE PIN.
    ///
    /// Errors: `InvalidArgument` (a PIN breaking a rule; with `pin_pad`, a
    /// PIN given, or the pad's refusal of a length or a confirmation),
    /// `WrongPin` (wrong old PIN), `PinBlocked`, `LastTry`, `NoPinPad`,
    /// `PinEntryCancelled`, `Timeout`.
    async fn change_pin(
        &self,
        old_pin: &str,
        new_pin: &str,
        opts: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<(), Error> {
        let request = Options::parse("ChangePin", &opts, &[opt::ALLOW_LAST_TRY, opt::PIN_PAD]).and_then(|o| {
            let pins = if o.pin_pad {
                keypad("ChangePin", &[(keys::OLD_PIN, old_pin), (keys::NEW_PIN, new_pin)]).map(|()| PinEntry::Keypad)?
            } else {
                PinEntry::Host((
                    pin_arg("ChangePin", old_pin, Field::Pin)?,
                    pin_arg("ChangePin", new_pin, Field::NewPin)?,
                ))
            };
            Ok(Request::ChangePin { pins, allow_last_try: o.allow_last_try })
        });
        self.run(connection, &header, "ChangePin", polkit::PIN, request).await.map(drop)
    }

    /// RELOAD PIN: the operator sets a forgotten PIN; needs the PSAM.
    ///
    /// Errors: `InvalidArgument` (new PIN breaking a rule), `NoSam`,
    /// `AuthenticationFailed`.
    async fn reload_pin(
        &self,
        new_pin: &str,
        opts: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<(), Error> {
        let request = Options::parse("ReloadPin", &opts, &[])
            .and_then(|_| Ok(Request::ReloadPin { new_pin: pin_arg("ReloadPin", new_pin, Field::NewPin)? }));
        self.run(connection, &header, "ReloadPin", polkit::RESET_PIN, request).await.map(drop)
    }

    /// Resets the try counter; needs the PSAM.
    ///
    /// Errors: `InvalidArgument` (unknown option), `NoSam`, `AuthenticationFailed`.
    async fn unblock_pin(
        &self,
        opts: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<(), Error> {
        let request = Options::parse("UnblockPin", &opts, &[]).map(|_| Request::UnblockPin);
        self.run(connection, &header, "UnblockPin", polkit::RESET_PIN, request).await.map(drop)
    }

    /// Activation: SSN check, initial PIN, new PIN, and on gen3 ACTIVATE
    /// FILE. Answers the card info with its new `state`.
    ///
    /// Errors: `InvalidArgument`, `HolderMismatch` (another SSN, or a blank
    /// card), `AlreadyActive` (gen3), `WrongPin` (wrong initial PIN; an
    /// activated gen2 card answers this too), `PinBlocked`, `LastTry`, `NoSam`,
    /// and with `pin_pad` `NoPinPad`, `PinEntryCancelled`, `Timeout`.
    #[zbus(out_args("info"))]
    async fn activate(
        &self,
        ssn: &str,
        initial_pin: &str,
        new_pin: &str,
        opts: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<InfoDict, Error> {
        let request = Options::parse("Activate", &opts, &[opt::ALLOW_LAST_TRY, opt::PIN_PAD]).and_then(|o| {
            let ssn = Ssn::parse(ssn).map_err(|e| Error::from_op("Activate", &OpError::InvalidArgument(e)))?;
            let pins = if o.pin_pad {
                keypad("Activate", &[(keys::INITIAL_PIN, initial_pin), (keys::NEW_PIN, new_pin)])
                    .map(|()| PinEntry::Keypad)?
            } else {
                PinEntry::Host((
                    pin_arg("Activate", initial_pin, Field::Pin)?,
                    pin_arg("Activate", new_pin, Field::NewPin)?,
                ))
            };
            Ok(Request::Activate { ssn, pins, allow_last_try: o.allow_last_try })
        });
        match self.run(connection, &header, "Activate", polkit::ACTIVATE, request).await? {
            Reply::CardInfo(info) => Ok(InfoDict::new(&self.daemon, info.fields())),
            other => Err(unexpected("Activate", &other)),
        }
    }

    /// Starts an HSM session (`docs/interfaces.md`, "HSM sessions"): the
    /// operation's first step runs, and the reader then serves only this
    /// session, in one PC/SC transaction, until it ends. `args`: `photo`
    /// (b) for `read`. Answers the session's object and the first step's
    /// hand-over.
    ///
    /// Errors: `InvalidArgument` (unknown operation or argument).
    #[zbus(out_args("session", "output"))]
    async fn begin_hsm(
        &self,
        operation: &str,
        args: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<(OwnedObjectPath, Dict), Error> {
        const METHOD: &str = "BeginHsm";
        let arrived = std::time::Instant::now();
        let _in_flight = self.daemon.enter();
        let caller = self.daemon.caller(connection, &header).await;
        let parsed = Options::parse(METHOD, &args, &[opt::PHOTO]).and_then(|o| {
            HsmOperation::parse(operation, o.photo).ok_or_else(|| {
                Error::invalid(
                    METHOD,
                    keys::args::OPERATION,
                    rule::UNKNOWN_OPERATION,
                    &format!("operation: unknown {operation:?} ({})", keys::hsm::operation::ALL.join(", ")),
                )
            })
        });
        let operation = match parsed {
            Ok(op) => op,
            Err(e) => {
                self.daemon.service.audit_refusal(self.id, caller, METHOD, e.name);
                return Err(e);
            }
        };
        let action = match operation {
            HsmOperation::ReadBasic | HsmOperation::Read { .. } => polkit::READ,
            HsmOperation::Write => polkit::PERSONALIZE,
            HsmOperation::ReloadPin | HsmOperation::UnblockPin => polkit::RESET_PIN,
        };
        let Some(owner) = header.sender().map(|s| s.to_string()) else {
            return Err(Error::new(ErrorName::NotAuthorized, METHOD, "the caller has no bus name"));
        };
        let authorized = tokio::select! {
            authorized = self.daemon.authorize(connection, &header, action, caller) => authorized,
            () = self.daemon.service.stopped() => Err(Error::new(ErrorName::Cancelled, METHOD, "the daemon is shutting down")),
        };
        if let Err(e) = authorized {
            self.daemon.service.audit_refusal(self.id, caller, operation.audit_name(), e.name);
            return Err(e);
        }
        let (id, step) = self.daemon.service.hsm_begin(self.id, operation, owner.clone(), caller, arrived).await?;
        let path = hsm_session_path(id);
        let output = step_output(&self.daemon, &step)?;
        if !step.is_last() {
            let object = HsmSession { id, operation, reader: reader_path(self.id), daemon: Arc::clone(&self.daemon) };
            connection.object_server().at(&path, object).await.map_err(Error::from)?;
            // An owner that left while the first step was queued or running
            // was gone before its session was recorded, so `watch_owners`
            // could not end it; it would hold the reader until the idle
            // limit. From here on, `watch_owners` sees any departure.
            if !owner_present(connection, &owner).await {
                let _ = self.daemon.service.hsm_abort(id, &owner, ErrorName::Cancelled);
                let _ = connection.object_server().remove::<HsmSession, _>(&path).await;
                return Err(Error::new(ErrorName::Cancelled, METHOD, "the caller left the bus"));
            }
        }
        Ok((path, output))
    }

    /// The PC/SC reader name.
    #[zbus(property)]
    async fn name(&self) -> String {
        self.with_view(|r| r.name.clone())
    }

    /// The reader has a PIN pad: it lists `FEATURE_VERIFY_PIN_DIRECT`
    /// (PC/SC part 10).
    #[zbus(property)]
    async fn pin_pad(&self) -> bool {
        self.with_view(|r| r.features.pin_pad())
    }

    /// The reader passes extended APDUs: false when it says
    /// `dwMaxAPDUDataSize` = 0 (a reader at the short-APDU level). Extended
    /// APDUs go only where the card's ATR allows them too.
    #[zbus(property)]
    async fn extended_apdu(&self) -> bool {
        self.with_view(|r| r.features.extended_apdu())
    }

    /// What the reader says of itself (PC/SC part 10), for diagnostics:
    /// `features` (`as`), `max_apdu_data_size` (`u`), `min_pin_size` and
    /// `max_pin_size` (`y`), `lcd_layout` (`q`),
    /// `entry_validation_condition` and `timeout2` (`y`), `vendor_id` and
    /// `product_id` (`q`), `firmware_id` (`s`); each only when said.
    #[zbus(property)]
    async fn features(&self) -> HashMap<String, OwnedVariant> {
        self.with_view(|r| features_dict(&r.features))
    }

    #[zbus(property)]
    async fn card_present(&self) -> bool {
        self.with_view(|r| r.present)
    }

    /// Empty when no card is present.
    #[zbus(property)]
    async fn atr(&self) -> Vec<u8> {
        self.with_view(|r| r.atr.clone())
    }

    /// `none`, `ssse`, `psam` or `unknown`.
    #[zbus(property)]
    async fn card_kind(&self) -> String {
        self.with_view(|r| r.kind.as_str().to_owned())
    }

    /// The profile, e.g. `ssse-gen3`; empty unless the card is `ssse`.
    #[zbus(property)]
    async fn profile(&self) -> String {
        self.with_view(|r| r.profile.clone())
    }

    /// An operation is running on this reader.
    #[zbus(property)]
    async fn busy(&self) -> bool {
        self.with_view(|r| r.busy)
    }

    /// After the card has been classified.
    #[zbus(signal)]
    async fn card_inserted(emitter: &SignalEmitter<'_>, atr: &[u8]) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn card_removed(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
}

impl Reader {
    fn with_view<T: Default>(&self, f: impl FnOnce(&ReaderView) -> T) -> T {
        self.daemon.view().readers.get(&self.id).map(f).unwrap_or_default()
    }

    /// One method call: the caller, the input check, polkit, the card, and
    /// one audit event whatever the outcome.
    async fn run(
        &self,
        connection: &Connection,
        header: &Header<'_>,
        method: &'static str,
        action: &'static str,
        request: Result<Request, Error>,
    ) -> Result<Reply, Error> {
        // Nothing before this awaits: the operation timeout counts from here.
        let arrived = std::time::Instant::now();
        let _in_flight = self.daemon.enter();
        // No lock across the credential and polkit round trips: a caller
        // whose authentication is pending must not hold up the others.
        // Calls queue at the reader's worker once authorized.
        let caller = self.daemon.caller(connection, header).await;
        let refused = match request {
            Err(e) => Err(e),
            Ok(request) => {
                let authorized = tokio::select! {
                    authorized = self.daemon.authorize(connection, header, action, caller) => authorized,
                    // At shutdown, polkit's answer is no longer awaited.
                    () = self.daemon.service.stopped() => {
                        Err(Error::new(ErrorName::Cancelled, method, "the daemon is shutting down"))
                    }
                };
                match authorized {
                    Err(e) => Err(e),
                    // The service checks the input before the card is
                    // touched, and records the call in the audit trail.
                    Ok(()) => {
                        return self.daemon.service.call(self.id, request, caller, arrived).await;
                    }
                }
            }
        };
        if let Err(e) = &refused {
            self.daemon.service.audit_refusal(self.id, caller, method, e.name);
        }
        refused
    }
}

/// A card-info dictionary (`docs/interfaces.md`), as ReadCard and Activate
/// answer it: `a{sv}`, serialized straight from the entries in their
/// order. Copying them into a map of owned variants first cost about as
/// much as the serialization.
struct InfoDict(Vec<(&'static str, InfoValue)>);

impl InfoDict {
    fn new(daemon: &Daemon, mut fields: Vec<(&'static str, InfoValue)>) -> InfoDict {
        // An addition to the contract: the legacy line's last field.
        if !daemon.terminal_device.is_empty() {
            fields.push((keys::TERMINAL_DEVICE, InfoValue::Str(daemon.terminal_device.clone())));
        }
        InfoDict(fields)
    }

    /// The dictionary as a map, for answers that add keys of their own.
    fn into_map(self) -> Result<Dict, Error> {
        let mut out = Dict::new();
        for (key, value) in self.0 {
            let v = match value {
                InfoValue::Str(s) => owned(Variant::from(s))?,
                InfoValue::U32(n) => OwnedVariant::from(n),
                InfoValue::Byte(b) => OwnedVariant::from(b),
                InfoValue::Bytes(b) => owned(Variant::from(b))?,
                InfoValue::Bool(b) => OwnedVariant::from(b),
                InfoValue::Strs(v) => owned(Variant::from(v))?,
            };
            out.insert(key.to_owned(), v);
        }
        Ok(out)
    }
}

impl zbus::wire::Type for InfoDict {
    const SIGNATURE: &'static zbus::wire::Signature = <Dict as zbus::wire::Type>::SIGNATURE;
}

impl serde::Serialize for InfoDict {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        // Each value as a variant of its static type: a `Variant` would
        // build its signature as text, for each entry.
        use zbus::as_variant::Serialize as V;
        for (key, value) in &self.0 {
            match value {
                InfoValue::Str(s) => map.serialize_entry(key, &V(&s.as_str()))?,
                InfoValue::U32(n) => map.serialize_entry(key, &V(n))?,
                InfoValue::Byte(b) => map.serialize_entry(key, &V(b))?,
                InfoValue::Bytes(b) => map.serialize_entry(key, &V(b))?,
                InfoValue::Bool(b) => map.serialize_entry(key, &V(b))?,
                InfoValue::Strs(v) => map.serialize_entry(key, &V(v))?,
            }
        }
        map.end()
    }
}

/// A step's answer as `HsmSession1` gives it: the hand-over's byte values
/// (`ay`), `awaits` (`as`, what the next step takes) and `done` (`b`); the
/// last step of a read adds the card-info keys.
fn step_output(daemon: &Daemon, step: &HsmStep) -> Result<Dict, Error> {
    let mut out = match step {
        HsmStep::Handover { outputs, awaits } => {
            let mut out = Dict::new();
            for (name, bytes) in outputs {
                out.insert(name.clone(), owned(Variant::from(bytes.to_vec()))?);
            }
            out.insert(keys::hsm::AWAITS.into(), owned(Variant::from(awaits.clone()))?);
            out
        }
        HsmStep::CardInfo(info) => InfoDict::new(daemon, info.fields()).into_map()?,
        HsmStep::Done => Dict::new(),
    };
    out.insert(keys::hsm::DONE.into(), OwnedVariant::from(step.is_last()));
    Ok(out)
}

/// An HSM session's later step, as `Continue` receives it: byte values
/// (`ay`), `new_pin` (`s`) and `record` (`a{sv}`, as `WriteHolderRecord`).
fn step_input(args: &Dict) -> Result<HsmInput, Error> {
    const METHOD: &str = "Continue";
    let mut input = HsmInput::default();
    for (key, value) in args {
        match (key.as_str(), &**value) {
            (keys::hsm::NEW_PIN, Variant::Str(pin)) => input.new_pin = Some(pin_arg(METHOD, pin, Field::NewPin)?),
            (keys::hsm::RECORD, Variant::Dict(record)) => {
                let mut fields = Vec::new();
                for (k, v) in record.iter() {
                    let Variant::Str(k) = k else {
                        return Err(Error::invalid(
                            METHOD,
                            keys::args::RECORD,
                            rule::WRONG_TYPE,
                            "record: keys must be strings",
                        ));
                    };
                    // The dictionary's values are variants (`v`).
                    let v = match v {
                        Variant::Variant(inner) => &**inner,
                        other => other,
                    };
                    let v =
                        OwnedVariant::try_from(v.try_clone().map_err(|e| {
                            Error::invalid(METHOD, keys::args::RECORD, rule::WRONG_TYPE, &e.to_string())
                        })?)
                        .map_err(|e| Error::invalid(METHOD, keys::args::RECORD, rule::WRONG_TYPE, &e.to_string()))?;
                    fields.push((k.to_string(), field_input(&v)));
                }
                let update = HolderRecordUpdate::from_fields(fields).map_err(|e| Error::from_op(METHOD, &e.into()))?;
                if update.is_empty() {
                    return Err(Error::from_op(METHOD, &OpError::EmptyRecord));
                }
                input.record = Some(Box::new(update));
            }
            (_, Variant::Array(a)) if a.element_signature().to_string() == "y" => {
                let bytes: Vec<u8> =
                    a.inner().iter().filter_map(|e| if let Variant::U8(b) = e { Some(*b) } else { None }).collect();
                input.fields.set(key, bytes);
                input.names.push(key.clone());
            }
            (key, other) => {
                let expected = match key {
                    keys::hsm::NEW_PIN => "s",
                    keys::hsm::RECORD => "a{sv}",
                    _ => "ay",
                };
                return Err(Error::invalid(
                    METHOD,
                    key,
                    rule::WRONG_TYPE,
                    &format!("{key}: must be of type {expected}, not {}", other.value_signature()),
                ));
            }
        }
    }
    Ok(input)
}

/// `/org/sscard/Daemon/hsm/N`: one HSM session, owned by the unique bus
/// name that began it.
pub struct HsmSession {
    id: u64,
    operation: HsmOperation,
    reader: OwnedObjectPath,
    daemon: Arc<Daemon>,
}

/// The caller's unique name, which the service checks against the
/// session's owner (the one check of ownership).
fn sender<'h>(header: &'h Header<'_>) -> &'h str {
    header.sender().map_or("", |s| s.as_str())
}

impl HsmSession {
    /// Takes the object off the bus, once its method has answered.
    fn remove_later(&self, connection: &Connection) {
        let server = connection.object_server().clone();
        let path = hsm_session_path(self.id);
        tokio::spawn(async move {
            let _ = server.remove::<HsmSession, _>(&path).await;
        });
    }
}

/// `org.sscard.HsmSession1`: an HSM session's later steps. Only the client
/// that began it may call; anyone else gets `NotAuthorized`.
#[interface(name = "org.sscard.HsmSession1")]
impl HsmSession {
    /// The next step: the values the last answer's `awaits` named. Answers
    /// as `BeginHsm` does; `done` is true at the last step. Any failed
    /// step ends the session with a card reset.
    ///
    /// Errors: `InvalidArgument` (a missing, extra or malformed value),
    /// `NotIssued`, `NotAuthentic`, `CardRemoved` (between steps), `Timeout`
    /// (the session stayed idle and was reset), `NotAuthorized`.
    #[zbus(name = "Continue", out_args("output"))]
    async fn r#continue(
        &self,
        args: Dict,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<Dict, Error> {
        let _in_flight = self.daemon.enter();
        let sender = sender(&header);
        let result = match step_input(&args) {
            Ok(input) => self.daemon.service.hsm_continue(self.id, sender, input).await,
            // A step that cannot be read fails like any other: the owner's
            // session ends.
            Err(e) => match self.daemon.service.hsm_abort(self.id, sender, e.name) {
                Err(refused) if refused.name == ErrorName::NotAuthorized => Err(refused),
                _ => Err(e),
            },
        };
        match result {
            Ok(step) => {
                if step.is_last() {
                    self.remove_later(connection);
                }
                step_output(&self.daemon, &step)
            }
            Err(e) => {
                // Another client's call leaves the owner's session as it was.
                if e.name != ErrorName::NotAuthorized {
                    self.remove_later(connection);
                }
                Err(e)
            }
        }
    }

    /// Ends the session at once, with a card reset.
    async fn abort(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<(), Error> {
        let result = self.daemon.service.hsm_abort(self.id, sender(&header), ErrorName::Cancelled);
        if !matches!(&result, Err(e) if e.name == ErrorName::NotAuthorized) {
            self.remove_later(connection);
        }
        result
    }

    /// `read_basic`, `read`, `write`, `reload_pin` or `unblock_pin`.
    #[zbus(property)]
    async fn operation(&self) -> String {
        self.operation.name().to_owned()
    }

    /// The reader it holds.
    #[zbus(property)]
    async fn reader(&self) -> OwnedObjectPath {
        self.reader.clone()
    }
}

/// Whether `name` (a unique name) is still on the bus; true when the bus
/// cannot say, so that a session is never ended on a guess.
async fn owner_present(connection: &Connection, name: &str) -> bool {
    let Ok(name) = zbus::names::BusName::try_from(name) else { return true };
    match zbus::fdo::DBusProxy::new(connection).await {
        Ok(bus) => bus.name_has_owner(name).await.unwrap_or(true),
        Err(_) => true,
    }
}

/// Ends the sessions of every client that leaves the bus, at once.
async fn watch_owners(connection: Connection, daemon: Arc<Daemon>) {
    use futures_util::StreamExt as _;
    let Ok(bus) = zbus::fdo::DBusProxy::new(&connection).await else { return };
    let Ok(mut changes) = bus.receive_name_owner_changed().await else { return };
    while let Some(change) = changes.next().await {
        let Ok(args) = change.args() else { continue };
        if args.new_owner().is_some() || !args.name().starts_with(':') {
            continue;
        }
        for id in daemon.service.hsm_owner_gone(args.name()) {
            let _ = connection.object_server().remove::<HsmSession, _>(&hsm_session_path(id)).await;
        }
    }
}

/// A PIN argument, parsed once here: borrowed from the message straight
/// into the model's zeroizing buffer. The error names the field, never
/// the digits.
fn pin_arg(method: &str, pin: &str, field: Field) -> Result<Pin, Error> {
    Pin::parse(pin, field).map_err(|e| Error::from_op(method, &OpError::InvalidArgument(e)))
}

/// With `pin_pad`, the reader's keypad collects the PINs: each PIN
/// argument must be empty. The error names the argument, never its digits.
fn keypad(method: &str, pins: &[(&str, &str)]) -> Result<(), Error> {
    match pins.iter().find(|(_, pin)| !pin.is_empty()) {
        Some((field, _)) => Err(Error::invalid(
            method,
            field,
            rule::PIN_WITH_PIN_PAD,
            &format!("{field}: must be empty with pin_pad (the reader's keypad collects it)"),
        )),
        None => Ok(()),
    }
}

fn owned(v: Variant<'_>) -> Result<OwnedVariant, Error> {
    OwnedVariant::try_from(v).map_err(|e| Error::named(ErrorName::Internal, format!("cannot build a reply value: {e}")))
}

fn unexpected(method: &str, reply: &Reply) -> Error {
    // The variant only: a reply may hold the holder's data.
    let kind = match reply {
        Reply::CardInfo(_) => "card info",
        Reply::Written { .. } => "write result",
        Reply::PinStatus(_) => "PIN status",
        Reply::Verified(_) => "verify result",
        _ => "other",
    };
    Error::named(ErrorName::Internal, format!("{method}: unexpected reply ({kind})"))
}

fn field_input(v: &OwnedVariant) -> FieldInput {
    match &**v {
        Variant::Str(s) => FieldInput::Str(s.as_str().to_owned()),
        Variant::U8(b) => FieldInput::Byte(*b),
        Variant::Array(a) if a.element_signature().to_string() == "y" => FieldInput::Bytes(
            a.inner().iter().filter_map(|e| if let Variant::U8(b) = e { Some(*b) } else { None }).collect(),
        ),
        other => FieldInput::Other(other.value_signature().to_string()),
    }
}

/// The options dictionary: an unknown key, or a known one of the wrong
/// type, is `InvalidArgument`.
#[derive(Debug, Default)]
struct Options {
    photo: bool,
    authenticate: bool,
    allow_last_try: bool,
    pin_pad: bool,
}

impl Options {
    fn parse(method: &str, opts: &Dict, allowed: &[&str]) -> Result<Options, Error> {
        let mut o = Options::default();
        for (key, value) in opts {
            if !allowed.contains(&key.as_str()) {
                let known = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
                return Err(Error::invalid(
                    method,
                    keys::args::OPTS,
                    rule::UNKNOWN_KEY,
                    &format!("opts: unknown key {key:?} (known: {known})"),
                ));
            }
            let Variant::Bool(b) = &**value else {
                return Err(Error::invalid(method, key, rule::WRONG_TYPE, &format!("opts: {key} must be of type b")));
            };
            match key.as_str() {
                opt::PHOTO => o.photo = *b,
                opt::AUTHENTICATE => o.authenticate = *b,
                opt::ALLOW_LAST_TRY => o.allow_last_try = *b,
                opt::PIN_PAD => o.pin_pad = *b,
                _ => {}
            }
        }
        Ok(o)
    }
}

/// Serves the objects and keeps them in step with the service's events
/// until the event channel closes.
pub async fn serve(connection: Connection, daemon: Arc<Daemon>, mut events: mpsc::UnboundedReceiver<Event>) {
    let watcher = tokio::spawn(watch_owners(connection.clone(), Arc::clone(&daemon)));
    while let Some(event) = events.recv().await {
        if let Err(e) = apply(&connection, &daemon, event).await {
            tracing::warn!("cannot publish an event: {e}");
        }
    }
    watcher.abort();
}

/// Registers the manager and the ObjectManager.
pub async fn register(connection: &Connection, daemon: &Arc<Daemon>) -> zbus::Result<()> {
    let server = connection.object_server();
    server.at(MANAGER_PATH, Manager { daemon: Arc::clone(daemon) }).await?;
    server.at(MANAGER_PATH, zbus::fdo::ObjectManager).await?;
    Ok(())
}

async fn apply(connection: &Connection, daemon: &Arc<Daemon>, event: Event) -> zbus::Result<()> {
    let server = connection.object_server();
    match event {
        Event::ReaderAdded { id, name, features } => {
            let path = reader_path(id);
            daemon.view().readers.insert(
                id,
                ReaderView {
                    name: name.clone(),
                    present: false,
                    atr: Vec::new(),
                    kind: CardKind::None,
                    profile: String::new(),
                    busy: false,
                    features,
                    path: path.clone(),
                },
            );
            server.at(&path, Reader { id, daemon: Arc::clone(daemon) }).await?;
            let manager = server.interface::<_, Manager>(MANAGER_PATH).await?;
            Manager::reader_added(manager.signal_emitter(), path.as_ref(), &name).await?;
        }
        Event::ReaderRemoved { id } => {
            daemon.view().readers.remove(&id);
            let path = reader_path(id);
            server.remove::<Reader, _>(&path).await?;
            let manager = server.interface::<_, Manager>(MANAGER_PATH).await?;
            Manager::reader_removed(manager.signal_emitter(), path.as_ref()).await?;
        }
        Event::CardInserted { id, atr, kind, profile, sam_reader } => {
            if !update(daemon, id, |r| {
                r.present = true;
                r.atr = atr.clone();
                r.kind = kind;
                r.profile = profile;
            }) {
                return Ok(());
            }
            let reader = server.interface::<_, Reader>(reader_path(id)).await?;
            let emitter = reader.signal_emitter();
            {
                let iface = reader.get().await;
                iface.card_present_changed(emitter).await?;
                iface.atr_changed(emitter).await?;
                iface.card_kind_changed(emitter).await?;
                iface.profile_changed(emitter).await?;
            }
            Reader::card_inserted(emitter, &atr).await?;
            // The reader's card is a PSAM in the view before `SamReader`
            // names it.
            if let Some(now) = sam_reader {
                set_sam_reader(server, daemon, now).await?;
            }
        }
        Event::CardRemoved { id } => {
            if !update(daemon, id, |r| {
                r.present = false;
                r.atr.clear();
                r.kind = CardKind::None;
                r.profile.clear();
            }) {
                return Ok(());
            }
            let reader = server.interface::<_, Reader>(reader_path(id)).await?;
            let emitter = reader.signal_emitter();
            {
                let iface = reader.get().await;
                iface.card_present_changed(emitter).await?;
                iface.atr_changed(emitter).await?;
                iface.card_kind_changed(emitter).await?;
                iface.profile_changed(emitter).await?;
            }
            Reader::card_removed(emitter).await?;
        }
        Event::Busy { id, busy } => {
            let path = daemon.view().readers.get_mut(&id).map(|r| {
                r.busy = busy;
                r.path.clone()
            });
            if let Some(path) = path {
                if !busy {
                    // The property reads false from here on. The call's
                    // reply, sent by the worker just after this event, goes
                    // out before the signal rather than behind it.
                    tokio::task::yield_now().await;
                }
                busy_changed(connection, &path, busy).await?;
            }
        }
        Event::SamReader { id } => set_sam_reader(server, daemon, id).await?,
        Event::Service { available } => {
            tracing::info!(available, "pcscd");
            daemon.view().available = available;
        }
    }
    Ok(())
}

/// `Manager1.SamReader` is now `id`'s reader, with its PropertiesChanged
/// when that changes it.
async fn set_sam_reader(server: &zbus::ObjectServer, daemon: &Daemon, id: Option<u32>) -> zbus::Result<()> {
    let changed = {
        let mut view = daemon.view();
        let changed = view.sam != id;
        view.sam = id;
        changed
    };
    if changed {
        let manager = server.interface::<_, Manager>(MANAGER_PATH).await?;
        manager.get().await.sam_reader_changed(manager.signal_emitter()).await?;
    }
    Ok(())
}

/// The PropertiesChanged of `Busy` that `Reader::busy_changed` sends, the
/// same message, sent without looking the object up and locking it, and
/// with the names checked once: twice per call, that was a fifth of each
/// signal's cost.
async fn busy_changed(connection: &Connection, path: &OwnedObjectPath, busy: bool) -> zbus::Result<()> {
    use zbus::names::{InterfaceName, MemberName};
    let changed = HashMap::from([("Busy", zbus::as_variant::Serialize(&busy))]);
    let body = (<Reader as zbus::object_server::Interface>::name(), changed, std::borrow::Cow::<[&str]>::Borrowed(&[]));
    connection
        .emit_signal(
            None::<zbus::names::BusName<'_>>,
            path.as_ref(),
            InterfaceName::from_static_str_unchecked("org.freedesktop.DBus.Properties"),
            MemberName::from_static_str_unchecked("PropertiesChanged"),
            &body,
        )
        .await
}

/// Changes reader `id`'s view; answers whether the reader exists.
fn update(daemon: &Daemon, id: u32, f: impl FnOnce(&mut ReaderView)) -> bool {
    match daemon.view().readers.get_mut(&id) {
        Some(r) => {
            f(r);
            true
        }
        None => false,
    }
}

/// `Reader1.Features`: what the reader said, by the contract's keys.
fn features_dict(features: &ReaderFeatures) -> HashMap<String, OwnedVariant> {
    use keys::features as key;
    use sscard_transport::part10::feature;
    let mut dict = HashMap::new();
    let mut put = |k: &str, v: Variant<'_>| {
        if let Ok(v) = OwnedVariant::try_from(v) {
            dict.insert(k.to_owned(), v);
        }
    };
    let names: Vec<String> = features
        .controls
        .iter()
        .map(|(tag, _)| feature::name(*tag).map_or_else(|| format!("0x{tag:02X}"), str::to_owned))
        .collect();
    put(key::FEATURES, Variant::from(names));
    if let Some(v) = features.max_apdu_data_size {
        put(key::MAX_APDU_DATA_SIZE, Variant::from(v));
    }
    for (k, v) in [
        (key::MIN_PIN_SIZE, features.min_pin_size),
        (key::MAX_PIN_SIZE, features.max_pin_size),
        (key::ENTRY_VALIDATION_CONDITION, features.entry_validation_condition),
        (key::TIMEOUT2, features.timeout2),
    ] {
        if let Some(v) = v {
            put(k, Variant::from(v));
        }
    }
    for (k, v) in [
        (key::LCD_LAYOUT, features.lcd_layout),
        (key::VENDOR_ID, features.vendor_id),
        (key::PRODUCT_ID, features.product_id),
    ] {
        if let Some(v) = v {
            put(k, Variant::from(v));
        }
    }
    if let Some(v) = &features.firmware_id {
        put(key::FIRMWARE_ID, Variant::from(v.as_str()));
    }
    dict
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::wire::serialized::Context;
    use zbus::wire::{Endian, to_bytes};

    /// What a client decodes from the reply: the same dictionary as from
    /// the map of owned variants ReadCard answered before, value types
    /// included.
    #[test]
    fn an_info_dict_reads_back_as_the_map_of_its_entries() {
        let entries = || {
            InfoDict(vec![
                (keys::NAME, InfoValue::Str("张三".into())),
                (keys::PIN_TRIES_LEFT, InfoValue::U32(3)),
                (keys::NATION, InfoValue::Byte(1)),
                (keys::PHOTO, InfoValue::Bytes(vec![0xFF, 0xD8, 0x00])),
                (keys::AUTHENTIC, InfoValue::Bool(true)),
                (keys::INCONSISTENT, InfoValue::Strs(vec!["a".into(), "b".into()])),
            ])
        };
        let ctxt = Context::new(Endian::Little, 0);
        let direct = to_bytes(ctxt, &entries()).unwrap();
        let map = to_bytes(ctxt, &entries().into_map().unwrap()).unwrap();
        assert_eq!(<InfoDict as zbus::wire::Type>::SIGNATURE.to_string(), "a{sv}");
        let (read, _): (Dict, _) = direct.deserialize().unwrap();
        let (expected, _): (Dict, _) = map.deserialize().unwrap();
        assert_eq!(read, expected);
        assert_eq!(read.len(), 6);
        assert_eq!(read[keys::NATION], OwnedVariant::from(1u8));
        // In one order, the bytes themselves: those of an ordered map of variants.
        let mut sorted = entries();
        sorted.0.sort_by_key(|(key, _)| *key);
        let ordered: BTreeMap<String, OwnedVariant> = entries().into_map().unwrap().into_iter().collect();
        assert_eq!(to_bytes(ctxt, &sorted).unwrap().bytes(), to_bytes(ctxt, &ordered).unwrap().bytes());
    }
}
