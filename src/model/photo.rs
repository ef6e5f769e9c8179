//! The holder's photo in EF08: a 2-byte big-endian length L, then L bytes of JPEG.

use std::fmt;

use super::error::{Field, Rule, ValidationError};

/// The size of the transparent file EF08.
pub const PHOTO_FILE_SIZE: usize = 8192;
/// The longest JPEG EF08 holds (the file less its 2-byte length).
pub const PHOTO_MAX_LEN: usize = PHOTO_FILE_SIZE - 2;

/// A JPEG of 1 to 8190 bytes, from SOI `FF D8` to EOI `FF D9`, as EF08 holds it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Photo(Vec<u8>);

/// Whether `bytes` starts with SOI and ends with EOI (and holds both, not overlapping).
fn looks_like_jpeg(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9])
}

impl Photo {
    /// Checks a JPEG to be written.
    pub fn new(jpeg: Vec<u8>) -> Result<Photo, ValidationError> {
        let err = |rule| ValidationError::new(Field::Photo, rule);
        if jpeg.is_empty() {
            return Err(err(Rule::Empty));
        }
        if jpeg.len() > PHOTO_MAX_LEN {
            return Err(err(Rule::PhotoTooLarge { len: jpeg.len() }));
        }
        if !looks_like_jpeg(&jpeg) {
            return Err(err(Rule::NotJpeg));
        }
        Ok(Photo(jpeg))
    }

    /// The JPEG bytes alone (the D-Bus `photo` value).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Gives the JPEG bytes back.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The JPEG's length L in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a photo holds at least one byte. Present for the `len` idiom.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes written to EF08 from offset 0: L in 2 bytes big-endian, then the JPEG
    /// (2 + L bytes; the rest of the file is left as it is).
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let len = u16::try_from(self.0.len()).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(2 + self.0.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.0);
        out
    }

    /// Reads a photo from EF08's content (at least 2 + L bytes, usually the whole
    /// file). `None` means "no photo": L = 0, L > 8190, too few bytes, or no JPEG.
    pub fn from_file_bytes(file: &[u8]) -> Option<Photo> {
        let (header, rest) = file.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*header));
        if len == 0 || len > PHOTO_MAX_LEN {
            return None;
        }
        let jpeg = rest.get(..len)?;
        looks_like_jpeg(jpeg).then(|| Photo(jpeg.to_vec()))
    }

    /// How many bytes to read from EF08 to get the whole photo, given the first two
    /// bytes of the file; `None` if they announce no photo.
    pub fn file_len_from_header(header: [u8; 2]) -> Option<usize> {
        let len = usize::from(u16::from_be_bytes(header));
        (1..=PHOTO_MAX_LEN).contains(&len).then_some(2 + len)
    }
}

impl fmt::Debug for Photo {
    /// Shows the length only; the bytes are of no use in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Photo({} bytes)", self.0.len())
    }
}

#[cfg(test)]
pub(crate) mod tests {
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
}
