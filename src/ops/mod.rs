//! The operations layer: typed operations that join the data model with
//! the profile scripts. It validates every input before the first APDU,
//! recognises the card, runs the profile's scripts over the card and the
//! PSAM, and turns status words into typed outcomes.
//!
//! The caller owns the connections and their transactions: one operation
//! here is meant to run inside one PC/SC transaction on each card.

mod error;
mod info;
pub mod keys;

use std::path::Path;

pub use error::OpError;
pub use info::{
    CardInfo, CardState, FieldInput, InfoValue, PinStatus, READ_ONLY_KEYS, legacy_bas_line, record_from_fields,
};

use crate::apdu::StatusWord;
use crate::model::{
    DecodeError, EF05_ELEMENTS, EF06_ELEMENTS, ElementSpec, Fci, Field, Generation, HolderData, HolderRecordUpdate,
    IssuerData, LifeCycle, Photo, Pin, PinPolicy, Record, Ssn,
};
use crate::script::{
    Cards, Finished, LoadError, Profile, RunError, ScriptNeed, Slot, StatusClass, Values, load_profiles,
};

/// What each operation runs, and the inputs it gives each script. The
/// loader checks every profile against this at start-up.
pub const SCRIPT_NEEDS: &[ScriptNeed] = &[
    need("identify", "identify", &[], true),
    need("identify", "card-id", &[], true),
    need("any with sam: steps", "sam-select", &[], true),
    need("read_card", "terminal-number", &[], true),
    need("read_card", "read-card", &[], true),
    need("read_card", "read-card-photo", &[], true),
    need("read_card", "pin-status", &[], true),
    need("read_card", "internal-auth", &["random", "ef05_01"], true),
    need("read_photo", "read-photo", &[], true),
    need("personalise", "personalise-begin", &[], true),
    need("personalise", "write-ef05", &["tag", "tlv"], true),
    need("personalise", "write-ef06", &["tag", "tlv"], true),
    need("personalise", "write-photo", &["photo_file"], true),
    need("personalise", "personalise-verify", &["ef05_01"], true),
    need("personalise", "read-ef05", &["tag", "le"], true),
    need("personalise", "read-ef06", &["tag", "le"], true),
    need("personalise", "photo-data", &[], true),
    need("verify_pin", "verify", &["pin"], true),
    need("change_pin", "change-pin", &["old_pin", "new_pin"], true),
    need("reload_pin", "reload-pin", &["new_pin"], true),
    need("unblock_pin", "unblock-pin", &[], true),
    need("activate", "activate", &["initial_pin", "new_pin", "ef05_01"], true),
    need("deactivate", "deactivate", &[], false),
];

const fn need(
    operation: &'static str,
    script: &'static str,
    gives: &'static [&'static str],
    required: bool,
) -> ScriptNeed {
    ScriptNeed { operation, script, gives, required }
}

/// A finished operation and the command APDUs it sent to both cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done<T> {
    pub value: T,
    pub apdus: u64,
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
pub struct Personalised {
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
    /// A try-counting script (VERIFY, CHANGE PIN) has begun: from here on a
    /// reset must not lead to a rerun.
    pin_try_sent: bool,
    /// A script authenticated to the card through the PSAM since the last
    /// SELECT: the card's security state must be cleared before the
    /// operation hands the card back.
    authenticated: bool,
}

/// The scripts whose APDUs spend a PIN try.
const TRY_COUNTING_SCRIPTS: &[&str] = &["verify", "change-pin", "activate"];

