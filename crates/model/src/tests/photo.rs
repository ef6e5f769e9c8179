use super::*;
use proptest::prelude::*;

/// A JPEG-shaped byte string of `len` bytes (at least 4).
pub(crate) fn jpeg(len: usize) -> Vec<u8> {
    let mut v = vec![0x11; len];
    v[..2].copy_from_slice(&[0xFF, 0xD8]);
    v[len - 2..].copy_from_slice(&[0xFF, 0xD9]);
    v
}

pub(crate) fn any_photo() -> impl Strategy<Value = Photo> {
    proptest::collection::vec(any::<u8>(), 0..300).prop_map(|mid| {
        let mut v = vec![0xFF, 0xD8];
        v.extend(mid);
        v.extend([0xFF, 0xD9]);
        Photo::new(v).unwrap()
    })
}

#[test]
fn limits() {
    assert!(Photo::new(jpeg(PHOTO_MAX_LEN)).is_ok());
    assert_eq!(Photo::new(jpeg(8191)), Err(ValidationError::new(Field::Photo, Rule::PhotoTooLarge { len: 8191 })));
    assert_eq!(Photo::new(b"GIF89a".to_vec()), Err(ValidationError::new(Field::Photo, Rule::NotJpeg)));
    assert_eq!(Photo::new(vec![0xFF, 0xD8, 0xD9]), Err(ValidationError::new(Field::Photo, Rule::NotJpeg)));
    assert_eq!(Photo::new(Vec::new()), Err(ValidationError::new(Field::Photo, Rule::Empty)));
}

#[test]
fn file_layout() {
    let p = Photo::new(jpeg(300)).unwrap();
    let f = p.to_file_bytes();
    assert_eq!(&f[..2], &[0x01, 0x2C]);
    assert_eq!(f.len(), 302);
    assert_eq!(Photo::file_len_from_header([0x01, 0x2C]), Some(302));
    // The whole 8192-byte file, padded with 00.
    let mut file = f.clone();
    file.resize(PHOTO_FILE_SIZE, 0);
    assert_eq!(Photo::from_file_bytes(&file), Some(p.clone()));
    let full = Photo::new(jpeg(PHOTO_MAX_LEN)).unwrap();
    assert_eq!(full.to_file_bytes().len(), PHOTO_FILE_SIZE);
    assert_eq!(Photo::from_file_bytes(&full.to_file_bytes()), Some(full));
}

#[test]
fn no_photo() {
    assert_eq!(Photo::from_file_bytes(&[0u8; PHOTO_FILE_SIZE]), None);
    assert_eq!(Photo::from_file_bytes(&[0xFF; PHOTO_FILE_SIZE]), None);
    assert_eq!(Photo::from_file_bytes(&[]), None);
    assert_eq!(Photo::from_file_bytes(&[0x00]), None);
    let mut f = Photo::new(jpeg(100)).unwrap().to_file_bytes();
    assert_eq!(Photo::from_file_bytes(&f[..101]), None);
    f[2] = 0x00;
    assert_eq!(Photo::from_file_bytes(&f), None);
    let mut big = vec![0x1F, 0xFF];
    big.extend(jpeg(8191));
    assert_eq!(Photo::from_file_bytes(&big), None);
    assert_eq!(Photo::file_len_from_header([0x1F, 0xFF]), None);
    assert_eq!(Photo::file_len_from_header([0, 0]), None);
}

#[test]
fn debug_is_short() {
    let p = Photo::new(jpeg(10)).unwrap();
    assert_eq!(format!("{p:?}"), "Photo(10 bytes)");
}

proptest! {
    #[test]
    fn photo_file_round_trip(p in any_photo(), pad in 0usize..10) {
        let mut f = p.to_file_bytes();
        prop_assert_eq!(f.len(), 2 + p.len());
        f.extend(std::iter::repeat_n(0xAA, pad));
        prop_assert_eq!(Photo::from_file_bytes(&f), Some(p));
    }

    #[test]
    fn from_file_bytes_never_panics(f in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Some(p) = Photo::from_file_bytes(&f) {
            prop_assert_eq!(&f[..2 + p.len()], &p.to_file_bytes()[..]);
        }
    }
}
