//! The card data model: every element of the SSSE card's EF05, EF06 and EF08 as a
//! type that can only hold a valid value, the element tables as data, the
//! consistency rules a personalisation must satisfy, and PINs.
//!
//! No I/O and no APDUs live here: the daemon, the script engine and the simulator all
//! build on these types. The specification is docs/card-profile.md (sections 3 and 4) and
//! docs/interfaces.md ("Writing", "PIN arguments", "Value formats").

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod atr;
pub mod card_id;
pub mod codec;
pub mod elements;
pub mod error;
pub mod fci;
pub mod files;
pub mod input;
pub mod name;
pub mod photo;
pub mod pin;
pub mod ssn;
pub mod values;

pub use atr::{Atr, Protocol};
pub use card_id::{CARD_ID_RID, CardId};
pub use codec::{
    Date, RegionCode, days_in_month, decode_ascii_fixed, encode_ascii_fixed, is_leap_year, is_unwritten, strip_padding,
};
pub use elements::{
    EF05_ELEMENTS, EF06_ELEMENTS, ElementSpec, FileId, Record, SFI_EF05, SFI_EF06, SFI_EF07, SFI_EF08, TAG_BIRTH_DATE,
    TAG_BIRTHPLACE, TAG_CARD_ID, TAG_CARD_NUMBER, TAG_CARD_TYPE, TAG_EXPIRY_DATE, TAG_ISSUE_DATE, TAG_ISSUER, TAG_NAME,
    TAG_NAME_EXT, TAG_NATION, TAG_SEX, TAG_SPEC_VERSION, TAG_SSN,
};
pub use error::{DecodeError, Field, Inconsistency, Rule, ValidationError};
pub use fci::{Fci, LifeCycle};
pub use files::{HolderData, HolderRecordUpdate, IssuerData, inconsistencies};
pub use input::{FieldInput, READ_ONLY_KEYS, RecordInputError};
pub use name::{NAME_EXT_LEN, NAME_LEN, NAME_MAX_BYTES, Name};
pub use photo::{PHOTO_FILE_SIZE, PHOTO_MAX_LEN, Photo};
pub use pin::{PIN_MAX_LEN, PIN_MIN_LEN, Pin, PinPolicy};
pub use ssn::Ssn;
pub use values::{CardNumber, CardType, Generation, Issuer, Nation, Sex, SpecVersion};
