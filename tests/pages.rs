//! The reference pages in a real browser (docs/unified-interface.md
//! section 8): Debian's chromium, headless, driven by Selenium, against
//! sscard-bridge over sscardd on a private bus and the bench's simulated
//! cards. The kiosk activates a blank-then-personalised gen3 card by its
//! on-screen keys (checked in the simulator's image), the counter reads a
//! card and notices its removal, the layouts fit 1920×1080 and 768 px, an
//! error path and the idle return; after each run the bridge's trace log
//! holds no PIN, SSN or name. Screenshots go to the test's directory, and
//! to `SSCARD_SCREENSHOTS` when set (docs/images).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;
use sscard_testkit::browser;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use browser::{Bridge, Browser, assert_no_secrets};
use serde_json::Value;
use support::bench::Slot;
use support::client::*;

const REGION: &str = "440305";
const SERIAL: &str = "0102030405060708";
const NAME: &str = "王小明";
const INITIAL: &str = "472913";
const NEW: &str = "580264";
const WRONG: &str = "904317";
const RELOADED: &str = "639175";
/// Screenshots' viewport.
const SHOT: (u32, u32) = (1280, 800);

fn temp_dir() -> PathBuf {
    tempfile::tempdir().expect("dir").keep()
}

fn photo() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/holder.jpg")).expect("tests/data/holder.jpg")
}

/// The simulator's card image as JSON.
fn image(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("card image")).expect("image JSON")
}

/// A PSAM and a blank gen3 card with `--image`, personalised over D-Bus
/// (WriteHolderRecord: the holder's record, [`NAME`], a real JPEG), then
/// taken out: the page starts with no card.
async fn personalised(dir: &Path) -> (Rig, PathBuf) {
    let image_path = dir.join("card.json");
    let mut rig = Rig::empty_logged(2, &[], "info").await;
    rig.insert_sam().await;
    let image_arg = image_path.to_string_lossy().into_owned();
    let args = ["--image", &image_arg, "--region", REGION, "--serial", SERIAL, "--initial-pin", INITIAL];
    rig.insert_card(Slot::Card, 3, &args).await;
    let blank = image(&image_path);
    assert_eq!(blank["lcs"], 4, "a blank gen3 card is issued, not active: {blank}");
    let mut record = holder_dict(3, None);
    record.insert("name".into(), string_value(NAME));
    record.insert("photo".into(), bytes_value(&photo()));
    rig.reader(Slot::Card).await.write_holder_record(record, no_opts()).await.expect("WriteHolderRecord");
    rig.bench.remove(Slot::Card);
    (rig, image_path)
}

/// Puts the personalised card back (its image), with `extra` simulator
/// arguments.
async fn insert(rig: &mut Rig, image_path: &Path, extra: &[&str]) {
    let image_arg = image_path.to_string_lossy().into_owned();
    let mut args = vec!["--image", image_arg.as_str()];
    args.extend_from_slice(extra);
    rig.insert_card(Slot::Card, 3, &args).await;
}

/// Nothing of a PIN left in the page: not in the markup, not in any
/// input's value, not in storage, cookies or the URL.
fn assert_no_pin_in_page(browser: &mut Browser, pins: &[&str]) {
    let html = browser.eval("document.documentElement.outerHTML");
    let html = html.as_str().expect("outerHTML");
    let values = browser.eval("Array.from(document.querySelectorAll('input, textarea')).map(i => i.value).join('|')");
    let storage = browser.eval("localStorage.length + sessionStorage.length");
    let cookie = browser.eval("document.cookie");
    let href = browser.eval("location.href");
    assert_eq!(storage, 0, "something in localStorage/sessionStorage");
    assert_eq!(cookie, "", "a cookie");
    for pin in pins {
        assert!(!html.contains(pin), "the DOM holds the PIN {pin}");
        assert!(!values.as_str().unwrap_or_default().contains(pin), "an input holds the PIN {pin}");
        assert!(!href.as_str().unwrap_or_default().contains(pin), "the URL holds the PIN {pin}");
    }
}

fn kiosk_text(browser: &mut Browser) -> String {
    browser.text("#result")
}

