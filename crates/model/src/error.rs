//! Errors of the card data model.
//!
//! Two kinds: a [`ValidationError`] says that input given to the daemon breaks a rule
//! (it becomes `InvalidArgument`), a [`DecodeError`] says that bytes read from a card do
//! not form a valid element (it becomes `CardError`). Both name the element involved.

use std::fmt;

use super::elements::FileId;
use super::values::Generation;

/// Names one data element (or PIN argument), so that every error can say which input
/// it is about. `Display` gives the element's D-Bus key, e.g. `birth_date`.
///
/// The name occupies two records (tags 09 and 4E); both are [`Field::Name`], since a
/// client only ever sees the joined name. The tag tells the two records apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// EF05 tag 01, the 16-byte card identifier.
    CardId,
    /// The region code inside the card identifier.
    Region,
    /// EF05 tag 02.
    CardType,
    /// EF05 tag 03.
    SpecVersion,
    /// EF05 tag 04, the initialising organisation.
    Issuer,
    /// EF05 tag 05.
    IssueDate,
    /// EF05 tag 06.
    ExpiryDate,
    /// EF05 tag 07.
    CardNumber,
    /// EF06 tag 08, the social security number.
    Ssn,
    /// EF06 tags 09 and 4E, the holder's name and its extension.
    Name,
    /// EF06 tag 0A.
    Sex,
    /// EF06 tag 0B.
    Nation,
    /// EF06 tag 0C.
    Birthplace,
    /// EF06 tag 0D.
    BirthDate,
    /// EF08, the holder's photo.
    Photo,
    /// A PIN argument: the current or initial PIN.
    Pin,
    /// A PIN argument: the PIN to be set.
    NewPin,
}

impl Field {
    /// Every field, in the order of the card's tables (then photo and the PINs).
    pub const ALL: [Field; 17] = [
        Field::CardId,
        Field::Region,
        Field::CardType,
        Field::SpecVersion,
        Field::Issuer,
        Field::IssueDate,
        Field::ExpiryDate,
        Field::CardNumber,
        Field::Ssn,
        Field::Name,
        Field::Sex,
        Field::Nation,
        Field::Birthplace,
        Field::BirthDate,
        Field::Photo,
        Field::Pin,
        Field::NewPin,
    ];

