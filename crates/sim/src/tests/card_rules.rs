//! The simulator against docs/card-profile.md, in process: raw wire behaviour
//! (what a T=0 terminal really sees) and the security rules.

use super::*;
use sscard_apdu::{Command, Response, StatusWord, exchange};
use sscard_transport::{CardConnection, CardTransaction, InProcessConnection, Transport, TransportError, VirtualCard};

const SSSE: [u8; 15] = user_card::SSSE_AID;
const SERIAL: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn card(generation: Generation) -> SimulatedCard<UserCard> {
    user_card(UserCard::blank(generation, [0x11, 0x01, 0x00], SERIAL, "123456"))
}

fn raw(card: &mut impl VirtualCard, hex_apdu: &str) -> String {
    let bytes = hex::decode(hex_apdu.replace(' ', "")).unwrap_or_default();
    hex::encode_upper(card.process(&bytes))
}

fn select_hex() -> String {
    format!("00A404000F{}00", hex::encode_upper(SSSE))
}

struct Terminal {
    card: InProcessConnection<SimulatedCard<UserCard>>,
    psam: InProcessConnection<SimulatedCard<Psam>>,
    alg: u8,
}

impl Terminal {
    fn new(generation: Generation) -> Terminal {
        let mut psam = InProcessConnection::new(psam(Psam::new([0x44, 0x03, 0, 0, 0, 1])));
        let ok = exchange(
            &mut psam.begin().unwrap(),
            &Command::new(0, 0xA4, 4, 0).with_data(psam::PSAM_AID.to_vec()).unwrap(),
        );
        assert_eq!(ok.unwrap().sw, StatusWord::Success);
        let alg = if generation == Generation::Gen3 { 3 } else { 1 };
        let mut t = Terminal { card: InProcessConnection::new(card(generation)), psam, alg };
        assert_eq!(
            t.send(Command::new(0, 0xA4, 4, 0).with_data(SSSE.to_vec()).unwrap().with_ne(256).unwrap()).sw,
            StatusWord::Success
        );
        t
    }

    fn send(&mut self, c: Command) -> Response {
        exchange(&mut self.card.begin().unwrap(), &c).unwrap()
    }

    /// Sends a command written in hex (spaces allowed).
    fn sw(&mut self, hex_apdu: &str) -> StatusWord {
        let bytes = hex::decode(hex_apdu.replace(' ', "")).unwrap();
        let (c, _) = Command::parse(&bytes).unwrap();
        self.send(c).sw
    }

    fn card_f(&self) -> [u8; 8] {
        let mut f = [0u8; 8];
        f.copy_from_slice(&self.card.card().applet().image().ef05["01"].0[8..16]);
        f
    }

    fn challenge(&mut self) -> [u8; 8] {
        let r = self.send(Command::new(0, 0x84, 0, 0).with_ne(8).unwrap());
        assert_eq!(r.sw, StatusWord::Success);
        r.data.try_into().unwrap()
    }

    fn psam_send(&mut self, c: Command) -> Response {
        exchange(&mut self.psam.begin().unwrap(), &c).unwrap()
    }

    fn cryptogram(&mut self, key: u8, challenge: [u8; 8]) -> Vec<u8> {
        let f = self.card_f();
        assert_eq!(
            self.psam_send(Command::new(0x80, 0x1A, self.alg, key).with_data(f.to_vec()).unwrap()).sw,
            StatusWord::Success
        );
        self.psam_send(Command::new(0x80, 0xFA, 0, 0).with_data(challenge.to_vec()).unwrap()).data
    }

    fn authenticate(&mut self, key: u8) -> StatusWord {
        let challenge = self.challenge();
        let cryptogram = self.cryptogram(key, challenge);
        self.send(Command::new(0, 0x82, 0, key).with_data(cryptogram).unwrap()).sw
    }
}