/// Ends the browser after checking its console: no Content-Security-Policy
/// violation (the pages have no inline script or style), no secret logged.
fn finish(browser: &mut Browser, secrets: &[&str]) {
    let console = browser.console();
    for entry in &console {
        assert!(!entry.contains("Content Security Policy") && !entry.contains("Refused to"), "{entry}");
        for secret in secrets {
            assert!(!entry.contains(secret), "the console holds {secret:?}: {entry}");
        }
    }
    browser.quit();
}

/// The error names of the contract (docs/interfaces.md, "Errors").
fn contract_errors() -> Vec<String> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/interfaces.md")).expect("doc");
    let table = doc.split("| error | when |").nth(1).expect("the error table");
    let names: Vec<String> = table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect();
    assert!(names.len() >= 19 && names.iter().any(|n| n == "WrongPin"), "{names:?}");
    names
}

/// The kiosk, from the insertion to the removal of a card it activates by
/// its on-screen keys; the card's PIN and life cycle in the simulator's
/// image; no PIN left in the page; a screenshot of each step.
#[tokio::test]
async fn kiosk_activates_a_personalised_gen3_card() {
    let dir = temp_dir();
    let (mut rig, image_path) = personalised(&dir).await;
    let mut bridge = Bridge::start(&rig.bus.address(), &dir, "trace", &[]);
    let mut browser = Browser::start(&dir);
    browser.viewport(SHOT.0, SHOT.1);
    browser.open(&bridge.page("/kiosk/"));
    browser.wait("document.getElementById('connection').textContent.includes('已连接')", 10.0);
    browser.wait_step(1, 5.0);
    browser.screenshot("kiosk-1-insert");

    // ACTIVATE FILE takes 1.5 s, so that step 6 can be seen.
    insert(&mut rig, &image_path, &["--latency-us", "1500000", "--latency-ins", "44"]).await;
    browser.wait_step(2, 10.0);
    browser.wait("document.getElementById('holder-photo').complete", 5.0);
    assert_eq!(browser.text("#holder-name"), NAME);
    let width = browser.eval("document.getElementById('holder-photo').naturalWidth");
    assert!(width.as_u64().is_some_and(|w| w > 0), "the photo did not decode: {width}");
    browser.screenshot("kiosk-2-holder");
    browser.click("#holder-yes");

    browser.wait_step(3, 5.0);
    let ssn_keys: Vec<String> = SSN.chars().map(String::from).collect();
    let ssn_keys: Vec<&str> = ssn_keys.iter().map(String::as_str).collect();
    browser.keys("#ssn-keypad", &ssn_keys);
    assert_eq!(browser.text("#ssn-display"), SSN);
    browser.screenshot("kiosk-3-ssn");
    browser.keys("#ssn-keypad", &["ok"]);

    browser.wait_step(4, 5.0);
    let digits = |pin: &'static str| -> Vec<&'static str> { (0..pin.len()).map(|i| &pin[i..i + 1]).collect() };
    browser.keys("#initial-keypad", &digits(INITIAL));
    // The masked display: six filled dots, no digit.
    assert_eq!(browser.eval("document.querySelectorAll('#initial-dots .dot.filled').length"), 6);
    assert_eq!(browser.text("#initial-dots"), "");
    assert_no_pin_in_page(&mut browser, &[INITIAL]);
    browser.screenshot("kiosk-4-initial-pin");
    browser.keys("#initial-keypad", &["ok"]);

    browser.wait_step(5, 5.0);
    browser.keys("#new-keypad", &digits(NEW));
    browser.keys("#new-keypad", &["ok"]);
    browser.keys("#new-keypad", &digits(NEW)[..4]);
    assert_eq!(browser.eval("document.querySelectorAll('#new-dots .dot.filled').length"), 4);
    assert!(browser.text("#new-prompt").contains("再次"), "{}", browser.text("#new-prompt"));
    browser.screenshot("kiosk-5-new-pin");
    browser.keys("#new-keypad", &digits(NEW)[4..]);
    browser.keys("#new-keypad", &["ok"]);

    browser.wait_step(6, 5.0);
    // The request is sent: the page holds no PIN while the card works.
    assert_no_pin_in_page(&mut browser, &[INITIAL, NEW]);
    browser.screenshot("kiosk-6-activating");
    browser.wait_step(7, 20.0);
    let result = kiosk_text(&mut browser);
    assert!(result.contains("激活成功") && result.contains("Activated"), "{result}");
    browser.screenshot("kiosk-7-done");
    assert_no_pin_in_page(&mut browser, &[INITIAL, NEW]);

    // The card: the new PIN, the life cycle active.
    let activated = image(&image_path);
    assert_eq!(activated["pin"], NEW, "the card's PIN");
    assert_eq!(activated["lcs"], 5, "the card's life cycle: {activated}");

    browser.click("#result-ok");
    browser.wait_step(8, 5.0);
    browser.screenshot("kiosk-8-remove");
    rig.bench.remove(Slot::Card);
    browser.wait_step(1, 10.0);
    assert_eq!(browser.text("#holder-name"), "", "the holder's name stayed");
    assert_no_pin_in_page(&mut browser, &[INITIAL, NEW]);
    finish(&mut browser, &[INITIAL, NEW, SSN, NAME]);

    bridge.stop();
    assert_no_secrets(&bridge.log_text(), &[INITIAL, NEW, SSN, NAME]);
}

