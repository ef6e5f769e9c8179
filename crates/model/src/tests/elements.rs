use super::*;
use proptest::prelude::*;

#[test]
fn tables() {
    let tags: Vec<u8> = EF05_ELEMENTS.iter().map(|e| e.tag).collect();
    assert_eq!(tags, [1, 2, 3, 4, 5, 6, 7]);
    let lens: Vec<usize> = EF05_ELEMENTS.iter().map(|e| e.len).collect();
    assert_eq!(lens, [16, 1, 4, 12, 4, 4, 9]);
    let tags: Vec<u8> = EF06_ELEMENTS.iter().map(|e| e.tag).collect();
    assert_eq!(tags, [0x08, 0x09, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D]);
    let lens: Vec<usize> = EF06_ELEMENTS.iter().map(|e| e.len).collect();
    assert_eq!(lens, [18, 30, 20, 1, 1, 3, 4]);
    for table in [&EF05_ELEMENTS, &EF06_ELEMENTS] {
        for (i, e) in table.iter().enumerate() {
            assert_eq!(usize::from(e.record_number), i + 1);
            assert_eq!(e.writable, e.tag != TAG_CARD_ID);
            assert_eq!(ElementSpec::by_tag(e.tag), Some(e));
            assert_eq!(ElementSpec::find(e.file, e.tag), Some(e));
        }
    }
    assert_eq!(ElementSpec::find(FileId::Ef05, TAG_SSN), None);
    assert_eq!(ElementSpec::by_field(Field::Name).map(|e| e.tag), Some(TAG_NAME));
    assert_eq!(ElementSpec::by_field(Field::Photo), None);
    assert_eq!(FileId::Ef06.sfi(), 6);
    assert_eq!((SFI_EF05, SFI_EF07, SFI_EF08), (5, 7, 8));
}

#[test]
fn tlv_errors() {
    let sex = ElementSpec::by_tag(TAG_SEX).unwrap();
    assert_eq!(Record::parse_tlv(&[0x0A, 0x01, b'1'], sex), Ok(Record::new(0x0A, b"1".to_vec())));
    assert_eq!(
        Record::parse_tlv(&[0x0B, 0x01, b'1'], sex),
        Err(DecodeError::WrongTag { field: Field::Sex, expected: 0x0A, found: 0x0B })
    );
    assert_eq!(
        Record::parse_tlv(&[0x0A, 0x02, b'1', 0], sex),
        Err(DecodeError::WrongLength { field: Field::Sex, expected: 1, found: 2 })
    );
    assert_eq!(
        Record::parse_tlv(&[0x0A, 0x01], sex),
        Err(DecodeError::WrongLength { field: Field::Sex, expected: 3, found: 2 })
    );
    assert_eq!(
        Record::parse_tlv(&[0x0A], sex),
        Err(DecodeError::WrongLength { field: Field::Sex, expected: 3, found: 1 })
    );
    assert_eq!(
        Record::parse_tlv(&[0x0A, 0x01, b'1', 0x90], sex),
        Err(DecodeError::WrongLength { field: Field::Sex, expected: 3, found: 4 })
    );
    let r = Record::unwritten(sex);
    assert!(r.is_unwritten());
    assert_eq!(r.to_tlv(), vec![0x0A, 0x01, 0x00]);
}

proptest! {
    #[test]
    fn tlv_round_trip(idx in 0usize..14, seed in any::<u8>()) {
        let spec = EF05_ELEMENTS.iter().chain(EF06_ELEMENTS.iter()).nth(idx).unwrap();
        let value: Vec<u8> = (0..spec.len).map(|i| seed.wrapping_add(i as u8)).collect();
        let r = Record::new(spec.tag, value);
        let tlv = r.to_tlv();
        prop_assert_eq!(tlv.len(), spec.tlv_len());
        prop_assert_eq!(Record::parse_tlv(&tlv, spec), Ok(r));
    }

    #[test]
    fn parse_tlv_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), idx in 0usize..14) {
        let spec = EF05_ELEMENTS.iter().chain(EF06_ELEMENTS.iter()).nth(idx).unwrap();
        if let Ok(r) = Record::parse_tlv(&bytes, spec) {
            prop_assert_eq!(r.to_tlv(), bytes);
        }
    }
}
