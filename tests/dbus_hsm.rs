//! HSM sessions through the daemon (`docs/interfaces.md`, "HSM sessions";
//! `docs/unified-interface.md` section 7), on the bench with no PSAM: the
//! simulator's test back end (`sscard_sim::hsm`) plays the encryption
//! machine. Every operation on gen3 and gen2, the refusals before any APDU,
//! the lifetimes (idle, owner gone, card removed), the isolation of readers
//! and of other programs, ownership, the audit trail, and the logs.
//! Bench only: a session belongs to its caller's unique bus name, which a
//! peer-to-peer connection (`dbus_in_process`) has none of.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::time::{Duration, Instant};

use sscard_client::{Dict, HsmSession1Proxy, Reader1Proxy};
use sscard_sim::crypto::Algorithm;
use sscard_sim::hsm;
use support::bench::Slot;
use support::client::*;
use zbus::OwnedVariant;

const RELOADED: &str = "135790";

async fn session_at(conn: &zbus::Connection, path: zbus::OwnedObjectPath) -> HsmSession1Proxy<'static> {
    HsmSession1Proxy::builder(conn)
        .path(path)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("session proxy")
}

async fn begin(
    reader: &Reader1Proxy<'_>,
    conn: &zbus::Connection,
    op: &str,
    args: Dict,
) -> (HsmSession1Proxy<'static>, Dict) {
    let (path, out) = reader.begin_hsm(op, args).await.unwrap_or_else(|e| panic!("BeginHsm {op}: {e}"));
    (session_at(conn, path).await, out)
}

fn alg(out: &Dict) -> Algorithm {
    Algorithm::from_code(bytes(out, "algorithm").expect("algorithm")[0]).expect("a known algorithm")
}

fn f8(out: &Dict, key: &str) -> [u8; 8] {
    bytes(out, key).unwrap_or_else(|| panic!("{key}")).try_into().unwrap_or_else(|_| panic!("{key}: 8 bytes"))
}

fn byte_args(pairs: &[(&str, Vec<u8>)]) -> Dict {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), bytes_value(v))).collect()
}

fn awaits(out: &Dict) -> Vec<String> {
    out.get("awaits").and_then(|v| Vec::<String>::try_from(v.try_clone().ok()?).ok()).expect("awaits")
}

/// The back end's answer to read_basic's first step.
fn read_basic_answer(out: &Dict) -> Dict {
    let a = alg(out);
    let internal_original = bytes(out, "internal_original").unwrap();
    let external_original = bytes(out, "external_original").unwrap();
    let internal_result = hsm::cryptogram(a, None, 0x09, &f8(out, "internal_factor"), &internal_original);
    let external_result = if external_original.is_empty() {
        Vec::new()
    } else {
        hsm::cryptogram(a, None, 0x0A, &f8(out, "external_factor"), &external_original)
    };
    byte_args(&[
        ("internal_result", internal_result),
        ("internal_original", internal_original),
        ("external_result", external_result),
        ("external_original", external_original),
    ])
}

/// The back end's answer to read's or write's first step.
fn auth_answer(out: &Dict) -> Dict {
    let key = bytes(out, "key").unwrap();
    let original = bytes(out, "original").unwrap();
    let cryptogram = hsm::cryptogram(alg(out), None, key[1], &f8(out, "factor"), &original);
    byte_args(&[("cryptogram", cryptogram), ("original", original)])
}

/// The back end's command for a reload's or unblock's second step.
fn mac_answer(first: &Dict, second: &Dict) -> Vec<u8> {
    hsm::mac_command(
        alg(second),
        None,
        &f8(first, "factor"),
        &bytes(second, "challenge").unwrap(),
        &bytes(second, "header").unwrap(),
        &bytes(second, "data").unwrap(),
    )
}

/// Waits for the `n`th audit event of `operation`, and answers it.
async fn wait_audit(rig: &Rig, operation: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = rig.daemon.log_text();
        let events: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("sscard::audit") && l.contains(&format!("operation=\"{operation}\"")))
            .collect();
        if events.len() >= n {
            return events[n - 1].to_owned();
        }
        assert!(Instant::now() < deadline, "no audit event {n} of {operation}:\n{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn done(out: &Dict) -> bool {
    boolean(out, "done").expect("done")
}

