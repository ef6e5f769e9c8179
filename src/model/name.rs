//! The holder's name: GBK text split over EF06 tags 09 (30 bytes) and 4E (20 bytes).

use std::fmt;

use encoding_rs::GBK;

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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name {
    /// The name as Unicode text.
    text: String,
    /// Its GBK bytes.
    gbk: Vec<u8>,
    /// How many of the GBK bytes go to tag 09.
    split: usize,
}

impl Name {
    /// Checks a name given as UTF-8 text and computes its GBK form.
    pub fn new(text: &str) -> Result<Name, ValidationError> {
        let err = |rule| ValidationError::new(Field::Name, rule);
        if text.trim().is_empty() {
            return Err(err(Rule::Empty));
        }
        let mut gbk = Vec::with_capacity(text.len());
        let mut split = 0;
        let mut buf = [0u8; 4];
        for ch in text.chars() {
            if ch.is_control() {
                return Err(err(Rule::ControlCharacter { ch }));
            }
            let (bytes, _, unmappable) = GBK.encode(ch.encode_utf8(&mut buf));
            if unmappable || bytes.is_empty() {
                return Err(err(Rule::NotRepresentableInGbk { ch }));
            }
            gbk.extend_from_slice(&bytes);
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
        Ok(Name { text: text.to_owned(), gbk, split })
    }

    /// The name as Unicode text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The name's GBK bytes, unsplit and unpadded.
    pub fn gbk_bytes(&self) -> &[u8] {
        &self.gbk
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
    /// are an error. `Ok(None)` means the name is unwritten.
    pub fn from_records(name: &[u8], extension: &[u8]) -> Result<Option<Name>, DecodeError> {
        if is_unwritten(name) {
            return if is_unwritten(extension) { Ok(None) } else { Err(DecodeError::OrphanNameExtension) };
        }
        let ext = if is_unwritten(extension) { &[][..] } else { strip_padding(extension) };
        let mut joined = strip_padding(name).to_vec();
        joined.extend_from_slice(ext);
        let invalid = DecodeError::InvalidGbk { field: Field::Name };
        let text = GBK.decode_without_bom_handling_and_without_replacement(&joined).ok_or(invalid)?;
        let parsed = Name::new(&text).map_err(DecodeError::from_validation)?;
        if parsed.gbk != joined {
            return Err(invalid);
        }
        Ok(Some(parsed))
    }
}

impl fmt::Display for Name {
    /// Shows the name as Unicode text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Characters GBK holds: ASCII letters, common and rare CJK (龘, and 䶮 at FE9F),
    /// and the middle dot of transliterated names.
    const CHARS: &[char] = &['a', 'Z', 'm', ' ', '张', '王', '李', '赵', '龘', '犇', '鑫', '·', '䶮'];

    /// A name of characters from [`CHARS`] that fits the card.
    pub(crate) fn any_name() -> impl Strategy<Value = Name> {
        (
            proptest::sample::select(&CHARS[..4]).prop_filter("not space", |c| *c != ' '),
            proptest::collection::vec(proptest::sample::select(CHARS), 0..30),
        )
            .prop_filter_map("too long", |(first, rest)| {
                let s: String = std::iter::once(first).chain(rest).collect();
                Name::new(&s).ok()
            })
    }

    fn rule(s: &str) -> Rule {
        Name::new(s).map_err(|e| e.rule).err().unwrap()
    }

    #[test]
    fn chars_are_gbk() {
        for &c in CHARS.iter().filter(|&&c| c != ' ') {
            assert!(Name::new(&c.to_string()).is_ok(), "{c}");
        }
    }

    #[test]
    fn short_name() {
        let n = Name::new("张三").unwrap();
        assert_eq!(n.gbk_bytes(), &[0xD5, 0xC5, 0xC8, 0xFD]);
        let (a, b) = n.split_gbk();
        assert_eq!(&a[..4], n.gbk_bytes());
        assert!(a[4..].iter().all(|&x| x == 0));
        assert_eq!(b, [0u8; 20]);
        assert_eq!(Name::from_records(&a, &b), Ok(Some(n)));
    }

    #[test]
    fn long_name_splits_on_boundary() {
        // 29 ASCII bytes then CJK: the first CJK char would straddle byte 30.
        let s = format!("{}{}", "a".repeat(29), "张王李赵");
        let n = Name::new(&s).unwrap();
        let (a, b) = n.split_gbk();
        assert_eq!(a[29], 0);
        assert_eq!(&b[..8], &n.gbk_bytes()[29..]);
        assert_eq!(Name::from_records(&a, &b).unwrap().unwrap().as_str(), s);
        // 50 bytes of CJK: 30 then 20.
        let s = "张".repeat(25);
        let n = Name::new(&s).unwrap();
        let (a, b) = n.split_gbk();
        assert!(a.iter().chain(b.iter()).all(|&x| x != 0));
        assert_eq!(Name::from_records(&a, &b).unwrap().unwrap().as_str(), s);
    }

    #[test]
    fn name_rules() {
        assert_eq!(rule(""), Rule::Empty);
        assert_eq!(rule("  \u{3000}"), Rule::Empty);
        assert_eq!(rule("张\u{20000}"), Rule::NotRepresentableInGbk { ch: '\u{20000}' });
        assert_eq!(rule("a\0b"), Rule::ControlCharacter { ch: '\0' });
        assert_eq!(rule(&"张".repeat(26)), Rule::NameTooLong { bytes: 52 });
        assert_eq!(rule(&"a".repeat(51)), Rule::NameTooLong { bytes: 51 });
        // 29 + 2 + 19 = 50 bytes, but 21 of them fall after the boundary at 29.
        let s = format!("{}张{}", "a".repeat(29), "b".repeat(19));
        assert_eq!(rule(&s), Rule::NameExtensionTooLong { rest: 21 });
    }

    #[test]
    fn strict_decoding() {
        let mut a = [0u8; 30];
        // A lone lead byte.
        a[0] = 0xD5;
        assert_eq!(Name::from_records(&a, &[0; 20]), Err(DecodeError::InvalidGbk { field: Field::Name }));
        // A four-byte GB 18030 sequence (U+20000) is not GBK.
        a[..4].copy_from_slice(&[0x95, 0x32, 0x82, 0x36]);
        assert_eq!(
            Name::from_records(&a, &[0; 20]),
            Err(DecodeError::Invalid { field: Field::Name, rule: Rule::NotRepresentableInGbk { ch: '\u{20000}' } })
        );
        // A GBK pair that decodes but is not what the encoder writes for its char
        // (A2E3 decodes to the euro sign, which GBK writes as 80).
        a[..4].copy_from_slice(&[0xA2, 0xE3, 0x00, 0x00]);
        assert_eq!(Name::from_records(&a, &[0; 20]), Err(DecodeError::InvalidGbk { field: Field::Name }));
        assert_eq!(Name::from_records(&[0; 30], &[0xFF; 20]), Ok(None));
        assert_eq!(
            Name::from_records(&[0; 30], b"abc\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
            Err(DecodeError::OrphanNameExtension)
        );
        // FF padding is stripped too.
        let mut a = [0xFFu8; 30];
        a[..2].copy_from_slice(&[0xC0, 0xEE]);
        assert_eq!(Name::from_records(&a, &[0xFF; 20]).unwrap().unwrap().as_str(), "李");
    }

    proptest! {
        #[test]
        fn split_join_round_trip(n in any_name()) {
            let (a, b) = n.split_gbk();
            let head = strip_padding(&a);
            let tail = strip_padding(&b);
            // Each part decodes on its own: the split is on a character boundary.
            let h = GBK.decode_without_bom_handling_and_without_replacement(head);
            let t = GBK.decode_without_bom_handling_and_without_replacement(tail);
            prop_assert!(h.is_some() && t.is_some());
            let (h, t) = (h.unwrap_or_default(), t.unwrap_or_default());
            let whole = format!("{h}{t}");
            prop_assert_eq!(whole.as_str(), n.as_str());
            prop_assert!(head.len() <= NAME_LEN && tail.len() <= NAME_EXT_LEN);
            // The split is at the last boundary at or before byte 30.
            if !tail.is_empty() {
                let next = n.as_str().chars().nth(h.chars().count());
                let next_len = next.map_or(0, |c| if c.is_ascii() { 1 } else { 2 });
                prop_assert!(head.len() + next_len > NAME_LEN);
            }
            prop_assert_eq!(Name::from_records(&a, &b), Ok(Some(n)));
        }

        #[test]
        fn decoding_never_panics(a in proptest::collection::vec(any::<u8>(), 30),
                                 b in proptest::collection::vec(any::<u8>(), 20)) {
            if let Ok(Some(n)) = Name::from_records(&a, &b) {
                let (x, y) = n.split_gbk();
                prop_assert_eq!(Name::from_records(&x, &y), Ok(Some(n)));
            }
        }
    }
}
