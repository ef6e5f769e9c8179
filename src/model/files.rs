//! The typed record files: EF05 issuer data, EF06 holder data, and the update a
//! personalisation request writes, with the consistency rules of card-profile.md
//! section 3 and the digest of interfaces.md.

use sha2::{Digest, Sha256};

use super::card_id::CardId;
use super::codec::{Date, RegionCode, is_unwritten};
use super::elements::{
    FileId, Record, TAG_BIRTH_DATE, TAG_BIRTHPLACE, TAG_CARD_ID, TAG_CARD_NUMBER, TAG_CARD_TYPE, TAG_EXPIRY_DATE,
    TAG_ISSUE_DATE, TAG_ISSUER, TAG_NAME, TAG_NAME_EXT, TAG_NATION, TAG_SEX, TAG_SPEC_VERSION, TAG_SSN,
};
use super::error::{DecodeError, Field, Rule, ValidationError};
use super::name::Name;
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
        if let Some(v) = &self.spec_version {
            if v.generation() != Some(generation) {
                return Err(ValidationError::new(Field::SpecVersion, Rule::GenerationMismatch { generation }));
            }
        }
        if let (Some(issue), Some(expiry)) = (self.issue_date, self.expiry_date) {
            if expiry <= issue {
                return Err(ValidationError::new(Field::ExpiryDate, Rule::ExpiryNotAfterIssue));
            }
        }
        match (&self.ssn, self.sex, self.birth_date) {
            (None, None, None) => Ok(()),
            (Some(ssn), Some(sex), Some(birth_date)) => {
                if ssn.birth_date() != birth_date {
                    return Err(ValidationError::new(Field::BirthDate, Rule::BirthDateMismatch));
                }
                if ssn.sex_digit_is_odd() != (sex == Sex::Male) {
                    return Err(ValidationError::new(Field::Sex, Rule::SexParityMismatch));
                }
                Ok(())
            }
            (ssn, sex, _) => {
                let missing = if ssn.is_none() {
                    Field::Ssn
                } else if sex.is_none() {
                    Field::Sex
                } else {
                    Field::BirthDate
                };
                Err(ValidationError::new(missing, Rule::MustComeTogether))
            }
        }
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
mod tests {
    use super::super::card_id::tests::any_card_id;
    use super::super::codec::tests::{any_date, any_region};
    use super::super::elements::ElementSpec;
    use super::super::name::tests::any_name;
    use super::super::photo::tests::{any_photo, jpeg};
    use super::super::pin::{Pin, PinPolicy};
    use super::super::ssn::tests::{any_ssn, make_ssn};
    use super::super::values::tests::{any_card_number, any_card_type, any_issuer, any_nation, any_spec_version};
    use super::*;
    use proptest::option;
    use proptest::prelude::*;

    /// The known-valid SSN: born 1949-12-31, 17th digit 2, so female.
    const FEMALE: &str = "11010519491231002X";

    fn male_ssn() -> String {
        make_ssn("110105", Date::new(1949, 12, 31).unwrap(), "001")
    }

    /// An update built from D-Bus string pairs; panics on the first bad element.
    fn update(pairs: &[(Field, &str)]) -> HolderRecordUpdate {
        let mut u = HolderRecordUpdate::default();
        for (f, v) in pairs {
            u.set_from_str(*f, v).unwrap();
        }
        u
    }

    /// The error of setting `field` to `value`.
    fn set_err(field: Field, value: &str) -> ValidationError {
        HolderRecordUpdate::default().set_from_str(field, value).err().unwrap()
    }

    /// The error of validating `pairs` on a gen3 card.
    fn validate_err(pairs: &[(Field, &str)]) -> ValidationError {
        update(pairs).validate(Generation::Gen3).err().unwrap()
    }

    fn full_update() -> HolderRecordUpdate {
        let mut u = update(&[
            (Field::CardType, "3"),
            (Field::SpecVersion, "3.00"),
            (Field::Issuer, "110100000001"),
            (Field::IssueDate, "2024-02-29"),
            (Field::ExpiryDate, "2034-02-28"),
            (Field::CardNumber, "X00000019"),
            (Field::Ssn, FEMALE),
            (Field::Name, "张王李赵龘"),
            (Field::Sex, "2"),
            (Field::Nation, "1"),
            (Field::Birthplace, "110105"),
            (Field::BirthDate, "1949-12-31"),
        ]);
        u.photo = Some(Photo::new(jpeg(100)).unwrap());
        u
    }

