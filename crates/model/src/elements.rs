//! The element tables of EF05 and EF06 (docs/card-profile.md section 3) as data, and the
//! SIMPLE-TLV record that carries each element.
//!
//! The name spans two records, tags 09 and 4E. Both are [`Field::Name`]: clients see
//! only the joined name, and the tag tells the records apart.

use std::fmt;

use super::error::{DecodeError, Field};

/// SFI of EF05, issuer data.
pub const SFI_EF05: u8 = 0x05;
/// SFI of EF06, holder basic information.
pub const SFI_EF06: u8 = 0x06;
/// SFI of EF07, the fingerprint (not modelled; every access answers `69 82`).
pub const SFI_EF07: u8 = 0x07;
/// SFI of EF08, the photo.
pub const SFI_EF08: u8 = 0x08;

/// Tag of the card identifier.
pub const TAG_CARD_ID: u8 = 0x01;
/// Tag of the card type.
pub const TAG_CARD_TYPE: u8 = 0x02;
/// Tag of the specification version.
pub const TAG_SPEC_VERSION: u8 = 0x03;
/// Tag of the initialising organisation.
pub const TAG_ISSUER: u8 = 0x04;
/// Tag of the issue date.
pub const TAG_ISSUE_DATE: u8 = 0x05;
/// Tag of the expiry date.
pub const TAG_EXPIRY_DATE: u8 = 0x06;
/// Tag of the card number.
pub const TAG_CARD_NUMBER: u8 = 0x07;
/// Tag of the SSN.
pub const TAG_SSN: u8 = 0x08;
/// Tag of the name (its first 30 bytes).
pub const TAG_NAME: u8 = 0x09;
/// Tag of the name extension (the rest of the name).
pub const TAG_NAME_EXT: u8 = 0x4E;
/// Tag of the sex.
pub const TAG_SEX: u8 = 0x0A;
/// Tag of the nation.
pub const TAG_NATION: u8 = 0x0B;
/// Tag of the birthplace.
pub const TAG_BIRTHPLACE: u8 = 0x0C;
/// Tag of the birth date.
pub const TAG_BIRTH_DATE: u8 = 0x0D;

/// A record file of the SSSE application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileId {
    /// EF05, issuer data.
    Ef05,
    /// EF06, holder basic information.
    Ef06,
}

impl FileId {
    /// The file's short file identifier.
    pub const fn sfi(self) -> u8 {
        match self {
            FileId::Ef05 => SFI_EF05,
            FileId::Ef06 => SFI_EF06,
        }
    }

    /// The file's element table, in record-number order.
    pub const fn elements(self) -> &'static [ElementSpec; 7] {
        match self {
            FileId::Ef05 => &EF05_ELEMENTS,
            FileId::Ef06 => &EF06_ELEMENTS,
        }
    }
}

impl fmt::Display for FileId {
    /// Shows `EF05` or `EF06`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileId::Ef05 => "EF05",
            FileId::Ef06 => "EF06",
        })
    }
}

/// One row of an element table: where an element lives and how long its record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ElementSpec {
    /// The element (the name's two records are both [`Field::Name`]).
    pub field: Field,
    /// The file holding it.
    pub file: FileId,
    /// Its SIMPLE-TLV tag, by which it is addressed.
    pub tag: u8,
    /// The fixed length of its value.
    pub len: usize,
    /// Its record number (1 to 7) in the reference layout; older cards differ.
    pub record_number: u8,
    /// Whether UPDATE RECORD may write it (tag 01 never).
    pub writable: bool,
}

impl ElementSpec {
    /// Builds a table row.
    const fn row(field: Field, file: FileId, tag: u8, len: usize, record_number: u8, writable: bool) -> ElementSpec {
        ElementSpec { field, file, tag, len, record_number, writable }
    }

    /// The row of `tag` in `file`'s table.
    pub fn find(file: FileId, tag: u8) -> Option<&'static ElementSpec> {
        file.elements().iter().find(|e| e.tag == tag)
    }

    /// The row of `tag` in `file`'s table if UPDATE RECORD may write it; `None` for
    /// tag 01 and for tags not in the table (the simulator refuses those).
    pub fn find_writable(file: FileId, tag: u8) -> Option<&'static ElementSpec> {
        ElementSpec::find(file, tag).filter(|e| e.writable)
    }

    /// The row of `tag` in either table (tags are unique across EF05 and EF06).
    pub fn by_tag(tag: u8) -> Option<&'static ElementSpec> {
        EF05_ELEMENTS.iter().chain(EF06_ELEMENTS.iter()).find(|e| e.tag == tag)
    }

    /// The first row for `field` (for the name, tag 09); `None` for the region,
    /// photo and PINs, which have no record of their own.
    pub fn by_field(field: Field) -> Option<&'static ElementSpec> {
        EF05_ELEMENTS.iter().chain(EF06_ELEMENTS.iter()).find(|e| e.field == field)
    }

    /// The record length as READ RECORD returns it: tag, length byte and value.
    pub const fn tlv_len(&self) -> usize {
        2 + self.len
    }
}

