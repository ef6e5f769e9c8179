//! Each error name of the contract that the simulator can provoke,
//! provoked through sscardd and asserted by name; refusals of input are
//! checked to send no APDU at all (the simulator's own log).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use sscard_client::CallError;
use support::bench::Slot;
use support::client::*;

/// Personalises the card in the rig with the holder record, no photo.
async fn personalize(rig: &Rig) {
    let reader = rig.reader(Slot::Card).await;
    reader.write_holder_record(holder_dict(3, None), no_opts()).await.expect("WriteHolderRecord");
}

#[tokio::test]
async fn no_card_and_not_supported() {
    let mut rig = Rig::empty(2, &[]).await;
    let manager = rig.manager().await;
    assert_eq!(error_name(manager.find_card().await), "NoCard");
    let reader = rig.reader(Slot::Card).await;
    assert_eq!(error_name(reader.read_card(no_opts()).await), "NoCard");
    assert_eq!(error_name(reader.get_pin_status(no_opts()).await), "NoCard");

    // vsmartcard's own iso7816 card is a card, but not ours.
    assert!(rig.bench.insert_vicc(Slot::Card), "vicc is not installed");
    rig.wait_kind(Slot::Card, "unknown").await;
    assert_eq!(reader.profile().await.expect("Profile"), "");
    assert_eq!(error_name(reader.read_card(no_opts()).await), "NotSupported");
    assert_eq!(error_name(manager.find_card().await), "NoCard");
}

#[tokio::test]
async fn ambiguous_with_two_cards() {
    let mut rig = Rig::empty(4, &[]).await;
    rig.insert_card(Slot::Card, 2, &[]).await;
    let manager = rig.manager().await;
    assert_eq!(manager.find_card().await.expect("FindCard"), rig.reader_path(Slot::Card).await);
    rig.insert_card(Slot::Reader(2), 2, &[]).await;
    let e = manager.find_card().await.expect_err("two cards");
    assert_eq!(Some(CallError::from(&e).short_name()), Some("Ambiguous"));
    let message = CallError::from(&e).message;
    assert!(message.contains(&rig.bench.reader_name(Slot::Reader(2))), "{message}");
}

#[tokio::test]
async fn invalid_arguments_send_nothing() {
    let rig = Rig::new(3, true).await;
    let reader = rig.reader(Slot::Card).await;
    let before = rig.logged(Slot::Card).len();

    let mut bad_ssn = holder_dict(3, None);
    bad_ssn.insert("ssn".into(), string_value("110105194912310021"));
    let mut read_only = holder_dict(3, None);
    read_only.insert("card_id".into(), string_value("00"));
    let mut unknown = holder_dict(3, None);
    unknown.insert("colour".into(), string_value("red"));
    let mut wrong_type = holder_dict(3, None);
    wrong_type.insert("nation".into(), string_value("5"));
    let mut lonely_ssn = sscard_client::Dict::new();
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
        ("empty record", sscard_client::Dict::new(), "record", "record", "nothing_to_write"),
    ] {
        let e = CallError::from(reader.write_holder_record(record, no_opts()).await.expect_err(what));
        assert_eq!(e.short_name(), "InvalidArgument", "{what}: {e}");
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
        let e = CallError::from(result.expect_err(what));
        assert_eq!(e.short_name(), "InvalidArgument", "{what}: {e}");
        assert_eq!((e.details.field.as_deref(), e.details.rule.as_deref()), (Some(field), Some(rule)), "{what}");
    }
    assert_eq!(rig.logged(Slot::Card)[before..], [] as [String; 0], "refused input reached the card");
}

#[tokio::test]
async fn pin_errors() {
    let rig = Rig::new(3, true).await;
    personalize(&rig).await;
    let reader = rig.reader(Slot::Card).await;
    // A wrong old PIN to ChangePin.
    let e = reader.change_pin("000000", NEW_PIN, no_opts()).await.expect_err("wrong old PIN");
    assert_eq!(Some(CallError::from(&e).short_name()), Some("WrongPin"));
    assert!(CallError::from(&e).message.contains("2 tries left"), "{e}");
    assert_eq!(CallError::from(&e).details.tries_left, Some(2), "{e}");
    // Down to the last try: refused, and no VERIFY with data sent.
    assert_eq!(reader.verify_pin("000000", no_opts()).await.expect("VerifyPin"), (false, 1));
    let before = rig.logged(Slot::Card);
    assert_eq!(error_name(reader.verify_pin(INITIAL_PIN, no_opts()).await), "LastTry");
    assert_eq!(error_name(reader.change_pin(INITIAL_PIN, NEW_PIN, no_opts()).await), "LastTry");
    assert_eq!(error_name(reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await), "LastTry");
    let verifies_with_data = |log: &[String]| log.iter().filter(|a| a.contains("<") && a.starts_with("0020")).count();
    assert_eq!(verifies_with_data(&rig.logged(Slot::Card)), verifies_with_data(&before), "a PIN try was spent");
    // With allow_last_try the try is spent, and the wrong one blocks.
    let last = opts(&[("allow_last_try", true)]);
    assert_eq!(reader.verify_pin("000000", last.clone()).await.expect("VerifyPin"), (false, 0));
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (0, true));
    assert_eq!(error_name(reader.verify_pin(INITIAL_PIN, last.clone()).await), "PinBlocked");
    assert_eq!(error_name(reader.change_pin(INITIAL_PIN, NEW_PIN, last.clone()).await), "PinBlocked");
    assert_eq!(error_name(reader.activate(SSN, INITIAL_PIN, NEW_PIN, last).await), "PinBlocked");
    // The operator unblocks it.
    reader.unblock_pin(no_opts()).await.expect("UnblockPin");
    assert_eq!(reader.verify_pin(INITIAL_PIN, no_opts()).await.expect("VerifyPin"), (true, 3));
}

