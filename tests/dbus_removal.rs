//! The card pulled out at every APDU index of `WriteHolderRecord` and of
//! `Activate`, through the daemon: every call answers `CardRemoved`, the
//! card image afterwards is consistent (each record and the photo old or
//! new, the PIN and life cycle before or after), and the daemon stays
//! healthy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use sscard_sim::CardImage;
use support::bench::Slot;
use support::client::*;
use support::removal::*;

const PHOTO_LEN: usize = 700;

/// Every record of `now` equals the one in `old` or in `new`.
fn old_or_new(now: &CardImage, old: &CardImage, new: &CardImage, what: &str) {
    for (file, now_map, old_map, new_map) in
        [("EF05", &now.ef05, &old.ef05, &new.ef05), ("EF06", &now.ef06, &old.ef06, &new.ef06)]
    {
        let tags: std::collections::BTreeSet<_> = now_map.keys().chain(old_map.keys()).chain(new_map.keys()).collect();
        for tag in tags {
            let v = now_map.get(tag);
            assert!(v == old_map.get(tag) || v == new_map.get(tag), "{what}: {file}/{tag} is neither old nor new");
        }
    }
    // gen2 writes the photo in 255-byte UPDATE BINARY chunks (T=0 takes no
    // longer command), each atomic: a pulled card holds the new chunks up
    // to some boundary and the old ones after it. gen3 writes it in one.
    let chunk = if now.generation == 2 { 255 } else { now.photo.0.len().max(1) };
    let len = now.photo.0.len().max(old.photo.0.len()).max(new.photo.0.len());
    let byte = |img: &CardImage, i: usize| img.photo.0.get(i).copied().unwrap_or(0);
    let torn = (0..=len.div_ceil(chunk)).all(|k| {
        let cut = (k * chunk).min(len);
        (0..len).any(|i| byte(now, i) != if i < cut { byte(new, i) } else { byte(old, i) })
    });
    assert!(!torn, "{what}: EF08 is not new up to a chunk boundary and old after it");
}

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