/// The counter: the card read with its name, photo and basic line, the
/// PIN status, a reload (inputs cleared), and the removal noticed.
#[tokio::test]
async fn counter_reads_the_card_and_notices_its_removal() {
    let dir = temp_dir();
    let (mut rig, image_path) = personalised(&dir).await;
    let mut bridge = Bridge::start(&rig.bus.address(), &dir, "trace", &[]);
    let mut browser = Browser::start(&dir);
    browser.viewport(SHOT.0, SHOT.1);
    browser.open(&bridge.page("/counter/"));
    browser.wait("document.querySelectorAll('#readers li[data-reader]').length === 2", 10.0);

    insert(&mut rig, &image_path, &[]).await;
    browser.wait("document.getElementById('card-state').dataset.state === 'inserted'", 10.0);
    browser.click("#read");
    browser.wait("document.querySelector('#fields tr[data-key=name] td')", 10.0);
    assert_eq!(browser.text("#fields tr[data-key=name] td"), NAME);
    assert_eq!(browser.text("#fields tr[data-key=ssn] td"), SSN);
    browser.wait("document.getElementById('photo').complete", 5.0);
    let width = browser.eval("document.getElementById('photo').naturalWidth");
    assert!(width.as_u64().is_some_and(|w| w > 0), "the photo did not decode: {width}");
    // The basic line is the bridge's, from the national interface's formatter.
    let line = browser.eval("document.getElementById('basic-line').value");
    let line = line.as_str().expect("line").to_owned();
    let fields: Vec<&str> = line.strip_suffix('|').expect("ends with |").split('|').collect();
    assert_eq!(fields.len(), 11, "{line}");
    assert_eq!((fields[0], fields[1], fields[4]), (REGION, SSN, NAME), "{line}");

    browser.click("#pin-status");
    browser.wait("document.getElementById('status-result').textContent.includes('tries left')", 10.0);
    assert!(browser.text("#status-result").contains("3"), "{}", browser.text("#status-result"));
    browser.screenshot("counter");

    // Reload: the PIN typed twice; the inputs are empty right after.
    browser.type_into("#reload-pin", RELOADED);
    browser.type_into("#reload-pin2", RELOADED);
    browser.click("#reload");
    let cleared =
        browser.eval("document.getElementById('reload-pin').value + document.getElementById('reload-pin2').value");
    assert_eq!(cleared, "", "the reload inputs were not cleared");
    browser.wait("document.getElementById('staff-message').textContent.includes('reloaded')", 10.0);
    let reader = rig.reader(Slot::Card).await;
    assert_eq!(reader.verify_pin(RELOADED, no_opts()).await.expect("VerifyPin"), (true, 3));
    assert_no_pin_in_page(&mut browser, &[INITIAL, RELOADED]);

    // A page opened with the card already in shows what each reader holds
    // before any notification (ListReaders' `card`).
    browser.open(&bridge.page("/counter/"));
    browser.wait(
        "[...document.querySelectorAll('#readers li[data-reader] .state')].map(e => e.textContent).sort().join(',') \
         === 'PSAM,有卡 Card in'",
        10.0,
    );

    rig.bench.remove(Slot::Card);
    browser.wait("document.getElementById('card-state').dataset.state === 'removed'", 10.0);
    assert!(browser.text("#card-state").contains("卡片已取出"), "{}", browser.text("#card-state"));
    // The holder's data left the screen with the card.
    assert_eq!(browser.eval("document.querySelectorAll('#fields tr').length"), 0);
    let html = browser.eval("document.documentElement.outerHTML");
    assert!(!html.as_str().unwrap_or_default().contains(NAME), "the name stayed on the page");
    finish(&mut browser, &[INITIAL, RELOADED, SSN, NAME]);

    bridge.stop();
    assert_no_secrets(&bridge.log_text(), &[INITIAL, RELOADED, SSN, NAME]);
}

