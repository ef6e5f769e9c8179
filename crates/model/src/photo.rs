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
#[path = "tests/photo.rs"]
pub(crate) mod tests;
