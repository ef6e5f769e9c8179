use zeroize::Zeroizing;

use super::*;

#[test]
fn requests_never_show_a_pin() {
    let pin = |digits: &str| Pin::parse(digits, sscard_model::Field::Pin).unwrap();
    let requests = [
        Request::VerifyPin { pin: PinEntry::Host(pin("472913")), allow_last_try: false },
        Request::ChangePin { pins: PinEntry::Host((pin("472913"), pin("580264"))), allow_last_try: true },
        Request::ReloadPin { new_pin: pin("472913") },
        Request::Activate {
            ssn: Ssn::parse("11010519491231002X").unwrap(),
            pins: PinEntry::Host((pin("472913"), pin("580264"))),
            allow_last_try: false,
        },
    ];
    let entry = PinEntry::Host(pin("472913"));
    assert!(!format!("{entry:?} {entry:#?}").contains("472913"));
    for request in &requests {
        let shown = format!("{request:?} {request:#?}");
        for secret in ["472913", "580264", "11010519491231002X"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(format!("{request:?}"), request.method());
    }
}

#[test]
fn the_config_never_shows_the_salt() {
    let config = ServiceConfig { audit_salt: Zeroizing::new("very secret salt".into()), ..ServiceConfig::default() };
    assert!(!format!("{config:?}").contains("very secret salt"));
}

#[test]
fn card_hashes_are_salted_and_prefer_the_card_number() {
    let id = sscard_model::CardId::new(
        sscard_model::RegionCode::parse("110100", sscard_model::Field::Region).expect("region"),
        [1, 2, 3, 4, 5, 6, 7, 8],
    );
    let by_number = card_hash("salt", Some("X00000019"), Some(&id)).expect("hash");
    assert_eq!(by_number.len(), 64);
    assert_ne!(Some(by_number.clone()), card_hash("other salt", Some("X00000019"), Some(&id)));
    assert_ne!(Some(by_number.clone()), card_hash("salt", None, Some(&id)));
    assert!(!by_number.contains("X00000019"));
    assert_eq!(card_hash("salt", None, None), None);
}

/// Every error name, and every detail key, is documented in the
/// contract's table of errors (docs/interfaces.md, "Errors").
#[test]
fn every_error_name_and_detail_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/interfaces.md"))
        .expect("interfaces.md");
    let errors = &doc[doc.find("### Errors").expect("an Errors section")..];
    for name in ErrorName::ALL {
        assert!(errors.contains(&format!("| `{name}` |")), "{name} is not in the table of errors");
    }
    for key in sscard_contract::error::detail::ALL {
        assert!(errors.contains(&format!("| `{key}` |")), "the detail {key} is not documented");
    }
}