    #[test]
    fn full_update_is_valid_and_round_trips() {
        let u = full_update();
        assert_eq!(u.validate(Generation::Gen3), Ok(()));
        let (ef05, ef06) = u.records();
        let tags: Vec<u8> = ef05.iter().chain(ef06.iter()).map(|r| r.tag).collect();
        assert_eq!(tags, [2, 3, 4, 5, 6, 7, 8, 9, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D]);
        for r in ef05.iter().chain(ef06.iter()) {
            let spec = ElementSpec::by_tag(r.tag).unwrap();
            assert_eq!(r.value.len(), spec.len);
            assert_eq!(ElementSpec::find_writable(spec.file, r.tag), Some(spec));
        }
        let issuer = IssuerData::decode(&ef05).unwrap();
        let holder = HolderData::decode(&ef06).unwrap();
        assert_eq!(issuer, u.issuer_data());
        assert_eq!(holder, u.holder_data());
        assert!(u.mismatches(&issuer, &holder, u.photo.as_ref()).is_empty());
        assert_eq!(
            u.mismatches(&issuer, &HolderData::default(), None),
            [Field::Ssn, Field::Name, Field::Sex, Field::Nation, Field::Birthplace, Field::BirthDate, Field::Photo]
        );
    }

    #[test]
    fn digest_covers_records_then_photo() {
        let mut u = update(&[(Field::Sex, "2"), (Field::CardType, "3"), (Field::Name, "张三")]);
        let mut expected = vec![0x02, 0x01, b'3'];
        expected.extend([0x09, 30, 0xD5, 0xC5, 0xC8, 0xFD]);
        expected.extend([0u8; 26]);
        expected.extend([0x4E, 20]);
        expected.extend([0u8; 20]);
        expected.extend([0x0A, 0x01, b'2']);
        assert_eq!(u.digest_input(), expected);
        u.photo = Some(Photo::new(jpeg(4)).unwrap());
        expected.extend([0x00, 0x04, 0xFF, 0xD8, 0xFF, 0xD9]);
        assert_eq!(u.digest_input(), expected);
        assert_eq!(u.digest_hex(), hex::encode(Sha256::digest(&expected)));
        assert_eq!(
            HolderRecordUpdate::default().digest_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(HolderRecordUpdate::default().is_empty());
        assert!(!u.is_empty());
    }

    #[test]
    fn tag_01_is_never_writable() {
        assert_eq!(ElementSpec::find_writable(FileId::Ef05, TAG_CARD_ID), None);
        assert_eq!(ElementSpec::find_writable(FileId::Ef05, TAG_SEX), None);
        assert!(ElementSpec::find_writable(FileId::Ef06, TAG_SEX).is_some());
    }

    #[test]
    fn unwritten_card_decodes_empty() {
        let ef05: Vec<Record> = FileId::Ef05.elements().iter().map(Record::unwritten).collect();
        let ef06: Vec<Record> = FileId::Ef06.elements().iter().map(|s| Record::new(s.tag, vec![0xFF; s.len])).collect();
        assert_eq!(IssuerData::decode(&ef05), Ok(IssuerData::default()));
        assert_eq!(HolderData::decode(&ef06), Ok(HolderData::default()));
        assert_eq!(HolderData::decode(&[]), Ok(HolderData::default()));
    }

    #[test]
    fn decode_errors_name_the_field() {
        let bad_date = [Record::new(TAG_EXPIRY_DATE, vec![0x20, 0x23, 0x02, 0x30])];
        assert_eq!(IssuerData::decode(&bad_date), Err(DecodeError::InvalidDate { field: Field::ExpiryDate }));
        let short = [Record::new(TAG_ISSUER, vec![b'A'; 11])];
        assert_eq!(
            IssuerData::decode(&short),
            Err(DecodeError::WrongLength { field: Field::Issuer, expected: 12, found: 11 })
        );
        let stray = [Record::new(TAG_SSN, vec![b'1'; 18])];
        assert_eq!(IssuerData::decode(&stray), Err(DecodeError::UnexpectedTag { file: FileId::Ef05, tag: TAG_SSN }));
        let twice = [Record::new(TAG_SEX, vec![b'1']), Record::new(TAG_SEX, vec![b'2'])];
        assert_eq!(HolderData::decode(&twice), Err(DecodeError::DuplicateRecord { field: Field::Sex, tag: TAG_SEX }));
        let bad_ssn = [Record::new(TAG_SSN, b"110105194912310021".to_vec())];
        assert_eq!(
            HolderData::decode(&bad_ssn),
            Err(DecodeError::Invalid { field: Field::Ssn, rule: Rule::BadCheckCharacter { expected: 'X' } })
        );
        let nation = [Record::new(TAG_NATION, vec![99])];
        assert_eq!(HolderData::decode(&nation).map_err(|e| e.field()), Err(Some(Field::Nation)));
        let bcd = [Record::new(TAG_BIRTHPLACE, vec![0x11, 0x01, 0xA5])];
        assert_eq!(HolderData::decode(&bcd), Err(DecodeError::BadBcd { field: Field::Birthplace }));
    }

    #[test]
    fn a_shorter_name_clears_the_extension() {
        let long = HolderData { name: Some(Name::new(&"张".repeat(25)).unwrap()), ..HolderData::default() };
        let short = HolderData { name: Some(Name::new("李四").unwrap()), ..HolderData::default() };
        let long_recs = long.encode();
        let short_recs = short.encode();
        assert_eq!(long_recs.len(), 2);
        assert_eq!(short_recs[1].tag, TAG_NAME_EXT);
        assert_eq!(short_recs[1].value, vec![0; 20]);
        assert!(long_recs[1].value.iter().all(|&b| b != 0));
        assert_eq!(HolderData::decode(&short_recs), Ok(short));
    }

    #[test]
    fn positive_lower_case_x_ssn() {
        let u = update(&[(Field::Ssn, "11010519491231002x"), (Field::Sex, "2"), (Field::BirthDate, "1949-12-31")]);
        assert_eq!(u.validate(Generation::Gen3), Ok(()));
        assert_eq!(u.ssn.as_ref().map(Ssn::as_str), Some(FEMALE));
        let male = update(&[(Field::Ssn, &male_ssn()), (Field::Sex, "1"), (Field::BirthDate, "1949-12-31")]);
        assert_eq!(male.validate(Generation::Gen2), Ok(()));
    }

    #[test]
    fn gen2_accepts_its_version() {
        let u = update(&[(Field::SpecVersion, "2.00")]);
        assert_eq!(u.validate(Generation::Gen2), Ok(()));
    }

    /// One invalid input: `$e` must be `Err(ValidationError { field: $field, rule })`
    /// with `rule` matching `$rule`.
    macro_rules! invalid {
        ($name:ident, $e:expr, $field:expr, $rule:pat) => {
            #[test]
            fn $name() {
                let e: ValidationError = $e;
                assert_eq!(e.field, $field, "{e}");
                assert!(matches!(e.rule, $rule), "{e}");
                assert!(!e.to_string().contains('\n'));
            }
        };
    }

    invalid!(
        bad_check_character,
        set_err(Field::Ssn, "110105194912310021"),
        Field::Ssn,
        Rule::BadCheckCharacter { expected: 'X' }
    );
    invalid!(
        birth_date_not_in_ssn,
        validate_err(&[(Field::Ssn, FEMALE), (Field::Sex, "2"), (Field::BirthDate, "1949-12-30")]),
        Field::BirthDate,
        Rule::BirthDateMismatch
    );
    invalid!(birth_date_31_february, set_err(Field::BirthDate, "2000-02-31"), Field::BirthDate, Rule::NotACalendarDate);
    invalid!(
        issue_date_29_february_common_year,
        set_err(Field::IssueDate, "2023-02-29"),
        Field::IssueDate,
        Rule::NotACalendarDate
    );
    invalid!(
        expiry_date_29_february_1900,
        set_err(Field::ExpiryDate, "1900-02-29"),
        Field::ExpiryDate,
        Rule::NotACalendarDate
    );
    invalid!(
        ssn_holding_31_february,
        set_err(Field::Ssn, &{
            let digits = "11010520010231001";
            format!("{digits}{}", Ssn::check_character(digits).unwrap())
        }),
        Field::Ssn,
        Rule::NotACalendarDate
    );
    invalid!(date_with_slashes, set_err(Field::IssueDate, "2024/01/01"), Field::IssueDate, Rule::BadFormat { .. });
    invalid!(
        name_with_u20000,
        set_err(Field::Name, "张\u{20000}"),
        Field::Name,
        Rule::NotRepresentableInGbk { ch: '\u{20000}' }
    );
    invalid!(
        name_of_26_cjk_chars,
        set_err(Field::Name, &"王".repeat(26)),
        Field::Name,
        Rule::NameTooLong { bytes: 52 }
    );
    invalid!(
        ascii_name_of_51_bytes,
        set_err(Field::Name, &"A".repeat(51)),
        Field::Name,
        Rule::NameTooLong { bytes: 51 }
    );
    invalid!(
        name_whose_extension_overflows,
        set_err(Field::Name, &format!("{}赵{}", "a".repeat(29), "b".repeat(19))),
        Field::Name,
        Rule::NameExtensionTooLong { rest: 21 }
    );
    invalid!(empty_name, set_err(Field::Name, ""), Field::Name, Rule::Empty);
    invalid!(white_space_name, set_err(Field::Name, " \t "), Field::Name, Rule::Empty);
    invalid!(name_with_nul, set_err(Field::Name, "张\0三"), Field::Name, Rule::ControlCharacter { ch: '\0' });
    invalid!(
        female_ssn_with_male_sex,
        validate_err(&[(Field::Ssn, FEMALE), (Field::Sex, "1"), (Field::BirthDate, "1949-12-31")]),
        Field::Sex,
        Rule::SexParityMismatch
    );
    invalid!(
        male_ssn_with_female_sex,
        validate_err(&[(Field::Ssn, &male_ssn()), (Field::Sex, "2"), (Field::BirthDate, "1949-12-31")]),
        Field::Sex,
        Rule::SexParityMismatch
    );
    invalid!(ssn_alone, validate_err(&[(Field::Ssn, FEMALE)]), Field::Sex, Rule::MustComeTogether);
    invalid!(
        ssn_and_sex_without_birth_date,
        validate_err(&[(Field::Ssn, FEMALE), (Field::Sex, "2")]),
        Field::BirthDate,
        Rule::MustComeTogether
    );
    invalid!(sex_alone, validate_err(&[(Field::Sex, "2")]), Field::Ssn, Rule::MustComeTogether);
    invalid!(birth_date_alone, validate_err(&[(Field::BirthDate, "1949-12-31")]), Field::Ssn, Rule::MustComeTogether);
    invalid!(
        expiry_before_issue,
        validate_err(&[(Field::IssueDate, "2024-05-01"), (Field::ExpiryDate, "2024-04-30")]),
        Field::ExpiryDate,
        Rule::ExpiryNotAfterIssue
    );
    invalid!(
        expiry_equal_to_issue,
        validate_err(&[(Field::IssueDate, "2024-05-01"), (Field::ExpiryDate, "2024-05-01")]),
        Field::ExpiryDate,
        Rule::ExpiryNotAfterIssue
    );
    invalid!(
        version_2_on_gen3,
        validate_err(&[(Field::SpecVersion, "2.00")]),
        Field::SpecVersion,
        Rule::GenerationMismatch { generation: Generation::Gen3 }
    );
    invalid!(
        version_3_on_gen2,
        update(&[(Field::SpecVersion, "3.00")]).validate(Generation::Gen2).err().unwrap(),
        Field::SpecVersion,
        Rule::GenerationMismatch { generation: Generation::Gen2 }
    );
    invalid!(unknown_version, set_err(Field::SpecVersion, "3.0"), Field::SpecVersion, Rule::NotAllowed { .. });
    invalid!(nation_0, Nation::new(0).err().unwrap(), Field::Nation, Rule::OutOfRange { .. });
    invalid!(nation_57, Nation::new(57).err().unwrap(), Field::Nation, Rule::OutOfRange { .. });
    invalid!(nation_99, set_err(Field::Nation, "99"), Field::Nation, Rule::OutOfRange { .. });
    invalid!(nation_not_a_number, set_err(Field::Nation, "Han"), Field::Nation, Rule::NotDigits);
    invalid!(region_with_a_letter, set_err(Field::Birthplace, "11010A"), Field::Birthplace, Rule::NotDigits);
    invalid!(
        region_of_5_digits,
        set_err(Field::Birthplace, "11010"),
        Field::Birthplace,
        Rule::WrongLength { expected: 6 }
    );
    invalid!(region_all_zero, set_err(Field::Birthplace, "000000"), Field::Birthplace, Rule::NotAllowed { .. });
    invalid!(
        card_number_of_10_chars,
        set_err(Field::CardNumber, "X000000190"),
        Field::CardNumber,
        Rule::WrongLength { expected: 9 }
    );
    invalid!(
        card_number_with_a_dash,
        set_err(Field::CardNumber, "X0000-019"),
        Field::CardNumber,
        Rule::NotAlphanumeric
    );
    invalid!(
        issuer_of_13_chars,
        set_err(Field::Issuer, "1101000000012"),
        Field::Issuer,
        Rule::TooLong { max_bytes: 12 }
    );
    invalid!(issuer_not_ascii, set_err(Field::Issuer, "社保局"), Field::Issuer, Rule::NotAscii);
    invalid!(card_type_letter, set_err(Field::CardType, "A"), Field::CardType, Rule::NotDigits);
    invalid!(card_type_two_digits, set_err(Field::CardType, "12"), Field::CardType, Rule::WrongLength { expected: 1 });
    invalid!(sex_3, set_err(Field::Sex, "3"), Field::Sex, Rule::NotAllowed { .. });
    invalid!(ssn_of_17_chars, set_err(Field::Ssn, "11010519491231002"), Field::Ssn, Rule::WrongLength { expected: 18 });
    invalid!(ssn_with_a_letter_inside, set_err(Field::Ssn, "1101051949A231002X"), Field::Ssn, Rule::BadFormat { .. });
    invalid!(
        card_id_not_writable,
        set_err(Field::CardId, "110100D15600000501020304050607FF"),
        Field::CardId,
        Rule::NotWritable
    );
    invalid!(region_not_writable, set_err(Field::Region, "110100"), Field::Region, Rule::NotWritable);
    invalid!(photo_not_jpeg, Photo::new(b"\x89PNG\r\n\x1a\n".to_vec()).err().unwrap(), Field::Photo, Rule::NotJpeg);
    invalid!(
        photo_of_8191_bytes,
        Photo::new(jpeg(8191)).err().unwrap(),
        Field::Photo,
        Rule::PhotoTooLarge { len: 8191 }
    );
    invalid!(photo_as_string, set_err(Field::Photo, "FFD8FFD9"), Field::Photo, Rule::BadFormat { .. });

    /// The error of `s` as a new PIN under `policy`.
    fn new_pin_err(policy: &PinPolicy, s: &str) -> ValidationError {
        Pin::parse(s, Field::NewPin).and_then(|p| policy.check_new_pin(&p, Field::NewPin)).err().unwrap()
    }

    fn other_initial() -> PinPolicy {
        PinPolicy { length: 6, initial: Pin::parse("888888", Field::Pin).unwrap() }
    }

    invalid!(
        new_pin_of_5_digits,
        new_pin_err(&PinPolicy::reference(), "13579"),
        Field::NewPin,
        Rule::PinLength { min: 6, max: 6 }
    );
    invalid!(pin_not_digits, Pin::parse("12a4", Field::Pin).err().unwrap(), Field::Pin, Rule::PinNotDigits);
    invalid!(pin_with_unicode_digits, Pin::parse("١٢٣٤", Field::Pin).err().unwrap(), Field::Pin, Rule::PinNotDigits);
    invalid!(
        pin_of_3_digits,
        Pin::parse("123", Field::Pin).err().unwrap(),
        Field::Pin,
        Rule::PinLength { min: 4, max: 12 }
    );
    invalid!(
        pin_of_13_digits,
        Pin::parse("1234567890123", Field::Pin).err().unwrap(),
        Field::Pin,
        Rule::PinLength { min: 4, max: 12 }
    );
    invalid!(empty_pin, Pin::parse("", Field::Pin).err().unwrap(), Field::Pin, Rule::PinLength { .. });
    invalid!(
        new_pin_equal_to_initial,
        new_pin_err(&PinPolicy::reference(), "123456"),
        Field::NewPin,
        Rule::PinIsInitial
    );
    invalid!(
        new_pin_equal_to_regional_initial,
        new_pin_err(&other_initial(), "888888"),
        Field::NewPin,
        Rule::PinIsInitial
    );
    invalid!(new_pin_111111, new_pin_err(&PinPolicy::reference(), "111111"), Field::NewPin, Rule::PinRepeatedDigit);
    invalid!(new_pin_123456_elsewhere, new_pin_err(&other_initial(), "123456"), Field::NewPin, Rule::PinSequential);
    invalid!(new_pin_234567, new_pin_err(&PinPolicy::reference(), "234567"), Field::NewPin, Rule::PinSequential);
    invalid!(new_pin_987654, new_pin_err(&PinPolicy::reference(), "987654"), Field::NewPin, Rule::PinSequential);
    invalid!(new_pin_012345, new_pin_err(&PinPolicy::reference(), "012345"), Field::NewPin, Rule::PinSequential);
    invalid!(new_pin_543210, new_pin_err(&PinPolicy::reference(), "543210"), Field::NewPin, Rule::PinSequential);

    fn any_issuer_data() -> impl Strategy<Value = IssuerData> {
        (
            option::of(any_card_id()),
            option::of(any_card_type()),
            option::of(any_spec_version()),
            option::of(any_issuer()),
            option::of(any_date()),
            option::of(any_date()),
            option::of(any_card_number()),
        )
            .prop_map(|(card_id, card_type, spec_version, issuer, issue_date, expiry_date, card_number)| {
                IssuerData { card_id, card_type, spec_version, issuer, issue_date, expiry_date, card_number }
            })
    }

    fn any_holder_data() -> impl Strategy<Value = HolderData> {
        (
            option::of(any_ssn()),
            option::of(any_name()),
            option::of(any::<bool>().prop_map(|m| if m { Sex::Male } else { Sex::Female })),
            option::of(any_nation()),
            option::of(any_region()),
            option::of(any_date()),
        )
            .prop_map(|(ssn, name, sex, nation, birthplace, birth_date)| HolderData {
                ssn,
                name,
                sex,
                nation,
                birthplace,
                birth_date,
            })
    }

    proptest! {
        #[test]
        fn issuer_data_round_trip(d in any_issuer_data()) {
            let recs = d.encode();
            let tags: Vec<u8> = recs.iter().map(|r| r.tag).collect();
            let mut sorted = tags.clone();
            sorted.sort_unstable();
            prop_assert_eq!(&tags, &sorted);
            // Through TLV, as a card would return them.
            let parsed: Vec<Record> = recs
                .iter()
                .map(|r| Record::parse_tlv(&r.to_tlv(), ElementSpec::find(FileId::Ef05, r.tag).unwrap()).unwrap())
                .collect();
            prop_assert_eq!(IssuerData::decode(&parsed), Ok(d));
        }

        #[test]
        fn holder_data_round_trip(d in any_holder_data()) {
            let recs = d.encode();
            let order: Vec<usize> = recs
                .iter()
                .map(|r| EF06_POSITION.iter().position(|&t| t == r.tag).unwrap())
                .collect();
            prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(recs.iter().any(|r| r.tag == TAG_NAME_EXT), d.name.is_some());
            // Unwritten records for the absent elements, as a card holds them.
            let mut all = recs.clone();
            for spec in FileId::Ef06.elements() {
                if !recs.iter().any(|r| r.tag == spec.tag) {
                    all.push(Record::unwritten(spec));
                }
            }
            prop_assert_eq!(HolderData::decode(&all), Ok(d));
        }

        #[test]
        fn update_digest_is_records_then_photo(
            h in any_holder_data(),
            i in any_issuer_data(),
            photo in option::of(any_photo()),
        ) {
            let u = HolderRecordUpdate {
                card_type: i.card_type,
                spec_version: i.spec_version,
                issuer: i.issuer,
                issue_date: i.issue_date,
                expiry_date: i.expiry_date,
                card_number: i.card_number,
                ssn: h.ssn,
                name: h.name,
                sex: h.sex,
                nation: h.nation,
                birthplace: h.birthplace,
                birth_date: h.birth_date,
                photo,
            };
            let (ef05, ef06) = u.records();
            prop_assert!(ef05.iter().all(|r| r.tag != TAG_CARD_ID));
            let mut expected: Vec<u8> = ef05.iter().chain(ef06.iter()).flat_map(Record::to_tlv).collect();
            if let Some(p) = &u.photo {
                expected.extend(p.to_file_bytes());
            }
            prop_assert_eq!(u.digest_input(), expected);
            prop_assert_eq!(u.digest_hex().len(), 64);
        }

        #[test]
        fn a_consistent_holder_validates(ssn in any_ssn()) {
            let sex = if ssn.sex_digit_is_odd() { Sex::Male } else { Sex::Female };
            let u = HolderRecordUpdate {
                birth_date: Some(ssn.birth_date()),
                sex: Some(sex),
                ssn: Some(ssn),
                ..HolderRecordUpdate::default()
            };
            prop_assert_eq!(u.validate(Generation::Gen3), Ok(()));
        }
    }

    /// EF06 tags in table order.
    const EF06_POSITION: [u8; 7] =
        [TAG_SSN, TAG_NAME, TAG_NAME_EXT, TAG_SEX, TAG_NATION, TAG_BIRTHPLACE, TAG_BIRTH_DATE];
}
