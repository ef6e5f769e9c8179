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
invalid!(name_of_26_cjk_chars, set_err(Field::Name, &"王".repeat(26)), Field::Name, Rule::NameTooLong { bytes: 52 });
invalid!(ascii_name_of_51_bytes, set_err(Field::Name, &"A".repeat(51)), Field::Name, Rule::NameTooLong { bytes: 51 });
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
invalid!(region_of_5_digits, set_err(Field::Birthplace, "11010"), Field::Birthplace, Rule::WrongLength { expected: 6 });
invalid!(region_all_zero, set_err(Field::Birthplace, "000000"), Field::Birthplace, Rule::NotAllowed { .. });
invalid!(
    card_number_of_10_chars,
    set_err(Field::CardNumber, "X000000190"),
    Field::CardNumber,
    Rule::WrongLength { expected: 9 }
);
invalid!(card_number_with_a_dash, set_err(Field::CardNumber, "X0000-019"), Field::CardNumber, Rule::NotAlphanumeric);
invalid!(issuer_of_13_chars, set_err(Field::Issuer, "1101000000012"), Field::Issuer, Rule::TooLong { max_bytes: 12 });
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
invalid!(photo_of_8191_bytes, Photo::new(jpeg(8191)).err().unwrap(), Field::Photo, Rule::PhotoTooLarge { len: 8191 });
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
invalid!(new_pin_equal_to_initial, new_pin_err(&PinPolicy::reference(), "123456"), Field::NewPin, Rule::PinIsInitial);
invalid!(new_pin_equal_to_regional_initial, new_pin_err(&other_initial(), "888888"), Field::NewPin, Rule::PinIsInitial);
invalid!(new_pin_111111, new_pin_err(&PinPolicy::reference(), "111111"), Field::NewPin, Rule::PinRepeatedDigit);
invalid!(new_pin_123456_elsewhere, new_pin_err(&other_initial(), "123456"), Field::NewPin, Rule::PinSequential);
invalid!(new_pin_234567, new_pin_err(&PinPolicy::reference(), "234567"), Field::NewPin, Rule::PinSequential);
invalid!(new_pin_987654, new_pin_err(&PinPolicy::reference(), "987654"), Field::NewPin, Rule::PinSequential);
invalid!(new_pin_012345, new_pin_err(&PinPolicy::reference(), "012345"), Field::NewPin, Rule::PinSequential);
invalid!(new_pin_543210, new_pin_err(&PinPolicy::reference(), "543210"), Field::NewPin, Rule::PinSequential);

/// The rules broken by the card holding `update`'s elements, as (field, rule).
fn card_broken(u: &HolderRecordUpdate) -> Vec<(Field, Rule)> {
    let (ef05, ef06) = u.records();
    let issuer = IssuerData::decode(&ef05).unwrap();
    let holder = HolderData::decode(&ef06).unwrap();
    let broken = inconsistencies(&issuer, &holder);
    for b in &broken {
        let line = b.to_string();
        assert!(!line.contains('\n') && line.starts_with(&format!("{}: ", b.field)), "{line}");
    }
    broken.into_iter().map(|b| (b.field, b.rule)).collect()
}

/// A female SSN born 1985-06-15, for a holder other than [`FEMALE`]'s.
fn other_female_ssn() -> String {
    make_ssn("440305", Date::new(1985, 6, 15).unwrap(), "024")
}

#[test]
fn a_consistent_card_breaks_no_rule() {
    assert_eq!(card_broken(&full_update()), []);
    assert_eq!(card_broken(&HolderRecordUpdate::default()), []);
    assert_eq!(inconsistencies(&IssuerData::default(), &HolderData::default()), []);
}

#[test]
fn a_card_with_an_ssn_alone_misses_sex_and_birth_date() {
    let u = update(&[(Field::Ssn, FEMALE), (Field::Name, "张三")]);
    assert_eq!(card_broken(&u), [(Field::Sex, Rule::MustComeTogether), (Field::BirthDate, Rule::MustComeTogether)]);
    let (ef05, ef06) = u.records();
    let line = inconsistencies(&IssuerData::decode(&ef05).unwrap(), &HolderData::decode(&ef06).unwrap())[1].to_string();
    assert_eq!(line, "birth_date: is unwritten, but ssn, sex and birth_date travel together");
}

#[test]
fn a_card_with_sex_and_birth_date_alone_misses_the_ssn() {
    let u = update(&[(Field::Sex, "2"), (Field::BirthDate, "1949-12-31")]);
    assert_eq!(card_broken(&u), [(Field::Ssn, Rule::MustComeTogether)]);
    let u = update(&[(Field::Ssn, FEMALE), (Field::Sex, "2")]);
    assert_eq!(card_broken(&u), [(Field::BirthDate, Rule::MustComeTogether)]);
}

#[test]
fn a_card_whose_birth_date_is_not_in_the_ssn() {
    // A new SSN over the old holder's birth date: the sex still agrees.
    let u = update(&[(Field::Ssn, &other_female_ssn()), (Field::Sex, "2"), (Field::BirthDate, "1949-12-31")]);
    assert_eq!(card_broken(&u), [(Field::BirthDate, Rule::BirthDateMismatch)]);
}

