//! The kiosk page against a card's insertion, on the bench (a PSAM and a
//! personalised gen3 card, both answering at a real card's 20 ms per APDU:
//! `sscard-sim --latency-us 20000`), sscardd on a private bus,
//! sscard-bridge, and Debian's chromium driven by Selenium
//! (tests/python/pages_driver.py) showing `/kiosk/`.
//!
//! For each of N insertions (default 9; `--runs N`), spaced out of step
//! with pcscd's polling of vpcd:
//! - t0: right after the simulator's spawn (the card's insertion);
//! - pcscd: pcscd reporting the card (SCardGetStatusChange in a thread);
//! - signal: the daemon's `CardInserted` reaching a D-Bus client here;
//! - shown: the page writing the holder's name into `#holder-name`, taken
//!   in the page by a MutationObserver (`Date.now()`, the same clock as
//!   t0's `SystemTime`).
//!
//! The name's time is given from t0, from pcscd's report (vpcd has no card
//! events: pcscd polls it every 400 ms, which a reader with interrupts
//! does not add) and from `CardInserted`.
//!
//! The APDUs come from the simulators' `--log`: those before `CardInserted`
//! (the daemon's recognition of the card) and those of the page's
//! `ReadCard` (with the photo; the card's and the PSAM's). The goal is the
//! `ReadCard` APDU count × 20 ms + 150 ms, from the insertion to the name.
//!
//! `cargo bench --bench pages [-- --runs N]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;
use sscard_testkit::browser;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use browser::{Bridge, Browser};
use futures_util::StreamExt;
use support::bench::Slot;
use support::client::{Rig, bytes_value, holder_dict, no_opts, reader_at, string_value};
use support::measure::{PresenceWatcher, arg};

const LATENCY_US: &str = "20000";
const APDU_MS: f64 = 20.0;
const GOAL_MARGIN_MS: f64 = 150.0;

fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs_f64() * 1e3
}

fn commands(log: &Path) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().lines().filter(|l| l.contains(" > ")).count()
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':').map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let chromium = std::process::Command::new("/usr/bin/chromium")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cores} cores, \"{cpu}\", Linux {}, {chromium}", kernel.trim())
}

