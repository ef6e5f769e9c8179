//! sscard-ifd, the project's reader driver, through a real pcscd: slots
//! and their names, part 10 features and properties, short-APDU refusal,
//! the PIN pad (verify, modify, cancel, timeout, lengths, malformed
//! structures), event-driven insertion, a simulator that dies mid-session,
//! and pcscd restarting. Each test has its own bench (cargo nextest).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ffi::CString;
use std::thread;
use std::time::{Duration, Instant};

use pcsc::{Card, Context, Protocols, ReaderState, ShareMode, State};
use sscard_testkit::bench::{Bench, IfdReader, IfdSlot, Slot};

const SELECT_SSSE: &[u8] = b"\x00\xA4\x04\x00\x0F\x73\x78\x31\x2E\x73\x68\x2E\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF";
const FEATURE_VERIFY_PIN_DIRECT: u8 = 0x06;
const FEATURE_MODIFY_PIN_DIRECT: u8 = 0x07;
const FEATURE_IFD_PIN_PROPERTIES: u8 = 0x0A;
const FEATURE_GET_TLV_PROPERTIES: u8 = 0x12;
const PROPERTY_B_MIN_PIN_SIZE: u8 = 6;
const PROPERTY_B_MAX_PIN_SIZE: u8 = 7;
const PROPERTY_DW_MAX_APDU_DATA_SIZE: u8 = 10;
const PROPERTY_W_ID_VENDOR: u8 = 11;
const PROPERTY_W_ID_PRODUCT: u8 = 12;

const PAD: IfdSlot = IfdSlot { short: false, pinpad: true, length_error_6b80: false };
const PLAIN: IfdSlot = IfdSlot { short: false, pinpad: false, length_error_6b80: false };
const SHORT: IfdSlot = IfdSlot { short: true, pinpad: false, length_error_6b80: false };

fn connect(bench: &Bench, ctx: &Context, slot: Slot) -> Card {
    let name = CString::new(bench.reader_name(slot)).unwrap();
    ctx.connect(&name, ShareMode::Shared, Protocols::ANY).unwrap_or_else(|e| panic!("connect {name:?}: {e}"))
}

fn transmit(card: &Card, apdu: &[u8]) -> Result<Vec<u8>, pcsc::Error> {
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    card.transmit(apdu, &mut buf).map(<[u8]>::to_vec)
}

fn sw(answer: &[u8]) -> u16 {
    assert!(answer.len() >= 2, "no status word in {answer:02X?}");
    u16::from_be_bytes([answer[answer.len() - 2], answer[answer.len() - 1]])
}

fn control(card: &Card, code: u32, data: &[u8]) -> Result<Vec<u8>, pcsc::Error> {
    let mut buf = vec![0u8; 1024];
    card.control(code as _, data, &mut buf).map(<[u8]>::to_vec)
}

/// GET_FEATURE_REQUEST: feature tag → control code.
fn features(card: &Card) -> BTreeMap<u8, u32> {
    let tlv = control(card, pcsc::ctl_code(3400) as u32, &[]).expect("GET_FEATURE_REQUEST");
    assert_eq!(tlv.len() % 6, 0, "{tlv:02X?}");
    tlv.chunks(6)
        .map(|c| {
            assert_eq!(c[1], 4, "{tlv:02X?}");
            (c[0], u32::from_be_bytes([c[2], c[3], c[4], c[5]]))
        })
        .collect()
}

/// GET_TLV_PROPERTIES: property tag → value (little-endian bytes).
fn properties(card: &Card) -> BTreeMap<u8, Vec<u8>> {
    let code = features(card)[&FEATURE_GET_TLV_PROPERTIES];
    let tlv = control(card, code, &[]).expect("GET_TLV_PROPERTIES");
    let mut out = BTreeMap::new();
    let mut rest = tlv.as_slice();
    while let [tag, len, tail @ ..] = rest {
        let len = usize::from(*len);
        out.insert(*tag, tail[..len].to_vec());
        rest = &tail[len..];
    }
    out
}