#[tokio::test]
async fn activation_refusals() {
    let rig = Rig::new(3, true).await;
    let reader = rig.reader(Slot::Card).await;
    // A blank card has no holder to match.
    let before = rig.logged(Slot::Card).len();
    assert_eq!(error_name(reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await), "HolderMismatch");
    personalize(&rig).await;
    let other_ssn = "44030519900101123X";
    assert_eq!(error_name(reader.activate(other_ssn, INITIAL_PIN, NEW_PIN, no_opts()).await), "HolderMismatch");
    assert!(rig.logged(Slot::Card)[before..].iter().all(|a| !a.starts_with("0020") || !a.contains('<')));
    // A wrong initial PIN.
    assert_eq!(error_name(reader.activate(SSN, "000000", NEW_PIN, no_opts()).await), "WrongPin");
    reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await.expect("Activate");
    // Active gen3: refused before any PIN APDU.
    let before = rig.logged(Slot::Card).len();
    assert_eq!(error_name(reader.activate(SSN, NEW_PIN, "274816", no_opts()).await), "AlreadyActive");
    assert!(rig.logged(Slot::Card)[before..].iter().all(|a| !a.starts_with("0020")), "a PIN APDU was sent");
}

#[tokio::test]
async fn no_sam() {
    let mut rig = Rig::empty(2, &[]).await;
    rig.insert_card(Slot::Card, 3, &[]).await;
    let reader = rig.reader(Slot::Card).await;
    let manager = rig.manager().await;
    assert_eq!(manager.sam_reader().await.expect("SamReader").as_str(), "/");
    // gen3 cannot be read without the PSAM; gen2 can, but not authenticated.
    assert_eq!(error_name(reader.read_card(no_opts()).await), "NoSam");
    assert_eq!(error_name(reader.unblock_pin(no_opts()).await), "NoSam");
    assert_eq!(error_name(reader.reload_pin(NEW_PIN, no_opts()).await), "NoSam");
    rig.bench.remove(Slot::Card);
    rig.insert_card(Slot::Card, 2, &[]).await;
    let info = reader.read_card(no_opts()).await.expect("gen2 ReadCard without a PSAM");
    assert_eq!(text(&info, "terminal_number").as_deref(), Some(""));
    assert_eq!(error_name(reader.read_card(opts(&[("authenticate", true)])).await), "NoSam");
    assert_eq!(error_name(reader.write_holder_record(holder_dict(2, None), no_opts()).await), "NoSam");
}

#[tokio::test]
async fn authentication_failed_with_a_foreign_psam() {
    let mut rig = Rig::empty(2, &[]).await;
    rig.insert_sam_with(&["--key-domain", "another card centre"]).await;
    rig.insert_card(Slot::Card, 3, &[]).await;
    let reader = rig.reader(Slot::Card).await;
    let e = reader.read_card(no_opts()).await.expect_err("foreign PSAM");
    assert_eq!(Some(CallError::from(&e).short_name()), Some("AuthenticationFailed"), "{e}");
    // The card refused the cryptogram: its status word and slot are in the details.
    assert_eq!(CallError::from(&e).details.sw, Some(0x6300), "{e}");
    assert_eq!(CallError::from(&e).details.slot, Some(sscard_contract::Slot::Card), "{e}");
    assert_eq!(error_name(reader.write_holder_record(holder_dict(3, None), no_opts()).await), "AuthenticationFailed");
    assert_eq!(error_name(reader.unblock_pin(no_opts()).await), "AuthenticationFailed");

    // gen2 reads without authenticating; asked to check the card, the
    // foreign PSAM cannot confirm its INTERNAL AUTHENTICATE answer.
    rig.bench.remove(Slot::Card);
    rig.insert_card(Slot::Card, 2, &[]).await;
    reader.read_card(no_opts()).await.expect("gen2 reads without authentication");
    let e = reader.read_card(opts(&[("authenticate", true)])).await.expect_err("not authentic");
    assert_eq!(Some(CallError::from(&e).short_name()), Some("AuthenticationFailed"), "{e}");
    assert!(CallError::from(&e).message.contains("INTERNAL AUTHENTICATE"), "{e}");
    assert_eq!(CallError::from(&e).details.sw, None, "a mismatch, not a status word");
}

