//! What the read operations return.

use sscard_contract::keys;
use sscard_model::{HolderData, IssuerData, Photo};

/// `state` of the card-info dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardState {
    /// The SSN is unwritten.
    Blank,
    /// gen3 LCS 04 or 06: issued but not activated, or suspended.
    Inactive,
    /// gen3 LCS 05 or 07.
    Active,
    /// gen2: the card does not record activation.
    Unknown,
}

impl CardState {
    pub fn as_str(self) -> &'static str {
        match self {
            CardState::Blank => "blank",
            CardState::Inactive => "inactive",
            CardState::Active => "active",
            CardState::Unknown => "unknown",
        }
    }
}

/// The PIN counter, from the VERIFY with no data after a fresh SELECT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinStatus {
    pub tries_left: u8,
    pub blocked: bool,
}

/// Everything `ReadCard` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    pub issuer: IssuerData,
    pub holder: HolderData,
    pub state: CardState,
    pub pin: PinStatus,
    pub profile: String,
    pub atr_historical: Vec<u8>,
    /// 12 digits from the PSAM, or `None` without one.
    pub terminal_number: Option<String>,
    pub photo: Option<Photo>,
    /// INTERNAL AUTHENTICATE's verdict, when asked for.
    pub authenticated: bool,
}

/// One value of a card-info dictionary, typed as `docs/interfaces.md` types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoValue {
    Str(String),
    U32(u32),
    Byte(u8),
    Bytes(Vec<u8>),
    Bool(bool),
    /// `as`.
    Strs(Vec<String>),
}

impl CardInfo {
    /// The card-info dictionary: every element the card holds, under the
    /// contract's keys; an element the card has not written is left out.
    /// `inconsistent` lists the consistency rules the record breaks, one line
    /// each, and is left out when it breaks none.
    pub fn fields(&self) -> Vec<(&'static str, InfoValue)> {
        // Room for every key at once: the vector grew four times per ReadCard.
        let mut out: Vec<(&'static str, InfoValue)> = Vec::with_capacity(32);
        let mut text = |key: &'static str, value: Option<String>| {
            if let Some(v) = value {
                out.push((key, InfoValue::Str(v)));
            }
        };
        let i = &self.issuer;
        text(keys::CARD_ID, i.card_id.map(|c| c.to_hex()));
        text(keys::REGION, i.card_id.map(|c| c.region().to_string()));
        text(keys::CARD_TYPE, i.card_type.as_ref().map(ToString::to_string));
        text(keys::SPEC_VERSION, i.spec_version.as_ref().map(ToString::to_string));
        text(keys::ISSUER, i.issuer.as_ref().map(ToString::to_string));
        text(keys::ISSUE_DATE, i.issue_date.as_ref().map(ToString::to_string));
        text(keys::EXPIRY_DATE, i.expiry_date.as_ref().map(ToString::to_string));
        text(keys::CARD_NUMBER, i.card_number.as_ref().map(ToString::to_string));
        let h = &self.holder;
        text(keys::SSN, h.ssn.as_ref().map(ToString::to_string));
        text(keys::NAME, h.name.as_ref().map(ToString::to_string));
        text(keys::SEX, h.sex.as_ref().map(ToString::to_string));
        text(keys::BIRTHPLACE, h.birthplace.as_ref().map(ToString::to_string));
        text(keys::BIRTH_DATE, h.birth_date.as_ref().map(ToString::to_string));
        text(keys::STATE, Some(self.state.as_str().to_owned()));
        text(keys::PROFILE, Some(self.profile.clone()));
        text(keys::ATR_HISTORICAL, Some(hex::encode_upper(&self.atr_historical)));
        text(keys::TERMINAL_NUMBER, Some(self.terminal_number.clone().unwrap_or_default()));
        if let Some(nation) = &h.nation {
            out.push((keys::NATION, InfoValue::Byte(nation.code())));
        }
        out.push((keys::PIN_TRIES_LEFT, InfoValue::U32(u32::from(self.pin.tries_left))));
        if let Some(photo) = &self.photo {
            out.push((keys::PHOTO, InfoValue::Bytes(photo.as_bytes().to_vec())));
        }
        // A mismatch is an error, never `false`: `authentic` is present,
        // and true, exactly when the card's answer was checked.
        if self.authenticated {
            out.push((keys::AUTHENTIC, InfoValue::Bool(true)));
        }
        let broken = sscard_model::inconsistencies(i, h);
        if !broken.is_empty() {
            out.push((keys::INCONSISTENT, InfoValue::Strs(broken.iter().map(ToString::to_string).collect())));
        }
        out
    }
}