    /// The D-Bus dictionary key of this element (docs/interfaces.md), e.g. `card_number`.
    pub const fn key(self) -> &'static str {
        use sscard_contract::keys;
        match self {
            Field::CardId => keys::CARD_ID,
            Field::Region => keys::REGION,
            Field::CardType => keys::CARD_TYPE,
            Field::SpecVersion => keys::SPEC_VERSION,
            Field::Issuer => keys::ISSUER,
            Field::IssueDate => keys::ISSUE_DATE,
            Field::ExpiryDate => keys::EXPIRY_DATE,
            Field::CardNumber => keys::CARD_NUMBER,
            Field::Ssn => keys::SSN,
            Field::Name => keys::NAME,
            Field::Sex => keys::SEX,
            Field::Nation => keys::NATION,
            Field::Birthplace => keys::BIRTHPLACE,
            Field::BirthDate => keys::BIRTH_DATE,
            Field::Photo => keys::PHOTO,
            Field::Pin => keys::PIN,
            Field::NewPin => keys::NEW_PIN,
        }
    }

    /// The field whose D-Bus key is `key`, so the daemon can map dictionary keys.
    pub fn from_key(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.key() == key)
    }

    /// Whether this field carries a secret, whose value must never appear in messages.
    pub const fn is_pin(self) -> bool {
        matches!(self, Field::Pin | Field::NewPin)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The rule an input breaks. Its `Display` is the predicate part of a one-line
/// message ("must be 6 digits long"); [`ValidationError`] prefixes the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The value is empty (or, for a name, only white space).
    Empty,
    /// The value must consist of digits only.
    NotDigits,
    /// The value must have exactly this many characters.
    WrongLength {
        /// The required number of characters.
        expected: usize,
    },
    /// The value is longer than its record holds.
    TooLong {
        /// The most bytes the record holds.
        max_bytes: usize,
    },
    /// The value must be printable ASCII (0x20 to 0x7E).
    NotAscii,
    /// The value must consist of ASCII letters and digits only.
    NotAlphanumeric,
    /// The value does not have the required textual shape.
    BadFormat {
        /// The shape, e.g. `YYYY-MM-DD`.
        expected: &'static str,
    },
    /// The value is not one of the allowed values.
    NotAllowed {
        /// The allowed values, in words.
        expected: &'static str,
    },
    /// The value is a number outside the allowed set.
    OutOfRange {
        /// The allowed values, in words.
        allowed: &'static str,
    },
    /// The date does not exist (e.g. 31 February, or 29 February of a common year).
    NotACalendarDate,
    /// The SSN's check character (ISO 7064 MOD 11-2) is wrong.
    BadCheckCharacter {
        /// The check character the first 17 digits call for.
        expected: char,
    },
    /// The birth date differs from digits 7 to 14 of the SSN.
    BirthDateMismatch,
    /// The sex differs from the parity of the SSN's 17th digit.
    SexParityMismatch,
    /// The expiry date is not strictly after the issue date.
    ExpiryNotAfterIssue,
    /// The name holds a control character, which would not survive the card's padding.
    ControlCharacter {
        /// The offending character.
        ch: char,
    },
    /// The name holds a character GBK cannot represent (e.g. U+20000).
    NotRepresentableInGbk {
        /// The offending character.
        ch: char,
    },
    /// The name is more than 50 bytes in GBK.
    NameTooLong {
        /// Its length in GBK bytes.
        bytes: usize,
    },
    /// Split at the last character boundary at or before byte 30, the rest of the
    /// name does not fit the 20-byte extension.
    NameExtensionTooLong {
        /// The bytes that would go to the extension.
        rest: usize,
    },
    /// One of ssn, sex and birth_date is given without the others; the error's field
    /// is the one missing.
    MustComeTogether,
    /// A card's name extension (tag 4E) is written while tag 09 is not full: a name
    /// is split at the last character boundary at or before byte 30, so tag 09 of a
    /// name with an extension holds 29 or 30 bytes. The two records come from
    /// different names.
    NameExtensionOfAnotherName {
        /// The bytes tag 09 holds.
        name_bytes: usize,
    },
    /// The specification version does not match the card's generation.
    GenerationMismatch {
        /// The card's generation.
        generation: Generation,
    },
    /// The photo is not a JPEG (SOI `FF D8` to EOI `FF D9`).
    NotJpeg,
    /// The photo is longer than EF08 holds.
    PhotoTooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// The element cannot be written (e.g. the card identifier).
    NotWritable,
    /// The PIN has the wrong number of digits.
    PinLength {
        /// The fewest digits allowed.
        min: usize,
        /// The most digits allowed.
        max: usize,
    },
    /// The PIN holds something other than ASCII digits.
    PinNotDigits,
    /// The new PIN equals the profile's initial PIN.
    PinIsInitial,
    /// The new PIN is one digit repeated.
    PinRepeatedDigit,
    /// The new PIN is a strictly ascending or descending run (123456, 987654).
    PinSequential,
}

impl Rule {
    /// Whether the message of this rule carries a piece of the input, so it must be
    /// withheld for PIN fields.
    const fn echoes_input(self) -> bool {
        matches!(
            self,
            Rule::BadCheckCharacter { .. } | Rule::ControlCharacter { .. } | Rule::NotRepresentableInGbk { .. }
        )
    }
}