fn le(value: &[u8]) -> u32 {
    value.iter().rev().fold(0, |acc, b| acc << 8 | u32::from(*b))
}

/// PIN_VERIFY_STRUCTURE for the card's VERIFY: packed BCD, left
/// justified at the data's first byte, in a block of the template's data.
fn verify_structure(timeout: u8, min: u8, max: u8, template: &[u8]) -> Vec<u8> {
    let block = (template.len() - 5) as u8;
    let mut s = vec![timeout, 0, 0x81, block, 0x00, max, min, 0x02, 0x01, 0x09, 0x04, 0x00, 0, 0, 0];
    s.extend_from_slice(&(template.len() as u32).to_le_bytes());
    s.extend_from_slice(template);
    s
}

/// PIN_MODIFY_STRUCTURE for CHANGE PIN `80 5E 01 00 07 old FF new`: the
/// current PIN at byte 0 and the new one at byte 4, 3-byte BCD blocks.
fn modify_structure(confirm: u8) -> Vec<u8> {
    let template = [0x80, 0x5E, 0x01, 0x00, 0x07, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    let mut s = vec![5, 0, 0x81, 0x03, 0x00, 0, 4, 6, 4, confirm, 0x02, 0x03, 0x09, 0x04, 0, 1, 2, 0, 0, 0];
    s.extend_from_slice(&(template.len() as u32).to_le_bytes());
    s.extend_from_slice(&template);
    s
}

const VERIFY_TEMPLATE: &[u8] = &[0x00, 0x20, 0x00, 0x00, 0x03, 0xFF, 0xFF, 0xFF];

#[test]
fn readers_slots_and_their_names() {
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[PLAIN, PLAIN]), IfdReader::new(&[SHORT])]);
    let ctx = bench.context();
    let names: Vec<String> = ctx.list_readers_owned().unwrap().into_iter().map(|n| n.into_string().unwrap()).collect();
    // The second slot is named as pcscd names a reader's second slot.
    assert_eq!(names, ["SSCard Bench 00 00", "SSCard Bench 00 01", "SSCard Bench B 00 00"]);
    bench.insert(Slot::Card, "card", &[]);
    bench.insert(Slot::Sam, "psam", &[]);
    bench.insert(Slot::Reader(2), "card", &[]);
    for slot in [Slot::Card, Slot::Reader(2)] {
        let card = connect(&bench, &ctx, slot);
        assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
    }
    let psam = connect(&bench, &ctx, Slot::Sam);
    // The PSAM's answer: any status word says the SAM slot carries APDUs.
    assert!(transmit(&psam, &[0x00, 0xB0, 0x96, 0x00, 0x06]).unwrap().len() >= 2);
    assert_eq!(bench.ifd_value(Slot::Sam, "stats", "apdus"), 1);
}

