//! The typed record files: EF05 issuer data, EF06 holder data, and the update a
//! personalisation request writes, with the consistency rules of docs/card-profile.md
//! section 3 and the digest of docs/interfaces.md.

use sha2::{Digest, Sha256};

use super::card_id::CardId;
use super::codec::{Date, RegionCode, is_unwritten};
use super::elements::{
    FileId, Record, TAG_BIRTH_DATE, TAG_BIRTHPLACE, TAG_CARD_ID, TAG_CARD_NUMBER, TAG_CARD_TYPE, TAG_EXPIRY_DATE,
    TAG_ISSUE_DATE, TAG_ISSUER, TAG_NAME, TAG_NAME_EXT, TAG_NATION, TAG_SEX, TAG_SPEC_VERSION, TAG_SSN,
};
use super::error::{DecodeError, Field, Inconsistency, Rule, ValidationError};
use super::name::{NAME_LEN, Name};
use super::photo::Photo;
use super::ssn::Ssn;
use super::values::{CardNumber, CardType, Generation, Issuer, Nation, Sex, SpecVersion};

/// The values of one file's records, by position in the file's table.
type Slots<'a> = [Option<&'a [u8]>; 7];

/// Sorts the records read from `file` into table order, refusing stray tags,
/// duplicates and wrong lengths. A record not given is left `None`.
fn collect(file: FileId, records: &[Record]) -> Result<Slots<'_>, DecodeError> {
    let mut slots: Slots<'_> = [None; 7];
    for r in records {
        let (idx, spec) = file
            .elements()
            .iter()
            .enumerate()
            .find(|(_, e)| e.tag == r.tag)
            .ok_or(DecodeError::UnexpectedTag { file, tag: r.tag })?;
        if r.value.len() != spec.len {
            return Err(DecodeError::WrongLength { field: spec.field, expected: spec.len, found: r.value.len() });
        }
        let slot = slots.get_mut(idx).ok_or(DecodeError::UnexpectedTag { file, tag: r.tag })?;
        if slot.is_some() {
            return Err(DecodeError::DuplicateRecord { field: spec.field, tag: r.tag });
        }
        *slot = Some(&r.value);
    }
    Ok(slots)
}

/// The value of a written record; `None` if it is absent or unwritten.
fn written(value: Option<&[u8]>) -> Option<&[u8]> {
    value.filter(|v| !is_unwritten(v))
}

/// Decodes a written value with `f`, keeping `None` for an unwritten one.
fn decode_opt<T>(
    value: Option<&[u8]>,
    f: impl FnOnce(&[u8]) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    written(value).map(f).transpose()
}

/// EF05 as read from a card; an unwritten element is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssuerData {
    /// Tag 01, the card identifier (never written by the daemon).
    pub card_id: Option<CardId>,
    /// Tag 02.
    pub card_type: Option<CardType>,
    /// Tag 03.
    pub spec_version: Option<SpecVersion>,
    /// Tag 04, the initialising organisation.
    pub issuer: Option<Issuer>,
    /// Tag 05.
    pub issue_date: Option<Date>,
    /// Tag 06.
    pub expiry_date: Option<Date>,
    /// Tag 07.
    pub card_number: Option<CardNumber>,
}

impl IssuerData {
    /// Decodes the records read from EF05 (any subset, in any order).
    pub fn decode(records: &[Record]) -> Result<IssuerData, DecodeError> {
        let [id, card_type, version, issuer, issue, expiry, number] = collect(FileId::Ef05, records)?;
        Ok(IssuerData {
            card_id: decode_opt(id, CardId::from_bytes)?,
            card_type: decode_opt(card_type, CardType::from_value)?,
            spec_version: decode_opt(version, SpecVersion::from_value)?,
            issuer: decode_opt(issuer, Issuer::from_value)?,
            issue_date: decode_opt(issue, |v| Date::from_bcd(v, Field::IssueDate))?,
            expiry_date: decode_opt(expiry, |v| Date::from_bcd(v, Field::ExpiryDate))?,
            card_number: decode_opt(number, CardNumber::from_value)?,
        })
    }

    /// The records of the elements present, in table order. The card identifier is
    /// included when present (the simulator builds its blank card this way); the
    /// daemon's writes come from [`HolderRecordUpdate`], which never holds one.
    pub fn encode(&self) -> Vec<Record> {
        let entries = [
            (TAG_CARD_ID, self.card_id.map(|v| v.as_bytes().to_vec())),
            (TAG_CARD_TYPE, self.card_type.map(|v| v.to_value())),
            (TAG_SPEC_VERSION, self.spec_version.as_ref().map(SpecVersion::to_value)),
            (TAG_ISSUER, self.issuer.as_ref().map(Issuer::to_value)),
            (TAG_ISSUE_DATE, self.issue_date.map(|v| v.to_bcd().to_vec())),
            (TAG_EXPIRY_DATE, self.expiry_date.map(|v| v.to_bcd().to_vec())),
            (TAG_CARD_NUMBER, self.card_number.as_ref().map(CardNumber::to_value)),
        ];
        entries.into_iter().filter_map(|(tag, v)| v.map(|v| Record::new(tag, v))).collect()
    }
}

