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
pub(crate) mod tests {
    use super::super::codec::tests::any_date;
    use super::*;
    use proptest::prelude::*;

    /// Builds an SSN from its parts with the right check character.
    pub(crate) fn make_ssn(region: &str, birth: Date, seq: &str) -> String {
        let digits = format!("{region}{}{seq}", birth.to_compact());
        let check = Ssn::check_character(&digits).unwrap();
        format!("{digits}{check}")
    }

    /// Any valid SSN.
    pub(crate) fn any_ssn() -> impl Strategy<Value = Ssn> {
        ("[0-9]{6}", any_date(), "[0-9]{3}").prop_map(|(r, d, s)| Ssn::parse(&make_ssn(&r, d, &s)).unwrap())
    }

    #[test]
    fn known_valid() {
        assert_eq!(Ssn::check_character("11010519491231002"), Some('X'));
        let s = Ssn::parse("11010519491231002X").unwrap();
        assert_eq!(s.birth_date(), Date::new(1949, 12, 31).unwrap());
        assert!(!s.sex_digit_is_odd());
        assert_eq!(s.to_value(), b"11010519491231002X".to_vec());
        assert_eq!(Ssn::from_value(&s.to_value()), Ok(s));
    }

    #[test]
    fn lower_case_x_is_upper_cased() {
        let s = Ssn::parse("11010519491231002x").unwrap();
        assert_eq!(s.as_str(), "11010519491231002X");
        assert_eq!(s.to_string(), "11010519491231002X");
    }

    #[test]
    fn check_character_covers_every_remainder() {
        // Some 17-digit prefix for each of the 11 check characters.
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..200u32 {
            let digits = format!("1101051949123{n:04}");
            seen.insert(Ssn::check_character(&digits).unwrap());
        }
        assert_eq!(seen.len(), 11);
        assert_eq!(Ssn::check_character("1234"), None);
        assert_eq!(Ssn::check_character("1101051949123100a"), None);
    }

    #[test]
    fn format_errors() {
        let rule = |s: &str| Ssn::parse(s).map_err(|e| e.rule).err();
        assert_eq!(rule(""), Some(Rule::Empty));
        assert_eq!(rule("1101051949123100"), Some(Rule::WrongLength { expected: 18 }));
        assert_eq!(rule("11010519491231002Y"), Some(Rule::BadFormat { expected: "17 digits then a digit or X" }));
        assert_eq!(rule("1101051949123100XX"), Some(Rule::BadFormat { expected: "17 digits then a digit or X" }));
        let format = Some(Rule::BadFormat { expected: "17 digits then a digit or X" });
        assert_eq!(rule("11010519491231002\u{00e9}"), format);
        // A multi-byte character where a split at byte 17 would fall inside it.
        assert_eq!(rule("1101051949123100\u{00e9}X"), format);
        assert_eq!(rule("\u{00e9}1010519491231002X"), format);
    }

    proptest! {
        #[test]
        fn valid_ssns_parse(r in "[0-9]{6}", d in any_date(), seq in "[0-9]{3}") {
            let text = make_ssn(&r, d, &seq);
            let s = Ssn::parse(&text).unwrap();
            prop_assert_eq!(s.birth_date(), d);
            prop_assert_eq!(s.as_str(), text.as_str());
            let odd = (seq.as_bytes()[2] - b'0') % 2 == 1;
            prop_assert_eq!(s.sex_digit_is_odd(), odd);
            prop_assert_eq!(Ssn::from_value(&s.to_value()), Ok(s));
        }

        #[test]
        fn a_wrong_check_character_fails(s in any_ssn(), pick in 0usize..10) {
            let right = s.as_str().as_bytes()[17];
            let others: Vec<u8> = b"0123456789X".iter().copied().filter(|&c| c != right).collect();
            let wrong = others[pick];
            let text = format!("{}{}", &s.as_str()[..17], char::from(wrong));
            prop_assert_eq!(
                Ssn::parse(&text),
                Err(ValidationError::new(
                    Field::Ssn,
                    Rule::BadCheckCharacter { expected: char::from(right) }
                ))
            );
        }
    }
}
