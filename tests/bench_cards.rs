//! A gen3 and a gen2 card, each taken through every command of the
//! profile over the real bench: pcscd + vpcd + sscard-sim, with the PSAM
//! in the SAM slot. Every step checks the status word and the data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use sscard_apdu::StatusWord;
use sscard_model::{EF05_ELEMENTS, EF06_ELEMENTS, Field, HolderData, HolderRecordUpdate, IssuerData, Photo};
use sscard_sim::CardImage;
use sscard_transport::{CardConnection, CardTransaction, Protocol, Transport};
use support::bench::{Bench, Slot};
use support::terminal::*;

const KEY_WRITE: u8 = 0x04;
const KEY_READ: u8 = 0x0A;
const KEY_LIFECYCLE: u8 = 0x0C;

/// A synthetic JPEG: SOI, `len - 4` bytes of body, EOI.
fn jpeg(len: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8];
    bytes.extend((0..len - 4).map(|i| (i * 7 + 3) as u8));
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

fn holder_record(generation: u8) -> HolderRecordUpdate {
    let mut update = HolderRecordUpdate::default();
    let fields: [(Field, &str); 12] = [
        (Field::CardType, "3"),
        (Field::SpecVersion, if generation == 3 { "3.00" } else { "2.00" }),
        (Field::Issuer, "SZ-CARD-CTR"),
        (Field::IssueDate, "2026-11-25"),
        (Field::ExpiryDate, "2036-11-25"),
        (Field::CardNumber, "X00000019"),
        (Field::Ssn, "11010519491231002X"),
        // 17 characters: 34 GBK bytes, so the name spills into tag 4E.
        (Field::Name, "阿卜杜热合曼·买买提艾力·克里木江"),
        (Field::Sex, "2"),
        (Field::Nation, "5"),
        (Field::Birthplace, "653101"),
        (Field::BirthDate, "1949-12-31"),
    ];
    for (field, value) in fields {
        update.set_from_str(field, value).unwrap_or_else(|e| panic!("{field}: {e}"));
    }
    update.photo = Some(Photo::new(jpeg(5000)).expect("test photo"));
    update
        .validate(if generation == 3 { sscard_model::Generation::Gen3 } else { sscard_model::Generation::Gen2 })
        .expect("the test record is consistent");
    update
}

