use super::*;

fn card() -> CardValues {
    let mut c = CardValues::default();
    for (k, v) in [
        ("card_id", "110100D1560000050102030405060708"),
        ("region", "110100"),
        ("card_type", "3"),
        ("spec_version", "3.00"),
        ("issuer", "ORG1"),
        ("issue_date", "2024-01-02"),
        ("expiry_date", "2034-01-02"),
        ("card_number", "X00000019"),
        ("ssn", "11010519491231002X"),
        ("name", "张三"),
        ("sex", "2"),
        ("birthplace", "110105"),
        ("birth_date", "1949-12-31"),
        ("atr_historical", "7300C0"),
        ("terminal_number", "440300000001"),
    ] {
        c.text.insert(k.into(), v.into());
    }
    c.nation = Some(1);
    c.photo = Some(vec![0xFF, 0xD8, 0xFF, 0xD9]);
    c
}

#[test]
fn file_addresses_parse_by_file_and_tag() {
    let groups = parse_file_addr("SSSEEF05|07|$SSSEEF06|08|09|$").unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].file, UnifiedFile::Records(FileId::Ef05));
    assert_eq!(groups[1].tags, [0x08, 0x09]);
    let field = parse_file_addr("3F00EF06|4e|$").unwrap();
    assert_eq!((field[0].name.as_str(), field[0].tags.as_slice()), ("3F00EF06", &[0x4E][..]));
    assert_eq!(parse_file_addr("SSSEEF08|$").unwrap()[0].file, UnifiedFile::Photo);
}

#[test]
fn bad_file_addresses_are_minus_14_naming_the_part() {
    for (text, part) in [
        ("SSSEEF99|01|$", "SSSEEF99"),
        ("SSSEEF06|08:1|$", "tag:recno"),
        ("SSSEEF05|08|$", "no element with tag 08"),
        ("SSSEEF05|7|$", "two hex digits"),
        ("SSSEEF05|07|", "end with $"),
        ("SSSEEF05|07$", "each field followed by |"),
        ("SSSEEF08|01|$", "transparent"),
        ("SSSEEF05|$", "no items"),
        ("", "end with $"),
    ] {
        let e = parse_file_addr(text).unwrap_err();
        assert_eq!(e.code.value(), -14, "{text}");
        assert!(e.message().contains(part), "{text}: {}", e.message());
    }
    let many = "SSSEEF05|07|$".repeat(MAX_GROUPS + 1);
    assert_eq!(parse_file_addr(&many).unwrap_err().code, Code::BadArgument);
}

#[test]
fn a_tag_with_a_sign_is_no_tag() {
    // Found by the fuzz target unified_args: "+2" was read as tag 02.
    for text in ["SSSEEF05|+2|$", "SSSEEF05|+7|$", "SSSEEF06|-8|$"] {
        let e = parse_file_addr(text).unwrap_err();
        assert_eq!(e.code.value(), -14, "{text}");
        assert!(e.message().contains("two hex digits"), "{text}: {}", e.message());
    }
}

#[test]
fn card_info_needs_a_32_digit_identifier() {
    let ok = parse_card_info("110100d1560000050102030405060708|X00000019|").unwrap();
    assert_eq!(ok.card_id, "110100D1560000050102030405060708");
    assert_eq!(parse_card_info("1101|X00000019|").unwrap_err().code.value(), -20);
    assert_eq!(parse_card_info("110100D1560000050102030405060708|X00000019").unwrap_err().code.value(), -14);
    let c = card();
    assert!(c.check(&ok).is_ok());
    let other = parse_card_info("110100D1560000050102030405060708|X00000020|").unwrap();
    assert_eq!(c.check(&other).unwrap_err().code.value(), -22);
}

#[test]
fn the_read_output_mirrors_the_file_address() {
    let groups = parse_file_addr("SSSEEF05|07|05|$SSSEEF06|08|09|4E|0B|$SSSEEF08|$").unwrap();
    assert_eq!(
        read_output(&groups, &card()),
        "SSSEEF05|X00000019|20240102|$SSSEEF06|11010519491231002X|张三||01|$SSSEEF08|FFD8FFD9|$"
    );
    assert!(wants_photo(&groups));
}

#[test]
fn a_long_name_splits_into_its_two_records() {
    let mut c = card();
    // 16 two-byte characters: 30 bytes in tag 09, 2 in tag 4E.
    let long = "张".repeat(16);
    c.text.insert("name".into(), long.clone());
    let groups = parse_file_addr("SSSEEF06|09|4E|$").unwrap();
    assert_eq!(read_output(&groups, &c), format!("SSSEEF06|{}|张|$", "张".repeat(15)));
    let record = parse_write_data(&format!("SSSEEF06|{}|张|$", "张".repeat(15)), &groups).unwrap();
    assert_eq!(record, [("name", RecordValue::Str(long))]);
}

