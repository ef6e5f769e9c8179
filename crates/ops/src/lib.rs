//! The operations layer: typed operations that join the data model with
//! the profile scripts. It validates every input before the first APDU,
//! recognises the card, runs the profile's scripts over the card and the
//! PSAM, and turns status words into typed outcomes.
//!
//! The caller owns the connections and their transactions: one operation
//! here is meant to run inside one PC/SC transaction on each card.

mod error;
mod hsm;
mod info;

use std::path::Path;

pub use error::{OpError, PinPadError};
pub use hsm::{HsmInput, HsmOperation, HsmSession, HsmStep};
pub use info::InfoValue;
pub use info::{CardInfo, CardState, PinStatus};

use sscard_apdu::StatusWord;
use sscard_model::{
    DecodeError, EF05_ELEMENTS, EF06_ELEMENTS, ElementSpec, Fci, Field, Generation, HolderData, HolderRecordUpdate,
    IssuerData, LifeCycle, Photo, Pin, PinPolicy, Record, Ssn,
};
use sscard_script::{
    Cards, Effects, Finished, LoadError, Profile, RunError, Script, ScriptNeed, Slot, StatusClass, Values,
    load_profiles,
};

/// The scripts the operations run, by the file names of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScriptId {
    Identify,
    CardId,
    SamSelect,
    TerminalNumber,
    ReadCard,
    ReadCardPhoto,
    PinStatus,
    InternalAuth,
    ReadPhoto,
    PersonalizeBegin,
    WriteEf05,
    WriteEf06,
    WritePhoto,
    PersonalizeVerify,
    ReadEf05,
    ReadEf06,
    PhotoData,
    Verify,
    ChangePin,
    ReloadPin,
    UnblockPin,
    Activate,
    HsmReadBasic,
    HsmRead,
    HsmWrite,
    HsmReloadPin,
    HsmUnblockPin,
}

impl ScriptId {
    /// The script's file name without `.apdu`.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            ScriptId::Identify => "identify",
            ScriptId::CardId => "card-id",
            ScriptId::SamSelect => "sam-select",
            ScriptId::TerminalNumber => "terminal-number",
            ScriptId::ReadCard => "read-card",
            ScriptId::ReadCardPhoto => "read-card-photo",
            ScriptId::PinStatus => "pin-status",
            ScriptId::InternalAuth => "internal-auth",
            ScriptId::ReadPhoto => "read-photo",
            ScriptId::PersonalizeBegin => "personalize-begin",
            ScriptId::WriteEf05 => "write-ef05",
            ScriptId::WriteEf06 => "write-ef06",
            ScriptId::WritePhoto => "write-photo",
            ScriptId::PersonalizeVerify => "personalize-verify",
            ScriptId::ReadEf05 => "read-ef05",
            ScriptId::ReadEf06 => "read-ef06",
            ScriptId::PhotoData => "photo-data",
            ScriptId::Verify => "verify",
            ScriptId::ChangePin => "change-pin",
            ScriptId::ReloadPin => "reload-pin",
            ScriptId::UnblockPin => "unblock-pin",
            ScriptId::Activate => "activate",
            ScriptId::HsmReadBasic => "hsm-read-basic",
            ScriptId::HsmRead => "hsm-read",
            ScriptId::HsmWrite => "hsm-write",
            ScriptId::HsmReloadPin => "hsm-reload-pin",
            ScriptId::HsmUnblockPin => "hsm-unblock-pin",
        }
    }
}

/// The values passed between the operations and the scripts: inputs the
/// operations give and captures they read. The loader checks both against
/// every script, so a name here never misses at run time.
pub(crate) mod var {
    pub const FCI: &str = "fci";
    pub const EF05_01: &str = "ef05_01";
    pub const RECORD: &str = "record";
    pub const PHOTO_FILE: &str = "photo_file";
    pub const TERMINAL_NUMBER: &str = "terminal_number";
    pub const CARD_ANSWER: &str = "card_answer";
    pub const SAM_ANSWER: &str = "sam_answer";
    pub const TAG: &str = "tag";
    pub const TLV: &str = "tlv";
    pub const LE: &str = "le";
    pub const RANDOM: &str = "random";
    pub const PIN: &str = "pin";
    pub const OLD_PIN: &str = "old_pin";
    pub const NEW_PIN: &str = "new_pin";
    pub const INITIAL_PIN: &str = "initial_pin";
    /// What an HSM session's scripts hand out and wait for: the
    /// contract's names (`HsmSession1`), which the scripts use as theirs.
    pub use sscard_contract::keys::hsm;
    /// Every element record, as `read-card` captures them: `ef05_<tag>` and
    /// `ef06_<tag>`, in the order of the model's tables.
    pub const ELEMENTS: [&str; 14] = [
        "ef05_01", "ef05_02", "ef05_03", "ef05_04", "ef05_05", "ef05_06", "ef05_07", "ef06_08", "ef06_09", "ef06_4E",
        "ef06_0A", "ef06_0B", "ef06_0C", "ef06_0D",
    ];
    /// `read-card-photo`: the elements and the photo file.
    pub const ELEMENTS_AND_PHOTO: [&str; 15] = [
        "ef05_01", "ef05_02", "ef05_03", "ef05_04", "ef05_05", "ef05_06", "ef05_07", "ef06_08", "ef06_09", "ef06_4E",
        "ef06_0A", "ef06_0B", "ef06_0C", "ef06_0D", PHOTO_FILE,
    ];
}

