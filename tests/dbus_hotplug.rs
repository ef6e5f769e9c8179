//! Hotplug through the daemon: cards and a PSAM come and go, pcscd dies
//! and comes back; signals and properties are asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sscard_client::Manager1Proxy;
use support::bench::Slot;
use support::client::*;
use zbus::OwnedVariant;
use zbus::fdo::PropertiesProxy;

const WAIT: Duration = Duration::from_secs(10);

async fn properties(rig: &Rig, path: &str) -> PropertiesProxy<'static> {
    PropertiesProxy::builder(&rig.conn)
        .destination("org.sscard.Daemon")
        .path(path.to_owned())
        .build()
        .await
        .expect("properties proxy")
}

/// Collects PropertiesChanged of `interface` until `done` holds for the
/// changes seen so far.
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

#[tokio::test]
async fn card_inserted_and_removed() {
    let mut rig = Rig::empty(2, &[]).await;
    rig.insert_sam().await;
    let path = rig.reader_path(Slot::Card).await;
    let reader = reader_at(&rig.conn, path.clone()).await;
    let props = properties(&rig, path.as_str()).await;
    let mut changed = props.receive_properties_changed().await.expect("PropertiesChanged");
    let mut inserted = reader.receive_card_inserted().await.expect("CardInserted");
    let mut removed = reader.receive_card_removed().await.expect("CardRemoved");
    assert!(!reader.card_present().await.expect("CardPresent"));
    assert_eq!(reader.card_kind().await.expect("CardKind"), "none");

    // Insert: the signal carries the ATR, and the card is already classified.
    rig.bench.insert(Slot::Card, "card", &["--gen", "3"]);
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
    rig.bench.remove(Slot::Card);
    tokio::time::timeout(WAIT, removed.next()).await.expect("CardRemoved in time").expect("stream");
    let seen = changes_until(&mut changed, |s| ["CardPresent", "CardKind"].iter().all(|k| s.contains_key(*k))).await;
    assert_eq!(seen.get("CardPresent").and_then(|v| bool::try_from(v).ok()), Some(false));
    assert_eq!(as_text(seen.get("CardKind")).as_deref(), Some("none"));
    assert!(reader.atr().await.expect("Atr").is_empty());
    assert_eq!(reader.profile().await.expect("Profile"), "");
    assert_eq!(error_name(reader.read_card(no_opts()).await), "NoCard");

    // And a gen2 card in its place.
    rig.bench.insert(Slot::Card, "card", &["--gen", "2"]);
    tokio::time::timeout(WAIT, inserted.next()).await.expect("CardInserted in time").expect("stream");
    assert_eq!(reader.profile().await.expect("Profile"), "ssse-gen2");
    let info = reader.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&info, "profile").as_deref(), Some("ssse-gen2"));
}

#[tokio::test]
async fn psam_comes_and_goes() {
    let mut rig = Rig::empty(2, &[]).await;
    let manager = rig.manager().await;
    let props = properties(&rig, "/org/sscard/Daemon").await;
    let mut changed = props.receive_properties_changed().await.expect("PropertiesChanged");
    assert_eq!(manager.sam_reader().await.expect("SamReader").as_str(), "/");
    let sam_path = rig.reader_path(Slot::Sam).await;

    rig.bench.insert(Slot::Sam, "psam", &[]);
    let seen = changes_until(&mut changed, |s| s.contains_key("SamReader")).await;
    let now = zbus::OwnedObjectPath::try_from(seen["SamReader"].try_clone().expect("clone")).expect("o");
    assert_eq!(now, sam_path);
    let sam_reader = rig.reader(Slot::Sam).await;
    assert_eq!(sam_reader.card_kind().await.expect("CardKind"), "psam");
    assert_eq!(sam_reader.profile().await.expect("Profile"), "");
    // A gen3 card can now be read, with the PSAM's terminal number.
    rig.insert_card(Slot::Card, 3, &[]).await;
    let reader = rig.reader(Slot::Card).await;
    let info = reader.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&info, "terminal_number").as_deref(), Some("440300000001"));

    rig.bench.remove(Slot::Sam);
    let seen = changes_until(&mut changed, |s| s.contains_key("SamReader")).await;
    let now = zbus::OwnedObjectPath::try_from(seen["SamReader"].try_clone().expect("clone")).expect("o");
    assert_eq!(now.as_str(), "/");
    assert_eq!(error_name(reader.read_card(no_opts()).await), "NoSam");

    // Back again: operations use it without restarting anything.
    rig.bench.insert(Slot::Sam, "psam", &["--terminal-number", "440300000777"]);
    changes_until(&mut changed, |s| s.contains_key("SamReader")).await;
    let info = reader.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&info, "terminal_number").as_deref(), Some("440300000777"));
}

#[tokio::test]
async fn pcscd_killed_and_restarted() {
    let mut rig = Rig::new(3, true).await;
    let manager: Manager1Proxy<'static> = rig.manager().await;
    let mut added = manager.receive_reader_added().await.expect("ReaderAdded");
    let mut removed = manager.receive_reader_removed().await.expect("ReaderRemoved");
    let mut before: Vec<String> =
        manager.list_readers().await.expect("ListReaders").into_iter().map(|(p, _)| p.to_string()).collect();
    before.sort();
    assert_eq!(before.len(), 2);

    rig.bench.kill_pcscd();
    let mut gone = Vec::new();
    while gone.len() < 2 {
        let signal = tokio::time::timeout(WAIT, removed.next()).await.expect("ReaderRemoved in time").expect("s");
        gone.push(signal.args().expect("args").path.to_string());
    }
    gone.sort();
    assert_eq!(gone, before);
    assert!(manager.list_readers().await.expect("ListReaders").is_empty());
    assert_eq!(error_name(manager.find_card().await), "ServiceUnavailable");

    // pcscd returns; the simulators died with their reader, so new cards go in.
    let restarted = Instant::now();
    rig.bench.start_pcscd();
    let mut back = Vec::new();
    while back.len() < 2 {
        let signal = tokio::time::timeout(WAIT, added.next()).await.expect("ReaderAdded in time").expect("signal");
        let args = signal.args().expect("args");
        back.push((args.path.to_string(), args.name.clone()));
    }
    let took = restarted.elapsed();
    eprintln!("readers back {took:?} after pcscd was started again (pcscd's own start-up included)");
    for (path, _) in &back {
        assert!(!before.contains(path), "reader number {path} was reused");
    }
    let mut names: Vec<_> = back.iter().map(|(_, n)| n.clone()).collect();
    names.sort();
    assert_eq!(names, [rig.bench.reader_name(Slot::Card), rig.bench.reader_name(Slot::Sam)]);
    rig.insert_sam().await;
    rig.insert_card(Slot::Card, 3, &[]).await;
    let reader = rig.reader(Slot::Card).await;
    let info = reader.read_card(no_opts()).await.expect("ReadCard after pcscd's return");
    assert_eq!(text(&info, "state").as_deref(), Some("blank"));
    assert!(rig.daemon.running());
}