impl Rule {
    /// Its name in an error's details (`rule`), from the contract.
    pub const fn id(self) -> &'static str {
        use sscard_contract::rule as id;
        match self {
            Rule::Empty => id::EMPTY,
            Rule::NotDigits => id::NOT_DIGITS,
            Rule::WrongLength { .. } => id::WRONG_LENGTH,
            Rule::TooLong { .. } => id::TOO_LONG,
            Rule::NotAscii => id::NOT_ASCII,
            Rule::NotAlphanumeric => id::NOT_ALPHANUMERIC,
            Rule::BadFormat { .. } => id::BAD_FORMAT,
            Rule::NotAllowed { .. } => id::NOT_ALLOWED,
            Rule::OutOfRange { .. } => id::OUT_OF_RANGE,
            Rule::NotACalendarDate => id::NOT_A_CALENDAR_DATE,
            Rule::BadCheckCharacter { .. } => id::BAD_CHECK_CHARACTER,
            Rule::BirthDateMismatch => id::BIRTH_DATE_MISMATCH,
            Rule::SexParityMismatch => id::SEX_PARITY_MISMATCH,
            Rule::ExpiryNotAfterIssue => id::EXPIRY_NOT_AFTER_ISSUE,
            Rule::ControlCharacter { .. } => id::CONTROL_CHARACTER,
            Rule::NotRepresentableInGbk { .. } => id::NOT_REPRESENTABLE_IN_GBK,
            Rule::NameTooLong { .. } => id::NAME_TOO_LONG,
            Rule::NameExtensionTooLong { .. } => id::NAME_EXTENSION_TOO_LONG,
            Rule::MustComeTogether => id::MUST_COME_TOGETHER,
            Rule::NameExtensionOfAnotherName { .. } => id::NAME_EXTENSION_OF_ANOTHER_NAME,
            Rule::GenerationMismatch { .. } => id::GENERATION_MISMATCH,
            Rule::NotJpeg => id::NOT_JPEG,
            Rule::PhotoTooLarge { .. } => id::PHOTO_TOO_LARGE,
            Rule::NotWritable => id::NOT_WRITABLE,
            Rule::PinLength { .. } => id::PIN_LENGTH,
            Rule::PinNotDigits => id::PIN_NOT_DIGITS,
            Rule::PinIsInitial => id::PIN_IS_INITIAL,
            Rule::PinRepeatedDigit => id::PIN_REPEATED_DIGIT,
            Rule::PinSequential => id::PIN_SEQUENTIAL,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rule::Empty => f.write_str("must not be empty"),
            Rule::NotDigits => f.write_str("must contain only digits"),
            Rule::WrongLength { expected } => {
                write!(f, "must be exactly {expected} characters long")
            }
            Rule::TooLong { max_bytes } => write!(f, "must be at most {max_bytes} bytes long"),
            Rule::NotAscii => f.write_str("must be printable ASCII"),
            Rule::NotAlphanumeric => f.write_str("must contain only ASCII letters and digits"),
            Rule::BadFormat { expected } => write!(f, "must have the form {expected}"),
            Rule::NotAllowed { expected } => write!(f, "must be {expected}"),
            Rule::OutOfRange { allowed } => write!(f, "is out of range (allowed: {allowed})"),
            Rule::NotACalendarDate => f.write_str("is not a real calendar date"),
            Rule::BadCheckCharacter { expected } => {
                write!(f, "check character is wrong (expected {expected})")
            }
            Rule::BirthDateMismatch => f.write_str("does not match digits 7 to 14 of the ssn"),
            Rule::SexParityMismatch => {
                f.write_str("does not match the parity of the ssn's 17th digit (odd is male, even is female)")
            }
            Rule::ExpiryNotAfterIssue => f.write_str("must come after the issue date"),
            Rule::ControlCharacter { ch } => {
                write!(f, "contains the control character U+{:04X}", u32::from(ch))
            }
            Rule::NotRepresentableInGbk { ch } => {
                write!(f, "contains {ch} (U+{:04X}), which GBK cannot represent", u32::from(ch))
            }
            Rule::NameTooLong { bytes } => {
                write!(f, "is {bytes} bytes in GBK, at most 50 fit")
            }
            Rule::NameExtensionTooLong { rest } => {
                write!(f, "does not split: {rest} bytes would go to the name extension, at most 20 fit")
            }
            Rule::MustComeTogether => f.write_str("is missing: ssn, sex and birth_date must be given together"),
            Rule::NameExtensionOfAnotherName { name_bytes } => write!(
                f,
                "has an extension (tag 4E) but tag 09 holds only {name_bytes} bytes (29 or 30 with an extension): \
                 the two records come from different names"
            ),
            Rule::GenerationMismatch { generation } => {
                write!(f, "does not match the card's generation ({generation} needs {})", generation.spec_version())
            }
            Rule::NotJpeg => f.write_str("is not a JPEG (must start FF D8 and end FF D9)"),
            Rule::PhotoTooLarge { len } => write!(f, "is {len} bytes, at most 8190 fit"),
            Rule::NotWritable => f.write_str("cannot be written"),
            Rule::PinLength { min, max } if min == max => {
                write!(f, "must be {min} digits long")
            }
            Rule::PinLength { min, max } => write!(f, "must be {min} to {max} digits long"),
            Rule::PinNotDigits => f.write_str("must contain only digits"),
            Rule::PinIsInitial => f.write_str("must differ from the initial PIN"),
            Rule::PinRepeatedDigit => f.write_str("must not be one digit repeated"),
            Rule::PinSequential => f.write_str("must not be an ascending or descending run of digits"),
        }
    }
}

/// Shows a rule, withholding any echoed input when the field is a PIN.
struct Shown {
    field: Field,
    rule: Rule,
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_pin() && self.rule.echoes_input() {
            f.write_str("is not acceptable")
        } else {
            self.rule.fmt(f)
        }
    }
}

