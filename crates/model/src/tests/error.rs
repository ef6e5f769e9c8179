use super::*;

#[test]
fn field_keys_round_trip() {
    for f in Field::ALL {
        assert_eq!(Field::from_key(&f.to_string()), Some(f));
    }
    assert_eq!(Field::BirthDate.to_string(), "birth_date");
    assert_eq!(Field::NewPin.to_string(), "new_pin");
    assert_eq!(Field::from_key("state"), None);
}

#[test]
fn messages_are_one_line() {
    let e = ValidationError::new(Field::Ssn, Rule::BadCheckCharacter { expected: 'X' });
    assert_eq!(e.to_string(), "ssn: check character is wrong (expected X)");
    let e = ValidationError::new(Field::NewPin, Rule::PinLength { min: 6, max: 6 });
    assert_eq!(e.to_string(), "new_pin: must be 6 digits long");
    let e = ValidationError::new(Field::Pin, Rule::PinLength { min: 4, max: 12 });
    assert_eq!(e.to_string(), "pin: must be 4 to 12 digits long");
    let e = DecodeError::WrongTag { field: Field::Sex, expected: 0x0A, found: 0x0B };
    assert_eq!(e.to_string(), "sex on the card: tag 0B where 0A was expected");
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn pin_errors_never_echo_input() {
    let e = ValidationError::new(Field::Pin, Rule::NotRepresentableInGbk { ch: '7' });
    assert_eq!(e.to_string(), "pin: is not acceptable");
    let e = ValidationError::new(Field::NewPin, Rule::BadCheckCharacter { expected: '3' });
    assert!(!e.to_string().contains('3'));
}