#[test]
fn gen2_case4_answers_61xx_then_get_response_needs_the_exact_le() {
    let mut c = card(Generation::Gen2);
    c.reset();
    // The gen2 FCI is 27 bytes: 6F 19, then 84 0F AID and A5 06 9F0C 03 86 01 01.
    assert_eq!(raw(&mut c, &select_hex()), "611B");
    assert_eq!(raw(&mut c, "00C0000010"), "6C1B");
    let fci = raw(&mut c, "00C000001B");
    assert_eq!(fci, format!("6F19840F{}A5069F0C038601019000", hex::encode_upper(SSSE)));
    assert_eq!(raw(&mut c, "00C000001B"), "6985", "nothing waits any more");
}

#[test]
fn gen2_case2_needs_the_exact_le_and_refuses_extended_apdus() {
    let mut c = card(Generation::Gen2);
    c.reset();
    raw(&mut c, &select_hex());
    assert_eq!(raw(&mut c, "00B2012800"), "6C12", "Le 00 means 256, the record is 18 bytes");
    assert!(raw(&mut c, "00B2012812").ends_with("9000"));
    assert_eq!(raw(&mut c, "00B20128000012"), "6700", "extended Le");
}

#[test]
fn gen3_t1_returns_min_of_ne_and_available_and_nothing_without_le() {
    let mut c = card(Generation::Gen3);
    c.reset();
    assert_eq!(raw(&mut c, &format!("00A404000F{}", hex::encode_upper(SSSE))), "9000", "no Le, no data");
    assert_eq!(raw(&mut c, "00B2012805"), "01101101009000");
    assert_eq!(raw(&mut c, "00B20128000005"), "01101101009000", "extended Le is taken");
}

#[test]
fn in_process_transport_hides_61xx_and_6cxx_but_counts_them() {
    let mut connection = InProcessConnection::new(card(Generation::Gen2));
    let mut t = connection.begin().unwrap();
    let select = Command::new(0, 0xA4, 4, 0).with_data(SSSE.to_vec()).unwrap().with_ne(256).unwrap();
    let r = exchange(&mut t, &select).unwrap();
    assert_eq!(r.sw, StatusWord::Success);
    assert_eq!(r.data[0], 0x6F);
    assert_eq!(t.apdus_sent(), 2, "SELECT, GET RESPONSE");
    let r = exchange(&mut t, &Command::new(0, 0xB2, 1, 0x28).with_ne(256).unwrap()).unwrap();
    assert_eq!((r.sw, r.data.len()), (StatusWord::Success, 18));
    assert_eq!(t.apdus_sent(), 4, "READ RECORD, resent with Le 12");
    let extended = Command::new(0, 0xB0, 0x88, 0).with_ne(8192).unwrap();
    let refused = exchange(&mut t, &extended);
    assert!(matches!(refused, Err(sscard_apdu::ExchangeError::Transport(TransportError::ExtendedLengthUnsupported))));
    assert_eq!(t.apdus_sent(), 4, "nothing was sent");
}

#[test]
fn failed_select_clears_the_state_and_deselects() {
    let mut t = Terminal::new(Generation::Gen3);
    assert_eq!(t.authenticate(0x0A), StatusWord::Success);
    assert_eq!(t.sw("00B2083000"), StatusWord::Success);
    assert_eq!(t.sw("00A4040003A0000000"), StatusWord::FileNotFound);
    assert_eq!(t.sw("00B2012800"), StatusWord::ConditionsOfUseNotSatisfied, "no application selected");
    assert_eq!(t.sw(&select_hex()), StatusWord::Success);
    assert_eq!(t.sw("00B2083000"), StatusWord::SecurityStatusNotSatisfied, "ext(0A) was cleared");
}

#[test]
fn external_authentications_accumulate_and_tag_01_rules_come_in_order() {
    let mut t = Terminal::new(Generation::Gen3);
    let id_record = format!("00DC01281201 10{}", "00".repeat(16)).replace(' ', "");
    assert_eq!(t.sw(&id_record), StatusWord::SecurityStatusNotSatisfied, "security before every other rule");
    assert_eq!(t.authenticate(0x04), StatusWord::Success);
    assert_eq!(t.authenticate(0x0A), StatusWord::Success);
    assert_eq!(t.sw(&id_record), StatusWord::ConditionsOfUseNotSatisfied, "tag 01 is never writable");
    assert_eq!(t.sw("00DC0228030201 33"), StatusWord::Success, "ext(04) still holds");
    assert_eq!(t.sw("00B2083000"), StatusWord::Success, "ext(0A) holds beside it");
    assert!(t.card.card_mut().applet_mut().take_dirty(), "the write changed the image");
    t.sw("00B2023000");
    assert!(!t.card.card_mut().applet_mut().take_dirty(), "reads change nothing");
}

