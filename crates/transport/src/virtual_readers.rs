//! Readers in this process: a [`Backend`] whose cards are [`VirtualCard`]s
//! (the reference simulator), for tests of the service that need neither
//! pcscd nor root. It keeps PC/SC's rules that the service relies on:
//! transactions exclude each other, a reset shows on every connection
//! until it reconnects, a removal ends every connection to the card, and
//! the monitor wakes on every insertion and removal.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use zeroize::Zeroizing;

use super::in_process::caps_of;
use super::part10::{PinPadEntry, PinPadRequest};
use super::t0;
use super::{
    Backend, Capabilities, CardConnection, CardTransaction, Observation, ReaderFeatures, ReaderMonitor, SlotState,
    Transport, TransportError, VirtualCard, WaitError,
};

/// Something a test makes happen at a given command APDU of a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The card leaves before it answers.
    Remove,
    /// Another program (or a glitch) resets the card before it answers.
    Reset,
    /// The card carries the command out, and leaves before its answer
    /// reaches the reader (as `sscard-sim --remove-after` does).
    RemoveUnanswered,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the monitor waits on: a version that moves on every change.
#[derive(Default)]
struct Changes {
    state: Mutex<ChangeState>,
    moved: Condvar,
}

#[derive(Default)]
struct ChangeState {
    version: u64,
    readers_version: u64,
    cancels: u64,
    readers: Vec<(String, Arc<Slot>)>,
}

impl Changes {
    fn bump(&self, readers_changed: bool) {
        let mut s = lock(&self.state);
        s.version += 1;
        if readers_changed {
            s.readers_version += 1;
        }
        self.moved.notify_all();
    }
}

/// One reader.
struct Slot {
    card: Mutex<SlotCard>,
    status: Mutex<SlotState>,
    /// Whether a transaction holds the card; `released` wakes those waiting.
    in_transaction: Mutex<bool>,
    released: Condvar,
    changes: Arc<Changes>,
}

struct SlotCard {
    card: Option<Box<dyn VirtualCard>>,
    atr: Vec<u8>,
    insertion: u64,
    resets: u64,
    latency: Duration,
    /// Raw command APDUs the cards in this reader processed.
    processed: u64,
    faults: Vec<(u64, Fault)>,
    /// PINs pass through here too.
    log: Vec<Zeroizing<Vec<u8>>>,
    /// What the reader says of itself (PC/SC part 10).
    features: ReaderFeatures,
    /// What the holder will do at the reader's keypad, in order.
    keys: std::collections::VecDeque<PadKeys>,
    /// What the pad answers to a PIN of a length it does not take.
    length_refusal: [u8; 2],
    /// The PIN-pad requests the reader was given.
    pad_requests: Vec<PinPadRequest>,
}

/// One PIN's worth of what the holder does at a virtual reader's keypad.
#[derive(Clone)]
pub enum PadKeys {
    /// Digits, then the validation key.
    Digits(Zeroizing<String>),
    /// The cancel key.
    Cancel,
    /// Nothing, until the pad gives up.
    Nothing,
}

impl PadKeys {
    pub fn digits(pin: &str) -> PadKeys {
        PadKeys::Digits(Zeroizing::new(pin.to_owned()))
    }
}

impl SlotCard {
    /// The card's capabilities in this reader.
    fn caps(&self) -> Capabilities {
        let card = caps_of(&self.atr);
        Capabilities::of_card(card.protocol, card.extended_length, self.features.extended_apdu())
    }
}

impl SlotCard {
    /// A warm reset of the card inserted as `insertion`, which every
    /// connection then sees.
    fn reset_card(&mut self, insertion: u64) -> Result<(), TransportError> {
        if self.insertion != insertion {
            return Err(TransportError::CardRemoved);
        }
        let Some(c) = self.card.as_mut() else { return Err(TransportError::CardRemoved) };
        self.atr = c.reset();
        self.resets += 1;
        Ok(())
    }
}

impl Slot {
    fn set_status(&self, present: bool, atr: Vec<u8>) {
        {
            let mut s = lock(&self.status);
            s.present = present;
            s.atr = atr;
            s.events = s.events.wrapping_add(1);
        }
        self.changes.bump(false);
    }
}

/// The in-process readers. Cloning gives another handle on the same ones.
#[derive(Clone, Default)]
pub struct VirtualBackend {
    changes: Arc<Changes>,
}

impl VirtualBackend {
    pub fn new() -> VirtualBackend {
        VirtualBackend::default()
    }