#[test]
fn features_and_properties_with_and_without_a_pad() {
    let mut pad = IfdReader::new(&[PAD]);
    pad.usb_id = (0x257B, 0xC305);
    let mut bench = Bench::start_ifd(&[pad, IfdReader::new(&[SHORT])]);
    bench.insert(Slot::Reader(0), "card", &[]);
    bench.insert(Slot::Reader(2), "card", &[]);
    let ctx = bench.context();
    let with_pad = connect(&bench, &ctx, Slot::Reader(0));
    let without = connect(&bench, &ctx, Slot::Reader(2));

    let f = features(&with_pad);
    let expected: BTreeMap<u8, u32> = [
        (FEATURE_VERIFY_PIN_DIRECT, 0x4233_0006),
        (FEATURE_MODIFY_PIN_DIRECT, 0x4233_0007),
        (FEATURE_IFD_PIN_PROPERTIES, 0x4233_000A),
        (FEATURE_GET_TLV_PROPERTIES, 0x4233_0012),
    ]
    .into();
    assert_eq!(f, expected);
    assert_eq!(features(&without), [(FEATURE_GET_TLV_PROPERTIES, 0x4233_0012)].into());

    let p = properties(&with_pad);
    assert_eq!(le(&p[&PROPERTY_DW_MAX_APDU_DATA_SIZE]), 0x1_0000);
    assert_eq!(le(&p[&PROPERTY_W_ID_VENDOR]), 0x257B);
    assert_eq!(le(&p[&PROPERTY_W_ID_PRODUCT]), 0xC305);
    assert_eq!((p[&PROPERTY_B_MIN_PIN_SIZE][0], p[&PROPERTY_B_MAX_PIN_SIZE][0]), (4, 12));
    let p = properties(&without);
    assert_eq!(le(&p[&PROPERTY_DW_MAX_APDU_DATA_SIZE]), 0, "short: {p:?}");
    assert!(!p.contains_key(&PROPERTY_B_MIN_PIN_SIZE));

    let pin_properties = control(&with_pad, f[&FEATURE_IFD_PIN_PROPERTIES], &[]).unwrap();
    assert_eq!(pin_properties.len(), 4);
    // No pad: its PIN features are not there, as no unknown code is.
    let refused = control(&without, 0x4233_0006, &verify_structure(1, 4, 6, VERIFY_TEMPLATE));
    assert_eq!(refused, Err(pcsc::Error::UnsupportedFeature));
    assert_eq!(control(&with_pad, pcsc::ctl_code(1) as u32, &[1, 2]), Err(pcsc::Error::UnsupportedFeature));
    assert_eq!(control(&with_pad, 0x4233_00FF, &[]), Err(pcsc::Error::UnsupportedFeature));
    // A buffer too small for the answer.
    let mut small = [0u8; 5];
    assert_eq!(with_pad.control(pcsc::ctl_code(3400), &[], &mut small).err(), Some(pcsc::Error::InsufficientBuffer));
}

#[test]
fn a_short_reader_refuses_extended_apdus() {
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[SHORT]), IfdReader::new(&[PLAIN])]);
    bench.insert(Slot::Reader(0), "card", &[]);
    bench.insert(Slot::Reader(2), "card", &[]);
    let ctx = bench.context();
    // READ BINARY with an extended Le of 4096, and a short one.
    let extended = [0x00, 0xB0, 0x00, 0x00, 0x00, 0x10, 0x00];
    let short = [0x00, 0xB0, 0x00, 0x00, 0x00];
    let card = connect(&bench, &ctx, Slot::Reader(0));
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
    assert_eq!(transmit(&card, &extended), Err(pcsc::Error::NotTransacted));
    // The card is still there, and short APDUs still go.
    assert!(transmit(&card, &short).unwrap().len() >= 2);
    assert_eq!(bench.ifd_value(Slot::Reader(0), "stats", "extended"), 0);
    assert_eq!(bench.ifd_value(Slot::Reader(0), "stats", "apdus"), 2);

    let card = connect(&bench, &ctx, Slot::Reader(2));
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
    assert!(transmit(&card, &extended).unwrap().len() >= 2, "the extended reader carries it");
    assert_eq!(bench.ifd_value(Slot::Reader(2), "stats", "extended"), 1);
}

/// VERIFY on the pad; the pad's or the card's answer, and whether the
/// card was sent an APDU.
fn pad_verify(bench: &Bench, card: &Card, structure: &[u8]) -> (Result<Vec<u8>, pcsc::Error>, bool) {
    let before = bench.ifd_value(Slot::Card, "stats", "apdus");
    let answer = control(card, 0x4233_0006, structure);
    let sent = bench.ifd_value(Slot::Card, "stats", "apdus") > before;
    (answer, sent)
}

