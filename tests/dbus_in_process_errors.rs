//! Each error name of the contract that the simulator can provoke, in
//! process (`support::in_process`): provoked through the daemon's D-Bus
//! surface and asserted by name and details; refusals of input are checked
//! to send no APDU at all (the virtual reader's own log). The bench's
//! `dbus_errors` keeps what only pcscd can show (pcscd killed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::time::{Duration, Instant};

use sscard_client::{CallError, CallErrorKind, Dict};
use sscard_contract::{ErrorName, Slot};
use sscard_service::ServiceConfig;
use sscard_sim::{Generation, Psam, psam};
use sscard_transport::VirtualReader;
use support::client::{INITIAL_PIN, NEW_PIN, SSN, bytes_value, holder_dict, jpeg, no_opts, opts, string_value, text};
use support::in_process::{ForeignCard, InProcessDaemon, blank_card, reference_psam};

/// The daemon's error of a failed call, with its details.
fn daemon_error<T: std::fmt::Debug>(result: zbus::Result<T>) -> CallError {
    let e = CallError::from(result.expect_err("an error"));
    assert!(matches!(e.kind, CallErrorKind::Daemon(Some(_))), "not one of the daemon's errors: {e}");
    e
}

fn error_name<T: std::fmt::Debug>(result: zbus::Result<T>) -> Option<ErrorName> {
    daemon_error(result).name()
}

/// A card of `generation` in "Card", and the reference PSAM in "PSAM".
async fn with_psam(generation: Generation) -> (InProcessDaemon, Vec<VirtualReader>) {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    rig.insert(&readers[0], "Card", blank_card(generation, 1)).await;
    (rig, readers)
}

async fn personalize(rig: &InProcessDaemon) {
    rig.reader("Card").await.write_holder_record(holder_dict(3, None), no_opts()).await.expect("WriteHolderRecord");
}