/// What each operation runs, the inputs it gives each script and the
/// captures it reads. The loader checks every profile against this.
pub(crate) const SCRIPT_NEEDS: &[ScriptNeed] = &[
    need("identify", ScriptId::Identify, &[], &[var::FCI], true),
    need("identify", ScriptId::CardId, &[], &[var::EF05_01], true),
    need("any with sam: steps", ScriptId::SamSelect, &[], &[], true),
    need("read_card", ScriptId::TerminalNumber, &[], &[var::TERMINAL_NUMBER], true),
    need("read_card", ScriptId::ReadCard, &[], &var::ELEMENTS, true),
    need("read_card", ScriptId::ReadCardPhoto, &[], &var::ELEMENTS_AND_PHOTO, true),
    need("read_card", ScriptId::PinStatus, &[], &[], true),
    need("read_card", ScriptId::InternalAuth, &[var::RANDOM, var::EF05_01], &[var::CARD_ANSWER, var::SAM_ANSWER], true),
    need("read_photo", ScriptId::ReadPhoto, &[], &[var::PHOTO_FILE], true),
    need("personalize", ScriptId::PersonalizeBegin, &[], &[var::EF05_01], true),
    need("personalize", ScriptId::WriteEf05, &[var::TAG, var::TLV], &[], true),
    need("personalize", ScriptId::WriteEf06, &[var::TAG, var::TLV], &[], true),
    need("personalize", ScriptId::WritePhoto, &[var::PHOTO_FILE], &[], true),
    need("personalize", ScriptId::PersonalizeVerify, &[var::EF05_01], &[], true),
    need("personalize", ScriptId::ReadEf05, &[var::TAG, var::LE], &[var::RECORD], true),
    need("personalize", ScriptId::ReadEf06, &[var::TAG, var::LE], &[var::RECORD], true),
    need("personalize", ScriptId::PhotoData, &[], &[var::PHOTO_FILE], true),
    need("verify_pin", ScriptId::Verify, &[var::PIN], &[], true),
    need("change_pin", ScriptId::ChangePin, &[var::OLD_PIN, var::NEW_PIN], &[], true),
    need("reload_pin", ScriptId::ReloadPin, &[var::NEW_PIN], &[], true),
    need("unblock_pin", ScriptId::UnblockPin, &[], &[], true),
    need("activate", ScriptId::Activate, &[var::INITIAL_PIN, var::NEW_PIN, var::EF05_01], &[], true),
    hsm_need(
        "hsm read_basic",
        ScriptId::HsmReadBasic,
        &[var::RANDOM, hv::INTERNAL_RESULT, hv::INTERNAL_ORIGINAL, hv::EXTERNAL_RESULT, hv::EXTERNAL_ORIGINAL],
        &var::ELEMENTS,
        &[
            hv::ALGORITHM,
            hv::CARD_ID,
            hv::INTERNAL_FACTOR,
            hv::INTERNAL_ORIGINAL,
            hv::EXTERNAL_FACTOR,
            hv::EXTERNAL_ORIGINAL,
        ],
    ),
    hsm_need(
        "hsm read",
        ScriptId::HsmRead,
        &[hv::CRYPTOGRAM, hv::ORIGINAL],
        &var::ELEMENTS,
        &[hv::ALGORITHM, hv::CARD_ID, hv::KEY, hv::FACTOR, hv::ORIGINAL],
    ),
    hsm_need(
        "hsm write",
        ScriptId::HsmWrite,
        &[hv::CRYPTOGRAM, hv::ORIGINAL],
        &[var::EF05_01],
        &[hv::ALGORITHM, hv::CARD_ID, hv::KEY, hv::FACTOR, hv::ORIGINAL],
    ),
    hsm_need(
        "hsm reload_pin",
        ScriptId::HsmReloadPin,
        &[var::NEW_PIN, hv::APDU],
        &[],
        &[hv::ALGORITHM, hv::CARD_ID, hv::KEY, hv::FACTOR, hv::CHALLENGE, hv::HEADER, hv::DATA],
    ),
    hsm_need(
        "hsm unblock_pin",
        ScriptId::HsmUnblockPin,
        &[hv::APDU],
        &[],
        &[hv::ALGORITHM, hv::CARD_ID, hv::KEY, hv::FACTOR, hv::CHALLENGE, hv::HEADER, hv::DATA],
    ),
];

use var::hsm as hv;

const fn need(
    operation: &'static str,
    script: ScriptId,
    gives: &'static [&'static str],
    reads: &'static [&'static str],
    required: bool,
) -> ScriptNeed {
    ScriptNeed { operation, script: script.name(), gives, reads, required, yields: &[] }
}

/// An HSM session's script: required, with the values it hands out.
const fn hsm_need(
    operation: &'static str,
    script: ScriptId,
    gives: &'static [&'static str],
    reads: &'static [&'static str],
    yields: &'static [&'static str],
) -> ScriptNeed {
    ScriptNeed { operation, script: script.name(), gives, reads, required: true, yields }
}

/// A finished operation, the command APDUs it sent to both cards, and
/// what its steps did to the card (declared by the scripts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done<T> {
    pub value: T,
    pub apdus: u64,
    pub effects: Effects,
}

/// An operation, by kind, for what can be told of it before any APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    ReadCard(ReadOptions),
    Personalize,
    PinStatus,
    VerifyPin,
    ChangePin,
    ReloadPin,
    UnblockPin,
    Activate,
}

/// `ReadCard`'s options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    pub photo: bool,
    /// Run INTERNAL AUTHENTICATE against the PSAM.
    pub authenticate: bool,
}

