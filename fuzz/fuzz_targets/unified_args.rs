//! The national interface's argument strings (`docs/unified-interface.md`
//! sections 2 to 4) on arbitrary bytes: `pFileAddr`, `pWriteData` and
//! `pCardInfo`, each decoded as GBK and as UTF-8, parsed, and the accepted
//! addresses printed back with `read_output`. Nothing panics, and:
//!
//! - decoding refuses only with -14, naming the argument; encoding what was
//!   decoded (UTF-8) or printed (GBK) gives the same text back;
//! - an accepted `pFileAddr` is 1 to 16 groups of a known file with its own
//!   tags (none for EF08), and spelled back it is the text given (hex in
//!   either case);
//! - `read_output` of sample cards has one `$` per group and one `|` per
//!   field, and is itself a `pWriteData` the groups accept, carrying the
//!   sample's values;
//! - an accepted `pWriteData` reads back as written: the record it gives,
//!   printed with `read_output`, shows the values the caller wrote;
//! - errors are -14 or -20 (`pCardInfo`), -14 (`pFileAddr`), -14 or -23
//!   (`pWriteData`), and their messages are one line.
//!
//! The input is `pFileAddr NUL pWriteData NUL pCardInfo` (missing parts
//! are empty; further NULs belong to `pCardInfo`).
//!
//! `cargo +nightly fuzz run unified_args -- -dict=fuzz/unified.dict` from
//! the repository root.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sscard_model::{ElementSpec, Field, FileId};
use sscard::NationalError;
use sscard::format::{
    CardValues, Encoding, FileGroup, RecordValue, UnifiedFile, bas_line, parse_card_info, parse_file_addr,
    parse_write_data, read_output, wants_photo,
};

const CARD_ID: &str = "110100D1560000050102030405060708";
const CARD_NUMBER: &str = "X00000019";
const TAG_NAME: u8 = 0x09;
const TAG_NAME_EXT: u8 = 0x4E;

/// A card as `ReadCard` answers it, with `name` as the holder's name.
fn sample(name: &str) -> CardValues {
    let mut card = CardValues::default();
    for (key, value) in [
        ("card_id", CARD_ID),
        ("region", "110100"),
        ("card_type", "3"),
        ("spec_version", "3.00"),
        ("issuer", "ORG1"),
        ("issue_date", "2024-01-02"),
        ("expiry_date", "2034-01-02"),
        ("card_number", CARD_NUMBER),
        ("ssn", "11010519491231002X"),
        ("name", name),
        ("sex", "2"),
        ("birthplace", "110105"),
        ("birth_date", "1949-12-31"),
        ("atr_historical", "7300C0"),
        ("terminal_number", "440300000001"),
    ] {
        card.text.insert(key.into(), value.into());
    }
    card.nation = Some(1);
    card.photo = Some(vec![0xFF, 0xD8, 0xFF, 0xD9]);
    card
}

/// The error is one of `codes`, and its message is one line.
fn check_failure(e: &NationalError, codes: &[i32], what: &str) {
    assert!(codes.contains(&e.code.value()), "{what}: code {} ({e:?})", e.code.value());
    let message = e.message();
    assert!(!message.contains('\n'), "{what}: message of more than one line: {message:?}");
}

/// The spelling of a file name that `parse_file_addr` accepts for `file`.
fn names_file(name: &str, file: UnifiedFile) -> bool {
    let upper = name.to_ascii_uppercase();
    let ef = match file {
        UnifiedFile::Records(FileId::Ef05) => "EF05",
        UnifiedFile::Records(FileId::Ef06) => "EF06",
        UnifiedFile::Photo => "EF08",
    };
    upper == format!("SSSE{ef}") || upper == format!("3F00{ef}")
}

/// The fields of each group of an output-shaped string (`FILE|v|…|$…`),
/// the file name first.
fn groups_of(text: &str) -> Vec<Vec<&str>> {
    let body = text.strip_suffix('$').unwrap_or(text);
    body.split('$').map(|g| g.strip_suffix('|').unwrap_or(g).split('|').collect()).collect()
}

/// How often each element tag is named, over all record groups.
fn tag_counts(groups: &[FileGroup]) -> BTreeMap<u8, usize> {
    let mut counts = BTreeMap::new();
    for group in groups {
        for tag in &group.tags {
            *counts.entry(*tag).or_insert(0) += 1;
        }
    }
    counts
}

