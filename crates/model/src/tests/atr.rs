use super::*;

fn atr(hex: &str) -> Atr {
    Atr::parse(&hex::decode(hex.replace(' ', "")).unwrap_or_default())
}

#[test]
fn gen3_reference_atr_offers_t1_and_extended_length() {
    let a = atr("3B 85 80 01 80 73 00 00 C0 37");
    assert_eq!(a.historical, vec![0x80, 0x73, 0x00, 0x00, 0xC0]);
    assert_eq!(a.protocol, Protocol::T1);
    assert!(a.extended_length);
}

#[test]
fn gen2_reference_atr_is_t0_short() {
    let a = atr("3B 6D 00 00 00 81 4E 43 23 86 97 15 99 00 BF 7C 7A");
    assert_eq!(hex::encode_upper(&a.historical), "00814E43238697159900BF7C7A");
    assert_eq!(a.protocol, Protocol::T0);
    assert!(!a.extended_length);
}

#[test]
fn psam_atr_is_t0_short() {
    let a = atr("3B 69 00 00 00 50 53 41 4D 48 4F 4C 44");
    assert_eq!(a.historical, b"\x00PSAMHOLD".to_vec());
    assert_eq!(a.protocol, Protocol::T0);
    assert!(!a.extended_length);
}

#[test]
fn capabilities_without_the_extended_bit() {
    assert!(!atr("3B 85 80 01 80 73 00 00 80 F7").extended_length);
}

/// A cut ATR is read as far as it goes: the historical bytes are the ones
/// present, the protocol T=1 only once TD1 (which offers it) is there, and
/// extended length only once the capabilities byte that says so is.
#[test]
fn truncated_atrs_are_read_as_far_as_they_go() {
    let full = atr("3B 85 80 01 80 73 00 00 C0 37");
    let bytes = hex::decode("3B858001807300 00C037".replace(' ', "")).unwrap_or_default();
    for n in 0..=bytes.len() {
        let cut = Atr::parse(&bytes[..n]);
        // TS, T0, TD1 and TD2 come before the 5 historical bytes; TCK after.
        let historical = n.saturating_sub(4).min(5);
        assert_eq!(cut.historical, full.historical[..historical], "{n} bytes");
        assert_eq!(cut.protocol == Protocol::T1, n >= 4, "{n} bytes: T=1 is offered by TD2");
        assert_eq!(cut.extended_length, n >= 9, "{n} bytes: the capabilities' third byte is the ninth");
    }
}
