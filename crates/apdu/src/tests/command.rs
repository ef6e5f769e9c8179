use super::*;
use proptest::prelude::*;

#[test]
fn select_ssse_encodes_as_in_the_profile() {
    let aid = hex::decode("7378312E73682EC9E7BBE1B1A3D5CF").unwrap_or_default();
    let cmd = Command::new(0x00, 0xA4, 0x04, 0x00).with_data(aid).unwrap().with_ne(256).unwrap();
    assert_eq!(hex::encode_upper(&*cmd.to_bytes()), "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00");
}

#[test]
fn extended_forms() {
    let cmd = Command::new(0, 0xD6, 0x88, 0).with_data(vec![0xAB; 300]).unwrap();
    let bytes = cmd.to_bytes();
    assert_eq!(&bytes[4..7], &[0x00, 0x01, 0x2C]);
    assert_eq!(bytes.len(), 307);
    let read = Command::new(0, 0xB0, 0x88, 0).with_ne(65_536).unwrap();
    assert_eq!(&*read.to_bytes(), &[0, 0xB0, 0x88, 0, 0, 0, 0]);
    let read = Command::new(0, 0xB0, 0x88, 0).with_ne(8192).unwrap();
    assert_eq!(&*read.to_bytes(), &[0, 0xB0, 0x88, 0, 0, 0x20, 0x00]);
    assert_eq!(read.length_form(), LengthForm::Extended);
}

#[test]
fn malformed_commands_are_rejected() {
    assert_eq!(Command::parse(&[0, 0xA4, 4]).err(), Some(CommandError::Shape(ShapeError::TooShort)));
    // Lc says 3 but only 2 data bytes follow.
    assert_eq!(Command::parse(&[0, 0xDC, 1, 0x2C, 3, 1, 2]).err(), Some(CommandError::Shape(ShapeError::BadLength(7))));
    // Extended with Lc 0000 and data.
    assert!(Command::parse(&[0, 0xDC, 1, 0x2C, 0, 0, 0, 9]).is_err());
    // A 6-byte extended APDU is impossible.
    assert!(Command::parse(&[0, 0xB0, 0, 0, 0, 1]).is_err());
    assert_eq!(Command::new(0, 0, 0, 0).with_ne(0).err(), Some(CommandError::BadNe(0)));
    assert!(Command::new(0, 0, 0, 0).with_data(vec![0; 65_536]).is_err());
}

#[test]
fn le_zero_means_maximum() {
    let (c, f) = Command::parse(&[0, 0xB0, 0x88, 0, 0]).unwrap();
    assert_eq!((c.ne(), f), (Some(256), LengthForm::Short));
    let (c, f) = Command::parse(&[0, 0xB0, 0x88, 0, 0, 0, 0]).unwrap();
    assert_eq!((c.ne(), f), (Some(65_536), LengthForm::Extended));
}

#[test]
fn debug_hides_the_data() {
    let cmd = Command::new(0, 0x20, 0, 0).with_data(vec![0x12, 0x34, 0x56]).unwrap();
    let shown = format!("{cmd:?}");
    assert!(!shown.contains("123456") && !shown.contains("18, 52"), "{shown}");
    assert!(shown.contains("data_len: 3"));
}

fn any_command() -> impl Strategy<Value = Command> {
    (
        any::<[u8; 4]>(),
        prop_oneof![Just(0usize), 1usize..=255, 256usize..=600, Just(65_535usize)],
        prop_oneof![Just(None), (1usize..=256).prop_map(Some), (257usize..=65_536).prop_map(Some)],
    )
        .prop_map(|([cla, ins, p1, p2], nc, ne)| {
            let mut c = Command::new(cla, ins, p1, p2);
            c.data = Zeroizing::new((0..nc).map(|i| i as u8).collect());
            c.ne = ne;
            c
        })
}

proptest! {
    #[test]
    fn build_then_parse_round_trips(cmd in any_command()) {
        let bytes = cmd.to_bytes();
        let (parsed, form) = Command::parse(&bytes).unwrap();
        prop_assert_eq!(form, cmd.length_form());
        prop_assert_eq!(parsed, cmd);
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok((cmd, _)) = Command::parse(&bytes) {
            // Whatever parses re-encodes to an equivalent command.
            let (again, _) = Command::parse(&cmd.to_bytes()).unwrap();
            prop_assert_eq!(again, cmd);
        }
    }
}
