//! sscardd on the field's readers, through a real pcscd and sscard-ifd
//! (issue 19): a reader at the short-APDU level with its SAM slot, as
//! Decard's DC4 is, gets the gen3 photo in short chunks and no extended
//! APDU; one that passes extended APDUs gets it in one; a PIN pad's keypad
//! verifies, changes and refuses, with the PIN never on the bus, while
//! another reader is served. Each test has its own bench (cargo nextest).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sscard_client::CallError;
use sscard_contract::ErrorName;
use sscard_testkit::bench::{IfdReader, IfdSlot, Slot};
use sscard_testkit::client::{INITIAL_PIN, NEW_PIN, Rig, SSN, bytes, holder_dict, no_opts, opts, text};

const SHORT: IfdSlot = IfdSlot { short: true, pinpad: false, length_error_6b80: false };
const SHORT_PAD: IfdSlot = IfdSlot { short: true, pinpad: true, length_error_6b80: false };
const PLAIN: IfdSlot = IfdSlot { short: false, pinpad: false, length_error_6b80: false };
const PAD: IfdSlot = IfdSlot { short: false, pinpad: true, length_error_6b80: false };

fn pad() -> sscard_client::Dict {
    opts(&[("pin_pad", true)])
}

fn name_of<T: std::fmt::Debug>(result: zbus::Result<T>) -> Option<ErrorName> {
    CallError::from(result.expect_err("an error")).name()
}

