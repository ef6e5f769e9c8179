//! The simulator through peers no one here wrote: OpenSC's `opensc-tool`
//! over the real pcscd, and several benches side by side.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::path::Path;
use std::thread;

use sscard_sim::image::HexBytes;
use sscard_sim::{Generation, UserCard};
use support::bench::{Bench, Slot};

const SELECT_SSSE: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00";
const READ_CARD_NUMBER: &str = "00B2072800";

/// Writes a card image whose EF05 tag 07 holds `card_number`.
fn image_with_card_number(path: &Path, generation: Generation, card_number: &str) {
    let card = UserCard::blank(generation, [0x44, 0x03, 0x00], [9, 8, 7, 6, 5, 4, 3, 2], "123456");
    let mut image = card.image().clone();
    image.ef05.insert("07".into(), HexBytes(card_number.as_bytes().to_vec()));
    image.save_atomically(path).expect("write card image");
}

/// "58 30 30 …" as opensc-tool prints bytes.
fn spaced_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
}

#[test]
fn opensc_tool_selects_ssse_and_reads_the_card_number() {
    let mut bench = Bench::start();
    for (generation, gen_arg, number) in [(Generation::Gen3, "3", "X00000019"), (Generation::Gen2, "2", "A12345678")] {
        let image = bench.dir().join(format!("card-{gen_arg}.json"));
        image_with_card_number(&image, generation, number);
        bench.insert(Slot::Card, "card", &["--gen", gen_arg, "--image", &image.to_string_lossy()]);
        let reader = bench.reader_number(Slot::Card).to_string();
        let (ok, out) = bench.opensc_tool(&["-r", &reader, "-s", SELECT_SSSE, "-s", READ_CARD_NUMBER]);
        assert!(ok, "opensc-tool failed on gen{gen_arg}: {out}");
        // The FCI names the DF: 84 0F and the AID (opensc-tool wraps its
        // dump after 16 bytes, so look for the first line's part).
        assert!(out.contains("84 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1"), "gen{gen_arg}: {out}");
        let record = format!("07 09 {}", spaced_hex(number.as_bytes()));
        assert!(out.contains(&record), "gen{gen_arg}: expected {record} in {out}");
        assert_eq!(out.matches("SW1=0x90, SW2=0x00").count(), 2, "gen{gen_arg}: {out}");
        assert_eq!(bench.remove(Slot::Card), Some(0));
    }
}

#[test]
fn opensc_tool_sees_the_reference_atrs() {
    let mut bench = Bench::start();
    for (gen_arg, atr) in
        [("3", "3b:85:80:01:80:73:00:00:c0:37"), ("2", "3b:6d:00:00:00:81:4e:43:23:86:97:15:99:00:bf:7c:7a")]
    {
        bench.insert(Slot::Card, "card", &["--gen", gen_arg]);
        let (ok, out) = bench.opensc_tool(&["-r", "0", "--atr"]);
        assert!(ok && out.trim() == atr, "gen{gen_arg}: {out}");
        bench.remove(Slot::Card);
    }
    bench.insert(Slot::Sam, "psam", &[]);
    let (ok, out) = bench.opensc_tool(&["-r", "1", "--atr"]);
    assert!(ok && out.trim() == "3b:69:00:00:00:50:53:41:4d:48:4f:4c:44", "{out}");
}

#[test]
fn benches_run_side_by_side_without_clashing() {
    let mut benches: Vec<(Bench, String)> = (0..3)
        .map(|i| {
            let mut bench = Bench::start();
            let number = format!("B0000000{i}");
            let image = bench.dir().join("card.json");
            image_with_card_number(&image, Generation::Gen3, &number);
            bench.insert(Slot::Card, "card", &["--image", &image.to_string_lossy()]);
            (bench, number)
        })
        .collect();
    // All three read at the same time; each must see its own card.
    thread::scope(|scope| {
        for (bench, number) in &benches {
            scope.spawn(move || {
                for _ in 0..5 {
                    let (ok, out) = bench.opensc_tool(&["-r", "0", "-s", SELECT_SSSE, "-s", READ_CARD_NUMBER]);
                    assert!(ok, "{out}");
                    assert!(out.contains(&spaced_hex(number.as_bytes())), "expected {number}: {out}");
                }
            });
        }
    });
    let sockets: std::collections::HashSet<_> = benches.iter().map(|(b, _)| b.socket()).collect();
    assert_eq!(sockets.len(), 3);
    for (bench, _) in &mut benches {
        assert_eq!(bench.remove(Slot::Card), Some(0));
    }
}

/// With more reader.conf entries, each slot is its own reader: vpcd keeps
/// its port in a global, so the bench gives every entry its own copy of
/// the driver (two entries sharing one library both listened on the last
/// entry's port).
#[test]
fn four_slots_are_four_readers() {
    let mut bench = Bench::start_with_slots(4);
    let names: Vec<String> = (0..4).map(|n| bench.reader_name(Slot::Reader(n))).collect();
    assert_eq!(bench.readers().iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), names);
    for n in 0..4u16 {
        bench.insert(Slot::Reader(n), "card", &[]);
        let present: Vec<bool> = bench.readers().iter().map(|(_, p)| *p).collect();
        let expected: Vec<bool> = (0..4).map(|i| i == n).collect();
        assert_eq!(present, expected, "a card in slot {n}");
        bench.remove(Slot::Reader(n));
    }
}
