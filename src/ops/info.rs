//! What the read operations return.

use super::keys;
use crate::model::{HolderData, IssuerData, Photo};

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
    /// Verified in the current security state (never right after SELECT).
    pub verified: bool,
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
    pub authentic: Option<bool>,
}

/// One value of a card-info dictionary, typed as `docs/interfaces.md` types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InfoValue {
    Str(String),
    U32(u32),
    Byte(u8),
    Bytes(Vec<u8>),
    Bool(bool),
    /// `as`.
    Strs(Vec<String>),
}

/// The card-info keys a client may never write.
pub(crate) const READ_ONLY_KEYS: &[&str] = &[
    keys::CARD_ID,
    keys::REGION,
    keys::STATE,
    keys::PROFILE,
    keys::ATR_HISTORICAL,
    keys::PIN_TRIES_LEFT,
    keys::TERMINAL_NUMBER,
];

impl CardInfo {
    /// The card-info dictionary: every element the card holds, under the
    /// contract's keys; an element the card has not written is left out.
    /// `inconsistent` lists the consistency rules the record breaks, one line
    /// each, and is left out when it breaks none.
    pub(crate) fn fields(&self) -> Vec<(&'static str, InfoValue)> {
        let mut out: Vec<(&'static str, InfoValue)> = Vec::new();
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
        if let Some(authentic) = self.authentic {
            out.push((keys::AUTHENTIC, InfoValue::Bool(authentic)));
        }
        let broken = crate::model::inconsistencies(i, h);
        if !broken.is_empty() {
            out.push((keys::INCONSISTENT, InfoValue::Strs(broken.iter().map(ToString::to_string).collect())));
        }
        out
    }
}

/// A value given for a personalisation key, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldInput {
    Str(String),
    Byte(u8),
    Bytes(Vec<u8>),
    /// Any other type, by its D-Bus signature.
    Other(String),
}

/// Builds a personalisation from `WriteHolderRecord`'s dictionary: each
/// writable key with its contract type. An unknown key, a read-only key or
/// a value of the wrong type is refused by name.
pub(crate) fn record_from_fields(
    fields: impl IntoIterator<Item = (String, FieldInput)>,
) -> Result<crate::model::HolderRecordUpdate, crate::ops::OpError> {
    use crate::model::{Field, Nation, Photo};
    use crate::ops::OpError;
    use sscard_contract::rule;
    let mut update = crate::model::HolderRecordUpdate::default();
    for (key, value) in fields {
        if READ_ONLY_KEYS.contains(&key.as_str()) {
            let message = format!("record: {key} cannot be written");
            return Err(OpError::BadInput { field: key, rule: rule::NOT_WRITABLE, message });
        }
        let field = Field::from_key(&key).filter(|f| !f.is_pin()).ok_or_else(|| OpError::BadInput {
            message: format!("record: unknown key {key:?}"),
            field: sscard_contract::keys::args::RECORD.to_owned(),
            rule: rule::UNKNOWN_KEY,
        })?;
        let wrong_type = |expected: &str| OpError::BadInput {
            field: key.clone(),
            rule: rule::WRONG_TYPE,
            message: format!("record: {key} must be of type {expected}"),
        };
        match (field, value) {
            (Field::Photo, FieldInput::Bytes(jpeg)) => {
                update.photo = Some(Photo::new(jpeg).map_err(OpError::InvalidArgument)?);
            }
            (Field::Photo, _) => return Err(wrong_type("ay (the JPEG bytes)")),
            (Field::Nation, FieldInput::Byte(code)) => {
                update.nation = Some(Nation::parse(&code.to_string()).map_err(OpError::InvalidArgument)?);
            }
            (Field::Nation, _) => return Err(wrong_type("y")),
            (field, FieldInput::Str(text)) => update.set_from_str(field, &text).map_err(OpError::InvalidArgument)?,
            (_, _) => return Err(wrong_type("s")),
        }
    }
    Ok(update)
}
