//! APDU round trip from a PC/SC client through pcscd and vpcd to a card:
//! sscard-sim against vsmartcard's own `vicc`, measured in one run.
//!
//! `cargo bench --bench apdu_roundtrip [-- --apdus N --vicc-apdus M]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::time::{Duration, Instant};

use sscard_apdu::Command;
use sscard_transport::{CardConnection, Transport};
use support::bench::{Bench, Slot};
use support::measure::arg;

struct Stats {
    median: Duration,
    p99: Duration,
    count: usize,
}

fn measure(transport: &mut dyn Transport, command: &Command, count: usize) -> Stats {
    let bytes = command.to_bytes();
    // Warm up the connection and the caches.
    for _ in 0..50 {
        transport.transmit(&bytes).expect("warm-up APDU");
    }
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        let answer = transport.transmit(&bytes).expect("APDU");
        times.push(start.elapsed());
        assert!(answer.len() >= 2);
    }
    times.sort();
    Stats { median: times[count / 2], p99: times[count * 99 / 100], count }
}

fn main() {
    let apdus = arg("--apdus", 10_000);
    let vicc_apdus = arg("--vicc-apdus", 100);
    let mut bench = Bench::start();
    let select = Command::new(0, 0xA4, 4, 0)
        .with_data(support::terminal::SSSE_AID.to_vec())
        .and_then(|c| c.with_ne(256))
        .expect("SELECT SSSE");

    bench.insert(Slot::Card, "card", &["--gen", "3"]);
    let sim = {
        let mut card = bench.connect(Slot::Card);
        measure(&mut card.begin().expect("transaction"), &select, apdus)
    };
    bench.remove(Slot::Card);

    // gen2 is T=0: a READ RECORD with the exact Le is one wire exchange.
    let read_card_number = Command::new(0, 0xB2, 0x07, 0x28).with_ne(11).expect("READ RECORD");
    bench.insert(Slot::Card, "card", &["--gen", "2"]);
    let sim_t0 = {
        let mut card = bench.connect(Slot::Card);
        let before = card.apdus_sent();
        let stats = measure(&mut card.begin().expect("transaction"), &read_card_number, apdus);
        assert_eq!(card.apdus_sent() - before, (apdus + 50) as u64, "one wire APDU each");
        stats
    };
    bench.remove(Slot::Card);

    let vicc = bench.insert_vicc(Slot::Card).then(|| {
        let mut card = bench.connect(Slot::Card);
        // vicc is not a social security card: SELECT SSSE answers 6A82,
        // which is still one full round trip.
        measure(&mut card.begin().expect("transaction"), &select, vicc_apdus)
    });

    println!("APDU round trip, PC/SC client -> pcscd -> vpcd -> card");
    println!("| card | command | APDUs | median | p99 |");
    println!("|---|---|---|---|---|");
    println!(
        "| sscard-sim gen3 (T=1) | SELECT SSSE | {} | {:.1} µs | {:.1} µs |",
        sim.count,
        micros(sim.median),
        micros(sim.p99)
    );
    let (n, median, p99) = (sim_t0.count, micros(sim_t0.median), micros(sim_t0.p99));
    println!("| sscard-sim gen2 (T=0) | READ RECORD, exact Le | {n} | {median:.1} µs | {p99:.1} µs |");
    match vicc {
        Some(v) => {
            println!(
                "| vicc | SELECT SSSE (6A82) | {} | {:.1} µs | {:.1} µs |",
                v.count,
                micros(v.median),
                micros(v.p99)
            );
            println!("median ratio vicc / sscard-sim: {:.0}", v.median.as_secs_f64() / sim.median.as_secs_f64());
        }
        None => println!("| vicc | - | not installed | - |"),
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