/// What the card in a reader is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// A social security card that this profile fits, with its identifier
    /// and its card number (EF05 tag 07) when it has one.
    SocialSecurity { profile: String, card_id: Option<crate::model::CardId>, card_number: Option<String> },
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

    fn generation(profile: &Profile) -> Option<Generation> {
        crate::model::SpecVersion::parse(&profile.identify.spec_version).ok().and_then(|v| v.generation())
    }

    /// A new PIN must pass the rules of at least one profile before any
    /// APDU, and those of the card's own profile once it is known.
    fn check_new_pin_any(&self, pin: &Pin, field: Field) -> Result<(), OpError> {
        let mut first_error = None;
        for p in &self.profiles {
            match policy(p)?.check_new_pin(pin, field) {
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
            match run_script(profile, cards, "identify", Values::new()) {
                Ok(done) => {
                    selected = Some(done);
                    break;
                }
                Err(RunError::Status { class: StatusClass::NotFound, .. }) => continue,
                Err(e) => return Err(OpError::from_run(e)),
            }
        }
        let Some(mut done) = selected else { return Err(OpError::NotSocialSecurityCard) };
        let fci_bytes = done.values.take("fci").unwrap_or_default();
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
                values.set("tag", vec![0x03]);
                values.set("le", vec![0x06]);
                let read = run_script(first, cards, "read-ef05", values).map_err(OpError::from_run)?;
                let version = read
                    .values
                    .get("record")
                    .and_then(|r| {
                        crate::model::decode_ascii_fixed(r.get(2..).unwrap_or_default(), Field::SpecVersion).ok()
                    })
                    .flatten();
                let chosen = version.and_then(|v| candidates.iter().find(|p| p.identify.spec_version == v).copied());
                chosen.ok_or_else(|| {
                    OpError::NotSupported(
                        "several profiles fit this card and EF05 tag 03 does not tell them apart".into(),
                    )
                })?
            }
        };
        Ok(Session { profile, fci, cards, start, sam_selected: false, pin_try_sent: false, authenticated: false })
    }

    /// A PIN as every method takes it: 4 to 12 ASCII digits.
    pub fn check_pin(&self, pin: &str) -> Result<(), OpError> {
        Pin::parse(pin, Field::Pin).map(drop).map_err(OpError::InvalidArgument)
    }

    /// A new PIN: the rules of at least one profile (the card's own are
    /// applied again once it is known).
    pub fn check_new_pin(&self, pin: &str) -> Result<(), OpError> {
        let new = Pin::parse(pin, Field::NewPin).map_err(OpError::InvalidArgument)?;
        self.check_new_pin_any(&new, Field::NewPin)
    }

    pub fn check_ssn(&self, ssn: &str) -> Result<(), OpError> {
        Ssn::parse(ssn).map(drop).map_err(OpError::InvalidArgument)
    }

    /// A personalisation that no profile's generation could take, or that
    /// writes nothing.
    pub fn check_record(&self, update: &HolderRecordUpdate) -> Result<(), OpError> {
        if update.is_empty() {
            return Err(OpError::EmptyRecord);
        }
        let mut first_error = None;
        for generation in self.profiles.iter().filter_map(Engine::generation) {
            match update.validate(generation) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.map_or(OpError::Internal("no profile generation".into()), OpError::InvalidArgument))
    }

    /// Checks a personalisation against the profile a reader's card was
    /// classified with, so that a record for the other generation is
    /// refused before any APDU. The operation checks again on the card.
    pub fn check_record_for(&self, profile: &str, update: &HolderRecordUpdate) -> Result<(), OpError> {
        let Some(generation) = self.profiles.iter().find(|p| p.name == profile).and_then(Engine::generation) else {
            return Ok(());
        };
        update.validate(generation).map_err(OpError::InvalidArgument)
    }

    /// Tells what the card is: a social security card (with its profile
    /// and identifier), a PSAM, or neither. Spends no PIN try.
    pub fn classify(&self, card: &mut dyn crate::transport::Transport) -> Result<Done<Classification>, OpError> {
        let start = card.apdus_sent();
        let mut cards = Cards { card, sam: None };
        match self.card_identity(&mut cards) {
            Ok(done) => return Ok(Done { value: done.value, apdus: cards.apdus_sent() - start }),
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
            let mut no_user_card = crate::transport::Absent;
            let mut as_sam = Cards { card: &mut no_user_card, sam: Some(&mut *card) };
            match run_script(profile, &mut as_sam, "sam-select", Values::new()) {
                Ok(_) => {
                    let value = Classification::Psam { profile: profile.name.clone() };
                    return Ok(Done { value, apdus: card.apdus_sent() - start });
                }
                Err(RunError::Status { .. }) => continue,
                Err(e) => return Err(OpError::from_run(e)),
            }
        }
        Ok(Done { value: Classification::Unknown, apdus: card.apdus_sent() - start })
    }

    /// SELECT, the card identifier (EF05 tag 01) and the card number (tag
    /// 07): to tell one card from another after a reset, and to name the
    /// card (hashed) in the audit trail.
    pub fn card_identity(&self, cards: &mut Cards<'_>) -> Result<Done<Classification>, OpError> {
        let mut s = self.identify(cards)?;
        let mut done = s.run("card-id", Values::new())?;
        let card_id = done
            .values
            .take("ef05_01")
            .and_then(|r| r.get(2..).and_then(|id| crate::model::CardId::from_bytes(id).ok()));
        let number_spec = EF05_ELEMENTS.iter().find(|e| e.tag == 0x07);
        let card_number = match number_spec {
            Some(spec) => {
                let mut v = Values::new();
                v.set("tag", vec![spec.tag]);
                v.set("le", vec![(spec.len + 2) as u8]);
                // A blank card has no number; that is not an error here.
                match s.run_raw("read-ef05", v) {
                    Ok(mut read) => read
                        .values
                        .take("record")
                        .and_then(|r| Record::parse_tlv(&r, spec).ok())
                        .and_then(|r| IssuerData::decode(&[r]).ok())
                        .and_then(|i| i.card_number.map(|n| n.to_string())),
                    Err(RunError::Status { .. }) => None,
                    Err(e) => return Err(s.error(e)),
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
        let mut s = self.identify(cards)?;
        let info = s.read_card(options)?;
        s.finish(info)
    }

    /// The photo alone; `None` when EF08 holds none.
    pub fn read_photo(&self, cards: &mut Cards<'_>) -> Result<Done<Option<Photo>>, OpError> {
        let mut s = self.identify(cards)?;
        s.sam_for("read-photo")?;
        let mut done = s.run("read-photo", Values::new())?;
        let photo = done.values.take("photo_file").and_then(|f| Photo::from_file_bytes(&f));
        s.finish(photo)
    }

    /// Personalises: validates, writes each element given and the photo,
    /// reads them back, compares, and returns the digest.
    pub fn personalise(
        &self,
        cards: &mut Cards<'_>,
        update: &HolderRecordUpdate,
    ) -> Result<Done<Personalised>, OpError> {
        self.check_record(update)?;
        let mut s = self.identify(cards)?;
        if let Some(generation) = Engine::generation(s.profile) {
            update.validate(generation).map_err(OpError::InvalidArgument)?;
        }
        s.sam_for("personalise-begin")?;
        let mut begin = s.run("personalise-begin", Values::new())?;
        let card_id = begin.values.take("ef05_01").unwrap_or_default();
        let (ef05, ef06) = update.records();
        for (script, records) in [("write-ef05", &ef05), ("write-ef06", &ef06)] {
            for record in records {
                let mut v = Values::new();
                v.set("tag", vec![record.tag]);
                v.set("tlv", record.to_tlv());
                s.run(script, v)?;
            }
        }
        if let Some(photo) = &update.photo {
            let mut v = Values::new();
            v.set("photo_file", photo.to_file_bytes());
            s.run("write-photo", v)?;
        }
        let mut v = Values::new();
        v.set("ef05_01", card_id.to_vec());
        s.run("personalise-verify", v)?;
        let mut read_back = (Vec::new(), Vec::new());
        for (script, records, into) in [("read-ef05", &ef05, &mut read_back.0), ("read-ef06", &ef06, &mut read_back.1)]
        {
            let specs: &[ElementSpec; 7] = if script == "read-ef05" { &EF05_ELEMENTS } else { &EF06_ELEMENTS };
            for record in records {
                let spec = specs.iter().find(|e| e.tag == record.tag).ok_or_else(|| OpError::Internal("tag".into()))?;
                let mut v = Values::new();
                v.set("tag", vec![record.tag]);
                v.set("le", vec![(spec.len + 2) as u8]);
                let mut done = s.run(script, v)?;
                let bytes = done.values.take("record").unwrap_or_default();
                into.push(Record::parse_tlv(&bytes, spec).map_err(OpError::Decode)?);
            }
        }
        let photo_back = match update.photo {
            Some(_) => {
                let mut done = s.run("photo-data", Values::new())?;
                done.values.take("photo_file").and_then(|f| Photo::from_file_bytes(&f))
            }
            None => None,
        };
        let issuer = IssuerData::decode(&read_back.0).map_err(OpError::Decode)?;
        let holder = HolderData::decode(&read_back.1).map_err(OpError::Decode)?;
        let differs = update.mismatches(&issuer, &holder, photo_back.as_ref());
        if !differs.is_empty() {
            return Err(OpError::ReadBackMismatch(differs));
        }
        s.finish(Personalised { digest: update.digest_hex() })
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
        pin: &str,
        allow_last_try: bool,
    ) -> Result<Done<VerifyOutcome>, OpError> {
        let pin = Pin::parse(pin, Field::Pin).map_err(OpError::InvalidArgument)?;
        let mut s = self.identify(cards)?;
        s.before_spending_a_try(allow_last_try)?;
        let mut v = Values::new();
        v.set("pin", pin.to_bcd().to_vec());
        let outcome = match s.run_raw("verify", v) {
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
            Err(e) => return Err(s.error(e)),
        };
        s.finish(outcome)
    }

    /// CHANGE PIN; a wrong old PIN is `WrongPin`.
    pub fn change_pin(
        &self,
        cards: &mut Cards<'_>,
        old_pin: &str,
        new_pin: &str,
        allow_last_try: bool,
    ) -> Result<Done<()>, OpError> {
        let old = Pin::parse(old_pin, Field::Pin).map_err(OpError::InvalidArgument)?;
        let new = Pin::parse(new_pin, Field::NewPin).map_err(OpError::InvalidArgument)?;
        self.check_new_pin_any(&new, Field::NewPin)?;
        let mut s = self.identify(cards)?;
        policy(s.profile)?.check_new_pin(&new, Field::NewPin).map_err(OpError::InvalidArgument)?;
        s.before_spending_a_try(allow_last_try)?;
        let mut v = Values::new();
        v.set("old_pin", old.to_bcd().to_vec());
        v.set("new_pin", new.to_bcd().to_vec());
        s.run_pin("change-pin", v)?;
        s.finish(())
    }

    /// RELOAD PIN: the operator sets a forgotten PIN, with the PSAM's MAC.
    pub fn reload_pin(&self, cards: &mut Cards<'_>, new_pin: &str) -> Result<Done<()>, OpError> {
        let new = Pin::parse(new_pin, Field::NewPin).map_err(OpError::InvalidArgument)?;
        self.check_new_pin_any(&new, Field::NewPin)?;
        let mut s = self.identify(cards)?;
        policy(s.profile)?.check_new_pin(&new, Field::NewPin).map_err(OpError::InvalidArgument)?;
        s.sam_for("reload-pin")?;
        let mut v = Values::new();
        v.set("new_pin", new.to_bcd().to_vec());
        s.run("reload-pin", v)?;
        s.finish(())
    }

    /// UNBLOCK PIN: resets the try counter, with the PSAM's MAC.
    pub fn unblock_pin(&self, cards: &mut Cards<'_>) -> Result<Done<()>, OpError> {
        let mut s = self.identify(cards)?;
        s.sam_for("unblock-pin")?;
        s.run("unblock-pin", Values::new())?;
        s.finish(())
    }

    /// Activation (card-profile.md section 8): a gen3 card must not be
    /// active, and the SSN on the card must be the holder's, both checked
    /// before any PIN APDU. Then the initial PIN, the new PIN, and the
    /// profile's life-cycle step; the answer is the card info read on the
    /// way, with the new state and counter.
    pub fn activate(
        &self,
        cards: &mut Cards<'_>,
        ssn: &str,
        initial_pin: &str,
        new_pin: &str,
        allow_last_try: bool,
    ) -> Result<Done<CardInfo>, OpError> {
        let ssn = Ssn::parse(ssn).map_err(OpError::InvalidArgument)?;
        let initial = Pin::parse(initial_pin, Field::Pin).map_err(OpError::InvalidArgument)?;
        let new = Pin::parse(new_pin, Field::NewPin).map_err(OpError::InvalidArgument)?;
        self.check_new_pin_any(&new, Field::NewPin)?;
        let mut s = self.identify(cards)?;
        policy(s.profile)?.check_new_pin(&new, Field::NewPin).map_err(OpError::InvalidArgument)?;
        if s.fci.life_cycle() == Some(LifeCycle::Active) {
            return Err(OpError::AlreadyActive);
        }
        // Section 8: read the card, and check the holder before any PIN APDU.
        s.sam_for("activate")?;
        let mut info = s.read_card(ReadOptions::default())?;
        match &info.holder.ssn {
            Some(card_ssn) if *card_ssn == ssn => {}
            Some(_) => return Err(OpError::HolderMismatch("the SSN on the card is not the one given".into())),
            None => return Err(OpError::HolderMismatch("the card holds no SSN".into())),
        }
        if info.pin.blocked {
            return Err(OpError::PinBlocked);
        }
        if info.pin.tries_left == 1 && !allow_last_try {
            return Err(OpError::LastTry);
        }
        let mut v = Values::new();
        v.set("initial_pin", initial.to_bcd().to_vec());
        v.set("new_pin", new.to_bcd().to_vec());
        v.set("ef05_01", info.issuer.card_id.map(|id| card_id_record(&id)).unwrap_or_default());
        s.run_pin("activate", v)?;
        // A fresh SELECT shows the new life cycle and the counter.
        s.rerun_identify()?;
        info.pin = s.pin_status()?;
        info.state = match s.fci.life_cycle() {
            Some(LifeCycle::Active) => CardState::Active,
            Some(_) => CardState::Inactive,
            // gen2 records no activation; the PIN change was it.
            None => CardState::Active,
        };
        s.finish(info)
    }

    /// DEACTIVATE FILE, on profiles that have a life cycle.
    pub fn deactivate(&self, cards: &mut Cards<'_>) -> Result<Done<()>, OpError> {
        let mut s = self.identify(cards)?;
        if s.profile.script("deactivate").is_none() {
            return Err(OpError::NotSupported(format!("{} cards have no life cycle to deactivate", s.profile.name)));
        }
        s.sam_for("deactivate")?;
        s.run("deactivate", Values::new())?;
        s.finish(())
    }
}

/// EF05 tag 01 as the scripts capture it: `01 10` and the identifier.
fn card_id_record(id: &crate::model::CardId) -> Vec<u8> {
    let mut tlv = vec![0x01, 0x10];
    tlv.extend_from_slice(id.as_bytes());
    tlv
}

fn policy(profile: &Profile) -> Result<PinPolicy, OpError> {
    let initial = Pin::parse(&profile.initial_pin, Field::Pin)
        .map_err(|_| OpError::Internal(format!("{}: the initial PIN is not 4 to 12 digits", profile.name)))?;
    Ok(PinPolicy { length: profile.new_pin_length, initial })
}

/// Runs one of the profile's scripts with its constants.
fn run_script(profile: &Profile, cards: &mut Cards<'_>, name: &str, mut values: Values) -> Result<Finished, RunError> {
    let Some(script) = profile.script(name) else {
        return Err(RunError::MissingInput {
            file: format!("{}/{name}.apdu", profile.dir.display()),
            name: name.into(),
        });
    };
    for (constant, bytes) in &profile.constants {
        values.set(constant, bytes.clone());
    }
    crate::script::run(script, &profile.status, cards, values, &mut |_| {})
}

impl Session<'_, '_, '_> {
    fn done<T>(&self, value: T) -> Done<T> {
        Done { value, apdus: self.cards.apdus_sent() - self.start }
    }

    fn run_raw(&mut self, name: &str, values: Values) -> Result<Finished, RunError> {
        if TRY_COUNTING_SCRIPTS.contains(&name) {
            self.pin_try_sent = true;
        }
        // Steps on both cards: an authentication (GET CHALLENGE, the PSAM's
        // cryptogram, EXTERNAL AUTHENTICATE) that leaves the card open.
        if self.profile.script(name).is_some_and(|script| {
            script.steps().any(|step| step.slot == Slot::Sam) && script.steps().any(|step| step.slot == Slot::Card)
        }) {
            self.authenticated = true;
        }
        run_script(self.profile, self.cards, name, values)
    }

    /// The typed error, marking a reset after a try-counting APDU as not
    /// safe to rerun.
    fn error(&self, e: RunError) -> OpError {
        match OpError::from_run(e) {
            OpError::CardReset { .. } => OpError::CardReset { retry_safe: !self.pin_try_sent },
            other => other,
        }
    }

    fn run(&mut self, name: &str, values: Values) -> Result<Finished, OpError> {
        self.run_raw(name, values).map_err(|e| self.error(e))
    }

    /// Runs a PIN-bearing script: a wrong PIN is `WrongPin`.
    fn run_pin(&mut self, name: &str, values: Values) -> Result<Finished, OpError> {
        match self.run_raw(name, values) {
            Err(RunError::Status { class: StatusClass::PinBlocked, .. }) => Err(OpError::WrongPin { tries_left: 0 }),
            other => other.map_err(|e| self.error(e)),
        }
    }

    /// The operation's answer. A session that authenticated to the card
    /// ends with a fresh SELECT, which closes what the authentication
    /// opened: no other program inherits the right to write or read
    /// protected records.
    fn finish<T>(mut self, value: T) -> Result<Done<T>, OpError> {
        if self.authenticated {
            self.run("identify", Values::new())?;
        }
        Ok(self.done(value))
    }

    fn rerun_identify(&mut self) -> Result<(), OpError> {
        self.authenticated = false;
        let mut done = self.run("identify", Values::new())?;
        if let Some(fci) = done.values.take("fci").and_then(|f| Fci::parse(&f)) {
            self.fci = fci;
        }
        Ok(())
    }

    /// Whether `script` talks to the PSAM; if so, the PSAM must be there,
    /// and is selected once per operation.
    fn sam_for(&mut self, script: &str) -> Result<(), OpError> {
        let needs_sam = self.profile.script(script).is_some_and(|s| s.steps().any(|step| step.slot == Slot::Sam));
        if !needs_sam || self.sam_selected {
            return Ok(());
        }
        if self.cards.sam.is_none() {
            return Err(OpError::NoSam);
        }
        self.run("sam-select", Values::new())?;
        self.sam_selected = true;
        Ok(())
    }

    fn pin_status(&mut self) -> Result<PinStatus, OpError> {
        let done = self.run("pin-status", Values::new())?;
        Ok(match done.last_sw {
            StatusWord::WrongPin { tries_left } => PinStatus { tries_left, blocked: tries_left == 0, verified: false },
            StatusWord::AuthenticationMethodBlocked => PinStatus { tries_left: 0, blocked: true, verified: false },
            _ => PinStatus { tries_left: 0, blocked: false, verified: true },
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

    fn read_card(&mut self, options: ReadOptions) -> Result<CardInfo, OpError> {
        let script = if options.photo { "read-card-photo" } else { "read-card" };
        let needs_sam = |s: &Self, name: &str| {
            s.profile.script(name).is_some_and(|sc| sc.steps().any(|step| step.slot == Slot::Sam))
        };
        if (needs_sam(self, script) || options.authenticate) && self.cards.sam.is_none() {
            return Err(OpError::NoSam);
        }
        let mut terminal_number = None;
        if self.cards.sam.is_some() {
            if !self.sam_selected {
                self.run("sam-select", Values::new())?;
                self.sam_selected = true;
            }
            let mut tn = self.run("terminal-number", Values::new())?;
            terminal_number = tn.values.take("terminal_number").map(|b| hex::encode_upper(&*b));
        }
        let mut done = self.run(script, Values::new())?;
        let mut ef05 = Vec::new();
        let mut ef06 = Vec::new();
        for (prefix, specs, into) in [("ef05_", &EF05_ELEMENTS, &mut ef05), ("ef06_", &EF06_ELEMENTS, &mut ef06)] {
            for spec in specs.iter() {
                if let Some(bytes) = done.values.take(&format!("{prefix}{:02X}", spec.tag)) {
                    into.push(Record::parse_tlv(&bytes, spec).map_err(OpError::Decode)?);
                }
            }
        }
        let issuer = IssuerData::decode(&ef05).map_err(OpError::Decode)?;
        let holder = HolderData::decode(&ef06).map_err(OpError::Decode)?;
        let photo = done.values.take("photo_file").and_then(|f| Photo::from_file_bytes(&f));
        let pin = self.pin_status()?;
        let authentic = if options.authenticate {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(|e| OpError::Internal(format!("no randomness: {e}")))?;
            let mut v = Values::new();
            v.set("random", random.to_vec());
            v.set("ef05_01", issuer.card_id.map(|id| card_id_record(&id)).unwrap_or_default());
            let mut ia = self.run("internal-auth", v)?;
            let card_answer = ia.values.take("card_answer");
            let sam_answer = ia.values.take("sam_answer");
            // Asked to check, a card whose answer the PSAM cannot confirm
            // is not authentic: an error, not a flag to overlook.
            if card_answer.is_none() || card_answer != sam_answer {
                return Err(OpError::NotAuthentic);
            }
            Some(true)
        } else {
            None
        };
        let state = if holder.ssn.is_none() {
            CardState::Blank
        } else {
            match self.fci.life_cycle() {
                Some(LifeCycle::Active) => CardState::Active,
                Some(_) => CardState::Inactive,
                None => CardState::Unknown,
            }
        };
        let historical = crate::transport::Atr::parse(self.cards.card.atr()).historical;
        Ok(CardInfo {
            issuer,
            holder,
            state,
            pin,
            profile: self.profile.name.clone(),
            atr_historical: historical,
            terminal_number,
            photo,
            authentic,
        })
    }
}

impl From<DecodeError> for OpError {
    fn from(e: DecodeError) -> Self {
        OpError::Decode(e)
    }
}
