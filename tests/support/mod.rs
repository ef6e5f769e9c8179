//! Shared code for the integration tests and the demo.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bench;
pub mod bridge;
pub mod client;
pub mod daemon;
pub mod in_process;
pub mod measure;
pub mod polkit;
pub mod removal;
pub mod terminal;

/// One `<interface>` element of an introspection document, as the files
/// under `dbus/` hold it.
#[allow(dead_code)]
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
#[allow(dead_code)]
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
#[allow(dead_code)]
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
