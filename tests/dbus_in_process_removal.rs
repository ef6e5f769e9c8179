//! Cards pulled out mid-call, in process (`support::in_process`): at every
//! APDU index of `WriteHolderRecord` and of `Activate` the card carries the
//! command out and leaves before its answer (`Fault::RemoveUnanswered`, as
//! `sscard-sim --remove-after` on the bench), or leaves before the command
//! reaches it (`Fault::Remove`). Every call answers
//! `CardRemoved`, the card image afterwards is consistent, and the daemon
//! stays healthy; a card left half-personalised is reported under
//! `inconsistent` and repaired. The bench's `dbus_removal` and
//! `dbus_half_written` show the same through vpcd and pcscd.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use sscard_client::{CallError, Dict, Reader1Proxy};
use sscard_contract::ErrorName;
use sscard_sim::{CardImage, Generation, SimulatedCard, UserCard};
use sscard_transport::{Fault, VirtualReader};
use support::client::{INITIAL_PIN, NEW_PIN, SSN, holder_dict, no_opts, text};
use support::in_process::{InProcessDaemon, Shared, image_of, logged_since, reference_psam, shared_card};
use support::removal::{BIRTH_DATE_B, NAME_B, holder, inconsistent, old_or_new, record_b, ssn_b, update_record_index};

const PHOTO_LEN: usize = 700;

fn generation_of(generation: u8) -> Generation {
    if generation == 3 { Generation::Gen3 } else { Generation::Gen2 }
}

fn error_name<T: std::fmt::Debug>(result: zbus::Result<T>) -> Option<ErrorName> {
    CallError::from(result.expect_err("an error")).name()
}

/// The reference PSAM in "PSAM"; "Card" empty.
async fn rig() -> (InProcessDaemon, Vec<VirtualReader>) {
    let (rig, readers) = InProcessDaemon::start(&["Card", "PSAM"]).await;
    rig.insert(&readers[1], "PSAM", reference_psam()).await;
    (rig, readers)
}

/// Inserts a card of `generation` from `image` (blank without one) into
/// "Card"; pulled out at the `remove_at`-th APDU (1-based, counted from its
/// insertion, classification included) if given, as the fault says.
async fn insert(
    rig: &InProcessDaemon,
    reader: &VirtualReader,
    generation: u8,
    image: Option<&CardImage>,
    remove_at: Option<(usize, Fault)>,
) -> Shared<SimulatedCard<UserCard>> {
    let card = shared_card(generation_of(generation), image);
    if let Some((n, fault)) = remove_at {
        reader.inject(reader.processed() + n as u64 - 1, fault);
    }
    rig.insert(reader, "Card", card.clone()).await;
    card
}

/// After the call that lost its card: the daemon saw the removal, and
/// still answers.
async fn after_removal(rig: &InProcessDaemon, what: &str) {
    rig.wait_kind("Card", "none").await;
    let manager = rig.manager().await;
    assert_eq!(manager.list_readers().await.expect("ListReaders").len(), 2, "{what}");
}

async fn write_removed_at_every_apdu(generation: u8) {
    let (rig, readers) = rig().await;
    let card_reader = &readers[0];

    // An uninterrupted run: how many APDUs the call takes, and the image
    // it leaves.
    let before = card_reader.processed();
    let card = insert(&rig, card_reader, generation, None, None).await;
    let old = image_of(&card);
    let reader = rig.reader("Card").await;
    let classified = card_reader.processed();
    let classification = (classified - before) as usize;
    reader.write_holder_record(holder_dict(generation, Some(PHOTO_LEN)), no_opts()).await.expect("uninterrupted");
    let apdus = (card_reader.processed() - classified) as usize;
    rig.take_out(card_reader, "Card").await;
    let new = image_of(&card);
    assert_ne!(old.ef06, new.ef06);
    assert!(apdus > 10, "{apdus} APDUs");

    // The last APDUs are the closing SELECT (gen2: with its GET RESPONSE),
    // sent after the record was written and read back.
    let closing = if generation == 2 { 2 } else { 1 };
    for (i, fault) in (1..=apdus).flat_map(|i| [(i, Fault::RemoveUnanswered), (i, Fault::Remove)]) {
        let what = format!("gen{generation} WriteHolderRecord, {fault:?} at APDU {i} of {apdus}");
        let before = card_reader.processed();
        let card = insert(&rig, card_reader, generation, None, Some((classification + i, fault))).await;
        assert_eq!((card_reader.processed() - before) as usize, classification, "{what}: classified otherwise");
        let result = reader.write_holder_record(holder_dict(generation, Some(PHOTO_LEN)), no_opts()).await;
        if i > apdus - closing {
            // Written and verified; the open state left with the card.
            assert!(result.is_ok(), "{what}: {result:?}");
            after_removal(&rig, &what).await;
            let now = image_of(&card);
            assert_eq!((&now.ef05, &now.ef06, &now.photo), (&new.ef05, &new.ef06, &new.photo), "{what}");
            continue;
        }
        assert_eq!(error_name(result), Some(ErrorName::CardRemoved), "{what}");
        after_removal(&rig, &what).await;
        old_or_new(&image_of(&card), &old, &new, &what);
    }

    // Healthy: a fresh card is served as before.
    insert(&rig, card_reader, generation, None, None).await;
    let info = reader.read_card(no_opts()).await.expect("ReadCard after the removals");
    assert_eq!(text(&info, "state").as_deref(), Some("blank"));
}