/// An input that breaks a rule of the profile, e.g. `ssn: check character is wrong
/// (expected X)`. The daemon reports it as `InvalidArgument`; it never echoes a PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", Shown { field: *.field, rule: *.rule })]
pub struct ValidationError {
    /// The element the input was for.
    pub field: Field,
    /// The rule it breaks.
    pub rule: Rule,
}

impl ValidationError {
    /// Builds the error for `field` breaking `rule`.
    pub const fn new(field: Field, rule: Rule) -> ValidationError {
        ValidationError { field, rule }
    }
}

/// A consistency rule of card-profile.md section 3 that the record on a card breaks,
/// e.g. after a personalisation cut short: `birth_date: does not match digits 7 to
/// 14 of the ssn`. Each element decodes on its own; together they disagree.
/// `ReadCard` lists these under `inconsistent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inconsistency {
    /// The element at fault (for ssn, sex and birth_date: the one unwritten, or the
    /// one that disagrees with the ssn).
    pub field: Field,
    /// The rule broken.
    pub rule: Rule,
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rule {
            // On a card nothing is "given": say what the card holds.
            Rule::MustComeTogether => {
                write!(f, "{}: is unwritten, but ssn, sex and birth_date travel together", self.field)
            }
            rule => write!(f, "{}: {rule}", self.field),
        }
    }
}

impl From<ValidationError> for Inconsistency {
    fn from(e: ValidationError) -> Inconsistency {
        Inconsistency { field: e.field, rule: e.rule }
    }
}

/// Bytes read from a card that do not form a valid element. The daemon reports it as
/// `CardError`; the simulator uses it to refuse corrupt images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A record carries another tag than the one addressed.
    #[error("{field} on the card: tag {found:02X} where {expected:02X} was expected")]
    WrongTag {
        /// The element read.
        field: Field,
        /// The tag of the element.
        expected: u8,
        /// The tag found.
        found: u8,
    },
    /// A record or value has another length than the profile's.
    #[error("{field} on the card: {found} bytes where {expected} were expected")]
    WrongLength {
        /// The element read.
        field: Field,
        /// The length the profile gives.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A BCD value holds a nibble that is not a decimal digit.
    #[error("{field} on the card: a BCD nibble is not a digit")]
    BadBcd {
        /// The element read.
        field: Field,
    },
    /// A name's bytes are not (canonical) GBK.
    #[error("{field} on the card: not valid GBK")]
    InvalidGbk {
        /// The element read.
        field: Field,
    },
    /// A BCD date is not a real calendar date.
    #[error("{field} on the card: not a real calendar date")]
    InvalidDate {
        /// The element read.
        field: Field,
    },
    /// The value decodes but breaks a rule of the element.
    #[error("{field} on the card: {rule}")]
    Invalid {
        /// The element read.
        field: Field,
        /// The rule broken.
        rule: Rule,
    },
    /// A binary value lacks a fixed part of its layout.
    #[error("{field} on the card: {what}")]
    BadLayout {
        /// The element read.
        field: Field,
        /// What is wrong, in words.
        what: &'static str,
    },
    /// The name extension (tag 4E) is written while the name (tag 09) is not.
    #[error("name on the card: extension written without a name")]
    OrphanNameExtension,
    /// A record appears twice in the records given for one file.
    #[error("{field} on the card: record {tag:02X} given twice")]
    DuplicateRecord {
        /// The element of the record.
        field: Field,
        /// Its tag.
        tag: u8,
    },
    /// A record's tag is not in the file's table.
    #[error("{file} on the card: tag {tag:02X} is not in the file's table")]
    UnexpectedTag {
        /// The file decoded.
        file: FileId,
        /// The stray tag.
        tag: u8,
    },
}

impl DecodeError {
    /// The element the error is about, when there is one.
    pub const fn field(&self) -> Option<Field> {
        match *self {
            DecodeError::WrongTag { field, .. }
            | DecodeError::WrongLength { field, .. }
            | DecodeError::BadBcd { field }
            | DecodeError::InvalidGbk { field }
            | DecodeError::InvalidDate { field }
            | DecodeError::Invalid { field, .. }
            | DecodeError::BadLayout { field, .. }
            | DecodeError::DuplicateRecord { field, .. } => Some(field),
            DecodeError::OrphanNameExtension => Some(Field::Name),
            DecodeError::UnexpectedTag { .. } => None,
        }
    }

    /// Turns a validation failure of a value read from a card into a decode error.
    pub(crate) const fn from_validation(e: ValidationError) -> DecodeError {
        DecodeError::Invalid { field: e.field, rule: e.rule }
    }
}

#[cfg(test)]
#[path = "tests/error.rs"]
mod tests;
