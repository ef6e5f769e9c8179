//! The PC/SC transport, through pcscd and the `pcsc` crate.

use std::ffi::CString;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use super::part10::{self, PinPadEntry, PinPadRequest, ReaderFeatures, feature};
use super::t0;
use super::{
    Atr, Backend, Capabilities, CardConnection, CardTransaction, Observation, Protocol, ReaderMonitor, SlotState,
    Transport, TransportError, WaitError,
};

impl From<pcsc::Error> for TransportError {
    fn from(e: pcsc::Error) -> Self {
        match e {
            // libpcsclite answers CommError when its socket to pcscd breaks.
            pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::NoReadersAvailable
            | pcsc::Error::CommError => TransportError::NoService,
            pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => TransportError::ReaderUnavailable,
            pcsc::Error::NoSmartcard => TransportError::NoCard,
            pcsc::Error::RemovedCard | pcsc::Error::UnpoweredCard | pcsc::Error::UnresponsiveCard => {
                TransportError::CardRemoved
            }
            pcsc::Error::ResetCard => TransportError::CardReset,
            pcsc::Error::Timeout => TransportError::Timeout,
            other => TransportError::Pcsc(other.to_string()),
        }
    }
}

/// The names of the readers pcscd knows, in its order.
pub(crate) fn list_readers(ctx: &Context) -> Result<Vec<String>, TransportError> {
    let names = match ctx.list_readers_owned() {
        Ok(names) => names,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(names.into_iter().map(|n| n.to_string_lossy().into_owned()).collect())
}

/// A shared connection to the card in one PC/SC reader.
///
/// Dropping it disconnects with `LeaveCard`, never `ResetCard`, so other
/// programs sharing the card keep their security state.
pub struct PcscConnection {
    ctx: Context,
    card: Option<pcsc::Card>,
    reader: String,
    atr: Vec<u8>,
    caps: Capabilities,
    /// What the reader said of itself when the card was connected.
    features: ReaderFeatures,
    sent: u64,
}

/// Asks the reader through `card`, any handle on it (direct or shared):
/// its part 10 features, then the properties they offer. A reader that
/// answers nothing, as vpcd does, has no features.
fn read_features(card: &pcsc::Card) -> ReaderFeatures {
    let mut buffer = [0u8; 256];
    let mut features = ReaderFeatures::default();
    match card.control(part10::GET_FEATURE_REQUEST.into(), &[], &mut buffer) {
        Ok(list) => features.controls = ReaderFeatures::parse_feature_list(list),
        Err(e) => {
            tracing::trace!("GET_FEATURE_REQUEST: {e}");
            return features;
        }
    }
    if let Some(code) = features.control(feature::GET_TLV_PROPERTIES)
        && let Ok(answer) = card.control(code.into(), &[], &mut buffer)
    {
        features.add_tlv_properties(answer);
    }
    if let Some(code) = features.control(feature::IFD_PIN_PROPERTIES)
        && let Ok(answer) = card.control(code.into(), &[], &mut buffer)
    {
        features.add_pin_properties(answer);
    }
    features
}

impl PcscConnection {
    /// Connects in shared mode, letting the reader choose T=0 or T=1.
    /// Connects in shared mode, asking the reader what it is first.
    pub fn connect(ctx: &Context, reader: &str) -> Result<PcscConnection, TransportError> {
        PcscConnection::connect_knowing(ctx, reader, None)
    }

    /// Connects in shared mode, with what the reader said of itself when
    /// it appeared, or asking it when that is not known.
    fn connect_knowing(
        ctx: &Context,
        reader: &str,
        known: Option<ReaderFeatures>,
    ) -> Result<PcscConnection, TransportError> {
        let name = CString::new(reader).map_err(|_| TransportError::UnknownReader(reader.to_owned()))?;
        let card = ctx.connect(&name, ShareMode::Shared, Protocols::ANY).map_err(|e| match e {
            pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => {
                TransportError::UnknownReader(reader.to_owned())
            }
            other => other.into(),
        })?;
        let features = known.unwrap_or_else(|| read_features(&card));
        let (atr, caps) = Self::identify(&card, &features)?;
        Ok(PcscConnection {
            ctx: ctx.clone(),
            card: Some(card),
            reader: reader.to_owned(),
            atr,
            caps,
            features,
            sent: 0,
        })
    }

    fn identify(card: &pcsc::Card, features: &ReaderFeatures) -> Result<(Vec<u8>, Capabilities), TransportError> {
        let status = card.status2_owned()?;
        let atr = status.atr().to_vec();
        let parsed = Atr::parse(&atr);
        let protocol = match status.protocol2() {
            Some(pcsc::Protocol::T1) => Protocol::T1,
            Some(pcsc::Protocol::T0) => Protocol::T0,
            _ => parsed.protocol,
        };
        // Extended APDUs travel only over T=1 (T=0 would need ENVELOPE).
        let card_extended = parsed.extended_length && protocol == Protocol::T1;
        Ok((atr, Capabilities::of_card(protocol, card_extended, features.extended_apdu())))
    }

    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// What the reader said of itself when the card was connected.
    pub fn features(&self) -> &ReaderFeatures {
        &self.features
    }

    /// Disconnects, leaving the card as it is.
    pub fn disconnect(mut self) -> Result<(), TransportError> {
        match self.card.take() {
            Some(card) => card.disconnect(Disposition::LeaveCard).map_err(|(card, e)| {
                // Dropping the handle pcsc gives back would reset the card.
                std::mem::forget(card);
                e.into()
            }),
            None => Ok(()),
        }
    }
}

impl Drop for PcscConnection {
    fn drop(&mut self) {
        if let Some(card) = self.card.take()
            && let Err((card, _)) = card.disconnect(Disposition::LeaveCard)
        {
            // Dropping the handle pcsc gives back would reset the card.
            std::mem::forget(card);
        }
    }
}

/// How long a failed exchange waits for pcscd to notice a removal. pcscd
/// polls readers without card events (vpcd among them) every 400 ms.
const REMOVAL_GRACE: Duration = Duration::from_millis(1000);

/// The reader a transmit went through, to explain a failure.
struct Link<'a> {
    ctx: &'a Context,
    reader: &'a str,
    card: &'a pcsc::Card,
    caps: Capabilities,
}