/// Writes the holder record with an HSM session.
async fn hsm_write(rig: &Rig, reader: &Reader1Proxy<'_>, generation: u8, photo: Option<usize>) {
    let (session, first) = begin(reader, &rig.conn, "write", no_opts()).await;
    assert_eq!(bytes(&first, "key").unwrap(), [0x00, 0x04]);
    assert!(!done(&first));
    let mut args = auth_answer(&first);
    let record = OwnedVariant::try_from(zbus::Variant::from(holder_dict(generation, photo))).unwrap();
    args.insert("record".into(), record);
    let last = session.continue_(args).await.expect("write's second step");
    assert!(done(&last));
}

async fn read_basic(rig: &Rig, reader: &Reader1Proxy<'_>) -> (Dict, Dict) {
    let (session, first) = begin(reader, &rig.conn, "read_basic", no_opts()).await;
    assert_eq!(awaits(&first), ["internal_result", "internal_original", "external_result", "external_original"]);
    let last = session.continue_(read_basic_answer(&first)).await.expect("read_basic's second step");
    (first, last)
}

/// Blocks the PIN with wrong tries.
async fn block_pin(reader: &Reader1Proxy<'_>) {
    for _ in 0..3 {
        let _ = reader.verify_pin("999999", opts(&[("allow_last_try", true)])).await.expect("verify");
    }
    assert!(reader.get_pin_status(no_opts()).await.expect("status").1, "blocked");
}

async fn every_operation(generation: u8) {
    let rig = Rig::new(generation, false).await;
    let reader = rig.reader(Slot::Card).await;

    // Write, then read back through read_basic and read (with the photo).
    hsm_write(&rig, &reader, generation, Some(600)).await;
    // The session's audit event comes once it has ended (its closing SELECT sent).
    wait_audit(&rig, "HsmWrite", 1).await;
    let before = rig.logged(Slot::Card).len();
    let (first, info) = read_basic(&rig, &reader).await;
    let line = wait_audit(&rig, "HsmReadBasic", 1).await;
    let apdus = rig.logged(Slot::Card).len() - before;
    assert_eq!(text(&info, "ssn").as_deref(), Some(SSN));
    assert_eq!(text(&info, "card_number").as_deref(), Some("X00000019"));
    assert_eq!(text(&info, "terminal_number").unwrap_or_default(), "", "no PSAM, no terminal number");
    let card_id = bytes(&first, "card_id").unwrap();
    assert_eq!(hex::encode_upper(&card_id), text(&info, "card_id").unwrap());
    assert_eq!(&card_id[8..], &f8(&first, "internal_factor"));
    if generation == 2 {
        assert!(bytes(&first, "external_original").unwrap().is_empty());
        assert!(bytes(&first, "external_factor").unwrap().is_empty());
    } else {
        assert_eq!(bytes(&first, "external_original").unwrap().len(), 8);
    }
    assert!(line.contains("success") && line.contains(&format!("apdus={apdus}")), "{line} ({apdus} APDUs)");

    let (session, first) = begin(&reader, &rig.conn, "read", opts(&[("photo", true)])).await;
    assert_eq!(bytes(&first, "key").unwrap(), [0x00, 0x0A]);
    let info = session.continue_(auth_answer(&first)).await.expect("read's second step");
    assert!(done(&info));
    assert_eq!(text(&info, "ssn").as_deref(), Some(SSN));
    assert_eq!(bytes(&info, "photo").unwrap(), jpeg(600));

    // Reload, then verify the new PIN.
    let (session, first) = begin(&reader, &rig.conn, "reload_pin", no_opts()).await;
    assert_eq!(bytes(&first, "key").unwrap(), [0x00, 0x0B]);
    assert_eq!(awaits(&first), ["new_pin"]);
    let mut args = Dict::new();
    args.insert("new_pin".into(), string_value(RELOADED));
    let second = session.continue_(args).await.expect("reload's second step");
    assert_eq!(bytes(&second, "header").unwrap(), [0x80, 0x5E, 0x00, 0x00, 0x07]);
    assert_eq!(bytes(&second, "data").unwrap(), [0x13, 0x57, 0x90]);
    let last =
        session.continue_(byte_args(&[("apdu", mac_answer(&first, &second))])).await.expect("reload's third step");
    assert!(done(&last));
    assert_eq!(reader.verify_pin(RELOADED, no_opts()).await.expect("verify"), (true, 3));

    // Unblock a blocked PIN.
    block_pin(&reader).await;
    let (session, first) = begin(&reader, &rig.conn, "unblock_pin", no_opts()).await;
    assert!(awaits(&first).is_empty());
    let second = session.continue_(Dict::new()).await.expect("unblock's second step");
    assert_eq!(bytes(&second, "header").unwrap(), [0x84, 0x24, 0x00, 0x00, 0x04]);
    session.continue_(byte_args(&[("apdu", mac_answer(&first, &second))])).await.expect("unblock's third step");
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("status"), (3, false));
    assert_eq!(reader.verify_pin(RELOADED, no_opts()).await.expect("verify"), (true, 3));
}

