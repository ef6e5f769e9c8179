//! Every operation of the operations layer against gen2 and gen3
//! simulator cards on the real bench, with outcomes and APDU counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::path::{Path, PathBuf};

use sscard_model::{Field, HolderRecordUpdate, Pin, Ssn};
use sscard_ops::{CardState, Engine, OpError, PinEntry, ReadOptions, VerifyOutcome};
use sscard_script::Cards;
use sscard_transport::{CardConnection, PcscConnection};
use support::bench::{Bench, Slot};

fn engine() -> Engine {
    Engine::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/apdu-scripts"))).expect("the profiles load")
}

const SSN: &str = "11010519491231002X";

fn pin(digits: &str) -> Pin {
    Pin::parse(digits, Field::Pin).expect("a PIN")
}

fn ssn(text: &str) -> Ssn {
    Ssn::parse(text).expect("an SSN")
}

fn record(generation: u8, photo_len: usize) -> HolderRecordUpdate {
    support::terminal::holder_record(generation, photo_len)
}

struct Rig {
    bench: Bench,
    engine: Engine,
    card: PcscConnection,
    sam: Option<PcscConnection>,
    log: PathBuf,
}

impl Rig {
    fn new(generation: u8, with_sam: bool) -> Rig {
        let mut bench = Bench::start();
        let log = bench.dir().join("card.log");
        if with_sam {
            bench.insert(Slot::Sam, "psam", &[]);
        }
        let gen_arg = generation.to_string();
        bench.insert(Slot::Card, "card", &["--gen", &gen_arg, "--log", &log.to_string_lossy()]);
        let card = bench.connect(Slot::Card);
        let sam = with_sam.then(|| bench.connect(Slot::Sam));
        Rig { bench, engine: engine(), card, sam, log }
    }

    /// Runs `op` inside one transaction on each card.
    fn op<T>(&mut self, op: impl FnOnce(&Engine, &mut Cards<'_>) -> T) -> T {
        let mut card_tx = self.card.begin().expect("card transaction");
        let mut sam_tx = self.sam.as_mut().map(|s| s.begin().expect("PSAM transaction"));
        let mut cards = Cards::new(&mut card_tx, sam_tx.as_mut().map(|t| t as &mut dyn sscard_transport::Transport));
        op(&self.engine, &mut cards)
    }

    /// The APDUs the card has logged so far (the simulator's own record).
    fn logged(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(" > ").map(|(_, apdu)| apdu.to_owned()))
            .collect()
    }
}

