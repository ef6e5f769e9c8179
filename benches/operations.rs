//! APDUs and wall time per operation, on the bench, with the simulator at
//! `--latency-us 0` and at `--latency-us 20000` (a real T=0 card's pace);
//! and gen2 read card against pcsc-tools' `scriptor` sending the same APDUs.
//!
//! `cargo bench --bench operations [-- --runs N --slow-runs M]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sscard_model::{Field, HolderRecordUpdate, Pin, Ssn};
use sscard_ops::{Done, Engine, OpError, PinEntry, ReadOptions};
use sscard_script::Cards;
use sscard_transport::{CardConnection, CardTransaction, PcscConnection, Transport};
use support::bench::{Bench, Slot};
use support::measure::{arg, ms};

fn pin(digits: &str) -> Pin {
    Pin::parse(digits, Field::Pin).expect("a PIN")
}

fn ssn(text: &str) -> Ssn {
    Ssn::parse(text).expect("an SSN")
}

/// A typical ID photo: 4 KiB.
fn record(generation: u8) -> HolderRecordUpdate {
    support::terminal::holder_record(generation, 4096)
}

struct Row {
    op: &'static str,
    apdus: u64,
    median: Duration,
}

fn timed<T>(
    engine: &Engine,
    card: &mut PcscConnection,
    sam: &mut PcscConnection,
    runs: usize,
    mut op: impl FnMut(&mut Cards<'_>) -> Result<Done<T>, OpError>,
) -> (u64, Duration) {
    let mut times = Vec::new();
    let mut apdus = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let mut ctx = card.begin().expect("transaction");
        let mut stx = sam.begin().expect("transaction");
        // As the daemon ends a session: a reset after a PIN try, else a
        // closing SELECT when the security state was left open.
        let (sent, reset) = {
            let mut cards = Cards::new(&mut ctx, Some(&mut stx as &mut dyn Transport));
            let before = cards.apdus_sent();
            op(&mut cards).unwrap_or_else(|e| panic!("{e}"));
            let effects = cards.effects;
            if !effects.pin_try_spent && effects.security_state_open {
                engine.close_security_state(None, &mut cards).expect("closing SELECT");
            }
            (cards.apdus_sent() - before, effects.pin_try_spent)
        };
        drop(stx);
        if reset {
            ctx.end_with_reset().expect("end with reset");
            card.reconnect().expect("reconnect after our reset");
        } else {
            drop(ctx);
        }
        times.push(start.elapsed());
        apdus = sent;
    }
    times.sort();
    (apdus, times[times.len() / 2])
}

fn measure(bench: &mut Bench, engine: &Engine, generation: u8, latency_us: u64, runs: usize) -> Vec<Row> {
    let latency = latency_us.to_string();
    let gen_arg = generation.to_string();
    bench.insert(Slot::Sam, "psam", &["--latency-us", &latency]);
    bench.insert(Slot::Card, "card", &["--gen", &gen_arg, "--latency-us", &latency]);
    let mut card = bench.connect(Slot::Card);
    let mut sam = bench.connect(Slot::Sam);
    let update = record(generation);
    let mut rows = Vec::new();
    let mut add = |op, (apdus, median)| rows.push(Row { op, apdus, median });
    add(
        "personalise (13 elements + 4 KiB photo)",
        timed(engine, &mut card, &mut sam, runs, |c| engine.personalize(c, &update)),
    );
    add("read card", timed(engine, &mut card, &mut sam, runs, |c| engine.read_card(c, ReadOptions::default())));
    add(
        "read card + photo + internal auth",
        timed(engine, &mut card, &mut sam, runs, |c| {
            engine.read_card(c, ReadOptions { photo: true, authenticate: true })
        }),
    );
    add("read photo", timed(engine, &mut card, &mut sam, runs, |c| engine.read_photo(c)));
    add("PIN status", timed(engine, &mut card, &mut sam, runs, |c| engine.pin_status(c)));
    add(
        "verify PIN",
        timed(engine, &mut card, &mut sam, runs, |c| engine.verify_pin(c, &PinEntry::Host(&pin("123456")), false)),
    );
    add("unblock PIN", timed(engine, &mut card, &mut sam, runs, |c| engine.unblock_pin(c)));
    // Activation needs the initial PIN: it runs once per card.
    add(
        "activate",
        timed(engine, &mut card, &mut sam, 1, |c| {
            engine.activate(c, &ssn("11010519491231002X"), &PinEntry::Host((&pin("123456"), &pin("135790"))), false)
        }),
    );
    let mut pins = ["135790", "246813"].iter().cycle();
    let mut current = "135790";
    add(
        "change PIN",
        timed(engine, &mut card, &mut sam, runs, |c| {
            let next = pins.next().map_or("246813", |p| if *p == current { "246813" } else { p });
            let done = engine.change_pin(c, &PinEntry::Host((&pin(current), &pin(next))), false);
            current = if done.is_ok() { next } else { current };
            done
        }),
    );
    let mut reload = ["975312", "864213"].iter().cycle();
    add(
        "reload PIN",
        timed(engine, &mut card, &mut sam, runs, |c| engine.reload_pin(c, &pin(reload.next().unwrap_or(&"975312")))),
    );
    drop((card, sam));
    bench.remove(Slot::Card);
    bench.remove(Slot::Sam);
    rows
}