#[tokio::test]
async fn every_operation_on_gen3_without_a_psam() {
    every_operation(3).await;
}

#[tokio::test]
async fn every_operation_on_gen2_without_a_psam() {
    every_operation(2).await;
}

/// A Continue that must be refused before any APDU: the error, and the
/// card's log unchanged.
async fn refused(rig: &Rig, session: &HsmSession1Proxy<'_>, args: Dict) -> String {
    let before = rig.logged(Slot::Card).len();
    let name = error_name(session.continue_(args).await);
    assert_eq!(rig.logged(Slot::Card).len(), before, "{name}: an APDU was sent");
    name
}

#[tokio::test]
async fn refusals_come_before_any_apdu() {
    let rig = Rig::new(3, false).await;
    let reader = rig.reader(Slot::Card).await;
    hsm_write(&rig, &reader, 3, None).await;

    // A wrong internal result: NotAuthentic, and no EXTERNAL AUTHENTICATE.
    let start = rig.logged(Slot::Card).len();
    let (session, first) = begin(&reader, &rig.conn, "read_basic", no_opts()).await;
    let mut args = read_basic_answer(&first);
    let mut wrong = bytes(&args, "internal_result").unwrap();
    wrong[0] ^= 1;
    args.insert("internal_result".into(), bytes_value(&wrong));
    assert_eq!(refused(&rig, &session, args).await, "NotAuthentic");
    let sent = &rig.logged(Slot::Card)[start..];
    assert!(sent.iter().any(|l| l.starts_with("00 88") || l.starts_with("0088")), "{sent:?}");
    assert!(
        !sent.iter().any(|l| l.starts_with("00 82") || l.starts_with("0082")),
        "EXTERNAL AUTHENTICATE sent: {sent:?}"
    );

    // Another original: NotIssued.
    let (session, first) = begin(&reader, &rig.conn, "read_basic", no_opts()).await;
    let mut args = read_basic_answer(&first);
    args.insert("external_original".into(), bytes_value(&[0x11; 8]));
    assert_eq!(refused(&rig, &session, args).await, "NotIssued");

    // A truncated result: InvalidArgument.
    let (session, first) = begin(&reader, &rig.conn, "read_basic", no_opts()).await;
    let mut args = read_basic_answer(&first);
    let short = bytes(&args, "external_result").unwrap()[..15].to_vec();
    args.insert("external_result".into(), bytes_value(&short));
    assert_eq!(refused(&rig, &session, args).await, "InvalidArgument");

    // A missing value: InvalidArgument.
    let (session, _) = begin(&reader, &rig.conn, "read", no_opts()).await;
    assert_eq!(refused(&rig, &session, byte_args(&[("original", vec![0; 8])])).await, "InvalidArgument");

    // A Step3 command with another header: NotIssued.
    let (session, first) = begin(&reader, &rig.conn, "unblock_pin", no_opts()).await;
    let second = session.continue_(Dict::new()).await.expect("second step");
    let mut apdu = mac_answer(&first, &second);
    apdu[1] = 0x2C;
    assert_eq!(refused(&rig, &session, byte_args(&[("apdu", apdu)])).await, "NotIssued");

    // A reload's Step3 whose data is another PIN than the one Step2 issued
    // (and checked against the PIN rules): NotIssued. A truncated one:
    // InvalidArgument.
    for (change, expected) in [(0usize, "NotIssued"), (1, "InvalidArgument")] {
        let (session, first) = begin(&reader, &rig.conn, "reload_pin", no_opts()).await;
        let mut args = Dict::new();
        args.insert("new_pin".into(), string_value(RELOADED));
        let second = session.continue_(args).await.expect("reload's second step");
        let mut apdu = mac_answer(&first, &second);
        if change == 0 {
            apdu[5] = 0x11;
        } else {
            apdu.truncate(4);
        }
        assert_eq!(refused(&rig, &session, byte_args(&[("apdu", apdu)])).await, expected);
    }

    // Each failed session ended with a reset, and the card still answers.
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("status"), (3, false));
    // An unknown operation.
    assert_eq!(error_name(reader.begin_hsm("debit", no_opts()).await), "InvalidArgument");
}

