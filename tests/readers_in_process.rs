//! The field's readers, in process (issue 19, "sscardd asks the reader"):
//! what a reader says of itself through PC/SC part 10 reaches `Reader1`'s
//! `PinPad`, `ExtendedApdu` and `Features`, and a reader at the short-APDU
//! level gets the gen3 photo in short chunks, read and written, while one
//! that passes extended APDUs gets it in one. The same through real pcscd
//! and the virtual reader driver is the bench's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_service::ServiceConfig;
use sscard_sim::Generation;
use sscard_testkit as support;
use sscard_transport::ReaderFeatures;
use sscard_transport::part10::{feature, property};
use sscard_transport::shape::{LengthForm, classify};
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