    /// Plugs in an empty reader.
    pub fn add_reader(&self, name: &str) -> VirtualReader {
        let slot = Arc::new(Slot {
            card: Mutex::new(SlotCard {
                card: None,
                atr: Vec::new(),
                insertion: 0,
                resets: 0,
                latency: Duration::ZERO,
                processed: 0,
                faults: Vec::new(),
                log: Vec::new(),
                features: ReaderFeatures::default(),
                keys: std::collections::VecDeque::new(),
                length_refusal: [0x64, 0x03],
                pad_requests: Vec::new(),
            }),
            status: Mutex::new(SlotState::default()),
            in_transaction: Mutex::new(false),
            released: Condvar::new(),
            changes: Arc::clone(&self.changes),
        });
        lock(&self.changes.state).readers.push((name.to_owned(), Arc::clone(&slot)));
        self.changes.bump(true);
        VirtualReader { slot }
    }

    /// Unplugs a reader; its card goes with it.
    pub fn remove_reader(&self, name: &str) {
        let removed = {
            let mut s = lock(&self.changes.state);
            let before = s.readers.len();
            s.readers.retain(|(n, _)| n != name);
            before != s.readers.len()
        };
        if removed {
            self.changes.bump(true);
        }
    }

    fn slot(&self, name: &str) -> Option<Arc<Slot>> {
        lock(&self.changes.state).readers.iter().find(|(n, _)| n == name).map(|(_, s)| Arc::clone(s))
    }
}

/// A test's handle on one reader: it inserts and removes cards, slows them
/// down, injects faults and reads what they were sent.
#[derive(Clone)]
pub struct VirtualReader {
    slot: Arc<Slot>,
}

impl VirtualReader {
    /// Inserts a card (after taking out any card there, which the monitor
    /// sees as a removal and an insertion).
    pub fn insert(&self, mut card: impl VirtualCard + 'static) {
        if lock(&self.slot.card).card.take().is_some() {
            self.slot.set_status(false, Vec::new());
        }
        let atr = card.reset();
        {
            let mut c = lock(&self.slot.card);
            c.card = Some(Box::new(card));
            c.atr = atr.clone();
            c.insertion += 1;
        }
        self.slot.set_status(true, atr);
    }

    /// Takes the card out, transaction or not.
    pub fn remove(&self) {
        lock(&self.slot.card).card = None;
        self.slot.set_status(false, Vec::new());
    }

    /// Makes the reader say `features` of itself, as a PIN-pad or a
    /// short-APDU reader would; connections made afterwards follow them.
    pub fn set_features(&self, features: ReaderFeatures) {
        lock(&self.slot.card).features = features;
    }

    /// What the holder does at the keypad next, one entry a PIN (a CHANGE
    /// takes three: the current PIN, the new one, its confirmation). A pad
    /// with nothing queued waits until its timeout.
    pub fn type_on_pad(&self, keys: impl IntoIterator<Item = PadKeys>) {
        lock(&self.slot.card).keys.extend(keys);
    }

    /// Makes the pad answer a PIN of the wrong length with `sw` (`64 03` as
    /// SCM pads do, or `6B 80` as others do).
    pub fn set_pad_length_refusal(&self, sw: [u8; 2]) {
        lock(&self.slot.card).length_refusal = sw;
    }

    /// The PIN-pad requests the reader was given, in order.
    pub fn pad_requests(&self) -> Vec<PinPadRequest> {
        lock(&self.slot.card).pad_requests.clone()
    }

    /// A delay before each command APDU the card answers.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.slot.card).latency = latency;
    }

    /// Makes `fault` happen instead of the answer to raw command APDU
    /// number `index` (counted from 0 over the reader's life).
    pub fn inject(&self, index: u64, fault: Fault) {
        lock(&self.slot.card).faults.push((index, fault));
    }

    /// Raw command APDUs the cards in this reader processed so far.
    pub fn processed(&self) -> u64 {
        lock(&self.slot.card).processed
    }

    /// Every raw command APDU processed, in order.
    pub fn log(&self) -> Vec<Zeroizing<Vec<u8>>> {
        lock(&self.slot.card).log.clone()
    }

    /// How many times the card was reset (by anyone) since it went in.
    pub fn resets(&self) -> u64 {
        lock(&self.slot.card).resets
    }

    /// Whether a transaction holds the card right now.
    pub fn in_transaction(&self) -> bool {
        *lock(&self.slot.in_transaction)
    }
}

impl Backend for VirtualBackend {
    type Connection = VirtualConnection;
    type Monitor = VirtualMonitor;