/// A step that cannot be read (a value of the wrong type) ends the
/// session at once, with a reset, and the audit trail records why.
#[tokio::test]
async fn an_unreadable_step_ends_the_session_and_is_audited_as_such() {
    let rig = Rig::new(2, false).await;
    let reader = rig.reader(Slot::Card).await;
    let (session, _) = begin(&reader, &rig.conn, "read", no_opts()).await;
    let resets_before = resets(&rig);
    let mut args = Dict::new();
    args.insert("original".into(), string_value("not bytes"));
    assert_eq!(refused(&rig, &session, args).await, "InvalidArgument");
    let line = wait_audit(&rig, "HsmRead", 1).await;
    assert!(line.contains("outcome=\"InvalidArgument\""), "{line}");
    let started = Instant::now();
    reader.read_card(no_opts()).await.expect("ReadCard once the session ended");
    assert!(started.elapsed() < Duration::from_secs(5), "the reader was held {:?}", started.elapsed());
    assert!(resets(&rig) > resets_before, "the session did not end with a reset");
}

#[tokio::test]
async fn only_its_owner_may_step_a_session() {
    let rig = Rig::new(3, false).await;
    let reader = rig.reader(Slot::Card).await;
    let (path, first) = reader.begin_hsm("read", no_opts()).await.expect("begin");
    let other = connect(&rig.bus).await;
    let stranger = session_at(&other, path.clone()).await;
    let before = rig.logged(Slot::Card).len();
    assert_eq!(error_name(stranger.continue_(auth_answer(&first)).await), "NotAuthorized");
    assert_eq!(error_name(stranger.abort().await), "NotAuthorized");
    // Nor does a step of the stranger's that cannot be read end it.
    let mut unreadable = Dict::new();
    unreadable.insert("original".into(), string_value("not bytes"));
    assert_eq!(error_name(stranger.continue_(unreadable).await), "NotAuthorized");
    assert_eq!(rig.logged(Slot::Card).len(), before);
    // The owner's session is intact.
    let owner = session_at(&rig.conn, path).await;
    let info = owner.continue_(auth_answer(&first)).await.expect("the owner's step");
    assert!(done(&info));
}

fn resets(rig: &Rig) -> usize {
    std::fs::read_to_string(rig.card_log(Slot::Card))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("control 00") || l.contains("control 02"))
        .count()
}