/// The VERIFYs with a PIN in them (not the empty one that asks for the tries).
fn verifies_with_data(log: &[zeroize::Zeroizing<Vec<u8>>]) -> usize {
    log.iter().filter(|apdu| apdu.len() > 5 && apdu[1] == 0x20).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_and_not_supported() {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    let manager = rig.manager().await;
    assert_eq!(error_name(manager.find_card().await), Some(ErrorName::NoCard));
    let reader = rig.reader("Card").await;
    assert_eq!(error_name(reader.read_card(no_opts()).await), Some(ErrorName::NoCard));
    assert_eq!(error_name(reader.get_pin_status(no_opts()).await), Some(ErrorName::NoCard));

    // A card, but not one of ours.
    readers[0].insert(ForeignCard);
    rig.wait_kind("Card", "unknown").await;
    assert_eq!(reader.profile().await.expect("Profile"), "");
    assert_eq!(error_name(reader.read_card(no_opts()).await), Some(ErrorName::NotSupported));
    assert_eq!(error_name(manager.find_card().await), Some(ErrorName::NoCard));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_with_two_cards() {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM", "Reader 2", "Reader 3"]).await;
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen2, 1)).await;
    let manager = rig.manager().await;
    assert_eq!(manager.find_card().await.expect("FindCard"), rig.reader_path("Card").await);
    rig.insert(&readers[2], "Reader 2", blank_card(Generation::Gen2, 2)).await;
    let e = daemon_error(manager.find_card().await);
    assert_eq!(e.name(), Some(ErrorName::Ambiguous), "{e}");
    assert!(e.message.contains("Reader 2"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_arguments_send_nothing() {
    let (rig, readers) = with_psam(Generation::Gen3).await;
    let reader = rig.reader("Card").await;
    let before = readers[0].log().len();
    let psam_before = readers[1].log().len();

    let mut bad_ssn = holder_dict(3, None);
    bad_ssn.insert("ssn".into(), string_value("110105194912310021"));
    let mut read_only = holder_dict(3, None);
    read_only.insert("card_id".into(), string_value("00"));
    let mut unknown = holder_dict(3, None);
    unknown.insert("colour".into(), string_value("red"));
    let mut wrong_type = holder_dict(3, None);
    wrong_type.insert("nation".into(), string_value("5"));
    let mut lonely_ssn = Dict::new();
    lonely_ssn.insert("ssn".into(), string_value(SSN));
    let mut big_photo = holder_dict(3, None);
    big_photo.insert("photo".into(), bytes_value(&jpeg(8191)));
    let mut gen2_on_gen3 = holder_dict(3, None);
    gen2_on_gen3.insert("spec_version".into(), string_value("2.00"));
    // Each refusal names its field and rule in the error's details.
    for (what, record, words, field, rule) in [
        ("bad ssn check character", bad_ssn, "ssn", "ssn", "bad_check_character"),
        ("read-only key", read_only, "card_id", "card_id", "not_writable"),
        ("unknown key", unknown, "colour", "record", "unknown_key"),
        ("nation as a string", wrong_type, "nation", "nation", "wrong_type"),
        ("ssn without sex and birth date", lonely_ssn, "sex", "sex", "must_come_together"),
        ("photo too large", big_photo, "photo", "photo", "photo_too_large"),
        ("spec version of another generation", gen2_on_gen3, "spec_version", "spec_version", "generation_mismatch"),
        ("empty record", Dict::new(), "record", "record", "nothing_to_write"),
    ] {
        let e = daemon_error(reader.write_holder_record(record, no_opts()).await);
        assert_eq!(e.name(), Some(ErrorName::InvalidArgument), "{what}: {e}");
        assert!(e.message.contains(words), "{what}: {}", e.message);
        assert!(e.message.starts_with("WriteHolderRecord"), "{what}: {}", e.message);
        assert_eq!((e.details.field.as_deref(), e.details.rule.as_deref()), (Some(field), Some(rule)), "{what}");
    }
    for (what, result, field, rule) in [
        ("unknown option", reader.read_card(opts(&[("colour", true)])).await.map(drop), "opts", "unknown_key"),
        (
            "option of another method",
            reader.get_pin_status(opts(&[("photo", true)])).await.map(drop),
            "opts",
            "unknown_key",
        ),
        ("3-digit PIN", reader.verify_pin("123", no_opts()).await.map(drop), "pin", "pin_length"),
        ("letters in a PIN", reader.verify_pin("12345a", no_opts()).await.map(drop), "pin", "pin_not_digits"),
        ("13-digit PIN", reader.verify_pin("1234567890123", no_opts()).await.map(drop), "pin", "pin_length"),
        (
            "repeated new PIN",
            reader.change_pin(INITIAL_PIN, "111111", no_opts()).await,
            "new_pin",
            "pin_repeated_digit",
        ),
        ("ascending new PIN", reader.change_pin(INITIAL_PIN, "345678", no_opts()).await, "new_pin", "pin_sequential"),
        ("descending new PIN", reader.reload_pin("987654", no_opts()).await, "new_pin", "pin_sequential"),
        (
            "initial PIN as new PIN",
            reader.change_pin("802413", INITIAL_PIN, no_opts()).await,
            "new_pin",
            "pin_is_initial",
        ),
        ("7-digit new PIN", reader.reload_pin("8024137", no_opts()).await, "new_pin", "pin_length"),
        (
            "bad SSN to Activate",
            reader.activate("12345", INITIAL_PIN, NEW_PIN, no_opts()).await.map(drop),
            "ssn",
            "wrong_length",
        ),
        (
            "weak PIN to Activate",
            reader.activate(SSN, INITIAL_PIN, "000000", no_opts()).await.map(drop),
            "new_pin",
            "pin_repeated_digit",
        ),
    ] {
        let e = daemon_error(result);
        assert_eq!(e.name(), Some(ErrorName::InvalidArgument), "{what}: {e}");
        assert_eq!((e.details.field.as_deref(), e.details.rule.as_deref()), (Some(field), Some(rule)), "{what}");
    }
    assert_eq!(readers[0].log().len(), before, "refused input reached the card");
    assert_eq!(readers[1].log().len(), psam_before, "refused input reached the PSAM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_errors() {
    let (rig, readers) = with_psam(Generation::Gen3).await;
    personalize(&rig).await;
    let reader = rig.reader("Card").await;
    // A wrong old PIN to ChangePin.
    let e = daemon_error(reader.change_pin("000000", NEW_PIN, no_opts()).await);
    assert_eq!(e.name(), Some(ErrorName::WrongPin), "{e}");
    assert!(e.message.contains("2 tries left"), "{e}");
    assert_eq!(e.details.tries_left, Some(2), "{e}");
    // Down to the last try: refused, and no VERIFY with data sent.
    assert_eq!(reader.verify_pin("000000", no_opts()).await.expect("VerifyPin"), (false, 1));
    let before = verifies_with_data(&readers[0].log());
    let e = daemon_error(reader.verify_pin(INITIAL_PIN, no_opts()).await);
    assert_eq!((e.name(), e.details.tries_left), (Some(ErrorName::LastTry), Some(1)), "{e}");
    assert_eq!(error_name(reader.change_pin(INITIAL_PIN, NEW_PIN, no_opts()).await), Some(ErrorName::LastTry));
    assert_eq!(error_name(reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await), Some(ErrorName::LastTry));
    assert_eq!(verifies_with_data(&readers[0].log()), before, "a PIN try was spent");
    // With allow_last_try the try is spent, and the wrong one blocks.
    let last = opts(&[("allow_last_try", true)]);
    assert_eq!(reader.verify_pin("000000", last.clone()).await.expect("VerifyPin"), (false, 0));
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (0, true));
    assert_eq!(error_name(reader.verify_pin(INITIAL_PIN, last.clone()).await), Some(ErrorName::PinBlocked));
    assert_eq!(error_name(reader.change_pin(INITIAL_PIN, NEW_PIN, last.clone()).await), Some(ErrorName::PinBlocked));
    assert_eq!(error_name(reader.activate(SSN, INITIAL_PIN, NEW_PIN, last).await), Some(ErrorName::PinBlocked));
    // The operator unblocks it.
    reader.unblock_pin(no_opts()).await.expect("UnblockPin");
    assert_eq!(reader.verify_pin(INITIAL_PIN, no_opts()).await.expect("VerifyPin"), (true, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_refusals() {
    let (rig, readers) = with_psam(Generation::Gen3).await;
    let reader = rig.reader("Card").await;
    // A blank card has no holder to match.
    let before = readers[0].log().len();
    assert_eq!(
        error_name(reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await),
        Some(ErrorName::HolderMismatch)
    );
    personalize(&rig).await;
    let other_ssn = "44030519900101123X";
    assert_eq!(
        error_name(reader.activate(other_ssn, INITIAL_PIN, NEW_PIN, no_opts()).await),
        Some(ErrorName::HolderMismatch)
    );
    assert_eq!(verifies_with_data(&readers[0].log()[before..]), 0, "a PIN was sent for another holder");
    // A wrong initial PIN.
    assert_eq!(error_name(reader.activate(SSN, "000000", NEW_PIN, no_opts()).await), Some(ErrorName::WrongPin));
    reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await.expect("Activate");
    // Active gen3: refused before any PIN APDU.
    let before = readers[0].log().len();
    assert_eq!(error_name(reader.activate(SSN, NEW_PIN, "274816", no_opts()).await), Some(ErrorName::AlreadyActive));
    assert!(readers[0].log()[before..].iter().all(|apdu| apdu[1] != 0x20), "a PIN APDU was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sam() {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen3, 1)).await;
    let reader = rig.reader("Card").await;
    let manager = rig.manager().await;
    assert_eq!(manager.sam_reader().await.expect("SamReader").as_str(), "/");
    // gen3 cannot be read without the PSAM; gen2 can, but not authenticated.
    assert_eq!(error_name(reader.read_card(no_opts()).await), Some(ErrorName::NoSam));
    assert_eq!(error_name(reader.unblock_pin(no_opts()).await), Some(ErrorName::NoSam));
    assert_eq!(error_name(reader.reload_pin(NEW_PIN, no_opts()).await), Some(ErrorName::NoSam));
    rig.take_out(&readers[0], "Card").await;
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen2, 1)).await;
    let info = reader.read_card(no_opts()).await.expect("gen2 ReadCard without a PSAM");
    assert_eq!(text(&info, "terminal_number").as_deref(), Some(""));
    assert_eq!(error_name(reader.read_card(opts(&[("authenticate", true)])).await), Some(ErrorName::NoSam));
    assert_eq!(error_name(reader.write_holder_record(holder_dict(2, None), no_opts()).await), Some(ErrorName::NoSam));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_failed_with_a_foreign_psam() {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    let foreign = Psam::with_key_domain([0x44, 0x03, 0, 0, 0, 1], "another card centre".into());
    rig.insert(&readers[1], "PSAM", psam(foreign)).await;
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen3, 1)).await;
    let reader = rig.reader("Card").await;
    let e = daemon_error(reader.read_card(no_opts()).await);
    assert_eq!(e.name(), Some(ErrorName::AuthenticationFailed), "{e}");
    // The card refused the cryptogram: its status word and slot are in the details.
    assert_eq!(e.details.sw, Some(0x6300), "{e}");
    assert_eq!(e.details.slot, Some(Slot::Card), "{e}");
    assert_eq!(
        error_name(reader.write_holder_record(holder_dict(3, None), no_opts()).await),
        Some(ErrorName::AuthenticationFailed)
    );
    assert_eq!(error_name(reader.unblock_pin(no_opts()).await), Some(ErrorName::AuthenticationFailed));

    // gen2 reads without authenticating; asked to check the card, the
    // foreign PSAM cannot confirm its INTERNAL AUTHENTICATE answer.
    rig.take_out(&readers[0], "Card").await;
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen2, 1)).await;
    reader.read_card(no_opts()).await.expect("gen2 reads without authentication");
    let e = daemon_error(reader.read_card(opts(&[("authenticate", true)])).await);
    assert_eq!(e.name(), Some(ErrorName::AuthenticationFailed), "{e}");
    assert!(e.message.contains("INTERNAL AUTHENTICATE"), "{e}");
    assert_eq!(e.details.sw, None, "a mismatch, not a status word");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_psam_reader_serves_no_card_operations() {
    let (rig, readers) = with_psam(Generation::Gen3).await;
    let sam_reader = rig.reader("PSAM").await;
    let (sent, resets) = (readers[1].log().len(), readers[1].resets());
    for result in [
        sam_reader.read_card(no_opts()).await.map(drop),
        sam_reader.verify_pin(INITIAL_PIN, no_opts()).await.map(drop),
        sam_reader.get_pin_status(no_opts()).await.map(drop),
    ] {
        assert_eq!(error_name(result), Some(ErrorName::NotSupported));
    }
    // Nothing reached the PSAM, not even a reset.
    assert_eq!((readers[1].log().len(), readers[1].resets()), (sent, resets));
    // And the PSAM still works for the card.
    let reader = rig.reader("Card").await;
    reader.read_card(opts(&[("authenticate", true)])).await.expect("ReadCard with the PSAM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_when_a_card_is_too_slow() {
    let config = ServiceConfig { operation_timeout: Duration::from_millis(300), ..ServiceConfig::default() };
    let (rig, readers) = InProcessDaemon::start_with(&["Card", "PSAM"], config).await;
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen2, 1)).await;
    // 19 APDUs at 50 ms each: about a second, over the 300 ms allowed.
    readers[0].set_latency(Duration::from_millis(50));
    let reader = rig.reader("Card").await;
    let e = daemon_error(reader.read_card(no_opts()).await);
    assert_eq!(e.name(), Some(ErrorName::Timeout), "{e}");
    assert!(e.message.contains("0.3 s"), "{e}");
    // The daemon is still there, and a quick call is answered.
    assert_eq!(reader.name().await.expect("Name"), "Card");
}

/// What sscardd does on SIGTERM (`InProcessDaemon::shut_down`); that the
/// process then exits 0 is the bench's (`dbus_shutdown`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_calls_are_cancelled_at_shutdown() {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen2, 1)).await;
    // 100 ms per APDU: the first read takes about two seconds.
    readers[0].set_latency(Duration::from_millis(100));
    let before = readers[0].log().len();
    let mut calls = Vec::new();
    for _ in 0..3 {
        let reader = rig.reader("Card").await;
        calls.push(tokio::spawn(async move { reader.read_card(no_opts()).await.map(drop) }));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.shut_down().await, 0, "calls left unanswered at shutdown");
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(match call.await.expect("task") {
            Ok(()) => "ok".to_owned(),
            Err(e) => CallError::from(&e).short_name().to_owned(),
        });
    }
    // The one on the card finishes (or is cut short); the queued ones are
    // answered Cancelled and never reach the card.
    assert_eq!(outcomes[1..], ["Cancelled", "Cancelled"], "{outcomes:?}");
    let selects = readers[0].log()[before..].iter().filter(|apdu| apdu[..4] == [0x00, 0xA4, 0x04, 0x00]).count();
    assert_eq!(selects, 1, "a queued call reached the card");
}

