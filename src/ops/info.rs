//! What the read operations return.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