#[test]
fn verify_pin_on_the_pad() {
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[PAD])]);
    bench.insert(Slot::Card, "card", &[]);
    let ctx = bench.context();
    let card = connect(&bench, &ctx, Slot::Card);
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
    let structure = verify_structure(5, 4, 6, VERIFY_TEMPLATE);

    // Typed while the pad waits: the card got the right PIN.
    thread::scope(|s| {
        s.spawn(|| {
            bench.wait_pad_entry(Slot::Card);
            bench.press(Slot::Card, "123456O");
        });
        let (answer, sent) = pad_verify(&bench, &card, &structure);
        assert_eq!((answer.map(|a| sw(&a)), sent), (Ok(0x9000), true));
    });
    // A wrong PIN: the card counts it.
    bench.press(Slot::Card, "654321O");
    let (answer, sent) = pad_verify(&bench, &card, &structure);
    assert_eq!((answer.map(|a| sw(&a)), sent), (Ok(0x63C2), true));

    // Cancel, then the rest of the keys stay queued until cleared.
    bench.press(Slot::Card, "12C34");
    assert_eq!(pad_verify(&bench, &card, &structure), (Ok(vec![0x64, 0x01]), false));
    assert_eq!(bench.ifd_value(Slot::Card, "status", "queued"), 2);
    bench.ifd_command(Slot::Card, "clear", "");

    // No key until bTimerOut.
    let started = Instant::now();
    assert_eq!(pad_verify(&bench, &card, &verify_structure(1, 4, 6, VERIFY_TEMPLATE)), (Ok(vec![0x64, 0x00]), false));
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());

    // Outside wPINMaxExtraDigit (4 to 6): too short, too long.
    bench.press(Slot::Card, "123O");
    assert_eq!(pad_verify(&bench, &card, &structure), (Ok(vec![0x64, 0x03]), false));
    bench.press(Slot::Card, "1234567O");
    assert_eq!(pad_verify(&bench, &card, &structure), (Ok(vec![0x64, 0x03]), false));

    // Malformed structures: refused before the pad is asked.
    let entries = bench.ifd_value(Slot::Card, "status", "entries");
    let mut inconsistent = structure.clone();
    inconsistent[15] = 0x30;
    let mut outside = structure.clone();
    outside[3] = 0x04; // a 4-byte block in 3 bytes of data
    let mut reserved = structure.clone();
    reserved[2] = 0x83; // PIN format 3
    let mut min_max = structure.clone();
    min_max[6] = 9; // minimum 9 > maximum 6
    for (what, bad) in [
        ("too short", &structure[..20]),
        ("ulDataLength", &inconsistent[..]),
        ("block outside", &outside[..]),
        ("reserved format", &reserved[..]),
        ("min > max", &min_max[..]),
        ("empty", &[][..]),
    ] {
        let (answer, sent) = pad_verify(&bench, &card, bad);
        assert!(answer.is_err() && !sent, "{what}: {answer:02X?}");
    }
    assert_eq!(bench.ifd_value(Slot::Card, "status", "entries"), entries, "the pad was not asked");

    // Still 2 tries left: none of the above reached the card; then right.
    bench.press(Slot::Card, "123456O");
    assert_eq!(pad_verify(&bench, &card, &structure).0.map(|a| sw(&a)), Ok(0x9000));
}

#[test]
fn a_card_pulled_while_the_pad_waits() {
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[PAD])]);
    bench.insert(Slot::Card, "card", &[]);
    let ctx = bench.context();
    let card = connect(&bench, &ctx, Slot::Card);
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
    thread::scope(|s| {
        let pad = s.spawn(|| {
            let started = Instant::now();
            (control(&card, 0x4233_0006, &verify_structure(30, 4, 6, VERIFY_TEMPLATE)), started.elapsed())
        });
        bench.wait_pad_entry(Slot::Card);
        bench.remove(Slot::Card);
        let (answer, waited) = pad.join().unwrap();
        // Not the pad's timeout: the entry ends when the card leaves.
        assert!(answer.is_err(), "{answer:02X?}");
        assert!(waited < Duration::from_secs(10), "{waited:?}");
    });
    assert_eq!(bench.ifd_value(Slot::Card, "status", "entering"), 0);
}

