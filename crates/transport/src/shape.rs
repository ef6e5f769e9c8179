//! Byte-level shape of a command APDU (ISO/IEC 7816-3 §12.1.3).
//!
//! The transport needs this below the APDU layer: it must refuse extended
//! APDUs to cards without extended length, and rewrite Le on 6Cxx.

use thiserror::Error;

/// Largest Nc/Ne of a short APDU.
pub const SHORT_MAX_DATA: usize = 255;
/// Largest Ne of a short APDU (Le `00`).
pub const SHORT_MAX_NE: usize = 256;
/// Largest Nc of an extended APDU.
pub const EXTENDED_MAX_DATA: usize = 65_535;
/// Largest Ne of an extended APDU (Le `00 00`).
pub const EXTENDED_MAX_NE: usize = 65_536;

/// Why bytes fit none of the ISO 7816-3 command cases.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShapeError {
    #[error("command APDU is shorter than its 4-byte header")]
    TooShort,
    #[error("command APDU length {0} fits none of the ISO 7816-3 cases")]
    BadLength(usize),
}

/// The length form a command was encoded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthForm {
    Short,
    Extended,
}

/// Where the parts of an encoded command sit, found without copying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandShape {
    pub form: LengthForm,
    /// Byte range of the data field.
    pub data: Option<std::ops::Range<usize>>,
    /// Byte range of the Le field.
    pub le: Option<std::ops::Range<usize>>,
    pub ne: Option<usize>,
}

/// Classifies an encoded command into its ISO 7816-3 case.
pub fn classify(bytes: &[u8]) -> Result<CommandShape, ShapeError> {
    let len = bytes.len();
    if len < 4 {
        return Err(ShapeError::TooShort);
    }
    let short_ne = |b: u8| if b == 0 { SHORT_MAX_NE } else { b as usize };
    let ext_ne = |hi: u8, lo: u8| match u16::from_be_bytes([hi, lo]) {
        0 => EXTENDED_MAX_NE,
        n => n as usize,
    };
    let shape = |form, data, le, ne| Ok(CommandShape { form, data, le, ne });
    if len == 4 {
        return shape(LengthForm::Short, None, None, None);
    }
    let b0 = bytes[4];
    if len == 5 {
        return shape(LengthForm::Short, None, Some(4..5), Some(short_ne(b0)));
    }
    if b0 != 0 {
        let nc = b0 as usize;
        if len == 5 + nc {
            return shape(LengthForm::Short, Some(5..5 + nc), None, None);
        }
        if len == 6 + nc {
            return shape(LengthForm::Short, Some(5..5 + nc), Some(5 + nc..6 + nc), Some(short_ne(bytes[5 + nc])));
        }
        return Err(ShapeError::BadLength(len));
    }
    // b0 == 0 and at least 6 bytes: extended form, which has no 6-byte case.
    if len == 6 {
        return Err(ShapeError::BadLength(len));
    }
    if len == 7 {
        return shape(LengthForm::Extended, None, Some(5..7), Some(ext_ne(bytes[5], bytes[6])));
    }
    let nc = u16::from_be_bytes([bytes[5], bytes[6]]) as usize;
    if nc == 0 {
        return Err(ShapeError::BadLength(len));
    }
    if len == 7 + nc {
        return shape(LengthForm::Extended, Some(7..7 + nc), None, None);
    }
    if len == 9 + nc {
        return shape(
            LengthForm::Extended,
            Some(7..7 + nc),
            Some(7 + nc..9 + nc),
            Some(ext_ne(bytes[7 + nc], bytes[8 + nc])),
        );
    }
    Err(ShapeError::BadLength(len))
}