/// A DC4-like reader: its card slot at the short-APDU level, the PSAM in
/// its second slot; a gen3 card and the PSAM in it.
async fn dc4(card: IfdSlot) -> Rig {
    let mut reader = IfdReader::new(&[card, SHORT]);
    reader.usb_id = (0x257B, 0xC305);
    let mut rig = Rig::on_ifd(&[reader], &[]).await;
    rig.insert_sam().await;
    rig.insert_card(Slot::Card, 3, &[]).await;
    rig
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_apdu_reader_with_its_sam_slot_reads_and_writes_the_gen3_photo() {
    let rig = dc4(SHORT).await;
    // The PSAM in the reader's second slot is the daemon's SAM reader.
    let manager = rig.manager().await;
    assert_eq!(manager.sam_reader().await.unwrap(), rig.reader_path(Slot::Sam).await);
    let reader = rig.reader(Slot::Card).await;
    assert!(!reader.extended_apdu().await.unwrap());
    let features = reader.features().await.unwrap();
    assert_eq!(features.get("max_apdu_data_size").map(|v| u32::try_from(v).unwrap()), Some(0));
    assert_eq!(features.get("vendor_id").map(|v| u16::try_from(v).unwrap()), Some(0x257B));

    let record = holder_dict(3, Some(6000));
    let photo = bytes(&record, "photo").unwrap();
    reader.write_holder_record(record, no_opts()).await.expect("WriteHolderRecord with the photo");
    let info = reader.read_card(opts(&[("photo", true)])).await.expect("ReadCard with the photo");
    assert_eq!(bytes(&info, "photo"), Some(photo), "the photo reads back");
    assert_eq!(text(&info, "terminal_number").as_deref(), Some("440300000001"), "the PSAM in the SAM slot");
    assert_eq!(rig.bench.ifd_value(Slot::Card, "stats", "extended"), 0, "no extended APDU reached the reader");
    // 6002 bytes of EF08 in 255-byte chunks: 24 UPDATE BINARY and 24 READ
    // BINARY (the read-back after the write, then the ReadCard).
    let logged = rig.logged(Slot::Card);
    let updates = logged.iter().filter(|a| a.replace(' ', "").starts_with("00D6")).count();
    assert_eq!(updates, 6002usize.div_ceil(255));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_passes_extended_apdus_gets_the_photo_in_one() {
    let mut rig = Rig::on_ifd(&[IfdReader::new(&[PLAIN, PLAIN])], &[]).await;
    rig.insert_sam().await;
    rig.insert_card(Slot::Card, 3, &[]).await;
    let reader = rig.reader(Slot::Card).await;
    assert!(reader.extended_apdu().await.unwrap());
    reader.write_holder_record(holder_dict(3, Some(6000)), no_opts()).await.expect("WriteHolderRecord");
    let before = rig.bench.ifd_value(Slot::Card, "stats", "extended");
    reader.read_card(opts(&[("photo", true)])).await.expect("ReadCard with the photo");
    assert_eq!(
        rig.bench.ifd_value(Slot::Card, "stats", "extended") - before,
        1,
        "the photo in one extended READ BINARY"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keypad_verifies_changes_and_activates_through_pcscd() {
    let rig = dc4(SHORT_PAD).await;
    let reader = rig.reader(Slot::Card).await;
    assert!(reader.pin_pad().await.unwrap());
    reader.write_holder_record(holder_dict(3, None), no_opts()).await.expect("personalise");
    // Activation: the initial PIN once, the new PIN twice.
    rig.bench.press(Slot::Card, &format!("{INITIAL_PIN}O{NEW_PIN}O{NEW_PIN}O"));
    let info = reader.activate(SSN, "", "", pad()).await.expect("Activate on the pad");
    assert_eq!(text(&info, "state").as_deref(), Some("active"));
    rig.bench.press(Slot::Card, &format!("{NEW_PIN}O"));
    assert_eq!(reader.verify_pin("", pad()).await.expect("VerifyPin on the pad"), (true, 3));
    rig.bench.press(Slot::Card, "000000O");
    assert_eq!(reader.verify_pin("", pad()).await.expect("a wrong PIN"), (false, 2));
    rig.bench.press(Slot::Card, &format!("{NEW_PIN}O135790O135790O"));
    reader.change_pin("", "", pad()).await.expect("ChangePin on the pad");
    assert_eq!(reader.verify_pin("135790", no_opts()).await.expect("the new PIN on the host"), (true, 3));
    // The PIN typed only on the pad never reached the daemon, whose log is
    // at debug.
    let log = rig.daemon.log_text();
    assert!(!log.contains(NEW_PIN) && !log.contains("80 24 13") && !log.contains("802413"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pads_refusals_and_a_card_pulled_during_the_wait() {
    let mut rig = dc4(PAD).await;
    let reader = rig.reader(Slot::Card).await;
    rig.bench.press(Slot::Card, "C");
    assert_eq!(name_of(reader.verify_pin("", pad()).await), Some(ErrorName::PinEntryCancelled));
    rig.bench.press(Slot::Card, "1234O");
    let e = CallError::from(reader.verify_pin("", pad()).await.expect_err("a short PIN"));
    assert_eq!((e.name(), e.details.rule.as_deref()), (Some(ErrorName::InvalidArgument), Some("pin_length")), "{e}");
    rig.bench.press(Slot::Card, &format!("{INITIAL_PIN}O802413O802414O"));
    let e = CallError::from(reader.change_pin("", "", pad()).await.expect_err("a confirmation that differs"));
    assert_eq!(e.details.rule.as_deref(), Some("pin_confirmation_differs"), "{e}");
    assert_eq!(reader.get_pin_status(no_opts()).await.unwrap(), (3, false), "no try spent");
    // A PIN given with pin_pad, and pin_pad on the SAM slot (no pad).
    assert_eq!(name_of(reader.verify_pin(INITIAL_PIN, pad()).await), Some(ErrorName::InvalidArgument));
    let sam = rig.reader(Slot::Sam).await;
    assert!(!sam.pin_pad().await.unwrap());
    // The card leaves while the pad waits.
    let call = tokio::spawn({
        let reader = reader.clone();
        async move { reader.verify_pin("", pad()).await }
    });
    rig.bench.wait_pad_entry(Slot::Card);
    rig.bench.remove(Slot::Card);
    let ended = tokio::time::timeout(Duration::from_secs(10), call).await.expect("the call ends").unwrap();
    assert_eq!(name_of(ended), Some(ErrorName::CardRemoved));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_reader_is_served_while_a_pad_waits() {
    let mut rig = Rig::on_ifd(&[IfdReader::new(&[PAD, PLAIN]), IfdReader::new(&[PLAIN])], &[]).await;
    rig.insert_sam().await;
    rig.insert_card(Slot::Card, 3, &[]).await;
    rig.insert_card(Slot::Reader(2), 2, &[]).await;
    let waiting = rig.reader(Slot::Card).await;
    let other = rig.reader(Slot::Reader(2)).await;
    let call = tokio::spawn({
        let waiting = waiting.clone();
        async move { waiting.verify_pin("", pad()).await }
    });
    rig.bench.wait_pad_entry(Slot::Card);
    let started = Instant::now();
    other.read_card(no_opts()).await.expect("ReadCard on the other reader");
    let served = started.elapsed();
    println!("the other reader's ReadCard while the pad waits: {:.1} ms", served.as_secs_f64() * 1e3);
    assert_eq!(rig.bench.ifd_value(Slot::Card, "status", "entering"), 1, "the pad still waits");
    assert!(served < Duration::from_secs(2), "{served:?}");
    rig.bench.press(Slot::Card, &format!("{INITIAL_PIN}O"));
    assert_eq!(call.await.unwrap().expect("VerifyPin"), (true, 3));
}

/// `sscardctl` with `--reader` the card's reader and `args`; its exit code,
/// standard output and standard error.
fn sscardctl(rig: &Rig, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_sscardctl"))
        .args(["--bus", &rig.bus.address(), "--reader", &rig.bench.reader_name(Slot::Card)])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sscardctl");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin");
    let out = child.wait_with_output().expect("sscardctl");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().expect("exit code"), text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sscardctl_uses_the_keypad_when_the_reader_has_one() {
    let rig = dc4(PAD).await;
    rig.reader(Slot::Card).await.write_holder_record(holder_dict(3, None), no_opts()).await.expect("personalise");
    rig.bench.press(Slot::Card, &format!("{INITIAL_PIN}O"));
    let (code, out, err) = sscardctl(&rig, &["pin", "verify"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Enter the PIN on the reader's keypad"), "{err}");
    assert!(out.contains("PIN correct, 3 tries left"), "{out}");
    rig.bench.press(Slot::Card, "C");
    let (code, _, err) = sscardctl(&rig, &["pin", "verify"], "");
    assert_eq!(code, 25, "PinEntryCancelled's exit code: {err}");
    // --no-pin-pad (or --pin-stdin) types on the host, and the pad is not asked.
    let (code, out, err) =
        sscardctl(&rig, &["pin", "verify", "--no-pin-pad", "--pin-stdin"], &format!("{INITIAL_PIN}\n"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("keypad"), "{err}");
    assert_eq!(rig.bench.ifd_value(Slot::Card, "status", "entries"), 2, "two pad entries, not three");
    // `readers` shows the pad and the short-APDU slot.
    let (code, out, _) = sscardctl(&rig, &["readers"], "");
    assert_eq!(code, 0);
    assert!(out.contains("PINPAD") && out.contains("EXTENDED"), "{out}");
}