async fn activate_removed_at_every_apdu(generation: u8) {
    let (rig, readers) = rig().await;
    let card_reader = &readers[0];

    let card = insert(&rig, card_reader, generation, None, None).await;
    let reader = rig.reader("Card").await;
    reader.write_holder_record(holder_dict(generation, None), no_opts()).await.expect("personalise");
    rig.take_out(card_reader, "Card").await;
    let personalised = image_of(&card);
    let old = personalised.clone();

    let before = card_reader.processed();
    let card = insert(&rig, card_reader, generation, Some(&personalised), None).await;
    let classified = card_reader.processed();
    let classification = (classified - before) as usize;
    let info = reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await.expect("uninterrupted Activate");
    assert_eq!(text(&info, "state").as_deref(), Some("active"));
    let apdus = (card_reader.processed() - classified) as usize;
    rig.take_out(card_reader, "Card").await;
    let new = image_of(&card);
    assert_eq!(new.pin, NEW_PIN);

    for (i, fault) in (1..=apdus).flat_map(|i| [(i, Fault::RemoveUnanswered), (i, Fault::Remove)]) {
        let what = format!("gen{generation} Activate, {fault:?} at APDU {i} of {apdus}");
        let remove_at = Some((classification + i, fault));
        let card = insert(&rig, card_reader, generation, Some(&personalised), remove_at).await;
        let result = reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await;
        assert_eq!(error_name(result), Some(ErrorName::CardRemoved), "{what}");
        after_removal(&rig, &what).await;
        let now = image_of(&card);
        old_or_new(&now, &old, &new, &what);
        assert!(now.pin == INITIAL_PIN || now.pin == NEW_PIN, "{what}: PIN is neither");
        assert!(now.lcs == old.lcs || now.lcs == new.lcs, "{what}: LCS {:?}", now.lcs);
        // A removal never costs the holder a try: the right PIN was given.
        assert_eq!(now.pin_tries_left, now.pin_max_tries, "{what}: a try was spent");
    }

    insert(&rig, card_reader, generation, Some(&personalised), None).await;
    let info = reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await.expect("Activate after the removals");
    assert_eq!(text(&info, "state").as_deref(), Some("active"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen3_write_removed_at_every_apdu() {
    write_removed_at_every_apdu(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen2_write_removed_at_every_apdu() {
    write_removed_at_every_apdu(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen3_activate_removed_at_every_apdu() {
    activate_removed_at_every_apdu(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen2_activate_removed_at_every_apdu() {
    activate_removed_at_every_apdu(2).await;
}

// A card left half-personalised.

async fn read(reader: &Reader1Proxy<'_>, what: &str) -> Dict {
    reader.read_card(no_opts()).await.unwrap_or_else(|e| panic!("{what}: ReadCard: {e}"))
}

async fn half_written_card_is_reported_and_repaired(generation: u8) {
    let (rig, readers) = rig().await;
    let card_reader = &readers[0];
    let b = [Some(ssn_b()), Some(NAME_B.to_owned()), Some("1".to_owned()), Some(BIRTH_DATE_B.to_owned())];

    // Record A, in full, on a blank card: a consistent card. The logs are
    // the card's APDUs from its insertion on, classification included.
    let start = card_reader.log().len();
    let card = insert(&rig, card_reader, generation, None, None).await;
    let reader = rig.reader("Card").await;
    reader.write_holder_record(holder_dict(generation, None), no_opts()).await.expect("record A");
    let a = read(&reader, "record A").await;
    assert_eq!(inconsistent(&a), None, "record A");
    assert_eq!(text(&a, "ssn").as_deref(), Some(SSN));
    let log_on_blank = logged_since(card_reader, start);
    rig.take_out(card_reader, "Card").await;
    let with_a = image_of(&card);

    // Record B over A, uninterrupted: where its UPDATE RECORDs fall.
    let start = card_reader.log().len();
    insert(&rig, card_reader, generation, Some(&with_a), None).await;
    reader.write_holder_record(record_b(generation), no_opts()).await.expect("record B over A");
    assert_eq!(holder(&read(&reader, "record B").await), b);
    let log_over_a = logged_since(card_reader, start);
    rig.take_out(card_reader, "Card").await;

    // Each cut: the card it starts from, the APDU after which it is pulled
    // out, the birth date it is left with, and the fields of the rules broken.
    // Over A, right after the SSN (tag 08): sex and birth date are A's, and
    // disagree with B's SSN. Right after tag 09: B's short name also has A's
    // extension. On a blank card, right after the SSN: no sex, no birth date.
    let cuts = [
        (Some(&with_a), update_record_index(&log_over_a, 0x08), Some("1949-12-31"), &["birth_date: ", "sex: "][..]),
        (
            Some(&with_a),
            update_record_index(&log_over_a, 0x09),
            Some("1949-12-31"),
            &["birth_date: ", "sex: ", "name: "][..],
        ),
        (None, update_record_index(&log_on_blank, 0x08), None, &["sex: ", "birth_date: "][..]),
    ];
    for (start, remove_at, birth_date_left, fields) in cuts {
        let on = if start.is_some() { "over A" } else { "on a blank card" };
        let what = format!("gen{generation}, record B {on} cut after APDU {remove_at}");
        let card = insert(&rig, card_reader, generation, start, Some((remove_at, Fault::RemoveUnanswered))).await;
        let cut = reader.write_holder_record(record_b(generation), no_opts()).await;
        assert_eq!(error_name(cut), Some(ErrorName::CardRemoved), "{what}");
        after_removal(&rig, &what).await;

        // Reinserted: ReadCard answers, and names each broken rule.
        let left = image_of(&card);
        insert(&rig, card_reader, generation, Some(&left), None).await;
        let info = read(&reader, &what).await;
        assert_eq!(text(&info, "ssn"), Some(ssn_b()), "{what}: the SSN is B's");
        assert_eq!(text(&info, "birth_date").as_deref(), birth_date_left, "{what}: the birth date left");
        let lines = inconsistent(&info).unwrap_or_else(|| panic!("{what}: no inconsistent key in {info:?}"));
        assert_eq!(lines.len(), fields.len(), "{what}: {lines:#?}");
        for field in fields {
            assert!(lines.iter().any(|l| l.starts_with(field)), "{what}: no line on {field:?} in {lines:#?}");
        }
        assert!(lines.iter().all(|l| !l.contains('\n')), "{what}: {lines:#?}");
        let birth = lines.iter().find(|l| l.starts_with("birth_date: ")).map_or("", String::as_str);
        assert!(birth.contains("ssn"), "{what}: {birth}");
        assert_eq!(birth.contains("unwritten"), birth_date_left.is_none(), "{what}: {birth}");

        // The full record B repairs it.
        reader.write_holder_record(record_b(generation), no_opts()).await.expect("record B again");
        let repaired = read(&reader, &what).await;
        assert_eq!(inconsistent(&repaired), None, "{what}: after the repair");
        assert_eq!(holder(&repaired), b, "{what}: after the repair");
        rig.take_out(card_reader, "Card").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen3_half_written_card_is_reported_and_repaired() {
    half_written_card_is_reported_and_repaired(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen2_half_written_card_is_reported_and_repaired() {
    half_written_card_is_reported_and_repaired(2).await;
}
