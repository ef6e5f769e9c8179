//! The card pulled out at every APDU index of `WriteHolderRecord` and of
//! `Activate`, through the daemon: every call answers `CardRemoved`, the
//! card image afterwards is consistent (each record and the photo old or
//! new, the PIN and life cycle before or after), and the daemon stays
//! healthy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use support::bench::Slot;
use support::client::*;
use support::removal::*;

const PHOTO_LEN: usize = 700;

async fn write_removed_at_every_apdu(generation: u8) {
    let mut rig = Rig::empty(2, &[]).await;
    rig.insert_sam().await;
    let image = rig.bench.dir().join("card.json");

    // An uninterrupted run: how many APDUs the call takes, and the image
    // it leaves.
    insert(&mut rig, generation, &image, None).await;
    let old = load(&image);
    let reader = rig.reader(Slot::Card).await;
    let classified = count(&rig);
    reader.write_holder_record(holder_dict(generation, Some(PHOTO_LEN)), no_opts()).await.expect("uninterrupted");
    let apdus = count(&rig) - classified;
    take_out(&mut rig).await;
    let new = load(&image);
    assert_ne!(old.ef06, new.ef06);
    assert!(apdus > 10, "{apdus} APDUs");

    // The last APDUs are the closing SELECT (gen2: with its GET RESPONSE),
    // sent after the record was written and read back.
    let closing = if generation == 2 { 2 } else { 1 };
    for i in 1..=apdus {
        let what = format!("gen{generation} WriteHolderRecord, removed at APDU {i} of {apdus}");
        std::fs::remove_file(&image).expect("fresh blank card");
        insert(&mut rig, generation, &image, Some(classified + i)).await;
        let result = reader.write_holder_record(holder_dict(generation, Some(PHOTO_LEN)), no_opts()).await;
        if i > apdus - closing {
            // Written and verified; the open state left with the card.
            assert!(result.is_ok(), "{what}: {result:?}");
            after_removal(&mut rig, &what).await;
            let now = load(&image);
            assert_eq!((&now.ef05, &now.ef06, &now.photo), (&new.ef05, &new.ef06, &new.photo), "{what}");
            continue;
        }
        assert!(result.is_err(), "{what}: succeeded");
        assert_eq!(error_name(result), "CardRemoved", "{what}");
        after_removal(&mut rig, &what).await;
        let now = load(&image);
        old_or_new(&now, &old, &new, &what);
    }

    // Healthy: a fresh card is served as before.
    std::fs::remove_file(&image).expect("fresh blank card");
    insert(&mut rig, generation, &image, None).await;
    let info = reader.read_card(no_opts()).await.expect("ReadCard after the removals");
    assert_eq!(text(&info, "state").as_deref(), Some("blank"));
}

async fn activate_removed_at_every_apdu(generation: u8) {
    let mut rig = Rig::empty(2, &[]).await;
    rig.insert_sam().await;
    let image = rig.bench.dir().join("card.json");
    let personalised = rig.bench.dir().join("personalised.json");

    insert(&mut rig, generation, &image, None).await;
    let reader = rig.reader(Slot::Card).await;
    reader.write_holder_record(holder_dict(generation, None), no_opts()).await.expect("personalise");
    take_out(&mut rig).await;
    std::fs::copy(&image, &personalised).expect("keep the personalised image");
    let old = load(&image);

    insert(&mut rig, generation, &image, None).await;
    let classified = count(&rig);
    let info = reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await.expect("uninterrupted Activate");
    assert_eq!(text(&info, "state").as_deref(), Some("active"));
    let apdus = count(&rig) - classified;
    take_out(&mut rig).await;
    let new = load(&image);
    assert_eq!(new.pin, NEW_PIN);

    for i in 1..=apdus {
        let what = format!("gen{generation} Activate, removed at APDU {i} of {apdus}");
        std::fs::copy(&personalised, &image).expect("personalised card");
        insert(&mut rig, generation, &image, Some(classified + i)).await;
        let result = reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await;
        assert!(result.is_err(), "{what}: succeeded");
        assert_eq!(error_name(result), "CardRemoved", "{what}");
        after_removal(&mut rig, &what).await;
        let now = load(&image);
        old_or_new(&now, &old, &new, &what);
        assert!(now.pin == INITIAL_PIN || now.pin == NEW_PIN, "{what}: PIN is neither");
        assert!(now.lcs == old.lcs || now.lcs == new.lcs, "{what}: LCS {:?}", now.lcs);
        // A removal never costs the holder a try: the right PIN was given.
        assert_eq!(now.pin_tries_left, now.pin_max_tries, "{what}: a try was spent");
    }

    std::fs::copy(&personalised, &image).expect("personalised card");
    insert(&mut rig, generation, &image, None).await;
    let info = reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await.expect("Activate after the removals");
    assert_eq!(text(&info, "state").as_deref(), Some("active"));
}

// Also in process; kept: the card really pulled out through vpcd, as pcscd reports it.
#[tokio::test]
async fn gen3_write_removed_at_every_apdu() {
    write_removed_at_every_apdu(3).await;
}

// Also in process; kept: the card really pulled out through vpcd, as pcscd reports it.
#[tokio::test]
async fn gen2_write_removed_at_every_apdu() {
    write_removed_at_every_apdu(2).await;
}

// Also in process; kept: the card really pulled out through vpcd, as pcscd reports it.
#[tokio::test]
async fn gen3_activate_removed_at_every_apdu() {
    activate_removed_at_every_apdu(3).await;
}

// Also in process; kept: the card really pulled out through vpcd, as pcscd reports it.
#[tokio::test]
async fn gen2_activate_removed_at_every_apdu() {
    activate_removed_at_every_apdu(2).await;
}
