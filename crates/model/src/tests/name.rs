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

/// Each character encodes as `Encoding::encode` has it, or is refused
/// where that one would substitute: the whole BMP and a few beyond.
#[test]
fn each_character_encodes_as_encoding_rs_has_it() {
    let astral = ['\u{10000}', '\u{20000}', '\u{2A6D6}', '\u{10FFFF}'];
    for ch in ('\u{0}'..='\u{FFFF}').chain(astral) {
        let text = format!("a{ch}");
        let (bytes, _, unmappable) = GBK.encode(&text);
        match Name::new(&text) {
            Ok(name) => assert_eq!(name.gbk_bytes(), &bytes[..], "U+{:04X}", u32::from(ch)),
            Err(e) if ch.is_control() => assert_eq!(e.rule, Rule::ControlCharacter { ch }),
            Err(e) => {
                assert!(unmappable, "U+{:04X} is refused: {e}", u32::from(ch));
                assert_eq!(e.rule, Rule::NotRepresentableInGbk { ch });
            }
        }
    }
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