/// `VerifyPin`'s answer: a wrong PIN is an outcome, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOutcome {
    pub ok: bool,
    pub tries_left: u8,
}

/// What `personalise` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personalized {
    /// SHA-256 of the written `tag len value` bytes (and the photo file),
    /// lower-case hex.
    pub digest: String,
}

/// The loaded profiles and the operations over them.
#[derive(Debug, Clone)]
pub struct Engine {
    profiles: Vec<Profile>,
}

/// A recognised card, within one operation.
struct Session<'e, 'c, 'x> {
    profile: &'e Profile,
    fci: Fci,
    cards: &'x mut Cards<'c>,
    start: u64,
    sam_selected: bool,
}

/// What the card in a reader is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// A social security card that this profile fits, with its identifier
    /// and its card number (EF05 tag 07) when it has one.
    SocialSecurity { profile: String, card_id: Option<sscard_model::CardId>, card_number: Option<String> },
    /// A PSAM: it answered SELECT of a profile's PSAM application.
    Psam { profile: String },
    /// Anything else.
    Unknown,
}

impl Engine {
    /// Loads and checks every profile under `dir`; a broken script is an
    /// error here, never at first use.
    pub fn load(dir: &Path) -> Result<Engine, LoadError> {
        Ok(Engine { profiles: load_profiles(dir, SCRIPT_NEEDS)? })
    }

    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// The new-PIN rules, stated once: those of the card's profile when
    /// it is known, else those of at least one profile, so that a PIN no
    /// card could take is refused before any APDU (the card's own rules
    /// apply again once it is identified).
    fn new_pin_rules(&self, pin: &Pin, card: Option<&Profile>) -> Result<(), OpError> {
        if let Some(profile) = card {
            return policy(profile).check_new_pin(pin, Field::NewPin).map_err(OpError::InvalidArgument);
        }
        let mut first_error = None;
        for p in &self.profiles {
            match policy(p).check_new_pin(pin, Field::NewPin) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.map_or(OpError::Internal("no profiles".into()), OpError::InvalidArgument))
    }