#[test]
fn the_challenge_is_single_use_and_voided_by_other_commands() {
    let mut t = Terminal::new(Generation::Gen3);
    let challenge = t.challenge();
    let cryptogram = t.cryptogram(0x04, challenge);
    t.sw("00B2012800");
    let c = Command::new(0, 0x82, 0, 0x04).with_data(cryptogram.clone()).unwrap();
    assert_eq!(t.send(c.clone()).sw, StatusWord::ReferencedDataInvalid, "voided by READ RECORD");
    let challenge = t.challenge();
    let cryptogram = t.cryptogram(0x04, challenge);
    let c = Command::new(0, 0x82, 0, 0x04).with_data(cryptogram).unwrap();
    assert_eq!(t.send(c.clone()).sw, StatusWord::Success);
    assert_eq!(t.send(c).sw, StatusWord::ReferencedDataInvalid, "consumed");
    t.challenge();
    assert_eq!(t.sw("00820005100000000000000000000000000000000000"), StatusWord::KeyNotFound);
    assert_eq!(t.sw("00820004080000000000000000"), StatusWord::ReferencedDataInvalid);
}

#[test]
fn ef07_is_not_modelled_and_binary_access_needs_ef08() {
    let mut t = Terminal::new(Generation::Gen2);
    assert_eq!(t.sw("00B2013C00"), StatusWord::SecurityStatusNotSatisfied);
    assert_eq!(t.sw("00A4020002EF07"), StatusWord::SecurityStatusNotSatisfied);
    assert_eq!(t.sw("00B0870000"), StatusWord::SecurityStatusNotSatisfied);
    assert_eq!(t.sw("00B0001000"), StatusWord::CommandNotAllowed, "no current EF");
    assert_eq!(t.sw("00B0880000"), StatusWord::SecurityStatusNotSatisfied, "EF08 needs ext(0A)");
    assert_eq!(t.authenticate(0x0A), StatusWord::Success);
    // Le 00 asks for 256; gen2 cuts the answer to 255 and says 6CFF.
    let mut raw_card = card(Generation::Gen2);
    raw_card.reset();
    assert_eq!(raw(&mut raw_card, "00B0880000"), "6985", "no application yet");
    let r = t.send(Command::new(0, 0xB0, 0x88, 0).with_ne(256).unwrap());
    assert_eq!((r.sw, r.data.len()), (StatusWord::Success, 255));
    assert_eq!(t.sw("00B0200000"), StatusWord::WrongOffset, "offset 8192");
    let r = t.send(Command::new(0, 0xB0, 0x1F, 0xE0).with_ne(32).unwrap());
    assert_eq!((r.sw, r.data.len()), (StatusWord::Success, 32), "the last 32 bytes by offset");
}

#[test]
fn odd_length_pins_use_a_trailing_f_nibble_and_malformed_ones_cost_nothing() {
    let mut t = Terminal::new(Generation::Gen3);
    let mut c5 = user_card(UserCard::blank(Generation::Gen3, [0x11, 0x01, 0x00], SERIAL, "12345"));
    c5.reset();
    raw(&mut c5, &select_hex());
    assert_eq!(raw(&mut c5, "002000000312345F"), "9000");
    assert_eq!(raw(&mut c5, "00200000031234F5"), "6A80", "F only as the very last nibble");
    assert_eq!(raw(&mut c5, "0020000002123A"), "6A80");
    assert_eq!(raw(&mut c5, "002000000112"), "6A80", "2 digits are too few");
    assert_eq!(t.sw("0020000000"), StatusWord::WrongPin { tries_left: 3 }, "Le-style empty VERIFY reports status");
    assert_eq!(t.sw("0020000003123456"), StatusWord::Success);
}