fn check_file_addr(addr: &str, groups: &[FileGroup]) {
    assert!(!groups.is_empty() && groups.len() <= 16, "{addr:?}: {} groups", groups.len());
    let mut spelled = String::new();
    for group in groups {
        assert!(names_file(&group.name, group.file), "{addr:?}: {group:?}");
        match group.file {
            UnifiedFile::Records(id) => {
                assert!(!group.tags.is_empty(), "{addr:?}: {group:?} has no tags");
                for tag in &group.tags {
                    let spec = ElementSpec::find(id, *tag);
                    assert!(spec.is_some_and(|s| s.file == id && s.tag == *tag), "{addr:?}: {tag:02X} not in {id}");
                }
            }
            UnifiedFile::Photo => assert!(group.tags.is_empty(), "{addr:?}: EF08 with tags"),
        }
        spelled.push_str(&group.name);
        spelled.push('|');
        for tag in &group.tags {
            spelled.push_str(&format!("{tag:02X}|"));
        }
        spelled.push('$');
    }
    assert!(spelled.eq_ignore_ascii_case(addr), "{addr:?} parsed as {spelled:?}");
    assert_eq!(wants_photo(groups), groups.iter().any(|g| g.file == UnifiedFile::Photo));
}

/// `read_output` of a sample card: its shape, its encodings, and that it is
/// a `pWriteData` the groups take back with the card's values.
fn check_read_output(groups: &[FileGroup], card: &CardValues) {
    let out = read_output(groups, card);
    assert_eq!(out.matches('$').count(), groups.len(), "{out:?}");
    let fields: usize = groups.iter().map(|g| 1 + if g.file == UnifiedFile::Photo { 1 } else { g.tags.len() }).sum();
    assert_eq!(out.matches('|').count(), fields, "{out:?}");
    for encoding in [Encoding::Gbk, Encoding::Utf8] {
        let bytes = encoding.encode(&out).expect("the samples' output encodes");
        assert_eq!(encoding.decode(&bytes, "output").ok().as_deref(), Some(out.as_str()), "{encoding:?}");
    }
    for (group, printed) in groups.iter().zip(groups_of(&out)) {
        assert_eq!(printed[0], group.name, "{out:?}");
    }

    let counts = tag_counts(groups);
    let named = |tag| counts.get(&tag).copied().unwrap_or(0);
    let record = match parse_write_data(&out, groups) {
        Ok(record) => record,
        Err(e) => {
            // The extension alone cannot be written.
            assert!(named(TAG_NAME_EXT) > 0 && named(TAG_NAME) == 0, "{out:?}: {e:?}");
            check_failure(&e, &[-23], "pWriteData of read_output");
            return;
        }
    };
    for (key, value) in &record {
        match value {
            RecordValue::Str(v) if *key == "name" => {
                let name = card.text.get("name").map_or("", String::as_str);
                if named(TAG_NAME_EXT) > 0 {
                    assert_eq!(v, name, "{out:?}");
                } else {
                    assert!(name.starts_with(v.as_str()), "{out:?}: {v:?}");
                }
            }
            RecordValue::Str(v) => assert_eq!(card.text.get(*key), Some(v), "{out:?}: {key}"),
            RecordValue::Byte(n) => assert_eq!((*key, Some(*n)), ("nation", card.nation), "{out:?}"),
            RecordValue::Bytes(b) => assert_eq!((*key, Some(b)), ("photo", card.photo.as_ref()), "{out:?}"),
        }
    }
}