    /// Selects the application and finds the profile that fits the card.
    fn identify<'e, 'c, 'x>(&'e self, cards: &'x mut Cards<'c>) -> Result<Session<'e, 'c, 'x>, OpError> {
        let start = cards.apdus_sent();
        let mut tried_aids: Vec<&[u8]> = Vec::new();
        let mut selected = None;
        for profile in &self.profiles {
            if tried_aids.contains(&profile.identify.aid.as_slice()) {
                continue;
            }
            tried_aids.push(&profile.identify.aid);
            match run_script(profile, cards, ScriptId::Identify, Values::new()) {
                Ok(done) => {
                    selected = Some(done);
                    break;
                }
                Err(RunError::Status { class: StatusClass::NotFound, .. }) => continue,
                Err(e) => return Err(OpError::from_run(e)),
            }
        }
        let Some(mut done) = selected else { return Err(OpError::NotSocialSecurityCard) };
        let fci_bytes = done.values.take(var::FCI).unwrap_or_default();
        let fci = Fci::parse(&fci_bytes)
            .ok_or_else(|| OpError::NotSupported("SELECT of the application answered without an FCI".into()))?;
        let candidates: Vec<&Profile> = self
            .profiles
            .iter()
            .filter(|p| {
                Some(p.identify.algorithm) == fci.algorithm
                    && p.identify.life_cycle == fci.lcs.is_some()
                    && fci.df_name.as_deref().is_none_or(|n| n == p.identify.aid)
            })
            .collect();
        let profile = match candidates[..] {
            [] => {
                return Err(OpError::NotSupported(format!(
                    "no profile fits this card (algorithm {}, life cycle {})",
                    fci.algorithm.map_or("none".into(), |a| format!("{a:02X}")),
                    if fci.lcs.is_some() { "present" } else { "absent" }
                )));
            }
            [one] => one,
            [first, ..] => {
                // Several fit the FCI: EF05 tag 03 decides.
                let mut values = Values::new();
                values.set(var::TAG, vec![0x03]);
                values.set(var::LE, vec![0x06]);
                let read = run_script(first, cards, ScriptId::ReadEf05, values).map_err(OpError::from_run)?;
                let version = read
                    .values
                    .get(var::RECORD)
                    .and_then(|r| {
                        sscard_model::decode_ascii_fixed(r.get(2..).unwrap_or_default(), Field::SpecVersion).ok()
                    })
                    .flatten();
                let chosen =
                    version.and_then(|v| candidates.iter().find(|p| p.identify.spec_version.as_str() == v).copied());
                chosen.ok_or_else(|| {
                    OpError::NotSupported(
                        "several profiles fit this card and EF05 tag 03 does not tell them apart".into(),
                    )
                })?
            }
        };
        Ok(Session { profile, fci, cards, start, sam_selected: false })
    }

    /// A new PIN: the rules of the card's profile when it is known, else of
    /// at least one profile (the card's own are applied again on the card).
    pub fn check_new_pin(&self, pin: &Pin, card_profile: Option<&str>) -> Result<(), OpError> {
        self.new_pin_rules(pin, card_profile.and_then(|name| self.profile(name)))
    }

    /// Whether `operation` needs the PSAM on a card of `card_profile`: its
    /// scripts have `sam:` steps. Known from the profile alone, so that a
    /// call without a PSAM is refused before any APDU.
    pub fn sam_required(&self, card_profile: &str, operation: OperationKind) -> bool {
        let Some(profile) = self.profile(card_profile) else { return false };
        let uses_sam = |id| uses_sam(profile, id);
        match operation {
            OperationKind::ReadCard(options) => {
                options.authenticate
                    || uses_sam(if options.photo { ScriptId::ReadCardPhoto } else { ScriptId::ReadCard })
            }
            OperationKind::Personalize => uses_sam(ScriptId::PersonalizeBegin),
            OperationKind::PinStatus | OperationKind::VerifyPin | OperationKind::ChangePin => false,
            OperationKind::ReloadPin => uses_sam(ScriptId::ReloadPin),
            OperationKind::UnblockPin => uses_sam(ScriptId::UnblockPin),
            OperationKind::Activate => uses_sam(ScriptId::ReadCard) || uses_sam(ScriptId::Activate),
        }
    }

    /// A personalisation the card could take: checked against the
    /// generation of the card's profile when it is known. Otherwise against
    /// the generation its `spec_version` names, or else every profile's,
    /// so that the refusal names the field that broke a rule for this card.
    pub fn check_record(&self, update: &HolderRecordUpdate, card_profile: Option<&str>) -> Result<(), OpError> {
        if update.is_empty() {
            return Err(OpError::EmptyRecord);
        }
        if let Some(profile) = card_profile.and_then(|name| self.profile(name)) {
            return update.validate(profile.generation).map_err(OpError::InvalidArgument);
        }
        let generations: Vec<Generation> = self.profiles.iter().map(|p| p.generation).collect();
        update.validate_for_any(&generations).map_err(OpError::InvalidArgument)
    }

    /// Tells what the card is: a social security card (with its profile
    /// and identifier), a PSAM, or neither. Spends no PIN try.
    pub fn classify(&self, card: &mut dyn sscard_transport::Transport) -> Result<Done<Classification>, OpError> {
        let start = card.apdus_sent();
        let mut cards = Cards::new(card, None);
        match self.card_identity(&mut cards) {
            Ok(done) => return Ok(done),
            Err(OpError::NotSocialSecurityCard | OpError::NotSupported(_) | OpError::Card { .. }) => {}
            Err(e) => return Err(e),
        }
        let card = cards.card;
        let mut tried: Vec<&[u8]> = Vec::new();
        for profile in &self.profiles {
            let aid = profile.constants.get("psam_aid").map(Vec::as_slice);
            if aid.is_some_and(|a| tried.contains(&a)) {
                continue;
            }
            tried.extend(aid);
            let mut no_user_card = sscard_transport::Absent;
            let mut as_sam = Cards::new(&mut no_user_card, Some(&mut *card));
            match run_script(profile, &mut as_sam, ScriptId::SamSelect, Values::new()) {
                Ok(_) => {
                    let value = Classification::Psam { profile: profile.name.clone() };
                    return Ok(Done { value, apdus: card.apdus_sent() - start, effects: Effects::default() });
                }
                Err(RunError::Status { .. }) => continue,
                Err(e) => return Err(OpError::from_run(e)),
            }
        }
        Ok(Done { value: Classification::Unknown, apdus: card.apdus_sent() - start, effects: Effects::default() })
    }

    /// SELECT, the card identifier (EF05 tag 01) and the card number (tag
    /// 07): to tell one card from another after a reset, and to name the
    /// card (hashed) in the audit trail.
    pub fn card_identity(&self, cards: &mut Cards<'_>) -> Result<Done<Classification>, OpError> {
        let mut s = self.identify(cards)?;
        let mut done = s.run(ScriptId::CardId, Values::new())?;
        let card_id = done
            .values
            .take(var::EF05_01)
            .and_then(|r| r.get(2..).and_then(|id| sscard_model::CardId::from_bytes(id).ok()));
        let number_spec = EF05_ELEMENTS.iter().find(|e| e.tag == 0x07);
        let card_number = match number_spec {
            Some(spec) => {
                let mut v = Values::new();
                v.set(var::TAG, vec![spec.tag]);
                v.set(var::LE, vec![(spec.len + 2) as u8]);
                // A blank card has no number; that is not an error here.
                match s.run_raw(ScriptId::ReadEf05, v) {
                    Ok(mut read) => read
                        .values
                        .take(var::RECORD)
                        .and_then(|r| Record::parse_tlv(&r, spec).ok())
                        .and_then(|r| IssuerData::decode(&[r]).ok())
                        .and_then(|i| i.card_number.map(|n| n.to_string())),
                    Err(RunError::Status { .. }) => None,
                    Err(e) => return Err(OpError::from_run(e)),
                }
            }
            None => None,
        };
        let value = Classification::SocialSecurity { profile: s.profile.name.clone(), card_id, card_number };
        s.finish(value)
    }

    /// `ReadCard`: EF05, EF06, the PIN counter, the terminal number, and
    /// optionally the photo and INTERNAL AUTHENTICATE.
    pub fn read_card(&self, cards: &mut Cards<'_>, options: ReadOptions) -> Result<Done<CardInfo>, OpError> {
        self.read_card_knowing(cards, options, None)
    }

    /// [`Engine::read_card`], given the terminal number of the PSAM in
    /// `cards` when the caller already read it from that PSAM (it cannot
    /// change while the PSAM stays in its reader): `terminal-number` is then
    /// not run, and the PSAM gets no command unless a script needs it.
    pub fn read_card_knowing(
        &self,
        cards: &mut Cards<'_>,
        options: ReadOptions,
        terminal_number: Option<&str>,
    ) -> Result<Done<CardInfo>, OpError> {
        let mut s = self.identify(cards)?;
        let info = s.read_card(options, true, terminal_number)?;
        s.finish(info)
    }

    /// The photo alone; `None` when EF08 holds none.
    pub fn read_photo(&self, cards: &mut Cards<'_>) -> Result<Done<Option<Photo>>, OpError> {
        let mut s = self.identify(cards)?;
        s.sam_for(ScriptId::ReadPhoto)?;
        let mut done = s.run(ScriptId::ReadPhoto, Values::new())?;
        let photo = done.values.take(var::PHOTO_FILE).and_then(|f| Photo::from_file_bytes(&f));
        s.finish(photo)
    }

    /// Personalises: validates, writes each element given and the photo,
    /// reads them back, compares, and returns the digest.
    pub fn personalize(
        &self,
        cards: &mut Cards<'_>,
        update: &HolderRecordUpdate,
    ) -> Result<Done<Personalized>, OpError> {
        // Refused before any APDU if no profile could take it; then for the card's own.
        self.check_record(update, None)?;
        let mut s = self.identify(cards)?;
        self.check_record(update, Some(&s.profile.name))?;
        s.sam_for(ScriptId::PersonalizeBegin)?;
        let mut begin = s.run(ScriptId::PersonalizeBegin, Values::new())?;
        let card_id = begin.values.take(var::EF05_01).unwrap_or_default();
        let (ef05, ef06) = update.records();
        for (script, records) in [(ScriptId::WriteEf05, &ef05), (ScriptId::WriteEf06, &ef06)] {
            for record in records {
                let mut v = Values::new();
                v.set(var::TAG, vec![record.tag]);
                v.set(var::TLV, record.to_tlv());
                s.run(script, v)?;
            }
        }
        if let Some(photo) = &update.photo {
            let mut v = Values::new();
            v.set(var::PHOTO_FILE, photo.to_file_bytes());
            s.run(ScriptId::WritePhoto, v)?;
        }
        let mut v = Values::new();
        v.set(var::EF05_01, card_id.to_vec());
        s.run(ScriptId::PersonalizeVerify, v)?;
        let mut read_back = (Vec::new(), Vec::new());
        for (script, specs, records, into) in [
            (ScriptId::ReadEf05, &EF05_ELEMENTS, &ef05, &mut read_back.0),
            (ScriptId::ReadEf06, &EF06_ELEMENTS, &ef06, &mut read_back.1),
        ] {
            for record in records {
                let spec: &ElementSpec =
                    specs.iter().find(|e| e.tag == record.tag).ok_or_else(|| OpError::Internal("tag".into()))?;
                let mut v = Values::new();
                v.set(var::TAG, vec![record.tag]);
                v.set(var::LE, vec![(spec.len + 2) as u8]);
                let mut done = s.run(script, v)?;
                let bytes = done.values.take(var::RECORD).unwrap_or_default();
                into.push(Record::parse_tlv(&bytes, spec).map_err(OpError::Decode)?);
            }
        }
        let photo_back = match update.photo {
            Some(_) => {
                let mut done = s.run(ScriptId::PhotoData, Values::new())?;
                done.values.take(var::PHOTO_FILE).and_then(|f| Photo::from_file_bytes(&f))
            }
            None => None,
        };
        let issuer = IssuerData::decode(&read_back.0).map_err(OpError::Decode)?;
        let holder = HolderData::decode(&read_back.1).map_err(OpError::Decode)?;
        let differs = update.mismatches(&issuer, &holder, photo_back.as_ref());
        if !differs.is_empty() {
            return Err(OpError::ReadBackMismatch(differs));
        }
        s.finish(Personalized { digest: update.digest_hex() })
    }

    /// The VERIFY with no data after a fresh SELECT; spends no try.
    pub fn pin_status(&self, cards: &mut Cards<'_>) -> Result<Done<PinStatus>, OpError> {
        let mut s = self.identify(cards)?;
        let status = s.pin_status()?;
        s.finish(status)
    }

    /// VERIFY. A wrong PIN is `ok: false` with the tries left; the try
    /// that blocks the PIN is `(false, 0)`. Refuses with `LastTry` at one
    /// try left unless `allow_last_try`.
    pub fn verify_pin(
        &self,
        cards: &mut Cards<'_>,
        pin: &PinEntry<&Pin>,
        allow_last_try: bool,
    ) -> Result<Done<VerifyOutcome>, OpError> {
        let mut s = self.identify(cards)?;
        s.before_spending_a_try(allow_last_try)?;
        let mut v = Values::new();
        match pin {
            PinEntry::Host(pin) => v.put(var::PIN, pin.to_bcd()),
            PinEntry::Keypad => v.from_keypad(var::PIN, keypad_digits(s.profile)),
        }
        let outcome = match s.run_raw(ScriptId::Verify, v) {
            Ok(_) => {
                // The counter after success, read after a fresh SELECT.
                s.rerun_identify()?;
                let tries_left = s.pin_status()?.tries_left;
                VerifyOutcome { ok: true, tries_left }
            }
            Err(RunError::Status { class: StatusClass::WrongPin { tries_left }, .. }) => {
                VerifyOutcome { ok: false, tries_left }
            }
            Err(RunError::Status { class: StatusClass::PinBlocked, .. }) => VerifyOutcome { ok: false, tries_left: 0 },
            Err(e) => return Err(OpError::from_run(e)),
        };
        s.finish(outcome)
    }

    /// CHANGE PIN; a wrong old PIN is `WrongPin`. The new-PIN rules see
    /// only a PIN the host holds: one typed on the keypad never reaches it.
    pub fn change_pin(
        &self,
        cards: &mut Cards<'_>,
        pins: &PinEntry<(&Pin, &Pin)>,
        allow_last_try: bool,
    ) -> Result<Done<()>, OpError> {
        if let PinEntry::Host((_, new_pin)) = pins {
            self.new_pin_rules(new_pin, None)?;
        }
        let mut s = self.identify(cards)?;
        if let PinEntry::Host((_, new_pin)) = pins {
            self.new_pin_rules(new_pin, Some(s.profile))?;
        }
        s.before_spending_a_try(allow_last_try)?;
        let mut v = Values::new();
        put_pins(&mut v, pins, var::OLD_PIN, s.profile);
        s.run_pin(ScriptId::ChangePin, v)?;
        s.finish(())
    }

    /// RELOAD PIN: the operator sets a forgotten PIN, with the PSAM's MAC.
    pub fn reload_pin(&self, cards: &mut Cards<'_>, new_pin: &Pin) -> Result<Done<()>, OpError> {
        self.new_pin_rules(new_pin, None)?;
        let mut s = self.identify(cards)?;
        self.new_pin_rules(new_pin, Some(s.profile))?;
        s.sam_for(ScriptId::ReloadPin)?;
        let mut v = Values::new();
        v.put(var::NEW_PIN, new_pin.to_bcd());
        s.run(ScriptId::ReloadPin, v)?;
        s.finish(())
    }

    /// UNBLOCK PIN: resets the try counter, with the PSAM's MAC.
    pub fn unblock_pin(&self, cards: &mut Cards<'_>) -> Result<Done<()>, OpError> {
        let mut s = self.identify(cards)?;
        s.sam_for(ScriptId::UnblockPin)?;
        s.run(ScriptId::UnblockPin, Values::new())?;
        s.finish(())
    }

    /// Activation (docs/card-profile.md section 8): a gen3 card must not be
    /// active, and the SSN on the card must be the holder's, both checked
    /// before any VERIFY, the empty one that reads the counter included.
    /// Then the initial PIN, the new PIN, and the profile's life-cycle
    /// step; the answer is the card info read on the way, with the new
    /// state and counter.
    pub fn activate(
        &self,
        cards: &mut Cards<'_>,
        ssn: &Ssn,
        pins: &PinEntry<(&Pin, &Pin)>,
        allow_last_try: bool,
    ) -> Result<Done<CardInfo>, OpError> {
        if let PinEntry::Host((_, new_pin)) = pins {
            self.new_pin_rules(new_pin, None)?;
        }
        let mut s = self.identify(cards)?;
        if let PinEntry::Host((_, new_pin)) = pins {
            self.new_pin_rules(new_pin, Some(s.profile))?;
        }
        if s.fci.life_cycle() == Some(LifeCycle::Active) {
            return Err(OpError::AlreadyActive);
        }
        // Section 8: read the card, and check the holder before any PIN APDU.
        s.sam_for(ScriptId::Activate)?;
        let mut info = s.read_card(ReadOptions::default(), false, None)?;
        match &info.holder.ssn {
            Some(card_ssn) if card_ssn == ssn => {}
            Some(_) => return Err(OpError::HolderMismatch("the SSN on the card is not the one given".into())),
            None => return Err(OpError::HolderMismatch("the card holds no SSN".into())),
        }
        s.before_spending_a_try(allow_last_try)?;
        let mut v = Values::new();
        put_pins(&mut v, pins, var::INITIAL_PIN, s.profile);
        v.set(var::EF05_01, info.issuer.card_id.map(|id| card_id_record(&id)).unwrap_or_default());
        s.run_pin(ScriptId::Activate, v)?;
        // A fresh SELECT shows the new life cycle and the counter.
        s.rerun_identify()?;
        info.pin = s.pin_status()?;
        info.state = activated_state(&s.fci);
        s.finish(info)
    }

    /// Closes the security state that an operation's steps left open, with
    /// the SELECT of the card's profile, so that no other program inherits
    /// the right to write or read protected records. The service calls it
    /// when the operation's effects say the state is open and no PIN try
    /// was spent (those sessions end with a reset instead).
    pub fn close_security_state(&self, card_profile: Option<&str>, cards: &mut Cards<'_>) -> Result<(), OpError> {
        let profile = card_profile.and_then(|name| self.profile(name)).or(self.profiles.first());
        let Some(profile) = profile else { return Ok(()) };
        run_script(profile, cards, ScriptId::Identify, Values::new()).map(drop).map_err(OpError::from_run)
    }
}