/// EF05 issuer data, records 1 to 7.
pub const EF05_ELEMENTS: [ElementSpec; 7] = [
    ElementSpec::row(Field::CardId, FileId::Ef05, TAG_CARD_ID, 16, 1, false),
    ElementSpec::row(Field::CardType, FileId::Ef05, TAG_CARD_TYPE, 1, 2, true),
    ElementSpec::row(Field::SpecVersion, FileId::Ef05, TAG_SPEC_VERSION, 4, 3, true),
    ElementSpec::row(Field::Issuer, FileId::Ef05, TAG_ISSUER, 12, 4, true),
    ElementSpec::row(Field::IssueDate, FileId::Ef05, TAG_ISSUE_DATE, 4, 5, true),
    ElementSpec::row(Field::ExpiryDate, FileId::Ef05, TAG_EXPIRY_DATE, 4, 6, true),
    ElementSpec::row(Field::CardNumber, FileId::Ef05, TAG_CARD_NUMBER, 9, 7, true),
];

/// EF06 holder basic information, records 1 to 7.
pub const EF06_ELEMENTS: [ElementSpec; 7] = [
    ElementSpec::row(Field::Ssn, FileId::Ef06, TAG_SSN, 18, 1, true),
    ElementSpec::row(Field::Name, FileId::Ef06, TAG_NAME, 30, 2, true),
    ElementSpec::row(Field::Name, FileId::Ef06, TAG_NAME_EXT, 20, 3, true),
    ElementSpec::row(Field::Sex, FileId::Ef06, TAG_SEX, 1, 4, true),
    ElementSpec::row(Field::Nation, FileId::Ef06, TAG_NATION, 1, 5, true),
    ElementSpec::row(Field::Birthplace, FileId::Ef06, TAG_BIRTHPLACE, 3, 6, true),
    ElementSpec::row(Field::BirthDate, FileId::Ef06, TAG_BIRTH_DATE, 4, 7, true),
];

/// A SIMPLE-TLV record `tag len value`, as READ RECORD returns it and UPDATE RECORD
/// takes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// The tag.
    pub tag: u8,
    /// The value, at its fixed length.
    pub value: Vec<u8>,
}

impl Record {
    /// A record of `tag` holding `value`.
    pub fn new(tag: u8, value: Vec<u8>) -> Record {
        Record { tag, value }
    }

    /// The record as an unwritten card holds it: the value all `00`.
    pub fn unwritten(spec: &ElementSpec) -> Record {
        Record::new(spec.tag, vec![0; spec.len])
    }

    /// Whether the value is unwritten (all `00` or all `FF`).
    pub fn is_unwritten(&self) -> bool {
        super::codec::is_unwritten(&self.value)
    }

    /// The bytes `tag len value` (a value over 255 bytes, which no element has, would
    /// show length FF).
    pub fn to_tlv(&self) -> Vec<u8> {
        let len = u8::try_from(self.value.len()).unwrap_or(u8::MAX);
        let mut out = Vec::with_capacity(2 + self.value.len());
        out.push(self.tag);
        out.push(len);
        out.extend_from_slice(&self.value);
        out
    }

    /// Parses `tag len value` read for the element `expected`, checking the tag and
    /// that both the length byte and the byte count are the element's fixed length.
    pub fn parse_tlv(bytes: &[u8], expected: &ElementSpec) -> Result<Record, DecodeError> {
        let field = expected.field;
        let wrong_length = |found| DecodeError::WrongLength { field, expected: expected.tlv_len(), found };
        let [tag, len, value @ ..] = bytes else {
            return Err(wrong_length(bytes.len()));
        };
        if *tag != expected.tag {
            return Err(DecodeError::WrongTag { field, expected: expected.tag, found: *tag });
        }
        if usize::from(*len) != expected.len {
            return Err(DecodeError::WrongLength { field, expected: expected.len, found: usize::from(*len) });
        }
        if value.len() != expected.len {
            return Err(wrong_length(bytes.len()));
        }
        Ok(Record::new(*tag, value.to_vec()))
    }
}

#[cfg(test)]
#[path = "tests/elements.rs"]
mod tests;