#[tokio::test]
async fn the_psam_reader_serves_no_card_operations() {
    let rig = Rig::new(3, true).await;
    let sam_reader = rig.reader(Slot::Sam).await;
    let before = std::fs::read_to_string(rig.card_log(Slot::Sam)).unwrap_or_default();
    for result in [
        sam_reader.read_card(no_opts()).await.map(drop),
        sam_reader.verify_pin(INITIAL_PIN, no_opts()).await.map(drop),
        sam_reader.get_pin_status(no_opts()).await.map(drop),
    ] {
        assert!(result.is_err(), "the PSAM's reader served a card operation");
        assert_eq!(error_name(result), "NotSupported");
    }
    // Nothing reached the PSAM, not even a reset.
    assert_eq!(std::fs::read_to_string(rig.card_log(Slot::Sam)).unwrap_or_default(), before);
    // And the PSAM still works for the card.
    let reader = rig.reader(Slot::Card).await;
    reader.read_card(opts(&[("authenticate", true)])).await.expect("ReadCard with the PSAM");
}

#[tokio::test]
async fn service_unavailable_while_pcscd_is_gone() {
    let mut rig = Rig::new(2, false).await;
    let manager = rig.manager().await;
    rig.bench.kill_pcscd();
    // The readers go with pcscd; the manager says why nothing is there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let result = manager.find_card().await;
        if result.is_err() && error_name(result) == "ServiceUnavailable" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "FindCard never answered ServiceUnavailable");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(manager.list_readers().await.expect("ListReaders").is_empty());
    assert!(rig.daemon.running());
}

#[tokio::test]
async fn service_unavailable_for_a_call_in_flight() {
    let mut rig = Rig::empty(2, &[]).await;
    // 50 ms per APDU: the read is still running when pcscd dies.
    rig.insert_card(Slot::Card, 2, &["--latency-us", "50000"]).await;
    let reader = rig.reader(Slot::Card).await;
    let call = tokio::spawn(async move { reader.read_card(no_opts()).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    rig.bench.kill_pcscd();
    let result = call.await.expect("task");
    if let Err(e) = &result {
        eprintln!("in flight: {e}");
    }
    assert!(result.is_err(), "the read survived pcscd");
    assert_eq!(error_name(result), "ServiceUnavailable");
    assert!(rig.daemon.running());
}

#[tokio::test]
async fn timeout_when_a_card_is_too_slow() {
    let config = std::env::temp_dir().join(format!("sscardd-timeout-{}.toml", std::process::id()));
    std::fs::write(&config, "[timeouts]\noperation_ms = 300\n").expect("config");
    let mut rig = Rig::empty(2, &["--config", &config.to_string_lossy()]).await;
    // 19 APDUs at 50 ms each: about a second, over the 300 ms allowed.
    rig.insert_card(Slot::Card, 2, &["--latency-us", "50000"]).await;
    let reader = rig.reader(Slot::Card).await;
    let e = reader.read_card(no_opts()).await.expect_err("too slow");
    assert_eq!(Some(CallError::from(&e).short_name()), Some("Timeout"), "{e}");
    assert!(CallError::from(&e).message.contains("0.3 s"), "{e}");
    // The daemon is still there, and a quick call is answered.
    assert_eq!(reader.name().await.expect("Name"), rig.bench.reader_name(Slot::Card));
    let _ = std::fs::remove_file(&config);
}

#[tokio::test]
async fn queued_calls_are_cancelled_at_shutdown() {
    let mut rig = Rig::empty(2, &[]).await;
    // 100 ms per APDU: the first read takes about two seconds.
    rig.insert_card(Slot::Card, 2, &["--latency-us", "100000"]).await;
    let before = rig.logged(Slot::Card).len();
    let mut calls = Vec::new();
    for _ in 0..3 {
        let reader = rig.reader(Slot::Card).await;
        calls.push(tokio::spawn(async move { reader.read_card(no_opts()).await.map(drop) }));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rig.daemon.stop(), Some(0), "{}", rig.daemon.log_text());
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
    let selects = rig.logged(Slot::Card)[before..].iter().filter(|a| a.starts_with("00A40400")).count();
    assert_eq!(selects, 1, "a queued call reached the card");
}
