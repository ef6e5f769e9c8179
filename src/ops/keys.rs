//! The contract's dictionary keys (`interfaces.md`), spelled once: the
//! card-info keys, the write result's keys and the options. The daemon
//! builds and parses its dictionaries with these; `sscardctl` reads and
//! builds them with the same.

use crate::model::Field;

// The card's elements: the model names them (`Field::key`).
pub const CARD_ID: &str = Field::CardId.key();
pub const REGION: &str = Field::Region.key();
pub const CARD_TYPE: &str = Field::CardType.key();
pub const SPEC_VERSION: &str = Field::SpecVersion.key();
pub const ISSUER: &str = Field::Issuer.key();
pub const ISSUE_DATE: &str = Field::IssueDate.key();
pub const EXPIRY_DATE: &str = Field::ExpiryDate.key();
pub const CARD_NUMBER: &str = Field::CardNumber.key();
pub const SSN: &str = Field::Ssn.key();
pub const NAME: &str = Field::Name.key();
pub const SEX: &str = Field::Sex.key();
pub const NATION: &str = Field::Nation.key();
pub const BIRTHPLACE: &str = Field::Birthplace.key();
pub const BIRTH_DATE: &str = Field::BirthDate.key();
/// `ay`, the JPEG bytes; also the option that asks `ReadCard` for them.
pub const PHOTO: &str = Field::Photo.key();

// The card's state, as the daemon reports it.
pub const STATE: &str = "state";
/// `u`.
pub const PIN_TRIES_LEFT: &str = "pin_tries_left";
pub const PROFILE: &str = "profile";
pub const ATR_HISTORICAL: &str = "atr_historical";
/// Empty without a PSAM.
pub const TERMINAL_NUMBER: &str = "terminal_number";
/// The legacy line's last field, from the daemon's configuration (an
/// addition to the contract); absent when none is configured.
pub const TERMINAL_DEVICE: &str = "terminal_device";
/// `b`, INTERNAL AUTHENTICATE's verdict, when asked for.
pub const AUTHENTIC: &str = "authentic";
/// `as`, one line per consistency rule the record on the card breaks.
pub const INCONSISTENT: &str = "inconsistent";

/// The card-info keys in the contract's order (card, holder, state), then
/// the additions; `photo` is not among them.
pub const CARD_INFO: &[&str] = &[
    CARD_ID,
    REGION,
    CARD_TYPE,
    SPEC_VERSION,
    ISSUER,
    ISSUE_DATE,
    EXPIRY_DATE,
    CARD_NUMBER,
    SSN,
    NAME,
    SEX,
    NATION,
    BIRTHPLACE,
    BIRTH_DATE,
    STATE,
    PIN_TRIES_LEFT,
    PROFILE,
    ATR_HISTORICAL,
    TERMINAL_NUMBER,
    TERMINAL_DEVICE,
    AUTHENTIC,
];

// `WriteHolderRecord`'s result.
/// `s`, SHA-256 in lower-case hex over what was written.
pub const DIGEST: &str = "digest";
/// `u`, the command APDUs sent.
pub const APDUS: &str = "apdus";

/// The options (`a{sv} opts`), each a `b`.
pub mod opts {
    /// `ReadCard`: add the photo.
    pub const PHOTO: &str = super::PHOTO;
    /// `ReadCard`: run INTERNAL AUTHENTICATE against the PSAM.
    pub const AUTHENTICATE: &str = "authenticate";
    /// `VerifyPin`, `ChangePin`, `Activate`: spend the PIN's last try.
    pub const ALLOW_LAST_TRY: &str = "allow_last_try";
}

/// HSM sessions (`Reader1.BeginHsm`, `HsmSession1.Continue`): the keys
/// besides the byte values the profile's scripts hand out and await.
pub mod hsm {
    /// In every answer: the names the next step takes (`as`).
    pub const AWAITS: &str = "awaits";
    /// In every answer: whether the session has ended (`b`).
    pub const DONE: &str = "done";
    /// `Continue` of a reload: the new PIN (`s`).
    pub const NEW_PIN: &str = "new_pin";
    /// `Continue` of a write: the record (`a{sv}`, as `WriteHolderRecord`).
    pub const RECORD: &str = "record";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_element_keys_are_the_models() {
        let elements: Vec<&str> =
            Field::ALL.into_iter().filter(|f| !f.is_pin() && *f != Field::Photo).map(Field::key).collect();
        assert_eq!(elements, CARD_INFO[..elements.len()]);
        let mut all = CARD_INFO.to_vec();
        all.extend([PHOTO, DIGEST, APDUS, opts::AUTHENTICATE, opts::ALLOW_LAST_TRY]);
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a key spelled twice");
    }
}