/// The element records a read script captured, decoded.
fn decode_elements(values: &mut Values) -> Result<(IssuerData, HolderData), OpError> {
    let mut ef05 = Vec::with_capacity(EF05_ELEMENTS.len());
    let mut ef06 = Vec::with_capacity(EF06_ELEMENTS.len());
    let specs = EF05_ELEMENTS.iter().chain(EF06_ELEMENTS.iter());
    for (i, (name, spec)) in var::ELEMENTS.iter().zip(specs).enumerate() {
        if let Some(bytes) = values.take(name) {
            let into = if i < EF05_ELEMENTS.len() { &mut ef05 } else { &mut ef06 };
            into.push(Record::parse_tlv(&bytes, spec).map_err(OpError::Decode)?);
        }
    }
    let issuer = IssuerData::decode(&ef05).map_err(OpError::Decode)?;
    let holder = HolderData::decode(&ef06).map_err(OpError::Decode)?;
    Ok((issuer, holder))
}

/// The card's state from its holder data and its FCI's life cycle.
fn card_state(holder: &HolderData, fci: &Fci) -> CardState {
    if holder.ssn.is_none() {
        CardState::Blank
    } else {
        match fci.life_cycle() {
            Some(LifeCycle::Active) => CardState::Active,
            Some(_) => CardState::Inactive,
            None => CardState::Unknown,
        }
    }
}

