//! Every Manager1 and Reader1 method, hotplug, and the sharing of readers,
//! in process (`support::in_process`): the daemon's D-Bus surface on
//! virtual readers, results checked field by field. The bench keeps
//! busctl, pcscd killed and restarted, and other PC/SC programs
//! (`dbus_methods`, `dbus_hotplug`, `dbus_concurrency`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sscard_client::{CallError, Dict};
use sscard_contract::ErrorName;
use sscard_sim::{Generation, Psam, psam};
use sscard_transport::{Backend, CardConnection, Transport, VirtualReader};
use support::client::{INITIAL_PIN, NEW_PIN, SSN, boolean, byte, bytes, holder_dict, jpeg, no_opts, opts, text, uint};
use support::in_process::{InProcessDaemon, blank_card, log_lines_of, logged_since, reference_psam};
use zbus::OwnedVariant;
use zbus::fdo::PropertiesProxy;

const PHOTO_LEN: usize = 1500;
const WAIT: Duration = Duration::from_secs(10);

fn generation_of(generation: u8) -> Generation {
    if generation == 3 { Generation::Gen3 } else { Generation::Gen2 }
}

fn profile(generation: u8) -> &'static str {
    if generation == 3 { "ssse-gen3" } else { "ssse-gen2" }
}

fn error_name<T: std::fmt::Debug>(result: zbus::Result<T>) -> Option<ErrorName> {
    CallError::from(result.expect_err("an error")).name()
}

/// A card of `generation` in "Card", and the reference PSAM in "PSAM".
async fn with_psam(generation: u8) -> (InProcessDaemon, Vec<VirtualReader>) {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    rig.insert(&readers[0], "Card", blank_card(generation_of(generation), 1)).await;
    (rig, readers)
}

/// The card-info keys and values after personalising with `holder_dict`.
fn expected_holder(generation: u8) -> Vec<(&'static str, String)> {
    vec![
        ("card_type", "3".into()),
        ("spec_version", if generation == 3 { "3.00" } else { "2.00" }.into()),
        ("issuer", "SZ-CARD-CTR".into()),
        ("issue_date", "2026-11-25".into()),
        ("expiry_date", "2036-11-25".into()),
        ("card_number", "X00000019".into()),
        ("ssn", SSN.into()),
        ("name", "阿卜杜热合曼·买买提艾力·克里木江".into()),
        ("sex", "2".into()),
        ("birthplace", "653101".into()),
        ("birth_date", "1949-12-31".into()),
    ]
}

