//! The dictionary keys of the contract (`docs/interfaces.md`), spelled
//! once: the card-info keys, the write result's keys, the options and the
//! HSM sessions' values. The model's elements take their keys from here
//! (`Field::key`).

// The card's elements.
pub const CARD_ID: &str = "card_id";
pub const REGION: &str = "region";
pub const CARD_TYPE: &str = "card_type";
pub const SPEC_VERSION: &str = "spec_version";
pub const ISSUER: &str = "issuer";
pub const ISSUE_DATE: &str = "issue_date";
pub const EXPIRY_DATE: &str = "expiry_date";
pub const CARD_NUMBER: &str = "card_number";
pub const SSN: &str = "ssn";
pub const NAME: &str = "name";
pub const SEX: &str = "sex";
/// `y`.
pub const NATION: &str = "nation";
pub const BIRTHPLACE: &str = "birthplace";
pub const BIRTH_DATE: &str = "birth_date";
/// `ay`, the JPEG bytes; also the option that asks `ReadCard` for them.
pub const PHOTO: &str = "photo";
/// The PIN arguments, as an `InvalidArgument`'s `field` names them.
pub const PIN: &str = "pin";
pub const OLD_PIN: &str = "old_pin";
pub const NEW_PIN: &str = "new_pin";
pub const INITIAL_PIN: &str = "initial_pin";

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

/// The arguments an `InvalidArgument` may name besides the elements.
/// The keys of `Reader1.Features` (`a{sv}`): what a reader says of itself
/// through PC/SC part 10, each present only when the reader said it.
pub mod features {
    /// `as`: the part 10 features the reader lists, by their `reader.h`
    /// names without `FEATURE_` (`VERIFY_PIN_DIRECT`, …).
    pub const FEATURES: &str = "features";
    /// `u`: `dwMaxAPDUDataSize`; 0 is a reader at the short-APDU level.
    pub const MAX_APDU_DATA_SIZE: &str = "max_apdu_data_size";
    /// `y`: `bMinPINSize`, `bMaxPINSize`.
    pub const MIN_PIN_SIZE: &str = "min_pin_size";
    pub const MAX_PIN_SIZE: &str = "max_pin_size";
    /// `q`: `wLcdLayout`.
    pub const LCD_LAYOUT: &str = "lcd_layout";
    /// `y`: `bEntryValidationCondition`, `bTimeOut2`.
    pub const ENTRY_VALIDATION_CONDITION: &str = "entry_validation_condition";
    pub const TIMEOUT2: &str = "timeout2";
    /// `q`: `wIdVendor`, `wIdProduct`.
    pub const VENDOR_ID: &str = "vendor_id";
    pub const PRODUCT_ID: &str = "product_id";
    /// `s`: `sFirmwareID`.
    pub const FIRMWARE_ID: &str = "firmware_id";
}

pub mod args {
    /// The options dictionary.
    pub const OPTS: &str = "opts";
    /// `WriteHolderRecord`'s record.
    pub const RECORD: &str = "record";
    /// `BeginHsm`'s operation.
    pub const OPERATION: &str = "operation";
    /// `BeginHsm`'s and `Continue`'s values.
    pub const ARGS: &str = "args";
}

/// The options (`a{sv} opts`), each a `b`.
pub mod opts {
    /// `ReadCard`: add the photo.
    pub const PHOTO: &str = super::PHOTO;
    /// `ReadCard`: run INTERNAL AUTHENTICATE against the PSAM.
    pub const AUTHENTICATE: &str = "authenticate";
    /// `VerifyPin`, `ChangePin`, `Activate`: spend the PIN's last try.
    pub const ALLOW_LAST_TRY: &str = "allow_last_try";
    /// `VerifyPin`, `ChangePin`, `Activate`: the reader's keypad collects
    /// the PINs, whose arguments are then empty.
    pub const PIN_PAD: &str = "pin_pad";
}

/// HSM sessions (`Reader1.BeginHsm`, `HsmSession1.Continue`).
pub mod hsm {
    /// In every answer: the names the next step takes (`as`).
    pub const AWAITS: &str = "awaits";
    /// In every answer: whether the session has ended (`b`).
    pub const DONE: &str = "done";
    /// `Continue` of a reload: the new PIN (`s`).
    pub const NEW_PIN: &str = super::NEW_PIN;
    /// `Continue` of a write: the record (`a{sv}`, as `WriteHolderRecord`).
    pub const RECORD: &str = super::args::RECORD;

    // The byte values (`ay`) the profile's `hsm-*` scripts hand out and
    // await, under the names the scripts give them.
    pub const ALGORITHM: &str = "algorithm";
    pub const CARD_ID: &str = super::CARD_ID;
    pub const INTERNAL_FACTOR: &str = "internal_factor";
    pub const INTERNAL_ORIGINAL: &str = "internal_original";
    pub const INTERNAL_RESULT: &str = "internal_result";
    pub const EXTERNAL_FACTOR: &str = "external_factor";
    pub const EXTERNAL_ORIGINAL: &str = "external_original";
    pub const EXTERNAL_RESULT: &str = "external_result";
    pub const KEY: &str = "key";
    pub const FACTOR: &str = "factor";
    pub const ORIGINAL: &str = "original";
    pub const CRYPTOGRAM: &str = "cryptogram";
    pub const CHALLENGE: &str = "challenge";
    pub const HEADER: &str = "header";
    pub const DATA: &str = "data";
    pub const APDU: &str = "apdu";

    /// The operations `BeginHsm` takes.
    pub mod operation {
        pub const READ_BASIC: &str = "read_basic";
        pub const READ: &str = "read";
        pub const WRITE: &str = "write";
        pub const RELOAD_PIN: &str = "reload_pin";
        pub const UNBLOCK_PIN: &str = "unblock_pin";
        pub const ALL: [&str; 5] = [READ_BASIC, READ, WRITE, RELOAD_PIN, UNBLOCK_PIN];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_spelled_twice() {
        let mut all = CARD_INFO.to_vec();
        all.extend([PHOTO, DIGEST, APDUS, opts::AUTHENTICATE, opts::ALLOW_LAST_TRY, INCONSISTENT]);
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a key spelled twice");
    }
}