impl Link<'_> {
    fn transmit_raw(&self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        // A short answer's room on the stack: a zeroed allocation per APDU
        // otherwise. An extended one's (64 KiB) stays on the heap.
        let mut short = [0u8; pcsc::MAX_BUFFER_SIZE];
        let mut extended = Vec::new();
        let buf: &mut [u8] = if self.caps.extended_length {
            extended.resize(pcsc::MAX_BUFFER_SIZE_EXTENDED, 0);
            &mut extended
        } else {
            &mut short
        };
        match self.card.transmit(command, buf) {
            Ok(answer) if answer.len() >= 2 => Ok(answer.to_vec()),
            // vpcd reports a card that vanished mid-command as an empty answer.
            Ok(_) => Err(self.explain_failure(TransportError::MalformedResponse("fewer than 2 bytes"))),
            // A reader at the short-APDU level that did not say so refuses
            // an extended APDU this way (pcsc-lite's SCARD_E_NOT_TRANSACTED).
            Err(pcsc::Error::NotTransacted) if is_extended(command) => {
                Err(self.explain_failure(TransportError::ReaderShortApdusOnly))
            }
            Err(e) => Err(self.explain_failure(e.into())),
        }
    }

    /// A failed transmit is ambiguous (pcsc-rust issue 19): find out whether
    /// the card is still there before blaming anything else.
    fn explain_failure(&self, fallback: TransportError) -> TransportError {
        match self.card.status2_owned() {
            Err(pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard) => return TransportError::CardRemoved,
            Err(pcsc::Error::ResetCard) => return TransportError::CardReset,
            Ok(status) if !status.status().contains(pcsc::Status::PRESENT) => return TransportError::CardRemoved,
            _ => {}
        }
        if self.card_leaves_within(REMOVAL_GRACE) { TransportError::CardRemoved } else { fallback }
    }

    fn card_leaves_within(&self, grace: Duration) -> bool {
        let Ok(name) = CString::new(self.reader) else { return false };
        let mut states = [ReaderState::new(name, State::UNAWARE)];
        let deadline = Instant::now() + grace;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let first = states[0].current_state() == State::UNAWARE;
            match self.ctx.get_status_change(if first { Duration::ZERO } else { remaining }, &mut states) {
                Ok(()) => {
                    let now = states[0].event_state();
                    if now.intersects(State::EMPTY | State::UNKNOWN | State::UNAVAILABLE)
                        || !now.contains(State::PRESENT)
                    {
                        return true;
                    }
                    states[0].sync_current_state();
                }
                Err(_) => return false,
            }
            if remaining.is_zero() {
                return false;
            }
        }
    }
}

