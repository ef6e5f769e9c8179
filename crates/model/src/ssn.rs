//! The social security number: the 18-character citizen identity number of GB 11643.

use std::fmt;

use super::codec::Date;
use super::error::{DecodeError, Field, Rule, ValidationError};

/// Weights of ISO 7064 MOD 11-2 for the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder of the weighted sum modulo 11.
const CHECK: &[u8; 11] = b"10X98765432";

/// A valid SSN (EF06 tag 08): 17 digits and a check character (a digit or upper-case
/// `X`) that ISO 7064 MOD 11-2 confirms, with digits 7 to 14 forming a real birth
/// date. A lower-case `x` in input is accepted and upper-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ssn {
    /// The 18 characters, `X` upper case.
    text: String,
    /// The birth date in digits 7 to 14.
    birth_date: Date,
}

impl Ssn {
    /// Record length of tag 08.
    pub const LEN: usize = 18;

    /// The check character that the first 17 digits call for, or `None` if `digits`
    /// is not exactly 17 ASCII digits.
    pub fn check_character(digits: &str) -> Option<char> {
        let b = digits.as_bytes();
        if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let sum: u32 = b.iter().zip(WEIGHTS).map(|(&d, w)| u32::from(d - b'0') * w).sum();
        let idx = usize::try_from(sum % 11).ok()?;
        CHECK.get(idx).map(|&c| char::from(c))
    }

    /// Parses and checks an SSN.
    pub fn parse(s: &str) -> Result<Ssn, ValidationError> {
        let err = |rule| ValidationError::new(Field::Ssn, rule);
        if s.is_empty() {
            return Err(err(Rule::Empty));
        }
        if s.chars().count() != Self::LEN {
            return Err(err(Rule::WrongLength { expected: Self::LEN }));
        }
        let format = err(Rule::BadFormat { expected: "17 digits then a digit or X" });
        if !s.is_ascii() {
            return Err(format);
        }
        let upper = s.to_ascii_uppercase();
        let (digits, check) = upper.split_at(17);
        let shaped = digits.bytes().all(|b| b.is_ascii_digit())
            && matches!(check.as_bytes(), [c] if c.is_ascii_digit() || *c == b'X');
        if !shaped {
            return Err(format);
        }
        let expected = Ssn::check_character(digits).ok_or(err(Rule::NotDigits))?;
        if !check.starts_with(expected) {
            return Err(err(Rule::BadCheckCharacter { expected }));
        }
        let birth = digits.get(6..14).ok_or(err(Rule::NotACalendarDate))?;
        let birth_date = Date::parse_compact(birth, Field::Ssn)?;
        Ok(Ssn { text: upper, birth_date })
    }

    /// The 18 characters, `X` upper case.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The birth date in digits 7 to 14.
    pub const fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// Whether the 17th digit is odd, which means male.
    pub fn sex_digit_is_odd(&self) -> bool {
        self.text.as_bytes().get(16).is_some_and(|d| (d - b'0') % 2 == 1)
    }

    /// The record value.
    pub fn to_value(&self) -> Vec<u8> {
        self.text.as_bytes().to_vec()
    }

    /// Decodes a written record value.
    pub fn from_value(value: &[u8]) -> Result<Ssn, DecodeError> {
        let text = std::str::from_utf8(super::codec::strip_padding(value))
            .map_err(|_| DecodeError::Invalid { field: Field::Ssn, rule: Rule::NotAscii })?;
        Ssn::parse(text).map_err(DecodeError::from_validation)
    }
}

impl fmt::Display for Ssn {
    /// Shows the 18 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
#[path = "tests/ssn.rs"]
pub(crate) mod tests;
