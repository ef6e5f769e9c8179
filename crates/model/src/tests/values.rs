use super::*;
use proptest::prelude::*;

pub(crate) fn any_card_type() -> impl Strategy<Value = CardType> {
    "[0-9]".prop_map(|s| CardType::parse(&s).unwrap())
}
pub(crate) fn any_spec_version() -> impl Strategy<Value = SpecVersion> {
    prop_oneof![
        Just(SpecVersion::for_generation(Generation::Gen2)),
        Just(SpecVersion::for_generation(Generation::Gen3)),
    ]
}
pub(crate) fn any_issuer() -> impl Strategy<Value = Issuer> {
    "[!-~][ -~]{0,11}".prop_map(|s| Issuer::parse(&s).unwrap())
}
pub(crate) fn any_card_number() -> impl Strategy<Value = CardNumber> {
    "[A-Za-z0-9]{9}".prop_map(|s| CardNumber::parse(&s).unwrap())
}
pub(crate) fn any_nation() -> impl Strategy<Value = Nation> {
    prop_oneof![1u8..=56, Just(97u8), Just(98u8)].prop_map(|c| Nation::new(c).unwrap())
}

#[test]
fn generation_versions() {
    assert_eq!(Generation::Gen3.spec_version(), "3.00");
    assert_eq!(Generation::Gen2.to_string(), "gen2");
    let v = SpecVersion::parse("2.00").unwrap();
    assert_eq!(v.generation(), Some(Generation::Gen2));
    assert_eq!(v.to_value(), b"2.00".to_vec());
    let old = SpecVersion::from_value(b"1.0\0").unwrap();
    assert_eq!(old.as_str(), "1.0");
    assert_eq!(old.generation(), None);
}

#[test]
fn sex_codes() {
    assert_eq!(Sex::parse("1"), Ok(Sex::Male));
    assert_eq!(Sex::parse("2"), Ok(Sex::Female));
    assert_eq!(Sex::from_value(b"2"), Ok(Sex::Female));
    assert_eq!(Sex::parse("M").map_err(|e| e.field), Err(Field::Sex));
    assert!(matches!(
        Sex::from_value(b"9"),
        Err(DecodeError::Invalid { field: Field::Sex, rule: Rule::NotAllowed { .. } })
    ));
}

#[test]
fn nation_codes() {
    for ok in [1u8, 56, 97, 98] {
        assert_eq!(Nation::new(ok).map(|n| n.code()), Ok(ok));
    }
    assert_eq!(Nation::parse("98").map(|n| n.code()), Ok(98));
    assert!(Nation::parse("300").is_err());
    assert!(Nation::from_value(&[0]).is_err());
    assert_eq!(Nation::from_value(&[1]).map(|n| n.code()), Ok(1));
}

#[test]
fn ascii_values() {
    let i = Issuer::parse("ISS1").unwrap();
    assert_eq!(i.to_value(), b"ISS1\0\0\0\0\0\0\0\0".to_vec());
    assert_eq!(Issuer::from_value(&i.to_value()), Ok(i));
    let n = CardNumber::parse("X00000019").unwrap();
    assert_eq!(n.to_value(), b"X00000019".to_vec());
    assert!(matches!(
        CardNumber::from_value(b"X0000001\0"),
        Err(DecodeError::Invalid { field: Field::CardNumber, rule: Rule::WrongLength { expected: 9 } })
    ));
    assert_eq!(CardType::parse("3").map(|t| t.to_string()), Ok("3".to_owned()));
}

proptest! {
    #[test]
    fn card_type_round_trip(t in any_card_type()) {
        prop_assert_eq!(CardType::from_value(&t.to_value()), Ok(t));
    }

    #[test]
    fn spec_version_round_trip(v in any_spec_version()) {
        prop_assert_eq!(SpecVersion::from_value(&v.to_value()), Ok(v.clone()));
        prop_assert_eq!(SpecVersion::parse(v.as_str()), Ok(v));
    }

    #[test]
    fn issuer_round_trip(i in any_issuer()) {
        let v = i.to_value();
        prop_assert_eq!(v.len(), Issuer::LEN);
        prop_assert_eq!(Issuer::from_value(&v), Ok(i));
    }

    #[test]
    fn card_number_round_trip(n in any_card_number()) {
        prop_assert_eq!(CardNumber::from_value(&n.to_value()), Ok(n));
    }

    #[test]
    fn sex_round_trip(male in any::<bool>()) {
        let s = if male { Sex::Male } else { Sex::Female };
        prop_assert_eq!(Sex::from_value(&s.to_value()), Ok(s));
        prop_assert_eq!(Sex::parse(&s.to_string()), Ok(s));
    }

    #[test]
    fn nation_round_trip(n in any_nation()) {
        prop_assert_eq!(Nation::from_value(&n.to_value()), Ok(n));
        prop_assert_eq!(Nation::parse(&n.to_string()), Ok(n));
    }

    #[test]
    fn nation_accepts_exactly_the_table(code in any::<u8>()) {
        let ok = (1..=56).contains(&code) || code == 97 || code == 98;
        prop_assert_eq!(Nation::new(code).is_ok(), ok);
    }
}
