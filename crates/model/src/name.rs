//! The holder's name: GBK text split over EF06 tags 09 (30 bytes) and 4E (20 bytes).

use std::fmt;

use encoding_rs::{EncoderResult, GBK};

use super::codec::{is_unwritten, strip_padding};
use super::error::{DecodeError, Field, Rule, ValidationError};

/// Length of the name record, tag 09.
pub const NAME_LEN: usize = 30;
/// Length of the name extension record, tag 4E.
pub const NAME_EXT_LEN: usize = 20;
/// The longest name in GBK bytes, both records together.
pub const NAME_MAX_BYTES: usize = NAME_LEN + NAME_EXT_LEN;

/// A holder's name that GBK represents exactly and that fits tags 09 and 4E.
///
/// It is non-empty and not only white space, has no control characters (they would
/// not survive the card's `00` padding), and is at most 50 GBK bytes, split so that
/// the part after the last character boundary at or before byte 30 fits in 20 bytes.
/// No character is ever replaced by a substitute or a numeric reference.
///
/// A name read from a card keeps the split the card holds (see
/// [`Name::from_records`]), so that a tag 09 and a tag 4E left by different writes
/// show.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name {
    /// The name as Unicode text.
    text: String,
    /// Its GBK bytes.
    gbk: Vec<u8>,
    /// How many of the GBK bytes go to tag 09 (for a name read from a card, how many
    /// tag 09 holds).
    split: usize,
}

impl Name {
    /// Checks a name given as UTF-8 text and computes its GBK form.
    pub fn new(text: &str) -> Result<Name, ValidationError> {
        let (gbk, split) = Name::encode(text)?;
        Ok(Name { text: text.to_owned(), gbk, split })
    }

    /// Checks a name and answers its GBK bytes and how many of them go to tag 09.
    fn encode(text: &str) -> Result<(Vec<u8>, usize), ValidationError> {
        let err = |rule| ValidationError::new(Field::Name, rule);
        if text.trim().is_empty() {
            return Err(err(Rule::Empty));
        }
        let mut gbk = Vec::with_capacity(text.len());
        let mut split = 0;
        // One encoder for all the characters, into a buffer on the stack:
        // `Encoding::encode` per character made an encoder and a vector each.
        // GBK's encoder keeps no state between characters.
        let mut encoder = GBK.new_encoder();
        let (mut utf8, mut bytes) = ([0u8; 4], [0u8; 4]);
        for ch in text.chars() {
            if ch.is_control() {
                return Err(err(Rule::ControlCharacter { ch }));
            }
            let (result, _, written) =
                encoder.encode_from_utf8_without_replacement(ch.encode_utf8(&mut utf8), &mut bytes, false);
            if result != EncoderResult::InputEmpty || written == 0 {
                return Err(err(Rule::NotRepresentableInGbk { ch }));
            }
            gbk.extend_from_slice(&bytes[..written]);
            if gbk.len() <= NAME_LEN {
                split = gbk.len();
            }
        }
        if gbk.len() > NAME_MAX_BYTES {
            return Err(err(Rule::NameTooLong { bytes: gbk.len() }));
        }
        let rest = gbk.len() - split;
        if rest > NAME_EXT_LEN {
            return Err(err(Rule::NameExtensionTooLong { rest }));
        }
        Ok((gbk, split))
    }

    /// The name as Unicode text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The name's GBK bytes, unsplit and unpadded.
    pub fn gbk_bytes(&self) -> &[u8] {
        &self.gbk
    }

    /// How many GBK bytes tag 09 holds (padding stripped); the rest are in tag 4E.
    pub fn name_record_len(&self) -> usize {
        self.split
    }

    /// How many GBK bytes tag 4E holds (padding stripped); 0 without an extension.
    pub fn extension_len(&self) -> usize {
        self.gbk.len().saturating_sub(self.split)
    }

    /// The two record values: tag 09 (the GBK bytes up to the last character boundary
    /// at or before byte 30) and tag 4E (the rest), each right-padded with `00`. The
    /// extension is all `00` when the name fits in 30 bytes.
    pub fn split_gbk(&self) -> ([u8; NAME_LEN], [u8; NAME_EXT_LEN]) {
        let mut first = [0u8; NAME_LEN];
        let mut ext = [0u8; NAME_EXT_LEN];
        let (head, tail) = self.gbk.split_at(self.split.min(self.gbk.len()));
        for (d, s) in first.iter_mut().zip(head) {
            *d = *s;
        }
        for (d, s) in ext.iter_mut().zip(tail) {
            *d = *s;
        }
        (first, ext)
    }

    /// Joins the values of tags 09 and 4E read from a card (trailing `00`/`FF` stripped
    /// from each) and decodes them as GBK, strictly: malformed bytes, or bytes that
    /// are not what [`Name::new`] would write (such as four-byte GB 18030 sequences),
    /// are an error. `Ok(None)` means the name is unwritten. The name keeps the split
    /// as read: [`name_record_len`](Self::name_record_len) is what tag 09 holds.
    pub fn from_records(name: &[u8], extension: &[u8]) -> Result<Option<Name>, DecodeError> {
        if is_unwritten(name) {
            return if is_unwritten(extension) { Ok(None) } else { Err(DecodeError::OrphanNameExtension) };
        }
        let ext = if is_unwritten(extension) { &[][..] } else { strip_padding(extension) };
        let head = strip_padding(name);
        let mut joined = head.to_vec();
        joined.extend_from_slice(ext);
        let invalid = DecodeError::InvalidGbk { field: Field::Name };
        let text = GBK.decode_without_bom_handling_and_without_replacement(&joined).ok_or(invalid)?;
        // Encoded again: what does not come back as the same bytes is not what
        // `new` would write.
        let (gbk, _) = Name::encode(&text).map_err(DecodeError::from_validation)?;
        if gbk != joined {
            return Err(invalid);
        }
        Ok(Some(Name { text: text.into_owned(), gbk, split: head.len() }))
    }
}

impl fmt::Display for Name {
    /// Shows the name as Unicode text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
#[path = "tests/name.rs"]
pub(crate) mod tests;
