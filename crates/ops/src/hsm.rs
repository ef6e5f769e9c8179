//! Operations whose keys sit in the client's back end (an encryption
//! machine, HSM), in steps: `docs/unified-interface.md` section 7. The
//! profile's `hsm-*` scripts say what each step sends, hands out (`yield`)
//! and waits for (`await`); this module runs them one step at a time and
//! turns the last step's captures into the operation's answer. Nothing
//! here computes a cryptogram: the scripts compare and relay bytes.

use super::{
    CardInfo, Engine, Fci, HolderRecordUpdate, OpError, Photo, Pin, PinStatus, ScriptId, Values, card_state,
    decode_elements, var,
};
use sscard_contract::keys::hsm::operation;
use sscard_script::{Cards, Outputs, Paused, Profile, RunError, run_from};

/// An HSM session's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HsmOperation {
    /// `iReadCardBas_HSM`: EF05 and EF06, with INTERNAL AUTHENTICATE.
    ReadBasic,
    /// `iReadCard_HSM`: EF05 and EF06 (and the photo) after external
    /// authentication with the read key.
    Read { photo: bool },
    /// `iWriteCard_HSM`: records after external authentication with the
    /// write key.
    Write,
    /// `iReloadPIN_HSM`: RELOAD PIN with the back end's MAC.
    ReloadPin,
    /// `iUnblockPIN_HSM`: UNBLOCK PIN with the back end's MAC.
    UnblockPin,
}

impl HsmOperation {
    /// The operation `BeginHsm` names: `read_basic`, `read`, `write`,
    /// `reload_pin` or `unblock_pin`.
    pub fn parse(name: &str, photo: bool) -> Option<HsmOperation> {
        Some(match name {
            operation::READ_BASIC => HsmOperation::ReadBasic,
            operation::READ => HsmOperation::Read { photo },
            operation::WRITE => HsmOperation::Write,
            operation::RELOAD_PIN => HsmOperation::ReloadPin,
            operation::UNBLOCK_PIN => HsmOperation::UnblockPin,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            HsmOperation::ReadBasic => operation::READ_BASIC,
            HsmOperation::Read { .. } => operation::READ,
            HsmOperation::Write => operation::WRITE,
            HsmOperation::ReloadPin => operation::RELOAD_PIN,
            HsmOperation::UnblockPin => operation::UNBLOCK_PIN,
        }
    }

    /// The operation's name in the audit trail.
    pub fn audit_name(self) -> &'static str {
        match self {
            HsmOperation::ReadBasic => "HsmReadBasic",
            HsmOperation::Read { .. } => "HsmRead",
            HsmOperation::Write => "HsmWrite",
            HsmOperation::ReloadPin => "HsmReloadPin",
            HsmOperation::UnblockPin => "HsmUnblockPin",
        }
    }

    fn script(self) -> ScriptId {
        match self {
            HsmOperation::ReadBasic => ScriptId::HsmReadBasic,
            HsmOperation::Read { .. } => ScriptId::HsmRead,
            HsmOperation::Write => ScriptId::HsmWrite,
            HsmOperation::ReloadPin => ScriptId::HsmReloadPin,
            HsmOperation::UnblockPin => ScriptId::HsmUnblockPin,
        }
    }
}

/// What the client gives at a step after the first: the named byte values
/// the step awaits, the new PIN (reload) and the record (write).
#[derive(Default)]
pub struct HsmInput {
    pub fields: Values,
    /// The names in `fields`.
    pub names: Vec<String>,
    pub new_pin: Option<Pin>,
    pub record: Option<Box<HolderRecordUpdate>>,
}

impl std::fmt::Debug for HsmInput {
    /// The names only: never a value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmInput")
            .field("names", &self.names)
            .field("new_pin", &self.new_pin.is_some())
            .field("record", &self.record.is_some())
            .finish()
    }
}

