use super::*;
use proptest::prelude::*;

fn pin(s: &str) -> Pin {
    Pin::parse(s, Field::Pin).unwrap()
}

#[test]
fn bcd_forms() {
    assert_eq!(&pin("12345").to_bcd()[..], &[0x12, 0x34, 0x5F]);
    assert_eq!(&pin("123456").to_bcd()[..], &[0x12, 0x34, 0x56]);
    assert_eq!(&pin("135790").to_bcd()[..], &[0x13, 0x57, 0x90]);
    assert_eq!(&pin("0000").to_bcd()[..], &[0x00, 0x00]);
    assert_eq!(Pin::from_bcd(&[0x12, 0x34, 0x5F]), Some(pin("12345")));
    assert_eq!(Pin::from_bcd(&[0x12, 0x34]), Some(pin("1234")));
    assert_eq!(Pin::from_bcd(&[0x12, 0x3F]), None, "3 digits");
    assert_eq!(Pin::from_bcd(&[0x12, 0xF4, 0x56]), None, "F inside");
    assert_eq!(Pin::from_bcd(&[0x12, 0x34, 0xFF]), None, "two F");
    assert_eq!(Pin::from_bcd(&[0x12, 0x34, 0x5A]), None, "A nibble");
    assert_eq!(Pin::from_bcd(&[0x12; 7]), None, "14 digits");
    assert_eq!(Pin::from_bcd(&[]), None);
}

#[test]
fn debug_hides_digits() {
    let p = pin("135790");
    let shown = format!("{p:?} {:?}", PinPolicy::reference());
    assert!(shown.contains("Pin(***)"));
    for d in ["135790", "1357", "123456", "1", "3"] {
        assert!(!shown.contains(d), "{shown}");
    }
}

#[test]
fn error_messages_hide_digits() {
    let policy = PinPolicy::reference();
    for s in ["12a456", "123", "1234567890123", "123456", "111111", "987654", "13579"] {
        let r = Pin::parse(s, Field::NewPin).and_then(|p| policy.check_new_pin(&p, Field::NewPin));
        let msg = r.err().unwrap().to_string();
        assert!(msg.starts_with("new_pin: "), "{msg}");
        assert!(!msg.contains(s), "{msg}");
    }
}

#[test]
fn acceptable_new_pins() {
    let policy = PinPolicy::reference();
    for s in ["135790", "000001", "123457", "112233", "654320", "901234"] {
        assert_eq!(policy.check_new_pin(&pin(s), Field::NewPin), Ok(()), "{s}");
    }
    let p = PinPolicy { length: 6, initial: pin("888888") };
    assert_eq!(p.check_new_pin(&pin("123450"), Field::NewPin), Ok(()));
}

proptest! {
    #[test]
    fn pin_bcd_round_trip(s in "[0-9]{4,12}") {
        let p = pin(&s);
        let b = p.to_bcd();
        prop_assert_eq!(b.len(), s.len().div_ceil(2));
        let shown = hex::encode_upper(&b[..]);
        prop_assert_eq!(shown.trim_end_matches('F'), s.as_str());
        prop_assert_eq!(Pin::from_bcd(&b), Some(p));
    }

    #[test]
    fn from_bcd_is_strict(bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
        if let Some(p) = Pin::from_bcd(&bytes) {
            prop_assert_eq!(&p.to_bcd()[..], &bytes[..]);
        }
    }

    #[test]
    fn parse_accepts_exactly_4_to_12_digits(s in "[0-9a]{0,14}") {
        let ok = s.bytes().all(|b| b.is_ascii_digit()) && (4..=12).contains(&s.len());
        prop_assert_eq!(Pin::parse(&s, Field::Pin).is_ok(), ok);
    }
}