fn walkthrough(generation: u8) {
    let mut bench = Bench::start();
    let image_path = bench.dir().join("card.json");
    let image_arg = image_path.to_string_lossy().into_owned();
    let gen_arg = generation.to_string();
    bench.insert(Slot::Sam, "psam", &["--terminal-number", "440300000001"]);
    bench.insert(Slot::Card, "card", &["--gen", &gen_arg, "--image", &image_arg, "--serial", "0123456789ABCDEF"]);

    let mut card_conn = bench.connect(Slot::Card);
    let mut psam_conn = bench.connect(Slot::Sam);
    let mut card_tx = card_conn.begin().expect("card transaction");
    let mut psam_tx = psam_conn.begin().expect("PSAM transaction");
    let card: &mut dyn Transport = &mut card_tx;
    let psam: &mut dyn Transport = &mut psam_tx;

    // Transport: the generation's protocol and length form, from the ATR.
    let caps = card.capabilities();
    if generation == 3 {
        assert_eq!((caps.protocol, caps.extended_length), (Protocol::T1, true));
    } else {
        assert_eq!((caps.protocol, caps.extended_length), (Protocol::T0, false));
    }

    select_psam(psam);
    let r = send(psam, with_ne(cmd(0, 0xB0, 0x96, 0), 6));
    assert_eq!((r.sw, hex::encode_upper(&r.data)), (StatusWord::Success, "440300000001".to_owned()), "terminal number");

    // SELECT: the FCI names the algorithm, and on gen3 the LCS (issued: 04).
    let fci = select_ssse(card);
    let alg = fci.algorithm;
    assert_eq!(alg, if generation == 3 { 0x03 } else { 0x01 });
    assert_eq!(fci.lcs, if generation == 3 { Some(0x04) } else { None });

    // EF05 of a blank card: only the card identifier is written.
    let ef05 = read_all(card, 0x05, &EF05_ELEMENTS);
    let issuer = IssuerData::decode(&ef05).expect("EF05 decodes");
    let card_id = issuer.card_id.expect("a blank card has its identifier");
    assert_eq!(card_id.to_hex(), "110100D1560000050123456789ABCDEF");
    assert_eq!(issuer, IssuerData { card_id: Some(card_id), ..IssuerData::default() });
    let id = card_id.as_bytes().to_vec();

    // EF06 needs ext(0A) on gen3 only.
    let r = read_record(card, 0x06, 0x08, 18);
    if generation == 3 {
        assert_eq!(r.sw, StatusWord::SecurityStatusNotSatisfied);
        assert_eq!(authenticate(card, psam, alg, &id, KEY_READ), StatusWord::Success);
    } else {
        assert_eq!(r.sw, StatusWord::Success);
    }
    let blank_holder = HolderData::decode(&read_all(card, 0x06, &EF06_ELEMENTS)).expect("EF06 decodes");
    assert_eq!(blank_holder, HolderData::default());

    // Personalise: key 04, then every element and the photo.
    let update = holder_record(generation);
    let (ef05_records, ef06_records) = update.records();
    assert_eq!(update_record(card, 0x05, &ef05_records[0].to_tlv()), StatusWord::SecurityStatusNotSatisfied);
    // A wrong cryptogram is refused with 6300; the challenge is gone after it.
    get_challenge(card);
    let wrong = vec![0u8; if generation == 3 { 16 } else { 8 }];
    assert_eq!(send(card, with_data(cmd(0, 0x82, 0, KEY_WRITE), &wrong)).sw, StatusWord::AuthenticationFailed);
    assert_eq!(send(card, with_data(cmd(0, 0x82, 0, KEY_WRITE), &wrong)).sw, StatusWord::ReferencedDataInvalid);
    assert_eq!(authenticate(card, psam, alg, &id, KEY_WRITE), StatusWord::Success);
    // Tag 01 is never writable; lengths and tags are checked.
    let mut id_record = vec![0x01, 0x10];
    id_record.extend_from_slice(&id);
    assert_eq!(update_record(card, 0x05, &id_record), StatusWord::ConditionsOfUseNotSatisfied);
    assert_eq!(
        send(card, with_data(cmd(0, 0xDC, 0x07, 0x28), &[0x07, 0x03, b'A', b'B', b'C'])).sw,
        StatusWord::WrongLength
    );
    assert_eq!(
        send(card, with_data(cmd(0, 0xDC, 0x07, 0x28), &[0x07, 0x09, b'X', b'0', b'0', b'0', b'0', b'0', b'0', b'1']))
            .sw,
        StatusWord::WrongLength,
        "the length byte says 9 but 8 bytes follow"
    );
    let mut wrong_tag = ef05_records[5].to_tlv();
    wrong_tag[0] = 0x06; // a card-number record addressed as tag 07 but tagged 06
    assert_eq!(send(card, with_data(cmd(0, 0xDC, 0x07, 0x28), &wrong_tag)).sw, StatusWord::IncorrectData);
    for record in &ef05_records {
        assert_eq!(update_record(card, 0x05, &record.to_tlv()), StatusWord::Success, "EF05 {:02X}", record.tag);
    }
    for record in &ef06_records {
        assert_eq!(update_record(card, 0x06, &record.to_tlv()), StatusWord::Success, "EF06 {:02X}", record.tag);
    }
    assert_eq!(ef06_records.len(), 7, "the name gives tags 09 and 4E");
    let photo = update.photo.clone().expect("photo");
    let photo_file = photo.to_file_bytes();
    write_photo(card, &photo_file, generation);

    // Read back with key 0A and compare everything through the data model.
    assert_eq!(authenticate(card, psam, alg, &id, KEY_READ), StatusWord::Success);
    let issuer = IssuerData::decode(&read_all(card, 0x05, &EF05_ELEMENTS)).expect("EF05 decodes");
    let holder = HolderData::decode(&read_all(card, 0x06, &EF06_ELEMENTS)).expect("EF06 decodes");
    let photo_back = Photo::from_file_bytes(&read_photo_file(card, generation, photo_file.len()));
    assert_eq!(update.mismatches(&issuer, &holder, photo_back.as_ref()), Vec::<Field>::new());
    assert_eq!(holder.name.as_ref().map(|n| n.as_str()), Some("阿卜杜热合曼·买买提艾力·克里木江"));
    assert_eq!(issuer.card_number.as_ref().map(|n| n.as_str()), Some("X00000019"));
    assert_eq!(issuer.card_id, Some(card_id), "the identifier is untouched");
    // Offset reads need EF08 current, and stop at the file's end.
    assert_eq!(read_record(card, 0x05, 0x07, 9).data, ef05_records[5].to_tlv());
    assert_eq!(send(card, with_ne(cmd(0, 0xB0, 0x00, 0x10), 16)).sw, StatusWord::CommandNotAllowed);
    // Two bytes at offset 254: T=1 gives two; T=0 insists on the available
    // length (cut to 255) and the transport follows its 6CFF.
    let r = send(card, with_ne(cmd(0, 0xB0, 0x88, 0xFE), 2));
    assert_eq!(r.sw, StatusWord::Success);
    assert_eq!(r.data.len(), if generation == 2 { 255 } else { 2 });
    assert_eq!(r.data[..2], photo_file[0xFE..0x100]);
    assert_eq!(send(card, with_ne(cmd(0, 0xB0, 0x20, 0x00), 16)).sw, StatusWord::WrongOffset);

    // Le 00 asks for 256 bytes: gen2 (T=0) answers 6Cxx and the transport
    // resends with the right Le; gen3 (T=1) answers at once. Either way the
    // caller sees the whole record and 9000, never 6Cxx.
    let before = card.apdus_sent();
    let r = send(card, with_ne(cmd(0, 0xB2, 0x07, 0x28), 256));
    assert_eq!((r.sw, r.data), (StatusWord::Success, ef05_records[5].to_tlv()));
    assert_eq!(card.apdus_sent() - before, if generation == 2 { 2 } else { 1 });

    // INTERNAL AUTHENTICATE, checked against the PSAM under key 09.
    let random = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    let r = send(card, with_ne(with_data(cmd(0, 0x88, 0, 0x09), &random), 256));
    assert_eq!(r.sw, StatusWord::Success);
    assert_eq!(r.data.len(), if generation == 3 { 16 } else { 8 });
    assert_eq!(psam_init(psam, alg, 0x09, &id), StatusWord::Success);
    assert_eq!(psam_encrypt(psam, &random), r.data);

    // PIN: wrong three times (63C2, 63C1, then 6983), then blocked.
    select_ssse(card);
    assert_eq!(pin_status(card), StatusWord::WrongPin { tries_left: 3 });
    assert_eq!(verify(card, "654321"), StatusWord::WrongPin { tries_left: 2 });
    assert_eq!(verify(card, "654321"), StatusWord::WrongPin { tries_left: 1 });
    assert_eq!(verify(card, "654321"), StatusWord::AuthenticationMethodBlocked);
    assert_eq!(verify(card, "123456"), StatusWord::AuthenticationMethodBlocked, "blocked even for the right PIN");
    assert_eq!(change_pin(card, "123456", "135790"), StatusWord::AuthenticationMethodBlocked);
    // Malformed BCD uses no try.
    assert_eq!(send(card, with_data(cmd(0, 0x20, 0, 0), &[0x12, 0x3A])).sw, StatusWord::AuthenticationMethodBlocked);

    // UNBLOCK with the PSAM's MAC: counter back to 3, PIN kept, not verified.
    assert_eq!(send(card, with_data(cmd(0x84, 0x24, 0, 0), &[1, 2, 3, 4])).sw, StatusWord::ReferencedDataInvalid);
    get_challenge(card);
    assert_eq!(send(card, with_data(cmd(0x84, 0x24, 0, 0), &[1, 2, 3, 4])).sw, StatusWord::SecureMessagingDataWrong);
    assert_eq!(unblock_pin(card, psam, alg, &id), StatusWord::Success);
    assert_eq!(pin_status(card), StatusWord::WrongPin { tries_left: 3 });
    assert_eq!(send(card, with_data(cmd(0, 0x20, 0, 0), &[0x12, 0x3A])).sw, StatusWord::IncorrectData);
    assert_eq!(pin_status(card), StatusWord::WrongPin { tries_left: 3 }, "malformed PIN used no try");
    assert_eq!(verify(card, "654321"), StatusWord::WrongPin { tries_left: 2 });
    assert_eq!(verify(card, "123456"), StatusWord::Success);
    assert_eq!(pin_status(card), StatusWord::Success, "verified in this state");
    select_ssse(card);
    assert_eq!(pin_status(card), StatusWord::WrongPin { tries_left: 3 }, "a right PIN resets the counter");

    // gen3: ACTIVATE needs ext(0C), a verified PIN, and a changed PIN.
    if generation == 3 {
        assert_eq!(send(card, cmd(0, 0x44, 0, 0)).sw, StatusWord::SecurityStatusNotSatisfied);
        assert_eq!(verify(card, "123456"), StatusWord::Success);
        assert_eq!(authenticate(card, psam, alg, &id, KEY_LIFECYCLE), StatusWord::Success);
        assert_eq!(send(card, cmd(0, 0x44, 0, 0)).sw, StatusWord::ConditionsOfUseNotSatisfied, "initial PIN");
        select_ssse(card);
    }

    // CHANGE: a new PIN equal to the initial one is refused (no try used);
    // a wrong old PIN counts; the right one sets the new PIN.
    assert_eq!(change_pin(card, "123456", "123456"), StatusWord::IncorrectData);
    assert_eq!(change_pin(card, "000000", "135790"), StatusWord::WrongPin { tries_left: 2 });
    assert_eq!(change_pin(card, "123456", "135790"), StatusWord::Success);
    assert_eq!(pin_status(card), StatusWord::Success, "CHANGE leaves the PIN verified");
    select_ssse(card);
    assert_eq!(pin_status(card), StatusWord::WrongPin { tries_left: 3 });
    assert_eq!(verify(card, "123456"), StatusWord::WrongPin { tries_left: 2 }, "the old PIN is gone");
    assert_eq!(verify(card, "135790"), StatusWord::Success);

    // gen3: activate, see LCS 05, refuse a second activation, deactivate.
    if generation == 3 {
        assert_eq!(authenticate(card, psam, alg, &id, KEY_LIFECYCLE), StatusWord::Success);
        // ext(0C) alone is not enough: the EXTERNAL AUTHENTICATE kept the PIN state.
        assert_eq!(send(card, cmd(0, 0x44, 0, 0)).sw, StatusWord::Success);
        assert_eq!(select_ssse(card).lcs, Some(0x05));
        assert_eq!(send(card, cmd(0, 0x04, 0, 0)).sw, StatusWord::SecurityStatusNotSatisfied);
        assert_eq!(verify(card, "135790"), StatusWord::Success);
        assert_eq!(authenticate(card, psam, alg, &id, KEY_LIFECYCLE), StatusWord::Success);
        assert_eq!(send(card, cmd(0, 0x44, 0, 0)).sw, StatusWord::ConditionsOfUseNotSatisfied, "already active");
        assert_eq!(send(card, cmd(0, 0x04, 0, 0)).sw, StatusWord::Success);
        assert_eq!(select_ssse(card).lcs, Some(0x04));
    } else {
        assert_eq!(send(card, cmd(0, 0x44, 0, 0)).sw, StatusWord::InstructionNotSupported);
    }

    // RELOAD with the PSAM's MAC: new PIN, counter reset, not verified.
    select_ssse(card);
    assert_eq!(verify(card, "000000"), StatusWord::WrongPin { tries_left: 2 });
    assert_eq!(reload_pin(card, psam, alg, &id, "123456"), StatusWord::IncorrectData, "initial PIN refused");
    assert_eq!(reload_pin(card, psam, alg, &id, "24680"), StatusWord::Success);
    assert_eq!(pin_status(card), StatusWord::WrongPin { tries_left: 3 });
    assert_eq!(verify(card, "135790"), StatusWord::WrongPin { tries_left: 2 });
    assert_eq!(verify(card, "24680"), StatusWord::Success);

    // A case-4 command on gen2 is two wire APDUs (61xx, GET RESPONSE); on
    // gen3 it is one. Nothing above the transport saw the 61xx.
    let before = card.apdus_sent();
    let r = send(card, with_ne(with_data(cmd(0, 0xA4, 4, 0), &SSSE_AID), 256));
    assert_eq!(r.sw, StatusWord::Success);
    assert_eq!(card.apdus_sent() - before, if generation == 2 { 2 } else { 1 });

    // Ending the transaction with a reset leaves no verified PIN behind.
    assert_eq!(verify(card, "24680"), StatusWord::Success);
    assert_eq!(pin_status(card), StatusWord::Success);
    drop(psam_tx);
    card_tx.end_with_reset().expect("end with reset");
    // pcsc-lite reports the reset to every handle, ours included.
    assert!(matches!(card_conn.begin().err(), Some(sscard_transport::TransportError::CardReset)));
    card_conn.reconnect().expect("reconnect after the reset");
    let mut card_tx = card_conn.begin().expect("a new transaction after our own reset");
    let card: &mut dyn Transport = &mut card_tx;
    select_ssse(card);
    assert_eq!(pin_status(card), StatusWord::WrongPin { tries_left: 3 }, "the reset cleared the PIN state");
    drop(card_tx);
    drop(card_conn);
    drop(psam_conn);

    // The image on disk holds the final state.
    let image = CardImage::load(&image_path).expect("card image");
    assert_eq!(image.pin, "24680");
    assert_eq!(image.pin_tries_left, 3);
    assert_eq!(image.lcs, if generation == 3 { Some(0x04) } else { None });
    assert_eq!(image.ef05.get("07").map(|v| v.0.clone()), Some(b"X00000019".to_vec()));
    assert_eq!(bench.remove(Slot::Card), Some(0), "the simulator exits 0 on SIGTERM");
    assert_eq!(bench.remove(Slot::Sam), Some(0));
}

#[test]
fn gen3_card_every_command_through_pcscd() {
    walkthrough(3);
}

#[test]
fn gen2_card_every_command_through_pcscd() {
    walkthrough(2);
}
