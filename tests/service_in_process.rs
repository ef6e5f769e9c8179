//! The reader service over in-process readers (the simulator's cards behind
//! `VirtualBackend`): its runtime rules with no pcscd, no bus and no root.
//! The bench tests (`dbus_*`) show the same rules through pcscd and vpcd.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit::terminal;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sscard_model::{Field, Pin, Ssn};
use sscard_ops::{Engine, PinEntry, ReadOptions};
use sscard_service::{Caller, ErrorName, Event, Reply, Request, Service, ServiceConfig, ServiceError};
use sscard_sim::{Generation, Psam, UserCard, psam, user_card};
use sscard_transport::{Backend, CardConnection, Fault, VirtualBackend, VirtualReader};
use tokio::sync::mpsc;

const SSN: &str = "11010519491231002X";

fn engine() -> Arc<Engine> {
    Arc::new(Engine::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("apdu-scripts")).expect("profiles"))
}

fn pin(digits: &str) -> Pin {
    Pin::parse(digits, Field::Pin).unwrap()
}

fn card(generation: Generation, serial: u8) -> sscard_sim::SimulatedCard<UserCard> {
    user_card(UserCard::blank(generation, [0x11, 0x01, 0x00], [0, 0, 0, 0, 0, 0, 0, serial], "123456"))
}

/// The service over in-process readers, with the reader ids it gave them.
struct Rig {
    backend: VirtualBackend,
    service: Arc<Service<VirtualBackend>>,
    events: mpsc::UnboundedReceiver<Event>,
    ids: Vec<(String, u32)>,
}

impl Rig {
    /// Readers named as given; `cards` says what goes in each.
    async fn start(readers: &[&str], timeout: Duration) -> (Rig, Vec<VirtualReader>) {
        let backend = VirtualBackend::new();
        let handles: Vec<VirtualReader> = readers.iter().map(|name| backend.add_reader(name)).collect();
        let (tx, events) = mpsc::unbounded_channel();
        let config = ServiceConfig { operation_timeout: timeout, ..ServiceConfig::default() };
        let service = Service::start_with(backend.clone(), engine(), config, tx).expect("service");
        let mut rig = Rig { backend, service: Arc::new(service), events, ids: Vec::new() };
        while rig.ids.len() < readers.len() {
            if let Event::ReaderAdded { id, name, .. } = rig.next_event().await {
                rig.ids.push((name, id));
            }
        }
        (rig, handles)
    }

    async fn next_event(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(10), self.events.recv())
            .await
            .expect("an event in time")
            .expect("event")
    }

    fn id(&self, reader: &str) -> u32 {
        self.ids.iter().find(|(n, _)| n == reader).map(|(_, id)| *id).expect("reader id")
    }

    /// Inserts a card and waits until the service has classified it.
    async fn insert(&mut self, reader: &VirtualReader, name: &str, card: impl sscard_transport::VirtualCard + 'static) {
        let id = self.id(name);
        reader.insert(card);
        loop {
            if let Event::CardInserted { id: got, .. } = self.next_event().await
                && got == id
            {
                return;
            }
        }
    }

    async fn call(&self, reader: &str, request: Request) -> Result<Reply, ServiceError> {
        self.service.call(self.id(reader), request, Caller::default(), Instant::now()).await
    }
}

fn read() -> Request {
    Request::ReadCard(ReadOptions::default())
}

/// A gen3 card and a PSAM; the card personalised when asked.
async fn gen3_rig(timeout: Duration, personalised: bool) -> (Rig, VirtualReader, VirtualReader) {
    let (mut rig, readers) = Rig::start(&["Card", "PSAM"], timeout).await;
    let (card_reader, psam_reader) = (readers[0].clone(), readers[1].clone());
    rig.insert(&psam_reader, "PSAM", psam(Psam::new([0x44, 0x03, 0, 0, 0, 1]))).await;
    rig.insert(&card_reader, "Card", card(Generation::Gen3, 1)).await;
    if personalised {
        let record = Box::new(terminal::holder_record(3, 600));
        rig.call("Card", Request::WriteHolderRecord(record)).await.expect("personalise");
    }
    (rig, card_reader, psam_reader)
}