#[test]
fn reset_clears_the_security_state() {
    let mut t = Terminal::new(Generation::Gen3);
    assert_eq!(t.sw("0020000003123456"), StatusWord::Success);
    assert_eq!(t.sw("00200000"), StatusWord::Success);
    t.card.begin().unwrap().end_with_reset().unwrap();
    assert_eq!(t.sw(&select_hex()), StatusWord::Success);
    assert_eq!(t.sw("00200000"), StatusWord::WrongPin { tries_left: 3 });
}

#[test]
fn psam_answers_61xx_without_le_and_data_with_the_exact_le() {
    let mut p = psam(Psam::new([0x44, 0x03, 0, 0, 0, 1]));
    p.reset();
    assert_eq!(raw(&mut p, "801A0304080102030405060708"), "6985", "not selected");
    raw(&mut p, "00A4040006D15600000590");
    assert_eq!(raw(&mut p, "80FA0000080000000000000000"), "6985", "ENCRYPT before INIT");
    assert_eq!(raw(&mut p, "801A0305080102030405060708"), "6A88", "no key 05");
    assert_eq!(raw(&mut p, "801A0304080102030405060708"), "9000");
    assert_eq!(raw(&mut p, "80FA0000081122334455667788"), "6110");
    let via_get_response = raw(&mut p, "00C0000010");
    let direct = raw(&mut p, "80FA000008112233445566778810");
    assert_eq!(direct, via_get_response);
    assert_eq!(direct.len(), 36);
    assert_eq!(raw(&mut p, "00B0960006"), "4403000000019000", "terminal number");
    assert_eq!(raw(&mut p, "00B0960000"), "6C06");
}

#[test]
fn psam_mac_matches_the_card_for_unblock_and_reload() {
    for generation in [Generation::Gen2, Generation::Gen3] {
        let mut t = Terminal::new(generation);
        for _ in 0..3 {
            t.sw("0020000003999999");
        }
        assert_eq!(t.sw("00200000"), StatusWord::AuthenticationMethodBlocked);
        let f = t.card_f();
        let challenge = t.challenge();
        t.psam_send(Command::new(0x80, 0x1A, t.alg, 0x0B).with_data(f.to_vec()).unwrap());
        let mut mac_input = challenge.to_vec();
        mac_input.extend_from_slice(&[0x84, 0x24, 0x00, 0x00, 0x04]);
        let mac = t.psam_send(Command::new(0x80, 0xFA, 5, 0).with_data(mac_input).unwrap()).data;
        assert_eq!(mac.len(), 4);
        assert_eq!(t.send(Command::new(0x84, 0x24, 0, 0).with_data(mac).unwrap()).sw, StatusWord::Success);
        assert_eq!(t.sw("00200000"), StatusWord::WrongPin { tries_left: 3 }, "{generation:?}");
        // RELOAD of 135790: the MAC covers 80 5E 00 00 07 13 57 90.
        let challenge = t.challenge();
        t.psam_send(Command::new(0x80, 0x1A, t.alg, 0x0B).with_data(f.to_vec()).unwrap());
        let mut mac_input = challenge.to_vec();
        mac_input.extend_from_slice(&[0x80, 0x5E, 0x00, 0x00, 0x07, 0x13, 0x57, 0x90]);
        let mac = t.psam_send(Command::new(0x80, 0xFA, 5, 0).with_data(mac_input).unwrap()).data;
        let mut data = vec![0x13, 0x57, 0x90];
        data.extend_from_slice(&mac);
        assert_eq!(t.send(Command::new(0x80, 0x5E, 0, 0).with_data(data).unwrap()).sw, StatusWord::Success);
        assert_eq!(t.sw("0020000003135790"), StatusWord::Success);
    }
}