#[test]
fn a_command_too_long_for_a_frame_leaves_the_card() {
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[PLAIN])]);
    bench.insert(Slot::Card, "card", &[]);
    let ctx = bench.context();
    let card = connect(&bench, &ctx, Slot::Card);
    let mut long = vec![0x00, 0xD6, 0x00, 0x00, 0x00, 0xFF, 0xFF];
    long.resize(7 + 0xFFFF, 0xAB);
    assert!(transmit(&card, &long).is_err());
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
}

#[test]
fn a_pad_can_answer_6b80_to_a_wrong_length() {
    let slot = IfdSlot { length_error_6b80: true, ..PAD };
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[slot])]);
    bench.insert(Slot::Card, "card", &[]);
    let ctx = bench.context();
    let card = connect(&bench, &ctx, Slot::Card);
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
    bench.press(Slot::Card, "12O");
    assert_eq!(pad_verify(&bench, &card, &verify_structure(5, 4, 6, VERIFY_TEMPLATE)), (Ok(vec![0x6B, 0x80]), false));
}

#[test]
fn modify_pin_on_the_pad() {
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[PAD])]);
    bench.insert(Slot::Card, "card", &[]);
    let ctx = bench.context();
    let card = connect(&bench, &ctx, Slot::Card);
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
    let modify = 0x4233_0007;

    // The confirmation differs: the card is not asked.
    bench.press(Slot::Card, "123456O13579O24680O");
    let before = bench.ifd_value(Slot::Card, "stats", "apdus");
    assert_eq!(control(&card, modify, &modify_structure(0x03)), Ok(vec![0x64, 0x02]));
    assert_eq!(bench.ifd_value(Slot::Card, "stats", "apdus"), before);

    // Current, new and confirmation: the card takes the 5-digit new PIN.
    bench.press(Slot::Card, "123456O13579O13579O");
    assert_eq!(control(&card, modify, &modify_structure(0x03)).map(|a| sw(&a)), Ok(0x9000));
    // It is 13579: the template's F after the fifth digit was kept.
    bench.press(Slot::Card, "13579O");
    let verify = verify_structure(5, 4, 6, VERIFY_TEMPLATE);
    assert_eq!(pad_verify(&bench, &card, &verify).0.map(|a| sw(&a)), Ok(0x9000));
    bench.press(Slot::Card, "123456O");
    assert_eq!(pad_verify(&bench, &card, &verify).0.map(|a| sw(&a)), Ok(0x63C2));

    // Cancelled at the new PIN.
    bench.press(Slot::Card, "13579O1C");
    assert_eq!(control(&card, modify, &modify_structure(0x03)), Ok(vec![0x64, 0x01]));
    // A malformed one: bNumberMessage 4.
    let mut bad = modify_structure(0x03);
    bad[11] = 4;
    assert!(control(&card, modify, &bad).is_err());
}

#[test]
fn insertion_is_noticed_at_once() {
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[PLAIN])]);
    let ctx = bench.context();
    let name = CString::new(bench.reader_name(Slot::Card)).unwrap();
    let mut times = Vec::new();
    for _ in 0..5 {
        let mut states = [ReaderState::new(name.clone(), State::UNAWARE)];
        ctx.get_status_change(Duration::from_secs(5), &mut states).unwrap();
        states[0].sync_current_state();
        assert!(states[0].event_state().contains(State::EMPTY), "{:?}", states[0].event_state());
        let started = Instant::now();
        let child = bench.spawn_sim(Slot::Card, "card", &[]);
        ctx.get_status_change(Duration::from_secs(10), &mut states).expect("the insertion is noticed");
        let elapsed = started.elapsed();
        assert!(states[0].event_state().contains(State::PRESENT), "{:?}", states[0].event_state());
        times.push(elapsed);
        bench.adopt(Slot::Card, child);
        bench.remove(Slot::Card);
    }
    times.sort();
    // A benchmark, not a timed test: vpcd is polled every 400 ms.
    eprintln!("insertion noticed (simulator start included): median {:?}, all {times:?}", times[times.len() / 2]);
}

