//! Primitive encodings of the card: packed BCD (dates, region codes), fixed-length
//! ASCII, and the rules for padding and unwritten values (card-profile.md section 3).

use std::fmt;

use super::error::{DecodeError, Field, Rule, ValidationError};

/// Whether a record value is unwritten: empty, all `00` or all `FF`.
pub fn is_unwritten(value: &[u8]) -> bool {
    value.iter().all(|&b| b == 0x00) || value.iter().all(|&b| b == 0xFF)
}

/// Strips trailing `00` and `FF` padding from a text value (ASCII or GBK).
///
/// Binary and BCD values are not stripped: their width is fixed and a region code
/// such as 110000 legitimately ends in `00`.
pub fn strip_padding(value: &[u8]) -> &[u8] {
    let end = value.iter().rposition(|&b| b != 0x00 && b != 0xFF).map_or(0, |i| i + 1);
    value.get(..end).unwrap_or_default()
}

/// Whether `b` is printable ASCII (space to tilde).
const fn is_printable_ascii(b: u8) -> bool {
    matches!(b, 0x20..=0x7E)
}

/// Encodes a printable-ASCII text right-padded with `00` to `len` bytes, the layout of
/// the card's ASCII records.
pub fn encode_ascii_fixed(s: &str, len: usize, field: Field) -> Result<Vec<u8>, ValidationError> {
    if s.is_empty() {
        return Err(ValidationError::new(field, Rule::Empty));
    }
    if !s.bytes().all(is_printable_ascii) {
        return Err(ValidationError::new(field, Rule::NotAscii));
    }
    if s.len() > len {
        return Err(ValidationError::new(field, Rule::TooLong { max_bytes: len }));
    }
    let mut out = s.as_bytes().to_vec();
    out.resize(len, 0x00);
    Ok(out)
}

/// Decodes a fixed-length ASCII record value: strips trailing `00`/`FF`, gives `None`
/// for an unwritten value, and refuses anything but printable ASCII.
pub fn decode_ascii_fixed(value: &[u8], field: Field) -> Result<Option<String>, DecodeError> {
    if is_unwritten(value) {
        return Ok(None);
    }
    let text = strip_padding(value);
    if !text.iter().copied().all(is_printable_ascii) {
        return Err(DecodeError::Invalid { field, rule: Rule::NotAscii });
    }
    Ok(Some(text.iter().map(|&b| char::from(b)).collect()))
}

/// Packs ASCII decimal digits two to a byte, high nibble first. `digits` must have an
/// even count of `b'0'..=b'9'`.
fn pack_bcd(digits: &[u8], out: &mut [u8]) {
    for (o, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let hi = pair.first().map_or(0, |d| d - b'0');
        let lo = pair.get(1).map_or(0, |d| d - b'0');
        *o = (hi << 4) | lo;
    }
}

/// Unpacks BCD bytes into ASCII digits, refusing any nibble above 9.
fn unpack_bcd(bytes: &[u8], field: Field) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 0x0F] {
            if nibble > 9 {
                return Err(DecodeError::BadBcd { field });
            }
            out.push(b'0' + nibble);
        }
    }
    Ok(out)
}

/// The decimal value of ASCII digits (at most 4 used here, so no overflow).
fn digits_value(digits: &[u8]) -> u16 {
    digits.iter().fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'))
}