/// The layouts at 1920×1080 and 768×1024: no horizontal overflow, keypad
/// keys at least 64 px, on the kiosk's keypads and the counter.
#[tokio::test]
async fn pages_fit_1080p_and_768_wide() {
    let dir = temp_dir();
    let (mut rig, image_path) = personalised(&dir).await;
    let bridge = Bridge::start(&rig.bus.address(), &dir, "info", &[]);
    insert(&mut rig, &image_path, &[]).await;
    let mut browser = Browser::start(&dir);
    for (width, height) in [(1920, 1080), (768, 1024)] {
        browser.viewport(width, height);
        let check = |browser: &mut Browser, what: &str, keys: usize| {
            let layout = browser.layout();
            assert_eq!(layout["innerWidth"], width, "{what}: {layout}");
            let (scroll, client) = (layout["scrollWidth"].as_u64(), layout["clientWidth"].as_u64());
            assert!(scroll <= client, "{what} at {width}: overflows horizontally: {layout}");
            assert_eq!(layout["wide"].as_array().map(Vec::len), Some(0), "{what} at {width}: {layout}");
            let sizes = layout["keys"].as_array().expect("keys");
            assert_eq!(sizes.len(), keys, "{what} at {width}: {layout}");
            for size in sizes {
                let (w, h) = (size[0].as_f64().unwrap_or(0.0), size[1].as_f64().unwrap_or(0.0));
                assert!(w >= 64.0 && h >= 64.0, "{what} at {width}: a key of {w}×{h} px");
            }
        };
        browser.open(&bridge.page("/kiosk/"));
        browser.wait_step(2, 10.0);
        check(&mut browser, "kiosk step 2", 0);
        browser.click("#holder-yes");
        browser.wait_step(3, 5.0);
        check(&mut browser, "kiosk SSN keypad", 13);
        let keys: Vec<String> = SSN.chars().map(String::from).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).chain(["ok"]).collect();
        browser.keys("#ssn-keypad", &keys);
        browser.wait_step(4, 5.0);
        check(&mut browser, "kiosk PIN keypad", 12);
        browser.screenshot_here(&format!("kiosk-pin-{width}x{height}"));
        browser.open(&bridge.page("/counter/"));
        browser.wait("document.querySelectorAll('#readers li[data-reader]').length === 2", 10.0);
        check(&mut browser, "counter", 0);
        browser.screenshot_here(&format!("counter-{width}x{height}"));
        browser.open(&bridge.page("/"));
        check(&mut browser, "index", 0);
    }
    finish(&mut browser, &[SSN, NAME]);
}