fn idle_config() -> String {
    let path = std::env::temp_dir().join(format!("sscardd-hsm-idle-{}.toml", std::process::id()));
    std::fs::write(&path, "[timeouts]\nhsm_idle_ms = 1000\n").expect("config");
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn an_idle_session_ends_with_a_reset_and_the_reader_serves_again() {
    let mut rig = Rig::empty(2, &["--config", &idle_config()]).await;
    rig.insert_card(Slot::Card, 2, &[]).await;
    let reader = rig.reader(Slot::Card).await;
    let resets_before = resets(&rig);
    let (session, first) = begin(&reader, &rig.conn, "read", no_opts()).await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(resets(&rig) > resets_before, "no reset after the idle limit");
    assert_eq!(error_name(session.continue_(auth_answer(&first)).await), "Timeout");
    let info = reader.read_card(no_opts()).await.expect("ReadCard after the session");
    assert_eq!(text(&info, "profile").as_deref(), Some("ssse-gen2"));
}

/// An owner that leaves while its BeginHsm waits in the reader's queue
/// (behind another session): its session, begun for no one, ends as soon
/// as its first step has run, not at the idle limit (60 s here).
#[tokio::test]
async fn a_session_begun_for_an_owner_who_left_meanwhile_ends_at_once() {
    let rig = Rig::new(2, false).await;
    let reader = rig.reader(Slot::Card).await;
    let (holding, _) = begin(&reader, &rig.conn, "read", no_opts()).await;

    let leaver = connect(&rig.bus).await;
    let leavers_reader = reader_at(&leaver, reader.inner().path().to_owned().into()).await;
    let queued = tokio::spawn(async move { leavers_reader.begin_hsm("read", no_opts()).await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!queued.is_finished(), "BeginHsm did not wait behind the open session");
    queued.abort();
    leaver.close().await.expect("close");
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The first session ends; the queued one runs its first step for an
    // owner who is gone, and must end right after it.
    holding.abort().await.expect("Abort");
    let started = Instant::now();
    reader.read_card(no_opts()).await.expect("ReadCard once both sessions ended");
    assert!(started.elapsed() < Duration::from_secs(5), "the reader was held {:?}", started.elapsed());
}

#[tokio::test]
async fn a_session_ends_at_once_when_its_owner_leaves() {
    let rig = Rig::new(2, false).await;
    let reader = rig.reader(Slot::Card).await;
    let owner = connect(&rig.bus).await;
    let owners_reader = reader_at(&owner, reader.inner().path().to_owned().into()).await;
    let (path, _) = owners_reader.begin_hsm("read", no_opts()).await.expect("begin");
    let resets_before = resets(&rig);
    drop(owners_reader);
    owner.close().await.expect("close");
    let started = Instant::now();
    reader.read_card(no_opts()).await.expect("ReadCard once the owner left");
    assert!(started.elapsed() < Duration::from_secs(5), "waited {:?}", started.elapsed());
    assert!(resets(&rig) > resets_before, "the abandoned session did not reset the card");
    // The object leaves the bus with the session: asked by anyone, the bus
    // answers that there is no such object (not NotAuthorized, which only
    // a live session of another owner answers).
    let gone = session_at(&rig.conn, path).await;
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let answer = gone.continue_(Dict::new()).await;
        let unknown = match &answer {
            Err(zbus::Error::FDO(e)) => matches!(**e, zbus::fdo::Error::UnknownObject(_)),
            Err(zbus::Error::MethodError(name, _, _)) => name.as_str() == "org.freedesktop.DBus.Error.UnknownObject",
            _ => false,
        };
        if unknown {
            break;
        }
        assert!(Instant::now() < deadline, "the session object is still there: {answer:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The owner killed mid-session (SIGKILL: it says goodbye to no one): a
/// counter program holding a session between its steps, `sscardctl
/// unified` waiting for its next step's `pKey`.
#[tokio::test]
async fn a_session_ends_at_once_when_its_owner_is_killed() {
    use std::io::BufRead;
    let rig = Rig::new(2, false).await;
    let mut owner = std::process::Command::new(env!("CARGO_BIN_EXE_sscardctl"))
        .args(["--bus", &rig.bus.address(), "unified", "iReadCardBas_HSM_Step1", "3"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sscardctl");
    let mut stdout = std::io::BufReader::new(owner.stdout.take().expect("stdout"));
    let mut code = String::new();
    stdout.read_line(&mut code).expect("Step1's answer");
    assert_eq!(code.trim(), "0");
    let resets_before = resets(&rig);
    owner.kill().expect("kill");
    owner.wait().expect("reaped");
    let started = Instant::now();
    let reader = rig.reader(Slot::Card).await;
    reader.read_card(no_opts()).await.expect("ReadCard once the owner is gone");
    assert!(started.elapsed() < Duration::from_secs(5), "waited {:?}", started.elapsed());
    assert!(resets(&rig) > resets_before, "the abandoned session did not reset the card");
    let audit = wait_audit(&rig, "HsmReadBasic", 1).await;
    assert!(audit.contains("outcome=\"Cancelled\""), "{audit}");
}

#[tokio::test]
async fn a_card_removed_between_steps_is_card_removed() {
    let mut rig = Rig::new(3, false).await;
    let reader = rig.reader(Slot::Card).await;
    let (session, first) = begin(&reader, &rig.conn, "read", no_opts()).await;
    rig.bench.remove(Slot::Card);
    rig.wait_kind(Slot::Card, "none").await;
    assert_eq!(error_name(session.continue_(auth_answer(&first)).await), "CardRemoved");
}

#[tokio::test]
async fn other_readers_are_served_and_other_programs_wait() {
    let mut rig = Rig::empty(4, &[]).await;
    rig.insert_card(Slot::Card, 3, &[]).await;
    rig.insert_card(Slot::Reader(2), 2, &[]).await;
    let reader = rig.reader(Slot::Card).await;
    let other_reader = rig.reader(Slot::Reader(2)).await;
    let (session, first) = begin(&reader, &rig.conn, "read", no_opts()).await;

    // Reader 1 is served meanwhile.
    let started = Instant::now();
    other_reader.read_card(no_opts()).await.expect("ReadCard on the other reader");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Another program's APDU on reader 0 waits for the session's end.
    let number = rig.bench.reader_number(Slot::Card).to_string();
    let bench_socket = rig.bench.socket();
    let tool = std::thread::spawn(move || {
        let started = Instant::now();
        let out = std::process::Command::new("timeout")
            .args(["20", "opensc-tool", "-r", &number, "-s", "00 84 00 00 08"])
            .env("PCSCLITE_CSOCK_NAME", bench_socket)
            .output()
            .expect("opensc-tool");
        (out.status.success(), started.elapsed(), Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!tool.is_finished(), "opensc-tool got the card during the session");
    let before = rig.logged(Slot::Card).len();
    let info = session.continue_(auth_answer(&first)).await.expect("the session's step");
    let session_ended = Instant::now();
    assert!(done(&info));
    assert!(rig.logged(Slot::Card).len() > before);
    let (ok, waited, finished) = tool.join().expect("opensc-tool thread");
    assert!(ok, "opensc-tool failed");
    assert!(waited >= Duration::from_millis(1500) && finished >= session_ended, "opensc-tool did not wait");
}

/// Every form in which a secret could leak into a log.
fn forms(bytes: &[u8]) -> Vec<String> {
    // The project's own APDU display too: upper-case hex bytes between spaces.
    let spaced: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    vec![hex::encode(bytes), hex::encode_upper(bytes), format!("{bytes:?}"), format!("{bytes:02X?}"), spaced.join(" ")]
}

#[tokio::test]
async fn no_back_end_value_or_pin_in_trace_logs() {
    let mut rig = Rig::empty_logged(2, &[], "trace").await;
    rig.insert_card(Slot::Card, 3, &[]).await;
    let reader = rig.reader(Slot::Card).await;
    let mut secrets: Vec<Vec<u8>> = Vec::new();

    let (session, first) = begin(&reader, &rig.conn, "read_basic", no_opts()).await;
    let args = read_basic_answer(&first);
    secrets.push(bytes(&args, "internal_result").unwrap());
    secrets.push(bytes(&args, "external_result").unwrap());
    session.continue_(args).await.expect("read_basic");

    let (session, first) = begin(&reader, &rig.conn, "reload_pin", no_opts()).await;
    let mut args = Dict::new();
    args.insert("new_pin".into(), string_value(RELOADED));
    let second = session.continue_(args).await.expect("reload 2");
    let apdu = mac_answer(&first, &second);
    secrets.push(apdu[apdu.len() - 4..].to_vec());
    session.continue_(byte_args(&[("apdu", apdu)])).await.expect("reload 3");

    let log = support::without_timestamps(&rig.daemon.log_text());
    assert!(log.contains("TRACE") || log.contains("trace"), "not a trace log");
    for secret in &secrets {
        for form in forms(secret) {
            assert!(!log.contains(&form), "{form} in the daemon's log");
        }
    }
    for form in [RELOADED.to_owned(), hex::encode(RELOADED), format!("{:?}", [0x13u8, 0x57, 0x90])] {
        assert!(!log.contains(&form), "the PIN ({form}) in the daemon's log");
    }
}

/// The voluntary context switches (sleeps that ended in a wake-up) of the
/// daemon's threads whose name starts with `prefix`, summed.
fn wakeups(pid: u32, prefix: &str) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the daemon's threads");
    tasks
        .flatten()
        .filter(|task| std::fs::read_to_string(task.path().join("comm")).is_ok_and(|name| name.starts_with(prefix)))
        .filter_map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            status.lines().find_map(|l| l.strip_prefix("voluntary_ctxt_switches:")?.trim().parse::<u64>().ok())
        })
        .sum()
}

/// An open session waiting for its next step sleeps until its idle
/// deadline or a job: its reader's worker does not wake meanwhile (a
/// 100 ms poll would wake it about 20 times in 2 s).
#[tokio::test]
async fn an_idle_session_does_not_wake_its_reader() {
    let rig = Rig::new(2, false).await;
    let reader = rig.reader(Slot::Card).await;
    let (session, first) = begin(&reader, &rig.conn, "read", no_opts()).await;
    // The first step's answer has gone out; let the worker settle into its wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = rig.daemon.pid();
    let (readers, all) = (wakeups(pid, "reader-"), wakeups(pid, ""));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (readers, all) = (wakeups(pid, "reader-") - readers, wakeups(pid, "") - all);
    eprintln!("in 2 s of an idle session: {readers} wake-ups of the readers' workers, {all} of the whole daemon");
    assert!(readers <= 2, "the readers' workers woke {readers} times in 2 s of an idle session");
    // The session is intact.
    let info = session.continue_(auth_answer(&first)).await.expect("the session's step");
    assert!(done(&info));
}