#[test]
fn write_data_becomes_the_record() {
    let groups = parse_file_addr("SSSEEF05|07|05|$SSSEEF06|08|0A|0D|0B|$SSSEEF08|$").unwrap();
    let record = parse_write_data(
        "SSSEEF05|X00000020|20250101|$SSSEEF06|11010519491231002X|2|19491231|02|$SSSEEF08|FFD8FFD9|$",
        &groups,
    )
    .unwrap();
    assert_eq!(
        record,
        [
            ("card_number", RecordValue::Str("X00000020".into())),
            ("issue_date", RecordValue::Str("2025-01-01".into())),
            ("ssn", RecordValue::Str("11010519491231002X".into())),
            ("sex", RecordValue::Str("2".into())),
            ("birth_date", RecordValue::Str("1949-12-31".into())),
            ("nation", RecordValue::Byte(2)),
            ("photo", RecordValue::Bytes(vec![0xFF, 0xD8, 0xFF, 0xD9])),
        ]
    );
}

#[test]
fn bad_write_data_names_the_field() {
    let groups = parse_file_addr("SSSEEF05|05|$SSSEEF06|0B|$").unwrap();
    let e = parse_write_data("SSSEEF05|2025-01-01|$SSSEEF06|01|$", &groups).unwrap_err();
    assert_eq!((e.code.value(), e.message().contains("issue_date")), (-23, true), "{}", e.message());
    let e = parse_write_data("SSSEEF05|20250101|$SSSEEF06|1|$", &groups).unwrap_err();
    assert!(e.message().contains("nation"), "{}", e.message());
    let e = parse_write_data("SSSEEF05|20250101|$", &groups).unwrap_err();
    assert_eq!(e.code.value(), -14);
    let e = parse_write_data("SSSEEF06|01|$SSSEEF05|20250101|$", &groups).unwrap_err();
    assert_eq!(e.code.value(), -14);
    let ext = parse_file_addr("SSSEEF06|4E|$").unwrap();
    assert_eq!(parse_write_data("SSSEEF06|张|$", &ext).unwrap_err().code.value(), -23);
}

#[test]
fn a_nation_with_a_sign_is_refused() {
    // "+1" was written as nation 01 (the fuzz target unified_args reads it back as "01").
    let groups = parse_file_addr("SSSEEF06|0B|$").unwrap();
    for value in ["+1", "+0"] {
        let e = parse_write_data(&format!("SSSEEF06|{value}|$"), &groups).unwrap_err();
        assert_eq!((e.code.value(), e.message().contains("nation")), (-23, true), "{value}: {}", e.message());
    }
    assert_eq!(parse_write_data("SSSEEF06|01|$", &groups).unwrap(), [("nation", RecordValue::Byte(1))]);
}

#[test]
fn the_basic_line_has_eleven_fields() {
    let line = bas_line(&card(), "SSCARD01");
    assert_eq!(
        line,
        "110100|11010519491231002X|X00000019|110100D1560000050102030405060708|张三|7300C0|3.00|20240102|20340102|440300000001|SSCARD01|"
    );
    let mut no_psam = card();
    no_psam.text.insert("terminal_number".into(), String::new());
    assert!(bas_line(&no_psam, "").ends_with("|000000000000||"));
}

#[test]
fn gbk_is_the_default_encoding() {
    let bytes = Encoding::Gbk.encode("张三|").unwrap();
    assert_eq!(Encoding::Gbk.encode("𠮷三").unwrap_err().code.value(), -14, "no character references");
    // GB18030's four-byte form of U+20000 is not GBK.
    assert_eq!(Encoding::Gbk.decode(&[0x95, 0x32, 0x82, 0x36], "pWriteData").unwrap_err().code.value(), -14);
    let mut c = card();
    c.text.insert("issuer".into(), "A|B".into());
    assert_eq!(c.check_separators().unwrap_err().code.value(), -23);
    assert!(card().check_separators().is_ok());
    assert_eq!(bytes, [0xD5, 0xC5, 0xC8, 0xFD, b'|']);
    assert_eq!(Encoding::Gbk.decode(&bytes, "x").unwrap(), "张三|");
    assert_eq!(Encoding::Utf8.decode(&[0xD5, 0xC5], "pWriteData").unwrap_err().code.value(), -14);
}