/// A step's answer.
pub enum HsmStep {
    /// The values handed to the client, and the names its next step must
    /// give.
    Handover { outputs: Outputs, awaits: Vec<String> },
    /// The last step of a read.
    CardInfo(Box<CardInfo>),
    /// The last step of a write, reload or unblock.
    Done,
}

impl HsmStep {
    /// Whether the session has ended with this step.
    pub fn is_last(&self) -> bool {
        !matches!(self, HsmStep::Handover { .. })
    }
}

impl std::fmt::Debug for HsmStep {
    /// Names only: the values are the back end's business.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HsmStep::Handover { outputs, awaits } => f
                .debug_struct("Handover")
                .field("outputs", &outputs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
                .field("awaits", awaits)
                .finish(),
            HsmStep::CardInfo(_) => f.write_str("CardInfo"),
            HsmStep::Done => f.write_str("Done"),
        }
    }
}

/// A session between its steps: where its script waits and what it holds.
pub struct HsmSession {
    pub operation: HsmOperation,
    profile: String,
    fci: Fci,
    values: Values,
    paused: Option<Paused>,
    record: Option<Box<HolderRecordUpdate>>,
}

impl std::fmt::Debug for HsmSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmSession")
            .field("operation", &self.operation)
            .field("profile", &self.profile)
            .field("paused", &self.paused)
            .finish_non_exhaustive()
    }
}

impl HsmSession {
    /// The card's profile.
    pub fn profile(&self) -> &str {
        &self.profile
    }
}

/// Runs an HSM script of `profile` from `start`, with its constants.
fn run_step(
    profile: &Profile,
    cards: &mut Cards<'_>,
    id: ScriptId,
    mut values: Values,
    start: usize,
) -> Result<sscard_script::Progress, RunError> {
    // A session keeps its connection, so every step sees the same stand-in.
    let extended = cards.card.capabilities().extended_length;
    let Some(script) = profile.script_for(id.name(), extended) else {
        return Err(RunError::MissingScript { file: format!("{}/{}.apdu", profile.dir.display(), id.name()) });
    };
    for (constant, bytes) in &profile.constants {
        values.set(constant, bytes.clone());
    }
    run_from(script, &profile.status, cards, values, start, &mut |_| {})
}

/// A step's values that are not the ones it takes: the national
/// interface's malformed `pKey` (-14).
fn bad(message: String) -> OpError {
    OpError::BadInput {
        field: sscard_contract::keys::args::ARGS.to_owned(),
        rule: sscard_contract::rule::MALFORMED,
        message,
    }
}

impl Engine {
    /// Step1: recognises the card and runs the operation's script up to
    /// its first `await`.
    pub fn hsm_begin(&self, cards: &mut Cards<'_>, operation: HsmOperation) -> Result<(HsmSession, HsmStep), OpError> {
        let (profile, fci) = {
            let s = self.identify(cards)?;
            (s.profile, s.fci)
        };
        let mut values = Values::new();
        if operation == HsmOperation::ReadBasic {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(|e| OpError::Internal(format!("no randomness: {e}")))?;
            values.set(var::RANDOM, random.to_vec());
        }
        let mut session = HsmSession {
            operation,
            profile: profile.name.clone(),
            fci,
            values: Values::new(),
            paused: None,
            record: None,
        };
        let step = self.hsm_advance(profile, cards, &mut session, values, 0)?;
        Ok((session, step))
    }