/// The state `Activate` answers (`interfaces.md`, "state"): the life cycle
/// the card reports after ACTIVATE FILE (gen3); on a card that records no
/// activation (gen2, no life cycle), `active`, because the activation is
/// the PIN change that has just succeeded. A later `ReadCard` of that card
/// answers `unknown` ([`card_state`]): only this call knows.
fn activated_state(fci: &Fci) -> CardState {
    match fci.life_cycle() {
        Some(LifeCycle::Active) | None => CardState::Active,
        Some(_) => CardState::Inactive,
    }
}

/// EF05 tag 01 as the scripts capture it: `01 10` and the identifier.
fn card_id_record(id: &sscard_model::CardId) -> Vec<u8> {
    let mut tlv = vec![0x01, 0x10];
    tlv.extend_from_slice(id.as_bytes());
    tlv
}

/// Where an operation's PINs come from: the caller, or the reader's
/// keypad (PC/SC part 10), which puts them into the card's command so that
/// they never cross the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinEntry<T> {
    Host(T),
    Keypad,
}

impl<T> PinEntry<T> {
    pub fn is_keypad(&self) -> bool {
        matches!(self, PinEntry::Keypad)
    }
}

impl PinEntry<Pin> {
    pub fn as_ref(&self) -> PinEntry<&Pin> {
        match self {
            PinEntry::Host(pin) => PinEntry::Host(pin),
            PinEntry::Keypad => PinEntry::Keypad,
        }
    }
}

