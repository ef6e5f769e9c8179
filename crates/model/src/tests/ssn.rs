use super::super::codec::tests::any_date;
use super::*;
use proptest::prelude::*;

/// Builds an SSN from its parts with the right check character.
pub(crate) fn make_ssn(region: &str, birth: Date, seq: &str) -> String {
    let digits = format!("{region}{}{seq}", birth.to_compact());
    let check = Ssn::check_character(&digits).unwrap();
    format!("{digits}{check}")
}

/// Any valid SSN.
pub(crate) fn any_ssn() -> impl Strategy<Value = Ssn> {
    ("[0-9]{6}", any_date(), "[0-9]{3}").prop_map(|(r, d, s)| Ssn::parse(&make_ssn(&r, d, &s)).unwrap())
}

#[test]
fn known_valid() {
    assert_eq!(Ssn::check_character("11010519491231002"), Some('X'));
    let s = Ssn::parse("11010519491231002X").unwrap();
    assert_eq!(s.birth_date(), Date::new(1949, 12, 31).unwrap());
    assert!(!s.sex_digit_is_odd());
    assert_eq!(s.to_value(), b"11010519491231002X".to_vec());
    assert_eq!(Ssn::from_value(&s.to_value()), Ok(s));
}

#[test]
fn lower_case_x_is_upper_cased() {
    let s = Ssn::parse("11010519491231002x").unwrap();
    assert_eq!(s.as_str(), "11010519491231002X");
    assert_eq!(s.to_string(), "11010519491231002X");
}

#[test]
fn check_character_covers_every_remainder() {
    // Some 17-digit prefix for each of the 11 check characters.
    let mut seen = std::collections::BTreeSet::new();
    for n in 0..200u32 {
        let digits = format!("1101051949123{n:04}");
        seen.insert(Ssn::check_character(&digits).unwrap());
    }
    assert_eq!(seen.len(), 11);
    assert_eq!(Ssn::check_character("1234"), None);
    assert_eq!(Ssn::check_character("1101051949123100a"), None);
}

#[test]
fn format_errors() {
    let rule = |s: &str| Ssn::parse(s).map_err(|e| e.rule).err();
    assert_eq!(rule(""), Some(Rule::Empty));
    assert_eq!(rule("1101051949123100"), Some(Rule::WrongLength { expected: 18 }));
    assert_eq!(rule("11010519491231002Y"), Some(Rule::BadFormat { expected: "17 digits then a digit or X" }));
    assert_eq!(rule("1101051949123100XX"), Some(Rule::BadFormat { expected: "17 digits then a digit or X" }));
    let format = Some(Rule::BadFormat { expected: "17 digits then a digit or X" });
    assert_eq!(rule("11010519491231002\u{00e9}"), format);
    // A multi-byte character where a split at byte 17 would fall inside it.
    assert_eq!(rule("1101051949123100\u{00e9}X"), format);
    assert_eq!(rule("\u{00e9}1010519491231002X"), format);
}

proptest! {
    #[test]
    fn valid_ssns_parse(r in "[0-9]{6}", d in any_date(), seq in "[0-9]{3}") {
        let text = make_ssn(&r, d, &seq);
        let s = Ssn::parse(&text).unwrap();
        prop_assert_eq!(s.birth_date(), d);
        prop_assert_eq!(s.as_str(), text.as_str());
        let odd = (seq.as_bytes()[2] - b'0') % 2 == 1;
        prop_assert_eq!(s.sex_digit_is_odd(), odd);
        prop_assert_eq!(Ssn::from_value(&s.to_value()), Ok(s));
    }

    #[test]
    fn a_wrong_check_character_fails(s in any_ssn(), pick in 0usize..10) {
        let right = s.as_str().as_bytes()[17];
        let others: Vec<u8> = b"0123456789X".iter().copied().filter(|&c| c != right).collect();
        let wrong = others[pick];
        let text = format!("{}{}", &s.as_str()[..17], char::from(wrong));
        prop_assert_eq!(
            Ssn::parse(&text),
            Err(ValidationError::new(
                Field::Ssn,
                Rule::BadCheckCharacter { expected: char::from(right) }
            ))
        );
    }
}
