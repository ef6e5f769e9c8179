//! The gen3 photo on the field's readers (issue 19), through a real pcscd
//! and sscard-ifd: ReadCard with a 6,000-byte photo on a reader at the
//! short-APDU level (the photo in 255-byte READ BINARY chunks) against one
//! that passes extended APDUs (one READ BINARY), interleaved, at 0 µs and
//! at 20 ms per APDU (`sscard-sim --latency-us`). The APDUs per call come
//! from the simulator's log, the extended ones from the driver's count.
//!
//! `cargo bench --bench readers [-- --runs N --slow-runs N]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::time::{Duration, Instant};

use support::bench::{IfdReader, IfdSlot, Slot};
use support::client::{Rig, holder_dict, no_opts, opts};
use support::measure::{arg, median, ms};

const SHORT: IfdSlot = IfdSlot { short: true, pinpad: false, length_error_6b80: false };
const PLAIN: IfdSlot = IfdSlot { short: false, pinpad: false, length_error_6b80: false };

/// The short reader's card slot and the extended reader's.
const ON_SHORT: Slot = Slot::Card;
const ON_EXTENDED: Slot = Slot::Reader(2);

async fn run_at(latency_us: &str, runs: usize) {
    let readers = [IfdReader::new(&[SHORT, PLAIN]), IfdReader::new(&[PLAIN])];
    let mut rig = Rig::on_ifd(&readers, &[]).await;
    rig.insert_sam().await;
    for slot in [ON_SHORT, ON_EXTENDED] {
        rig.insert_card(slot, 3, &["--latency-us", latency_us]).await;
        let reader = rig.reader(slot).await;
        reader.write_holder_record(holder_dict(3, Some(6000)), no_opts()).await.expect("personalise");
    }
    let with_photo = || opts(&[("photo", true)]);
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut apdus = [0usize; 2];
    let mut extended = [0u64; 2];
    for run in 0..runs {
        // Alternate which goes first.
        let order = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let slot = [ON_SHORT, ON_EXTENDED][i];
            let reader = rig.reader(slot).await;
            let (logged, counted) = (rig.logged(slot).len(), rig.bench.ifd_value(slot, "stats", "extended"));
            let started = Instant::now();
            reader.read_card(with_photo()).await.expect("ReadCard with the photo");
            times[i].push(started.elapsed());
            apdus[i] += rig.logged(slot).len() - logged;
            extended[i] += rig.bench.ifd_value(slot, "stats", "extended") - counted;
        }
    }
    println!(
        "\n| gen3 ReadCard with a 6,000-byte photo at {latency_us} µs per APDU, {runs} runs each, interleaved | APDUs per call | extended APDUs per call | median |"
    );
    println!("|---|---|---|---|");
    for (i, what) in
        ["short-APDU reader (the photo in 24 chunks)", "extended reader (the photo in one)"].iter().enumerate()
    {
        let per_call = apdus[i] as f64 / runs as f64;
        let ext = extended[i] as f64 / runs as f64;
        println!("| {what} | {per_call:.1} | {ext:.1} | {} |", ms(median(times[i].clone())));
    }
    let ratio = median(times[0].clone()).as_secs_f64() / median(times[1].clone()).as_secs_f64();
    println!("short / extended (median): {ratio:.3}");
}

fn main() {
    let runs = arg("--runs", 50);
    let slow_runs = arg("--slow-runs", 5);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        run_at("0", runs).await;
        run_at("20000", slow_runs).await;
    });
}
