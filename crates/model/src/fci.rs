//! The FCI that SELECT of the SSSE application returns (docs/card-profile.md
//! section 2), parsed by tag, not by position.

use iso7816_tlv::ber::{Tag, Tlv, Value};

/// What the FCI says about the application.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fci {
    /// `84`, the DF name.
    pub df_name: Option<Vec<u8>>,
    /// `A5` / `9F0C` = `86 01 <alg>`: 01 3DES, 03 SM4.
    pub algorithm: Option<u8>,
    /// `8A`, the life-cycle status byte (gen3).
    pub lcs: Option<u8>,
}

/// The application's life cycle, read as ISO 7816-4 defines the LCS byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifeCycle {
    /// 05 or 07: operational, activated.
    Active,
    /// 04 or 06: operational, deactivated (an issued card arrives so).
    Inactive,
    /// Any other value.
    Other(u8),
}

impl LifeCycle {
    /// Reads an LCS byte.
    pub fn from_lcs(lcs: u8) -> LifeCycle {
        match lcs {
            0x05 | 0x07 => LifeCycle::Active,
            0x04 | 0x06 => LifeCycle::Inactive,
            other => LifeCycle::Other(other),
        }
    }
}

fn tag(bytes: &[u8]) -> Option<Tag> {
    Tag::try_from(bytes.iter().fold(0u64, |n, b| (n << 8) | *b as u64)).ok()
}

fn primitive<'a>(tlv: &'a Tlv, wanted: &[u8]) -> Option<&'a [u8]> {
    let found = tlv.find(&tag(wanted)?)?;
    match found.value() {
        Value::Primitive(bytes) => Some(bytes),
        Value::Constructed(_) => None,
    }
}

impl Fci {
    /// Parses an `6F` template. `None` when the bytes are not one.
    pub fn parse(bytes: &[u8]) -> Option<Fci> {
        let tlv = Tlv::from_bytes(bytes).ok()?;
        if tlv.tag().to_bytes() != [0x6F] {
            return None;
        }
        let algorithm = primitive(&tlv, &[0x9F, 0x0C]).and_then(|v| match v {
            [0x86, 0x01, alg] => Some(*alg),
            _ => None,
        });
        Some(Fci {
            df_name: primitive(&tlv, &[0x84]).map(<[u8]>::to_vec),
            algorithm,
            lcs: primitive(&tlv, &[0x8A]).and_then(|v| v.first().copied()),
        })
    }

    /// The life cycle, when the FCI carries an LCS.
    pub fn life_cycle(&self) -> Option<LifeCycle> {
        self.lcs.map(LifeCycle::from_lcs)
    }
}

#[cfg(test)]
#[path = "tests/fci.rs"]
mod tests;