    fn connect(&self, reader: &str) -> Result<VirtualConnection, TransportError> {
        let slot = self.slot(reader).ok_or_else(|| TransportError::UnknownReader(reader.to_owned()))?;
        let (insertion, resets, atr, caps) = {
            let c = lock(&slot.card);
            if c.card.is_none() {
                return Err(TransportError::NoCard);
            }
            (c.insertion, c.resets, c.atr.clone(), c.caps())
        };
        Ok(VirtualConnection { slot, insertion, resets, atr, caps, sent: 0 })
    }

    fn features(&self, reader: &str) -> ReaderFeatures {
        self.slot(reader).map(|slot| lock(&slot.card).features.clone()).unwrap_or_default()
    }

    fn monitor(&self) -> Result<VirtualMonitor, TransportError> {
        let cancels = lock(&self.changes.state).cancels;
        Ok(VirtualMonitor {
            changes: Arc::clone(&self.changes),
            asked: Vec::new(),
            seen: None,
            seen_readers: None,
            cancels,
        })
    }
}

/// A connection to the card in one in-process reader.
pub struct VirtualConnection {
    slot: Arc<Slot>,
    insertion: u64,
    resets: u64,
    atr: Vec<u8>,
    caps: Capabilities,
    sent: u64,
}

impl CardConnection for VirtualConnection {
    type Transaction<'a> = VirtualTransaction<'a>;

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// Waits while another connection's transaction holds the card.
    fn begin(&mut self) -> Result<VirtualTransaction<'_>, TransportError> {
        let VirtualConnection { slot, insertion, resets, atr, caps, sent } = self;
        let mut held = lock(&slot.in_transaction);
        while *held {
            held = slot.released.wait(held).unwrap_or_else(PoisonError::into_inner);
        }
        {
            let card = lock(&slot.card);
            if card.card.is_none() || card.insertion != *insertion {
                return Err(TransportError::CardRemoved);
            }
            if card.resets != *resets {
                return Err(TransportError::CardReset);
            }
        }
        *held = true;
        Ok(VirtualTransaction { slot, insertion: *insertion, resets: *resets, atr, caps: *caps, sent })
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        let card = lock(&self.slot.card);
        if card.card.is_none() || card.insertion != self.insertion {
            return Err(TransportError::CardRemoved);
        }
        self.resets = card.resets;
        self.atr = card.atr.clone();
        self.caps = card.caps();
        Ok(())
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        let mut card = lock(&self.slot.card);
        card.reset_card(self.insertion)?;
        self.resets = card.resets;
        self.atr = card.atr.clone();
        self.caps = card.caps();
        Ok(())
    }

    fn apdus_sent(&self) -> u64 {
        self.sent
    }
}

/// A transaction: it holds the reader's card until it ends.
pub struct VirtualTransaction<'a> {
    slot: &'a Slot,
    insertion: u64,
    /// The resets the card had had when the transaction began: one more,
    /// and every later command answers `CardReset`, as PC/SC does.
    resets: u64,
    atr: &'a [u8],
    caps: Capabilities,
    sent: &'a mut u64,
}

impl Drop for VirtualTransaction<'_> {
    fn drop(&mut self) {
        *lock(&self.slot.in_transaction) = false;
        self.slot.released.notify_all();
    }
}