    /// A later step: checks what the client gave against what the step
    /// awaits, before any APDU, then runs the script to its next `await` or
    /// its end.
    pub fn hsm_continue(
        &self,
        cards: &mut Cards<'_>,
        session: &mut HsmSession,
        input: HsmInput,
    ) -> Result<HsmStep, OpError> {
        let profile = self
            .profile(&session.profile)
            .ok_or_else(|| OpError::Internal(format!("profile {} has gone", session.profile)))?;
        let Some(paused) = session.paused.take() else {
            return Err(bad("the session has no step left".into()));
        };
        let HsmInput { fields, mut names, new_pin, record } = input;
        if new_pin.is_some() {
            names.push(var::NEW_PIN.to_owned());
        }
        let takes = || if paused.awaits.is_empty() { "nothing".to_owned() } else { paused.awaits.join(", ") };
        if let Some(missing) = paused.awaits.iter().find(|a| !names.contains(a)) {
            return Err(bad(format!("{missing}: missing (this step takes {})", takes())));
        }
        if let Some(extra) = names.iter().find(|n| !paused.awaits.contains(n)) {
            return Err(bad(format!("{extra}: not taken by this step (it takes {})", takes())));
        }
        let wants_record = session.operation == HsmOperation::Write && session.record.is_none();
        match (record, wants_record) {
            (Some(update), true) => {
                self.check_record(&update, Some(&profile.name))?;
                session.record = Some(update);
            }
            (None, true) => return Err(bad("record: this step writes a record, and none was given".into())),
            (Some(_), false) => return Err(bad("record: not taken by this step".into())),
            (None, false) => {}
        }
        let mut values = std::mem::take(&mut session.values);
        values.absorb(fields);
        if let Some(pin) = new_pin {
            self.new_pin_rules(&pin, Some(profile))?;
            values.put(var::NEW_PIN, pin.to_bcd());
        }
        self.hsm_advance(profile, cards, session, values, paused.next)
    }

    fn hsm_advance(
        &self,
        profile: &Profile,
        cards: &mut Cards<'_>,
        session: &mut HsmSession,
        values: Values,
        start: usize,
    ) -> Result<HsmStep, OpError> {
        let progress =
            run_step(profile, cards, session.operation.script(), values, start).map_err(OpError::from_run)?;
        let sscard_script::Progress { finished, outputs, paused } = progress;
        if let Some(paused) = paused {
            let awaits = paused.awaits.clone();
            session.values = finished.values;
            session.paused = Some(paused);
            return Ok(HsmStep::Handover { outputs, awaits });
        }
        let mut values = finished.values;
        match session.operation {
            HsmOperation::ReadBasic | HsmOperation::Read { .. } => {
                let photo = if session.operation == (HsmOperation::Read { photo: true }) {
                    let mut done = run_step(profile, cards, ScriptId::PhotoData, Values::new(), 0)
                        .map_err(OpError::from_run)?
                        .finished;
                    done.values.take(var::PHOTO_FILE).and_then(|f| Photo::from_file_bytes(&f))
                } else {
                    None
                };
                let (issuer, holder) = decode_elements(&mut values)?;
                let state = card_state(&holder, &session.fci);
                let atr_historical = sscard_transport::Atr::parse(cards.card.atr()).historical;
                let authenticated = session.operation == HsmOperation::ReadBasic;
                Ok(HsmStep::CardInfo(Box::new(CardInfo {
                    issuer,
                    holder,
                    state,
                    pin: PinStatus::default(),
                    profile: profile.name.clone(),
                    atr_historical,
                    terminal_number: None,
                    photo,
                    authenticated,
                })))
            }
            HsmOperation::Write => {
                let Some(update) = session.record.take() else {
                    return Err(OpError::Internal("no record to write".into()));
                };
                let (ef05, ef06) = update.records();
                for (script, records) in [(ScriptId::WriteEf05, &ef05), (ScriptId::WriteEf06, &ef06)] {
                    for record in records {
                        let mut v = Values::new();
                        v.set(var::TAG, vec![record.tag]);
                        v.set(var::TLV, record.to_tlv());
                        run_step(profile, cards, script, v, 0).map_err(OpError::from_run)?;
                    }
                }
                if let Some(photo) = &update.photo {
                    let mut v = Values::new();
                    v.set(var::PHOTO_FILE, photo.to_file_bytes());
                    run_step(profile, cards, ScriptId::WritePhoto, v, 0).map_err(OpError::from_run)?;
                }
                Ok(HsmStep::Done)
            }
            HsmOperation::ReloadPin | HsmOperation::UnblockPin => Ok(HsmStep::Done),
        }
    }
}
