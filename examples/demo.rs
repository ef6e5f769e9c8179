//! The demo: a private bench (pcscd + vpcd + simulator), then a counter's
//! work on a blank card through real pcscd: read it, personalise it
//! through the PSAM, read it back, set the holder's PIN and activate it.
//!
//! Until the daemon exists (issue 4) this drives the card with plain
//! APDUs; run it with `scripts/demo`.

#[path = "../tests/support/mod.rs"]
mod support;

use sscard::apdu::StatusWord;
use sscard::model::{
    EF05_ELEMENTS, EF06_ELEMENTS, Field, Generation, HolderData, HolderRecordUpdate, IssuerData, Photo,
};
use sscard::transport::Transport;
use support::bench::{Bench, Slot};
use support::terminal::*;

fn check(what: &str, sw: StatusWord) {
    println!("  {what:<52} {sw}");
    assert_eq!(sw, StatusWord::Success, "{what}");
}

fn show(issuer: &IssuerData, holder: &HolderData) {
    let mut rows: Vec<(&str, String)> = Vec::new();
    let mut put = |k, v: Option<String>| {
        if let Some(v) = v {
            rows.push((k, v));
        }
    };
    put("card_id", issuer.card_id.map(|v| v.to_hex()));
    put("card_type", issuer.card_type.map(|v| v.as_str().to_owned()));
    put("spec_version", issuer.spec_version.as_ref().map(|v| v.as_str().to_owned()));
    put("issuer", issuer.issuer.as_ref().map(|v| v.as_str().to_owned()));
    put("issue_date", issuer.issue_date.map(|v| v.to_iso()));
    put("expiry_date", issuer.expiry_date.map(|v| v.to_iso()));
    put("card_number", issuer.card_number.as_ref().map(|v| v.as_str().to_owned()));
    put("ssn", holder.ssn.as_ref().map(|v| v.as_str().to_owned()));
    put("name", holder.name.as_ref().map(|v| v.as_str().to_owned()));
    put("sex", holder.sex.map(|v| v.to_string()));
    put("nation", holder.nation.map(|v| v.code().to_string()));
    put("birthplace", holder.birthplace.map(|v| v.as_str().to_owned()));
    put("birth_date", holder.birth_date.map(|v| v.to_iso()));
    for (k, v) in rows {
        println!("    {k:<14} {v}");
    }
}

