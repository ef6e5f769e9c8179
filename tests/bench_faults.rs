//! Fault injection: `--remove-after N` pulls the card out in the middle of
//! a personalisation. Whatever N is, the saved image holds, for every
//! record and the photo, either the old value or the new one, never a torn
//! mix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::collections::BTreeMap;
use std::time::Duration;

use sscard_apdu::{Command, ExchangeError, StatusWord, exchange};
use sscard_model::{Field, HolderRecordUpdate, Photo, Record};
use sscard_sim::image::HexBytes;
use sscard_sim::{CardImage, Generation, UserCard};
use sscard_transport::{CardConnection, Transport, TransportError};
use support::bench::{Bench, Slot};
use support::terminal::*;

fn update(values: &[(Field, &str)], photo_byte: u8) -> HolderRecordUpdate {
    let mut u = HolderRecordUpdate::default();
    for (field, value) in values {
        u.set_from_str(*field, value).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend(std::iter::repeat_n(photo_byte, 3000));
    jpeg.extend_from_slice(&[0xFF, 0xD9]);
    u.photo = Some(Photo::new(jpeg).expect("photo"));
    u
}

fn old_record() -> HolderRecordUpdate {
    update(
        &[
            (Field::CardType, "1"),
            (Field::SpecVersion, "3.00"),
            (Field::Issuer, "OLD-ISSUER"),
            (Field::IssueDate, "2016-01-01"),
            (Field::ExpiryDate, "2026-01-01"),
            (Field::CardNumber, "A00000001"),
            (Field::Ssn, "11010519491231002X"),
            (Field::Name, "李小龙"),
            (Field::Sex, "2"),
            (Field::Nation, "1"),
            (Field::Birthplace, "110105"),
            (Field::BirthDate, "1949-12-31"),
        ],
        0x11,
    )
}

fn new_record() -> HolderRecordUpdate {
    update(
        &[
            (Field::CardType, "3"),
            (Field::SpecVersion, "3.00"),
            (Field::Issuer, "NEW-ISSUER"),
            (Field::IssueDate, "2026-11-25"),
            (Field::ExpiryDate, "2036-11-25"),
            (Field::CardNumber, "B99999999"),
            (Field::Ssn, "44030519900101123X"),
            // 18 characters, 36 GBK bytes: the extension record changes too.
            (Field::Name, "阿卜杜热合曼·买买提艾力·克里木江哈"),
            (Field::Sex, "1"),
            (Field::Nation, "5"),
            (Field::Birthplace, "440305"),
            (Field::BirthDate, "1990-01-01"),
        ],
        0x22,
    )
}

/// The bytes of each record and of EF08 an image holds.
fn contents(image: &CardImage) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (tag, value) in &image.ef05 {
        out.insert(format!("EF05/{tag}"), value.0.clone());
    }
    for (tag, value) in &image.ef06 {
        out.insert(format!("EF06/{tag}"), value.0.clone());
    }
    out.insert("EF08".into(), image.photo.0.clone());
    out
}

/// The image the card starts from: personalised with `old_record`.
fn old_image() -> CardImage {
    let card = UserCard::blank(Generation::Gen3, [0x11, 0x01, 0x00], [1, 1, 2, 3, 5, 8, 13, 21], "123456");
    let mut image = card.image().clone();
    let (ef05, ef06) = old_record().records();
    let put = |map: &mut BTreeMap<String, HexBytes>, records: Vec<Record>| {
        for r in records {
            map.insert(format!("{:02X}", r.tag), HexBytes(r.value));
        }
    };
    put(&mut image.ef05, ef05);
    put(&mut image.ef06, ef06);
    let mut photo = old_record().photo.expect("photo").to_file_bytes();
    photo.resize(8192, 0);
    image.photo = HexBytes(photo);
    image
}