/// EF06 as read from a card; an unwritten element is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HolderData {
    /// Tag 08.
    pub ssn: Option<Ssn>,
    /// Tags 09 and 4E, joined.
    pub name: Option<Name>,
    /// Tag 0A.
    pub sex: Option<Sex>,
    /// Tag 0B.
    pub nation: Option<Nation>,
    /// Tag 0C.
    pub birthplace: Option<RegionCode>,
    /// Tag 0D.
    pub birth_date: Option<Date>,
}

impl HolderData {
    /// Decodes the records read from EF06 (any subset, in any order); the name joins
    /// tags 09 and 4E.
    pub fn decode(records: &[Record]) -> Result<HolderData, DecodeError> {
        let [ssn, name, ext, sex, nation, birthplace, birth] = collect(FileId::Ef06, records)?;
        Ok(HolderData {
            ssn: decode_opt(ssn, Ssn::from_value)?,
            name: Name::from_records(name.unwrap_or_default(), ext.unwrap_or_default())?,
            sex: decode_opt(sex, Sex::from_value)?,
            nation: decode_opt(nation, Nation::from_value)?,
            birthplace: decode_opt(birthplace, |v| RegionCode::from_bcd(v, Field::Birthplace))?,
            birth_date: decode_opt(birth, |v| Date::from_bcd(v, Field::BirthDate))?,
        })
    }

    /// The records of the elements present, in table order. A name always gives both
    /// tag 09 and tag 4E (all `00` when the name fits in 30 bytes), so a shorter name
    /// leaves no stale extension.
    pub fn encode(&self) -> Vec<Record> {
        let (name, ext) = match &self.name {
            Some(n) => {
                let (a, b) = n.split_gbk();
                (Some(a.to_vec()), Some(b.to_vec()))
            }
            None => (None, None),
        };
        let entries = [
            (TAG_SSN, self.ssn.as_ref().map(Ssn::to_value)),
            (TAG_NAME, name),
            (TAG_NAME_EXT, ext),
            (TAG_SEX, self.sex.map(|v| v.to_value())),
            (TAG_NATION, self.nation.map(|v| v.to_value())),
            (TAG_BIRTHPLACE, self.birthplace.map(|v| v.to_bcd().to_vec())),
            (TAG_BIRTH_DATE, self.birth_date.map(|v| v.to_bcd().to_vec())),
        ];
        entries.into_iter().filter_map(|(tag, v)| v.map(|v| Record::new(tag, v))).collect()
    }
}

/// The elements the consistency rules of card-profile.md section 3 relate, from an
/// update or from a card.
struct Related<'a> {
    issue_date: Option<Date>,
    expiry_date: Option<Date>,
    ssn: Option<&'a Ssn>,
    sex: Option<Sex>,
    birth_date: Option<Date>,
}

impl Related<'_> {
    /// Every rule broken among the elements present, in this order: the expiry date
    /// not after the issue date; each of ssn, sex and birth_date missing while another
    /// is present; the birth date differing from the SSN's digits 7 to 14; the sex
    /// differing from the parity of its 17th digit.
    fn broken(&self) -> Vec<ValidationError> {
        let mut out = Vec::new();
        if let (Some(issue), Some(expiry)) = (self.issue_date, self.expiry_date)
            && expiry <= issue
        {
            out.push(ValidationError::new(Field::ExpiryDate, Rule::ExpiryNotAfterIssue));
        }
        let present = [
            (Field::Ssn, self.ssn.is_some()),
            (Field::Sex, self.sex.is_some()),
            (Field::BirthDate, self.birth_date.is_some()),
        ];
        if present.iter().any(|(_, p)| *p) {
            out.extend(
                present.iter().filter(|(_, p)| !p).map(|(f, _)| ValidationError::new(*f, Rule::MustComeTogether)),
            );
        }
        if let Some(ssn) = self.ssn {
            if self.birth_date.is_some_and(|b| b != ssn.birth_date()) {
                out.push(ValidationError::new(Field::BirthDate, Rule::BirthDateMismatch));
            }
            if self.sex.is_some_and(|sex| ssn.sex_digit_is_odd() != (sex == Sex::Male)) {
                out.push(ValidationError::new(Field::Sex, Rule::SexParityMismatch));
            }
        }
        out
    }
}