#[test]
fn a_card_whose_sex_is_not_the_ssn_parity() {
    let u = update(&[(Field::Ssn, &male_ssn()), (Field::Sex, "2"), (Field::BirthDate, "1949-12-31")]);
    assert_eq!(card_broken(&u), [(Field::Sex, Rule::SexParityMismatch)]);
}

#[test]
fn a_card_breaking_several_rules_reports_each() {
    let u = update(&[
        (Field::IssueDate, "2026-11-25"),
        (Field::ExpiryDate, "2016-11-25"),
        (Field::Ssn, &make_ssn("440305", Date::new(1985, 6, 15).unwrap(), "013")),
        (Field::Sex, "2"),
        (Field::BirthDate, "1949-12-31"),
    ]);
    assert_eq!(
        card_broken(&u),
        [
            (Field::ExpiryDate, Rule::ExpiryNotAfterIssue),
            (Field::BirthDate, Rule::BirthDateMismatch),
            (Field::Sex, Rule::SexParityMismatch),
        ]
    );
    // An update breaking the same rules is refused on the first.
    assert_eq!(u.validate(Generation::Gen3).err().map(|e| e.field), Some(Field::ExpiryDate));
}

#[test]
fn a_card_whose_expiry_is_not_after_issue() {
    let u = update(&[(Field::IssueDate, "2024-05-01"), (Field::ExpiryDate, "2024-05-01")]);
    assert_eq!(card_broken(&u), [(Field::ExpiryDate, Rule::ExpiryNotAfterIssue)]);
    let u = update(&[(Field::ExpiryDate, "2004-05-01")]);
    assert_eq!(card_broken(&u), []);
}

/// The holder data of a card whose tag 09 holds `first`'s and tag 4E holds
/// `second`'s, as a write of `first` over `second` cut between the two leaves it.
fn mixed_names(first: &str, second: &str) -> HolderData {
    let (name, _) = Name::new(first).unwrap().split_gbk();
    let (_, ext) = Name::new(second).unwrap().split_gbk();
    HolderData::decode(&[Record::new(TAG_NAME, name.to_vec()), Record::new(TAG_NAME_EXT, ext.to_vec())]).unwrap()
}

#[test]
fn a_short_name_with_an_old_extension_is_flagged() {
    let long = "阿卜杜热合曼·买买提艾力·克里木江"; // 34 GBK bytes: 30 + 4
    let holder = mixed_names("李四", long);
    let name = holder.name.as_ref().unwrap();
    assert_eq!((name.name_record_len(), name.extension_len()), (4, 4));
    let broken = inconsistencies(&IssuerData::default(), &holder);
    assert_eq!(
        broken,
        [Inconsistency { field: Field::Name, rule: Rule::NameExtensionOfAnotherName { name_bytes: 4 } }]
    );
    let line = broken[0].to_string();
    assert!(line.starts_with("name: ") && line.contains("tag 09 holds only 4 bytes"), "{line}");
    // 28 bytes in tag 09 and an extension: flagged too.
    let holder = mixed_names(&"张".repeat(14), long);
    assert_eq!(card_broken_holder(&holder), [(Field::Name, Rule::NameExtensionOfAnotherName { name_bytes: 28 })]);
}

#[test]
fn a_full_tag_09_with_an_extension_is_consistent() {
    // 30 bytes: 15 two-byte characters, the rest in 4E.
    let holder = mixed_names(&"张".repeat(17), &"张".repeat(17));
    assert_eq!(holder.name.as_ref().map(|n| (n.name_record_len(), n.extension_len())), Some((30, 4)));
    assert_eq!(card_broken_holder(&holder), []);
    // 29 bytes: a two-byte character does not fit at byte 29.
    let odd = format!("a{}", "张".repeat(20));
    let holder = mixed_names(&odd, &odd);
    assert_eq!(holder.name.as_ref().map(|n| (n.name_record_len(), n.extension_len())), Some((29, 12)));
    assert_eq!(card_broken_holder(&holder), []);
    // A new long name over an old one: another name, but each record is whole.
    assert_eq!(card_broken_holder(&mixed_names(&"王".repeat(20), &"张".repeat(17))), []);
    // A short name without an extension.
    assert_eq!(card_broken_holder(&mixed_names("李四", "张三")), []);
}

fn card_broken_holder(holder: &HolderData) -> Vec<(Field, Rule)> {
    inconsistencies(&IssuerData::default(), holder).into_iter().map(|b| (b.field, b.rule)).collect()
}

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
        .prop_map(|(card_id, card_type, spec_version, issuer, issue_date, expiry_date, card_number)| IssuerData {
            card_id,
            card_type,
            spec_version,
            issuer,
            issue_date,
            expiry_date,
            card_number,
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
        prop_assert_eq!(inconsistencies(&u.issuer_data(), &u.holder_data()), []);
    }

    #[test]
    fn a_written_name_reads_back_consistent(n in any_name()) {
        let holder = HolderData { name: Some(n), ..HolderData::default() };
        let read = HolderData::decode(&holder.encode()).unwrap();
        prop_assert_eq!(&read, &holder);
        prop_assert_eq!(inconsistencies(&IssuerData::default(), &read), []);
    }
}

/// EF06 tags in table order.
const EF06_POSITION: [u8; 7] = [TAG_SSN, TAG_NAME, TAG_NAME_EXT, TAG_SEX, TAG_NATION, TAG_BIRTHPLACE, TAG_BIRTH_DATE];