#[test]
fn activate_needs_ext_0c_a_verified_changed_pin_and_lcs_04() {
    let mut t = Terminal::new(Generation::Gen3);
    assert_eq!(t.sw("00440000"), StatusWord::SecurityStatusNotSatisfied);
    assert_eq!(t.sw("00040000"), StatusWord::SecurityStatusNotSatisfied);
    assert_eq!(t.authenticate(0x0C), StatusWord::Success);
    assert_eq!(t.sw("00440000"), StatusWord::ConditionsOfUseNotSatisfied, "PIN not verified");
    assert_eq!(t.sw("0020000003123456"), StatusWord::Success);
    assert_eq!(t.sw("00440000"), StatusWord::ConditionsOfUseNotSatisfied, "still the initial PIN");
    assert_eq!(t.sw("805E010007123456FF135790"), StatusWord::Success);
    assert_eq!(t.sw("00440000"), StatusWord::Success);
    assert_eq!(t.card.card().applet().image().lcs, Some(0x05));
    assert_eq!(t.sw("00440000"), StatusWord::ConditionsOfUseNotSatisfied, "LCS is no longer 04");
    assert_eq!(t.sw("00040000"), StatusWord::Success);
    assert_eq!(t.card.card().applet().image().lcs, Some(0x04));
}

#[test]
fn gen2_has_no_life_cycle() {
    let mut t = Terminal::new(Generation::Gen2);
    assert_eq!(t.sw("00440000"), StatusWord::InstructionNotSupported);
    assert_eq!(t.sw("00040000"), StatusWord::InstructionNotSupported);
    let image = t.card.card().applet().image();
    assert_eq!(image.lcs, None);
}

#[test]
fn after_a_failed_select_even_get_challenge_answers_6985() {
    for generation in [Generation::Gen2, Generation::Gen3] {
        let mut c = card(generation);
        c.reset();
        assert_eq!(raw(&mut c, "0084000008"), "6985", "{generation:?}: nothing selected after reset");
        raw(&mut c, &select_hex());
        assert!(raw(&mut c, "0084000008").ends_with("9000"));
        raw(&mut c, "00A4040003A00000");
        assert_eq!(raw(&mut c, "0084000008"), "6985", "{generation:?}");
        assert_eq!(raw(&mut c, "00FF0000"), "6985", "{generation:?}: unknown instructions too");
    }
}

#[test]
fn get_challenge_is_eight_bytes() {
    let mut c = card(Generation::Gen3);
    c.reset();
    raw(&mut c, &select_hex());
    assert_eq!(raw(&mut c, "0084000004"), "6700");
    assert_eq!(raw(&mut c, "00840000"), "6700", "no Le");
    let mut c = card(Generation::Gen2);
    c.reset();
    raw(&mut c, &select_hex());
    raw(&mut c, "00C000001B");
    assert_eq!(raw(&mut c, "0084000004"), "6C08", "T=0 says the right Le");
    assert_eq!(raw(&mut c, "0084000008").len(), 20);
}

#[test]
fn spec_version_must_match_the_generation() {
    for (generation, right, wrong) in
        [(Generation::Gen3, "332E3030", "322E3030"), (Generation::Gen2, "322E3030", "332E3030")]
    {
        let mut t = Terminal::new(generation);
        assert_eq!(t.authenticate(0x04), StatusWord::Success);
        assert_eq!(t.sw(&format!("00DC0328060304{wrong}")), StatusWord::IncorrectData, "{generation:?}");
        assert_eq!(t.sw(&format!("00DC0328060304{right}")), StatusWord::Success, "{generation:?}");
    }
}

#[test]
fn binary_access_by_a_record_file_sfi_still_makes_it_current() {
    let mut t = Terminal::new(Generation::Gen3);
    assert_eq!(t.authenticate(0x0A), StatusWord::Success);
    assert_eq!(t.sw("00B0880002"), StatusWord::Success, "EF08 current");
    assert_eq!(t.sw("00B0850002"), StatusWord::CommandNotAllowed, "EF05 is a record file");
    assert_eq!(t.sw("00B0001002"), StatusWord::CommandNotAllowed, "EF05 is now current, not EF08");
}