#[test]
fn a_simulator_that_dies_mid_session_then_a_new_card() {
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[PLAIN])]);
    // The simulator hangs up instead of answering its second APDU.
    bench.insert(Slot::Card, "card", &["--remove-after", "2"]);
    let ctx = bench.context();
    let card = connect(&bench, &ctx, Slot::Card);
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
    assert!(transmit(&card, SELECT_SSSE).is_err());
    bench.wait_exit(Slot::Card, Duration::from_secs(5));
    bench.wait_card_present(Slot::Card, false);
    drop(card);

    // A new card is accepted, then killed outright (SIGKILL) between APDUs.
    let mut sim = bench.spawn_sim(Slot::Card, "card", &[]);
    bench.wait_card_present(Slot::Card, true);
    let card = connect(&bench, &ctx, Slot::Card);
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
    sim.kill().unwrap();
    sim.wait().unwrap();
    // The driver sees the hang-up by itself, before any APDU.
    bench.wait_card_present(Slot::Card, false);
    assert!(transmit(&card, SELECT_SSSE).is_err());
    drop(card);

    // And the slot takes the next one.
    bench.insert(Slot::Card, "card", &[]);
    let card = connect(&bench, &ctx, Slot::Card);
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
}

#[test]
fn pcscd_restarting() {
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[PAD, PLAIN])]);
    bench.insert(Slot::Card, "card", &[]);
    bench.kill_pcscd();
    // The simulator lost its reader; the new pcscd's driver binds again.
    bench.wait_exit(Slot::Card, Duration::from_secs(5));
    bench.start_pcscd();
    bench.insert(Slot::Card, "card", &[]);
    let ctx = bench.context();
    let card = connect(&bench, &ctx, Slot::Card);
    assert_eq!(sw(&transmit(&card, SELECT_SSSE).unwrap()), 0x9000);
    bench.press(Slot::Card, "123456O");
    let answer = control(&card, 0x4233_0006, &verify_structure(5, 4, 6, VERIFY_TEMPLATE));
    assert_eq!(answer.map(|a| sw(&a)), Ok(0x9000));
}

#[test]
fn a_pad_wait_holds_only_its_own_reader() {
    let mut bench = Bench::start_ifd(&[IfdReader::new(&[PAD, PLAIN]), IfdReader::new(&[PLAIN])]);
    bench.insert(Slot::Card, "card", &[]);
    bench.insert(Slot::Sam, "psam", &[]);
    bench.insert(Slot::Reader(2), "card", &[]);
    // A context per thread: libpcsclite serializes the calls of one context.
    let (ctx, ctx2) = (bench.context(), bench.context());
    let waiting = connect(&bench, &ctx, Slot::Card);
    let sam = connect(&bench, &ctx2, Slot::Sam);
    let other = connect(&bench, &ctx2, Slot::Reader(2));
    thread::scope(|s| {
        let pad = s.spawn(|| control(&waiting, 0x4233_0006, &verify_structure(3, 4, 6, VERIFY_TEMPLATE)));
        bench.wait_pad_entry(Slot::Card);
        let started = Instant::now();
        assert_eq!(sw(&transmit(&other, SELECT_SSSE).unwrap()), 0x9000);
        assert!(transmit(&sam, &[0x00, 0xB0, 0x96, 0x00, 0x06]).unwrap().len() >= 2);
        let served = started.elapsed();
        assert!(served < Duration::from_secs(2), "served in {served:?} while the pad waited");
        eprintln!("other reader and SAM slot served in {served:?} during a pad wait");
        assert_eq!(pad.join().unwrap(), Ok(vec![0x64, 0x00]));
    });
}