/// The command headers (CLA INS P1 P2) a reader's cards were sent.
fn headers(reader: &VirtualReader) -> Vec<String> {
    reader.log().iter().map(|a| hex::encode_upper(&a[..4.min(a.len())])).collect()
}

fn hex_log(reader: &VirtualReader) -> Vec<String> {
    reader.log().iter().map(hex::encode_upper).collect()
}

const SELECT_SSSE: &str = "00A404000F";
fn is_verify_with_pin(apdu: &str) -> bool {
    apdu.starts_with("00200000") && apdu.len() > 8
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_one_reader_run_whole_and_in_arrival_order() {
    let (rig, card_reader, _) = gen3_rig(Duration::from_secs(30), true).await;
    // Each operation alone, to know its APDUs.
    // Headers only: the cryptograms differ from run to run.
    let alone = |before: usize| headers(&card_reader)[before..].to_vec();
    let start = card_reader.log().len();
    rig.call("Card", read()).await.expect("read");
    let read_apdus = alone(start);
    let start = card_reader.log().len();
    rig.call("Card", Request::PinStatus).await.expect("status");
    let status_apdus = alone(start);
    assert_ne!(read_apdus, status_apdus);

    card_reader.set_latency(Duration::from_millis(2));
    let start = card_reader.log().len();
    let order = [true, false, false, true, false, true, true, false];
    // join_all polls the calls in order; each queues before its first await.
    let calls = order.iter().map(|&is_read| rig.call("Card", if is_read { read() } else { Request::PinStatus }));
    for outcome in futures_util::future::join_all(calls).await {
        outcome.expect("call");
    }
    let expected: Vec<String> =
        order.iter().flat_map(|&is_read| if is_read { read_apdus.clone() } else { status_apdus.clone() }).collect();
    assert_eq!(alone(start), expected, "whole operations, in the order the calls arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_run_in_parallel() {
    let (mut rig, readers) = Rig::start(&["A", "B"], Duration::from_secs(30)).await;
    rig.insert(&readers[0], "A", card(Generation::Gen2, 1)).await;
    rig.insert(&readers[1], "B", card(Generation::Gen2, 2)).await;
    for r in &readers {
        r.set_latency(Duration::from_millis(20));
    }
    let (a, b) = (readers[0].clone(), readers[1].clone());
    // Both readers hold a transaction at the same moment.
    let watcher = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if a.in_transaction() && b.in_transaction() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    });
    let (ra, rb) = tokio::join!(rig.call("A", read()), rig.call("B", read()));
    ra.expect("A");
    rb.expect("B");
    assert!(watcher.join().unwrap(), "the two readers' operations overlapped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_psam_is_held_by_one_operation_from_its_first_command_to_its_end() {
    let (rig, card_reader, psam_reader) = gen3_rig(Duration::from_secs(30), true).await;
    card_reader.set_latency(Duration::from_millis(10));
    let psam_before = psam_reader.processed();
    // Another program wants the PSAM while the operation uses it.
    let backend = rig.backend.clone();
    let other = {
        let psam_reader = psam_reader.clone();
        let card_reader = card_reader.clone();
        std::thread::spawn(move || {
            while psam_reader.processed() == psam_before {
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut connection = backend.connect("PSAM").expect("connect");
            // The operation is still under way when the other program asks.
            let asked_during = card_reader.in_transaction();
            let tx = connection.begin().expect("transaction");
            let seen = psam_reader.processed();
            drop(tx);
            (asked_during, seen)
        })
    };
    rig.call("Card", read()).await.expect("read");
    let psam_total = psam_reader.processed();
    let (asked_during, seen) = other.join().unwrap();
    assert!(asked_during, "the other program asked while the operation ran");
    assert!(psam_total > psam_before + 1, "the read used the PSAM more than once");
    assert_eq!(seen, psam_total, "the other program got the PSAM only after the operation's last PSAM command");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_by_another_program_is_recovered_by_one_rerun() {
    let (rig, card_reader, _) = gen3_rig(Duration::from_secs(30), true).await;
    let resets = card_reader.resets();
    card_reader.inject(card_reader.processed() + 4, Fault::Reset);
    let Reply::CardInfo(info) = rig.call("Card", read()).await.expect("read after a rerun") else { panic!() };
    assert_eq!(info.holder.ssn.map(|s| s.to_string()).as_deref(), Some(SSN));
    assert_eq!(card_reader.resets(), resets + 1, "only the other program's reset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rerun_once_a_pin_try_was_spent() {
    let (rig, card_reader, _) = gen3_rig(Duration::from_secs(30), true).await;
    let start = card_reader.log().len();
    let resets = card_reader.resets();
    // SELECT, empty VERIFY, VERIFY with the PIN; the reset comes next.
    card_reader.inject(card_reader.processed() + 3, Fault::Reset);
    let e = rig
        .call("Card", Request::VerifyPin { pin: PinEntry::Host(pin("123456")), allow_last_try: false })
        .await
        .unwrap_err();
    assert_eq!(e.name, ErrorName::CardReset, "{e}");
    assert!(e.message.contains("not rerun"), "{e}");
    let sent = hex_log(&card_reader)[start..].to_vec();
    assert_eq!(sent.iter().filter(|a| is_verify_with_pin(a)).count(), 1, "one VERIFY: {sent:?}");
    assert_eq!(card_reader.resets(), resets + 2, "the other program's reset, then ours after the PIN try");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_caller_timed_out_never_runs() {
    let (rig, card_reader, _) = gen3_rig(Duration::from_millis(300), true).await;
    card_reader.set_latency(Duration::from_millis(60));
    let start = card_reader.log().len();
    let (slow, queued) = tokio::join!(
        rig.call("Card", read()),
        rig.call("Card", Request::VerifyPin { pin: PinEntry::Host(pin("123456")), allow_last_try: false })
    );
    assert_eq!(slow.unwrap_err().name, ErrorName::Timeout);
    assert_eq!(queued.unwrap_err().name, ErrorName::Timeout);
    // Let the worker finish the read it had begun.
    let deadline = Instant::now() + Duration::from_secs(10);
    while (card_reader.in_transaction() || card_reader.log().len() == start) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = hex_log(&card_reader)[start..].to_vec();
    assert!(sent.iter().all(|a| !is_verify_with_pin(a)), "the timed-out VerifyPin ran: {sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_queued_calls_cancelled() {
    let (rig, card_reader, _) = gen3_rig(Duration::from_secs(30), true).await;
    card_reader.set_latency(Duration::from_millis(20));
    let service = Arc::clone(&rig.service);
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        tokio::task::spawn_blocking(move || service.shutdown()).await.unwrap();
    });
    let (running, queued) = tokio::join!(rig.call("Card", read()), rig.call("Card", Request::PinStatus));
    stopper.await.unwrap();
    assert!(running.is_ok(), "the operation in flight finished: {running:?}");
    assert_eq!(queued.unwrap_err().name, ErrorName::Cancelled);
    let late = rig.call("Card", read()).await.unwrap_err();
    assert_eq!(late.name, ErrorName::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_as_their_effects_say() {
    let (rig, card_reader, _) = gen3_rig(Duration::from_secs(30), true).await;
    let last = |reader: &VirtualReader| hex_log(reader).last().cloned().unwrap_or_default();

    // Authenticated (ext(0A) to read EF06): a closing SELECT, no reset.
    let resets = card_reader.resets();
    rig.call("Card", read()).await.expect("read");
    assert!(last(&card_reader).starts_with(SELECT_SSSE), "closing SELECT: {}", last(&card_reader));
    assert_eq!(card_reader.resets(), resets);

    // Nothing opened: the card is left as it is.
    rig.call("Card", Request::PinStatus).await.expect("status");
    assert!(last(&card_reader).starts_with("00200000"), "{}", last(&card_reader));
    // A MAC-only command opens nothing either.
    rig.call("Card", Request::UnblockPin).await.expect("unblock");
    assert!(last(&card_reader).starts_with("84240000"), "no closing SELECT after UNBLOCK: {}", last(&card_reader));
    assert_eq!(card_reader.resets(), resets, "no reset without a PIN try");

    // A PIN try: a reset, and no closing SELECT before it.
    let Reply::Verified(v) = rig
        .call("Card", Request::VerifyPin { pin: PinEntry::Host(pin("123456")), allow_last_try: false })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(v.ok);
    assert_eq!(card_reader.resets(), resets + 1, "reset after VERIFY");
    let last_sent = last(&card_reader);
    assert_eq!(last_sent, "00200000", "the counter after a fresh SELECT, then the reset: no closing SELECT");

    // Activate with another holder's SSN: refused before any VERIFY, the
    // empty one included, so no try and no reset; it sends the card one
    // APDU less than a ReadCard (the VERIFY with no data).
    let start = card_reader.log().len();
    rig.call("Card", read()).await.expect("read");
    let read_apdus = card_reader.log().len() - start;
    let start = card_reader.log().len();
    let other = Ssn::parse("44030519900101123X").unwrap();
    let e = rig
        .call(
            "Card",
            Request::Activate {
                ssn: other,
                pins: PinEntry::Host((pin("123456"), pin("135790"))),
                allow_last_try: false,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.name, ErrorName::HolderMismatch);
    let sent = hex_log(&card_reader)[start..].to_vec();
    assert!(sent.iter().all(|a| !a.starts_with("00200000")), "a VERIFY was sent: {sent:?}");
    assert_eq!(sent.len(), read_apdus - 1, "{sent:?}");
    assert_eq!(card_reader.resets(), resets + 1, "no reset after a refusal before any PIN APDU");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_psam_lost_mid_operation_is_no_sam_and_the_card_is_closed() {
    let (rig, card_reader, psam_reader) = gen3_rig(Duration::from_secs(30), false).await;
    // Personalising: PSAM SELECT, INIT and ENCRYPT for key 04 (the card is
    // then open for writing), then INIT for key 0A, which never answers.
    psam_reader.inject(psam_reader.processed() + 3, Fault::Remove);
    let record = Box::new(terminal::holder_record(3, 300));
    let resets = card_reader.resets();
    let e = rig.call("Card", Request::WriteHolderRecord(record)).await.unwrap_err();
    assert_eq!(e.name, ErrorName::NoSam, "{e}");
    let sent = hex_log(&card_reader);
    assert!(sent.iter().any(|a| a.starts_with("00DC")), "the records were being written");
    assert!(sent.last().is_some_and(|a| a.starts_with(SELECT_SSSE)), "closing SELECT: {:?}", sent.last());
    assert_eq!(card_reader.resets(), resets, "no PIN try, no reset");
    // The user card is still there and served.
    let status = rig.call("Card", Request::PinStatus).await.expect("status");
    assert!(matches!(status, Reply::PinStatus(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_and_cards_come_and_go() {
    let (mut rig, readers) = Rig::start(&["A"], Duration::from_secs(30)).await;
    rig.insert(&readers[0], "A", card(Generation::Gen2, 1)).await;
    let a = rig.id("A");
    // A card swapped for another is a removal and an insertion.
    readers[0].insert(card(Generation::Gen3, 2));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match rig.next_event().await {
            Event::CardRemoved { id } if id == a => seen.push("removed"),
            Event::CardInserted { id, profile, .. } if id == a => {
                assert_eq!(profile, "ssse-gen3");
                seen.push("inserted");
            }
            _ => {}
        }
    }
    assert_eq!(seen, ["removed", "inserted"]);
    // A reader plugged in later gets a worker; one unplugged goes.
    let b = rig.backend.add_reader("B");
    let b_id = loop {
        if let Event::ReaderAdded { id, name, .. } = rig.next_event().await
            && name == "B"
        {
            break id;
        }
    };
    assert_ne!(b_id, a, "ids are never reused");
    rig.ids.push(("B".into(), b_id));
    rig.insert(&b, "B", card(Generation::Gen2, 3)).await;
    rig.call("B", read()).await.expect("read on the new reader");
    rig.backend.remove_reader("A");
    loop {
        if let Event::ReaderRemoved { id } = rig.next_event().await
            && id == a
        {
            break;
        }
    }
    let gone = rig.call("A", read()).await.unwrap_err();
    assert_eq!(gone.name, ErrorName::NoCard, "{gone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_names_the_field_that_broke_a_rule_for_the_cards_profile() {
    let (rig, card_reader, _) = gen3_rig(Duration::from_secs(30), false).await;
    let before = card_reader.log().len();
    for (field, value, named) in [
        (Field::BirthDate, "1950-01-01", "birth_date"),
        (Field::Sex, "1", "sex"),
        (Field::ExpiryDate, "2020-01-01", "expiry_date"),
    ] {
        // A gen3 record (spec_version 3.00) on a gen3 card, one rule broken.
        let mut record = terminal::holder_record(3, 300);
        record.set_from_str(field, value).unwrap();
        let e = rig.call("Card", Request::WriteHolderRecord(Box::new(record))).await.unwrap_err();
        assert_eq!(e.name, ErrorName::InvalidArgument, "{e}");
        assert!(e.message.contains(named), "{named}: {e}");
        assert!(!e.message.contains("spec_version"), "another profile's rule: {e}");
    }
    // A gen2 record for this gen3 card names the spec version.
    let e = rig.call("Card", Request::WriteHolderRecord(Box::new(terminal::holder_record(2, 300)))).await.unwrap_err();
    assert!(e.message.contains("spec_version"), "{e}");
    assert_eq!(card_reader.log().len(), before, "refused before any APDU");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_psam_a_call_that_needs_one_sends_nothing() {
    let (mut rig, readers) = Rig::start(&["Card"], Duration::from_secs(30)).await;
    rig.insert(&readers[0], "Card", card(Generation::Gen3, 1)).await;
    let before = readers[0].log().len();
    for request in [read(), Request::UnblockPin, Request::ReloadPin { new_pin: pin("135790") }] {
        let e = rig.call("Card", request).await.unwrap_err();
        assert_eq!(e.name, ErrorName::NoSam, "{e}");
    }
    assert_eq!(readers[0].log().len(), before, "the card's profile told: no APDU");
    // What needs no PSAM still runs.
    assert!(matches!(rig.call("Card", Request::PinStatus).await, Ok(Reply::PinStatus(_))));
}

/// A stop ends an HSM session waiting for its next step at once, before
/// the service shuts down: the worker sleeps on its queue, and the stop
/// reaches it there. Its owner's next step then hears `Cancelled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_ends_a_session_waiting_for_its_step_at_once() {
    use sscard_ops::{HsmInput, HsmOperation};
    let (mut rig, _, _) = gen3_rig(Duration::from_secs(30), false).await;
    let id = rig.id("Card");
    let owner = ":1.42";
    let (session, first) = rig
        .service
        .hsm_begin(id, HsmOperation::Read { photo: false }, owner.into(), Caller::default(), Instant::now())
        .await
        .expect("the first step");
    assert!(!first.is_last());
    while rig.next_event().await != (Event::Busy { id, busy: true }) {}
    let stopped = Instant::now();
    rig.service.stop_taking_calls();
    // The reader stops being busy when the session has ended.
    while rig.next_event().await != (Event::Busy { id, busy: false }) {}
    assert!(stopped.elapsed() < Duration::from_secs(1), "the session ended {:?} after the stop", stopped.elapsed());
    let late = rig.service.hsm_continue(session, owner, HsmInput::default()).await.unwrap_err();
    assert_eq!(late.name, ErrorName::Cancelled, "{late}");
}

/// The terminal number of a ReadCard, and the PSAM APDUs the call took.
async fn read_terminal_number(rig: &Rig, psam_reader: &VirtualReader, options: ReadOptions) -> (String, u64) {
    let before = psam_reader.processed();
    let Reply::CardInfo(info) = rig.call("Card", Request::ReadCard(options)).await.expect("read") else { panic!() };
    (info.terminal_number.expect("a terminal number with the PSAM present"), psam_reader.processed() - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_psams_terminal_number_is_read_once_per_insertion_and_again_after_a_reset() {
    let (mut rig, readers) = Rig::start(&["Card", "PSAM"], Duration::from_secs(30)).await;
    let (card_reader, psam_reader) = (readers[0].clone(), readers[1].clone());
    rig.insert(&psam_reader, "PSAM", psam(Psam::new([0x44, 0x03, 0, 0, 0, 1]))).await;
    rig.insert(&card_reader, "Card", card(Generation::Gen2, 1)).await;
    let plain = ReadOptions::default();
    let authenticate = ReadOptions { authenticate: true, ..ReadOptions::default() };

    // Its SELECT and the terminal number once; then the PSAM is not asked.
    assert_eq!(read_terminal_number(&rig, &psam_reader, plain).await, ("440300000001".into(), 2));
    assert_eq!(read_terminal_number(&rig, &psam_reader, plain).await, ("440300000001".into(), 0));

    // Another PSAM in the same reader: its own number, read once.
    psam_reader.remove();
    loop {
        if let Event::SamReader { id: None } = rig.next_event().await {
            break;
        }
    }
    rig.insert(&psam_reader, "PSAM", psam(Psam::new([0x44, 0x03, 0, 0, 0, 2]))).await;
    assert_eq!(read_terminal_number(&rig, &psam_reader, plain).await, ("440300000002".into(), 2));
    assert_eq!(read_terminal_number(&rig, &psam_reader, plain).await, ("440300000002".into(), 0));

    // Another program resets the PSAM: the next session that begins on it
    // (INTERNAL AUTHENTICATE's) sees the reset, and the number is read
    // again after it.
    rig.backend.connect("PSAM").expect("another program").reset().expect("reset");
    let (_, sent) = read_terminal_number(&rig, &psam_reader, authenticate).await;
    assert_eq!(sent, 3, "the PSAM's SELECT and INTERNAL AUTHENTICATE's two commands");
    assert_eq!(read_terminal_number(&rig, &psam_reader, plain).await, ("440300000002".into(), 2));
    assert_eq!(read_terminal_number(&rig, &psam_reader, plain).await.1, 0);

    // A reset seen by one of the session's commands fails that operation
    // (the PSAM failed: NoSam), and the next one reads the number again.
    psam_reader.inject(psam_reader.processed() + 1, Fault::Reset);
    let e = rig.call("Card", Request::ReadCard(authenticate)).await.unwrap_err();
    assert_eq!(e.name, ErrorName::NoSam, "{e}");
    let start = psam_reader.log().len();
    assert_eq!(read_terminal_number(&rig, &psam_reader, plain).await, ("440300000002".into(), 2));
    let sent = hex_log(&psam_reader)[start..].to_vec();
    assert!(sent.last().is_some_and(|a| a.starts_with(READ_TERMINAL_NUMBER)), "{sent:?}");
    assert_eq!(read_terminal_number(&rig, &psam_reader, plain).await.1, 0);
}

/// READ BINARY of the PSAM's EF16 (`terminal-number.apdu`).
const READ_TERMINAL_NUMBER: &str = "00B09600";
