//! HSM sessions against the PSAM operations, on the bench (a personalised
//! gen3 card and a PSAM, sscardd on a private bus), at 0 µs and at 20 ms
//! per APDU (`sscard-sim --latency-us`), in one run:
//!
//! 1. the APDUs of each HSM flow (read basic information, generic read,
//!    generic write, reload, unblock) against the PSAM flow of the same
//!    operation, from the simulators' logs (card and PSAM);
//! 2. the time of each step (`BeginHsm`, each `Continue`), the back end
//!    answering at once (the simulator's test keys, in this process);
//! 3. the time a session holds the reader beyond its APDUs, per step: the
//!    step's median time less its APDUs times the median round trip of one
//!    APDU, measured on the same bench (GET CHALLENGE through pcscd).
//!
//! `cargo bench --bench hsm [-- --runs N --slow-runs N]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::time::{Duration, Instant};

use sscard_client::{Dict, HsmSession1Proxy, Reader1Proxy};
use sscard_sim::crypto::Algorithm;
use sscard_sim::hsm;
use support::bench::Slot;
use support::client::{Rig, bytes, bytes_value, holder_dict, no_opts, string_value};
use support::measure::{arg, median, ms};

/// APDUs both simulators have logged.
fn apdus(rig: &Rig) -> usize {
    rig.logged(Slot::Card).len() + rig.logged(Slot::Sam).len()
}

/// Waits until the simulators' logs stop growing (a session's closing
/// SELECT is sent after its last answer).
async fn settle(rig: &Rig) -> usize {
    let mut last = apdus(rig);
    loop {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let now = apdus(rig);
        if now == last {
            return now;
        }
        last = now;
    }
}

fn alg(out: &Dict) -> Algorithm {
    Algorithm::from_code(bytes(out, "algorithm").unwrap()[0]).unwrap()
}

fn f8(out: &Dict, key: &str) -> [u8; 8] {
    bytes(out, key).unwrap().try_into().unwrap()
}

/// The immediate back end's answer to a step.
fn answer(op: &str, first: &Dict, last: &Dict) -> Dict {
    let mut d = Dict::new();
    let mut put = |k: &str, v: Vec<u8>| {
        d.insert(k.to_owned(), bytes_value(&v));
    };
    match op {
        "read_basic" => {
            let io = bytes(last, "internal_original").unwrap();
            let eo = bytes(last, "external_original").unwrap();
            put("internal_result", hsm::cryptogram(alg(last), None, 0x09, &f8(last, "internal_factor"), &io));
            put("external_result", hsm::cryptogram(alg(last), None, 0x0A, &f8(last, "external_factor"), &eo));
            put("internal_original", io);
            put("external_original", eo);
        }
        "read" | "write" => {
            let key = bytes(last, "key").unwrap()[1];
            let original = bytes(last, "original").unwrap();
            put("cryptogram", hsm::cryptogram(alg(last), None, key, &f8(last, "factor"), &original));
            put("original", original);
            if op == "write" {
                let record = zbus::OwnedVariant::try_from(zbus::Variant::from(holder_dict(3, None))).unwrap();
                d.insert("record".into(), record);
            }
        }
        _ => {
            if last.contains_key("challenge") {
                let apdu = hsm::mac_command(
                    alg(last),
                    None,
                    &f8(first, "factor"),
                    &bytes(last, "challenge").unwrap(),
                    &bytes(last, "header").unwrap(),
                    &bytes(last, "data").unwrap(),
                );
                put("apdu", apdu);
            } else if op == "reload_pin" {
                d.insert("new_pin".into(), string_value("135790"));
            }
        }
    }
    d
}

/// One HSM session: each step's time and APDUs.
async fn session(rig: &Rig, reader: &Reader1Proxy<'_>, op: &str) -> Vec<(Duration, usize)> {
    let mut steps = Vec::new();
    let before = apdus(rig);
    let started = Instant::now();
    let (path, first) = reader.begin_hsm(op, no_opts()).await.expect("BeginHsm");
    steps.push((started.elapsed(), apdus(rig) - before));
    let session = HsmSession1Proxy::builder(&rig.conn).path(path).build().await.expect("session");
    let mut last = first.clone();
    while !support::client::boolean(&last, "done").unwrap_or(true) {
        let args = answer(op, &first, &last);
        let before = apdus(rig);
        let started = Instant::now();
        last = session.continue_(args).await.unwrap_or_else(|e| panic!("{op}: {e}"));
        steps.push((started.elapsed(), apdus(rig) - before));
    }
    steps
}