impl PinEntry<(Pin, Pin)> {
    pub fn as_refs(&self) -> PinEntry<(&Pin, &Pin)> {
        match self {
            PinEntry::Host((current, new)) => PinEntry::Host((current, new)),
            PinEntry::Keypad => PinEntry::Keypad,
        }
    }
}

/// How many digits a keypad PIN has: the profile's standard length. The
/// card's Lc is ceil(digits / 2), and a pad that cannot insert a length
/// byte cannot make the command fit another length
/// (`docs/card-profile.md`, "PIN pads").
fn keypad_digits(profile: &Profile) -> u8 {
    u8::try_from(profile.new_pin_length).unwrap_or(6)
}

/// The current PIN (under `current`) and the new one, from the host or
/// the keypad: on the keypad the holder types the current one first.
fn put_pins(values: &mut Values, pins: &PinEntry<(&Pin, &Pin)>, current: &str, profile: &Profile) {
    match pins {
        PinEntry::Host((current_pin, new_pin)) => {
            values.put(current, current_pin.to_bcd());
            values.put(var::NEW_PIN, new_pin.to_bcd());
        }
        PinEntry::Keypad => {
            values.from_keypad(current, keypad_digits(profile));
            values.from_keypad(var::NEW_PIN, keypad_digits(profile));
        }
    }
}

fn policy(profile: &Profile) -> PinPolicy {
    PinPolicy { length: profile.new_pin_length, initial: profile.initial_pin.clone() }
}

fn script(profile: &Profile, id: ScriptId) -> Option<&Script> {
    profile.script(id.name())
}

/// Whether the profile's script has `sam:` steps (its stand-in for short
/// APDUs agrees: the loader checks it).
fn uses_sam(profile: &Profile, id: ScriptId) -> bool {
    script(profile, id).is_some_and(|s| s.steps().any(|step| step.slot == Slot::Sam))
}

/// Runs one of the profile's scripts with its constants.
fn run_script(
    profile: &Profile,
    cards: &mut Cards<'_>,
    id: ScriptId,
    mut values: Values,
) -> Result<Finished, RunError> {
    // A card or reader without extended APDUs runs the profile's stand-ins.
    let extended = cards.card.capabilities().extended_length;
    let Some(script) = profile.script_for_entry(id.name(), extended, values.is_keypad()) else {
        // Only optional scripts can be missing; the loader checked the rest.
        return Err(RunError::MissingScript { file: format!("{}/{}.apdu", profile.dir.display(), id.name()) });
    };
    for (constant, bytes) in &profile.constants {
        values.set(constant, bytes.clone());
    }
    sscard_script::run(script, &profile.status, cards, values, &mut |_| {})
}

