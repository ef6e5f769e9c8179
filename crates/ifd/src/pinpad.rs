//! PC/SC part 10 PIN structures (reader.h: packed, little-endian), parsed
//! as the CCID driver and a CCID pad's firmware read them, and the PIN
//! written into the APDU template.
//!
//! Positions are counted from the template's data field (after CLA INS P1
//! P2 Lc), in bits or bytes as the structure's unit bits say.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum StructureError {
    /// The CCID driver refuses these before the reader sees them
    /// (IFD_NOT_SUPPORTED).
    #[error("the structure is {0} bytes, shorter than its header and a 4-byte APDU")]
    TooShort(usize),
    #[error("ulDataLength {data} + header {header} is not the structure's {total} bytes")]
    Lengths { data: usize, header: usize, total: usize },
    #[error("bNumberMessage {0} is not 0 to 3 or FF")]
    Messages(u8),
    /// A CCID pad rejects these (a slot error: IFD_COMMUNICATION_ERROR).
    #[error("the template has no data field for the PIN")]
    NoDataField,
    #[error("PIN format 3 is reserved")]
    Format,
    #[error("the PIN block or its length field lies outside the template")]
    Outside,
    #[error("the minimum PIN size {min} exceeds the maximum {max}")]
    MinMax { min: u8, max: u8 },
    #[error("an extended template on a short-APDU reader")]
    Extended,
}