/// The UPDATE RECORDs a reader's card was sent since `from`.
fn updates(reader: &VirtualReader, from: usize) -> usize {
    reader.log().get(from..).unwrap_or_default().iter().filter(|apdu| apdu[1] == 0xDC).count()
}

/// `dbus_shutdown`'s first test, in process: what the daemon does on
/// SIGTERM lets the operation under way finish and answers it; the call
/// queued behind it, and a new one, are answered `Cancelled`, without
/// waiting for it. The signal, the bus name and the exit status stay the
/// bench's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_operation_under_way_finish() {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    let card = support::in_process::shared_card(Generation::Gen3, None);
    rig.insert(&readers[0], "Card", card.clone()).await;
    // 100 ms per APDU: the write takes seconds.
    readers[0].set_latency(Duration::from_millis(100));
    let start = readers[0].log().len();
    let before = readers[0].log().len() + readers[1].log().len();

    let writer = rig.reader("Card").await;
    let write = tokio::spawn(async move {
        let result = writer.write_holder_record(holder_dict(3, None), no_opts()).await;
        (result, Instant::now())
    });
    // Under way: Busy, and some of its UPDATE RECORDs sent.
    let watcher = rig.reader("Card").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(watcher.busy().await.unwrap_or(false) && updates(&readers[0], start) >= 2) {
        assert!(Instant::now() < deadline, "the write never got under way");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another call waits its turn behind it.
    let queued_reader = rig.reader("Card").await;
    let queued = tokio::spawn(async move {
        let result = queued_reader.read_card(no_opts()).await;
        (result, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!queued.is_finished(), "the ReadCard did not wait for the write");

    let sent_before = updates(&readers[0], start);
    let rig = std::sync::Arc::new(rig);
    let stopping = std::sync::Arc::clone(&rig);
    let shutdown = tokio::spawn(async move { stopping.shut_down().await });
    // The queued call is answered Cancelled without waiting for the write,
    // and so is a new one.
    let (queued_result, queued_at) = queued.await.expect("task");
    assert_eq!(error_name(queued_result), Some(ErrorName::Cancelled));
    let late = rig.reader("Card").await;
    assert_eq!(error_name(late.read_card(no_opts()).await), Some(ErrorName::Cancelled));
    // The write finishes and is answered.
    let (written, written_at) = write.await.expect("task");
    let written = written.unwrap_or_else(|e| panic!("the write under way at shutdown: {e}"));
    let sent = readers[0].log().len() + readers[1].log().len() - before;
    assert_eq!(
        support::client::uint(&written, "apdus"),
        Some(sent as u32),
        "the answer does not count what the cards saw"
    );
    assert!(text(&written, "digest").is_some_and(|d| d.len() == 64), "{written:?}");
    assert!(queued_at < written_at, "the queued call waited for the write");
    assert_eq!(shutdown.await.expect("task"), 0, "calls left unanswered");
    assert!(updates(&readers[0], start) > sent_before, "nothing was sent after the shutdown began");

    // The card holds the whole record: another daemon reads it back.
    let image = support::in_process::image_of(&card);
    let (again, readers) = with_psam(Generation::Gen3).await;
    readers[0].remove();
    again.wait_kind("Card", "none").await;
    let card = sscard_sim::user_card(sscard_sim::UserCard::from_image(image).expect("the card's image"));
    again.insert(&readers[0], "Card", card).await;
    let info = again.reader("Card").await.read_card(no_opts()).await.expect("ReadCard");
    let expected = holder_dict(3, None);
    for key in expected.keys() {
        if let Some(value) = text(&expected, key) {
            assert_eq!(text(&info, key), Some(value), "{key}");
        }
    }
    assert_eq!(support::client::byte(&info, "nation"), Some(5));
}

/// `dbus_shutdown`'s second test, in process: an operation that outlasts
/// the shutdown grace is left, and the shutdown ends without its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_outlasting_the_grace_is_left() {
    let config = ServiceConfig { shutdown_grace: Duration::from_millis(500), ..ServiceConfig::default() };
    let (rig, readers) = InProcessDaemon::start_with(&["Card", "PSAM"], config).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen3, 1)).await;
    readers[0].set_latency(Duration::from_millis(300));
    let start = readers[0].log().len();
    let reader = rig.reader("Card").await;
    let write = tokio::spawn(async move { reader.write_holder_record(holder_dict(3, None), no_opts()).await });
    let deadline = Instant::now() + Duration::from_secs(20);
    while updates(&readers[0], start) < 2 {
        assert!(Instant::now() < deadline, "the write never got under way");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = Instant::now();
    let unanswered = rig.shut_down().await;
    let stopped = asked.elapsed();
    assert_eq!(unanswered, 1, "the write under way was answered within the grace");
    // The grace, then at most a second and a bit for the replies that can be given.
    assert!(stopped < Duration::from_millis(2000), "{stopped:?}");
    assert!(!write.is_finished(), "the write was answered");
    write.abort();
}
