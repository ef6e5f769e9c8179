//! The field's readers, in process (issue 19, "sscardd asks the reader"):
//! what a reader says of itself through PC/SC part 10 reaches `Reader1`'s
//! `PinPad`, `ExtendedApdu` and `Features`, and a reader at the short-APDU
//! level gets the gen3 photo in short chunks, read and written, while one
//! that passes extended APDUs gets it in one. The same through real pcscd
//! and the virtual reader driver is the bench's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

const SSN: &str = "11010519491231002X";

use sscard_client::{CallError, CallErrorKind};
use sscard_contract::ErrorName;
use sscard_service::ServiceConfig;
use sscard_sim::Generation;
use sscard_testkit as support;
use sscard_transport::part10::{feature, property};
use sscard_transport::shape::{LengthForm, classify};
use sscard_transport::{PadKeys, PinPadEntry, ReaderFeatures};
use support::client::{bytes, holder_dict, no_opts, opts};
use support::in_process::{InProcessDaemon, blank_card, reference_psam};

/// A reader at the short-APDU level that says so, as the CCID driver does
/// for Decard's DC4 (USB 257B:C305).
fn short_reader() -> ReaderFeatures {
    let mut features =
        ReaderFeatures { controls: vec![(feature::GET_TLV_PROPERTIES, 0x4233_0012)], ..ReaderFeatures::default() };
    features.add_tlv_properties(&[
        property::MAX_APDU_DATA_SIZE,
        4,
        0,
        0,
        0,
        0, //
        property::ID_VENDOR,
        2,
        0x7B,
        0x25, //
        property::ID_PRODUCT,
        2,
        0x05,
        0xC3,
    ]);
    features
}

