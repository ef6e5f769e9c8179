//! The APDU script parser on arbitrary UTF-8: it returns a script or an
//! error, never panics, and every error points inside the text.
//!
//! `cargo +nightly fuzz run script_parser` from the repository root.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_script::parse;

/// Profile constants, as the loader passes them: names and value lengths.
const CONSTANTS: &[(&str, usize)] = &[("aid", 15), ("alg", 1), ("block", 1)];

fuzz_target!(|source: &str| {
    let lines: Vec<&str> = source.lines().collect();
    if let Err(e) = parse("fuzz.apdu", source, CONSTANTS) {
        assert!(e.pos.line >= 1 && e.pos.line <= lines.len().max(1), "{e}");
        let width = lines.get(e.pos.line - 1).map_or(0, |l| l.chars().count());
        assert!(e.pos.column >= 1 && e.pos.column <= width + 1, "{e}");
    }
});