impl Transport for VirtualTransaction<'_> {
    fn atr(&self) -> &[u8] {
        self.atr
    }

    /// The keypad as a pad with the reader's features would act: each PIN
    /// from the queued keys, checked for its length, the new one against
    /// its confirmation, then written into the command for the card.
    fn pin_pad(&mut self, request: &PinPadRequest) -> Result<Vec<u8>, TransportError> {
        let (entries, refusal) = {
            let mut card = lock(&self.slot.card);
            if !card.features.pin_pad() {
                return Err(TransportError::NoPinPad);
            }
            card.pad_requests.push(request.clone());
            let wanted = match request.entry {
                PinPadEntry::Verify { .. } => 1,
                PinPadEntry::Modify { .. } => 3,
            };
            let mut entries: Vec<Zeroizing<String>> = Vec::new();
            let mut refusal = None;
            for _ in 0..wanted {
                match card.keys.pop_front() {
                    Some(PadKeys::Digits(pin)) => {
                        let digits = u8::try_from(pin.len()).unwrap_or(u8::MAX);
                        if !(request.min_digits..=request.max_digits).contains(&digits) {
                            refusal = Some(card.length_refusal.to_vec());
                            break;
                        }
                        entries.push(pin);
                    }
                    Some(PadKeys::Cancel) => {
                        refusal = Some(vec![0x64, 0x01]);
                        break;
                    }
                    Some(PadKeys::Nothing) | None => {
                        refusal = Some(vec![0x64, 0x00]);
                        break;
                    }
                }
            }
            if refusal.is_none() && entries.len() == 3 && entries[1].as_str() != entries[2].as_str() {
                refusal = Some(vec![0x64, 0x02]);
            }
            (entries, refusal)
        };
        if let Some(sw) = refusal {
            *self.sent += 1;
            return Ok(sw);
        }
        let pins: Vec<&[u8]> = entries.iter().take(2).map(|p| p.as_bytes()).collect();
        let command =
            request.fill(&pins).ok_or_else(|| TransportError::Pcsc("the PIN does not fit the command".into()))?;
        self.transmit(&command)
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let slot = self.slot;
        let insertion = self.insertion;
        let resets = self.resets;
        let mut removed = false;
        let answer = t0::exchange(self.caps, self.sent, command, &mut |raw| {
            let latency = lock(&slot.card).latency;
            if !latency.is_zero() {
                std::thread::sleep(latency);
            }
            let mut guard = lock(&slot.card);
            let card = &mut *guard;
            if card.insertion != insertion {
                return Err(TransportError::CardRemoved);
            }
            if card.resets != resets {
                return Err(TransportError::CardReset);
            }
            let index = card.processed;
            if let Some(at) = card.faults.iter().position(|(i, _)| *i == index) {
                let (_, fault) = card.faults.remove(at);
                match fault {
                    Fault::Remove => {
                        card.card = None;
                        removed = true;
                        return Err(TransportError::CardRemoved);
                    }
                    Fault::Reset => {
                        if let Some(c) = card.card.as_mut() {
                            card.atr = c.reset();
                        }
                        card.resets += 1;
                        return Err(TransportError::CardReset);
                    }
                    Fault::RemoveUnanswered => {
                        if let Some(mut c) = card.card.take() {
                            card.processed += 1;
                            card.log.push(Zeroizing::new(raw.to_vec()));
                            let _lost = c.process(raw);
                        }
                        removed = true;
                        return Err(TransportError::CardRemoved);
                    }
                }
            }
            let Some(c) = card.card.as_mut() else { return Err(TransportError::CardRemoved) };
            card.processed += 1;
            card.log.push(Zeroizing::new(raw.to_vec()));
            Ok(c.process(raw))
        });
        if removed {
            // The monitor learns of it as pcscd's would.
            self.slot.set_status(false, Vec::new());
        }
        answer
    }

    fn apdus_sent(&self) -> u64 {
        *self.sent
    }
}

impl CardTransaction for VirtualTransaction<'_> {
    fn end(self) -> Result<(), TransportError> {
        Ok(())
    }

    fn end_with_reset(self) -> Result<(), TransportError> {
        lock(&self.slot.card).reset_card(self.insertion)
    }
}

/// Waits for the in-process readers to change.
pub struct VirtualMonitor {
    changes: Arc<Changes>,
    /// The readers asked about last time: a new one answers at once.
    asked: Vec<String>,
    seen: Option<u64>,
    seen_readers: Option<u64>,
    cancels: u64,
}

impl ReaderMonitor for VirtualMonitor {
    fn list_readers(&mut self) -> Result<Vec<String>, TransportError> {
        Ok(lock(&self.changes.state).readers.iter().map(|(n, _)| n.clone()).collect())
    }

    fn wait(&mut self, readers: &[String]) -> Result<Observation, WaitError> {
        let new_reader = readers.iter().any(|r| !self.asked.contains(r));
        let mut state = lock(&self.changes.state);
        loop {
            if state.cancels != self.cancels {
                self.cancels = state.cancels;
                return Err(WaitError::Cancelled);
            }
            if new_reader || self.seen != Some(state.version) {
                break;
            }
            state = self.changes.moved.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        let mut slots = Vec::with_capacity(readers.len());
        for name in readers {
            let Some((_, slot)) = state.readers.iter().find(|(n, _)| n == name) else {
                return Err(WaitError::ReaderGone);
            };
            slots.push(lock(&slot.status).clone());
        }
        // Marked seen only once the observation is whole.
        self.seen = Some(state.version);
        let readers_changed = self.seen_readers != Some(state.readers_version);
        self.seen_readers = Some(state.readers_version);
        self.asked = readers.to_vec();
        Ok(Observation { readers_changed, slots })
    }

    fn canceller(&self) -> Arc<dyn Fn() + Send + Sync> {
        let changes = Arc::clone(&self.changes);
        Arc::new(move || {
            lock(&changes.state).cancels += 1;
            changes.moved.notify_all();
        })
    }
}