/// Whether `year` is a leap year of the Gregorian calendar.
pub const fn is_leap_year(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in `month` (1 to 12) of `year`; 0 for an invalid month.
pub const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// A real calendar date (years 1 to 9999), as the card stores it in BCD `YYYYMMDD`
/// and D-Bus shows it as `YYYY-MM-DD`. Ordered chronologically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// The date, if it exists in the Gregorian calendar (29 February only in leap years).
    pub const fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if year == 0 || year > 9999 || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// The year, 1 to 9999.
    pub const fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub const fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub const fn day(&self) -> u8 {
        self.day
    }

    /// Builds a date from 8 ASCII digits `YYYYMMDD`.
    fn from_digits(d: &[u8], field: Field) -> Result<Date, ValidationError> {
        let (Some(y), Some(m), Some(dd)) = (d.get(0..4), d.get(4..6), d.get(6..8)) else {
            return Err(ValidationError::new(field, Rule::NotACalendarDate));
        };
        let month = u8::try_from(digits_value(m)).unwrap_or(0);
        let day = u8::try_from(digits_value(dd)).unwrap_or(0);
        Date::new(digits_value(y), month, day).ok_or(ValidationError::new(field, Rule::NotACalendarDate))
    }

    /// Parses the D-Bus form `YYYY-MM-DD`; the error names `field`.
    pub fn parse_iso(s: &str, field: Field) -> Result<Date, ValidationError> {
        const FORMAT: Rule = Rule::BadFormat { expected: "YYYY-MM-DD" };
        let b = s.as_bytes();
        let shaped = b.len() == 10
            && b.iter().enumerate().all(|(i, &c)| match i {
                4 | 7 => c == b'-',
                _ => c.is_ascii_digit(),
            });
        if !shaped {
            return Err(ValidationError::new(field, FORMAT));
        }
        let digits: Vec<u8> = b.iter().copied().filter(u8::is_ascii_digit).collect();
        Date::from_digits(&digits, field)
    }

    /// Parses the compact form `YYYYMMDD` (SSN digits, the legacy line); the error
    /// names `field`.
    pub fn parse_compact(s: &str, field: Field) -> Result<Date, ValidationError> {
        let b = s.as_bytes();
        if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
            return Err(ValidationError::new(field, Rule::BadFormat { expected: "YYYYMMDD" }));
        }
        Date::from_digits(b, field)
    }

    /// The D-Bus form `YYYY-MM-DD`.
    pub fn to_iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// The compact form `YYYYMMDD`.
    pub fn to_compact(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// The card's 4-byte BCD `YYYYMMDD`.
    pub fn to_bcd(&self) -> [u8; 4] {
        let mut out = [0u8; 4];
        pack_bcd(self.to_compact().as_bytes(), &mut out);
        out
    }

    /// Decodes the card's 4-byte BCD `YYYYMMDD`; the error names `field`.
    pub fn from_bcd(bytes: &[u8], field: Field) -> Result<Date, DecodeError> {
        if bytes.len() != 4 {
            return Err(DecodeError::WrongLength { field, expected: 4, found: bytes.len() });
        }
        let digits = unpack_bcd(bytes, field)?;
        Date::from_digits(&digits, field).map_err(|_| DecodeError::InvalidDate { field })
    }
}

impl fmt::Display for Date {
    /// Shows the D-Bus form `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A 6-digit administrative region code (GB/T 2260), stored in 3 bytes of BCD: the
/// region inside the card identifier and the holder's birthplace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode([u8; 6]);

impl RegionCode {
    /// Parses 6 ASCII digits; `000000` is refused, since it reads back as unwritten.
    /// The error names `field`.
    pub fn parse(s: &str, field: Field) -> Result<RegionCode, ValidationError> {
        if s.is_empty() {
            return Err(ValidationError::new(field, Rule::Empty));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new(field, Rule::NotDigits));
        }
        let digits: [u8; 6] =
            s.as_bytes().try_into().map_err(|_| ValidationError::new(field, Rule::WrongLength { expected: 6 }))?;
        if digits == [b'0'; 6] {
            return Err(ValidationError::new(field, Rule::NotAllowed { expected: "a region code other than 000000" }));
        }
        Ok(RegionCode(digits))
    }

    /// The six digits as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The card's 3-byte BCD form.
    pub fn to_bcd(&self) -> [u8; 3] {
        let mut out = [0u8; 3];
        pack_bcd(&self.0, &mut out);
        out
    }

