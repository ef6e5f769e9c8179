use super::*;
use proptest::prelude::*;

#[test]
fn one_byte_is_not_a_response() {
    assert_eq!(Response::parse(&[0x90]), Err(ResponseError::TooShort(1)));
    assert_eq!(Response::parse(&[0x90, 0]).map(|r| r.sw), Ok(StatusWord::Success));
}

proptest! {
    #[test]
    fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..600), sw in any::<u16>()) {
        let r = Response::new(data, StatusWord::from_u16(sw));
        prop_assert_eq!(Response::parse(&r.to_bytes()).unwrap(), r);
    }
}
