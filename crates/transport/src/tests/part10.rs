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
