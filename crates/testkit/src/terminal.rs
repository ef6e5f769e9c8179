//! Terminal-side steps for the bench tests and the demo: plain APDUs
//! built from docs/card-profile.md, with every status word checked by the
//! caller. (The daemon's own operations come from the APDU scripts.)

use sscard_apdu::{Command, Response, StatusWord, exchange};
use sscard_model::{ElementSpec, Record};
use sscard_transport::Transport;

pub const SSSE_AID: [u8; 15] =
    [0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF];
pub const PSAM_AID: [u8; 6] = [0xD1, 0x56, 0x00, 0x00, 0x05, 0x90];

pub fn send(t: &mut dyn Transport, c: Command) -> Response {
    exchange(t, &c).unwrap_or_else(|e| panic!("{c:?}: {e}"))
}

pub fn cmd(cla: u8, ins: u8, p1: u8, p2: u8) -> Command {
    Command::new(cla, ins, p1, p2)
}

pub fn with_data(c: Command, data: &[u8]) -> Command {
    c.with_data(data.to_vec()).expect("command data")
}

pub fn with_ne(c: Command, ne: usize) -> Command {
    c.with_ne(ne).expect("command Ne")
}

/// What SELECT SSSE's FCI says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fci {
    pub algorithm: u8,
    pub lcs: Option<u8>,
}

/// Parses the FCI by tag, not by position.
pub fn parse_fci(fci: &[u8]) -> Fci {
    fn children(mut data: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let tag_len = if data[0] & 0x1F == 0x1F { 2 } else { 1 };
            let tag = data[..tag_len].to_vec();
            let len = data[tag_len] as usize;
            let value = data[tag_len + 1..tag_len + 1 + len].to_vec();
            data = &data[tag_len + 1 + len..];
            out.push((tag, value));
        }
        out
    }
    let top = children(fci);
    assert_eq!(top.len(), 1, "FCI is one 6F template");
    assert_eq!(top[0].0, vec![0x6F]);
    let mut fci_out = Fci { algorithm: 0, lcs: None };
    for (tag, value) in children(&top[0].1) {
        match tag.as_slice() {
            [0x84] => assert_eq!(value, SSSE_AID),
            [0xA5] => {
                for (t, v) in children(&value) {
                    if t == [0x9F, 0x0C] {
                        assert_eq!(&v[..2], &[0x86, 0x01]);
                        fci_out.algorithm = v[2];
                    }
                }
            }
            [0x8A] => fci_out.lcs = Some(value[0]),
            _ => {}
        }
    }
    fci_out
}

pub fn select_ssse(card: &mut dyn Transport) -> Fci {
    let r = send(card, with_ne(with_data(cmd(0, 0xA4, 4, 0), &SSSE_AID), 256));
    assert_eq!(r.sw, StatusWord::Success, "SELECT SSSE");
    parse_fci(&r.data)
}

pub fn select_psam(psam: &mut dyn Transport) {
    let r = send(psam, with_data(cmd(0, 0xA4, 4, 0), &PSAM_AID));
    assert_eq!(r.sw, StatusWord::Success, "SELECT PSAM");
}

/// READ RECORD by tag, with the record's exact length as Le.
pub fn read_record(card: &mut dyn Transport, sfi: u8, tag: u8, record_len: usize) -> Response {
    send(card, with_ne(cmd(0, 0xB2, tag, sfi << 3), 2 + record_len))
}

pub fn update_record(card: &mut dyn Transport, sfi: u8, tlv: &[u8]) -> StatusWord {
    send(card, with_data(cmd(0, 0xDC, tlv[0], sfi << 3), tlv)).sw
}

pub fn get_challenge(card: &mut dyn Transport) -> [u8; 8] {
    let r = send(card, with_ne(cmd(0, 0x84, 0, 0), 8));
    assert_eq!(r.sw, StatusWord::Success, "GET CHALLENGE");
    r.data.try_into().expect("8-byte challenge")
}

