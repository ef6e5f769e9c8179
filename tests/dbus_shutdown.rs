//! Stopping the daemon never cuts a card operation in half: on SIGTERM the
//! operation under way finishes and is answered, the call queued behind it
//! is answered `Cancelled`, no new call is taken, and sscardd exits 0.
//! Bench only: SIGTERM to the process, its bus name, its exit status and
//! its log.

use sscard_testkit as support;

use std::time::{Duration, Instant};

use sscard_client::Reader1Proxy;
use support::bench::Slot;
use support::client::*;
use support::daemon::Sscardd;

/// The UPDATE RECORDs the card in `slot` has logged.
fn updates(rig: &Rig, slot: Slot) -> usize {
    rig.logged(slot).iter().filter(|apdu| apdu.get(2..4) == Some("DC")).count()
}

#[tokio::test]
async fn sigterm_lets_the_operation_under_way_finish() {
    let mut rig = Rig::empty(2, &[]).await;
    rig.insert_sam().await;
    // 500 ms per UPDATE RECORD: a whole record's 13 take 6.5 s, more than
    // the 2 s per reader the daemon used to wait at shutdown.
    rig.insert_card(Slot::Card, 3, &["--latency-us", "500000", "--latency-ins", "DC"]).await;
    let path = rig.reader_path(Slot::Card).await;
    let before = rig.logged(Slot::Card).len() + rig.logged(Slot::Sam).len();

    let writer = reader_at(&rig.conn, path.clone()).await;
    let write = tokio::spawn(async move {
        let result = writer.write_holder_record(holder_dict(3, None), no_opts()).await;
        (result, Instant::now())
    });
    // Under way: Busy, and some of its UPDATE RECORDs sent.
    let watcher = reader_at(&rig.conn, path.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(watcher.busy().await.unwrap_or(false) && updates(&rig, Slot::Card) >= 2) {
        assert!(Instant::now() < deadline, "the write never got under way: {}", rig.daemon.log_text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another client's ReadCard waits its turn behind it.
    let other = connect(&rig.bus).await;
    let queued_reader = reader_at(&other, path.clone()).await;
    let queued = tokio::spawn(async move {
        let result = queued_reader.read_card(no_opts()).await;
        (result, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!queued.is_finished(), "the ReadCard did not wait for the write");
    let unique = zbus::fdo::DBusProxy::new(&rig.conn)
        .await
        .expect("bus proxy")
        .get_name_owner("org.sscard.Daemon".try_into().expect("name"))
        .await
        .expect("the daemon's unique name");

    let sent_before = updates(&rig, Slot::Card);
    let asked = Instant::now();
    rig.daemon.signal_term();

    // No new calls: the well-known name goes at once, and a call that
    // reaches the daemon by its unique name is answered Cancelled.
    let deadline = Instant::now() + Duration::from_secs(2);
    while rig.bus.has_owner("org.sscard.Daemon") {
        assert!(Instant::now() < deadline, "sscardd kept its name after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let name_gone = asked.elapsed();
    let by_name = reader_at(&rig.conn, path.clone()).await;
    let e = by_name.read_card(no_opts()).await.expect_err("a new call by name after SIGTERM");
    assert!(format!("{e:?}").contains("ServiceUnknown"), "{e:?}");
    let by_unique_name = Reader1Proxy::builder(&rig.conn)
        .destination(unique.clone())
        .path(path.clone())
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("proxy");
    assert_eq!(error_name(by_unique_name.read_card(no_opts()).await), "Cancelled");

    // The queued call is answered Cancelled without waiting for the write.
    let (queued_result, queued_at) = queued.await.expect("task");
    assert_eq!(error_name(queued_result), "Cancelled");
    // The write finishes and is answered.
    let (written, written_at) = write.await.expect("task");
    let written = written.unwrap_or_else(|e| panic!("the write under way at SIGTERM: {e}\n{}", rig.daemon.log_text()));
    let sent = rig.logged(Slot::Card).len() + rig.logged(Slot::Sam).len() - before;
    assert_eq!(uint(&written, "apdus"), Some(sent as u32), "the answer does not count what the cards saw");
    assert!(text(&written, "digest").is_some_and(|d| d.len() == 64), "{written:?}");
    assert!(queued_at < written_at, "the queued call waited for the write");
    let status = rig.daemon.wait_exit(Duration::from_secs(30)).expect("sscardd still runs 30 s after SIGTERM");
    let exited = asked.elapsed();
    assert_eq!(status.code(), Some(0), "{}", rig.daemon.log_text());
    let sent_after = updates(&rig, Slot::Card);
    eprintln!(
        "SIGTERM after {sent_before} UPDATE RECORDs: name gone after {name_gone:?}, queued ReadCard Cancelled after \
         {:?}, write answered after {:?} ({sent_after} UPDATE RECORDs, {sent} APDUs), exit 0 after {exited:?}",
        queued_at - asked,
        written_at - asked,
    );
    assert!(sent_after > sent_before, "nothing was sent after SIGTERM");

    // The card holds the whole record: a new daemon reads it back.
    rig.daemon = Sscardd::start(&rig.bench, &rig.bus, &[]);
    rig.wait_kind(Slot::Card, "ssse").await;
    let info = rig.reader(Slot::Card).await.read_card(no_opts()).await.expect("ReadCard");
    let expected = holder_dict(3, None);
    for key in expected.keys() {
        if let Some(value) = text(&expected, key) {
            assert_eq!(text(&info, key), Some(value), "{key}");
        }
    }
    assert_eq!(byte(&info, "nation"), Some(5));
}

#[tokio::test]
async fn an_operation_outlasting_the_grace_is_left_and_sscardd_exits_0() {
    let config = std::env::temp_dir().join(format!("sscardd-grace-{}.toml", std::process::id()));
    std::fs::write(&config, "[timeouts]\nshutdown_grace_ms = 500\n").expect("config");
    let mut rig = Rig::empty(2, &["--config", &config.to_string_lossy()]).await;
    let _ = std::fs::remove_file(&config);
    rig.insert_sam().await;
    rig.insert_card(Slot::Card, 3, &["--latency-us", "500000", "--latency-ins", "DC"]).await;
    let reader = rig.reader(Slot::Card).await;
    let write = tokio::spawn(async move { reader.write_holder_record(holder_dict(3, None), no_opts()).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while updates(&rig, Slot::Card) < 2 {
        assert!(Instant::now() < deadline, "the write never got under way: {}", rig.daemon.log_text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = Instant::now();
    rig.daemon.signal_term();
    let status = rig.daemon.wait_exit(Duration::from_secs(10)).expect("sscardd still runs 10 s after SIGTERM");
    let exited = asked.elapsed();
    assert_eq!(status.code(), Some(0), "{}", rig.daemon.log_text());
    // The grace, then at most 1.1 s for the replies that can be given.
    assert!(exited < Duration::from_millis(2000), "{exited:?}");
    let log = rig.daemon.log_text();
    assert!(log.contains("still busy after the shutdown grace"), "{log}");
    assert!(log.contains("exiting without their answers"), "{log}");
    // Its caller learns from the bus that no answer will come.
    let e = write.await.expect("task").expect_err("an answer from a daemon that left");
    eprintln!("a 0.5 s grace: exit 0 after {exited:?}; the write's caller got {e}");
    assert!(format!("{e:?}").contains("NoReply"), "{e:?}");
}