/// The PSAM flow of the same operation.
async fn psam_flow(reader: &Reader1Proxy<'_>, op: &str) {
    match op {
        "read_basic" | "read" => drop(reader.read_card(no_opts()).await.expect("ReadCard")),
        "write" => drop(reader.write_holder_record(holder_dict(3, None), no_opts()).await.expect("write")),
        "reload_pin" => reader.reload_pin("135790", no_opts()).await.expect("ReloadPin"),
        _ => reader.unblock_pin(no_opts()).await.expect("UnblockPin"),
    }
}

/// The median round trip of one APDU through pcscd and vpcd.
fn apdu_round_trip(rig: &Rig, runs: usize) -> Duration {
    use sscard_transport::{CardConnection as _, CardTransaction as _, Transport as _};
    let mut conn = rig.bench.connect(Slot::Card);
    let mut tx = conn.begin().expect("transaction");
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        tx.transmit(&[0x00, 0x84, 0x00, 0x00, 0x08]).expect("GET CHALLENGE");
        times.push(started.elapsed());
    }
    tx.end().expect("end");
    median(times)
}

const OPERATIONS: [&str; 5] = ["read_basic", "read", "write", "reload_pin", "unblock_pin"];

async fn measure(rig: &mut Rig, latency_us: u64, runs: usize) {
    // Fresh simulators at this latency (one bench per process).
    for slot in [Slot::Card, Slot::Sam] {
        if rig.bench.remove(slot).is_some() {
            rig.wait_kind(slot, "none").await;
        }
    }
    let latency = latency_us.to_string();
    let log = rig.card_log(Slot::Sam).to_string_lossy().into_owned();
    rig.bench.insert(Slot::Sam, "psam", &["--log", &log, "--latency-us", &latency]);
    rig.wait_kind(Slot::Sam, "psam").await;
    rig.insert_card(Slot::Card, 3, &["--latency-us", &latency]).await;
    let reader = support::client::reader_at(&rig.conn, rig.reader_path(Slot::Card).await).await;
    reader.write_holder_record(holder_dict(3, None), no_opts()).await.expect("personalise");
    settle(rig).await;
    let rt = apdu_round_trip(rig, if latency_us == 0 { 200 } else { 10 });

    println!("\n### gen3 card + PSAM, simulator at {latency_us} µs per APDU, {runs} runs each, interleaved");
    println!("\nOne APDU's round trip (GET CHALLENGE through pcscd and vpcd), median: {}", ms(rt));
    println!(
        "\n| operation | HSM APDUs (steps) | PSAM flow APDUs (card + PSAM) | HSM step times, median | PSAM flow, median | hold beyond the APDUs, per step |"
    );
    println!("|---|---|---|---|---|---|");
    for op in OPERATIONS {
        let mut step_times: Vec<Vec<Duration>> = Vec::new();
        let mut step_apdus: Vec<usize> = Vec::new();
        let mut hsm_total = 0;
        let mut psam_total = 0;
        let mut psam_times = Vec::new();
        for run in 0..runs + 1 {
            // Alternate which goes first.
            for hsm_first in [run % 2 == 0, run % 2 != 0] {
                if hsm_first {
                    let before = settle(rig).await;
                    let steps = session(rig, &reader, op).await;
                    hsm_total = settle(rig).await - before;
                    if run > 0 {
                        step_times.resize(steps.len(), Vec::new());
                        for (i, (t, _)) in steps.iter().enumerate() {
                            step_times[i].push(*t);
                        }
                        step_apdus = steps.iter().map(|(_, n)| *n).collect();
                    }
                } else {
                    let before = settle(rig).await;
                    let started = Instant::now();
                    psam_flow(&reader, op).await;
                    if run > 0 {
                        psam_times.push(started.elapsed());
                    }
                    psam_total = settle(rig).await - before;
                }
            }
        }
        let medians: Vec<Duration> = step_times.into_iter().map(median).collect();
        // Only with the simulator answering at once is the APDUs' share
        // small and steady enough to subtract.
        let hold: Vec<String> = if latency_us == 0 {
            medians
                .iter()
                .zip(&step_apdus)
                .map(|(t, n)| ms(t.saturating_sub(rt * u32::try_from(*n).unwrap_or(0))))
                .collect()
        } else {
            vec!["—".to_owned()]
        };
        println!(
            "| {op} | {hsm_total} ({}) | {psam_total} | {} | {} | {} |",
            step_apdus.iter().map(ToString::to_string).collect::<Vec<_>>().join(" + "),
            medians.iter().map(|t| ms(*t)).collect::<Vec<_>>().join(", "),
            ms(median(psam_times)),
            hold.join(", "),
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let runs = arg("--runs", 30);
    let slow_runs = arg("--slow-runs", 3);
    let mut rig = Rig::empty_logged(2, &[], "warn").await;
    measure(&mut rig, 0, runs).await;
    measure(&mut rig, 20_000, slow_runs).await;
}