/// PSAM INIT: diversify key `key_id` with the last 8 bytes of the card id.
pub fn psam_init(psam: &mut dyn Transport, algorithm: u8, key_id: u8, card_id: &[u8]) -> StatusWord {
    send(psam, with_data(cmd(0x80, 0x1A, algorithm, key_id), &card_id[8..16])).sw
}

pub fn psam_encrypt(psam: &mut dyn Transport, input: &[u8; 8]) -> Vec<u8> {
    let r = send(psam, with_data(cmd(0x80, 0xFA, 0, 0), input));
    assert_eq!(r.sw, StatusWord::Success, "PSAM ENCRYPT");
    r.data
}

pub fn psam_mac(psam: &mut dyn Transport, iv: &[u8; 8], message: &[u8]) -> Vec<u8> {
    let mut data = iv.to_vec();
    data.extend_from_slice(message);
    let r = send(psam, with_data(cmd(0x80, 0xFA, 5, 0), &data));
    assert_eq!(r.sw, StatusWord::Success, "PSAM MAC");
    r.data
}

/// EXTERNAL AUTHENTICATE with key `key_id`, the cryptogram from the PSAM.
pub fn authenticate(
    card: &mut dyn Transport,
    psam: &mut dyn Transport,
    algorithm: u8,
    card_id: &[u8],
    key_id: u8,
) -> StatusWord {
    let challenge = get_challenge(card);
    assert_eq!(psam_init(psam, algorithm, key_id, card_id), StatusWord::Success, "PSAM INIT {key_id:02X}");
    let cryptogram = psam_encrypt(psam, &challenge);
    send(card, with_data(cmd(0, 0x82, 0, key_id), &cryptogram)).sw
}