impl Session<'_, '_, '_> {
    fn run_raw(&mut self, id: ScriptId, values: Values) -> Result<Finished, RunError> {
        run_script(self.profile, self.cards, id, values)
    }

    fn run(&mut self, id: ScriptId, values: Values) -> Result<Finished, OpError> {
        self.run_raw(id, values).map_err(OpError::from_run)
    }

    /// Runs a PIN-bearing script: a wrong PIN is `WrongPin`.
    fn run_pin(&mut self, id: ScriptId, values: Values) -> Result<Finished, OpError> {
        match self.run_raw(id, values) {
            Err(RunError::Status { class: StatusClass::PinBlocked, .. }) => Err(OpError::WrongPin { tries_left: 0 }),
            other => other.map_err(OpError::from_run),
        }
    }

    /// The operation's answer, with its APDUs and effects.
    fn finish<T>(self, value: T) -> Result<Done<T>, OpError> {
        Ok(Done { value, apdus: self.cards.apdus_sent() - self.start, effects: self.cards.effects })
    }

    fn rerun_identify(&mut self) -> Result<(), OpError> {
        let mut done = self.run(ScriptId::Identify, Values::new())?;
        if let Some(fci) = done.values.take(var::FCI).and_then(|f| Fci::parse(&f)) {
            self.fci = fci;
        }
        Ok(())
    }

    /// Whether `script` talks to the PSAM; if so, the PSAM must be there,
    /// and is selected once per operation.
    fn sam_for(&mut self, id: ScriptId) -> Result<(), OpError> {
        let needs_sam = uses_sam(self.profile, id);
        if !needs_sam || self.sam_selected {
            return Ok(());
        }
        if self.cards.sam.is_none() {
            return Err(OpError::NoSam);
        }
        self.select_sam()
    }

    fn pin_status(&mut self) -> Result<PinStatus, OpError> {
        let done = self.run(ScriptId::PinStatus, Values::new())?;
        Ok(match done.last_sw {
            StatusWord::WrongPin { tries_left } => PinStatus { tries_left, blocked: tries_left == 0 },
            StatusWord::AuthenticationMethodBlocked => PinStatus { tries_left: 0, blocked: true },
            _ => PinStatus { tries_left: 0, blocked: false },
        })
    }

    /// Before a try-counting APDU: refuse on a blocked PIN, and at one try
    /// left unless allowed.
    fn before_spending_a_try(&mut self, allow_last_try: bool) -> Result<(), OpError> {
        let status = self.pin_status()?;
        if status.blocked {
            return Err(OpError::PinBlocked);
        }
        if status.tries_left == 1 && !allow_last_try {
            return Err(OpError::LastTry);
        }
        Ok(())
    }

    /// Selects the PSAM's application, once per operation.
    fn select_sam(&mut self) -> Result<(), OpError> {
        if !self.sam_selected {
            self.run(ScriptId::SamSelect, Values::new())?;
            self.sam_selected = true;
        }
        Ok(())
    }

    /// The card info; `with_pin_status` adds the counter (an empty VERIFY).
    /// `known_terminal_number`, the PSAM's as the caller read it before,
    /// spares the PSAM's `terminal-number`.
    fn read_card(
        &mut self,
        options: ReadOptions,
        with_pin_status: bool,
        known_terminal_number: Option<&str>,
    ) -> Result<CardInfo, OpError> {
        let id = if options.photo { ScriptId::ReadCardPhoto } else { ScriptId::ReadCard };
        let needs_sam = uses_sam(self.profile, id);
        if (needs_sam || options.authenticate) && self.cards.sam.is_none() {
            return Err(OpError::NoSam);
        }
        // Without a PSAM in this operation's hands there is none to report.
        let terminal_number = match (self.cards.sam.is_some(), known_terminal_number) {
            (false, _) => None,
            (true, Some(known)) => Some(known.to_owned()),
            (true, None) => {
                self.select_sam()?;
                let mut tn = self.run(ScriptId::TerminalNumber, Values::new())?;
                tn.values.take(var::TERMINAL_NUMBER).map(|b| hex::encode_upper(&*b))
            }
        };
        if needs_sam {
            self.select_sam()?;
        }
        let mut done = self.run(id, Values::new())?;
        let (issuer, holder) = decode_elements(&mut done.values)?;
        let photo = done.values.take(var::PHOTO_FILE).and_then(|f| Photo::from_file_bytes(&f));
        let pin = if with_pin_status { self.pin_status()? } else { PinStatus::default() };
        let authenticated = options.authenticate;
        if authenticated {
            self.select_sam()?;
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(|e| OpError::Internal(format!("no randomness: {e}")))?;
            let mut v = Values::new();
            v.set(var::RANDOM, random.to_vec());
            v.set(var::EF05_01, issuer.card_id.map(|id| card_id_record(&id)).unwrap_or_default());
            let mut ia = self.run(ScriptId::InternalAuth, v)?;
            let card_answer = ia.values.take(var::CARD_ANSWER);
            let sam_answer = ia.values.take(var::SAM_ANSWER);
            // Asked to check, a card whose answer the PSAM cannot confirm
            // is not authentic: an error, not a flag to overlook.
            if card_answer.is_none() || card_answer != sam_answer {
                return Err(OpError::InternalAuthMismatch);
            }
        }
        let state = card_state(&holder, &self.fci);
        let historical = sscard_transport::Atr::parse(self.cards.card.atr()).historical;
        Ok(CardInfo {
            issuer,
            holder,
            state,
            pin,
            profile: self.profile.name.clone(),
            atr_historical: historical,
            terminal_number,
            photo,
            authenticated,
        })
    }
}

impl From<DecodeError> for OpError {
    fn from(e: DecodeError) -> Self {
        OpError::Decode(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_capture_names_follow_the_model_tables() {
        let expected: Vec<String> = EF05_ELEMENTS
            .iter()
            .map(|e| format!("ef05_{:02X}", e.tag))
            .chain(EF06_ELEMENTS.iter().map(|e| format!("ef06_{:02X}", e.tag)))
            .collect();
        assert_eq!(var::ELEMENTS.to_vec(), expected);
        assert_eq!(&var::ELEMENTS_AND_PHOTO[..14], &var::ELEMENTS[..]);
        assert_eq!(var::ELEMENTS_AND_PHOTO[14], var::PHOTO_FILE);
    }
}