async fn every_method(generation: u8) {
    let (rig, readers) = with_psam(generation).await;
    let card_path = rig.reader_path("Card").await;
    let sam_path = rig.reader_path("PSAM").await;
    let reader = rig.reader("Card").await;

    // Manager1.
    let manager = rig.manager().await;
    let listed = manager.list_readers().await.expect("ListReaders");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&(card_path.clone(), "Card".to_owned())));
    assert!(listed.contains(&(sam_path.clone(), "PSAM".to_owned())));
    assert_eq!(manager.find_card().await.expect("FindCard"), card_path);
    assert_eq!(manager.version().await.expect("Version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(manager.sam_reader().await.expect("SamReader"), sam_path);
    let mut profiles = manager.profiles().await.expect("Profiles");
    profiles.sort();
    assert_eq!(profiles, ["ssse-gen2", "ssse-gen3"]);

    // Reader1 properties.
    assert_eq!(reader.name().await.expect("Name"), "Card");
    assert!(reader.card_present().await.expect("CardPresent"));
    assert!(!reader.atr().await.expect("Atr").is_empty());
    assert_eq!(reader.card_kind().await.expect("CardKind"), "ssse");
    assert_eq!(reader.profile().await.expect("Profile"), profile(generation));
    assert!(!reader.busy().await.expect("Busy"));

    // A blank card: only the identifier, and the state.
    let blank = reader.read_card(no_opts()).await.expect("ReadCard");
    let card_id = text(&blank, "card_id").expect("card_id");
    assert_eq!(card_id.len(), 32);
    assert!(card_id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()), "{card_id}");
    assert_eq!(text(&blank, "region").as_deref(), Some("110100"));
    assert_eq!(text(&blank, "state").as_deref(), Some("blank"));
    assert_eq!(text(&blank, "profile").as_deref(), Some(profile(generation)));
    assert_eq!(text(&blank, "terminal_number").as_deref(), Some("440300000001"));
    assert_eq!(uint(&blank, "pin_tries_left"), Some(3));
    for unwritten in ["ssn", "name", "sex", "nation", "card_number", "issue_date", "photo", "authentic"] {
        assert!(!blank.contains_key(unwritten), "a blank card reports {unwritten}");
    }
    let historical = text(&blank, "atr_historical").expect("atr_historical");
    let atr = reader.atr().await.expect("Atr");
    // The historical bytes end the ATR, before TCK on T=1.
    let atr_hex = hex::encode_upper(&atr);
    assert!(
        atr_hex.ends_with(&historical) || atr_hex[..atr_hex.len() - 2].ends_with(&historical),
        "{historical} vs {atr_hex}"
    );

    // Personalise: the digest is the model's, the APDU count what both
    // readers were sent during the call.
    let before = readers[0].log().len() + readers[1].log().len();
    let written = reader.write_holder_record(holder_dict(generation, Some(PHOTO_LEN)), no_opts()).await.expect("Write");
    let sent = readers[0].log().len() + readers[1].log().len() - before;
    let expected_digest = support::terminal::holder_record(generation, PHOTO_LEN).digest_hex();
    assert_eq!(text(&written, "digest"), Some(expected_digest));
    assert_eq!(uint(&written, "apdus"), Some(sent as u32));
    assert_eq!(written.len(), 2);

    // Read it back, every field, with the photo and INTERNAL AUTHENTICATE.
    let info = reader.read_card(opts(&[("photo", true), ("authenticate", true)])).await.expect("ReadCard");
    for (key, value) in expected_holder(generation) {
        assert_eq!(text(&info, key).as_deref(), Some(value.as_str()), "{key}");
    }
    assert_eq!(byte(&info, "nation"), Some(5));
    assert_eq!(text(&info, "card_id"), Some(card_id.clone()));
    assert_eq!(bytes(&info, "photo"), Some(jpeg(PHOTO_LEN)));
    assert_eq!(boolean(&info, "authentic"), Some(true));
    let state = if generation == 3 { "inactive" } else { "unknown" };
    assert_eq!(text(&info, "state").as_deref(), Some(state));

    // PIN status, and VERIFY: wrong, then right.
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (3, false));
    assert_eq!(reader.verify_pin("654321", no_opts()).await.expect("VerifyPin"), (false, 2));
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (2, false));
    assert_eq!(reader.verify_pin(INITIAL_PIN, no_opts()).await.expect("VerifyPin"), (true, 3));

    // Activate: the new PIN works, the initial one no longer does.
    let activated = reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await.expect("Activate");
    assert_eq!(text(&activated, "state").as_deref(), Some("active"));
    assert_eq!(text(&activated, "ssn").as_deref(), Some(SSN));
    assert_eq!(uint(&activated, "pin_tries_left"), Some(3));
    assert_eq!(reader.verify_pin(NEW_PIN, no_opts()).await.expect("VerifyPin"), (true, 3));
    let after = reader.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&after, "state").as_deref(), Some(if generation == 3 { "active" } else { "unknown" }));

    // ChangePin, then ReloadPin (operator) and UnblockPin.
    reader.change_pin(NEW_PIN, "274816", no_opts()).await.expect("ChangePin");
    assert_eq!(reader.verify_pin("274816", no_opts()).await.expect("VerifyPin"), (true, 3));
    reader.reload_pin("385927", no_opts()).await.expect("ReloadPin");
    assert_eq!(reader.verify_pin("385927", no_opts()).await.expect("VerifyPin"), (true, 3));
    assert_eq!(reader.verify_pin("000000", no_opts()).await.expect("VerifyPin"), (false, 2));
    reader.unblock_pin(no_opts()).await.expect("UnblockPin");
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (3, false));
    assert!(!reader.busy().await.expect("Busy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_on_gen3() {
    every_method(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_on_gen2() {
    every_method(2).await;
}

// Hotplug.

async fn properties(rig: &InProcessDaemon, path: &str) -> PropertiesProxy<'static> {
    PropertiesProxy::builder(&rig.client)
        .destination(sscard_contract::bus::BUS_NAME)
        .path(path.to_owned())
        .build()
        .await
        .expect("properties proxy")
}

/// Collects PropertiesChanged until `done` holds for the changes seen so far.
async fn changes_until(
    stream: &mut zbus::fdo::PropertiesChangedStream,
    done: impl Fn(&HashMap<String, OwnedVariant>) -> bool,
) -> HashMap<String, OwnedVariant> {
    let mut seen = HashMap::new();
    let deadline = Instant::now() + WAIT;
    while !done(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        let signal = tokio::time::timeout(left, stream.next())
            .await
            .unwrap_or_else(|_| panic!("PropertiesChanged never completed; saw {:?}", seen.keys()))
            .expect("stream ended");
        let args = signal.args().expect("PropertiesChanged args");
        for (name, value) in args.changed_properties() {
            seen.insert(name.to_string(), OwnedVariant::try_from(value).expect("owned value"));
        }
    }
    seen
}

fn as_text(v: Option<&OwnedVariant>) -> Option<String> {
    v.and_then(|v| String::try_from(v.try_clone().ok()?).ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_inserted_and_removed() {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    let path = rig.reader_path("Card").await;
    let reader = rig.reader("Card").await;
    let props = properties(&rig, path.as_str()).await;
    let mut changed = props.receive_properties_changed().await.expect("PropertiesChanged");
    let mut inserted = reader.receive_card_inserted().await.expect("CardInserted");
    let mut removed = reader.receive_card_removed().await.expect("CardRemoved");
    assert!(!reader.card_present().await.expect("CardPresent"));
    assert_eq!(reader.card_kind().await.expect("CardKind"), "none");

    // Insert: the signal carries the ATR, and the card is already classified.
    readers[0].insert(blank_card(Generation::Gen3, 1));
    let signal = tokio::time::timeout(WAIT, inserted.next()).await.expect("CardInserted in time").expect("stream");
    let atr = signal.args().expect("CardInserted args").atr;
    assert_eq!(reader.card_kind().await.expect("CardKind"), "ssse");
    assert_eq!(reader.profile().await.expect("Profile"), "ssse-gen3");
    assert_eq!(reader.atr().await.expect("Atr"), atr);
    assert!(atr.starts_with(&[0x3B]), "{atr:02X?}");
    let seen = changes_until(&mut changed, |s| {
        ["CardPresent", "Atr", "CardKind", "Profile"].iter().all(|k| s.contains_key(*k))
    })
    .await;
    assert_eq!(seen.get("CardPresent").and_then(|v| bool::try_from(v).ok()), Some(true));
    assert_eq!(as_text(seen.get("CardKind")).as_deref(), Some("ssse"));
    assert_eq!(as_text(seen.get("Profile")).as_deref(), Some("ssse-gen3"));

    // Busy goes up and down around an operation.
    let status = reader.get_pin_status(no_opts()).await.expect("GetPinStatus");
    assert_eq!(status, (3, false));
    let seen = changes_until(&mut changed, |s| s.contains_key("Busy")).await;
    assert_eq!(seen.get("Busy").and_then(|v| bool::try_from(v).ok()), Some(true));
    let seen = changes_until(&mut changed, |s| s.contains_key("Busy")).await;
    assert_eq!(seen.get("Busy").and_then(|v| bool::try_from(v).ok()), Some(false));

    // Remove.
    readers[0].remove();
    tokio::time::timeout(WAIT, removed.next()).await.expect("CardRemoved in time").expect("stream");
    let seen = changes_until(&mut changed, |s| ["CardPresent", "CardKind"].iter().all(|k| s.contains_key(*k))).await;
    assert_eq!(seen.get("CardPresent").and_then(|v| bool::try_from(v).ok()), Some(false));
    assert_eq!(as_text(seen.get("CardKind")).as_deref(), Some("none"));
    assert!(reader.atr().await.expect("Atr").is_empty());
    assert_eq!(reader.profile().await.expect("Profile"), "");
    assert_eq!(error_name(reader.read_card(no_opts()).await), Some(ErrorName::NoCard));

    // And a gen2 card in its place.
    readers[0].insert(blank_card(Generation::Gen2, 1));
    tokio::time::timeout(WAIT, inserted.next()).await.expect("CardInserted in time").expect("stream");
    assert_eq!(reader.profile().await.expect("Profile"), "ssse-gen2");
    let info = reader.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&info, "profile").as_deref(), Some("ssse-gen2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psam_comes_and_goes() {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    let manager = rig.manager().await;
    let props = properties(&rig, "/org/sscard/Daemon").await;
    let mut changed = props.receive_properties_changed().await.expect("PropertiesChanged");
    assert_eq!(manager.sam_reader().await.expect("SamReader").as_str(), "/");
    let sam_path = rig.reader_path("PSAM").await;

    readers[1].insert(reference_psam());
    let seen = changes_until(&mut changed, |s| s.contains_key("SamReader")).await;
    let now = zbus::OwnedObjectPath::try_from(seen["SamReader"].try_clone().expect("clone")).expect("o");
    assert_eq!(now, sam_path);
    // SamReader comes with the PSAM reader's CardInserted: its CardKind
    // already says so, read at once.
    let sam_reader = rig.reader("PSAM").await;
    assert_eq!(sam_reader.card_kind().await.expect("CardKind"), "psam");
    assert_eq!(sam_reader.profile().await.expect("Profile"), "");
    // A gen3 card can now be read, with the PSAM's terminal number.
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen3, 1)).await;
    let reader = rig.reader("Card").await;
    let info = reader.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&info, "terminal_number").as_deref(), Some("440300000001"));

    readers[1].remove();
    let seen = changes_until(&mut changed, |s| s.contains_key("SamReader")).await;
    let now = zbus::OwnedObjectPath::try_from(seen["SamReader"].try_clone().expect("clone")).expect("o");
    assert_eq!(now.as_str(), "/");
    assert_eq!(error_name(reader.read_card(no_opts()).await), Some(ErrorName::NoSam));

    // Back again: operations use it without restarting anything.
    readers[1].insert(psam(Psam::new([0x44, 0x03, 0x00, 0x00, 0x07, 0x77])));
    changes_until(&mut changed, |s| s.contains_key("SamReader")).await;
    let info = reader.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&info, "terminal_number").as_deref(), Some("440300000777"));
}