impl StructureError {
    /// Whether the CCID driver itself refuses it (rather than the pad).
    pub fn refused_by_driver(&self) -> bool {
        matches!(self, StructureError::TooShort(_) | StructureError::Lengths { .. } | StructureError::Messages(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One byte per digit, its value (00 to 09).
    Binary,
    /// One nibble per digit.
    Bcd,
    /// One byte per digit, '0' to '9'.
    Ascii,
}

impl Encoding {
    fn bits(self) -> usize {
        match self {
            Encoding::Bcd => 4,
            Encoding::Binary | Encoding::Ascii => 8,
        }
    }

    fn digit(self, d: u8) -> u8 {
        match self {
            Encoding::Bcd | Encoding::Binary => d,
            Encoding::Ascii => b'0' + d,
        }
    }
}

/// bmFormatString, bmPINBlockString and bmPINLengthFormat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// PIN position in bits.
    pub position: usize,
    pub right: bool,
    pub encoding: Encoding,
    /// PIN block size in bytes; 0: just the PIN.
    pub block: usize,
    /// Size in bits of the PIN length field; 0: no length is written.
    pub length_bits: usize,
    /// Position of the length field in bits.
    pub length_position: usize,
}

impl Layout {
    pub fn parse(format: u8, block: u8, length_format: u8) -> Result<Layout, StructureError> {
        let unit = if format & 0x80 != 0 { 8 } else { 1 };
        let encoding = match format & 0x03 {
            0 => Encoding::Binary,
            1 => Encoding::Bcd,
            2 => Encoding::Ascii,
            _ => return Err(StructureError::Format),
        };
        let length_unit = if length_format & 0x10 != 0 { 8 } else { 1 };
        Ok(Layout {
            position: usize::from((format >> 3) & 0x0F) * unit,
            right: format & 0x04 != 0,
            encoding,
            block: usize::from(block & 0x0F),
            length_bits: usize::from(block >> 4),
            length_position: usize::from(length_format & 0x0F) * length_unit,
        })
    }

    /// Checks, before the pad is asked, that a block at `offset` bytes
    /// and the length field fit into `data_len` bytes.
    pub fn check(&self, offset: usize, data_len: usize) -> Result<(), StructureError> {
        let bits = data_len * 8;
        let start = offset * 8 + self.position;
        if start + self.block * 8 > bits || start > bits {
            return Err(StructureError::Outside);
        }
        if self.length_bits > 0 && self.length_position + self.length_bits > bits {
            return Err(StructureError::Outside);
        }
        Ok(())
    }

    /// Writes `digits` (values 0 to 9) into `data` (the template's data
    /// field) at `offset` bytes plus the layout's position, and the length
    /// where the layout says. Bits the PIN does not cover are kept. False
    /// when the PIN does not fit: a length the pad must refuse.
    pub fn insert(&self, data: &mut [u8], offset: usize, digits: &[u8], write_length: bool) -> bool {
        let pin_bits = digits.len() * self.encoding.bits();
        let block_bits = if self.block > 0 { self.block * 8 } else { pin_bits };
        if pin_bits > block_bits {
            return false;
        }
        let mut at = offset * 8 + self.position + if self.right { block_bits - pin_bits } else { 0 };
        if at + pin_bits > data.len() * 8 {
            return false;
        }
        for &d in digits {
            write_bits(data, at, self.encoding.bits(), usize::from(self.encoding.digit(d)));
            at += self.encoding.bits();
        }
        if write_length && self.length_bits > 0 {
            if digits.len() >= 1 << self.length_bits.min(16) {
                return false;
            }
            write_bits(data, self.length_position, self.length_bits, digits.len());
        }
        true
    }
}

/// Writes the low `count` bits of `value`, most significant first, at bit
/// `at` of `data` (bit 0 is the first byte's high bit). The caller checked
/// the bounds; bits past the end are dropped.
fn write_bits(data: &mut [u8], at: usize, count: usize, value: usize) {
    for i in 0..count {
        let bit = (value >> (count - 1 - i)) & 1;
        let pos = at + i;
        if let Some(byte) = data.get_mut(pos / 8) {
            let mask = 0x80u8 >> (pos % 8);
            if bit == 1 {
                *byte |= mask;
            } else {
                *byte &= !mask;
            }
        }
    }
}

/// The fields both structures share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// Seconds; 0: the reader's default.
    pub timeout: u8,
    pub layout: Layout,
    pub min: u8,
    pub max: u8,
    pub validation: u8,
    /// The APDU template (ulDataLength bytes of abData).
    pub template: Vec<u8>,
}

impl Common {
    /// Whether `n` digits are allowed (a maximum of 0 means no limit).
    pub fn length_ok(&self, n: usize) -> bool {
        n >= usize::from(self.min) && (self.max == 0 || n <= usize::from(self.max))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verify {
    pub common: Common,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modify {
    pub common: Common,
    pub offset_old: usize,
    pub offset_new: usize,
    /// bConfirmPIN bit 0: the new PIN is typed twice.
    pub confirm: bool,
    /// bConfirmPIN bit 1: the current PIN is typed first.
    pub old: bool,
}

const VERIFY_HEADER: usize = 19;
const MODIFY_HEADER: usize = 24;

fn u16_le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn template(tx: &[u8], header: usize, length_at: usize) -> Result<Vec<u8>, StructureError> {
    if tx.len() < header + 4 {
        return Err(StructureError::TooShort(tx.len()));
    }
    let data = u32::from_le_bytes([tx[length_at], tx[length_at + 1], tx[length_at + 2], tx[length_at + 3]]) as usize;
    if data.checked_add(header) != Some(tx.len()) {
        return Err(StructureError::Lengths { data, header, total: tx.len() });
    }
    Ok(tx[header..].to_vec())
}

/// Whether an APDU is extended: a data or Le field that starts with 00
/// after the header, on a command longer than a short case 2.
pub fn is_extended(apdu: &[u8]) -> bool {
    apdu.len() >= 7 && apdu[4] == 0x00
}

fn common(
    tx: &[u8],
    minmax_at: usize,
    validation: u8,
    template: Vec<u8>,
    short: bool,
) -> Result<Common, StructureError> {
    let layout = Layout::parse(tx[2], tx[3], tx[4])?;
    let extra = u16_le(tx, minmax_at);
    let (min, max) = ((extra >> 8) as u8, (extra & 0xFF) as u8);
    if max != 0 && min > max {
        return Err(StructureError::MinMax { min, max });
    }
    if template.len() < 5 {
        return Err(StructureError::NoDataField);
    }
    if short && is_extended(&template) {
        return Err(StructureError::Extended);
    }
    Ok(Common { timeout: tx[0], layout, min, max, validation, template })
}

impl Verify {
    pub fn parse(tx: &[u8], short: bool) -> Result<Verify, StructureError> {
        let template = template(tx, VERIFY_HEADER, 15)?;
        let common = common(tx, 5, tx[7], template, short)?;
        common.layout.check(0, common.template.len() - 5)?;
        Ok(Verify { common })
    }

    /// The command for the card, with `pin` inserted; None if it does not fit.
    pub fn command(&self, pin: &[u8]) -> Option<Vec<u8>> {
        let mut apdu = self.common.template.clone();
        self.common.layout.insert(&mut apdu[5..], 0, pin, true).then_some(apdu)
    }
}

impl Modify {
    pub fn parse(tx: &[u8], short: bool) -> Result<Modify, StructureError> {
        let template = template(tx, MODIFY_HEADER, 20)?;
        if tx[11] > 3 && tx[11] != 0xFF {
            return Err(StructureError::Messages(tx[11]));
        }
        let common = common(tx, 7, tx[10], template, short)?;
        let modify = Modify {
            offset_old: usize::from(tx[5]),
            offset_new: usize::from(tx[6]),
            confirm: tx[9] & 0x01 != 0,
            old: tx[9] & 0x02 != 0,
            common,
        };
        let data = modify.common.template.len() - 5;
        if modify.old {
            modify.common.layout.check(modify.offset_old, data)?;
        }
        modify.common.layout.check(modify.offset_new, data)?;
        Ok(modify)
    }

    /// The command with the current PIN (if asked for) and the new one
    /// inserted; the length field, if any, carries the new PIN's length.
    pub fn command(&self, old: Option<&[u8]>, new: &[u8]) -> Option<Vec<u8>> {
        let mut apdu = self.common.template.clone();
        let layout = &self.common.layout;
        if let Some(old) = old
            && !layout.insert(&mut apdu[5..], self.offset_old, old, false)
        {
            return None;
        }
        layout.insert(&mut apdu[5..], self.offset_new, new, true).then_some(apdu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify_structure(format: u8, block: u8, length: u8, min: u8, max: u8, template: &[u8]) -> Vec<u8> {
        let mut s = vec![30, 0, format, block, length, max, min, 0x02, 0x01, 0x09, 0x04, 0, 0, 0, 0];
        s.extend_from_slice(&(template.len() as u32).to_le_bytes());
        s.extend_from_slice(template);
        s
    }

    #[test]
    fn bcd_left_keeps_the_padding_it_does_not_cover() {
        let s = verify_structure(0x81, 0x03, 0x00, 4, 6, &[0x00, 0x20, 0x00, 0x00, 0x03, 0xFF, 0xFF, 0xFF]);
        let v = Verify::parse(&s, false).unwrap();
        assert_eq!(v.command(&[1, 2, 3, 4, 5]).unwrap(), [0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x5F]);
        assert_eq!(v.command(&[1, 2, 3, 4, 5, 6]).unwrap()[5..], [0x12, 0x34, 0x56]);
        assert!(v.command(&[1, 2, 3, 4, 5, 6, 7]).is_none(), "7 digits do not fit 3 bytes");
        assert!(v.common.length_ok(4) && v.common.length_ok(6) && !v.common.length_ok(3) && !v.common.length_ok(7));
    }

    #[test]
    fn ascii_right_justified_at_a_position_with_a_length_nibble() {
        // Position 1 byte, right, ASCII; length 4 bits at bit 4 (the low
        // nibble of the data's first byte); block 4 bytes.
        let s =
            verify_structure(0x80 | (1 << 3) | 0x04 | 0x02, 0x44, 0x04, 1, 8, &[0, 0x20, 0, 0x81, 5, 0xA0, 0, 0, 0, 0]);
        let v = Verify::parse(&s, false).unwrap();
        assert_eq!(v.command(&[7, 8]).unwrap()[5..], [0xA2, 0, 0, b'7', b'8']);
    }

    #[test]
    fn binary_in_bit_units() {
        // Position 4 bits, binary (one byte per digit), no block.
        let s = verify_structure(4 << 3, 0x00, 0x00, 0, 0, &[0, 0x20, 0, 0, 3, 0xFF, 0xFF, 0xFF]);
        let v = Verify::parse(&s, false).unwrap();
        assert_eq!(v.command(&[1, 2]).unwrap()[5..], [0xF0, 0x10, 0x2F]);
    }

    #[test]
    fn malformed_structures_are_refused() {
        let good = verify_structure(0x81, 0x03, 0, 4, 6, &[0, 0x20, 0, 0, 3, 0xFF, 0xFF, 0xFF]);
        assert!(Verify::parse(&good, false).is_ok());
        assert_eq!(Verify::parse(&good[..20], false), Err(StructureError::TooShort(20)));
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(Verify::parse(&long, false), Err(StructureError::Lengths { .. })));
        let mut lying = good.clone();
        lying[15] = 0xFF;
        assert!(matches!(Verify::parse(&lying, false), Err(StructureError::Lengths { .. })));
        let outside = verify_structure(0x81, 0x04, 0, 4, 6, &[0, 0x20, 0, 0, 3, 0xFF, 0xFF, 0xFF]);
        assert_eq!(Verify::parse(&outside, false), Err(StructureError::Outside));
        let length_outside = verify_structure(0x81, 0x83, 0x10 | 3, 4, 6, &[0, 0x20, 0, 0, 3, 0xFF, 0xFF, 0xFF]);
        assert_eq!(Verify::parse(&length_outside, false), Err(StructureError::Outside));
        let reserved = verify_structure(0x83, 0x03, 0, 4, 6, &[0, 0x20, 0, 0, 3, 0xFF, 0xFF, 0xFF]);
        assert_eq!(Verify::parse(&reserved, false), Err(StructureError::Format));
        let min_max = verify_structure(0x81, 0x03, 0, 7, 6, &[0, 0x20, 0, 0, 3, 0xFF, 0xFF, 0xFF]);
        assert_eq!(Verify::parse(&min_max, false), Err(StructureError::MinMax { min: 7, max: 6 }));
        let case1 = verify_structure(0x81, 0x00, 0, 4, 6, &[0, 0x20, 0, 0]);
        assert_eq!(Verify::parse(&case1, false), Err(StructureError::NoDataField));
        let extended = verify_structure(0x81, 0x03, 0, 4, 6, &[0, 0x20, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF]);
        assert_eq!(Verify::parse(&extended, true), Err(StructureError::Extended));
        assert!(Verify::parse(&extended, false).is_ok());
        // Nothing panics, whatever the bytes.
        for len in 0..40 {
            for fill in [0x00, 0x7F, 0xFF] {
                let _ = Verify::parse(&vec![fill; len], false);
                let _ = Modify::parse(&vec![fill; len], true);
            }
        }
    }

    #[test]
    fn modify_inserts_old_and_new_at_their_offsets() {
        // 80 5E 01 00 07 old(3) FF new(3), as the card's CHANGE PIN wants.
        let template = [0x80, 0x5E, 0x01, 0x00, 0x07, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        let mut s = vec![30, 0, 0x81, 0x03, 0x00, 0, 4, 6, 4, 0x03, 0x02, 0x03, 0x09, 0x04, 0, 1, 2, 0, 0, 0];
        s.extend_from_slice(&(template.len() as u32).to_le_bytes());
        s.extend_from_slice(&template);
        let m = Modify::parse(&s, false).unwrap();
        assert!(m.old && m.confirm);
        assert_eq!(
            m.command(Some(&[1, 2, 3, 4, 5, 6]), &[6, 5, 4, 3, 2]).unwrap(),
            [0x80, 0x5E, 0x01, 0x00, 0x07, 0x12, 0x34, 0x56, 0xFF, 0x65, 0x43, 0x2F]
        );
        let mut bad_messages = s.clone();
        bad_messages[11] = 4;
        assert_eq!(Modify::parse(&bad_messages, false), Err(StructureError::Messages(4)));
        let mut outside = s.clone();
        outside[6] = 5;
        assert_eq!(Modify::parse(&outside, false), Err(StructureError::Outside));
    }

    #[test]
    fn extended_apdus_are_told_from_short_ones() {
        assert!(!is_extended(&[0, 0xB0, 0, 0, 0]));
        assert!(!is_extended(&[0, 0xD6, 0, 0, 2, 1, 2]));
        assert!(is_extended(&[0, 0xB0, 0, 0, 0, 0x10, 0]));
        assert!(is_extended(&[0, 0xD6, 0, 0, 0, 0, 1, 9]));
    }
}
