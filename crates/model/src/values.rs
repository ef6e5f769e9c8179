//! The small elements of EF05 and EF06: card type, specification version, issuer,
//! card number, sex and nation, plus the card [`Generation`].
//!
//! Each type can only hold a valid value. `parse` takes the D-Bus string form,
//! `to_value` gives the record value (padded to the record length) and `from_value`
//! decodes a written record value.

use std::fmt;

use super::codec::{decode_ascii_fixed, encode_ascii_fixed};
use super::error::{DecodeError, Field, Rule, ValidationError};

/// The card generation (docs/card-profile.md section 9); it decides the specification
/// version a card may be given, among much else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Generation {
    /// The older card: T=0, 3DES, no life cycle, spec version `2.00`.
    Gen2,
    /// The reference card: T=1, SM4, life cycle, spec version `3.00`.
    Gen3,
}

impl Generation {
    /// Every generation the model knows.
    pub const ALL: [Generation; 2] = [Generation::Gen3, Generation::Gen2];

    /// The specification version a card of this generation carries in EF05 tag 03.
    pub const fn spec_version(self) -> &'static str {
        match self {
            Generation::Gen2 => "2.00",
            Generation::Gen3 => "3.00",
        }
    }
}

impl fmt::Display for Generation {
    /// Shows `gen2` or `gen3`, as in the profile names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Generation::Gen2 => "gen2",
            Generation::Gen3 => "gen3",
        })
    }
}

/// Turns a record value that breaks a rule into a decode error.
fn invalid(e: ValidationError) -> DecodeError {
    DecodeError::from_validation(e)
}

/// Decodes a written ASCII record value, treating an unwritten one as empty text
/// (callers check for unwritten values first).
fn ascii_text(value: &[u8], field: Field) -> Result<String, DecodeError> {
    Ok(decode_ascii_fixed(value, field)?.unwrap_or_default())
}

/// EF05 tag 02: the card type, one ASCII digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CardType(u8);

impl CardType {
    /// Record length of tag 02.
    pub const LEN: usize = 1;

    /// Parses one ASCII digit.
    pub fn parse(s: &str) -> Result<CardType, ValidationError> {
        let err = |rule| ValidationError::new(Field::CardType, rule);
        match s.as_bytes() {
            [] => Err(err(Rule::Empty)),
            [d] if d.is_ascii_digit() => Ok(CardType(*d)),
            [_] => Err(err(Rule::NotDigits)),
            _ => Err(err(Rule::WrongLength { expected: 1 })),
        }
    }

    /// The digit as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(std::slice::from_ref(&self.0)).unwrap_or_default()
    }

    /// The record value.
    pub fn to_value(&self) -> Vec<u8> {
        vec![self.0]
    }

    /// Decodes a written record value.
    pub fn from_value(value: &[u8]) -> Result<CardType, DecodeError> {
        CardType::parse(&ascii_text(value, Field::CardType)?).map_err(invalid)
    }
}

impl fmt::Display for CardType {
    /// Shows the digit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// EF05 tag 03: the specification version, 4 ASCII characters.
///
/// Writing accepts only `3.00` and `2.00` (and `validate` ties them to the card's
/// generation); reading accepts any printable version text, since older cards carry
/// other versions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpecVersion(String);

impl SpecVersion {
    /// Record length of tag 03.
    pub const LEN: usize = 4;

    /// Parses a version to be written: `3.00` or `2.00`.
    pub fn parse(s: &str) -> Result<SpecVersion, ValidationError> {
        match s {
            "3.00" | "2.00" => Ok(SpecVersion(s.to_owned())),
            "" => Err(ValidationError::new(Field::SpecVersion, Rule::Empty)),
            _ => Err(ValidationError::new(Field::SpecVersion, Rule::NotAllowed { expected: "3.00 or 2.00" })),
        }
    }

    /// The version a card of `generation` carries.
    pub fn for_generation(generation: Generation) -> SpecVersion {
        SpecVersion(generation.spec_version().to_owned())
    }

    /// The generation whose version this is, if any.
    pub fn generation(&self) -> Option<Generation> {
        match self.0.as_str() {
            "3.00" => Some(Generation::Gen3),
            "2.00" => Some(Generation::Gen2),
            _ => None,
        }
    }

    /// The version text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The record value.
    pub fn to_value(&self) -> Vec<u8> {
        let mut v = self.0.as_bytes().to_vec();
        v.resize(Self::LEN, 0);
        v
    }

    /// Decodes a written record value (any printable ASCII version).
    pub fn from_value(value: &[u8]) -> Result<SpecVersion, DecodeError> {
        if value.len() != Self::LEN {
            return Err(DecodeError::WrongLength {
                field: Field::SpecVersion,
                expected: Self::LEN,
                found: value.len(),
            });
        }
        Ok(SpecVersion(ascii_text(value, Field::SpecVersion)?))
    }
}

impl fmt::Display for SpecVersion {
    /// Shows the version text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// EF05 tag 04: the initialising organisation, 1 to 12 printable ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Issuer(String);

impl Issuer {
    /// Record length of tag 04.
    pub const LEN: usize = 12;

