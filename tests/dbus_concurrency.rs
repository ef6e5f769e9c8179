//! Sharing the card with other PC/SC programs, through pcscd: a reset by
//! another program is recovered from, and another program waits while an
//! operation holds the PSAM. Two clients on one reader, two readers in
//! parallel, the PSAM shared and the reset after a verified PIN are shown
//! in process (`dbus_in_process_methods`), with these two again.

use sscard_testkit as support;

use std::time::{Duration, Instant};

use support::bench::Slot;
use support::client::*;

// Also in process; kept: a reset by another PC/SC program (opensc-tool) through pcscd.
#[tokio::test]
async fn reset_by_another_program_is_recovered() {
    let rig = Rig::new(3, true).await;
    let reader = rig.reader(Slot::Card).await;
    reader.write_holder_record(holder_dict(3, None), no_opts()).await.expect("write");
    reader.read_card(no_opts()).await.expect("ReadCard");
    for round in 0..3 {
        // Another program resets the card between two calls.
        let (ok, out) = rig.bench.opensc_tool(&["-r", "0", "--reset", "warm"]);
        assert!(ok, "opensc-tool --reset: {out}");
        let before = rig.logged(Slot::Card).len();
        let info = reader.read_card(no_opts()).await.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(text(&info, "ssn").as_deref(), Some(SSN));
        // The call began again with a fresh SELECT and checked the card's
        // identifier before reading.
        let log = rig.logged(Slot::Card)[before..].to_vec();
        assert!(log.first().is_some_and(|a| a.starts_with("00A40400")), "{log:?}");
        assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (3, false));
    }
    let log = rig.daemon.log_text();
    assert!(log.contains("reset by another program"), "the daemon did not see the reset");
}

// Also in process; kept: pcscd holds another PC/SC program (opensc-tool) back.
#[tokio::test]
async fn the_psam_is_held_for_a_whole_operation() {
    let mut rig = Rig::empty(2, &[]).await;
    rig.insert_sam().await;
    // 100 ms per card APDU: a gen3 ReadCard takes over two seconds, and its
    // PSAM session opens at its start (the terminal number).
    rig.insert_card(Slot::Card, 3, &["--latency-us", "100000"]).await;
    let reader = rig.reader(Slot::Card).await;
    let started = Instant::now();
    let read = tokio::spawn(async move {
        let info = reader.read_card(no_opts()).await;
        (info, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Another program sends the PSAM a command meanwhile: PC/SC holds it
    // back until the operation's transaction on the PSAM ends.
    let socket = rig.bench.socket();
    let other = tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("timeout")
            .args(["20", "opensc-tool", "-r", "1", "-s", "00A40000023F00"])
            .env("PCSCLITE_CSOCK_NAME", socket)
            .output()
            .expect("opensc-tool");
        (out.status.success(), Instant::now())
    });
    let (info, read_done) = read.await.expect("task");
    info.expect("ReadCard");
    let (ok, other_done) = other.await.expect("task");
    assert!(ok, "opensc-tool failed");
    eprintln!(
        "ReadCard ended after {:?}, the other program's command after {:?}",
        read_done - started,
        other_done - started
    );
    // Unhindered, the other command would end about 0.7 s in; held back, it
    // ends with the operation (its transaction ends just before the reply).
    assert!(other_done + Duration::from_millis(300) >= read_done, "the other program got in during the operation");
}