/// Every operation, in a counter's order, with its APDU count.
fn every_operation(generation: u8) {
    let gen3 = generation == 3;
    let mut rig = Rig::new(generation, true);
    // SELECT on T=0 is 2 APDUs (61xx + GET RESPONSE).
    let select = if gen3 { 1 } else { 2 };

    let blank = rig.op(|e, c| e.read_card(c, ReadOptions::default())).expect("read a blank card");
    assert_eq!(blank.value.state, CardState::Blank);
    assert_eq!(blank.value.profile, format!("ssse-gen{generation}"));
    assert_eq!(blank.value.terminal_number.as_deref(), Some("440300000001"));
    assert_eq!(blank.value.pin.tries_left, 3);
    assert!(blank.value.holder.ssn.is_none() && blank.value.issuer.card_number.is_none());
    // A session that authenticated to the card ends with a SELECT, which
    // closes what the authentication opened; the service sends it, from
    // the effects the operation reports, so the operation's own count
    // leaves it out.
    let close = 0;
    assert_eq!(blank.effects.security_state_open, gen3, "gen3 reads EF06 after ext(0A)");
    assert!(!blank.effects.pin_try_spent);
    // SELECT, PSAM SELECT + terminal number, EF05 x7, [gen3: 4 auth], EF06 x7,
    // PIN status, [gen3: the closing SELECT].
    assert_eq!(blank.apdus, select + 2 + 7 + if gen3 { 4 + close } else { 0 } + 7 + 1);

    let update = record(generation, 3000);
    let written = rig.op(|e, c| e.personalize(c, &update)).expect("personalise");
    assert_eq!(written.value.digest, update.digest_hex());
    // SELECT, PSAM SELECT, card id, auth 04 (4), 13 records, photo, auth 0A (4), 13 reads, photo read,
    // closing SELECT.
    let photo_file: u64 = 2 + 3000;
    let (write_photo, read_photo) = if gen3 { (1, 1) } else { (photo_file.div_ceil(255), photo_file.div_ceil(255)) };
    assert_eq!(written.apdus, select + 1 + 1 + 4 + 13 + write_photo + 4 + 13 + read_photo + close);

    let read = rig.op(|e, c| e.read_card(c, ReadOptions { photo: true, authenticate: true })).expect("read");
    let info = read.value;
    assert_eq!(update.mismatches(&info.issuer, &info.holder, info.photo.as_ref()), Vec::<Field>::new());
    assert!(info.authenticated);
    assert_eq!(info.state, if gen3 { CardState::Inactive } else { CardState::Unknown });
    let auth_read = 4;
    let photo_apdus = if gen3 { 1 } else { auth_read + read_photo };
    // + INTERNAL AUTHENTICATE: card (gen2: 61xx + GET RESPONSE) and PSAM INIT + ENCRYPT.
    let internal = if gen3 { 3 } else { 4 };
    // gen2's blank read authenticated nothing; this one did.
    assert_eq!(read.apdus, blank.apdus + photo_apdus + internal + if gen3 { 0 } else { close });

    let photo = rig.op(|e, c| e.read_photo(c)).expect("read photo");
    assert_eq!(photo.value, update.photo);
    assert_eq!(photo.apdus, select + 1 + 1 + 4 + read_photo + close);

    let status = rig.op(|e, c| e.pin_status(c)).expect("PIN status");
    assert_eq!((status.value.tries_left, status.value.blocked, status.apdus), (3, false, select + 1));

    // Wrong PINs come back as outcomes with the tries left.
    let wrong = rig.op(|e, c| e.verify_pin(c, &PinEntry::Host(&pin("654321")), false)).expect("verify");
    assert_eq!(wrong.value, VerifyOutcome { ok: false, tries_left: 2 });
    assert_eq!(wrong.apdus, select + 1 + 1);
    let wrong = rig.op(|e, c| e.verify_pin(c, &PinEntry::Host(&pin("654321")), false)).expect("verify");
    assert_eq!(wrong.value, VerifyOutcome { ok: false, tries_left: 1 });
    let before = rig.logged().len();
    let refused = rig.op(|e, c| e.verify_pin(c, &PinEntry::Host(&pin("654321")), false));
    assert!(matches!(refused, Err(OpError::LastTry)), "{refused:?}");
    assert!(rig.logged()[before..].iter().all(|a| !a.starts_with("0020000003")), "no VERIFY with data was sent");
    let blocked = rig.op(|e, c| e.verify_pin(c, &PinEntry::Host(&pin("654321")), true)).expect("verify");
    assert_eq!(blocked.value, VerifyOutcome { ok: false, tries_left: 0 });
    assert!(matches!(rig.op(|e, c| e.verify_pin(c, &PinEntry::Host(&pin("123456")), true)), Err(OpError::PinBlocked)));
    assert!(rig.op(|e, c| e.pin_status(c)).expect("status").value.blocked);

    let unblocked = rig.op(|e, c| e.unblock_pin(c)).expect("unblock");
    // SELECT, PSAM SELECT, card id, GET CHALLENGE, INIT, MAC, UNBLOCK, closing SELECT.
    assert_eq!(unblocked.apdus, select + 1 + 1 + 1 + 2 + 1 + close);
    let right = rig.op(|e, c| e.verify_pin(c, &PinEntry::Host(&pin("123456")), false)).expect("verify");
    assert_eq!(right.value, VerifyOutcome { ok: true, tries_left: 3 });
    // SELECT, status, VERIFY, then SELECT and status again.
    assert_eq!(right.apdus, select + 1 + 1 + select + 1);

    // Activation checks the holder first.
    let before = rig.logged().len();
    let mismatch = rig
        .op(|e, c| e.activate(c, &ssn("44030519900101123X"), &PinEntry::Host((&pin("123456"), &pin("135790"))), false));
    assert!(matches!(mismatch, Err(OpError::HolderMismatch(_))), "{mismatch:?}");
    assert!(
        rig.logged()[before..].iter().all(|a| !a.starts_with("0020000003") && !a.starts_with("805E")),
        "no PIN APDU"
    );
    let activated = rig
        .op(|e, c| e.activate(c, &ssn(SSN), &PinEntry::Host((&pin("123456"), &pin("135790"))), false))
        .expect("activate");
    assert_eq!(activated.value.state, CardState::Active);
    assert_eq!(activated.value.pin.tries_left, 3);
    // The read card (SELECT, PSAM, EF05, [auth], EF06, status), VERIFY,
    // CHANGE, [auth 0C, ACTIVATE], then SELECT and status again.
    // (The SELECT that shows the new state also closes the session, so the
    // read inside has no closing SELECT of its own.)
    let read_inside = blank.apdus - if gen3 { close } else { 0 };
    assert_eq!(activated.apdus, read_inside + 2 + if gen3 { 5 } else { 0 } + select + 1);
    if gen3 {
        assert!(matches!(
            rig.op(|e, c| e.activate(c, &ssn(SSN), &PinEntry::Host((&pin("123456"), &pin("135790"))), false)),
            Err(OpError::AlreadyActive)
        ));
    } else {
        // gen2 cannot tell: the initial PIN is wrong now, and a try is spent.
        let again = rig.op(|e, c| e.activate(c, &ssn(SSN), &PinEntry::Host((&pin("123456"), &pin("135790"))), false));
        assert!(matches!(again, Err(OpError::WrongPin { tries_left: 2 })), "{again:?}");
    }

    let changed =
        rig.op(|e, c| e.change_pin(c, &PinEntry::Host((&pin("135790"), &pin("246813"))), false)).expect("change");
    assert_eq!(changed.apdus, select + 1 + 1);
    let wrong_old = rig.op(|e, c| e.change_pin(c, &PinEntry::Host((&pin("135790"), &pin("246813"))), false));
    assert!(matches!(wrong_old, Err(OpError::WrongPin { tries_left: 2 })), "{wrong_old:?}");

    let reloaded = rig.op(|e, c| e.reload_pin(c, &pin("975312"))).expect("reload");
    assert_eq!(reloaded.apdus, select + 1 + 1 + 1 + 2 + 1 + close);
    let right = rig.op(|e, c| e.verify_pin(c, &PinEntry::Host(&pin("975312")), false)).expect("verify");
    assert_eq!(right.value, VerifyOutcome { ok: true, tries_left: 3 });

    drop(rig.bench);
}

