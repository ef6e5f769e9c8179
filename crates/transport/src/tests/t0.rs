use super::*;
use crate::Protocol;

const T0: Capabilities = Capabilities { protocol: Protocol::T0, extended_length: false, reader_extended: true };
const T1X: Capabilities = Capabilities { protocol: Protocol::T1, extended_length: true, reader_extended: true };
/// An extended-length card in a reader at the short-APDU level.
const T1X_SHORT_READER: Capabilities =
    Capabilities { protocol: Protocol::T1, extended_length: false, reader_extended: false };

/// Replays scripted answers and records what was sent.
fn run(caps: Capabilities, command: &[u8], answers: &[&[u8]]) -> (Result<Vec<u8>, TransportError>, Vec<Vec<u8>>, u64) {
    let mut seen = Vec::new();
    let mut next = answers.iter();
    let mut sent = 0;
    let result = exchange(caps, &mut sent, command, &mut |c| {
        seen.push(c.to_vec());
        next.next().map(|a| a.to_vec()).ok_or(TransportError::CardRemoved)
    });
    (result, seen, sent)
}

#[test]
fn get_response_after_61xx() {
    let (r, seen, sent) = run(T0, &[0, 0x88, 0, 9, 2, 1, 2, 0], &[&[0x61, 0x03], &[7, 8, 9, 0x90, 0]]);
    assert_eq!(r.unwrap(), vec![7, 8, 9, 0x90, 0]);
    assert_eq!(seen[1], vec![0, 0xC0, 0, 0, 3]);
    assert_eq!(sent, 2);
}

#[test]
fn resend_with_le_after_6cxx() {
    let (r, seen, _) = run(T0, &[0, 0xB2, 1, 0x2C, 0], &[&[0x6C, 0x12], &[1; 20]]);
    assert_eq!(r.unwrap().len(), 20);
    assert_eq!(seen[1], vec![0, 0xB2, 1, 0x2C, 0x12]);
    // A case-1 command gains an Le.
    let (_, seen, _) = run(T0, &[0, 0x84, 0, 0], &[&[0x6C, 0x08], &[0x90, 0]]);
    assert_eq!(seen[1], vec![0, 0x84, 0, 0, 8]);
}

#[test]
fn get_response_then_6cxx_then_more() {
    let (r, seen, sent) = run(
        T0,
        &[0x80, 0xFA, 0, 0, 1, 0xAA],
        &[&[0x61, 0x10], &[0x6C, 0x08], &[1, 2, 3, 4, 5, 6, 7, 8, 0x61, 0x02], &[9, 10, 0x90, 0]],
    );
    assert_eq!(r.unwrap(), vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x90, 0]);
    assert_eq!(seen[2], vec![0, 0xC0, 0, 0, 8]);
    assert_eq!(seen[3], vec![0, 0xC0, 0, 0, 2]);
    assert_eq!(sent, 4);
}

#[test]
fn errors_pass_through_untouched() {
    let (r, _, sent) = run(T0, &[0, 0x20, 0, 0, 2, 0x12, 0x34], &[&[0x63, 0xC2]]);
    assert_eq!(r.unwrap(), vec![0x63, 0xC2]);
    assert_eq!(sent, 1);
}

#[test]
fn extended_apdu_is_never_sent_to_a_short_card() {
    let extended = [0, 0xB0, 0x88, 0, 0, 0x20, 0];
    let (r, seen, sent) = run(T0, &extended, &[&[0x90, 0]]);
    assert!(matches!(r, Err(TransportError::ExtendedLengthUnsupported)));
    assert!(seen.is_empty());
    assert_eq!(sent, 0);
    let (r, _, _) = run(T1X, &extended, &[&[0x90, 0]]);
    assert!(r.is_ok());
}

#[test]
fn a_short_apdu_reader_is_named_when_it_is_what_refuses() {
    let extended = [0, 0xB0, 0x88, 0, 0, 0x20, 0];
    let (r, seen, sent) = run(T1X_SHORT_READER, &extended, &[&[0x90, 0]]);
    assert!(matches!(r, Err(TransportError::ReaderShortApdusOnly)), "{r:?}");
    assert_eq!((seen.len(), sent), (0, 0));
    assert_eq!(TransportError::ReaderShortApdusOnly.to_string(), "the reader accepts only short APDUs");
    // A short APDU goes through as before.
    let (r, _, _) = run(T1X_SHORT_READER, &[0, 0xB0, 0x88, 0, 0xFF], &[&[0x90, 0]]);
    assert!(r.is_ok());
}

#[test]
fn endless_continuations_are_cut_off() {
    let answers: Vec<&[u8]> = vec![&[0x61, 0x01]; MAX_CONTINUATIONS + 5];
    let (r, _, sent) = run(T0, &[0, 0x84, 0, 0, 8], &answers);
    assert!(matches!(r, Err(TransportError::TooManyContinuations(_))));
    assert_eq!(sent as usize, MAX_CONTINUATIONS + 1);
}

#[test]
fn one_byte_answer_is_malformed() {
    let (r, _, _) = run(T0, &[0, 0x84, 0, 0, 8], &[&[0x90]]);
    assert!(matches!(r, Err(TransportError::MalformedResponse(_))));
}

#[test]
fn six_c_to_a_command_with_data_is_never_resent() {
    // A VERIFY resent would carry the PIN twice and spend a second try.
    let (r, seen, sent) = run(T0, &[0, 0x20, 0, 0, 3, 0x12, 0x34, 0x56], &[&[0x6C, 0x00], &[0x90, 0]]);
    assert!(matches!(r, Err(TransportError::MalformedResponse(_))));
    assert_eq!((seen.len(), sent), (1, 1));
}

#[test]
fn six_c_to_an_extended_case_2_resends_a_well_formed_apdu() {
    let (r, seen, _) = run(T1X, &[0, 0xB0, 0x88, 0, 0, 0x01, 0x00], &[&[0x6C, 0x10], &[0x90, 0]]);
    assert!(r.is_ok());
    assert_eq!(seen[1], vec![0, 0xB0, 0x88, 0, 0, 0, 0x10]);
    assert!(crate::shape::classify(&seen[1]).is_ok());
}
