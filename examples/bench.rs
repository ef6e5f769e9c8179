//! The test bench for people: a private pcscd with a simulated card in
//! slot 0 and a PSAM in slot 1, until Ctrl-C, or around one command.
//!
//! `scripts/bench [--gen 2|3] [--image FILE] [-- COMMAND ARGS…]`

use sscard_testkit as support;

use std::process::{Command, ExitCode};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use support::bench::{Bench, Slot};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (options, command) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (&args[..], &[][..]),
    };
    let mut card_args: Vec<&str> = Vec::new();
    let mut rest = options.iter();
    while let Some(opt) = rest.next() {
        match (opt.as_str(), rest.next()) {
            ("--gen", Some(v)) if v == "2" || v == "3" => card_args.extend(["--gen", v]),
            ("--image", Some(v)) => card_args.extend(["--image", v]),
            _ => {
                eprintln!("usage: scripts/bench [--gen 2|3] [--image FILE] [-- COMMAND ARGS…]");
                return ExitCode::from(2);
            }
        }
    }
    // Signals first, so Ctrl-C during start-up still tears the bench down.
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench: cannot watch signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut bench = Bench::start();
    bench.insert(Slot::Sam, "psam", &[]);
    bench.insert(Slot::Card, "card", &card_args);
    let socket = bench.socket();
    eprintln!(
        "bench: pcscd is up; card in {:?}, PSAM in {:?}",
        bench.reader_name(Slot::Card),
        bench.reader_name(Slot::Sam)
    );
    eprintln!("bench: export PCSCLITE_CSOCK_NAME={}", socket.display());

    if let Some((program, program_args)) = command.split_first() {
        let status = Command::new(program).args(program_args).env("PCSCLITE_CSOCK_NAME", &socket).status();
        return match status {
            Ok(s) => ExitCode::from(s.code().unwrap_or(1).clamp(0, 255) as u8),
            Err(e) => {
                eprintln!("bench: cannot run {program}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    eprintln!("bench: Ctrl-C stops it");
    signals.forever().next();
    eprintln!("bench: stopping");
    ExitCode::SUCCESS
}
