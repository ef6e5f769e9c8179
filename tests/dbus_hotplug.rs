//! Hotplug through the daemon: pcscd dies and comes back; the readers'
//! signals are asserted. Cards and a PSAM that come and go are shown in
//! process (`dbus_in_process_methods`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sscard_client::Manager1Proxy;
use support::bench::Slot;
use support::client::*;

const WAIT: Duration = Duration::from_secs(10);

// Bench only: pcscd killed and restarted.
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