// Sharing.

/// Splits a card's command log into operations: each begins with SELECT
/// (and one that authenticated ends with a SELECT that closes it).
fn operations(log: &[String]) -> Vec<Vec<String>> {
    let mut ops: Vec<Vec<String>> = Vec::new();
    let mut authenticated = false;
    for apdu in log {
        let select = apdu.starts_with("00A40400");
        if select && authenticated {
            // The closing SELECT of the operation before.
            authenticated = false;
            if let Some(last) = ops.last_mut() {
                last.push("00A4".into());
            }
            continue;
        }
        authenticated |= apdu.starts_with("0082");
        if select || ops.is_empty() {
            ops.push(Vec::new());
        }
        // Class and instruction: the data of authentication steps differs.
        if let Some(last) = ops.last_mut() {
            last.push(apdu.get(..4).unwrap_or(apdu).to_owned());
        }
    }
    ops
}

/// Two callers at once: on the bench two bus connections, here two tasks
/// on the peer-to-peer connection (the daemon has one connection to the
/// bus either way, and serves callers by their reader's queue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_on_one_reader_are_served_in_turn() {
    let (rig, readers) = with_psam(3).await;
    // 2 ms per APDU, so that the calls would overlap if they could.
    readers[0].set_latency(Duration::from_millis(2));
    rig.reader("Card").await.write_holder_record(holder_dict(3, None), no_opts()).await.expect("write");
    let before = readers[0].log().len();

    let mut clients = Vec::new();
    for _ in 0..2 {
        let reader = rig.reader("Card").await;
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for _ in 0..5 {
                answers.push(reader.read_card(no_opts()).await);
                answers.push(reader.get_pin_status(no_opts()).await.map(|(n, _)| {
                    let mut d = Dict::new();
                    d.insert("pin_tries_left".into(), OwnedVariant::from(n));
                    d
                }));
            }
            answers
        }));
    }
    for client in clients {
        for answer in client.await.expect("client task") {
            let info = answer.expect("every call is served");
            assert_eq!(uint(&info, "pin_tries_left"), Some(3));
            if info.len() > 1 {
                assert_eq!(text(&info, "ssn").as_deref(), Some(SSN));
            }
        }
    }
    // The card saw 20 whole operations, none interleaved with another: each
    // has exactly the shape of a lone ReadCard or GetPinStatus.
    let ops = operations(&logged_since(&readers[0], before));
    assert_eq!(ops.len(), 20, "{ops:?}");
    let mut shapes: Vec<Vec<String>> = ops.clone();
    shapes.sort();
    shapes.dedup();
    assert_eq!(shapes.len(), 2, "operations interleaved: {shapes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_readers_work_in_parallel() {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM", "Reader 2", "Reader 3"]).await;
    // gen2 reads need no PSAM, so nothing is shared between the readers;
    // at 20 ms per APDU, a read takes a few hundred milliseconds.
    for (i, name) in [(0, "Card"), (2, "Reader 2")] {
        rig.insert(&readers[i], name, blank_card(Generation::Gen2, i as u8 + 1)).await;
        readers[i].set_latency(Duration::from_millis(20));
    }
    let paths = [rig.reader_path("Card").await, rig.reader_path("Reader 2").await];

    // Busy of each reader, with when it changed.
    let busy: Arc<Mutex<Vec<(usize, bool, Instant)>>> = Arc::default();
    let mut watchers = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let props = properties(&rig, path.as_str()).await;
        let mut stream = props.receive_properties_changed().await.expect("PropertiesChanged");
        let busy = Arc::clone(&busy);
        watchers.push(tokio::spawn(async move {
            while let Some(signal) = stream.next().await {
                let Ok(args) = signal.args() else { continue };
                if let Some(v) = args.changed_properties().get("Busy")
                    && let Ok(b) = bool::try_from(v)
                {
                    busy.lock().expect("lock").push((i, b, Instant::now()));
                }
            }
        }));
    }

    let mut calls = Vec::new();
    for name in ["Card", "Reader 2"] {
        let reader = rig.reader(name).await;
        calls.push(tokio::spawn(async move { reader.read_card(no_opts()).await }));
    }
    for call in calls {
        let info = call.await.expect("task").expect("ReadCard");
        assert_eq!(text(&info, "profile").as_deref(), Some("ssse-gen2"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for w in watchers {
        w.abort();
    }
    let events = busy.lock().expect("lock").clone();
    let span = |i: usize| {
        let up = events.iter().find(|(r, b, _)| *r == i && *b).map(|e| e.2).expect("Busy went up");
        let down = events.iter().find(|(r, b, _)| *r == i && !*b).map(|e| e.2).expect("Busy went down");
        (up, down)
    };
    let (a, b) = (span(0), span(1));
    // Both were busy at once: each began before the other ended.
    assert!(a.0 < b.1 && b.0 < a.1, "the readers took turns: {a:?} {b:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen3_readers_share_the_psam() {
    let names = ["Card", "PSAM", "Reader 2", "Reader 3"];
    let (rig, readers) = InProcessDaemon::start(&names).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    for i in [0, 2, 3] {
        rig.insert(&readers[i], names[i], blank_card(Generation::Gen3, i as u8 + 1)).await;
    }
    let mut calls = Vec::new();
    for i in [0, 2, 3] {
        let reader = rig.reader(names[i]).await;
        calls.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..5 {
                let info = reader.read_card(opts(&[("authenticate", true)])).await.expect("ReadCard");
                assert_eq!(boolean(&info, "authentic"), Some(true));
                ok += 1;
            }
            ok
        }));
    }
    for call in calls {
        assert_eq!(call.await.expect("task"), 5);
    }
}