/// Whether `command` has the extended length form.
fn is_extended(command: &[u8]) -> bool {
    super::shape::classify(command).is_ok_and(|shape| shape.form == super::shape::LengthForm::Extended)
}

/// A PC/SC transaction. Dropping it ends the transaction with `LeaveCard`.
pub struct PcscTransaction<'a> {
    ctx: &'a Context,
    reader: &'a str,
    tx: Option<pcsc::Transaction<'a>>,
    atr: &'a [u8],
    caps: Capabilities,
    features: &'a ReaderFeatures,
    sent: &'a mut u64,
}

impl PcscTransaction<'_> {
    fn finish(&mut self, disposition: Disposition) -> Result<(), TransportError> {
        match self.tx.take() {
            Some(tx) => tx.end(disposition).map_err(|(_, e)| e.into()),
            None => Ok(()),
        }
    }
}

impl CardTransaction for PcscTransaction<'_> {
    fn end(mut self) -> Result<(), TransportError> {
        self.finish(Disposition::LeaveCard)
    }

    /// pcsc-lite reports the reset to every handle, this one included.
    fn end_with_reset(mut self) -> Result<(), TransportError> {
        self.finish(Disposition::ResetCard)
    }
}

impl Transport for PcscTransaction<'_> {
    fn atr(&self) -> &[u8] {
        self.atr
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let tx = self.tx.as_ref().ok_or(TransportError::CardRemoved)?;
        let link = Link { ctx: self.ctx, reader: self.reader, card: tx, caps: self.caps };
        t0::exchange(self.caps, self.sent, command, &mut |c| link.transmit_raw(c))
    }

    /// `SCardControl` with the reader's `FEATURE_VERIFY_PIN_DIRECT` or
    /// `FEATURE_MODIFY_PIN_DIRECT` code; it returns once the holder has
    /// typed, cancelled or let the pad time out.
    fn pin_pad(&mut self, request: &PinPadRequest) -> Result<Vec<u8>, TransportError> {
        let tag = match request.entry {
            PinPadEntry::Verify { .. } => feature::VERIFY_PIN_DIRECT,
            PinPadEntry::Modify { .. } => feature::MODIFY_PIN_DIRECT,
        };
        let code = self.features.control(tag).ok_or(TransportError::NoPinPad)?;
        let structure = request
            .structure()
            .ok_or_else(|| TransportError::Pcsc("a PIN-pad command longer than a short APDU".into()))?;
        let tx = self.tx.as_ref().ok_or(TransportError::CardRemoved)?;
        let link = Link { ctx: self.ctx, reader: self.reader, card: tx, caps: self.caps };
        *self.sent += 1;
        let mut buffer = [0u8; 258];
        match tx.control(code.into(), &structure, &mut buffer) {
            Ok(answer) if answer.len() >= 2 => Ok(answer.to_vec()),
            Ok(_) => Err(link.explain_failure(TransportError::MalformedResponse("fewer than 2 bytes"))),
            Err(e) => Err(link.explain_failure(e.into())),
        }
    }

    fn apdus_sent(&self) -> u64 {
        *self.sent
    }
}

impl CardConnection for PcscConnection {
    type Transaction<'a> = PcscTransaction<'a>;

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// No other program's commands reach the card until it ends.
    fn begin(&mut self) -> Result<PcscTransaction<'_>, TransportError> {
        let PcscConnection { ctx, card, reader, atr, caps, features, sent } = self;
        let card = card.as_mut().ok_or(TransportError::CardRemoved)?;
        let tx = card.transaction()?;
        Ok(PcscTransaction { ctx, reader, tx: Some(tx), atr, caps: *caps, features, sent })
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        let card = self.card.as_mut().ok_or(TransportError::CardRemoved)?;
        card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)?;
        let (atr, caps) = Self::identify(card, &self.features)?;
        self.atr = atr;
        self.caps = caps;
        Ok(())
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        let card = self.card.as_mut().ok_or(TransportError::CardRemoved)?;
        card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::ResetCard)?;
        let (atr, caps) = Self::identify(card, &self.features)?;
        self.atr = atr;
        self.caps = caps;
        Ok(())
    }

    fn apdus_sent(&self) -> u64 {
        self.sent
    }
}

/// Readers through pcscd. Every connection has its own context: pcsc-lite
/// serialises the calls of one context, and the monitor's is blocked in
/// `SCardGetStatusChange`.
///
/// It keeps what each reader said of itself when it appeared
/// ([`Backend::features`]), so that connecting to its cards asks it again
/// only for a reader it never asked.
#[derive(Debug, Default, Clone)]
pub struct PcscBackend {
    known: Arc<std::sync::Mutex<std::collections::HashMap<String, ReaderFeatures>>>,
}

