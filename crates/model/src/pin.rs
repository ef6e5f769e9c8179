//! PINs: parsing, the new-PIN policy and the packed BCD form the card takes
//! (docs/card-profile.md section 4 "PIN rules", docs/interfaces.md "PIN arguments").
//!
//! A PIN's digits live only in zeroizing buffers, and no error or debug output ever
//! shows them.

use std::fmt;

use zeroize::Zeroizing;

use super::error::{Field, Rule, ValidationError};

/// The fewest digits a PIN has.
pub const PIN_MIN_LEN: usize = 4;
/// The most digits a PIN has.
pub const PIN_MAX_LEN: usize = 12;

/// A PIN of 4 to 12 ASCII digits, wiped from memory when dropped.
///
/// `Debug` prints `Pin(***)`; there is no `Display`. Clones are zeroizing too.
#[derive(Clone)]
pub struct Pin {
    /// The ASCII digits.
    digits: Zeroizing<Vec<u8>>,
}

/// The rule every PIN follows, stated once: 4 to 12 ASCII digits. The
/// error names `field` and never holds the input. The daemon parses with
/// it ([`Pin::parse`]); the clients' PIN sources check what they were given
/// with it before they send anything ([`is_pin_shaped`]).
pub fn check_pin_shape(input: &[u8], field: Field) -> Result<(), ValidationError> {
    let length = ValidationError::new(field, Rule::PinLength { min: PIN_MIN_LEN, max: PIN_MAX_LEN });
    if input.is_empty() {
        return Err(length);
    }
    if !input.iter().all(u8::is_ascii_digit) {
        return Err(ValidationError::new(field, Rule::PinNotDigits));
    }
    if !(PIN_MIN_LEN..=PIN_MAX_LEN).contains(&input.len()) {
        return Err(length);
    }
    Ok(())
}

/// Whether `input` follows [`check_pin_shape`].
pub fn is_pin_shaped(input: &[u8]) -> bool {
    check_pin_shape(input, Field::Pin).is_ok()
}

impl Pin {
    /// Parses a PIN argument; the error names `field` (`pin` or `new_pin`) and never
    /// holds the input.
    pub fn parse(input: &str, field: Field) -> Result<Pin, ValidationError> {
        check_pin_shape(input.as_bytes(), field)?;
        let mut digits = Zeroizing::new(Vec::with_capacity(PIN_MAX_LEN));
        digits.extend_from_slice(input.as_bytes());
        Ok(Pin { digits })
    }

    /// A PIN from digits known to be valid (constants of the profile).
    fn from_trusted(digits: &[u8]) -> Pin {
        let mut d = Zeroizing::new(Vec::with_capacity(PIN_MAX_LEN));
        d.extend_from_slice(digits);
        Pin { digits: d }
    }

    /// The number of digits.
    pub fn digit_count(&self) -> usize {
        self.digits.len()
    }

    /// The ASCII digits, for code that must hand them on (e.g. into a zeroizing APDU
    /// buffer or a simulator image). Never log them.
    pub fn expose_digits(&self) -> &[u8] {
        &self.digits
    }

    /// The card's form: packed BCD, ⌈n/2⌉ bytes, with one trailing `F` nibble when
    /// the count is odd ("12345" gives `12 34 5F`).
    pub fn to_bcd(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(PIN_MAX_LEN / 2));
        for pair in self.digits.chunks(2) {
            let hi = pair.first().map_or(0x0F, |d| d - b'0');
            let lo = pair.get(1).map_or(0x0F, |d| d - b'0');
            out.push((hi << 4) | lo);
        }
        out
    }

    /// Decodes the card's form (used by the card simulator). Only well-formed
    /// encodings give a PIN: digits only, 4 to 12 of them, and an `F` only as the last
    /// nibble.
    pub fn from_bcd(bytes: &[u8]) -> Option<Pin> {
        if bytes.len() > PIN_MAX_LEN.div_ceil(2) {
            return None;
        }
        let mut digits = Zeroizing::new(Vec::with_capacity(PIN_MAX_LEN));
        let nibbles = bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]);
        let count = bytes.len() * 2;
        for (i, n) in nibbles.enumerate() {
            match n {
                0..=9 => digits.push(b'0' + n),
                0x0F if i + 1 == count => {}
                _ => return None,
            }
        }
        (PIN_MIN_LEN..=PIN_MAX_LEN).contains(&digits.len()).then_some(Pin { digits })
    }

    /// Whether all digits are the same (`111111`).
    fn is_repeated_digit(&self) -> bool {
        self.digits.windows(2).all(|w| w[0] == w[1])
    }

    /// Whether the digits rise or fall by exactly 1 each step (`123456`, `987654`).
    fn is_sequential(&self) -> bool {
        let steps = |up: bool| self.digits.windows(2).all(|w| if up { w[1] == w[0] + 1 } else { w[0] == w[1] + 1 });
        self.digits.len() >= 2 && (steps(true) || steps(false))
    }
}

impl PartialEq for Pin {
    /// Compares without stopping at the first differing digit.
    fn eq(&self, other: &Pin) -> bool {
        self.digits.len() == other.digits.len()
            && self.digits.iter().zip(other.digits.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl Eq for Pin {}

impl fmt::Debug for Pin {
    /// Prints `Pin(***)`: never the digits, nor their count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// The profile's rules for a new PIN: its exact length and initial PIN, plus the
/// fixed bans on repeated digits and runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinPolicy {
    /// The number of digits a new PIN must have.
    pub length: usize,
    /// The PIN a card is issued with, which a new PIN must differ from.
    pub initial: Pin,
}

impl PinPolicy {
    /// The reference profiles' policy: 6 digits, initial PIN `123456`.
    pub fn reference() -> PinPolicy {
        PinPolicy { length: 6, initial: Pin::from_trusted(b"123456") }
    }

    /// Checks a new PIN (`ChangePin`, `ReloadPin`, `Activate`); the error names
    /// `field` and never holds the PIN.
    pub fn check_new_pin(&self, pin: &Pin, field: Field) -> Result<(), ValidationError> {
        if pin.digit_count() != self.length {
            return Err(ValidationError::new(field, Rule::PinLength { min: self.length, max: self.length }));
        }
        if *pin == self.initial {
            return Err(ValidationError::new(field, Rule::PinIsInitial));
        }
        if pin.is_repeated_digit() {
            return Err(ValidationError::new(field, Rule::PinRepeatedDigit));
        }
        if pin.is_sequential() {
            return Err(ValidationError::new(field, Rule::PinSequential));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tests/pin.rs"]
mod tests;
