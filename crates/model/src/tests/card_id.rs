use super::super::codec::tests::any_region;
use super::*;
use proptest::prelude::*;

pub(crate) fn any_card_id() -> impl Strategy<Value = CardId> {
    (any_region(), any::<[u8; 8]>()).prop_map(|(r, s)| CardId::new(r, s))
}

#[test]
fn layout() {
    let bytes = hex::decode("110100D15600000501020304050607FF").unwrap();
    let id = CardId::from_bytes(&bytes).unwrap();
    assert_eq!(id.region().as_str(), "110100");
    assert_eq!(id.serial(), [1, 2, 3, 4, 5, 6, 7, 0xFF]);
    assert_eq!(id.last8(), id.serial());
    assert_eq!(id.to_hex(), "110100D15600000501020304050607FF");
    assert_eq!(id.to_string(), id.to_hex());
    assert_eq!(CardId::parse_hex("110100d15600000501020304050607ff"), Ok(id));
}

#[test]
fn bad_layouts() {
    assert_eq!(
        CardId::from_bytes(&[0x11; 15]),
        Err(DecodeError::WrongLength { field: Field::CardId, expected: 16, found: 15 })
    );
    let mut b = hex::decode("110100D15600000501020304050607FF").unwrap();
    b[4] = 0x57;
    assert!(matches!(CardId::from_bytes(&b), Err(DecodeError::BadLayout { field: Field::CardId, .. })));
    b[4] = 0x56;
    b[0] = 0x1A;
    assert_eq!(CardId::from_bytes(&b), Err(DecodeError::BadBcd { field: Field::Region }));
    assert_eq!(CardId::parse_hex("11").map_err(|e| e.field), Err(Field::CardId));
}

proptest! {
    #[test]
    fn card_id_round_trip(id in any_card_id()) {
        prop_assert_eq!(CardId::from_bytes(id.as_bytes()), Ok(id));
        prop_assert_eq!(CardId::parse_hex(&id.to_hex()), Ok(id));
        prop_assert_eq!(&id.as_bytes()[8..], &id.last8()[..]);
        prop_assert_eq!(CardId::new(id.region(), id.serial()), id);
    }
}