/// The personalisation, stopping at the first transport failure.
fn personalize(card: &mut dyn Transport, psam: &mut dyn Transport) -> Result<(), ExchangeError> {
    let send = |t: &mut dyn Transport, c: Command| exchange(t, &c);
    select_psam(psam);
    let select = Command::new(0, 0xA4, 4, 0).with_data(SSSE_AID.to_vec()).and_then(|c| c.with_ne(256));
    send(card, select.expect("SELECT"))?;
    let id = send(card, Command::new(0, 0xB2, 1, 0x28).with_ne(18).expect("READ"))?.data[2..].to_vec();
    let challenge = send(card, Command::new(0, 0x84, 0, 0).with_ne(8).expect("GET CHALLENGE"))?.data;
    assert_eq!(psam_init(psam, 0x03, 0x04, &id), StatusWord::Success);
    let cryptogram = psam_encrypt(psam, &challenge.try_into().expect("8 bytes"));
    let r = send(card, Command::new(0, 0x82, 0, 0x04).with_data(cryptogram).expect("EXT AUTH"))?;
    assert_eq!(r.sw, StatusWord::Success);
    let new = new_record();
    let (ef05, ef06) = new.records();
    for (sfi, record) in ef05.iter().map(|r| (5u8, r)).chain(ef06.iter().map(|r| (6u8, r))) {
        let c = Command::new(0, 0xDC, record.tag, sfi << 3).with_data(record.to_tlv()).expect("UPDATE");
        assert_eq!(send(card, c)?.sw, StatusWord::Success);
    }
    let photo = new.photo.expect("photo").to_file_bytes();
    let c = Command::new(0, 0xD6, 0x88, 0).with_data(photo).expect("UPDATE BINARY");
    assert_eq!(send(card, c)?.sw, StatusWord::Success);
    Ok(())
}

#[test]
fn remove_after_leaves_old_or_new_never_torn() {
    let mut bench = Bench::start();
    bench.insert(Slot::Sam, "psam", &[]);
    let path = bench.dir().join("card.json");
    let old = contents(&old_image());
    // The new image is what an uninterrupted run leaves.
    old_image().save_atomically(&path).expect("save");
    bench.insert(Slot::Card, "card", &["--image", &path.to_string_lossy()]);
    {
        let mut card = bench.connect(Slot::Card);
        let mut psam = bench.connect(Slot::Sam);
        personalize(&mut card.begin().expect("transaction"), &mut psam.begin().expect("transaction"))
            .expect("uninterrupted personalisation");
    }
    bench.remove(Slot::Card);
    let new = contents(&CardImage::load(&path).expect("image"));
    let changed: Vec<_> = old.keys().filter(|k| old[*k] != new[*k]).cloned().collect();
    // Everything but the spec version (3.00 in both) changes.
    assert_eq!(changed.len(), 13, "{changed:?}");

    // The card's APDUs: 1 SELECT, 2 READ RECORD, 3 GET CHALLENGE, 4 EXTERNAL
    // AUTHENTICATE, then one UPDATE per record in table order, then EF08.
    let (ef05, ef06) = new_record().records();
    let mut written: Vec<String> = ef05.iter().map(|r| format!("EF05/{:02X}", r.tag)).collect();
    written.extend(ef06.iter().map(|r| format!("EF06/{:02X}", r.tag)));
    written.push("EF08".into());
    assert_eq!(written.len(), 14);
    let first_write = 5u64;

    for n in [1u64, 3, 4, 5, 6, 9, 12, 15, 17, 18] {
        old_image().save_atomically(&path).expect("save");
        let remove_after = n.to_string();
        bench.insert(Slot::Card, "card", &["--image", &path.to_string_lossy(), "--remove-after", &remove_after]);
        let outcome = {
            let mut card = bench.connect(Slot::Card);
            let mut psam = bench.connect(Slot::Sam);
            personalize(&mut card.begin().expect("transaction"), &mut psam.begin().expect("transaction"))
        };
        match outcome {
            Err(ExchangeError::Transport(TransportError::CardRemoved | TransportError::NoCard)) => {}
            other => panic!("--remove-after {n}: expected the card to be gone, got {other:?}"),
        }
        assert_eq!(bench.wait_exit(Slot::Card, Duration::from_secs(5)), Some(0), "--remove-after {n}: exit code");
        bench.wait_card_present(Slot::Card, false);

        let image = CardImage::load(&path).unwrap_or_else(|e| panic!("--remove-after {n}: torn image: {e}"));
        UserCard::from_image(image.clone()).unwrap_or_else(|e| panic!("--remove-after {n}: inconsistent image: {e}"));
        let now = contents(&image);
        for (key, value) in &now {
            assert!(*value == old[key] || *value == new[key], "--remove-after {n}: {key} is neither old nor new");
        }
        // The Nth APDU still ran (the card was pulled before its answer):
        // exactly the writes up to and including it are on the card.
        let done = (n + 1).saturating_sub(first_write) as usize;
        for (i, key) in written.iter().enumerate() {
            let expected = if i < done { &new[key] } else { &old[key] };
            assert_eq!(&now[key], expected, "--remove-after {n}: {key}");
        }
    }
}