/// A wrong initial PIN: step 7 says how many tries are left, in Chinese
/// and English (the SSN given by the kiosk shell as ?ssn=); the idle limit
/// (?idle=) brings the page back to the start; a card removed mid-flow is
/// said, then the start.
#[tokio::test]
async fn kiosk_error_path_and_idle_return() {
    let dir = temp_dir();
    let (mut rig, image_path) = personalised(&dir).await;
    let mut bridge = Bridge::start(&rig.bus.address(), &dir, "trace", &[]);
    let mut browser = Browser::start(&dir);
    browser.viewport(SHOT.0, SHOT.1);
    browser.open(&bridge.page(&format!("/kiosk/?ssn={SSN}&idle=3")));
    browser.wait_step(1, 10.0);
    insert(&mut rig, &image_path, &[]).await;
    browser.wait_step(2, 10.0);
    browser.click("#holder-yes");
    browser.wait_step(3, 5.0);
    // Given by the shell: shown filled, confirmed with one touch.
    assert_eq!(browser.text("#ssn-display"), SSN);
    assert_eq!(browser.eval("document.getElementById('ssn-keypad').hidden"), true);
    browser.click("#ssn-confirm");
    browser.wait_step(4, 5.0);
    let digits = |pin: &'static str| -> Vec<&'static str> { (0..pin.len()).map(|i| &pin[i..i + 1]).collect() };
    browser.keys("#initial-keypad", &digits(WRONG));
    browser.keys("#initial-keypad", &["ok"]);
    browser.wait_step(5, 5.0);
    browser.keys("#new-keypad", &digits(NEW));
    browser.keys("#new-keypad", &["ok"]);
    browser.keys("#new-keypad", &digits(NEW));
    // The last touch: the idle limit counts from here.
    let last_touch = Instant::now();
    browser.keys("#new-keypad", &["ok"]);
    browser.wait_step(7, 10.0);
    let result = kiosk_text(&mut browser);
    assert_eq!(browser.eval("document.getElementById('result').dataset.error"), "WrongPin");
    assert!(result.contains("初始密码错误") && result.contains("还剩 2 次"), "{result}");
    assert!(result.contains("Wrong initial PIN") && result.contains("2 tries left"), "{result}");
    assert_eq!(browser.eval("document.getElementById('result-retry').hidden"), false);
    browser.screenshot("kiosk-7-wrong-pin");
    assert_no_pin_in_page(&mut browser, &[WRONG, NEW]);
    let card = image(&image_path);
    assert_eq!((card["pin"].as_str(), card["pin_tries_left"].as_u64()), (Some(INITIAL), Some(2)), "{card}");

    // Idle: back to the start 3 s after the last touch, not before.
    std::thread::sleep(Duration::from_millis(1500).saturating_sub(last_touch.elapsed()));
    if last_touch.elapsed() < Duration::from_millis(2500) {
        assert_eq!(browser.eval("document.body.dataset.step"), "7", "returned before the idle limit");
    }
    browser.wait_step(1, 6.0);
    let idle = last_touch.elapsed();
    assert!(idle >= Duration::from_secs(3), "returned {idle:?} after the last touch");
    assert_eq!(browser.text("#holder-name"), "");

    // A card removed mid-flow: said, then the start.
    rig.bench.remove(Slot::Card);
    insert(&mut rig, &image_path, &[]).await;
    browser.wait_step(2, 10.0);
    browser.click("#holder-yes");
    browser.wait_step(3, 5.0);
    rig.bench.remove(Slot::Card);
    browser.wait_step(7, 10.0);
    let result = kiosk_text(&mut browser);
    assert!(result.contains("卡片已被取出") && result.contains("The card was removed"), "{result}");
    browser.wait_step(1, 10.0);

    // Every error of the contract has its text, Chinese and English; and
    // the page's own: the bridge unreachable, the card removed mid-flow.
    let mut names = contract_errors();
    names.extend(["BridgeUnreachable", "CardRemovedMidFlow"].map(str::to_owned));
    let script = format!(
        "{}.filter(n => {{ const t = SSCard.errorText({{name: n}}); \
         return t.name !== n || !/[\\u4e00-\\u9fff]/.test(t.zh) || !/[A-Za-z]/.test(t.en); }})",
        serde_json::json!(names)
    );
    assert_eq!(browser.eval(&script), serde_json::json!([]), "errors without their text");

    // The bridge goes away: the page says so, and reconnects (with its
    // backoff) when the bridge is back on the same address.
    let port = bridge.port;
    bridge.stop();
    assert_no_secrets(&bridge.log_text(), &[WRONG, NEW, SSN, NAME]);
    browser.wait("document.getElementById('connection').classList.contains('down')", 10.0);
    let said = browser.text("#connection");
    assert!(said.contains("无法连接读卡服务") && said.contains("Cannot reach the card service"), "{said}");
    let mut bridge = Bridge::start_on(&rig.bus.address(), &dir, "trace", port, "bridge-again.log", &[]);
    browser.wait("!document.getElementById('connection').classList.contains('down')", 15.0);
    insert(&mut rig, &image_path, &[]).await;
    browser.wait_step(2, 10.0);
    assert_eq!(browser.text("#holder-name"), NAME);
    finish(&mut browser, &[WRONG, NEW, SSN, NAME]);

    bridge.stop();
    assert_no_secrets(&bridge.log_text(), &[WRONG, NEW, SSN, NAME]);
}