#[test]
fn every_operation_on_gen3() {
    every_operation(3);
}

#[test]
fn every_operation_on_gen2() {
    every_operation(2);
}

#[test]
fn refused_inputs_send_nothing_and_state_refusals_send_no_pin_apdu() {
    let mut rig = Rig::new(3, true);
    let update = record(3, 500);
    rig.op(|e, c| e.personalize(c, &update)).expect("personalise");
    let logged = rig.logged().len();

    // Input refusals: not one APDU.
    let cases: Vec<(&str, Result<(), OpError>)> = vec![
        (
            "weak PIN 111111",
            rig.op(|e, c| e.change_pin(c, &PinEntry::Host((&pin("123456"), &pin("111111"))), false).map(|_| ())),
        ),
        ("ascending PIN", rig.op(|e, c| e.reload_pin(c, &pin("123456")).map(|_| ()))),
        (
            "5-digit new PIN",
            rig.op(|e, c| e.change_pin(c, &PinEntry::Host((&pin("123456"), &pin("13579"))), false).map(|_| ())),
        ),
        ("inconsistent record", {
            let mut bad = record(3, 500);
            bad.set_from_str(Field::BirthDate, "1950-01-01").expect("date");
            rig.op(|e, c| e.personalize(c, &bad).map(|_| ()))
        }),
    ];
    for (what, outcome) in &cases {
        assert!(matches!(outcome, Err(OpError::InvalidArgument(_))), "{what}: {outcome:?}");
    }
    assert_eq!(rig.logged().len(), logged, "input refusals sent APDUs");

    // State refusals read what they must, and never send a PIN APDU.
    let pin_apdu = |a: &String| a.starts_with("0020000003") || a.starts_with("805E");
    let before = rig.logged().len();
    let mismatch = rig
        .op(|e, c| e.activate(c, &ssn("44030519900101123X"), &PinEntry::Host((&pin("123456"), &pin("135790"))), false));
    assert!(matches!(mismatch, Err(OpError::HolderMismatch(_))), "{mismatch:?}");
    for _ in 0..2 {
        let wrong = rig.op(|e, c| e.verify_pin(c, &PinEntry::Host(&pin("000000")), false)).expect("verify");
        assert!(!wrong.value.ok);
    }
    let after_wrong = rig.logged().len();
    let last = rig.op(|e, c| e.activate(c, &ssn(SSN), &PinEntry::Host((&pin("123456"), &pin("135790"))), false));
    assert!(matches!(last, Err(OpError::LastTry)), "{last:?}");
    let last = rig.op(|e, c| e.change_pin(c, &PinEntry::Host((&pin("123456"), &pin("135790"))), false));
    assert!(matches!(last, Err(OpError::LastTry)), "{last:?}");
    assert!(rig.logged()[before..].iter().filter(|a| pin_apdu(a)).count() == 2, "only the two wrong VERIFYs");
    assert!(rig.logged()[after_wrong..].iter().all(|a| !pin_apdu(a)));
    // A correct VERIFY with allow_last_try resets the counter, then activate.
    assert!(rig.op(|e, c| e.verify_pin(c, &PinEntry::Host(&pin("123456")), true)).expect("verify").value.ok);
    rig.op(|e, c| e.activate(c, &ssn(SSN), &PinEntry::Host((&pin("123456"), &pin("135790"))), false))
        .expect("activate");
    let before = rig.logged().len();
    assert!(matches!(
        rig.op(|e, c| e.activate(c, &ssn(SSN), &PinEntry::Host((&pin("135790"), &pin("246813"))), false)),
        Err(OpError::AlreadyActive)
    ));
    let sent = &rig.logged()[before..];
    assert_eq!(sent.len(), 1, "only the SELECT: {sent:?}");
    assert!(sent[0].starts_with("00A40400"));
}

