//! The card identifier (EF05 tag 01), set at manufacture and never written.

use std::fmt;

use super::codec::RegionCode;
use super::error::{DecodeError, Field, Rule, ValidationError};

/// The fixed middle of every card identifier: RID `D1 56 00 00 05`.
pub const CARD_ID_RID: [u8; 5] = [0xD1, 0x56, 0x00, 0x00, 0x05];

/// The 16-byte card identifier: region code (3 bytes BCD), `D1 56 00 00 05`, then the
/// 8-byte chip serial. Its last 8 bytes are the key diversification input F.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardId {
    /// The 16 bytes.
    bytes: [u8; 16],
    /// The region code of the first 3 bytes, decoded once.
    region: RegionCode,
}

impl CardId {
    /// Record length of tag 01.
    pub const LEN: usize = 16;

    /// Builds the identifier of a card (used by the simulator for a blank card).
    pub fn new(region: RegionCode, serial: [u8; 8]) -> CardId {
        let mut b = [0u8; 16];
        b[..3].copy_from_slice(&region.to_bcd());
        b[3..8].copy_from_slice(&CARD_ID_RID);
        b[8..].copy_from_slice(&serial);
        CardId { bytes: b, region }
    }

    /// Decodes the record value, checking its length, the BCD region and the RID.
    pub fn from_bytes(bytes: &[u8]) -> Result<CardId, DecodeError> {
        let b: [u8; 16] = bytes.try_into().map_err(|_| DecodeError::WrongLength {
            field: Field::CardId,
            expected: Self::LEN,
            found: bytes.len(),
        })?;
        let region = RegionCode::from_bcd(&b[..3], Field::Region)?;
        if b[3..8] != CARD_ID_RID {
            return Err(DecodeError::BadLayout { field: Field::CardId, what: "bytes 4 to 8 are not D1 56 00 00 05" });
        }
        Ok(CardId { bytes: b, region })
    }

    /// Parses the D-Bus form, 32 hex digits (either case).
    pub fn parse_hex(s: &str) -> Result<CardId, ValidationError> {
        let bad = ValidationError::new(Field::CardId, Rule::BadFormat { expected: "32 hex digits" });
        let bytes = hex::decode(s).map_err(|_| bad)?;
        CardId::from_bytes(&bytes).map_err(|_| bad)
    }

    /// The 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.bytes
    }

    /// The region code in the first 3 bytes (the D-Bus key `region`).
    pub const fn region(&self) -> RegionCode {
        self.region
    }

    /// The 8-byte chip serial.
    pub fn serial(&self) -> [u8; 8] {
        let mut s = [0u8; 8];
        s.copy_from_slice(&self.bytes[8..]);
        s
    }

    /// The last 8 bytes: the diversification input F that the PSAM's INIT takes.
    pub fn last8(&self) -> [u8; 8] {
        self.serial()
    }

    /// The D-Bus form: 32 upper-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode_upper(self.bytes)
    }
}

impl fmt::Debug for CardId {
    /// Shows the hex form, which is how operators compare identifiers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardId({})", self.to_hex())
    }
}

impl fmt::Display for CardId {
    /// Shows the 32 upper-case hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
#[path = "tests/card_id.rs"]
pub(crate) mod tests;