impl PcscBackend {
    fn known(&self, reader: &str) -> Option<ReaderFeatures> {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(reader).cloned()
    }
}

impl Backend for PcscBackend {
    type Connection = PcscConnection;
    type Monitor = PcscMonitor;

    fn connect(&self, reader: &str) -> Result<PcscConnection, TransportError> {
        let ctx = Context::establish(Scope::User)?;
        PcscConnection::connect_knowing(&ctx, reader, self.known(reader))
    }

    fn monitor(&self) -> Result<PcscMonitor, TransportError> {
        let ctx = Context::establish(Scope::User)?;
        let pnp = ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE);
        Ok(PcscMonitor { ctx, states: vec![pnp] })
    }

    /// Through a direct connection, which needs no card.
    fn features(&self, reader: &str) -> ReaderFeatures {
        let direct = Context::establish(Scope::User).and_then(|ctx| {
            let name = CString::new(reader).map_err(|_| pcsc::Error::UnknownReader)?;
            ctx.connect(&name, ShareMode::Direct, Protocols::UNDEFINED)
        });
        match direct {
            Ok(card) => {
                let features = read_features(&card);
                if let Err((card, _)) = card.disconnect(Disposition::LeaveCard) {
                    // Dropping the handle pcsc gives back would reset the card.
                    std::mem::forget(card);
                }
                let mut known = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                known.insert(reader.to_owned(), features.clone());
                features
            }
            Err(e) => {
                // Not kept: a connection to its card asks the reader itself.
                tracing::debug!(reader, "no direct connection to ask the reader's features: {e}");
                ReaderFeatures::default()
            }
        }
    }
}

/// One `SCardGetStatusChange` over every reader and the PnP pseudo-reader,
/// with no timeout; `SCardCancel` wakes it. When pcscd goes away the old
/// context answers `NoService` forever (pcsc-rust issue 21): make a new
/// monitor.
pub struct PcscMonitor {
    ctx: Context,
    /// The PnP pseudo-reader first, then the readers last asked about.
    states: Vec<ReaderState>,
}

impl PcscMonitor {
    /// Keeps a state for each reader in `readers`, in that order, carrying
    /// over what was seen of readers already watched.
    fn track(&mut self, readers: &[String]) {
        let same = self.states.len() == readers.len() + 1
            && self.states[1..].iter().zip(readers).all(|(s, r)| s.name().to_bytes() == r.as_bytes());
        if same {
            return;
        }
        let mut old: Vec<ReaderState> = self.states.drain(1..).collect();
        for reader in readers {
            match old.iter().position(|s| s.name().to_bytes() == reader.as_bytes()) {
                Some(i) => self.states.push(old.swap_remove(i)),
                None => {
                    if let Ok(name) = CString::new(reader.as_str()) {
                        self.states.push(ReaderState::new(name, State::UNAWARE));
                    }
                }
            }
        }
    }
}

impl ReaderMonitor for PcscMonitor {
    fn list_readers(&mut self) -> Result<Vec<String>, TransportError> {
        list_readers(&self.ctx)
    }

    fn wait(&mut self, readers: &[String]) -> Result<Observation, WaitError> {
        self.track(readers);
        for state in self.states.iter_mut() {
            state.sync_current_state();
        }
        // A state still UNAWARE (the first wait, a new reader) answers at once.
        match self.ctx.get_status_change(None, &mut self.states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(pcsc::Error::Cancelled) => return Err(WaitError::Cancelled),
            Err(pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable) => return Err(WaitError::ReaderGone),
            Err(e) => {
                tracing::debug!("SCardGetStatusChange: {e}");
                return Err(WaitError::ServiceLost);
            }
        }
        let readers_changed = self.states[0].event_state().contains(State::CHANGED);
        let slots = self.states[1..]
            .iter()
            .map(|s| {
                let now = s.event_state();
                let present = now.contains(State::PRESENT) && !now.contains(State::MUTE);
                SlotState { present, atr: if present { s.atr().to_vec() } else { Vec::new() }, events: s.event_count() }
            })
            .collect();
        Ok(Observation { readers_changed, slots })
    }

    fn canceller(&self) -> Arc<dyn Fn() + Send + Sync> {
        let ctx = self.ctx.clone();
        Arc::new(move || {
            let _ = ctx.cancel();
        })
    }
}