/// Records in the page, once, when the holder's name is written.
const OBSERVE: &str = "(() => { window.__shown = null; const name = document.getElementById('holder-name'); \
    const observer = new MutationObserver(() => { if (name.textContent && window.__shown === null) { \
    window.__shown = Date.now(); observer.disconnect(); } }); \
    observer.observe(name, {childList: true, characterData: true, subtree: true}); return true; })()";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs = arg("--runs", 9).max(7);
    let dir = tempfile::tempdir().expect("dir").keep();
    let mut rig = Rig::empty_logged(2, &[], "warn").await;
    rig.insert_sam_with(&["--latency-us", LATENCY_US]).await;
    let image = dir.join("card.json");
    let image_arg = image.to_string_lossy().into_owned();
    // Personalized at once (latency 0), then taken out.
    rig.insert_card(Slot::Card, 3, &["--image", &image_arg, "--region", "440305", "--serial", "0102030405060708"])
        .await;
    let mut record = holder_dict(3, None);
    record.insert("name".into(), string_value("王小明"));
    let photo = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/holder.jpg")).expect("photo");
    record.insert("photo".into(), bytes_value(&photo));
    rig.reader(Slot::Card).await.write_holder_record(record, no_opts()).await.expect("WriteHolderRecord");
    rig.bench.remove(Slot::Card);
    rig.wait_kind(Slot::Card, "none").await;

    let bridge = Bridge::start(&rig.bus.address(), &dir, "warn", &[]);
    let mut browser = Browser::start(&dir);
    browser.viewport(1280, 800);
    browser.open(&bridge.page("/kiosk/"));
    browser.wait("document.getElementById('connection').textContent.includes('已连接')", 10.0);
    browser.wait_step(1, 5.0);

    let card_log = rig.card_log(Slot::Card);
    let sam_log = rig.card_log(Slot::Sam);
    let card_args: Vec<String> = ["--gen", "3", "--image", &image_arg, "--latency-us", LATENCY_US, "--log"]
        .iter()
        .map(|s| s.to_string())
        .chain([card_log.to_string_lossy().into_owned()])
        .collect();
    let card_args: Vec<&str> = card_args.iter().map(String::as_str).collect();

    // pcscd's view of the reader, in a thread.
    let watcher = PresenceWatcher::start(rig.bench.context(), &rig.bench.reader_name(Slot::Card), epoch_ms);
    let path = rig.reader_path(Slot::Card).await;
    let proxy = reader_at(&rig.conn, path).await;
    let mut inserted = Box::pin(proxy.receive_card_inserted().await.expect("CardInserted stream"));

    let (mut total, mut after_signal, mut to_pcscd, mut to_signal) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut after_pcscd = Vec::new();
    let (mut recognise_apdus, mut read_apdus) = (Vec::new(), Vec::new());
    for i in 0..runs {
        tokio::time::sleep(Duration::from_millis(300 + (i as u64 * 137) % 400)).await;
        watcher.drain();
        browser.eval(OBSERVE);
        let before = commands(&card_log) + commands(&sam_log);
        let t0 = epoch_ms();
        let child = rig.bench.spawn_sim(Slot::Card, "card", &card_args);
        rig.bench.adopt(Slot::Card, child);
        tokio::time::timeout(Duration::from_secs(15), inserted.next()).await.expect("CardInserted").expect("stream");
        let signal = epoch_ms();
        let at_signal = commands(&card_log) + commands(&sam_log);
        let present = watcher.next_present();
        let shown = browser.wait("window.__shown", 15.0).as_f64().expect("the page's time");
        assert_eq!(browser.text("#holder-name"), "王小明");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = commands(&card_log) + commands(&sam_log);
        total.push(shown - t0);
        after_signal.push(shown - signal);
        after_pcscd.push(shown - present);
        to_pcscd.push(present - t0);
        to_signal.push(signal - t0);
        recognise_apdus.push(at_signal - before);
        read_apdus.push(after - at_signal);
        println!(
            "insertion {}: pcscd {:.0} ms, CardInserted {:.0} ms, name shown {:.0} ms ({} + {} APDUs)",
            i + 1,
            present - t0,
            signal - t0,
            shown - t0,
            at_signal - before,
            after - at_signal
        );
        // Not my card: step 8, then out; the page is back at step 1.
        browser.click("#holder-no");
        browser.wait_step(8, 5.0);
        rig.bench.remove(Slot::Card);
        browser.wait_step(1, 10.0);
        rig.wait_kind(Slot::Card, "none").await;
    }
    drop(watcher);
    browser.quit();

    let apdus = read_apdus[0];
    assert!(read_apdus.iter().all(|n| *n == apdus), "ReadCard's APDU count varied: {read_apdus:?}");
    let goal = apdus as f64 * APDU_MS + GOAL_MARGIN_MS;
    let (lo, hi) = min_max(&total);
    let (slo, shi) = min_max(&after_signal);
    let (plo, phi) = min_max(&after_pcscd);
    let verdict = |ms: f64| if ms <= goal { "met" } else { "not met" };
    println!("\nmachine: {}", machine());
    println!(
        "\n| {runs} insertions, 20 ms per APDU | median | min | max |\n|---|---|---|---|\n\
         | pcscd reports the card | {:.0} ms | {:.0} ms | {:.0} ms |\n\
         | `CardInserted` reaches a client | {:.0} ms | {:.0} ms | {:.0} ms |\n\
         | the kiosk shows the name, from the insertion | {:.0} ms | {lo:.0} ms | {hi:.0} ms |\n\
         | the kiosk shows the name, from pcscd's report | {:.0} ms | {plo:.0} ms | {phi:.0} ms |\n\
         | the kiosk shows the name, from `CardInserted` | {:.0} ms | {slo:.0} ms | {shi:.0} ms |",
        median(&to_pcscd),
        min_max(&to_pcscd).0,
        min_max(&to_pcscd).1,
        median(&to_signal),
        min_max(&to_signal).0,
        min_max(&to_signal).1,
        median(&total),
        median(&after_pcscd),
        median(&after_signal),
    );
    println!(
        "\nAPDUs: {} to recognise the card (before CardInserted), {apdus} for the page's ReadCard with the photo \
         (card and PSAM). Goal: {apdus} × 20 ms + 150 ms = {goal:.0} ms. From the insertion: median {:.0} ms, {}. \
         From pcscd's report: median {:.0} ms, {}. From CardInserted: median {:.0} ms, {}.",
        recognise_apdus[0],
        median(&total),
        verdict(median(&total)),
        median(&after_pcscd),
        verdict(median(&after_pcscd)),
        median(&after_signal),
        verdict(median(&after_signal)),
    );
}
