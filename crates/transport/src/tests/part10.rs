use super::*;

/// The feature list of a PIN-pad CCID reader: VERIFY and MODIFY direct,
/// IFD_PIN_PROPERTIES and GET_TLV_PROPERTIES, each with the driver's code.
const PIN_PAD_FEATURES: [u8; 24] = [
    0x06, 4, 0x42, 0x33, 0x00, 0x06, //
    0x07, 4, 0x42, 0x33, 0x00, 0x07, //
    0x0A, 4, 0x42, 0x33, 0x00, 0x0A, //
    0x12, 4, 0x42, 0x33, 0x00, 0x12,
];

#[test]
fn the_feature_list_gives_each_control_code_big_endian() {
    let controls = ReaderFeatures::parse_feature_list(&PIN_PAD_FEATURES);
    assert_eq!(controls.len(), 4);
    let features = ReaderFeatures { controls, ..ReaderFeatures::default() };
    assert_eq!(features.control(feature::VERIFY_PIN_DIRECT), Some(0x4233_0006));
    assert_eq!(features.control(feature::GET_TLV_PROPERTIES), Some(0x4233_0012));
    assert!(features.pin_pad());
    assert!(!ReaderFeatures::default().pin_pad());
}

#[test]
fn a_malformed_feature_list_keeps_what_is_whole() {
    // A TLV of length 2 is skipped; a cut one ends the list.
    let answer = [0x06, 2, 0xAA, 0xBB, 0x12, 4, 0x42, 0x33, 0x00, 0x12, 0x07, 4, 0x42];
    assert_eq!(ReaderFeatures::parse_feature_list(&answer), [(0x12, 0x4233_0012)]);
    assert!(ReaderFeatures::parse_feature_list(&[0x06]).is_empty());
    assert!(ReaderFeatures::parse_feature_list(&[]).is_empty());
}

#[test]
fn tlv_properties_are_little_endian_and_zero_apdu_data_means_short() {
    let mut features = ReaderFeatures::default();
    assert!(features.extended_apdu(), "a reader that says nothing is taken to pass extended APDUs");
    let answer = [
        property::LCD_LAYOUT,
        2,
        0x10,
        0x02, // 2 lines of 16
        property::MIN_PIN_SIZE,
        1,
        4, //
        property::MAX_PIN_SIZE,
        1,
        12, //
        property::MAX_APDU_DATA_SIZE,
        4,
        0,
        0,
        0,
        0, //
        property::ID_VENDOR,
        2,
        0x7B,
        0x25, // 257B
        property::ID_PRODUCT,
        2,
        0x05,
        0xC3, // C305
        property::FIRMWARE_ID,
        3,
        b'D',
        b'C',
        0x01,
    ];
    features.add_tlv_properties(&answer);
    assert_eq!(features.lcd_layout, Some(0x0210));
    assert_eq!((features.min_pin_size, features.max_pin_size), (Some(4), Some(12)));
    assert_eq!(features.max_apdu_data_size, Some(0));
    assert!(!features.extended_apdu());
    assert_eq!((features.vendor_id, features.product_id), (Some(0x257B), Some(0xC305)));
    assert_eq!(features.firmware_id.as_deref(), Some("DC?"));
    features.add_tlv_properties(&[property::MAX_APDU_DATA_SIZE, 4, 0x00, 0x00, 0x01, 0x00]);
    assert_eq!(features.max_apdu_data_size, Some(65536));
    assert!(features.extended_apdu());
}

#[test]
fn a_property_of_the_wrong_width_is_left_out() {
    let mut features = ReaderFeatures::default();
    features.add_tlv_properties(&[property::MAX_APDU_DATA_SIZE, 2, 0, 0, property::MIN_PIN_SIZE, 1, 6]);
    assert_eq!(features.max_apdu_data_size, None);
    assert_eq!(features.min_pin_size, Some(6));
    // A cut TLV ends the list.
    features.add_tlv_properties(&[property::MAX_PIN_SIZE, 4, 8]);
    assert_eq!(features.max_pin_size, None);
}

