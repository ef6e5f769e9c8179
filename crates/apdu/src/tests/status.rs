use super::*;
use proptest::prelude::*;

#[test]
fn profile_table_meanings() {
    let table: &[(u16, StatusWord)] = &[
        (0x9000, StatusWord::Success),
        (0x6110, StatusWord::BytesAvailable(0x10)),
        (0x6283, StatusWord::ApplicationDeactivated),
        (0x6300, StatusWord::AuthenticationFailed),
        (0x63C2, StatusWord::WrongPin { tries_left: 2 }),
        (0x63C0, StatusWord::WrongPin { tries_left: 0 }),
        (0x6581, StatusWord::MemoryFailure),
        (0x6700, StatusWord::WrongLength),
        (0x6982, StatusWord::SecurityStatusNotSatisfied),
        (0x6983, StatusWord::AuthenticationMethodBlocked),
        (0x6984, StatusWord::ReferencedDataInvalid),
        (0x6985, StatusWord::ConditionsOfUseNotSatisfied),
        (0x6986, StatusWord::CommandNotAllowed),
        (0x6988, StatusWord::SecureMessagingDataWrong),
        (0x6A80, StatusWord::IncorrectData),
        (0x6A82, StatusWord::FileNotFound),
        (0x6A83, StatusWord::RecordNotFound),
        (0x6A86, StatusWord::WrongP1P2),
        (0x6A88, StatusWord::KeyNotFound),
        (0x6B00, StatusWord::WrongOffset),
        (0x6C12, StatusWord::WrongLe(0x12)),
        (0x6D00, StatusWord::InstructionNotSupported),
        (0x9303, StatusWord::ApplicationPermanentlyBlocked),
        (0x6E00, StatusWord::Other(0x6E00)),
        (0x6310, StatusWord::Other(0x6310)),
    ];
    for &(raw, typed) in table {
        assert_eq!(StatusWord::from_u16(raw), typed, "{raw:04X}");
        assert_eq!(typed.to_u16(), raw);
    }
}

proptest! {
    #[test]
    fn every_status_word_round_trips(raw in any::<u16>()) {
        prop_assert_eq!(StatusWord::from_u16(raw).to_u16(), raw);
    }
}

#[test]
fn select_success_includes_6283() {
    assert!(StatusWord::Success.is_select_success());
    assert!(StatusWord::ApplicationDeactivated.is_select_success());
    assert!(!StatusWord::ApplicationDeactivated.is_success());
    assert!(!StatusWord::FileNotFound.is_select_success());
}