#[test]
fn a_gen3_card_without_psam_is_no_sam() {
    let mut rig = Rig::new(3, false);
    assert!(matches!(rig.op(|e, c| e.read_card(c, ReadOptions::default())), Err(OpError::NoSam)));
    let status = rig.op(|e, c| e.pin_status(c)).expect("PIN status needs no PSAM");
    assert_eq!(status.value.tries_left, 3);
}

#[test]
fn gen2_reads_without_a_psam() {
    let mut rig = Rig::new(2, false);
    let info = rig.op(|e, c| e.read_card(c, ReadOptions::default())).expect("gen2 reads without a PSAM");
    assert_eq!((info.value.terminal_number, info.value.state), (None, CardState::Blank));
    assert!(matches!(
        rig.op(|e, c| e.read_card(c, ReadOptions { photo: false, authenticate: true })),
        Err(OpError::NoSam)
    ));
}

#[test]
fn vicc_iso7816_card_is_not_a_social_security_card() {
    let mut bench = Bench::start();
    assert!(bench.insert_vicc(Slot::Card), "vicc is installed by scripts/setup");
    let mut card = bench.connect(Slot::Card);
    let engine = engine();
    let mut tx = card.begin().expect("transaction");
    let mut cards = Cards::new(&mut tx, None);
    let outcome = engine.read_card(&mut cards, ReadOptions::default());
    assert!(matches!(outcome, Err(OpError::NotSocialSecurityCard)), "{outcome:?}");
    assert_eq!(
        outcome.err().map(|e| e.to_string()).unwrap_or_default(),
        "not a social security card: SELECT of the SSSE application was refused"
    );
}

/// Pulls the card at every APDU index of a personalisation.
fn removal_at_every_index(generation: u8) {
    let mut bench = Bench::start();
    bench.insert(Slot::Sam, "psam", &[]);
    let engine = engine();
    let update = record(generation, 600);
    let gen_arg = generation.to_string();
    // The card's share of an uninterrupted personalisation.
    bench.insert(Slot::Card, "card", &["--gen", &gen_arg]);
    let total = {
        let mut card = bench.connect(Slot::Card);
        let mut sam = bench.connect(Slot::Sam);
        let mut tx = card.begin().expect("transaction");
        let before = sscard_transport::Transport::apdus_sent(&tx);
        let mut stx = sam.begin().expect("transaction");
        let mut cards = Cards::new(&mut tx, Some(&mut stx));
        engine.personalize(&mut cards, &update).expect("uninterrupted");
        sscard_transport::Transport::apdus_sent(&tx) - before
    };
    bench.remove(Slot::Card);
    assert!(total > 30, "{total}");
    for n in 1..=total {
        let n_arg = n.to_string();
        bench.insert(Slot::Card, "card", &["--gen", &gen_arg, "--remove-after", &n_arg]);
        let outcome = {
            let mut card = bench.connect(Slot::Card);
            let mut sam = bench.connect(Slot::Sam);
            let mut tx = card.begin().expect("transaction");
            let mut stx = sam.begin().expect("transaction");
            let mut cards = Cards::new(&mut tx, Some(&mut stx));
            engine.personalize(&mut cards, &update)
        };
        assert!(matches!(outcome, Err(OpError::CardRemoved)), "removed at APDU {n} of {total}: {outcome:?}");
        assert_eq!(bench.wait_exit(Slot::Card, std::time::Duration::from_secs(5)), Some(0));
        bench.wait_card_present(Slot::Card, false);
    }
}

#[test]
fn removal_mid_personalisation_is_a_clean_error_at_every_index_gen3() {
    removal_at_every_index(3);
}

#[test]
fn removal_mid_personalisation_is_a_clean_error_at_every_index_gen2() {
    removal_at_every_index(2);
}

#[test]
fn an_empty_personalisation_sends_nothing() {
    let mut rig = Rig::new(3, true);
    let outcome = rig.op(|e, c| e.personalize(c, &HolderRecordUpdate::default()));
    assert!(matches!(outcome, Err(OpError::EmptyRecord)), "{outcome:?}");
    assert!(rig.logged().is_empty());
}