    /// Decodes 3 bytes of BCD; the error names `field`.
    pub fn from_bcd(bytes: &[u8], field: Field) -> Result<RegionCode, DecodeError> {
        if bytes.len() != 3 {
            return Err(DecodeError::WrongLength { field, expected: 3, found: bytes.len() });
        }
        let digits = unpack_bcd(bytes, field)?;
        let digits: [u8; 6] = digits.try_into().map_err(|_| DecodeError::BadBcd { field })?;
        Ok(RegionCode(digits))
    }
}

impl fmt::Display for RegionCode {
    /// Shows the six digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any real date of years 1 to 9999.
    pub(crate) fn any_date() -> impl Strategy<Value = Date> {
        (1u16..=9999, 1u8..=12, 1u8..=31)
            .prop_filter_map("not a date", |(y, m, d)| Date::new(y, m, d.min(days_in_month(y, m))))
    }

    /// Any region code but 000000.
    pub(crate) fn any_region() -> impl Strategy<Value = RegionCode> {
        "[0-9]{6}".prop_filter_map("all zero", |s| RegionCode::parse(&s, Field::Region).ok())
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000));
        assert!(is_leap_year(2024));
        assert!(!is_leap_year(1900));
        assert!(!is_leap_year(2023));
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2024, 2, 30).is_none());
        assert!(Date::new(2024, 4, 31).is_none());
        assert!(Date::new(2024, 13, 1).is_none());
        assert!(Date::new(2024, 0, 1).is_none());
        assert!(Date::new(0, 1, 1).is_none());
    }

    #[test]
    fn date_forms() {
        let d = Date::parse_iso("1949-12-31", Field::BirthDate).unwrap();
        assert_eq!(d.to_compact(), "19491231");
        assert_eq!(d.to_iso(), "1949-12-31");
        assert_eq!(d.to_string(), "1949-12-31");
        assert_eq!(d.to_bcd(), [0x19, 0x49, 0x12, 0x31]);
        assert_eq!(Date::from_bcd(&[0x19, 0x49, 0x12, 0x31], Field::BirthDate), Ok(d));
        assert_eq!(Date::parse_compact("19491231", Field::BirthDate), Ok(d));
        assert!(Date::new(2020, 1, 1) < Date::new(2020, 1, 2));
    }

    #[test]
    fn date_format_errors() {
        for s in ["1949-1-31", "19491231", "1949/12/31", "1949-12-3a", "", " 949-12-31"] {
            assert_eq!(
                Date::parse_iso(s, Field::IssueDate),
                Err(ValidationError::new(Field::IssueDate, Rule::BadFormat { expected: "YYYY-MM-DD" })),
                "{s}"
            );
        }
        assert_eq!(Date::parse_compact("2023-02-2", Field::ExpiryDate).map_err(|e| e.field), Err(Field::ExpiryDate));
    }

    #[test]
    fn date_bcd_errors() {
        assert_eq!(
            Date::from_bcd(&[0x20, 0x23, 0x02, 0x29], Field::IssueDate),
            Err(DecodeError::InvalidDate { field: Field::IssueDate })
        );
        assert_eq!(
            Date::from_bcd(&[0x20, 0x2A, 0x02, 0x01], Field::IssueDate),
            Err(DecodeError::BadBcd { field: Field::IssueDate })
        );
        assert_eq!(
            Date::from_bcd(&[0x20, 0x23, 0x02], Field::ExpiryDate),
            Err(DecodeError::WrongLength { field: Field::ExpiryDate, expected: 4, found: 3 })
        );
    }

    #[test]
    fn region_codes() {
        let r = RegionCode::parse("110000", Field::Birthplace).unwrap();
        assert_eq!(r.to_bcd(), [0x11, 0x00, 0x00]);
        assert_eq!(RegionCode::from_bcd(&[0x11, 0x00, 0x00], Field::Birthplace), Ok(r));
        assert_eq!(r.to_string(), "110000");
        assert_eq!(
            RegionCode::parse("11010", Field::Birthplace),
            Err(ValidationError::new(Field::Birthplace, Rule::WrongLength { expected: 6 }))
        );
        assert_eq!(
            RegionCode::from_bcd(&[0x11, 0x0F, 0x00], Field::Region),
            Err(DecodeError::BadBcd { field: Field::Region })
        );
    }

    #[test]
    fn padding_and_unwritten() {
        assert!(is_unwritten(&[0; 4]));
        assert!(is_unwritten(&[0xFF; 4]));
        assert!(is_unwritten(&[]));
        assert!(!is_unwritten(&[0, 0xFF]));
        assert_eq!(strip_padding(b"AB\0\xFF\0"), b"AB");
        assert_eq!(strip_padding(b"\0\0"), b"");
        assert_eq!(strip_padding(b"A\0B\0"), b"A\0B");
    }

    #[test]
    fn ascii_fixed() {
        assert_eq!(encode_ascii_fixed("3.00", 4, Field::SpecVersion).unwrap(), b"3.00".to_vec());
        assert_eq!(encode_ascii_fixed("AB", 5, Field::Issuer).unwrap(), b"AB\0\0\0".to_vec());
        assert_eq!(
            encode_ascii_fixed("ABCDEF", 5, Field::Issuer),
            Err(ValidationError::new(Field::Issuer, Rule::TooLong { max_bytes: 5 }))
        );
        assert_eq!(
            encode_ascii_fixed("A\tB", 5, Field::Issuer),
            Err(ValidationError::new(Field::Issuer, Rule::NotAscii))
        );
        assert_eq!(encode_ascii_fixed("", 5, Field::Issuer), Err(ValidationError::new(Field::Issuer, Rule::Empty)));
        assert_eq!(decode_ascii_fixed(b"AB\0\0\xFF", Field::Issuer), Ok(Some("AB".to_owned())));
        assert_eq!(decode_ascii_fixed(&[0xFF; 5], Field::Issuer), Ok(None));
        assert_eq!(decode_ascii_fixed(&[0; 5], Field::Issuer), Ok(None));
        assert_eq!(
            decode_ascii_fixed(b"A\x01B\0\0", Field::Issuer),
            Err(DecodeError::Invalid { field: Field::Issuer, rule: Rule::NotAscii })
        );
    }

    proptest! {
        #[test]
        fn date_bcd_round_trip(d in any_date()) {
            prop_assert_eq!(Date::from_bcd(&d.to_bcd(), Field::BirthDate), Ok(d));
            prop_assert_eq!(Date::parse_iso(&d.to_iso(), Field::BirthDate), Ok(d));
            prop_assert_eq!(Date::parse_compact(&d.to_compact(), Field::BirthDate), Ok(d));
            prop_assert_eq!(hex::encode(d.to_bcd()), d.to_compact());
        }

        #[test]
        fn date_bcd_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..6)) {
            if let Ok(d) = Date::from_bcd(&bytes, Field::IssueDate) {
                prop_assert_eq!(d.to_bcd().to_vec(), bytes);
            }
        }

        #[test]
        fn region_round_trip(r in any_region()) {
            prop_assert_eq!(RegionCode::from_bcd(&r.to_bcd(), Field::Region), Ok(r));
            prop_assert_eq!(RegionCode::parse(r.as_str(), Field::Region), Ok(r));
            prop_assert_eq!(hex::encode(r.to_bcd()), r.as_str());
        }

        #[test]
        fn ascii_round_trip(s in "[ -~]{1,12}", pad in 0usize..4) {
            let len = s.len() + pad;
            let enc = encode_ascii_fixed(&s, len, Field::Issuer).unwrap();
            prop_assert_eq!(enc.len(), len);
            // Trailing padding is stripped; a value that is only spaces stays.
            prop_assert_eq!(decode_ascii_fixed(&enc, Field::Issuer), Ok(Some(s)));
        }
    }
}