/// A PIN-pad reader that passes extended APDUs.
fn pin_pad_reader() -> ReaderFeatures {
    let mut features = ReaderFeatures {
        controls: vec![
            (feature::VERIFY_PIN_DIRECT, 0x4233_0006),
            (feature::MODIFY_PIN_DIRECT, 0x4233_0007),
            (feature::IFD_PIN_PROPERTIES, 0x4233_000A),
            (feature::GET_TLV_PROPERTIES, 0x4233_0012),
        ],
        ..ReaderFeatures::default()
    };
    features.add_tlv_properties(&[
        property::MIN_PIN_SIZE,
        1,
        4, //
        property::MAX_PIN_SIZE,
        1,
        12, //
        property::MAX_APDU_DATA_SIZE,
        4,
        0x00,
        0x00,
        0x01,
        0x00,
    ]);
    features
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_reader_says_of_itself_is_on_the_bus() {
    let (rig, _readers) = InProcessDaemon::start_with_features(
        &[("Short", short_reader()), ("Pad", pin_pad_reader()), ("Plain", ReaderFeatures::default())],
        ServiceConfig::default(),
    )
    .await;
    let short = rig.reader("Short").await;
    assert!(!short.extended_apdu().await.unwrap());
    assert!(!short.pin_pad().await.unwrap());
    let features = short.features().await.unwrap();
    assert_eq!(features.get("max_apdu_data_size").map(|v| u32::try_from(v).unwrap()), Some(0));
    assert_eq!(features.get("vendor_id").map(|v| u16::try_from(v).unwrap()), Some(0x257B));
    assert_eq!(features.get("product_id").map(|v| u16::try_from(v).unwrap()), Some(0xC305));

    let pad = rig.reader("Pad").await;
    assert!(pad.pin_pad().await.unwrap() && pad.extended_apdu().await.unwrap());
    let features = pad.features().await.unwrap();
    let names: Vec<String> = features.get("features").map(|v| Vec::<String>::try_from(v.clone()).unwrap()).unwrap();
    assert_eq!(names, ["VERIFY_PIN_DIRECT", "MODIFY_PIN_DIRECT", "IFD_PIN_PROPERTIES", "GET_TLV_PROPERTIES"]);
    assert_eq!(features.get("min_pin_size").map(|v| u8::try_from(v).unwrap()), Some(4));
    assert_eq!(features.get("max_pin_size").map(|v| u8::try_from(v).unwrap()), Some(12));
    assert_eq!(features.get("max_apdu_data_size").map(|v| u32::try_from(v).unwrap()), Some(65536));

    // A reader that answers nothing (vpcd) has no features and is taken to
    // pass extended APDUs, as before sscardd asked.
    let plain = rig.reader("Plain").await;
    assert!(plain.extended_apdu().await.unwrap() && !plain.pin_pad().await.unwrap());
    let features = plain.features().await.unwrap();
    let names = features.get("features").map(|v| Vec::<String>::try_from(v.clone()).unwrap());
    assert_eq!(names, Some(Vec::new()));
    assert_eq!(features.len(), 1, "{:?}", features.keys().collect::<Vec<_>>());
}

/// The commands of one call: what the reader's log gained meanwhile.
struct Sent {
    write: Vec<Vec<u8>>,
    read: Vec<Vec<u8>>,
}

impl Sent {
    /// EF08's READ BINARY (by SFI 8, or by offset into it) of the read.
    fn photo_reads(&self) -> Vec<&Vec<u8>> {
        self.read.iter().filter(|a| a[1] == 0xB0 && (a[2] == 0x88 || a[2] < 0x80)).collect()
    }

    /// EF08's UPDATE BINARY of the write.
    fn photo_updates(&self) -> Vec<&Vec<u8>> {
        self.write.iter().filter(|a| a[1] == 0xD6 && (a[2] == 0x88 || a[2] < 0x80)).collect()
    }
}

fn is_extended(apdu: &[u8]) -> bool {
    classify(apdu).is_ok_and(|s| s.form == LengthForm::Extended)
}

/// Personalises a gen3 card with a photo of `photo_len` bytes in a reader
/// that says `features`, and reads it back with the photo.
async fn photo_round_trip(features: ReaderFeatures, photo_len: usize) -> Sent {
    let readers = [("Card", features), ("PSAM", ReaderFeatures::default())];
    let (rig, readers) = InProcessDaemon::start_with_features(&readers, ServiceConfig::default()).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen3, 1)).await;
    let reader = rig.reader("Card").await;
    let record = holder_dict(3, Some(photo_len));
    let written_photo = bytes(&record, "photo").unwrap();
    let logged = |from: usize| -> Vec<Vec<u8>> { readers[0].log()[from..].iter().map(|a| a.to_vec()).collect() };
    let start = readers[0].log().len();
    reader.write_holder_record(record, no_opts()).await.expect("WriteHolderRecord with the photo");
    let write = logged(start);
    let start = readers[0].log().len();
    let info = reader.read_card(opts(&[("photo", true)])).await.expect("ReadCard with the photo");
    let read = logged(start);
    assert_eq!(bytes(&info, "photo").as_deref(), Some(written_photo.as_slice()), "the photo reads back as written");
    Sent { write, read }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_apdu_reader_gets_the_gen3_photo_in_short_chunks() {
    let sent = photo_round_trip(short_reader(), 4000).await;
    let extended: Vec<&Vec<u8>> = sent.write.iter().chain(&sent.read).filter(|a| is_extended(a)).collect();
    assert!(extended.is_empty(), "no extended APDU to a short-APDU reader: {extended:02X?}");
    // EF08 holds 4002 bytes (the length and the JPEG): 16 chunks of at
    // most 255 each way, the first by SFI, the last read asking for
    // exactly what is left (4002 - 15 × 255 = 177).
    let updates = sent.photo_updates();
    assert_eq!(updates.len(), 16, "{updates:02X?}");
    assert_eq!(&updates[0][..5], &[0x00, 0xD6, 0x88, 0x00, 0xFF]);
    assert_eq!(&updates[15][..5], &[0x00, 0xD6, 0x0E, 0xF1, 177]);
    let reads = sent.photo_reads();
    assert_eq!(reads.len(), 16, "{reads:02X?}");
    assert_eq!(reads[0].as_slice(), &[0x00, 0xB0, 0x88, 0x00, 0xFF]);
    assert_eq!(reads[1].as_slice(), &[0x00, 0xB0, 0x00, 0xFF, 0xFF]);
    assert_eq!(reads[15].as_slice(), &[0x00, 0xB0, 0x0E, 0xF1, 177]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_passes_extended_apdus_gets_the_photo_in_one() {
    let sent = photo_round_trip(pin_pad_reader(), 4000).await;
    let reads = sent.photo_reads();
    assert_eq!(reads.len(), 1, "{reads:02X?}");
    assert_eq!(reads[0].as_slice(), &[0x00, 0xB0, 0x88, 0x00, 0x00, 0x20, 0x00]);
    let updates = sent.photo_updates();
    assert_eq!(updates.len(), 1, "{:02X?}", updates.iter().map(|a| &a[..7]).collect::<Vec<_>>());
    assert!(is_extended(updates[0]) && updates[0][..4] == [0x00, 0xD6, 0x88, 0x00]);
}

/// A PIN-pad reader "Pad" holding a personalised gen3 card, and the PSAM.
async fn pad_rig() -> (InProcessDaemon, Vec<sscard_transport::VirtualReader>) {
    let readers =
        [("Pad", pin_pad_reader()), ("PSAM", ReaderFeatures::default()), ("Plain", ReaderFeatures::default())];
    let (rig, readers) = InProcessDaemon::start_with_features(&readers, ServiceConfig::default()).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    rig.insert(&readers[0], "Pad", blank_card(Generation::Gen3, 1)).await;
    rig.reader("Pad").await.write_holder_record(holder_dict(3, None), no_opts()).await.expect("personalise");
    (rig, readers)
}

fn pad() -> sscard_client::Dict {
    opts(&[("pin_pad", true)])
}

/// The daemon's error of a failed call, with its details.
fn daemon_error<T: std::fmt::Debug>(result: zbus::Result<T>) -> CallError {
    let e = CallError::from(result.expect_err("an error"));
    assert!(matches!(e.kind, CallErrorKind::Daemon(Some(_))), "not one of the daemon's errors: {e}");
    e
}

/// The VERIFY and CHANGE PIN commands with data the card was sent.
fn pin_commands(reader: &sscard_transport::VirtualReader) -> Vec<Vec<u8>> {
    let is_pin = |a: &[u8]| a.len() > 5 && matches!((a[0], a[1]), (0x00, 0x20) | (0x80, 0x5E));
    reader.log().iter().filter(|a| is_pin(a)).map(|a| a.to_vec()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keypad_verifies_and_changes_the_pin_without_it_crossing_the_bus() {
    let (rig, readers) = pad_rig().await;
    let reader = rig.reader("Pad").await;
    readers[0].type_on_pad([PadKeys::digits("123456")]);
    assert_eq!(reader.verify_pin("", pad()).await.expect("VerifyPin on the pad"), (true, 3));
    // The pad wrote the digits into the profile's VERIFY, packed BCD.
    let sent = pin_commands(&readers[0]);
    assert_eq!(sent, [vec![0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x56]]);
    let requests = readers[0].pad_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].entry, PinPadEntry::Verify { offset: 0 });
    assert_eq!((requests[0].min_digits, requests[0].max_digits), (6, 6));
    assert_eq!(requests[0].template, [0x00, 0x20, 0x00, 0x00, 0x03, 0xFF, 0xFF, 0xFF]);

    readers[0].type_on_pad([PadKeys::digits("000000")]);
    assert_eq!(reader.verify_pin("", pad()).await.expect("a wrong PIN on the pad"), (false, 2));

    // CHANGE PIN: the current PIN, the new one, its confirmation.
    readers[0].type_on_pad(["123456", "802413", "802413"].map(PadKeys::digits));
    reader.change_pin("", "", pad()).await.expect("ChangePin on the pad");
    let change = readers[0].pad_requests().pop().expect("a request");
    assert_eq!(change.entry, PinPadEntry::Modify { old_offset: 0, new_offset: 4 });
    assert_eq!(
        pin_commands(&readers[0]).last().map(|a| a[5..].to_vec()),
        Some(vec![0x12, 0x34, 0x56, 0xFF, 0x80, 0x24, 0x13])
    );
    // The host's VERIFY takes the new PIN.
    assert_eq!(reader.verify_pin("802413", no_opts()).await.expect("VerifyPin"), (true, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_on_the_keypad_asks_for_the_initial_pin_once() {
    let (rig, readers) = pad_rig().await;
    let reader = rig.reader("Pad").await;
    readers[0].type_on_pad(["123456", "802413", "802413"].map(PadKeys::digits));
    let info = reader.activate(SSN, "", "", pad()).await.expect("Activate on the pad");
    assert_eq!(support::client::text(&info, "state").as_deref(), Some("active"));
    let requests = readers[0].pad_requests();
    assert_eq!(requests.len(), 1, "one CHANGE PIN, no VERIFY of the initial PIN before it");
    assert_eq!(requests[0].entry, PinPadEntry::Modify { old_offset: 0, new_offset: 4 });
    assert_eq!(reader.verify_pin("802413", no_opts()).await.expect("VerifyPin"), (true, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pads_refusals_are_named_and_the_card_is_not_asked() {
    let (rig, readers) = pad_rig().await;
    let reader = rig.reader("Pad").await;
    let before = pin_commands(&readers[0]).len();
    readers[0].type_on_pad([PadKeys::Cancel]);
    let e = daemon_error(reader.verify_pin("", pad()).await);
    assert_eq!(e.name(), Some(ErrorName::PinEntryCancelled), "{e}");
    readers[0].type_on_pad([PadKeys::Nothing]);
    assert_eq!(daemon_error(reader.verify_pin("", pad()).await).name(), Some(ErrorName::Timeout));
    readers[0].type_on_pad([PadKeys::digits("1234")]);
    let e = daemon_error(reader.verify_pin("", pad()).await);
    assert_eq!(
        (e.name(), e.details.field.as_deref(), e.details.rule.as_deref()),
        (Some(ErrorName::InvalidArgument), Some("pin"), Some("pin_length")),
        "{e}"
    );
    // Pads that answer 6B 80 to a length they refuse.
    readers[0].set_pad_length_refusal([0x6B, 0x80]);
    readers[0].type_on_pad([PadKeys::digits("1234567")]);
    assert_eq!(daemon_error(reader.verify_pin("", pad()).await).details.rule.as_deref(), Some("pin_length"));
    readers[0].type_on_pad(["123456", "802413", "802414"].map(PadKeys::digits));
    let e = daemon_error(reader.change_pin("", "", pad()).await);
    assert_eq!(
        (e.details.field.as_deref(), e.details.rule.as_deref()),
        (Some("new_pin"), Some("pin_confirmation_differs")),
        "{e}"
    );
    assert_eq!(pin_commands(&readers[0]).len(), before, "no PIN command reached the card");
    // No try was spent.
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (3, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_pad_is_refused_with_a_pin_or_without_a_pad_before_any_apdu() {
    let (rig, readers) = pad_rig().await;
    let pad_reader = rig.reader("Pad").await;
    let before = readers[0].log().len();
    let e = daemon_error(pad_reader.verify_pin("123456", pad()).await);
    assert_eq!(
        (e.name(), e.details.field.as_deref(), e.details.rule.as_deref()),
        (Some(ErrorName::InvalidArgument), Some("pin"), Some("pin_with_pin_pad")),
        "{e}"
    );
    assert!(!e.message.contains("123456"), "{e}");
    let e = daemon_error(pad_reader.change_pin("", "802413", pad()).await);
    assert_eq!(e.details.field.as_deref(), Some("new_pin"), "{e}");
    assert_eq!(readers[0].log().len(), before, "nothing was sent");
    // A reader without a pad.
    rig.insert(&readers[2], "Plain", blank_card(Generation::Gen3, 2)).await;
    let plain = rig.reader("Plain").await;
    let before = readers[2].log().len();
    let e = daemon_error(plain.verify_pin("", pad()).await);
    assert_eq!(e.name(), Some(ErrorName::NoPinPad), "{e}");
    let e = daemon_error(plain.activate(SSN, "", "", pad()).await);
    assert_eq!(e.name(), Some(ErrorName::NoPinPad), "{e}");
    assert_eq!(readers[2].log().len(), before, "nothing was sent");
}

/// The national functions' arguments, for `iVerifyPIN` and `iChangePIN`.
struct TypeOnly;

impl sscard::dispatch::Arguments for TypeOnly {
    fn int(&self, _arg: sscard_contract::national::Arg) -> Result<i32, sscard::NationalError> {
        Ok(3)
    }
    fn text(&self, arg: sscard_contract::national::Arg) -> Result<zeroize::Zeroizing<String>, sscard::NationalError> {
        panic!("{arg:?} is no argument of the PIN functions")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_national_pin_functions_use_the_keypad_and_ask_pinentry_nothing() {
    let (rig, readers) = pad_rig().await;
    let terminal = sscard::Terminal::with_connection(rig.client.clone()).with_reader("Pad");
    let call = async |function: &str, pins: &mut sscard::pinentry::ScriptedPins| {
        sscard::dispatch::run(&terminal, function, &TypeOnly, pins).await.map_err(|e| e.code.value())
    };
    let mut pinentry = sscard::pinentry::ScriptedPins::new(Vec::new());
    readers[0].type_on_pad([PadKeys::digits("123456")]);
    assert_eq!(call("iVerifyPIN", &mut pinentry).await, Ok(String::new()));
    readers[0].type_on_pad([PadKeys::digits("000000")]);
    assert_eq!(call("iVerifyPIN", &mut pinentry).await, Err(-51));
    readers[0].type_on_pad([PadKeys::Cancel]);
    assert_eq!(call("iVerifyPIN", &mut pinentry).await, Err(-31));
    readers[0].type_on_pad([PadKeys::Nothing]);
    assert_eq!(call("iVerifyPIN", &mut pinentry).await, Err(-32));
    readers[0].type_on_pad([PadKeys::digits("12345")]);
    assert_eq!(call("iVerifyPIN", &mut pinentry).await, Err(-33));
    readers[0].type_on_pad(["123456", "802413", "802414"].map(PadKeys::digits));
    assert_eq!(call("iChangePIN", &mut pinentry).await, Err(-34));
    readers[0].type_on_pad(["123456", "802413", "802413"].map(PadKeys::digits));
    assert_eq!(call("iChangePIN", &mut pinentry).await, Ok(String::new()));
    assert!(pinentry.prompts().is_empty(), "pinentry was asked: {:?}", pinentry.prompts());
    assert_eq!(readers[0].pad_requests().len(), 7);
}