#[test]
fn pin_properties_fill_only_what_the_tlv_properties_left_open() {
    let mut features = ReaderFeatures::default();
    features.add_tlv_properties(&[property::TIMEOUT2, 1, 15]);
    features.add_pin_properties(&[0x00, 0x00, 0x02, 30]);
    assert_eq!(features.lcd_layout, Some(0));
    assert_eq!(features.entry_validation_condition, Some(2));
    assert_eq!(features.timeout2, Some(15));
    let mut short = ReaderFeatures::default();
    short.add_pin_properties(&[0x00, 0x00]);
    assert_eq!(short, ReaderFeatures::default());
}

fn verify_request() -> PinPadRequest {
    PinPadRequest {
        template: vec![0x00, 0x20, 0x00, 0x00, 0x03, 0xFF, 0xFF, 0xFF],
        entry: PinPadEntry::Verify { offset: 0 },
        min_digits: 6,
        max_digits: 6,
        timeout_s: 30,
    }
}

#[test]
fn a_verify_structure_is_laid_out_as_reader_h_packs_it() {
    let structure = verify_request().structure().expect("a structure");
    #[rustfmt::skip]
    let expected = [
        30, 30,             // bTimerOut, bTimerOut2
        0x81,               // bmFormatString: bytes, position 0, left, BCD
        0x03,               // bmPINBlockString: no length field, 3 bytes
        0x00,               // bmPINLengthFormat
        0x06, 0x06,         // wPINMaxExtraDigit: 6..6, little-endian
        0x02,               // bEntryValidationCondition: the validation key
        0x01,               // bNumberMessage
        0x04, 0x08,         // wLangId 0x0804
        0x00,               // bMsgIndex
        0, 0, 0,            // bTeoPrologue
        8, 0, 0, 0,         // ulDataLength
        0x00, 0x20, 0x00, 0x00, 0x03, 0xFF, 0xFF, 0xFF,
    ];
    assert_eq!(structure, expected);
}

#[test]
fn a_modify_structure_places_both_pins_and_asks_for_confirmation() {
    let request = PinPadRequest {
        template: vec![0x80, 0x5E, 0x01, 0x00, 0x07, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        entry: PinPadEntry::Modify { old_offset: 0, new_offset: 4 },
        ..verify_request()
    };
    let structure = request.structure().expect("a structure");
    assert_eq!(&structure[2..7], &[0x81, 0x03, 0x00, 0x00, 0x04], "format, block, length format, offsets");
    assert_eq!(&structure[7..10], &[0x06, 0x06, 0x03], "min and max digits, bConfirmPIN");
    assert_eq!(structure[11], 3, "three messages: current, new, confirmation");
    assert_eq!(&structure[14..17], &[0, 1, 2], "bMsgIndex1..3");
    assert_eq!(&structure[20..24], &[12, 0, 0, 0], "ulDataLength, after the 3-byte T=1 prologue");
    assert_eq!(structure.len(), 24 + 12);
    // A VERIFY's PIN position goes into bmFormatString's bits 6-3.
    let at_two = PinPadRequest { entry: PinPadEntry::Verify { offset: 2 }, ..verify_request() };
    assert_eq!(at_two.structure().expect("a structure")[2], 0x81 | (2 << 3));
}

#[test]
fn the_pad_writes_packed_bcd_left_justified_and_keeps_the_rest() {
    let filled = verify_request().fill(&[b"802413"]).expect("fits");
    assert_eq!(filled.as_slice(), &[0x00, 0x20, 0x00, 0x00, 0x03, 0x80, 0x24, 0x13]);
    // Five digits leave the template's F nibble.
    let short = PinPadRequest { min_digits: 4, ..verify_request() };
    assert_eq!(short.fill(&[b"80241"]).expect("fits")[5..], [0x80, 0x24, 0x1F]);
    assert!(verify_request().fill(&[b"8024139"]).is_none(), "more digits than the block");
    assert!(verify_request().fill(&[b"80241x"]).is_none(), "not digits");
    assert!(verify_request().fill(&[b"802413", b"123456"]).is_none(), "a VERIFY takes one PIN");
    assert_eq!(PadRefusal::of_status(0x6401), Some(PadRefusal::Cancelled));
    assert_eq!(PadRefusal::of_status(0x6B80), Some(PadRefusal::Length));
    assert_eq!(PadRefusal::of_status(0x63C2), None);
}