/// gen2 read card without a PSAM: the ops layer against scriptor sending
/// the same APDU list (GET RESPONSE written out, as scriptor needs).
fn scriptor_comparison(bench: &mut Bench, engine: &Engine, latency_us: u64, runs: usize) -> (Duration, Duration, u64) {
    let latency = latency_us.to_string();
    bench.insert(Slot::Card, "card", &["--gen", "2", "--latency-us", &latency]);
    let reader = bench.reader_name(Slot::Card);
    let mut card = bench.connect(Slot::Card);
    let mut times = Vec::new();
    let mut apdus = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let mut tx = card.begin().expect("transaction");
        let mut cards = Cards::new(&mut tx, None);
        apdus = engine.read_card(&mut cards, ReadOptions::default()).expect("read card").apdus;
        drop(tx);
        times.push(start.elapsed());
    }
    times.sort();
    let ours = times[times.len() / 2];
    let list = bench.dir().join("read-card.scriptor");
    let lines = [
        "00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF",
        "00 C0 00 00 1B",
        "00 B2 01 28 12",
        "00 B2 02 28 03",
        "00 B2 03 28 06",
        "00 B2 04 28 0E",
        "00 B2 05 28 06",
        "00 B2 06 28 06",
        "00 B2 07 28 0B",
        "00 B2 08 30 14",
        "00 B2 09 30 20",
        "00 B2 4E 30 16",
        "00 B2 0A 30 03",
        "00 B2 0B 30 03",
        "00 B2 0C 30 05",
        "00 B2 0D 30 06",
        "00 20 00 00",
    ];
    assert_eq!(lines.len() as u64, apdus, "scriptor sends the same APDUs");
    std::fs::write(&list, lines.join("\n") + "\n").expect("scriptor list");
    drop(card);
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new("scriptor")
            .args(["-r", &reader])
            .arg(&list)
            .env("PCSCLITE_CSOCK_NAME", bench.socket())
            .output()
            .expect("scriptor (pcsc-tools)");
        times.push(start.elapsed());
        assert!(String::from_utf8_lossy(&out.stdout).contains("63 C3"), "scriptor ran the list");
    }
    times.sort();
    bench.remove(Slot::Card);
    (ours, times[times.len() / 2], apdus)
}

fn main() {
    let runs = arg("--runs", 21);
    let slow_runs = arg("--slow-runs", 3);
    let engine = Engine::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/apdu-scripts"))).expect("profiles");
    let mut bench = Bench::start();
    println!("| operation | gen3 APDUs | gen2 APDUs | gen3, 0 µs | gen2, 0 µs | gen3, 20 ms | gen2, 20 ms |");
    println!("|---|---|---|---|---|---|---|");
    let g3 = measure(&mut bench, &engine, 3, 0, runs);
    let g2 = measure(&mut bench, &engine, 2, 0, runs);
    let g3s = measure(&mut bench, &engine, 3, 20_000, slow_runs);
    let g2s = measure(&mut bench, &engine, 2, 20_000, slow_runs);
    for row in &g3 {
        let find = |rows: &[Row]| rows.iter().find(|r| r.op == row.op).map(|r| (r.apdus, r.median));
        let cell = |v: Option<(u64, Duration)>| v.map_or("n/a".to_owned(), |(_, d)| ms(d));
        let apdus2 = find(&g2).map_or("n/a".to_owned(), |(a, _)| a.to_string());
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.op,
            row.apdus,
            apdus2,
            ms(row.median),
            cell(find(&g2)),
            cell(find(&g3s)),
            cell(find(&g2s))
        );
    }
    println!();
    println!("gen2 read card, no PSAM, same APDU list:");
    println!("| latency | APDUs | sscard ops | scriptor | ratio scriptor / sscard |");
    println!("|---|---|---|---|---|");
    for (latency, n) in [(0, runs), (20_000, slow_runs)] {
        let (ours, theirs, apdus) = scriptor_comparison(&mut bench, &engine, latency, n);
        println!(
            "| {} µs | {apdus} | {} | {} | {:.2} |",
            latency,
            ms(ours),
            ms(theirs),
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
    }
}
