//! sscard's test kit, dev-only: what the integration tests, the
//! benchmarks and the demo share.
//!
//! - [`bench`]: a private pcscd with vpcd slots and the simulator's cards;
//! - [`daemon`], [`polkit`], [`client`]: a private bus, a real polkitd and
//!   sscardd over them, and the rig that holds them all;
//! - [`in_process`]: the daemon's D-Bus surface over a peer-to-peer
//!   connection on in-process readers, with no root;
//! - [`bridge`], [`browser`]: sscard-bridge, and a headless Chromium driven
//!   by Selenium;
//! - [`terminal`], [`removal`], [`measure`]: terminal-side APDUs, card
//!   removal at every APDU, and resource measurements.
//!
//! It panics on failure, as a test does: it is test code, not a library.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

pub mod bench;
pub mod bridge;
pub mod browser;
pub mod client;
pub mod daemon;
pub mod in_process;
pub mod measure;
pub mod polkit;
pub mod removal;
pub mod terminal;

/// The source tree: the profiles, the polkit files, the Python drivers.
pub fn source_root() -> PathBuf {
    // The kit sits at crates/testkit.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A program of the root package, as the build made it for the running
/// test, benchmark or example: nextest's `NEXTEST_BIN_EXE_<name>`, else the
/// one in the running executable's target directory
/// (`target/<profile>/{deps,examples}/…` → `target/<profile>/<name>`).
/// Cargo builds the programs before it runs the root package's tests and
/// benchmarks.
pub fn program(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(format!("NEXTEST_BIN_EXE_{name}")) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the running test's own path");
    let dir = exe.parent().and_then(Path::parent).expect("the target directory");
    dir.join(name)
}

/// One `<interface>` element of an introspection document, as the files
/// under `dbus/` hold it.
pub fn interface_xml(document: &str, name: &str) -> String {
    let start = document.find(&format!("<interface name=\"{name}\">")).unwrap_or_else(|| panic!("{name} missing"));
    let end = document[start..].find("</interface>").map(|e| start + e + "</interface>".len()).expect("end tag");
    let mut xml = document[start..end].to_owned();
    xml.push('\n');
    xml
}

/// A log's lines with their leading timestamp taken off: its digits (the
/// microseconds) could spell any PIN, and are not data. A line that does
/// not start with one is kept whole.
pub fn without_timestamps(log: &str) -> String {
    let is_stamp =
        |word: &str| word.starts_with(|c: char| c.is_ascii_digit()) && word.contains('T') && word.contains(':');
    log.lines()
        .map(|line| match line.split_once(' ') {
            Some((first, rest)) if is_stamp(first) => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `command`, which must succeed; its output. `what` names it in the
/// panic, with the status and both outputs.
pub fn run_ok(command: &mut std::process::Command, what: &str) -> std::process::Output {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
