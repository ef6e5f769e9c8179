use super::*;
use proptest::prelude::*;

/// Any real date of years 1 to 9999.
pub(crate) fn any_date() -> impl Strategy<Value = Date> {
    (1u16..=9999, 1u8..=12, 1u8..=31)
        .prop_filter_map("not a date", |(y, m, d)| Date::new(y, m, d.min(days_in_month(y, m))))
}

/// Any region code but 000000.
pub(crate) fn any_region() -> impl Strategy<Value = RegionCode> {
    "[0-9]{6}".prop_filter_map("all zero", |s| RegionCode::parse(&s, Field::Region).ok())
}

#[test]
fn leap_years() {
    assert!(is_leap_year(2000));
    assert!(is_leap_year(2024));
    assert!(!is_leap_year(1900));
    assert!(!is_leap_year(2023));
    assert!(Date::new(2024, 2, 29).is_some());
    assert!(Date::new(2000, 2, 29).is_some());
    assert!(Date::new(1900, 2, 29).is_none());
    assert!(Date::new(2024, 2, 30).is_none());
    assert!(Date::new(2024, 4, 31).is_none());
    assert!(Date::new(2024, 13, 1).is_none());
    assert!(Date::new(2024, 0, 1).is_none());
    assert!(Date::new(0, 1, 1).is_none());
}

#[test]
fn date_forms() {
    let d = Date::parse_iso("1949-12-31", Field::BirthDate).unwrap();
    assert_eq!(d.to_compact(), "19491231");
    assert_eq!(d.to_iso(), "1949-12-31");
    assert_eq!(d.to_string(), "1949-12-31");
    assert_eq!(d.to_bcd(), [0x19, 0x49, 0x12, 0x31]);
    assert_eq!(Date::from_bcd(&[0x19, 0x49, 0x12, 0x31], Field::BirthDate), Ok(d));
    assert_eq!(Date::parse_compact("19491231", Field::BirthDate), Ok(d));
    assert!(Date::new(2020, 1, 1) < Date::new(2020, 1, 2));
}

#[test]
fn date_format_errors() {
    for s in ["1949-1-31", "19491231", "1949/12/31", "1949-12-3a", "", " 949-12-31"] {
        assert_eq!(
            Date::parse_iso(s, Field::IssueDate),
            Err(ValidationError::new(Field::IssueDate, Rule::BadFormat { expected: "YYYY-MM-DD" })),
            "{s}"
        );
    }
    assert_eq!(Date::parse_compact("2023-02-2", Field::ExpiryDate).map_err(|e| e.field), Err(Field::ExpiryDate));
}

#[test]
fn date_bcd_errors() {
    assert_eq!(
        Date::from_bcd(&[0x20, 0x23, 0x02, 0x29], Field::IssueDate),
        Err(DecodeError::InvalidDate { field: Field::IssueDate })
    );
    assert_eq!(
        Date::from_bcd(&[0x20, 0x2A, 0x02, 0x01], Field::IssueDate),
        Err(DecodeError::BadBcd { field: Field::IssueDate })
    );
    assert_eq!(
        Date::from_bcd(&[0x20, 0x23, 0x02], Field::ExpiryDate),
        Err(DecodeError::WrongLength { field: Field::ExpiryDate, expected: 4, found: 3 })
    );
}

#[test]
fn region_codes() {
    let r = RegionCode::parse("110000", Field::Birthplace).unwrap();
    assert_eq!(r.to_bcd(), [0x11, 0x00, 0x00]);
    assert_eq!(RegionCode::from_bcd(&[0x11, 0x00, 0x00], Field::Birthplace), Ok(r));
    assert_eq!(r.to_string(), "110000");
    assert_eq!(
        RegionCode::parse("11010", Field::Birthplace),
        Err(ValidationError::new(Field::Birthplace, Rule::WrongLength { expected: 6 }))
    );
    assert_eq!(
        RegionCode::from_bcd(&[0x11, 0x0F, 0x00], Field::Region),
        Err(DecodeError::BadBcd { field: Field::Region })
    );
}

#[test]
fn padding_and_unwritten() {
    assert!(is_unwritten(&[0; 4]));
    assert!(is_unwritten(&[0xFF; 4]));
    assert!(is_unwritten(&[]));
    assert!(!is_unwritten(&[0, 0xFF]));
    assert_eq!(strip_padding(b"AB\0\xFF\0"), b"AB");
    assert_eq!(strip_padding(b"\0\0"), b"");
    assert_eq!(strip_padding(b"A\0B\0"), b"A\0B");
}

#[test]
fn ascii_fixed() {
    assert_eq!(encode_ascii_fixed("3.00", 4, Field::SpecVersion).unwrap(), b"3.00".to_vec());
    assert_eq!(encode_ascii_fixed("AB", 5, Field::Issuer).unwrap(), b"AB\0\0\0".to_vec());
    assert_eq!(
        encode_ascii_fixed("ABCDEF", 5, Field::Issuer),
        Err(ValidationError::new(Field::Issuer, Rule::TooLong { max_bytes: 5 }))
    );
    assert_eq!(encode_ascii_fixed("A\tB", 5, Field::Issuer), Err(ValidationError::new(Field::Issuer, Rule::NotAscii)));
    assert_eq!(encode_ascii_fixed("", 5, Field::Issuer), Err(ValidationError::new(Field::Issuer, Rule::Empty)));
    assert_eq!(decode_ascii_fixed(b"AB\0\0\xFF", Field::Issuer), Ok(Some("AB".to_owned())));
    assert_eq!(decode_ascii_fixed(&[0xFF; 5], Field::Issuer), Ok(None));
    assert_eq!(decode_ascii_fixed(&[0; 5], Field::Issuer), Ok(None));
    assert_eq!(
        decode_ascii_fixed(b"A\x01B\0\0", Field::Issuer),
        Err(DecodeError::Invalid { field: Field::Issuer, rule: Rule::NotAscii })
    );
}

proptest! {
    #[test]
    fn date_bcd_round_trip(d in any_date()) {
        prop_assert_eq!(Date::from_bcd(&d.to_bcd(), Field::BirthDate), Ok(d));
        prop_assert_eq!(Date::parse_iso(&d.to_iso(), Field::BirthDate), Ok(d));
        prop_assert_eq!(Date::parse_compact(&d.to_compact(), Field::BirthDate), Ok(d));
        prop_assert_eq!(hex::encode(d.to_bcd()), d.to_compact());
    }

    #[test]
    fn date_bcd_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..6)) {
        if let Ok(d) = Date::from_bcd(&bytes, Field::IssueDate) {
            prop_assert_eq!(d.to_bcd().to_vec(), bytes);
        }
    }

    #[test]
    fn region_round_trip(r in any_region()) {
        prop_assert_eq!(RegionCode::from_bcd(&r.to_bcd(), Field::Region), Ok(r));
        prop_assert_eq!(RegionCode::parse(r.as_str(), Field::Region), Ok(r));
        prop_assert_eq!(hex::encode(r.to_bcd()), r.as_str());
    }

    #[test]
    fn ascii_round_trip(s in "[ -~]{1,12}", pad in 0usize..4) {
        let len = s.len() + pad;
        let enc = encode_ascii_fixed(&s, len, Field::Issuer).unwrap();
        prop_assert_eq!(enc.len(), len);
        // Trailing padding is stripped; a value that is only spaces stays.
        prop_assert_eq!(decode_ascii_fixed(&enc, Field::Issuer), Ok(Some(s)));
    }
}
