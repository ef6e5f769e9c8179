//! The D-Bus contract, in process: `Daemon` served over a peer-to-peer
//! connection on in-process readers (`support::in_process`). No pcscd, no
//! bus, no polkit and no root; the bench's `dbus_*` tests keep what only
//! pcscd, a real bus and polkit can show.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use sscard_client::{CallError, CallErrorKind};
use sscard_contract::{ErrorName, Slot};
use sscard_sim::Generation;
use sscard_transport::Fault;
use support::client::{holder_dict, no_opts, opts, string_value, text};
use support::in_process::{InProcessDaemon, blank_card, reference_psam};

const SSN: &str = "11010519491231002X";
const INITIAL_PIN: &str = "123456";
const NEW_PIN: &str = "802413";

/// The daemon's error of a failed call, with its details.
fn daemon_error<T: std::fmt::Debug>(result: zbus::Result<T>) -> CallError {
    let e = CallError::from(result.expect_err("an error"));
    assert!(matches!(e.kind, CallErrorKind::Daemon(Some(_))), "not one of the daemon's errors: {e}");
    e
}

/// A gen3 card in "Card" and the PSAM in "PSAM".
async fn gen3() -> (InProcessDaemon, Vec<sscard_transport::VirtualReader>) {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen3, 1)).await;
    (rig, readers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_workflow_over_the_bus() {
    let (rig, readers) = gen3().await;
    let manager = rig.manager().await;
    assert_eq!(manager.version().await.unwrap(), env!("CARGO_PKG_VERSION"));
    assert_eq!(manager.profiles().await.unwrap(), ["ssse-gen2", "ssse-gen3"]);
    assert_eq!(manager.sam_reader().await.unwrap(), rig.reader_path("PSAM").await);
    assert_eq!(manager.find_card().await.unwrap(), rig.reader_path("Card").await);
    let reader = rig.reader("Card").await;
    assert_eq!(reader.card_kind().await.unwrap(), "ssse");
    assert_eq!(reader.profile().await.unwrap(), "ssse-gen3");
    assert!(reader.card_present().await.unwrap() && !reader.busy().await.unwrap());

    let blank = reader.read_card(no_opts()).await.expect("ReadCard of a blank card");
    assert_eq!(text(&blank, "state").as_deref(), Some("blank"));
    let written = reader.write_holder_record(holder_dict(3, Some(600)), no_opts()).await.expect("personalize");
    assert_eq!(text(&written, "digest").map(|d| d.len()), Some(64));
    let info = reader.read_card(opts(&[("photo", true)])).await.expect("ReadCard");
    assert_eq!(text(&info, "ssn").as_deref(), Some(SSN));
    assert_eq!(text(&info, "state").as_deref(), Some("inactive"));
    assert_eq!(text(&info, "terminal_number").as_deref(), Some("440300000001"));
    assert_eq!(reader.get_pin_status(no_opts()).await.unwrap(), (3, false));
    assert_eq!(reader.verify_pin("000000", no_opts()).await.unwrap(), (false, 2));
    assert_eq!(reader.verify_pin(INITIAL_PIN, no_opts()).await.unwrap(), (true, 3));
    let activated = reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await.expect("Activate");
    assert_eq!(text(&activated, "state").as_deref(), Some("active"));
    assert_eq!(reader.verify_pin(NEW_PIN, no_opts()).await.unwrap(), (true, 3));
    reader.reload_pin("975312", no_opts()).await.expect("ReloadPin");
    reader.unblock_pin(no_opts()).await.expect("UnblockPin");
    assert_eq!(reader.verify_pin("975312", no_opts()).await.unwrap(), (true, 3));
    assert!(!readers[0].log().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_input_names_its_field_and_rule_and_sends_nothing() {
    let (rig, readers) = gen3().await;
    let reader = rig.reader("Card").await;
    let before = readers[0].log().len();
    let mut unknown = holder_dict(3, None);
    unknown.insert("colour".into(), string_value("red"));
    let mut bad_ssn = holder_dict(3, None);
    bad_ssn.insert("ssn".into(), string_value("110105194912310021"));
    let mut gen2_on_gen3 = holder_dict(3, None);
    gen2_on_gen3.insert("spec_version".into(), string_value("2.00"));
    for (what, result, field, rule) in [
        ("unknown key", reader.write_holder_record(unknown, no_opts()).await.map(drop), "record", "unknown_key"),
        (
            "bad check character",
            reader.write_holder_record(bad_ssn, no_opts()).await.map(drop),
            "ssn",
            "bad_check_character",
        ),
        (
            "another generation",
            reader.write_holder_record(gen2_on_gen3, no_opts()).await.map(drop),
            "spec_version",
            "generation_mismatch",
        ),
        ("unknown option", reader.read_card(opts(&[("colour", true)])).await.map(drop), "opts", "unknown_key"),
        ("3-digit PIN", reader.verify_pin("123", no_opts()).await.map(drop), "pin", "pin_length"),
        ("a run of digits", reader.change_pin(INITIAL_PIN, "345678", no_opts()).await, "new_pin", "pin_sequential"),
        ("the initial PIN", reader.reload_pin(INITIAL_PIN, no_opts()).await, "new_pin", "pin_is_initial"),
        ("a bad SSN", reader.activate("12345", INITIAL_PIN, NEW_PIN, no_opts()).await.map(drop), "ssn", "wrong_length"),
        (
            "an unknown HSM operation",
            reader.begin_hsm("sign", no_opts()).await.map(drop),
            "operation",
            "unknown_operation",
        ),
    ] {
        let e = daemon_error(result);
        assert_eq!(e.name(), Some(ErrorName::InvalidArgument), "{what}: {e}");
        assert_eq!((e.details.field.as_deref(), e.details.rule.as_deref()), (Some(field), Some(rule)), "{what}");
    }
    assert_eq!(readers[0].log().len(), before, "refused input reached the card");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_and_card_errors_carry_their_details() {
    let (rig, readers) = gen3().await;
    let reader = rig.reader("Card").await;
    reader.write_holder_record(holder_dict(3, None), no_opts()).await.expect("personalize");
    let e = daemon_error(reader.change_pin("000000", NEW_PIN, no_opts()).await);
    assert_eq!((e.name(), e.details.tries_left), (Some(ErrorName::WrongPin), Some(2)), "{e}");
    assert_eq!(reader.verify_pin("000000", no_opts()).await.unwrap(), (false, 1));
    let e = daemon_error(reader.verify_pin(INITIAL_PIN, no_opts()).await);
    assert_eq!((e.name(), e.details.tries_left), (Some(ErrorName::LastTry), Some(1)), "{e}");

    // The card leaves before it answers its third APDU.
    let sent = readers[0].processed();
    readers[0].inject(sent + 2, Fault::Remove);
    let e = daemon_error(reader.read_card(no_opts()).await);
    assert_eq!((e.name(), e.details.slot), (Some(ErrorName::CardRemoved), Some(Slot::Card)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_and_no_psam_are_answered_before_any_apdu() {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    let reader = rig.reader("Card").await;
    assert_eq!(daemon_error(reader.read_card(no_opts()).await).name(), Some(ErrorName::NoCard));
    assert_eq!(daemon_error(rig.manager().await.find_card().await).name(), Some(ErrorName::NoCard));
    rig.insert(&readers[0], "Card", blank_card(Generation::Gen3, 1)).await;
    let before = readers[0].log().len();
    let e = daemon_error(reader.read_card(no_opts()).await);
    assert_eq!(e.name(), Some(ErrorName::NoSam), "{e}");
    assert_eq!(readers[0].log().len(), before, "NoSam after an APDU");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_follow_the_readers_and_cards() {
    let (rig, readers) = InProcessDaemon::start(&["Card"]).await;
    let reader = rig.reader("Card").await;
    let mut inserted = reader.receive_card_inserted().await.expect("CardInserted stream");
    let mut removed = reader.receive_card_removed().await.expect("CardRemoved stream");
    let mut added = rig.manager().await.receive_reader_added().await.expect("ReaderAdded stream");
    fn within<F: std::future::Future>(f: F) -> tokio::time::Timeout<F> {
        tokio::time::timeout(Duration::from_secs(10), f)
    }

    readers[0].insert(blank_card(Generation::Gen2, 1));
    let signal = within(inserted.next()).await.expect("CardInserted in time").expect("a signal");
    assert!(!signal.args().expect("args").atr.is_empty());
    // CardInserted comes after the card was classified.
    assert_eq!(reader.card_kind().await.unwrap(), "ssse");
    readers[0].remove();
    within(removed.next()).await.expect("CardRemoved in time").expect("a signal");
    assert_eq!(reader.card_kind().await.unwrap(), "none");

    rig.backend.add_reader("Second");
    let signal = within(added.next()).await.expect("ReaderAdded in time").expect("a signal");
    assert_eq!(signal.args().expect("args").name, "Second");
}

/// The same check as `dbus_introspection` (through busctl on the bench),
/// with the daemon's own `Introspect` in process. An HSM session belongs
/// to its caller's unique bus name, which a peer-to-peer connection has
/// none of: `HsmSession1`'s object is checked on the bench only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_matches_the_checked_in_xml() {
    let (rig, _readers) = gen3().await;
    let reader_path = rig.reader_path("Card").await;
    for (path, interface) in [
        (zbus::ObjectPath::try_from("/org/sscard/Daemon").unwrap(), "org.sscard.Manager1"),
        (reader_path.as_ref(), "org.sscard.Reader1"),
    ] {
        let proxy = zbus::fdo::IntrospectableProxy::builder(&rig.client)
            .destination(sscard_contract::bus::BUS_NAME)
            .path(path.to_owned())
            .build()
            .await
            .unwrap();
        let served = support::interface_xml(&proxy.introspect().await.expect("Introspect"), interface);
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dbus").join(format!("{interface}.xml"));
        let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
        assert_eq!(served, checked_in, "{interface} differs from {}", file.display());
    }
}

/// Without a unique bus name there is no owner to give an HSM session to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hsm_session_needs_a_caller_with_a_bus_name() {
    let (rig, readers) = gen3().await;
    let before = readers[0].log().len();
    let e = daemon_error(rig.reader("Card").await.begin_hsm("read", no_opts()).await);
    assert_eq!(e.name(), Some(ErrorName::NotAuthorized), "{e}");
    assert_eq!(readers[0].log().len(), before, "an APDU for a session that could not be owned");
}

/// `interfaces.md`, "Retry after a reset": a reset by another program is
/// recovered by one rerun of the whole method, over the bus as in the
/// service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_by_another_program_is_recovered_by_one_rerun() {
    let (rig, readers) = gen3().await;
    let reader = rig.reader("Card").await;
    reader.write_holder_record(holder_dict(3, None), no_opts()).await.expect("personalize");
    let resets = readers[0].resets();
    readers[0].inject(readers[0].processed() + 4, Fault::Reset);
    let info = reader.read_card(no_opts()).await.expect("ReadCard after one rerun");
    assert_eq!(text(&info, "ssn").as_deref(), Some(SSN));
    assert_eq!(readers[0].resets(), resets + 1, "only the other program's reset");
}

/// ... and never after a PIN try: `CardReset`, with the try spent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rerun_once_a_pin_try_was_spent() {
    let (rig, readers) = gen3().await;
    let reader = rig.reader("Card").await;
    reader.write_holder_record(holder_dict(3, None), no_opts()).await.expect("personalize");
    let start = readers[0].log().len();
    // SELECT, the empty VERIFY, the VERIFY with the PIN; the reset comes next.
    readers[0].inject(readers[0].processed() + 3, Fault::Reset);
    let e = daemon_error(reader.verify_pin(INITIAL_PIN, no_opts()).await);
    assert_eq!(e.name(), Some(ErrorName::CardReset), "{e}");
    let verifies =
        readers[0].log()[start..].iter().filter(|apdu| apdu.len() > 5 && apdu[..4] == [0x00, 0x20, 0x00, 0x00]).count();
    assert_eq!(verifies, 1, "the VERIFY with the PIN was sent again");
}