fn counter_workflow(bench: &mut Bench, generation: u8) {
    let gen_arg = generation.to_string();
    let image = bench.dir().join(format!("card-gen{generation}.json"));
    bench.insert(Slot::Card, "card", &["--gen", &gen_arg, "--image", &image.to_string_lossy()]);
    println!("\n== gen{generation}: a blank card in {:?}, saved to {}", bench.reader_name(Slot::Card), image.display());

    let mut card_conn = bench.connect(Slot::Card);
    let mut psam_conn = bench.connect(Slot::Sam);
    let mut card_tx = card_conn.transaction().expect("card transaction");
    let mut psam_tx = psam_conn.transaction().expect("PSAM transaction");
    let card: &mut dyn Transport = &mut card_tx;
    let psam: &mut dyn Transport = &mut psam_tx;
    let caps = card.capabilities();
    println!(
        "  ATR {}  ({:?}, extended length: {})",
        hex::encode_upper(card.atr()),
        caps.protocol,
        caps.extended_length
    );

    select_psam(psam);
    let fci = select_ssse(card);
    let alg = fci.algorithm;
    println!(
        "  SELECT SSSE: algorithm {}, life cycle {}",
        if alg == 3 { "SM4" } else { "3DES" },
        fci.lcs.map_or("none (gen2)".to_owned(), |l| format!("{l:02X}"))
    );
    println!("-- read the blank card (EF05)");
    let issuer = IssuerData::decode(&read_all(card, 0x05, &EF05_ELEMENTS)).expect("EF05");
    show(&issuer, &HolderData::default());
    let id = issuer.card_id.expect("card id").as_bytes().to_vec();

    println!("-- personalise through the PSAM");
    let mut record = HolderRecordUpdate::default();
    for (field, value) in [
        (Field::CardType, "3"),
        (Field::SpecVersion, if generation == 3 { "3.00" } else { "2.00" }),
        (Field::Issuer, "SZ-CARD-CTR"),
        (Field::IssueDate, "2026-11-25"),
        (Field::ExpiryDate, "2036-11-25"),
        (Field::CardNumber, "X00000019"),
        (Field::Ssn, "11010519491231002X"),
        (Field::Name, "阿卜杜热合曼·买买提艾力"),
        (Field::Sex, "2"),
        (Field::Nation, "5"),
        (Field::Birthplace, "653101"),
        (Field::BirthDate, "1949-12-31"),
    ] {
        record.set_from_str(field, value).expect("demo record");
    }
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend((0..4000u32).map(|i| (i % 251) as u8));
    jpeg.extend_from_slice(&[0xFF, 0xD9]);
    record.photo = Some(Photo::new(jpeg).expect("demo photo"));
    record.validate(if generation == 3 { Generation::Gen3 } else { Generation::Gen2 }).expect("consistent");
    check("EXTERNAL AUTHENTICATE key 04 (cryptogram from PSAM)", authenticate(card, psam, alg, &id, 0x04));
    let (ef05, ef06) = record.records();
    for (sfi, r) in ef05.iter().map(|r| (5u8, r)).chain(ef06.iter().map(|r| (6u8, r))) {
        check(&format!("UPDATE RECORD EF0{sfi} tag {:02X}", r.tag), update_record(card, sfi, &r.to_tlv()));
    }
    let photo = record.photo.as_ref().expect("photo").to_file_bytes();
    write_photo(card, &photo, generation);
    let how = if generation == 3 { "in one extended APDU" } else { "in 255-byte chunks" };
    println!("  {:<52} {}", format!("UPDATE BINARY EF08, {} bytes {how}", photo.len()), StatusWord::Success);

    println!("-- read back (key 0A) and compare");
    check("EXTERNAL AUTHENTICATE key 0A", authenticate(card, psam, alg, &id, 0x0A));
    let issuer = IssuerData::decode(&read_all(card, 0x05, &EF05_ELEMENTS)).expect("EF05");
    let holder = HolderData::decode(&read_all(card, 0x06, &EF06_ELEMENTS)).expect("EF06");
    show(&issuer, &holder);
    let mismatches = record.mismatches(&issuer, &holder, record.photo.as_ref());
    assert!(mismatches.is_empty(), "read-back differs: {mismatches:?}");
    println!("  read-back matches; digest {}", record.digest_hex());

    println!("-- the holder activates the card");
    select_ssse(card);
    check("VERIFY initial PIN", verify(card, "123456"));
    check("CHANGE PIN to the holder's new PIN", change_pin(card, "123456", "135790"));
    if generation == 3 {
        check("EXTERNAL AUTHENTICATE key 0C", authenticate(card, psam, alg, &id, 0x0C));
        check("ACTIVATE FILE", send(card, cmd(0, 0x44, 0, 0)).sw);
        let lcs = select_ssse(card).lcs;
        println!("  SELECT SSSE again: life cycle {:02X} (active)", lcs.unwrap_or(0));
        assert_eq!(lcs, Some(0x05));
    }
    println!("  {} APDUs to the card (GET RESPONSE and 6Cxx resends included)", card.apdus_sent());
    drop((card_tx, psam_tx));
    drop((card_conn, psam_conn));
    assert_eq!(bench.remove(Slot::Card), Some(0));
}

fn main() {
    println!("sscard demo: a counter workflow on the virtual card, through real pcscd");
    let mut bench = Bench::start();
    println!("bench: private pcscd, socket {}", bench.socket().display());
    bench.insert(Slot::Sam, "psam", &[]);
    println!("bench: PSAM in {:?}", bench.reader_name(Slot::Sam));
    for generation in [3, 2] {
        counter_workflow(&mut bench, generation);
    }
    println!("\ndemo finished: both cards personalised, read back and activated");
}