/// Another program's reset between two calls, in process: the bench's
/// `dbus_concurrency` shows the same with `opensc-tool` through pcscd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_by_another_program_is_recovered() {
    let (rig, readers) = InProcessDaemon::start(&["ResetRounds", "PSAM"]).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    rig.insert(&readers[0], "ResetRounds", blank_card(Generation::Gen3, 1)).await;
    let reader = rig.reader("ResetRounds").await;
    reader.write_holder_record(holder_dict(3, None), no_opts()).await.expect("write");
    reader.read_card(no_opts()).await.expect("ReadCard");
    for round in 0..3 {
        // Another program resets the card between two calls.
        let resets = readers[0].resets();
        rig.reset_by_another_program("ResetRounds");
        assert_eq!(readers[0].resets(), resets + 1);
        let before = readers[0].log().len();
        let info = reader.read_card(no_opts()).await.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(text(&info, "ssn").as_deref(), Some(SSN));
        // The call began again with a fresh SELECT and checked the card's
        // identifier before reading.
        let log = logged_since(&readers[0], before);
        assert!(log.first().is_some_and(|a| a.starts_with("00A40400")), "{log:?}");
        assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (3, false));
    }
    let lines = log_lines_of("ResetRounds");
    assert!(
        lines.iter().any(|l| l.contains("reset by another program")),
        "the daemon did not see the reset: {lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_pin_verified_session_ends_with_a_reset() {
    let (rig, readers) = InProcessDaemon::start(&["VerifiedSession", "PSAM"]).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    rig.insert(&readers[0], "VerifiedSession", blank_card(Generation::Gen3, 1)).await;
    let reader = rig.reader("VerifiedSession").await;
    let start = readers[0].resets();
    reader.read_card(no_opts()).await.expect("ReadCard");
    reader.get_pin_status(no_opts()).await.expect("GetPinStatus");
    assert_eq!(readers[0].resets(), start, "a read reset the card");
    assert_eq!(reader.verify_pin(INITIAL_PIN, no_opts()).await.expect("VerifyPin"), (true, 3));
    assert_eq!(readers[0].resets(), start + 1, "a verified PIN was left standing");
    // The next operation starts from a card with no PIN verified, and the
    // daemon's own reset does not count as another program's.
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (3, false));
    let lines = log_lines_of("VerifiedSession");
    assert!(!lines.iter().any(|l| l.contains("reset by another program")), "{lines:#?}");
}