/// Packed BCD with a trailing F nibble when the digit count is odd.
pub fn pin_bcd(pin: &str) -> Vec<u8> {
    let mut digits: Vec<u8> = pin.bytes().map(|b| b - b'0').collect();
    if digits.len() % 2 == 1 {
        digits.push(0xF);
    }
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

pub fn verify(card: &mut dyn Transport, pin: &str) -> StatusWord {
    send(card, with_data(cmd(0, 0x20, 0, 0), &pin_bcd(pin))).sw
}

pub fn pin_status(card: &mut dyn Transport) -> StatusWord {
    send(card, cmd(0, 0x20, 0, 0)).sw
}

pub fn change_pin(card: &mut dyn Transport, old: &str, new: &str) -> StatusWord {
    let mut data = pin_bcd(old);
    data.push(0xFF);
    data.extend_from_slice(&pin_bcd(new));
    send(card, with_data(cmd(0x80, 0x5E, 1, 0), &data)).sw
}

/// RELOAD PIN with a MAC from the PSAM (key 0B, the challenge as IV).
pub fn reload_pin(
    card: &mut dyn Transport,
    psam: &mut dyn Transport,
    algorithm: u8,
    card_id: &[u8],
    new: &str,
) -> StatusWord {
    let pin = pin_bcd(new);
    let challenge = get_challenge(card);
    assert_eq!(psam_init(psam, algorithm, 0x0B, card_id), StatusWord::Success);
    let mut message = vec![0x80, 0x5E, 0x00, 0x00, (pin.len() + 4) as u8];
    message.extend_from_slice(&pin);
    let mac = psam_mac(psam, &challenge, &message);
    let mut data = pin;
    data.extend_from_slice(&mac);
    send(card, with_data(cmd(0x80, 0x5E, 0, 0), &data)).sw
}

pub fn unblock_pin(card: &mut dyn Transport, psam: &mut dyn Transport, algorithm: u8, card_id: &[u8]) -> StatusWord {
    let challenge = get_challenge(card);
    assert_eq!(psam_init(psam, algorithm, 0x0B, card_id), StatusWord::Success);
    let mac = psam_mac(psam, &challenge, &[0x84, 0x24, 0x00, 0x00, 0x04]);
    send(card, with_data(cmd(0x84, 0x24, 0, 0), &mac)).sw
}

/// Reads every record of a file by tag and parses it against its spec.
pub fn read_all(card: &mut dyn Transport, sfi: u8, specs: &[ElementSpec; 7]) -> Vec<Record> {
    specs
        .iter()
        .map(|spec| {
            let r = read_record(card, sfi, spec.tag, spec.len);
            assert_eq!(r.sw, StatusWord::Success, "READ RECORD {sfi:02X}/{:02X}", spec.tag);
            Record::parse_tlv(&r.data, spec).unwrap_or_else(|e| panic!("record {:02X}: {e}", spec.tag))
        })
        .collect()
}

/// Writes EF08 (2 + L bytes) the way the card's generation allows.
pub fn write_photo(card: &mut dyn Transport, file: &[u8], generation: u8) {
    if generation == 3 {
        // One extended UPDATE BINARY for the whole photo.
        assert_eq!(send(card, with_data(cmd(0, 0xD6, 0x88, 0), file)).sw, StatusWord::Success);
        return;
    }
    for (i, chunk) in file.chunks(255).enumerate() {
        let offset = i * 255;
        // The first chunk by SFI, which makes EF08 current; the rest by offset.
        let (p1, p2) = if i == 0 { (0x88, 0) } else { ((offset >> 8) as u8, offset as u8) };
        assert_eq!(send(card, with_data(cmd(0, 0xD6, p1, p2), chunk)).sw, StatusWord::Success, "chunk {i}");
    }
}

/// Reads the first `len` bytes of EF08 the way the generation allows.
pub fn read_photo_file(card: &mut dyn Transport, generation: u8, len: usize) -> Vec<u8> {
    if generation == 3 {
        let r = send(card, with_ne(cmd(0, 0xB0, 0x88, 0), 8192));
        assert_eq!(r.sw, StatusWord::Success);
        assert_eq!(r.data.len(), 8192);
        return r.data[..len].to_vec();
    }
    let mut out = Vec::new();
    let mut offset = 0;
    while out.len() < len {
        let (p1, p2) = if offset == 0 { (0x88, 0) } else { ((offset >> 8) as u8, offset as u8) };
        let r = send(card, with_ne(cmd(0, 0xB0, p1, p2), 255));
        assert_eq!(r.sw, StatusWord::Success, "READ BINARY at {offset}");
        assert_eq!(r.data.len(), 255);
        out.extend_from_slice(&r.data);
        offset += 255;
    }
    out.truncate(len);
    out
}

/// The holder record the tests and benchmarks personalise: every writable
/// element (a 17-character name, so tag 4E is used) and a `photo_len`-byte
/// JPEG.
pub fn holder_record(generation: u8, photo_len: usize) -> sscard_model::HolderRecordUpdate {
    use sscard_model::Field;
    let mut u = sscard_model::HolderRecordUpdate::default();
    for (f, v) in [
        (Field::CardType, "3"),
        (Field::SpecVersion, if generation == 3 { "3.00" } else { "2.00" }),
        (Field::Issuer, "SZ-CARD-CTR"),
        (Field::IssueDate, "2026-11-25"),
        (Field::ExpiryDate, "2036-11-25"),
        (Field::CardNumber, "X00000019"),
        (Field::Ssn, "11010519491231002X"),
        (Field::Name, "阿卜杜热合曼·买买提艾力·克里木江"),
        (Field::Sex, "2"),
        (Field::Nation, "5"),
        (Field::Birthplace, "653101"),
        (Field::BirthDate, "1949-12-31"),
    ] {
        u.set_from_str(f, v).unwrap_or_else(|e| panic!("{e}"));
    }
    u.photo = Some(sscard_model::Photo::new(jpeg(photo_len)).expect("photo"));
    u
}

/// A JPEG-shaped blob of `len` bytes (SOI … EOI).
pub fn jpeg(len: usize) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.extend((0..len - 4).map(|i| (i % 253) as u8));
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}