    /// Parses the organisation's code.
    pub fn parse(s: &str) -> Result<Issuer, ValidationError> {
        encode_ascii_fixed(s, Self::LEN, Field::Issuer)?;
        Ok(Issuer(s.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The record value, right-padded with `00`.
    pub fn to_value(&self) -> Vec<u8> {
        encode_ascii_fixed(&self.0, Self::LEN, Field::Issuer).unwrap_or_default()
    }

    /// Decodes a written record value.
    pub fn from_value(value: &[u8]) -> Result<Issuer, DecodeError> {
        Issuer::parse(&ascii_text(value, Field::Issuer)?).map_err(invalid)
    }
}

impl fmt::Display for Issuer {
    /// Shows the text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// EF05 tag 07: the card number, exactly 9 ASCII letters or digits (e.g. `X00000019`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CardNumber(String);

impl CardNumber {
    /// Record length of tag 07.
    pub const LEN: usize = 9;

    /// Parses a card number.
    pub fn parse(s: &str) -> Result<CardNumber, ValidationError> {
        let err = |rule| ValidationError::new(Field::CardNumber, rule);
        if s.is_empty() {
            return Err(err(Rule::Empty));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err(Rule::NotAlphanumeric));
        }
        if s.len() != Self::LEN {
            return Err(err(Rule::WrongLength { expected: Self::LEN }));
        }
        Ok(CardNumber(s.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The record value.
    pub fn to_value(&self) -> Vec<u8> {
        self.0.as_bytes().to_vec()
    }

    /// Decodes a written record value.
    pub fn from_value(value: &[u8]) -> Result<CardNumber, DecodeError> {
        CardNumber::parse(&ascii_text(value, Field::CardNumber)?).map_err(invalid)
    }
}

impl fmt::Display for CardNumber {
    /// Shows the text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// EF06 tag 0A: the holder's sex (GB/T 2261.1), ASCII `1` or `2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sex {
    /// `1`; an odd 17th SSN digit.
    Male,
    /// `2`; an even 17th SSN digit.
    Female,
}

impl Sex {
    /// Record length of tag 0A.
    pub const LEN: usize = 1;

    /// Parses `1` (male) or `2` (female).
    pub fn parse(s: &str) -> Result<Sex, ValidationError> {
        match s {
            "1" => Ok(Sex::Male),
            "2" => Ok(Sex::Female),
            "" => Err(ValidationError::new(Field::Sex, Rule::Empty)),
            _ => Err(ValidationError::new(Field::Sex, Rule::NotAllowed { expected: "1 (male) or 2 (female)" })),
        }
    }

    /// The code as text, `1` or `2`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
        }
    }

    /// The record value.
    pub fn to_value(&self) -> Vec<u8> {
        self.as_str().as_bytes().to_vec()
    }

    /// Decodes a written record value.
    pub fn from_value(value: &[u8]) -> Result<Sex, DecodeError> {
        Sex::parse(&ascii_text(value, Field::Sex)?).map_err(invalid)
    }
}

impl fmt::Display for Sex {
    /// Shows `1` or `2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// EF06 tag 0B: the ethnic group code of GB 3304, one binary byte: 1 to 56, 97
/// (other) or 98 (naturalised).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nation(u8);

impl Nation {
    /// Record length of tag 0B.
    pub const LEN: usize = 1;

    /// The allowed codes, in words, as error messages show them.
    const ALLOWED: &'static str = "1 to 56, 97 or 98";

    /// Checks a code given as a byte (the D-Bus `y`).
    pub const fn new(code: u8) -> Result<Nation, ValidationError> {
        match code {
            1..=56 | 97 | 98 => Ok(Nation(code)),
            _ => Err(ValidationError::new(Field::Nation, Rule::OutOfRange { allowed: Self::ALLOWED })),
        }
    }

    /// Parses a code given as decimal text (e.g. from a JSON record file).
    pub fn parse(s: &str) -> Result<Nation, ValidationError> {
        if s.is_empty() {
            return Err(ValidationError::new(Field::Nation, Rule::Empty));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new(Field::Nation, Rule::NotDigits));
        }
        let code = s
            .parse::<u8>()
            .map_err(|_| ValidationError::new(Field::Nation, Rule::OutOfRange { allowed: Self::ALLOWED }))?;
        Nation::new(code)
    }

    /// The code.
    pub const fn code(&self) -> u8 {
        self.0
    }

    /// The record value.
    pub fn to_value(&self) -> Vec<u8> {
        vec![self.0]
    }

    /// Decodes a written record value.
    pub fn from_value(value: &[u8]) -> Result<Nation, DecodeError> {
        match value {
            [code] => Nation::new(*code).map_err(invalid),
            _ => Err(DecodeError::WrongLength { field: Field::Nation, expected: Self::LEN, found: value.len() }),
        }
    }
}

impl fmt::Display for Nation {
    /// Shows the code in decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
#[path = "tests/values.rs"]
pub(crate) mod tests;