/// Checks a record read from a card against the consistency rules of card-profile.md
/// section 3, among the elements it holds, and returns every rule broken (empty when
/// the record is consistent). A personalisation cut short can leave such a card:
/// - ssn, sex and birth_date travel together: each unwritten one while another is
///   written;
/// - the birth date against the SSN's digits 7 to 14, the sex against the parity of
///   its 17th digit;
/// - the expiry date after the issue date;
/// - a name extension (tag 4E) with a tag 09 shorter than 29 bytes, which a split at
///   the last character boundary at or before byte 30 never leaves (GBK characters
///   are 1 or 2 bytes), so the two records belong to different names.
///
/// The SSN's check character and each date's being a real date are not checked
/// here: an element that breaks them does not decode.
pub fn inconsistencies(issuer: &IssuerData, holder: &HolderData) -> Vec<Inconsistency> {
    let related = Related {
        issue_date: issuer.issue_date,
        expiry_date: issuer.expiry_date,
        ssn: holder.ssn.as_ref(),
        sex: holder.sex,
        birth_date: holder.birth_date,
    };
    let mut out: Vec<Inconsistency> = related.broken().into_iter().map(Inconsistency::from).collect();
    if let Some(name) = &holder.name
        && name.extension_len() > 0
        && name.name_record_len() < NAME_LEN - 1
    {
        let rule = Rule::NameExtensionOfAnotherName { name_bytes: name.name_record_len() };
        out.push(Inconsistency { field: Field::Name, rule });
    }
    out
}

/// What a personalisation request (`WriteHolderRecord`) writes: each writable element
/// it gives. Build it from the D-Bus dictionary with [`HolderRecordUpdate::set_from_str`]
/// (or the element types' own constructors), then [`validate`](Self::validate) it
/// against the card's generation before sending any APDU.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HolderRecordUpdate {
    /// EF05 tag 02.
    pub card_type: Option<CardType>,
    /// EF05 tag 03; must match the card's generation.
    pub spec_version: Option<SpecVersion>,
    /// EF05 tag 04.
    pub issuer: Option<Issuer>,
    /// EF05 tag 05.
    pub issue_date: Option<Date>,
    /// EF05 tag 06; strictly after the issue date when both are given.
    pub expiry_date: Option<Date>,
    /// EF05 tag 07.
    pub card_number: Option<CardNumber>,
    /// EF06 tag 08; comes with sex and birth date.
    pub ssn: Option<Ssn>,
    /// EF06 tags 09 and 4E.
    pub name: Option<Name>,
    /// EF06 tag 0A; comes with ssn and birth date.
    pub sex: Option<Sex>,
    /// EF06 tag 0B.
    pub nation: Option<Nation>,
    /// EF06 tag 0C.
    pub birthplace: Option<RegionCode>,
    /// EF06 tag 0D; comes with ssn and sex.
    pub birth_date: Option<Date>,
    /// EF08.
    pub photo: Option<Photo>,
}

/// Whether an element was written and reads back differently.
fn differs<T: PartialEq>(written: Option<&T>, read: Option<&T>) -> bool {
    written.is_some() && written != read
}

