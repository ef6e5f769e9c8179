//! Concurrency and sharing through the daemon: two clients on one reader
//! are served in turn, two readers work in parallel, and a reset by
//! another program is recovered from.

use sscard_testkit as support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use support::bench::Slot;
use support::client::*;

/// Splits the card's command log into operations: each begins with SELECT
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

#[tokio::test]
async fn two_clients_on_one_reader_are_served_in_turn() {
    let mut rig = Rig::empty(2, &[]).await;
    rig.insert_sam().await;
    // 2 ms per APDU, so that the calls would overlap if they could.
    rig.insert_card(Slot::Card, 3, &["--latency-us", "2000"]).await;
    let path = rig.reader_path(Slot::Card).await;
    reader_at(&rig.conn, path.clone()).await.write_holder_record(holder_dict(3, None), no_opts()).await.expect("write");
    let before = rig.logged(Slot::Card).len();

    let mut clients = Vec::new();
    for _ in 0..2 {
        let conn = connect(&rig.bus).await;
        let reader = reader_at(&conn, path.clone()).await;
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for _ in 0..5 {
                answers.push(reader.read_card(no_opts()).await);
                answers.push(reader.get_pin_status(no_opts()).await.map(|(n, _)| {
                    let mut d = sscard_client::Dict::new();
                    d.insert("pin_tries_left".into(), zbus::OwnedVariant::from(n));
                    d
                }));
            }
            drop(conn);
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
    let log = rig.logged(Slot::Card)[before..].to_vec();
    let ops = operations(&log);
    assert_eq!(ops.len(), 20, "{ops:?}");
    let mut shapes: Vec<Vec<String>> = ops.clone();
    shapes.sort();
    shapes.dedup();
    assert_eq!(shapes.len(), 2, "operations interleaved: {shapes:?}");
}

#[tokio::test]
async fn two_readers_work_in_parallel() {
    let mut rig = Rig::empty(4, &[]).await;
    // gen2 reads need no PSAM, so nothing is shared between the readers;
    // at 20 ms per APDU, a read takes a few hundred milliseconds.
    for slot in [Slot::Card, Slot::Reader(2)] {
        rig.insert_card(slot, 2, &["--latency-us", "20000"]).await;
    }
    let paths = [rig.reader_path(Slot::Card).await, rig.reader_path(Slot::Reader(2)).await];

    // Busy of each reader, with when it changed.
    let busy: Arc<Mutex<Vec<(usize, bool, Instant)>>> = Arc::default();
    let mut watchers = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let props = zbus::fdo::PropertiesProxy::builder(&rig.conn)
            .destination("org.sscard.Daemon")
            .path(path.clone())
            .build()
            .await
            .expect("properties");
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

    let started = Instant::now();
    let mut calls = Vec::new();
    for path in &paths {
        let reader = reader_at(&rig.conn, path.clone()).await;
        calls.push(tokio::spawn(async move { reader.read_card(no_opts()).await }));
    }
    for call in calls {
        let info = call.await.expect("task").expect("ReadCard");
        assert_eq!(text(&info, "profile").as_deref(), Some("ssse-gen2"));
    }
    let both = started.elapsed();
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
    eprintln!("two parallel reads took {both:?}");
}

#[tokio::test]
async fn gen3_readers_share_the_psam() {
    let mut rig = Rig::empty(4, &[]).await;
    rig.insert_sam().await;
    for slot in [Slot::Card, Slot::Reader(2), Slot::Reader(3)] {
        rig.insert_card(slot, 3, &[]).await;
    }
    let mut calls = Vec::new();
    for slot in [Slot::Card, Slot::Reader(2), Slot::Reader(3)] {
        let reader = rig.reader(slot).await;
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

/// The raw log lines of the card: commands, answers and control codes.
fn raw_log(rig: &Rig) -> Vec<String> {
    std::fs::read_to_string(rig.card_log(Slot::Card)).unwrap_or_default().lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn only_a_pin_verified_session_ends_with_a_reset() {
    let rig = Rig::new(3, true).await;
    let reader = rig.reader(Slot::Card).await;
    let resets = |log: &[String]| log.iter().filter(|l| l.ends_with("control 02") || l.ends_with("control 01")).count();
    let start = resets(&raw_log(&rig));
    reader.read_card(no_opts()).await.expect("ReadCard");
    reader.get_pin_status(no_opts()).await.expect("GetPinStatus");
    assert_eq!(resets(&raw_log(&rig)), start, "a read reset the card");
    assert_eq!(reader.verify_pin(INITIAL_PIN, no_opts()).await.expect("VerifyPin"), (true, 3));
    assert_eq!(resets(&raw_log(&rig)), start + 1, "a verified PIN was left standing");
    // The next operation starts from a card with no PIN verified, and the
    // daemon's own reset does not count as another program's.
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (3, false));
    assert!(!rig.daemon.log_text().contains("reset by another program"));
}

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
