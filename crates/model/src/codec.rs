//! Primitive encodings of the card: packed BCD (dates, region codes), fixed-length
//! ASCII, and the rules for padding and unwritten values (docs/card-profile.md section 3).

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
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
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
#[path = "tests/codec.rs"]
pub(crate) mod tests;