impl HolderRecordUpdate {
    /// Whether the update writes nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == HolderRecordUpdate::default()
    }

    /// Sets the element `field` from its D-Bus string form (dates `YYYY-MM-DD`, nation
    /// in decimal, SSN with `x` accepted). Never-writable fields (`card_id`, `region`,
    /// the PINs) are [`Rule::NotWritable`]; the photo is bytes, so use
    /// [`Photo::new`] for it.
    pub fn set_from_str(&mut self, field: Field, value: &str) -> Result<(), ValidationError> {
        match field {
            Field::CardType => self.card_type = Some(CardType::parse(value)?),
            Field::SpecVersion => self.spec_version = Some(SpecVersion::parse(value)?),
            Field::Issuer => self.issuer = Some(Issuer::parse(value)?),
            Field::IssueDate => self.issue_date = Some(Date::parse_iso(value, field)?),
            Field::ExpiryDate => self.expiry_date = Some(Date::parse_iso(value, field)?),
            Field::CardNumber => self.card_number = Some(CardNumber::parse(value)?),
            Field::Ssn => self.ssn = Some(Ssn::parse(value)?),
            Field::Name => self.name = Some(Name::new(value)?),
            Field::Sex => self.sex = Some(Sex::parse(value)?),
            Field::Nation => self.nation = Some(Nation::parse(value)?),
            Field::Birthplace => self.birthplace = Some(RegionCode::parse(value, field)?),
            Field::BirthDate => self.birth_date = Some(Date::parse_iso(value, field)?),
            Field::Photo => {
                return Err(ValidationError::new(field, Rule::BadFormat { expected: "JPEG bytes" }));
            }
            Field::CardId | Field::Region | Field::Pin | Field::NewPin => {
                return Err(ValidationError::new(field, Rule::NotWritable));
            }
        }
        Ok(())
    }

    /// Applies the consistency rules among the elements present: the spec version
    /// matches `generation`; the expiry date is strictly after the issue date; ssn,
    /// sex and birth date come together (the error names the first one missing);
    /// the SSN's digits 7 to 14 equal the birth date; the sex matches the parity of
    /// the SSN's 17th digit. Each element on its own is valid by construction.
    pub fn validate(&self, generation: Generation) -> Result<(), ValidationError> {
        if let Some(v) = &self.spec_version
            && v.generation() != Some(generation)
        {
            return Err(ValidationError::new(Field::SpecVersion, Rule::GenerationMismatch { generation }));
        }
        let related = Related {
            issue_date: self.issue_date,
            expiry_date: self.expiry_date,
            ssn: self.ssn.as_ref(),
            sex: self.sex,
            birth_date: self.birth_date,
        };
        related.broken().into_iter().next().map_or(Ok(()), Err)
    }

    /// The EF05 elements as [`IssuerData`] (without a card identifier).
    pub fn issuer_data(&self) -> IssuerData {
        IssuerData {
            card_id: None,
            card_type: self.card_type,
            spec_version: self.spec_version.clone(),
            issuer: self.issuer.clone(),
            issue_date: self.issue_date,
            expiry_date: self.expiry_date,
            card_number: self.card_number.clone(),
        }
    }

    /// The EF06 elements as [`HolderData`].
    pub fn holder_data(&self) -> HolderData {
        HolderData {
            ssn: self.ssn.clone(),
            name: self.name.clone(),
            sex: self.sex,
            nation: self.nation,
            birthplace: self.birthplace,
            birth_date: self.birth_date,
        }
    }

    /// The records to write with UPDATE RECORD: EF05's, then EF06's, each in table
    /// order. A name gives both tag 09 and tag 4E.
    pub fn records(&self) -> (Vec<Record>, Vec<Record>) {
        (self.issuer_data().encode(), self.holder_data().encode())
    }

    /// The bytes the `digest` covers: `tag len value` of every record written in
    /// table order (EF05 first, then EF06), then, if a photo is written, its 2 + L
    /// bytes of EF08.
    pub fn digest_input(&self) -> Vec<u8> {
        let (ef05, ef06) = self.records();
        let mut out: Vec<u8> = ef05.iter().chain(ef06.iter()).flat_map(Record::to_tlv).collect();
        if let Some(p) = &self.photo {
            out.extend_from_slice(&p.to_file_bytes());
        }
        out
    }

    /// The `digest` that `WriteHolderRecord` returns: SHA-256 of
    /// [`digest_input`](Self::digest_input) in lower-case hex.
    pub fn digest_hex(&self) -> String {
        hex::encode(Sha256::digest(self.digest_input()))
    }

    /// The elements written that the card, read back, does not hold as written
    /// (empty when the write is confirmed). `photo` is what EF08 reads back as.
    pub fn mismatches(&self, issuer: &IssuerData, holder: &HolderData, photo: Option<&Photo>) -> Vec<Field> {
        let mut out = Vec::new();
        let mut check = |field, bad: bool| {
            if bad {
                out.push(field);
            }
        };
        check(Field::CardType, differs(self.card_type.as_ref(), issuer.card_type.as_ref()));
        check(Field::SpecVersion, differs(self.spec_version.as_ref(), issuer.spec_version.as_ref()));
        check(Field::Issuer, differs(self.issuer.as_ref(), issuer.issuer.as_ref()));
        check(Field::IssueDate, differs(self.issue_date.as_ref(), issuer.issue_date.as_ref()));
        check(Field::ExpiryDate, differs(self.expiry_date.as_ref(), issuer.expiry_date.as_ref()));
        check(Field::CardNumber, differs(self.card_number.as_ref(), issuer.card_number.as_ref()));
        check(Field::Ssn, differs(self.ssn.as_ref(), holder.ssn.as_ref()));
        check(Field::Name, differs(self.name.as_ref(), holder.name.as_ref()));
        check(Field::Sex, differs(self.sex.as_ref(), holder.sex.as_ref()));
        check(Field::Nation, differs(self.nation.as_ref(), holder.nation.as_ref()));
        check(Field::Birthplace, differs(self.birthplace.as_ref(), holder.birthplace.as_ref()));
        check(Field::BirthDate, differs(self.birth_date.as_ref(), holder.birth_date.as_ref()));
        check(Field::Photo, differs(self.photo.as_ref(), photo));
        out
    }
}

#[cfg(test)]
#[path = "tests/files.rs"]
mod tests;
