//! The error names only pcscd can provoke: `ServiceUnavailable` while it
//! is gone, and for a call under way when it dies. Every other error name
//! of the contract is provoked in process (`dbus_in_process_errors`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use support::bench::Slot;
use support::client::*;

// Bench only: pcscd killed.
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

// Bench only: pcscd killed under a call.
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