/// Another program's command to the PSAM during a gen3 operation waits for
/// the operation's end, in process: the bench's `dbus_concurrency` shows
/// the same with `opensc-tool` through pcscd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_psam_is_held_for_a_whole_operation() {
    let (rig, readers) = with_psam(3).await;
    // 100 ms per card APDU: a gen3 ReadCard takes over two seconds, and its
    // PSAM session opens at its start (the terminal number).
    readers[0].set_latency(Duration::from_millis(100));
    let reader = rig.reader("Card").await;
    let started = Instant::now();
    let read = tokio::spawn(async move {
        let info = reader.read_card(no_opts()).await;
        (info, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    let backend = rig.backend.clone();
    let other = tokio::task::spawn_blocking(move || {
        let mut connection = backend.connect("PSAM").expect("another program's connection");
        let answer = {
            let mut tx = connection.begin().expect("another program's transaction");
            tx.transmit(&[0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00]).expect("SELECT")
        };
        (answer, Instant::now())
    });
    let (info, read_done) = read.await.expect("task");
    info.expect("ReadCard");
    let (answer, other_done) = other.await.expect("task");
    assert!(answer.len() >= 2, "{answer:02X?}");
    eprintln!(
        "ReadCard ended after {:?}, the other program's command after {:?}",
        read_done - started,
        other_done - started
    );
    // Unhindered, the other command would end about 0.6 s in; held back, it
    // ends with the operation.
    assert!(other_done + Duration::from_millis(300) >= read_done, "the other program got in during the operation");
}