/// An accepted `pWriteData` reads back as written.
fn check_write_data(write: &str, groups: &[FileGroup], record: &[(&'static str, RecordValue)]) {
    let mut keys = BTreeMap::new();
    let mut card = CardValues::default();
    for (key, value) in record {
        *keys.entry(*key).or_insert(0) += 1;
        match value {
            RecordValue::Str(v) => {
                if key.ends_with("_date") {
                    let b = v.as_bytes();
                    let digits =
                        b.len() == 10 && b.iter().enumerate().all(|(i, c)| matches!(i, 4 | 7) || c.is_ascii_digit());
                    assert!(digits && b[4] == b'-' && b[7] == b'-', "{write:?}: {key} = {v:?}");
                }
                card.text.insert((*key).to_owned(), v.clone());
            }
            RecordValue::Byte(n) => {
                assert_eq!(*key, "nation", "{write:?}");
                card.nation = Some(*n);
            }
            RecordValue::Bytes(b) => {
                assert_eq!(*key, "photo", "{write:?}");
                card.photo = Some(b.clone());
            }
        }
    }
    let counts = tag_counts(groups);
    let once = |key: &str| keys.get(key) == Some(&1);
    let printed = read_output(groups, &card);
    let (mut name, mut extension) = (None, None);
    for ((group, given), shown) in groups.iter().zip(groups_of(write)).zip(groups_of(&printed)) {
        assert_eq!(given.len(), shown.len(), "{write:?} read back as {printed:?}");
        let UnifiedFile::Records(id) = group.file else {
            if once("photo") {
                assert!(given[1].trim().eq_ignore_ascii_case(shown[1]), "{write:?} read back as {printed:?}");
            }
            continue;
        };
        for ((tag, given), shown) in group.tags.iter().zip(&given[1..]).zip(&shown[1..]) {
            let Some(spec) = ElementSpec::find(id, *tag) else { continue };
            match spec.field {
                Field::Name if counts.get(tag) == Some(&1) => {
                    if *tag == TAG_NAME {
                        name = Some(*shown);
                    } else {
                        extension = Some(*shown);
                    }
                }
                Field::Name => {}
                field if once(field.key()) => {
                    assert_eq!(given, shown, "{write:?} read back as {printed:?} ({})", field.key());
                }
                _ => {}
            }
        }
    }
    // The name comes back split where the card splits it, whole.
    if let (Some(name), Some(extension), Some(RecordValue::Str(written))) =
        (name, extension, record.iter().find(|(k, _)| *k == "name").map(|(_, v)| v))
    {
        assert_eq!(format!("{name}{extension}"), *written, "{write:?} read back as {printed:?}");
    }
}

fn check_card_info(info: &str) {
    let card = sample("张三");
    match parse_card_info(info) {
        Ok(arg) => {
            assert!(arg.card_id.len() == 32 && arg.card_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')));
            assert!(!arg.card_number.contains('|'), "{info:?}: {arg:?}");
            assert!(info.to_ascii_uppercase().contains(&arg.card_id), "{info:?}: {arg:?}");
            let same = arg.card_id == CARD_ID && arg.card_number == CARD_NUMBER;
            match card.check(&arg) {
                Ok(()) => assert!(same, "{info:?}"),
                Err(e) => {
                    assert!(!same, "{info:?}");
                    check_failure(&e, &[-22], "check");
                }
            }
        }
        Err(e) => check_failure(&e, &[-14, -20], "pCardInfo"),
    }
    let line = bas_line(&card, info);
    assert_eq!(line.matches('|').count(), 11 + info.matches('|').count(), "{line:?}");
    assert!(line.ends_with(&format!("|{info}|")), "{line:?}");
}

fn run(addr: &str, write: &str, info: &str) {
    check_card_info(info);
    let groups = match parse_file_addr(addr) {
        Ok(groups) => groups,
        Err(e) => return check_failure(&e, &[-14], "pFileAddr"),
    };
    check_file_addr(addr, &groups);
    check_read_output(&groups, &sample("张三"));
    // 16 two-byte characters: 30 bytes in tag 09, 2 in tag 4E.
    check_read_output(&groups, &sample(&"张".repeat(16)));
    match parse_write_data(write, &groups) {
        Ok(record) => check_write_data(write, &groups, &record),
        Err(e) => check_failure(&e, &[-14, -23], "pWriteData"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let (addr, write, info) =
        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let mut seen: Option<(String, String, String)> = None;
    for encoding in [Encoding::Gbk, Encoding::Utf8] {
        let decoded = [(addr, "pFileAddr"), (write, "pWriteData"), (info, "pCardInfo")].map(|(bytes, argument)| {
            let text = encoding.decode(bytes, argument);
            match &text {
                Ok(t) if encoding == Encoding::Utf8 => assert_eq!(encoding.encode(t).ok().as_deref(), Some(bytes)),
                // Decoded GBK text always encodes back (the decoder refuses the rest).
                Ok(t) if encoding == Encoding::Gbk => assert!(encoding.encode(t).is_ok(), "{t:?}"),
                Ok(t) if bytes.is_ascii() => assert_eq!(t.as_bytes(), bytes),
                Ok(_) => {}
                Err(e) => {
                    check_failure(e, &[-14], argument);
                    assert!(e.detail.contains(argument), "{e:?}");
                }
            }
            text.ok()
        });
        let [Some(addr), Some(write), Some(info)] = decoded else { continue };
        let texts = (addr, write, info);
        // ASCII reads the same in both encodings.
        if seen.as_ref() == Some(&texts) {
            continue;
        }
        run(&texts.0, &texts.1, &texts.2);
        seen = Some(texts);
    }
});
